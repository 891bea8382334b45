/*
 * src/answer.h — answering from zone data: the answer, authority and
 * additional sections for a question inside a served zone (exact match,
 * CNAME chains, wildcards, referrals, NXDOMAIN/NODATA, minimal ANY, and
 * regional A/AAAA from the client's region).
 */
#ifndef GEOVIP_ANSWER_H
#define GEOVIP_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct snapshot;
struct zone;
struct region_client;
struct wire_writer;

struct answer_request {
	const struct snapshot *snap;
	const struct zone *zone;
	const uint8_t *qname; /* canonical */
	size_t qname_len;     /* its length, labels and dname_hash, or 0: */
	unsigned qlabels;     /* counted and hashed where needed */
	uint64_t qhash;
	uint16_t qtype;
	const struct region_client *client;
	bool dnssec_ok; /* DO=1: add RRSIGs and NSEC proofs */
};

struct answer_result {
	uint8_t rcode;
	bool aa;
	uint16_t ancount, nscount, arcount;
	bool regional; /* the answer depends on the client */
	uint8_t scope; /* its ECS scope (0 unless regional) */
	// the regional decision in brief (valid when regional)
	int region;
	uint8_t reason; /* enum geomap_reason */
	bool shed, ecs_private, embedded_v4;
	bool runtime; /* moved by a runtime override or health state */
};

/** Writes the three sections after the question; fills res. */
void answer_write(const struct answer_request *req, struct wire_writer *w,
		  struct answer_result *res);

#endif
