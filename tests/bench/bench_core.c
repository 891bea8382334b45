/*
 * tests/bench/bench_core.c — query_process in-process, no sockets: a fixed,
 * seeded corpus per query class against the tests/fixtures/query snapshot,
 * timed in ns per query. Run by bench_core.sh (`make bench-core`), which
 * also runs it under callgrind for instructions per answer.
 *
 *   bench_core [--class NAME] [--rounds N] [--quiet] FIXTURES_DIR
 *
 * Classes: static (A from the zone file), nxdomain, nodata (a type the
 * name does not have), regional-ecs (A with
 * an ECS /24 from 4096 distinct /24s), regional-ecs6 (AAAA with an ECS /48),
 * regional-src (A without ECS, the packet source from the same /24s).
 * Every answer is checked (RCODE, answer count) before anything is timed.
 * --rounds 0 answers each query of the class once and times nothing: that
 * is the mode callgrind counts.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "diag.h"
#include "metrics.h"
#include "query.h"
#include "snapshot.h"

#define BENCH_CORPUS 4096
#define BENCH_NOW 1700000000u /* the clock query_process is given */
#define BENCH_PASSES 50         /* corpus passes per timed round */

struct bench_query {
	uint8_t pkt[128];
	size_t len;
	struct sockaddr_storage from;
};

struct bench_class {
	const char *name;
	const char *what;
	void (*make)(struct bench_query *q, unsigned i, uint32_t *seed);
	uint8_t rcode;          /* expected */
	bool answers;           /* ancount > 0 expected */
};

static struct bench_query corpus[BENCH_CORPUS];
static uint8_t resp[QUERY_BUFFER_SIZE];

static uint32_t bench_rand(uint32_t *seed)
{
	// xorshift32: the same corpus on every run and machine
	uint32_t x = *seed;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *seed = x;
}

static size_t bench_put_name(uint8_t *p, const char *name)
{
	size_t n = 0;
	while (*name != '\0') {
		size_t len = strcspn(name, ".");
		p[n++] = (uint8_t)len;
		memcpy(p + n, name, len);
		n += len;
		name += len + (name[len] == '.');
	}
	p[n++] = 0;
	return n;
}

/* A query for name/type; with EDNS (1232) when ecs_len >= 0, and then an
 * ECS option of family, source length ecs_len and address addr. */
static void bench_build(struct bench_query *q, unsigned id, const char *name,
			uint16_t type, int family, int ecs_len,
			const uint8_t *addr)
{
	uint8_t *p = q->pkt;
	size_t n = 0;
	const uint8_t hdr[12] = { (uint8_t)(id >> 8), (uint8_t)id, 0x01, 0,
				  0, 1, 0, 0, 0, 0, 0, ecs_len >= 0 ? 1 : 0 };
	memcpy(p, hdr, 12);
	n = 12 + bench_put_name(p + 12, name);
	p[n++] = (uint8_t)(type >> 8);
	p[n++] = (uint8_t)type;
	p[n++] = 0;
	p[n++] = 1;
	if (ecs_len >= 0) {
		size_t alen = ((size_t)ecs_len + 7) / 8;
		const uint8_t opt[11] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0,
					  (uint8_t)(8 + alen) };
		memcpy(p + n, opt, 11);
		n += 11;
		const uint8_t ecs[8] = { 0, 8, 0, (uint8_t)(4 + alen), 0,
					 (uint8_t)(family == AF_INET ? 1 : 2),
					 (uint8_t)ecs_len, 0 };
		memcpy(p + n, ecs, 8);
		n += 8;
		memcpy(p + n, addr, alen);
		n += alen;
	}
	q->len = n;
}

static void bench_from4(struct bench_query *q, const uint8_t addr[4])
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&q->from;
	memset(&q->from, 0, sizeof(q->from));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(53000);
	memcpy(&sin->sin_addr, addr, 4);
}

/*
 * A /24 from the networks geo/sample.mmdb knows on every continent (the
 * same as `make bench`'s gen.py) and from 45/8, which it does not know.
 */
