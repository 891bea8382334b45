/*
 * src/control.c — the control socket: a Unix stream socket on the main
 * thread's loop, one request line per connection, answered with lines
 * ending in "OK" or "ERROR message"; commands status, reload, shed,
 * drain, health, undo, overrides, lookup, zones, `--dry-run` on the
 * changes (see geovipctl(8) and README "The control protocol").
 */
#define _GNU_SOURCE /* struct ucred */
#include "autoconf.h"
#include "control.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "config.h"
#include "diag.h"
#include "dryrun.h"
#include "fleet.h"
#include "fleetkv.h"
#include "geo.h"
#include "log.h"
#include "lookup.h"
#include "overlay.h"
#include "region.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "xfr.h"
#include "zone.h"

/* Connections at once; more are told so and closed. */
#define CONTROL_CONN_MAX 16
/* Seconds a client has to send its line. */
#define CONTROL_READ_TIMEOUT 10
/* Fields in a request. */
#define CONTROL_ARGS_MAX 32

struct conn {
	struct control *ctl;
	struct bufferevent *bev;
	unsigned long uid; // SO_PEERCRED
	uint64_t wait_seq; // waiting for this reload, or 0
	// a dry run's `--clients N`: the request waits for its N lines
	char *request;
	size_t clients_expected, client_count;
	struct dryrun_client *clients;
	struct conn *next;
};

struct control {
	struct server *srv;
	struct reload *rl;
	struct event_base *base;
	struct overlay *ov;
	struct fleet *fleet; // `fleet:`, or NULL
	struct evconnlistener *listener;
	char *path; // the socket file, or NULL
	struct conn *conns;
	unsigned conn_count;
	const struct xfr *xfr; // secondary zones, for `zones`
};

/* ---- connections ---------------------------------------------------- */

static void control_conn_free(struct conn *cn)
{
	struct control *c = cn->ctl;
	for (struct conn **p = &c->conns; *p != NULL; p = &(*p)->next)
		if (*p == cn) {
			*p = cn->next;
			break;
		}
	c->conn_count--;
	bufferevent_free(cn->bev);
	free(cn->request);
	free(cn->clients);
	free(cn);
}

static void control_on_flushed(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;
	if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		control_conn_free(cn);
}

static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *cn = arg;
	// EOF before a line, an error or the read timeout: nothing to answer
	// (a reload under way still finishes; its waiter is gone)
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		control_conn_free(cn);
}

// The status line ends the response; the connection closes once sent.
static void control_finish(struct conn *cn, const char *fmt, ...)
{
	struct evbuffer *out = bufferevent_get_output(cn->bev);
	if (fmt == NULL) {
		evbuffer_add_printf(out, "OK\n");
	} else {
		va_list ap;
		va_start(ap, fmt);
		evbuffer_add_printf(out, "ERROR ");
		evbuffer_add_vprintf(out, fmt, ap);
		evbuffer_add_printf(out, "\n");
		va_end(ap);
	}
	bufferevent_disable(cn->bev, EV_READ);
	bufferevent_setcb(cn->bev, NULL, control_on_flushed, control_on_event,
			  cn);
	bufferevent_enable(cn->bev, EV_WRITE);
}

static void control_printf(struct conn *cn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void control_printf(struct conn *cn, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(bufferevent_get_output(cn->bev), fmt, ap);
	va_end(ap);
}

/* ---- arguments ------------------------------------------------------ */

/*
 * Splits line into fields: at tabs when it has one (so a reason keeps its
 * spaces), else at runs of spaces. -1 when there are too many.
 */
static int control_split(char *line, char **argv)
{
	int argc = 0;
	const char *sep = strchr(line, '\t') != NULL ? "\t" : " ";
	for (char *save = NULL, *f = strtok_r(line, sep, &save); f != NULL;
	     f = strtok_r(NULL, sep, &save)) {
		if (argc == CONTROL_ARGS_MAX)
			return -1;
		argv[argc++] = f;
	}
	return argc;
}

static int control_region(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->region_count; i++)
		if (strcmp(cfg->regions[i].name, name) == 0)
			return (int)i;
	return REGION_NONE;
}

