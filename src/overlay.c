/*
 * src/overlay.c — runtime overrides and health reports: the lists (main
 * thread only), hysteresis, the per-region table and the new generation
 * built from it (snapshot_overlay: the table replaced, the loaded parts
 * shared), the expiry timer, the state file, the audit lines.
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
	size_t health_count;
	struct overlay_health health[OVERLAY_MAX];
	bool all_down; // the last table published had every region down
	bool readonly; // overlay_read: never saves, has no timer
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
		 e->id, e->drain ? "drain" : "shed", e->from,
		 e->spread ? "(up regions by capacity)" : e->to, e->bp / 100,
		 e->bp % 100, until, by, e->reason);
}

// "emea down since T (pending up: 2 report(s) since T), uid U, reason R";
// a fleet state names its key, revision and who instead of the uid.
static void overlay_health_describe(const struct overlay_health *h, char *buf,
				    size_t len)
{
	char since[32], pend[32];
	overlay_time_text(h->changed_ms, since, sizeof(since));
	overlay_time_text(h->pending_ms, pend, sizeof(pend));
	int n = snprintf(buf, len, "%s %s", h->region, h->down ? "down" : "up");
	if (n < 0 || (size_t)n >= len)
		return;
	if (h->changed_ms > 0)
		n += snprintf(buf + n, len - (size_t)n, " since %s", since);
	if (n < 0 || (size_t)n >= len)
		return;
	if (h->pending > 0)
		n += snprintf(buf + n, len - (size_t)n,
			      " (pending %s: %u report(s) since %s)",
			      h->down ? "up" : "down", h->pending, pend);
	if (n < 0 || (size_t)n >= len)
		return;
	if (h->source == OVERLAY_FLEET)
		snprintf(buf + n, len - (size_t)n,
			 ", fleet: set by %s via etcd key %s (revision "
			 "%" PRId64 "), reason \"%s\"",
			 h->who, h->key, h->revision, h->reason);
	else
		snprintf(buf + n, len - (size_t)n, ", uid %lu, reason \"%s\"",
			 h->uid, h->reason);
}

/* ---- the state file ------------------------------------------------- */

// One override per line, tab-separated; the reason (no tab, no newline)
// last. Written to PATH.tmp and renamed: never half a file.
static int overlay_save(const struct overlay *ov)
{
	if (ov->state_path == NULL || ov->readonly)
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
			e->id, e->from, e->spread ? "*" : e->to, e->bp,
			e->drain ? 1 : 0, e->created_ms, e->expires_ms, e->uid,
			e->reason);
	}
	for (size_t i = 0; i < ov->health_count; i++) {
		const struct overlay_health *h = &ov->health[i];
		if (h->source == OVERLAY_FLEET)
			fprintf(f,
				"fleethealth\t%s\t%d\t%u\t%" PRId64 "\t%" PRId64
				"\t%" PRId64 "\t%" PRId64 "\t%s\t%s\t%s\n",
				h->region, h->down ? 1 : 0, h->pending,
				h->pending_ms, h->changed_ms, h->revision,
				h->expires_ms, h->key, h->who,
				h->reason[0] != '\0' ? h->reason : "-");
		else
			fprintf(f,
				"health\t%s\t%d\t%u\t%" PRId64 "\t%" PRId64
				"\t%lu\t%s\n",
				h->region, h->down ? 1 : 0, h->pending,
				h->pending_ms, h->changed_ms, h->uid,
				h->reason);
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
	if (strcmp(e->to, "*") == 0) {
		e->spread = true;
		e->to[0] = '\0';
	}
	e->bp = (uint16_t)v[1];
	e->drain = v[2] == 1;
	e->created_ms = (int64_t)v[3];
	e->expires_ms = (int64_t)v[4];
	e->uid = (unsigned long)v[5];
	return 0;
}

// n whole numbers, each a field of at most 31 digits, into v; -1 when
// one is missing or not a number.
static int overlay_numbers(char **p, unsigned long long *v, int n)
{
	for (int i = 0; i < n; i++) {
		char f[32], *end;
		if (overlay_field(p, f, sizeof(f)) < 0)
			return -1;
		errno = 0;
		v[i] = strtoull(f, &end, 10);
		if (errno != 0 || *end != '\0' || f[0] == '-')
			return -1;
	}
	return 0;
}

