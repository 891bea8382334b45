/*
 * src/zone.c — zone files read with ldns (plus our own $ORIGIN, $TTL and
 * $INCLUDE handling) and compiled into the immutable lookup structure of
 * zone.h: per zone a hash of nodes, per zone set a hash of origins, all in
 * one arena freed at once.
 */
#include "autoconf.h"
#include "zone.h"

#include <errno.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "dname.h"

#define ZONE_INCLUDE_DEPTH 8
#define ZONE_DEFAULT_TTL 3600
#define ARENA_BLOCK (64 * 1024)

/* ---- arena: everything a zone set keeps lives here ------------------- */

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	alignas(max_align_t) unsigned char data[];
};

static void *arena_alloc(struct arena_block **arena, size_t n)
{
	const size_t align = alignof(max_align_t);
	n = (n + align - 1) & ~(align - 1);
	if (n == 0)
		n = align;
	struct arena_block *b = *arena;
	if (b == NULL || b->size - b->used < n) {
		size_t size = n > ARENA_BLOCK ? n : ARENA_BLOCK;
		b = malloc(sizeof(*b) + size);
		if (b == NULL)
			return NULL;
		b->used = 0;
		b->size = size;
		b->next = *arena;
		*arena = b;
	}
	void *p = b->data + b->used;
	b->used += n;
	return p;
}

static void arena_free(struct arena_block *arena)
{
	while (arena != NULL) {
		struct arena_block *next = arena->next;
		free(arena);
		arena = next;
	}
}

/* ---- build-time state ------------------------------------------------ */

/* One record as read, before grouping. */
struct zrec {
	size_t name_off, rdata_off, seq;
	const uint8_t *name, *rdata;    /* set once parsing is over */
	uint32_t ttl;
	unsigned line;
	uint16_t type, rdata_len, file;
	uint8_t name_len;
};

/* A node being built: records recs[first .. first+count). */
struct tnode {
	const uint8_t *name;
	uint8_t name_len, flags;
	size_t first, count;
};

struct bytes {
	uint8_t *data;
	size_t len, cap;
};

struct zbuild {
	const struct config *cfg;
	const struct config_zone *cz;
	struct diag *d;
	char *dir_real;                 /* realpath of the zone file's dir */
	char *dir;                      /* that directory as configured */
	char **files;                   /* file names for messages */
	size_t file_count;
	struct zrec *recs;
	size_t rec_count, rec_cap;
	struct bytes names, rdata;
	ldns_buffer *wire;
	char *line;                     /* getline buffer */
	size_t line_cap;
	struct tnode *nodes;
	size_t node_count, node_cap;
	size_t *ntable;                 /* node index + 1; 0 = empty */
	size_t ntable_mask;
	bool oom;
};

struct zone_set {
	struct arena_block *arena;
	struct zone *zones;
	size_t zone_count;
	const struct zone **table;
	size_t table_mask;
	size_t record_count;
	unsigned max_labels;
};

static const char *zone_type_name(uint16_t type, char buf[16])
{
	const ldns_rr_descriptor *desc = ldns_rr_descript(type);
	if (desc != NULL && desc->_name != NULL)
		return desc->_name;
	snprintf(buf, 16, "TYPE%u", type);
	return buf;
}

static bool bytes_append(struct zbuild *b, struct bytes *buf,
			 const void *data, size_t len, size_t *off)
{
	if (buf->len + len > buf->cap || buf->data == NULL) {
		size_t cap = buf->cap ? buf->cap : 4096;
		while (cap < buf->len + len)
			cap *= 2;
		uint8_t *p = realloc(buf->data, cap);
		if (p == NULL) {
			b->oom = true;
			return false;
		}
		buf->data = p;
		buf->cap = cap;
	}
	memcpy(buf->data + buf->len, data, len);
	*off = buf->len;
	buf->len += len;
	return true;
}

static int zone_file_add(struct zbuild *b, const char *path)
{
	char **files = realloc(b->files, (b->file_count + 1) * sizeof(*files));
	if (files == NULL)
		goto oom;
	b->files = files;
	if (b->file_count >= UINT16_MAX || (files[b->file_count] =
					     strdup(path)) == NULL)
		goto oom;
	return (int)b->file_count++;
oom:
	b->oom = true;
	return -1;
}

/* ---- reading records ------------------------------------------------- */

