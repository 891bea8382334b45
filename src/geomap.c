/*
 * src/geomap.c — geo tree + network overrides + per-record regions →
 * one flattened binary tree per family whose leaves carry a region and
 * the scope of the widest subtree around them that has one region.
 *
 * The tree is exact: every address, private ones included (a packet
 * source can be 127.0.N.1), walks to the region the old step-by-step
 * decision gives it. Sibling leaves of one region are merged into one
 * unless one is private and the other not: a leaf's private flag is
 * addr_is_private of every address in it.
 *
 * The scope rule. A node is "uniform" when every public address under it
 * has one region; addresses in the private ranges of addr.h count as
 * "don't care", because a private ECS address is set aside and never
 * reaches a scope (so 10.0.0.0/8 never splits a merge, while 127.0.1.1
 * as a packet source still gets its own region). A leaf's scope is the
 * depth of its highest ancestor such that every node from there down is
 * uniform; a leaf wholly inside private space has scope = its depth.
 * An IPv6 prefix that carries IPv4 (::ffff:0:0/96, 64:ff9b::/96, Teredo
 * 2001::/32, 6to4 2002::/16) is a barrier: no node strictly containing
 * it is uniform, since a client there sending a longer ECS prefix is
 * looked up as IPv4, not in this tree. So a claimed prefix never mixes
 * addresses looked up in two ways.
 *
 * Leaves store how many levels above them the scope lies, not the scope
 * itself, so a geo subtree the mmdb shares (MaxMind aliases the IPv4
 * subtree under ::ffff:0:0/96 and 2002::/16) is built once and shared.
 */
#include "autoconf.h"
#include "geomap.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* A child value: a node index, or a leaf with these fields. */
#define GM_LEAF 0x80000000u
#define GM_PRIV 0x01000000u /* leaf wholly in private space */
#define GM_REGION(v) ((int)((v)&0xffffu))
#define GM_UP(v) (((v) >> 16) & 0xffu)
/* which rule gave the region: sibling leaves merge only when it is the
 * same, but it plays no part in the scope (answers depend on region) */
#define GM_REASON_SHIFT 25
#define GM_REASON(v) (((v) >> GM_REASON_SHIFT) & 3u)
#define GM_NODES_MAX 0x7fffffffu

enum { U_DONTCARE = -1, U_MIXED = -2 };
enum { FAM_V4, FAM_V6 };

/* The first GM_JUMP_BITS bits of an address index a table per family
 * that holds what the walk from the root reaches after them (a node at
 * that depth, or a leaf above it, with its depth): a query walks the
 * rest. 2^16 entries of 5 bytes per family. */
#define GM_JUMP_BITS 16
#define GM_JUMP_SIZE (1u << GM_JUMP_BITS)

struct geomap {
	uint32_t (*nodes)[2];
	size_t count;
	uint32_t root[2];
	uint32_t *jump[2];      /* GM_JUMP_SIZE values per family */
	uint8_t *jump_depth[2]; /* and the depth each was found at */
};

/* An interesting prefix inside the geo tree: an override, a private
 * range or a barrier. Sorted by address then length. */
enum item_kind { ITEM_OVERRIDE, ITEM_PRIVATE, ITEM_BARRIER };
struct item {
	uint8_t bytes[16];
	uint8_t len;
	uint8_t kind;
	int region;
};

struct build {
	struct geo_tree t;
	const int *record_region;
	const uint8_t *record_reason;
	int nodata_region;
	uint8_t nodata_reason;
	const struct item *items;
	unsigned bits;
	uint32_t (*nodes)[2];
	int32_t *node_u;
	size_t count, cap;
	/* per geo node, outside and inside private ranges (2v, 2v+1): the
	 * subtree built without overrides, private ranges or barriers in it */
	uint32_t *memo_val;
	int32_t *memo_u;
	uint8_t *memo_height;    /* 0: none; else height + 1 */
	uint8_t *memo_cut_depth; /* a cut result: valid at this depth only */
	/* walk calls left: a crafted tree (a node leading to itself, shared
	 * subtrees at many depths) cannot make the merge unfold it */
	uint64_t budget;
	bool oom, too_big;
};

/* What a subtree's build returns. */
struct res {
	uint32_t val;
	int32_t u;      /* as the parent sees it (MIXED at a barrier) */
	uint8_t height; /* of the geo recursion below */
	bool cut;       /* a geo node was cut at the last bit */
};

static int32_t u_combine(int32_t a, int32_t b)
{
	if (a == U_DONTCARE)
		return b;
	if (b == U_DONTCARE || a == b)
		return a;
	return U_MIXED;
}

