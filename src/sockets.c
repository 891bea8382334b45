/*
 * src/sockets.c — opening listen sockets: socket options (IPV6_V6ONLY,
 * SO_REUSEADDR for TCP, SO_REUSEPORT, receive buffer, packet info), bind
 * and listen, with FILE:LINE errors naming the config's listen entry.
 */
#include "autoconf.h"
#include "sockets.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"

#define UDP_RCVBUF (4 * 1024 * 1024)
#define TCP_BACKLOG 256

static bool sockets_is_wildcard(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)ss;
		return sin->sin_addr.s_addr == htonl(INADDR_ANY);
	}
	const struct sockaddr_in6 *sin6 = (const void *)ss;
	return IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr);
}

static int sockets_setopt(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value));
}

/*
 * A socket of type for a, bound; reuseport shares the port between
 * workers. Returns the fd, or -1 with errno set.
 */
static int sockets_bind(const struct config_listen *a, int type, bool reuseport)
{
	int family = a->addr.ss_family;
	int fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family == AF_INET6 &&
	    sockets_setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1) < 0)
		goto fail;
	// TCP: a restart must not trip over TIME_WAIT connections. (UDP
	// gets no SO_REUSEADDR: on Linux it would let two servers share.)
	if (type == SOCK_STREAM &&
	    sockets_setopt(fd, SOL_SOCKET, SO_REUSEADDR, 1) < 0)
		goto fail;
	if (reuseport && sockets_setopt(fd, SOL_SOCKET, SO_REUSEPORT, 1) < 0)
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

// "FILE:LINE: cannot WHAT ADDR/PROTO: strerror(errno)"
static void sockets_error(const struct config_listen *a, const char *proto,
			  const char *what, const char *file, struct diag *d)
{
	diag_error(d, file, a->line, "cannot %s %s/%s: %s", what, a->text,
		   proto, strerror(errno));
}

int sockets_probe(const struct config_listen *a, const char *file,
		  struct diag *d)
{
	static const int types[] = {SOCK_DGRAM, SOCK_STREAM};
	for (size_t i = 0; i < 2; i++) {
		int fd = sockets_bind(a, types[i], false);
		if (fd < 0) {
			sockets_error(a, i ? "tcp" : "udp", "bind", file, d);
			return -1;
		}
		close(fd);
	}
	return 0;
}

int sockets_open_udp(const struct config_listen *a, bool *pktinfo,
		     const char *file, struct diag *d)
{
	int fd = sockets_bind(a, SOCK_DGRAM, true);
	if (fd < 0) {
		sockets_error(a, "udp", "bind", file, d);
		return -1;
	}
	// Best effort: the kernel caps it at net.core.rmem_max.
	(void)sockets_setopt(fd, SOL_SOCKET, SO_RCVBUF, UDP_RCVBUF);
	*pktinfo = sockets_is_wildcard(&a->addr);
	if (!*pktinfo)
		return fd;
	int rc =
		a->addr.ss_family == AF_INET
			? sockets_setopt(fd, IPPROTO_IP, IP_PKTINFO, 1)
			: sockets_setopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1);
	if (rc < 0) {
		sockets_error(a, "udp", "set packet info on", file, d);
		close(fd);
		return -1;
	}
	return fd;
}

int sockets_open_tcp(const struct config_listen *a, const char *file,
		     struct diag *d)
{
	int fd = sockets_bind(a, SOCK_STREAM, true);
	if (fd < 0) {
		sockets_error(a, "tcp", "bind", file, d);
		return -1;
	}
	if (listen(fd, TCP_BACKLOG) < 0) {
		sockets_error(a, "tcp", "listen on", file, d);
		close(fd);
		return -1;
	}
	return fd;
}
