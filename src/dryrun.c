/*
 * src/dryrun.c — `--dry-run`: one walk of the merged tree per family, each
 * public leaf's client networks decided under the table before and after
 * the change (regions the change cannot touch skipped), then the client
 * list; the main thread runs it on the live snapshot.
 */
#include "autoconf.h"
#include "dryrun.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "geomap.h"
#include "snapshot.h"

struct dryrun_walk {
	const struct regions *r;
	const struct region_shed *before, *after;
	const bool *affected; // per region: a decision may differ
	int fam;              // 0 IPv4, 1 IPv6
	bool counting;        // first pass: leaves, space, wide leaves
	double wide_size[2];  // addresses of the affected leaves wider than /K
	unsigned min_samples, max_samples; // per wide leaf, as decided
	struct dryrun_result *out;
};

static bool dryrun_same_shed(const struct region_shed *a,
			     const struct region_shed *b)
{
	return a->to == b->to && a->bp == b->bp;
}

static bool dryrun_sheds(const struct region_shed *t)
{
	return t->to != REGION_NONE && t->bp > 0;
}

/*
 * Which regions' clients may decide differently (region_decide): those
 * whose own entry differs; a region down before or after when any health
 * or shed differs (its clients land elsewhere, under that region's shed);
 * a region shedding to a region whose health differs, or spreading its
 * shed while any health differs. Others are skipped.
 */
static void dryrun_affected(const struct region_shed *before,
			    const struct region_shed *after, size_t n,
			    bool *affected)
{
	bool health = false, shed = false;
	for (size_t i = 0; i < n; i++) {
		health = health || before[i].health != after[i].health;
		shed = shed || !dryrun_same_shed(&before[i], &after[i]);
	}
	for (size_t i = 0; i < n; i++) {
		const struct region_shed *b = &before[i], *a = &after[i];
		bool down =
			b->health == REGION_DOWN || a->health == REGION_DOWN;
		bool sheds = dryrun_sheds(b) || dryrun_sheds(a);
		bool target = false;
		for (int k = 0; k < 2; k++) {
			int to = k == 0 ? b->to : a->to;
			if (to == REGION_SPREAD)
				target = target || health;
			else if (to >= 0)
				target = target ||
					 before[to].health != after[to].health;
		}
		affected[i] = !dryrun_same_shed(b, a) ||
			      b->health != a->health ||
			      (down && (health || shed)) || (sheds && target);
	}
}

// An IPv6 prefix carrying IPv4 (decided as IPv4): not walked.
static bool dryrun_prune(void *arg, const struct geomap_leaf_info *at)
{
	const struct dryrun_walk *w = arg;
	if (w->fam == 0)
		return false;
	for (size_t i = 0; i < addr_embedded_count(); i++) {
		struct ip_addr net;
		uint8_t len, offset;
		addr_embedded_get(i, &net, &len, &offset);
		if (at->depth == len &&
		    memcmp(at->prefix.bytes, net.bytes, 16) == 0)
			return true;
	}
	return false;
}

static bool dryrun_moves(const struct dryrun_walk *w,
			 const struct region_client *c)
{
	struct region_decision a, b;
	region_decide(w->r, w->before, c, &a);
	region_decide(w->r, w->after, c, &b);
	return a.region != b.region;
}

// The client network i of the leaf's samples: bits depth.. of i set.
static void dryrun_sample(const struct geomap_leaf_info *leaf, unsigned extra,
			  unsigned i, struct ip_addr *a)
{
	*a = leaf->prefix;
	for (unsigned b = 0; b < extra; b++)
		if (i & (1u << (extra - 1 - b))) {
			unsigned at = leaf->depth + b;
			a->bytes[at / 8] |= (uint8_t)(0x80 >> (at % 8));
		}
}

/*
 * log2 of the samples of a wide leaf holding share of its family's
 * touched wide space: the budget shared in proportion to size (a large
 * leaf weighs most in the share), at most DRYRUN_SAMPLE_BITS, at least 0.
 */
static unsigned dryrun_sample_bits(double share)
{
	double n = share * DRYRUN_BUDGET;
	unsigned bits = 0;
	while (bits < DRYRUN_SAMPLE_BITS && n >= (double)(2u << bits))
		bits++;
	return bits;
}

