/*
 * src/region.h — from client to region: the client address (ECS or
 * packet source, IPv4 carried in IPv6 unwrapped), one walk of the merged
 * decision tree (geomap.h) for region and scope, load shedding; and, for
 * `--lookup` and the tests, the step-by-step decision it replaces.
 */
#ifndef GEOVIP_REGION_H
#define GEOVIP_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "geo.h"

struct diag;
struct regions;

/** Built once per snapshot from the config and the geo database (the
 *  merged tree, override trees, tables); NULL with a message in d. */
struct regions *regions_build(const struct config *cfg, const struct geo *g,
			      struct diag *d);
void regions_free(struct regions *r);

/** What the query knows about its client. */
struct region_client {
	struct ip_addr source;   /* the packet's source address */
	bool has_ecs;            /* a valid ECS option was sent, ecs on */
	struct ip_addr ecs_addr; /* padded with zero bits */
	uint8_t ecs_source_len;  /* SOURCE PREFIX-LENGTH */
};

/** The whole decision, for the answer and for `--lookup`. */
struct region_decision {
	struct ip_addr addr;    /* address looked up (after unwrapping) */
	uint8_t addr_bits;      /* its meaningful prefix length */
	uint8_t offset;         /* 0, or 16/96 for IPv4 inside IPv6 */
	bool used_ecs;          /* addr came from the ECS option */
	bool ecs_private;       /* ECS address set aside as private */
	int region_before_shed; /* the merged tree's region */
	uint8_t reason;         /* enum geomap_reason: why region_before_shed */
	int region_landed;      /* after health: where a down region's
				   client went (region_before_shed if up) */
	int region;             /* the answer's region */
	bool health_moved;      /* region_before_shed is down: spread */
	bool all_down;          /* every region is down: none moved */
	bool shed;              /* moved by shed (of region_landed) */
	bool shed_suspended;    /* the shed's target is down: not applied */
	bool hashed;            /* the region depends on h: scope >= K */
	bool runtime;           /* moved by a runtime override or health */
	uint8_t shed_k;         /* K of the shed hash */
	uint64_t shed_hash;     /* h, valid when hashed */
	uint8_t leaf_depth;     /* of the merged tree's leaf */
	uint8_t leaf_scope;     /* its merged scope (before shed, offset) */
	uint8_t scope;          /* ECS SCOPE PREFIX-LENGTH to send */
};

/** struct region_shed's `to` for a shed spread over the up regions by
 *  capacity (the region's `fallback:` first), like a down region. */
#define REGION_SPREAD (-2)

/** A region's effective health (after hysteresis) in a snapshot. */
enum region_health {
	REGION_UP = 0,
	REGION_DOWN,         /* its clients spread over the up regions */
	REGION_DOWN_IGNORED, /* down, but so is every region: served */
};

/**
 * One region's state as a snapshot applies it: its shed (the config's
 * `shed:`, or a runtime override superseding it) and its health. A
 * snapshot holds one per region, indexed like cfg->regions; overlay.c
 * builds it (overlay_table).
 */
struct region_shed {
	int to;               /* region index, REGION_SPREAD or REGION_NONE */
	uint16_t bp;          /* percent x 100: 0..10000 */
	uint32_t override_id; /* runtime override, 0: the config's */
	uint8_t health;       /* enum region_health */
};

/** Fills shed[0..cfg->region_count) with the config's `shed:`. */
void region_shed_from_config(const struct config *cfg,
			     struct region_shed *shed);

/**
 * Decides the region for client: one walk of the merged tree; if that
 * region is down, its clients spread over the up regions by capacity
 * (region_spread); then the shed of the region landed in, once, unless
 * its target is down. Every draw uses h = region_shed_hash(key, client,
 * K). Reads only r and shed (no config); pure; never fails.
 */
void region_decide(const struct regions *r, const struct region_shed *shed,
		   const struct region_client *client,
		   struct region_decision *out);

/** The step-by-step decision the merged tree compiles (geo lookup,
 *  network override, country override, continent, default), kept for
 *  `--lookup` and as the tests' reference. */
struct region_explanation {
	struct geo_result geo;
	int network_override; /* index in cfg, or -1 */
	int country_override; /* index in cfg, or -1 */
	enum continent continent;
	int region_before_shed;
	uint8_t reason; /* enum geomap_reason */
	/* the scope the step-by-step rule gives: the mmdb network,
	 * lengthened by public overrides (before shed, without offset) */
	uint8_t network_scope;
	/* why the merged leaf stops: a region found in the neighbouring
	 * prefix, or -1 (an IPv4-carrying prefix beside or inside it) */
	int neighbour_region;
};

