/*
 * cmd_ec2.c - `cloudrec ec2 run|ls|terminate`: EC2 instances through
 * cloudrec/ec2.h.
 */
#include "cmd_aws_common.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ITEMS 16 /* tags, groups, filters, values per filter, ids */

/* One --filter/--tag/--state: a name and its values (split copies). */
struct ec2_filter_arg {
    char *text; /* owned: "NAME\0V1\0V2" after splitting */
    const char *values[MAX_ITEMS];
};

/* Flags of the ec2 commands. */
struct ec2_args {
    struct cr_ec2_run_options run;
    long long count, min, max;
    const char *user_data_file;
    const char *user_data_text;
    struct cr_ec2_tag tags[MAX_ITEMS];
    char *tag_text[MAX_ITEMS];
    const char *sg_ids[MAX_ITEMS], *sg_names[MAX_ITEMS];
    const char *profile;
    struct ec2_filter_arg fargs[MAX_ITEMS];
    struct cr_ec2_filter filters[MAX_ITEMS];
    const char *ids[MAX_ITEMS];
    struct cr_ec2_describe_options ls;
    int one_page;
};

/* Appends s to a bounded list. */
static int push(struct aws_cli *a, const char **list, size_t *n, const char *s, const char *flag)
{
    if (*n >= MAX_ITEMS)
        return aws_cli_usage_error(a, "at most %d %s", MAX_ITEMS, flag);
    list[(*n)++] = s;
    return 0;
}

/* --tag K=V for run: a tag; for ls it becomes a tag:K filter too. */
static int add_tag(struct ec2_args *s, struct aws_cli *a, const char *arg)
{
    size_t n = s->run.num_tags;
    struct cr_ec2_tag *t = &s->tags[n < MAX_ITEMS ? n : 0];
    if (aws_cli_split_kv(a, "--tag", arg, n, MAX_ITEMS, &s->tag_text[n], &t->key, &t->value))
        return AWS_EXIT_USAGE;
    s->run.tags = s->tags;
    s->run.num_tags = n + 1;
    return 0;
}

/* Adds a filter "prefix NAME" with the comma-separated values in list. */
static int add_filter(struct ec2_args *s, struct aws_cli *a, const char *prefix, const char *name,
                      const char *list)
{
    size_t n = s->ls.num_filters;
    if (n >= MAX_ITEMS)
        return aws_cli_usage_error(a, "at most %d filters", MAX_ITEMS);
    size_t plen = strlen(prefix), nlen = strlen(name);
    struct ec2_filter_arg *f = &s->fargs[n];
    if (!(f->text = malloc(plen + nlen + strlen(list) + 2)))
        return aws_cli_usage_error(a, "out of memory");
    sprintf(f->text, "%s%s", prefix, name);
    char *vals = f->text + plen + nlen + 1;
    strcpy(vals, list);
    size_t k = 0;
    for (char *save = NULL, *v = strtok_r(vals, ",", &save); v; v = strtok_r(NULL, ",", &save))
        if (push(a, f->values, &k, v, "values per filter"))
            return AWS_EXIT_USAGE;
    if (!k)
        return aws_cli_usage_error(a, "filter %s%s needs a value", prefix, name);
    s->filters[n] = (struct cr_ec2_filter){f->text, f->values, k};
    s->ls.filters = s->filters;
    s->ls.num_filters = n + 1;
    return 0;
}

/* --filter NAME=V1,V2 and --tag K=V as filters. */
static int add_filter_kv(struct ec2_args *s, struct aws_cli *a, const char *prefix, const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (!eq || eq == arg)
        return aws_cli_usage_error(a, "expected NAME=VALUE[,VALUE...], got '%s'", arg);
    char name[128];
    snprintf(name, sizeof(name), "%.*s", (int)(eq - arg), arg);
    return add_filter(s, a, prefix, name, eq + 1);
}

/* What an ec2 command line holds. */
struct ec2_line {
    struct aws_cli a;
    struct ec2_args s;
};

enum { EC2_TAG = 1, EC2_FILTER, EC2_TAG_KEY, EC2_STATE, EC2_ID, EC2_SG_ID, EC2_SG };