static int value_region(const struct build *b, uint32_t v)
{
	if (v > b->t.node_count)
		return b->record_region[v - b->t.node_count - 1];
	return b->nodata_region;
}

static unsigned value_reason(const struct build *b, uint32_t v)
{
	if (v > b->t.node_count)
		return b->record_reason[v - b->t.node_count - 1];
	return b->nodata_reason;
}

static uint32_t node_add(struct build *b, uint32_t left, uint32_t right,
			 int32_t u)
{
	if (b->count == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		if (cap > GM_NODES_MAX)
			cap = GM_NODES_MAX;
		if (cap <= b->count) {
			b->oom = true;
			return GM_LEAF;
		}
		void *n = realloc(b->nodes, cap * sizeof(*b->nodes));
		if (n == NULL) {
			b->oom = true;
			return GM_LEAF;
		}
		b->nodes = n;
		n = realloc(b->node_u, cap * sizeof(*b->node_u));
		if (n == NULL) {
			b->oom = true;
			return GM_LEAF;
		}
		b->node_u = n;
		b->cap = cap;
	}
	b->nodes[b->count][0] = left;
	b->nodes[b->count][1] = right;
	b->node_u[b->count] = u;
	return (uint32_t)b->count++;
}

static uint32_t leaf_make(int region, unsigned reason, int32_t u)
{
	return GM_LEAF | (uint32_t)region | (reason << GM_REASON_SHIFT) |
	       (u == U_DONTCARE ? GM_PRIV : 0);
}

/*
 * The subtree of prefix p/d (p implied by the path), geo value v, items
 * [lo, hi) inside p/d, inh the region of the longest override containing
 * p/d (or -1), priv when p/d lies in a private range.
 */
static struct res walk(struct build *b, uint32_t v, unsigned d, size_t lo,
		       size_t hi, int inh, bool priv)
{
	struct res r = {0, 0, 0, false};
	bool barrier = false;
	if (b->budget-- == 0) {
		b->oom = b->too_big = true;
		return r;
	}
	// the items that are p/d itself come first (shortest at one address)
	for (; lo < hi && b->items[lo].len == d; lo++) {
		const struct item *it = &b->items[lo];
		if (it->kind == ITEM_OVERRIDE)
			inh = it->region;
		else if (it->kind == ITEM_PRIVATE)
			priv = true;
		else
			barrier = true;
	}
	if (d == b->bits && v < b->t.node_count) {
		v = b->t.node_count; // geo_lookup stops here: no data
		r.cut = true;
	}
	if (lo == hi && (inh >= 0 || v >= b->t.node_count)) {
		int region = inh >= 0 ? inh : value_region(b, v);
		unsigned reason =
			inh >= 0 ? GEOMAP_BY_NETWORK : value_reason(b, v);
		int32_t u = priv ? U_DONTCARE : region;
		r.val = leaf_make(region, reason, u);
		r.u = barrier ? U_MIXED : u;
		return r;
	}
	// without overrides, private ranges or barriers inside, the subtree
	// depends on v alone (and on d, where the last bit cuts it)
	bool memo = lo == hi && inh < 0 && !barrier;
	size_t slot = 2 * (size_t)v + priv; // inside a private range or not
	if (memo && b->memo_height[slot] != 0 &&
	    (b->memo_cut_depth[slot] != 0
		     ? b->memo_cut_depth[slot] == d
		     : d + b->memo_height[slot] - 1 <= b->bits)) {
		r.val = b->memo_val[slot];
		r.u = b->memo_u[slot];
		r.height = (uint8_t)(b->memo_height[slot] - 1);
		r.cut = b->memo_cut_depth[slot] != 0;
		return r;
	}

	size_t mid = lo;
	while (mid < hi && addr_bit(b->items[mid].bytes, d) == 0)
		mid++;
	uint32_t cl = v < b->t.node_count ? b->t.left[v] : v;
	uint32_t cr = v < b->t.node_count ? b->t.right[v] : v;
	struct res rl = walk(b, cl, d + 1, lo, mid, inh, priv);
	if (b->oom)
		return r;
	struct res rr = walk(b, cr, d + 1, mid, hi, inh, priv);
	if (b->oom)
		return r;

	int32_t u = u_combine(rl.u, rr.u);
	r.height =
		(uint8_t)(1 + (rl.height > rr.height ? rl.height : rr.height));
	r.cut = rl.cut || rr.cut;
	// a leaf is wholly private or wholly public, so the walk also tells
	// whether an address is private (addr_is_private) for free
	if ((rl.val & rr.val & GM_LEAF) && u != U_MIXED &&
	    GM_REGION(rl.val) == GM_REGION(rr.val) &&
	    GM_REASON(rl.val) == GM_REASON(rr.val) &&
	    (rl.val & GM_PRIV) == (rr.val & GM_PRIV))
		r.val = leaf_make(GM_REGION(rl.val), GM_REASON(rl.val), u);
	else
		r.val = node_add(b, rl.val, rr.val, u);
	r.u = barrier ? U_MIXED : u;
	if (memo && !b->oom) {
		b->memo_val[slot] = r.val;
		b->memo_u[slot] = r.u;
		b->memo_height[slot] = (uint8_t)(r.height + 1);
		b->memo_cut_depth[slot] = r.cut ? (uint8_t)d : 0;
	}
	return r;
}

