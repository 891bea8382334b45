/*
 * src/xfr.c — secondary zones: the per-zone refresh timers and NOTIFY
 * handling on the main loop; each transfer (AXFR over TCP, TSIG-checked,
 * written as a master file, checked by the zone loader, renamed into
 * place) runs in its own thread under idle and total deadlines.
 */
#include "autoconf.h"
#include "xfr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ctype.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <stdarg.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "file.h"
#include "log.h"
#include "reload.h"
#include "siphash.h"
#include "snapshot.h"
#include "zone.h"

/* One transfer in its own thread; it owns everything it reads. */
struct xfr_job {
	pthread_t thread;
	pthread_mutex_t lock;
	bool done, abandoned;  // under lock
	bool stopping;         // under lock: xfr_free is waiting for it
	int fd;                // under lock: the primary's socket, or -1
	struct event *done_ev; // main loop: collect the result
	struct snapshot *snap; // keeps cz and its config alive
	const struct config_zone *cz;
	bool have_serial;
	uint32_t serial; // the copy being served
	// results
	enum { XFR_FAILED, XFR_CURRENT, XFR_UPDATED } result;
	const char *how;         // "IXFR", "AXFR" (UPDATED)
	size_t deleted, added;   // records, by an IXFR
	time_t ok_at;            // the copy's mtime set on success
	long fetch_ms, check_ms; // transfer (and diff) time, copy check time
	uint32_t new_serial;
	uint32_t refresh, retry, expire; // of the primary's SOA
	char error[512];
};

struct xfr_zone {
	struct xfr *x;
	char *origin; // "example.com."
	bool seen;    // in the latest snapshot
	bool have_serial;
	uint32_t serial;
	uint32_t refresh, retry, expire;
	bool have_timers;
	time_t last_ok;       // last successful check or transfer
	time_t last_transfer; // last copy written
	time_t next;          // next refresh
	char error[512];      // last error, "" when none
	const char *how;      // of the last transfer: "IXFR", "AXFR"
	bool expired;         // past SOA expire: answered SERVFAIL
	struct event *timer;
	struct event *expire_timer;
	struct xfr_job *job; // under way, or NULL
	bool again;          // a NOTIFY arrived during it
};

struct xfr {
	struct event_base *base;
	struct reload *reload;
	const struct snapshot *snap; // the latest published
	int pipe_rd, pipe_wr;
	struct event *notify_ev;
	struct xfr_zone **zones;
	size_t zone_count;
};

static bool xfr_serial_gt(uint32_t a, uint32_t b)
{
	return a != b && (int32_t)(a - b) > 0;
}

/* ---- the transfer thread ------------------------------------------- */

// Waits for fd to be ready for events until deadline (CLOCK_MONOTONIC
// seconds) or XFR_IDLE_TIMEOUT; false on timeout or error.
static bool xfr_wait(int fd, short events, time_t deadline)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t left = deadline - now.tv_sec;
	if (left <= 0)
		return false;
	if (left > XFR_IDLE_TIMEOUT)
		left = XFR_IDLE_TIMEOUT;
	struct pollfd p = {.fd = fd, .events = events};
	int n;
	do
		n = poll(&p, 1, (int)left * 1000);
	while (n < 0 && errno == EINTR);
	return n == 1;
}

static int xfr_io(int fd, uint8_t *buf, size_t len, bool out, time_t deadline)
{
	size_t done = 0;
	while (done < len) {
		if (!xfr_wait(fd, out ? POLLOUT : POLLIN, deadline))
			return -1;
		ssize_t n = out ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
				: recv(fd, buf + done, len - done, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return n == 0 ? -2 : -1;
		done += (size_t)n;
	}
	return 0;
}

static int xfr_connect(const struct config_listen *p, time_t deadline)
{
	int fd = socket(p->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (const struct sockaddr *)&p->addr, p->addr_len) < 0 &&
	    errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	int err = 0;
	socklen_t len = sizeof(err);
	if (!xfr_wait(fd, POLLOUT, deadline) ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
		close(fd);
		errno = err ? err : ETIMEDOUT;
		return -1;
	}
	return fd;
}

/* ---- the copy as a set of records (IXFR) --------------------------- */

/*
 * The copy is the file xfr.c wrote: a header line, then one record per
 * line as ldns prints it ("owner<TAB>ttl<TAB>class<TAB>type<TAB>rdata").
 * A record's identity for a diff is its line without the TTL (RFC 1995
 * deletes a record whatever TTL it is given), the owner compared without
 * case. A diff record printed otherwise than the copy's (e.g. names in
 * its RDATA in another case) is simply not found, and the IXFR falls
 * back to an AXFR: never a wrong match.
 */
struct xfr_rec {
	const char *text; // the line, '\n' included
	uint32_t len, owner_len;
	uint32_t tail; // where the class starts, after the TTL
	bool gone;     // deleted by the diff
	bool owned;    // text is malloc'd (an addition), not in data
	uint64_t hash;
};

struct xfr_copy {
	char *data;           // the file as read
	struct xfr_rec *recs; // the copy's order, then the additions
	size_t count, cap;
	size_t *table; // index + 1 into recs; 0: empty
	size_t mask;
	size_t bytes; // of text, against XFR_COPY_MAX
	ldns_rr *soa;
	char *scratch; // the key being hashed
	size_t scratch_len;
	uint8_t hash_key[16]; // random: a primary cannot aim at one slot
};

static void xfr_copy_free(struct xfr_copy *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->count; i++)
		if (c->recs[i].owned)
			free((char *)c->recs[i].text);
	free(c->recs);
	free(c->table);
	free(c->data);
	free(c->scratch);
	ldns_rr_free(c->soa);
	free(c);
}

// Splits a line into owner and tail and hashes it; -1 when it is not a
// line ldns printed.
static int xfr_rec_parse(struct xfr_copy *c, struct xfr_rec *r)
{
	const char *t1 = memchr(r->text, '\t', r->len);
	const char *t2 = t1 != NULL
				 ? memchr(t1 + 1, '\t',
					  r->len - (size_t)(t1 + 1 - r->text))
				 : NULL;
	if (t2 == NULL || r->text[r->len - 1] != '\n')
		return -1;
	r->owner_len = (uint32_t)(t1 - r->text);
	r->tail = (uint32_t)(t2 + 1 - r->text);
	size_t klen = r->owner_len + (r->len - r->tail);
	if (klen > c->scratch_len) {
		char *grown = realloc(c->scratch, klen);
		if (grown == NULL)
			return -1;
		c->scratch = grown;
		c->scratch_len = klen;
	}
	for (uint32_t i = 0; i < r->owner_len; i++)
		c->scratch[i] = (char)tolower((unsigned char)r->text[i]);
	memcpy(c->scratch + r->owner_len, r->text + r->tail, r->len - r->tail);
	r->hash = siphash24(c->hash_key, (const uint8_t *)c->scratch, klen);
	return 0;
}

static bool xfr_rec_equal(const struct xfr_rec *a, const struct xfr_rec *b)
{
	return a->hash == b->hash && a->owner_len == b->owner_len &&
	       a->len - a->tail == b->len - b->tail &&
	       strncasecmp(a->text, b->text, a->owner_len) == 0 &&
	       memcmp(a->text + a->tail, b->text + b->tail, a->len - a->tail) ==
		       0;
}

