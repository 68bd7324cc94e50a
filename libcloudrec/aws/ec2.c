/*
 * ec2.c - the EC2 calls of cloudrec/ec2.h over the query API: numbered
 * form parameters (Filter.1.Value.2, TagSpecification.1.Tag.3.Key) and
 * XML answers made of nested <item> lists.
 */
#include "cloudrec/ec2.h"

#include "aws/svc.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_INSTANCE_TYPE "t2.micro"

/* ---- freeing results ----------------------------------------------------------- */

/* Frees one instance's strings in place. */
static void instance_clear(struct cr_ec2_instance *i)
{
    char **strings[] = {
        &i->instance_id,   &i->image_id,  &i->instance_type,     &i->state,
        &i->private_ip,    &i->public_ip, &i->private_dns_name,  &i->key_name,
        &i->subnet_id,     &i->vpc_id,    &i->availability_zone, &i->iam_instance_profile_arn,
        &i->reservation_id};
    for (size_t k = 0; k < CR__ARRAY_LEN(strings); k++)
        free(*strings[k]);
    cr__svc_strv_free(i->tag_keys, i->num_tags);
    cr__svc_strv_free(i->tag_values, i->num_tags);
    cr__svc_strv_free(i->security_group_ids, i->num_security_groups);
    memset(i, 0, sizeof(*i));
}

void cr_ec2_instances_free(struct cr_ec2_instances *set)
{
    if (!set)
        return;
    for (size_t i = 0; i < set->count; i++)
        instance_clear(&set->instances[i]);
    free(set->instances);
    free(set->next_token);
    free(set);
}

const char *cr_ec2_instance_tag(const struct cr_ec2_instance *inst, const char *key)
{
    return inst ? cr__svc_pair_find(inst->tag_keys, inst->tag_values, inst->num_tags, key) : NULL;
}

void cr_ec2_state_changes_free(struct cr_ec2_state_changes *changes)
{
    if (!changes)
        return;
    for (size_t i = 0; i < changes->count; i++) {
        free(changes->changes[i].instance_id);
        free(changes->changes[i].previous_state);
        free(changes->changes[i].current_state);
    }
    free(changes->changes);
    free(changes);
}

/* ---- errors ------------------------------------------------------------------------- */

/* EC2 codes that mean a bad request rather than a service failure. */
static cr_status remap(cr_status st, struct cr_error *err)
{
    if (st != CR_ERR_AWS || !err)
        return st;
    const char *c = err->aws_code;
    size_t n = strlen(c);
    int malformed = n > 10 && strcmp(c + n - 10, ".Malformed") == 0;
    if (malformed || strncmp(c, "InvalidParameter", 16) == 0 ||
        strcmp(c, "MissingParameter") == 0 || strcmp(c, "InvalidInstanceType") == 0 ||
        strcmp(c, "InvalidUserData.Malformed") == 0)
        return cr__svc_remap(err, CR_ERR_INVALID);
    if (strcmp(c, "IncorrectInstanceState") == 0 || strcmp(c, "IncorrectState") == 0)
        return cr__svc_remap(err, CR_ERR_STATE);
    return st;
}

/* Sends an EC2 form and parses the answer; *doc is the caller's to free. */
static cr_status call(struct cr_aws *aws, cr_status built, struct cr_buf *form,
                      struct cr__xml_doc **doc, struct cr_error *err)
{
    if (built != CR_OK)
        return cr__fail(err, built, "ec2: cannot build the request: %s", cr_strerror(built));
    return remap(cr__svc_query(aws, "ec2", form, 0, doc, err), err);
}

/* ---- parsing instances ------------------------------------------------------------- */

/* Text of the element path parent/a/b (b may be NULL) into *out. */
static cr_status nested_text(const struct cr__xml_node *parent, const char *a, const char *b,
                             char **out)
{
    const struct cr__xml_node *n = cr__xml_child(parent, a);
    if (!b)
        return cr__svc_text(parent, a, out);
    *out = NULL;
    return n ? cr__svc_text(n, b, out) : CR_OK;
}

