/*
 * src/zone.c — lookups in loaded zones, on the query path: the longest
 * zone holding a name, a node by exact name, an RRset by type. Nothing
 * here allocates; the tables are built by zone_build.c.
 */
#include "autoconf.h"
#include "zone.h"

#include "dname.h"
#include "zone_build.h"

const struct zone *zone_set_find(const struct zone_set *zs,
				 const uint8_t *qname)
{
	uint8_t name[DNAME_MAX];
	size_t len = dname_copy_lower(name, qname);
	return zone_set_find_canonical(zs, name, len, dname_labels(name));
}

const struct zone *zone_set_find_canonical(const struct zone_set *zs,
					   const uint8_t *name, size_t len,
					   unsigned labels)
{
	const uint8_t *p = name;
	// no zone has more labels than max_labels: skip those suffixes
	if (labels > zs->max_labels)
		p = dname_strip(name, labels - zs->max_labels);
	for (;;) {
		size_t h =
			zone_table_slot(zs->table, zs->table_mask, zs->origins,
					p, len - (size_t)(p - name));
		if (zs->table[h] != 0)
			return &zs->zones[zs->table[h] - 1];
		if (*p == 0)
			return NULL;
		p += *p + 1;
	}
}

const struct zone_node *zone_find_node(const struct zone *z,
				       const uint8_t *name)
{
	size_t h = zone_table_slot(z->table, z->table_mask, z->nodes, name,
				   dname_length(name));
	return z->table[h] != 0 ? &z->nodes[z->table[h] - 1] : NULL;
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

uint32_t zone_soa_serial(const struct zone *z)
{
	uint32_t t[5];
	zone_soa_timers(z, t);
	return t[0];
}

void zone_soa_timers(const struct zone *z, uint32_t out[5])
{
	// one record: a 2-byte length, then RDATA ending in the five numbers
	const uint8_t *r = z->soa->rdata;
	const uint8_t *p = r + 2 + (r[0] << 8 | r[1]) - 20;
	for (int i = 0; i < 5; i++, p += 4)
		out[i] = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
			 (uint32_t)p[2] << 8 | p[3];
}
