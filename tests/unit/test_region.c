/*
 * tests/unit/test_region.c — SipHash vectors, the override prefix tree,
 * the shed hash (its documented vectors, share and monotonicity), and
 * region_decide's precedence and scopes on the query fixture.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <string.h>
#include <stdlib.h>

#include "addr.h"
#include "config.h"
#include "diag.h"
#include "prefix.h"
#include "region.h"
#include "siphash.h"
#include "snapshot.h"

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

static void decide_ecs(const char *addr, uint8_t bits, struct region_decision *out)
{
	struct region_client c = { .source = v4("127.0.0.1"), .has_ecs = true };
	c.ecs_addr = strchr(addr, ':') ? v6(addr) : v4(addr);
	c.ecs_source_len = bits;
	region_decide(snap->regions, snap->config, snap->shed, snap->geo, &c, out);
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
	assert_true(d.network_override >= 0);
	assert_int_equal(d.scope, 26);

	decide_ecs("177.1.0.0", 16, &d);   // BR: country override beats SA
	assert_string_equal(region_name(d.region), "emea");
	assert_true(d.country_override >= 0);

	decide_ecs("41.1.0.0", 16, &d);    // ZA → AF → emea by continent
	assert_string_equal(region_name(d.region), "emea");
	assert_int_equal(d.network_override, -1);
	assert_int_equal(d.country_override, -1);

	decide_ecs("2001:db8:ffff:1::", 64, &d); // IPv6 override
	assert_string_equal(region_name(d.region), "apac");
	assert_int_equal(d.scope, 48);
}

static void test_decide_scope_rules(void **state)
{
	struct region_decision d;
	// unknown address: the empty network's length, not 0
	decide_ecs("8.8.4.0", 24, &d);
	assert_true(d.geo.record == NULL);
	assert_string_equal(region_name(d.region), "americas");
	assert_int_equal(d.scope, d.geo.prefix_len);
	assert_true(d.scope > 0);

	// 10/8 (private) lies inside whatever network holds 11.0.0.0, but
	// private ranges never split a scope
	decide_ecs("11.0.0.0", 24, &d);
	assert_int_equal(d.scope, d.geo.prefix_len);

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
	assert_true(emea >= 0 && apac >= 0);
	struct region_shed shed[16];
	assert_true(cfg->region_count <= 16);
	region_shed_from_config(cfg, shed);
	assert_int_equal(shed[emea].to, REGION_NONE);
	shed[emea] = (struct region_shed){ apac, 10000, 7 }; // drain emea

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
	region_decide(o->regions, o->config, o->shed, o->geo, &c, &d);
	assert_int_equal(d.region_before_shed, emea);
	assert_int_equal(d.region, apac);
	assert_true(d.shed);
	assert_true(d.scope >= 16); // at least K (the ECS source here)
	region_decide(snap->regions, snap->config, snap->shed, snap->geo, &c, &d);
	assert_int_equal(d.region, emea); // the loaded generation is unchanged
	snapshot_unref(o);
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
		cmocka_unit_test(test_overlay_shed_table),
	};
	int failed = cmocka_run_group_tests_name("region_pure", pure, NULL, NULL);
	failed += cmocka_run_group_tests_name("region_decide", decide, setup, teardown);
	return failed;
}
