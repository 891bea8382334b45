/*
 * src/zone_read.c — the master-file reader, and the only ldns user among
 * the zone files: text → records in wire form, each with its file:line.
 * It splits the text into records itself (quotes, parentheses, comments,
 * $ORIGIN/$TTL/$INCLUDE, line numbers), parses owner, TTL, class and type,
 * encodes the common types (A, AAAA, NS, CNAME, PTR, MX, TXT) itself and
 * hands the RDATA of every other type to ldns.
 */
#include "autoconf.h"
#include "zone_read.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "dname.h"
#include "file.h"

#define ZONE_DEFAULT_TTL 3600
#define TTL_MAX 2147483647ULL /* RFC 2181 section 8 */
#define RDATA_MAX 65535

/* One token of a record: a word, or the inside of a quoted string. */
struct tok {
	const char *s;
	size_t n;
	bool quoted;
};

struct zread {
	const struct config *cfg;
	const struct config_zone *cz;
	struct diag *d;
	struct zone_files *files;
	zone_record_fn fn;
	void *ctx;
	char *dir, *dir_real; /* the zone file's directory */
	unsigned includes, errors_at_start;
	bool stop;
	int rc;
	struct tok *toks;
	size_t tok_cap;
	char *text; /* a record as ldns reads it */
	size_t text_cap;
	ldns_buffer *wire;
	uint8_t rdata[RDATA_MAX];
};

/* One file being read: the text and the state its directives set. */
struct zfile {
	const char *path;
	uint16_t file;
	const char *p, *end;
	unsigned line; /* line number of *p */
	unsigned depth;
	uint8_t origin[DNAME_MAX];
	ldns_rdf *origin_rdf; /* made when ldns needs it */
	uint32_t ttl;
	uint8_t prev[DNAME_MAX]; /* owner of the previous record */
	size_t prev_len;
};

/* ---- messages -------------------------------------------------------- */

static void zr_stop(struct zread *zr, int rc)
{
	zr->stop = true;
	if (rc < 0)
		zr->rc = rc;
}

static void zr_error(struct zread *zr, const struct zfile *f, unsigned line,
		     const char *fmt, ...) DIAG_PRINTF(4, 5);
static void zr_error(struct zread *zr, const struct zfile *f, unsigned line,
		     const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (zr->stop)
		return;
	diag_error(zr->d, f->path, line, "%s", msg);
	// a file of garbage must not fill the log: give up, and say why
	if (diag_errors(zr->d) - zr->errors_at_start >= ZONE_ERRORS_MAX) {
		diag_error(
			zr->d, f->path, line,
			"stopped after %d errors in zone '%s'; fix these first",
			ZONE_ERRORS_MAX, zr->cz->origin_text);
		zr_stop(zr, 0);
	}
}

static void zr_oom(struct zread *zr, const struct zfile *f, unsigned line)
{
	zr_error(zr, f, line, "out of memory");
	zr_stop(zr, -ENOMEM);
}

/* At most 64 bytes of a token, for messages. */
#define TOKF "'%.*s%s'"
#define TOKA(t) \
	(int)((t)->n > 64 ? 64 : (t)->n), (t)->s, ((t)->n > 64 ? "..." : "")

