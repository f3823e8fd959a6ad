/*
 * cryptopan.c: Crypto-PAn over libgcrypt's AES-128.
 *
 * Bit i of the anonymised address is bit i of the original XOR the first bit of
 * AES(first i bits of the original, followed by the pad's remaining bits), where the pad is
 * AES(key[16..31]). The output bit for position i therefore depends only on the first i bits,
 * which is what preserves prefixes. The block for i = 0 is the pad itself, so its bit is computed
 * once at creation; the other 31 (IPv4) or 127 (IPv6) blocks are built side by side and
 * encrypted in one ECB call, which lets AES-NI pipeline them instead of paying a library call
 * per bit.
 *
 * libgcrypt rather than another AES: nDPI already links it (libndpi.pc: -lgcrypt), so it adds no
 * runtime library, and it uses AES-NI where the CPU has it.
 */
#include "cryptopan.h"

#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 16

struct nfs_cryptopan {
    gcry_cipher_hd_t aes;
    uint8_t pad[BLOCK]; /* AES(key[16..31]) */
    uint8_t bit0;       /* first bit of AES(pad): the one-time-pad bit of position 0 */
};

/* ---- key file ---- */

static int
hex_digit(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* 32 raw bytes, or 64 hex digits and an optional "\n" or "\r\n". */
static bool
parse_key(const uint8_t *buf, size_t len, uint8_t key[32])
{
    if (len == NFS_CRYPTOPAN_KEY_SIZE) {
        memcpy(key, buf, NFS_CRYPTOPAN_KEY_SIZE);
        return true;
    }
    if (len > 0 && buf[len - 1] == '\n')
        len--;
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    if (len != 2 * NFS_CRYPTOPAN_KEY_SIZE)
        return false;
    for (size_t i = 0; i < NFS_CRYPTOPAN_KEY_SIZE; i++) {
        int hi = hex_digit(buf[2 * i]), lo = hex_digit(buf[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        key[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* Whoever can read the key can undo the anonymisation: only the owner may. */
static bool
check_owner(const char *path, const struct stat *st, uid_t owner, char *err, size_t err_size)
{
    if (!S_ISREG(st->st_mode)) {
        snprintf(err, err_size, "%s: not a regular file", path);
        return false;
    }
    if (st->st_uid != owner) {
        snprintf(err, err_size,
                 "%s: owned by uid %u, not by the daemon's user (uid %u); whoever else can "
                 "replace the key controls the mapping: chown %u %s",
                 path, (unsigned)st->st_uid, (unsigned)owner, (unsigned)owner, path);
        return false;
    }
    if (st->st_mode & 077) {
        snprintf(err, err_size,
                 "%s: mode %04o gives group or others access; whoever reads the key can undo the "
                 "anonymisation: chmod 600 %s",
                 path, (unsigned)(st->st_mode & 07777), path);
        return false;
    }
    return true;
}

int
nfs_cryptopan_load_key(const char *path, uint8_t key[32], char *err, size_t err_size)
{
    return nfs_cryptopan_load_key_owned(path, geteuid(), key, err, err_size);
}

int
nfs_cryptopan_load_key_owned(const char *path, uid_t owner, uint8_t key[32], char *err,
                             size_t err_size)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    uint8_t buf[2 * NFS_CRYPTOPAN_KEY_SIZE + 3]; /* one more than the longest valid file */
    ssize_t n = -1;
    int rc = -1;
    if (fstat(fd, &st) != 0)
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
    else if (!check_owner(path, &st, owner, err, err_size))
        ;
    else if ((n = read(fd, buf, sizeof(buf))) < 0)
        snprintf(err, err_size, "%s: %s", path, strerror(errno));
    else if (!parse_key(buf, (size_t)n, key))
        snprintf(err, err_size,
                 "%s: a Crypto-PAn key is 32 raw bytes or 64 hex digits (e.g. from "
                 "`head -c 32 /dev/urandom > %s`), the file has %zd%s bytes",
                 path, path, n, (size_t)n == sizeof(buf) ? " or more" : "");
    else
        rc = 0;
    explicit_bzero(buf, sizeof(buf));
    close(fd);
    return rc;
}

/* ---- mapping ---- */

struct nfs_cryptopan *
nfs_cryptopan_new(const uint8_t key[32])
{
    /* nDPI initialises libgcrypt as well; asking for the version is what the manual requires
     * before first use and is harmless when repeated. */
    if (!gcry_check_version(NULL))
        return NULL;
    struct nfs_cryptopan *cp = calloc(1, sizeof(*cp));
    if (!cp)
        return NULL;
    uint8_t first[BLOCK];
    if (gcry_cipher_open(&cp->aes, GCRY_CIPHER_AES128, GCRY_CIPHER_MODE_ECB, 0) != 0) {
        free(cp);
        return NULL;
    }
    if (gcry_cipher_setkey(cp->aes, key, BLOCK) != 0 ||
        gcry_cipher_encrypt(cp->aes, cp->pad, BLOCK, key + BLOCK, BLOCK) != 0 ||
        gcry_cipher_encrypt(cp->aes, first, BLOCK, cp->pad, BLOCK) != 0) {
        nfs_cryptopan_free(cp);
        return NULL;
    }
    cp->bit0 = first[0] >> 7;
    return cp;
}

void
nfs_cryptopan_free(struct nfs_cryptopan *cp)
{
    if (!cp)
        return;
    gcry_cipher_close(cp->aes);
    explicit_bzero(cp, sizeof(*cp));
    free(cp);
}

/*
 * out = in XOR the one-time pad of an nbytes-long address. Block i-1 holds the first i bits of
 * in followed by the pad's bits from position i on.
 */
static void
anonymize(const struct nfs_cryptopan *cp, const uint8_t *in, size_t nbytes, uint8_t *out)
{
    size_t nbits = nbytes * 8;
    uint8_t blocks[127][BLOCK];
    for (size_t i = 1; i < nbits; i++) {
        uint8_t *b = blocks[i - 1];
        size_t whole = i / 8, rest = i % 8;
        memcpy(b, in, whole);
        memcpy(b + whole, cp->pad + whole, BLOCK - whole);
        if (rest) {
            uint8_t mask = (uint8_t)(0xff << (8 - rest));
            b[whole] = (uint8_t)((in[whole] & mask) | (cp->pad[whole] & ~mask));
        }
    }
    /* ECB on a buffer of blocks cannot fail for a valid handle and a multiple of 16 bytes. */
    gcry_cipher_encrypt(cp->aes, blocks, (nbits - 1) * BLOCK, NULL, 0);
    uint8_t otp[16] = {(uint8_t)(cp->bit0 << 7)};
    for (size_t i = 1; i < nbits; i++)
        otp[i / 8] |= (uint8_t)((blocks[i - 1][0] >> 7) << (7 - i % 8));
    for (size_t i = 0; i < nbytes; i++)
        out[i] = in[i] ^ otp[i];
}

uint32_t
nfs_cryptopan_ipv4(const struct nfs_cryptopan *cp, uint32_t addr)
{
    uint8_t b[4] = {(uint8_t)(addr >> 24), (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
                    (uint8_t)addr};
    anonymize(cp, b, sizeof(b), b);
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

void
nfs_cryptopan_ipv6(const struct nfs_cryptopan *cp, const uint8_t in[16], uint8_t out[16])
{
    uint8_t copy[16];
    memcpy(copy, in, sizeof(copy));
    anonymize(cp, copy, sizeof(copy), out);
}