// The slot of the record equal to r, or the empty one it would take.
static size_t xfr_copy_slot(const struct xfr_copy *c, const struct xfr_rec *r)
{
	size_t i = (size_t)r->hash & c->mask;
	while (c->table[i] != 0 && !xfr_rec_equal(&c->recs[c->table[i] - 1], r))
		i = (i + 1) & c->mask;
	return i;
}

// A table at most a quarter full; deleted records are dropped here.
static int xfr_copy_grow(struct xfr_copy *c)
{
	size_t live = 0;
	for (size_t i = 0; i < c->count; i++) {
		if (!c->recs[i].gone)
			c->recs[live++] = c->recs[i];
		else if (c->recs[i].owned)
			free((char *)c->recs[i].text);
	}
	c->count = live;
	size_t size = 1024;
	while (size < 4 * (live + 1))
		size *= 2;
	size_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return -1;
	free(c->table);
	c->table = t;
	c->mask = size - 1;
	for (size_t i = 0; i < live; i++)
		c->table[xfr_copy_slot(c, &c->recs[i])] = i + 1;
	return 0;
}

// Adds r (its text now belongs to c when owned), or gives an equal
// record r's TTL. 0, or -1 out of memory or over XFR_COPY_MAX.
static int xfr_copy_add(struct xfr_copy *c, struct xfr_rec *r)
{
	if ((c->bytes += r->len) > XFR_COPY_MAX ||
	    (c->count + 1 > (c->mask + 1) / 2 && xfr_copy_grow(c) < 0))
		goto fail;
	size_t s = xfr_copy_slot(c, r);
	if (c->table[s] != 0) {
		struct xfr_rec *old = &c->recs[c->table[s] - 1];
		if (!old->gone)
			c->bytes -= old->len;
		if (old->owned)
			free((char *)old->text);
		*old = *r;
		return 0;
	}
	if (c->count == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 1024;
		struct xfr_rec *grown = realloc(c->recs, cap * sizeof(*grown));
		if (grown == NULL)
			goto fail;
		c->recs = grown;
		c->cap = cap;
	}
	c->recs[c->count++] = *r;
	c->table[s] = c->count;
	return 0;
fail:
	if (r->owned)
		free((char *)r->text);
	return -1;
}

// Marks the record equal to r deleted; false when there is none.
static bool xfr_copy_delete(struct xfr_copy *c, const struct xfr_rec *r)
{
	if (c->table == NULL)
		return false;
	size_t s = xfr_copy_slot(c, r);
	struct xfr_rec *old =
		c->table[s] != 0 ? &c->recs[c->table[s] - 1] : NULL;
	if (old == NULL || old->gone)
		return false;
	old->gone = true;
	c->bytes -= old->len;
	return true;
}

// The SOA line (NUL-terminated in place) as c->soa; -1 when not one.
static int xfr_copy_soa(struct xfr_copy *c, char *line, size_t len)
{
	line[len - 1] = '\0';
	ldns_rr *rr = NULL;
	ldns_status st = ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL);
	line[len - 1] = '\n';
	if (st != LDNS_STATUS_OK || c->soa != NULL) {
		ldns_rr_free(rr);
		return -1;
	}
	c->soa = rr;
	return 0;
}

// Indexes the lines of c->data; -1 with msg set.
static int xfr_copy_index(struct xfr_copy *c, size_t size, char *msg,
			  size_t len)
{
	char *p = c->data, *end = c->data + size;
	unsigned line = 0;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n =
			nl != NULL ? (size_t)(nl + 1 - p) : (size_t)(end - p);
		line++;
		struct xfr_rec r = {.text = p, .len = (uint32_t)n};
		p += n;
		if (r.text[0] == ';')
			continue;
		if (n > UINT32_MAX || xfr_rec_parse(c, &r) < 0) {
			snprintf(msg, len,
				 "line %u is not a record as geovip "
				 "writes it",
				 line);
			return -1;
		}
		bool soa = r.len - r.tail > 7 &&
			   memcmp(r.text + r.tail, "IN\tSOA\t", 7) == 0;
		if (soa ? xfr_copy_soa(c, (char *)r.text, r.len) < 0
			: xfr_copy_add(c, &r) < 0) {
			snprintf(msg, len, "line %u: %s", line,
				 soa ? "a bad or second SOA" : "out of memory");
			return -1;
		}
	}
	if (c->soa == NULL) {
		snprintf(msg, len, "no SOA record");
		return -1;
	}
	return 0;
}

// The copy on disk as a record set, or NULL with msg set.
static struct xfr_copy *xfr_copy_read(const char *path, char *msg, size_t len)
{
	struct xfr_copy *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		snprintf(msg, len, "out of memory");
		return NULL;
	}
	for (size_t i = 0; i < sizeof(c->hash_key); i++)
		c->hash_key[i] = (uint8_t)random();
	size_t size = 0;
	int rc = file_read(path, XFR_COPY_MAX, &c->data, &size);
	static const char mark[] = " by geovip\n";
	const char *nl = rc == 0 ? memchr(c->data, '\n', size) : NULL;
	if (rc < 0) {
		snprintf(msg, len, "%s", file_strerror(rc));
	} else if (nl == NULL || strncmp(c->data, "; zone ", 7) != 0 ||
		   (size_t)(nl + 1 - c->data) < sizeof(mark) - 1 ||
		   memcmp(nl + 1 - (sizeof(mark) - 1), mark,
			  sizeof(mark) - 1) != 0) {
		snprintf(msg, len, "it was not written by geovip");
	} else if (xfr_copy_index(c, size, msg, len) == 0) {
		return c;
	}
	xfr_copy_free(c);
	return NULL;
}

static int xfr_copy_write(const struct xfr_copy *c, FILE *out)
{
	char *soa = ldns_rr2str(c->soa);
	int rc = soa != NULL && fputs(soa, out) >= 0 ? 0 : -1;
	free(soa);
	for (size_t i = 0; rc == 0 && i < c->count; i++)
		if (!c->recs[i].gone &&
		    fwrite(c->recs[i].text, 1, c->recs[i].len, out) !=
			    c->recs[i].len)
			rc = -1;
	return rc;
}

/* ---- reading a transfer -------------------------------------------- */

// Where a transfer is: the opening SOA; (IXFR) the record after it, which
// tells a full zone from a diff; a full zone's records; a diff's
// deletions and additions; past the closing SOA.
enum xfr_stage {
	XFR_FIRST,
	XFR_SECOND,
	XFR_FULL,
	XFR_DELETE,
	XFR_ADD,
	XFR_DONE
};

// State of one AXFR or IXFR read.
struct xfr_run {
	struct xfr_job *j;
	const struct config_tsig_key *key;
	ldns_rdf *origin;
	ldns_rdf *mac; // the last MAC (request's, then each reply's)
	uint16_t id;
	bool ixfr;     // an IXFR request
	bool fallback; // the IXFR failed in a way an AXFR might not
	enum xfr_stage stage;
	FILE *out;
	size_t records;
	size_t bytes;
	bool current;          // the primary's serial is not newer
	ldns_rr *first;        // IXFR: the opening SOA, until the next record
	struct xfr_copy *copy; // IXFR: the copy the diff applies to
	uint32_t version;      // IXFR: the serial the diff has reached
};

static void xfr_run_free(struct xfr_run *r)
{
	ldns_rdf_deep_free(r->origin);
	ldns_rdf_deep_free(r->mac);
	ldns_rr_free(r->first);
	xfr_copy_free(r->copy);
}