static void bench_pick_24(uint8_t out[4], uint32_t *seed)
{
	static const struct { uint8_t a, b, c, bits; } nets[] = {
		{ 177, 0, 0, 8 }, { 8, 8, 8, 24 }, { 81, 0, 0, 8 },
		{ 2, 16, 0, 13 }, { 41, 0, 0, 11 }, { 1, 0, 0, 24 },
		{ 203, 0, 113, 24 }, { 101, 0, 0, 22 }, { 45, 0, 0, 8 },
	};
	unsigned k = bench_rand(seed) % (sizeof(nets) / sizeof(*nets));
	uint32_t base = (uint32_t)nets[k].a << 24 | (uint32_t)nets[k].b << 16 |
			(uint32_t)nets[k].c << 8;
	uint32_t span = nets[k].bits >= 24 ? 0 : (1u << (24 - nets[k].bits)) - 1;
	uint32_t addr = base | (span ? (bench_rand(seed) % (span + 1)) << 8 : 0);
	out[0] = (uint8_t)(addr >> 24);
	out[1] = (uint8_t)(addr >> 16);
	out[2] = (uint8_t)(addr >> 8);
	out[3] = 0;
}

static const uint8_t resolver[4] = { 192, 0, 2, 1 };

static void make_static(struct bench_query *q, unsigned i, uint32_t *seed)
{
	static const char *const names[] = {
		"ns1.example.com", "ns2.example.com", "mail.example.com",
		"mx1.example.com", "mx2.example.com", "mx3.example.com",
		"mx4.example.com", "mx5.example.com", "sip.example.com",
		"host.sub2.example.com", "mx9.example.com", "mx10.example.com",
	};
	bench_build(q, i, names[bench_rand(seed) % 12], 1, 0, -1, NULL);
	bench_from4(q, resolver);
}

static void make_nxdomain(struct bench_query *q, unsigned i, uint32_t *seed)
{
	char name[64];
	snprintf(name, sizeof(name), "nx%05u.example.com", i);
	bench_build(q, i, name, 1, 0, -1, NULL);
	bench_from4(q, resolver);
}

static void make_nodata(struct bench_query *q, unsigned i, uint32_t *seed)
{
	// names with A records only, asked for TXT
	static const char *const names[] = {
		"ns2.example.com", "mail.example.com", "mx1.example.com",
		"mx2.example.com", "mx3.example.com", "sip.example.com",
		"host.sub2.example.com", "mx9.example.com",
	};
	bench_build(q, i, names[bench_rand(seed) % 8], 16, 0, -1, NULL);
	bench_from4(q, resolver);
}

static void make_regional_ecs(struct bench_query *q, unsigned i, uint32_t *seed)
{
	uint8_t net[4];
	bench_pick_24(net, seed);
	bench_build(q, i, "www.example.com", 1, AF_INET, 24, net);
	bench_from4(q, resolver);
}

static void make_regional_ecs6(struct bench_query *q, unsigned i, uint32_t *seed)
{
	// a /48 in one of the /12s the sample database maps to a continent
	static const uint8_t tops[5][2] = { { 0x2a, 0x00 }, { 0x24, 0x00 },
					    { 0x26, 0x00 }, { 0x28, 0x00 },
					    { 0x2c, 0x00 } };
	uint8_t a[16] = { 0 };
	unsigned k = bench_rand(seed) % 5;
	uint32_t r = bench_rand(seed);
	a[0] = tops[k][0];
	a[1] = (uint8_t)(tops[k][1] | (r & 0x0f));
	a[2] = (uint8_t)(r >> 8);
	a[3] = (uint8_t)(r >> 16);
	a[4] = (uint8_t)(r >> 24);
	a[5] = (uint8_t)bench_rand(seed);
	bench_build(q, i, "www.example.com", 28, AF_INET6, 48, a);
	bench_from4(q, resolver);
}

static void make_regional_src(struct bench_query *q, unsigned i, uint32_t *seed)
{
	uint8_t net[4];
	bench_pick_24(net, seed);
	net[3] = (uint8_t)(1 + bench_rand(seed) % 254);
	bench_build(q, i, "www.example.com", 1, 0, -1, NULL);
	bench_from4(q, net);
}

static const struct bench_class classes[] = {
	{ "static", "static A from the zone file", make_static, 0, true },
	{ "nxdomain", "NXDOMAIN (SOA in authority)", make_nxdomain, 3, false },
	{ "nodata", "NODATA (SOA in authority)", make_nodata, 0, false },
	{ "regional-ecs", "regional A, ECS from 4096 /24s", make_regional_ecs,
	  0, true },
	{ "regional-ecs6", "regional AAAA, ECS /48", make_regional_ecs6, 0,
	  false /* NODATA where the region has no IPv6 VIP */ },
	{ "regional-src", "regional A without ECS (source address)",
	  make_regional_src, 0, true },
};

