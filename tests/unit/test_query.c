/*
 * tests/unit/test_query.c — query_process on what scenario files cannot
 * write: malformed, truncated and runt packets, the RRL slip answer, the
 * shed hash against region_shed_hash, and a config with ECS off. Every
 * ordinary query/answer pair is in tests/scenarios/ (test_scenarios.c).
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
	resp_len = query_process(s, q, qlen, (struct sockaddr *)&ss, t, resp, NULL);
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

static uint8_t response_scope(void)
{
	uint16_t family;
	uint8_t source, scope, addr[16];
	assert_true(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	return scope;
}

/* ---- regional answers --------------------------------------------------- */

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

/* ---- protocol ----------------------------------------------------------- */

static void test_no_answer_to_runts_and_responses(void **state)
{
	size_t qlen = pkt_build(req, "www.example.com.", 1, 1, NULL);
	for (size_t len = 0; len < 12; len++)
		assert_int_equal(process_raw(snap, req, len, "127.0.0.1", QUERY_UDP), 0);
	req[2] |= 0x80; // QR
	assert_int_equal(process_raw(snap, req, qlen, "127.0.0.1", QUERY_UDP), 0);
}

/* (opcodes 1-15 with a question: tests/scenarios/protocol.scn) */
static void test_notimp_without_question(void **state)
{
	// a DSO-like message (opcode 6) with no question is still NOTIMP
	static const uint8_t dso[12] = { 0, 7, 6 << 3, 0 };
	memcpy(req, dso, sizeof(dso));
	assert_true(process_raw(snap, req, sizeof(dso), "127.0.0.1", QUERY_UDP) >= 12);
	assert_int_equal(resp[3] & 0xf, LDNS_RCODE_NOTIMPL);
	assert_int_equal((resp[2] >> 3) & 0xf, 6);
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

/*
 * RFC 6891 §7: the FORMERR answer to a query with an OPT record carries
 * one, also when the question is what is wrong (issue 13 item 13; before,
 * a bad question ended the parse before the OPT was read).
 */
static void test_formerr_keeps_opt(void **state)
{
	static const uint8_t a[3] = { 198, 51, 100 };
	struct pkt_opts o = { .edns = true, .do_bit = true, .ecs = true,
			      .ecs_family = 1, .ecs_source = 24, .ecs_addr = a,
			      .ecs_addr_len = 3 };
	uint8_t one[512];
	size_t qlen = pkt_build(one, "www.example.com.", 1, 1, &o);
	size_t qend = 12 + 17 + 4; // www.example.com. (17 bytes), type, class

	// QDCOUNT 2: the question twice, then the OPT record
	memcpy(req, one, qend);
	memcpy(req + qend, one + 12, qend - 12);
	memcpy(req + 2 * qend - 12, one + qend, qlen - qend);
	req[5] = 2;
	expect_formerr(qlen + qend - 12);
	uint16_t udp, family;
	uint32_t ttl;
	uint8_t source, scope, addr[16];
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));
	assert_int_equal(udp, 1232);
	assert_int_equal(ttl & 0x8000, 0x8000); // DO copied
	assert_int_equal(resp[5], 0);           // no question echoed
	// a valid ECS option is echoed, as for any other FORMERR
	assert_true(pkt_response_ecs(resp, resp_len, &family, &source, &scope, addr));
	assert_int_equal(scope, 0);

	// QDCOUNT 0: only the OPT record
	memcpy(req, one, 12);
	memcpy(req + 12, one + qend, qlen - qend);
	req[5] = 0;
	expect_formerr(12 + qlen - qend);
	assert_true(pkt_response_opt(resp, resp_len, &udp, &ttl));

	// a question that is no name at all (label type 0x40): the OPT
	// cannot be found, so none is sent
	memcpy(req, one, qlen);
	req[12] = 0x40;
	expect_formerr(qlen);
	assert_false(pkt_response_opt(resp, resp_len, &udp, &ttl));
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
		cmocka_unit_test(test_regional_shed_by_hash),
		cmocka_unit_test(test_no_answer_to_runts_and_responses),
		cmocka_unit_test(test_notimp_without_question),
		cmocka_unit_test(test_formerr_on_bad_question_count),
		cmocka_unit_test(test_formerr_on_truncated_and_trailing),
		cmocka_unit_test(test_formerr_on_compressed_question_and_two_opts),
		cmocka_unit_test(test_formerr_keeps_opt),
		cmocka_unit_test(test_truncate_for_slip),
		cmocka_unit_test(test_ecs_disabled_is_ignored),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