// Sets the error (false); an IXFR that fails so is retried as an AXFR.
static bool xfr_bad(struct xfr_run *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool xfr_bad(struct xfr_run *r, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->j->error, sizeof(r->j->error), fmt, ap);
	va_end(ap);
	r->fallback = r->ixfr;
	return false;
}

// The signed AXFR or IXFR request in wire form; NULL after the error.
static uint8_t *xfr_request(struct xfr_run *r, size_t *len)
{
	ldns_pkt *q = ldns_pkt_query_new(ldns_rdf_clone(r->origin),
					 r->ixfr ? LDNS_RR_TYPE_IXFR
						 : LDNS_RR_TYPE_AXFR,
					 LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;
	if (q == NULL)
		goto oom;
	ldns_pkt_set_id(q, r->id);
	if (r->ixfr) {
		// RFC 1995 §3: our SOA (only its serial counts) in authority
		char text[300];
		ldns_rr *soa = NULL;
		snprintf(text, sizeof(text),
			 "%s 0 IN SOA . . %" PRIu32 " 0 0 0 0",
			 r->j->cz->origin_text, r->j->serial);
		if (ldns_rr_new_frm_str(&soa, text, 0, NULL, NULL) !=
			    LDNS_STATUS_OK ||
		    !ldns_pkt_push_rr(q, LDNS_SECTION_AUTHORITY, soa)) {
			ldns_rr_free(soa);
			ldns_pkt_free(q);
			goto oom;
		}
	}
	if (r->key != NULL) {
		if (ldns_pkt_tsig_sign(q, r->key->name, r->key->secret, 300,
				       r->key->algorithm,
				       NULL) != LDNS_STATUS_OK) {
			snprintf(r->j->error, sizeof(r->j->error),
				 "cannot sign the request with key %s",
				 r->key->name);
			ldns_pkt_free(q);
			return NULL;
		}
		r->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(q), 3));
	}
	if (ldns_pkt2wire(&wire, q, len) != LDNS_STATUS_OK)
		wire = NULL;
	ldns_pkt_free(q);
	if (wire != NULL)
		return wire;
oom:
	snprintf(r->j->error, sizeof(r->j->error), "out of memory");
	return NULL;
}

// Checks the TSIG of one reply and keeps its MAC for the next.
static bool xfr_check_tsig(struct xfr_run *r, ldns_pkt *p, const uint8_t *wire,
			   size_t len, unsigned index)
{
	if (r->key == NULL)
		return true;
	if (ldns_pkt_tsig(p) == NULL) {
		snprintf(r->j->error, sizeof(r->j->error),
			 "message %u of the "
			 "transfer is not signed with key %s",
			 index + 1, r->key->name);
		return false;
	}
	if (!ldns_pkt_tsig_verify_next(p, wire, len, r->key->name,
				       r->key->secret, r->mac, index > 0)) {
		snprintf(r->j->error, sizeof(r->j->error),
			 "TSIG check failed "
			 "on message %u with key %s (wrong key or secret?)",
			 index + 1, r->key->name);
		return false;
	}
	ldns_rdf_deep_free(r->mac);
	r->mac = ldns_rdf_clone(ldns_rr_rdf(ldns_pkt_tsig(p), 3));
	return true;
}

static uint32_t xfr_soa_field(const ldns_rr *soa, size_t i)
{
	const ldns_rdf *f = ldns_rr_rdf(soa, i);
	return f != NULL ? ldns_rdf2native_int32(f) : 0;
}

// One answer record: the opening SOA, the data, the closing SOA.

static bool xfr_in_zone(struct xfr_run *r, const ldns_rr *rr)
{
	const ldns_rdf *owner = ldns_rr_owner(rr);
	if (ldns_dname_compare(owner, r->origin) == 0 ||
	    ldns_dname_is_subdomain(owner, r->origin))
		return true;
	return xfr_bad(r, "the transfer holds a record outside the zone");
}

// A full zone's record, written to the copy as it comes.
static bool xfr_write_rr(struct xfr_run *r, const ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	char *text = ldns_rr2str(rr);
	if (text == NULL) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		return false;
	}
	size_t n = strlen(text);
	r->bytes += n;
	bool ok = r->bytes <= XFR_COPY_MAX && fputs(text, r->out) >= 0;
	free(text);
	if (!ok) {
		snprintf(j->error, sizeof(j->error),
			 r->bytes > XFR_COPY_MAX
				 ? "the zone is larger than %lu bytes of text"
				 : "cannot write the copy",
			 XFR_COPY_MAX);
		return false;
	}
	return true;
}

// The opening SOA: the primary's serial and timers.
static bool xfr_take_first(struct xfr_run *r, const ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA ||
	    ldns_dname_compare(ldns_rr_owner(rr), r->origin))
		return xfr_bad(r, "the transfer does not open with the zone's "
				  "SOA record");
	j->new_serial = xfr_soa_field(rr, 2);
	j->refresh = xfr_soa_field(rr, 3);
	j->retry = xfr_soa_field(rr, 4);
	j->expire = xfr_soa_field(rr, 5);
	if (j->have_serial && !xfr_serial_gt(j->new_serial, j->serial)) {
		r->current = true;
		return true;
	}
	if (!r->ixfr) {
		r->stage = XFR_FULL;
		return xfr_write_rr(r, rr);
	}
	r->first = ldns_rr_clone(rr);
	r->stage = XFR_SECOND;
	if (r->first == NULL)
		snprintf(j->error, sizeof(j->error), "out of memory");
	return r->first != NULL;
}

// An IXFR's second record is our SOA: a diff from our copy follows.
static bool xfr_diff_begin(struct xfr_run *r)
{
	struct xfr_job *j = r->j;
	char msg[300];
	r->copy = xfr_copy_read(j->cz->file, msg, sizeof(msg));
	if (r->copy == NULL)
		return xfr_bad(r,
			       "cannot read the copy %s to apply the IXFR "
			       "to: %s",
			       j->cz->file, msg);
	uint32_t have = xfr_soa_field(r->copy->soa, 2);
	if (have != j->serial)
		return xfr_bad(
			r, "the copy %s has serial %" PRIu32 ", not %" PRIu32,
			j->cz->file, have, j->serial);
	r->version = j->serial;
	r->stage = XFR_DELETE;
	return true;
}

// A SOA inside a diff: the end of its deletions, of its additions, or
// of the whole transfer (RFC 1995 §4).
static bool xfr_diff_soa(struct xfr_run *r, const ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	uint32_t serial = xfr_soa_field(rr, 2);
	if (r->stage == XFR_DELETE) {
		if (!xfr_serial_gt(serial, r->version) ||
		    xfr_serial_gt(serial, j->new_serial))
			return xfr_bad(r,
				       "the IXFR goes from serial %" PRIu32
				       " to %" PRIu32 " (the end is %" PRIu32
				       ")",
				       r->version, serial, j->new_serial);
		ldns_rr *soa = ldns_rr_clone(rr);
		if (soa == NULL)
			return xfr_bad(r, "out of memory");
		ldns_rr_free(r->copy->soa);
		r->copy->soa = soa;
		r->version = serial;
		r->stage = XFR_ADD;
		return true;
	}
	if (serial != r->version)
		return xfr_bad(r,
			       "the IXFR has serial %" PRIu32 " where %" PRIu32
			       " was expected",
			       serial, r->version);
	r->stage = serial == j->new_serial ? XFR_DONE : XFR_DELETE;
	return true;
}

