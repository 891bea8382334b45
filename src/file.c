/*
 * src/file.c — reading an operator's file safely: regular files only,
 * opened without blocking, size-capped, copied whole into memory.
 */
#include "autoconf.h"
#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int file_open_regular(const char *path)
{
	struct stat st;
	// O_NONBLOCK: opening a FIFO with no writer must not hang a load.
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return -FILE_ERR_NOT_REGULAR;
	}
	return fd;
}

/* Reads exactly len bytes at the start of fd; a short read means the file
 * shrank under us (someone rewrote it in place). */
static int file_read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -FILE_ERR_CHANGED;
		got += (size_t)n;
	}
	char extra;
	ssize_t n = read(fd, &extra, 1);
	return n == 0 ? 0 : -FILE_ERR_CHANGED;
}

int file_read(const char *path, size_t max, char **data, size_t *len)
{
	struct stat st;
	int fd = file_open_regular(path);
	int rc;

	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto out;
	}
	if ((unsigned long long)st.st_size > max) {
		rc = -FILE_ERR_TOO_LARGE;
		goto out;
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size + 1);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	rc = file_read_all(fd, buf, size);
	if (rc < 0) {
		free(buf);
		goto out;
	}
	buf[size] = '\0';
	*data = buf;
	*len = size;
out:
	close(fd);
	return rc;
}

const char *file_strerror(int code)
{
	switch (-code) {
	case FILE_ERR_NOT_REGULAR:
		return "not a regular file";
	case FILE_ERR_TOO_LARGE:
		return "larger than the limit";
	case FILE_ERR_CHANGED:
		return "the file changed while it was read";
	default:
		return strerror(-code);
	}
}
