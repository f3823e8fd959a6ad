/*
 * splt.c: the built-in plugin "splt", NFStream's early features (splt_analysis=N; FEATURES.md
 * 1.7): the direction, size and inter-arrival time of a flow's first N packets.
 *
 * splt_direction is 0 src->dst or 1 dst->src, splt_ps the size by the accounting mode,
 * splt_piat_ms the time since the flow's previous packet in either direction (truncated ms; 0
 * for the first packet). Positions past the flow's last packet hold -1 in all three. The CSV
 * writes them as NFStream does, "[0, 1, -1]".
 *
 * Options: `packets` (N, 1-255, default 10) and `encoding`. IPFIX gets the three sequences as
 * RFC 6313 basicLists (`basiclist`, the default: elements 1300-1302 as list items), or, for
 * collectors without structured data (nfdump, pmacct), one element per position (`flat`:
 * spltDirection1..N = 2001.., spltPacketSize1..N = 2301.., spltPiatMilliseconds1..N = 2601..).
 * Both follow from the options, so the field table is built by the shape hook.
 *
 * Per-flow state, 8N + N/8 bytes (82 for N = 10): sizes and gaps as uint32 and one direction
 * bit per position; the position is the flow's packet count, so no counter is kept. Gaps of
 * 49.7 days and more (idle timeouts that long) saturate. After the N-th packet the plugin asks
 * for no more packets of the flow.
 */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "plugin.h"

#define SPLT_MAX 255

struct splt_conf {
    uint64_t packets;
    char encoding[16];
};

struct splt_ctx {
    size_t n;
};

static const struct nfs_option splt_options[] = {
    {"packets", NFS_OPT_UINT, offsetof(struct splt_conf, packets), 1, SPLT_MAX, "10",
     "how many of a flow's first packets are described"},
    {"encoding", NFS_OPT_STRING, offsetof(struct splt_conf, encoding), 0,
     sizeof(((struct splt_conf *)0)->encoding), "basiclist",
     "IPFIX form: basiclist (RFC 6313 lists) or flat (one element per position, for "
     "collectors without structured data such as nfdump)"},
};

/*
 * The three sequences. Values block, for N packets: piat int64[N] at 0, ps int32[N] at 8N,
 * direction int8[N] at 12N (each array aligned for its type).
 */
static const struct seq {
    const char *name; /* the list's items; flat: name + position */
    const char *csv;
    uint16_t list_id, flat_base; /* flat: element flat_base + position (1..N) */
    uint8_t list_type, item_type, item_size;
    uint8_t offset_per_n; /* the array starts at offset_per_n * N */
    const char *doc, *flat_doc;
} seqs[] = {
    {"spltDirection", "splt_direction", 1300, 2000, NFS_T_LIST_I8, NFS_T_I8, 1, 12,
     "direction of each of the first packets: 0 src->dst, 1 dst->src; -1 past the last packet "
     "(encoding flat: spltDirection1..N, ids 2001..)",
     "spltDirection of one position (encoding flat)"},
    {"spltPacketSize", "splt_ps", 1301, 2300, NFS_T_LIST_I32, NFS_T_I32, 4, 8,
     "size of each of the first packets, bytes by the accounting mode; -1 past the last packet "
     "(encoding flat: spltPacketSize1..N, ids 2301..)",
     "spltPacketSize of one position (encoding flat)"},
    {"spltPiatMilliseconds", "splt_piat_ms", 1302, 2600, NFS_T_LIST_I64, NFS_T_I64, 8, 0,
     "ms since the flow's previous packet (0 for the first); -1 past the last packet (encoding "
     "flat: spltPiatMilliseconds1..N, ids 2601..)",
     "spltPiatMilliseconds of one position (encoding flat)"},
};

#define NAME_SIZE 32 /* "spltPiatMilliseconds255" */

static size_t
state_size(size_t n)
{
    return 8 * n + (n + 7) / 8;
}

/* The three sequences as lists (basiclist) or as CSV-only lists (flat: IPFIX gets elements). */
static void
list_fields(struct nfs_field *f, size_t n, bool csv_only)
{
    for (size_t k = 0; k < NFS_NITEMS(seqs); k++) {
        const struct seq *q = &seqs[k];

        f[k] = (struct nfs_field){q->name, csv_only ? NFS_PEN_IANA : NFS_PEN_OWN,
                                  csv_only ? 0 : q->list_id, q->list_type,
                                  (uint16_t)(q->offset_per_n * n), (uint16_t)(q->item_size * n),
                                  q->csv, csv_only ? 0 : NFS_F_FLAT_BASE(q->flat_base), q->doc};
    }
}

