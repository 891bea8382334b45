/*
 * src/fleet.c — fleet overrides and health from etcd, on the main loop
 * only: a range read of the prefix (the state and its revision), then a
 * watch from the next revision over the v3 JSON gateway (libevent's HTTP
 * client); every change re-applies the valid values as the overlay's
 * fleet overrides and health (each key's mod_revision one report). A
 * lost connection keeps the last state and reconnects with backoff,
 * trying the next URL, and reads the whole prefix again.
 */
#include "autoconf.h"
#include "fleet.h"

#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config.h"
#include "diag.h"
#include "fleetkv.h"
#include "json.h"
#include "log.h"
#include "overlay.h"

/* Backoff between attempts: doubles from the first to the last. */
#define FLEET_BACKOFF_MIN_MS 100
#define FLEET_BACKOFF_MAX_MS 5000
/* Seconds etcd has to answer a range or to confirm a watch. */
#define FLEET_ANSWER_TIMEOUT 5
/* Largest range answer, and longest watch message. */
#define FLEET_BODY_MAX (4 * 1024 * 1024)
/* Tokens of one answer: about 15 per key, FLEET_KEYS_MAX keys and more. */
#define FLEET_TOKS 16384
/* TCP keepalive on the watch: a silent etcd (a partition, no reset) is
 * noticed after idle + count x interval seconds. */
#define FLEET_KEEPIDLE 10
#define FLEET_KEEPINTVL 5
#define FLEET_KEEPCNT 3
/* While etcd stays unreachable, one warning per this many attempts. */
#define FLEET_WARN_EVERY 12

enum fleet_state { FLEET_IDLE, FLEET_RANGE, FLEET_WATCH };

/* The valid value at one key: an override or a health state. */
struct fleet_key {
	char key[FLEETKV_KEY_MAX + 1];
	struct fleetkv_value v;
	int64_t revision; // its mod_revision: a health report is counted once
};

struct fleet {
	struct overlay *ov;
	struct event_base *base;
	struct config_etcd *urls; // copies: a reload frees the config
	size_t url_count, url_next;
	char prefix[FLEETKV_PREFIX_MAX + 1];
	struct evhttp_connection *conn;
	enum fleet_state state;
	struct event *retry;    // the next attempt
	struct event *deadline; // an answer overdue
	int backoff_ms;
	unsigned failures;        // attempts since the last success
	bool synced;              // read the prefix at least once
	int64_t revision;         // the last one seen
	int64_t lost_ms;          // when the last success ended, or 0
	struct evbuffer *pending; // the watch stream up to its next newline
	struct json_tok *toks;    // FLEET_TOKS
	size_t key_count;         // keys[], sorted by key
	struct fleet_key keys[FLEET_KEYS_MAX];
};

static const struct config_etcd *fleet_url(const struct fleet *f)
{
	return &f->urls[f->url_next];
}

/* ---- the table of keys and the overlay ------------------------------ */

static int fleet_key_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fleet_key *)a)->key,
		      ((const struct fleet_key *)b)->key);
}

static void fleet_key_remove(struct fleet *f, const char *key)
{
	for (size_t i = 0; i < f->key_count; i++)
		if (strcmp(f->keys[i].key, key) == 0) {
			memmove(&f->keys[i], &f->keys[i + 1],
				(f->key_count - i - 1) * sizeof(f->keys[0]));
			f->key_count--;
			return;
		}
}

static void fleet_key_set(struct fleet *f, const char *key,
			  const struct fleetkv_value *v, int64_t revision)
{
	fleet_key_remove(f, key);
	if (f->key_count == FLEET_KEYS_MAX) {
		log_error("fleet: %s: more than %d keys under %s/; ignored",
			  key, FLEET_KEYS_MAX, f->prefix);
		return;
	}
	struct fleet_key *k = &f->keys[f->key_count++];
	snprintf(k->key, sizeof(k->key), "%s", key);
	k->v = *v;
	k->revision = revision;
	qsort(f->keys, f->key_count, sizeof(f->keys[0]), fleet_key_cmp);
}

