/*
 * src/prefix.h — a binary prefix tree of IPv4 or IPv6 networks, for
 * `overrides.networks`: longest-prefix match, and the shortest prefix of
 * an address over which the match cannot change (for ECS scopes).
 */
#ifndef GEOVIP_PREFIX_H
#define GEOVIP_PREFIX_H

#include <stddef.h>
#include <stdint.h>

struct prefix_tree;

/** An empty tree for addresses of max_bits (32 or 128); NULL: no memory. */
struct prefix_tree *prefix_tree_new(unsigned max_bits);
void prefix_tree_free(struct prefix_tree *t);

/**
 * Adds net/len with value (>= 0). Bits of net after len are ignored.
 * Returns 0, -1 when out of memory, or the existing value's index + 1
 * negated (-2 - old) when the same prefix is already present.
 */
int prefix_tree_insert(struct prefix_tree *t, const uint8_t *net, unsigned len,
		       int value);

struct prefix_match {
	int value;         /* of the longest prefix containing addr, or -1 */
	uint8_t match_len; /* its length (0 when value is -1) */
	/*
	 * The shortest L such that every address in addr/L has the same
	 * longest match as addr: no prefix in the tree splits addr/L.
	 */
	uint8_t uniform_len;
};

/** Longest-prefix match of addr (max_bits bits of it). */
void prefix_tree_lookup(const struct prefix_tree *t, const uint8_t *addr,
			struct prefix_match *out);

size_t prefix_tree_count(const struct prefix_tree *t);

#endif
