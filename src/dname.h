/*
 * src/dname.h — domain names in uncompressed wire format
 * (length-prefixed labels ending with the root label), as stored in the
 * zone structures and compared on the query path. Lower-case is the
 * canonical form inside geovip; names are at most DNAME_MAX bytes.
 */
#ifndef GEOVIP_DNAME_H
#define GEOVIP_DNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNAME_MAX 255
#define DNAME_MAX_LABELS 128
/** Room for the longest presentation form of a name, with its NUL. */
#define DNAME_TEXT_MAX 1024

/** Length in bytes of a valid wire name (including the root label). */
size_t dname_length(const uint8_t *name);

/** Number of labels, the root label not counted ("." has 0). */
unsigned dname_labels(const uint8_t *name);

/** Lower-cases a name (ASCII A-Z only) from src into dst; returns length. */
size_t dname_copy_lower(uint8_t *dst, const uint8_t *src);

/** Byte-equal comparison of two canonical (lower-case) names. */
bool dname_equal(const uint8_t *a, const uint8_t *b);

/** True when name is parent or below it (both canonical). */
bool dname_is_subdomain(const uint8_t *name, const uint8_t *parent);

/** Pointer to the suffix of name with its first `strip` labels removed. */
const uint8_t *dname_strip(const uint8_t *name, unsigned strip);

/**
 * Parses presentation format ("www.example.com." or relative "www" with
 * origin) into canonical wire format. "@" is the origin. Returns the length,
 * or 0 when the text is not a valid name (empty label, label > 63, name >
 * 255 bytes, bad escape). origin may be NULL for absolute names only.
 */
size_t dname_from_text(uint8_t out[DNAME_MAX], const char *text,
		       const uint8_t *origin);

/** Why dname_parse refused a name. */
enum {
	DNAME_ERR_SYNTAX = -1, /* empty label, bad escape, no origin */
	DNAME_ERR_LABEL = -2,  /* a label longer than 63 bytes */
	DNAME_ERR_LONG = -3,   /* longer than 255 bytes (with the origin) */
};

/**
 * Like dname_from_text, for the n bytes at text (no NUL needed): 0 and
 * the length in *len, or a DNAME_ERR_* code saying what is wrong.
 */
int dname_parse(uint8_t out[DNAME_MAX], const char *text, size_t n,
		const uint8_t *origin, size_t *len);

/**
 * Length of the well-formed wire name at the start of wire[0..n) (labels
 * of at most 63 bytes, a root label, at most DNAME_MAX bytes), or 0.
 */
size_t dname_check(const uint8_t *wire, size_t n);

/** Presentation format with trailing dot into out (DNAME_TEXT_MAX bytes);
 *  never writes more than that, nor reads more than DNAME_MAX bytes. */
void dname_to_text(char *out, const uint8_t *name);

/**
 * Like dname_check (a well-formed, uncompressed name at the start of
 * wire[0..n)), and in the same pass: the name lower-cased into dst, its
 * label count in *labels and its dname_hash in *hash. Returns its length,
 * or 0 (dst undefined).
 */
size_t dname_scan_lower(uint8_t *dst, const uint8_t *wire, size_t n,
			unsigned *labels, uint64_t *hash);

/** 64-bit hash of a canonical name for the lookup tables. */
uint64_t dname_hash(const uint8_t *name, size_t len);

#endif
