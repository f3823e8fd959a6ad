/*
 * clock.h: the two clocks, with their units in the names.
 *
 * Monotonic time drives timers, backoffs and heartbeats; wall-clock time stamps flows and
 * export headers. Every module reads them here rather than with its own clock_gettime wrapper.
 */
#ifndef NFS_CLOCK_H
#define NFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
nfs_mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static inline uint64_t
nfs_wall_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t
nfs_wall_ms(void)
{
    return nfs_wall_us() / 1000;
}

#endif
