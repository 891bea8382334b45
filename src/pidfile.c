/*
 * src/pidfile.c — the pid file: created with O_NOFOLLOW (never through
 * a symlink someone planted), truncated, one line; unlinked at exit.
 */
#include "autoconf.h"
#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "log.h"

int pidfile_write(const struct config *cfg, struct diag *d)
{
	if (cfg->pidfile == NULL)
		return 0;
	char line[32];
	int n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	int fd = open(cfg->pidfile,
		      O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
		      0644);
	struct stat st;
	const char *why = NULL;
	if (fd < 0)
		why = errno == ELOOP ? "is a symbolic link" : strerror(errno);
	else if (fstat(fd, &st) < 0)
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "exists and is not a regular file";
	else if (ftruncate(fd, 0) < 0 || write(fd, line, (size_t)n) != n)
		why = strerror(errno);
	if (fd >= 0 && close(fd) < 0 && why == NULL)
		why = strerror(errno);
	if (why == NULL)
		return 0;
	diag_error(d, cfg->path, cfg->pidfile_line,
		   "pidfile '%s': cannot write it: %s", cfg->pidfile, why);
	return -1;
}

void pidfile_remove(const char *path)
{
	if (path != NULL && unlink(path) < 0 && errno != ENOENT)
		log_warning("pidfile '%s': cannot remove it: %s", path,
			    strerror(errno));
}
