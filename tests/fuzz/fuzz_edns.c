/*
 * tests/fuzz/fuzz_edns.c — edns_parse on an arbitrary OPT record (input:
 * CLASS 2 bytes, TTL 4 bytes, a flags byte, then the RDATA), the ECS
 * invariants of RFC 7871, and edns_write_opt read back by edns_parse.
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include "edns.h"
#include "wire.h"
#include "fuzz.h"

#define FUZZ_EDNS_HEAD 7

/* What a valid ECS option must look like once parsed. */
static void fuzz_edns_check_ecs(const struct edns_ecs *ecs)
{
	if (!ecs->present)
		return;
	FUZZ_CHECK(ecs->family == 1 || ecs->family == 2);
	unsigned max_bits = ecs->family == 1 ? 32 : 128;
	FUZZ_CHECK(ecs->source_len <= max_bits);
	FUZZ_CHECK(ecs->addr_len == (ecs->source_len + 7u) / 8u);
	// the address is padded with zero bits: none set past the prefix
	for (unsigned bit = ecs->source_len; bit < 128; bit++)
		FUZZ_CHECK((ecs->addr[bit / 8] & (0x80 >> (bit % 8))) == 0);
}

/* Writes the response OPT and reads it back as a query would send it. */
static void fuzz_edns_round_trip(const struct edns *e, uint16_t rcode,
				 bool echo, uint8_t scope)
{
	// an NSID option as chaos.c encodes it rides along
	static const uint8_t nsid[] = { 0, EDNS_OPTION_NSID, 0, 2, 'n', '1' };
	uint8_t buf[128];
	struct wire_writer w;
	size_t size = edns_opt_size(e, echo, sizeof(nsid));
	FUZZ_CHECK(size >= 11 && size <= sizeof(buf));
	// a writer of exactly the announced size must not overflow
	wire_writer_init(&w, buf, size);
	edns_write_opt(&w, e, rcode, echo, scope, nsid, sizeof(nsid));
	FUZZ_CHECK(!w.overflow && w.len == size);

	FUZZ_CHECK(buf[0] == 0 && buf[1] == 0 && buf[2] == TYPE_OPT);
	uint16_t rr_class = (uint16_t)(buf[3] << 8 | buf[4]);
	uint32_t ttl = (uint32_t)buf[5] << 24 | (uint32_t)buf[6] << 16 |
		       (uint32_t)buf[7] << 8 | buf[8];
	uint16_t rdlen = (uint16_t)(buf[9] << 8 | buf[10]);
	FUZZ_CHECK(rr_class == EDNS_SERVER_PAYLOAD);
	FUZZ_CHECK(buf[5] == (uint8_t)(rcode >> 4) && buf[6] == 0);
	FUZZ_CHECK(11u + rdlen == size);
	if (scope != 0)
		return; // a query must not send a scope: nothing to read back

	struct edns back;
	FUZZ_CHECK(edns_parse(&back, rr_class, ttl, buf + 11, rdlen,
			      true) == EDNS_OK);
	FUZZ_CHECK(back.do_bit == e->do_bit);
	FUZZ_CHECK(back.nsid);
	FUZZ_CHECK(back.ecs.present == (echo && e->ecs.present));
	if (back.ecs.present) {
		FUZZ_CHECK(back.ecs.family == e->ecs.family);
		FUZZ_CHECK(back.ecs.source_len == e->ecs.source_len);
		FUZZ_CHECK(memcmp(back.ecs.addr, e->ecs.addr, 16) == 0);
	}
	FUZZ_CHECK(back.cookie.present == (echo && e->cookie.present));
	if (back.cookie.present) {
		FUZZ_CHECK(back.cookie.server_len == e->cookie.server_len);
		FUZZ_CHECK(memcmp(back.cookie.client, e->cookie.client, 8) == 0);
		FUZZ_CHECK(memcmp(back.cookie.server, e->cookie.server,
				  e->cookie.server_len) == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < FUZZ_EDNS_HEAD)
		return 0;
	uint16_t rr_class = (uint16_t)(data[0] << 8 | data[1]);
	uint32_t ttl = (uint32_t)data[2] << 24 | (uint32_t)data[3] << 16 |
		       (uint32_t)data[4] << 8 | data[5];
	uint8_t flags = data[6];
	bool ecs_enabled = (flags & 1) != 0;
	const uint8_t *rdata = data + FUZZ_EDNS_HEAD;
	size_t rdlen = size - FUZZ_EDNS_HEAD;
	if (rdlen > 65535)
		rdlen = 65535;

	struct edns e;
	enum edns_status st = edns_parse(&e, rr_class, ttl, rdata,
					 (uint16_t)rdlen, ecs_enabled);
	FUZZ_CHECK(e.present);
	FUZZ_CHECK(e.udp_size == rr_class);
	FUZZ_CHECK((st == EDNS_BADVERS) == (((ttl >> 16) & 0xff) != 0));
	size_t limit = edns_udp_limit(&e);
	FUZZ_CHECK(limit >= 512 && limit <= EDNS_SERVER_PAYLOAD);
	if (st != EDNS_OK)
		return 0;
	FUZZ_CHECK(e.version == 0);
	FUZZ_CHECK(e.do_bit == ((ttl & 0x8000) != 0));
	if (!ecs_enabled)
		FUZZ_CHECK(!e.ecs.present);
	fuzz_edns_check_ecs(&e.ecs);
	// RFC 7873 §4: a client cookie alone, or with an 8..32-byte server one
	if (e.cookie.present)
		FUZZ_CHECK(e.cookie.server_len == 0 ||
			   (e.cookie.server_len >= 8 && e.cookie.server_len <= 32));

	uint16_t rcode = (uint16_t)(flags >> 1 & 0x7f) << 4;
	uint8_t scope = size > FUZZ_EDNS_HEAD ? data[size - 1] : 0;
	fuzz_edns_round_trip(&e, rcode, (flags & 2) != 0, 0);
	fuzz_edns_round_trip(&e, rcode, true, scope);
	return 0;
}
