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
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "country.h"
#include "diag.h"
#include "log.h"

// Far beyond any sane configuration; stops a runaway file eating memory.
#define CONFIG_MAX_BYTES (64u * 1024 * 1024)

/* Everything a parse function needs to report and to store. */
struct cfg_ctx {
	const char *file;               /* the config path, for messages */
	struct diag *d;
	yaml_document_t *doc;
	struct config *cfg;
	int continent_owner[CONTINENT_COUNT];   /* region index or -1 */
};

struct cfg_key;

/* One key of a mapping: its name node, its value node, its schema. */
struct cfg_pair {
	const char *key;
	yaml_node_t *knode;
	yaml_node_t *value;
	const struct cfg_key *schema;
};

typedef void cfg_parse_fn(struct cfg_ctx *ctx, const struct cfg_pair *p,
			  void *obj);

/* The schema of one key. Parse functions run in table order, so a key
 * that refers to another (default_region → regions) comes after it. */
struct cfg_key {
	const char *name;
	cfg_parse_fn *parse;
	bool required;
	/* whole numbers (cfg_parse_uint): the field in obj and its range */
	size_t offset;
	size_t width;
	unsigned long min, max;
};

/* A key with its own parse function. */
#define CFG_KEY(key, fn, req) { .name = key, .parse = fn, .required = req }

/* A key holding a whole number in [lo, hi], stored in obj's field. */
#define CFG_UINT(key, type, field, lo, hi) \
	{ .name = key, .parse = cfg_parse_uint, \
	  .offset = offsetof(type, field), \
	  .width = sizeof(((type *)0)->field), .min = lo, .max = hi }

#define CFG_KEYS_MAX 24

static const char *const continent_codes[CONTINENT_COUNT] = {
	"AF", "AN", "AS", "EU", "NA", "OC", "SA"
};

/* ---- small helpers ---------------------------------------------------- */

static unsigned cfg_line(const yaml_node_t *node)
{
	return node == NULL ? 1 : (unsigned)node->start_mark.line + 1;
}

static bool cfg_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)node->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

/* An empty value's mark can sit on the next line; its key's never does. */
static unsigned cfg_pair_line(const struct cfg_pair *p)
{
	return cfg_is_null(p->value) ? cfg_line(p->knode) : cfg_line(p->value);
}

static const char *cfg_type_name(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return cfg_is_null(node) ? "empty" : "a single value";
	}
}

static yaml_node_t *cfg_node(struct cfg_ctx *ctx, int index)
{
	return yaml_document_get_node(ctx->doc, index);
}

static size_t cfg_seq_len(const yaml_node_t *node)
{
	return (size_t)(node->data.sequence.items.top -
			node->data.sequence.items.start);
}

static size_t cfg_map_len(const yaml_node_t *node)
{
	return (size_t)(node->data.mapping.pairs.top -
			node->data.mapping.pairs.start);
}

static const char *cfg_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

/* The scalar text of a value, or NULL after reporting a wrong type. */
static const char *cfg_scalar(struct cfg_ctx *ctx, const struct cfg_pair *p)
{
	if (p->value->type == YAML_SCALAR_NODE && !cfg_is_null(p->value))
		return cfg_text(p->value);
	diag_error(ctx->d, ctx->file, cfg_pair_line(p),
		   "'%s' must be a single value, not %s", p->key,
		   cfg_type_name(p->value));
	return NULL;
}

/* Checks a value's node type; NULL values of optional sections count as
 * empty, so "overrides:" with nothing under it is accepted. */
static bool cfg_expect(struct cfg_ctx *ctx, const struct cfg_pair *p,
		       yaml_node_type_t type)
{
	if (p->value->type == type)
		return true;
	const char *want = type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
	diag_error(ctx->d, ctx->file, cfg_pair_line(p), "'%s' must be %s, not %s",
		   p->key, want, cfg_type_name(p->value));
	return false;
}

/* A scalar element of a list, or NULL after reporting its type. */
static const char *cfg_item_scalar(struct cfg_ctx *ctx, const char *what,
				   const yaml_node_t *item)
{
	if (item->type == YAML_SCALAR_NODE && !cfg_is_null(item))
		return cfg_text(item);
	diag_error(ctx->d, ctx->file, cfg_line(item),
		   "each entry of '%s' must be a single value, not %s", what,
		   cfg_type_name(item));
	return NULL;
}

static char *cfg_strdup(const char *s)
{
	char *c = strdup(s);
	if (c == NULL)
		abort(); // loading is not worth continuing without memory
	return c;
}

static void *cfg_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		abort();
	return p;
}

