/*
 * cloudrec/ec2.h - Amazon EC2 over the query API (Version 2016-11-15): run
 * instances, describe them (filters, paging), terminate them.
 *
 * Every call takes an AWS context (cloudrec/aws.h) and, last, an optional
 * struct cr_error for detail. Nothing is thread-safe: one cr_aws per thread.
 *
 * Ownership: arguments are borrowed for the call. Results are allocated by
 * the library and released with the matching *_free function (each accepts
 * NULL); on failure *out is NULL. docs/ec2.md has the details and the
 * error table.
 */
#ifndef CLOUDREC_EC2_H
#define CLOUDREC_EC2_H

#include "cloudrec/aws.h"
#include "cloudrec/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* EC2's limit on user data, before base64, and on MaxResults. */
#define CR_EC2_MAX_USER_DATA_BYTES 16384
#define CR_EC2_MIN_RESULTS 5
#define CR_EC2_MAX_RESULTS 1000

/* A tag to put on new instances. */
struct cr_ec2_tag {
    const char *key;
    const char *value;
};

/* What cr_ec2_run_instances launches. image_id is required; the rest is
 * optional (NULL or 0). */
struct cr_ec2_run_options {
    const char *image_id;      /* "ami-0abcdef1234567890" */
    const char *instance_type; /* NULL: "t2.micro" */
    int min_count;             /* 0: 1 */
    int max_count;             /* 0: min_count. EC2 launches as many as it can in
                                  [min_count, max_count] or fails */
    /* Raw user data (a cloud-init script, ...); the library base64-encodes
     * it. At most CR_EC2_MAX_USER_DATA_BYTES. */
    const void *user_data;
    size_t user_data_len;
    /* Tags for the instances (a TagSpecification of resource type
     * "instance"), so they are tagged from the start. */
    const struct cr_ec2_tag *tags;
    size_t num_tags;
    const char *key_name;                  /* an existing key pair */
    const char *const *security_group_ids; /* "sg-..." */
    size_t num_security_group_ids;
    const char *const *security_group_names; /* default VPC / EC2-Classic names */
    size_t num_security_group_names;
    const char *subnet_id;                 /* "subnet-..." */
    const char *iam_instance_profile_name; /* name or ARN, not both */
    const char *iam_instance_profile_arn;
    /* Idempotency token: retrying a run with the same token launches
     * nothing new. NULL: none. */
    const char *client_token;
    /* Non-zero: `shutdown` inside the instance terminates it
     * (InstanceInitiatedShutdownBehavior=terminate). */
    int shutdown_terminates;
};

/* One instance. Strings are owned by the enclosing cr_ec2_instances; what
 * EC2 did not send is NULL (or 0 / -1). */
struct cr_ec2_instance {
    char *instance_id;
    char *image_id;
    char *instance_type;
    char *state;    /* "pending", "running", "shutting-down", "terminated",
                       "stopping", "stopped" */
    int state_code; /* EC2's code (0 pending, 16 running, 48 terminated...), -1 */
    char *private_ip;
    char *public_ip;
    char *private_dns_name;
    char *key_name;
    char *subnet_id;
    char *vpc_id;
    char *availability_zone;
    char *iam_instance_profile_arn;
    int64_t launch_time_s; /* Unix seconds, 0 unknown */
    char *reservation_id;
    /* Tags as parallel key/value arrays; see cr_ec2_instance_tag. */
    char **tag_keys;
    char **tag_values;
    size_t num_tags;
    /* Security group ids. */
    char **security_group_ids;
    size_t num_security_groups;
};

/* A set of instances: what run launched, or one page of describe. */
struct cr_ec2_instances {
    struct cr_ec2_instance *instances;
    size_t count;
    /* describe: pass it back for the next page; NULL on the last one. */
    char *next_token;
};

/* Frees a set of instances and every string in it. Accepts NULL. */
CR_API void cr_ec2_instances_free(struct cr_ec2_instances *set);

/* The value of tag key on inst, or NULL. Valid until the set is freed. */
CR_API const char *cr_ec2_instance_tag(const struct cr_ec2_instance *inst, const char *key);

/*
 * Launches instances as opts says and returns them (state "pending") in
 * *out. CR_ERR_INVALID for missing or out-of-range options and for EC2's
 * own refusals of a value (InvalidParameterValue, InvalidAMIID.Malformed
 * ...), CR_ERR_NOT_FOUND for an AMI, subnet, group, key pair or profile
 * that does not exist (*.NotFound codes), CR_ERR_AUTH when not allowed
 * (UnauthorizedOperation), plus the transport's errors.
 */
CR_API cr_status cr_ec2_run_instances(struct cr_aws *aws, const struct cr_ec2_run_options *opts,
                                      struct cr_ec2_instances **out, struct cr_error *err);

/* One filter of cr_ec2_describe_instances: instances match when the field
 * equals any of the values (wildcards * and ? allowed by EC2). Filters are
 * ANDed. Examples: {"tag:Name", {"app-tier-instance-1"}, 1},
 * {"tag-key", {"fleet"}, 1}, {"instance-state-name", {"pending", "running"}, 2}. */
struct cr_ec2_filter {
    const char *name;
    const char *const *values;
    size_t num_values;
};

/* Options for cr_ec2_describe_instances; all optional. */
struct cr_ec2_describe_options {
    const struct cr_ec2_filter *filters;
    size_t num_filters;
    const char *const *instance_ids; /* only these (cannot be paged) */
    size_t num_instance_ids;
    int max_results;        /* page size 5..1000; 0: no paging (all at once) */
    const char *next_token; /* next_token of the page before */
};

/*
 * Describes instances (one page when max_results is set) into *out.
 * Terminated instances stay visible for a while, as in EC2; filter on
 * instance-state-name to leave them out. CR_ERR_NOT_FOUND when an id in
 * instance_ids does not exist (InvalidInstanceID.NotFound); CR_ERR_INVALID
 * for bad options (max_results with instance_ids, out of range).
 */
CR_API cr_status cr_ec2_describe_instances(struct cr_aws *aws,
                                           const struct cr_ec2_describe_options *opts,
                                           struct cr_ec2_instances **out, struct cr_error *err);

/* One instance's state change. Strings owned by the enclosing set. */
struct cr_ec2_state_change {
    char *instance_id;
    char *previous_state; /* "running" */
    char *current_state;  /* "shutting-down" */
};

/* The answer of cr_ec2_terminate_instances. */
struct cr_ec2_state_changes {
    struct cr_ec2_state_change *changes;
    size_t count;
};

/* Frees state changes and their strings. Accepts NULL. */
CR_API void cr_ec2_state_changes_free(struct cr_ec2_state_changes *changes);

/*
 * Terminates n (>= 1) instances; *out (optional, may be NULL) gets each
 * one's state change. Terminating an instance that is already terminated
 * is success. CR_ERR_NOT_FOUND when an id does not exist
 * (InvalidInstanceID.NotFound: nothing is terminated then), CR_ERR_INVALID
 * for a malformed id (InvalidInstanceID.Malformed).
 */
CR_API cr_status cr_ec2_terminate_instances(struct cr_aws *aws, const char *const *instance_ids,
                                            size_t n, struct cr_ec2_state_changes **out,
                                            struct cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
