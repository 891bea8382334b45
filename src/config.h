/*
 * src/config.h — the parsed, validated YAML configuration.
 * A struct config is immutable once config_load returns it; every name and
 * path in it is resolved (relative paths against the config file's
 * directory), and every reference (region names) is an index.
 */
#ifndef GEOVIP_CONFIG_H
#define GEOVIP_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "addr.h"
#include "country.h"
#include "dname.h"

struct diag;

#define REGION_NONE (-1)

/** Longest `nsid:` payload, in bytes. */
#define CONFIG_NSID_MAX 128
/** Longest `identity:` / `version:` text: one TXT character-string. */
#define CONFIG_TXT_MAX 255

struct config_listen {
	struct sockaddr_storage addr;
	socklen_t addr_len;
	char text[64]; /* as written, for messages */
	unsigned line;
};

struct config_region {
	char *name;
	unsigned line;
	uint8_t continents; /* bit (1 << enum continent) per listed continent */
	struct ip_addr *v4; /* family AF_INET */
	size_t v4_count;
	struct ip_addr *v6; /* family AF_INET6 */
	size_t v6_count;
	int shed_to;      /* region index, or REGION_NONE */
	uint16_t shed_bp; /* percent x 100: 0..10000 */
	unsigned shed_line;
	uint32_t capacity; /* `capacity:` weight, 1..1000000, default 1 */
	int *fallback;     /* `fallback:` region indexes, in order written */
	size_t fallback_count; /* 0: every other up region */
	unsigned fallback_line;
};

struct config_network_override {
	struct ip_addr net; /* bits after prefix_len are zero */
	uint8_t prefix_len;
	int region;
	unsigned line;
};

struct config_country_override {
	char code[3]; /* upper-case ISO 3166-1 alpha-2, NUL-terminated */
	int region;
	unsigned line;
};

/* A regional name's service: the regions' own `vips` (the list form of
 * `regional:`), or s >= 1 for cfg->services[s - 1] (the mapping form). */
#define CONFIG_SERVICE_REGIONS 0

struct config_regional_name {
	char *text; /* as written: "@", "www", "*.edge", "abs.name." */
	uint8_t name[DNAME_MAX]; /* canonical wire form, absolute */
	size_t name_len;
	uint16_t service; /* CONFIG_SERVICE_REGIONS or 1 + services index */
	unsigned line;
};

/** Most services `services:` may define. */
#define CONFIG_SERVICES_MAX 1000
/** Most VIPs (IPv4 and IPv6 together) one service lists in one region. */
#define CONFIG_SERVICE_VIPS_MAX 64
/** Longest service name. */
#define CONFIG_SERVICE_NAME_MAX 63

/* One service's VIPs in one region; none: the service is not there. */
struct config_service_vips {
	struct ip_addr *v4; /* family AF_INET */
	size_t v4_count;
	struct ip_addr *v6; /* family AF_INET6 */
	size_t v6_count;
	unsigned line; /* of the region's entry, 0 when absent */
};

/* A named service of `services:`, with its VIPs per region. */
struct config_service {
	char *name;
	unsigned line;
	struct config_service_vips *in; /* per region, like cfg->regions */
};

/* The VIPs a service answers with in a region (config_vips). */
struct config_vipset {
	const struct ip_addr *v4;
	size_t v4_count;
	const struct ip_addr *v6;
	size_t v6_count;
};

/* Response rate limiting (UDP only); responses_per_second 0 = off. */
struct config_rrl {
	unsigned responses_per_second; /* per client network */
	unsigned slip;       /* every Nth limited answer sent TC=1; 0 never */
	uint8_t ipv4_prefix; /* client network sizes: default 24 */
	uint8_t ipv6_prefix; /* and 56 */
	struct config_network_override
		*exempt; /* never limited (region unused) */
	size_t exempt_count;
	unsigned line;
};

