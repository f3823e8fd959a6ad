/*
 * test_statistics.c: the statistics plugin (plugins/statistics.c) against NFStream's
 * definitions computed the plain way, two passes over every packet: one-packet and one-way
 * flows, a long mixed flow, flag counting, and gaps too long for the state's 32 bits.
 */
#include <math.h>

#include "check.h"
#include "test_plugin_harness.h"

struct pkt {
    uint64_t t_ms;
    uint32_t len;
    bool reply;
    uint8_t flags;
};

/* NFStream's features of one direction (0 both, 1 src2dst, 2 dst2src), two passes. */
struct expect {
    double min_ps, mean_ps, stddev_ps, max_ps, min_piat, mean_piat, stddev_piat, max_piat;
    uint64_t flags[8]; /* syn, cwr, ece, urg, ack, psh, rst, fin */
};

static struct expect
two_pass(const struct pkt *p, size_t n_all, int dir)
{
    static const uint8_t bit[8] = {0x02, 0x80, 0x40, 0x20, 0x10, 0x08, 0x04, 0x01};
    struct expect e = {0};
    double sum = 0, ss = 0, gsum = 0, gss = 0;
    size_t n = 0, prev = 0;

    for (size_t i = 0; i < n_all; i++) {
        if (dir != 0 && p[i].reply != (dir == 2))
            continue;
        for (int k = 0; k < 8; k++)
            e.flags[k] += (p[i].flags & bit[k]) != 0;
        if (n == 0 || p[i].len < e.min_ps)
            e.min_ps = p[i].len;
        if (p[i].len > e.max_ps)
            e.max_ps = p[i].len;
        sum += p[i].len;
        if (n > 0) {
            double g = (double)(p[i].t_ms - p[prev].t_ms);

            if (n == 1 || g < e.min_piat)
                e.min_piat = g;
            if (g > e.max_piat)
                e.max_piat = g;
            gsum += g;
        }
        prev = i;
        n++;
    }
    if (n == 0)
        return e;
    e.mean_ps = sum / (double)n;
    if (n > 1)
        e.mean_piat = gsum / (double)(n - 1);
    n = 0;
    for (size_t i = 0; i < n_all; i++) {
        if (dir != 0 && p[i].reply != (dir == 2))
            continue;
        ss += (p[i].len - e.mean_ps) * (p[i].len - e.mean_ps);
        if (n > 0) {
            double g = (double)(p[i].t_ms - p[prev].t_ms) - e.mean_piat;
            gss += g * g;
        }
        prev = i;
        n++;
    }
    e.stddev_ps = n > 1 ? sqrt(ss / (double)(n - 1)) : 0;
    e.stddev_piat = n > 2 ? sqrt(gss / (double)(n - 2)) : 0;
    return e;
}

static bool
close_to(double got, double want)
{
    return fabs(got - want) <= 1e-9 * fmax(1.0, fabs(want));
}

/* Column col of h is want, within 1e-9 relative; says which column when not. */
static bool
column_is(const struct harness *h, const char *col, double want)
{
    double got = harness_number(h, col);

    if (close_to(got, want))
        return true;
    fprintf(stderr, "  %s: got %.17g, want %.17g\n", col, got, want);
    return false;
}

static void
check_direction(const struct harness *h, const struct pkt *p, size_t n, int dir)
{
    static const char *const dirs[] = {"bidirectional", "src2dst", "dst2src"};
    static const char *const flags[] = {"syn", "cwr", "ece", "urg", "ack", "psh", "rst", "fin"};
    struct expect e = two_pass(p, n, dir);
    double want[] = {e.min_ps, e.mean_ps, e.stddev_ps, e.max_ps,
                     e.min_piat, e.mean_piat, e.stddev_piat, e.max_piat};
    const char *cols[] = {"min_ps", "mean_ps", "stddev_ps", "max_ps",
                          "min_piat_ms", "mean_piat_ms", "stddev_piat_ms", "max_piat_ms"};
    char col[64];

    for (size_t i = 0; i < NFS_NITEMS(cols); i++) {
        snprintf(col, sizeof(col), "%s_%s", dirs[dir], cols[i]);
        CHECK(column_is(h, col, want[i]));
    }
    for (int k = 0; k < 8; k++) {
        snprintf(col, sizeof(col), "%s_%s_packets", dirs[dir], flags[k]);
        CHECK(column_is(h, col, (double)e.flags[k]));
    }
}

