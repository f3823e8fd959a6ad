/*
 * test_decode_tunnel.c: the decoder's tunnels: GTP-U, CAPWAP and TZSP (decode_tunnels), and
 * nfsensor's own (extra_tunnels: VXLAN, Geneve, GRE, ERSPAN, MPLS-in-UDP), nested ones too.
 *
 * Frames and decoder runs: frames.h.
 */
#include "frames.h"

/* ---- tunnels ---- */

/* eth + IPv4 + UDP to port with the given tunnel payload already at f + 42. */
static size_t
wrap_udp4(uint8_t *f, uint16_t dport, size_t inner_len)
{
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 17, (uint16_t)(8 + inner_len));
    put_udp(f, off, 40000, dport, (uint16_t)(8 + inner_len));
    return 42 + inner_len;
}

static void
test_gtp_u(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    size_t off = 42;
    f[off] = 0x30; /* version 1, PT 1 */
    f[off + 1] = 0xFF;
    put16(f, off + 2, 20 + 20);
    off += 8;
    off = put_ipv4_full(f, off, 5, 6, 20, 0, v4_in_src, v4_in_dst);
    off = put_tcp(f, off, 3333, 80, NFS_TCP_SYN, 5);
    size_t len = wrap_udp4(f, 2152, off - 42);

    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GTP_U);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK(ip_is(&p.dst_ip, v4_in_dst, 4));
    CHECK_EQ(p.protocol, 6);
    CHECK_EQ(p.src_port, 3333);
    CHECK_EQ(p.ip_size, 40);
    CHECK_EQ(last_ip_off, 50);
    CHECK(memcmp(p.src_mac, mac_src, 6) == 0);

    /* Tunnels off: the outer UDP packet. */
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, false), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK(ip_is(&p.src_ip, v4_src, 4));
    CHECK_EQ(p.dst_port, 2152);
}

static void
test_gtp_u_extension_header(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    size_t off = 42;
    f[off] = 0x34; /* version 1, PT 1, E */
    f[off + 1] = 0xFF;
    f[off + 11] = 0x85; /* next extension: PDU session container */
    off += 12;
    f[off] = 1; /* 4 bytes, last byte (next type) 0 */
    off += 4;
    off = put_ipv6(f, off, 17, 12);
    off = put_udp(f, off, 2000, 53, 12) + 4;
    size_t len = wrap_udp4(f, 2152, off - 42);

    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GTP_U);
    CHECK_EQ(p.ip_version, 6);
    CHECK(ip_is(&p.src_ip, v6_src, 16));
    CHECK_EQ(p.src_port, 2000);

    /* Not a T-PDU: plain UDP. */
    f[43] = 0x01;
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.dst_port, 2152);
}

static void
test_capwap(void)
{
    static const uint8_t snap_ip[8] = {0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00};
    static const uint8_t a2[6] = {0xa2, 2, 2, 2, 2, 2}, a3[6] = {0xa3, 3, 3, 3, 3, 3};
    uint8_t f[256] = {0};
    struct nfs_packet p;
    size_t off = 42;
    f[off] = 0x00;
    f[off + 1] = 0x10; /* HLEN 2 words = 8 bytes */
    off += 8;
    f[off] = 0x08; /* data */
    f[off + 1] = 0x01;
    put(f, off + 10, a2, 6);
    put(f, off + 16, a3, 6);
    off = put(f, off + 24, snap_ip, 8);
    off = put_ipv4_full(f, off, 5, 17, 12, 0, v4_in_src, v4_in_dst);
    off = put_udp(f, off, 67, 68, 12) + 4;
    size_t len = wrap_udp4(f, 5247, off - 42);

    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_CAPWAP);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.src_port, 67);
    CHECK(memcmp(p.src_mac, a2, 6) == 0);
    CHECK(memcmp(p.dst_mac, a3, 6) == 0);
    CHECK_EQ(last_ip_off, 42 + 8 + 24 + 8);
}

static void
test_tzsp(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    static const uint8_t tzsp[5] = {1, 0, 0, 1, 1 /* END tag */};
    size_t off = put(f, 42, tzsp, 5);
    size_t inner = off;
    off = put_eth(f, off, ETH_IP);
    f[inner] = 0x0a; /* inner destination MAC */
    off = put_ipv4_full(f, off, 5, 6, 20, 0, v4_in_src, v4_in_dst);
    off = put_tcp(f, off, 4444, 443, NFS_TCP_ACK, 5);
    size_t len = wrap_udp4(f, 37008, off - 42);

    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_TZSP);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.dst_port, 443);
    CHECK_EQ(p.dst_mac[0], 0x0a);
    CHECK_EQ(last_ip_off, 47 + 14);

    /* tunnel_id is set before validation: a bad version leaves the outer packet, id 3. */
    f[42] = 2;
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_TZSP);
    CHECK(ip_is(&p.src_ip, v4_src, 4));
    CHECK_EQ(p.dst_port, 37008);

    /* Too short for the TZSP header. */
    len = wrap_udp4(f, 37008, 2);
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_TUNNEL_TRUNCATED);
}

