/*
 * counters.h: every reason a packet or flow is counted, skipped, dropped or cut, declared once.
 *
 * The X-macro list yields the enum (NFS_C_*) and the dotted names that STATUS=, the statistics
 * output and the tests use. A pipeline owns one struct nfs_counters and increments it without
 * locks; readers copy it. The last eight are filled in by a pipeline's owner: what its export
 * queue took or refused, the flows open now, and the capture socket's kernel figures (a
 * live worker, a snapshot taken between two batches so that the identities of docs/counters.md
 * hold in every copy). capture.handover is an ignored reason too (a frame a restart left to
 * the other pipeline).
 */
#ifndef NFS_COUNTERS_H
#define NFS_COUNTERS_H

#include "common.h"

#define NFS_COUNTER_LIST(X)                                                                        \
    X(PACKETS, "capture.packets")                                                                  \
    X(BYTES, "capture.bytes")                                                                      \
    X(PROCESSED, "decode.processed")                                                               \
    X(LINK_UNSUPPORTED, "decode.link.unsupported")                                                 \
    X(LINK_TRUNCATED, "decode.link.truncated")                                                     \
    X(LINK_STP, "decode.link.stp")                                                                 \
    X(LINK_BAD_FCS, "decode.link.bad_fcs")                                                         \
    X(L2_NOT_DATA, "decode.link.not_data")                                                         \
    X(VLAN_TRUNCATED, "decode.vlan.truncated")                                                     \
    X(MPLS_TRUNCATED, "decode.mpls.truncated")                                                     \
    X(IP_TRUNCATED, "decode.ip.truncated")                                                         \
    X(IP_VERSION, "decode.ip.bad_version")                                                         \
    X(IPV4_BAD_HEADER, "decode.ipv4.bad_header")                                                   \
    X(IPV4_BAD_LENGTH, "decode.ipv4.bad_total_length")                                             \
    X(IPV4_FRAGMENT, "decode.ipv4.non_first_fragment")                                             \
    X(IPV6_TRUNCATED, "decode.ipv6.truncated")                                                     \
    X(IPV6_EXT_HEADER, "decode.ipv6.ext_header")                                                   \
    X(IPV6_NO_NEXT, "decode.ipv6.no_next_header")                                                  \
    X(IPV6_FRAGMENT, "decode.ipv6.non_first_fragment")                                             \
    X(TUNNEL_TRUNCATED, "decode.tunnel.truncated")                                                 \
    X(TUNNEL_DEPTH, "decode.tunnel.too_deep")                                                      \
    X(HANDOVER, "capture.handover")                                                                \
    X(FLOWS_CREATED, "flows.created")                                                              \
    X(FLOWS_IDLE, "flows.expired.idle")                                                            \
    X(FLOWS_ACTIVE, "flows.expired.active")                                                        \
    X(FLOWS_TCP_END, "flows.expired.tcp_end")                                                      \
    X(FLOWS_EVICTED, "flows.expired.evicted")                                                      \
    X(FLOWS_FLUSHED, "flows.expired.flushed")                                                      \
    X(FLOWS_PLUGIN, "flows.expired.plugin")                                                      \
    X(FLOWS_EXPORTED, "flows.exported")                                                            \
    X(FLOWS_QUEUE_FULL, "flows.dropped.queue_full")                                                \
    X(FLOWS_OPEN, "flows.active")                                                                  \
    X(KERNEL_SEEN, "capture.kernel.seen")                                                          \
    X(KERNEL_DROPPED, "capture.kernel.dropped")                                                    \
    X(RING_WAITING, "capture.ring.waiting")                                                        \
    X(RING_DISCARDED, "capture.ring.discarded")                                                    \
    X(IF_DROPPED, "capture.interface.dropped")

enum nfs_counter {
#define NFS_C_ENUM(id, name) NFS_C_##id,
    NFS_COUNTER_LIST(NFS_C_ENUM)
#undef NFS_C_ENUM
    NFS_C_COUNT
};

struct nfs_counters {
    uint64_t v[NFS_C_COUNT];
};

/* The dotted name of counter c, e.g. "decode.ipv4.non_first_fragment". */
const char *nfs_counter_name(enum nfs_counter c);

/* Packets decoded but not metered: the sum of every decode.* skip reason. */
uint64_t nfs_counters_ignored(const struct nfs_counters *c);

#endif
