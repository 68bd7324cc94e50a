/*
 * classify_bench - bare classification throughput and latency, no service.
 *
 *   classify_bench [--threads N] [--num N] [--images DIR] [--model DIR]
 *                  [--engine E] [--batch B] [--warmup N] [--json]
 *
 * Reads the images into memory, then measures three things in one run:
 *  1. single thread: one classifier classifies the N images one after the
 *     other; each call of cr_classify_bytes (decode + letterbox + forward
 *     pass + top-k) is timed on its own, giving the per-image latency;
 *  2. T threads take the same N images from a shared counter as fast as
 *     they can; images / wall time is the bare throughput the service is
 *     compared with. A native classifier is shared by all threads (its
 *     model is immutable); Darknet is not thread-safe, so each thread then
 *     has its own classifier;
 *  3. batch: the images decoded beforehand, classified with
 *     cr_classify_batch B at a time and 1 at a time on one thread: the
 *     per-image cost of each, decode excluded.
 * Every answer is checked: an image must get the same top-1 class in every
 * call (the first call on the single thread is the reference), otherwise the
 * program exits 1. Only the public API is used. See docs/benchmarks.md.
 */
#include "cloudrec.h"
#include "core/json.h"
#include "core/programs.h"
#include "internal.h"
#include "net/load.h"
#include "vision/classify_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

enum { EXIT_WRONG = 1, EXIT_USAGE = 2, MAX_THREADS = 256, MAX_IMAGES = 10000 };

#define DEFAULT_IMAGES_DIR "/usr/share/darknet/data"
#define DEFAULT_NUM 100
#define IMAGE_MAX_BYTES (64u * 1024 * 1024)

static const char *prog = "classify_bench";

struct opts {
    long threads;
    long num;
    long warmup;
    const char *images_dir;
    const char *model_dir;
    enum cr_engine engine;
    long batch;
    int json;
};

/* The distinct images, read into memory once, sorted by name. */
struct image_set {
    char **names;
    struct cr_buf *bytes;
    int *ref_class; /* top-1 class of the first call on each image, -1 before */
    char (*ref_label)[CR_LABEL_MAX];
    size_t n;
};

/* One timed pass over the plan: image i % n for i = 0 .. num - 1. */
struct pass {
    const struct image_set *imgs;
    size_t num;
    long warmup;
    atomic_size_t next;
    int64_t *lat_us; /* per request */
    int *got_class;  /* per request; -1 = the call failed */
    pthread_barrier_t start;
    int64_t wall_us;
};

/* One thread of a pass, with the classifier it alone uses. */
struct worker {
    pthread_t tid;
    struct cr_classifier *cl;
    struct pass *pass;
    struct cr_error err; /* the first failure of this thread */
    size_t err_image;    /* and the image it happened on */
    int failed;
};

/* Figures of one pass. */
struct figures {
    size_t ok, wrong, failed;
    double images_per_s;
    int64_t p50_us, p90_us, p99_us, max_us;
};

#define OPT(f) offsetof(struct opts, f)

/* The options, declared once (core/opts.h): parser, --help, --dump-options. */
static const struct cr__opt bench_opts[] = {
    {.name = "threads", .type = CR__OPT_LONG, .offset = OPT(threads), .metavar = "N",
     .help = "classifier threads (default: online CPUs)", .lo = 1, .hi = MAX_THREADS},
    {.name = "num", .type = CR__OPT_LONG, .offset = OPT(num), .metavar = "N",
     .help = "images per pass, cycling through the files", .def = CR__STR(DEFAULT_NUM), .lo = 1,
     .hi = 1000000},
    {.name = "images", .type = CR__OPT_STR, .offset = OPT(images_dir), .metavar = "DIR",
     .help = "the *.jpg, *.jpeg, *.png files of DIR", .def = DEFAULT_IMAGES_DIR},
    {.name = "model", .type = CR__OPT_STR, .offset = OPT(model_dir), .metavar = "DIR",
     .help = "model directory (default: the usual lookup)"},
    CR__ENGINE_OPT(struct opts, engine, 0),
    {.name = "batch", .type = CR__OPT_LONG, .offset = OPT(batch), .metavar = "B",
     .help = "images per cr_classify_batch call", .def = "8", .lo = 1, .hi = 64},
    {.name = "warmup", .type = CR__OPT_LONG, .offset = OPT(warmup), .metavar = "N",
     .help = "untimed images per classifier before a pass", .def = "1", .lo = 0, .hi = 1000},
    {.name = "json", .type = CR__OPT_BOOL, .offset = OPT(json),
     .help = "one JSON object on stdout instead of the table"},
};