// One "fleethealth" line (after the keyword) into h: region, down,
// pending, pending_ms, changed_ms, revision, expires_ms, key, who,
// reason. -1 when malformed.
static int overlay_parse_fleet_health(char *p, struct overlay_health *h)
{
	unsigned long long v[6];
	memset(h, 0, sizeof(*h));
	h->source = OVERLAY_FLEET;
	if (overlay_field(&p, h->region, sizeof(h->region)) < 0 ||
	    overlay_numbers(&p, v, 6) < 0 ||
	    overlay_field(&p, h->key, sizeof(h->key)) < 0 ||
	    overlay_field(&p, h->who, sizeof(h->who)) < 0 ||
	    overlay_field(&p, h->reason, sizeof(h->reason)) < 0 || *p != '\0')
		return -1;
	if (v[0] > 1 || v[1] > UINT32_MAX || v[2] > INT64_MAX ||
	    v[3] > INT64_MAX || v[4] > INT64_MAX || v[5] > INT64_MAX)
		return -1;
	h->down = v[0] == 1;
	h->pending = (unsigned)v[1];
	h->pending_ms = (int64_t)v[2];
	h->changed_ms = (int64_t)v[3];
	h->revision = (int64_t)v[4];
	h->expires_ms = (int64_t)v[5];
	return 0;
}

// One "health" line (after the keyword) into h; -1 when malformed.
static int overlay_parse_health(char *p, struct overlay_health *h)
{
	char f[5][32];
	memset(h, 0, sizeof(*h));
	if (overlay_field(&p, h->region, sizeof(h->region)) < 0)
		return -1;
	for (int i = 0; i < 5; i++)
		if (overlay_field(&p, f[i], sizeof(f[i])) < 0)
			return -1;
	if (overlay_field(&p, h->reason, sizeof(h->reason)) < 0 || *p != '\0')
		return -1;
	unsigned long long v[5];
	for (int i = 0; i < 5; i++) {
		char *end;
		errno = 0;
		v[i] = strtoull(f[i], &end, 10);
		if (errno != 0 || *end != '\0' || f[i][0] == '-')
			return -1;
	}
	if (v[0] > 1 || v[1] > UINT32_MAX || v[2] > INT64_MAX ||
	    v[3] > INT64_MAX || (v[0] == 0 && v[1] == 0))
		return -1;
	h->down = v[0] == 1;
	h->pending = (unsigned)v[1];
	h->pending_ms = (int64_t)v[2];
	h->changed_ms = (int64_t)v[3];
	h->uid = (unsigned long)v[4];
	return 0;
}

