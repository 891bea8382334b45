/*
 * src/query.c — the pure core, one message in, one message out: parse
 * the header, question and OPT record, check the DNS cookie, decide the
 * RCODE class of the answer (drop, FORMERR, BADVERS, BADCOOKIE, NOTIMP,
 * REFUSED, or zone data), write the response, and truncate it to the
 * client's UDP limit.
 */
#include "autoconf.h"
#include "query.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "addr.h"
#include "answer.h"
#include "chaos.h"
#include "config.h"
#include "cookie.h"
#include "edns.h"
#include "region.h"
#include "snapshot.h"
#include "wire.h"
#include "zone.h"

_Static_assert(QUERY_UDP_BUFFER_SIZE == EDNS_SERVER_PAYLOAD,
	       "UDP responses are at most the server's EDNS payload size");

/* Header flag bits (RFC 1035 §4.1.1, RFC 4035 §3.2). */
enum {
	FLAG_QR = 0x8000,
	FLAG_AA = 0x0400,
	FLAG_TC = 0x0200,
	FLAG_RD = 0x0100,
	FLAG_CD = 0x0010,
};
#define OPCODE_QUERY 0

struct request {
	uint16_t id, flags, qdcount, ancount, nscount, arcount;
	bool question_ok;
	size_t question_end; /* offset just past the question */
	size_t qname_len;    /* valid with question_ok */
	unsigned qlabels;    /* valid with question_ok */
	uint64_t qhash;      /* dname_hash of qname, valid with question_ok */
	uint16_t qtype, qclass;
	uint16_t rcode; /* 0, FORMERR, BADVERS, BADCOOKIE */
	/* from here on not cleared as a whole per query */
	struct edns edns;
	uint8_t qname[DNAME_MAX]; /* canonical */
};

static uint16_t opcode_of(uint16_t flags)
{
	return (flags >> 11) & 0xf;
}

static int parse_question(struct request *rq, struct wire_reader *r)
{
	if (rq->qdcount != 1)
		return -1;
	// a question is the first name of the message: no pointer can be
	// valid. One pass checks it, lower-cases it, counts its labels and
	// hashes it (for the zone's node table).
	size_t len =
		dname_scan_lower(rq->qname, r->pkt + r->pos, r->len - r->pos,
				 &rq->qlabels, &rq->qhash);
	if (len == 0)
		return -1;
	r->pos += len;
	if (wire_read_u16(r, &rq->qtype) < 0 ||
	    wire_read_u16(r, &rq->qclass) < 0)
		return -1;
	rq->qname_len = len;
	rq->question_ok = true;
	rq->question_end = r->pos;
	return 0;
}

/* Reads a record's owner; *root tells whether it is the root name. */
/* A record's fixed fields. */
struct rr_head {
	bool root; /* owned by the root name */
	uint16_t type, class, rdlen;
	uint32_t ttl;
};

/* Reads a record's owner and fixed fields (not its RDATA) into h. */
static int read_rr_head(struct wire_reader *r, struct rr_head *h)
{
	// an OPT record: one zero byte (the root) and the fields, read at
	// once when the message holds them all
	if (r->len - r->pos >= 11 && r->pkt[r->pos] == 0) {
		const uint8_t *p = r->pkt + r->pos;
		h->root = true;
		h->type = wire_get_u16(p + 1);
		h->class = wire_get_u16(p + 3);
		h->ttl = wire_get_u32(p + 5);
		h->rdlen = wire_get_u16(p + 9);
		r->pos += 11;
		return 0;
	}
	uint8_t name[DNAME_MAX];
	if (wire_read_name(r, name) < 0 || wire_read_u16(r, &h->type) < 0 ||
	    wire_read_u16(r, &h->class) < 0 || wire_read_u32(r, &h->ttl) < 0 ||
	    wire_read_u16(r, &h->rdlen) < 0)
		return -1;
	h->root = name[0] == 0;
	return 0;
}

/* Additional section: at most one OPT, owned by the root. */
static int parse_additional(struct request *rq, struct wire_reader *r,
			    bool ecs_enabled)
{
	for (uint16_t i = 0; i < rq->arcount; i++) {
		struct rr_head h;
		if (read_rr_head(r, &h) < 0 || r->len - r->pos < h.rdlen)
			return -1;
		const uint8_t *rdata = r->pkt + r->pos;
		r->pos += h.rdlen;
		if (h.type != TYPE_OPT)
			continue;
		if (rq->edns.present || !h.root)
			return -1;
		enum edns_status st = edns_parse(&rq->edns, h.class, h.ttl,
						 rdata, h.rdlen, ecs_enabled);
		if (st == EDNS_BADVERS)
			rq->rcode = RCODE_BADVERS;
		else if (st == EDNS_FORMERR)
			return -1;
	}
	return 0;
}

