/*
 * config_write.c: a configuration back to text: canonical YAML, the reference, the plugins.
 *
 * Canonical YAML (`nfsensord --check-config -v`) has every key in the schema's order, defaults
 * filled in, values in canonical form (config_value.c), block style, two-space indent. A key of
 * a list element that does not apply to it (transport for a file collector) is left out. Loading
 * the output gives the same configuration, so printing it again gives the same text; the config
 * tests check both. The reference is docs/config.md's table, from the same rows.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "config_schema.h"

/* Room for a value of `size` bytes in canonical form: a string may be all escapes (\xNN). */
static char *
value_buffer(size_t size)
{
    char *buf = malloc(size * 4 + 64);

    if (buf == NULL)
        abort(); /* a few KiB: nothing sensible to do without them */
    return buf;
}

static void write_keys(FILE *fp, const struct nfs_config *cfg, const char *parent, const void *base,
                       int indent, const char *first);

static size_t
count_of(const struct nfs_config_key *k, const void *base)
{
    size_t n;

    memcpy(&n, (const char *)base + k->count_offset, sizeof(n));
    return n;
}

/* The option's value in canonical form, in a buffer to free. */
static char *
option_text(const struct nfs_option *o, const void *conf)
{
    bool text = o->type == NFS_OPT_STRING || o->type == NFS_OPT_PATH;
    size_t size = text ? (size_t)o->max * 4 + 64 : 64;
    char *buf = value_buffer(size);

    nfs_config_format_option(o, conf, buf, size);
    return buf;
}

static void
write_plugins(FILE *fp, const struct nfs_config *cfg, int indent)
{
    for (size_t i = 0; i < cfg->n_plugins; i++) {
        const struct nfs_plugin *p = cfg->plugins[i].plugin;

        fprintf(fp, "%*s- name: %s\n", indent + 2, "", p->name);
        for (size_t j = 0; j < p->n_options; j++) {
            char *value = option_text(&p->options[j], cfg->plugins[i].conf);

            fprintf(fp, "%*s%s: %s\n", indent + 4, "", p->options[j].name, value);
            free(value);
        }
    }
}

/* One key of the mapping; prefix is what starts its line ("  " or "  - "). */
static void
write_key(FILE *fp, const struct nfs_config *cfg, const struct nfs_config_key *k, const void *base,
          int indent, const char *prefix)
{
    const char *name = nfs_config_key_name(k);
    size_t n = 0;
    char *value, parent[64];

    if (k->type == NFS_CT_LIST || k->type == NFS_CT_PATHS)
        n = count_of(k, base);
    else if (k->type == NFS_CT_PLUGINS)
        n = cfg->n_plugins;
    switch (k->type) {
    case NFS_CT_SECTION:
        fprintf(fp, "%s%s:\n", prefix, name);
        write_keys(fp, cfg, k->path, base, indent + 2, NULL);
        return;
    case NFS_CT_LIST:
    case NFS_CT_PATHS:
    case NFS_CT_PLUGINS:
        fprintf(fp, "%s%s:%s\n", prefix, name, n ? "" : " []");
        break;
    default:
        value = value_buffer(k->size);
        nfs_config_format_value(k, (const char *)base + k->offset, value, k->size * 4 + 64);
        fprintf(fp, "%s%s: %s\n", prefix, name, value);
        free(value);
        return;
    }
    snprintf(parent, sizeof(parent), "%s[]", k->path);
    for (size_t i = 0; i < n; i++) {
        if (k->type == NFS_CT_LIST) {
            const char *elem = (const char *)base + k->offset + i * k->elem_size;
            char dash[64];

            snprintf(dash, sizeof(dash), "%*s- ", indent + 2, "");
            write_keys(fp, cfg, parent, elem, indent + 4, dash);
        } else if (k->type == NFS_CT_PATHS) {
            value = value_buffer(strlen(cfg->inputs[i]) + 1);
            nfs_config_quote(cfg->inputs[i], value, (strlen(cfg->inputs[i]) + 1) * 4 + 64);
            fprintf(fp, "%*s- %s\n", indent + 2, "", value);
            free(value);
        }
    }
    if (k->type == NFS_CT_PLUGINS)
        write_plugins(fp, cfg, indent);
}

