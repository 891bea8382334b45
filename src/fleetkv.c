/*
 * src/fleetkv.c — the fleet's values in etcd: the schema checked field by
 * field (errors name the key), written back as JSON; base64 and RFC 3339
 * times; the bodies of the v3 gateway's range and watch requests.
 */
#include "autoconf.h"
#include "fleetkv.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "json.h"

/* Tokens in one value: eight fields and their keys, with room to spare
 * so that a value with extra fields gets "unknown field", not "too many". */
#define FLEETKV_TOKS 64

static const char *const fleetkv_fields[] = {
	"kind", "region", "to", "percent", "expires", "reason", "who", "state",
};

const char *fleetkv_kind_name(enum fleetkv_kind k)
{
	return k == FLEETKV_SHED    ? "shed"
	       : k == FLEETKV_DRAIN ? "drain"
				    : "health";
}

/* ---- times and numbers ---------------------------------------------- */

int fleetkv_time_parse(const char *s, int64_t *ms)
{
	int y, mo, d, h, mi, sec, n = 0;
	if (strlen(s) != 20 ||
	    sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &y, &mo, &d, &h, &mi, &sec,
		   &n) != 6 ||
	    n != 20)
		return -1;
	for (int i = 0; i < 19; i++)
		if ((i == 4 || i == 7)     ? s[i] != '-'
		    : i == 10              ? s[i] != 'T'
		    : (i == 13 || i == 16) ? s[i] != ':'
					   : (s[i] < '0' || s[i] > '9'))
			return -1;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 ||
	    mi > 59 || sec > 59)
		return -1;
	struct tm tm = {.tm_year = y - 1900,
			.tm_mon = mo - 1,
			.tm_mday = d,
			.tm_hour = h,
			.tm_min = mi,
			.tm_sec = sec};
	time_t t = timegm(&tm);
	// 31 February comes back as 3 March: refuse it
	if (t == (time_t)-1 || tm.tm_mday != d || tm.tm_mon != mo - 1)
		return -1;
	*ms = (int64_t)t * 1000;
	return 0;
}

int fleetkv_percent_parse(const char *s)
{
	unsigned whole = 0, frac = 0, digits = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9' && digits < 4; p++, digits++)
		whole = whole * 10 + (unsigned)(*p - '0');
	if (digits == 0)
		return -1;
	if (*p == '.') {
		unsigned fd = 0;
		for (p++; *p >= '0' && *p <= '9' && fd < 2; p++, fd++)
			frac = frac * 10 + (unsigned)(*p - '0');
		if (fd == 0)
			return -1;
		if (fd == 1)
			frac *= 10;
	}
	if (*p != '\0')
		return -1;
	unsigned bp = whole * 100 + frac;
	return bp >= 1 && bp <= 10000 ? (int)bp : -1;
}

long long fleetkv_duration_parse(const char *s)
{
	const long long max = 365LL * 86400;
	long long n = 0;
	const char *p = s;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (*p - '0');
		if (n > max)
			return -1;
	}
	if (p == s || p[0] == '\0' || p[1] != '\0')
		return -1;
	long long unit = *p == 's'   ? 1
			 : *p == 'm' ? 60
			 : *p == 'h' ? 3600
			 : *p == 'd' ? 86400
				     : 0;
	if (unit == 0 || n == 0 || n * unit > max)
		return -1;
	return n * unit;
}

int64_t fleetkv_int(const struct json *j, int tok)
{
	char buf[24];
	bool quoted = json_is(j, tok, JSON_STRING);
	if (!quoted && !json_is(j, tok, JSON_NUMBER))
		return -1;
	if ((quoted ? json_string(j, tok, buf, sizeof(buf))
		    : json_raw(j, tok, buf, sizeof(buf))) <= 0)
		return -1;
	char *end;
	errno = 0;
	long long v = strtoll(buf, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0 || buf[0] == '-' ||
	    buf[0] == '+')
		return -1;
	return (int64_t)v;
}

/* ---- base64 --------------------------------------------------------- */

static const char fleetkv_b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int fleetkv_b64_encode(const void *in, size_t n, char *out, size_t outlen)
{
	const unsigned char *p = in;
	size_t need = (n + 2) / 3 * 4 + 1, o = 0;
	if (need > outlen)
		return -1;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)p[i + 1] << 8;
		if (i + 2 < n)
			v |= p[i + 2];
		out[o++] = fleetkv_b64[v >> 18];
		out[o++] = fleetkv_b64[(v >> 12) & 63];
		out[o++] = i + 1 < n ? fleetkv_b64[(v >> 6) & 63] : '=';
		out[o++] = i + 2 < n ? fleetkv_b64[v & 63] : '=';
	}
	out[o] = '\0';
	return (int)o;
}