/* Sets each leaf's levels-up below val (at depth d); top is the depth of
 * the highest uniform ancestor of an unbroken uniform chain, or -1. */
static void scope_set(struct build *b, uint32_t val, unsigned d, int top,
		      uint8_t *done)
{
	int32_t u = b->node_u[val];
	int t = u == U_MIXED ? -1 : top >= 0 ? top : (int)d;
	// below a mixed node nothing depends on what lies above: a shared
	// subtree is done once
	if (u == U_MIXED) {
		if (done[val])
			return;
		done[val] = 1;
	}
	for (int c = 0; c < 2; c++) {
		uint32_t child = b->nodes[val][c];
		if (!(child & GM_LEAF)) {
			scope_set(b, child, d + 1, t, done);
			continue;
		}
		unsigned up = 0;
		if (!(child & GM_PRIV) && t >= 0)
			up = d + 1 - (unsigned)t;
		b->nodes[val][c] = (child & ~(0xffu << 16)) | (up << 16);
	}
}

static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c = memcmp(a->bytes, b->bytes, 16);
	if (c != 0)
		return c;
	return (int)a->len - (int)b->len;
}

/* The overrides, private ranges and (IPv6) barriers of one family. */
static struct item *items_collect(const struct geomap_input *in, int family,
				  size_t *count)
{
	size_t max = in->override_count + addr_private_count() +
		     addr_embedded_count();
	struct item *items = calloc(max ? max : 1, sizeof(*items));
	if (items == NULL)
		return NULL;
	size_t n = 0;
	for (size_t i = 0; i < in->override_count; i++) {
		const struct geomap_override *o = &in->overrides[i];
		if (o->net.family != family)
			continue;
		memcpy(items[n].bytes, o->net.bytes, 16);
		addr_bits_clear(items[n].bytes, o->len, 128);
		items[n].len = o->len;
		items[n].kind = ITEM_OVERRIDE;
		items[n++].region = o->region;
	}
	for (size_t i = 0; i < addr_private_count(); i++) {
		struct ip_addr net;
		uint8_t len;
		addr_private_get(i, &net, &len);
		if (net.family != family)
			continue;
		memcpy(items[n].bytes, net.bytes, 16);
		items[n].len = len;
		items[n++].kind = ITEM_PRIVATE;
	}
	for (size_t i = 0; family == AF_INET6 && i < addr_embedded_count();
	     i++) {
		struct ip_addr net;
		uint8_t len, offset;
		addr_embedded_get(i, &net, &len, &offset);
		memcpy(items[n].bytes, net.bytes, 16);
		items[n].len = len;
		items[n++].kind = ITEM_BARRIER;
	}
	qsort(items, n, sizeof(*items), item_cmp);
	*count = n;
	return items;
}

/* Builds one family's tree into b; the root value in *root. */
static int family_build(struct build *b, const struct geomap_input *in,
			int family, uint32_t *root)
{
	size_t n;
	struct item *items = items_collect(in, family, &n);
	if (items == NULL)
		return -1;
	b->items = items;
	b->bits = family == AF_INET ? 32 : 128;
	uint32_t v = 0; // geo_lookup's start
	if (b->t.ip_version == 4 && family == AF_INET6)
		v = b->t.node_count; // an IPv4 tree knows nothing of IPv6
	else if (b->t.ip_version == 6 && family == AF_INET)
		v = b->t.v4_start;
	struct res r = walk(b, v, 0, 0, n, -1, false);
	free(items);
	if (b->oom)
		return -1;
	if (r.val & GM_LEAF) {
		*root = r.val & ~(0xffu << 16); // scope 0: one region
		return 0;
	}
	*root = r.val;
	return 0;
}

