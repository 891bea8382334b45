/*
 * tests/unit/test_scenarios.c — the query core's behaviour as data: every
 * tests/scenarios/NAME.scn file (or the files named on the command line) is
 * a list of queries, each followed by the response it must get; this one
 * driver sends them through query_process and checks the responses, read
 * with ldns (an independent parser). TAP output; exit 1 on any failure.
 *
 * Scenario format (tests/scenarios/README.md has it with examples): one
 * directive per line, `#` starts a comment, blank lines are ignored.
 *
 *   config PATH           snapshot to query (PATH relative to tests/fixtures)
 *   query NAME TYPE [MODIFIER...]
 *       class CLASS       QCLASS (default IN)
 *       from ADDR         packet source address (default 127.0.0.1)
 *       ecs ADDR/LEN      a valid ECS option (implies edns)
 *       ecs-raw FAMILY SOURCE SCOPE HEX|-   ECS option bytes as given
 *       ecs-twice         the ECS option sent twice
 *       edns              an OPT record (UDP size 1232)
 *       udp SIZE          an OPT record advertising SIZE
 *       do                the DO bit (implies edns)
 *       version N         EDNS version N (implies edns)
 *       opcode N          header OPCODE (default 0, QUERY)
 *       tcp               over TCP (default UDP)
 *   then expectations for that query, each checked only when written:
 *       rcode NAME        NOERROR FORMERR SERVFAIL NXDOMAIN NOTIMP REFUSED
 *                         BADVERS (extended RCODE included)
 *       flags F...        exactly these header flags (qr aa tc rd ra ad cd)
 *       answer RR         one record in presentation form (absolute names,
 *       authority RR        TTL and class written); the records of a section
 *       additional RR       listed this way must be the section, in order
 *       answer empty      (or authority/additional) no records
 *       answer count N    only the number of records
 *       opt none | opt udp N [do]   the response's OPT record
 *       ecs none | ecs scope N      the ECS option: absent, or the query's
 *                                   family/source/address with scope N
 *       size max N        response length at most N bytes
 *       qdcount N         the response's QDCOUNT
 *
 * Every response is also checked for what must always hold: the query's
 * ID and OPCODE, QR set, the question echoed byte for byte when QDCOUNT is
 * 1, and a UDP response within the client's size limit.
 */
#include "autoconf.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "diag.h"
#include "query.h"
#include "snapshot.h"
#include "pkt.h"

#define SCN_RR_MAX 64
#define SCN_LINE_MAX 1024

enum scn_section { SCN_ANSWER, SCN_AUTHORITY, SCN_ADDITIONAL, SCN_SECTIONS };
static const char *const scn_section_names[SCN_SECTIONS] = {
	"answer", "authority", "additional"
};

enum scn_check { SCN_UNCHECKED, SCN_EXACT, SCN_COUNT };

struct scn_expect_section {
	enum scn_check check;
	unsigned count;                 /* SCN_COUNT, or records listed */
	char *rr[SCN_RR_MAX];           /* SCN_EXACT: normalised text */
};

struct scn_block {
	const char *file;
	unsigned line;
	char text[SCN_LINE_MAX];        /* the query line, for messages */
	/* the query */
	char qname[1024];
	uint16_t qtype, qclass;
	struct sockaddr_storage from;
	struct pkt_opts opts;
	uint8_t ecs_addr[32];
	enum query_transport transport;
	/* what must come back */
	int rcode;                      /* -1: unchecked */
	int flags;                      /* -1: unchecked */
	struct scn_expect_section sec[SCN_SECTIONS];
	int opt;                        /* -1 unchecked, 0 none, 1 present */
	uint16_t opt_udp;
	bool opt_do;
	int ecs_scope;                  /* -2 unchecked, -1 none */
	long size_max;                  /* -1: unchecked */
	int qdcount;                    /* -1: unchecked */
};

struct scn_run {
	struct snapshot *snap;
	unsigned tests, failures;
	bool block_failed;
};

static uint8_t scn_req[4096];
static uint8_t scn_resp[QUERY_BUFFER_SIZE];

static const struct {
	const char *name;
	int code;
} scn_rcodes[] = {
	{ "NOERROR", 0 }, { "FORMERR", 1 }, { "SERVFAIL", 2 },
	{ "NXDOMAIN", 3 }, { "NOTIMP", 4 }, { "REFUSED", 5 },
	{ "BADVERS", 16 },
};