/* `dnssec:` of a zone: keys and denial; enabled when key_count > 0. */
#define CONFIG_DNSSEC_KEYS_MAX 8
struct config_dnssec {
	char **keys; /* resolved key file bases (no .key/.private) */
	size_t key_count;
	uint32_t validity; /* seconds a signature is valid, default 14d */
	uint32_t refresh;  /* re-sign before this is left, default 7d */
	bool nsec3;        /* `denial: nsec3` (default nsec) */
	uint16_t nsec3_iterations; /* 0..CONFIG_NSEC3_ITERATIONS_MAX */
	uint8_t nsec3_salt_len;    /* `salt: "-"`: 0 */
	uint8_t nsec3_salt[255];
	bool cds; /* publish CDS and CDNSKEY of the KSKs (RFC 7344) */
	unsigned line;
};

/** Re-signing (validity - refresh) at most this often, in seconds. */
#define CONFIG_DNSSEC_RESIGN_MIN 10

/** NSEC3 iterations above this are refused (RFC 9276 recommends 0). */
#define CONFIG_NSEC3_ITERATIONS_MAX 100

/* A TSIG key (`keys:`); the secret is kept as validated base64. */
struct config_tsig_key {
	char *name;            /* absolute, with the final dot */
	const char *algorithm; /* "hmac-sha256." or "hmac-sha512." */
	char *secret;          /* base64 (from `secret:` or `secret_file:`) */
	unsigned line;
};

/** Bytes a `secret_file:` may hold. */
#define CONFIG_SECRET_FILE_MAX 4096

/* `dnstap: {socket, queries, responses}`; socket NULL = off (default). */
struct config_dnstap {
	char *socket;   /* resolved path of the Unix socket */
	bool queries;   /* AUTH_QUERY frames, default true */
	bool responses; /* AUTH_RESPONSE frames, default true */
	unsigned line;
};

struct config_zone {
	char *origin_text;
	uint8_t origin[DNAME_MAX]; /* canonical wire form */
	size_t origin_len;
	char *file;   /* resolved path */
	uint32_t ttl; /* TTL of regional answers */
	struct config_regional_name *regional;
	size_t regional_count;
	struct config_dnssec dnssec;
	/* secondary zones: transferred from these; file is the copy kept */
	struct config_listen *primaries; /* `primary:`, port 53 by default */
	size_t primary_count;            /* 0: a zone read from its file */
	int tsig;                        /* `tsig:` index into keys, -1 none */
	unsigned line;
};

/** Most URLs `fleet.etcd` may list. */
#define CONFIG_FLEET_URLS_MAX 16

/** One etcd endpoint of `fleet.etcd`: http://HOST:PORT. */
struct config_etcd {
	char *url;  /* as written */
	char *host; /* a name or an address, IPv6 without brackets */
	uint16_t port;
	unsigned line;
};

/** `fleet:`; line 0 when absent (no fleet). */
struct config_fleet {
	struct config_etcd *etcd;
	size_t etcd_count;
	char *prefix; /* "/geovip/PROD": starts with /, no trailing / */
	unsigned line;
};

struct config {
	char *path; /* the config file as given */
	char *dir;  /* its directory, for relative paths */

	struct config_listen *listen;
	size_t listen_count;

	char *geoip; /* resolved path of the .mmdb */
	unsigned geoip_line;
	bool ecs;         /* default true */
	unsigned workers; /* 0 = online CPUs */

	struct config_region *regions;
	size_t region_count;
	int default_region;

	struct config_service *services; /* `services:`, in file order */
	size_t service_count;

	struct config_network_override *network_overrides;
	size_t network_override_count;
	struct config_country_override *country_overrides;
	size_t country_override_count;

	uint8_t shed_key[16]; /* default all zero */

	/* DNS cookies: the fleet's secret for new server cookies, and one
	 * more accepted in checks during a rollover */
	bool cookie_secret_set; /* false: a random one per process */
	uint8_t cookie_secret[16];
	bool cookie_secret_previous_set;
	uint8_t cookie_secret_previous[16];
	unsigned cookie_secret_previous_line;

	unsigned tcp_idle_timeout;    /* seconds, default 10 */
	unsigned tcp_max_connections; /* default 1000 */

