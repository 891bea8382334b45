/*
 * src/listen.c — sockets and libevent: one thread and one event_base per
 * worker, each with its own SO_REUSEPORT UDP and TCP socket per listen
 * address. UDP is read in bounded batches; TCP is framed per RFC 7766.
 * Every message goes to query_process with the worker's own snapshot.
 */
#include "autoconf.h"
#include "listen.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>

#include "config.h"
#include "log.h"
#include "query.h"
#include "rrl.h"
#include "snapshot.h"

// At most this many UDP packets per socket per wake-up, so one busy
// socket cannot starve the others served by the same worker.
#define UDP_BATCH 32             /* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS 2             /* batches per readable event */
#define UDP_RCVBUF (4 * 1024 * 1024)
#define TCP_BACKLOG 256
// A client that does not read its answers: stop reading its queries
// once this much output is waiting, resume when it has drained.
#define TCP_OUTPUT_MAX (256 * 1024)
// Input kept per connection: one whole message plus room to pipeline.
#define TCP_INPUT_MAX (2 * (2 + 65535))
#define TCP_MESSAGES_MAX 10000
#define MAX_WORKERS 256
// How long a stopping worker lets its TCP answers drain.
#define STOP_DRAIN_SECONDS 1
// How often worker 0 logs the RRL counters (when they moved).
#define RRL_LOG_SECONDS 10

struct worker;

struct tcp_conn {
	struct worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage from;
	unsigned messages;
	bool closing;           // close once the output has drained
	bool paused;            // reading stopped: output over TCP_OUTPUT_MAX
	struct tcp_conn *prev, *next;
};

struct udp_sock {
	struct worker *w;
	int fd;
	bool pktinfo;           // wildcard address: reply from the query's address
	int family;
	struct event *ev;
};

union udp_control {
	struct cmsghdr align;
	uint8_t buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
};

/*
 * One datagram of a batch. Requests get a full 64 KiB so no query is ever
 * cut short (untouched pages cost nothing); no UDP answer exceeds 1232.
 */
struct udp_slot {
	struct sockaddr_storage from;
	union udp_control cin, cout;
	struct iovec in_iov, out_iov;
	uint8_t req[65536];
	uint8_t resp[QUERY_UDP_BUFFER_SIZE];
};

/* recvmmsg/sendmmsg vectors: one system call each way per batch. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct mmsghdr out[UDP_BATCH];
	struct udp_slot slot[UDP_BATCH];
};

struct worker {
	struct server *srv;
	unsigned id;
	pthread_t thread;
	bool running;
	struct event_base *base;

	struct snapshot *snap;  // touched only by this worker's thread
	pthread_mutex_t pending_lock;
	struct snapshot *pending;
	struct event *publish_ev;
	struct event *stop_ev;
	struct event *drain_ev;
	struct event *resume_ev;        // re-enables listeners after accept errors
	struct event *rrl_log_ev;       // worker 0 only: the RRL period line
	uint64_t rrl_now;               // ms; read once per UDP batch, 0: not yet
	bool stopping;

	struct udp_sock *udp;           // one per listen address
	int *tcp_fds;                   // one per listen address
	struct evconnlistener **tcp_listeners;
	struct tcp_conn *conns;

	struct udp_batch udp_batch;
	uint8_t req[65536];
	uint8_t resp[2 + QUERY_BUFFER_SIZE]; // room for the TCP length prefix
};

struct server {
	struct config_listen *addrs;
	size_t addr_count;
	unsigned worker_count;
	struct worker **workers;
	atomic_uint tcp_conns;          // over every worker and address
	// One bucket table for all workers: SO_REUSEPORT spreads one
	// network's packets over every worker.
	struct rrl_table *rrl;
	bool rrl_used;                  // some snapshot had RRL on (main thread)
};

static pthread_once_t listen_evthread_once = PTHREAD_ONCE_INIT;

static void listen_evthread_init(void)
{
	evthread_use_pthreads();
}

/* ---- sockets ------------------------------------------------------- */

