/*
 * src/server.c — worker threads and snapshot publication: one thread and
 * one event_base per worker, start and graceful stop, the SIGUSR1
 * counters, and the RCU-like hand-over of snapshots: one release store
 * publishes, workers load once per batch, and the main thread frees a
 * replaced snapshot only after every worker has passed a quiescent point.
 */
#include "autoconf.h"
#include "server.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "diag.h"
#include "dnstap.h"
#include "log.h"
#include "rrl.h"
#include "snapshot.h"
#include "sockets.h"
#include "worker.h"

#define MAX_WORKERS 256
// How long a stopping worker lets its TCP answers drain.
#define STOP_DRAIN_SECONDS 1
// How often worker 0 logs the RRL counters (when they moved).
#define RRL_LOG_SECONDS 10
// How often the main thread looks whether replaced snapshots can go.
#define REAP_MS 20

static pthread_once_t server_evthread_once = PTHREAD_ONCE_INIT;

static void server_evthread_init(void)
{
	evthread_use_pthreads();
}

/* ---- publication and grace periods --------------------------------- */

/*
 * Runs in the worker between two callbacks, so it holds no snapshot
 * pointer: from here on it can only load the current snapshot or a newer
 * one. The release store orders its earlier reads of older snapshots
 * before the main thread's free.
 */
static void worker_on_quiesce(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	uint64_t gen = worker_snapshot(w)->generation;
	atomic_store_explicit(&w->seen, gen, memory_order_release);
}

// Asks every worker that has not seen the current snapshot to pass a
// quiescent point (once per reload, not per packet).
static void server_request_quiesce(struct server *srv)
{
	uint64_t gen = atomic_load_explicit(&srv->current, memory_order_relaxed)
			       ->generation;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		if (atomic_load_explicit(&w->seen, memory_order_relaxed) < gen)
			event_active(w->quiesce_ev, EV_TIMEOUT, 0);
	}
}

// Frees the retired snapshots no worker can still hold; true if all went.
static bool server_reap(struct server *srv)
{
	uint64_t min = UINT64_MAX;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		uint64_t seen = atomic_load_explicit(&srv->workers[i]->seen,
						     memory_order_acquire);
		if (seen < min)
			min = seen;
	}
	struct snapshot **p = &srv->retired;
	while (*p != NULL) {
		struct snapshot *s = *p;
		if (s->generation < min) {
			*p = s->retired_next;
			log_debug("generation %" PRIu64 " released: every "
				  "worker has moved on",
				  s->generation);
			snapshot_unref(s);
		} else {
			p = &s->retired_next;
		}
	}
	return srv->retired == NULL;
}

static void server_on_reap(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	if (server_reap(srv))
		return;
	server_request_quiesce(srv); // a worker may have missed the news
	struct timeval tv = {0, REAP_MS * 1000};
	evtimer_add(srv->reap_ev, &tv);
}

void server_publish(struct server *srv, struct snapshot *snap)
{
	srv->rrl_used |= snap->rrl != NULL;
	struct snapshot *old =
		atomic_load_explicit(&srv->current, memory_order_relaxed);
	// Everything the loader wrote is visible to a worker's acquire load.
	atomic_store_explicit(&srv->current, snap, memory_order_release);
	old->retired_next = srv->retired;
	srv->retired = old;
	server_request_quiesce(srv);
	struct timeval tv = {0, REAP_MS * 1000};
	evtimer_add(srv->reap_ev, &tv);
}

const struct snapshot *server_current(const struct server *srv)
{
	return atomic_load_explicit(&srv->current, memory_order_relaxed);
}

/* ---- timers and stopping ------------------------------------------- */

// Worker 0, every RRL_LOG_SECONDS: the RRL counters, when they moved.
static void worker_on_rrl_log(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	rrl_table_log_period(w->srv->rrl, RRL_LOG_SECONDS);
}

static void worker_on_resume(evutil_socket_t fd, short what, void *arg)
{
	tcp_resume_listeners(arg);
}

static void worker_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	event_base_loopexit(w->base, NULL);
}

// Runs in the worker: no new work, finish TCP answers for a bounded time.
static void worker_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	w->stopping = true;
	event_del(w->resume_ev);
	tcp_close_listeners(w);
	for (size_t i = 0; i < w->srv->addr_count; i++)
		event_del(w->udp[i].ev);
	tcp_finish_all(w);
	if (w->conns == NULL) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	struct timeval drain = {STOP_DRAIN_SECONDS, 0};
	event_add(w->drain_ev, &drain);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	// Whatever did not drain in time is closed now.
	tcp_free_all(w);
	return NULL;
}

/* ---- set-up and tear-down ------------------------------------------ */

static int worker_open(struct worker *w, size_t i, struct diag *d)
{
	if (udp_open(w, &w->udp[i], &w->srv->addrs[i], d) < 0)
		return -1;
	return tcp_open(w, i, d);
}

