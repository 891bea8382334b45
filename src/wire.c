/*
 * src/wire.c — bounded DNS message readers and writers, and name
 * compression. The compression table keeps up to WIRE_COMPRESS_MAX name
 * suffixes already in the message; a name is compared only against
 * suffixes with the same number of labels.
 */
#include "autoconf.h"
#include "wire.h"

#include <string.h>

static void compress_settle(struct wire_writer *w);

int wire_read_u8(struct wire_reader *r, uint8_t *v)
{
	if (r->len - r->pos < 1)
		return -1;
	*v = r->pkt[r->pos++];
	return 0;
}

int wire_read_name(struct wire_reader *r, uint8_t out[DNAME_MAX])
{
	size_t pos = r->pos, out_len = 0, resume = 0;
	bool jumped = false;
	for (;;) {
		if (pos >= r->len)
			return -1;
		uint8_t c = r->pkt[pos];
		if ((c & 0xc0) == 0xc0) {
			if (pos + 1 >= r->len)
				return -1;
			size_t target =
				(size_t)(c & 0x3f) << 8 | r->pkt[pos + 1];
			// only backwards: every jump strictly decreases pos,
			// so a pointer loop is impossible
			if (target >= pos)
				return -1;
			if (!jumped)
				resume = pos + 2;
			jumped = true;
			pos = target;
			continue;
		}
		if ((c & 0xc0) != 0)
			return -1; // 0x40/0x80: extended/unknown label types
		if (out_len + c + 1 > DNAME_MAX || pos + c + 1 > r->len)
			return -1;
		memcpy(out + out_len, r->pkt + pos, (size_t)c + 1);
		out_len += (size_t)c + 1;
		pos += (size_t)c + 1;
		if (c == 0)
			break;
	}
	r->pos = jumped ? resume : pos;
	return 0;
}

int wire_skip_rr(struct wire_reader *r)
{
	uint8_t name[DNAME_MAX];
	uint16_t type, class, rdlen;
	uint32_t ttl;
	if (wire_read_name(r, name) < 0 || wire_read_u16(r, &type) < 0 ||
	    wire_read_u16(r, &class) < 0 || wire_read_u32(r, &ttl) < 0 ||
	    wire_read_u16(r, &rdlen) < 0)
		return -1;
	return wire_skip(r, rdlen);
}

void wire_poke_u16(struct wire_writer *w, size_t off, uint16_t v)
{
	if (off + 2 > w->len)
		return;
	w->buf[off] = (uint8_t)(v >> 8);
	w->buf[off + 1] = (uint8_t)v;
}

void wire_truncate(struct wire_writer *w, size_t len)
{
	if (len >= w->len && !w->overflow)
		return;
	compress_settle(w);
	if (w->question != NULL && w->question_off >= len)
		w->question = NULL;
	w->len = len < w->len ? len : w->len;
	w->overflow = false;
	unsigned keep = 0;
	for (unsigned i = 0; i < w->comp_count; i++) {
		if (w->comp_offset[i] < len) {
			w->comp_offset[keep] = w->comp_offset[i];
			w->comp_labels[keep] = w->comp_labels[i];
			keep++;
		}
	}
	w->comp_count = keep;
}

/* Follows compression pointers written by this writer (always valid). */
static const uint8_t *packet_label(const struct wire_writer *w, size_t off)
{
	const uint8_t *p = w->buf + off;
	while ((*p & 0xc0) == 0xc0)
		p = w->buf + ((size_t)(p[0] & 0x3f) << 8 | p[1]);
	return p;
}

static uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* Is the name at packet offset off equal to canonical name? */
static bool packet_name_equals(const struct wire_writer *w, size_t off,
			       const uint8_t *name)
{
	const uint8_t *p = packet_label(w, off);
	for (;;) {
		if (*p != *name)
			return false;
		if (*p == 0)
			return true;
		for (unsigned i = 1; i <= *p; i++)
			if (ascii_lower(p[i]) != name[i])
				return false;
		size_t next = (size_t)(p - w->buf) + *p + 1;
		name += *name + 1;
		p = packet_label(w, next);
	}
}

