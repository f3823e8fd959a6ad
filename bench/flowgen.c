/*
 * flowgen.c: a pcap file that leaves exactly FLOWS flows active at its end, for the memory
 * figure of bench/run (bytes per active flow).
 *
 * usage: flowgen OUT.pcap FLOWS [PACKETS_PER_FLOW]
 *
 * Round r (0 .. PACKETS_PER_FLOW-1, default 2) sends packet r of every flow: even rounds go
 * client -> server, odd rounds answer, so each flow has both directions once there are two
 * rounds. Every flow has its own client address, so no two share a key. By share: TCP/443
 * (50 %: SYN, SYN-ACK, then ACKs with 100 bytes; never a FIN or RST), UDP/53 (20 %), UDP/443
 * (20 %), ICMP echo (10 %); a quarter are IPv6. Times advance 1 us per packet, so with a few
 * million packets no idle or active timeout ends a flow before the end of the file.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_bytes.h"

/* Packet `round` of flow i into f; returns the frame length. */
static size_t
frame(uint8_t *f, uint32_t i, unsigned round)
{
    unsigned kind = i % 10; /* 0-4 TCP, 5-6 DNS, 7-8 UDP/443, 9 ICMP */
    int v6 = i % 4 == 3, up = round % 2 == 0;
    uint8_t proto = kind < 5 ? 6 : kind < 9 ? 17 : (v6 ? 58 : 1);
    size_t l4 = proto == 6 ? 20 : 8, pay = kind < 5 ? (round >= 2 ? 100 : 0) : 40, ip;
    uint16_t cport = (uint16_t)(1024 + i % 60000), sport = kind < 5 || kind >= 7 ? 443 : 53;
    uint8_t *p, *l;

    memset(f, 0, 14);
    f[0] = 2, f[5] = (uint8_t)(up ? 1 : 2), f[6] = 2, f[11] = (uint8_t)(up ? 2 : 1);
    put16(f + 12, v6 ? 0x86dd : 0x0800);
    p = f + 14;
    if (v6) {
        memset(p, 0, 40);
        p[0] = 0x60, put16(p + 4, (uint16_t)(l4 + pay)), p[6] = proto, p[7] = 64;
        uint8_t *c = p + (up ? 8 : 24), *s = p + (up ? 24 : 8);
        put16(c, 0x2001), put16(c + 2, 0xdb8), put32(c + 12, i);
        put16(s, 0x2001), put16(s + 2, 0xdb8), put16(s + 4, 1), put32(s + 12, i % 5000);
        ip = 40;
    } else {
        memset(p, 0, 20);
        p[0] = 0x45, put16(p + 2, (uint16_t)(20 + l4 + pay)), p[8] = 64, p[9] = proto;
        put32(p + (up ? 12 : 16), 0x0a000000u | (i & 0xffffffu));
        put32(p + (up ? 16 : 12), 0xc6120000u | (i % 5000));
        ip = 20;
    }
    l = p + ip;
    memset(l, 0, l4 + pay);
    if (proto == 1 || proto == 58) {
        l[0] = proto == 1 ? (up ? 8 : 0) : (up ? 128 : 129);
        put16(l + 4, (uint16_t)i), put16(l + 6, (uint16_t)round);
    } else {
        put16(l, up ? cport : sport), put16(l + 2, up ? sport : cport);
        if (proto == 17) {
            put16(l + 4, (uint16_t)(8 + pay));
        } else {
            put32(l + 4, i * 7919u + round), l[12] = 0x50, put16(l + 14, 65535);
            l[13] = round == 0 ? 0x02 : round == 1 ? 0x12 : 0x10;
        }
    }
    return 14 + ip + l4 + pay;
}

int
main(int argc, char **argv)
{
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};
    uint64_t ts_us = 1700000000ull * 1000000;
    unsigned long long flows, rounds = 2;
    uint8_t f[256];
    FILE *out;

    if (argc < 3 || argc > 4) {
        fprintf(stderr, "usage: flowgen OUT.pcap FLOWS [PACKETS_PER_FLOW]\n");
        return 64;
    }
    flows = strtoull(argv[2], NULL, 10);
    if (argc > 3)
        rounds = strtoull(argv[3], NULL, 10);
    if (flows == 0 || flows > 0xffffffu || rounds == 0 || rounds > 1000) {
        fprintf(stderr, "flowgen: FLOWS must be 1..16777215, PACKETS_PER_FLOW 1..1000\n");
        return 64;
    }
    if ((out = fopen(argv[1], "wb")) == NULL) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    fwrite(hdr, sizeof(hdr), 1, out);
    for (unsigned r = 0; r < rounds; r++)
        for (uint32_t i = 0; i < flows; i++) {
            uint32_t rec[4];
            size_t len = frame(f, i, r);

            ts_us++;
            rec[0] = (uint32_t)(ts_us / 1000000), rec[1] = (uint32_t)(ts_us % 1000000);
            rec[2] = rec[3] = (uint32_t)len;
            fwrite(rec, sizeof(rec), 1, out);
            fwrite(f, len, 1, out);
        }
    return fclose(out) == 0 ? 0 : 1;
}
