/*
 * tests/unit/test_wire.c — bounded readers (pointers, loops, limits),
 * the writer's overflow flag, name compression, rdata name compression,
 * and the dname helpers the query path relies on.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "dname.h"
#include "wire.h"

static void test_read_name_with_pointer(void **state)
{
	// "example.com" at 0, then "www" + pointer to 0 at 13
	static const uint8_t pkt[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3,
				       'c', 'o', 'm', 0, 3, 'w', 'w', 'w', 0xc0, 0 };
	struct wire_reader r;
	uint8_t name[DNAME_MAX];
	wire_reader_init(&r, pkt, sizeof(pkt));
	r.pos = 13;
	assert_int_equal(wire_read_name(&r, name), 0);
	assert_int_equal(r.pos, sizeof(pkt)); // resumes after the pointer
	assert_int_equal(dname_length(name), 17);
	assert_memory_equal(name, "\3www\7example\3com", 17);
}

static void test_read_name_rejects_loops_and_overruns(void **state)
{
	uint8_t name[DNAME_MAX];
	struct wire_reader r;
	static const uint8_t self[] = { 0xc0, 0 };        // points at itself
	wire_reader_init(&r, self, sizeof(self));
	assert_int_equal(wire_read_name(&r, name), -1);
	static const uint8_t fwd[] = { 0xc0, 2, 0 };      // points forward
	wire_reader_init(&r, fwd, sizeof(fwd));
	assert_int_equal(wire_read_name(&r, name), -1);
	static const uint8_t cut[] = { 5, 'a', 'b' };     // label past the end
	wire_reader_init(&r, cut, sizeof(cut));
	assert_int_equal(wire_read_name(&r, name), -1);
	static const uint8_t ext[] = { 0x41, 0 };         // label type 01
	wire_reader_init(&r, ext, sizeof(ext));
	assert_int_equal(wire_read_name(&r, name), -1);

	// 5 labels of 63 bytes: 320 bytes, over the 255 limit
	uint8_t big[400] = { 0 };
	for (int i = 0; i < 5; i++)
		big[i * 64] = 63;
	wire_reader_init(&r, big, sizeof(big));
	assert_int_equal(wire_read_name(&r, name), -1);
}

static void test_readers_are_bounded(void **state)
{
	static const uint8_t b[3] = { 1, 2, 3 };
	struct wire_reader r;
	uint16_t v16;
	uint32_t v32;
	wire_reader_init(&r, b, sizeof(b));
	assert_int_equal(wire_read_u32(&r, &v32), -1);
	assert_int_equal(wire_read_u16(&r, &v16), 0);
	assert_int_equal(v16, 0x0102);
	assert_int_equal(wire_read_u16(&r, &v16), -1);
	assert_int_equal(wire_skip(&r, 2), -1);
	assert_int_equal(wire_skip(&r, 1), 0);
}

static void test_writer_overflow_is_sticky(void **state)
{
	uint8_t buf[5];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	wire_put_u32(&w, 1);
	assert_false(w.overflow);
	wire_put_u16(&w, 2);
	assert_true(w.overflow);
	wire_put_u8(&w, 3); // would fit, but the message is already cut
	assert_int_equal(w.len, 4);
	wire_truncate(&w, 2);
	assert_false(w.overflow);
	assert_int_equal(w.len, 2);
}

static void test_names_are_compressed(void **state)
{
	uint8_t buf[512], name[DNAME_MAX];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	// an upper-case name, as a question would be written
	wire_put_bytes(&w, "\3WWW\7Example\3COM", 17);
	wire_remember_name(&w, 0);

	assert_int_equal(dname_from_text(name, "www.example.com.", NULL), 17);
	wire_put_name(&w, name);
	assert_int_equal(w.len, 19);                     // one pointer
	assert_memory_equal(buf + 17, "\xc0\x00", 2);

	assert_true(dname_from_text(name, "mail.example.com.", NULL) > 0);
	wire_put_name(&w, name);
	assert_int_equal(w.len, 19 + 5 + 2);             // label + pointer
	assert_memory_equal(buf + 24, "\xc0\x04", 2);    // → example.com

	assert_true(dname_from_text(name, "other.org.", NULL) > 0);
	size_t before = w.len;
	wire_put_name(&w, name);
	assert_int_equal(w.len - before, 11);            // nothing to share

	// read back through the pointers
	struct wire_reader r;
	uint8_t back[DNAME_MAX];
	wire_reader_init(&r, buf, w.len);
	r.pos = 19;
	assert_int_equal(wire_read_name(&r, back), 0);
	assert_memory_equal(back, "\4mail\7Example\3COM", 18);
}

/*
 * The question remembered lazily (wire_remember_question): its entries
 * enter the table only when a name is compressed, and its own canonical
 * pointer is written as a pointer at once; either way the bytes are those
 * wire_remember_name gives.
 */
