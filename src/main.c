/*
 * src/main.c — geovipd: command-line flags, the start-up order, and the
 * main thread's loop: signals (SIGHUP reloads, see reload.c; SIGUSR1
 * logs the counters; SIGTERM/SIGINT stop; SIGUSR2 is ignored).
 * No DNS logic lives here.
 */
#include "autoconf.h"

#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "control.h"
#include "fleet.h"
#include "diag.h"
#include "dnstap.h"
#include "dname.h"
#include "dnssec.h"
#include "log.h"
#include "metrics.h"
#include "lookup.h"
#include "overlay.h"
#include "notify.h"
#include "pidfile.h"
#include "privs.h"
#include "reload.h"
#include "server.h"
#include "snapshot.h"
#include "xfr.h"
#include "zone.h"

struct options {
	const char *config;
	const char *lookup;
	const char *name;        /* --name: one service or regional name */
	const char *dump_signed; /* a zone's origin */
	bool check;
	unsigned verbose; /* -v count: levels above log_level */
};

/* Without -c: the configure-time default (Makefile.am defines SYSCONFDIR). */
#define MAIN_CONFIG_DEFAULT SYSCONFDIR "/geovip/geovip.yaml"

/* The running daemon, for the main loop's callbacks. */
struct daemon {
	struct server *srv;
	struct reload *reload;
	struct xfr *xfr;         // secondary zones
	struct control *control; // control socket, runtime overrides
	struct metrics *metrics; // the /metrics listener, or NULL
	struct dnstap *dnstap;   // the dnstap writer, or NULL
	struct fleet *fleet;     // `fleet:` overrides from etcd, or NULL
	struct event_base *base; // the main thread's loop
	struct event *signals[4];
	char *pidfile; // written at start-up, removed at exit
};

enum {
	OPT_CHECK = 256,
	OPT_HELP,
	OPT_VERSION,
	OPT_LOOKUP,
	OPT_NAME,
	OPT_DUMP_SIGNED
};

static void main_usage(FILE *out)
{
	fprintf(out,
		"usage: geovipd [-c FILE] [-v]...  serve in the foreground\n"
		"       geovipd [-c FILE] --check  check config, zones and geo "
		"database\n"
		"       geovipd [-c FILE] --lookup ADDR[/PREFIX] [--name "
		"NAME]\n"
		"                                  show the region chosen for "
		"a client,\n"
		"                                  and each service's answer "
		"(or NAME's:\n"
		"                                  a service or a regional "
		"name)\n"
		"       geovipd [-c FILE] --dump-signed ZONE\n"
		"                                  print the zone as signed "
		"(default region)\n"
		"       geovipd --help | --version\n"
		"\n"
		"  -c, --config FILE   the YAML configuration (default\n"
		"                      " MAIN_CONFIG_DEFAULT ")\n"
		"  -v, --verbose       log one level more (repeat: up to "
		"debug)\n"
		"Signals: SIGHUP reloads config, zones and geo database; "
		"SIGTERM and\n"
		"SIGINT stop gracefully.\n");
}

