/*
 * src/cfgschema.h — a YAML document checked against declarative schema
 * tables: one row per key (name, type, range, default, parse function or
 * field), FILE:LINE errors, limits on size, nesting and aliases.
 */
#ifndef GEOVIP_CFGSCHEMA_H
#define GEOVIP_CFGSCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

struct diag;

/** Largest configuration text accepted (refused before parsing). */
#define CFG_MAX_BYTES (16u * 1024 * 1024)
/** Deepest nesting of mappings and lists (flow or block) accepted. */
#define CFG_MAX_DEPTH 32
/** Most keys one schema table may hold. */
#define CFG_KEYS_MAX 64

/** A loaded document and where its messages go. */
struct cfg_doc {
	const char *file; /* the name used in messages */
	struct diag *d;
	yaml_document_t doc;
	void *app; /* the schema user's own state */
};

struct cfg_key;

/** One key of a mapping: its name node, its value node, its schema row. */
struct cfg_pair {
	const char *key;
	yaml_node_t *knode;
	yaml_node_t *value;
	const struct cfg_key *schema;
};

typedef void cfg_parse_fn(struct cfg_doc *c, const struct cfg_pair *p,
			  void *obj);

/** How a row stores its value. */
enum cfg_type {
	CFG_T_FN, /* its own parse function */
	CFG_T_U8, /* whole numbers in [min, max], by field width */
	CFG_T_U16,
	CFG_T_U32,
	CFG_T_BOOL, /* true/yes/on, false/no/off */
};

/** The schema of one key. Rows run in table order, so a key that refers
 *  to another (default_region → regions) comes after it. */
struct cfg_key {
	const char *name;
	enum cfg_type type;
	cfg_parse_fn *parse; /* CFG_T_FN */
	bool required;
	size_t offset;               /* the field in obj (typed rows) */
	unsigned long min, max, def; /* range and default (typed rows) */
};

/** A key with its own parse function. */
#define CFG_KEY(key, fn, req)                                               \
	{                                                                   \
		.name = key, .type = CFG_T_FN, .parse = fn, .required = req \
	}

/* The setter's width follows the field's type; another type won't compile. */
#define CFG_UINT_TYPE(field)               \
	_Generic((field), uint8_t          \
		 : CFG_T_U8, uint16_t      \
		 : CFG_T_U16, unsigned int \
		 : CFG_T_U32)

/** A whole number in [lo, hi], default d, stored in obj's field. */
#define CFG_UINT(key, T, field, lo, hi, d)                                   \
	{                                                                    \
		.name = key, .type = CFG_UINT_TYPE(((T *)0)->field),         \
		.offset = offsetof(T, field), .min = lo, .max = hi, .def = d \
	}

/** A boolean, default d, stored in obj's bool field. */
#define CFG_BOOL(key, T, field, d)                                         \
	{                                                                  \
		.name = key,                                               \
		.type = CFG_T_BOOL +                                       \
			0 * sizeof(_Generic((((T *)0)->field), bool : 1)), \
		.offset = offsetof(T, field), .def = d                     \
	}

#define CFG_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/**
 * Parses text (len bytes, NUL not needed) into c->doc after the checks
 * libyaml does not make: size, NUL bytes, nesting depth, aliases and
 * anchors, a second document. Returns 0, or -1 after reporting.
 */
int cfg_doc_load(struct cfg_doc *c, const char *text, size_t len);
void cfg_doc_free(struct cfg_doc *c);

/** Stores each typed row's default into obj. */
void cfg_defaults(const struct cfg_key *keys, size_t nkeys, void *obj);

/**
 * Checks map against keys (unknown, repeated, non-scalar, missing
 * required keys) and runs each present row, in table order, on obj.
 * Returns a bit per row present (bit i for row i).
 */
uint64_t cfg_map_walk(struct cfg_doc *c, const yaml_node_t *map,
		      const char *where, const struct cfg_key *keys,
		      size_t nkeys, void *obj);

/** Runs add on every item of a list value, after allocating *arr (when
 *  arr is not NULL) with room for them all; false (reported) on a wrong
 *  type or no memory. */
typedef void cfg_item_fn(struct cfg_doc *c, const yaml_node_t *item, void *obj);
bool cfg_list(struct cfg_doc *c, const struct cfg_pair *p, void **arr,
	      size_t elem_size, cfg_item_fn *add, void *obj);

/** Runs add on every pair of a free-form mapping value (regions, networks
 *  ...) whose key is a scalar seen for the first time, after allocating
 *  *arr (when arr is not NULL) with room for them all. */
typedef void cfg_pair_fn(struct cfg_doc *c, const yaml_node_pair_t *pair,
			 const char *key, void *obj);
bool cfg_mapping(struct cfg_doc *c, const struct cfg_pair *p, const char *where,
		 void **arr, size_t elem_size, cfg_pair_fn *add, void *obj);

/**
 * Finds repeats among n elements of size at base, where cmp orders equal
 * elements together: sets (*first)[i] to the position of the first
 * element equal to element i (i itself when it is the first). O(n log n).
 * Returns 0, or -1 after reporting no memory; free(*first) after.
 */
int cfg_dups(struct cfg_doc *c, const void *base, size_t n, size_t size,
	     int (*cmp)(const void *, const void *), size_t **first);

/* ---- node helpers for parse functions ---- */

unsigned cfg_line(const yaml_node_t *node);
unsigned cfg_pair_line(const struct cfg_pair *p);
bool cfg_is_null(const yaml_node_t *node);
const char *cfg_type_name(const yaml_node_t *node);
yaml_node_t *cfg_node(struct cfg_doc *c, int index);
const char *cfg_text(const yaml_node_t *node);
/** The scalar text of a value, or NULL after reporting a wrong type. */
const char *cfg_scalar(struct cfg_doc *c, const struct cfg_pair *p);
/** A pair of a free-form mapping seen as a schema pair (for messages). */
struct cfg_pair cfg_pair_of(struct cfg_doc *c, const yaml_node_pair_t *pair);
/** Checks a value's node type, reporting a mismatch. */
bool cfg_expect(struct cfg_doc *c, const struct cfg_pair *p,
		yaml_node_type_t type);
/** A scalar list item, or NULL after reporting its type. */
const char *cfg_item_scalar(struct cfg_doc *c, const char *what,
			    const yaml_node_t *item);
/** Digits only, within [min, max]. */
bool cfg_whole_number(const char *text, unsigned long min, unsigned long max,
		      unsigned long *out);
bool cfg_bool_parse(const char *text, bool *out);

/** Allocation that reports "out of memory" at line and returns NULL. */
void *cfg_calloc(struct cfg_doc *c, unsigned line, size_t n, size_t size);
char *cfg_strdup(struct cfg_doc *c, unsigned line, const char *s);

#endif
