/*
 * src/dname.c — wire-format domain names: length, labels, comparison,
 * suffixes, hashing, and conversion from and to presentation format.
 * Names handled here are already validated (they come from ldns, the
 * config parser or wire.c), so the helpers trust their structure.
 */
#include "autoconf.h"
#include "dname.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

size_t dname_length(const uint8_t *name)
{
	const uint8_t *p = name;
	while (*p != 0)
		p += *p + 1;
	return (size_t)(p - name) + 1;
}

unsigned dname_labels(const uint8_t *name)
{
	unsigned n = 0;
	for (const uint8_t *p = name; *p != 0; p += *p + 1)
		n++;
	return n;
}

static uint8_t lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

size_t dname_copy_lower(uint8_t *dst, const uint8_t *src)
{
	size_t len = dname_length(src);
	for (size_t i = 0; i < len; i++)
		dst[i] = lower(src[i]);
	// label lengths are < 64, never in A-Z, so lowering them is harmless
	return len;
}

bool dname_equal(const uint8_t *a, const uint8_t *b)
{
	size_t la = dname_length(a);
	return la == dname_length(b) && memcmp(a, b, la) == 0;
}

const uint8_t *dname_strip(const uint8_t *name, unsigned strip)
{
	while (strip-- > 0 && *name != 0)
		name += *name + 1;
	return name;
}

bool dname_is_subdomain(const uint8_t *name, const uint8_t *parent)
{
	unsigned ln = dname_labels(name), lp = dname_labels(parent);
	if (ln < lp)
		return false;
	return dname_equal(dname_strip(name, ln - lp), parent);
}

/* 8 bytes at p, in host order (any alignment). */
static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The last n < 8 bytes at p as one word: loads of 4, 2 and 1 bytes. */
static uint64_t load_tail(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	if (n & 4) {
		uint32_t x;
		memcpy(&x, p, 4);
		v = x;
		p += 4;
	}
	if (n & 2) {
		uint16_t x;
		memcpy(&x, p, 2);
		v = v << 16 | x;
		p += 2;
	}
	if (n & 1)
		v = v << 8 | *p;
	return v;
}

/* dname_hash in steps, so that dname_scan_lower can hash as it copies:
 * the start, each whole word but the last, the last word, the end. */
#define HASH_K 0x9e3779b97f4a7c15ULL

static uint64_t hash_word(uint64_t h, uint64_t w)
{
	h = (h ^ w) * HASH_K;
	return h << 31 | h >> 33;
}

static uint64_t hash_end(uint64_t h, uint64_t last)
{
	h = (h ^ last) * HASH_K;
	// finalised (MurmurHash3's fmix64) so the low bits a table uses
	// depend on every byte
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

uint64_t dname_hash(const uint8_t *name, size_t len)
{
	// a word at a time (names are short and already canonical): whole
	// words, then the last 8 bytes (overlapping the word before when len
	// is not a multiple of 8). Host byte order is fine: tables are built
	// and probed in one process.
	uint64_t h = len * HASH_K;
	if (len < 8)
		return hash_end(h, load_tail(name, len));
	const uint8_t *last = name + len - 8;
	for (const uint8_t *p = name; p < last; p += 8)
		h = hash_word(h, load64(p));
	return hash_end(h, load64(last));
}

/* Lower-cases the ASCII letters among 8 bytes at once: a byte gets 0x20
 * when it is below 0x80 and within 'A'..'Z' (no carry crosses bytes). */
static uint64_t lower8(uint64_t x)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t low7 = x & (0x7f * ones);
	uint64_t ge_a = low7 + (0x80 - 'A') * ones;
	uint64_t gt_z = low7 + (0x80 - 'Z' - 1) * ones;
	uint64_t upper = ge_a & ~gt_z & ~x & (0x80 * ones);
	return x | upper >> 2;
}

size_t dname_scan_lower(uint8_t *dst, const uint8_t *wire, size_t n,
			unsigned *labels, uint64_t *hash)
{
	// dname_check's walk, counting the labels
	size_t off = 0, end = n < DNAME_MAX ? n : DNAME_MAX;
	unsigned count = 0;
	for (;;) {
		if (off >= end)
			return 0;
		uint8_t l = wire[off];
		if (l == 0)
			break;
		if (l > 63)
			return 0;
		off += (size_t)l + 1;
		count++;
	}
	size_t len = off + 1;
	*labels = count;
	if (len < 8) {
		for (size_t i = 0; i < len; i++)
			dst[i] = lower(wire[i]);
		*hash = dname_hash(dst, len);
		return len;
	}
	// whole words, then the last word (overlapping the one before): no
	// byte outside [0, len) is read or written; hashed as dname_hash does
	uint64_t v, h = len * HASH_K;
	for (size_t i = 0; i + 8 < len; i += 8) {
		v = lower8(load64(wire + i));
		memcpy(dst + i, &v, 8);
		h = hash_word(h, v);
	}
	v = lower8(load64(wire + len - 8));
	memcpy(dst + len - 8, &v, 8);
	*hash = hash_end(h, v);
	return len;
}

