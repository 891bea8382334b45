/*
 * src/dnssec.h — DNSSEC for served zones: the zone's keys read
 * from BIND-format key files, every RRset and every regional variant
 * signed once at snapshot build (NSEC or NSEC3 chain included), and the
 * writers the answer code calls to add RRSIGs and denial proofs when DO
 * is set.
 */
#ifndef GEOVIP_DNSSEC_H
#define GEOVIP_DNSSEC_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "zone_read.h"

struct config;
struct config_zone;
struct diag;
struct wire_writer;
struct zone;
struct zone_node;
struct zone_rrset;
struct zone_set;

/** Signed data of every zone of a snapshot; zones without `dnssec:`
 *  have none. */
struct dnssec_set;
struct dnssec_zone;

/**
 * Reads the public halves (.key) of cz's keys and hands their DNSKEY
 * records, and with `denial: nsec3` the NSEC3PARAM, to fn (as read from
 * the zone file, file index file). Problems
 * go to d with the key file's name. Returns 0, or negative on error.
 */
int dnssec_dnskey_records(const struct config *cfg,
			  const struct config_zone *cz, struct diag *d,
			  uint16_t file, zone_record_fn fn, void *ctx);

/**
 * Signs every zone of zs that has `dnssec:` in cfg: reads the private
 * keys, signs each RRset, builds the NSEC chain and every regional
 * variant. Returns the set (possibly with no signed zone), or NULL with
 * the problems in d.
 */
struct dnssec_set *dnssec_set_build(const struct config *cfg,
				    const struct zone_set *zs, struct diag *d);
void dnssec_set_free(struct dnssec_set *ds);

/** The signed data of z (a zone of the set's zone_set), or NULL. */
const struct dnssec_zone *dnssec_set_zone(const struct dnssec_set *ds,
					  const struct zone *z);

/** Seconds until the first signature of ds expires (0: none). */
uint32_t dnssec_set_expiry(const struct dnssec_set *ds);

/**
 * When ds is due for re-signing, in Unix seconds: the earliest of its
 * zones' signing time + validity - refresh (reload.c then builds a new
 * snapshot in the background). 0 when geovip signed nothing.
 */
int64_t dnssec_set_resign_at(const struct dnssec_set *ds);

/* ---- on the query path: nothing here allocates ---- */

/** RRSIGs of rrset (one of node's) with owner and ttl; returns the count. */
uint16_t dnssec_put_rrsig(const struct dnssec_zone *dz, struct wire_writer *w,
			  const struct zone_node *node,
			  const struct zone_rrset *rrset, const uint8_t *owner,
			  uint32_t ttl);

/** RRSIGs of region's A or AAAA RRset at the regional node. */
uint16_t dnssec_put_regional_rrsig(const struct dnssec_zone *dz,
				   struct wire_writer *w,
				   const struct zone_node *node, int region,
				   uint16_t type, const uint8_t *owner);

/**
 * NODATA proof for qname answered at node (maybe a wildcard): the NSEC at
 * node (region's variant when region >= 0) or the NSEC covering qname
 * when node is an empty non-terminal, and the NSEC covering qname when
 * node is a wildcard; with their RRSIGs.
 */
uint16_t dnssec_put_nodata(const struct dnssec_zone *dz, struct wire_writer *w,
			   const struct zone_node *node, int region,
			   const uint8_t *qname);

/** NXDOMAIN proof: the NSECs covering qname and the wildcard at its
 *  closest encloser; with NSEC3 the closest encloser proof and the NSEC3
 *  covering the wildcard (RFC 5155 §7.2.2); with their RRSIGs. */
uint16_t dnssec_put_nxdomain(const struct dnssec_zone *dz,
			     struct wire_writer *w, const uint8_t *qname);

/** For an answer synthesised from a wildcard: the NSEC covering qname,
 *  or the NSEC3 covering its next closer name. */
uint16_t dnssec_put_wildcard(const struct dnssec_zone *dz,
			     struct wire_writer *w, const uint8_t *qname);

/** For a referral at cut: its DS RRset and RRSIG, or the NSEC proving
 *  there is no DS. */
uint16_t dnssec_put_referral(const struct dnssec_zone *dz,
			     struct wire_writer *w,
			     const struct zone_node *cut);

/**
 * qtype NSEC or RRSIG with DO=1 at node, answered for owner (RFC 4035
 * §2.2, §3.1.1; as Knot and NSD answer): NSEC, the name's NSEC (region's
 * variant when region >= 0) and its RRSIG; RRSIG, every RRSIG at the name
 * but those of regional A/AAAA (a client's region is not chosen for this
 * question). Returns the records written, 0 for any other qtype or when
 * the name has none (then the answer is NODATA, whose NSEC bitmap lacks
 * the type).
 */
uint16_t dnssec_put_meta(const struct dnssec_zone *dz, struct wire_writer *w,
			 const struct zone_node *node, int region,
			 uint16_t qtype, const uint8_t *owner);

/**
 * Writes zone z as geovip signed it, in master-file format, to out (for
 * `--dump-signed` and ldns-verify-zone): every RRset with its RRSIGs, the
 * NSEC or NSEC3 chain, the NSEC3PARAM, and at each regional name the
 * A/AAAA RRsets, RRSIGs and NSEC/NSEC3 of region's variant. Returns 0, or
 * -1 when z is not signed or out fails (errno set by stdio).
 */
int dnssec_dump_zone(const struct dnssec_set *ds, const struct config *cfg,
		     const struct zone *z, int region, FILE *out);

/** One line for `--lookup`: what the region's signed variant of node is
 *  ("RRSIG by key 12345, NSEC A AAAA RRSIG NSEC"). */
void dnssec_describe_variant(const struct dnssec_zone *dz,
			     const struct zone_node *node, int region,
			     char *out, size_t len);

#endif
