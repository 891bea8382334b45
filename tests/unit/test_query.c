/*
 * tests/unit/test_query.c — query_process on what scenario files cannot
 * write: malformed, truncated and runt packets, the RRL slip answer, the
 * shed hash against region_shed_hash, a config with ECS off, and DNS
 * cookies: RFC 9018's test vectors, the random secret, the slip and
 * BADCOOKIE answers. Every ordinary query/answer pair is in
 * tests/scenarios/ (test_scenarios.c).
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

#include "addr.h"
#include "config.h"
#include "cookie.h"
#include "diag.h"
#include "query.h"
#include "region.h"
#include "snapshot.h"
#include "pkt.h"

static struct snapshot *snap;
static uint8_t req[4096];
static uint8_t resp[QUERY_BUFFER_SIZE];
static size_t resp_len;
static struct query_result result;
#define TEST_NOW 1700000000u

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
	resp_len = query_process(s, q, qlen, (struct sockaddr *)&ss, t,
				 TEST_NOW, resp, &result);
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

/* The fixture with absolute paths, each line passed through edit (which
 * may rewrite it, or return false to leave it out). */
static struct snapshot *load_edited(bool (*edit)(char *line, size_t size))
{
	char path[] = "/tmp/geovip-test-XXXXXX.yaml";
	int fd = mkstemps(path, 5);
	assert_true(fd >= 0);
	FILE *in = fopen(FIXTURES "/query/geovip.yaml", "r");
	FILE *out = fdopen(fd, "w");
	assert_non_null(in);
	char line[512];
	while (fgets(line, sizeof(line), in) != NULL) {
		if (strncmp(line, "geoip:", 6) == 0)
			snprintf(line, sizeof(line), "geoip: %s/geo/sample.mmdb\n", TOP_SRCDIR);
		else if (strstr(line, "file: ") != NULL) {
			char *f = strstr(line, "file: ") + 6;
			char name[256];
			snprintf(name, sizeof(name), "%s", f);
			snprintf(f, sizeof(line) - (size_t)(f - line), "%s/query/%s",
				 FIXTURES, name);
		}
		if (edit(line, sizeof(line)))
			fputs(line, out);
	}
	fclose(in);
	fclose(out);
	struct snapshot *s = load(path);
	unlink(path);
	return s;
}

static bool edit_ecs_off(char *line, size_t size)
{
	if (strncmp(line, "ecs:", 4) == 0)
		snprintf(line, size, "ecs: false\n");
	return true;
}

