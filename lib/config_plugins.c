/*
 * config_plugins.c: the plugins: list and the dpi: section, against the plugin registry.
 *
 * An entry is a name, or a mapping of name and options. The name is looked up among the
 * built-ins, then as NAME.so in plugin_dir (never anywhere else). Options are checked against
 * the plugin's own option table, the same way as the configuration's keys: unknown ones get a
 * "did you mean", values their type and bounds, required ones must be there. The plugin never
 * sees text. DPI is the built-in plugin "dpi", enabled by the dpi: section rather than listed;
 * a build without it takes dpi.enabled: true as a no-op.
 * Finally the plugin set is built, which is where two plugins' fields may clash.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "config_internal.h"

/*
 * Built-in plugins enabled and configured by a section of their own rather than listed: dpi
 * (dpi.enabled, dpi.max_packets) and community_id (community_id.enabled, on by default outside
 * the nfstream profile, and community_id.seed). The section's value is given to the plugin as
 * its one option.
 */
struct section_plugin {
    const char *name;
    size_t enabled;     /* offsetof the bool in struct nfs_config */
    const char *option; /* the plugin's option set from the section */
    size_t value;       /* offsetof its uint32_t in struct nfs_config */
    bool zero_disables; /* dpi.max_packets: 0 */
};

static const struct section_plugin section_plugins[] = {
    {"dpi", offsetof(struct nfs_config, dpi.enabled), "max_packets",
     offsetof(struct nfs_config, dpi.max_packets), true},
    {"community_id", offsetof(struct nfs_config, community_id.enabled), "seed",
     offsetof(struct nfs_config, community_id.seed), false},
};

static const struct section_plugin *
section_plugin(const char *name)
{
    for (size_t i = 0; i < NFS_NITEMS(section_plugins); i++)
        if (strcmp(section_plugins[i].name, name) == 0)
            return &section_plugins[i];
    return NULL;
}

static bool *
section_enabled(struct nfs_config *cfg, const struct section_plugin *sp)
{
    return (bool *)((char *)cfg + sp->enabled);
}

static uint32_t
section_value(const struct nfs_config *cfg, const struct section_plugin *sp)
{
    return *(const uint32_t *)((const char *)cfg + sp->value);
}

static int
compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "statistics, splt" (or "none built in"), then "; in DIR: a, b" for the .so files there. */
static void
known_plugins(const char *dir, char *buf, size_t size)
{
    size_t len = 0, n = 0;
    char *names[64];
    struct dirent *d;
    DIR *dp;

    buf[0] = '\0';
    for (size_t i = 0; nfs_builtin_plugins[i] != NULL && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s", i ? ", " : "",
                                nfs_builtin_plugins[i]->name);
    if (len == 0)
        len = (size_t)snprintf(buf, size, "none built in");
    if (dir[0] == '\0' || (dp = opendir(dir)) == NULL)
        return;
    while ((d = readdir(dp)) != NULL && n < NFS_NITEMS(names)) {
        size_t l = strlen(d->d_name);

        if (l > 3 && d->d_name[0] != '.' && strcmp(d->d_name + l - 3, ".so") == 0 &&
            (names[n] = strndup(d->d_name, l - 3)) != NULL)
            n++;
    }
    closedir(dp);
    qsort(names, n, sizeof(names[0]), compare_names);
    if (len < size)
        len += (size_t)snprintf(buf + len, size - len, "; in %s:%s", dir, n ? "" : " none");
    for (size_t i = 0; i < n; i++) {
        if (len < size)
            len += (size_t)snprintf(buf + len, size - len, "%s %s", i ? "," : "", names[i]);
        free(names[i]);
    }
}

