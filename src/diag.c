/*
 * src/diag.c — collected diagnostics: a growable list of formatted
 * "FILE:LINE: message" lines, with an error/warning flag each.
 */
#include "autoconf.h"
#include "diag.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

struct diag_entry {
	char *text;
	bool error;
};

struct diag {
	struct diag_entry *entries;
	size_t count, cap;
	unsigned errors, warnings;
};

struct diag *diag_new(void)
{
	return calloc(1, sizeof(struct diag));
}

void diag_free(struct diag *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < d->count; i++)
		free(d->entries[i].text);
	free(d->entries);
	free(d);
}

static void diag_add(struct diag *d, bool error, const char *file,
		     unsigned line, const char *fmt, va_list ap)
	__attribute__((format(printf, 5, 0)));

static void diag_add(struct diag *d, bool error, const char *file,
		     unsigned line, const char *fmt, va_list ap)
{
	char msg[1024], where[1200];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line > 0)
		snprintf(where, sizeof(where), "%s:%u: %s%s", file, line,
			 error ? "" : "warning: ", msg);
	else
		snprintf(where, sizeof(where), "%s: %s%s", file,
			 error ? "" : "warning: ", msg);

	if (error)
		d->errors++;
	else
		d->warnings++;
	if (d->count == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 8;
		struct diag_entry *e = realloc(d->entries, cap * sizeof(*e));
		if (e == NULL)
			return; // counted, not kept: the load still fails
		d->entries = e;
		d->cap = cap;
	}
	char *text = strdup(where);
	if (text == NULL)
		return;
	d->entries[d->count++] = (struct diag_entry){text, error};
}

void diag_error(struct diag *d, const char *file, unsigned line,
		const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_add(d, true, file, line, fmt, ap);
	va_end(ap);
}

void diag_warn(struct diag *d, const char *file, unsigned line, const char *fmt,
	       ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_add(d, false, file, line, fmt, ap);
	va_end(ap);
}

unsigned diag_errors(const struct diag *d)
{
	return d->errors;
}
unsigned diag_warnings(const struct diag *d)
{
	return d->warnings;
}
size_t diag_count(const struct diag *d)
{
	return d->count;
}

const char *diag_message(const struct diag *d, size_t i)
{
	return i < d->count ? d->entries[i].text : NULL;
}

int diag_is_error(const struct diag *d, size_t i)
{
	return i < d->count && d->entries[i].error;
}

void diag_print(const struct diag *d, FILE *out)
{
	for (size_t i = 0; i < d->count; i++)
		fprintf(out, "%s\n", d->entries[i].text);
}
