/*
 * config.c: loading a configuration (see config.h): YAML file, overrides, whole-config checks.
 *
 * libyaml builds the document tree; the walk below follows the schema table: a key is looked up
 * by its dotted path among the rows of the mapping it sits in, and the row says what the value
 * must be and where it goes. Nothing here names a key except the profile (it picks the defaults,
 * so it is read before anything else) and the checks across keys at the end.
 * An error is reported where it was found and the walk goes on with the next key, so a value
 * that is wrong never hides the next one. Errors past NFS_CONFIG_ERRORS_KEPT are only counted.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <pwd.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "exporter.h"

void
nfs_config_error(struct nfs_config_loader *L, const struct nfs_config_pos *pos, const char *path,
                 const char *fmt, ...)
{
    struct nfs_config_errors *e = L->errs;
    char msg[768], *line;
    const char *sep = path && *path ? ": " : "";
    va_list ap;
    int n;

    e->n_total++;
    if (e->n == NFS_CONFIG_ERRORS_KEPT)
        return;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (pos && pos->option)
        n = asprintf(&line, "%s: %s%s%s", pos->option, path ? path : "", sep, msg);
    else if (pos && pos->line)
        n = asprintf(&line, "%s:%u:%u: %s%s%s", L->cfg->path, pos->line, pos->column,
                     path ? path : "", sep, msg);
    else
        n = asprintf(&line, "%s: %s%s%s", L->cfg->path[0] ? L->cfg->path : "configuration",
                     path ? path : "", sep, msg);
    if (n < 0)
        return;
    /* A quoted YAML scalar can hold any control character: none reaches a terminal or log. */
    for (char *c = line; *c; c++)
        if ((*c > 0 && *c < 0x20 && *c != '\t') || *c == 0x7f)
            *c = '?';
    if (e->n % 16 == 0) {
        char **grown = realloc(e->lines, (e->n + 16) * sizeof(*grown));
        uint64_t *order = grown ? realloc(e->order, (e->n + 16) * sizeof(*order)) : NULL;

        if (grown != NULL)
            e->lines = grown;
        if (order == NULL) {
            free(line);
            return;
        }
        e->order = order;
    }
    /* line, column, then the order found: sorting keeps errors at one place in order */
    e->order[e->n] = (pos && !pos->option ? (uint64_t)(pos->line & 0xFFFFFF) << 40 |
                                                (uint64_t)(pos->column & 0xFFFFF) << 20
                                          : 0) |
                     (e->n & 0xFFFFF);
    e->lines[e->n++] = line;
}

/* Sorts errors [from, n) by their place in the file. Insertion sort: there are at most 100. */
static void
sort_errors(struct nfs_config_errors *e, size_t from)
{
    for (size_t i = from + 1; i < e->n; i++) {
        uint64_t key = e->order[i];
        char *line = e->lines[i];
        size_t j = i;

        for (; j > from && e->order[j - 1] > key; j--) {
            e->order[j] = e->order[j - 1];
            e->lines[j] = e->lines[j - 1];
        }
        e->order[j] = key;
        e->lines[j] = line;
    }
}

void
nfs_config_errors_free(struct nfs_config_errors *errs)
{
    if (errs == NULL)
        return;
    for (size_t i = 0; i < errs->n; i++)
        free(errs->lines[i]);
    free(errs->lines);
    free(errs->order);
    *errs = (struct nfs_config_errors){0};
}

struct nfs_config_pos
nfs_config_node_pos(const yaml_node_t *node)
{
    return (struct nfs_config_pos){(unsigned)node->start_mark.line + 1,
                                   (unsigned)node->start_mark.column + 1, NULL};
}

yaml_node_t *
nfs_config_node(struct nfs_config_loader *L, int id)
{
    return yaml_document_get_node(&L->doc, id);
}