// Whether a and b are of one class: both overrides, or both health.
static bool fleet_same_class(const struct fleetkv_value *a,
			     const struct fleetkv_value *b)
{
	return (a->kind == FLEETKV_HEALTH) == (b->kind == FLEETKV_HEALTH);
}

// The valid value key held before, copied into out; NULL when none.
static const struct fleet_key *fleet_key_find(const struct fleet_key *keys,
					      size_t n, const char *key,
					      struct fleet_key *out)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(keys[i].key, key) == 0) {
			*out = keys[i];
			return out;
		}
	return NULL;
}

// A bad value at key (why says what is wrong, key first): logged; the
// key keeps prev, its last valid value, or applies nothing without one.
static void fleet_reject(struct fleet *f, const char *key, const char *why,
			 const struct fleet_key *prev)
{
	fleet_key_remove(f, key);
	if (prev == NULL) {
		log_error("fleet: %s; ignored: this key applies nothing", why);
		return;
	}
	log_error("fleet: %s; ignored: the key keeps its last valid value "
		  "(revision %" PRId64 ")",
		  why, prev->revision);
	fleet_key_set(f, key, &prev->v, prev->revision);
}

// A value read at key (at etcd revision revision): kept when it is a
// valid, current override or health state; a bad one is logged and
// leaves the key's last valid value prev (or nothing) in place; a stale
// one (expired) is logged and applies nothing.
static void fleet_accept(struct fleet *f, const char *key, const char *text,
			 size_t len, int64_t revision,
			 const struct fleet_key *prev)
{
	struct fleetkv_value v;
	struct diag *d = diag_new();
	int rc = d != NULL ? fleetkv_value_parse(key, text, len, &v, d) : -1;
	if (rc < 0) {
		fleet_reject(f, key,
			     d != NULL && diag_count(d) > 0 ? diag_message(d, 0)
							    : "out of memory",
			     prev);
		diag_free(d);
		return;
	}
	diag_free(d);
	// a region this server's config lacks: a health value would count
	// reports for nothing (an override is kept, logged when applied)
	if (v.kind == FLEETKV_HEALTH &&
	    !overlay_region_known(f->ov, v.region)) {
		char why[FLEETKV_KEY_MAX + 128];
		snprintf(why, sizeof(why),
			 "%s: region '%s' is not in this server's "
			 "configuration",
			 key, v.region);
		fleet_reject(f, key, why, prev);
		return;
	}
	fleet_key_remove(f, key);
	char when[32];
	// a health value without `expires` holds until changed or deleted
	if ((v.kind != FLEETKV_HEALTH || v.expires_ms > 0) &&
	    v.expires_ms <= overlay_now_ms()) {
		overlay_time_text(v.expires_ms, when, sizeof(when));
		log_warning("fleet: %s: stale: expired at %s; ignored", key,
			    when);
		return;
	}
	for (size_t i = 0; i < f->key_count; i++)
		if (strcmp(f->keys[i].v.region, v.region) == 0 &&
		    fleet_same_class(&f->keys[i].v, &v) &&
		    strcmp(f->keys[i].key, key) != 0) {
			bool first = strcmp(key, f->keys[i].key) < 0;
			log_warning("fleet: %s and %s both %s region "
				    "'%s': %s applies (the first in key order)",
				    key, f->keys[i].key,
				    v.kind == FLEETKV_HEALTH
					    ? "give the health of"
					    : "override",
				    v.region, first ? key : f->keys[i].key);
			break;
		}
	fleet_key_set(f, key, &v, revision);
}

