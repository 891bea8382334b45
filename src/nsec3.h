/*
 * src/nsec3.h — NSEC3 primitives (RFC 5155): the iterated SHA-1 owner
 * hash, its base32hex label, and the search for the NSEC3 that matches or
 * covers a hash in a sorted chain. Pure and allocation-free: the query
 * path hashes the qname's next closer name with these.
 */
#ifndef GEOVIP_NSEC3_H
#define GEOVIP_NSEC3_H

#include <stddef.h>
#include <stdint.h>

#define NSEC3_HASH_LEN 20  /* SHA-1, the only NSEC3 hash algorithm */
#define NSEC3_LABEL_LEN 32 /* base32hex of 20 bytes */

/** SHA-1 of the len bytes at data (FIPS 180-4). */
void nsec3_sha1(const uint8_t *data, size_t len, uint8_t out[NSEC3_HASH_LEN]);

/**
 * RFC 5155 §5: IH(salt, name, iterations) of a canonical (lower-case)
 * wire name. Work is bounded by iterations (config caps it at 100).
 */
void nsec3_hash(const uint8_t *name, const uint8_t *salt, size_t salt_len,
		uint16_t iterations, uint8_t out[NSEC3_HASH_LEN]);

/** The lower-case base32hex form of a hash (no padding, no NUL). */
void nsec3_label(const uint8_t hash[NSEC3_HASH_LEN], char out[NSEC3_LABEL_LEN]);

/**
 * In a chain of count > 0 hashes sorted ascending, each the first
 * NSEC3_HASH_LEN bytes of an element of size stride at base: the index of
 * the element equal to hash (*match = 1), or of the one whose NSEC3
 * covers it (the greatest below hash, the last one when hash is below
 * all: the chain wraps) (*match = 0).
 */
size_t nsec3_find(const void *base, size_t count, size_t stride,
		  const uint8_t hash[NSEC3_HASH_LEN], int *match);

/**
 * RFC 5155 §7.2.1: the closest encloser of qname, the longest ancestor
 * (qname itself included) for which exists(ctx, name) is true, stopping
 * at min_labels (the apex, which always exists); its child on the way to
 * qname (the next closer name) in *next_closer, NULL when qname exists.
 */
const uint8_t *nsec3_closest_encloser(const uint8_t *qname, unsigned min_labels,
				      int (*exists)(const void *ctx,
						    const uint8_t *name),
				      const void *ctx,
				      const uint8_t **next_closer);

#endif