bool
nfs_config_is_null(const yaml_node_t *node)
{
    const char *v = (const char *)node->data.scalar.value;

    if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 ||
           strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

void
nfs_config_got(const yaml_node_t *node, char *buf, size_t size)
{
    if (node->type == YAML_MAPPING_NODE)
        snprintf(buf, size, "a mapping");
    else if (node->type == YAML_SEQUENCE_NODE)
        snprintf(buf, size, "a list");
    else if (nfs_config_is_null(node))
        snprintf(buf, size, "nothing");
    else
        snprintf(buf, size, "\"%.200s\"", (const char *)node->data.scalar.value);
}

const char *
nfs_config_text(struct nfs_config_loader *L, const yaml_node_t *node, const char *path,
                const char *expected)
{
    struct nfs_config_pos pos = nfs_config_node_pos(node);
    char got[256];

    if (node->type != YAML_SCALAR_NODE) {
        nfs_config_got(node, got, sizeof(got));
        nfs_config_error(L, &pos, path, "expected %s, got %s", expected, got);
        return NULL;
    }
    if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length) {
        nfs_config_error(L, &pos, path, "expected %s, got text with a NUL character", expected);
        return NULL;
    }
    return nfs_config_is_null(node) ? "" : (const char *)node->data.scalar.value;
}

const char *
nfs_config_pair_key(struct nfs_config_loader *L, yaml_node_t *map, size_t i, const char *shown)
{
    yaml_node_pair_t *pairs = map->data.mapping.pairs.start;
    yaml_node_t *key = nfs_config_node(L, pairs[i].key);
    struct nfs_config_pos pos = nfs_config_node_pos(key);
    const char *name;
    char got[256];

    if (key->type != YAML_SCALAR_NODE) {
        nfs_config_got(key, got, sizeof(got));
        nfs_config_error(L, &pos, shown, "expected a key name, got %s", got);
        return NULL;
    }
    name = (const char *)key->data.scalar.value;
    for (size_t j = 0; j < i; j++) {
        yaml_node_t *other = nfs_config_node(L, pairs[j].key);

        if (other->type == YAML_SCALAR_NODE &&
            strcmp((const char *)other->data.scalar.value, name) == 0) {
            nfs_config_error(L, &pos, shown, "duplicate key \"%s\", first given at line %u", name,
                             (unsigned)other->start_mark.line + 1);
            return NULL;
        }
    }
    return name;
}

/* Edit distance with transpositions (optimal string alignment), for "did you mean". */
static size_t
distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), d[33][33];

    if (la > 32 || lb > 32)
        return SIZE_MAX;
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            size_t v = d[i - 1][j] + 1;

            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