static void zone_add_rr(struct zbuild *b, ldns_rr *rr, uint16_t file,
			unsigned line)
{
	const char *fname = b->files[file];
	char text[DNAME_TEXT_MAX], origin[DNAME_TEXT_MAX];

	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		char *cls = ldns_rr_class2str(ldns_rr_get_class(rr));
		diag_error(b->d, fname, line,
			   "class %s is not served; only IN records belong in a zone file",
			   cls ? cls : "?");
		free(cls);
		return;
	}
	// canonical form lower-cases the owner and the names inside the
	// RDATA of the types RFC 4034 6.2 lists, and nothing else
	ldns_rr2canonical(rr);
	const ldns_rdf *owner = ldns_rr_owner(rr);
	const uint8_t *name = ldns_rdf_data(owner);
	if (!dname_is_subdomain(name, b->cz->origin)) {
		dname_to_text(text, name);
		dname_to_text(origin, b->cz->origin);
		diag_error(b->d, fname, line,
			   "'%s' is outside the zone '%s'; fix the name or $ORIGIN",
			   text, origin);
		return;
	}
	ldns_buffer_clear(b->wire);
	if (ldns_rr_rdata2buffer_wire(b->wire, rr) != LDNS_STATUS_OK ||
	    ldns_buffer_position(b->wire) > UINT16_MAX) {
		diag_error(b->d, fname, line, "record data too long");
		return;
	}
	if (b->rec_count == b->rec_cap) {
		size_t cap = b->rec_cap ? b->rec_cap * 2 : 256;
		struct zrec *r = realloc(b->recs, cap * sizeof(*r));
		if (r == NULL) {
			b->oom = true;
			return;
		}
		b->recs = r;
		b->rec_cap = cap;
	}
	struct zrec *r = &b->recs[b->rec_count];
	*r = (struct zrec){ .ttl = ldns_rr_ttl(rr), .line = line,
			    .type = ldns_rr_get_type(rr), .file = file,
			    .seq = b->rec_count,
			    .name_len = (uint8_t)ldns_rdf_size(owner),
			    .rdata_len = (uint16_t)ldns_buffer_position(b->wire) };
	if (!bytes_append(b, &b->names, name, r->name_len, &r->name_off) ||
	    !bytes_append(b, &b->rdata, ldns_buffer_begin(b->wire),
			  r->rdata_len, &r->rdata_off))
		return;
	b->rec_count++;
}

/* Splits the arguments of a directive line in place (quotes allowed). */
static size_t zone_tokens(char *s, char **tok, size_t max)
{
	size_t n = 0;
	while (n < max) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == ';' || *s == '\n' || *s == '\r')
			break;
		if (*s == '"') {
			tok[n++] = ++s;
			while (*s != '\0' && *s != '"')
				s++;
		} else {
			tok[n++] = s;
			while (*s != '\0' && strchr(" \t;\r\n", *s) == NULL)
				s++;
		}
		if (*s == ';' || *s == '\0') {
			*s = '\0';
			break;
		}
		*s++ = '\0';
	}
	return n;
}

/* Parses name relative to origin; NULL (with an error) when invalid. */
static ldns_rdf *zone_name_rdf(struct zbuild *b, const char *text,
			       const ldns_rdf *origin, uint16_t file,
			       unsigned line)
{
	uint8_t wire[DNAME_MAX];
	size_t len = dname_from_text(wire, text, ldns_rdf_data(origin));
	if (len == 0) {
		diag_error(b->d, b->files[file], line,
			   "'%s' is not a valid domain name", text);
		return NULL;
	}
	ldns_rdf *rdf = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, wire);
	if (rdf == NULL)
		b->oom = true;
	return rdf;
}

static void zone_read_file(struct zbuild *b, const char *path, FILE *fp,
			   unsigned depth, const ldns_rdf *origin,
			   uint32_t ttl);

static void zone_include(struct zbuild *b, char **tok, size_t n,
			 uint16_t file, unsigned line, unsigned depth,
			 const ldns_rdf *origin, uint32_t ttl)
{
	const char *fname = b->files[file];
	char *path = NULL, *real = NULL;
	ldns_rdf *inc_origin = NULL;
	FILE *fp = NULL;

	if (n < 1 || n > 2) {
		diag_error(b->d, fname, line,
			   "$INCLUDE needs a file name and an optional origin");
		return;
	}
	if (depth >= ZONE_INCLUDE_DEPTH) {
		diag_error(b->d, fname, line,
			   "$INCLUDE nested more than %d deep; is there a loop?",
			   ZONE_INCLUDE_DEPTH);
		return;
	}
	size_t plen = strlen(b->dir) + strlen(tok[0]) + 2;
	if ((path = malloc(plen)) == NULL)
		goto oom;
	if (tok[0][0] == '/')
		snprintf(path, plen, "%s", tok[0]);
	else
		snprintf(path, plen, "%s/%s", b->dir, tok[0]);
	if ((real = realpath(path, NULL)) == NULL) {
		diag_error(b->d, fname, line, "$INCLUDE %s: cannot open: %s",
			   path, strerror(errno));
		goto out;
	}
	size_t dlen = strlen(b->dir_real);
	bool root = strcmp(b->dir_real, "/") == 0;
	if (!root && (strncmp(real, b->dir_real, dlen) != 0 ||
		      real[dlen] != '/')) {
		diag_error(b->d, fname, line,
			   "$INCLUDE %s is outside the zone's directory %s; refused",
			   path, b->dir);
		goto out;
	}
	if (n == 2) {
		if ((inc_origin = zone_name_rdf(b, tok[1], origin, file,
						line)) == NULL)
			goto out;
	} else if ((inc_origin = ldns_rdf_clone(origin)) == NULL) {
		goto oom;
	}
	if ((fp = fopen(real, "r")) == NULL) {
		diag_error(b->d, fname, line, "$INCLUDE %s: cannot open: %s",
			   path, strerror(errno));
		goto out;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		diag_error(b->d, fname, line, "$INCLUDE %s: not a regular file",
			   path);
		goto out;
	}
	zone_read_file(b, path, fp, depth + 1, inc_origin, ttl);
	goto out;
oom:
	b->oom = true;
out:
	if (fp != NULL)
		fclose(fp);
	ldns_rdf_deep_free(inc_origin);
	free(real);
	free(path);
}

