/*
 * src/prefix.c — a plain binary trie of networks (one bit per level),
 * built once at load: override lists are small, so clarity beats path
 * compression. Lookups walk at most max_bits nodes and never allocate.
 */
#include "autoconf.h"
#include "prefix.h"

#include "addr.h"

#include <stdbool.h>
#include <stdlib.h>

struct prefix_node {
	struct prefix_node *child[2];
	int value;              /* -1: no prefix ends here */
};

struct prefix_tree {
	struct prefix_node root;
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

int prefix_tree_insert(struct prefix_tree *t, const uint8_t *net,
		       unsigned len, int value)
{
	if (len > t->max_bits)
		len = t->max_bits;
	struct prefix_node *n = &t->root;
	for (unsigned i = 0; i < len; i++) {
		unsigned b = addr_bit(net, i);
		if (n->child[b] == NULL) {
			n->child[b] = calloc(1, sizeof(struct prefix_node));
			if (n->child[b] == NULL)
				return -1;
			n->child[b]->value = -1;
		}
		n = n->child[b];
	}
	if (n->value >= 0)
		return -2 - n->value;
	n->value = value;
	t->count++;
	return 0;
}

static bool node_is_leaf(const struct prefix_node *n)
{
	return n->child[0] == NULL && n->child[1] == NULL;
}

void prefix_tree_lookup(const struct prefix_tree *t, const uint8_t *addr,
			struct prefix_match *out)
{
	const struct prefix_node *n = &t->root;
	unsigned depth = 0;
	out->value = -1;
	out->match_len = 0;
	for (;;) {
		if (n->value >= 0) {
			out->value = n->value;
			out->match_len = (uint8_t)depth;
		}
		if (depth == t->max_bits)
			break;
		const struct prefix_node *next = n->child[addr_bit(addr, depth)];
		if (next == NULL)
			break;
		n = next;
		depth++;
	}
	/*
	 * addr's path ends at depth. If the last node still has a subtree
	 * (on the other side), some longer prefix lies inside addr/depth
	 * without containing addr, so one more bit is needed to exclude it.
	 */
	out->uniform_len = (uint8_t)(node_is_leaf(n) || depth == t->max_bits
				     ? depth : depth + 1);
}

size_t prefix_tree_count(const struct prefix_tree *t)
{
	return t->count;
}
