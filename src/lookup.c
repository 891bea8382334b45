/*
 * src/lookup.c — `geovipd --lookup ADDR[/PREFIX]`: runs the same
 * region_decide the query path runs, for an address given as if it came
 * in an ECS option (with /PREFIX) or as a packet source (without), and
 * prints every step of the decision and the merged tree's leaf.
 */
#include "autoconf.h"
#include "lookup.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "dnssec.h"
#include "geo.h"
#include "region.h"
#include "snapshot.h"
#include "zone.h"

/* "24" → 24; -1 for anything but 1-3 plain digits. */
static int parse_prefix(const char *text)
{
	size_t len = strlen(text);
	if (len == 0 || len > 3 || strspn(text, "0123456789") != len)
		return -1;
	return atoi(text);
}

static int parse_client(const char *arg, struct region_client *client,
			bool *with_prefix)
{
	char text[INET6_ADDRSTRLEN + 8];
	if (strlen(arg) >= sizeof(text))
		return -1;
	strcpy(text, arg);
	char *slash = strchr(text, '/');
	int prefix = -1;
	if (slash != NULL) {
		*slash = '\0';
		prefix = parse_prefix(slash + 1);
		if (prefix < 0)
			return -1;
	}
	struct ip_addr a;
	if (addr_parse(text, &a) < 0)
		return -1;
	int max = (int)addr_family_bits(a.family);
	if (prefix > max)
		return -1;

	memset(client, 0, sizeof(*client));
	*with_prefix = prefix >= 0;
	if (prefix < 0) {
		client->source = a;
		return 0;
	}
	// as a resolver would send it: host bits cleared
	addr_mask(&a, (unsigned)prefix);
	client->has_ecs = true;
	client->ecs_addr = a;
	client->ecs_source_len = (uint8_t)prefix;
	client->source = a; // unused unless the ECS address is set aside
	return 0;
}

static void print_addr(FILE *out, const char *label, const struct ip_addr *a,
		       unsigned bits)
{
	char text[ADDR_PREFIX_TEXT_MAX];
	addr_prefix_format(a, bits, text, sizeof(text));
	fprintf(out, "%-16s %s\n", label, text);
}

static void print_vips(FILE *out, const struct config_region *reg)
{
	char text[INET6_ADDRSTRLEN];
	fprintf(out, "%-16s", "vips");
	for (size_t i = 0; i < reg->v4_count; i++)
		fprintf(out, " %s",
			inet_ntop(AF_INET, reg->v4[i].bytes, text,
				  sizeof(text)));
	for (size_t i = 0; i < reg->v6_count; i++)
		fprintf(out, " %s",
			inet_ntop(AF_INET6, reg->v6[i].bytes, text,
				  sizeof(text)));
	fprintf(out, "\n");
}

static void print_geo(FILE *out, const struct region_explanation *d)
{
	const struct geo_record *rec = d->geo.record;
	if (rec == NULL) {
		fprintf(out, "%-16s not in database (empty network /%u)\n",
			"mmdb", d->geo.prefix_len);
		return;
	}
	fprintf(out, "%-16s network /%u, record at data offset %u\n", "mmdb",
		d->geo.prefix_len, rec->mmdb_offset);
	fprintf(out, "%-16s %s\n", "country",
		rec->country[0] ? rec->country : "-");
	fprintf(out, "%-16s %s\n", "continent",
		rec->continent < CONTINENT_COUNT
			? continent_code((enum continent)rec->continent)
			: "-");
}

static void print_override(FILE *out, const struct config *cfg,
			   const struct region_explanation *d)
{
	if (d->network_override >= 0) {
		const struct config_network_override *o =
			&cfg->network_overrides[d->network_override];
		char text[ADDR_PREFIX_TEXT_MAX];
		addr_prefix_format(&o->net, o->prefix_len, text, sizeof(text));
		fprintf(out, "%-16s network %s (%s line %u)\n", "override",
			text, cfg->path, o->line);
	} else if (d->country_override >= 0) {
		const struct config_country_override *o =
			&cfg->country_overrides[d->country_override];
		fprintf(out, "%-16s country %s (%s line %u)\n", "override",
			o->code, cfg->path, o->line);
	} else {
		fprintf(out, "%-16s none\n", "override");
	}
}

