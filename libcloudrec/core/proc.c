/* proc.c - spawning, waiting for and stopping child processes. */
#include "core/proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void cr__sleep_unless(int ms, const volatile sig_atomic_t *stop)
{
    while (ms > 0 && !(stop && *stop)) {
        int step = ms < 50 ? ms : 50;
        struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

/* In the child between fork and exec. Never returns. */
static void exec_child(char *const argv[], int flags, pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) /* the parent died before prctl took effect */
        _exit(0);
    if (flags & CR__SPAWN_NEW_GROUP)
        setpgid(0, 0);
    if (flags & CR__SPAWN_STDOUT_TO_STDERR)
        dup2(2, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    static const int sigs[] = {SIGPIPE, SIGTERM, SIGINT, SIGCHLD, SIGHUP};
    for (size_t i = 0; i < CR__ARRAY_LEN(sigs); i++)
        signal(sigs[i], SIG_DFL);
    close_range(3, ~0U, 0);
    execv(argv[0], argv);
    _exit(127);
}

cr_status cr__spawn(char *const argv[], int flags, pid_t *pid, struct cr_error *err)
{
    if (!argv || !argv[0] || argv[0][0] != '/')
        return cr__fail(err, CR_ERR_INVALID, "spawn: needs an absolute program path");
    if (access(argv[0], X_OK) != 0)
        return cr__fail(err, CR_ERR_NOT_FOUND, "%s: %s", argv[0], strerror(errno));
    /* Whatever we printed so far appears before anything the child prints. */
    fflush(NULL);
    pid_t parent = getpid();
    pid_t p = fork();
    if (p == 0)
        exec_child(argv, flags, parent);
    if (p < 0)
        return cr__fail(err, CR_ERR_IO, "fork for %s: %s", argv[0], strerror(errno));
    if (flags & CR__SPAWN_NEW_GROUP)
        setpgid(p, p); /* also from here, so the group exists before we signal it */
    *pid = p;
    return CR_OK;
}

int cr__wait_exit(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = cr__time_mono_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (cr__time_mono_ms() >= deadline)
            return 0;
        cr__sleep_unless(20, NULL);
    }
}

int cr__terminate(pid_t pid, int timeout_ms, int *killed)
{
    int status = 0;
    if (killed)
        *killed = 0;
    kill(pid, SIGTERM);
    if (cr__wait_exit(pid, timeout_ms, &status))
        return status;
    if (killed)
        *killed = 1;
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    return status;
}

void cr__describe_status(int status, char *out, size_t n)
{
    if (WIFEXITED(status))
        snprintf(out, n, "exit=%d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(out, n, "signal=%d", WTERMSIG(status));
    else
        snprintf(out, n, "status=%d", status);
}

/* Writes dir/name into out when that is an executable regular file. */
static int try_candidate(const char *dir, size_t dir_len, const char *name, char *out, size_t n)
{
    struct stat sb;
    int len = snprintf(out, n, "%.*s/%s", (int)dir_len, dir, name);
    return len > 0 && (size_t)len < n && out[0] == '/' && stat(out, &sb) == 0 &&
           S_ISREG(sb.st_mode) && access(out, X_OK) == 0;
}

/* The directory of the running executable, into out (size n); 0 on failure. */
static int self_dir(char *out, size_t n)
{
    ssize_t len = readlink("/proc/self/exe", out, n - 1);
    if (len <= 0 || (size_t)len >= n - 1)
        return 0;
    out[len] = '\0';
    char *slash = strrchr(out, '/');
    if (!slash)
        return 0;
    *slash = '\0';
    return 1;
}

/* Looks for name in each absolute directory of $PATH. */
static int search_path(const char *name, char *out, size_t n)
{
    const char *path = getenv("PATH");
    for (const char *p = path; p && *p;) {
        size_t len = strcspn(p, ":");
        if (len > 0 && try_candidate(p, len, name, out, n))
            return 1;
        p += len + (p[len] == ':');
    }
    return 0;
}

cr_status cr__find_program(const char *name, const char *dir, char *out, size_t n,
                          struct cr_error *err)
{
    if (!name || !out || n == 0 || strchr(name, '/'))
        return cr__fail(err, CR_ERR_INVALID, "find program: a plain program name is required");
    if (dir)
        return try_candidate(dir, strlen(dir), name, out, n)
                   ? CR_OK
                   : cr__fail(err, CR_ERR_NOT_FOUND, "%s: not found in %s", name, dir);
    char here[PATH_MAX];
    if (self_dir(here, sizeof(here)) && try_candidate(here, strlen(here), name, out, n))
        return CR_OK;
    if (search_path(name, out, n))
        return CR_OK;
    return cr__fail(err, CR_ERR_NOT_FOUND, "%s: not found next to this program (%s) or on PATH",
                    name, self_dir(here, sizeof(here)) ? here : "?");
}