const char *zone_read_type_name(uint16_t type, char buf[16])
{
	const ldns_rr_descriptor *desc = ldns_rr_descript(type);
	if (desc != NULL && desc->_name != NULL)
		return desc->_name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

/* ---- files ----------------------------------------------------------- */

static int zone_files_add(struct zone_files *files, const char *path)
{
	if (files->count >= UINT16_MAX)
		return -1;
	char **name = realloc(files->name, (files->count + 1) * sizeof(*name));
	if (name == NULL)
		return -1;
	files->name = name;
	if ((name[files->count] = strdup(path)) == NULL)
		return -1;
	return (int)files->count++;
}

void zone_files_free(struct zone_files *files)
{
	for (size_t i = 0; i < files->count; i++)
		free(files->name[i]);
	free(files->name);
	files->name = NULL;
	files->count = 0;
}

/* ---- splitting text into records ------------------------------------- */

/* Characters that end an unquoted token. */
static bool zr_delim(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == ';' ||
	       c == '(' || c == ')' || c == '"';
}

static bool zr_push(struct zread *zr, const char *s, size_t n, bool quoted,
		    size_t *ntok)
{
	if (*ntok == zr->tok_cap) {
		size_t cap = zr->tok_cap ? zr->tok_cap * 2 : 64;
		struct tok *t = realloc(zr->toks, cap * sizeof(*t));
		if (t == NULL)
			return false;
		zr->toks = t;
		zr->tok_cap = cap;
	}
	zr->toks[(*ntok)++] = (struct tok){.s = s, .n = n, .quoted = quoted};
	return true;
}

/* Skips blank and comment-only lines; false at the end of the text. */
static bool zr_skip_blank(struct zfile *f)
{
	while (f->p < f->end) {
		const char *q = f->p;
		while (q < f->end && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < f->end && *q == ';')
			q = memchr(q, '\n', (size_t)(f->end - q));
		if (q == NULL || q == f->end) {
			f->p = f->end;
			return false;
		}
		if (*q != '\n')
			return true;
		f->p = q + 1;
		f->line++;
	}
	return false;
}

enum { SCAN_EOF, SCAN_RECORD, SCAN_BAD, SCAN_LONG };

/* The end of a quoted string that starts at p (after the quote). */
static const char *zr_scan_quoted(struct zfile *f, const char *p,
				  const char *lim)
{
	while (p < lim && *p != '"') {
		if (*p == '\\' && p + 1 < lim)
			p++;
		if (*p == '\n')
			f->line++;
		p++;
	}
	return p;
}

/* One token, quoted or plain, at *pp: SCAN_RECORD when it was added,
 * SCAN_LONG at lim, SCAN_BAD after an error. */
static int zr_scan_token(struct zread *zr, struct zfile *f, const char **pp,
			 const char *lim, size_t *ntok, unsigned line)
{
	const char *p = *pp, *s;
	bool quoted = *p == '"';
	if (quoted) {
		s = ++p;
		p = zr_scan_quoted(f, p, lim);
		if (p == f->end) {
			zr_error(zr, f, line,
				 "unterminated quoted string (is "
				 "the file cut short?)");
			return SCAN_BAD;
		}
		if (p >= lim)
			return SCAN_LONG;
	} else {
		s = p;
		while (p < lim && !zr_delim(*p))
			p += (*p == '\\' && p + 1 < lim) ? 2 : 1;
	}
	if (!zr_push(zr, s, (size_t)(p - s), quoted, ntok)) {
		zr_oom(zr, f, line);
		return SCAN_BAD;
	}
	*pp = p + quoted;
	return SCAN_RECORD;
}

/* Skips to the next line after an error inside a record. */
static int zr_scan_resync(struct zfile *f, const char *p)
{
	p = memchr(p, '\n', (size_t)(f->end - p));
	f->p = p != NULL ? p + 1 : f->end;
	if (p != NULL)
		f->line++;
	return SCAN_BAD;
}

/*
 * The next record of f as tokens in zr->toks: SCAN_RECORD with *ntok,
 * whether the owner field is blank (the line starts with a blank) and
 * the record's first line; SCAN_EOF; or SCAN_BAD after an error.
 */
static int zr_scan(struct zread *zr, struct zfile *f, size_t *ntok,
		   bool *blank_owner, unsigned *line)
{
	if (!zr_skip_blank(f))
		return SCAN_EOF;
	const char *p = f->p;
	const char *lim = (size_t)(f->end - p) > ZONE_RECORD_MAX
				  ? p + ZONE_RECORD_MAX
				  : f->end;
	unsigned depth = 0;
	int rc = SCAN_RECORD;
	*blank_owner = *p == ' ' || *p == '\t';
	*line = f->line;
	*ntok = 0;
	while (p < lim && rc == SCAN_RECORD) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\r') {
			p++;
		} else if (c == '\n') {
			f->line++;
			if (p++, depth == 0)
				break;
		} else if (c == ';') {
			const char *q = memchr(p, '\n', (size_t)(lim - p));
			p = q != NULL ? q : lim;
		} else if (c == '(' || c == ')') {
			if (c == ')' && depth == 0) {
				zr_error(zr, f, f->line, "')' without '('");
				return zr_scan_resync(f, p);
			}
			depth += c == '(' ? 1u : -1u;
			p++;
		} else {
			rc = zr_scan_token(zr, f, &p, lim, ntok, *line);
		}
	}
	if (rc == SCAN_RECORD && p >= lim && lim < f->end)
		rc = SCAN_LONG;
	if (rc == SCAN_RECORD && p == f->end && depth > 0) {
		zr_error(zr, f, *line,
			 "unterminated '(' (is the file cut short?)");
		rc = SCAN_BAD;
	}
	if (rc == SCAN_LONG) {
		zr_error(zr, f, *line, "record longer than %d bytes; refused",
			 ZONE_RECORD_MAX);
		rc = SCAN_BAD;
	}
	// after these errors there is no telling where the next record
	// starts: the rest of the file is skipped
	f->p = rc == SCAN_RECORD ? p : f->end;
	return rc;
}

