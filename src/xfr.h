/*
 * src/xfr.h — secondary zones: AXFR from the configured primaries with
 * TSIG, refresh by the SOA timers, NOTIFY handed over by the workers, the
 * checked copy kept on disk and a reload after each transfer.
 */
#ifndef GEOVIP_XFR_H
#define GEOVIP_XFR_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

/** Largest NOTIFY message taken (larger ones are dropped). */
#define XFR_NOTIFY_MAX 1024

/** One NOTIFY from a worker to the main loop (smaller than PIPE_BUF, so
 *  one write is atomic). */
struct xfr_notify_msg {
	int fd; /* the UDP socket it came in on; -1: checked and answered
		   over TCP, msg holds the zone's origin (text) */
	socklen_t from_len;
	struct sockaddr_storage from;
	uint16_t len;
	uint8_t msg[XFR_NOTIFY_MAX];
};
_Static_assert(sizeof(struct xfr_notify_msg) <= PIPE_BUF,
	       "one write(2) of a NOTIFY must be atomic");

struct event_base;
struct reload;
struct snapshot;
struct xfr;

/** Idle seconds a transfer waits for the primary before giving up. */
#define XFR_IDLE_TIMEOUT 10
/** Seconds a whole transfer may take. */
#define XFR_TOTAL_TIMEOUT 900
/** Bytes of master-file text a transferred copy may reach (the loader's cap). */
#define XFR_COPY_MAX (1024UL * 1024 * 1024)
/** Retry after a failure when no SOA is known yet (seconds). */
#define XFR_RETRY_DEFAULT 60
/** How long shutdown waits for a transfer thread after waking it (ms). */
#define XFR_STOP_WAIT_MS 2000

/**
 * The transfer client on the main loop base; reload is asked for a reload
 * after each transfer. NULL when out of memory or without a pipe.
 */
struct xfr *xfr_new(struct event_base *base, struct reload *reload);

/**
 * The write end of the NOTIFY pipe: a worker that receives an opcode-4
 * message over UDP writes one struct xfr_notify_msg there (non-blocking;
 * a full pipe drops it, the primary retries) and answers nothing itself.
 */
int xfr_notify_fd(const struct xfr *x);

/**
 * A NOTIFY received over TCP by a worker holding s: checked as one over
 * UDP (a secondary zone of s, from a configured primary, signed when the
 * zone has a key; logged), its reply written into out (at most max
 * bytes; 0: none), and an accepted one handed to the main loop through
 * notify_fd (xfr_notify_fd) to start a check.
 */
size_t xfr_notify_tcp(const struct snapshot *s, int notify_fd,
		      const uint8_t *msg, size_t len,
		      const struct sockaddr_storage *from, uint8_t *out,
		      size_t max);

/**
 * Main thread, after every publication (start-up and each reload): takes
 * the secondary zones of s (new, changed, gone), their serials and SOA
 * timers, and schedules refreshes.
 */
void xfr_update(struct xfr *x, const struct snapshot *s);

/** SIGUSR1: one line per secondary zone (serial, last transfer, next
 *  refresh, last error). */
void xfr_log_status(const struct xfr *x);

/** The control socket's `zones`: one line per secondary zone on out
 *  (serial, state, last transfer, last refresh, next refresh, expiry,
 *  last error). */
void xfr_print_status(const struct xfr *x, FILE *out);

/** --check: one line per secondary zone of s on out (the copy's serial,
 *  when a primary last confirmed it, when it expires). */
void xfr_print_check(const struct snapshot *s, FILE *out);

/** Abandons transfers under way (their threads free themselves). */
void xfr_free(struct xfr *x);

#endif
