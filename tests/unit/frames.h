/*
 * frames.h: frames built by hand and run through the decoder, for the decoder's unit tests
 * (test_decode_link.c, test_decode_ip.c, test_decode_tunnel.c).
 *
 * Frames are built inline as byte arrays with a few header helpers. Every decode runs on a
 * malloc'd copy of exactly caplen bytes, so an AddressSanitizer build catches any read past
 * caplen.
 */
#ifndef NFS_TEST_FRAMES_H
#define NFS_TEST_FRAMES_H

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

/* Frame builders: each writes at f + off and returns the new offset. */

static inline size_t
put(uint8_t *f, size_t off, const void *bytes, size_t n)
{
    memcpy(f + off, bytes, n);
    return off + n;
}

static inline size_t
put16(uint8_t *f, size_t off, uint16_t v)
{
    f[off] = (uint8_t)(v >> 8);
    f[off + 1] = (uint8_t)v;
    return off + 2;
}

static inline size_t
put_eth(uint8_t *f, size_t off, uint16_t type)
{
    off = put(f, off, mac_dst, 6);
    off = put(f, off, mac_src, 6);
    return put16(f, off, type);
}

/* IPv4 header with ihl_words*4 bytes (options zero), tot_len = header + l4_len. */
static inline size_t
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

static inline size_t
put_ipv4(uint8_t *f, size_t off, uint8_t proto, uint16_t l4_len)
{
    return put_ipv4_full(f, off, 5, proto, l4_len, 0, v4_src, v4_dst);
}

static inline size_t
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

static inline size_t
put_tcp(uint8_t *f, size_t off, uint16_t sport, uint16_t dport, uint8_t flags, unsigned doff)
{
    memset(f + off, 0, doff * 4);
    put16(f, off, sport);
    put16(f, off + 2, dport);
    f[off + 12] = (uint8_t)(doff << 4);
    f[off + 13] = flags;
    return off + doff * 4;
}

static inline size_t
put_udp(uint8_t *f, size_t off, uint16_t sport, uint16_t dport, uint16_t len)
{
    put16(f, off, sport);
    put16(f, off + 2, dport);
    put16(f, off + 4, len);
    put16(f, off + 6, 0);
    return off + 8;
}

/* Running the decoder. */

static long last_ip_off; /* pkt.ip - frame start, -1 when not set */

static inline enum nfs_counter
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
static inline enum nfs_counter
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

static inline enum nfs_counter
decode(struct nfs_packet *pkt, int dlt, const uint8_t *f, size_t caplen)
{
    return decode_opt(pkt, dlt, f, caplen, false);
}

static inline bool
ip_is(const struct nfs_ip *ip, const uint8_t *bytes, size_t n)
{
    struct nfs_ip want = {0};

    memcpy(want.b, bytes, n);
    return nfs_ip_eq(ip, &want);
}

/* eth + IPv4 + UDP 1000 -> 53 with 4 payload bytes; returns the length. */
static inline size_t
build_eth_udp4(uint8_t *f)
{
    size_t off = put_eth(f, 0, ETH_IP);
    off = put_ipv4(f, off, 17, 12);
    off = put_udp(f, off, 1000, 53, 12);
    return off + 4;
}

#endif