static const struct {
	const char *name;
	uint16_t bit;
} scn_flags[] = {
	{ "qr", 0x8000 }, { "aa", 0x0400 }, { "tc", 0x0200 }, { "rd", 0x0100 },
	{ "ra", 0x0080 }, { "ad", 0x0020 }, { "cd", 0x0010 },
};
#define SCN_FLAG_MASK 0x87b0

/* Reports a failed check of the current block (the first one prints the
 * block's "not ok" line). */
static void scn_fail(struct scn_run *run, const struct scn_block *b,
		     const char *fmt, ...)
{
	if (!run->block_failed) {
		printf("not ok %u - %s:%u: %s\n", run->tests, b->file, b->line,
		       b->text);
		run->block_failed = true;
	}
	va_list ap;
	va_start(ap, fmt);
	printf("#   ");
	vprintf(fmt, ap);
	printf("\n");
	va_end(ap);
}

static const char *scn_rcode_name(int code, char *buf, size_t len)
{
	for (size_t i = 0; i < sizeof(scn_rcodes) / sizeof(*scn_rcodes); i++)
		if (scn_rcodes[i].code == code)
			return scn_rcodes[i].name;
	snprintf(buf, len, "RCODE%d", code);
	return buf;
}

static void scn_flags_text(int flags, char *buf, size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(scn_flags) / sizeof(*scn_flags); i++)
		if (flags & scn_flags[i].bit) {
			size_t used = strlen(buf);
			snprintf(buf + used, len - used, "%s%s", used ? " " : "",
				 scn_flags[i].name);
		}
}

/* A record in presentation form, printed back by ldns (one spelling). */
static char *scn_rr_normalise(const char *text)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return NULL;
	char *out = ldns_rr2str(rr);
	ldns_rr_free(rr);
	if (out != NULL)
		out[strcspn(out, "\n")] = '\0';
	return out;
}

static void scn_block_free(struct scn_block *b)
{
	for (int s = 0; s < SCN_SECTIONS; s++)
		for (unsigned i = 0; i < SCN_RR_MAX; i++) {
			free(b->sec[s].rr[i]);
			b->sec[s].rr[i] = NULL;
		}
}

static int scn_parse_ecs(struct scn_block *b, const char *arg)
{
	char text[INET6_ADDRSTRLEN + 8];
	snprintf(text, sizeof(text), "%s", arg);
	char *slash = strchr(text, '/');
	if (slash == NULL)
		return -1;
	*slash = '\0';
	int len = atoi(slash + 1);
	memset(b->ecs_addr, 0, sizeof(b->ecs_addr));
	if (inet_pton(AF_INET, text, b->ecs_addr) == 1 && len >= 0 && len <= 32)
		b->opts.ecs_family = 1;
	else if (inet_pton(AF_INET6, text, b->ecs_addr) == 1 && len >= 0 &&
		 len <= 128)
		b->opts.ecs_family = 2;
	else
		return -1;
	b->opts.edns = b->opts.ecs = true;
	b->opts.ecs_source = (uint8_t)len;
	b->opts.ecs_addr = b->ecs_addr;
	b->opts.ecs_addr_len = ((size_t)len + 7) / 8;
	return 0;
}

/* ecs-raw FAMILY SOURCE SCOPE HEX|- : the option's fields as given. */
static int scn_parse_ecs_raw(struct scn_block *b, char **args)
{
	for (int i = 0; i < 4; i++)
		if (args[i] == NULL)
			return -1;
	b->opts.edns = b->opts.ecs = true;
	b->opts.ecs_family = (uint16_t)atoi(args[0]);
	b->opts.ecs_source = (uint8_t)atoi(args[1]);
	b->opts.ecs_scope = (uint8_t)atoi(args[2]);
	size_t n = 0;
	const char *hex = strcmp(args[3], "-") == 0 ? "" : args[3];
	if (strlen(hex) % 2 != 0 || strlen(hex) / 2 > sizeof(b->ecs_addr))
		return -1;
	for (; hex[2 * n] != '\0'; n++) {
		unsigned v;
		if (sscanf(hex + 2 * n, "%2x", &v) != 1)
			return -1;
		b->ecs_addr[n] = (uint8_t)v;
	}
	b->opts.ecs_addr = b->ecs_addr;
	b->opts.ecs_addr_len = n;
	return 0;
}

static int scn_parse_from(struct scn_block *b, const char *text)
{
	memset(&b->from, 0, sizeof(b->from));
	struct sockaddr_in *sin = (struct sockaddr_in *)&b->from;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&b->from;
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		return 0;
	}
	return -1;
}

