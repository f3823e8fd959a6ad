/*
 * big_packets.c: the example external plugin, NFStream's first plugin example in C.
 *
 * NFStream's documentation opens its plugin chapter with a plugin that counts a flow's packets
 * of 666 bytes or more. Here it is as an nfsensor plugin: one option (`threshold`, the size in
 * bytes, default 666), one exported field (`udps.big_packets` in CSV, `bigPacketCount` in
 * IPFIX), a counter kept in the flow's own state. The size is the packet's length on the wire
 * (pcap len; NFStream's raw_size), whatever the accounting mode.
 *
 * It is built as big_packets.so (plugins/examples/meson.build), never linked into nfsensord,
 * and enabled purely by configuration:
 *     plugin_dir: /usr/local/lib/nfsensor/plugins
 *     plugins:
 *       - {name: big_packets, threshold: 1000}
 * docs/plugins.md walks through it.
 */
#include "plugin.h"

struct big_conf {
    uint64_t threshold;
};

static const struct nfs_option big_options[] = {
    {"threshold", NFS_OPT_UINT, NFS_OPTION_AT(struct big_conf, threshold), 1, 1u << 20, "666",
     "count packets of at least this many bytes on the wire"},
};

/* The values block this plugin adds to every record. */
struct big_values {
    uint64_t big_packets;
};

/* Element ids 3000-3099: nfsensor's block for example plugins (docs/plugins.md). */
static const struct nfs_field big_fields[] = {
    {"bigPacketCount", NFS_PEN_OWN, 3000, NFS_T_U64, offsetof(struct big_values, big_packets), 8,
     "udps.big_packets", 0, "packets of at least `threshold` bytes on the wire (big_packets)"},
};

/* Per-flow state: zeroed by nfsensord when the flow starts. */
struct big_state {
    uint64_t big_packets;
};

/* The context is the filled-in options themselves: nfsensord keeps them for the run. */
static bool
big_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    (void)env;
    (void)err;
    *ctx = (void *)conf;
    return true;
}

/* Every packet, the first one included (on_init and on_update are the same here). */
static enum nfs_verdict
big_packet(void *ctx, void *state, const struct nfs_flow *flow, const struct nfs_observation *obs)
{
    const struct big_conf *conf = ctx;
    struct big_state *st = state;

    (void)flow;
    if (obs->pkt->wire_len >= conf->threshold)
        st->big_packets++;
    return NFS_CONTINUE;
}

static void
big_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    const struct big_state *st = state;
    struct big_values *v = values;

    (void)ctx;
    (void)flow;
    v->big_packets = st->big_packets;
}

/* The one symbol nfsensord looks for in a plugin file. */
const struct nfs_plugin nfs_plugin_entry = {
    .name = "big_packets",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "counts a flow's packets of at least `threshold` bytes (NFStream's example)",
    .options = big_options,
    .n_options = NFS_NITEMS(big_options),
    .conf_size = sizeof(struct big_conf),
    .fields = big_fields,
    .n_fields = NFS_NITEMS(big_fields),
    .values_size = sizeof(struct big_values),
    .flow_state_size = sizeof(struct big_state),
    .setup = big_setup,
    .on_init = big_packet,
    .on_update = big_packet,
    .on_expire = big_expire,
};