/*
 * Past a question section that parse_question refused (QDCOUNT != 1, a
 * compressed name), when its names can still be read: then the OPT
 * record, if any, can be found for the FORMERR answer.
 */
static int skip_questions(const struct request *rq, struct wire_reader *r)
{
	uint8_t name[DNAME_MAX];
	r->pos = WIRE_HEADER_SIZE;
	for (unsigned i = 0; i < rq->qdcount; i++)
		if (wire_read_name(r, name) < 0 || wire_skip(r, 4) < 0)
			return -1;
	return 0;
}

/*
 * Reads the whole message. Any structural fault is FORMERR; what could be
 * read before it (question, OPT) still shapes the response: RFC 6891 §7
 * wants an OPT in the answer to a query that had one, FORMERR included.
 */
static void parse_request(struct request *rq, const uint8_t *pkt, size_t len,
			  bool ecs_enabled)
{
	struct wire_reader r;
	wire_reader_init(&r, pkt, len);
	// the scalars; the OPT record's flags; not the name buffer, which
	// parse_question fills
	memset(rq, 0, offsetof(struct request, edns));
	edns_clear(&rq->edns);
	// the caller checked len >= WIRE_HEADER_SIZE
	rq->id = wire_get_u16(pkt);
	rq->flags = wire_get_u16(pkt + 2);
	rq->qdcount = wire_get_u16(pkt + 4);
	rq->ancount = wire_get_u16(pkt + 6);
	rq->nscount = wire_get_u16(pkt + 8);
	rq->arcount = wire_get_u16(pkt + 10);
	r.pos = WIRE_HEADER_SIZE;

	bool formerr = false;
	if (parse_question(rq, &r) < 0) {
		formerr = true;
		if (skip_questions(rq, &r) < 0)
			goto formerr;
	}
	for (unsigned i = 0; i < (unsigned)rq->ancount + rq->nscount; i++)
		if (wire_skip_rr(&r) < 0)
			goto formerr;
	if (parse_additional(rq, &r, ecs_enabled) < 0) {
		// a broken OPT or ECS option is not echoed; a valid one is,
		// whatever else is wrong with the message
		rq->edns.ecs.present = false;
		rq->edns.nsid = false;
		rq->edns.cookie.present = false;
		goto formerr;
	}
	if (r.pos != len || formerr)
		goto formerr;
	return;
formerr:
	rq->rcode = RCODE_FORMERR;
}

static void source_of(struct ip_addr *a, const struct sockaddr *from)
{
	memset(a, 0, sizeof(*a));
	if (from->sa_family == AF_INET) {
		const struct sockaddr_in *sin =
			(const struct sockaddr_in *)from;
		a->family = AF_INET;
		memcpy(a->bytes, &sin->sin_addr, 4);
	} else {
		const struct sockaddr_in6 *sin6 =
			(const struct sockaddr_in6 *)from;
		a->family = AF_INET6;
		memcpy(a->bytes, &sin6->sin6_addr, 16);
	}
}

static void client_from(struct region_client *client,
			const struct sockaddr *from, const struct edns *edns)
{
	memset(client, 0, sizeof(*client));
	source_of(&client->source, from);
	if (edns->ecs.present) {
		client->has_ecs = true;
		client->ecs_addr.family =
			edns->ecs.family == 1 ? AF_INET : AF_INET6;
		memcpy(client->ecs_addr.bytes, edns->ecs.addr, 16);
		client->ecs_source_len = edns->ecs.source_len;
	}
}

/*
 * RFC 7873 §5.2 on the request's COOKIE option (RFC 9018 server cookies):
 * puts the response's server cookie in rq->edns.cookie and returns whether
 * the request's server cookie was valid. A valid one is echoed, or renewed
 * past half its lifetime; a client cookie alone gets a fresh one; an
 * invalid one gets a fresh one too, with BADCOOKIE over UDP (the client
 * retries with it) and a normal answer over TCP, whose handshake already
 * proved the address.
 */
static bool cookie_process(struct request *rq, const struct cookie_secrets *s,
			   const struct sockaddr *from,
			   enum query_transport transport, uint32_t now)
{
	struct edns_cookie *c = &rq->edns.cookie;
	if (!c->present)
		return false;
	struct ip_addr client;
	source_of(&client, from);
	enum cookie_verdict v = COOKIE_INVALID;
	if (c->server_len > 0)
		v = cookie_check(s, c->client, c->server, c->server_len,
				 &client, now);
	if (v == COOKIE_VALID)
		return true;
	if (c->server_len > 0 && v == COOKIE_INVALID &&
	    transport == QUERY_UDP && rq->rcode == 0)
		rq->rcode = RCODE_BADCOOKIE;
	cookie_make(c->server, s->current, c->client, &client, now);
	c->server_len = COOKIE_SERVER_LEN;
	return v == COOKIE_RENEW;
}