/* Parses digits only (no sign, no spaces, no decimals) within [min, max]. */
static bool cfg_whole_number(const char *text, unsigned long min,
			     unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	if (*text == '\0')
		return false;
	for (const char *s = text; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = v;
	return true;
}

static bool cfg_uint(struct cfg_ctx *ctx, const struct cfg_pair *p,
		     unsigned long min, unsigned long max, unsigned long *out)
{
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return false;
	if (cfg_whole_number(text, min, max, out))
		return true;
	diag_error(ctx->d, ctx->file, cfg_pair_line(p),
		   "'%s' must be a whole number from %lu to %lu, not '%s'",
		   p->key, min, max, text);
	return false;
}

/* The schema's whole number, range-checked, into its field of obj. */
static void cfg_parse_uint(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	const struct cfg_key *k = p->schema;
	unsigned long v;
	if (!cfg_uint(ctx, p, k->min, k->max, &v))
		return;
	uint8_t *field = (uint8_t *)obj + k->offset;
	if (k->width == sizeof(uint8_t)) {
		*field = (uint8_t)v;
	} else {
		uint32_t v32 = (uint32_t)v; // unsigned and uint32_t fields
		memcpy(field, &v32, sizeof(v32));
	}
}

/* "a, b, c" of the region names, for "unknown region" messages. */
static void cfg_region_list(const struct config *cfg, char *out, size_t len)
{
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < cfg->region_count && used < len; i++) {
		int n = snprintf(out + used, len - used, "%s%s",
				 i ? ", " : "", cfg->regions[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

/* The index of the region a scalar names, or REGION_NONE after an error. */
static int cfg_region_ref(struct cfg_ctx *ctx, const char *what,
			  const char *name, unsigned line)
{
	int r = config_region_index(ctx->cfg, name);
	// with no regions at all, that is the error already reported
	if (r != REGION_NONE || ctx->cfg->region_count == 0)
		return r;
	char list[512];
	cfg_region_list(ctx->cfg, list, sizeof(list));
	diag_error(ctx->d, ctx->file, line,
		   "unknown region '%s' in %s (regions: %s)", name, what,
		   list[0] ? list : "none defined");
	return REGION_NONE;
}

/* ---- the mapping walker ----------------------------------------------- */

static void cfg_unknown_key(struct cfg_ctx *ctx, const char *where,
			    const yaml_node_t *knode, const struct cfg_key *keys,
			    size_t nkeys)
{
	char valid[512];
	size_t used = 0;
	valid[0] = '\0';
	for (size_t i = 0; i < nkeys && used < sizeof(valid); i++) {
		int n = snprintf(valid + used, sizeof(valid) - used, "%s%s",
				 i ? ", " : "", keys[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	diag_error(ctx->d, ctx->file, cfg_line(knode),
		   "unknown key '%s' in %s (valid keys: %s)",
		   cfg_text(knode), where, valid);
}

/* Index of key in the schema, or -1. */
static int cfg_key_find(const struct cfg_key *keys, size_t nkeys,
			const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Sorts the pairs of map into found[] by schema position, reporting
 * non-scalar, unknown and repeated keys. */
static void cfg_map_collect(struct cfg_ctx *ctx, const yaml_node_t *map,
			    const char *where, const struct cfg_key *keys,
			    size_t nkeys, struct cfg_pair *found)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node(ctx, pair->key);
		yaml_node_t *v = cfg_node(ctx, pair->value);
		if (k->type != YAML_SCALAR_NODE) {
			diag_error(ctx->d, ctx->file, cfg_line(k),
				   "a key in %s must be a single value, not %s",
				   where, cfg_type_name(k));
			continue;
		}
		int i = cfg_key_find(keys, nkeys, cfg_text(k));
		if (i < 0) {
			cfg_unknown_key(ctx, where, k, keys, nkeys);
			continue;
		}
		if (found[i].knode != NULL) {
			diag_error(ctx->d, ctx->file, cfg_line(k),
				   "key '%s' appears twice in %s (first at line %u)",
				   keys[i].name, where, cfg_line(found[i].knode));
			continue;
		}
		found[i] = (struct cfg_pair){ keys[i].name, k, v, NULL };
	}
}

/* Where a missing key is reported: the top of the file for top-level
 * keys (the root's first key may sit below comments), else the mapping. */
static unsigned cfg_missing_line(struct cfg_ctx *ctx, const yaml_node_t *map)
{
	return map == yaml_document_get_root_node(ctx->doc) ? 1 : cfg_line(map);
}

/* Checks map against the schema and runs each present key's parser, in
 * schema order, with obj. Missing required keys point at map's line.
 * Returns a bit per schema key present. */
static unsigned cfg_map_walk(struct cfg_ctx *ctx, const yaml_node_t *map,
			 const char *where, const struct cfg_key *keys,
			 size_t nkeys, void *obj)
{
	struct cfg_pair found[CFG_KEYS_MAX];
	unsigned present = 0;
	memset(found, 0, sizeof(found));
	cfg_map_collect(ctx, map, where, keys, nkeys, found);
	for (size_t i = 0; i < nkeys; i++) {
		if (found[i].knode != NULL) {
			present |= 1u << i;
			found[i].schema = &keys[i];
			keys[i].parse(ctx, &found[i], obj);
		} else if (keys[i].required)
			diag_error(ctx->d, ctx->file, cfg_missing_line(ctx, map),
				   "missing required key '%s' in %s",
				   keys[i].name, where);
	}
	return present;
}

/* Names first key twice in a free-form mapping (regions, overrides...). */
static bool cfg_map_repeats(struct cfg_ctx *ctx, const yaml_node_t *map,
			    const yaml_node_pair_t *pair, const char *where)
{
	const char *name = cfg_text(cfg_node(ctx, pair->key));
	for (yaml_node_pair_t *q = map->data.mapping.pairs.start; q < pair; q++) {
		yaml_node_t *k = cfg_node(ctx, q->key);
		if (k->type == YAML_SCALAR_NODE &&
		    strcmp(cfg_text(k), name) == 0) {
			diag_error(ctx->d, ctx->file,
				   cfg_line(cfg_node(ctx, pair->key)),
				   "'%s' appears twice in %s (first at line %u)",
				   name, where, cfg_line(k));
			return true;
		}
	}
	return false;
}

/* The scalar key of a free-form mapping pair, or NULL after an error. */
static const char *cfg_pair_key(struct cfg_ctx *ctx, const yaml_node_t *map,
				const yaml_node_pair_t *pair, const char *where)
{
	yaml_node_t *k = cfg_node(ctx, pair->key);
	if (k->type != YAML_SCALAR_NODE || cfg_is_null(k)) {
		diag_error(ctx->d, ctx->file, cfg_line(k),
			   "a key in %s must be a single value, not %s", where,
			   cfg_type_name(k));
		return NULL;
	}
	if (cfg_map_repeats(ctx, map, pair, where))
		return NULL;
	return cfg_text(k);
}

/* ---- addresses ---------------------------------------------------------- */

static bool cfg_ip_parse(const char *text, struct ip_addr *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, out->bytes) == 1) {
		out->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, text, out->bytes) == 1) {
		out->family = AF_INET6;
		return true;
	}
	return false;
}

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

/* Adds one listen entry; reports malformed and repeated addresses. */
static void cfg_listen_add(struct cfg_ctx *ctx, const yaml_node_t *item)
{
	struct config *cfg = ctx->cfg;
	const char *text = cfg_item_scalar(ctx, "listen", item);
	if (text == NULL)
		return;
	struct config_listen *l = &cfg->listen[cfg->listen_count];
	const char *why = cfg_listen_parse(text, l);
	if (why != NULL) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "bad listen address '%s': %s", text, why);
		return;
	}
	for (size_t i = 0; i < cfg->listen_count; i++) {
		if (cfg_listen_same(&cfg->listen[i], l)) {
			diag_error(ctx->d, ctx->file, cfg_line(item),
				   "listen address '%s' is listed twice "
				   "(first at line %u)", text, cfg->listen[i].line);
			return;
		}
	}
	snprintf(l->text, sizeof(l->text), "%s", text);
	l->line = cfg_line(item);
	cfg->listen_count++;
}

/* ---- top-level scalars ------------------------------------------------- */

static void cfg_parse_listen(struct cfg_ctx *ctx, const struct cfg_pair *p,
			     void *obj)
{
	struct config *cfg = obj;
	if (!cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	size_t n = cfg_seq_len(p->value);
	if (n == 0) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "'listen' must list at least one ADDRESS:PORT");
		return;
	}
	cfg->listen = cfg_calloc(n, sizeof(*cfg->listen));
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_listen_add(ctx, cfg_node(ctx, *it));
}