static const struct cr__program bench_program = {
    .name = "classify_bench",
    .synopsis = "[--threads N] [--num N] [--images DIR] [--model DIR] [--engine E] "
                "[--batch B] [--warmup N] [--json]",
    .about = "Bare cr_classify_bytes throughput and per-image latency, in one run: one\n"
             "thread one image at a time (latency), then N threads (throughput; a native\n"
             "classifier is shared by the threads, Darknet gets one per thread), then\n"
             "cr_classify_batch B images at a time against 1 at a time (decode excluded).\n"
             "Every image must get the same top-1 class every time.\n\n",
    .epilog = "Exit status: 0 all answers consistent, 1 a wrong or failed answer, 2 usage\n"
              "or setup error. See docs/benchmarks.md.\n",
    .opts = bench_opts,
    .n_opts = sizeof(bench_opts) / sizeof(bench_opts[0]),
    .size = sizeof(struct opts),
};

/* Fills *o from argv. Returns -1 to go on, else an exit status (0 for --help). */
static int parse_args(int argc, char **argv, struct opts *o)
{
    int rc = cr__opts_parse(&bench_program, argc, argv, o, NULL);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (rc < 0 && o->threads == 0)
        o->threads = cpus > 0 ? (cpus < MAX_THREADS ? cpus : MAX_THREADS) : 1;
    return rc;
}

/* True for a name ending in .jpg, .jpeg or .png (any case). */
static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot &&
           (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg") || !strcasecmp(dot, ".png"));
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the image files of dir, sorted by name, into s->names. */
static cr_status list_images(const char *dir, struct image_set *s)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        return CR_ERR_NOT_FOUND;
    }
    cr_status st = CR_OK;
    struct dirent *e;
    while (st == CR_OK && (e = readdir(d)) != NULL) {
        if (!is_image_name(e->d_name) || s->n >= MAX_IMAGES)
            continue;
        char **grown = realloc(s->names, (s->n + 1) * sizeof(*grown));
        char *copy = grown ? strdup(e->d_name) : NULL;
        if (grown)
            s->names = grown;
        if (!copy)
            st = CR_ERR_NOMEM;
        else
            s->names[s->n++] = copy;
    }
    closedir(d);
    if (st == CR_OK && s->n == 0) {
        fprintf(stderr, "%s: %s: no .jpg, .jpeg or .png files\n", prog, dir);
        st = CR_ERR_NOT_FOUND;
    }
    if (st == CR_OK)
        qsort(s->names, s->n, sizeof(*s->names), cmp_names);
    return st;
}

/* Reads every listed image into memory, so the passes time no file I/O. */
static cr_status read_images(const char *dir, struct image_set *s)
{
    s->bytes = calloc(s->n, sizeof(*s->bytes));
    s->ref_class = malloc(s->n * sizeof(*s->ref_class));
    s->ref_label = calloc(s->n, sizeof(*s->ref_label));
    if (!s->bytes || !s->ref_class || !s->ref_label)
        return CR_ERR_NOMEM;
    for (size_t i = 0; i < s->n; i++) {
        char path[CR_PATH_MAX];
        struct cr_error err = {0};
        s->ref_class[i] = -1;
        snprintf(path, sizeof(path), "%s/%s", dir, s->names[i]);
        cr_buf_init(&s->bytes[i], IMAGE_MAX_BYTES);
        cr_status st = cr__file_read(path, 0, &s->bytes[i], &err);
        if (st != CR_OK) {
            fprintf(stderr, "%s: %s\n", prog, err.message[0] ? err.message : cr_strerror(st));
            return st;
        }
    }
    return CR_OK;
}

static void free_images(struct image_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free(s->names[i]);
        if (s->bytes)
            cr_buf_clear(&s->bytes[i]);
    }
    free(s->names);
    free(s->bytes);
    free(s->ref_class);
    free(s->ref_label);
}

