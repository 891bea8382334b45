/*
 * src/json.c — the bounded JSON reader: recursive descent with a depth
 * cap into a flat token array (no allocation), string unescaping with
 * \u escapes to UTF-8, and the escaper for strings written out.
 */
#include "autoconf.h"
#include "json.h"

#include <stdio.h>
#include <string.h>

struct json_reader {
	struct json *j;
	const char *p, *end;
	int depth;
};

static void json_ws(struct json_reader *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' ||
				 *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int json_new_tok(struct json_reader *r, enum json_type t)
{
	struct json *j = r->j;
	if (j->count == j->cap)
		return JSON_E_TOKENS;
	struct json_tok *k = &j->toks[j->count];
	*k = (struct json_tok){.type = t, .start = (uint32_t)(r->p - j->text)};
	return (int)j->count++;
}

static int json_value(struct json_reader *r);

static int json_hex4(const char *p)
{
	int v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		int d = c >= '0' && c <= '9'   ? c - '0'
			: c >= 'a' && c <= 'f' ? c - 'a' + 10
			: c >= 'A' && c <= 'F' ? c - 'A' + 10
					       : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

// A string at r->p (the opening quote): checked, its token made.
static int json_string_tok(struct json_reader *r)
{
	r->p++;
	int t = json_new_tok(r, JSON_STRING);
	if (t < 0)
		return t;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;
		if (c < 0x20)
			return JSON_E_SYNTAX;
		if (c != '\\') {
			r->p++;
			continue;
		}
		if (r->end - r->p < 2)
			return JSON_E_SYNTAX;
		char e = r->p[1];
		if (e == 'u') {
			if (r->end - r->p < 6 || json_hex4(r->p + 2) < 0)
				return JSON_E_SYNTAX;
			r->p += 6;
		} else if (strchr("\"\\/bfnrt", e) != NULL && e != '\0') {
			r->p += 2;
		} else {
			return JSON_E_SYNTAX;
		}
	}
	if (r->p == r->end)
		return JSON_E_SYNTAX;
	struct json_tok *k = &r->j->toks[t];
	k->len = (uint32_t)(r->p - r->j->text) - k->start;
	r->p++;
	return t;
}

static const char *json_digits(const char *p, const char *end)
{
	while (p < end && *p >= '0' && *p <= '9')
		p++;
	return p;
}

// -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
static int json_number_tok(struct json_reader *r)
{
	int t = json_new_tok(r, JSON_NUMBER);
	if (t < 0)
		return t;
	const char *p = r->p, *end = r->end, *q;
	if (p < end && *p == '-')
		p++;
	if (p < end && *p == '0')
		p++;
	else if ((q = json_digits(p, end)) != p)
		p = q;
	else
		return JSON_E_SYNTAX;
	if (p < end && *p == '.') {
		q = json_digits(p + 1, end);
		if (q == p + 1)
			return JSON_E_SYNTAX;
		p = q;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		q = json_digits(p, end);
		if (q == p)
			return JSON_E_SYNTAX;
		p = q;
	}
	r->j->toks[t].len = (uint32_t)(p - r->p);
	r->p = p;
	return t;
}

static int json_word(struct json_reader *r, const char *word,
		     enum json_type type)
{
	size_t n = strlen(word);
	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return JSON_E_SYNTAX;
	int t = json_new_tok(r, type);
	if (t < 0)
		return t;
	r->j->toks[t].len = (uint32_t)n;
	r->p += n;
	return t;
}

// An object or array: its children, then its extent.
static int json_container(struct json_reader *r, bool object)
{
	if (++r->depth > JSON_DEPTH_MAX)
		return JSON_E_DEPTH;
	int t = json_new_tok(r, object ? JSON_OBJECT : JSON_ARRAY);
	if (t < 0)
		return t;
	char close = object ? '}' : ']';
	r->p++;
	json_ws(r);
	uint32_t size = 0;
	if (r->p < r->end && *r->p == close) {
		r->p++;
	} else {
		for (;;) {
			json_ws(r);
			if (object) {
				if (r->p == r->end || *r->p != '"')
					return JSON_E_SYNTAX;
				int k = json_string_tok(r);
				if (k < 0)
					return k;
				r->j->toks[k].next = (uint32_t)r->j->count;
				json_ws(r);
				if (r->p == r->end || *r->p != ':')
					return JSON_E_SYNTAX;
				r->p++;
			}
			int v = json_value(r);
			if (v < 0)
				return v;
			size++;
			json_ws(r);
			if (r->p < r->end && *r->p == ',') {
				r->p++;
				continue;
			}
			if (r->p < r->end && *r->p == close) {
				r->p++;
				break;
			}
			return JSON_E_SYNTAX;
		}
	}
	r->depth--;
	struct json_tok *k = &r->j->toks[t];
	k->size = size;
	k->len = (uint32_t)(r->p - r->j->text) - k->start;
	return t;
}

static int json_value(struct json_reader *r)
{
	json_ws(r);
	if (r->p == r->end)
		return JSON_E_SYNTAX;
	int t;
	switch (*r->p) {
	case '{':
	case '[':
		t = json_container(r, *r->p == '{');
		break;
	case '"':
		t = json_string_tok(r);
		break;
	case 't':
		t = json_word(r, "true", JSON_TRUE);
		break;
	case 'f':
		t = json_word(r, "false", JSON_FALSE);
		break;
	case 'n':
		t = json_word(r, "null", JSON_NULL);
		break;
	default:
		t = json_number_tok(r);
		break;
	}
	if (t >= 0)
		r->j->toks[t].next = (uint32_t)r->j->count;
	return t;
}

int json_parse(struct json *j, const char *text, size_t len,
	       struct json_tok *toks, size_t cap, size_t *pos)
{
	*j = (struct json){.text = text, .toks = toks, .cap = cap};
	struct json_reader r = {.j = j, .p = text, .end = text + len};
	int rc = len > UINT32_MAX ? JSON_E_TOKENS : json_value(&r);
	if (rc >= 0) {
		json_ws(&r);
		rc = r.p == r.end ? 0 : JSON_E_TRAIL;
	}
	*pos = (size_t)(r.p - text);
	if (rc < 0)
		j->count = 0;
	return rc < 0 ? rc : 0;
}

const char *json_strerror(int rc)
{
	switch (rc) {
	case 0:
		return "no error";
	case JSON_E_DEPTH:
		return "nested too deeply";
	case JSON_E_TOKENS:
		return "too many values";
	case JSON_E_TRAIL:
		return "something follows the JSON value";
	default:
		return "not valid JSON";
	}
}

bool json_is(const struct json *j, int tok, enum json_type t)
{
	return tok >= 0 && (size_t)tok < j->count && j->toks[tok].type == t;
}

int json_member(const struct json *j, int tok, const char *key)
{
	if (!json_is(j, tok, JSON_OBJECT))
		return -1;
	size_t klen = strlen(key);
	uint32_t i = (uint32_t)tok + 1;
	for (uint32_t m = 0; m < j->toks[tok].size; m++) {
		const struct json_tok *k = &j->toks[i];
		// keys with escapes never match: ours are plain words
		if (k->len == klen &&
		    memcmp(j->text + k->start, key, klen) == 0)
			return (int)i + 1;
		i = j->toks[i + 1].next;
	}
	return -1;
}

// One code point as UTF-8 into out (room for 4); its length.
static int json_utf8(unsigned cp, char *out)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | cp >> 6);
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | cp >> 12);
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | cp >> 18);
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

