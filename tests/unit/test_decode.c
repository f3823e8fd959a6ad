/*
 * test_decode.c: the packet decoder, one case per link type, encapsulation, tunnel and skip rule.
 *
 * Frames are built inline as byte arrays with a few header helpers. Every decode runs on a
 * malloc'd copy of exactly caplen bytes, so an AddressSanitizer build catches any read past
 * caplen.
 */
#include <pcap/dlt.h>
#include <stdlib.h>

#include "check.h"
#include "decode.h"

#define ETH_IP   0x0800
#define ETH_IPV6 0x86DD

static const uint8_t mac_dst[6] = {0x02, 0, 0, 0, 0, 0x01};
static const uint8_t mac_src[6] = {0x02, 0, 0, 0, 0, 0x02};
static const uint8_t v4_src[4] = {10, 0, 0, 1}, v4_dst[4] = {10, 0, 0, 2};
static const uint8_t v4_in_src[4] = {192, 168, 1, 1}, v4_in_dst[4] = {192, 168, 1, 2};
static const uint8_t v6_src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
static const uint8_t v6_dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 2};

/* ---- frame builders: each writes at f + off and returns the new offset ---- */

static size_t
put(uint8_t *f, size_t off, const void *bytes, size_t n)
{
    memcpy(f + off, bytes, n);
    return off + n;
}

static size_t
put16(uint8_t *f, size_t off, uint16_t v)
{
    f[off] = (uint8_t)(v >> 8);
    f[off + 1] = (uint8_t)v;
    return off + 2;
}

static size_t
put_eth(uint8_t *f, size_t off, uint16_t type)
{
    off = put(f, off, mac_dst, 6);
    off = put(f, off, mac_src, 6);
    return put16(f, off, type);
}

/* IPv4 header with ihl_words*4 bytes (options zero), tot_len = header + l4_len. */
static size_t
put_ipv4_full(uint8_t *f, size_t off, unsigned ihl_words, uint8_t proto, uint16_t l4_len,
              uint16_t frag_off, const uint8_t *src, const uint8_t *dst)
{
    memset(f + off, 0, ihl_words * 4);
    f[off] = (uint8_t)(0x40 | ihl_words);
    put16(f, off + 2, (uint16_t)(ihl_words * 4 + l4_len));
    put16(f, off + 6, frag_off);
    f[off + 8] = 64;
    f[off + 9] = proto;
    put(f, off + 12, src, 4);
    put(f, off + 16, dst, 4);
    return off + ihl_words * 4;
}

static size_t
put_ipv4(uint8_t *f, size_t off, uint8_t proto, uint16_t l4_len)
{
    return put_ipv4_full(f, off, 5, proto, l4_len, 0, v4_src, v4_dst);
}

static size_t
put_ipv6(uint8_t *f, size_t off, uint8_t nxt, uint16_t plen)
{
    memset(f + off, 0, 40);
    f[off] = 0x60;
    put16(f, off + 4, plen);
    f[off + 6] = nxt;
    f[off + 7] = 64;
    put(f, off + 8, v6_src, 16);
    put(f, off + 24, v6_dst, 16);
    return off + 40;
}

static size_t
put_tcp(uint8_t *f, size_t off, uint16_t sport, uint16_t dport, uint8_t flags, unsigned doff)
{
    memset(f + off, 0, doff * 4);
    put16(f, off, sport);
    put16(f, off + 2, dport);
    f[off + 12] = (uint8_t)(doff << 4);
    f[off + 13] = flags;
    return off + doff * 4;
}

static size_t
put_udp(uint8_t *f, size_t off, uint16_t sport, uint16_t dport, uint16_t len)
{
    put16(f, off, sport);
    put16(f, off + 2, dport);
    put16(f, off + 4, len);
    put16(f, off + 6, 0);
    return off + 8;
}

/* ---- running the decoder ---- */

static long last_ip_off; /* pkt.ip - frame start, -1 when not set */

static enum nfs_counter
decode_opt(struct nfs_packet *pkt, int dlt, const uint8_t *f, size_t caplen, bool tunnels)
{
    struct nfs_decode_options opt = {.decode_tunnels = tunnels};
    uint8_t *buf = malloc(caplen ? caplen : 1);

    memcpy(buf, f, caplen);
    memset(pkt, 0xA5, sizeof(*pkt));
    pkt->ts_us = 123456789;
    pkt->wire_len = (uint32_t)caplen + 4;
    pkt->cap_len = (uint32_t)caplen;
    enum nfs_counter rc = nfs_decode(pkt, dlt, buf, &opt);
    last_ip_off = rc == NFS_C_PROCESSED && pkt->ip ? pkt->ip - buf : -1;
    free(buf);
    CHECK_EQ(pkt->ts_us, 123456789);
    CHECK_EQ(pkt->cap_len, caplen);
    return rc;
}

/* nfsensor's tunnels too (VXLAN, Geneve, GRE, ERSPAN, MPLS-in-UDP): the default profile. */
static enum nfs_counter
decode_all(struct nfs_packet *pkt, const uint8_t *f, size_t caplen)
{
    struct nfs_decode_options opt = {.decode_tunnels = true, .extra_tunnels = true};
    uint8_t *buf = malloc(caplen ? caplen : 1);

    memcpy(buf, f, caplen);
    memset(pkt, 0xA5, sizeof(*pkt));
    pkt->ts_us = 1;
    pkt->wire_len = (uint32_t)caplen;
    pkt->cap_len = (uint32_t)caplen;
    enum nfs_counter rc = nfs_decode(pkt, DLT_EN10MB, buf, &opt);
    last_ip_off = rc == NFS_C_PROCESSED && pkt->ip ? pkt->ip - buf : -1;
    free(buf);
    return rc;
}

static enum nfs_counter
decode(struct nfs_packet *pkt, int dlt, const uint8_t *f, size_t caplen)
{
    return decode_opt(pkt, dlt, f, caplen, false);
}

static bool
ip_is(const struct nfs_ip *ip, const uint8_t *bytes, size_t n)
{
    struct nfs_ip want = {0};

    memcpy(want.b, bytes, n);
    return nfs_ip_eq(ip, &want);
}

/* eth + IPv4 + UDP 1000 -> 53 with 4 payload bytes; returns the length. */
static size_t
build_eth_udp4(uint8_t *f)
{
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12);
    return off + 4;
}

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
    f[2] = 18; /* radiotap length, little-endian */
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
