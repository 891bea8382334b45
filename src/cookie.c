/*
 * src/cookie.c — making and checking RFC 9018 server cookies. Pure
 * functions of their arguments (the time comes from the caller), except
 * the per-process random secret made at start-up when none is set.
 */
#include "autoconf.h"
#include "cookie.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>

#include "addr.h"
#include "siphash.h"

/* Client cookie, version, reserved, timestamp, IPv6 address. */
#define COOKIE_HASH_INPUT_MAX (COOKIE_CLIENT_LEN + 8 + 16)

/* The hash of RFC 9018 §4.4 over cc, head (version, reserved, timestamp:
 * 8 bytes) and the client's address, into out. */
static void cookie_hash(uint8_t out[8], const uint8_t secret[COOKIE_SECRET_LEN],
			const uint8_t cc[COOKIE_CLIENT_LEN],
			const uint8_t head[8], const struct ip_addr *client)
{
	static const uint8_t mapped[12] = {[10] = 0xff, [11] = 0xff};
	uint8_t in[COOKIE_HASH_INPUT_MAX];
	struct ip_addr a = *client;
	// ::ffff:a.b.c.d is a.b.c.d: a client seen on a dual-stack socket at
	// one site and on an IPv4 one at another gets the same cookie
	if (a.family == AF_INET6 && memcmp(a.bytes, mapped, 12) == 0) {
		a.family = AF_INET;
		memmove(a.bytes, a.bytes + 12, 4);
	}
	size_t alen = a.family == AF_INET ? 4 : 16;
	memcpy(in, cc, COOKIE_CLIENT_LEN);
	memcpy(in + COOKIE_CLIENT_LEN, head, 8);
	memcpy(in + COOKIE_CLIENT_LEN + 8, a.bytes, alen);
	uint64_t h = siphash24(secret, in, COOKIE_CLIENT_LEN + 8 + alen);
	// RFC 9018's vectors: the hash's bytes in little-endian order
	for (unsigned i = 0; i < 8; i++)
		out[i] = (uint8_t)(h >> (8 * i));
}

void cookie_make(uint8_t out[COOKIE_SERVER_LEN],
		 const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t cc[COOKIE_CLIENT_LEN],
		 const struct ip_addr *client, uint32_t now)
{
	out[0] = 1;                   // version
	out[1] = out[2] = out[3] = 0; // reserved
	out[4] = (uint8_t)(now >> 24);
	out[5] = (uint8_t)(now >> 16);
	out[6] = (uint8_t)(now >> 8);
	out[7] = (uint8_t)now;
	cookie_hash(out + 8, secret, cc, out, client);
}

/* Compares without an early exit, so timing says nothing of the hash. */
static bool cookie_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	uint8_t diff = 0;
	for (size_t i = 0; i < len; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

static bool cookie_hash_ok(const uint8_t secret[COOKIE_SECRET_LEN],
			   const uint8_t cc[COOKIE_CLIENT_LEN],
			   const uint8_t *sc, const struct ip_addr *client)
{
	uint8_t h[8];
	// the reserved bytes are hashed as sent (RFC 9018 §4.2)
	cookie_hash(h, secret, cc, sc, client);
	return cookie_equal(h, sc + 8, 8);
}

enum cookie_verdict cookie_check(const struct cookie_secrets *s,
				 const uint8_t cc[COOKIE_CLIENT_LEN],
				 const uint8_t *sc, size_t len,
				 const struct ip_addr *client, uint32_t now)
{
	if (len != COOKIE_SERVER_LEN || sc[0] != 1)
		return COOKIE_INVALID;
	uint32_t stamp = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 |
			 (uint32_t)sc[6] << 8 | sc[7];
	// serial number arithmetic (RFC 1982): the age may wrap in 2106
	int64_t age = (int32_t)(now - stamp);
	if (age > COOKIE_LIFETIME || age < -COOKIE_FUTURE)
		return COOKIE_INVALID;
	if (cookie_hash_ok(s->current, cc, sc, client))
		return age > COOKIE_REFRESH ? COOKIE_RENEW : COOKIE_VALID;
	// one made with the previous secret is valid, and replaced by one
	// made with the current secret, so clients move over
	if (s->has_previous && cookie_hash_ok(s->previous, cc, sc, client))
		return COOKIE_RENEW;
	return COOKIE_INVALID;
}

static pthread_once_t cookie_once = PTHREAD_ONCE_INIT;
static uint8_t cookie_process_secret[COOKIE_SECRET_LEN];
static int cookie_process_rc = -1;

static void cookie_random_init(void)
{
	size_t got = 0;
	while (got < sizeof(cookie_process_secret)) {
		ssize_t n = getrandom(cookie_process_secret + got,
				      sizeof(cookie_process_secret) - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		got += (size_t)n;
	}
	cookie_process_rc = 0;
}

int cookie_random_secret(uint8_t out[COOKIE_SECRET_LEN])
{
	pthread_once(&cookie_once, cookie_random_init);
	if (cookie_process_rc == 0)
		memcpy(out, cookie_process_secret, COOKIE_SECRET_LEN);
	return cookie_process_rc;
}
