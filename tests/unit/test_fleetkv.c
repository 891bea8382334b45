/*
 * tests/unit/test_fleetkv.c — the fleet's etcd values: the bounded JSON
 * reader (escapes, limits, every truncation of a document), base64,
 * times, the value schema (each field's error names the key, format and
 * parse agree, mutated values never crash), an etcd answer's key-values,
 * and the `fleet:` config keys with their FILE:LINE errors.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "diag.h"
#include "fleetkv.h"
#include "json.h"

#define KEY "/geovip/T/override/emea"
#define SHED                                                              \
	"{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\",\"percent\":" \
	"12.5,\"expires\":\"2026-11-29T20:00:00Z\",\"reason\":\"PoP "         \
	"work\",\"who\":\"ops@host\"}"

/* ---- JSON ----------------------------------------------------------- */

static void test_json_members(void **state)
{
	(void)state;
	const char *t = " {\"a\": [1, -2.5e3, {\"x\": null}], \"b\": "
			"\"caf\\u00e9 \\ud83d\\ude00\\n\", \"c\": true } ";
	struct json_tok toks[32];
	struct json j;
	size_t pos;
	assert_int_equal(json_parse(&j, t, strlen(t), toks, 32, &pos), 0);
	assert_true(json_is(&j, 0, JSON_OBJECT));
	assert_int_equal(j.toks[0].size, 3);
	int a = json_member(&j, 0, "a");
	assert_true(json_is(&j, a, JSON_ARRAY));
	assert_int_equal(j.toks[a].size, 3);
	char buf[64];
	assert_int_equal(json_raw(&j, a + 2, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "-2.5e3");
	assert_true(json_is(&j, json_member(&j, 0, "c"), JSON_TRUE));
	assert_int_equal(json_member(&j, 0, "x"), -1); // not at the top
	int b = json_member(&j, 0, "b");
	assert_true(json_string(&j, b, buf, sizeof(buf)) > 0);
	assert_string_equal(buf, "caf\xc3\xa9 \xf0\x9f\x98\x80\n");
	// too small a buffer, \u0000
	assert_int_equal(json_string(&j, b, buf, 4), -1);
	const char *nul = "\"a\\u0000b\"";
	assert_int_equal(json_parse(&j, nul, strlen(nul), toks, 32, &pos), 0);
	assert_int_equal(json_string(&j, 0, buf, sizeof(buf)), -1);
}

static void test_json_refused(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",	    "{",	"{\"a\"}",     "{\"a\":}",  "[1,]",
		"[01]",	    "1.",	"-",	       "1e",	    "\"a",
		"\"\\x\"",  "\"\\u12\"", "{a:1}",	"tru",	    "nul",
		"\"\x01\"", "[1 2]",	"{\"a\":1,}", "{} {}",	    "[1]]",
	};
	struct json_tok toks[16];
	struct json j;
	size_t pos;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json_parse(&j, bad[i], strlen(bad[i]), toks, 16, &pos) ==
		    0)
			fail_msg("accepted '%s'", bad[i]);
		assert_int_equal(j.count, 0);
	}
	// depth: 32 levels pass, 33 do not
	char deep[80];
	memset(deep, '[', 33);
	memset(deep + 33, ']', 33);
	struct json_tok many[64];
	assert_int_equal(json_parse(&j, deep + 1, 64, many, 64, &pos), 0);
	assert_int_equal(json_parse(&j, deep, 66, many, 64, &pos),
			 JSON_E_DEPTH);
	// tokens
	assert_int_equal(json_parse(&j, "[1,2,3]", 7, toks, 3, &pos),
			 JSON_E_TOKENS);
	assert_int_equal(json_parse(&j, "1 2", 3, toks, 3, &pos),
			 JSON_E_TRAIL);
	assert_string_equal(json_strerror(JSON_E_DEPTH), "nested too deeply");
}

// Every proper prefix of a document is refused, none read out of bounds
// (the prefix is copied to a buffer of exactly its length).
static void test_json_truncated(void **state)
{
	(void)state;
	const char *t = SHED;
	size_t n = strlen(t);
	struct json_tok toks[64];
	struct json j;
	size_t pos;
	for (size_t len = 0; len < n; len++) {
		char *copy = malloc(len + 1);
		assert_non_null(copy);
		memcpy(copy, t, len);
		assert_int_not_equal(
			json_parse(&j, copy, len, toks, 64, &pos), 0);
		free(copy);
	}
	assert_int_equal(json_parse(&j, t, n, toks, 64, &pos), 0);
}

