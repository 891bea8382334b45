/*
 * src/geovipctl.c — geovipctl: sends one command to a running geovipd's
 * control socket (found from the config's `control:` or given with -s)
 * and prints the answer; the exit status says whether it succeeded.
 */
#include "autoconf.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control.h"
#include "diag.h"
#include "fleetctl.h"
#include "dryrun.h"
#include "file.h"

#define CTL_CONFIG_DEFAULT SYSCONFDIR "/geovip/geovip.yaml"
/* The longest answer read: a status of many regions and overrides. */
#define CTL_ANSWER_MAX (4 * 1024 * 1024)
/* The largest `--clients` file read. */
#define CTL_CLIENTS_FILE_MAX (64 * 1024 * 1024)

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

static void ctl_usage(FILE *out)
{
	fprintf(out,
		"usage: geovipctl [-c FILE | -s SOCKET] [-t SECONDS] COMMAND "
		"[ARG]...\n"
		"commands:\n"
		"  status                      generation, files, regions, "
		"overrides\n"
		"  reload                      reload and wait for the result\n"
		"  shed REGION [--to R] --percent P --for DURATION --reason "
		"TEXT\n"
		"  drain REGION [--to R] --for DURATION --reason TEXT\n"
		"                              (no --to: spread by capacity)\n"
		"  health REGION down|up [--reason TEXT]\n"
		"  undo ID                     remove a runtime override\n"
		"  --dry-run [--clients FILE]  after shed, drain, health, "
		"undo:\n"
		"                              what would move; nothing "
		"changes\n"
		"  overrides                   list the runtime overrides\n"
		"  lookup ADDR[/PREFIX] [--name NAME]\n"
		"                              explain the live decision (per "
		"service,\n"
		"                              or for one service or regional "
		"name)\n"
		"  zones                       secondary zones: serial, "
		"transfers, expiry\n"
		"durations: 90s, 15m, 2h, 1d\n"
		"  -c, --config FILE   the daemon's config, for its "
		"`control:`\n"
		"                      (default " CTL_CONFIG_DEFAULT ")\n"
		"  -s, --socket PATH   the control socket itself\n"
		"  -t, --timeout SECS  wait at most this long for the answer "
		"(60)\n"
		"  --fleet health REGION down|up [--for DURATION] [--reason "
		"TEXT]\n"
		"  --fleet             shed, drain, health, undo REGION, "
		"overrides:\n"
		"                      in etcd (the config's `fleet:`), for "
		"every server;\n"
		"                      with --dry-run: computed by the local "
		"geovipd,\n"
		"                      nothing written\n");
}

// The socket path from the config's `control:`; NULL after printing why.
static char *ctl_socket_from_config(const char *path)
{
	struct diag *d = diag_new();
	if (d == NULL) {
		fprintf(stderr, "geovipctl: out of memory\n");
		return NULL;
	}
	struct config *cfg = config_load(path, d);
	char *sock = NULL;
	if (cfg == NULL) {
		for (size_t i = 0; i < diag_count(d); i++)
			if (diag_is_error(d, i))
				fprintf(stderr, "geovipctl: %s\n",
					diag_message(d, i));
	} else if (cfg->control == NULL) {
		fprintf(stderr,
			"geovipctl: %s has no `control:` key: add "
			"one (e.g. control: /run/geovip/control) and restart "
			"geovipd, or give the socket with -s\n",
			path);
	} else if ((sock = strdup(cfg->control)) == NULL) {
		fprintf(stderr, "geovipctl: out of memory\n");
	}
	config_free(cfg);
	diag_free(d);
	return sock;
}

/*
 * The `PREFIX WEIGHT` lines of path (blank lines and # comments left
 * out), checked here so a mistake is reported as FILE:LINE, as one
 * buffer of lines; *count of them. NULL after printing why.
 */
