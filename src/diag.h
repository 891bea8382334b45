/*
 * src/diag.h — collected diagnostics ("FILE:LINE: message").
 * Loaders (config, zones, geo) report every problem here instead of
 * stopping at the first, so `--check` and a failed reload can list all.
 */
#ifndef GEOVIP_DIAG_H
#define GEOVIP_DIAG_H

#include <stddef.h>
#include <stdio.h>

#define DIAG_PRINTF(a, b) __attribute__((format(printf, a, b)))

struct diag;

/** A new, empty collection; NULL only when out of memory. */
struct diag *diag_new(void);
void diag_free(struct diag *d);

/** Records "FILE:LINE: message" (line 0: "FILE: message"). */
void diag_error(struct diag *d, const char *file, unsigned line,
		const char *fmt, ...) DIAG_PRINTF(4, 5);
/** Records "FILE:LINE: warning: message"; warnings do not refuse a load. */
void diag_warn(struct diag *d, const char *file, unsigned line, const char *fmt,
	       ...) DIAG_PRINTF(4, 5);

unsigned diag_errors(const struct diag *d);
unsigned diag_warnings(const struct diag *d);

/** Number of messages, and message i in the order recorded. */
size_t diag_count(const struct diag *d);
const char *diag_message(const struct diag *d, size_t i);
/** 1 when message i is an error, 0 when it is a warning. */
int diag_is_error(const struct diag *d, size_t i);

/** Writes every message, one per line, to out. */
void diag_print(const struct diag *d, FILE *out);

#endif
