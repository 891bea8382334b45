/*
 * src/overlay.c — runtime overrides: the list (main thread only), the new
 * generation built from it (snapshot_overlay: the shed table replaced, the
 * loaded parts shared), the expiry timer, the state file, the audit lines.
 */
#include "autoconf.h"
#include "overlay.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "file.h"
#include "log.h"
#include "region.h"
#include "server.h"
#include "snapshot.h"

/* A state file is a few lines per override: 1 MB is plenty. */
#define OVERLAY_STATE_MAX (1024 * 1024)

struct overlay {
	struct server *srv;
	struct event *expiry; // fires at the earliest expiry
	char *state_path;     // NULL: nothing kept
	uint32_t next_id;
	size_t count;
	struct overlay_entry entries[OVERLAY_MAX];
};

int64_t overlay_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void overlay_time_text(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "%" PRId64 "ms", ms);
}

// "lab → emea 25.00% (drain) until T, uid U, reason "R"" for the audit.
static void overlay_describe(const struct overlay_entry *e, char *buf,
			     size_t len)
{
	char until[32], by[OVERLAY_KEY_MAX + OVERLAY_WHO_MAX + 64];
	overlay_time_text(e->expires_ms, until, sizeof(until));
	if (e->source == OVERLAY_FLEET)
		snprintf(by, sizeof(by), "%s via etcd key %s", e->who, e->key);
	else
		snprintf(by, sizeof(by), "uid %lu", e->uid);
	snprintf(buf, len,
		 "#%" PRIu32 " %s %s → %s %u.%02u%% until %s, set "
		 "by %s, reason \"%s\"",
		 e->id, e->drain ? "drain" : "shed", e->from, e->to,
		 e->bp / 100, e->bp % 100, until, by, e->reason);
}

/* ---- the state file ------------------------------------------------- */

// One override per line, tab-separated; the reason (no tab, no newline)
// last. Written to PATH.tmp and renamed: never half a file.
static int overlay_save(const struct overlay *ov)
{
	if (ov->state_path == NULL)
		return 0;
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", ov->state_path);
	FILE *f = fopen(tmp, "w");
	if (f == NULL) {
		log_error("state_file: cannot write %s: %s", tmp,
			  strerror(errno));
		return -1;
	}
	fprintf(f, "geovip-overrides 1\nnext\t%" PRIu32 "\n", ov->next_id);
	for (size_t i = 0; i < ov->count; i++) {
		const struct overlay_entry *e = &ov->entries[i];
		if (e->source != OVERLAY_LOCAL)
			continue; // etcd keeps those
		fprintf(f,
			"override\t%" PRIu32 "\t%s\t%s\t%u\t%d\t%" PRId64
			"\t%" PRId64 "\t%lu\t%s\n",
			e->id, e->from, e->to, e->bp, e->drain ? 1 : 0,
			e->created_ms, e->expires_ms, e->uid, e->reason);
	}
	int rc = fflush(f) == 0 && fsync(fileno(f)) == 0 ? 0 : -1;
	if (fclose(f) != 0)
		rc = -1;
	if (rc == 0 && rename(tmp, ov->state_path) < 0)
		rc = -1;
	if (rc < 0) {
		log_error("state_file: cannot write %s: %s", ov->state_path,
			  strerror(errno));
		unlink(tmp);
	}
	return rc;
}

// Copies field (up to a tab) into dst of size len; -1 if it does not fit.
static int overlay_field(char **p, char *dst, size_t len)
{
	char *tab = strchr(*p, '\t');
	size_t n = tab != NULL ? (size_t)(tab - *p) : strlen(*p);
	if (n == 0 || n >= len)
		return -1;
	memcpy(dst, *p, n);
	dst[n] = '\0';
	*p = tab != NULL ? tab + 1 : *p + n;
	return 0;
}

// One "override" line (after the keyword) into e; -1 when malformed.
static int overlay_parse_entry(char *p, struct overlay_entry *e)
{
	char f[7][32];
	memset(e, 0, sizeof(*e));
	if (overlay_field(&p, f[0], sizeof(f[0])) < 0 ||
	    overlay_field(&p, e->from, sizeof(e->from)) < 0 ||
	    overlay_field(&p, e->to, sizeof(e->to)) < 0)
		return -1;
	for (int i = 1; i < 6; i++)
		if (overlay_field(&p, f[i], sizeof(f[i])) < 0)
			return -1;
	if (overlay_field(&p, e->reason, sizeof(e->reason)) < 0 || *p != '\0')
		return -1;
	char *end;
	unsigned long long v[6];
	for (int i = 0; i < 6; i++) {
		errno = 0;
		v[i] = strtoull(f[i], &end, 10);
		if (errno != 0 || *end != '\0' || f[i][0] == '-')
			return -1;
	}
	if (v[0] == 0 || v[0] > UINT32_MAX || v[1] == 0 || v[1] > 10000 ||
	    v[2] > 1 || v[3] > INT64_MAX || v[4] > INT64_MAX)
		return -1;
	e->id = (uint32_t)v[0];
	e->bp = (uint16_t)v[1];
	e->drain = v[2] == 1;
	e->created_ms = (int64_t)v[3];
	e->expires_ms = (int64_t)v[4];
	e->uid = (unsigned long)v[5];
	return 0;
}