/* ---- fields ---------------------------------------------------------- */

/* A name token relative to f's origin; false (reported) when invalid. */
static bool zr_name(struct zread *zr, const struct zfile *f, unsigned line,
		    const struct tok *t, const char *where,
		    uint8_t out[DNAME_MAX], size_t *len)
{
	switch (dname_parse(out, t->s, t->n, f->origin, len)) {
	case 0:
		return true;
	case DNAME_ERR_LONG:
		zr_error(zr, f, line, "name longer than 255 bytes: " TOKF " %s",
			 TOKA(t), where);
		return false;
	case DNAME_ERR_LABEL:
		zr_error(zr, f, line,
			 "label longer than 63 bytes in " TOKF " %s", TOKA(t),
			 where);
		return false;
	default:
		zr_error(zr, f, line, TOKF " is not a valid domain name %s",
			 TOKA(t), where);
		return false;
	}
}

/* A TTL ("3600", "1h30m"): 0, -1 when not a TTL, -2 when above 2^31-1. */
static int zr_parse_ttl(const char *s, size_t n, uint32_t *out)
{
	uint64_t total = 0, cur = 0;
	bool digits = false;
	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		char c = (char)tolower((unsigned char)s[i]);
		uint64_t unit = c == 's'   ? 1
				: c == 'm' ? 60
				: c == 'h' ? 3600
				: c == 'd' ? 86400
				: c == 'w' ? 604800
					   : 0;
		if (c >= '0' && c <= '9') {
			cur = cur * 10 + (uint64_t)(c - '0');
			digits = true;
		} else if (unit != 0 && digits) {
			total += cur * unit;
			cur = 0;
			digits = false;
		} else {
			return -1;
		}
		if (cur > TTL_MAX || total > TTL_MAX)
			return -2; // stop before anything can overflow
	}
	total += cur;
	if (total > TTL_MAX)
		return -2;
	*out = (uint32_t)total;
	return 0;
}

static bool zr_ttl(struct zread *zr, const struct zfile *f, unsigned line,
		   const struct tok *t, uint32_t *ttl)
{
	int rc = zr_parse_ttl(t->s, t->n, ttl);
	if (rc == -2)
		zr_error(zr, f, line, "TTL %.*s is above 2147483647 (RFC 2181)",
			 (int)(t->n > 64 ? 64 : t->n), t->s);
	else if (rc < 0)
		zr_error(zr, f, line,
			 TOKF " is not a TTL (seconds, or like "
			      "1h30m)",
			 TOKA(t));
	return rc == 0;
}

/* The token as a NUL-terminated string in buf, or false if too long. */
static bool zr_tok_str(const struct tok *t, char *buf, size_t size)
{
	if (t->n >= size)
		return false;
	memcpy(buf, t->s, t->n);
	buf[t->n] = '\0';
	return true;
}

static uint16_t zr_type(const struct tok *t)
{
	static const struct {
		const char *name;
		uint16_t type;
	} common[] = {
		{"A", LDNS_RR_TYPE_A},     {"AAAA", LDNS_RR_TYPE_AAAA},
		{"TXT", LDNS_RR_TYPE_TXT}, {"MX", LDNS_RR_TYPE_MX},
		{"NS", LDNS_RR_TYPE_NS},   {"CNAME", LDNS_RR_TYPE_CNAME},
		{"SOA", LDNS_RR_TYPE_SOA}, {"PTR", LDNS_RR_TYPE_PTR},
	};
	char buf[32];
	if (t->quoted || !zr_tok_str(t, buf, sizeof(buf)))
		return 0;
	for (size_t i = 0; i < sizeof(common) / sizeof(common[0]); i++)
		if (strcasecmp(buf, common[i].name) == 0)
			return common[i].type;
	return (uint16_t)ldns_get_rr_type_by_name(buf);
}

