/*
 * test_cryptopan.c: lib/cryptopan.c against the Crypto-PAn reference distribution's sample
 * trace (its key and address pairs), and by its defining properties over random addresses:
 * exactly k shared prefix bits stay exactly k, the same key maps the same way in a second
 * instance (a restart), another key maps differently, and key files are read in both formats and
 * refused when others could read or own them.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "common.h"
#include "cryptopan.h"

/* The sample key of the reference implementation (sample_trace_raw.dat / _sanitized.dat). */
static const uint8_t ref_key[32] = {21,  34, 23,  141, 51, 164, 207, 128, 19,  10,  91,
                                    22,  73, 144, 125, 16, 216, 152, 143, 131, 121, 121,
                                    101, 39, 98,  87,  76, 45,  42,  132, 34,  2};

/* Pairs from the reference distribution's sample trace (raw -> sanitized). */
static const char *const ref_v4[][2] = {
    {"128.11.68.132", "135.242.180.132"},   {"129.118.74.4", "134.136.186.123"},
    {"130.132.252.244", "133.68.164.234"},  {"141.223.7.43", "141.167.8.160"},
    {"141.233.145.108", "141.129.237.235"}, {"152.163.225.39", "151.140.114.167"},
    {"192.102.249.13", "252.138.62.131"},   {"205.188.147.153", "242.96.16.101"},
    {"205.188.248.25", "242.96.88.27"},     {"24.0.250.221", "100.15.198.226"},
    {"4.3.88.225", "124.60.155.63"},        {"64.34.154.117", "0.221.154.117"},
    {"10.185.25.118", "117.161.29.118"},
};

/* IPv6 with the same key, as published with the Go implementation (Yawning/cryptopan), which
 * extends the construction to 128 bits the same way. */
static const char *const ref_v6[][2] = {
    {"::1", "78ff:f001:9fc0:20df:8380:b1f1:704:ed"},
    {"::ffff", "78ff:f001:9fc0:20df:8380:b1f1:704:f838"},
    {"2001:db8::1", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1e"},
    {"2001:db8::2", "4401:2bc:603f:d91d:27f:ff8e:e6f1:dc1c"},
};

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
random_bytes(uint8_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)next_random();
}

static uint32_t
v4(const char *s)
{
    struct in_addr a;
    CHECK(inet_pton(AF_INET, s, &a) == 1);
    return ntohl(a.s_addr);
}

static size_t
common_prefix(const uint8_t *a, const uint8_t *b, size_t nbytes)
{
    for (size_t i = 0; i < nbytes * 8; i++)
        if (((a[i / 8] ^ b[i / 8]) >> (7 - i % 8)) & 1)
            return i;
    return nbytes * 8;
}

/* b := a with bit k flipped and random bits after it: exactly k shared prefix bits. */
static void
diverge_at(const uint8_t *a, uint8_t *b, size_t nbytes, size_t k)
{
    random_bytes(b, nbytes);
    for (size_t i = 0; i <= k; i++) {
        uint8_t m = (uint8_t)(0x80 >> (i % 8)), bit = a[i / 8] & m;
        if (i == k)
            bit ^= m;
        b[i / 8] = (uint8_t)((b[i / 8] & ~m) | bit);
    }
}

static void
map(const struct nfs_cryptopan *cp, const uint8_t *in, uint8_t *out, size_t nbytes)
{
    if (nbytes == 16) {
        nfs_cryptopan_ipv6(cp, in, out);
        return;
    }
    uint32_t r = nfs_cryptopan_ipv4(cp, (uint32_t)in[0] << 24 | in[1] << 16 | in[2] << 8 | in[3]);
    uint8_t o[4] = {(uint8_t)(r >> 24), (uint8_t)(r >> 16), (uint8_t)(r >> 8), (uint8_t)r};
    memcpy(out, o, 4);
}