/* Reads the <tagSet> and <groupSet> lists of an instance. */
static cr_status instance_lists(const struct cr__xml_node *item, struct cr_ec2_instance *i)
{
    cr_status st = CR_OK;
    const struct cr__xml_node *t = cr__xml_child(cr__xml_child(item, "tagSet"), "item");
    for (; st == CR_OK && t; t = cr__xml_next(t, "item")) {
        char *k = cr__xml_child_text(t, "key"), *v = cr__xml_child_text(t, "value");
        st = k ? cr__svc_pair_push(&i->tag_keys, &i->tag_values, &i->num_tags, k, v) : CR_OK;
        free(k);
        free(v);
    }
    const struct cr__xml_node *g = cr__xml_child(cr__xml_child(item, "groupSet"), "item");
    for (; st == CR_OK && g; g = cr__xml_next(g, "item")) {
        char *id = cr__xml_child_text(g, "groupId");
        st = id ? cr__svc_strv_push(&i->security_group_ids, &i->num_security_groups, id) : CR_OK;
        free(id);
    }
    return st;
}

/* Fills i from one instancesSet <item>. */
static cr_status parse_instance(const struct cr__xml_node *item, const char *reservation_id,
                                struct cr_ec2_instance *i)
{
    static const struct cr__svc_field fields[] = {
        {"instanceId", offsetof(struct cr_ec2_instance, instance_id)},
        {"imageId", offsetof(struct cr_ec2_instance, image_id)},
        {"instanceType", offsetof(struct cr_ec2_instance, instance_type)},
        {"privateIpAddress", offsetof(struct cr_ec2_instance, private_ip)},
        {"ipAddress", offsetof(struct cr_ec2_instance, public_ip)},
        {"privateDnsName", offsetof(struct cr_ec2_instance, private_dns_name)},
        {"keyName", offsetof(struct cr_ec2_instance, key_name)},
        {"subnetId", offsetof(struct cr_ec2_instance, subnet_id)},
        {"vpcId", offsetof(struct cr_ec2_instance, vpc_id)}};
    cr_status st = cr__svc_fill(item, i, fields, CR__ARRAY_LEN(fields));
    char *code = NULL, *launch = NULL;
    if (st == CR_OK)
        st = nested_text(item, "instanceState", "name", &i->state);
    if (st == CR_OK)
        st = nested_text(item, "instanceState", "code", &code);
    if (st == CR_OK)
        st = nested_text(item, "placement", "availabilityZone", &i->availability_zone);
    if (st == CR_OK)
        st = nested_text(item, "iamInstanceProfile", "arn", &i->iam_instance_profile_arn);
    if (st == CR_OK)
        st = nested_text(item, "launchTime", NULL, &launch);
    i->state_code = (int)cr__svc_parse_int(code, -1);
    int64_t t = 0;
    if (launch && cr__time_parse_iso8601(launch, &t) == CR_OK)
        i->launch_time_s = t;
    free(code);
    free(launch);
    if (st == CR_OK && reservation_id && !(i->reservation_id = strdup(reservation_id)))
        st = CR_ERR_NOMEM;
    if (st == CR_OK && !i->instance_id)
        st = CR_ERR_FORMAT;
    return st == CR_OK ? instance_lists(item, i) : st;
}

/* Counts the instance items below a reservation element. */
static size_t count_instances(const struct cr__xml_node *resv)
{
    size_t n = 0;
    const struct cr__xml_node *it = cr__xml_child(cr__xml_child(resv, "instancesSet"), "item");
    for (; it; it = cr__xml_next(it, "item"))
        n++;
    return n;
}

/* Appends the instances of one reservation element (the RunInstances root,
 * or a reservationSet item) to set, which has room for them. */
static cr_status parse_reservation(const struct cr__xml_node *resv, struct cr_ec2_instances *set)
{
    char rid[64];
    int have_rid = 0;
    const struct cr__xml_node *r = cr__xml_child(resv, "reservationId");
    char *text = r ? cr__xml_text(r) : NULL;
    if (text) {
        cr__strlcpy(rid, text, sizeof(rid));
        have_rid = 1;
        free(text);
    }
    cr_status st = CR_OK;
    const struct cr__xml_node *it = cr__xml_child(cr__xml_child(resv, "instancesSet"), "item");
    for (; st == CR_OK && it; it = cr__xml_next(it, "item"))
        st = parse_instance(it, have_rid ? rid : NULL, &set->instances[set->count++]);
    return st;
}

