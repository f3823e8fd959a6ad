/*
 * cryptopan.c: how much does prefix-preserving anonymisation cost per address?
 *
 * Maps N random IPv4 and N random IPv6 addresses with one nfs_cryptopan instance and prints the
 * CPU time per address (CLOCK_THREAD_CPUTIME_ID, so other processes on a busy machine do not
 * count) and the addresses per second that one export thread could anonymise. A flow record
 * holds two addresses (uniflow: two records, four).
 *
 *   cryptopan [N]   (default 200000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cryptopan.h"

static double
cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 200000;
    uint8_t key[32];
    uint64_t x = 0x2545f4914f6cdd1dull;
    for (int i = 0; i < 32; i++)
        key[i] = (uint8_t)(x >> (i % 8 * 8)) ^ (uint8_t)i;
    struct nfs_cryptopan *cp = nfs_cryptopan_new(key);
    if (!cp || n <= 0)
        return 1;
    uint32_t sink = 0;
    double t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        sink ^= nfs_cryptopan_ipv4(cp, (uint32_t)x);
    }
    double v4 = (cpu_ns() - t0) / (double)n;
    uint8_t a[16] = {0}, out[16];
    t0 = cpu_ns();
    for (long i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(a, &x, sizeof(x));
        nfs_cryptopan_ipv6(cp, a, out);
        sink ^= out[15];
    }
    double v6 = (cpu_ns() - t0) / (double)n;
    printf("addresses: %ld each\n", n);
    printf("ipv4: %.0f ns/address, %.2f M addresses/s\n", v4, 1e3 / v4);
    printf("ipv6: %.0f ns/address, %.2f M addresses/s\n", v6, 1e3 / v6);
    printf("(checksum %u)\n", sink);
    nfs_cryptopan_free(cp);
    return 0;
}