/* Splits line into at most max words (in place); returns the count. */
static int scn_split(char *line, char **words, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(line, " \t", &save); w != NULL && n < max;
	     w = strtok_r(NULL, " \t", &save))
		words[n++] = w;
	for (int i = n; i < max; i++)
		words[i] = NULL;
	return n;
}

/* `query NAME TYPE [MODIFIER...]` → b; -1 with a message on a bad line. */
static int scn_parse_query(struct scn_block *b, char *args)
{
	char *w[32];
	int n = scn_split(args, w, 32);
	if (n < 2 || strlen(w[0]) >= sizeof(b->qname))
		return -1;
	snprintf(b->qname, sizeof(b->qname), "%s", w[0]);
	b->qtype = ldns_get_rr_type_by_name(w[1]);
	if (b->qtype == 0 && strcmp(w[1], "TYPE0") != 0)
		return -1;
	b->qclass = LDNS_RR_CLASS_IN;
	scn_parse_from(b, "127.0.0.1");
	b->transport = QUERY_UDP;
	for (int i = 2; i < n; i++) {
		const char *m = w[i], *arg = i + 1 < n ? w[i + 1] : NULL;
		if (strcmp(m, "tcp") == 0) {
			b->transport = QUERY_TCP;
		} else if (strcmp(m, "edns") == 0) {
			b->opts.edns = true;
		} else if (strcmp(m, "do") == 0) {
			b->opts.edns = b->opts.do_bit = true;
		} else if (strcmp(m, "ecs-twice") == 0) {
			b->opts.ecs_twice = true;
		} else if (arg == NULL) {
			return -1;
		} else if (strcmp(m, "class") == 0) {
			b->qclass = ldns_get_rr_class_by_name(arg);
			if (b->qclass == 0)
				return -1;
			i++;
		} else if (strcmp(m, "from") == 0) {
			if (scn_parse_from(b, arg) < 0)
				return -1;
			i++;
		} else if (strcmp(m, "ecs") == 0) {
			if (scn_parse_ecs(b, arg) < 0)
				return -1;
			i++;
		} else if (strcmp(m, "ecs-raw") == 0) {
			if (i + 4 >= n || scn_parse_ecs_raw(b, &w[i + 1]) < 0)
				return -1;
			i += 4;
		} else if (strcmp(m, "udp") == 0) {
			b->opts.edns = true;
			b->opts.udp_size = (uint16_t)atoi(arg);
			i++;
		} else if (strcmp(m, "version") == 0) {
			b->opts.edns = true;
			b->opts.version = (uint8_t)atoi(arg);
			i++;
		} else if (strcmp(m, "opcode") == 0) {
			b->opts.raw_flags = true;
			b->opts.flags = (uint16_t)(atoi(arg) << 11 | 0x0100);
			i++;
		} else {
			return -1;
		}
	}
	return 0;
}

static int scn_parse_section(struct scn_block *b, enum scn_section s,
			     const char *args)
{
	struct scn_expect_section *sec = &b->sec[s];
	unsigned count;
	if (strcmp(args, "empty") == 0) {
		if (sec->check == SCN_COUNT || sec->count > 0)
			return -1;
		sec->check = SCN_EXACT;
		return 0;
	}
	if (sscanf(args, "count %u", &count) == 1) {
		if (sec->check != SCN_UNCHECKED)
			return -1;
		sec->check = SCN_COUNT;
		sec->count = count;
		return 0;
	}
	if (sec->check == SCN_COUNT || sec->count == SCN_RR_MAX)
		return -1;
	char *rr = scn_rr_normalise(args);
	if (rr == NULL)
		return -1;
	sec->check = SCN_EXACT;
	sec->rr[sec->count++] = rr;
	return 0;
}

static int scn_parse_flags(struct scn_block *b, char *args)
{
	char *w[16];
	int n = scn_split(args, w, 16);
	b->flags = 0;
	for (int i = 0; i < n; i++) {
		size_t f = 0, nf = sizeof(scn_flags) / sizeof(*scn_flags);
		while (f < nf && strcmp(w[i], scn_flags[f].name) != 0)
			f++;
		if (f == nf)
			return -1;
		b->flags |= scn_flags[f].bit;
	}
	return 0;
}

