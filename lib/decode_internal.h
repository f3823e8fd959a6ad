/*
 * decode_internal.h: the decoder's cursor, shared by decode.c, decode_ip.c and decode_tunnel.c.
 *
 * The decoder follows NFStream's packet_process (lib_engine.c) step by step, including the state
 * it keeps across its gotos: the current ethertype, the last IPv4 frag_off and protocol read
 * while that ethertype was IPv4, the 802.3 length and the innermost VLAN survive a tunnel's
 * re-entry into the link layer, exactly as NFStream's locals do. Keeping them in one cursor
 * is what makes the odd cases (IPv4 behind DLT_NULL or LLC/SNAP, TZSP) come out the same.
 * Private to the decoder; nothing outside lib/decode*.c includes it.
 */
#ifndef NFS_DECODE_INTERNAL_H
#define NFS_DECODE_INTERNAL_H

#include "decode.h"

#define NFS_ETH_P_IP     0x0800
#define NFS_ETH_P_IPV6   0x86DD
#define NFS_ETH_P_8021Q  0x8100
#define NFS_ETH_P_8021AD 0x88A8
#define NFS_ETH_P_QINQ   0x9100
#define NFS_ETH_P_MPLS   0x8847
#define NFS_ETH_P_MPLS_M 0x8848
#define NFS_ETH_P_PPPOE  0x8864

#define IPV6_HDR_LEN 40

#define NFS_IPPROTO_ICMP   1
#define NFS_IPPROTO_IPIP   4
#define NFS_IPPROTO_TCP    6
#define NFS_IPPROTO_UDP    17
#define NFS_IPPROTO_GRE    47
#define NFS_IPPROTO_IPV6   41
#define NFS_IPPROTO_ICMPV6 58

#define GTP_U_PORT       2152
#define TZSP_PORT        37008
#define CAPWAP_DATA_PORT 5247
#define VXLAN_PORT       4789 /* RFC 7348 */
#define GENEVE_PORT      6081 /* RFC 8926 */
#define MPLS_UDP_PORT    6635 /* RFC 7510 */

/* NFStream re-enters itself without bound (offsets grow, so it ends); we stop at this depth. */
#define NFS_DECODE_MAX_DEPTH 8

/* Where decoding (re)starts: NFStream's labels datalink_check, iph_check, and packet_parse. */
enum nfs_decode_step {
    NFS_STEP_LINK,
    NFS_STEP_IP,
    NFS_STEP_PARSE,
};

struct nfs_decode_cursor {
    struct nfs_packet *pkt;
    const uint8_t *data;
    uint32_t caplen;
    int dlt;
    const struct nfs_decode_options *opt;

    uint32_t eth_offset; /* start of the link frame (inner frame after TZSP) */
    uint32_t ip_offset;  /* current IP header */
    unsigned depth;      /* re-entries so far (IP-in-IP, tunnels) */

    /* NFStream's locals that persist across re-entries. */
    uint16_t type;       /* ethertype as NFStream holds it (LLC/SNAP one byte-swapped) */
    uint16_t frag_off;   /* last IPv4 frag_off read while type was IPv4 */
    uint8_t proto;       /* IPv4 protocol (read while type was IPv4) or IPv6 final next header */
    int pyld_eth_len;    /* 802.3 length field, 0 for Ethernet II */
    unsigned wifi_len;   /* 802.11 header length used for radiotap */
    uint16_t vlan_id;
    uint8_t tunnel_id;

    uint32_t l4_offset;  /* from ip_offset to the L4 header, for the tunnel decoders */
};

/* decode_ip.c: NFStream's iph_check loop, IP-in-IP unwrapped. NFS_C_PROCESSED when the header
 * at c->ip_offset is an IPv4 or IPv6 packet to meter (or to look into for a tunnel). */
enum nfs_counter nfs_decode_ip(struct nfs_decode_cursor *c);

/* decode_ip.c: NFStream's packet_parse: fills c->pkt from the IP header at c->ip_offset. */
enum nfs_counter nfs_decode_parse(struct nfs_decode_cursor *c);

/* decode_tunnel.c: the tunnels inside the UDP or GRE packet at c->ip_offset (GTP-U, TZSP,
 * CAPWAP; with extra_tunnels VXLAN, Geneve, MPLS-in-UDP, GRE). Sets *next to where decoding
 * continues; NFS_STEP_PARSE with c unchanged when no tunnel applies. */
enum nfs_counter nfs_decode_tunnel(struct nfs_decode_cursor *c, enum nfs_decode_step *next);

static inline void
copy_macs(struct nfs_packet *pkt, const uint8_t *src, const uint8_t *dst)
{
    memcpy(pkt->src_mac, src, 6);
    memcpy(pkt->dst_mac, dst, 6);
    pkt->has_mac = true;
}

/* True when a UDP packet with these ports may be one of the tunnels opt decodes (the ports
 * decode_tunnel.c looks at); false means nfs_decode_tunnel() would leave it as it is. */
static inline __attribute__((always_inline)) bool
nfs_decode_udp_tunnel_port(const struct nfs_decode_options *opt, uint16_t sport, uint16_t dport)
{
    if (!opt->decode_tunnels)
        return false;
    if (sport == GTP_U_PORT || dport == GTP_U_PORT || sport == TZSP_PORT || dport == TZSP_PORT ||
        sport == CAPWAP_DATA_PORT || dport == CAPWAP_DATA_PORT)
        return true;
    return opt->extra_tunnels &&
           (dport == VXLAN_PORT || dport == GENEVE_PORT || dport == MPLS_UDP_PORT);
}

/* decode.c: the general steps, for every frame the fast path (decode_fast.c) does not take:
 * from a cleared packet, as nfs_decode() documents. */
enum nfs_counter nfs_decode_steps(struct nfs_packet *pkt, int dlt, const uint8_t *data,
                                  const struct nfs_decode_options *opt);

/* TCP: flags and data offset only when captured; without the data offset, assume no options. */
static inline void
nfs_decode_parse_tcp(struct nfs_packet *pkt, const uint8_t *l4, uint32_t avail, uint16_t l4_len)
{
    uint32_t hdr_len = avail >= 13 ? (l4[12] >> 4) * 4u : 20;

    if (avail >= 14)
        pkt->tcp_flags = l4[13];
    pkt->transport_size = l4_len;
    pkt->payload_size = l4_len > hdr_len ? (uint16_t)(l4_len - hdr_len) : 0;
}

/* NFStream's per-protocol L4 fields; "other" protocols (and short TCP/UDP) keep zeros. For
 * nfs_decode_parse() and the fast path (decode_fast.c), where it is most of the work. */
static inline __attribute__((always_inline)) void
nfs_decode_parse_l4(struct nfs_packet *pkt, const uint8_t *l4, uint32_t avail, uint16_t l4_len)
{
    bool tcp = pkt->protocol == NFS_IPPROTO_TCP && l4_len >= 20;
    bool udp = pkt->protocol == NFS_IPPROTO_UDP && l4_len >= 8;

    if ((tcp || udp) && avail >= 4) {
        pkt->src_port = nfs_be16(l4);
        pkt->dst_port = nfs_be16(l4 + 2);
    }
    if (tcp) {
        nfs_decode_parse_tcp(pkt, l4, avail, l4_len);
    } else if (udp || pkt->protocol == NFS_IPPROTO_ICMP || pkt->protocol == NFS_IPPROTO_ICMPV6) {
        pkt->transport_size = l4_len;
        pkt->payload_size = l4_len > 8 ? (uint16_t)(l4_len - 8) : 0;
    }
}

#endif