void
nfs_config_hint(const char *name, const char *const *candidates, size_t n, char *buf, size_t size)
{
    size_t best = SIZE_MAX, best_i = 0, len;

    for (size_t i = 0; i < n; i++) {
        size_t d = distance(name, candidates[i]);

        if (d < best)
            best = d, best_i = i;
    }
    /* Close: about one typo in three characters of the longer name. */
    if (best != SIZE_MAX &&
        best * 3 <= (strlen(name) > strlen(candidates[best_i]) ? strlen(name)
                                                               : strlen(candidates[best_i]))) {
        snprintf(buf, size, ", did you mean \"%s\"?", candidates[best_i]);
        return;
    }
    len = (size_t)snprintf(buf, size, " (expected one of:");
    for (size_t i = 0; i < n && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s %s", i ? "," : "", candidates[i]);
    if (len < size)
        snprintf(buf + len, size - len, n ? ")" : " nothing)");
}

static void walk_mapping(struct nfs_config_loader *L, yaml_node_t *map, const char *parent,
                         void *base, const char *shown, bool *given);

static void
unknown_key(struct nfs_config_loader *L, yaml_node_t *map, size_t i, const char *parent,
            const char *shown)
{
    yaml_node_t *key = nfs_config_node(L, map->data.mapping.pairs.start[i].key);
    struct nfs_config_pos pos = nfs_config_node_pos(key);
    const char *name = (const char *)key->data.scalar.value, *known[64];
    char path[256], hint[1024];
    size_t n = 0;

    for (size_t k = 0; k < nfs_config_keys_count && n < NFS_NITEMS(known); k++)
        if (nfs_config_key_in(&nfs_config_keys[k], parent))
            known[n++] = nfs_config_key_name(&nfs_config_keys[k]);
    nfs_config_hint(name, known, n, hint, sizeof(hint));
    snprintf(path, sizeof(path), "%s%s%s", shown, *shown ? "." : "", name);
    nfs_config_error(L, &pos, path, "unknown key%s", hint);
}

static void
apply_scalar(struct nfs_config_loader *L, const struct nfs_config_key *k, yaml_node_t *node,
             void *base, const char *shown)
{
    struct nfs_config_pos pos = nfs_config_node_pos(node);
    char what[256], why[1024];
    const char *text = nfs_config_text(L, node, shown, nfs_config_expected(k, what, sizeof(what)));
    bool is_text = k->type == NFS_CT_STRING || k->type == NFS_CT_PATH;

    if (text == NULL)
        return;
    if (nfs_config_is_null(node) && (!is_text || (k->flags & NFS_CK_REQUIRED)))
        nfs_config_error(L, &pos, shown, "expected %s, got nothing", what);
    else if (!nfs_config_parse_value(k, nfs_config_at(k, base), text, why, sizeof(why)))
        nfs_config_error(L, &pos, shown, "%s", why);
}

static bool
grow_inputs(struct nfs_config *cfg)
{
    char **grown;

    if (cfg->n_inputs % 64 != 0)
        return true;
    grown = realloc(cfg->inputs, (cfg->n_inputs + 64) * sizeof(*grown));
    if (grown == NULL)
        return false;
    cfg->inputs = grown;
    return true;
}

static void
free_inputs(struct nfs_config *cfg)
{
    for (size_t i = 0; i < cfg->n_inputs; i++)
        free(cfg->inputs[i]);
    free(cfg->inputs);
    cfg->inputs = NULL;
    cfg->n_inputs = 0;
}

static void
add_input(struct nfs_config_loader *L, const struct nfs_config_pos *pos, const char *shown,
          const char *text)
{
    struct nfs_config *cfg = L->cfg;

    if (text[0] == '\0') {
        nfs_config_error(L, pos, shown, "expected a path, got nothing");
    } else if (cfg->n_inputs == NFS_CONFIG_MAX_INPUTS) {
        nfs_config_error(L, pos, shown, "expected at most %d inputs", NFS_CONFIG_MAX_INPUTS);
    } else if (!grow_inputs(cfg) || (cfg->inputs[cfg->n_inputs] = strdup(text)) == NULL) {
        nfs_config_error(L, pos, shown, "out of memory");
    } else {
        cfg->n_inputs++;
    }
}

static void
walk_paths(struct nfs_config_loader *L, yaml_node_t *seq, const char *shown)
{
    yaml_node_item_t *items = seq->data.sequence.items.start;
    size_t n = (size_t)(seq->data.sequence.items.top - items);
    char item_path[300];

    free_inputs(L->cfg);
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = nfs_config_node(L, items[i]);
        struct nfs_config_pos pos = nfs_config_node_pos(item);
        const char *text;

        snprintf(item_path, sizeof(item_path), "%.200s[%zu]", shown, i);
        if ((text = nfs_config_text(L, item, item_path, "a path")) != NULL)
            add_input(L, &pos, item_path, text);
    }
}

/* Checks an element's required keys and the element as a whole. */
static void
check_element(struct nfs_config_loader *L, const struct nfs_config_key *list, void *elem,
              const char *shown, const bool *given)
{
    const struct nfs_config_pos *pos = (void *)((char *)elem + list->pos_offset);
    char parent[64], path[300], what[256], why[256];

    snprintf(parent, sizeof(parent), "%s[]", list->path);
    for (size_t i = 0; i < nfs_config_keys_count; i++) {
        const struct nfs_config_key *k = &nfs_config_keys[i];

        if ((k->flags & NFS_CK_REQUIRED) && nfs_config_key_in(k, parent) && !given[i]) {
            snprintf(path, sizeof(path), "%.200s.%.60s", shown, nfs_config_key_name(k));
            nfs_config_error(L, pos, path, "required, expected %s",
                             nfs_config_expected(k, what, sizeof(what)));
        }
    }
    if (list->check_elem && !list->check_elem(elem, why, sizeof(why)))
        nfs_config_error(L, pos, shown, "%s", why);
}

