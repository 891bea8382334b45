/*
 * src/config.c — the YAML configuration: libyaml's document tree checked
 * against a declarative schema (a table of keys per mapping, one parse
 * function each) into an immutable struct config, with FILE:LINE errors.
 */
#include "autoconf.h"
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cfgschema.h"
#include "country.h"
#include "diag.h"
#include "file.h"
#include "log.h"

/* A VIP as read, before the repeat check sorts them. */
struct cfg_vip {
	struct ip_addr a;
	const char *text;
	unsigned line;
};

struct cfg_region_name {
	const char *name;
	int index;
};

struct cfg_service_name {
	const char *name;
	int service; /* 1 + index in cfg->services */
};

/* geovip's state while its schema runs (struct cfg_doc's app). */
struct cfg_ctx {
	struct config *cfg;
	int continent_owner[CONTINENT_COUNT]; /* region index or -1 */
	const char **network_text; /* overrides.networks keys as written */
	struct cfg_vip *vips;      /* one list of VIPs while read */
	size_t vip_count;
	const char *vip_what;                   /* its owner, for messages */
	struct cfg_service_name *service_order; /* sorted by name */
	size_t service_order_count;
	struct cfg_region_name *region_order; /* sorted by name */
	/* each region's `fallback:` list, resolved once all regions are read */
	const yaml_node_t **fallback_node;
};

static struct cfg_ctx *cfg_ctx(struct cfg_doc *c)
{
	return c->app;
}

static struct config *cfg_of(struct cfg_doc *c)
{
	return cfg_ctx(c)->cfg;
}

/* "a, b, c" of the region names, for "unknown region" messages. */
static void cfg_region_list(const struct config *cfg, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cfg->region_count && used < len; i++) {
		int n = snprintf(out + used, len - used, "%s%s", i ? ", " : "",
				 cfg->regions[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* Region names sorted once, so each of 100,000 overrides finds its
 * region by binary search. */
static int cfg_region_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_region_name *)a)->name,
		      ((const struct cfg_region_name *)b)->name);
}

static void cfg_region_order(struct cfg_doc *c, unsigned line)
{
	struct cfg_ctx *ctx = cfg_ctx(c);
	const struct config *cfg = ctx->cfg;
	ctx->region_order = cfg_calloc(c, line, cfg->region_count,
				       sizeof(*ctx->region_order));
	if (ctx->region_order == NULL)
		return;
	for (size_t i = 0; i < cfg->region_count; i++)
		ctx->region_order[i] =
			(struct cfg_region_name){cfg->regions[i].name, (int)i};
	qsort(ctx->region_order, cfg->region_count, sizeof(*ctx->region_order),
	      cfg_region_name_cmp);
}

static int cfg_region_find(struct cfg_doc *c, const char *name)
{
	const struct cfg_ctx *ctx = cfg_ctx(c);
	if (ctx->region_order == NULL)
		return config_region_index(ctx->cfg, name);
	struct cfg_region_name key = {name, REGION_NONE};
	const struct cfg_region_name *hit =
		bsearch(&key, ctx->region_order, ctx->cfg->region_count,
			sizeof(key), cfg_region_name_cmp);
	return hit != NULL ? hit->index : REGION_NONE;
}

/* The index of the region a scalar names, or REGION_NONE after an error. */
static int cfg_region_ref(struct cfg_doc *c, const char *what, const char *name,
			  unsigned line)
{
	const struct config *cfg = cfg_of(c);
	int r = cfg_region_find(c, name);
	// with no regions at all, that is the error already reported
	if (r != REGION_NONE || cfg->region_count == 0)
		return r;
	char list[512];
	cfg_region_list(cfg, list, sizeof(list));
	diag_error(c->d, c->file, line,
		   "unknown region '%s' in %s (regions: %s)", name, what,
		   list[0] ? list : "none defined");
	return REGION_NONE;
}

/* The region named by a pair's value (a scalar), or REGION_NONE. */
static int cfg_pair_region(struct cfg_doc *c, const yaml_node_pair_t *pair,
			   const char *what)
{
	struct cfg_pair p = cfg_pair_of(c, pair);
	const char *name = cfg_scalar(c, &p);
	if (name == NULL)
		return REGION_NONE;
	return cfg_region_ref(c, what, name, cfg_pair_line(&p));
}

/* ---- listen ------------------------------------------------------------- */

static bool cfg_port_parse(const char *text, uint16_t *port)
{
	unsigned long v;
	if (strlen(text) > 5 || !cfg_whole_number(text, 1, 65535, &v))
		return false;
	*port = (uint16_t)v;
	return true;
}

/* "a.b.c.d:port" or "[v6]:port" → sockaddr; NULL, or what is wrong. */
static const char *cfg_listen_parse(const char *text, struct config_listen *l)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon, *start = text;
	size_t hlen;
	uint16_t port;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || close[1] != ':')
			return "write IPv6 as [ADDRESS]:PORT";
		start = text + 1;
		hlen = (size_t)(close - start);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (colon == NULL)
			return "expected ADDRESS:PORT, e.g. 127.0.0.1:53";
		if (memchr(text, ':', (size_t)(colon - text)) != NULL)
			return "write IPv6 as [ADDRESS]:PORT";
		hlen = (size_t)(colon - text);
	}
	if (hlen == 0 || hlen >= sizeof(host))
		return "not a valid IP address";
	memcpy(host, start, hlen);
	host[hlen] = '\0';
	if (!cfg_port_parse(colon + 1, &port))
		return "the port must be a whole number from 1 to 65535";

	memset(&l->addr, 0, sizeof(l->addr));
	if (text[0] != '[') {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1)
			return "not a valid IPv4 address";
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		l->addr_len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1)
			return "not a valid IPv6 address";
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		l->addr_len = sizeof(*sin6);
	}
	return NULL;
}

static bool cfg_listen_same(const struct config_listen *a,
			    const struct config_listen *b)
{
	return a->addr_len == b->addr_len &&
	       memcmp(&a->addr, &b->addr, a->addr_len) == 0;
}

/* Adds one listen entry; reports malformed and repeated addresses. A
 * server listens on a handful, so the repeat check stays linear. */
static void cfg_listen_add(struct cfg_doc *c, const yaml_node_t *item,
			   void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_item_scalar(c, "listen", item);
	if (text == NULL)
		return;
	struct config_listen *l = &cfg->listen[cfg->listen_count];
	const char *why = cfg_listen_parse(text, l);
	if (why != NULL) {
		diag_error(c->d, c->file, cfg_line(item),
			   "bad listen address '%s': %s", text, why);
		return;
	}
	for (size_t i = 0; i < cfg->listen_count; i++) {
		if (cfg_listen_same(&cfg->listen[i], l)) {
			diag_error(c->d, c->file, cfg_line(item),
				   "listen address '%s' is listed twice "
				   "(first at line %u)",
				   text, cfg->listen[i].line);
			return;
		}
	}
	snprintf(l->text, sizeof(l->text), "%s", text);
	l->line = cfg_line(item);
	cfg->listen_count++;
}

/* `metrics: ADDRESS:PORT`: the Prometheus HTTP listener (off by default). */
static void cfg_parse_metrics(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	const char *why = cfg_listen_parse(text, &cfg->metrics);
	if (why != NULL) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "bad metrics address '%s': %s", text, why);
		return;
	}
	snprintf(cfg->metrics.text, sizeof(cfg->metrics.text), "%s", text);
	cfg->metrics.line = cfg_pair_line(p);
}

static void cfg_parse_listen(struct cfg_doc *c, const struct cfg_pair *p,
			     void *obj)
{
	struct config *cfg = obj;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    p->value->data.sequence.items.top ==
		    p->value->data.sequence.items.start) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'listen' must list at least one ADDRESS:PORT");
		return;
	}
	cfg_list(c, p, (void **)&cfg->listen, sizeof(*cfg->listen),
		 cfg_listen_add, cfg);
}

/* ---- top-level scalars ------------------------------------------------- */

/* A path as written, made absolute-or-relative-to-cwd via the config dir. */
static char *cfg_path_resolve(struct cfg_doc *c, unsigned line,
			      const char *path)
{
	const struct config *cfg = cfg_of(c);
	if (path[0] == '/' || strcmp(cfg->dir, ".") == 0)
		return cfg_strdup(c, line, path);
	size_t dlen = strlen(cfg->dir);
	size_t len = dlen + 1 + strlen(path) + 1;
	char *out = cfg_calloc(c, line, len, 1);
	if (out != NULL)
		snprintf(out, len, "%s%s%s", cfg->dir,
			 cfg->dir[dlen - 1] == '/' ? "" : "/", path);
	return out;
}

static void cfg_parse_geoip(struct cfg_doc *c, const struct cfg_pair *p,
			    void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	cfg->geoip_line = cfg_pair_line(p);
	cfg->geoip = cfg_path_resolve(c, cfg->geoip_line, text);
}

static int cfg_hex_digit(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	ch = (char)tolower((unsigned char)ch);
	return (ch >= 'a' && ch <= 'f') ? ch - 'a' + 10 : -1;
}

// Hex digits → at most max bytes (*len of them); false unless a non-empty,
// even count of hex digits (either case). The one hex decoder of the config.
static bool cfg_hex_decode(const char *hex, uint8_t *out, size_t max,
			   size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = cfg_hex_digit(hex[2 * i]),
		    lo = cfg_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return true;
}

/* A 16-byte key written as 32 hex digits into out; false after reporting. */
static bool cfg_parse_key16(struct cfg_doc *c, const struct cfg_pair *p,
			    uint8_t out[16])
{
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return false;
	size_t len = 0;
	bool ok = cfg_hex_decode(text, out, 16, &len) && len == 16;
	if (!ok) {
		memset(out, 0, 16);
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'%s' must be exactly 32 hex digits (16 bytes), "
			   "quoted, e.g. \"000102030405060708090a0b0c0d0e0f\"",
			   p->key);
	}
	return ok;
}

static void cfg_parse_shed_key(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	struct config *cfg = obj;
	cfg_parse_key16(c, p, cfg->shed_key);
}

static void cfg_parse_cookie_secret(struct cfg_doc *c, const struct cfg_pair *p,
				    void *obj)
{
	struct config *cfg = obj;
	cfg->cookie_secret_set = cfg_parse_key16(c, p, cfg->cookie_secret);
}

/* After cookie_secret (table order): a second secret needs a first. */
static void cfg_parse_cookie_secret_previous(struct cfg_doc *c,
					     const struct cfg_pair *p,
					     void *obj)
{
	struct config *cfg = obj;
	cfg->cookie_secret_previous_line = cfg_pair_line(p);
	cfg->cookie_secret_previous_set =
		cfg_parse_key16(c, p, cfg->cookie_secret_previous);
	if (cfg->cookie_secret_previous_set && !cfg->cookie_secret_set)
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'cookie_secret_previous' is accepted only next to "
			   "'cookie_secret' (the secret new cookies use); "
			   "set both");
}

static void cfg_parse_user(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config *cfg = obj;
	const char *name = cfg_scalar(c, p);
	if (name == NULL)
		return;
	// whether the account exists is config_check_system's question:
	// parsing does not depend on this machine's user database
	cfg->user_line = cfg_pair_line(p);
	cfg->user = cfg_strdup(c, cfg->user_line, name);
}

/* ---- regions ------------------------------------------------------------- */