// Reads the state file: each line kept, or logged as FILE:LINE and
// dropped; expired entries dropped silently (their expiry passed while
// the daemon was down; logged as expired).
static void overlay_load(struct overlay *ov)
{
	char *data;
	size_t len;
	int rc = file_read(ov->state_path, OVERLAY_STATE_MAX, &data, &len);
	if (rc < 0) {
		if (rc != -ENOENT)
			log_error("state_file: cannot read %s: %s; starting "
				  "without runtime overrides",
				  ov->state_path, file_strerror(rc));
		return;
	}
	int64_t now = overlay_now_ms();
	unsigned line = 0;
	for (char *p = data, *nl; p < data + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (nl == NULL)
			nl = data + len;
		*nl = '\0';
		line++;
		struct overlay_entry e;
		if (line == 1 && strcmp(p, "geovip-overrides 1") == 0)
			continue;
		if (strncmp(p, "next\t", 5) == 0) {
			ov->next_id = (uint32_t)strtoul(p + 5, NULL, 10);
			continue;
		}
		if (strncmp(p, "override\t", 9) != 0 ||
		    overlay_parse_entry(p + 9, &e) < 0 ||
		    ov->count == OVERLAY_MAX ||
		    overlay_find(ov, e.from) != NULL) {
			log_error("%s:%u: not a valid override line; dropped",
				  ov->state_path, line);
			continue;
		}
		if (e.id >= ov->next_id)
			ov->next_id = e.id + 1;
		char what[1024];
		overlay_describe(&e, what, sizeof(what));
		if (e.expires_ms <= now) {
			log_info("audit: expired %s (while stopped)", what);
			continue;
		}
		log_info("restored override %s", what);
		ov->entries[ov->count++] = e;
	}
	free(data);
}

/* ---- publishing ----------------------------------------------------- */

static int overlay_region(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->region_count; i++)
		if (strcmp(cfg->regions[i].name, name) == 0)
			return (int)i;
	return REGION_NONE;
}

static void overlay_arm(struct overlay *ov);

// shed[] for cfg: the config's, each override (newest last) on top.
// Returns how many overrides apply.
static size_t overlay_shed_table(const struct overlay *ov,
				 const struct config *cfg,
				 struct region_shed *shed)
{
	region_shed_from_config(cfg, shed);
	size_t applied = 0;
	for (size_t i = 0; i < ov->count; i++) {
		const struct overlay_entry *e = &ov->entries[i];
		int from = overlay_region(cfg, e->from);
		int to = overlay_region(cfg, e->to);
		if (from == REGION_NONE || to == REGION_NONE) {
			log_warning("override #%" PRIu32 ": region '%s' is not "
				    "in the configuration; not applied",
				    e->id,
				    from == REGION_NONE ? e->from : e->to);
			continue;
		}
		shed[from] = (struct region_shed){to, e->bp, e->id};
		applied++;
	}
	return applied;
}

struct snapshot *overlay_apply(struct overlay *ov, struct snapshot *s)
{
	const struct config *cfg = s->config;
	overlay_arm(ov);
	struct region_shed *shed = calloc(cfg->region_count + 1, sizeof(*shed));
	if (shed == NULL) {
		log_error(
			"runtime overrides: out of memory; generation %" PRIu64
			" serves without them",
			s->generation);
		return s;
	}
	size_t applied = overlay_shed_table(ov, cfg, shed);
	struct snapshot *o = applied > 0 ? snapshot_overlay(s, shed) : NULL;
	free(shed);
	if (applied > 0 && o == NULL)
		log_error(
			"runtime overrides: out of memory; generation %" PRIu64
			" serves without them",
			s->generation);
	if (o == NULL)
		return s;
	snapshot_unref(s);
	return o;
}

