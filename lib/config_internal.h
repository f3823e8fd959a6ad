/*
 * config_internal.h: what the loader's files share (config.c walks the YAML tree and the
 * schema; config_plugins.c resolves plugins and their options). Not part of libnfsensor's API.
 */
#ifndef NFS_CONFIG_INTERNAL_H
#define NFS_CONFIG_INTERNAL_H

#include <yaml.h>

#include "config_schema.h"

/* One load in progress: the configuration being filled, where errors go, the YAML tree. */
struct nfs_config_loader {
    struct nfs_config *cfg;
    struct nfs_config_errors *errs;
    yaml_document_t doc;
    bool have_doc;
    yaml_node_t *plugins;                      /* the file's plugins: sequence, or NULL */
    const struct nfs_config_arg **plugin_args; /* --plugin overrides, replacing the file's */
    size_t n_plugin_args;
    size_t errors_before;            /* errs->n_total when the load began */
    bool plugin_ok[NFS_MAX_PLUGINS]; /* cfg->plugins[i] resolved and configured without error */
};

/* Appends "FILE:LINE:COLUMN: path: message" (or "OPTION: message") to the errors. */
void nfs_config_error(struct nfs_config_loader *L, const struct nfs_config_pos *pos,
                      const char *path, const char *fmt, ...) NFS_PRINTF(4, 5);

/* The position of a node, from 1. */
struct nfs_config_pos nfs_config_node_pos(const yaml_node_t *node);

yaml_node_t *nfs_config_node(struct nfs_config_loader *L, int id);

/* A node's kind for "got ...": "a mapping", "a list", or the scalar's text quoted. */
void nfs_config_got(const yaml_node_t *node, char *buf, size_t size);

/* A plain empty, ~ or null scalar. */
bool nfs_config_is_null(const yaml_node_t *node);

/* The scalar's text, or NULL (with an error naming path) when the node is not a scalar or holds
 * a NUL character. A null scalar gives "". */
const char *nfs_config_text(struct nfs_config_loader *L, const yaml_node_t *node, const char *path,
                            const char *expected);

/*
 * The key text of pair i of mapping map, or NULL after reporting why it cannot be used: not a
 * scalar, or the same as an earlier key of the mapping. shown is the mapping's path.
 */
const char *nfs_config_pair_key(struct nfs_config_loader *L, yaml_node_t *map, size_t i,
                                const char *shown);

/* Writes the hint for an unknown name: ", did you mean "x"?" when one of the candidates is
 * close, else " (expected one of: a, b, c)". */
void nfs_config_hint(const char *name, const char *const *candidates, size_t n, char *buf,
                     size_t size);

/* Resolves the plugins (the overrides if any, else the file's) into cfg->plugins. */
void nfs_config_plugins_load(struct nfs_config_loader *L);

/* Builds cfg->plugin_set (dpi first when enabled), reporting field clashes at each entry. */
void nfs_config_plugins_finish(struct nfs_config_loader *L);

#endif
