/*
 * test_decode_link.c: the decoder's link layers (Ethernet, LLC/SNAP, Linux cooked, raw IP,
 * BSD loopback, PPP, HDLC, radiotap) and L2.5 (VLAN, QinQ, 802.1ad, MPLS, PPPoE): one case per
 * link type and encapsulation.
 *
 * Frames and decoder runs: frames.h.
 */
#include "frames.h"

/* ---- link layers ---- */

static void
test_en10mb_tcp_fields_and_sizes(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 6, 32 + 10);
    off = put_tcp(f, off, 40000, 443, NFS_TCP_SYN | NFS_TCP_ACK | NFS_TCP_CWR, 8);
    off += 10;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK(p.has_mac);
    CHECK(memcmp(p.src_mac, mac_src, 6) == 0);
    CHECK(memcmp(p.dst_mac, mac_dst, 6) == 0);
    CHECK(ip_is(&p.src_ip, v4_src, 4));
    CHECK(ip_is(&p.dst_ip, v4_dst, 4));
    CHECK_EQ(p.ip_version, 4);
    CHECK_EQ(p.protocol, 6);
    CHECK_EQ(p.src_port, 40000);
    CHECK_EQ(p.dst_port, 443);
    CHECK_EQ(p.tcp_flags, NFS_TCP_SYN | NFS_TCP_ACK | NFS_TCP_CWR);
    CHECK_EQ(p.ip_size, 62);
    CHECK_EQ(p.transport_size, 42);
    CHECK_EQ(p.payload_size, 10);
    CHECK_EQ(p.ip_octets, 62);
    CHECK_EQ(p.vlan_id, 0);
    CHECK_EQ(p.tunnel_id, 0);
    CHECK_EQ(last_ip_off, 14);
    CHECK_EQ(p.ip_cap_len, off - 14);
    CHECK_EQ(p.wire_len, off + 4);
}

static void
test_tcp_every_flag_bit(void)
{
    static const uint8_t bits[] = {NFS_TCP_FIN, NFS_TCP_SYN, NFS_TCP_RST, NFS_TCP_PSH,
                                   NFS_TCP_ACK, NFS_TCP_URG, NFS_TCP_ECE, NFS_TCP_CWR};
    for (size_t i = 0; i < NFS_NITEMS(bits); i++) {
        uint8_t f[128] = {0};
        struct nfs_packet p;
        size_t off = put_eth(f, 0, ETH_IP);
        off = put_ipv4(f, off, 6, 20);
        off = put_tcp(f, off, 1, 2, bits[i], 5);
        CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
        CHECK_EQ(p.tcp_flags, bits[i]);
        CHECK_EQ(p.payload_size, 0);
        CHECK_EQ(p.transport_size, 20);
    }
}

static void
test_llc_snap(void)
{
    static const uint8_t snap_ip[8] = {0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00};
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 8 + 32);
    off = put(f, off, snap_ip, 8);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 5353, 5353, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 22);
    CHECK_EQ(p.src_port, 5353);
    CHECK(p.has_mac);

    /* NFStream takes the SNAP type without ntohs: IPv4 is not "IPv4" there, so a non-first
     * fragment is not recognised as one and is metered. */
    put16(f, 22 + 6, 100);
    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
}

static void
test_stp_skipped(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 38);
    f[off] = 0x42;
    f[off + 1] = 0x42;
    f[off + 2] = 0x03;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 60), NFS_C_LINK_STP);
}

static void
test_linux_sll(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    put16(f, 14, ETH_IP);
    size_t off = put_ipv4(f, 16, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_LINUX_SLL, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 16);
    CHECK_EQ(p.dst_port, 53);
    CHECK(!p.has_mac);
}

static void
test_linux_sll2(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    put16(f, 0, ETH_IPV6);
    size_t off = put_ipv6(f, 20, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_LINUX_SLL2, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 20);
    CHECK_EQ(p.ip_version, 6);
    CHECK(ip_is(&p.src_ip, v6_src, 16));
    CHECK_EQ(p.dst_port, 53);
}

