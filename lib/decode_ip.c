/*
 * decode_ip.c: IPv4, IPv6 and its extension headers, IP-in-IP, and the L4 fields.
 *
 * nfs_decode_ip() is NFStream's iph_check loop: it trusts the version nibble, unwraps IP-in-IP
 * (IPv4 protocol 4/41, IPv6 final next header 4/41) whatever decode_tunnels says, and drops
 * what NFStream drops: non-first IPv4 fragments (only seen when the ethertype said IPv4), IPv6
 * not captured up to its payload length, IPv6 failing nDPI's extension-header walk.
 * nfs_decode_parse() is NFStream's packet_parse: L4 offset and length from the headers, ports,
 * TCP flags and the four accounting sizes. Truncated IPv4 is accepted; then only captured L4
 * bytes are read (ports need 4, TCP flags 14), never anything past caplen.
 */
#include "decode_internal.h"

/* Where the L4 header starts (from the IP header) and how long the L4 part is per the headers. */
struct l4_loc {
    uint32_t offset;
    uint16_t len;
    uint8_t proto;
};

static bool
is_ipv6_ext(uint8_t nxt)
{
    return nxt == 0 || nxt == 43 || nxt == 44 || nxt == 60 || nxt == 135 || nxt == 59;
}

/* One fragment header, as nDPI: its l3len bookkeeping subtracts 5, not 8. */
static enum nfs_counter
ipv6_frag_header(const uint8_t *ip, uint32_t ipsize, uint32_t *l3len, struct l4_loc *l4)
{
    if (l4->len < 8 || *l3len < 5 || l4->offset + 8 > ipsize)
        return NFS_C_IPV6_EXT_HEADER;
    *l3len -= 5;
    l4->proto = ip[l4->offset];
    if (nfs_be16(ip + l4->offset + 2) >> 3 != 0)
        return NFS_C_IPV6_FRAGMENT;
    l4->len -= 8;
    l4->offset += 8;
    return NFS_C_PROCESSED;
}

/* Any other extension header: next header, length in 8-byte units not counting the first 8. */
static enum nfs_counter
ipv6_other_header(const uint8_t *ip, uint32_t ipsize, uint32_t *l3len, struct l4_loc *l4)
{
    if (l4->len < 2 || l4->offset + 2 > ipsize)
        return NFS_C_IPV6_EXT_HEADER;
    uint32_t ehdr_len = ip[l4->offset + 1] * 8u + 8;
    if (ehdr_len > *l3len || l4->len < ehdr_len || l4->offset + ehdr_len > ipsize)
        return NFS_C_IPV6_EXT_HEADER;
    *l3len -= ehdr_len;
    l4->proto = ip[l4->offset];
    l4->len = (uint16_t)(l4->len - ehdr_len);
    l4->offset += ehdr_len;
    return NFS_C_PROCESSED;
}

/*
 * nDPI's ndpi_handle_ipv6_extension_headers(l3len = ipsize - 40, &l4ptr, &l4len = payload_len,
 * &nxt), with our own bounds checks added. The caller has checked ipsize >= 40 + payload_len.
 */
static enum nfs_counter
ipv6_ext_headers(const uint8_t *ip, uint32_t ipsize, struct l4_loc *l4)
{
    uint32_t l3len = ipsize - IPV6_HDR_LEN;
    enum nfs_counter rc;

    l4->offset = IPV6_HDR_LEN;
    l4->len = nfs_be16(ip + 4);
    l4->proto = ip[6];
    while (l3len > 1 && is_ipv6_ext(l4->proto)) {
        if (l4->proto == 59)
            return NFS_C_IPV6_NO_NEXT;
        if (l4->proto == 44)
            rc = ipv6_frag_header(ip, ipsize, &l3len, l4);
        else
            rc = ipv6_other_header(ip, ipsize, &l3len, l4);
        if (rc != NFS_C_PROCESSED)
            return rc;
    }
    return NFS_C_PROCESSED;
}

/* Checks the IPv6 header at ip (ipsize captured bytes) and walks its extension headers. */
static enum nfs_counter
ipv6_locate_l4(const uint8_t *ip, uint32_t ipsize, struct l4_loc *l4)
{
    if (ipsize < IPV6_HDR_LEN || ipsize < IPV6_HDR_LEN + (uint32_t)nfs_be16(ip + 4))
        return NFS_C_IPV6_TRUNCATED;
    return ipv6_ext_headers(ip, ipsize, l4);
}

static bool
is_ip_in_ip(uint8_t proto)
{
    return proto == NFS_IPPROTO_IPIP || proto == NFS_IPPROTO_IPV6;
}

