/*
 * src/query.h — the pure core: request bytes + client address + snapshot
 * → response bytes. No sockets, no globals, no allocation: the caller owns
 * both buffers. Network code, unit tests, fuzzers and benchmarks all come
 * in through query_process.
 */
#ifndef GEOVIP_QUERY_H
#define GEOVIP_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct snapshot;

/** The response buffer must hold this many bytes (the TCP maximum)... */
#define QUERY_BUFFER_SIZE 65535
/** ...or, for QUERY_UDP, this many: the server's EDNS payload size, which
 *  no UDP response exceeds. */
#define QUERY_UDP_BUFFER_SIZE 1232

enum query_transport { QUERY_UDP, QUERY_TCP };

/**
 * What query_process tells its caller besides the response: for rate
 * limiting, metrics and dnstap. The regional fields are valid only when
 * regional is set.
 */
struct query_result {
	/* the request carried a valid server cookie (RFC 7873): its source
	 * address is proven, so rate limiting lets it through */
	bool cookie_valid;
	bool answered;     /* a response was written */
	bool has_question; /* qtype is valid */
	bool ecs;          /* the query carried a valid ECS option */
	bool regional;     /* the answer depends on the client */
	uint16_t qtype;
	uint16_t rcode;   /* extended RCODE (BADVERS 16) */
	uint8_t reason;   /* enum geomap_reason: why the region */
	bool shed;        /* moved by shed */
	bool runtime;     /* moved by a runtime override or health */
	bool ecs_private; /* a private ECS address set aside */
	bool embedded_v4; /* IPv4 unwrapped from IPv6 */
	uint8_t scope;    /* ECS scope sent */
	int region;       /* index in the snapshot's config */
};

/**
 * Answers one DNS message. from is the packet's source address
 * (AF_INET or AF_INET6); now is the wall-clock time in seconds since the
 * epoch (time(NULL)), which dates and checks DNS cookies. Writes the
 * response into resp (QUERY_BUFFER_SIZE bytes, QUERY_UDP_BUFFER_SIZE for
 * UDP) and returns its length, or 0 when nothing must be sent (a
 * response, or a packet shorter than a header). UDP responses are already
 * truncated to the client's limit. res (may be NULL) receives the
 * query_result.
 */
size_t query_process(const struct snapshot *snap, const uint8_t *req,
		     size_t req_len, const struct sockaddr *from,
		     enum query_transport transport, uint32_t now,
		     uint8_t *resp, struct query_result *res);

/**
 * Cuts a response made by query_process down to header + question (+ its
 * OPT record) with TC set, in place: RRL's "slip" answer, which tells a
 * real client to retry over TCP. Returns the new length.
 */
size_t query_truncate(uint8_t *resp, size_t len);

#endif