static void cfg_continent_add(struct cfg_doc *c, const yaml_node_t *item,
			      void *obj)
{
	struct config_region *r = obj;
	struct cfg_ctx *ctx = cfg_ctx(c);
	int ri = (int)(r - ctx->cfg->regions);
	const char *text = cfg_item_scalar(c, "continents", item);
	if (text == NULL)
		return;
	enum continent cont = continent_from_code(text);
	if (cont == CONTINENT_UNKNOWN) {
		diag_error(c->d, c->file, cfg_line(item),
			   "unknown continent '%s' in region '%s' "
			   "(use AF, AN, AS, EU, NA, OC or SA)",
			   text, r->name);
		return;
	}
	int owner = ctx->continent_owner[cont];
	if (owner >= 0 && owner != ri) {
		diag_error(c->d, c->file, cfg_line(item),
			   "continent %s is in region '%s' and in region '%s': "
			   "a continent maps to one region",
			   continent_code(cont), ctx->cfg->regions[owner].name,
			   r->name);
		return;
	}
	ctx->continent_owner[cont] = ri;
	r->continents |= (uint8_t)(1u << cont);
}

static void cfg_parse_continents(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	// nothing to allocate: the continents are bits of the region
	cfg_list(c, p, NULL, 0, cfg_continent_add, obj);
}

static int cfg_vip_cmp(const void *a, const void *b)
{
	const struct cfg_vip *x = a, *y = b;
	if (x->a.family != y->a.family)
		return x->a.family < y->a.family ? -1 : 1;
	return memcmp(x->a.bytes, y->a.bytes, sizeof(x->a.bytes));
}

static void cfg_vip_add(struct cfg_doc *c, const yaml_node_t *item, void *obj)
{
	(void)obj;
	struct cfg_ctx *ctx = cfg_ctx(c);
	struct cfg_vip *v = &ctx->vips[ctx->vip_count];
	const char *text = cfg_item_scalar(c, "vips", item);
	if (text == NULL)
		return;
	if (addr_parse(text, &v->a) < 0) {
		diag_error(c->d, c->file, cfg_line(item),
			   "VIP '%s' of %s is not an IPv4 or IPv6 address",
			   text, ctx->vip_what);
		return;
	}
	v->text = text;
	v->line = cfg_line(item);
	ctx->vip_count++;
}

/* Reports repeated VIPs (sorted, not pairwise) and files the others by
 * family, in the order written, into out (room for all in each). */
static void cfg_vips_file(struct cfg_doc *c, struct config_service_vips *out)
{
	struct cfg_ctx *ctx = cfg_ctx(c);
	size_t *first;
	if (cfg_dups(c, ctx->vips, ctx->vip_count, sizeof(*ctx->vips),
		     cfg_vip_cmp, &first) < 0)
		return;
	for (size_t i = 0; i < ctx->vip_count; i++) {
		const struct cfg_vip *v = &ctx->vips[i];
		if (first[i] != i)
			diag_error(c->d, c->file, v->line,
				   "VIP '%s' is listed twice in %s", v->text,
				   ctx->vip_what);
		else if (v->a.family == AF_INET)
			out->v4[out->v4_count++] = v->a;
		else
			out->v6[out->v6_count++] = v->a;
	}
	free(first);
}

/*
 * A list of VIPs (any mix of IPv4 and IPv6) into out; what names the
 * owner in messages ("region 'a'"). An empty list is left for the caller
 * to judge. max: most entries, 0 for no limit.
 */
static void cfg_vips_read(struct cfg_doc *c, const struct cfg_pair *p,
			  const char *what, size_t max,
			  struct config_service_vips *out)
{
	if (!cfg_expect(c, p, YAML_SEQUENCE_NODE))
		return;
	size_t n = (size_t)(p->value->data.sequence.items.top -
			    p->value->data.sequence.items.start);
	if (n == 0)
		return;
	if (max > 0 && n > max) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "%s lists %zu VIPs: at most %zu", what, n, max);
		return;
	}
	// room for all in each family's list
	out->v4 = cfg_calloc(c, cfg_pair_line(p), n, sizeof(*out->v4));
	out->v6 = cfg_calloc(c, cfg_pair_line(p), n, sizeof(*out->v6));
	struct cfg_ctx *ctx = cfg_ctx(c);
	ctx->vip_count = 0;
	ctx->vip_what = what;
	if (out->v4 != NULL && out->v6 != NULL &&
	    cfg_list(c, p, (void **)&ctx->vips, sizeof(*ctx->vips), cfg_vip_add,
		     NULL))
		cfg_vips_file(c, out);
	free(ctx->vips);
	ctx->vips = NULL;
}

/* A region with no VIPs (`vips: []` or none) is refused only when a
 * regional name uses the regions' own VIPs (cfg_regions_vips_needed). */
static void cfg_parse_vips(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config_region *r = obj;
	char what[300];
	snprintf(what, sizeof(what), "region '%s'", r->name);
	struct config_service_vips v = {0};
	cfg_vips_read(c, p, what, 0, &v);
	r->v4 = v.v4;
	r->v4_count = v.v4_count;
	r->v6 = v.v6;
	r->v6_count = v.v6_count;
}

// Kept for cfg_fallback_resolve: a name may come before its region.
static void cfg_parse_fallback(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	struct config_region *r = obj;
	struct cfg_ctx *ctx = cfg_ctx(c);
	if (!cfg_expect(c, p, YAML_SEQUENCE_NODE) || ctx->fallback_node == NULL)
		return;
	ctx->fallback_node[r - ctx->cfg->regions] = p->value;
	r->fallback_line = cfg_pair_line(p);
}

static const struct cfg_key region_keys[] = {
	CFG_KEY("continents", cfg_parse_continents, false),
	CFG_KEY("vips", cfg_parse_vips, false),
	CFG_UINT("capacity", struct config_region, capacity, 1,
		 CONFIG_CAPACITY_MAX, 1),
	CFG_KEY("fallback", cfg_parse_fallback, false),
};

/* Fills one region from its mapping; the name is already set. */
static void cfg_region_body(struct cfg_doc *c, struct config_region *r,
			    const yaml_node_t *body)
{
	char where[300];
	snprintf(where, sizeof(where), "region '%s'", r->name);
	if (body->type != YAML_MAPPING_NODE) {
		diag_error(c->d, c->file, r->line,
			   "region '%s' must be a mapping with continents and "
			   "vips, not %s",
			   r->name, cfg_type_name(body));
		return;
	}
	// a region without `vips` is judged once the zones are read
	cfg_map_walk(c, body, where, region_keys, CFG_COUNT(region_keys), r);
}

static void cfg_region_add(struct cfg_doc *c, const yaml_node_pair_t *pair,
			   const char *name, void *obj)
{
	struct config *cfg = obj;
	unsigned line = cfg_line(cfg_node(c, pair->key));
	char *copy = cfg_strdup(c, line, name);
	if (copy == NULL)
		return;
	struct config_region *r = &cfg->regions[cfg->region_count++];
	r->name = copy;
	r->line = line;
	r->shed_to = REGION_NONE;
	cfg_defaults(region_keys, CFG_COUNT(region_keys), r);
	cfg_region_body(c, r, cfg_node(c, pair->value));
}

/* One region's `fallback:` names → indexes: known, not itself, once. */
static void cfg_fallback_resolve(struct cfg_doc *c, struct config_region *r,
				 const yaml_node_t *list)
{
	struct config *cfg = cfg_of(c);
	size_t n = (size_t)(list->data.sequence.items.top -
			    list->data.sequence.items.start);
	r->fallback =
		cfg_calloc(c, r->fallback_line, n + 1, sizeof(*r->fallback));
	if (r->fallback == NULL)
		return;
	char what[300];
	snprintf(what, sizeof(what), "the fallback of region '%s'", r->name);
	for (size_t i = 0; i < n; i++) {
		const yaml_node_t *item =
			cfg_node(c, list->data.sequence.items.start[i]);
		const char *text = cfg_item_scalar(c, "fallback", item);
		int to = text == NULL ? REGION_NONE
				      : cfg_region_ref(c, what, text,
						       cfg_line(item));
		if (to == REGION_NONE)
			continue;
		bool seen = &cfg->regions[to] == r;
		for (size_t j = 0; j < r->fallback_count; j++)
			seen = seen || r->fallback[j] == to;
		if (seen) {
			diag_error(c->d, c->file, cfg_line(item),
				   "%s lists '%s' %s", what, text,
				   &cfg->regions[to] == r ? "(itself)"
							  : "twice");
			continue;
		}
		r->fallback[r->fallback_count++] = to;
	}
}

static void cfg_parse_regions(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	if (p->value->type == YAML_MAPPING_NODE &&
	    p->value->data.mapping.pairs.top ==
		    p->value->data.mapping.pairs.start) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'regions' must define at least one region");
		return;
	}
	struct cfg_ctx *ctx = cfg_ctx(c);
	if (p->value->type == YAML_MAPPING_NODE)
		ctx->fallback_node = cfg_calloc(
			c, cfg_pair_line(p),
			(size_t)(p->value->data.mapping.pairs.top -
				 p->value->data.mapping.pairs.start) +
				1,
			sizeof(*ctx->fallback_node));
	if (cfg_mapping(c, p, "'regions'", (void **)&cfg->regions,
			sizeof(*cfg->regions), cfg_region_add, cfg))
		cfg_region_order(c, cfg_pair_line(p));
	for (size_t i = 0; ctx->fallback_node != NULL && i < cfg->region_count;
	     i++)
		if (ctx->fallback_node[i] != NULL)
			cfg_fallback_resolve(c, &cfg->regions[i],
					     ctx->fallback_node[i]);
	free(ctx->fallback_node);
	ctx->fallback_node = NULL;
}

static void cfg_parse_default_region(struct cfg_doc *c,
				     const struct cfg_pair *p, void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text != NULL)
		cfg->default_region = cfg_region_ref(c, "'default_region'",
						     text, cfg_pair_line(p));
}

/* ---- services ------------------------------------------------------------ */

/* Letters, digits, '-' and '_': a service name is a word on a command
 * line and in the control protocol, and never looks like a domain name. */
static bool cfg_service_name_ok(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > CONFIG_SERVICE_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_')
			return false;
	return true;
}

/* One region's VIPs of a service: `emea: [198.51.100.10, ...]`. */
static void cfg_service_region_add(struct cfg_doc *c,
				   const yaml_node_pair_t *pair,
				   const char *name, void *obj)
{
	struct config_service *svc = obj;
	struct cfg_pair p = cfg_pair_of(c, pair);
	unsigned line = cfg_line(cfg_node(c, pair->key));
	char what[300];
	snprintf(what, sizeof(what), "service '%s'", svc->name);
	int r = cfg_region_ref(c, what, name, line);
	if (r == REGION_NONE)
		return;
	snprintf(what, sizeof(what), "service '%s' in region '%s'", svc->name,
		 name);
	struct config_service_vips *v = &svc->in[r];
	v->line = line;
	cfg_vips_read(c, &p, what, CONFIG_SERVICE_VIPS_MAX, v);
	if (p.value->type == YAML_SEQUENCE_NODE &&
	    p.value->data.sequence.items.top ==
		    p.value->data.sequence.items.start)
		diag_error(c->d, c->file, v->line,
			   "service '%s' lists no VIPs in region '%s': list "
			   "one or more, or leave the region out (its "
			   "clients are then spread over the regions that "
			   "have the service)",
			   svc->name, name);
}

static bool cfg_service_anywhere(const struct config *cfg,
				 const struct config_service *svc)
{
	for (size_t r = 0; r < cfg->region_count; r++)
		if (svc->in[r].v4_count + svc->in[r].v6_count > 0)
			return true;
	return false;
}

