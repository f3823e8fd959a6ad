/*
 * cli.h: nfsensord's command line, as a configuration file and overrides of its keys.
 *
 * Every flag that sets something is an override of a configuration key (struct nfs_config_arg),
 * checked by the same schema as the file and reported the same way: `--idle-timeout 60` is
 * flows.idle_timeout: 60s, `--read` replaces inputs:, `--collector` and `--write` replace
 * collectors:, `--plugin` replaces plugins:. The rest says what to do.
 */
#ifndef NFS_CLI_H
#define NFS_CLI_H

#include "config.h"

#define NFS_EX_USAGE 64 /* sysexits(3) */

enum nfs_cli_action {
    NFS_CLI_RUN = 0,
    NFS_CLI_CHECK,            /* --check-config */
    NFS_CLI_LIST_FIELDS,      /* --list-fields */
    NFS_CLI_LIST_PLUGINS,     /* --list-plugins */
    NFS_CLI_CONFIG_REFERENCE, /* --config-reference */
    NFS_CLI_VERSION,
    NFS_CLI_HELP,
};

struct nfs_cli {
    enum nfs_cli_action action;
    const char *config_path; /* --config; NULL: none */
    bool verbose;            /* -v */
    const char *bpf;         /* --bpf: filter of the files read */
    struct nfs_config_arg *args;
    size_t n_args;
    char **owned; /* strings the args point to (--set KEY=VALUE, converted values) */
    size_t n_owned;
};

/* Parses argv into cli. Returns 0, or NFS_EX_USAGE after printing what is wrong. */
int nfs_cli_parse(struct nfs_cli *cli, int argc, char **argv);

/* Frees what nfs_cli_parse allocated; the configuration's positions point into it. */
void nfs_cli_free(struct nfs_cli *cli);

void nfs_cli_usage(FILE *fp);

#endif
