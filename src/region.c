/*
 * src/region.c — the regional decision: which address stands for the
 * client, which region it belongs to (network override, country override,
 * continent, default), whether shed moves it, and the ECS scope over
 * which that answer holds. Tables are built once per snapshot.
 */
#include "autoconf.h"
#include "region.h"

#include <arpa/inet.h>
#include <string.h>
#include <stdlib.h>

#include "diag.h"
#include "prefix.h"
#include "siphash.h"

enum { FAM_V4, FAM_V6, FAM_COUNT };

struct regions {
	/* every network override, for matching */
	struct prefix_tree *match[FAM_COUNT];
	/* overrides outside private ranges: only these can split a scope */
	struct prefix_tree *scope[FAM_COUNT];
	int continent_region[CONTINENT_COUNT];
	/* index in cfg->country_overrides per ISO code, or -1 */
	int16_t country_override[26 * 26];
};

static int fam_index(uint8_t family)
{
	return family == AF_INET ? FAM_V4 : FAM_V6;
}

static unsigned fam_bits(uint8_t family)
{
	return family == AF_INET ? 32 : 128;
}

static int country_slot(const char *code)
{
	if (code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z')
		return -1;
	return (code[0] - 'A') * 26 + (code[1] - 'A');
}

/* ---- addresses ---------------------------------------------------------- */

struct private_net {
	uint8_t family;
	uint8_t bytes[16];
	uint8_t len;
};

/* RFC 7871 §10: behind these the client's location says nothing. */
static const struct private_net private_nets[] = {
	{ AF_INET, { 10 }, 8 },
	{ AF_INET, { 172, 16 }, 12 },
	{ AF_INET, { 192, 168 }, 16 },
	{ AF_INET, { 100, 64 }, 10 },
	{ AF_INET, { 127 }, 8 },
	{ AF_INET, { 169, 254 }, 16 },
	{ AF_INET, { 0 }, 8 },
	{ AF_INET6, { 0xfc }, 7 },
	{ AF_INET6, { 0xfe, 0x80 }, 10 },
	{ AF_INET6, { [15] = 1 }, 128 },
	{ AF_INET6, { 0 }, 128 },
};

static bool prefix_contains(const uint8_t *net, unsigned len,
			    const uint8_t *addr)
{
	unsigned whole = len / 8, rest = len % 8;
	if (memcmp(net, addr, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (net[whole] & mask) == (addr[whole] & mask);
}

bool region_addr_is_private(const struct ip_addr *addr)
{
	for (size_t i = 0; i < sizeof(private_nets) / sizeof(*private_nets); i++) {
		const struct private_net *p = &private_nets[i];
		if (p->family == addr->family &&
		    prefix_contains(p->bytes, p->len, addr->bytes))
			return true;
	}
	return false;
}

/* Is all of net/len inside one private range? */
static bool network_is_private(const struct ip_addr *net, unsigned len)
{
	for (size_t i = 0; i < sizeof(private_nets) / sizeof(*private_nets); i++) {
		const struct private_net *p = &private_nets[i];
		if (p->family == net->family && p->len <= len &&
		    prefix_contains(p->bytes, p->len, net->bytes))
			return true;
	}
	return false;
}

static void addr_mask(struct ip_addr *a, unsigned bits)
{
	unsigned total = fam_bits(a->family) / 8;
	for (unsigned i = 0; i < total; i++) {
		if (bits >= 8 * (i + 1))
			continue;
		unsigned keep = bits > 8 * i ? bits - 8 * i : 0;
		a->bytes[i] &= (uint8_t)(0xff00 >> keep);
	}
}

struct embedded_v4 {
	uint8_t prefix[12];     /* the IPv6 prefix that marks the form */
	uint8_t prefix_len;
	uint8_t offset;         /* bit position of the IPv4 address */
	bool teredo;            /* stored inverted */
};

/* IPv6 forms that carry an IPv4 client address (SPEC step 1). */
static const struct embedded_v4 embedded_forms[] = {
	{ { [10] = 0xff, [11] = 0xff }, 96, 96, false },     /* ::ffff:0:0/96 */
	{ { 0x00, 0x64, 0xff, 0x9b }, 96, 96, false },       /* 64:ff9b::/96 */
	{ { 0x20, 0x01, 0x00, 0x00 }, 32, 96, true },        /* Teredo */
	{ { 0x20, 0x02 }, 16, 16, false },                   /* 6to4 */
};

static const struct embedded_v4 *embedded_form(const uint8_t *v6)
{
	for (size_t i = 0; i < sizeof(embedded_forms) / sizeof(*embedded_forms); i++)
		if (prefix_contains(embedded_forms[i].prefix,
				    embedded_forms[i].prefix_len, v6))
			return &embedded_forms[i];
	return NULL;
}

/*
 * Replaces an IPv6 address carrying an IPv4 one by that IPv4 address when
 * enough of it is known (bits > offset). Returns the offset used, 0 if
 * the address stays as it was.
 */
static uint8_t addr_unwrap(struct ip_addr *a, uint8_t *bits)
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

/* ---- building ----------------------------------------------------------- */

static int regions_add_override(struct regions *r, const struct config *cfg,
				size_t i, struct diag *d)
{
	const struct config_network_override *o = &cfg->network_overrides[i];
	int f = fam_index(o->net.family);
	int rc = prefix_tree_insert(r->match[f], o->net.bytes, o->prefix_len,
				    (int)i);
	if (rc == 0 && !network_is_private(&o->net, o->prefix_len))
		rc = prefix_tree_insert(r->scope[f], o->net.bytes,
					o->prefix_len, (int)i);
	if (rc == -1) {
		diag_error(d, cfg->path, o->line, "out of memory");
		return -1;
	}
	if (rc < -1) {
		diag_error(d, cfg->path, o->line,
			   "network override repeats the one on line %u",
			   cfg->network_overrides[-2 - rc].line);
		return -1;
	}
	return 0;
}

/* config.c has refused a continent listed by two regions. */
static void regions_map_continents(struct regions *r, const struct config *cfg)
{
	for (int c = 0; c < CONTINENT_COUNT; c++)
		r->continent_region[c] = REGION_NONE;
	for (size_t i = 0; i < cfg->region_count; i++)
		for (int c = 0; c < CONTINENT_COUNT; c++)
			if (cfg->regions[i].continents & (1u << c))
				r->continent_region[c] = (int)i;
}

struct regions *regions_build(const struct config *cfg, struct diag *d)
{
	struct regions *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	int rc = 0;
	for (int f = 0; f < FAM_COUNT; f++) {
		unsigned bits = f == FAM_V4 ? 32 : 128;
		r->match[f] = prefix_tree_new(bits);
		r->scope[f] = prefix_tree_new(bits);
		if (r->match[f] == NULL || r->scope[f] == NULL)
			rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < cfg->network_override_count; i++)
		rc = regions_add_override(r, cfg, i, d);

	for (size_t i = 0; i < 26 * 26; i++)
		r->country_override[i] = -1;
	for (size_t i = 0; i < cfg->country_override_count; i++) {
		int slot = country_slot(cfg->country_overrides[i].code);
		if (slot >= 0)
			r->country_override[slot] = (int16_t)i;
	}
	regions_map_continents(r, cfg);
	if (rc < 0) {
		regions_free(r);
		return NULL;
	}
	return r;
}

void regions_free(struct regions *r)
{
	if (r == NULL)
		return;
	for (int f = 0; f < FAM_COUNT; f++) {
		prefix_tree_free(r->match[f]);
		prefix_tree_free(r->scope[f]);
	}
	free(r);
}

/* ---- deciding ----------------------------------------------------------- */

uint64_t region_shed_hash(const uint8_t key[16], const struct ip_addr *addr,
			  uint8_t k)
{
	uint8_t msg[2 + 16];
	unsigned len = addr->family == AF_INET ? 4 : 16;
	struct ip_addr masked = *addr;
	addr_mask(&masked, k);
	msg[0] = addr->family == AF_INET ? 4 : 6;
	msg[1] = k;
	memcpy(msg + 2, masked.bytes, len);
	return siphash24(key, msg, 2 + len);
}

/* Step 1: the ECS address unless absent, empty or private; else source. */
static void decide_address(const struct config *cfg,
			   const struct region_client *client,
			   struct region_decision *out)
{
	if (cfg->ecs && client->has_ecs && client->ecs_source_len > 0) {
		out->addr = client->ecs_addr;
		out->addr_bits = client->ecs_source_len;
		out->offset = addr_unwrap(&out->addr, &out->addr_bits);
		if (!region_addr_is_private(&out->addr)) {
			out->used_ecs = true;
			return;
		}
		out->ecs_private = true;
	}
	out->addr = client->source;
	out->addr_bits = (uint8_t)fam_bits(client->source.family);
	out->offset = addr_unwrap(&out->addr, &out->addr_bits);
}

/* Step 2: network override, country override, continent, default. */
static void decide_region(const struct regions *r, const struct config *cfg,
			  struct region_decision *out,
			  const struct prefix_match *m)
{
	const struct geo_record *rec = out->geo.record;
	out->continent = rec != NULL ? (enum continent)rec->continent
				     : CONTINENT_UNKNOWN;
	out->network_override = m->value;
	out->country_override = -1;
	if (m->value >= 0) {
		out->region_before_shed = cfg->network_overrides[m->value].region;
		return;
	}
	int slot = rec != NULL ? country_slot(rec->country) : -1;
	if (slot >= 0 && r->country_override[slot] >= 0) {
		out->country_override = r->country_override[slot];
		out->region_before_shed =
			cfg->country_overrides[out->country_override].region;
		return;
	}
	if (out->continent < CONTINENT_COUNT &&
	    r->continent_region[out->continent] != REGION_NONE) {
		out->region_before_shed = r->continent_region[out->continent];
		return;
	}
	out->region_before_shed = cfg->default_region;
}

/* Step 3: shed once, by the keyed hash of the truncated address. */
static void decide_shed(const struct config *cfg, struct region_decision *out)
{
	const struct config_region *reg = &cfg->regions[out->region_before_shed];
	unsigned k_max = out->addr.family == AF_INET ? 24 : 56;
	out->shed_k = (uint8_t)(out->used_ecs && out->addr_bits < k_max
				? out->addr_bits : k_max);
	out->region = out->region_before_shed;
	if (reg->shed_to == REGION_NONE || reg->shed_bp == 0)
		return;
	out->shed_hash = region_shed_hash(cfg->shed_key, &out->addr, out->shed_k);
	if (out->shed_hash % 10000 < reg->shed_bp) {
		out->region = reg->shed_to;
		out->shed = true;
	}
}

/*
 * The ECS scope: the database network, lengthened where a public network
 * override splits it, at least K when the region sheds, plus the offset
 * of an IPv4 address carried in IPv6.
 */
static void decide_scope(const struct regions *r, const struct config *cfg,
			 struct region_decision *out)
{
	if (!out->used_ecs) {
		out->scope = 0;
		return;
	}
	struct prefix_match m;
	prefix_tree_lookup(r->scope[fam_index(out->addr.family)],
			   out->addr.bytes, &m);
	unsigned scope = out->geo.prefix_len;
	if (m.uniform_len > scope)
		scope = m.uniform_len;
	const struct config_region *reg = &cfg->regions[out->region_before_shed];
	if (reg->shed_to != REGION_NONE && reg->shed_bp > 0 && out->shed_k > scope)
		scope = out->shed_k;
	out->scope = (uint8_t)(scope + out->offset);
}

void region_decide(const struct regions *r, const struct config *cfg,
		   const struct geo *g, const struct region_client *client,
		   struct region_decision *out)
{
	memset(out, 0, sizeof(*out));
	decide_address(cfg, client, out);
	geo_lookup(g, &out->addr, &out->geo);
	struct prefix_match m;
	prefix_tree_lookup(r->match[fam_index(out->addr.family)],
			   out->addr.bytes, &m);
	decide_region(r, cfg, out, &m);
	decide_shed(cfg, out);
	decide_scope(r, cfg, out);
}
