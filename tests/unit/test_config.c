/*
 * tests/unit/test_config.c — config_load(_text): the SPEC example parses into the
 * right struct, defaults apply, and every class of mistake is refused with
 * the exact "FILE:LINE: " of the offending node and a message saying why.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

/* A temporary directory holding t.yaml, and the diagnostics of a load. */
struct fx {
	char dir[64];
	char path[96];
	struct diag *d;
	struct config *cfg;
};

/* Lines 1-12 of most test configs; tests append from line 13. */
#define BASE \
	"listen: [127.0.0.1:5353]\n"            /*  1 */ \
	"geoip: geo.mmdb\n"                     /*  2 */ \
	"regions:\n"                            /*  3 */ \
	"  a:\n"                                /*  4 */ \
	"    continents: [EU]\n"                /*  5 */ \
	"    vips: [192.0.2.1]\n"               /*  6 */ \
	"  b:\n"                                /*  7 */ \
	"    vips: [\"2001:db8::1\"]\n"         /*  8 */ \
	"default_region: a\n"                   /*  9 */ \
	"zones:\n"                              /* 10 */ \
	"  - origin: example.com.\n"            /* 11 */ \
	"    file: example.com.zone\n"          /* 12 */

static int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	snprintf(f->dir, sizeof(f->dir), "/tmp/test_config.XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof(f->path), "%s/t.yaml", f->dir);
	f->d = diag_new();
	assert_non_null(f->d);
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;
	config_free(f->cfg);
	diag_free(f->d);
	unlink(f->path);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Loads yaml as if it were the fixture's t.yaml (no file is written). */
static struct config *fx_load(struct fx *f, const char *yaml)
{
	f->cfg = config_load_text(yaml, strlen(yaml), f->path, f->d);
	return f->cfg;
}

static void fx_dump(const struct fx *f)
{
	for (size_t i = 0; i < diag_count(f->d); i++)
		print_message("  diag: %s\n", diag_message(f->d, i));
}

/* True when some message starts with "PATH:LINE: " and holds phrase. */
static bool fx_has(const struct fx *f, unsigned line, const char *phrase)
{
	char prefix[160];
	if (line > 0)
		snprintf(prefix, sizeof(prefix), "%s:%u: ", f->path, line);
	else
		snprintf(prefix, sizeof(prefix), "%s: ", f->path);
	for (size_t i = 0; i < diag_count(f->d); i++) {
		const char *m = diag_message(f->d, i);
		if (strncmp(m, prefix, strlen(prefix)) == 0 &&
		    strstr(m + strlen(prefix), phrase) != NULL)
			return true;
	}
	print_message("expected '%s...%s' among:\n", prefix, phrase);
	fx_dump(f);
	return false;
}

/* Loads yaml, which must be refused with phrase at line. */
static void fx_refused(void **state, const char *yaml, unsigned line,
		       const char *phrase)
{
	struct fx *f = *state;
	assert_null(fx_load(f, yaml));
	assert_true(diag_errors(f->d) > 0);
	assert_true(fx_has(f, line, phrase));
}

static struct config *fx_accepted(void **state, const char *yaml)
{
	struct fx *f = *state;
	struct config *cfg = fx_load(f, yaml);
	if (cfg == NULL)
		fx_dump(f);
	assert_non_null(cfg);
	assert_int_equal(diag_errors(f->d), 0);
	return cfg;
}

/* ---- valid configurations ---------------------------------------------- */

static void ip_is(const struct ip_addr *a, int family, const char *text)
{
	uint8_t want[16] = { 0 };
	assert_int_equal(a->family, family);
	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(a->bytes, want, family == AF_INET ? 4 : 16);
}

static void check_full_listen(const struct config *cfg)
{
	assert_int_equal(cfg->listen_count, 2);
	const struct sockaddr_in *sin =
		(const struct sockaddr_in *)&cfg->listen[0].addr;
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 5353);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(cfg->listen[0].addr_len, sizeof(struct sockaddr_in));
	assert_string_equal(cfg->listen[0].text, "127.0.0.1:5353");
	assert_int_equal(cfg->listen[0].line, 3);

	const struct sockaddr_in6 *sin6 =
		(const struct sockaddr_in6 *)&cfg->listen[1].addr;
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 5353);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(cfg->listen[1].addr_len, sizeof(struct sockaddr_in6));
}

static void check_full_regions(const struct config *cfg)
{
	assert_int_equal(cfg->region_count, 3);
	const struct config_region *am = &cfg->regions[0];
	const struct config_region *em = &cfg->regions[1];
	const struct config_region *ap = &cfg->regions[2];
	assert_string_equal(am->name, "americas");
	assert_string_equal(em->name, "emea");
	assert_string_equal(ap->name, "apac");
	assert_int_equal(am->line, 10);
	assert_int_equal(am->continents,
			 1 << CONTINENT_NA | 1 << CONTINENT_SA);
	assert_int_equal(em->continents,
			 1 << CONTINENT_EU | 1 << CONTINENT_AF);
	assert_int_equal(ap->continents,
			 1 << CONTINENT_AS | 1 << CONTINENT_OC);
	assert_int_equal(am->v4_count, 1);
	assert_int_equal(am->v6_count, 1);
	ip_is(&am->v4[0], AF_INET, "192.0.2.10");
	ip_is(&am->v6[0], AF_INET6, "2001:db8:10::1");
	assert_int_equal(em->v4_count, 2);
	assert_int_equal(em->v6_count, 1);
	ip_is(&em->v4[1], AF_INET, "198.51.100.11");
	assert_int_equal(ap->v4_count, 1);
	assert_int_equal(ap->v6_count, 0);

	assert_int_equal(cfg->default_region, 0);
	assert_int_equal(am->shed_to, REGION_NONE);
	assert_int_equal(em->shed_to, REGION_NONE);
	assert_int_equal(ap->shed_to, 1);
	assert_int_equal(ap->shed_bp, 2500);
	assert_int_equal(ap->shed_line, 31);
}

static void check_full_overrides(const struct config *cfg)
{
	assert_int_equal(cfg->network_override_count, 2);
	const struct config_network_override *n = cfg->network_overrides;
	ip_is(&n[0].net, AF_INET, "10.0.0.0");
	assert_int_equal(n[0].prefix_len, 8);
	assert_int_equal(n[0].region, 1);
	assert_int_equal(n[0].line, 24);
	ip_is(&n[1].net, AF_INET6, "2001:db8:ffff::");
	assert_int_equal(n[1].prefix_len, 48);
	assert_int_equal(n[1].region, 2);

	assert_int_equal(cfg->country_override_count, 2);
	assert_string_equal(cfg->country_overrides[0].code, "BR");
	assert_int_equal(cfg->country_overrides[0].region, 0);
	assert_string_equal(cfg->country_overrides[1].code, "AU");
	assert_int_equal(cfg->country_overrides[1].region, 2);
}

static void check_full_zone(const struct config *cfg)
{
	static const uint8_t origin[] = "\7example\3com";
	static const uint8_t edge[] = "\1*\4edge\7example\3com";
	assert_int_equal(cfg->zone_count, 1);
	const struct config_zone *z = &cfg->zones[0];
	assert_string_equal(z->origin_text, "example.com.");
	assert_int_equal(z->origin_len, sizeof(origin));
	assert_memory_equal(z->origin, origin, sizeof(origin));
	assert_string_equal(z->file, FIXTURES "/config/example.com.zone");
	assert_int_equal(z->ttl, 30);
	assert_int_equal(z->regional_count, 4);
	assert_string_equal(z->regional[0].text, "@");
	assert_memory_equal(z->regional[0].name, origin, sizeof(origin));
	assert_string_equal(z->regional[1].text, "www");
	assert_memory_equal(z->regional[1].name, "\3www\7example\3com",
			    sizeof("\3www\7example\3com"));
	assert_string_equal(z->regional[3].text, "*.edge");
	assert_int_equal(z->regional[3].name_len, sizeof(edge));
	assert_memory_equal(z->regional[3].name, edge, sizeof(edge));
	assert_int_equal(z->regional[3].line, 41);
}