/* 1 for IN, 0 when not a class, -1 for another class (reported). */
static int zr_class(struct zread *zr, const struct zfile *f, unsigned line,
		    const struct tok *t)
{
	char buf[32];
	if (t->quoted || !zr_tok_str(t, buf, sizeof(buf)))
		return 0;
	ldns_rr_class c = ldns_get_rr_class_by_name(buf);
	if (c == LDNS_RR_CLASS_IN)
		return 1;
	if (c == 0)
		return 0;
	zr_error(zr, f, line,
		 "class %s is not served; only IN records "
		 "belong in a zone file",
		 buf);
	return -1;
}

/* ---- RDATA ----------------------------------------------------------- */

/* Decodes a character-string (escapes \X and \DDD) into out. */
static int zr_charstr(const struct tok *t, uint8_t *out)
{
	size_t len = 0;
	for (size_t i = 0; i < t->n; i++) {
		unsigned c = (unsigned char)t->s[i];
		if (c == '\\' && i + 1 >= t->n)
			return -1;
		if (c == '\\' && i + 3 < t->n &&
		    isdigit((unsigned char)t->s[i + 1]) &&
		    isdigit((unsigned char)t->s[i + 2]) &&
		    isdigit((unsigned char)t->s[i + 3])) {
			c = (unsigned)(t->s[i + 1] - '0') * 100 +
			    (unsigned)(t->s[i + 2] - '0') * 10 +
			    (unsigned)(t->s[i + 3] - '0');
			if (c > 255)
				return -1;
			i += 3;
		} else if (c == '\\') {
			c = (unsigned char)t->s[++i];
		}
		if (len == 255)
			return -2;
		out[1 + len++] = (uint8_t)c;
	}
	out[0] = (uint8_t)len;
	return (int)len + 1;
}

static bool zr_addr(struct zread *zr, const struct zfile *f, unsigned line,
		    const struct tok *t, int af, uint8_t *out)
{
	char buf[64];
	if (!t->quoted && zr_tok_str(t, buf, sizeof(buf)) &&
	    inet_pton(af, buf, out) == 1)
		return true;
	zr_error(zr, f, line, TOKF " is not an %s address in %s rdata", TOKA(t),
		 af == AF_INET ? "IPv4" : "IPv6", af == AF_INET ? "A" : "AAAA");
	return false;
}

static bool zr_u16(struct zread *zr, const struct zfile *f, unsigned line,
		   const struct tok *t, const char *what, uint8_t *out)
{
	unsigned v = 0;
	bool ok = t->n > 0 && t->n <= 5 && !t->quoted;
	for (size_t i = 0; ok && i < t->n; i++) {
		ok = isdigit((unsigned char)t->s[i]);
		v = v * 10 + (unsigned)(t->s[i] - '0');
	}
	if (!ok || v > 65535) {
		zr_error(zr, f, line, TOKF " is not a number 0..65535 in %s",
			 TOKA(t), what);
		return false;
	}
	out[0] = (uint8_t)(v >> 8);
	out[1] = (uint8_t)v;
	return true;
}

/* TXT RDATA: one character-string per token. */
static long zr_rdata_txt(struct zread *zr, const struct zfile *f, unsigned line,
			 const struct tok *t, size_t n)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (len + 256 > RDATA_MAX) {
			zr_error(zr, f, line, "TXT rdata longer than %d bytes",
				 RDATA_MAX);
			return -1;
		}
		int l = zr_charstr(&t[i], zr->rdata + len);
		if (l < 0) {
			zr_error(zr, f, line, TOKF " in TXT rdata: %s",
				 TOKA(&t[i]),
				 l == -2 ? "longer than 255 bytes; "
					   "split it into several strings"
					 : "bad escape");
			return -1;
		}
		len += (size_t)l;
	}
	return (long)len;
}

/*
 * RDATA of the common types, encoded here: the length, 0 when type is
 * not one of them (ldns then reads it), -1 after an error.
 */
