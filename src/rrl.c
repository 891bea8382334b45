/*
 * src/rrl.c — response rate limiting: token buckets per client network
 * (source address cut to a prefix; never the ECS address, which anyone
 * can forge), in one fixed table shared by every worker, plus the counters.
 */
#include "autoconf.h"
#include "rrl.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "addr.h"
#include "config.h"
#include "log.h"
#include "prefix.h"

/*
 * The table: RRL_SLOTS buckets, one per hash slot, no chaining. A network
 * whose slot holds another network's bucket takes it over (starting with a
 * full burst), so a collision can at worst give a flooder one extra burst;
 * the slot hash is keyed by a random seed, so nobody can aim collisions at
 * a chosen network. 65536 slots of 24 bytes: 1.5 MiB, touched lazily.
 */
#define RRL_SLOTS 65536u
// Buckets are guarded by striped mutexes: workers rarely meet on one
// stripe, and an uncontended lock is a couple of atomic operations.
#define RRL_STRIPES 1024u

#define MILLI 1000u
// Past a second the bucket is full whatever the rate, so longer gaps are
// cut here and elapsed * rate stays small (rate <= 1e6 in config.c).
#define REFILL_MAX_MS 1000u

#define KEY_V4_TAG 0x4000000000000000ULL
#define KEY_V6_TAG 0x9e3779b97f4a7c15ULL

struct rrl_policy {
	unsigned rate; /* responses per second, > 0 */
	unsigned slip;
	uint8_t v4_prefix, v6_prefix;
	struct prefix_tree *exempt4; /* NULL: nothing exempt */
	struct prefix_tree *exempt6;
};

struct rrl_stripe {
	alignas(64) pthread_mutex_t lock; // one cache line each
};

struct rrl_table {
	struct rrl_stripe stripes[RRL_STRIPES];
	struct rrl_bucket *buckets;
	uint64_t seed;
	// limited = dropped + slipped: one atomic add per limited response
	alignas(64) atomic_uint_fast64_t dropped;
	atomic_uint_fast64_t slipped;
	struct rrl_counts logged; /* as of the last period line */
};

/* ---- buckets ------------------------------------------------------- */

void rrl_bucket_reset(struct rrl_bucket *b, uint64_t key, uint64_t now_ms,
		      unsigned rate)
{
	b->key = key;
	b->stamp_ms = now_ms;
	b->millitokens = (uint32_t)((uint64_t)rate * MILLI);
	b->unslipped = 0;
}

enum rrl_verdict rrl_bucket_account(struct rrl_bucket *b, uint64_t now_ms,
				    unsigned rate, unsigned slip)
{
	uint64_t cap = (uint64_t)rate * MILLI;
	uint64_t tokens = b->millitokens;
	// Workers read the clock a little apart: a time before the stamp
	// refills nothing and must not move the stamp back.
	if (now_ms > b->stamp_ms) {
		uint64_t elapsed = now_ms - b->stamp_ms;
		if (elapsed > REFILL_MAX_MS)
			elapsed = REFILL_MAX_MS;
		tokens += elapsed * rate; // rate/s is rate thousandths per ms
		b->stamp_ms = now_ms;
	}
	// also trims a bucket left fuller by a reload that lowered the rate
	if (tokens > cap)
		tokens = cap;
	if (tokens >= MILLI) {
		b->millitokens = (uint32_t)(tokens - MILLI);
		return RRL_SEND;
	}
	b->millitokens = (uint32_t)tokens;
	// a count, not a modulo: no division on the flood path
	if (slip == 0 || ++b->unslipped < slip)
		return RRL_DROP;
	b->unslipped = 0;
	return RRL_SLIP;
}

/* ---- policy -------------------------------------------------------- */

static bool rrl_v4_mapped(const uint8_t *a16)
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
					   0, 0, 0, 0, 0xff, 0xff};
	return memcmp(a16, prefix, sizeof(prefix)) == 0;
}

