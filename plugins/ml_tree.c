/*
 * ml_tree.c: in-sensor classification of a flow by its first packets, with a tree ensemble.
 *
 * When a flow reaches `at_packet` packets, the plugin computes the model's feature vector from
 * what it kept of those packets, predicts, and stores the class and its probability; with
 * `expire_early` it then ends the flow right away (flowEndReason 0x80, NFStream's
 * expiration_id -1), the early-classification use NFStream's docs describe. A flow that ends
 * with fewer packets is classified when it ends, its missing packets counting as -1.
 *
 * The features are defined once, here and in docs/plugins.md; tools/ml_features.py computes
 * the same values from nfsensord's CSV (core columns and the splt plugin's lists), which is
 * how models are trained:
 *   protocol, ip_version, src_port, dst_port   the flow's (src = sender of its first packet)
 *   direction_K    direction of packet K (0 src->dst, 1 dst->src), K = 1..16    splt_direction
 *   ps_K           its size by the accounting mode                           splt_ps
 *   piat_ms_K      ms since the flow's previous packet, 0 for packet 1       splt_piat_ms
 * Missing packets (the flow had fewer than K) give -1, as splt pads.
 * A model names the features it uses (ml_model.h); setup refuses unknown ones and positions
 * beyond at_packet. Per flow the plugin keeps at_packet sizes and gaps (16 bytes + 8 a packet,
 * at most 16 packets); prediction uses buffers made at setup, so the packet path allocates
 * nothing.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#include "ml_model.h"
#include "plugin.h"

#define MAX_PACKETS 16

struct ml_conf {
    char model[4096];
    uint64_t at_packet;
    bool expire_early;
};

static const struct nfs_option ml_options[] = {
    {"model", NFS_OPT_PATH, offsetof(struct ml_conf, model), 0,
     sizeof(((struct ml_conf *)0)->model), NULL, "model file written by tools/export_model.py"},
    {"at_packet", NFS_OPT_UINT, offsetof(struct ml_conf, at_packet), 1, MAX_PACKETS, "3",
     "classify when the flow has this many packets"},
    {"expire_early", NFS_OPT_BOOL, offsetof(struct ml_conf, expire_early), 0, 1, "false",
     "end the flow as soon as it is classified"},
};

struct ml_values {
    double probability;
    char label[NFS_ML_MAX_NAME];
    uint8_t packets;
};

static const struct nfs_field ml_fields[] = {
    {"mlLabel", NFS_PEN_OWN, 1400, NFS_T_STRING, offsetof(struct ml_values, label), NFS_ML_MAX_NAME,
     "udps.ml_label", 0, "class the model predicts (ml_tree)"},
    {"mlProbability", NFS_PEN_OWN, 1401, NFS_T_DOUBLE, offsetof(struct ml_values, probability), 8,
     "udps.ml_probability", 0, "the model's probability of that class (ml_tree)"},
    {"mlPackets", NFS_PEN_OWN, 1402, NFS_T_U8, offsetof(struct ml_values, packets), 1,
     "udps.ml_packets", 0,
     "packets the prediction saw: at_packet, or fewer if the flow ended first"},
};

enum feature_kind { F_PROTOCOL, F_IP_VERSION, F_SRC_PORT, F_DST_PORT, F_DIRECTION, F_PS, F_PIAT };

/* The features by name; the per-packet ones take a position suffix "_K". */
static const struct {
    const char *name;
    bool per_packet;
} feature_names[] = {
    [F_PROTOCOL] = {"protocol", false},  [F_IP_VERSION] = {"ip_version", false},
    [F_SRC_PORT] = {"src_port", false},  [F_DST_PORT] = {"dst_port", false},
    [F_DIRECTION] = {"direction", true}, [F_PS] = {"ps", true},
    [F_PIAT] = {"piat_ms", true},
};

struct feature {
    uint8_t kind;     /* enum feature_kind */
    uint8_t position; /* per-packet features: packet K - 1 */
};

