/*
 * src/pidfile.h — the optional `pidfile:`: written once the sockets are
 * bound, removed when the daemon exits.
 */
#ifndef GEOVIP_PIDFILE_H
#define GEOVIP_PIDFILE_H

struct config;
struct diag;

/**
 * Writes "PID\n" to cfg->pidfile (nothing when unset); a symlink or a
 * non-regular file there is refused. Returns 0, or -1 with the reason in d
 * as "CONFIG:LINE: pidfile '...': ...".
 */
int pidfile_write(const struct config *cfg, struct diag *d);

/** Removes path (NULL: nothing); a failure is logged as a warning. */
void pidfile_remove(const char *path);

#endif
