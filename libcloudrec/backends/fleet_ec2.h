/*
 * fleet_ec2.h - the ec2: fleet's configuration and boot script, shared by
 * fleet_ec2.c (the fleet) and fleet_ec2_config.c (parsing, user data); not
 * installed. docs/aws-mode.md describes the URL and the variables.
 */
#ifndef CLOUDREC_FLEET_EC2_H
#define CLOUDREC_FLEET_EC2_H

#include "cloudrec/fleet.h"
#include "internal.h"

/* EC2 fleets never hold more instances than this, whatever is asked. */
#define CR__EC2_FLEET_HARD_MAX 20
/* The tag that marks an instance as a member of fleet <value>. */
#define CR__EC2_FLEET_TAG "cloudrec:fleet"
/* Instances are named <prefix>N, N the lowest number free in the fleet. */
#define CR__EC2_NAME_PREFIX "app-tier-instance-"
#define CR__EC2_DEFAULT_FLEET "cloudrec"
#define CR__EC2_DEFAULT_TYPE "t2.micro"
#define CR__EC2_DEFAULT_WORKER "/usr/bin/cloudrec-worker"
#define CR__EC2_DEFAULT_IDLE_EXIT_S 300
#define CR__EC2_MAX_GROUPS 16

/* Everything an ec2: URL and the CLOUDREC_EC2_* variables say. Strings are
 * "" when unset. */
struct cr__ec2_config {
    char ami[128];
    char type[64];
    char fleet[128]; /* the value of the cloudrec:fleet tag */
    char key_name[256];
    char groups[1024];                         /* security group ids, comma-separated as given */
    const char *group_ids[CR__EC2_MAX_GROUPS]; /* pointers into groups_split */
    char groups_split[1024];
    size_t num_groups;
    char subnet[128];
    char profile[512]; /* instance profile name, or its ARN ("arn:...") */
    char region[64];
    char worker[512];      /* the worker program on the AMI */
    int max_instances;     /* 1..CR__EC2_FLEET_HARD_MAX */
    int idle_exit_s;       /* the worker's --idle-exit-s; 0 = never */
    int terminate_on_exit; /* cr_fleet_shutdown terminates the fleet's instances */
};

/* Fills c from the environment, then from url ("ec2:" or
 * "ec2:?key=value&..."; the URL wins), and checks it: the AMI is required,
 * numbers in range, unknown URL keys refused. CR_ERR_INVALID naming the
 * problem. No network I/O. */
cr_status cr__ec2_config_parse(const char *url, struct cr__ec2_config *c, struct cr_error *err);

/*
 * Appends the user data of a new instance to out: a shell script that
 * cloud-init runs once at first boot. It installs nothing: it writes
 * /etc/cloudrec/worker.env (AWS_REGION, the endpoint variables given, the
 * instance id as worker id) and a systemd unit that runs the worker with
 * worker_argv (argv[0] is replaced by c->worker), --id and --idle-exit-s,
 * restarts it on failure, and powers the instance off when the worker exits
 * (which, with InstanceInitiatedShutdownBehavior=terminate, ends the
 * instance). region is the fleet's region; endpoints (NULL-terminated
 * "NAME=value" strings, may be NULL) are copied into the environment file.
 * CR_ERR_INVALID when the worker command lacks --requests or --output, or
 * an argument has characters that are not safe in a unit file.
 */
cr_status cr__ec2_user_data(const struct cr__ec2_config *c, const char *const *worker_argv,
                            const char *region, const char *const *endpoints, struct cr_buf *out,
                            struct cr_error *err);

#endif
