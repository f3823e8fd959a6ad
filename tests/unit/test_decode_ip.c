/*
 * test_decode_ip.c: the decoder's network and transport layers: IPv4 options and fragments,
 * the IPv6 extension header chain and fragments, IP-in-IP, UDP, ICMP, other protocols, and
 * every truncation and bad header rule.
 *
 * Frames and decoder runs: frames.h.
 */
#include "frames.h"

/* ---- IP ---- */

static void
test_ipv4_options(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4_full(f, off, 7, 6, 24, 0, v4_src, v4_dst);
    off = put_tcp(f, off, 22, 50000, NFS_TCP_PSH | NFS_TCP_ACK, 5) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.src_port, 22);
    CHECK_EQ(p.ip_size, 28 + 24);
    CHECK_EQ(p.transport_size, 24);
    CHECK_EQ(p.payload_size, 4);
    CHECK_EQ(p.ip_octets, 52);
}

static void
test_ipv4_fragments(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4_full(f, off, 5, 17, 100, 0x2000 /* MF, offset 0 */, v4_src, v4_dst);
    off = put_udp(f, off, 1000, 53, 100) + 20;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.dst_port, 53);
    put16(f, 14 + 6, 0x2000 | 13);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_IPV4_FRAGMENT);
    put16(f, 14 + 6, 13); /* last fragment */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_IPV4_FRAGMENT);
}

static void
test_ipv6_ext_header_chain(void)
{
    uint8_t f[160] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 0, 8 + 16 + 20 + 5);
    f[off] = 60; /* hop-by-hop: next dest-opts, 8 bytes */
    off += 8;
    f[off] = 6; /* dest-opts: next TCP, 16 bytes */
    f[off + 1] = 1;
    off += 16;
    off = put_tcp(f, off, 443, 50001, NFS_TCP_FIN | NFS_TCP_ACK, 5) + 5;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 6);
    CHECK_EQ(p.src_port, 443);
    CHECK_EQ(p.tcp_flags, NFS_TCP_FIN | NFS_TCP_ACK);
    CHECK_EQ(p.ip_size, 49); /* payload length */
    CHECK_EQ(p.transport_size, 25);
    CHECK_EQ(p.payload_size, 5);
    CHECK_EQ(p.ip_octets, 89);
    CHECK(ip_is(&p.dst_ip, v6_dst, 16));
}

static void
test_ipv6_fragments(void)
{
    uint8_t f[160] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 44, 8 + 8 + 12);
    size_t frag = off;
    f[off] = 17;
    put16(f, off + 2, 0x0001); /* offset 0, M */
    off += 8;
    off = put_udp(f, off, 1000, 53, 20) + 12;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 17);
    CHECK_EQ(p.dst_port, 53);
    CHECK_EQ(p.transport_size, 20);
    CHECK_EQ(p.ip_size, 28);
    put16(f, frag + 2, 0x00A8); /* offset 21 * 8 */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_IPV6_FRAGMENT);
}

static void
test_ipv6_no_next_header(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 59, 8) + 8;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_IPV6_NO_NEXT);
}

static void
test_ipv6_bad_ext_header(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 0, 16);
    f[off + 1] = 5; /* claims 48 bytes, only 16 in the payload */
    off += 16;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_IPV6_EXT_HEADER);
}

static void
test_ip_in_ip_4in4(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 4, 20 + 8 + 4);
    off = put_ipv4_full(f, off, 5, 17, 12, 0, v4_in_src, v4_in_dst);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 34);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK(ip_is(&p.dst_ip, v4_in_dst, 4));
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.ip_size, 32);
    CHECK_EQ(p.dst_port, 53);
    CHECK_EQ(decode_opt(&p, DLT_EN10MB, f, off, true), NFS_C_PROCESSED);
    CHECK_EQ(p.tunnel_id, 0);
}

static void
test_ip_in_ip_6in4(void)
{
    uint8_t f[160] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 41, 40 + 20);
    off = put_ipv6(f, off, 6, 20);
    off = put_tcp(f, off, 1234, 80, NFS_TCP_SYN, 5);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 6);
    CHECK(ip_is(&p.src_ip, v6_src, 16));
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(p.ip_size, 20);
    CHECK_EQ(p.tcp_flags, NFS_TCP_SYN);
}

static void
test_ip_in_ip_4in6(void)
{
    uint8_t f[160] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 4, 20 + 8 + 4);
    off = put_ipv4_full(f, off, 5, 17, 12, 0, v4_in_src, v4_in_dst);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 4);
    CHECK(ip_is(&p.src_ip, v4_in_src, 4));
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(last_ip_off, 54);
}

static void
test_ip_in_ip_too_deep(void)
{
    uint8_t f[512] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    for (int i = 0; i < 12; i++)
        off = put_ipv4(f, off, 4, (uint16_t)((11 - i) * 20 + 28));
    off = put_ipv4(f, off, 17, 8);
    off = put_udp(f, off, 1, 2, 8);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_TUNNEL_DEPTH);
}

/* ---- L4 ---- */

static void
test_udp(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t len = build_eth_udp4(f);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, len), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 17);
    CHECK_EQ(p.src_port, 1000);
    CHECK_EQ(p.dst_port, 53);
    CHECK_EQ(p.tcp_flags, 0);
    CHECK_EQ(p.ip_size, 32);
    CHECK_EQ(p.transport_size, 12);
    CHECK_EQ(p.payload_size, 4);
}

