/*
 * export_queue.h: the bounded ring that carries ended flows from one pipeline to the export
 * thread.
 *
 * One queue per producer thread (single producer, single consumer): the pipeline copies the
 * record's value blocks into a slot and goes on; the export thread encodes them later. The
 * producer never takes a lock on the fast path. When the ring is full a dropping queue counts
 * the record (exporter.queue_full) and returns at once, so capture never waits for export; a
 * blocking queue (offline runs, the final flush at shutdown) waits for a free slot instead, so
 * nothing is lost.
 * The consumer sleeps in poll(2) on an eventfd (struct nfs_export_wake). While records flow
 * it naps (NFS_EXPORT_IDLE_MS at most) and a producer rings only when its ring is an eighth
 * full, so the packet path makes no syscall; after a quiet spell it sleeps deeply (until its
 * next timer) and the first record rings.
 */
#ifndef NFS_EXPORT_QUEUE_H
#define NFS_EXPORT_QUEUE_H

#include <pthread.h>
#include <stdatomic.h>

#include "common.h"

#define NFS_EXPORT_IDLE_MS 10 /* while napping, the consumer looks at the queues this often */
#define NFS_WAKE_NAP       1
#define NFS_WAKE_DEEP      2

/* The consumer's doorbell, shared by every queue of one exporter. */
struct nfs_export_wake {
    int fd;                 /* eventfd, read by the consumer */
    atomic_int sleeping;    /* 0 awake; NFS_WAKE_NAP or NFS_WAKE_DEEP while it polls */
};

/* Producer-side counters: written by the producer only, read by anyone. */
struct nfs_export_queue_counters {
    uint64_t pushed;       /* records accepted */
    uint64_t dropped;      /* records refused because the ring was full (exporter.queue_full) */
    uint64_t dropped_packets, dropped_octets; /* the packets and IP octets of those flows */
    uint64_t waits;        /* times a blocking push waited for a free slot */
};

struct nfs_export_queue;

/* A ring of `slots` (rounded up to a power of two) slots of slot_size bytes. NULL when out of
 * memory. wake must outlive the queue. */
struct nfs_export_queue *nfs_export_queue_create(size_t slots, size_t slot_size, bool blocking,
                                                 struct nfs_export_wake *wake);
void nfs_export_queue_destroy(struct nfs_export_queue *q);

/* Switches between dropping (live capture) and blocking (offline, final flush). Any thread. */
void nfs_export_queue_set_blocking(struct nfs_export_queue *q, bool blocking);

/*
 * Producer: a free slot to fill, or NULL when the ring is full and the queue drops (the caller
 * then reports the drop with nfs_export_queue_drop). A blocking queue waits for a slot.
 * nfs_export_queue_commit publishes the slot returned by the last reserve.
 */
void *nfs_export_queue_reserve(struct nfs_export_queue *q);
void nfs_export_queue_commit(struct nfs_export_queue *q);
void nfs_export_queue_drop(struct nfs_export_queue *q, uint64_t packets, uint64_t octets);

/* Consumer: the oldest filled slot, or NULL when empty; release frees it. */
void *nfs_export_queue_peek(struct nfs_export_queue *q);
void nfs_export_queue_release(struct nfs_export_queue *q);
bool nfs_export_queue_empty(const struct nfs_export_queue *q);

size_t nfs_export_queue_slot_size(const struct nfs_export_queue *q);

/* The owner's pointer (the exporter), set once before the queue is used. */
void nfs_export_queue_set_context(struct nfs_export_queue *q, void *ctx);
void *nfs_export_queue_context(const struct nfs_export_queue *q);
void nfs_export_queue_counters(const struct nfs_export_queue *q,
                               struct nfs_export_queue_counters *out);

/* Consumer: about to sleep, how (NFS_WAKE_NAP, NFS_WAKE_DEEP) / awake again. */
void nfs_export_wake_sleep(struct nfs_export_wake *w, int how);
void nfs_export_wake_awake(struct nfs_export_wake *w);
/* Anyone: wakes the consumer if it sleeps (always when force). */
void nfs_export_wake_ring(struct nfs_export_wake *w, bool force);

#endif
