/*
 * src/region.c — the regional decision: which address stands for the
 * client, one walk of the merged tree (geomap.c) for its region and ECS
 * scope, whether shed moves it; and the step-by-step decision (network
 * override, country override, continent, default) the tree compiles.
 */
#include "autoconf.h"
#include "region.h"

#include <arpa/inet.h>
#include <math.h>
#include <string.h>
#include <stdlib.h>

#include "addr.h"
#include "diag.h"
#include "geomap.h"
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
	/* what the query path needs, copied from the config */
	struct geomap *map;
	bool ecs;
	uint8_t shed_key[16];
	/* per (service, region), at reg[service * region_count + region]:
	 * the A and AAAA RRsets, pre-encoded (region_rrset) */
	struct region_info {
		uint8_t *rrs[2];
		uint16_t rr_count[2];
	} * reg;
	/* per region, health spreading: weight, `fallback:`, the salt of
	 * the region's draw (SipHash of its name: the same fleet-wide
	 * whatever the order of the regions) */
	struct region_spread {
		uint32_t capacity;
		int *fallback;
		size_t fallback_count;
		uint64_t salt;
	} * spread;
	size_t region_count;
	size_t service_count; /* with CONFIG_SERVICE_REGIONS: 1 + named */
	/* per service, the regions that have it (the spread's candidates):
	 * have[have_start[s]] .. have[have_start[s + 1] - 1] */
	uint16_t *have;
	uint32_t *have_start;
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

static int regions_region_of_record(const struct regions *r,
				    const struct config *cfg,
				    const struct geo_record *rec,
				    uint8_t *reason);

/* The merged tree: geo records → regions, with the network overrides. */
static int regions_map_build(struct regions *r, const struct config *cfg,
			     const struct geo *g, struct diag *d)
{
	struct geo_tree t;
	geo_tree_get(g, &t);
	const char *why = "out of memory";
	int *record_region = calloc(t.record_count + 1, sizeof(*record_region));
	uint8_t *record_reason = calloc(t.record_count + 1, 1);
	struct geomap_override *ov =
		calloc(cfg->network_override_count + 1, sizeof(*ov));
	if (record_region != NULL && record_reason != NULL && ov != NULL) {
		for (uint32_t i = 0; i < t.record_count; i++)
			record_region[i] = regions_region_of_record(
				r, cfg, &t.records[i], &record_reason[i]);
		for (size_t i = 0; i < cfg->network_override_count; i++) {
			ov[i].net = cfg->network_overrides[i].net;
			ov[i].len = cfg->network_overrides[i].prefix_len;
			ov[i].region = cfg->network_overrides[i].region;
		}
		struct geomap_input in = {
			.geo = g,
			.record_region = record_region,
			.record_reason = record_reason,
			.overrides = ov,
			.override_count = cfg->network_override_count,
		};
		in.nodata_region = regions_region_of_record(r, cfg, NULL,
							    &in.nodata_reason);
		r->map = geomap_build(&in, &why);
	}
	free(record_region);
	free(record_reason);
	free(ov);
	if (r->map == NULL) {
		diag_error(d, cfg->path, cfg->geoip_line,
			   "geoip: cannot merge "
			   "'%s' and the overrides into one decision tree: %s",
			   cfg->geoip, why);
		return -1;
	}
	return 0;
}

/* One family's VIPs as answer records (struct region_rrset). */
static int regions_encode_rrset(struct region_info *sh, int fam,
				const struct ip_addr *vips, size_t count)
{
	unsigned alen = fam == FAM_V4 ? 4 : 16;
	size_t stride = 12 + alen;
	if (count > UINT16_MAX)
		return -1;
	sh->rrs[fam] = calloc(count + 1, stride);
	if (sh->rrs[fam] == NULL)
		return -1;
	sh->rr_count[fam] = (uint16_t)count;
	uint16_t type = fam == FAM_V4 ? 1 : 28; // A, AAAA
	for (size_t i = 0; i < count; i++) {
		uint8_t *p = sh->rrs[fam] + i * stride;
		p[0] = 0xc0; // a pointer to the question name, at 12
		p[1] = 12;
		p[2] = (uint8_t)(type >> 8);
		p[3] = (uint8_t)type;
		p[4] = 0; // class IN
		p[5] = 1;
		// TTL at 6..9 stays 0: patched per zone
		p[10] = 0;
		p[11] = (uint8_t)alen;
		memcpy(p + 12, vips[i].bytes, alen);
	}
	return 0;
}