static void test_ecs_disabled_is_ignored(void **state)
{
	struct snapshot *off = load_edited(edit_ecs_off);
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

/* ---- DNS cookies ------------------------------------------------------- */

static void hex_to(uint8_t *out, const char *hex)
{
	for (size_t i = 0; hex[2 * i] != '\0'; i++) {
		unsigned v;
		assert_int_equal(sscanf(hex + 2 * i, "%2x", &v), 1);
		out[i] = (uint8_t)v;
	}
}

static void ip_of(struct ip_addr *a, const char *text)
{
	assert_int_equal(addr_parse(text, a), 0);
}

/* RFC 9018 Appendix A, every example: server cookies made and checked. */
static void test_cookie_rfc9018_vectors(void **state)
{
	uint8_t cc[8], sc[16], want[16];
	struct cookie_secrets k = { .has_previous = false };
	struct ip_addr client;

	// A.1: learning a new server cookie
	hex_to(k.current, "e5e973e5a6b2a43f48e7dc849e37bfcf");
	hex_to(cc, "2464c4abcf10c957");
	ip_of(&client, "198.51.100.100");
	cookie_make(sc, k.current, cc, &client, 1559731985);
	hex_to(want, "010000005cf79f111f8130c3eee29480");
	assert_memory_equal(sc, want, 16);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559731985),
			 COOKIE_VALID);

	// A.2: the same client, a renewed cookie 40 minutes later
	cookie_make(sc, k.current, cc, &client, 1559734385);
	hex_to(want, "010000005cf7a871d4a564a1442aca77");
	assert_memory_equal(sc, want, 16);

	// A.3: another client's cookie, reserved bytes not zero (hashed as
	// sent); 1800 s old is not yet due for renewal
	hex_to(cc, "fc93fc62807ddb86");
	ip_of(&client, "203.0.113.203");
	hex_to(sc, "01abcdef5cf78f71a314227b6679ebf5");
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559727985),
			 COOKIE_VALID);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559727985 + 1800),
			 COOKIE_VALID);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559727985 + 1801),
			 COOKIE_RENEW);
	sc[0] = 10; // version 10: not an RFC 9018 cookie, whatever its hash
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559727985),
			 COOKIE_INVALID);
	sc[0] = 1;
	ip_of(&client, "203.0.113.204"); // another address
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559727985),
			 COOKIE_INVALID);

	// A.4: IPv6, and a secret rollover
	hex_to(k.current, "dd3bdf9344b678b185a6f5cb60fca715");
	hex_to(cc, "22681ab97d52c298");
	ip_of(&client, "2001:db8:220:1:59de:d0f4:8769:82b8");
	cookie_make(sc, k.current, cc, &client, 1559741817);
	hex_to(want, "010000005cf7c57926556bd0934c72f8");
	assert_memory_equal(sc, want, 16);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559741961),
			 COOKIE_VALID);
	uint8_t old[16];
	memcpy(old, sc, 16);
	memcpy(k.previous, k.current, 16);
	hex_to(k.current, "445536bcd2513298075a5d379663c962");
	cookie_make(sc, k.current, cc, &client, 1559741961);
	hex_to(want, "010000005cf7c609a6bb79d16625507a");
	assert_memory_equal(sc, want, 16);
	// the old secret's cookie: refused until it is the previous secret,
	// then valid and due for replacement
	assert_int_equal(cookie_check(&k, cc, old, 16, &client, 1559741961),
			 COOKIE_INVALID);
	k.has_previous = true;
	assert_int_equal(cookie_check(&k, cc, old, 16, &client, 1559741961),
			 COOKIE_RENEW);

	// lifetime: one hour back, five minutes ahead
	assert_int_not_equal(cookie_check(&k, cc, sc, 16, &client, 1559741961 + 3600),
			     COOKIE_INVALID);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559741961 + 3601),
			 COOKIE_INVALID);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559741961 - 300),
			 COOKIE_VALID);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 1559741961 - 301),
			 COOKIE_INVALID);
	// serial arithmetic across the 2^32 wrap (the year 2106)
	cookie_make(sc, k.current, cc, &client, 0xfffffff0u);
	assert_int_equal(cookie_check(&k, cc, sc, 16, &client, 0x10), COOKIE_VALID);
	// only the 16-byte form is ours
	assert_int_equal(cookie_check(&k, cc, sc, 8, &client, 0x10), COOKIE_INVALID);
}

static bool edit_no_cookie_secret(char *line, size_t size)
{
	return strncmp(line, "cookie_secret", 13) != 0;
}

/* No cookie_secret: one random secret per process, the same for every
 * snapshot (a reload keeps the cookies handed out valid). */
