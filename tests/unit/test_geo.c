/*
 * tests/unit/test_geo.c — the country table, and geo_load/geo_lookup on the
 * shipped sample database, its IPv4-only twin, broken files and databases
 * crafted byte by byte; lookups are checked against libmaxminddb's own
 * answer for the same addresses.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
// Only to cross-check geo.c's flattened tree against the library.
#include <maxminddb.h>

#include "country.h"
#include "diag.h"
#include "geo.h"

#define SAMPLE TOP_SRCDIR "/geo/sample.mmdb"
#define V4ONLY TOP_SRCDIR "/tests/fixtures/geo/v4only.mmdb"

/* ---- country table ---------------------------------------------------- */

static void test_country_count(void **state)
{
	(void)state;
	unsigned known = 0;
	char code[3] = "";
	for (char a = 'A'; a <= 'Z'; a++) {
		for (char b = 'A'; b <= 'Z'; b++) {
			code[0] = a;
			code[1] = b;
			if (!country_is_known(code))
				continue;
			known++;
			assert_int_not_equal(country_continent(code),
					     CONTINENT_UNKNOWN);
		}
	}
	// 249 assigned ISO 3166-1 codes plus EU, AP and XK.
	assert_int_equal(known, 252);
}

static void test_country_continents(void **state)
{
	(void)state;
	static const struct {
		const char *code;
		enum continent continent;
	} cases[] = {
		{ "EG", CONTINENT_AF }, { "ZA", CONTINENT_AF },
		{ "NG", CONTINENT_AF }, { "RE", CONTINENT_AF },
		{ "AQ", CONTINENT_AN }, { "TF", CONTINENT_AN },
		{ "BV", CONTINENT_AN }, { "HM", CONTINENT_AN },
		{ "GS", CONTINENT_AN },
		{ "TR", CONTINENT_AS }, { "JP", CONTINENT_AS },
		{ "KZ", CONTINENT_AS }, { "AP", CONTINENT_AS },
		{ "IO", CONTINENT_AS },
		{ "RU", CONTINENT_EU }, { "DE", CONTINENT_EU },
		{ "GB", CONTINENT_EU }, { "EU", CONTINENT_EU },
		{ "XK", CONTINENT_EU }, { "AX", CONTINENT_EU },
		{ "MX", CONTINENT_NA }, { "US", CONTINENT_NA },
		{ "PA", CONTINENT_NA }, { "CU", CONTINENT_NA },
		{ "GL", CONTINENT_NA }, { "CW", CONTINENT_NA },
		{ "AU", CONTINENT_OC }, { "FJ", CONTINENT_OC },
		{ "UM", CONTINENT_OC }, { "PN", CONTINENT_OC },
		{ "BR", CONTINENT_SA }, { "FK", CONTINENT_SA },
		{ "GF", CONTINENT_SA }, { "VE", CONTINENT_SA },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (country_continent(cases[i].code) != cases[i].continent)
			fail_msg("%s: continent %d, expected %d", cases[i].code,
				 country_continent(cases[i].code),
				 cases[i].continent);
	}
}

static void test_country_edge_cases(void **state)
{
	(void)state;
	assert_int_equal(country_continent("jp"), CONTINENT_AS);
	assert_int_equal(country_continent("sE"), CONTINENT_EU);
	assert_true(country_is_known("nz"));
	static const char *const bad[] = {
		"", "U", "USA", "ZZ", "XX", "1A", "A1", "U ", "\xc3\x9c" "S",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_false(country_is_known(bad[i]));
		assert_int_equal(country_continent(bad[i]), CONTINENT_UNKNOWN);
	}
	assert_false(country_is_known(NULL));
	assert_int_equal(country_continent(NULL), CONTINENT_UNKNOWN);
}

/* ---- helpers ---------------------------------------------------------- */

static struct ip_addr ip(const char *text)
{
	struct ip_addr a;
	memset(&a, 0, sizeof(a));
	if (strchr(text, ':') != NULL) {
		a.family = AF_INET6;
		assert_int_equal(inet_pton(AF_INET6, text, a.bytes), 1);
	} else {
		a.family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, a.bytes), 1);
	}
	return a;
}

static struct geo *load_ok(const char *path)
{
	struct diag *d = diag_new();
	assert_non_null(d);
	struct geo *g = geo_load(path, d);
	if (g == NULL || diag_count(d) != 0) {
		diag_print(d, stderr);
		fail_msg("geo_load(%s) failed", path);
	}
	diag_free(d);
	return g;
}

struct lookup_case {
	const char *addr;
	enum continent continent;
	const char *country;    /* NULL: expect no record at all */
	unsigned prefix_len;
};