/* A line starting with '$': $ORIGIN, $TTL or $INCLUDE. */
static void zone_directive(struct zbuild *b, char *text, uint16_t file,
			   unsigned line, unsigned depth, ldns_rdf **origin,
			   uint32_t *ttl)
{
	const char *fname = b->files[file];
	char *tok[4];
	size_t wlen = strcspn(text, " \t;\r\n");
	char word[16];
	snprintf(word, sizeof(word), "%.*s", (int)(wlen < 15 ? wlen : 15),
		 text);
	size_t n = zone_tokens(text + wlen, tok, 3);

	if (strcasecmp(word, "$ORIGIN") == 0) {
		if (n != 1) {
			diag_error(b->d, fname, line, "$ORIGIN needs one domain name");
			return;
		}
		ldns_rdf *o = zone_name_rdf(b, tok[0], *origin, file, line);
		if (o != NULL) {
			ldns_rdf_deep_free(*origin);
			*origin = o;
		}
	} else if (strcasecmp(word, "$TTL") == 0) {
		const char *end = NULL;
		uint32_t v = n == 1 ? ldns_str2period(tok[0], &end) : 0;
		if (n != 1 || end == NULL || *end != '\0' || end == tok[0]) {
			diag_error(b->d, fname, line,
				   "$TTL needs one TTL (seconds, or like 1h30m)");
			return;
		}
		*ttl = v;
	} else if (strcasecmp(word, "$INCLUDE") == 0) {
		zone_include(b, tok, n, file, line, depth, *origin, *ttl);
	} else {
		diag_error(b->d, fname, line,
			   "unknown directive '%s' (use $ORIGIN, $TTL or $INCLUDE)",
			   word);
	}
}

/* True when the line holds nothing but blanks or a comment. */
static bool zone_line_blank(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return *s == '\0' || *s == ';';
}

/*
 * Reads one master file. Each physical line is peeked first: blank lines
 * and directives are ours (ldns cannot say which file an $INCLUDE names,
 * nor where a record begins after blank lines); records go back to ldns,
 * which also handles parentheses across lines.
 */
/*
 * True when the record text has an open quoted string: ldns accepts
 * `TXT "abc` at the end of a file, which is how a zone file cut in the
 * middle of a write looks.
 */
static bool zone_text_open_quote(const char *s, size_t n)
{
	bool quoted = false, comment = false;
	for (size_t i = 0; i < n; i++) {
		if (comment) {
			comment = s[i] != '\n';
		} else if (s[i] == '\\' && i + 1 < n) {
			i++;
		} else if (s[i] == '"') {
			quoted = !quoted;
		} else if (s[i] == ';' && !quoted) {
			comment = true;
		}
	}
	return quoted;
}

/* Re-reads the bytes [from, to) of fp and checks their quotes. */
static bool zone_record_open_quote(struct zbuild *b, FILE *fp, long from,
				   long to)
{
	size_t n = (size_t)(to - from);
	char *text = malloc(n ? n : 1);
	bool open = false;
	if (text == NULL) {
		b->oom = true;
		return false;
	}
	if (fseek(fp, from, SEEK_SET) == 0 && fread(text, 1, n, fp) == n)
		open = zone_text_open_quote(text, n);
	fseek(fp, to, SEEK_SET);
	free(text);
	return open;
}

