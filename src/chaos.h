/*
 * src/chaos.h — "which site answered": the CH TXT answers id.server.,
 * hostname.bind., version.server. and version.bind., and the NSID option
 * (RFC 5001), all encoded once when the snapshot is built.
 */
#ifndef GEOVIP_CHAOS_H
#define GEOVIP_CHAOS_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct diag;
struct wire_writer;

/** EDNS option code of NSID (RFC 5001). */
#define CHAOS_OPTION_NSID 3
/** The CHAOS class (RFC 1035 §3.2.4) and the TXT type. */
#define CHAOS_CLASS 3
#define CHAOS_TYPE_TXT 16

struct chaos;

/** Encodes cfg's identity, version and nsid; NULL (noted in d) when out
 *  of memory. */
struct chaos *chaos_build(const struct config *cfg, struct diag *d);
void chaos_free(struct chaos *c);

/**
 * The NSID option to put in a response's OPT (code, length and data), or
 * NULL with *len 0 when `nsid:` is off.
 */
const uint8_t *chaos_nsid_option(const struct chaos *c, size_t *len);

/**
 * Answers a class CH question (qname canonical wire form): TXT (or ANY)
 * for a known, shown name adds one answer record whose owner points at
 * the question (offset 12) and returns NOERROR with *ancount 1; another
 * type at such a name gives NOERROR with no record; any other name, or a
 * hidden one, REFUSED. Allocates nothing.
 */
uint16_t chaos_answer(const struct chaos *c, const uint8_t *qname,
		      uint16_t qtype, struct wire_writer *w, uint16_t *ancount);

#endif
