/*
 * tests/unit/test_region.c — SipHash vectors, the override prefix tree,
 * the shed hash (its documented vectors, share and monotonicity), and
 * region_decide's precedence and scopes on the query fixture, the
 * merged decision tree against a step-by-step reference written here,
 * and health: spreading by capacity, fallback, monotonicity, all down.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <stdlib.h>

#include "addr.h"
#include "config.h"
#include "country.h"
#include "diag.h"
#include "geo.h"
#include "geomap.h"
#include "overlay.h"
#include "prefix.h"
#include "region.h"
#include "siphash.h"
#include "snapshot.h"

#include <event2/event.h>

/* README.md, "Load shedding": key 00..0f, 198.51.100.0/24; all-zero key, 2001:db8:2::/56 */
#define SHED_VECTOR_V4 0x4d0e76421d4bdf54ULL /* mod 10000 = 996 */
#define SHED_VECTOR_V6 0x5805ea56cd478cdeULL /* mod 10000 = 7086 */

static const uint8_t seq_key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11,
				     12, 13, 14, 15 };

static void test_siphash_reference_vectors(void **state)
{
	uint8_t msg[64];
	for (unsigned i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	// from the SipHash reference implementation (vectors.h), read LE
	assert_int_equal(siphash24(seq_key, msg, 0), 0x726fdb47dd0e0e31ULL);
	assert_int_equal(siphash24(seq_key, msg, 1), 0x74f839c593dc67fdULL);
	assert_int_equal(siphash24(seq_key, msg, 15), 0xa129ca6149be45e5ULL);
	assert_int_equal(siphash24(seq_key, msg, 63), 0x958a324ceb064572ULL);
}

static struct ip_addr v4(const char *text)
{
	struct ip_addr a = { AF_INET, { 0 } };
	assert_int_equal(inet_pton(AF_INET, text, a.bytes), 1);
	return a;
}

static struct ip_addr v6(const char *text)
{
	struct ip_addr a = { AF_INET6, { 0 } };
	assert_int_equal(inet_pton(AF_INET6, text, a.bytes), 1);
	return a;
}

/* The definitions in prefix.h, by brute force over the networks. */
struct ref_net {
	uint8_t key[16];
	unsigned len;
};

static bool ref_agree(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	for (unsigned i = 0; i < bits; i++)
		if (addr_bit(a, i) != addr_bit(b, i))
			return false;
	return true;
}

static void ref_lookup(const struct ref_net *nets, size_t n, unsigned max,
		       const uint8_t *addr, struct prefix_match *out)
{
	out->value = -1;
	out->match_len = 0;
	for (size_t i = 0; i < n; i++)
		if (ref_agree(nets[i].key, addr, nets[i].len) &&
		    (out->value < 0 || nets[i].len > out->match_len)) {
			out->value = (int)i;
			out->match_len = (uint8_t)nets[i].len;
		}
	// shortest L with no network longer than L inside addr/L
	for (unsigned l = 0; l <= max; l++) {
		bool split = false;
		for (size_t i = 0; i < n && !split; i++)
			split = nets[i].len > l && ref_agree(nets[i].key, addr, l);
		if (!split) {
			out->uniform_len = (uint8_t)l;
			return;
		}
	}
}

/* The path-compressed trie agrees with the definitions on random
 * networks that share long prefixes (so edges split and join). */
static void test_prefix_tree_against_reference(void **state)
{
	(void)state;
	srand(7);
	for (unsigned round = 0; round < 200; round++) {
		unsigned max = round % 2 ? 128 : 32;
		struct ref_net nets[40];
		size_t n = 0;
		struct prefix_tree *t = prefix_tree_new(max);
		assert_non_null(t);
		for (unsigned i = 0; i < 40; i++) {
			struct ref_net r = { { 0x20, 0x01 }, (unsigned)rand() % (max + 1) };
			// few distinct bits, so networks nest and collide
			for (unsigned b = 0; b < 6; b++)
				if (rand() % 2)
					r.key[(rand() % (max / 8)) ] ^=
						(uint8_t)(1u << (rand() % 8));
			addr_bits_clear(r.key, r.len, 128);
			int rc = prefix_tree_insert(t, r.key, r.len, (int)n);
			if (rc == 0)
				nets[n++] = r;
			else
				assert_true(rc <= -2); // a repeat, never no memory
		}
		assert_int_equal(prefix_tree_count(t), n);
		for (unsigned q = 0; q < 200; q++) {
			uint8_t addr[16] = { 0x20, 0x01 };
			if (n > 0 && rand() % 2)
				memcpy(addr, nets[(size_t)rand() % n].key, 16);
			for (unsigned b = 0; b < 3; b++)
				addr[rand() % (max / 8)] ^= (uint8_t)(1u << (rand() % 8));
			struct prefix_match got, want;
			prefix_tree_lookup(t, addr, &got);
			ref_lookup(nets, n, max, addr, &want);
			assert_int_equal(got.value, want.value);
			assert_int_equal(got.match_len, want.match_len);
			assert_int_equal(got.uniform_len, want.uniform_len);
		}
		prefix_tree_free(t);
	}
}

static void test_prefix_tree_longest_match_and_uniform(void **state)
{
	struct prefix_tree *t = prefix_tree_new(32);
	struct ip_addr n8 = v4("10.0.0.0"), n24 = v4("10.1.2.0");
	assert_int_equal(prefix_tree_insert(t, n8.bytes, 8, 0), 0);
	assert_int_equal(prefix_tree_insert(t, n24.bytes, 24, 1), 0);
	assert_int_equal(prefix_tree_insert(t, n24.bytes, 24, 2), -3); // dup of 1

	struct prefix_match m;
	struct ip_addr a = v4("10.1.2.3");
	prefix_tree_lookup(t, a.bytes, &m);
	assert_int_equal(m.value, 1);
	assert_int_equal(m.match_len, 24);
	assert_int_equal(m.uniform_len, 24);

	// in 10/8 but next to 10.1.2.0/24: 10.1.3.0 differs at bit 23
	a = v4("10.1.3.1");
	prefix_tree_lookup(t, a.bytes, &m);
	assert_int_equal(m.value, 0);
	assert_int_equal(m.match_len, 8);
	assert_int_equal(m.uniform_len, 24);

	a = v4("10.200.0.1"); // differs from 10.1.2.0 at bit 8
	prefix_tree_lookup(t, a.bytes, &m);
	assert_int_equal(m.value, 0);
	assert_int_equal(m.uniform_len, 9);

	a = v4("192.0.2.1"); // differs from 10/8 at bit 0
	prefix_tree_lookup(t, a.bytes, &m);
	assert_int_equal(m.value, -1);
	assert_int_equal(m.uniform_len, 1);
	assert_int_equal(prefix_tree_count(t), 2);
	prefix_tree_free(t);

	t = prefix_tree_new(128);
	prefix_tree_lookup(t, a.bytes, &m);
	assert_int_equal(m.value, -1);
	assert_int_equal(m.uniform_len, 0); // an empty tree never splits
	prefix_tree_free(t);
}

static void test_shed_hash_documented_vectors(void **state)
{
	// the worked examples in README.md ("Load shedding")
	static const uint8_t zero[16] = { 0 };
	struct ip_addr a = v4("198.51.100.0");
	assert_int_equal(region_shed_hash(seq_key, &a, 24), SHED_VECTOR_V4);
	a = v4("198.51.100.77"); // bits after K do not matter
	assert_int_equal(region_shed_hash(seq_key, &a, 24), SHED_VECTOR_V4);
	struct ip_addr b = v6("2001:db8:2::");
	assert_int_equal(region_shed_hash(zero, &b, 56), SHED_VECTOR_V6);

	// the hashed bytes: family, K, masked address
	uint8_t msg[6] = { 4, 24, 198, 51, 100, 0 };
	assert_int_equal(siphash24(seq_key, msg, 6), SHED_VECTOR_V4);
}

static void test_shed_share_and_monotonic(void **state)
{
	// 100000 distinct /24s: the share shed at P% is close to P%
	static const unsigned percents_bp[] = { 100, 2500, 5000, 9999 };
	unsigned shed[4] = { 0 };
	for (unsigned i = 0; i < 100000; i++) {
		struct ip_addr a = { AF_INET, { (uint8_t)(1 + i / 65536),
						(uint8_t)(i / 256), (uint8_t)i, 0 } };
		uint64_t h = region_shed_hash(seq_key, &a, 24) % 10000;
		bool before = false;
		for (unsigned p = 0; p < 4; p++) {
			bool now = h < percents_bp[p];
			assert_true(!before || now); // shed at P → shed at P' > P
			before = now;
			shed[p] += now;
		}
	}
	for (unsigned p = 0; p < 4; p++) {
		double share = shed[p] / 100000.0 * 10000.0;
		assert_true(share > percents_bp[p] * 0.9 - 20 &&
			    share < percents_bp[p] * 1.1 + 20);
	}
}

static void test_private_ranges(void **state)
{
	const char *priv4[] = { "10.1.1.1", "172.16.0.1", "172.31.255.255",
				"192.168.1.1", "100.64.0.1", "127.0.0.1",
				"169.254.1.1", "0.1.2.3" };
	for (size_t i = 0; i < 8; i++) {
		struct ip_addr a = v4(priv4[i]);
		assert_true(addr_is_private(&a));
	}
	const char *pub4[] = { "172.32.0.1", "100.128.0.1", "11.0.0.1", "8.8.8.8" };
	for (size_t i = 0; i < 4; i++) {
		struct ip_addr a = v4(pub4[i]);
		assert_false(addr_is_private(&a));
	}
	const char *priv6[] = { "fc00::1", "fdff::1", "fe80::1", "::1", "::" };
	for (size_t i = 0; i < 5; i++) {
		struct ip_addr a = v6(priv6[i]);
		assert_true(addr_is_private(&a));
	}
	struct ip_addr a = v6("2001:db8::1");
	assert_false(addr_is_private(&a));
}

/* ---- region_decide on the query fixture --------------------------------- */

static struct snapshot *snap;

static int setup(void **state)
{
	struct diag *d = diag_new();
	snap = snapshot_load(FIXTURES "/query/geovip.yaml", d);
	if (snap == NULL)
		diag_print(d, stderr);
	diag_free(d);
	return snap == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	snapshot_unref(snap);
	return 0;
}

static struct region_explanation why; // of the last decide_ecs

static void decide_ecs(const char *addr, uint8_t bits, struct region_decision *out)
{
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true };
	c.ecs_addr = strchr(addr, ':') ? v6(addr) : v4(addr);
	c.ecs_source_len = bits;
	region_decide(snap->regions, snap->shed, &c, out);
	region_explain(snap->regions, snap->config, snap->geo, out, &why);
}

