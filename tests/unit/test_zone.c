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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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

/*
 * Many zones: siblings differing only in their first or last label, and
 * more origins than zone_set_find's slots, so that some share a slot
 * (looked up by hash) and others have one alone (compared directly).
 */
static void test_many_zones(void **state)
{
	(void)state;
	enum { N = 200 };
	static struct config_zone zones[N];
	static char origins[N][64];
	struct config cfg = {.path = CFG, .zones = zones};
	memset(zones, 0, sizeof(zones));
	for (unsigned i = 0; i < N; i++) {
		// z0.example.com. z1.example.net. ... a0.z1.example.com. ...
		const char *tld[] = {"com", "net", "org", "comx"};
		if (i < N / 2)
			snprintf(origins[i], sizeof(origins[i]), "z%u.example.%s.",
				 i / 4, tld[i % 4]);
		else
			snprintf(origins[i], sizeof(origins[i]),
				 "a%u.z%u.example.%s.", i, (i - N / 2) / 4,
				 tld[i % 4]);
		struct config_zone *z = &zones[i];
		z->origin_text = origins[i];
		z->origin_len = dname_from_text(z->origin, origins[i], NULL);
		assert_true(z->origin_len > 0);
		z->file = (char *)ZDIR "/any/any.zone";
		z->ttl = 30;
		z->line = i + 1;
	}
	cfg.zone_count = N;
	struct diag *d = diag_new();
	struct zone_set *zs = zone_set_load(&cfg, d);
	if (zs == NULL)
		diag_dump(d);
	assert_non_null(zs);
	assert_int_equal(zone_set_zone_count(zs), N);
	for (unsigned i = 0; i < N; i++) {
		char name[128];
		const struct zone *z = zone_set_zone(zs, i);
		assert_ptr_equal(find(zs, origins[i]), z);
		snprintf(name, sizeof(name), "x.y.%s", origins[i]);
		assert_ptr_equal(find(zs, name), z);
		snprintf(name, sizeof(name), "ns.%s", origins[i]);
		assert_ptr_equal(find(zs, name), z);
	}
	// below a parent zone but no child: the parent; no zone at all: NULL
	assert_ptr_equal(find(zs, "b1.z1.example.net."), zone_set_zone(zs, 5));
	assert_ptr_equal(find(zs, "b1.z1.example.comx."),
			 zone_set_zone(zs, 7));
	assert_null(find(zs, "example.com."));
	assert_null(find(zs, "z0.example.edu."));
	assert_null(find(zs, "z99.example.com."));
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

/* ---- hostile input (issue 13): zone files written at run time ---------- */

static char tmpdir[64];

static void tmp_cleanup(void)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

/* The path of name in a private directory made once per run. */
static const char *tmp_path(const char *name)
{
	static char path[256];
	if (tmpdir[0] == '\0') {
		snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_zone.XXXXXX");
		assert_non_null(mkdtemp(tmpdir));
		atexit(tmp_cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	return path;
}

static void tmp_write(const char *name, const char *text, size_t len)
{
	FILE *f = fopen(tmp_path(name), "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static const char soa[] = "@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";

/* Loads text (after an SOA, NS and ns A) as zone example.org. */
static struct zone_set *load_text(const char *text, size_t len,
				  struct diag **d)
{
	static char file[256];
	struct test_cfg t;
	char *all = malloc(sizeof(soa) + len);
	assert_non_null(all);
	memcpy(all, soa, sizeof(soa) - 1);
	memcpy(all + sizeof(soa) - 1, text, len);
	tmp_write("z.zone", all, sizeof(soa) - 1 + len);
	free(all);
	snprintf(file, sizeof(file), "%s", tmp_path("z.zone"));
	cfg_init(&t);
	cfg_zone(&t, "example.org.", file, 5, NULL, 0);
	*d = diag_new();
	struct zone_set *zs = zone_set_load(&t.cfg, *d);
	diag_dump(*d);
	return zs;
}

static struct zone_set *load_str(const char *text, struct diag **d)
{
	return load_text(text, strlen(text), d);
}

/* "FILE:LINE: " of the test zone. */
static const char *at(unsigned line)
{
	static char p[300];
	snprintf(p, sizeof(p), "%s:%u: ", tmp_path("z.zone"), line);
	return p;
}

static void test_long_names(void **state)
{
	(void)state;
	char text[2048], l63[64];
	memset(l63, 'a', 63);
	l63[63] = '\0';
	// 3 labels of 63 under example.org. is 205 bytes; 63 more is 269
	snprintf(text, sizeof(text),
		 "$ORIGIN %s.%s.%s.example.org.\n"
		 "%s A 192.0.2.1\n"
		 "x CNAME %s\n"
		 "y MX 10 %s\n"
		 "z SRV 1 1 1 %s\n"
		 "%s%s A 192.0.2.1\n",
		 l63, l63, l63, l63, l63, l63, l63, l63, "a");
	struct diag *d;
	assert_null(load_str(text, &d));
	assert_true(diag_has(d, at(5), "name longer than 255 bytes"));
	assert_true(diag_has(d, at(6), "name longer than 255 bytes"));
	assert_true(diag_has(d, at(7), "name longer than 255 bytes"));
	assert_true(diag_has(d, at(8), "name longer than 255 bytes"));
	assert_true(diag_has(d, at(9), "label longer than 63 bytes"));
	assert_int_equal(diag_errors(d), 5);
	diag_free(d);
}

/*
 * dname_scan_lower: dname_check's verdict, the name lower-cased, its
 * labels, and dname_hash of the lower-cased name, for every name length
 * (the word-wise copy and hash have a case for each length mod 8).
 */
static void test_scan_lower(void **state)
{
	uint8_t wire[DNAME_MAX + 16], out[DNAME_MAX], want[DNAME_MAX];
	for (size_t len = 1; len <= DNAME_MAX; len++) {
		if (len == 2)
			continue; // no name is 2 bytes long
		// labels of 1..20 bytes, mixed case and non-letters, then root
		size_t off = 0;
		unsigned labels = 0;
		while (off + 1 < len) {
			size_t r = len - 1 - off; // bytes left for labels
			size_t l = 1 + (off * 7 + len) % 20;
			if (l > r - 1)
				l = r - 1;
			if (r - (l + 1) == 1) // no room left for a label
				l = l > 1 ? l - 1 : l + 1;
			wire[off] = (uint8_t)l;
			for (size_t k = 1; k <= l; k++)
				wire[off + k] = (uint8_t)("AbZz@[`{09\xc1"[(off + k) % 11]);
			off += l + 1;
			labels++;
		}
		wire[off] = 0;
		assert_int_equal(off + 1, len);
		memset(wire + len, 'X', 16); // what follows must not count
		for (size_t k = 0; k < len; k++)
			want[k] = (wire[k] >= 'A' && wire[k] <= 'Z') ? wire[k] + 32
								  : wire[k];
		unsigned got_labels = 0;
		uint64_t hash = 0;
		assert_int_equal(dname_scan_lower(out, wire, len + 16, &got_labels,
						  &hash),
				 len);
		assert_int_equal(dname_check(wire, len + 16), len);
		assert_memory_equal(out, want, len);
		assert_int_equal(got_labels, labels);
		assert_true(hash == dname_hash(want, len));
		// cut short, or a label over 63: refused as dname_check does
		assert_int_equal(dname_scan_lower(out, wire, len - 1, &got_labels,
						  &hash),
				 0);
	}
	const uint8_t bad[] = {64, 'a'};
	unsigned l;
	uint64_t h;
	assert_int_equal(dname_scan_lower(out, bad, sizeof(bad), &l, &h), 0);
	const uint8_t ptr[] = {0xc0, 12};
	assert_int_equal(dname_scan_lower(out, ptr, sizeof(ptr), &l, &h), 0);
}

static void test_dname_to_text_bounded(void **state)
{
	(void)state;
	// not a valid name: 6 labels of 63 unprintable bytes (each \001,
	// four characters), 384 bytes with no root label in the first 255
	uint8_t bad[6 * 64 + 1];
	for (size_t i = 0; i < 6; i++) {
		bad[i * 64] = 63;
		memset(bad + i * 64 + 1, 1, 63);
	}
	bad[6 * 64] = 0;
	char out[DNAME_TEXT_MAX + 64];
	memset(out, 'G', sizeof(out));
	dname_to_text(out, bad);
	assert_true(strlen(out) < DNAME_TEXT_MAX);
	for (size_t i = DNAME_TEXT_MAX; i < sizeof(out); i++)
		assert_int_equal(out[i], 'G');
	assert_int_equal(dname_check(bad, sizeof(bad)), 0);
	assert_int_equal(dname_check((const uint8_t *)"\1a\0", 3), 3);
	assert_int_equal(dname_check((const uint8_t *)"\1a", 2), 0);
}

static void test_fifo(void **state)
{
	(void)state;
	// a FIFO with no writer: opening it blocking would hang the load
	alarm(20);
	assert_int_equal(mkfifo(tmp_path("fifo.inc"), 0600), 0);
	struct diag *d;
	assert_null(load_str("$INCLUDE fifo.inc\n", &d));
	assert_true(diag_has(d, at(4), "fifo.inc: cannot open: not a regular file"));
	diag_free(d);

	struct test_cfg t;
	static char fifo[256];
	snprintf(fifo, sizeof(fifo), "%s", tmp_path("fifo.inc"));
	cfg_init(&t);
	cfg_zone(&t, "example.org.", fifo, 7, NULL, 0);
	d = diag_new();
	assert_null(zone_set_load(&t.cfg, d));
	assert_true(diag_has(d, CFG ":7: ", "fifo.inc: cannot open: not a regular file"));
	diag_free(d);
	alarm(0);
}

static void test_include_and_error_caps(void **state)
{
	(void)state;
	tmp_write("one.inc", "; nothing\n", 10);
	size_t size = 300 * 20 + 1;
	char *text = calloc(1, size);
	assert_non_null(text);
	for (int i = 0; i < 300; i++)
		strcat(text, "$INCLUDE one.inc\n");
	struct diag *d;
	assert_null(load_str(text, &d));
	// the 257th $INCLUDE is on line 3 + 257
	assert_true(diag_has(d, at(260), "more than 256 $INCLUDEs in zone 'example.org.'"));
	assert_false(diag_has(d, at(259), "more than 256"));
	diag_free(d);

	// 150 bad records: 100 errors, then a line that says why it stopped
	text[0] = '\0';
	for (int i = 0; i < 150; i++)
		strcat(text, "x A 1\n");
	assert_null(load_str(text, &d));
	assert_int_equal(diag_errors(d), 101);
	assert_true(diag_has(d, at(103), "stopped after 100 errors in zone 'example.org.'"));
	free(text);
	diag_free(d);
}

static void test_record_too_long(void **state)
{
	(void)state;
	size_t n = 300 * 1024;
	char *text = malloc(n + 64);
	assert_non_null(text);
	strcpy(text, "x TXT ");
	memset(text + 6, 'a', n);
	strcpy(text + 6 + n, "\ny A 192.0.2.1\n");
	struct diag *d;
	assert_null(load_str(text, &d));
	assert_true(diag_has(d, at(4), "record longer than 262144 bytes"));
	diag_free(d);
	free(text);
}

static void test_many_duplicates(void **state)
{
	(void)state;
	// 65,000 distinct A records, each repeated 5 times: 325,000 lines
	alarm(30); // took 73 s before duplicates were found by hash
	size_t cap = 325000 * 24 + 1, len = 0;
	char *text = malloc(cap);
	assert_non_null(text);
	for (int rep = 0; rep < 5; rep++)
		for (int i = 0; i < 65000; i++)
			len += (size_t)sprintf(text + len, "big A 10.%d.%d.%d\n",
					       i >> 16, (i >> 8) & 255, i & 255);
	struct diag *d;
	struct zone_set *zs = load_text(text, len, &d);
	assert_non_null(zs);
	const struct zone *z = zone_set_zone(zs, 0);
	const struct zone_rrset *a = zone_node_rrset(node(z, "big.example.org."), T_A);
	assert_int_equal(a->count, 65000);
	assert_memory_equal(a->rdata, "\0\4\12\0\0\0", 6);
	alarm(0);
	zone_set_free(zs);
	diag_free(d);
	free(text);
}

static void test_ttls(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_str("$TTL 0\nzero A 192.0.2.1\n"
				       "$TTL 2147483647\nmax A 192.0.2.1\n"
				       "mix 1h30m A 192.0.2.1\n", &d);
	assert_non_null(zs);
	const struct zone *z = zone_set_zone(zs, 0);
	assert_int_equal(zone_node_rrset(node(z, "zero.example.org."), T_A)->ttl, 0);
	assert_int_equal(zone_node_rrset(node(z, "max.example.org."), T_A)->ttl, 2147483647);
	assert_int_equal(zone_node_rrset(node(z, "mix.example.org."), T_A)->ttl, 5400);
	zone_set_free(zs);
	diag_free(d);

	assert_null(load_str("$TTL 4294967296\n"
			     "a 4294967296 A 192.0.2.1\n"
			     "b 2147483648 A 192.0.2.1\n"
			     "c 1x A 192.0.2.1\n", &d));
	assert_true(diag_has(d, at(4), "TTL 4294967296 is above 2147483647"));
	assert_true(diag_has(d, at(5), "TTL 4294967296 is above 2147483647"));
	assert_true(diag_has(d, at(6), "TTL 2147483648 is above 2147483647"));
	assert_true(diag_has(d, at(7), "'1x' is not a TTL"));
	assert_int_equal(diag_errors(d), 4);
	diag_free(d);
}

static void test_cname_loops(void **state)
{
	(void)state;
	struct diag *d;
	struct zone_set *zs = load_str("a CNAME b\n"
				       "b CNAME a\n"
				       "self CNAME self\n"
				       "*.w CNAME x.w\n"
				       "c CNAME d\n"
				       "d CNAME ns\n"
				       "e CNAME a\n", &d);
	assert_non_null(zs); // a warning, not a refusal
	assert_true(diag_has(d, at(4), "warning: CNAME loop: 'a.example.org.' -> 'b.example.org.'"));
	assert_true(diag_has(d, at(6), "warning: CNAME loop: 'self.example.org.'"));
	assert_true(diag_has(d, at(7), "warning: CNAME loop: '*.w.example.org.' -> 'x.w.example.org.'"));
	assert_int_equal(diag_warnings(d), 3);
	zone_set_free(zs);
	diag_free(d);
}

static void test_nul_byte(void **state)
{
	(void)state;
	static const char text[] = "a A 192.0.2.1\n\0b A 192.0.2.2\n";
	struct diag *d;
	assert_null(load_text(text, sizeof(text) - 1, &d));
	assert_true(diag_has(d, at(5), "NUL byte"));
	diag_free(d);
}

static void test_signed_zone(void **state)
{
	(void)state;
	struct diag *d;
	// signed, but no keys for the regional answers: refused at the RRSIG
	assert_null(load_str("@ DNSKEY 256 3 8 AwEAAcE=\n"
			     "@ RRSIG SOA 8 2 3600 20300101000000 20200101000000 1 example.org. AwEAAcE=\n", &d));
	assert_true(diag_has(d, at(5), "the zone file is signed (RRSIG records) but zone 'example.org.' has no `dnssec: keys`"));
	assert_int_equal(diag_errors(d), 1);
	diag_free(d);
	// DNSSEC records without RRSIGs: neither signed nor unsigned
	assert_null(load_str("a A 192.0.2.1\n"
			     "@ DNSKEY 256 3 8 AwEAAcE=\n", &d));
	assert_true(diag_has(d, at(5), "DNSKEY record in a zone file without RRSIG records"));
	assert_int_equal(diag_errors(d), 1);
	diag_free(d);
	assert_null(load_str("a NSEC b A RRSIG NSEC\n", &d));
	assert_true(diag_has(d, at(4), "NSEC record in a zone file without RRSIG records"));
	diag_free(d);
}

static void test_token_messages(void **state)
{
	(void)state;
	struct diag *d;
	assert_null(load_str("a A 192.0.2.256\n"
			     "b AAAA 2001:db8::g\n"
			     "c MX 70000 mail\n"
			     "d FOO x\n"
			     "e SOA ns h 1 2 3 4\n"
			     "f TXT \"a\\\"\n", &d));
	assert_true(diag_has(d, at(4), "'192.0.2.256' is not an IPv4 address in A rdata"));
	assert_true(diag_has(d, at(5), "'2001:db8::g' is not an IPv6 address in AAAA rdata"));
	assert_true(diag_has(d, at(6), "'70000' is not a number 0..65535 in MX rdata"));
	assert_true(diag_has(d, at(7), "unknown record type 'FOO'"));
	assert_true(diag_has(d, at(8), "'ns h 1 2 3 4' is not valid SOA rdata"));
	assert_true(diag_has(d, at(9), "unterminated quoted string"));
	diag_free(d);
}

/* A blank owner repeats the previous one, also when that was outside the
 * zone (the fuzzer found the builder walking past the origin). */
static void test_blank_owner_outside(void **state)
{
	(void)state;
	struct diag *d;
	assert_null(load_str("out.example.net. A 192.0.2.1\n"
			     "  A 192.0.2.2\n"
			     "  TXT \"x\"\n", &d));
	assert_true(diag_has(d, at(4), "'out.example.net.' is outside the zone"));
	assert_true(diag_has(d, at(5), "'out.example.net.' is outside the zone"));
	assert_true(diag_has(d, at(6), "'out.example.net.' is outside the zone"));
	assert_int_equal(diag_errors(d), 3);
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
		cmocka_unit_test(test_many_zones),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test(test_cut_in_a_quote),
		cmocka_unit_test(test_regional_errors),
		cmocka_unit_test(test_empty_set),
		cmocka_unit_test(test_shipped_zone),
		cmocka_unit_test(test_long_names),
		cmocka_unit_test(test_dname_to_text_bounded),
		cmocka_unit_test(test_scan_lower),
		cmocka_unit_test(test_fifo),
		cmocka_unit_test(test_include_and_error_caps),
		cmocka_unit_test(test_record_too_long),
		cmocka_unit_test(test_many_duplicates),
		cmocka_unit_test(test_ttls),
		cmocka_unit_test(test_cname_loops),
		cmocka_unit_test(test_nul_byte),
		cmocka_unit_test(test_signed_zone),
		cmocka_unit_test(test_token_messages),
		cmocka_unit_test(test_blank_owner_outside),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
