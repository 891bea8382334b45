/*
 * src/geo.h — the geo database. geo_load reads the .mmdb into memory,
 * decodes it with geo.c's own bounded MaxMind DB reader and flattens its
 * search tree into geovip's own arrays, so lookups never touch the file,
 * which can change on disk at any time, even while it is being loaded.
 */
#ifndef GEOVIP_GEO_H
#define GEOVIP_GEO_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct diag;

/** What geovip keeps of one mmdb data record. */
struct geo_record {
	uint8_t continent; /* enum continent; CONTINENT_UNKNOWN if none */
	char country[3];   /* ISO code, upper-case, "" if none */
	/* The mmdb data section offset, for `--lookup` output. */
	uint32_t mmdb_offset;
};

struct geo_result {
	/* NULL when the address is in no network with data. */
	const struct geo_record *record;
	/*
	 * Length of the database network holding the address, in the
	 * address family's bits (an IPv4 address in an IPv6-tree database:
	 * IPv6 netmask - 96). For an address the database does not know,
	 * the length of the empty network around it.
	 */
	uint8_t prefix_len;
};

struct geo;

/** Reads path (a regular file of at most 1 GiB) into memory and loads
 *  it with geo_load_mem; NULL with a message in d on any problem. */
struct geo *geo_load(const char *path, struct diag *d);
/**
 * Loads the .mmdb image bytes[0..len) (only read during the call; name is
 * the file name for messages). NULL with "name: message" in d when the
 * file is corrupt, exceeds a limit (README) or has no location data.
 */
struct geo *geo_load_mem(const void *bytes, size_t len, const char *name,
			 struct diag *d);
void geo_free(struct geo *g);

/** Looks up addr (family AF_INET or AF_INET6). Never fails. */
void geo_lookup(const struct geo *g, const struct ip_addr *addr,
		struct geo_result *out);

/** The flattened search tree, read-only, for geomap's merge: values as
 *  in the mmdb (v < node_count a node, == node_count no data, above it
 *  records[v - node_count - 1]); IPv4 starts at v4_start after
 *  v4_start_depth bits (96 in an IPv6 tree, fewer when a leaf). */
struct geo_tree {
	const uint32_t *left, *right;
	uint32_t node_count;
	const struct geo_record *records;
	uint32_t record_count;
	unsigned ip_version;
	uint32_t v4_start;
	unsigned v4_start_depth;
};
void geo_tree_get(const struct geo *g, struct geo_tree *out);

/** Counts for the start-up/reload log line. */
size_t geo_node_count(const struct geo *g);
size_t geo_record_count(const struct geo *g);
/** Metadata database_type, e.g. "GeoLite2-Country". */
const char *geo_database_type(const struct geo *g);
/** 4 or 6: the mmdb ip_version. */
unsigned geo_ip_version(const struct geo *g);

#endif