static void
test_reference_ipv4(void)
{
    struct nfs_cryptopan *cp = nfs_cryptopan_new(ref_key);
    CHECK(cp != NULL);
    for (size_t i = 0; i < NFS_NITEMS(ref_v4); i++)
        CHECK_EQ(nfs_cryptopan_ipv4(cp, v4(ref_v4[i][0])), v4(ref_v4[i][1]));
    nfs_cryptopan_free(cp);
}

static void
test_reference_ipv6(void)
{
    struct nfs_cryptopan *cp = nfs_cryptopan_new(ref_key);
    for (size_t i = 0; i < NFS_NITEMS(ref_v6); i++) {
        uint8_t in[16], want[16], got[16];
        CHECK(inet_pton(AF_INET6, ref_v6[i][0], in) == 1);
        CHECK(inet_pton(AF_INET6, ref_v6[i][1], want) == 1);
        nfs_cryptopan_ipv6(cp, in, got);
        CHECK(memcmp(got, want, 16) == 0);
    }
    /* An IPv4 address in the first 32 bits of an IPv6 one: the same first 32 bits out. */
    for (size_t i = 0; i < NFS_NITEMS(ref_v4); i++) {
        uint8_t in[16], out[16];
        random_bytes(in, sizeof(in));
        uint32_t a = v4(ref_v4[i][0]), want = v4(ref_v4[i][1]);
        in[0] = (uint8_t)(a >> 24), in[1] = (uint8_t)(a >> 16), in[2] = (uint8_t)(a >> 8);
        in[3] = (uint8_t)a;
        nfs_cryptopan_ipv6(cp, in, out);
        CHECK_EQ((uint32_t)out[0] << 24 | out[1] << 16 | out[2] << 8 | out[3], want);
    }
    nfs_cryptopan_free(cp);
}

/* For every k, many random pairs sharing exactly k bits map to pairs sharing exactly k bits. */
static void
check_prefixes(size_t nbytes, int pairs_per_k)
{
    uint8_t key[32];
    random_bytes(key, sizeof(key));
    struct nfs_cryptopan *cp = nfs_cryptopan_new(key);
    int bad = 0, total = 0;
    for (size_t k = 0; k <= nbytes * 8; k++) {
        for (int n = 0; n < pairs_per_k; n++) {
            uint8_t a[16], b[16], ma[16], mb[16];
            random_bytes(a, nbytes);
            if (k < nbytes * 8)
                diverge_at(a, b, nbytes, k);
            else
                memcpy(b, a, nbytes);
            CHECK_EQ(common_prefix(a, b, nbytes), k);
            map(cp, a, ma, nbytes);
            map(cp, b, mb, nbytes);
            bad += common_prefix(ma, mb, nbytes) != k;
            total++;
        }
    }
    printf("IPv%d: %d pairs, %d with a changed common prefix\n", nbytes == 4 ? 4 : 6, total, bad);
    CHECK_EQ(bad, 0);
    nfs_cryptopan_free(cp);
}

static void
test_prefix_preserving_ipv4(void)
{
    check_prefixes(4, 300);
}

static void
test_prefix_preserving_ipv6(void)
{
    check_prefixes(16, 80);
}

