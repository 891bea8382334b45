/*
 * src/main.c — geovipd: command-line flags, the start-up order, and the
 * main thread's signal loop (SIGHUP reloads, SIGTERM/SIGINT stop).
 * No DNS logic lives here.
 */
#include "autoconf.h"

#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "config.h"
#include "diag.h"
#include "dnssec.h"
#include "geo.h"
#include "listen.h"
#include "log.h"
#include "lookup.h"
#include "notify.h"
#include "pidfile.h"
#include "privs.h"
#include "snapshot.h"
#include "zone.h"

struct options {
	const char *config;
	const char *lookup;
	bool check;
	unsigned verbose;               /* -v count: levels above log_level */
};

/* Without -c: the configure-time default (Makefile.am defines SYSCONFDIR). */
#define MAIN_CONFIG_DEFAULT SYSCONFDIR "/geovip/geovip.yaml"

/* What the server was started with: reloads cannot change it. */
struct daemon {
	const char *config_path;
	struct server *srv;
	struct snapshot *current;       // our own reference
	struct config_listen *listen;
	size_t listen_count;
	unsigned workers;
	char *user;                     // `user:` at start-up, or NULL
	char *pidfile;                  // written at start-up, removed at exit
	unsigned verbose;
	struct event_base *base;
	struct event *reload_ev;
};

enum { OPT_CHECK = 256, OPT_HELP, OPT_VERSION, OPT_LOOKUP };

static void main_usage(FILE *out)
{
	fprintf(out,
		"usage: geovipd [-c FILE] [-v]...  serve in the foreground\n"
		"       geovipd [-c FILE] --check  check config, zones and geo database\n"
		"       geovipd [-c FILE] --lookup ADDR[/PREFIX]\n"
		"                                  show the region chosen for a client\n"
		"       geovipd --help | --version\n"
		"\n"
		"  -c, --config FILE   the YAML configuration (default\n"
		"                      " MAIN_CONFIG_DEFAULT ")\n"
		"  -v, --verbose       log one level more (repeat: up to debug)\n"
		"Signals: SIGHUP reloads config, zones and geo database; SIGTERM and\n"
		"SIGINT stop gracefully.\n");
}

/* 0: go on; 1: done, exit 0 (help, version); -1: usage error. */
static int main_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "check", no_argument, NULL, OPT_CHECK },
		{ "lookup", required_argument, NULL, OPT_LOOKUP },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ NULL, 0, NULL, 0 },
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->config = optarg; break;
		case 'v': o->verbose++; break;
		case OPT_CHECK: o->check = true; break;
		case OPT_LOOKUP: o->lookup = optarg; break;
		case 'h': case OPT_HELP: main_usage(stdout); return 1;
		case 'V': case OPT_VERSION:
			printf("geovipd %s\n", PACKAGE_VERSION);
			return 1;
		default: main_usage(stderr); return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "geovipd: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (o->config == NULL)
		o->config = MAIN_CONFIG_DEFAULT;
	return 0;
}

// Start-up errors printed before or beside the log: "<3>" under journald.
static const char *main_err_prefix(void)
{
	return log_get_target() == LOG_TARGET_JOURNAL ? "<3>" : "";
}

/*
 * Loads the snapshot for path. Every message goes to stderr as
 * "FILE:LINE: message" (warnings only when show_warnings).
 */
static struct snapshot *main_load(const char *path, bool show_warnings)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return NULL;
	}
	struct snapshot *s = snapshot_load(path, d);
	bool journal = log_get_target() == LOG_TARGET_JOURNAL;
	for (size_t i = 0; i < diag_count(d); i++)
		if (diag_is_error(d, i) || show_warnings || s == NULL)
			fprintf(stderr, "%s%s\n", !journal ? ""
				: diag_is_error(d, i) ? "<3>" : "<4>",
				diag_message(d, i));
	if (s == NULL && diag_errors(d) == 0)
		fprintf(stderr, "%s%s: cannot load configuration\n",
			main_err_prefix(), path);
	diag_free(d);
	return s;
}

/*
 * The checks against this machine (the `user:` account) that --check and
 * start-up make and a reload does not; messages to stderr after prefix.
 */
static int main_check_system(const struct config *cfg, const char *prefix)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return -1;
	}
	int rc = config_check_system(cfg, d);
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%s%s\n", prefix, diag_message(d, i));
	diag_free(d);
	return rc;
}

static int main_check(const struct options *o)
{
	struct snapshot *s = main_load(o->config, true);
	if (s == NULL)
		return 1;
	if (main_check_system(s->config, "") < 0) {
		snapshot_unref(s);
		return 1;
	}
	printf("config OK\n");
	snapshot_unref(s);
	return 0;
}

static int main_lookup(const struct options *o)
{
	struct snapshot *s = main_load(o->config, false);
	if (s == NULL)
		return 1;
	int rc = lookup_print(s, o->lookup, stdout, stderr);
	snapshot_unref(s);
	return rc == 0 ? 0 : 1;
}

/* ---- serving ------------------------------------------------------- */