static void test_full_spec_example(void **state)
{
	(void)state;
	struct diag *d = diag_new();
	struct config *cfg = config_load(FIXTURES "/config/full.yaml", d);
	if (cfg == NULL)
		diag_print(d, stderr);
	assert_non_null(cfg);
	assert_int_equal(diag_count(d), 0);

	assert_string_equal(cfg->path, FIXTURES "/config/full.yaml");
	assert_string_equal(cfg->dir, FIXTURES "/config");
	check_full_listen(cfg);
	assert_string_equal(cfg->geoip, FIXTURES "/config/../geo/sample.mmdb");
	assert_int_equal(cfg->geoip_line, 5);
	assert_true(cfg->ecs);
	assert_int_equal(cfg->workers, 2);
	check_full_regions(cfg);
	check_full_overrides(cfg);
	for (unsigned i = 0; i < 16; i++)
		assert_int_equal(cfg->shed_key[i], i);
	assert_int_equal(cfg->tcp_idle_timeout, 10);
	assert_int_equal(cfg->tcp_max_connections, 1000);
	check_full_zone(cfg);

	assert_int_equal(config_region_index(cfg, "emea"), 1);
	assert_int_equal(config_region_index(cfg, "nowhere"), REGION_NONE);
	config_free(cfg);
	diag_free(d);
}

static void test_defaults(void **state)
{
	(void)state;
	struct diag *d = diag_new();
	struct config *cfg = config_load(FIXTURES "/config/minimal.yaml", d);
	assert_non_null(cfg);
	assert_true(cfg->ecs);
	assert_int_equal(cfg->workers, 0);
	assert_int_equal(cfg->tcp_idle_timeout, 10);
	assert_int_equal(cfg->tcp_max_connections, 1000);
	uint8_t zero[16] = { 0 };
	assert_memory_equal(cfg->shed_key, zero, 16);
	assert_false(cfg->cookie_secret_set);
	assert_false(cfg->cookie_secret_previous_set);
	assert_int_equal(cfg->regions[0].shed_to, REGION_NONE);
	assert_int_equal(cfg->regions[0].continents, 0);
	assert_int_equal(cfg->network_override_count, 0);
	assert_int_equal(cfg->country_override_count, 0);
	// absolute paths stay as written; an origin without its dot is absolute
	assert_string_equal(cfg->geoip, "/var/lib/geovip/db.mmdb");
	assert_string_equal(cfg->zones[0].file, "/etc/geovip/example.org.zone");
	assert_string_equal(cfg->zones[0].origin_text, "example.org.");
	assert_int_equal(cfg->zones[0].ttl, 60);
	assert_int_equal(cfg->zones[0].regional_count, 0);
	config_free(cfg);
	diag_free(d);
}

static void test_rrl_and_user(void **state)
{
	struct config *cfg = fx_accepted(state, BASE
		"rrl:\n"                                           /* 13 */
		"  responses_per_second: 250\n"
		"  slip: 3\n"
		"  ipv4_prefix: 28\n"
		"  ipv6_prefix: 48\n"
		"  exempt: [\"192.0.2.0/24\", \"2001:db8::/32\"]\n"
		"user: nobody\n");
	assert_int_equal(cfg->rrl.responses_per_second, 250);
	assert_int_equal(cfg->rrl.slip, 3);
	assert_int_equal(cfg->rrl.ipv4_prefix, 28);
	assert_int_equal(cfg->rrl.ipv6_prefix, 48);
	assert_int_equal(cfg->rrl.exempt_count, 2);
	ip_is(&cfg->rrl.exempt[1].net, AF_INET6, "2001:db8::");
	assert_int_equal(cfg->rrl.exempt[1].prefix_len, 32);
	assert_string_equal(cfg->user, "nobody");
	assert_int_equal(cfg->user_line, 19);

	// defaults: off, slip 2, /24 and /56
	struct fx *f = *state;
	config_free(f->cfg);
	f->cfg = NULL;
	struct config *d = fx_load(f, BASE);
	assert_non_null(d);
	assert_int_equal(d->rrl.responses_per_second, 0);
	assert_int_equal(d->rrl.slip, 2);
	assert_int_equal(d->rrl.ipv4_prefix, 24);
	assert_int_equal(d->rrl.ipv6_prefix, 56);
	assert_null(d->user);
}

static void test_rrl_and_user_errors(void **state)
{
	fx_refused(state, BASE "rrl:\n  ipv6_prefix: 129\n", 14,
		   "'ipv6_prefix' must be a whole number from 0 to 128");
	fx_refused(state, BASE "rrl:\n  exempt: [\"10.0.0.1/8\"]\n", 14,
		   "write 10.0.0.0/8");
	fx_refused(state, BASE "rrl:\n  burst: 5\n", 14, "unknown key 'burst'");
	// the account is checked against this machine after parsing
	struct fx *f = *state;
	config_free(f->cfg);
	f->cfg = NULL;
	assert_non_null(fx_load(f, BASE "user: no-such-user-here\n"));
	assert_int_equal(config_check_system(f->cfg, f->d), -1);
	assert_true(fx_has(f, 13, "user 'no-such-user-here' does not exist"));
}

static void test_secondary(void **state)
{
	struct fx *f = *state;
	char secret[128];
	snprintf(secret, sizeof(secret), "%s/k.secret", f->dir);
	FILE *fp = fopen(secret, "w");
	assert_non_null(fp);
	fputs("  c2VjcmV0LXR3bw==\n", fp);
	fclose(fp);
	struct config *cfg = fx_accepted(state, BASE
		"    primary: [192.0.2.53, \"[2001:db8::53]:5300\"]\n" /* 13 */
		"    tsig: xfr-key\n"
		"keys:\n"
		"  xfr-key: {algorithm: hmac-sha256, secret: c2VjcmV0}\n"
		"  other.: {algorithm: HMAC-SHA512, secret_file: k.secret}\n");
	unlink(secret);
	assert_int_equal(cfg->key_count, 2);
	assert_string_equal(cfg->keys[0].name, "xfr-key.");
	assert_string_equal(cfg->keys[0].algorithm, "hmac-sha256.");
	assert_string_equal(cfg->keys[0].secret, "c2VjcmV0");
	assert_string_equal(cfg->keys[1].algorithm, "hmac-sha512.");
	assert_string_equal(cfg->keys[1].secret, "c2VjcmV0LXR3bw==");
	const struct config_zone *z = &cfg->zones[0];
	assert_int_equal(z->primary_count, 2);
	assert_int_equal(z->tsig, 0);
	const struct sockaddr_in *a = (const void *)&z->primaries[0].addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 53);
	const struct sockaddr_in6 *b = (const void *)&z->primaries[1].addr;
	assert_int_equal(b->sin6_family, AF_INET6);
	assert_int_equal(ntohs(b->sin6_port), 5300);
	// a zone without primary is read from its file, with no key
	config_free(f->cfg);
	f->cfg = NULL;
	cfg = fx_accepted(state, BASE);
	assert_int_equal(cfg->zones[0].primary_count, 0);
	assert_int_equal(cfg->zones[0].tsig, -1);
}