static void
walk_list(struct nfs_config_loader *L, const struct nfs_config_key *k, yaml_node_t *seq, void *base,
          const char *shown)
{
    yaml_node_item_t *items = seq->data.sequence.items.start;
    size_t n = (size_t)(seq->data.sequence.items.top - items);
    size_t *count = (size_t *)((char *)base + k->count_offset);
    struct nfs_config_pos pos = nfs_config_node_pos(seq);
    char parent[64], item_path[300], got[256];
    bool *given = calloc(nfs_config_keys_count, sizeof(*given));

    if (given == NULL) {
        nfs_config_error(L, &pos, shown, "out of memory");
        return;
    }
    if (n > k->max) {
        nfs_config_error(L, &pos, shown, "expected at most %" PRIu64 " items, got %zu", k->max, n);
        n = k->max;
    }
    snprintf(parent, sizeof(parent), "%s[]", k->path);
    *count = 0;
    for (size_t i = 0; i < n; i++) {
        yaml_node_t *item = nfs_config_node(L, items[i]);
        char *elem = (char *)nfs_config_at(k, base) + i * k->elem_size;
        struct nfs_config_pos item_pos = nfs_config_node_pos(item);

        snprintf(item_path, sizeof(item_path), "%.200s[%zu]", shown, i);
        memset(elem, 0, k->elem_size);
        nfs_config_elem_defaults(k, elem);
        memcpy(elem + k->pos_offset, &item_pos, sizeof(item_pos));
        (*count)++;
        if (item->type != YAML_MAPPING_NODE) {
            nfs_config_got(item, got, sizeof(got));
            nfs_config_error(L, &item_pos, item_path, "expected a mapping of keys, got %s", got);
            continue;
        }
        memset(given, 0, nfs_config_keys_count * sizeof(*given));
        walk_mapping(L, item, parent, elem, item_path, given);
        check_element(L, k, elem, item_path, given);
    }
    free(given);
}

/* Applies the value node of key row k, found at path `shown`. */
static void
apply_node(struct nfs_config_loader *L, const struct nfs_config_key *k, yaml_node_t *node,
           void *base, const char *shown)
{
    struct nfs_config_pos pos = nfs_config_node_pos(node);
    yaml_node_type_t want = k->type == NFS_CT_SECTION ? YAML_MAPPING_NODE : YAML_SEQUENCE_NODE;
    char what[256], got[256];

    switch (k->type) {
    case NFS_CT_SECTION:
    case NFS_CT_LIST:
    case NFS_CT_PATHS:
    case NFS_CT_PLUGINS:
        if (nfs_config_is_null(node)) {
            node = NULL; /* "key:" alone: an empty section or list */
        } else if (node->type != want) {
            nfs_config_got(node, got, sizeof(got));
            nfs_config_error(L, &pos, shown, "expected %s, got %s",
                             nfs_config_expected(k, what, sizeof(what)), got);
            return;
        }
        break;
    default:
        apply_scalar(L, k, node, base, shown);
        return;
    }
    if (k->type == NFS_CT_SECTION && node != NULL)
        walk_mapping(L, node, k->path, base, shown, NULL);
    else if (k->type == NFS_CT_LIST && node != NULL)
        walk_list(L, k, node, base, shown);
    else if (k->type == NFS_CT_LIST)
        *(size_t *)((char *)base + k->count_offset) = 0;
    else if (k->type == NFS_CT_PATHS && node != NULL)
        walk_paths(L, node, shown);
    else if (k->type == NFS_CT_PATHS)
        free_inputs(L->cfg);
    else
        L->plugins = node;
}

/* Walks a mapping whose keys are the rows under `parent`; given[row] marks the keys seen. */
static void
walk_mapping(struct nfs_config_loader *L, yaml_node_t *map, const char *parent, void *base,
             const char *shown, bool *given)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    char path[256], key_shown[300];

    for (size_t i = 0; i < n; i++) {
        const char *name = nfs_config_pair_key(L, map, i, shown);
        const struct nfs_config_key *k;

        if (name == NULL)
            continue;
        snprintf(path, sizeof(path), "%s%s%s", parent, *parent ? "." : "", name);
        k = nfs_config_key_find(path);
        if (k == NULL || !nfs_config_key_in(k, parent)) {
            unknown_key(L, map, i, parent, shown);
            continue;
        }
        if (given)
            given[k - nfs_config_keys] = true;
        snprintf(key_shown, sizeof(key_shown), "%s%s%s", shown, *shown ? "." : "", name);
        apply_node(L, k, nfs_config_node(L, map->data.mapping.pairs.start[i].value), base,
                   key_shown);
    }
}

