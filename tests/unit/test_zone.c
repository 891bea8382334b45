/*
 * tests/unit/test_zone.c — zone.c: loading master files (with $ORIGIN,
 * $TTL, $INCLUDE), the node/RRset structure, longest-zone match, and every
 * error and warning with its exact "FILE:LINE: " prefix.
 */
#include "autoconf.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"
#include "diag.h"
#include "dname.h"
#include "zone.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif
#define ZDIR FIXTURES "/zone"
#define CFG "geovip.yaml"

enum { T_A = 1, T_NS = 2, T_CNAME = 5, T_SOA = 6, T_MX = 15, T_TXT = 16 };

/* A config built by hand: config.c is not under test here. */
struct test_cfg {
	struct config cfg;
	struct config_zone zones[5];
	struct config_regional_name regional[5][6];
};

static void cfg_zone(struct test_cfg *t, const char *origin,
		     const char *file, unsigned line, const char **regional,
		     size_t nregional)
{
	struct config_zone *z = &t->zones[t->cfg.zone_count];
	z->origin_text = (char *)origin;
	z->origin_len = dname_from_text(z->origin, origin, NULL);
	assert_true(z->origin_len > 0);
	z->file = (char *)file;
	z->ttl = 30;
	z->line = line;
	z->regional = t->regional[t->cfg.zone_count];
	for (size_t i = 0; i < nregional; i++) {
		struct config_regional_name *r = &z->regional[i];
		r->text = (char *)regional[i];
		r->name_len = dname_from_text(r->name, regional[i], z->origin);
		assert_true(r->name_len > 0);
		r->line = line + 3 + (unsigned)i;
	}
	z->regional_count = nregional;
	t->cfg.zone_count++;
}

static void cfg_init(struct test_cfg *t)
{
	memset(t, 0, sizeof(*t));
	t->cfg.path = CFG;
	t->cfg.zones = t->zones;
}

static const char *example_regional[] = { "@", "www", "api", "*.edge" };

static void cfg_example(struct test_cfg *t)
{
	cfg_init(t);
	cfg_zone(t, "example.com.", ZDIR "/example.com.zone", 10,
		 example_regional, 4);
}

static bool diag_has(const struct diag *d, const char *prefix,
		     const char *text)
{
	for (size_t i = 0; i < diag_count(d); i++) {
		const char *m = diag_message(d, i);
		if (strncmp(m, prefix, strlen(prefix)) == 0 &&
		    strstr(m + strlen(prefix), text) != NULL)
			return true;
	}
	return false;
}

static void diag_dump(const struct diag *d)
{
	diag_print(d, stderr);
}

static const struct zone_node *node(const struct zone *z, const char *name)
{
	uint8_t wire[DNAME_MAX];
	assert_true(dname_from_text(wire, name, NULL) > 0);
	return zone_find_node(z, wire);
}

static const struct zone *find(const struct zone_set *zs, const char *name)
{
	uint8_t wire[DNAME_MAX];
	size_t len = 0;
	// keep the case as written: zone_set_find must not depend on it
	const char *s = name;
	while (*s != '\0') {
		const char *dot = strchr(s, '.');
		wire[len++] = (uint8_t)(dot - s);
		memcpy(wire + len, s, (size_t)(dot - s));
		len += (size_t)(dot - s);
		s = dot + 1;
	}
	wire[len] = 0;
	return zone_set_find(zs, wire);
}

static struct zone_set *load_example(struct diag **d)
{
	struct test_cfg t;
	cfg_example(&t);
	*d = diag_new();
	struct zone_set *zs = zone_set_load(&t.cfg, *d);
	if (zs == NULL)
		diag_dump(*d);
	assert_non_null(zs);
	return zs;
}