static void
test_icmp_and_icmpv6(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 1, 8 + 56);
    f[off] = 8; /* echo request; bytes 4-7 must not become ports */
    f[off + 4] = 0x12;
    off += 64;
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 1);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.dst_port, 0);
    CHECK_EQ(p.transport_size, 64);
    CHECK_EQ(p.payload_size, 56);

    memset(f, 0, sizeof(f));
    off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 58, 8 + 4);
    f[off] = 128;
    off += 12;
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 58);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.transport_size, 12);
    CHECK_EQ(p.payload_size, 4);
    CHECK_EQ(p.ip_size, 12);
    CHECK_EQ(p.ip_octets, 52);
}

static void
test_other_protocol_gre(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 47, 24);
    put16(f, off, 0x1234);
    put16(f, off + 2, 0x0800);
    off += 24;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 47);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.dst_port, 0);
    CHECK_EQ(p.transport_size, 0);
    CHECK_EQ(p.payload_size, 0);
    CHECK_EQ(p.ip_size, 44);
    CHECK_EQ(p.ip_octets, 44);
}

static void
test_tcp_shorter_than_header_is_other(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 6, 12);
    off = put_tcp(f, off, 1, 2, NFS_TCP_SYN, 5) - 8; /* only 12 bytes counted by tot_len */

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off + 8), NFS_C_PROCESSED);
    CHECK_EQ(p.protocol, 6);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.tcp_flags, 0);
    CHECK_EQ(p.transport_size, 0);
    CHECK_EQ(p.payload_size, 0);

    memset(f, 0, sizeof(f));
    off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 17, 6);
    off = put_udp(f, off, 1, 2, 6);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.transport_size, 0);
}

/* ---- truncation and bad headers ---- */

static void
test_shorter_than_28_bytes(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    size_t len = build_eth_udp4(f);

    CHECK(len > 28);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, 27), NFS_C_LINK_TRUNCATED);
    CHECK_EQ(decode(&p, DLT_RAW, f + 14, 27), NFS_C_LINK_TRUNCATED);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, 0), NFS_C_LINK_TRUNCATED);
}

static void
test_vlan_truncated(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8100);
    while (off < 40)
        off = put16(f, put16(f, off, 7), 0x8100);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 28), NFS_C_VLAN_TRUNCATED);
}

static void
test_ip_truncated(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8100);
    off = put16(f, off, 5);
    off = put16(f, off, ETH_IP);
    put_ipv4(f, off, 17, 8);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 30), NFS_C_IP_TRUNCATED);
}

static void
test_ipv6_truncated_dropped(void)
{
    uint8_t f[256] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IPV6);
    off = put_ipv6(f, off, 6, 120);
    off = put_tcp(f, off, 1, 2, NFS_TCP_ACK, 5) + 100;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off - 1), NFS_C_IPV6_TRUNCATED);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, 14 + 39), NFS_C_IPV6_TRUNCATED);
}

static void
test_ipv4_truncated_accepted(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 6, 1480);
    off = put_tcp(f, off, 1, 2, NFS_TCP_PSH | NFS_TCP_ACK, 5) + 10;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_size, 1500);
    CHECK_EQ(p.ip_octets, 1500);
    CHECK_EQ(p.transport_size, 1480);
    CHECK_EQ(p.payload_size, 1460);
    CHECK_EQ(p.ip_cap_len, 50);
    CHECK_EQ(p.tcp_flags, NFS_TCP_PSH | NFS_TCP_ACK);
}

static void
test_snaplen_cut_tcp_header(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 6, 1480);
    put_tcp(f, off, 1234, 80, NFS_TCP_SYN, 5);

    /* Ports captured, flags (byte 13) not: ports read, flags 0, sizes from the headers. */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off + 10), NFS_C_PROCESSED);
    CHECK_EQ(p.src_port, 1234);
    CHECK_EQ(p.dst_port, 80);
    CHECK_EQ(p.tcp_flags, 0);
    CHECK_EQ(p.transport_size, 1480);
    CHECK_EQ(p.payload_size, 1460);
    CHECK_EQ(p.ip_cap_len, 30);

    /* Not even the ports. */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off + 2), NFS_C_PROCESSED);
    CHECK_EQ(p.src_port, 0);
    CHECK_EQ(p.protocol, 6);
    CHECK_EQ(p.transport_size, 1480);

    /* Exactly the IP header. */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.src_port, 0);
}

static void
test_ipv4_bad_headers(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    put_ipv4_full(f, off, 15, 17, 8, 0, v4_src, v4_dst);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 14 + 40), NFS_C_IPV4_BAD_HEADER);

    memset(f, 0, sizeof(f));
    off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 17, 8);
    put16(f, 14 + 2, 12); /* tot_len < ihl*4 */
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off + 8), NFS_C_IPV4_BAD_LENGTH);
}

static void
test_arp_bad_version(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x0806);
    static const uint8_t arp[8] = {0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01};
    put(f, off, arp, 8);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 42), NFS_C_IP_VERSION);
}

int
main(void)
{
    RUN(test_ipv4_options);
    RUN(test_ipv4_fragments);
    RUN(test_ipv6_ext_header_chain);
    RUN(test_ipv6_fragments);
    RUN(test_ipv6_no_next_header);
    RUN(test_ipv6_bad_ext_header);
    RUN(test_ip_in_ip_4in4);
    RUN(test_ip_in_ip_6in4);
    RUN(test_ip_in_ip_4in6);
    RUN(test_ip_in_ip_too_deep);
    RUN(test_udp);
    RUN(test_icmp_and_icmpv6);
    RUN(test_other_protocol_gre);
    RUN(test_tcp_shorter_than_header_is_other);
    RUN(test_shorter_than_28_bytes);
    RUN(test_vlan_truncated);
    RUN(test_ip_truncated);
    RUN(test_ipv6_truncated_dropped);
    RUN(test_ipv4_truncated_accepted);
    RUN(test_snaplen_cut_tcp_header);
    RUN(test_ipv4_bad_headers);
    RUN(test_arp_bad_version);
    return check_exit();
}