/* A path as written, made absolute-or-relative-to-cwd via the config dir. */
static char *cfg_path_resolve(const struct config *cfg, const char *path)
{
	if (path[0] == '/' || strcmp(cfg->dir, ".") == 0)
		return cfg_strdup(path);
	size_t dlen = strlen(cfg->dir);
	size_t len = dlen + 1 + strlen(path) + 1;
	char *out = cfg_calloc(len, 1);
	snprintf(out, len, "%s%s%s", cfg->dir,
		 cfg->dir[dlen - 1] == '/' ? "" : "/", path);
	return out;
}

static void cfg_parse_geoip(struct cfg_ctx *ctx, const struct cfg_pair *p,
			    void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	cfg->geoip = cfg_path_resolve(cfg, text);
	cfg->geoip_line = cfg_pair_line(p);
}

static bool cfg_bool_parse(const char *text, bool *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return *out = true, true;
		if (strcasecmp(text, no[i]) == 0)
			return *out = false, true;
	}
	return false;
}

static void cfg_parse_ecs(struct cfg_ctx *ctx, const struct cfg_pair *p,
			  void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text != NULL && !cfg_bool_parse(text, &cfg->ecs))
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "'ecs' must be true or false, not '%s'", text);
}

static int cfg_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
}

static void cfg_parse_shed_key(struct cfg_ctx *ctx, const struct cfg_pair *p,
			       void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	bool ok = strlen(text) == 32;
	for (size_t i = 0; ok && i < 16; i++) {
		int hi = cfg_hex_digit(text[2 * i]);
		int lo = cfg_hex_digit(text[2 * i + 1]);
		ok = hi >= 0 && lo >= 0;
		if (ok)
			cfg->shed_key[i] = (uint8_t)(hi << 4 | lo);
	}
	if (!ok) {
		memset(cfg->shed_key, 0, sizeof(cfg->shed_key));
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "'shed_key' must be exactly 32 hex digits (16 bytes), "
			   "quoted, e.g. \"000102030405060708090a0b0c0d0e0f\"");
	}
}

/* ---- regions ------------------------------------------------------------- */

static void cfg_continent_add(struct cfg_ctx *ctx, int ri,
			      const yaml_node_t *item)
{
	struct config_region *r = &ctx->cfg->regions[ri];
	const char *text = cfg_item_scalar(ctx, "continents", item);
	if (text == NULL)
		return;
	enum continent c = continent_from_code(text);
	if (c == CONTINENT_UNKNOWN) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "unknown continent '%s' in region '%s' "
			   "(use AF, AN, AS, EU, NA, OC or SA)", text, r->name);
		return;
	}
	int owner = ctx->continent_owner[c];
	if (owner >= 0 && owner != ri) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "continent %s is in region '%s' and in region '%s': "
			   "a continent maps to one region", continent_code(c),
			   ctx->cfg->regions[owner].name, r->name);
		return;
	}
	ctx->continent_owner[c] = ri;
	r->continents |= (uint8_t)(1u << c);
}

static void cfg_parse_continents(struct cfg_ctx *ctx, const struct cfg_pair *p,
				 void *obj)
{
	struct config_region *r = obj;
	if (!cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	int ri = (int)(r - ctx->cfg->regions);
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_continent_add(ctx, ri, cfg_node(ctx, *it));
}

static bool cfg_vip_seen(const struct ip_addr *list, size_t n,
			 const struct ip_addr *a)
{
	for (size_t i = 0; i < n; i++)
		if (memcmp(list[i].bytes, a->bytes, sizeof(a->bytes)) == 0)
			return true;
	return false;
}

static void cfg_vip_add(struct cfg_ctx *ctx, struct config_region *r,
			const yaml_node_t *item)
{
	struct ip_addr a;
	const char *text = cfg_item_scalar(ctx, "vips", item);
	if (text == NULL)
		return;
	if (!cfg_ip_parse(text, &a)) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "VIP '%s' of region '%s' is not an IPv4 or IPv6 "
			   "address", text, r->name);
		return;
	}
	struct ip_addr *list = a.family == AF_INET ? r->v4 : r->v6;
	size_t *count = a.family == AF_INET ? &r->v4_count : &r->v6_count;
	if (cfg_vip_seen(list, *count, &a)) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "VIP '%s' is listed twice in region '%s'", text,
			   r->name);
		return;
	}
	list[(*count)++] = a;
}

static void cfg_region_no_vips(struct cfg_ctx *ctx,
			       const struct config_region *r)
{
	diag_error(ctx->d, ctx->file, r->line,
		   "region '%s' has no VIPs: list one or more IPv4 or IPv6 "
		   "addresses under 'vips'", r->name);
}

static void cfg_parse_vips(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	struct config_region *r = obj;
	if (!cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	size_t n = cfg_seq_len(p->value);
	if (n == 0) {
		cfg_region_no_vips(ctx, r);
		return;
	}
	r->v4 = cfg_calloc(n, sizeof(*r->v4));
	r->v6 = cfg_calloc(n, sizeof(*r->v6));
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_vip_add(ctx, r, cfg_node(ctx, *it));
}

static const struct cfg_key region_keys[] = {
	CFG_KEY("continents", cfg_parse_continents, false),
	CFG_KEY("vips", cfg_parse_vips, false),
};

/* Fills one region from its mapping; the name is already set. */
static void cfg_region_body(struct cfg_ctx *ctx, struct config_region *r,
			    const yaml_node_t *body)
{
	char where[300];
	snprintf(where, sizeof(where), "region '%s'", r->name);
	if (body->type != YAML_MAPPING_NODE) {
		diag_error(ctx->d, ctx->file, r->line,
			   "region '%s' must be a mapping with continents and "
			   "vips, not %s", r->name, cfg_type_name(body));
		return;
	}
	unsigned present = cfg_map_walk(ctx, body, where, region_keys,
					sizeof(region_keys) / sizeof(region_keys[0]), r);
	// a present but broken or empty vips list has said why already
	if (!(present & 2u))
		cfg_region_no_vips(ctx, r);
}

static void cfg_parse_regions(struct cfg_ctx *ctx, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	if (!cfg_expect(ctx, p, YAML_MAPPING_NODE))
		return;
	const yaml_node_t *map = p->value;
	if (cfg_map_len(map) == 0) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "'regions' must define at least one region");
		return;
	}
	cfg->regions = cfg_calloc(cfg_map_len(map), sizeof(*cfg->regions));
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const char *name = cfg_pair_key(ctx, map, pair, "'regions'");
		if (name == NULL)
			continue;
		struct config_region *r = &cfg->regions[cfg->region_count++];
		r->name = cfg_strdup(name);
		r->line = cfg_line(cfg_node(ctx, pair->key));
		r->shed_to = REGION_NONE;
		cfg_region_body(ctx, r, cfg_node(ctx, pair->value));
	}
}

