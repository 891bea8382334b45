/*
 * src/udp.c — UDP serving: bounded recvmmsg/sendmmsg batches per readable
 * event, one snapshot load per batch, replies sent from the address the
 * query came to (wildcard sockets), and response rate limiting glue.
 */
#include "autoconf.h"

#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "diag.h"
#include "dnstap.h"
#include "rrl.h"
#include "snapshot.h"
#include "sockets.h"
#include "worker.h"
#include "xfr.h"

#define UDP_ROUNDS 2 /* batches per readable event */

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

/* RRL on one answer: false to drop it, or cut it to a TC=1 slip answer
 * (a real client retries over TCP). */
static bool udp_rate_limit(struct worker *w, const struct snapshot *snap,
			   const struct sockaddr *from, uint8_t *resp,
			   size_t *len)
{
	if (w->rrl_now == 0)
		w->rrl_now = rrl_now_ms();
	switch (rrl_check(w->srv->rrl, snap->rrl, from, w->rrl_now)) {
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
		sl->in_iov = (struct iovec){sl->req, sizeof(sl->req)};
		// the kernel overwrites the lengths: set them every time
		b->in[i].msg_hdr = (struct msghdr){
			.msg_name = &sl->from,
			.msg_namelen = sizeof(sl->from),
			.msg_iov = &sl->in_iov,
			.msg_iovlen = 1,
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

/*
 * NOTIFY (opcode 4) goes to the main thread, which checks the sender and
 * its TSIG, answers and starts a refresh: workers never transfer. True
 * when handed over (or dropped because the pipe is full).
 */
static bool udp_hand_notify(struct worker *w, const struct udp_sock *u,
			    const struct udp_slot *sl, size_t len,
			    socklen_t from_len)
{
	if (w->srv->notify_fd < 0 || len < 12 || ((sl->req[2] >> 3) & 0xf) != 4)
		return false;
	if (len > XFR_NOTIFY_MAX || from_len > sizeof(sl->from))
		return true; // no NOTIFY is that large: dropped
	struct xfr_notify_msg m = {.fd = u->fd,
				   .from_len = from_len,
				   .len = (uint16_t)len};
	memcpy(&m.from, &sl->from, from_len);
	memcpy(m.msg, sl->req, len);
	ssize_t n = write(w->srv->notify_fd, &m, sizeof(m));
	(void)n; // a full pipe drops it; the primary sends it again
	return true;
}

/* Answers datagram i into out[*count] when there is anything to send. */
static void udp_answer_one(struct worker *w, const struct snapshot *snap,
			   uint32_t now, struct udp_sock *u, unsigned i,
			   unsigned *count)
{
	struct udp_batch *b = &w->udp_batch;
	struct udp_slot *sl = &b->slot[i];
	const struct sockaddr *from = (const struct sockaddr *)&sl->from;
	if (udp_hand_notify(w, u, sl, b->in[i].msg_len,
			    b->in[i].msg_hdr.msg_namelen))
		return;
	struct query_result qr;
	size_t len = query_process(snap, sl->req, b->in[i].msg_len, from,
				   QUERY_UDP, now, sl->resp, &qr);
	metrics_count(&w->metrics, &qr);
	if (len == 0)
		return;
	// RRL off: this one branch is all it costs. A valid server cookie
	// proves the source address: such clients are never limited.
	bool send = snap->rrl == NULL || qr.cookie_valid ||
		    udp_rate_limit(w, snap, from, sl->resp, &len);
	if (w->dnstap != NULL)
		dnstap_log(w->dnstap, snap->config, QUERY_UDP, from, sl->req,
			   b->in[i].msg_len, sl->resp, send ? len : 0, &qr);
	if (!send)
		return;

	sl->out_iov = (struct iovec){sl->resp, len};
	struct msghdr *out = &b->out[*count].msg_hdr;
	*out = (struct msghdr){
		.msg_name = &sl->from,
		.msg_namelen = b->in[i].msg_hdr.msg_namelen,
		.msg_iov = &sl->out_iov,
		.msg_iovlen = 1,
	};
	if (u->pktinfo) {
		out->msg_controllen =
			udp_reply_control(&b->in[i].msg_hdr, &sl->cout);
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
		if (n == 0)
			return;
		// One acquire load per batch: the whole batch is answered
		// from one snapshot, which stays valid until this worker's
		// next quiescent point (see server.c).
		const struct snapshot *snap = worker_snapshot(w);
		uint32_t now = (uint32_t)time(NULL); // cookie timestamps
		unsigned count = 0;
		for (unsigned i = 0; i < n; i++)
			udp_answer_one(w, snap, now, u, i, &count);
		udp_send_batch(u, w->udp_batch.out, count);
		worker_count(&w->counters.udp_queries, n);
		if (n < UDP_BATCH)
			return;
	}
}

int udp_open(struct worker *w, struct udp_sock *u,
	     const struct config_listen *a, struct diag *d)
{
	u->w = w;
	u->family = a->addr.ss_family;
	u->fd = sockets_open_udp(a, &u->pktinfo, w->srv->config_path, d);
	if (u->fd < 0)
		return -1;
	u->ev = event_new(w->base, u->fd, EV_READ | EV_PERSIST, udp_on_readable,
			  u);
	if (u->ev == NULL || event_add(u->ev, NULL) < 0) {
		diag_error(d, w->srv->config_path, a->line,
			   "cannot serve %s/udp: out of memory", a->text);
		return -1;
	}
	return 0;
}

void udp_close(struct udp_sock *u)
{
	if (u->ev != NULL)
		event_free(u->ev);
	u->ev = NULL;
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
}
