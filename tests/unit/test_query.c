/*
 * tests/unit/test_query.c — query_process, the pure core, on crafted
 * packets against tests/fixtures/query (one test per SPEC behaviour).
 * Responses are parsed with ldns, an independent reader.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "query.h"
#include "region.h"
#include "snapshot.h"
#include "pkt.h"

static struct snapshot *snap;
static uint8_t req[4096];
static uint8_t resp[QUERY_BUFFER_SIZE];
static size_t resp_len;

static struct snapshot *load(const char *path)
{
	struct diag *d = diag_new();
	struct snapshot *s = snapshot_load(path, d);
	if (s == NULL)
		diag_print(d, stderr);
	diag_free(d);
	return s;
}

static int setup(void **state)
{
	snap = load(FIXTURES "/query/geovip.yaml");
	return snap == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	snapshot_unref(snap);
	return 0;
}

static void source_addr(struct sockaddr_storage *ss, const char *src)
{
	memset(ss, 0, sizeof(*ss));
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, src, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, src, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
	}
}

static size_t process_raw(const struct snapshot *s, const uint8_t *q,
			  size_t qlen, const char *src, enum query_transport t)
{
	struct sockaddr_storage ss;
	source_addr(&ss, src);
	resp_len = query_process(s, q, qlen, (struct sockaddr *)&ss, t, resp);
	return resp_len;
}

/* Asks name/type from src; returns the parsed response (never NULL). */
static ldns_pkt *ask_on(const struct snapshot *s, const char *name,
			uint16_t type, const char *src,
			const struct pkt_opts *o, enum query_transport t)
{
	size_t qlen = pkt_build(req, name, type, LDNS_RR_CLASS_IN, o);
	assert_true(process_raw(s, req, qlen, src, t) > 0);
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, resp, resp_len), LDNS_STATUS_OK);
	return p;
}

static ldns_pkt *ask(const char *name, uint16_t type, const char *src)
{
	return ask_on(snap, name, type, src, NULL, QUERY_UDP);
}

static ldns_pkt *ask_ecs(const char *name, uint16_t type, const char *ecs)
{
	char text[64];
	snprintf(text, sizeof(text), "%s", ecs);
	char *slash = strchr(text, '/');
	assert_non_null(slash);
	*slash = '\0';
	uint8_t addr[16] = { 0 };
	struct pkt_opts o = { .edns = true, .ecs = true };
	o.ecs_source = (uint8_t)atoi(slash + 1);
	if (inet_pton(AF_INET, text, addr) == 1) {
		o.ecs_family = 1;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, addr), 1);
		o.ecs_family = 2;
	}
	o.ecs_addr = addr;
	o.ecs_addr_len = (o.ecs_source + 7u) / 8u;
	return ask_on(snap, name, type, "127.0.0.1", &o, QUERY_UDP);
}

/* Text of answer record i's rdata field 0 (the address for A/AAAA). */
static char *rdata_text(ldns_rr_list *list, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(list));
	return ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(list, i), 0));
}

static void assert_rdata(ldns_rr_list *list, size_t i, const char *want)
{
	char *got = rdata_text(list, i);
	assert_string_equal(got, want);
	free(got);
}

static void assert_owner(ldns_rr_list *list, size_t i, const char *want)
{
	char *got = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(list, i)));
	assert_string_equal(got, want);
	free(got);
}

static void assert_soa_authority(ldns_pkt *p, uint32_t ttl)
{
	assert_int_equal(ldns_pkt_nscount(p), 1);
	ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	assert_int_equal(ldns_rr_ttl(soa), ttl);
}