struct ml_ctx {
    struct nfs_ml_model *model;
    unsigned at_packet;
    bool expire_early;
    struct feature *features; /* the model's, in its order */
    float *x;                 /* the vector being predicted */
    double *proba;
};

/*
 * What the plugin keeps of a flow's first packets, zeroed when the flow starts. The shape hook
 * sizes `packet` for at_packet: sizes first, then gaps.
 */
struct ml_state {
    double probability;
    uint16_t label;
    uint16_t directions; /* bit K - 1: direction of packet K */
    uint8_t packets;     /* kept so far */
    uint8_t predicted;   /* label and probability are set */
    uint32_t packet[];   /* [K - 1]: size of packet K; [at_packet + K - 1]: its gap in ms */
};

/* Maps a model feature name to a feature; false with err naming what is known. */
static bool
feature_parse(const char *name, unsigned at_packet, struct feature *f, struct nfs_error *err)
{
    for (size_t i = 0; i < NFS_NITEMS(feature_names); i++) {
        size_t len = strlen(feature_names[i].name);
        char *end;
        long k;

        if (strncmp(name, feature_names[i].name, len) != 0)
            continue;
        f->kind = (uint8_t)i;
        if (!feature_names[i].per_packet) {
            if (name[len] != '\0')
                continue;
            return true;
        }
        if (name[len] != '_' || name[len + 1] < '1' || name[len + 1] > '9')
            continue;
        k = strtol(name + len + 1, &end, 10);
        if (*end != '\0' || k > MAX_PACKETS)
            continue;
        if (k > (long)at_packet) {
            nfs_error_set(err, "feature %s needs %ld packets, but at_packet is %u", name, k,
                          at_packet);
            return false;
        }
        f->position = (uint8_t)(k - 1);
        return true;
    }
    nfs_error_set(err,
                  "unknown feature \"%s\" (known: protocol, ip_version, src_port, dst_port, "
                  "direction_K, ps_K, piat_ms_K with K from 1 to %d)",
                  name, MAX_PACKETS);
    return false;
}

/* The per-flow state holds at_packet sizes and gaps. */
static bool
ml_shape(const void *conf, struct nfs_plugin_shape *shape, struct nfs_error *err)
{
    const struct ml_conf *cf = conf;

    (void)err;
    shape->flow_state_size = sizeof(struct ml_state) + 2 * cf->at_packet * sizeof(uint32_t);
    return true;
}

static void
ml_teardown(void *ctx)
{
    struct ml_ctx *c = ctx;

    if (c == NULL)
        return;
    nfs_ml_model_destroy(c->model);
    free(c->features);
    free(c->x);
    free(c->proba);
    free(c);
}

static bool
ml_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    const struct ml_conf *cf = conf;
    struct ml_ctx *c;
    size_t nf, nc;

    (void)env;
    if (cf->model[0] == '\0') {
        nfs_error_set(err, "option model is required: the path of a model file "
                           "(tools/export_model.py writes one)");
        return false;
    }
    if ((c = calloc(1, sizeof(*c))) == NULL ||
        (c->model = nfs_ml_model_load(cf->model, err)) == NULL) {
        if (c == NULL)
            nfs_error_set(err, "out of memory");
        ml_teardown(c);
        return false;
    }
    c->at_packet = (unsigned)cf->at_packet;
    c->expire_early = cf->expire_early;
    nf = nfs_ml_model_n_features(c->model);
    nc = nfs_ml_model_n_classes(c->model);
    c->features = calloc(nf, sizeof(*c->features));
    c->x = calloc(nf, sizeof(*c->x));
    c->proba = calloc(nc, sizeof(*c->proba));
    if (c->features == NULL || c->x == NULL || c->proba == NULL || nc > (size_t)UINT16_MAX + 1) {
        nfs_error_set(err, "%s: %s", cf->model,
                      nc > (size_t)UINT16_MAX + 1 ? "more than 65536 classes" : "out of memory");
        ml_teardown(c);
        return false;
    }
    for (size_t i = 0; i < nf; i++) {
        struct nfs_error why;

        if (!feature_parse(nfs_ml_model_feature(c->model, i), c->at_packet, &c->features[i],
                           &why)) {
            nfs_error_set(err, "%s: %s", cf->model, why.msg);
            ml_teardown(c);
            return false;
        }
    }
    *ctx = c;
    return true;
}