static void test_json_quote(void **state)
{
	(void)state;
	char buf[64];
	assert_int_equal(json_quote("a\"b\\c\n", buf, sizeof(buf)), 15);
	assert_string_equal(buf, "\"a\\\"b\\\\c\\u000a\"");
	assert_int_equal(json_quote("abcdef", buf, 8), -1);
}

/* ---- base64, times, numbers ----------------------------------------- */

static void test_base64(void **state)
{
	(void)state;
	char enc[32], dec[32];
	static const char *const plain[] = {"", "f", "fo", "foo", "foob",
					    "/geovip/PROD/"};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		int n = fleetkv_b64_encode(plain[i], strlen(plain[i]), enc,
					   sizeof(enc));
		assert_true(n >= 0);
		int m = fleetkv_b64_decode(enc, (size_t)n, dec, sizeof(dec));
		assert_int_equal(m, strlen(plain[i]));
		assert_memory_equal(dec, plain[i], (size_t)m);
	}
	assert_int_equal(fleetkv_b64_encode("foo", 3, enc, 4), -1);
	static const char *const bad[] = {"Zm9", "Zm9v!A==", "Z===", "=m9v",
					  "Zm=v"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fleetkv_b64_decode(bad[i], strlen(bad[i]),
						    dec, sizeof(dec)),
				 -1);
	assert_int_equal(fleetkv_b64_decode("Zm9vYg==", 8, dec, 3), -1);
}

