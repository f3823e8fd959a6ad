/*
 * spool.h: the messages one TCP collector has not confirmed yet, bounded in bytes.
 *
 * A FIFO of finished IPFIX messages in two parts: pending (not written to the connection yet:
 * in memory, then spilled to files in an optional disk spool once the memory bound is reached)
 * and retained (written, but not yet known to be consumed by the collector: replayed after a
 * reconnect). The memory bound covers both parts. Order is kept: once anything is on disk, new
 * messages go to disk too. A message that fits nowhere is refused whole, and the caller counts
 * its flows as dropped (exporter.spool_full): nothing else is ever dropped.
 * The disk spool extends the memory bound during an outage; it is not a journal and does not
 * survive a restart (its files are removed when the spool is destroyed).
 * Owned by the export thread; no locks.
 */
#ifndef NFS_SPOOL_H
#define NFS_SPOOL_H

#include "common.h"
#include "export_framer.h"

struct nfs_spool_msg {
    struct nfs_spool_msg *next;
    uint64_t end; /* retained: stream offset just after the message on its connection */
    uint32_t len, records, flows;
    uint64_t packets, octets;
    uint8_t data[];
};

struct nfs_spool_options {
    uint64_t mem_bytes;  /* bound of pending + retained messages in memory */
    const char *dir;     /* NULL: no disk spool */
    uint64_t disk_bytes; /* bound of the disk spool */
    const char *tag;     /* file name prefix in dir, unique per collector and process */
};

/* One part's content. */
struct nfs_spool_level {
    uint64_t msgs, flows, bytes;
};

struct nfs_spool_stats {
    struct nfs_spool_level pending_mem, pending_disk, retained;
    uint64_t spilled_msgs; /* messages ever written to disk */
    uint64_t disk_errors;
};

struct nfs_spool;

struct nfs_spool *nfs_spool_create(const struct nfs_spool_options *o, struct nfs_error *err);
/* Frees every message and removes the disk spool's files. NULL-safe. */
void nfs_spool_destroy(struct nfs_spool *sp);

/* Appends a copy of m to pending. False when it fits neither in memory nor on disk; force
 * (statistics records, which carry no flow) ignores the memory bound instead. */
bool nfs_spool_push(struct nfs_spool *sp, const struct nfs_ipfix_msg *m, bool force);

/* The oldest pending message (read back from disk when the memory part is empty), still owned
 * by the spool; NULL when nothing is pending. */
struct nfs_spool_msg *nfs_spool_next(struct nfs_spool *sp);

/* The message next() returned has been written; it is retained until released. */
void nfs_spool_sent(struct nfs_spool *sp, uint64_t end);

/* Frees the retained messages whose end <= confirmed (known consumed); adds their flows to
 * *flows. */
void nfs_spool_release(struct nfs_spool *sp, uint64_t confirmed, uint64_t *flows);

/* The connection is gone: retained messages go back to the front of pending, in order; adds
 * their flows to *flows. */
void nfs_spool_rewind(struct nfs_spool *sp, uint64_t *flows);

/* Empties the spool (messages that will never be sent); adds their flows and packets. */
void nfs_spool_clear(struct nfs_spool *sp, uint64_t *flows, uint64_t *packets,
                     uint64_t *octets);

bool nfs_spool_empty(const struct nfs_spool *sp);
bool nfs_spool_has_pending(const struct nfs_spool *sp);
void nfs_spool_get_stats(const struct nfs_spool *sp, struct nfs_spool_stats *out);

#endif
