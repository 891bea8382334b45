/*
 * src/geo.c — the geo database: the only user of maxminddb.h. geo_load
 * copies the .mmdb search tree node by node into two flat arrays and keeps,
 * per distinct data record, only continent and country; geo_lookup walks
 * those arrays, so no libmaxminddb call happens on the query path.
 */
#include "autoconf.h"
#include "geo.h"

#include <errno.h>
#include <fcntl.h>
#include <maxminddb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "country.h"
#include "diag.h"

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
	uint32_t *keys;         /* offset + 1; 0 = free slot */
	uint32_t *values;
	size_t cap, used;
};

struct geo_loader {
	MMDB_s mmdb;
	struct geo *g;
	struct geo_dedup dedup;
	const char *path;
	struct diag *d;
};

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
	struct geo_dedup bigger = { .cap = h->cap ? h->cap * 2 : 1024 };
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

/*
 * Reads the string at the NULL-terminated path under entry into out as
 * two upper-case letters. 1 when found, 0 when absent or not a two-letter
 * string, -1 (message in the loader's diag) when the data is corrupt.
 */
static int geo_read_code(struct geo_loader *l, MMDB_entry_s *entry,
			 const char *const *path, char out[3])
{
	MMDB_entry_data_s data;
	int rc = MMDB_aget_value(entry, &data, path);
	if (rc == MMDB_LOOKUP_PATH_DOES_NOT_MATCH_DATA_ERROR ||
	    rc == MMDB_INVALID_LOOKUP_PATH_ERROR)
		return 0; // e.g. "country" is not a map: simply not there
	if (rc != MMDB_SUCCESS) {
		diag_error(l->d, l->path, 0,
			   "corrupt data record at offset %u: %s "
			   "(replace the file with a good copy)",
			   entry->offset, MMDB_strerror(rc));
		return -1;
	}
	if (!data.has_data || data.type != MMDB_DATA_TYPE_UTF8_STRING ||
	    data.data_size != 2)
		return 0;
	for (int i = 0; i < 2; i++) {
		char c = data.utf8_string[i];
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		if (c < 'A' || c > 'Z')
			return 0;
		out[i] = c;
	}
	out[2] = '\0';
	return 1;
}

/* Fills rec from the mmdb data at entry; -1 on corrupt data. */
static int geo_record_extract(struct geo_loader *l, MMDB_entry_s *entry,
			      struct geo_record *rec)
{
	static const char *const continent_path[] = { "continent", "code", NULL };
	// In the order the SPEC prefers them.
	static const char *const country_paths[][3] = {
		{ "country", "iso_code", NULL },
		{ "country_code", NULL, NULL },
		{ "registered_country", "iso_code", NULL },
	};
	char code[3];
	int rc;

	memset(rec, 0, sizeof(*rec));
	rec->continent = CONTINENT_UNKNOWN;
	rec->mmdb_offset = entry->offset;
	for (size_t i = 0; i < 3; i++) {
		rc = geo_read_code(l, entry, country_paths[i], code);
		if (rc < 0)
			return -1;
		if (rc > 0) {
			memcpy(rec->country, code, sizeof(code));
			break;
		}
	}
	rc = geo_read_code(l, entry, continent_path, code);
	if (rc < 0)
		return -1;
	if (rc > 0)
		rec->continent = (uint8_t)continent_from_code(code);
	if (rec->continent == CONTINENT_UNKNOWN && rec->country[0] != '\0')
		rec->continent = (uint8_t)country_continent(rec->country);
	return 0;
}

/* Index of the record for data offset, extracting it on first sight. */
static int geo_record_intern(struct geo_loader *l, MMDB_entry_s *entry,
			     uint32_t *index)
{
	struct geo_dedup *h = &l->dedup;
	struct geo *g = l->g;

	if ((h->used + 1) * 2 > h->cap && geo_dedup_grow(h) < 0)
		goto oom;
	size_t s = geo_dedup_slot(h, entry->offset + 1);
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
	if (geo_record_extract(l, entry, &g->records[g->record_count]) < 0)
		return -1;
	h->keys[s] = entry->offset + 1;
	h->values[s] = g->record_count;
	h->used++;
	*index = g->record_count++;
	return 0;
oom:
	diag_error(l->d, l->path, 0, "out of memory loading the geo database");
	return -1;
}

/* Converts one mmdb record (of node) into a geovip tree value. */
static int geo_value_convert(struct geo_loader *l, uint32_t node,
			     uint64_t record, uint8_t type,
			     MMDB_entry_s *entry, uint32_t *value)
{
	const uint32_t node_count = l->g->node_count;
	uint32_t index;

	switch (type) {
	case MMDB_RECORD_TYPE_SEARCH_NODE:
		*value = (uint32_t)record;
		return 0;
	case MMDB_RECORD_TYPE_EMPTY:
		*value = node_count;
		return 0;
	case MMDB_RECORD_TYPE_DATA:
		// libmaxminddb counts 16 separator bytes as "data"; an
		// offset into them, or past the section, is corrupt.
		if (record < (uint64_t)node_count + 16 ||
		    entry->offset >= l->mmdb.data_section_size)
			break;
		if (geo_record_intern(l, entry, &index) < 0)
			return -1;
		if ((uint64_t)node_count + 1 + index > UINT32_MAX) {
			diag_error(l->d, l->path, 0, "too many records in "
				   "the geo database (more than 2^32)");
			return -1;
		}
		*value = node_count + 1 + index;
		return 0;
	default:
		break;
	}
	diag_error(l->d, l->path, 0,
		   "corrupt search tree: node %u points to %llu, outside "
		   "the tree and data (replace the file with a good copy)",
		   node, (unsigned long long)record);
	return -1;
}

