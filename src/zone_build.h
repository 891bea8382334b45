/*
 * src/zone_build.h — what zone_build.c (the compiler) and zone.c (the
 * lookups) share and nothing else sees: the zone set's layout and the
 * one hash-table probe both use.
 */
#ifndef GEOVIP_ZONE_BUILD_H
#define GEOVIP_ZONE_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dname.h"
#include "zone.h"

#define ZONE_ORIGIN_SLOTS 64
#define ZONE_SLOT_SHARED UINT32_MAX

struct zone_set {
	void **blocks; /* every allocation, freed at once */
	size_t block_count, block_cap;
	struct zone *zones;
	size_t zone_count;
	struct zone_node *origins; /* zone i's origin as a node key */
	uint32_t *table;           /* index + 1 into origins; 0 empty */
	size_t table_mask;
	size_t record_count;
	unsigned max_labels;
	/* by zone_origin_slot of its origin (the root's aside): the zone
	 * index + 1, 0 for none, ZONE_SLOT_SHARED for more than one */
	uint32_t origin_slot[ZONE_ORIGIN_SLOTS];
};

/** The origin_slot of a name other than the root, of len bytes and labels
 *  labels: from those, its first label's length and first byte and its
 *  last label's last byte (sibling zones differ in one or the other). */
static inline unsigned zone_origin_slot(const uint8_t *name, size_t len,
					unsigned labels)
{
	return (labels * 7u + name[0] * 3u + name[1] + name[len - 2] * 5u +
		(unsigned)len) &
	       (ZONE_ORIGIN_SLOTS - 1);
}

/** Are the len bytes at a and b equal? Word by word: names are short,
 *  too short for a call to memcmp to pay. */
static inline bool zone_bytes_equal(const uint8_t *a, const uint8_t *b,
				    size_t len)
{
	if (len < 8)
		return memcmp(a, b, len) == 0;
	uint64_t x, y;
	for (size_t i = 0; i + 8 < len; i += 8) {
		memcpy(&x, a + i, 8);
		memcpy(&y, b + i, 8);
		if (x != y)
			return false;
	}
	// the last 8 bytes (overlapping the word before)
	memcpy(&x, a + len - 8, 8);
	memcpy(&y, b + len - 8, 8);
	return x == y;
}

/**
 * The slot of name in an open-addressing table of node indices + 1
 * (0: empty) over nodes: the slot that holds it, or the empty slot where
 * it would go. The table always has an empty slot.
 */
static inline size_t zone_table_slot_hashed(const uint32_t *table, size_t mask,
					    const struct zone_node *nodes,
					    const uint8_t *name, size_t len,
					    uint64_t hash)
{
	size_t h = hash & mask;
	for (; table[h] != 0; h = (h + 1) & mask) {
		const struct zone_node *n = &nodes[table[h] - 1];
		if (n->name_len == len && zone_bytes_equal(n->name, name, len))
			break;
	}
	return h;
}

/** zone_table_slot_hashed, hashing name. */
static inline size_t zone_table_slot(const uint32_t *table, size_t mask,
				     const struct zone_node *nodes,
				     const uint8_t *name, size_t len)
{
	return zone_table_slot_hashed(table, mask, nodes, name, len,
				      dname_hash(name, len));
}

#endif