static void cfg_parse_default_region(struct cfg_ctx *ctx,
				     const struct cfg_pair *p, void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text != NULL)
		cfg->default_region = cfg_region_ref(ctx, "'default_region'",
						     text, cfg_pair_line(p));
}

/* ---- overrides ---------------------------------------------------------- */

/* True when bits of a after the first len are all zero. */
static bool cfg_host_bits_clear(const struct ip_addr *a, unsigned len)
{
	unsigned total = a->family == AF_INET ? 32 : 128;
	for (unsigned bit = len; bit < total; bit++)
		if (a->bytes[bit / 8] & (0x80u >> (bit % 8)))
			return false;
	return true;
}

static void cfg_host_bits_clear_set(struct ip_addr *a, unsigned len)
{
	unsigned total = a->family == AF_INET ? 32 : 128;
	for (unsigned bit = len; bit < total; bit++)
		a->bytes[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
}

/* "ADDR/LEN" → net and length; NULL, or what is wrong. */
static const char *cfg_cidr_parse(const char *text, struct ip_addr *net,
				  uint8_t *len)
{
	char addr[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(text, '/');
	unsigned long v;
	if (slash == NULL)
		return "write a network as ADDRESS/LENGTH, e.g. 10.0.0.0/8";
	size_t alen = (size_t)(slash - text);
	if (alen == 0 || alen >= sizeof(addr))
		return "not a valid IPv4 or IPv6 address";
	memcpy(addr, text, alen);
	addr[alen] = '\0';
	if (!cfg_ip_parse(addr, net))
		return "not a valid IPv4 or IPv6 address";
	unsigned max = net->family == AF_INET ? 32 : 128;
	if (strlen(slash + 1) > 3 || !cfg_whole_number(slash + 1, 0, max, &v))
		return net->family == AF_INET ?
		       "the prefix length must be 0 to 32" :
		       "the prefix length must be 0 to 128";
	*len = (uint8_t)v;
	return NULL;
}

static void cfg_cidr_text(const struct ip_addr *a, unsigned len, char *out,
			  size_t outlen)
{
	char buf[INET6_ADDRSTRLEN];
	inet_ntop(a->family, a->bytes, buf, sizeof(buf));
	snprintf(out, outlen, "%s/%u", buf, len);
}

static const struct config_network_override *
cfg_network_find(const struct config *cfg, const struct ip_addr *net,
		 uint8_t len)
{
	for (size_t i = 0; i < cfg->network_override_count; i++) {
		const struct config_network_override *o =
			&cfg->network_overrides[i];
		if (o->net.family == net->family && o->prefix_len == len &&
		    memcmp(o->net.bytes, net->bytes, sizeof(net->bytes)) == 0)
			return o;
	}
	return NULL;
}

/* Checks one "CIDR: region" pair into o; false after reporting. */
static bool cfg_network_parse(struct cfg_ctx *ctx, const char *text,
			      unsigned line, struct config_network_override *o)
{
	char canon[INET6_ADDRSTRLEN + 8];
	const char *why = cfg_cidr_parse(text, &o->net, &o->prefix_len);
	if (why != NULL) {
		diag_error(ctx->d, ctx->file, line,
			   "bad network '%s' in overrides.networks: %s", text, why);
		return false;
	}
	if (!cfg_host_bits_clear(&o->net, o->prefix_len)) {
		cfg_host_bits_clear_set(&o->net, o->prefix_len);
		cfg_cidr_text(&o->net, o->prefix_len, canon, sizeof(canon));
		diag_error(ctx->d, ctx->file, line,
			   "network '%s' has bits set after the prefix "
			   "length; write %s", text, canon);
		return false;
	}
	const struct config_network_override *old =
		cfg_network_find(ctx->cfg, &o->net, o->prefix_len);
	if (old != NULL) {
		diag_error(ctx->d, ctx->file, line,
			   "network '%s' is listed twice in overrides.networks "
			   "(first at line %u)", text, old->line);
		return false;
	}
	o->line = line;
	return true;
}

/* The region named by a pair's value (a scalar), or REGION_NONE. */
static int cfg_pair_region(struct cfg_ctx *ctx, const yaml_node_pair_t *pair,
			   const char *what)
{
	yaml_node_t *k = cfg_node(ctx, pair->key);
	struct cfg_pair p = { cfg_text(k), k, cfg_node(ctx, pair->value), NULL };
	const char *name = cfg_scalar(ctx, &p);
	if (name == NULL)
		return REGION_NONE;
	return cfg_region_ref(ctx, what, name, cfg_pair_line(&p));
}

static void cfg_parse_networks(struct cfg_ctx *ctx, const struct cfg_pair *p,
			       void *obj)
{
	struct config *cfg = obj;
	if (cfg_is_null(p->value) || !cfg_expect(ctx, p, YAML_MAPPING_NODE))
		return;
	const yaml_node_t *map = p->value;
	cfg->network_overrides = cfg_calloc(cfg_map_len(map),
					    sizeof(*cfg->network_overrides));
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const char *text = cfg_pair_key(ctx, map, pair,
						"overrides.networks");
		if (text == NULL)
			continue;
		struct config_network_override o = { .region = REGION_NONE };
		bool ok = cfg_network_parse(ctx, text,
					    cfg_line(cfg_node(ctx, pair->key)), &o);
		o.region = cfg_pair_region(ctx, pair, "overrides.networks");
		if (ok && o.region != REGION_NONE)
			cfg->network_overrides[cfg->network_override_count++] = o;
	}
}

static const struct config_country_override *
cfg_country_find(const struct config *cfg, const char *code)
{
	for (size_t i = 0; i < cfg->country_override_count; i++)
		if (strcmp(cfg->country_overrides[i].code, code) == 0)
			return &cfg->country_overrides[i];
	return NULL;
}

static bool cfg_country_parse(struct cfg_ctx *ctx, const char *text,
			      unsigned line, struct config_country_override *o)
{
	if (strlen(text) != 2 || !isalpha((unsigned char)text[0]) ||
	    !isalpha((unsigned char)text[1])) {
		diag_error(ctx->d, ctx->file, line,
			   "'%s' in overrides.countries is not a two-letter "
			   "ISO 3166-1 country code", text);
		return false;
	}
	o->code[0] = (char)toupper((unsigned char)text[0]);
	o->code[1] = (char)toupper((unsigned char)text[1]);
	o->code[2] = '\0';
	if (!country_is_known(o->code)) {
		diag_error(ctx->d, ctx->file, line,
			   "unknown country code '%s' in overrides.countries "
			   "(use an ISO 3166-1 alpha-2 code such as BR)", text);
		return false;
	}
	const struct config_country_override *old =
		cfg_country_find(ctx->cfg, o->code);
	if (old != NULL) {
		diag_error(ctx->d, ctx->file, line,
			   "country %s is listed twice in overrides.countries "
			   "(first at line %u)", o->code, old->line);
		return false;
	}
	o->line = line;
	return true;
}

static void cfg_parse_countries(struct cfg_ctx *ctx, const struct cfg_pair *p,
				void *obj)
{
	struct config *cfg = obj;
	if (cfg_is_null(p->value) || !cfg_expect(ctx, p, YAML_MAPPING_NODE))
		return;
	const yaml_node_t *map = p->value;
	cfg->country_overrides = cfg_calloc(cfg_map_len(map),
					    sizeof(*cfg->country_overrides));
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		const char *text = cfg_pair_key(ctx, map, pair,
						"overrides.countries");
		if (text == NULL)
			continue;
		struct config_country_override o = { .region = REGION_NONE };
		bool ok = cfg_country_parse(ctx, text,
					    cfg_line(cfg_node(ctx, pair->key)), &o);
		o.region = cfg_pair_region(ctx, pair, "overrides.countries");
		if (ok && o.region != REGION_NONE)
			cfg->country_overrides[cfg->country_override_count++] = o;
	}
}