/* The RRsets of every (service, region) and, per service, the regions
 * that have it: the answer and the spread read no config. */
static int regions_encode_services(struct regions *r, const struct config *cfg)
{
	size_t nreg = cfg->region_count, nsvc = cfg->service_count + 1;
	r->reg = calloc(nsvc * nreg + 1, sizeof(*r->reg));
	r->have = calloc(nsvc * nreg + 1, sizeof(*r->have));
	r->have_start = calloc(nsvc + 1, sizeof(*r->have_start));
	if (r->reg == NULL || r->have == NULL || r->have_start == NULL)
		return -1;
	r->region_count = nreg;
	r->service_count = nsvc;
	uint32_t used = 0;
	for (size_t s = 0; s < nsvc; s++) {
		r->have_start[s] = used;
		for (size_t i = 0; i < nreg; i++) {
			struct config_vipset v;
			config_vips(cfg, (unsigned)s, (int)i, &v);
			struct region_info *info = &r->reg[s * nreg + i];
			if (regions_encode_rrset(info, FAM_V4, v.v4,
						 v.v4_count) < 0 ||
			    regions_encode_rrset(info, FAM_V6, v.v6,
						 v.v6_count) < 0)
				return -1;
			if (v.v4_count + v.v6_count > 0)
				r->have[used++] = (uint16_t)i;
		}
	}
	r->have_start[nsvc] = used;
	return 0;
}

/* Capacity, fallback and the salt of one region's spread draw. */
static int regions_copy_spread(struct region_spread *ri,
			       const struct config_region *reg,
			       const uint8_t key[16])
{
	ri->capacity = reg->capacity > 0 ? reg->capacity : 1;
	ri->fallback = calloc(reg->fallback_count + 1, sizeof(*ri->fallback));
	if (ri->fallback == NULL)
		return -1;
	if (reg->fallback_count > 0)
		memcpy(ri->fallback, reg->fallback,
		       reg->fallback_count * sizeof(*ri->fallback));
	ri->fallback_count = reg->fallback_count;
	ri->salt =
		siphash24(key, (const uint8_t *)reg->name, strlen(reg->name));
	return 0;
}

/* The shed key, the ECS switch and the encoded VIPs, so deciding and
 * answering read no config (the shed table is the snapshot's). */
static int regions_copy_settings(struct regions *r, const struct config *cfg,
				 struct diag *d)
{
	r->ecs = cfg->ecs;
	memcpy(r->shed_key, cfg->shed_key, sizeof(r->shed_key));
	if (cfg->region_count > UINT16_MAX ||
	    regions_encode_services(r, cfg) < 0) {
		diag_error(d, cfg->path, 0, "out of memory");
		return -1;
	}
	r->spread = calloc(cfg->region_count + 1, sizeof(*r->spread));
	int rc = r->spread != NULL ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < cfg->region_count; i++)
		rc = regions_copy_spread(&r->spread[i], &cfg->regions[i],
					 r->shed_key);
	if (rc < 0)
		diag_error(d, cfg->path, 0, "out of memory");
	return rc;
}

struct regions *regions_build(const struct config *cfg, const struct geo *g,
			      struct diag *d)
{
	struct regions *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		diag_error(d, cfg->path, 0, "out of memory");
		return NULL;
	}
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
	if (rc == 0)
		rc = regions_copy_settings(r, cfg, d);
	if (rc == 0)
		rc = regions_map_build(r, cfg, g, d);
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
	geomap_free(r->map);
	for (size_t i = 0;
	     r->reg != NULL && i < r->service_count * r->region_count; i++) {
		free(r->reg[i].rrs[FAM_V4]);
		free(r->reg[i].rrs[FAM_V6]);
	}
	for (size_t i = 0; r->spread != NULL && i < r->region_count; i++)
		free(r->spread[i].fallback);
	free(r->spread);
	free(r->reg);
	free(r->have);
	free(r->have_start);
	free(r);
}

/* ---- deciding ----------------------------------------------------------- */