/* Reads a RunInstances (reservations == 0) or DescribeInstances answer. */
cr_status cr__ec2_parse_instances(const struct cr__xml_doc *doc, int reservations,
                                  struct cr_ec2_instances *set)
{
    const struct cr__xml_node *root = cr__xml_root(doc);
    const struct cr__xml_node *first =
        reservations ? cr__xml_child(cr__xml_child(root, "reservationSet"), "item") : root;
    size_t n = 0;
    for (const struct cr__xml_node *r = first; r; r = reservations ? cr__xml_next(r, "item") : NULL)
        n += count_instances(r);
    if (n && !(set->instances = calloc(n, sizeof(*set->instances))))
        return CR_ERR_NOMEM;
    cr_status st = CR_OK;
    for (const struct cr__xml_node *r = first; st == CR_OK && r;
         r = reservations ? cr__xml_next(r, "item") : NULL)
        st = parse_reservation(r, set);
    if (st == CR_OK && reservations)
        st = cr__svc_text(root, "nextToken", &set->next_token);
    if (set->next_token && !set->next_token[0]) {
        free(set->next_token);
        set->next_token = NULL;
    }
    return st;
}

/* Runs form and parses the instances it answers with into *out. */
static cr_status instances_call(struct cr_aws *aws, cr_status built, struct cr_buf *form,
                                int reservations, struct cr_ec2_instances **out,
                                struct cr_error *err)
{
    struct cr__xml_doc *doc = NULL;
    struct cr_ec2_instances *set = calloc(1, sizeof(*set));
    cr_status st = call(aws, set ? built : CR_ERR_NOMEM, form, &doc, err);
    if (st == CR_OK && (st = cr__ec2_parse_instances(doc, reservations, set)) != CR_OK)
        cr__fail(err, st, "ec2: %s",
                 st == CR_ERR_NOMEM ? "out of memory for instances" : "an instance without an id");
    cr__xml_free(doc);
    if (st == CR_OK)
        *out = set;
    else
        cr_ec2_instances_free(set);
    return st;
}

/* ---- run ------------------------------------------------------------------------------- */

/* Range checks of run options. */
static cr_status check_run(const struct cr_ec2_run_options *o, struct cr_error *err)
{
    if (!o || !o->image_id || !*o->image_id)
        return cr__fail(err, CR_ERR_INVALID, "ec2: run needs an image id");
    int min = o->min_count ? o->min_count : 1;
    if (o->min_count < 0 || o->max_count < 0 || (o->max_count && o->max_count < min))
        return cr__fail(err, CR_ERR_INVALID, "ec2: need 1 <= min_count <= max_count");
    if (o->user_data_len > CR_EC2_MAX_USER_DATA_BYTES || (o->user_data_len && !o->user_data))
        return cr__fail(err, CR_ERR_INVALID, "ec2: user data must be at most %d bytes",
                        CR_EC2_MAX_USER_DATA_BYTES);
    if (o->iam_instance_profile_name && o->iam_instance_profile_arn)
        return cr__fail(err, CR_ERR_INVALID, "ec2: give an instance profile name or ARN, not both");
    for (size_t i = 0; i < o->num_tags; i++)
        if (!o->tags || !o->tags[i].key || !o->tags[i].value)
            return cr__fail(err, CR_ERR_INVALID, "ec2: tag %zu lacks a key or value", i);
    for (size_t i = 0; i < o->num_security_group_ids; i++)
        if (!o->security_group_ids || !o->security_group_ids[i])
            return cr__fail(err, CR_ERR_INVALID, "ec2: security group id %zu is NULL", i);
    for (size_t i = 0; i < o->num_security_group_names; i++)
        if (!o->security_group_names || !o->security_group_names[i])
            return cr__fail(err, CR_ERR_INVALID, "ec2: security group name %zu is NULL", i);
    return CR_OK;
}

/* Appends prefix.1 .. prefix.n for a list of strings. */
static cr_status add_list(struct cr_buf *form, const char *prefix, const char *const *v, size_t n)
{
    cr_status st = CR_OK;
    for (size_t i = 0; st == CR_OK && i < n; i++)
        st = cr__svc_form_addf(form, v[i], "%s.%zu", prefix, i + 1);
    return st;
}

/* Appends the base64 of the user data. */
static cr_status add_user_data(struct cr_buf *form, const struct cr_ec2_run_options *o)
{
    if (!o->user_data_len)
        return CR_OK;
    struct cr_buf b64;
    cr_buf_init(&b64, 0);
    cr_status st = cr__base64_encode(o->user_data, o->user_data_len, &b64);
    if (st == CR_OK)
        st = cr__aws_query_add(form, "UserData", (const char *)b64.data);
    cr_buf_clear(&b64);
    return st;
}

