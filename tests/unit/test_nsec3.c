/*
 * tests/unit/test_nsec3.c — NSEC3 primitives: SHA-1 against FIPS 180
 * vectors, the owner hashes of RFC 5155 Appendix A (and against ldns's
 * own ldns_nsec3_hash_name), the search for the matching or covering
 * NSEC3 in a sorted chain, and the closest encloser selection.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include <ldns/ldns.h>

#include "dname.h"
#include "nsec3.h"

static void hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

static void check_sha1(const char *msg, size_t len, const char *want)
{
	uint8_t h[NSEC3_HASH_LEN];
	char got[41];
	nsec3_sha1((const uint8_t *)msg, len, h);
	hex(h, sizeof(h), got);
	assert_string_equal(got, want);
}

static void test_sha1_vectors(void **state)
{
	(void)state;
	check_sha1("", 0, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	check_sha1("abc", 3, "a9993e364706816aba3e25717850c26c9cd0d89d");
	const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	check_sha1(m, strlen(m), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	// lengths around the 55/56/64-byte padding boundaries: 1,000,000 'a'
	// in pieces is too slow here; 64 'a' is the block edge
	char a[64];
	memset(a, 'a', sizeof(a));
	check_sha1(a, 64, "0098ba824b5c16427bd7a1122a5a442a25ec644d");
}

/* RFC 5155 Appendix A: salt aabbccdd, 12 iterations. */
static void test_rfc5155_hashes(void **state)
{
	(void)state;
	static const char *const v[][2] = {
		{"example.", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
		{"a.example.", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
		{"ns1.example.", "2t7b4g4vsa5smi47k61mv5bv1a22bojr"},
		{"w.example.", "k8udemvp1j2f7eg6jebps17vp3n8i58h"},
		{"*.w.example.", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
		{"x.y.w.example.", "2vptu5timamqttgl4luu9kg21e0aor3s"},
	};
	static const uint8_t salt[] = {0xaa, 0xbb, 0xcc, 0xdd};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t name[DNAME_MAX], h[NSEC3_HASH_LEN];
		char label[NSEC3_LABEL_LEN + 1] = {0};
		assert_true(dname_from_text(name, v[i][0], NULL) > 0);
		nsec3_hash(name, salt, sizeof(salt), 12, h);
		nsec3_label(h, label);
		assert_string_equal(label, v[i][1]);
	}
}

/* Our hash (query path) and ldns's (snapshot build) must agree. */
static void test_agrees_with_ldns(void **state)
{
	(void)state;
	static const char *const names[] = {"example.com.", "www.example.com.",
					    "*.wild.example.com.", "x.y.z.test."};
	static const uint8_t salt[] = {0x01, 0x02};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		for (uint16_t it = 0; it <= 3; it += 3)
			for (size_t sl = 0; sl <= 2; sl += 2) {
				uint8_t name[DNAME_MAX], h[NSEC3_HASH_LEN];
				char mine[NSEC3_LABEL_LEN + 1] = {0};
				assert_true(dname_from_text(name, names[i],
							    NULL) > 0);
				nsec3_hash(name, salt, sl, it, h);
				nsec3_label(h, mine);
				ldns_rdf *n = ldns_dname_new_frm_str(names[i]);
				ldns_rdf *l = ldns_nsec3_hash_name(
					n, 1, it, (uint8_t)sl, salt);
				assert_non_null(l);
				char *text = ldns_rdf2str(l);
				// "label." : compare the label
				assert_int_equal(strlen(text),
						 NSEC3_LABEL_LEN + 1);
				assert_memory_equal(text, mine,
						    NSEC3_LABEL_LEN);
				free(text);
				ldns_rdf_deep_free(l);
				ldns_rdf_deep_free(n);
			}
}

static void test_find(void **state)
{
	(void)state;
	uint8_t chain[3][NSEC3_HASH_LEN] = {{0}};
	chain[0][0] = 10;
	chain[1][0] = 20;
	chain[2][0] = 30;
	uint8_t h[NSEC3_HASH_LEN] = {0};
	int match = -1;
	h[0] = 5; // below all: the last one covers (wrap)
	assert_int_equal(nsec3_find(chain, 3, NSEC3_HASH_LEN, h, &match), 2);
	assert_int_equal(match, 0);
	h[0] = 10;
	assert_int_equal(nsec3_find(chain, 3, NSEC3_HASH_LEN, h, &match), 0);
	assert_int_equal(match, 1);
	h[0] = 20;
	h[19] = 1; // just above 20
	assert_int_equal(nsec3_find(chain, 3, NSEC3_HASH_LEN, h, &match), 1);
	assert_int_equal(match, 0);
	h[0] = 30;
	h[19] = 0;
	assert_int_equal(nsec3_find(chain, 3, NSEC3_HASH_LEN, h, &match), 2);
	assert_int_equal(match, 1);
	h[0] = 200; // above all: the last one covers
	assert_int_equal(nsec3_find(chain, 3, NSEC3_HASH_LEN, h, &match), 2);
	assert_int_equal(match, 0);
	assert_int_equal(nsec3_find(chain, 1, NSEC3_HASH_LEN, h, &match), 0);
	assert_int_equal(match, 0);
}

/* Names that exist: example., b.example., a.b.example. (as a zone). */
static int exists(const void *ctx, const uint8_t *name)
{
	(void)ctx;
	static const char *const have[] = {"example.", "b.example.",
					   "a.b.example."};
	for (size_t i = 0; i < 3; i++) {
		uint8_t n[DNAME_MAX];
		dname_from_text(n, have[i], NULL);
		if (dname_equal(n, name))
			return 1;
	}
	return 0;
}

static void check_ce(const char *qname, const char *want_ce,
		     const char *want_nc)
{
	uint8_t q[DNAME_MAX], ce[DNAME_MAX], nc[DNAME_MAX];
	const uint8_t *next = NULL;
	dname_from_text(q, qname, NULL);
	dname_from_text(ce, want_ce, NULL);
	const uint8_t *got = nsec3_closest_encloser(q, 1, exists, NULL, &next);
	assert_true(dname_equal(got, ce));
	if (want_nc == NULL) {
		assert_null(next);
		return;
	}
	dname_from_text(nc, want_nc, NULL);
	assert_non_null(next);
	assert_true(dname_equal(next, nc));
}

static void test_closest_encloser(void **state)
{
	(void)state;
	check_ce("x.example.", "example.", "x.example.");
	check_ce("x.y.z.example.", "example.", "z.example.");
	check_ce("x.b.example.", "b.example.", "x.b.example.");
	check_ce("q.x.a.b.example.", "a.b.example.", "x.a.b.example.");
	check_ce("a.b.example.", "a.b.example.", NULL); // exists
	check_ce("example.", "example.", NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_vectors),
		cmocka_unit_test(test_rfc5155_hashes),
		cmocka_unit_test(test_agrees_with_ldns),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_closest_encloser),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
