/*
 * src/privs.h — dropping root: after every socket is bound and before any
 * network input is read, the daemon becomes the configured `user:`.
 */
#ifndef GEOVIP_PRIVS_H
#define GEOVIP_PRIVS_H

#include <stdbool.h>
#include <stddef.h>

struct diag;

/**
 * Becomes user for good: supplementary groups (initgroups), then the
 * group (setgid), then the user (setuid) — real, effective and saved IDs
 * alike — and checks that root cannot be regained. Not root and already
 * user: nothing to do. Call it while the process has a single thread.
 * Returns 0, or -1 with "FILE:LINE: what failed and what to do" in d
 * (file and line: where `user:` is written).
 */
int privs_drop(const char *user, const char *file, unsigned line,
	       struct diag *d);

/** True when the process runs with effective user ID 0. */
bool privs_is_root(void);

#endif
