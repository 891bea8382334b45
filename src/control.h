/*
 * src/control.h — the control socket (`control:`): geovipctl's requests
 * served on the main thread's loop, one line in, lines out ending with a
 * status line; the runtime overrides behind shed/drain/undo (overlay.c).
 */
#ifndef GEOVIP_CONTROL_H
#define GEOVIP_CONTROL_H

#include <stddef.h>

struct config;
struct diag;
struct event_base;
struct reload;
struct server;
struct snapshot;
struct control;
struct fleet;
struct overlay;
struct xfr;

/** Longest request line, newline included. */
#define CONTROL_LINE_MAX 1024

/**
 * The overlay of runtime overrides (read from the state file) and, when
 * cfg has `control:`, the socket, mode 0600, created by the current user
 * (after privileges are dropped). Hooks itself into rl: every reloaded
 * snapshot gets the overrides. NULL with the problem recorded in d.
 */
struct control *control_new(const struct config *cfg, struct server *srv,
			    struct reload *rl, struct event_base *base,
			    struct diag *d);

/** s with the runtime overrides applied (see overlay_apply). */
struct snapshot *control_prepare(struct control *c, struct snapshot *s);

/** The overlay of runtime overrides (fleet.c adds the fleet's to it). */
struct overlay *control_overlay(struct control *c);
/** The secondary zones whose status `zones` prints. */
void control_set_xfr(struct control *c, const struct xfr *x);
/** The state file of cfg (`state_file:`, else the `control:` socket's
 *  path + ".state") into buf, or NULL when there is none. */
const char *control_state_path(const struct config *cfg, char *buf, size_t len);

/** The fleet whose state `status` shows (NULL: none). */
void control_set_fleet(struct control *c, struct fleet *f);

/** Closes the socket (removing its file) and every connection. */
void control_free(struct control *c);

#endif