// One record of a diff.
static bool xfr_diff_rr(struct xfr_run *r, ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
		return xfr_diff_soa(r, rr);
	char *text = ldns_rr2str(rr);
	struct xfr_rec rec = {.text = text, .owned = true};
	if (text == NULL || (rec.len = (uint32_t)strlen(text)) == 0 ||
	    xfr_rec_parse(r->copy, &rec) < 0) {
		free(text);
		return xfr_bad(r, "out of memory, or a record ldns cannot "
				  "print");
	}
	if (r->stage == XFR_ADD) {
		if (xfr_copy_add(r->copy, &rec) < 0) // takes text
			return xfr_bad(r,
				       "out of memory, or the zone is "
				       "larger than %lu bytes of text",
				       XFR_COPY_MAX);
		j->added++;
		return true;
	}
	bool found = xfr_copy_delete(r->copy, &rec);
	if (!found) {
		size_t n = strcspn(text, "\n");
		for (size_t i = 0; i < n; i++)
			if (text[i] == '\t')
				text[i] = ' '; // one line of the log
		xfr_bad(r,
			"the IXFR deletes a record the copy does not "
			"have: %.*s",
			(int)(n > 200 ? 200 : n), text);
	}
	free(text);
	if (found)
		j->deleted++;
	return found;
}

// One answer record, by where the transfer is.
static bool xfr_take_rr(struct xfr_run *r, ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
	if (r->stage == XFR_FIRST)
		return xfr_take_first(r, rr);
	if (!xfr_in_zone(r, rr))
		return false;
	if (soa && ldns_dname_compare(ldns_rr_owner(rr), r->origin) != 0)
		return xfr_bad(r, "the transfer holds a SOA record below the "
				  "zone's apex");
	switch (r->stage) {
	case XFR_SECOND:
		if (soa && xfr_soa_field(rr, 2) == j->serial)
			return xfr_diff_begin(r);
		if (soa && xfr_soa_field(rr, 2) != j->new_serial)
			return xfr_bad(r,
				       "the IXFR starts at serial %" PRIu32
				       ", not at ours (%" PRIu32 ")",
				       xfr_soa_field(rr, 2), j->serial);
		// a full zone (RFC 1995 §4: "AXFR-style"), opened by first
		r->stage = XFR_FULL;
		if (!xfr_write_rr(r, r->first))
			return false;
		/* FALLTHROUGH */
	case XFR_FULL:
		if (soa) {
			r->stage = XFR_DONE; // the closing SOA
			return true;
		}
		return xfr_write_rr(r, rr);
	case XFR_DELETE:
	case XFR_ADD:
		return xfr_diff_rr(r, rr);
	default:
		return xfr_bad(r, "records after the closing SOA");
	}
}

// One reply message.
static bool xfr_take_msg(struct xfr_run *r, const uint8_t *wire, size_t len,
			 unsigned index)
{
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK)
		return xfr_bad(r, "message %u of the transfer is malformed",
			       index + 1);
	bool ok = false;
	if (ldns_pkt_id(p) != r->id || !ldns_pkt_qr(p)) {
		xfr_bad(r, "message %u is not a reply to the request",
			index + 1);
	} else if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *t = ldns_lookup_by_id(
			ldns_rcodes, (int)ldns_pkt_get_rcode(p));
		xfr_bad(r, "the primary answered %s", t ? t->name : "an error");
	} else if (xfr_check_tsig(r, p, wire, len, index)) {
		ok = true;
		ldns_rr_list *an = ldns_pkt_answer(p);
		for (size_t i = 0; ok && i < ldns_rr_list_rr_count(an); i++) {
			if (r->current)
				break; // not newer: the rest is not needed
			ok = xfr_take_rr(r, ldns_rr_list_rr(an, i));
			r->records++;
		}
	}
	ldns_pkt_free(p);
	return ok;
}

// Reads replies until the closing SOA (or the first, when current).
static bool xfr_read_all(struct xfr_run *r, int fd, time_t deadline)
{
	uint8_t *buf = malloc(65535);
	bool ok = buf != NULL;
	for (unsigned i = 0; ok && r->stage != XFR_DONE && !r->current; i++) {
		uint8_t hdr[2];
		int rc = xfr_io(fd, hdr, 2, false, deadline);
		size_t len = (size_t)hdr[0] << 8 | hdr[1];
		if (rc == 0)
			rc = xfr_io(fd, buf, len, false, deadline);
		if (rc < 0) {
			snprintf(r->j->error, sizeof(r->j->error),
				 "no data "
				 "from the primary for %d s (or a read error) "
				 "after %zu records",
				 XFR_IDLE_TIMEOUT, r->records);
			if (rc == -2)
				snprintf(r->j->error, sizeof(r->j->error),
					 "the primary closed the connection "
					 "after %zu records",
					 r->records);
			// one SOA newer than ours, then nothing: no diff
			r->fallback = r->ixfr && r->stage == XFR_SECOND;
			ok = false;
			break;
		}
		ok = xfr_take_msg(r, buf, len, i);
	}
	if (buf == NULL)
		snprintf(r->j->error, sizeof(r->j->error), "out of memory");
	free(buf);
	return ok;
}

// The request on fd; false after setting the error.
static bool xfr_send_request(struct xfr_run *r, int fd, time_t deadline)
{
	size_t qlen = 0;
	uint8_t *q = xfr_request(r, &qlen);
	if (q == NULL)
		return false;
	uint8_t hdr[2] = {(uint8_t)(qlen >> 8), (uint8_t)qlen};
	bool ok = xfr_io(fd, hdr, 2, true, deadline) == 0 &&
		  xfr_io(fd, q, qlen, true, deadline) == 0;
	free(q);
	if (!ok)
		snprintf(r->j->error, sizeof(r->j->error),
			 "cannot send the request");
	return ok;
}

// Flushes and closes the copy being written; false after the error.
static bool xfr_close_copy(struct xfr_run *r, const char *tmp, bool ok)
{
	struct xfr_job *j = r->j;
	if (ok && r->copy != NULL && xfr_copy_write(r->copy, r->out) < 0) {
		snprintf(j->error, sizeof(j->error), "cannot write %s: %s", tmp,
			 strerror(errno));
		ok = false;
	}
	if (fflush(r->out) != 0 || fsync(fileno(r->out)) != 0) {
		if (ok)
			snprintf(j->error, sizeof(j->error),
				 "cannot write %s: %s", tmp, strerror(errno));
		ok = false;
	}
	if (fclose(r->out) != 0 && ok) {
		snprintf(j->error, sizeof(j->error), "cannot write %s", tmp);
		ok = false;
	}
	return ok;
}

/*
 * Writes the copy to tmp from primary p, by IXFR (from the copy's
 * serial) or AXFR; true when done (or current). *fallback: an IXFR
 * failed in a way an AXFR might not.
 */
// Publishes the job's socket (-1: none) so xfr_free can shut it down and
// wake a transfer blocked on a stalled primary; false once stopping.
static bool xfr_job_socket(struct xfr_job *j, int fd)
{
	pthread_mutex_lock(&j->lock);
	bool stopping = j->stopping;
	j->fd = stopping && fd >= 0 ? -1 : fd;
	pthread_mutex_unlock(&j->lock);
	return !stopping || fd < 0;
}

