/*
 * src/fleetkv.h — the fleet's keys and values in etcd: the JSON schema of
 * one override or health state (parse with errors naming the key, write),
 * base64, times, and the v3 gateway's request bodies and key-values.
 */
#ifndef GEOVIP_FLEETKV_H
#define GEOVIP_FLEETKV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "overlay.h"

struct diag;
struct json;

/** Longest value read (bytes of JSON); larger ones are refused. */
#define FLEETKV_VALUE_MAX 4096
/** Longest key (prefix included). */
#define FLEETKV_KEY_MAX 255
/** Longest `prefix:`. */
#define FLEETKV_PREFIX_MAX 128
/** Longest `who`. */
#define FLEETKV_WHO_MAX 63

enum fleetkv_kind { FLEETKV_SHED = 1, FLEETKV_DRAIN, FLEETKV_HEALTH };

/** One value under the prefix. */
struct fleetkv_value {
	enum fleetkv_kind kind;
	char region[OVERLAY_NAME_MAX + 1];
	char to[OVERLAY_NAME_MAX + 1]; /* shed, drain; "": by capacity */
	uint16_t bp;                   /* shed: percent x 100; drain 10000 */
	bool down;                     /* health */
	int64_t expires_ms;            /* 0: none (health only) */
	char reason[OVERLAY_REASON_MAX + 1];
	char who[FLEETKV_WHO_MAX + 1];
};

/**
 * Checks the JSON value text (len bytes) stored at key against the
 * schema into v. 0, or -1 with the problem recorded in d as "KEY: ...".
 * Expiry is not judged here (see expires_ms). A shed or drain without
 * "to" spreads over the up regions by capacity (to is "").
 */
int fleetkv_value_parse(const char *key, const char *text, size_t len,
			struct fleetkv_value *v, struct diag *d);
/** v as JSON into buf: its length, or -1 when it does not fit. */
int fleetkv_value_format(const struct fleetkv_value *v, char *buf, size_t len);

/** "shed", "drain" or "health". */
const char *fleetkv_kind_name(enum fleetkv_kind k);

/** "2026-11-29T20:00:00Z" (UTC, whole seconds) → ms; -1 otherwise. */
int fleetkv_time_parse(const char *s, int64_t *ms);
/** "25", "12.5", "0.01", "100" → basis points 1..10000; -1 otherwise. */
int fleetkv_percent_parse(const char *s);

/** "90s", "15m", "2h", "1d" → seconds, 1 .. 365 days; -1 otherwise. */
long long fleetkv_duration_parse(const char *s);

/** Base64 of n bytes into out (NUL-terminated): its length, or -1. */
int fleetkv_b64_encode(const void *in, size_t n, char *out, size_t outlen);
/** Base64 text (n bytes) decoded into out: its length, or -1. */
int fleetkv_b64_decode(const char *in, size_t n, char *out, size_t outlen);

/**
 * The body of a range request for the keys under prefix (prefix "/"
 * included; at most limit of them, in key order, or all when limit is 0),
 * or of a watch create request from start_rev. Its length, or -1 when it
 * does not fit.
 */
int fleetkv_range_body(const char *prefix, unsigned limit, char *buf,
		       size_t len);
int fleetkv_watch_body(const char *prefix, int64_t start_rev, char *buf,
		       size_t len);

/**
 * The key (decoded into key[FLEETKV_KEY_MAX + 1]) and value (decoded into
 * value[FLEETKV_VALUE_MAX + 1], NUL-terminated) of a kv object of a
 * range or watch answer. 0; -1 when the key is missing or too long; -2
 * when the value is not base64 or longer than FLEETKV_VALUE_MAX (key set).
 */
int fleetkv_kv(const struct json *j, int kv, char *key, char *value,
	       size_t *value_len);

/** A number etcd writes as a string ("revision": "12"); -1 if not one. */
int64_t fleetkv_int(const struct json *j, int tok);

#endif
