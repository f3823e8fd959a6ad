/*
 * cryptopan_map KEY_FILE: the Crypto-PAn mapping of the addresses on standard input (one IPv4
 * or IPv6 address per line), one per line on standard output, straight from lib/cryptopan.c.
 * test_profile_anonymize.py compares what collectors received with it.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "cryptopan.h"

int
main(int argc, char **argv)
{
    uint8_t key[NFS_CRYPTOPAN_KEY_SIZE], a[16];
    char line[128], out[INET6_ADDRSTRLEN], err[512];
    struct nfs_cryptopan *cp;

    if (argc != 2 || nfs_cryptopan_load_key(argv[1], key, err, sizeof(err)) != 0) {
        fprintf(stderr, "usage: cryptopan_map KEY_FILE < addresses (%s)\n", argc == 2 ? err : "");
        return 64;
    }
    if ((cp = nfs_cryptopan_new(key)) == NULL)
        return 1;
    while (fgets(line, sizeof(line), stdin) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (inet_pton(AF_INET, line, a) == 1) {
            uint32_t v = nfs_cryptopan_ipv4(cp, ntohl(*(uint32_t *)(void *)a));
            uint32_t n = htonl(v);
            inet_ntop(AF_INET, &n, out, sizeof(out));
        } else if (inet_pton(AF_INET6, line, a) == 1) {
            nfs_cryptopan_ipv6(cp, a, a);
            inet_ntop(AF_INET6, a, out, sizeof(out));
        } else {
            snprintf(out, sizeof(out), "?");
        }
        printf("%s\n", out);
    }
    nfs_cryptopan_free(cp);
    return 0;
}