static bool xfr_from(struct xfr_job *j, const struct config_listen *p,
		     const char *tmp, bool ixfr, bool *fallback)
{
	const struct config *cfg = j->snap->config;
	struct xfr_run r = {
		.j = j,
		.key = j->cz->tsig >= 0 ? &cfg->keys[j->cz->tsig] : NULL,
		.origin = ldns_dname_new_frm_str(j->cz->origin_text),
		.id = (uint16_t)(random() & 0xffff),
		.ixfr = ixfr,
	};
	j->deleted = j->added = 0;
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t deadline = now.tv_sec + XFR_TOTAL_TIMEOUT;
	bool ok = false;
	int fd = -1;
	if (r.origin == NULL) {
		snprintf(j->error, sizeof(j->error), "out of memory");
		goto out;
	}
	fd = xfr_connect(p, deadline);
	if (fd < 0) {
		snprintf(j->error, sizeof(j->error), "cannot connect: %s",
			 strerror(errno));
		goto out;
	}
	if (!xfr_job_socket(j, fd)) {
		snprintf(j->error, sizeof(j->error), "geovipd is stopping");
		goto out;
	}
	if (!xfr_send_request(&r, fd, deadline))
		goto out;
	r.out = fopen(tmp, "w");
	if (r.out == NULL) {
		snprintf(j->error, sizeof(j->error), "cannot write %s: %s", tmp,
			 strerror(errno));
		goto out;
	}
	fprintf(r.out, "; zone %s transferred from %s by geovip\n",
		j->cz->origin_text, p->text);
	ok = xfr_close_copy(&r, tmp, xfr_read_all(&r, fd, deadline));
	if (ok) {
		j->result = r.current ? XFR_CURRENT : XFR_UPDATED;
		j->how = r.copy != NULL ? "IXFR"
			 : ixfr         ? "IXFR (full zone)"
					: "AXFR";
	}
out:
	if (fallback != NULL)
		*fallback = !ok && r.fallback;
	if (fd >= 0) {
		xfr_job_socket(j, -1);
		close(fd);
	}
	xfr_run_free(&r);
	return ok;
}

// Checks tmp as the zone's data; renames it into place when good.
static void xfr_install(struct xfr_job *j, const char *tmp)
{
	struct diag *d = diag_new();
	uint32_t serial = 0;
	if (d == NULL ||
	    zone_check_file(j->snap->config, j->cz, tmp, d, &serial) < 0) {
		size_t n = d != NULL ? diag_count(d) : 0;
		snprintf(j->error, sizeof(j->error),
			 "the transferred copy "
			 "(serial %" PRIu32 ") does not load%s%s",
			 j->new_serial, n ? ": " : "",
			 n ? diag_message(d, 0) : "");
		j->result = XFR_FAILED;
	} else if (rename(tmp, j->cz->file) != 0) {
		snprintf(j->error, sizeof(j->error),
			 "cannot rename %s to %s: "
			 "%s",
			 tmp, j->cz->file, strerror(errno));
		j->result = XFR_FAILED;
	}
	diag_free(d);
}

// The copy's mtime says when a primary last confirmed it: a load past
// mtime + SOA expire serves the zone SERVFAIL (zone_set_load).
static void xfr_touch(struct xfr_job *j)
{
	j->ok_at = time(NULL);
	struct timespec t[2] = {{.tv_sec = j->ok_at}, {.tv_sec = j->ok_at}};
	if (utimensat(AT_FDCWD, j->cz->file, t, 0) != 0)
		log_warning("zone %s: cannot set the time of %s: %s",
			    j->cz->origin_text, j->cz->file, strerror(errno));
}

// Tries primary p by IXFR when there is a copy, then by AXFR when the
// IXFR failed in a way an AXFR might not.
static bool xfr_try(struct xfr_job *j, const struct config_listen *p,
		    const char *tmp)
{
	bool fallback = false;
	if (j->have_serial && access(j->cz->file, R_OK) == 0) {
		if (xfr_from(j, p, tmp, true, &fallback))
			return true;
		if (!fallback)
			return false;
		log_warning("zone %s: IXFR from %s failed: %s; trying AXFR",
			    j->cz->origin_text, p->text, j->error);
	}
	return xfr_from(j, p, tmp, false, NULL);
}