/* The merged leaf: the widest prefix with this region, and why not wider. */
static void print_merged(FILE *out, const struct config *cfg,
			 const struct region_decision *d,
			 const struct region_explanation *x)
{
	struct ip_addr net = d->addr;
	addr_mask(&net, d->leaf_scope);
	char text[ADDR_PREFIX_TEXT_MAX];
	addr_prefix_format(&net, d->leaf_scope, text, sizeof(text));
	fprintf(out, "%-16s %s (leaf /%u, mmdb and overrides alone: /%u)\n",
		"merged", text, d->leaf_depth, x->network_scope);
	if (addr_is_private(&d->addr)) {
		fprintf(out,
			"%-16s a private address is never an ECS client: "
			"its leaf is not merged\n",
			"merge stops");
		return;
	}
	if (d->leaf_scope == 0) {
		fprintf(out,
			"%-16s every public address of the family has "
			"this region\n",
			"merge stops");
		return;
	}
	struct ip_addr nb = d->addr;
	unsigned bit = d->leaf_scope - 1u;
	nb.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
	addr_mask(&nb, d->leaf_scope);
	addr_prefix_format(&nb, d->leaf_scope, text, sizeof(text));
	if (x->neighbour_region >= 0)
		fprintf(out, "%-16s neighbour %s holds region %s\n",
			"merge stops", text,
			cfg->regions[x->neighbour_region].name);
	else
		fprintf(out,
			"%-16s neighbour %s is or holds an IPv6 prefix "
			"carrying IPv4 (looked up as IPv4 there)\n",
			"merge stops", text);
}

/* Whether to is in the draw of from's clients: the health spread
 * (service < 0) or the spread of a service missing in from. */
static bool draw_candidate(const struct snapshot *snap, int service, int from,
			   int to)
{
	if (service < 0)
		return region_spread_candidate(snap->regions, snap->shed, from,
					       to);
	return region_service_candidate(snap->regions, snap->shed,
					(unsigned)service, from, to);
}

// "apac 0.41, emea 1.90 → apac": the draw over from's candidates.
static void print_draw(FILE *out, const struct snapshot *snap, int service,
		       int from, uint64_t h, int chosen)
{
	const struct config *cfg = snap->config;
	const char *sep = "";
	for (size_t i = 0; i < cfg->region_count; i++) {
		if (!draw_candidate(snap, service, from, (int)i))
			continue;
		fprintf(out, "%s%s (capacity %u) %.4f", sep,
			cfg->regions[i].name,
			(unsigned)region_capacity(snap->regions, (int)i),
			region_spread_score(snap->regions, h, (int)i));
		sep = ", ";
	}
	if (*sep == '\0')
		fprintf(out, "no region is up besides %s → stays",
			cfg->regions[from].name);
	else
		fprintf(out, " → lowest: %s", cfg->regions[chosen].name);
}

/* Which regions are down, and where this client's draw sends it. */
static void print_health(FILE *out, const struct snapshot *snap,
			 const struct region_decision *d)
{
	const struct config *cfg = snap->config;
	fprintf(out, "%-16s", "health");
	const char *sep = " down: ";
	for (size_t i = 0; i < cfg->region_count; i++)
		if (snap->shed[i].health != REGION_UP) {
			fprintf(out, "%s%s", sep, cfg->regions[i].name);
			sep = ", ";
		}
	if (*sep == ' ') {
		fprintf(out, " every region is up\n");
		return;
	}
	if (d->all_down) {
		fprintf(out, "; every region is down: answering as if all "
			     "were up\n");
		return;
	}
	int from = d->region_before_shed;
	if (snap->shed[from].health != REGION_DOWN) {
		fprintf(out, "; %s is up\n", cfg->regions[from].name);
		return;
	}
	fprintf(out, "\n%-16s %s is down: K=%u h=%llu, scores -ln(u)/capacity ",
		"spread", cfg->regions[from].name, d->shed_k,
		(unsigned long long)d->shed_hash);
	print_draw(out, snap, -1, from, d->shed_hash, d->region_landed);
	fprintf(out, "\n");
}

static void print_shed(FILE *out, const struct snapshot *snap,
		       const struct region_decision *d)
{
	const struct config *cfg = snap->config;
	const struct region_shed *reg = &snap->shed[d->region_landed];
	// the shed of the region the client landed in after health
	char of[96] = "";
	if (d->region_landed != d->region_before_shed)
		snprintf(of, sizeof(of), "of %s, where it landed, ",
			 cfg->regions[d->region_landed].name);
	if (reg->to == REGION_NONE || reg->bp == 0) {
		fprintf(out, "%-16s none for %s\n", "shed",
			*of ? cfg->regions[d->region_landed].name
			    : "this region");
		return;
	}
	char source[48] = "config";
	if (reg->override_id != 0)
		snprintf(source, sizeof(source), "runtime override #%u",
			 (unsigned)reg->override_id);
	const char *to = reg->to == REGION_SPREAD ? "the up regions by capacity"
						  : cfg->regions[reg->to].name;
	fprintf(out,
		"%-16s %sto %s at %u.%02u%% (%s): K=%u h=%llu, h mod "
		"10000 = %llu %s %u → %s\n",
		"shed", of, to, reg->bp / 100u, reg->bp % 100u, source,
		d->shed_k, (unsigned long long)d->shed_hash,
		(unsigned long long)(d->shed_hash % 10000),
		d->shed || d->shed_suspended ? "<" : ">=", (unsigned)reg->bp,
		d->shed_suspended ? "not shed: its target is down"
		: d->shed         ? "shed"
				  : "stays");
	if (reg->to == REGION_SPREAD && d->shed) {
		fprintf(out, "%-16s ", "shed spread");
		print_draw(out, snap, -1, d->region_landed, d->shed_hash,
			   d->region);
		fprintf(out, "\n");
	}
}

