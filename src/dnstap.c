/*
 * src/dnstap.c — dnstap frames (the Dnstap and Message protobuf messages
 * of dnstap.proto, encoded here field by field: only the fields an
 * authoritative server fills) handed to libfstrm's I/O thread, which owns
 * the Unix socket; one input queue per worker, never waited on.
 */
#include "autoconf.h"
#include "dnstap.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "diag.h"
#include "log.h"
#include "metrics.h"

size_t dnstap_extra(char *out, size_t len, const struct config *cfg,
		    const struct query_result *qi)
{
	out[0] = '\0';
	if (!qi->regional)
		return 0;
	const char *region =
		qi->region >= 0 && (size_t)qi->region < cfg->region_count
			? cfg->regions[qi->region].name
			: "?";
	int n = snprintf(out, len, "region=%s reason=%s scope=%u%s%s%s%s",
			 region, metrics_reason_name(qi->reason), qi->scope,
			 qi->ecs_private ? " private_ecs" : "",
			 qi->embedded_v4 ? " embedded_ipv4" : "",
			 qi->shed ? " shed" : "",
			 qi->runtime ? " runtime_override" : "");
	if (n < 0)
		n = 0;
	return (size_t)n < len ? (size_t)n : len - 1;
}

#ifdef HAVE_DNSTAP

#include <fstrm.h>

struct dnstap_queue {
	struct dnstap *dt;
	struct fstrm_iothr_queue *q;
	atomic_uint_fast64_t sent, dropped; // written by its worker only
};

struct dnstap {
	struct fstrm_iothr *iothr;
	bool queries, responses;
	char *identity; // NULL: left out
	unsigned count;
	struct dnstap_queue *queues;
};

bool dnstap_available(void)
{
	return true;
}

/* ---- protobuf wire format (varint, length-delimited, fixed32) ---- */

struct pb {
	uint8_t *p;
};

