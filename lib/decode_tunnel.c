/*
 * decode_tunnel.c: the tunnels decoded when decode_tunnels is on.
 *
 * GTP-U, TZSP and CAPWAP data are NFStream's tunnel block of packet_process, in its order and
 * with its quirks: the port tests form one if/else chain (a GTP port on a packet too short for
 * GTP falls through to the TZSP and CAPWAP tests); GTP-U goes straight to packet_parse with the
 * inner header (no fragment check, no IP-in-IP); TZSP sets tunnel_id 3 before validating its
 * header and re-enters the link layer with the capture's own DLT right after the first tag;
 * CAPWAP re-enters the IP check with the ethertype taken from the inner LLC header. Unlike
 * NFStream, the UDP header of an IPv6 packet is found after its extension headers (NFStream
 * adds the payload length there).
 *
 * With extra_tunnels (nfsensor's, not NFStream's), the chain goes on with VXLAN (UDP 4789),
 * Geneve (6081) and MPLS-in-UDP (6635), matched on the destination port as their RFCs assign
 * it, and GRE (IP protocol 47) carrying IP, Ethernet (0x6558), ERSPAN I/II/III, MPLS or, in
 * PPTP's enhanced GRE, PPP. An inner Ethernet frame re-enters the link layer as Ethernet (its
 * MACs and VLAN tags then count, as for TZSP); an inner IP packet re-enters the IP check.
 * A header that does not validate, or is cut by the snap length, leaves the outer packet to be
 * metered as it is: such a packet is still a valid UDP or GRE packet.
 */
#include <pcap/dlt.h>

#include "decode_internal.h"

#define UDP_HDR_LEN      8

/* GRE protocol types (ethertypes) nfsensor follows. */
#define GRE_P_TEB     0x6558 /* transparent Ethernet bridging */
#define GRE_P_ERSPAN  0x88BE /* ERSPAN type I (no header) and II */
#define GRE_P_ERSPAN3 0x22EB
#define GRE_P_PPP     0x880B /* PPTP enhanced GRE (version 1) */

#define GRE_F_CSUM    0x8000
#define GRE_F_ROUTING 0x4000
#define GRE_F_KEY     0x2000
#define GRE_F_SEQ     0x1000
#define GRE_F_ACK     0x0080 /* version 1 only */

/* GTPv1 extension headers: length byte in 4-byte units, last byte is the next type. False on
 * a zero length or when the walk leaves the capture. */
static bool
gtp_skip_extensions(const struct nfs_decode_cursor *c, uint32_t *off)
{
    while (*off < c->caplen) {
        uint32_t ext_len = c->data[*off] * 4u;
        *off += ext_len;
        if (*off >= c->caplen || ext_len == 0)
            return false;
        if (c->data[*off - 1] == 0)
            break;
    }
    return true;
}

/* The inner header must be IPv4 or IPv6 and hold its fixed part; then packet_parse. */
static enum nfs_counter
gtp_inner(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    unsigned version = c->data[off] >> 4;

    c->tunnel_id = NFS_TUNNEL_GTP_U;
    c->ip_offset = off;
    if (version == 6 && c->caplen < off + 40)
        return NFS_C_IPV6_TRUNCATED;
    if (version != 6 && version != 4)
        return NFS_C_IP_VERSION;
    if (version == 4 && c->caplen < off + 20)
        return NFS_C_IP_TRUNCATED;
    *next = NFS_STEP_PARSE;
    return NFS_C_PROCESSED;
}

/* GTPv1-U T-PDU (flags version 1, message type 0xFF); anything else is left as plain UDP. */
static enum nfs_counter
decode_gtp(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    uint8_t flags = c->data[off], message_type = c->data[off + 1];

    if ((flags & 0xE0) >> 5 != 1 || message_type != 0xFF)
        return NFS_C_PROCESSED;
    off += 8;
    if (flags & 0x07) /* sequence number, N-PDU number, next extension type */
        off += 4;
    if ((flags & 0x04) && !gtp_skip_extensions(c, &off))
        return NFS_C_PROCESSED;
    if (off >= c->caplen)
        return NFS_C_PROCESSED;
    return gtp_inner(c, off, next);
}

