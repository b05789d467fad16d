/* sha256.h - self-contained SHA-256 (FIPS 180-4) for migration checksums. */
#ifndef SCHEMAGATE_SHA256_H
#define SCHEMAGATE_SHA256_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_LEN 32
#define SHA256_HEX_LEN 65 /* 64 lowercase hex digits plus the NUL */

/* Plain value struct: copy it to fork a running hash. */
struct sha256_ctx {
	uint32_t state[8];     /* the eight working hash words H0..H7 */
	uint64_t total;        /* bytes hashed so far */
	unsigned char buf[64]; /* pending partial block */
	size_t buf_len;        /* bytes used in buf, always < 64 between calls */
};

void sha256_init(struct sha256_ctx *ctx);
/* Hashes len more bytes; data may be NULL when len is 0. */
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest; the context must be re-initialised before reuse. */
void sha256_final(struct sha256_ctx *ctx, unsigned char out[SHA256_DIGEST_LEN]);
/* A digest as lowercase hex, NUL-terminated. */
void sha256_hex_digest(const unsigned char digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN]);
/* One-shot digest as lowercase hex, NUL-terminated. */
void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN]);

/* True when the blocks are hashed with the CPU's SHA instructions (x86-64 SHA-NI, chosen at
 * run time), false when with the portable C code. The digests are the same. */
bool sha256_accelerated(void);
/* Tests and benchmarks only: on, the portable code runs even where the CPU could do better.
 * Not thread-safe: set it before hashing starts. */
void sha256_force_portable(bool on);

#endif /* SCHEMAGATE_SHA256_H */
