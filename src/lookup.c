/*
 * src/lookup.c — `geovipd --lookup ADDR[/PREFIX]`: runs the same
 * region_decide the query path runs, for an address given as if it came
 * in an ECS option (with /PREFIX) or as a packet source (without), and
 * prints every step of the decision.
 */
#include "autoconf.h"
#include "lookup.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "config.h"
#include "geo.h"
#include "region.h"
#include "snapshot.h"

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
		fprintf(out, " %s", inet_ntop(AF_INET, reg->v4[i].bytes, text,
					      sizeof(text)));
	for (size_t i = 0; i < reg->v6_count; i++)
		fprintf(out, " %s", inet_ntop(AF_INET6, reg->v6[i].bytes, text,
					      sizeof(text)));
	fprintf(out, "\n");
}

static void print_geo(FILE *out, const struct region_decision *d)
{
	const struct geo_record *rec = d->geo.record;
	if (rec == NULL) {
		fprintf(out, "%-16s not in database (empty network /%u)\n",
			"mmdb", d->geo.prefix_len);
		return;
	}
	fprintf(out, "%-16s network /%u, record at data offset %u\n", "mmdb",
		d->geo.prefix_len, rec->mmdb_offset);
	fprintf(out, "%-16s %s\n", "country", rec->country[0] ? rec->country : "-");
	fprintf(out, "%-16s %s\n", "continent",
		rec->continent < CONTINENT_COUNT
			? continent_code((enum continent)rec->continent) : "-");
}

static void print_override(FILE *out, const struct config *cfg,
			   const struct region_decision *d)
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

static void print_shed(FILE *out, const struct snapshot *snap,
		       const struct region_decision *d)
{
	const struct config *cfg = snap->config;
	const struct region_shed *reg = &snap->shed[d->region_before_shed];
	if (reg->to == REGION_NONE || reg->bp == 0) {
		fprintf(out, "%-16s none for this region\n", "shed");
		return;
	}
	char source[48] = "config";
	if (reg->override_id != 0)
		snprintf(source, sizeof(source), "runtime override #%u",
			 (unsigned)reg->override_id);
	fprintf(out, "%-16s to %s at %u.%02u%% (%s): K=%u h=%llu, h mod "
		"10000 = %llu %s %u → %s\n", "shed", cfg->regions[reg->to].name,
		reg->bp / 100, reg->bp % 100, source, d->shed_k,
		(unsigned long long)d->shed_hash,
		(unsigned long long)(d->shed_hash % 10000),
		d->shed ? "<" : ">=", reg->bp,
		d->shed ? "shed" : "stays");
}

int lookup_print(const struct snapshot *snap, const char *arg, FILE *out,
		 FILE *err)
{
	struct region_client client;
	bool with_prefix;
	if (parse_client(arg, &client, &with_prefix) < 0) {
		fprintf(err, "--lookup: '%s' is not ADDR or ADDR/PREFIX "
			"(e.g. 192.0.2.1 or 2001:db8::/56)\n", arg);
		return -1;
	}
	const struct config *cfg = snap->config;
	struct region_decision d;
	region_decide(snap->regions, cfg, snap->shed, snap->geo, &client, &d);

	fprintf(out, "%-16s %s (%s)\n", "client", arg,
		with_prefix ? "as an ECS option" : "as a packet source address");
	if (with_prefix && !d.used_ecs) {
		// the decision would be the resolver's, which we do not know
		fprintf(out, "%-16s %s: a query would be decided by the "
			"resolver's address, with ECS scope 0; look that up "
			"instead\n", "note",
			d.ecs_private ? "the ECS address is private (RFC 7871 §10)"
			: !cfg->ecs ? "ecs is off" : "SOURCE PREFIX-LENGTH is 0");
		return 0;
	}
	print_addr(out, "looked up", &d.addr, d.addr_bits);
	if (d.offset > 0)
		fprintf(out, "%-16s IPv4 carried at bit %u of IPv6\n", "unwrapped",
			d.offset);
	print_geo(out, &d);
	print_override(out, cfg, &d);
	fprintf(out, "%-16s %s\n", "region", cfg->regions[d.region_before_shed].name);
	print_shed(out, snap, &d);
	fprintf(out, "%-16s %s\n", "answer region", cfg->regions[d.region].name);
	print_vips(out, &cfg->regions[d.region]);
	if (d.used_ecs)
		fprintf(out, "%-16s %u\n", "ecs scope", d.scope);
	else
		fprintf(out, "%-16s 0 (no ECS address used)\n", "ecs scope");
	return 0;
}