static int compress_find(const struct wire_writer *w, const uint8_t *suffix,
			 unsigned labels)
{
	for (unsigned i = 0; i < w->comp_count; i++)
		if (w->comp_labels[i] == labels &&
		    packet_name_equals(w, w->comp_offset[i], suffix))
			return (int)w->comp_offset[i];
	return -1;
}

static void compress_add(struct wire_writer *w, size_t off, unsigned labels)
{
	// pointers hold 14 bits; root labels are never worth a pointer
	if (w->comp_count < WIRE_COMPRESS_MAX && off < 0x4000 && labels > 0) {
		w->comp_offset[w->comp_count] = (uint16_t)off;
		w->comp_labels[w->comp_count] = (uint8_t)labels;
		w->comp_count++;
	}
}

/* Enters the names of labels labels at off in the table, longest first. */
static void compress_add_labels(struct wire_writer *w, size_t off,
				unsigned labels)
{
	for (const uint8_t *p = w->buf + off; *p != 0 && labels > 0;
	     p += *p + 1)
		compress_add(w, (size_t)(p - w->buf), labels--);
}

/* The pending name (wire_remember_labels) into the table, first. */
static void compress_settle(struct wire_writer *w)
{
	if (w->pending_labels == 0)
		return;
	unsigned labels = w->pending_labels;
	w->pending_labels = 0;
	compress_add_labels(w, w->pending_off, labels);
}

void wire_remember_name(struct wire_writer *w, size_t off)
{
	compress_settle(w);
	unsigned labels = 0;
	for (const uint8_t *p = w->buf + off; *p != 0; p += *p + 1)
		labels++;
	for (const uint8_t *p = w->buf + off; *p != 0; p += *p + 1)
		compress_add(w, (size_t)(p - w->buf), labels--);
}

void wire_remember_suffix(struct wire_writer *w, size_t off, unsigned labels)
{
	compress_settle(w);
	compress_add(w, off, labels);
}

void wire_remember_labels(struct wire_writer *w, size_t off, unsigned labels)
{
	// a whole name's offsets fit 14 bits and its labels 8: keep it
	// pending, as it would be the table's first entries
	if (w->comp_count == 0 && w->pending_labels == 0 &&
	    off + DNAME_MAX < 0x4000 && labels > 0 && labels <= UINT8_MAX) {
		w->pending_off = (uint16_t)off;
		w->pending_labels = (uint8_t)labels;
		return;
	}
	compress_settle(w);
	compress_add_labels(w, off, labels);
}

void wire_put_name(struct wire_writer *w, const uint8_t *name)
{
	if (name == w->question) {
		wire_put_u16(w, (uint16_t)(0xc000 | w->question_off));
		return;
	}
	compress_settle(w);
	unsigned labels = dname_labels(name);
	const uint8_t *p = name;
	while (*p != 0) {
		int found = compress_find(w, p, labels);
		if (found >= 0) {
			wire_put_u16(w, (uint16_t)(0xc000 | found));
			return;
		}
		if (!wire_room(w, (size_t)*p + 1))
			return;
		compress_add(w, w->len, labels);
		wire_put_bytes(w, p, (size_t)*p + 1);
		p += *p + 1;
		labels--;
	}
	wire_put_u8(w, 0);
}

void wire_put_rdata(struct wire_writer *w, uint16_t type, const uint8_t *rdata)
{
	size_t rdlen = (size_t)rdata[0] << 8 | rdata[1];
	const uint8_t *data = rdata + 2;
	size_t fixed_before = 0, names = 0;
	switch (type) {
	case TYPE_NS:
	case TYPE_CNAME:
	case TYPE_PTR:
		names = 1;
		break;
	case TYPE_MX:
		fixed_before = 2;
		names = 1;
		break;
	case TYPE_SOA:
		names = 2;
		break;
	default:
		wire_put_bytes(w, rdata, rdlen + 2);
		return;
	}

	size_t len_at = w->len;
	wire_put_u16(w, 0);
	size_t start = w->len;
	wire_put_bytes(w, data, fixed_before);
	const uint8_t *p = data + fixed_before;
	for (size_t i = 0; i < names; i++) {
		wire_put_name(w, p);
		p += dname_length(p);
	}
	wire_put_bytes(w, p, rdlen - (size_t)(p - data));
	if (!w->overflow)
		wire_poke_u16(w, len_at, (uint16_t)(w->len - start));
}