/* The keys under parent, stored relative to base; the first line starts with `first`. */
static void
write_keys(FILE *fp, const struct nfs_config *cfg, const char *parent, const void *base, int indent,
           const char *first)
{
    char prefix[64];

    for (size_t i = 0; i < nfs_config_keys_count; i++) {
        const struct nfs_config_key *k = &nfs_config_keys[i];

        if (!nfs_config_key_in(k, parent) || (k->shown && !k->shown(base)))
            continue;
        if (first != NULL)
            snprintf(prefix, sizeof(prefix), "%s", first);
        else
            snprintf(prefix, sizeof(prefix), "%*s", indent, "");
        first = NULL;
        write_key(fp, cfg, k, base, indent, prefix);
    }
}

void
nfs_config_write(const struct nfs_config *cfg, FILE *fp)
{
    write_keys(fp, cfg, "", cfg, 0, NULL);
}

/* Where row k's value sits in a configuration, for the defaults (list rows: in an element). */
static const void *
default_of(const struct nfs_config_key *k, const struct nfs_config *cfg, const void *elem)
{
    return (const char *)(strchr(k->path, '[') ? elem : (const void *)cfg) + k->offset;
}

/* The default column: the value in both profiles, or what stands instead of one. */
static void
default_text(const struct nfs_config_key *k, const struct nfs_config *def,
             const struct nfs_config *nfstream, const void *elem_def, char *buf, size_t size)
{
    char a[256], b[256];

    if (k->flags & NFS_CK_REQUIRED) {
        snprintf(buf, size, "required");
    } else if (k->type == NFS_CT_SECTION) {
        snprintf(buf, size, " ");
    } else if (k->type == NFS_CT_LIST || k->type == NFS_CT_PATHS || k->type == NFS_CT_PLUGINS) {
        snprintf(buf, size, "`[]`");
    } else {
        nfs_config_format_value(k, default_of(k, def, elem_def), a, sizeof(a));
        nfs_config_format_value(k, default_of(k, nfstream, elem_def), b, sizeof(b));
        if (strcmp(a, b) == 0 || !(k->flags & NFS_CK_PROFILE))
            snprintf(buf, size, "`%s`", a);
        else
            snprintf(buf, size, "`%s` (nfstream: `%s`)", a, b);
    }
}

void
nfs_config_write_reference(FILE *fp)
{
    static struct nfs_config def, nfstream;
    static union {
        struct nfs_config_interface ifc;
        struct nfs_config_collector coll;
    } elem;
    char type[512], dflt[600];

    nfs_config_defaults(&def, NFS_PROFILE_DEFAULT);
    nfs_config_defaults(&nfstream, NFS_PROFILE_NFSTREAM);
    fprintf(fp, "| key | type | default | reload | description |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < nfs_config_keys_count; i++) {
        const struct nfs_config_key *k = &nfs_config_keys[i];
        const char *bracket = strchr(k->path, '[');

        if (bracket != NULL) {
            char list[64];

            snprintf(list, sizeof(list), "%.*s", (int)(bracket - k->path), k->path);
            memset(&elem, 0, sizeof(elem));
            nfs_config_elem_defaults(nfs_config_key_find(list), &elem);
        }
        if (k->type == NFS_CT_SECTION)
            snprintf(type, sizeof(type), "section");
        else
            nfs_config_describe(k, type, sizeof(type));
        default_text(k, &def, &nfstream, &elem, dflt, sizeof(dflt));
        fprintf(fp, "| `%s` | %s | %s | %s | %s |\n", k->path, type, dflt,
                k->type == NFS_CT_SECTION    ? " "
                : (k->flags & NFS_CK_RELOAD) ? "yes"
                                             : "no",
                k->help);
    }
}

void
nfs_config_write_plugins(FILE *fp)
{
    char type[512], *value;

    for (size_t i = 0; nfs_builtin_plugins[i] != NULL; i++) {
        const struct nfs_plugin *p = nfs_builtin_plugins[i];
        void *conf = calloc(1, p->conf_size ? p->conf_size : 1);

        fprintf(fp, "%s: %s\n", p->name, p->description ? p->description : "");
        for (size_t j = 0; j < p->n_options; j++) {
            const struct nfs_option *o = &p->options[j];

            nfs_config_describe_option(o, type, sizeof(type));
            if (o->def != NULL && conf != NULL && nfs_plugin_conf_defaults(p, conf, NULL))
                value = option_text(o, conf);
            else
                value = strdup("required");
            fprintf(fp, "    %s: %s (%s): %s\n", o->name, value ? value : "", type,
                    o->help ? o->help : "");
            free(value);
        }
        free(conf);
    }
}