// A fleet key as an overlay entry.
static void fleet_entry(const struct fleet_key *k, struct overlay_entry *e)
{
	memset(e, 0, sizeof(*e));
	e->source = OVERLAY_FLEET;
	snprintf(e->key, sizeof(e->key), "%s", k->key);
	snprintf(e->who, sizeof(e->who), "%s", k->v.who);
	snprintf(e->from, sizeof(e->from), "%s", k->v.region);
	snprintf(e->to, sizeof(e->to), "%s", k->v.to);
	e->spread = k->v.to[0] == '\0'; // no "to": by capacity
	snprintf(e->reason, sizeof(e->reason), "%s", k->v.reason);
	e->bp = k->v.bp;
	e->drain = k->v.kind == FLEETKV_DRAIN;
	e->expires_ms = k->v.expires_ms;
}

// The overlay's fleet health := the current health keys (not expired),
// each with its revision: the overlay counts a revision once.
static void fleet_apply_health(struct fleet *f, int64_t now)
{
	struct overlay_fleet_health *r = calloc(FLEET_KEYS_MAX, sizeof(*r));
	if (r == NULL) {
		log_error("fleet: out of memory; health unchanged");
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < f->key_count; i++) {
		const struct fleet_key *k = &f->keys[i];
		if (k->v.kind != FLEETKV_HEALTH ||
		    (k->v.expires_ms > 0 && k->v.expires_ms <= now))
			continue;
		bool dup = false; // logged when the key was read
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(r[j].region, k->v.region) == 0;
		if (dup)
			continue;
		struct overlay_fleet_health *h = &r[n++];
		snprintf(h->region, sizeof(h->region), "%s", k->v.region);
		snprintf(h->key, sizeof(h->key), "%s", k->key);
		snprintf(h->who, sizeof(h->who), "%s", k->v.who);
		snprintf(h->reason, sizeof(h->reason), "%s", k->v.reason);
		h->down = k->v.down;
		// etcd always sends mod_revision; a missing one reads as 0
		h->revision = k->revision > 0 ? k->revision : 0;
		h->expires_ms = k->v.expires_ms;
	}
	(void)overlay_fleet_health_set(f->ov, r, n);
	free(r);
}

// The overlay's fleet overrides and health := the current keys. Two keys
// for one region: the first in key order applies (the same on every
// server).
static void fleet_apply(struct fleet *f)
{
	struct overlay_entry *e = calloc(FLEET_KEYS_MAX, sizeof(*e));
	int64_t now = overlay_now_ms();
	fleet_apply_health(f, now);
	if (e == NULL) {
		log_error("fleet: out of memory; overrides unchanged");
		return;
	}
	size_t n = 0;
	for (size_t i = 0; i < f->key_count; i++) {
		const struct fleet_key *k = &f->keys[i];
		if (k->v.kind == FLEETKV_HEALTH || k->v.expires_ms <= now)
			continue; // the overlay's timer expired it
		bool dup = false; // logged when the key was read
		for (size_t j = 0; j < n && !dup; j++)
			dup = strcmp(e[j].from, k->v.region) == 0;
		if (!dup)
			fleet_entry(k, &e[n++]);
	}
	(void)overlay_fleet_set(f->ov, e, n);
	free(e);
}

/* ---- connection life ------------------------------------------------ */

// Gives up the current attempt (why is logged), keeping the state; the
// next URL is tried after the backoff. The connection is freed from the
// timer, never inside one of its own callbacks.
static void fleet_fail(struct fleet *f, const char *why)
{
	if (f->state == FLEET_IDLE)
		return;
	f->state = FLEET_IDLE;
	event_del(f->deadline);
	if (f->failures++ == 0)
		f->lost_ms = overlay_now_ms();
	char kept[64] = "no fleet state read yet";
	if (f->synced)
		snprintf(kept, sizeof(kept),
			 "keeping the last known state (%zu key(s))",
			 f->key_count);
	if (f->failures == 1 || f->failures % FLEET_WARN_EVERY == 0)
		log_warning("fleet: etcd %s: %s; %s; retrying (attempt %u, "
			    "next in %d ms)",
			    fleet_url(f)->url, why, kept, f->failures,
			    f->backoff_ms);
	else
		log_debug("fleet: etcd %s: %s", fleet_url(f)->url, why);
	f->url_next = (f->url_next + 1) % f->url_count;
	struct timeval tv = {f->backoff_ms / 1000,
			     (f->backoff_ms % 1000) * 1000};
	event_add(f->retry, &tv);
	f->backoff_ms = f->backoff_ms * 2 > FLEET_BACKOFF_MAX_MS
				? FLEET_BACKOFF_MAX_MS
				: f->backoff_ms * 2;
}