static const struct cfg_key override_keys[] = {
	CFG_KEY("networks", cfg_parse_networks, false),
	CFG_KEY("countries", cfg_parse_countries, false),
};

static void cfg_parse_overrides(struct cfg_ctx *ctx, const struct cfg_pair *p,
				void *obj)
{
	if (cfg_is_null(p->value))
		return;
	if (cfg_expect(ctx, p, YAML_MAPPING_NODE))
		cfg_map_walk(ctx, p->value, "'overrides'", override_keys,
			     sizeof(override_keys) / sizeof(override_keys[0]),
			     obj);
}

/* ---- shed ------------------------------------------------------------------ */

enum cfg_percent_status { PERCENT_OK, PERCENT_NAN, PERCENT_DECIMALS,
			  PERCENT_RANGE };

/*
 * Reads a percentage exactly from its text, into basis points: YAML's
 * float would turn "0.29" into 0.28999..., and the shed share must be the
 * same on every machine, so no floating point is involved.
 */
static enum cfg_percent_status cfg_percent_parse(const char *text,
						 uint16_t *bp)
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
		whole = whole > 1000 ? whole : whole * 10 + (unsigned)(*s - '0');
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

static void cfg_parse_shed_to(struct cfg_ctx *ctx, const struct cfg_pair *p,
			      void *obj)
{
	struct cfg_shed *s = obj;
	char what[300];
	const char *name = cfg_scalar(ctx, p);
	if (name == NULL)
		return;
	snprintf(what, sizeof(what), "the shed of region '%s'", s->from->name);
	s->to = cfg_region_ref(ctx, what, name, cfg_pair_line(p));
	if (s->to != REGION_NONE && &ctx->cfg->regions[s->to] == s->from) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "region '%s' cannot shed to itself; name another "
			   "region in 'to'", s->from->name);
		s->to = REGION_NONE;
	}
}

static void cfg_parse_shed_percent(struct cfg_ctx *ctx,
				   const struct cfg_pair *p, void *obj)
{
	static const char *const why[] = {
		[PERCENT_NAN] = "is not a number",
		[PERCENT_DECIMALS] = "has more than two decimals",
		[PERCENT_RANGE] = "is outside 0-100",
	};
	struct cfg_shed *s = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	enum cfg_percent_status st = cfg_percent_parse(text, &s->bp);
	if (st == PERCENT_OK) {
		s->has_percent = true;
		return;
	}
	diag_error(ctx->d, ctx->file, cfg_pair_line(p),
		   "shed percent '%s' of region '%s' %s: write a number from "
		   "0 to 100 with at most two decimals", text, s->from->name,
		   why[st]);
}

static const struct cfg_key shed_keys[] = {
	CFG_KEY("to", cfg_parse_shed_to, true),
	CFG_KEY("percent", cfg_parse_shed_percent, true),
};

static void cfg_shed_entry(struct cfg_ctx *ctx, const yaml_node_pair_t *pair,
			   const char *name)
{
	yaml_node_t *k = cfg_node(ctx, pair->key);
	yaml_node_t *v = cfg_node(ctx, pair->value);
	int ri = cfg_region_ref(ctx, "'shed'", name, cfg_line(k));
	if (v->type != YAML_MAPPING_NODE) {
		diag_error(ctx->d, ctx->file, cfg_line(k),
			   "shed of '%s' must be a mapping like "
			   "{ to: REGION, percent: P }, not %s", name,
			   cfg_type_name(v));
		return;
	}
	if (ri == REGION_NONE)
		return;
	char where[300];
	struct cfg_shed s = { &ctx->cfg->regions[ri], REGION_NONE, false, 0 };
	snprintf(where, sizeof(where), "the shed of region '%s'", name);
	cfg_map_walk(ctx, v, where, shed_keys,
		     sizeof(shed_keys) / sizeof(shed_keys[0]), &s);
	if (s.to == REGION_NONE || !s.has_percent)
		return;
	s.from->shed_to = s.to;
	s.from->shed_bp = s.bp;
	s.from->shed_line = cfg_line(k);
}

static void cfg_parse_shed(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	if (cfg_is_null(p->value) || !cfg_expect(ctx, p, YAML_MAPPING_NODE))
		return;
	const yaml_node_t *map = p->value;
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		// a repeated key is a second shed for one region: refused here
		const char *name = cfg_pair_key(ctx, map, pair, "'shed'");
		if (name != NULL)
			cfg_shed_entry(ctx, pair, name);
	}
}

/* ---- zones ------------------------------------------------------------------ */

static void cfg_parse_origin(struct cfg_ctx *ctx, const struct cfg_pair *p,
			     void *obj)
{
	struct config_zone *z = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	size_t len = strlen(text);
	// "example.com" and "example.com." both mean the absolute name
	char *abs = cfg_calloc(len + 2, 1);
	snprintf(abs, len + 2, "%s%s", text,
		 len > 0 && text[len - 1] == '.' ? "" : ".");
	z->origin_len = dname_from_text(z->origin, abs, NULL);
	free(abs);
	if (z->origin_len == 0) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "zone origin '%s' is not a valid domain name", text);
		return;
	}
	// the canonical text, so messages and ldns see one spelling
	z->origin_text = cfg_calloc(DNAME_TEXT_MAX, 1);
	dname_to_text(z->origin_text, z->origin);
}

