/*
 * src/geomap.h — geo tree + overrides → one flattened tree whose leaves
 * are regions (before shed), built once per snapshot: one walk per query
 * gives the region and the widest truthful ECS scope.
 */
#ifndef GEOVIP_GEOMAP_H
#define GEOVIP_GEOMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "geo.h"

/** A network with a fixed region (an `overrides.networks` entry). */
struct geomap_override {
	struct ip_addr net;
	uint8_t len;
	int region;
};

/** Which rule gave an address its region (for metrics and dnstap). */
enum geomap_reason {
	GEOMAP_BY_NETWORK,   /* a network override */
	GEOMAP_BY_COUNTRY,   /* a country override */
	GEOMAP_BY_CONTINENT, /* the continent's region */
	GEOMAP_BY_DEFAULT,   /* default_region */
	GEOMAP_REASON_COUNT
};

struct geomap_input {
	const struct geo *geo;
	/* the region of each geo record (country override, continent or
	 * default), and of addresses the database does not know; and the
	 * rule that gave it (enum geomap_reason) */
	const int *record_region;
	const uint8_t *record_reason;
	int nodata_region;
	uint8_t nodata_reason;
	const struct geomap_override *overrides;
	size_t override_count;
};

struct geomap;

/** Builds the merged tree; NULL with *why set (out of memory, over 2^31
 *  nodes, a region index above 65535, or a crafted geo tree that would
 *  unfold into more nodes than a real one of its size can). */
struct geomap *geomap_build(const struct geomap_input *in, const char **why);
void geomap_free(struct geomap *m);

/** What one walk finds for an address. */
struct geomap_leaf {
	int region;     /* before shed */
	uint8_t reason; /* enum geomap_reason: why this region */
	bool priv;      /* addr_is_private(addr) */
	uint8_t depth;  /* of the leaf: its prefix length */
	/* widest truthful scope: every public address of addr/scope (looked
	 * up in the same family, outside or inside the same IPv4-carrying
	 * IPv6 prefix) has this region; 0..depth */
	uint8_t scope;
};

/** One walk for addr (AF_INET or AF_INET6). Never fails. */
void geomap_lookup(const struct geomap *m, const struct ip_addr *addr,
		   struct geomap_leaf *out);

/** Why the merge stops at scope for addr (scope > 0): *other is set to
 *  another region found in the neighbouring prefix (addr with bit
 *  scope-1 flipped, /scope), or -1 when the neighbour only differs by
 *  holding or being an IPv4-carrying IPv6 prefix (addr_unwrap_v4). */
void geomap_neighbour(const struct geomap *m, const struct ip_addr *addr,
		      unsigned scope, int region, int *other);

/** One leaf as geomap_walk finds it: its prefix (bits after depth zero). */
struct geomap_leaf_info {
	struct ip_addr prefix;
	uint8_t depth;
	int region; /* before shed */
	bool priv;  /* wholly private */
};
typedef void geomap_visit_fn(void *arg, const struct geomap_leaf_info *leaf);
/* true: skip the subtree (or leaf) at prefix/depth (region unset). */
typedef bool geomap_prune_fn(void *arg, const struct geomap_leaf_info *at);

/** Calls visit on every leaf of family's tree (AF_INET or AF_INET6), in
 *  address order, but for subtrees prune (may be NULL) skips; a shared
 *  subtree is visited at each place it is. */
void geomap_walk(const struct geomap *m, int family, geomap_prune_fn *prune,
		 geomap_visit_fn *visit, void *arg);

/** Nodes and bytes of the merged tree, for the log line and the bench. */
size_t geomap_node_count(const struct geomap *m);
size_t geomap_bytes(const struct geomap *m);

#endif