static const char *region_name(int r)
{
	return snap->config->regions[r].name;
}

static void test_decide_precedence(void **state)
{
	struct region_decision d;
	decide_ecs("192.0.2.200", 32, &d); // NA network, override /26 → apac
	assert_string_equal(region_name(d.region), "apac");
	assert_true(why.network_override >= 0);
	assert_int_equal(d.scope, 26);

	decide_ecs("177.1.0.0", 16, &d);   // BR: country override beats SA
	assert_string_equal(region_name(d.region), "emea");
	assert_true(why.country_override >= 0);

	decide_ecs("41.1.0.0", 16, &d);    // ZA → AF → emea by continent
	assert_string_equal(region_name(d.region), "emea");
	assert_int_equal(why.network_override, -1);
	assert_int_equal(why.country_override, -1);

	decide_ecs("2001:db8:ffff:1::", 64, &d); // IPv6 override
	assert_string_equal(region_name(d.region), "apac");
	assert_int_equal(d.scope, 48);
}

static void test_decide_scope_rules(void **state)
{
	struct region_decision d;
	// unknown address: the empty network merged with its neighbours of
	// the same region, not 0. 8.0.0.0/5 holds 8.8.8.0/24 (US), unknown
	// space (default americas) and 10/8 (private: its emea override
	// cannot split); 0.0.0.0/5 holds 1.0.0.0/24 (AU → lab).
	decide_ecs("8.8.4.0", 24, &d);
	assert_true(why.geo.record == NULL);
	assert_string_equal(region_name(d.region), "americas");
	assert_int_equal(why.geo.prefix_len, 21);
	assert_int_equal(d.scope, 5);
	assert_string_equal(region_name(why.neighbour_region), "lab");

	// 10/8 (private) lies inside 8.0.0.0/5, but private ranges never
	// split a scope
	decide_ecs("11.0.0.0", 24, &d);
	assert_int_equal(d.scope, 5);
	assert_true(d.scope < why.geo.prefix_len);

	// a packet source in private space still gets its exact region
	struct region_client src = { .source = v4("127.0.1.1") };
	region_decide(snap->regions, snap->shed, &src, &d);
	assert_string_equal(region_name(d.region), "emea"); // DE
	src.source = v4("127.0.2.1");
	region_decide(snap->regions, snap->shed, &src, &d);
	assert_string_equal(region_name(d.region), "apac"); // JP
	assert_int_equal(d.scope, 0);

	// shedding region: scope at least K (203.0.113/24 is AU → lab)
	decide_ecs("203.0.113.0", 24, &d);
	assert_string_equal(region_name(d.region_before_shed), "lab");
	assert_int_equal(d.shed_k, 24);
	assert_true(d.scope >= 24);
	decide_ecs("203.0.113.0", 20, &d);
	assert_int_equal(d.shed_k, 20);
}

/* Every address inside addr/scope gets the same region (sampled). */
static void test_decide_scope_property(void **state)
{
	uint32_t seed = 12345;
	for (unsigned n = 0; n < 3000; n++) {
		seed = seed * 1103515245u + 12345u;
		static const char *bases[] = { "192.0.2.0", "198.51.100.0",
					       "203.0.113.0", "1.0.0.0", "8.8.8.0",
					       "41.0.0.0", "177.0.0.0", "2.16.0.0" };
		struct ip_addr a = v4(bases[(seed >> 8) % 8]);
		a.bytes[3] = (uint8_t)(seed >> 16);
		a.bytes[2] ^= (uint8_t)((seed >> 24) & 3);
		char text[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, a.bytes, text, sizeof(text));
		struct region_decision d, other;
		decide_ecs(text, 32, &d);
		if (d.scope >= 32)
			continue;
		// flip one random bit after the scope
		unsigned bit = d.scope + (seed % (32u - d.scope));
		a.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		inet_ntop(AF_INET, a.bytes, text, sizeof(text));
		decide_ecs(text, 32, &other);
		if (!other.used_ecs)
			continue; // flipped into a private range
		assert_int_equal(d.region, other.region);
	}
}

/* ---- the merged tree against the step-by-step reference ----------------- */

/* The SPEC's steps 2, written here from the config alone: the longest
 * network override (linear scan), the country override, the continent,
 * the default. */
static int ref_region(const struct ip_addr *a)
{
	const struct config *cfg = snap->config;
	struct geo_result g;
	geo_lookup(snap->geo, a, &g);
	int best = -1, best_len = -1;
	for (size_t i = 0; i < cfg->network_override_count; i++) {
		const struct config_network_override *o = &cfg->network_overrides[i];
		if (o->net.family == a->family && (int)o->prefix_len > best_len &&
		    addr_prefix_contains(o->net.bytes, o->prefix_len, a->bytes)) {
			best = o->region;
			best_len = o->prefix_len;
		}
	}
	if (best >= 0)
		return best;
	if (g.record != NULL)
		for (size_t i = 0; i < cfg->country_override_count; i++)
			if (strcmp(cfg->country_overrides[i].code,
				   g.record->country) == 0)
				return cfg->country_overrides[i].region;
	unsigned c = g.record != NULL ? g.record->continent : CONTINENT_UNKNOWN;
	for (size_t i = 0; c < CONTINENT_COUNT && i < cfg->region_count; i++)
		if (cfg->regions[i].continents & (1u << c))
			return (int)i;
	return cfg->default_region;
}

static uint32_t rng_state = 2463534242u;

static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 17;
	rng_state ^= rng_state << 5;
	return rng_state;
}

/* A random address, biased to where the sample database and the
 * fixture's overrides have structure, and to the IPv4-carrying forms. */