/* Reads the file into L->doc; false after reporting why (unreadable, malformed YAML). */
static bool
read_file(struct nfs_config_loader *L, const char *path)
{
    yaml_parser_t parser;
    yaml_document_t extra;
    struct nfs_config_pos pos = {0};
    FILE *fp = fopen(path, "rb");
    bool ok = false;

    if (fp == NULL) {
        nfs_config_error(L, NULL, NULL, "cannot read: %s", strerror(errno));
        return false;
    }
    yaml_parser_initialize(&parser);
    yaml_parser_set_input_file(&parser, fp);
    if (yaml_parser_load(&parser, &L->doc)) {
        L->have_doc = true;
        if (!yaml_parser_load(&parser, &extra)) {
            /* reported below */
        } else if (yaml_document_get_root_node(&extra) != NULL) {
            pos = nfs_config_node_pos(yaml_document_get_root_node(&extra));
            nfs_config_error(L, &pos, NULL, "expected one YAML document, found a second one");
            yaml_document_delete(&extra);
            goto out;
        } else {
            yaml_document_delete(&extra);
            ok = true;
            goto out;
        }
    }
    pos.line = (unsigned)parser.problem_mark.line + 1;
    pos.column = (unsigned)parser.problem_mark.column + 1;
    if (parser.context != NULL)
        nfs_config_error(L, &pos, NULL, "malformed YAML: %s (%s at line %u, column %u)",
                         parser.problem ? parser.problem : "error", parser.context,
                         (unsigned)parser.context_mark.line + 1,
                         (unsigned)parser.context_mark.column + 1);
    else
        nfs_config_error(L, &pos, NULL, "malformed YAML: %s",
                         parser.problem ? parser.problem : "error");
out:
    yaml_parser_delete(&parser);
    fclose(fp);
    return ok;
}

/* The profile picks the defaults, so it is read first: from the overrides, else the file. */
static enum nfs_profile
find_profile(struct nfs_config_loader *L, yaml_node_t *root, const struct nfs_config_arg *args,
             size_t n_args)
{
    const struct nfs_config_key *k = nfs_config_key_find("profile");
    int profile = NFS_PROFILE_DEFAULT;
    char why[256];

    if (root != NULL && root->type == YAML_MAPPING_NODE) {
        for (yaml_node_pair_t *p = root->data.mapping.pairs.start; p < root->data.mapping.pairs.top;
             p++) {
            yaml_node_t *key = nfs_config_node(L, p->key), *value = nfs_config_node(L, p->value);

            if (key->type == YAML_SCALAR_NODE && value->type == YAML_SCALAR_NODE &&
                strcmp((const char *)key->data.scalar.value, "profile") == 0)
                nfs_config_parse_value(k, &profile, (const char *)value->data.scalar.value, why,
                                       sizeof(why));
        }
    }
    for (size_t i = 0; i < n_args; i++)
        if (strcmp(args[i].key, "profile") == 0)
            nfs_config_parse_value(k, &profile, args[i].value, why, sizeof(why));
    return (enum nfs_profile)profile;
}

/* A collector from its exporter target: udp://HOST:PORT, tcp://HOST:PORT or a file path. */
static void
add_collector_arg(struct nfs_config_loader *L, const struct nfs_config_arg *a)
{
    const struct nfs_config_key *list = nfs_config_key_find("collectors");
    const struct nfs_config_key *address = nfs_config_key_find("collectors[].address");
    const struct nfs_config_key *file = nfs_config_key_find("collectors[].file");
    struct nfs_config_pos pos = {0, 0, a->option};
    struct nfs_config *cfg = L->cfg;
    struct nfs_config_collector *c;
    char why[1024];
    bool ok;

    if (cfg->n_collectors == NFS_CONFIG_MAX_COLLECTORS) {
        nfs_config_error(L, &pos, NULL, "at most %d collectors", NFS_CONFIG_MAX_COLLECTORS);
        return;
    }
    c = &cfg->collectors[cfg->n_collectors++];
    memset(c, 0, sizeof(*c));
    nfs_config_elem_defaults(list, c);
    c->pos = pos;
    if (strncmp(a->value, "udp://", 6) == 0 || strncmp(a->value, "tcp://", 6) == 0) {
        c->transport = a->value[0] == 'u' ? NFS_TRANSPORT_UDP : NFS_TRANSPORT_TCP;
        ok = nfs_config_parse_value(address, c->address, a->value + 6, why, sizeof(why)) &&
             a->value[6] != '\0';
    } else if (strstr(a->value, "://") != NULL || a->value[0] == '\0') {
        ok = false;
        snprintf(why, sizeof(why),
                 "expected udp://HOST:PORT, tcp://HOST:PORT or a file, got \"%s\"", a->value);
    } else {
        ok = nfs_config_parse_value(file, c->file, a->value, why, sizeof(why));
    }
    if (!ok)
        nfs_config_error(L, &pos, NULL, "%s", why);
}