static void
test_raw_v4_and_v6(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_ipv4(f, 0, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_RAW, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 4);
    CHECK_EQ(last_ip_off, 0);

    memset(f, 0, sizeof(f));
    off = put_ipv6(f, 0, 6, 20);
    off = put_tcp(f, off, 80, 8080, NFS_TCP_RST, 5);
    CHECK_EQ(decode(&p, 101 /* LINKTYPE_RAW */, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 6);
    CHECK_EQ(p.tcp_flags, NFS_TCP_RST);
    CHECK(nfs_decode_link_supported(DLT_RAW));
    CHECK(nfs_decode_link_supported(101));
}

static void
test_dlt_ipv4_ipv6(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_ipv4(f, 0, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_IPV4, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 4);

    memset(f, 0, sizeof(f));
    off = put_ipv6(f, 0, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_IPV6, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 6);
}

static void
test_dlt_null(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    f[3] = 2; /* AF_INET in network order */
    size_t off = put_ipv4(f, 4, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_NULL, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 4);
    CHECK_EQ(p.ip_version, 4);
    CHECK(!p.has_mac);

    /* Network-order family 2: IPv4 ethertype, so a non-first fragment is skipped. */
    put16(f, 4 + 6, 10);
    CHECK_EQ(decode(&p, DLT_NULL, f, off), NFS_C_IPV4_FRAGMENT);

    /* Little-endian family (as most captures): NFStream calls it IPv6; the nibble still says
     * IPv4, but frag_off is never read, so the fragment is metered. */
    f[0] = 2;
    f[3] = 0;
    CHECK_EQ(decode(&p, DLT_NULL, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 4);
    CHECK_EQ(decode(&p, DLT_LOOP, f, off), NFS_C_PROCESSED);

    memset(f, 0, sizeof(f));
    f[0] = 30; /* AF_INET6 on macOS, little-endian */
    off = put_ipv6(f, 4, 58, 8);
    off += 8;
    CHECK_EQ(decode(&p, DLT_NULL, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 6);
    CHECK_EQ(p.protocol, 58);
}

static void
test_ppp(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    put16(f, 0, 0x0021); /* PPP protocol IPv4 */
    size_t off = put_ipv4(f, 2, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_PPP, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 2);
    CHECK_EQ(p.dst_port, 53);

    memset(f, 0, sizeof(f));
    put16(f, 0, 0x0057); /* PPP protocol IPv6 */
    off = put_ipv6(f, 2, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_PPP, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.ip_version, 6);
}

static void
test_c_hdlc_and_ppp_serial(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    f[0] = 0x0f;
    put16(f, 2, ETH_IP);
    size_t off = put_ipv4(f, 4, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;
    CHECK_EQ(decode(&p, DLT_C_HDLC, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 4);
    CHECK_EQ(decode(&p, DLT_PPP, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 4);

    f[0] = 0xff; /* PPP in HDLC framing: address 0xff, control 0x03, protocol */
    f[1] = 0x03;
    put16(f, 2, 0x0021);
    CHECK_EQ(decode(&p, DLT_PPP_SERIAL, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 4);
    CHECK_EQ(p.src_port, 1000);
}

static void
test_radiotap(void)
{
    static const uint8_t snap_ip[8] = {0xAA, 0xAA, 0x03, 0, 0, 0, 0x08, 0x00};
    static const uint8_t a1[6] = {0xa1, 1, 1, 1, 1, 1}, a2[6] = {0xa2, 2, 2, 2, 2, 2},
                         a3[6] = {0xa3, 3, 3, 3, 3, 3};
    uint8_t f[160] = {0};
    struct nfs_packet p;
    f[2] = 18;    /* radiotap length, little-endian */
    f[16] = 0x10; /* flags: FCS at end, not bad */
    f[18] = 0x88; /* QoS data */
    f[19] = 0x01; /* ToDS */
    put(f, 18 + 4, a1, 6);
    put(f, 18 + 10, a2, 6);
    put(f, 18 + 16, a3, 6);
    size_t off = put(f, 18 + 26, snap_ip, 8);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_IEEE802_11_RADIO, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 18 + 26 + 8);
    CHECK(p.has_mac);
    CHECK(memcmp(p.src_mac, a2, 6) == 0);
    CHECK(memcmp(p.dst_mac, a3, 6) == 0);
    CHECK_EQ(p.dst_port, 53);

    f[16] = 0x50;
    CHECK_EQ(decode(&p, DLT_IEEE802_11_RADIO, f, off), NFS_C_LINK_BAD_FCS);
    f[16] = 0x10;
    f[18] = 0x80; /* beacon */
    CHECK_EQ(decode(&p, DLT_IEEE802_11_RADIO, f, off), NFS_C_L2_NOT_DATA);
    f[18] = 0x88;
    CHECK_EQ(decode(&p, DLT_IEEE802_11_RADIO, f, 18 + 26 + 4), NFS_C_LINK_TRUNCATED);
}

static void
test_unsupported_dlt(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;

    CHECK_EQ(decode(&p, DLT_FDDI, f, 60), NFS_C_LINK_UNSUPPORTED);
    CHECK(!nfs_decode_link_supported(DLT_FDDI));
    CHECK(nfs_decode_link_supported(DLT_EN10MB));
    CHECK(nfs_decode_link_supported(DLT_LINUX_SLL2));
}

/* ---- L2.5 ---- */

static void
test_vlan_8021q(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8100);
    off = put16(f, off, 0x2000 | 100);
    off = put16(f, off, ETH_IP);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.vlan_id, 100);
    CHECK_EQ(last_ip_off, 18);
}

static void
test_qinq_innermost_vid(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8100);
    off = put16(f, off, 10);
    off = put16(f, off, 0x8100);
    off = put16(f, off, 20);
    off = put16(f, off, ETH_IP);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.vlan_id, 20);
    CHECK_EQ(last_ip_off, 22);
}

static void
test_8021ad(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x88A8);
    off = put16(f, off, 30);
    off = put16(f, off, 0x8100);
    off = put16(f, off, 0xF000 | 40);
    off = put16(f, off, ETH_IPV6);
    off = put_ipv6(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(p.vlan_id, 40);
    CHECK_EQ(p.ip_version, 6);
}

static void
test_mpls_two_labels(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8847);
    static const uint8_t labels[8] = {0x00, 0x01, 0x00, 0x40, 0x00, 0x02, 0x01, 0x40};
    off = put(f, off, labels, 8);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12) + 4;

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 22);
    CHECK_EQ(p.dst_port, 53);
}