static void test_secondary_errors(void **state)
{
	fx_refused(state, BASE "    primary: []\n", 13,
		   "'primary' must list at least one ADDRESS[:PORT]");
	fx_refused(state, BASE "    primary: [not-an-address]\n", 13,
		   "bad primary address 'not-an-address'");
	fx_refused(state, BASE "    primary: [192.0.2.1]\n    tsig: nokey\n",
		   14, "tsig key 'nokey' is not defined under 'keys'");
	fx_refused(state, BASE "    tsig: k\nkeys:\n  k: {algorithm: "
		   "hmac-sha256, secret: AAAA}\n", 11,
		   "has 'tsig' but no 'primary'");
	fx_refused(state, BASE "keys:\n  k: {algorithm: hmac-sha256, "
		   "secret: \"not base64!\"}\n", 14,
		   "the secret of key 'k.' is not valid base64");
	fx_refused(state, BASE "keys:\n  k: {algorithm: hmac-md5, "
		   "secret: AAAA}\n", 14, "unknown TSIG algorithm 'hmac-md5'");
	fx_refused(state, BASE "keys:\n  k: {algorithm: hmac-sha256}\n", 14,
		   "key 'k' needs 'secret' or 'secret_file'");
	fx_refused(state, BASE "keys:\n  k: {algorithm: hmac-sha256, "
		   "secret_file: /nonexistent/k}\n", 14,
		   "cannot read secret_file '/nonexistent/k'");
	fx_refused(state, BASE "keys:\n  k: {algorithm: hmac-sha256, "
		   "secret: AAAA, secret_file: x}\n", 14,
		   "key 'k.' has both 'secret' and 'secret_file'");
	fx_refused(state, BASE "    file2: x\n", 13, "unknown key 'file2'");
}

static void test_dnssec_nsec3(void **state)
{
	struct config *cfg = fx_accepted(state, BASE
		"    dnssec: {keys: [Ka], denial: nsec3, cds: true,\n" /* 13 */
		"             nsec3: {iterations: 100, salt: \"aBcD01\"}}\n");
	const struct config_dnssec *ds = &cfg->zones[0].dnssec;
	assert_true(ds->nsec3);
	assert_true(ds->cds);
	assert_int_equal(ds->nsec3_iterations, 100);
	assert_int_equal(ds->nsec3_salt_len, 3);
	assert_memory_equal(ds->nsec3_salt, "\xab\xcd\x01", 3);
	struct fx *f = *state;
	config_free(f->cfg);
	f->cfg = NULL;
	// the defaults: nsec, no CDS; nsec3 RFC 9276 values
	cfg = fx_accepted(state, BASE "    dnssec: {keys: [Ka]}\n");
	assert_false(cfg->zones[0].dnssec.nsec3);
	assert_false(cfg->zones[0].dnssec.cds);
	assert_int_equal(cfg->zones[0].dnssec.nsec3_iterations, 0);
	assert_int_equal(cfg->zones[0].dnssec.nsec3_salt_len, 0);
}

static void test_dnssec_nsec3_errors(void **state)
{
	fx_refused(state, BASE "    dnssec:\n      keys: [Ka]\n"
		   "      denial: nsec3\n      nsec3:\n"
		   "        iterations: 101\n", 17,
		   "nsec3 'iterations' must be a whole number from 0 to 100 "
		   "(RFC 9276: use 0), not '101'");
	fx_refused(state, BASE "    dnssec: {keys: [Ka], denial: nsec3, "
		   "nsec3: {salt: abc}}\n", 13, "nsec3 'salt' must be");
	fx_refused(state, BASE "    dnssec: {keys: [Ka], denial: nsec3, "
		   "nsec3: {salt: \"\"}}\n", 13, "nsec3 'salt' must be");
	fx_refused(state, BASE "    dnssec: {keys: [Ka], denial: nsec3, "
		   "nsec3: {opt-out: true}}\n", 13, "unknown key 'opt-out'");
	fx_refused(state, BASE "    dnssec: {keys: [Ka], cds: maybe}\n", 13,
		   "'cds' must be true or false");
}

static void test_relative_paths(void **state)
{
	struct fx *f = *state;
	struct config *cfg = fx_accepted(state, BASE);
	char want[160];
	assert_string_equal(cfg->dir, f->dir);
	snprintf(want, sizeof(want), "%s/geo.mmdb", f->dir);
	assert_string_equal(cfg->geoip, want);
	snprintf(want, sizeof(want), "%s/example.com.zone", f->dir);
	assert_string_equal(cfg->zones[0].file, want);
}

static void test_scalar_forms(void **state)
{
	struct config *cfg = fx_accepted(state, BASE
		"    ttl: 0\n"
		"    regional: [WWW, \"other.example.com.\", \"*\"]\n"
		"ecs: no\n"
		"workers: 1024\n"
		"tcp_idle_timeout: 1\n"
		"tcp_max_connections: 1\n"
		"shed_key: \"FFEEDDCCBBAA99887766554433221100\"\n"
		"overrides:\n"
		"  countries: { br: b, xk: a }\n"
		"  networks: { \"0.0.0.0/0\": a, \"::/0\": b }\n");
	assert_false(cfg->ecs);
	assert_int_equal(cfg->workers, 1024);
	assert_int_equal(cfg->tcp_idle_timeout, 1);
	assert_int_equal(cfg->tcp_max_connections, 1);
	assert_int_equal(cfg->shed_key[0], 0xff);
	assert_int_equal(cfg->shed_key[15], 0x00);
	assert_int_equal(cfg->zones[0].ttl, 0);
	assert_int_equal(cfg->zones[0].regional_count, 3);
	// names are canonical (lower-case); absolute names stay absolute
	assert_memory_equal(cfg->zones[0].regional[0].name,
			    "\3www\7example\3com", 17);
	assert_memory_equal(cfg->zones[0].regional[1].name,
			    "\5other\7example\3com", 19);
	assert_memory_equal(cfg->zones[0].regional[2].name,
			    "\1*\7example\3com", 15);
	assert_string_equal(cfg->country_overrides[0].code, "BR");
	assert_string_equal(cfg->country_overrides[1].code, "XK");
	assert_int_equal(cfg->network_overrides[1].prefix_len, 0);
	assert_int_equal(cfg->network_overrides[1].net.family, AF_INET6);
}

/* Percent is read exactly from the text: the basis points it gives. */
static void test_shed_percent_values(void **state)
{
	static const struct { const char *text; unsigned bp; } ok[] = {
		{ "0", 0 }, { "12.5", 1250 }, { "0.01", 1 }, { "100", 10000 },
		{ "99.99", 9999 }, { "\"33.33\"", 3333 }, { "100.00", 10000 },
		{ "0.29", 29 }, { "7", 700 },
	};
	struct fx *f = *state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char yaml[1024];
		snprintf(yaml, sizeof(yaml),
			 BASE "shed:\n  a: { to: b, percent: %s }\n", ok[i].text);
		config_free(f->cfg);
		struct config *cfg = fx_accepted(state, yaml);
		assert_int_equal(cfg->regions[0].shed_to, 1);
		assert_int_equal(cfg->regions[0].shed_bp, ok[i].bp);
		assert_int_equal(cfg->regions[0].shed_line, 14);
		assert_int_equal(cfg->regions[1].shed_to, REGION_NONE);
	}
}

static void test_continent_codes(void **state)
{
	(void)state;
	assert_int_equal(continent_from_code("AF"), CONTINENT_AF);
	assert_int_equal(continent_from_code("SA"), CONTINENT_SA);
	assert_int_equal(continent_from_code("eu"), CONTINENT_EU);
	assert_int_equal(continent_from_code("XX"), CONTINENT_UNKNOWN);
	assert_int_equal(continent_from_code("EUR"), CONTINENT_UNKNOWN);
	assert_int_equal(continent_from_code(""), CONTINENT_UNKNOWN);
	for (int c = 0; c < CONTINENT_COUNT; c++)
		assert_int_equal(continent_from_code(continent_code(c)), c);
	assert_string_equal(continent_code(CONTINENT_OC), "OC");
	assert_non_null(continent_code(CONTINENT_UNKNOWN));
}

/* ---- file and syntax errors ------------------------------------------- */

static void test_cannot_read(void **state)
{
	struct fx *f = *state;
	assert_null(config_load(f->path, f->d));
	assert_true(fx_has(f, 0, "cannot read: No such file or directory"));
}

static void test_cannot_read_directory(void **state)
{
	struct fx *f = *state;
	assert_null(config_load(f->dir, f->d));
	assert_int_equal(diag_errors(f->d), 1);
	assert_non_null(strstr(diag_message(f->d, 0), ": cannot read: "));
}