/* Fills the jump table entries [from, from + 2^(GM_JUMP_BITS - d)) with
 * what the walk reaches from v at depth d. */
static void jump_fill(struct geomap *m, int f, uint32_t v, unsigned d,
		      uint32_t from)
{
	if (d == GM_JUMP_BITS || (v & GM_LEAF)) {
		uint32_t n = 1u << (GM_JUMP_BITS - d);
		for (uint32_t i = from; i < from + n; i++) {
			m->jump[f][i] = v;
			m->jump_depth[f][i] = (uint8_t)d;
		}
		return;
	}
	jump_fill(m, f, m->nodes[v][0], d + 1, from);
	jump_fill(m, f, m->nodes[v][1], d + 1,
		  from | 1u << (GM_JUMP_BITS - d - 1));
}

static int jump_build(struct geomap *m)
{
	for (int f = 0; f < 2; f++) {
		m->jump[f] = calloc(GM_JUMP_SIZE, sizeof(*m->jump[f]));
		m->jump_depth[f] = calloc(GM_JUMP_SIZE, 1);
		if (m->jump[f] == NULL || m->jump_depth[f] == NULL)
			return -1;
		jump_fill(m, f, m->root[f], 0, 0);
	}
	return 0;
}

static void build_free(struct build *b)
{
	free(b->nodes);
	free(b->node_u);
	free(b->memo_val);
	free(b->memo_u);
	free(b->memo_height);
	free(b->memo_cut_depth);
}

static bool regions_fit(const struct geomap_input *in, uint32_t records)
{
	if (in->nodata_region < 0 || in->nodata_region > 0xffff)
		return false;
	for (size_t i = 0; i < records; i++)
		if (in->record_region[i] < 0 || in->record_region[i] > 0xffff)
			return false;
	for (size_t i = 0; i < in->override_count; i++)
		if (in->overrides[i].region < 0 ||
		    in->overrides[i].region > 0xffff)
			return false;
	return true;
}

struct geomap *geomap_build(const struct geomap_input *in, const char **why)
{
	struct build b;
	memset(&b, 0, sizeof(b));
	geo_tree_get(in->geo, &b.t);
	b.record_region = in->record_region;
	b.record_reason = in->record_reason;
	b.nodata_region = in->nodata_region;
	b.nodata_reason = in->nodata_reason;
	*why = "more than 65536 regions";
	if (!regions_fit(in, b.t.record_count))
		return NULL;
	*why = "out of memory";
	// a real tree takes about 2 calls per geo node, plus 2 per bit of
	// each path to an override, private range or barrier
	b.budget = 16 * ((uint64_t)b.t.node_count + 1) +
		   4 * 130 * ((uint64_t)in->override_count + 64) + 1000000;
	size_t memo_n = 2 * ((size_t)b.t.node_count + 1);
	b.memo_val = calloc(memo_n, sizeof(*b.memo_val));
	b.memo_u = calloc(memo_n, sizeof(*b.memo_u));
	b.memo_height = calloc(memo_n, sizeof(*b.memo_height));
	b.memo_cut_depth = calloc(memo_n, sizeof(*b.memo_cut_depth));
	struct geomap *m = calloc(1, sizeof(*m));
	if (m == NULL || b.memo_val == NULL || b.memo_u == NULL ||
	    b.memo_height == NULL || b.memo_cut_depth == NULL)
		goto fail;
	if (family_build(&b, in, AF_INET, &m->root[FAM_V4]) < 0 ||
	    family_build(&b, in, AF_INET6, &m->root[FAM_V6]) < 0)
		goto fail;

	uint8_t *done = calloc(b.count + 1, 1);
	if (done == NULL)
		goto fail;
	for (int f = 0; f < 2; f++)
		if (!(m->root[f] & GM_LEAF))
			scope_set(&b, m->root[f], 0, -1, done);
	free(done);
	m->nodes = b.nodes;
	m->count = b.count;
	if (b.count > 0 && b.count < b.cap) {
		void *shrunk = realloc(b.nodes, b.count * sizeof(*b.nodes));
		if (shrunk != NULL)
			m->nodes = shrunk;
	}
	b.nodes = NULL;
	build_free(&b);
	if (jump_build(m) < 0) {
		geomap_free(m);
		return NULL;
	}
	return m;
fail:
	if (b.too_big)
		*why = "its search tree would unfold into too many nodes "
		       "(nodes shared at many depths, or leading to "
		       "themselves: is the file corrupt?)";
	build_free(&b);
	free(m);
	return NULL;
}

