/*
 * src/region.h — from client to region: the client address (ECS or
 * packet source, IPv4 carried in IPv6 unwrapped), network and country
 * overrides, continent → region, load shedding, and the ECS scope that
 * makes the choice cacheable without ever claiming too much.
 */
#ifndef GEOVIP_REGION_H
#define GEOVIP_REGION_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "geo.h"

struct diag;
struct regions;

/** Built once per snapshot from the config (override trees, tables). */
struct regions *regions_build(const struct config *cfg, struct diag *d);
void regions_free(struct regions *r);

/** What the query knows about its client. */
struct region_client {
	struct ip_addr source;          /* the packet's source address */
	bool has_ecs;                   /* a valid ECS option was sent, ecs on */
	struct ip_addr ecs_addr;        /* padded with zero bits */
	uint8_t ecs_source_len;         /* SOURCE PREFIX-LENGTH */
};

/** The whole decision, for the answer and for `--lookup`. */
struct region_decision {
	struct ip_addr addr;            /* address looked up (after unwrapping) */
	uint8_t addr_bits;              /* its meaningful prefix length */
	uint8_t offset;                 /* 0, or 16/96 for IPv4 inside IPv6 */
	bool used_ecs;                  /* addr came from the ECS option */
	bool ecs_private;               /* ECS address set aside as private */
	struct geo_result geo;
	int network_override;           /* index in cfg, or -1 */
	int country_override;           /* index in cfg, or -1 */
	enum continent continent;
	int region_before_shed;
	int region;                     /* the answer's region */
	bool shed;                      /* moved by shed */
	uint8_t shed_k;                 /* K of the shed hash */
	uint64_t shed_hash;             /* h, valid when the region sheds */
	uint8_t scope;                  /* ECS SCOPE PREFIX-LENGTH to send */
};

/**
 * One region's shed as a snapshot applies it: the config's `shed:`, or a
 * runtime override (overlay.c) superseding it. A snapshot holds one per
 * region, indexed like cfg->regions.
 */
struct region_shed {
	int to;                         /* region index, or REGION_NONE */
	uint16_t bp;                    /* percent x 100: 0..10000 */
	uint32_t override_id;           /* runtime override, 0: the config's */
};

/** Fills shed[0..cfg->region_count) with the config's `shed:`. */
void region_shed_from_config(const struct config *cfg,
			     struct region_shed *shed);

/**
 * Decides the region for client, shedding by shed[] (one per region; see
 * struct region_shed). Pure; never fails.
 */
void region_decide(const struct regions *r, const struct config *cfg,
		   const struct region_shed *shed, const struct geo *g,
		   const struct region_client *client,
		   struct region_decision *out);

/** The shed hash h of addr truncated to k bits (family byte, K, address). */
uint64_t region_shed_hash(const uint8_t key[16], const struct ip_addr *addr,
			  uint8_t k);

#endif
