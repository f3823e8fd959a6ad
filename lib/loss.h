/*
 * loss.h: the identities that make every packet and flow record accounted for
 * (docs/counters.md), checked on one snapshot of an interface and of a collector.
 *
 *   capture:   kernel.seen = kernel.dropped + ring.waiting + ring.discarded + capture.packets
 *   decode:    capture.packets = decode.processed + the ignored reasons (nfs_counters_ignored)
 *   flows:     flows.created = flows.exported + flows.dropped.queue_full + flows.active
 *   collector: taken = delivered + waiting + spool_full + send_errors + undelivered
 *
 * A snapshot is one pipeline's counters published between two batches (or their sum over the
 * pipelines of an interface), and one collector's statistics published by the export thread:
 * each identity holds exactly in every such copy. The metrics, STATUS=, SIGUSR1 and the IPFIX
 * statistics records are all read from these snapshots.
 */
#ifndef NFS_LOSS_H
#define NFS_LOSS_H

#include "counters.h"
#include "exporter.h"

/* True when the three interface identities hold; otherwise false with the first one that does
 * not, with its figures, in why. */
bool nfs_loss_check_interface(const struct nfs_counters *c, char *why, size_t size);

/* The collector identity. */
bool nfs_loss_check_collector(const struct nfs_exporter_stats *s, char *why, size_t size);

/* For a file input (no kernel stage): seen = read, nothing dropped or waiting; the export
 * figures and the open flows from the offline run. */
void nfs_loss_file_input(struct nfs_counters *c, uint64_t exported, uint64_t active);

#endif