// The escape at p (after the backslash; the parser checked its form)
// into out; advances *p. -1 for \u0000.
static int json_unescape(const char **p, const char *end, char *out)
{
	char e = **p;
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	if (e != 'u') {
		out[0] = to[strchr(from, e) - from];
		(*p)++;
		return 1;
	}
	unsigned cp = (unsigned)json_hex4(*p + 1);
	*p += 5;
	// a surrogate pair; a lone surrogate becomes U+FFFD
	if (cp >= 0xd800 && cp < 0xdc00 && end - *p >= 6 && (*p)[0] == '\\' &&
	    (*p)[1] == 'u') {
		int lo = json_hex4(*p + 2);
		if (lo >= 0xdc00 && lo < 0xe000) {
			cp = 0x10000 + ((cp - 0xd800) << 10) +
			     ((unsigned)lo - 0xdc00);
			*p += 6;
		}
	}
	if (cp >= 0xd800 && cp < 0xe000)
		cp = 0xfffd;
	return cp == 0 ? -1 : json_utf8(cp, out);
}

int json_string(const struct json *j, int tok, char *buf, size_t len)
{
	if (!json_is(j, tok, JSON_STRING) || len == 0)
		return -1;
	const char *p = j->text + j->toks[tok].start;
	const char *end = p + j->toks[tok].len;
	size_t n = 0;
	while (p < end) {
		char tmp[4];
		int k = 1;
		if (*p == '\\') {
			p++;
			k = json_unescape(&p, end, tmp);
			if (k < 0)
				return -1;
		} else {
			tmp[0] = *p++;
		}
		if (n + (size_t)k >= len)
			return -1;
		memcpy(buf + n, tmp, (size_t)k);
		n += (size_t)k;
	}
	buf[n] = '\0';
	return (int)n;
}

int json_raw(const struct json *j, int tok, char *buf, size_t len)
{
	if (tok < 0 || (size_t)tok >= j->count || j->toks[tok].len >= len)
		return -1;
	memcpy(buf, j->text + j->toks[tok].start, j->toks[tok].len);
	buf[j->toks[tok].len] = '\0';
	return (int)j->toks[tok].len;
}

int json_quote(const char *s, char *buf, size_t len)
{
	size_t n = 0;
	if (len < 3)
		return -1;
	buf[n++] = '"';
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		int k;
		if (c == '"' || c == '\\')
			k = snprintf(esc, sizeof(esc), "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			k = snprintf(esc, sizeof(esc), "\\u%04x", c);
		else
			k = snprintf(esc, sizeof(esc), "%c", c);
		if (n + (size_t)k + 2 > len)
			return -1;
		memcpy(buf + n, esc, (size_t)k);
		n += (size_t)k;
	}
	buf[n++] = '"';
	buf[n] = '\0';
	return (int)n;
}