/* An override of a key that does not exist: the closest key path, or the ones there are. */
static void
unknown_arg(struct nfs_config_loader *L, const struct nfs_config_arg *a)
{
    struct nfs_config_pos pos = {0, 0, a->option};
    const char *known[128];
    char hint[4096];
    size_t n = 0;

    for (size_t i = 0; i < nfs_config_keys_count && n < NFS_NITEMS(known); i++)
        if (nfs_config_keys[i].type != NFS_CT_SECTION && !strchr(nfs_config_keys[i].path, '['))
            known[n++] = nfs_config_keys[i].path;
    nfs_config_hint(a->key, known, n, hint, sizeof(hint));
    nfs_config_error(L, &pos, NULL, "unknown key%s", hint);
}

/* Applies the command line's overrides over the file's values. */
static void
apply_args(struct nfs_config_loader *L, const struct nfs_config_arg *args, size_t n_args)
{
    bool inputs_replaced = false, collectors_replaced = false;
    char why[1024];

    L->plugin_args = calloc(n_args ? n_args : 1, sizeof(*L->plugin_args));
    for (size_t i = 0; i < n_args; i++) {
        const struct nfs_config_arg *a = &args[i];
        const struct nfs_config_key *k = nfs_config_key_find(a->key);
        struct nfs_config_pos pos = {0, 0, a->option};

        if (k == NULL) {
            unknown_arg(L, a);
        } else if (strchr(a->key, '[') != NULL || k->type == NFS_CT_SECTION) {
            nfs_config_error(L, &pos, NULL, "%s cannot be set from the command line", a->key);
        } else if (k->type == NFS_CT_PATHS) {
            if (!inputs_replaced)
                free_inputs(L->cfg);
            inputs_replaced = true;
            add_input(L, &pos, NULL, a->value);
        } else if (k->type == NFS_CT_LIST && strcmp(k->path, "collectors") == 0) {
            if (!collectors_replaced)
                L->cfg->n_collectors = 0;
            collectors_replaced = true;
            add_collector_arg(L, a);
        } else if (k->type == NFS_CT_PLUGINS && L->plugin_args != NULL) {
            L->plugin_args[L->n_plugin_args++] = a;
        } else if (k->type == NFS_CT_LIST || k->type == NFS_CT_PLUGINS) {
            nfs_config_error(L, &pos, NULL, "%s cannot be set from the command line", a->key);
        } else if (!nfs_config_parse_value(k, nfs_config_at(k, L->cfg), a->value, why,
                                           sizeof(why))) {
            nfs_config_error(L, &pos, NULL, "%s", why);
        }
    }
}

/* Interfaces: each once; domains filled in and each once, so collectors can tell them apart. */
static void
check_interfaces(struct nfs_config_loader *L)
{
    struct nfs_config *cfg = L->cfg;
    char shown[64];

    for (size_t i = 0; i < cfg->n_interfaces; i++) {
        struct nfs_config_interface *ifc = &cfg->interfaces[i];

        if (ifc->observation_domain == 0)
            ifc->observation_domain = cfg->ipfix.observation_domain + (uint32_t)i;
    }
    for (size_t i = 0; i < cfg->n_interfaces; i++) {
        const struct nfs_config_interface *ifc = &cfg->interfaces[i];

        for (size_t j = 0; j < i; j++) {
            const struct nfs_config_interface *o = &cfg->interfaces[j];

            if (ifc->name[0] != '\0' && strcmp(ifc->name, o->name) == 0) {
                snprintf(shown, sizeof(shown), "interfaces[%zu].name", i);
                nfs_config_error(L, &ifc->pos, shown,
                                 "interface \"%s\" is already listed at line %u", ifc->name,
                                 o->pos.line);
                break;
            }
            if (ifc->observation_domain == o->observation_domain) {
                snprintf(shown, sizeof(shown), "interfaces[%zu].observation_domain", i);
                nfs_config_error(L, &ifc->pos, shown,
                                 "%u is already the domain of interfaces[%zu] (%s); give each "
                                 "interface its own",
                                 ifc->observation_domain, j, o->name);
                break;
            }
        }
    }
}

