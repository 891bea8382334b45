/*
 * tests/fuzz/fuzz_fleet.c — an etcd value as geovipd reads it from the
 * fleet prefix (fleetkv_value_parse), and the input as an etcd range or
 * watch answer whose key-values are decoded (json_parse, fleetkv_kv).
 */
#include "autoconf.h"

#include <stdbool.h>
#include <string.h>

#include "diag.h"
#include "fleetkv.h"
#include "json.h"
#include "fuzz.h"

#define FUZZ_KEY "/geovip/FUZZ/override/x"

static bool fuzz_fleet_printable(const char *s, bool spaces)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f ||
		    (!spaces && *s == ' '))
			return false;
	return true;
}

// A value read is refused exactly when an error was recorded; one kept is
// within the schema and survives format and parse unchanged.
static void fuzz_fleet_value(const uint8_t *data, size_t size)
{
	struct diag *d = diag_new();
	FUZZ_CHECK(d != NULL);
	struct fleetkv_value v;
	int rc = fleetkv_value_parse(FUZZ_KEY, (const char *)data, size, &v, d);
	FUZZ_CHECK((rc < 0) == (diag_count(d) == 1));
	if (rc < 0) {
		FUZZ_CHECK(strncmp(diag_message(d, 0), FUZZ_KEY ": ",
				   strlen(FUZZ_KEY) + 2) == 0);
		diag_free(d);
		return;
	}
	FUZZ_CHECK(v.kind == FLEETKV_SHED || v.kind == FLEETKV_DRAIN ||
		   v.kind == FLEETKV_HEALTH);
	FUZZ_CHECK(v.region[0] != '\0' && fuzz_fleet_printable(v.region, false));
	FUZZ_CHECK(v.who[0] != '\0' && fuzz_fleet_printable(v.who, true));
	FUZZ_CHECK(fuzz_fleet_printable(v.reason, true));
	if (v.kind != FLEETKV_HEALTH) {
		FUZZ_CHECK(v.bp >= 1 && v.bp <= 10000);
		FUZZ_CHECK(v.kind != FLEETKV_DRAIN || v.bp == 10000);
		FUZZ_CHECK(strcmp(v.region, v.to) != 0);
		FUZZ_CHECK(v.expires_ms > 0);
	}
	char buf[FLEETKV_VALUE_MAX + 1];
	struct fleetkv_value back;
	int n = fleetkv_value_format(&v, buf, sizeof(buf));
	FUZZ_CHECK(n > 0);
	FUZZ_CHECK(fleetkv_value_parse(FUZZ_KEY, buf, (size_t)n, &back, d) ==
		   0);
	FUZZ_CHECK(memcmp(&v, &back, sizeof(v)) == 0);
	diag_free(d);
}

// The input as an answer: every kv of "kvs" or of "result.events[].kv".
static void fuzz_fleet_answer(const uint8_t *data, size_t size)
{
	static struct json_tok toks[4096];
	struct json j;
	size_t pos;
	if (json_parse(&j, (const char *)data, size, toks, 4096, &pos) < 0) {
		FUZZ_CHECK(pos <= size);
		return;
	}
	FUZZ_CHECK(j.count >= 1 && j.toks[0].next == j.count);
	(void)fleetkv_int(&j, json_member(&j, json_member(&j, 0, "header"),
					  "revision"));
	int kvs = json_member(&j, 0, "kvs");
	if (!json_is(&j, kvs, JSON_ARRAY))
		return;
	uint32_t kv = (uint32_t)kvs + 1;
	for (uint32_t i = 0; i < j.toks[kvs].size; i++) {
		char key[FLEETKV_KEY_MAX + 1], value[FLEETKV_VALUE_MAX + 1];
		size_t len;
		int rc = fleetkv_kv(&j, (int)kv, key, value, &len);
		FUZZ_CHECK(rc == 0 || rc == -1 || rc == -2);
		if (rc == 0) {
			FUZZ_CHECK(strlen(key) > 0 &&
				   strlen(key) <= FLEETKV_KEY_MAX);
			FUZZ_CHECK(len <= FLEETKV_VALUE_MAX);
			fuzz_fleet_value((const uint8_t *)value, len);
		}
		FUZZ_CHECK(j.toks[kv].next > kv && j.toks[kv].next <= j.count);
		kv = j.toks[kv].next;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_fleet_value(data, size);
	fuzz_fleet_answer(data, size);
	return 0;
}