/* One IPv4 header of the iph_check loop; *again when an inner IP header follows. */
static enum nfs_counter
ipv4_step(struct nfs_decode_cursor *c, const uint8_t *ip, bool *again)
{
    uint32_t ihl_len = (ip[0] & 0x0F) * 4u;

    c->l4_offset = ihl_len;
    if (is_ip_in_ip(ip[9])) {
        c->ip_offset += ihl_len;
        if (ihl_len > 0) {
            *again = true;
            return NFS_C_PROCESSED;
        }
    }
    if ((c->frag_off & 0x1FFF) != 0)
        return NFS_C_IPV4_FRAGMENT;
    return NFS_C_PROCESSED;
}

/* One IPv6 header of the iph_check loop; *again when an inner IP header follows. */
static enum nfs_counter
ipv6_step(struct nfs_decode_cursor *c, const uint8_t *ip, bool *again)
{
    struct l4_loc l4;
    enum nfs_counter rc = ipv6_locate_l4(ip, c->caplen - c->ip_offset, &l4);

    if (rc != NFS_C_PROCESSED)
        return rc;
    c->proto = l4.proto;
    c->l4_offset = l4.offset;
    if (is_ip_in_ip(l4.proto)) {
        c->ip_offset += l4.offset;
        *again = true;
    }
    return NFS_C_PROCESSED;
}

enum nfs_counter
nfs_decode_ip(struct nfs_decode_cursor *c)
{
    enum nfs_counter rc;

    for (;;) {
        if (c->caplen < c->ip_offset + 20)
            return NFS_C_IP_TRUNCATED;
        const uint8_t *ip = c->data + c->ip_offset;
        if (c->type == NFS_ETH_P_IP) { /* NFStream reads these only for an IPv4 ethertype */
            c->frag_off = nfs_be16(ip + 6);
            c->proto = ip[9];
        }
        bool again = false;
        if (ip[0] >> 4 == 4)
            rc = ipv4_step(c, ip, &again);
        else if (ip[0] >> 4 == 6)
            rc = ipv6_step(c, ip, &again);
        else
            return NFS_C_IP_VERSION;
        if (rc != NFS_C_PROCESSED || !again)
            return rc;
        if (++c->depth > NFS_DECODE_MAX_DEPTH)
            return NFS_C_TUNNEL_DEPTH;
    }
}

/* packet_get_ip_info for IPv4: l4_len is NFStream's uint16_t tot_len - ihl*4, which wraps. */
static enum nfs_counter
parse_ipv4(struct nfs_packet *pkt, const uint8_t *ip, uint32_t ipsize, struct l4_loc *l4)
{
    uint16_t tot_len = nfs_be16(ip + 2);

    if (ipsize < 20)
        return NFS_C_IP_TRUNCATED;
    l4->offset = (ip[0] & 0x0F) * 4u;
    if (l4->offset > ipsize)
        return NFS_C_IPV4_BAD_HEADER;
    l4->len = (uint16_t)(tot_len - l4->offset);
    l4->proto = ip[9];
    if ((tot_len > ipsize ? tot_len : ipsize) < l4->offset + l4->len)
        return NFS_C_IPV4_BAD_LENGTH;
    memcpy(pkt->src_ip.b, ip + 12, 4);
    memcpy(pkt->dst_ip.b, ip + 16, 4);
    pkt->ip_size = tot_len;
    pkt->ip_octets = tot_len;
    return NFS_C_PROCESSED;
}

/* packet_get_ipv6_info: the extension headers are walked again from the IPv6 header, as
 * NFStream does (after GTP-U this is the first walk). ip_size is the payload length. */
static enum nfs_counter
parse_ipv6(struct nfs_packet *pkt, const uint8_t *ip, uint32_t ipsize, struct l4_loc *l4)
{
    enum nfs_counter rc = ipv6_locate_l4(ip, ipsize, l4);

    if (rc != NFS_C_PROCESSED)
        return rc;
    memcpy(pkt->src_ip.b, ip + 8, 16);
    memcpy(pkt->dst_ip.b, ip + 24, 16);
    pkt->ip_size = nfs_be16(ip + 4);
    pkt->ip_octets = IPV6_HDR_LEN + (uint32_t)pkt->ip_size;
    return NFS_C_PROCESSED;
}

enum nfs_counter
nfs_decode_parse(struct nfs_decode_cursor *c)
{
    struct nfs_packet *pkt = c->pkt;
    const uint8_t *ip = c->data + c->ip_offset;
    uint32_t ipsize = c->caplen - c->ip_offset;
    struct l4_loc l4;
    enum nfs_counter rc;

    pkt->ip_version = ip[0] >> 4;
    if (pkt->ip_version == 4)
        rc = parse_ipv4(pkt, ip, ipsize, &l4);
    else
        rc = parse_ipv6(pkt, ip, ipsize, &l4);
    if (rc != NFS_C_PROCESSED)
        return rc;
    pkt->ip = ip;
    pkt->ip_cap_len = ipsize;
    pkt->protocol = l4.proto;
    pkt->vlan_id = c->vlan_id;
    pkt->tunnel_id = c->tunnel_id;
    nfs_decode_parse_l4(pkt, ip + l4.offset, ipsize - l4.offset, l4.len);
    return NFS_C_PROCESSED;
}