static long xfr_ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long)(t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *xfr_job_run(void *arg)
{
	struct xfr_job *j = arg;
	const struct config_zone *cz = j->cz;
	size_t n = strlen(cz->file) + 16;
	char *tmp = malloc(n);
	j->result = XFR_FAILED;
	if (tmp == NULL) {
		snprintf(j->error, sizeof(j->error), "out of memory");
	} else {
		snprintf(tmp, n, "%s.xfr-tmp", cz->file);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		char errors[1024] = "";
		for (size_t i = 0; i < cz->primary_count; i++) {
			if (xfr_try(j, &cz->primaries[i], tmp))
				break;
			// keep each primary's reason
			size_t used = strlen(errors);
			if (used >= sizeof(errors) - 1)
				continue;
			snprintf(errors + used, sizeof(errors) - used,
				 "%s%s: %.400s", used ? "; " : "",
				 cz->primaries[i].text, j->error);
		}
		j->fetch_ms = xfr_ms_since(&t0);
		if (j->result == XFR_UPDATED)
			xfr_install(j, tmp);
		else if (j->result == XFR_FAILED)
			snprintf(j->error, sizeof(j->error), "%.500s", errors);
		j->check_ms = xfr_ms_since(&t0) - j->fetch_ms;
		if (j->result != XFR_FAILED)
			xfr_touch(j);
		unlink(tmp); // gone after a rename; a failed copy is dropped
		free(tmp);
	}
	pthread_mutex_lock(&j->lock);
	bool abandoned = j->abandoned;
	j->done = true;
	if (!abandoned)
		event_active(j->done_ev, EV_TIMEOUT, 0);
	pthread_mutex_unlock(&j->lock);
	if (abandoned) {
		snapshot_unref(j->snap);
		pthread_mutex_destroy(&j->lock);
		free(j);
	}
	return NULL;
}

/* ---- the main loop side -------------------------------------------- */

static void xfr_schedule(struct xfr_zone *z, uint32_t secs)
{
	z->next = time(NULL) + secs;
	struct timeval tv = {.tv_sec = secs};
	event_add(z->timer, &tv);
}

static const struct config_zone *xfr_config_zone(const struct snapshot *s,
						 const char *origin)
{
	for (size_t i = 0; i < s->config->zone_count; i++) {
		const struct config_zone *cz = &s->config->zones[i];
		if (cz->primary_count > 0 && cz->origin_text != NULL &&
		    strcasecmp(cz->origin_text, origin) == 0)
			return cz;
	}
	return NULL;
}

static void xfr_on_done(evutil_socket_t fd, short what, void *arg);

// The expiry timer: SOA expire seconds after the last confirmation.
static void xfr_arm_expire(struct xfr_zone *z)
{
	event_del(z->expire_timer);
	if (!z->have_timers || z->last_ok == 0 || z->expired)
		return;
	// one second late: the loader's test (now >= mtime + expire) holds
	time_t at = z->last_ok + (time_t)z->expire + 1, now = time(NULL);
	struct timeval tv = {.tv_sec = at > now ? at - now : 0};
	event_add(z->expire_timer, &tv);
}

static void xfr_on_expire(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct xfr_zone *z = arg;
	if (z->expired || z->last_ok == 0 || !z->seen)
		return;
	if (time(NULL) < z->last_ok + (time_t)z->expire) {
		xfr_arm_expire(z);
		return;
	}
	z->expired = true;
	log_error("zone %s: expired: no primary has confirmed serial %" PRIu32
		  " for %" PRIu32 " s (SOA expire); answering SERVFAIL until a "
		  "transfer succeeds",
		  z->origin, z->serial, z->expire);
	reload_request_for(z->x->reload, "zone expiry");
}

static void xfr_start(struct xfr_zone *z)
{
	struct xfr *x = z->x;
	if (z->job != NULL) {
		z->again = true;
		return;
	}
	const struct config_zone *cz = xfr_config_zone(x->snap, z->origin);
	if (cz == NULL)
		return;
	struct xfr_job *j = calloc(1, sizeof(*j));
	if (j == NULL ||
	    (j->done_ev = event_new(x->base, -1, 0, xfr_on_done, z)) == NULL) {
		free(j);
		log_error("zone %s: cannot start a transfer (out of memory)",
			  z->origin);
		xfr_schedule(z, XFR_RETRY_DEFAULT);
		return;
	}
	pthread_mutex_init(&j->lock, NULL);
	j->fd = -1;
	j->snap = (struct snapshot *)x->snap;
	snapshot_ref(j->snap);
	j->cz = cz;
	j->have_serial = z->have_serial;
	j->serial = z->serial;
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int err = pthread_create(&j->thread, NULL, xfr_job_run, j);
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	if (err != 0) {
		log_error("zone %s: cannot start a transfer thread: %s",
			  z->origin, strerror(err));
		event_free(j->done_ev);
		snapshot_unref(j->snap);
		pthread_mutex_destroy(&j->lock);
		free(j);
		xfr_schedule(z, XFR_RETRY_DEFAULT);
		return;
	}
	log_debug("zone %s: checking the primaries", z->origin);
	z->job = j;
}

static void xfr_zone_free(struct xfr_zone *z);

// Removes z from x's list and frees it.
static void xfr_zone_drop(struct xfr *x, struct xfr_zone *z)
{
	for (size_t i = 0; i < x->zone_count; i++) {
		if (x->zones[i] == z) {
			x->zones[i] = x->zones[--x->zone_count];
			break;
		}
	}
	xfr_zone_free(z);
}

static void xfr_on_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct xfr_zone *z = arg;
	struct xfr_job *j = z->job;
	z->job = NULL;
	pthread_join(j->thread, NULL);
	event_free(j->done_ev);
	time_t now = time(NULL);
	if (j->result != XFR_FAILED) {
		z->refresh = j->refresh;
		z->retry = j->retry;
		z->expire = j->expire;
		z->have_timers = true;
		z->last_ok = j->ok_at ? j->ok_at : now;
		z->error[0] = '\0';
	}
	if (j->result == XFR_UPDATED) {
		char diff[64] = "";
		if (strcmp(j->how, "IXFR") == 0)
			snprintf(diff, sizeof(diff),
				 ", records deleted: %zu, added: %zu",
				 j->deleted, j->added);
		log_info("zone %s: transferred serial %" PRIu32
			 " by %s (was %s%" PRIu32 ")%s in %ld ms, checked "
			 "in %ld ms, reloading",
			 z->origin, j->new_serial, j->how,
			 z->have_serial ? "" : "none, ",
			 z->have_serial ? z->serial : 0, diff, j->fetch_ms,
			 j->check_ms);
		z->last_transfer = now;
		z->how = j->how;
		z->serial = j->new_serial;
		z->have_serial = true;
		reload_request_for(z->x->reload, "zone transfer");
	} else if (j->result == XFR_CURRENT) {
		log_debug("zone %s: serial %" PRIu32 " is current", z->origin,
			  z->serial);
		if (z->expired) // the copy's new mtime ends the expiry
			reload_request_for(z->x->reload, "zone refreshed");
	} else {
		snprintf(z->error, sizeof(z->error), "%s", j->error);
		log_error("zone %s: transfer failed, keeping %s: %s", z->origin,
			  z->have_serial ? "the old copy" : "no copy",
			  j->error);
	}
	if (j->result != XFR_FAILED && z->expired) {
		log_info("zone %s: a primary answered again: served from "
			 "the next load",
			 z->origin);
		z->expired = false;
	}
	xfr_arm_expire(z);
	snapshot_unref(j->snap);
	pthread_mutex_destroy(&j->lock);
	free(j);
	if (!z->seen) {
		xfr_zone_drop(z->x, z); // left the configuration meanwhile
		return;
	}
	if (z->again) {
		z->again = false;
		xfr_start(z);
		return;
	}
	uint32_t next = XFR_RETRY_DEFAULT;
	if (z->have_timers)
		next = z->error[0] ? z->retry : z->refresh;
	xfr_schedule(z, next ? next : 1);
}

static void xfr_on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	xfr_start(arg);
}

static void xfr_zone_free(struct xfr_zone *z)
{
	if (z == NULL)
		return;
	if (z->timer != NULL)
		event_free(z->timer);
	if (z->expire_timer != NULL)
		event_free(z->expire_timer);
	free(z->origin);
	free(z);
}

static struct xfr_zone *xfr_zone_find(const struct xfr *x, const char *origin)
{
	for (size_t i = 0; i < x->zone_count; i++)
		if (strcasecmp(x->zones[i]->origin, origin) == 0)
			return x->zones[i];
	return NULL;
}

static struct xfr_zone *xfr_zone_new(struct xfr *x, const char *origin)
{
	struct xfr_zone **grown =
		realloc(x->zones, (x->zone_count + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	x->zones = grown;
	struct xfr_zone *z = calloc(1, sizeof(*z));
	if (z == NULL)
		return NULL;
	z->x = x;
	z->origin = strdup(origin);
	z->timer = event_new(x->base, -1, 0, xfr_on_timer, z);
	z->expire_timer = event_new(x->base, -1, 0, xfr_on_expire, z);
	if (z->origin == NULL || z->timer == NULL || z->expire_timer == NULL) {
		xfr_zone_free(z);
		return NULL;
	}
	x->zones[x->zone_count++] = z;
	return z;
}

// The serial and timers of the copy s serves for z.
static void xfr_zone_take(struct xfr_zone *z, const struct snapshot *s,
			  const struct config_zone *cz)
{
	const struct zone *zn = zone_set_find(s->zones, cz->origin);
	if (zn == NULL || zn->origin_len != cz->origin_len)
		return;
	z->serial = zone_soa_serial(zn);
	z->have_serial = true;
	z->expired = zn->expired;
	struct stat st;
	if (z->last_ok == 0 && stat(cz->file, &st) == 0)
		z->last_ok = st.st_mtime; // when a primary last confirmed it
	if (!z->have_timers) {
		uint32_t t[5];
		zone_soa_timers(zn, t);
		z->refresh = t[1];
		z->retry = t[2];
		z->expire = t[3];
		z->have_timers = true;
	}
}

void xfr_update(struct xfr *x, const struct snapshot *s)
{
	x->snap = s;
	for (size_t i = 0; i < x->zone_count; i++)
		x->zones[i]->seen = false;
	for (size_t i = 0; i < s->config->zone_count; i++) {
		const struct config_zone *cz = &s->config->zones[i];
		if (cz->primary_count == 0)
			continue;
		struct xfr_zone *z = xfr_zone_find(x, cz->origin_text);
		bool fresh = z == NULL;
		if (fresh && (z = xfr_zone_new(x, cz->origin_text)) == NULL) {
			log_error("zone %s: out of memory", cz->origin_text);
			continue;
		}
		z->seen = true;
		xfr_zone_take(z, s, cz);
		xfr_arm_expire(z);
		if (fresh)
			xfr_start(z); // a new zone: check the primary at once
	}
	// zones gone from the configuration
	size_t kept = 0;
	for (size_t i = 0; i < x->zone_count; i++) {
		struct xfr_zone *z = x->zones[i];
		if (z->seen) {
			x->zones[kept++] = z;
			continue;
		}
		event_del(z->timer);
		event_del(z->expire_timer);
		if (z->job == NULL)
			xfr_zone_free(z);
		// else freed when its transfer ends (xfr_on_done)
		else
			x->zones[kept++] = z;
	}
	x->zone_count = kept;
}

/* ---- NOTIFY -------------------------------------------------------- */

static bool xfr_same_host(const struct sockaddr_storage *a,
			  const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)a)->sin_addr,
			      &((const struct sockaddr_in *)b)->sin_addr,
			      4) == 0;
	return memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
		      &((const struct sockaddr_in6 *)b)->sin6_addr, 16) == 0;
}