static void fleet_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	fleet_fail(arg, "no answer within the time limit");
}

// req, a POST of body to path, sent on the current connection (which
// owns req from here); -1 when libevent has no memory.
static int fleet_post(struct fleet *f, struct evhttp_request *req,
		      const char *path, const char *body)
{
	if (req == NULL)
		return -1;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	if (evhttp_add_header(h, "Host", fleet_url(f)->host) < 0 ||
	    evhttp_add_header(h, "Content-Type", "application/json") < 0 ||
	    evbuffer_add(evhttp_request_get_output_buffer(req), body,
			 strlen(body)) < 0) {
		evhttp_request_free(req);
		return -1;
	}
	if (evhttp_make_request(f->conn, req, EVHTTP_REQ_POST, path) < 0)
		return -1; // libevent freed req
	struct timeval tv = {FLEET_ANSWER_TIMEOUT, 0};
	event_add(f->deadline, &tv);
	return 0;
}

// The answer's body as JSON in f->toks; -1 after logging why.
static int fleet_json(struct fleet *f, const char *what, const char *text,
		      size_t len, struct json *j)
{
	size_t pos;
	int rc = json_parse(j, text, len, f->toks, FLEET_TOKS, &pos);
	if (rc < 0) {
		char why[128];
		snprintf(why, sizeof(why), "%s: %s at byte %zu", what,
			 json_strerror(rc), pos);
		fleet_fail(f, why);
		return -1;
	}
	return 0;
}

/* ---- the watch stream ----------------------------------------------- */

// One event of a watch message: a put or a delete of one key.
static void fleet_event(struct fleet *f, const struct json *j, int ev)
{
	char key[FLEETKV_KEY_MAX + 1], *value = malloc(FLEETKV_VALUE_MAX + 1);
	size_t len;
	int kv = json_member(j, ev, "kv");
	int rc = value != NULL ? fleetkv_kv(j, kv, key, value, &len) : -1;
	char type[16] = "PUT";
	(void)json_string(j, json_member(j, ev, "type"), type, sizeof(type));
	struct fleet_key old;
	const struct fleet_key *prev =
		rc == -1 ? NULL
			 : fleet_key_find(f->keys, f->key_count, key, &old);
	if (rc == -1) {
		log_error("fleet: a watch event without a usable key "
			  "(missing, not base64 or over %d bytes); ignored",
			  FLEETKV_KEY_MAX);
	} else if (strcmp(type, "DELETE") == 0) {
		fleet_key_remove(f, key);
		log_info("fleet: %s deleted", key);
	} else if (rc == -2) {
		char why[FLEETKV_KEY_MAX + 64];
		snprintf(why, sizeof(why),
			 "%s: value not base64 or longer than %d bytes", key,
			 FLEETKV_VALUE_MAX);
		fleet_reject(f, key, why, prev);
	} else {
		fleet_accept(f, key, value, len,
			     fleetkv_int(j, json_member(j, kv, "mod_revision")),
			     prev);
	}
	free(value);
}