static void
run_flow(const struct pkt *p, size_t n)
{
    struct harness h;
    struct nfs_error err;

    CHECK(harness_start(&h, "statistics", NULL, &err));
    for (size_t i = 0; i < n; i++)
        harness_packet(&h, p[i].t_ms, p[i].len, p[i].reply, p[i].flags);
    harness_expire(&h);
    for (int dir = 0; dir < 3; dir++)
        check_direction(&h, p, n, dir);
    harness_stop(&h);
}

static void
test_one_packet_has_sizes_only(void)
{
    struct pkt p[] = {{1000, 74, false, NFS_TCP_SYN}};
    struct harness h;
    struct nfs_error err;

    run_flow(p, 1);
    CHECK(harness_start(&h, "statistics", NULL, &err));
    harness_packet(&h, 1000, 74, false, NFS_TCP_SYN);
    harness_expire(&h);
    CHECK_STR(harness_text(&h, "bidirectional_mean_ps"), "74.0");
    CHECK_STR(harness_text(&h, "bidirectional_stddev_ps"), "0.0");
    CHECK_STR(harness_text(&h, "bidirectional_max_piat_ms"), "0");
    CHECK_STR(harness_text(&h, "dst2src_mean_ps"), "0.0");
    CHECK_STR(harness_text(&h, "src2dst_syn_packets"), "1");
    harness_stop(&h);
}

static void
test_two_and_three_packets(void)
{
    struct pkt two[] = {{1000, 60, false, 0}, {1007, 90, false, 0}};
    struct pkt three[] = {{1000, 60, false, 0}, {1007, 90, true, 0}, {1010, 1500, false, 0}};

    run_flow(two, 2);   /* one gap: stddev of gaps stays 0 */
    run_flow(three, 3); /* dst2src has one packet */
}

static void
test_long_mixed_flow(void)
{
    struct pkt p[400];
    uint32_t x = 12345;
    uint64_t t = 1434443394683;

    for (size_t i = 0; i < NFS_NITEMS(p); i++) {
        x = x * 1103515245 + 12345;
        t += (x >> 8) % 7 == 0 ? 0 : (x >> 12) % 2000; /* equal times included */
        p[i] = (struct pkt){t, 54 + (x >> 16) % 1460, ((x >> 4) & 3) == 0, (uint8_t)(x >> 20)};
    }
    run_flow(p, NFS_NITEMS(p));
}

static void
test_flags_are_counted_per_packet(void)
{
    struct pkt p[] = {
        {1000, 74, false, NFS_TCP_SYN},
        {1001, 74, true, NFS_TCP_SYN | NFS_TCP_ACK},
        {1002, 66, false, NFS_TCP_ACK},
        {1003, 500, false, NFS_TCP_ACK | NFS_TCP_PSH},
        {1004, 66, true, NFS_TCP_FIN | NFS_TCP_ACK | NFS_TCP_ECE | NFS_TCP_CWR | NFS_TCP_URG},
        {1005, 60, false, NFS_TCP_RST},
    };

    run_flow(p, NFS_NITEMS(p));
}

/* A gap beyond 2^32 ms saturates min/max; the mean and stddev stay exact. */
static void
test_gap_beyond_32_bits_saturates(void)
{
    struct harness h;
    struct nfs_error err;
    uint64_t day = 86400000;

    CHECK(harness_start(&h, "statistics", NULL, &err));
    harness_packet(&h, 1000, 100, false, 0);
    harness_packet(&h, 1000 + 60 * day, 100, false, 0);
    harness_expire(&h);
    CHECK_STR(harness_text(&h, "src2dst_max_piat_ms"), "4294967295");
    CHECK(close_to(harness_number(&h, "src2dst_mean_piat_ms"), 60.0 * day));
    harness_stop(&h);
}

int
main(void)
{
    RUN(test_one_packet_has_sizes_only);
    RUN(test_two_and_three_packets);
    RUN(test_long_mixed_flow);
    RUN(test_flags_are_counted_per_packet);
    RUN(test_gap_beyond_32_bits_saturates);
    return check_exit();
}