static int fleetkv_b64_digit(char c)
{
	const char *p = c != '\0' ? strchr(fleetkv_b64, c) : NULL;
	return p != NULL ? (int)(p - fleetkv_b64) : -1;
}

int fleetkv_b64_decode(const char *in, size_t n, char *out, size_t outlen)
{
	if (n % 4 != 0)
		return -1;
	size_t o = 0;
	for (size_t i = 0; i < n; i += 4) {
		int d[4], pad = 0;
		for (int k = 0; k < 4; k++) {
			bool last = i + 4 == n;
			if (last && k >= 2 && in[i + k] == '=' &&
			    (k == 3 || in[i + 3] == '=')) {
				d[k] = 0;
				pad++;
				continue;
			}
			d[k] = fleetkv_b64_digit(in[i + k]);
			if (d[k] < 0)
				return -1;
		}
		unsigned v = (unsigned)d[0] << 18 | (unsigned)d[1] << 12 |
			     (unsigned)d[2] << 6 | (unsigned)d[3];
		size_t bytes = (size_t)(3 - pad);
		if (o + bytes > outlen)
			return -1;
		unsigned char b[3] = {(unsigned char)(v >> 16),
				      (unsigned char)(v >> 8),
				      (unsigned char)v};
		memcpy(out + o, b, bytes);
		o += bytes;
	}
	return (int)o;
}

/* ---- requests and answers ------------------------------------------- */

// "PREFIX/" and the end of its range, "PREFIX0" ('/' + 1), in base64.
static int fleetkv_range_keys(const char *prefix, char *key, char *end,
			      size_t len)
{
	char k[FLEETKV_PREFIX_MAX + 2];
	size_t n = strlen(prefix);
	if (n > FLEETKV_PREFIX_MAX)
		return -1;
	memcpy(k, prefix, n);
	k[n] = '/';
	if (fleetkv_b64_encode(k, n + 1, key, len) < 0)
		return -1;
	k[n] = '0';
	return fleetkv_b64_encode(k, n + 1, end, len) < 0 ? -1 : 0;
}