static bool xfr_from_primary(const struct config_zone *cz,
			     const struct sockaddr_storage *from)
{
	for (size_t i = 0; i < cz->primary_count; i++)
		if (xfr_same_host(&cz->primaries[i].addr, from))
			return true;
	return false;
}

// The reply: the request's header and question, QR and AA, rcode; in
// wire form into out (at most max bytes); 0 when it cannot be made.
static size_t xfr_notify_reply(ldns_pkt *req, ldns_pkt_rcode rcode,
			       const struct config_tsig_key *key, uint8_t *out,
			       size_t max)
{
	ldns_pkt *resp = ldns_pkt_new();
	if (resp == NULL)
		return 0;
	ldns_pkt_set_id(resp, ldns_pkt_id(req));
	ldns_pkt_set_opcode(resp, LDNS_PACKET_NOTIFY);
	ldns_pkt_set_qr(resp, true);
	ldns_pkt_set_aa(resp, rcode == LDNS_RCODE_NOERROR);
	ldns_pkt_set_rcode(resp, (uint8_t)rcode);
	ldns_rr_list *q = ldns_pkt_question(req);
	for (size_t i = 0; i < ldns_rr_list_rr_count(q); i++)
		ldns_pkt_push_rr(resp, LDNS_SECTION_QUESTION,
				 ldns_rr_clone(ldns_rr_list_rr(q, i)));
	if (key != NULL && ldns_pkt_tsig(req) != NULL)
		(void)ldns_pkt_tsig_sign(resp, key->name, key->secret, 300,
					 key->algorithm,
					 ldns_rr_rdf(ldns_pkt_tsig(req), 3));
	uint8_t *wire = NULL;
	size_t len = 0;
	if (ldns_pkt2wire(&wire, resp, &len) != LDNS_STATUS_OK || len > max)
		len = 0;
	else
		memcpy(out, wire, len);
	free(wire);
	ldns_pkt_free(resp);
	return len;
}

static void xfr_host_text(const struct sockaddr_storage *from, char *buf,
			  size_t len)
{
	const void *a =
		from->ss_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)from)
				  ->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)from)
				  ->sin6_addr;
	if (inet_ntop(from->ss_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "?");
}

/*
 * Checks a NOTIFY against s: a secondary zone of s, sent from one of its
 * primaries, signed with its key when it has one; logs the verdict.
 * Writes the reply into out (0: none, e.g. to a reply) and returns the
 * accepted zone in *accepted (else NULL). Any thread holding s.
 */
static size_t xfr_notify_check(const struct snapshot *s, const uint8_t *msg,
			       size_t len, const struct sockaddr_storage *from,
			       const char *via, uint8_t *out, size_t max,
			       const struct config_zone **accepted)
{
	char host[INET6_ADDRSTRLEN];
	xfr_host_text(from, host, sizeof(host));
	*accepted = NULL;
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK) {
		log_warning("NOTIFY from %s%s: malformed, dropped", host, via);
		return 0;
	}
	const struct config_zone *cz = NULL;
	char *qname = NULL;
	if (ldns_rr_list_rr_count(ldns_pkt_question(p)) == 1) {
		qname = ldns_rdf2str(ldns_rr_owner(
			ldns_rr_list_rr(ldns_pkt_question(p), 0)));
		if (qname != NULL && s != NULL)
			cz = xfr_config_zone(s, qname);
	}
	const struct config_tsig_key *key =
		cz != NULL && cz->tsig >= 0 ? &s->config->keys[cz->tsig] : NULL;
	ldns_pkt_rcode rcode = LDNS_RCODE_REFUSED;
	if (cz == NULL) {
		log_warning("NOTIFY from %s%s for %s: not a secondary zone "
			    "here, REFUSED",
			    host, via, qname ? qname : "?");
	} else if (ldns_pkt_qr(p)) {
		rcode = 0; // a reply: never answer it
	} else if (!xfr_from_primary(cz, from)) {
		log_warning("NOTIFY from %s%s for %s: not a configured "
			    "primary, REFUSED",
			    host, via, qname);
	} else if (key != NULL && !ldns_pkt_tsig_verify(p, msg, len, key->name,
							key->secret, NULL)) {
		log_warning("NOTIFY from %s%s for %s: not signed with key %s, "
			    "REFUSED",
			    host, via, qname, key->name);
		key = NULL; // an unverified request gets an unsigned reply
	} else {
		rcode = LDNS_RCODE_NOERROR;
		log_info("NOTIFY from %s%s for %s: checking the primary", host,
			 via, qname);
		*accepted = cz;
	}
	size_t n = 0;
	if (!ldns_pkt_qr(p))
		n = xfr_notify_reply(p, rcode, rcode == 0 ? key : NULL, out,
				     max);
	free(qname);
	ldns_pkt_free(p);
	return n;
}

// Starts a check of the secondary zone origin at once.
static void xfr_notify_start(struct xfr *x, const char *origin)
{
	struct xfr_zone *z = xfr_zone_find(x, origin);
	if (z != NULL) {
		event_del(z->timer);
		xfr_start(z);
	}
}

static void xfr_notify_one(struct xfr *x, const struct xfr_notify_msg *m)
{
	if (m->fd < 0) { // checked and answered over TCP: origin in msg
		char origin[LDNS_MAX_DOMAINLEN + 2];
		snprintf(origin, sizeof(origin), "%.*s", (int)m->len,
			 (const char *)m->msg);
		xfr_notify_start(x, origin);
		return;
	}
	uint8_t out[XFR_NOTIFY_MAX];
	const struct config_zone *cz = NULL;
	size_t n = xfr_notify_check(x->snap, m->msg, m->len, &m->from, "", out,
				    sizeof(out), &cz);
	if (n > 0)
		(void)sendto(m->fd, out, n, MSG_DONTWAIT,
			     (const struct sockaddr *)&m->from, m->from_len);
	if (cz != NULL)
		xfr_notify_start(x, cz->origin_text);
}

