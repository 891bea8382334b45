/*
 * src/country.h — the built-in ISO 3166-1 alpha-2 → continent table, used
 * when a geo record names a country but no continent.
 */
#ifndef GEOVIP_COUNTRY_H
#define GEOVIP_COUNTRY_H

#include "config.h"

/** Continent of an assigned (or MaxMind/DB-IP special: EU, AP, XK...)
 *  country code, case-insensitive; CONTINENT_UNKNOWN when not in the table. */
enum continent country_continent(const char *code);

/** True when code is two letters found in the table. */
bool country_is_known(const char *code);

#endif