/* The VIPs of a set, after a label, on one line. */
static void print_vipset(FILE *out, const struct config_vipset *v)
{
	char text[INET6_ADDRSTRLEN];
	for (size_t i = 0; i < v->v4_count; i++)
		fprintf(out, " %s",
			inet_ntop(AF_INET, v->v4[i].bytes, text, sizeof(text)));
	for (size_t i = 0; i < v->v6_count; i++)
		fprintf(out, " %s",
			inet_ntop(AF_INET6, v->v6[i].bytes, text,
				  sizeof(text)));
}

/* "the 2 up regions with api": where a missing service's draw took its
 * candidates from (drained regions are not up for it). */
static void print_pool(FILE *out, const struct config *cfg, unsigned service,
		       int from, const struct region_service_choice *ch)
{
	const char *name = config_service_name(cfg, service);
	const char *s = ch->candidates == 1 ? "" : "s";
	if (ch->pool == REGION_POOL_FALLBACK)
		fprintf(out, "%s's %u fallback region%s with %s",
			cfg->regions[from].name, ch->candidates, s, name);
	else if (ch->pool == REGION_POOL_LIVE)
		fprintf(out, "the %u up region%s with %s", ch->candidates, s,
			name);
	else
		fprintf(out, "the %u region%s with %s (none up)",
			ch->candidates, s, name);
}

/* One line for a service: its region for this client and its VIPs, and
 * when the service is not in the client's region, the draw that chose
 * (each candidate's score, as for a down region). */
static void print_service(FILE *out, const struct snapshot *snap,
			  unsigned service, const struct region_decision *d)
{
	const struct config *cfg = snap->config;
	struct region_service_choice ch;
	region_service_choose(snap->regions, snap->shed, service, d, &ch);
	char label[80];
	snprintf(label, sizeof(label), "service %s",
		 config_service_name(cfg, service));
	fprintf(out, "%-16s %s:", label, cfg->regions[ch.region].name);
	struct config_vipset v;
	config_vips(cfg, service, ch.region, &v);
	print_vipset(out, &v);
	if (ch.spread) {
		fprintf(out, " (not in %s: spread over ",
			cfg->regions[d->region].name);
		print_pool(out, cfg, service, d->region, &ch);
		fprintf(out, ", K=%u h=%llu, scores -ln(u)/capacity ",
			d->shed_k, (unsigned long long)ch.hash);
		print_draw(out, snap, (int)service, d->region, ch.hash,
			   ch.region);
		fprintf(out, "; ecs scope %u)", ch.scope);
	}
	fprintf(out, "\n");
}

/* The node a query for name lands on when it is regional (exact, or the
 * wildcard at one of its ancestors), or NULL. */
static const struct zone_node *regional_node(const struct zone *z,
					     const uint8_t *name)
{
	const struct zone_node *n = zone_find_node(z, name);
	if (n != NULL)
		return (n->flags & ZONE_NODE_REGIONAL) ? n : NULL;
	uint8_t wild[DNAME_MAX];
	for (unsigned strip = 1; dname_labels(name) - strip >= z->origin_labels;
	     strip++) {
		const uint8_t *up = dname_strip(name, strip);
		size_t len = dname_length(up);
		if (zone_find_node(z, up) == NULL || len + 2 > DNAME_MAX)
			continue;
		wild[0] = 1;
		wild[1] = '*';
		memcpy(wild + 2, up, len);
		n = zone_find_node(z, wild);
		return n != NULL && (n->flags & ZONE_NODE_REGIONAL) ? n : NULL;
	}
	return NULL;
}

/* The service `--name` asks about: a service name, else a regional
 * domain name's service; -1 after a message to err. */