static void check_lookup(const struct geo *g, const struct lookup_case *c)
{
	struct ip_addr a = ip(c->addr);
	struct geo_result r;
	geo_lookup(g, &a, &r);
	if (c->country == NULL) {
		if (r.record != NULL)
			fail_msg("%s: record %s, expected none", c->addr,
				 r.record->country);
	} else {
		if (r.record == NULL)
			fail_msg("%s: no record, expected %s", c->addr,
				 c->country);
		if (r.record->continent != c->continent ||
		    strcmp(r.record->country, c->country) != 0)
			fail_msg("%s: continent %u country '%s', expected "
				 "%d '%s'", c->addr, r.record->continent,
				 r.record->country, c->continent, c->country);
	}
	if (r.prefix_len != c->prefix_len)
		fail_msg("%s: prefix_len %u, expected %u", c->addr,
			 r.prefix_len, c->prefix_len);
}

/* IPv4 addresses: identical answers from the IPv6 and IPv4-only trees. */
static const struct lookup_case v4_cases[] = {
	{ "127.0.0.1", CONTINENT_NA, "US", 24 },
	{ "127.0.0.255", CONTINENT_NA, "US", 24 },
	{ "127.0.1.1", CONTINENT_EU, "DE", 24 },
	{ "127.0.2.5", CONTINENT_AS, "JP", 24 },
	{ "127.0.3.1", CONTINENT_OC, "AU", 24 },
	{ "127.0.4.1", CONTINENT_SA, "BR", 24 },
	{ "127.0.5.1", CONTINENT_AF, "ZA", 24 },
	{ "127.0.6.1", CONTINENT_EU, "GB", 24 },        /* country only */
	{ "127.0.7.1", CONTINENT_AN, "AQ", 24 },
	{ "127.0.8.1", CONTINENT_EU, "FR", 24 },        /* registered_country */
	{ "127.0.9.1", CONTINENT_EU, "SE", 24 },        /* country_code */
	{ "127.0.10.1", CONTINENT_UNKNOWN, "", 24 },    /* no location keys */
	{ "127.0.11.1", 0, NULL, 24 },
	{ "127.0.200.1", 0, NULL, 17 },
	{ "127.1.0.1", 0, NULL, 16 },
	{ "127.128.0.1", 0, NULL, 9 },
	{ "192.0.2.1", CONTINENT_NA, "US", 24 },
	{ "198.51.100.5", CONTINENT_EU, "NL", 25 },     /* /24 minus the /25 */
	{ "198.51.100.127", CONTINENT_EU, "NL", 25 },
	{ "198.51.100.128", CONTINENT_AS, "SG", 25 },
	{ "198.51.100.200", CONTINENT_AS, "SG", 25 },
	{ "203.0.113.99", CONTINENT_OC, "AU", 24 },
	{ "1.0.0.1", CONTINENT_OC, "AU", 24 },
	{ "2.23.255.255", CONTINENT_EU, "FR", 13 },
	{ "8.8.8.8", CONTINENT_NA, "US", 24 },
	{ "8.8.4.4", 0, NULL, 21 },
	{ "41.31.0.1", CONTINENT_AF, "ZA", 11 },
	{ "101.0.3.1", CONTINENT_AS, "CN", 22 },
	{ "177.200.1.1", CONTINENT_SA, "BR", 8 },
	{ "81.2.69.160", CONTINENT_EU, "GB", 8 },
	{ "255.255.255.255", 0, NULL, 3 },
};

static const struct lookup_case v6_cases[] = {
	{ "::1", CONTINENT_EU, "DE", 128 },
	{ "::2", 0, NULL, 127 },
	{ "2001:db8:1::53", CONTINENT_NA, "US", 48 },
	{ "2001:db8:2::1", CONTINENT_EU, "DE", 48 },
	{ "2001:db8:3:ffff::1", CONTINENT_AS, "JP", 48 },
	{ "2001:db8::1", 0, NULL, 48 },
	{ "2a00:1450::1", CONTINENT_EU, "NL", 12 },
	{ "2400:cb00::1", CONTINENT_AS, "JP", 12 },
	{ "2600::1", CONTINENT_NA, "US", 12 },
	{ "2800:3f0::1", CONTINENT_SA, "BR", 12 },
	{ "2c0f:fb50::1", CONTINENT_AF, "ZA", 12 },
	/* The writer's aliases into the IPv4 subtree, looked up as IPv6. */
	{ "::ffff:127.0.2.5", CONTINENT_AS, "JP", 120 },
	{ "2002:7f00:0101::1", CONTINENT_EU, "DE", 40 },
};

static void test_sample_metadata(void **state)
{
	(void)state;
	struct geo *g = load_ok(SAMPLE);
	assert_int_equal(geo_ip_version(g), 6);
	assert_string_equal(geo_database_type(g), "GeoVIP-Sample-Country");
	assert_true(geo_node_count(g) > 128);
	// Each distinct location in geo/sample.txt is stored once.
	assert_int_equal(geo_record_count(g), 16);
	geo_free(g);

	g = load_ok(V4ONLY);
	assert_int_equal(geo_ip_version(g), 4);
	assert_string_equal(geo_database_type(g), "GeoVIP-Sample-Country-IPv4");
	assert_int_equal(geo_record_count(g), 16);
	geo_free(g);
}