// "127.0.0.1:5353 [::1]:5353" into buf.
static void main_listen_text(const struct config *cfg, char *buf, size_t len)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < cfg->listen_count && used < len; i++) {
		int n = snprintf(buf + used, len - used, "%s%s", i ? " " : "",
				 cfg->listen[i].text);
		if (n < 0)
			break;
		used += (size_t)n;
	}
}

static void main_log_counts(const char *what, const struct snapshot *s)
{
	log_info("%s generation %" PRIu64 ": %zu zones, %zu records, "
		 "%zu regions, geo %s (%zu records)", what, s->generation,
		 zone_set_zone_count(s->zones), zone_set_record_count(s->zones),
		 s->config->region_count, geo_database_type(s->geo),
		 geo_record_count(s->geo));
	// signatures are not refreshed in the background yet: say when
	// they run out, so that a reload comes first
	uint32_t left = dnssec_set_expiry(s->dnssec);
	if (left > 0)
		log_info("dnssec: signatures made now expire in %" PRIu32 " s "
			 "(%.1f days); reload before each zone's refresh",
			 left, left / 86400.0);
}

static bool main_same_addr(const struct config_listen *a,
			   const struct config_listen *b)
{
	if (a->addr.ss_family != b->addr.ss_family)
		return false;
	if (a->addr.ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)&a->addr;
		const struct sockaddr_in *y = (const void *)&b->addr;
		return x->sin_port == y->sin_port &&
		       x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)&a->addr;
	const struct sockaddr_in6 *y = (const void *)&b->addr;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

// Sockets and threads are made once: say so when a reload asks otherwise.
static void main_warn_restart(const struct daemon *dm, const struct config *cfg)
{
	bool same = cfg->listen_count == dm->listen_count;
	for (size_t i = 0; same && i < cfg->listen_count; i++)
		same = main_same_addr(&cfg->listen[i], &dm->listen[i]);
	if (!same)
		log_warning("%s: listen addresses changed; they take effect "
			    "after a restart", cfg->path);
	if (cfg->workers != dm->workers)
		log_warning("%s: workers changed; it takes effect after a "
			    "restart", cfg->path);
	bool same_user = cfg->user == NULL || dm->user == NULL
		? cfg->user == dm->user : strcmp(cfg->user, dm->user) == 0;
	if (!same_user)
		log_warning("%s:%u: user changed; it takes effect after a "
			    "restart", cfg->path, cfg->user_line);
	bool same_pidfile = cfg->pidfile == NULL || dm->pidfile == NULL
		? cfg->pidfile == dm->pidfile
		: strcmp(cfg->pidfile, dm->pidfile) == 0;
	if (!same_pidfile)
		log_warning("%s:%u: pidfile changed; it takes effect after a "
			    "restart", cfg->path, cfg->pidfile_line);
}

/* ---- operations hooks (h-ops): log settings, notify, pidfile ---- */

// `log:` and `log_level:` from cfg, raised by one level per -v.
static void main_apply_log(const struct config *cfg, unsigned verbose)
{
	unsigned level = (unsigned)cfg->log_level + verbose;
	log_set_level(level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG
					     : (enum log_level)level);
	log_set_target((enum log_target)cfg->log_target);
}

static void main_notify_ready(const struct snapshot *s)
{
	notify_send("READY=1\nSTATUS=serving generation %" PRIu64 ": %zu "
		    "zones, %zu records", s->generation,
		    zone_set_zone_count(s->zones),
		    zone_set_record_count(s->zones));
}

// The pid file is written as the starting user (before dropping).
static int main_pidfile_write(struct daemon *dm, const struct config *cfg)
{
	struct diag *d = diag_new();
	int rc = d == NULL ? -1 : pidfile_write(cfg, d);
	for (size_t i = 0; d != NULL && i < diag_count(d); i++)
		log_error("%s", diag_message(d, i));
	diag_free(d);
	if (rc == 0 && cfg->pidfile != NULL &&
	    (dm->pidfile = strdup(cfg->pidfile)) == NULL)
		rc = -1;
	return rc;
}
/* ---- end of the operations hooks ---- */

static void main_reload(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *dm = arg;
	notify_reloading();
	struct diag *d = diag_new();
	struct snapshot *s = d ? snapshot_load(dm->config_path, d) : NULL;
	for (size_t i = 0; d != NULL && i < diag_count(d); i++)
		log_msg(diag_is_error(d, i) ? LOG_LEVEL_ERROR
					    : LOG_LEVEL_WARNING, "%s",
			diag_message(d, i));
	diag_free(d);
	if (s == NULL) {
		log_error("reload failed, keeping generation %" PRIu64,
			  dm->current->generation);
		main_notify_ready(dm->current);
		return;
	}
	main_apply_log(s->config, dm->verbose);
	server_publish(dm->srv, s);
	snapshot_unref(dm->current);
	dm->current = s;
	main_log_counts("reloaded", s);
	main_warn_restart(dm, s->config);
	main_notify_ready(s);
}

static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	if (sig == SIGHUP) {
		// Activating an active event is a no-op: SIGHUPs that arrive
		// while a reload runs become one more reload.
		event_active(dm->reload_ev, EV_TIMEOUT, 0);
		return;
	}
	log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
	notify_send("STOPPING=1\nSTATUS=stopping");
	event_base_loopbreak(dm->base);
}

