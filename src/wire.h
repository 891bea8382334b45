/*
 * src/wire.h — bounded reading and writing of DNS messages. Readers fail
 * instead of running off the end; the writer stops at its capacity and
 * remembers that it overflowed, and compresses names (RFC 1035 §4.1.4)
 * against the names it has already written.
 */
#ifndef GEOVIP_WIRE_H
#define GEOVIP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dname.h"

#define WIRE_HEADER_SIZE 12

/* RR types and classes geovip treats specially. */
enum {
	TYPE_A = 1,
	TYPE_NS = 2,
	TYPE_CNAME = 5,
	TYPE_SOA = 6,
	TYPE_PTR = 12,
	TYPE_MX = 15,
	TYPE_AAAA = 28,
	TYPE_SRV = 33,
	TYPE_OPT = 41,
	TYPE_DS = 43,
	TYPE_IXFR = 251,
	TYPE_AXFR = 252,
	TYPE_ANY = 255,
};
enum { CLASS_IN = 1 };
enum {
	RCODE_NOERROR = 0,
	RCODE_FORMERR = 1,
	RCODE_SERVFAIL = 2,
	RCODE_NXDOMAIN = 3,
	RCODE_NOTIMP = 4,
	RCODE_REFUSED = 5,
	RCODE_BADVERS = 16,
	RCODE_BADCOOKIE = 23,
};

struct wire_reader {
	const uint8_t *pkt;
	size_t len;
	size_t pos;
};

static inline void wire_reader_init(struct wire_reader *r, const uint8_t *pkt,
				    size_t len)
{
	r->pkt = pkt;
	r->len = len;
	r->pos = 0;
}

/** 0 on success, -1 when the message ends first. */
int wire_read_u8(struct wire_reader *r, uint8_t *v);

/* The small readers and writers below are inline: the query path calls
 * them a few dozen times per answer (make bench-core counts them). */

/** Network-order 16 bits at p. */
static inline uint16_t wire_get_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/** Network-order 32 bits at p. */
static inline uint32_t wire_get_u32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/** 0 on success, -1 when the message ends first. */
static inline int wire_read_u16(struct wire_reader *r, uint16_t *v)
{
	if (r->len - r->pos < 2)
		return -1;
	*v = wire_get_u16(r->pkt + r->pos);
	r->pos += 2;
	return 0;
}

/** 0 on success, -1 when the message ends first. */
static inline int wire_read_u32(struct wire_reader *r, uint32_t *v)
{
	if (r->len - r->pos < 4)
		return -1;
	*v = wire_get_u32(r->pkt + r->pos);
	r->pos += 4;
	return 0;
}

/** 0 on success, -1 when the message ends first. */
static inline int wire_skip(struct wire_reader *r, size_t n)
{
	if (r->len - r->pos < n)
		return -1;
	r->pos += n;
	return 0;
}
/**
 * Reads a name that may use compression pointers (only to earlier
 * offsets, so no loops) into out, uncompressed, case kept. -1 when
 * malformed (bad label type, longer than 255 bytes, out of bounds).
 */
int wire_read_name(struct wire_reader *r, uint8_t out[DNAME_MAX]);
/** Skips one whole resource record; -1 when malformed. */
int wire_skip_rr(struct wire_reader *r);

#define WIRE_COMPRESS_MAX 64

struct wire_writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool overflow;
	/* offsets of name suffixes already in buf, for compression */
	uint16_t comp_offset[WIRE_COMPRESS_MAX];
	uint8_t comp_labels[WIRE_COMPRESS_MAX];
	unsigned comp_count;
	/* a name remembered but not yet entered in the table (only when the
	 * table is empty): most answers compress nothing, so the table is
	 * filled on the first name written or truncation */
	uint16_t pending_off;
	uint8_t pending_labels; /* 0: none */
	/* the question's canonical name (wire_remember_question): written
	 * as a pointer to question_off without searching the table */
	const uint8_t *question;
	uint16_t question_off;
};