static void
check_collectors(struct nfs_config_loader *L)
{
    struct nfs_config *cfg = L->cfg;
    char a[NFS_CONFIG_PATH_SIZE + 8], b[NFS_CONFIG_PATH_SIZE + 8], shown[64];

    for (size_t i = 0; i < cfg->n_collectors; i++) {
        nfs_config_collector_target(&cfg->collectors[i], a, sizeof(a));
        for (size_t j = 0; j < i; j++) {
            nfs_config_collector_target(&cfg->collectors[j], b, sizeof(b));
            if (strcmp(a, b) == 0 && a[0] != '\0') {
                snprintf(shown, sizeof(shown), "collectors[%zu]", i);
                nfs_config_error(L, &cfg->collectors[i].pos,
                                 cfg->collectors[i].pos.option ? NULL : shown,
                                 "%s is already collectors[%zu]", a, j);
                break;
            }
        }
    }
}

/* The group named by one token of fields:, as a bit (core 0, plugin i 1 + i); 0: unknown. */
static uint32_t
group_bit(const struct nfs_config *cfg, const char *name)
{
    if (strcmp(name, "core") == 0)
        return 1;
    for (size_t i = 0; i < nfs_plugin_set_count(cfg->plugin_set) && i < 31; i++)
        if (strcmp(nfs_plugin_set_plugin(cfg->plugin_set, i)->name, name) == 0)
            return 1u << (i + 1);
    return 0;
}

/* fields: all, iana-only, or groups (core among them), now that the plugins are known. */
static void
resolve_fields(struct nfs_config_loader *L, struct nfs_config_collector *c, size_t index)
{
    char text[sizeof(c->fields)], shown[64], *save = NULL;

    snprintf(text, sizeof(text), "%s", c->fields);
    snprintf(shown, sizeof(shown), "collectors[%zu].fields", index);
    c->field_groups = 0;
    if (strspn(text, NFS_CONFIG_FIELDS_CHARS) != strlen(text))
        return; /* the row's check said what is wrong */
    for (char *t = strtok_r(text, ", ", &save); t != NULL; t = strtok_r(NULL, ", ", &save)) {
        uint32_t bit = group_bit(L->cfg, t);

        if (strcmp(t, "iana-only") == 0) {
            c->iana_only = true;
        } else if (strcmp(t, "all") == 0) {
            continue;
        } else if (bit == 0) {
            nfs_config_error(L, &c->pos, shown,
                             "unknown field group \"%s\": expected all, iana-only, core or an "
                             "enabled plugin's name",
                             t);
            return;
        }
        c->field_groups |= bit;
    }
    if (c->field_groups != 0 && !(c->field_groups & 1))
        nfs_config_error(L, &c->pos, shown,
                         "the groups must include core (addresses, ports, counters), got \"%s\"",
                         c->fields);
}

/*
 * Started as root, the daemon reads a collector's key at start and, after switching to user:,
 * again on every reload: the key must belong to that user (root when there is none). The row's
 * check left the owner to this, which knows user:.
 */
