/* sha256.c - SHA-256 (FIPS 180-4) written out from the spec, no external library. */
#include "sha256.h"

#include <string.h>

/* The x86 SHA extensions, chosen at run time when the CPU has them (GCC and clang). */
#if defined(__x86_64__) && defined(__GNUC__)
#define SHA256_HAVE_SHANI 1
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#else
#define SHA256_HAVE_SHANI 0
#endif

static const uint32_t sha256_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static uint32_t rotr(uint32_t x, unsigned n)
{
	return (x >> n) | (x << (32 - n));
}

static uint32_t load_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void store_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

/* Processes n 64-byte blocks (FIPS 180-4 section 6.2.2), one at a time in plain C. */
static void blocks_portable(uint32_t state[8], const unsigned char *p, size_t n)
{
	for (; n > 0; n--, p += 64) {
		uint32_t w[64], a, b, c, d, e, f, g, h;
		size_t i;

		for (i = 0; i < 16; i++)
			w[i] = load_be32(p + 4 * i);
		for (i = 16; i < 64; i++) {
			uint32_t s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3);
			uint32_t s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10);
			w[i] = w[i - 16] + s0 + w[i - 7] + s1;
		}
		a = state[0], b = state[1], c = state[2], d = state[3];
		e = state[4], f = state[5], g = state[6], h = state[7];
		for (i = 0; i < 64; i++) {
			uint32_t t1 = h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) +
			              ((e & f) ^ (~e & g)) + sha256_k[i] + w[i];
			uint32_t t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) +
			              ((a & b) ^ (a & c) ^ (b & c));
			h = g;
			g = f;
			f = e;
			e = d + t1;
			d = c;
			c = b;
			b = a;
			a = t1 + t2;
		}
		state[0] += a, state[1] += b, state[2] += c, state[3] += d;
		state[4] += e, state[5] += f, state[6] += g, state[7] += h;
	}
}

static bool force_portable;

#if SHA256_HAVE_SHANI
/* The same with the x86 SHA extensions: sha256rnds2 does two rounds on the state held as
 * ABEF and CDGH, sha256msg1/msg2 the message schedule four words at a time. */
__attribute__((target("sha,sse4.1"))) static void blocks_shani(uint32_t state[8],
                                                               const unsigned char *p, size_t n)
{
	/* Big-endian words: reverse the bytes of each 32-bit lane. */
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bLL, 0x0405060700010203LL);
	__m128i dcba = _mm_loadu_si128((const __m128i *)(const void *)&state[0]);
	__m128i hgfe = _mm_loadu_si128((const __m128i *)(const void *)&state[4]);
	__m128i cdab = _mm_shuffle_epi32(dcba, 0xb1);
	__m128i efgh = _mm_shuffle_epi32(hgfe, 0x1b);
	__m128i abef = _mm_alignr_epi8(cdab, efgh, 8);
	__m128i cdgh = _mm_blend_epi16(efgh, cdab, 0xf0);

	for (; n > 0; n--, p += 64) {
		__m128i w[4], abef0 = abef, cdgh0 = cdgh;

		for (unsigned g = 0; g < 16; g++) { /* 16 groups of four rounds */
			__m128i wk;

			if (g < 4)
				w[g] = _mm_shuffle_epi8(
				    _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * g)),
				    bswap);
			else /* W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16], t = 4g..4g+3 */
				w[g % 4] = _mm_sha256msg2_epu32(
				    _mm_add_epi32(
				        _mm_sha256msg1_epu32(w[g % 4], w[(g + 1) % 4]),
				        _mm_alignr_epi8(w[(g + 3) % 4], w[(g + 2) % 4], 4)),
				    w[(g + 3) % 4]);
			wk = _mm_add_epi32(
			    w[g % 4],
			    _mm_loadu_si128((const __m128i *)(const void *)&sha256_k[4 * g]));
			cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);
			abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}
	/* Back from ABEF/CDGH to A..H in order. */
	__m128i feba = _mm_shuffle_epi32(abef, 0x1b);
	__m128i dchg = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)(void *)&state[0], _mm_blend_epi16(feba, dchg, 0xf0));
	_mm_storeu_si128((__m128i *)(void *)&state[4], _mm_alignr_epi8(dchg, feba, 8));
}
#endif