/*
 * TZSP: version 1, type 0 (received), encapsulating Ethernet (1). NFStream's tag loop never
 * gets past its first tag: after it (padding 1 byte, end 1 byte, else the tag's length byte
 * alone), the frame is re-decoded from there with the capture's own link type.
 */
static enum nfs_counter
decode_tzsp(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    const uint8_t *p = c->data + off;
    uint32_t tag_len;

    if (c->caplen < off + 4)
        return NFS_C_TUNNEL_TRUNCATED;
    c->tunnel_id = NFS_TUNNEL_TZSP;
    if (p[0] != 1 || p[1] != 0 || nfs_be16(p + 2) != 1)
        return NFS_C_PROCESSED;
    off += 4;
    if (off >= c->caplen)
        return NFS_C_PROCESSED;
    if (c->data[off] == 0 || c->data[off] == 1) {
        tag_len = 1;
    } else {
        if (off + 1 >= c->caplen)
            return NFS_C_TUNNEL_TRUNCATED;
        tag_len = c->data[off + 1];
    }
    off += tag_len;
    if (off >= c->caplen)
        return NFS_C_TUNNEL_TRUNCATED;
    c->eth_offset = off;
    *next = NFS_STEP_LINK;
    return NFS_C_PROCESSED;
}

/* CAPWAP data: header length from HLEN, then an 802.11 header (24 bytes) and LLC/SNAP (8).
 * MACs are the transmitter (address 2) and NFStream's "dest" (address 3). */
static enum nfs_counter
decode_capwap(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    struct nfs_packet *pkt = c->pkt;

    if (off + 1 >= c->caplen || (c->data[off] & 0x0F) != 0)
        return NFS_C_PROCESSED;
    off += (c->data[off + 1] & 0xF8) >> 1;
    if (off + 32 >= c->caplen)
        return NFS_C_PROCESSED;
    memcpy(pkt->src_mac, c->data + off + 10, 6);
    memcpy(pkt->dst_mac, c->data + off + 16, 6);
    pkt->has_mac = true;
    off += 24;
    c->type = nfs_be16(c->data + off + 6);
    c->ip_offset = off + 8;
    c->tunnel_id = NFS_TUNNEL_CAPWAP;
    *next = NFS_STEP_IP;
    return NFS_C_PROCESSED;
}

/* ---- nfsensor's tunnels (extra_tunnels) ---- */

/* The inner Ethernet frame at off: decoding restarts at the link layer as Ethernet, without
 * the 802.3 length NFStream carries across a TZSP re-entry. */
static enum nfs_counter
enter_ethernet(struct nfs_decode_cursor *c, uint32_t off, uint8_t tunnel_id,
               enum nfs_decode_step *next)
{
    if (off >= c->caplen)
        return NFS_C_PROCESSED;
    c->eth_offset = off;
    c->dlt = DLT_EN10MB;
    c->pyld_eth_len = 0;
    c->tunnel_id = tunnel_id;
    *next = NFS_STEP_LINK;
    return NFS_C_PROCESSED;
}

/* The inner IP packet at off: decoding restarts at the IP check, the version nibble giving the
 * ethertype. Anything but IPv4/IPv6 leaves the outer packet. */
static enum nfs_counter
enter_ip(struct nfs_decode_cursor *c, uint32_t off, uint8_t tunnel_id, enum nfs_decode_step *next)
{
    unsigned version;

    if (off >= c->caplen)
        return NFS_C_PROCESSED;
    version = c->data[off] >> 4;
    if (version != 4 && version != 6)
        return NFS_C_PROCESSED;
    c->type = version == 4 ? NFS_ETH_P_IP : NFS_ETH_P_IPV6;
    c->ip_offset = off;
    c->tunnel_id = tunnel_id;
    *next = NFS_STEP_IP;
    return NFS_C_PROCESSED;
}