static void
check_key_owner(struct nfs_config_loader *L, struct nfs_config_collector *c, size_t index)
{
    const char *user = L->cfg->user[0] ? L->cfg->user : "root";
    struct passwd *pw;
    struct stat st;
    char shown[64];

    if (c->key_file[0] == '\0' || geteuid() != 0 || (pw = getpwnam(user)) == NULL ||
        stat(c->key_file, &st) != 0)
        return; /* not root, or user: and the file were reported already */
    c->key_owner_set = true;
    c->key_owner = (uint32_t)pw->pw_uid;
    snprintf(shown, sizeof(shown), "collectors[%zu].anonymize.key_file", index);
    if (st.st_uid != pw->pw_uid)
        nfs_config_error(L, &c->pos, shown,
                         "%s is owned by uid %u, not by %s (uid %u), the user the daemon runs "
                         "as: chown %s %s",
                         c->key_file, (unsigned)st.st_uid, user, (unsigned)pw->pw_uid, user,
                         c->key_file);
}

void
nfs_config_collector_options(const struct nfs_config_collector *c, struct nfs_collector_options *co)
{
    co->profile = (struct nfs_export_profile){
        c->format,   c->records, c->counters,      c->lists,    c->iana_only,
        c->field_groups, c->key_file, c->key_owner_set, c->key_owner};
    co->spool_bytes = c->spool_bytes;
    co->spool_disk_bytes = c->spool_disk_bytes;
    co->replay_bytes = c->replay_bytes;
    co->spool_dir = c->spool_dir[0] ? c->spool_dir : NULL;
    co->reconnect_min_ms = (uint32_t)c->reconnect_min_ms;
    co->reconnect_max_ms = (uint32_t)c->reconnect_max_ms;
    co->rotate_s = (uint32_t)(c->rotate_ms / 1000);
    co->rotate_bytes = c->rotate_bytes;
}

void
nfs_config_collector_target(const struct nfs_config_collector *c, char *buf, size_t size)
{
    if (c->address[0] != '\0')
        snprintf(buf, size, "%s://%s", c->transport == NFS_TRANSPORT_TCP ? "tcp" : "udp",
                 c->address);
    else
        snprintf(buf, size, "%s", c->file);
}

struct nfs_config *
nfs_config_load(const char *path, const struct nfs_config_arg *args, size_t n_args,
                struct nfs_config_errors *errs)
{
    struct nfs_config_loader L = {.errs = errs, .errors_before = errs->n_total};
    size_t errors_before = errs->n_total, kept_before = errs->n;
    yaml_node_t *root = NULL;
    char got[256];

    L.cfg = calloc(1, sizeof(*L.cfg));
    if (L.cfg == NULL) {
        nfs_config_error(&L, NULL, NULL, "out of memory");
        return NULL;
    }
    if (path != NULL) {
        snprintf(L.cfg->path, sizeof(L.cfg->path), "%s", path);
        if (read_file(&L, path))
            root = yaml_document_get_root_node(&L.doc);
    }
    nfs_config_defaults(L.cfg, find_profile(&L, root, args, n_args));
    if (root != NULL && root->type == YAML_MAPPING_NODE) {
        walk_mapping(&L, root, "", L.cfg, "", NULL);
    } else if (root != NULL && !nfs_config_is_null(root)) {
        struct nfs_config_pos pos = nfs_config_node_pos(root);

        nfs_config_got(root, got, sizeof(got));
        nfs_config_error(&L, &pos, NULL,
                         "expected a mapping of keys such as profile, flows, interfaces, got %s",
                         got);
    }
    apply_args(&L, args, n_args);
    nfs_config_plugins_load(&L);
    check_interfaces(&L);
    check_collectors(&L);
    nfs_config_plugins_finish(&L);
    for (size_t i = 0; L.cfg->plugin_set != NULL && i < L.cfg->n_collectors; i++)
        resolve_fields(&L, &L.cfg->collectors[i], i);
    for (size_t i = 0; i < L.cfg->n_collectors; i++)
        check_key_owner(&L, &L.cfg->collectors[i], i);
    free(L.plugin_args);
    if (L.have_doc)
        yaml_document_delete(&L.doc);
    if (errs->n_total != errors_before) {
        sort_errors(errs, kept_before);
        nfs_config_free(L.cfg);
        return NULL;
    }
    return L.cfg;
}

void
nfs_config_free(struct nfs_config *cfg)
{
    if (cfg == NULL)
        return;
    free_inputs(cfg);
    for (size_t i = 0; i < cfg->n_plugins; i++)
        free(cfg->plugins[i].conf);
    nfs_plugin_set_destroy(cfg->plugin_set);
    free(cfg);
}