// A "health" or "fleethealth" line of the state file, kept or logged
// and dropped. A fleet state whose `expires` passed while stopped is
// dropped (logged as expired).
static void overlay_load_health(struct overlay *ov, char *p, unsigned line,
				bool fleet)
{
	struct overlay_health h;
	int rc = fleet ? overlay_parse_fleet_health(p, &h)
		       : overlay_parse_health(p, &h);
	if (rc < 0 || ov->health_count == OVERLAY_MAX ||
	    overlay_health_find_from(ov, h.region, h.source) != NULL) {
		log_error("%s:%u: not a valid %s line; dropped", ov->state_path,
			  line, fleet ? "fleethealth" : "health");
		return;
	}
	char what[1024];
	overlay_health_describe(&h, what, sizeof(what));
	if (fleet && h.expires_ms > 0 && h.expires_ms <= overlay_now_ms()) {
		log_info("audit: fleet health expired %s (while stopped)",
			 what);
		return;
	}
	log_info("restored health %s", what);
	ov->health[ov->health_count++] = h;
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
		if (strncmp(p, "health\t", 7) == 0) {
			overlay_load_health(ov, p + 7, line, false);
			continue;
		}
		if (strncmp(p, "fleethealth\t", 12) == 0) {
			overlay_load_health(ov, p + 12, line, true);
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

static void overlay_arm(struct overlay *ov, const struct config *cfg);

/* ---- health --------------------------------------------------------- */

// When h's pending change is due by hold-down under cfg, or -1.
static int64_t overlay_due(const struct config *cfg,
			   const struct overlay_health *h)
{
	if (h->pending == 0 || cfg->health_hold_down == 0)
		return -1;
	return h->pending_ms + (int64_t)cfg->health_hold_down * 1000;
}

int64_t overlay_health_due_ms(const struct overlay *ov,
			      const struct overlay_health *h)
{
	return overlay_due(server_current(ov->srv)->config, h);
}

// Whether h's pending change takes effect at now under cfg's health:.
static bool overlay_health_ready(const struct config *cfg,
				 const struct overlay_health *h, int64_t now)
{
	if (h->pending == 0)
		return false;
	if (cfg->health_hold_down == 0 && cfg->health_reports == 0)
		return true;
	if (cfg->health_reports > 0 && h->pending >= cfg->health_reports)
		return true;
	int64_t due = overlay_due(cfg, h);
	return due >= 0 && now >= due;
}

static void overlay_health_remove(struct overlay *ov, size_t i)
{
	memmove(&ov->health[i], &ov->health[i + 1],
		(ov->health_count - i - 1) * sizeof(ov->health[0]));
	ov->health_count--;
}

// h's pending change takes effect now (audited).
static void overlay_health_flip(struct overlay_health *h, int64_t now)
{
	h->down = !h->down;
	h->pending = 0;
	h->changed_ms = now;
	char text[1024];
	overlay_health_describe(h, text, sizeof(text));
	log_info("audit: health %s: in effect", text);
}

// The pending changes due under cfg take effect; a region back up is
// dropped. true when any did.
static bool overlay_health_promote(struct overlay *ov, const struct config *cfg,
				   int64_t now)
{
	bool changed = false;
	for (size_t i = 0; i < ov->health_count;) {
		struct overlay_health *h = &ov->health[i];
		if (!overlay_health_ready(cfg, h, now)) {
			i++;
			continue;
		}
		overlay_health_flip(h, now);
		changed = true;
		// a fleet state stays while its key does (its revision)
		if (!h->down && h->source == OVERLAY_LOCAL)
			overlay_health_remove(ov, i);
		else
			i++;
	}
	return changed;
}

/* ---- the table and publishing ---------------------------------------- */

static void overlay_put_entry(struct region_shed *table,
			      const struct config *cfg,
			      const struct overlay_entry *e)
{
	int from = overlay_region(cfg, e->from);
	int to = e->spread ? REGION_SPREAD : overlay_region(cfg, e->to);
	if (from == REGION_NONE || to == REGION_NONE)
		return;
	table[from].to = to;
	table[from].bp = e->bp;
	table[from].override_id = e->id;
}

// A region is down when its local or its fleet state says so: every
// source of health is marked, none can mark a region up.
static void overlay_put_health(struct region_shed *table,
			       const struct config *cfg, const char *region,
			       bool down)
{
	int i = overlay_region(cfg, region);
	if (i != REGION_NONE && down)
		table[i].health = REGION_DOWN;
}

// Whether change replaces health state h (same region and source).
static bool overlay_change_replaces(const struct overlay_change *change,
				    const struct overlay_health *h)
{
	return change != NULL && change->kind == OVERLAY_CHANGE_HEALTH &&
	       strcmp(change->region, h->region) == 0 &&
	       (h->source == OVERLAY_FLEET) == change->fleet;
}

// Whether a local override of region from is active (it shadows a fleet
// one on this server).
static bool overlay_has_local(const struct overlay *ov, const char *from)
{
	for (size_t i = 0; i < ov->count; i++)
		if (ov->entries[i].source == OVERLAY_LOCAL &&
		    strcmp(ov->entries[i].from, from) == 0)
			return true;
	return false;
}

int overlay_table(const struct overlay *ov, const struct config *cfg,
		  const struct overlay_change *change,
		  struct region_shed *table)
{
	region_shed_from_config(cfg, table);
	for (size_t i = 0; i < ov->count; i++) {
		const struct overlay_entry *e = &ov->entries[i];
		if (change == NULL || change->kind != OVERLAY_CHANGE_UNDO ||
		    change->undo_id != e->id)
			overlay_put_entry(table, cfg, e);
	}
	if (change != NULL && change->kind == OVERLAY_CHANGE_ADD &&
	    (change->add.source == OVERLAY_LOCAL ||
	     !overlay_has_local(ov, change->add.from)))
		overlay_put_entry(table, cfg, &change->add);
	for (size_t i = 0; i < ov->health_count; i++)
		if (!overlay_change_replaces(change, &ov->health[i]))
			overlay_put_health(table, cfg, ov->health[i].region,
					   ov->health[i].down);
	if (change != NULL && change->kind == OVERLAY_CHANGE_HEALTH)
		overlay_put_health(table, cfg, change->region, change->down);
	for (size_t i = 0; i < cfg->region_count; i++)
		if (table[i].health != REGION_DOWN)
			return 0;
	// never SERVFAIL the world: every region served as if up
	for (size_t i = 0; i < cfg->region_count; i++)
		table[i].health = REGION_DOWN_IGNORED;
	return cfg->region_count > 0 ? 1 : 0;
}

// Entries naming a region cfg lacks are kept but not applied: say so.
static void overlay_warn_unknown(const struct overlay *ov,
				 const struct config *cfg)
{
	for (size_t i = 0; i < ov->count; i++) {
		const struct overlay_entry *e = &ov->entries[i];
		const char *bad = overlay_region(cfg, e->from) == REGION_NONE
					  ? e->from
				  : !e->spread && overlay_region(cfg, e->to) ==
							  REGION_NONE
					  ? e->to
					  : NULL;
		if (bad != NULL)
			log_warning("override #%" PRIu32 ": region '%s' is not "
				    "in the configuration; not applied",
				    e->id, bad);
	}
	for (size_t i = 0; i < ov->health_count; i++)
		if (overlay_region(cfg, ov->health[i].region) == REGION_NONE)
			log_warning("health of region '%s': not in the "
				    "configuration; not applied",
				    ov->health[i].region);
}

// The table for cfg (NULL: out of memory); logs entering and leaving the
// state where every region is down, once per transition.
static struct region_shed *overlay_build(struct overlay *ov,
					 const struct config *cfg)
{
	struct region_shed *t = calloc(cfg->region_count + 1, sizeof(*t));
	if (t == NULL)
		return NULL;
	overlay_warn_unknown(ov, cfg);
	bool all = overlay_table(ov, cfg, NULL, t) == 1;
	if (all && !ov->all_down)
		log_warning("health: every region is down; answering as if "
			    "all were up");
	else if (!all && ov->all_down)
		log_info("health: not every region is down any more; down "
			 "regions' clients are spread again");
	ov->all_down = all;
	return t;
}

static bool overlay_same_table(const struct region_shed *a,
			       const struct region_shed *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].to != b[i].to || a[i].bp != b[i].bp ||
		    a[i].override_id != b[i].override_id ||
		    a[i].health != b[i].health)
			return false;
	return true;
}