static void test_times_numbers(void **state)
{
	(void)state;
	int64_t ms;
	assert_int_equal(fleetkv_time_parse("2026-11-29T20:00:00Z", &ms), 0);
	assert_int_equal(ms, 1795982400000LL);
	static const char *const bad[] = {
		"2026-02-31T00:00:00Z", "2026-11-29 20:00:00Z",
		"2026-11-29T20:00:00",	"2026-11-29T20:00:00+01:00",
		"2026-11-29T24:00:00Z", "1969-12-31T23:59:59Z",
		"2026-1-29T20:00:00Z ", "+026-11-29T20:00:00Z",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(fleetkv_time_parse(bad[i], &ms), -1);
	assert_int_equal(fleetkv_percent_parse("12.5"), 1250);
	assert_int_equal(fleetkv_percent_parse("100"), 10000);
	assert_int_equal(fleetkv_percent_parse("0.01"), 1);
	assert_int_equal(fleetkv_percent_parse("150"), -1);
	assert_int_equal(fleetkv_percent_parse("0"), -1);
	assert_int_equal(fleetkv_percent_parse("5e1"), -1);
	assert_int_equal(fleetkv_duration_parse("90s"), 90);
	assert_int_equal(fleetkv_duration_parse("2h"), 7200);
	assert_int_equal(fleetkv_duration_parse("365d"), 365 * 86400);
	assert_int_equal(fleetkv_duration_parse("366d"), -1);
	assert_int_equal(fleetkv_duration_parse("90"), -1);
	assert_int_equal(fleetkv_duration_parse("-5s"), -1);
	assert_int_equal(fleetkv_duration_parse("0m"), -1);
}

/* ---- the value schema ----------------------------------------------- */

static void test_value_valid(void **state)
{
	(void)state;
	struct diag *d = diag_new();
	struct fleetkv_value v;
	assert_int_equal(fleetkv_value_parse(KEY, SHED, strlen(SHED), &v, d),
			 0);
	assert_int_equal(v.kind, FLEETKV_SHED);
	assert_string_equal(v.region, "emea");
	assert_string_equal(v.to, "apac");
	assert_int_equal(v.bp, 1250);
	assert_int_equal(v.expires_ms, 1795982400000LL);
	assert_string_equal(v.reason, "PoP work");
	assert_string_equal(v.who, "ops@host");
	// written and read back: the same value
	char buf[FLEETKV_VALUE_MAX + 1];
	struct fleetkv_value back;
	int n = fleetkv_value_format(&v, buf, sizeof(buf));
	assert_true(n > 0);
	assert_int_equal(fleetkv_value_parse(KEY, buf, (size_t)n, &back, d),
			 0);
	assert_memory_equal(&v, &back, sizeof(v));
	const char *drain =
		"{\"kind\":\"drain\",\"region\":\"emea\",\"to\":\"apac\","
		"\"expires\":\"2026-11-29T20:00:00Z\",\"reason\":\"r\","
		"\"who\":\"w\"}";
	assert_int_equal(
		fleetkv_value_parse(KEY, drain, strlen(drain), &v, d), 0);
	assert_int_equal(v.bp, 10000);
	// no "to": spread by capacity; written back without it
	const char *spread =
		"{\"kind\":\"drain\",\"region\":\"emea\",\"expires\":"
		"\"2026-11-29T20:00:00Z\",\"reason\":\"r\",\"who\":\"w\"}";
	assert_int_equal(
		fleetkv_value_parse(KEY, spread, strlen(spread), &v, d), 0);
	assert_int_equal(v.kind, FLEETKV_DRAIN);
	assert_string_equal(v.to, "");
	assert_int_equal(v.bp, 10000);
	n = fleetkv_value_format(&v, buf, sizeof(buf));
	assert_int_equal(n, (int)strlen(spread));
	assert_string_equal(buf, spread);
	const char *shed =
		"{\"kind\":\"shed\",\"region\":\"emea\",\"percent\":25,"
		"\"expires\":\"2026-11-29T20:00:00Z\",\"reason\":\"r\","
		"\"who\":\"w\"}";
	assert_int_equal(fleetkv_value_parse(KEY, shed, strlen(shed), &v, d),
			 0);
	assert_string_equal(v.to, "");
	assert_int_equal(v.bp, 2500);
	n = fleetkv_value_format(&v, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, shed);
	// health with expires and reason: written and read back
	const char *hx = "{\"kind\":\"health\",\"region\":\"emea\","
			 "\"state\":\"up\",\"expires\":"
			 "\"2026-11-29T20:00:00Z\",\"reason\":\"ok now\","
			 "\"who\":\"w\"}";
	assert_int_equal(fleetkv_value_parse(KEY, hx, strlen(hx), &v, d), 0);
	assert_false(v.down);
	assert_int_equal(v.expires_ms, 1795982400000LL);
	n = fleetkv_value_format(&v, buf, sizeof(buf));
	assert_true(n > 0);
	assert_string_equal(buf, hx);
	const char *health = "{\"kind\":\"health\",\"region\":\"emea\","
			     "\"state\":\"down\",\"who\":\"w\"}";
	assert_int_equal(
		fleetkv_value_parse(KEY, health, strlen(health), &v, d), 0);
	assert_true(v.down);
	assert_int_equal(v.expires_ms, 0);
	assert_int_equal(diag_count(d), 0);
	diag_free(d);
}

// value must be refused with a message "KEY: ...phrase...".
static void value_refused(const char *value, const char *phrase)
{
	struct diag *d = diag_new();
	struct fleetkv_value v;
	assert_int_equal(
		fleetkv_value_parse(KEY, value, strlen(value), &v, d), -1);
	assert_int_equal(diag_count(d), 1);
	const char *m = diag_message(d, 0);
	if (strncmp(m, KEY ": ", strlen(KEY) + 2) != 0 ||
	    strstr(m, phrase) == NULL)
		fail_msg("'%s': expected '%s', got '%s'", value, phrase, m);
	diag_free(d);
}

#define E ",\"expires\":\"2026-11-29T20:00:00Z\",\"reason\":\"r\",\"who\":\"w\""

static void test_value_refused(void **state)
{
	(void)state;
	value_refused("not json", "not a JSON object (not valid JSON at byte 0)");
	value_refused("[1]", "not a JSON object (another value");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":50,\"colour\":1" E "}",
		      "unknown field 'colour'");
	value_refused("{\"kind\":\"move\",\"region\":\"emea\"}",
		      "kind 'move' is not shed, drain or health");
	value_refused("{\"region\":\"emea\"}", "'kind' is missing");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":150" E "}",
		      "'percent' must be a number above 0 and at most 100");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":\"50\"" E "}",
		      "'percent' must be a number");
	value_refused("{\"kind\":\"drain\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":50" E "}",
		      "a drain moves 100 percent");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"emea\","
		      "\"percent\":50" E "}",
		      "cannot shed to itself");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":50,\"expires\":\"tomorrow\",\"reason\":\"r\","
		      "\"who\":\"w\"}",
		      "'expires' must be a UTC time");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":50,\"expires\":\"2026-11-29T20:00:00Z\","
		      "\"reason\":\"r\"}",
		      "'who' is missing");
	value_refused("{\"kind\":\"shed\",\"region\":\"em ea\",\"to\":\"apac\","
		      "\"percent\":50" E "}",
		      "'region' must be 1 to 63 bytes of printable text "
		      "without spaces");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"percent\":50,\"expires\":\"2026-11-29T20:00:00Z\","
		      "\"reason\":\"a\\nb\",\"who\":\"w\"}",
		      "'reason' must be 1 to 200 bytes of printable text");
	value_refused("{\"kind\":\"health\",\"region\":\"emea\",\"state\":"
		      "\"sideways\",\"who\":\"w\"}",
		      "'state' must be up or down");
	value_refused("{\"kind\":\"health\",\"region\":\"emea\",\"to\":\"apac\","
		      "\"state\":\"down\",\"who\":\"w\"}",
		      "a health value has no 'to'");
	value_refused("{\"kind\":\"health\",\"region\":\"emea\",\"percent\":"
		      "5,\"state\":\"down\",\"who\":\"w\"}",
		      "a health value has no 'percent'");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\",\"to\":\"\","
		      "\"percent\":50" E "}",
		      "'to' must be 1 to 63 bytes");
	value_refused("{\"kind\":\"shed\",\"region\":\"emea\"" E "}",
		      "'percent' must be a number");
	value_refused("{\"kind\":\"health\",\"region\":\"emea\",\"state\":"
		      "\"down\",\"expires\":\"soon\",\"who\":\"w\"}",
		      "'expires' must be a UTC time");
	value_refused("{\"kind\":\"shed\",\"region\":1,\"to\":\"apac\"}",
		      "'region' must be a string");
	char big[FLEETKV_VALUE_MAX + 16];
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	value_refused(big, "value longer than 4096 bytes");
}

