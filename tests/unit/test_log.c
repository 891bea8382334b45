/*
 * tests/unit/test_log.c — the log's line formats (plain stderr and the
 * journald "<N>" prefix), level names, level filtering, and the
 * $JOURNAL_STREAM check, with stderr redirected to a temporary file.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

static void test_format_plain(void **state)
{
	char buf[256];
	struct timespec t = { .tv_sec = 1767323045, .tv_nsec = 678000000 };
	size_t n = log_format(buf, sizeof(buf), LOG_TARGET_STDERR,
			      LOG_LEVEL_WARNING, &t, 42, "disk on fire");
	assert_string_equal(buf, "2026-01-02T03:04:05.678Z geovipd[42] "
			    "warning: disk on fire\n");
	assert_int_equal(n, strlen(buf));
}

static void test_format_journal(void **state)
{
	static const char *const want[] = {
		"<3>m\n", "<4>m\n", "<5>m\n", "<6>m\n", "<7>m\n",
	};
	char buf[64];
	struct timespec t = { 0 };
	for (int l = LOG_LEVEL_ERROR; l <= LOG_LEVEL_DEBUG; l++) {
		log_format(buf, sizeof(buf), LOG_TARGET_JOURNAL,
			   (enum log_level)l, &t, 1, "m");
		assert_string_equal(buf, want[l]);
	}
}

static void test_format_cut(void **state)
{
	char buf[8];
	struct timespec t = { 0 };
	size_t n = log_format(buf, sizeof(buf), LOG_TARGET_JOURNAL,
			      LOG_LEVEL_ERROR, &t, 1, "a long message");
	assert_int_equal(n, 7);
	assert_string_equal(buf, "<3>a l\n"); // cut, but still one line
}

static void test_level_names(void **state)
{
	static const char *const names[] = {
		"error", "warning", "notice", "info", "debug",
	};
	for (int l = 0; l < 5; l++) {
		assert_int_equal(log_level_from_name(names[l]), l);
		assert_string_equal(log_level_name((enum log_level)l), names[l]);
	}
	assert_int_equal(log_level_from_name("warn"), -1);
	assert_int_equal(log_level_from_name(""), -1);
}

/* stderr into a temporary file for the test's length. */
struct captured {
	char path[64];
	int saved;
};

static void capture_start(struct captured *c)
{
	snprintf(c->path, sizeof(c->path), "/tmp/geovip-log-XXXXXX");
	int fd = mkstemp(c->path);
	assert_true(fd >= 0);
	c->saved = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	close(fd);
}

static char *capture_end(struct captured *c)
{
	static char text[4096];
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	FILE *f = fopen(c->path, "r");
	assert_non_null(f);
	size_t n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(c->path);
	return text;
}

static void test_filtering_and_journal(void **state)
{
	struct captured c;
	capture_start(&c);
	struct stat st;
	char js[64];
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu", (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino);
	setenv("JOURNAL_STREAM", js, 1);
	log_set_target(LOG_TARGET_STDERR);
	enum log_target got = log_get_target();
	log_set_level(LOG_LEVEL_NOTICE);
	log_error("e %d", 1);
	log_warning("w");
	log_notice("n");
	log_info("i");
	log_debug("d");
	// another stream in JOURNAL_STREAM (a child's stderr went elsewhere)
	setenv("JOURNAL_STREAM", "1:1", 1);
	log_set_target(LOG_TARGET_STDERR);
	log_error("plain");
	unsetenv("JOURNAL_STREAM");
	log_set_level(LOG_LEVEL_INFO);
	char *text = capture_end(&c);
	assert_int_equal(got, LOG_TARGET_JOURNAL);
	assert_non_null(strstr(text, "<3>e 1\n<4>w\n<5>n\n"));
	assert_null(strstr(text, "<6>i"));
	assert_null(strstr(text, "<7>d"));
	assert_non_null(strstr(text, "] error: plain\n"));
	assert_int_equal(log_get_target(), LOG_TARGET_STDERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_plain),
		cmocka_unit_test(test_format_journal),
		cmocka_unit_test(test_format_cut),
		cmocka_unit_test(test_level_names),
		cmocka_unit_test(test_filtering_and_journal),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