static void cfg_parse_file(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	struct config_zone *z = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text != NULL)
		z->file = cfg_path_resolve(ctx->cfg, text);
}

static bool cfg_regional_seen(const struct config_zone *z,
			      const struct config_regional_name *n)
{
	for (size_t i = 0; i < z->regional_count; i++)
		if (dname_equal(z->regional[i].name, n->name))
			return true;
	return false;
}

static void cfg_regional_add(struct cfg_ctx *ctx, struct config_zone *z,
			     const yaml_node_t *item)
{
	const char *text = cfg_item_scalar(ctx, "regional", item);
	if (text == NULL || z->origin_len == 0)
		return; // a bad origin was reported; names can't be judged
	struct config_regional_name *n = &z->regional[z->regional_count];
	unsigned line = cfg_line(item);
	n->name_len = dname_from_text(n->name, text, z->origin);
	if (n->name_len == 0) {
		diag_error(ctx->d, ctx->file, line,
			   "regional name '%s' is not a valid domain name", text);
		return;
	}
	if (!dname_is_subdomain(n->name, z->origin)) {
		diag_error(ctx->d, ctx->file, line,
			   "regional name '%s' is outside zone %s", text,
			   z->origin_text);
		return;
	}
	if (cfg_regional_seen(z, n)) {
		diag_warn(ctx->d, ctx->file, line,
			  "regional name '%s' is listed twice in zone %s", text,
			  z->origin_text);
		return;
	}
	n->text = cfg_strdup(text);
	n->line = line;
	z->regional_count++;
}

static void cfg_parse_regional(struct cfg_ctx *ctx, const struct cfg_pair *p,
			       void *obj)
{
	struct config_zone *z = obj;
	if (cfg_is_null(p->value) || !cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	z->regional = cfg_calloc(cfg_seq_len(p->value), sizeof(*z->regional));
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_regional_add(ctx, z, cfg_node(ctx, *it));
}

static const struct cfg_key zone_keys[] = {
	CFG_KEY("origin", cfg_parse_origin, true),
	CFG_KEY("file", cfg_parse_file, true),
	CFG_UINT("ttl", struct config_zone, ttl, 0, 2147483647UL),
	CFG_KEY("regional", cfg_parse_regional, false),
};

/* An earlier zone with z's origin, or NULL. */
static const struct config_zone *cfg_zone_find(const struct config *cfg,
					       const struct config_zone *z)
{
	for (const struct config_zone *o = cfg->zones; o < z; o++)
		if (o->origin_len > 0 && dname_equal(o->origin, z->origin))
			return o;
	return NULL;
}

static void cfg_zone_add(struct cfg_ctx *ctx, const yaml_node_t *item)
{
	struct config *cfg = ctx->cfg;
	struct config_zone *z = &cfg->zones[cfg->zone_count];
	if (item->type != YAML_MAPPING_NODE) {
		diag_error(ctx->d, ctx->file, cfg_line(item),
			   "each entry of 'zones' must be a mapping with origin "
			   "and file, not %s", cfg_type_name(item));
		return;
	}
	z->ttl = 60;
	z->line = cfg_line(item);
	cfg->zone_count++; // kept even when broken, so config_free frees it
	cfg_map_walk(ctx, item, "a zone", zone_keys,
		     sizeof(zone_keys) / sizeof(zone_keys[0]), z);
	if (z->origin_len == 0)
		return;
	const struct config_zone *old = cfg_zone_find(cfg, z);
	if (old != NULL)
		diag_error(ctx->d, ctx->file, z->line,
			   "zone %s is listed twice (first at line %u)",
			   z->origin_text, old->line);
}

static void cfg_parse_zones(struct cfg_ctx *ctx, const struct cfg_pair *p,
			    void *obj)
{
	struct config *cfg = obj;
	if (!cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	size_t n = cfg_seq_len(p->value);
	if (n == 0) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "'zones' must list at least one zone");
		return;
	}
	cfg->zones = cfg_calloc(n, sizeof(*cfg->zones));
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_zone_add(ctx, cfg_node(ctx, *it));
}

/* ---- the top level ------------------------------------------------------- */

/* ---- rrl and user ------------------------------------------------------- */

static void cfg_rrl_exempt_add(struct cfg_ctx *ctx, struct config_rrl *rrl,
			       const yaml_node_t *item)
{
	const char *text = cfg_item_scalar(ctx, "rrl.exempt", item);
	if (text == NULL)
		return;
	struct config_network_override o = { .region = REGION_NONE,
					     .line = cfg_line(item) };
	const char *why = cfg_cidr_parse(text, &o.net, &o.prefix_len);
	if (why != NULL) {
		diag_error(ctx->d, ctx->file, o.line,
			   "bad network '%s' in rrl.exempt: %s", text, why);
		return;
	}
	if (!cfg_host_bits_clear(&o.net, o.prefix_len)) {
		char canon[INET6_ADDRSTRLEN + 8];
		cfg_host_bits_clear_set(&o.net, o.prefix_len);
		cfg_cidr_text(&o.net, o.prefix_len, canon, sizeof(canon));
		diag_error(ctx->d, ctx->file, o.line,
			   "network '%s' has bits set after the prefix "
			   "length; write %s", text, canon);
		return;
	}
	rrl->exempt[rrl->exempt_count++] = o;
}

static void cfg_parse_rrl_exempt(struct cfg_ctx *ctx, const struct cfg_pair *p,
				 void *obj)
{
	struct config_rrl *rrl = obj;
	if (cfg_is_null(p->value) || !cfg_expect(ctx, p, YAML_SEQUENCE_NODE))
		return;
	rrl->exempt = cfg_calloc(cfg_seq_len(p->value), sizeof(*rrl->exempt));
	for (yaml_node_item_t *it = p->value->data.sequence.items.start;
	     it < p->value->data.sequence.items.top; it++)
		cfg_rrl_exempt_add(ctx, rrl, cfg_node(ctx, *it));
}

static const struct cfg_key rrl_keys[] = {
	CFG_UINT("responses_per_second", struct config_rrl,
		 responses_per_second, 0, 1000000),
	CFG_UINT("slip", struct config_rrl, slip, 0, 100),
	CFG_UINT("ipv4_prefix", struct config_rrl, ipv4_prefix, 0, 32),
	CFG_UINT("ipv6_prefix", struct config_rrl, ipv6_prefix, 0, 128),
	CFG_KEY("exempt", cfg_parse_rrl_exempt, false),
};

