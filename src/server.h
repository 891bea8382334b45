/*
 * src/server.h — the serving side of the daemon: worker threads, each
 * with its own event loop and sockets (see udp.c, tcp.c, sockets.c), and
 * the publication of snapshots to them (RCU-like: one atomic store to
 * publish, old snapshots freed on the main thread after a grace period).
 */
#ifndef GEOVIP_SERVER_H
#define GEOVIP_SERVER_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct diag;
struct event_base;
struct snapshot;
struct server;

/**
 * Binds UDP and TCP sockets for every listen address of cfg, one set per
 * worker. base is the main thread's event loop, where old snapshots are
 * freed. On failure records "FILE:LINE: cannot bind ADDR/PROTO: reason"
 * (the listen entry's line) in d and returns NULL, nothing left bound.
 */
struct server *server_new(const struct config *cfg, struct event_base *base,
			  struct diag *d);

/** The number of worker threads (config `workers`, or online CPUs). */
unsigned server_workers(const struct server *srv);

/**
 * Starts the worker threads serving snap; the server takes over the
 * caller's reference. Returns 0, or -1 (logged) if a thread could not
 * start.
 */
int server_start(struct server *srv, struct snapshot *snap);

/**
 * Publishes snap (the server takes over the caller's reference): workers
 * answer from it from their next packet on. The snapshot it replaces is
 * freed later on the main thread's loop, once every worker has passed a
 * quiescent point. Main thread only.
 */
void server_publish(struct server *srv, struct snapshot *snap);

/** The snapshot published last (main thread only). */
const struct snapshot *server_current(const struct server *srv);

/**
 * Logs a warning for each setting of cfg that a reload cannot apply
 * (listen addresses, workers): sockets and threads are made once.
 */
void server_warn_restart(const struct server *srv, const struct config *cfg);

/**
 * Where workers hand UDP NOTIFY messages (opcode 4): xfr.c's pipe, as
 * struct xfr_notify_msg. Set before server_start; -1 (the default) keeps
 * answering NOTIMP.
 */
void server_set_notify_fd(struct server *srv, int fd);
struct dnstap;
/** Hands each worker its dnstap queue (before server_start; dt may be
 *  NULL). The caller frees dt after server_free. */
void server_attach_dnstap(struct server *srv, struct dnstap *dt);

/** Records how long the generation just published took to load. */
void server_note_load(struct server *srv, double seconds);
/** Counts a reload that published (ok) or kept the old generation. */
void server_note_reload(struct server *srv, bool ok);

/** Logs the counters (SIGUSR1): queries, TCP connections, RRL. */
void server_log_counters(const struct server *srv);

/** Graceful stop: stop accepting, finish or close TCP, join the workers. */
void server_stop(struct server *srv);
/** Stops if needed and frees everything, snapshots included. */
void server_free(struct server *srv);

#endif
