/*
 * src/rrl.h — response rate limiting for UDP: an immutable policy per
 * snapshot (rate, slip, client network sizes, exempt networks) and one
 * mutable table of per-network token buckets shared by every worker.
 */
#ifndef GEOVIP_RRL_H
#define GEOVIP_RRL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

struct config_rrl;
struct rrl_policy;
struct rrl_table;

enum rrl_verdict {
	RRL_SEND, /* within the rate (or not limited at all) */
	RRL_DROP, /* limited: send nothing */
	RRL_SLIP  /* limited: send the response cut to TC=1 */
};

/**
 * One client network's token bucket. Tokens are kept in thousandths, so
 * refilling R per second is exactly R per millisecond and nothing is lost
 * to rounding however often the clock is read.
 */
struct rrl_bucket {
	uint64_t key;         /* rrl_client_key of the network it counts */
	uint64_t stamp_ms;    /* when tokens were last brought up to date */
	uint32_t millitokens; /* at most rate * 1000 (the burst) */
	uint32_t unslipped;   /* limited responses since the last slip */
};

/**
 * The pure bucket arithmetic: refill b for the time since its stamp (at
 * rate per second, capped at rate), then spend one token. Without a whole
 * token the response is limited, and every slip-th limited response of
 * the bucket slips (slip 0: none, 1: all). rate must be > 0.
 */
enum rrl_verdict rrl_bucket_account(struct rrl_bucket *b, uint64_t now_ms,
				    unsigned rate, unsigned slip);

/** Starts b afresh for key at now_ms: a full burst, nothing limited. */
void rrl_bucket_reset(struct rrl_bucket *b, uint64_t key, uint64_t now_ms,
		      unsigned rate);

/**
 * The policy of cfg, or NULL when RRL is off (responses_per_second 0)
 * or out of memory (*nomem set true). Immutable; lives in a snapshot.
 */
struct rrl_policy *rrl_policy_new(const struct config_rrl *cfg, bool *nomem);
void rrl_policy_free(struct rrl_policy *p);

/**
 * The key of from's client network: the source address (an IPv4-mapped
 * IPv6 one as IPv4) cut to the policy's ipv4_prefix / ipv6_prefix.
 * Returns false when from is exempt or not IPv4/IPv6 (never limited).
 */
bool rrl_client_key(const struct rrl_policy *p, const struct sockaddr *from,
		    uint64_t *key);

/** An empty bucket table (fixed size); NULL when out of memory. */
struct rrl_table *rrl_table_new(void);
void rrl_table_free(struct rrl_table *t);

/**
 * The verdict for one UDP response to from at now_ms under p (p NULL:
 * RRL_SEND). Thread-safe; counts limited, dropped and slipped responses.
 */
enum rrl_verdict rrl_check(struct rrl_table *t, const struct rrl_policy *p,
			   const struct sockaddr *from, uint64_t now_ms);

/** A cheap monotonic clock in milliseconds (CLOCK_MONOTONIC_COARSE). */
uint64_t rrl_now_ms(void);

struct rrl_counts {
	uint64_t limited, dropped, slipped;
};

/** The totals since the table was made. */
void rrl_table_counts(const struct rrl_table *t, struct rrl_counts *out);

/**
 * Logs "rrl: N responses limited in the last 10 s (...)" when the
 * counters moved since the previous call. Call from one thread only.
 */
void rrl_table_log_period(struct rrl_table *t, unsigned seconds);

/** Logs the totals (at shutdown). */
void rrl_table_log_totals(const struct rrl_table *t);

#endif