static void test_yaml_syntax(void **state)
{
	fx_refused(state, "listen: [127.0.0.1:53]\ngeoip: x\nregions: [a, b\n"
		   "zones: []\n", 4, "YAML syntax error");
	fx_refused(state, "listen:\n  - a\n bad: 1\n", 3, "YAML syntax error");
}

static void test_second_document(void **state)
{
	fx_refused(state, BASE "---\nworkers: 2\n", 14,
		   "a second YAML document");
}

static void test_root_not_mapping(void **state)
{
	fx_refused(state, "- listen\n- geoip\n", 1, "must be a mapping");
	fx_refused(state, "", 1, "must be a mapping");
}

static void test_missing_required(void **state)
{
	fx_refused(state, "ecs: true\n", 1, "missing required key 'listen'");
	struct fx *f = *state;
	assert_true(fx_has(f, 1, "missing required key 'geoip'"));
	assert_true(fx_has(f, 1, "missing required key 'regions'"));
	assert_true(fx_has(f, 1, "missing required key 'default_region'"));
	assert_true(fx_has(f, 1, "missing required key 'zones'"));
}

/* ---- unknown keys and wrong types -------------------------------------- */

static void test_unknown_key_top(void **state)
{
	fx_refused(state, BASE "listne: [127.0.0.1:53]\n", 13,
		   "unknown key 'listne' in the configuration (valid keys: "
		   "listen, geoip, ecs, workers, regions, default_region, ");
}

static void test_unknown_key_nested(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE
		   "    ttl: 5\n"
		   "    regonal: [www]\n"                   // 14
		   "overrides:\n"
		   "  nets: {}\n"                           // 16
		   "shed:\n"
		   "  a: { to: b, percent: 1, pct: 2 }\n",  // 18
		   14, "unknown key 'regonal' in a zone (valid keys: origin, "
		   "file, ttl, regional, primary, tsig, dnssec)");
	assert_true(fx_has(f, 16, "unknown key 'nets' in 'overrides' "
			   "(valid keys: networks, countries)"));
	assert_true(fx_has(f, 18, "unknown key 'pct'"));
	assert_true(fx_has(f, 18, "valid keys: to, percent"));
}

static void test_unknown_key_region(void **state)
{
	fx_refused(state,
		   "listen: [127.0.0.1:53]\ngeoip: g\nregions:\n"
		   "  a:\n    vips: [192.0.2.1]\n    continent: [EU]\n"
		   "default_region: a\nzones: [{origin: x., file: f}]\n",
		   6, "unknown key 'continent' in region 'a' (valid keys: "
		   "continents, vips, capacity, fallback)");
}

/* capacity, fallback (a name before its region) and health: read. */
static void test_health_keys(void **state)
{
	struct config *cfg = fx_accepted(state,
		"listen: [127.0.0.1:5353]\ngeoip: g\nregions:\n"
		"  a:\n    vips: [192.0.2.1]\n    capacity: 3\n"
		"    fallback: [c, b]\n"
		"  b:\n    vips: [192.0.2.2]\n"
		"  c:\n    vips: [192.0.2.3]\n    capacity: 1000000\n"
		"default_region: a\nzones: [{origin: x., file: f}]\n"
		"health: {hold_down: 30s, reports: 3}\n");
	assert_int_equal(cfg->regions[0].capacity, 3);
	assert_int_equal(cfg->regions[1].capacity, 1);
	assert_int_equal(cfg->regions[2].capacity, 1000000);
	assert_int_equal(cfg->regions[0].fallback_count, 2);
	assert_int_equal(cfg->regions[0].fallback[0], 2);
	assert_int_equal(cfg->regions[0].fallback[1], 1);
	assert_int_equal(cfg->regions[1].fallback_count, 0);
	assert_int_equal(cfg->health_hold_down, 30);
	assert_int_equal(cfg->health_reports, 3);
}

static void test_health_defaults(void **state)
{
	struct config *cfg = fx_accepted(state, BASE);
	assert_int_equal(cfg->regions[0].capacity, 1);
	assert_int_equal(cfg->health_hold_down, 0);
	assert_int_equal(cfg->health_reports, 0);
}

#define HEALTH_REGIONS(extra)                                           \
	"listen: [127.0.0.1:5353]\ngeoip: g\nregions:\n"                 \
	"  a:\n    vips: [192.0.2.1]\n" extra                             \
	"  b:\n    vips: [192.0.2.2]\n"                                   \
	"default_region: a\nzones: [{origin: x., file: f}]\n"

// fx_refused with a fresh diag, so each phrase is this load's own.
static void health_refused(void **state, const char *yaml, unsigned line,
			   const char *phrase)
{
	struct fx *f = *state;
	diag_free(f->d);
	f->d = diag_new();
	assert_non_null(f->d);
	fx_refused(state, yaml, line, phrase);
}

static void test_health_bad(void **state)
{
	health_refused(state, HEALTH_REGIONS("    capacity: 0\n"), 6,
		   "capacity");
	health_refused(state, HEALTH_REGIONS("    capacity: 2000000\n"), 6,
		   "capacity");
	health_refused(state, HEALTH_REGIONS("    fallback: [mars]\n"), 6,
		   "unknown region 'mars' in the fallback of region 'a'");
	health_refused(state, HEALTH_REGIONS("    fallback: [a]\n"), 6,
		   "the fallback of region 'a' lists 'a' (itself)");
	health_refused(state, HEALTH_REGIONS("    fallback: [b, b]\n"), 6,
		   "the fallback of region 'a' lists 'b' twice");
	health_refused(state, HEALTH_REGIONS("    fallback: b\n"), 6,
		   "fallback");
	health_refused(state, HEALTH_REGIONS("") "health: {hold_down: -5s}\n",
		   10, "health.hold_down '-5s' must be a duration");
	health_refused(state, HEALTH_REGIONS("") "health: {hold_down: 2d}\n",
		   10, "at most 1d");
	health_refused(state, HEALTH_REGIONS("") "health: {reports: 5000}\n",
		   10, "reports");
	health_refused(state, HEALTH_REGIONS("") "health: {bogus: 1}\n", 10,
		   "unknown key 'bogus'");
}

static void test_duplicate_key(void **state)
{
	fx_refused(state, BASE "geoip: other.mmdb\n", 13,
		   "key 'geoip' appears twice in the configuration "
		   "(first at line 2)");
}

static void test_wrong_types(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE
		   "    ttl: [1]\n"                         // 13
		   "ecs: { a: 1 }\n"                        // 14
		   "shed_key: [1, 2]\n"                     // 15
		   "overrides: [networks]\n"                // 16
		   "shed: abc\n",                           // 17
		   13, "'ttl' must be a single value, not a list");
	assert_true(fx_has(f, 14, "'ecs' must be a single value, not a mapping"));
	assert_true(fx_has(f, 15, "'shed_key' must be a single value"));
	assert_true(fx_has(f, 16, "'overrides' must be a mapping, not a list"));
	assert_true(fx_has(f, 17, "'shed' must be a mapping, not a single value"));
}

static void test_wrong_types_top(void **state)
{
	struct fx *f = *state;
	fx_refused(state,
		   "listen: 127.0.0.1:53\n"                 // 1
		   "geoip: [a, b]\n"                        // 2
		   "regions: [a]\n"                         // 3
		   "default_region: {x: y}\n"               // 4
		   "zones: example.com\n",                  // 5
		   1, "'listen' must be a list, not a single value");
	assert_true(fx_has(f, 2, "'geoip' must be a single value, not a list"));
	assert_true(fx_has(f, 3, "'regions' must be a mapping, not a list"));
	assert_true(fx_has(f, 4, "'default_region' must be a single value"));
	assert_true(fx_has(f, 5, "'zones' must be a list"));
}

