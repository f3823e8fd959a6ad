/*
 * flow_table.h: the active flows of one pipeline, and when they end.
 *
 * Lookup is open addressing over a power-of-two slot array sized for max_flows at half load;
 * a slot keeps the full hash and the flow's pool index, so a probe rarely touches a flow.
 * Expiry never scans the table: open flows (idle timeout) and TCP-closed flows (linger) sit in
 * two timing wheels by last packet, which a packet does not have to touch (flow_table.c), and
 * every non-empty flow in a list by first packet (active timeout). Expiry takes the least
 * recently seen flow first, exactly at its timeout.
 * Owned by one pipeline thread, no locks. Ended flows go to the callback given at creation,
 * which must not keep the pointer.
 */
#ifndef NFS_FLOW_TABLE_H
#define NFS_FLOW_TABLE_H

#include "counters.h"
#include "flow.h"

struct nfs_flow_table;

/* Called for each flow that ends, with an enum nfs_end_reason; the flow is then recycled. */
typedef void (*nfs_flow_end_fn)(void *ctx, const struct nfs_flow *flow, uint8_t end_reason);

/*
 * Returns NULL and fills err when memory for max_flows cannot be reserved. Each flow carries
 * state_size bytes of plugin state after it (nfs_flow_state), zeroed whenever the flow starts.
 */
struct nfs_flow_table *nfs_flow_table_create(const struct nfs_flow_options *opt,
                                             size_t state_size, nfs_flow_end_fn on_end, void *ctx,
                                             struct nfs_counters *counters,
                                             struct nfs_error *err);
void nfs_flow_table_destroy(struct nfs_flow_table *t);

/*
 * Counts pkt (already decoded, time made monotonic by the caller) into its flow: finds or creates
 * the flow, applies the cuts NFStream applies when a packet arrives (idle, active) and the TCP
 * rules, and keeps the expiry lists in order. Returns the flow, or NULL in the one case where
 * no flow could be made (max_flows is 0). obs may be NULL when nothing will read it.
 */
struct nfs_flow *nfs_flow_table_packet(struct nfs_flow_table *t, const struct nfs_packet *pkt,
                                       struct nfs_observation *obs);

/* The same, with the key, key side and hash already computed (see the prefetch calls). */
struct nfs_flow *nfs_flow_table_packet_keyed(struct nfs_flow_table *t, const struct nfs_packet *pkt,
                                             const struct nfs_flow_key *key, unsigned side,
                                             uint32_t hash, struct nfs_observation *obs);

/*
 * Hints for batches: the first starts loading the hash's slot, the second (a few packets
 * later, once the slot has arrived) the flow it points to. Lookups stay exact without them.
 */
void nfs_flow_table_prefetch_slot(const struct nfs_flow_table *t, uint32_t hash);
void nfs_flow_table_prefetch_flow(const struct nfs_flow_table *t, uint32_t hash);

/* Ends the flow now, with an enum nfs_end_reason (a plugin asked for it). */
void nfs_flow_table_end(struct nfs_flow_table *t, struct nfs_flow *flow, uint8_t end_reason);

/* The plugin state that follows the flow in its slot. */
static inline void *
nfs_flow_state(const struct nfs_flow *flow)
{
    return (uint8_t *)(uintptr_t)flow + sizeof(struct nfs_flow);
}

/* Ends the flows whose timeout has passed at now_us; at most `budget` of them. Returns count. */
unsigned nfs_flow_table_expire(struct nfs_flow_table *t, uint64_t now_us, unsigned budget);

/* Ends every flow (end of input, shutdown), oldest first. */
void nfs_flow_table_flush(struct nfs_flow_table *t);

/*
 * Changes the idle, active and TCP linger timeouts of a running table (a reload). Flows are
 * kept by packet times, not by deadlines; the wheels are rebuilt for the new bucket widths.
 */
void nfs_flow_table_set_timeouts(struct nfs_flow_table *t, uint64_t idle_timeout_ms,
                                 uint64_t active_timeout_ms, uint64_t tcp_linger_ms);

/* Number of flows holding at least one packet. */
uint32_t nfs_flow_table_count(const struct nfs_flow_table *t);

#endif
