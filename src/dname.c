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

uint64_t dname_hash(const uint8_t *name, size_t len)
{
	// FNV-1a: names are short and already canonical, so this is enough
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 0x100000001b3ULL;
	}
	return h ^ (h >> 29);
}

/* Reads one presentation-format character, handling \X and \DDD. */
static int text_char(const char **s)
{
	const char *p = *s;
	if (*p != '\\') {
		*s = p + 1;
		return (unsigned char)*p;
	}
	p++;
	if (isdigit((unsigned char)p[0]) && isdigit((unsigned char)p[1]) &&
	    isdigit((unsigned char)p[2])) {
		int v = (p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0');
		*s = p + 3;
		return v > 255 ? -1 : v;
	}
	if (*p == '\0')
		return -1;
	*s = p + 1;
	return (unsigned char)*p;
}

size_t dname_from_text(uint8_t out[DNAME_MAX], const char *text,
		       const uint8_t *origin)
{
	if (strcmp(text, "@") == 0) {
		if (origin == NULL)
			return 0;
		return dname_copy_lower(out, origin);
	}
	if (strcmp(text, ".") == 0) {
		out[0] = 0;
		return 1;
	}
	if (*text == '\0' || *text == '.')
		return 0;

	size_t len = 0;
	const char *s = text;
	bool absolute = false;
	while (*s != '\0') {
		size_t label_at = len++;
		uint8_t label_len = 0;
		while (*s != '\0' && *s != '.') {
			int c = text_char(&s);
			if (c < 0 || label_len == 63 || len >= DNAME_MAX - 1)
				return 0;
			out[len++] = lower((uint8_t)c);
			label_len++;
		}
		if (label_len == 0)
			return 0;
		out[label_at] = label_len;
		if (*s == '.') {
			s++;
			if (*s == '\0')
				absolute = true;
		}
	}
	if (absolute || origin == NULL) {
		if (!absolute)
			return 0;
		out[len++] = 0;
		return len;
	}
	size_t olen = dname_length(origin);
	if (len + olen > DNAME_MAX)
		return 0;
	dname_copy_lower(out + len, origin);
	return len + olen;
}

void dname_to_text(char *out, const uint8_t *name)
{
	char *o = out;
	if (*name == 0) {
		strcpy(out, ".");
		return;
	}
	for (const uint8_t *p = name; *p != 0; p += *p + 1) {
		for (unsigned i = 1; i <= *p; i++) {
			uint8_t c = p[i];
			if (c == '.' || c == '\\' || c == '"' || c == ';' ||
			    c == '(' || c == ')' || c == '@' || c == '$')
				o += sprintf(o, "\\%c", c);
			else if (c <= 32 || c >= 127)
				o += sprintf(o, "\\%03u", c);
			else
				*o++ = (char)c;
		}
		*o++ = '.';
	}
	*o = '\0';
}