static uint8_t response_scope(void)
{
	uint16_t family;
	uint8_t source, scope, addr[16];
	assert_true(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	return scope;
}

/* ---- regional answers --------------------------------------------------- */

static void test_regional_a_by_source(void **state)
{
	ldns_pkt *p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10");
	assert_int_equal(ldns_rr_ttl(ldns_rr_list_rr(ldns_pkt_answer(p), 0)), 30);
	ldns_pkt_free(p);

	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.1.1");
	assert_int_equal(ldns_pkt_ancount(p), 2);
	assert_rdata(ldns_pkt_answer(p), 0, "198.51.100.10");
	assert_rdata(ldns_pkt_answer(p), 1, "198.51.100.11");
	ldns_pkt_free(p);

	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.2.1");
	assert_rdata(ldns_pkt_answer(p), 0, "203.0.113.10");
	ldns_pkt_free(p);
}

static void test_regional_aaaa_and_nodata(void **state)
{
	ldns_pkt *p = ask("www.example.com.", LDNS_RR_TYPE_AAAA, "127.0.1.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_rdata(ldns_pkt_answer(p), 0, "2001:db8:20::1");
	ldns_pkt_free(p);

	// apac has no IPv6 VIP: NODATA with the SOA
	p = ask("www.example.com.", LDNS_RR_TYPE_AAAA, "127.0.2.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);

	p = ask("www.example.com.", LDNS_RR_TYPE_AAAA, "::1");
	assert_rdata(ldns_pkt_answer(p), 0, "2001:db8:20::1");
	ldns_pkt_free(p);
}

static void test_regional_apex_wildcard_and_bare_names(void **state)
{
	const char *names[] = { "example.com.", "api.example.com.",
				"x.edge.example.com.", "a.b.edge.example.com.",
				"deep.www.example.com." };
	for (size_t i = 0; i < 5; i++) {
		ldns_pkt *p = ask(names[i], LDNS_RR_TYPE_A, "127.0.2.1");
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
		assert_int_equal(ldns_pkt_ancount(p), 1);
		assert_rdata(ldns_pkt_answer(p), 0, "203.0.113.10");
		assert_owner(ldns_pkt_answer(p), 0, names[i]);
		ldns_pkt_free(p);
	}
	// the wildcard's parent is an empty non-terminal, not regional
	ldns_pkt *p = ask("edge.example.com.", LDNS_RR_TYPE_A, "127.0.2.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
}

static void test_regional_other_types_from_zone(void **state)
{
	ldns_pkt *p = ask("www.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_rdata(ldns_pkt_answer(p), 0, "\"www text\"");
	ldns_pkt_free(p);

	p = ask("www.example.com.", LDNS_RR_TYPE_MX, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);

	// the zone file's A at www (10.9.9.9) is superseded
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10");
	ldns_pkt_free(p);
}

static void test_regional_overrides_and_default(void **state)
{
	// network override 10/8 → emea (source address, no ECS)
	ldns_pkt *p = ask("www.example.com.", LDNS_RR_TYPE_A, "10.1.2.3");
	assert_rdata(ldns_pkt_answer(p), 0, "198.51.100.10");
	ldns_pkt_free(p);
	// BR is SA → americas by continent, but the country override says emea
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.4.1");
	assert_rdata(ldns_pkt_answer(p), 0, "198.51.100.10");
	ldns_pkt_free(p);
	// country-only record GB → EU through the built-in table
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.6.1");
	assert_rdata(ldns_pkt_answer(p), 0, "198.51.100.10");
	ldns_pkt_free(p);
	// not in the database → default_region
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.200.1");
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10");
	ldns_pkt_free(p);
	// registered_country FR only → EU
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.8.1");
	assert_rdata(ldns_pkt_answer(p), 0, "198.51.100.10");
	ldns_pkt_free(p);
	// record with no location at all → default
	p = ask("www.example.com.", LDNS_RR_TYPE_A, "127.0.10.1");
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10");
	ldns_pkt_free(p);
}

static void test_regional_shed_by_hash(void **state)
{
	// AN (127.0.7.0/24) and AU (127.0.3.0/24, country override) → lab,
	// which sheds 50% to emea by the hash of the /24
	static const uint8_t key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10,
					 11, 12, 13, 14, 15 };
	static const uint8_t third[] = { 7, 3 };
	for (size_t i = 0; i < sizeof(third); i++) {
		char src[32];
		snprintf(src, sizeof(src), "127.0.%u.1", third[i]);
		struct ip_addr a = { AF_INET, { 127, 0, third[i], 0 } };
		bool moved = region_shed_hash(key, &a, 24) % 10000 < 5000;
		ldns_pkt *p = ask("www.example.com.", LDNS_RR_TYPE_A, src);
		assert_rdata(ldns_pkt_answer(p), 0,
			     moved ? "198.51.100.10" : "192.0.2.77");
		ldns_pkt_free(p);
	}
}

/* ---- zone data ---------------------------------------------------------- */

static void test_nxdomain_with_soa(void **state)
{
	ldns_pkt *p = ask("nope.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_soa_authority(p, 300); // min(SOA TTL 3600, MINIMUM 300)
	ldns_pkt_free(p);
}

static void test_nodata_and_empty_non_terminal(void **state)
{
	ldns_pkt *p = ask("mail.example.com.", LDNS_RR_TYPE_AAAA, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);

	p = ask("b.c.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);
}

static void test_refused_outside_zones(void **state)
{
	ldns_pkt *p = ask("www.example.org.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	assert_false(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p) + ldns_pkt_nscount(p), 0);
	ldns_pkt_free(p);
}

static void test_longest_zone_match(void **state)
{
	ldns_pkt *p = ask("host.sub2.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.200");
	ldns_pkt_free(p);

	p = ask("nope.sub2.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_soa_authority(p, 120);
	assert_owner(ldns_pkt_authority(p), 0, "sub2.example.com.");
	ldns_pkt_free(p);
}

static void test_cname_chain_to_regional(void **state)
{
	ldns_pkt *p = ask("alias.example.com.", LDNS_RR_TYPE_A, "127.0.1.1");
	assert_int_equal(ldns_pkt_ancount(p), 4);
	ldns_rr_list *an = ldns_pkt_answer(p);
	assert_int_equal(ldns_rr_get_type(ldns_rr_list_rr(an, 0)), LDNS_RR_TYPE_CNAME);
	assert_rdata(an, 0, "shop.example.com.");
	assert_rdata(an, 1, "www.example.com.");
	assert_owner(an, 2, "www.example.com.");
	assert_rdata(an, 2, "198.51.100.10");
	ldns_pkt_free(p);
}

static void test_cname_out_of_zone_loop_and_dangling(void **state)
{
	ldns_pkt *p = ask("ext.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);

	p = ask("loop1.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_true(ldns_pkt_ancount(p) >= 2 && ldns_pkt_ancount(p) <= 17);
	ldns_pkt_free(p);

	p = ask("dangling.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);

	// asking for the CNAME itself does not follow it
	p = ask("shop.example.com.", LDNS_RR_TYPE_CNAME, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
}

static void test_wildcard_synthesis(void **state)
{
	ldns_pkt *p = ask("x.wild.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_owner(ldns_pkt_answer(p), 0, "x.wild.example.com.");
	assert_rdata(ldns_pkt_answer(p), 0, "\"wildcard\"");
	ldns_pkt_free(p);

	p = ask("x.wild.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	ldns_pkt_free(p);
}

static void test_delegation_referral_with_glue(void **state)
{
	ldns_pkt *p = ask("www.sub.example.com.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_false(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_nscount(p), 2);
	assert_owner(ldns_pkt_authority(p), 0, "sub.example.com.");
	assert_int_equal(ldns_pkt_arcount(p), 1);
	assert_owner(ldns_pkt_additional(p), 0, "ns.sub.example.com.");
	ldns_pkt_free(p);

	// DS belongs to the parent side of the cut
	p = ask("sub.example.com.", LDNS_RR_TYPE_DS, "127.0.0.1");
	assert_true(ldns_pkt_aa(p));
	assert_soa_authority(p, 300);
	ldns_pkt_free(p);
}

static void test_any_is_minimal(void **state)
{
	ldns_pkt *p = ask("example.com.", LDNS_RR_TYPE_ANY, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(p), 1); // regional apex: its A set
	ldns_pkt_free(p);

	p = ask("ns1.example.com.", LDNS_RR_TYPE_ANY, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1); // one RRset of A and AAAA
	ldns_pkt_free(p);

	p = ask_on(snap, "big.example.com.", LDNS_RR_TYPE_ANY, "127.0.0.1", NULL,
		   QUERY_TCP);
	assert_int_equal(ldns_pkt_ancount(p), 40); // one RRset, even if large
	ldns_pkt_free(p);
}

static void test_case_insensitive_and_question_echoed(void **state)
{
	ldns_pkt *p = ask("WwW.ExAmPlE.CoM.", LDNS_RR_TYPE_A, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	// the question bytes are echoed as sent
	assert_memory_equal(resp + 12, "\x03WwW\x07" "ExAmPlE\x03" "CoM", 17);

	p = ask("mixed.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1");
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
}

/* ---- protocol ----------------------------------------------------------- */

static void test_no_answer_to_runts_and_responses(void **state)
{
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, NULL);
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(process_raw(snap, req, len, "127.0.0.1", QUERY_UDP), 0);
	req[2] |= 0x80; // QR
	assert_int_equal(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP), 0);
}

static void test_transfers_refused(void **state)
{
	ldns_pkt *p = ask("example.com.", LDNS_RR_TYPE_AXFR, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
	p = ask("example.com.", LDNS_RR_TYPE_IXFR, "127.0.0.1");
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	ldns_pkt_free(p);
}

static void test_other_opcodes_notimp(void **state)
{
	for (uint16_t opcode = 1; opcode < 16; opcode++) {
		struct pkt_opts o = { .flags = (uint16_t)(opcode << 11), .raw_flags = true };
		ldns_pkt *p = ask_on(snap, "example.com.", 6, "127.0.0.1", &o, QUERY_UDP);
		assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOTIMPL);
		assert_int_equal(ldns_pkt_get_opcode(p), opcode);
		ldns_pkt_free(p);
	}
	// an UPDATE-like message with no question is still NOTIMP
	static const uint8_t dso[12] = { 0, 7, 6 << 3, 0 };
	memcpy(req, dso, sizeof(dso));
	assert_true(process_raw(snap, req, sizeof(dso), "127.0.0.1", QUERY_UDP) >= 12);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_NOTIMPL);
}

static void expect_formerr(size_t qlen)
{
	assert_true(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP) >= 12);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_FORMERR);
	assert_true(resp[2] & 0x80);
}

static void test_formerr_on_bad_question_count(void **state)
{
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, NULL);
	req[5] = 0;
	expect_formerr(qlen);
	req[5] = 2;
	expect_formerr(qlen);
}

static void test_formerr_on_truncated_and_trailing(void **state)
{
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, NULL);
	for (size_t len = 12; len < qlen; len++)
		expect_formerr(len);
	req[qlen] = 0;
	expect_formerr(qlen + 1);

	// trailing bytes after a valid ECS option: FORMERR, ECS still echoed
	static const uint8_t a[3] = { 198, 51, 100 };
	struct pkt_opts e = { .edns = true, .ecs = true, .ecs_family = 1,
			      .ecs_source = 24, .ecs_addr = a, .ecs_addr_len = 3 };
	qlen = pkt_build(req, "www.example.com.", 1, 1, &e);
	req[qlen] = 0;
	expect_formerr(qlen + 1);
	uint16_t family;
	uint8_t source, scope, addr[16];
	assert_true(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	assert_int_equal(scope, 0);

	struct pkt_opts o = { .edns = true };
	qlen = pkt_build(req, "www.example.com.", 1, 1, &o);
	for (size_t len = 12; len < qlen; len++)
		expect_formerr(len);
}

static void test_formerr_on_compressed_question_and_two_opts(void **state)
{
	// a pointer in the question has nothing to point back to
	static const uint8_t q[] = { 0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0,
				     0xc0, 12, 0, 1, 0, 1 };
	memcpy(req, q, sizeof(q));
	expect_formerr(sizeof(q));

	struct pkt_opts o = { .edns = true };
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, &o);
	size_t opt_start = qlen - 11;
	memcpy(req + qlen, req + opt_start, 11);
	req[11] = 2;
	expect_formerr(qlen + 11);
}

static void test_class_other_than_in_refused(void **state)
{
	// version.bind. and id.server. are answered now (test_chaos.c)
	size_t qlen = pkt_build(req, "authors.bind.", 16, 3, NULL);
	assert_true(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP) > 0);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_REFUSED);
	qlen = pkt_build(req, "www.example.com.", 1, 255, NULL);
	assert_true(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP) > 0);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_REFUSED);
}

static void test_edns_opt_iff_in_query(void **state)
{
	uint16_t udp;
	uint32_t ttl;
	ldns_pkt *p = ask("www.example.com.", 1, "127.0.0.1");
	ldns_pkt_free(p);
	assert_false(pkt_response_opt(resp, resp_len, &udp, &ttl));

	struct pkt_opts o = { .edns = true, .do_bit = true, .udp_size = 4096 };
	p = ask_on(snap, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	ldns_pkt_free(p);
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));
	assert_int_equal(udp, 1232);
	assert_int_equal(ttl & 0x8000, 0x8000); // DO copied

	o.do_bit = false;
	p = ask_on(snap, "nope.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	ldns_pkt_free(p);
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));
	assert_int_equal(ttl & 0x8000, 0);
}

static void test_edns_badvers(void **state)
{
	struct pkt_opts o = { .edns = true, .version = 1 };
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, &o);
	assert_true(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP) > 0);
	uint16_t udp;
	uint32_t ttl;
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));
	assert_int_equal(ttl >> 24, 1);         // extended RCODE 16 >> 4
	assert_int_equal(resp[3] & 0xf, 0);
	assert_int_equal(resp[7], 0);           // no answers
}