static bool listen_addr_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static int listen_setopt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

/*
 * A socket of type for addr, bound; reuseport shares the port between
 * workers. Returns the fd, or -1 with errno set.
 */
static int listen_socket_bind(const struct config_listen *a, int type,
			      bool reuseport)
{
	int family = a->addr.ss_family;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6 &&
	    listen_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
		goto fail;
	// TCP: a restart must not trip over TIME_WAIT connections. (UDP
	// gets no SO_REUSEADDR: on Linux it would let two servers share.)
	if (type == SOCK_STREAM &&
	    listen_setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail;
	if (reuseport && listen_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
		goto fail;
	if (bind(fd, (const struct sockaddr *)&a->addr, a->addr_len) < 0)
		goto fail;
	return fd;
fail:;
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

static void listen_err(char *err, size_t errlen, const struct config_listen *a,
		       const char *proto, const char *what)
{
	snprintf(err, errlen, "cannot %s %s/%s: %s", what, a->text, proto,
		 strerror(errno));
}

/*
 * Binds addr once without SO_REUSEPORT and lets go: if anyone holds the
 * port (even another SO_REUSEPORT server), this fails, so we report it
 * instead of silently sharing the port's traffic.
 */
static int listen_probe(const struct config_listen *a, char *err,
			size_t errlen)
{
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	for (size_t i = 0; i < 2; i++) {
		int fd = listen_socket_bind(a, types[i], false);
		if (fd < 0) {
			listen_err(err, errlen, a, i ? "tcp" : "udp", "bind");
			return -1;
		}
		close(fd);
	}
	return 0;
}

static int listen_udp_open(const struct config_listen *a, struct udp_sock *u,
			   char *err, size_t errlen)
{
	u->fd = listen_socket_bind(a, SOCK_DGRAM, true);
	if (u->fd < 0) {
		listen_err(err, errlen, a, "udp", "bind");
		return -1;
	}
	u->family = a->addr.ss_family;
	// Best effort: the kernel caps it at net.core.rmem_max.
	(void)listen_setopt(u->fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
	u->pktinfo = listen_addr_is_wildcard(&a->addr);
	if (!u->pktinfo)
		return 0;
	int rc = u->family == AF_INET
		? listen_setopt(u->fd, IPPROTO_IP, IP_PKTINFO, 1)
		: listen_setopt(u->fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	if (rc < 0) {
		listen_err(err, errlen, a, "udp", "set packet info on");
		return -1;
	}
	return 0;
}

static int listen_tcp_open(const struct config_listen *a, int *fd,
			   char *err, size_t errlen)
{
	*fd = listen_socket_bind(a, SOCK_STREAM, true);
	if (*fd < 0) {
		listen_err(err, errlen, a, "tcp", "bind");
		return -1;
	}
	if (listen(*fd, TCP_BACKLOG) < 0) {
		listen_err(err, errlen, a, "tcp", "listen on");
		return -1;
	}
	return 0;
}

/* ---- snapshots ----------------------------------------------------- */

// Runs in the worker: switch to the pending snapshot, drop the old one.
static void worker_on_publish(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	pthread_mutex_lock(&w->pending_lock);
	struct snapshot *next = w->pending;
	w->pending = NULL;
	pthread_mutex_unlock(&w->pending_lock);
	if (next == NULL)
		return;
	struct snapshot *old = w->snap;
	w->snap = next;
	if (old != NULL)
		snapshot_unref(old);
}

/* ---- UDP ----------------------------------------------------------- */


/*
 * Copies the destination address of a received packet into a control
 * message for the reply, so a wildcard socket answers from the address
 * the query was sent to. Returns the control length (0: none found).
 */
static size_t udp_reply_control(struct msghdr *in, union udp_control *out)
{
	memset(out, 0, sizeof(*out));
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
		struct cmsghdr *o = (struct cmsghdr *)out->buf;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c),
			       sizeof(struct in6_pktinfo));
			return CMSG_SPACE(sizeof(struct in6_pktinfo));
		}
	}
	return 0;
}

// Response rate limiting of one answer: false when it must be dropped; a
// slip cuts it to TC=1 in place, so a real client retries over TCP.
/* RRL on one answer: false to drop it, or cut it to a TC=1 slip answer. */
static bool udp_rate_limit(struct worker *w, const struct sockaddr *from,
			   uint8_t *resp, size_t *len)
{
	if (w->rrl_now == 0)
		w->rrl_now = rrl_now_ms();
	switch (rrl_check(w->srv->rrl, w->snap->rrl, from, w->rrl_now)) {
	case RRL_DROP:
		return false;
	case RRL_SLIP:
		*len = query_truncate(resp, *len);
		return true;
	default:
		return true;
	}
}

/* Receives up to UDP_BATCH datagrams; returns how many, 0 when none. */
static unsigned udp_receive_batch(struct udp_batch *b, struct udp_sock *u)
{
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		struct udp_slot *sl = &b->slot[i];
		sl->in_iov = (struct iovec){ sl->req, sizeof(sl->req) };
		// the kernel overwrites the lengths: set them every time
		b->in[i].msg_hdr = (struct msghdr){
			.msg_name = &sl->from, .msg_namelen = sizeof(sl->from),
			.msg_iov = &sl->in_iov, .msg_iovlen = 1,
			.msg_control = u->pktinfo ? sl->cin.buf : NULL,
			.msg_controllen = u->pktinfo ? sizeof(sl->cin.buf) : 0,
		};
	}
	int n;
	do
		n = recvmmsg(u->fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : (unsigned)n;
}

/* Answers datagram i into out[*count] when there is anything to send. */
static void udp_answer_one(struct worker *w, struct udp_sock *u, unsigned i,
			   unsigned *count)
{
	struct udp_batch *b = &w->udp_batch;
	struct udp_slot *sl = &b->slot[i];
	const struct sockaddr *from = (const struct sockaddr *)&sl->from;
	struct query_result qr;
	size_t len = query_process(w->snap, sl->req, b->in[i].msg_len, from,
				   QUERY_UDP, (uint32_t)time(NULL), sl->resp,
				   &qr);
	if (len == 0)
		return;
	// RRL off: this one branch is all it costs. A valid server cookie
	// proves the source address: such clients are never limited.
	if (w->snap->rrl != NULL && !qr.cookie_valid &&
	    !udp_rate_limit(w, from, sl->resp, &len))
		return;

	sl->out_iov = (struct iovec){ sl->resp, len };
	struct msghdr *out = &b->out[*count].msg_hdr;
	*out = (struct msghdr){
		.msg_name = &sl->from,
		.msg_namelen = b->in[i].msg_hdr.msg_namelen,
		.msg_iov = &sl->out_iov, .msg_iovlen = 1,
	};
	if (u->pktinfo) {
		out->msg_controllen = udp_reply_control(&b->in[i].msg_hdr,
							&sl->cout);
		out->msg_control = out->msg_controllen ? sl->cout.buf : NULL;
	}
	(*count)++;
}

/* Sends out[0..count); a datagram that cannot go is dropped, as UDP does. */
static void udp_send_batch(struct udp_sock *u, struct mmsghdr *out,
			   unsigned count)
{
	unsigned done = 0;
	while (done < count) {
		int k = sendmmsg(u->fd, out + done, count - done, 0);
		if (k > 0) {
			done += (unsigned)k;
		} else if (k < 0 && errno == EINTR) {
			continue;
		} else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			break; // the socket buffer is full: the rest is lost too
		} else {
			done++; // this client is unreachable: skip it
		}
	}
}