// "unknown region 'x' (regions: a, b, c)" as the error.
static void control_unknown_region(struct conn *cn, const struct config *cfg,
				   const char *what, const char *name)
{
	char list[512] = "";
	size_t used = 0;
	for (size_t i = 0; i < cfg->region_count && used < sizeof(list); i++) {
		int n = snprintf(list + used, sizeof(list) - used, "%s%s",
				 i ? ", " : "", cfg->regions[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	control_finish(cn, "unknown %s '%s' (regions: %s)", what, name, list);
}

/* ---- commands ------------------------------------------------------- */

static void control_print_mtime(struct conn *cn, const char *what,
				const char *path)
{
	struct stat st;
	char when[32] = "(cannot stat)";
	if (stat(path, &st) == 0)
		overlay_time_text((int64_t)st.st_mtime * 1000, when,
				  sizeof(when));
	control_printf(cn, "file %s %s mtime %s\n", what, path, when);
}

static void control_print_override(struct conn *cn,
				   const struct overlay_entry *e)
{
	char created[32], until[32], by[OVERLAY_KEY_MAX + OVERLAY_WHO_MAX + 32];
	overlay_time_text(e->created_ms, created, sizeof(created));
	overlay_time_text(e->expires_ms, until, sizeof(until));
	long long left = (e->expires_ms - overlay_now_ms() + 999) / 1000;
	if (e->source == OVERLAY_FLEET)
		snprintf(by, sizeof(by), "%s via etcd key %s", e->who, e->key);
	else
		snprintf(by, sizeof(by), "uid %lu", e->uid);
	control_printf(cn,
		       "override #%" PRIu32 " %s %s to %s %u.%02u%% "
		       "until %s (%llds left) by %s at %s reason \"%s\"\n",
		       e->id, e->drain ? "drain" : "shed", e->from,
		       e->spread ? "(up regions by capacity)" : e->to,
		       e->bp / 100, e->bp % 100, until, left > 0 ? left : 0, by,
		       created, e->reason);
}

static void control_print_health(struct conn *cn,
				 const struct overlay_health *h)
{
	char since[32], pend[32];
	overlay_time_text(h->changed_ms, since, sizeof(since));
	overlay_time_text(h->pending_ms, pend, sizeof(pend));
	control_printf(cn, "%shealth %s %s",
		       h->source == OVERLAY_FLEET ? "fleet " : "", h->region,
		       h->down ? "down" : "up");
	if (h->changed_ms > 0)
		control_printf(cn, " since %s", since);
	if (h->pending > 0) {
		control_printf(cn, " pending %s (%u report(s) since %s",
			       h->down ? "up" : "down", h->pending, pend);
		int64_t due = overlay_health_due_ms(cn->ctl->ov, h);
		if (due >= 0) {
			overlay_time_text(due, pend, sizeof(pend));
			control_printf(cn, ", in effect by %s", pend);
		}
		control_printf(cn, ")");
	}
	if (h->source == OVERLAY_FLEET)
		control_printf(cn,
			       " by %s via etcd key %s revision %" PRId64
			       " reason \"%s\"\n",
			       h->who, h->key, h->revision, h->reason);
	else
		control_printf(cn, " by uid %lu reason \"%s\"\n", h->uid,
			       h->reason);
}

static void control_print_lists(struct conn *cn)
{
	for (size_t i = 0; i < overlay_count(cn->ctl->ov); i++)
		control_print_override(cn, overlay_get(cn->ctl->ov, i));
	for (size_t i = 0; i < overlay_health_count(cn->ctl->ov); i++)
		control_print_health(cn, overlay_health_get(cn->ctl->ov, i));
}

static void control_vips(struct conn *cn, const struct config_region *r)
{
	char buf[64];
	for (size_t i = 0; i < r->v4_count; i++) {
		addr_format(&r->v4[i], buf, sizeof(buf));
		control_printf(cn, " %s", buf);
	}
	for (size_t i = 0; i < r->v6_count; i++) {
		addr_format(&r->v6[i], buf, sizeof(buf));
		control_printf(cn, " %s", buf);
	}
}

// Which sources hold region name down: "local", "fleet", "local and
// fleet", or NULL.
static const char *control_down_by(const struct overlay *ov, const char *name)
{
	const struct overlay_health *l = overlay_health_find(ov, name);
	const struct overlay_health *f =
		overlay_health_find_from(ov, name, OVERLAY_FLEET);
	bool local = l != NULL && l->down, fleet = f != NULL && f->down;
	return local && fleet ? "local and fleet"
	       : local        ? "local"
	       : fleet        ? "fleet"
			      : NULL;
}

// " shed 25.00% to apac (override #3)", " down (health: fleet)" after a
// region.
static void control_region_state(struct conn *cn, const struct config *cfg,
				 const struct region_shed *sh, const char *name)
{
	if (sh->to != REGION_NONE && sh->bp > 0) {
		control_printf(
			cn, " shed %u.%02u%% %s%s", sh->bp / 100, sh->bp % 100,
			sh->to == REGION_SPREAD ? "by capacity" : "to ",
			sh->to == REGION_SPREAD ? ""
						: cfg->regions[sh->to].name);
		if (sh->override_id != 0)
			control_printf(cn, " (override #%" PRIu32 ")",
				       sh->override_id);
		else
			control_printf(cn, " (config)");
	}
	const char *by = control_down_by(cn->ctl->ov, name);
	if (sh->health == REGION_DOWN)
		control_printf(cn, " down (health: %s)", by ? by : "?");
	else if (sh->health == REGION_DOWN_IGNORED)
		control_printf(cn,
			       " down (health: %s; every region is down: "
			       "served as if up)",
			       by ? by : "?");
}

static void control_status(struct conn *cn)
{
	const struct snapshot *s = server_current(cn->ctl->srv);
	const struct config *cfg = s->config;
	char loaded[32];
	overlay_time_text(s->loaded_at * 1000, loaded, sizeof(loaded));
	control_printf(cn, "generation %" PRIu64 "\nloaded %s\n", s->generation,
		       loaded);
	control_print_mtime(cn, "config", cfg->path);
	control_print_mtime(cn, "geoip", cfg->geoip);
	for (size_t i = 0; i < cfg->zone_count; i++)
		control_print_mtime(cn, cfg->zones[i].origin_text,
				    cfg->zones[i].file);
	control_printf(cn, "zones %zu records %zu geo %s (%zu records)\n",
		       zone_set_zone_count(s->zones),
		       zone_set_record_count(s->zones),
		       geo_database_type(s->geo), geo_record_count(s->geo));
	for (size_t i = 0; i < cfg->region_count; i++) {
		control_printf(cn, "region %s vips", cfg->regions[i].name);
		control_vips(cn, &cfg->regions[i]);
		if (cfg->regions[i].capacity != 1)
			control_printf(cn, " capacity %" PRIu32,
				       cfg->regions[i].capacity);
		control_region_state(cn, cfg, &s->shed[i],
				     cfg->regions[i].name);
		control_printf(cn, "\n");
	}
	control_print_lists(cn);
	char fleet[512];
	fleet_status(cn->ctl->fleet, fleet, sizeof(fleet));
	if (fleet[0] != '\0')
		control_printf(cn, "%s\n", fleet);
	control_finish(cn, NULL);
}

static void control_overrides(struct conn *cn)
{
	control_print_lists(cn);
	control_printf(cn, "%zu active\n", overlay_count(cn->ctl->ov));
	control_finish(cn, NULL);
}

// After a lookup: which source holds each down region down.
static void control_lookup_sources(struct conn *cn)
{
	const struct overlay *ov = cn->ctl->ov;
	for (size_t i = 0; i < overlay_health_count(ov); i++) {
		const struct overlay_health *h = overlay_health_get(ov, i);
		if (!h->down)
			continue;
		if (h->source == OVERLAY_FLEET)
			control_printf(cn,
				       "%-16s %s down by the fleet: etcd key "
				       "%s revision %" PRId64 ", set by %s\n",
				       "health source", h->region, h->key,
				       h->revision, h->who);
		else
			control_printf(cn,
				       "%-16s %s down by a local report, uid "
				       "%lu\n",
				       "health source", h->region, h->uid);
	}
}

static void control_lookup(struct conn *cn, int argc, char **argv)
{
	const char *name = NULL;
	if (argc == 4 && strcmp(argv[2], "--name") == 0)
		name = argv[3];
	else if (argc != 2) {
		control_finish(cn, "usage: lookup ADDR[/PREFIX] [--name NAME]");
		return;
	}
	char *out = NULL, *err = NULL;
	size_t out_len = 0, err_len = 0;
	FILE *fo = open_memstream(&out, &out_len);
	FILE *fe = open_memstream(&err, &err_len);
	int rc = -1;
	if (fo != NULL && fe != NULL)
		rc = lookup_print_name(server_current(cn->ctl->srv), argv[1],
				       name, fo, fe);
	if (fo != NULL)
		fclose(fo);
	if (fe != NULL)
		fclose(fe);
	if (rc == 0 && out != NULL)
		control_printf(cn, "%s", out);
	if (rc == 0)
		control_lookup_sources(cn);
	if (rc == 0)
		control_finish(cn, NULL);
	else if (name != NULL && err != NULL && err[0] != '\0')
		// lookup.c's message: no such service or regional name
		control_finish(cn, "lookup: %.*s", (int)strcspn(err, "\n"),
			       err);
	else
		control_finish(cn,
			       "lookup: '%s' is not ADDR or ADDR/PREFIX "
			       "(e.g. 192.0.2.1 or 2001:db8::/56)",
			       argv[1]);
	free(out);
	free(err);
}

// One line per secondary zone: serial, state, transfers, expiry, error.
static void control_zones(struct conn *cn)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (f == NULL) {
		control_finish(cn, "out of memory");
		return;
	}
	xfr_print_status(cn->ctl->xfr, f);
	fclose(f);
	if (out != NULL)
		control_printf(cn, "%s", out);
	free(out);
	control_finish(cn, NULL);
}

/* The options of a change command (shed, drain, health, undo), as given. */
struct change_args {
	const char *pos[2]; /* REGION, and down|up for health; ID for undo */
	const char *to, *percent, *duration;
	bool dry_run, clients;
	bool fleet; /* --fleet: a dry run of the change written to etcd */
	char reason[OVERLAY_REASON_MAX + 2];
};

enum { OPT_TO = 1, OPT_PERCENT = 2, OPT_FOR = 4, OPT_REASON = 8 };

// --reason takes every field up to the next option. -1: message sent.
static int control_reason(struct conn *cn, int argc, char **argv, int *i,
			  struct change_args *a)
{
	size_t used = 0;
	for (; *i + 1 < argc && strncmp(argv[*i + 1], "--", 2); (*i)++) {
		int n = snprintf(a->reason + used, sizeof(a->reason) - used,
				 "%s%s", used ? " " : "", argv[*i + 1]);
		if (n < 0 || (size_t)n >= sizeof(a->reason) - used) {
			control_finish(cn, "--reason: longer than %d bytes",
				       OVERLAY_REASON_MAX);
			return -1;
		}
		used += (size_t)n;
	}
	return 0;
}

/*
 * argv[1..npos] are the positional fields, then the options allowed
 * (OPT_*) and always --dry-run and --clients N (its lines were read
 * already). -1: message sent.
 */
static int control_opts(struct conn *cn, int argc, char **argv, int npos,
			unsigned allowed, const char *usage,
			struct change_args *a)
{
	memset(a, 0, sizeof(*a));
	for (int i = 1; i <= npos; i++) {
		if (i >= argc || argv[i][0] == '-') {
			control_finish(cn, "%s", usage);
			return -1;
		}
		a->pos[i - 1] = argv[i];
	}
	for (int i = npos + 1; i < argc; i++) {
		const char *o = argv[i];
		const char **dst =
			strcmp(o, "--to") == 0 && (allowed & OPT_TO) ? &a->to
			: strcmp(o, "--percent") == 0 && (allowed & OPT_PERCENT)
				? &a->percent
			: strcmp(o, "--for") == 0 && (allowed & OPT_FOR)
				? &a->duration
				: NULL;
		if (strcmp(o, "--reason") == 0 && (allowed & OPT_REASON)) {
			if (control_reason(cn, argc, argv, &i, a) < 0)
				return -1;
		} else if (strcmp(o, "--dry-run") == 0) {
			a->dry_run = true;
		} else if (strcmp(o, "--fleet") == 0) {
			a->fleet = true;
		} else if (strcmp(o, "--clients") == 0 && i + 1 < argc) {
			a->clients = true;
			i++; // the count: checked when the request came
		} else if (dst != NULL && i + 1 < argc) {
			*dst = argv[++i];
		} else {
			control_finish(cn, "%s: unexpected '%s'; %s", argv[0],
				       o, usage);
			return -1;
		}
	}
	if (a->clients && !a->dry_run) {
		control_finish(cn, "--clients goes with --dry-run");
		return -1;
	}
	if (a->fleet && !a->dry_run) {
		control_finish(cn,
			       "--fleet goes with --dry-run here (geovipctl "
			       "--fleet writes the change to etcd)");
		return -1;
	}
	return 0;
}

/*
 * Prints what the change would move (dryrun.c) against the live
 * snapshot: nothing is changed. what describes the change.
 */
static void control_dry_run(struct conn *cn, const struct overlay_change *ch,
			    const char *what)
{
	const struct snapshot *s = server_current(cn->ctl->srv);
	size_t n = s->config->region_count;
	struct region_shed *after = calloc(n + 1, sizeof(*after));
	struct dryrun_result r;
	if (after == NULL) {
		control_finish(cn, "dry run: out of memory");
		return;
	}
	(void)overlay_table(cn->ctl->ov, s->config, ch, after);
	int rc = dryrun_compute(s, s->shed, after, cn->clients,
				cn->client_count, &r);
	free(after);
	if (rc < 0) {
		control_finish(cn, "dry run: out of memory");
		return;
	}
	control_printf(cn, "dry run (nothing changed): %s\n", what);
	control_printf(cn,
		       "networks %zu of %zu public networks of the merged "
		       "tree would change region\n",
		       r.leaves_changed, r.leaves);
	for (int f = 0; f < 2; f++)
		control_printf(cn,
			       "%s %.4f%% of the public %s address space "
			       "would change region\n",
			       f == 0 ? "ipv4" : "ipv6",
			       r.space[f] > 0 ? 100.0 * r.moved[f] / r.space[f]
					      : 0.0,
			       f == 0 ? "IPv4" : "IPv6");
	if (r.clients > 0)
		control_printf(cn,
			       "clients %.4f%% of the weighted traffic would "
			       "change region (%zu of %zu prefixes)\n",
			       r.weight > 0 ? 100.0 * r.weight_moved / r.weight
					    : 0.0,
			       r.clients_moved, r.clients);
	control_printf(cn,
		       "computed in %.1f ms (networks wider than /24 or /56 "
		       "decided on %u to %u client networks each)\n",
		       r.ms, r.min_samples, r.max_samples);
	// the loop's cached time predates the computation: the answer's
	// write timeout counts from now
	event_base_update_cache_time(cn->ctl->base);
	control_finish(cn, NULL);
}

// `undo REGION --dry-run --fleet`: what deleting the fleet override of
// REGION in etcd would move here.
static void control_undo_fleet(struct conn *cn, const char *region)
{
	const struct overlay_entry *e = NULL;
	for (size_t i = 0; i < overlay_count(cn->ctl->ov); i++) {
		const struct overlay_entry *o = overlay_get(cn->ctl->ov, i);
		if (o->source == OVERLAY_FLEET && strcmp(o->from, region) == 0)
			e = o;
	}
	if (e == NULL) {
		control_finish(cn,
			       "no fleet override for region '%s' on this "
			       "server (see `overrides`)",
			       region);
		return;
	}
	struct overlay_change ch = {.kind = OVERLAY_CHANGE_UNDO,
				    .undo_id = e->id};
	char what[OVERLAY_KEY_MAX + 64];
	snprintf(what, sizeof(what), "fleet undo %s (delete etcd key %s)",
		 region, e->key);
	control_dry_run(cn, &ch, what);
}

static void control_undo(struct conn *cn, int argc, char **argv)
{
	struct change_args a;
	const char *usage = "usage: undo ID [--dry-run] (an ID from "
			    "`overrides`), or undo REGION --dry-run --fleet";
	if (control_opts(cn, argc, argv, 1, 0, usage, &a) < 0)
		return;
	if (a.fleet) {
		control_undo_fleet(cn, a.pos[0]);
		return;
	}
	char *end;
	unsigned long id = strtoul(a.pos[0], &end, 10);
	if (a.pos[0][0] < '0' || a.pos[0][0] > '9' || *end != '\0' || id == 0 ||
	    id > UINT32_MAX) {
		control_finish(cn, "%s", usage);
		return;
	}
	const struct overlay_entry *e = NULL;
	for (size_t i = 0; i < overlay_count(cn->ctl->ov); i++)
		if (overlay_get(cn->ctl->ov, i)->id == id)
			e = overlay_get(cn->ctl->ov, i);
	if (e == NULL) {
		control_finish(cn, "no active override #%lu (see `overrides`)",
			       id);
		return;
	}
	if (e->source == OVERLAY_FLEET) {
		control_finish(cn,
			       "override #%lu comes from etcd key %s: remove "
			       "it there (geovipctl --fleet undo %s)",
			       id, e->key, e->from);
		return;
	}
	if (a.dry_run) {
		struct overlay_change ch = {.kind = OVERLAY_CHANGE_UNDO,
					    .undo_id = (uint32_t)id};
		char what[64];
		snprintf(what, sizeof(what), "undo override #%lu", id);
		control_dry_run(cn, &ch, what);
		return;
	}
	if (overlay_undo(cn->ctl->ov, (uint32_t)id, cn->uid) < 0) {
		control_finish(cn,
			       "could not remove override #%lu (see the "
			       "log); nothing changed",
			       id);
		return;
	}
	control_printf(
		cn, "removed override #%lu; generation %" PRIu64 " serving\n",
		id, server_current(cn->ctl->srv)->generation);
	control_finish(cn, NULL);
}

// The region a change names, or REGION_NONE after the error.
static int control_known_region(struct conn *cn, const struct config *cfg,
				const char *name)
{
	int i = control_region(cfg, name);
	if (i == REGION_NONE)
		control_unknown_region(cn, cfg, "region", name);
	else if (strlen(name) > OVERLAY_NAME_MAX) {
		control_finish(cn,
			       "region names longer than %d bytes cannot "
			       "be overridden",
			       OVERLAY_NAME_MAX);
		i = REGION_NONE;
	}
	return i;
}

// The override already active for a's region that refuses a's change:
// a local change is refused by any, a fleet one (etcd's refusal, checked
// here by a dry run) by a fleet one. -1: message sent.
static int control_change_free(struct conn *cn, const struct change_args *a)
{
	for (size_t i = 0; i < overlay_count(cn->ctl->ov); i++) {
		const struct overlay_entry *o = overlay_get(cn->ctl->ov, i);
		if (strcmp(o->from, a->pos[0]) != 0 ||
		    (a->fleet && o->source != OVERLAY_FLEET))
			continue;
		if (o->source == OVERLAY_FLEET)
			control_finish(cn,
				       "region '%s' already has fleet override "
				       "#%" PRIu32 " (etcd key %s); undo it "
				       "first (geovipctl --fleet undo %s)",
				       a->pos[0], o->id, o->key, a->pos[0]);
		else
			control_finish(cn,
				       "region '%s' already has override "
				       "#%" PRIu32 "; undo it first",
				       a->pos[0], o->id);
		return -1;
	}
	return 0;
}

// Checks a against the live snapshot and fills e. -1: message sent.
static int control_change_entry(struct conn *cn, const struct change_args *a,
				bool drain, struct overlay_entry *e)
{
	const struct config *cfg = server_current(cn->ctl->srv)->config;
	int from = control_known_region(cn, cfg, a->pos[0]);
	if (from == REGION_NONE)
		return -1;
	// without --to: spread over the up regions by capacity
	int to = a->to != NULL ? control_known_region(cn, cfg, a->to)
			       : REGION_SPREAD;
	if (to == REGION_NONE)
		return -1;
	if (to == from) {
		control_finish(cn, "region '%s' cannot shed to itself",
			       a->pos[0]);
		return -1;
	}
	int bp = drain ? 10000 : fleetkv_percent_parse(a->percent);
	if (bp < 0) {
		control_finish(cn,
			       "--percent '%s': write a number above 0 and "
			       "at most 100, with up to two decimals (e.g. 25 "
			       "or 12.5)",
			       a->percent);
		return -1;
	}
	long long secs = fleetkv_duration_parse(a->duration);
	if (secs < 0) {
		control_finish(cn,
			       "--for '%s': write a whole number followed "
			       "by s, m, h or d (90s, 15m, 2h, 1d), from 1s "
			       "to 365d",
			       a->duration);
		return -1;
	}
	if (control_change_free(cn, a) < 0)
		return -1;
	memset(e, 0, sizeof(*e));
	e->source = a->fleet ? OVERLAY_FLEET : OVERLAY_LOCAL;
	strcpy(e->from, a->pos[0]);
	if (to != REGION_SPREAD)
		strcpy(e->to, cfg->regions[to].name);
	e->spread = to == REGION_SPREAD;
	strcpy(e->reason, a->reason);
	e->bp = (uint16_t)bp;
	e->drain = drain;
	e->uid = cn->uid;
	e->created_ms = overlay_now_ms();
	e->expires_ms = e->created_ms + secs * 1000;
	return 0;
}

static void control_change(struct conn *cn, int argc, char **argv, bool drain)
{
	const char *usage =
		drain ? "usage: drain REGION [--to R] --for DURATION --reason "
			"TEXT [--dry-run]"
		      : "usage: shed REGION [--to R] --percent P --for "
			"DURATION --reason TEXT [--dry-run]";
	struct change_args a;
	struct overlay_entry e;
	unsigned allowed = OPT_TO | OPT_FOR | OPT_REASON |
			   (drain ? 0u : (unsigned)OPT_PERCENT);
	if (control_opts(cn, argc, argv, 1, allowed, usage, &a) < 0)
		return;
	if ((!drain && a.percent == NULL) || a.duration == NULL ||
	    a.reason[0] == '\0') {
		control_finish(cn, "%s", usage);
		return;
	}
	if (control_change_entry(cn, &a, drain, &e) < 0)
		return;
	char what[256];
	const struct overlay_entry *local = overlay_find(cn->ctl->ov, e.from);
	snprintf(what, sizeof(what), "%s%s %s to %s %u.%02u%%%s",
		 a.fleet ? "fleet " : "", drain ? "drain" : "shed", e.from,
		 e.spread ? "(up regions by capacity)" : e.to,
		 (unsigned)e.bp / 100, (unsigned)e.bp % 100,
		 a.fleet && local != NULL && local->source == OVERLAY_LOCAL
			 ? " (shadowed on this server by a local override: "
			   "moves nothing here)"
			 : "");
	if (a.dry_run) {
		struct overlay_change ch = {.kind = OVERLAY_CHANGE_ADD,
					    .add = e};
		control_dry_run(cn, &ch, what);
		return;
	}
	if (overlay_add(cn->ctl->ov, &e) < 0) {
		control_finish(cn, "could not apply the override (see the "
				   "log); nothing changed");
		return;
	}
	char until[32];
	overlay_time_text(e.expires_ms, until, sizeof(until));
	control_printf(cn,
		       "override #%" PRIu32 ": %s until %s; generation %" PRIu64
		       " serving\n",
		       e.id, what, until,
		       server_current(cn->ctl->srv)->generation);
	control_finish(cn, NULL);
}

static void control_health(struct conn *cn, int argc, char **argv)
{
	const char *usage = "usage: health REGION down|up [--reason TEXT] "
			    "[--dry-run [--fleet [--for DURATION]]]";
	struct change_args a;
	// --for: only for a fleet dry run (a fleet value's `expires`)
	bool fleet_dry = false;
	for (int i = 1; i < argc; i++)
		fleet_dry |= strcmp(argv[i], "--fleet") == 0;
	if (control_opts(cn, argc, argv, 2,
			 OPT_REASON | (fleet_dry ? (unsigned)OPT_FOR : 0u),
			 usage, &a) < 0)
		return;
	const struct config *cfg = server_current(cn->ctl->srv)->config;
	if (control_known_region(cn, cfg, a.pos[0]) == REGION_NONE)
		return;
	if (a.duration != NULL && fleetkv_duration_parse(a.duration) < 0) {
		control_finish(cn,
			       "--for '%s': write a whole number followed "
			       "by s, m, h or d (90s, 15m, 2h, 1d), from 1s "
			       "to 365d",
			       a.duration);
		return;
	}
	bool down = strcmp(a.pos[1], "down") == 0;
	if (!down && strcmp(a.pos[1], "up") != 0) {
		control_finish(cn, "health: '%s' is not down or up; %s",
			       a.pos[1], usage);
		return;
	}
	if (a.dry_run) {
		struct overlay_change ch = {.kind = OVERLAY_CHANGE_HEALTH,
					    .region = a.pos[0],
					    .down = down,
					    .fleet = a.fleet};
		char what[128];
		snprintf(what, sizeof(what), "%shealth %s %s (once in effect)",
			 a.fleet ? "fleet " : "", a.pos[0], a.pos[1]);
		control_dry_run(cn, &ch, what);
		return;
	}
	int rc = overlay_health_report(cn->ctl->ov, a.pos[0], down, cn->uid,
				       a.reason[0] ? a.reason : "-");
	if (rc < 0) {
		control_finish(cn, "could not record the health report (see "
				   "the log); nothing changed");
		return;
	}
	const struct overlay_health *h =
		overlay_health_find(cn->ctl->ov, a.pos[0]);
	if (rc == OVERLAY_HEALTH_EFFECTIVE)
		control_printf(cn,
			       "health %s %s: in effect; generation %" PRIu64
			       " serving\n",
			       a.pos[0], a.pos[1],
			       server_current(cn->ctl->srv)->generation);
	else if (rc == OVERLAY_HEALTH_PENDING && h != NULL)
		control_printf(cn,
			       "health %s %s: pending (%u report(s); the "
			       "config's health: hold_down %" PRIu32
			       "s, reports %u)\n",
			       a.pos[0], a.pos[1], h->pending,
			       cfg->health_hold_down, cfg->health_reports);
	else
		control_printf(cn, "health %s %s: already so\n", a.pos[0],
			       a.pos[1]);
	// the fleet's state is not the local report's to change
	const struct overlay_health *f =
		overlay_health_find_from(cn->ctl->ov, a.pos[0], OVERLAY_FLEET);
	if (!down && f != NULL && f->down)
		control_printf(cn,
			       "note: the fleet still holds %s down (etcd "
			       "key %s, set by %s): geovipctl --fleet health "
			       "%s up\n",
			       a.pos[0], f->key, f->who, a.pos[0]);
	control_finish(cn, NULL);
}

static void control_reload(struct conn *cn)
{
	uint64_t seq = reload_request(cn->ctl->rl);
	if (seq == 0) {
		control_finish(cn, "reload could not start (see the log)");
		return;
	}
	// the answer comes from control_on_reloaded; a reload takes as long
	// as it takes, so no read timeout while waiting
	cn->wait_seq = seq;
	bufferevent_set_timeouts(cn->bev, NULL, NULL);
	bufferevent_disable(cn->bev, EV_READ);
}

static void control_on_reloaded(void *arg, uint64_t seq,
				const struct snapshot *published,
				const struct diag *d)
{
	struct control *c = arg;
	for (struct conn *cn = c->conns, *next; cn != NULL; cn = next) {
		next = cn->next;
		if (cn->wait_seq == 0 || cn->wait_seq > seq)
			continue;
		cn->wait_seq = 0;
		for (size_t i = 0; d != NULL && i < diag_count(d); i++)
			control_printf(cn, "%s: %s\n",
				       diag_is_error(d, i) ? "error"
							   : "warning",
				       diag_message(d, i));
		if (published != NULL) {
			control_printf(cn,
				       "reloaded: generation %" PRIu64
				       " serving\n",
				       published->generation);
			control_finish(cn, NULL);
		} else {
			control_finish(
				cn,
				"reload failed, keeping generation %" PRIu64,
				server_current(c->srv)->generation);
		}
	}
}

static void control_dispatch(struct conn *cn, char *line)
{
	for (const char *p = line; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 && *p != '\t') {
			control_finish(cn, "the request holds a control "
					   "character; send one line of text");
			return;
		}
	char *argv[CONTROL_ARGS_MAX];
	int argc = control_split(line, argv);
	if (argc <= 0) {
		control_finish(
			cn,
			argc < 0 ? "too many fields (at most %d)"
				 : "empty request; commands: status, reload, "
				   "shed, drain, health, undo, overrides, "
				   "lookup",
			CONTROL_ARGS_MAX);
		return;
	}
	const char *cmd = argv[0];
	if (strcmp(cmd, "status") == 0 && argc == 1)
		control_status(cn);
	else if (strcmp(cmd, "overrides") == 0 && argc == 1)
		control_overrides(cn);
	else if (strcmp(cmd, "reload") == 0 && argc == 1)
		control_reload(cn);
	else if (strcmp(cmd, "shed") == 0 || strcmp(cmd, "drain") == 0)
		control_change(cn, argc, argv, cmd[0] == 'd');
	else if (strcmp(cmd, "undo") == 0)
		control_undo(cn, argc, argv);
	else if (strcmp(cmd, "health") == 0)
		control_health(cn, argc, argv);
	else if (strcmp(cmd, "lookup") == 0)
		control_lookup(cn, argc, argv);
	else if (strcmp(cmd, "zones") == 0 && argc == 1)
		control_zones(cn);
	else
		control_finish(cn,
			       "unknown command '%.40s' (or wrong "
			       "arguments); commands: status, reload, shed, "
			       "drain, health, undo, overrides, lookup",
			       cmd);
}

// The N of `--clients N` in a request line: 0 when absent, -1 when
// malformed or above DRYRUN_CLIENTS_MAX.
static long control_clients_wanted(const char *line)
{
	char copy[CONTROL_LINE_MAX];
	char *argv[CONTROL_ARGS_MAX];
	snprintf(copy, sizeof(copy), "%s", line);
	int argc = control_split(copy, argv);
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--clients") != 0)
			continue;
		char *end;
		long n = i + 1 < argc && argv[i + 1][0] >= '0' &&
					 argv[i + 1][0] <= '9'
				 ? strtol(argv[i + 1], &end, 10)
				 : -1;
		return n > 0 && n <= DRYRUN_CLIENTS_MAX && *end == '\0' ? n
									: -1;
	}
	return 0;
}

// The request line: dispatched, or kept until its client lines came.
static void control_on_request(struct conn *cn, char *line)
{
	long want = control_clients_wanted(line);
	if (want < 0) {
		control_finish(cn,
			       "--clients N: the number of `PREFIX WEIGHT` "
			       "lines that follow, 1 to %d",
			       DRYRUN_CLIENTS_MAX);
		return;
	}
	if (want == 0) {
		control_dispatch(cn, line);
		return;
	}
	cn->clients = calloc((size_t)want, sizeof(*cn->clients));
	cn->request = strdup(line);
	if (cn->clients == NULL || cn->request == NULL) {
		control_finish(cn, "out of memory for %ld client lines", want);
		return;
	}
	cn->clients_expected = (size_t)want;
}

// One `PREFIX WEIGHT` line; the request runs after the last.
static void control_on_client_line(struct conn *cn, const char *line)
{
	struct dryrun_client *c = &cn->clients[cn->client_count];
	if (dryrun_parse_client(line, c) < 0) {
		control_finish(cn,
			       "clients line %zu: '%.60s' is not PREFIX "
			       "WEIGHT (e.g. 192.0.2.0/24 1500)",
			       cn->client_count + 1, line);
		return;
	}
	if (++cn->client_count == cn->clients_expected)
		control_dispatch(cn, cn->request);
}

static void control_on_read(struct bufferevent *bev, void *arg)
{
	struct conn *cn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t len;
		char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
		if (line == NULL) {
			if (evbuffer_get_length(in) >= CONTROL_LINE_MAX)
				control_finish(cn,
					       "request longer than %d bytes",
					       CONTROL_LINE_MAX - 1);
			return;
		}
		if (len >= CONTROL_LINE_MAX || strlen(line) != len) {
			control_finish(cn,
				       len >= CONTROL_LINE_MAX
					       ? "request longer than %d bytes"
					       : "the request holds a NUL byte",
				       CONTROL_LINE_MAX - 1);
			free(line);
			return;
		}
		if (len > 0 && line[len - 1] == '\r')
			line[len - 1] = '\0';
		bool first = cn->request == NULL;
		if (first) {
			log_debug("control: uid %lu: %s", cn->uid, line);
			control_on_request(cn, line);
		} else {
			control_on_client_line(cn, line);
		}
		free(line);
		// answered (or failed): read nothing more
		if (cn->request == NULL ||
		    cn->client_count == cn->clients_expected ||
		    !(bufferevent_get_enabled(bev) & EV_READ))
			return;
	}
}