struct snapshot *overlay_apply(struct overlay *ov, struct snapshot *s)
{
	const struct config *cfg = s->config;
	// hold-downs that ran out while stopped or reloading
	if (overlay_health_promote(ov, cfg, overlay_now_ms()))
		(void)overlay_save(ov);
	overlay_arm(ov, cfg);
	struct region_shed *t = overlay_build(ov, cfg);
	if (t == NULL) {
		log_error(
			"runtime overrides: out of memory; generation %" PRIu64
			" serves without them",
			s->generation);
		return s;
	}
	bool same = overlay_same_table(t, s->shed, cfg->region_count);
	struct snapshot *o = same ? NULL : snapshot_overlay(s, t);
	free(t);
	if (!same && o == NULL)
		log_error(
			"runtime overrides: out of memory; generation %" PRIu64
			" serves without them",
			s->generation);
	if (o == NULL)
		return s;
	snapshot_unref(s);
	return o;
}

// A new generation: the current one's loaded parts, the overrides and
// health of now (an override removed falls back to the config's shed).
static int overlay_publish(struct overlay *ov)
{
	const struct snapshot *cur = server_current(ov->srv);
	struct region_shed *t = overlay_build(ov, cur->config);
	struct snapshot *s = t != NULL ? snapshot_overlay(cur, t) : NULL;
	free(t);
	if (s == NULL) {
		log_error("runtime overrides: out of memory");
		return -1;
	}
	server_publish(ov->srv, s);
	log_info("runtime overrides: generation %" PRIu64 " published with "
		 "%zu override(s), %zu region health state(s)",
		 s->generation, ov->count, ov->health_count);
	overlay_arm(ov, s->config);
	return 0;
}