/* The plugin of that name (built in, else plugin_dir/NAME.so), or NULL after an error. */
static const struct nfs_plugin *
resolve(struct nfs_config_loader *L, const char *name, const struct nfs_config_pos *pos,
        const char *shown)
{
    const char *dir = L->cfg->plugin_dir;
    const struct nfs_plugin *p = nfs_plugin_find(name);
    struct nfs_error err;
    char path[NFS_CONFIG_PATH_SIZE + 300], known[1024];
    struct stat st;

    if (p != NULL)
        return p;
    snprintf(path, sizeof(path), "%s/%s.so", dir, name);
    if (dir[0] != '\0' && name[0] != '.' && strchr(name, '/') == NULL && stat(path, &st) == 0) {
        if ((p = nfs_plugin_load(dir, name, &err)) == NULL)
            nfs_config_error(L, pos, shown, "%s", err.msg);
        return p;
    }
    known_plugins(dir, known, sizeof(known));
    nfs_config_error(L, pos, shown, "unknown plugin \"%s\" (known: %s)", name, known);
    return NULL;
}

/* Index of the option named name, or -1. */
static long
find_option(const struct nfs_plugin *p, const char *name)
{
    for (size_t i = 0; i < p->n_options; i++)
        if (strcmp(p->options[i].name, name) == 0)
            return (long)i;
    return -1;
}

static void
unknown_option(struct nfs_config_loader *L, const struct nfs_plugin *p, yaml_node_t *key,
               const char *path)
{
    struct nfs_config_pos pos = nfs_config_node_pos(key);
    const char *names[64];
    char hint[1024];
    size_t n = 0;

    for (size_t i = 0; i < p->n_options && n < NFS_NITEMS(names); i++)
        names[n++] = p->options[i].name;
    nfs_config_hint((const char *)key->data.scalar.value, names, n, hint, sizeof(hint));
    nfs_config_error(L, &pos, path, "plugin %s has no such option%s", p->name, hint);
}

/* Sets the options given in the entry's mapping (every key but name); given[i] marks them. */
static void
set_options(struct nfs_config_loader *L, struct nfs_config_plugin *e, yaml_node_t *map,
            const char *shown, bool *given)
{
    size_t n = (size_t)(map->data.mapping.pairs.top - map->data.mapping.pairs.start);
    char path[300], what[256], why[1024];

    for (size_t i = 0; i < n; i++) {
        yaml_node_pair_t *pair = &map->data.mapping.pairs.start[i];
        const char *name = nfs_config_pair_key(L, map, i, shown), *text;
        yaml_node_t *value = nfs_config_node(L, pair->value);
        struct nfs_config_pos pos = nfs_config_node_pos(value);
        const struct nfs_option *o;
        long k;

        if (name == NULL || strcmp(name, "name") == 0)
            continue;
        snprintf(path, sizeof(path), "%s.%s", shown, name);
        if ((k = find_option(e->plugin, name)) < 0) {
            unknown_option(L, e->plugin, nfs_config_node(L, pair->key), path);
            continue;
        }
        o = &e->plugin->options[k];
        given[k] = true;
        nfs_config_option_expected(o, what, sizeof(what));
        if ((text = nfs_config_text(L, value, path, what)) == NULL)
            continue;
        if (nfs_config_is_null(value) && o->type != NFS_OPT_STRING && o->type != NFS_OPT_PATH)
            nfs_config_error(L, &pos, path, "expected %s, got nothing", what);
        else if (!nfs_config_parse_option(o, e->conf, text, why, sizeof(why)))
            nfs_config_error(L, &pos, path, "%s", why);
    }
}

/* Fills entry e for plugin p: defaults, the entry's options (map may be NULL), required ones. */
static void
configure(struct nfs_config_loader *L, struct nfs_config_plugin *e, yaml_node_t *map,
          const char *shown)
{
    const struct nfs_plugin *p = e->plugin;
    struct nfs_error err;
    bool given[256] = {false};
    char path[300], what[256];

    e->conf = calloc(1, p->conf_size ? p->conf_size : 1);
    if (e->conf == NULL || p->n_options > NFS_NITEMS(given)) {
        nfs_config_error(L, &e->pos, shown, "plugin %s: cannot hold its options", p->name);
        return;
    }
    if (!nfs_plugin_conf_defaults(p, e->conf, &err))
        nfs_config_error(L, &e->pos, shown, "%s", err.msg);
    if (map != NULL)
        set_options(L, e, map, shown, given);
    for (size_t i = 0; i < p->n_options; i++) {
        if (p->options[i].def != NULL || given[i])
            continue;
        snprintf(path, sizeof(path), "%s%s%s", shown ? shown : "", shown ? "." : "",
                 p->options[i].name);
        nfs_config_error(L, &e->pos, path, "plugin %s needs this option, expected %s", p->name,
                         nfs_config_option_expected(&p->options[i], what, sizeof(what)));
    }
}

