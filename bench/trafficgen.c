/*
 * trafficgen.c: writes large, realistic pcap files for the benchmarks.
 *
 * usage: trafficgen OUT.pcap PACKETS CONCURRENT_FLOWS [SEED]
 *
 * Keeps CONCURRENT_FLOWS conversations open at once and emits the next packet of a random one,
 * replacing each finished conversation by a new one, so the flow table holds about that many
 * flows all the time. Conversations, by share: TCP/443 with handshake, a TLS ClientHello with
 * SNI, data both ways and FIN teardown (40%); TCP/80 HTTP GET (15%); DNS query/response (20%);
 * QUIC-like UDP/443 with a long-header Initial (15%); ICMP echo (10%). A quarter are IPv6.
 * Times advance 2 us per packet. Payload bytes are pseudo-random but deterministic (SEED).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame_bytes.h"

enum kind { TLS, HTTP, DNS, QUIC, ICMP };

struct conv {
    uint8_t kind, v6, step, steps;
    uint32_t client, server; /* host ids */
    uint16_t sport, dport;
    uint32_t seq_c, seq_s;
};

static uint64_t rng_state = 88172645463325252ull;

static uint64_t
rnd(void)
{
    return xorshift64(&rng_state);
}

static void
new_conv(struct conv *c)
{
    unsigned r = (unsigned)(rnd() % 100);

    memset(c, 0, sizeof(*c));
    c->kind = r < 40 ? TLS : r < 55 ? HTTP : r < 75 ? DNS : r < 90 ? QUIC : ICMP;
    c->v6 = rnd() % 4 == 0;
    c->client = (uint32_t)(rnd() % 60000) + 1;
    c->server = (uint32_t)(rnd() % 5000) + 1;
    c->sport = (uint16_t)(1024 + rnd() % 60000);
    c->dport = c->kind == HTTP ? 80 : c->kind == DNS ? 53 : c->kind == ICMP ? 0 : 443;
    c->seq_c = (uint32_t)rnd(), c->seq_s = (uint32_t)rnd();
    switch (c->kind) {
    case TLS:
        c->steps = (uint8_t)(8 + rnd() % 16);
        break;
    case HTTP:
        c->steps = (uint8_t)(7 + rnd() % 8);
        break;
    case DNS:
        c->steps = 2;
        break;
    case QUIC:
        c->steps = (uint8_t)(4 + rnd() % 12);
        break;
    default:
        c->steps = (uint8_t)(2 * (1 + rnd() % 4));
    }
}

/* A TLS 1.2 ClientHello with an SNI for host <id>.example.com; returns its length. */
static size_t
client_hello(uint8_t *p, uint32_t id)
{
    char host[64];
    size_t hl = (size_t)snprintf(host, sizeof(host), "h%u.example.com", id);
    size_t ext = 9 + hl, body = 2 + 32 + 1 + 4 + 2 + 2 + ext, n = 0;

    p[n++] = 0x16, p[n++] = 3, p[n++] = 1, put16(p + n, (uint16_t)(body + 4)), n += 2;
    p[n++] = 1, p[n++] = 0, put16(p + n, (uint16_t)body), n += 2;
    p[n++] = 3, p[n++] = 3;
    for (int i = 0; i < 32; i++)
        p[n++] = (uint8_t)rnd();
    p[n++] = 0;                                                   /* session id */
    put16(p + n, 2), n += 2, put16(p + n, 0xc02f), n += 2;        /* one cipher */
    p[n++] = 1, p[n++] = 0;                                       /* null compression */
    put16(p + n, (uint16_t)ext), n += 2;                          /* extensions */
    put16(p + n, 0), n += 2, put16(p + n, (uint16_t)(hl + 5)), n += 2; /* server_name */
    put16(p + n, (uint16_t)(hl + 3)), n += 2, p[n++] = 0, put16(p + n, (uint16_t)hl), n += 2;
    memcpy(p + n, host, hl);
    return n + hl;
}

