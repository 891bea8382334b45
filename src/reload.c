/*
 * src/reload.c — reloading on SIGHUP: one loader thread at a time builds
 * the snapshot (snapshot_load), the main loop collects it, logs every
 * diagnostic and publishes it (server_publish) or keeps the old one.
 * A timer starts the same load when DNSSEC signatures are due (re-sign).
 */
#include "autoconf.h"
#include "reload.h"

#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "config.h"
#include "diag.h"
#include "dnssec.h"
#include "geo.h"
#include "log.h"
#include "notify.h"
#include "server.h"
#include "snapshot.h"
#include "zone.h"

/* One load in its own thread. */
struct loader {
	pthread_t thread;
	pthread_mutex_t lock;
	bool done;      // the thread finished (under lock)
	bool abandoned; // nobody waits: the thread frees all
	char *path;
	struct diag *d;
	struct snapshot *snap; // the result, NULL on failure
	double seconds;        // how long the load took
	struct event *done_ev; // main loop: collect the result
};

struct reload {
	char *config_path;
	char *user;       // `user:` at start-up, or NULL
	char *pidfile;    // `pidfile:` at start-up, or NULL
	char *control;    // `control:` at start-up, or NULL
	unsigned verbose; // -v count
	struct server *srv;
	struct event_base *base;
	struct loader *loader;     // the load under way, or NULL
	bool again;                // a SIGHUP arrived during it
	const char *why;           // what asked for the next load
	uint64_t started;          // loads started so far
	reload_prepare_fn prepare; // hooks (reload_set_hooks)
	reload_done_fn done;
	void *hook_arg;
	void (*on_publish)(void *arg, const struct snapshot *s);
	void *on_publish_arg;
	struct event *resign_ev; // dnssec: a reload when signatures are due
};

/* A re-signing that failed is tried again after at most this long. */
#define RESIGN_RETRY_MAX 60

void reload_log_counts(const char *what, const struct snapshot *s)
{
	log_info("%s generation %" PRIu64 ": %zu zones, %zu records, "
		 "%zu regions, geo %s (%zu records)",
		 what, s->generation, zone_set_zone_count(s->zones),
		 zone_set_record_count(s->zones), s->config->region_count,
		 geo_database_type(s->geo), geo_record_count(s->geo));
	uint32_t left = dnssec_set_expiry(s->dnssec);
	int64_t due = dnssec_set_resign_at(s->dnssec) - (int64_t)time(NULL);
	if (left > 0)
		log_info("dnssec: the first signature expires in %" PRIu32
			 " s (%.1f days); re-signing in %" PRId64 " s",
			 left, left / 86400.0, due > 0 ? due : 0);
}

void reload_watch_signatures(struct reload *r, const struct snapshot *s)
{
	int64_t due = dnssec_set_resign_at(s->dnssec);
	if (due == 0) {
		evtimer_del(r->resign_ev);
		return;
	}
	int64_t wait = due - (int64_t)time(NULL);
	if (wait <= 0) {
		// the re-signing of s failed (logged): try again, more often
		// as the expiry nears; s serves meanwhile
		uint32_t left = dnssec_set_expiry(s->dnssec);
		wait = left / 8 < RESIGN_RETRY_MAX ? left / 8
						   : RESIGN_RETRY_MAX;
		if (wait < 1)
			wait = 1;
		log_error("dnssec: re-signing failed; generation %" PRIu64
			  " keeps serving, its first signature expires in "
			  "%" PRIu32 " s; trying again in %" PRId64 " s",
			  s->generation, left, wait);
	}
	struct timeval tv = {.tv_sec = (time_t)wait, .tv_usec = 0};
	evtimer_add(r->resign_ev, &tv);
}

// Main loop: the signatures of the snapshot serving are due.
static void reload_on_resign(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reload_request_for(arg, "dnssec: signatures due for refresh");
}

void reload_apply_log(const struct config *cfg, unsigned verbose)
{
	unsigned level = (unsigned)cfg->log_level + verbose;
	log_set_level(level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG
					      : (enum log_level)level);
	log_set_target((enum log_target)cfg->log_target);
}