static struct ip_addr random_addr(void)
{
	static const char *const v4_bases[] = {
		"192.0.2.0", "198.51.100.0", "203.0.113.0", "1.0.0.0",
		"8.8.8.0", "41.0.0.0", "177.0.0.0", "2.16.0.0", "127.0.0.0",
		"10.0.0.0", "101.0.0.0", "81.0.0.0", "100.64.0.0",
	};
	static const char *const v6_bases[] = {
		"2001:db8::", "2001:db8:ffff::", "2a00::", "2400::", "2600::",
		"2800::", "2c00::", "::ffff:0:0", "64:ff9b::", "2001::",
		"2002::", "fc00::", "fe80::", "::", "::1", "3000::",
	};
	uint32_t k = rng();
	struct ip_addr a;
	unsigned keep = 8 + rng() % 40;   // bits kept from the base
	if (k % 4 == 0) {       // anywhere
		a.family = k % 8 == 0 ? AF_INET : AF_INET6;
		for (unsigned i = 0; i < 16; i++)
			a.bytes[i] = (uint8_t)rng();
		if (a.family == AF_INET)
			memset(a.bytes + 4, 0, 12);
		return a;
	}
	if (k % 4 == 1) {
		a = v4(v4_bases[rng() % (sizeof(v4_bases) / sizeof(*v4_bases))]);
		keep = keep > 30 ? 30 : keep;
		for (unsigned b = keep; b < 32; b++)
			if (rng() & 1)
				a.bytes[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
		return a;
	}
	a = v6(v6_bases[rng() % (sizeof(v6_bases) / sizeof(*v6_bases))]);
	keep += rng() % 80;
	if (rng() % 4 == 0)
		keep = 128; // the base itself, e.g. ::1, ::ffff:0:0
	for (unsigned b = keep; b < 128; b++)
		if (rng() & 1)
			a.bytes[b / 8] ^= (uint8_t)(0x80 >> (b % 8));
	return a;
}

/* Decides a as an ECS client /len (or a packet source when len is 0). */
static void decide_addr(const struct ip_addr *a, unsigned len,
			struct region_decision *d)
{
	struct region_client c = { .source = v4("127.0.0.1") };
	if (len == 0) {
		c.source = *a;
	} else {
		c.has_ecs = true;
		c.ecs_addr = *a;
		addr_mask(&c.ecs_addr, len);
		c.ecs_source_len = (uint8_t)len;
	}
	region_decide(snap->regions, snap->shed, &c, d);
}

static unsigned random_len(int family)
{
	static const uint8_t v4_lens[] = { 0, 8, 16, 20, 24, 25, 28, 32 };
	static const uint8_t v6_lens[] = { 0, 16, 32, 40, 48, 56, 64, 96,
					   104, 112, 120, 128 };
	if (family == AF_INET)
		return v4_lens[rng() % sizeof(v4_lens)];
	return v6_lens[rng() % sizeof(v6_lens)];
}

/* Does net/len contain one of the IPv6 prefixes that carry IPv4? */
static bool holds_embedded_form(const struct ip_addr *net, unsigned len)
{
	if (net->family != AF_INET6)
		return false;
	for (size_t i = 0; i < addr_embedded_count(); i++) {
		struct ip_addr f;
		uint8_t flen, off;
		addr_embedded_get(i, &f, &flen, &off);
		if (flen > len && addr_prefix_contains(net->bytes, len, f.bytes))
			return true;
	}
	return false;
}

/*
 * Every client gets the reference region (before and after shed), and
 * the merged scope is truthful (every sampled public address of the
 * looked-up prefix addr/leaf_scope has the region; every sampled client
 * of the answered ECS prefix, sending the same SOURCE PREFIX-LENGTH,
 * gets the same answer region) and never narrower than the old one,
 * unless the old prefix held an IPv4-carrying IPv6 prefix (where the
 * old scope was not truthful: clients there are looked up as IPv4).
 */
static void test_merged_matches_reference(void **state)
{
	unsigned wider = 0, equal = 0, narrower_form = 0, checks = 0;
	for (unsigned n = 0; n < 20000; n++) {
		struct ip_addr a = random_addr();
		unsigned len = random_len(a.family);
		struct region_decision d;
		decide_addr(&a, len, &d);
		assert_int_equal(d.region_before_shed, ref_region(&d.addr));
		if (len > 0) { // the tree's private flag is addr_is_private
			struct ip_addr u = a;
			uint8_t ubits = (uint8_t)len;
			addr_mask(&u, len);
			addr_unwrap_v4(&u, &ubits);
			assert_int_equal(d.ecs_private, addr_is_private(&u));
			assert_int_equal(d.used_ecs, !addr_is_private(&u));
		}
		if (!d.used_ecs) {
			assert_int_equal(d.scope, 0);
			continue;
		}
		struct region_explanation x;
		region_explain(snap->regions, snap->config, snap->geo, &d, &x);
		assert_int_equal(x.region_before_shed, d.region_before_shed);
		assert_int_equal(x.reason, d.reason);
		assert_true(d.leaf_scope <= d.leaf_depth);
		if (d.leaf_scope < x.network_scope)
			wider++;
		else if (d.leaf_scope == x.network_scope)
			equal++;
		else {
			struct ip_addr old = d.addr;
			addr_mask(&old, x.network_scope);
			assert_true(holds_embedded_form(&old, x.network_scope));
			narrower_form++;
		}
		// the looked-up prefix: public addresses share the region
		unsigned fam_bits = addr_family_bits(d.addr.family);
		for (unsigned k = 0; k < 24; k++) {
			struct ip_addr b = d.addr;
			for (unsigned bit = d.leaf_scope; bit < fam_bits; bit++)
				if (rng() & 1)
					b.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			if (k == 0) // the prefix's last address
				for (unsigned bit = d.leaf_scope; bit < fam_bits; bit++)
					b.bytes[bit / 8] |= (uint8_t)(0x80 >> (bit % 8));
			if (addr_is_private(&b))
				continue;
			assert_int_equal(ref_region(&b), d.region_before_shed);
			checks++;
		}
		// small networks inside the prefix that random bits would miss:
		// every network override
		const struct config *cfg = snap->config;
		for (size_t i = 0; i < cfg->network_override_count; i++) {
			const struct config_network_override *o =
				&cfg->network_overrides[i];
			if (o->net.family != d.addr.family ||
			    o->prefix_len < d.leaf_scope ||
			    !addr_prefix_contains(d.addr.bytes, d.leaf_scope,
						  o->net.bytes) ||
			    addr_prefix_is_private(&o->net, o->prefix_len))
				continue;
			assert_int_equal(o->region, d.region_before_shed);
			checks++;
		}
		// the answered prefix: clients with the same SOURCE PREFIX-LENGTH,
		// also inside each IPv4-carrying form the prefix holds
		for (unsigned k = 0; k < 8 + 4 * addr_embedded_count(); k++) {
			struct ip_addr c = a;
			unsigned bits = addr_family_bits(a.family);
			unsigned from = d.scope;
			if (k >= 8) {
				struct ip_addr f;
				uint8_t flen, off;
				addr_embedded_get((k - 8) / 4, &f, &flen, &off);
				if (a.family != AF_INET6 || flen < d.scope ||
				    !addr_prefix_contains(a.bytes, d.scope, f.bytes))
					continue;
				memcpy(c.bytes, f.bytes, 16);
				from = flen;
			}
			for (unsigned bit = from; bit < bits; bit++)
				if (rng() & 1)
					c.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
			struct region_decision e;
			decide_addr(&c, len, &e);
			if (!e.used_ecs)
				continue; // set aside as private
			assert_int_equal(e.region, d.region);
			assert_int_equal(e.scope, d.scope);
			checks++;
		}
	}
	print_message("merged vs mmdb+overrides scope: %u wider, %u equal, "
		      "%u narrower (old prefix held an IPv4-carrying form); "
		      "%u sampled checks\n", wider, equal, narrower_form, checks);
	assert_true(wider > 0);
}

/* Every IPv4 /24 and every address of a few edge /24s, exhaustively. */
static void test_merged_exhaustive_v4(void **state)
{
	struct ip_addr a = { AF_INET, { 0 } };
	unsigned wider = 0, total = 0;
	for (uint32_t p = 0; p < (1u << 24); p += 7) { // every 7th /24
		a.bytes[0] = (uint8_t)(p >> 16);
		a.bytes[1] = (uint8_t)(p >> 8);
		a.bytes[2] = (uint8_t)p;
		a.bytes[3] = (uint8_t)(p * 37u);
		struct region_decision d;
		decide_addr(&a, 0, &d);
		assert_int_equal(d.region_before_shed, ref_region(&d.addr));
		if (addr_is_private(&a))
			continue;
		decide_addr(&a, 24, &d);
		struct region_explanation x;
		region_explain(snap->regions, snap->config, snap->geo, &d, &x);
		assert_int_equal(x.reason, d.reason);
		unsigned old = x.network_scope;
		if (snap->config->regions[d.region_before_shed].shed_bp > 0 &&
		    old < d.shed_k)
			old = d.shed_k;
		assert_true(d.scope <= old);
		wider += d.scope < old;
		total++;
	}
	print_message("public IPv4 /24 clients (every 7th): %u of %u get a "
		      "wider scope than before\n", wider, total);
	// IPv6 /48 clients in 2000::/3: never narrower, unless the old
	// prefix held an IPv4-carrying form
	unsigned w6 = 0, e6 = 0, n6 = 0;
	for (unsigned n = 0; n < 20000; n++) {
		struct ip_addr b = { AF_INET6, { 0 } };
		for (unsigned i = 0; i < 6; i++)
			b.bytes[i] = (uint8_t)rng();
		b.bytes[0] = (uint8_t)(0x20 | (b.bytes[0] & 0x1f));
		if (n % 2 == 0) // half of them where the sample has data
			b.bytes[0] = 0x24 + 2 * (uint8_t)(rng() % 6);
		struct region_decision d;
		decide_addr(&b, 48, &d);
		if (!d.used_ecs || d.offset > 0)
			continue;
		struct region_explanation x;
		region_explain(snap->regions, snap->config, snap->geo, &d, &x);
		if (d.leaf_scope < x.network_scope)
			w6++;
		else if (d.leaf_scope == x.network_scope)
			e6++;
		else {
			struct ip_addr old = d.addr;
			addr_mask(&old, x.network_scope);
			assert_true(holds_embedded_form(&old, x.network_scope));
			n6++;
		}
	}
	print_message("IPv6 /48 clients in 2000::/3: %u wider, %u equal, %u "
		      "narrower (old prefix held an IPv4-carrying form)\n",
		      w6, e6, n6);
	print_message("merged tree: %zu nodes, %zu bytes (geo tree: %zu "
		      "nodes)\n", regions_tree_nodes(snap->regions),
		      regions_tree_bytes(snap->regions),
		      geo_node_count(snap->geo));
	static const char *const edges[] = { "127.0.1.0", "198.51.100.0",
					     "192.0.2.0", "10.255.255.0",
					     "11.0.0.0", "0.0.0.0" };
	for (size_t i = 0; i < sizeof(edges) / sizeof(*edges); i++) {
		a = v4(edges[i]);
		for (unsigned h = 0; h < 256; h++) {
			a.bytes[3] = (uint8_t)h;
			struct region_decision d;
			decide_addr(&a, 0, &d);
			assert_int_equal(d.region_before_shed, ref_region(&a));
		}
	}
}

/* geomap_walk's leaves, looked up at their first and last address. */
struct leaf_check {
	const struct geomap *m;
	unsigned leaves, deep;
};

static void leaf_lookup(struct leaf_check *lc, const struct ip_addr *a,
			const struct geomap_leaf_info *leaf)
{
	struct geomap_leaf got;
	geomap_lookup(lc->m, a, &got);
	assert_int_equal(got.depth, leaf->depth);
	assert_int_equal(got.region, leaf->region);
	assert_int_equal(got.priv, leaf->priv);
	assert_true(got.scope <= got.depth);
}

static void leaf_visit(void *arg, const struct geomap_leaf_info *leaf)
{
	struct leaf_check *lc = arg;
	struct ip_addr last = leaf->prefix;
	unsigned bits = addr_family_bits(last.family);
	for (unsigned b = leaf->depth; b < bits; b++)
		last.bytes[b / 8] |= (uint8_t)(0x80 >> (b % 8));
	leaf_lookup(lc, &leaf->prefix, leaf);
	leaf_lookup(lc, &last, leaf);
	lc->leaves++;
	lc->deep += leaf->depth > 64;
}

/*
 * The lookup (a jump table for the first bits, then the tree a bit at a
 * time, IPv6 past bit 64 from the second word) ends at the very leaf the
 * plain walk from the root reaches, at every leaf of both families: those
 * above the jump table's depth, at it, below it and past bit 64 (::1/128).
 */
static void test_merged_lookup_every_leaf(void **state)
{
	struct leaf_check lc = { regions_map(snap->regions), 0, 0 };
	geomap_walk(lc.m, AF_INET, NULL, leaf_visit, &lc);
	unsigned v4_leaves = lc.leaves;
	geomap_walk(lc.m, AF_INET6, NULL, leaf_visit, &lc);
	print_message("merged tree: %u IPv4 and %u IPv6 leaves looked up, "
		      "%u deeper than 64 bits\n", v4_leaves,
		      lc.leaves - v4_leaves, lc.deep);
	assert_true(v4_leaves > 0 && lc.deep > 0);
}

/*
 * An overlay generation (runtime overrides): shares every loaded part,
 * decides by its own shed table, outlives the snapshot it was made from,
 * and leaves that snapshot's decisions alone.
 */
static void test_overlay_shed_table(void **state)
{
	const struct config *cfg = snap->config;
	int emea = -1, apac = -1;
	for (size_t i = 0; i < cfg->region_count; i++) {
		if (strcmp(cfg->regions[i].name, "emea") == 0)
			emea = (int)i;
		if (strcmp(cfg->regions[i].name, "apac") == 0)
			apac = (int)i;
	}
	if (emea < 0 || apac < 0) {
		fail_msg("the fixture has no emea or apac region");
		return;
	}
	struct region_shed shed[16];
	assert_true(cfg->region_count <= 16);
	region_shed_from_config(cfg, shed);
	assert_int_equal(shed[emea].to, REGION_NONE);
	shed[emea] = (struct region_shed){ apac, 10000, 7, REGION_UP }; // drain emea

	snapshot_ref(snap);
	struct snapshot *base = snap;
	struct snapshot *o = snapshot_overlay(base, shed);
	assert_non_null(o);
	assert_ptr_equal(o->config, base->config);
	assert_ptr_equal(o->geo, base->geo);
	assert_ptr_equal(o->zones, base->zones);
	assert_true(o->generation > base->generation);
	assert_int_equal(o->shed[emea].override_id, 7);
	snapshot_unref(base); // the overlay keeps the shared parts alive

	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true,
				   .ecs_addr = v4("41.1.0.0"), .ecs_source_len = 16 };
	struct region_decision d;
	region_decide(o->regions, o->shed, &c, &d);
	assert_int_equal(d.region_before_shed, emea);
	assert_int_equal(d.region, apac);
	assert_true(d.shed);
	assert_true(d.scope >= 16); // at least K (the ECS source here)
	region_decide(snap->regions, snap->shed, &c, &d);
	assert_int_equal(d.region, emea); // the loaded generation is unchanged
	snapshot_unref(o);
}