// Adds one exempt network; an IPv4-mapped IPv6 one goes in as IPv4,
// since mapped sources are looked up as IPv4.
static int rrl_exempt_add(struct rrl_policy *p,
			  const struct config_network_override *o)
{
	struct prefix_tree **tree = &p->exempt6;
	const uint8_t *net = o->net.bytes;
	unsigned len = o->prefix_len, bits = 128;
	if (o->net.family == AF_INET) {
		tree = &p->exempt4;
		bits = 32;
	} else if (len >= 96 && rrl_v4_mapped(net)) {
		tree = &p->exempt4;
		net += 12;
		len -= 96;
		bits = 32;
	}
	if (*tree == NULL && (*tree = prefix_tree_new(bits)) == NULL)
		return -1;
	// a repeated network is harmless: it is exempt either way
	return prefix_tree_insert(*tree, net, len, 0) == -1 ? -1 : 0;
}

struct rrl_policy *rrl_policy_new(const struct config_rrl *cfg, bool *nomem)
{
	*nomem = false;
	if (cfg->responses_per_second == 0)
		return NULL;
	struct rrl_policy *p = calloc(1, sizeof(*p));
	if (p == NULL)
		goto nomem;
	p->rate = cfg->responses_per_second;
	p->slip = cfg->slip;
	p->v4_prefix = cfg->ipv4_prefix > 32 ? 32 : cfg->ipv4_prefix;
	p->v6_prefix = cfg->ipv6_prefix > 128 ? 128 : cfg->ipv6_prefix;
	for (size_t i = 0; i < cfg->exempt_count; i++)
		if (rrl_exempt_add(p, &cfg->exempt[i]) < 0)
			goto nomem;
	return p;
nomem:
	rrl_policy_free(p);
	*nomem = true;
	return NULL;
}

void rrl_policy_free(struct rrl_policy *p)
{
	if (p == NULL)
		return;
	prefix_tree_free(p->exempt4);
	prefix_tree_free(p->exempt6);
	free(p);
}

/* ---- client keys --------------------------------------------------- */

// MurmurHash3's 64-bit finaliser: a bijection that spreads every bit.
static uint64_t rrl_mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

static uint64_t rrl_read_be64(const uint8_t *b)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | b[i];
	return v;
}

static bool rrl_exempt(const struct prefix_tree *t, const uint8_t *addr)
{
	if (t == NULL)
		return false;
	struct prefix_match m;
	prefix_tree_lookup(t, addr, &m);
	return m.value >= 0;
}

static bool rrl_key_v4(const struct rrl_policy *p, const uint8_t *a4,
		       uint64_t *key)
{
	if (rrl_exempt(p->exempt4, a4))
		return false;
	uint8_t m[4];
	memcpy(m, a4, sizeof(m));
	addr_bits_clear(m, p->v4_prefix, 32);
	uint32_t net = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
		       (uint32_t)m[2] << 8 | m[3];
	// injective: one key per (prefix, network)
	*key = rrl_mix(KEY_V4_TAG | (uint64_t)p->v4_prefix << 32 | net);
	return true;
}

static bool rrl_key_v6(const struct rrl_policy *p, const uint8_t *a16,
		       uint64_t *key)
{
	if (rrl_exempt(p->exempt6, a16))
		return false;
	unsigned len = p->v6_prefix;
	uint8_t m[16];
	memcpy(m, a16, sizeof(m));
	addr_bits_clear(m, len, 128);
	uint64_t hi = rrl_read_be64(m);
	uint64_t lo = rrl_read_be64(m + 8);
	*key = rrl_mix(hi ^ rrl_mix(lo ^ KEY_V6_TAG ^ len));
	return true;
}

bool rrl_client_key(const struct rrl_policy *p, const struct sockaddr *from,
		    uint64_t *key)
{
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)from;
		return rrl_key_v4(p, (const uint8_t *)&sin->sin_addr, key);
	}
	if (from->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)from;
		const uint8_t *a = sin6->sin6_addr.s6_addr;
		if (rrl_v4_mapped(a))
			return rrl_key_v4(p, a + 12, key);
		return rrl_key_v6(p, a, key);
	}
	return false;
}

