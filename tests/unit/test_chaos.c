/*
 * tests/unit/test_chaos.c — "which site answered" through query_process:
 * NSID (RFC 5001) in the OPT of answers to queries that ask for it, and
 * the CH TXT identity/version names, shown and hidden (responses parsed
 * with ldns); and the config keys behind them and the other operations
 * keys (log, log_level, pidfile): values, defaults, FILE:LINE errors.
 */
#include "autoconf.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "query.h"
#include "snapshot.h"

static struct snapshot *shown, *hidden;
static uint8_t resp[QUERY_BUFFER_SIZE];

static struct snapshot *load(const char *path)
{
	struct diag *d = diag_new();
	struct snapshot *s = snapshot_load(path, d);
	if (s == NULL)
		diag_print(d, stderr);
	diag_free(d);
	return s;
}

static int setup(void **state)
{
	shown = load(FIXTURES "/chaos/shown.yaml");
	hidden = load(FIXTURES "/chaos/hidden.yaml");
	return shown == NULL || hidden == NULL ? -1 : 0;
}

static int teardown(void **state)
{
	snapshot_unref(shown);
	snapshot_unref(hidden);
	return 0;
}

/* A query built with ldns; opt_rdata (NULL: no OPT) is the OPT's RDATA. */
static size_t build(uint8_t *buf, size_t cap, const char *name, uint16_t type,
		    uint16_t class, const uint8_t *opt_rdata, size_t opt_len)
{
	ldns_pkt *q = NULL;
	assert_int_equal(ldns_pkt_query_new_frm_str(&q, name, type, class, 0),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(q, 0x1234);
	uint8_t *wire = NULL;
	size_t len = 0;
	assert_int_equal(ldns_pkt2wire(&wire, q, &len), LDNS_STATUS_OK);
	ldns_pkt_free(q);
	assert_true(len + 11 + opt_len <= cap);
	memcpy(buf, wire, len);
	free(wire);
	if (opt_rdata == NULL)
		return len;
	static const uint8_t opt[] = { 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0 };
	memcpy(buf + len, opt, sizeof(opt));
	buf[len + 9] = (uint8_t)(opt_len >> 8);
	buf[len + 10] = (uint8_t)opt_len;
	memcpy(buf + len + 11, opt_rdata, opt_len);
	buf[11] = 1; // ARCOUNT
	return len + 11 + opt_len;
}

static ldns_pkt *ask(const struct snapshot *s, const char *name, uint16_t type,
		     uint16_t class, const uint8_t *opt, size_t opt_len,
		     size_t *resp_len)
{
	uint8_t req[512];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	size_t qlen = build(req, sizeof(req), name, type, class, opt, opt_len);
	size_t n = query_process(s, req, qlen, (struct sockaddr *)&sin,
				 QUERY_UDP, resp, NULL);
	assert_true(n > 0);
	if (resp_len != NULL)
		*resp_len = n;
	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, resp, n), LDNS_STATUS_OK);
	return p;
}

/* The NSID option's data in the response's OPT RDATA, or NULL. */
static const uint8_t *find_nsid(const uint8_t *rdata, size_t len,
				size_t *nsid_len)
{
	for (size_t pos = 0; pos + 4 <= len;) {
		uint16_t code = (uint16_t)(rdata[pos] << 8 | rdata[pos + 1]);
		uint16_t olen = (uint16_t)(rdata[pos + 2] << 8 | rdata[pos + 3]);
		if (code == 3) {
			*nsid_len = olen;
			return rdata + pos + 4;
		}
		pos += 4u + olen;
	}
	return NULL;
}

static const uint8_t *response_nsid(ldns_pkt *p, size_t *len)
{
	ldns_rdf *rd = ldns_pkt_edns_data(p);
	if (rd == NULL)
		return NULL;
	return find_nsid(ldns_rdf_data(rd), ldns_rdf_size(rd), len);
}

static const uint8_t empty_nsid[] = { 0, 3, 0, 0 };