static void cfg_service_add(struct cfg_doc *c, const yaml_node_pair_t *pair,
			    const char *name, void *obj)
{
	struct config *cfg = obj;
	struct cfg_pair p = cfg_pair_of(c, pair);
	unsigned line = cfg_line(cfg_node(c, pair->key));
	if (!cfg_service_name_ok(name)) {
		diag_error(c->d, c->file, line,
			   "service name '%s' must be 1 to %d letters, digits, "
			   "'-' or '_'",
			   name, CONFIG_SERVICE_NAME_MAX);
		return;
	}
	struct config_service *svc = &cfg->services[cfg->service_count];
	svc->name = cfg_strdup(c, line, name);
	svc->in = cfg_calloc(c, line, cfg->region_count + 1, sizeof(*svc->in));
	svc->line = line;
	cfg->service_count++; // kept even when broken, so config_free frees it
	if (svc->name == NULL || svc->in == NULL)
		return;
	char where[300];
	snprintf(where, sizeof(where), "service '%s'", name);
	unsigned errors = diag_errors(c->d);
	if (cfg_mapping(c, &p, where, NULL, 0, cfg_service_region_add, svc) &&
	    diag_errors(c->d) == errors && !cfg_service_anywhere(cfg, svc))
		diag_error(c->d, c->file, line,
			   "service '%s' has no VIPs in any region: give it "
			   "a list of VIPs under one region or more, e.g. "
			   "'%s: {%s: [192.0.2.10]}'",
			   name, name,
			   cfg->region_count ? cfg->regions[0].name : "emea");
}

static int cfg_service_name_cmp(const void *a, const void *b)
{
	return strcmp(((const struct cfg_service_name *)a)->name,
		      ((const struct cfg_service_name *)b)->name);
}

/* Service names sorted once, for the zones' regional names to find. */
static void cfg_service_order(struct cfg_doc *c, unsigned line)
{
	struct cfg_ctx *ctx = cfg_ctx(c);
	const struct config *cfg = ctx->cfg;
	ctx->service_order = cfg_calloc(c, line, cfg->service_count + 1,
					sizeof(*ctx->service_order));
	if (ctx->service_order == NULL)
		return;
	size_t n = 0;
	for (size_t i = 0; i < cfg->service_count; i++)
		if (cfg->services[i].name != NULL)
			ctx->service_order[n++] = (struct cfg_service_name){
				cfg->services[i].name, (int)i + 1};
	qsort(ctx->service_order, n, sizeof(*ctx->service_order),
	      cfg_service_name_cmp);
	ctx->service_order_count = n;
}

static void cfg_parse_services(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	struct config *cfg = obj;
	if (p->value->type == YAML_MAPPING_NODE &&
	    (size_t)(p->value->data.mapping.pairs.top -
		     p->value->data.mapping.pairs.start) >
		    CONFIG_SERVICES_MAX) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'services' defines more than %d services",
			   CONFIG_SERVICES_MAX);
		return;
	}
	if (cfg_mapping(c, p, "'services'", (void **)&cfg->services,
			sizeof(*cfg->services), cfg_service_add, cfg))
		cfg_service_order(c, cfg_pair_line(p));
}

/* 1 + the index of the service called name, or -1. */
static int cfg_service_find(struct cfg_doc *c, const char *name)
{
	const struct cfg_ctx *ctx = cfg_ctx(c);
	if (ctx->service_order == NULL)
		return config_service_index(ctx->cfg, name);
	struct cfg_service_name key = {name, -1};
	const struct cfg_service_name *hit =
		bsearch(&key, ctx->service_order, ctx->service_order_count,
			sizeof(key), cfg_service_name_cmp);
	return hit != NULL ? hit->service : -1;
}

/* "a, b, c" of the service names, for "unknown service" messages. */
static void cfg_service_list(const struct config *cfg, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cfg->service_count && used < len; i++) {
		if (cfg->services[i].name == NULL)
			continue;
		int n = snprintf(out + used, len - used, "%s%s",
				 used ? ", " : "", cfg->services[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* ---- overrides ---------------------------------------------------------- */

/* "ADDR/LEN" with no host bits into net and len; false after reporting. */
static bool cfg_network_text(struct cfg_doc *c, const char *text, unsigned line,
			     const char *where, struct ip_addr *net,
			     uint8_t *len)
{
	int rc = addr_prefix_parse(text, net, len);
	if (rc == -ADDR_ERR_HOST_BITS) {
		char canon[ADDR_PREFIX_TEXT_MAX];
		addr_prefix_format(net, *len, canon, sizeof(canon));
		diag_error(c->d, c->file, line,
			   "network '%s' has bits set after the prefix "
			   "length; write %s",
			   text, canon);
		return false;
	}
	if (rc < 0) {
		diag_error(c->d, c->file, line, "bad network '%s' in %s: %s",
			   text, where, addr_strerror(rc, net->family));
		return false;
	}
	return true;
}

static void cfg_network_add(struct cfg_doc *c, const yaml_node_pair_t *pair,
			    const char *text, void *obj)
{
	struct config *cfg = obj;
	struct config_network_override o = {.region = REGION_NONE};
	o.line = cfg_line(cfg_node(c, pair->key));
	bool ok = cfg_network_text(c, text, o.line, "overrides.networks",
				   &o.net, &o.prefix_len);
	o.region = cfg_pair_region(c, pair, "overrides.networks");
	if (!ok || o.region == REGION_NONE)
		return;
	cfg_ctx(c)->network_text[cfg->network_override_count] = text;
	cfg->network_overrides[cfg->network_override_count++] = o;
}

static int cfg_network_cmp(const void *a, const void *b)
{
	const struct config_network_override *x = a, *y = b;
	if (x->net.family != y->net.family)
		return x->net.family < y->net.family ? -1 : 1;
	if (x->prefix_len != y->prefix_len)
		return x->prefix_len < y->prefix_len ? -1 : 1;
	return memcmp(x->net.bytes, y->net.bytes, sizeof(x->net.bytes));
}

/* The same network written two ways (10.0.0.0/8, 010.0.0.0/8...): sorted,
 * so 100,000 overrides cost a sort, not 5 billion comparisons. */
static void cfg_networks_dups(struct cfg_doc *c, struct config *cfg)
{
	size_t *first;
	size_t n = cfg->network_override_count;
	if (cfg_dups(c, cfg->network_overrides, n,
		     sizeof(*cfg->network_overrides), cfg_network_cmp,
		     &first) < 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (first[i] != i)
			diag_error(c->d, c->file,
				   cfg->network_overrides[i].line,
				   "network '%s' is listed twice in "
				   "overrides.networks (first at line %u)",
				   cfg_ctx(c)->network_text[i],
				   cfg->network_overrides[first[i]].line);
	free(first);
}

static void cfg_parse_networks(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	struct config *cfg = obj;
	struct cfg_ctx *ctx = cfg_ctx(c);
	if (cfg_is_null(p->value) || !cfg_expect(c, p, YAML_MAPPING_NODE))
		return;
	size_t n = (size_t)(p->value->data.mapping.pairs.top -
			    p->value->data.mapping.pairs.start);
	ctx->network_text =
		cfg_calloc(c, cfg_pair_line(p), n, sizeof(*ctx->network_text));
	if (ctx->network_text == NULL)
		return;
	if (cfg_mapping(c, p, "overrides.networks",
			(void **)&cfg->network_overrides,
			sizeof(*cfg->network_overrides), cfg_network_add, cfg))
		cfg_networks_dups(c, cfg);
	free(ctx->network_text);
	ctx->network_text = NULL;
}

/* At most 26 * 26 countries get in, so a scan stays cheap. */
static const struct config_country_override *cfg_country_find(
	const struct config *cfg, const char *code)
{
	for (size_t i = 0; i < cfg->country_override_count; i++)
		if (strcmp(cfg->country_overrides[i].code, code) == 0)
			return &cfg->country_overrides[i];
	return NULL;
}

static bool cfg_country_parse(struct cfg_doc *c, const char *text,
			      unsigned line, struct config_country_override *o)
{
	if (strlen(text) != 2 || !isalpha((unsigned char)text[0]) ||
	    !isalpha((unsigned char)text[1])) {
		diag_error(c->d, c->file, line,
			   "'%s' in overrides.countries is not a two-letter "
			   "ISO 3166-1 country code",
			   text);
		return false;
	}
	o->code[0] = (char)toupper((unsigned char)text[0]);
	o->code[1] = (char)toupper((unsigned char)text[1]);
	o->code[2] = '\0';
	if (!country_is_known(o->code)) {
		diag_error(c->d, c->file, line,
			   "unknown country code '%s' in overrides.countries "
			   "(use an ISO 3166-1 alpha-2 code such as BR)",
			   text);
		return false;
	}
	const struct config_country_override *old =
		cfg_country_find(cfg_of(c), o->code);
	if (old != NULL) {
		diag_error(c->d, c->file, line,
			   "country %s is listed twice in overrides.countries "
			   "(first at line %u)",
			   o->code, old->line);
		return false;
	}
	o->line = line;
	return true;
}

static void cfg_country_add(struct cfg_doc *c, const yaml_node_pair_t *pair,
			    const char *text, void *obj)
{
	struct config *cfg = obj;
	struct config_country_override o = {.region = REGION_NONE};
	bool ok = cfg_country_parse(c, text, cfg_line(cfg_node(c, pair->key)),
				    &o);
	o.region = cfg_pair_region(c, pair, "overrides.countries");
	if (ok && o.region != REGION_NONE)
		cfg->country_overrides[cfg->country_override_count++] = o;
}

static void cfg_parse_countries(struct cfg_doc *c, const struct cfg_pair *p,
				void *obj)
{
	struct config *cfg = obj;
	if (!cfg_is_null(p->value))
		cfg_mapping(c, p, "overrides.countries",
			    (void **)&cfg->country_overrides,
			    sizeof(*cfg->country_overrides), cfg_country_add,
			    cfg);
}

static const struct cfg_key override_keys[] = {
	CFG_KEY("networks", cfg_parse_networks, false),
	CFG_KEY("countries", cfg_parse_countries, false),
};

static void cfg_parse_overrides(struct cfg_doc *c, const struct cfg_pair *p,
				void *obj)
{
	if (cfg_is_null(p->value))
		return;
	if (cfg_expect(c, p, YAML_MAPPING_NODE))
		cfg_map_walk(c, p->value, "'overrides'", override_keys,
			     CFG_COUNT(override_keys), obj);
}
/* ---- shed ------------------------------------------------------------------ */

enum cfg_percent_status {
	PERCENT_OK,
	PERCENT_NAN,
	PERCENT_DECIMALS,
	PERCENT_RANGE
};

/*
 * Reads a percentage exactly from its text, into basis points: YAML's
 * float would turn "0.29" into 0.28999..., and the shed share must be the
 * same on every machine, so no floating point is involved.
 */
static enum cfg_percent_status cfg_percent_parse(const char *text, uint16_t *bp)
{
	const char *s = text;
	bool negative = *s == '-';
	unsigned long whole = 0;
	unsigned frac = 0, decimals = 0;

	if (*s == '-' || *s == '+')
		s++;
	if (!isdigit((unsigned char)*s))
		return PERCENT_NAN;
	for (; isdigit((unsigned char)*s); s++)
		whole = whole > 1000 ? whole
				     : whole * 10 + (unsigned)(*s - '0');
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return PERCENT_NAN;
		for (; isdigit((unsigned char)*s); s++, decimals++)
			if (decimals < 2)
				frac = frac * 10 + (unsigned)(*s - '0');
	}
	if (*s != '\0')
		return PERCENT_NAN;
	if (decimals == 1)
		frac *= 10;
	unsigned long v = whole * 100 + frac;
	if ((negative && v > 0) || v > 10000)
		return PERCENT_RANGE;
	if (decimals > 2)
		return PERCENT_DECIMALS;
	*bp = (uint16_t)v;
	return PERCENT_OK;
}

/* One shed entry being read: the region it belongs to. */
struct cfg_shed {
	struct config_region *from;
	int to;
	bool has_percent;
	uint16_t bp;
};

static void cfg_parse_shed_to(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct cfg_shed *s = obj;
	char what[300];
	const char *name = cfg_scalar(c, p);
	if (name == NULL)
		return;
	snprintf(what, sizeof(what), "the shed of region '%s'", s->from->name);
	s->to = cfg_region_ref(c, what, name, cfg_pair_line(p));
	if (s->to != REGION_NONE && &cfg_of(c)->regions[s->to] == s->from) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "region '%s' cannot shed to itself; name another "
			   "region in 'to'",
			   s->from->name);
		s->to = REGION_NONE;
	}
}

static void cfg_parse_shed_percent(struct cfg_doc *c, const struct cfg_pair *p,
				   void *obj)
{
	static const char *const why[] = {
		[PERCENT_NAN] = "is not a number",
		[PERCENT_DECIMALS] = "has more than two decimals",
		[PERCENT_RANGE] = "is outside 0-100",
	};
	struct cfg_shed *s = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	enum cfg_percent_status st = cfg_percent_parse(text, &s->bp);
	if (st == PERCENT_OK) {
		s->has_percent = true;
		return;
	}
	diag_error(c->d, c->file, cfg_pair_line(p),
		   "shed percent '%s' of region '%s' %s: write a number from "
		   "0 to 100 with at most two decimals",
		   text, s->from->name, why[st]);
}

static const struct cfg_key shed_keys[] = {
	CFG_KEY("to", cfg_parse_shed_to, true),
	CFG_KEY("percent", cfg_parse_shed_percent, true),
};

static void cfg_shed_entry(struct cfg_doc *c, const yaml_node_pair_t *pair,
			   const char *name, void *obj)
{
	(void)obj;
	yaml_node_t *k = cfg_node(c, pair->key);
	yaml_node_t *v = cfg_node(c, pair->value);
	int ri = cfg_region_ref(c, "'shed'", name, cfg_line(k));
	if (v->type != YAML_MAPPING_NODE) {
		diag_error(c->d, c->file, cfg_line(k),
			   "shed of '%s' must be a mapping like "
			   "{ to: REGION, percent: P }, not %s",
			   name, cfg_type_name(v));
		return;
	}
	if (ri == REGION_NONE)
		return;
	char where[300];
	struct cfg_shed s = {&cfg_of(c)->regions[ri], REGION_NONE, false, 0};
	snprintf(where, sizeof(where), "the shed of region '%s'", name);
	cfg_map_walk(c, v, where, shed_keys, CFG_COUNT(shed_keys), &s);
	if (s.to == REGION_NONE || !s.has_percent)
		return;
	s.from->shed_to = s.to;
	s.from->shed_bp = s.bp;
	s.from->shed_line = cfg_line(k);
}

static void cfg_parse_shed(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	// a repeated key is a second shed for one region: refused there
	if (!cfg_is_null(p->value))
		cfg_mapping(c, p, "'shed'", NULL, 0, cfg_shed_entry, obj);
}

/* ---- TSIG keys -------------------------------------------------------------- */

/* Plain base64 (RFC 4648, with padding) of at least one byte. */
static bool cfg_base64_valid(const char *text)
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t n = strlen(text), pad = 0;
	if (n == 0 || n % 4 != 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (text[i] == '=') {
			pad++;
			if (i < n - 2)
				return false;
		} else if (pad > 0 || strchr(abc, text[i]) == NULL ||
			   text[i] == '\0') {
			return false;
		}
	}
	return pad <= 2;
}

