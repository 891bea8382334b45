/*
 * src/log.h — the daemon's log: one line per event, with a level, to
 * stderr (timestamped; `<N>` priority prefixes under systemd's journal)
 * or to syslog. Thread-safe (one write(2) or syslog(3) call per line).
 */
#ifndef GEOVIP_LOG_H
#define GEOVIP_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* Ordered as syslog's priorities: a level's value + 3 is its syslog one. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_NOTICE,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/** Where lines go. */
enum log_target {
	LOG_TARGET_STDERR,  /* timestamp, pid and level on each line */
	LOG_TARGET_JOURNAL, /* stderr read by journald: "<N>message" */
	LOG_TARGET_SYSLOG,  /* syslog(3), facility daemon */
};

/** Messages above this level are dropped (default LOG_LEVEL_INFO). */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/**
 * Sends lines to target from now on. LOG_TARGET_STDERR becomes
 * LOG_TARGET_JOURNAL when stderr is the stream named by $JOURNAL_STREAM
 * (what systemd sets for a service's stderr), so `journalctl -p err` sees
 * each line's priority.
 */
void log_set_target(enum log_target target);
enum log_target log_get_target(void);

/** "error".."debug" → level; -1 for any other text. */
int log_level_from_name(const char *name);
const char *log_level_name(enum log_level level);

/**
 * Formats one stderr line (with its '\n') into buf: for LOG_TARGET_STDERR
 * "2026-01-02T03:04:05.678Z geovipd[PID] LEVEL: message", for
 * LOG_TARGET_JOURNAL "<N>message" (N = syslog priority: 3 error,
 * 4 warning, 5 notice, 6 info, 7 debug). Cut to fit; returns the length.
 */
size_t log_format(char *buf, size_t len, enum log_target target,
		  enum log_level level, const struct timespec *now, long pid,
		  const char *msg);

void log_msg(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_LEVEL_WARNING, __VA_ARGS__)
#define log_notice(...) log_msg(LOG_LEVEL_NOTICE, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
