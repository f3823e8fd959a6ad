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

/* ---- the expiry wheel against a model: every due flow ends, oldest first, none early ---- */

#define MODEL_FLOWS 300

static struct {
    uint16_t port;
    uint8_t reason;
    uint64_t last_ms;
} log_[MODEL_FLOWS + 1];
static int n_log;

static void
on_end_log(void *ctx, const struct nfs_flow *flow, uint8_t reason)
{
    struct nfs_record rec;

    (void)ctx;
    nfs_flow_to_record(flow, reason, &rec);
    if (n_log <= MODEL_FLOWS)
        log_[n_log++] = (typeof(log_[0])){rec.src_port, reason, rec.bidirectional.last_seen_ms};
}

static uint64_t model_rng = 0x9E3779B97F4A7C15ull;

static uint64_t
model_rand(uint64_t n)
{
    model_rng ^= model_rng << 13;
    model_rng ^= model_rng >> 7;
    model_rng ^= model_rng << 17;
    return model_rng % n;
}

/* A time step: mostly short, sometimes past a timeout, rarely a jump of days. */
static uint64_t
model_step_us(void)
{
    uint64_t r = model_rand(1000);

    if (r < 900)
        return 1 + model_rand(20000);
    if (r < 995)
        return 1 + model_rand(30000000);
    return 1 + model_rand(400000000000ull);
}

static void
check_model_run(uint32_t max_flows)
{
    static const uint64_t timeouts[] = {0, 1, 700, 3000, 120000};
    struct nfs_flow_options opt;
    struct nfs_error err;
    struct nfs_flow_table *t;
    uint64_t last_us[MODEL_FLOWS + 1] = {0}, now = 1000000000000ull, idle = 3000;
    bool live[MODEL_FLOWS + 1] = {false};
    uint32_t n_live = 0;
    int bad = 0;

    nfs_flow_options_default(&opt);
    nfs_flow_options_nfstream(&opt);
    opt.idle_timeout_ms = idle;
    opt.active_timeout_ms = 1ull << 50;
    opt.max_flows = max_flows;
    memset(&counters, 0, sizeof(counters));
    t = nfs_flow_table_create(&opt, 0, on_end_log, NULL, &counters, &err);
    for (int step = 0; step < 200000 && bad < 5; step++) {
        uint16_t port = (uint16_t)(1 + model_rand(MODEL_FLOWS));
        struct nfs_packet p;
        struct nfs_observation obs;
        uint64_t prev_last = 0, expect = 0;
        int bad_before = bad;

        if (model_rand(5000) == 0) {
            idle = timeouts[model_rand(NFS_NITEMS(timeouts))];
            nfs_flow_table_set_timeouts(t, idle, opt.active_timeout_ms, opt.tcp_linger_ms);
        }
        now += model_step_us();
        for (int k = 1; k <= MODEL_FLOWS; k++)
            expect += live[k] && now / 1000 - last_us[k] / 1000 >= idle;
        n_log = 0;
        nfs_flow_table_expire(t, now, 1000000);
        bad += n_log != (int)expect;
        for (int i = 0; i < n_log; i++) {
            uint16_t q = log_[i].port;

            /* ended: due, idle, and no earlier than the previous one */
            bad += !live[q] || now / 1000 - last_us[q] / 1000 < idle ||
                   log_[i].reason != NFS_END_IDLE || log_[i].last_ms < prev_last;
            prev_last = log_[i].last_ms;
            live[q] = false;
            n_live--;
        }
        n_log = 0;
        p = pkt4(A, port, B, 53, 17, 0, 80, 0);
        p.ts_us = now;
        nfs_flow_table_packet(t, &p, &obs);
        if (!live[port] && n_live == max_flows) {
            uint16_t lru = 0;

            for (int k = 1; k <= MODEL_FLOWS; k++)
                if (live[k] && (lru == 0 || last_us[k] < last_us[lru]))
                    lru = (uint16_t)k;
            bad += n_log != 1 || log_[0].port != lru || log_[0].reason != NFS_END_RESOURCES;
            live[lru] = false;
            n_live--;
        } else {
            bad += n_log != 0;
        }
        n_live += !live[port];
        live[port] = true;
        last_us[port] = now;
        bad += nfs_flow_table_count(t) != n_live;
        if (bad != bad_before)
            fprintf(stderr, "model step %d: port %u at %llu us, idle %llu ms: %llu due\n", step,
                    port, (unsigned long long)now, (unsigned long long)idle,
                    (unsigned long long)expect);
    }
    CHECK_EQ(bad, 0);
    nfs_flow_table_destroy(t);
}

