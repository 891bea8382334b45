/*
 * src/zone_build.c — from records to the immutable zone set of zone.h:
 * nodes (with every ancestor up to the apex) in a hash table as records
 * arrive, then per node the records sorted into RRsets, duplicates
 * dropped, the zone checks (SOA, CNAME, regional names, loops) made, and
 * everything copied into a few exactly-sized blocks freed at once. A
 * signed file's RRSIG/NSEC/NSEC3 records are kept aside for dnssec.c.
 */
#include "autoconf.h"
#include "zone.h"

#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config.h"
#include "diag.h"
#include "dname.h"
#include "zone_build.h"
#include "dnssec.h"
#include "zone_read.h"

#define T_NS 2
#define T_CNAME 5
#define T_SOA 6
#define T_A 1
#define T_AAAA 28
#define T_RRSIG 46
#define T_NSEC 47
#define T_DNSKEY 48
#define T_NSEC3 50
#define T_NSEC3PARAM 51
#define NONE UINT32_MAX
#define NAMES_BLOCK (64 * 1024)
#define CNAME_CHAIN_MAX 16

/* One record while building: 32 bytes, its RDATA in zbuild.rdata. */
struct brec {
	uint64_t rdata_off;
	uint32_t node;
	uint32_t next; /* next record of the node, or NONE */
	uint32_t ttl;
	uint32_t line;
	uint16_t type;
	uint16_t rdata_len;
	uint16_t file;
	uint8_t dup; /* repeats an earlier record */
};

struct zbuild {
	const struct config *cfg;
	const struct config_zone *cz;
	struct diag *d;
	struct zone_set *zs; /* owns every block kept */
	struct zone_files files;
	struct brec *recs;
	size_t rec_count, rec_cap;
	uint8_t *rdata;
	size_t rdata_len, rdata_cap;
	struct zone_node *nodes; /* the zone's nodes, kept at the end */
	uint32_t *head, *tail;   /* per node: its records, or NONE */
	size_t node_count, node_cap;
	uint32_t *table; /* zone_table_slot's table over nodes */
	size_t table_mask;
	uint8_t *names; /* free room in the current block */
	size_t names_left;
	size_t set_count, rdata_out; /* after duplicates are dropped */
	uint64_t *keys;              /* scratch: one node's records */
	uint32_t *seen;              /* scratch: duplicate detection */
	size_t keys_cap, seen_cap;
	/* a pre-signed file's RRSIG/NSEC/NSEC3: records of no node */
	struct zb_signed {
		uint32_t rec; /* index into recs */
		const uint8_t *owner;
	} * sec;
	size_t sec_count, sec_cap, rrsig_count;
	bool nodes_kept, table_kept; /* adopted by the zone set */
};

/* ---- memory kept by the zone set ------------------------------------- */

static bool zs_adopt(struct zone_set *zs, void *p)
{
	if (zs->block_count == zs->block_cap) {
		size_t cap = zs->block_cap ? zs->block_cap * 2 : 16;
		void **b = realloc(zs->blocks, cap * sizeof(*b));
		if (b == NULL)
			return false;
		zs->blocks = b;
		zs->block_cap = cap;
	}
	zs->blocks[zs->block_count++] = p;
	return true;
}

static void *zs_alloc(struct zone_set *zs, size_t n)
{
	void *p = calloc(1, n ? n : 1);
	if (p != NULL && !zs_adopt(zs, p)) {
		free(p);
		return NULL;
	}
	return p;
}

void zone_set_free(struct zone_set *zs)
{
	if (zs == NULL)
		return;
	for (size_t i = 0; i < zs->block_count; i++)
		free(zs->blocks[i]);
	free(zs->blocks);
	free(zs);
}

/* Room that only grows: *p holds *cap items of size each. */
static bool zb_grow(void **p, size_t *cap, size_t need, size_t size)
{
	if (need <= *cap)
		return true;
	size_t n = *cap ? *cap : 256;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * size);
	if (q == NULL)
		return false;
	*p = q;
	*cap = n;
	return true;
}

/* ---- nodes ----------------------------------------------------------- */

static const uint8_t *zb_name_copy(struct zbuild *b, const uint8_t *name,
				   size_t len)
{
	if (b->names_left < len) {
		if ((b->names = zs_alloc(b->zs, NAMES_BLOCK)) == NULL)
			return NULL;
		b->names_left = NAMES_BLOCK;
	}
	uint8_t *p = memcpy(b->names, name, len);
	b->names += len;
	b->names_left -= len;
	return p;
}

static bool zb_table_grow(struct zbuild *b)
{
	size_t size = b->table ? (b->table_mask + 1) * 2 : 256;
	uint32_t *t = calloc(size, sizeof(*t));
	if (t == NULL)
		return false;
	for (size_t i = 0; i < b->node_count; i++) {
		const struct zone_node *n = &b->nodes[i];
		t[zone_table_slot(t, size - 1, b->nodes, n->name,
				  n->name_len)] = (uint32_t)i + 1;
	}
	free(b->table);
	b->table = t;
	b->table_mask = size - 1;
	return true;
}

