/*
 * common.h: the few definitions every module of libnfsensor shares.
 *
 * Byte-order readers for packet bytes (never cast packet bytes to a wider type: the buffer is not
 * aligned and may end anywhere), the error value that functions fill instead of logging, and
 * the IP address value used by keys, flows and records.
 */
#ifndef NFS_COMMON_H
#define NFS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define NFS_NITEMS(a) (sizeof(a) / sizeof((a)[0]))
#define NFS_UNUSED    __attribute__((unused))
#define NFS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/* sysexits(3): configuration error. systemd's unit lists it in RestartPreventExitStatus. */
#define NFS_EX_CONFIG 78

/* A failure described for the caller, who decides whether and how to log it. */
struct nfs_error {
    char msg[512];
};

void nfs_error_set(struct nfs_error *err, const char *fmt, ...) NFS_PRINTF(2, 3);

static inline uint16_t
nfs_be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
nfs_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
nfs_be64(const uint8_t *p)
{
    return (uint64_t)nfs_be32(p) << 32 | nfs_be32(p + 4);
}

static inline void
nfs_put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void
nfs_put_be32(uint8_t *p, uint32_t v)
{
    nfs_put_be16(p, (uint16_t)(v >> 16));
    nfs_put_be16(p + 2, (uint16_t)v);
}

/* An IPv4 or IPv6 address in network byte order; IPv4 uses the first 4 bytes, the rest is 0. */
struct nfs_ip {
    union {
        uint8_t b[16];
        uint32_t w[4];
        uint64_t q[2];
    };
};

/* memcmp's order of the bytes (its sign only), read as two big-endian words: memcmp was a
 * library call for every packet's key. */
static inline int
nfs_ip_cmp(const struct nfs_ip *a, const struct nfs_ip *b)
{
    uint64_t x = nfs_be64(a->b), y = nfs_be64(b->b);

    if (x == y) {
        x = nfs_be64(a->b + 8);
        y = nfs_be64(b->b + 8);
    }
    return (x > y) - (x < y);
}

static inline bool
nfs_ip_eq(const struct nfs_ip *a, const struct nfs_ip *b)
{
    return a->q[0] == b->q[0] && a->q[1] == b->q[1];
}

/* Writes the address as inet_ntop would into buf (at least 46 bytes); returns buf. */
char *nfs_ip_format(const struct nfs_ip *ip, unsigned ip_version, char *buf, size_t size);

#endif
