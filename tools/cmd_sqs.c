/*
 * cmd_sqs.c - `cloudrec sqs create|url|send|recv|del|visibility|attrs|purge`:
 * SQS queues and messages through cloudrec/sqs.h. A QUEUE argument is a
 * queue URL (http:// or https://) or a name, which is looked up first.
 */
#include "cmd_aws_common.h"
#include "tool_util.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

#define MAX_ATTRS 16

/* Flags of the sqs commands. */
struct sqs_args {
    struct cr_sqs_create_options create;
    struct cr_sqs_attribute attrs[MAX_ATTRS];
    char *attr_text[MAX_ATTRS]; /* NAME=VALUE copies, split in place */
    struct cr_sqs_receive_options recv;
    long long delay_s;
    long long seconds; /* visibility's SECONDS argument */
};

/* Parses NAME=VALUE for --attr. */
static int add_attr(struct sqs_args *s, struct aws_cli *a, const char *arg)
{
    size_t n = s->create.num_attributes;
    struct cr_sqs_attribute *at = &s->attrs[n < MAX_ATTRS ? n : 0];
    if (aws_cli_split_kv(a, "--attr", arg, n, MAX_ATTRS, &s->attr_text[n], &at->name,
                         &at->value))
        return AWS_EXIT_USAGE;
    s->create.attributes = s->attrs;
    s->create.num_attributes = n + 1;
    return 0;
}

/* Parses a number flag into *out (0 is sent as CR_SQS_ZERO where it
 * matters); prints why on error. */
static int number(struct aws_cli *a, const char *flag, const char *arg, long lo, long hi, int *out)
{
    long long v;
    if (!tool_parse_int(arg, lo, hi, &v))
        return aws_cli_usage_error(a, "%s must be %ld..%ld, got '%s'", flag, lo, hi, arg);
    *out = v == 0 ? CR_SQS_ZERO : (int)v;
    return 0;
}

/* What an sqs command line holds. */
struct sqs_line {
    struct aws_cli a;
    struct sqs_args s;
};

enum { SQS_VISIBILITY = 1, SQS_WAIT, SQS_ATTR };

/* The flags that set more than one field, or copy (a CR__OPT_FN). */
static int sqs_apply(void *cmd, const struct cr__opt *o, const char *arg)
{
    struct sqs_args *s = &((struct sqs_line *)cmd)->s;
    struct aws_cli a = {.prog = "cloudrec sqs"};
    int v = 0, rc;
    switch (o->code) {
    case SQS_VISIBILITY:
        rc = number(&a, "--visibility", arg, 0, CR_SQS_MAX_VISIBILITY_S, &v);
        s->create.visibility_timeout_s = s->recv.visibility_timeout_s = v;
        return rc == 0;
    case SQS_WAIT:
        rc = number(&a, "--wait", arg, 0, CR_SQS_MAX_WAIT_S, &v);
        s->create.receive_wait_s = s->recv.wait_s = v;
        return rc == 0;
    default:
        return add_attr(s, &a, arg) == 0;
    }
}

#define SQ(f) offsetof(struct sqs_line, s.f)

static const struct cr__opt sqs_opts[] = {
    AWS_CLI_OPTS(struct sqs_line),
    {.name = "visibility", .type = CR__OPT_FN, .apply = sqs_apply, .takes_value = 1,
     .code = SQS_VISIBILITY, .metavar = "S",
     .help = "create: the queue's visibility timeout; recv: the messages' (0..43200)"},
    {.name = "retention", .type = CR__OPT_INT, .offset = SQ(create.message_retention_s),
     .metavar = "S", .help = "create: how long messages are kept", .lo = 60, .hi = 1209600},
    {.name = "wait", .type = CR__OPT_FN, .apply = sqs_apply, .takes_value = 1, .code = SQS_WAIT,
     .metavar = "S",
     .help = "create: the queue's default long poll; recv: this poll's (0..20, default the "
             "queue's)"},
    {.name = "dlq", .type = CR__OPT_STR, .offset = SQ(create.dead_letter_target_arn),
     .metavar = "ARN", .help = "create: the dead letter queue (its QueueArn, see attrs)"},
    {.name = "max-receives", .type = CR__OPT_INT, .offset = SQ(create.max_receive_count),
     .metavar = "N", .help = "create, with --dlq: receives before a message moves there",
     .lo = 1, .hi = 1000},
    {.name = "attr", .type = CR__OPT_FN, .apply = sqs_apply, .takes_value = 1, .code = SQS_ATTR,
     .metavar = "NAME=VALUE", .help = "create: one more queue attribute (repeatable, 16 at most)"},
    {.name = "delay", .type = CR__OPT_I64, .offset = SQ(delay_s), .metavar = "S",
     .help = "send: deliver the messages this much later", .lo = 0, .hi = 900},
    {.name = "max", .type = CR__OPT_INT, .offset = SQ(recv.max_messages), .metavar = "N",
     .help = "recv: messages at most", .lo = 1, .hi = CR_SQS_MAX_BATCH},
};

