/*
 * src/snapshot.c — building and releasing the immutable bundle a query
 * reads. A snapshot is loaded completely or not at all: any error in the
 * config, a zone or the geo database frees what was built and returns NULL.
 * Overlay generations share the loaded parts through a counted base.
 */
#include "autoconf.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaos.h"
#include "config.h"
#include "diag.h"
#include "dnssec.h"
#include "geo.h"
#include "region.h"
#include "rrl.h"
#include "zone.h"

/* The parts of one load, shared by its overlay generations. */
struct snapshot_base {
	atomic_uint refs;
};

static atomic_uint_fast64_t snapshot_generations;

// The loaded parts; s->base is freed with them.
static void snapshot_free_parts(struct snapshot *s)
{
	dnssec_set_free(s->dnssec);
	zone_set_free(s->zones);
	geo_free(s->geo);
	regions_free(s->regions);
	rrl_policy_free(s->rrl);
	chaos_free(s->chaos);
	config_free(s->config);
	free(s->base);
}

static void snapshot_free(struct snapshot *s)
{
	if (s->base == NULL ||
	    atomic_fetch_sub_explicit(&s->base->refs, 1,
				      memory_order_acq_rel) == 1)
		snapshot_free_parts(s);
	free(s->shed);
	free(s);
}

/* The cookie secrets: the configured ones, or the process's random one
 * (the same across reloads, so cookies handed out stay valid). */
static int snapshot_cookies(struct snapshot *s, struct diag *d)
{
	const struct config *cfg = s->config;
	struct cookie_secrets *k = &s->cookies;
	if (cfg->cookie_secret_set) {
		memcpy(k->current, cfg->cookie_secret, sizeof(k->current));
		k->has_previous = cfg->cookie_secret_previous_set;
		memcpy(k->previous, cfg->cookie_secret_previous,
		       sizeof(k->previous));
		return 0;
	}
	if (cookie_random_secret(k->current) == 0)
		return 0;
	diag_error(d, cfg->path, 0,
		   "cannot make a random cookie secret "
		   "(getrandom failed): set cookie_secret");
	return -1;
}

// The snapshot around the loaded parts: base and shed table.
static int snapshot_finish(struct snapshot *s)
{
	s->base = calloc(1, sizeof(*s->base));
	s->shed = calloc(s->config->region_count + 1, sizeof(*s->shed));
	if (s->base == NULL || s->shed == NULL)
		return -1;
	atomic_init(&s->base->refs, 1);
	region_shed_from_config(s->config, s->shed);
	s->generation = atomic_fetch_add(&snapshot_generations, 1) + 1;
	s->loaded_at = (int64_t)time(NULL);
	atomic_init(&s->refs, 1);
	return 0;
}

struct snapshot *snapshot_load(const char *config_path, struct diag *d)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		diag_error(d, config_path, 0, "out of memory");
		return NULL;
	}
	s->config = config_load(config_path, d);
	if (s->config == NULL)
		goto fail;
	// load everything even after an error, so one run reports all
	s->geo = geo_load(s->config->geoip, d);
	if (s->geo == NULL)
		diag_error(d, s->config->path, s->config->geoip_line,
			   "geoip: cannot use '%s' (see above); fix the path "
			   "or the file",
			   s->config->geoip);
	else // the merged decision tree compiles the geo tree in
		s->regions = regions_build(s->config, s->geo, d);
	s->zones = zone_set_load(s->config, d);
	bool nomem;
	s->rrl = rrl_policy_new(&s->config->rrl, &nomem);
	if (nomem)
		diag_error(d, s->config->path, s->config->rrl.line,
			   "rrl: out of memory");
	s->chaos = chaos_build(s->config, d);
	snapshot_cookies(s, d);
	if (s->regions == NULL || s->geo == NULL || s->zones == NULL ||
	    s->chaos == NULL || diag_errors(d) > 0)
		goto fail;
	// signed last: only a zone set that loaded cleanly is worth signing
	s->dnssec = dnssec_set_build(s->config, s->zones, d);
	if (s->dnssec == NULL)
		goto fail;
	if (snapshot_finish(s) < 0) {
		diag_error(d, config_path, 0, "out of memory");
		goto fail;
	}
	return s;
fail:
	snapshot_free_parts(s);
	free(s->shed);
	free(s);
	return NULL;
}

struct snapshot *snapshot_overlay(const struct snapshot *s,
				  const struct region_shed *shed)
{
	struct snapshot *o = calloc(1, sizeof(*o));
	size_t n = s->config->region_count;
	if (o == NULL || (o->shed = calloc(n + 1, sizeof(*o->shed))) == NULL) {
		free(o);
		return NULL;
	}
	memcpy(o->shed, shed, n * sizeof(*shed));
	// every shared part at once, so a part added later cannot be missed
	struct region_shed *own_shed = o->shed;
	memcpy(o, s, offsetof(struct snapshot, shed));
	o->shed = own_shed;
	atomic_fetch_add_explicit(&o->base->refs, 1, memory_order_relaxed);
	o->generation = atomic_fetch_add(&snapshot_generations, 1) + 1;
	o->loaded_at = s->loaded_at;
	atomic_init(&o->refs, 1);
	return o;
}

void snapshot_ref(struct snapshot *s)
{
	atomic_fetch_add_explicit(&s->refs, 1, memory_order_relaxed);
}

void snapshot_unref(struct snapshot *s)
{
	if (s == NULL)
		return;
	// release our writes; the last owner acquires everyone's before free
	if (atomic_fetch_sub_explicit(&s->refs, 1, memory_order_acq_rel) == 1)
		snapshot_free(s);
}