// Random byte changes to a valid value: parsed or refused, never a crash
// (ASan and valgrind runs of make check watch the reads).
static void test_value_mutated(void **state)
{
	(void)state;
	srand(7);
	const char *base = SHED;
	size_t n = strlen(base);
	struct diag *d = diag_new();
	unsigned refused = 0;
	for (int round = 0; round < 20000; round++) {
		char *buf = malloc(n);
		assert_non_null(buf);
		memcpy(buf, base, n);
		for (int k = 0; k < 1 + round % 4; k++)
			buf[rand() % (int)n] = (char)(rand() % 256);
		struct fleetkv_value v;
		if (fleetkv_value_parse(KEY, buf, n, &v, d) < 0)
			refused++;
		free(buf);
	}
	assert_true(refused > 10000);
	diag_free(d);
}

/* ---- etcd answers --------------------------------------------------- */

static void test_kv(void **state)
{
	(void)state;
	// etcd 3.4's answer to a range, with key /geovip/T/a = {"x":1}
	const char *t = "{\"header\":{\"revision\":\"12\"},\"kvs\":[{\"key\":"
			"\"L2dlb3ZpcC9UL2E=\",\"create_revision\":\"2\","
			"\"value\":\"eyJ4IjoxfQ==\"},{\"key\":\"L2dlb3ZpcC9"
			"UL2I=\",\"value\":\"!!\"}],\"count\":\"2\"}";
	struct json_tok toks[64];
	struct json j;
	size_t pos, len;
	assert_int_equal(json_parse(&j, t, strlen(t), toks, 64, &pos), 0);
	assert_int_equal(fleetkv_int(&j, json_member(&j, json_member(&j, 0,
								    "header"),
						     "revision")),
			 12);
	int kvs = json_member(&j, 0, "kvs");
	char key[FLEETKV_KEY_MAX + 1], value[FLEETKV_VALUE_MAX + 1];
	assert_int_equal(fleetkv_kv(&j, kvs + 1, key, value, &len), 0);
	assert_string_equal(key, "/geovip/T/a");
	assert_string_equal(value, "{\"x\":1}");
	assert_int_equal(len, 7);
	int second = (int)j.toks[kvs + 1].next;
	assert_int_equal(fleetkv_kv(&j, second, key, value, &len), -2);
	assert_string_equal(key, "/geovip/T/b");
	assert_int_equal(fleetkv_kv(&j, 0, key, value, &len), -1);
	char body[512];
	assert_true(fleetkv_range_body("/geovip/T", 5, body, sizeof(body)) >
		    0);
	// "/geovip/T/" and "/geovip/T0"
	assert_string_equal(body, "{\"key\":\"L2dlb3ZpcC9ULw==\","
				  "\"range_end\":\"L2dlb3ZpcC9UMA==\","
				  "\"limit\":\"5\"}");
	assert_true(fleetkv_watch_body("/geovip/T", 13, body, sizeof(body)) >
		    0);
	assert_non_null(strstr(body, "\"start_revision\":\"13\""));
}

/* ---- the `fleet:` config -------------------------------------------- */

