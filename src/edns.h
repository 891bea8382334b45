/*
 * src/edns.h — EDNS(0) (RFC 6891) and Client Subnet (RFC 7871): reading
 * the query's OPT record, validating ECS, the UDP size limit, and writing
 * the response's OPT record with the echoed ECS option.
 */
#ifndef GEOVIP_EDNS_H
#define GEOVIP_EDNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wire_writer;

/** The server's own UDP payload size (the DNS flag day 2020 value). */
#define EDNS_SERVER_PAYLOAD 1232
#define EDNS_OPTION_NSID 3
#define EDNS_OPTION_ECS 8
#define EDNS_OPTION_COOKIE 10
/** RFC 7873 §4: a COOKIE option is 8 bytes, or 16 to 40. */
#define EDNS_COOKIE_MAX 40

struct edns_ecs {
	bool present;    /* one valid ECS option was sent */
	uint16_t family; /* 1 = IPv4, 2 = IPv6 */
	uint8_t source_len;
	uint8_t addr_len; /* bytes of address sent */
	uint8_t addr[16]; /* padded with zero bits */
};

/* The COOKIE option: the query's on the way in; query.c puts the
 * response's server cookie in its place. */
struct edns_cookie {
	bool present; /* one well-formed COOKIE option was sent */
	uint8_t client[8];
	uint8_t server_len; /* 0: a client cookie only */
	uint8_t server[32];
};

struct edns {
	bool present;
	uint8_t version;
	bool do_bit;
	uint16_t udp_size; /* as advertised */
	struct edns_ecs ecs;
	bool nsid; /* an NSID option was sent (RFC 5001; its data is ignored) */
	struct edns_cookie cookie;
};

/** Marks e absent (no OPT record): sets every flag readers check before
 *  the fields it guards (cheaper than clearing the whole struct). */
static inline void edns_clear(struct edns *e)
{
	e->present = false;
	e->version = 0;
	e->do_bit = false;
	e->udp_size = 0;
	e->ecs.present = false;
	e->nsid = false;
	e->cookie.present = false;
}

enum edns_status {
	EDNS_OK = 0,
	EDNS_BADVERS, /* version > 0 */
	EDNS_FORMERR, /* malformed OPT, invalid ECS or COOKIE */
};

/**
 * Reads an OPT record's fields (its CLASS is the UDP size, its TTL holds
 * extended RCODE, version and flags) and options. ECS is validated and
 * kept only when ecs_enabled. A COOKIE option of a length RFC 7873 does
 * not allow, or a second one, is FORMERR. Unknown options are ignored.
 */
enum edns_status edns_parse(struct edns *e, uint16_t rr_class, uint32_t rr_ttl,
			    const uint8_t *rdata, uint16_t rdlen,
			    bool ecs_enabled);

/** Largest UDP response the client takes: 512 without EDNS, else
 *  min(max(advertised, 512), EDNS_SERVER_PAYLOAD). */
static inline size_t edns_udp_limit(const struct edns *e)
{
	if (!e->present)
		return 512;
	size_t size = e->udp_size < 512 ? 512 : e->udp_size;
	return size < EDNS_SERVER_PAYLOAD ? size : EDNS_SERVER_PAYLOAD;
}

/** Bytes the response's OPT record takes (with ECS and COOKIE when echo is
 *  set and they are present, and extra_len bytes of pre-encoded options
 *  such as NSID). */
static inline size_t edns_opt_size(const struct edns *e, bool echo,
				   size_t extra_len)
{
	if (!e->present)
		return 0;
	size_t size = 11 + extra_len; // root name, type, class, ttl, rdlength
	if (echo && e->ecs.present)
		size += 4 + 4 + e->ecs.addr_len;
	if (echo && e->cookie.present)
		size += 4 + 8 + e->cookie.server_len;
	return size;
}

/** Appends the response's OPT record (extended RCODE = rcode >> 4): extra
 *  (extra_len bytes of whole options — code, length, data — or NULL), then
 *  the ECS option (at scope) and e->cookie when echo is set. When the
 *  whole record does not fit, nothing is written and w overflows. */
void edns_write_opt(struct wire_writer *w, const struct edns *e, uint16_t rcode,
		    bool echo, uint8_t scope, const uint8_t *extra,
		    size_t extra_len);

#endif
