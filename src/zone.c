/*
 * src/zone.c — lookups in loaded zones, on the query path: the longest
 * zone holding a name, a node by exact name, an RRset by type. Nothing
 * here allocates; the tables are built by zone_build.c.
 */
#include "autoconf.h"
#include "zone.h"

#include <string.h>

#include "dname.h"
#include "wire.h"
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
	if (labels > zs->max_labels) {
		p = dname_strip(name, labels - zs->max_labels);
		labels = zs->max_labels;
	}
	for (;; labels--) {
		size_t plen = len - (size_t)(p - name);
		// most suffixes are no origin, and most slots hold one zone:
		// compared with that one, unhashed
		uint32_t v = *p == 0 ? ZONE_SLOT_SHARED
				     : zs->origin_slot[zone_origin_slot(
					       p, plen, labels)];
		if (v == ZONE_SLOT_SHARED) {
			size_t h = zone_table_slot(zs->table, zs->table_mask,
						   zs->origins, p, plen);
			if (zs->table[h] != 0)
				return &zs->zones[zs->table[h] - 1];
		} else if (v != 0) {
			const struct zone *z = &zs->zones[v - 1];
			if (z->origin_len == plen &&
			    zone_bytes_equal(z->origin, p, plen))
				return z;
		}
		if (*p == 0)
			return NULL;
		p += *p + 1;
	}
}

const struct zone_node *zone_find_node(const struct zone *z,
				       const uint8_t *name)
{
	return zone_find_node_len(z, name, dname_length(name));
}

const struct zone_node *zone_find_node_len(const struct zone *z,
					   const uint8_t *name, size_t len)
{
	return zone_find_node_hashed(z, name, len, dname_hash(name, len));
}

const struct zone_node *zone_find_node_hashed(const struct zone *z,
					      const uint8_t *name, size_t len,
					      uint64_t hash)
{
	size_t h = zone_table_slot_hashed(z->table, z->table_mask, z->nodes,
					  name, len, hash);
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

/* ---- pre-encoded negative answers (built at load) --------------------- */

/* Past the (maybe compressed) name at buf[pos]; its pointer, if any,
 * noted in neg. */
static size_t negative_skip_name(const uint8_t *buf, size_t pos,
				 struct zone_negative *neg)
{
	while (buf[pos] != 0 && (buf[pos] & 0xc0) != 0xc0)
		pos += (size_t)buf[pos] + 1;
	if (buf[pos] == 0)
		return pos + 1;
	neg->ptr_at[neg->ptr_count++] = (uint16_t)pos;
	return pos + 2;
}

/* The suffix of name (below origin) one label longer than origin. */
static const uint8_t *negative_guard(const struct zone *z, const uint8_t *name,
				     uint8_t *len)
{
	unsigned labels = dname_labels(name);
	if (labels <= z->origin_labels ||
	    !dname_equal(dname_strip(name, labels - z->origin_labels),
			 z->origin))
		return NULL;
	const uint8_t *g = dname_strip(name, labels - z->origin_labels - 1);
	*len = (uint8_t)dname_length(g);
	return g;
}

size_t zone_negative_encode(const struct zone *z, struct zone_negative *neg,
			    uint8_t *out)
{
	const struct zone_rrset *soa = z->soa;
	memset(neg, 0, sizeof(*neg));
	if (soa == NULL || soa->count != 1 || soa->type != TYPE_SOA)
		return 0;
	// a response as query.c starts it, for a question of the origin
	uint8_t msg[WIRE_HEADER_SIZE + DNAME_MAX + 4 + ZONE_NEGATIVE_MAX];
	struct wire_writer w;
	wire_writer_init(&w, msg, sizeof(msg));
	memset(msg, 0, WIRE_HEADER_SIZE);
	w.len = WIRE_HEADER_SIZE;
	wire_put_bytes(&w, z->origin, z->origin_len);
	wire_put_u32(&w, 0); // QTYPE, QCLASS
	wire_remember_labels(&w, WIRE_HEADER_SIZE, z->origin_labels);
	// the question's entries (all of them: checked below)
	unsigned before = z->origin_labels;
	size_t start = w.len;
	// as answer.c's put_rrset writes it
	wire_put_name(&w, z->origin);
	wire_put_u16(&w, TYPE_SOA);
	wire_put_u16(&w, CLASS_IN);
	wire_put_u32(&w, z->negative_ttl);
	wire_put_rdata(&w, TYPE_SOA, soa->rdata);
	unsigned added = w.comp_count - before;
	if (w.overflow || w.len - start > ZONE_NEGATIVE_MAX ||
	    z->origin_labels + added >= WIRE_COMPRESS_MAX)
		return 0;
	size_t len = w.len - start;
	memcpy(out, msg + start, len);
	neg->bytes = out;
	neg->len = (uint16_t)len;
	size_t pos = negative_skip_name(out, 0, neg) + 10;
	pos = negative_skip_name(out, pos, neg); // MNAME
	negative_skip_name(out, pos, neg);       // RNAME
	neg->comp_count = (uint8_t)added;
	for (unsigned i = 0; i < added; i++) {
		neg->comp_off[i] =
			(uint16_t)(w.comp_offset[before + i] - start);
		neg->comp_labels[i] = w.comp_labels[before + i];
	}
	const uint8_t *mname = soa->rdata + 2;
	const uint8_t *rname = mname + dname_length(mname);
	neg->guard[0] = negative_guard(z, mname, &neg->guard_len[0]);
	neg->guard[1] = negative_guard(z, rname, &neg->guard_len[1]);
	return len;
}

const struct zone_negative *zone_negative_for(const struct zone *z,
					      const uint8_t *qname, size_t len,
					      unsigned labels)
{
	const struct zone_negative *neg = z->negative;
	// every table entry the record adds must find room, as at load
	if (neg == NULL || labels + neg->comp_count >= WIRE_COMPRESS_MAX)
		return NULL;
	if (labels == z->origin_labels)
		return neg;
	// the question's names below the origin must not be the SOA's
	const uint8_t *q = dname_strip(qname, labels - z->origin_labels - 1);
	size_t qlen = len - (size_t)(q - qname);
	for (int i = 0; i < 2; i++)
		if (neg->guard[i] != NULL && neg->guard_len[i] == qlen &&
		    memcmp(neg->guard[i], q, qlen) == 0)
			return NULL;
	return neg;
}