static void udp_on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *u = arg;
	struct worker *w = u->w;
	w->rrl_now = 0; // a batch takes well under a millisecond
	// a bounded number of batches, so one busy socket cannot starve others
	for (int round = 0; round < UDP_ROUNDS; round++) {
		unsigned n = udp_receive_batch(&w->udp_batch, u);
		if (n == 0 || w->snap == NULL)
			return;
		unsigned count = 0;
		for (unsigned i = 0; i < n; i++)
			udp_answer_one(w, u, i, &count);
		udp_send_batch(u, w->udp_batch.out, count);
		if (n < UDP_BATCH)
			return;
	}
}

// Worker 0, every RRL_LOG_SECONDS: the RRL counters, when they moved.
static void worker_on_rrl_log(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	rrl_table_log_period(w->srv->rrl, RRL_LOG_SECONDS);
}

/* ---- TCP ----------------------------------------------------------- */

static void tcp_conn_free(struct tcp_conn *c)
{
	struct worker *w = c->w;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
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
	bufferevent_disable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
		tcp_conn_free(c);
}

// Answers the message of msg_len bytes at the head of input.
// False when the connection must finish.
static bool tcp_answer(struct tcp_conn *c, struct evbuffer *in,
		       size_t msg_len)
{
	struct worker *w = c->w;
	evbuffer_drain(in, 2);
	evbuffer_remove(in, w->req, msg_len);
	size_t len = query_process(w->snap, w->req, msg_len,
				   (const struct sockaddr *)&c->from,
				   QUERY_TCP, (uint32_t)time(NULL), w->resp + 2,
				   NULL);
	if (len == 0)
		return false;
	w->resp[0] = (uint8_t)(len >> 8);
	w->resp[1] = (uint8_t)len;
	if (bufferevent_write(c->bev, w->resp, len + 2) < 0)
		return false;
	return ++c->messages < TCP_MESSAGES_MAX;
}

