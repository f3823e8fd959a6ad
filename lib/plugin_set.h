/*
 * plugin_set.h: the enabled plugins of a configuration, and running them in a pipeline.
 *
 * A set is part of a configuration: plugins in YAML order, each with its filled-in options,
 * and the layout that follows from them: where each plugin's per-flow state sits after the
 * flow, and where its values sit in an exported record. Adding a plugin checks that its fields
 * clash with nothing already there. A run is one pipeline's instance of a set: the contexts
 * setup returned, hooks called in order.
 */
#ifndef NFS_PLUGIN_SET_H
#define NFS_PLUGIN_SET_H

#include "plugin.h"

#define NFS_MAX_PLUGINS 32 /* bits of nfs_flow.plugins_done */

struct nfs_plugin_set;

struct nfs_plugin_set *nfs_plugin_set_create(void);
void nfs_plugin_set_destroy(struct nfs_plugin_set *s);

/*
 * Appends p with its conf (copied) and the shape that follows from it (p's shape hook, if it
 * has one). Fails when p is already in the set, the set is full, the shape hook refuses the
 * conf, or a field of p has the IPFIX element, IPFIX name or CSV column of a field already in
 * the set (the core's included); err says which.
 */
bool nfs_plugin_set_add(struct nfs_plugin_set *s, const struct nfs_plugin *p, const void *conf,
                        struct nfs_error *err);

size_t nfs_plugin_set_count(const struct nfs_plugin_set *s);
const struct nfs_plugin *nfs_plugin_set_plugin(const struct nfs_plugin_set *s, size_t i);

/* The field groups of a record: [0] the core, [1 + i] plugin i; count + 1 of them. */
const struct nfs_field_group *nfs_plugin_set_groups(const struct nfs_plugin_set *s);

/* Bytes of plugin state after each flow, and of plugin values after each core record. */
size_t nfs_plugin_set_state_size(const struct nfs_plugin_set *s);
size_t nfs_plugin_set_values_size(const struct nfs_plugin_set *s);

struct nfs_plugin_run;

/* Calls every plugin's setup; NULL and err (naming the plugin) when one fails. */
struct nfs_plugin_run *nfs_plugin_run_create(const struct nfs_plugin_set *s,
                                             const struct nfs_plugin_env *env,
                                             struct nfs_error *err);

/* Calls teardown of every plugin that was set up. NULL-safe. */
void nfs_plugin_run_destroy(struct nfs_plugin_run *r);

/*
 * Gives the packet just counted into flow to every plugin still interested (on_init for the
 * flow's first packet, on_update after). Returns true when one asked to end the flow now.
 */
bool nfs_plugin_run_packet(struct nfs_plugin_run *r, struct nfs_flow *flow,
                           const struct nfs_observation *obs);

/*
 * Lets every plugin fill its values for the ended flow into `values` (values_size bytes) and
 * points groups[1 + i] at plugin i's block; groups[0] is left to the caller (the core record).
 */
void nfs_plugin_run_expire(struct nfs_plugin_run *r, const struct nfs_flow *flow,
                           uint8_t *values, const void **groups);

#endif