static int lookup_service_of(const struct snapshot *snap, const char *name,
			     FILE *out, FILE *err)
{
	int s = config_service_index(snap->config, name);
	if (s >= 0)
		return s;
	uint8_t wire[DNAME_MAX];
	const struct zone *z = NULL;
	if (dname_from_text(wire, name, (const uint8_t *)"") > 0)
		z = zone_set_find(snap->zones, wire);
	const struct zone_node *n = z ? regional_node(z, wire) : NULL;
	if (n == NULL) {
		fprintf(err,
			"--name: '%s' is neither a service nor a regional "
			"name of a served zone\n",
			name);
		return -1;
	}
	fprintf(out, "%-16s %s is regional, service %s\n", "name", name,
		config_service_name(snap->config, n->service));
	return n->service;
}

/* One line per signed zone: the pre-signed variant of its first regional
 * name this client gets (what a DO=1 query gets). */
static void print_dnssec(FILE *out, const struct snapshot *snap,
			 const struct region_decision *d)
{
	const struct config *cfg = snap->config;
	for (size_t i = 0; i < cfg->zone_count; i++) {
		const struct config_zone *cz = &cfg->zones[i];
		if (cz->dnssec.key_count == 0 || cz->regional_count == 0)
			continue;
		const struct zone *z = zone_set_find(snap->zones, cz->origin);
		const struct dnssec_zone *dz =
			z == NULL ? NULL : dnssec_set_zone(snap->dnssec, z);
		const struct zone_node *n =
			dz == NULL ? NULL
				   : zone_find_node(z, cz->regional[0].name);
		if (n == NULL)
			continue;
		struct region_service_choice ch;
		region_service_choose(snap->regions, snap->shed, n->service, d,
				      &ch);
		int region = ch.region;
		char text[512];
		dnssec_describe_variant(dz, n, region, text, sizeof(text));
		fprintf(out, "%-16s %s variant %s: %s\n", "dnssec",
			cz->regional[0].text, cfg->regions[region].name, text);
	}
}

/* The region lines, then one line per service (or only `--name`'s). */
static void print_answer(FILE *out, const struct snapshot *snap,
			 const struct region_decision *d, int only)
{
	const struct config *cfg = snap->config;
	fprintf(out, "%-16s %s\n", "answer region",
		cfg->regions[d->region].name);
	const struct config_region *reg = &cfg->regions[d->region];
	if (reg->v4_count + reg->v6_count > 0)
		print_vips(out, reg);
	if (only >= 0) {
		print_service(out, snap, (unsigned)only, d);
	} else {
		for (size_t s = 0; s < cfg->service_count; s++)
			print_service(out, snap, (unsigned)s + 1, d);
	}
	if (d->used_ecs)
		fprintf(out, "%-16s %u\n", "ecs scope", d->scope);
	else
		fprintf(out, "%-16s 0 (no ECS address used)\n", "ecs scope");
}

int lookup_print(const struct snapshot *snap, const char *arg, FILE *out,
		 FILE *err)
{
	return lookup_print_name(snap, arg, NULL, out, err);
}

int lookup_print_name(const struct snapshot *snap, const char *arg,
		      const char *name, FILE *out, FILE *err)
{
	struct region_client client;
	bool with_prefix;
	if (parse_client(arg, &client, &with_prefix) < 0) {
		fprintf(err,
			"--lookup: '%s' is not ADDR or ADDR/PREFIX "
			"(e.g. 192.0.2.1 or 2001:db8::/56)\n",
			arg);
		return -1;
	}
	int only = -1;
	if (name != NULL &&
	    (only = lookup_service_of(snap, name, out, err)) < 0)
		return -1;
	const struct config *cfg = snap->config;
	struct region_decision d;
	region_decide(snap->regions, snap->shed, &client, &d);
	struct region_explanation x;
	region_explain(snap->regions, cfg, snap->geo, &d, &x);

	fprintf(out, "%-16s %s (%s)\n", "client", arg,
		with_prefix ? "as an ECS option"
			    : "as a packet source address");
	if (with_prefix && !d.used_ecs) {
		// the decision would be the resolver's, which we do not know
		fprintf(out,
			"%-16s %s: a query would be decided by the "
			"resolver's address, with ECS scope 0; look that up "
			"instead\n",
			"note",
			d.ecs_private
				? "the ECS address is private (RFC 7871 §10)"
			: !cfg->ecs ? "ecs is off"
				    : "SOURCE PREFIX-LENGTH is 0");
		return 0;
	}
	print_addr(out, "looked up", &d.addr, d.addr_bits);
	if (d.offset > 0)
		fprintf(out, "%-16s IPv4 carried at bit %u of IPv6\n",
			"unwrapped", d.offset);
	print_geo(out, &x);
	print_override(out, cfg, &x);
	fprintf(out, "%-16s %s\n", "region",
		cfg->regions[d.region_before_shed].name);
	print_merged(out, cfg, &d, &x);
	print_health(out, snap, &d);
	print_shed(out, snap, &d);
	print_answer(out, snap, &d, only);
	print_dnssec(out, snap, &d);
	return 0;
}
