/*
 * decode_tunnel.c: GTP-U, TZSP and CAPWAP data, decoded when decode_tunnels is on.
 *
 * NFStream's tunnel block of packet_process, in its order and with its quirks: the port tests
 * form one if/else chain (a GTP port on a packet too short for GTP falls through to the TZSP
 * and CAPWAP tests); GTP-U goes straight to packet_parse with the inner header (no fragment
 * check, no IP-in-IP); TZSP sets tunnel_id 3 before validating its header and re-enters the link
 * layer with the capture's own DLT right after the first tag; CAPWAP re-enters the IP check
 * with the ethertype taken from the inner LLC header. Unlike NFStream, the UDP header of an
 * IPv6 packet is found after its extension headers (NFStream adds the payload length there).
 */
#include "decode_internal.h"

#define GTP_U_PORT       2152
#define TZSP_PORT        37008
#define CAPWAP_DATA_PORT 5247
#define UDP_HDR_LEN      8

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

enum nfs_counter
nfs_decode_tunnel(struct nfs_decode_cursor *c, enum nfs_decode_step *next)
{
    uint32_t udp = c->ip_offset + c->l4_offset;

    *next = NFS_STEP_PARSE;
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
    return NFS_C_PROCESSED;
}