/* Two instances with one key (a restart) agree; another key disagrees almost everywhere. */
static void
test_same_key_same_mapping(void)
{
    uint8_t key[32], other[32];
    random_bytes(key, sizeof(key));
    memcpy(other, key, sizeof(other));
    other[31] ^= 1; /* one pad bit */
    struct nfs_cryptopan *a = nfs_cryptopan_new(key), *b = nfs_cryptopan_new(key);
    struct nfs_cryptopan *c = nfs_cryptopan_new(other);
    int same_v4 = 0, same_v6 = 0, identity = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t addr = (uint32_t)next_random();
        uint32_t ra = nfs_cryptopan_ipv4(a, addr);
        CHECK_EQ(ra, nfs_cryptopan_ipv4(b, addr));
        same_v4 += ra == nfs_cryptopan_ipv4(c, addr);
        identity += ra == addr;
        uint8_t in[16], o1[16], o2[16], o3[16];
        random_bytes(in, sizeof(in));
        nfs_cryptopan_ipv6(a, in, o1);
        nfs_cryptopan_ipv6(b, in, o2);
        nfs_cryptopan_ipv6(c, in, o3);
        CHECK(memcmp(o1, o2, 16) == 0);
        same_v6 += memcmp(o1, o3, 16) == 0;
    }
    printf("other key: %d/2000 IPv4 and %d/2000 IPv6 addresses map alike\n", same_v4, same_v6);
    CHECK(same_v4 < 5);
    CHECK_EQ(same_v6, 0);
    CHECK(identity < 5);
    nfs_cryptopan_free(a);
    nfs_cryptopan_free(b);
    nfs_cryptopan_free(c);
}

/* ---- key files ---- */

static char key_path[64];

static int
write_key(const void *data, size_t len, mode_t mode)
{
    unlink(key_path);
    FILE *f = fopen(key_path, "wb");
    if (!f)
        return -1;
    fwrite(data, 1, len, f);
    fclose(f);
    return chmod(key_path, mode);
}

static void
test_key_file_formats(void)
{
    snprintf(key_path, sizeof(key_path), "/tmp/nfs-cryptopan-test-%d.key", (int)getpid());
    uint8_t key[32], raw[32];
    char err[512], hex[66];
    random_bytes(raw, sizeof(raw));
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02X", raw[i]);
    hex[64] = '\n';

    CHECK_EQ(write_key(raw, 32, 0600), 0);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), 0);
    CHECK(memcmp(key, raw, 32) == 0);

    memset(key, 0, sizeof(key));
    CHECK_EQ(write_key(hex, 65, 0400), 0);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), 0);
    CHECK(memcmp(key, raw, 32) == 0);
    CHECK_EQ(write_key(hex, 64, 0600), 0);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), 0);

    CHECK_EQ(write_key(hex, 31, 0600), 0);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), -1);
    CHECK(strstr(err, "32 raw bytes or 64 hex digits") != NULL);
    hex[10] = 'g';
    CHECK_EQ(write_key(hex, 65, 0600), 0);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), -1);
    unlink(key_path);
    CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), -1);
    CHECK(strstr(err, "No such file") != NULL);
}

static void
test_key_file_refused(void)
{
    static const mode_t modes[] = {0640, 0604, 0660, 0644, 0610, 0601, 0602};
    uint8_t raw[32] = {1}, key[32];
    char err[512];
    for (size_t i = 0; i < NFS_NITEMS(modes); i++) {
        CHECK_EQ(write_key(raw, 32, modes[i]), 0);
        err[0] = 0;
        CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), -1);
        CHECK(strstr(err, key_path) != NULL);
        CHECK(strstr(err, "chmod 600") != NULL);
    }
    /* Owned by someone else: only root can set that up. */
    CHECK_EQ(write_key(raw, 32, 0600), 0);
    if (geteuid() == 0 && chown(key_path, 65534, 65534) == 0) {
        CHECK_EQ(nfs_cryptopan_load_key(key_path, key, err, sizeof(err)), -1);
        CHECK(strstr(err, "chown") != NULL);
        CHECK(strstr(err, "uid 65534") != NULL);
    } else {
        printf("skip: the other-owner case needs root\n");
    }
    unlink(key_path);
    CHECK_EQ(nfs_cryptopan_load_key("/tmp", key, err, sizeof(err)), -1);
}

int
main(void)
{
    RUN(test_reference_ipv4);
    RUN(test_reference_ipv6);
    RUN(test_prefix_preserving_ipv4);
    RUN(test_prefix_preserving_ipv6);
    RUN(test_same_key_same_mapping);
    RUN(test_key_file_formats);
    RUN(test_key_file_refused);
    return check_exit();
}
