/*
 * src/privs.c — the privilege drop: root → `user:` (groups, gid, uid),
 * verified irreversible. Runs once at start-up, single-threaded, between
 * binding the sockets and starting the workers. No chroot.
 */
#include "autoconf.h"
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "diag.h"

bool privs_is_root(void)
{
	return geteuid() == 0;
}

// Where the `user:` key is, for FILE:LINE messages.
struct privs_at {
	const char *file;
	unsigned line;
	struct diag *d;
};

static int privs_fail(const struct privs_at *at, const char *user,
		      const char *step)
{
	diag_error(at->d, at->file, at->line,
		   "cannot drop privileges to user '%s': %s: %s", user, step,
		   strerror(errno));
	return -1;
}

// Real, effective and saved IDs all equal uid/gid?
static bool privs_are(uid_t uid, gid_t gid)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		return false;
	return ru == uid && eu == uid && su == uid && rg == gid && eg == gid &&
	       sg == gid;
}

// Not root: only "already that user" is fine; anything else would need
// privileges we do not have, so say how to fix it.
static int privs_check_unprivileged(const struct passwd *pw,
				    const struct privs_at *at)
{
	uid_t uid = geteuid();
	if (getuid() == pw->pw_uid && uid == pw->pw_uid)
		return 0;
	diag_error(at->d, at->file, at->line,
		   "cannot switch to user '%s': running as uid %lu, "
		   "not root; start geovipd as root, or as '%s', or remove "
		   "`user:`",
		   pw->pw_name, (unsigned long)uid, pw->pw_name);
	return -1;
}

/*
 * The order matters: groups and gid can only be changed while still root,
 * so they go before setuid. As root, setgid and setuid set the real,
 * effective and saved IDs. In a multi-threaded process the raw syscalls
 * change only the calling thread (glibc broadcasts them to every thread,
 * but we do not rely on that): the caller is still single-threaded.
 */
int privs_drop(const char *user, const char *file, unsigned line,
	       struct diag *d)
{
	const struct privs_at at = {file, line, d};
	errno = 0;
	struct passwd *pw = getpwnam(user);
	if (pw == NULL) {
		diag_error(d, file, line,
			   "user '%s' does not exist on this "
			   "system%s%s",
			   user, errno ? ": " : "",
			   errno ? strerror(errno) : "");
		return -1;
	}
	if (pw->pw_uid == 0) {
		diag_error(d, file, line,
			   "user '%s' has uid 0: dropping to it "
			   "keeps every privilege; name an unprivileged user",
			   user);
		return -1;
	}
	if (!privs_is_root())
		return privs_check_unprivileged(pw, &at);

	// pw points into static storage that initgroups may reuse.
	uid_t uid = pw->pw_uid;
	gid_t gid = pw->pw_gid;
	if (initgroups(user, gid) < 0)
		return privs_fail(&at, user, "initgroups");
	if (setgid(gid) < 0)
		return privs_fail(&at, user, "setgid");
	if (setuid(uid) < 0)
		return privs_fail(&at, user, "setuid");

	// Both must hold: every ID switched, and no way back to root.
	if (!privs_are(uid, gid)) {
		errno = EPERM;
		return privs_fail(&at, user,
				  "user or group IDs did not all change");
	}
	if (setuid(0) == 0 || seteuid(0) == 0) {
		diag_error(d, file, line,
			   "cannot drop privileges to user '%s': "
			   "root could be regained after setuid",
			   user);
		return -1;
	}
	return 0;
}