struct cfg_key_obj {
	struct config_tsig_key *k;
	bool has_secret;
};

static void cfg_parse_key_algorithm(struct cfg_doc *c, const struct cfg_pair *p,
				    void *obj)
{
	struct cfg_key_obj *o = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (strcasecmp(text, "hmac-sha256") == 0)
		o->k->algorithm = "hmac-sha256.";
	else if (strcasecmp(text, "hmac-sha512") == 0)
		o->k->algorithm = "hmac-sha512.";
	else
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "unknown TSIG algorithm '%s' (use hmac-sha256 or "
			   "hmac-sha512)",
			   text);
}

static void cfg_key_secret_set(struct cfg_doc *c, unsigned line,
			       struct cfg_key_obj *o, const char *text,
			       const char *where)
{
	if (o->has_secret) {
		diag_error(c->d, c->file, line,
			   "key '%s' has both 'secret' "
			   "and 'secret_file'; give one",
			   o->k->name);
		return;
	}
	o->has_secret = true;
	if (!cfg_base64_valid(text)) {
		diag_error(c->d, c->file, line,
			   "the secret of key '%s'%s is "
			   "not valid base64",
			   o->k->name, where);
		return;
	}
	o->k->secret = cfg_strdup(c, line, text);
}

static void cfg_parse_key_secret(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	const char *text = cfg_scalar(c, p);
	if (text != NULL)
		cfg_key_secret_set(c, cfg_pair_line(p), obj, text, "");
}

static void cfg_parse_key_secret_file(struct cfg_doc *c,
				      const struct cfg_pair *p, void *obj)
{
	struct cfg_key_obj *o = obj;
	const char *text = cfg_scalar(c, p);
	unsigned line = cfg_pair_line(p);
	if (text == NULL)
		return;
	if (o->has_secret) {
		diag_error(c->d, c->file, line,
			   "key '%s' has both 'secret' "
			   "and 'secret_file'; give one",
			   o->k->name);
		return;
	}
	char *path = cfg_path_resolve(c, line, text);
	if (path == NULL)
		return;
	char *data = NULL;
	size_t len = 0;
	int rc = file_read(path, CONFIG_SECRET_FILE_MAX, &data, &len);
	if (rc < 0) {
		diag_error(c->d, c->file, line,
			   "cannot read secret_file "
			   "'%s': %s",
			   path, file_strerror(rc));
		o->has_secret = true; // reported: not "needs a secret" too
	} else {
		// one line of base64; surrounding white space is not secret
		while (len > 0 && isspace((unsigned char)data[len - 1]))
			len--;
		size_t start = 0;
		while (start < len && isspace((unsigned char)data[start]))
			start++;
		char *one = cfg_calloc(c, line, len - start + 1, 1);
		if (one != NULL) {
			memcpy(one, data + start, len - start);
			if (memchr(data + start, '\0', len - start) != NULL)
				one[0] = '\0';
			char where[300];
			snprintf(where, sizeof(where), " (in %s)", path);
			cfg_key_secret_set(c, line, obj, one, where);
			free(one);
		}
	}
	free(data);
	free(path);
}

static const struct cfg_key key_keys[] = {
	CFG_KEY("algorithm", cfg_parse_key_algorithm, true),
	CFG_KEY("secret", cfg_parse_key_secret, false),
	CFG_KEY("secret_file", cfg_parse_key_secret_file, false),
};

static void cfg_key_add(struct cfg_doc *c, const yaml_node_pair_t *pair,
			const char *key, void *obj)
{
	struct config *cfg = obj;
	struct cfg_pair kp = cfg_pair_of(c, pair);
	unsigned line = cfg_pair_line(&kp);
	struct config_tsig_key *k = &cfg->keys[cfg->key_count];
	uint8_t wire[DNAME_MAX];
	size_t n = strlen(key);
	char *abs = cfg_calloc(c, line, n + 2, 1);
	if (abs == NULL)
		return;
	snprintf(abs, n + 2, "%s%s", key,
		 n > 0 && key[n - 1] == '.' ? "" : ".");
	if (dname_from_text(wire, abs, NULL) == 0) {
		diag_error(c->d, c->file, line,
			   "key name '%s' is not a valid domain name", key);
		free(abs);
		return;
	}
	k->name = abs;
	k->line = line;
	cfg->key_count++; // kept even when broken, so config_free frees it
	if (!cfg_expect(c, &kp, YAML_MAPPING_NODE))
		return;
	struct cfg_key_obj o = {.k = k};
	char where[300];
	snprintf(where, sizeof(where), "key '%s'", key);
	cfg_map_walk(c, kp.value, where, key_keys, CFG_COUNT(key_keys), &o);
	if (!o.has_secret)
		diag_error(c->d, c->file, line,
			   "key '%s' needs 'secret' or 'secret_file'", key);
}

static void cfg_parse_keys(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config *cfg = obj;
	if (!cfg_is_null(p->value))
		cfg_mapping(c, p, "keys", (void **)&cfg->keys,
			    sizeof(*cfg->keys), cfg_key_add, cfg);
}

/* ---- zones ------------------------------------------------------------------ */

static void cfg_parse_origin(struct cfg_doc *c, const struct cfg_pair *p,
			     void *obj)
{
	struct config_zone *z = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	size_t len = strlen(text);
	unsigned line = cfg_pair_line(p);
	// "example.com" and "example.com." both mean the absolute name
	char *abs = cfg_calloc(c, line, len + 2, 1);
	if (abs == NULL)
		return;
	snprintf(abs, len + 2, "%s%s", text,
		 len > 0 && text[len - 1] == '.' ? "" : ".");
	z->origin_len = dname_from_text(z->origin, abs, NULL);
	free(abs);
	if (z->origin_len == 0) {
		diag_error(c->d, c->file, line,
			   "zone origin '%s' is not a valid domain name", text);
		return;
	}
	// the canonical text, so messages and ldns see one spelling
	z->origin_text = cfg_calloc(c, line, DNAME_TEXT_MAX, 1);
	if (z->origin_text == NULL)
		z->origin_len = 0;
	else
		dname_to_text(z->origin_text, z->origin);
}

static void cfg_parse_file(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config_zone *z = obj;
	const char *text = cfg_scalar(c, p);
	if (text != NULL)
		z->file = cfg_path_resolve(c, cfg_pair_line(p), text);
}

/* "www.acme.test" in zone acme.test. means www.acme.test.acme.test.:
 * true when text (with no final dot) ends in the zone's own name. */
static bool cfg_regional_doubled(const char *text, const char *origin)
{
	size_t tl = strlen(text), ol = strlen(origin);
	if (tl == 0 || text[tl - 1] == '.' || ol < 2)
		return false;
	ol--; // origin_text is absolute: compare without its final dot
	if (tl < ol || strncasecmp(text + tl - ol, origin, ol) != 0)
		return false;
	return tl == ol || text[tl - ol - 1] == '.';
}