/** Explains d (from region_decide, used_ecs or not) step by step. */
void region_explain(const struct regions *r, const struct config *cfg,
		    const struct geo *g, const struct region_decision *d,
		    struct region_explanation *out);

/**
 * A regional A or AAAA RRset pre-encoded at snapshot build: count
 * records of stride bytes, each the owner as a pointer to the question
 * name (0xC00C), type, class IN, TTL 0 (the zone's TTL is patched in at
 * byte REGION_RR_TTL of each), RDLENGTH and one VIP. count 0: NODATA.
 */
struct region_rrset {
	const uint8_t *bytes;
	uint16_t count;
	uint16_t stride;
};
#define REGION_RR_TTL 6

/** The pre-encoded RRset of service (CONFIG_SERVICE_REGIONS, or 1 + an
 *  index in cfg->services) in region, for qtype (TYPE_A or TYPE_AAAA). */
void region_rrset(const struct regions *r, unsigned service, int region,
		  uint16_t qtype, struct region_rrset *out);

/** Whether service has VIPs (of either family) in region. */
bool region_has_service(const struct regions *r, unsigned service, int region);

/** Which regions a missing service's clients are drawn among. */
enum region_service_pool {
	REGION_POOL_FALLBACK, /* the client region's `fallback:` regions
				 that have the service and are live */
	REGION_POOL_LIVE,     /* every live region that has the service */
	REGION_POOL_ALL,      /* every region that has it: none is live */
};

/** Where a name of one service is answered from (region_service_choose). */
struct region_service_choice {
	int region;          /* the answer's region */
	bool spread;         /* the service has no VIPs in the decided region */
	uint8_t pool;        /* enum region_service_pool, if spread */
	unsigned candidates; /* regions the spread chose among */
	uint64_t hash;       /* the spread's h (region_shed_hash), if spread */
	uint8_t scope;       /* ECS scope: the decision's, at least K if spread
			  among more than one region */
};

/**
 * The region that answers for service, given the client's decision d:
 * d->region when the service has VIPs there; else the region the client
 * would get were d->region down, among the regions that have the
 * service: the live ones (neither down nor drained by a 100% shed) of
 * d->region's `fallback:` list when there are any, else every live
 * region with the service (every region with it when none is live);
 * the lowest region_spread_score of h wins (weighted rendezvous by
 * capacity), h being region_shed_hash of the client's first K bits
 * (d->shed_k). Pure; never fails; allocates nothing.
 */
void region_service_choose(const struct regions *r,
			   const struct region_shed *shed, unsigned service,
			   const struct region_decision *d,
			   struct region_service_choice *out);

/** Whether to is among the regions from's clients of service are drawn
 *  among when service has no VIPs in from (region_service_choose). */
bool region_service_candidate(const struct regions *r,
			      const struct region_shed *shed, unsigned service,
			      int from, int to);

/** The config's `ecs` switch, copied for the query path. */
bool regions_ecs(const struct regions *r);

struct geomap;
/** The merged tree (for walking it: the dry run). */
const struct geomap *regions_map(const struct regions *r);

/** Nodes and bytes of the merged tree. */
size_t regions_tree_nodes(const struct regions *r);
size_t regions_tree_bytes(const struct regions *r);

/** The shed hash h of addr truncated to k bits (family byte, K, address). */
uint64_t region_shed_hash(const uint8_t key[16], const struct ip_addr *addr,
			  uint8_t k);

/**
 * Where a client with hash h of region from goes when from is down or
 * spreads its shed: among the candidates (region_spread_candidate), the
 * one with the lowest region_spread_score (weighted rendezvous hashing:
 * each region receives a share proportional to its capacity, and a
 * region going down moves only its own clients). from itself when there
 * is no candidate.
 */
int region_spread(const struct regions *r, const struct region_shed *shed,
		  int from, uint64_t h);
/**
 * The answer region for a client whose merged-tree region is from and
 * whose shed hash is h: region_decide's steps after the walk (health,
 * then shed), for a dry run that knows the leaf already.
 */
int region_decide_hashed(const struct regions *r,
			 const struct region_shed *shed, int from, uint64_t h);
/** region_shed_hash under r's shed key. */
uint64_t regions_hash(const struct regions *r, const struct ip_addr *addr,
		      uint8_t k);

/** Whether to is a candidate for from's clients: up, not from, and in
 *  from's `fallback:` when any region of that list is up. */
bool region_spread_candidate(const struct regions *r,
			     const struct region_shed *shed, int from, int to);
/** -ln(u) / capacity(to), u in (0,1) drawn from h and to's name. */
double region_spread_score(const struct regions *r, uint64_t h, int to);
/** The `capacity:` of region i. */
uint32_t region_capacity(const struct regions *r, int i);
size_t regions_count(const struct regions *r);

#endif