/* An MPLS label stack at off, then IP (RFC 7510, RFC 4023). */
static enum nfs_counter
enter_mpls(struct nfs_decode_cursor *c, uint32_t off, uint8_t tunnel_id,
           enum nfs_decode_step *next)
{
    for (;;) {
        if (off + 4 > c->caplen)
            return NFS_C_PROCESSED;
        off += 4;
        if (c->data[off - 2] & 0x01) /* bottom of stack */
            return enter_ip(c, off, tunnel_id, next);
    }
}

/* VXLAN: flags with the I bit (valid VNI), 3 reserved bytes, VNI, reserved; then Ethernet. */
static enum nfs_counter
decode_vxlan(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    if (off + 8 > c->caplen || !(c->data[off] & 0x08))
        return NFS_C_PROCESSED;
    return enter_ethernet(c, off + 8, NFS_TUNNEL_VXLAN, next);
}

/* Geneve: version 0, options length in 4-byte words, protocol type (Ethernet or IP). */
static enum nfs_counter
decode_geneve(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    const uint8_t *p = c->data + off;
    uint16_t proto;

    if (off + 8 > c->caplen || p[0] >> 6 != 0)
        return NFS_C_PROCESSED;
    proto = nfs_be16(p + 2);
    off += 8 + (p[0] & 0x3F) * 4u;
    if (proto == GRE_P_TEB)
        return enter_ethernet(c, off, NFS_TUNNEL_GENEVE, next);
    if (proto == NFS_ETH_P_IP || proto == NFS_ETH_P_IPV6)
        return enter_ip(c, off, NFS_TUNNEL_GENEVE, next);
    return NFS_C_PROCESSED;
}

/*
 * ERSPAN after its GRE header. Type I has no header of its own (GRE without sequence number),
 * type II an 8-byte one (version 1), type III 12 bytes (version 2) plus an 8-byte platform
 * subheader when its O bit is set. The mirrored Ethernet frame follows.
 */
static enum nfs_counter
decode_erspan(struct nfs_decode_cursor *c, uint32_t off, uint16_t proto, bool seq,
              enum nfs_decode_step *next)
{
    if (proto == GRE_P_ERSPAN && !seq)
        return enter_ethernet(c, off, NFS_TUNNEL_ERSPAN, next);
    if (off + 12 > c->caplen)
        return NFS_C_PROCESSED;
    unsigned version = c->data[off] >> 4;
    if (proto == GRE_P_ERSPAN && version == 1)
        return enter_ethernet(c, off + 8, NFS_TUNNEL_ERSPAN, next);
    if (proto == GRE_P_ERSPAN3 && version == 2)
        return enter_ethernet(c, off + 12 + ((c->data[off + 11] & 0x01) ? 8 : 0),
                              NFS_TUNNEL_ERSPAN, next);
    return NFS_C_PROCESSED;
}

/* PPP inside PPTP's GRE: optional address/control (FF 03), then a 1- or 2-byte protocol. */
static enum nfs_counter
decode_gre_ppp(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    uint16_t proto;

    if (off + 2 <= c->caplen && c->data[off] == 0xFF && c->data[off + 1] == 0x03)
        off += 2;
    if (off >= c->caplen)
        return NFS_C_PROCESSED;
    if (c->data[off] & 0x01) { /* protocol field compression */
        proto = c->data[off];
        off += 1;
    } else {
        if (off + 2 > c->caplen)
            return NFS_C_PROCESSED;
        proto = nfs_be16(c->data + off);
        off += 2;
    }
    if (proto == 0x0021 || proto == 0x0057) /* IPv4, IPv6 */
        return enter_ip(c, off, NFS_TUNNEL_GRE, next);
    return NFS_C_PROCESSED;
}