// A new generation: the current one's loaded parts, the overrides of now
// (an override removed falls back to the config's shed).
static int overlay_publish(struct overlay *ov)
{
	const struct snapshot *cur = server_current(ov->srv);
	struct region_shed *shed =
		calloc(cur->config->region_count + 1, sizeof(*shed));
	struct snapshot *s = NULL;
	if (shed != NULL) {
		(void)overlay_shed_table(ov, cur->config, shed);
		s = snapshot_overlay(cur, shed);
		free(shed);
	}
	if (s == NULL) {
		log_error("runtime overrides: out of memory");
		return -1;
	}
	server_publish(ov->srv, s);
	log_info("runtime overrides: generation %" PRIu64 " published with "
		 "%zu override(s)",
		 s->generation, ov->count);
	overlay_arm(ov);
	return 0;
}

static void overlay_remove(struct overlay *ov, size_t i)
{
	memmove(&ov->entries[i], &ov->entries[i + 1],
		(ov->count - i - 1) * sizeof(ov->entries[0]));
	ov->count--;
}

static void overlay_on_expiry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct overlay *ov = arg;
	int64_t now = overlay_now_ms();
	bool changed = false;
	for (size_t i = 0; i < ov->count;) {
		if (ov->entries[i].expires_ms > now) {
			i++;
			continue;
		}
		char text[1024];
		overlay_describe(&ov->entries[i], text, sizeof(text));
		log_info("audit: expired %s", text);
		overlay_remove(ov, i);
		changed = true;
	}
	if (changed) {
		(void)overlay_save(ov);
		(void)overlay_publish(ov);
	} else {
		overlay_arm(ov);
	}
}

// The timer at the earliest expiry (wall clock, re-read when it fires).
static void overlay_arm(struct overlay *ov)
{
	event_del(ov->expiry);
	if (ov->count == 0)
		return;
	int64_t first = ov->entries[0].expires_ms;
	for (size_t i = 1; i < ov->count; i++)
		if (ov->entries[i].expires_ms < first)
			first = ov->entries[i].expires_ms;
	int64_t wait = first - overlay_now_ms();
	if (wait < 0)
		wait = 0;
	struct timeval tv = {(time_t)(wait / 1000),
			     (suseconds_t)(wait % 1000) * 1000 + 1000};
	event_add(ov->expiry, &tv);
}

/* ---- changes -------------------------------------------------------- */

int overlay_add(struct overlay *ov, struct overlay_entry *e)
{
	if (ov->count == OVERLAY_MAX) {
		log_error("runtime overrides: already %d", OVERLAY_MAX);
		return -1;
	}
	e->id = ov->next_id++;
	ov->entries[ov->count++] = *e;
	if (overlay_save(ov) < 0 || overlay_publish(ov) < 0) {
		ov->count--;
		(void)overlay_save(ov);
		return -1;
	}
	char text[1024];
	overlay_describe(e, text, sizeof(text));
	log_info("audit: uid %lu added %s", e->uid, text);
	return 0;
}

int overlay_undo(struct overlay *ov, uint32_t id, unsigned long uid)
{
	for (size_t i = 0; i < ov->count; i++) {
		if (ov->entries[i].id != id ||
		    ov->entries[i].source != OVERLAY_LOCAL)
			continue;
		struct overlay_entry e = ov->entries[i];
		overlay_remove(ov, i);
		if (overlay_save(ov) < 0 || overlay_publish(ov) < 0) {
			// put it back where it was
			memmove(&ov->entries[i + 1], &ov->entries[i],
				(ov->count - i) * sizeof(ov->entries[0]));
			ov->entries[i] = e;
			ov->count++;
			(void)overlay_save(ov);
			return -1;
		}
		char text[1024];
		overlay_describe(&e, text, sizeof(text));
		log_info("audit: uid %lu removed %s", uid, text);
		return 0;
	}
	return -1;
}

/* ---- fleet overrides ------------------------------------------------ */

// Whether two fleet entries say the same thing (ids and times aside).
static bool overlay_same(const struct overlay_entry *a,
			 const struct overlay_entry *b)
{
	return strcmp(a->key, b->key) == 0 && strcmp(a->from, b->from) == 0 &&
	       strcmp(a->to, b->to) == 0 && a->bp == b->bp &&
	       a->drain == b->drain && a->expires_ms == b->expires_ms &&
	       strcmp(a->reason, b->reason) == 0 && strcmp(a->who, b->who) == 0;
}

// The old fleet entry equal to e, or NULL.
static const struct overlay_entry *overlay_fleet_old(
	const struct overlay *ov, const struct overlay_entry *e)
{
	for (size_t i = 0; i < ov->count; i++)
		if (ov->entries[i].source == OVERLAY_FLEET &&
		    overlay_same(&ov->entries[i], e))
			return &ov->entries[i];
	return NULL;
}

