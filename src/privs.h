/*
 * src/privs.h — dropping root: after every socket is bound and before any
 * network input is read, the daemon becomes the configured `user:`.
 */
#ifndef GEOVIP_PRIVS_H
#define GEOVIP_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

/**
 * Becomes user for good: supplementary groups (initgroups), then the
 * group (setgid), then the user (setuid) — real, effective and saved IDs
 * alike — and checks that root cannot be regained. Not root and already
 * user: nothing to do. Call it while the process has a single thread.
 * Returns 0, or -1 with one line saying what failed and what to do in err.
 */
int privs_drop(const char *user, char *err, size_t errlen);

/** True when the process runs with effective user ID 0. */
bool privs_is_root(void);

#endif
