/*
 * src/overlay.h — runtime overrides, local (geovipctl) and fleet (etcd),
 * and region health reports (local and fleet, with hysteresis): lists
 * kept on the main thread, applied as a new generation sharing the loaded
 * parts, expired by a timer, local ones kept in a state file, audited.
 */
#ifndef GEOVIP_OVERLAY_H
#define GEOVIP_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct event_base;
struct server;
struct snapshot;
struct overlay;
struct region_shed;

/** Longest region name and reason an override holds. */
#define OVERLAY_NAME_MAX 63
#define OVERLAY_REASON_MAX 200
/** Most overrides at once (one per region, and regions are few). */
#define OVERLAY_MAX 256
/** Longest etcd key and `who` of a fleet override. */
#define OVERLAY_KEY_MAX 255
#define OVERLAY_WHO_MAX 63

/** Where an override comes from. */
enum overlay_source {
	OVERLAY_LOCAL =
		0, /* geovipctl on this server: kept in the state file */
	OVERLAY_FLEET = 1, /* etcd (fleet.c): not kept; etcd is the record */
};

struct overlay_entry {
	uint32_t id;                     /* 1, 2, ...: never reused */
	char from[OVERLAY_NAME_MAX + 1]; /* the region shedding */
	char to[OVERLAY_NAME_MAX + 1];   /* the region receiving, or "" */
	bool spread;        /* to is "": over the up regions by capacity */
	uint16_t bp;        /* percent x 100: 1..10000 */
	bool drain;         /* written as `drain` */
	int64_t created_ms; /* wall clock, ms since the epoch */
	int64_t expires_ms;
	unsigned long uid; /* who: the peer uid of the socket */
	char reason[OVERLAY_REASON_MAX + 1];
	enum overlay_source source;
	char key[OVERLAY_KEY_MAX + 1]; /* fleet: the etcd key */
	char who[OVERLAY_WHO_MAX + 1]; /* fleet: who wrote it */
};

/**
 * The overlay for srv on the main loop base; state_path (may be NULL:
 * nothing kept) is read now: expired or unreadable entries are logged and
 * dropped. NULL when out of memory.
 */
struct overlay *overlay_new(struct server *srv, struct event_base *base,
			    const char *state_path);
/** The overrides and health of state_path, to apply (overlay_apply)
 *  and nothing else: for `geovipd --lookup`. NULL when out of memory. */
struct overlay *overlay_read(const char *state_path);
void overlay_free(struct overlay *ov);

/**
 * s with the overrides applied: a new generation sharing s's parts (s's
 * reference passes to it), or s itself when no override applies or
 * memory runs out (logged). Entries naming a region s does not have are
 * skipped with a warning.
 */
struct snapshot *overlay_apply(struct overlay *ov, struct snapshot *s);

/**
 * Adds e (its id is assigned and written back), saves, publishes a new
 * generation and logs the audit line. 0, or -1 (logged) with nothing
 * changed.
 */
int overlay_add(struct overlay *ov, struct overlay_entry *e);

/** Removes local override id (audit line by uid): 0, -1 when there is
 *  none (a fleet override is removed in etcd, not here). */
int overlay_undo(struct overlay *ov, uint32_t id, unsigned long uid);

/**
 * Replaces every fleet override by the n in e (source, key, who, from,
 * to, bp, drain, expires_ms, reason set; ids and created_ms are assigned
 * here, kept for an entry unchanged since the last call), audits each
 * addition and removal, and publishes a new generation when anything
 * changed. Fleet entries sit before the local ones, so a local override
 * of the same region wins on this server. 0, or -1 (logged) with nothing
 * changed.
 */
int overlay_fleet_set(struct overlay *ov, const struct overlay_entry *e,
		      size_t n);

/** The active overrides, fleet ones first, then local ones oldest first. */
size_t overlay_count(const struct overlay *ov);
const struct overlay_entry *overlay_get(const struct overlay *ov, size_t i);
/** The override for region name from, or NULL. */
const struct overlay_entry *overlay_find(const struct overlay *ov,
					 const char *from);

/*
 * Health. A region's effective state changes when a report of the other
 * state has been repeated `health.reports` times in a row, or has held
 * for `health.hold_down` (the live config's; 0 turns a condition off;
 * both 0: at once). A report of the effective state cancels a pending
 * change. Each region has a local state (geovipctl health; kept only
 * while down or pending) and a fleet state (etcd; kept while its key
 * exists, with the revision counted); it is down when either is down.
 */