static void zone_read_file(struct zbuild *b, const char *path, FILE *fp,
			   unsigned depth, const ldns_rdf *origin_in,
			   uint32_t ttl)
{
	int file = zone_file_add(b, path);
	ldns_rdf *origin = ldns_rdf_clone(origin_in), *prev = NULL;
	int line = 0;
	if (file < 0 || origin == NULL) {
		b->oom = true;
		goto out;
	}
	while (!b->oom) {
		long pos = ftell(fp);
		if (pos < 0) {
			diag_error(b->d, path, 0, "not a regular file");
			break;
		}
		if (getline(&b->line, &b->line_cap, fp) < 0)
			break;
		if (zone_line_blank(b->line)) {
			line++;
			continue;
		}
		if (b->line[0] == '$') {
			line++;
			zone_directive(b, b->line, (uint16_t)file,
				       (unsigned)line, depth, &origin, &ttl);
			continue;
		}
		if (fseek(fp, pos, SEEK_SET) != 0) {
			diag_error(b->d, path, 0, "not a regular file");
			break;
		}
		unsigned start = (unsigned)line + 1;
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin,
						     &prev, &line);
		long end = ftell(fp);
		if (s == LDNS_STATUS_OK && end >= pos &&
		    zone_record_open_quote(b, fp, pos, end)) {
			diag_error(b->d, path, start, "unterminated quoted "
				   "string (is the file cut short?)");
			ldns_rr_free(rr);
		} else if (s == LDNS_STATUS_OK) {
			zone_add_rr(b, rr, (uint16_t)file, start);
			ldns_rr_free(rr);
		} else if (s != LDNS_STATUS_SYNTAX_EMPTY) {
			diag_error(b->d, path, start, "%s",
				   ldns_get_errorstr_by_id(s));
		}
		if ((unsigned)line < start)
			line = (int)start; // last line without a newline
	}
out:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
}

/* ---- grouping records into nodes ------------------------------------- */