static uint32_t zb_find(const struct zbuild *b, const uint8_t *name, size_t len)
{
	uint32_t v = b->table[zone_table_slot(b->table, b->table_mask, b->nodes,
					      name, len)];
	return v ? v - 1 : NONE;
}

/* Room for one more node in nodes, head and tail. */
static bool zb_nodes_grow(struct zbuild *b)
{
	if (b->node_count < b->node_cap)
		return true;
	size_t cap = b->node_cap ? b->node_cap * 2 : 256;
	struct zone_node *nodes = realloc(b->nodes, cap * sizeof(*nodes));
	if (nodes != NULL)
		b->nodes = nodes;
	uint32_t *head = realloc(b->head, cap * sizeof(*head));
	if (head != NULL)
		b->head = head;
	uint32_t *tail = realloc(b->tail, cap * sizeof(*tail));
	if (tail != NULL)
		b->tail = tail;
	if (nodes == NULL || head == NULL || tail == NULL)
		return false;
	b->node_cap = cap;
	return true;
}

/*
 * The node called name (at or below the origin), added with every
 * missing ancestor when new. Returns its index, or NONE out of memory.
 */
static uint32_t zb_node(struct zbuild *b, const uint8_t *name, size_t len)
{
	uint32_t found = zb_find(b, name, len);
	if (found != NONE)
		return found;
	unsigned labels = dname_labels(b->cz->origin);
	const uint8_t *copy = zb_name_copy(b, name, len);
	if (copy == NULL)
		return NONE;
	if (len != b->cz->origin_len) {
		uint32_t parent =
			zb_node(b, copy + copy[0] + 1, len - copy[0] - 1u);
		if (parent == NONE)
			return NONE;
		labels = b->nodes[parent].labels + 1u;
	}
	if (b->node_count >= NONE - 1 ||
	    ((b->node_count + 1) * 2 > b->table_mask + 1 &&
	     !zb_table_grow(b)) ||
	    !zb_nodes_grow(b))
		return NONE;
	uint32_t i = (uint32_t)b->node_count++;
	b->nodes[i] = (struct zone_node){.name = copy,
					 .name_len = (uint8_t)len,
					 .labels = (uint8_t)labels};
	b->head[i] = b->tail[i] = NONE;
	b->table[zone_table_slot(b->table, b->table_mask, b->nodes, copy,
				 len)] = i + 1;
	return i;
}

/* ---- records in ------------------------------------------------------ */

static bool zb_type_signed(uint16_t type)
{
	return type == T_RRSIG || type == T_NSEC || type == T_NSEC3;
}

/* An RRSIG, NSEC or NSEC3 (record i, its owner not a node: NSEC3 owners
 * are hashes) kept aside for dnssec.c. */
static int zb_add_signed(struct zbuild *b, uint32_t i,
			 const struct zone_record *r)
{
	const uint8_t *owner = zb_name_copy(b, r->owner, r->owner_len);
	if (owner == NULL || !zb_grow((void **)&b->sec, &b->sec_cap,
				      b->sec_count + 1, sizeof(*b->sec)))
		return -1;
	b->sec[b->sec_count++] = (struct zb_signed){i, owner};
	b->rrsig_count += r->type == T_RRSIG;
	return 0;
}

static int zb_add(void *ctx, const struct zone_record *r)
{
	struct zbuild *b = ctx;
	bool sec = zb_type_signed(r->type);
	uint32_t node = sec ? NONE : zb_node(b, r->owner, r->owner_len);
	if ((!sec && node == NONE) || b->rec_count >= NONE - 1 ||
	    !zb_grow((void **)&b->recs, &b->rec_cap, b->rec_count + 1,
		     sizeof(*b->recs)) ||
	    /* +1: the buffer exists even when every rdata is empty, so
	     * b->rdata + offset is never arithmetic on NULL */
	    !zb_grow((void **)&b->rdata, &b->rdata_cap,
		     b->rdata_len + r->rdata_len + 1, 1))
		return -1;
	uint32_t i = (uint32_t)b->rec_count++;
	b->recs[i] = (struct brec){.rdata_off = b->rdata_len,
				   .node = node,
				   .next = NONE,
				   .ttl = r->ttl,
				   .line = r->line,
				   .type = r->type,
				   .rdata_len = (uint16_t)r->rdata_len,
				   .file = r->file};
	if (r->rdata_len > 0) // r->rdata may be NULL when empty
		memcpy(b->rdata + b->rdata_len, r->rdata, r->rdata_len);
	b->rdata_len += r->rdata_len;
	if (sec)
		return zb_add_signed(b, i, r);
	if (b->tail[node] == NONE)
		b->head[node] = i;
	else
		b->recs[b->tail[node]].next = i;
	b->tail[node] = i;
	return 0;
}

