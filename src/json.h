/*
 * src/json.h — a small bounded JSON reader (the text parsed once into a
 * caller-given token array; depth, size and token count capped) and a
 * string escaper, for etcd's v3 JSON gateway and the fleet values.
 */
#ifndef GEOVIP_JSON_H
#define GEOVIP_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/** Deepest nesting of objects and arrays accepted. */
#define JSON_DEPTH_MAX 32

enum json_type {
	JSON_OBJECT = 1,
	JSON_ARRAY,
	JSON_STRING,
	JSON_NUMBER,
	JSON_TRUE,
	JSON_FALSE,
	JSON_NULL,
};

/* Errors json_parse returns (negative). */
enum {
	JSON_E_SYNTAX = -1, /* not JSON */
	JSON_E_DEPTH = -2,  /* nested deeper than JSON_DEPTH_MAX */
	JSON_E_TOKENS = -3, /* more values than the token array holds */
	JSON_E_TRAIL = -4,  /* something after the value */
};

struct json_tok {
	enum json_type type;
	uint32_t start, len; /* the text; a string's without its quotes */
	uint32_t size;       /* members of an object, items of an array */
	uint32_t next;       /* the token after this one and its children */
};

struct json {
	const char *text;
	struct json_tok *toks;
	size_t count, cap;
};

/**
 * Parses len bytes of text (one value, white space around it) into j,
 * whose tokens are toks[0..cap): token 0 is the value; an object's
 * children are key, value, key, value... Returns 0, or a JSON_E_* error
 * with *pos the byte offset where it was found.
 */
int json_parse(struct json *j, const char *text, size_t len,
	       struct json_tok *toks, size_t cap, size_t *pos);
/** "not JSON" and so on for a JSON_E_* error. */
const char *json_strerror(int rc);

/** The value of member key of object tok, or -1 (none, not an object). */
int json_member(const struct json *j, int tok, const char *key);
/** Whether token tok exists and has type t. */
bool json_is(const struct json *j, int tok, enum json_type t);
/**
 * String token tok unescaped into buf (NUL-terminated, at most len - 1
 * bytes): its length, or -1 when tok is not a string, holds a NUL (\u0000)
 * or does not fit.
 */
int json_string(const struct json *j, int tok, char *buf, size_t len);
/** The raw text of tok (a number, say) into buf; -1 when it won't fit. */
int json_raw(const struct json *j, int tok, char *buf, size_t len);

/**
 * s as a JSON string with its quotes into buf: the length written, or -1
 * when it does not fit.
 */
int json_quote(const char *s, char *buf, size_t len);

#endif
