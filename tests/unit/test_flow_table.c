/*
 * test_flow_table.c: cuts at exactly their boundaries, direction, eviction, TCP end, flush.
 */
#include "check.h"
#include "flow_table.h"
#include "packets.h"

#define MAX_ENDED 64

static struct nfs_record ended[MAX_ENDED];
static int n_ended;
static struct nfs_counters counters;

static void
on_end(void *ctx, const struct nfs_flow *flow, uint8_t reason)
{
    (void)ctx;
    if (n_ended < MAX_ENDED)
        nfs_flow_to_record(flow, reason, &ended[n_ended++]);
}

static struct nfs_flow_table *
table(bool nfstream, uint32_t max_flows)
{
    struct nfs_flow_options opt;
    struct nfs_error err;

    nfs_flow_options_default(&opt);
    if (nfstream)
        nfs_flow_options_nfstream(&opt);
    opt.idle_timeout_ms = 10000;
    opt.active_timeout_ms = 30000;
    opt.max_flows = max_flows;
    n_ended = 0;
    memset(&counters, 0, sizeof(counters));
    return nfs_flow_table_create(&opt, 0, on_end, NULL, &counters, &err);
}

/* Feeds p as the pipeline does: expiry first, then the packet. */
static void
feed(struct nfs_flow_table *t, struct nfs_packet p)
{
    struct nfs_observation obs;

    nfs_flow_table_expire(t, p.ts_us, 1000000);
    nfs_flow_table_packet(t, &p, &obs);
}

#define A IP(10, 0, 0, 1)
#define B IP(10, 0, 0, 2)

static void
test_idle_cut_at_exactly_the_timeout(void)
{
    struct nfs_flow_table *t = table(true, 100);

    feed(t, pkt4(A, 1000, B, 53, 17, 1000, 80, 0));
    feed(t, pkt4(B, 53, A, 1000, 17, 10999, 120, 0)); /* 9999 ms later: same flow */
    CHECK_EQ(n_ended, 0);
    feed(t, pkt4(A, 1000, B, 53, 17, 20999, 80, 0)); /* exactly 10000 ms: new flow */
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].end_reason, NFS_END_IDLE);
    CHECK_EQ(ended[0].expiration_id, 0);
    CHECK_EQ(ended[0].bidirectional.packets, 2);
    CHECK_EQ(ended[0].src2dst.bytes, 80);
    CHECK_EQ(ended[0].dst2src.bytes, 120);
    CHECK_EQ(ended[0].bidirectional.duration_ms, 9999);
    nfs_flow_table_flush(t);
    CHECK_EQ(n_ended, 2);
    CHECK_EQ(ended[1].bidirectional.first_seen_ms, 20999);
    CHECK_EQ(ended[1].end_reason, NFS_END_FORCED);
    CHECK_EQ(ended[1].expiration_id, 0);
    nfs_flow_table_destroy(t);
}

static void
test_idle_expiry_without_a_packet_of_the_flow(void)
{
    struct nfs_flow_table *t = table(true, 100);

    feed(t, pkt4(A, 1000, B, 53, 17, 1000, 80, 0));
    feed(t, pkt4(A, 2000, B, 53, 17, 10999, 80, 0));
    CHECK_EQ(n_ended, 0);
    feed(t, pkt4(A, 3000, B, 53, 17, 11000, 80, 0)); /* ends the first flow by the clock */
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].src_port, 1000);
    CHECK_EQ(nfs_flow_table_count(t), 2);
    nfs_flow_table_destroy(t);
}

static void
test_active_cut_at_exactly_the_timeout(void)
{
    struct nfs_flow_table *t = table(true, 100);

    for (uint64_t ms = 0; ms < 30000; ms += 5000)
        feed(t, pkt4(A, 1000, B, 53, 17, 1000 + ms, 80, 0));
    CHECK_EQ(n_ended, 0);
    feed(t, pkt4(B, 53, A, 1000, 17, 31000, 80, 0)); /* first + 30000 ms */
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].end_reason, NFS_END_ACTIVE);
    CHECK_EQ(ended[0].expiration_id, 1);
    CHECK_EQ(ended[0].bidirectional.packets, 6);
    nfs_flow_table_flush(t);
    /* NFStream: the continuation's src is the sender of its first packet. */
    CHECK_EQ(ended[1].src_port, 53);
    CHECK_EQ(ended[1].src2dst.packets, 1);
    nfs_flow_table_destroy(t);
}