/* One expectation line of the current block; -1 when it is not one. */
static int scn_parse_expect(struct scn_block *b, const char *key, char *args)
{
	if (strcmp(key, "rcode") == 0) {
		for (size_t i = 0; i < sizeof(scn_rcodes) / sizeof(*scn_rcodes); i++)
			if (strcmp(args, scn_rcodes[i].name) == 0) {
				b->rcode = scn_rcodes[i].code;
				return 0;
			}
		return -1;
	}
	if (strcmp(key, "flags") == 0)
		return scn_parse_flags(b, args);
	for (int s = 0; s < SCN_SECTIONS; s++)
		if (strcmp(key, scn_section_names[s]) == 0)
			return scn_parse_section(b, (enum scn_section)s, args);
	if (strcmp(key, "opt") == 0) {
		char *w[4];
		int n = scn_split(args, w, 4);
		if (n == 1 && strcmp(w[0], "none") == 0) {
			b->opt = 0;
			return 0;
		}
		if (n < 2 || strcmp(w[0], "udp") != 0)
			return -1;
		b->opt = 1;
		b->opt_udp = (uint16_t)atoi(w[1]);
		b->opt_do = n == 3 && strcmp(w[2], "do") == 0;
		return n == 2 || b->opt_do ? 0 : -1;
	}
	if (strcmp(key, "ecs") == 0) {
		if (strcmp(args, "none") == 0) {
			b->ecs_scope = -1;
			return 0;
		}
		return sscanf(args, "scope %d", &b->ecs_scope) == 1 ? 0 : -1;
	}
	if (strcmp(key, "qdcount") == 0)
		return sscanf(args, "%d", &b->qdcount) == 1 ? 0 : -1;
	if (strcmp(key, "size") == 0)
		return sscanf(args, "max %ld", &b->size_max) == 1 ? 0 : -1;
	return -1;
}

static void scn_block_init(struct scn_block *b, const char *file,
			   unsigned line, const char *text)
{
	memset(b, 0, sizeof(*b));
	b->file = file;
	b->line = line;
	snprintf(b->text, sizeof(b->text), "%s", text);
	b->rcode = b->flags = b->opt = -1;
	b->ecs_scope = -2;
	b->size_max = -1;
	b->qdcount = -1;
}

/* ---- checking a response ------------------------------------------------ */

static size_t scn_udp_limit(const struct scn_block *b)
{
	if (!b->opts.edns)
		return 512;
	size_t size = b->opts.udp_size ? b->opts.udp_size : 1232;
	size = size < 512 ? 512 : size;
	return size < 1232 ? size : 1232;
}

static void scn_check_invariants(struct scn_run *run, const struct scn_block *b,
				 size_t qlen, size_t len)
{
	if (memcmp(scn_resp, scn_req, 2) != 0)
		scn_fail(run, b, "response ID differs from the query's");
	if (!(scn_resp[2] & 0x80))
		scn_fail(run, b, "QR not set");
	if ((scn_resp[2] & 0x78) != (scn_req[2] & 0x78))
		scn_fail(run, b, "OPCODE not copied");
	if (b->transport == QUERY_UDP && len > scn_udp_limit(b))
		scn_fail(run, b, "UDP response of %zu bytes over the limit %zu",
			 len, scn_udp_limit(b));
	if (scn_resp[4] == 0 && scn_resp[5] == 1) {
		// the question as pkt_build wrote it: labels, QTYPE, QCLASS
		size_t qend = 12;
		while (qend < qlen && scn_req[qend] != 0)
			qend += scn_req[qend] + 1u;
		qend += 1 + 4;
		if (qend > len || memcmp(scn_resp + 12, scn_req + 12, qend - 12) != 0)
			scn_fail(run, b, "question not echoed as sent");
	}
}

static void scn_check_section(struct scn_run *run, const struct scn_block *b,
			      enum scn_section s, ldns_rr_list *got)
{
	const struct scn_expect_section *want = &b->sec[s];
	size_t n = ldns_rr_list_rr_count(got);
	if (want->check == SCN_UNCHECKED)
		return;
	if (want->check == SCN_COUNT) {
		if (n != want->count)
			scn_fail(run, b, "%s: %zu records, want %u",
				 scn_section_names[s], n, want->count);
		return;
	}
	bool same = n == want->count;
	for (size_t i = 0; same && i < n; i++) {
		char *text = ldns_rr2str(ldns_rr_list_rr(got, i));
		text[strcspn(text, "\n")] = '\0';
		same = strcmp(text, want->rr[i]) == 0;
		free(text);
	}
	if (same)
		return;
	scn_fail(run, b, "%s section differs; want:", scn_section_names[s]);
	for (unsigned i = 0; i < want->count; i++)
		printf("#     %s\n", want->rr[i]);
	printf("#   got:\n");
	for (size_t i = 0; i < n; i++) {
		char *text = ldns_rr2str(ldns_rr_list_rr(got, i));
		printf("#     %s", text);
		free(text);
	}
}