/* The repeated flags, which copy and split their values (CR__OPT_FN). */
static int ec2_apply(void *cmd, const struct cr__opt *o, const char *arg)
{
    struct ec2_args *s = &((struct ec2_line *)cmd)->s;
    struct aws_cli a = {.prog = "cloudrec ec2"};
    switch (o->code) {
    case EC2_TAG:
        return add_tag(s, &a, arg) == 0 && add_filter_kv(s, &a, "tag:", arg) == 0;
    case EC2_FILTER:
        return add_filter_kv(s, &a, "", arg) == 0;
    case EC2_TAG_KEY:
        return add_filter(s, &a, "", "tag-key", arg) == 0;
    case EC2_STATE:
        return add_filter(s, &a, "", "instance-state-name", arg) == 0;
    case EC2_ID:
        return push(&a, s->ids, &s->ls.num_instance_ids, arg, "instance ids") == 0;
    case EC2_SG_ID:
        return push(&a, s->sg_ids, &s->run.num_security_group_ids, arg, "security group ids") ==
               0;
    default:
        return push(&a, s->sg_names, &s->run.num_security_group_names, arg, "security groups") ==
               0;
    }
}

#define EC(f) offsetof(struct ec2_line, s.f)
#define EC2_FN(n, c, m, h)                                                                        \
    {.name = n, .type = CR__OPT_FN, .apply = ec2_apply, .takes_value = 1, .code = c,             \
     .metavar = m, .help = h}

static const struct cr__opt ec2_opts[] = {
    AWS_CLI_OPTS(struct ec2_line),
    {.name = "image", .type = CR__OPT_STR, .offset = EC(run.image_id), .metavar = "AMI",
     .help = "run: the image (required there)"},
    {.name = "type", .type = CR__OPT_STR, .offset = EC(run.instance_type), .metavar = "T",
     .help = "run: the instance type (default t2.micro)"},
    {.name = "count", .type = CR__OPT_I64, .offset = EC(count), .metavar = "N",
     .help = "run: how many (default 1)", .lo = 1, .hi = 1000},
    {.name = "min", .type = CR__OPT_I64, .offset = EC(min), .metavar = "N",
     .help = "run, with --max: at least this many or none", .lo = 1, .hi = 1000},
    {.name = "max", .type = CR__OPT_I64, .offset = EC(max), .metavar = "N",
     .help = "run, with --min: at most this many", .lo = 1, .hi = 1000},
    {.name = "user-data", .type = CR__OPT_STR, .offset = EC(user_data_file), .metavar = "FILE",
     .help = "run: the boot script, from FILE (sent base64-encoded)"},
    {.name = "user-data-text", .type = CR__OPT_STR, .offset = EC(user_data_text),
     .metavar = "TEXT", .help = "run: the boot script itself"},
    EC2_FN("tag", EC2_TAG, "K=V",
           "run: a tag of every instance from the start; ls: only instances with it "
           "(repeatable)"),
    {.name = "key", .type = CR__OPT_STR, .offset = EC(run.key_name), .metavar = "NAME",
     .help = "run: an existing key pair"},
    EC2_FN("security-group-id", EC2_SG_ID, "ID", "run: a security group by id (repeatable)"),
    EC2_FN("security-group", EC2_SG, "NAME", "run: a security group by name (repeatable)"),
    {.name = "subnet", .type = CR__OPT_STR, .offset = EC(run.subnet_id), .metavar = "ID",
     .help = "run: the subnet"},
    {.name = "instance-profile", .type = CR__OPT_STR, .offset = EC(profile),
     .metavar = "NAME|ARN", .help = "run: the IAM instance profile"},
    {.name = "client-token", .type = CR__OPT_STR, .offset = EC(run.client_token),
     .metavar = "T", .help = "run: makes a retried run launch nothing twice"},
    {.name = "shutdown-terminates", .type = CR__OPT_BOOL, .offset = EC(run.shutdown_terminates),
     .help = "run: a shutdown from inside terminates the instance"},
    EC2_FN("filter", EC2_FILTER, "NAME=V[,V...]",
           "ls: only instances matching this EC2 filter (repeatable)"),
    EC2_FN("tag-key", EC2_TAG_KEY, "K", "ls: only instances with this tag key (repeatable)"),
    EC2_FN("state", EC2_STATE, "S[,S...]",
           "ls: only instances in these states (instance-state-name)"),
    EC2_FN("id", EC2_ID, "ID", "ls: only this instance (repeatable)"),
    {.name = "max-results", .type = CR__OPT_INT, .offset = EC(ls.max_results), .metavar = "N",
     .help = "ls: instances per page", .lo = CR_EC2_MIN_RESULTS, .hi = CR_EC2_MAX_RESULTS},
    {.name = "token", .type = CR__OPT_STR, .offset = EC(ls.next_token), .metavar = "T",
     .help = "ls: start at the page this token names (printed by --one-page)"},
    {.name = "one-page", .type = CR__OPT_BOOL, .offset = EC(one_page),
     .help = "ls: only the first page (or --token's) and the next token"},
};