static void test_structure(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_example(&d);
	assert_int_equal(zone_set_zone_count(zs), 1);
	const struct zone *z = zone_set_zone(zs, 0);
	assert_null(zone_set_zone(zs, 1));

	assert_int_equal(z->node_count, 26);
	assert_int_equal(z->record_count, 19);
	assert_int_equal(zone_set_record_count(zs), 19);
	assert_int_equal(z->origin_labels, 2);
	assert_int_equal(z->origin_len, 13);
	assert_memory_equal(z->origin, "\7example\3com", 13);
	assert_ptr_equal(z->apex, node(z, "example.com."));
	assert_true(z->apex->flags & ZONE_NODE_APEX);
	assert_true(z->apex->flags & ZONE_NODE_REGIONAL);
	assert_int_equal(z->negative_ttl, 300);
	assert_int_equal(z->regional_ttl, 30);

	// apex RRsets sorted by type: NS(2) SOA(6) MX(15)
	assert_int_equal(z->apex->rrset_count, 3);
	assert_int_equal(z->apex->rrsets[0].type, T_NS);
	assert_int_equal(z->apex->rrsets[1].type, T_SOA);
	assert_int_equal(z->apex->rrsets[2].type, T_MX);
	assert_ptr_equal(z->soa, zone_node_rrset(z->apex, T_SOA));
	assert_null(zone_node_rrset(z->apex, T_A));

	const struct zone_rrset *ns = zone_node_rrset(z->apex, T_NS);
	assert_int_equal(ns->count, 2);
	assert_int_equal(ns->ttl, 3600);
	static const uint8_t ns_rdata[] =
		"\0\021\3ns1\7example\3com\0"
		"\0\021\3ns2\7example\3com";
	assert_int_equal(ns->rdata_len, sizeof(ns_rdata));
	assert_memory_equal(ns->rdata, ns_rdata, sizeof(ns_rdata));

	const struct zone_rrset *mx = zone_node_rrset(z->apex, T_MX);
	static const uint8_t mx_rdata[] = "\0\024\0\12\4mail\7example\3com";
	assert_int_equal(mx->rdata_len, sizeof(mx_rdata));
	assert_memory_equal(mx->rdata, mx_rdata, sizeof(mx_rdata));

	// SOA names lower-cased; serial..minimum as written
	const struct zone_rrset *soa = z->soa;
	assert_int_equal(soa->count, 1);
	static const uint8_t soa_rdata[] = {
		0x00, 0x3d, 3, 'n', 's', '1', 7, 'e', 'x', 'a', 'm', 'p', 'l',
		'e', 3, 'c', 'o', 'm', 0, 10, 'h', 'o', 's', 't', 'm', 'a',
		's', 't', 'e', 'r', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
		'c', 'o', 'm', 0,
		0x78, 0xa3, 0xf1, 0x75, 0x00, 0x00, 0x1c, 0x20, 0x00, 0x00,
		0x0e, 0x10, 0x00, 0x12, 0x75, 0x00, 0x00, 0x00, 0x01, 0x2c };
	assert_int_equal(soa->rdata_len, sizeof(soa_rdata));
	assert_memory_equal(soa->rdata, soa_rdata, sizeof(soa_rdata));
	assert_int_equal(soa->ttl, 3600);

	diag_free(d);
	zone_set_free(zs);
}

