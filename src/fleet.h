/*
 * src/fleet.h — fleet-wide overrides through etcd (`fleet:`): the prefix
 * read and watched over etcd's v3 JSON gateway on the main loop, each
 * valid value applied as a fleet override of the overlay.
 */
#ifndef GEOVIP_FLEET_H
#define GEOVIP_FLEET_H

#include <stddef.h>

struct config;
struct diag;
struct event_base;
struct overlay;
struct fleet;

/** Most keys under the prefix that are read; more are logged and left. */
#define FLEET_KEYS_MAX 256

/**
 * Starts watching cfg's `fleet:` (NULL and nothing done when cfg has
 * none: check cfg->fleet.line) from the main loop base, applying what it
 * finds to ov. The first connection is made from the loop; an etcd that
 * cannot be reached is logged and retried with backoff, never an error
 * here. NULL with the problem recorded in d (out of memory).
 */
struct fleet *fleet_new(const struct config *cfg, struct overlay *ov,
			struct event_base *base, struct diag *d);

/**
 * One line for `geovipctl status` into buf: "fleet PREFIX/ etcd URL
 * watching at revision R, K key(s)", or "... unreachable since T ...", or
 * "... not read yet". f may be NULL (no fleet: an empty line).
 */
void fleet_status(const struct fleet *f, char *buf, size_t len);

/** Closes the connection; the fleet overrides stay in the overlay. */
void fleet_free(struct fleet *f);

#endif