/* A DNS query for h<id>.example.com, or its answer with one A record; returns its length. */
static size_t
dns(uint8_t *p, uint32_t id, int answer)
{
    char name[32];
    size_t n = 12, len = (size_t)snprintf(name, sizeof(name), "h%u", id);

    put16(p, (uint16_t)id), put16(p + 2, answer ? 0x8180 : 0x0100);
    put16(p + 4, 1), put16(p + 6, answer ? 1 : 0), put32(p + 8, 0);
    p[n++] = (uint8_t)len, memcpy(p + n, name, len), n += len;
    p[n++] = 7, memcpy(p + n, "example", 7), n += 7, p[n++] = 3, memcpy(p + n, "com", 3), n += 3;
    p[n++] = 0, put16(p + n, 1), put16(p + n + 2, 1), n += 4;
    if (answer) {
        put16(p + n, 0xc00c), put16(p + n + 2, 1), put16(p + n + 4, 1), put32(p + n + 6, 300);
        put16(p + n + 10, 4), put32(p + n + 12, 0xc6120000u | id), n += 16;
    }
    return n;
}

/* The payload of step `step` of c, sent by the client when *from_client; returns its size. */
static size_t
payload(const struct conv *c, uint8_t *p, int *from_client, uint8_t *tcp_flags)
{
    unsigned s = c->step, last = c->steps - 1u;
    size_t n = 0;

    *from_client = s % 2 == 0;
    *tcp_flags = 0x10;
    if (c->kind == TLS || c->kind == HTTP) {
        if (s == 0)
            *tcp_flags = 0x02;
        else if (s == 1)
            *tcp_flags = 0x12;
        else if (s == 2)
            *from_client = 1;
        else if (s >= last - 1)
            *tcp_flags = 0x11, *from_client = s == last - 1;
        else if (s == 3 && c->kind == TLS)
            n = client_hello(p, c->server), *from_client = 1, *tcp_flags = 0x18;
        else if (s == 3)
            n = (size_t)sprintf((char *)p, "GET /i%u HTTP/1.1\r\nHost: h%u.example.com\r\n"
                                           "User-Agent: trafficgen/1\r\n\r\n", c->client, c->server),
            *from_client = 1, *tcp_flags = 0x18;
        else
            n = *from_client ? 100 + rnd() % 200 : 600 + rnd() % 800, *tcp_flags = 0x18;
    } else if (c->kind == DNS) {
        n = dns(p, c->server, s == 1);
    } else if (c->kind == QUIC) {
        n = s == 0 ? 1200 : 50 + rnd() % 1100;
        p[0] = s == 0 ? 0xc3 : 0x43, put32(p + 1, 1);
    } else {
        n = 56;
    }
    for (size_t i = (c->kind == QUIC ? 5 : 0);
         i < n && (c->kind == QUIC || c->kind == ICMP || (c->kind <= HTTP && s > 3)); i++)
        p[i] = (uint8_t)rnd();
    return n;
}

static size_t
ip_header(const struct conv *c, uint8_t *p, int from_client, size_t l4len, uint8_t proto)
{
    uint32_t a = c->client, b = c->server;

    if (!from_client)
        a = c->server, b = c->client;
    if (c->v6) {
        p[0] = 0x60, p[1] = p[2] = p[3] = 0;
        put16(p + 4, (uint16_t)l4len), p[6] = proto == 1 ? 58 : proto, p[7] = 64;
        memset(p + 8, 0, 32);
        put16(p + 8, 0x2001), put16(p + 10, 0xdb8), put32(p + 20, from_client ? a : b + 0x10000);
        put16(p + 24, 0x2001), put16(p + 26, 0xdb8), put32(p + 36, from_client ? b + 0x10000 : a);
        return 40;
    }
    p[0] = 0x45, p[1] = 0, put16(p + 2, (uint16_t)(20 + l4len)), put32(p + 4, 0);
    p[8] = 64, p[9] = proto, put16(p + 10, 0);
    put32(p + 12, (from_client ? 0x0a000000u : 0xc6120000u) | (from_client ? a : b));
    put32(p + 16, (from_client ? 0xc6120000u : 0x0a000000u) | (from_client ? b : a));
    return 20;
}