int fleetkv_range_body(const char *prefix, unsigned limit, char *buf,
		       size_t len)
{
	char key[256], end[256];
	if (fleetkv_range_keys(prefix, key, end, sizeof(key)) < 0)
		return -1;
	int n = snprintf(buf, len,
			 "{\"key\":\"%s\",\"range_end\":\"%s\",\"limit\":"
			 "\"%u\"}",
			 key, end, limit);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int fleetkv_watch_body(const char *prefix, int64_t start_rev, char *buf,
		       size_t len)
{
	char key[256], end[256];
	if (fleetkv_range_keys(prefix, key, end, sizeof(key)) < 0)
		return -1;
	int n = snprintf(buf, len,
			 "{\"create_request\":{\"key\":\"%s\",\"range_end\":"
			 "\"%s\",\"start_revision\":\"%" PRId64 "\"}}",
			 key, end, start_rev);
	return n < 0 || (size_t)n >= len ? -1 : n;
}

int fleetkv_kv(const struct json *j, int kv, char *key, char *value,
	       size_t *value_len)
{
	// base64 of the longest key and value, and their NULs
	char b64[(FLEETKV_VALUE_MAX + 2) / 3 * 4 + 8];
	int n = json_string(j, json_member(j, kv, "key"), b64, sizeof(b64));
	int k = n > 0 ? fleetkv_b64_decode(b64, (size_t)n, key, FLEETKV_KEY_MAX)
		      : -1;
	if (k <= 0 || memchr(key, '\0', (size_t)k) != NULL)
		return -1;
	key[k] = '\0';
	*value_len = 0;
	value[0] = '\0';
	int vt = json_member(j, kv, "value");
	if (vt < 0)
		return 0; // an empty value, or a deleted key
	n = json_string(j, vt, b64, sizeof(b64));
	int v = n >= 0 ? fleetkv_b64_decode(b64, (size_t)n, value,
					    FLEETKV_VALUE_MAX)
		       : -1;
	if (v < 0)
		return -2;
	value[v] = '\0';
	*value_len = (size_t)v;
	return 0;
}

/* ---- the value schema ----------------------------------------------- */

// Text with no control characters (they would break the log line).
static bool fleetkv_printable(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

// String field name of object 0 into buf (1 .. len - 1 bytes, printable;
// words: no space either). 0; 1 when absent and optional; -1 reported.
static int fleetkv_text(const char *key, const struct json *j, const char *name,
			char *buf, size_t len, bool required, bool word,
			struct diag *d)
{
	int t = json_member(j, 0, name);
	if (t < 0) {
		if (!required)
			return 1;
		diag_error(d, key, 0, "'%s' is missing", name);
		return -1;
	}
	if (!json_is(j, t, JSON_STRING)) {
		diag_error(d, key, 0, "'%s' must be a string", name);
		return -1;
	}
	int n = json_string(j, t, buf, len);
	if (n <= 0 || !fleetkv_printable(buf) ||
	    (word && strchr(buf, ' ') != NULL)) {
		diag_error(d, key, 0,
			   "'%s' must be 1 to %zu bytes of printable text%s",
			   name, len - 1, word ? " without spaces" : "");
		return -1;
	}
	return 0;
}

// Every member is one of the schema's fields.
static int fleetkv_known(const char *key, const struct json *j, struct diag *d)
{
	uint32_t i = 1;
	for (uint32_t m = 0; m < j->toks[0].size; m++) {
		char name[32] = "";
		(void)json_string(j, (int)i, name, sizeof(name));
		bool known = false;
		for (size_t f = 0;
		     f < sizeof(fleetkv_fields) / sizeof(fleetkv_fields[0]);
		     f++)
			known |= strcmp(name, fleetkv_fields[f]) == 0;
		if (!known) {
			diag_error(d, key, 0,
				   "unknown field '%s' (fields: kind, region, "
				   "to, percent, expires, reason, who, state)",
				   name);
			return -1;
		}
		i = j->toks[i + 1].next;
	}
	return 0;
}

// Fields that kind k must not have.
static int fleetkv_absent(const char *key, const struct json *j,
			  enum fleetkv_kind k, struct diag *d)
{
	const char *bad =
		k == FLEETKV_HEALTH
			? (json_member(j, 0, "to") >= 0        ? "to"
			   : json_member(j, 0, "percent") >= 0 ? "percent"
							       : NULL)
		: json_member(j, 0, "state") >= 0 ? "state"
						  : NULL;
	if (bad == NULL)
		return 0;
	diag_error(d, key, 0, "a %s value has no '%s'", fleetkv_kind_name(k),
		   bad);
	return -1;
}

static int fleetkv_kind_parse(const char *key, const struct json *j,
			      struct fleetkv_value *v, struct diag *d)
{
	char kind[16];
	if (fleetkv_text(key, j, "kind", kind, sizeof(kind), true, true, d) < 0)
		return -1;
	v->kind = strcmp(kind, "shed") == 0     ? FLEETKV_SHED
		  : strcmp(kind, "drain") == 0  ? FLEETKV_DRAIN
		  : strcmp(kind, "health") == 0 ? FLEETKV_HEALTH
						: 0;
	if (v->kind == 0) {
		diag_error(d, key, 0, "kind '%s' is not shed, drain or health",
			   kind);
		return -1;
	}
	return fleetkv_absent(key, j, v->kind, d);
}

static int fleetkv_percent(const char *key, const struct json *j,
			   struct fleetkv_value *v, struct diag *d)
{
	int t = json_member(j, 0, "percent");
	char text[16];
	if (t < 0 && v->kind == FLEETKV_DRAIN) {
		v->bp = 10000;
		return 0;
	}
	int bp = json_is(j, t, JSON_NUMBER) &&
				 json_raw(j, t, text, sizeof(text)) > 0
			 ? fleetkv_percent_parse(text)
			 : -1;
	if (bp < 0 || (v->kind == FLEETKV_DRAIN && bp != 10000)) {
		diag_error(d, key, 0,
			   v->kind == FLEETKV_DRAIN
				   ? "a drain moves 100 percent: leave "
				     "'percent' out"
				   : "'percent' must be a number above 0 and "
				     "at most 100, with up to two decimals "
				     "(e.g. 25 or 12.5)");
		return -1;
	}
	v->bp = (uint16_t)bp;
	return 0;
}

static int fleetkv_state(const char *key, const struct json *j,
			 struct fleetkv_value *v, struct diag *d)
{
	char state[16];
	if (fleetkv_text(key, j, "state", state, sizeof(state), true, true, d) <
	    0)
		return -1;
	if (strcmp(state, "up") != 0 && strcmp(state, "down") != 0) {
		diag_error(d, key, 0, "'state' must be up or down, not '%s'",
			   state);
		return -1;
	}
	v->down = state[0] == 'd';
	return 0;
}

static int fleetkv_expires(const char *key, const struct json *j,
			   struct fleetkv_value *v, struct diag *d)
{
	char text[32];
	int rc = fleetkv_text(key, j, "expires", text, sizeof(text),
			      v->kind != FLEETKV_HEALTH, true, d);
	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if (fleetkv_time_parse(text, &v->expires_ms) < 0) {
		diag_error(d, key, 0,
			   "'expires' must be a UTC time such as "
			   "2026-11-29T20:00:00Z, not '%s'",
			   text);
		return -1;
	}
	return 0;
}

int fleetkv_value_parse(const char *key, const char *text, size_t len,
			struct fleetkv_value *v, struct diag *d)
{
	memset(v, 0, sizeof(*v));
	if (len > FLEETKV_VALUE_MAX) {
		diag_error(d, key, 0, "value longer than %d bytes",
			   FLEETKV_VALUE_MAX);
		return -1;
	}
	struct json_tok toks[FLEETKV_TOKS];
	struct json j;
	size_t pos;
	int rc = json_parse(&j, text, len, toks, FLEETKV_TOKS, &pos);
	if (rc < 0 || !json_is(&j, 0, JSON_OBJECT)) {
		diag_error(d, key, 0,
			   "not a JSON object (%s at byte %zu); write e.g. "
			   "{\"kind\":\"shed\",\"region\":\"emea\",\"to\":"
			   "\"apac\",\"percent\":50,\"expires\":"
			   "\"2026-11-29T20:00:00Z\",\"reason\":\"...\","
			   "\"who\":\"...\"}",
			   rc < 0 ? json_strerror(rc) : "another value", pos);
		return -1;
	}
	bool moves = false;
	if (fleetkv_known(key, &j, d) < 0 ||
	    fleetkv_kind_parse(key, &j, v, d) < 0 ||
	    fleetkv_text(key, &j, "region", v->region, sizeof(v->region), true,
			 true, d) < 0)
		return -1;
	moves = v->kind != FLEETKV_HEALTH;
	// no "to": spread over the up regions by capacity
	if ((moves && (fleetkv_text(key, &j, "to", v->to, sizeof(v->to), false,
				    true, d) < 0 ||
		       fleetkv_percent(key, &j, v, d) < 0)) ||
	    (!moves && fleetkv_state(key, &j, v, d) < 0) ||
	    fleetkv_expires(key, &j, v, d) < 0 ||
	    fleetkv_text(key, &j, "reason", v->reason, sizeof(v->reason), moves,
			 false, d) < 0 ||
	    fleetkv_text(key, &j, "who", v->who, sizeof(v->who), true, false,
			 d) < 0)
		return -1;
	if (moves && strcmp(v->region, v->to) == 0) {
		diag_error(d, key, 0, "region '%s' cannot shed to itself",
			   v->region);
		return -1;
	}
	return 0;
}

// `"name":` and s quoted, after a comma unless first; -1 when full.
static int fleetkv_put(char *buf, size_t len, size_t *used, const char *name,
		       const char *s)
{
	char q[2 * OVERLAY_REASON_MAX * 3 + 8];
	if (json_quote(s, q, sizeof(q)) < 0)
		return -1;
	int n = snprintf(buf + *used, len - *used, "%s\"%s\":%s",
			 *used > 1 ? "," : "", name, q);
	if (n < 0 || (size_t)n >= len - *used)
		return -1;
	*used += (size_t)n;
	return 0;
}

int fleetkv_value_format(const struct fleetkv_value *v, char *buf, size_t len)
{
	size_t used = 0;
	char when[32], pct[16];
	if (len < 2)
		return -1;
	buf[used++] = '{';
	buf[used] = '\0';
	if (fleetkv_put(buf, len, &used, "kind", fleetkv_kind_name(v->kind)) <
		    0 ||
	    fleetkv_put(buf, len, &used, "region", v->region) < 0)
		return -1;
	if (v->kind == FLEETKV_HEALTH) {
		if (fleetkv_put(buf, len, &used, "state",
				v->down ? "down" : "up") < 0)
			return -1;
	} else if (v->to[0] != '\0' &&
		   fleetkv_put(buf, len, &used, "to", v->to) < 0) {
		return -1;
	}
	if (v->kind == FLEETKV_SHED) {
		if (v->bp % 100 != 0)
			snprintf(pct, sizeof(pct), "%u.%02u", v->bp / 100u,
				 v->bp % 100u);
		else
			snprintf(pct, sizeof(pct), "%u", v->bp / 100u);
		int n = snprintf(buf + used, len - used, ",\"percent\":%s",
				 pct);
		if (n < 0 || (size_t)n >= len - used)
			return -1;
		used += (size_t)n;
	}
	if (v->expires_ms > 0) {
		overlay_time_text(v->expires_ms, when, sizeof(when));
		if (fleetkv_put(buf, len, &used, "expires", when) < 0)
			return -1;
	}
	if ((v->reason[0] != '\0' &&
	     fleetkv_put(buf, len, &used, "reason", v->reason) < 0) ||
	    fleetkv_put(buf, len, &used, "who", v->who) < 0 || used + 2 > len)
		return -1;
	buf[used++] = '}';
	buf[used] = '\0';
	return (int)used;
}