static void
test_mpls_truncated(void)
{
    uint8_t f[64] = {0};
    struct nfs_packet p;
    put_eth(f, 0, 0x8847); /* labels without bottom of stack up to the end */

    CHECK_EQ(decode(&p, DLT_EN10MB, f, 40), NFS_C_MPLS_TRUNCATED);
}

static void
test_pppoe(void)
{
    uint8_t f[128] = {0};
    struct nfs_packet p;
    size_t off = put_eth(f, 0, 0x8864);
    f[off] = 0x11; /* version 1, type 1, code 0, session, length */
    put16(f, off + 6, 0x0021);
    off = put_ipv4(f, off + 8, 6, 20);
    off = put_tcp(f, off, 5000, 80, NFS_TCP_SYN, 5);

    CHECK_EQ(decode(&p, DLT_EN10MB, f, off), NFS_C_PROCESSED);
    CHECK_EQ(last_ip_off, 22);
    CHECK_EQ(p.tcp_flags, NFS_TCP_SYN);
}

int
main(void)
{
    RUN(test_en10mb_tcp_fields_and_sizes);
    RUN(test_tcp_every_flag_bit);
    RUN(test_llc_snap);
    RUN(test_stp_skipped);
    RUN(test_linux_sll);
    RUN(test_linux_sll2);
    RUN(test_raw_v4_and_v6);
    RUN(test_dlt_ipv4_ipv6);
    RUN(test_dlt_null);
    RUN(test_ppp);
    RUN(test_c_hdlc_and_ppp_serial);
    RUN(test_radiotap);
    RUN(test_unsupported_dlt);
    RUN(test_vlan_8021q);
    RUN(test_qinq_innermost_vid);
    RUN(test_8021ad);
    RUN(test_mpls_two_labels);
    RUN(test_mpls_truncated);
    RUN(test_pppoe);
    return check_exit();
}