static int geo_tree_copy(struct geo_loader *l)
{
	struct geo *g = l->g;

	g->left = malloc((size_t)g->node_count * sizeof(uint32_t));
	g->right = malloc((size_t)g->node_count * sizeof(uint32_t));
	if (g->node_count > 0 && (g->left == NULL || g->right == NULL)) {
		diag_error(l->d, l->path, 0,
			   "out of memory for %u search tree nodes",
			   g->node_count);
		return -1;
	}
	for (uint32_t n = 0; n < g->node_count; n++) {
		MMDB_search_node_s node;
		int rc = MMDB_read_node(&l->mmdb, n, &node);
		if (rc != MMDB_SUCCESS) {
			diag_error(l->d, l->path, 0,
				   "cannot read search tree node %u: %s", n,
				   MMDB_strerror(rc));
			return -1;
		}
		if (geo_value_convert(l, n, node.left_record,
				      node.left_record_type,
				      &node.left_record_entry,
				      &g->left[n]) < 0 ||
		    geo_value_convert(l, n, node.right_record,
				      node.right_record_type,
				      &node.right_record_entry,
				      &g->right[n]) < 0)
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

/* Checks that path is a readable, non-empty regular file, so the usual
 * mistakes get a plain reason rather than libmaxminddb's I/O error. */
static int geo_file_check(struct geo_loader *l)
{
	const char *why = NULL;
	struct stat st;
	// O_NONBLOCK: a FIFO must not hang the load.
	int fd = open(l->path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		why = strerror(errno);
	else if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = "it is a directory";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size == 0)
		why = "the file is empty";
	if (fd >= 0)
		close(fd);
	if (why == NULL)
		return 0;
	diag_error(l->d, l->path, 0, "cannot open the geo database: %s "
		   "(check the geoip: path in the config)", why);
	return -1;
}

static int geo_open(struct geo_loader *l)
{
	if (geo_file_check(l) < 0)
		return -1;
	int rc = MMDB_open(l->path, MMDB_MODE_MMAP, &l->mmdb);
	if (rc == MMDB_SUCCESS)
		return 0;
	if (rc == MMDB_IO_ERROR || rc == MMDB_FILE_OPEN_ERROR)
		diag_error(l->d, l->path, 0, "cannot open the geo database: "
			   "%s (%s)", MMDB_strerror(rc), strerror(errno));
	else
		diag_error(l->d, l->path, 0, "not a usable MaxMind DB "
			   "(.mmdb) file: %s (is it truncated, or another "
			   "format such as legacy GeoIP .dat or CSV?)",
			   MMDB_strerror(rc));
	return -1;
}

static int geo_metadata_read(struct geo_loader *l)
{
	const MMDB_metadata_s *md = &l->mmdb.metadata;
	struct geo *g = l->g;

	if (md->ip_version != 4 && md->ip_version != 6) {
		diag_error(l->d, l->path, 0,
			   "unsupported ip_version %u (expected 4 or 6)",
			   md->ip_version);
		return -1;
	}
	if (md->node_count == 0 || md->node_count == UINT32_MAX) {
		diag_error(l->d, l->path, 0,
			   "unusable search tree node count %u", md->node_count);
		return -1;
	}
	g->ip_version = md->ip_version;
	g->node_count = md->node_count;
	g->database_type = strdup(md->database_type ? md->database_type : "");
	if (g->database_type == NULL) {
		diag_error(l->d, l->path, 0,
			   "out of memory loading the geo database");
		return -1;
	}
	return 0;
}

struct geo *geo_load(const char *path, struct diag *d)
{
	struct geo_loader l = { .path = path, .d = d };
	bool opened = false;

	l.g = calloc(1, sizeof(*l.g));
	if (l.g == NULL) {
		diag_error(d, path, 0, "out of memory loading the geo database");
		return NULL;
	}
	if (geo_open(&l) < 0)
		goto fail;
	opened = true;
	if (geo_metadata_read(&l) < 0 || geo_tree_copy(&l) < 0)
		goto fail;
	geo_v4_start_find(l.g);
	MMDB_close(&l.mmdb);
	geo_dedup_free(&l.dedup);
	return l.g;
fail:
	if (opened)
		MMDB_close(&l.mmdb);
	geo_dedup_free(&l.dedup);
	geo_free(l.g);
	return NULL;
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