// Whether old fleet entry o is among the n new ones.
static bool overlay_fleet_kept(const struct overlay_entry *o,
			       const struct overlay_entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (overlay_same(o, &e[i]))
			return true;
	return false;
}

// The audit lines of a fleet change: removals, then additions.
static void overlay_fleet_audit(const struct overlay_entry *prev,
				size_t prev_count,
				const struct overlay_entry *next, size_t n,
				uint32_t first_new)
{
	char text[1024];
	for (size_t i = 0; i < prev_count; i++) {
		const struct overlay_entry *o = &prev[i];
		if (o->source != OVERLAY_FLEET ||
		    overlay_fleet_kept(o, next, n))
			continue;
		overlay_describe(o, text, sizeof(text));
		log_info("audit: fleet removed %s", text);
	}
	for (size_t i = 0; i < n; i++) {
		if (next[i].id < first_new)
			continue;
		overlay_describe(&next[i], text, sizeof(text));
		log_info("audit: fleet added %s", text);
	}
}

int overlay_fleet_set(struct overlay *ov, const struct overlay_entry *e,
		      size_t n)
{
	size_t locals = 0, fleet_old = 0;
	for (size_t i = 0; i < ov->count; i++) {
		if (ov->entries[i].source == OVERLAY_LOCAL)
			locals++;
		else
			fleet_old++;
	}
	if (n > OVERLAY_MAX - locals) {
		log_error("fleet: %zu overrides and %zu local ones are more "
			  "than %d; only the first %zu fleet ones apply",
			  n, locals, OVERLAY_MAX, OVERLAY_MAX - locals);
		n = OVERLAY_MAX - locals;
	}
	struct overlay_entry *next = calloc(OVERLAY_MAX, sizeof(*next));
	if (next == NULL) {
		log_error("fleet: out of memory; overrides unchanged");
		return -1;
	}
	uint32_t first_new = ov->next_id;
	size_t kept = 0, count = 0;
	int64_t now = overlay_now_ms();
	for (size_t i = 0; i < n; i++, count++) {
		const struct overlay_entry *old = overlay_fleet_old(ov, &e[i]);
		next[count] = old != NULL ? *old : e[i];
		next[count].source = OVERLAY_FLEET;
		if (old != NULL) {
			kept++;
			continue;
		}
		next[count].id = ov->next_id++;
		next[count].created_ms = now;
	}
	for (size_t i = 0; i < ov->count; i++)
		if (ov->entries[i].source == OVERLAY_LOCAL)
			next[count++] = ov->entries[i];
	if (kept == fleet_old && kept == n) {
		free(next); // nothing changed
		return 0;
	}
	struct overlay_entry *prev = malloc(sizeof(ov->entries));
	if (prev == NULL) {
		free(next);
		log_error("fleet: out of memory; overrides unchanged");
		return -1;
	}
	memcpy(prev, ov->entries, sizeof(ov->entries));
	size_t prev_count = ov->count;
	memcpy(ov->entries, next, count * sizeof(*next));
	ov->count = count;
	int rc = overlay_publish(ov);
	if (rc < 0) {
		memcpy(ov->entries, prev, sizeof(ov->entries));
		ov->count = prev_count;
	} else {
		overlay_fleet_audit(prev, prev_count, next, n, first_new);
		(void)overlay_save(ov); // the next id
	}
	free(prev);
	free(next);
	return rc;
}

size_t overlay_count(const struct overlay *ov)
{
	return ov->count;
}

const struct overlay_entry *overlay_get(const struct overlay *ov, size_t i)
{
	return i < ov->count ? &ov->entries[i] : NULL;
}

const struct overlay_entry *overlay_find(const struct overlay *ov,
					 const char *from)
{
	for (size_t i = 0; i < ov->count; i++)
		if (strcmp(ov->entries[i].from, from) == 0)
			return &ov->entries[i];
	return NULL;
}

struct overlay *overlay_new(struct server *srv, struct event_base *base,
			    const char *state_path)
{
	struct overlay *ov = calloc(1, sizeof(*ov));
	if (ov == NULL)
		return NULL;
	ov->srv = srv;
	ov->next_id = 1;
	ov->expiry = evtimer_new(base, overlay_on_expiry, ov);
	if (ov->expiry == NULL ||
	    (state_path != NULL &&
	     (ov->state_path = strdup(state_path)) == NULL)) {
		overlay_free(ov);
		return NULL;
	}
	if (ov->state_path != NULL)
		overlay_load(ov);
	return ov;
}

void overlay_free(struct overlay *ov)
{
	if (ov == NULL)
		return;
	if (ov->expiry != NULL)
		event_free(ov->expiry);
	free(ov->state_path);
	free(ov);
}
