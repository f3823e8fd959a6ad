/*
 * collector.h: one collector's transport (UDP, TCP or RFC 5655 files), inside the exporter.
 *
 * A collector takes encoded items (flow records, statistics records) from the export thread,
 * packs them into messages of its own size with its own framer, and sends them its own way:
 *   udp   sendto(2) on a non-blocking socket, never waiting; a refused message is counted.
 *         Templates are re-sent every template_refresh_s and every N messages.
 *   tcp   non-blocking connect and writes; templates first on every connection; messages wait
 *         in a bounded spool (spool.h) while the collector is away; reconnect with capped
 *         exponential backoff. A written message is retained until the collector provably
 *         consumed it: on a clean close (FIN) everything acknowledged was read; otherwise only
 *         what lies more than replay_bytes behind the acknowledged point is taken as read, and
 *         the rest is replayed on the next connection (at-least-once; see docs/collectors.md).
 *   file  NAME.tmp, renamed to NAME when finished; a new file (templates first) per rotation.
 * Everything runs on the export thread, except open (before the thread starts) and the
 * counters snapshot, which is read under a lock.
 */
#ifndef NFS_COLLECTOR_H
#define NFS_COLLECTOR_H

#include <poll.h>

#include "export_framer.h"
#include "exporter.h"

/* What every collector shares: the templates to announce and the domain. */
struct nfs_collector_env {
    uint32_t domain;
    uint32_t template_refresh_s;
    const struct nfs_ipfix_item *preamble; /* templates and RFC 5610 records, in order */
    size_t n_preamble;
    unsigned index; /* the collector's number, for spool file names */
    bool netflow9;  /* NetFlow v9 export packets instead of IPFIX messages (UDP only) */
};

struct nfs_collector;

/* Opens the transport (see nfs_exporter_add_collector for the failures). */
struct nfs_collector *nfs_collector_open(const struct nfs_collector_options *o,
                                         const struct nfs_collector_env *env,
                                         struct nfs_error *err);

/* Adds one item (a record) for this collector; now_ms is CLOCK_MONOTONIC. */
void nfs_collector_add(struct nfs_collector *c, const struct nfs_ipfix_item *item,
                       uint64_t now_ms);

/* Finishes the partial message now. */
void nfs_collector_flush(struct nfs_collector *c, uint64_t now_ms);

/* The socket to poll and its events; false when there is none. */
bool nfs_collector_pollfd(struct nfs_collector *c, struct pollfd *pfd);
void nfs_collector_io(struct nfs_collector *c, short revents, uint64_t now_ms);

/* Time-driven work (partial message age flush_ms, reconnects, rotation, acknowledgements);
 * returns the next time it wants to be called (ms, monotonic). */
uint64_t nfs_collector_timer(struct nfs_collector *c, uint64_t now_ms, uint32_t flush_ms);

/* Shutdown: true once the collector has everything it will get (TCP: confirmed by the
 * collector's close, or nothing left to try before the deadline). */
bool nfs_collector_drained(struct nfs_collector *c, uint64_t now_ms);

/* Gives up: what was not confirmed is counted undelivered. Closes files (renamed) and sockets;
 * the counters stay readable. False, err naming the target, when records were lost. */
bool nfs_collector_close(struct nfs_collector *c, struct nfs_error *err);
void nfs_collector_destroy(struct nfs_collector *c);

/* Snapshot of the counters (records and errors are filled by the exporter). Any thread;
 * nfs_collector_publish refreshes it from the export thread. */
void nfs_collector_get_stats(struct nfs_collector *c, struct nfs_exporter_stats *out);
void nfs_collector_publish(struct nfs_collector *c);

/* For the statistics records: messages, flow records and bytes sent, flows not sent. */
void nfs_collector_sent_totals(const struct nfs_collector *c, uint64_t *messages,
                               uint64_t *flows, uint64_t *bytes, uint64_t *not_sent,
                               uint64_t *not_sent_packets, uint64_t *not_sent_octets);

#endif
