/*
 * tests/unit/pkt.h — crafting query packets and reading responses for
 * the core's unit tests. Responses are parsed with ldns, an independent
 * parser, so the tests do not trust geovip's own reader.
 */
#ifndef GEOVIP_TEST_PKT_H
#define GEOVIP_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pkt_opts {
	uint16_t id;
	uint16_t flags;         /* default 0x0100 (RD) when zero and !raw_flags */
	bool raw_flags;
	bool edns;
	uint16_t udp_size;      /* default 1232 */
	uint8_t version;
	bool do_bit;
	bool ecs;
	uint16_t ecs_family;
	uint8_t ecs_source;
	uint8_t ecs_scope;
	const uint8_t *ecs_addr;
	size_t ecs_addr_len;
	bool ecs_twice;
	const uint8_t *cookie;  /* COOKIE option data, written when not NULL */
	size_t cookie_len;
	bool cookie_twice;
};

/** Builds a query for name (presentation form) into buf; returns length. */
size_t pkt_build(uint8_t *buf, const char *name, uint16_t qtype,
		 uint16_t qclass, const struct pkt_opts *o);

/** ECS in a response: returns true and fills the fields if present. */
bool pkt_response_ecs(const uint8_t *resp, size_t len, uint16_t *family,
		      uint8_t *source, uint8_t *scope, uint8_t addr[16]);

/** The COOKIE option of a response: true and its data (at most 40
 *  bytes) in out, *out_len bytes, when present. */
bool pkt_response_cookie(const uint8_t *resp, size_t len, uint8_t out[40],
			 size_t *out_len);

/** True when the response carries an OPT record; fills udp size / ttl. */
bool pkt_response_opt(const uint8_t *resp, size_t len, uint16_t *udp,
		      uint32_t *ttl);

#endif
