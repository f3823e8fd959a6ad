/*
 * notify.h: the systemd notification protocol (sd_notify(3)), without libsystemd.
 *
 * The protocol is one datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Implementing it here is 60
 * lines and keeps the daemon free of a dependency that builds without systemd lack; it is also
 * what lets tests play systemd with a plain datagram socket. Without $NOTIFY_SOCKET every call
 * is a no-op.
 */
#ifndef NFS_NOTIFY_H
#define NFS_NOTIFY_H

#include "common.h"

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID, and opens the socket (before any
 * privilege is dropped). */
void nfs_notify_init(void);

/* Sends the state lines (printf format); false when there is no socket or sending failed. */
bool nfs_notify(const char *fmt, ...) NFS_PRINTF(1, 2);

/* The watchdog interval systemd asked for (WatchdogSec=), in microseconds; 0 when none or
 * when $WATCHDOG_PID names another process. */
uint64_t nfs_notify_watchdog_usec(void);

/* CLOCK_MONOTONIC in microseconds, for RELOADING=1's MONOTONIC_USEC=. */
uint64_t nfs_notify_monotonic_usec(void);

#endif
