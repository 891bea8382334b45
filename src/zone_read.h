/*
 * src/zone_read.h — the master-file reader's interface, private to the
 * zone files: zone_read() turns a zone's file (and its $INCLUDEs) into
 * records in wire form, each with the file and line it came from.
 */
#ifndef GEOVIP_ZONE_READ_H
#define GEOVIP_ZONE_READ_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct config_zone;
struct diag;

#define ZONE_FILE_MAX (1024UL * 1024 * 1024) /* bytes per zone file */
#define ZONE_RECORD_MAX (256 * 1024)         /* bytes of text per record */
#define ZONE_INCLUDE_DEPTH 8                 /* $INCLUDE nesting */
#define ZONE_INCLUDE_MAX 256                 /* $INCLUDEs per zone */
#define ZONE_ERRORS_MAX 100                  /* errors before giving up */

/** One record as read: canonical owner and RDATA (names lower-cased). */
struct zone_record {
	const uint8_t *owner;
	size_t owner_len;
	const uint8_t *rdata;
	size_t rdata_len;
	uint32_t ttl;
	uint16_t type;
	uint16_t file; /* index into zone_files */
	unsigned line;
};

/** The names of the files a zone was read from, for messages. */
struct zone_files {
	char **name;
	size_t count;
};

/** Takes one record; returns 0, or negative (out of memory) to stop. */
typedef int (*zone_record_fn)(void *ctx, const struct zone_record *rec);

/**
 * Reads cz's master file and its $INCLUDEs, calling fn for every record
 * inside the zone, in file order. Problems go to d as "FILE:LINE:
 * message" (the config's file and line when the zone file itself cannot
 * be read). Returns 0 when the whole text was read (errors may have been
 * recorded: compare diag_errors), negative when reading had to stop
 * (out of memory, fn failed).
 */
int zone_read(const struct config *cfg, const struct config_zone *cz,
	      struct diag *d, struct zone_files *files, zone_record_fn fn,
	      void *ctx);

void zone_files_free(struct zone_files *files);

/** "A", "MX", ... or "TYPE65000" written into buf. */
const char *zone_read_type_name(uint16_t type, char buf[16]);

#endif
