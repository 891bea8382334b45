/*
 * tests/bench/reflector.c — the floor `make bench` measures geovipd
 * against: a UDP server that answers every query with one precomputed
 * answer (the query's ID, RD bit and question patched in; one A record),
 * receiving and sending exactly as geovipd's src/udp.c does: on each
 * readable event (epoll, as libevent uses) up to 2 batches, each one
 * recvmmsg of up to 32 datagrams (MSG_DONTWAIT) and one sendmmsg. Built
 * by `make bench`, never installed.
 *
 *   reflector ADDRESS PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 32 /* as UDP_BATCH in src/worker.h */
#define ROUNDS 2 /* as UDP_ROUNDS in src/udp.c */
#define RCVBUF (4 * 1024 * 1024) /* as UDP_RCVBUF in src/sockets.c */
#define ANSWER_MAX 512

struct slot {
	struct sockaddr_storage from;
	struct iovec in_iov, out_iov;
	uint8_t req[65536]; /* as geovipd's struct udp_slot */
	uint8_t resp[ANSWER_MAX];
};

static struct mmsghdr in[BATCH], out[BATCH];
static struct slot slots[BATCH];

/* The answer record after the question: the question's name (a pointer
 * to offset 12), A, IN, TTL 30, 192.0.2.10. */
static const uint8_t answer_rr[16] = { 0xc0, 12, 0, 1, 0, 1, 0, 0,
				       0,    30, 0, 4, 192, 0, 2, 10 };

/* The end of the question (offset past QTYPE and QCLASS), or 0. */
static size_t question_end(const uint8_t *p, size_t len)
{
	size_t off = 12;
	while (off < len && p[off] != 0) {
		if (p[off] > 63)
			return 0;
		off += (size_t)p[off] + 1;
	}
	off += 1 + 4;
	return off <= len ? off : 0;
}

/* The answer to req into resp: its length, 0 for none (not a query). */
static size_t reflect(const uint8_t *req, size_t len, uint8_t *resp)
{
	if (len < 12 || (req[2] & 0x80) != 0)
		return 0;
	size_t q = question_end(req, len);
	if (q == 0 || q + sizeof(answer_rr) > ANSWER_MAX)
		return 0;
	memcpy(resp, req, q); // ID and question, the rest overwritten
	resp[2] = (uint8_t)(0x84 | (req[2] & 0x01)); // QR AA, RD copied
	resp[3] = 0;
	static const uint8_t counts[8] = { 0, 1, 0, 1, 0, 0, 0, 0 };
	memcpy(resp + 4, counts, 8);
	memcpy(resp + q, answer_rr, sizeof(answer_rr));
	return q + sizeof(answer_rr);
}

static unsigned receive_batch(int fd)
{
	for (unsigned i = 0; i < BATCH; i++) {
		struct slot *sl = &slots[i];
		sl->in_iov = (struct iovec){ sl->req, sizeof(sl->req) };
		in[i].msg_hdr = (struct msghdr){
			.msg_name = &sl->from,
			.msg_namelen = sizeof(sl->from),
			.msg_iov = &sl->in_iov,
			.msg_iovlen = 1,
		};
	}
	int n;
	do
		n = recvmmsg(fd, in, BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? 0 : (unsigned)n;
}

static void send_batch(int fd, unsigned count)
{
	unsigned done = 0;
	while (done < count) {
		int k = sendmmsg(fd, out + done, count - done, 0);
		if (k > 0)
			done += (unsigned)k;
		else if (k < 0 && errno == EINTR)
			continue;
		else if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		else
			done++;
	}
}

static void on_readable(int fd)
{
	for (int round = 0; round < ROUNDS; round++) {
		unsigned n = receive_batch(fd), count = 0;
		if (n == 0)
			return;
		for (unsigned i = 0; i < n; i++) {
			struct slot *sl = &slots[i];
			size_t len = reflect(sl->req, in[i].msg_len, sl->resp);
			if (len == 0)
				continue;
			sl->out_iov = (struct iovec){ sl->resp, len };
			out[count++].msg_hdr = (struct msghdr){
				.msg_name = &sl->from,
				.msg_namelen = in[i].msg_hdr.msg_namelen,
				.msg_iov = &sl->out_iov,
				.msg_iovlen = 1,
			};
		}
		send_batch(fd, count);
		if (n < BATCH)
			return;
	}
}

int main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	if (argc != 3 || inet_pton(AF_INET, argv[1], &sin.sin_addr) != 1 ||
	    atoi(argv[2]) <= 0 || atoi(argv[2]) > 65535) {
		fprintf(stderr, "usage: reflector IPV4-ADDRESS PORT\n");
		return 2;
	}
	sin.sin_port = htons((uint16_t)atoi(argv[2]));
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	int rcvbuf = RCVBUF;
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0) {
		perror("reflector: bind");
		return 1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
	if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		perror("reflector: epoll");
		return 1;
	}
	for (;;) {
		struct epoll_event got[8];
		int n = epoll_wait(ep, got, 8, -1);
		if (n < 0 && errno != EINTR) {
			perror("reflector: epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++)
			on_readable(got[i].data.fd);
	}
}