static void
test_idle_expiry_matches_a_model(void)
{
    check_model_run(1000); /* never full: idle expiry only */
    check_model_run(50);   /* full: eviction of the least recently seen flow too */
}

static void
test_flow_seen_after_its_bucket_was_sorted_still_ends_on_time(void)
{
    struct nfs_flow_table *t = table(true, 100);

    feed(t, pkt4(A, 1, B, 53, 17, 1000, 80, 0));
    feed(t, pkt4(A, 2, B, 53, 17, 1001, 80, 0));
    feed(t, pkt4(A, 3, B, 53, 17, 11000, 80, 0)); /* 1 ends; 2 was sorted into the run */
    CHECK_EQ(n_ended, 1);
    feed(t, pkt4(A, 2, B, 53, 17, 11000, 80, 0)); /* 2 is seen again: it must not end at */
    feed(t, pkt4(A, 4, B, 53, 17, 11001, 80, 0)); /* 11001, but at 21000 */
    CHECK_EQ(n_ended, 1);
    nfs_flow_table_expire(t, 20999 * 1000, 100);
    CHECK_EQ(n_ended, 1);
    nfs_flow_table_expire(t, 21000 * 1000, 100);
    CHECK_EQ(n_ended, 3); /* 3 and 2, both last seen at 11000 */
    CHECK_EQ(ended[1].src_port + ended[2].src_port, 5);
    nfs_flow_table_destroy(t);
}

/* Expiry skips a millisecond it found quiet: never when a budget left flows due, when a zero
 * timeout makes a flow due at its own packet's millisecond, or after new timeouts. */
static void
test_expiry_in_one_millisecond(void)
{
    struct nfs_flow_table *t = table(true, 100);

    for (uint16_t port = 1; port <= 3; port++)
        feed(t, pkt4(A, port, B, 53, 17, 1000, 80, 0));
    CHECK_EQ(nfs_flow_table_expire(t, 11000 * 1000, 2), 2); /* budget spent: 1 still due */
    CHECK_EQ(nfs_flow_table_expire(t, 11000 * 1000, 2), 1);
    CHECK_EQ(nfs_flow_table_expire(t, 11000 * 1000, 2), 0);
    feed(t, pkt4(A, 4, B, 53, 17, 11000, 80, 0));
    nfs_flow_table_set_timeouts(t, 0, 30000, 2000); /* idle 0: flow 4 is due now */
    CHECK_EQ(nfs_flow_table_expire(t, 11000 * 1000, 100), 1);
    feed(t, pkt4(A, 5, B, 53, 17, 11000, 80, 0));
    CHECK_EQ(nfs_flow_table_expire(t, 11000 * 1000, 100), 1);
    CHECK_EQ(n_ended, 5);
    nfs_flow_table_destroy(t);
}

#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>

/* The pool is mmap'd: the table poisons ended flows itself, so ASan reports a use after end. */
static void
test_ended_flows_are_poisoned_for_asan(void)
{
    struct nfs_flow_table *t = table(true, 100);
    struct nfs_packet p = pkt4(A, 1000, B, 53, 17, 1000, 80, 0);
    struct nfs_observation obs;
    struct nfs_flow *f = nfs_flow_table_packet(t, &p, &obs), *g;

    CHECK(f != NULL && !__asan_address_is_poisoned(f));
    nfs_flow_table_expire(t, 20000 * 1000ull, 100); /* f idles out: its entry is free... */
    CHECK_EQ(n_ended, 1);
    CHECK(__asan_address_is_poisoned(f));
    CHECK(__asan_address_is_poisoned((const uint8_t *)f + sizeof(*f) - 1));
    p = pkt4(A, 2000, B, 53, 17, 20001, 80, 0); /* ...until the next new flow takes it */
    g = nfs_flow_table_packet(t, &p, &obs);
    CHECK(g == f && !__asan_address_is_poisoned(g));
    nfs_flow_table_flush(t); /* every flow ends at once */
    CHECK(__asan_address_is_poisoned(g));
    nfs_flow_table_destroy(t);
}
#endif

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
    RUN(test_idle_expiry_matches_a_model);
    RUN(test_flow_seen_after_its_bucket_was_sorted_still_ends_on_time);
    RUN(test_expiry_in_one_millisecond);
#ifdef __SANITIZE_ADDRESS__
    RUN(test_ended_flows_are_poisoned_for_asan);
#endif
    return check_exit();
}
