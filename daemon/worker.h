/*
 * worker.h: one pipeline thread: a capture socket, its pipeline, its export queue.
 *
 * A worker owns its flow table, plugin state and capture handle; the only things it shares are
 * its export queue (its own, single producer) and a snapshot of its counters that it publishes
 * a few times a second under its own lock. The main thread talks to it through a mailbox and
 * an eventfd: swap the export queue (a reload with new collectors), new timeouts, stop.
 * The thread polls the capture with a timeout, so it ticks the pipeline's wall clock (idle flows
 * expire with no packets) and beats its heartbeat at least every WORKER_POLL_MS. A capture that
 * fails (the interface went down or disappeared) is closed and opened again with backoff; the
 * flows stay and keep expiring meanwhile.
 */
#ifndef NFS_WORKER_H
#define NFS_WORKER_H

#include "capture_live.h"
#include "counters.h"
#include "exporter.h"
#include "pipeline.h"

#define WORKER_POLL_MS  100
#define WORKER_DRAIN_MS 250 /* > the capture's 100 ms block timeout */

enum nfs_worker_state { NFS_WORKER_CAPTURING = 0, NFS_WORKER_RETRYING = 1 };

/* What a worker publishes; copied out with nfs_worker_snapshot. */
struct nfs_worker_snap {
    struct nfs_counters counters;
    uint64_t drops; /* kernel drops, over every capture socket the worker opened */
    uint64_t active_flows;
    uint64_t beat_ms; /* CLOCK_MONOTONIC of its last loop */
    enum nfs_worker_state state;
    char why[160]; /* while retrying: the last failure */
};

struct nfs_worker;

/*
 * Creates the pipeline (plugins set up) and opens the capture, in the calling thread (before
 * privileges are dropped). A capture that cannot be opened now is retried by the thread, except
 * a missing permission: NULL, with err, *fatal set. opt->interface and opt->bpf are copied.
 */
struct nfs_worker *nfs_worker_create(const struct nfs_live_options *opt,
                                     const struct nfs_pipeline_options *po, const char *label,
                                     bool *fatal, struct nfs_error *err);

/*
 * Starts the thread, exporting into q (a dropping queue). Frames stamped before from_us (wall
 * clock, µs; 0: none) are left to the worker this one replaces (see nfs_worker_stop).
 */
bool nfs_worker_start(struct nfs_worker *w, struct nfs_export_queue *q, uint64_t from_us,
                      struct nfs_error *err);

/* Makes the thread export into q from now on; returns once it does (the old queue is then
 * free of this producer). */
void nfs_worker_swap_queue(struct nfs_worker *w, struct nfs_export_queue *q);

/* The pipeline's idle, active and linger timeouts change (applied by the thread). */
void nfs_worker_set_timeouts(struct nfs_worker *w, const struct nfs_flow_options *flows);

/*
 * Asks the thread to stop. It first drains its ring for WORKER_DRAIN_MS (the kernel hands a
 * ring block over only when it is full or its timeout passed), metering only frames stamped
 * before until_us (0: all): a replacing worker, opened at until_us, meters the rest, so a
 * restart loses and doubles no packet. Then its queue turns blocking and every flow is flushed
 * into it.
 */
void nfs_worker_stop(struct nfs_worker *w, uint64_t until_us);

/* Waits for a stopped thread (its flows are then in its queue). Idempotent. */
void nfs_worker_join(struct nfs_worker *w);

/* Waits for a stopped thread and frees everything (also a worker never started). */
void nfs_worker_destroy(struct nfs_worker *w);

void nfs_worker_snapshot(struct nfs_worker *w, struct nfs_worker_snap *out);
const char *nfs_worker_label(const struct nfs_worker *w);

#endif
