/*
 * flow_key.c: see flow_key.h.
 *
 * The hash mixes the key's 64-bit words with a multiply-xorshift step: cheap, and good enough
 * for an open-addressing table whose size is a power of two (every output bit depends on every
 * input word, so low bits are usable as the slot index).
 */
#include "flow_key.h"

_Static_assert(sizeof(struct nfs_flow_key) == 48, "flow key has no hidden padding");

unsigned
nfs_flow_key_make(struct nfs_flow_key *key, const struct nfs_packet *pkt)
{
    int order = nfs_ip_cmp(&pkt->src_ip, &pkt->dst_ip);
    unsigned side;

    if (order == 0)
        order = (int)pkt->src_port - (int)pkt->dst_port;
    side = order > 0 ? 1 : 0;

    key->ip[side] = pkt->src_ip;
    key->ip[!side] = pkt->dst_ip;
    key->port[side] = pkt->src_port;
    key->port[!side] = pkt->dst_port;
    key->vlan_id = pkt->vlan_id;
    key->protocol = pkt->protocol;
    key->ip_version = pkt->ip_version;
    key->tunnel_id = pkt->tunnel_id;
    memset(key->pad_, 0, sizeof(key->pad_));
    return side;
}

static inline uint64_t
mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

uint32_t
nfs_flow_key_hash(const struct nfs_flow_key *key)
{
    uint64_t w[6];
    uint64_t h = 0x243F6A8885A308D3ull;

    memcpy(w, key, sizeof(w));
    for (size_t i = 0; i < NFS_NITEMS(w); i++)
        h = mix(h, w[i]);
    return (uint32_t)(h ^ (h >> 32));
}