static int zrec_cmp(const void *pa, const void *pb)
{
	const struct zrec *a = pa, *b = pb;
	if (a->name_len != b->name_len)
		return a->name_len < b->name_len ? -1 : 1;
	int c = memcmp(a->name, b->name, a->name_len);
	if (c != 0)
		return c;
	if (a->type != b->type)
		return a->type < b->type ? -1 : 1;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static bool tnode_grow_table(struct zbuild *b)
{
	size_t size = b->ntable ? (b->ntable_mask + 1) * 2 : 256;
	size_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return false;
	for (size_t i = 0; i < b->node_count; i++) {
		const struct tnode *n = &b->nodes[i];
		size_t h = dname_hash(n->name, n->name_len) & (size - 1);
		while (t[h] != 0)
			h = (h + 1) & (size - 1);
		t[h] = i + 1;
	}
	free(b->ntable);
	b->ntable = t;
	b->ntable_mask = size - 1;
	return true;
}

static struct tnode *tnode_find(const struct zbuild *b, const uint8_t *name,
				size_t len)
{
	if (b->ntable == NULL)
		return NULL;
	size_t h = dname_hash(name, len) & b->ntable_mask;
	for (; b->ntable[h] != 0; h = (h + 1) & b->ntable_mask) {
		struct tnode *n = &b->nodes[b->ntable[h] - 1];
		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	}
	return NULL;
}

/* The node called name, added if new; NULL when out of memory. */
static struct tnode *tnode_get(struct zbuild *b, const uint8_t *name)
{
	size_t len = dname_length(name);
	struct tnode *n = tnode_find(b, name, len);
	if (n != NULL)
		return n;
	if (b->node_count == b->node_cap) {
		size_t cap = b->node_cap ? b->node_cap * 2 : 256;
		struct tnode *nodes = realloc(b->nodes, cap * sizeof(*nodes));
		if (nodes == NULL)
			goto oom;
		b->nodes = nodes;
		b->node_cap = cap;
	}
	if ((b->node_count + 1) * 2 > (b->ntable ? b->ntable_mask + 1 : 0) &&
	    !tnode_grow_table(b))
		goto oom;
	n = &b->nodes[b->node_count];
	*n = (struct tnode){ .name = name, .name_len = (uint8_t)len };
	size_t h = dname_hash(name, len) & b->ntable_mask;
	while (b->ntable[h] != 0)
		h = (h + 1) & b->ntable_mask;
	b->ntable[h] = ++b->node_count;
	return n;
oom:
	b->oom = true;
	return NULL;
}

/* Adds every ancestor of name below the origin as a node. */
static void tnode_add_ancestors(struct zbuild *b, const uint8_t *name)
{
	unsigned extra = dname_labels(name) - dname_labels(b->cz->origin);
	for (unsigned i = 1; i < extra; i++)
		if (tnode_get(b, dname_strip(name, i)) == NULL)
			return;
}

static const struct zrec *tnode_rec(const struct zbuild *b,
				    const struct tnode *n, uint16_t type)
{
	for (size_t i = n->first; i < n->first + n->count; i++)
		if (b->recs[i].type == type)
			return &b->recs[i];
	return NULL;
}

static void zone_group_records(struct zbuild *b)
{
	for (size_t i = 0; i < b->rec_count; i++) {
		struct zrec *r = &b->recs[i];
		r->name = b->names.data + r->name_off;
		r->rdata = b->rdata.data + r->rdata_off;
	}
	if (b->rec_count > 0)
		qsort(b->recs, b->rec_count, sizeof(*b->recs), zrec_cmp);

	struct tnode *apex = tnode_get(b, b->cz->origin);
	if (apex == NULL)
		return;
	apex->flags |= ZONE_NODE_APEX;
	for (size_t i = 0; i < b->rec_count;) {
		size_t j = i + 1;
		while (j < b->rec_count &&
		       b->recs[j].name_len == b->recs[i].name_len &&
		       memcmp(b->recs[j].name, b->recs[i].name,
			      b->recs[i].name_len) == 0)
			j++;
		struct tnode *n = tnode_get(b, b->recs[i].name);
		if (n == NULL)
			return;
		n->first = i;
		n->count = j - i;
		if (b->recs[i].name_len != b->cz->origin_len &&
		    tnode_rec(b, n, LDNS_RR_TYPE_NS) != NULL)
			n->flags |= ZONE_NODE_DELEGATION;
		i = j;
	}
	// owners first, then their ancestors: nodes[] grows meanwhile
	size_t owners = b->node_count;
	for (size_t i = 0; i < owners; i++)
		tnode_add_ancestors(b, b->nodes[i].name);
}

/* ---- checks ---------------------------------------------------------- */

static void zone_check_cname(struct zbuild *b, const struct tnode *n)
{
	const struct zrec *cname = tnode_rec(b, n, LDNS_RR_TYPE_CNAME);
	if (cname == NULL)
		return;
	char text[DNAME_TEXT_MAX], tbuf[16];
	dname_to_text(text, n->name);
	for (size_t i = n->first; i < n->first + n->count; i++) {
		const struct zrec *r = &b->recs[i];
		if (r->type == LDNS_RR_TYPE_RRSIG ||
		    r->type == LDNS_RR_TYPE_NSEC)
			continue;
		if (r->type == LDNS_RR_TYPE_CNAME) {
			if (r != cname && (r->rdata_len != cname->rdata_len ||
			    memcmp(r->rdata, cname->rdata, r->rdata_len) != 0))
				diag_error(b->d, b->files[r->file], r->line,
					   "'%s' has more than one CNAME; keep one",
					   text);
			continue;
		}
		diag_error(b->d, b->files[cname->file], cname->line,
			   "'%s' has a CNAME and other data (%s at %s:%u); a CNAME must be alone at its name",
			   text, zone_type_name(r->type, tbuf),
			   b->files[r->file], r->line);
		return;
	}
}

/* Regional names: inside the zone, no CNAME, A/AAAA superseded. */
static void zone_add_regional(struct zbuild *b)
{
	const struct config_zone *cz = b->cz;
	const char *cfile = b->cfg->path;
	char tbuf[16];

	for (size_t j = 0; j < cz->regional_count; j++) {
		const struct config_regional_name *rn = &cz->regional[j];
		if (!dname_is_subdomain(rn->name, cz->origin)) {
			diag_error(b->d, cfile, rn->line,
				   "regional name '%s' is outside the zone '%s'",
				   rn->text, cz->origin_text);
			continue;
		}
		struct tnode *n = tnode_get(b, rn->name);
		if (n == NULL)
			return;
		n->flags |= ZONE_NODE_REGIONAL;
		tnode_add_ancestors(b, rn->name);
		n = tnode_find(b, rn->name, rn->name_len); // nodes[] may move

		const struct zrec *r = tnode_rec(b, n, LDNS_RR_TYPE_CNAME);
		if (r != NULL)
			diag_error(b->d, cfile, rn->line,
				   "regional name '%s' has a CNAME in %s:%u; remove one of them",
				   rn->text, b->files[r->file], r->line);
		for (size_t i = n->first; i < n->first + n->count; i++) {
			r = &b->recs[i];
			if (r->type == LDNS_RR_TYPE_A ||
			    r->type == LDNS_RR_TYPE_AAAA)
				diag_warn(b->d, b->files[r->file], r->line,
					  "%s record at regional name '%s' is superseded by the regional answer",
					  zone_type_name(r->type, tbuf),
					  rn->text);
		}
		// below a zone cut the referral wins and the name is never
		// answered: worth a warning, not a refusal
		unsigned extra = dname_labels(rn->name) -
				 dname_labels(cz->origin);
		for (unsigned k = 0; k < extra; k++) {
			const uint8_t *up = dname_strip(rn->name, k);
			const struct tnode *a = tnode_find(b, up,
							   dname_length(up));
			if (a != NULL && (a->flags & ZONE_NODE_DELEGATION)) {
				char cut[DNAME_TEXT_MAX];
				dname_to_text(cut, up);
				diag_warn(b->d, cfile, rn->line,
					  "regional name '%s' is at or below the delegation '%s' and will not be answered",
					  rn->text, cut);
				break;
			}
		}
	}
}

static void zone_check_soa(struct zbuild *b, const struct tnode *apex)
{
	char text[DNAME_TEXT_MAX];
	const struct zrec *soa = tnode_rec(b, apex, LDNS_RR_TYPE_SOA);
	if (soa == NULL) {
		diag_error(b->d, b->files[0], 0,
			   "no SOA record at the zone apex '%s'",
			   b->cz->origin_text);
		return;
	}
	for (size_t i = 0; i < b->node_count; i++) {
		const struct tnode *n = &b->nodes[i];
		for (size_t k = n->first; k < n->first + n->count; k++) {
			const struct zrec *r = &b->recs[k];
			if (r->type != LDNS_RR_TYPE_SOA || r == soa)
				continue;
			dname_to_text(text, n->name);
			diag_error(b->d, b->files[r->file], r->line, n == apex ?
				   "more than one SOA record at '%s'; keep one" :
				   "SOA record at '%s', which is not the zone apex",
				   text);
		}
	}
	if (tnode_rec(b, apex, LDNS_RR_TYPE_NS) == NULL)
		diag_warn(b->d, b->files[0], 0,
			  "no NS records at the zone apex '%s'",
			  b->cz->origin_text);
}

/* ---- compiling into the arena ---------------------------------------- */

/* True when recs[i] repeats an earlier record of its RRset. */
static bool zrec_duplicate(const struct zbuild *b, size_t first, size_t i)
{
	const struct zrec *r = &b->recs[i];
	for (size_t k = first; k < i; k++)
		if (b->recs[k].rdata_len == r->rdata_len &&
		    memcmp(b->recs[k].rdata, r->rdata, r->rdata_len) == 0)
			return true;
	return false;
}

/* Fills one RRset from recs[first .. end); returns rdata bytes used. */
static size_t zone_fill_rrset(struct zbuild *b, struct zone_rrset *set,
			      size_t first, size_t end, uint8_t *out)
{
	const struct zrec *head = &b->recs[first];
	char text[DNAME_TEXT_MAX], tbuf[16];
	size_t used = 0;
	bool warned = false;

	*set = (struct zone_rrset){ .type = head->type, .ttl = head->ttl,
				    .rdata = out };
	for (size_t i = first; i < end; i++) {
		const struct zrec *r = &b->recs[i];
		if (zrec_duplicate(b, first, i))
			continue;
		if (set->count == UINT16_MAX) {
			dname_to_text(text, r->name);
			diag_error(b->d, b->files[r->file], r->line,
				   "more than %u '%s' %s records; split them",
				   UINT16_MAX, text, zone_type_name(r->type, tbuf));
			break;
		}
		if (r->ttl != head->ttl && !warned &&
		    r->type != LDNS_RR_TYPE_RRSIG) {
			dname_to_text(text, r->name);
			diag_warn(b->d, b->files[r->file], r->line,
				  "TTL %u differs from TTL %u of the other '%s' %s records; using the lowest",
				  r->ttl, head->ttl, text,
				  zone_type_name(r->type, tbuf));
			warned = true;
		}
		if (r->ttl < set->ttl)
			set->ttl = r->ttl;
		out[used] = (uint8_t)(r->rdata_len >> 8);
		out[used + 1] = (uint8_t)r->rdata_len;
		memcpy(out + used + 2, r->rdata, r->rdata_len);
		used += 2 + (size_t)r->rdata_len;
		set->count++;
	}
	set->rdata_len = used;
	return used;
}

static bool zrec_same_set(const struct zrec *a, const struct zrec *b)
{
	return a->type == b->type && a->name_len == b->name_len &&
	       memcmp(a->name, b->name, a->name_len) == 0;
}

static size_t zone_count_rrsets(const struct zbuild *b)
{
	size_t sets = 0;
	for (size_t i = 0; i < b->rec_count; i++)
		if (i == 0 || !zrec_same_set(&b->recs[i], &b->recs[i - 1]))
			sets++;
	return sets;
}

static void zone_fill_node(struct zbuild *b, struct zone *z,
			   const struct tnode *t, struct zone_node *node,
			   struct zone_rrset **sets, uint8_t **rdata)
{
	node->rrsets = *sets;
	node->rrset_count = 0;
	for (size_t i = t->first; i < t->first + t->count;) {
		size_t j = i + 1;
		while (j < t->first + t->count &&
		       b->recs[j].type == b->recs[i].type)
			j++;
		struct zone_rrset *set = (*sets)++;
		*rdata += zone_fill_rrset(b, set, i, j, *rdata);
		node->rrset_count++;
		z->record_count += set->count;
		i = j;
	}
}

static void zone_fill_soa(struct zone *z)
{
	const struct zone_rrset *soa = zone_node_rrset(z->apex,
						       LDNS_RR_TYPE_SOA);
	z->soa = soa;
	if (soa == NULL || soa->rdata_len < 2 + 20)
		return;
	const uint8_t *m = soa->rdata + 2 + (soa->rdata[0] << 8 |
					      soa->rdata[1]) - 4;
	uint32_t minimum = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
			   (uint32_t)m[2] << 8 | m[3];
	z->negative_ttl = soa->ttl < minimum ? soa->ttl : minimum;
}

static bool zone_compile(struct zbuild *b, struct arena_block **arena,
			 struct zone *z)
{
	size_t n = b->node_count, nsets = zone_count_rrsets(b);
	size_t rdata_size = 0, names_size = 0, size = 4;
	for (size_t i = 0; i < b->rec_count; i++)
		rdata_size += 2 + (size_t)b->recs[i].rdata_len;
	for (size_t i = 0; i < n; i++)
		names_size += b->nodes[i].name_len;
	while (size < n * 2)
		size *= 2;

	struct zone_node *nodes = arena_alloc(arena, n * sizeof(*nodes));
	struct zone_rrset *sets = arena_alloc(arena, nsets * sizeof(*sets));
	uint8_t *rdata = arena_alloc(arena, rdata_size);
	uint8_t *names = arena_alloc(arena, names_size);
	const struct zone_node **table = arena_alloc(arena,
						     size * sizeof(*table));
	if (!nodes || !sets || !rdata || !names || !table)
		return false;
	memset(table, 0, size * sizeof(*table));

	z->table = table;
	z->table_mask = size - 1;
	z->node_count = n;
	z->record_count = 0;
	for (size_t i = 0; i < n; i++) {
		const struct tnode *t = &b->nodes[i];
		struct zone_node *node = &nodes[i];
		memcpy(names, t->name, t->name_len);
		node->name = names;
		names += t->name_len;
		node->name_len = t->name_len;
		node->labels = (uint8_t)dname_labels(t->name);
		node->flags = t->flags;
		zone_fill_node(b, z, t, node, &sets, &rdata);
		size_t h = dname_hash(node->name, node->name_len) & (size - 1);
		while (table[h] != NULL)
			h = (h + 1) & (size - 1);
		table[h] = node;
		if (t->flags & ZONE_NODE_APEX) {
			z->apex = node;
			z->origin = node->name;
			z->origin_len = node->name_len;
			z->origin_labels = node->labels;
		}
	}
	z->regional_ttl = b->cz->ttl;
	zone_fill_soa(z);
	return true;
}

/* ---- one zone -------------------------------------------------------- */

static void zbuild_free(struct zbuild *b)
{
	for (size_t i = 0; i < b->file_count; i++)
		free(b->files[i]);
	free(b->files);
	free(b->recs);
	free(b->names.data);
	free(b->rdata.data);
	free(b->nodes);
	free(b->ntable);
	free(b->line);
	free(b->dir);
	free(b->dir_real);
	ldns_buffer_free(b->wire);
}

static char *zone_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

/* Reads the zone file of cz and compiles it into z; false on error. */
static bool zone_load_one(const struct config *cfg,
			  const struct config_zone *cz, struct diag *d,
			  struct arena_block **arena, struct zone *z)
{
	struct zbuild b = { .cfg = cfg, .cz = cz, .d = d };
	unsigned errors = diag_errors(d);
	ldns_rdf *origin = NULL;
	bool ok = false;

	FILE *fp = fopen(cz->file, "r");
	if (fp == NULL) {
		diag_error(d, cfg->path, cz->line, "%s: cannot open: %s",
			   cz->file, strerror(errno));
		return false;
	}
	struct stat st;
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		diag_error(d, cfg->path, cz->line, "%s: not a regular file",
			   cz->file);
		goto out;
	}
	b.dir = zone_dirname(cz->file);
	b.wire = ldns_buffer_new(4096);
	origin = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, cz->origin_len,
				       cz->origin);
	if (b.dir == NULL || b.wire == NULL || origin == NULL)
		goto oom;
	if ((b.dir_real = realpath(b.dir, NULL)) == NULL) {
		diag_error(d, cfg->path, cz->line, "%s: cannot open: %s",
			   b.dir, strerror(errno));
		goto out;
	}
	zone_read_file(&b, cz->file, fp, 0, origin, ZONE_DEFAULT_TTL);
	if (b.oom)
		goto oom;
	zone_group_records(&b);
	zone_add_regional(&b);
	if (b.oom)
		goto oom;
	zone_check_soa(&b, tnode_find(&b, cz->origin, cz->origin_len));
	for (size_t i = 0; i < b.node_count; i++)
		zone_check_cname(&b, &b.nodes[i]);
	// compiled even after errors, for the TTL warnings it reports
	if (!zone_compile(&b, arena, z))
		goto oom;
	ok = diag_errors(d) == errors;
	goto out;
