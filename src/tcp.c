/*
 * src/tcp.c — DNS over TCP (RFC 7766): accepting under the connection cap
 * (evicting the least recently active idle connection), framing and
 * pipelining, output back-pressure, and the timers that bound a client:
 * idle, per-message deadline, connection lifetime, message count.
 */
#include "autoconf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "diag.h"
#include "dnstap.h"
#include "log.h"
#include "snapshot.h"
#include "sockets.h"
#include "worker.h"
#include "xfr.h"

// A client that does not read its answers: stop reading its queries
// once this much output is waiting, resume when it has drained.
#define TCP_OUTPUT_MAX (256 * 1024)
// Input kept per connection: one whole message plus room to pipeline.
#define TCP_INPUT_MAX (2 * (2 + 65535))
#define TCP_MESSAGES_MAX 10000
// A connection lives at most this many idle timeouts (120 s at the
// default 10 s), however busy: a slot cannot be held for ever.
#define TCP_LIFETIME_TIMEOUTS 12
// How long a listener rests after accept(2) failed, and how often that
// is logged: out of descriptors, every worker would otherwise log ten
// lines a second.
#define TCP_ACCEPT_PAUSE_MS 100
#define TCP_ACCEPT_LOG_SECONDS 10

struct tcp_conn {
	struct worker *w;
	struct bufferevent *bev;
	struct event
		*deadline_ev; // the message under way must be whole by then
	struct event *lifetime_ev; // the connection ends then
	struct sockaddr_storage from;
	unsigned idle_seconds; // tcp_idle_timeout when accepted
	unsigned messages;
	bool closing; // close once the output has drained
	bool paused;  // reading stopped: output over TCP_OUTPUT_MAX
	struct tcp_conn *prev, *next;
};

static atomic_llong tcp_accept_error_logged = -TCP_ACCEPT_LOG_SECONDS;

/* ---- the connection list (most recently active first) -------------- */

// This worker's connection count, for other workers choosing whom to ask
// for an idle slot (owner-written: no read-modify-write).
static void worker_count_conns(struct worker *w, int delta)
{
	unsigned n = atomic_load_explicit(&w->conn_count, memory_order_relaxed);
	atomic_store_explicit(&w->conn_count, n + (unsigned)delta,
			      memory_order_relaxed);
}