/* ---- grouping one node's records into RRsets ------------------------- */

static const char *zb_file(const struct zbuild *b, const struct brec *r)
{
	return b->files.name[r->file];
}

static const uint8_t *zb_rdata(const struct zbuild *b, const struct brec *r)
{
	return b->rdata + r->rdata_off;
}

static bool zb_same_rdata(const struct zbuild *b, const struct brec *x,
			  const struct brec *y)
{
	return x->rdata_len == y->rdata_len &&
	       memcmp(zb_rdata(b, x), zb_rdata(b, y), x->rdata_len) == 0;
}

static int key_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;
	return a < b ? -1 : a > b;
}

/* Marks the records of keys[0..n) (one RRset) that repeat an earlier
 * one: pairwise for a few, by hash for many (an RRset of 65,000 records
 * with 300,000 duplicates must not take minutes). */
static bool zb_mark_dups(struct zbuild *b, const uint64_t *keys, size_t n)
{
	if (n <= 8) {
		for (size_t i = 1; i < n; i++)
			for (size_t k = 0; k < i; k++)
				if (zb_same_rdata(
					    b, &b->recs[(uint32_t)keys[i]],
					    &b->recs[(uint32_t)keys[k]])) {
					b->recs[(uint32_t)keys[i]].dup = 1;
					break;
				}
		return true;
	}
	size_t size = 16;
	while (size < n * 2)
		size *= 2;
	if (!zb_grow((void **)&b->seen, &b->seen_cap, size, sizeof(*b->seen)))
		return false;
	memset(b->seen, 0, size * sizeof(*b->seen));
	for (size_t i = 0; i < n; i++) {
		struct brec *r = &b->recs[(uint32_t)keys[i]];
		size_t h =
			dname_hash(zb_rdata(b, r), r->rdata_len) & (size - 1);
		for (; b->seen[h] != 0; h = (h + 1) & (size - 1))
			if (zb_same_rdata(b, &b->recs[b->seen[h] - 1], r))
				break;
		if (b->seen[h] != 0)
			r->dup = 1;
		else
			b->seen[h] = (uint32_t)keys[i] + 1;
	}
	return true;
}

/* One RRset's checks: TTLs that differ, too many records. */
static void zb_check_set(struct zbuild *b, const uint64_t *keys, size_t n)
{
	const struct brec *head = &b->recs[(uint32_t)keys[0]];
	const struct zone_node *node = &b->nodes[head->node];
	char text[DNAME_TEXT_MAX], tbuf[16];
	size_t count = 0;
	bool warned = false;

	for (size_t i = 0; i < n; i++) {
		const struct brec *r = &b->recs[(uint32_t)keys[i]];
		if (r->dup)
			continue;
		if (++count == 65536) {
			dname_to_text(text, node->name);
			diag_error(
				b->d, zb_file(b, r), r->line,
				"more than 65535 '%s' %s records; split them",
				text, zone_read_type_name(r->type, tbuf));
		}
		if (r->ttl != head->ttl && !warned) {
			dname_to_text(text, node->name);
			diag_warn(b->d, zb_file(b, r), r->line,
				  "TTL %u differs from TTL %u of the other "
				  "'%s' %s records; using the lowest",
				  r->ttl, head->ttl, text,
				  zone_read_type_name(r->type, tbuf));
			warned = true;
		}
	}
}

/* A CNAME must be alone at its name, and there is only one. */
static void zb_check_cname(struct zbuild *b, const struct zone_node *node,
			   const uint64_t *keys, size_t n)
{
	const struct brec *cname = NULL;
	char text[DNAME_TEXT_MAX], tbuf[16];
	for (size_t i = 0; i < n; i++) {
		const struct brec *r = &b->recs[(uint32_t)keys[i]];
		if (r->type == T_CNAME && !r->dup && cname == NULL)
			cname = r;
		else if (r->type == T_CNAME && !r->dup) {
			dname_to_text(text, node->name);
			diag_error(b->d, zb_file(b, r), r->line,
				   "'%s' has more than one CNAME; keep one",
				   text);
		}
	}
	for (size_t i = 0; cname != NULL && i < n; i++) {
		const struct brec *r = &b->recs[(uint32_t)keys[i]];
		if (r->type == T_CNAME)
			continue;
		dname_to_text(text, node->name);
		diag_error(b->d, zb_file(b, cname), cname->line,
			   "'%s' has a CNAME and other data (%s at %s:%u); a "
			   "CNAME must be alone at its name",
			   text, zone_read_type_name(r->type, tbuf),
			   zb_file(b, r), r->line);
		return;
	}
}