/* Adds the regional name text at line to z; NULL after reporting. */
static struct config_regional_name *cfg_regional_name(struct cfg_doc *c,
						      struct config_zone *z,
						      const char *text,
						      unsigned line)
{
	if (z->origin_len == 0)
		return NULL; // a bad origin was reported; names can't be judged
	struct config_regional_name *n = &z->regional[z->regional_count];
	n->name_len = dname_from_text(n->name, text, z->origin);
	if (n->name_len == 0) {
		diag_error(c->d, c->file, line,
			   "regional name '%s' is not a valid domain name",
			   text);
		return NULL;
	}
	if (!dname_is_subdomain(n->name, z->origin)) {
		diag_error(c->d, c->file, line,
			   "regional name '%s' is outside zone %s", text,
			   z->origin_text);
		return NULL;
	}
	if (cfg_regional_doubled(text, z->origin_text))
		diag_warn(c->d, c->file, line,
			  "regional name '%s' has no final dot, so it means "
			  "%s.%s; write '%s.' for the name itself",
			  text, text, z->origin_text, text);
	n->text = cfg_strdup(c, line, text);
	if (n->text == NULL)
		return NULL;
	n->line = line;
	n->service = CONFIG_SERVICE_REGIONS;
	z->regional_count++;
	return n;
}

/* The list form: `regional: [www, api]`, answered with the regions' own
 * VIPs. */
static void cfg_regional_add(struct cfg_doc *c, const yaml_node_t *item,
			     void *obj)
{
	const char *text = cfg_item_scalar(c, "regional", item);
	if (text != NULL)
		cfg_regional_name(c, obj, text, cfg_line(item));
}

/* The mapping form: `regional: {www: web, api: api}`, name → service. */
static void cfg_regional_service_add(struct cfg_doc *c,
				     const yaml_node_pair_t *pair,
				     const char *key, void *obj)
{
	struct cfg_pair p = cfg_pair_of(c, pair);
	const char *service = cfg_scalar(c, &p);
	if (service == NULL)
		return;
	int s = cfg_service_find(c, service);
	if (s < 0) {
		char list[512];
		cfg_service_list(cfg_of(c), list, sizeof(list));
		diag_error(c->d, c->file, cfg_pair_line(&p),
			   "regional name '%s' maps to unknown service '%s' "
			   "(services: %s)",
			   key, service,
			   list[0] ? list : "none defined under 'services'");
		return;
	}
	struct config_regional_name *n = cfg_regional_name(
		c, obj, key, cfg_line(cfg_node(c, pair->key)));
	if (n != NULL)
		n->service = (uint16_t)s;
}

static int cfg_regional_cmp(const void *a, const void *b)
{
	const struct config_regional_name *x = a, *y = b;
	if (x->name_len != y->name_len)
		return x->name_len < y->name_len ? -1 : 1;
	return memcmp(x->name, y->name, x->name_len);
}

/* Warns about repeated names and keeps only their first entry. Sorted:
 * 20,000 names cost a sort, not 200 million name comparisons. */
static void cfg_regional_dups(struct cfg_doc *c, struct config_zone *z)
{
	size_t *first, kept = 0;
	if (cfg_dups(c, z->regional, z->regional_count, sizeof(*z->regional),
		     cfg_regional_cmp, &first) < 0)
		return;
	for (size_t i = 0; i < z->regional_count; i++) {
		struct config_regional_name *n = &z->regional[i];
		if (first[i] == i) {
			z->regional[kept++] = *n;
			continue;
		}
		diag_warn(c->d, c->file, n->line,
			  "regional name '%s' is listed twice in zone %s",
			  n->text, z->origin_text);
		free(n->text);
	}
	z->regional_count = kept;
	free(first);
}

static void cfg_parse_regional(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	struct config_zone *z = obj;
	if (cfg_is_null(p->value))
		return;
	bool ok =
		p->value->type == YAML_MAPPING_NODE
			? cfg_mapping(c, p, "'regional'", (void **)&z->regional,
				      sizeof(*z->regional),
				      cfg_regional_service_add, z)
			: cfg_list(c, p, (void **)&z->regional,
				   sizeof(*z->regional), cfg_regional_add, z);
	if (ok)
		cfg_regional_dups(c, z);
}

/* ---- dnssec: per zone --------------------------------------------------- */

/* "3600", "90m", "36h", "14d", "2w" → seconds in [1, 2^31 - 1]. */
static bool cfg_duration(const char *text, uint32_t *out)
{
	size_t n = strlen(text);
	unsigned long mult = 1, v;
	char num[16];
	if (n == 0 || n >= sizeof(num))
		return false;
	switch (text[n - 1]) {
	case 's':
		mult = 1;
		n--;
		break;
	case 'm':
		mult = 60;
		n--;
		break;
	case 'h':
		mult = 3600;
		n--;
		break;
	case 'd':
		mult = 86400;
		n--;
		break;
	case 'w':
		mult = 604800;
		n--;
		break;
	default:
		break;
	}
	memcpy(num, text, n);
	num[n] = '\0';
	if (!cfg_whole_number(num, 1, 2147483647UL / mult, &v))
		return false;
	*out = (uint32_t)(v * mult);
	return true;
}

static void cfg_dnssec_duration(struct cfg_doc *c, const struct cfg_pair *p,
				uint32_t *out)
{
	const char *text = cfg_scalar(c, p);
	if (text != NULL && !cfg_duration(text, out))
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'%s' must be a duration such as 3600, 90m, 36h, "
			   "14d or 2w (at most 68 years), not '%s'",
			   p->key, text);
}

static void cfg_parse_dnssec_validity(struct cfg_doc *c,
				      const struct cfg_pair *p, void *obj)
{
	cfg_dnssec_duration(c, p, &((struct config_dnssec *)obj)->validity);
}

static void cfg_parse_dnssec_refresh(struct cfg_doc *c,
				     const struct cfg_pair *p, void *obj)
{
	cfg_dnssec_duration(c, p, &((struct config_dnssec *)obj)->refresh);
}

/* "Kexample.+013+12345", with or without .key/.private: the base path. */
static void cfg_dnssec_key_add(struct cfg_doc *c, const yaml_node_t *item,
			       void *obj)
{
	struct config_dnssec *ds = obj;
	const char *text = cfg_item_scalar(c, "keys", item);
	if (text == NULL)
		return;
	char *path = cfg_path_resolve(c, cfg_line(item), text);
	if (path == NULL)
		return;
	size_t n = strlen(path);
	if (n > 4 && strcmp(path + n - 4, ".key") == 0)
		path[n - 4] = '\0';
	else if (n > 8 && strcmp(path + n - 8, ".private") == 0)
		path[n - 8] = '\0';
	ds->keys[ds->key_count++] = path;
}

static void cfg_parse_dnssec_keys(struct cfg_doc *c, const struct cfg_pair *p,
				  void *obj)
{
	struct config_dnssec *ds = obj;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    (p->value->data.sequence.items.top ==
		     p->value->data.sequence.items.start ||
	     p->value->data.sequence.items.top -
			     p->value->data.sequence.items.start >
		     CONFIG_DNSSEC_KEYS_MAX)) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'keys' must list 1 to %d key files",
			   CONFIG_DNSSEC_KEYS_MAX);
		return;
	}
	cfg_list(c, p, (void **)&ds->keys, sizeof(*ds->keys),
		 cfg_dnssec_key_add, ds);
}

static void cfg_parse_dnssec_denial(struct cfg_doc *c, const struct cfg_pair *p,
				    void *obj)
{
	const char *text = cfg_scalar(c, p);
	if (text == NULL || strcmp(text, "nsec") == 0)
		return;
	if (strcmp(text, "nsec3") == 0)
		((struct config_dnssec *)obj)->nsec3 = true;
	else
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'denial' must be nsec or nsec3, not '%s'", text);
}

static void cfg_parse_nsec3_iterations(struct cfg_doc *c,
				       const struct cfg_pair *p, void *obj)
{
	const char *text = cfg_scalar(c, p);
	unsigned long v;
	if (text == NULL)
		return;
	if (!cfg_whole_number(text, 0, CONFIG_NSEC3_ITERATIONS_MAX, &v))
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "nsec3 'iterations' must be a whole number from 0 "
			   "to %d (RFC 9276: use 0), not '%s'",
			   CONFIG_NSEC3_ITERATIONS_MAX, text);
	else
		((struct config_dnssec *)obj)->nsec3_iterations = (uint16_t)v;
}

/* "-" (no salt, as RFC 9276 recommends) or 1 to 255 bytes in hex. */
static void cfg_parse_nsec3_salt(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	struct config_dnssec *ds = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	ds->nsec3_salt_len = 0;
	if (strcmp(text, "-") == 0)
		return;
	size_t len;
	if (cfg_hex_decode(text, ds->nsec3_salt, sizeof(ds->nsec3_salt), &len))
		ds->nsec3_salt_len = (uint8_t)len;
	else
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "nsec3 'salt' must be \"-\" (none, RFC 9276) or 1 "
			   "to 255 bytes in hex, not '%s'",
			   text);
}

static const struct cfg_key nsec3_keys[] = {
	CFG_KEY("iterations", cfg_parse_nsec3_iterations, false),
	CFG_KEY("salt", cfg_parse_nsec3_salt, false),
};

static void cfg_parse_dnssec_nsec3(struct cfg_doc *c, const struct cfg_pair *p,
				   void *obj)
{
	if (cfg_expect(c, p, YAML_MAPPING_NODE))
		cfg_map_walk(c, p->value, "'nsec3'", nsec3_keys,
			     CFG_COUNT(nsec3_keys), obj);
}

static const struct cfg_key dnssec_keys[] = {
	CFG_KEY("keys", cfg_parse_dnssec_keys, true),
	CFG_KEY("denial", cfg_parse_dnssec_denial, false),
	CFG_KEY("nsec3", cfg_parse_dnssec_nsec3, false),
	CFG_KEY("validity", cfg_parse_dnssec_validity, false),
	CFG_KEY("refresh", cfg_parse_dnssec_refresh, false),
	CFG_BOOL("cds", struct config_dnssec, cds, false),
};

static void cfg_parse_dnssec(struct cfg_doc *c, const struct cfg_pair *p,
			     void *obj)
{
	struct config_zone *z = obj;
	z->dnssec.line = cfg_pair_line(p);
	z->dnssec.validity = 14 * 86400;
	z->dnssec.refresh = 7 * 86400;
	if (!cfg_expect(c, p, YAML_MAPPING_NODE))
		return;
	cfg_defaults(dnssec_keys, CFG_COUNT(dnssec_keys), &z->dnssec);
	uint64_t seen = cfg_map_walk(c, p->value, "'dnssec'", dnssec_keys,
				     CFG_COUNT(dnssec_keys), &z->dnssec);
	if ((seen & (1u << 2)) && !z->dnssec.nsec3) // row 2: nsec3
		diag_warn(c->d, c->file, z->dnssec.line,
			  "dnssec 'nsec3' settings are unused without "
			  "'denial: nsec3'");
	if (z->dnssec.refresh >= z->dnssec.validity)
		diag_error(c->d, c->file, z->dnssec.line,
			   "dnssec 'refresh' must be shorter than 'validity'");
	else if (z->dnssec.validity - z->dnssec.refresh <
		 CONFIG_DNSSEC_RESIGN_MIN)
		diag_error(c->d, c->file, z->dnssec.line,
			   "dnssec 'validity' minus 'refresh' (the time "
			   "between two re-signings) must be at least %d s",
			   CONFIG_DNSSEC_RESIGN_MIN);
}

/* `primary:` items: ADDRESS (port 53), ADDRESS:PORT or [V6]:PORT. */
static const char *cfg_primary_parse(const char *text, struct config_listen *l)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&l->addr;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->addr;
	memset(&l->addr, 0, sizeof(l->addr));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(53);
		l->addr_len = sizeof(*sin);
		return NULL;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(53);
		l->addr_len = sizeof(*sin6);
		return NULL;
	}
	return cfg_listen_parse(text, l);
}