static void test_nsid_answered(void **state)
{
	size_t len = 0;
	ldns_pkt *p = ask(shown, "www.example.com.", LDNS_RR_TYPE_A,
			  LDNS_RR_CLASS_IN, empty_nsid, sizeof(empty_nsid), NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	const uint8_t *nsid = response_nsid(p, &len);
	assert_non_null(nsid);
	assert_int_equal(len, 6);
	assert_memory_equal(nsid, "site-1", 6);
	ldns_pkt_free(p);
}

static void test_nsid_not_asked(void **state)
{
	size_t len = 0;
	static const uint8_t other[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
	ldns_pkt *p = ask(shown, "www.example.com.", LDNS_RR_TYPE_A,
			  LDNS_RR_CLASS_IN, other, sizeof(other), NULL);
	assert_null(response_nsid(p, &len));
	ldns_pkt_free(p);
	p = ask(shown, "www.example.com.", LDNS_RR_TYPE_A, LDNS_RR_CLASS_IN,
		NULL, 0, NULL);
	assert_int_equal(ldns_pkt_arcount(p), 0); // no OPT without EDNS
	ldns_pkt_free(p);
}

/* RFC 5001 §2.1: data in the query's option is ignored; still answered. */
static void test_nsid_with_data_in_query(void **state)
{
	size_t len = 0;
	static const uint8_t with_data[] = { 0, 3, 0, 3, 'x', 'y', 'z' };
	ldns_pkt *p = ask(shown, "nosuch.example.org.", LDNS_RR_TYPE_A,
			  LDNS_RR_CLASS_IN, with_data, sizeof(with_data), NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED);
	const uint8_t *nsid = response_nsid(p, &len);
	assert_non_null(nsid);
	assert_int_equal(len, 6);
	assert_memory_equal(nsid, "site-1", 6);
	ldns_pkt_free(p);
}

static void test_nsid_off(void **state)
{
	size_t len = 0;
	ldns_pkt *p = ask(hidden, "www.example.com.", LDNS_RR_TYPE_A,
			  LDNS_RR_CLASS_IN, empty_nsid, sizeof(empty_nsid), NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_null(response_nsid(p, &len));
	ldns_pkt_free(p);
}

// The TXT answer to name in class CH, as text ("" when none).
static void assert_ch_txt(const struct snapshot *s, const char *name,
			  const char *want)
{
	ldns_pkt *p = ask(s, name, LDNS_RR_TYPE_TXT, LDNS_RR_CLASS_CH, NULL,
			  0, NULL);
	assert_int_equal(ldns_pkt_get_rcode(p), LDNS_RCODE_NOERROR);
	assert_true(ldns_pkt_aa(p));
	assert_int_equal(ldns_pkt_ancount(p), 1);
	ldns_rr *rr = ldns_rr_list_rr(ldns_pkt_answer(p), 0);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_TXT);
	assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_CH);
	assert_int_equal(ldns_rr_ttl(rr), 0);
	char *owner = ldns_rdf2str(ldns_rr_owner(rr));
	char *text = ldns_rdf2str(ldns_rr_rdf(rr, 0));
	assert_string_equal(owner, name);
	assert_string_equal(text, want);
	free(owner);
	free(text);
	ldns_pkt_free(p);
}

static uint16_t ch_rcode(const struct snapshot *s, const char *name,
			 uint16_t type, uint16_t class, uint16_t *ancount)
{
	ldns_pkt *p = ask(s, name, type, class, NULL, 0, NULL);
	uint16_t rcode = ldns_pkt_get_rcode(p);
	*ancount = ldns_pkt_ancount(p);
	ldns_pkt_free(p);
	return rcode;
}

static void test_ch_txt_shown(void **state)
{
	assert_ch_txt(shown, "id.server.", "\"ns1.fra.example.net\"");
	assert_ch_txt(shown, "hostname.bind.", "\"ns1.fra.example.net\"");
	assert_ch_txt(shown, "version.server.", "\"test version\"");
	assert_ch_txt(shown, "version.bind.", "\"test version\"");
	// the question's case is echoed; the match ignores it
	assert_ch_txt(shown, "Version.BIND.", "\"test version\"");
}

static void test_ch_other_names_and_types(void **state)
{
	uint16_t an = 9;
	assert_int_equal(ch_rcode(shown, "authors.bind.", LDNS_RR_TYPE_TXT,
				  LDNS_RR_CLASS_CH, &an), LDNS_RCODE_REFUSED);
	assert_int_equal(an, 0);
	assert_int_equal(ch_rcode(shown, "x.id.server.", LDNS_RR_TYPE_TXT,
				  LDNS_RR_CLASS_CH, &an), LDNS_RCODE_REFUSED);
	assert_int_equal(ch_rcode(shown, "id.server.", LDNS_RR_TYPE_A,
				  LDNS_RR_CLASS_CH, &an), LDNS_RCODE_NOERROR);
	assert_int_equal(an, 0);
	assert_int_equal(ch_rcode(shown, "id.server.", LDNS_RR_TYPE_ANY,
				  LDNS_RR_CLASS_CH, &an), LDNS_RCODE_NOERROR);
	assert_int_equal(an, 1);
	assert_int_equal(ch_rcode(shown, "id.server.", LDNS_RR_TYPE_AXFR,
				  LDNS_RR_CLASS_CH, &an), LDNS_RCODE_REFUSED);
	// class IN does not answer the CH names; HS is refused as before
	assert_int_equal(ch_rcode(shown, "id.server.", LDNS_RR_TYPE_TXT,
				  LDNS_RR_CLASS_IN, &an), LDNS_RCODE_REFUSED);
	assert_int_equal(ch_rcode(shown, "id.server.", LDNS_RR_TYPE_TXT,
				  LDNS_RR_CLASS_HS, &an), LDNS_RCODE_REFUSED);
}

static void test_ch_hidden(void **state)
{
	static const char *const names[] = {
		"id.server.", "hostname.bind.", "version.server.", "version.bind.",
	};
	uint16_t an = 9;
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(ch_rcode(hidden, names[i], LDNS_RR_TYPE_TXT,
					  LDNS_RR_CLASS_CH, &an),
				 LDNS_RCODE_REFUSED);
		assert_int_equal(an, 0);
	}
}