/* ---- services (tests/fixtures/query/services.yaml) ---------------------- */

static struct snapshot *svc;

static int svc_setup(void **state)
{
	struct diag *d = diag_new();
	svc = snapshot_load(FIXTURES "/query/services.yaml", d);
	if (svc == NULL)
		diag_print(d, stderr);
	diag_free(d);
	return svc == NULL ? -1 : 0;
}

static int svc_teardown(void **state)
{
	snapshot_unref(svc);
	return 0;
}

/* Every (service, region): the pre-encoded RRsets hold exactly the
 * config's VIPs of that family, the list form (service 0) included. */
static void test_service_rrsets_every_combination(void **state)
{
	const struct config *cfg = svc->config;
	assert_int_equal(cfg->service_count, 3);
	for (unsigned s = 0; s <= cfg->service_count; s++) {
		for (size_t r = 0; r < cfg->region_count; r++) {
			struct config_vipset v;
			config_vips(cfg, s, (int)r, &v);
			struct region_rrset a, aaaa;
			region_rrset(svc->regions, s, (int)r, 1, &a);
			region_rrset(svc->regions, s, (int)r, 28, &aaaa);
			assert_int_equal(a.count, v.v4_count);
			assert_int_equal(aaaa.count, v.v6_count);
			for (size_t i = 0; i < v.v4_count; i++)
				assert_memory_equal(a.bytes + i * a.stride + 12,
						    v.v4[i].bytes, 4);
			for (size_t i = 0; i < v.v6_count; i++)
				assert_memory_equal(aaaa.bytes + i * aaaa.stride + 12,
						    v.v6[i].bytes, 16);
			assert_int_equal(region_has_service(svc->regions, s,
							    (int)r),
					 v.v4_count + v.v6_count > 0);
		}
	}
	// the list form is the regions' own VIPs
	struct region_rrset a;
	region_rrset(svc->regions, CONFIG_SERVICE_REGIONS, 1, 1, &a);
	assert_int_equal(a.count, 2); // emea: 198.51.100.10, .11
}

