/*
 * src/notify.h — the systemd notify protocol (sd_notify(3)) written out:
 * READY=1, RELOADING=1, STOPPING=1 and STATUS= datagrams to the socket
 * named by $NOTIFY_SOCKET. No libsystemd; without the variable, nothing.
 */
#ifndef GEOVIP_NOTIFY_H
#define GEOVIP_NOTIFY_H

#include "log.h"

/**
 * Opens a datagram socket for $NOTIFY_SOCKET (a path, or '@' for an
 * abstract one) and unsets the variable so children do not inherit it.
 * Returns 0 (also when the variable is unset: then notify_send does
 * nothing), -1 when it is set but unusable (logged).
 */
int notify_open(void);

/**
 * Sends one datagram of newline-separated assignments, e.g.
 * "READY=1\nSTATUS=serving". Returns 0, or -1 (logged at debug: the
 * service manager may be gone, which is no reason to stop serving).
 */
int notify_send(const char *fmt, ...) LOG_PRINTF(1, 2);

/** "RELOADING=1\nMONOTONIC_USEC=N" as systemd ≥ 253 wants (Type=notify-reload). */
int notify_reloading(void);

void notify_close(void);

#endif