static void test_udp_truncation_and_tcp(void **state)
{
	// no EDNS: 512
	ldns_pkt *p = ask("big.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1");
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_true(resp_len <= 512);
	ldns_pkt_free(p);

	// EDNS 4096 → capped at 1232, still too small
	struct pkt_opts o = { .edns = true, .udp_size = 4096 };
	p = ask_on(snap, "big.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1", &o, QUERY_UDP);
	assert_true(ldns_pkt_tc(p));
	assert_true(ldns_pkt_edns(p));
	assert_true(resp_len <= 1232);
	ldns_pkt_free(p);

	// TCP: the whole RRset
	p = ask_on(snap, "big.example.com.", LDNS_RR_TYPE_TXT, "127.0.0.1", &o, QUERY_TCP);
	assert_false(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_ancount(p), 40);
	ldns_pkt_free(p);

	// an advertised size below 512 counts as 512; small answers fit
	o.udp_size = 100;
	p = ask_on(snap, "www.example.com.", LDNS_RR_TYPE_A, "127.0.0.1", &o, QUERY_UDP);
	assert_false(ldns_pkt_tc(p));
	ldns_pkt_free(p);
}

static void test_truncate_for_slip(void **state)
{
	static const uint8_t a[3] = { 198, 51, 100 };
	struct pkt_opts o = { .edns = true, .ecs = true, .ecs_family = 1,
			      .ecs_source = 24, .ecs_addr = a, .ecs_addr_len = 3 };
	ldns_pkt *p = ask_on(snap, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	ldns_pkt_free(p);
	size_t full = resp_len;
	resp_len = query_truncate(resp, resp_len);
	assert_true(resp_len < full);
	assert_int_equal(ldns_wire2pkt(&p, resp, resp_len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tc(p));
	assert_int_equal(ldns_pkt_qdcount(p), 1);
	assert_int_equal(ldns_pkt_ancount(p) + ldns_pkt_nscount(p), 0);
	assert_true(ldns_pkt_edns(p)); // OPT kept, with the ECS option
	ldns_pkt_free(p);
	assert_int_equal(response_scope(), 25);

	p = ask("nope.example.com.", 1, "127.0.0.1"); // no EDNS
	ldns_pkt_free(p);
	resp_len = query_truncate(resp, resp_len);
	assert_int_equal(ldns_wire2pkt(&p, resp, resp_len), LDNS_STATUS_OK);
	assert_true(ldns_pkt_tc(p));
	assert_false(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(p);
}

/* ---- ECS ---------------------------------------------------------------- */

static void test_ecs_address_and_scope(void **state)
{
	static const struct {
		const char *ecs, *vip;
		uint8_t scope;
	} cases[] = {
		{ "198.51.100.0/24", "198.51.100.10", 25 },  // EU, nested /25 network
		{ "198.51.100.128/25", "203.0.113.10", 25 }, // AS (SG)
		{ "192.0.2.0/24", "192.0.2.10", 25 },        // override /26 inside
		{ "192.0.2.192/26", "203.0.113.10", 26 },    // the override itself
		{ "2001:db8:2::/48", "2001:db8:20::1", 48 },
		{ "::ffff:198.51.100.0/120", "198.51.100.10", 121 },
		{ "2002:c633:6400::/40", "198.51.100.10", 41 },     // 6to4
		{ "64:ff9b::c633:6481/128", "203.0.113.10", 121 }, // NAT64
		{ "2001::39cc:9b7e/128", "203.0.113.10", 121 },    // Teredo 198.51.100.129
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		uint16_t type = strchr(cases[i].vip, ':') ? LDNS_RR_TYPE_AAAA
							  : LDNS_RR_TYPE_A;
		ldns_pkt *p = ask_ecs("www.example.com.", type, cases[i].ecs);
		assert_int_equal(ldns_pkt_ancount(p) > 0, 1);
		char *got = rdata_text(ldns_pkt_answer(p), 0);
		if (strcmp(got, cases[i].vip) != 0 || response_scope() != cases[i].scope)
			fail_msg("ECS %s: got %s scope %u, want %s scope %u",
				 cases[i].ecs, got, response_scope(), cases[i].vip,
				 cases[i].scope);
		free(got);
		ldns_pkt_free(p);
	}
}

static void test_ecs_echo_and_zero_scopes(void **state)
{
	uint16_t family;
	uint8_t source, scope, addr[16];
	ldns_pkt *p = ask_ecs("www.example.com.", 1, "198.51.100.0/24");
	ldns_pkt_free(p);
	assert_true(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	assert_int_equal(family, 1);
	assert_int_equal(source, 24);
	assert_memory_equal(addr, "\xc6\x33\x64", 3);

	// private ECS address: the resolver's address decides, scope 0
	p = ask_ecs("www.example.com.", 1, "10.1.2.0/24");
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10"); // 127.0.0.1 → americas
	assert_int_equal(response_scope(), 0);
	ldns_pkt_free(p);

	// SOURCE PREFIX-LENGTH 0: scope 0
	p = ask_ecs("www.example.com.", 1, "0.0.0.0/0");
	assert_int_equal(response_scope(), 0);
	ldns_pkt_free(p);

	// answers that do not depend on the client: scope 0, ECS still echoed
	const char *names[] = { "nope.example.com.", "mail.example.com.",
				"www.example.org.", "www.sub.example.com." };
	for (size_t i = 0; i < 4; i++) {
		p = ask_ecs(names[i], 1, "198.51.100.0/24");
		assert_int_equal(response_scope(), 0);
		ldns_pkt_free(p);
	}
	p = ask_ecs("www.example.com.", LDNS_RR_TYPE_TXT, "198.51.100.0/24");
	assert_int_equal(response_scope(), 0);
	ldns_pkt_free(p);

	// NODATA at a regional name is still regional: scoped
	p = ask_ecs("www.example.com.", LDNS_RR_TYPE_AAAA, "198.51.100.128/25");
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(response_scope(), 25);
	ldns_pkt_free(p);

	// a CNAME chain ending at a regional name carries its scope
	p = ask_ecs("alias.example.com.", 1, "198.51.100.0/24");
	assert_int_equal(response_scope(), 25);
	ldns_pkt_free(p);
}

static void expect_ecs_formerr(const struct pkt_opts *o)
{
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, o);
	assert_true(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP) > 0);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_FORMERR);
	uint16_t family, udp;
	uint8_t source, scope, addr[16];
	uint32_t ttl;
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));
	assert_false(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
}