static void scn_check_opt(struct scn_run *run, const struct scn_block *b,
			  const ldns_pkt *p)
{
	bool has = ldns_pkt_edns(p);
	if (b->opt == 0 && has)
		scn_fail(run, b, "an OPT record, want none");
	if (b->opt != 1)
		return;
	if (!has) {
		scn_fail(run, b, "no OPT record");
		return;
	}
	if (ldns_pkt_edns_udp_size(p) != b->opt_udp)
		scn_fail(run, b, "OPT UDP size %u, want %u",
			 ldns_pkt_edns_udp_size(p), b->opt_udp);
	if (ldns_pkt_edns_do(p) != b->opt_do)
		scn_fail(run, b, "DO bit %s", b->opt_do ? "missing" : "set");
}

static void scn_check_ecs(struct scn_run *run, const struct scn_block *b,
			  size_t len)
{
	uint16_t family;
	uint8_t source, scope, addr[16];
	bool has = pkt_response_ecs(scn_resp, len, &family, &source, &scope, addr);
	if (b->ecs_scope == -1 && has)
		scn_fail(run, b, "an ECS option, want none");
	if (b->ecs_scope < 0)
		return;
	if (!has) {
		scn_fail(run, b, "no ECS option");
		return;
	}
	size_t n = b->opts.ecs_addr_len < 16 ? b->opts.ecs_addr_len : 16;
	if (family != b->opts.ecs_family || source != b->opts.ecs_source ||
	    memcmp(addr, b->ecs_addr, n) != 0)
		scn_fail(run, b, "ECS option not the query's (family %u source %u)",
			 family, source);
	if (scope != b->ecs_scope)
		scn_fail(run, b, "ECS scope %u, want %d", scope, b->ecs_scope);
}

static void scn_check(struct scn_run *run, const struct scn_block *b,
		      size_t qlen, size_t len)
{
	if (len < 12) {
		scn_fail(run, b, "no response");
		return;
	}
	scn_check_invariants(run, b, qlen, len);
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, scn_resp, len) != LDNS_STATUS_OK) {
		scn_fail(run, b, "ldns cannot parse the response");
		return;
	}
	int rcode = (scn_resp[3] & 0xf) | ldns_pkt_edns_extended_rcode(p) << 4;
	if (b->rcode >= 0 && rcode != b->rcode) {
		char b1[16], b2[16];
		scn_fail(run, b, "rcode %s, want %s",
			 scn_rcode_name(rcode, b1, sizeof(b1)),
			 scn_rcode_name(b->rcode, b2, sizeof(b2)));
	}
	int flags = (scn_resp[2] << 8 | scn_resp[3]) & SCN_FLAG_MASK;
	if (b->flags >= 0 && flags != b->flags) {
		char got[64], want[64];
		scn_flags_text(flags, got, sizeof(got));
		scn_flags_text(b->flags, want, sizeof(want));
		scn_fail(run, b, "flags '%s', want '%s'", got, want);
	}
	scn_check_section(run, b, SCN_ANSWER, ldns_pkt_answer(p));
	scn_check_section(run, b, SCN_AUTHORITY, ldns_pkt_authority(p));
	scn_check_section(run, b, SCN_ADDITIONAL, ldns_pkt_additional(p));
	scn_check_opt(run, b, p);
	scn_check_ecs(run, b, len);
	if (b->qdcount >= 0 && ldns_pkt_qdcount(p) != b->qdcount)
		scn_fail(run, b, "QDCOUNT %u, want %d", ldns_pkt_qdcount(p),
			 b->qdcount);
	if (b->size_max >= 0 && (long)len > b->size_max)
		scn_fail(run, b, "%zu bytes, want at most %ld", len, b->size_max);
	if (run->block_failed) {
		char *text = ldns_pkt2str(p);
		printf("#   the response:\n");
		for (char *l = text, *nl; l != NULL && *l != '\0'; l = nl) {
			nl = strchr(l, '\n');
			if (nl != NULL)
				*nl++ = '\0';
			printf("#     %s\n", l);
		}
		free(text);
	}
	ldns_pkt_free(p);
}