static const struct cr__program sqs_program = {
    .name = "cloudrec sqs",
    .synopsis = "COMMAND ARGS [options]",
    .about = "Commands:\n"
             "  cloudrec sqs create NAME [--visibility S] [--retention S] [--wait S]\n"
             "                           [--dlq ARN --max-receives N] [--attr NAME=VALUE]...\n"
             "  cloudrec sqs url NAME\n"
             "  cloudrec sqs send QUEUE BODY... [--delay S]\n"
             "  cloudrec sqs recv QUEUE [--max N] [--wait S] [--visibility S]\n"
             "  cloudrec sqs del QUEUE RECEIPT...\n"
             "  cloudrec sqs visibility QUEUE RECEIPT SECONDS\n"
             "  cloudrec sqs attrs QUEUE\n"
             "  cloudrec sqs purge QUEUE\n"
             "\n"
             "QUEUE is a queue URL or a queue name. A BODY of - is read from stdin.\n"
             "create      creates the queue (or finds it with the same attributes), prints\n"
             "            its URL; --dlq names a dead letter queue ARN (see attrs).\n"
             "send        sends each BODY; several go in batches of up to 10.\n"
             "recv        long-polls up to --wait seconds for up to --max messages; prints\n"
             "            id, receive count, sent time, body and receipt handle.\n"
             "del         deletes messages by receipt handle (batches of up to 10).\n"
             "visibility  sets a received message's remaining invisibility (0 = now).\n"
             "attrs       prints every queue attribute (message counts, QueueArn, ...).\n"
             "purge       deletes every message (once a minute per queue at most).\n\n",
    .epilog = AWS_CLI_EPILOG,
    .opts = sqs_opts,
    .n_opts = sizeof(sqs_opts) / sizeof(sqs_opts[0]),
    .size = sizeof(struct sqs_line),
    .operands = CR__OPERANDS_ANY,
};


/* Releases the --attr copies. */
static void sqs_args_clear(struct sqs_args *s)
{
    for (size_t i = 0; i < MAX_ATTRS; i++)
        free(s->attr_text[i]);
}

/* Opens the context and turns QUEUE (a URL or a name) into a URL in url.
 * Returns 0, or the exit status after printing why. */
static int open_queue(const struct aws_cli *a, const char *queue, struct cr_aws **aws,
                      struct cr_buf *url)
{
    int rc = aws_cli_open(a, aws);
    if (rc)
        return rc;
    struct cr_error err = {0};
    cr_status st = strncmp(queue, "http://", 7) == 0 || strncmp(queue, "https://", 8) == 0
                       ? cr__buf_append_str(url, queue)
                       : cr_sqs_get_queue_url(*aws, queue, url, &err);
    return st == CR_OK ? 0 : aws_cli_fail(a, st, &err);
}

/* What a command does once QUEUE is the queue URL url: its call and its
 * output, with args[0..n) the arguments after QUEUE. Returns the exit
 * status. */
typedef int (*queue_fn)(struct cr_aws *aws, const struct aws_cli *a, const char *url,
                        struct sqs_args *s, size_t n, char **args);