static inline void wire_writer_init(struct wire_writer *w, uint8_t *buf,
				    size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
	w->comp_count = 0;
	w->pending_labels = 0;
	w->question = NULL;
}

/** Room for n more bytes? If not, the writer is marked overflowed. */
static inline bool wire_room(struct wire_writer *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return false;
	}
	return true;
}

/** Writes v (network order) at p. */
static inline void wire_set_u16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put_u8(struct wire_writer *w, uint8_t v)
{
	if (wire_room(w, 1))
		w->buf[w->len++] = v;
}

static inline void wire_put_u16(struct wire_writer *w, uint16_t v)
{
	if (!wire_room(w, 2))
		return;
	wire_set_u16(w->buf + w->len, v);
	w->len += 2;
}

static inline void wire_put_u32(struct wire_writer *w, uint32_t v)
{
	wire_put_u16(w, (uint16_t)(v >> 16));
	wire_put_u16(w, (uint16_t)v);
}

/** Copies n bytes from s to d (not overlapping): 8 to 32 bytes (a
 *  question, a record) in two fixed-size moves that may overlap each
 *  other, longer ones by memcpy. */
static inline void wire_copy(uint8_t *d, const uint8_t *s, size_t n)
{
	if (n >= 8 && n <= 16) {
		memcpy(d, s, 8);
		memcpy(d + (n - 8), s + (n - 8), 8);
	} else if (n > 16 && n <= 32) {
		memcpy(d, s, 16);
		memcpy(d + (n - 16), s + (n - 16), 16);
	} else {
		memcpy(d, s, n);
	}
}

static inline void wire_put_bytes(struct wire_writer *w, const void *p,
				  size_t n)
{
	if (!wire_room(w, n))
		return;
	wire_copy(w->buf + w->len, p, n);
	w->len += n;
}
/** Overwrites a 16-bit value at off (< len). */
void wire_poke_u16(struct wire_writer *w, size_t off, uint16_t v);
/**
 * Makes the name already written at off (e.g. the question) available
 * for compression without writing it again.
 */
void wire_remember_name(struct wire_writer *w, size_t off);
/** wire_remember_name for a name whose label count the caller knows. */
void wire_remember_labels(struct wire_writer *w, size_t off, unsigned labels);
/**
 * wire_remember_labels for the question, whose canonical form is at
 * canonical: a later wire_put_name of that very pointer writes a pointer
 * to off at once, as the table's first entry would give.
 */
static inline void wire_remember_question(struct wire_writer *w, size_t off,
					  unsigned labels,
					  const uint8_t *canonical)
{
	// the table's first entries (pending): compress_find finds the
	// whole name first
	if (w->comp_count == 0 && w->pending_labels == 0 &&
	    off + DNAME_MAX < 0x4000 && labels > 0 && labels <= UINT8_MAX) {
		w->pending_off = (uint16_t)off;
		w->pending_labels = (uint8_t)labels;
		w->question = canonical;
		w->question_off = (uint16_t)off;
		return;
	}
	wire_remember_labels(w, off, labels);
}
/** Makes the one name suffix at off, of labels labels, available for
 *  compression (as wire_put_name notes each suffix it writes). */
void wire_remember_suffix(struct wire_writer *w, size_t off, unsigned labels);
/** Writes a canonical name, compressed against earlier names. */
void wire_put_name(struct wire_writer *w, const uint8_t *name);
/**
 * Writes RDLENGTH + RDATA for one record of type, from zone rdata (2-byte
 * length + data, names uncompressed). Names in NS, CNAME, PTR, MX and SOA
 * rdata are compressed; other types are copied as they are.
 */
void wire_put_rdata(struct wire_writer *w, uint16_t type, const uint8_t *rdata);
/** Cuts the message back to len bytes, forgetting later names. */
void wire_truncate(struct wire_writer *w, size_t len);

#endif