static void overlay_remove(struct overlay *ov, size_t i)
{
	memmove(&ov->entries[i], &ov->entries[i + 1],
		(ov->count - i - 1) * sizeof(ov->entries[0]));
	ov->count--;
}

// Fleet health states whose `expires` passed are dropped (the fleet no
// longer says anything of their region). true when any was.
static bool overlay_fleet_health_expire(struct overlay *ov, int64_t now)
{
	bool changed = false;
	for (size_t i = 0; i < ov->health_count;) {
		const struct overlay_health *h = &ov->health[i];
		if (h->source != OVERLAY_FLEET || h->expires_ms <= 0 ||
		    h->expires_ms > now) {
			i++;
			continue;
		}
		char text[1024];
		overlay_health_describe(h, text, sizeof(text));
		log_info("audit: fleet health expired %s", text);
		overlay_health_remove(ov, i);
		changed = true;
	}
	return changed;
}

static void overlay_on_expiry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct overlay *ov = arg;
	const struct config *cfg = server_current(ov->srv)->config;
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
	if (overlay_health_promote(ov, cfg, now))
		changed = true;
	if (overlay_fleet_health_expire(ov, now))
		changed = true;
	if (changed) {
		(void)overlay_save(ov);
		(void)overlay_publish(ov);
	} else {
		overlay_arm(ov, cfg);
	}
}

