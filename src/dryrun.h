/*
 * src/dryrun.h — what a change of the per-region table (shed, drain,
 * health, undo) would move, before it is made: merged-tree leaves, shares
 * of the public IPv4 and IPv6 address space, and of a weighted client list.
 */
#ifndef GEOVIP_DRYRUN_H
#define GEOVIP_DRYRUN_H

#include <stddef.h>
#include <stdint.h>

#include "region.h"

struct snapshot;

/** Client networks one leaf contributes at most: a wider leaf is
 *  measured on this many evenly spaced /K networks... */
#define DRYRUN_SAMPLE_BITS 8
#define DRYRUN_SAMPLES (1 << DRYRUN_SAMPLE_BITS)
/** ...or on fewer (a power of two, at least one): per family, the wide
 *  leaves a change touches share about this many decisions in
 *  proportion to their size. */
#define DRYRUN_BUDGET (1u << 19)
/** Most lines a `--clients` list may have. */
#define DRYRUN_CLIENTS_MAX 100000

/** One line of a `--clients` list: a prefix (as an ECS client) and its
 *  weight. */
struct dryrun_client {
	struct region_client client;
	double weight;
};

struct dryrun_result {
	size_t leaves;         /* public leaves of both families */
	size_t leaves_changed; /* of which some client changes region */
	double space[2];       /* public addresses: [0] IPv4, [1] IPv6 */
	double moved[2];       /* of which change region */
	/* client networks decided per leaf wider than /K (0: none) */
	unsigned min_samples, max_samples;
	size_t clients, clients_moved;
	double weight, weight_moved;
	double ms; /* wall time of the computation */
};

/**
 * Compares the decisions of s's regions under table before and table
 * after, for every public leaf of the merged tree (IPv6 prefixes that
 * carry IPv4 are left to IPv4) of a region the change can touch: a leaf
 * of at most DRYRUN_SAMPLES client networks (/24 or /56) is decided
 * network by network, a wider one on DRYRUN_SAMPLES evenly spaced ones
 * (fewer when DRYRUN_BUDGET requires; out->samples). Then each of the n
 * clients. 0, or -1 when out of memory.
 */
int dryrun_compute(const struct snapshot *s, const struct region_shed *before,
		   const struct region_shed *after,
		   const struct dryrun_client *clients, size_t n,
		   struct dryrun_result *out);

/** "PREFIX WEIGHT" (or "ADDR WEIGHT") into c; -1 when malformed. The
 *  weight is a number >= 0. */
int dryrun_parse_client(const char *line, struct dryrun_client *c);

#endif