uint64_t region_shed_hash(const uint8_t key[16], const struct ip_addr *addr,
			  uint8_t k)
{
	// family byte, K, the address's first K bits (addr_mask's rule: the
	// rest zero), masked here a byte at a time
	uint8_t msg[2 + 16];
	unsigned len = addr->family == AF_INET ? 4 : 16;
	unsigned whole = k / 8u < len ? k / 8u : len;
	msg[0] = addr->family == AF_INET ? 4 : 6;
	msg[1] = k;
	memcpy(msg + 2, addr->bytes, 16);
	if (whole < len) {
		// K % 8 == 0: the byte after the whole ones goes too
		msg[2 + whole] &= (uint8_t)(0xff00u >> (k % 8u));
		for (unsigned i = whole + 1; i < len; i++)
			msg[2 + i] = 0;
	}
	return siphash24(key, msg, 2 + len);
}

/*
 * Steps 1 and 2: the ECS address unless absent, empty or private (the
 * merged leaf says so), else the packet source; its leaf gives the
 * region before shed and the merged scope.
 */
static void decide_address(const struct regions *r,
			   const struct region_client *client,
			   struct region_decision *out,
			   struct geomap_leaf *leaf)
{
	if (r->ecs && client->has_ecs && client->ecs_source_len > 0) {
		out->addr = client->ecs_addr;
		out->addr_bits = client->ecs_source_len;
		if (out->addr.family == AF_INET6) // else nothing to unwrap
			out->offset =
				addr_unwrap_v4(&out->addr, &out->addr_bits);
		geomap_lookup(r->map, &out->addr, leaf);
		if (!leaf->priv) {
			out->used_ecs = true;
			return;
		}
		out->ecs_private = true;
	}
	out->addr = client->source;
	out->addr_bits = client->source.family == AF_INET ? 32 : 128;
	out->offset = 0;
	if (out->addr.family == AF_INET6)
		out->offset = addr_unwrap_v4(&out->addr, &out->addr_bits);
	geomap_lookup(r->map, &out->addr, leaf);
}

void region_shed_from_config(const struct config *cfg, struct region_shed *shed)
{
	for (size_t i = 0; i < cfg->region_count; i++) {
		shed[i].to = cfg->regions[i].shed_to;
		shed[i].bp = cfg->regions[i].shed_bp;
		shed[i].override_id = 0;
		shed[i].health = REGION_UP;
	}
}

static bool region_is_down(const struct region_shed *shed, int i)
{
	return shed[i].health == REGION_DOWN;
}

// Any region of from's fallback list up?
static bool region_fallback_up(const struct regions *r,
			       const struct region_shed *shed, int from)
{
	const struct region_spread *ri = &r->spread[from];
	for (size_t i = 0; i < ri->fallback_count; i++)
		if (!region_is_down(shed, ri->fallback[i]))
			return true;
	return false;
}

bool region_spread_candidate(const struct regions *r,
			     const struct region_shed *shed, int from, int to)
{
	if (to == from || region_is_down(shed, to))
		return false;
	if (!region_fallback_up(r, shed, from))
		return true;
	const struct region_spread *ri = &r->spread[from];
	for (size_t i = 0; i < ri->fallback_count; i++)
		if (ri->fallback[i] == to)
			return true;
	return false;
}

// splitmix64's finaliser: h and the salt give independent draws per region.
static uint64_t region_mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

double region_spread_score(const struct regions *r, uint64_t h, int to)
{
	uint64_t x = region_mix(h ^ r->spread[to].salt);
	double u = ((double)(x >> 11) + 0.5) / 9007199254740992.0; // 2^53
	return -log(u) / (double)r->spread[to].capacity;
}

/* A weighted rendezvous draw in progress: the candidates offered so far
 * and the lowest-scoring of them (a down region's spread and a missing
 * service's spread draw alike). */
struct spread_draw {
	uint64_t h;
	int best; /* -1 until a candidate is offered */
	double best_score;
	unsigned count;
};

static void spread_draw_offer(const struct regions *r, struct spread_draw *dr,
			      int to)
{
	double score = region_spread_score(r, dr->h, to);
	dr->count++;
	// ties (never seen in practice) go to the lower index
	if (dr->best < 0 || score < dr->best_score ||
	    (score == dr->best_score && to < dr->best)) {
		dr->best = to;
		dr->best_score = score;
	}
}

int region_spread(const struct regions *r, const struct region_shed *shed,
		  int from, uint64_t h)
{
	bool fallback = region_fallback_up(r, shed, from);
	struct spread_draw dr = {.h = h, .best = -1};
	// the fallback list, or every region: the same rule as the candidate
	// test, without re-reading the list per region
	size_t n = fallback ? r->spread[from].fallback_count : r->region_count;
	for (size_t i = 0; i < n; i++) {
		int to = fallback ? r->spread[from].fallback[i] : (int)i;
		if (to == from || region_is_down(shed, to))
			continue;
		spread_draw_offer(r, &dr, to);
	}
	return dr.best >= 0 ? dr.best : from;
}