static char *ctl_clients_read(const char *path, size_t *count)
{
	char *data;
	size_t len;
	int rc = file_read(path, CTL_CLIENTS_FILE_MAX, &data, &len);
	if (rc < 0) {
		fprintf(stderr, "geovipctl: --clients %s: %s\n", path,
			file_strerror(rc));
		return NULL;
	}
	char *out = malloc(len + 2);
	size_t used = 0, line = 0;
	*count = 0;
	for (char *p = data, *nl; out != NULL && p < data + len; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(data + len - p));
		if (nl == NULL)
			nl = data + len;
		*nl = '\0';
		line++;
		size_t n = strlen(p);
		if (n > 0 && p[n - 1] == '\r')
			p[--n] = '\0';
		const char *t = p + strspn(p, " \t");
		if (*t == '\0' || *t == '#')
			continue;
		struct dryrun_client c;
		if ((size_t)(nl - p) != n || n >= CONTROL_LINE_MAX ||
		    dryrun_parse_client(t, &c) < 0) {
			fprintf(stderr,
				"geovipctl: %s:%zu: not PREFIX WEIGHT (e.g. "
				"192.0.2.0/24 1500; weight a number >= 0)\n",
				path, line);
			free(out);
			free(data);
			return NULL;
		}
		if (++*count > DRYRUN_CLIENTS_MAX) {
			fprintf(stderr,
				"geovipctl: %s: more than %d client lines\n",
				path, DRYRUN_CLIENTS_MAX);
			free(out);
			free(data);
			return NULL;
		}
		memcpy(out + used, t, strlen(t));
		used += strlen(t);
		out[used++] = '\n';
	}
	free(data);
	if (out == NULL) {
		fprintf(stderr, "geovipctl: out of memory\n");
		return NULL;
	}
	if (*count == 0) {
		fprintf(stderr, "geovipctl: %s: no client lines\n", path);
		free(out);
		return NULL;
	}
	out[used] = '\0';
	return out;
}

// The request line: the arguments joined by tabs.
static int ctl_request(int argc, char **argv, char *buf, size_t len)
{
	size_t used = 0;
	for (int i = 0; i < argc; i++) {
		if (strpbrk(argv[i], "\t\n\r") != NULL) {
			fprintf(stderr,
				"geovipctl: argument %d holds a tab or "
				"a line break\n",
				i + 1);
			return -1;
		}
		int n = snprintf(buf + used, len - used, "%s%s", i ? "\t" : "",
				 argv[i]);
		if (n < 0 || (size_t)n >= len - used - 1) {
			fprintf(stderr,
				"geovipctl: the command is longer than "
				"%d bytes\n",
				CONTROL_LINE_MAX - 1);
			return -1;
		}
		used += (size_t)n;
	}
	buf[used++] = '\n';
	buf[used] = '\0';
	return 0;
}