/* Opens the context, resolves QUEUE (argv[optind]) and runs fn on it. */
static int with_queue(const struct aws_cli *a, struct sqs_args *s, int argc, char **argv,
                      queue_fn fn)
{
    struct cr_aws *aws = NULL;
    struct cr_buf url;
    cr_buf_init(&url, 0);
    int rc = open_queue(a, argv[optind], &aws, &url);
    if (rc == 0)
        rc = fn(aws, a, (const char *)url.data, s, (size_t)(argc - optind - 1), argv + optind + 1);
    cr_buf_clear(&url);
    cr_aws_free(aws);
    return rc;
}

/* Prints {"queue_url": url} or the URL alone. */
static int print_url(const struct aws_cli *a, const char *url)
{
    if (!a->json) {
        printf("%s\n", url);
        return AWS_EXIT_OK;
    }
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_text(w, "queue_url", url);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* ---- create / url ------------------------------------------------------------------ */

/* Prints the URL of queue name: created with the options create when it
 * is not NULL, else looked up. */
static int name_to_url(struct aws_cli *a, const struct cr_sqs_create_options *create,
                       const char *name)
{
    struct cr_aws *aws = NULL;
    int rc = aws_cli_open(a, &aws);
    if (rc)
        return rc;
    struct cr_buf url;
    cr_buf_init(&url, 0);
    struct cr_error err = {0};
    cr_status st = create ? cr_sqs_create_queue(aws, name, create, &url, &err)
                          : cr_sqs_get_queue_url(aws, name, &url, &err);
    rc = st == CR_OK ? print_url(a, (const char *)url.data) : aws_cli_fail(a, st, &err);
    cr_buf_clear(&url);
    cr_aws_free(aws);
    return rc;
}

/* cloudrec sqs create NAME */
static int sqs_create(struct aws_cli *a, struct sqs_args *s, int argc, char **argv)
{
    (void)argc;
    return name_to_url(a, &s->create, argv[optind]);
}

/* cloudrec sqs url NAME */
static int sqs_url(struct aws_cli *a, struct sqs_args *s, int argc, char **argv)
{
    (void)s;
    (void)argc;
    return name_to_url(a, NULL, argv[optind]);
}

/* ---- batch reporting (send, del) --------------------------------------------------- */

/* One send or del run: where its calls go and what it has reported. */
struct batch_run {
    struct cr_aws *aws;
    const struct aws_cli *a;
    const char *url;
    int delay_s;        /* send: every message's delay */
    struct cr__jw *json; /* the --json document so far */
    int failed;          /* entries that failed */
};

/* Writes one entry's outcome as JSON; human lines go out as they come. */
static void report_entry(const struct aws_cli *a, struct cr__jw *json, size_t index, int ok,
                         const char *id, const char *code, const char *msg)
{
    if (!a->json) {
        if (ok)
            printf("%s\n", id ? id : "ok");
        else
            fprintf(stderr, "%s: entry %zu: %s: %s\n", a->prog, index, code ? code : "?",
                    msg ? msg : "");
        return;
    }
    cr__jw_object(json, NULL);
    cr__jw_int(json, "index", (int64_t)index);
    cr__jw_bool(json, "ok", ok);
    if (id)
        cr__jw_text(json, "message_id", id);
    if (!ok) {
        cr__jw_text(json, "code", code);
        cr__jw_text(json, "error", msg);
    }
    cr__jw_end(json);
}

/* Reports a call on entries [first, first+n): each entry's result from the
 * batch b, or, when there is none, the call's outcome for all of them (a
 * failure also gets its one-line message). id is a single send's message
 * id. Counts the failures in r->failed. */
static void report_chunk(struct batch_run *r, size_t first, size_t n, const struct cr_sqs_batch *b,
                         const char *id, cr_status st, const struct cr_error *err)
{
    r->failed += b ? (int)b->num_failed : st != CR_OK ? (int)n : 0;
    if (!b && st != CR_OK && !r->a->json) {
        aws_cli_fail(r->a, st, err);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct cr_sqs_batch_result *e = b ? &b->results[i] : NULL;
        if (e)
            report_entry(r->a, r->json, first + i, e->ok, e->message_id, e->code, e->message);
        else
            report_entry(r->a, r->json, first + i, st == CR_OK, id, err->aws_code, err->message);
    }
}

/* Sends or deletes items[0..n) (n <= 10) with one call, items[0] being
 * entry first of the command. */
typedef void (*chunk_fn)(struct batch_run *r, char **items, size_t n, size_t first);

/* Runs fn over items[0..total) in chunks of up to 10, then prints the JSON
 * document ({"<list>":[entries],"failed":N}) and returns the exit status. */
static int run_chunks(struct batch_run *r, const char *list, char **items, size_t total,
                      chunk_fn fn)
{
    r->json = r->a->json ? cr__jw_new() : NULL;
    cr__jw_object(r->json, NULL);
    cr__jw_array(r->json, list);
    for (size_t i = 0; i < total && (!r->a->json || cr__jw_status(r->json) == CR_OK);
         i += CR_SQS_MAX_BATCH)
        fn(r, items + i, total - i < CR_SQS_MAX_BATCH ? total - i : CR_SQS_MAX_BATCH, i);
    int rc = AWS_EXIT_OK;
    if (r->a->json) {
        cr__jw_end(r->json);
        cr__jw_int(r->json, "failed", r->failed);
        cr__jw_end(r->json);
        rc = aws_cli_print_json(r->json);
    }
    return r->failed ? AWS_EXIT_FAIL : rc;
}

/* ---- send ------------------------------------------------------------------------------ */

/* The body of a BODY argument: the text, or stdin for "-". */
static cr_status body_of(const char *arg, struct cr_buf *buf)
{
    if (strcmp(arg, "-") != 0)
        return cr__buf_append_str(buf, arg);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
        if (cr__buf_append(buf, chunk, n) != CR_OK)
            return CR_ERR_NOMEM;
    return ferror(stdin) ? CR_ERR_IO : CR_OK;
}

/* Sends bodies[0..n) (n <= 10) with one call (a chunk_fn). */
static void send_chunk(struct batch_run *r, char **bodies, size_t n, size_t first)
{
    struct cr_sqs_send_entry e[CR_SQS_MAX_BATCH];
    struct cr_buf text[CR_SQS_MAX_BATCH];
    struct cr_error err = {0};
    cr_status st = CR_OK;
    for (size_t i = 0; i < n; i++) {
        cr_buf_init(&text[i], 0);
        if (st == CR_OK)
            st = body_of(bodies[i], &text[i]);
        e[i] = (struct cr_sqs_send_entry){text[i].data ? text[i].data : (unsigned char *)"",
                                          text[i].len, r->delay_s};
    }
    struct cr_sqs_batch *b = NULL;
    struct cr_buf id;
    cr_buf_init(&id, 0);
    struct cr_sqs_send_options so = {.delay_s = r->delay_s};
    if (st != CR_OK)
        cr_error_clear(&err);
    else if (n == 1)
        st = cr_sqs_send(r->aws, r->url, e[0].body, e[0].len, &so, &id, &err);
    else
        st = cr_sqs_send_batch(r->aws, r->url, e, n, &b, &err);
    report_chunk(r, first, n, b, (const char *)id.data, st, &err);
    cr_sqs_batch_free(b);
    cr_buf_clear(&id);
    for (size_t i = 0; i < n; i++)
        cr_buf_clear(&text[i]);
}

/* cloudrec sqs send QUEUE BODY...: sends every BODY (a queue_fn). */
static int send_all(struct cr_aws *aws, const struct aws_cli *a, const char *url,
                    struct sqs_args *s, size_t n, char **bodies)
{
    struct batch_run r = {.aws = aws, .a = a, .url = url, .delay_s = (int)s->delay_s};
    return run_chunks(&r, "messages", bodies, n, send_chunk);
}

/* ---- recv ------------------------------------------------------------------------------ */

/* Writes one message as JSON. */
static void json_message(struct cr__jw *w, const struct cr_sqs_message *m)
{
    cr__jw_object(w, NULL);
    cr__jw_text(w, "message_id", m->message_id ? m->message_id : "");
    cr__jw_text(w, "receipt_handle", m->receipt_handle);
    cr__jw_text(w, "body", m->body);
    cr__jw_text(w, "md5_of_body", m->md5_of_body);
    cr__jw_int(w, "receive_count", m->receive_count);
    cr__jw_int(w, "sent_ms", m->sent_ms);
    cr__jw_int(w, "first_receive_ms", m->first_receive_ms);
    cr__jw_object(w, "attributes");
    aws_cli_json_pairs(w, m->attribute_names, m->attribute_values, m->num_attributes);
    cr__jw_end(w);
    cr__jw_end(w);
}

/* Prints received messages as a table or one JSON document. */
static int print_messages(const struct aws_cli *a, const struct cr_sqs_messages *msgs)
{
    if (!a->json) {
        if (msgs->count)
            printf("%-36s  %8s  %-20s  %s\n", "MESSAGE ID", "RECEIVES", "SENT (UTC)", "BODY");
        for (size_t i = 0; i < msgs->count; i++) {
            const struct cr_sqs_message *m = &msgs->messages[i];
            char t[21];
            aws_cli_time(m->sent_ms / 1000, t);
            printf("%-36s  %8d  %-20s  %s\n  receipt: %s\n", m->message_id ? m->message_id : "-",
                   m->receive_count, t, m->body, m->receipt_handle);
        }
        return AWS_EXIT_OK;
    }
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_array(w, "messages");
    for (size_t i = 0; i < msgs->count; i++)
        json_message(w, &msgs->messages[i]);
    cr__jw_end(w);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* cloudrec sqs recv QUEUE: receives and prints messages (a queue_fn). */
static int recv_messages(struct cr_aws *aws, const struct aws_cli *a, const char *url,
                         struct sqs_args *s, size_t n, char **args)
{
    (void)n;
    (void)args;
    struct cr_sqs_messages *msgs = NULL;
    struct cr_error err = {0};
    cr_status st = cr_sqs_receive(aws, url, &s->recv, &msgs, &err);
    int rc = st == CR_OK ? print_messages(a, msgs) : aws_cli_fail(a, st, &err);
    cr_sqs_messages_free(msgs);
    return rc;
}

/* ---- del / visibility ----------------------------------------------------------------- */

/* Deletes receipts[0..n) (n <= 10) with one call (a chunk_fn). */
static void del_chunk(struct batch_run *r, char **receipts, size_t n, size_t first)
{
    struct cr_error err = {0};
    struct cr_sqs_batch *b = NULL;
    cr_status st =
        n == 1 ? cr_sqs_delete(r->aws, r->url, receipts[0], &err)
               : cr_sqs_delete_batch(r->aws, r->url, (const char *const *)receipts, n, &b, &err);
    report_chunk(r, first, n, b, NULL, st, &err);
    cr_sqs_batch_free(b);
}

/* cloudrec sqs del QUEUE RECEIPT...: deletes every RECEIPT (a queue_fn). */
static int del_all(struct cr_aws *aws, const struct aws_cli *a, const char *url, struct sqs_args *s,
                   size_t n, char **receipts)
{
    (void)s;
    struct batch_run r = {.aws = aws, .a = a, .url = url};
    return run_chunks(&r, "deleted", receipts, n, del_chunk);
}

/* Sets RECEIPT's visibility to s->seconds (a queue_fn). */
static int set_visibility(struct cr_aws *aws, const struct aws_cli *a, const char *url,
                          struct sqs_args *s, size_t n, char **args)
{
    (void)n;
    struct cr_error err = {0};
    cr_status st = cr_sqs_change_visibility(aws, url, args[0], (int)s->seconds, &err);
    if (st != CR_OK)
        return aws_cli_fail(a, st, &err);
    if (!a->json) {
        printf("visible again in %lld s\n", s->seconds);
        return AWS_EXIT_OK;
    }
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "visibility_timeout_s", s->seconds);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* cloudrec sqs visibility QUEUE RECEIPT SECONDS */
static int sqs_visibility(struct aws_cli *a, struct sqs_args *s, int argc, char **argv)
{
    if (!tool_parse_int(argv[optind + 2], 0, CR_SQS_MAX_VISIBILITY_S, &s->seconds))
        return aws_cli_usage_error(a, "SECONDS must be 0..%d, got '%s'", CR_SQS_MAX_VISIBILITY_S,
                                   argv[optind + 2]);
    return with_queue(a, s, argc, argv, set_visibility);
}

/* ---- attrs / purge ----------------------------------------------------------------------- */

/* Prints a queue's attributes as NAME VALUE lines or one JSON object. */
static int print_attrs(const struct aws_cli *a, const struct cr_sqs_queue_attributes *at)
{
    if (!a->json) {
        for (size_t i = 0; i < at->count; i++)
            printf("%-40s %s\n", at->names[i], at->values[i]);
        return AWS_EXIT_OK;
    }
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    aws_cli_json_pairs(w, at->names, at->values, at->count);
    cr__jw_end(w);
    return aws_cli_print_json(w);
}

/* cloudrec sqs attrs QUEUE: prints the queue's attributes (a queue_fn). */
static int get_attrs(struct cr_aws *aws, const struct aws_cli *a, const char *url,
                     struct sqs_args *s, size_t n, char **args)
{
    (void)s;
    (void)n;
    (void)args;
    struct cr_sqs_queue_attributes *at = NULL;
    struct cr_error err = {0};
    cr_status st = cr_sqs_get_attributes(aws, url, &at, &err);
    int rc = st == CR_OK ? print_attrs(a, at) : aws_cli_fail(a, st, &err);
    cr_sqs_queue_attributes_free(at);
    return rc;
}

/* cloudrec sqs purge QUEUE: deletes every message (a queue_fn). */
static int purge(struct cr_aws *aws, const struct aws_cli *a, const char *url, struct sqs_args *s,
                 size_t n, char **args)
{
    (void)s;
    (void)n;
    (void)args;
    struct cr_error err = {0};
    cr_status st = cr_sqs_purge(aws, url, &err);
    if (st != CR_OK)
        return aws_cli_fail(a, st, &err);
    if (a->json)
        return print_url(a, url);
    printf("purged %s\n", url);
    return AWS_EXIT_OK;
}

/* ---- dispatch ------------------------------------------------------------------------------ */

typedef int (*sqs_cmd_fn)(struct aws_cli *, struct sqs_args *, int, char **);

/* An sqs command: its positional arguments (max -1: no limit) and either
 * its function or, for one that works on QUEUE, what it does there. */
struct sqs_cmd {
    const char *name;
    int min_args, max_args;
    sqs_cmd_fn fn;
    queue_fn on_queue;
};

/* Runs command c once its flags are parsed into a and s. */
static int sqs_run(const struct sqs_cmd *c, struct aws_cli *a, struct sqs_args *s, int argc,
                   char **argv)
{
    if (!aws_cli_want_args(a, argc - optind, c->min_args, c->max_args))
        return AWS_EXIT_USAGE;
    return c->fn ? c->fn(a, s, argc, argv) : with_queue(a, s, argc, argv, c->on_queue);
}

int cloudrec_cmd_sqs(int argc, char **argv)
{
    static const struct sqs_cmd cmds[] = {
        {"create", 1, 1, sqs_create, NULL}, {"url", 1, 1, sqs_url, NULL},
        {"send", 2, -1, NULL, send_all},    {"recv", 1, 1, NULL, recv_messages},
        {"del", 2, -1, NULL, del_all},      {"visibility", 3, 3, sqs_visibility, NULL},
        {"attrs", 1, 1, NULL, get_attrs},   {"purge", 1, 1, NULL, purge}};
    char prog[64];
    int rc, i = aws_cli_command(&sqs_program, argc, argv, cmds, sizeof(cmds[0]),
                                sizeof(cmds) / sizeof(cmds[0]), prog, sizeof(prog), &rc);
    if (i < 0)
        return rc;
    struct sqs_line c;
    rc = aws_cli_parse(&sqs_program, &c.a, &c, argc - 1, argv + 1, prog);
    if (rc < 0)
        rc = sqs_run(&cmds[i], &c.a, &c.s, argc - 1, argv + 1);
    sqs_args_clear(&c.s);
    return rc;
}
