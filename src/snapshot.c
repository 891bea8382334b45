/*
 * src/snapshot.c — building and releasing the immutable bundle a query
 * reads. A snapshot is loaded completely or not at all: any error in the
 * config, a zone or the geo database frees what was built and returns NULL.
 */
#include "autoconf.h"
#include "snapshot.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "chaos.h"
#include "config.h"
#include "diag.h"
#include "dnssec.h"
#include "geo.h"
#include "region.h"
#include "rrl.h"
#include "zone.h"

static atomic_uint_fast64_t snapshot_generations;

static void snapshot_free(struct snapshot *s)
{
	dnssec_set_free(s->dnssec);
	zone_set_free(s->zones);
	geo_free(s->geo);
	regions_free(s->regions);
	rrl_policy_free(s->rrl);
	chaos_free(s->chaos);
	config_free(s->config);
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

	s->generation = atomic_fetch_add(&snapshot_generations, 1) + 1;
	atomic_init(&s->refs, 1);
	return s;
fail:
	snapshot_free(s);
	return NULL;
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
