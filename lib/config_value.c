/*
 * config_value.c: one configuration value from its YAML text, and back to canonical text.
 *
 * The configuration's own keys and every plugin's options go through the same two functions,
 * so "120s" or "64MiB" means the same everywhere and errors read alike. The text itself is
 * parsed by nfs_option_parse() (options.c, shared with the plugin ABI); this file adds bounds
 * written in units ("from 1s to 365d", not in milliseconds), storage of any integer width, and
 * the canonical form the writer prints: durations in whole seconds when they are, sizes in the
 * largest binary unit that divides them, strings always double-quoted.
 */
#include <inttypes.h>
#include <stdio.h>

#include "config_schema.h"

/* A value's type, bounds and storage, whether it comes from a schema row or a plugin option. */
struct spec {
    enum nfs_config_type type;
    uint64_t min, max;
    size_t size; /* bytes of storage; strings: the array */
    const struct nfs_config_choice *choices;
    const char *expect; /* what a value looks like, when the type alone does not say */
};

static enum nfs_option_type
option_type(enum nfs_config_type t)
{
    switch (t) {
    case NFS_CT_BOOL:
        return NFS_OPT_BOOL;
    case NFS_CT_DURATION:
        return NFS_OPT_DURATION;
    case NFS_CT_SIZE:
        return NFS_OPT_SIZE;
    case NFS_CT_STRING:
        return NFS_OPT_STRING;
    case NFS_CT_PATH:
        return NFS_OPT_PATH;
    default:
        return NFS_OPT_UINT;
    }
}

static enum nfs_config_type
config_type(enum nfs_option_type t)
{
    switch (t) {
    case NFS_OPT_BOOL:
        return NFS_CT_BOOL;
    case NFS_OPT_DURATION:
        return NFS_CT_DURATION;
    case NFS_OPT_SIZE:
        return NFS_CT_SIZE;
    case NFS_OPT_STRING:
        return NFS_CT_STRING;
    case NFS_OPT_PATH:
        return NFS_CT_PATH;
    default:
        return NFS_CT_UINT;
    }
}

static struct spec
option_spec(const struct nfs_option *o)
{
    enum nfs_config_type t = config_type(o->type);
    bool text = t == NFS_CT_STRING || t == NFS_CT_PATH;

    return (struct spec){t,
                         text ? 0 : o->min,
                         text ? 0 : o->max,
                         text               ? (size_t)o->max
                         : t == NFS_CT_BOOL ? sizeof(bool)
                                            : 8,
                         NULL,
                         NULL};
}

static struct spec
key_spec(const struct nfs_config_key *k)
{
    return (struct spec){k->type, k->min, k->max, k->size, k->choices, k->expect};
}

/* Writes what a value of s looks like into buf; returns buf. */
static const char *
expected(const struct spec *s, char *buf, size_t size)
{
    struct nfs_option o = {.type = option_type(s->type)};
    size_t len;

    switch (s->type) {
    case NFS_CT_SECTION:
        snprintf(buf, size, "a mapping of keys");
        break;
    case NFS_CT_LIST:
        snprintf(buf, size, "a list of mappings");
        break;
    case NFS_CT_PATHS:
        snprintf(buf, size, "a list of paths");
        break;
    case NFS_CT_PLUGINS:
        snprintf(buf, size, "a list of plugin names or {name: NAME, option: value, ...}");
        break;
    case NFS_CT_CHOICE:
        len = (size_t)snprintf(buf, size, "one of");
        for (size_t i = 0; s->choices[i].name != NULL && len < size; i++)
            len +=
                (size_t)snprintf(buf + len, size - len, "%s %s", i ? "," : "", s->choices[i].name);
        break;
    case NFS_CT_PATH:
        snprintf(buf, size, "a path");
        break;
    default:
        snprintf(buf, size, "%s", nfs_option_expected(&o));
        break;
    }
    return buf;
}

const char *
nfs_config_expected(const struct nfs_config_key *k, char *buf, size_t size)
{
    struct spec s = key_spec(k);

    if (k->expect != NULL) {
        snprintf(buf, size, "%s", k->expect);
        return buf;
    }
    return expected(&s, buf, size);
}

static uint64_t
load_uint(const void *p, size_t size)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;

    switch (size) {
    case 1:
        return memcpy(&u8, p, 1), u8;
    case 2:
        return memcpy(&u16, p, 2), u16;
    case 4:
        return memcpy(&u32, p, 4), u32;
    default:
        return memcpy(&u64, p, 8), u64;
    }
}