/* ---- the shared table ---------------------------------------------- */

static uint64_t rrl_seed(void)
{
	uint64_t seed;
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) == sizeof(seed))
		return seed;
	// no entropy yet (early boot): still differs per process and start
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return rrl_mix((uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 32 ^
		       (uint64_t)(uintptr_t)&seed);
}

struct rrl_table *rrl_table_new(void)
{
	struct rrl_table *t = aligned_alloc(alignof(struct rrl_table),
					    sizeof(struct rrl_table));
	if (t == NULL)
		return NULL;
	memset(t, 0, sizeof(*t));
	// calloc: the pages of slots never used are never touched
	t->buckets = calloc(RRL_SLOTS, sizeof(*t->buckets));
	if (t->buckets == NULL) {
		free(t);
		return NULL;
	}
	for (unsigned i = 0; i < RRL_STRIPES; i++)
		pthread_mutex_init(&t->stripes[i].lock, NULL);
	t->seed = rrl_seed();
	atomic_init(&t->dropped, 0);
	atomic_init(&t->slipped, 0);
	return t;
}

void rrl_table_free(struct rrl_table *t)
{
	if (t == NULL)
		return;
	for (unsigned i = 0; i < RRL_STRIPES; i++)
		pthread_mutex_destroy(&t->stripes[i].lock);
	free(t->buckets);
	free(t);
}

static void rrl_count(struct rrl_table *t, enum rrl_verdict v)
{
	atomic_fetch_add_explicit(v == RRL_SLIP ? &t->slipped : &t->dropped, 1,
				  memory_order_relaxed);
}

enum rrl_verdict rrl_check(struct rrl_table *t, const struct rrl_policy *p,
			   const struct sockaddr *from, uint64_t now_ms)
{
	uint64_t key;
	if (p == NULL || !rrl_client_key(p, from, &key))
		return RRL_SEND;
	size_t slot = (size_t)(rrl_mix(key ^ t->seed) & (RRL_SLOTS - 1));
	pthread_mutex_t *lock = &t->stripes[slot % RRL_STRIPES].lock;
	struct rrl_bucket *b = &t->buckets[slot];

	pthread_mutex_lock(lock);
	if (b->key != key)
		rrl_bucket_reset(b, key, now_ms, p->rate);
	enum rrl_verdict v = rrl_bucket_account(b, now_ms, p->rate, p->slip);
	pthread_mutex_unlock(lock);

	if (v != RRL_SEND)
		rrl_count(t, v);
	return v;
}

uint64_t rrl_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- counters ------------------------------------------------------ */

void rrl_table_counts(const struct rrl_table *t, struct rrl_counts *out)
{
	out->dropped = atomic_load_explicit(&t->dropped, memory_order_relaxed);
	out->slipped = atomic_load_explicit(&t->slipped, memory_order_relaxed);
	out->limited = out->dropped + out->slipped;
}

void rrl_table_log_period(struct rrl_table *t, unsigned seconds)
{
	struct rrl_counts now;
	rrl_table_counts(t, &now);
	if (now.limited == t->logged.limited)
		return;
	log_info("rrl: %" PRIu64 " responses limited in the last %u s "
		 "(%" PRIu64 " dropped, %" PRIu64 " slipped)",
		 now.limited - t->logged.limited, seconds,
		 now.dropped - t->logged.dropped,
		 now.slipped - t->logged.slipped);
	t->logged = now;
}

void rrl_table_log_totals(const struct rrl_table *t)
{
	struct rrl_counts c;
	rrl_table_counts(t, &c);
	log_info("rrl: %" PRIu64 " responses limited in total "
		 "(%" PRIu64 " dropped, %" PRIu64 " slipped)",
		 c.limited, c.dropped, c.slipped);
}