// The timer at the earliest expiry or hold-down (wall clock, re-read
// when it fires).
static void overlay_arm(struct overlay *ov, const struct config *cfg)
{
	if (ov->expiry == NULL)
		return;
	event_del(ov->expiry);
	int64_t first = -1;
	for (size_t i = 0; i < ov->count; i++)
		if (first < 0 || ov->entries[i].expires_ms < first)
			first = ov->entries[i].expires_ms;
	for (size_t i = 0; i < ov->health_count; i++) {
		const struct overlay_health *h = &ov->health[i];
		int64_t due = overlay_due(cfg, h);
		if (due >= 0 && (first < 0 || due < first))
			first = due;
		if (h->expires_ms > 0 && (first < 0 || h->expires_ms < first))
			first = h->expires_ms;
	}
	if (first < 0)
		return;
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
	       a->drain == b->drain && a->spread == b->spread &&
	       a->expires_ms == b->expires_ms &&
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

// Where a report of source for region goes: its entry, created (up) when
// missing; NULL when the table is full.
static struct overlay_health *overlay_health_slot(struct overlay *ov,
						  const char *region,
						  enum overlay_source source)
{
	for (size_t i = 0; i < ov->health_count; i++)
		if (strcmp(ov->health[i].region, region) == 0 &&
		    ov->health[i].source == source)
			return &ov->health[i];
	if (ov->health_count == OVERLAY_MAX)
		return NULL;
	struct overlay_health *h = &ov->health[ov->health_count++];
	memset(h, 0, sizeof(*h));
	strcpy(h->region, region);
	h->source = source;
	return h;
}

// Saves and publishes after a report; -1 with the health list as saved.
static int overlay_health_commit(struct overlay *ov, bool publish,
				 const struct overlay_health *saved,
				 size_t saved_count)
{
	if (overlay_save(ov) == 0 && (!publish || overlay_publish(ov) == 0))
		return 0;
	memcpy(ov->health, saved, saved_count * sizeof(*saved));
	ov->health_count = saved_count;
	(void)overlay_save(ov);
	return -1;
}

// One report of down for h at now, with cfg's hysteresis: a report of
// the state in effect cancels a pending change; one of the other state
// counts towards it (who and why are set by the caller then).
static enum overlay_health_result overlay_health_count_report(
	const struct config *cfg, struct overlay_health *h, bool down,
	int64_t now)
{
	if (down == h->down) {
		h->pending = 0;
		return OVERLAY_HEALTH_UNCHANGED;
	}
	if (h->pending++ == 0)
		h->pending_ms = now;
	if (!overlay_health_ready(cfg, h, now))
		return OVERLAY_HEALTH_PENDING;
	overlay_health_flip(h, now);
	return OVERLAY_HEALTH_EFFECTIVE;
}

static const char *overlay_health_result_text(int rc)
{
	return rc == OVERLAY_HEALTH_EFFECTIVE ? "in effect"
	       : rc == OVERLAY_HEALTH_PENDING ? "pending (hysteresis)"
					      : "already so";
}

int overlay_health_report(struct overlay *ov, const char *region, bool down,
			  unsigned long uid, const char *reason)
{
	if (strlen(region) > OVERLAY_NAME_MAX ||
	    strlen(reason) > OVERLAY_REASON_MAX || reason[0] == '\0') {
		log_error("health report for '%.64s': name or reason too long "
			  "or empty",
			  region);
		return -1;
	}
	const struct config *cfg = server_current(ov->srv)->config;
	int64_t now = overlay_now_ms();
	const struct overlay_health *known = overlay_health_find(ov, region);
	if (known == NULL && !down)
		return OVERLAY_HEALTH_UNCHANGED; // up, nothing pending
	// the list as it was, to put back if saving or publishing fails
	size_t saved_count = ov->health_count;
	struct overlay_health *saved =
		malloc((saved_count + 1) * sizeof(*saved));
	struct overlay_health *h =
		overlay_health_slot(ov, region, OVERLAY_LOCAL);
	if (saved == NULL || h == NULL) {
		log_error("health report for '%s': %s", region,
			  saved == NULL ? "out of memory"
					: "too many regions kept");
		if (h != NULL && ov->health_count > saved_count)
			ov->health_count = saved_count;
		free(saved);
		return -1;
	}
	memcpy(saved, ov->health, saved_count * sizeof(*saved));
	if (down != h->down) {
		// who reported the change, and why: kept with the state
		h->uid = uid;
		snprintf(h->reason, sizeof(h->reason), "%s", reason);
	}
	int rc = (int)overlay_health_count_report(cfg, h, down, now);
	char text[1024];
	overlay_health_describe(h, text, sizeof(text));
	if (!h->down && h->pending == 0)
		overlay_health_remove(ov, (size_t)(h - ov->health));
	if (overlay_health_commit(ov, rc == OVERLAY_HEALTH_EFFECTIVE, saved,
				  saved_count) < 0) {
		free(saved);
		return -1;
	}
	free(saved);
	log_info("audit: uid %lu reported %s %s: %s", uid, region,
		 down ? "down" : "up", overlay_health_result_text(rc));
	log_info("health: %s", text);
	if (rc != OVERLAY_HEALTH_EFFECTIVE)
		overlay_arm(ov, cfg);
	return rc;
}

/* ---- fleet health --------------------------------------------------- */

static const struct overlay_fleet_health *overlay_fleet_value(
	const struct overlay_fleet_health *r, size_t n, const char *region)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(r[i].region, region) == 0)
			return &r[i];
	return NULL;
}

// Fleet states whose region has no value in r any more are dropped at
// once (no hysteresis: the fleet stopped saying anything). true when an
// effective down was among them.
static bool overlay_fleet_health_drop(struct overlay *ov,
				      const struct overlay_fleet_health *r,
				      size_t n, bool *changed)
{
	bool publish = false;
	for (size_t i = 0; i < ov->health_count;) {
		const struct overlay_health *h = &ov->health[i];
		if (h->source != OVERLAY_FLEET ||
		    overlay_fleet_value(r, n, h->region) != NULL) {
			i++;
			continue;
		}
		char text[1024];
		overlay_health_describe(h, text, sizeof(text));
		log_info("audit: fleet removed health %s (its key was "
			 "deleted or expired)",
			 text);
		publish |= h->down;
		overlay_health_remove(ov, i);
		*changed = true;
	}
	return publish;
}