/* ---- nfsensor's tunnels (extra_tunnels) ---- */

static const uint8_t in_mac_dst[6] = {0x0a, 0, 0, 0, 0, 0x0d};
static const uint8_t in_mac_src[6] = {0x0a, 0, 0, 0, 0, 0x05};

/* Inner Ethernet + IPv4 (192.168.1.1 -> .2) + TCP 5555 -> 443 at f + off; returns the end. */
static size_t
put_inner_eth_tcp(uint8_t *f, size_t off)
{
    off = put(f, off, in_mac_dst, 6);
    off = put(f, off, in_mac_src, 6);
    off = put16(f, off, ETH_IP);
    off = put_ipv4_full(f, off, 5, 6, 20, 0, v4_in_src, v4_in_dst);
    return put_tcp(f, off, 5555, 443, NFS_TCP_SYN, 5);
}

/* Inner IPv4 + UDP 2000 -> 53 with 4 payload bytes at f + off; returns the end. */
static size_t
put_inner_udp4(uint8_t *f, size_t off)
{
    off = put_ipv4_full(f, off, 5, 17, 12, 0, v4_in_src, v4_in_dst);
    return put_udp(f, off, 2000, 53, 12) + 4;
}

/* The inner TCP flow of put_inner_eth_tcp, its MACs included. */
static void
check_inner_eth_tcp(const struct nfs_packet *p, uint8_t tunnel_id)
{
    CHECK_EQ(p->tunnel_id, tunnel_id);
    CHECK(ip_is(&p->src_ip, v4_in_src, 4));
    CHECK(ip_is(&p->dst_ip, v4_in_dst, 4));
    CHECK_EQ(p->protocol, 6);
    CHECK_EQ(p->src_port, 5555);
    CHECK_EQ(p->dst_port, 443);
    CHECK_EQ(p->tcp_flags, NFS_TCP_SYN);
    CHECK(memcmp(p->src_mac, in_mac_src, 6) == 0);
    CHECK(memcmp(p->dst_mac, in_mac_dst, 6) == 0);
}

static void
test_vxlan(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    f[42] = 0x08; /* I flag */
    f[48] = 0x2a; /* VNI */
    size_t len = wrap_udp4(f, 4789, put_inner_eth_tcp(f, 50) - 42);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_VXLAN);
    CHECK_EQ(last_ip_off, 50 + 14);

    /* NFStream's tunnels only (the nfstream profile): the outer UDP packet. */
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.dst_port, 4789);

    /* Without the I flag, or cut inside the VXLAN header: not VXLAN, the outer packet. */
    f[42] = 0;
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.dst_port, 4789);
    f[42] = 0x08;
    CHECK_EQ(decode_all(&p, f, 46), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK(memcmp(p.src_mac, mac_src, 6) == 0);

    /* 4789 as the source port only is not VXLAN. */
    put16(f, 34, 4789);
    put16(f, 36, 40000);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
}

static void
test_geneve(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    f[42] = 2; /* version 0, 2 words of options */
    put16(f, 44, 0x6558);
    size_t len = wrap_udp4(f, 6081, put_inner_eth_tcp(f, 42 + 8 + 8) - 42);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_GENEVE);
    CHECK_EQ(last_ip_off, 58 + 14);

    /* An IPv4 payload directly, without options. */
    memset(f, 0, sizeof(f));
    put16(f, 44, ETH_IP);
    len = wrap_udp4(f, 6081, put_inner_udp4(f, 50) - 42);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GENEVE);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.dst_port, 53);
    CHECK(memcmp(p.src_mac, mac_src, 6) == 0); /* no inner Ethernet: the outer MACs stay */

    /* Version 1 is not Geneve as we know it. */
    f[42] = 0x40;
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.dst_port, 6081);
}

/* eth + IPv4 (proto 47) around a GRE packet already at f + 34. */
static size_t
wrap_gre4(uint8_t *f, size_t gre_len)
{
    put_eth(f, 0, ETH_IP);
    put_ipv4(f, 14, 47, (uint16_t)gre_len);
    return 34 + gre_len;
}

static void
test_gre_ip(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    put16(f, 34, 0x2000 | 0x1000); /* key and sequence number */
    put16(f, 36, ETH_IP);
    size_t len = wrap_gre4(f, put_inner_udp4(f, 34 + 12) - 34);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GRE);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.protocol, 17);
    CHECK_EQ(p.src_port, 2000);
    CHECK_EQ(last_ip_off, 46);

    /* NFStream's tunnels only: a GRE flow. */
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, len, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.protocol, 47);

    /* Routing present (RFC 1701): not followed. */
    put16(f, 34, 0x4000);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 47);

    /* IPv6 over GRE over IPv6, with a checksum. */
    memset(f, 0, sizeof(f));
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 47, 8 + 40 + 8);
    off = put16(f, off, 0x8000);
    off = put16(f, off, ETH_IPV6) + 4;
    off = put_ipv6(f, off, 17, 8);
    off = put_udp(f, off, 3000, 4000, 8);
    CHECK_EQ(decode_all(&p, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GRE);
    CHECK_EQ(p.ip_version, 6);
    CHECK_EQ(p.src_port, 3000);
    CHECK_EQ(last_ip_off, 14 + 40 + 8);
}

