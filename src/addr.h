/*
 * src/addr.h — IP addresses and their bits: the one place for text ↔
 * address, prefixes ("ADDR/LEN"), bit access and masks, and the IPv6
 * forms that carry an IPv4 address (mapped, NAT64, Teredo, 6to4).
 */
#ifndef GEOVIP_ADDR_H
#define GEOVIP_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** An address family and up to 16 address bytes (4 used for IPv4). */
struct ip_addr {
	uint8_t family; /* AF_INET or AF_INET6 */
	uint8_t bytes[16];
};

/** "255.255.255.255/32" or the longest IPv6 text plus "/128", with NUL. */
#define ADDR_PREFIX_TEXT_MAX 52

/** Why addr_prefix_parse refused a text (returned negated). */
enum addr_error {
	ADDR_ERR_NO_SLASH = 1, /* not ADDR/LEN */
	ADDR_ERR_ADDRESS,      /* ADDR is neither IPv4 nor IPv6 */
	ADDR_ERR_LENGTH,       /* LEN is not 0..32 / 0..128 */
	ADDR_ERR_HOST_BITS,    /* bits set after LEN */
};

/** 32 for AF_INET, 128 otherwise. */
unsigned addr_family_bits(int family);

/** Bit i (0 = most significant) of bytes. */
static inline unsigned addr_bit(const uint8_t *bytes, unsigned i)
{
	return (bytes[i >> 3] >> (7 - (i & 7))) & 1u;
}

/** True when bits [from, to) of bytes are all zero. */
bool addr_bits_zero(const uint8_t *bytes, unsigned from, unsigned to);

/** Clears bits [from, to) of bytes. */
void addr_bits_clear(uint8_t *bytes, unsigned from, unsigned to);

/** Keeps the first len bits of a (of its family's width), zeroes the rest. */
void addr_mask(struct ip_addr *a, unsigned len);

/** True when the first len bits of addr equal those of net. */
bool addr_prefix_contains(const uint8_t *net, unsigned len,
			  const uint8_t *addr);

/** Text (IPv4 or IPv6) → address: 0, or -1 when it is neither. */
int addr_parse(const char *text, struct ip_addr *out);

/**
 * "ADDR/LEN" → network and length. Returns 0, or a negated enum
 * addr_error; on -ADDR_ERR_HOST_BITS, *net holds the address with the
 * host bits cleared (for a "write X instead" message).
 */
int addr_prefix_parse(const char *text, struct ip_addr *net, uint8_t *len);

/** Plain words for a code from addr_prefix_parse (family: net's). */
const char *addr_strerror(int code, int family);

/** Address as text into out (INET6_ADDRSTRLEN bytes suffice). */
void addr_format(const struct ip_addr *a, char *out, size_t outlen);

/** "ADDR/LEN" into out (ADDR_PREFIX_TEXT_MAX bytes suffice). */
void addr_prefix_format(const struct ip_addr *a, unsigned len, char *out,
			size_t outlen);

/**
 * Replaces an IPv6 address carrying an IPv4 one (::ffff:0:0/96,
 * 64:ff9b::/96, Teredo 2001::/32, 6to4 2002::/16) by that IPv4 address
 * when more than the form's offset bits are known (*bits); *bits becomes
 * the IPv4 prefix length. Returns the bit offset of the IPv4 address in
 * the IPv6 one, 0 when a stays as it was.
 */
uint8_t addr_unwrap_v4(struct ip_addr *a, uint8_t *bits);

/** RFC 7871 §10: is addr in a private, loopback, link-local or unspecified
 *  range, behind which a client's location says nothing? */
bool addr_is_private(const struct ip_addr *addr);

/** Is all of net/len inside one such range? */
bool addr_prefix_is_private(const struct ip_addr *net, unsigned len);

/** The i-th private range (i < addr_private_count()), as a network. */
size_t addr_private_count(void);
void addr_private_get(size_t i, struct ip_addr *net, uint8_t *len);

/** The i-th IPv6 prefix that carries IPv4 (addr_unwrap_v4), and its
 *  offset, for i < addr_embedded_count(). */
size_t addr_embedded_count(void);
void addr_embedded_get(size_t i, struct ip_addr *net, uint8_t *len,
		       uint8_t *offset);

#endif
