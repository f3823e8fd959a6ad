/*
 * plugin.h: the plugin ABI. A plugin is one value, a struct nfs_plugin.
 *
 * A plugin declares its options (parsed and checked by the configuration, never by the plugin),
 * the fields it exports (a field table like the core's, whose offsets point into the plugin's
 * own values block of each record), and the per-flow state it needs (kept in the flow's slot
 * of the flow table, never malloc'd per flow). When the fields or sizes follow from the
 * options (splt's packet count and encoding), the optional `shape` hook gives them for the
 * filled-in options when the plugin joins a set; otherwise the static ones hold.
 * Hooks run on the pipeline's thread:
 *   setup     once per pipeline, with the filled-in options; returns the plugin's context
 *   on_init   on a flow's first packet          } return NFS_CONTINUE, NFS_DONE (no more
 *   on_update on every later packet             }   on_update for this flow) or NFS_EXPIRE
 *   on_expire when the flow ends: fills the plugin's values block of the record
 *   teardown  once, when the pipeline stops
 * Built-in plugins are listed in plugin.c; external ones are .so files exporting one symbol,
 * `nfs_plugin_entry`, of this type, loaded from the configured plugin directory only.
 * docs/plugins.md is the guide.
 */
#ifndef NFS_PLUGIN_H
#define NFS_PLUGIN_H

#include "common.h"
#include "decode.h"
#include "fields.h"
#include "flow.h"

#define NFS_PLUGIN_ABI 2 /* 2: the shape hook */

enum nfs_verdict {
    NFS_CONTINUE = 0, /* call on_update for the next packet too */
    NFS_DONE = 1,     /* this flow needs no more on_update calls */
    NFS_EXPIRE = 2,   /* end the flow now, after this packet (NFStream's expiration_id -1) */
};

enum nfs_option_type {
    NFS_OPT_BOOL,     /* bool */
    NFS_OPT_UINT,     /* uint64_t, within [min, max] */
    NFS_OPT_DURATION, /* uint64_t milliseconds; written "120s", "500ms", "2m", "1h" */
    NFS_OPT_SIZE,     /* uint64_t bytes; written "64MiB", "512KiB", "1GiB", "4096" */
    NFS_OPT_STRING,   /* char[max]: max is the array size, NUL included */
    NFS_OPT_PATH,     /* like STRING, a file path */
};

/* One option: name in YAML, type, where it goes in the plugin's conf struct, bounds, default. */
struct nfs_option {
    const char *name;
    enum nfs_option_type type;
    size_t offset;
    uint64_t min, max;
    const char *def; /* default as it would be written in YAML; NULL: required */
    const char *help;
};

#define NFS_OPTION_AT(type, member) offsetof(type, member)

/* What setup learns of the pipeline. */
struct nfs_plugin_env {
    const struct nfs_flow_options *flows;
    unsigned pipeline_index;
};

/*
 * What a plugin adds under one configuration: its fields, the bytes of its values block in a
 * record and of its state in each flow. `owned` is memory the shape refers to and the plugin
 * set frees with free() when it is destroyed (a field table built for the options, names
 * included, as one malloc'd block), or NULL.
 */
struct nfs_plugin_shape {
    const struct nfs_field *fields;
    size_t n_fields;
    size_t values_size;
    size_t flow_state_size;
    void *owned;
};

struct nfs_plugin {
    const char *name;
    unsigned abi;     /* NFS_PLUGIN_ABI */
    size_t size;      /* sizeof(struct nfs_plugin) the plugin was built with */
    const char *description;
    const struct nfs_option *options;
    size_t n_options;
    size_t conf_size; /* the options struct, zeroed then filled from defaults and YAML */
    const struct nfs_field *fields; /* offsets into the plugin's values block */
    size_t n_fields;
    size_t values_size;     /* bytes of the values block on_expire fills */
    size_t flow_state_size; /* bytes of per-flow state, zeroed when a flow starts */
    /*
     * Optional: the shape for this conf, when it depends on the options. *shape arrives holding
     * the static fields, n_fields, values_size and flow_state_size above; the hook may replace
     * any of them. False, with err, rejects options that do not go together: a configuration
     * error, before capture starts. setup gets the same conf, so the hooks know the sizes.
     */
    bool (*shape)(const void *conf, struct nfs_plugin_shape *shape, struct nfs_error *err);
    bool (*setup)(void **ctx, const void *conf, const struct nfs_plugin_env *env,
                  struct nfs_error *err);
    enum nfs_verdict (*on_init)(void *ctx, void *state, const struct nfs_flow *flow,
                                const struct nfs_observation *obs);
    enum nfs_verdict (*on_update)(void *ctx, void *state, const struct nfs_flow *flow,
                                  const struct nfs_observation *obs);
    void (*on_expire)(void *ctx, void *state, const struct nfs_flow *flow, void *values);
    void (*teardown)(void *ctx);
};

/* The built-in plugins, NULL-terminated. */
extern const struct nfs_plugin *const nfs_builtin_plugins[];

/* The built-in plugin of that name, or NULL. */
const struct nfs_plugin *nfs_plugin_find(const char *name);

/*
 * Loads an external plugin from dir/name.so. Refuses a file that is group- or world-writable,
 * an ABI or size mismatch, or a missing entry symbol; err names the file.
 */
const struct nfs_plugin *nfs_plugin_load(const char *dir, const char *name,
                                         struct nfs_error *err);

/* Sets conf's option `o` from its YAML text; false and err (what was expected) otherwise. */
bool nfs_option_parse(const struct nfs_option *o, void *conf, const char *text,
                      struct nfs_error *err);

/* What a value of this option looks like, for error messages ("a duration such as 120s"). */
const char *nfs_option_expected(const struct nfs_option *o);

/* Fills conf with every option's default (required ones stay zero); false on a bad default. */
bool nfs_plugin_conf_defaults(const struct nfs_plugin *p, void *conf, struct nfs_error *err);

#endif
