/*
 * tests/fuzz/fuzz_geo.c — geo_load_mem on arbitrary bytes as a .mmdb file,
 * then lookups of IPv4, IPv6 and mapped addresses (fixed ones and one
 * taken from the input) with invariants on every result.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <string.h>
#include <sys/socket.h>

#include "diag.h"
#include "fuzz.h"
#include "geo.h"

#define NAME "fuzz.mmdb"

static const char *const addrs[] = {
	"0.0.0.0", "127.0.0.1", "127.0.2.5", "192.0.2.1", "198.51.100.200",
	"8.8.8.8", "128.0.0.1", "255.255.255.255",
	"::", "::1", "::ffff:127.0.0.1", "::ffff:8.8.8.8", "2001:db8:2::1",
	"2002:7f00:0101::1", "2001::1", "fe80::1", "ffff:ffff::1",
};

/* A record is one geo_load_mem made: a known continent, a country of
 * "" or two upper-case letters, an offset inside the file. */
static void fuzz_record_check(const struct geo_record *r, size_t size)
{
	FUZZ_CHECK(r->continent <= CONTINENT_UNKNOWN);
	FUZZ_CHECK(r->country[2] == '\0');
	FUZZ_CHECK(r->country[0] == '\0' ||
		   (r->country[0] >= 'A' && r->country[0] <= 'Z' &&
		    r->country[1] >= 'A' && r->country[1] <= 'Z'));
	FUZZ_CHECK(r->mmdb_offset < size);
}

static void fuzz_lookup(const struct geo *g, const struct ip_addr *a,
			size_t size, struct geo_result *r)
{
	unsigned bits = a->family == AF_INET ? 32 : 128;
	geo_lookup(g, a, r);
	FUZZ_CHECK(r->prefix_len <= bits);
	if (r->record != NULL)
		fuzz_record_check(r->record, size);
	if (a->family == AF_INET6 && geo_ip_version(g) == 4)
		FUZZ_CHECK(r->record == NULL && r->prefix_len == 0);
}

/* An IPv4 address answers as its IPv4-compatible IPv6 form (::a.b.c.d)
 * does, in IPv4 bits: both walk the same 96 zero bits first. */
static void fuzz_lookup_v4(const struct geo *g, const uint8_t v4[4],
			   size_t size)
{
	struct ip_addr a = { .family = AF_INET }, a6 = { .family = AF_INET6 };
	struct geo_result r, r6;

	memcpy(a.bytes, v4, 4);
	memcpy(a6.bytes + 12, v4, 4);
	fuzz_lookup(g, &a, size, &r);
	if (geo_ip_version(g) != 6)
		return;
	fuzz_lookup(g, &a6, size, &r6);
	FUZZ_CHECK(r.record == r6.record);
	FUZZ_CHECK(r.prefix_len == (r6.prefix_len > 96 ? r6.prefix_len - 96
						       : 0));
}

static void fuzz_lookups(const struct geo *g, const uint8_t *data,
			 size_t size)
{
	struct geo_result r;

	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct ip_addr a = { 0 };
		a.family = strchr(addrs[i], ':') ? AF_INET6 : AF_INET;
		FUZZ_CHECK(inet_pton(a.family, addrs[i], a.bytes) == 1);
		if (a.family == AF_INET)
			fuzz_lookup_v4(g, a.bytes, size);
		else
			fuzz_lookup(g, &a, size, &r);
	}
	// and addresses from the input's first bytes
	struct ip_addr a = { .family = AF_INET6 };
	memcpy(a.bytes, data, size < 16 ? size : 16);
	fuzz_lookup(g, &a, size, &r);
	fuzz_lookup_v4(g, a.bytes, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct diag *d = diag_new();
	FUZZ_CHECK(d != NULL);
	struct geo *g = geo_load_mem(data, size, NAME, d);
	// refused exactly when an error was reported, and each names the file
	FUZZ_CHECK((g == NULL) == (diag_errors(d) > 0));
	for (size_t i = 0; i < diag_count(d); i++)
		FUZZ_CHECK(strncmp(diag_message(d, i), NAME ": ",
				   strlen(NAME ": ")) == 0);
	if (g != NULL) {
		FUZZ_CHECK(geo_ip_version(g) == 4 || geo_ip_version(g) == 6);
		FUZZ_CHECK(geo_node_count(g) > 0 && geo_record_count(g) > 0);
		FUZZ_CHECK(geo_database_type(g) != NULL);
		fuzz_lookups(g, data, size);
		geo_free(g);
	}
	diag_free(d);
	return 0;
}