static long zr_rdata_common(struct zread *zr, const struct zfile *f,
			    unsigned line, uint16_t type, const struct tok *t,
			    size_t n)
{
	uint8_t *out = zr->rdata;
	size_t len = 0;
	static const size_t fields[] = {
		[LDNS_RR_TYPE_A] = 1,     [LDNS_RR_TYPE_NS] = 1,
		[LDNS_RR_TYPE_CNAME] = 1, [LDNS_RR_TYPE_PTR] = 1,
		[LDNS_RR_TYPE_MX] = 2,    [LDNS_RR_TYPE_AAAA] = 1};
	char tbuf[16];

	if (type == LDNS_RR_TYPE_TXT && n > 0)
		return zr_rdata_txt(zr, f, line, t, n);
	if (type >= sizeof(fields) / sizeof(fields[0]) || fields[type] == 0)
		return 0;
	if (n != fields[type])
		goto count;
	switch (type) {
	case LDNS_RR_TYPE_A:
		return zr_addr(zr, f, line, t, AF_INET, out) ? 4 : -1;
	case LDNS_RR_TYPE_AAAA:
		return zr_addr(zr, f, line, t, AF_INET6, out) ? 16 : -1;
	case LDNS_RR_TYPE_MX:
		if (!zr_u16(zr, f, line, t, "MX rdata", out))
			return -1;
		if (!zr_name(zr, f, line, &t[1], "in MX rdata", out + 2, &len))
			return -1;
		return (long)len + 2;
	default: { // NS, CNAME, PTR: one name
		char where[32];
		snprintf(where, sizeof(where), "in %s rdata",
			 zone_read_type_name(type, tbuf));
		if (!zr_name(zr, f, line, t, where, out, &len))
			return -1;
		return (long)len;
	}
	}
count:
	zr_error(zr, f, line, "%s rdata needs %zu field%s, not %zu",
		 zone_read_type_name(type, tbuf),
		 fields[type] ? fields[type] : 1, fields[type] > 1 ? "s" : "",
		 n);
	return -1;
}

static bool zr_text_reserve(struct zread *zr, size_t need)
{
	if (need <= zr->text_cap)
		return true;
	char *t = realloc(zr->text, need);
	if (t == NULL)
		return false;
	zr->text = t;
	zr->text_cap = need;
	return true;
}

/* The record's RDATA as ldns reads it: ". 0 IN TYPE rdata...". */
static bool zr_ldns_text(struct zread *zr, uint16_t type, const struct tok *t,
			 size_t n)
{
	char tbuf[16];
	const char *tname = zone_read_type_name(type, tbuf);
	size_t need = strlen(tname) + 16;
	for (size_t i = 0; i < n; i++)
		need += t[i].n + 3;
	if (!zr_text_reserve(zr, need))
		return false;
	char *o = zr->text + sprintf(zr->text, ". 0 IN %s", tname);
	for (size_t i = 0; i < n; i++) {
		*o++ = ' ';
		if (t[i].quoted)
			*o++ = '"';
		memcpy(o, t[i].s, t[i].n);
		o += t[i].n;
		if (t[i].quoted)
			*o++ = '"';
	}
	*o = '\0';
	return true;
}

/* Every name ldns put in the RDATA is well-formed and short enough. */
static bool zr_ldns_names_ok(const ldns_rr *rr)
{
	for (size_t i = 0; i < ldns_rr_rd_count(rr); i++) {
		const ldns_rdf *rdf = ldns_rr_rdf(rr, i);
		if (ldns_rdf_get_type(rdf) == LDNS_RDF_TYPE_DNAME &&
		    dname_check(ldns_rdf_data(rdf), ldns_rdf_size(rdf)) !=
			    ldns_rdf_size(rdf))
			return false;
	}
	return true;
}

