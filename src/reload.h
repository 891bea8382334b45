/*
 * src/reload.h — SIGHUP: a new snapshot built in a loader thread while the
 * main loop keeps taking signals, then published to the server; SIGHUPs
 * during a load fold into one more; SIGTERM abandons a load under way.
 * DNSSEC signatures due for refresh start the same kind of load.
 */
#ifndef GEOVIP_RELOAD_H
#define GEOVIP_RELOAD_H

#include <stdint.h>

struct config;
struct diag;
struct event_base;
struct server;
struct snapshot;
struct reload;

/**
 * A reloader for config_path publishing to srv; base is the main thread's
 * loop (where results are collected), start the configuration of start-up
 * (its `user:` and `pidfile:` need a restart to change), verbose the count
 * of -v flags (log levels above `log_level:`). NULL when out of memory.
 */
struct reload *reload_new(const char *config_path, struct server *srv,
			  struct event_base *base, const struct config *start,
			  unsigned verbose);

/** Applies `log:` and `log_level:` of cfg, raised by verbose levels. */
void reload_apply_log(const struct config *cfg, unsigned verbose);

/** Tells the service manager (sd_notify) that s is serving. */
void reload_notify_ready(const struct snapshot *s);

/**
 * Main loop, for each loaded snapshot s before it is published: returns
 * the snapshot to publish instead (taking over s's reference), e.g. s
 * with the runtime overrides applied (overlay.c); NULL keeps s.
 */
typedef struct snapshot *(*reload_prepare_fn)(void *arg, struct snapshot *s);

/**
 * Main loop, when load number seq has finished: published is the
 * snapshot now serving (NULL: the load failed), d every diagnostic.
 */
typedef void (*reload_done_fn)(void *arg, uint64_t seq,
			       const struct snapshot *published,
			       const struct diag *d);

/** Sets the hooks (either may be NULL), called with arg. */
void reload_set_hooks(struct reload *r, reload_prepare_fn prepare,
		      reload_done_fn done, void *arg);

/**
 * SIGHUP: starts a load, or asks for one more after the one under way.
 * Returns the number of the load that will cover this request (the done
 * hook reports it), or 0 if no load could be started (logged).
 */
uint64_t reload_request(struct reload *r);

/** The same, logged as caused by why ("zone transfer"). */
void reload_request_for(struct reload *r, const char *why);

/** fn(arg, s) runs on the main thread after each snapshot s is published
 *  (xfr.c takes the secondary zones' serials from it). */
void reload_set_on_publish(struct reload *r,
			   void (*fn)(void *arg, const struct snapshot *s),
			   void *arg);

/**
 * Stopping: a load under way is left to finish and free itself in its
 * thread (nothing waits for it); its result is never published.
 */
void reload_abandon(struct reload *r);

/** Abandons any load under way and frees r. */
void reload_free(struct reload *r);

/**
 * Arms the DNSSEC re-signing timer for s, the snapshot serving (at
 * start-up; reload.c calls it after each load): when s's signatures are
 * due (dnssec_set_resign_at), a reload in the background, published like
 * any; past due (the re-signing failed), another try within a minute.
 */
void reload_watch_signatures(struct reload *r, const struct snapshot *s);

/** Logs "WHAT generation N: counts of zones, records, regions, geo". */
void reload_log_counts(const char *what, const struct snapshot *s);

#endif