// One message of the watch stream: created, events, or the end.
static void fleet_watch_message(struct fleet *f, const char *text, size_t len)
{
	struct json j;
	if (fleet_json(f, "watch", text, len, &j) < 0)
		return;
	int res = json_member(&j, 0, "result");
	if (res < 0) {
		fleet_fail(f, "the watch answered an error");
		return;
	}
	if (json_is(&j, json_member(&j, res, "created"), JSON_TRUE)) {
		// only a confirmed watch ends the backoff: a watch refused at
		// once must not turn into a full read ten times a second
		event_del(f->deadline);
		f->failures = 0;
		f->lost_ms = 0;
		f->backoff_ms = FLEET_BACKOFF_MIN_MS;
		log_debug("fleet: watching %s/ on %s", f->prefix,
			  fleet_url(f)->url);
	}
	if (json_is(&j, json_member(&j, res, "canceled"), JSON_TRUE)) {
		// compacted past our revision, or closed by etcd: read again
		fleet_fail(f, "the watch was canceled by etcd");
		return;
	}
	int64_t rev =
		fleetkv_int(&j, json_member(&j, json_member(&j, res, "header"),
					    "revision"));
	if (rev > f->revision)
		f->revision = rev;
	int evs = json_member(&j, res, "events");
	if (!json_is(&j, evs, JSON_ARRAY) || j.toks[evs].size == 0)
		return;
	uint32_t ev = (uint32_t)evs + 1;
	for (uint32_t i = 0; i < j.toks[evs].size; i++) {
		fleet_event(f, &j, (int)ev);
		ev = j.toks[ev].next;
	}
	fleet_apply(f);
}

static void fleet_on_chunk(struct evhttp_request *req, void *arg)
{
	struct fleet *f = arg;
	if (f->state != FLEET_WATCH)
		return;
	evbuffer_add_buffer(f->pending, evhttp_request_get_input_buffer(req));
	for (;;) {
		size_t len;
		char *line = evbuffer_readln(f->pending, &len, EVBUFFER_EOL_LF);
		if (line == NULL)
			break;
		if (len > 0)
			fleet_watch_message(f, line, len);
		free(line);
		if (f->state != FLEET_WATCH)
			return;
	}
	if (evbuffer_get_length(f->pending) > FLEET_BODY_MAX)
		fleet_fail(f, "a watch message longer than 4 MiB");
}

static void fleet_on_watch_end(struct evhttp_request *req, void *arg)
{
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	char why[64] = "the connection was lost";
	if (code != 0 && code != 200)
		snprintf(why, sizeof(why), "watch: HTTP status %d", code);
	fleet_fail(arg, why);
}

// An idle watch sends nothing: keepalive probes find a peer that is gone
// without a reset. Best effort (logged at debug when refused).
static void fleet_keepalive(struct fleet *f)
{
	struct bufferevent *bev = evhttp_connection_get_bufferevent(f->conn);
	evutil_socket_t fd = bev != NULL ? bufferevent_getfd(bev) : -1;
	int on = 1, idle = FLEET_KEEPIDLE, intvl = FLEET_KEEPINTVL,
	    cnt = FLEET_KEEPCNT;
	if (fd < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on)) < 0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle)) <
		    0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl)) <
		    0 ||
	    setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt)) < 0)
		log_debug("fleet: no TCP keepalive on the watch connection");
}

static void fleet_watch(struct fleet *f, int64_t revision)
{
	char body[1024];
	evbuffer_drain(f->pending, evbuffer_get_length(f->pending));
	evhttp_connection_set_max_body_size(f->conn, -1); // a stream
	f->state = FLEET_WATCH;
	if (fleetkv_watch_body(f->prefix, revision + 1, body, sizeof(body)) <
	    0) {
		fleet_fail(f, "cannot build the watch request");
		return;
	}
	fleet_keepalive(f);
	struct evhttp_request *req = evhttp_request_new(fleet_on_watch_end, f);
	if (req != NULL)
		evhttp_request_set_chunked_cb(req, fleet_on_chunk);
	if (fleet_post(f, req, "/v3/watch", body) < 0)
		fleet_fail(f, "out of memory");
}

/* ---- the range read ------------------------------------------------- */