static void test_sample_ipv4(void **state)
{
	(void)state;
	struct geo *g = load_ok(SAMPLE);
	for (size_t i = 0; i < sizeof(v4_cases) / sizeof(v4_cases[0]); i++)
		check_lookup(g, &v4_cases[i]);
	geo_free(g);
}

static void test_sample_ipv6(void **state)
{
	(void)state;
	struct geo *g = load_ok(SAMPLE);
	for (size_t i = 0; i < sizeof(v6_cases) / sizeof(v6_cases[0]); i++)
		check_lookup(g, &v6_cases[i]);
	geo_free(g);
}

static void test_v4only(void **state)
{
	(void)state;
	struct geo *g = load_ok(V4ONLY);
	for (size_t i = 0; i < sizeof(v4_cases) / sizeof(v4_cases[0]); i++)
		check_lookup(g, &v4_cases[i]);

	static const char *const v6[] = { "::1", "2001:db8:2::1", "::ffff:127.0.0.1" };
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++) {
		struct ip_addr a = ip(v6[i]);
		struct geo_result r = { .record = (void *)&r, .prefix_len = 99 };
		geo_lookup(g, &a, &r);
		assert_null(r.record);
		assert_int_equal(r.prefix_len, 0);
	}
	geo_free(g);
}

/* ---- agreement with libmaxminddb ----------------------------------------- */

/* libmaxminddb's netmask for text, in the address family's bits. */
static unsigned mmdb_netmask(MMDB_s *mmdb, const char *text, bool *found,
			     uint32_t *offset)
{
	int gai_error = 0, mmdb_error = 0;
	MMDB_lookup_result_s res = MMDB_lookup_string(mmdb, text, &gai_error,
						      &mmdb_error);
	assert_int_equal(gai_error, 0);
	assert_int_equal(mmdb_error, MMDB_SUCCESS);
	*found = res.found_entry;
	*offset = res.entry.offset;
	unsigned netmask = res.netmask;
	if (strchr(text, ':') == NULL && mmdb->metadata.ip_version == 6)
		netmask -= 96;
	return netmask;
}

static void compare_with_mmdb(const char *path)
{
	MMDB_s mmdb;
	assert_int_equal(MMDB_open(path, MMDB_MODE_MMAP, &mmdb), MMDB_SUCCESS);
	struct geo *g = load_ok(path);
	static const char *const addrs[] = {
		"127.0.0.1", "127.0.2.5", "127.0.6.77", "127.0.10.1",
		"127.0.11.1", "127.0.200.1", "127.255.255.255", "0.0.0.0",
		"198.51.100.5", "198.51.100.200", "192.0.2.255", "41.0.0.1",
		"8.8.4.4", "2.16.0.0", "100.64.0.1", "255.255.255.255",
		"::1", "::", "::2", "2001:db8:2::1", "2001:db8:4::1",
		"2a0f:ffff::1", "2c00::", "fe80::1", "::ffff:8.8.8.8",
		"2002:c000:0201::1", "ffff:ffff::1",
	};
	for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
		struct ip_addr a = ip(addrs[i]);
		if (a.family == AF_INET6 && mmdb.metadata.ip_version == 4)
			continue; // libmaxminddb refuses; geo.c says NULL/0
		bool found;
		uint32_t offset;
		unsigned netmask = mmdb_netmask(&mmdb, addrs[i], &found,
						&offset);
		struct geo_result r;
		geo_lookup(g, &a, &r);
		if (r.prefix_len != netmask || (r.record != NULL) != found)
			fail_msg("%s in %s: geo %u/%s, libmaxminddb %u/%s",
				 addrs[i], path, r.prefix_len,
				 r.record ? "data" : "none", netmask,
				 found ? "data" : "none");
		if (found)
			assert_int_equal(r.record->mmdb_offset, offset);
	}
	geo_free(g);
	MMDB_close(&mmdb);
}

static void test_agrees_with_libmaxminddb(void **state)
{
	(void)state;
	compare_with_mmdb(SAMPLE);
	compare_with_mmdb(V4ONLY);
}

/* ---- broken files ------------------------------------------------------ */

struct tmpdir {
	char path[64];
};

static int tmp_setup(void **state)
{
	struct tmpdir *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	snprintf(t->path, sizeof(t->path), "/tmp/test_geo.XXXXXX");
	assert_non_null(mkdtemp(t->path));
	*state = t;
	return 0;
}

static int tmp_teardown(void **state)
{
	struct tmpdir *t = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t->path);
	int rc = system(cmd);
	free(t);
	return rc == 0 ? 0 : -1;
}

