/*
 * src/nsec3.c — NSEC3 hashing (SHA-1 iterated, RFC 5155 §5), base32hex
 * labels and the binary search over a sorted NSEC3 chain. Used at
 * snapshot build and, for the qname's next closer name, on the query
 * path: nothing here allocates.
 */
#include "autoconf.h"
#include "nsec3.h"

#include <string.h>

#include "dname.h"

struct sha1 {
	uint32_t h[5];
	uint8_t block[64];
	size_t used;    /* bytes in block */
	uint64_t total; /* bytes hashed */
};

static uint32_t rol(uint32_t x, unsigned n)
{
	return x << n | x >> (32 - n);
}

/* One round step: e += rol(a, 5) + f + k + w; b = rol(b, 30). */
#define SHA1_STEP(f, k, a, b, c, d, e, w)                       \
	do {                                                    \
		(e) += rol((a), 5) + (f) + (uint32_t)(k) + (w); \
		(b) = rol((b), 30);                             \
	} while (0)

static void sha1_block(struct sha1 *s, const uint8_t *p)
{
	uint32_t w[80];
	for (unsigned i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (unsigned i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3],
		 e = s->h[4];
	// five steps per pass with the roles rotated: no register shuffle
	for (unsigned i = 0; i < 20; i += 5) {
		SHA1_STEP((b & c) | (~b & d), 0x5a827999, a, b, c, d, e, w[i]);
		SHA1_STEP((a & b) | (~a & c), 0x5a827999, e, a, b, c, d,
			  w[i + 1]);
		SHA1_STEP((e & a) | (~e & b), 0x5a827999, d, e, a, b, c,
			  w[i + 2]);
		SHA1_STEP((d & e) | (~d & a), 0x5a827999, c, d, e, a, b,
			  w[i + 3]);
		SHA1_STEP((c & d) | (~c & e), 0x5a827999, b, c, d, e, a,
			  w[i + 4]);
	}
	for (unsigned i = 20; i < 40; i += 5) {
		SHA1_STEP(b ^ c ^ d, 0x6ed9eba1, a, b, c, d, e, w[i]);
		SHA1_STEP(a ^ b ^ c, 0x6ed9eba1, e, a, b, c, d, w[i + 1]);
		SHA1_STEP(e ^ a ^ b, 0x6ed9eba1, d, e, a, b, c, w[i + 2]);
		SHA1_STEP(d ^ e ^ a, 0x6ed9eba1, c, d, e, a, b, w[i + 3]);
		SHA1_STEP(c ^ d ^ e, 0x6ed9eba1, b, c, d, e, a, w[i + 4]);
	}
	for (unsigned i = 40; i < 60; i += 5) {
		SHA1_STEP((b & c) | (b & d) | (c & d), 0x8f1bbcdc, a, b, c, d,
			  e, w[i]);
		SHA1_STEP((a & b) | (a & c) | (b & c), 0x8f1bbcdc, e, a, b, c,
			  d, w[i + 1]);
		SHA1_STEP((e & a) | (e & b) | (a & b), 0x8f1bbcdc, d, e, a, b,
			  c, w[i + 2]);
		SHA1_STEP((d & e) | (d & a) | (e & a), 0x8f1bbcdc, c, d, e, a,
			  b, w[i + 3]);
		SHA1_STEP((c & d) | (c & e) | (d & e), 0x8f1bbcdc, b, c, d, e,
			  a, w[i + 4]);
	}
	for (unsigned i = 60; i < 80; i += 5) {
		SHA1_STEP(b ^ c ^ d, 0xca62c1d6, a, b, c, d, e, w[i]);
		SHA1_STEP(a ^ b ^ c, 0xca62c1d6, e, a, b, c, d, w[i + 1]);
		SHA1_STEP(e ^ a ^ b, 0xca62c1d6, d, e, a, b, c, w[i + 2]);
		SHA1_STEP(d ^ e ^ a, 0xca62c1d6, c, d, e, a, b, w[i + 3]);
		SHA1_STEP(c ^ d ^ e, 0xca62c1d6, b, c, d, e, a, w[i + 4]);
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
	static const uint32_t iv[5] = {0x67452301, 0xefcdab89, 0x98badcfe,
				       0x10325476, 0xc3d2e1f0};
	memcpy(s->h, iv, sizeof(iv));
	s->used = 0;
	s->total = 0;
}

static void sha1_update(struct sha1 *s, const uint8_t *p, size_t len)
{
	s->total += len;
	while (len > 0) {
		size_t n = 64 - s->used < len ? 64 - s->used : len;
		memcpy(s->block + s->used, p, n);
		s->used += n;
		p += n;
		len -= n;
		if (s->used == 64) {
			sha1_block(s, s->block);
			s->used = 0;
		}
	}
}

static void sha1_final(struct sha1 *s, uint8_t out[NSEC3_HASH_LEN])
{
	uint64_t bits = s->total * 8;
	uint8_t pad[72] = {0x80};
	size_t padlen = (s->used < 56 ? 56 : 120) - s->used;
	for (unsigned i = 0; i < 8; i++)
		pad[padlen + i] = (uint8_t)(bits >> (56 - 8 * i));
	sha1_update(s, pad, padlen + 8);
	for (unsigned i = 0; i < 5; i++) {
		out[4 * i] = (uint8_t)(s->h[i] >> 24);
		out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
		out[4 * i + 2] = (uint8_t)(s->h[i] >> 8);
		out[4 * i + 3] = (uint8_t)s->h[i];
	}
}

void nsec3_sha1(const uint8_t *data, size_t len, uint8_t out[NSEC3_HASH_LEN])
{
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, data, len);
	sha1_final(&s, out);
}

void nsec3_hash(const uint8_t *name, const uint8_t *salt, size_t salt_len,
		uint16_t iterations, uint8_t out[NSEC3_HASH_LEN])
{
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, name, dname_length(name));
	sha1_update(&s, salt, salt_len);
	sha1_final(&s, out);
	for (unsigned i = 0; i < iterations; i++) {
		sha1_init(&s);
		sha1_update(&s, out, NSEC3_HASH_LEN);
		sha1_update(&s, salt, salt_len);
		sha1_final(&s, out);
	}
}