void reload_notify_ready(const struct snapshot *s)
{
	notify_send("READY=1\nSTATUS=serving generation %" PRIu64 ": %zu "
		    "zones, %zu records",
		    s->generation, zone_set_zone_count(s->zones),
		    zone_set_record_count(s->zones));
}

static bool reload_same_text(const char *a, const char *b)
{
	return a == NULL || b == NULL ? a == b : strcmp(a, b) == 0;
}

// Sockets, threads, the user and the pid file are set once: say so when a
// reload asks otherwise.
static void reload_warn_restart(const struct reload *r,
				const struct config *cfg)
{
	server_warn_restart(r->srv, cfg);
	if (!reload_same_text(cfg->user, r->user))
		log_warning("%s:%u: user changed; it takes effect after a "
			    "restart",
			    cfg->path, cfg->user_line);
	if (!reload_same_text(cfg->pidfile, r->pidfile))
		log_warning("%s:%u: pidfile changed; it takes effect after a "
			    "restart",
			    cfg->path, cfg->pidfile_line);
	if (!reload_same_text(cfg->control, r->control))
		log_warning("%s:%u: control changed; it takes effect after a "
			    "restart",
			    cfg->path, cfg->control_line);
}

static void reload_loader_free(struct loader *l)
{
	snapshot_unref(l->snap);
	diag_free(l->d);
	free(l->path);
	pthread_mutex_destroy(&l->lock);
	free(l);
}