/* Length of a GRE header (RFC 2784/2890, or PPTP's version 1); 0 when not one we follow. */
static uint32_t
gre_header_len(uint16_t flags, uint16_t proto)
{
    unsigned version = flags & 0x07;

    if (flags & GRE_F_ROUTING)
        return 0;
    if (version == 0)
        return 4 + ((flags & GRE_F_CSUM) ? 4 : 0) + ((flags & GRE_F_KEY) ? 4 : 0) +
               ((flags & GRE_F_SEQ) ? 4 : 0);
    if (version == 1 && proto == GRE_P_PPP && (flags & GRE_F_KEY))
        return 8 + ((flags & GRE_F_SEQ) ? 4 : 0) + ((flags & GRE_F_ACK) ? 4 : 0);
    return 0;
}

static enum nfs_counter
decode_gre(struct nfs_decode_cursor *c, uint32_t off, enum nfs_decode_step *next)
{
    if (off + 4 > c->caplen)
        return NFS_C_PROCESSED;
    uint16_t flags = nfs_be16(c->data + off), proto = nfs_be16(c->data + off + 2);
    uint32_t len = gre_header_len(flags, proto);
    if (len == 0)
        return NFS_C_PROCESSED;
    off += len;
    switch (proto) {
    case NFS_ETH_P_IP:
    case NFS_ETH_P_IPV6:
        return enter_ip(c, off, NFS_TUNNEL_GRE, next);
    case GRE_P_TEB:
        return enter_ethernet(c, off, NFS_TUNNEL_GRE, next);
    case GRE_P_ERSPAN:
    case GRE_P_ERSPAN3:
        return decode_erspan(c, off, proto, flags & GRE_F_SEQ, next);
    case NFS_ETH_P_MPLS:
    case NFS_ETH_P_MPLS_M:
        return enter_mpls(c, off, NFS_TUNNEL_GRE, next);
    case GRE_P_PPP:
        return decode_gre_ppp(c, off, next);
    default:
        return NFS_C_PROCESSED;
    }
}

/* nfsensor's UDP tunnels, by destination port. */
static enum nfs_counter
decode_udp_extra(struct nfs_decode_cursor *c, uint16_t dport, uint32_t payload,
                 enum nfs_decode_step *next)
{
    if (dport == VXLAN_PORT)
        return decode_vxlan(c, payload, next);
    if (dport == GENEVE_PORT)
        return decode_geneve(c, payload, next);
    if (dport == MPLS_UDP_PORT)
        return enter_mpls(c, payload, NFS_TUNNEL_MPLS_UDP, next);
    return NFS_C_PROCESSED;
}

static enum nfs_counter
decode_udp(struct nfs_decode_cursor *c, uint32_t udp, enum nfs_decode_step *next)
{
    if (c->caplen < udp + UDP_HDR_LEN)
        return NFS_C_TUNNEL_TRUNCATED;
    uint16_t sport = nfs_be16(c->data + udp), dport = nfs_be16(c->data + udp + 2);
    uint32_t payload = udp + UDP_HDR_LEN;
    if ((sport == GTP_U_PORT || dport == GTP_U_PORT) && payload + 8 < c->caplen)
        return decode_gtp(c, payload, next);
    if (sport == TZSP_PORT || dport == TZSP_PORT)
        return decode_tzsp(c, payload, next);
    if (sport == CAPWAP_DATA_PORT || dport == CAPWAP_DATA_PORT)
        return decode_capwap(c, payload, next);
    if (c->opt->extra_tunnels)
        return decode_udp_extra(c, dport, payload, next);
    return NFS_C_PROCESSED;
}

enum nfs_counter
nfs_decode_tunnel(struct nfs_decode_cursor *c, enum nfs_decode_step *next)
{
    uint32_t l4 = c->ip_offset + c->l4_offset;

    *next = NFS_STEP_PARSE;
    if (c->proto == NFS_IPPROTO_GRE)
        return decode_gre(c, l4, next);
    return decode_udp(c, l4, next);
}