void geomap_free(struct geomap *m)
{
	if (m == NULL)
		return;
	free(m->nodes);
	for (int f = 0; f < 2; f++) {
		free(m->jump[f]);
		free(m->jump_depth[f]);
	}
	free(m);
}

/* The network-order bytes p[0..8) as one number. */
static uint64_t load_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

void geomap_lookup(const struct geomap *m, const struct ip_addr *addr,
		   struct geomap_leaf *out)
{
	const uint8_t *b = addr->bytes;
	int f = addr->family == AF_INET ? FAM_V4 : FAM_V6;
	unsigned top = (unsigned)b[0] << 8 | b[1];
	uint32_t v = m->jump[f][top];
	unsigned d = m->jump_depth[f][top];
	if (!(v & GM_LEAF)) {
		// the rest of the walk a word at a time, the next bit on top;
		// the tree is no deeper than the family's bits, by construction
		uint64_t x = f == FAM_V4
				     ? (uint64_t)((unsigned)b[2] << 8 | b[3])
					       << 48
				     : load_be64(b) << GM_JUMP_BITS;
		unsigned left = 64 - GM_JUMP_BITS; // bits of x (IPv6)
		do {
			v = m->nodes[v][x >> 63];
			x <<= 1;
			d++;
			if (--left == 0 && !(v & GM_LEAF)) {
				x = load_be64(b + 8); // IPv6 past bit 64
				left = 64;
			}
		} while (!(v & GM_LEAF));
	}
	out->region = GM_REGION(v);
	out->reason = (uint8_t)GM_REASON(v);
	out->priv = (v & GM_PRIV) != 0;
	out->depth = (uint8_t)d;
	out->scope = (uint8_t)(d - GM_UP(v));
}

/* First public leaf under v whose region is not region, or -1. */
static int other_find(const struct geomap *m, uint32_t v, int region)
{
	if (v & GM_LEAF)
		return !(v & GM_PRIV) && GM_REGION(v) != region ? GM_REGION(v)
								: -1;
	int o = other_find(m, m->nodes[v][0], region);
	return o >= 0 ? o : other_find(m, m->nodes[v][1], region);
}

void geomap_neighbour(const struct geomap *m, const struct ip_addr *addr,
		      unsigned scope, int region, int *other)
{
	*other = -1;
	if (scope == 0)
		return;
	struct ip_addr n = *addr;
	n.bytes[(scope - 1) / 8] ^= (uint8_t)(0x80 >> ((scope - 1) % 8));
	uint32_t v = m->root[addr->family == AF_INET ? FAM_V4 : FAM_V6];
	for (unsigned d = 0; d < scope && !(v & GM_LEAF); d++)
		v = m->nodes[v][addr_bit(n.bytes, d)];
	*other = other_find(m, v, region);
}

struct walk_ctx {
	const struct geomap *m;
	geomap_prune_fn *prune;
	geomap_visit_fn *visit;
	void *arg;
	struct geomap_leaf_info at;
};

static void walk_leaves(struct walk_ctx *w, uint32_t v)
{
	struct geomap_leaf_info *at = &w->at;
	if (w->prune != NULL && w->prune(w->arg, at))
		return;
	if (v & GM_LEAF) {
		at->region = GM_REGION(v);
		at->priv = (v & GM_PRIV) != 0;
		w->visit(w->arg, at);
		return;
	}
	unsigned d = at->depth;
	uint8_t bit = (uint8_t)(0x80 >> (d % 8));
	at->depth = (uint8_t)(d + 1);
	walk_leaves(w, w->m->nodes[v][0]);
	at->prefix.bytes[d / 8] |= bit;
	at->depth = (uint8_t)(d + 1);
	walk_leaves(w, w->m->nodes[v][1]);
	at->prefix.bytes[d / 8] &= (uint8_t)~bit;
	at->depth = (uint8_t)d;
}

void geomap_walk(const struct geomap *m, int family, geomap_prune_fn *prune,
		 geomap_visit_fn *visit, void *arg)
{
	struct walk_ctx w = {m, prune, visit, arg, {{0, {0}}, 0, 0, false}};
	w.at.prefix.family = (uint8_t)family;
	// the depth is bounded by the family's bits, by construction
	walk_leaves(&w, m->root[family == AF_INET ? FAM_V4 : FAM_V6]);
}

size_t geomap_node_count(const struct geomap *m)
{
	return m->count;
}

size_t geomap_bytes(const struct geomap *m)
{
	return sizeof(*m) + m->count * sizeof(*m->nodes) +
	       2 * GM_JUMP_SIZE * (sizeof(*m->jump[0]) + 1);
}