static unsigned char *read_whole(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n > 0);
	rewind(f);
	unsigned char *buf = malloc((size_t)n);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static void write_whole(const char *path, const void *buf, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(buf, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* geo_load(path) must fail, naming path and saying something with what. */
static void expect_load_error(const char *path, const char *what)
{
	struct diag *d = diag_new();
	assert_non_null(d);
	struct geo *g = geo_load(path, d);
	assert_null(g);
	assert_true(diag_errors(d) >= 1);
	const char *msg = diag_message(d, 0);
	assert_non_null(msg);
	if (strncmp(msg, path, strlen(path)) != 0 || strstr(msg, what) == NULL)
		fail_msg("message '%s' should name %s and say '%s'", msg, path,
			 what);
	diag_free(d);
}

static void test_missing_file(void **state)
{
	struct tmpdir *t = *state;
	char path[128];
	snprintf(path, sizeof(path), "%s/nonexistent.mmdb", t->path);
	expect_load_error(path, "cannot open");
}

static void test_truncated_file(void **state)
{
	struct tmpdir *t = *state;
	size_t len;
	unsigned char *buf = read_whole(SAMPLE, &len);
	char path[128];
	snprintf(path, sizeof(path), "%s/truncated.mmdb", t->path);
	// Cut anywhere: in the tree, in the data, in the metadata.
	static const double cuts[] = { 0.1, 0.5, 0.9, 0.99 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		write_whole(path, buf, (size_t)(len * cuts[i]));
		expect_load_error(path, "MaxMind DB");
	}
	write_whole(path, buf, 0);
	expect_load_error(path, "file is empty");
	free(buf);
	expect_load_error(t->path, "directory");
}

static void test_random_file(void **state)
{
	struct tmpdir *t = *state;
	unsigned char buf[4096];
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < sizeof(buf); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = (unsigned char)x;
	}
	char path[128];
	snprintf(path, sizeof(path), "%s/random.mmdb", t->path);
	write_whole(path, buf, sizeof(buf));
	expect_load_error(path, "not a usable MaxMind DB");

	snprintf(path, sizeof(path), "%s/text.mmdb", t->path);
	static const char text[] = "network,continent\n1.0.0.0/24,OC\n";
	write_whole(path, text, sizeof(text) - 1);
	expect_load_error(path, "not a usable MaxMind DB");
}

/* A copy of the sample with record side (0 left, 1 right) of node set to
 * value; record_size 24, so a node is 6 bytes. */
static void patch_record(const char *path, uint32_t node, int side,
			 uint32_t value)
{
	size_t len;
	unsigned char *buf = read_whole(path, &len);
	size_t at = (size_t)node * 6 + (size_t)side * 3;
	assert_true(at + 3 <= len);
	buf[at] = (unsigned char)(value >> 16);
	buf[at + 1] = (unsigned char)(value >> 8);
	buf[at + 2] = (unsigned char)value;
	write_whole(path, buf, len);
	free(buf);
}

static void copy_sample(const char *path)
{
	size_t len;
	unsigned char *buf = read_whole(SAMPLE, &len);
	write_whole(path, buf, len);
	free(buf);
}

static void test_malformed_tree(void **state)
{
	struct tmpdir *t = *state;
	struct geo *g = load_ok(SAMPLE);
	uint32_t nodes = (uint32_t)geo_node_count(g);
	geo_free(g);

	char path[128];
	snprintf(path, sizeof(path), "%s/badtree.mmdb", t->path);
	// Past the end of the data section.
	copy_sample(path);
	patch_record(path, 0, 0, 0xffffff);
	expect_load_error(path, "corrupt search tree");
	// Into the 16-byte separator before the data section.
	copy_sample(path);
	patch_record(path, 3, 1, nodes + 3);
	expect_load_error(path, "corrupt search tree");
	// Back to the root (libmaxminddb calls that invalid too).
	copy_sample(path);
	patch_record(path, 2, 0, 0);
	expect_load_error(path, "corrupt search tree");

	// A cycle of in-range nodes loads, and lookups still end.
	copy_sample(path);
	patch_record(path, 0, 0, 1);
	patch_record(path, 1, 0, 1);
	patch_record(path, 1, 1, 1);
	g = load_ok(path);
	struct ip_addr a = ip("::1");
	struct geo_result r;
	geo_lookup(g, &a, &r);
	assert_null(r.record);
	assert_int_equal(r.prefix_len, 128);
	a = ip("127.0.0.1");
	geo_lookup(g, &a, &r);
	assert_null(r.record);
	assert_int_equal(r.prefix_len, 32);
	geo_free(g);
}

static void test_corrupt_data(void **state)
{
	struct tmpdir *t = *state;
	struct geo *g = load_ok(SAMPLE);
	size_t data_start = geo_node_count(g) * 6 + 16;
	geo_free(g);

	size_t len;
	unsigned char *buf = read_whole(SAMPLE, &len);
	assert_true(data_start + 64 < len);
	memset(buf + data_start, 0, 64);
	char path[128];
	snprintf(path, sizeof(path), "%s/zerodata.mmdb", t->path);
	write_whole(path, buf, len);
	free(buf);
	expect_load_error(path, "corrupt data record");
}

/* Flipped bytes anywhere must give a load error or a working database,
 * never a crash (run under valgrind or --enable-sanitizers). */
static void test_byte_flips(void **state)
{
	struct tmpdir *t = *state;
	size_t len;
	unsigned char *orig = read_whole(SAMPLE, &len);
	unsigned char *buf = malloc(len);
	assert_non_null(buf);
	char path[128];
	snprintf(path, sizeof(path), "%s/flipped.mmdb", t->path);
	uint32_t x = 88172645u;
	unsigned loaded = 0;
	for (int round = 0; round < 300; round++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 1 + round % 4; k++) {
			x ^= x << 13;
			x ^= x >> 17;
			x ^= x << 5;
			buf[x % len] ^= (unsigned char)(1u << (x >> 29));
		}
		write_whole(path, buf, len);
		struct diag *d = diag_new();
		struct geo *g = geo_load(path, d);
		assert_true((g == NULL) == (diag_errors(d) > 0));
		if (g != NULL) {
			loaded++;
			struct ip_addr a4 = ip("127.0.2.5"), a6 = ip("2001:db8:2::1");
			struct geo_result r;
			geo_lookup(g, &a4, &r);
			assert_true(r.prefix_len <= 32);
			geo_lookup(g, &a6, &r);
			assert_true(r.prefix_len <= 128);
		}
		geo_free(g);
		diag_free(d);
	}
	// Most flips land in the tree or data and leave a loadable file.
	assert_true(loaded > 0);
	free(buf);
	free(orig);
}

