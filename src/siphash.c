/*
 * src/siphash.c — SipHash-2-4, from "SipHash: a fast short-input PRF"
 * (Aumasson, Bernstein 2012): 2 compression rounds per 8-byte word,
 * 4 finalisation rounds, 64-bit output. Little-endian throughout, so the
 * result is the same on every machine.
 */
#include "autoconf.h"
#include "siphash.h"

#include <string.h>

static inline uint64_t rotl(uint64_t x, unsigned b)
{
	return (x << b) | (x >> (64 - b));
}

/* 8 bytes at p, little-endian, in one load where the host is. */
static inline uint64_t load_le64(const uint8_t *p)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	uint64_t v;
	memcpy(&v, p, 8);
	return v;
#else
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
#endif
}

struct sip_state {
	uint64_t v0, v1, v2, v3;
};

/* Inline, so that the state stays in registers (the shed hash is on the
 * query path). */
static inline void sip_round(struct sip_state *s)
{
	s->v0 += s->v1;
	s->v1 = rotl(s->v1, 13);
	s->v1 ^= s->v0;
	s->v0 = rotl(s->v0, 32);
	s->v2 += s->v3;
	s->v3 = rotl(s->v3, 16);
	s->v3 ^= s->v2;
	s->v0 += s->v3;
	s->v3 = rotl(s->v3, 21);
	s->v3 ^= s->v0;
	s->v2 += s->v1;
	s->v1 = rotl(s->v1, 17);
	s->v1 ^= s->v2;
	s->v2 = rotl(s->v2, 32);
}

static inline void sip_compress(struct sip_state *s, uint64_t m)
{
	s->v3 ^= m;
	sip_round(s);
	sip_round(s);
	s->v0 ^= m;
}

uint64_t siphash24(const uint8_t key[16], const uint8_t *in, size_t len)
{
	uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
	struct sip_state s = {
		k0 ^ 0x736f6d6570736575ULL,
		k1 ^ 0x646f72616e646f6dULL,
		k0 ^ 0x6c7967656e657261ULL,
		k1 ^ 0x7465646279746573ULL,
	};

	size_t whole = len - len % 8;
	for (size_t i = 0; i < whole; i += 8)
		sip_compress(&s, load_le64(in + i));

	// last block: remaining bytes, then the length's low byte on top
	uint64_t last = (uint64_t)(len & 0xff) << 56;
	const uint8_t *tail = in + whole;
	switch (len % 8) { // each case takes its byte and those below it
	case 7:
		last |= (uint64_t)tail[6] << 48;
		// fall through
	case 6:
		last |= (uint64_t)tail[5] << 40;
		// fall through
	case 5:
		last |= (uint64_t)tail[4] << 32;
		// fall through
	case 4:
		last |= (uint64_t)tail[3] << 24;
		// fall through
	case 3:
		last |= (uint64_t)tail[2] << 16;
		// fall through
	case 2:
		last |= (uint64_t)tail[1] << 8;
		// fall through
	case 1:
		last |= tail[0];
		break;
	default:
		break;
	}
	sip_compress(&s, last);

	s.v2 ^= 0xff;
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	sip_round(&s);
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}