oom:
	diag_error(d, cfg->path, cz->line, "%s: out of memory", cz->file);
out:
	fclose(fp);
	ldns_rdf_deep_free(origin);
	zbuild_free(&b);
	return ok;
}

/* ---- the zone set ---------------------------------------------------- */

static const struct zone *zone_set_lookup(const struct zone_set *zs,
					  const uint8_t *name, size_t len)
{
	size_t h = dname_hash(name, len) & zs->table_mask;
	for (; zs->table[h] != NULL; h = (h + 1) & zs->table_mask) {
		const struct zone *z = zs->table[h];
		if (z->origin_len == len && memcmp(z->origin, name, len) == 0)
			return z;
	}
	return NULL;
}

static bool zone_set_index(struct zone_set *zs, const struct config *cfg,
			   struct diag *d)
{
	size_t size = 4;
	while (size < zs->zone_count * 2)
		size *= 2;
	zs->table = arena_alloc(&zs->arena, size * sizeof(*zs->table));
	if (zs->table == NULL)
		return false;
	memset(zs->table, 0, size * sizeof(*zs->table));
	zs->table_mask = size - 1;
	for (size_t i = 0; i < zs->zone_count; i++) {
		const struct zone *z = &zs->zones[i];
		if (zone_set_lookup(zs, z->origin, z->origin_len) != NULL) {
			diag_error(d, cfg->path, cfg->zones[i].line,
				   "zone '%s' is declared twice",
				   cfg->zones[i].origin_text);
			continue;
		}
		size_t h = dname_hash(z->origin, z->origin_len) & (size - 1);
		while (zs->table[h] != NULL)
			h = (h + 1) & (size - 1);
		zs->table[h] = z;
		zs->record_count += z->record_count;
		if (z->origin_labels > zs->max_labels)
			zs->max_labels = z->origin_labels;
	}
	return true;
}