/* Only the apex has a SOA, and only one. */
static void zb_check_soa(struct zbuild *b, const struct zone_node *node,
			 const uint64_t *keys, size_t n)
{
	char text[DNAME_TEXT_MAX];
	bool apex = node->flags & ZONE_NODE_APEX, first = true;
	for (size_t i = 0; i < n; i++) {
		const struct brec *r = &b->recs[(uint32_t)keys[i]];
		if (r->type != T_SOA || r->dup)
			continue;
		if (apex && first) {
			first = false;
			continue;
		}
		dname_to_text(text, node->name);
		diag_error(
			b->d, zb_file(b, r), r->line,
			apex ? "more than one SOA record at '%s'; keep one"
			     : "SOA record at '%s', which is not the zone apex",
			text);
	}
}

/*
 * Sorts node i's records by type (stable: file order within a type),
 * drops duplicates, relinks the list in that order and counts its
 * RRsets and RDATA bytes.
 */
static bool zb_group_node(struct zbuild *b, uint32_t i)
{
	size_t n = 0;
	for (uint32_t r = b->head[i]; r != NONE; r = b->recs[r].next) {
		if (!zb_grow((void **)&b->keys, &b->keys_cap, n + 1,
			     sizeof(*b->keys)))
			return false;
		b->keys[n++] = (uint64_t)b->recs[r].type << 32 | r;
	}
	if (n == 0)
		return true;
	uint64_t *keys = b->keys;
	if (n > 1)
		qsort(keys, n, sizeof(*keys), key_cmp);
	struct zone_node *node = &b->nodes[i];
	uint32_t *link = &b->head[i];
	for (size_t s = 0; s < n;) {
		size_t e = s + 1;
		while (e < n && keys[e] >> 32 == keys[s] >> 32)
			e++;
		if (!zb_mark_dups(b, keys + s, e - s))
			return false;
		zb_check_set(b, keys + s, e - s);
		b->set_count++;
		s = e;
	}
	for (size_t k = 0; k < n; k++) {
		struct brec *r = &b->recs[(uint32_t)keys[k]];
		if (r->dup)
			continue;
		*link = (uint32_t)keys[k];
		link = &r->next;
		b->rdata_out += 2 + (size_t)r->rdata_len;
		if (r->type == T_NS && !(node->flags & ZONE_NODE_APEX))
			node->flags |= ZONE_NODE_DELEGATION;
	}
	*link = NONE;
	zb_check_cname(b, node, keys, n);
	zb_check_soa(b, node, keys, n);
	return true;
}

/* The first record of type at node i, or NULL. */
static const struct brec *zb_rec(const struct zbuild *b, uint32_t i,
				 uint16_t type)
{
	for (uint32_t r = b->head[i]; r != NONE; r = b->recs[r].next)
		if (b->recs[r].type == type)
			return &b->recs[r];
	return NULL;
}

/* ---- zone-wide checks ------------------------------------------------ */

static bool zb_add_regional(struct zbuild *b)
{
	for (size_t j = 0; j < b->cz->regional_count; j++) {
		const struct config_regional_name *rn = &b->cz->regional[j];
		uint32_t i = zb_node(b, rn->name, rn->name_len);
		if (i == NONE)
			return false;
		b->nodes[i].flags |= ZONE_NODE_REGIONAL;
		b->nodes[i].service = rn->service;
	}
	return true;
}

/* Regional names: no CNAME there, A/AAAA superseded, not below a cut. */
static void zb_check_regional(struct zbuild *b)
{
	const char *cfile = b->cfg->path;
	char tbuf[16], cut[DNAME_TEXT_MAX];
	for (size_t j = 0; j < b->cz->regional_count; j++) {
		const struct config_regional_name *rn = &b->cz->regional[j];
		uint32_t i = zb_find(b, rn->name, rn->name_len);
		const struct brec *r = zb_rec(b, i, T_CNAME);
		if (r != NULL)
			diag_error(b->d, cfile, rn->line,
				   "regional name '%s' has a CNAME in %s:%u; "
				   "remove one of them",
				   rn->text, zb_file(b, r), r->line);
		// in a signed file a placeholder A puts the name in the chain
		for (uint32_t k = b->head[i]; k != NONE && b->rrsig_count == 0;
		     k = b->recs[k].next) {
			r = &b->recs[k];
			if (r->type == T_A || r->type == T_AAAA)
				diag_warn(b->d, zb_file(b, r), r->line,
					  "%s record at regional name '%s' is "
					  "superseded by the regional answer",
					  zone_read_type_name(r->type, tbuf),
					  rn->text);
		}
		// below a zone cut the referral wins and the name is never
		// answered: worth a warning, not a refusal
		const uint8_t *up = rn->name;
		for (; *up != 0 && dname_labels(up) > b->nodes[0].labels;
		     up += *up + 1) {
			uint32_t a = zb_find(b, up, dname_length(up));
			if (b->nodes[a].flags & ZONE_NODE_DELEGATION) {
				dname_to_text(cut, up);
				diag_warn(b->d, cfile, rn->line,
					  "regional name '%s' is at or below "
					  "the delegation '%s' and will not be "
					  "answered",
					  rn->text, cut);
				break;
			}
		}
	}
}