/* ---- crafted databases ------------------------------------------------- */

/* A growing byte buffer for building .mmdb images. */
struct mbuf {
	unsigned char *p;
	size_t len, cap;
};

static void mb_put(struct mbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		assert_non_null(b->p);
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void mb_byte(struct mbuf *b, unsigned v)
{
	unsigned char c = (unsigned char)v;
	mb_put(b, &c, 1);
}

static void mb_be(struct mbuf *b, uint64_t v, unsigned n)
{
	while (n-- > 0)
		mb_byte(b, (unsigned)(v >> (8 * n)) & 0xff);
}

enum { T_PTR = 1, T_STR = 2, T_U16 = 5, T_U32 = 6, T_MAP = 7, T_U64 = 9,
       T_ARRAY = 11 };

/* A control byte (+ extended type, + size bytes) as the spec encodes it. */
static void enc_ctrl(struct mbuf *b, unsigned type, uint32_t size)
{
	unsigned first = type <= 7 ? type << 5 : 0, n = 0;
	uint32_t extra = 0;
	if (size < 29) {
		first |= size;
	} else if (size < 285) {
		first |= 29, extra = size - 29, n = 1;
	} else if (size < 65821) {
		first |= 30, extra = size - 285, n = 2;
	} else {
		first |= 31, extra = size - 65821, n = 3;
	}
	mb_byte(b, first);
	if (type > 7)
		mb_byte(b, type - 7);
	mb_be(b, extra, n);
}

static void enc_str(struct mbuf *b, const char *s)
{
	enc_ctrl(b, T_STR, (uint32_t)strlen(s));
	mb_put(b, s, strlen(s));
}

static void enc_uint(struct mbuf *b, unsigned type, uint64_t v)
{
	unsigned n = 0;
	while (n < 8 && (v >> (8 * n)) != 0)
		n++;
	enc_ctrl(b, type, n);
	mb_be(b, v, n);
}

/* A pointer to data offset off (< 2048 + 2^19 is all the tests need). */
static void enc_ptr(struct mbuf *b, uint32_t off)
{
	if (off < 2048) {
		mb_byte(b, 0x20 | (off >> 8));
		mb_byte(b, off & 0xff);
	} else {
		off -= 2048;
		mb_byte(b, 0x28 | (off >> 16));
		mb_be(b, off & 0xffff, 2);
	}
}

/* One tree node with records l and r, in a record size of rs bits. */
static void enc_node(struct mbuf *b, unsigned rs, uint32_t l, uint32_t r)
{
	if (rs == 28) {
		mb_be(b, l & 0xffffff, 3);
		mb_byte(b, ((l >> 24) & 0xf) << 4 | ((r >> 24) & 0xf));
		mb_be(b, r & 0xffffff, 3);
	} else {
		mb_be(b, l, rs / 8);
		mb_be(b, r, rs / 8);
	}
}

/* What a built database says in its metadata. */
struct meta {
	uint64_t node_count;
	unsigned record_size, ip_version, major;
	const char *type;
};

/* The marker and a metadata map with every key libmaxminddb requires
 * (build_epoch last: newer libmaxminddb dislikes an empty map there). */
static void enc_meta(struct mbuf *b, const struct meta *m)
{
	mb_put(b, "\xab\xcd\xefMaxMind.com", 14);
	enc_ctrl(b, T_MAP, 9);
	enc_str(b, "binary_format_major_version");
	enc_uint(b, T_U16, m->major ? m->major : 2);
	enc_str(b, "binary_format_minor_version");
	enc_uint(b, T_U16, 0);
	enc_str(b, "database_type");
	enc_str(b, m->type);
	enc_str(b, "description");
	enc_ctrl(b, T_MAP, 0);
	enc_str(b, "ip_version");
	enc_uint(b, T_U16, m->ip_version);
	enc_str(b, "languages");
	enc_ctrl(b, T_ARRAY, 0);
	enc_str(b, "node_count");
	enc_uint(b, T_U32, m->node_count);
	enc_str(b, "record_size");
	enc_uint(b, T_U16, m->record_size);
	enc_str(b, "build_epoch");
	enc_uint(b, T_U64, 1700000000);
}

/* An IPv4 database of one node: 0.0.0.0/1 → the record at data offset
 * 0, 128.0.0.0/1 → nothing. The caller frees out->p. */
static void build_one(struct mbuf *out, const struct mbuf *data,
		      const char *type)
{
	struct meta m = { .node_count = 1, .record_size = 24,
			  .ip_version = 4, .type = type };
	memset(out, 0, sizeof(*out));
	enc_node(out, 24, 1 + 16, 1);
	mb_put(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	mb_put(out, data->p, data->len);
	enc_meta(out, &m);
}

/* geo_load_mem must refuse bytes, naming name and saying what. */
static void expect_mem_error(const void *bytes, size_t len, const char *what)
{
	struct diag *d = diag_new();
	assert_non_null(d);
	struct geo *g = geo_load_mem(bytes, len, "crafted.mmdb", d);
	if (g != NULL)
		fail_msg("loaded, expected an error saying '%s'", what);
	assert_true(diag_errors(d) >= 1);
	const char *msg = diag_message(d, 0);
	if (strncmp(msg, "crafted.mmdb: ", 14) != 0 || strstr(msg, what) == NULL)
		fail_msg("message '%s' should say '%s'", msg, what);
	diag_free(d);
}

static struct geo *load_mem_ok(const struct mbuf *b)
{
	struct diag *d = diag_new();
	assert_non_null(d);
	struct geo *g = geo_load_mem(b->p, b->len, "crafted.mmdb", d);
	if (g == NULL || diag_count(d) != 0) {
		diag_print(d, stderr);
		fail_msg("geo_load_mem failed");
	}
	diag_free(d);
	return g;
}

/* {"continent": {"code": "EU"}, "note": {"a": {"a": ... {} }}}: levels
 * nested maps under "note". */
static void build_deep(struct mbuf *out, unsigned levels)
{
	struct mbuf data = { 0 };
	enc_ctrl(&data, T_MAP, 2);
	enc_str(&data, "continent");
	enc_ctrl(&data, T_MAP, 1);
	enc_str(&data, "code");
	enc_str(&data, "EU");
	enc_str(&data, "note");
	for (unsigned i = 0; i < levels; i++) {
		enc_ctrl(&data, T_MAP, 1);
		enc_str(&data, "a");
	}
	enc_ctrl(&data, T_MAP, 0);
	build_one(out, &data, "Deep");
	free(data.p);
}

/*
 * Issue 13 item 2: libmaxminddb 1.7.1 recursed once per level and
 * overflowed the stack on 2,000,000 (the server died at reload). Now the
 * nesting is refused past 512 levels, without recursion.
 */
static void test_deep_nesting(void **state)
{
	struct tmpdir *t = *state;
	struct mbuf b;
	char path[128];
	snprintf(path, sizeof(path), "%s/deep.mmdb", t->path);

	build_deep(&b, 2000000);
	write_whole(path, b.p, b.len);
	free(b.p);
	expect_load_error(path, "corrupt data record at offset 0: nesting "
			  "deeper than 512");

	build_deep(&b, 513);
	expect_mem_error(b.p, b.len, "corrupt data record at offset 0: "
			 "nesting deeper than 512");
	free(b.p);

	// 512 levels are still read, and the record keeps its continent.
	build_deep(&b, 511);
	struct geo *g = load_mem_ok(&b);
	struct ip_addr a = ip("1.2.3.4");
	struct geo_result r;
	geo_lookup(g, &a, &r);
	assert_non_null(r.record);
	assert_int_equal(r.record->continent, CONTINENT_EU);
	assert_int_equal(r.prefix_len, 1);
	geo_free(g);
	free(b.p);
}

/* A record with more than 65536 values, flat (an array), is refused. */
static void test_huge_record(void **state)
{
	(void)state;
	struct mbuf data = { 0 }, b;
	enc_ctrl(&data, T_MAP, 2);
	enc_str(&data, "country_code");
	enc_str(&data, "DE");
	enc_str(&data, "list");
	enc_ctrl(&data, T_ARRAY, 70000);
	for (int i = 0; i < 70000; i++)
		enc_ctrl(&data, T_MAP, 0);
	build_one(&b, &data, "Huge");
	expect_mem_error(b.p, b.len, "more than 65536 values");
	free(b.p);
	free(data.p);
}

/* Pointers that loop, point nowhere, or point at the wrong thing. */
static void test_pointer_loops(void **state)
{
	(void)state;
	struct mbuf data = { 0 }, b;

	// the record is a pointer to itself
	enc_ptr(&data, 0);
	build_one(&b, &data, "Loop");
	expect_mem_error(b.p, b.len, "corrupt data record at offset 0: a "
			 "pointer to a pointer");
	free(b.p);

	// a map whose key points back at the map
	data.len = 0;
	enc_ctrl(&data, T_MAP, 1);
	enc_ptr(&data, 0);
	enc_str(&data, "x");
	build_one(&b, &data, "Loop");
	expect_mem_error(b.p, b.len, "a map key that is not a string");
	free(b.p);

	// a pointer past the end of the data section
	data.len = 0;
	enc_ctrl(&data, T_MAP, 1);
	enc_str(&data, "country");
	enc_ptr(&data, 1000);
	build_one(&b, &data, "Loop");
	expect_mem_error(b.p, b.len, "a pointer past the section");
	free(b.p);

	// "continent" pointing back at its own record: no code there, but
	// the country still places it; nothing loops
	data.len = 0;
	enc_ctrl(&data, T_MAP, 2);
	enc_str(&data, "continent");
	enc_ptr(&data, 0);
	enc_str(&data, "country");
	enc_ctrl(&data, T_MAP, 1);
	enc_str(&data, "iso_code");
	enc_str(&data, "jp");
	build_one(&b, &data, "Loop");
	struct geo *g = load_mem_ok(&b);
	struct ip_addr a = ip("1.2.3.4");
	struct geo_result r;
	geo_lookup(g, &a, &r);
	assert_non_null(r.record);
	assert_string_equal(r.record->country, "JP");
	assert_int_equal(r.record->continent, CONTINENT_AS);
	geo_free(g);
	free(b.p);
	free(data.p);
}

/* Issue 10: an ASN database (no continent, no country) is refused with
 * its type named; so is any database without location data. */
static void test_no_location_data(void **state)
{
	struct tmpdir *t = *state;
	struct mbuf data = { 0 }, b;
	char path[128];
	snprintf(path, sizeof(path), "%s/asn.mmdb", t->path);

	enc_ctrl(&data, T_MAP, 2);
	enc_str(&data, "autonomous_system_number");
	enc_uint(&data, T_U32, 15169);
	enc_str(&data, "autonomous_system_organization");
	enc_str(&data, "GOOGLE");
	build_one(&b, &data, "GeoLite2-ASN");
	write_whole(path, b.p, b.len);
	free(b.p);
	expect_load_error(path, "GeoLite2-ASN has no continent or country "
			  "data (an ASN database?");

	data.len = 0;
	enc_ctrl(&data, T_MAP, 1);
	enc_str(&data, "isp");
	enc_str(&data, "Example");
	build_one(&b, &data, "Example-ISP");
	expect_mem_error(b.p, b.len, "Example-ISP has no continent or "
			 "country data (geovip needs a Country or City");
	free(b.p);
	free(data.p);
}

/* The sample's tree and data section, split apart, for re-encoding. */
struct parts {
	unsigned char *file;
	size_t len;
	uint32_t nodes;
	size_t data_start, data_end;
};

static void sample_split(const char *path, struct parts *p)
{
	struct geo *g = load_ok(path);
	p->nodes = (uint32_t)geo_node_count(g);
	geo_free(g);
	p->file = read_whole(path, &p->len);
	p->data_start = (size_t)p->nodes * 6 + 16;
	p->data_end = 0;
	for (size_t i = 0; i + 14 <= p->len; i++)
		if (memcmp(p->file + i, "\xab\xcd\xefMaxMind.com", 14) == 0)
			p->data_end = i;
	assert_true(p->data_end > p->data_start);
}

/* The sample (record size 24) re-encoded with record size rs and the
 * metadata m (node_count, type and ip_version filled in from it). */
static void sample_reencode(const struct parts *p, struct meta *m,
			    unsigned rs, unsigned node_rs, struct mbuf *out)
{
	memset(out, 0, sizeof(*out));
	for (uint32_t n = 0; n < p->nodes; n++) {
		const unsigned char *q = p->file + (size_t)n * 6;
		uint32_t l = (uint32_t)q[0] << 16 | q[1] << 8 | q[2];
		uint32_t r = (uint32_t)q[3] << 16 | q[4] << 8 | q[5];
		enc_node(out, node_rs, l, r);
	}
	mb_put(out, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16);
	mb_put(out, p->file + p->data_start, p->data_end - p->data_start);
	if (m->node_count == 0)
		m->node_count = p->nodes;
	m->record_size = rs;
	enc_meta(out, m);
}

/* Record sizes 28 and 32 give the same answers as 24 (and as
 * libmaxminddb); any other record size is refused. */
static void test_record_sizes(void **state)
{
	struct tmpdir *t = *state;
	const char *const files[] = { SAMPLE, V4ONLY };
	char path[128];

	for (size_t f = 0; f < 2; f++) {
		struct parts p;
		sample_split(files[f], &p);
		unsigned ipv = f == 0 ? 6 : 4;
		for (unsigned rs = 28; rs <= 32; rs += 4) {
			struct meta m = { .ip_version = ipv, .type = "Re" };
			struct mbuf b;
			sample_reencode(&p, &m, rs, rs, &b);
			snprintf(path, sizeof(path), "%s/rs%u.mmdb", t->path, rs);
			write_whole(path, b.p, b.len);
			free(b.p);
			compare_with_mmdb(path);
			struct geo *g = load_ok(path);
			for (size_t i = 0; i < sizeof(v4_cases) /
			     sizeof(v4_cases[0]); i++)
				check_lookup(g, &v4_cases[i]);
			geo_free(g);
		}
		static const unsigned bad[] = { 0, 8, 16, 25, 27, 30, 33, 64,
						65535 };
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			struct meta m = { .ip_version = ipv, .type = "Bad" };
			struct mbuf b;
			sample_reencode(&p, &m, bad[i], 24, &b);
			char what[64];
			snprintf(what, sizeof(what), "record_size %u (expected "
				 "24, 28 or 32)", bad[i]);
			expect_mem_error(b.p, b.len, what);
			free(b.p);
		}
		free(p.file);
	}
}

/* Metadata that does not match the file. */
static void test_bad_metadata(void **state)
{
	(void)state;
	struct parts p;
	struct mbuf b;
	sample_split(SAMPLE, &p);
	static const struct {
		struct meta m;
		const char *what;
	} cases[] = {
		{ { .node_count = 1000000, .ip_version = 6, .type = "x" },
		  "a search tree of 1000000 nodes does not fit" },
		{ { .node_count = 0xffffffff, .ip_version = 6, .type = "x" },
		  "node count 4294967295" },
		{ { .ip_version = 5, .type = "x" },
		  "unsupported ip_version 5" },
		{ { .ip_version = 6, .major = 3, .type = "x" },
		  "binary format version 3" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct meta m = cases[i].m;
		sample_reencode(&p, &m, 24, 24, &b);
		expect_mem_error(b.p, b.len, cases[i].what);
		free(b.p);
	}
	// a metadata map that is cut off after its first key
	struct meta m = { .ip_version = 6, .type = "x" };
	sample_reencode(&p, &m, 24, 24, &b);
	size_t meta = b.len - 14;
	while (memcmp(b.p + meta, "\xab\xcd\xefMaxMind.com", 14) != 0)
		meta--;
	expect_mem_error(b.p, meta + 14 + 30, "corrupt metadata");
	free(b.p);
	free(p.file);
}

/* Every prefix of the sample databases is refused, never loaded, never
 * a crash (under ASan/valgrind: never an out-of-bounds read). */
static void test_truncated_everywhere(void **state)
{
	(void)state;
	const char *const files[] = { SAMPLE, V4ONLY };
	for (size_t f = 0; f < 2; f++) {
		size_t len;
		unsigned char *buf = read_whole(files[f], &len);
		for (size_t cut = 0; cut < len; cut++) {
			// a private copy of exactly cut bytes: ASan sees any
			// read past it
			unsigned char *copy = malloc(cut + 1);
			assert_non_null(copy);
			memcpy(copy, buf, cut);
			struct diag *d = diag_new();
			struct geo *g = geo_load_mem(copy, cut, "cut.mmdb", d);
			if (g != NULL)
				fail_msg("%s cut at %zu bytes loaded", files[f],
					 cut);
			assert_true(diag_errors(d) >= 1);
			assert_memory_equal(diag_message(d, 0), "cut.mmdb: ", 10);
			diag_free(d);
			free(copy);
		}
		free(buf);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_country_count),
		cmocka_unit_test(test_country_continents),
		cmocka_unit_test(test_country_edge_cases),
		cmocka_unit_test(test_sample_metadata),
		cmocka_unit_test(test_sample_ipv4),
		cmocka_unit_test(test_sample_ipv6),
		cmocka_unit_test(test_v4only),
		cmocka_unit_test(test_agrees_with_libmaxminddb),
		cmocka_unit_test_setup_teardown(test_missing_file,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_truncated_file,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_random_file,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_malformed_tree,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_data,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_byte_flips,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_deep_nesting,
						tmp_setup, tmp_teardown),
		cmocka_unit_test(test_huge_record),
		cmocka_unit_test(test_pointer_loops),
		cmocka_unit_test_setup_teardown(test_no_location_data,
						tmp_setup, tmp_teardown),
		cmocka_unit_test_setup_teardown(test_record_sizes,
						tmp_setup, tmp_teardown),
		cmocka_unit_test(test_bad_metadata),
		cmocka_unit_test(test_truncated_everywhere),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
