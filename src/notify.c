/*
 * src/notify.c — sd_notify(3) by hand: one AF_UNIX datagram per state
 * change to $NOTIFY_SOCKET, an abstract socket when the name starts
 * with '@'. The socket is opened once, before privileges are dropped.
 */
#include "autoconf.h"
#include "notify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static int notify_fd = -1;
static struct sockaddr_un notify_addr;
static socklen_t notify_addr_len;

int notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	if (path == NULL || path[0] == '\0')
		return 0;
	size_t len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') ||
	    len >= sizeof(notify_addr.sun_path)) {
		log_error("NOTIFY_SOCKET='%s': not an absolute path or "
			  "@abstract name that fits a socket address",
			  path);
		return -1;
	}
	memset(&notify_addr, 0, sizeof(notify_addr));
	notify_addr.sun_family = AF_UNIX;
	memcpy(notify_addr.sun_path, path, len);
	if (path[0] == '@')
		notify_addr.sun_path[0] = '\0'; // abstract: no trailing NUL
	else
		len++;
	notify_addr_len =
		(socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
	notify_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (notify_fd < 0) {
		log_error("NOTIFY_SOCKET: cannot make a socket: %s",
			  strerror(errno));
		return -1;
	}
	unsetenv("NOTIFY_SOCKET");
	return 0;
}

int notify_send(const char *fmt, ...)
{
	if (notify_fd < 0)
		return 0;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(msg))
		return -1;
	ssize_t w =
		sendto(notify_fd, msg, (size_t)n, MSG_NOSIGNAL,
		       (const struct sockaddr *)&notify_addr, notify_addr_len);
	if (w != n) {
		log_debug("NOTIFY_SOCKET: cannot send: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int notify_reloading(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t usec =
		(uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
	return notify_send("RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\n"
			   "STATUS=reloading",
			   usec);
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
