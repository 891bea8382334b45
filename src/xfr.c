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
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "reload.h"
#include "snapshot.h"
#include "zone.h"

/* One transfer in its own thread; it owns everything it reads. */
struct xfr_job {
	pthread_t thread;
	pthread_mutex_t lock;
	bool done, abandoned;  // under lock
	struct event *done_ev; // main loop: collect the result
	struct snapshot *snap; // keeps cz and its config alive
	const struct config_zone *cz;
	bool have_serial;
	uint32_t serial; // the copy being served
	// results
	enum { XFR_FAILED, XFR_CURRENT, XFR_UPDATED } result;
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
	struct event *timer;
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

// State of one AXFR read.
struct xfr_run {
	struct xfr_job *j;
	const struct config_tsig_key *key;
	ldns_rdf *origin;
	ldns_rdf *mac; // the last MAC (request's, then each reply's)
	uint16_t id;
	FILE *out;
	size_t records;
	size_t bytes;
	bool finished;
	bool current; // the primary's serial is not newer
};

static void xfr_run_free(struct xfr_run *r)
{
	ldns_rdf_deep_free(r->origin);
	ldns_rdf_deep_free(r->mac);
}

// The signed AXFR request in wire form; NULL after setting the error.
static uint8_t *xfr_request(struct xfr_run *r, size_t *len)
{
	ldns_pkt *q =
		ldns_pkt_query_new(ldns_rdf_clone(r->origin), LDNS_RR_TYPE_AXFR,
				   LDNS_RR_CLASS_IN, 0);
	uint8_t *wire = NULL;
	if (q == NULL)
		goto oom;
	ldns_pkt_set_id(q, r->id);
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
static bool xfr_take_rr(struct xfr_run *r, const ldns_rr *rr)
{
	struct xfr_job *j = r->j;
	bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
	if (r->records == 0) {
		if (!soa || ldns_dname_compare(ldns_rr_owner(rr), r->origin)) {
			snprintf(j->error, sizeof(j->error),
				 "the transfer "
				 "does not open with the zone's SOA record");
			return false;
		}
		j->new_serial = xfr_soa_field(rr, 2);
		j->refresh = xfr_soa_field(rr, 3);
		j->retry = xfr_soa_field(rr, 4);
		j->expire = xfr_soa_field(rr, 5);
		if (j->have_serial &&
		    !xfr_serial_gt(j->new_serial, j->serial)) {
			r->current = true;
			return true;
		}
	} else if (soa) {
		r->finished = true; // the closing SOA repeats the first
		return true;
	}
	if (ldns_dname_compare(ldns_rr_owner(rr), r->origin) != 0 &&
	    !ldns_dname_is_subdomain(ldns_rr_owner(rr), r->origin)) {
		snprintf(j->error, sizeof(j->error),
			 "the transfer holds a "
			 "record outside the zone");
		return false;
	}
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
	r->records++;
	return true;
}

// One reply message.
static bool xfr_take_msg(struct xfr_run *r, const uint8_t *wire, size_t len,
			 unsigned index)
{
	struct xfr_job *j = r->j;
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, wire, len) != LDNS_STATUS_OK) {
		snprintf(j->error, sizeof(j->error),
			 "message %u of the "
			 "transfer is malformed",
			 index + 1);
		return false;
	}
	bool ok = false;
	if (ldns_pkt_id(p) != r->id || !ldns_pkt_qr(p)) {
		snprintf(j->error, sizeof(j->error),
			 "message %u is not a "
			 "reply to the request",
			 index + 1);
	} else if (ldns_pkt_get_rcode(p) != LDNS_RCODE_NOERROR) {
		ldns_lookup_table *t = ldns_lookup_by_id(
			ldns_rcodes, (int)ldns_pkt_get_rcode(p));
		snprintf(j->error, sizeof(j->error), "the primary answered %s",
			 t ? t->name : "an error");
	} else if (xfr_check_tsig(r, p, wire, len, index)) {
		ok = true;
		ldns_rr_list *an = ldns_pkt_answer(p);
		for (size_t i = 0; ok && i < ldns_rr_list_rr_count(an); i++) {
			if (r->current)
				break; // not newer: the rest is not needed
			if (r->finished) {
				snprintf(j->error, sizeof(j->error),
					 "records "
					 "after the closing SOA");
				ok = false;
				break;
			}
			ok = xfr_take_rr(r, ldns_rr_list_rr(an, i));
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
	for (unsigned i = 0; ok && !r->finished && !r->current; i++) {
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

// Writes the copy to tmp from primary p; true when done (or current).
static bool xfr_from(struct xfr_job *j, const struct config_listen *p,
		     const char *tmp)
{
	const struct config *cfg = j->snap->config;
	struct xfr_run r = {
		.j = j,
		.key = j->cz->tsig >= 0 ? &cfg->keys[j->cz->tsig] : NULL,
		.origin = ldns_dname_new_frm_str(j->cz->origin_text),
		.id = (uint16_t)(random() & 0xffff),
	};
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	time_t deadline = now.tv_sec + XFR_TOTAL_TIMEOUT;
	size_t qlen = 0;
	uint8_t *q = r.origin != NULL ? xfr_request(&r, &qlen) : NULL;
	bool ok = false;
	int fd = -1;
	if (q == NULL)
		goto out;
	fd = xfr_connect(p, deadline);
	if (fd < 0) {
		snprintf(j->error, sizeof(j->error), "cannot connect: %s",
			 strerror(errno));
		goto out;
	}
	uint8_t hdr[2] = {(uint8_t)(qlen >> 8), (uint8_t)qlen};
	if (xfr_io(fd, hdr, 2, true, deadline) < 0 ||
	    xfr_io(fd, q, qlen, true, deadline) < 0) {
		snprintf(j->error, sizeof(j->error), "cannot send the request");
		goto out;
	}
	r.out = fopen(tmp, "w");
	if (r.out == NULL) {
		snprintf(j->error, sizeof(j->error), "cannot write %s: %s", tmp,
			 strerror(errno));
		goto out;
	}
	fprintf(r.out, "; zone %s transferred from %s by geovip\n",
		j->cz->origin_text, p->text);
	ok = xfr_read_all(&r, fd, deadline);
	if (fflush(r.out) != 0 || fsync(fileno(r.out)) != 0) {
		if (ok)
			snprintf(j->error, sizeof(j->error),
				 "cannot write %s: "
				 "%s",
				 tmp, strerror(errno));
		ok = false;
	}
	if (fclose(r.out) != 0 && ok) {
		snprintf(j->error, sizeof(j->error), "cannot write %s", tmp);
		ok = false;
	}
	if (ok)
		j->result = r.current ? XFR_CURRENT : XFR_UPDATED;
out:
	if (fd >= 0)
		close(fd);
	free(q);
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
		char errors[1024] = "";
		for (size_t i = 0; i < cz->primary_count; i++) {
			if (xfr_from(j, &cz->primaries[i], tmp))
				break;
			// keep each primary's reason
			size_t used = strlen(errors);
			if (used >= sizeof(errors) - 1)
				continue;
			snprintf(errors + used, sizeof(errors) - used,
				 "%s%s: %.400s", used ? "; " : "",
				 cz->primaries[i].text, j->error);
		}
		if (j->result == XFR_UPDATED)
			xfr_install(j, tmp);
		else if (j->result == XFR_FAILED)
			snprintf(j->error, sizeof(j->error), "%.500s", errors);
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
		z->last_ok = now;
		z->error[0] = '\0';
	}
	if (j->result == XFR_UPDATED) {
		log_info("zone %s: transferred serial %" PRIu32
			 " (was %s%" PRIu32 "), reloading",
			 z->origin, j->new_serial,
			 z->have_serial ? "" : "none, ",
			 z->have_serial ? z->serial : 0);
		z->last_transfer = now;
		z->serial = j->new_serial;
		z->have_serial = true;
		reload_request_for(z->x->reload, "zone transfer");
	} else if (j->result == XFR_CURRENT) {
		log_debug("zone %s: serial %" PRIu32 " is current", z->origin,
			  z->serial);
	} else {
		snprintf(z->error, sizeof(z->error), "%s", j->error);
		log_error("zone %s: transfer failed, keeping %s: %s", z->origin,
			  z->have_serial ? "the old copy" : "no copy",
			  j->error);
		if (z->have_timers && z->last_ok != 0 &&
		    now - z->last_ok > (time_t)z->expire)
			log_error("zone %s: past its SOA expire time (%" PRIu32
				  " s) without reaching a primary",
				  z->origin, z->expire);
	}
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
	if (z->origin == NULL || z->timer == NULL) {
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

// The reply: the request's header and question, QR and AA, rcode.
static void xfr_notify_reply(const struct xfr_notify_msg *m, ldns_pkt *req,
			     ldns_pkt_rcode rcode,
			     const struct config_tsig_key *key)
{
	ldns_pkt *resp = ldns_pkt_new();
	if (resp == NULL)
		return;
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
	if (ldns_pkt2wire(&wire, resp, &len) == LDNS_STATUS_OK)
		(void)sendto(m->fd, wire, len, MSG_DONTWAIT,
			     (const struct sockaddr *)&m->from, m->from_len);
	free(wire);
	ldns_pkt_free(resp);
}

static void xfr_notify_one(struct xfr *x, const struct xfr_notify_msg *m)
{
	char host[INET6_ADDRSTRLEN] = "?";
	const void *a =
		m->from.ss_family == AF_INET
			? (const void *)&((const struct sockaddr_in *)&m->from)
				  ->sin_addr
			: (const void *)&((const struct sockaddr_in6 *)&m->from)
				  ->sin6_addr;
	inet_ntop(m->from.ss_family, a, host, sizeof(host));
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, m->msg, m->len) != LDNS_STATUS_OK) {
		log_warning("NOTIFY from %s: malformed, dropped", host);
		return;
	}
	const struct config_zone *cz = NULL;
	char *qname = NULL;
	if (ldns_rr_list_rr_count(ldns_pkt_question(p)) == 1) {
		qname = ldns_rdf2str(ldns_rr_owner(
			ldns_rr_list_rr(ldns_pkt_question(p), 0)));
		if (qname != NULL && x->snap != NULL)
			cz = xfr_config_zone(x->snap, qname);
	}
	const struct config_tsig_key *key =
		cz != NULL && cz->tsig >= 0 ? &x->snap->config->keys[cz->tsig]
					    : NULL;
	ldns_pkt_rcode rcode = LDNS_RCODE_REFUSED;
	if (cz == NULL) {
		log_warning("NOTIFY from %s for %s: not a secondary zone here, "
			    "REFUSED",
			    host, qname ? qname : "?");
	} else if (ldns_pkt_qr(p)) {
		rcode = 0; // a reply: never answer it
	} else if (!xfr_from_primary(cz, &m->from)) {
		log_warning("NOTIFY from %s for %s: not a configured primary, "
			    "REFUSED",
			    host, qname);
	} else if (key != NULL &&
		   !ldns_pkt_tsig_verify(p, m->msg, m->len, key->name,
					 key->secret, NULL)) {
		log_warning("NOTIFY from %s for %s: not signed with key %s, "
			    "REFUSED",
			    host, qname, key->name);
		key = NULL; // an unverified request gets an unsigned reply
	} else {
		rcode = LDNS_RCODE_NOERROR;
		log_info("NOTIFY from %s for %s: checking the primary", host,
			 qname);
		struct xfr_zone *z = xfr_zone_find(x, cz->origin_text);
		if (z != NULL) {
			event_del(z->timer);
			xfr_start(z);
		}
	}
	if (!ldns_pkt_qr(p))
		xfr_notify_reply(m, p, rcode, rcode == 0 ? key : NULL);
	free(qname);
	ldns_pkt_free(p);
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

void xfr_log_status(const struct xfr *x)
{
	for (size_t i = 0; x != NULL && i < x->zone_count; i++) {
		const struct xfr_zone *z = x->zones[i];
		char last[32], next[32], serial[16] = "none";
		xfr_time_text(z->last_transfer, last, sizeof(last));
		xfr_time_text(z->job ? 0 : z->next, next, sizeof(next));
		if (z->have_serial)
			snprintf(serial, sizeof(serial), "%" PRIu32, z->serial);
		log_info("zone %s: secondary, serial %s, last transfer %s, "
			 "next refresh %s, last error: %s",
			 z->origin, serial, last, z->job ? "under way" : next,
			 z->error[0] ? z->error : "none");
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
		if (zn != NULL && zn->origin_len == cz->origin_len)
			fprintf(out, ", copy %s serial %" PRIu32 "\n", cz->file,
				zone_soa_serial(zn));
		else
			fprintf(out, ", no copy yet (%s)\n", cz->file);
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

void xfr_free(struct xfr *x)
{
	if (x == NULL)
		return;
	for (size_t i = 0; i < x->zone_count; i++) {
		struct xfr_zone *z = x->zones[i];
		struct xfr_job *j = z->job;
		if (j != NULL) {
			pthread_mutex_lock(&j->lock);
			bool done = j->done;
			j->abandoned = !done;
			pthread_mutex_unlock(&j->lock);
			event_free(j->done_ev);
			if (done) {
				pthread_join(j->thread, NULL);
				snapshot_unref(j->snap);
				pthread_mutex_destroy(&j->lock);
				free(j);
			} else {
				pthread_detach(j->thread);
			}
		}
		xfr_zone_free(z);
	}
	free(x->zones);
	if (x->notify_ev != NULL)
		event_free(x->notify_ev);
	close(x->pipe_rd);
	close(x->pipe_wr);
	free(x);
}