static void test_empty_value(void **state)
{
	fx_refused(state, BASE "workers:\n", 13,
		   "'workers' must be a single value, not empty");
}

/* ---- listen -------------------------------------------------------------- */

static void test_listen_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state,
		   "geoip: g\nregions: {a: {vips: [192.0.2.1]}}\n"
		   "default_region: a\nzones: [{origin: x., file: f}]\n"
		   "listen:\n"                              // 5
		   "  - 127.0.0.1:0\n"                      // 6
		   "  - 127.0.0.1:65536\n"                  // 7
		   "  - \"::1:53\"\n"                       // 8
		   "  - 127.0.0.1\n"                        // 9
		   "  - 300.0.0.1:53\n"                     // 10
		   "  - \"[::1]53\"\n"                      // 11
		   "  - \"[::1]:5353\"\n"                   // 12
		   "  - \"[::1]:5353\"\n"                   // 13
		   "  - 127.0.0.1:53x\n",                   // 14
		   6, "bad listen address '127.0.0.1:0': the port must be");
	assert_true(fx_has(f, 7, "port must be a whole number from 1 to 65535"));
	assert_true(fx_has(f, 8, "write IPv6 as [ADDRESS]:PORT"));
	assert_true(fx_has(f, 9, "expected ADDRESS:PORT"));
	assert_true(fx_has(f, 10, "not a valid IPv4 address"));
	assert_true(fx_has(f, 11, "write IPv6 as [ADDRESS]:PORT"));
	assert_true(fx_has(f, 13, "listed twice (first at line 12)"));
	assert_true(fx_has(f, 14, "port must be"));
	assert_int_equal(diag_errors(f->d), 8);
}

static void test_listen_empty(void **state)
{
	fx_refused(state,
		   "listen: []\ngeoip: g\nregions: {a: {vips: [192.0.2.1]}}\n"
		   "default_region: a\nzones: [{origin: x., file: f}]\n",
		   1, "'listen' must list at least one");
}

/* ---- regions ------------------------------------------------------------- */

#define HEAD "listen: [127.0.0.1:53]\ngeoip: g\n" \
	"default_region: a\nzones: [{origin: x., file: f}]\n"  /* 1-4 */

static void test_bad_continent(void **state)
{
	fx_refused(state, HEAD "regions:\n  a:\n    continents: [EU,\n"
		   "      XX]\n    vips: [192.0.2.1]\n", 8,
		   "unknown continent 'XX' in region 'a' (use AF, AN, AS, EU, "
		   "NA, OC or SA)");
}

static void test_continent_twice(void **state)
{
	fx_refused(state, HEAD "regions:\n"
		   "  a: {continents: [EU], vips: [192.0.2.1]}\n"
		   "  b: {continents: [AF, EU], vips: [192.0.2.2]}\n", 7,
		   "continent EU is in region 'a' and in region 'b'");
}

/* A region needs VIPs of its own only when a regional name in the list
 * form (the regions' own VIPs) exists. */
static void test_region_no_vips(void **state)
{
	struct fx *f = *state;
	fx_refused(state, "listen: [127.0.0.1:53]\ngeoip: g\n"
		   "default_region: a\n"
		   "zones: [{origin: x., file: f, regional: [www]}]\n" // 4
		   "regions:\n"
		   "  a:\n    continents: [EU]\n"           // 6
		   "  b:\n    vips: []\n", 6,               // 8
		   "region 'a' has no VIPs: list one or more IPv4 or IPv6 "
		   "addresses under 'vips' (the regional names of zone x., "
		   "line 4, use the regions' own VIPs)");
	assert_true(fx_has(f, 8, "region 'b' has no VIPs"));
	assert_int_equal(diag_errors(f->d), 2);
	config_free(f->cfg);
	f->cfg = NULL;
	diag_free(f->d);
	f->d = diag_new();
	// no regional names at all: nothing needs the regions' VIPs
	fx_accepted(state, HEAD "regions:\n"
		    "  a:\n    continents: [EU]\n"
		    "  b:\n    vips: []\n");
}

/* ---- services ------------------------------------------------------------ */

static void test_services(void **state)
{
	struct config *cfg = fx_accepted(state, BASE
		"    regional: {www: web, api: api, \"*.edge\": web}\n" // 13
		"  - origin: example.org.\n"
		"    file: example.org.zone\n"
		"    regional: [\"@\"]\n"                                // 16
		"services:\n"
		"  web:\n"                                               // 18
		"    a: [192.0.2.10, \"2001:db8::10\", 192.0.2.11]\n"
		"    b: [\"2001:db8::20\"]\n"                            // 20
		"  api: {a: [192.0.2.30]}\n");                           // 21
	assert_int_equal(cfg->service_count, 2);
	const struct config_service *web = &cfg->services[0];
	assert_string_equal(web->name, "web");
	assert_int_equal(web->line, 18);
	assert_int_equal(web->in[0].v4_count, 2);
	assert_int_equal(web->in[0].v6_count, 1);
	ip_is(&web->in[0].v4[1], AF_INET, "192.0.2.11");
	ip_is(&web->in[0].v6[0], AF_INET6, "2001:db8::10");
	assert_int_equal(web->in[1].v4_count, 0);
	assert_int_equal(web->in[1].line, 20);
	assert_string_equal(cfg->services[1].name, "api");

	const struct config_zone *z = &cfg->zones[0];
	assert_int_equal(z->regional_count, 3);
	assert_string_equal(z->regional[0].text, "www");
	assert_int_equal(z->regional[0].service, 1);
	assert_int_equal(z->regional[0].line, 13);
	assert_string_equal(z->regional[1].text, "api");
	assert_int_equal(z->regional[1].service, 2);
	assert_int_equal(z->regional[2].service, 1);
	// the list form: the regions' own VIPs
	assert_int_equal(cfg->zones[1].regional[0].service,
			 CONFIG_SERVICE_REGIONS);

	struct config_vipset v;
	config_vips(cfg, 2, 1, &v); // api in b: not there
	assert_int_equal(v.v4_count + v.v6_count, 0);
	config_vips(cfg, 1, 1, &v);
	assert_int_equal(v.v6_count, 1);
	ip_is(&v.v6[0], AF_INET6, "2001:db8::20");
	config_vips(cfg, CONFIG_SERVICE_REGIONS, 0, &v);
	assert_int_equal(v.v4_count, 1);
	ip_is(&v.v4[0], AF_INET, "192.0.2.1");
	assert_string_equal(config_service_name(cfg, 2), "api");
	assert_string_equal(config_service_name(cfg, 0), "(regions)");
	assert_int_equal(config_service_index(cfg, "api"), 2);
	assert_int_equal(config_service_index(cfg, "nope"), -1);
}

/* Services alone: regions without VIPs of their own; an unused service
 * is a warning. */
static void test_services_only(void **state)
{
	struct fx *f = *state;
	struct config *cfg = fx_accepted(state,
		"listen: [127.0.0.1:53]\ngeoip: g\n"
		"regions: {a: {continents: [EU]}, b: {}}\n"
		"default_region: a\n"
		"zones: [{origin: x., file: f, regional: {www: web}}]\n"
		"services:\n"
		"  web: {b: [192.0.2.1]}\n"
		"  spare: {a: [192.0.2.2]}\n");                 // 8
	assert_int_equal(cfg->regions[0].v4_count + cfg->regions[0].v6_count,
			 0);
	assert_true(fx_has(f, 8, "warning: service 'spare' is not named by "
			   "any zone's 'regional'"));
}

#define SHEAD "listen: [127.0.0.1:53]\ngeoip: g\n" \
	"default_region: a\nregions: {a: {continents: [EU]}, b: {}}\n" /* 1-4 */

