/*
 * offline.h: an offline run: the configuration's input files through one pipeline into its
 * outputs (IPFIX collectors and files, CSV).
 */
#ifndef NFS_OFFLINE_H
#define NFS_OFFLINE_H

#include "config.h"

/*
 * Reads cfg's inputs in order as one stream (bpf: a filter for them, or NULL), flushes every
 * flow at the end. Returns 0, or 1 when an input was unreadable or corrupt or an output failed
 * (every flow built before the failure is still exported); the failure is logged.
 */
int nfs_offline_run(const struct nfs_config *cfg, const char *bpf);

#endif
