/*
 * flow_key.h: the direction-free key of a bidirectional flow and its hash.
 *
 * The key holds (IP pair, port pair, protocol, IP version, VLAN id, tunnel id) with the lower
 * (IP, port) endpoint first, so both directions of a connection build the same key
 * (FEATURES.md 1.2). MAC addresses are not part of the key. ICMP packets carry ports 0, so all
 * ICMP between two hosts is one flow, as in NFStream.
 */
#ifndef NFS_FLOW_KEY_H
#define NFS_FLOW_KEY_H

#include "common.h"
#include "decode.h"

struct nfs_flow_key {
    struct nfs_ip ip[2];
    uint16_t port[2];
    uint16_t vlan_id;
    uint8_t protocol;
    uint8_t ip_version;
    uint8_t tunnel_id;
    uint8_t pad_[7]; /* zeroed: keys are compared and hashed as bytes */
};

_Static_assert(sizeof(struct nfs_flow_key) == 48, "flow key has no hidden padding");

/*
 * Builds the key of pkt and returns the side (0 or 1) of the key that is the packet's sender.
 * A packet whose source and destination are equal is side 0. Inline, as the hash below: both
 * run for every packet, and the pipeline hashes the key it has just built.
 */
static inline unsigned
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

/*
 * 32-bit hash of a key; the same for both directions since the key is normalised. It mixes the
 * key's 64-bit words with a multiply-xorshift step: cheap, and good enough for an
 * open-addressing table whose size is a power of two (every output bit depends on every input
 * word, so low bits are usable as the slot index).
 */
static inline uint64_t
nfs_flow_key_mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static inline uint32_t
nfs_flow_key_hash(const struct nfs_flow_key *key)
{
    uint64_t w[6];
    uint64_t h = 0x243F6A8885A308D3ull;

    memcpy(w, key, sizeof(w));
    for (size_t i = 0; i < NFS_NITEMS(w); i++)
        h = nfs_flow_key_mix(h, w[i]);
    return (uint32_t)(h ^ (h >> 32));
}

static inline bool
nfs_flow_key_eq(const struct nfs_flow_key *a, const struct nfs_flow_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

#endif
