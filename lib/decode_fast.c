/*
 * decode_fast.c: the decoder's entry point, and the common case decoded at once.
 *
 * Ethernet II carrying IPv4, or IPv6 without extension headers, carrying TCP, or UDP that is no
 * tunnel, is nearly every packet a sensor sees. decode_fast() takes those in one pass, with
 * the same checks and the same result as the general steps (decode.c, decode_ip.c), and
 * writes every field of the packet itself instead of clearing the struct first. Every other
 * frame, and every frame one of its checks turns down, goes to nfs_decode_steps().
 */
#include <pcap/dlt.h>

#include "decode_internal.h"

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

/* nfs_packet's fields, less the caller's (times, lengths): the fast path writes each of
 * them instead of clearing the whole struct (a `rep stos` a packet). A new field goes here. */
_Static_assert(sizeof(struct nfs_packet) == 104, "decode_fast writes every field");

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
    nfs_decode_parse_l4(pkt, ip + l4_offset, ipsize - l4_offset, l4_len);
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
static bool
decode_fast(struct nfs_packet *pkt, const uint8_t *data, const struct nfs_decode_options *opt)
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

enum nfs_counter
nfs_decode(struct nfs_packet *pkt, int dlt, const uint8_t *data,
           const struct nfs_decode_options *opt)
{
    if (dlt == DLT_EN10MB && decode_fast(pkt, data, opt))
        return NFS_C_PROCESSED;
    return nfs_decode_steps(pkt, dlt, data, opt);
}