static uint64_t decide_hash(const struct regions *r,
			    struct region_decision *out)
{
	if (!out->hashed) {
		out->shed_hash =
			region_shed_hash(r->shed_key, &out->addr, out->shed_k);
		out->hashed = true;
	}
	return out->shed_hash;
}

/* Step 3: a down region's clients spread over the up regions. */
static void decide_health(const struct regions *r,
			  const struct region_shed *shed,
			  struct region_decision *out)
{
	unsigned k_max = out->addr.family == AF_INET ? 24 : 56;
	out->shed_k = (uint8_t)(out->used_ecs && out->addr_bits < k_max
					? out->addr_bits
					: k_max);
	int from = out->region_before_shed;
	out->region_landed = from;
	out->all_down = shed[from].health == REGION_DOWN_IGNORED;
	if (!region_is_down(shed, from))
		return;
	out->region_landed = region_spread(r, shed, from, decide_hash(r, out));
	out->health_moved = out->region_landed != from;
	out->runtime = out->health_moved;
}

/* Step 4: the shed of the region landed in, once, by the keyed hash of
 * the truncated address; not into a region that is down. */
static void decide_shed(const struct regions *r, const struct region_shed *shed,
			struct region_decision *out)
{
	int from = out->region_landed;
	const struct region_shed *sh = &shed[from];
	out->region = from;
	if (sh->to == REGION_NONE || sh->bp == 0)
		return;
	if (decide_hash(r, out) % 10000 >= sh->bp)
		return;
	int to = sh->to == REGION_SPREAD
			 ? region_spread(r, shed, from, out->shed_hash)
			 : sh->to;
	if (region_is_down(shed, to)) {
		out->shed_suspended = true;
		return;
	}
	out->region = to;
	out->shed = to != from;
	out->runtime |= out->shed && sh->override_id != 0;
}

/*
 * The ECS scope: the merged leaf's scope (the widest prefix whose public
 * addresses share the region), at least K when the region depends on the
 * hash (health spread or shed), plus the offset of an IPv4 address
 * carried in IPv6.
 */
static void decide_scope(struct region_decision *out)
{
	if (!out->used_ecs) {
		out->scope = 0;
		return;
	}
	unsigned scope = out->leaf_scope;
	if (out->hashed && out->shed_k > scope)
		scope = out->shed_k;
	out->scope = (uint8_t)(scope + out->offset);
}

/* A region neither down nor shedding: its clients stay, no hash drawn. */
static bool region_plain(const struct region_shed *sh)
{
	return sh->health == REGION_UP &&
	       (sh->to == REGION_NONE || sh->bp == 0);
}

void region_decide(const struct regions *r, const struct region_shed *shed,
		   const struct region_client *client,
		   struct region_decision *out)
{
	memset(out, 0, sizeof(*out));
	struct geomap_leaf leaf;
	decide_address(r, client, out, &leaf);
	out->region_before_shed = leaf.region;
	out->reason = leaf.reason;
	out->leaf_depth = leaf.depth;
	out->leaf_scope = leaf.scope;
	if (region_plain(&shed[leaf.region])) {
		// the common case: decide_health and decide_shed would move
		// nothing and draw no hash; only K is needed (a service's
		// spread draws with it)
		unsigned k_max = out->addr.family == AF_INET ? 24 : 56;
		out->shed_k = (uint8_t)(out->used_ecs && out->addr_bits < k_max
						? out->addr_bits
						: k_max);
		out->region_landed = out->region = leaf.region;
		out->scope =
			out->used_ecs ? (uint8_t)(leaf.scope + out->offset) : 0;
		return;
	}
	decide_health(r, shed, out);
	decide_shed(r, shed, out);
	decide_scope(out);
}

int region_decide_hashed(const struct regions *r,
			 const struct region_shed *shed, int from, uint64_t h)
{
	struct region_decision d;
	memset(&d, 0, sizeof(d));
	d.region_before_shed = from;
	d.hashed = true; // decide_hash gives h
	d.shed_hash = h;
	decide_health(r, shed, &d);
	decide_shed(r, shed, &d);
	return d.region;
}

