/*
 * queue_probe - drives a queue through the public API for the integration
 * tests, printing one JSON document per command on stdout.
 *
 *   queue_probe create URL [VISIBILITY_S [MAX_RECEIVES DEAD_LETTER_URL]]
 *   queue_probe send URL BODY                  -> {"id":"..."}
 *   queue_probe receive URL MAX WAIT_MS [delete] -> [{"id","body","receive_count"},...]
 *   queue_probe counts URL                     -> {"visible":N,"in_flight":N}
 *
 * Exit status 0 on success, 1 with the error on stderr otherwise.
 */
#include "cloudrec.h"
#include "cloudrec/queue.h"
#include "core/json.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Prints the failure and returns the exit status. */
static int fail(const char *what, cr_status st, const struct cr_error *err)
{
    fprintf(stderr, "queue_probe: %s: %s\n", what,
            err->message[0] ? err->message : cr_strerror(st));
    return 1;
}

/* Prints the document w holds on one line and releases w; 0, or 1 with a
 * message when it could not be written. */
static int print_json(struct cr__jw *w)
{
    struct cr_buf out;
    cr_buf_init(&out, 0);
    cr_status st = cr__jw_finish(w, &out);
    if (st == CR_OK)
        printf("%s\n", (const char *)out.data);
    else
        fprintf(stderr, "queue_probe: cannot write JSON: %s\n", cr_strerror(st));
    cr_buf_free(&out);
    return st == CR_OK ? 0 : 1;
}

static int cmd_create(int argc, char **argv, struct cr_error *err)
{
    struct cr_queue_options o = {.create = 1};
    if (argc > 3)
        o.visibility_timeout_s = atoi(argv[3]);
    if (argc > 5) {
        o.max_receive_count = atoi(argv[4]);
        o.dead_letter_url = argv[5];
    }
    struct cr_queue *q = NULL;
    cr_status st = cr_queue_open(argv[2], &o, &q, err);
    cr_queue_free(q);
    if (st != CR_OK)
        return fail("create", st, err);
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_bool(w, "created", 1);
    cr__jw_end(w);
    return print_json(w);
}

static int cmd_send(int argc, char **argv, struct cr_error *err)
{
    if (argc < 4)
        return fail("send needs URL BODY", CR_ERR_INVALID, err);
    struct cr_queue *q = NULL;
    char id[CR_UUID_STR_LEN + 64];
    cr_status st = cr_queue_open(argv[2], NULL, &q, err);
    if (st == CR_OK)
        st = cr_queue_send(q, argv[3], strlen(argv[3]), id, sizeof(id), err);
    cr_queue_free(q);
    if (st != CR_OK)
        return fail("send", st, err);
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_string(w, "id", id);
    cr__jw_end(w);
    return print_json(w);
}

/* Writes one received message as a JSON object. */
static void json_message(struct cr__jw *w, const struct cr_queue_message *m)
{
    cr__jw_object(w, NULL);
    cr__jw_text(w, "id", m->id);
    cr__jw_text(w, "body", m->body);
    cr__jw_int(w, "receive_count", m->receive_count);
    cr__jw_end(w);
}

static int cmd_receive(int argc, char **argv, struct cr_error *err)
{
    if (argc < 5)
        return fail("receive needs URL MAX WAIT_MS", CR_ERR_INVALID, err);
    int del = argc > 5 && strcmp(argv[5], "delete") == 0;
    struct cr_queue *q = NULL;
    struct cr_queue_message msgs[CR_QUEUE_MAX_BATCH];
    memset(msgs, 0, sizeof(msgs));
    size_t n = 0;
    cr_status st = cr_queue_open(argv[2], NULL, &q, err);
    if (st == CR_OK)
        st = cr_queue_receive(q, atoi(argv[3]), atoi(argv[4]), -1, msgs, &n, err);
    struct cr__jw *w = cr__jw_new();
    cr__jw_array(w, NULL);
    for (size_t i = 0; i < n; i++) {
        json_message(w, &msgs[i]);
        if (del && st == CR_OK)
            st = cr_queue_delete(q, msgs[i].receipt, err);
        cr_queue_message_clear(&msgs[i]);
    }
    cr__jw_end(w);
    int printed = print_json(w);
    cr_queue_free(q);
    return st == CR_OK ? printed : fail("receive", st, err);
}

static int cmd_counts(int argc, char **argv, struct cr_error *err)
{
    (void)argc;
    struct cr_queue *q = NULL;
    long visible = 0, in_flight = 0;
    cr_status st = cr_queue_open(argv[2], NULL, &q, err);
    if (st == CR_OK)
        st = cr_queue_counts(q, &visible, &in_flight, err);
    cr_queue_free(q);
    if (st != CR_OK)
        return fail("counts", st, err);
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "visible", visible);
    cr__jw_int(w, "in_flight", in_flight);
    cr__jw_end(w);
    return print_json(w);
}

int main(int argc, char **argv)
{
    struct cr_error err = {0};
    if (argc < 3) {
        fprintf(stderr, "usage: queue_probe create|send|receive|counts URL ...\n");
        return 2;
    }
    if (strcmp(argv[1], "create") == 0)
        return cmd_create(argc, argv, &err);
    if (strcmp(argv[1], "send") == 0)
        return cmd_send(argc, argv, &err);
    if (strcmp(argv[1], "receive") == 0)
        return cmd_receive(argc, argv, &err);
    if (strcmp(argv[1], "counts") == 0)
        return cmd_counts(argc, argv, &err);
    fprintf(stderr, "queue_probe: unknown command '%s'\n", argv[1]);
    return 2;
}
