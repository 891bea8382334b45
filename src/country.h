/*
 * src/country.h — continents (the enum and its two-letter codes) and the
 * built-in ISO 3166-1 alpha-2 → continent table, used when a geo record
 * names a country but no continent. Codes are case-insensitive here.
 */
#ifndef GEOVIP_COUNTRY_H
#define GEOVIP_COUNTRY_H

#include <stdbool.h>

enum continent {
	CONTINENT_AF,
	CONTINENT_AN,
	CONTINENT_AS,
	CONTINENT_EU,
	CONTINENT_NA,
	CONTINENT_OC,
	CONTINENT_SA,
	CONTINENT_COUNT,
	CONTINENT_UNKNOWN = CONTINENT_COUNT
};

/** "AF".."SA" (any case) → enum continent; CONTINENT_UNKNOWN otherwise. */
enum continent continent_from_code(const char *code);

/** "AF".."SA", or "--" for CONTINENT_UNKNOWN. */
const char *continent_code(enum continent c);

/** Continent of an assigned (or MaxMind/DB-IP special: EU, AP, XK...)
 *  country code, case-insensitive; CONTINENT_UNKNOWN when not in the table. */
enum continent country_continent(const char *code);

/** True when code is two letters found in the table. */
bool country_is_known(const char *code);

#endif