// Answers every complete message in the input, in order (pipelining).
// May free c.
static void tcp_process(struct tcp_conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (!c->closing) {
		if (evbuffer_get_length(out) >= TCP_OUTPUT_MAX) {
			// The client is not reading: wait until the write
			// callback (output drained) resumes us.
			c->paused = true;
			bufferevent_disable(c->bev, EV_READ);
			return;
		}
		uint8_t prefix[2];
		if (evbuffer_copyout(in, prefix, 2) < 2)
			return;
		size_t msg_len = (size_t)prefix[0] << 8 | prefix[1];
		if (msg_len == 0) {
			tcp_conn_finish(c);
			return;
		}
		if (evbuffer_get_length(in) < 2 + msg_len)
			return;
		if (!tcp_answer(c, in, msg_len)) {
			tcp_conn_finish(c);
			return;
		}
	}
}

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
	tcp_conn_free(c);
}

static bool tcp_conn_setup(struct tcp_conn *c, const struct config *cfg)
{
	struct timeval idle = { (time_t)cfg->tcp_idle_timeout, 0 };
	bufferevent_setcb(c->bev, tcp_on_read, tcp_on_write, tcp_on_event, c);
	bufferevent_setwatermark(c->bev, EV_READ, 0, TCP_INPUT_MAX);
	// Read timeout: nothing arrived for tcp_idle_timeout, mid-message or
	// not. Write timeout: the client stopped reading its answers.
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	return bufferevent_enable(c->bev, EV_READ | EV_WRITE) == 0;
}

