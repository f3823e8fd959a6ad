/*
 * cryptopan.h: prefix-preserving address anonymisation (Crypto-PAn: J. Xu, J. Fan, M. Ammar,
 * S. Moon, "Prefix-Preserving IP Address Anonymization", ICNP 2002) for IPv4 and IPv6.
 *
 * Two addresses that share exactly a k-bit prefix map to two addresses that share exactly a
 * k-bit prefix; the mapping is a bijection fixed by a 32-byte key (16 bytes of AES-128 key, 16
 * bytes of pad), so the same key gives the same mapping in every run and on every sensor.
 * IPv4 results equal the reference implementation's sample trace; IPv6 is the same construction
 * over 128 bits (an IPv6 address whose first 32 bits are an IPv4 address anonymises to the IPv4
 * result in its first 32 bits).
 */
#ifndef NFS_CRYPTOPAN_H
#define NFS_CRYPTOPAN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NFS_CRYPTOPAN_KEY_SIZE 32

struct nfs_cryptopan;

/*
 * Reads a key file: 32 raw bytes, or 64 hex digits with an optional trailing newline. Refuses a
 * file that is not a regular file, not owned by the effective uid, or has any group or other
 * permission bit, since whoever reads the key can undo the anonymisation. Returns 0, or -1 with
 * a message in err naming the file, the reason and the fix (chmod 600 / chown).
 */
int nfs_cryptopan_load_key(const char *path, uint8_t key[32], char *err, size_t err_size);

/* The same with the owner the file must have: the user the daemon will run as, when it starts
 * as root and switches (user:), so the key it reads again on a reload is its own. */
int nfs_cryptopan_load_key_owned(const char *path, uid_t owner, uint8_t key[32], char *err,
                                 size_t err_size);

/* Returns a new instance for key (copied), or NULL when libgcrypt fails. An instance serves one
 * thread at a time (the cipher handle is not shared); free with nfs_cryptopan_free. */
struct nfs_cryptopan *nfs_cryptopan_new(const uint8_t key[32]);
void nfs_cryptopan_free(struct nfs_cryptopan *cp);

/* addr and the result in host byte order. 31 AES blocks, encrypted in one call. */
uint32_t nfs_cryptopan_ipv4(const struct nfs_cryptopan *cp, uint32_t addr);

/* in and out are network-order addresses; they may be the same buffer. 127 AES blocks. */
void nfs_cryptopan_ipv6(const struct nfs_cryptopan *cp, const uint8_t in[16], uint8_t out[16]);

#endif
