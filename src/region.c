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

#include "addr.h"
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

static int country_slot(const char *code)
{
	if (code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z')
		return -1;
	return (code[0] - 'A') * 26 + (code[1] - 'A');
}

/* ---- building ----------------------------------------------------------- */

static int regions_add_override(struct regions *r, const struct config *cfg,
				size_t i, struct diag *d)
{
	const struct config_network_override *o = &cfg->network_overrides[i];
	int f = fam_index(o->net.family);
	int rc = prefix_tree_insert(r->match[f], o->net.bytes, o->prefix_len,
				    (int)i);
	if (rc == 0 && !addr_prefix_is_private(&o->net, o->prefix_len))
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
		out->offset = addr_unwrap_v4(&out->addr, &out->addr_bits);
		if (!addr_is_private(&out->addr)) {
			out->used_ecs = true;
			return;
		}
		out->ecs_private = true;
	}
	out->addr = client->source;
	out->addr_bits = (uint8_t)addr_family_bits(client->source.family);
	out->offset = addr_unwrap_v4(&out->addr, &out->addr_bits);
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

void region_shed_from_config(const struct config *cfg,
			     struct region_shed *shed)
{
	for (size_t i = 0; i < cfg->region_count; i++) {
		shed[i].to = cfg->regions[i].shed_to;
		shed[i].bp = cfg->regions[i].shed_bp;
		shed[i].override_id = 0;
	}
}

/* Step 3: shed once, by the keyed hash of the truncated address. */
static void decide_shed(const struct config *cfg,
			const struct region_shed *shed,
			struct region_decision *out)
{
	const struct region_shed *reg = &shed[out->region_before_shed];
	unsigned k_max = out->addr.family == AF_INET ? 24 : 56;
	out->shed_k = (uint8_t)(out->used_ecs && out->addr_bits < k_max
				? out->addr_bits : k_max);
	out->region = out->region_before_shed;
	if (reg->to == REGION_NONE || reg->bp == 0)
		return;
	out->shed_hash = region_shed_hash(cfg->shed_key, &out->addr, out->shed_k);
	if (out->shed_hash % 10000 < reg->bp) {
		out->region = reg->to;
		out->shed = true;
	}
}

/*
 * The ECS scope: the database network, lengthened where a public network
 * override splits it, at least K when the region sheds, plus the offset
 * of an IPv4 address carried in IPv6.
 */
static void decide_scope(const struct regions *r,
			 const struct region_shed *shed,
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
	const struct region_shed *reg = &shed[out->region_before_shed];
	if (reg->to != REGION_NONE && reg->bp > 0 && out->shed_k > scope)
		scope = out->shed_k;
	out->scope = (uint8_t)(scope + out->offset);
}

void region_decide(const struct regions *r, const struct config *cfg,
		   const struct region_shed *shed, const struct geo *g,
		   const struct region_client *client,
		   struct region_decision *out)
{
	memset(out, 0, sizeof(*out));
	decide_address(cfg, client, out);
	geo_lookup(g, &out->addr, &out->geo);
	struct prefix_match m;
	prefix_tree_lookup(r->match[fam_index(out->addr.family)],
			   out->addr.bytes, &m);
	decide_region(r, cfg, out, &m);
	decide_shed(cfg, shed, out);
	decide_scope(r, shed, out);
}
