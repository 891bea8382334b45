/*
 * src/zone.h — zone data: master files (zone_read.c) compiled
 * (zone_build.c) into an immutable structure built for lookup (zone.c: a
 * hash of nodes per zone, a hash of zones). The query path only does
 * exact-match lookups here; answer.c walks ancestors for delegations,
 * closest enclosers and wildcards.
 */
#ifndef GEOVIP_ZONE_H
#define GEOVIP_ZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dname.h"

struct config;
struct diag;

/*
 * One RRset. rdata holds `count` records back to back, each as a 2-byte
 * RDLENGTH (network order) followed by RDATA with uncompressed,
 * lower-cased domain names — ready to copy into a packet.
 */
struct zone_rrset {
	uint16_t type;
	uint16_t count;
	uint32_t ttl;
	const uint8_t *rdata;
	size_t rdata_len; /* total bytes of rdata */
};

enum zone_node_flags {
	ZONE_NODE_APEX = 1 << 0,
	ZONE_NODE_DELEGATION = 1 << 1, /* NS below the apex: a zone cut */
	ZONE_NODE_REGIONAL = 1 << 2,   /* listed in `regional` */
};

struct zone_node {
	const uint8_t *name; /* canonical wire form, absolute */
	uint8_t name_len;
	uint8_t labels;
	uint8_t flags;                   /* enum zone_node_flags */
	uint16_t rrset_count;            /* 0: empty non-terminal */
	uint16_t service;                /* regional: CONFIG_SERVICE_* */
	const struct zone_rrset *rrsets; /* sorted by type */
};

/* The most compression-table entries a pre-encoded SOA may add. */
#define ZONE_NEGATIVE_COMP_MAX 64

/*
 * A negative answer's authority section (the SOA, owner the origin, TTL
 * negative_ttl) pre-encoded at load, as answer.c would write it right
 * after a question of the origin itself. For a question of qname_len
 * bytes it is the same bytes with every compression pointer moved by
 * qname_len - origin_len (zone_negative_for says when it applies).
 */
struct zone_negative {
	const uint8_t *bytes;
	uint16_t len;
	uint8_t ptr_count;
	uint16_t ptr_at[3]; /* offsets in bytes of the pointers to move */
	/* the compression-table entries the record adds (offsets in bytes) */
	uint8_t comp_count;
	uint16_t comp_off[ZONE_NEGATIVE_COMP_MAX];
	uint8_t comp_labels[ZONE_NEGATIVE_COMP_MAX];
	/* the SOA's names below the origin, cut to one label below it: a
	 * question at or below one of them compresses differently */
	const uint8_t *guard[2];
	uint8_t guard_len[2];
};

/** Room for the bytes of a pre-encoded negative authority section. */
#define ZONE_NEGATIVE_MAX (2 + 10 + 2 * DNAME_MAX + 20)

/*
 * An RRSIG, NSEC or NSEC3 record of a pre-signed zone file, kept apart
 * from the nodes (dnssec.c serves them; NSEC3 owners are no names of the
 * zone). rdata as in a zone_rrset: a 2-byte RDLENGTH, then the RDATA.
 */
struct zone_signed_record {
	const uint8_t *owner;
	const uint8_t *rdata;
	uint32_t ttl;
	uint16_t type;
	unsigned line; /* in the zone file itself; 0 in an $INCLUDE */
};

struct zone {
	const uint8_t *origin; /* canonical wire form */
	uint8_t origin_len;
	uint8_t origin_labels;
	const struct zone_node *apex;
	const struct zone_rrset *soa;         /* never NULL in a loaded zone */
	uint32_t negative_ttl;                /* min(SOA TTL, SOA MINIMUM) */
	uint32_t regional_ttl;                /* `ttl` from the config */
	const struct zone_negative *negative; /* NULL: not pre-encoded */
	bool expired; /* a secondary's copy past SOA expire: SERVFAIL */
	/* lookup table: private to the zone files */
	const struct zone_node *nodes; /* node_count of them */
	const uint32_t *table;         /* index + 1 into nodes; 0 empty */
	size_t table_mask;
	size_t node_count;
	size_t record_count;
	/* a pre-signed file's RRSIG, NSEC and NSEC3 (0: an unsigned file) */
	const struct zone_signed_record *signed_records;
	size_t signed_count;
	uint32_t signed_expire; /* the file's earliest RRSIG expiration */
};