static int svc_region(const char *name)
{
	int r = config_region_index(svc->config, name);
	assert_true(r >= 0);
	return r;
}

static void svc_decide(const char *addr, uint8_t bits,
		       struct region_decision *out)
{
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true };
	c.ecs_addr = strchr(addr, ':') ? v6(addr) : v4(addr);
	c.ecs_source_len = bits;
	region_decide(svc->regions, svc->shed, &c, out);
}

/* The region of the lowest -ln(u)/capacity among cands (the reference
 * the spreads are checked against: the draw written out again). */
static int ref_lowest(const struct regions *r, uint64_t h, const int *cands,
		      size_t n)
{
	int best = -1;
	double best_score = 0;
	for (size_t i = 0; i < n; i++) {
		double score = region_spread_score(r, h, cands[i]);
		if (best < 0 || score < best_score) {
			best = cands[i];
			best_score = score;
		}
	}
	return best;
}

/* api is in americas (capacity 1) and emea (capacity 3) only: apac
 * clients (no fallback) get the lowest rendezvous score of the two, h
 * the shed hash of their first K bits — a quarter americas, three
 * quarters emea; the scope is then at least K; web stays in apac with
 * the leaf's scope. */
static void test_service_spread(void **state)
{
	unsigned web = (unsigned)config_service_index(svc->config, "web");
	unsigned api = (unsigned)config_service_index(svc->config, "api");
	int americas = svc_region("americas"), emea = svc_region("emea");
	const int cands[] = { americas, emea };
	struct region_decision d;
	struct region_service_choice ch;
	svc_decide("2400::", 32, &d);
	assert_int_equal(d.region, svc_region("apac"));
	region_service_choose(svc->regions, svc->shed, web, &d, &ch);
	assert_false(ch.spread);
	assert_int_equal(ch.region, d.region);
	assert_int_equal(ch.scope, d.scope);
	assert_int_equal(d.scope, 12);
	region_service_choose(svc->regions, svc->shed, api, &d, &ch);
	assert_true(ch.spread);
	assert_int_equal(ch.candidates, 2);
	assert_int_equal(ch.pool, REGION_POOL_LIVE);
	// recomputed by tests/integration/dnsclient.py's own SipHash and
	// spread(): americas scores 2.1769, emea 6.2691 / 3 = 2.0897
	assert_int_equal(ch.hash, 2868237446633015196ULL);
	assert_int_equal(ch.region, emea); // h mod 2 = 0 gave americas
	assert_int_equal(ch.scope, 32);
	assert_true(region_service_candidate(svc->regions, svc->shed, api,
					     d.region, americas));
	assert_true(region_service_candidate(svc->regions, svc->shed, api,
					     d.region, emea));
	assert_false(region_service_candidate(svc->regions, svc->shed, api,
					      d.region, svc_region("lab")));

	// many clients of 2400::/12 (JP, apac): only americas and emea, by
	// capacity, each the reference draw's, and the same answer for
	// every address inside the claimed scope (same source length)
	unsigned count[2] = { 0, 0 };
	uint32_t seed = 99;
	for (unsigned n = 0; n < 4000; n++) {
		struct ip_addr a = v6("2400::");
		for (unsigned i = 1; i < 8; i++) {
			seed = seed * 1103515245u + 12345u;
			a.bytes[i] = (uint8_t)(seed >> 16);
		}
		a.bytes[1] &= 0x0f; // inside 2400::/12
		uint8_t bits = (uint8_t)(32 + (seed >> 27) % 33); // /32../64
		addr_mask(&a, bits);
		char text[INET6_ADDRSTRLEN];
		inet_ntop(AF_INET6, a.bytes, text, sizeof(text));
		svc_decide(text, bits, &d);
		assert_int_equal(d.region, svc_region("apac"));
		region_service_choose(svc->regions, svc->shed, api, &d, &ch);
		assert_int_equal(ch.region,
				 ref_lowest(svc->regions, ch.hash, cands, 2));
		assert_int_equal(ch.scope, bits < 56 ? bits : 56);
		count[ch.region == emea]++;
		if (ch.scope >= bits)
			continue;
		unsigned bit = ch.scope + (seed >> 8) % (bits - ch.scope);
		a.bytes[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		inet_ntop(AF_INET6, a.bytes, text, sizeof(text));
		struct region_decision d2;
		struct region_service_choice ch2;
		svc_decide(text, bits, &d2);
		region_service_choose(svc->regions, svc->shed, api, &d2, &ch2);
		assert_int_equal(ch2.region, ch.region);
	}
	print_message("api for apac: americas %u, emea %u of 4000 (want 1000, "
		      "3000)\n",
		      count[0], count[1]);
	assert_true(count[0] > 850 && count[0] < 1150);

	// 203.0.113.0/24 (AU → lab, not among the clients lab sheds) goes
	// to lab's fallback americas, the one candidate: the scope is the
	// decision's (K already: the shed hashed it)
	svc_decide("203.0.113.0", 24, &d);
	assert_int_equal(d.region, svc_region("lab"));
	region_service_choose(svc->regions, svc->shed, api, &d, &ch);
	assert_int_equal(ch.region, americas); // h mod 2 = 1 gave emea
	assert_int_equal(ch.pool, REGION_POOL_FALLBACK);
	assert_int_equal(ch.candidates, 1);
	assert_int_equal(ch.scope, d.scope);
	assert_false(region_service_candidate(svc->regions, svc->shed, api,
					      d.region, emea));
}

/* A drained region (shed 100%) is no spread target, unless all are. */
static void test_service_spread_skips_drained(void **state)
{
	const struct config *cfg = svc->config;
	unsigned api = (unsigned)config_service_index(cfg, "api");
	int americas = svc_region("americas"), emea = svc_region("emea");
	struct region_shed shed[8];
	assert_true(cfg->region_count <= 8);
	region_shed_from_config(cfg, shed);
	shed[emea] = (struct region_shed){ americas, 10000, 1, REGION_UP };
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true,
				   .ecs_source_len = 24 };
	for (unsigned i = 0; i < 256; i++) {
		c.ecs_addr = v4("101.0.0.0");
		c.ecs_addr.bytes[2] = (uint8_t)(i & 3);
		c.ecs_addr.bytes[1] = (uint8_t)(i >> 2);
		struct region_decision d;
		struct region_service_choice ch;
		region_decide(svc->regions, shed, &c, &d);
		if (d.region != svc_region("apac"))
			continue;
		region_service_choose(svc->regions, shed, api, &d, &ch);
		assert_int_equal(ch.region, americas);
		assert_int_equal(ch.candidates, 1);
		assert_int_equal(ch.pool, REGION_POOL_LIVE);
	}
	// both drained: the spread uses them all again
	shed[americas] = (struct region_shed){ emea, 10000, 2, REGION_UP };
	struct region_decision d;
	struct region_service_choice ch;
	region_decide(svc->regions, shed, &c, &d);
	d.region = svc_region("apac");
	region_service_choose(svc->regions, shed, api, &d, &ch);
	assert_int_equal(ch.candidates, 2);
	assert_int_equal(ch.pool, REGION_POOL_ALL);
}


/* ---- health: a down region's clients spread by capacity ----------------- */

/* americas (NA, SA; the default: all of 11/8) capacity 1, emea 3, apac
 * 6, lab 2; americas falls back to lab first. Three services for the
 * missing-service spread: noemea (not in emea), core (emea and apac
 * only: not in americas nor in its fallback lab), labbed (not in
 * americas, in its fallback lab). */
static const char health_yaml[] =
	"listen: [127.0.0.1:5353]\n"
	"geoip: ../../../geo/sample.mmdb\n"
	"regions:\n"
	"  americas: {continents: [NA, SA], vips: [192.0.2.10], "
	"fallback: [lab]}\n"
	"  emea: {continents: [EU, AF], vips: [198.51.100.10], capacity: 3}\n"
	"  apac: {continents: [AS, OC], vips: [203.0.113.10], capacity: 6}\n"
	"  lab: {continents: [AN], vips: [192.0.2.77], capacity: 2}\n"
	"default_region: americas\n"
	"shed_key: \"000102030405060708090a0b0c0d0e0f\"\n"
	"services:\n"
	"  noemea: {americas: [192.0.2.110], apac: [203.0.113.110], "
	"lab: [192.0.2.170]}\n"
	"  core: {emea: [198.51.100.120], apac: [203.0.113.120]}\n"
	"  labbed: {emea: [198.51.100.130], apac: [203.0.113.130], "
	"lab: [192.0.2.130]}\n"
	"zones: [{origin: example.com., file: example.com.zone}]\n";

