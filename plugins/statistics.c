/*
 * statistics.c: the built-in plugin "statistics", NFStream's 48 post-mortem features
 * (statistical_analysis=True; FEATURES.md 1.6), with NFStream's column names.
 *
 * For each direction (bidirectional, src2dst, dst2src): packet size min, mean, sample stddev
 * and max over its packets (sizes by the accounting mode); inter-arrival time min, mean, sample
 * stddev and max over its n-1 gaps, from the truncated millisecond times (stddev needs n > 2,
 * everything needs n >= 2, else 0); and the number of its packets carrying each TCP flag.
 *
 * The state lives in every flow's slot, so it keeps only what the flow cannot give back
 * (144 bytes):
 * - no means: a direction's mean size is its bytes over its packets, its mean gap its duration
 *   over packets - 1 (the gaps add up to last - first), both exact from the flow's counters;
 * - Welford's M2 per direction, updated as (n*x - S)^2 / (n(n-1)), which is Welford's step
 *   with the running mean replaced by the exact S/n; the bidirectional size M2 is combined from
 *   the two directions' at expiry (Chan et al.); the bidirectional gap M2 cannot be, so it is
 *   kept; bidirectional min/max size and flag counts come from the two directions.
 * NFStream keeps a rounded running mean, so results agree to a few ulps, not bit for bit
 * (the parity test allows 1e-6 relative).
 * Widths: sizes, gap min/max and flag counters are 32-bit in the state; gaps beyond 49.7 days
 * (idle timeouts that long) and counts beyond 4 G packets saturate. NFStream stores sizes as
 * 16 bits; min/max sizes are exported as unsigned32 because the default profile does not wrap
 * raw sizes at 65536.
 */
#include <math.h>

#include "plugin.h"

/* One direction's packets: what the flow's own counters do not hold. */
struct side {
    uint32_t ps_min, ps_max;
    double ps_m2;
    uint32_t flags[8]; /* packets with TCP flag bit i set: FIN, SYN, RST, PSH, ACK, URG, ECE, CWR */
};

/* The gaps between consecutive packets of one direction. */
struct gaps {
    uint32_t min, max;
    double m2;
};

struct stats_state {
    struct side side[2]; /* src->dst, dst->src */
    struct gaps gaps[3]; /* bidirectional, src->dst, dst->src */
};

/* One direction's 16 features, as exported. */
struct dir_values {
    double mean_ps, stddev_ps, mean_piat_ms, stddev_piat_ms;
    uint64_t min_piat_ms, max_piat_ms;
    uint64_t flags[8]; /* NFStream's order: syn, cwr, ece, urg, ack, psh, rst, fin */
    uint32_t min_ps, max_ps;
};

struct stats_values {
    struct dir_values dir[3]; /* bidirectional, src2dst, dst2src */
};

#define V(i, m)                                                                                    \
    offsetof(struct stats_values, dir[i].m), sizeof(((struct stats_values *)0)->dir[i].m)