/* 0: go on; 1: done, exit 0 (help, version); -1: usage error. */
static int main_parse(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"check", no_argument, NULL, OPT_CHECK},
		{"lookup", required_argument, NULL, OPT_LOOKUP},
		{"name", required_argument, NULL, OPT_NAME},
		{"dump-signed", required_argument, NULL, OPT_DUMP_SIGNED},
		{"help", no_argument, NULL, OPT_HELP},
		{"version", no_argument, NULL, OPT_VERSION},
		{NULL, 0, NULL, 0},
	};
	int ch;
	while ((ch = getopt_long(argc, argv, "c:vhV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			o->config = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case OPT_CHECK:
			o->check = true;
			break;
		case OPT_LOOKUP:
			o->lookup = optarg;
			break;
		case OPT_NAME:
			o->name = optarg;
			break;
		case OPT_DUMP_SIGNED:
			o->dump_signed = optarg;
			break;
		case 'h':
		case OPT_HELP:
			main_usage(stdout);
			return 1;
		case 'V':
		case OPT_VERSION:
			printf("geovipd %s\n", PACKAGE_VERSION);
			return 1;
		default:
			main_usage(stderr);
			return -1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "geovipd: unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (o->name != NULL && o->lookup == NULL) {
		fprintf(stderr, "geovipd: --name goes with --lookup\n");
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
			fprintf(stderr, "%s%s\n",
				!journal              ? ""
				: diag_is_error(d, i) ? "<3>"
						      : "<4>",
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
		fprintf(stderr, "%s%s%s\n", main_err_prefix(), prefix,
			diag_message(d, i));
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
	xfr_print_check(s, stdout);
	printf("config OK\n");
	snapshot_unref(s);
	return 0;
}

static int main_lookup(const struct options *o)
{
	struct snapshot *s = main_load(o->config, false);
	if (s == NULL)
		return 1;
	// the runtime overrides and health a running daemon would apply
	char buf[4096];
	const char *state = control_state_path(s->config, buf, sizeof(buf));
	struct overlay *ov = state != NULL ? overlay_read(state) : NULL;
	if (ov != NULL)
		s = overlay_apply(ov, s);
	overlay_free(ov);
	int rc = lookup_print_name(s, o->lookup, o->name, stdout, stderr);
	snapshot_unref(s);
	return rc == 0 ? 0 : 1;
}

/* The signed zone named on the command line, as the default region's
 * clients get it, in master-file format on stdout. */
static int main_dump_signed(const struct options *o)
{
	uint8_t origin[DNAME_MAX];
	if (dname_from_text(origin, o->dump_signed, (const uint8_t *)"") == 0) {
		fprintf(stderr, "geovipd: --dump-signed: '%s' is not a name\n",
			o->dump_signed);
		return 1;
	}
	struct snapshot *s = main_load(o->config, false);
	if (s == NULL)
		return 1;
	const struct zone *z = zone_set_find(s->zones, origin);
	int rc = 1;
	if (z == NULL || !dname_equal(z->origin, origin))
		fprintf(stderr, "geovipd: --dump-signed: no zone %s in %s\n",
			o->dump_signed, o->config);
	else if (dnssec_set_zone(s->dnssec, z) == NULL)
		fprintf(stderr,
			"geovipd: --dump-signed: zone %s has no dnssec: keys\n",
			o->dump_signed);
	else if (dnssec_dump_zone(s->dnssec, s->config, z,
				  s->config->default_region, stdout) < 0 ||
		 fflush(stdout) != 0)
		fprintf(stderr, "geovipd: --dump-signed: cannot write %s\n",
			o->dump_signed);
	else
		rc = 0;
	snapshot_unref(s);
	return rc;
}

/* ---- serving ------------------------------------------------------- */

// Start-up problems (binding, privileges): one line each on stderr.
static void main_print_diag(const struct diag *d)
{
	for (size_t i = 0; i < diag_count(d); i++)
		fprintf(stderr, "%sgeovipd: %s\n", main_err_prefix(),
			diag_message(d, i));
}

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

static void main_on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *dm = arg;
	switch (sig) {
	case SIGHUP:
		reload_request(dm->reload);
		return;
	case SIGUSR1:
		server_log_counters(dm->srv);
		xfr_log_status(dm->xfr);
		return;
	default:
		log_info("%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		notify_send("STOPPING=1\nSTATUS=stopping");
		reload_abandon(dm->reload);
		event_base_loopbreak(dm->base);
	}
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

/*
 * The main loop and its signal events, made before anything is loaded:
 * a signal that arrives during start-up is caught (and acted on once the
 * loop runs) instead of killing the daemon.
 */
static int main_signals_install(struct daemon *dm)
{
	static const int sigs[] = {SIGHUP, SIGTERM, SIGINT, SIGUSR1};
	// Before any event_base: the loader and workers wake this loop.
	if (evthread_use_pthreads() < 0)
		return -1;
	dm->base = event_base_new();
	if (dm->base == NULL)
		return -1;
	for (size_t i = 0; i < 4; i++) {
		dm->signals[i] =
			evsignal_new(dm->base, sigs[i], main_on_signal, dm);
		if (dm->signals[i] == NULL || event_add(dm->signals[i], NULL))
			return -1;
	}
	return 0;
}

static void main_signals_free(struct daemon *dm)
{
	for (size_t i = 0; i < 4; i++)
		if (dm->signals[i] != NULL)
			event_free(dm->signals[i]);
	if (dm->base != NULL)
		event_base_free(dm->base);
}

/*
 * After binding (port 53 needs root or CAP_NET_BIND_SERVICE) and before
 * the workers start, so no network input is parsed as root, and so the
 * process is still single-threaded (see privs_drop).
 */
static int main_drop_privileges(const struct config *cfg)
{
	if (cfg->user == NULL) {
		if (privs_is_root())
			log_warning("running as root: set `user:` to drop "
				    "privileges");
		return 0;
	}
	struct diag *d = diag_new();
	if (d == NULL ||
	    privs_drop(cfg->user, cfg->path, cfg->user_line, d) < 0) {
		if (d != NULL)
			main_print_diag(d);
		else
			fprintf(stderr, "geovipd: out of memory\n");
		diag_free(d);
		return -1;
	}
	diag_free(d);
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

// Sockets for cfg; NULL after printing why.
static struct server *main_bind(const struct config *cfg,
				struct event_base *base)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return NULL;
	}
	struct server *srv = server_new(cfg, base, d);
	main_print_diag(d);
	diag_free(d);
	return srv;
}

static void main_on_publish(void *arg, const struct snapshot *s)
{
	xfr_update(arg, s);
}

// Transfers trigger reloads; each publication updates the transfers.
static void main_xfr_hook(struct daemon *dm)
{
	reload_set_on_publish(dm->reload, main_on_publish, dm->xfr);
	server_set_notify_fd(dm->srv, xfr_notify_fd(dm->xfr));
}

// The control socket and the runtime overrides; -1 after printing why.
static int main_control(struct daemon *dm, const struct config *cfg)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return -1;
	}
	dm->control = control_new(cfg, dm->srv, dm->reload, dm->base, d);
	// the first connection to etcd is made from the loop
	if (dm->control != NULL && cfg->fleet.line != 0)
		dm->fleet = fleet_new(cfg, control_overlay(dm->control),
				      dm->base, d);
	if (dm->fleet != NULL)
		control_set_fleet(dm->control, dm->fleet);
	main_print_diag(d);
	diag_free(d);
	return dm->control != NULL &&
			       (cfg->fleet.line == 0 || dm->fleet != NULL)
		       ? 0
		       : -1;
}

// The `metrics:` listener, bound before privileges are dropped, and the
// dnstap writer; -1 after printing why.
static int main_metrics_open(struct daemon *dm, const struct config *cfg)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return -1;
	}
	bool failed, dt_failed;
	dm->metrics = metrics_open(cfg, dm->base, dm->srv, d, &failed);
	if (!failed) {
		dm->dnstap = dnstap_open(cfg, server_workers(dm->srv), d,
					 &dt_failed);
		failed = dt_failed;
		server_attach_dnstap(dm->srv, dm->dnstap);
	}
	main_print_diag(d);
	diag_free(d);
	return failed ? -1 : 0;
}