/* Feature f of the flow, from what st kept of its first packets. */
static float
feature_value(const struct feature *f, const struct nfs_flow *flow, const struct ml_state *st,
              unsigned at_packet)
{
    bool seen = f->position < st->packets;

    switch (f->kind) {
    case F_PROTOCOL:
        return flow->key.protocol;
    case F_IP_VERSION:
        return flow->key.ip_version;
    case F_SRC_PORT:
        return flow->key.port[flow->src_side];
    case F_DST_PORT:
        return flow->key.port[!flow->src_side];
    case F_DIRECTION:
        return seen ? (float)((st->directions >> f->position) & 1) : -1.0f;
    case F_PS:
        return seen ? (float)st->packet[f->position] : -1.0f;
    default:
        return seen ? (float)st->packet[at_packet + f->position] : -1.0f;
    }
}

static void
predict(struct ml_ctx *c, const struct nfs_flow *flow, struct ml_state *st)
{
    size_t nf = nfs_ml_model_n_features(c->model), label;

    for (size_t i = 0; i < nf; i++)
        c->x[i] = feature_value(&c->features[i], flow, st, c->at_packet);
    label = nfs_ml_model_predict(c->model, c->x, c->proba);
    st->label = (uint16_t)label;
    st->probability = c->proba[label];
    st->predicted = 1;
}

static enum nfs_verdict
ml_packet(void *ctx, void *state, const struct nfs_flow *flow, const struct nfs_observation *obs)
{
    struct ml_ctx *c = ctx;
    struct ml_state *st = state;
    unsigned k = st->packets;

    st->packet[k] = obs->size > UINT32_MAX ? UINT32_MAX : (uint32_t)obs->size;
    st->packet[c->at_packet + k] =
        obs->delta_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)obs->delta_ms;
    st->directions |= (uint16_t)((obs->direction & 1u) << k);
    st->packets = (uint8_t)(k + 1);
    if (st->packets < c->at_packet)
        return NFS_CONTINUE;
    predict(c, flow, st);
    return c->expire_early ? NFS_EXPIRE : NFS_DONE;
}

static void
ml_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    struct ml_ctx *c = ctx;
    struct ml_state *st = state;
    struct ml_values *v = values;

    if (st->packets == 0)
        return; /* no packet reached the plugin: no prediction */
    if (!st->predicted)
        predict(c, flow, st);
    snprintf(v->label, sizeof(v->label), "%s", nfs_ml_model_class(c->model, st->label));
    v->probability = st->probability;
    v->packets = st->packets;
}

const struct nfs_plugin nfs_plugin_ml_tree = {
    .name = "ml_tree",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "classifies a flow at its at_packet-th packet with a decision tree, random "
                   "forest or gradient-boosted model; optionally ends it there",
    .options = ml_options,
    .n_options = NFS_NITEMS(ml_options),
    .conf_size = sizeof(struct ml_conf),
    .fields = ml_fields,
    .n_fields = NFS_NITEMS(ml_fields),
    .values_size = sizeof(struct ml_values),
    .flow_state_size = sizeof(struct ml_state) + 2 * MAX_PACKETS * sizeof(uint32_t),
    .shape = ml_shape,
    .setup = ml_setup,
    .on_init = ml_packet,
    .on_update = ml_packet,
    .on_expire = ml_expire,
    .teardown = ml_teardown,
};
