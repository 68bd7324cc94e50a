/*
 * proc.h - child processes for the fleet, the scaler and `cloudrec up`; not
 * installed, not exported. The library's only user of fork/exec/waitpid.
 */
#ifndef CLOUDREC_CORE_PROC_H
#define CLOUDREC_CORE_PROC_H

#include "internal.h"

#include <signal.h>
#include <sys/types.h>

enum {
    CR__SPAWN_NEW_GROUP = 1,        /* lead a new process group */
    CR__SPAWN_STDOUT_TO_STDERR = 2, /* the child's stdout goes to our stderr */
};

/* Starts argv[0] (an absolute path) with argv. The child gets SIGTERM when
 * this process dies
 * (PR_SET_PDEATHSIG), starts with default signal dispositions and an empty
 * mask and inherits only descriptors 0-2. With CR__SPAWN_NEW_GROUP it leads a
 * new process group, so a terminal's Ctrl-C reaches only us and we decide the
 * order of shutdown. *pid is the child. */
cr_status cr__spawn(char *const argv[], int flags, pid_t *pid, struct cr_error *err);

/* Waits up to timeout_ms for pid to exit (0 = just look). 1 when it has
 * exited (status in *status, it is reaped), 0 when still running. */
int cr__wait_exit(pid_t pid, int timeout_ms, int *status);

/* SIGTERM, wait up to timeout_ms, then SIGKILL and reap. Returns the wait
 * status; *killed (optional) says whether SIGKILL was needed. */
int cr__terminate(pid_t pid, int timeout_ms, int *killed);

/* "exit=N" or "signal=N" for a wait status, into out (size n). */
void cr__describe_status(int status, char *out, size_t n);

/* Sleeps ms milliseconds in slices of at most 50 ms, returning early once
 * *stop (may be NULL) is non-zero. */
void cr__sleep_unless(int ms, const volatile sig_atomic_t *stop);

#endif