/* RDATA of any other type, read by ldns: its length, or -1. */
static long zr_rdata_ldns(struct zread *zr, struct zfile *f, unsigned line,
			  uint16_t type, const struct tok *t, size_t n)
{
	char tbuf[16];
	const char *tname = zone_read_type_name(type, tbuf);
	ldns_rr *rr = NULL;
	long len = -1;

	if (f->origin_rdf == NULL &&
	    (f->origin_rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME,
						   dname_length(f->origin),
						   f->origin)) == NULL)
		goto oom;
	if (!zr_ldns_text(zr, type, t, n))
		goto oom;
	ldns_status s =
		ldns_rr_new_frm_str(&rr, zr->text, 0, f->origin_rdf, NULL);
	const char *rd = zr->text + 7 + strlen(tname) + (n > 0);
	if (s == LDNS_STATUS_MEM_ERR)
		goto oom;
	if (s != LDNS_STATUS_OK) {
		zr_error(zr, f, line, "%s: '%.80s%s' is not valid %s rdata",
			 ldns_get_errorstr_by_id(s), rd,
			 strlen(rd) > 80 ? "..." : "", tname);
		return -1;
	}
	if (!zr_ldns_names_ok(rr)) {
		zr_error(zr, f, line, "name longer than 255 bytes in %s rdata",
			 tname);
		goto out;
	}
	// canonical form lower-cases the names inside the RDATA of the
	// types RFC 4034 6.2 lists, and nothing else
	ldns_rr2canonical(rr);
	ldns_buffer_clear(zr->wire);
	if (ldns_rr_rdata2buffer_wire(zr->wire, rr) != LDNS_STATUS_OK ||
	    ldns_buffer_position(zr->wire) > RDATA_MAX) {
		zr_error(zr, f, line, "%s rdata longer than %d bytes", tname,
			 RDATA_MAX);
		goto out;
	}
	len = (long)ldns_buffer_position(zr->wire);
	memcpy(zr->rdata, ldns_buffer_begin(zr->wire), (size_t)len);
	goto out;
oom:
	zr_oom(zr, f, line);
out:
	ldns_rr_free(rr);
	return len;
}

/* ---- records --------------------------------------------------------- */

static bool zr_type_allowed(struct zread *zr, const struct zfile *f,
			    unsigned line, uint16_t type)
{
	char tbuf[16];
	const char *tname = zone_read_type_name(type, tbuf);
	switch (type) {
	case LDNS_RR_TYPE_OPT:
	case LDNS_RR_TYPE_TSIG:
	case LDNS_RR_TYPE_IXFR:
	case LDNS_RR_TYPE_AXFR:
	case LDNS_RR_TYPE_MAILA:
	case LDNS_RR_TYPE_MAILB:
	case LDNS_RR_TYPE_ANY:
		zr_error(zr, f, line, "type %s cannot be in a zone file",
			 tname);
		return false;
	default:
		return true;
	}
}

/* The owner of a record: its first token, or the previous owner; in
 * both cases inside the zone. */
static bool zr_owner(struct zread *zr, struct zfile *f, unsigned line,
		     bool blank_owner, size_t *i)
{
	if (blank_owner && f->prev_len == 0) {
		zr_error(zr, f, line,
			 "no owner name: the first record starts "
			 "with a blank");
		return false;
	}
	if (!blank_owner && !zr_name(zr, f, line, &zr->toks[(*i)++], "(owner)",
				     f->prev, &f->prev_len)) {
		f->prev_len = 0;
		return false;
	}
	// checked for every record: a blank owner repeats one that may
	// have been outside the zone
	if (!dname_is_subdomain(f->prev, zr->cz->origin)) {
		char text[DNAME_TEXT_MAX];
		dname_to_text(text, f->prev);
		zr_error(zr, f, line,
			 "'%s' is outside the zone '%s'; fix the "
			 "name or $ORIGIN",
			 text, zr->cz->origin_text);
		return false;
	}
	return true;
}

static void zr_record(struct zread *zr, struct zfile *f, size_t n,
		      bool blank_owner, unsigned line)
{
	const struct tok *t = zr->toks;
	size_t i = 0;
	uint32_t ttl = f->ttl;
	uint16_t type = 0;

	if (!zr_owner(zr, f, line, blank_owner, &i))
		return;
	for (bool have_ttl = false, have_class = false; i < n && !type; i++) {
		if (!have_ttl && !t[i].quoted && t[i].n > 0 &&
		    isdigit((unsigned char)t[i].s[0])) {
			if (!zr_ttl(zr, f, line, &t[i], &ttl))
				return;
			have_ttl = true;
		} else if (!have_class && t[i].n == 2 && !t[i].quoted &&
			   (t[i].s[0] | 0x20) == 'i' &&
			   (t[i].s[1] | 0x20) == 'n') {
			have_class = true; // IN, the common case, quickly
		} else if ((type = zr_type(&t[i])) == 0) {
			int c = have_class ? 0 : zr_class(zr, f, line, &t[i]);
			if (c < 0)
				return;
			if (c == 0) {
				zr_error(zr, f, line,
					 "unknown record type " TOKF,
					 TOKA(&t[i]));
				return;
			}
			have_class = true;
		}
	}
	if (type == 0) {
		zr_error(zr, f, line, "a record needs a type and its data");
		return;
	}
	if (!zr_type_allowed(zr, f, line, type))
		return;
	long len = zr_rdata_common(zr, f, line, type, t + i, n - i);
	if (len == 0 && type != LDNS_RR_TYPE_TXT)
		len = zr_rdata_ldns(zr, f, line, type, t + i, n - i);
	if (len < 0)
		return;
	struct zone_record rec = {.owner = f->prev,
				  .owner_len = f->prev_len,
				  .rdata = zr->rdata,
				  .rdata_len = (size_t)len,
				  .ttl = ttl,
				  .type = type,
				  .file = f->file,
				  .line = line};
	if (zr->fn(zr->ctx, &rec) < 0)
		zr_oom(zr, f, line);
}