/*
 * Sockets, metrics, reloads, transfers, the pidfile, then the privilege
 * drop: everything the daemon opens before its control socket. -1 after
 * printing why.
 */
static int main_open(struct daemon *dm, const struct options *o,
		     const struct config *cfg, double load_seconds)
{
	main_raise_fd_limit();
	dm->srv = main_bind(cfg, dm->base);
	if (dm->srv == NULL || main_metrics_open(dm, cfg) < 0)
		return -1;
	server_note_load(dm->srv, load_seconds);
	dm->reload = reload_new(o->config, dm->srv, dm->base, cfg, o->verbose);
	if (dm->reload != NULL)
		dm->xfr = xfr_new(dm->base, dm->reload);
	if (dm->reload == NULL || dm->xfr == NULL) {
		fprintf(stderr, "geovipd: out of memory\n");
		return -1;
	}
	main_xfr_hook(dm);
	if (notify_open() < 0 || main_pidfile_write(dm, cfg) < 0 ||
	    main_drop_privileges(cfg) < 0)
		return -1;
	return 0;
}

// Everything main_open and main_control made, in the order that lets
// each part finish with the ones it uses.
static void main_close(struct daemon *dm)
{
	metrics_free(dm->metrics);
	xfr_free(dm->xfr);       // abandons transfers under way
	reload_free(dm->reload); // abandons a load under way
	fleet_free(dm->fleet);
	control_free(dm->control);
	server_free(dm->srv);    // stops the workers first
	dnstap_free(dm->dnstap); // after the workers: flushes their frames
	main_signals_free(dm);
	pidfile_remove(dm->pidfile);
	notify_close();
	free(dm->pidfile);
}