uint64_t regions_hash(const struct regions *r, const struct ip_addr *addr,
		      uint8_t k)
{
	return region_shed_hash(r->shed_key, addr, k);
}

uint32_t region_capacity(const struct regions *r, int i)
{
	return r->spread[i].capacity;
}

size_t regions_count(const struct regions *r)
{
	return r->region_count;
}

/* ---- the step-by-step decision ------------------------------------------- */

/* Country override, continent, default: a record's region (NULL: none)
 * and, in *reason, which of the three gave it. */
static int regions_region_of_record(const struct regions *r,
				    const struct config *cfg,
				    const struct geo_record *rec,
				    uint8_t *reason)
{
	int slot = rec != NULL ? country_slot(rec->country) : -1;
	if (slot >= 0 && r->country_override[slot] >= 0) {
		*reason = GEOMAP_BY_COUNTRY;
		return cfg->country_overrides[r->country_override[slot]].region;
	}
	enum continent c = rec != NULL ? (enum continent)rec->continent
				       : CONTINENT_UNKNOWN;
	if (c < CONTINENT_COUNT && r->continent_region[c] != REGION_NONE) {
		*reason = GEOMAP_BY_CONTINENT;
		return r->continent_region[c];
	}
	*reason = GEOMAP_BY_DEFAULT;
	return cfg->default_region;
}

void region_explain(const struct regions *r, const struct config *cfg,
		    const struct geo *g, const struct region_decision *d,
		    struct region_explanation *out)
{
	memset(out, 0, sizeof(*out));
	geo_lookup(g, &d->addr, &out->geo);
	const struct geo_record *rec = out->geo.record;
	out->continent = rec != NULL ? (enum continent)rec->continent
				     : CONTINENT_UNKNOWN;
	int f = fam_index(d->addr.family);
	struct prefix_match m;
	prefix_tree_lookup(r->match[f], d->addr.bytes, &m);
	out->network_override = m.value;
	out->country_override = -1;
	int slot = rec != NULL ? country_slot(rec->country) : -1;
	if (m.value >= 0) {
		out->region_before_shed =
			cfg->network_overrides[m.value].region;
		out->reason = GEOMAP_BY_NETWORK;
	} else {
		if (slot >= 0)
			out->country_override = r->country_override[slot];
		out->region_before_shed =
			regions_region_of_record(r, cfg, rec, &out->reason);
	}
	prefix_tree_lookup(r->scope[f], d->addr.bytes, &m);
	out->network_scope = m.uniform_len > out->geo.prefix_len
				     ? m.uniform_len
				     : out->geo.prefix_len;
	geomap_neighbour(r->map, &d->addr, d->leaf_scope, d->region_before_shed,
			 &out->neighbour_region);
}

/* ---- services ------------------------------------------------------------ */

static const struct region_info *service_info(const struct regions *r,
					      unsigned service, int region)
{
	return &r->reg[(size_t)service * r->region_count + (size_t)region];
}

void region_rrset(const struct regions *r, unsigned service, int region,
		  uint16_t qtype, struct region_rrset *out)
{
	int fam = qtype == 1 ? FAM_V4 : FAM_V6;
	const struct region_info *info = service_info(r, service, region);
	out->bytes = info->rrs[fam];
	out->count = info->rr_count[fam];
	out->stride = fam == FAM_V4 ? 16 : 28;
}

bool region_has_service(const struct regions *r, unsigned service, int region)
{
	const struct region_info *info = service_info(r, service, region);
	return info->rr_count[FAM_V4] + info->rr_count[FAM_V6] > 0;
}

/* A region that is down, or every client of which is shed away
 * (drained): no target. */
static bool service_drained(const struct region_shed *shed, int region)
{
	return region_is_down(shed, region) ||
	       (shed[region].to != REGION_NONE && shed[region].bp == 10000);
}

/* Has the service, is not down and not drained: a spread target. */
static bool service_live(const struct regions *r,
			 const struct region_shed *shed, unsigned service,
			 int region)
{
	return region_has_service(r, service, region) &&
	       !service_drained(shed, region);
}

static bool region_in_fallback(const struct regions *r, int from, int to)
{
	const struct region_spread *ri = &r->spread[from];
	for (size_t i = 0; i < ri->fallback_count; i++)
		if (ri->fallback[i] == to)
			return true;
	return false;
}