static const struct cr__program ec2_program = {
    .name = "cloudrec ec2",
    .synopsis = "COMMAND ARGS [options]",
    .about = "Commands:\n"
             "  cloudrec ec2 run --image AMI [--type T] [--count N | --min N --max N]\n"
             "                   [--user-data FILE | --user-data-text TEXT] [--tag K=V]...\n"
             "                   [--key NAME] [--security-group-id ID]...\n"
             "                   [--security-group NAME]... [--subnet ID]\n"
             "                   [--instance-profile NAME|ARN] [--client-token T]\n"
             "                   [--shutdown-terminates]\n"
             "  cloudrec ec2 ls [--tag K=V]... [--tag-key K]... [--state S[,S...]]\n"
             "                  [--filter NAME=V[,V...]]... [--id ID]...\n"
             "                  [--max-results N] [--token T] [--one-page]\n"
             "  cloudrec ec2 terminate ID...\n"
             "\n"
             "run        launches instances (type default t2.micro, count 1) tagged with every\n"
             "           --tag from the start; user data is sent base64-encoded.\n"
             "ls         lists instances matching every filter (--tag K=V is tag:K, --state is\n"
             "           instance-state-name); pages of --max-results are followed unless\n"
             "           --one-page.\n"
             "terminate  terminates the instances and shows each one's state change.\n"
             "At most " CR__STR(MAX_ITEMS) " of each repeated flag.\n\n",
    .epilog = AWS_CLI_EPILOG,
    .opts = ec2_opts,
    .n_opts = sizeof(ec2_opts) / sizeof(ec2_opts[0]),
    .size = sizeof(struct ec2_line),
    .operands = CR__OPERANDS_ANY,
};


/* Releases the copies the flags made. */
static void ec2_args_clear(struct ec2_args *s)
{
    for (size_t i = 0; i < MAX_ITEMS; i++) {
        free(s->tag_text[i]);
        free(s->fargs[i].text);
    }
}

/* ---- output ---------------------------------------------------------------------------- */

/* Writes "key":[strings]. */
static void json_strings(struct cr__jw *w, const char *key, char **v, size_t n)
{
    cr__jw_array(w, key);
    for (size_t i = 0; i < n; i++)
        cr__jw_text(w, NULL, v[i]);
    cr__jw_end(w);
}

/* Writes one instance as a JSON object. */
static void json_instance(struct cr__jw *w, const struct cr_ec2_instance *i)
{
    char t[21];
    aws_cli_time(i->launch_time_s, t);
    const char *fields[][2] = {{"instance_id", i->instance_id},
                               {"state", i->state},
                               {"instance_type", i->instance_type},
                               {"image_id", i->image_id},
                               {"private_ip", i->private_ip},
                               {"public_ip", i->public_ip},
                               {"key_name", i->key_name},
                               {"subnet_id", i->subnet_id},
                               {"vpc_id", i->vpc_id},
                               {"availability_zone", i->availability_zone},
                               {"iam_instance_profile_arn", i->iam_instance_profile_arn},
                               {"reservation_id", i->reservation_id},
                               {"launch_time", i->launch_time_s ? t : NULL}};
    cr__jw_object(w, NULL);
    for (size_t k = 0; k < sizeof(fields) / sizeof(fields[0]); k++)
        cr__jw_text(w, fields[k][0], fields[k][1]);
    cr__jw_int(w, "state_code", i->state_code);
    cr__jw_object(w, "tags");
    aws_cli_json_pairs(w, i->tag_keys, i->tag_values, i->num_tags);
    cr__jw_end(w);
    json_strings(w, "security_group_ids", i->security_group_ids, i->num_security_groups);
    cr__jw_end(w);
}