// The loader thread: builds the snapshot, then hands it to the main loop,
// unless it was abandoned, in which case it frees its own work.
static void *reload_loader_run(void *arg)
{
	struct loader *l = arg;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	l->d = diag_new();
	l->snap = l->d != NULL ? snapshot_load(l->path, l->d) : NULL;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	l->seconds = (double)(t1.tv_sec - t0.tv_sec) +
		     (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	pthread_mutex_lock(&l->lock);
	bool abandoned = l->abandoned;
	l->done = true;
	if (!abandoned)
		event_active(l->done_ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&l->lock);
	if (abandoned)
		reload_loader_free(l);
	return NULL;
}

static void reload_on_loaded(evutil_socket_t fd, short what, void *arg);

// A loader with its completion event; NULL when out of memory.
static struct loader *reload_loader_new(struct reload *r)
{
	struct loader *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->path = strdup(r->config_path);
	l->done_ev = event_new(r->base, -1, 0, reload_on_loaded, r);
	if (l->path == NULL || l->done_ev == NULL) {
		if (l->done_ev != NULL)
			event_free(l->done_ev);
		free(l->path);
		free(l);
		return NULL;
	}
	pthread_mutex_init(&l->lock, NULL);
	return l;
}

// 0 when the load started, -1 (logged) when it could not.
static int reload_start(struct reload *r)
{
	uint64_t gen = server_current(r->srv)->generation;
	struct loader *l = reload_loader_new(r);
	if (l == NULL) {
		log_error("reload failed (out of memory), keeping generation "
			  "%" PRIu64,
			  gen);
		return -1;
	}
	// Signals stay with the main thread's loop.
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int err = pthread_create(&l->thread, NULL, reload_loader_run, l);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (err != 0) {
		log_error("reload failed (cannot start a thread: %s), keeping "
			  "generation %" PRIu64,
			  strerror(err), gen);
		event_free(l->done_ev);
		reload_loader_free(l);
		return -1;
	}
	log_info("%s: reloading %s", r->why ? r->why : "SIGHUP",
		 r->config_path);
	r->why = NULL;
	notify_reloading();
	r->loader = l;
	r->started++;
	return 0;
}

// Main loop: the loader finished; publish, or keep the old set.
static void reload_on_loaded(evutil_socket_t fd, short what, void *arg)
{
	struct reload *r = arg;
	struct loader *l = r->loader;
	r->loader = NULL;
	pthread_join(l->thread, NULL);
	event_free(l->done_ev);
	for (size_t i = 0; l->d != NULL && i < diag_count(l->d); i++)
		log_msg(diag_is_error(l->d, i) ? LOG_LEVEL_ERROR
					       : LOG_LEVEL_WARNING,
			"%s", diag_message(l->d, i));
	if (l->snap == NULL) {
		log_error("reload failed, keeping generation %" PRIu64,
			  server_current(r->srv)->generation);
		server_note_reload(r->srv, false);
		reload_notify_ready(server_current(r->srv));
		reload_watch_signatures(r, server_current(r->srv));
		if (r->done != NULL)
			r->done(r->hook_arg, r->started, NULL, l->d);
	} else {
		struct snapshot *s = l->snap;
		l->snap = NULL;
		if (r->prepare != NULL) {
			struct snapshot *p = r->prepare(r->hook_arg, s);
			if (p != NULL)
				s = p;
		}
		reload_apply_log(s->config, r->verbose);
		server_publish(r->srv, s); // the server owns it now
		server_note_reload(r->srv, true);
		server_note_load(r->srv, l->seconds);
		reload_log_counts("reloaded", s);
		reload_watch_signatures(r, s);
		if (r->on_publish != NULL)
			r->on_publish(r->on_publish_arg, s);
		reload_warn_restart(r, s->config);
		reload_notify_ready(s);
		if (r->done != NULL)
			r->done(r->hook_arg, r->started, s, l->d);
	}
	reload_loader_free(l);
	if (r->again) {
		r->again = false;
		// a waiter for the next load hears that it never started
		if (reload_start(r) < 0 && r->done != NULL)
			r->done(r->hook_arg, r->started + 1, NULL, NULL);
	}
}

struct reload *reload_new(const char *config_path, struct server *srv,
			  struct event_base *base, const struct config *start,
			  unsigned verbose)
{
	struct reload *r = calloc(1, sizeof(*r));
	if (r == NULL)
		return NULL;
	r->srv = srv;
	r->base = base;
	r->verbose = verbose;
	r->config_path = strdup(config_path);
	r->user = start->user != NULL ? strdup(start->user) : NULL;
	r->pidfile = start->pidfile != NULL ? strdup(start->pidfile) : NULL;
	r->control = start->control != NULL ? strdup(start->control) : NULL;
	r->resign_ev = evtimer_new(base, reload_on_resign, r);
	if (r->config_path == NULL || r->resign_ev == NULL ||
	    (start->user != NULL && r->user == NULL) ||
	    (start->pidfile != NULL && r->pidfile == NULL) ||
	    (start->control != NULL && r->control == NULL)) {
		reload_free(r);
		return NULL;
	}
	return r;
}

void reload_set_hooks(struct reload *r, reload_prepare_fn prepare,
		      reload_done_fn done, void *arg)
{
	r->prepare = prepare;
	r->done = done;
	r->hook_arg = arg;
}

uint64_t reload_request(struct reload *r)
{
	// Activating the done event is the loader's job: a SIGHUP during a
	// load only asks for one more after it.
	if (r->loader != NULL) {
		r->again = true;
		return r->started + 1;
	}
	return reload_start(r) == 0 ? r->started : 0;
}

void reload_request_for(struct reload *r, const char *why)
{
	if (r->loader == NULL)
		r->why = why;
	reload_request(r);
}

void reload_set_on_publish(struct reload *r,
			   void (*fn)(void *arg, const struct snapshot *s),
			   void *arg)
{
	r->on_publish = fn;
	r->on_publish_arg = arg;
}

void reload_abandon(struct reload *r)
{
	struct loader *l = r->loader;
	if (l == NULL)
		return;
	r->loader = NULL;
	r->again = false;
	pthread_t thread = l->thread;
	pthread_mutex_lock(&l->lock);
	bool done = l->done;
	l->abandoned = !done;
	pthread_mutex_unlock(&l->lock);
	// Not done: the thread no longer touches done_ev, and l is its own.
	event_free(l->done_ev);
	if (done) {
		pthread_join(thread, NULL);
		reload_loader_free(l);
		return;
	}
	log_info("abandoning the reload under way");
	pthread_detach(thread);
}

void reload_free(struct reload *r)
{
	if (r == NULL)
		return;
	reload_abandon(r);
	if (r->resign_ev != NULL)
		event_free(r->resign_ev);
	free(r->config_path);
	free(r->user);
	free(r->pidfile);
	free(r->control);
	free(r);
}