/* The node a query for node i's CNAME target lands on when that node
 * has a CNAME too (exactly, or through a wildcard); else NONE. */
static uint32_t zb_cname_next(const struct zbuild *b, uint32_t i)
{
	const struct brec *c = zb_rec(b, i, T_CNAME);
	const uint8_t *target = zb_rdata(b, c);
	if (!dname_is_subdomain(target, b->cz->origin))
		return NONE;
	uint32_t t = zb_find(b, target, c->rdata_len);
	for (const uint8_t *up = target; t == NONE && *up != 0;) {
		up += *up + 1;
		uint32_t enc = zb_find(b, up, dname_length(up));
		if (enc == NONE)
			continue;
		// the closest encloser: its wildcard child, if any, answers
		uint8_t wild[DNAME_MAX + 2] = {1, '*'};
		size_t len = dname_length(up);
		if (len + 2 > DNAME_MAX)
			return NONE;
		memcpy(wild + 2, up, len);
		t = zb_find(b, wild, len + 2);
		break;
	}
	return t != NONE && zb_rec(b, t, T_CNAME) != NULL ? t : NONE;
}

/* Warns about each CNAME loop once, at the first name of the loop. */
static void zb_check_cname_loop(struct zbuild *b, uint32_t i)
{
	uint32_t seen[CNAME_CHAIN_MAX + 1] = {i};
	char a[DNAME_TEXT_MAX], next[DNAME_TEXT_MAX];
	for (unsigned n = 1; n <= CNAME_CHAIN_MAX; n++) {
		uint32_t t = zb_cname_next(b, seen[n - 1]);
		if (t == NONE)
			return;
		for (unsigned k = 0; k < n; k++) {
			if (seen[k] != t)
				continue;
			if (k != 0)
				return; // a loop further on: reported there
			for (unsigned m = 1; m < n; m++)
				if (seen[m] < i)
					return;
			const struct brec *c = zb_rec(b, i, T_CNAME);
			dname_to_text(a, b->nodes[i].name);
			dname_to_text(next, zb_rdata(b, c));
			diag_warn(b->d, zb_file(b, c), c->line,
				  "CNAME loop: '%s' -> '%s' leads back to '%s' "
				  "after %u CNAME%s; queries for these names "
				  "get no final answer",
				  a, next, a, n, n > 1 ? "s" : "");
			return;
		}
		seen[n] = t;
	}
}

/* ---- compiling into the zone set ------------------------------------- */

static void zb_fill_soa(struct zone *z)
{
	const struct zone_rrset *soa = zone_node_rrset(z->apex, T_SOA);
	z->soa = soa;
	if (soa == NULL || soa->rdata_len < 2 + 20)
		return;
	const uint8_t *m =
		soa->rdata + 2 + (soa->rdata[0] << 8 | soa->rdata[1]) - 4;
	uint32_t minimum = (uint32_t)m[0] << 24 | (uint32_t)m[1] << 16 |
			   (uint32_t)m[2] << 8 | m[3];
	z->negative_ttl = soa->ttl < minimum ? soa->ttl : minimum;
}

/* Node i's RRsets from its (sorted, deduplicated) list. */
static void zb_fill_node(struct zbuild *b, uint32_t i, struct zone_rrset **sets,
			 uint8_t **out, size_t *records)
{
	struct zone_node *node = &b->nodes[i];
	struct zone_rrset *set = NULL;
	node->rrsets = *sets;
	node->rrset_count = 0;
	for (uint32_t k = b->head[i]; k != NONE; k = b->recs[k].next) {
		const struct brec *r = &b->recs[k];
		if (set == NULL || set->type != r->type) {
			set = (*sets)++;
			*set = (struct zone_rrset){.type = r->type,
						   .ttl = r->ttl,
						   .rdata = *out};
			node->rrset_count++;
		}
		if (set->count == UINT16_MAX)
			continue; // reported by zb_check_set
		set->count++;
		if (r->ttl < set->ttl)
			set->ttl = r->ttl;
		(*out)[0] = (uint8_t)(r->rdata_len >> 8);
		(*out)[1] = (uint8_t)r->rdata_len;
		if (r->rdata_len > 0)
			memcpy(*out + 2, zb_rdata(b, r), r->rdata_len);
		*out += 2 + (size_t)r->rdata_len;
		set->rdata_len += 2 + (size_t)r->rdata_len;
		(*records)++;
	}
}

/* The pre-encoded negative answer (zone_negative_encode), kept in the
 * zone set's memory; none when the SOA does not allow one. */