static void tcp_conn_unlink(struct tcp_conn *c)
{
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		c->w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void tcp_conn_push(struct tcp_conn *c)
{
	worker_count_conns(c->w, 1);
	c->next = c->w->conns;
	if (c->next != NULL)
		c->next->prev = c;
	c->w->conns = c;
}

// Idle: nothing half-received, nothing waiting to be sent.
static bool tcp_conn_is_idle(const struct tcp_conn *c)
{
	return !c->closing && !c->paused &&
	       evbuffer_get_length(bufferevent_get_input(c->bev)) == 0 &&
	       evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

// The least recently active idle connection of w, or NULL.
static struct tcp_conn *tcp_oldest_idle(struct worker *w)
{
	struct tcp_conn *found = NULL;
	for (struct tcp_conn *c = w->conns; c != NULL; c = c->next)
		if (tcp_conn_is_idle(c))
			found = c;
	return found;
}

static void tcp_conn_free(struct tcp_conn *c)
{
	struct worker *w = c->w;
	tcp_conn_unlink(c);
	worker_count_conns(w, -1);
	if (c->deadline_ev != NULL)
		event_free(c->deadline_ev);
	if (c->lifetime_ev != NULL)
		event_free(c->lifetime_ev);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	free(c);
	atomic_fetch_sub(&w->srv->tcp_conns, 1);
	if (w->stopping && w->conns == NULL)
		event_base_loopexit(w->base, NULL);
}

// Stop reading; the connection closes once earlier answers are written.
static void tcp_conn_finish(struct tcp_conn *c)
{
	c->closing = true;
	event_del(c->deadline_ev);
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		tcp_conn_free(c);
}

/* ---- framing ------------------------------------------------------- */

// NOTIFY (opcode 4) over TCP (RFC 1996 allows it): xfr.c checks and
// answers it as over UDP and hands an accepted one to the main thread.
// -1: not a NOTIFY (or no secondary zones), else the reply's length.
static long tcp_hand_notify(struct tcp_conn *c, const struct snapshot *snap,
			    size_t msg_len)
{
	struct worker *w = c->w;
	if (w->srv->notify_fd < 0 || msg_len < 12 ||
	    ((w->req[2] >> 3) & 0xf) != 4)
		return -1;
	return (long)xfr_notify_tcp(snap, w->srv->notify_fd, w->req, msg_len,
				    &c->from, w->resp + 2, QUERY_BUFFER_SIZE);
}

// Sends the answer of len bytes at w->resp + 2 (0: none, finish).
static bool tcp_send(struct tcp_conn *c, size_t len)
{
	struct worker *w = c->w;
	if (len == 0)
		return false;
	w->resp[0] = (uint8_t)(len >> 8);
	w->resp[1] = (uint8_t)len;
	if (bufferevent_write(c->bev, w->resp, len + 2) < 0)
		return false;
	return ++c->messages < TCP_MESSAGES_MAX;
}

// Answers the message of msg_len bytes at the head of input.
// False when the connection must finish.
static bool tcp_answer(struct tcp_conn *c, const struct snapshot *snap,
		       struct evbuffer *in, size_t msg_len)
{
	struct worker *w = c->w;
	evbuffer_drain(in, 2);
	evbuffer_remove(in, w->req, msg_len);
	long notify = tcp_hand_notify(c, snap, msg_len);
	if (notify >= 0)
		return tcp_send(c, (size_t)notify);
	struct query_result qr;
	size_t len = query_process(snap, w->req, msg_len,
				   (const struct sockaddr *)&c->from, QUERY_TCP,
				   (uint32_t)time(NULL), w->resp + 2, &qr);
	metrics_count(&w->metrics, &qr);
	if (w->dnstap != NULL && len > 0)
		dnstap_log(w->dnstap, snap->config, QUERY_TCP,
			   (const struct sockaddr *)&c->from, w->req, msg_len,
			   w->resp + 2, len, &qr);
	return tcp_send(c, len);
}

// Answers every complete message in the input, in order (pipelining).
// Returns how many, or -1 when c was finished (and perhaps freed).
static int tcp_answer_all(struct tcp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	// One acquire load per read event; valid until the worker's next
	// quiescent point (between callbacks, see server.c).
	const struct snapshot *snap = worker_snapshot(c->w);
	int answered = 0;
	for (;;) {
		if (evbuffer_get_length(out) >= TCP_OUTPUT_MAX) {
			// The client is not reading: wait until the write
			// callback (output drained) resumes us.
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
			return answered;
		}
		uint8_t prefix[2];
		if (evbuffer_copyout(in, prefix, 2) < 2)
			return answered;
		size_t msg_len = (size_t)prefix[0] << 8 | prefix[1];
		if (msg_len == 0) {
			tcp_conn_finish(c);
			return -1;
		}
		if (evbuffer_get_length(in) < 2 + msg_len)
			return answered;
		if (!tcp_answer(c, snap, in, msg_len)) {
			worker_count(&c->w->counters.tcp_queries,
				     (uint64_t)answered + 1);
			tcp_conn_finish(c);
			return -1;
		}
		answered++;
	}
}

/*
 * The per-message deadline runs from the first byte of a message to its
 * last: bytes trickling in one at a time cannot hold the connection.
 * new_message: a message just completed, so what is left started now.
 */
static void tcp_arm_deadline(struct tcp_conn *c, bool new_message)
{
	size_t pending = evbuffer_get_length(bufferevent_get_input(c->bev));
	if (pending == 0 || c->paused) {
		event_del(c->deadline_ev);
		return;
	}
	if (new_message || !evtimer_pending(c->deadline_ev, NULL)) {
		struct timeval tv = {(time_t)c->idle_seconds, 0};
		evtimer_add(c->deadline_ev, &tv);
	}
}

static void tcp_process(struct tcp_conn *c)
{
	if (c->closing)
		return;
	int n = tcp_answer_all(c);
	if (n < 0)
		return;
	if (n > 0) {
		worker_count(&c->w->counters.tcp_queries, (uint64_t)n);
		// most recently active first: eviction takes from the end
		tcp_conn_unlink(c);
		tcp_conn_push(c);
		worker_count_conns(c->w, -1); // moved, not added
	}
	tcp_arm_deadline(c, n > 0);
}

/* ---- events -------------------------------------------------------- */

static void tcp_on_read(struct bufferevent *bev, void *arg)
{
	tcp_process(arg);
}

// The output has drained (write low watermark 0).
static void tcp_on_write(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->closing) {
		tcp_conn_free(c);
		return;
	}
	if (c->paused) {
		c->paused = false;
		bufferevent_enable(c->bev, EV_READ);
		tcp_process(c); // queries that arrived while paused
	}
}

static void tcp_on_event(struct bufferevent *bev, short events, void *arg)
{
	struct tcp_conn *c = arg;
	// The client half-closed after its queries: answer them first.
	if ((events & BEV_EVENT_EOF) && !(events & BEV_EVENT_ERROR)) {
		tcp_conn_finish(c);
		return;
	}
	// Idle (read timeout), stuck (write timeout) or broken.
	struct worker_counters *k = &c->w->counters;
	if ((events & BEV_EVENT_TIMEOUT) && (events & BEV_EVENT_READING))
		worker_count(&k->tcp_idle_closed, 1);
	else if (events & BEV_EVENT_TIMEOUT)
		worker_count(&k->tcp_stuck_closed, 1);
	tcp_conn_free(c);
}

// A message began tcp_idle_timeout seconds ago and is still not whole.
static void tcp_on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	worker_count(&c->w->counters.tcp_slow_closed, 1);
	log_debug("tcp: closing a connection whose message took over %u s",
		  c->idle_seconds);
	tcp_conn_free(c);
}

