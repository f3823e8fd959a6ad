/*
 * frame_bytes.h: what the project's capture writers share (bench/trafficgen.c, bench/flowgen.c,
 * tests/hostile/flood.c): big-endian stores into frame bytes and a small deterministic
 * pseudo-random generator, so a given seed always writes the same capture.
 */
#ifndef NFS_FRAME_BYTES_H
#define NFS_FRAME_BYTES_H

#include <stdint.h>

static inline void
put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8), p[1] = (uint8_t)v;
}

static inline void
put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16)), put16(p + 2, (uint16_t)v);
}

/* Marsaglia's xorshift64: fast, and the same sequence on every machine. */
static inline uint64_t
xorshift64(uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

#endif
