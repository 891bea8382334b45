/*
 * src/geo.c — the geo database. geo_load reads the .mmdb into a private
 * buffer and decodes it with its own bounded reader of the MaxMind DB
 * format (no libmaxminddb): the search tree is flattened into two arrays
 * and, per distinct data record, only continent and country are kept.
 * geo_lookup walks those arrays; the file may change on disk at any time.
 */
#include "autoconf.h"
#include "geo.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "addr.h"
#include "country.h"
#include "diag.h"
#include "file.h"

/*
 * Limits on what a database may make the loader do (README, "Using a real
 * geo database"). The depth and per-record value limits are the "Reader
 * Resource Limits" of the MaxMind DB specification; a real record decodes
 * a few hundred values at most, nests 4 deep.
 */
#define GEO_FILE_MAX ((size_t)1 << 30) /* 1 GiB */
#define GEO_METADATA_MAX (128 * 1024)  /* spec: marker included */
#define GEO_DEPTH_MAX 512
#define GEO_RECORD_VALUES_MAX (1u << 16)
/* All records together: this many values per data section byte (real
 * databases use well under 1), so crafted overlapping records cannot
 * multiply the per-record limit into hours of work. */
#define GEO_VALUES_PER_BYTE 16
#define GEO_VALUES_BASE ((uint64_t)1 << 20)
#define GEO_TYPE_MAX 255 /* database_type bytes */

static const uint8_t geo_marker[] = "\xab\xcd\xefMaxMind.com";
#define GEO_MARKER_LEN (sizeof(geo_marker) - 1)
#define GEO_SEPARATOR 16 /* zero bytes between tree and data */

/* The data types of the MaxMind DB format, as numbered there. */
enum geo_type {
	GEO_POINTER = 1,
	GEO_STRING = 2,
	GEO_DOUBLE = 3,
	GEO_BYTES = 4,
	GEO_UINT16 = 5,
	GEO_UINT32 = 6,
	GEO_MAP = 7,
	GEO_INT32 = 8,
	GEO_UINT64 = 9,
	GEO_UINT128 = 10,
	GEO_ARRAY = 11,
	GEO_CONTAINER = 12,
	GEO_END_MARKER = 13,
	GEO_BOOLEAN = 14,
	GEO_FLOAT = 15,
};

/*
 * Tree values, as in the mmdb itself: v < node_count is a child node,
 * v == node_count is "no data", v > node_count is records[v - node_count - 1].
 * Node numbers are kept as in the file, so the IPv6 aliases MaxMind writes
 * (::ffff:0:0/96, 2002::/16 → the IPv4 subtree) stay shared, not copied.
 */
struct geo {
	uint32_t *left, *right;
	uint32_t node_count;
	struct geo_record *records;
	uint32_t record_count, record_cap;
	unsigned ip_version;
	char *database_type;
	/* Where IPv4 lookups start in an IPv6 tree: after 96 zero bits, or
	 * the leaf met before that. */
	uint32_t v4_start;
	unsigned v4_start_depth;
};

/* Data offset → record index, open addressing; used only while loading. */
struct geo_dedup {
	uint32_t *keys; /* offset + 1; 0 = free slot */
	uint32_t *values;
	size_t cap, used;
};

/* One section decoded by geo_item_read: the data section, or the
 * metadata. Pointers are offsets from base. */
struct geo_section {
	const uint8_t *base;
	size_t size;
};

/* One decoded control: type, size, where its payload starts. */
struct geo_item {
	unsigned type;
	uint32_t size;   /* bytes; entries for maps/arrays; bool value */
	size_t payload;  /* first payload byte or first child */
	size_t next;     /* just after this item (children excluded) */
	uint32_t target; /* GEO_POINTER: offset pointed to */
};

/* The decoding of one record (or the metadata), with its budget and the
 * first problem found. */
struct geo_walk {
	const struct geo_section *s;
	uint32_t values;  /* decoded so far in this record */
	uint64_t *budget; /* left for the whole load */
	const char *why;
	size_t where;
};

struct geo_loader {
	const uint8_t *bytes;
	size_t len;
	struct geo_section data;
	struct geo_section meta;
	uint32_t record_size;
	uint64_t budget;
	bool asn_seen; /* an autonomous_system_number key was met */
	struct geo *g;
	struct geo_dedup dedup;
	const char *path;
	struct diag *d;
};

