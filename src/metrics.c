/*
 * src/metrics.c — the Prometheus text exposition of the server's
 * counters (per-worker counters summed with relaxed loads at scrape) and
 * the evhttp listener serving it on the main thread's loop.
 */
#include "autoconf.h"
#include "metrics.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>

#include "config.h"
#include "diag.h"
#include "dnssec.h"
#include "dnstap.h"
#include "log.h"
#include "rrl.h"
#include "server.h"
#include "snapshot.h"
#include "worker.h"

struct metrics {
	struct evhttp *http;
	struct server *srv;
};

static const struct {
	uint16_t type;
	const char *name;
} metrics_qtypes[METRICS_QTYPES - 1] = {
	{1, "A"},       {2, "NS"},    {5, "CNAME"},  {6, "SOA"},   {12, "PTR"},
	{15, "MX"},     {16, "TXT"},  {28, "AAAA"},  {33, "SRV"},  {43, "DS"},
	{48, "DNSKEY"}, {64, "SVCB"}, {65, "HTTPS"}, {255, "ANY"},
};

static const struct {
	uint16_t rcode;
	const char *name;
} metrics_rcodes[METRICS_RCODES - 1] = {
	{0, "NOERROR"}, {1, "FORMERR"}, {2, "SERVFAIL"}, {3, "NXDOMAIN"},
	{4, "NOTIMP"},  {5, "REFUSED"}, {16, "BADVERS"}, {23, "BADCOOKIE"},
};

static const char *const metrics_reasons[METRICS_REASONS] = {
	[GEOMAP_BY_NETWORK] = "network_override",
	[GEOMAP_BY_COUNTRY] = "country_override",
	[GEOMAP_BY_CONTINENT] = "continent",
	[GEOMAP_BY_DEFAULT] = "default",
	[GEOMAP_REASON_COUNT] = "private_ecs",
	[GEOMAP_REASON_COUNT + 1] = "embedded_ipv4",
	[GEOMAP_REASON_COUNT + 2] = "shed",
	[GEOMAP_REASON_COUNT + 3] = "runtime_override",
};

static const uint8_t metrics_scope_le[METRICS_SCOPE_BUCKETS] = {
	0, 8, 16, 24, 32, 48, 56, 64, 96, 128,
};

const char *metrics_reason_name(unsigned i)
{
	return i < METRICS_REASONS ? metrics_reasons[i] : "?";
}

// qtype (< 256) → its index in metrics_qtypes + 1; 0: other. One load
// on the query path instead of a search.
static const uint8_t metrics_qtype_slot[256] = {
	[1] = 1,   [2] = 2,   [5] = 3,   [6] = 4,    [12] = 5,
	[15] = 6,  [16] = 7,  [28] = 8,  [33] = 9,   [43] = 10,
	[48] = 11, [64] = 12, [65] = 13, [255] = 14,
};

const char *metrics_qtype_name(unsigned i)
{
	return i < METRICS_QTYPES - 1 ? metrics_qtypes[i].name : "other";
}

unsigned metrics_qtype_index(uint16_t qtype)
{
	unsigned slot = qtype < 256 ? metrics_qtype_slot[qtype] : 0;
	return slot != 0 ? slot - 1 : METRICS_QTYPES - 1;
}

unsigned metrics_rcode_index(uint16_t rcode)
{
	if (rcode <= 5)
		return rcode; // the table starts with 0..5 in order
	if (rcode == 16)
		return 6;
	if (rcode == 23)
		return 7;
	return METRICS_RCODES - 1;
}

unsigned metrics_scope_index(uint8_t scope)
{
	// the bounds of metrics_scope_le: every 8 up to 32, then 48 56 64 96 128
	if (scope <= 32)
		return (scope + 7u) / 8;
	return scope <= 48   ? 5
	       : scope <= 56 ? 6
	       : scope <= 64 ? 7
	       : scope <= 96 ? 8
			     : 9;
}

/* ---- summing and rendering (main thread) ------------------------------ */

