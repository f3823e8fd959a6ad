/*
 * pipeline.c: see pipeline.h.
 *
 * Time: NFStream forces each meter's clock to be monotonic (a packet older than the newest seen
 * gets the newest time), and so does the pipeline, before any stage sees the packet.
 * Expiry runs before each packet with a small budget, so a burst of timeouts is spread over
 * the following packets instead of stalling one; the cut on arrival in the flow table keeps
 * flow boundaries exact whatever the budget left pending.
 */
#include "pipeline.h"

#include <stdlib.h>

#include "flow_key.h"
#include "flow_table.h"

#define EXPIRE_BUDGET 64 /* flows ended per packet at most, besides the packet's own cut */
#define AHEAD         8  /* packets between the stages of nfs_pipeline_frames */
#define RING          32 /* a power of two above 2 * AHEAD: the packets between the stages */

_Static_assert(RING > 2 * AHEAD && (RING & (RING - 1)) == 0, "the ring holds every stage");

struct nfs_pipeline {
    struct nfs_pipeline_options opt;
    struct nfs_flow_table *table;
    struct nfs_plugin_run *plugins; /* NULL without plugins */
    uint8_t *values;                /* plugin values of the record being emitted */
    const void **groups;
    struct nfs_counters counters;
    uint64_t clock_us;
    uint64_t next_id;
    nfs_record_fn emit;
    void *emit_ctx;
};

void
nfs_pipeline_options_default(struct nfs_pipeline_options *opt, bool nfstream)
{
    nfs_flow_options_default(&opt->flows);
    opt->decode.decode_tunnels = true;
    opt->decode.extra_tunnels = !nfstream; /* VXLAN, Geneve, GRE, MPLS-in-UDP: nfsensor's */
    if (nfstream)
        nfs_flow_options_nfstream(&opt->flows);
}

static void
flow_ended(void *ctx, const struct nfs_flow *flow, uint8_t end_reason)
{
    struct nfs_pipeline *p = ctx;
    struct nfs_record rec;

    nfs_flow_to_record(flow, end_reason, &rec);
    rec.id = p->next_id++;
    p->groups[0] = &rec;
    if (p->plugins)
        nfs_plugin_run_expire(p->plugins, flow, p->values, p->groups);
    p->emit(p->emit_ctx, &rec, p->groups);
}

static bool
start_plugins(struct nfs_pipeline *p, struct nfs_error *err)
{
    const struct nfs_plugin_set *set = p->opt.plugins;
    struct nfs_plugin_env env = {.flows = &p->opt.flows, .pipeline_index = p->opt.index};
    size_t n = set ? nfs_plugin_set_count(set) : 0;

    p->groups = calloc(n + 1, sizeof(*p->groups));
    if (p->groups == NULL)
        return nfs_error_set(err, "out of memory"), false;
    if (n == 0)
        return true;
    p->values = calloc(1, nfs_plugin_set_values_size(set) + 1);
    if (p->values == NULL)
        return nfs_error_set(err, "out of memory"), false;
    p->plugins = nfs_plugin_run_create(set, &env, err);
    return p->plugins != NULL;
}

struct nfs_pipeline *
nfs_pipeline_create(const struct nfs_pipeline_options *opt, nfs_record_fn emit, void *emit_ctx,
                    struct nfs_error *err)
{
    struct nfs_pipeline *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        nfs_error_set(err, "out of memory");
        return NULL;
    }
    p->opt = *opt;
    p->emit = emit;
    p->emit_ctx = emit_ctx;
    if (!start_plugins(p, err)) {
        nfs_pipeline_destroy(p);
        return NULL;
    }
    p->table = nfs_flow_table_create(&p->opt.flows,
                                     opt->plugins ? nfs_plugin_set_state_size(opt->plugins) : 0,
                                     flow_ended, p, &p->counters, err);
    if (p->table == NULL) {
        nfs_pipeline_destroy(p);
        return NULL;
    }
    return p;
}

void
nfs_pipeline_destroy(struct nfs_pipeline *p)
{
    if (p == NULL)
        return;
    nfs_flow_table_destroy(p->table);
    nfs_plugin_run_destroy(p->plugins);
    free(p->values);
    free(p->groups);
    free(p);
}

/* The clock, the counters and the decoder: true when pkt is to be metered. */
static bool
decode_one(struct nfs_pipeline *p, const struct nfs_frame *f, struct nfs_packet *pkt)
{
    enum nfs_counter verdict;

    if (f->ts_us > p->clock_us)
        p->clock_us = f->ts_us;
    p->counters.v[NFS_C_PACKETS]++;
    p->counters.v[NFS_C_BYTES] += f->wire_len;
    pkt->ts_us = p->clock_us;
    pkt->cap_len = f->cap_len;
    pkt->wire_len = f->wire_len;
    verdict = nfs_decode(pkt, f->dlt, f->data, &p->opt.decode);
    p->counters.v[verdict]++;
    return verdict == NFS_C_PROCESSED;
}

