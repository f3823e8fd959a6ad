/*
 * community_id.c: the "community_id" plugin: each flow's Community ID v1
 * (lib/community_id.h), so flows join with Zeek, Suricata and tshark output.
 *
 * Enabled by the community_id: section (on in the default profile, off in the nfstream one,
 * whose CSV is NFStream's column for column), with the seed there; a built-in plugin like dpi,
 * so it is one value with an option table and a field table like every other.
 *
 * The id is that of the flow's first packet, src to dst, which is what the other tools print
 * for the connection. TCP and UDP ports come from the flow key at export; ICMP's type and code
 * and SCTP's ports (the flow key has none for them) are read from the first packet and kept in
 * four bytes of flow state, and the hash is computed once, when the flow ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "community_id.h"
#include "plugin.h"

#define PROTO_ICMP   1
#define PROTO_ICMPV6 58
#define PROTO_SCTP   132

struct cid_conf {
    uint64_t seed;
};

static const struct nfs_option cid_options[] = {
    {"seed", NFS_OPT_UINT, NFS_OPTION_AT(struct cid_conf, seed), 0, 65535, "0",
     "Community ID seed; Zeek's and Suricata's must be the same to join (their default is 0)"},
};

struct cid_values {
    char id[NFS_COMMUNITY_ID_LEN];
};

/* Enterprise element ids 3100-3199 belong to this plugin (docs/plugins.md, docs/elements.md). */
static const struct nfs_field cid_fields[] = {
    {"communityId", NFS_PEN_OWN, 3100, NFS_T_STRING, offsetof(struct cid_values, id),
     sizeof(((struct cid_values *)0)->id), "community_id", 0,
     "Community ID v1 of the flow (\"1:\" + base64 SHA-1), as Zeek, Suricata and tshark print it"},
};

/* The first packet's ports, or ICMP type and code, when the flow key has none. */
struct cid_state {
    uint16_t a, b;
};

/* The first 4 bytes of the packet's transport header, or NULL (fragment, not captured). */
static const uint8_t *
transport_header(const struct nfs_packet *pkt)
{
    const uint8_t *ip = pkt->ip;
    uint32_t off;

    if (ip == NULL)
        return NULL;
    if (pkt->ip_version == 4) {
        if (pkt->ip_cap_len < 20 || ((ip[6] & 0x1f) << 8 | ip[7]) != 0)
            return NULL;
        off = (ip[0] & 0x0fu) * 4;
    } else if (pkt->transport_size != 0 && pkt->ip_size >= pkt->transport_size) {
        off = 40u + pkt->ip_size - pkt->transport_size; /* after any extension headers */
    } else if (pkt->ip_cap_len >= 40 && ip[6] == pkt->protocol) {
        off = 40;
    } else {
        return NULL;
    }
    return off + 4 <= pkt->ip_cap_len ? ip + off : NULL;
}

static bool
cid_setup(void **ctx, const void *conf, const struct nfs_plugin_env *env, struct nfs_error *err)
{
    struct cid_conf *c = malloc(sizeof(*c));

    (void)env;
    if (c == NULL) {
        nfs_error_set(err, "out of memory");
        return false;
    }
    *c = *(const struct cid_conf *)conf;
    *ctx = c;
    return true;
}

static enum nfs_verdict
cid_init(void *ctx, void *state, const struct nfs_flow *flow, const struct nfs_observation *obs)
{
    struct cid_state *st = state;
    const struct nfs_packet *pkt = obs->pkt;
    const uint8_t *l4;

    (void)ctx, (void)flow;
    if (pkt->protocol != PROTO_ICMP && pkt->protocol != PROTO_ICMPV6 && pkt->protocol != PROTO_SCTP)
        return NFS_DONE;
    if ((l4 = transport_header(pkt)) == NULL)
        return NFS_DONE;
    if (pkt->protocol == PROTO_SCTP) {
        st->a = nfs_be16(l4);
        st->b = nfs_be16(l4 + 2);
    } else {
        st->a = l4[0]; /* type */
        st->b = l4[1]; /* code */
    }
    return NFS_DONE;
}

static void
cid_expire(void *ctx, void *state, const struct nfs_flow *flow, void *values)
{
    const struct cid_conf *cf = ctx;
    const struct cid_state *st = state;
    struct cid_values *v = values;
    unsigned s = flow->src_side, d = !s;
    struct nfs_community_tuple t = {
        .src = flow->key.ip[s],
        .dst = flow->key.ip[d],
        .ip_version = flow->key.ip_version,
        .protocol = flow->key.protocol,
        .sport = flow->key.port[s],
        .dport = flow->key.port[d],
    };

    if (t.sport == 0 && t.dport == 0) {
        t.sport = st->a;
        t.dport = st->b;
    }
    nfs_community_id((uint16_t)cf->seed, &t, v->id);
}

const struct nfs_plugin nfs_plugin_community_id = {
    .name = "community_id",
    .abi = NFS_PLUGIN_ABI,
    .size = sizeof(struct nfs_plugin),
    .description = "Community ID v1 of each flow, to join with Zeek, Suricata and tshark",
    .options = cid_options,
    .n_options = NFS_NITEMS(cid_options),
    .conf_size = sizeof(struct cid_conf),
    .fields = cid_fields,
    .n_fields = NFS_NITEMS(cid_fields),
    .values_size = sizeof(struct cid_values),
    .flow_state_size = sizeof(struct cid_state),
    .setup = cid_setup,
    .on_init = cid_init,
    .on_expire = cid_expire,
    .teardown = free,
};