// One counter summed over the workers, at offset in struct worker.
static uint64_t metrics_sum(const struct server *srv, size_t offset)
{
	uint64_t sum = 0;
	for (unsigned i = 0; i < srv->worker_count; i++) {
		const char *w = (const char *)srv->workers[i];
		sum += atomic_load_explicit(
			(const atomic_uint_fast64_t *)(w + offset),
			memory_order_relaxed);
	}
	return sum;
}

#define WSUM(field) metrics_sum(srv, offsetof(struct worker, field))

static void metrics_head(struct evbuffer *out, const char *name,
			 const char *type, const char *help)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

// A label value as the exposition format wants it: \, " and newline escaped.
static void metrics_label(struct evbuffer *out, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			evbuffer_add_printf(out, "\\%c", *v);
		else if (*v == '\n')
			evbuffer_add(out, "\\n", 2);
		else
			evbuffer_add(out, v, 1);
	}
}

static void metrics_render_queries(const struct server *srv,
				   struct evbuffer *out)
{
	metrics_head(out, "geovip_queries_total", "counter",
		     "DNS messages received, by transport");
	evbuffer_add_printf(
		out,
		"geovip_queries_total{transport=\"udp\"} %" PRIu64 "\n"
		"geovip_queries_total{transport=\"tcp\"} %" PRIu64 "\n",
		WSUM(counters.udp_queries), WSUM(counters.tcp_queries));
	metrics_head(out, "geovip_queries_by_qtype_total", "counter",
		     "Queries answered, by question type");
	for (unsigned i = 0; i < METRICS_QTYPES; i++)
		evbuffer_add_printf(
			out,
			"geovip_queries_by_qtype_total{qtype=\"%s\"} %" PRIu64
			"\n",
			metrics_qtype_name(i), WSUM(metrics.qtype[i]));
	metrics_head(out, "geovip_responses_by_rcode_total", "counter",
		     "Responses made, by RCODE (before RRL)");
	for (unsigned i = 0; i < METRICS_RCODES; i++)
		evbuffer_add_printf(
			out,
			"geovip_responses_by_rcode_total{rcode=\"%s\"} %" PRIu64
			"\n",
			i < METRICS_RCODES - 1 ? metrics_rcodes[i].name
					       : "other",
			WSUM(metrics.rcode[i]));
}

static void metrics_render_regional(const struct server *srv,
				    struct evbuffer *out)
{
	const struct config *cfg = server_current(srv)->config;
	metrics_head(out, "geovip_regional_answers_total", "counter",
		     "Regional answers, by region");
	for (size_t i = 0; i <= METRICS_REGIONS; i++) {
		uint64_t n = WSUM(metrics.region[i]);
		if (i == METRICS_REGIONS && n == 0)
			break;
		if (i < METRICS_REGIONS && i >= cfg->region_count && n == 0)
			continue;
		evbuffer_add_printf(out,
				    "geovip_regional_answers_total{region=\"");
		if (i < cfg->region_count && i < METRICS_REGIONS)
			metrics_label(out, cfg->regions[i].name);
		else if (i < METRICS_REGIONS)
			evbuffer_add_printf(out, "#%zu", i); // gone in a reload
		else
			evbuffer_add_printf(out, "other");
		evbuffer_add_printf(out, "\"} %" PRIu64 "\n", n);
	}
	metrics_head(out, "geovip_regional_reasons_total", "counter",
		     "Regional answers, by how the region was chosen");
	for (unsigned i = 0; i < METRICS_REASONS; i++)
		evbuffer_add_printf(
			out,
			"geovip_regional_reasons_total{reason=\"%s\"} %" PRIu64
			"\n",
			metrics_reasons[i], WSUM(metrics.reason[i]));
	metrics_head(out, "geovip_regional_ecs_total", "counter",
		     "Regional answers, by ECS option in the query");
	evbuffer_add_printf(
		out,
		"geovip_regional_ecs_total{ecs=\"absent\"} %" PRIu64 "\n"
		"geovip_regional_ecs_total{ecs=\"present\"} %" PRIu64 "\n",
		WSUM(metrics.ecs[0]), WSUM(metrics.ecs[1]));
	metrics_head(out, "geovip_ecs_scope", "histogram",
		     "ECS scope prefix length of regional answers");
	uint64_t cum = 0;
	for (unsigned i = 0; i < METRICS_SCOPE_BUCKETS; i++) {
		cum += WSUM(metrics.scope[i]);
		evbuffer_add_printf(
			out, "geovip_ecs_scope_bucket{le=\"%u\"} %" PRIu64 "\n",
			metrics_scope_le[i], cum);
	}
	evbuffer_add_printf(out,
			    "geovip_ecs_scope_bucket{le=\"+Inf\"} %" PRIu64 "\n"
			    "geovip_ecs_scope_sum %" PRIu64 "\n"
			    "geovip_ecs_scope_count %" PRIu64 "\n",
			    cum, WSUM(metrics.scope_sum), cum);
}