static void tcp_on_accept(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	struct server *srv = w->srv;
	if (w->snap == NULL || w->stopping) {
		close(fd);
		return;
	}
	// Over the cap: refused (closed at once); new connections are served
	// again once others close.
	const struct config *cfg = w->snap->config;
	if (atomic_fetch_add(&srv->tcp_conns, 1) >= cfg->tcp_max_connections) {
		atomic_fetch_sub(&srv->tcp_conns, 1);
		close(fd);
		log_debug("tcp connection refused: %u connections open",
			  cfg->tcp_max_connections);
		return;
	}
	struct tcp_conn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->w = w;
	if (salen > 0 && (size_t)salen <= sizeof(c->from))
		memcpy(&c->from, sa, (size_t)salen);
	c->bev = bufferevent_socket_new(w->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL)
		goto fail;
	c->next = w->conns;
	if (w->conns != NULL)
		w->conns->prev = c;
	w->conns = c;
	if (!tcp_conn_setup(c, cfg))
		tcp_conn_free(c);
	return;
fail:
	free(c);
	close(fd);
	atomic_fetch_sub(&srv->tcp_conns, 1);
}

// How long a listener rests after accept(2) failed, and how often that
// is logged: out of descriptors, every worker would otherwise log ten
// lines a second.
#define TCP_ACCEPT_PAUSE_MS 100
#define TCP_ACCEPT_LOG_SECONDS 10
static atomic_llong tcp_accept_error_logged = -TCP_ACCEPT_LOG_SECONDS;

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
	log_warning("tcp accept failed: %s; new TCP connections wait (the "
		    "listener rests %d ms at a time)%s", strerror(err),
		    TCP_ACCEPT_PAUSE_MS, err == EMFILE || err == ENFILE
		    ? ": raise the descriptor limit (ulimit -n) or lower "
		      "tcp_max_connections" : "");
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
	struct timeval pause = { 0, TCP_ACCEPT_PAUSE_MS * 1000 };
	event_add(w->resume_ev, &pause);
	tcp_log_accept_error(err);
}

static void worker_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	for (size_t i = 0; i < w->srv->addr_count; i++)
		if (w->tcp_listeners[i] != NULL)
			evconnlistener_enable(w->tcp_listeners[i]);
}

/* ---- stopping ------------------------------------------------------ */

static void worker_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	event_base_loopexit(w->base, NULL);
}

// Runs in the worker: no new work, finish TCP answers for a bounded time.
static void worker_on_stop(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	w->stopping = true;
	event_del(w->resume_ev);
	for (size_t i = 0; i < w->srv->addr_count; i++) {
		if (w->tcp_listeners[i] != NULL) {
			evconnlistener_free(w->tcp_listeners[i]);
			w->tcp_listeners[i] = NULL;
			w->tcp_fds[i] = -1; // closed with the listener
		}
		event_del(w->udp[i].ev);
	}
	struct tcp_conn *next;
	for (struct tcp_conn *c = w->conns; c != NULL; c = next) {
		next = c->next;
		if (!c->closing)
			tcp_conn_finish(c);
	}
	if (w->conns == NULL) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	struct timeval drain = { STOP_DRAIN_SECONDS, 0 };
	event_add(w->drain_ev, &drain);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	// Whatever did not drain in time is closed now.
	while (w->conns != NULL)
		tcp_conn_free(w->conns);
	return NULL;
}

/* ---- set-up and tear-down ------------------------------------------ */

static int worker_open(struct worker *w, size_t i, char *err, size_t errlen)
{
	const struct config_listen *a = &w->srv->addrs[i];
	struct udp_sock *u = &w->udp[i];
	u->w = w;
	if (listen_udp_open(a, u, err, errlen) < 0)
		return -1;
	u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST,
			  udp_on_readable, u);
	if (u->ev == NULL || event_add(u->ev, NULL) < 0)
		goto nomem;
	if (listen_tcp_open(a, &w->tcp_fds[i], err, errlen) < 0)
		return -1;
	// Backlog 0: the socket is already listening.
	w->tcp_listeners[i] = evconnlistener_new(w->base, tcp_on_accept, w,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0,
		w->tcp_fds[i]);
	if (w->tcp_listeners[i] == NULL)
		goto nomem;
	evconnlistener_set_error_cb(w->tcp_listeners[i], tcp_on_accept_error);
	return 0;
nomem:
	snprintf(err, errlen, "cannot serve %s: out of memory", a->text);
	return -1;
}