static void control_on_accept(struct evconnlistener *l, evutil_socket_t fd,
			      struct sockaddr *sa, int salen, void *arg)
{
	(void)l;
	(void)sa;
	(void)salen;
	struct control *c = arg;
	struct ucred cred;
	socklen_t clen = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0) {
		log_warning("control: no peer credentials: %s",
			    strerror(errno));
		close(fd);
		return;
	}
	struct conn *cn = calloc(1, sizeof(*cn));
	struct bufferevent *bev =
		cn == NULL ? NULL
			   : bufferevent_socket_new(c->base, fd,
						    BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		log_error("control: out of memory");
		free(cn);
		close(fd);
		return;
	}
	cn->ctl = c;
	cn->bev = bev;
	cn->uid = (unsigned long)cred.uid;
	cn->next = c->conns;
	c->conns = cn;
	c->conn_count++;
	if (c->conn_count > CONTROL_CONN_MAX) {
		control_finish(cn, "too many control connections (at most %d)",
			       CONTROL_CONN_MAX);
		return;
	}
	struct timeval tv = {CONTROL_READ_TIMEOUT, 0};
	bufferevent_set_timeouts(bev, &tv, &tv);
	bufferevent_setcb(bev, control_on_read, NULL, control_on_event, cn);
	bufferevent_enable(bev, EV_READ);
}

