/*
 * tests/fuzz/fuzz_query.c — query_process on arbitrary request bytes,
 * against the tests/fixtures/query snapshot, over UDP and TCP, from IPv4,
 * IPv6 and v4-mapped sources. Aborts when a response breaks the SPEC.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "diag.h"
#include "edns.h"
#include "query.h"
#include "snapshot.h"
#include "fuzz.h"

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

// the AU override sends this client to "lab", the region that sheds
#define SOURCE_V4 "203.0.113.7"
#define SOURCE_MAPPED "::ffff:203.0.113.7"
#define SOURCE_V6 "2001:db8:3::1"

static struct snapshot *snap;
static struct sockaddr_in from_v4;
static struct sockaddr_in6 from_v6, from_mapped;
static uint8_t resp_udp[QUERY_BUFFER_SIZE];
static uint8_t resp_tcp[QUERY_BUFFER_SIZE];
static uint8_t resp_other[QUERY_BUFFER_SIZE];

static void fuzz_query_addr6(struct sockaddr_in6 *sin6, const char *text)
{
	memset(sin6, 0, sizeof(*sin6));
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(53000);
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) != 1)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	// GEOVIP_FIXTURES lets an installed or moved binary find the fixture
	const char *dir = getenv("GEOVIP_FIXTURES");
	char path[4096];
	snprintf(path, sizeof(path), "%s/query/geovip.yaml",
		 dir != NULL ? dir : FIXTURES);
	struct diag *d = diag_new();
	snap = snapshot_load(path, d);
	if (snap == NULL) {
		diag_print(d, stderr);
		fprintf(stderr, "%s: cannot load the fixture snapshot "
			"(set GEOVIP_FIXTURES to tests/fixtures)\n", path);
		exit(1);
	}
	diag_free(d);

	memset(&from_v4, 0, sizeof(from_v4));
	from_v4.sin_family = AF_INET;
	from_v4.sin_port = htons(53000);
	inet_pton(AF_INET, SOURCE_V4, &from_v4.sin_addr);
	fuzz_query_addr6(&from_v6, SOURCE_V6);
	fuzz_query_addr6(&from_mapped, SOURCE_MAPPED);
	return 0;
}

/*
 * The UDP limit an independent reader (ldns) sees in the request, or the
 * server maximum when ldns cannot tell (unparsable, several OPTs). geovip
 * may see less (it stops at the first fault), never more.
 */
static size_t fuzz_query_udp_limit(const uint8_t *data, size_t size)
{
	ldns_pkt *q = NULL;
	size_t limit = EDNS_SERVER_PAYLOAD;
	if (ldns_wire2pkt(&q, data, size) != LDNS_STATUS_OK)
		return limit;
	// ldns drops each OPT from the additional count it keeps
	unsigned arcount = (unsigned)data[10] << 8 | data[11];
	unsigned opts = arcount - ldns_pkt_arcount(q);
	if (opts == 0) {
		limit = 512;
	} else if (opts == 1) {
		size_t adv = ldns_pkt_edns_udp_size(q);
		limit = adv < 512 ? 512 : adv > limit ? limit : adv;
	}
	ldns_pkt_free(q);
	return limit;
}

/* Checks what must hold for any response; returns its TC bit. */
static bool fuzz_query_check(const uint8_t *data, size_t size,
			     const uint8_t *resp, size_t n,
			     enum query_transport t)
{
	FUZZ_CHECK(n <= QUERY_BUFFER_SIZE);
	// no answer exactly for runts and responses (SPEC: no loops)
	bool drop = size < 12 || (data[2] & 0x80) != 0;
	FUZZ_CHECK((n == 0) == drop);
	if (n == 0)
		return false;
	if (t == QUERY_UDP)
		FUZZ_CHECK(n <= fuzz_query_udp_limit(data, size));

	ldns_pkt *p = NULL;
	FUZZ_CHECK(ldns_wire2pkt(&p, resp, n) == LDNS_STATUS_OK);
	FUZZ_CHECK(ldns_pkt_qr(p));
	FUZZ_CHECK(ldns_pkt_id(p) == ((unsigned)data[0] << 8 | data[1]));
	FUZZ_CHECK(ldns_pkt_qdcount(p) <= 1);
	if (t == QUERY_UDP && !ldns_pkt_edns(p))
		FUZZ_CHECK(n <= 512);
	bool tc = ldns_pkt_tc(p);
	if (t == QUERY_TCP)
		FUZZ_CHECK(!tc);
	ldns_pkt_free(p);
	return tc;
}

/*
 * An untruncated UDP answer is the TCP one, except that the addresses in
 * the additional section of an NS/MX/SRV answer (optional data) may stop
 * earlier: header, question, answer and authority equal, the UDP
 * additional records a prefix of the TCP ones.
 */
static void fuzz_query_same_but_additional(const uint8_t *udp, size_t udp_len,
					   const uint8_t *tcp, size_t tcp_len)
{
	if (udp_len == tcp_len && memcmp(udp, tcp, udp_len) == 0)
		return;
	ldns_pkt *u = NULL, *t = NULL;
	FUZZ_CHECK(ldns_wire2pkt(&u, udp, udp_len) == LDNS_STATUS_OK);
	FUZZ_CHECK(ldns_wire2pkt(&t, tcp, tcp_len) == LDNS_STATUS_OK);
	FUZZ_CHECK(memcmp(udp, tcp, 10) == 0); // ID, flags, QD/AN/NSCOUNT
	FUZZ_CHECK(ldns_rr_list_compare(ldns_pkt_answer(u), ldns_pkt_answer(t)) == 0);
	FUZZ_CHECK(ldns_rr_list_compare(ldns_pkt_authority(u), ldns_pkt_authority(t)) == 0);
	ldns_rr_list *ua = ldns_pkt_additional(u), *ta = ldns_pkt_additional(t);
	FUZZ_CHECK(ldns_rr_list_rr_count(ua) < ldns_rr_list_rr_count(ta));
	for (size_t i = 0; i < ldns_rr_list_rr_count(ua); i++)
		FUZZ_CHECK(ldns_rr_compare(ldns_rr_list_rr(ua, i),
					   ldns_rr_list_rr(ta, i)) == 0);
	ldns_pkt_free(u);
	ldns_pkt_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct sockaddr *v4 = (const struct sockaddr *)&from_v4;
	size_t udp = query_process(snap, data, size, v4, QUERY_UDP, resp_udp, NULL);
	bool tc = fuzz_query_check(data, size, resp_udp, udp, QUERY_UDP);
	size_t tcp = query_process(snap, data, size, v4, QUERY_TCP, resp_tcp, NULL);
	fuzz_query_check(data, size, resp_tcp, tcp, QUERY_TCP);
	// SPEC: TCP gets the whole answer, which UDP has unless it set TC;
	// only the optional additional addresses may be cut short over UDP
	if (!tc)
		fuzz_query_same_but_additional(resp_udp, udp, resp_tcp, tcp);
	else
		FUZZ_CHECK(tcp > udp && tcp > 512);

	size_t n = query_process(snap, data, size,
				 (const struct sockaddr *)&from_v6, QUERY_UDP,
				 resp_other, NULL);
	fuzz_query_check(data, size, resp_other, n, QUERY_UDP);

	// SPEC: a v4-mapped source is its IPv4 address in every respect
	n = query_process(snap, data, size,
			  (const struct sockaddr *)&from_mapped, QUERY_UDP,
			  resp_other, NULL);
	fuzz_query_check(data, size, resp_other, n, QUERY_UDP);
	FUZZ_CHECK(n == udp && memcmp(resp_other, resp_udp, n) == 0);
	return 0;
}