/* Reads one presentation-format character, handling \X and \DDD. */
static int text_char(const char **s, const char *end)
{
	const char *p = *s;
	if (*p != '\\') {
		*s = p + 1;
		return (unsigned char)*p;
	}
	p++;
	if (p == end)
		return -1;
	if (end - p >= 3 && isdigit((unsigned char)p[0]) &&
	    isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
		int v = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		*s = p + 3;
		return v > 255 ? -1 : v;
	}
	*s = p + 1;
	return (unsigned char)*p;
}

int dname_parse(uint8_t out[DNAME_MAX], const char *text, size_t n,
		const uint8_t *origin, size_t *len_out)
{
	const char *s = text, *end = text + n;
	size_t len = 0;

	if (n == 1 && text[0] == '@') {
		if (origin == NULL)
			return DNAME_ERR_SYNTAX;
		*len_out = dname_copy_lower(out, origin);
		return 0;
	}
	if (n == 1 && text[0] == '.') {
		out[0] = 0;
		*len_out = 1;
		return 0;
	}
	if (n == 0 || text[0] == '.')
		return DNAME_ERR_SYNTAX;
	bool absolute = false;
	while (s < end) {
		size_t label_at = len++;
		size_t label_len = 0;
		while (s < end && *s != '.') {
			int c = text_char(&s, end);
			if (c < 0)
				return DNAME_ERR_SYNTAX;
			if (label_len == 63)
				return DNAME_ERR_LABEL;
			if (len >= DNAME_MAX - 1)
				return DNAME_ERR_LONG;
			out[len++] = lower((uint8_t)c);
			label_len++;
		}
		if (label_len == 0)
			return DNAME_ERR_SYNTAX;
		out[label_at] = (uint8_t)label_len;
		if (s < end && *s == '.' && ++s == end)
			absolute = true;
	}
	if (!absolute) {
		if (origin == NULL)
			return DNAME_ERR_SYNTAX;
		size_t olen = dname_length(origin);
		if (len + olen > DNAME_MAX)
			return DNAME_ERR_LONG;
		dname_copy_lower(out + len, origin);
		*len_out = len + olen;
		return 0;
	}
	out[len++] = 0;
	*len_out = len;
	return 0;
}

size_t dname_from_text(uint8_t out[DNAME_MAX], const char *text,
		       const uint8_t *origin)
{
	size_t len;
	return dname_parse(out, text, strlen(text), origin, &len) == 0 ? len
								       : 0;
}

size_t dname_check(const uint8_t *wire, size_t n)
{
	size_t off = 0;
	while (off < n && off < DNAME_MAX) {
		uint8_t l = wire[off];
		if (l == 0)
			return off + 1;
		if (l > 63)
			return 0;
		off += (size_t)l + 1;
	}
	return 0;
}

void dname_to_text(char *out, const uint8_t *name)
{
	// bounded twice: at most DNAME_MAX bytes of name are read, and the
	// longest text of such a name (\DDD per byte) fits DNAME_TEXT_MAX
	char *o = out, *stop = out + DNAME_TEXT_MAX - 6;
	size_t used = 0;
	if (*name == 0) {
		strcpy(out, ".");
		return;
	}
	for (const uint8_t *p = name; *p != 0 && *p < 64; p += *p + 1) {
		used += (size_t)*p + 1;
		if (used >= DNAME_MAX)
			break;
		for (unsigned i = 1; i <= *p && o < stop; i++) {
			uint8_t c = p[i];
			if (c == '.' || c == '\\' || c == '"' || c == ';' ||
			    c == '(' || c == ')' || c == '@' || c == '$')
				o += sprintf(o, "\\%c", c);
			else if (c <= 32 || c >= 127)
				o += sprintf(o, "\\%03u", c);
			else
				*o++ = (char)c;
		}
		if (o >= stop)
			break;
		*o++ = '.';
	}
	*o = '\0';
}
