/*
 * src/cfgschema.c — the generic half of the configuration: YAML text →
 * libyaml document (with the size, NUL, depth and alias limits), and a
 * walker that checks mappings against schema tables and runs their rows.
 */
#include "autoconf.h"
#include "cfgschema.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "diag.h"

/* ---- node helpers --------------------------------------------------------- */

unsigned cfg_line(const yaml_node_t *node)
{
	return node == NULL ? 1 : (unsigned)node->start_mark.line + 1;
}

bool cfg_is_null(const yaml_node_t *node)
{
	if (node->type != YAML_SCALAR_NODE ||
	    node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	const char *v = (const char *)node->data.scalar.value;
	return *v == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

/* An empty value's mark can sit on the next line; its key's never does. */
unsigned cfg_pair_line(const struct cfg_pair *p)
{
	return cfg_is_null(p->value) ? cfg_line(p->knode) : cfg_line(p->value);
}

const char *cfg_type_name(const yaml_node_t *node)
{
	switch (node->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return cfg_is_null(node) ? "empty" : "a single value";
	}
}

yaml_node_t *cfg_node(struct cfg_doc *c, int index)
{
	return yaml_document_get_node(&c->doc, index);
}

const char *cfg_text(const yaml_node_t *node)
{
	return (const char *)node->data.scalar.value;
}

const char *cfg_scalar(struct cfg_doc *c, const struct cfg_pair *p)
{
	if (p->value->type == YAML_SCALAR_NODE && !cfg_is_null(p->value))
		return cfg_text(p->value);
	diag_error(c->d, c->file, cfg_pair_line(p),
		   "'%s' must be a single value, not %s", p->key,
		   cfg_type_name(p->value));
	return NULL;
}

struct cfg_pair cfg_pair_of(struct cfg_doc *c, const yaml_node_pair_t *pair)
{
	yaml_node_t *k = cfg_node(c, pair->key);
	return (struct cfg_pair){cfg_text(k), k, cfg_node(c, pair->value),
				 NULL};
}

/* NULL values of optional sections count as empty elsewhere, so
 * "overrides:" with nothing under it is accepted by the callers. */
bool cfg_expect(struct cfg_doc *c, const struct cfg_pair *p,
		yaml_node_type_t type)
{
	if (p->value->type == type)
		return true;
	const char *want = type == YAML_SEQUENCE_NODE ? "a list" : "a mapping";
	diag_error(c->d, c->file, cfg_pair_line(p), "'%s' must be %s, not %s",
		   p->key, want, cfg_type_name(p->value));
	return false;
}

const char *cfg_item_scalar(struct cfg_doc *c, const char *what,
			    const yaml_node_t *item)
{
	if (item->type == YAML_SCALAR_NODE && !cfg_is_null(item))
		return cfg_text(item);
	diag_error(c->d, c->file, cfg_line(item),
		   "each entry of '%s' must be a single value, not %s", what,
		   cfg_type_name(item));
	return NULL;
}

void *cfg_calloc(struct cfg_doc *c, unsigned line, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);
	if (p == NULL)
		diag_error(c->d, c->file, line, "out of memory");
	return p;
}

char *cfg_strdup(struct cfg_doc *c, unsigned line, const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		diag_error(c->d, c->file, line, "out of memory");
	return p;
}

bool cfg_whole_number(const char *text, unsigned long min, unsigned long max,
		      unsigned long *out)
{
	unsigned long v = 0;
	if (*text == '\0')
		return false;
	for (const char *s = text; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > max)
			return false;
	}
	if (v < min)
		return false;
	*out = v;
	return true;
}

bool cfg_bool_parse(const char *text, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(text, yes[i]) == 0)
			return *out = true, true;
		if (strcasecmp(text, no[i]) == 0)
			return *out = false, true;
	}
	return false;
}

/* ---- typed rows ------------------------------------------------------------- */