// One fleet value counted as a report unless its key and revision were
// counted already. true when it took effect.
static bool overlay_fleet_health_one(struct overlay *ov,
				     const struct config *cfg,
				     const struct overlay_fleet_health *v,
				     int64_t now, bool *changed)
{
	const struct overlay_health *known =
		overlay_health_find_from(ov, v->region, OVERLAY_FLEET);
	if (known != NULL && known->revision == v->revision &&
	    strcmp(known->key, v->key) == 0)
		return false; // counted: a resync or a restart
	// kept while the key exists, up or down: it records the revision
	// counted
	struct overlay_health *h =
		overlay_health_slot(ov, v->region, OVERLAY_FLEET);
	if (h == NULL) {
		log_error("fleet: %s: more than %d health states kept; "
			  "ignored",
			  v->key, OVERLAY_MAX);
		return false;
	}
	if (known == NULL || v->down != h->down) {
		snprintf(h->who, sizeof(h->who), "%s", v->who);
		snprintf(h->reason, sizeof(h->reason), "%s",
			 v->reason[0] != '\0' ? v->reason : "-");
	}
	snprintf(h->key, sizeof(h->key), "%s", v->key);
	h->revision = v->revision;
	h->expires_ms = v->expires_ms;
	int rc = (int)overlay_health_count_report(cfg, h, v->down, now);
	char text[1024];
	overlay_health_describe(h, text, sizeof(text));
	*changed = true;
	log_info("audit: fleet reported %s %s via etcd key %s (revision "
		 "%" PRId64 ") by %s: %s",
		 v->region, v->down ? "down" : "up", v->key, v->revision,
		 v->who, overlay_health_result_text(rc));
	log_info("health: %s", text);
	return rc == OVERLAY_HEALTH_EFFECTIVE;
}

int overlay_fleet_health_set(struct overlay *ov,
			     const struct overlay_fleet_health *r, size_t n)
{
	const struct config *cfg = server_current(ov->srv)->config;
	int64_t now = overlay_now_ms();
	bool changed = false;
	bool publish = overlay_fleet_health_drop(ov, r, n, &changed);
	for (size_t i = 0; i < n; i++)
		publish |=
			overlay_fleet_health_one(ov, cfg, &r[i], now, &changed);
	if (changed)
		(void)overlay_save(ov);
	if (publish)
		return overlay_publish(ov);
	overlay_arm(ov, cfg);
	return 0;
}

bool overlay_region_known(const struct overlay *ov, const char *name)
{
	return overlay_region(server_current(ov->srv)->config, name) !=
	       REGION_NONE;
}

void overlay_fleet_forget(struct overlay *ov)
{
	bool changed = false;
	for (size_t i = 0; i < ov->health_count;) {
		const struct overlay_health *h = &ov->health[i];
		if (h->source != OVERLAY_FLEET) {
			i++;
			continue;
		}
		char text[1024];
		overlay_health_describe(h, text, sizeof(text));
		log_info("audit: fleet removed health %s (the configuration "
			 "has no fleet:)",
			 text);
		overlay_health_remove(ov, i);
		changed = true;
	}
	if (changed)
		(void)overlay_save(ov);
}

size_t overlay_health_count(const struct overlay *ov)
{
	return ov->health_count;
}

const struct overlay_health *overlay_health_get(const struct overlay *ov,
						size_t i)
{
	return i < ov->health_count ? &ov->health[i] : NULL;
}

const struct overlay_health *overlay_health_find_from(
	const struct overlay *ov, const char *region,
	enum overlay_source source)
{
	for (size_t i = 0; i < ov->health_count; i++)
		if (strcmp(ov->health[i].region, region) == 0 &&
		    ov->health[i].source == source)
			return &ov->health[i];
	return NULL;
}

const struct overlay_health *overlay_health_find(const struct overlay *ov,
						 const char *region)
{
	return overlay_health_find_from(ov, region, OVERLAY_LOCAL);
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

struct overlay *overlay_read(const char *state_path)
{
	struct overlay *ov = calloc(1, sizeof(*ov));
	if (ov == NULL || (ov->state_path = strdup(state_path)) == NULL) {
		free(ov);
		return NULL;
	}
	ov->next_id = 1;
	ov->readonly = true;
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
