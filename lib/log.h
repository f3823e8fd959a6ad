/*
 * log.h: the daemon's logging, journald-friendly.
 *
 * When stderr is the journal (JOURNAL_STREAM matches it) each line starts with the sd-daemon
 * priority prefix "<N>", so journald files it at the right level; otherwise lines are plain.
 * Only the caller that can act on an error logs it, once.
 */
#ifndef NFS_LOG_H
#define NFS_LOG_H

#include "common.h"

enum nfs_log_level { NFS_LOG_ERR = 3, NFS_LOG_WARNING = 4, NFS_LOG_INFO = 6, NFS_LOG_DEBUG = 7 };

void nfs_log_init(const char *progname, enum nfs_log_level max_level);
void nfs_log(enum nfs_log_level level, const char *fmt, ...) NFS_PRINTF(2, 3);

#define nfs_log_err(...)   nfs_log(NFS_LOG_ERR, __VA_ARGS__)
#define nfs_log_warn(...)  nfs_log(NFS_LOG_WARNING, __VA_ARGS__)
#define nfs_log_info(...)  nfs_log(NFS_LOG_INFO, __VA_ARGS__)
#define nfs_log_debug(...) nfs_log(NFS_LOG_DEBUG, __VA_ARGS__)

#endif