static void test_cookie_random_secret_kept(void **state)
{
	struct snapshot *a = load_edited(edit_no_cookie_secret);
	struct snapshot *b = load_edited(edit_no_cookie_secret);
	assert_non_null(a);
	assert_non_null(b);
	static const uint8_t zero[16];
	assert_memory_not_equal(a->cookies.current, zero, 16);
	assert_memory_not_equal(a->cookies.current, snap->cookies.current, 16);
	assert_memory_equal(a->cookies.current, b->cookies.current, 16);
	assert_false(a->cookies.has_previous);

	// and it answers: a client cookie gets a server cookie that checks
	uint8_t cc[8] = { 1, 2, 3, 4, 5, 6, 7, 8 }, got[40];
	size_t got_len;
	struct pkt_opts o = { .edns = true, .cookie = cc, .cookie_len = 8 };
	ldns_pkt *p = ask_on(a, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	ldns_pkt_free(p);
	assert_true(pkt_response_cookie(resp, resp_len, got, &got_len));
	assert_int_equal(got_len, 24);
	struct ip_addr client;
	ip_of(&client, "127.0.0.1");
	assert_int_equal(cookie_check(&a->cookies, cc, got + 8, 16, &client,
				      TEST_NOW), COOKIE_VALID);
	snapshot_unref(a);
	snapshot_unref(b);
}

/* RRL's slip answer keeps the OPT record and its cookie; a BADCOOKIE
 * answer fits the 512-byte limit of any client. */
static void test_cookie_slip_and_badcookie(void **state)
{
	uint8_t opt[24];
	hex_to(opt, "2464c4abcf10c957");
	struct ip_addr client;
	ip_of(&client, "127.0.0.1");
	cookie_make(opt + 8, snap->cookies.current, opt, &client, TEST_NOW);
	struct pkt_opts o = { .edns = true, .cookie = opt, .cookie_len = 24 };
	ldns_pkt *p = ask_on(snap, "www.example.com.", 1, "127.0.0.1", &o,
			     QUERY_UDP);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_pkt_free(p);
	assert_true(result.cookie_valid);
	resp_len = query_truncate(resp, resp_len);
	uint8_t got[40];
	size_t got_len;
	assert_true(pkt_response_cookie(resp, resp_len, got, &got_len));
	assert_int_equal(got_len, 24);
	assert_memory_equal(got, opt, 24);

	opt[20] ^= 1; // a broken hash
	o.udp_size = 512;
	p = ask_on(snap, "www.example.com.", 1, "127.0.0.1", &o, QUERY_UDP);
	assert_false(result.cookie_valid);
	assert_int_equal(ldns_pkt_ancount(p), 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(p), 1); // 23 = 1 << 4 | 7
	assert_int_equal(ldns_pkt_get_rcode(p), 7);
	ldns_pkt_free(p);
	assert_true(resp_len <= 512);
}

/*
 * Negative answers, byte for byte: the SOA a zone pre-encodes at load
 * (zone_negative_encode) must be exactly what the general writer makes
 * after the same question, compression pointers included. The expected
 * bytes were written by that general writer before the pre-encoding
 * existed; the names cover each reason to fall back to it.
 */
static const struct {
	const char *name; /* NULL: A_LABELS times "a." then example.com. */
	unsigned a_labels;
	uint16_t type;
	bool edns;
	const char *from;
	const char *what;
	const char *hex;
} negative_cases[] = {
	{"nope.example.com.", 0, 1, false, "192.0.2.1", "NXDOMAIN: the pre-encoded SOA, pointers moved",
	  "123485030001000000010000046e6f7065076578616d706c6503636f6d000001"
	  "0001c011000600010000012c0027036e7331c0110a686f73746d6173746572c0"
	  "1178c4046500001c2000000e10001275000000012c"},
	{"NoPe.ExAmple.COM.", 0, 1, true, "192.0.2.1", "the question's case kept, with EDNS",
	  "123485030001000000010001044e6f5065074578416d706c6503434f4d000001"
	  "0001c011000600010000012c0027036e7331c0110a686f73746d6173746572c0"
	  "1178c4046500001c2000000e10001275000000012c00002904d0000000000000"},
	{"ns1.example.com.", 0, 16, false, "192.0.2.1", "NODATA at the SOA's MNAME: compressed into the question",
	  "123485000001000000010000036e7331076578616d706c6503636f6d00001000"
	  "01c010000600010000012c0023c00c0a686f73746d6173746572c01078c40465"
	  "00001c2000000e10001275000000012c"},
	{"x.hostmaster.example.com.", 0, 1, false, "192.0.2.1", "below the SOA's RNAME",
	  "12348503000100000001000001780a686f73746d6173746572076578616d706c"
	  "6503636f6d0000010001c019000600010000012c001c036e7331c019c00e78c4"
	  "046500001c2000000e10001275000000012c"},
	{"example.com.", 0, 33, false, "192.0.2.1", "NODATA at the apex",
	  "123485000001000000010000076578616d706c6503636f6d0000210001c00c00"
	  "0600010000012c0027036e7331c00c0a686f73746d6173746572c00c78c40465"
	  "00001c2000000e10001275000000012c"},
	{"nope.example.net.", 0, 1, false, "192.0.2.1", "MNAME outside the zone",
	  "123485030001000000010000046e6f7065076578616d706c65036e6574000001"
	  "0001c011000600010000003c0032036e7331076578616d706c6503636f6d000a"
	  "686f73746d6173746572c0320000000100001c2000000e10001275000000003c"},
	{"nope.sub2.example.com.", 0, 1, true, "192.0.2.1", "MNAME in the parent zone",
	  "123485030001000000010001046e6f70650473756232076578616d706c650363"
	  "6f6d0000010001c01100060001000000780027036e7331c0160a686f73746d61"
	  "73746572c0160000000100001c2000000e10001275000000007800002904d000"
	  "0000000000"},
	{NULL, 58, 1, false, "192.0.2.1", "60 labels: the compression table holds them all",
	  "1234850300010000000100000161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "076578616d706c6503636f6d0000010001c080000600010000012c0027036e73"
	  "31c0800a686f73746d6173746572c08078c4046500001c2000000e1000127500"
	  "0000012c"},
	{NULL, 59, 1, false, "192.0.2.1", "61 labels",
	  "1234850300010000000100000161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161076578616d706c6503636f6d0000010001c082000600010000012c002703"
	  "6e7331c0820a686f73746d6173746572c08278c4046500001c2000000e100012"
	  "75000000012c"},
	{NULL, 60, 1, false, "192.0.2.1", "62 labels: the SOA's names no longer all fit the table",
	  "1234850300010000000100000161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "01610161076578616d706c6503636f6d0000010001c084000600010000012c00"
	  "27036e7331c0840a686f73746d6173746572c08478c4046500001c2000000e10"
	  "001275000000012c"},
	{NULL, 100, 1, false, "192.0.2.1", "102 labels",
	  "1234850300010000000100000161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161016101610161016101610161"
	  "0161016101610161016101610161016101610161076578616d706c6503636f6d"
	  "0000010001076578616d706c6503636f6d00000600010000012c003d036e7331"
	  "076578616d706c6503636f6d000a686f73746d6173746572076578616d706c65"
	  "03636f6d0078c4046500001c2000000e10001275000000012c"},
	{"www.example.com.", 0, 28, true, "192.0.2.200", "regional NODATA (apac has no IPv6 VIP)",
	  "12348500000100000001000103777777076578616d706c6503636f6d00001c00"
	  "01c010000600010000012c0027036e7331c0100a686f73746d6173746572c010"
	  "78c4046500001c2000000e10001275000000012c00002904d0000000000000"},
};

static void test_negative_bytes(void **state)
{
	for (size_t i = 0; i < sizeof(negative_cases) / sizeof(*negative_cases);
	     i++) {
		char name[512] = "";
		if (negative_cases[i].name != NULL)
			snprintf(name, sizeof(name), "%s", negative_cases[i].name);
		for (unsigned k = 0; k < negative_cases[i].a_labels; k++)
			strcat(name, "a.");
		if (negative_cases[i].name == NULL)
			strcat(name, "example.com.");
		struct pkt_opts o = {.edns = negative_cases[i].edns};
		size_t qlen = pkt_build(req, name, negative_cases[i].type,
					LDNS_RR_CLASS_IN, &o);
		process_raw(snap, req, qlen, negative_cases[i].from, QUERY_UDP);
		char got[2 * 1024 + 1] = "";
		for (size_t k = 0; k < resp_len && k < 1024; k++)
			snprintf(got + 2 * k, 3, "%02x", resp[k]);
		if (strcmp(got, negative_cases[i].hex) != 0)
			fail_msg("%s %u (%s):\n got  %s\n want %s", name,
				 negative_cases[i].type, negative_cases[i].what,
				 got, negative_cases[i].hex);
	}
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
		cmocka_unit_test(test_cookie_rfc9018_vectors),
		cmocka_unit_test(test_cookie_random_secret_kept),
		cmocka_unit_test(test_cookie_slip_and_badcookie),
		cmocka_unit_test(test_negative_bytes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
