/*
 * src/dnstap.h — the optional dnstap query log (`dnstap:`): AUTH_QUERY and
 * AUTH_RESPONSE frames with the regional decision in the `extra` field,
 * one bounded Frame Streams queue per worker, full queues drop (counted).
 */
#ifndef GEOVIP_DNSTAP_H
#define GEOVIP_DNSTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "query.h"

struct config;
struct diag;
struct dnstap;
struct dnstap_queue;

/** Frames one worker may have waiting; more are dropped and counted. */
#define DNSTAP_QUEUE_FRAMES 1024

/** Whether this build has dnstap (configure --with-dnstap). */
bool dnstap_available(void);

/**
 * Starts the writer thread of cfg's `dnstap:` with one queue per worker;
 * NULL with *failed clear when the key is absent. On failure records
 * "FILE:LINE: message" in d, sets *failed and returns NULL. The socket
 * need not exist yet: the writer connects (and reconnects) by itself.
 */
struct dnstap *dnstap_open(const struct config *cfg, unsigned workers,
			   struct diag *d, bool *failed);
/** Flushes what is queued (bounded) and stops the writer. */
void dnstap_free(struct dnstap *dt);

/** The queue of worker i (only that worker may use it). */
struct dnstap_queue *dnstap_queue(struct dnstap *dt, unsigned i);

/**
 * Queues the frames of one exchange (the query, and the response when
 * resp_len > 0), as the configuration asks; never blocks: a full queue
 * drops the frame and counts it. cfg names the regions for `extra`.
 */
void dnstap_log(struct dnstap_queue *q, const struct config *cfg,
		enum query_transport transport, const struct sockaddr *from,
		const uint8_t *req, size_t req_len, const uint8_t *resp,
		size_t resp_len, const struct query_result *qi);

/** Frames queued and frames dropped, over every worker. */
void dnstap_counts(const struct dnstap *dt, uint64_t *sent, uint64_t *dropped);

/**
 * The `extra` text of a regional answer: "region=NAME reason=REASON
 * scope=N", then " private_ecs", " embedded_ipv4", " shed" when they
 * apply; "" for other answers. Returns its length (< len).
 */
size_t dnstap_extra(char *out, size_t len, const struct config *cfg,
		    const struct query_result *qi);

#endif