static void test_names_and_case(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_example(&d);
	const struct zone *z = zone_set_zone(zs, 0);

	// TXT keeps its case, the owner does not
	const struct zone_node *n = node(z, "deep.chain.of.labels.example.com.");
	assert_non_null(n);
	assert_int_equal(n->labels, 6);
	const struct zone_rrset *txt = zone_node_rrset(n, T_TXT);
	assert_non_null(txt);
	assert_int_equal(txt->rdata_len, 13);
	assert_memory_equal(txt->rdata, "\0\13\12MiXeD Case", 13);

	// empty non-terminals up to the apex
	const char *ents[] = { "chain.of.labels.example.com.",
			       "of.labels.example.com.", "labels.example.com.",
			       "static.example.com.", "lab.example.com.",
			       "edge.example.com." };
	for (size_t i = 0; i < sizeof(ents) / sizeof(ents[0]); i++) {
		n = node(z, ents[i]);
		assert_non_null(n);
		assert_int_equal(n->rrset_count, 0);
		assert_int_equal(n->flags, 0);
	}
	assert_null(node(z, "nothere.example.com."));
	assert_null(node(z, "com."));

	// a mixed-case name in a lookup is not canonical: not found
	static const uint8_t upper[] = "\3WWW\7example\3com";
	assert_null(zone_find_node(z, upper));

	// the wildcard is an ordinary node whose first label is '*'
	n = node(z, "*.static.example.com.");
	assert_non_null(n);
	assert_non_null(zone_node_rrset(n, T_TXT));

	// CNAME target lower-cased
	n = node(z, "shop.example.com.");
	const struct zone_rrset *cname = zone_node_rrset(n, T_CNAME);
	assert_non_null(cname);
	assert_memory_equal(cname->rdata, "\0\021\3www\7example\3com", 19);

	// duplicate ns1 A at line 25 dropped
	n = node(z, "ns1.example.com.");
	assert_int_equal(zone_node_rrset(n, T_A)->count, 1);
	assert_memory_equal(zone_node_rrset(n, T_A)->rdata,
			    "\0\4\300\0\2\1", 6);
	diag_free(d);
	zone_set_free(zs);
}

static void test_delegation_and_regional(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_example(&d);
	const struct zone *z = zone_set_zone(zs, 0);

	const struct zone_node *n = node(z, "sub.example.com.");
	assert_non_null(n);
	assert_true(n->flags & ZONE_NODE_DELEGATION);
	assert_false(z->apex->flags & ZONE_NODE_DELEGATION);
	n = node(z, "ns.sub.example.com.");
	assert_non_null(n);
	assert_int_equal(n->flags, 0);

	// regional with records in the file, and without
	n = node(z, "www.example.com.");
	assert_int_equal(n->flags, ZONE_NODE_REGIONAL);
	assert_int_equal(zone_node_rrset(n, T_A)->ttl, 600);
	n = node(z, "api.example.com.");
	assert_non_null(n);
	assert_int_equal(n->flags, ZONE_NODE_REGIONAL);
	assert_int_equal(n->rrset_count, 0);
	n = node(z, "*.edge.example.com.");
	assert_non_null(n);
	assert_int_equal(n->flags, ZONE_NODE_REGIONAL);
	assert_int_equal(n->labels, 4);
	assert_false(node(z, "shop.example.com.")->flags & ZONE_NODE_REGIONAL);

	// warnings, and nothing else
	assert_int_equal(diag_errors(d), 0);
	assert_int_equal(diag_warnings(d), 2);
	assert_true(diag_has(d, ZDIR "/example.com.zone:12: warning: ",
			     "A record at regional name 'www' is superseded by the regional answer"));
	assert_true(diag_has(d, ZDIR "/example.com.zone:20: warning: ",
			     "TTL 3600 differs from TTL 300 of the other 'host.lab.example.com.' A records; using the lowest"));
	const struct zone_rrset *a = zone_node_rrset(
		node(z, "host.lab.example.com."), T_A);
	assert_int_equal(a->count, 2);
	assert_int_equal(a->ttl, 300);
	diag_free(d);
	zone_set_free(zs);
}

static void test_directives(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_example(&d);
	const struct zone *z = zone_set_zone(zs, 0);

	// $ORIGIN Lab.Example.COM. then $INCLUDE inherits it; the
	// include's own $ORIGIN does not leak back
	assert_non_null(node(z, "host.lab.example.com."));
	assert_non_null(node(z, "db.lab.example.com."));
	assert_non_null(node(z, "x.deeper.lab.example.com."));
	assert_non_null(node(z, "after.lab.example.com."));
	assert_null(node(z, "after.deeper.lab.example.com."));
	// $INCLUDE with an origin argument, relative to the current one
	assert_non_null(node(z, "db.other.example.com."));
	assert_non_null(node(z, "x.deeper.other.example.com."));
	assert_int_equal(node(z, "deeper.other.example.com.")->rrset_count, 0);
	// $TTL 3600 applies where no TTL is written
	assert_int_equal(zone_node_rrset(node(z, "db.other.example.com."),
					 T_A)->ttl, 3600);
	diag_free(d);
	zone_set_free(zs);
}