	struct config_rrl rrl;

	char *user; /* drop privileges to this user, or NULL */
	unsigned user_line;

	struct config_tsig_key *keys; /* `keys:` TSIG keys */
	size_t key_count;

	struct config_zone *zones;
	size_t zone_count;

	/* ---- operations keys: NSID, CH TXT, log, pidfile ---- */
	uint8_t nsid
		[CONFIG_NSID_MAX]; /* `nsid:` payload; nsid_len 0 = off (default) */
	size_t nsid_len;
	char *identity; /* `identity:` CH TXT id.server, hostname.bind;
	                                   NULL = hidden; default the hostname */
	char *version;  /* `version:` CH TXT version.server, version.bind;
	                                   NULL = hidden; default "geovip VERSION" */
	int log_target; /* `log:` enum log_target: stderr (default), syslog */
	int log_level;  /* `log_level:` enum log_level, default info */
	char *pidfile;  /* `pidfile:` resolved path, or NULL (default) */
	unsigned pidfile_line;
	/* ---- control socket: geovipctl and runtime overrides ---- */
	char *control; /* `control:` socket path, or NULL (off) */
	unsigned control_line;
	char *state_file; /* `state_file:`, or NULL (CONTROL.state) */
	unsigned state_file_line;

	/* `metrics:` the Prometheus listener; line 0 = off (default) */
	struct config_listen metrics;
	/* `dnstap:` query log over a Frame Streams Unix socket */
	struct config_dnstap dnstap;
	/* ---- `fleet:` overrides shared through etcd (fleet.c) ---- */
	struct config_fleet fleet;
	/* `health:` hysteresis: a reported state takes effect once reported
	 * for hold_down seconds, or `reports` times in a row (0: not counted) */
	uint32_t health_hold_down; /* seconds, default 0: at once */
	unsigned health_reports;   /* default 0 */
	unsigned health_line;
};

/** Largest `capacity:` of a region. */
#define CONFIG_CAPACITY_MAX 1000000
/** Longest `health.hold_down`: one day. */
#define CONFIG_HOLD_DOWN_MAX 86400
/** Most `health.reports`. */
#define CONFIG_REPORTS_MAX 1000

/** Most networks `rrl.exempt` may list. */
#define CONFIG_MAX_EXEMPT 10000

/**
 * Reads and validates the YAML file at path (a regular file of at most
 * CFG_MAX_BYTES, 16 MiB). Every problem is recorded in d as
 * "FILE:LINE: message"; returns NULL if there was any error (the
 * configuration is refused as a whole), else a config owned by the caller.
 * Zone and geo files are not opened here (zone.c and geo.c do that).
 */
struct config *config_load(const char *path, struct diag *d);

/**
 * The same for configuration text already in memory (len bytes, no NUL
 * needed); name stands for the file in messages and relative paths
 * resolve against its directory.
 */
struct config *config_load_text(const char *text, size_t len, const char *name,
				struct diag *d);

/**
 * Checks what depends on this machine rather than on the text: the
 * `user:` account exists and is not root, and (when running as root) it
 * can open the config, geo and zone files, which a reload reads as that
 * user (a warning otherwise). `--check` and start-up call it, while
 * single-threaded; a reload does not. Returns 0, or -1 after recording
 * the problem in d.
 */
int config_check_system(const struct config *cfg, struct diag *d);

void config_free(struct config *cfg);

/** Index of the region called name, or REGION_NONE. */
int config_region_index(const struct config *cfg, const char *name);

/** The VIPs service (CONFIG_SERVICE_REGIONS, or 1 + an index in
 *  cfg->services) answers with in region; counts 0: none there. */
void config_vips(const struct config *cfg, unsigned service, int region,
		 struct config_vipset *out);

/** The name of service: a `services:` name, or "(regions)" for
 *  CONFIG_SERVICE_REGIONS. */
const char *config_service_name(const struct config *cfg, unsigned service);

/** The service called name (1 + its index), or -1 when there is none. */
int config_service_index(const struct config *cfg, const char *name);

#endif