static size_t
frame(struct conv *c, uint8_t *f)
{
    uint8_t pl[1600], flags;
    int from_client;
    size_t n = payload(c, pl, &from_client, &flags), l4, ip;
    uint8_t proto = c->kind == TLS || c->kind == HTTP ? 6 : c->kind == ICMP ? 1 : 17;
    uint8_t *l4p;

    memset(f, 0, 14);
    f[0] = 2, f[5] = (uint8_t)(from_client ? 1 : 2), f[6] = 2, f[11] = (uint8_t)(from_client ? 2 : 1);
    put16(f + 12, c->v6 ? 0x86dd : 0x0800);
    l4 = proto == 6 ? 20 : 8;
    ip = ip_header(c, f + 14, from_client, l4 + n, proto);
    l4p = f + 14 + ip;
    memset(l4p, 0, l4);
    if (proto == 1) {
        l4p[0] = c->v6 ? (from_client ? 128 : 129) : (from_client ? 8 : 0);
        put16(l4p + 4, (uint16_t)c->sport), put16(l4p + 6, c->step);
    } else {
        put16(l4p, from_client ? c->sport : c->dport);
        put16(l4p + 2, from_client ? c->dport : c->sport);
        if (proto == 17) {
            put16(l4p + 4, (uint16_t)(8 + n));
        } else {
            put32(l4p + 4, from_client ? c->seq_c : c->seq_s);
            l4p[12] = 0x50, l4p[13] = flags, put16(l4p + 14, 65535);
            *(from_client ? &c->seq_c : &c->seq_s) += (uint32_t)n + (flags & 3 ? 1 : 0);
        }
    }
    memcpy(l4p + l4, pl, n);
    c->step++;
    return 14 + ip + l4 + n;
}

int
main(int argc, char **argv)
{
    uint64_t packets, ts_us = 1700000000ull * 1000000;
    size_t concurrent;
    struct conv *convs;
    uint8_t f[2048];
    FILE *out;
    uint32_t hdr[6] = {0xa1b2c3d4, 0x00040002, 0, 0, 65535, 1};

    if (argc < 4) {
        fprintf(stderr, "usage: trafficgen OUT.pcap PACKETS CONCURRENT_FLOWS [SEED]\n");
        return 64;
    }
    packets = strtoull(argv[2], NULL, 10);
    concurrent = strtoull(argv[3], NULL, 10);
    if (argc > 4)
        rng_state ^= strtoull(argv[4], NULL, 10) * 0x9E3779B97F4A7C15ull;
    convs = calloc(concurrent ? concurrent : 1, sizeof(*convs));
    out = fopen(argv[1], "wb");
    if (convs == NULL || out == NULL || concurrent == 0) {
        perror(argv[1]);
        return 1;
    }
    setvbuf(out, NULL, _IOFBF, 1 << 20);
    fwrite(hdr, sizeof(hdr), 1, out);
    for (size_t i = 0; i < concurrent; i++)
        new_conv(&convs[i]);
    for (uint64_t i = 0; i < packets; i++) {
        struct conv *c = &convs[rnd() % concurrent];
        uint32_t rec[4];
        size_t len = frame(c, f);

        if (c->step == c->steps)
            new_conv(c);
        ts_us += 2;
        rec[0] = (uint32_t)(ts_us / 1000000), rec[1] = (uint32_t)(ts_us % 1000000);
        rec[2] = rec[3] = (uint32_t)len;
        fwrite(rec, sizeof(rec), 1, out);
        fwrite(f, len, 1, out);
    }
    return fclose(out) == 0 ? 0 : 1;
}