/* Runs one block: builds its query, asks the core, checks the answer. */
static void scn_run_block(struct scn_run *run, struct scn_block *b)
{
	run->tests++;
	run->block_failed = false;
	if (run->snap == NULL) {
		scn_fail(run, b, "no `config` before the first query");
		run->failures++;
		return;
	}
	size_t qlen = pkt_build(scn_req, b->qname, b->qtype, b->qclass, &b->opts);
	size_t len = query_process(run->snap, scn_req, qlen,
				   (const struct sockaddr *)&b->from,
				   b->transport, scn_resp, NULL);
	scn_check(run, b, qlen, len);
	if (run->block_failed)
		run->failures++;
	else
		printf("ok %u - %s:%u: %s\n", run->tests, b->file, b->line, b->text);
}

/* ---- reading scenario files ------------------------------------------- */

static int scn_load_config(struct scn_run *run, const char *rel)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", FIXTURES, rel);
	struct diag *d = diag_new();
	struct snapshot *s = d != NULL ? snapshot_load(path, d) : NULL;
	if (s == NULL && d != NULL)
		diag_print(d, stdout);
	diag_free(d);
	if (s == NULL)
		return -1;
	if (run->snap != NULL)
		snapshot_unref(run->snap);
	run->snap = s;
	return 0;
}

static void scn_syntax(struct scn_run *run, const char *file, unsigned line,
		       const char *text)
{
	run->tests++;
	run->failures++;
	printf("not ok %u - %s:%u: cannot read '%s'\n", run->tests, file, line,
	       text);
}

static void scn_run_file(struct scn_run *run, const char *path)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		scn_syntax(run, path, 0, "(cannot open the file)");
		return;
	}
	const char *file = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	if (run->snap != NULL) { // each file names its own config
		snapshot_unref(run->snap);
		run->snap = NULL;
	}
	struct scn_block b;
	bool open_block = false;
	char line[SCN_LINE_MAX], text[SCN_LINE_MAX];
	unsigned lineno = 0;
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *hash = strchr(line, '#');
		if (hash != NULL)
			*hash = '\0';
		size_t end = strlen(line);
		while (end > 0 && isspace((unsigned char)line[end - 1]))
			line[--end] = '\0';
		char *s = line;
		while (isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			continue;
		snprintf(text, sizeof(text), "%s", s);
		char *args = s + strcspn(s, " \t");
		if (*args != '\0')
			*args++ = '\0';
		while (isspace((unsigned char)*args))
			args++;
		if (strcmp(s, "query") == 0 || strcmp(s, "config") == 0) {
			if (open_block) {
				scn_run_block(run, &b);
				scn_block_free(&b);
				open_block = false;
			}
			if (strcmp(s, "config") == 0) {
				if (scn_load_config(run, args) < 0)
					scn_syntax(run, file, lineno, text);
				continue;
			}
			scn_block_init(&b, file, lineno, text);
			if (scn_parse_query(&b, args) < 0) {
				scn_syntax(run, file, lineno, text);
				continue;
			}
			open_block = true;
		} else if (!open_block || scn_parse_expect(&b, s, args) < 0) {
			scn_syntax(run, file, lineno, text);
		}
	}
	if (open_block) {
		scn_run_block(run, &b);
		scn_block_free(&b);
	}
	fclose(f);
}

static int scn_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.scn file of dir, in name order. */
static void scn_run_dir(struct scn_run *run, const char *dir)
{
	DIR *d = opendir(dir);
	if (d == NULL) {
		scn_syntax(run, dir, 0, "(cannot open the directory)");
		return;
	}
	char *names[256];
	size_t n = 0;
	for (struct dirent *e; (e = readdir(d)) != NULL && n < 256;) {
		size_t len = strlen(e->d_name);
		if (len > 4 && strcmp(e->d_name + len - 4, ".scn") == 0)
			names[n++] = strdup(e->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(*names), scn_name_cmp);
	for (size_t i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		scn_run_file(run, path);
		free(names[i]);
	}
}

int main(int argc, char **argv)
{
	struct scn_run run = { 0 };
	if (argc > 1)
		for (int i = 1; i < argc; i++)
			scn_run_file(&run, argv[i]);
	else
		scn_run_dir(&run, SCENARIOS);
	if (run.snap != NULL)
		snapshot_unref(run.snap);
	printf("1..%u\n", run.tests);
	if (run.tests == 0)
		printf("# no scenario ran\n");
	return run.failures == 0 && run.tests > 0 ? 0 : 1;
}