static void cfg_store_uint(const struct cfg_key *k, void *obj, unsigned long v)
{
	uint8_t *field = (uint8_t *)obj + k->offset;
	switch (k->type) {
	case CFG_T_U8:
		*field = (uint8_t)v;
		break;
	case CFG_T_U16: {
		uint16_t v16 = (uint16_t)v;
		memcpy(field, &v16, sizeof(v16));
		break;
	}
	case CFG_T_U32: {
		uint32_t v32 = (uint32_t)v;
		memcpy(field, &v32, sizeof(v32));
		break;
	}
	case CFG_T_BOOL: {
		bool b = v != 0;
		memcpy(field, &b, sizeof(b));
		break;
	}
	case CFG_T_FN:
		break;
	}
}

void cfg_defaults(const struct cfg_key *keys, size_t nkeys, void *obj)
{
	for (size_t i = 0; i < nkeys; i++)
		if (keys[i].type != CFG_T_FN)
			cfg_store_uint(&keys[i], obj, keys[i].def);
}

static void cfg_parse_typed(struct cfg_doc *c, const struct cfg_pair *p,
			    void *obj)
{
	const struct cfg_key *k = p->schema;
	const char *text = cfg_scalar(c, p);
	if (text == NULL)
		return;
	if (k->type == CFG_T_BOOL) {
		bool b;
		if (cfg_bool_parse(text, &b))
			cfg_store_uint(k, obj, b);
		else
			diag_error(c->d, c->file, cfg_pair_line(p),
				   "'%s' must be true or false, not '%s'",
				   p->key, text);
		return;
	}
	unsigned long v;
	if (cfg_whole_number(text, k->min, k->max, &v))
		cfg_store_uint(k, obj, v);
	else
		diag_error(
			c->d, c->file, cfg_pair_line(p),
			"'%s' must be a whole number from %lu to %lu, not '%s'",
			p->key, k->min, k->max, text);
}

/* ---- the mapping walker ------------------------------------------------------ */

static void cfg_unknown_key(struct cfg_doc *c, const char *where,
			    const yaml_node_t *knode,
			    const struct cfg_key *keys, size_t nkeys)
{
	char valid[512];
	size_t used = 0;
	valid[0] = '\0';
	for (size_t i = 0; i < nkeys && used < sizeof(valid); i++) {
		int n = snprintf(valid + used, sizeof(valid) - used, "%s%s",
				 i ? ", " : "", keys[i].name);
		if (n < 0)
			break;
		used += (size_t)n;
	}
	diag_error(c->d, c->file, cfg_line(knode),
		   "unknown key '%s' in %s (valid keys: %s)", cfg_text(knode),
		   where, valid);
}