/* The RCODE that needs no zone data, or -1 to answer from the zones. */
static int early_rcode(const struct request *rq)
{
	// NOTIMP first: other opcodes need not have a QUERY's layout
	if (opcode_of(rq->flags) != OPCODE_QUERY)
		return RCODE_NOTIMP;
	if (rq->rcode != 0)
		return rq->rcode;
	if (rq->qclass != CLASS_IN && rq->qclass != CHAOS_CLASS)
		return RCODE_REFUSED;
	if (rq->qtype == TYPE_AXFR || rq->qtype == TYPE_IXFR)
		return RCODE_REFUSED;
	if (rq->qtype == TYPE_OPT)
		return RCODE_FORMERR; // a meta type cannot be asked for
	return -1;
}

struct response {
	struct wire_writer w;
	uint16_t rcode;
	bool aa, tc;
	uint16_t ancount, nscount, arcount;
	uint8_t scope;
	const struct answer_result *zone_answer; /* NULL: no zone data used */
};

/* Everything but the writer, which wire_writer_init sets up: the writer's
 * compression table is large and needs no clearing. */
static void response_init(struct response *out)
{
	out->rcode = 0;
	out->aa = out->tc = false;
	out->ancount = out->nscount = out->arcount = 0;
	out->scope = 0;
	out->zone_answer = NULL;
}

static void write_header(struct response *out, const struct request *rq)
{
	uint16_t flags = FLAG_QR | (rq->flags & (0x7800 | FLAG_RD | FLAG_CD));
	if (out->aa)
		flags |= FLAG_AA;
	if (out->tc)
		flags |= FLAG_TC;
	flags |= out->rcode & 0xf;
	uint8_t *h = out->w.buf;
	wire_set_u16(h, rq->id);
	wire_set_u16(h + 2, flags);
	wire_set_u16(h + 4, rq->question_ok ? 1 : 0);
	wire_set_u16(h + 6, out->ancount);
	wire_set_u16(h + 8, out->nscount);
	wire_set_u16(h + 10, out->arcount);
}

static void answer_from_zones(struct response *out, const struct request *rq,
			      const struct snapshot *snap,
			      const struct sockaddr *from,
			      struct answer_result *ares)
{
	const struct zone *z = zone_set_find_canonical(
		snap->zones, rq->qname, rq->qname_len, rq->qlabels);
	if (z == NULL) {
		out->rcode = RCODE_REFUSED;
		return;
	}
	struct region_client client;
	client_from(&client, from, &rq->edns);
	struct answer_request areq = {
		snap,          z,           rq->qname,
		rq->qname_len, rq->qlabels, rq->qhash,
		rq->qtype,     &client,     .dnssec_ok = rq->edns.do_bit};
	answer_write(&areq, &out->w, ares);
	out->rcode = ares->rcode;
	out->aa = ares->aa;
	out->ancount = ares->ancount;
	out->nscount = ares->nscount;
	out->arcount = ares->arcount;
	out->scope = ares->scope;
	out->zone_answer = ares;
}

/* Class CH: the identity and version TXT records (chaos.c). */
static void answer_from_chaos(struct response *out, const struct request *rq,
			      const struct snapshot *snap)
{
	out->rcode = chaos_answer(snap->chaos, rq->qname, rq->qtype, &out->w,
				  &out->ancount);
	out->aa = out->rcode == RCODE_NOERROR;
}

/* Over the limit: header, question (and OPT) only, with TC set. */
static void truncate_response(struct response *out, const struct request *rq)
{
	wire_truncate(&out->w, rq->question_end);
	out->tc = true;
	out->ancount = out->nscount = out->arcount = 0;
}

/* Fills res (when asked for) from what query_process did. */
static void query_report(struct query_result *info, const struct request *rq,
			 const struct response *out, bool cookie_valid)
{
	const struct answer_result *a = out->zone_answer;
	*info = (struct query_result){
		.cookie_valid = cookie_valid,
		.answered = true,
		.has_question = rq->question_ok,
		.ecs = rq->edns.ecs.present,
		.qtype = rq->qtype,
		.rcode = out->rcode,
		.scope = out->scope,
		.region = -1,
	};
	if (a != NULL && a->regional) {
		info->regional = true;
		info->region = a->region;
		info->reason = a->reason;
		info->shed = a->shed;
		info->runtime = a->runtime;
		info->ecs_private = a->ecs_private;
		info->embedded_v4 = a->embedded_v4;
	}
}