/* Flat: element spltDirection<i> and its two siblings for each position i, IPFIX only. */
static void
flat_fields(struct nfs_field *f, char *names, size_t n)
{
    for (size_t k = 0; k < NFS_NITEMS(seqs); k++) {
        const struct seq *q = &seqs[k];

        for (size_t i = 0; i < n; i++, f++, names += NAME_SIZE) {
            snprintf(names, NAME_SIZE, "%s%zu", q->name, i + 1);
            *f = (struct nfs_field){names, NFS_PEN_OWN, (uint16_t)(q->flat_base + i + 1),
                                    q->item_type, (uint16_t)(q->offset_per_n * n + q->item_size * i),
                                    q->item_size, NULL, 0, q->flat_doc};
        }
    }
}

static bool
splt_shape(const void *conf, struct nfs_plugin_shape *sh, struct nfs_error *err)
{
    const struct splt_conf *c = conf;
    size_t n = (size_t)c->packets, n_seq = NFS_NITEMS(seqs);
    bool flat = strcasecmp(c->encoding, "flat") == 0;
    size_t n_fields = flat ? n_seq + n_seq * n : n_seq;
    struct nfs_field *f;

    if (!flat && strcasecmp(c->encoding, "basiclist") != 0) {
        nfs_error_set(err, "encoding: expected basiclist or flat, got \"%s\"", c->encoding);
        return false;
    }
    if (n < 1 || n > SPLT_MAX) {
        nfs_error_set(err, "packets: %zu is out of range [1, %d]", n, SPLT_MAX);
        return false;
    }
    f = malloc(n_fields * sizeof(*f) + (flat ? n_seq * n * NAME_SIZE : 0));
    if (f == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    list_fields(f, n, flat);
    if (flat)
        flat_fields(f + n_seq, (char *)(f + n_fields), n);
    *sh = (struct nfs_plugin_shape){f, n_fields, 13 * n, state_size(n), f};
    return true;
}

static bool
splt_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    const struct splt_conf *c = conf;
    struct splt_ctx *x = malloc(sizeof(*x));

    (void)env;
    if (x == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    x->n = (size_t)c->packets;
    *ctx = x;
    return true;
}

static void
splt_teardown(void *ctx)
{
    free(ctx);
}

static inline uint32_t
clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

/* State of one flow: uint32 ps[N], uint32 piat[N], then N direction bits. */
static enum nfs_verdict
splt_packet(void *ctx, void *state, const struct nfs_flow *flow,
            const struct nfs_observation *obs)
{
    const struct splt_ctx *x = ctx;
    size_t i = (size_t)(flow->dir[0].packets + flow->dir[1].packets - 1);
    uint32_t *ps = state, *piat = ps + x->n;
    uint8_t *dir = (uint8_t *)(piat + x->n);

    if (i >= x->n)
        return NFS_DONE;
    ps[i] = clamp32(obs->size);
    piat[i] = clamp32(obs->delta_ms);
    if (obs->direction)
        dir[i / 8] |= (uint8_t)(1u << (i % 8));
    return i + 1 == x->n ? NFS_DONE : NFS_CONTINUE;
}

static void
splt_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    const struct splt_ctx *x = ctx;
    size_t n = x->n, seen = (size_t)(flow->dir[0].packets + flow->dir[1].packets);
    const uint32_t *ps = state, *piat = ps + n;
    const uint8_t *dir = (const uint8_t *)(piat + n);
    int64_t *v_piat = values;
    int32_t *v_ps = (int32_t *)(v_piat + n);
    int8_t *v_dir = (int8_t *)(v_ps + n);

    for (size_t i = 0; i < n; i++) {
        bool here = i < seen;

        v_dir[i] = here ? (int8_t)((dir[i / 8] >> (i % 8)) & 1) : -1;
        v_ps[i] = here ? (int32_t)(ps[i] > INT32_MAX ? INT32_MAX : ps[i]) : -1;
        v_piat[i] = here ? (int64_t)piat[i] : -1;
    }
}

const struct nfs_plugin nfs_plugin_splt = {
    .name = "splt",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "NFStream's early features: direction, size and inter-arrival time of a "
                   "flow's first packets, as RFC 6313 lists or one element per position",
    .options = splt_options,
    .n_options = NFS_NITEMS(splt_options),
    .conf_size = sizeof(struct splt_conf),
    /* fields, values_size and flow_state_size: from splt_shape */
    .shape = splt_shape,
    .setup = splt_setup,
    .on_init = splt_packet,
    .on_update = splt_packet,
    .on_expire = splt_expire,
    .teardown = splt_teardown,
};
