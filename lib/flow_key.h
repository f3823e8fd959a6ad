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

/*
 * Builds the key of pkt and returns the side (0 or 1) of the key that is the packet's sender.
 * A packet whose source and destination are equal is side 0.
 */
unsigned nfs_flow_key_make(struct nfs_flow_key *key, const struct nfs_packet *pkt);

/* 32-bit hash of a key; the same for both directions since the key is normalised. */
uint32_t nfs_flow_key_hash(const struct nfs_flow_key *key);

static inline bool
nfs_flow_key_eq(const struct nfs_flow_key *a, const struct nfs_flow_key *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

#endif