enum { AMERICAS, EMEA, APAC, LAB, NREG };
#define HEALTH_CLIENTS 20000

struct health_fx {
	struct config *cfg;
	struct geo *geo;
	struct regions *r;
	struct region_shed t[NREG];
};

static struct health_fx hfx;

static int health_setup(void **state)
{
	struct diag *d = diag_new();
	hfx.cfg = config_load_text(health_yaml, strlen(health_yaml),
				   FIXTURES "/query/health.yaml", d);
	if (hfx.cfg != NULL)
		hfx.geo = geo_load(hfx.cfg->geoip, d);
	if (hfx.geo != NULL)
		hfx.r = regions_build(hfx.cfg, hfx.geo, d);
	if (hfx.r == NULL)
		diag_print(d, stderr);
	diag_free(d);
	return hfx.r == NULL ? -1 : 0;
}

static int health_teardown(void **state)
{
	regions_free(hfx.r);
	geo_free(hfx.geo);
	config_free(hfx.cfg);
	return 0;
}

static void health_reset(void)
{
	region_shed_from_config(hfx.cfg, hfx.t);
}

/* Client i: the ECS /24 11.(i/256).(i%256).0, all of it americas. */
static void health_decide(unsigned i, struct region_decision *d)
{
	char text[32];
	snprintf(text, sizeof(text), "11.%u.%u.0", i / 256, i % 256);
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true,
				   .ecs_addr = v4(text), .ecs_source_len = 24 };
	region_decide(hfx.r, hfx.t, &c, d);
}

static void test_health_spread_by_capacity(void **state)
{
	health_reset();
	// lab, americas' fallback, down too: every other up region
	hfx.t[AMERICAS].health = REGION_DOWN;
	hfx.t[LAB].health = REGION_DOWN;
	unsigned got[NREG] = { 0 };
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		struct region_decision d;
		health_decide(i, &d);
		assert_int_equal(d.region_before_shed, AMERICAS);
		assert_true(d.health_moved);
		assert_true(d.scope >= 24); // hashed: at least K
		got[d.region]++;
	}
	assert_int_equal(got[AMERICAS] + got[LAB], 0);
	// emea 3 and apac 6 of 9: each within 1 point of its share
	double emea = 100.0 * got[EMEA] / HEALTH_CLIENTS;
	double apac = 100.0 * got[APAC] / HEALTH_CLIENTS;
	print_message("emea %.2f%% (want 33.33), apac %.2f%% (want 66.67)\n",
		      emea, apac);
	assert_true(emea > 100.0 * 3 / 9 - 1 && emea < 100.0 * 3 / 9 + 1);
	assert_true(apac > 100.0 * 6 / 9 - 1 && apac < 100.0 * 6 / 9 + 1);

	// emea (no fallback) down, every other region up: americas 1, apac
	// 6, lab 2 of 9
	health_reset();
	hfx.t[EMEA].health = REGION_DOWN;
	memset(got, 0, sizeof(got));
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		struct region_decision d;
		// emea's clients: 81.x.y.0/24 (GB)
		char text[32];
		snprintf(text, sizeof(text), "81.%u.%u.0", i / 256, i % 256);
		struct region_client c = { .source = v4("127.0.0.1"),
					   .has_ecs = true,
					   .ecs_addr = v4(text),
					   .ecs_source_len = 24 };
		region_decide(hfx.r, hfx.t, &c, &d);
		assert_int_equal(d.region_before_shed, EMEA);
		got[d.region]++;
	}
	assert_int_equal(got[EMEA], 0);
	const unsigned cap[NREG] = { 1, 0, 6, 2 };
	for (int r = 0; r < NREG; r++) {
		if (r == EMEA)
			continue;
		double share = 100.0 * got[r] / HEALTH_CLIENTS;
		double want = 100.0 * cap[r] / 9;
		print_message("region %d: %.2f%% (want %.2f)\n", r, share,
			      want);
		assert_true(share > want - 1 && share < want + 1);
	}
}

static void test_health_fallback(void **state)
{
	health_reset();
	hfx.t[AMERICAS].health = REGION_DOWN; // fallback [lab], lab up
	for (unsigned i = 0; i < 2000; i++) {
		struct region_decision d;
		health_decide(i, &d);
		assert_int_equal(d.region, LAB);
	}
	assert_true(region_spread_candidate(hfx.r, hfx.t, AMERICAS, LAB));
	assert_false(region_spread_candidate(hfx.r, hfx.t, AMERICAS, EMEA));
	hfx.t[LAB].health = REGION_DOWN; // the list is down: every up region
	assert_true(region_spread_candidate(hfx.r, hfx.t, AMERICAS, EMEA));
	assert_false(region_spread_candidate(hfx.r, hfx.t, AMERICAS, LAB));
}

/* A region going down moves only its own clients; one coming back up
 * takes back exactly those; shed percents raised move only more. */
static void test_health_monotonic(void **state)
{
	static int before[HEALTH_CLIENTS];
	health_reset();
	hfx.t[AMERICAS].health = REGION_DOWN;
	hfx.t[LAB].health = REGION_DOWN;
	struct region_decision d;
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		health_decide(i, &d);
		before[i] = d.region;
	}
	// apac goes down as well: its clients move, emea's stay
	hfx.t[APAC].health = REGION_DOWN;
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		health_decide(i, &d);
		assert_int_equal(d.region, EMEA);
	}
	// lab, americas' fallback, comes back: it takes every client
	hfx.t[APAC].health = REGION_UP;
	hfx.t[LAB].health = REGION_UP;
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		health_decide(i, &d);
		assert_int_equal(d.region, LAB); // americas' fallback is up
	}
	// back to the first state: every client where it was (stable)
	hfx.t[LAB].health = REGION_DOWN;
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		health_decide(i, &d);
		assert_int_equal(d.region, before[i]);
	}

	// emea (no fallback) down, then lab too: only lab's share moves
	health_reset();
	hfx.t[EMEA].health = REGION_DOWN;
	unsigned stayed = 0, lab_before = 0;
	for (int step = 0; step < 2; step++) {
		for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
			char text[32];
			snprintf(text, sizeof(text), "81.%u.%u.0", i / 256,
				 i % 256);
			struct region_client c = { .source = v4("127.0.0.1"),
						   .has_ecs = true,
						   .ecs_addr = v4(text),
						   .ecs_source_len = 24 };
			region_decide(hfx.r, hfx.t, &c, &d);
			if (step == 0) {
				before[i] = d.region;
				lab_before += d.region == LAB;
			} else if (before[i] != LAB) {
				assert_int_equal(d.region, before[i]);
				stayed++;
			} else {
				assert_true(d.region == AMERICAS ||
					    d.region == APAC);
			}
		}
		hfx.t[LAB].health = REGION_DOWN;
	}
	assert_true(lab_before > 0);
	assert_int_equal(stayed + lab_before, HEALTH_CLIENTS);

	// shed of americas spread by capacity, 5% → 100%: a client once
	// moved stays moved, to the same region
	health_reset();
	static int moved[HEALTH_CLIENTS];
	memset(moved, -1, sizeof(moved));
	unsigned last = 0;
	for (uint16_t bp = 500; bp <= 10000; bp += 500) {
		hfx.t[AMERICAS].to = REGION_SPREAD;
		hfx.t[AMERICAS].bp = bp;
		unsigned n = 0;
		for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
			health_decide(i, &d);
			if (moved[i] >= 0)
				assert_int_equal(d.region, moved[i]);
			if (d.region != AMERICAS) {
				moved[i] = d.region;
				n++;
			}
		}
		assert_true(n >= last);
		last = n;
	}
	assert_int_equal(last, HEALTH_CLIENTS); // 100%: everyone
	// with its fallback lab up, americas' spread shed goes to lab only
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++)
		assert_int_equal(moved[i], LAB);
}

/* Health first, then the shed of the region landed in; a shed into a
 * down region is suspended. */