/* Appends the instance TagSpecification. */
static cr_status add_tags(struct cr_buf *form, const struct cr_ec2_run_options *o)
{
    if (!o->num_tags)
        return CR_OK;
    cr_status st = cr__aws_query_add(form, "TagSpecification.1.ResourceType", "instance");
    for (size_t i = 0; st == CR_OK && i < o->num_tags; i++) {
        st = cr__svc_form_addf(form, o->tags[i].key, "TagSpecification.1.Tag.%zu.Key", i + 1);
        if (st == CR_OK)
            st = cr__svc_form_addf(form, o->tags[i].value, "TagSpecification.1.Tag.%zu.Value",
                                   i + 1);
    }
    return st;
}

/* The RunInstances form for o. */
static cr_status run_form(const struct cr_ec2_run_options *o, struct cr_buf *form)
{
    int min = o->min_count ? o->min_count : 1;
    cr_status st = cr__svc_form_begin(form, "RunInstances", CR__EC2_API_VERSION);
    if (st == CR_OK)
        st = cr__aws_query_add(form, "ImageId", o->image_id);
    if (st == CR_OK)
        st = cr__aws_query_add(form, "InstanceType",
                               o->instance_type ? o->instance_type : DEFAULT_INSTANCE_TYPE);
    if (st == CR_OK)
        st = cr__svc_form_add_long(form, "MinCount", min);
    if (st == CR_OK)
        st = cr__svc_form_add_long(form, "MaxCount", o->max_count ? o->max_count : min);
    if (st == CR_OK)
        st = add_user_data(form, o);
    if (st == CR_OK)
        st = add_tags(form, o);
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->key_name, "KeyName");
    if (st == CR_OK)
        st = add_list(form, "SecurityGroupId", o->security_group_ids, o->num_security_group_ids);
    if (st == CR_OK)
        st = add_list(form, "SecurityGroup", o->security_group_names, o->num_security_group_names);
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->subnet_id, "SubnetId");
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->iam_instance_profile_name, "IamInstanceProfile.Name");
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->iam_instance_profile_arn, "IamInstanceProfile.Arn");
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->client_token, "ClientToken");
    if (st == CR_OK && o->shutdown_terminates)
        st = cr__aws_query_add(form, "InstanceInitiatedShutdownBehavior", "terminate");
    return st;
}

cr_status cr_ec2_run_instances(struct cr_aws *aws, const struct cr_ec2_run_options *opts,
                               struct cr_ec2_instances **out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "ec2: run needs somewhere to put the instances");
    *out = NULL;
    cr_status st = check_run(opts, err);
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    st = instances_call(aws, run_form(opts, &form), &form, 0, out, err);
    cr_buf_clear(&form);
    return st;
}

/* ---- describe -------------------------------------------------------------------------- */

/* Range checks of describe options. */
static cr_status check_describe(const struct cr_ec2_describe_options *o, struct cr_error *err)
{
    if (o->max_results &&
        (o->max_results < CR_EC2_MIN_RESULTS || o->max_results > CR_EC2_MAX_RESULTS))
        return cr__fail(err, CR_ERR_INVALID, "ec2: max_results must be %d..%d", CR_EC2_MIN_RESULTS,
                        CR_EC2_MAX_RESULTS);
    if (o->max_results && o->num_instance_ids)
        return cr__fail(err, CR_ERR_INVALID, "ec2: max_results cannot be used with instance ids");
    for (size_t i = 0; i < o->num_filters; i++) {
        const struct cr_ec2_filter *f = &o->filters[i];
        if (!f->name || !f->num_values || !f->values)
            return cr__fail(err, CR_ERR_INVALID, "ec2: filter %zu needs a name and values", i);
        for (size_t k = 0; k < f->num_values; k++)
            if (!f->values[k])
                return cr__fail(err, CR_ERR_INVALID, "ec2: filter %s value %zu is NULL", f->name,
                                k);
    }
    for (size_t i = 0; i < o->num_instance_ids; i++)
        if (!o->instance_ids[i] || !*o->instance_ids[i])
            return cr__fail(err, CR_ERR_INVALID, "ec2: instance id %zu is empty", i);
    return CR_OK;
}

/* Appends Filter.N.Name / Filter.N.Value.M for every filter. */
static cr_status add_filters(struct cr_buf *form, const struct cr_ec2_describe_options *o)
{
    cr_status st = CR_OK;
    for (size_t i = 0; st == CR_OK && i < o->num_filters; i++) {
        const struct cr_ec2_filter *f = &o->filters[i];
        st = cr__svc_form_addf(form, f->name, "Filter.%zu.Name", i + 1);
        for (size_t k = 0; st == CR_OK && k < f->num_values; k++)
            st = cr__svc_form_addf(form, f->values[k], "Filter.%zu.Value.%zu", i + 1, k + 1);
    }
    return st;
}