static struct worker *worker_new(struct server *srv, unsigned id, char *err,
				 size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return NULL;
	w->srv = srv;
	w->id = id;
	pthread_mutex_init(&w->pending_lock, NULL);
	w->udp = calloc(srv->addr_count, sizeof(*w->udp));
	w->tcp_fds = calloc(srv->addr_count, sizeof(*w->tcp_fds));
	w->tcp_listeners = calloc(srv->addr_count, sizeof(*w->tcp_listeners));
	for (size_t i = 0; w->udp && w->tcp_fds && i < srv->addr_count; i++)
		w->udp[i].fd = w->tcp_fds[i] = -1;
	w->base = event_base_new();
	if (w->base == NULL || w->udp == NULL || w->tcp_fds == NULL ||
	    w->tcp_listeners == NULL)
		goto nomem;
	w->publish_ev = event_new(w->base, -1, 0, worker_on_publish, w);
	w->stop_ev = event_new(w->base, -1, 0, worker_on_stop, w);
	w->drain_ev = evtimer_new(w->base, worker_on_drain_timeout, w);
	w->resume_ev = evtimer_new(w->base, worker_on_resume, w);
	if (!w->publish_ev || !w->stop_ev || !w->drain_ev || !w->resume_ev)
		goto nomem;
	if (id == 0) {
		struct timeval every = { RRL_LOG_SECONDS, 0 };
		w->rrl_log_ev = event_new(w->base, -1, EV_PERSIST,
					  worker_on_rrl_log, w);
		if (w->rrl_log_ev == NULL || event_add(w->rrl_log_ev, &every))
			goto nomem;
	}
	return w;
nomem:
	snprintf(err, errlen, "cannot start worker %u: out of memory", id);
	return w; // the caller sees err set and frees w
}

static void worker_close(struct worker *w)
{
	if (w->udp == NULL || w->tcp_fds == NULL || w->tcp_listeners == NULL)
		return;
	for (size_t i = 0; i < w->srv->addr_count; i++) {
		if (w->tcp_listeners[i] != NULL) {
			evconnlistener_free(w->tcp_listeners[i]);
			w->tcp_listeners[i] = NULL;
		} else if (w->tcp_fds[i] >= 0) {
			close(w->tcp_fds[i]);
		}
		w->tcp_fds[i] = -1;
		if (w->udp[i].ev != NULL) {
			event_free(w->udp[i].ev);
			w->udp[i].ev = NULL;
		}
		if (w->udp[i].fd >= 0)
			close(w->udp[i].fd);
		w->udp[i].fd = -1;
	}
}

static void worker_release(struct worker *w)
{
	if (w->snap != NULL)
		snapshot_unref(w->snap);
	w->snap = NULL;
	pthread_mutex_lock(&w->pending_lock);
	struct snapshot *p = w->pending;
	w->pending = NULL;
	pthread_mutex_unlock(&w->pending_lock);
	if (p != NULL)
		snapshot_unref(p);
}

static void worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	worker_close(w);
	worker_release(w);
	if (w->publish_ev)
		event_free(w->publish_ev);
	if (w->stop_ev)
		event_free(w->stop_ev);
	if (w->drain_ev)
		event_free(w->drain_ev);
	if (w->resume_ev)
		event_free(w->resume_ev);
	if (w->rrl_log_ev)
		event_free(w->rrl_log_ev);
	if (w->base)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->pending_lock);
	free(w->udp);
	free(w->tcp_fds);
	free(w->tcp_listeners);
	free(w);
}