/* ---- directives ------------------------------------------------------ */

static void zr_read_text(struct zread *zr, struct zfile *f);

/* The directory part of path ("." when there is none). */
static char *zr_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* path when it lies inside the zone's directory; NULL (reported) if not. */
static char *zr_include_path(struct zread *zr, const struct zfile *f,
			     unsigned line, const char *path)
{
	char *real = realpath(path, NULL);
	if (real == NULL) {
		zr_error(zr, f, line, "$INCLUDE %s: cannot open: %s", path,
			 strerror(errno));
		return NULL;
	}
	size_t dlen = strlen(zr->dir_real);
	bool root = strcmp(zr->dir_real, "/") == 0;
	if (!root &&
	    (strncmp(real, zr->dir_real, dlen) != 0 || real[dlen] != '/')) {
		zr_error(zr, f, line,
			 "$INCLUDE %s is outside the zone's "
			 "directory %s; refused",
			 path, zr->dir);
		free(real);
		return NULL;
	}
	return real;
}

static void zr_read_file(struct zread *zr, struct zfile *f, const char *real,
			 const char *cfile, unsigned cline);

static void zr_include(struct zread *zr, struct zfile *f, unsigned line,
		       const struct tok *t, size_t n)
{
	struct zfile inc = {.depth = f->depth + 1, .ttl = f->ttl};
	char *path = NULL, *real = NULL;
	size_t olen;

	if (n < 1 || n > 2) {
		zr_error(zr, f, line,
			 "$INCLUDE needs a file name and an "
			 "optional origin");
		return;
	}
	if (f->depth >= ZONE_INCLUDE_DEPTH) {
		zr_error(zr, f, line,
			 "$INCLUDE nested more than %d deep; is "
			 "there a loop?",
			 ZONE_INCLUDE_DEPTH);
		return;
	}
	if (++zr->includes > ZONE_INCLUDE_MAX) {
		zr_error(zr, f, line,
			 "more than %d $INCLUDEs in zone '%s'; "
			 "refused",
			 ZONE_INCLUDE_MAX, zr->cz->origin_text);
		return;
	}
	if (n == 2) {
		if (!zr_name(zr, f, line, &t[1], "($INCLUDE origin)",
			     inc.origin, &olen))
			return;
	} else {
		memcpy(inc.origin, f->origin, dname_length(f->origin));
	}
	bool abs = t[0].n > 0 && t[0].s[0] == '/';
	if (asprintf(&path, "%s%s%.*s", abs ? "" : zr->dir, abs ? "" : "/",
		     (int)t[0].n, t[0].s) < 0) {
		zr_oom(zr, f, line);
		return;
	}
	if ((real = zr_include_path(zr, f, line, path)) != NULL) {
		inc.path = path;
		zr_read_file(zr, &inc, real, f->path, line);
	}
	free(real);
	free(path);
}

static void zr_directive(struct zread *zr, struct zfile *f, size_t n,
			 unsigned line)
{
	const struct tok *t = zr->toks;
	char word[16];
	snprintf(word, sizeof(word), "%.*s", (int)(t[0].n < 15 ? t[0].n : 15),
		 t[0].s);
	size_t len;

	if (strcasecmp(word, "$ORIGIN") == 0) {
		uint8_t origin[DNAME_MAX];
		if (n != 2) {
			zr_error(zr, f, line, "$ORIGIN needs one domain name");
		} else if (zr_name(zr, f, line, &t[1], "($ORIGIN)", origin,
				   &len)) {
			memcpy(f->origin, origin, len);
			ldns_rdf_deep_free(f->origin_rdf);
			f->origin_rdf = NULL;
		}
	} else if (strcasecmp(word, "$TTL") == 0) {
		if (n != 2)
			zr_error(zr, f, line,
				 "$TTL needs one TTL (seconds, or "
				 "like 1h30m)");
		else
			zr_ttl(zr, f, line, &t[1], &f->ttl);
	} else if (strcasecmp(word, "$INCLUDE") == 0) {
		zr_include(zr, f, line, t + 1, n - 1);
	} else {
		zr_error(zr, f, line,
			 "unknown directive '%s' (use $ORIGIN, "
			 "$TTL or $INCLUDE)",
			 word);
	}
}