/* The name of an entry: the scalar itself, or the mapping's name key. NULL after an error. */
static const char *
entry_name(struct nfs_config_loader *L, yaml_node_t *item, const char *shown)
{
    struct nfs_config_pos pos = nfs_config_node_pos(item);
    char path[300], got[256];

    if (item->type == YAML_SCALAR_NODE)
        return nfs_config_text(L, item, shown, "a plugin name");
    if (item->type != YAML_MAPPING_NODE) {
        nfs_config_got(item, got, sizeof(got));
        nfs_config_error(L, &pos, shown, "expected a plugin name or {name: NAME, ...}, got %s",
                         got);
        return NULL;
    }
    snprintf(path, sizeof(path), "%s.name", shown);
    for (yaml_node_pair_t *p = item->data.mapping.pairs.start; p < item->data.mapping.pairs.top;
         p++) {
        yaml_node_t *key = nfs_config_node(L, p->key);

        if (key->type == YAML_SCALAR_NODE &&
            strcmp((const char *)key->data.scalar.value, "name") == 0)
            return nfs_config_text(L, nfs_config_node(L, p->value), path, "a plugin name");
    }
    nfs_config_error(L, &pos, path, "required, expected a plugin name");
    return NULL;
}

/* Adds one entry (item: the YAML node, or NULL for an override); reports what is wrong. */
static void
add_entry(struct nfs_config_loader *L, const char *name, yaml_node_t *item,
          const struct nfs_config_pos *pos, const char *shown)
{
    struct nfs_config *cfg = L->cfg;
    struct nfs_config_plugin *e;

    if (cfg->n_plugins == NFS_MAX_PLUGINS) {
        nfs_config_error(L, pos, shown, "at most %d plugins", NFS_MAX_PLUGINS);
        return;
    }
    e = &cfg->plugins[cfg->n_plugins++]; /* kept even when wrong, so indexes match the file */
    e->pos = *pos;
    if (name == NULL)
        return;
    if (name[0] == '\0') {
        nfs_config_error(L, pos, shown, "expected a plugin name, got nothing");
        return;
    }
    if (section_plugin(name) != NULL) {
        nfs_config_error(L, pos, shown,
                         "%s is enabled and configured by the %s: section, not listed here", name,
                         name);
        return;
    }
    for (size_t i = 0; i + 1 < cfg->n_plugins; i++) {
        if (cfg->plugins[i].plugin && strcmp(cfg->plugins[i].plugin->name, name) == 0) {
            nfs_config_error(L, pos, shown, "plugin %s is already enabled by plugins[%zu]", name,
                             i);
            return;
        }
    }
    e->plugin = resolve(L, name, pos, shown);
    if (e->plugin != NULL) {
        size_t before = L->errs->n_total;

        configure(L, e, item && item->type == YAML_MAPPING_NODE ? item : NULL, shown);
        L->plugin_ok[cfg->n_plugins - 1] = L->errs->n_total == before;
    }
}

