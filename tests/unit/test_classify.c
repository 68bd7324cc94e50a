/* test_classify.c - the Darknet wrapper: loading checks, top-k, threads. */
#include "classifier_fixture.h"
#include "cloudrec.h"
#include "tap.h"
#include "internal.h"
#include "vision/classify_internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DOG "/usr/share/darknet/data/dog.jpg"
#define EAGLE "/usr/share/darknet/data/eagle.jpg"

/* What the stock `darknet classifier predict` prints for these images with
 * tiny.cfg and tiny.weights (tests/integration/darknet_reference.py, which
 * test_classify_cli.py checks against the stock command): top-3 labels and
 * probabilities to two decimals of a percent. */
struct stock_answer {
    const char *path;
    const char *label[3];
    float probability[3];
};
static const struct stock_answer STOCK[] = {
    {DOG, {"malamute", "Newfoundland", "dogsled"}, {0.1418f, 0.0613f, 0.0548f}},
    {EAGLE, {"bald eagle", "ruddy turnstone", "kite"}, {0.5371f, 0.1199f, 0.1183f}},
    {"/usr/share/darknet/data/giraffe.jpg", {"zebra", "tiger cat", "great grey owl"},
     {0.2963f, 0.0875f, 0.0784f}},
};

static struct cr_model_paths paths;
static char tmpdir[] = "/tmp/cloudrec-classify-XXXXXX";

/* The engine the tests open classifiers with: each test runs once per engine. */
static enum cr_engine engine = CR_ENGINE_NATIVE;

static cr_status open_with(const char *cfg, const char *weights, const char *names,
                           struct cr_classifier **cl, struct cr_error *err)
{
    struct cr_classifier_options o = {
        .cfg_path = cfg, .weights_path = weights, .names_path = names, .engine = engine};
    return cr_classifier_open(&o, cl, err);
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    return fixture_write(tmpdir, name, data, len);
}

static const char *write_text(const char *name, const char *text)
{
    return write_tmp(name, text, strlen(text));
}

static void test_bad_models(void)
{
    struct cr_error err;
    struct cr_classifier *cl = (struct cr_classifier *)&err; /* must be reset to NULL */
    struct cr_buf w;
    cr_buf_init(&w, 0);
    cr__file_read(paths.weights, 0, &w, NULL);

    CHECK_EQ_INT(open_with(paths.cfg, "/nonexistent/tiny.weights", paths.names, &cl, &err),
                 CR_ERR_NOT_FOUND);
    CHECK(cl == NULL);
    CHECK_MSG(strstr(err.message, "/nonexistent/tiny.weights") != NULL, "names the weights");

    const char *t = write_tmp("short.weights", w.data, w.len / 2);
    CHECK_EQ_INT(open_with(paths.cfg, t, paths.names, &cl, &err), CR_ERR_MODEL);
    CHECK_MSG(strstr(err.message, "truncated") != NULL, "truncated weights are named so");
    t = write_tmp("header.weights", w.data, 6);
    CHECK_EQ_INT(open_with(paths.cfg, t, paths.names, &cl, &err), CR_ERR_MODEL);
    t = write_tmp("empty.weights", "", 0);
    CHECK_EQ_INT(open_with(paths.cfg, t, paths.names, &cl, &err), CR_ERR_MODEL);

    CHECK_EQ_INT(open_with("/nonexistent.cfg", paths.weights, paths.names, &cl, &err),
                 CR_ERR_NOT_FOUND);
    const char *cfg = write_text("noheader.cfg", "batch=1\n[net]\n");
    CHECK_EQ_INT(open_with(cfg, paths.weights, paths.names, &cl, &err), CR_ERR_MODEL);
    cfg = write_tmp("binary.cfg", "[net]\0\1\2", 8);
    CHECK_EQ_INT(open_with(cfg, paths.weights, paths.names, &cl, &err), CR_ERR_MODEL);
    cfg = write_text("only-net.cfg", "[net]\nwidth=224\nheight=224\nchannels=3\n");
    CHECK_EQ_INT(open_with(cfg, paths.weights, paths.names, &cl, &err), CR_ERR_MODEL);
    cfg = write_text("tree.cfg", "[net]\nwidth=8\nheight=8\nchannels=3\n[softmax]\ntree=/no/tree\n");
    CHECK_EQ_INT(open_with(cfg, paths.weights, paths.names, &cl, &err), CR_ERR_MODEL);
    if (!CHECK_MSG(strstr(err.message, "/no/tree") != NULL, "a missing tree file is caught first"))
        DIAG("%s", err.message);

    const char *names = write_text("few.names", "a\nb\nc\n");
    CHECK_EQ_INT(open_with(paths.cfg, paths.weights, names, &cl, &err), CR_ERR_MODEL);
    CHECK_MSG(strstr(err.message, "3 names") != NULL, "too few names are counted");
    CHECK(cl == NULL);
    cr_buf_clear(&w);
}