/* ---- files ----------------------------------------------------------- */

static void zr_read_text(struct zread *zr, struct zfile *f)
{
	size_t n;
	bool blank_owner;
	unsigned line;
	int s;

	while (!zr->stop &&
	       (s = zr_scan(zr, f, &n, &blank_owner, &line)) != SCAN_EOF) {
		if (s != SCAN_RECORD || n == 0)
			continue;
		const struct tok *t = zr->toks;
		if (!blank_owner && !t[0].quoted && t[0].s[0] == '$')
			zr_directive(zr, f, n, line);
		else
			zr_record(zr, f, n, blank_owner, line);
	}
}

/*
 * Reads the file at real (the file f->path names) into memory and its
 * records into zr. A failure to read it is reported at cfile:cline (the
 * $INCLUDE line, or the config's zone entry).
 */
static void zr_read_file(struct zread *zr, struct zfile *f, const char *real,
			 const char *cfile, unsigned cline)
{
	char *text = NULL;
	size_t len;
	int rc = file_read(real, ZONE_FILE_MAX, &text, &len);
	if (rc < 0) {
		struct zfile at = {.path = cfile};
		if (f->depth == 0)
			zr_error(zr, &at, cline, "%s: cannot open: %s", f->path,
				 file_strerror(rc));
		else
			zr_error(zr, &at, cline, "$INCLUDE %s: cannot open: %s",
				 f->path, file_strerror(rc));
		return;
	}
	int file = zone_files_add(zr->files, f->path);
	if (file < 0) {
		zr_oom(zr, f, 0);
		free(text);
		return;
	}
	f->file = (uint16_t)file;
	f->p = text;
	f->end = text + len;
	f->line = 1;
	// a NUL is never text: refuse it, with its line
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		f->end = nul;
		unsigned nl = 1;
		for (const char *q = text;
		     (q = memchr(q, '\n', (size_t)(nul - q))) != NULL; q++)
			nl++;
		zr_error(zr, f, nl,
			 "NUL byte in the file (a zone file is text)");
	}
	zr_read_text(zr, f);
	ldns_rdf_deep_free(f->origin_rdf);
	f->origin_rdf = NULL;
	free(text);
}

int zone_read(const struct config *cfg, const struct config_zone *cz,
	      struct diag *d, struct zone_files *files, zone_record_fn fn,
	      void *ctx)
{
	struct zread *zr = calloc(1, sizeof(*zr));
	struct zfile f = {.path = cz->file, .ttl = ZONE_DEFAULT_TTL};
	struct zfile at = {.path = cfg->path};
	int rc = 0;

	if (zr == NULL) {
		diag_error(d, cfg->path, cz->line, "%s: out of memory",
			   cz->file);
		return -ENOMEM;
	}
	*zr = (struct zread){.cfg = cfg,
			     .cz = cz,
			     .d = d,
			     .files = files,
			     .fn = fn,
			     .ctx = ctx,
			     .errors_at_start = diag_errors(d)};
	memcpy(f.origin, cz->origin, cz->origin_len);
	zr->dir = zr_dirname(cz->file);
	zr->wire = ldns_buffer_new(4096);
	if (zr->dir == NULL || zr->wire == NULL) {
		zr_oom(zr, &at, cz->line);
		goto out;
	}
	if ((zr->dir_real = realpath(zr->dir, NULL)) == NULL) {
		zr_error(zr, &at, cz->line, "%s: cannot open: %s", cz->file,
			 strerror(errno));
		goto out;
	}
	zr_read_file(zr, &f, cz->file, cfg->path, cz->line);
out:
	rc = zr->rc;
	free(zr->toks);
	free(zr->text);
	free(zr->dir);
	free(zr->dir_real);
	if (zr->wire != NULL)
		ldns_buffer_free(zr->wire);
	free(zr);
	return rc;
}
