/*
 * community_id.h: Community ID v1 (corelight/community-id-spec), the flow hash Zeek, Suricata
 * and tshark print, so nfsensor's flows join with their logs.
 *
 * "1:" + base64(SHA-1(seed (2 bytes, big-endian) . src addr . dst addr . protocol . 0 .
 * src port . dst port)), with the endpoints ordered so both directions give the same id, ports
 * only for TCP, UDP, SCTP, ICMP and ICMPv6, and ICMP's type and code standing in for the ports
 * (a request's type paired with its reply's; messages without a counterpart are one-way and keep
 * their order).
 */
#ifndef NFS_COMMUNITY_ID_H
#define NFS_COMMUNITY_ID_H

#include "common.h"

/* "1:" + 28 base64 characters + NUL. */
#define NFS_COMMUNITY_ID_LEN 31

/* One direction of a flow as its first packet saw it. For ICMP and ICMPv6, sport is the type
 * and dport the code; for protocols without ports both are ignored. */
struct nfs_community_tuple {
    struct nfs_ip src, dst;
    uint8_t ip_version; /* 4 or 6 */
    uint8_t protocol;
    uint16_t sport, dport;
};

/* True when the protocol's ports (or ICMP type and code) enter the hash. */
bool nfs_community_id_has_ports(uint8_t protocol);

/* Writes the Community ID of t under seed into out; returns out. */
char *nfs_community_id(uint16_t seed, const struct nfs_community_tuple *t,
                       char out[NFS_COMMUNITY_ID_LEN]);

#endif
