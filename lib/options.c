/*
 * options.c: typed option values from their YAML text (durations, sizes, numbers, flags).
 *
 * The configuration and every plugin share these parsers, so "120s" or "64MiB" means the same
 * everywhere and each error says what was expected.
 */
#include "plugin.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <strings.h>

struct unit {
    const char *suffix;
    uint64_t factor;
};

static const struct unit duration_units[] = {
    {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000},
};

static const struct unit size_units[] = {
    {"", 1},
    {"B", 1},
    {"KiB", 1ull << 10},
    {"MiB", 1ull << 20},
    {"GiB", 1ull << 30},
    {"kB", 1000},
    {"MB", 1000 * 1000},
    {"GB", 1000 * 1000 * 1000},
};

/* A number followed by one of the units; false when the text is anything else. */
static bool
scaled(const char *text, const struct unit *units, size_t n, uint64_t *out)
{
    char *end;
    unsigned long long v;

    if (text[0] < '0' || text[0] > '9')
        return false;
    errno = 0;
    v = strtoull(text, &end, 10);
    if (errno != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > UINT64_MAX / units[i].factor)
                return false;
            *out = v * units[i].factor;
            return true;
        }
    }
    return false;
}

static bool
parse_bool(const char *text, bool *out)
{
    if (!strcasecmp(text, "true") || !strcasecmp(text, "yes") || !strcasecmp(text, "on")) {
        *out = true;
        return true;
    }
    if (!strcasecmp(text, "false") || !strcasecmp(text, "no") || !strcasecmp(text, "off")) {
        *out = false;
        return true;
    }
    return false;
}

static bool
in_range(const struct nfs_option *o, uint64_t v, const char *text, const char *what,
         struct nfs_error *err)
{
    if (v >= o->min && v <= o->max)
        return true;
    nfs_error_set(err, "%s: %s \"%s\" is out of range [%" PRIu64 ", %" PRIu64 "]", o->name, what,
                  text, o->min, o->max);
    return false;
}

bool
nfs_option_parse(const struct nfs_option *o, void *conf, const char *text, struct nfs_error *err)
{
    uint8_t *dst = (uint8_t *)conf + o->offset;
    uint64_t v;
    bool b;

    switch (o->type) {
    case NFS_OPT_BOOL:
        if (!parse_bool(text, &b))
            break;
        memcpy(dst, &b, sizeof(b));
        return true;
    case NFS_OPT_UINT:
        if (!scaled(text, size_units, 1, &v))
            break;
        if (!in_range(o, v, text, "value", err))
            return false;
        memcpy(dst, &v, sizeof(v));
        return true;
    case NFS_OPT_DURATION:
        if (!scaled(text, duration_units, NFS_NITEMS(duration_units), &v))
            break;
        if (!in_range(o, v, text, "duration (ms)", err))
            return false;
        memcpy(dst, &v, sizeof(v));
        return true;
    case NFS_OPT_SIZE:
        if (!scaled(text, size_units, NFS_NITEMS(size_units), &v))
            break;
        if (!in_range(o, v, text, "size", err))
            return false;
        memcpy(dst, &v, sizeof(v));
        return true;
    case NFS_OPT_STRING:
    case NFS_OPT_PATH:
        if (strlen(text) >= o->max) {
            nfs_error_set(err, "%s: longer than %" PRIu64 " characters", o->name, o->max - 1);
            return false;
        }
        memcpy(dst, text, strlen(text) + 1);
        return true;
    }
    nfs_error_set(err, "%s: expected %s, got \"%s\"", o->name, nfs_option_expected(o), text);
    return false;
}

const char *
nfs_option_expected(const struct nfs_option *o)
{
    switch (o->type) {
    case NFS_OPT_BOOL:
        return "true or false";
    case NFS_OPT_UINT:
        return "a whole number";
    case NFS_OPT_DURATION:
        return "a duration such as 120s, 500ms, 30m, 1h";
    case NFS_OPT_SIZE:
        return "a size such as 4096, 512KiB, 64MiB, 1GiB";
    default:
        return "a string";
    }
}

bool
nfs_plugin_conf_defaults(const struct nfs_plugin *p, void *conf, struct nfs_error *err)
{
    struct nfs_error why;

    for (size_t i = 0; i < p->n_options; i++) {
        const struct nfs_option *o = &p->options[i];

        if (o->def == NULL)
            continue; /* required: the configuration checks it is given */
        if (!nfs_option_parse(o, conf, o->def, &why)) {
            nfs_error_set(err, "plugin %s: bad default: %s", p->name, why.msg);
            return false;
        }
    }
    return true;
}