static void cfg_parse_rrl(struct cfg_ctx *ctx, const struct cfg_pair *p,
			  void *obj)
{
	struct config *cfg = obj;
	cfg->rrl.line = cfg_pair_line(p);
	if (cfg_is_null(p->value))
		return;
	if (cfg_expect(ctx, p, YAML_MAPPING_NODE))
		cfg_map_walk(ctx, p->value, "'rrl'", rrl_keys,
			     sizeof(rrl_keys) / sizeof(rrl_keys[0]), &cfg->rrl);
}

static void cfg_parse_user(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	struct config *cfg = obj;
	const char *name = cfg_scalar(ctx, p);
	if (name == NULL)
		return;
	cfg->user_line = cfg_pair_line(p);
	// checked here so that --check finds a typo before a restart does
	if (getpwnam(name) == NULL) {
		diag_error(ctx->d, ctx->file, cfg->user_line,
			   "user '%s' does not exist on this system", name);
		return;
	}
	cfg->user = cfg_strdup(name);
}

/* ---- operations keys (h-ops): nsid, identity, version, log, log_level,
 * pidfile. Self-contained: parse functions, defaults (cfg_ops_defaults)
 * and their rows in top_keys; the fields are grouped in struct config. */

static bool cfg_ops_hostname(char *out, size_t len)
{
	if (gethostname(out, len) < 0)
		return false;
	out[len - 1] = '\0';
	return out[0] != '\0';
}

// "hex:0a1b..." → bytes; false when not an even count of hex digits.
static bool cfg_ops_hex(const char *hex, uint8_t *out, size_t max,
			size_t *len)
{
	size_t n = strlen(hex);
	if (n == 0 || n % 2 != 0 || n / 2 > max)
		return false;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = cfg_hex_digit(hex[2 * i]), lo = cfg_hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return false;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return true;
}

static void cfg_parse_nsid(struct cfg_ctx *ctx, const struct cfg_pair *p,
			   void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	bool on;
	char host[256];
	if (text == NULL)
		return;
	cfg->nsid_len = 0;
	if (cfg_bool_parse(text, &on)) {
		if (!on)
			return;
		if (!cfg_ops_hostname(host, sizeof(host))) {
			diag_error(ctx->d, ctx->file, cfg_pair_line(p),
				   "nsid: true needs the hostname, and "
				   "gethostname failed; set a text instead");
			return;
		}
		text = host;
	} else if (strncmp(text, "hex:", 4) == 0) {
		if (!cfg_ops_hex(text + 4, cfg->nsid, CONFIG_NSID_MAX,
				 &cfg->nsid_len))
			diag_error(ctx->d, ctx->file, cfg_pair_line(p),
				   "nsid: '%s' must be hex: and 2 to %u hex "
				   "digits, an even number", text,
				   2 * CONFIG_NSID_MAX);
		return;
	}
	size_t len = strlen(text);
	if (len == 0 || len > CONFIG_NSID_MAX) {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "nsid: must be 1 to %u bytes, not %zu",
			   CONFIG_NSID_MAX, len);
		return;
	}
	memcpy(cfg->nsid, text, len);
	cfg->nsid_len = len;
}

// identity and version: false hides, true keeps the default, else text.
static void cfg_ops_txt(struct cfg_ctx *ctx, const struct cfg_pair *p,
			char **field)
{
	const char *text = cfg_scalar(ctx, p);
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
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "%s: must be 1 to %u characters, or false to hide "
			   "it, not %zu characters", p->key, CONFIG_TXT_MAX,
			   len);
		return;
	}
	free(*field);
	*field = cfg_strdup(text);
}

static void cfg_parse_identity(struct cfg_ctx *ctx, const struct cfg_pair *p,
			       void *obj)
{
	cfg_ops_txt(ctx, p, &((struct config *)obj)->identity);
}

static void cfg_parse_version(struct cfg_ctx *ctx, const struct cfg_pair *p,
			      void *obj)
{
	cfg_ops_txt(ctx, p, &((struct config *)obj)->version);
}

static void cfg_parse_log(struct cfg_ctx *ctx, const struct cfg_pair *p,
			  void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	if (strcmp(text, "stderr") == 0)
		cfg->log_target = LOG_TARGET_STDERR;
	else if (strcmp(text, "syslog") == 0)
		cfg->log_target = LOG_TARGET_SYSLOG;
	else
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "log: '%s' is not stderr or syslog", text);
}

static void cfg_parse_log_level(struct cfg_ctx *ctx, const struct cfg_pair *p,
				void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	int level = log_level_from_name(text);
	if (level < 0)
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "log_level: '%s' is not one of error, warning, "
			   "notice, info, debug", text);
	else
		cfg->log_level = level;
}

static void cfg_parse_pidfile(struct cfg_ctx *ctx, const struct cfg_pair *p,
			      void *obj)
{
	struct config *cfg = obj;
	const char *text = cfg_scalar(ctx, p);
	if (text == NULL)
		return;
	if (text[0] == '\0') {
		diag_error(ctx->d, ctx->file, cfg_pair_line(p),
			   "pidfile: empty path");
		return;
	}
	cfg->pidfile = cfg_path_resolve(cfg, text);
	cfg->pidfile_line = cfg_pair_line(p);
}

static void cfg_ops_defaults(struct config *cfg)
{
	char host[256];
	cfg->identity = cfg_ops_hostname(host, sizeof(host))
		? cfg_strdup(host) : NULL;
	cfg->version = cfg_strdup("geovip " PACKAGE_VERSION);
	cfg->log_target = LOG_TARGET_STDERR;
	cfg->log_level = LOG_LEVEL_INFO;
}

static void cfg_ops_free(struct config *cfg)
{
	free(cfg->identity);
	free(cfg->version);
	free(cfg->pidfile);
}

#define CFG_OPS_KEYS \
	CFG_KEY("nsid", cfg_parse_nsid, false), \
	CFG_KEY("identity", cfg_parse_identity, false), \
	CFG_KEY("version", cfg_parse_version, false), \
	CFG_KEY("log", cfg_parse_log, false), \
	CFG_KEY("log_level", cfg_parse_log_level, false), \
	CFG_KEY("pidfile", cfg_parse_pidfile, false)
/* ---- end of the operations keys ---- */