static void pb_varint(struct pb *b, uint64_t v)
{
	while (v >= 0x80) {
		*b->p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*b->p++ = (uint8_t)v;
}

static void pb_uint(struct pb *b, unsigned field, uint64_t v)
{
	pb_varint(b, (uint64_t)field << 3 | 0);
	pb_varint(b, v);
}

static void pb_bytes(struct pb *b, unsigned field, const void *data, size_t len)
{
	pb_varint(b, (uint64_t)field << 3 | 2);
	pb_varint(b, len);
	memcpy(b->p, data, len);
	b->p += len;
}

static void pb_fixed32(struct pb *b, unsigned field, uint32_t v)
{
	pb_varint(b, (uint64_t)field << 3 | 5);
	for (int i = 0; i < 4; i++)
		*b->p++ = (uint8_t)(v >> (8 * i));
}

/* dnstap.proto numbers. */
enum {
	DT_IDENTITY = 1,
	DT_VERSION = 2,
	DT_EXTRA = 3,
	DT_MESSAGE = 14,
	DT_TYPE = 15,
	DT_TYPE_MESSAGE = 1,
	M_TYPE = 1,
	M_FAMILY = 2,
	M_PROTOCOL = 3,
	M_QUERY_ADDRESS = 4,
	M_QUERY_PORT = 6,
	M_QUERY_TIME_SEC = 8,
	M_QUERY_TIME_NSEC = 9,
	M_QUERY_MESSAGE = 10,
	M_RESPONSE_TIME_SEC = 12,
	M_RESPONSE_TIME_NSEC = 13,
	M_RESPONSE_MESSAGE = 14,
	M_AUTH_QUERY = 1,
	M_AUTH_RESPONSE = 2,
	FAMILY_INET = 1,
	FAMILY_INET6 = 2,
	PROTOCOL_UDP = 1,
	PROTOCOL_TCP = 2,
};

struct dnstap_frame {
	bool response;
	enum query_transport transport;
	const struct sockaddr *from;
	const struct timespec *now;
	const uint8_t *msg;
	size_t msg_len;
	const char *extra;
	size_t extra_len;
};

// The Message, written at b; its fields all fit in 64 + msg_len bytes.
static void dnstap_message(struct pb *b, const struct dnstap_frame *f)
{
	pb_uint(b, M_TYPE, f->response ? M_AUTH_RESPONSE : M_AUTH_QUERY);
	if (f->from->sa_family == AF_INET) {
		const struct sockaddr_in *s =
			(const struct sockaddr_in *)f->from;
		pb_uint(b, M_FAMILY, FAMILY_INET);
		pb_bytes(b, M_QUERY_ADDRESS, &s->sin_addr, 4);
		pb_uint(b, M_QUERY_PORT, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s =
			(const struct sockaddr_in6 *)f->from;
		pb_uint(b, M_FAMILY, FAMILY_INET6);
		pb_bytes(b, M_QUERY_ADDRESS, &s->sin6_addr, 16);
		pb_uint(b, M_QUERY_PORT, ntohs(s->sin6_port));
	}
	pb_uint(b, M_PROTOCOL,
		f->transport == QUERY_UDP ? PROTOCOL_UDP : PROTOCOL_TCP);
	// the query's time on both (one clock read per exchange)
	pb_uint(b, M_QUERY_TIME_SEC, (uint64_t)f->now->tv_sec);
	pb_fixed32(b, M_QUERY_TIME_NSEC, (uint32_t)f->now->tv_nsec);
	if (f->response) {
		pb_uint(b, M_RESPONSE_TIME_SEC, (uint64_t)f->now->tv_sec);
		pb_fixed32(b, M_RESPONSE_TIME_NSEC, (uint32_t)f->now->tv_nsec);
		pb_bytes(b, M_RESPONSE_MESSAGE, f->msg, f->msg_len);
	} else {
		pb_bytes(b, M_QUERY_MESSAGE, f->msg, f->msg_len);
	}
}

// One frame queued, or dropped and counted.
static void dnstap_submit(struct dnstap_queue *q, const struct dnstap_frame *f)
{
	const struct dnstap *dt = q->dt;
	size_t id_len = dt->identity != NULL ? strlen(dt->identity) : 0;
	size_t cap = 128 + f->msg_len + id_len + sizeof(PACKAGE_STRING) +
		     f->extra_len;
	uint8_t *buf = malloc(cap);
	if (buf == NULL) {
		metrics_add(&q->dropped, 1);
		return;
	}
	// the Message first, at an offset leaving room for the outer fields
	size_t head = 32 + id_len + sizeof(PACKAGE_STRING) + f->extra_len;
	struct pb m = {buf + head};
	dnstap_message(&m, f);
	size_t mlen = (size_t)(m.p - (buf + head));
	struct pb b = {buf};
	if (dt->identity != NULL)
		pb_bytes(&b, DT_IDENTITY, dt->identity, id_len);
	pb_bytes(&b, DT_VERSION, PACKAGE_STRING, strlen(PACKAGE_STRING));
	if (f->extra_len > 0)
		pb_bytes(&b, DT_EXTRA, f->extra, f->extra_len);
	pb_uint(&b, DT_TYPE, DT_TYPE_MESSAGE);
	pb_varint(&b, (uint64_t)DT_MESSAGE << 3 | 2);
	pb_varint(&b, mlen);
	// head was sized for these fields: the Message moves down, not up
	memmove(b.p, buf + head, mlen);
	size_t len = (size_t)(b.p - buf) + mlen;
	if (fstrm_iothr_submit(dt->iothr, q->q, buf, len, fstrm_free_wrapper,
			       NULL) != fstrm_res_success) {
		free(buf);
		metrics_add(&q->dropped, 1);
		return;
	}
	metrics_add(&q->sent, 1);
}

void dnstap_log(struct dnstap_queue *q, const struct config *cfg,
		enum query_transport transport, const struct sockaddr *from,
		const uint8_t *req, size_t req_len, const uint8_t *resp,
		size_t resp_len, const struct query_result *qi)
{
	char extra[CONFIG_TXT_MAX + 96];
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	struct dnstap_frame f = {
		.transport = transport,
		.from = from,
		.now = &now,
		.extra = extra,
		.extra_len = dnstap_extra(extra, sizeof(extra), cfg, qi),
	};
	if (q->dt->queries) {
		f.msg = req;
		f.msg_len = req_len;
		dnstap_submit(q, &f);
	}
	if (q->dt->responses && resp_len > 0) {
		f.response = true;
		f.msg = resp;
		f.msg_len = resp_len;
		dnstap_submit(q, &f);
	}
}

static struct fstrm_writer *dnstap_writer(const char *path)
{
	static const char type[] = "protobuf:dnstap.Dnstap";
	struct fstrm_unix_writer_options *uw = fstrm_unix_writer_options_init();
	struct fstrm_writer_options *wo = fstrm_writer_options_init();
	struct fstrm_writer *w = NULL;
	if (uw != NULL && wo != NULL) {
		fstrm_unix_writer_options_set_socket_path(uw, path);
		fstrm_writer_options_add_content_type(wo, type,
						      sizeof(type) - 1);
		w = fstrm_unix_writer_init(uw, wo);
	}
	if (uw != NULL)
		fstrm_unix_writer_options_destroy(&uw);
	if (wo != NULL)
		fstrm_writer_options_destroy(&wo);
	return w;
}

static struct fstrm_iothr *dnstap_iothr(const char *path, unsigned workers)
{
	struct fstrm_writer *w = dnstap_writer(path);
	struct fstrm_iothr_options *o = fstrm_iothr_options_init();
	struct fstrm_iothr *t = NULL;
	if (w != NULL && o != NULL &&
	    fstrm_iothr_options_set_num_input_queues(o, workers) ==
		    fstrm_res_success &&
	    fstrm_iothr_options_set_input_queue_size(o, DNSTAP_QUEUE_FRAMES) ==
		    fstrm_res_success &&
	    fstrm_iothr_options_set_queue_model(
		    o, FSTRM_IOTHR_QUEUE_MODEL_SPSC) == fstrm_res_success)
		t = fstrm_iothr_init(o, &w); // takes w
	if (o != NULL)
		fstrm_iothr_options_destroy(&o);
	if (w != NULL)
		fstrm_writer_destroy(&w);
	return t;
}

struct dnstap *dnstap_open(const struct config *cfg, unsigned workers,
			   struct diag *d, bool *failed)
{
	*failed = false;
	if (cfg->dnstap.socket == NULL)
		return NULL;
	struct dnstap *dt = calloc(1, sizeof(*dt));
	if (dt != NULL) {
		dt->queues = calloc(workers, sizeof(*dt->queues));
		dt->identity =
			cfg->identity != NULL ? strdup(cfg->identity) : NULL;
	}
	if (dt == NULL || dt->queues == NULL ||
	    (cfg->identity != NULL && dt->identity == NULL) ||
	    (dt->iothr = dnstap_iothr(cfg->dnstap.socket, workers)) == NULL) {
		diag_error(d, cfg->path, cfg->dnstap.line,
			   "dnstap: cannot start the writer for %s (out of "
			   "memory or too many workers)",
			   cfg->dnstap.socket);
		*failed = true;
		dnstap_free(dt);
		return NULL;
	}
	dt->queries = cfg->dnstap.queries;
	dt->responses = cfg->dnstap.responses;
	dt->count = workers;
	for (unsigned i = 0; i < workers; i++) {
		dt->queues[i].dt = dt;
		dt->queues[i].q = fstrm_iothr_get_input_queue_idx(dt->iothr, i);
	}
	log_info("dnstap: logging %s%s%s to %s", dt->queries ? "queries" : "",
		 dt->queries && dt->responses ? " and " : "",
		 dt->responses ? "responses" : "", cfg->dnstap.socket);
	return dt;
}

void dnstap_free(struct dnstap *dt)
{
	if (dt == NULL)
		return;
	if (dt->iothr != NULL)
		fstrm_iothr_destroy(&dt->iothr); // flushes, joins the thread
	free(dt->queues);
	free(dt->identity);
	free(dt);
}

struct dnstap_queue *dnstap_queue(struct dnstap *dt, unsigned i)
{
	return &dt->queues[i];
}

void dnstap_counts(const struct dnstap *dt, uint64_t *sent, uint64_t *dropped)
{
	*sent = *dropped = 0;
	for (unsigned i = 0; dt != NULL && i < dt->count; i++) {
		*sent += atomic_load_explicit(&dt->queues[i].sent,
					      memory_order_relaxed);
		*dropped += atomic_load_explicit(&dt->queues[i].dropped,
						 memory_order_relaxed);
	}
}

#else /* !HAVE_DNSTAP */

bool dnstap_available(void)
{
	return false;
}

struct dnstap *dnstap_open(const struct config *cfg, unsigned workers,
			   struct diag *d, bool *failed)
{
	(void)workers;
	*failed = cfg->dnstap.socket != NULL;
	if (*failed)
		diag_error(d, cfg->path, cfg->dnstap.line,
			   "dnstap: this geovipd was built without dnstap "
			   "(configure --with-dnstap, libfstrm-dev)");
	return NULL;
}

void dnstap_free(struct dnstap *dt)
{
	(void)dt;
}

struct dnstap_queue *dnstap_queue(struct dnstap *dt, unsigned i)
{
	(void)dt;
	(void)i;
	return NULL;
}

void dnstap_log(struct dnstap_queue *q, const struct config *cfg,
		enum query_transport transport, const struct sockaddr *from,
		const uint8_t *req, size_t req_len, const uint8_t *resp,
		size_t resp_len, const struct query_result *qi)
{
	(void)q, (void)cfg, (void)transport, (void)from, (void)req;
	(void)req_len, (void)resp, (void)resp_len, (void)qi;
}

void dnstap_counts(const struct dnstap *dt, uint64_t *sent, uint64_t *dropped)
{
	(void)dt;
	*sent = *dropped = 0;
}

#endif