static void test_ecs_invalid_is_formerr(void **state)
{
	static const uint8_t a[17] = { 198, 51, 100, 1 };
	struct pkt_opts base = { .edns = true, .ecs = true, .ecs_family = 1,
				 .ecs_source = 24, .ecs_addr = a, .ecs_addr_len = 3 };
	struct pkt_opts o = base;
	o.ecs_family = 3;                       // unknown family
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_source = 33;                      // longer than IPv4
	o.ecs_addr_len = 5;
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_addr_len = 4;                     // too long for /24
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_addr_len = 2;                     // too short
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_source = 21;                      // 100 = 0x64: bit 21 is set
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_scope = 8;                        // non-zero scope in a query
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_twice = true;                     // two ECS options
	expect_ecs_formerr(&o);
	o = base;
	o.ecs_family = 2;                       // IPv6 over 128
	o.ecs_source = 129;
	o.ecs_addr_len = 17;
	expect_ecs_formerr(&o);
}

static void test_ecs_disabled_is_ignored(void **state)
{
	char path[] = "/tmp/geovip-test-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	FILE *in = fopen(FIXTURES "/query/geovip.yaml", "r");
	FILE *out = fdopen(fd, "w");
	assert_non_null(in);
	char line[512];
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "ecs:", 4) == 0)
			strcpy(line, "ecs: false\n");
		else if (strncmp(line, "geoip:", 6) == 0)
			snprintf(line, sizeof(line), "geoip: %s/geo/sample.mmdb\n", TOP_SRCDIR);
		else if (strstr(line, "file: ") != NULL) {
			char *f = strstr(line, "file: ") + 6;
			char name[256];
			snprintf(name, sizeof(name), "%s", f);
			snprintf(f, sizeof(line) - (size_t)(f - line), "%s/query/%s",
				 FIXTURES, name);
		}
		fputs(line, out);
	}
	fclose(in);
	fclose(out);
	struct snapshot *off = load(path);
	unlink(path);
	assert_non_null(off);

	// an invalid option is not even validated, and nothing is echoed
	static const uint8_t a[4] = { 198, 51, 100, 1 };
	struct pkt_opts o = { .edns = true, .ecs = true, .ecs_family = 1,
			      .ecs_source = 24, .ecs_addr = a, .ecs_addr_len = 3 };
	ldns_pkt *p = ask_on(off, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_rdata(ldns_pkt_answer(p), 0, "192.0.2.10"); // source decides
	ldns_pkt_free(p);
	uint16_t family;
	uint8_t source, scope, addr[16];
	assert_false(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	o.ecs_scope = 9;
	p = ask_on(off, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	ldns_pkt_free(p);
	snapshot_unref(off);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_regional_a_by_source),
		cmocka_unit_test(test_regional_aaaa_and_nodata),
		cmocka_unit_test(test_regional_apex_wildcard_and_bare_names),
		cmocka_unit_test(test_regional_other_types_from_zone),
		cmocka_unit_test(test_regional_overrides_and_default),
		cmocka_unit_test(test_regional_shed_by_hash),
		cmocka_unit_test(test_nxdomain_with_soa),
		cmocka_unit_test(test_nodata_and_empty_non_terminal),
		cmocka_unit_test(test_refused_outside_zones),
		cmocka_unit_test(test_longest_zone_match),
		cmocka_unit_test(test_cname_chain_to_regional),
		cmocka_unit_test(test_cname_out_of_zone_loop_and_dangling),
		cmocka_unit_test(test_wildcard_synthesis),
		cmocka_unit_test(test_delegation_referral_with_glue),
		cmocka_unit_test(test_any_is_minimal),
		cmocka_unit_test(test_case_insensitive_and_question_echoed),
		cmocka_unit_test(test_no_answer_to_runts_and_responses),
		cmocka_unit_test(test_transfers_refused),
		cmocka_unit_test(test_other_opcodes_notimp),
		cmocka_unit_test(test_formerr_on_bad_question_count),
		cmocka_unit_test(test_formerr_on_truncated_and_trailing),
		cmocka_unit_test(test_formerr_on_compressed_question_and_two_opts),
		cmocka_unit_test(test_class_other_than_in_refused),
		cmocka_unit_test(test_edns_opt_iff_in_query),
		cmocka_unit_test(test_edns_badvers),
		cmocka_unit_test(test_udp_truncation_and_tcp),
		cmocka_unit_test(test_truncate_for_slip),
		cmocka_unit_test(test_ecs_address_and_scope),
		cmocka_unit_test(test_ecs_echo_and_zero_scopes),
		cmocka_unit_test(test_ecs_invalid_is_formerr),
		cmocka_unit_test(test_ecs_disabled_is_ignored),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