/* Classifies image i once; the top-1 prediction goes to *top. */
static cr_status classify_one(struct cr_classifier *cl, const struct image_set *s, size_t i,
                              struct cr_prediction *top, struct cr_error *err)
{
    size_t n = 0;
    const struct cr_buf *b = &s->bytes[i];
    cr_status st = cr_classify_bytes(cl, b->data, b->len, top, 1, &n, err);
    if (st == CR_OK && n != 1)
        st = CR_ERR_MODEL;
    return st;
}

/* Untimed calls on the first image, so page faults and first-touch
 * allocations stay out of the figures. */
static cr_status warm_up(struct worker *w, long count)
{
    for (long k = 0; k < count; k++) {
        struct cr_prediction top;
        cr_status st = classify_one(w->cl, w->pass->imgs, 0, &top, &w->err);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

/* The body of a pass thread: take the next request until the plan runs out. */
static void *pass_thread(void *arg)
{
    struct worker *w = arg;
    struct pass *p = w->pass;
    if (warm_up(w, p->warmup) != CR_OK)
        w->failed = 1;
    pthread_barrier_wait(&p->start);
    for (;;) {
        size_t i = atomic_fetch_add(&p->next, 1);
        if (i >= p->num)
            break;
        struct cr_prediction top;
        struct cr_error err = {0};
        int64_t t0 = cr__time_mono_us();
        cr_status st = classify_one(w->cl, p->imgs, i % p->imgs->n, &top, &err);
        p->lat_us[i] = cr__time_mono_us() - t0;
        p->got_class[i] = st == CR_OK ? top.class_index : -1;
        if (st != CR_OK && !w->failed) {
            w->failed = 1;
            w->err = err;
            w->err_image = i % p->imgs->n;
        }
    }
    return NULL;
}

/* Runs one pass over num requests with one thread per classifier in cls. */
static cr_status run_pass(struct pass *p, struct cr_classifier **cls, size_t n_threads)
{
    struct worker *ws = calloc(n_threads, sizeof(*ws));
    if (!ws || pthread_barrier_init(&p->start, NULL, (unsigned)n_threads + 1) != 0) {
        free(ws);
        return CR_ERR_NOMEM;
    }
    atomic_store(&p->next, 0);
    size_t started = 0;
    for (; started < n_threads; started++) {
        ws[started] = (struct worker){.cl = cls[started], .pass = p};
        if (pthread_create(&ws[started].tid, NULL, pass_thread, &ws[started]) != 0)
            break;
    }
    if (started < n_threads) {
        /* Not expected at these thread counts; the threads already started
         * wait on a barrier that would never open, so give up loudly. */
        fprintf(stderr, "%s: cannot start thread %zu\n", prog, started);
        exit(EXIT_USAGE);
    }
    pthread_barrier_wait(&p->start);
    int64_t t0 = cr__time_mono_us();
    for (size_t i = 0; i < n_threads; i++)
        pthread_join(ws[i].tid, NULL);
    p->wall_us = cr__time_mono_us() - t0;
    pthread_barrier_destroy(&p->start);
    for (size_t i = 0; i < n_threads; i++)
        if (ws[i].failed)
            fprintf(stderr, "%s: thread %zu: %s: %s\n", prog, i, p->imgs->names[ws[i].err_image],
                    ws[i].err.message);
    free(ws);
    return CR_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Judges every answer of a pass against the references and computes its
 * figures. The first answer for an image with no reference becomes it. */
static cr_status judge_pass(struct pass *p, struct image_set *s, struct figures *f)
{
    int64_t *sorted = malloc(p->num * sizeof(*sorted));
    if (!sorted)
        return CR_ERR_NOMEM;
    *f = (struct figures){0};
    for (size_t i = 0; i < p->num; i++) {
        size_t img = i % s->n;
        if (p->got_class[i] < 0) {
            f->failed++;
            continue;
        }
        if (s->ref_class[img] < 0)
            s->ref_class[img] = p->got_class[i];
        if (p->got_class[i] == s->ref_class[img])
            f->ok++;
        else {
            f->wrong++;
            fprintf(stderr, "%s: %s: class %d, expected %d\n", prog, s->names[img], p->got_class[i],
                    s->ref_class[img]);
        }
    }
    memcpy(sorted, p->lat_us, p->num * sizeof(*sorted));
    qsort(sorted, p->num, sizeof(*sorted), cmp_i64);
    f->p50_us = cr__load_percentile(sorted, p->num, 50);
    f->p90_us = cr__load_percentile(sorted, p->num, 90);
    f->p99_us = cr__load_percentile(sorted, p->num, 99);
    f->max_us = sorted[p->num - 1];
    f->images_per_s = p->wall_us > 0 ? (double)p->num * 1e6 / (double)p->wall_us : 0;
    free(sorted);
    return CR_OK;
}

/* Opens the classifiers one after the other (a Darknet load redirects
 * stderr, so loads are not overlapped), timing each. A native classifier is
 * opened once and shared by every thread; *opened says how many were. */
static cr_status open_classifiers(const struct opts *o, struct cr_classifier **cls, size_t n,
                                  size_t *opened, double *mean_ms, double *max_ms)
{
    struct cr_model_paths paths;
    struct cr_error err = {0};
    cr_status st = cr_model_resolve(o->model_dir, &paths, &err);
    struct cr_classifier_options co = {.cfg_path = paths.cfg,
                                       .weights_path = paths.weights,
                                       .names_path = paths.names,
                                       .engine = o->engine};
    double sum = 0;
    *max_ms = 0;
    *opened = 0;
    for (size_t i = 0; st == CR_OK && i < n; i++) {
        if (i > 0 && cr_classifier_engine(cls[0]) == CR_ENGINE_NATIVE) {
            cls[i] = cls[0];
            continue;
        }
        int64_t t0 = cr__time_mono_us();
        st = cr_classifier_open(&co, &cls[i], &err);
        double ms = (double)(cr__time_mono_us() - t0) / 1000.0;
        sum += ms;
        *max_ms = ms > *max_ms ? ms : *max_ms;
        *opened += st == CR_OK;
    }
    n = *opened;
    if (st != CR_OK)
        fprintf(stderr, "%s: cannot load the model: %s\n", prog,
                err.message[0] ? err.message : cr_strerror(st));
    *mean_ms = n ? sum / (double)n : 0;
    return st;
}

/* Fills in each image's reference label from its reference class. */
static void name_references(struct cr_classifier *cl, struct image_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct cr_prediction top;
        struct cr_error err = {0};
        if (classify_one(cl, s, i, &top, &err) == CR_OK && top.class_index == s->ref_class[i])
            snprintf(s->ref_label[i], CR_LABEL_MAX, "%s", top.label);
    }
}

/* Figures of the batch pass: per-image cost B at a time and 1 at a time. */
struct batch_figures {
    double per_image_ms, per_image_ms_b1;
    size_t wrong, failed;
};

/* Decodes every image once; imgs[i] belongs to the caller (cr_image_clear). */
static cr_status decode_all(const struct image_set *s, struct cr_image *imgs)
{
    for (size_t i = 0; i < s->n; i++) {
        struct cr_error err = {0};
        cr_status st = cr_image_decode(s->bytes[i].data, s->bytes[i].len, NULL, &imgs[i], &err);
        if (st != CR_OK) {
            fprintf(stderr, "%s: %s: %s\n", prog, s->names[i], err.message);
            return st;
        }
    }
    return CR_OK;
}

/* Classifies plan[0..num) `size` images per cr_classify_batch call and
 * checks each top-1 class against the references; returns the wall time. */
static int64_t time_batches(struct cr_classifier *cl, const struct image_set *s,
                            const struct cr_image *plan, size_t num, size_t size,
                            struct batch_figures *bf)
{
    struct cr_prediction pred[64];
    int64_t t0 = cr__time_mono_us();
    for (size_t i = 0; i < num; i += size) {
        size_t b = num - i < size ? num - i : size, k = 0;
        struct cr_error err = {0};
        if (cr_classify_batch(cl, plan + i, b, pred, 1, &k, &err) != CR_OK) {
            fprintf(stderr, "%s: batch at %zu: %s\n", prog, i, err.message);
            bf->failed += b;
            continue;
        }
        for (size_t j = 0; j < b; j++)
            bf->wrong += pred[j].class_index != s->ref_class[(i + j) % s->n];
    }
    return cr__time_mono_us() - t0;
}

/* The batch pass, on one thread with decoded images. */
static cr_status run_batch(const struct opts *o, const struct image_set *s,
                           struct cr_classifier *cl, struct batch_figures *bf)
{
    size_t num = (size_t)o->num;
    struct cr_image *imgs = calloc(s->n, sizeof(*imgs));
    struct cr_image *plan = calloc(num, sizeof(*plan));
    cr_status st = imgs && plan ? decode_all(s, imgs) : CR_ERR_NOMEM;
    *bf = (struct batch_figures){0};
    if (st == CR_OK) {
        for (size_t i = 0; i < num; i++)
            plan[i] = imgs[i % s->n];
        struct batch_figures warm = {0};
        time_batches(cl, s, plan, num < (size_t)o->batch ? num : (size_t)o->batch,
                     (size_t)o->batch, &warm);
        int64_t one = time_batches(cl, s, plan, num, 1, bf);
        int64_t many = time_batches(cl, s, plan, num, (size_t)o->batch, bf);
        bf->per_image_ms_b1 = (double)one / 1000.0 / (double)num;
        bf->per_image_ms = (double)many / 1000.0 / (double)num;
    }
    for (size_t i = 0; imgs && i < s->n; i++)
        cr_image_clear(&imgs[i]);
    free(imgs);
    free(plan);
    return st;
}

struct report {
    const struct opts *o;
    const struct image_set *imgs;
    enum cr_engine engine;
    size_t classifiers;
    struct batch_figures batch;
    double load_mean_ms, load_max_ms;
    struct figures single, multi;
    int64_t single_wall_us, multi_wall_us;
};

static double ms(int64_t us)
{
    return (double)us / 1000.0;
}

/* One line of the table: throughput and latency percentiles of a pass. */
static void print_row(const char *what, const struct figures *f)
{
    printf("%-13s %7.2f images/s  latency p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
           what, f->images_per_s, ms(f->p50_us), ms(f->p90_us), ms(f->p99_us), ms(f->max_us));
}

static void print_table(const struct report *r)
{
    const struct figures *s = &r->single, *m = &r->multi;
    printf("images        %ld per pass, cycling %zu files of %s\n", r->o->num, r->imgs->n,
           r->o->images_dir);
    printf("engine        %s\n", cr_engine_name(r->engine));
    printf("model load    %.1f ms mean, %.1f ms max (%zu classifier%s)\n", r->load_mean_ms,
           r->load_max_ms, r->classifiers, r->classifiers == 1 ? "" : "s");
    char what[32];
    snprintf(what, sizeof(what), "%ld thread%s", r->o->threads, r->o->threads == 1 ? "" : "s");
    print_row("1 thread", s);
    print_row(what, m);
    printf("speedup       %.2fx (%ld threads over 1)\n",
           s->images_per_s > 0 ? m->images_per_s / s->images_per_s : 0, r->o->threads);
    printf("batch         %.2f ms/image %ld at a time, %.2f ms/image 1 at a time (decode "
           "excluded)\n",
           r->batch.per_image_ms, r->o->batch, r->batch.per_image_ms_b1);
    printf("answers       %zu consistent, %zu wrong, %zu failed\n", s->ok + m->ok,
           s->wrong + m->wrong + r->batch.wrong, s->failed + m->failed + r->batch.failed);
}

/* Writes "key":{threads, wall_s, images_per_s, latency_ms percentiles}. */
static void json_figures(struct cr__jw *w, const char *key, const struct figures *f, long threads,
                         int64_t wall_us)
{
    cr__jw_object(w, key);
    cr__jw_int(w, "threads", threads);
    cr__jw_fixed(w, "wall_s", (double)wall_us / 1e6, 3);
    cr__jw_fixed(w, "images_per_s", f->images_per_s, 3);
    cr__jw_object(w, "latency_ms");
    cr__jw_fixed(w, "p50", ms(f->p50_us), 1);
    cr__jw_fixed(w, "p90", ms(f->p90_us), 1);
    cr__jw_fixed(w, "p99", ms(f->p99_us), 1);
    cr__jw_fixed(w, "max", ms(f->max_us), 1);
    cr__jw_end(w);
    cr__jw_end(w);
}

/* One JSON object, on one line. */
static cr_status print_json(const struct report *r)
{
    const struct figures *s = &r->single, *m = &r->multi;
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_string(w, "engine", cr_engine_name(r->engine));
    cr__jw_int(w, "images", r->o->num);
    cr__jw_int(w, "files", (int64_t)r->imgs->n);
    cr__jw_text(w, "images_dir", r->o->images_dir);
    cr__jw_object(w, "model_load_ms");
    cr__jw_fixed(w, "mean", r->load_mean_ms, 1);
    cr__jw_fixed(w, "max", r->load_max_ms, 1);
    cr__jw_end(w);
    json_figures(w, "single", s, 1, r->single_wall_us);
    json_figures(w, "parallel", m, r->o->threads, r->multi_wall_us);
    cr__jw_object(w, "batch");
    cr__jw_int(w, "size", r->o->batch);
    cr__jw_fixed(w, "per_image_ms", r->batch.per_image_ms, 3);
    cr__jw_fixed(w, "per_image_ms_b1", r->batch.per_image_ms_b1, 3);
    cr__jw_end(w);
    cr__jw_fixed(w, "speedup", s->images_per_s > 0 ? m->images_per_s / s->images_per_s : 0, 3);
    cr__jw_int(w, "consistent", (int64_t)(s->ok + m->ok));
    cr__jw_int(w, "wrong", (int64_t)(s->wrong + m->wrong + r->batch.wrong));
    cr__jw_int(w, "failed", (int64_t)(s->failed + m->failed + r->batch.failed));
    cr__jw_object(w, "labels");
    for (size_t i = 0; i < r->imgs->n; i++)
        cr__jw_text(w, r->imgs->names[i], r->imgs->ref_label[i]);
    cr__jw_end(w);
    cr__jw_end(w);
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr_status st = cr__jw_finish(w, &b);
    if (st == CR_OK)
        printf("%s\n", (const char *)b.data);
    cr_buf_clear(&b);
    return st;
}

/* Allocates the per-request arrays of a pass. */
static cr_status pass_init(struct pass *p, const struct image_set *s, const struct opts *o)
{
    *p = (struct pass){.imgs = s, .num = (size_t)o->num, .warmup = o->warmup};
    p->lat_us = calloc(p->num, sizeof(*p->lat_us));
    p->got_class = calloc(p->num, sizeof(*p->got_class));
    return p->lat_us && p->got_class ? CR_OK : CR_ERR_NOMEM;
}

static void pass_clear(struct pass *p)
{
    free(p->lat_us);
    free(p->got_class);
}

/* Both passes and their figures; the exit status. */
static int run_bench(const struct opts *o, struct image_set *s, struct cr_classifier **cls,
                     struct report *r)
{
    struct pass single = {0}, multi = {0};
    int rc = EXIT_USAGE;
    if (pass_init(&single, s, o) != CR_OK || pass_init(&multi, s, o) != CR_OK)
        goto out;
    if (run_pass(&single, cls, 1) != CR_OK || judge_pass(&single, s, &r->single) != CR_OK)
        goto out;
    if (run_pass(&multi, cls, (size_t)o->threads) != CR_OK ||
        judge_pass(&multi, s, &r->multi) != CR_OK)
        goto out;
    r->single_wall_us = single.wall_us;
    r->multi_wall_us = multi.wall_us;
    if (run_batch(o, s, cls[0], &r->batch) != CR_OK)
        goto out;
    name_references(cls[0], s);
    size_t bad = r->single.wrong + r->single.failed + r->multi.wrong + r->multi.failed +
                 r->batch.wrong + r->batch.failed;
    rc = bad ? EXIT_WRONG : 0;
out:
    pass_clear(&single);
    pass_clear(&multi);
    return rc;
}

int main(int argc, char **argv)
{
    struct opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0)
        return rc;
    struct image_set imgs = {0};
    struct cr_classifier **cls = calloc((size_t)o.threads, sizeof(*cls));
    struct report r = {.o = &o, .imgs = &imgs};
    rc = EXIT_USAGE;
    if (!cls || list_images(o.images_dir, &imgs) != CR_OK ||
        read_images(o.images_dir, &imgs) != CR_OK)
        goto out;
    if (open_classifiers(&o, cls, (size_t)o.threads, &r.classifiers, &r.load_mean_ms,
                         &r.load_max_ms) != CR_OK)
        goto out;
    r.engine = cr_classifier_engine(cls[0]);
    rc = run_bench(&o, &imgs, cls, &r);
    if (rc == EXIT_USAGE)
        fprintf(stderr, "%s: out of memory\n", prog);
    else if (o.json)
        print_json(&r);
    else
        print_table(&r);
out:
    /* A shared native classifier sits in every slot; free it once. */
    for (long i = 0; cls && i < o.threads; i++)
        if (i == 0 || cls[i] != cls[0])
            cr_classifier_free(cls[i]);
    free(cls);
    free_images(&imgs);
    return rc;
}
