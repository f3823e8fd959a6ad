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

#define IPV6_HDR_LEN 40

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

/* TCP: flags and data offset only when captured; without the data offset, assume no options. */
static void
parse_tcp(struct nfs_packet *pkt, const uint8_t *l4, uint32_t avail, uint16_t l4_len)
{
    uint32_t hdr_len = avail >= 13 ? (l4[12] >> 4) * 4u : 20;

    if (avail >= 14)
        pkt->tcp_flags = l4[13];
    pkt->transport_size = l4_len;
    pkt->payload_size = l4_len > hdr_len ? (uint16_t)(l4_len - hdr_len) : 0;
}

/* NFStream's per-protocol L4 fields; "other" protocols (and short TCP/UDP) keep zeros. Inlined
 * into the fast path too, where it is most of the work. */
static inline __attribute__((always_inline)) void
parse_l4(struct nfs_packet *pkt, const uint8_t *l4, uint32_t avail, uint16_t l4_len)
{
    bool tcp = pkt->protocol == NFS_IPPROTO_TCP && l4_len >= 20;
    bool udp = pkt->protocol == NFS_IPPROTO_UDP && l4_len >= 8;

    if ((tcp || udp) && avail >= 4) {
        pkt->src_port = nfs_be16(l4);
        pkt->dst_port = nfs_be16(l4 + 2);
    }
    if (tcp) {
        parse_tcp(pkt, l4, avail, l4_len);
    } else if (udp || pkt->protocol == NFS_IPPROTO_ICMP || pkt->protocol == NFS_IPPROTO_ICMPV6) {
        pkt->transport_size = l4_len;
        pkt->payload_size = l4_len > 8 ? (uint16_t)(l4_len - 8) : 0;
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
    parse_l4(pkt, ip + l4.offset, ipsize - l4.offset, l4.len);
    return NFS_C_PROCESSED;
}

/* The fast path's L4: TCP, or UDP whose ports no tunnel decoder looks at (with tunnels on, a
 * UDP header not captured whole is the tunnel decoder's truncation: left to the general steps). */
static bool
fast_l4_ok(uint8_t proto, const uint8_t *l4, uint32_t avail, const struct nfs_decode_options *opt)
{
    if (proto == NFS_IPPROTO_TCP)
        return true;
    if (proto != NFS_IPPROTO_UDP)
        return false;
    if (!opt->decode_tunnels)
        return true;
    return avail >= 8 && !nfs_decode_udp_tunnel_port(opt, nfs_be16(l4), nfs_be16(l4 + 2));
}

/* nfs_packet's fields, less the caller's (times, lengths, MACs): the fast path writes each of
 * them instead of clearing the whole struct (a `rep stos` a packet). A new field goes here. */
_Static_assert(sizeof(struct nfs_packet) == 104, "nfs_decode_fast writes every field");

/* What nfs_decode_parse() sets for every IP version, then the L4 fields (zero unless set). */
static inline __attribute__((always_inline)) void
fast_fill(struct nfs_packet *pkt, const uint8_t *ip, uint32_t ipsize, uint8_t proto,
          uint32_t l4_offset, uint16_t l4_len)
{
    pkt->ip = ip;
    pkt->ip_cap_len = ipsize;
    pkt->protocol = proto;
    pkt->vlan_id = 0;
    pkt->tunnel_id = 0;
    pkt->src_port = 0;
    pkt->dst_port = 0;
    pkt->tcp_flags = 0;
    pkt->transport_size = 0;
    pkt->payload_size = 0;
    parse_l4(pkt, ip + l4_offset, ipsize - l4_offset, l4_len);
}

/* IPv4 that the general steps would take whole: a header of at least 20 bytes, captured, a total
 * length that covers it (parse_ipv4's length check then passes), first or only fragment. */
static bool
fast_ipv4(struct nfs_packet *pkt, const uint8_t *ip, uint32_t ipsize,
          const struct nfs_decode_options *opt)
{
    uint32_t ihl_len = (ip[0] & 0x0F) * 4u;
    uint16_t tot_len = nfs_be16(ip + 2);
    uint8_t proto = ip[9];

    if (ihl_len < 20 || ihl_len > ipsize || tot_len < ihl_len || (nfs_be16(ip + 6) & 0x1FFF) != 0 ||
        !fast_l4_ok(proto, ip + ihl_len, ipsize - ihl_len, opt))
        return false;
    pkt->ip_version = 4;
    pkt->src_ip = (struct nfs_ip){.w = {0}};
    pkt->dst_ip = (struct nfs_ip){.w = {0}};
    memcpy(pkt->src_ip.b, ip + 12, 4);
    memcpy(pkt->dst_ip.b, ip + 16, 4);
    pkt->ip_size = tot_len;
    pkt->ip_octets = tot_len;
    fast_fill(pkt, ip, ipsize, proto, ihl_len, (uint16_t)(tot_len - ihl_len));
    return true;
}

/* IPv6 captured up to its payload length whose next header is the L4 one. */
static bool
fast_ipv6(struct nfs_packet *pkt, const uint8_t *ip, uint32_t ipsize,
          const struct nfs_decode_options *opt)
{
    uint16_t payload_len = nfs_be16(ip + 4);
    uint8_t proto = ip[6];

    if (ipsize < IPV6_HDR_LEN + (uint32_t)payload_len ||
        !fast_l4_ok(proto, ip + IPV6_HDR_LEN, ipsize - IPV6_HDR_LEN, opt))
        return false;
    pkt->ip_version = 6;
    memcpy(pkt->src_ip.b, ip + 8, 16);
    memcpy(pkt->dst_ip.b, ip + 24, 16);
    pkt->ip_size = payload_len;
    pkt->ip_octets = IPV6_HDR_LEN + (uint32_t)payload_len;
    fast_fill(pkt, ip, ipsize, proto, IPV6_HDR_LEN, payload_len);
    return true;
}

/* On false, pkt is partly written: the caller decodes it again from a cleared struct. */
bool
nfs_decode_fast(struct nfs_packet *pkt, const uint8_t *data, const struct nfs_decode_options *opt)
{
    const uint8_t *ip = data + 14;
    uint32_t ipsize = pkt->cap_len - 14;
    uint16_t type;
    bool ok;

    if (pkt->cap_len < 14 + 20) /* the steps' link and IP truncation checks pass */
        return false;
    type = nfs_be16(data + 12);
    if (type == NFS_ETH_P_IP)
        ok = ip[0] >> 4 == 4 && fast_ipv4(pkt, ip, ipsize, opt);
    else
        ok = type == NFS_ETH_P_IPV6 && ip[0] >> 4 == 6 && fast_ipv6(pkt, ip, ipsize, opt);
    if (ok)
        copy_macs(pkt, data + 6, data);
    return ok;
}
