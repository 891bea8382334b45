/*
 * src/listen.h — the network side: sockets and libevent. Binds every
 * listen address for UDP and TCP, runs one event loop per worker thread,
 * frames TCP (RFC 7766: pipelining, idle timeout, connection cap), and
 * hands each message to query_process with the worker's snapshot.
 */
#ifndef GEOVIP_LISTEN_H
#define GEOVIP_LISTEN_H

#include <stddef.h>

struct config;
struct snapshot;
struct server;

/**
 * Binds UDP and TCP sockets for every listen address of cfg. On failure
 * writes one line naming the address and the reason into err and returns
 * NULL (nothing is left bound).
 */
struct server *server_new(const struct config *cfg, char *err, size_t errlen);

/** The number of worker threads (config `workers`, or online CPUs). */
unsigned server_workers(const struct server *srv);

/** Starts the worker threads serving snap (each worker takes a reference). */
int server_start(struct server *srv, struct snapshot *snap);

/**
 * Hands snap to every worker; each switches between two messages and drops
 * its reference to the snapshot it served before. Callable from the main
 * thread while workers serve.
 */
void server_publish(struct server *srv, struct snapshot *snap);

/** Graceful stop: stop accepting, finish or close TCP, join the workers. */
void server_stop(struct server *srv);
void server_free(struct server *srv);

#endif
