/*
 * config_schema.h: the shape of the configuration, as a table (private to config*.c and tests).
 *
 * One row per key: its dotted path, type, where its value goes (offsetof into struct nfs_config,
 * or into a list's element for "list[].key" rows), bounds, default as written in YAML, whether a
 * reload applies it, and one line of help. The loader, the canonical writer, the reference in
 * docs/config.md and the tests all read this table; no other list of keys exists.
 */
#ifndef NFS_CONFIG_SCHEMA_H
#define NFS_CONFIG_SCHEMA_H

#include "config.h"
#include "plugin.h"

enum nfs_config_type {
    NFS_CT_SECTION,  /* a mapping of the rows "path.key" */
    NFS_CT_LIST,     /* a sequence of mappings of the rows "path[].key" */
    NFS_CT_PATHS,    /* a sequence of paths (char **, count at count_offset) */
    NFS_CT_PLUGINS,  /* names, or mappings of name and the plugin's options */
    NFS_CT_CHOICE,   /* one of choices[], stored as an int */
    NFS_CT_BOOL,     /* bool */
    NFS_CT_UINT,     /* an unsigned integer of `size` bytes */
    NFS_CT_DURATION, /* uint64_t milliseconds, written 120s, 500ms, 30m, 1h, 1d */
    NFS_CT_SIZE,     /* an unsigned integer of `size` bytes, written 4096, 512KiB, 64MiB */
    NFS_CT_STRING,   /* char[size] */
    NFS_CT_PATH,     /* char[size], a file or directory */
};

enum nfs_config_flags {
    NFS_CK_RELOAD = 1u << 0,   /* a reload (SIGHUP) applies a change without a restart */
    NFS_CK_REQUIRED = 1u << 1, /* must be given (and not empty) */
    NFS_CK_PROFILE = 1u << 2,  /* the default comes from the profile (flow.c), not from def */
};

struct nfs_config_choice {
    const char *name;
    int value;
};

struct nfs_config_key {
    enum nfs_config_type type;
    const char *path;
    size_t offset, size; /* of the value; LIST and PATHS: of the array */
    uint64_t min, max;   /* numbers: bounds; LIST and PATHS: item count bounds */
    const char *def;     /* as written in YAML; NULL with REQUIRED, PROFILE or for containers */
    unsigned flags;      /* enum nfs_config_flags */
    const char *help;
    const struct nfs_config_choice *choices; /* CHOICE: terminated by a NULL name */
    const char *expect; /* what a value looks like, when the type alone does not say */
    /* Extra check of a scalar's text, after its type: false with what was expected in why. */
    bool (*check)(const char *text, char *why, size_t why_size);
    /* LIST: element size, where its struct nfs_config_pos is, and a check of a whole element.
     * LIST and PATHS: where the item count (size_t) is. */
    size_t elem_size, pos_offset, count_offset;
    bool (*check_elem)(const void *elem, char *why, size_t why_size);
    /* Whether the writer prints this key of this element (NULL: always). */
    bool (*shown)(const void *elem);
};

/* What collectors[].fields may hold: group names, commas and spaces. */
#define NFS_CONFIG_FIELDS_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-, "

extern const struct nfs_config_key nfs_config_keys[];
extern const size_t nfs_config_keys_count;

/* The row of that path ("flows.idle_timeout", "interfaces[].bpf"), or NULL. */
const struct nfs_config_key *nfs_config_key_find(const char *path);

/* The part of the row's path after its parent: "idle_timeout" for "flows.idle_timeout". */
const char *nfs_config_key_name(const struct nfs_config_key *k);

/* True when k sits directly under the container `parent` ("" for the top level). */
bool nfs_config_key_in(const struct nfs_config_key *k, const char *parent);

/* Fills cfg (zeroed by the caller) with the defaults of every key for the profile. */
void nfs_config_defaults(struct nfs_config *cfg, enum nfs_profile profile);

/* Fills one list element (zeroed by the caller) with the defaults of the list's keys. */
void nfs_config_elem_defaults(const struct nfs_config_key *list, void *elem);

/* Where row k's value is, in cfg or in a list element. */
static inline void *
nfs_config_at(const struct nfs_config_key *k, void *base)
{
    return (char *)base + k->offset;
}

/* What a value of row k looks like, for errors and the reference ("a duration such as 120s"). */
const char *nfs_config_expected(const struct nfs_config_key *k, char *buf, size_t size);

/*
 * Parses text as row k's value into `value` (the row's own storage). False with the reason in
 * why: "expected ..., got "..."" or a range message; the caller adds the position and path.
 */
bool nfs_config_parse_value(const struct nfs_config_key *k, void *value, const char *text,
                            char *why, size_t why_size);

/* Writes row k's value (at `value`) as canonical YAML text: true, 120s, 64MiB, "eth0", udp. */
void nfs_config_format_value(const struct nfs_config_key *k, const void *value, char *buf,
                             size_t size);

/* The same two for a plugin's option. */
bool nfs_config_parse_option(const struct nfs_option *o, void *conf, const char *text, char *why,
                             size_t why_size);
void nfs_config_format_option(const struct nfs_option *o, const void *conf, char *buf, size_t size);

/* What a value of a plugin's option looks like ("a path"); returns buf. */
const char *nfs_config_option_expected(const struct nfs_option *o, char *buf, size_t size);

/* The type and bounds of row k or option o in words: "a duration from 0s to 365d". */
void nfs_config_describe(const struct nfs_config_key *k, char *buf, size_t size);
void nfs_config_describe_option(const struct nfs_option *o, char *buf, size_t size);

/* Writes s as a double-quoted YAML string into buf. */
void nfs_config_quote(const char *s, char *buf, size_t size);

#endif