static bool zb_encode_negative(struct zbuild *b, struct zone *z)
{
	struct zone_negative neg;
	uint8_t bytes[ZONE_NEGATIVE_MAX];
	size_t len = zone_negative_encode(z, &neg, bytes);
	if (len == 0)
		return true; // answered the general way
	struct zone_negative *kept = zs_alloc(b->zs, sizeof(*kept) + len);
	if (kept == NULL)
		return false;
	*kept = neg;
	uint8_t *p = (uint8_t *)(kept + 1);
	memcpy(p, bytes, len);
	kept->bytes = p;
	z->negative = kept;
	return true;
}

/* ---- pre-signed zone files -------------------------------------------- */

/* The first record of a DNSSEC type in a file without RRSIGs. */
static const struct brec *zb_first_dnssec(const struct zbuild *b)
{
	const struct brec *r =
		b->sec_count > 0 ? &b->recs[b->sec[0].rec] : NULL;
	const struct brec *k[] = {zb_rec(b, 0, T_DNSKEY),
				  zb_rec(b, 0, T_NSEC3PARAM)};
	for (size_t i = 0; i < 2; i++)
		if (k[i] != NULL && (r == NULL || k[i] - b->recs < r - b->recs))
			r = k[i];
	return r;
}

/* "2026-11-29 21:00:00 UTC" for an RRSIG time t, read by serial
 * arithmetic around now (RFC 4034 §3.1.5); *left: seconds from now. */