static int worker_events(struct worker *w)
{
	w->quiesce_ev = event_new(w->base, -1, 0, worker_on_quiesce, w);
	w->stop_ev = event_new(w->base, -1, 0, worker_on_stop, w);
	w->drain_ev = evtimer_new(w->base, worker_on_drain_timeout, w);
	w->resume_ev = evtimer_new(w->base, worker_on_resume, w);
	w->evict_ev = event_new(w->base, -1, 0, tcp_on_evict_request, w);
	if (!w->quiesce_ev || !w->stop_ev || !w->drain_ev || !w->resume_ev ||
	    !w->evict_ev)
		return -1;
	if (w->id != 0)
		return 0;
	struct timeval every = {RRL_LOG_SECONDS, 0};
	w->rrl_log_ev =
		event_new(w->base, -1, EV_PERSIST, worker_on_rrl_log, w);
	if (w->rrl_log_ev == NULL || event_add(w->rrl_log_ev, &every) < 0)
		return -1;
	return 0;
}

static void worker_close(struct worker *w)
{
	if (w->udp == NULL || w->tcp_fds == NULL || w->tcp_listeners == NULL)
		return;
	tcp_close_listeners(w);
	for (size_t i = 0; i < w->srv->addr_count; i++)
		udp_close(&w->udp[i]);
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_close(w);
	struct event *evs[] = {w->quiesce_ev, w->stop_ev,    w->drain_ev,
			       w->resume_ev,  w->rrl_log_ev, w->evict_ev};
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i] != NULL)
			event_free(evs[i]);
	if (w->base)
		event_base_free(w->base);
	free(w->udp);
	free(w->tcp_fds);
	free(w->tcp_listeners);
	free(w);
}

// A worker with its event loop, not yet bound; NULL when out of memory.
static struct worker *worker_new(struct server *srv, unsigned id)
{
	struct worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->id = id;
	w->udp = calloc(srv->addr_count, sizeof(*w->udp));
	w->tcp_fds = calloc(srv->addr_count, sizeof(*w->tcp_fds));
	w->tcp_listeners = calloc(srv->addr_count, sizeof(*w->tcp_listeners));
	for (size_t i = 0; w->udp && w->tcp_fds && i < srv->addr_count; i++)
		w->udp[i].fd = w->tcp_fds[i] = -1;
	w->base = event_base_new();
	if (w->base == NULL || w->udp == NULL || w->tcp_fds == NULL ||
	    w->tcp_listeners == NULL || worker_events(w) < 0) {
		worker_free(w);
		return NULL;
	}
	return w;
}

