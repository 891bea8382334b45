/*
 * src/snapshot.h — one immutable bundle of everything a query reads:
 * config, zones, geo data and region tables. A reload builds a whole new
 * snapshot off the query path; server.c publishes it to the workers and
 * frees the old one on the main thread once every worker has moved on.
 */
#ifndef GEOVIP_SNAPSHOT_H
#define GEOVIP_SNAPSHOT_H

#include <stdatomic.h>
#include <stdint.h>

#include "cookie.h"

struct config;
struct zone_set;
struct geo;
struct regions;
struct rrl_policy;
struct chaos;
struct dnssec_set;
struct diag;
struct region_shed;
struct snapshot_base;

/*
 * Everything above `base` belongs to a base shared (with a reference
 * count) by every snapshot made from one load: an overlay generation
 * (snapshot_overlay) has its own shed table, generation and references.
 */
struct snapshot {
	struct config *config;
	struct zone_set *zones;
	struct geo *geo;
	struct regions *regions;
	struct rrl_policy *rrl; /* NULL: rate limiting off */
	struct chaos *chaos;    /* CH TXT answers and NSID, pre-encoded */
	struct cookie_secrets
		cookies;           /* configured, or the process's random one */
	struct dnssec_set *dnssec; /* signed data of zones with `dnssec:` */
	struct snapshot_base *base; /* owns the parts above */
	/* per generation */
	struct region_shed *shed; /* one per region (region_decide) */
	uint64_t generation;      /* 1, 2, ... in load order */
	int64_t loaded_at;        /* wall clock of the load (seconds) */
	atomic_uint refs;
	struct snapshot *retired_next; /* server.c: replaced, not yet freed */
};

/**
 * Loads config_path, its zones and geo database. Returns a snapshot with
 * one reference, or NULL with every problem recorded in d.
 */
struct snapshot *snapshot_load(const char *config_path, struct diag *d);

/**
 * A new generation sharing s's loaded parts (nothing is reloaded) with
 * the shed table shed (s->config->region_count entries, copied). One
 * reference; NULL when out of memory.
 */
struct snapshot *snapshot_overlay(const struct snapshot *s,
				  const struct region_shed *shed);

void snapshot_ref(struct snapshot *s);
/** Drops a reference; frees the snapshot when it was the last. */
void snapshot_unref(struct snapshot *s);

#endif
