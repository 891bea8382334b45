/*
 * src/worker.h — the state that server.c, udp.c and tcp.c share (not for
 * the rest of the daemon): one struct worker per serving thread, each
 * with its own event_base, sockets, buffers and counters, and the server
 * that owns the workers and the published snapshot.
 */
#ifndef GEOVIP_WORKER_H
#define GEOVIP_WORKER_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include <event2/util.h>

#include "metrics.h"
#include "query.h"

struct config;
struct config_listen;
struct diag;
struct dnstap;
struct dnstap_queue;
struct event;
struct event_base;
struct evconnlistener;
struct rrl_table;
struct snapshot;
struct tcp_conn;

// At most this many UDP packets per socket per wake-up, so one busy
// socket cannot starve the others served by the same worker.
#define UDP_BATCH 32 /* datagrams per recvmmsg/sendmmsg */

struct udp_sock {
	struct worker *w;
	int fd;
	bool pktinfo; // wildcard address: reply from the query's address
	int family;
	struct event *ev;
};

union udp_control {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/*
 * One datagram of a batch. Requests get a full 64 KiB so no query is ever
 * cut short (untouched pages cost nothing); no UDP answer exceeds 1232.
 */
struct udp_slot {
	struct sockaddr_storage from;
	union udp_control cin, cout;
	struct iovec in_iov, out_iov;
	uint8_t req[65536];
	uint8_t resp[QUERY_UDP_BUFFER_SIZE];
};

/* recvmmsg/sendmmsg vectors: one system call each way per batch. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct udp_slot slot[UDP_BATCH];
};

/*
 * Counters a worker alone writes (a plain load and a relaxed store, never
 * a read-modify-write) and the main thread reads for SIGUSR1.
 */
struct worker_counters {
	atomic_uint_fast64_t udp_queries, tcp_queries;
	atomic_uint_fast64_t tcp_accepted, tcp_refused, tcp_evicted;
	atomic_uint_fast64_t tcp_idle_closed; // nothing arrived for the timeout
	atomic_uint_fast64_t
		tcp_stuck_closed; // answers not read for the timeout
	atomic_uint_fast64_t tcp_slow_closed; // a message took longer than it
	atomic_uint_fast64_t tcp_aged_closed; // the connection lifetime ended
};

/* Adds n to a counter only this thread writes: no atomic RMW. */
static inline void worker_count(atomic_uint_fast64_t *c, uint64_t n)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + n, memory_order_relaxed);
}

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	bool running;
	struct event_base *base;

	// The generation of the newest snapshot this worker had loaded at
	// its last quiescent point (between two event callbacks): it holds
	// no pointer to any older snapshot. Written by this worker only.
	atomic_uint_fast64_t seen;
	struct event *quiesce_ev; // activated by the main thread
	struct event *stop_ev;
	struct event *drain_ev;
	struct event *resume_ev;  // re-enables listeners after accept errors
	struct event *rrl_log_ev; // worker 0 only: the RRL period line
	uint64_t rrl_now;         // ms; read once per UDP batch, 0: not yet
	bool stopping;

	struct udp_sock *udp; // one per listen address
	int *tcp_fds;         // one per listen address
	struct evconnlistener **tcp_listeners;
	struct tcp_conn *conns;     // most recently active first
	atomic_uint conn_count;     // this worker's, written by it only
	atomic_uint evict_requests; // from other workers at the cap
	struct event *evict_ev;     // activated by another worker
	struct worker_counters counters;
	struct metrics_counters metrics; // answers by kind (metrics.h)
	struct dnstap_queue *dnstap;     // NULL: dnstap off

	struct udp_batch udp_batch;
	uint8_t req[65536];
	uint8_t resp[2 + QUERY_BUFFER_SIZE]; // room for the TCP length prefix
};

struct server {
	const char *config_path;     // for FILE:LINE in start-up errors
	struct config_listen *addrs; // the one copy of the listen addresses
	size_t addr_count;
	unsigned workers_configured; // `workers:` as written (0: CPUs)
	unsigned worker_count;
	struct worker **workers;
	atomic_uint tcp_conns; // over every worker and address
	// One bucket table for all workers: SO_REUSEPORT spreads one
	// network's packets over every worker.
	struct rrl_table *rrl;
	bool rrl_used; // some snapshot had RRL on (main thread)

	// Publication: the main thread stores (release), workers load
	// (acquire) once per batch or message.
	_Atomic(struct snapshot *) current;
	struct snapshot *retired; // replaced, perhaps still read (main thread)
	int notify_fd; // xfr.c's NOTIFY pipe, -1 none (set before start)
	struct event *reap_ev; // main thread's base

	struct dnstap *dnstap; // NULL: off; set before the start

	// Loads, for metrics (main thread only).
	uint64_t reloads_ok, reloads_failed;
	double load_seconds; // of the generation served
};

/** The snapshot to answer from: one acquire load. */
static inline struct snapshot *worker_snapshot(const struct worker *w)
{
	return atomic_load_explicit(&w->srv->current, memory_order_acquire);
}

/* ---- udp.c --------------------------------------------------------- */

/**
 * Opens the UDP socket of worker w for listen address a and registers it
 * with the worker's event loop. Problems go to d as FILE:LINE.
 */
int udp_open(struct worker *w, struct udp_sock *u,
	     const struct config_listen *a, struct diag *d);
void udp_close(struct udp_sock *u);

/* ---- tcp.c --------------------------------------------------------- */

/** Runs in w when another worker at the cap asks for an idle slot. */
void tcp_on_evict_request(evutil_socket_t fd, short what, void *arg);
/** Opens and registers the TCP listener of w for address index i. */
int tcp_open(struct worker *w, size_t i, struct diag *d);
/** Closes w's listeners (the stop path: no new connections). */
void tcp_close_listeners(struct worker *w);
/** Re-enables w's listeners after an accept error pause. */
void tcp_resume_listeners(struct worker *w);
/** Stops reading every connection of w; each closes once answered. */
void tcp_finish_all(struct worker *w);
/** Closes every connection of w at once. */
void tcp_free_all(struct worker *w);

#endif