#define BASE                                        \
	"listen: [127.0.0.1:5353]\n"                \
	"geoip: geo.mmdb\n"                         \
	"regions:\n"                                \
	"  a:\n"                                    \
	"    vips: [192.0.2.1]\n"                   \
	"default_region: a\n"                       \
	"zones:\n"                                  \
	"  - origin: example.com.\n"                \
	"    file: example.com.zone\n"              /* 9 lines */

static struct config *load(const char *fleet, struct diag *d)
{
	char yaml[2048];
	snprintf(yaml, sizeof(yaml), "%s%s", BASE, fleet);
	return config_load_text(yaml, strlen(yaml), "/tmp/t.yaml", d);
}

static void config_refused(const char *fleet, const char *want)
{
	struct diag *d = diag_new();
	struct config *cfg = load(fleet, d);
	bool found = false;
	for (size_t i = 0; i < diag_count(d); i++)
		found |= strstr(diag_message(d, i), want) != NULL;
	if (cfg != NULL || !found) {
		for (size_t i = 0; i < diag_count(d); i++)
			print_message("  diag: %s\n", diag_message(d, i));
		fail_msg("expected '%s'", want);
	}
	diag_free(d);
}

static void test_config(void **state)
{
	(void)state;
	struct diag *d = diag_new();
	struct config *cfg = load("fleet:\n"
				  "  etcd: [\"http://127.0.0.1:2379\", "
				  "\"http://[::1]:2379/\", "
				  "\"http://etcd-1.example:12379\"]\n"
				  "  prefix: /geovip/PROD\n",
				  d);
	assert_non_null(cfg);
	assert_int_equal(cfg->fleet.line, 11); // the mapping's first line
	assert_int_equal(cfg->fleet.etcd_count, 3);
	assert_string_equal(cfg->fleet.etcd[0].host, "127.0.0.1");
	assert_int_equal(cfg->fleet.etcd[0].port, 2379);
	assert_string_equal(cfg->fleet.etcd[1].host, "::1");
	assert_string_equal(cfg->fleet.etcd[2].host, "etcd-1.example");
	assert_int_equal(cfg->fleet.etcd[2].port, 12379);
	assert_string_equal(cfg->fleet.prefix, "/geovip/PROD");
	config_free(cfg);
	cfg = load("", d);
	assert_int_equal(cfg->fleet.line, 0);
	config_free(cfg);
	diag_free(d);

	config_refused("fleet:\n  etcd: [https://127.0.0.1:2379]\n"
		       "  prefix: /g\n",
		       "t.yaml:11: fleet.etcd: 'https://127.0.0.1:2379' is not "
		       "http://HOST:PORT");
	config_refused("fleet:\n  etcd: [http://127.0.0.1]\n  prefix: /g\n",
		       "t.yaml:11: fleet.etcd: 'http://127.0.0.1' is not");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:0]\n  prefix: /g\n",
		       "t.yaml:11: fleet.etcd: 'http://127.0.0.1:0'");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:70000]\n"
		       "  prefix: /g\n",
		       "'http://127.0.0.1:70000' is not");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:2379/v3]\n"
		       "  prefix: /g\n",
		       "'http://127.0.0.1:2379/v3' is not");
	config_refused("fleet:\n  etcd: [http://a b:1]\n  prefix: /g\n",
		       "is not http://HOST:PORT");
	config_refused("fleet:\n  etcd: []\n  prefix: /g\n",
		       "t.yaml:11: fleet.etcd must list 1 to 16 URLs");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:2379]\n"
		       "  prefix: geovip\n",
		       "t.yaml:12: fleet.prefix: 'geovip' must be 2 to 128");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:2379]\n"
		       "  prefix: /geovip/\n",
		       "fleet.prefix: '/geovip/' must be");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:2379]\n"
		       "  prefix: /a b\n",
		       "fleet.prefix: '/a b' must be");
	config_refused("fleet:\n  etcd: [http://127.0.0.1:2379]\n",
		       "prefix");
	config_refused("fleet:\n  prefix: /g\n  colour: red\n", "colour");
	config_refused("fleet: http://127.0.0.1:2379\n", "fleet");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_members),
		cmocka_unit_test(test_json_refused),
		cmocka_unit_test(test_json_truncated),
		cmocka_unit_test(test_json_quote),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_times_numbers),
		cmocka_unit_test(test_value_valid),
		cmocka_unit_test(test_value_refused),
		cmocka_unit_test(test_value_mutated),
		cmocka_unit_test(test_kv),
		cmocka_unit_test(test_config),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
