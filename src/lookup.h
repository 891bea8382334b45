/*
 * src/lookup.h — `geovipd --lookup ADDR[/PREFIX]`: the whole decision for
 * one client, printed for an operator debugging a complaint.
 */
#ifndef GEOVIP_LOOKUP_H
#define GEOVIP_LOOKUP_H

#include <stdio.h>

struct snapshot;

/** Prints the decision for arg ("ADDR" or "ADDR/PREFIX"); 0 ok, -1 when
 *  arg is not an address (a message is printed to err). */
int lookup_print(const struct snapshot *snap, const char *arg, FILE *out,
		 FILE *err);

/** The same, with one line per service of `services:`; name not NULL
 *  shows only one: a service's name, else the service of that regional
 *  domain name (-1 with a message to err when it is neither). */
int lookup_print_name(const struct snapshot *snap, const char *arg,
		      const char *name, FILE *out, FILE *err);

#endif
