/*
 * src/metrics.h — Prometheus metrics: the per-worker answer counters
 * (written by their worker alone, summed at scrape) and the optional
 * HTTP listener (`metrics:`) on the main thread's loop serving /metrics.
 */
#ifndef GEOVIP_METRICS_H
#define GEOVIP_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "geomap.h"
#include "query.h"

struct config;
struct diag;
struct event_base;
struct server;
struct metrics;

/** Regions counted one by one; answers from later ones count as "other". */
#define METRICS_REGIONS 64

/** The qtypes with their own label (others: "other"). */
#define METRICS_QTYPES 15
/** The rcodes with their own label (others: "other"). */
#define METRICS_RCODES 9
/** Regional answer reasons: the four sources of enum geomap_reason, then the
 *  adjustments private_ecs, embedded_ipv4, shed, runtime_override. */
#define METRICS_REASONS (GEOMAP_REASON_COUNT + 4)
/** ECS scope histogram buckets (upper bounds in metrics.c). */
#define METRICS_SCOPE_BUCKETS 10

/* Answers one worker made, by kind. Only that worker writes them. */
struct metrics_counters {
	atomic_uint_fast64_t qtype[METRICS_QTYPES];
	atomic_uint_fast64_t rcode[METRICS_RCODES];
	atomic_uint_fast64_t region[METRICS_REGIONS + 1];
	atomic_uint_fast64_t reason[METRICS_REASONS];
	atomic_uint_fast64_t ecs[2]; /* absent, present */
	atomic_uint_fast64_t scope[METRICS_SCOPE_BUCKETS];
	atomic_uint_fast64_t scope_sum;
};

/* Adds n to a counter only this thread writes: no atomic RMW. */
static inline void metrics_add(atomic_uint_fast64_t *c, uint64_t n)
{
	uint64_t v = atomic_load_explicit(c, memory_order_relaxed);
	atomic_store_explicit(c, v + n, memory_order_relaxed);
}

/** The qtype label of index i < METRICS_QTYPES ("A"... "other"). */
const char *metrics_qtype_name(unsigned i);
/** Label index of qtype (METRICS_QTYPES - 1: other). */
unsigned metrics_qtype_index(uint16_t qtype);
/** Label index of an extended rcode (METRICS_RCODES - 1: other). */
unsigned metrics_rcode_index(uint16_t rcode);
/** "continent", "shed"...: the reason label of index i < METRICS_REASONS. */
const char *metrics_reason_name(unsigned i);
/** Histogram bucket of an ECS scope 0..128. */
unsigned metrics_scope_index(uint8_t scope);

/** Counts one answer described by qi, by the worker owning m. */
static inline void metrics_count(struct metrics_counters *m,
				 const struct query_result *qi)
{
	if (!qi->answered)
		return;
	if (qi->has_question)
		metrics_add(&m->qtype[metrics_qtype_index(qi->qtype)], 1);
	metrics_add(&m->rcode[metrics_rcode_index(qi->rcode)], 1);
	if (!qi->regional)
		return;
	unsigned r = qi->region >= 0 && qi->region < METRICS_REGIONS
			     ? (unsigned)qi->region
			     : METRICS_REGIONS;
	metrics_add(&m->region[r], 1);
	metrics_add(&m->reason[qi->reason], 1);
	if (qi->ecs_private)
		metrics_add(&m->reason[GEOMAP_REASON_COUNT], 1);
	if (qi->embedded_v4)
		metrics_add(&m->reason[GEOMAP_REASON_COUNT + 1], 1);
	if (qi->shed)
		metrics_add(&m->reason[GEOMAP_REASON_COUNT + 2], 1);
	if (qi->runtime)
		metrics_add(&m->reason[GEOMAP_REASON_COUNT + 3], 1);
	metrics_add(&m->ecs[qi->ecs ? 1 : 0], 1);
	metrics_add(&m->scope[metrics_scope_index(qi->scope)], 1);
	metrics_add(&m->scope_sum, qi->scope);
}

/**
 * Opens the listener of cfg's `metrics:` on base (the main thread's
 * loop), serving srv's counters; NULL with nothing recorded when the key
 * is absent. On failure records "FILE:LINE: cannot listen for metrics on
 * ADDR: reason" in d and returns NULL with *failed set.
 */
struct metrics *metrics_open(const struct config *cfg, struct event_base *base,
			     struct server *srv, struct diag *d, bool *failed);
void metrics_free(struct metrics *m);

struct evbuffer;
/** Appends the text exposition of srv's counters to out; 0 or -1. */
int metrics_render(const struct server *srv, struct evbuffer *out);

#endif