/* Expiry up to the packet's time, then the packet into its flow and the plugins. */
static void
meter_one(struct nfs_pipeline *p, const struct nfs_packet *pkt, const struct nfs_flow_key *key,
          unsigned side, uint32_t hash)
{
    struct nfs_observation obs;
    struct nfs_flow *flow;

    nfs_flow_table_expire(p->table, pkt->ts_us, EXPIRE_BUDGET);
    flow = nfs_flow_table_packet_keyed(p->table, pkt, key, side, hash, p->plugins ? &obs : NULL);
    if (flow && p->plugins && nfs_plugin_run_packet(p->plugins, flow, &obs))
        nfs_flow_table_end(p->table, flow, NFS_END_PLUGIN);
}

void
nfs_pipeline_packet(struct nfs_pipeline *p, int dlt, uint64_t ts_us, uint32_t cap_len,
                    uint32_t wire_len, const uint8_t *data)
{
    struct nfs_frame f = {dlt, ts_us, cap_len, wire_len, data};

    nfs_pipeline_frames(p, &f, 1);
}

/* One packet on its way through the stages of nfs_pipeline_frames. */
struct staged {
    struct nfs_packet pkt;
    struct nfs_flow_key key;
    uint32_t hash;
    unsigned side;
    bool ok;
};

/* First stage: decode, key and hash the packet, and start loading its slot. */
static void
stage_decode(struct nfs_pipeline *p, const struct nfs_frame *f, struct staged *s)
{
    s->ok = decode_one(p, f, &s->pkt);
    if (!s->ok)
        return;
    s->side = nfs_flow_key_make(&s->key, &s->pkt);
    s->hash = nfs_flow_key_hash(&s->key);
    nfs_flow_table_prefetch_slot(p->table, s->hash);
}

/* Last stage: the packet into its flow (or, not metered, only the expiry of its time). */
static void
stage_meter(struct nfs_pipeline *p, const struct staged *s)
{
    if (s->ok)
        meter_one(p, &s->pkt, &s->key, s->side, s->hash);
    else
        nfs_flow_table_expire(p->table, s->pkt.ts_us, EXPIRE_BUDGET);
}

/*
 * A rolling pipeline: while packet k is decoded and its slot requested, packet k - AHEAD's
 * slot has arrived and its flow is requested, and packet k - 2 * AHEAD, whose flow has
 * arrived, is metered. Packets are metered in order, and all of them before the call returns.
 */
void
nfs_pipeline_frames(struct nfs_pipeline *p, const struct nfs_frame *frames, size_t n)
{
    struct staged ring[RING];

    for (size_t k = 0; k < n + 2 * AHEAD; k++) {
        if (k < n)
            stage_decode(p, &frames[k], &ring[k % RING]);
        if (k >= AHEAD && k - AHEAD < n && ring[(k - AHEAD) % RING].ok)
            nfs_flow_table_prefetch_flow(p->table, ring[(k - AHEAD) % RING].hash);
        if (k >= 2 * AHEAD && k - 2 * AHEAD < n)
            stage_meter(p, &ring[(k - 2 * AHEAD) % RING]);
    }
}

void
nfs_pipeline_tick(struct nfs_pipeline *p, uint64_t now_us)
{
    if (now_us > p->clock_us)
        p->clock_us = now_us;
    while (nfs_flow_table_expire(p->table, p->clock_us, EXPIRE_BUDGET) == EXPIRE_BUDGET)
        ;
}

void
nfs_pipeline_set_timeouts(struct nfs_pipeline *p, const struct nfs_flow_options *flows)
{
    p->opt.flows.idle_timeout_ms = flows->idle_timeout_ms;
    p->opt.flows.active_timeout_ms = flows->active_timeout_ms;
    p->opt.flows.tcp_linger_ms = flows->tcp_linger_ms;
    nfs_flow_table_set_timeouts(p->table, flows->idle_timeout_ms, flows->active_timeout_ms,
                                flows->tcp_linger_ms);
}

void
nfs_pipeline_flush(struct nfs_pipeline *p)
{
    nfs_flow_table_flush(p->table);
}

const struct nfs_counters *
nfs_pipeline_counters(const struct nfs_pipeline *p)
{
    return &p->counters;
}

uint32_t
nfs_pipeline_active_flows(const struct nfs_pipeline *p)
{
    return nfs_flow_table_count(p->table);
}