/* ---- the data format ------------------------------------------------- */

static int geo_walk_fail(struct geo_walk *w, size_t where, const char *why)
{
	if (w->why == NULL) {
		w->why = why;
		w->where = where;
	}
	return -1;
}

static uint32_t geo_be_read(const uint8_t *p, size_t n)
{
	uint32_t v = 0;
	for (size_t i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

/* A pointer's control byte at off - 1: offset it points to, in it. */
static int geo_pointer_read(struct geo_walk *w, size_t off, uint8_t ctrl,
			    struct geo_item *it)
{
	static const uint32_t bias[4] = {0, 2048, 526336, 0};
	const struct geo_section *s = w->s;
	unsigned ss = (ctrl >> 3) & 3;
	size_t n = ss + 1;

	if (n > s->size - off)
		return geo_walk_fail(w, off - 1, "a pointer cut short");
	uint32_t high = ss == 3 ? 0 : (uint32_t)(ctrl & 7) << (8 * n);
	it->target = (high | geo_be_read(s->base + off, n)) + bias[ss];
	it->size = 0;
	it->payload = it->next = off + n;
	if (it->target >= s->size)
		return geo_walk_fail(w, off - 1, "a pointer past the section");
	return 0;
}

/* Whether size fits type; maps, arrays, strings and bytes take any. */
static bool geo_size_ok(unsigned type, uint32_t size)
{
	switch (type) {
	case GEO_DOUBLE:
		return size == 8;
	case GEO_FLOAT:
		return size == 4;
	case GEO_UINT16:
		return size <= 2;
	case GEO_UINT32:
	case GEO_INT32:
		return size <= 4;
	case GEO_UINT64:
		return size <= 8;
	case GEO_UINT128:
		return size <= 16;
	case GEO_BOOLEAN:
		return size <= 1;
	default:
		return true;
	}
}

/*
 * Decodes the control byte(s) at off into it, counting one value against
 * the record's and the load's limits. The item's own payload must lie
 * inside the section; a map's or array's children are not looked at.
 */
static int geo_item_read(struct geo_walk *w, size_t off, struct geo_item *it)
{
	const struct geo_section *s = w->s;
	const uint8_t *p = s->base;
	size_t at = off;

	if (++w->values > GEO_RECORD_VALUES_MAX)
		return geo_walk_fail(w, off, "more than 65536 values");
	if (*w->budget == 0)
		return geo_walk_fail(w, off,
				     "more values than the whole "
				     "file could hold");
	(*w->budget)--;
	if (off >= s->size)
		return geo_walk_fail(w, off, "a value past the section");
	uint8_t ctrl = p[off++];
	it->type = ctrl >> 5;
	if (it->type == GEO_POINTER)
		return geo_pointer_read(w, off, ctrl, it);
	if (it->type == 0) {
		// extended type: the next byte holds type - 7
		if (off >= s->size || p[off] < 1 || p[off] > 8)
			return geo_walk_fail(w, at, "an invalid type");
		it->type = 7u + p[off++];
	}
	if (it->type == GEO_CONTAINER || it->type == GEO_END_MARKER)
		return geo_walk_fail(w, at, "an invalid type");
	it->size = ctrl & 0x1f;
	if (it->size >= 29) {
		static const uint32_t base[3] = {29, 285, 65821};
		size_t n = it->size - 28;
		if (n > s->size - off)
			return geo_walk_fail(w, at, "a size cut short");
		it->size = base[n - 1] + geo_be_read(p + off, n);
		off += n;
	}
	if (!geo_size_ok(it->type, it->size))
		return geo_walk_fail(w, at, "a number of the wrong size");
	it->payload = it->next = off;
	if (it->type == GEO_MAP || it->type == GEO_ARRAY ||
	    it->type == GEO_BOOLEAN)
		return 0;
	if (it->size > s->size - off)
		return geo_walk_fail(w, at, "a value cut short");
	it->next = off + it->size;
	return 0;
}

/* Reads the item at off, through one pointer; *after is where the next
 * item starts (after the pointer, if there was one). */
static int geo_item_resolve(struct geo_walk *w, size_t off, struct geo_item *it,
			    size_t *after)
{
	if (geo_item_read(w, off, it) < 0)
		return -1;
	*after = it->next;
	if (it->type != GEO_POINTER)
		return 0;
	size_t target = it->target;
	if (geo_item_read(w, target, it) < 0)
		return -1;
	// The spec forbids it; and it is how a pointer loop would start.
	if (it->type == GEO_POINTER)
		return geo_walk_fail(w, target, "a pointer to a pointer");
	return 0;
}

/*
 * Steps over the value at off, maps and arrays with all they hold, and
 * sets *end after it. Iterative: the nesting is a counter per level, so
 * no input can exhaust the stack; pointers are checked, not followed.
 */
static int geo_value_skip(struct geo_walk *w, size_t off, size_t *end)
{
	uint32_t pending[GEO_DEPTH_MAX];
	unsigned depth = 0;

	for (;;) {
		struct geo_item it;
		if (geo_item_read(w, off, &it) < 0)
			return -1;
		off = it.next;
		if ((it.type == GEO_MAP || it.type == GEO_ARRAY) &&
		    it.size > 0) {
			if (depth == GEO_DEPTH_MAX)
				return geo_walk_fail(w, it.payload,
						     "nesting "
						     "deeper than 512");
			// a map of size n holds n keys and n values
			pending[depth++] =
				it.type == GEO_MAP ? 2 * it.size : it.size;
			continue;
		}
		// a whole value: it may complete the containers around it
		while (depth > 0 && --pending[depth - 1] == 0)
			depth--;
		if (depth == 0) {
			*end = off;
			return 0;
		}
	}
}

/* The key at *off of a map (a string, or a pointer to one); *off moves
 * to the value. */
static int geo_key_read(struct geo_walk *w, size_t *off, struct geo_item *key)
{
	size_t at = *off;
	if (geo_item_resolve(w, at, key, off) < 0)
		return -1;
	if (key->type != GEO_STRING)
		return geo_walk_fail(w, at, "a map key that is not a string");
	return 0;
}

static bool geo_key_is(const struct geo_walk *w, const struct geo_item *key,
		       const char *name)
{
	size_t n = strlen(name);
	return key->size == n &&
	       memcmp(w->s->base + key->payload, name, n) == 0;
}

/*
 * Scans the map it (already read) for the keys in names; values[i] is
 * set to the offset of names[i]'s value, or stays SIZE_MAX. Every key is
 * checked and every value stepped over, so the whole map is validated.
 */
static int geo_map_scan(struct geo_walk *w, const struct geo_item *map,
			const char *const *names, size_t *values, size_t n)
{
	size_t off = map->payload;

	for (size_t i = 0; i < n; i++)
		values[i] = SIZE_MAX;
	for (uint32_t e = 0; e < map->size; e++) {
		struct geo_item key;
		if (geo_key_read(w, &off, &key) < 0)
			return -1;
		for (size_t i = 0; i < n; i++)
			if (values[i] == SIZE_MAX &&
			    geo_key_is(w, &key, names[i]))
				values[i] = off;
		if (geo_value_skip(w, off, &off) < 0)
			return -1;
	}
	return 0;
}

/* ---- records ---------------------------------------------------------- */

/* The two-letter string at off as upper-case ISO letters in out: 1, or 0
 * when it is anything else. */
static int geo_code_read(struct geo_walk *w, size_t off, char out[3])
{
	struct geo_item it;
	size_t after;

	if (geo_item_resolve(w, off, &it, &after) < 0)
		return -1;
	if (it.type != GEO_STRING || it.size != 2)
		return 0;
	for (int i = 0; i < 2; i++) {
		char c = (char)w->s->base[it.payload + (size_t)i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return 0;
		out[i] = c;
	}
	out[2] = '\0';
	return 1;
}

/* The code under key in the map at off (e.g. country → iso_code). */
static int geo_submap_code_read(struct geo_walk *w, size_t off, const char *key,
				char out[3])
{
	struct geo_item map;
	size_t after, value;

	if (geo_item_resolve(w, off, &map, &after) < 0)
		return -1;
	if (map.type != GEO_MAP)
		return 0; // e.g. "country" is not a map: simply not there
	if (geo_map_scan(w, &map, &key, &value, 1) < 0)
		return -1;
	return value == SIZE_MAX ? 0 : geo_code_read(w, value, out);
}

enum {
	KEY_CONTINENT,
	KEY_COUNTRY,
	KEY_COUNTRY_CODE,
	KEY_REGISTERED,
	KEY_ASN,
	KEY_COUNT
};

/* The country, in the order the SPEC prefers: country.iso_code, a
 * top-level country_code (DB-IP), registered_country.iso_code. */
static int geo_country_read(struct geo_walk *w, const size_t *at, char out[3])
{
	int rc = 0;
	if (at[KEY_COUNTRY] != SIZE_MAX)
		rc = geo_submap_code_read(w, at[KEY_COUNTRY], "iso_code", out);
	if (rc == 0 && at[KEY_COUNTRY_CODE] != SIZE_MAX)
		rc = geo_code_read(w, at[KEY_COUNTRY_CODE], out);
	if (rc == 0 && at[KEY_REGISTERED] != SIZE_MAX)
		rc = geo_submap_code_read(w, at[KEY_REGISTERED], "iso_code",
					  out);
	return rc;
}

/* Fills rec from the record at data offset off; -1 (why in w) when it
 * is corrupt. A record that is not a map has no location. */
static int geo_record_decode(struct geo_loader *l, struct geo_walk *w,
			     uint32_t off, struct geo_record *rec)
{
	static const char *const names[KEY_COUNT] = {
		[KEY_CONTINENT] = "continent",
		[KEY_COUNTRY] = "country",
		[KEY_COUNTRY_CODE] = "country_code",
		[KEY_REGISTERED] = "registered_country",
		[KEY_ASN] = "autonomous_system_number",
	};
	struct geo_item top;
	size_t at[KEY_COUNT], end;
	char code[3];
	int rc;

	memset(rec, 0, sizeof(*rec));
	rec->continent = CONTINENT_UNKNOWN;
	rec->mmdb_offset = off;
	if (geo_item_resolve(w, off, &top, &end) < 0)
		return -1;
	if (top.type != GEO_MAP)
		return geo_value_skip(w, off, &end);
	if (geo_map_scan(w, &top, names, at, KEY_COUNT) < 0)
		return -1;
	if (at[KEY_ASN] != SIZE_MAX)
		l->asn_seen = true;
	rc = geo_country_read(w, at, code);
	if (rc < 0)
		return -1;
	if (rc > 0)
		memcpy(rec->country, code, sizeof(code));
	if (at[KEY_CONTINENT] != SIZE_MAX) {
		rc = geo_submap_code_read(w, at[KEY_CONTINENT], "code", code);
		if (rc < 0)
			return -1;
		if (rc > 0)
			rec->continent = (uint8_t)continent_from_code(code);
	}
	if (rec->continent == CONTINENT_UNKNOWN && rec->country[0] != '\0')
		rec->continent = (uint8_t)country_continent(rec->country);
	return 0;
}

static int geo_record_extract(struct geo_loader *l, uint32_t off,
			      struct geo_record *rec)
{
	struct geo_walk w = {.s = &l->data, .budget = &l->budget};

	if (geo_record_decode(l, &w, off, rec) == 0)
		return 0;
	diag_error(l->d, l->path, 0,
		   "corrupt data record at offset %u: %s "
		   "at offset %zu (replace the file with a good copy)",
		   off, w.why, w.where);
	return -1;
}

static size_t geo_dedup_slot(const struct geo_dedup *h, uint32_t key)
{
	// Fibonacci hashing spreads the (often sequential) offsets.
	size_t i = (size_t)((key * UINT64_C(11400714819323198485)) >> 32);
	for (;;) {
		i &= h->cap - 1;
		if (h->keys[i] == 0 || h->keys[i] == key)
			return i;
		i++;
	}
}

static int geo_dedup_grow(struct geo_dedup *h)
{
	struct geo_dedup bigger = {.cap = h->cap ? h->cap * 2 : 1024};
	bigger.keys = calloc(bigger.cap, sizeof(uint32_t));
	bigger.values = calloc(bigger.cap, sizeof(uint32_t));
	if (bigger.keys == NULL || bigger.values == NULL) {
		free(bigger.keys);
		free(bigger.values);
		return -1;
	}
	for (size_t i = 0; i < h->cap; i++) {
		if (h->keys[i] == 0)
			continue;
		size_t s = geo_dedup_slot(&bigger, h->keys[i]);
		bigger.keys[s] = h->keys[i];
		bigger.values[s] = h->values[i];
	}
	bigger.used = h->used;
	free(h->keys);
	free(h->values);
	*h = bigger;
	return 0;
}

static void geo_dedup_free(struct geo_dedup *h)
{
	free(h->keys);
	free(h->values);
}

/* Index of the record at data offset off, decoding it on first sight. */
static int geo_record_intern(struct geo_loader *l, uint32_t off,
			     uint32_t *index)
{
	struct geo_dedup *h = &l->dedup;
	struct geo *g = l->g;

	if ((h->used + 1) * 2 > h->cap && geo_dedup_grow(h) < 0)
		goto oom;
	size_t s = geo_dedup_slot(h, off + 1);
	if (h->keys[s] != 0) {
		*index = h->values[s];
		return 0;
	}
	if (g->record_count == g->record_cap) {
		uint32_t cap = g->record_cap ? g->record_cap * 2 : 64;
		struct geo_record *r = realloc(g->records, cap * sizeof(*r));
		if (r == NULL)
			goto oom;
		g->records = r;
		g->record_cap = cap;
	}
	if (geo_record_extract(l, off, &g->records[g->record_count]) < 0)
		return -1;
	h->keys[s] = off + 1;
	h->values[s] = g->record_count;
	h->used++;
	*index = g->record_count++;
	return 0;
oom:
	diag_error(l->d, l->path, 0, "out of memory loading the geo database");
	return -1;
}

/* ---- the search tree -------------------------------------------------- */

/* Converts record value v of node into a geovip tree value. */
static int geo_value_convert(struct geo_loader *l, uint32_t node, uint32_t v,
			     uint32_t *value)
{
	const uint32_t node_count = l->g->node_count;
	uint32_t index;

	if (v == 0) {
		// A tree never leads back to its root; a walk would loop.
		diag_error(l->d, l->path, 0,
			   "corrupt search tree: node %u "
			   "points back to the root (replace the file with "
			   "a good copy)",
			   node);
		return -1;
	}
	if (v <= node_count) {
		*value = v; // a child node, or node_count: no data
		return 0;
	}
	// v - node_count - 16 is a data offset; the 16 bytes before the
	// data section are a separator, nothing can point there.
	uint64_t off = (uint64_t)v - node_count - GEO_SEPARATOR;
	if ((uint64_t)v < (uint64_t)node_count + GEO_SEPARATOR ||
	    off >= l->data.size) {
		diag_error(l->d, l->path, 0,
			   "corrupt search tree: node %u points to %u, "
			   "outside the tree and data (replace the file "
			   "with a good copy)",
			   node, v);
		return -1;
	}
	if (geo_record_intern(l, (uint32_t)off, &index) < 0)
		return -1;
	if ((uint64_t)node_count + 1 + index > UINT32_MAX) {
		diag_error(l->d, l->path, 0,
			   "too many records in "
			   "the geo database (more than 2^32)");
		return -1;
	}
	*value = node_count + 1 + index;
	return 0;
}

/* The two records of node n, for record sizes 24, 28 and 32. */
static void geo_node_read(const struct geo_loader *l, uint32_t n,
			  uint32_t *left, uint32_t *right)
{
	size_t bytes = l->record_size / 4;
	const uint8_t *p = l->bytes + (size_t)n * bytes;

	switch (l->record_size) {
	case 24:
		*left = geo_be_read(p, 3);
		*right = geo_be_read(p + 3, 3);
		break;
	case 28:
		// the middle byte holds the top nibble of each record
		*left = (uint32_t)(p[3] & 0xf0) << 20 | geo_be_read(p, 3);
		*right = (uint32_t)(p[3] & 0x0f) << 24 | geo_be_read(p + 4, 3);
		break;
	default:
		*left = geo_be_read(p, 4);
		*right = geo_be_read(p + 4, 4);
		break;
	}
}

static int geo_tree_copy(struct geo_loader *l)
{
	struct geo *g = l->g;

	g->left = malloc((size_t)g->node_count * sizeof(uint32_t));
	g->right = malloc((size_t)g->node_count * sizeof(uint32_t));
	if (g->left == NULL || g->right == NULL) {
		diag_error(l->d, l->path, 0,
			   "out of memory for %u search tree nodes",
			   g->node_count);
		return -1;
	}
	for (uint32_t n = 0; n < g->node_count; n++) {
		uint32_t left, right;
		geo_node_read(l, n, &left, &right);
		if (geo_value_convert(l, n, left, &g->left[n]) < 0 ||
		    geo_value_convert(l, n, right, &g->right[n]) < 0)
			return -1;
	}
	return 0;
}

/* The value reached by 96 zero bits: the root of IPv4 in an IPv6 tree. */
static void geo_v4_start_find(struct geo *g)
{
	uint32_t v = g->node_count > 0 ? 0 : g->node_count;
	unsigned depth = 0;

	if (g->ip_version == 6)
		for (; depth < 96 && v < g->node_count; depth++)
			v = g->left[v];
	g->v4_start = v;
	g->v4_start_depth = depth;
}

/* ---- metadata --------------------------------------------------------- */

static void geo_unusable(struct geo_loader *l, const char *why)
{
	diag_error(l->d, l->path, 0,
		   "not a usable MaxMind DB (.mmdb) file: "
		   "%s (is it truncated, or another format such as legacy "
		   "GeoIP .dat or CSV?)",
		   why);
}

/* Finds the last metadata marker in the last 128 KiB: the metadata is
 * what follows it, the data section ends where it starts. */
static int geo_marker_find(struct geo_loader *l, size_t *at)
{
	size_t lowest =
		l->len > GEO_METADATA_MAX ? l->len - GEO_METADATA_MAX : 0;
	for (size_t i = l->len; i >= lowest + GEO_MARKER_LEN; i--) {
		size_t start = i - GEO_MARKER_LEN;
		if (memcmp(l->bytes + start, geo_marker, GEO_MARKER_LEN) == 0) {
			*at = start;
			return 0;
		}
	}
	geo_unusable(l, "no metadata marker at the end");
	return -1;
}

/* An unsigned integer of any width up to 64 bits into *v. */
static int geo_uint_read(struct geo_walk *w, size_t off, uint64_t *v)
{
	struct geo_item it;
	size_t after;

	if (geo_item_resolve(w, off, &it, &after) < 0)
		return -1;
	if (it.type != GEO_UINT16 && it.type != GEO_UINT32 &&
	    it.type != GEO_UINT64 && it.type != GEO_UINT128)
		return geo_walk_fail(w, off, "a number of the wrong type");
	*v = 0;
	for (uint32_t i = 0; i < it.size; i++) {
		if (*v >> 56 != 0)
			return geo_walk_fail(w, off, "a number too large");
		*v = *v << 8 | w->s->base[it.payload + i];
	}
	return 0;
}

/* A copy of the string at off, bytes outside printable ASCII as '?'
 * (it goes into log lines), at most GEO_TYPE_MAX bytes. */
static int geo_string_copy(struct geo_walk *w, size_t off, char **out)
{
	struct geo_item it;
	size_t after;

	if (geo_item_resolve(w, off, &it, &after) < 0)
		return -1;
	if (it.type != GEO_STRING)
		return geo_walk_fail(w, off, "database_type not a string");
	size_t n = it.size < GEO_TYPE_MAX ? it.size : GEO_TYPE_MAX;
	*out = malloc(n + 1);
	if (*out == NULL)
		return geo_walk_fail(w, off, "out of memory");
	for (size_t i = 0; i < n; i++) {
		char c = (char)w->s->base[it.payload + i];
		(*out)[i] = c >= 0x20 && c < 0x7f ? c : '?';
	}
	(*out)[n] = '\0';
	return 0;
}

enum {
	META_NODES,
	META_RECORD_SIZE,
	META_IP_VERSION,
	META_TYPE,
	META_MAJOR,
	META_COUNT
};

/* Decodes the metadata map; on failure *why says what is wrong. */
static int geo_metadata_decode(struct geo_loader *l, uint64_t *num,
			       const char **why)
{
	static const char *const names[META_COUNT] = {
		[META_NODES] = "node_count",
		[META_RECORD_SIZE] = "record_size",
		[META_IP_VERSION] = "ip_version",
		[META_TYPE] = "database_type",
		[META_MAJOR] = "binary_format_major_version",
	};
	uint64_t budget = GEO_RECORD_VALUES_MAX;
	struct geo_walk w = {.s = &l->meta, .budget = &budget};
	struct geo_item map;
	size_t at[META_COUNT], end;

	if (geo_item_resolve(&w, 0, &map, &end) < 0)
		goto corrupt;
	if (map.type != GEO_MAP) {
		geo_walk_fail(&w, 0, "not a map");
		goto corrupt;
	}
	if (geo_map_scan(&w, &map, names, at, META_COUNT) < 0)
		goto corrupt;
	for (int i = 0; i < META_COUNT; i++) {
		if (at[i] == SIZE_MAX) {
			*why = names[i];
			return -2;
		}
		if (i != META_TYPE && geo_uint_read(&w, at[i], &num[i]) < 0)
			goto corrupt;
	}
	if (geo_string_copy(&w, at[META_TYPE], &l->g->database_type) < 0)
		goto corrupt;
	return 0;
corrupt:
	*why = w.why;
	return -1;
}

/* Checks the metadata's numbers; the tree must fit before the data. */
static int geo_metadata_check(struct geo_loader *l, const uint64_t *num,
			      size_t marker)
{
	char why[160];
	uint64_t tree;

	if (num[META_MAJOR] != 2) {
		snprintf(why, sizeof(why),
			 "binary format version %llu "
			 "(geovip reads version 2)",
			 (unsigned long long)num[META_MAJOR]);
	} else if (num[META_RECORD_SIZE] != 24 && num[META_RECORD_SIZE] != 28 &&
		   num[META_RECORD_SIZE] != 32) {
		snprintf(why, sizeof(why),
			 "record_size %llu (expected 24, "
			 "28 or 32)",
			 (unsigned long long)num[META_RECORD_SIZE]);
	} else if (num[META_IP_VERSION] != 4 && num[META_IP_VERSION] != 6) {
		snprintf(why, sizeof(why),
			 "unsupported ip_version %llu "
			 "(expected 4 or 6)",
			 (unsigned long long)num[META_IP_VERSION]);
	} else if (num[META_NODES] == 0 || num[META_NODES] >= UINT32_MAX) {
		snprintf(why, sizeof(why),
			 "unusable search tree node count "
			 "%llu",
			 (unsigned long long)num[META_NODES]);
	} else if ((tree = num[META_NODES] * (num[META_RECORD_SIZE] / 4)) +
			   GEO_SEPARATOR >
		   marker) {
		snprintf(why, sizeof(why),
			 "a search tree of %llu nodes does "
			 "not fit in the file",
			 (unsigned long long)num[META_NODES]);
	} else {
		return 0;
	}
	geo_unusable(l, why);
	return -1;
}

static int geo_metadata_read(struct geo_loader *l)
{
	uint64_t num[META_COUNT] = {0};
	const char *why = NULL;
	size_t marker;

	if (geo_marker_find(l, &marker) < 0)
		return -1;
	l->meta.base = l->bytes + marker + GEO_MARKER_LEN;
	l->meta.size = l->len - marker - GEO_MARKER_LEN;
	int rc = geo_metadata_decode(l, num, &why);
	if (rc < 0) {
		char text[160];
		snprintf(text, sizeof(text),
			 rc == -2 ? "the metadata has no "
				    "%s"
				  : "corrupt metadata: %s",
			 why);
		geo_unusable(l, text);
		return -1;
	}
	if (geo_metadata_check(l, num, marker) < 0)
		return -1;
	struct geo *g = l->g;
	g->node_count = (uint32_t)num[META_NODES];
	g->ip_version = (unsigned)num[META_IP_VERSION];
	l->record_size = (uint32_t)num[META_RECORD_SIZE];
	size_t tree = (size_t)g->node_count * (l->record_size / 4);
	l->data.base = l->bytes + tree + GEO_SEPARATOR;
	l->data.size = marker - tree - GEO_SEPARATOR;
	l->budget =
		GEO_VALUES_BASE + GEO_VALUES_PER_BYTE * (uint64_t)l->data.size;
	return 0;
}

/* ---- loading ---------------------------------------------------------- */

/* Refuses a database without any location (an ASN or
 * ISP database given as geoip:): every client would get default_region. */
static int geo_location_check(struct geo_loader *l)
{
	const struct geo *g = l->g;

	for (uint32_t i = 0; i < g->record_count; i++)
		if (g->records[i].continent != CONTINENT_UNKNOWN ||
		    g->records[i].country[0] != '\0')
			return 0;
	diag_error(l->d, l->path, 0,
		   "%s has no continent or country data "
		   "(%sgeovip needs a Country or City database)",
		   g->database_type[0] ? g->database_type : "the database",
		   l->asn_seen ? "an ASN database? " : "");
	return -1;
}

struct geo *geo_load_mem(const void *bytes, size_t len, const char *name,
			 struct diag *d)
{
	struct geo_loader l = {.bytes = bytes,
			       .len = len,
			       .path = name,
			       .d = d};

	l.g = calloc(1, sizeof(*l.g));
	if (l.g == NULL) {
		diag_error(d, name, 0,
			   "out of memory loading the geo database");
		return NULL;
	}
	if (geo_metadata_read(&l) < 0 || geo_tree_copy(&l) < 0 ||
	    geo_location_check(&l) < 0) {
		geo_dedup_free(&l.dedup);
		geo_free(l.g);
		return NULL;
	}
	geo_v4_start_find(l.g);
	geo_dedup_free(&l.dedup);
	return l.g;
}

/* Plain words for why path cannot be read. */
static const char *geo_read_error(const char *path, int rc)
{
	struct stat st;

	if (rc == -FILE_ERR_NOT_REGULAR && stat(path, &st) == 0 &&
	    S_ISDIR(st.st_mode))
		return "it is a directory";
	if (rc == -FILE_ERR_TOO_LARGE)
		return "larger than 1 GiB";
	return file_strerror(rc);
}

/* Whether two stats of one path show the same file, unchanged. */
static bool geo_stat_same(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino &&
	       a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * A private copy of path: a writer truncating or rewriting the file can
 * no longer affect the load (no SIGBUS as with a mapping). A write while
 * it is read (the size, or the times around the read, differ) is refused
 * rather than risking a mix of two versions that happens to decode.
 */
static int geo_file_read(const char *path, char **bytes, size_t *len)
{
	struct stat before, after;
	bool stat_ok = stat(path, &before) == 0;
	int rc = file_read(path, GEO_FILE_MAX, bytes, len);

	if (rc == 0 && stat_ok &&
	    (stat(path, &after) != 0 || !geo_stat_same(&before, &after))) {
		free(*bytes);
		*bytes = NULL;
		rc = -FILE_ERR_CHANGED;
	}
	return rc;
}

struct geo *geo_load(const char *path, struct diag *d)
{
	char *bytes = NULL;
	size_t len = 0;

	int rc = geo_file_read(path, &bytes, &len);
	if (rc == 0 && len == 0) {
		free(bytes);
		diag_error(d, path, 0,
			   "cannot open the geo database: the file "
			   "is empty (check the geoip: path in the config)");
		return NULL;
	}
	if (rc < 0) {
		diag_error(d, path, 0,
			   "cannot open the geo database: %s "
			   "(check the geoip: path in the config)",
			   geo_read_error(path, rc));
		return NULL;
	}
	struct geo *g = geo_load_mem(bytes, len, path, d);
	free(bytes);
	return g;
}

void geo_free(struct geo *g)
{
	if (g == NULL)
		return;
	free(g->left);
	free(g->right);
	free(g->records);
	free(g->database_type);
	free(g);
}

void geo_lookup(const struct geo *g, const struct ip_addr *addr,
		struct geo_result *out)
{
	unsigned bits = addr->family == AF_INET ? 32 : 128;
	unsigned offset = 0, depth = 0;
	uint32_t v = 0;

	out->record = NULL;
	out->prefix_len = 0;
	if (bits == 128 && g->ip_version == 4)
		return; // an IPv4 tree knows nothing of IPv6
	if (bits == 32 && g->ip_version == 6) {
		offset = 96;
		v = g->v4_start;
		depth = g->v4_start_depth;
	}
	// depth < offset only when a leaf covers all of ::/96 and beyond.
	while (v < g->node_count && depth - offset < bits) {
		unsigned bit = addr_bit(addr->bytes, depth - offset);
		v = bit ? g->right[v] : g->left[v];
		depth++;
	}
	out->prefix_len = (uint8_t)(depth > offset ? depth - offset : 0);
	if (v > g->node_count)
		out->record = &g->records[v - g->node_count - 1];
}

void geo_tree_get(const struct geo *g, struct geo_tree *out)
{
	out->left = g->left;
	out->right = g->right;
	out->node_count = g->node_count;
	out->records = g->records;
	out->record_count = g->record_count;
	out->ip_version = g->ip_version;
	out->v4_start = g->v4_start;
	out->v4_start_depth = g->v4_start_depth;
}

size_t geo_node_count(const struct geo *g)
{
	return g->node_count;
}

size_t geo_record_count(const struct geo *g)
{
	return g->record_count;
}

const char *geo_database_type(const struct geo *g)
{
	return g->database_type;
}

unsigned geo_ip_version(const struct geo *g)
{
	return g->ip_version;
}