static void test_health_then_shed(void **state)
{
	health_reset();
	hfx.t[AMERICAS].health = REGION_DOWN; // → lab (fallback)
	hfx.t[LAB].to = APAC;
	hfx.t[LAB].bp = 10000; // lab drains to apac
	struct region_decision d;
	health_decide(7, &d);
	assert_int_equal(d.region_landed, LAB);
	assert_int_equal(d.region, APAC);
	assert_true(d.shed);
	hfx.t[APAC].health = REGION_DOWN; // the target down: suspended
	health_decide(7, &d);
	assert_int_equal(d.region, LAB);
	assert_true(d.shed_suspended);
	assert_false(d.shed);
	// americas' own shed does not apply to clients that left it
	health_reset();
	hfx.t[AMERICAS].health = REGION_DOWN;
	hfx.t[AMERICAS].to = EMEA;
	hfx.t[AMERICAS].bp = 10000;
	health_decide(7, &d);
	assert_int_equal(d.region, LAB);
}

/* The dry run's shortcut decides as region_decide does a packet source. */
static void test_decide_hashed_agrees(void **state)
{
	static const char *addrs[] = { "11.0.0.0", "81.0.0.0", "41.0.0.0",
				       "1.0.0.0", "177.0.0.0", "8.8.8.0" };
	for (int table = 0; table < 4; table++) {
		health_reset();
		if (table >= 1)
			hfx.t[EMEA].health = REGION_DOWN;
		if (table >= 2) {
			hfx.t[APAC].to = REGION_SPREAD;
			hfx.t[APAC].bp = 4000;
		}
		if (table == 3) {
			hfx.t[AMERICAS].to = LAB;
			hfx.t[AMERICAS].bp = 2500;
			hfx.t[LAB].health = REGION_DOWN;
		}
		for (unsigned i = 0; i < 6 * 500; i++) {
			struct region_client c = { .source = v4(addrs[i % 6]) };
			c.source.bytes[1] = (uint8_t)(i / 6);
			c.source.bytes[2] = (uint8_t)(i * 7);
			c.source.bytes[3] = (uint8_t)i;
			struct region_decision d;
			region_decide(hfx.r, hfx.t, &c, &d);
			uint64_t h = regions_hash(hfx.r, &c.source, 24);
			assert_int_equal(region_decide_hashed(hfx.r, hfx.t,
							      d.region_before_shed,
							      h),
					 d.region);
		}
	}
}

/* Every region down: answered as if all were up, scope not raised. */
static void test_health_all_down(void **state)
{
	struct region_decision up, down;
	health_reset();
	health_decide(3, &up);
	for (int r = 0; r < NREG; r++)
		hfx.t[r].health = REGION_DOWN_IGNORED;
	health_decide(3, &down);
	assert_int_equal(down.region, AMERICAS);
	assert_int_equal(down.region, up.region);
	assert_int_equal(down.scope, up.scope);
	assert_true(down.all_down);
	assert_false(down.health_moved);

	// overlay_table marks it so when every region is down: one region
	// config, its health changed to down by a (dry-run) change
	static const char one[] =
		"listen: [127.0.0.1:5353]\ngeoip: g\n"
		"regions: {only: {vips: [192.0.2.1]}}\n"
		"default_region: only\nzones: [{origin: x., file: f}]\n";
	struct diag *dg = diag_new();
	struct config *cfg = config_load_text(one, strlen(one), "one.yaml", dg);
	assert_non_null(cfg);
	struct event_base *base = event_base_new();
	struct overlay *ov = overlay_new(NULL, base, NULL);
	assert_non_null(ov);
	struct region_shed t[2];
	struct overlay_change ch = { .kind = OVERLAY_CHANGE_HEALTH,
				     .region = "only", .down = true };
	assert_int_equal(overlay_table(ov, cfg, &ch, t), 1);
	assert_int_equal(t[0].health, REGION_DOWN_IGNORED);
	ch.down = false;
	assert_int_equal(overlay_table(ov, cfg, &ch, t), 0);
	assert_int_equal(t[0].health, REGION_UP);
	overlay_free(ov);
	event_base_free(base);
	config_free(cfg);
	diag_free(dg);
}

/* The health fixture with its four region lines in reverse order (lab,
 * apac, emea, americas): what another server of the fleet might load. */
static struct regions *hsvc_reversed_regions(void)
{
	const char *start = strstr(health_yaml, "regions:\n");
	const char *end = strstr(health_yaml, "default_region:");
	assert_non_null(start);
	assert_non_null(end);
	start += strlen("regions:\n");
	const char *lines[NREG + 1];
	size_t n = 0;
	for (const char *p = start; p < end && n < NREG;) {
		lines[n++] = p;
		// a region's entry may span two literal lines of its own
		p = strstr(p, "\n  ");
		p = p != NULL && p < end ? p + 1 : end;
	}
	assert_int_equal(n, NREG);
	lines[NREG] = end;
	static char text[sizeof(health_yaml)];
	size_t len = (size_t)(start - health_yaml);
	memcpy(text, health_yaml, len);
	for (size_t i = NREG; i-- > 0;) {
		size_t l = (size_t)(lines[i + 1] - lines[i]);
		memcpy(text + len, lines[i], l);
		len += l;
	}
	strcpy(text + len, end);
	struct diag *dg = diag_new();
	struct config *cfg =
		config_load_text(text, strlen(text), "reversed.yaml", dg);
	assert_non_null(cfg);
	assert_string_equal(cfg->regions[0].name, "lab");
	assert_string_equal(cfg->regions[NREG - 1].name, "americas");
	struct regions *r = regions_build(cfg, hfx.geo, dg);
	assert_non_null(r);
	config_free(cfg);
	diag_free(dg);
	return r;
}

/* ---- a service missing in the client's region: the health draw ------- */

static unsigned hsvc(const char *name)
{
	int s = config_service_index(hfx.cfg, name);
	assert_true(s > 0);
	return (unsigned)s;
}

/* Client i of FIRST (11: americas, 81: emea), as the ECS option
 * FIRST.(i/256).(i%256).LAST/BITS; its decision and its choice for
 * service, under the table t. */
static void hsvc_choose(const struct regions *r, const struct region_shed *t,
			unsigned service, unsigned first, unsigned i,
			unsigned last, uint8_t bits, struct region_decision *d,
			struct region_service_choice *ch)
{
	char text[32];
	snprintf(text, sizeof(text), "%u.%u.%u.%u", first, i / 256, i % 256,
		 last);
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true,
				   .ecs_addr = v4(text),
				   .ecs_source_len = bits };
	region_decide(r, t, &c, d);
	region_service_choose(r, t, service, d, ch);
}

static void hsvc_share(const char *what, const unsigned got[NREG],
		       const unsigned cap[NREG])
{
	unsigned total = 0;
	for (int r = 0; r < NREG; r++)
		total += cap[r];
	for (int r = 0; r < NREG; r++) {
		double share = 100.0 * got[r] / HEALTH_CLIENTS;
		double want = 100.0 * cap[r] / total;
		print_message("%s: region %d %.2f%% (capacity share %.2f)\n",
			      what, r, share, want);
		assert_true(share > want - 1 && share < want + 1);
	}
}

/* 20,000 client /24s: each candidate receives its capacity's share of
 * them, within 1 point (equal shares by h mod n would give a third or
 * a half each). */
static void test_service_spread_by_capacity(void **state)
{
	health_reset();
	struct region_decision d;
	struct region_service_choice ch;
	// noemea for emea's clients (no fallback): americas 1, apac 6, lab 2
	unsigned got[NREG] = { 0 };
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		hsvc_choose(hfx.r, hfx.t, hsvc("noemea"), 81, i, 0, 24, &d,
			    &ch);
		assert_int_equal(d.region, EMEA);
		assert_true(ch.spread);
		assert_int_equal(ch.pool, REGION_POOL_LIVE);
		assert_int_equal(ch.candidates, 3);
		assert_true(ch.scope >= 24); // the answer depends on h
		got[ch.region]++;
	}
	hsvc_share("noemea, emea's clients", got,
		   (const unsigned[NREG]){ 1, 0, 6, 2 });
	// core for americas' clients: its fallback lab has no core, so
	// every up region with it: emea 3, apac 6
	memset(got, 0, sizeof(got));
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		hsvc_choose(hfx.r, hfx.t, hsvc("core"), 11, i, 0, 24, &d, &ch);
		assert_int_equal(d.region, AMERICAS);
		assert_int_equal(ch.pool, REGION_POOL_LIVE);
		assert_int_equal(ch.candidates, 2);
		assert_true(ch.scope >= 24);
		got[ch.region]++;
	}
	hsvc_share("core, americas' clients", got,
		   (const unsigned[NREG]){ 0, 3, 6, 0 });
}