// The connection lifetime is over: answer what arrived, then close.
static void tcp_on_lifetime(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	if (c->closing)
		return;
	// (complete messages were answered when they arrived)
	worker_count(&c->w->counters.tcp_aged_closed, 1);
	tcp_conn_finish(c);
}

/* ---- accepting ----------------------------------------------------- */

static int tcp_conn_setup(struct tcp_conn *c, const struct config *cfg)
{
	c->idle_seconds = cfg->tcp_idle_timeout;
	struct timeval idle = {(time_t)c->idle_seconds, 0};
	struct timeval life = {(time_t)c->idle_seconds * TCP_LIFETIME_TIMEOUTS,
			       0};
	c->deadline_ev = evtimer_new(c->w->base, tcp_on_deadline, c);
	c->lifetime_ev = evtimer_new(c->w->base, tcp_on_lifetime, c);
	if (c->deadline_ev == NULL || c->lifetime_ev == NULL ||
	    evtimer_add(c->lifetime_ev, &life) < 0)
		return -1;
	bufferevent_setcb(c->bev, tcp_on_read, tcp_on_write, tcp_on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TCP_INPUT_MAX);
	// Read timeout: nothing arrived for tcp_idle_timeout, mid-message or
	// not. Write timeout: the client stopped reading its answers.
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	return bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

// The other worker with the most connections, or NULL.
static struct worker *tcp_busiest_other(struct worker *w)
{
	struct server *srv = w->srv;
	struct worker *best = NULL;
	unsigned most = 0;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *o = srv->workers[i];
		unsigned n = atomic_load_explicit(&o->conn_count,
						  memory_order_relaxed);
		if (o != w && n > most) {
			best = o;
			most = n;
		}
	}
	return best;
}

/*
 * Takes a slot under tcp_max_connections. At the cap, the least recently
 * active idle connection of this worker makes room; with none idle here,
 * the newcomer is served and the worker holding the most connections is
 * asked to close its oldest idle one (the count may exceed the cap by
 * fewer than `workers` meanwhile). False: refused, every slot busy.
 */
static bool tcp_take_slot(struct worker *w, unsigned max)
{
	struct server *srv = w->srv;
	unsigned open = atomic_fetch_add(&srv->tcp_conns, 1);
	if (open < max)
		return true;
	struct tcp_conn *victim = tcp_oldest_idle(w);
	if (victim != NULL) {
		worker_count(&w->counters.tcp_evicted, 1);
		log_debug("tcp: %u connections open: closing the oldest "
			  "idle one",
			  open);
		tcp_conn_free(victim); // gives its slot to the newcomer
		return true;
	}
	struct worker *other = tcp_busiest_other(w);
	if (other != NULL && open < max + srv->worker_count - 1) {
		atomic_fetch_add(&other->evict_requests, 1);
		event_active(other->evict_ev, EV_TIMEOUT, 0);
		return true;
	}
	atomic_fetch_sub(&srv->tcp_conns, 1);
	worker_count(&w->counters.tcp_refused, 1);
	log_debug("tcp connection refused: %u connections open, none idle",
		  open);
	return false;
}