static unsigned server_worker_count_for(const struct config *cfg)
{
	long n = cfg->workers;
	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static int server_open_workers(struct server *srv, struct diag *d)
{
	srv->workers = calloc(srv->worker_count, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return -1;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		srv->workers[i] = worker_new(srv, i);
		if (srv->workers[i] == NULL) {
			diag_error(d, srv->config_path, 0,
				   "cannot start "
				   "worker %u: out of memory",
				   i);
			return -1;
		}
		for (size_t a = 0; a < srv->addr_count; a++)
			if (worker_open(srv->workers[i], a, d) < 0)
				return -1;
	}
	return 0;
}

struct server *server_new(const struct config *cfg, struct event_base *base,
			  struct diag *d)
{
	pthread_once(&server_evthread_once, server_evthread_init);
	struct server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		goto nomem;
	srv->config_path = cfg->path;
	srv->notify_fd = -1;
	atomic_init(&srv->tcp_conns, 0);
	atomic_init(&srv->current, NULL);
	srv->addr_count = cfg->listen_count;
	srv->addrs = calloc(cfg->listen_count ? cfg->listen_count : 1,
			    sizeof(*srv->addrs));
	srv->rrl = rrl_table_new();
	srv->reap_ev = evtimer_new(base, server_on_reap, srv);
	if (srv->addrs == NULL || srv->rrl == NULL || srv->reap_ev == NULL)
		goto nomem;
	memcpy(srv->addrs, cfg->listen,
	       cfg->listen_count * sizeof(*srv->addrs));
	srv->workers_configured = cfg->workers;
	srv->worker_count = server_worker_count_for(cfg);

	for (size_t i = 0; i < srv->addr_count; i++)
		if (sockets_probe(&srv->addrs[i], cfg->path, d) < 0)
			goto fail;
	if (server_open_workers(srv, d) < 0) {
		if (diag_errors(d) == 0)
			goto nomem;
		goto fail;
	}
	return srv;
nomem:
	diag_error(d, cfg->path, 0, "cannot start: out of memory");
fail:
	server_free(srv);
	return NULL;
}

unsigned server_workers(const struct server *srv)
{
	return srv->worker_count;
}

void server_set_notify_fd(struct server *srv, int fd)
{
	srv->notify_fd = fd;
}

int server_start(struct server *srv, struct snapshot *snap)
{
	atomic_store_explicit(&srv->current, snap, memory_order_release);
	srv->rrl_used |= snap->rrl != NULL;
	for (unsigned i = 0; i < srv->worker_count; i++)
		atomic_init(&srv->workers[i]->seen, snap->generation);
	// Signals belong to the main thread's event loop, not to workers.
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int rc = 0;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		errno = pthread_create(&w->thread, NULL, worker_main, w);
		if (errno != 0) {
			log_error("cannot start worker %u: %s", i,
				  strerror(errno));
			rc = -1;
			break;
		}
		w->running = true;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

/* ---- what the main thread asks ------------------------------------- */

static bool server_same_addr(const struct config_listen *a,
			     const struct config_listen *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr;
		const struct sockaddr_in *y = (const void *)&b->addr;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->addr;
	const struct sockaddr_in6 *y = (const void *)&b->addr;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

void server_warn_restart(const struct server *srv, const struct config *cfg)
{
	bool same = cfg->listen_count == srv->addr_count;
	for (size_t i = 0; same && i < cfg->listen_count; i++)
		same = server_same_addr(&cfg->listen[i], &srv->addrs[i]);
	if (!same)
		log_warning("%s: listen addresses changed; they take effect "
			    "after a restart",
			    cfg->path);
	if (cfg->workers != srv->workers_configured)
		log_warning("%s: workers changed; it takes effect after a "
			    "restart",
			    cfg->path);
}

void server_attach_dnstap(struct server *srv, struct dnstap *dt)
{
	srv->dnstap = dt;
	for (unsigned i = 0; i < srv->worker_count; i++)
		srv->workers[i]->dnstap =
			dt != NULL ? dnstap_queue(dt, i) : NULL;
}

void server_note_load(struct server *srv, double seconds)
{
	srv->load_seconds = seconds;
}

void server_note_reload(struct server *srv, bool ok)
{
	if (ok)
		srv->reloads_ok++;
	else
		srv->reloads_failed++;
}

// Sum of one counter over the workers (each written by its own thread).
static uint64_t server_sum(const struct server *srv, size_t offset)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		const char *k = (const char *)&srv->workers[i]->counters;
		sum += atomic_load_explicit(
			(const atomic_uint_fast64_t *)(k + offset),
			memory_order_relaxed);
	}
	return sum;
}

#define SUM(field) server_sum(srv, offsetof(struct worker_counters, field))

void server_log_counters(const struct server *srv)
{
	size_t retired = 0;
	for (const struct snapshot *s = srv->retired; s; s = s->retired_next)
		retired++;
	log_info("counters: generation %" PRIu64 " (%zu older awaiting "
		 "release), %u workers; queries: udp %" PRIu64 ", tcp %" PRIu64,
		 server_current(srv)->generation, retired, srv->worker_count,
		 SUM(udp_queries), SUM(tcp_queries));
	log_info("counters: tcp connections: %u open, %" PRIu64
		 " accepted, %" PRIu64 " refused at the cap, %" PRIu64
		 " idle ones evicted "
		 "at the cap; closed: %" PRIu64 " idle, %" PRIu64 " not "
		 "reading, %" PRIu64 " message too slow, %" PRIu64 " lifetime "
		 "over",
		 atomic_load(&srv->tcp_conns), SUM(tcp_accepted),
		 SUM(tcp_refused), SUM(tcp_evicted), SUM(tcp_idle_closed),
		 SUM(tcp_stuck_closed), SUM(tcp_slow_closed),
		 SUM(tcp_aged_closed));
	if (srv->rrl_used)
		rrl_table_log_totals(srv->rrl);
}

void server_stop(struct server *srv)
{
	if (srv == NULL || srv->workers == NULL)
		return;
	for (unsigned i = 0; i < srv->worker_count; i++)
		if (srv->workers[i] != NULL && srv->workers[i]->running)
			event_active(srv->workers[i]->stop_ev, EV_TIMEOUT, 0);
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		if (w == NULL)
			continue;
		if (w->running)
			pthread_join(w->thread, NULL);
		w->running = false;
		worker_close(w);
	}
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	server_stop(srv);
	// Every worker has stopped: no one reads any snapshot now.
	while (srv->retired != NULL) {
		struct snapshot *s = srv->retired;
		srv->retired = s->retired_next;
		snapshot_unref(s);
	}
	snapshot_unref(atomic_load(&srv->current));
	if (srv->rrl_used)
		rrl_table_log_totals(srv->rrl);
	rrl_table_free(srv->rrl);
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		worker_free(srv->workers[i]);
	if (srv->reap_ev != NULL)
		event_free(srv->reap_ev);
	free(srv->workers);
	free(srv->addrs);
	free(srv);
}