static void
test_gre_ethernet_and_mpls(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    put16(f, 36, 0x6558);
    size_t len = wrap_gre4(f, put_inner_eth_tcp(f, 38) - 34);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_GRE);

    memset(f, 0, sizeof(f));
    put16(f, 36, 0x8847);
    f[38 + 2] = 0x00; /* label 1, not bottom */
    f[42 + 2] = 0x01; /* bottom of stack */
    len = wrap_gre4(f, put_inner_udp4(f, 46) - 34);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GRE);
    CHECK_EQ(p.dst_port, 53);
    CHECK_EQ(last_ip_off, 46);
}

static void
test_gre_pptp_ppp(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    put16(f, 34, 0x3081); /* key, sequence number, version 1 */
    put16(f, 36, 0x880B);
    f[50] = 0xFF, f[51] = 0x03;
    put16(f, 52, 0x0021);
    size_t len = wrap_gre4(f, put_inner_udp4(f, 54) - 34);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_GRE);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(last_ip_off, 54);

    /* PPP control protocol (LCP): the GRE packet is metered as it is. */
    put16(f, 52, 0xC021);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.protocol, 47);
}

static void
test_erspan(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;

    /* Type II: GRE with a sequence number, then an 8-byte header of version 1. */
    put16(f, 34, 0x1000);
    put16(f, 36, 0x88BE);
    f[42] = 0x10;
    size_t len = wrap_gre4(f, put_inner_eth_tcp(f, 50) - 34);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_ERSPAN);
    CHECK_EQ(last_ip_off, 50 + 14);

    /* Type I: no sequence number, no ERSPAN header. */
    memset(f, 0, sizeof(f));
    put16(f, 36, 0x88BE);
    len = wrap_gre4(f, put_inner_eth_tcp(f, 38) - 34);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_ERSPAN);

    /* Type III with the optional 8-byte platform subheader. */
    memset(f, 0, sizeof(f));
    put16(f, 34, 0x1000);
    put16(f, 36, 0x22EB);
    f[42] = 0x20;
    f[42 + 11] = 0x01; /* O bit */
    len = wrap_gre4(f, put_inner_eth_tcp(f, 42 + 12 + 8) - 34);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_ERSPAN);

    /* A type II header with a wrong version: the GRE packet. */
    memset(f, 0, sizeof(f));
    put16(f, 34, 0x1000);
    put16(f, 36, 0x88BE);
    f[42] = 0x70;
    len = wrap_gre4(f, put_inner_eth_tcp(f, 50) - 34);
    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 47);
    CHECK_EQ(p.tunnel_id, 0);
}

static void
test_mpls_in_udp(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    f[42 + 2] = 0x00; /* label, not bottom */
    f[46 + 2] = 0x01; /* bottom of stack */
    size_t len = wrap_udp4(f, 6635, put_inner_udp4(f, 50) - 42);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, NFS_TUNNEL_MPLS_UDP);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.dst_port, 53);
    CHECK_EQ(last_ip_off, 50);

    /* A label stack without bottom that runs off the capture: the outer packet. */
    f[46 + 2] = 0;
    CHECK_EQ(decode_all(&p, f, 50), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.dst_port, 6635);
}

static void
test_nested_tunnels_innermost_id(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    /* GRE carrying IPv4/UDP to 4789 carrying VXLAN: the VXLAN id wins. */
    put16(f, 36, ETH_IP);
    size_t off = put_ipv4_full(f, 38, 5, 17, 8 + 8 + 54, 0, v4_src, v4_dst);
    off = put_udp(f, off, 50000, 4789, 8 + 8 + 54);
    f[off] = 0x08;
    off = put_inner_eth_tcp(f, off + 8);
    size_t len = wrap_gre4(f, off - 34);

    CHECK_EQ(decode_all(&p, f, len), NFS_C_PROCESSED);
    check_inner_eth_tcp(&p, NFS_TUNNEL_VXLAN);
}

int
main(void)
{
    RUN(test_gtp_u);
    RUN(test_gtp_u_extension_header);
    RUN(test_capwap);
    RUN(test_tzsp);
    RUN(test_vxlan);
    RUN(test_geneve);
    RUN(test_gre_ip);
    RUN(test_gre_ethernet_and_mpls);
    RUN(test_gre_pptp_ppp);
    RUN(test_erspan);
    RUN(test_mpls_in_udp);
    RUN(test_nested_tunnels_innermost_id);
    return check_exit();
}