static void cfg_primary_add(struct cfg_doc *c, const yaml_node_t *item,
			    void *obj)
{
	struct config_zone *z = obj;
	const char *text = cfg_item_scalar(c, "primary", item);
	if (text == NULL)
		return;
	struct config_listen *l = &z->primaries[z->primary_count];
	const char *why = cfg_primary_parse(text, l);
	if (why != NULL) {
		diag_error(c->d, c->file, cfg_line(item),
			   "bad primary address '%s': %s", text, why);
		return;
	}
	snprintf(l->text, sizeof(l->text), "%s", text);
	l->line = cfg_line(item);
	z->primary_count++;
}

static void cfg_parse_primary(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct config_zone *z = obj;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    p->value->data.sequence.items.top ==
		    p->value->data.sequence.items.start) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'primary' must list at least one ADDRESS[:PORT]");
		return;
	}
	cfg_list(c, p, (void **)&z->primaries, sizeof(*z->primaries),
		 cfg_primary_add, z);
}

static void cfg_parse_tsig(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config_zone *z = obj;
	const struct config *cfg = cfg_of(c);
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	size_t n = strlen(text);
	for (size_t i = 0; i < cfg->key_count; i++) {
		const char *k = cfg->keys[i].name;
		if (strncasecmp(k, text, n) == 0 &&
		    (k[n] == '\0' || (k[n] == '.' && k[n + 1] == '\0'))) {
			z->tsig = (int)i;
			return;
		}
	}
	diag_error(c->d, c->file, cfg_pair_line(p),
		   "tsig key '%s' is not defined under 'keys'", text);
}

static const struct cfg_key zone_keys[] = {
	CFG_KEY("origin", cfg_parse_origin, true),
	CFG_KEY("file", cfg_parse_file, true),
	CFG_UINT("ttl", struct config_zone, ttl, 0, 2147483647UL, 60),
	CFG_KEY("regional", cfg_parse_regional, false),
	CFG_KEY("primary", cfg_parse_primary, false),
	CFG_KEY("tsig", cfg_parse_tsig, false),
	CFG_KEY("dnssec", cfg_parse_dnssec, false),
};

/* Bit of each zone_keys row in cfg_map_walk's result. */
#define CFG_ZONE_PRIMARY (1u << 4)
#define CFG_ZONE_TSIG (1u << 5)

static void cfg_zone_add(struct cfg_doc *c, const yaml_node_t *item, void *obj)
{
	struct config *cfg = obj;
	struct config_zone *z = &cfg->zones[cfg->zone_count];
	if (item->type != YAML_MAPPING_NODE) {
		diag_error(
			c->d, c->file, cfg_line(item),
			"each entry of 'zones' must be a mapping with origin "
			"and file, not %s",
			cfg_type_name(item));
		return;
	}
	cfg_defaults(zone_keys, CFG_COUNT(zone_keys), z);
	z->line = cfg_line(item);
	z->tsig = -1;
	cfg->zone_count++; // kept even when broken, so config_free frees it
	uint64_t seen = cfg_map_walk(c, item, "a zone", zone_keys,
				     CFG_COUNT(zone_keys), z);
	if ((seen & CFG_ZONE_TSIG) && !(seen & CFG_ZONE_PRIMARY))
		diag_error(c->d, c->file, z->line,
			   "zone %s has 'tsig' but no 'primary': the key "
			   "signs transfers from a primary",
			   z->origin_text ? z->origin_text : "?");
}

static int cfg_zone_cmp(const void *a, const void *b)
{
	const struct config_zone *x = a, *y = b;
	if (x->origin_len != y->origin_len)
		return x->origin_len < y->origin_len ? -1 : 1;
	return memcmp(x->origin, y->origin, x->origin_len);
}

static void cfg_zones_dups(struct cfg_doc *c, struct config *cfg)
{
	size_t *first;
	if (cfg_dups(c, cfg->zones, cfg->zone_count, sizeof(*cfg->zones),
		     cfg_zone_cmp, &first) < 0)
		return;
	for (size_t i = 0; i < cfg->zone_count; i++) {
		const struct config_zone *z = &cfg->zones[i];
		// broken origins (length 0) were reported on their own
		if (first[i] != i && z->origin_len > 0)
			diag_error(c->d, c->file, z->line,
				   "zone %s is listed twice (first at line %u)",
				   z->origin_text, cfg->zones[first[i]].line);
	}
	free(first);
}

static void cfg_parse_zones(struct cfg_doc *c, const struct cfg_pair *p,
			    void *obj)
{
	struct config *cfg = obj;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    p->value->data.sequence.items.top ==
		    p->value->data.sequence.items.start) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'zones' must list at least one zone");
		return;
	}
	if (cfg_list(c, p, (void **)&cfg->zones, sizeof(*cfg->zones),
		     cfg_zone_add, cfg))
		cfg_zones_dups(c, cfg);
}

/* ---- rrl ----------------------------------------------------------------- */

static void cfg_rrl_exempt_add(struct cfg_doc *c, const yaml_node_t *item,
			       void *obj)
{
	struct config_rrl *rrl = obj;
	const char *text = cfg_item_scalar(c, "rrl.exempt", item);
	if (text == NULL)
		return;
	struct config_network_override o = {.region = REGION_NONE,
					    .line = cfg_line(item)};
	if (cfg_network_text(c, text, o.line, "rrl.exempt", &o.net,
			     &o.prefix_len))
		rrl->exempt[rrl->exempt_count++] = o;
}

static void cfg_parse_rrl_exempt(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	struct config_rrl *rrl = obj;
	if (cfg_is_null(p->value))
		return;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    (size_t)(p->value->data.sequence.items.top -
		     p->value->data.sequence.items.start) > CONFIG_MAX_EXEMPT) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "'rrl.exempt' lists more than %u networks: "
			   "exempt larger networks instead",
			   CONFIG_MAX_EXEMPT);
		return;
	}
	cfg_list(c, p, (void **)&rrl->exempt, sizeof(*rrl->exempt),
		 cfg_rrl_exempt_add, rrl);
}

static const struct cfg_key rrl_keys[] = {
	CFG_UINT("responses_per_second", struct config_rrl,
		 responses_per_second, 0, 1000000, 0),
	CFG_UINT("slip", struct config_rrl, slip, 0, 100, 2),
	CFG_UINT("ipv4_prefix", struct config_rrl, ipv4_prefix, 0, 32, 24),
	CFG_UINT("ipv6_prefix", struct config_rrl, ipv6_prefix, 0, 128, 56),
	CFG_KEY("exempt", cfg_parse_rrl_exempt, false),
};

static void cfg_parse_rrl(struct cfg_doc *c, const struct cfg_pair *p,
			  void *obj)
{
	struct config *cfg = obj;
	cfg->rrl.line = cfg_pair_line(p);
	if (cfg_is_null(p->value))
		return;
	if (cfg_expect(c, p, YAML_MAPPING_NODE))
		cfg_map_walk(c, p->value, "'rrl'", rrl_keys,
			     CFG_COUNT(rrl_keys), &cfg->rrl);
}

/* ---- dnstap ---- */

static void cfg_parse_dnstap_socket(struct cfg_doc *c, const struct cfg_pair *p,
				    void *obj)
{
	struct config_dnstap *dt = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (text[0] == '\0') {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "dnstap.socket: empty path");
		return;
	}
	dt->socket = cfg_path_resolve(c, cfg_pair_line(p), text);
}

static const struct cfg_key dnstap_keys[] = {
	CFG_KEY("socket", cfg_parse_dnstap_socket, true),
	CFG_BOOL("queries", struct config_dnstap, queries, true),
	CFG_BOOL("responses", struct config_dnstap, responses, true),
};

static void cfg_parse_dnstap(struct cfg_doc *c, const struct cfg_pair *p,
			     void *obj)
{
	struct config *cfg = obj;
	cfg->dnstap.line = cfg_pair_line(p);
	if (cfg_expect(c, p, YAML_MAPPING_NODE))
		cfg_map_walk(c, p->value, "'dnstap'", dnstap_keys,
			     CFG_COUNT(dnstap_keys), &cfg->dnstap);
}

/* ---- fleet --------------------------------------------------------------- */

// HOST of http://HOST:PORT: a name, an IPv4 address, or [IPv6].
static bool cfg_etcd_host(const char *h, size_t n, bool bracketed)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = h[i];
		if (!isalnum((unsigned char)ch) && ch != '.' && ch != '-' &&
		    !(bracketed && ch == ':'))
			return false;
	}
	return true;
}

// "http://HOST:PORT" (a trailing / allowed) into e; false when not.
static bool cfg_etcd_url(const char *text, struct config_etcd *e,
			 struct cfg_doc *c, unsigned line)
{
	if (strncmp(text, "http://", 7) != 0)
		return false;
	const char *h = text + 7, *colon;
	bool br = *h == '[';
	if (br) {
		const char *close = strchr(h, ']');
		if (close == NULL || close[1] != ':')
			return false;
		colon = close + 1;
		h++;
	} else {
		colon = strchr(h, ':');
		if (colon == NULL)
			return false;
	}
	size_t hn = (size_t)(colon - h) - (br ? 1 : 0);
	unsigned long port;
	char digits[8];
	size_t pn = strcspn(colon + 1, "/");
	const char *rest = colon + 1 + pn; // nothing, or one "/"
	if (!cfg_etcd_host(h, hn, br) || pn == 0 || pn >= sizeof(digits) ||
	    (*rest != '\0' && strcmp(rest, "/") != 0))
		return false;
	memcpy(digits, colon + 1, pn);
	digits[pn] = '\0';
	if (!cfg_whole_number(digits, 1, 65535, &port))
		return false;
	e->host = cfg_calloc(c, line, hn + 1, 1);
	if (e->host != NULL)
		memcpy(e->host, h, hn);
	e->url = cfg_strdup(c, line, text);
	e->port = (uint16_t)port;
	return true;
}

static void cfg_fleet_etcd_add(struct cfg_doc *c, const yaml_node_t *item,
			       void *obj)
{
	struct config_fleet *f = obj;
	const char *text = cfg_item_scalar(c, "fleet.etcd", item);
	if (text == NULL)
		return;
	struct config_etcd *e = &f->etcd[f->etcd_count++];
	e->line = cfg_line(item);
	if (!cfg_etcd_url(text, e, c, e->line))
		diag_error(c->d, c->file, e->line,
			   "fleet.etcd: '%s' is not http://HOST:PORT (an "
			   "etcd client URL such as http://127.0.0.1:2379; "
			   "https is not supported)",
			   text);
}

static void cfg_parse_fleet_etcd(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	struct config_fleet *f = obj;
	if (p->value->type == YAML_SEQUENCE_NODE &&
	    (p->value->data.sequence.items.top ==
		     p->value->data.sequence.items.start ||
	     p->value->data.sequence.items.top -
			     p->value->data.sequence.items.start >
		     CONFIG_FLEET_URLS_MAX)) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "fleet.etcd must list 1 to %d URLs",
			   CONFIG_FLEET_URLS_MAX);
		return;
	}
	cfg_list(c, p, (void **)&f->etcd, sizeof(*f->etcd), cfg_fleet_etcd_add,
		 f);
}