size_t query_process(const struct snapshot *snap, const uint8_t *req,
		     size_t req_len, const struct sockaddr *from,
		     enum query_transport transport, uint32_t now,
		     uint8_t *resp, struct query_result *res)
{
	if (res != NULL)
		res->answered = res->cookie_valid = false;
	if (req_len < WIRE_HEADER_SIZE || (req[2] & 0x80) != 0)
		return 0; // a runt, or a response: never answer (no loops)

	struct request rq;
	parse_request(&rq, req, req_len, regions_ecs(snap->regions));
	bool cookie_valid =
		cookie_process(&rq, &snap->cookies, from, transport, now);

	struct response out;
	response_init(&out);
	struct answer_result ares;
	size_t nsid_len = 0;
	const uint8_t *nsid =
		rq.edns.nsid ? chaos_nsid_option(snap->chaos, &nsid_len) : NULL;
	size_t opt_size = edns_opt_size(&rq.edns, true, nsid_len);
	size_t limit = transport == QUERY_UDP ? edns_udp_limit(&rq.edns)
					      : QUERY_BUFFER_SIZE;
	// keep room for OPT so that it always fits after truncation
	wire_writer_init(&out.w, resp, limit - opt_size);
	if (!rq.question_ok)
		rq.question_end = WIRE_HEADER_SIZE;
	wire_put_bytes(&out.w, req, WIRE_HEADER_SIZE); // rewritten below
	if (rq.question_ok) {
		// the question as it came (its case kept)
		wire_put_bytes(&out.w, req + WIRE_HEADER_SIZE,
			       rq.question_end - WIRE_HEADER_SIZE);
		if (!out.w.overflow)
			wire_remember_question(&out.w, WIRE_HEADER_SIZE,
					       rq.qlabels, rq.qname);
	}

	int early = early_rcode(&rq);
	if (early >= 0)
		out.rcode = (uint16_t)early;
	else if (rq.qclass == CHAOS_CLASS)
		answer_from_chaos(&out, &rq, snap);
	else
		answer_from_zones(&out, &rq, snap, from, &ares);

	if (out.w.overflow)
		truncate_response(&out, &rq);
	if (rq.edns.present) {
		out.w.cap = limit;
		// BADVERS answers carry no options: we did not read them
		bool echo = out.rcode != RCODE_BADVERS;
		edns_write_opt(&out.w, &rq.edns, out.rcode, echo, out.scope,
			       nsid, nsid_len);
		out.arcount++;
	}
	write_header(&out, &rq);
	if (res != NULL)
		query_report(res, &rq, &out, cookie_valid);
	return out.w.len;
}

/* Offset and length of the OPT record among the next records, or -1. */
static long response_find_opt(struct wire_reader *r, unsigned records,
			      size_t *opt_len)
{
	for (unsigned i = 0; i < records; i++) {
		size_t start = r->pos;
		uint8_t name[DNAME_MAX];
		uint16_t type;
		if (wire_read_name(r, name) < 0 || wire_read_u16(r, &type) < 0)
			return -1;
		r->pos = start;
		if (wire_skip_rr(r) < 0)
			return -1;
		if (type == TYPE_OPT) {
			*opt_len = r->pos - start;
			return (long)start;
		}
	}
	return -1;
}

size_t query_truncate(uint8_t *resp, size_t len)
{
	struct wire_reader r;
	uint16_t counts[4];
	uint8_t name[DNAME_MAX];
	wire_reader_init(&r, resp, len);
	if (wire_skip(&r, 4) < 0)
		return len < WIRE_HEADER_SIZE ? len : WIRE_HEADER_SIZE;
	for (int i = 0; i < 4; i++)
		if (wire_read_u16(&r, &counts[i]) < 0)
			return len;
	if (counts[0] == 1 &&
	    (wire_read_name(&r, name) < 0 || wire_skip(&r, 4) < 0))
		return len;
	size_t question_end = r.pos, opt_len = 0;
	long opt = response_find_opt(
		&r, (unsigned)counts[1] + counts[2] + counts[3], &opt_len);
	if (opt >= 0)
		memmove(resp + question_end, resp + opt, opt_len);
	resp[2] |= FLAG_TC >> 8;
	memset(resp + 6, 0, 6);
	resp[11] = opt >= 0 ? 1 : 0;
	return question_end + (opt >= 0 ? opt_len : 0);
}
