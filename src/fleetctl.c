/*
 * src/fleetctl.c — `geovipctl --fleet`: a blocking HTTP/1.0 client for
 * etcd's v3 JSON gateway (one request per connection, each URL of
 * `fleet.etcd` tried in turn) writing, deleting and listing the fleet's
 * keys, PREFIX/override/REGION and PREFIX/health/REGION, checked as
 * geovipd checks them.
 */
#include "autoconf.h"
#include "fleetctl.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "diag.h"
#include "fleetkv.h"
#include "json.h"
#include "overlay.h"

enum { FC_OK = 0, FC_FAILED = 1, FC_USAGE = 2, FC_UNREACHABLE = 3 };

/* The longest answer read (a listing of every key). */
#define FC_ANSWER_MAX (8 * 1024 * 1024)
/* Tokens of a listing. */
#define FC_TOKS 65536

struct fc {
	const struct config *cfg;
	int timeout_s;
	const char *url; // the one that answered
};

/* ---- HTTP ----------------------------------------------------------- */

static int fc_wait(int fd, short events, time_t deadline)
{
	struct pollfd p = {.fd = fd, .events = events};
	int left = (int)(deadline - time(NULL));
	return left > 0 && poll(&p, 1, left * 1000) == 1 ? 0 : -1;
}

static int fc_connect(const struct config_etcd *e, time_t deadline)
{
	char port[8];
	snprintf(port, sizeof(port), "%u", e->port);
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	if (getaddrinfo(e->host, port, &hints, &res) != 0)
		return -1;
	int fd = -1;
	for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family,
			    ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		if (fd < 0)
			continue;
		int err = 0;
		socklen_t len = sizeof(err);
		if ((connect(fd, ai->ai_addr, ai->ai_addrlen) < 0 &&
		     (errno != EINPROGRESS ||
		      fc_wait(fd, POLLOUT, deadline) < 0 ||
		      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 ||
		      err != 0))) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

static int fc_send(int fd, const char *buf, size_t len, time_t deadline)
{
	for (size_t done = 0; done < len;) {
		if (fc_wait(fd, POLLOUT, deadline) < 0)
			return -1;
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno != EINTR && errno != EAGAIN)
			return -1;
		done += n > 0 ? (size_t)n : 0;
	}
	return 0;
}

// The whole answer, to EOF (HTTP/1.0: the server closes).
static char *fc_read(int fd, time_t deadline, size_t *out_len)
{
	size_t cap = 8192, len = 0;
	char *buf = malloc(cap);
	while (buf != NULL) {
		if (len + 1 == cap) {
			char *n = cap < FC_ANSWER_MAX ? realloc(buf, cap * 2)
						      : NULL;
			if (n == NULL)
				break;
			buf = n;
			cap *= 2;
		}
		if (fc_wait(fd, POLLIN, deadline) < 0)
			break;
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n < 0)
			break;
		if (n == 0) {
			buf[len] = '\0';
			*out_len = len;
			return buf;
		}
		len += (size_t)n;
	}
	free(buf);
	return NULL;
}

// One POST to one URL: the HTTP status (body in *body) or -1.
static int fc_post_one(const struct fc *c, const struct config_etcd *e,
		       const char *path, const char *json, char **body)
{
	time_t deadline = time(NULL) + c->timeout_s;
	int fd = fc_connect(e, deadline);
	if (fd < 0)
		return -1;
	char head[512];
	int hn = snprintf(head, sizeof(head),
			  "POST %s HTTP/1.0\r\nHost: %s:%u\r\nContent-Type: "
			  "application/json\r\nContent-Length: %zu\r\n\r\n",
			  path, e->host, e->port, strlen(json));
	size_t len = 0;
	char *ans = NULL;
	if (hn > 0 && (size_t)hn < sizeof(head) &&
	    fc_send(fd, head, (size_t)hn, deadline) == 0 &&
	    fc_send(fd, json, strlen(json), deadline) == 0)
		ans = fc_read(fd, deadline, &len);
	close(fd);
	int status;
	char *sep = ans != NULL ? strstr(ans, "\r\n\r\n") : NULL;
	if (sep == NULL || sscanf(ans, "HTTP/1.%*[01] %d", &status) != 1) {
		free(ans);
		return -1;
	}
	memmove(ans, sep + 4, strlen(sep + 4) + 1);
	*body = ans;
	return status;
}