struct overlay_health {
	char region[OVERLAY_NAME_MAX + 1];
	bool down;          /* effective */
	unsigned pending;   /* reports of !down in a row; 0: none */
	int64_t pending_ms; /* the first of them, wall clock ms */
	int64_t changed_ms; /* when down last took effect */
	unsigned long uid;  /* local: who sent the last report */
	char reason[OVERLAY_REASON_MAX + 1];
	enum overlay_source source;    /* one state per region and source */
	char key[OVERLAY_KEY_MAX + 1]; /* fleet: the etcd key counted */
	char who[OVERLAY_WHO_MAX + 1]; /* fleet: who wrote the change */
	int64_t revision;   /* fleet: the key's mod_revision counted */
	int64_t expires_ms; /* fleet: the value's `expires`, or 0 */
};

/** What overlay_health_report did. */
enum overlay_health_result {
	OVERLAY_HEALTH_UNCHANGED, /* the region already was in that state */
	OVERLAY_HEALTH_PENDING,   /* recorded; waiting for hysteresis */
	OVERLAY_HEALTH_EFFECTIVE, /* took effect: new generation published */
};

/**
 * A local health report (geovipctl health) for region name: hysteresis
 * applied, saved, audited, published when it takes effect. The enum
 * overlay_health_result, or -1 (logged) with nothing changed. A region
 * the config lacks is kept but not applied (like overrides).
 */
int overlay_health_report(struct overlay *ov, const char *region, bool down,
			  unsigned long uid, const char *reason);

/** One region's health as the fleet's keys say it (fleet.c). */
struct overlay_fleet_health {
	char region[OVERLAY_NAME_MAX + 1];
	bool down;
	char key[OVERLAY_KEY_MAX + 1];
	char who[OVERLAY_WHO_MAX + 1];
	char reason[OVERLAY_REASON_MAX + 1]; /* "" when the value has none */
	int64_t revision;                    /* the key's mod_revision */
	int64_t expires_ms;                  /* 0: none */
};

/**
 * The fleet's health := the n values in r (one per region; fleet.c
 * leaves out expired ones). A value whose key and revision were counted
 * already (a resync, a restart with the state file) changes nothing;
 * any other is one report of its state, with the same hysteresis as a
 * local report. A region with fleet state and no value here (its key
 * deleted or expired) loses its fleet state at once. Audited, saved,
 * published when the effective state changes. 0, or -1 (logged).
 */
int overlay_fleet_health_set(struct overlay *ov,
			     const struct overlay_fleet_health *r, size_t n);
/** Whether the live config has region name. */
bool overlay_region_known(const struct overlay *ov, const char *name);
/** Drops every fleet health state (the config has no `fleet:`),
 *  logged and saved; nothing is published (call before serving). */
void overlay_fleet_forget(struct overlay *ov);

/** Health states, local and fleet ones, in the order they were made. */
size_t overlay_health_count(const struct overlay *ov);
const struct overlay_health *overlay_health_get(const struct overlay *ov,
						size_t i);
/** The local health kept for region, or NULL (up, nothing pending). */
const struct overlay_health *overlay_health_find(const struct overlay *ov,
						 const char *region);
/** The health of region kept for source, or NULL. */
const struct overlay_health *overlay_health_find_from(
	const struct overlay *ov, const char *region,
	enum overlay_source source);
/** When the pending change of h takes effect by hold-down, or -1. */
int64_t overlay_health_due_ms(const struct overlay *ov,
			      const struct overlay_health *h);

/** A change as a dry run describes it (nothing is changed). */
struct overlay_change {
	enum {
		OVERLAY_CHANGE_ADD,
		OVERLAY_CHANGE_UNDO,
		OVERLAY_CHANGE_HEALTH
	} kind;
	struct overlay_entry add; /* ADD */
	uint32_t undo_id;         /* UNDO */
	const char *region;       /* HEALTH: its state once effective */
	bool down;
	bool fleet; /* HEALTH: the fleet's state changes, not the local */
};

/**
 * The per-region table (cfg->region_count entries) for cfg: its `shed:`,
 * the overrides on top (a fleet one shadowed by a local one of the same
 * region), the effective health (down when the local or the fleet state
 * says down), with change applied when
 * not NULL (a health change as if hysteresis had passed). Nothing is
 * changed or logged. When every region is down, each is
 * REGION_DOWN_IGNORED (served as if up); returns 1 then, else 0.
 */
int overlay_table(const struct overlay *ov, const struct config *cfg,
		  const struct overlay_change *change,
		  struct region_shed *table);

/** "2026-11-29T17:30:05Z" for ms into buf (at least 24 bytes). */
void overlay_time_text(int64_t ms, char *buf, size_t len);
/** The wall clock in ms since the epoch. */
int64_t overlay_now_ms(void);

#endif
