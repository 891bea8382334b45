/*
 * tests/fuzz/fuzz_zone.c — zone text and one $INCLUDE file (the input
 * split at the first "\n%%\n") through the zone loader as zone
 * example.org., then every node queried through query_process over UDP
 * and TCP. Aborts when a load or an answer breaks an invariant.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "dname.h"
#include "query.h"
#include "snapshot.h"
#include "zone.h"
#include "fuzz.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

#define MAX_NODES 64

static struct snapshot *snap;           /* config, geo and regions */
static char dir[64], zone_path[96], inc_path[96];
static struct sockaddr_in from;
static uint8_t resp[QUERY_BUFFER_SIZE];
static const char *regional_text[] = { "www", "*.edge" };
static struct config_regional_name regional[2];

static void fuzz_zone_cleanup(void)
{
	unlink(zone_path);
	unlink(inc_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	const char *fx = getenv("GEOVIP_FIXTURES");
	char path[4096];
	snprintf(path, sizeof(path), "%s/query/geovip.yaml",
		 fx != NULL ? fx : FIXTURES);
	struct diag *d = diag_new();
	if ((snap = snapshot_load(path, d)) == NULL) {
		diag_print(d, stderr);
		fprintf(stderr, "%s: cannot load the fixture snapshot "
			"(set GEOVIP_FIXTURES to tests/fixtures)\n", path);
		exit(1);
	}
	diag_free(d);
	snprintf(dir, sizeof(dir), "/tmp/geovip-fuzz-zone.XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(zone_path, sizeof(zone_path), "%s/z.zone", dir);
	snprintf(inc_path, sizeof(inc_path), "%s/inc.inc", dir);
	atexit(fuzz_zone_cleanup);
	uint8_t origin[DNAME_MAX];
	dname_from_text(origin, "example.org.", NULL);
	for (size_t i = 0; i < 2; i++) {
		regional[i].text = (char *)regional_text[i];
		regional[i].name_len = dname_from_text(regional[i].name,
						       regional_text[i], origin);
		regional[i].line = 1;
	}
	from.sin_family = AF_INET;
	from.sin_port = htons(53000);
	inet_pton(AF_INET, "203.0.113.7", &from.sin_addr);
	return 0;
}

static void fuzz_zone_write(const char *path, const uint8_t *data,
			    size_t size)
{
	FILE *f = fopen(path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0) {
		perror(path);
		abort();
	}
}

/* A query for name/type with the given ID, optionally with an OPT. */
static size_t fuzz_zone_query(uint8_t *q, const uint8_t *name,
			      uint16_t type, uint16_t id, int edns)
{
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0x80, 0,
				       0, 0 };
	size_t len = dname_length(name);
	memset(q, 0, 12);
	q[0] = (uint8_t)(id >> 8);
	q[1] = (uint8_t)id;
	q[5] = 1;
	q[11] = edns ? 1 : 0;
	memcpy(q + 12, name, len);
	q[12 + len] = (uint8_t)(type >> 8);
	q[13 + len] = (uint8_t)type;
	q[14 + len] = 0;
	q[15 + len] = 1;
	len += 16;
	if (edns) {
		memcpy(q + len, opt, sizeof(opt));
		len += sizeof(opt);
	}
	return len;
}

static void fuzz_zone_ask(const struct snapshot *s, const uint8_t *name,
			  uint16_t type, uint16_t id, int edns)
{
	uint8_t q[DNAME_MAX + 32];
	size_t qlen = fuzz_zone_query(q, name, type, id, edns);
	for (int t = 0; t < 2; t++) {
		enum query_transport tr = t ? QUERY_TCP : QUERY_UDP;
		size_t n = query_process(s, q, qlen,
					 (const struct sockaddr *)&from, tr,
					 resp, NULL);
		FUZZ_CHECK(n >= 12 && n <= QUERY_BUFFER_SIZE);
		ldns_pkt *p = NULL;
		FUZZ_CHECK(ldns_wire2pkt(&p, resp, n) == LDNS_STATUS_OK);
		FUZZ_CHECK(ldns_pkt_qr(p));
		FUZZ_CHECK(ldns_pkt_id(p) == id);
		FUZZ_CHECK(ldns_pkt_get_rcode(p) != LDNS_RCODE_REFUSED);
		FUZZ_CHECK(ldns_pkt_get_rcode(p) != LDNS_RCODE_SERVFAIL);
		if (tr == QUERY_TCP)
			FUZZ_CHECK(!ldns_pkt_tc(p));
		else if (!edns)
			FUZZ_CHECK(n <= 512);
		ldns_pkt_free(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = { 1, 28, 5, 2, 15, 16, 6, 255, 99 };
	const uint8_t *sep = memmem(data, size, "\n%%\n", 4);
	size_t zlen = sep != NULL ? (size_t)(sep - data) : size;
	fuzz_zone_write(zone_path, data, zlen);
	if (sep != NULL)
		fuzz_zone_write(inc_path, sep + 4, size - zlen - 4);
	else
		fuzz_zone_write(inc_path, (const uint8_t *)"", 0);

	struct config cfg = *snap->config;
	struct config_zone cz = { .origin_text = (char *)"example.org.",
				  .file = zone_path, .ttl = 30, .line = 1,
				  .regional = regional, .regional_count = 2 };
	cz.origin_len = dname_from_text(cz.origin, "example.org.", NULL);
	cfg.zones = &cz;
	cfg.zone_count = 1;
	struct diag *d = diag_new();
	struct zone_set *zs = zone_set_load(&cfg, d);
	// refused exactly when an error was recorded, and every message
	// names a file
	FUZZ_CHECK((zs == NULL) == (diag_errors(d) > 0));
	for (size_t i = 0; i < diag_count(d); i++)
		FUZZ_CHECK(strncmp(diag_message(d, i), dir, strlen(dir)) == 0 ||
			   strncmp(diag_message(d, i), cfg.path,
				   strlen(cfg.path)) == 0);
	diag_free(d);
	if (zs == NULL)
		return 0;

	struct snapshot s = { .config = &cfg, .zones = zs, .geo = snap->geo,
			      .regions = snap->regions };
	const struct zone *z = zone_set_zone(zs, 0);
	uint16_t id = (uint16_t)size;
	for (size_t i = 0; i < z->node_count && i < MAX_NODES; i++) {
		const struct zone_node *n = &z->nodes[i];
		FUZZ_CHECK(dname_check(n->name, n->name_len) == n->name_len);
		FUZZ_CHECK(zone_find_node(z, n->name) == n);
		for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++)
			fuzz_zone_ask(&s, n->name, types[t], id++, (int)(t & 1));
	}
	zone_set_free(zs);
	return 0;
}
