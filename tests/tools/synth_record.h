/*
 * synth_record.h: the synthetic flow record of the exporter's harness and benchmarks.
 *
 * Record i is an IPv4 UDP biflow with flowId i, source 10.(i>>16).(i>>8).i port
 * 1024 + i % 50000, destination 192.0.2.1:53, i % 7 + 1 packets each way (128 IP octets and
 * 100 accounted bytes a packet), times from 1700000000000 + i ms.
 */
#ifndef NFS_SYNTH_RECORD_H
#define NFS_SYNTH_RECORD_H

#include <arpa/inet.h>
#include <string.h>

#include "record.h"

static inline void
nfs_synth_record(uint64_t i, struct nfs_record *r)
{
    uint64_t t0 = 1700000000000ull + i;
    uint32_t src = htonl(0x0a000000u | (uint32_t)(i & 0xFFFFFF));

    memset(r, 0, sizeof(*r));
    r->id = i;
    r->ip_version = 4;
    r->protocol = 17;
    r->end_reason = NFS_END_IDLE;
    memcpy(r->src_ip.b, &src, 4);
    inet_pton(AF_INET, "192.0.2.1", r->dst_ip.b);
    r->src_port = (uint16_t)(1024 + i % 50000);
    r->dst_port = 53;
    r->src2dst = (struct nfs_record_dir){.first_seen_ms = t0,
                                         .last_seen_ms = t0 + 10,
                                         .duration_ms = 10,
                                         .packets = i % 7 + 1,
                                         .bytes = 100 * (i % 7 + 1),
                                         .ip_octets = 128 * (i % 7 + 1)};
    r->dst2src = r->src2dst;
    r->dst2src.first_seen_ms += 1;
    r->bidirectional = r->src2dst;
    r->bidirectional.packets *= 2;
    r->bidirectional.ip_octets *= 2;
    r->bidirectional.bytes *= 2;
}

#endif