// One kv of a range answer into the table; old[0..n) is the table before
// the read (a bad value keeps the key's last valid one).
static void fleet_range_kv(struct fleet *f, const struct json *j, int kv,
			   const struct fleet_key *old, size_t n, char *value)
{
	char key[FLEETKV_KEY_MAX + 1];
	size_t len;
	struct fleet_key copy;
	int rc = fleetkv_kv(j, kv, key, value, &len);
	const struct fleet_key *prev =
		rc == -1 ? NULL : fleet_key_find(old, n, key, &copy);
	if (rc == -1) {
		log_error("fleet: a key that is not base64 or longer than %d "
			  "bytes under %s/; ignored",
			  FLEETKV_KEY_MAX, f->prefix);
	} else if (rc == -2) {
		char why[FLEETKV_KEY_MAX + 64];
		snprintf(why, sizeof(why),
			 "%s: value not base64 or longer than %d bytes", key,
			 FLEETKV_VALUE_MAX);
		fleet_reject(f, key, why, prev);
	} else {
		fleet_accept(f, key, value, len,
			     fleetkv_int(j, json_member(j, kv, "mod_revision")),
			     prev);
	}
}

// The keys of a range answer replace the table.
static void fleet_range_keys(struct fleet *f, const struct json *j)
{
	struct fleet_key *old = malloc(sizeof(f->keys));
	char *value = malloc(FLEETKV_VALUE_MAX + 1);
	size_t n = old != NULL ? f->key_count : 0;
	if (old != NULL)
		memcpy(old, f->keys, n * sizeof(*old));
	f->key_count = 0;
	int kvs = json_member(j, 0, "kvs");
	uint32_t kv = (uint32_t)kvs + 1;
	for (uint32_t i = 0; json_is(j, kvs, JSON_ARRAY) && value != NULL &&
			     i < j->toks[kvs].size;
	     i++) {
		fleet_range_kv(f, j, (int)kv, old, n, value);
		kv = j->toks[kv].next;
	}
	if (value == NULL)
		log_error("fleet: out of memory reading %s/", f->prefix);
	free(value);
	free(old);
}

static void fleet_on_range(struct evhttp_request *req, void *arg)
{
	struct fleet *f = arg;
	if (f->state != FLEET_RANGE)
		return;
	event_del(f->deadline);
	int code = req != NULL ? evhttp_request_get_response_code(req) : 0;
	if (code != 200) {
		char why[64] = "cannot connect";
		if (code != 0)
			snprintf(why, sizeof(why), "range: HTTP status %d",
				 code);
		fleet_fail(f, why);
		return;
	}
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(in);
	const char *text = (const char *)evbuffer_pullup(in, -1);
	struct json j;
	if (text == NULL || fleet_json(f, "range", text, len, &j) < 0)
		return;
	int64_t rev = fleetkv_int(
		&j, json_member(&j, json_member(&j, 0, "header"), "revision"));
	if (rev < 0) {
		fleet_fail(f, "range: no revision in the answer");
		return;
	}
	fleet_range_keys(f, &j);
	if (json_is(&j, json_member(&j, 0, "more"), JSON_TRUE))
		log_error("fleet: more than %d keys under %s/: only the first "
			  "%d in key order are read",
			  FLEET_KEYS_MAX, f->prefix, FLEET_KEYS_MAX);
	size_t health = 0;
	for (size_t i = 0; i < f->key_count; i++)
		health += f->keys[i].v.kind == FLEETKV_HEALTH;
	log_info("fleet: %s %s/ from etcd %s at revision %" PRId64
		 ": %zu override(s), %zu health value(s)",
		 f->synced ? "resynced" : "read", f->prefix, fleet_url(f)->url,
		 rev, f->key_count - health, health);
	f->synced = true;
	f->revision = rev;
	fleet_apply(f);
	fleet_watch(f, rev);
}

// The timer: a new connection to the current URL, and a range read.
static void fleet_on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct fleet *f = arg;
	if (f->conn != NULL)
		evhttp_connection_free(f->conn);
	const struct config_etcd *u = fleet_url(f);
	// a name is resolved here, blocking the main loop (not the
	// queries): the README advises addresses
	f->conn = evhttp_connection_base_new(f->base, NULL, u->host, u->port);
	char body[1024];
	f->state = FLEET_RANGE;
	if (f->conn == NULL || fleetkv_range_body(f->prefix, FLEET_KEYS_MAX,
						  body, sizeof(body)) < 0) {
		fleet_fail(f, "out of memory");
		return;
	}
	evhttp_connection_set_max_body_size(f->conn, FLEET_BODY_MAX);
	if (fleet_post(f, evhttp_request_new(fleet_on_range, f), "/v3/kv/range",
		       body) < 0)
		fleet_fail(f, "out of memory");
}

