/*
 * src/log.h — the daemon's log: one line per event on stderr, with
 * a timestamp and level. Thread-safe (one write(2) per line).
 */
#ifndef GEOVIP_LOG_H
#define GEOVIP_LOG_H

#define LOG_PRINTF(a, b) __attribute__((format(printf, a, b)))

enum log_level { LOG_ERROR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

/** Messages above this level are dropped (default LOG_INFO). */
void log_set_level(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) LOG_PRINTF(2, 3);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warning(...) log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
