/*
 * src/cookie.h — DNS cookies (RFC 7873) with the interoperable server
 * cookie of RFC 9018: version 1, reserved, timestamp, SipHash-2-4 over
 * client cookie | version | reserved | timestamp | client address.
 */
#ifndef GEOVIP_COOKIE_H
#define GEOVIP_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ip_addr;

#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16 /* the RFC 9018 server cookie geovip makes */
#define COOKIE_SECRET_LEN 16
/** RFC 9018 §4.3: a server cookie is valid from 1 hour in the past to
 *  5 minutes in the future, and renewed once older than half an hour. */
#define COOKIE_LIFETIME 3600
#define COOKIE_FUTURE 300
#define COOKIE_REFRESH (COOKIE_LIFETIME / 2)

/** The secrets of one snapshot: new cookies use current; previous (when
 *  set) is accepted too, for a fleet-wide rollover. */
struct cookie_secrets {
	uint8_t current[COOKIE_SECRET_LEN];
	uint8_t previous[COOKIE_SECRET_LEN];
	bool has_previous;
};

/** What a request's server cookie is worth. */
enum cookie_verdict {
	COOKIE_INVALID, /* wrong length/version/hash, or expired */
	COOKIE_VALID,   /* valid and fresh: echo it */
	COOKIE_RENEW,   /* valid but older than COOKIE_REFRESH, or
				   made with the previous secret: replace it */
};

/**
 * Writes the RFC 9018 server cookie (COOKIE_SERVER_LEN bytes) for the
 * client cookie cc sent from client at now (seconds since the epoch).
 * An IPv4-mapped IPv6 client counts as its IPv4 address.
 */
void cookie_make(uint8_t out[COOKIE_SERVER_LEN],
		 const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t cc[COOKIE_CLIENT_LEN],
		 const struct ip_addr *client, uint32_t now);

/**
 * Checks a server cookie of len bytes (sc) sent with cc from client, at
 * now, against both secrets; timestamps compare in serial arithmetic.
 */
enum cookie_verdict cookie_check(const struct cookie_secrets *s,
				 const uint8_t cc[COOKIE_CLIENT_LEN],
				 const uint8_t *sc, size_t len,
				 const struct ip_addr *client, uint32_t now);

/**
 * The random secret a server uses when none is configured: made once
 * per process from getrandom(2) and kept across reloads. Returns 0, or
 * -1 when the system gives no randomness.
 */
int cookie_random_secret(uint8_t out[COOKIE_SECRET_LEN]);

#endif
