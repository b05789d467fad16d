/* test_sha256.c - SHA-256 against the NIST vectors and at the padding boundaries. */
#include <criterion/criterion.h>

#include <stdlib.h>
#include <string.h>

#include "sha256.h"
#include "sgt_table.h"

static void hex_of(const unsigned char digest[SHA256_DIGEST_LEN], char out[SHA256_HEX_LEN])
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < SHA256_DIGEST_LEN; i++) {
		out[2 * i] = digits[digest[i] >> 4];
		out[2 * i + 1] = digits[digest[i] & 0x0f];
	}
	out[2 * SHA256_DIGEST_LEN] = '\0';
}

Test(sha256, nist_empty)
{
	char hex[SHA256_HEX_LEN];

	sha256_hex("", 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	sha256_hex(NULL, 0, hex);
	cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

Test(sha256, nist_abc)
{
	char hex[SHA256_HEX_LEN];

	sha256_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

Test(sha256, nist_448_bits)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[SHA256_HEX_LEN];

	sha256_hex(msg, strlen(msg), hex);
	cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

Test(sha256, nist_896_bits)
{
	static const char msg[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
	                          "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
	char hex[SHA256_HEX_LEN];

	sha256_hex(msg, strlen(msg), hex);
	cr_assert_str_eq(hex, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
}

Test(sha256, nist_million_a_in_odd_chunks)
{
	static const size_t chunks[] = {1, 3, 7, 13, 63, 65, 127, 333, 1001};
	unsigned char digest[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN];
	char block[1001];
	struct sha256_ctx ctx;
	size_t done = 0, i = 0;

	memset(block, 'a', sizeof block);
	sha256_init(&ctx);
	while (done < 1000000) {
		size_t n = chunks[i++ % (sizeof chunks / sizeof chunks[0])];

		if (n > 1000000 - done)
			n = 1000000 - done;
		sha256_update(&ctx, block, n);
		done += n;
	}
	sha256_final(&ctx, digest);
	hex_of(digest, hex);
	cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* Lengths around the 55/56/64-byte padding edges; expected values from coreutils sha256sum.
 * Arrays, not pointers: Criterion runs each case in a fresh process where our addresses differ. */
struct boundary_case {
	size_t len;
	char hex[SHA256_HEX_LEN];
};

static struct boundary_case padding_boundaries_cases[] = {
    {55, "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318"},
    {56, "b35439a4ac6f0948b6d6f9e3c6af0f5f590ce20f1bde7090ef7970686ec6738a"},
    {63, "7d3e74a05d7db15bce4ad9ec0658ea98e3f06eeecf16b4c6fff2da457ddc2f34"},
    {64, "ffe054fe7ae0cb6dc65c3af9b61d5209f439851db43d0ba5997337df154668eb"},
    {65, "635361c48bb9eab14198e76ea8ab7f1a41685d6ad62aa9146d301d4f17eb0ae0"},
    {119, "31eba51c313a5c08226adf18d4a359cfdfd8d2e816b13f4af952f7ea6584dcfb"},
    {120, "2f3d335432c70b580af0e8e1b3674a7c020d683aa5f73aaaedfdc55af904c21c"},
};

static void check_padding_boundaries(struct boundary_case *c)
{
	unsigned char digest[SHA256_DIGEST_LEN];
	char buf[128], hex[SHA256_HEX_LEN];
	struct sha256_ctx ctx;
	size_t i;

	memset(buf, 'a', sizeof buf);
	sha256_hex(buf, c->len, hex);
	cr_assert_str_eq(hex, c->hex, "one-shot, len %zu", c->len);

	/* Byte at a time must agree with one-shot. */
	sha256_init(&ctx);
	for (i = 0; i < c->len; i++)
		sha256_update(&ctx, buf + i, 1);
	sha256_final(&ctx, digest);
	hex_of(digest, hex);
	cr_assert_str_eq(hex, c->hex, "byte at a time, len %zu", c->len);
}

SGT_TABLE_TEST(sha256, padding_boundaries, padding_boundaries_cases, check_padding_boundaries)

Test(sha256, empty_updates_are_harmless)
{
	unsigned char digest[SHA256_DIGEST_LEN];
	char hex[SHA256_HEX_LEN];
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	sha256_update(&ctx, NULL, 0);
	sha256_update(&ctx, "a", 1);
	sha256_update(&ctx, NULL, 0);
	sha256_update(&ctx, "bc", 2);
	sha256_final(&ctx, digest);
	hex_of(digest, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* The digest of the first len bytes of buf, hashed in pieces of `step` bytes. */
static void hex_in_steps(const unsigned char *buf, size_t len, size_t step,
                         char hex[SHA256_HEX_LEN])
{
	unsigned char digest[SHA256_DIGEST_LEN];
	struct sha256_ctx ctx;

	sha256_init(&ctx);
	for (size_t off = 0; off < len; off += step)
		sha256_update(&ctx, buf + off, len - off < step ? len - off : step);
	sha256_final(&ctx, digest);
	hex_of(digest, hex);
}

/* The tests above run with whichever block code this CPU picks; these pin both. */
Test(sha256, portable_code_passes_the_nist_vectors)
{
	static const char msg[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char hex[SHA256_HEX_LEN];

	sha256_force_portable(true);
	cr_assert(!sha256_accelerated());
	sha256_hex("abc", 3, hex);
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sha256_hex(msg, strlen(msg), hex);
	cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	sha256_force_portable(false);
}

Test(sha256, portable_and_accelerated_agree_on_every_length)
{
	enum { MAX = 4 * 64 + 7 };
	unsigned char buf[MAX + 1];
	char a[SHA256_HEX_LEN], b[SHA256_HEX_LEN];
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof buf; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5; /* xorshift32: any bytes will do */
		buf[i] = (unsigned char)x;
	}
	for (size_t len = 0; len <= MAX; len++) {
		for (size_t step = 1; step <= 129; step += 64) {
			sha256_force_portable(true);
			hex_in_steps(buf, len, step, a);
			sha256_force_portable(false);
			hex_in_steps(buf, len, step, b);
			cr_assert_str_eq(a, b, "len %zu, step %zu", len, step);
		}
	}
}

Test(sha256, the_cpu_s_sha_instructions_are_used_when_present)
{
#if defined(__x86_64__) && defined(__GNUC__)
	if (!__builtin_cpu_supports("sha") || !__builtin_cpu_supports("sse4.1"))
		cr_skip_test("this CPU has no SHA extensions");
	cr_assert(sha256_accelerated());
#else
	cr_assert(!sha256_accelerated());
#endif
}