static void metrics_render_tcp_rrl(const struct server *srv,
				   struct evbuffer *out)
{
	struct rrl_counts rc;
	rrl_table_counts(srv->rrl, &rc);
	metrics_head(out, "geovip_rrl_responses_total", "counter",
		     "UDP responses rate limited, by action");
	evbuffer_add_printf(
		out,
		"geovip_rrl_responses_total{action=\"limited\"} %" PRIu64 "\n"
		"geovip_rrl_responses_total{action=\"dropped\"} %" PRIu64 "\n"
		"geovip_rrl_responses_total{action=\"slipped\"} %" PRIu64 "\n",
		rc.limited, rc.dropped, rc.slipped);
	metrics_head(out, "geovip_tcp_connections_open", "gauge",
		     "TCP connections open now");
	evbuffer_add_printf(out, "geovip_tcp_connections_open %u\n",
			    atomic_load(&srv->tcp_conns));
	metrics_head(out, "geovip_tcp_connections_total", "counter",
		     "TCP connections, by what happened to them");
	static const struct {
		const char *event;
		size_t offset;
	} ev[] = {
#define EV(name, field) {name, offsetof(struct worker, counters.field)}
		EV("accepted", tcp_accepted),
		EV("refused", tcp_refused),
		EV("evicted", tcp_evicted),
		EV("idle_timeout", tcp_idle_closed),
		EV("not_reading_timeout", tcp_stuck_closed),
		EV("slow_message_timeout", tcp_slow_closed),
		EV("lifetime_over", tcp_aged_closed),
#undef EV
	};
	for (size_t i = 0; i < sizeof(ev) / sizeof(ev[0]); i++)
		evbuffer_add_printf(
			out,
			"geovip_tcp_connections_total{event=\"%s\"} %" PRIu64
			"\n",
			ev[i].event, metrics_sum(srv, ev[i].offset));
}

/* The first signature to expire among the served ones: an alert on this
 * gauge catches a signer that stopped refreshing long before validators
 * fail (no sample when no zone is signed). */
static void metrics_render_dnssec(const struct snapshot *s,
				  struct evbuffer *out)
{
	bool signed_zone = false;
	for (size_t i = 0; i < s->config->zone_count; i++)
		signed_zone |= s->config->zones[i].dnssec.key_count > 0;
	if (!signed_zone)
		return;
	uint32_t left = dnssec_set_expiry(s->dnssec);
	metrics_head(out, "geovip_dnssec_signature_expiry_seconds", "gauge",
		     "Seconds until the first served signature expires");
	evbuffer_add_printf(
		out, "geovip_dnssec_signature_expiry_seconds %" PRIu32 "\n",
		left);
}