struct zone_set;

/**
 * Loads every zone of cfg, as config_load made it (origins distinct,
 * regional names inside their zone). Problems go to d with file and
 * line: syntax errors naming the bad token, records outside the zone, no
 * SOA at the apex, a regional name at a name with a CNAME, a signed zone
 * without `dnssec:` keys or with an expired RRSIG (errors); A/AAAA at a regional name, CNAME loops (warnings). Returns
 * NULL on any error.
 * Every ancestor of a name, up to the apex, exists as a node (empty
 * non-terminals), so closest-encloser searches need no other structure.
 * Regional names exist as nodes even with no records in the file.
 */
struct zone_set *zone_set_load(const struct config *cfg, struct diag *d);
void zone_set_free(struct zone_set *zs);

/** The zone with the longest origin that qname is at or below; or NULL. */
const struct zone *zone_set_find(const struct zone_set *zs,
				 const uint8_t *qname);

/** zone_set_find for a canonical name of len bytes and labels labels
 *  (the query path has both from its parse). */
const struct zone *zone_set_find_canonical(const struct zone_set *zs,
					   const uint8_t *name, size_t len,
					   unsigned labels);

/** Exact node lookup (canonical name); NULL when absent. */
const struct zone_node *zone_find_node(const struct zone *z,
				       const uint8_t *name);

/** zone_find_node for a name whose length the caller knows. */
const struct zone_node *zone_find_node_len(const struct zone *z,
					   const uint8_t *name, size_t len);
/** ... and its dname_hash too. */
const struct zone_node *zone_find_node_hashed(const struct zone *z,
					      const uint8_t *name, size_t len,
					      uint64_t hash);

/** The RRset of type at node, or NULL. */
const struct zone_rrset *zone_node_rrset(const struct zone_node *node,
					 uint16_t type);

/**
 * Pre-encodes z's negative authority section (z->soa, origin and
 * negative_ttl set): fills neg, its bytes in out (ZONE_NEGATIVE_MAX).
 * Returns the length, or 0 when it cannot be pre-encoded (no single SOA
 * record, too many names to compress).
 */
size_t zone_negative_encode(const struct zone *z, struct zone_negative *neg,
			    uint8_t *out);

/**
 * z's pre-encoded negative authority section when it is exactly what
 * answer.c would write right after the question qname (canonical, of len
 * bytes and labels labels, at or below the origin), or NULL.
 */
const struct zone_negative *zone_negative_for(const struct zone *z,
					      const uint8_t *qname, size_t len,
					      unsigned labels);

size_t zone_set_zone_count(const struct zone_set *zs);
size_t zone_set_record_count(const struct zone_set *zs);
/** Zone i, 0 <= i < zone_set_zone_count(). */
const struct zone *zone_set_zone(const struct zone_set *zs, size_t i);

/** The SOA serial of a loaded zone. */
uint32_t zone_soa_serial(const struct zone *z);
/** Its SOA serial, refresh, retry, expire and minimum, in that order. */
void zone_soa_timers(const struct zone *z, uint32_t out[5]);

struct config_zone;
/**
 * Reads and checks the master file at path as zone cz's data, exactly as
 * a load would (regional names included), keeping nothing: a transferred
 * copy is checked before it replaces the old one. Problems go to d;
 * returns 0 (and the copy's SOA serial in *serial) or -1.
 */
int zone_check_file(const struct config *cfg, const struct config_zone *cz,
		    const char *path, struct diag *d, uint32_t *serial);

#endif