/* ---- the socket ----------------------------------------------------- */

// A socket file left by a daemon that is gone is removed; a live one is
// an error (two daemons on one socket).
static int control_clear_stale(const char *path, struct sockaddr_un *sun,
			       const struct config *cfg, struct diag *d)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		diag_error(d, cfg->path, cfg->control_line,
			   "control: '%s' "
			   "exists and is not a socket",
			   path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		diag_error(d, cfg->path, cfg->control_line,
			   "control: another "
			   "process is listening on '%s'",
			   path);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
	return 0;
}

static int control_listen(struct control *c, const struct config *cfg,
			  struct diag *d)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", cfg->control);
	if (control_clear_stale(cfg->control, &sun, cfg, d) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	// 0600 from the start: no moment where others could connect
	mode_t old = umask(0177);
	int rc = fd < 0 ? -1 : bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old);
	if (rc < 0 || listen(fd, 16) < 0) {
		diag_error(d, cfg->path, cfg->control_line,
			   "control: cannot "
			   "listen on '%s': %s",
			   cfg->control, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	c->path = strdup(cfg->control);
	c->listener = evconnlistener_new(c->base, control_on_accept, c,
					 LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (c->path == NULL || c->listener == NULL) {
		diag_error(d, cfg->path, cfg->control_line, "out of memory");
		if (c->listener == NULL)
			close(fd);
		return -1;
	}
	log_info("control socket %s (mode 0600)", cfg->control);
	return 0;
}

static struct snapshot *control_on_loaded(void *arg, struct snapshot *s)
{
	return control_prepare(arg, s);
}

struct snapshot *control_prepare(struct control *c, struct snapshot *s)
{
	return overlay_apply(c->ov, s);
}

struct overlay *control_overlay(struct control *c)
{
	return c->ov;
}

const char *control_state_path(const struct config *cfg, char *buf, size_t len)
{
	if (cfg->state_file != NULL)
		return cfg->state_file;
	if (cfg->control == NULL)
		return NULL;
	snprintf(buf, len, "%s.state", cfg->control);
	return buf;
}

void control_set_fleet(struct control *c, struct fleet *f)
{
	c->fleet = f;
}

struct control *control_new(const struct config *cfg, struct server *srv,
			    struct reload *rl, struct event_base *base,
			    struct diag *d)
{
	struct control *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		diag_error(d, cfg->path, 0, "out of memory");
		return NULL;
	}
	c->srv = srv;
	c->rl = rl;
	c->base = base;
	char state[4096];
	c->ov = overlay_new(srv, base,
			    control_state_path(cfg, state, sizeof(state)));
	if (c->ov == NULL) {
		diag_error(d, cfg->path, 0, "out of memory");
		control_free(c);
		return NULL;
	}
	// fleet health restored from the state file needs a fleet to end it
	if (cfg->fleet.line == 0)
		overlay_fleet_forget(c->ov);
	if (cfg->control != NULL && control_listen(c, cfg, d) < 0) {
		control_free(c);
		return NULL;
	}
	reload_set_hooks(rl, control_on_loaded, control_on_reloaded, c);
	return c;
}

void control_set_xfr(struct control *c, const struct xfr *x)
{
	c->xfr = x;
}

void control_free(struct control *c)
{
	if (c == NULL)
		return;
	while (c->conns != NULL)
		control_conn_free(c->conns);
	if (c->listener != NULL) {
		evconnlistener_free(c->listener);
		unlink(c->path);
	}
	free(c->path);
	overlay_free(c->ov);
	free(c);
}