static void
test_active_continuation_keeps_direction_by_default(void)
{
    struct nfs_flow_table *t = table(false, 100);

    for (uint64_t ms = 0; ms < 30000; ms += 5000)
        feed(t, pkt4(A, 1000, B, 53, 17, 1000 + ms, 80, 0));
    feed(t, pkt4(B, 53, A, 1000, 17, 31000, 80, 0));
    nfs_flow_table_flush(t);
    CHECK_EQ(n_ended, 2);
    CHECK_EQ(ended[1].src_port, 1000);
    CHECK_EQ(ended[1].src2dst.packets, 0);
    CHECK_EQ(ended[1].dst2src.packets, 1);
    CHECK_EQ(ended[1].bidirectional.first_seen_ms, 31000);
    nfs_flow_table_destroy(t);
}

static void
test_active_scan_cuts_without_a_packet(void)
{
    struct nfs_flow_table *t = table(false, 100);

    feed(t, pkt4(A, 1000, B, 53, 17, 0, 80, 0));
    feed(t, pkt4(A, 1000, B, 53, 17, 9000, 80, 0));
    feed(t, pkt4(A, 1000, B, 53, 17, 18000, 80, 0));
    feed(t, pkt4(A, 1000, B, 53, 17, 27000, 80, 0));
    nfs_flow_table_expire(t, 30000 * 1000, 1000);
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].end_reason, NFS_END_ACTIVE);
    CHECK_EQ(ended[0].bidirectional.packets, 4);
    /* The empty continuation idles out silently. */
    nfs_flow_table_expire(t, 37000 * 1000, 1000);
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(nfs_flow_table_count(t), 0);
    nfs_flow_table_destroy(t);
}

static void
test_eviction_takes_least_recent_and_counts(void)
{
    struct nfs_flow_table *t = table(true, 2);

    feed(t, pkt4(A, 1, B, 53, 17, 1000, 80, 0));
    feed(t, pkt4(A, 2, B, 53, 17, 1001, 80, 0));
    feed(t, pkt4(A, 1, B, 53, 17, 1002, 80, 0)); /* flow 1 is now the most recent */
    feed(t, pkt4(A, 3, B, 53, 17, 1003, 80, 0)); /* evicts flow 2 */
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].src_port, 2);
    CHECK_EQ(ended[0].end_reason, NFS_END_RESOURCES);
    CHECK_EQ(counters.v[NFS_C_FLOWS_EVICTED], 1);
    CHECK_EQ(nfs_flow_table_count(t), 2);
    nfs_flow_table_destroy(t);
}

static void
tcp_close(struct nfs_flow_table *t, uint64_t t0)
{
    feed(t, pkt4(A, 40000, B, 80, 6, t0 + 0, 74, NFS_TCP_SYN));
    feed(t, pkt4(B, 80, A, 40000, 6, t0 + 1, 74, NFS_TCP_SYN | NFS_TCP_ACK));
    feed(t, pkt4(A, 40000, B, 80, 6, t0 + 2, 66, NFS_TCP_ACK));
    feed(t, pkt4(A, 40000, B, 80, 6, t0 + 3, 66, NFS_TCP_FIN | NFS_TCP_ACK));
    feed(t, pkt4(B, 80, A, 40000, 6, t0 + 4, 66, NFS_TCP_FIN | NFS_TCP_ACK));
    feed(t, pkt4(A, 40000, B, 80, 6, t0 + 5, 66, NFS_TCP_ACK));
}