void tcp_on_evict_request(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	unsigned n = atomic_exchange(&w->evict_requests, 0);
	for (; n > 0; n--) {
		struct tcp_conn *victim = tcp_oldest_idle(w);
		if (victim == NULL)
			return;
		worker_count(&w->counters.tcp_evicted, 1);
		tcp_conn_free(victim);
	}
}

static void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	const struct config *cfg = worker_snapshot(w)->config;
	if (w->stopping || !tcp_take_slot(w, cfg->tcp_max_connections)) {
		close(fd);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		atomic_fetch_sub(&w->srv->tcp_conns, 1);
		return;
	}
	c->w = w;
	if (salen > 0 && (size_t)salen <= sizeof(c->from))
		memcpy(&c->from, sa, (size_t)salen);
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		close(fd);
	tcp_conn_push(c);
	worker_count(&w->counters.tcp_accepted, 1);
	if (c->bev == NULL || tcp_conn_setup(c, cfg) < 0)
		tcp_conn_free(c);
}

// One warning per TCP_ACCEPT_LOG_SECONDS over the whole server.
static void tcp_log_accept_error(int err)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	long long last = atomic_load(&tcp_accept_error_logged);
	if ((long long)now.tv_sec - last < TCP_ACCEPT_LOG_SECONDS ||
	    !atomic_compare_exchange_strong(&tcp_accept_error_logged, &last,
					    (long long)now.tv_sec))
		return;
	log_warning(
		"tcp accept failed: %s; new TCP connections wait (the "
		"listener rests %d ms at a time)%s",
		strerror(err), TCP_ACCEPT_PAUSE_MS,
		err == EMFILE || err == ENFILE
			? ": raise the descriptor limit (ulimit -n) or lower "
			  "tcp_max_connections"
			: "");
}

// accept(2) failed, e.g. out of file descriptors (EMFILE, ENFILE): the
// pending connection stays in the backlog and the level-triggered
// listener would fire again at once, so rest it for a moment instead of
// spinning; the timer re-enables it. UDP and open connections go on.
static void tcp_on_accept_error(struct evconnlistener *l, void *arg)
{
	struct worker *w = arg;
	int err = EVUTIL_SOCKET_ERROR();
	evconnlistener_disable(l);
	struct timeval pause = {0, TCP_ACCEPT_PAUSE_MS * 1000};
	event_add(w->resume_ev, &pause);
	tcp_log_accept_error(err);
}

/* ---- the worker's side --------------------------------------------- */

int tcp_open(struct worker *w, size_t i, struct diag *d)
{
	const struct config_listen *a = &w->srv->addrs[i];
	w->tcp_fds[i] = sockets_open_tcp(a, w->srv->config_path, d);
	if (w->tcp_fds[i] < 0)
		return -1;
	// Backlog 0: the socket is already listening.
	w->tcp_listeners[i] = evconnlistener_new(w->base, tcp_on_accept, w,
						 LEV_OPT_CLOSE_ON_FREE |
							 LEV_OPT_CLOSE_ON_EXEC,
						 0, w->tcp_fds[i]);
	if (w->tcp_listeners[i] == NULL) {
		diag_error(d, w->srv->config_path, a->line,
			   "cannot serve %s/tcp: out of memory", a->text);
		return -1;
	}
	evconnlistener_set_error_cb(w->tcp_listeners[i], tcp_on_accept_error);
	return 0;
}

void tcp_close_listeners(struct worker *w)
{
	for (size_t i = 0; i < w->srv->addr_count; i++) {
		if (w->tcp_listeners[i] != NULL) {
			evconnlistener_free(w->tcp_listeners[i]);
			w->tcp_listeners[i] = NULL;
		} else if (w->tcp_fds[i] >= 0) {
			close(w->tcp_fds[i]);
		}
		w->tcp_fds[i] = -1; // closed with the listener
	}
}

void tcp_resume_listeners(struct worker *w)
{
	for (size_t i = 0; i < w->srv->addr_count; i++)
		if (w->tcp_listeners[i] != NULL)
			evconnlistener_enable(w->tcp_listeners[i]);
}

void tcp_finish_all(struct worker *w)
{
	struct tcp_conn *next;
	for (struct tcp_conn *c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->closing)
			tcp_conn_finish(c);
	}
}

void tcp_free_all(struct worker *w)
{
	while (w->conns != NULL)
		tcp_conn_free(w->conns);
}
