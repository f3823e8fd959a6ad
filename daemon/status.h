/*
 * status.h: what the live daemon (live.c) tells about its units: systemd's STATUS= line, the
 * SIGUSR1 statistics, the metrics snapshots (observe.c) and the watchdog's liveness check.
 *
 * Every figure comes from the workers' published snapshots (loss.h: one set of counters) plus
 * the retired units' totals, so STATUS=, SIGUSR1, /metrics and the IPFIX statistics records
 * agree; STATUS= and SIGUSR1 also hand each unit's figures to its exporter's statistics
 * records. Only the main thread calls these.
 */
#ifndef NFS_STATUS_H
#define NFS_STATUS_H

#include "observe.h"
#include "unit.h"

/* Sends STATUS= (interfaces capturing, packets, drops, active flows, records, why retrying). */
void nfs_status_notify(struct nfs_unit *const *units, size_t n, const struct nfs_retired *r);

/* SIGUSR1: the STATUS figures, every counter of every interface, every exporter's. */
void nfs_status_log(struct nfs_unit *const *units, size_t n, const struct nfs_retired *r);

/* Every unit's snapshots for the metrics; /health is unhealthy while an interface is retrying
 * its capture. */
void nfs_status_observe(struct nfs_unit *const *units, size_t n, struct nfs_observe *obs,
                        uint64_t now_ms);

/* True while every worker's heartbeat is younger than stale_ms; logs a stuck one once. */
bool nfs_status_alive(struct nfs_unit *const *units, size_t n, uint64_t stale_ms, bool *warned);

#endif