static const struct cfg_key top_keys[] = {
	CFG_KEY("listen", cfg_parse_listen, true),
	CFG_KEY("geoip", cfg_parse_geoip, true),
	CFG_KEY("ecs", cfg_parse_ecs, false),
	CFG_UINT("workers", struct config, workers, 1, 1024),
	CFG_KEY("regions", cfg_parse_regions, true),
	CFG_KEY("default_region", cfg_parse_default_region, true),
	CFG_KEY("overrides", cfg_parse_overrides, false),
	CFG_KEY("shed", cfg_parse_shed, false),
	CFG_KEY("shed_key", cfg_parse_shed_key, false),
	CFG_UINT("tcp_idle_timeout", struct config, tcp_idle_timeout, 1, 86400),
	CFG_UINT("tcp_max_connections", struct config, tcp_max_connections,
		 1, 1000000),
	CFG_KEY("rrl", cfg_parse_rrl, false),
	CFG_KEY("user", cfg_parse_user, false),
	CFG_KEY("zones", cfg_parse_zones, true),
	CFG_OPS_KEYS,
};
_Static_assert(sizeof(top_keys) / sizeof(top_keys[0]) <= CFG_KEYS_MAX,
	       "cfg_map_walk's found[] is too small for top_keys");

static struct config *cfg_new(const char *path)
{
	struct config *cfg = cfg_calloc(1, sizeof(*cfg));
	cfg->path = cfg_strdup(path);
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		cfg->dir = cfg_strdup(".");
	else if (slash == path)
		cfg->dir = cfg_strdup("/");
	else
		cfg->dir = strndup(path, (size_t)(slash - path));
	if (cfg->dir == NULL)
		abort();
	cfg->ecs = true;
	cfg->default_region = REGION_NONE;
	cfg->tcp_idle_timeout = 10;
	cfg->rrl.slip = 2;
	cfg->rrl.ipv4_prefix = 24;
	cfg->rrl.ipv6_prefix = 56;
	cfg->tcp_max_connections = 1000;
	cfg_ops_defaults(cfg);
	return cfg;
}

/* Reads the whole file into a NUL-terminated buffer; NULL with errno. */
static char *cfg_read_file(const char *path, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0, used = 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	for (;;) {
		if (used + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = cap > CONFIG_MAX_BYTES ? NULL : realloc(buf, cap);
			if (nb == NULL) {
				errno = cap > CONFIG_MAX_BYTES ? EFBIG : ENOMEM;
				goto fail;
			}
			buf = nb;
		}
		size_t n = fread(buf + used, 1, cap - used - 1, f);
		used += n;
		if (n == 0)
			break;
	}
	if (ferror(f))
		goto fail;
	fclose(f);
	buf[used] = '\0';
	*len = used;
	return buf;
fail:;
	int saved = errno;
	free(buf);
	fclose(f);
	errno = saved;
	return NULL;
}

static void cfg_yaml_error(struct cfg_ctx *ctx, const yaml_parser_t *parser)
{
	const char *problem = parser->problem ? parser->problem : "syntax error";
	unsigned line = (unsigned)parser->problem_mark.line + 1;
	if (parser->context != NULL)
		diag_error(ctx->d, ctx->file, line,
			   "YAML syntax error: %s (%s at line %u)", problem,
			   parser->context,
			   (unsigned)parser->context_mark.line + 1);
	else
		diag_error(ctx->d, ctx->file, line, "YAML syntax error: %s",
			   problem);
}

/* A second "---" document would be ignored silently: refuse it. */
static void cfg_yaml_one_document(struct cfg_ctx *ctx, yaml_parser_t *parser)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		cfg_yaml_error(ctx, parser);
		return;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	if (root != NULL)
		diag_error(ctx->d, ctx->file, cfg_line(root),
			   "a second YAML document: the configuration is one "
			   "document; remove this one or its '---'");
	yaml_document_delete(&next);
}

/* Parses the YAML text into doc; false after reporting. */
static bool cfg_yaml_load(struct cfg_ctx *ctx, const char *text, size_t len,
			  yaml_document_t *doc)
{
	yaml_parser_t parser;
	if (!yaml_parser_initialize(&parser))
		abort();
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	bool ok = yaml_parser_load(&parser, doc) != 0;
	if (!ok)
		cfg_yaml_error(ctx, &parser);
	else
		cfg_yaml_one_document(ctx, &parser);
	yaml_parser_delete(&parser);
	return ok;
}

static void cfg_parse_root(struct cfg_ctx *ctx)
{
	yaml_node_t *root = yaml_document_get_root_node(ctx->doc);
	if (root == NULL || root->type != YAML_MAPPING_NODE) {
		diag_error(ctx->d, ctx->file, root ? cfg_line(root) : 1,
			   "the configuration must be a mapping of keys such "
			   "as listen, geoip, regions, default_region and zones");
		return;
	}
	cfg_map_walk(ctx, root, "the configuration", top_keys,
		     sizeof(top_keys) / sizeof(top_keys[0]), ctx->cfg);
}

struct config *config_load(const char *path, struct diag *d)
{
	struct config *cfg = NULL;
	yaml_document_t doc;
	size_t len = 0;
	unsigned errors_before = diag_errors(d);
	struct cfg_ctx ctx = { .file = path, .d = d, .doc = &doc };

	char *text = cfg_read_file(path, &len);
	if (text == NULL) {
		diag_error(d, path, 0, "cannot read: %s", strerror(errno));
		return NULL;
	}
	if (!cfg_yaml_load(&ctx, text, len, &doc))
		goto out;
	cfg = cfg_new(path);
	ctx.cfg = cfg;
	for (size_t i = 0; i < CONTINENT_COUNT; i++)
		ctx.continent_owner[i] = -1;
	cfg_parse_root(&ctx);
	yaml_document_delete(&doc);
	if (diag_errors(d) != errors_before) {
		config_free(cfg);
		cfg = NULL;
	}
out:
	free(text);
	return cfg;
}

static void cfg_zone_free(struct config_zone *z)
{
	free(z->origin_text);
	free(z->file);
	for (size_t i = 0; i < z->regional_count; i++)
		free(z->regional[i].text);
	free(z->regional);
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
	}
	free(cfg->regions);
	free(cfg->network_overrides);
	free(cfg->country_overrides);
	free(cfg->rrl.exempt);
	free(cfg->user);
	cfg_ops_free(cfg);
	for (size_t i = 0; i < cfg->zone_count; i++)
		cfg_zone_free(&cfg->zones[i]);
	free(cfg->zones);
	free(cfg);
}

int config_region_index(const struct config *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->region_count; i++)
		if (strcmp(cfg->regions[i].name, name) == 0)
			return (int)i;
	return REGION_NONE;
}

enum continent continent_from_code(const char *code)
{
	if (code == NULL || strlen(code) != 2)
		return CONTINENT_UNKNOWN;
	for (int c = 0; c < CONTINENT_COUNT; c++)
		if (strcasecmp(code, continent_codes[c]) == 0)
			return (enum continent)c;
	return CONTINENT_UNKNOWN;
}

const char *continent_code(enum continent c)
{
	return (unsigned)c < CONTINENT_COUNT ? continent_codes[c] : "--";
}