void nsec3_label(const uint8_t hash[NSEC3_HASH_LEN], char out[NSEC3_LABEL_LEN])
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	// 20 bytes = 160 bits = 32 digits of 5 bits, no padding
	for (unsigned i = 0; i < NSEC3_LABEL_LEN; i++) {
		unsigned bit = i * 5, byte = bit / 8, shift = bit % 8;
		unsigned v = (unsigned)hash[byte] << 8;
		if (byte + 1 < NSEC3_HASH_LEN)
			v |= hash[byte + 1];
		out[i] = digits[(v >> (11 - shift)) & 31];
	}
}

size_t nsec3_find(const void *base, size_t count, size_t stride,
		  const uint8_t hash[NSEC3_HASH_LEN], int *match)
{
	const uint8_t *b = base;
	size_t lo = 0, hi = count; // the answer is the last element <= hash
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(b + mid * stride, hash, NSEC3_HASH_LEN) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0) { // below every hash: the last NSEC3 wraps around
		*match = 0;
		return count - 1;
	}
	*match = memcmp(b + (lo - 1) * stride, hash, NSEC3_HASH_LEN) == 0;
	return lo - 1;
}

const uint8_t *nsec3_closest_encloser(const uint8_t *qname, unsigned min_labels,
				      int (*exists)(const void *ctx,
						    const uint8_t *name),
				      const void *ctx,
				      const uint8_t **next_closer)
{
	unsigned labels = dname_labels(qname);
	const uint8_t *prev = NULL, *name = qname;
	for (unsigned l = labels; l > min_labels; l--) {
		if (exists(ctx, name))
			break;
		prev = name;
		name = name + name[0] + 1;
	}
	*next_closer = prev;
	return name;
}
