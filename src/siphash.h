/*
 * src/siphash.h — SipHash-2-4 (Aumasson & Bernstein), the keyed hash that
 * decides load shedding and signs DNS server cookies (cookie.c). Written
 * from the paper; checked against its published test vectors in
 * tests/unit/test_region.c.
 */
#ifndef GEOVIP_SIPHASH_H
#define GEOVIP_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/** SipHash-2-4 of in[0..len) under the 16-byte key; the 8 output bytes
 *  read as a little-endian unsigned 64-bit integer. */
uint64_t siphash24(const uint8_t key[16], const uint8_t *in, size_t len);

#endif