static void bench_make(const struct bench_class *c)
{
	uint32_t seed = 0x9e3779b9;
	for (unsigned i = 0; i < BENCH_CORPUS; i++)
		c->make(&corpus[i], i, &seed);
}

/* As a worker does: each answer reported and counted for metrics. */
static struct metrics_counters bench_counters;

/* Every query answered as the class expects; -1 (with a message) if not. */
static int bench_verify(const struct snapshot *snap, const struct bench_class *c)
{
	for (unsigned i = 0; i < BENCH_CORPUS; i++) {
		const struct bench_query *q = &corpus[i];
		struct query_result qi;
		size_t n = query_process(snap, q->pkt, q->len,
					 (const struct sockaddr *)&q->from,
					 QUERY_UDP, BENCH_NOW, resp, &qi);
		metrics_count(&bench_counters, &qi);
		unsigned ancount = n >= 12 ? (unsigned)(resp[6] << 8 | resp[7]) : 0;
		if (n < 12 || (resp[3] & 0xf) != c->rcode ||
		    (c->answers && ancount == 0)) {
			fprintf(stderr, "bench_core: %s query %u: unexpected answer "
				"(%zu bytes, rcode %u, %u answers)\n", c->name, i,
				n, n >= 12 ? (unsigned)(resp[3] & 0xf) : 0u, ancount);
			return -1;
		}
	}
	return 0;
}

static double bench_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t bench_pass(const struct snapshot *snap)
{
	size_t sink = 0;
	for (unsigned i = 0; i < BENCH_CORPUS; i++) {
		struct query_result qi;
		sink += query_process(snap, corpus[i].pkt, corpus[i].len,
				      (const struct sockaddr *)&corpus[i].from,
				      QUERY_UDP, BENCH_NOW, resp, &qi);
		metrics_count(&bench_counters, &qi);
	}
	return sink;
}

static int bench_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Median over rounds of the mean ns per query of BENCH_PASSES passes. */
static double bench_time(const struct snapshot *snap, unsigned rounds)
{
	double ns[64] = { 0 };
	volatile size_t sink = bench_pass(snap); // warm the caches
	for (unsigned r = 0; r < rounds; r++) {
		double t0 = bench_now();
		for (unsigned p = 0; p < BENCH_PASSES; p++)
			sink += bench_pass(snap);
		ns[r] = (bench_now() - t0) / ((double)BENCH_PASSES * BENCH_CORPUS);
	}
	(void)sink;
	qsort(ns, rounds, sizeof(*ns), bench_cmp);
	return ns[rounds / 2];
}

int main(int argc, char **argv)
{
	const char *only = NULL, *fixtures = NULL;
	unsigned rounds = 7;
	bool quiet = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--class") == 0 && i + 1 < argc)
			only = argv[++i];
		else if (strcmp(argv[i], "--rounds") == 0 && i + 1 < argc)
			rounds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--quiet") == 0)
			quiet = true;
		else
			fixtures = argv[i];
	}
	if (fixtures == NULL || rounds > 64) {
		fprintf(stderr, "usage: bench_core [--class NAME] [--rounds N<=64] "
			"[--quiet] FIXTURES_DIR\n");
		return 2;
	}
	char path[4096];
	snprintf(path, sizeof(path), "%s/query/geovip.yaml", fixtures);
	struct diag *d = diag_new();
	struct snapshot *snap = d != NULL ? snapshot_load(path, d) : NULL;
	if (snap == NULL) {
		if (d != NULL)
			diag_print(d, stderr);
		diag_free(d);
		fprintf(stderr, "bench_core: cannot load %s\n", path);
		return 1;
	}
	diag_free(d);

	int rc = 0, ran = 0;
	for (size_t k = 0; k < sizeof(classes) / sizeof(*classes); k++) {
		const struct bench_class *c = &classes[k];
		if (only != NULL && strcmp(only, c->name) != 0)
			continue;
		ran++;
		bench_make(c);
		// under callgrind (--rounds 0) this one pass is what is counted
		if (bench_verify(snap, c) < 0) {
			rc = 1;
			continue;
		}
		if (rounds > 0 && !quiet)
			printf("%-14s %8.1f ns/query   %s\n", c->name,
			       bench_time(snap, rounds), c->what);
	}
	snapshot_unref(snap);
	if (ran == 0) {
		fprintf(stderr, "bench_core: no class '%s'\n", only);
		return 2;
	}
	return rc;
}
