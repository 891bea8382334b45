/*
 * tests/unit/test_rrl.c — response rate limiting with injected time: the
 * bucket arithmetic (rate over simulated seconds, burst, refill, slip),
 * client network keys (prefixes, mapped addresses, exemptions), the
 * shared table's verdicts and counters, and RRL off at rate 0.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "rrl.h"

/* ---- helpers ------------------------------------------------------- */

static struct sockaddr_storage sa(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *sin = (void *)&ss;
	struct sockaddr_in6 *sin6 = (void *)&ss;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(40000);
		return ss;
	}
	assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(40001);
	return ss;
}

static struct config_network_override net(const char *text, unsigned len)
{
	struct config_network_override o;
	memset(&o, 0, sizeof(o));
	o.region = REGION_NONE;
	o.prefix_len = (uint8_t)len;
	if (inet_pton(AF_INET, text, o.net.bytes) == 1) {
		o.net.family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, o.net.bytes), 1);
		o.net.family = AF_INET6;
	}
	return o;
}

static struct config_rrl cfg_rrl(unsigned rate, unsigned slip)
{
	struct config_rrl c;
	memset(&c, 0, sizeof(c));
	c.responses_per_second = rate;
	c.slip = slip;
	c.ipv4_prefix = 24;
	c.ipv6_prefix = 56;
	return c;
}

static struct rrl_policy *policy(const struct config_rrl *c)
{
	bool nomem = true;
	struct rrl_policy *p = rrl_policy_new(c, &nomem);
	assert_false(nomem);
	return p;
}

static bool key_of(const struct rrl_policy *p, const char *addr, uint64_t *key)
{
	struct sockaddr_storage ss = sa(addr);
	return rrl_client_key(p, (const struct sockaddr *)&ss, key);
}

static uint64_t must_key(const struct rrl_policy *p, const char *addr)
{
	uint64_t k = 0;
	assert_true(key_of(p, addr, &k));
	return k;
}

struct tally {
	unsigned send, drop, slip;
};

// n responses spread evenly over [start, start + span_ms).
static struct tally run(struct rrl_bucket *b, uint64_t start, unsigned span_ms,
			unsigned n, unsigned rate, unsigned slip)
{
	struct tally t = { 0, 0, 0 };
	for (unsigned i = 0; i < n; i++) {
		uint64_t now = start + (uint64_t)i * span_ms / n;
		switch (rrl_bucket_account(b, now, rate, slip)) {
		case RRL_SEND: t.send++; break;
		case RRL_DROP: t.drop++; break;
		case RRL_SLIP: t.slip++; break;
		}
	}
	return t;
}

/* ---- buckets ------------------------------------------------------- */

static void test_bucket_burst_then_limited(void **state)
{
	struct rrl_bucket b;
	rrl_bucket_reset(&b, 1, 1000, 10);
	// all at one instant: exactly the burst (= rate) goes out
	struct tally t = run(&b, 1000, 0, 25, 10, 0);
	assert_int_equal(t.send, 10);
	assert_int_equal(t.drop, 15);
	assert_int_equal(t.slip, 0);
}

static void test_bucket_rate_over_simulated_seconds(void **state)
{
	struct rrl_bucket b;
	const unsigned rate = 50;
	rrl_bucket_reset(&b, 1, 5000, rate);
	// 1000 queries/s for 10 s: the burst plus rate per second
	struct tally t = run(&b, 5000, 10000, 10000, rate, 0);
	assert_in_range(t.send, rate * 10, rate * 10 + rate + 1);
	assert_int_equal(t.send + t.drop, 10000);

	// below the rate: nothing limited, however long it goes on
	rrl_bucket_reset(&b, 1, 100000, rate);
	t = run(&b, 100000, 60000, 60 * 40, rate, 0);
	assert_int_equal(t.send, 60 * 40);
	assert_int_equal(t.drop, 0);
}