static void
store_uint(void *p, size_t size, uint64_t v)
{
    uint8_t u8 = (uint8_t)v;
    uint16_t u16 = (uint16_t)v;
    uint32_t u32 = (uint32_t)v;

    switch (size) {
    case 1:
        memcpy(p, &u8, 1);
        break;
    case 2:
        memcpy(p, &u16, 2);
        break;
    case 4:
        memcpy(p, &u32, 4);
        break;
    default:
        memcpy(p, &v, 8);
        break;
    }
}

/* v in the largest unit of the list that divides it exactly (v == 0: the first unit). */
static void
format_units(uint64_t v, const char *const *names, const uint64_t *factors, size_t n, char *buf,
             size_t size)
{
    size_t best = 0;

    for (size_t i = 0; i < n; i++)
        if (v != 0 && v % factors[i] == 0)
            best = i;
    snprintf(buf, size, "%" PRIu64 "%s", v / factors[best], names[best]);
}

static const char *const duration_names[] = {"ms", "s", "m", "h", "d"};
static const uint64_t duration_factors[] = {1, 1000, 60000, 3600000, 86400000};
static const char *const size_names[] = {"", "KiB", "MiB", "GiB"};
static const uint64_t size_factors[] = {1, 1u << 10, 1u << 20, 1u << 30};

/* A bound as an operator reads it: 365d, 4GiB, 100000000. */
static void
format_bound(const struct spec *s, uint64_t v, char *buf, size_t size)
{
    if (s->type == NFS_CT_DURATION && v == 0)
        snprintf(buf, size, "0s");
    else if (s->type == NFS_CT_DURATION)
        format_units(v, duration_names, duration_factors, NFS_NITEMS(duration_names), buf, size);
    else if (s->type == NFS_CT_SIZE)
        format_units(v, size_names, size_factors, NFS_NITEMS(size_names), buf, size);
    else
        snprintf(buf, size, "%" PRIu64, v);
}

/* The type alone, for bounds: "a duration from 1s to 1d". */
static const char *
noun(const struct spec *s)
{
    return s->type == NFS_CT_DURATION ? "a duration"
           : s->type == NFS_CT_SIZE   ? "a size"
                                      : "a whole number";
}

static bool
parse(const struct spec *s, void *value, const char *text, char *why, size_t why_size)
{
    struct nfs_option o = {"", option_type(s->type), 0, 0, UINT64_MAX, NULL, NULL};
    char what[256], lo[32], hi[32];
    struct nfs_error err;
    union {
        uint64_t u;
        bool b;
    } tmp;

    if (s->expect != NULL)
        snprintf(what, sizeof(what), "%s", s->expect);
    else
        expected(s, what, sizeof(what));
    switch (s->type) {
    case NFS_CT_CHOICE:
        for (size_t i = 0; s->choices[i].name != NULL; i++) {
            if (strcmp(s->choices[i].name, text) == 0) {
                memcpy(value, &s->choices[i].value, sizeof(int));
                return true;
            }
        }
        break;
    case NFS_CT_STRING:
    case NFS_CT_PATH:
        if (strlen(text) >= s->size) {
            snprintf(why, why_size, "expected %s of at most %zu characters, got \"%.40s%s\"", what,
                     s->size - 1, text, strlen(text) > 40 ? "..." : "");
            return false;
        }
        memcpy(value, text, strlen(text) + 1);
        return true;
    case NFS_CT_BOOL:
        if (!nfs_option_parse(&o, &tmp.b, text, &err))
            break;
        memcpy(value, &tmp.b, sizeof(bool));
        return true;
    case NFS_CT_UINT:
    case NFS_CT_DURATION:
    case NFS_CT_SIZE:
        if (!nfs_option_parse(&o, &tmp.u, text, &err))
            break;
        if (tmp.u < s->min || tmp.u > s->max) {
            format_bound(s, s->min, lo, sizeof(lo));
            format_bound(s, s->max, hi, sizeof(hi));
            snprintf(why, why_size, "expected %s from %s to %s, got \"%s\"", noun(s), lo, hi, text);
            return false;
        }
        store_uint(value, s->size, tmp.u);
        return true;
    default:
        break;
    }
    snprintf(why, why_size, "expected %s, got \"%s\"", what, text);
    return false;
}

const char *
nfs_config_option_expected(const struct nfs_option *o, char *buf, size_t size)
{
    struct spec s = option_spec(o);

    return expected(&s, buf, size);
}

bool
nfs_config_parse_value(const struct nfs_config_key *k, void *value, const char *text, char *why,
                       size_t why_size)
{
    struct spec s = key_spec(k);
    char what[256];

    if (!parse(&s, value, text, why, why_size))
        return false;
    if (k->check != NULL && !k->check(text, what, sizeof(what))) {
        snprintf(why, why_size, "expected %s, got \"%s\"", what, text);
        return false;
    }
    return true;
}