static int cfg_key_find(const struct cfg_key *keys, size_t nkeys,
			const char *name)
{
	for (size_t i = 0; i < nkeys; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* Sorts the pairs of map into found[] by schema position, reporting
 * non-scalar, unknown and repeated keys. Linear: a schema row holds at
 * most one pair, so a repeat is found by its row. */
static void cfg_map_collect(struct cfg_doc *c, const yaml_node_t *map,
			    const char *where, const struct cfg_key *keys,
			    size_t nkeys, struct cfg_pair *found)
{
	for (yaml_node_pair_t *pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = cfg_node(c, pair->key);
		yaml_node_t *v = cfg_node(c, pair->value);
		if (k->type != YAML_SCALAR_NODE) {
			diag_error(c->d, c->file, cfg_line(k),
				   "a key in %s must be a single value, not %s",
				   where, cfg_type_name(k));
			continue;
		}
		int i = cfg_key_find(keys, nkeys, cfg_text(k));
		if (i < 0) {
			cfg_unknown_key(c, where, k, keys, nkeys);
			continue;
		}
		if (found[i].knode != NULL) {
			diag_error(c->d, c->file, cfg_line(k),
				   "key '%s' appears twice in %s (first at "
				   "line %u)",
				   keys[i].name, where,
				   cfg_line(found[i].knode));
			continue;
		}
		found[i] = (struct cfg_pair){keys[i].name, k, v, &keys[i]};
	}
}

/* Where a missing key is reported: the top of the file for top-level
 * keys (the root's first key may sit below comments), else the mapping. */
static unsigned cfg_missing_line(struct cfg_doc *c, const yaml_node_t *map)
{
	return map == yaml_document_get_root_node(&c->doc) ? 1 : cfg_line(map);
}

_Static_assert(CFG_KEYS_MAX <= 64, "cfg_map_walk returns a 64-bit row mask");

uint64_t cfg_map_walk(struct cfg_doc *c, const yaml_node_t *map,
		      const char *where, const struct cfg_key *keys,
		      size_t nkeys, void *obj)
{
	struct cfg_pair found[CFG_KEYS_MAX];
	uint64_t present = 0;
	memset(found, 0, sizeof(found));
	cfg_map_collect(c, map, where, keys, nkeys, found);
	for (size_t i = 0; i < nkeys; i++) {
		if (found[i].knode != NULL) {
			present |= (uint64_t)1 << i;
			if (keys[i].type == CFG_T_FN)
				keys[i].parse(c, &found[i], obj);
			else
				cfg_parse_typed(c, &found[i], obj);
		} else if (keys[i].required) {
			diag_error(c->d, c->file, cfg_missing_line(c, map),
				   "missing required key '%s' in %s",
				   keys[i].name, where);
		}
	}
	return present;
}

/* ---- lists and free-form mappings --------------------------------------------- */

bool cfg_list(struct cfg_doc *c, const struct cfg_pair *p, void **arr,
	      size_t elem_size, cfg_item_fn *add, void *obj)
{
	if (!cfg_expect(c, p, YAML_SEQUENCE_NODE))
		return false;
	const yaml_node_t *seq = p->value;
	size_t n = (size_t)(seq->data.sequence.items.top -
			    seq->data.sequence.items.start);
	if (arr != NULL &&
	    (*arr = cfg_calloc(c, cfg_pair_line(p), n, elem_size)) == NULL)
		return false;
	for (yaml_node_item_t *it = seq->data.sequence.items.start;
	     it < seq->data.sequence.items.top; it++)
		add(c, cfg_node(c, *it), obj);
	return true;
}

struct cfg_dup_ref {
	const void *elem;
	size_t pos;
	int (*cmp)(const void *, const void *);
};

// qsort has no context argument: the comparison rides in each element.
static int cfg_dup_cmp(const void *a, const void *b)
{
	const struct cfg_dup_ref *x = a, *y = b;
	int r = x->cmp(x->elem, y->elem);
	if (r != 0)
		return r;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

int cfg_dups(struct cfg_doc *c, const void *base, size_t n, size_t size,
	     int (*cmp)(const void *, const void *), size_t **first)
{
	struct cfg_dup_ref *refs = cfg_calloc(c, 0, n, sizeof(*refs));
	*first = cfg_calloc(c, 0, n, sizeof(**first));
	if (refs == NULL || *first == NULL) {
		free(refs);
		free(*first);
		*first = NULL;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		refs[i] = (struct cfg_dup_ref){(const uint8_t *)base + i * size,
					       i, cmp};
	qsort(refs, n, sizeof(*refs), cfg_dup_cmp);
	for (size_t i = 0; i < n; i++) {
		bool same = i > 0 && cmp(refs[i - 1].elem, refs[i].elem) == 0;
		// runs are sorted by position, so a run's head is its first
		(*first)[refs[i].pos] =
			same ? (*first)[refs[i - 1].pos] : refs[i].pos;
	}
	free(refs);
	return 0;
}

static int cfg_key_cmp(const void *a, const void *b)
{
	const yaml_node_t *const *x = a, *const *y = b;
	if (*x == NULL || *y == NULL) // non-scalar keys: never repeats
		return *x == NULL ? (*y == NULL ? 0 : -1) : 1;
	return strcmp(cfg_text(*x), cfg_text(*y));
}

/* The first-occurrence table of map's scalar keys (NULL: no memory). */
static size_t *cfg_key_dups(struct cfg_doc *c, const yaml_node_t *map, size_t n)
{
	size_t *first = NULL;
	const yaml_node_t **keys =
		cfg_calloc(c, cfg_line(map), n, sizeof(*keys));
	if (keys == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		yaml_node_t *k =
			cfg_node(c, map->data.mapping.pairs.start[i].key);
		keys[i] = k->type == YAML_SCALAR_NODE && !cfg_is_null(k) ? k
									 : NULL;
	}
	if (cfg_dups(c, keys, n, sizeof(*keys), cfg_key_cmp, &first) < 0)
		first = NULL;
	// NULL keys compare equal: they are reported as non-scalar instead
	for (size_t i = 0; first != NULL && i < n; i++)
		if (keys[i] == NULL)
			first[i] = i;
	free(keys);
	return first;
}

/* The scalar key of pair i, or NULL after reporting a bad or repeated one. */
static const char *cfg_pair_key(struct cfg_doc *c, const yaml_node_t *map,
				size_t i, const size_t *first,
				const char *where)
{
	yaml_node_t *k = cfg_node(c, map->data.mapping.pairs.start[i].key);
	if (k->type != YAML_SCALAR_NODE || cfg_is_null(k)) {
		diag_error(c->d, c->file, cfg_line(k),
			   "a key in %s must be a single value, not %s", where,
			   cfg_type_name(k));
		return NULL;
	}
	if (first[i] != i) {
		yaml_node_t *k0 = cfg_node(
			c, map->data.mapping.pairs.start[first[i]].key);
		diag_error(c->d, c->file, cfg_line(k),
			   "'%s' appears twice in %s (first at line %u)",
			   cfg_text(k), where, cfg_line(k0));
		return NULL;
	}
	return cfg_text(k);
}

bool cfg_mapping(struct cfg_doc *c, const struct cfg_pair *p, const char *where,
		 void **arr, size_t elem_size, cfg_pair_fn *add, void *obj)
{
	if (!cfg_expect(c, p, YAML_MAPPING_NODE))
		return false;
	const yaml_node_t *map = p->value;
	size_t n = (size_t)(map->data.mapping.pairs.top -
			    map->data.mapping.pairs.start);
	if (arr != NULL &&
	    (*arr = cfg_calloc(c, cfg_pair_line(p), n, elem_size)) == NULL)
		return false;
	size_t *first = cfg_key_dups(c, map, n);
	if (first == NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		const char *key = cfg_pair_key(c, map, i, first, where);
		if (key != NULL)
			add(c, &map->data.mapping.pairs.start[i], key, obj);
	}
	free(first);
	return true;
}

/* ---- YAML text → document -------------------------------------------------------- */

/* The 1-based line of byte offset off in text. */
static unsigned cfg_line_at(const char *text, size_t off)
{
	unsigned line = 1;
	for (size_t i = 0; i < off; i++)
		line += text[i] == '\n';
	return line;
}

/* The two usual causes of a YAML syntax error, when the line shows one. */
static const char *cfg_yaml_hint(const char *text, size_t len, size_t mark)
{
	size_t start = mark < len ? mark : len;
	while (start > 0 && text[start - 1] != '\n')
		start--;
	size_t end = start;
	while (end < len && text[end] != '\n')
		end++;
	for (size_t i = start; i < end; i++)
		if (text[i] == '\t')
			return " (this line has a tab: YAML indents with "
			       "spaces only)";
	// "[::1]:53" quoted is fine; only a bare [: starts a broken flow list
	for (size_t i = start; i + 1 < end; i++)
		if (text[i] == '[' && text[i + 1] == ':' &&
		    (i == start || (text[i - 1] != '"' && text[i - 1] != '\'')))
			return " (quote IPv6 listen addresses: \"[::1]:53\")";
	return "";
}

static void cfg_yaml_error(struct cfg_doc *c, const yaml_parser_t *parser,
			   const char *text, size_t len)
{
	const char *problem =
		parser->problem ? parser->problem : "syntax error";
	unsigned line = (unsigned)parser->problem_mark.line + 1;
	const char *hint = cfg_yaml_hint(text, len, parser->problem_mark.index);
	if (parser->error == YAML_MEMORY_ERROR)
		diag_error(c->d, c->file, line, "out of memory");
	else if (parser->context != NULL)
		diag_error(c->d, c->file, line,
			   "YAML syntax error: %s (%s at line %u)%s", problem,
			   parser->context,
			   (unsigned)parser->context_mark.line + 1, hint);
	else
		diag_error(c->d, c->file, line, "YAML syntax error: %s%s",
			   problem, hint);
}

static const char *cfg_event_anchor(const yaml_event_t *e)
{
	switch (e->type) {
	case YAML_SCALAR_EVENT:
		return (const char *)e->data.scalar.anchor;
	case YAML_SEQUENCE_START_EVENT:
		return (const char *)e->data.sequence_start.anchor;
	case YAML_MAPPING_START_EVENT:
		return (const char *)e->data.mapping_start.anchor;
	default:
		return NULL;
	}
}

/* One event of the pre-pass: -1 after reporting what the loader refuses. */
static int cfg_event_check(struct cfg_doc *c, const yaml_event_t *e,
			   unsigned *depth)
{
	unsigned line = (unsigned)e->start_mark.line + 1;
	if (e->type == YAML_ALIAS_EVENT || cfg_event_anchor(e) != NULL) {
		// an alias is walked once per use: a small file could
		// expand to gigabytes, so neither form is accepted
		diag_error(c->d, c->file, line,
			   "YAML aliases are not supported "
			   "(write the value out in full instead of "
			   "&anchor/*alias)");
		return -1;
	}
	if (e->type == YAML_SEQUENCE_START_EVENT ||
	    e->type == YAML_MAPPING_START_EVENT) {
		if (++*depth > CFG_MAX_DEPTH) {
			diag_error(c->d, c->file, line,
				   "lists and mappings "
				   "nest deeper than %u levels",
				   CFG_MAX_DEPTH);
			return -1;
		}
	} else if (e->type == YAML_SEQUENCE_END_EVENT ||
		   e->type == YAML_MAPPING_END_EVENT) {
		--*depth;
	}
	return 0;
}

/*
 * Walks the events before the document is built: libyaml's cost grows
 * with the square of the nesting depth and it expands aliases, so both
 * are stopped here, as soon as they appear.
 */
static int cfg_yaml_precheck(struct cfg_doc *c, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t e;
	unsigned depth = 0;
	int rc = 0;
	if (!yaml_parser_initialize(&parser)) {
		diag_error(c->d, c->file, 0, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	for (;;) {
		if (!yaml_parser_parse(&parser, &e)) {
			cfg_yaml_error(c, &parser, text, len);
			rc = -1;
			break;
		}
		bool end = e.type == YAML_STREAM_END_EVENT;
		rc = cfg_event_check(c, &e, &depth);
		yaml_event_delete(&e);
		if (end || rc < 0)
			break;
	}
	yaml_parser_delete(&parser);
	return rc;
}

/* A second "---" document would be ignored silently: refuse it. */
static void cfg_yaml_one_document(struct cfg_doc *c, yaml_parser_t *parser,
				  const char *text, size_t len)
{
	yaml_document_t next;
	if (!yaml_parser_load(parser, &next)) {
		cfg_yaml_error(c, parser, text, len);
		return;
	}
	yaml_node_t *root = yaml_document_get_root_node(&next);
	if (root != NULL)
		diag_error(c->d, c->file, cfg_line(root),
			   "a second YAML document: the configuration is one "
			   "document; remove this one or its '---'");
	yaml_document_delete(&next);
}

static int cfg_text_check(struct cfg_doc *c, const char *text, size_t len)
{
	if (len > CFG_MAX_BYTES) {
		diag_error(c->d, c->file, 0, "larger than %u MiB: refused",
			   CFG_MAX_BYTES / (1024 * 1024));
		return -1;
	}
	const char *nul = memchr(text, '\0', len);
	if (nul != NULL) {
		diag_error(c->d, c->file,
			   cfg_line_at(text, (size_t)(nul - text)),
			   "YAML syntax error: a NUL byte (\\0) is not allowed "
			   "in the configuration");
		return -1;
	}
	return 0;
}

int cfg_doc_load(struct cfg_doc *c, const char *text, size_t len)
{
	yaml_parser_t parser;
	if (cfg_text_check(c, text, len) < 0 ||
	    cfg_yaml_precheck(c, text, len) < 0)
		return -1;
	if (!yaml_parser_initialize(&parser)) {
		diag_error(c->d, c->file, 0, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	int rc = yaml_parser_load(&parser, &c->doc) ? 0 : -1;
	if (rc < 0)
		cfg_yaml_error(c, &parser, text, len);
	else
		cfg_yaml_one_document(c, &parser, text, len);
	yaml_parser_delete(&parser);
	return rc;
}

void cfg_doc_free(struct cfg_doc *c)
{
	yaml_document_delete(&c->doc);
}