static void test_bucket_refill_exact_and_capped(void **state)
{
	struct rrl_bucket b;
	rrl_bucket_reset(&b, 1, 0, 4); // 4/s: one token per 250 ms
	assert_int_equal(run(&b, 0, 0, 4, 4, 0).send, 4);
	assert_int_equal(rrl_bucket_account(&b, 249, 4, 0), RRL_DROP);
	assert_int_equal(rrl_bucket_account(&b, 250, 4, 0), RRL_SEND);
	assert_int_equal(rrl_bucket_account(&b, 250, 4, 0), RRL_DROP);
	// read every millisecond: no rounding loss, one token per 250 ms
	unsigned sent = 0;
	for (uint64_t now = 251; now <= 1250; now++)
		sent += rrl_bucket_account(&b, now, 4, 0) == RRL_SEND;
	assert_int_equal(sent, 4);
	// a long pause refills to the burst, no more
	assert_int_equal(run(&b, 1000000, 0, 10, 4, 0).send, 4);
	// a clock read a little behind the stamp (another worker) is no gain
	// and does not move the stamp back (else 1000249 would refill fully)
	assert_int_equal(rrl_bucket_account(&b, 999000, 4, 0), RRL_DROP);
	assert_int_equal(rrl_bucket_account(&b, 1000249, 4, 0), RRL_DROP);
	assert_int_equal(rrl_bucket_account(&b, 1000250, 4, 0), RRL_SEND);
}

static void test_bucket_slip_every_nth(void **state)
{
	struct rrl_bucket b;
	rrl_bucket_reset(&b, 1, 10, 5);
	assert_int_equal(run(&b, 10, 0, 5, 5, 3).send, 5);
	// limited ones: drop, drop, slip, drop, drop, slip, ...
	enum rrl_verdict want[] = { RRL_DROP, RRL_DROP, RRL_SLIP, RRL_DROP,
				    RRL_DROP, RRL_SLIP, RRL_DROP };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		assert_int_equal(rrl_bucket_account(&b, 10, 5, 3), want[i]);

	rrl_bucket_reset(&b, 1, 10, 5);
	struct tally t = run(&b, 10, 0, 105, 5, 2);
	assert_int_equal(t.send, 5);
	assert_int_equal(t.slip, 50);
	assert_int_equal(t.drop, 50);
}

static void test_bucket_slip_zero_and_one(void **state)
{
	struct rrl_bucket b;
	rrl_bucket_reset(&b, 1, 10, 5);
	struct tally t = run(&b, 10, 0, 50, 5, 0);
	assert_int_equal(t.send, 5);
	assert_int_equal(t.drop, 45);
	assert_int_equal(t.slip, 0);

	rrl_bucket_reset(&b, 1, 10, 5);
	t = run(&b, 10, 0, 50, 5, 1);
	assert_int_equal(t.send, 5);
	assert_int_equal(t.drop, 0);
	assert_int_equal(t.slip, 45);
}

static void test_bucket_high_rate_no_overflow(void **state)
{
	struct rrl_bucket b;
	rrl_bucket_reset(&b, 1, 1, 1000000); // the config maximum
	assert_int_equal(run(&b, 1, 0, 1000000, 1000000, 0).send, 1000000);
	assert_int_equal(rrl_bucket_account(&b, 1, 1000000, 0), RRL_DROP);
	// a day later: refilled to the burst exactly, no wrap-around
	struct tally t = run(&b, 86400001, 0, 1000001, 1000000, 0);
	assert_int_equal(t.send, 1000000);
	assert_int_equal(t.drop, 1);
}

/* ---- keys and policy ----------------------------------------------- */

static void test_policy_off_at_rate_zero(void **state)
{
	struct config_rrl c = cfg_rrl(0, 2);
	bool nomem = true;
	assert_null(rrl_policy_new(&c, &nomem));
	assert_false(nomem);

	// no policy: every response is sent, nothing counted
	struct rrl_table *t = rrl_table_new();
	assert_non_null(t);
	struct sockaddr_storage from = sa("127.0.9.1");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rrl_check(t, NULL, (struct sockaddr *)&from,
					   1000), RRL_SEND);
	struct rrl_counts n;
	rrl_table_counts(t, &n);
	assert_int_equal(n.limited, 0);
	rrl_table_free(t);
}