static void test_longest_zone(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_example(&t);
	cfg_zone(&t, "sub.example.com.", ZDIR "/sub.example.com.zone", 20,
		 NULL, 0);
	struct diag *d = diag_new();
	struct zone_set *zs = zone_set_load(&t.cfg, d);
	if (zs == NULL)
		diag_dump(d);
	assert_non_null(zs);
	assert_int_equal(zone_set_zone_count(zs), 2);
	assert_int_equal(zone_set_record_count(zs), 19 + 3);
	const struct zone *parent = zone_set_zone(zs, 0);
	const struct zone *child = zone_set_zone(zs, 1);
	assert_int_equal(child->negative_ttl, 60);
	assert_int_equal(child->node_count, 2);

	assert_ptr_equal(find(zs, "example.com."), parent);
	assert_ptr_equal(find(zs, "www.Example.COM."), parent);
	assert_ptr_equal(find(zs, "a.b.c.d.e.f.example.com."), parent);
	assert_ptr_equal(find(zs, "sub.example.com."), child);
	assert_ptr_equal(find(zs, "WWW.Sub.Example.Com."), child);
	assert_ptr_equal(find(zs, "x.y.sub.example.com."), child);
	assert_ptr_equal(find(zs, "xsub.example.com."), parent);
	assert_null(find(zs, "com."));
	assert_null(find(zs, "example.net."));
	assert_null(zone_set_find(zs, (const uint8_t *)""));
	diag_free(d);
	zone_set_free(zs);
}

static void test_errors(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_init(&t);
	cfg_zone(&t, "example.org.", ZDIR "/errors/errors.zone", 5, NULL, 0);
	struct diag *d = diag_new();
	assert_null(zone_set_load(&t.cfg, d));
	diag_dump(d);
	const char *f = ZDIR "/errors/errors.zone:";
	char p[512];
#define HAS(line, text) \
	(snprintf(p, sizeof(p), "%s%d: ", f, line), diag_has(d, p, text))
	// the message names the bad token (issue 10)
	assert_true(HAS(5, "'999.1.1.1' is not an IPv4 address in A rdata"));
	assert_true(HAS(6, "class CH is not served"));
	assert_true(HAS(7, "'out.example.net.' is outside the zone 'example.org.'"));
	assert_true(HAS(8, "'both.example.org.' has a CNAME and other data (TXT at "));
	assert_true(HAS(11, "warning: TTL 60 differs from TTL 3600"));
	assert_true(HAS(12, "$INCLUDE " ZDIR "/errors/../example.com.zone is outside the zone's directory"));
	assert_true(HAS(13, "unknown directive '$FOO'"));
	assert_true(HAS(14, "$INCLUDE " ZDIR "/errors/missing.inc: cannot open: No such file or directory"));
	assert_true(HAS(15, "SOA record at 'sub2.example.org.', which is not the zone apex"));
	assert_true(HAS(16, "more than one SOA record at 'example.org.'"));
#undef HAS
	assert_int_equal(diag_errors(d), 9);
	assert_int_equal(diag_warnings(d), 1);
	diag_free(d);
}

