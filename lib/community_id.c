/*
 * community_id.c: Community ID v1 over libgcrypt's SHA-1 (nDPI links libgcrypt already; see
 * docs/design.md), with the specification's ICMP and ICMPv6 type pairings.
 */
#include "community_id.h"

#include <gcrypt.h>

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_ICMPV6 58
#define PROTO_SCTP   132

bool
nfs_community_id_has_ports(uint8_t protocol)
{
    return protocol == PROTO_TCP || protocol == PROTO_UDP || protocol == PROTO_SCTP ||
           protocol == PROTO_ICMP || protocol == PROTO_ICMPV6;
}

/* The type answering an ICMP (v4: RFC 792, 950, 1256) or ICMPv6 message type that has one,
 * else -1: echo, router solicitation/advertisement, timestamp, information, address mask;
 * v6 echo, MLD query/report, neighbour and router discovery, node information, home agent
 * address discovery. */
static int
icmp_counterpart(uint8_t protocol, uint8_t type)
{
    static const uint8_t v4[][2] = {{8, 0}, {10, 9}, {13, 14}, {15, 16}, {17, 18}};
    static const uint8_t v6[][2] = {{128, 129}, {130, 131}, {133, 134},
                                    {135, 136}, {139, 140}, {144, 145}};
    const uint8_t(*pairs)[2] = protocol == PROTO_ICMP ? v4 : v6;
    size_t n = protocol == PROTO_ICMP ? NFS_NITEMS(v4) : NFS_NITEMS(v6);

    for (size_t i = 0; i < n; i++) {
        if (pairs[i][0] == type)
            return pairs[i][1];
        if (pairs[i][1] == type)
            return pairs[i][0];
    }
    return -1;
}

static size_t
put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return 2;
}

static void
base64(const uint8_t *in, size_t n, char *out)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (i + 1 < n ? (uint32_t)in[i + 1] << 8 : 0) |
                     (i + 2 < n ? in[i + 2] : 0);

        *out++ = abc[v >> 18 & 63];
        *out++ = abc[v >> 12 & 63];
        *out++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *out++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *out = '\0';
}

char *
nfs_community_id(uint16_t seed, const struct nfs_community_tuple *t, char out[NFS_COMMUNITY_ID_LEN])
{
    size_t alen = t->ip_version == 6 ? 16 : 4, len = 0;
    const struct nfs_ip *a = &t->src, *b = &t->dst;
    uint16_t pa = t->sport, pb = t->dport;
    bool ports = nfs_community_id_has_ports(t->protocol), one_way = false;
    uint8_t buf[2 + 16 + 16 + 2 + 4], digest[20];

    if (t->protocol == PROTO_ICMP || t->protocol == PROTO_ICMPV6) {
        int peer = icmp_counterpart(t->protocol, (uint8_t)t->sport);

        one_way = peer < 0;
        if (!one_way)
            pb = (uint16_t)peer;
    }
    /* The smaller endpoint first, so that both directions hash alike. */
    int c = memcmp(a->b, b->b, alen);
    if (!one_way && (c > 0 || (c == 0 && ports && pa > pb))) {
        const struct nfs_ip *ta = a;
        uint16_t tp = pa;

        a = b, b = ta, pa = pb, pb = tp;
    }
    len += put_be16(buf, seed);
    memcpy(buf + len, a->b, alen), len += alen;
    memcpy(buf + len, b->b, alen), len += alen;
    buf[len++] = t->protocol;
    buf[len++] = 0;
    if (ports) {
        len += put_be16(buf + len, pa);
        len += put_be16(buf + len, pb);
    }
    gcry_md_hash_buffer(GCRY_MD_SHA1, digest, buf, len);
    out[0] = '1', out[1] = ':';
    base64(digest, sizeof(digest), out + 2);
    return out;
}
