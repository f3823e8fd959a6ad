/*
 * live.h: the daemon proper: live capture on the configuration's interfaces until SIGTERM.
 */
#ifndef NFS_LIVE_H
#define NFS_LIVE_H

#include "cli.h"
#include "config.h"

/*
 * Checks what live capture needs beyond the schema (collectors to export to, no CSV, no
 * standard output shared by several interfaces); logs each problem. Used at start and reload.
 */
bool nfs_live_check(const struct nfs_config *cfg);

/*
 * Runs the daemon (DESIGN.md §8; docs/nfsensord.8): takes ownership of cfg. Returns the exit
 * code: 0 after SIGTERM/SIGINT with every flow flushed, 1 when it could not start.
 */
int nfs_live_run(struct nfs_config *cfg, const struct nfs_cli *cli);

#endif