static void cfg_parse_fleet_prefix(struct cfg_doc *c, const struct cfg_pair *p,
				   void *obj)
{
	struct config_fleet *f = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	size_t n = strlen(text);
	bool ok = n >= 2 && n <= 128 && text[0] == '/' && text[n - 1] != '/' &&
		  strstr(text, "//") == NULL;
	for (size_t i = 0; ok && i < n; i++)
		ok = isalnum((unsigned char)text[i]) ||
		     strchr("/._-", text[i]) != NULL;
	if (!ok) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "fleet.prefix: '%s' must be 2 to 128 characters of "
			   "letters, digits, '/', '.', '_' and '-', starting "
			   "with '/' and not ending with one (e.g. "
			   "/geovip/PROD)",
			   text);
		return;
	}
	f->prefix = cfg_strdup(c, cfg_pair_line(p), text);
}

static const struct cfg_key fleet_keys[] = {
	CFG_KEY("etcd", cfg_parse_fleet_etcd, true),
	CFG_KEY("prefix", cfg_parse_fleet_prefix, true),
};

static void cfg_parse_fleet(struct cfg_doc *c, const struct cfg_pair *p,
			    void *obj)
{
	struct config *cfg = obj;
	if (!cfg_expect(c, p, YAML_MAPPING_NODE))
		return;
	cfg->fleet.line = cfg_pair_line(p);
	cfg_map_walk(c, p->value, "'fleet'", fleet_keys, CFG_COUNT(fleet_keys),
		     &cfg->fleet);
}

static void cfg_fleet_free(struct config_fleet *f)
{
	for (size_t i = 0; i < f->etcd_count; i++) {
		free(f->etcd[i].url);
		free(f->etcd[i].host);
	}
	free(f->etcd);
	free(f->prefix);
}

/* ---- the top level ------------------------------------------------------- */

/* ---- operations keys: nsid, identity, version, log, log_level,
 * pidfile. Self-contained: parse functions, defaults (cfg_ops_defaults)
 * and their rows in top_keys; the fields are grouped in struct config. */

static bool cfg_ops_hostname(char *out, size_t len)
{
	if (gethostname(out, len) < 0)
		return false;
	out[len - 1] = '\0';
	return out[0] != '\0';
}

static void cfg_parse_nsid(struct cfg_doc *c, const struct cfg_pair *p,
			   void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	bool on;
	char host[256];
	if (text == NULL)
		return;
	cfg->nsid_len = 0;
	if (cfg_bool_parse(text, &on)) {
		if (!on)
			return;
		if (!cfg_ops_hostname(host, sizeof(host))) {
			diag_error(c->d, c->file, cfg_pair_line(p),
				   "nsid: true needs the hostname, and "
				   "gethostname failed; set a text instead");
			return;
		}
		text = host;
	} else if (strncmp(text, "hex:", 4) == 0) {
		if (!cfg_hex_decode(text + 4, cfg->nsid, CONFIG_NSID_MAX,
				    &cfg->nsid_len))
			diag_error(c->d, c->file, cfg_pair_line(p),
				   "nsid: '%s' must be hex: and 2 to %u hex "
				   "digits, an even number",
				   text, 2 * CONFIG_NSID_MAX);
		return;
	}
	size_t len = strlen(text);
	if (len == 0 || len > CONFIG_NSID_MAX) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "nsid: must be 1 to %u bytes, not %zu",
			   CONFIG_NSID_MAX, len);
		return;
	}
	memcpy(cfg->nsid, text, len);
	cfg->nsid_len = len;
}

// identity and version: false hides, true keeps the default, else text.
static void cfg_ops_txt(struct cfg_doc *c, const struct cfg_pair *p,
			char **field)
{
	const char *text = cfg_scalar(c, p);
	bool on;
	if (text == NULL)
		return;
	if (cfg_bool_parse(text, &on)) {
		if (!on) {
			free(*field);
			*field = NULL;
		}
		return;
	}
	size_t len = strlen(text);
	if (len == 0 || len > CONFIG_TXT_MAX) {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "%s: must be 1 to %u characters, or false to hide "
			   "it, not %zu characters",
			   p->key, CONFIG_TXT_MAX, len);
		return;
	}
	free(*field);
	*field = cfg_strdup(c, cfg_pair_line(p), text);
}

static void cfg_parse_identity(struct cfg_doc *c, const struct cfg_pair *p,
			       void *obj)
{
	cfg_ops_txt(c, p, &((struct config *)obj)->identity);
}

static void cfg_parse_version(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	cfg_ops_txt(c, p, &((struct config *)obj)->version);
}

static void cfg_parse_log(struct cfg_doc *c, const struct cfg_pair *p,
			  void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (strcmp(text, "stderr") == 0)
		cfg->log_target = LOG_TARGET_STDERR;
	else if (strcmp(text, "syslog") == 0)
		cfg->log_target = LOG_TARGET_SYSLOG;
	else
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "log: '%s' is not stderr or syslog", text);
}

static void cfg_parse_log_level(struct cfg_doc *c, const struct cfg_pair *p,
				void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	int level = log_level_from_name(text);
	if (level < 0)
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "log_level: '%s' is not one of error, warning, "
			   "notice, info, debug",
			   text);
	else
		cfg->log_level = level;
}

static void cfg_parse_pidfile(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (text[0] == '\0') {
		diag_error(c->d, c->file, cfg_pair_line(p),
			   "pidfile: empty path");
		return;
	}
	cfg->pidfile = cfg_path_resolve(c, cfg_pair_line(p), text);
	cfg->pidfile_line = cfg_pair_line(p);
}

// `control:` and `state_file:`: a non-empty path, resolved.
static void cfg_parse_ctl_path(struct cfg_doc *c, const struct cfg_pair *p,
			       const char *key, char **path, unsigned *line)
{
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (text[0] == '\0') {
		diag_error(c->d, c->file, cfg_pair_line(p), "%s: empty path",
			   key);
		return;
	}
	*path = cfg_path_resolve(c, cfg_pair_line(p), text);
	*line = cfg_pair_line(p);
}

static void cfg_parse_control(struct cfg_doc *c, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	cfg_parse_ctl_path(c, p, "control", &cfg->control, &cfg->control_line);
	// a Unix socket path has room for 107 bytes (sun_path)
	if (cfg->control != NULL && strlen(cfg->control) > 100)
		diag_error(c->d, c->file, cfg->control_line,
			   "control: path '%s' is longer than 100 bytes (the "
			   "limit of a Unix socket name)",
			   cfg->control);
}

static void cfg_parse_state_file(struct cfg_doc *c, const struct cfg_pair *p,
				 void *obj)
{
	struct config *cfg = obj;
	cfg_parse_ctl_path(c, p, "state_file", &cfg->state_file,
			   &cfg->state_file_line);
}

// `health.hold_down`: "0", or a duration up to a day.
static void cfg_parse_hold_down(struct cfg_doc *c, const struct cfg_pair *p,
				void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	uint32_t secs = 0;
	if ((strcmp(text, "0") == 0 || strcmp(text, "0s") == 0 ||
	     cfg_duration(text, &secs)) &&
	    secs <= CONFIG_HOLD_DOWN_MAX) {
		cfg->health_hold_down = secs;
		return;
	}
	diag_error(c->d, c->file, cfg_pair_line(p),
		   "health.hold_down '%s' must be a duration such as 0, 30s, "
		   "5m or 1h, at most 1d",
		   text);
}

static const struct cfg_key health_keys[] = {
	CFG_KEY("hold_down", cfg_parse_hold_down, false),
	CFG_UINT("reports", struct config, health_reports, 0,
		 CONFIG_REPORTS_MAX, 0),
};

static void cfg_parse_health(struct cfg_doc *c, const struct cfg_pair *p,
			     void *obj)
{
	struct config *cfg = obj;
	cfg->health_line = cfg_pair_line(p);
	if (!cfg_is_null(p->value) && cfg_expect(c, p, YAML_MAPPING_NODE))
		cfg_map_walk(c, p->value, "'health'", health_keys,
			     CFG_COUNT(health_keys), cfg);
}

/* The defaults that are not whole numbers; -1 when out of memory. */
static int cfg_ops_defaults(struct config *cfg)
{
	char host[256];
	if (cfg_ops_hostname(host, sizeof(host)) &&
	    (cfg->identity = strdup(host)) == NULL)
		return -1;
	cfg->version = strdup("geovip " PACKAGE_VERSION);
	cfg->log_target = LOG_TARGET_STDERR;
	cfg->log_level = LOG_LEVEL_INFO;
	return cfg->version == NULL ? -1 : 0;
}

static void cfg_ops_free(struct config *cfg)
{
	free(cfg->identity);
	free(cfg->version);
	free(cfg->pidfile);
	free(cfg->control);
	free(cfg->state_file);
	free(cfg->dnstap.socket);
}

#define CFG_OPS_KEYS                                                \
	CFG_KEY("nsid", cfg_parse_nsid, false),                     \
		CFG_KEY("identity", cfg_parse_identity, false),     \
		CFG_KEY("version", cfg_parse_version, false),       \
		CFG_KEY("log", cfg_parse_log, false),               \
		CFG_KEY("log_level", cfg_parse_log_level, false),   \
		CFG_KEY("pidfile", cfg_parse_pidfile, false),       \
		CFG_KEY("control", cfg_parse_control, false),       \
		CFG_KEY("state_file", cfg_parse_state_file, false), \
		CFG_KEY("health", cfg_parse_health, false)
/* ---- end of the operations keys ---- */

static const struct cfg_key top_keys[] = {
	CFG_KEY("listen", cfg_parse_listen, true),
	CFG_KEY("geoip", cfg_parse_geoip, true),
	CFG_BOOL("ecs", struct config, ecs, true),
	CFG_UINT("workers", struct config, workers, 1, 1024, 0),
	CFG_KEY("regions", cfg_parse_regions, true),
	CFG_KEY("default_region", cfg_parse_default_region, true),
	CFG_KEY("services", cfg_parse_services, false),
	CFG_KEY("overrides", cfg_parse_overrides, false),
	CFG_KEY("shed", cfg_parse_shed, false),
	CFG_KEY("shed_key", cfg_parse_shed_key, false),
	CFG_KEY("cookie_secret", cfg_parse_cookie_secret, false),
	CFG_KEY("cookie_secret_previous", cfg_parse_cookie_secret_previous,
		false),
	CFG_UINT("tcp_idle_timeout", struct config, tcp_idle_timeout, 1, 86400,
		 10),
	CFG_UINT("tcp_max_connections", struct config, tcp_max_connections, 1,
		 1000000, 1000),
	CFG_KEY("rrl", cfg_parse_rrl, false),
	CFG_KEY("user", cfg_parse_user, false),
	CFG_KEY("keys", cfg_parse_keys, false),
	CFG_KEY("zones", cfg_parse_zones, true),
	CFG_OPS_KEYS,
	CFG_KEY("metrics", cfg_parse_metrics, false),
	CFG_KEY("dnstap", cfg_parse_dnstap, false),
	CFG_KEY("fleet", cfg_parse_fleet, false),
};
_Static_assert(CFG_COUNT(top_keys) <= CFG_KEYS_MAX,
	       "cfg_map_walk's found[] is too small for top_keys");

/* Clients shed into a region that sheds everything land in a drained
 * region (a shed is applied once, not followed). */
static void cfg_shed_drained(struct cfg_doc *c, const struct config *cfg)
{
	for (size_t i = 0; i < cfg->region_count; i++) {
		const struct config_region *r = &cfg->regions[i];
		if (r->shed_to == REGION_NONE || r->shed_bp == 0)
			continue;
		const struct config_region *to = &cfg->regions[r->shed_to];
		if (to->shed_to != REGION_NONE && to->shed_bp == 10000)
			diag_warn(c->d, c->file, r->shed_line,
				  "region '%s' sheds to region '%s', which "
				  "itself sheds 100%% to '%s': clients shed "
				  "from '%s' land in a drained region",
				  r->name, to->name,
				  cfg->regions[to->shed_to].name, r->name);
	}
}