static void test_key_ipv4_prefix(void **state)
{
	struct config_rrl c = cfg_rrl(10, 2);
	struct rrl_policy *p = policy(&c);
	uint64_t k = must_key(p, "198.51.100.1");
	assert_int_equal(must_key(p, "198.51.100.254"), k);
	assert_int_not_equal(must_key(p, "198.51.101.1"), k);
	assert_int_not_equal(must_key(p, "198.51.99.1"), k);
	rrl_policy_free(p);

	c.ipv4_prefix = 32;
	p = policy(&c);
	assert_int_not_equal(must_key(p, "198.51.100.1"),
			     must_key(p, "198.51.100.2"));
	rrl_policy_free(p);

	c.ipv4_prefix = 0; // the whole Internet is one network
	p = policy(&c);
	assert_int_equal(must_key(p, "1.2.3.4"), must_key(p, "203.0.113.9"));
	rrl_policy_free(p);

	c.ipv4_prefix = 20;
	p = policy(&c);
	assert_int_equal(must_key(p, "10.0.0.1"), must_key(p, "10.0.15.255"));
	assert_int_not_equal(must_key(p, "10.0.0.1"), must_key(p, "10.0.16.0"));
	rrl_policy_free(p);
}

static void test_key_ipv6_prefix(void **state)
{
	struct config_rrl c = cfg_rrl(10, 2);
	struct rrl_policy *p = policy(&c);
	uint64_t k = must_key(p, "2001:db8:1:200::1");
	assert_int_equal(must_key(p, "2001:db8:1:2ff:ffff::9"), k);
	assert_int_not_equal(must_key(p, "2001:db8:1:300::1"), k);
	assert_int_not_equal(must_key(p, "2001:db8:2:200::1"), k);
	rrl_policy_free(p);

	c.ipv6_prefix = 120; // past 64 bits: the low half counts too
	p = policy(&c);
	assert_int_equal(must_key(p, "2001:db8::1:100"),
			 must_key(p, "2001:db8::1:1ff"));
	assert_int_not_equal(must_key(p, "2001:db8::1:100"),
			     must_key(p, "2001:db8::1:200"));
	rrl_policy_free(p);

	c.ipv6_prefix = 0;
	p = policy(&c);
	assert_int_equal(must_key(p, "2001:db8::1"), must_key(p, "2a00::1"));
	// and IPv4 /24 networks stay apart from IPv6 ones
	assert_int_not_equal(must_key(p, "2001:db8::1"),
			     must_key(p, "192.0.2.1"));
	rrl_policy_free(p);
}

static void test_key_mapped_is_ipv4(void **state)
{
	struct config_rrl c = cfg_rrl(10, 2);
	struct rrl_policy *p = policy(&c);
	assert_int_equal(must_key(p, "::ffff:198.51.100.7"),
			 must_key(p, "198.51.100.200"));
	assert_int_not_equal(must_key(p, "::ffff:198.51.101.7"),
			     must_key(p, "198.51.100.200"));
	rrl_policy_free(p);
}

static void test_key_exempt(void **state)
{
	struct config_rrl c = cfg_rrl(10, 2);
	struct config_network_override ex[] = {
		net("192.0.2.0", 24), net("2001:db8:ee::", 48),
		net("::ffff:203.0.113.0", 120), net("192.0.2.0", 24),
	};
	c.exempt = ex;
	c.exempt_count = 4; // a repeated network is fine
	struct rrl_policy *p = policy(&c);
	uint64_t k;
	assert_false(key_of(p, "192.0.2.1", &k));
	assert_false(key_of(p, "192.0.2.255", &k));
	assert_false(key_of(p, "::ffff:192.0.2.9", &k)); // mapped: as IPv4
	assert_false(key_of(p, "2001:db8:ee:1::1", &k));
	assert_false(key_of(p, "203.0.113.5", &k)); // written mapped
	assert_true(key_of(p, "192.0.3.1", &k));
	assert_true(key_of(p, "2001:db8:ef::1", &k));
	assert_true(key_of(p, "198.51.100.1", &k));

	struct rrl_table *t = rrl_table_new();
	assert_non_null(t);
	struct sockaddr_storage from = sa("192.0.2.77");
	for (int i = 0; i < 1000; i++)
		assert_int_equal(rrl_check(t, p, (struct sockaddr *)&from, 5),
				 RRL_SEND);
	rrl_table_free(t);
	rrl_policy_free(p);
}