/* ---- life ----------------------------------------------------------- */

static int fleet_copy_urls(struct fleet *f, const struct config_fleet *c)
{
	f->urls = calloc(c->etcd_count, sizeof(*f->urls));
	if (f->urls == NULL)
		return -1;
	f->url_count = c->etcd_count;
	for (size_t i = 0; i < c->etcd_count; i++) {
		f->urls[i].port = c->etcd[i].port;
		f->urls[i].url = strdup(c->etcd[i].url);
		f->urls[i].host = strdup(c->etcd[i].host);
		if (f->urls[i].url == NULL || f->urls[i].host == NULL)
			return -1;
	}
	return 0;
}

struct fleet *fleet_new(const struct config *cfg, struct overlay *ov,
			struct event_base *base, struct diag *d)
{
	if (cfg->fleet.line == 0)
		return NULL;
	struct fleet *f = calloc(1, sizeof(*f));
	if (f == NULL) {
		diag_error(d, cfg->path, cfg->fleet.line, "out of memory");
		return NULL;
	}
	f->ov = ov;
	f->base = base;
	f->backoff_ms = FLEET_BACKOFF_MIN_MS;
	snprintf(f->prefix, sizeof(f->prefix), "%s", cfg->fleet.prefix);
	f->retry = evtimer_new(base, fleet_on_retry, f);
	f->deadline = evtimer_new(base, fleet_on_deadline, f);
	f->pending = evbuffer_new();
	f->toks = calloc(FLEET_TOKS, sizeof(*f->toks));
	if (f->retry == NULL || f->deadline == NULL || f->pending == NULL ||
	    f->toks == NULL || fleet_copy_urls(f, &cfg->fleet) < 0) {
		diag_error(d, cfg->path, cfg->fleet.line, "out of memory");
		fleet_free(f);
		return NULL;
	}
	struct timeval now = {0, 0};
	event_add(f->retry, &now);
	log_info("fleet: overrides from etcd %s%s under %s/", f->urls[0].url,
		 f->url_count > 1 ? " (and others)" : "", f->prefix);
	return f;
}

void fleet_status(const struct fleet *f, char *buf, size_t len)
{
	char since[32];
	buf[0] = '\0';
	if (f == NULL)
		return;
	int n = snprintf(buf, len, "fleet %s/ etcd %s ", f->prefix,
			 fleet_url(f)->url);
	if (n < 0 || (size_t)n >= len)
		return;
	if (f->failures == 0 && f->state == FLEET_WATCH) {
		snprintf(buf + n, len - (size_t)n,
			 "watching at revision %" PRId64 ", %zu key(s)",
			 f->revision, f->key_count);
	} else if (!f->synced) {
		snprintf(buf + n, len - (size_t)n, "not read yet");
	} else {
		overlay_time_text(f->lost_ms, since, sizeof(since));
		snprintf(buf + n, len - (size_t)n,
			 "unreachable since %s (attempt %u); keeping revision "
			 "%" PRId64 ", %zu key(s)",
			 since, f->failures, f->revision, f->key_count);
	}
}

void fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	if (f->conn != NULL)
		evhttp_connection_free(f->conn);
	if (f->retry != NULL)
		event_free(f->retry);
	if (f->deadline != NULL)
		event_free(f->deadline);
	if (f->pending != NULL)
		evbuffer_free(f->pending);
	for (size_t i = 0; f->urls != NULL && i < f->url_count; i++) {
		free(f->urls[i].url);
		free(f->urls[i].host);
	}
	free(f->urls);
	free(f->toks);
	free(f);
}