/* Element ids: 1100-1147, in NFStream's column order (docs/ipfix.md). */
#define PS_FIELDS(i, dir, id)                                                                      \
    {#dir "MinPacketSize", NFS_PEN_OWN, (id), NFS_T_U32, V(i, min_ps), #dir "_min_ps", 0,          \
     #dir ": smallest packet, bytes by the accounting mode"},                                      \
    {#dir "MeanPacketSize", NFS_PEN_OWN, (id) + 1, NFS_T_DOUBLE, V(i, mean_ps), #dir "_mean_ps",   \
     0, #dir ": mean packet size"},                                                                \
    {#dir "StddevPacketSize", NFS_PEN_OWN, (id) + 2, NFS_T_DOUBLE, V(i, stddev_ps),                \
     #dir "_stddev_ps", 0, #dir ": sample standard deviation of packet sizes (n-1)"},              \
    {#dir "MaxPacketSize", NFS_PEN_OWN, (id) + 3, NFS_T_U32, V(i, max_ps), #dir "_max_ps", 0,      \
     #dir ": largest packet"}

#define PIAT_FIELDS(i, dir, id)                                                                    \
    {#dir "MinPiatMilliseconds", NFS_PEN_OWN, (id), NFS_T_U64, V(i, min_piat_ms),                  \
     #dir "_min_piat_ms", 0, #dir ": shortest gap between consecutive packets, ms"},               \
    {#dir "MeanPiatMilliseconds", NFS_PEN_OWN, (id) + 1, NFS_T_DOUBLE, V(i, mean_piat_ms),         \
     #dir "_mean_piat_ms", 0, #dir ": mean gap, ms"},                                              \
    {#dir "StddevPiatMilliseconds", NFS_PEN_OWN, (id) + 2, NFS_T_DOUBLE, V(i, stddev_piat_ms),     \
     #dir "_stddev_piat_ms", 0, #dir ": sample standard deviation of the gaps (n-2), ms"},         \
    {#dir "MaxPiatMilliseconds", NFS_PEN_OWN, (id) + 3, NFS_T_U64, V(i, max_piat_ms),              \
     #dir "_max_piat_ms", 0, #dir ": longest gap, ms"}

#define FLAG_FIELD(i, dir, id, k, Name, name)                                                      \
    {#dir Name "Packets", NFS_PEN_OWN, (id) + (k), NFS_T_U64, V(i, flags[k]),                      \
     #dir "_" name "_packets", 0, #dir ": packets with the TCP " name " flag"}

#define FLAG_FIELDS(i, dir, id)                                                                    \
    FLAG_FIELD(i, dir, id, 0, "Syn", "syn"), FLAG_FIELD(i, dir, id, 1, "Cwr", "cwr"),              \
        FLAG_FIELD(i, dir, id, 2, "Ece", "ece"), FLAG_FIELD(i, dir, id, 3, "Urg", "urg"),          \
        FLAG_FIELD(i, dir, id, 4, "Ack", "ack"), FLAG_FIELD(i, dir, id, 5, "Psh", "psh"),          \
        FLAG_FIELD(i, dir, id, 6, "Rst", "rst"), FLAG_FIELD(i, dir, id, 7, "Fin", "fin")

static const struct nfs_field stats_fields[] = {
    PS_FIELDS(0, bidirectional, 1100),
    PS_FIELDS(1, src2dst, 1104),
    PS_FIELDS(2, dst2src, 1108),
    PIAT_FIELDS(0, bidirectional, 1112),
    PIAT_FIELDS(1, src2dst, 1116),
    PIAT_FIELDS(2, dst2src, 1120),
    FLAG_FIELDS(0, bidirectional, 1124),
    FLAG_FIELDS(1, src2dst, 1132),
    FLAG_FIELDS(2, dst2src, 1140),
};

/* Bit of each flag in NFStream's column order: syn, cwr, ece, urg, ack, psh, rst, fin. */
static const uint8_t flag_bit[8] = {1, 7, 6, 5, 4, 3, 2, 0};

static inline uint32_t
clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* Welford's M2 step for x, the n-th value (n >= 2), when the n values add up to sum. */
static inline double
m2_step(uint64_t n, uint64_t x, uint64_t sum)
{
    double e = (double)n * (double)x - (double)sum;

    return e * e / ((double)n * (double)(n - 1));
}

/* The n-th packet of a side, of `size` bytes; the side's bytes include it. */
static void
count_size(struct side *s, uint64_t n, uint64_t bytes, uint64_t size)
{
    uint32_t x = clamp32(size);

    if (n == 1) {
        s->ps_min = s->ps_max = x;
        return;
    }
    if (x < s->ps_min)
        s->ps_min = x;
    if (x > s->ps_max)
        s->ps_max = x;
    s->ps_m2 += m2_step(n, size, bytes);
}

/* The n-th packet of a direction (n >= 2) came `gap` ms after the one before and `span` ms
 * after the direction's first. */
static void
count_gap(struct gaps *g, uint64_t n, uint64_t span, uint64_t gap)
{
    uint32_t x = clamp32(gap);

    if (n == 2) {
        g->min = g->max = x;
        return;
    }
    if (x < g->min)
        g->min = x;
    if (x > g->max)
        g->max = x;
    g->m2 += m2_step(n - 1, gap, span);
}

static void
count_flags(struct side *s, uint8_t flags)
{
    for (; flags != 0; flags &= (uint8_t)(flags - 1)) {
        uint32_t *c = &s->flags[__builtin_ctz(flags)];

        *c += *c != UINT32_MAX;
    }
}

static enum nfs_verdict
stats_packet(void *ctx, void *state, const struct nfs_flow *flow,
             const struct nfs_observation *obs)
{
    struct stats_state *st = state;
    unsigned d = obs->direction;
    const struct nfs_flow_dir *fd = &flow->dir[d];
    uint64_t n = flow->dir[0].packets + flow->dir[1].packets;

    (void)ctx;
    count_size(&st->side[d], fd->packets, fd->bytes, obs->size);
    count_flags(&st->side[d], obs->pkt->tcp_flags);
    if (fd->packets >= 2)
        count_gap(&st->gaps[1 + d], fd->packets, obs->time_ms - fd->first_us / 1000,
                  obs->dir_delta_ms);
    if (n >= 2)
        count_gap(&st->gaps[0], n, obs->time_ms - nfs_flow_first_us(flow) / 1000, obs->delta_ms);
    return NFS_CONTINUE;
}

/* What a direction's features are computed from: the flow's counters and the state. */
struct summary {
    uint64_t n, bytes, first_ms, last_ms;
    uint32_t ps_min, ps_max;
    double ps_m2;
    uint64_t flags[8];
};

static struct summary
side_summary(const struct nfs_flow_dir *fd, const struct side *s)
{
    struct summary m = {
        .n = fd->packets,
        .bytes = fd->bytes,
        .first_ms = fd->first_us / 1000,
        .last_ms = fd->last_us / 1000,
        .ps_min = s->ps_min,
        .ps_max = s->ps_max,
        .ps_m2 = s->ps_m2,
    };

    for (size_t i = 0; i < 8; i++)
        m.flags[i] = s->flags[i];
    return m;
}

/* Both directions as one: Chan et al.'s pairwise M2, extremes, sums. */
static struct summary
combine(const struct summary *a, const struct summary *b)
{
    struct summary c = *a;
    double delta;

    if (b->n == 0 || a->n == 0)
        return b->n == 0 ? *a : *b;
    c.n = a->n + b->n;
    c.bytes = a->bytes + b->bytes;
    c.first_ms = a->first_ms < b->first_ms ? a->first_ms : b->first_ms;
    c.last_ms = a->last_ms > b->last_ms ? a->last_ms : b->last_ms;
    c.ps_min = a->ps_min < b->ps_min ? a->ps_min : b->ps_min;
    c.ps_max = a->ps_max > b->ps_max ? a->ps_max : b->ps_max;
    delta = (double)b->bytes / (double)b->n - (double)a->bytes / (double)a->n;
    c.ps_m2 = a->ps_m2 + b->ps_m2 + delta * delta * ((double)a->n * (double)b->n / (double)c.n);
    for (size_t i = 0; i < 8; i++)
        c.flags[i] += b->flags[i];
    return c;
}

/* One direction's features; v arrives zeroed, which is NFStream's value without packets. */
static void
fill(struct dir_values *v, const struct summary *m, const struct gaps *g)
{
    for (size_t k = 0; k < 8; k++)
        v->flags[k] = m->flags[flag_bit[k]];
    if (m->n == 0)
        return;
    v->min_ps = m->ps_min;
    v->max_ps = m->ps_max;
    v->mean_ps = (double)m->bytes / (double)m->n;
    v->stddev_ps = m->n > 1 ? sqrt(m->ps_m2 / (double)(m->n - 1)) : 0.0;
    if (m->n < 2)
        return;
    v->min_piat_ms = g->min;
    v->max_piat_ms = g->max;
    v->mean_piat_ms = (double)(m->last_ms - m->first_ms) / (double)(m->n - 1);
    v->stddev_piat_ms = m->n > 2 ? sqrt(g->m2 / (double)(m->n - 2)) : 0.0;
}

static void
stats_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    const struct stats_state *st = state;
    struct stats_values *v = values;
    struct summary s2d = side_summary(&flow->dir[0], &st->side[0]);
    struct summary d2s = side_summary(&flow->dir[1], &st->side[1]);
    struct summary both = combine(&s2d, &d2s);

    (void)ctx;
    fill(&v->dir[0], &both, &st->gaps[0]);
    fill(&v->dir[1], &s2d, &st->gaps[1]);
    fill(&v->dir[2], &d2s, &st->gaps[2]);
}

const struct nfs_plugin nfs_plugin_statistics = {
    .name = "statistics",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "NFStream's 48 post-mortem features: packet size and inter-arrival time "
                   "min/mean/stddev/max and TCP flag counts, per direction",
    .fields = stats_fields,
    .n_fields = NFS_NITEMS(stats_fields),
    .values_size = sizeof(struct stats_values),
    .flow_state_size = sizeof(struct stats_state),
    .on_init = stats_packet,
    .on_update = stats_packet,
    .on_expire = stats_expire,
};