static int ctl_connect(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	if (strlen(path) >= sizeof(sun.sun_path)) {
		fprintf(stderr, "geovipctl: socket path too long: %s\n", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		fprintf(stderr,
			"geovipctl: cannot connect to %s: %s (is "
			"geovipd running with this `control:`?)\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static int ctl_send_quiet(int fd, const char *req)
{
	size_t len = strlen(req), done = 0;
	while (done < len) {
		ssize_t n = write(fd, req + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		done += (size_t)n;
	}
	return 0;
}

static int ctl_send(int fd, const char *req)
{
	if (ctl_send_quiet(fd, req) == 0)
		return 0;
	fprintf(stderr, "geovipctl: cannot send: %s\n", strerror(errno));
	return -1;
}

// Reads the answer to EOF into *out; -1 after printing why.
static int ctl_receive(int fd, int timeout_s, char **out, size_t *out_len)
{
	size_t cap = 4096, len = 0;
	char *buf = malloc(cap);
	time_t deadline = time(NULL) + timeout_s;
	while (buf != NULL) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		int left = (int)(deadline - time(NULL));
		if (left <= 0 || poll(&p, 1, left * 1000) == 0) {
			fprintf(stderr, "geovipctl: no answer within %d s\n",
				timeout_s);
			break;
		}
		if (len + 1 == cap) {
			char *n = cap < CTL_ANSWER_MAX ? realloc(buf, cap * 2)
						       : NULL;
			if (n == NULL) {
				fprintf(stderr, "geovipctl: answer too long\n");
				break;
			}
			buf = n;
			cap *= 2;
		}
		ssize_t n = read(fd, buf + len, cap - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "geovipctl: %s\n", strerror(errno));
			break;
		}
		if (n == 0) {
			buf[len] = '\0';
			*out = buf;
			*out_len = len;
			return 0;
		}
		len += (size_t)n;
	}
	free(buf);
	return -1;
}

// Prints all but the status line; CTL_OK or CTL_FAILED by it.
static int ctl_print(char *ans, size_t len)
{
	if (len == 0 || ans[len - 1] != '\n') {
		fprintf(stderr, "geovipctl: the answer has no status line "
				"(did the daemon stop?)\n");
		return CTL_FAILED;
	}
	ans[len - 1] = '\0';
	char *last = strrchr(ans, '\n');
	char *status = last != NULL ? last + 1 : ans;
	if (last != NULL) {
		*last = '\0';
		printf("%s\n", ans);
	}
	if (strcmp(status, "OK") == 0)
		return CTL_OK;
	fprintf(stderr, "geovipctl: %s\n",
		strncmp(status, "ERROR ", 6) == 0 ? status + 6 : status);
	return CTL_FAILED;
}

/*
 * One request to the daemon's socket (sock, else the config's `control:`)
 * and its answer printed: argv is the command and its fields. `--clients
 * FILE` goes as `--clients N`, then the N lines after the request.
 */
static int ctl_run(const char *config, const char *sock, int timeout, int argc,
		   char **argv)
{
	char *clients = NULL, count_text[32];
	for (int i = 0; i + 1 < argc; i++) {
		if (strcmp(argv[i], "--clients") != 0)
			continue;
		size_t n;
		clients = ctl_clients_read(argv[i + 1], &n);
		if (clients == NULL)
			return CTL_USAGE;
		snprintf(count_text, sizeof(count_text), "%zu", n);
		argv[i + 1] = count_text;
		break;
	}
	char req[CONTROL_LINE_MAX + 1];
	if (ctl_request(argc, argv, req, sizeof(req)) < 0) {
		free(clients);
		return CTL_USAGE;
	}
	char *owned = sock == NULL ? ctl_socket_from_config(config) : NULL;
	if (sock == NULL && owned == NULL) {
		free(clients);
		return CTL_USAGE;
	}
	int fd = ctl_connect(sock != NULL ? sock : owned);
	free(owned);
	if (fd < 0) {
		free(clients);
		return CTL_UNREACHABLE;
	}
	char *ans;
	size_t len;
	int rc = CTL_UNREACHABLE;
	// the daemon may refuse the request before reading every client
	// line: its answer is still there to read
	signal(SIGPIPE, SIG_IGN);
	int sent = ctl_send(fd, req);
	if (sent == 0 && clients != NULL)
		(void)ctl_send_quiet(fd, clients);
	free(clients);
	if (sent == 0 && ctl_receive(fd, timeout, &ans, &len) == 0) {
		rc = ctl_print(ans, len);
		free(ans);
	}
	close(fd);
	return rc;
}

/*
 * `--fleet ... --dry-run`: what the change would move, computed by the
 * local daemon on its live snapshot (the same output as a local dry
 * run); nothing is written to etcd. `--who` is etcd's business, left
 * out; `--fleet` goes to the daemon, which then judges the change as a
 * fleet one (shadowed by a local override, etcd key rules).
 */
static int ctl_fleet_dry_run(const char *config, const char *sock, int timeout,
			     int argc, char **argv)
{
	char **args = calloc((size_t)argc + 2, sizeof(*args));
	if (args == NULL) {
		fprintf(stderr, "geovipctl: out of memory\n");
		return CTL_FAILED;
	}
	int n = 0;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--who") == 0 && i + 1 < argc) {
			i++;
			continue;
		}
		args[n++] = argv[i];
	}
	args[n++] = "--fleet";
	int rc = ctl_run(config, sock, timeout, n, args);
	free(args);
	if (rc == CTL_UNREACHABLE)
		fprintf(stderr,
			"geovipctl: --fleet --dry-run computes on the local "
			"geovipd's live snapshot through its control socket, "
			"which cannot be reached; nothing was written to "
			"etcd\n");
	return rc;
}

// Whether argv holds --dry-run.
static bool ctl_has_dry_run(int argc, char **argv)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--dry-run") == 0)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"timeout", required_argument, NULL, 't'},
		{"fleet", no_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	const char *config = CTL_CONFIG_DEFAULT, *sock = NULL;
	int timeout = 60, ch;
	bool fleet = false;
	// "+": options after the command belong to it (shed --to ...)
	while ((ch = getopt_long(argc, argv, "+c:s:t:hV", longopts, NULL)) !=
	       -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 't':
			timeout = atoi(optarg);
			if (timeout <= 0) {
				fprintf(stderr, "geovipctl: -t: give whole "
						"seconds above 0\n");
				return CTL_USAGE;
			}
			break;
		case 'F':
			fleet = true;
			break;
		case 'h':
			ctl_usage(stdout);
			return CTL_OK;
		case 'V':
			printf("geovipctl %s\n", PACKAGE_VERSION);
			return CTL_OK;
		default:
			ctl_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind == argc) {
		ctl_usage(stderr);
		return CTL_USAGE;
	}
	// --fleet: to etcd, which every geovipd of the fleet watches
	if (fleet && ctl_has_dry_run(argc - optind, argv + optind))
		return ctl_fleet_dry_run(config, sock, timeout, argc - optind,
					 argv + optind);
	if (fleet)
		return fleetctl_main(config, timeout, argc - optind,
				     argv + optind);
	return ctl_run(config, sock, timeout, argc - optind, argv + optind);
}