static void metrics_render_server(const struct server *srv,
				  struct evbuffer *out)
{
	metrics_head(out, "geovip_reloads_total", "counter",
		     "Reloads (SIGHUP), by result");
	evbuffer_add_printf(out,
			    "geovip_reloads_total{result=\"ok\"} %" PRIu64 "\n"
			    "geovip_reloads_total{result=\"failed\"} %" PRIu64
			    "\n",
			    srv->reloads_ok, srv->reloads_failed);
	metrics_head(out, "geovip_generation", "gauge",
		     "Generation of the configuration being served");
	evbuffer_add_printf(out, "geovip_generation %" PRIu64 "\n",
			    server_current(srv)->generation);
	metrics_head(out, "geovip_load_seconds", "gauge",
		     "Seconds the served generation took to load");
	evbuffer_add_printf(out, "geovip_load_seconds %.6f\n",
			    srv->load_seconds);
	metrics_render_dnssec(server_current(srv), out);
	uint64_t sent, dropped;
	dnstap_counts(srv->dnstap, &sent, &dropped);
	metrics_head(out, "geovip_dnstap_frames_total", "counter",
		     "dnstap frames queued, or dropped at a full queue");
	evbuffer_add_printf(
		out,
		"geovip_dnstap_frames_total{result=\"queued\"} %" PRIu64 "\n"
		"geovip_dnstap_frames_total{result=\"dropped\"} %" PRIu64 "\n",
		sent, dropped);
	metrics_head(out, "geovip_workers", "gauge", "Worker threads");
	evbuffer_add_printf(out, "geovip_workers %u\n", srv->worker_count);
	metrics_head(out, "geovip_build_info", "gauge",
		     "Always 1; the version as a label");
	evbuffer_add_printf(out, "geovip_build_info{version=\"%s\"} 1\n",
			    PACKAGE_VERSION);
}

int metrics_render(const struct server *srv, struct evbuffer *out)
{
	metrics_render_queries(srv, out);
	metrics_render_regional(srv, out);
	metrics_render_tcp_rrl(srv, out);
	metrics_render_server(srv, out);
	return 0;
}

/* ---- HTTP --------------------------------------------------------------- */

static void metrics_on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const char *path =
		evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
	if (path == NULL || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND,
				  "only /metrics is served");
		return;
	}
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", "GET, HEAD");
		evhttp_send_error(req, HTTP_BADMETHOD, NULL);
		return;
	}
	struct evbuffer *body = evbuffer_new();
	if (body == NULL) {
		log_error("metrics: out of memory");
		evhttp_send_error(req, HTTP_SERVUNAVAIL, NULL);
		return;
	}
	metrics_render(m->srv, body);
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type",
			  "text/plain; version=0.0.4; "
			  "charset=utf-8");
	evhttp_send_reply(req, HTTP_OK, "OK", body);
	evbuffer_free(body);
}

// A listening TCP socket on a; -errno on failure.
static int metrics_listen_socket(const struct config_listen *a)
{
	int fd = socket(a->addr.ss_family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)&a->addr, a->addr_len) < 0 ||
	    listen(fd, 64) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	return fd;
}

struct metrics *metrics_open(const struct config *cfg, struct event_base *base,
			     struct server *srv, struct diag *d, bool *failed)
{
	*failed = false;
	const struct config_listen *a = &cfg->metrics;
	if (a->line == 0)
		return NULL;
	*failed = true;
	int fd = metrics_listen_socket(a);
	if (fd < 0) {
		diag_error(d, cfg->path, a->line,
			   "cannot listen for metrics on %s: %s", a->text,
			   strerror(-fd));
		return NULL;
	}
	struct metrics *m = calloc(1, sizeof(*m));
	if (m != NULL)
		m->http = evhttp_new(base);
	if (m == NULL || m->http == NULL ||
	    evhttp_accept_socket(m->http, fd) < 0) {
		diag_error(d, cfg->path, a->line,
			   "cannot listen for metrics on %s: out of memory",
			   a->text);
		if (m != NULL && m->http != NULL)
			evhttp_free(m->http);
		free(m);
		close(fd);
		return NULL;
	}
	m->srv = srv;
	// small requests only: a scrape is one GET line and a few headers
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 0);
	evhttp_set_timeout(m->http, 10);
	evhttp_set_allowed_methods(
		m->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST |
				 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
				 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_gencb(m->http, metrics_on_request, m);
	*failed = false;
	log_info("metrics: listening on %s", a->text);
	return m;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	evhttp_free(m->http); // closes the listening socket
	free(m);
}