/* The missing service's answer is the region the client would get if
 * its region were down (restricted to the regions with the service):
 * region_decide with that table, client by client. */
static void test_service_spread_is_health_spread(void **state)
{
	static const struct {
		const char *service;
		unsigned first; // the clients' network
		int down[2];    // what region_decide must see down
	} cases[] = {
		{ "noemea", 81, { EMEA, -1 } },
		{ "labbed", 11, { AMERICAS, -1 } }, // its fallback lab
		{ "core", 11, { AMERICAS, LAB } },  // lab has no core
	};
	struct region_shed down[NREG];
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		health_reset();
		memcpy(down, hfx.t, sizeof(down));
		for (int j = 0; j < 2; j++)
			if (cases[k].down[j] >= 0)
				down[cases[k].down[j]].health = REGION_DOWN;
		unsigned service = hsvc(cases[k].service);
		for (unsigned i = 0; i < 5000; i++) {
			struct region_decision d, dd;
			struct region_service_choice ch, dch;
			hsvc_choose(hfx.r, hfx.t, service, cases[k].first, i, 0,
				    24, &d, &ch);
			hsvc_choose(hfx.r, down, service, cases[k].first, i, 0,
				    24, &dd, &dch);
			assert_true(ch.spread);
			assert_true(dd.health_moved);
			assert_int_equal(ch.region, dd.region);
		}
	}
}

/* The fallback list first: labbed for americas' clients is lab's alone
 * (one candidate: the scope stays the decision's); with lab down or
 * drained, every up region with labbed by capacity. */
static void test_service_spread_fallback(void **state)
{
	unsigned labbed = hsvc("labbed");
	struct region_decision d;
	struct region_service_choice ch;
	health_reset();
	for (unsigned i = 0; i < 2000; i++) {
		hsvc_choose(hfx.r, hfx.t, labbed, 11, i, 0, 24, &d, &ch);
		assert_int_equal(ch.region, LAB);
		assert_int_equal(ch.pool, REGION_POOL_FALLBACK);
		assert_int_equal(ch.candidates, 1);
		assert_int_equal(ch.scope, d.scope);
		assert_true(ch.scope < 24); // 11/8's leaf: h plays no part
	}
	assert_true(region_service_candidate(hfx.r, hfx.t, labbed, AMERICAS,
					     LAB));
	assert_false(region_service_candidate(hfx.r, hfx.t, labbed, AMERICAS,
					      EMEA));
	for (int how = 0; how < 2; how++) {
		health_reset();
		if (how == 0)
			hfx.t[LAB].health = REGION_DOWN;
		else // drained: up, but every client shed away
			hfx.t[LAB] = (struct region_shed){ EMEA, 10000, 1,
							   REGION_UP };
		unsigned got[NREG] = { 0 };
		for (unsigned i = 0; i < 2000; i++) {
			hsvc_choose(hfx.r, hfx.t, labbed, 11, i, 0, 24, &d,
				    &ch);
			assert_int_equal(ch.pool, REGION_POOL_LIVE);
			assert_int_equal(ch.candidates, 2);
			assert_true(ch.scope >= 24);
			got[ch.region]++;
		}
		assert_int_equal(got[LAB] + got[AMERICAS], 0);
		assert_true(got[EMEA] > 500 && got[APAC] > 1100);
		assert_false(region_service_candidate(hfx.r, hfx.t, labbed,
						      AMERICAS, LAB));
		assert_true(region_service_candidate(hfx.r, hfx.t, labbed,
						     AMERICAS, EMEA));
	}
}

/* Deterministic per client: the same answer for every address of the
 * client's K bits, on every call, and from a server whose config lists
 * the regions in another order (the draw goes by region name); a
 * region leaving the pool (down, then drained) moves only its own
 * clients, and coming back takes back exactly those. */
static void test_service_spread_stable(void **state)
{
	static int before[HEALTH_CLIENTS];
	unsigned noemea = hsvc("noemea");
	struct region_decision d;
	struct region_service_choice ch, ch2;
	health_reset();
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		hsvc_choose(hfx.r, hfx.t, noemea, 81, i, 0, 24, &d, &ch);
		before[i] = ch.region;
		// another address of the /24, sent as a /32: K is still 24
		hsvc_choose(hfx.r, hfx.t, noemea, 81, i, 1 + i % 254, 32, &d,
			    &ch2);
		assert_int_equal(ch2.region, ch.region);
		assert_int_equal(ch2.hash, ch.hash);
	}

	// the regions in reverse order: the same region names
	struct regions *rev = hsvc_reversed_regions();
	struct region_shed t[NREG];
	region_shed_from_config(hfx.cfg, t); // no shed: order-free
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		hsvc_choose(rev, t, noemea, 81, i, 0, 24, &d, &ch);
		assert_int_equal(ch.region, NREG - 1 - before[i]);
	}
	regions_free(rev);

	for (int how = 0; how < 2; how++) {
		health_reset();
		if (how == 0)
			hfx.t[APAC].health = REGION_DOWN;
		else
			hfx.t[APAC] = (struct region_shed){ EMEA, 10000, 1,
							    REGION_UP };
		unsigned moved = 0, on_apac = 0;
		for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
			hsvc_choose(hfx.r, hfx.t, noemea, 81, i, 0, 24, &d,
				    &ch);
			on_apac += before[i] == APAC;
			if (before[i] != APAC) {
				assert_int_equal(ch.region, before[i]);
				continue;
			}
			assert_true(ch.region == AMERICAS || ch.region == LAB);
			moved++;
		}
		assert_int_equal(moved, on_apac);
		assert_true(moved > HEALTH_CLIENTS / 2); // apac: 6 of 9
	}
	// apac back: every client where it was
	health_reset();
	for (unsigned i = 0; i < HEALTH_CLIENTS; i++) {
		hsvc_choose(hfx.r, hfx.t, noemea, 81, i, 0, 24, &d, &ch);
		assert_int_equal(ch.region, before[i]);
	}
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_siphash_reference_vectors),
		cmocka_unit_test(test_prefix_tree_longest_match_and_uniform),
		cmocka_unit_test(test_prefix_tree_against_reference),
		cmocka_unit_test(test_shed_hash_documented_vectors),
		cmocka_unit_test(test_shed_share_and_monotonic),
		cmocka_unit_test(test_private_ranges),
	};
	const struct CMUnitTest decide[] = {
		cmocka_unit_test(test_decide_precedence),
		cmocka_unit_test(test_decide_scope_rules),
		cmocka_unit_test(test_decide_scope_property),
		cmocka_unit_test(test_merged_matches_reference),
		cmocka_unit_test(test_merged_exhaustive_v4),
		cmocka_unit_test(test_merged_lookup_every_leaf),
		cmocka_unit_test(test_overlay_shed_table),
	};
	const struct CMUnitTest services[] = {
		cmocka_unit_test(test_service_rrsets_every_combination),
		cmocka_unit_test(test_service_spread),
		cmocka_unit_test(test_service_spread_skips_drained),
	};
	const struct CMUnitTest service_spread[] = {
		cmocka_unit_test(test_service_spread_by_capacity),
		cmocka_unit_test(test_service_spread_is_health_spread),
		cmocka_unit_test(test_service_spread_fallback),
		cmocka_unit_test(test_service_spread_stable),
	};
	const struct CMUnitTest health[] = {
		cmocka_unit_test(test_health_spread_by_capacity),
		cmocka_unit_test(test_health_fallback),
		cmocka_unit_test(test_health_monotonic),
		cmocka_unit_test(test_health_then_shed),
		cmocka_unit_test(test_health_all_down),
		cmocka_unit_test(test_decide_hashed_agrees),
	};
	int failed = cmocka_run_group_tests_name("region_pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("region_health", health,
					      health_setup, health_teardown);
	failed += cmocka_run_group_tests_name("region_service_spread",
					      service_spread, health_setup,
					      health_teardown);
	failed += cmocka_run_group_tests_name("region_decide", decide, setup, teardown);
	failed += cmocka_run_group_tests_name("region_services", services,
					      svc_setup, svc_teardown);
	return failed;
}
