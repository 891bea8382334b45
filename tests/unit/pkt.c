/*
 * tests/unit/pkt.c — query crafting and response inspection for tests.
 */
#include "autoconf.h"
#include "pkt.h"

#include <string.h>

#include <ldns/ldns.h>

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
	return 2;
}

static size_t put_text_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	const char *s = name;
	while (*s != '\0' && strcmp(s, ".") != 0) {
		const char *dot = strchr(s, '.');
		size_t len = dot ? (size_t)(dot - s) : strlen(s);
		p[n++] = (uint8_t)len;
		memcpy(p + n, s, len);
		n += len;
		s += len + (dot ? 1 : 0);
	}
	p[n++] = 0;
	return n;
}

static size_t put_ecs(uint8_t *p, const struct pkt_opts *o)
{
	size_t n = 0;
	n += put16(p + n, 8);
	n += put16(p + n, (uint16_t)(4 + o->ecs_addr_len));
	n += put16(p + n, o->ecs_family);
	p[n++] = o->ecs_source;
	p[n++] = o->ecs_scope;
	memcpy(p + n, o->ecs_addr, o->ecs_addr_len);
	return n + o->ecs_addr_len;
}

static size_t put_cookie(uint8_t *p, const struct pkt_opts *o)
{
	size_t n = 0;
	n += put16(p + n, 10);
	n += put16(p + n, (uint16_t)o->cookie_len);
	memcpy(p + n, o->cookie, o->cookie_len);
	return n + o->cookie_len;
}

size_t pkt_build(uint8_t *buf, const char *name, uint16_t qtype,
		 uint16_t qclass, const struct pkt_opts *o)
{
	static const struct pkt_opts none;
	if (o == NULL)
		o = &none;
	size_t n = 0;
	n += put16(buf + n, o->id ? o->id : 0x1234);
	n += put16(buf + n, o->raw_flags ? o->flags : (o->flags ? o->flags : 0x0100));
	n += put16(buf + n, 1);
	n += put16(buf + n, 0);
	n += put16(buf + n, 0);
	n += put16(buf + n, o->edns ? 1 : 0);
	n += put_text_name(buf + n, name);
	n += put16(buf + n, qtype);
	n += put16(buf + n, qclass);
	if (!o->edns)
		return n;
	buf[n++] = 0;
	n += put16(buf + n, 41);
	n += put16(buf + n, o->udp_size ? o->udp_size : 1232);
	buf[n++] = 0;
	buf[n++] = o->version;
	n += put16(buf + n, o->do_bit ? 0x8000 : 0);
	size_t rdlen_at = n;
	n += 2;
	if (o->ecs)
		n += put_ecs(buf + n, o);
	if (o->ecs && o->ecs_twice)
		n += put_ecs(buf + n, o);
	if (o->cookie != NULL)
		n += put_cookie(buf + n, o);
	if (o->cookie != NULL && o->cookie_twice)
		n += put_cookie(buf + n, o);
	put16(buf + rdlen_at, (uint16_t)(n - rdlen_at - 2));
	return n;
}

/* Finds the OPT RR in the additional section with ldns's reader. */
static bool find_opt(const uint8_t *resp, size_t len, const uint8_t **rdata,
		     uint16_t *rdlen, uint16_t *udp, uint32_t *ttl)
{
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, resp, len) != LDNS_STATUS_OK)
		return false;
	bool found = ldns_pkt_edns(p);
	if (found) {
		*udp = ldns_pkt_edns_udp_size(p);
		*ttl = (uint32_t)ldns_pkt_edns_extended_rcode(p) << 24 |
		       (uint32_t)ldns_pkt_edns_version(p) << 16 |
		       ldns_pkt_edns_z(p);
		ldns_rdf *data = ldns_pkt_edns_data(p);
		static uint8_t copy[65535];
		*rdlen = data ? (uint16_t)ldns_rdf_size(data) : 0;
		if (data)
			memcpy(copy, ldns_rdf_data(data), *rdlen);
		*rdata = copy;
	}
	ldns_pkt_free(p);
	return found;
}

bool pkt_response_opt(const uint8_t *resp, size_t len, uint16_t *udp,
		      uint32_t *ttl)
{
	const uint8_t *rdata;
	uint16_t rdlen;
	return find_opt(resp, len, &rdata, &rdlen, udp, ttl);
}

bool pkt_response_ecs(const uint8_t *resp, size_t len, uint16_t *family,
		      uint8_t *source, uint8_t *scope, uint8_t addr[16])
{
	const uint8_t *rd;
	uint16_t rdlen, udp;
	uint32_t ttl;
	if (!find_opt(resp, len, &rd, &rdlen, &udp, &ttl))
		return false;
	for (size_t pos = 0; pos + 4 <= rdlen;) {
		uint16_t code = (uint16_t)(rd[pos] << 8 | rd[pos + 1]);
		uint16_t olen = (uint16_t)(rd[pos + 2] << 8 | rd[pos + 3]);
		if (code == 8 && olen >= 4) {
			*family = (uint16_t)(rd[pos + 4] << 8 | rd[pos + 5]);
			*source = rd[pos + 6];
			*scope = rd[pos + 7];
			memset(addr, 0, 16);
			memcpy(addr, rd + pos + 8, olen - 4u);
			return true;
		}
		pos += 4u + olen;
	}
	return false;
}

bool pkt_response_cookie(const uint8_t *resp, size_t len, uint8_t out[40],
			 size_t *out_len)
{
	const uint8_t *rd;
	uint16_t rdlen, udp;
	uint32_t ttl;
	if (!find_opt(resp, len, &rd, &rdlen, &udp, &ttl))
		return false;
	for (size_t pos = 0; pos + 4 <= rdlen;) {
		uint16_t code = (uint16_t)(rd[pos] << 8 | rd[pos + 1]);
		uint16_t olen = (uint16_t)(rd[pos + 2] << 8 | rd[pos + 3]);
		if (code == 10 && olen <= 40 && pos + 4u + olen <= rdlen) {
			memcpy(out, rd + pos + 4, olen);
			*out_len = olen;
			return true;
		}
		pos += 4u + olen;
	}
	return false;
}