/* The regions that have service, as a list (config order). */
static const uint16_t *service_regions(const struct regions *r,
				       unsigned service, unsigned *count)
{
	*count = r->have_start[service + 1] - r->have_start[service];
	return r->have + r->have_start[service];
}

/* Which regions from's clients of service are drawn among: as for a
 * region that is down, its `fallback:` list first (those with the
 * service, live), else every live region with the service; when all of
 * these are down or drained, every region with it (never no answer). */
static enum region_service_pool service_pool(const struct regions *r,
					     const struct region_shed *shed,
					     unsigned service, int from)
{
	const struct region_spread *ri = &r->spread[from];
	for (size_t i = 0; i < ri->fallback_count; i++)
		if (service_live(r, shed, service, ri->fallback[i]))
			return REGION_POOL_FALLBACK;
	unsigned count;
	const uint16_t *have = service_regions(r, service, &count);
	for (unsigned i = 0; i < count; i++)
		if (!service_drained(shed, have[i]))
			return REGION_POOL_LIVE;
	return REGION_POOL_ALL;
}

// The one membership rule of a pool (the spread and --lookup use it).
static bool service_in_pool(const struct regions *r,
			    const struct region_shed *shed, unsigned service,
			    int from, enum region_service_pool pool, int to)
{
	if (to == from || !region_has_service(r, service, to))
		return false;
	if (pool == REGION_POOL_ALL)
		return true;
	if (service_drained(shed, to))
		return false;
	return pool == REGION_POOL_LIVE || region_in_fallback(r, from, to);
}

bool region_service_candidate(const struct regions *r,
			      const struct region_shed *shed, unsigned service,
			      int from, int to)
{
	enum region_service_pool pool = service_pool(r, shed, service, from);
	return service_in_pool(r, shed, service, from, pool, to);
}

/*
 * The weighted rendezvous draw of region_spread over the pool of
 * from's clients of service (service_pool): the lowest
 * region_spread_score wins, so each candidate gets a share proportional
 * to its capacity, the same on every server of a fleet, and a candidate
 * leaving the pool moves only its own clients. Not inlined: the common
 * path of region_service_choose then spills no register for it.
 */
static __attribute__((noinline)) void service_spread(
	const struct regions *r, const struct region_shed *shed,
	unsigned service, int from, struct region_service_choice *out)
{
	enum region_service_pool pool = service_pool(r, shed, service, from);
	struct spread_draw dr = {.h = out->hash, .best = -1};
	// the pool's members are on from's fallback list or on the
	// service's list: walk that list, testing each
	const struct region_spread *ri = &r->spread[from];
	unsigned count;
	const uint16_t *have = service_regions(r, service, &count);
	size_t n = pool == REGION_POOL_FALLBACK ? ri->fallback_count : count;
	for (size_t i = 0; i < n; i++) {
		int to = pool == REGION_POOL_FALLBACK ? ri->fallback[i]
						      : (int)have[i];
		if (service_in_pool(r, shed, service, from, pool, to))
			spread_draw_offer(r, &dr, to);
	}
	out->pool = (uint8_t)pool;
	out->candidates = dr.count;
	if (dr.best >= 0) // config.c refuses a service with no VIPs anywhere
		out->region = dr.best;
}

void region_service_choose(const struct regions *r,
			   const struct region_shed *shed, unsigned service,
			   const struct region_decision *d,
			   struct region_service_choice *out)
{
	out->region = d->region;
	out->scope = d->scope;
	out->spread = false;
	out->candidates = 0;
	out->hash = 0;
	if (region_has_service(r, service, d->region))
		return; // the common case: nothing else is read
	// like a region that is down for this service: with more than one
	// candidate the answer depends on the hash of the client's first K
	// bits, so no scope shorter than K is truthful
	out->spread = true;
	out->hash = region_shed_hash(r->shed_key, &d->addr, d->shed_k);
	service_spread(r, shed, service, d->region, out);
	if (d->used_ecs && out->candidates > 1 &&
	    d->shed_k + d->offset > out->scope)
		out->scope = (uint8_t)(d->shed_k + d->offset);
}

bool regions_ecs(const struct regions *r)
{
	return r->ecs;
}

const struct geomap *regions_map(const struct regions *r)
{
	return r->map;
}

size_t regions_tree_nodes(const struct regions *r)
{
	return geomap_node_count(r->map);
}

size_t regions_tree_bytes(const struct regions *r)
{
	return geomap_bytes(r->map);
}