static void test_question_remembered(void **state)
{
	uint8_t a[512], b[512], q[DNAME_MAX], other[DNAME_MAX];
	assert_int_equal(dname_from_text(q, "www.example.com.", NULL), 17);
	memcpy(other, q, 17); // equal, at another address
	struct wire_writer wa, wb;
	wire_writer_init(&wa, a, sizeof(a));
	wire_writer_init(&wb, b, sizeof(b));
	wire_put_bytes(&wa, "\0\0\3WWW\7Example\3COM", 19);
	wire_put_bytes(&wb, "\0\0\3WWW\7Example\3COM", 19);
	wire_remember_name(&wa, 2);
	wire_remember_question(&wb, 2, 3, q);
	assert_int_equal(wb.comp_count, 0); // pending

	wire_put_name(&wa, q);
	wire_put_name(&wb, q); // the pointer, unsearched
	assert_int_equal(wb.comp_count, 0);
	wire_put_name(&wa, other);
	wire_put_name(&wb, other); // searched: the entries enter the table
	assert_int_equal(wb.comp_count, 3);
	uint8_t mail[DNAME_MAX];
	assert_true(dname_from_text(mail, "mail.example.com.", NULL) > 0);
	wire_put_name(&wa, mail);
	wire_put_name(&wb, mail);
	assert_int_equal(wb.len, wa.len);
	assert_memory_equal(b, a, wa.len);
	assert_memory_equal(b + 19, "\xc0\x02\xc0\x02", 4);

	// truncated below the question: forgotten, written in full
	wire_truncate(&wb, 1);
	wb.len = 0;
	wire_put_name(&wb, q);
	assert_int_equal(wb.len, 17);
	assert_memory_equal(b, q, 17);
}

static void test_rdata_names_compressed_with_length(void **state)
{
	uint8_t buf[512], name[DNAME_MAX];
	struct wire_writer w;
	wire_writer_init(&w, buf, sizeof(buf));
	assert_int_equal(dname_from_text(name, "example.com.", NULL), 13);
	wire_put_name(&w, name);

	// MX 10 mail.example.com. as zone rdata: length, preference, name
	uint8_t rdata[2 + 2 + DNAME_MAX] = { 0, 20, 0, 10 };
	assert_int_equal(dname_from_text(name, "mail.example.com.", NULL), 18);
	memcpy(rdata + 4, name, 18);
	wire_put_rdata(&w, TYPE_MX, rdata);
	// RDLENGTH 2 + 5 ("\4mail") + 2 (pointer) = 9
	assert_memory_equal(buf + 13, "\x00\x09\x00\x0a\x04mail\xc0\x00", 11);

	// an unknown type is copied as it is
	static const uint8_t opaque[] = { 0, 3, 0xc0, 0, 1 };
	size_t before = w.len;
	wire_put_rdata(&w, 65280, opaque);
	assert_memory_equal(buf + before, opaque, sizeof(opaque));
}

static void test_dname_helpers(void **state)
{
	uint8_t name[DNAME_MAX], origin[DNAME_MAX];
	char text[DNAME_TEXT_MAX];
	assert_int_equal(dname_from_text(origin, "Example.COM.", NULL), 13);
	assert_true(dname_from_text(name, "*.edge", origin) > 0);
	dname_to_text(text, name);
	assert_string_equal(text, "*.edge.example.com.");
	assert_int_equal(dname_labels(name), 4);
	assert_true(dname_is_subdomain(name, origin));
	assert_false(dname_is_subdomain(origin, name));
	assert_true(dname_equal(dname_strip(name, 2), origin));
	assert_int_equal(dname_from_text(name, "@", origin), 13);
	assert_int_equal(dname_from_text(name, "a..b.", NULL), 0);
	assert_int_equal(dname_from_text(name, "relative", NULL), 0);
	char label64[80];
	memset(label64, 'a', 64);
	strcpy(label64 + 64, ".");
	assert_int_equal(dname_from_text(name, label64, NULL), 0);
	assert_true(dname_from_text(name, "a\\.b.example.", NULL) > 0);
	assert_int_equal(dname_labels(name), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_name_with_pointer),
		cmocka_unit_test(test_read_name_rejects_loops_and_overruns),
		cmocka_unit_test(test_readers_are_bounded),
		cmocka_unit_test(test_writer_overflow_is_sticky),
		cmocka_unit_test(test_names_are_compressed),
		cmocka_unit_test(test_question_remembered),
		cmocka_unit_test(test_rdata_names_compressed_with_length),
		cmocka_unit_test(test_dname_helpers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
