/*
 * src/log.c — the daemon's log lines: stderr (plain, or with the
 * sd-daemon(3) "<N>" priority prefix when journald reads it) or syslog.
 * Each line is formatted into one buffer and written with a single call,
 * so lines from worker threads never interleave.
 */
#include "autoconf.h"
#include "log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

static atomic_int log_level = LOG_LEVEL_INFO;
static atomic_int log_target = LOG_TARGET_STDERR;

static const char *const level_names[] = {
	[LOG_LEVEL_ERROR] = "error",   [LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_NOTICE] = "notice", [LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

static const int level_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,     [LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_NOTICE] = LOG_NOTICE, [LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

void log_set_level(enum log_level level)
{
	if (level > LOG_LEVEL_DEBUG)
		level = LOG_LEVEL_DEBUG;
	atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load(&log_level);
}

int log_level_from_name(const char *name)
{
	for (int i = 0; i <= LOG_LEVEL_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level <= LOG_LEVEL_DEBUG ? level_names[level] : "?";
}

// $JOURNAL_STREAM is "DEV:INODE" of the stream journald reads; it is
// inherited by children whose stderr may go elsewhere, so compare.
static bool log_stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2)
		return false;
	if (fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_set_target(enum log_target target)
{
	if (target == LOG_TARGET_STDERR && log_stderr_is_journal())
		target = LOG_TARGET_JOURNAL;
	if (target == LOG_TARGET_SYSLOG &&
	    atomic_load(&log_target) != LOG_TARGET_SYSLOG)
		openlog("geovipd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	atomic_store(&log_target, (int)target);
}

enum log_target log_get_target(void)
{
	return (enum log_target)atomic_load(&log_target);
}

size_t log_format(char *buf, size_t len, enum log_target target,
		  enum log_level level, const struct timespec *now, long pid,
		  const char *msg)
{
	int n;
	if (len < 2)
		return 0;
	if (target == LOG_TARGET_JOURNAL) {
		// journald stamps time and pid itself
		n = snprintf(buf, len, "<%d>%s", level_priorities[level], msg);
	} else {
		struct tm tm;
		gmtime_r(&now->tv_sec, &tm);
		n = snprintf(buf, len,
			     "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ "
			     "geovipd[%ld] %s: %s",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
			     tm.tm_hour, tm.tm_min, tm.tm_sec,
			     now->tv_nsec / 1000000, pid, level_names[level],
			     msg);
	}
	size_t used = n < 0 ? 0 : (size_t)n;
	if (used > len - 2)
		used = len - 2;
	buf[used++] = '\n';
	buf[used] = '\0';
	return used;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if ((int)level > atomic_load(&log_level))
		return;
	char msg[2048], line[2200];
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	enum log_target target = log_get_target();
	if (target == LOG_TARGET_SYSLOG) {
		syslog(level_priorities[level], "%s", msg);
		return;
	}
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	size_t len = log_format(line, sizeof(line), target, level, &now,
				(long)getpid(), msg);
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w; // nothing better to do when stderr is gone
}