#if SHA256_HAVE_SHANI
/* CPUID leaf 7: EBX bit 29 is SHA; leaf 1: ECX bit 19 is SSE4.1. Asked on first use rather
 * than by __builtin_cpu_supports, whose constructor would run CPUID (a trap to the hypervisor
 * in a VM) at the start of every process, hashing or not. */
static bool cpu_has_shani(void)
{
	static atomic_int known; /* 0: not asked yet, 1: yes, 2: no */
	unsigned a, b, c, d;
	int k = atomic_load_explicit(&known, memory_order_relaxed);

	if (k == 0) {
		bool yes = __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & (1u << 29)) != 0 &&
		           __get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 19)) != 0;

		k = yes ? 1 : 2;
		atomic_store_explicit(&known, k, memory_order_relaxed);
	}
	return k == 1;
}
#endif

bool sha256_accelerated(void)
{
#if SHA256_HAVE_SHANI
	return !force_portable && cpu_has_shani();
#else
	return false;
#endif
}

void sha256_force_portable(bool on)
{
	force_portable = on;
}

static void blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
#if SHA256_HAVE_SHANI
	if (sha256_accelerated()) {
		blocks_shani(state, p, n);
		return;
	}
#endif
	blocks_portable(state, p, n);
}

void sha256_init(struct sha256_ctx *ctx)
{
	static const uint32_t iv[8] = {
	    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
	    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
	};

	memcpy(ctx->state, iv, sizeof iv);
	ctx->total = 0;
	ctx->buf_len = 0;
}

void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len)
{
	const unsigned char *p = data;

	/* Early out keeps a NULL data pointer away from memcpy and pointer arithmetic. */
	if (len == 0)
		return;
	ctx->total += len;
	if (ctx->buf_len > 0) {
		size_t take = sizeof ctx->buf - ctx->buf_len;

		if (take > len)
			take = len;
		memcpy(ctx->buf + ctx->buf_len, p, take);
		ctx->buf_len += take;
		p += take;
		len -= take;
		if (ctx->buf_len < sizeof ctx->buf)
			return;
		blocks(ctx->state, ctx->buf, 1);
		ctx->buf_len = 0;
	}
	/* Whole blocks straight from the caller's memory, no copy. */
	if (len >= 64) {
		blocks(ctx->state, p, len / 64);
		p += len - len % 64;
		len %= 64;
	}
	if (len > 0) {
		memcpy(ctx->buf, p, len);
		ctx->buf_len = len;
	}
}

void sha256_final(struct sha256_ctx *ctx, unsigned char out[SHA256_DIGEST_LEN])
{
	uint64_t bits = ctx->total * 8;
	size_t i;

	/* Padding: 0x80, zeros up to 56 mod 64, then the bit length big-endian. */
	ctx->buf[ctx->buf_len++] = 0x80;
	if (ctx->buf_len > 56) {
		memset(ctx->buf + ctx->buf_len, 0, sizeof ctx->buf - ctx->buf_len);
		blocks(ctx->state, ctx->buf, 1);
		ctx->buf_len = 0;
	}
	memset(ctx->buf + ctx->buf_len, 0, 56 - ctx->buf_len);
	store_be32(ctx->buf + 56, (uint32_t)(bits >> 32));
	store_be32(ctx->buf + 60, (uint32_t)bits);
	blocks(ctx->state, ctx->buf, 1);
	for (i = 0; i < 8; i++)
		store_be32(out + 4 * i, ctx->state[i]);
	/* Don't leave the last block's input lying around in the caller's struct. */
	memset(ctx->buf, 0, sizeof ctx->buf);
	ctx->buf_len = 0;
}

void sha256_hex_digest(const unsigned char digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 0x0f];
	}
	out[2 * SHA256_DIGEST_LEN] = '\0';
}

void sha256_hex(const void *data, size_t len, char out[SHA256_HEX_LEN])
{
	unsigned char digest[SHA256_DIGEST_LEN];
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, data, len);
	sha256_final(&ctx, digest);
	sha256_hex_digest(digest, out);
}