static void dryrun_visit(void *arg, const struct geomap_leaf_info *leaf)
{
	struct dryrun_walk *w = arg;
	if (leaf->priv)
		return;
	unsigned bits = w->fam == 0 ? 32 : 128, k = w->fam == 0 ? 24 : 56;
	double size = ldexp(1.0, (int)(bits - leaf->depth));
	if (w->counting) {
		w->out->leaves++;
		w->out->space[w->fam] += size;
		if (w->affected[leaf->region] && leaf->depth < k)
			w->wide_size[w->fam] += size;
		return;
	}
	if (!w->affected[leaf->region])
		return;
	// the leaf's /K networks, or 2^extra evenly spaced ones: the first
	// of each of its sub-prefixes of depth + extra; each decided as
	// region_decide would a packet source in it (the leaf's region is
	// known: no walk)
	unsigned extra = leaf->depth >= k ? 0 : k - leaf->depth;
	if (extra > 0) {
		unsigned most = dryrun_sample_bits(size / w->wide_size[w->fam]);
		extra = extra < most ? extra : most;
		unsigned n = 1u << extra;
		w->min_samples = n < w->min_samples ? n : w->min_samples;
		w->max_samples = n > w->max_samples ? n : w->max_samples;
	}
	unsigned samples = 1u << extra, moved = 0;
	for (unsigned i = 0; i < samples; i++) {
		struct ip_addr a;
		dryrun_sample(leaf, extra, i, &a);
		uint64_t h = regions_hash(w->r, &a, (uint8_t)k);
		moved += region_decide_hashed(w->r, w->before, leaf->region,
					      h) !=
			 region_decide_hashed(w->r, w->after, leaf->region, h);
	}
	if (moved > 0)
		w->out->leaves_changed++;
	w->out->moved[w->fam] += size * moved / samples;
}

// Both families, once counting, once deciding.
static void dryrun_walk_all(struct dryrun_walk *w, bool counting)
{
	const struct geomap *m = regions_map(w->r);
	w->counting = counting;
	w->fam = 0;
	geomap_walk(m, AF_INET, dryrun_prune, dryrun_visit, w);
	w->fam = 1;
	geomap_walk(m, AF_INET6, dryrun_prune, dryrun_visit, w);
}

static double dryrun_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

int dryrun_compute(const struct snapshot *s, const struct region_shed *before,
		   const struct region_shed *after,
		   const struct dryrun_client *clients, size_t n,
		   struct dryrun_result *out)
{
	double start = dryrun_now_ms();
	memset(out, 0, sizeof(*out));
	size_t nreg = s->config->region_count;
	bool *affected = calloc(nreg + 1, sizeof(*affected));
	if (affected == NULL)
		return -1;
	struct dryrun_walk w = {.r = s->regions,
				.before = before,
				.after = after,
				.affected = affected,
				.out = out};
	dryrun_affected(before, after, nreg, affected);
	dryrun_walk_all(&w, true);
	w.min_samples = DRYRUN_SAMPLES;
	dryrun_walk_all(&w, false);
	out->min_samples = w.max_samples > 0 ? w.min_samples : 0;
	out->max_samples = w.max_samples;
	free(affected);
	for (size_t i = 0; i < n; i++) {
		out->clients++;
		out->weight += clients[i].weight;
		if (dryrun_moves(&w, &clients[i].client)) {
			out->clients_moved++;
			out->weight_moved += clients[i].weight;
		}
	}
	out->ms = dryrun_now_ms() - start;
	return 0;
}

int dryrun_parse_client(const char *line, struct dryrun_client *c)
{
	char text[128];
	const char *sp = line + strcspn(line, " \t");
	size_t len = (size_t)(sp - line);
	if (len == 0 || len >= sizeof(text))
		return -1;
	memcpy(text, line, len);
	text[len] = '\0';
	const char *w = sp + strspn(sp, " \t");
	char *end;
	errno = 0;
	double weight = strtod(w, &end);
	if (end == w || errno != 0 || !isfinite(weight) || weight < 0 ||
	    weight > 1e15 || end[strspn(end, " \t")] != '\0')
		return -1;
	memset(c, 0, sizeof(*c));
	c->weight = weight;
	if (strchr(text, '/') == NULL)
		return addr_parse(text, &c->client.source) < 0 ? -1 : 0;
	struct ip_addr net;
	uint8_t plen;
	int rc = addr_prefix_parse(text, &net, &plen);
	if (rc < 0 && rc != -ADDR_ERR_HOST_BITS)
		return -1;
	addr_mask(&net, plen);
	c->client.source = net;
	c->client.has_ecs = true;
	c->client.ecs_addr = net;
	c->client.ecs_source_len = plen;
	return 0;
}
