/*
 * src/prefix.c — a path-compressed binary trie of networks, built once at
 * load: a node per network plus one per branch point, so memory grows
 * with the number of networks, not with their length (300,000 /128s
 * once took a gigabyte). Lookups walk at most max_bits nodes, never
 * allocate.
 */
#include "autoconf.h"
#include "prefix.h"

#include "addr.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* The network key/len; children differ from it at bit len. */
struct prefix_node {
	struct prefix_node *child[2];
	uint8_t key[16]; /* bits after len are zero */
	uint8_t len;
	int value; /* -1: a branch point, no network ends here */
};

struct prefix_tree {
	struct prefix_node root; /* len 0 */
	unsigned max_bits;
	size_t count;
};

struct prefix_tree *prefix_tree_new(unsigned max_bits)
{
	struct prefix_tree *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->root.value = -1;
	t->max_bits = max_bits;
	return t;
}

static void node_free(struct prefix_node *n)
{
	for (unsigned b = 0; b < 2; b++) {
		if (n->child[b] != NULL) {
			node_free(n->child[b]);
			free(n->child[b]);
		}
	}
}

void prefix_tree_free(struct prefix_tree *t)
{
	if (t == NULL)
		return;
	node_free(&t->root);
	free(t);
}

static struct prefix_node *node_new(const uint8_t *net, unsigned len, int value)
{
	struct prefix_node *n = calloc(1, sizeof(*n));
	if (n == NULL)
		return NULL;
	memcpy(n->key, net, (len + 7) / 8);
	addr_bits_clear(n->key, len, 128);
	n->len = (uint8_t)len;
	n->value = value;
	return n;
}

/* The first bit in [from, to) where a and b differ, or to. */
static unsigned first_difference(const uint8_t *a, const uint8_t *b,
				 unsigned from, unsigned to)
{
	for (unsigned i = from; i < to; i++)
		if (addr_bit(a, i) != addr_bit(b, i))
			return i;
	return to;
}

/*
 * Puts net/len between parent and its child next, whose key agrees with
 * net up to bit split: either as next's parent (split == len), or beside
 * next under a new branch point at split.
 */
static int node_split(struct prefix_node **slot, const uint8_t *net,
		      unsigned len, unsigned split, int value)
{
	struct prefix_node *next = *slot;
	struct prefix_node *mid =
		node_new(net, split, split == len ? value : -1);
	if (mid == NULL)
		return -1;
	if (split < len) {
		struct prefix_node *leaf = node_new(net, len, value);
		if (leaf == NULL) {
			free(mid);
			return -1;
		}
		mid->child[addr_bit(net, split)] = leaf;
	}
	mid->child[addr_bit(next->key, split)] = next;
	*slot = mid;
	return 0;
}

int prefix_tree_insert(struct prefix_tree *t, const uint8_t *net, unsigned len,
		       int value)
{
	if (len > t->max_bits)
		len = t->max_bits;
	struct prefix_node *n = &t->root;
	while (n->len < len) {
		struct prefix_node **slot = &n->child[addr_bit(net, n->len)];
		if (*slot == NULL) {
			if ((*slot = node_new(net, len, value)) == NULL)
				return -1;
			t->count++;
			return 0;
		}
		unsigned end = (*slot)->len < len ? (*slot)->len : len;
		unsigned split =
			first_difference(net, (*slot)->key, n->len, end);
		if (split < (*slot)->len) {
			if (node_split(slot, net, len, split, value) < 0)
				return -1;
			t->count++;
			return 0;
		}
		n = *slot;
	}
	if (n->value >= 0)
		return -2 - n->value;
	n->value = value;
	t->count++;
	return 0;
}

void prefix_tree_lookup(const struct prefix_tree *t, const uint8_t *addr,
			struct prefix_match *out)
{
	const struct prefix_node *n = &t->root;
	out->value = -1;
	out->match_len = 0;
	for (;;) {
		if (n->value >= 0) {
			out->value = n->value;
			out->match_len = n->len;
		}
		if (n->len == t->max_bits)
			break;
		unsigned b = addr_bit(addr, n->len);
		const struct prefix_node *next = n->child[b];
		if (next == NULL) {
			/*
			 * addr's path ends here. A subtree on the other side
			 * lies inside addr/len without containing addr, so
			 * one more bit is needed to exclude it.
			 */
			out->uniform_len =
				(uint8_t)(n->child[!b] != NULL ? n->len + 1
							       : n->len);
			return;
		}
		unsigned split = first_difference(addr, next->key, n->len + 1,
						  next->len);
		if (split < next->len) {
			// the path leaves the compressed edge at split, where
			// next's networks still lie on the other side
			out->uniform_len = (uint8_t)(split + 1);
			return;
		}
		n = next;
	}
	out->uniform_len = (uint8_t)n->len;
}

size_t prefix_tree_count(const struct prefix_tree *t)
{
	return t->count;
}