static void test_file_errors(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_init(&t);
	cfg_zone(&t, "example.org.", ZDIR "/errors/nosoa.zone", 5, NULL, 0);
	cfg_zone(&t, "example.net.", ZDIR "/no-such.zone", 9, NULL, 0);
	cfg_zone(&t, "loop.", ZDIR "/loop/loop.zone", 14, NULL, 0);
	cfg_zone(&t, "inc.", ZDIR "/errors/incerr.zone", 20, NULL, 0);
	struct diag *d = diag_new();
	assert_null(zone_set_load(&t.cfg, d));
	diag_dump(d);
	assert_true(diag_has(d, ZDIR "/errors/nosoa.zone: ",
			     "no SOA record at the zone apex 'example.org.'"));
	assert_true(diag_has(d, CFG ":9: ", ZDIR
			     "/no-such.zone: cannot open: No such file or directory"));
	assert_true(diag_has(d, ZDIR "/loop/loop.zone:1: ",
			     "$INCLUDE nested more than 8 deep"));
	// an error inside an included file names that file and its line
	assert_true(diag_has(d, ZDIR "/errors/sub/bad.inc:5: ",
			     "'1.2.3.4.5' is not an IPv4 address in A rdata"));
	diag_free(d);
}

static void test_cut_in_a_quote(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_init(&t);
	cfg_zone(&t, "example.org.", ZDIR "/errors/cut.zone", 5, NULL, 0);
	struct diag *d = diag_new();
	assert_null(zone_set_load(&t.cfg, d));
	diag_dump(d);
	// line 7 has an escaped quote and one in a comment: both fine
	assert_true(diag_has(d, ZDIR "/errors/cut.zone:8: ",
			     "unterminated quoted string"));
	assert_int_equal(diag_errors(d), 1);
	diag_free(d);
}

static void test_regional_errors(void **state)
{
	(void)state;
	struct test_cfg t;
	// a regional name outside its zone is config.c's to refuse
	const char *regional[] = { "www", "shop", "www", "ns.sub" };
	cfg_init(&t);
	cfg_zone(&t, "example.com.", ZDIR "/example.com.zone", 10,
		 regional, 4);
	struct diag *d = diag_new();
	assert_null(zone_set_load(&t.cfg, d));
	diag_dump(d);
	// regional lines are zone line + 3 + index
	assert_true(diag_has(d, CFG ":14: ", "regional name 'shop' has a CNAME in "
			     ZDIR "/example.com.zone:13; remove one of them"));
	assert_true(diag_has(d, CFG ":16: warning: ",
			     "regional name 'ns.sub' is at or below the delegation 'sub.example.com.'"));
	assert_int_equal(diag_errors(d), 1);
	diag_free(d);
}

static void test_empty_set(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_init(&t);
	struct diag *d = diag_new();
	struct zone_set *zs = zone_set_load(&t.cfg, d);
	assert_non_null(zs);
	assert_int_equal(zone_set_zone_count(zs), 0);
	assert_null(find(zs, "example.com."));
	assert_null(zone_set_find(zs, (const uint8_t *)""));
	zone_set_free(zs);
	zone_set_free(NULL);
	diag_free(d);
}

/* The shipped example zone loads cleanly with the shipped regional set. */
static void test_shipped_zone(void **state)
{
	(void)state;
	struct test_cfg t;
	cfg_init(&t);
	cfg_zone(&t, "example.com.", TOP_SRCDIR "/zones/example.com.zone", 10,
		 example_regional, 4);
	struct diag *d = diag_new();
	struct zone_set *zs = zone_set_load(&t.cfg, d);
	diag_dump(d);
	assert_non_null(zs);
	assert_int_equal(diag_count(d), 0);
	const struct zone *z = zone_set_zone(zs, 0);
	assert_non_null(node(z, "shop.example.com."));
	assert_true(node(z, "sub.example.com.")->flags & ZONE_NODE_DELEGATION);
	assert_non_null(node(z, "*.static.example.com."));
	zone_set_free(zs);
	diag_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_names_and_case),
		cmocka_unit_test(test_delegation_and_regional),
		cmocka_unit_test(test_directives),
		cmocka_unit_test(test_longest_zone),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_cut_in_a_quote),
		cmocka_unit_test(test_regional_errors),
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_shipped_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