/* The DescribeInstances form for o. */
static cr_status describe_form(const struct cr_ec2_describe_options *o, struct cr_buf *form)
{
    cr_status st = cr__svc_form_begin(form, "DescribeInstances", CR__EC2_API_VERSION);
    if (st == CR_OK)
        st = add_filters(form, o);
    if (st == CR_OK)
        st = add_list(form, "InstanceId", o->instance_ids, o->num_instance_ids);
    if (st == CR_OK && o->max_results)
        st = cr__svc_form_add_long(form, "MaxResults", o->max_results);
    if (st == CR_OK)
        st = cr__svc_form_addf(form, o->next_token, "NextToken");
    return st;
}

cr_status cr_ec2_describe_instances(struct cr_aws *aws, const struct cr_ec2_describe_options *opts,
                                    struct cr_ec2_instances **out, struct cr_error *err)
{
    static const struct cr_ec2_describe_options none;
    const struct cr_ec2_describe_options *o = opts ? opts : &none;
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "ec2: describe needs somewhere to put instances");
    *out = NULL;
    cr_status st = check_describe(o, err);
    if (st != CR_OK)
        return st;
    struct cr_buf form;
    cr_buf_init(&form, 0);
    st = instances_call(aws, describe_form(o, &form), &form, 1, out, err);
    cr_buf_clear(&form);
    return st;
}

/* ---- terminate ------------------------------------------------------------------------- */

/* Fills c from one instancesSet <item> of a TerminateInstances answer. */
static cr_status parse_change(const struct cr__xml_node *item, struct cr_ec2_state_change *c)
{
    cr_status st = cr__svc_text(item, "instanceId", &c->instance_id);
    if (st == CR_OK)
        st = nested_text(item, "previousState", "name", &c->previous_state);
    if (st == CR_OK)
        st = nested_text(item, "currentState", "name", &c->current_state);
    return st;
}

/* Reads every state change of an answer into set. */
cr_status cr__ec2_parse_changes(const struct cr__xml_doc *doc, struct cr_ec2_state_changes *set)
{
    const struct cr__xml_node *first =
        cr__xml_child(cr__xml_child(cr__xml_root(doc), "instancesSet"), "item");
    size_t n = 0;
    for (const struct cr__xml_node *it = first; it; it = cr__xml_next(it, "item"))
        n++;
    if (n && !(set->changes = calloc(n, sizeof(*set->changes))))
        return CR_ERR_NOMEM;
    cr_status st = CR_OK;
    for (const struct cr__xml_node *it = first; st == CR_OK && it; it = cr__xml_next(it, "item"))
        st = parse_change(it, &set->changes[set->count++]);
    return st;
}

cr_status cr_ec2_terminate_instances(struct cr_aws *aws, const char *const *instance_ids, size_t n,
                                     struct cr_ec2_state_changes **out, struct cr_error *err)
{
    if (out)
        *out = NULL;
    if (!instance_ids || n == 0)
        return cr__fail(err, CR_ERR_INVALID, "ec2: terminate needs at least one instance id");
    for (size_t i = 0; i < n; i++)
        if (!instance_ids[i] || !*instance_ids[i])
            return cr__fail(err, CR_ERR_INVALID, "ec2: instance id %zu is empty", i);
    struct cr_buf form;
    cr_buf_init(&form, 0);
    struct cr__xml_doc *doc = NULL;
    struct cr_ec2_state_changes *set = calloc(1, sizeof(*set));
    cr_status st =
        set ? cr__svc_form_begin(&form, "TerminateInstances", CR__EC2_API_VERSION) : CR_ERR_NOMEM;
    if (st == CR_OK)
        st = add_list(&form, "InstanceId", instance_ids, n);
    st = call(aws, st, &form, &doc, err);
    if (st == CR_OK && (st = cr__ec2_parse_changes(doc, set)) != CR_OK)
        cr__fail(err, st, "ec2: out of memory for state changes");
    cr__xml_free(doc);
    cr_buf_clear(&form);
    if (st == CR_OK && out)
        *out = set;
    else
        cr_ec2_state_changes_free(set);
    return st;
}
