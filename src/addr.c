/*
 * src/addr.c — IP addresses and their bits: parsing and formatting,
 * masks and prefix containment, the IPv4-in-IPv6 forms and the private
 * ranges. Pure functions of their arguments; nothing here allocates.
 */
#include "autoconf.h"
#include "addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

unsigned addr_family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

bool addr_bits_zero(const uint8_t *bytes, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (addr_bit(bytes, i))
			return false;
	return true;
}

void addr_bits_clear(uint8_t *bytes, unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		bytes[i >> 3] &= (uint8_t) ~(0x80u >> (i & 7));
}

void addr_mask(struct ip_addr *a, unsigned len)
{
	addr_bits_clear(a->bytes, len, addr_family_bits(a->family));
}

bool addr_prefix_contains(const uint8_t *net, unsigned len, const uint8_t *addr)
{
	unsigned whole = len / 8, rest = len % 8;
	if (memcmp(net, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[whole] & mask) == (addr[whole] & mask);
}

int addr_parse(const char *text, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return 0;
	}
	return -1;
}

/* 0..max in at most three plain digits, or -1. */
static int addr_len_parse(const char *text, unsigned max)
{
	size_t n = strlen(text);
	if (n == 0 || n > 3 || strspn(text, "0123456789") != n)
		return -1;
	unsigned v = 0;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(text[i] - '0');
	return v <= max ? (int)v : -1;
}

int addr_prefix_parse(const char *text, struct ip_addr *net, uint8_t *len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	memset(net, 0, sizeof(*net));
	if (slash == NULL)
		return -ADDR_ERR_NO_SLASH;
	size_t alen = (size_t)(slash - text);
	if (alen == 0 || alen >= sizeof(addr))
		return -ADDR_ERR_ADDRESS;
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (addr_parse(addr, net) < 0)
		return -ADDR_ERR_ADDRESS;
	int v = addr_len_parse(slash + 1, addr_family_bits(net->family));
	if (v < 0)
		return -ADDR_ERR_LENGTH;
	*len = (uint8_t)v;
	if (!addr_bits_zero(net->bytes, *len, addr_family_bits(net->family))) {
		addr_mask(net, *len);
		return -ADDR_ERR_HOST_BITS;
	}
	return 0;
}

const char *addr_strerror(int code, int family)
{
	switch (-code) {
	case ADDR_ERR_NO_SLASH:
		return "write a network as ADDRESS/LENGTH, e.g. 10.0.0.0/8";
	case ADDR_ERR_ADDRESS:
		return "not a valid IPv4 or IPv6 address";
	case ADDR_ERR_LENGTH:
		return family == AF_INET ? "the prefix length must be 0 to 32"
					 : "the prefix length must be 0 to 128";
	case ADDR_ERR_HOST_BITS:
		return "bits are set after the prefix length";
	default:
		return "no error";
	}
}

void addr_format(const struct ip_addr *a, char *out, size_t outlen)
{
	if (inet_ntop(a->family, a->bytes, out, (socklen_t)outlen) == NULL &&
	    outlen > 0)
		out[0] = '\0';
}

void addr_prefix_format(const struct ip_addr *a, unsigned len, char *out,
			size_t outlen)
{
	char buf[INET6_ADDRSTRLEN];
	addr_format(a, buf, sizeof(buf));
	snprintf(out, outlen, "%s/%u", buf, len);
}

/* ---- IPv4 carried in IPv6 ----------------------------------------------- */

struct embedded_v4 {
	uint8_t prefix[12]; /* the IPv6 prefix that marks the form */
	uint8_t prefix_len;
	uint8_t offset; /* bit position of the IPv4 address */
	bool teredo;    /* stored inverted */
};

static const struct embedded_v4 embedded_forms[] = {
	{{[10] = 0xff, [11] = 0xff}, 96, 96, false}, /* ::ffff:0:0/96 */
	{{0x00, 0x64, 0xff, 0x9b}, 96, 96, false},   /* 64:ff9b::/96 */
	{{0x20, 0x01, 0x00, 0x00}, 32, 96, true},    /* Teredo */
	{{0x20, 0x02}, 16, 16, false},               /* 6to4 */
};

static const struct embedded_v4 *embedded_form(const uint8_t *v6)
{
	for (size_t i = 0; i < sizeof(embedded_forms) / sizeof(*embedded_forms);
	     i++)
		if (addr_prefix_contains(embedded_forms[i].prefix,
					 embedded_forms[i].prefix_len, v6))
			return &embedded_forms[i];
	return NULL;
}

uint8_t addr_unwrap_v4(struct ip_addr *a, uint8_t *bits)
{
	if (a->family != AF_INET6)
		return 0;
	const struct embedded_v4 *form = embedded_form(a->bytes);
	if (form == NULL || *bits <= form->offset)
		return 0;

	uint8_t v4[4];
	memcpy(v4, a->bytes + form->offset / 8, 4);
	if (form->teredo)
		for (unsigned i = 0; i < 4; i++)
			v4[i] ^= 0xff;
	unsigned v4_bits = *bits - form->offset;
	memset(a, 0, sizeof(*a));
	a->family = AF_INET;
	memcpy(a->bytes, v4, 4);
	*bits = (uint8_t)(v4_bits > 32 ? 32 : v4_bits);
	// Teredo stores the address inverted: bits the ECS prefix zeroed
	// came back as ones and must go again
	addr_mask(a, *bits);
	return form->offset;
}

/* ---- private ranges ------------------------------------------------------- */

struct private_net {
	uint8_t family;
	uint8_t bytes[16];
	uint8_t len;
};

/* RFC 7871 §10: behind these the client's location says nothing. */
static const struct private_net private_nets[] = {
	{AF_INET, {10}, 8},
	{AF_INET, {172, 16}, 12},
	{AF_INET, {192, 168}, 16},
	{AF_INET, {100, 64}, 10},
	{AF_INET, {127}, 8},
	{AF_INET, {169, 254}, 16},
	{AF_INET, {0}, 8},
	{AF_INET6, {0xfc}, 7},
	{AF_INET6, {0xfe, 0x80}, 10},
	{AF_INET6, {[15] = 1}, 128},
	{AF_INET6, {0}, 128},
};

bool addr_is_private(const struct ip_addr *addr)
{
	return addr_prefix_is_private(addr, addr_family_bits(addr->family));
}

bool addr_prefix_is_private(const struct ip_addr *net, unsigned len)
{
	for (size_t i = 0; i < sizeof(private_nets) / sizeof(*private_nets);
	     i++) {
		const struct private_net *p = &private_nets[i];
		if (p->family == net->family && p->len <= len &&
		    addr_prefix_contains(p->bytes, p->len, net->bytes))
			return true;
	}
	return false;
}

size_t addr_private_count(void)
{
	return sizeof(private_nets) / sizeof(*private_nets);
}

void addr_private_get(size_t i, struct ip_addr *net, uint8_t *len)
{
	memset(net, 0, sizeof(*net));
	net->family = private_nets[i].family;
	memcpy(net->bytes, private_nets[i].bytes, 16);
	*len = private_nets[i].len;
}

size_t addr_embedded_count(void)
{
	return sizeof(embedded_forms) / sizeof(*embedded_forms);
}

void addr_embedded_get(size_t i, struct ip_addr *net, uint8_t *len,
		       uint8_t *offset)
{
	memset(net, 0, sizeof(*net));
	net->family = AF_INET6;
	memcpy(net->bytes, embedded_forms[i].prefix, 12);
	*len = embedded_forms[i].prefix_len;
	*offset = embedded_forms[i].offset;
}
