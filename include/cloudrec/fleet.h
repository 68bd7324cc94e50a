/*
 * cloudrec/fleet.h - the workers a scaler launches and stops, chosen by URL.
 *
 *   local:                  worker processes, children of this process; their
 *   local:///abs/dir        state files go to dir (default: a private
 *                           temporary directory, removed by cr_fleet_free)
 *   ec2:[?ami=...&type=...&fleet=...&...]
 *                           EC2 instances from an AMI, tagged
 *                           cloudrec:fleet=<fleet> and Name=app-tier-instance-N,
 *                           booting with user data that starts the worker
 *                           (settings: docs/aws-mode.md; at most 20 instances)
 *
 * Local fleet. An instance is one `cloudrec-worker` process started with
 * fork + exec of cr_fleet_options.worker_argv plus `--id <id> --state-file
 * <dir>/<id>.state`. The worker publishes its state in that file (see
 * cloudrec/worker.h): no file yet = pending (loading the model), "busy" =
 * running, "idle" = idle, "stopping" = stopping. Stopping an instance sends
 * it SIGTERM, on which a worker receives nothing more, finishes the messages
 * it holds and exits; a message it had not finished comes back through the
 * queue's visibility timeout if it dies anyway. Each child gets SIGTERM when
 * this process dies (PR_SET_PDEATHSIG), so a crashed scaler leaves no
 * workers behind. cr_fleet_list reaps exited children. The fleet owns its
 * children: they are not meant to be waited for elsewhere in the process,
 * and the process must not ignore SIGCHLD.
 *
 * EC2 fleet. An instance is one RunInstances of the AMI; its id is the EC2
 * instance id. Only instances carrying the fleet's tag are listed or
 * stopped (the tag is checked before anything is terminated). EC2 cannot
 * see inside an instance: with requests_url, running instances are listed
 * idle while that queue has nothing in flight, else running. Stopping
 * terminates the instance (its worker finishes the current image on
 * SIGTERM); cr_fleet_shutdown keeps the instances unless the URL says
 * on_exit=terminate.
 *
 * A cr_fleet is not thread-safe: one thread drives it.
 */
#ifndef CLOUDREC_FLEET_H
#define CLOUDREC_FLEET_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_FLEET_ID_MAX 64

/* What a zero kill_after_ms of struct cr_fleet_options means. */
#define CR_FLEET_DEFAULT_KILL_AFTER_MS 30000

enum cr_instance_state {
    CR_INSTANCE_PENDING = 0,  /* launched, worker not yet polling */
    CR_INSTANCE_RUNNING = 1,  /* polling or working; not known to be idle */
    CR_INSTANCE_IDLE = 2,     /* running and holding no message */
    CR_INSTANCE_STOPPING = 3, /* asked to stop, not yet gone */
};

struct cr_instance {
    char id[CR_FLEET_ID_MAX]; /* "w-3" (local), an instance id (EC2) */
    enum cr_instance_state state;
    int64_t launched_ms;    /* wall clock */
    int64_t state_since_ms; /* wall clock of the last state change; 0 = unknown */
    int64_t ready_ms;       /* wall clock when it was first ready (model loaded,
                               receiving); 0 = not yet, or unknown (EC2) */
    long pid;               /* local: the process id; 0 otherwise */
};

/* The result of cr_fleet_list; release with cr_fleet_list_free. */
struct cr_instance_list {
    struct cr_instance *items;
    size_t count;
};

/* Zero fields mean the defaults given. Borrowed for cr_fleet_open only (the
 * fleet copies what it keeps). */
struct cr_fleet_options {
    /* The worker command line, NULL-terminated, argv[0] a path to execute
     * (no PATH search): everything but --id and --state-file, which the
     * fleet adds. Required for local fleets. */
    const char *const *worker_argv;
    int kill_after_ms; /* cr_fleet_shutdown: SIGKILL what is left after this
                          long (default 30000) */
    /* The queue the workers take requests from (optional). EC2 fleets read
     * its in-flight count to tell idle instances (see above). */
    const char *requests_url;
};

struct cr_fleet;

/* Opens a fleet (no network I/O). CR_ERR_INVALID (bad URL or options, an
 * ec2: fleet without an AMI or region), CR_ERR_UNSUPPORTED (a recognised
 * scheme this build cannot drive), CR_ERR_IO (the state directory cannot be
 * made). *out is owned by the caller. */
CR_API cr_status cr_fleet_open(const char *url, const struct cr_fleet_options *opts,
                               struct cr_fleet **out, struct cr_error *err);

/* Lists the live instances (exited local workers are reaped and left out),
 * oldest launch first. *out is filled on success and owned by the caller. */
CR_API cr_status cr_fleet_list(struct cr_fleet *f, struct cr_instance_list *out,
                               struct cr_error *err);

/* Frees the items and zeroes *list. Accepts NULL. */
CR_API void cr_fleet_list_free(struct cr_instance_list *list);

/* Starts count instances (they show as pending). *launched (optional) says
 * how many started before a failure. ec2: a launch past the fleet's cap
 * starts what fits and fails with CR_ERR_STATE. */
CR_API cr_status cr_fleet_launch(struct cr_fleet *f, int count, int *launched,
                                 struct cr_error *err);

/* Asks instance id to stop gracefully (local: SIGTERM; ec2: terminate).
 * CR_ERR_NOT_FOUND if it is not (or no longer) in the fleet (ec2: also an
 * instance without the fleet's tag, which is left alone); stopping a
 * stopping instance is not an error. */
CR_API cr_status cr_fleet_stop(struct cr_fleet *f, const char *id, struct cr_error *err);

/* Stops every instance gracefully and waits for them: local workers get
 * SIGTERM, then SIGKILL once kill_after_ms has passed, and are reaped; the
 * call returns when none is left. CR_OK even if some had to be killed (the
 * count is logged). */
CR_API cr_status cr_fleet_shutdown(struct cr_fleet *f, struct cr_error *err);

/* Releases the fleet. Local: instances still running are left running
 * (call cr_fleet_shutdown first); a private state directory is removed.
 * Accepts NULL. */
CR_API void cr_fleet_free(struct cr_fleet *f);

/* "pending", "running", "idle", "stopping"; "unknown" otherwise. Static. */
CR_API const char *cr_instance_state_name(enum cr_instance_state state);

#ifdef __cplusplus
}
#endif
#endif