/* Prints the table header. */
static void table_header(void)
{
    printf("%-20s  %-13s  %-10s  %-21s  %-15s  %-20s  %s\n", "INSTANCE ID", "STATE", "TYPE",
           "IMAGE", "PRIVATE IP", "LAUNCHED (UTC)", "NAME");
}

/* Prints one instance as a table row. */
static void table_row(const struct cr_ec2_instance *i)
{
    char t[21];
    aws_cli_time(i->launch_time_s, t);
    const char *name = cr_ec2_instance_tag(i, "Name");
    printf("%-20s  %-13s  %-10s  %-21s  %-15s  %-20s  %s\n", i->instance_id,
           i->state ? i->state : "-", i->instance_type ? i->instance_type : "-",
           i->image_id ? i->image_id : "-", i->private_ip ? i->private_ip : "-", t,
           name ? name : "-");
}

/* Prints a set of instances as table rows (the header before the first,
 * while *first is set) or writes them to json with --json. */
static void show_instances(const struct aws_cli *a, const struct cr_ec2_instances *set,
                           struct cr__jw *json, int *first)
{
    for (size_t k = 0; k < set->count; k++) {
        if (a->json) {
            json_instance(json, &set->instances[k]);
            continue;
        }
        if (*first)
            table_header();
        *first = 0;
        table_row(&set->instances[k]);
    }
}

/* ---- run ----------------------------------------------------------------------------- */

/* Completes the run options from the flags (counts, user data, profile). */
static int run_prepare(struct aws_cli *a, struct ec2_args *s, struct cr_buf *user_data)
{
    if (!s->run.image_id)
        return aws_cli_usage_error(a, "run needs --image AMI");
    if (s->count && (s->min || s->max))
        return aws_cli_usage_error(a, "give --count or --min/--max, not both");
    s->run.min_count = (int)(s->count ? s->count : s->min);
    s->run.max_count = (int)(s->count ? s->count : s->max);
    if (s->user_data_file && s->user_data_text)
        return aws_cli_usage_error(a, "give --user-data or --user-data-text, not both");
    struct cr_error err = {0};
    cr_status st = CR_OK;
    if (s->user_data_file)
        st = cr__file_read(s->user_data_file, CR_EC2_MAX_USER_DATA_BYTES, user_data, &err);
    else if (s->user_data_text)
        st = cr__buf_append_str(user_data, s->user_data_text);
    if (st != CR_OK)
        return aws_cli_fail(a, st, &err);
    s->run.user_data = user_data->data;
    s->run.user_data_len = user_data->len;
    if (s->profile && strncmp(s->profile, "arn:", 4) == 0)
        s->run.iam_instance_profile_arn = s->profile;
    else
        s->run.iam_instance_profile_name = s->profile;
    return 0;
}

/* cloudrec ec2 run --image AMI ... */
static int ec2_run(struct aws_cli *a, struct ec2_args *s, int argc, char **argv)
{
    (void)argv;
    if (argc != optind)
        return aws_cli_usage_error(a, "run takes no positional arguments");
    struct cr_buf user_data;
    cr_buf_init(&user_data, 0);
    struct cr_aws *aws = NULL;
    struct cr_ec2_instances *set = NULL;
    int rc = run_prepare(a, s, &user_data);
    if (rc == 0)
        rc = aws_cli_open(a, &aws);
    if (rc == 0) {
        struct cr_error err = {0};
        cr_status st = cr_ec2_run_instances(aws, &s->run, &set, &err);
        int first = 1;
        if (st != CR_OK) {
            rc = aws_cli_fail(a, st, &err);
        } else if (a->json) {
            struct cr__jw *w = cr__jw_new();
            cr__jw_object(w, NULL);
            cr__jw_array(w, "instances");
            show_instances(a, set, w, &first);
            rc = aws_cli_print_page_json(w, NULL);
        } else {
            show_instances(a, set, NULL, &first);
        }
    }
    cr_ec2_instances_free(set);
    cr_aws_free(aws);
    cr_buf_clear(&user_data);
    return rc;
}

/* ---- ls --------------------------------------------------------------------------------- */

/* What ec2 ls lists, and whether a text line was printed yet. */
struct ec2_ls {
    const struct aws_cli *a;
    struct ec2_args *s;
    int first;
};

