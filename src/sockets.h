/*
 * src/sockets.h — listen sockets: one bound, non-blocking socket per
 * address, protocol and worker (SO_REUSEPORT shares the port), and the
 * probe that refuses a port someone else already holds.
 */
#ifndef GEOVIP_SOCKETS_H
#define GEOVIP_SOCKETS_H

#include <stdbool.h>

struct config_listen;
struct diag;

/**
 * Binds a once for UDP and for TCP without SO_REUSEPORT and lets go: if
 * anyone holds the port (even another SO_REUSEPORT server), records
 * "FILE:LINE: cannot bind ADDR/PROTO: reason" in d and returns -1.
 */
int sockets_probe(const struct config_listen *a, const char *file,
		  struct diag *d);

/**
 * A UDP socket bound to a with SO_REUSEPORT; on a wildcard address
 * *pktinfo is set and the socket reports each packet's destination.
 * Returns the fd, or -1 with the reason in d.
 */
int sockets_open_udp(const struct config_listen *a, bool *pktinfo,
		     const char *file, struct diag *d);

/** A listening TCP socket bound to a with SO_REUSEPORT, or -1 (see d). */
int sockets_open_tcp(const struct config_listen *a, const char *file,
		     struct diag *d);

#endif