// POST json to path at the first URL that answers; the body of a 200
// answer, or NULL after printing why (*unreachable set when none
// answered).
static char *fc_post(struct fc *c, const char *path, const char *json,
		     bool *unreachable)
{
	const struct config_fleet *f = &c->cfg->fleet;
	*unreachable = false;
	for (size_t i = 0; i < f->etcd_count; i++) {
		char *body = NULL;
		int status = fc_post_one(c, &f->etcd[i], path, json, &body);
		if (status < 0)
			continue;
		c->url = f->etcd[i].url;
		if (status == 200)
			return body;
		fprintf(stderr, "geovipctl: etcd %s: HTTP %d: %.300s\n",
			f->etcd[i].url, status, body);
		free(body);
		return NULL;
	}
	fprintf(stderr, "geovipctl: no etcd answered (tried");
	for (size_t i = 0; i < f->etcd_count; i++)
		fprintf(stderr, " %s", f->etcd[i].url);
	fprintf(stderr, " for %d s each)\n", c->timeout_s);
	*unreachable = true;
	return NULL;
}

/* ---- commands ------------------------------------------------------- */

// PREFIX/KIND/REGION: kind "override" or "health".
static int fc_key(const struct fc *c, const char *kind, const char *region,
		  char *key, size_t len)
{
	int n = snprintf(key, len, "%s/%s/%s", c->cfg->fleet.prefix, kind,
			 region);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

// "user@host" for `who`.
static void fc_who(char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(getuid());
	char host[256] = "?";
	if (gethostname(host, sizeof(host)) < 0)
		strcpy(host, "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(buf, len, "%s@%s", pw != NULL ? pw->pw_name : "?", host);
}

struct fc_change {
	const char *region, *to, *percent, *duration, *who;
	const char *state; /* health: down or up */
	char reason[OVERLAY_REASON_MAX + 1];
};

enum fc_kind { FC_SHED, FC_DRAIN, FC_HEALTH };

static int fc_usage(enum fc_kind k)
{
	fprintf(stderr,
		k == FC_DRAIN
			? "usage: geovipctl --fleet drain REGION [--to R] "
			  "--for DURATION --reason TEXT [--who WHO]\n"
		: k == FC_SHED
			? "usage: geovipctl --fleet shed REGION [--to R] "
			  "--percent P --for DURATION --reason TEXT [--who "
			  "WHO]\n"
			: "usage: geovipctl --fleet health REGION down|up "
			  "[--for DURATION] [--reason TEXT] [--who WHO]\n");
	return FC_USAGE;
}

// The options after REGION (and the state, for health); --reason takes
// words up to the next option.
static int fc_change_args(int argc, char **argv, enum fc_kind k,
			  struct fc_change *a)
{
	memset(a, 0, sizeof(*a));
	int first = k == FC_HEALTH ? 3 : 2;
	if (argc < first || argv[1][0] == '-' ||
	    (k == FC_HEALTH && argv[2][0] == '-'))
		return -1;
	a->region = argv[1];
	a->state = k == FC_HEALTH ? argv[2] : NULL;
	for (int i = first; i < argc; i++) {
		const char **dst =
			strcmp(argv[i], "--to") == 0 && k != FC_HEALTH ? &a->to
			: strcmp(argv[i], "--percent") == 0 && k == FC_SHED
				? &a->percent
			: strcmp(argv[i], "--for") == 0 ? &a->duration
			: strcmp(argv[i], "--who") == 0 ? &a->who
							: NULL;
		if (strcmp(argv[i], "--reason") == 0) {
			size_t used = 0;
			for (; i + 1 < argc && strncmp(argv[i + 1], "--", 2);
			     i++) {
				int n = snprintf(a->reason + used,
						 sizeof(a->reason) - used,
						 "%s%s", used ? " " : "",
						 argv[i + 1]);
				if (n < 0 ||
				    (size_t)n >= sizeof(a->reason) - used) {
					fprintf(stderr,
						"geovipctl: --reason: longer "
						"than %d bytes\n",
						OVERLAY_REASON_MAX);
					return -1;
				}
				used += (size_t)n;
			}
		} else if (dst != NULL && i + 1 < argc) {
			*dst = argv[++i];
		} else {
			fprintf(stderr, "geovipctl: unexpected '%s'\n",
				argv[i]);
			return -1;
		}
	}
	if (k == FC_HEALTH)
		return 0;
	return (k == FC_SHED && a->percent == NULL) || a->duration == NULL ||
			       a->reason[0] == '\0'
		       ? -1
		       : 0;
}

static void fc_who_set(const struct fc_change *a, struct fleetkv_value *v)
{
	if (a->who != NULL)
		snprintf(v->who, sizeof(v->who), "%s", a->who);
	else
		fc_who(v->who, sizeof(v->who));
}

// A health change checked against the config into v; -1 after printing
// why.
static int fc_health_value(const struct fc *c, const struct fc_change *a,
			   struct fleetkv_value *v)
{
	memset(v, 0, sizeof(*v));
	if (config_region_index(c->cfg, a->region) == REGION_NONE) {
		fprintf(stderr, "geovipctl: unknown region '%s' (not in %s)\n",
			a->region, c->cfg->path);
		return -1;
	}
	if (strcmp(a->state, "down") != 0 && strcmp(a->state, "up") != 0) {
		fprintf(stderr, "geovipctl: health: '%s' is not down or up\n",
			a->state);
		return -1;
	}
	long long secs =
		a->duration != NULL ? fleetkv_duration_parse(a->duration) : 0;
	if (secs < 0) {
		fprintf(stderr, "geovipctl: --for: write a whole number "
				"followed by s, m, h or d (90s, 15m, 2h, 1d), "
				"from 1s to 365d\n");
		return -1;
	}
	v->kind = FLEETKV_HEALTH;
	v->down = a->state[0] == 'd';
	snprintf(v->region, sizeof(v->region), "%s", a->region);
	snprintf(v->reason, sizeof(v->reason), "%s", a->reason);
	fc_who_set(a, v);
	if (secs > 0)
		v->expires_ms = ((int64_t)time(NULL) + secs) * 1000;
	return 0;
}

// a checked against the config into v; -1 after printing why.
static int fc_change_value(const struct fc *c, const struct fc_change *a,
			   bool drain, struct fleetkv_value *v)
{
	memset(v, 0, sizeof(*v));
	const char *bad =
		config_region_index(c->cfg, a->region) == REGION_NONE
			? a->region
		: a->to != NULL && config_region_index(c->cfg, a->to) ==
					   REGION_NONE
			? a->to
			: NULL;
	if (bad != NULL) {
		fprintf(stderr, "geovipctl: unknown region '%s' (not in %s)\n",
			bad, c->cfg->path);
		return -1;
	}
	int bp = drain ? 10000 : fleetkv_percent_parse(a->percent);
	long long secs = fleetkv_duration_parse(a->duration);
	if (bp < 0 || secs < 0) {
		fprintf(stderr,
			bp < 0 ? "geovipctl: --percent: write a number above "
				 "0 and at most 100, with up to two decimals "
				 "(e.g. 25 or 12.5)\n"
			       : "geovipctl: --for: write a whole number "
				 "followed by s, m, h or d (90s, 15m, 2h, 1d), "
				 "from 1s to 365d\n");
		return -1;
	}
	v->kind = drain ? FLEETKV_DRAIN : FLEETKV_SHED;
	snprintf(v->region, sizeof(v->region), "%s", a->region);
	// no --to: "to" left out, spread over the up regions by capacity
	snprintf(v->to, sizeof(v->to), "%s", a->to != NULL ? a->to : "");
	snprintf(v->reason, sizeof(v->reason), "%s", a->reason);
	fc_who_set(a, v);
	v->bp = (uint16_t)bp;
	v->expires_ms = ((int64_t)time(NULL) + secs) * 1000;
	return 0;
}

// The value written, read back through the daemon's own check.
static int fc_value_text(const struct fleetkv_value *v, const char *key,
			 char *buf, size_t len)
{
	struct diag *d = diag_new();
	struct fleetkv_value back;
	int n = d != NULL ? fleetkv_value_format(v, buf, len) : -1;
	if (n < 0 || fleetkv_value_parse(key, buf, (size_t)n, &back, d) < 0) {
		fprintf(stderr, "geovipctl: %s\n",
			d != NULL && diag_count(d) > 0 ? diag_message(d, 0)
						       : "the value is too "
							 "long");
		n = -1;
	}
	diag_free(d);
	return n;
}

// A transaction putting value at key only when key does not exist.
static int fc_txn_body(const char *key, const char *value, char *buf,
		       size_t len)
{
	char k[(FLEETKV_KEY_MAX + 2) / 3 * 4 + 1];
	char *v = malloc((FLEETKV_VALUE_MAX + 2) / 3 * 4 + 1);
	int n = -1;
	if (v != NULL &&
	    fleetkv_b64_encode(key, strlen(key), k, sizeof(k)) >= 0 &&
	    fleetkv_b64_encode(value, strlen(value), v,
			       (FLEETKV_VALUE_MAX + 2) / 3 * 4 + 1) >= 0)
		n = snprintf(buf, len,
			     "{\"compare\":[{\"key\":\"%s\",\"target\":"
			     "\"CREATE\",\"result\":\"EQUAL\","
			     "\"create_revision\":\"0\"}],\"success\":[{"
			     "\"request_put\":{\"key\":\"%s\",\"value\":\"%s\""
			     "}}]}",
			     k, k, v);
	free(v);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

static void fc_describe(const char *key, const struct fleetkv_value *v)
{
	char until[32];
	overlay_time_text(v->expires_ms, until, sizeof(until));
	if (v->kind == FLEETKV_HEALTH)
		printf("%s health %s %s%s%s by %s%s%s%s\n", key, v->region,
		       v->down ? "down" : "up",
		       v->expires_ms != 0 ? " until " : "",
		       v->expires_ms != 0 ? until : "", v->who,
		       v->reason[0] ? " reason \"" : "", v->reason,
		       v->reason[0] ? "\"" : "");
	else
		printf("%s %s %s to %s %u.%02u%% until %s by %s reason "
		       "\"%s\"\n",
		       key, fleetkv_kind_name(v->kind), v->region,
		       v->to[0] != '\0' ? v->to : "(up regions by capacity)",
		       v->bp / 100u, v->bp % 100u, until, v->who, v->reason);
}

static int fc_change(struct fc *c, int argc, char **argv, bool drain)
{
	struct fc_change a;
	struct fleetkv_value v;
	char key[FLEETKV_KEY_MAX + 1], value[FLEETKV_VALUE_MAX + 1];
	enum fc_kind k = drain ? FC_DRAIN : FC_SHED;
	if (fc_change_args(argc, argv, k, &a) < 0)
		return fc_usage(k);
	if (fc_change_value(c, &a, drain, &v) < 0)
		return FC_FAILED;
	if (fc_key(c, "override", a.region, key, sizeof(key)) < 0 ||
	    fc_value_text(&v, key, value, sizeof(value)) < 0)
		return FC_FAILED;
	char *body = malloc(3 * FLEETKV_VALUE_MAX);
	bool unreachable;
	char *ans = body != NULL && fc_txn_body(key, value, body,
						3 * FLEETKV_VALUE_MAX) == 0
			    ? fc_post(c, "/v3/kv/txn", body, &unreachable)
			    : NULL;
	free(body);
	if (ans == NULL)
		return unreachable ? FC_UNREACHABLE : FC_FAILED;
	int rc = strstr(ans, "\"succeeded\":true") != NULL ? FC_OK : FC_FAILED;
	free(ans);
	if (rc != FC_OK) {
		fprintf(stderr,
			"geovipctl: region '%s' already has a fleet override "
			"(%s); undo it first\n",
			a.region, key);
		return rc;
	}
	printf("wrote to etcd %s: ", c->url);
	fc_describe(key, &v);
	return FC_OK;
}

static int fc_undo(struct fc *c, int argc, char **argv)
{
	char key[FLEETKV_KEY_MAX + 1], k64[(FLEETKV_KEY_MAX + 2) / 3 * 4 + 1];
	char body[512];
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: geovipctl --fleet undo REGION\n");
		return FC_USAGE;
	}
	if (fc_key(c, "override", argv[1], key, sizeof(key)) < 0 ||
	    fleetkv_b64_encode(key, strlen(key), k64, sizeof(k64)) < 0) {
		fprintf(stderr, "geovipctl: region name too long\n");
		return FC_USAGE;
	}
	snprintf(body, sizeof(body), "{\"key\":\"%s\"}", k64);
	bool unreachable;
	char *ans = fc_post(c, "/v3/kv/deleterange", body, &unreachable);
	if (ans == NULL)
		return unreachable ? FC_UNREACHABLE : FC_FAILED;
	bool deleted = strstr(ans, "\"deleted\":\"1\"") != NULL;
	free(ans);
	if (!deleted) {
		fprintf(stderr,
			"geovipctl: no fleet override for region '%s' (%s)\n",
			argv[1], key);
		return FC_FAILED;
	}
	printf("deleted %s in etcd %s\n", key, c->url);
	return FC_OK;
}

// One key of a listing: described, or its problem.
static void fc_list_one(const struct json *j, int kv, int64_t now)
{
	char key[FLEETKV_KEY_MAX + 1], value[FLEETKV_VALUE_MAX + 1];
	size_t len;
	int rc = fleetkv_kv(j, kv, key, value, &len);
	if (rc == -1) {
		printf("(a key that is not base64 or too long)\n");
		return;
	}
	struct fleetkv_value v;
	struct diag *d = diag_new();
	if (rc == -2 || d == NULL ||
	    fleetkv_value_parse(key, value, len, &v, d) < 0) {
		printf("%s INVALID: %s\n", key,
		       rc == -2 ? "value not base64 or too long"
		       : d != NULL && diag_count(d) ? diag_message(d, 0)
						    : "out of memory");
	} else {
		if (v.expires_ms != 0 && v.expires_ms <= now)
			printf("(stale, ignored) ");
		fc_describe(key, &v);
	}
	diag_free(d);
}

static int fc_overrides(struct fc *c)
{
	char body[1024];
	bool unreachable;
	if (fleetkv_range_body(c->cfg->fleet.prefix, 0, body, sizeof(body)) < 0)
		return FC_FAILED;
	char *ans = fc_post(c, "/v3/kv/range", body, &unreachable);
	if (ans == NULL)
		return unreachable ? FC_UNREACHABLE : FC_FAILED;
	struct json_tok *toks = calloc(FC_TOKS, sizeof(*toks));
	struct json j;
	size_t pos;
	if (toks == NULL ||
	    json_parse(&j, ans, strlen(ans), toks, FC_TOKS, &pos) < 0) {
		fprintf(stderr, "geovipctl: etcd's answer is not JSON\n");
		free(toks);
		free(ans);
		return FC_FAILED;
	}
	int kvs = json_member(&j, 0, "kvs");
	size_t n = json_is(&j, kvs, JSON_ARRAY) ? j.toks[kvs].size : 0;
	int64_t now = overlay_now_ms();
	uint32_t kv = (uint32_t)kvs + 1;
	for (size_t i = 0; i < n; i++) {
		fc_list_one(&j, (int)kv, now);
		kv = j.toks[kv].next;
	}
	printf("%zu key(s) under %s/ in etcd %s\n", n, c->cfg->fleet.prefix,
	       c->url);
	free(toks);
	free(ans);
	return FC_OK;
}

// A put of value at key: every put is a new revision, one report.
static int fc_put_body(const char *key, const char *value, char *buf,
		       size_t len)
{
	char k[(FLEETKV_KEY_MAX + 2) / 3 * 4 + 1];
	char *v = malloc((FLEETKV_VALUE_MAX + 2) / 3 * 4 + 1);
	int n = -1;
	if (v != NULL &&
	    fleetkv_b64_encode(key, strlen(key), k, sizeof(k)) >= 0 &&
	    fleetkv_b64_encode(value, strlen(value), v,
			       (FLEETKV_VALUE_MAX + 2) / 3 * 4 + 1) >= 0)
		n = snprintf(buf, len, "{\"key\":\"%s\",\"value\":\"%s\"}", k,
			     v);
	free(v);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}

// `--fleet health REGION down|up`: a put of PREFIX/health/REGION; each
// one is a report to every server (hysteresis counts them).
static int fc_health(struct fc *c, int argc, char **argv)
{
	struct fc_change a;
	struct fleetkv_value v;
	char key[FLEETKV_KEY_MAX + 1], value[FLEETKV_VALUE_MAX + 1];
	if (fc_change_args(argc, argv, FC_HEALTH, &a) < 0)
		return fc_usage(FC_HEALTH);
	if (fc_health_value(c, &a, &v) < 0)
		return FC_FAILED;
	if (fc_key(c, "health", a.region, key, sizeof(key)) < 0 ||
	    fc_value_text(&v, key, value, sizeof(value)) < 0)
		return FC_FAILED;
	char *body = malloc(3 * FLEETKV_VALUE_MAX);
	bool unreachable;
	char *ans = body != NULL && fc_put_body(key, value, body,
						3 * FLEETKV_VALUE_MAX) == 0
			    ? fc_post(c, "/v3/kv/put", body, &unreachable)
			    : NULL;
	free(body);
	if (ans == NULL)
		return unreachable ? FC_UNREACHABLE : FC_FAILED;
	long long rev = -1;
	const char *r = strstr(ans, "\"revision\":\"");
	if (r != NULL)
		rev = strtoll(r + 12, NULL, 10);
	free(ans);
	printf("wrote to etcd %s at revision %lld: ", c->url, rev);
	fc_describe(key, &v);
	return FC_OK;
}

static int fc_run(struct fc *c, int argc, char **argv)
{
	const char *cmd = argv[0];
	if (strcmp(cmd, "shed") == 0 || strcmp(cmd, "drain") == 0)
		return fc_change(c, argc, argv, cmd[0] == 'd');
	if (strcmp(cmd, "health") == 0)
		return fc_health(c, argc, argv);
	if (strcmp(cmd, "undo") == 0)
		return fc_undo(c, argc, argv);
	if (strcmp(cmd, "overrides") == 0 && argc == 1)
		return fc_overrides(c);
	fprintf(stderr, "geovipctl: --fleet commands: shed, drain, health, "
			"undo, overrides\n");
	return FC_USAGE;
}

int fleetctl_main(const char *config, int timeout_s, int argc, char **argv)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipctl: out of memory\n");
		return FC_FAILED;
	}
	struct config *cfg = config_load(config, d);
	int rc = FC_USAGE;
	if (cfg == NULL) {
		for (size_t i = 0; i < diag_count(d); i++)
			if (diag_is_error(d, i))
				fprintf(stderr, "geovipctl: %s\n",
					diag_message(d, i));
	} else if (cfg->fleet.line == 0) {
		fprintf(stderr,
			"geovipctl: %s has no `fleet:` key (fleet: {etcd: "
			"[http://HOST:2379], prefix: /geovip/PROD})\n",
			config);
	} else {
		struct fc c = {.cfg = cfg, .timeout_s = timeout_s};
		rc = fc_run(&c, argc, argv);
	}
	config_free(cfg);
	diag_free(d);
	return rc;
}