struct zone_set *zone_set_load(const struct config *cfg, struct diag *d)
{
	unsigned errors = diag_errors(d);
	struct zone_set *zs = calloc(1, sizeof(*zs));
	if (zs == NULL)
		goto oom;
	zs->zone_count = cfg->zone_count;
	zs->zones = arena_alloc(&zs->arena,
				cfg->zone_count * sizeof(*zs->zones));
	if (zs->zones == NULL)
		goto oom;
	memset(zs->zones, 0, cfg->zone_count * sizeof(*zs->zones));
	for (size_t i = 0; i < cfg->zone_count; i++)
		zone_load_one(cfg, &cfg->zones[i], d, &zs->arena,
			      &zs->zones[i]);
	if (diag_errors(d) > errors)
		goto fail;
	if (!zone_set_index(zs, cfg, d))
		goto oom;
	if (diag_errors(d) > errors)
		goto fail;
	return zs;
oom:
	diag_error(d, cfg->path, 0, "out of memory loading zones");
fail:
	zone_set_free(zs);
	return NULL;
}

void zone_set_free(struct zone_set *zs)
{
	if (zs == NULL)
		return;
	arena_free(zs->arena);
	free(zs);
}

const struct zone *zone_set_find(const struct zone_set *zs,
				 const uint8_t *qname)
{
	uint8_t name[DNAME_MAX];
	size_t len = dname_copy_lower(name, qname);
	unsigned labels = dname_labels(name);
	const uint8_t *p = name;

	// no zone has more labels than max_labels: skip those suffixes
	if (labels > zs->max_labels)
		p = dname_strip(name, labels - zs->max_labels);
	for (;;) {
		const struct zone *z = zone_set_lookup(zs, p,
						       len - (size_t)(p - name));
		if (z != NULL)
			return z;
		if (*p == 0)
			return NULL;
		p += *p + 1;
	}
}

const struct zone_node *zone_find_node(const struct zone *z,
				       const uint8_t *name)
{
	size_t len = dname_length(name);
	size_t h = dname_hash(name, len) & z->table_mask;
	for (; z->table[h] != NULL; h = (h + 1) & z->table_mask) {
		const struct zone_node *n = z->table[h];
		if (n->name_len == len && memcmp(n->name, name, len) == 0)
			return n;
	}
	return NULL;
}

const struct zone_rrset *zone_node_rrset(const struct zone_node *node,
					 uint16_t type)
{
	size_t lo = 0, hi = node->rrset_count;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		uint16_t t = node->rrsets[mid].type;
		if (t == type)
			return &node->rrsets[mid];
		if (t < type)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

size_t zone_set_zone_count(const struct zone_set *zs)
{
	return zs->zone_count;
}

size_t zone_set_record_count(const struct zone_set *zs)
{
	return zs->record_count;
}

const struct zone *zone_set_zone(const struct zone_set *zs, size_t i)
{
	return i < zs->zone_count ? &zs->zones[i] : NULL;
}