static unsigned server_worker_count_for(const struct config *cfg)
{
	long n = cfg->workers;
	if (n == 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	if (n < 1)
		n = 1;
	return n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

static int server_open_workers(struct server *srv, char *err, size_t errlen)
{
	srv->workers = calloc(srv->worker_count, sizeof(*srv->workers));
	if (srv->workers == NULL) {
		snprintf(err, errlen, "cannot start: out of memory");
		return -1;
	}
	for (unsigned i = 0; i < srv->worker_count; i++) {
		err[0] = '\0';
		srv->workers[i] = worker_new(srv, i, err, errlen);
		if (srv->workers[i] == NULL) {
			snprintf(err, errlen, "cannot start: out of memory");
			return -1;
		}
		if (err[0] != '\0')
			return -1;
		for (size_t a = 0; a < srv->addr_count; a++)
			if (worker_open(srv->workers[i], a, err, errlen) < 0)
				return -1;
	}
	return 0;
}

struct server *server_new(const struct config *cfg, char *err, size_t errlen)
{
	pthread_once(&listen_evthread_once, listen_evthread_init);
	struct server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		goto nomem;
	atomic_init(&srv->tcp_conns, 0);
	srv->addr_count = cfg->listen_count;
	srv->addrs = calloc(cfg->listen_count ? cfg->listen_count : 1,
			    sizeof(*srv->addrs));
	if (srv->addrs == NULL)
		goto nomem;
	memcpy(srv->addrs, cfg->listen, cfg->listen_count * sizeof(*srv->addrs));
	srv->worker_count = server_worker_count_for(cfg);
	srv->rrl = rrl_table_new();
	if (srv->rrl == NULL)
		goto nomem;

	for (size_t i = 0; i < srv->addr_count; i++)
		if (listen_probe(&srv->addrs[i], err, errlen) < 0)
			goto fail;
	if (server_open_workers(srv, err, errlen) < 0)
		goto fail;
	return srv;
nomem:
	snprintf(err, errlen, "cannot start: out of memory");
fail:
	server_free(srv);
	return NULL;
}

unsigned server_workers(const struct server *srv)
{
	return srv->worker_count;
}

int server_start(struct server *srv, struct snapshot *snap)
{
	for (unsigned i = 0; i < srv->worker_count; i++) {
		snapshot_ref(snap);
		srv->workers[i]->snap = snap;
	}
	srv->rrl_used |= snap->rrl != NULL;
	// Signals belong to the main thread's event loop, not to workers.
	sigset_t all, saved;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &saved);
	int rc = 0;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		errno = pthread_create(&w->thread, NULL, worker_main, w);
		if (errno != 0) {
			log_error("cannot start worker %u: %s", i,
				  strerror(errno));
			rc = -1;
			break;
		}
		w->running = true;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	return rc;
}

void server_publish(struct server *srv, struct snapshot *snap)
{
	srv->rrl_used |= snap->rrl != NULL;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		snapshot_ref(snap);
		pthread_mutex_lock(&w->pending_lock);
		struct snapshot *old = w->pending; // never taken: superseded
		w->pending = snap;
		pthread_mutex_unlock(&w->pending_lock);
		if (old != NULL)
			snapshot_unref(old);
		event_active(w->publish_ev, EV_TIMEOUT, 0);
	}
}

void server_stop(struct server *srv)
{
	if (srv == NULL || srv->workers == NULL)
		return;
	for (unsigned i = 0; i < srv->worker_count; i++)
		if (srv->workers[i] != NULL && srv->workers[i]->running)
			event_active(srv->workers[i]->stop_ev, EV_TIMEOUT, 0);
	for (unsigned i = 0; i < srv->worker_count; i++) {
		struct worker *w = srv->workers[i];
		if (w == NULL)
			continue;
		if (w->running)
			pthread_join(w->thread, NULL);
		w->running = false;
		worker_close(w);
		worker_release(w);
	}
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	server_stop(srv);
	if (srv->rrl_used)
		rrl_table_log_totals(srv->rrl);
	rrl_table_free(srv->rrl);
	for (unsigned i = 0; srv->workers != NULL && i < srv->worker_count; i++)
		worker_free(srv->workers[i]);
	free(srv->workers);
	free(srv->addrs);
	free(srv);
}