// Room for tcp_max_connections: lift the soft descriptor limit.
static void main_raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int main_signal_loop(struct daemon *dm)
{
	static const int sigs[] = { SIGHUP, SIGTERM, SIGINT };
	struct event *ev[3] = { NULL, NULL, NULL };
	int rc = -1;
	dm->base = event_base_new();
	if (dm->base == NULL)
		goto out;
	dm->reload_ev = event_new(dm->base, -1, 0, main_reload, dm);
	if (dm->reload_ev == NULL)
		goto out;
	for (size_t i = 0; i < 3; i++) {
		ev[i] = evsignal_new(dm->base, sigs[i], main_on_signal, dm);
		if (ev[i] == NULL || event_add(ev[i], NULL) < 0)
			goto out;
	}
	rc = event_base_dispatch(dm->base) < 0 ? -1 : 0;
out:
	if (rc < 0)
		log_error("cannot run the signal loop");
	for (size_t i = 0; i < 3; i++)
		if (ev[i] != NULL)
			event_free(ev[i]);
	if (dm->reload_ev != NULL)
		event_free(dm->reload_ev);
	if (dm->base != NULL)
		event_base_free(dm->base);
	return rc;
}

/*
 * After binding (port 53 needs root or CAP_NET_BIND_SERVICE) and before
 * the workers start, so no network input is parsed as root, and so the
 * process is still single-threaded (see privs_drop).
 */
static int main_drop_privileges(const struct config *cfg)
{
	char err[512];
	if (cfg->user == NULL) {
		if (privs_is_root())
			log_warning("running as root: set `user:` to drop "
				    "privileges");
		return 0;
	}
	if (privs_drop(cfg->user, err, sizeof(err)) < 0) {
		fprintf(stderr, "%sgeovipd: %s:%u: %s\n", main_err_prefix(),
			cfg->path, cfg->user_line, err);
		return -1;
	}
	log_info("running as user %s (uid %lu, gid %lu)", cfg->user,
		 (unsigned long)getuid(), (unsigned long)getgid());
	return 0;
}

static void main_ready(const struct config *cfg, unsigned workers)
{
	char addrs[1024], line[1200];
	main_listen_text(cfg, addrs, sizeof(addrs));
	log_info("geovipd %s starting: listen %s, %u workers", PACKAGE_VERSION,
		 addrs, workers);
	// One write, so tests waiting for it never see half a line.
	int n = snprintf(line, sizeof(line), "geovipd: serving on %s\n", addrs);
	if (n > 0) {
		ssize_t w = write(STDERR_FILENO, line, strlen(line));
		(void)w;
	}
}

static int main_serve(const struct options *o)
{
	struct daemon dm = { .config_path = o->config, .verbose = o->verbose };
	int rc = 1;
	dm.current = main_load(o->config, true);
	if (dm.current == NULL)
		return 1;
	const struct config *cfg = dm.current->config;
	main_apply_log(cfg, o->verbose);
	char err[512];
	if (main_check_system(cfg, "geovipd: ") < 0)
		goto out;
	main_raise_fd_limit();
	dm.srv = server_new(cfg, err, sizeof(err));
	if (dm.srv == NULL) {
		fprintf(stderr, "%sgeovipd: %s\n", main_err_prefix(), err);
		goto out;
	}
	dm.listen_count = cfg->listen_count;
	dm.listen = calloc(cfg->listen_count + 1, sizeof(*dm.listen));
	if (dm.listen == NULL)
		goto out;
	memcpy(dm.listen, cfg->listen, cfg->listen_count * sizeof(*dm.listen));
	dm.workers = cfg->workers;
	if (cfg->user != NULL && (dm.user = strdup(cfg->user)) == NULL)
		goto out;
	if (notify_open() < 0 || main_pidfile_write(&dm, cfg) < 0)
		goto out;
	if (main_drop_privileges(cfg) < 0)
		goto out;

	main_log_counts("loaded", dm.current);
	if (server_start(dm.srv, dm.current) < 0)
		goto out;
	main_ready(cfg, server_workers(dm.srv));
	main_notify_ready(dm.current);
	if (main_signal_loop(&dm) == 0)
		rc = 0;
out:
	server_free(dm.srv); // stops the workers first
	pidfile_remove(dm.pidfile);
	notify_close();
	free(dm.pidfile);
	free(dm.listen);
	free(dm.user);
	snapshot_unref(dm.current);
	if (rc == 0)
		log_info("stopped");
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = { 0 };
	int rc = main_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_set_target(LOG_TARGET_STDERR); // <N> prefixes under journald
	log_set_level(o.verbose >= 2 ? LOG_LEVEL_DEBUG
		      : (enum log_level)(LOG_LEVEL_INFO + o.verbose));
	signal(SIGPIPE, SIG_IGN);

	if (o.check)
		rc = main_check(&o);
	else if (o.lookup != NULL)
		rc = main_lookup(&o);
	else
		rc = main_serve(&o);
	libevent_global_shutdown();
	return rc;
}