static void
test_tcp_end_keeps_last_ack_then_ends(void)
{
    struct nfs_flow_table *t = table(false, 100);

    tcp_close(t, 1000);
    CHECK_EQ(n_ended, 0);
    feed(t, pkt4(A, 1, B, 53, 17, 1005 + 1999, 80, 0)); /* within the linger */
    CHECK_EQ(n_ended, 0);
    feed(t, pkt4(A, 1, B, 53, 17, 1005 + 2000, 80, 0));
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].end_reason, NFS_END_OF_FLOW);
    CHECK_EQ(ended[0].bidirectional.packets, 6);
    CHECK_EQ(ended[0].src2dst.tcp_flags, NFS_TCP_SYN | NFS_TCP_ACK | NFS_TCP_FIN);
    CHECK_EQ(counters.v[NFS_C_FLOWS_TCP_END], 1);
    nfs_flow_table_destroy(t);
}

static void
test_syn_on_closed_flow_starts_a_new_one(void)
{
    struct nfs_flow_table *t = table(false, 100);

    tcp_close(t, 1000);
    feed(t, pkt4(A, 40000, B, 80, 6, 1100, 74, NFS_TCP_SYN));
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].bidirectional.packets, 6);
    nfs_flow_table_flush(t);
    CHECK_EQ(ended[1].bidirectional.packets, 1);
    CHECK_EQ(ended[1].end_reason, NFS_END_FORCED);
    nfs_flow_table_destroy(t);
}

static void
test_rst_ends_and_nfstream_profile_ignores_tcp_end(void)
{
    struct nfs_flow_table *t = table(false, 100);

    feed(t, pkt4(A, 40000, B, 80, 6, 0, 74, NFS_TCP_SYN));
    feed(t, pkt4(B, 80, A, 40000, 6, 1, 60, NFS_TCP_RST | NFS_TCP_ACK));
    nfs_flow_table_flush(t);
    CHECK_EQ(ended[0].end_reason, NFS_END_OF_FLOW);
    CHECK_EQ(ended[0].expiration_id, 2);
    nfs_flow_table_destroy(t);

    t = table(true, 100);
    tcp_close(t, 1000);
    feed(t, pkt4(A, 40000, B, 80, 6, 1100, 74, NFS_TCP_SYN));
    nfs_flow_table_flush(t);
    CHECK_EQ(n_ended, 1);
    CHECK_EQ(ended[0].bidirectional.packets, 7);
    CHECK_EQ(ended[0].end_reason, NFS_END_FORCED);
    nfs_flow_table_destroy(t);
}

static void
test_many_flows_survive_deletions(void)
{
    struct nfs_flow_table *t = table(true, 4096);

    /* Fill, expire half by idling them, and check the rest are still found (backward shift). */
    for (uint32_t i = 0; i < 4000; i++)
        feed(t, pkt4(A + i, 1, B, 53, 17, i < 2000 ? 0 : 5000, 80, 0));
    feed(t, pkt4(A, 9, B, 9, 17, 10000, 80, 0)); /* ends the 2000 first flows */
    CHECK_EQ(n_ended > 0, 1);
    CHECK_EQ(counters.v[NFS_C_FLOWS_IDLE], 2000);
    for (uint32_t i = 2000; i < 4000; i++)
        feed(t, pkt4(A + i, 1, B, 53, 17, 10001, 80, 0));
    CHECK_EQ(counters.v[NFS_C_FLOWS_CREATED], 4001);
    CHECK_EQ(nfs_flow_table_count(t), 2001);
    nfs_flow_table_destroy(t);
}

int
main(void)
{
    RUN(test_idle_cut_at_exactly_the_timeout);
    RUN(test_idle_expiry_without_a_packet_of_the_flow);
    RUN(test_active_cut_at_exactly_the_timeout);
    RUN(test_active_continuation_keeps_direction_by_default);
    RUN(test_active_scan_cuts_without_a_packet);
    RUN(test_eviction_takes_least_recent_and_counts);
    RUN(test_tcp_end_keeps_last_ack_then_ends);
    RUN(test_syn_on_closed_flow_starts_a_new_one);
    RUN(test_rst_ends_and_nfstream_profile_ignores_tcp_end);
    RUN(test_many_flows_survive_deletions);
    return check_exit();
}