/* ---- the shared table ---------------------------------------------- */

static void test_table_limits_per_network(void **state)
{
	struct config_rrl c = cfg_rrl(50, 2);
	struct rrl_policy *p = policy(&c);
	struct rrl_table *t = rrl_table_new();
	assert_non_null(t);
	struct sockaddr_storage flood[5], quiet = sa("127.0.10.1");
	const char *src[5] = { "127.0.9.1", "127.0.9.2", "127.0.9.3",
			       "127.0.9.4", "::ffff:127.0.9.5" };
	for (int i = 0; i < 5; i++)
		flood[i] = sa(src[i]);

	// 3 s: 500 responses/s spread over five hosts of one /24, and a
	// neighbour /24 at 20/s
	struct tally f = { 0, 0, 0 }, q = { 0, 0, 0 };
	uint64_t start = 7000;
	for (unsigned i = 0; i < 1500; i++) {
		uint64_t now = start + i * 2;
		enum rrl_verdict v = rrl_check(t, p,
			(struct sockaddr *)&flood[i % 5], now);
		f.send += v == RRL_SEND;
		f.drop += v == RRL_DROP;
		f.slip += v == RRL_SLIP;
		if (i % 25 == 0) {
			v = rrl_check(t, p, (struct sockaddr *)&quiet, now);
			q.send += v == RRL_SEND;
		}
	}
	assert_int_equal(q.send, 60);
	assert_in_range(f.send, 50 * 3, 50 * 3 + 50 + 1);
	unsigned limited = 1500 - f.send;
	assert_int_equal(f.drop + f.slip, limited);
	assert_in_range(f.slip, limited / 2, limited / 2 + 1);

	struct rrl_counts n;
	rrl_table_counts(t, &n);
	assert_int_equal(n.limited, limited);
	assert_int_equal(n.dropped, f.drop);
	assert_int_equal(n.slipped, f.slip);

	// after a quiet second the network has its burst again
	unsigned sent = 0;
	for (int i = 0; i < 100; i++)
		sent += rrl_check(t, p, (struct sockaddr *)&flood[0],
				  start + 4000) == RRL_SEND;
	assert_int_equal(sent, 50);
	rrl_table_free(t);
	rrl_policy_free(p);
}

static void test_table_policy_change(void **state)
{
	// a reload lowering the rate: the old bucket is trimmed to the new
	// burst; raising it refills at the new rate
	struct config_rrl c = cfg_rrl(100, 0);
	struct rrl_policy *hi = policy(&c);
	c.responses_per_second = 5;
	struct rrl_policy *lo = policy(&c);
	struct rrl_table *t = rrl_table_new();
	assert_non_null(t);
	struct sockaddr_storage from = sa("2001:db8:5::1");
	assert_int_equal(rrl_check(t, hi, (struct sockaddr *)&from, 100),
			 RRL_SEND);
	unsigned sent = 0;
	for (int i = 0; i < 50; i++)
		sent += rrl_check(t, lo, (struct sockaddr *)&from, 100) ==
			RRL_SEND;
	assert_int_equal(sent, 5);
	rrl_table_free(t);
	rrl_policy_free(hi);
	rrl_policy_free(lo);
}

static void test_now_ms_monotonic(void **state)
{
	uint64_t a = rrl_now_ms(), b = rrl_now_ms();
	assert_true(b >= a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bucket_burst_then_limited),
		cmocka_unit_test(test_bucket_rate_over_simulated_seconds),
		cmocka_unit_test(test_bucket_refill_exact_and_capped),
		cmocka_unit_test(test_bucket_slip_every_nth),
		cmocka_unit_test(test_bucket_slip_zero_and_one),
		cmocka_unit_test(test_bucket_high_rate_no_overflow),
		cmocka_unit_test(test_policy_off_at_rate_zero),
		cmocka_unit_test(test_key_ipv4_prefix),
		cmocka_unit_test(test_key_ipv6_prefix),
		cmocka_unit_test(test_key_mapped_is_ipv4),
		cmocka_unit_test(test_key_exempt),
		cmocka_unit_test(test_table_limits_per_network),
		cmocka_unit_test(test_table_policy_change),
		cmocka_unit_test(test_now_ms_monotonic),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