size_t xfr_notify_tcp(const struct snapshot *s, int notify_fd,
		      const uint8_t *msg, size_t len,
		      const struct sockaddr_storage *from, uint8_t *out,
		      size_t max)
{
	const struct config_zone *cz = NULL;
	size_t n =
		xfr_notify_check(s, msg, len, from, " over TCP", out, max, &cz);
	size_t olen = cz != NULL ? strlen(cz->origin_text) : 0;
	if (cz != NULL && olen <= XFR_NOTIFY_MAX) {
		struct xfr_notify_msg m = {.fd = -1, .len = (uint16_t)olen};
		memcpy(m.msg, cz->origin_text, olen);
		ssize_t w = write(notify_fd, &m, sizeof(m));
		(void)w; // a full pipe drops it; the primary sends it again
	}
	return n;
}

static void xfr_on_notify(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct xfr *x = arg;
	struct xfr_notify_msg m;
	// a bounded batch per wake-up: a flood cannot starve the loop
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(fd, &m, sizeof(m));
		if (n != (ssize_t)sizeof(m))
			return;
		if (m.len <= sizeof(m.msg) && m.from_len <= sizeof(m.from))
			xfr_notify_one(x, &m);
	}
}

/* ---- status -------------------------------------------------------- */

static void xfr_time_text(time_t t, char *buf, size_t len)
{
	struct tm tm;
	if (t == 0 || gmtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "never");
	else
		strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

// "serving", "expired" or "no copy" (not transferred yet).
static const char *xfr_state_text(const struct xfr_zone *z)
{
	return !z->have_serial ? "no-copy" : z->expired ? "expired" : "serving";
}

void xfr_log_status(const struct xfr *x)
{
	for (size_t i = 0; x != NULL && i < x->zone_count; i++) {
		const struct xfr_zone *z = x->zones[i];
		char last[32], ok[32], next[32], serial[16] = "none";
		xfr_time_text(z->last_transfer, last, sizeof(last));
		xfr_time_text(z->last_ok, ok, sizeof(ok));
		xfr_time_text(z->job ? 0 : z->next, next, sizeof(next));
		if (z->have_serial)
			snprintf(serial, sizeof(serial), "%" PRIu32, z->serial);
		log_info("zone %s: secondary, serial %s, last transfer %s, "
			 "last refresh %s, next refresh %s, %s, last error: %s",
			 z->origin, serial, last, ok,
			 z->job ? "under way" : next, xfr_state_text(z),
			 z->error[0] ? z->error : "none");
	}
}

void xfr_print_status(const struct xfr *x, FILE *out)
{
	for (size_t i = 0; x != NULL && i < x->zone_count; i++) {
		const struct xfr_zone *z = x->zones[i];
		if (!z->seen)
			continue; // left the configuration, transfer ending
		char last[32], ok[32], next[32], exp[32];
		xfr_time_text(z->last_transfer, last, sizeof(last));
		xfr_time_text(z->last_ok, ok, sizeof(ok));
		xfr_time_text(z->job ? 0 : z->next, next, sizeof(next));
		xfr_time_text(z->have_timers && z->last_ok
				      ? z->last_ok + (time_t)z->expire
				      : 0,
			      exp, sizeof(exp));
		fprintf(out, "zone %s", z->origin);
		if (z->have_serial)
			fprintf(out, " serial %" PRIu32, z->serial);
		else
			fprintf(out, " serial none");
		fprintf(out,
			" state %s last-transfer %s%s%s last-refresh %s "
			"next-refresh %s expires %s error %s\n",
			xfr_state_text(z), last, z->how ? " by " : "",
			z->how ? z->how : "", ok, z->job ? "under-way" : next,
			exp, z->error[0] ? z->error : "none");
	}
}

void xfr_print_check(const struct snapshot *s, FILE *out)
{
	for (size_t i = 0; i < s->config->zone_count; i++) {
		const struct config_zone *cz = &s->config->zones[i];
		if (cz->primary_count == 0)
			continue;
		const struct zone *zn = zone_set_find(s->zones, cz->origin);
		fprintf(out, "zone %s: secondary of", cz->origin_text);
		for (size_t k = 0; k < cz->primary_count; k++)
			fprintf(out, " %s", cz->primaries[k].text);
		if (zn == NULL || zn->origin_len != cz->origin_len) {
			fprintf(out, ", no copy yet (%s)\n", cz->file);
			continue;
		}
		fprintf(out, ", copy %s serial %" PRIu32, cz->file,
			zone_soa_serial(zn));
		struct stat st;
		if (stat(cz->file, &st) == 0) {
			uint32_t t[5];
			zone_soa_timers(zn, t);
			char ok[32], exp[32];
			xfr_time_text(st.st_mtime, ok, sizeof(ok));
			xfr_time_text(st.st_mtime + (time_t)t[3], exp,
				      sizeof(exp));
			fprintf(out, ", last confirmed %s, %s %s", ok,
				zn->expired ? "expired at" : "expires", exp);
		}
		fprintf(out, "\n");
	}
}

/* ---- life ---------------------------------------------------------- */

struct xfr *xfr_new(struct event_base *base, struct reload *reload)
{
	struct xfr *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->base = base;
	x->reload = reload;
	int fds[2];
	if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(x);
		return NULL;
	}
	x->pipe_rd = fds[0];
	x->pipe_wr = fds[1];
	x->notify_ev = event_new(base, x->pipe_rd, EV_READ | EV_PERSIST,
				 xfr_on_notify, x);
	if (x->notify_ev == NULL || event_add(x->notify_ev, NULL) < 0) {
		xfr_free(x);
		return NULL;
	}
	return x;
}

int xfr_notify_fd(const struct xfr *x)
{
	return x != NULL ? x->pipe_wr : -1;
}

static void xfr_job_free(struct xfr_job *j)
{
	event_free(j->done_ev);
	snapshot_unref(j->snap);
	pthread_mutex_destroy(&j->lock);
	free(j);
}

/*
 * Stops a transfer under way at shutdown: its socket is shut down, so a
 * thread blocked on a stalled primary fails at once, and it is joined
 * (within XFR_STOP_WAIT_MS), so no transfer thread outlives geovipd's
 * own teardown. One still busy after that (checking a large new copy)
 * is abandoned: it frees its job itself when it ends.
 */
static void xfr_job_stop(struct xfr_job *j)
{
	pthread_mutex_lock(&j->lock);
	j->stopping = true;
	if (j->fd >= 0)
		shutdown(j->fd, SHUT_RDWR);
	pthread_mutex_unlock(&j->lock);
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += XFR_STOP_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	if (pthread_timedjoin_np(j->thread, NULL, &until) == 0) {
		xfr_job_free(j);
		return;
	}
	pthread_mutex_lock(&j->lock);
	bool done = j->done;
	j->abandoned = !done;
	pthread_mutex_unlock(&j->lock);
	if (done) { // it ended meanwhile
		pthread_join(j->thread, NULL);
		xfr_job_free(j);
		return;
	}
	log_warning("a zone transfer still checking its copy is abandoned "
		    "at shutdown");
	event_free(j->done_ev);
	pthread_detach(j->thread);
}

void xfr_free(struct xfr *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->zone_count; i++) {
		struct xfr_zone *z = x->zones[i];
		if (z->job != NULL)
			xfr_job_stop(z->job);
		xfr_zone_free(z);
	}
	free(x->zones);
	if (x->notify_ev != NULL)
		event_free(x->notify_ev);
	close(x->pipe_rd);
	close(x->pipe_wr);
	free(x);
}
