/*
 * record.h: the export view of one expired flow.
 *
 * flow.c turns a struct nfs_flow into a struct nfs_record when the flow ends; everything
 * downstream (IPFIX encoder, CSV sink, collectors' spools) reads only records, through the field
 * table in fields.c. Times are milliseconds since the epoch (FEATURES.md 1.1), sizes follow the
 * configured accounting mode, except ip_octets, which is always IANA's octetDeltaCount.
 */
#ifndef NFS_RECORD_H
#define NFS_RECORD_H

#include "common.h"

/* IANA flowEndReason values (RFC 5102). */
enum nfs_end_reason {
    NFS_END_IDLE = 1,
    NFS_END_ACTIVE = 2,
    NFS_END_OF_FLOW = 3, /* TCP FIN both ways or RST */
    NFS_END_FORCED = 4,  /* end of input, shutdown */
    NFS_END_RESOURCES = 5, /* evicted: flow table full */
    NFS_END_PLUGIN = 0x80, /* a plugin ended it (nfsensor's value; IANA leaves 6-255 free) */
};

struct nfs_record_dir {
    uint64_t first_seen_ms;
    uint64_t last_seen_ms;
    uint64_t duration_ms;
    uint64_t packets;
    uint64_t bytes;     /* sum of the accounting-mode size */
    uint64_t ip_octets; /* sum of whole IP packet lengths */
    uint8_t tcp_flags;  /* OR of the TCP flags seen */
};

struct nfs_record {
    uint64_t id;            /* 0-based, in order of emission */
    int8_t expiration_id;   /* NFStream's: 0 idle or end of input, 1 active, -1 plugin;
                               nfsensor's: 2 TCP end, 3 evicted */
    uint8_t end_reason;     /* enum nfs_end_reason */
    uint8_t ip_version;
    uint8_t protocol;
    uint8_t tunnel_id;
    uint16_t vlan_id;
    uint16_t src_port, dst_port;
    struct nfs_ip src_ip, dst_ip;
    uint8_t src_mac[6], dst_mac[6];
    struct nfs_record_dir bidirectional, src2dst, dst2src;
};

#endif