bool
nfs_config_parse_option(const struct nfs_option *o, void *conf, const char *text, char *why,
                        size_t why_size)
{
    struct spec s = option_spec(o);

    return parse(&s, (char *)conf + o->offset, text, why, why_size);
}

void
nfs_config_quote(const char *s, char *buf, size_t size)
{
    size_t n = 0;

    if (size < 3) {
        if (size)
            buf[0] = '\0';
        return;
    }
    buf[n++] = '"';
    for (; *s && n + 6 < size; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\') {
            n += (size_t)snprintf(buf + n, size - n, "\\%c", c);
        } else if (c == 0xC2 && (unsigned char)s[1] == 0x85) {
            n += (size_t)snprintf(buf + n, size - n, "\\N"); /* YAML line breaks: escaped */
            s++;
        } else if (c == 0xE2 && (unsigned char)s[1] == 0x80 &&
                   ((unsigned char)s[2] == 0xA8 || (unsigned char)s[2] == 0xA9)) {
            n += (size_t)snprintf(buf + n, size - n, "\\%c", s[2] == (char)0xA8 ? 'L' : 'P');
            s += 2;
        } else if (c < 0x20 || c == 0x7f)
            n += (size_t)snprintf(buf + n, size - n, "\\x%02x", c);
        else
            buf[n++] = (char)c;
    }
    buf[n++] = '"';
    buf[n] = '\0';
}

static void
format(const struct spec *s, const void *value, char *buf, size_t size)
{
    bool b;
    int v;

    switch (s->type) {
    case NFS_CT_BOOL:
        memcpy(&b, value, sizeof(b));
        snprintf(buf, size, "%s", b ? "true" : "false");
        return;
    case NFS_CT_CHOICE:
        memcpy(&v, value, sizeof(v));
        for (size_t i = 0; s->choices[i].name != NULL; i++) {
            if (s->choices[i].value == v) {
                snprintf(buf, size, "%s", s->choices[i].name);
                return;
            }
        }
        snprintf(buf, size, "%d", v);
        return;
    case NFS_CT_DURATION: /* whole seconds when they are: timeouts read as NFStream's */
        if (load_uint(value, s->size) == 0)
            snprintf(buf, size, "0s");
        else
            format_units(load_uint(value, s->size), duration_names, duration_factors, 2, buf, size);
        return;
    case NFS_CT_SIZE:
        format_units(load_uint(value, s->size), size_names, size_factors, NFS_NITEMS(size_names),
                     buf, size);
        return;
    case NFS_CT_STRING:
    case NFS_CT_PATH:
        nfs_config_quote(value, buf, size);
        return;
    default:
        snprintf(buf, size, "%" PRIu64, load_uint(value, s->size));
        return;
    }
}

void
nfs_config_format_value(const struct nfs_config_key *k, const void *value, char *buf, size_t size)
{
    struct spec s = key_spec(k);

    format(&s, value, buf, size);
}

void
nfs_config_format_option(const struct nfs_option *o, const void *conf, char *buf, size_t size)
{
    struct spec s = option_spec(o);

    format(&s, (const char *)conf + o->offset, buf, size);
}

static void
describe(const struct spec *s, char *buf, size_t size)
{
    char what[256], lo[32], hi[32];

    expected(s, what, sizeof(what));
    switch (s->type) {
    case NFS_CT_UINT:
    case NFS_CT_DURATION:
    case NFS_CT_SIZE:
        format_bound(s, s->min, lo, sizeof(lo));
        format_bound(s, s->max, hi, sizeof(hi));
        snprintf(buf, size, "%s from %s to %s", noun(s), lo, hi);
        return;
    case NFS_CT_LIST:
    case NFS_CT_PATHS:
    case NFS_CT_PLUGINS:
        snprintf(buf, size, "%s (at most %" PRIu64 ")", what, s->max);
        return;
    case NFS_CT_STRING:
    case NFS_CT_PATH:
        snprintf(buf, size, "%s of at most %zu characters", what, s->size - 1);
        return;
    default:
        snprintf(buf, size, "%s", what);
        return;
    }
}

void
nfs_config_describe(const struct nfs_config_key *k, char *buf, size_t size)
{
    struct spec s = key_spec(k);

    if (k->expect != NULL && (k->type == NFS_CT_STRING || k->type == NFS_CT_PATH))
        snprintf(buf, size, "%s (at most %zu characters)", k->expect, k->size - 1);
    else
        describe(&s, buf, size);
}

void
nfs_config_describe_option(const struct nfs_option *o, char *buf, size_t size)
{
    struct spec s = option_spec(o);

    describe(&s, buf, size);
}
