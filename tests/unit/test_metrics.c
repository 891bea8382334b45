/*
 * tests/unit/test_metrics.c — the metrics label indexes (qtype table,
 * rcodes, scope buckets) and the per-worker counting of struct query_result.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "metrics.h"

static void test_qtype_index(void **state)
{
	static const struct { uint16_t type; const char *name; } known[] = {
		{ 1, "A" }, { 2, "NS" }, { 5, "CNAME" }, { 6, "SOA" },
		{ 12, "PTR" }, { 15, "MX" }, { 16, "TXT" }, { 28, "AAAA" },
		{ 33, "SRV" }, { 43, "DS" }, { 48, "DNSKEY" }, { 64, "SVCB" },
		{ 65, "HTTPS" }, { 255, "ANY" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_string_equal(
			metrics_qtype_name(metrics_qtype_index(known[i].type)),
			known[i].name);
	const uint16_t others[] = { 0, 3, 99, 252, 256, 257, 65535 };
	for (size_t i = 0; i < sizeof(others) / sizeof(others[0]); i++)
		assert_int_equal(metrics_qtype_index(others[i]),
				 METRICS_QTYPES - 1);
}

static void test_rcode_and_scope_index(void **state)
{
	(void)state;
	assert_int_equal(metrics_rcode_index(0), 0);
	assert_int_equal(metrics_rcode_index(5), 5);
	assert_int_equal(metrics_rcode_index(16), 6);
	assert_int_equal(metrics_rcode_index(23), 7);
	assert_int_equal(metrics_rcode_index(9), METRICS_RCODES - 1);
	// upper bounds 0 8 16 24 32 48 56 64 96 128
	static const uint8_t scope[] = { 0, 1, 8, 9, 24, 25, 32, 33, 48, 49,
					 56, 57, 64, 65, 96, 97, 121, 128 };
	static const unsigned bucket[] = { 0, 1, 1, 2, 3, 4, 4, 5, 5, 6,
					   6, 7, 7, 8, 8, 9, 9, 9 };
	for (size_t i = 0; i < sizeof(scope); i++)
		assert_int_equal(metrics_scope_index(scope[i]), bucket[i]);
}

static uint64_t get(const atomic_uint_fast64_t *c)
{
	return atomic_load(c);
}

static void test_count(void **state)
{
	(void)state;
	struct metrics_counters m;
	memset(&m, 0, sizeof(m));
	struct query_result none = { .answered = false, .has_question = true,
				   .qtype = 1 };
	metrics_count(&m, &none); // nothing sent: nothing counted
	struct query_result stat = { .answered = true, .has_question = true,
				   .qtype = 6, .rcode = 0 };
	metrics_count(&m, &stat);
	struct query_result reg = {
		.answered = true, .has_question = true, .qtype = 1,
		.rcode = 0, .regional = true, .region = 2, .ecs = true,
		.reason = GEOMAP_BY_COUNTRY, .shed = true, .scope = 24,
	};
	metrics_count(&m, &reg);
	reg.region = 1000; // past METRICS_REGIONS: "other"
	reg.shed = false;
	reg.ecs = false;
	reg.scope = 121;
	reg.embedded_v4 = true;
	metrics_count(&m, &reg);
	assert_int_equal(get(&m.qtype[metrics_qtype_index(1)]), 2);
	assert_int_equal(get(&m.qtype[metrics_qtype_index(6)]), 1);
	assert_int_equal(get(&m.rcode[0]), 3);
	assert_int_equal(get(&m.region[2]), 1);
	assert_int_equal(get(&m.region[METRICS_REGIONS]), 1);
	assert_int_equal(get(&m.reason[GEOMAP_BY_COUNTRY]), 2);
	assert_int_equal(get(&m.reason[GEOMAP_REASON_COUNT]), 0);     // private
	assert_int_equal(get(&m.reason[GEOMAP_REASON_COUNT + 1]), 1); // embedded
	assert_int_equal(get(&m.reason[GEOMAP_REASON_COUNT + 2]), 1); // shed
	assert_int_equal(get(&m.ecs[0]), 1);
	assert_int_equal(get(&m.ecs[1]), 1);
	assert_int_equal(get(&m.scope[3]), 1);
	assert_int_equal(get(&m.scope[9]), 1);
	assert_int_equal(get(&m.scope_sum), 145);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qtype_index),
		cmocka_unit_test(test_rcode_and_scope_index),
		cmocka_unit_test(test_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