static void test_services_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, SHEAD
		   "zones:\n"
		   "  - origin: x.\n"
		   "    file: f\n"
		   "    regional: {www: web, api: nope}\n"     // 8
		   "services:\n"
		   "  web:\n"
		   "    a: [192.0.2.1, 192.0.2.1]\n"           // 11
		   "    c: [192.0.2.2]\n"                      // 12
		   "  empty: {}\n"                             // 13
		   "  \"we b\": {a: [192.0.2.3]}\n"            // 14
		   "  e2: {b: []}\n"                           // 15
		   "  e3: {b: [300.1.1.1]}\n"                  // 16
		   "  e4: [192.0.2.4]\n", 8,                   // 17
		   "regional name 'api' maps to unknown service 'nope' "
		   "(services: web, empty, e2, e3");
	assert_true(fx_has(f, 11, "VIP '192.0.2.1' is listed twice in "
			   "service 'web' in region 'a'"));
	assert_true(fx_has(f, 12, "unknown region 'c' in service 'web' "
			   "(regions: a, b)"));
	assert_true(fx_has(f, 13, "service 'empty' has no VIPs in any "
			   "region"));
	assert_true(fx_has(f, 14, "service name 'we b' must be 1 to 63 "
			   "letters, digits"));
	assert_true(fx_has(f, 15, "service 'e2' lists no VIPs in region 'b'"));
	assert_true(fx_has(f, 16, "VIP '300.1.1.1' of service 'e3' in region "
			   "'b' is not an IPv4 or IPv6 address"));
	assert_true(fx_has(f, 17, "must be a mapping"));
	assert_int_equal(diag_errors(f->d), 8);
}

static void test_services_none_defined(void **state)
{
	fx_refused(state, SHEAD
		   "zones: [{origin: x., file: f, regional: {www: web}}]\n", 5,
		   "regional name 'www' maps to unknown service 'web' "
		   "(services: none defined under 'services')");
}

static void test_services_limits(void **state)
{
	struct fx *f = *state;
	char *yaml = malloc(64 * 1024);
	assert_non_null(yaml);
	size_t n = (size_t)sprintf(yaml, SHEAD "zones: [{origin: x., file: f, "
				   "regional: {www: big}}]\n"
				   "services:\n  big:\n    a: [");  // line 8
	for (int i = 0; i < CONFIG_SERVICE_VIPS_MAX + 1; i++)
		n += (size_t)sprintf(yaml + n, "%s192.0.2.%d", i ? ", " : "",
				     i + 1);
	sprintf(yaml + n, "]\n");
	fx_refused(state, yaml, 8,
		   "service 'big' in region 'a' lists 65 VIPs: at most 64");
	config_free(f->cfg);
	f->cfg = NULL;
	diag_free(f->d);
	f->d = diag_new();
	n = (size_t)sprintf(yaml, SHEAD "zones: [{origin: x., file: f, "
			    "regional: {www: s0}}]\nservices:\n"); // 7: the map
	for (int i = 0; i < CONFIG_SERVICES_MAX + 1; i++)
		n += (size_t)sprintf(yaml + n, "  s%d: {a: [192.0.2.1]}\n", i);
	fx_refused(state, yaml, 7,
		   "'services' defines more than 1000 services");
	free(yaml);
}

static void test_bad_vip(void **state)
{
	struct fx *f = *state;
	fx_refused(state, HEAD "regions:\n  a:\n    vips:\n"
		   "      - 192.0.2.1\n      - 192.0.2.300\n"   // 9
		   "      - example.com\n"                      // 10
		   "      - 192.0.2.1\n", 9,                    // 11
		   "VIP '192.0.2.300' of region 'a' is not an IPv4 or IPv6");
	assert_true(fx_has(f, 10, "VIP 'example.com'"));
	assert_true(fx_has(f, 11, "listed twice in region 'a'"));
}

static void test_region_duplicate_and_type(void **state)
{
	struct fx *f = *state;
	fx_refused(state, HEAD "regions:\n"
		   "  a: {vips: [192.0.2.1]}\n"                 // 6
		   "  a: {vips: [192.0.2.2]}\n"                 // 7
		   "  c: [EU]\n", 7,                            // 8
		   "'a' appears twice in 'regions' (first at line 6)");
	assert_true(fx_has(f, 8, "region 'c' must be a mapping"));
}

static void test_unknown_default_region(void **state)
{
	fx_refused(state, "listen: [127.0.0.1:53]\ngeoip: g\n"
		   "regions: {a: {vips: [192.0.2.1]}, b: {vips: [192.0.2.2]}}\n"
		   "default_region: c\nzones: [{origin: x., file: f}]\n", 4,
		   "unknown region 'c' in 'default_region' (regions: a, b)");
}

/* ---- overrides ----------------------------------------------------------- */

static void test_network_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "overrides:\n  networks:\n"
		   "    10.1.0.0/8: a\n"                        // 15
		   "    \"2001:db8::1/32\": b\n"                // 16
		   "    10.0.0.0/8: a\n"                        // 17
		   "    10.0.0.0/08: b\n"                       // 18
		   "    10.0.0.0/33: a\n"                       // 19
		   "    10.0.0.0: a\n"                          // 20
		   "    192.168.0.0/16: nowhere\n"              // 21
		   "    bogus/8: a\n", 15,                      // 22
		   "network '10.1.0.0/8' has bits set after the prefix length; "
		   "write 10.0.0.0/8");
	assert_true(fx_has(f, 16, "write 2001:db8::/32"));
	assert_true(fx_has(f, 18, "network '10.0.0.0/08' is listed twice in "
			   "overrides.networks (first at line 17)"));
	assert_true(fx_has(f, 19, "prefix length must be 0 to 32"));
	assert_true(fx_has(f, 20, "write a network as ADDRESS/LENGTH"));
	assert_true(fx_has(f, 21, "unknown region 'nowhere' in "
			   "overrides.networks"));
	assert_true(fx_has(f, 22, "not a valid IPv4 or IPv6 address"));
	assert_int_equal(diag_errors(f->d), 7);
}

static void test_country_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "overrides:\n  countries:\n"
		   "    ZZ: a\n"                                // 15
		   "    BRA: a\n"                               // 16
		   "    br: a\n"                                // 17
		   "    BR: b\n"                                // 18
		   "    AU: nowhere\n", 15,                     // 19
		   "unknown country code 'ZZ'");
	assert_true(fx_has(f, 16, "'BRA' in overrides.countries is not a "
			   "two-letter"));
	assert_true(fx_has(f, 18, "country BR is listed twice in "
			   "overrides.countries (first at line 17)"));
	assert_true(fx_has(f, 19, "unknown region 'nowhere'"));
	assert_int_equal(diag_errors(f->d), 4);
}

/* ---- shed ----------------------------------------------------------------- */

static void test_shed_to_itself(void **state)
{
	fx_refused(state, BASE "shed:\n  a: {to: a, percent: 5}\n", 14,
		   "region 'a' cannot shed to itself");
}

static void test_shed_unknown_regions(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "shed:\n"
		   "  a: {to: zz, percent: 5}\n"                // 14
		   "  yy: {to: a, percent: 5}\n", 14,           // 15
		   "unknown region 'zz' in the shed of region 'a' "
		   "(regions: a, b)");
	assert_true(fx_has(f, 15, "unknown region 'yy' in 'shed'"));
}

static void test_shed_twice(void **state)
{
	fx_refused(state, BASE "shed:\n"
		   "  a: {to: b, percent: 5}\n"                 // 14
		   "  a: {to: b, percent: 6}\n", 15,            // 15
		   "'a' appears twice in 'shed' (first at line 14)");
}

static void test_shed_missing_keys(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "shed:\n"
		   "  a: {to: b}\n"                             // 14
		   "  b:\n    percent: 5\n", 14,                // 15-16
		   "missing required key 'percent' in the shed of region 'a'");
	assert_true(fx_has(f, 16, "missing required key 'to'"));
}