/* The first regional name written in the list form (which answers with
 * the regions' own VIPs), or NULL. */
static const struct config_regional_name *cfg_first_list_name(
	const struct config *cfg, const struct config_zone **zone)
{
	for (size_t i = 0; i < cfg->zone_count; i++)
		for (size_t j = 0; j < cfg->zones[i].regional_count; j++)
			if (cfg->zones[i].regional[j].service ==
			    CONFIG_SERVICE_REGIONS) {
				*zone = &cfg->zones[i];
				return &cfg->zones[i].regional[j];
			}
	return NULL;
}

/* Every region needs VIPs of its own when a regional name uses them. */
static void cfg_regions_vips_needed(struct cfg_doc *c, const struct config *cfg)
{
	const struct config_zone *z = NULL;
	const struct config_regional_name *n = cfg_first_list_name(cfg, &z);
	if (n == NULL)
		return;
	for (size_t i = 0; i < cfg->region_count; i++) {
		const struct config_region *r = &cfg->regions[i];
		if (r->v4_count + r->v6_count == 0)
			diag_error(c->d, c->file, r->line,
				   "region '%s' has no VIPs: list one or more "
				   "IPv4 or IPv6 addresses under 'vips' (the "
				   "regional names of zone %s, line %u, use "
				   "the regions' own VIPs), or map those "
				   "names to a service",
				   r->name, z->origin_text, n->line);
	}
}

/* A service no zone names is worth a warning: likely a typo. */
static void cfg_services_unused(struct cfg_doc *c, const struct config *cfg)
{
	if (cfg->service_count == 0)
		return;
	bool *used = calloc(cfg->service_count, sizeof(*used));
	if (used == NULL)
		return; // a warning only: nothing to refuse
	for (size_t i = 0; i < cfg->zone_count; i++)
		for (size_t j = 0; j < cfg->zones[i].regional_count; j++) {
			unsigned s = cfg->zones[i].regional[j].service;
			if (s != CONFIG_SERVICE_REGIONS)
				used[s - 1] = true;
		}
	for (size_t i = 0; i < cfg->service_count; i++)
		if (!used[i] && cfg->services[i].name != NULL)
			diag_warn(c->d, c->file, cfg->services[i].line,
				  "service '%s' is not named by any zone's "
				  "'regional'",
				  cfg->services[i].name);
	free(used);
}

static void cfg_parse_root(struct cfg_doc *c)
{
	yaml_node_t *root = yaml_document_get_root_node(&c->doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		diag_error(
			c->d, c->file, root ? cfg_line(root) : 1,
			"the configuration must be a mapping of keys such "
			"as listen, geoip, regions, default_region and zones");
		return;
	}
	cfg_map_walk(c, root, "the configuration", top_keys,
		     CFG_COUNT(top_keys), cfg_of(c));
	cfg_shed_drained(c, cfg_of(c));
	cfg_regions_vips_needed(c, cfg_of(c));
	cfg_services_unused(c, cfg_of(c));
}

/* An empty config for the file called name; NULL after reporting. */
static struct config *cfg_new(const char *name, struct diag *d)
{
	struct config *cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL)
		goto nomem;
	cfg->path = strdup(name);
	const char *slash = strrchr(name, '/');
	if (slash == NULL)
		cfg->dir = strdup(".");
	else if (slash == name)
		cfg->dir = strdup("/");
	else
		cfg->dir = strndup(name, (size_t)(slash - name));
	if (cfg->path == NULL || cfg->dir == NULL)
		goto nomem;
	cfg_defaults(top_keys, CFG_COUNT(top_keys), cfg);
	cfg_defaults(rrl_keys, CFG_COUNT(rrl_keys), &cfg->rrl);
	cfg_defaults(dnstap_keys, CFG_COUNT(dnstap_keys), &cfg->dnstap);
	cfg->default_region = REGION_NONE;
	if (cfg_ops_defaults(cfg) < 0)
		goto nomem;
	return cfg;
nomem:
	config_free(cfg);
	diag_error(d, name, 0, "out of memory");
	return NULL;
}

struct config *config_load_text(const char *text, size_t len, const char *name,
				struct diag *d)
{
	unsigned errors_before = diag_errors(d);
	struct cfg_ctx ctx = {.cfg = NULL};
	struct cfg_doc c = {.file = name, .d = d, .app = &ctx};

	if (cfg_doc_load(&c, text, len) < 0)
		return NULL;
	ctx.cfg = cfg_new(name, d);
	if (ctx.cfg != NULL) {
		for (size_t i = 0; i < CONTINENT_COUNT; i++)
			ctx.continent_owner[i] = -1;
		cfg_parse_root(&c);
	}
	cfg_doc_free(&c);
	free(ctx.region_order);
	free(ctx.service_order);
	if (diag_errors(d) != errors_before) {
		config_free(ctx.cfg);
		return NULL;
	}
	return ctx.cfg;
}

struct config *config_load(const char *path, struct diag *d)
{
	char *text;
	size_t len;
	int rc = file_read(path, CFG_MAX_BYTES, &text, &len);
	if (rc < 0) {
		if (rc == -FILE_ERR_TOO_LARGE)
			diag_error(d, path, 0, "larger than %u MiB: refused",
				   CFG_MAX_BYTES / (1024 * 1024));
		else
			diag_error(d, path, 0, "cannot read: %s",
				   file_strerror(rc));
		return NULL;
	}
	struct config *cfg = config_load_text(text, len, path, d);
	free(text);
	return cfg;
}

/* ---- checks against this machine ------------------------------------------ */

/* Effective IDs (and groups) of pw, as far as file access goes; -1 after
 * putting back what was changed. Only root can do this. */
static int cfg_become(const struct passwd *pw)
{
	if (initgroups(pw->pw_name, pw->pw_gid) < 0)
		return -1;
	if (setegid(pw->pw_gid) < 0 || seteuid(pw->pw_uid) < 0) {
		(void)setegid(0);
		(void)setgroups(0, NULL);
		return -1;
	}
	return 0;
}

/* Back to root: IDs first (seteuid(0) is what allows the rest). */
static int cfg_unbecome(void)
{
	if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(0, NULL) < 0)
		return -1;
	return 0;
}

/* Warns when the user cannot open path (a reload, which runs as that
 * user, would fail); other failures are the loaders' to report. */
static void cfg_readable_as(const struct config *cfg, const char *user,
			    const char *path, unsigned line, struct diag *d)
{
	int fd = file_open_regular(path);
	if (fd >= 0) {
		close(fd);
		return;
	}
	if (fd == -EACCES)
		diag_warn(d, cfg->path, line,
			  "user '%s' cannot read %s: %s "
			  "(a reload runs as that user and would fail)",
			  user, path, file_strerror(fd));
}

/* Opens every file a reload reads, as pw. Only --check and start-up,
 * single-threaded and as root, get here. */
static int cfg_check_files_as(const struct config *cfg, const struct passwd *pw,
			      struct diag *d)
{
	// getpwnam's static result is overwritten by initgroups
	char user[256];
	snprintf(user, sizeof(user), "%s", pw->pw_name);
	if (cfg_become(pw) < 0)
		return 0; // cannot tell; the drop itself will say why
	cfg_readable_as(cfg, user, cfg->path, 0, d);
	if (cfg->geoip != NULL)
		cfg_readable_as(cfg, user, cfg->geoip, cfg->geoip_line, d);
	for (size_t i = 0; i < cfg->zone_count; i++)
		if (cfg->zones[i].file != NULL)
			cfg_readable_as(cfg, user, cfg->zones[i].file,
					cfg->zones[i].line, d);
	if (cfg_unbecome() < 0) {
		diag_error(d, cfg->path, cfg->user_line,
			   "cannot return to root "
			   "after checking files as user '%s'",
			   user);
		return -1;
	}
	return 0;
}

int config_check_system(const struct config *cfg, struct diag *d)
{
	if (cfg->user == NULL)
		return 0;
	errno = 0;
	const struct passwd *pw = getpwnam(cfg->user);
	if (pw == NULL) {
		diag_error(d, cfg->path, cfg->user_line,
			   "user '%s' does not exist on this system",
			   cfg->user);
		return -1;
	}
	if (pw->pw_uid == 0) {
		diag_error(d, cfg->path, cfg->user_line,
			   "user '%s' has uid 0: dropping to it keeps every "
			   "privilege; name an unprivileged user",
			   cfg->user);
		return -1;
	}
	if (geteuid() == 0)
		return cfg_check_files_as(cfg, pw, d);
	return 0;
}

/* ---- freeing ------------------------------------------------------------------ */

static void cfg_zone_free(struct config_zone *z)
{
	free(z->origin_text);
	free(z->file);
	for (size_t i = 0; i < z->regional_count; i++)
		free(z->regional[i].text);
	free(z->regional);
	for (size_t i = 0; i < z->dnssec.key_count; i++)
		free(z->dnssec.keys[i]);
	free(z->dnssec.keys);
	free(z->primaries);
}

void config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->path);
	free(cfg->dir);
	free(cfg->listen);
	free(cfg->geoip);
	for (size_t i = 0; i < cfg->region_count; i++) {
		free(cfg->regions[i].name);
		free(cfg->regions[i].v4);
		free(cfg->regions[i].v6);
		free(cfg->regions[i].fallback);
	}
	free(cfg->regions);
	for (size_t i = 0; i < cfg->service_count; i++) {
		struct config_service *svc = &cfg->services[i];
		for (size_t r = 0; svc->in != NULL && r < cfg->region_count;
		     r++) {
			free(svc->in[r].v4);
			free(svc->in[r].v6);
		}
		free(svc->in);
		free(svc->name);
	}
	free(cfg->services);
	free(cfg->network_overrides);
	free(cfg->country_overrides);
	free(cfg->rrl.exempt);
	free(cfg->user);
	cfg_ops_free(cfg);
	cfg_fleet_free(&cfg->fleet);
	for (size_t i = 0; i < cfg->zone_count; i++)
		cfg_zone_free(&cfg->zones[i]);
	free(cfg->zones);
	for (size_t i = 0; i < cfg->key_count; i++) {
		free(cfg->keys[i].name);
		free(cfg->keys[i].secret);
	}
	free(cfg->keys);
	free(cfg);
}

int config_region_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->region_count; i++)
		if (strcmp(cfg->regions[i].name, name) == 0)
			return (int)i;
	return REGION_NONE;
}

void config_vips(const struct config *cfg, unsigned service, int region,
		 struct config_vipset *out)
{
	if (service == CONFIG_SERVICE_REGIONS) {
		const struct config_region *r = &cfg->regions[region];
		*out = (struct config_vipset){r->v4, r->v4_count, r->v6,
					      r->v6_count};
		return;
	}
	const struct config_service_vips *v =
		&cfg->services[service - 1].in[region];
	*out = (struct config_vipset){v->v4, v->v4_count, v->v6, v->v6_count};
}

const char *config_service_name(const struct config *cfg, unsigned service)
{
	return service == CONFIG_SERVICE_REGIONS
		       ? "(regions)"
		       : cfg->services[service - 1].name;
}

int config_service_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->service_count; i++)
		if (cfg->services[i].name != NULL &&
		    strcmp(cfg->services[i].name, name) == 0)
			return (int)i + 1;
	return -1;
}