void
nfs_config_plugins_load(struct nfs_config_loader *L)
{
    yaml_node_t *seq = L->plugins;
    char shown[64];

    if (L->n_plugin_args > 0) {
        for (size_t i = 0; i < L->n_plugin_args; i++) {
            struct nfs_config_pos pos = {0, 0, L->plugin_args[i]->option};

            const struct section_plugin *sp = section_plugin(L->plugin_args[i]->value);

            if (sp != NULL)
                *section_enabled(L->cfg, sp) = true; /* --plugin dpi: dpi.enabled: true */
            else
                add_entry(L, L->plugin_args[i]->value, NULL, &pos, NULL);
        }
        return;
    }
    for (int *it = seq ? seq->data.sequence.items.start : NULL;
         seq && it < seq->data.sequence.items.top; it++) {
        yaml_node_t *item = nfs_config_node(L, *it);
        struct nfs_config_pos pos = nfs_config_node_pos(item);

        snprintf(shown, sizeof(shown), "plugins[%zu]", L->cfg->n_plugins);
        add_entry(L, entry_name(L, item, shown), item, &pos, shown);
    }
}

/* The conf of section plugin p: its defaults, then the section's value as its option. */
static void *
section_conf(struct nfs_config_loader *L, const struct nfs_plugin *p,
             const struct section_plugin *sp)
{
    struct nfs_config_pos none = {0};
    struct nfs_error err;
    void *conf = calloc(1, p->conf_size ? p->conf_size : 1);
    char text[32], why[1024], key[64];
    long k;

    if (conf == NULL || !nfs_plugin_conf_defaults(p, conf, &err)) {
        nfs_config_error(L, &none, sp->name, "%s", conf ? err.msg : "out of memory");
        free(conf);
        return NULL;
    }
    snprintf(text, sizeof(text), "%u", section_value(L->cfg, sp));
    snprintf(key, sizeof(key), "%s.%s", sp->name, sp->option);
    if ((k = find_option(p, sp->option)) >= 0 &&
        !nfs_config_parse_option(&p->options[k], conf, text, why, sizeof(why)))
        nfs_config_error(L, &none, key, "%s", why);
    return conf;
}

/*
 * Sets the plugin up once and tears it down, so that what only setup can tell (ml_tree's model
 * file missing or malformed) is a configuration error at the entry, before anything starts.
 */
static bool
try_setup(const struct nfs_config_plugin *e, const struct nfs_flow_options *flows,
          struct nfs_error *err)
{
    struct nfs_plugin_env env = {.flows = flows, .pipeline_index = 0};
    struct nfs_error why;
    void *ctx = NULL;

    if (e->plugin->setup == NULL)
        return true;
    if (!e->plugin->setup(&ctx, e->conf, &env, &why)) {
        nfs_error_set(err, "plugin %s: %s", e->plugin->name, why.msg);
        return false;
    }
    if (e->plugin->teardown)
        e->plugin->teardown(ctx);
    return true;
}

void
nfs_config_plugins_finish(struct nfs_config_loader *L)
{
    struct nfs_config *cfg = L->cfg;
    struct nfs_error err;
    char shown[64];

    cfg->plugin_set = nfs_plugin_set_create();
    if (cfg->plugin_set == NULL) {
        nfs_config_error(L, NULL, NULL, "out of memory");
        return;
    }
    for (size_t i = 0; i < NFS_NITEMS(section_plugins); i++) {
        const struct section_plugin *sp = &section_plugins[i];
        const struct nfs_plugin *p = nfs_plugin_find(sp->name);
        void *conf;

        if (p == NULL || !*section_enabled(cfg, sp) ||
            (sp->zero_disables && section_value(cfg, sp) == 0))
            continue;
        conf = section_conf(L, p, sp);
        if (conf != NULL && !nfs_plugin_set_add(cfg->plugin_set, p, conf, &err))
            nfs_config_error(L, NULL, sp->name, "%s", err.msg);
        free(conf);
    }
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        const struct nfs_config_plugin *e = &cfg->plugins[i];

        snprintf(shown, sizeof(shown), "plugins[%zu]", i);
        if (!L->plugin_ok[i])
            continue; /* its errors are reported already */
        /* setup only sees options that passed every check */
        if (!nfs_plugin_set_add(cfg->plugin_set, e->plugin, e->conf, &err) ||
            (L->errs->n_total == L->errors_before && !try_setup(e, &cfg->flows, &err)))
            nfs_config_error(L, &e->pos, e->pos.option ? NULL : shown, "%s", err.msg);
    }
}