/* NSID and a CH answer together, over the 512-byte limit never. */
static void test_ch_with_nsid(void **state)
{
	size_t len = 0, n = 0;
	ldns_pkt *p = ask(shown, "id.server.", LDNS_RR_TYPE_TXT,
			  LDNS_RR_CLASS_CH, empty_nsid, sizeof(empty_nsid), &n);
	assert_int_equal(ldns_pkt_ancount(p), 1);
	assert_non_null(response_nsid(p, &len));
	assert_true(n <= 1232);
	ldns_pkt_free(p);
}

/* ---- the operations config keys (nsid, identity, version, log,
 * log_level, pidfile): values, defaults and FILE:LINE errors ---- */

#define OPS_BASE \
	"listen: [127.0.0.1:5300]\n" \
	"geoip: geo.mmdb\n" \
	"regions: {a: {continents: [EU], vips: [192.0.2.1]}}\n" \
	"default_region: a\n" \
	"zones: [{origin: example.com., file: z}]\n"     /* line 5 */

static char ops_path[64];

// Loads OPS_BASE + extra from a temporary file; NULL when refused, with
// the first message in err.
static struct config *ops_load(const char *extra, char *err, size_t len)
{
	snprintf(ops_path, sizeof(ops_path), "/tmp/test_chaos.XXXXXX");
	int fd = mkstemp(ops_path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(OPS_BASE, f);
	fputs(extra, f);
	assert_int_equal(fclose(f), 0);
	struct diag *d = diag_new();
	struct config *cfg = config_load(ops_path, d);
	err[0] = '\0';
	if (diag_count(d) > 0)
		snprintf(err, len, "%s", diag_message(d, 0));
	diag_free(d);
	unlink(ops_path);
	return cfg;
}

static void test_ops_config_defaults(void **state)
{
	char err[512], host[256] = "";
	struct config *cfg = ops_load("", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->nsid_len, 0);
	gethostname(host, sizeof(host));
	assert_string_equal(cfg->identity, host);
	assert_string_equal(cfg->version, "geovip " PACKAGE_VERSION);
	assert_int_equal(cfg->log_target, LOG_TARGET_STDERR);
	assert_int_equal(cfg->log_level, LOG_LEVEL_INFO);
	assert_null(cfg->pidfile);
	config_free(cfg);
}

static void test_ops_config_values(void **state)
{
	char err[512];
	struct config *cfg = ops_load("nsid: \"hex:00FF10\"\n"
				      "identity: false\n"
				      "version: \"v 1\"\n"
				      "log: syslog\n"
				      "log_level: debug\n"
				      "pidfile: run/g.pid\n", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->nsid_len, 3);
	assert_memory_equal(cfg->nsid, "\x00\xff\x10", 3);
	assert_null(cfg->identity);
	assert_string_equal(cfg->version, "v 1");
	assert_int_equal(cfg->log_target, LOG_TARGET_SYSLOG);
	assert_int_equal(cfg->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(cfg->pidfile, "/tmp/run/g.pid"); // next to the config
	assert_int_equal(cfg->pidfile_line, 11);
	config_free(cfg);

	cfg = ops_load("nsid: true\nversion: false\n", err, sizeof(err));
	assert_non_null(cfg);
	char host[256] = "";
	gethostname(host, sizeof(host));
	assert_int_equal(cfg->nsid_len, strlen(host));
	assert_memory_equal(cfg->nsid, host, cfg->nsid_len);
	assert_null(cfg->version);
	config_free(cfg);

	cfg = ops_load("nsid: site-1\n", err, sizeof(err));
	assert_non_null(cfg);
	assert_int_equal(cfg->nsid_len, 6);
	assert_memory_equal(cfg->nsid, "site-1", 6);
	config_free(cfg);
}

static void assert_ops_refused(const char *extra, const char *phrase)
{
	char err[512], prefix[96];
	struct config *cfg = ops_load(extra, err, sizeof(err));
	assert_null(cfg);
	snprintf(prefix, sizeof(prefix), "%s:6: ", ops_path);
	if (strncmp(err, prefix, strlen(prefix)) != 0 ||
	    strstr(err, phrase) == NULL)
		fail_msg("expected '%s...%s', got '%s'", prefix, phrase, err);
}

static void test_ops_config_errors(void **state)
{
	char long_text[300];
	memset(long_text, 'x', sizeof(long_text));
	long_text[299] = '\0';
	char line[400];
	assert_ops_refused("nsid: \"hex:abc\"\n", "even number");
	assert_ops_refused("nsid: \"hex:zz\"\n", "even number");
	assert_ops_refused("nsid: \"hex:\"\n", "even number");
	snprintf(line, sizeof(line), "nsid: %.129s\n", long_text);
	assert_ops_refused(line, "1 to 128 bytes, not 129");
	snprintf(line, sizeof(line), "identity: %.256s\n", long_text);
	assert_ops_refused(line, "1 to 255 characters");
	assert_ops_refused("version: \"\"\n", "1 to 255 characters");
	assert_ops_refused("log: journald\n", "'journald' is not stderr or syslog");
	assert_ops_refused("log_level: warn\n", "'warn' is not one of error");
	assert_ops_refused("pidfile: \"\"\n", "empty path");
	assert_ops_refused("nsid: [a]\n", "nsid");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_nsid_answered),
		cmocka_unit_test(test_nsid_not_asked),
		cmocka_unit_test(test_nsid_with_data_in_query),
		cmocka_unit_test(test_nsid_off),
		cmocka_unit_test(test_ch_txt_shown),
		cmocka_unit_test(test_ch_other_names_and_types),
		cmocka_unit_test(test_ch_hidden),
		cmocka_unit_test(test_ch_with_nsid),
		cmocka_unit_test(test_ops_config_defaults),
		cmocka_unit_test(test_ops_config_values),
		cmocka_unit_test(test_ops_config_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
