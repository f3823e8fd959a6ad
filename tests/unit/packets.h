/*
 * packets.h: decoded packets built by hand for the flow-layer unit tests.
 */
#ifndef NFS_TEST_PACKETS_H
#define NFS_TEST_PACKETS_H

#include "decode.h"

/* An IPv4 packet a.b.c.d:sport -> e.f.g.h:dport at t_ms, wire length len. */
static inline struct nfs_packet
pkt4(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t proto, uint64_t t_ms,
     uint32_t len, uint8_t tcp_flags)
{
    struct nfs_packet p;

    memset(&p, 0, sizeof(p));
    p.ts_us = t_ms * 1000;
    p.wire_len = p.cap_len = len;
    p.ip_version = 4;
    p.protocol = proto;
    for (int i = 0; i < 4; i++) {
        p.src_ip.b[i] = (uint8_t)(src >> (24 - 8 * i));
        p.dst_ip.b[i] = (uint8_t)(dst >> (24 - 8 * i));
    }
    p.src_port = sport;
    p.dst_port = dport;
    p.tcp_flags = tcp_flags;
    p.ip_size = (uint16_t)(len - 14);
    p.ip_octets = len - 14;
    return p;
}

#define IP(a, b, c, d) ((uint32_t)(a) << 24 | (uint32_t)(b) << 16 | (uint32_t)(c) << 8 | (d))

#endif