static void zb_sig_time(uint32_t t, time_t now, char out[40], int64_t *left)
{
	*left = (int32_t)(t - (uint32_t)now);
	time_t when = now + (time_t)*left;
	struct tm tm;
	if (gmtime_r(&when, &tm) == NULL ||
	    strftime(out, 40, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
		snprintf(out, 40, "%" PRIu32, t);
}

/* The signed file's earliest RRSIG expiration: an error when past (the
 * zone would not validate), a warning when within `refresh`. */
static void zb_check_sig_expiry(struct zbuild *b, struct zone *z)
{
	size_t first = SIZE_MAX; // in b->sec
	int64_t least = INT64_MAX;
	time_t now = time(NULL);
	for (size_t i = 0; i < b->sec_count; i++) {
		const struct brec *r = &b->recs[b->sec[i].rec];
		if (r->type != T_RRSIG || r->rdata_len < 18)
			continue;
		const uint8_t *e = zb_rdata(b, r) + 8; // type, alg, labels, ttl
		uint32_t t = (uint32_t)e[0] << 24 | (uint32_t)e[1] << 16 |
			     (uint32_t)e[2] << 8 | e[3];
		int64_t left = (int32_t)(t - (uint32_t)now);
		if (left < least) {
			least = left;
			first = i;
			z->signed_expire = t;
		}
	}
	if (first == SIZE_MAX)
		return;
	const struct brec *r = &b->recs[b->sec[first].rec];
	char when[40], owner[DNAME_TEXT_MAX];
	zb_sig_time(z->signed_expire, now, when, &least);
	dname_to_text(owner, b->sec[first].owner);
	if (least <= 0)
		diag_error(b->d, zb_file(b, r), r->line,
			   "the RRSIG of '%s' expired at %s: the signed zone "
			   "file is out of date; sign it again",
			   owner, when);
	else if (least <= (int64_t)b->cz->dnssec.refresh)
		diag_warn(b->d, zb_file(b, r), r->line,
			  "the RRSIG of '%s' expires at %s, within the zone's "
			  "dnssec 'refresh' (%" PRIu32 " s): sign the zone "
			  "file again soon",
			  owner, when, b->cz->dnssec.refresh);
}

/*
 * An unsigned file has no DNSSEC records (geovip signs it); a signed one
 * (RRSIGs) comes with the keys geovip signs the regional answers with
 * and has its DNSKEY RRset.
 */
static void zb_check_signed(struct zbuild *b, struct zone *z)
{
	char tbuf[16];
	if (b->rrsig_count == 0) {
		const struct brec *r = zb_first_dnssec(b);
		if (r != NULL)
			diag_error(b->d, zb_file(b, r), r->line,
				   "%s record in a zone file without RRSIG "
				   "records: give geovip either the signed "
				   "file whole or the unsigned one (it signs "
				   "with `dnssec: keys`)",
				   zone_read_type_name(r->type, tbuf));
		return;
	}
	const struct brec *first = NULL;
	for (size_t i = 0; i < b->sec_count && first == NULL; i++)
		if (b->recs[b->sec[i].rec].type == T_RRSIG)
			first = &b->recs[b->sec[i].rec];
	if (b->cz->dnssec.key_count == 0)
		diag_error(b->d, zb_file(b, first), first->line,
			   "the zone file is signed (RRSIG records) but zone "
			   "'%s' has no `dnssec: keys` in %s: geovip signs the "
			   "regional names' answers and needs the zone's "
			   "signing key (ZSK) for them",
			   b->cz->origin_text, b->cfg->path);
	if (zb_rec(b, 0, T_DNSKEY) == NULL)
		diag_error(b->d, zb_file(b, first), 0,
			   "the zone file is signed but has no DNSKEY RRset at "
			   "the apex '%s'",
			   b->cz->origin_text);
	zb_check_sig_expiry(b, z);
}

/* The signed file's RRSIG, NSEC and NSEC3 records, kept by the zone. */
static bool zb_compile_signed(struct zbuild *b, struct zone *z)
{
	if (b->sec_count == 0)
		return true;
	size_t bytes = 0;
	for (size_t i = 0; i < b->sec_count; i++)
		bytes += 2 + (size_t)b->recs[b->sec[i].rec].rdata_len;
	struct zone_signed_record *out =
		zs_alloc(b->zs, b->sec_count * sizeof(*out));
	uint8_t *rd = zs_alloc(b->zs, bytes);
	if (out == NULL || rd == NULL)
		return false;
	for (size_t i = 0; i < b->sec_count; i++) {
		const struct brec *r = &b->recs[b->sec[i].rec];
		out[i] = (struct zone_signed_record){
			.owner = b->sec[i].owner,
			.rdata = rd,
			.ttl = r->ttl,
			.type = r->type,
			.line = r->file == 0 ? r->line : 0};
		rd[0] = (uint8_t)(r->rdata_len >> 8);
		rd[1] = (uint8_t)r->rdata_len;
		if (r->rdata_len > 0)
			memcpy(rd + 2, zb_rdata(b, r), r->rdata_len);
		rd += 2 + (size_t)r->rdata_len;
	}
	z->signed_records = out;
	z->signed_count = b->sec_count;
	return true;
}

static bool zb_compile(struct zbuild *b, struct zone *z)
{
	struct zone_rrset *sets = zs_alloc(b->zs, b->set_count * sizeof(*sets));
	uint8_t *rdata = zs_alloc(b->zs, b->rdata_out);
	if (sets == NULL || rdata == NULL)
		return false;
	// the build's node array and table become the zone's
	struct zone_node *nodes =
		realloc(b->nodes, b->node_count * sizeof(*nodes));
	if (nodes != NULL)
		b->nodes = nodes;
	if (!zs_adopt(b->zs, b->nodes))
		return false;
	b->nodes_kept = true;
	if (!zs_adopt(b->zs, b->table))
		return false;
	b->table_kept = true;
	z->nodes = b->nodes;
	z->table = b->table;
	z->table_mask = b->table_mask;
	z->node_count = b->node_count;
	for (uint32_t i = 0; i < b->node_count; i++)
		zb_fill_node(b, i, &sets, &rdata, &z->record_count);
	z->apex = &b->nodes[0];
	z->origin = z->apex->name;
	z->origin_len = z->apex->name_len;
	z->origin_labels = z->apex->labels;
	z->regional_ttl = b->cz->ttl;
	zb_fill_soa(z);
	return zb_compile_signed(b, z) && zb_encode_negative(b, z);
}

/* ---- one zone -------------------------------------------------------- */

static void zb_free(struct zbuild *b)
{
	zone_files_free(&b->files);
	free(b->recs);
	free(b->rdata);
	if (!b->nodes_kept)
		free(b->nodes);
	if (!b->table_kept)
		free(b->table);
	free(b->head);
	free(b->tail);
	free(b->keys);
	free(b->seen);
	free(b->sec);
}

static void zb_checks(struct zbuild *b)
{
	const char *first = b->files.name[0];
	zb_check_regional(b);
	if (zb_rec(b, 0, T_SOA) == NULL)
		diag_error(b->d, first, 0,
			   "no SOA record at the zone apex '%s'",
			   b->cz->origin_text);
	else if (zb_rec(b, 0, T_NS) == NULL)
		diag_warn(b->d, first, 0, "no NS records at the zone apex '%s'",
			  b->cz->origin_text);
	for (uint32_t i = 0; i < b->node_count; i++)
		if (zb_rec(b, i, T_CNAME) != NULL)
			zb_check_cname_loop(b, i);
}

/* Reads the zone file of cz and compiles it into z; false on error. */
static bool zb_load_one(const struct config *cfg, const struct config_zone *cz,
			struct diag *d, struct zone_set *zs, struct zone *z)
{
	struct zbuild b = {.cfg = cfg, .cz = cz, .d = d, .zs = zs};
	unsigned errors = diag_errors(d);
	bool ok = false;

	if (!zb_table_grow(&b) || zb_node(&b, cz->origin, cz->origin_len) != 0)
		goto oom;
	b.nodes[0].flags |= ZONE_NODE_APEX;
	if (zone_read(cfg, cz, d, &b.files, zb_add, &b) < 0)
		goto out; // reported
	if (b.files.count == 0 || !zb_add_regional(&b))
		goto out;
	zb_check_signed(&b, z);
	// the DNSKEY RRset of a zone geovip signs comes from its key files;
	// a signed file has its own
	if (cz->dnssec.key_count > 0 && b.rrsig_count == 0 &&
	    dnssec_dnskey_records(cfg, cz, d, 0, zb_add, &b) < 0)
		goto out;
	for (uint32_t i = 0; i < b.node_count; i++)
		if (!zb_group_node(&b, i))
			goto oom;
	zb_checks(&b);
	if (diag_errors(d) != errors)
		goto out;
	if (!zb_compile(&b, z))
		goto oom;
	ok = true;
	goto out;
oom:
	diag_error(d, cfg->path, cz->line, "%s: out of memory", cz->file);
out:
	zb_free(&b);
	return ok;
}

int zone_check_file(const struct config *cfg, const struct config_zone *cz,
		    const char *path, struct diag *d, uint32_t *serial)
{
	struct config_zone copy = *cz;
	copy.file = (char *)path; // read only
	struct zone_set *zs = calloc(1, sizeof(*zs));
	struct zone z = {0};
	if (zs == NULL) {
		diag_error(d, cfg->path, cz->line, "%s: out of memory", path);
		return -1;
	}
	bool ok = zb_load_one(cfg, &copy, d, zs, &z);
	if (ok && serial != NULL)
		*serial = zone_soa_serial(&z);
	zone_set_free(zs);
	return ok ? 0 : -1;
}

/* ---- the zone set ---------------------------------------------------- */

static bool zone_set_index(struct zone_set *zs)
{
	size_t size = 4;
	while (size < zs->zone_count * 2)
		size *= 2;
	zs->table = zs_alloc(zs, size * sizeof(*zs->table));
	zs->origins = zs_alloc(zs, zs->zone_count * sizeof(*zs->origins));
	if (zs->table == NULL || zs->origins == NULL)
		return false;
	zs->table_mask = size - 1;
	for (size_t i = 0; i < zs->zone_count; i++) {
		const struct zone *z = &zs->zones[i];
		zs->origins[i] = (struct zone_node){.name = z->origin,
						    .name_len = z->origin_len};
		zs->table[zone_table_slot(zs->table, zs->table_mask,
					  zs->origins, z->origin,
					  z->origin_len)] = (uint32_t)i + 1;
		zs->record_count += z->record_count;
		if (z->origin_labels > zs->max_labels)
			zs->max_labels = z->origin_labels;
		if (z->origin_labels > 0) {
			uint32_t *slot = &zs->origin_slot[zone_origin_slot(
				z->origin, z->origin_len, z->origin_labels)];
			*slot = *slot == 0 ? (uint32_t)i + 1 : ZONE_SLOT_SHARED;
		}
	}
	return true;
}

/*
 * A secondary zone's copy has the time a primary last confirmed it as
 * its mtime (xfr.c); past that plus the SOA expire, the zone is answered
 * SERVFAIL (RFC 1034 §4.3.5) until a transfer succeeds.
 */
static void zb_note_expiry(const struct config *cfg,
			   const struct config_zone *cz, struct zone *z,
			   struct diag *d)
{
	struct stat st;
	uint32_t t[5];
	zone_soa_timers(z, t);
	time_t now = time(NULL);
	if (stat(cz->file, &st) != 0 || now < st.st_mtime + (time_t)t[3])
		return;
	z->expired = true;
	diag_warn(d, cfg->path, cz->line,
		  "zone %s: the copy %s has expired (last confirmed by a "
		  "primary %lld s ago, SOA expire %" PRIu32
		  " s): answered SERVFAIL until a transfer succeeds",
		  cz->origin_text, cz->file, (long long)(now - st.st_mtime),
		  t[3]);
}

struct zone_set *zone_set_load(const struct config *cfg, struct diag *d)
{
	unsigned errors = diag_errors(d);
	struct zone_set *zs = calloc(1, sizeof(*zs));
	if (zs == NULL ||
	    (zs->zones = zs_alloc(zs, cfg->zone_count * sizeof(*zs->zones))) ==
		    NULL)
		goto oom;
	for (size_t i = 0; i < cfg->zone_count; i++) {
		const struct config_zone *cz = &cfg->zones[i];
		// A secondary zone not transferred yet is served once it is.
		if (cz->primary_count > 0 && access(cz->file, F_OK) != 0 &&
		    errno == ENOENT) {
			diag_warn(d, cfg->path, cz->line,
				  "zone %s: no copy at "
				  "%s yet; it is served after its first "
				  "transfer",
				  cz->origin_text, cz->file);
			continue;
		}
		struct zone *z = &zs->zones[zs->zone_count++];
		if (zb_load_one(cfg, cz, d, zs, z) && cz->primary_count > 0)
			zb_note_expiry(cfg, cz, z, d);
	}
	if (diag_errors(d) > errors)
		goto fail;
	if (!zone_set_index(zs))
		goto oom;
	return zs;
oom:
	diag_error(d, cfg->path, 0, "out of memory loading zones");
fail:
	zone_set_free(zs);
	return NULL;
}
