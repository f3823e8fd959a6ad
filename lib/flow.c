/*
 * flow.c: the per-packet rules of a flow (see flow.h).
 *
 * Direction: a packet is src->dst when it comes from the key side that sent the flow's first
 * packet. This is NFStream's rule (compare ports, then addresses, with the flow's src/dst) put
 * in terms of the normalised key, and so costs one comparison.
 */
#include "flow.h"

void
nfs_flow_options_default(struct nfs_flow_options *opt)
{
    *opt = (struct nfs_flow_options){
        .idle_timeout_ms = 120 * 1000,
        .active_timeout_ms = 1800 * 1000,
        .tcp_linger_ms = 2000,
        .max_flows = 1000000,
        .accounting = NFS_ACCOUNT_RAW,
        .tcp_end = true,
        .keep_direction = true,
        .active_scan = true,
        .raw_size_u16 = false,
    };
}

void
nfs_flow_options_nfstream(struct nfs_flow_options *opt)
{
    opt->tcp_end = false;
    opt->keep_direction = false;
    opt->active_scan = false;
    opt->raw_size_u16 = true;
}

void
nfs_flow_init(struct nfs_flow *flow, const struct nfs_flow_key *key, uint32_t hash)
{
    uint32_t index = flow->index;

    memset(flow, 0, sizeof(*flow));
    flow->key = *key;
    flow->hash = hash;
    flow->index = index;
}

void
nfs_flow_restart(struct nfs_flow *flow, bool keep_direction)
{
    uint64_t last_us = nfs_flow_last_us(flow);

    /* The last packet time stays, so that an empty continuation still idles out. */
    memset(flow->dir, 0, sizeof(flow->dir));
    flow->dir[0].last_us = last_us;
    flow->tcp_state = NFS_TCP_OPEN;
    flow->plugins_done = 0;
    if (!keep_direction)
        flow->oriented = 0;
}

static uint64_t
packet_size(const struct nfs_packet *pkt, const struct nfs_flow_options *opt)
{
    switch (opt->accounting) {
    case NFS_ACCOUNT_IP:
        return pkt->ip_size;
    case NFS_ACCOUNT_TRANSPORT:
        return pkt->transport_size;
    case NFS_ACCOUNT_PAYLOAD:
        return pkt->payload_size;
    case NFS_ACCOUNT_RAW:
    default:
        return opt->raw_size_u16 ? (uint16_t)pkt->wire_len : pkt->wire_len;
    }
}

/* MACs come from the flow's first packet, oriented so that src_mac is src's. */
static void
take_macs(struct nfs_flow *flow, const struct nfs_packet *pkt, unsigned direction)
{
    if (!pkt->has_mac)
        return;
    memcpy(flow->src_mac, direction ? pkt->dst_mac : pkt->src_mac, 6);
    memcpy(flow->dst_mac, direction ? pkt->src_mac : pkt->dst_mac, 6);
}

static void
track_tcp_end(struct nfs_flow *flow, uint8_t flags, unsigned direction)
{
    if (flags & NFS_TCP_FIN)
        flow->tcp_state |= direction ? NFS_TCP_FIN_DST : NFS_TCP_FIN_SRC;
    if ((flags & NFS_TCP_RST) || (flow->tcp_state & (NFS_TCP_FIN_SRC | NFS_TCP_FIN_DST)) ==
                                     (NFS_TCP_FIN_SRC | NFS_TCP_FIN_DST))
        flow->tcp_state |= NFS_TCP_CLOSED;
}

static inline uint64_t
since_ms(uint64_t now_us, uint64_t then_us)
{
    return now_us / 1000 - then_us / 1000;
}

/* What the packet was to its flow, for the plugins; before the packet is counted. */
static void
observe(const struct nfs_flow *flow, const struct nfs_packet *pkt, unsigned direction,
        uint64_t size, struct nfs_observation *obs)
{
    const struct nfs_flow_dir *d = &flow->dir[direction];

    *obs = (struct nfs_observation){
        .pkt = pkt,
        .direction = direction,
        .time_ms = pkt->ts_us / 1000,
        .size = size,
        .delta_ms = nfs_flow_is_empty(flow) ? 0 : since_ms(pkt->ts_us, nfs_flow_last_us(flow)),
        .dir_delta_ms = d->packets ? since_ms(pkt->ts_us, d->last_us) : 0,
    };
}