/* One page of ec2 ls (an aws_cli_page_fn; ctx is a struct ec2_ls). */
static cr_status ls_one_page(struct cr_aws *aws, void *ctx, const char *token, struct cr__jw *json,
                             char **next, struct cr_error *err)
{
    struct ec2_ls *ls = ctx;
    struct cr_ec2_instances *set = NULL;
    ls->s->ls.next_token = token;
    cr_status st = cr_ec2_describe_instances(aws, &ls->s->ls, &set, err);
    if (st == CR_OK)
        show_instances(ls->a, set, json, &ls->first);
    *next = set && set->next_token ? strdup(set->next_token) : NULL;
    cr_ec2_instances_free(set);
    return st;
}

/* cloudrec ec2 ls [filters] [ID...] */
static int ec2_ls(struct aws_cli *a, struct ec2_args *s, int argc, char **argv)
{
    for (int i = optind; i < argc; i++)
        if (push(a, s->ids, &s->ls.num_instance_ids, argv[i], "instance ids"))
            return AWS_EXIT_USAGE;
    struct ec2_ls ls = {a, s, 1};
    return aws_cli_ls(a, "instances", "instances", s->ls.next_token, s->one_page, ls_one_page,
                      &ls);
}

/* ---- terminate ------------------------------------------------------------------------- */

/* Prints state changes as lines or one JSON document. */
static int print_changes(const struct aws_cli *a, const struct cr_ec2_state_changes *c)
{
    if (!a->json) {
        for (size_t i = 0; i < c->count; i++)
            printf("%s  %s -> %s\n", c->changes[i].instance_id,
                   c->changes[i].previous_state ? c->changes[i].previous_state : "?",
                   c->changes[i].current_state ? c->changes[i].current_state : "?");
        return AWS_EXIT_OK;
    }
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_array(w, "terminated");
    for (size_t i = 0; i < c->count; i++) {
        cr__jw_object(w, NULL);
        cr__jw_text(w, "instance_id", c->changes[i].instance_id ? c->changes[i].instance_id : "");
        cr__jw_text(w, "previous_state", c->changes[i].previous_state);
        cr__jw_text(w, "current_state", c->changes[i].current_state);
        cr__jw_end(w);
    }
    cr__jw_end(w);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* cloudrec ec2 terminate ID... */
static int ec2_terminate(struct aws_cli *a, struct ec2_args *s, int argc, char **argv)
{
    (void)s;
    if (argc - optind < 1)
        return aws_cli_usage_error(a, "terminate needs at least one instance id");
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_error err = {0};
    struct cr_ec2_state_changes *c = NULL;
    cr_status st = cr_ec2_terminate_instances(aws, (const char *const *)argv + optind,
                                              (size_t)(argc - optind), &c, &err);
    rc = st == CR_OK ? print_changes(a, c) : aws_cli_fail(a, st, &err);
    cr_ec2_state_changes_free(c);
    cr_aws_free(aws);
    return rc;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef int (*ec2_cmd_fn)(struct aws_cli *, struct ec2_args *, int, char **);

int cloudrec_cmd_ec2(int argc, char **argv)
{
    static const struct {
        const char *name;
        ec2_cmd_fn fn;
    } cmds[] = {{"run", ec2_run}, {"ls", ec2_ls}, {"terminate", ec2_terminate}};
    char prog[64];
    int rc, i = aws_cli_command(&ec2_program, argc, argv, cmds, sizeof(cmds[0]),
                                sizeof(cmds) / sizeof(cmds[0]), prog, sizeof(prog), &rc);
    if (i < 0)
        return rc;
    struct ec2_line *c = calloc(1, sizeof(*c));
    if (!c) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return AWS_EXIT_FAIL;
    }
    rc = aws_cli_parse(&ec2_program, &c->a, c, argc - 1, argv + 1, prog);
    c->s.run.security_group_ids = c->s.sg_ids;
    c->s.run.security_group_names = c->s.sg_names;
    c->s.ls.instance_ids = c->s.ids;
    if (rc < 0)
        rc = cmds[i].fn(&c->a, &c->s, argc - 1, argv + 1);
    ec2_args_clear(&c->s);
    free(c);
    return rc;
}
