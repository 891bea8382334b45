/*
 * src/overlay.h — runtime overrides, local (geovipctl) and fleet (etcd): one
 * list on the main thread, applied as a new generation sharing the loaded
 * parts, expired by a timer, local ones kept in a state file, audited.
 */
#ifndef GEOVIP_OVERLAY_H
#define GEOVIP_OVERLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct server;
struct snapshot;
struct overlay;

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
	char to[OVERLAY_NAME_MAX + 1];   /* the region receiving */
	uint16_t bp;                     /* percent x 100: 1..10000 */
	bool drain;                      /* written as `drain` */
	int64_t created_ms;              /* wall clock, ms since the epoch */
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

/** "2026-11-29T17:30:05Z" for ms into buf (at least 24 bytes). */
void overlay_time_text(int64_t ms, char *buf, size_t len);
/** The wall clock in ms since the epoch. */
int64_t overlay_now_ms(void);

#endif
