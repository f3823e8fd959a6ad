/*
 * flow.h: one bidirectional flow and its core counters.
 *
 * A flow's src is the sender of its first packet (FEATURES.md 1.2); dir[0] counts src->dst
 * packets, dir[1] dst->src. Times are kept in microseconds and turned into NFStream's truncated
 * milliseconds only when the flow becomes a record. The flow table owns flows and links them
 * into its expiry lists; this module knows the per-packet rules.
 */
#ifndef NFS_FLOW_H
#define NFS_FLOW_H

#include "common.h"
#include "decode.h"
#include "flow_key.h"
#include "record.h"

enum nfs_accounting {
    NFS_ACCOUNT_RAW = 0,       /* pcap wire length */
    NFS_ACCOUNT_IP = 1,        /* IPv4 tot_len, IPv6 payload_len */
    NFS_ACCOUNT_TRANSPORT = 2, /* L4 header + payload */
    NFS_ACCOUNT_PAYLOAD = 3,   /* L4 payload */
};

/* How flows are measured and cut; `nfstream` profile values in brackets (docs/config.md). */
struct nfs_flow_options {
    uint64_t idle_timeout_ms;   /* 120000 */
    uint64_t active_timeout_ms; /* 1800000 */
    uint64_t tcp_linger_ms;     /* after FIN both ways or RST, wait this long for stragglers */
    uint32_t max_flows;         /* table size; the least recently seen flow is evicted */
    enum nfs_accounting accounting;
    bool tcp_end;        /* FIN both ways or RST ends the flow [false] */
    bool keep_direction; /* an active-timeout continuation keeps src/dst [false] */
    bool active_scan;    /* active timeout also fires without a packet [false] */
    bool raw_size_u16;   /* raw size wraps at 65536 as NFStream stores it [true] */
};

/* Fills opt with nfsensor's defaults. */
void nfs_flow_options_default(struct nfs_flow_options *opt);

/* Switches every departure from NFStream back (FEATURES.md, "nfsensor beyond NFStream"). */
void nfs_flow_options_nfstream(struct nfs_flow_options *opt);

struct nfs_flow_dir {
    uint64_t first_us, last_us;
    uint64_t packets;
    uint64_t bytes;     /* accounting-mode bytes */
    uint64_t ip_octets; /* IANA octetDeltaCount */
    uint8_t tcp_flags;
};

enum nfs_tcp_state {
    NFS_TCP_OPEN = 0,
    NFS_TCP_FIN_SRC = 1, /* FIN seen from src */
    NFS_TCP_FIN_DST = 2, /* FIN seen from dst */
    NFS_TCP_CLOSED = 4,  /* FIN both ways or RST: the flow is closing */
};

struct nfs_flow {
    struct nfs_flow_key key;
    uint32_t hash;
    uint32_t index;        /* position in the table's pool */
    uint8_t src_side;      /* the key side (0/1) that is the flow's src */
    uint8_t tcp_state;     /* enum nfs_tcp_state bits */
    uint8_t list;          /* which expiry wheel the table keeps it in */
    uint8_t oriented;      /* src_side is set */
    uint32_t plugins_done; /* bit i: plugin i needs no more packets of this flow */
    uint8_t src_mac[6], dst_mac[6];
    uint32_t lru_prev, lru_next; /* idle or closing wheel (flow_table.c) */
    uint32_t age_prev, age_next; /* age list, by first packet */
    uint16_t slot;               /* where in its wheel the table keeps it */
    struct nfs_flow_dir dir[2];
};

/* What counting a packet into its flow observed; plugins see it too. */
struct nfs_observation {
    const struct nfs_packet *pkt;
    unsigned direction;    /* 0 src->dst, 1 dst->src */
    uint64_t time_ms;      /* NFStream's truncated milliseconds */
    uint64_t size;         /* bytes by the accounting mode */
    uint64_t delta_ms;     /* time since the flow's previous packet, either direction; 0 first */
    uint64_t dir_delta_ms; /* time since the previous packet of this direction; 0 first */
};

/* Makes flow a new, empty flow of key; its first nfs_flow_update() sets src/dst. */
void nfs_flow_init(struct nfs_flow *flow, const struct nfs_flow_key *key, uint32_t hash);

/*
 * Empties the flow after a cut, keeping its key. With keep_direction the src/dst orientation
 * stays (an active-timeout continuation); otherwise the next packet sets it again.
 */
void nfs_flow_restart(struct nfs_flow *flow, bool keep_direction);

/* True when the flow has no packet yet (a restarted flow waiting for its continuation). */
static inline bool
nfs_flow_is_empty(const struct nfs_flow *flow)
{
    return flow->dir[0].packets == 0 && flow->dir[1].packets == 0;
}

/* Counts pkt, sent from key side `side`, into the flow and fills *obs (unless NULL: no
 * plugin looks at it). */
void nfs_flow_update(struct nfs_flow *flow, const struct nfs_packet *pkt, unsigned side,
                     const struct nfs_flow_options *opt, struct nfs_observation *obs);

/* First and last packet time of either direction, in microseconds. Inline for the packet
 * path; flow.c also emits it as a symbol, as plugins built before link against it. */
inline uint64_t
nfs_flow_first_us(const struct nfs_flow *flow)
{
    const struct nfs_flow_dir *a = &flow->dir[0], *b = &flow->dir[1];

    if (a->packets == 0)
        return b->first_us;
    if (b->packets == 0)
        return a->first_us;
    return a->first_us < b->first_us ? a->first_us : b->first_us;
}

static inline uint64_t
nfs_flow_last_us(const struct nfs_flow *flow)
{
    return flow->dir[0].last_us > flow->dir[1].last_us ? flow->dir[0].last_us
                                                       : flow->dir[1].last_us;
}

/* Fills rec from the flow; end_reason is an enum nfs_end_reason. */
void nfs_flow_to_record(const struct nfs_flow *flow, uint8_t end_reason, struct nfs_record *rec);

#endif