void
nfs_flow_update(struct nfs_flow *flow, const struct nfs_packet *pkt, unsigned side,
                const struct nfs_flow_options *opt, struct nfs_observation *obs)
{
    unsigned direction;
    struct nfs_flow_dir *d;
    uint64_t size = packet_size(pkt, opt);

    if (!flow->oriented) {
        flow->src_side = (uint8_t)side;
        flow->oriented = 1;
    }
    direction = side != flow->src_side;
    if (nfs_flow_is_empty(flow))
        take_macs(flow, pkt, direction);
    if (obs != NULL)
        observe(flow, pkt, direction, size, obs);

    d = &flow->dir[direction];
    if (d->packets == 0)
        d->first_us = pkt->ts_us;
    d->last_us = pkt->ts_us;
    d->packets++;
    d->bytes += size;
    d->ip_octets += pkt->ip_octets;
    d->tcp_flags |= pkt->tcp_flags;

    if (opt->tcp_end && pkt->protocol == 6)
        track_tcp_end(flow, pkt->tcp_flags, direction);
}

extern inline uint64_t nfs_flow_first_us(const struct nfs_flow *flow);

static void
dir_to_record(const struct nfs_flow_dir *d, struct nfs_record_dir *r)
{
    r->packets = d->packets;
    r->bytes = d->bytes;
    r->ip_octets = d->ip_octets;
    r->tcp_flags = d->tcp_flags;
    r->first_seen_ms = d->packets ? d->first_us / 1000 : 0;
    r->last_seen_ms = d->packets ? d->last_us / 1000 : 0;
    r->duration_ms = r->last_seen_ms - r->first_seen_ms;
}

/* NFStream's expiration_id for each end reason (FEATURES.md 1.10; 2 and 3 are nfsensor's). */
static int8_t
expiration_id(uint8_t end_reason)
{
    switch (end_reason) {
    case NFS_END_ACTIVE:
        return 1;
    case NFS_END_OF_FLOW:
        return 2;
    case NFS_END_RESOURCES:
        return 3;
    case NFS_END_PLUGIN:
        return -1;
    default:
        return 0; /* idle, and end of input, as NFStream reports it */
    }
}

void
nfs_flow_to_record(const struct nfs_flow *flow, uint8_t end_reason, struct nfs_record *rec)
{
    unsigned s = flow->src_side;

    memset(rec, 0, sizeof(*rec));
    rec->end_reason = end_reason;
    rec->expiration_id = expiration_id(end_reason);
    rec->ip_version = flow->key.ip_version;
    rec->protocol = flow->key.protocol;
    rec->tunnel_id = flow->key.tunnel_id;
    rec->vlan_id = flow->key.vlan_id;
    rec->src_ip = flow->key.ip[s];
    rec->dst_ip = flow->key.ip[!s];
    rec->src_port = flow->key.port[s];
    rec->dst_port = flow->key.port[!s];
    memcpy(rec->src_mac, flow->src_mac, 6);
    memcpy(rec->dst_mac, flow->dst_mac, 6);

    dir_to_record(&flow->dir[0], &rec->src2dst);
    dir_to_record(&flow->dir[1], &rec->dst2src);
    rec->bidirectional = (struct nfs_record_dir){
        .first_seen_ms = nfs_flow_first_us(flow) / 1000,
        .last_seen_ms = nfs_flow_last_us(flow) / 1000,
        .packets = rec->src2dst.packets + rec->dst2src.packets,
        .bytes = rec->src2dst.bytes + rec->dst2src.bytes,
        .ip_octets = rec->src2dst.ip_octets + rec->dst2src.ip_octets,
        .tcp_flags = rec->src2dst.tcp_flags | rec->dst2src.tcp_flags,
    };
    rec->bidirectional.duration_ms =
        rec->bidirectional.last_seen_ms - rec->bidirectional.first_seen_ms;
}