static void test_shed_percent_errors(void **state)
{
	static const struct { const char *text; const char *why; } bad[] = {
		{ "12.345", "has more than two decimals" },
		{ "0.001", "has more than two decimals" },
		{ "-1", "is outside 0-100" },
		{ "101", "is outside 0-100" },
		{ "100.01", "is outside 0-100" },
		{ "abc", "is not a number" },
		{ "1e2", "is not a number" },
		{ "5.", "is not a number" },
		{ "\"\"", "is not a number" },
	};
	struct fx *f = *state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char yaml[1024];
		snprintf(yaml, sizeof(yaml), BASE "shed:\n  a:\n    to: b\n"
			 "    percent: %s\n", bad[i].text);
		diag_free(f->d);
		f->d = diag_new();
		fx_refused(state, yaml, 16, bad[i].why);
	}
}

/* ---- scalars ---------------------------------------------------------------- */

static void test_shed_key_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "shed_key: \"0011\"\n", 13,
		   "'shed_key' must be exactly 32 hex digits");
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE
		   "shed_key: \"000102030405060708090a0b0c0d0e0g\"\n", 13,
		   "'shed_key' must be exactly 32 hex digits");
}

static void test_cookie_secrets(void **state)
{
	struct fx *f = *state;
	struct config *cfg = fx_accepted(state, BASE
		"cookie_secret: \"E5E973E5A6B2A43F48E7DC849E37BFCF\"\n"
		"cookie_secret_previous: \"dd3bdf9344b678b185a6f5cb60fca715\"\n");
	assert_true(cfg->cookie_secret_set);
	assert_int_equal(cfg->cookie_secret[0], 0xe5);
	assert_int_equal(cfg->cookie_secret[15], 0xcf);
	assert_true(cfg->cookie_secret_previous_set);
	assert_int_equal(cfg->cookie_secret_previous[0], 0xdd);
	assert_int_equal(cfg->cookie_secret_previous[15], 0x15);
	assert_int_equal(cfg->cookie_secret_previous_line, 14);
	config_free(f->cfg);
	f->cfg = NULL;
	diag_free(f->d);
	f->d = diag_new();
	cfg = fx_accepted(state, BASE
		"cookie_secret: \"e5e973e5a6b2a43f48e7dc849e37bfcf\"\n");
	assert_false(cfg->cookie_secret_previous_set);
}

static void test_cookie_secret_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "cookie_secret: \"e5e973e5a6b2a43f\"\n", 13,
		   "'cookie_secret' must be exactly 32 hex digits");
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE
		   "cookie_secret: \"e5e973e5a6b2a43f48e7dc849e37bfcx\"\n", 13,
		   "'cookie_secret' must be exactly 32 hex digits");
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE "cookie_secret: [1]\n", 13,
		   "'cookie_secret' must be a single value");
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE
		   "cookie_secret: \"e5e973e5a6b2a43f48e7dc849e37bfcf\"\n"
		   "cookie_secret_previous: \"dd3b\"\n", 14,
		   "'cookie_secret_previous' must be exactly 32 hex digits");
	diag_free(f->d);
	f->d = diag_new();
	// a second secret alone: new cookies would have none
	fx_refused(state, BASE
		   "cookie_secret_previous: \"dd3bdf9344b678b185a6f5cb60fca715\"\n",
		   13, "'cookie_secret_previous' is accepted only next to "
		   "'cookie_secret'");
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE
		   "cookie_secret: \"e5e973e5a6b2a43f48e7dc849e37bfcf\"\n"
		   "cookie_secret: \"e5e973e5a6b2a43f48e7dc849e37bfcf\"\n", 14,
		   "key 'cookie_secret' appears twice");
}

static void test_tcp_settings(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE
		   "tcp_idle_timeout: 0\n"                  // 13
		   "tcp_max_connections: 1.5\n"             // 14
		   "workers: 0\n", 13,                      // 15
		   "'tcp_idle_timeout' must be a whole number from 1 to");
	assert_true(fx_has(f, 14, "'tcp_max_connections' must be a whole "
			   "number from 1 to 1000000, not '1.5'"));
	assert_true(fx_has(f, 15, "'workers' must be a whole number from 1"));
	diag_free(f->d);
	f->d = diag_new();
	fx_refused(state, BASE "tcp_max_connections: -5\n"
		   "tcp_idle_timeout: 99999999999999999999999\n", 13,
		   "not '-5'");
	assert_true(fx_has(f, 14, "'tcp_idle_timeout' must be a whole number"));
}

static void test_ecs_not_bool(void **state)
{
	fx_refused(state, BASE "ecs: maybe\n", 13,
		   "'ecs' must be true or false, not 'maybe'");
}

/* ---- zones ------------------------------------------------------------------ */

static void test_regional_outside_zone(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "    regional:\n"
		   "      - www\n"                                  // 14
		   "      - www.example.org.\n"                     // 15
		   "      - \"bad..name\"\n"                        // 16
		   "      - example.com.\n", 15,                    // 17
		   "regional name 'www.example.org.' is outside zone "
		   "example.com.");
	assert_true(fx_has(f, 16, "regional name 'bad..name' is not a valid"));
	assert_int_equal(diag_errors(f->d), 2);
}

static void test_zone_errors(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE
		   "    ttl: 2147483648\n"                          // 13
		   "  - origin: EXAMPLE.com\n"                      // 14
		   "    file: other.zone\n"
		   "  - file: x.zone\n"                             // 16
		   "  - [a]\n", 13,                                 // 17
		   "'ttl' must be a whole number from 0 to 2147483647");
	assert_true(fx_has(f, 14, "zone example.com. is listed twice "
			   "(first at line 11)"));
	assert_true(fx_has(f, 16, "missing required key 'origin' in a zone"));
	assert_true(fx_has(f, 17, "each entry of 'zones' must be a mapping"));
}

static void test_zone_bad_origin(void **state)
{
	struct fx *f = *state;
	fx_refused(state, "listen: [127.0.0.1:53]\ngeoip: g\n"
		   "regions: {a: {vips: [192.0.2.1]}}\ndefault_region: a\n"
		   "zones:\n  - origin: \"a..b\"\n    regional: [www]\n", 6,
		   "zone origin 'a..b' is not a valid domain name");
	assert_true(fx_has(f, 6, "missing required key 'file' in a zone"));
	assert_int_equal(diag_errors(f->d), 2);
}

/* Every error is reported, not only the first. */
static void test_reports_all(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "workers: x\necs: 2\nbogus: 1\n"
		   "shed_key: z\n", 13, "'workers'");
	assert_true(fx_has(f, 14, "'ecs'"));
	assert_true(fx_has(f, 15, "unknown key 'bogus'"));
	assert_true(fx_has(f, 16, "'shed_key'"));
	assert_int_equal(diag_errors(f->d), 4);
}

/* ---- limits and traps (issues 10 and 13) ------------------------------ */

static void test_alias_refused(void **state)
{
	// each use of an alias would be walked (and allocated) again
	fx_refused(state, BASE "rrl: &r\n  slip: 3\nx: *r\n", 13,
		   "YAML aliases are not supported");
	fx_refused(state, "listen: [127.0.0.1:53]\nregions: { a: *nowhere }\n",
		   2, "YAML aliases are not supported");
}

static void test_nesting_limit(void **state)
{
	char yaml[4096];
	int n = snprintf(yaml, sizeof(yaml), BASE "workers: ");
	for (int i = 0; i < 40; i++)
		yaml[n++] = '[';
	for (int i = 0; i < 40; i++)
		yaml[n++] = ']';
	snprintf(yaml + n, sizeof(yaml) - (size_t)n, "\n");
	fx_refused(state, yaml, 13, "nest deeper than 32 levels");
}

static void test_nul_byte(void **state)
{
	struct fx *f = *state;
	static const char yaml[] = BASE "workers: 2\0\n";
	// the NUL sits on line 13; libyaml alone would stop or say line 1
	assert_null(config_load_text(yaml, sizeof(yaml) - 1, f->path, f->d));
	assert_true(fx_has(f, 13, "a NUL byte"));
}

