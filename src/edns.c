/*
 * src/edns.c — the OPT record in and out. ECS validation follows RFC 7871
 * §6 strictly: a family geovip does not know, a prefix longer than the
 * family, an address of the wrong length, bits set beyond the prefix, a
 * non-zero scope or a second ECS option all make the query FORMERR; so
 * do a COOKIE option of a length RFC 7873 §5.2.2 calls malformed and a
 * second COOKIE option.
 */
#include "autoconf.h"
#include "edns.h"
#include "addr.h"
#include "wire.h"

#include <string.h>

/* Copies n <= 16 bytes with fixed-size moves: an ECS address is usually
 * 3 or 6 bytes, too few for a call to memcpy. */
static inline void copy_small(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n == 16) {
		memcpy(d, s, 16);
		return;
	}
	if (n & 8) {
		memcpy(d, s, 8);
		d += 8;
		s += 8;
	}
	if (n & 4) {
		memcpy(d, s, 4);
		d += 4;
		s += 4;
	}
	if (n & 2) {
		memcpy(d, s, 2);
		d += 2;
		s += 2;
	}
	if (n & 1)
		*d = *s;
}

static enum edns_status ecs_parse(struct edns_ecs *ecs, const uint8_t *p,
				  uint16_t len)
{
	if (ecs->present || len < 4)
		return EDNS_FORMERR;
	uint16_t family = (uint16_t)(p[0] << 8 | p[1]);
	uint8_t source = p[2], scope = p[3];
	unsigned max_bits = family == 1 ? 32 : family == 2 ? 128 : 0;
	if (max_bits == 0 || source > max_bits || scope != 0)
		return EDNS_FORMERR;
	size_t addr_len = len - 4u;
	if (addr_len != (source + 7u) / 8u)
		return EDNS_FORMERR;
	// bits past the prefix in its last byte, if any, must be zero
	if ((source & 7) != 0 &&
	    !addr_bits_zero(p + 4, source, (unsigned)addr_len * 8))
		return EDNS_FORMERR;
	ecs->present = true;
	ecs->family = family;
	ecs->source_len = source;
	ecs->addr_len = (uint8_t)addr_len;
	memset(ecs->addr, 0, sizeof(ecs->addr));
	copy_small(ecs->addr, p + 4, addr_len);
	return EDNS_OK;
}

static enum edns_status cookie_parse(struct edns_cookie *c, const uint8_t *p,
				     uint16_t len)
{
	if (c->present || len < 8 || (len > 8 && len < 16) ||
	    len > EDNS_COOKIE_MAX)
		return EDNS_FORMERR;
	c->present = true;
	memcpy(c->client, p, 8);
	c->server_len = (uint8_t)(len - 8);
	memcpy(c->server, p + 8, c->server_len);
	return EDNS_OK;
}

enum edns_status edns_parse(struct edns *e, uint16_t rr_class, uint32_t rr_ttl,
			    const uint8_t *rdata, uint16_t rdlen,
			    bool ecs_enabled)
{
	edns_clear(e);
	e->present = true;
	e->udp_size = rr_class;
	e->version = (uint8_t)(rr_ttl >> 16);
	e->do_bit = (rr_ttl & 0x8000) != 0;
	if (e->version > 0)
		return EDNS_BADVERS;

	size_t pos = 0;
	while (pos < rdlen) {
		if (rdlen - pos < 4)
			return EDNS_FORMERR;
		uint16_t code = (uint16_t)(rdata[pos] << 8 | rdata[pos + 1]);
		uint16_t len = (uint16_t)(rdata[pos + 2] << 8 | rdata[pos + 3]);
		pos += 4;
		if (rdlen - pos < len)
			return EDNS_FORMERR;
		if (code == EDNS_OPTION_NSID)
			e->nsid =
				true; // RFC 5001 §2.1: data in a query is ignored
		if (code == EDNS_OPTION_ECS && ecs_enabled &&
		    ecs_parse(&e->ecs, rdata + pos, len) != EDNS_OK)
			return EDNS_FORMERR;
		if (code == EDNS_OPTION_COOKIE &&
		    cookie_parse(&e->cookie, rdata + pos, len) != EDNS_OK)
			return EDNS_FORMERR;
		pos += len;
	}
	return EDNS_OK;
}

void edns_write_opt(struct wire_writer *w, const struct edns *e, uint16_t rcode,
		    bool echo, uint8_t scope, const uint8_t *extra,
		    size_t extra_len)
{
	bool ecs = echo && e->ecs.present;
	bool cookie = echo && e->cookie.present;
	if (extra == NULL)
		extra_len = 0;
	// one room check, then the bytes in place: a whole OPT or nothing
	size_t size = edns_opt_size(e, echo, extra_len);
	if (!wire_room(w, size))
		return;
	uint8_t *p = w->buf + w->len;
	w->len += size;
	p[0] = 0; // the root owner
	wire_set_u16(p + 1, TYPE_OPT);
	wire_set_u16(p + 3, EDNS_SERVER_PAYLOAD);
	p[5] = (uint8_t)(rcode >> 4);
	p[6] = 0; // version 0
	wire_set_u16(p + 7, e->do_bit ? 0x8000 : 0);
	wire_set_u16(p + 9, (uint16_t)(size - 11));
	p += 11;
	if (extra_len > 0) {
		memcpy(p, extra, extra_len);
		p += extra_len;
	}
	if (ecs) {
		wire_set_u16(p, EDNS_OPTION_ECS);
		wire_set_u16(p + 2, (uint16_t)(4 + e->ecs.addr_len));
		wire_set_u16(p + 4, e->ecs.family);
		p[6] = e->ecs.source_len;
		p[7] = scope;
		copy_small(p + 8, e->ecs.addr, e->ecs.addr_len);
		p += 8 + e->ecs.addr_len;
	}
	if (cookie) {
		wire_set_u16(p, EDNS_OPTION_COOKIE);
		wire_set_u16(p + 2, (uint16_t)(8 + e->cookie.server_len));
		memcpy(p + 4, e->cookie.client, 8);
		memcpy(p + 12, e->cookie.server, e->cookie.server_len);
	}
}