static double main_seconds_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	       (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static int main_serve(const struct options *o)
{
	struct daemon dm = {0};
	int rc = 1;
	if (main_signals_install(&dm) < 0) {
		fprintf(stderr, "geovipd: cannot set up signal handling\n");
		goto out;
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct snapshot *snap = main_load(o->config, true);
	if (snap == NULL)
		goto out;
	double load_seconds = main_seconds_since(&t0);
	const struct config *cfg = snap->config;
	reload_apply_log(cfg, o->verbose);
	// After dropping privileges (main_open): the control socket and
	// state file belong to the service user.
	if (main_check_system(cfg, "geovipd: ") < 0 ||
	    main_open(&dm, o, cfg, load_seconds) < 0 ||
	    main_control(&dm, cfg) < 0) {
		snapshot_unref(snap);
		goto out;
	}
	control_set_xfr(dm.control, dm.xfr);
	snap = control_prepare(dm.control, snap);
	cfg = snap->config;
	reload_log_counts("loaded", snap);
	reload_watch_signatures(dm.reload, snap);
	if (!cfg->cookie_secret_set)
		log_warning("%s: no cookie_secret: DNS server cookies use a "
			    "random secret made at start-up, valid at this "
			    "server only; servers of an anycast fleet should "
			    "share one (cookie_secret: 32 hex digits)",
			    cfg->path);
	// The server owns snap from here on, started or not.
	if (server_start(dm.srv, snap) < 0)
		goto out;
	xfr_update(dm.xfr, snap);
	main_ready(cfg, server_workers(dm.srv));
	reload_notify_ready(snap);
	if (event_base_dispatch(dm.base) < 0)
		log_error("cannot run the main loop");
	else
		rc = 0;
out:
	main_close(&dm);
	if (rc == 0)
		log_info("stopped");
	return rc;
}

int main(int argc, char **argv)
{
	struct options o = {0};
	int rc = main_parse(argc, argv, &o);
	if (rc != 0)
		return rc > 0 ? 0 : 2;
	log_set_target(LOG_TARGET_STDERR); // <N> prefixes under journald
	log_set_level(o.verbose >= 2
			      ? LOG_LEVEL_DEBUG
			      : (enum log_level)(LOG_LEVEL_INFO + o.verbose));
	signal(SIGPIPE, SIG_IGN);
	// One malloc arena for every thread: only the loader thread allocates
	// much, and a thread whose own arena cannot be reserved (64 MB of
	// address space, refused under a memory limit) falls back to one mmap
	// per allocation, turning a reload that should fail in a second into
	// minutes of system calls.
	mallopt(M_ARENA_MAX, 1);
	// SIGUSR2 is reserved: it must not stop the daemon.
	signal(SIGUSR2, SIG_IGN);

	if (o.check)
		rc = main_check(&o);
	else if (o.lookup != NULL)
		rc = main_lookup(&o);
	else if (o.dump_signed != NULL)
		rc = main_dump_signed(&o);
	else
		rc = main_serve(&o);
	libevent_global_shutdown();
	return rc;
}
