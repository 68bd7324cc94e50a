/*
 * fake_worker - a stand-in for cloudrec-worker in the web tier's tests: it
 * answers request messages without a model, with a label the test can
 * predict from the file's bytes: "label-<size>-<FNV-1a hash in hex>". Files
 * whose name starts with "bad" get an error answer instead.
 *
 *   fake_worker --requests URL [--output URL] [--dup N] [--delay-ms N]
 *               [--exit-after N]
 *
 * --dup N sends every answer N times (at-least-once delivery at its worst),
 * --delay-ms waits before answering, --output stores the result under
 * "<id>.json" and <stem> -> label as the real worker does. Prints "ready" on stdout once it listens; SIGTERM or
 * SIGINT ends it. Uses only the public API.
 */
#include "cloudrec.h"
#include "cloudrec/queue.h"
#include "cloudrec/store.h"
#include "cloudrec/worker.h"
#include "pipeline/message.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static volatile sig_atomic_t g_stop;

struct fake {
    struct cr_queue *requests;
    struct cr_store *output; /* NULL: results are not stored */
    struct cr_store *input;  /* opened for the first request's input URL */
    struct cr_queue *reply;  /* opened for the first request's reply URL */
    int dup;
    long delay_ms;
    long exit_after;
    long answered;
};

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Opens the input store and reply queue the request names, once. */
static cr_status open_targets(struct fake *f, const struct cr_request_msg *req,
                              struct cr_error *err)
{
    struct cr_queue_options qo = {.create = 1};
    cr_status st = CR_OK;
    if (!f->input)
        st = cr_store_open(req->input, &f->input, err);
    if (st == CR_OK && !f->reply)
        st = cr_queue_open(req->reply, &qo, &f->reply, err);
    return st;
}

/* FNV-1a over the image, so every distinct image gets its own label. */
static unsigned fnv1a(const unsigned char *p, size_t n)
{
    unsigned h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Fills the answer for one request: the predictable label or an error. */
static void make_answer(struct fake *f, const struct cr_request_msg *req,
                        struct cr_response_msg *resp)
{
    struct cr_buf image;
    struct cr_error err = {0};
    cr_buf_init(&image, 0);
    memset(resp, 0, sizeof(*resp));
    snprintf(resp->id, sizeof(resp->id), "%s", req->id);
    snprintf(resp->name, sizeof(resp->name), "%s", req->name);
    snprintf(resp->worker, sizeof(resp->worker), "fake");
    if (strncmp(req->name, "bad", 3) == 0) {
        snprintf(resp->error, sizeof(resp->error), "fake worker refuses %s", req->name);
    } else if (cr_store_get(f->input, req->key, 0, &image, &err) != CR_OK || image.len == 0) {
        snprintf(resp->error, sizeof(resp->error), "cannot read %.200s: %.280s", req->key,
                 err.message);
    } else {
        snprintf(resp->label, sizeof(resp->label), "label-%zu-%08x", image.len,
                 fnv1a(image.data, image.len));
        resp->num_top = 1;
        snprintf(resp->top[0].label, sizeof(resp->top[0].label), "%s", resp->label);
        resp->top[0].probability = 0.5f;
        resp->processing_ms = 1;
    }
    cr_buf_free(&image);
}

/* Stores the result (when there is an output store) and sends the answer
 * f->dup times. */
static void answer(struct fake *f, const struct cr_request_msg *req)
{
    struct cr_response_msg resp;
    struct cr_buf body;
    char stem[256], key[64];
    cr_buf_init(&body, 0);
    make_answer(f, req, &resp);
    if (cr_response_msg_encode(&resp, &body) == CR_OK && f->output &&
        cr_result_key(req->id, key, sizeof(key)) == CR_OK)
        cr_store_put(f->output, key, body.data, body.len, NULL);
    if (f->output && !resp.error[0] && cr_output_key(req->name, stem, sizeof(stem)) == CR_OK)
        cr_store_put(f->output, stem, resp.label, strlen(resp.label), NULL);
    if (f->delay_ms > 0)
        sleep_ms(f->delay_ms);
    if (body.len > 0)
        for (int i = 0; i < f->dup; i++)
            cr_queue_send(f->reply, body.data, body.len, NULL, 0, NULL);
    cr_buf_free(&body);
}

/* Handles one received message; it is deleted whatever happens. */
static void handle(struct fake *f, const struct cr_queue_message *m)
{
    struct cr_request_msg req;
    struct cr_error err = {0};
    if (cr_request_msg_decode(m->body, m->body_len, &req, &err) == CR_OK &&
        open_targets(f, &req, &err) == CR_OK)
        answer(f, &req);
    else
        fprintf(stderr, "fake_worker: %s\n", err.message);
    cr_queue_delete(f->requests, m->receipt, NULL);
    f->answered++;
}

static void run(struct fake *f)
{
    while (!g_stop && (f->exit_after <= 0 || f->answered < f->exit_after)) {
        struct cr_queue_message msgs[CR_QUEUE_MAX_BATCH];
        size_t n = 0;
        memset(msgs, 0, sizeof(msgs));
        if (cr_queue_receive(f->requests, CR_QUEUE_MAX_BATCH, 200, 30, msgs, &n, NULL) != CR_OK)
            sleep_ms(100);
        for (size_t i = 0; i < n; i++) {
            handle(f, &msgs[i]);
            cr_queue_message_clear(&msgs[i]);
        }
    }
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"requests", required_argument, NULL, 'r'},   {"output", required_argument, NULL, 'o'},
        {"dup", required_argument, NULL, 'd'},        {"delay-ms", required_argument, NULL, 'w'},
        {"exit-after", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0}};
    struct fake f = {.dup = 1};
    const char *requests = NULL, *output = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'r')
            requests = optarg;
        else if (c == 'o')
            output = optarg;
        else if (c == 'd')
            f.dup = atoi(optarg);
        else if (c == 'w')
            f.delay_ms = atol(optarg);
        else if (c == 'x')
            f.exit_after = atol(optarg);
        else
            return 2;
    }
    if (!requests) {
        fprintf(stderr, "fake_worker: --requests is required\n");
        return 2;
    }
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    struct cr_error err = {0};
    struct cr_queue_options qo = {.create = 1};
    if (cr_queue_open(requests, &qo, &f.requests, &err) != CR_OK ||
        (output && cr_store_open(output, &f.output, &err) != CR_OK)) {
        fprintf(stderr, "fake_worker: %s\n", err.message);
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    run(&f);
    cr_queue_free(f.reply);
    cr_store_free(f.input);
    cr_store_free(f.output);
    cr_queue_free(f.requests);
    return 0;
}