static void test_classify(struct cr_classifier *cl)
{
    struct cr_error err = {0};
    struct cr_prediction top[10], again[10];
    size_t n = 0, n2 = 0;
    CHECK_EQ_INT(cr_classifier_num_classes(cl), 1000);
    int w = 0, h = 0;
    cr__classifier_input_size(cl, &w, &h);
    CHECK_MSG(w == 224 && h == 224, "tiny darknet takes 224x224");

    CHECK_EQ_INT(cr_classify_file(cl, DOG, top, 10, &n, &err), CR_OK);
    CHECK_EQ_INT(n, 10);
    int sorted = 1;
    for (size_t i = 1; i < n; i++)
        sorted &= top[i - 1].probability >= top[i].probability;
    CHECK_MSG(sorted, "top-k is in descending probability");
    CHECK_MSG(top[0].probability > 0.0f && top[0].probability <= 1.0f, "a probability");
    for (size_t s = 0; s < sizeof(STOCK) / sizeof(STOCK[0]); s++) {
        int labels_ok = 1, probabilities_ok = 1;
        CHECK_EQ_INT(cr_classify_file(cl, STOCK[s].path, again, 3, &n2, &err), CR_OK);
        CHECK_EQ_INT(n2, 3);
        for (int i = 0; i < 3; i++) {
            labels_ok &= strcmp(again[i].label, STOCK[s].label[i]) == 0;
            probabilities_ok &= fabsf(again[i].probability - STOCK[s].probability[i]) <= 1e-4f;
        }
        if (!CHECK_MSG(labels_ok, "top-3 labels are stock Darknet's"))
            DIAG("%s: %s, %s, %s", STOCK[s].path, again[0].label, again[1].label, again[2].label);
        CHECK_MSG(probabilities_ok, "top-3 probabilities are stock Darknet's");
    }

    /* Same image twice: the network state from one run must not leak into the next. */
    cr_classify_file(cl, EAGLE, again, 1, &n2, &err);
    CHECK_EQ_INT(cr_classify_file(cl, DOG, again, 10, &n2, &err), CR_OK);
    CHECK_MSG(memcmp(top, again, sizeof(top)) == 0, "repeatable results");

    struct cr_prediction *all = calloc(2000, sizeof(*all));
    CHECK_EQ_INT(cr_classify_file(cl, DOG, all, 2000, &n, &err), CR_OK);
    CHECK_EQ_INT(n, 1000);
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += all[i].probability;
    CHECK_MSG(sum > 0.99 && sum < 1.01, "softmax output sums to 1");
    free(all);

    CHECK_EQ_INT(cr_classify_file(cl, DOG, top, 0, &n, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_classify_bytes(cl, "junk", 4, top, 1, &n, &err), CR_ERR_UNSUPPORTED);
    CHECK_EQ_INT(cr_classify_file(cl, "/nonexistent.jpg", top, 1, &n, &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.message, "/nonexistent.jpg") != NULL, "the error names the file");
    struct cr_image bad = {.width = 2, .height = 2, .channels = 4, .pixels = (unsigned char *)"x"};
    CHECK_EQ_INT(cr_classify_image(cl, &bad, top, 1, &n, &err), CR_ERR_INVALID);

    /* A tiny synthetic image goes through letterboxing too. */
    unsigned char px[2 * 3 * 3];
    memset(px, 200, sizeof(px));
    struct cr_image small = {.width = 2, .height = 3, .channels = 3, .pixels = px};
    CHECK_EQ_INT(cr_classify_image(cl, &small, top, 3, &n, &err), CR_OK);
}

struct thread_arg {
    struct cr_prediction top[5];
    cr_status st;
};

static void *classify_in_thread(void *p)
{
    struct thread_arg *a = p;
    struct cr_classifier *cl = NULL;
    struct cr_error err;
    size_t n = 0;
    a->st = open_with(paths.cfg, paths.weights, paths.names, &cl, &err);
    for (int i = 0; a->st == CR_OK && i < 3; i++)
        a->st = cr_classify_file(cl, DOG, a->top, 5, &n, &err);
    cr_classifier_free(cl);
    return NULL;
}

/* One classifier per thread, used concurrently, gives the single-thread answer. */
static void test_threads(struct cr_classifier *cl)
{
    struct cr_prediction want[5];
    size_t n = 0;
    cr_classify_file(cl, DOG, want, 5, &n, NULL);
    CHECK_EQ_STR(want[0].label, STOCK[0].label[0]);
    pthread_t t[2];
    struct thread_arg args[2];
    memset(args, 0, sizeof(args));
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, classify_in_thread, &args[i]);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_EQ_INT(args[i].st, CR_OK);
        CHECK_MSG(memcmp(args[i].top, want, sizeof(want)) == 0, "thread result matches");
    }
}

int main(void)
{
    struct cr_error err = {0};
    if (!fixture_begin(tmpdir, &paths))
        return tap_done();
    /* Both engines answer as stock Darknet; the Darknet one also proves
     * that every buffer Darknet hands back is freed (LSan, valgrind). */
    static const enum cr_engine engines[] = {CR_ENGINE_NATIVE, CR_ENGINE_DARKNET};
    for (size_t e = 0; e < sizeof(engines) / sizeof(engines[0]); e++) {
        engine = engines[e];
        DIAG("engine %s", cr_engine_name(engine));
        struct cr_classifier *cl = NULL;
        cr_status st = open_with(paths.cfg, paths.weights, paths.names, &cl, &err);
        CHECK_EQ_INT(st, CR_OK);
        if (st != CR_OK) {
            DIAG("%s", err.message);
            return tap_done();
        }
        CHECK_EQ_INT(cr_classifier_engine(cl), engine);
        test_classify(cl);
        if (engine == CR_ENGINE_DARKNET)
            test_bad_models(); /* the native reader's are in test_native.c */
        if (engine == CR_ENGINE_NATIVE)
            test_threads(cl); /* a Darknet classifier is for one thread */
        cr_classifier_free(cl);
    }
    cr_classifier_free(NULL);

    fixture_end(tmpdir);
    return tap_done();
}