static void test_size_limit(void **state)
{
	struct fx *f = *state;
	size_t len = 16u * 1024 * 1024 + 1;
	char *yaml = malloc(len);
	assert_non_null(yaml);
	memset(yaml, '#', len);
	yaml[len - 1] = '\n';
	assert_null(config_load_text(yaml, len, f->path, f->d));
	free(yaml);
	assert_true(fx_has(f, 0, "larger than 16 MiB"));
}

static void test_exempt_limit(void **state)
{
	size_t cap = 64 + 20 * (CONFIG_MAX_EXEMPT + 1);
	char *yaml = malloc(sizeof(BASE) + cap);
	assert_non_null(yaml);
	int n = sprintf(yaml, BASE "rrl:\n  exempt:\n");
	for (unsigned i = 0; i <= CONFIG_MAX_EXEMPT; i++)
		n += sprintf(yaml + n, "  - 10.%u.%u.0/24\n", i / 256, i % 256);
	fx_refused(state, yaml, 15, "'rrl.exempt' lists more than 10000");
	free(yaml);
}

/* CPU seconds to load n network overrides (one repeated at the end). */
static double fx_networks_seconds(struct fx *f, unsigned n)
{
	char *yaml = malloc(sizeof(BASE) + 64 + 32 * (size_t)(n + 1));
	assert_non_null(yaml);
	int len = sprintf(yaml, BASE "overrides:\n  networks:\n");
	for (unsigned i = 0; i < n; i++)
		len += sprintf(yaml + len, "    10.%u.%u.0/24: b\n", i / 256,
			       i % 256);
	// the same network written another way: found by the sorted check
	len += sprintf(yaml + len, "    010.0.1.0/24: b\n");
	config_free(f->cfg);
	diag_free(f->d);
	f->d = diag_new();
	clock_t t0 = clock();
	f->cfg = config_load_text(yaml, (size_t)len, f->path, f->d);
	double s = (double)(clock() - t0) / CLOCKS_PER_SEC;
	free(yaml);
	// inet_pton refuses 010.0.1.0, so the extra line is a syntax error
	// in the network, not a repeat: either way the load is refused
	assert_null(f->cfg);
	return s;
}

static void test_duplicates_not_quadratic(void **state)
{
	struct fx *f = *state;
	double small = fx_networks_seconds(f, 8000);
	double large = fx_networks_seconds(f, 32000);
	// 4x the entries: about 4x the time when sorted, 16x when each
	// entry is compared with every earlier one (CPU time, so the
	// machine's load does not matter; valgrind slows both alike)
	print_message("8,000 networks %.3f s, 32,000 %.3f s\n", small, large);
	assert_true(large < 10 * (small > 0.001 ? small : 0.001));
}

static void test_repeats_found_sorted(void **state)
{
	struct fx *f = *state;
	fx_refused(state, BASE "overrides:\n  networks:\n"
		   "    10.0.0.0/8: a\n    192.0.2.0/24: b\n"
		   "    10.0.0.0/08: b\n", 17,
		   "network '10.0.0.0/08' is listed twice in overrides.networks "
		   "(first at line 15)");
	assert_int_equal(diag_errors(f->d), 1);
	config_free(f->cfg);
	diag_free(f->d);
	f->d = diag_new();
	struct config *cfg = fx_accepted(state, BASE
		"    regional: [www, mail, WWW, www.example.com., mail]\n");
	assert_int_equal(cfg->zones[0].regional_count, 2);
	assert_string_equal(cfg->zones[0].regional[0].text, "www");
	assert_string_equal(cfg->zones[0].regional[1].text, "mail");
	assert_int_equal(diag_warnings(f->d), 3);
	assert_true(fx_has(f, 13, "regional name 'WWW' is listed twice"));
}

static void test_regional_without_final_dot(void **state)
{
	struct fx *f = *state;
	fx_accepted(state, BASE "    regional: [www.example.com, a.b, "
		    "example.com, www.example.com.]\n");
	assert_true(fx_has(f, 13, "warning: regional name 'www.example.com' "
			   "has no final dot, so it means "
			   "www.example.com.example.com.; write "
			   "'www.example.com.' for the name itself"));
	assert_true(fx_has(f, 13, "regional name 'example.com' has no final"));
	assert_int_equal(diag_warnings(f->d), 2);
}

static void test_shed_into_drained(void **state)
{
	struct fx *f = *state;
	fx_accepted(state, BASE "shed:\n"
		    "  a: { to: b, percent: 10 }\n"
		    "  b: { to: a, percent: 100 }\n");
	assert_true(fx_has(f, 14, "warning: region 'a' sheds to region 'b', "
			   "which itself sheds 100% to 'a'"));
	assert_int_equal(diag_warnings(f->d), 1);
}

static void test_yaml_hints(void **state)
{
	fx_refused(state, "listen: [[::1]:53]\n", 1,
		   "quote IPv6 listen addresses: \"[::1]:53\"");
	fx_refused(state, "listen:\n\t- 127.0.0.1:53\n", 2,
		   "this line has a tab: YAML indents with spaces only");
}

static void test_user_root(void **state)
{
	struct fx *f = *state;
	assert_non_null(fx_load(f, BASE "user: root\n"));
	assert_int_equal(config_check_system(f->cfg, f->d), -1);
	assert_true(fx_has(f, 13, "user 'root' has uid 0"));
	config_free(f->cfg);
	f->cfg = NULL;
	assert_non_null(fx_load(f, BASE "user: nobody\n"));
	assert_int_equal(config_check_system(f->cfg, f->d), 0);
}

#define FX(t) cmocka_unit_test_setup_teardown(t, fx_setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_spec_example),
		cmocka_unit_test(test_defaults),
		FX(test_relative_paths),
		FX(test_rrl_and_user),
		FX(test_rrl_and_user_errors),
		FX(test_secondary),
		FX(test_secondary_errors),
		FX(test_dnssec_nsec3),
		FX(test_dnssec_nsec3_errors),
		FX(test_scalar_forms),
		FX(test_shed_percent_values),
		cmocka_unit_test(test_continent_codes),
		FX(test_cannot_read),
		FX(test_cannot_read_directory),
		FX(test_yaml_syntax),
		FX(test_second_document),
		FX(test_root_not_mapping),
		FX(test_missing_required),
		FX(test_unknown_key_top),
		FX(test_unknown_key_nested),
		FX(test_unknown_key_region),
		FX(test_health_keys),
		FX(test_health_defaults),
		FX(test_health_bad),
		FX(test_duplicate_key),
		FX(test_wrong_types),
		FX(test_wrong_types_top),
		FX(test_empty_value),
		FX(test_listen_errors),
		FX(test_listen_empty),
		FX(test_bad_continent),
		FX(test_continent_twice),
		FX(test_region_no_vips),
		FX(test_services),
		FX(test_services_only),
		FX(test_services_errors),
		FX(test_services_none_defined),
		FX(test_services_limits),
		FX(test_bad_vip),
		FX(test_region_duplicate_and_type),
		FX(test_unknown_default_region),
		FX(test_network_errors),
		FX(test_country_errors),
		FX(test_shed_to_itself),
		FX(test_shed_unknown_regions),
		FX(test_shed_twice),
		FX(test_shed_missing_keys),
		FX(test_shed_percent_errors),
		FX(test_shed_key_errors),
		FX(test_cookie_secrets),
		FX(test_cookie_secret_errors),
		FX(test_tcp_settings),
		FX(test_ecs_not_bool),
		FX(test_regional_outside_zone),
		FX(test_zone_errors),
		FX(test_zone_bad_origin),
		FX(test_reports_all),
		FX(test_alias_refused),
		FX(test_nesting_limit),
		FX(test_nul_byte),
		FX(test_size_limit),
		FX(test_exempt_limit),
		FX(test_duplicates_not_quadratic),
		FX(test_repeats_found_sorted),
		FX(test_regional_without_final_dot),
		FX(test_shed_into_drained),
		FX(test_yaml_hints),
		FX(test_user_root),
	};
	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
