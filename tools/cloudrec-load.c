/*
 * cloudrec-load - the workload generator: uploads many images at once to the
 * web tier and checks every answer.
 *
 *   cloudrec-load --url URL [--images DIR] [--num N] [--concurrency C]
 *                 [--field inputFile|myfile|file] [--expect CSV]
 *                 [--timeout-ms MS] [--quiet] [--json] [--progress]
 *                 [--report FILE.svg|FILE.html] [FILE...]
 *
 * Thin by design: list the images, read the expectations, call cr_load_run,
 * print what comes back. Exit status 0 all correct, 1 anything failed or
 * mismatched, 2 usage or setup error.
 */
#include "cloudrec.h"
#include "core/json.h"
#include "core/opts.h"
#include "tool_util.h"
#include "internal.h"
#include "net/load.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

enum { EXIT_FAILED = 1, EXIT_USAGE = 2 };

static const char *prog = "cloudrec-load";

/* What the command line asked for. Strings point into argv. */
struct cli {
    const char *url;
    const char *images_dir;
    const char *expect_csv;
    const char *field;
    size_t num;
    size_t concurrency;
    long timeout_ms;
    int quiet;
    int json;
    int progress;       /* --progress: progress lines even when stderr is no terminal */
    const char *report; /* --report FILE: the picture of the run */
    char **files;       /* positional image files */
    int n_files;
};

/* The images to upload: paths are owned here, items point into them. */
struct image_list {
    char **paths;
    size_t n;
    size_t cap;
};

/* Per-run printing state, handed to the callbacks. */
struct printer {
    int quiet;
    int json;
    int progress; /* 1: one status line redrawn on the terminal; 2: a line per second */
    int progress_drawn;
    int64_t last_draw_ms;
    struct cr_load_totals counts; /* as of the last answer */
    double answers_per_s;         /* as of the last progress call */
    int64_t recent_p50_us;        /* -1: none in the window */
    struct cr_load_report *report; /* NULL without --report */
};

#define CLI(f) offsetof(struct cli, f)

/* The options, declared once: parser, --help, --dump-options. */
static const struct cr__opt load_opts[] = {
    {.name = "url", .short_name = 'u', .type = CR__OPT_STR, .offset = CLI(url), .metavar = "URL",
     .help = "where to POST, e.g. http://127.0.0.1:8000/", .flags = CR__OPT_REQUIRED},
    {.name = "images", .short_name = 'i', .type = CR__OPT_STR, .offset = CLI(images_dir),
     .metavar = "DIR",
     .help = "upload the *.jpg, *.jpeg and *.png files of DIR, sorted by name (FILE arguments "
             "are added after them)"},
    {.name = "num", .short_name = 'n', .type = CR__OPT_SIZE, .offset = CLI(num), .metavar = "N",
     .help = "how many uploads, cycling through the images (default: one per image)", .lo = 1,
     .hi = 100000000},
    {.name = "concurrency", .short_name = 'c', .type = CR__OPT_SIZE, .offset = CLI(concurrency),
     .metavar = "C", .help = "uploads in flight at once", .def = CR__STR(CR_LOAD_DEFAULT_CONCURRENCY), .lo = 1, .hi = 10000},
    {.name = "field", .short_name = 'f', .type = CR__OPT_STR, .offset = CLI(field),
     .metavar = "NAME", .help = "form field of the file: inputFile, myfile or file",
     .def = CR_LOAD_DEFAULT_FIELD},
    {.name = "expect", .short_name = 'e', .type = CR__OPT_STR, .offset = CLI(expect_csv),
     .metavar = "CSV",
     .help = "expected labels, lines `name,label` (name with or without extension; the label "
             "is everything after the first comma, or a \"quoted\" field); wrong labels fail"},
    {.name = "timeout-ms", .short_name = 't', .type = CR__OPT_LONG, .offset = CLI(timeout_ms),
     .metavar = "MS", .help = "give up on an upload after MS ms; 0 = wait forever", .lo = 0,
     .hi = 86400000},
    {.name = "quiet", .short_name = 'q', .type = CR__OPT_BOOL, .offset = CLI(quiet),
     .help = "no line per answer, only the totals"},
    {.name = "json", .short_name = 'j', .type = CR__OPT_BOOL, .offset = CLI(json),
     .help = "answers and totals as JSON, one object per line"},
    {.name = "progress", .type = CR__OPT_BOOL, .offset = CLI(progress),
     .help = "progress (sent, answered, rate, p50 of the last 5 s) on stderr once a second "
             "even when it is not a terminal (on a terminal it is always shown, as one line "
             "redrawn)"},
    {.name = "report", .type = CR__OPT_STR, .offset = CLI(report), .metavar = "FILE",
     .help = "write a picture of the run: latency of each request over time, answers per "
             "second, and the workers the web tier's /v1/stats showed; FILE.svg, or FILE.html "
             "for a page"},
};

static const struct cr__program load_program = {
    .name = "cloudrec-load",
    .synopsis = "--url URL [--images DIR] [--num N] [--concurrency C] [options] [FILE...]",
    .about = "Uploads JPEG/PNG images concurrently to the web tier (multipart/form-data\n"
             "POST, one image each) and checks that every answer is `<stem>:<label>`.\n\n",
    .epilog = "Exit status: 0 every answer correct, 1 an upload failed or an answer was\n"
              "wrong, 2 usage or setup error. See docs/load.md.\n",
    .opts = load_opts,
    .n_opts = sizeof(load_opts) / sizeof(load_opts[0]),
    .size = sizeof(struct cli),
    .operands = CR__OPERANDS_ANY,
};

/* Complains about a flag's value; returns the usage exit status. */
static int bad_value(const char *flag, const char *want, const char *got)
{
    fprintf(stderr, "%s: %s must be %s, got '%s'\n", prog, flag, want, got);
    return EXIT_USAGE;
}

/* Fills *cl from argv. Returns -1 to go on, or an exit status (0 for --help). */
static int parse_args(int argc, char **argv, struct cli *cl)
{
    int first = 0;
    int rc = cr__opts_parse(&load_program, argc, argv, cl, &first);
    cl->files = argv + first;
    cl->n_files = argc - first;
    return rc;
}

/* True when s ends with suffix (any case). */
static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n > k && strcasecmp(s + n - k, suffix) == 0;
}

/* Checks the combination of flags; returns -1 when fine or EXIT_USAGE. */
static int check_args(const struct cli *cl)
{
    if (strcmp(cl->field, "inputFile") != 0 && strcmp(cl->field, "myfile") != 0 &&
        strcmp(cl->field, "file") != 0)
        return bad_value("--field", "inputFile, myfile or file", cl->field);
    if (cl->report && !has_suffix(cl->report, ".svg") && !has_suffix(cl->report, ".html"))
        return bad_value("--report", "a file name ending in .svg or .html", cl->report);
    if (!cl->images_dir && cl->n_files == 0) {
        fprintf(stderr, "%s: nothing to upload: give --images DIR or image files\n", prog);
        return EXIT_USAGE;
    }
    return -1;
}

/* Appends a copy of path. 0 on success, -1 on NOMEM. */
static int list_push(struct image_list *l, const char *dir, const char *name)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof(*p));
        if (!p)
            return -1;
        l->paths = p;
        l->cap = cap;
    }
    char *path = NULL;
    if (dir ? asprintf(&path, "%s/%s", dir, name) < 0 : !(path = strdup(name)))
        return -1;
    l->paths[l->n++] = path;
    return 0;
}

/* Frees the paths and the array. */
static void list_free(struct image_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
}

/* True for names ending in .jpg, .jpeg or .png (any case). */
static int is_image_name(const char *name)
{
    const char *dot = strrchr(name, '.');
    return dot && dot != name &&
           (strcasecmp(dot, ".jpg") == 0 || strcasecmp(dot, ".jpeg") == 0 ||
            strcasecmp(dot, ".png") == 0);
}

/* qsort order for paths: byte order, like `ls` in the C locale. */
static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds DIR's image files, sorted by name. Returns 0 or prints and returns -1. */
static int scan_dir(const char *dir, struct image_list *l)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: %s: %s\n", prog, dir, strerror(errno));
        return -1;
    }
    size_t first = l->n;
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        struct stat sb;
        if (!is_image_name(e->d_name) || fstatat(dirfd(d), e->d_name, &sb, 0) != 0 ||
            !S_ISREG(sb.st_mode))
            continue;
        rc = list_push(l, dir, e->d_name);
    }
    closedir(d);
    if (rc != 0) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return -1;
    }
    /* Sort the file names (all share the "DIR/" prefix). */
    qsort(l->paths + first, l->n - first, sizeof(*l->paths), cmp_str);
    return 0;
}

/* Builds the image list from --images and FILE arguments. */
static int collect_images(const struct cli *cl, struct image_list *l)
{
    if (cl->images_dir && scan_dir(cl->images_dir, l) != 0)
        return -1;
    for (int i = 0; i < cl->n_files; i++) {
        if (list_push(l, NULL, cl->files[i]) != 0) {
            fprintf(stderr, "%s: out of memory\n", prog);
            return -1;
        }
    }
    if (l->n == 0) {
        fprintf(stderr, "%s: %s: no .jpg, .jpeg or .png files\n", prog,
                cl->images_dir ? cl->images_dir : "arguments");
        return -1;
    }
    return 0;
}

/* Makes the items and attaches expected labels; warns about images the CSV
 * does not mention. Returns NULL (after a message) on NOMEM. */
static struct cr_load_item *make_items(const struct image_list *l,
                                       const struct cr_load_labels *labels, const char *csv)
{
    struct cr_load_item *items = calloc(l->n, sizeof(*items));
    if (!items) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return NULL;
    }
    size_t missing = 0;
    for (size_t i = 0; i < l->n; i++) {
        const char *slash = strrchr(l->paths[i], '/');
        items[i].path = l->paths[i];
        items[i].name = slash ? slash + 1 : l->paths[i];
        items[i].expected_label = labels ? cr_load_labels_find(labels, items[i].name) : NULL;
        missing += labels && !items[i].expected_label;
    }
    if (missing)
        fprintf(stderr,
                "%s: warning: %zu of %zu images have no label in %s (only the form of "
                "their answers is checked)\n",
                prog, missing, l->n, csv);
    return items;
}

/* Each upload holds a socket and the file it reads: make sure enough file
 * descriptors are allowed, raising the soft limit up to the hard one. */
static void raise_fd_limit(size_t concurrency)
{
    struct rlimit rl;
    rlim_t want = (rlim_t)concurrency * 2 + 64;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= want)
        return;
    rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want ? want : rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < want)
        fprintf(stderr, "%s: warning: only %llu file descriptors for %zu uploads in flight\n", prog,
                (unsigned long long)rl.rlim_cur, concurrency);
}

/* The verdict as the JSON output spells it. */
static const char *verdict_name(enum cr_load_verdict v)
{
    return v == CR_LOAD_CORRECT ? "correct" : v == CR_LOAD_WRONG ? "wrong" : "error";
}

/* Prints the first line of s (at most 200 bytes), for one-line output. */
static void print_first_line(const char *s)
{
    size_t n = strcspn(s, "\r\n");
    printf("%.*s", (int)(n > 200 ? 200 : n), s);
}

/* Length of a file name without its last extension, for messages. */
static int stem_len(const char *name)
{
    const char *dot = strrchr(name, '.');
    return (int)(dot && dot != name ? (size_t)(dot - name) : strlen(name));
}

/* `name: answer`, `name: answer WRONG (...)` or `name: ERROR ...`. */
static void print_answer_text(const struct cr_load_result *r)
{
    printf("%s: ", r->name);
    if (r->verdict == CR_LOAD_ERROR && r->http_status && !r->error[0]) {
        printf("ERROR %ld ", r->http_status);
        print_first_line(r->body);
    } else if (r->verdict == CR_LOAD_ERROR) {
        printf("ERROR %s", r->error);
    } else {
        print_first_line(r->body);
        if (r->verdict == CR_LOAD_WRONG && r->body_truncated)
            printf(" WRONG (answer longer than %zu bytes)", r->body_len);
        else if (r->verdict == CR_LOAD_WRONG && r->expected_label)
            printf(" WRONG (expected %s)", r->expected_label);
        else if (r->verdict == CR_LOAD_WRONG)
            printf(" WRONG (expected %.*s:<label>)", stem_len(r->name), r->name);
    }
    printf("\n");
}

/* Prints the document w holds on one line ("{}" if it could not be
 * written) and releases w. */
static void print_json(struct cr__jw *w)
{
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr__jw_finish(w, &b);
    printf("%s\n", b.data ? (char *)b.data : "{}");
    cr_buf_free(&b);
}

/* One JSON object per answer. */
static void print_answer_json(const struct cr_load_result *r)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "index", (int64_t)r->index);
    cr__jw_text(w, "file", r->name);
    cr__jw_int(w, "http_status", r->http_status);
    cr__jw_string(w, "verdict", verdict_name(r->verdict));
    cr__jw_text(w, "answer", r->body);
    cr__jw_text(w, "expected", r->expected_label);
    cr__jw_text(w, "error", r->error);
    cr__jw_bool(w, "truncated", r->body_truncated);
    cr__jw_fixed(w, "latency_ms", (double)r->latency_us / 1000.0, 3);
    cr__jw_end(w);
    print_json(w);
}

/* The progress text: `[done/requests] sent S, in flight F, correct C,
 * wrong W, errors E, R answers/s, p50 P ms`. */
static void progress_text(const struct printer *p, char *out, size_t n)
{
    const struct cr_load_totals *t = &p->counts;
    size_t done = t->answered + t->errors;
    int len = snprintf(out, n,
                       "[%zu/%zu] sent %zu, in flight %zu, correct %zu, wrong %zu, errors %zu, "
                       "%.1f answers/s",
                       done, t->requests, t->sent, t->sent - done, t->correct, t->wrong,
                       t->errors, p->answers_per_s);
    if (len > 0 && (size_t)len < n && p->recent_p50_us >= 0)
        snprintf(out + len, n - (size_t)len, ", p50 %.0f ms", (double)p->recent_p50_us / 1000.0);
    else if (len > 0 && (size_t)len < n)
        snprintf(out + len, n - (size_t)len, ", p50 -");
}

/* Redraws the single progress line on a terminal, at most every 100 ms
 * unless forced. */
static void draw_progress(struct printer *p, int force)
{
    int64_t now = cr_time_mono_ms();
    if (p->progress != 1 || (!force && p->progress_drawn && now - p->last_draw_ms < 100))
        return;
    char line[256];
    progress_text(p, line, sizeof(line));
    fprintf(stderr, "\r\033[K%s", line);
    fflush(stderr);
    p->progress_drawn = 1;
    p->last_draw_ms = now;
}

/* Erases the progress line so that other output starts on a clean line. */
static void erase_progress(struct printer *p)
{
    if (p->progress_drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        p->progress_drawn = 0;
    }
}

/* The answer callback: one line per answer, then the progress line. */
static void on_answer(void *userdata, const struct cr_load_result *r,
                      const struct cr_load_totals *so_far)
{
    struct printer *p = userdata;
    p->counts = *so_far;
    if (p->report && cr_load_report_add(p->report, r) != CR_OK)
        fprintf(stderr, "%s: warning: out of memory for the report\n", prog);
    if (!p->quiet) {
        erase_progress(p);
        if (p->json)
            print_answer_json(r);
        else
            print_answer_text(r);
        fflush(stdout);
    }
    /* Always show the final count, whatever the throttle says. */
    draw_progress(p, !p->quiet || so_far->answered + so_far->errors == so_far->requests);
}

/* The progress callback (every second, answers or not): the rate and p50 of
 * the last seconds; on a terminal the line is redrawn, else one line each. */
static void on_progress(void *userdata, const struct cr_load_progress *g)
{
    struct printer *p = userdata;
    p->counts.sent = g->sent;
    p->counts.requests = g->requests;
    p->answers_per_s = g->answers_per_s;
    p->recent_p50_us = g->recent_p50_us;
    if (p->progress == 1) {
        draw_progress(p, 1);
    } else if (p->progress == 2) {
        char line[256];
        progress_text(p, line, sizeof(line));
        fprintf(stderr, "%s: %.1f s %s\n", prog, (double)g->elapsed_us / 1e6, line);
        fflush(stderr);
    }
}

/* The totals block: `key value` lines, after a blank line when answers were
 * printed above it. */
static void print_totals_text(const struct cr_load_totals *t, int with_gap)
{
    printf("%srequests    %zu\nsent        %zu\nanswered    %zu\ncorrect     %zu\n"
           "wrong       %zu\nerrors      %zu\nunchecked   %zu\n",
           with_gap ? "\n" : "", t->requests, t->sent, t->answered, t->correct, t->wrong, t->errors,
           t->unchecked);
    printf("wall        %.3f s\nthroughput  %.2f answers/s\n", (double)t->wall_us / 1e6,
           t->answers_per_s);
    printf("latency     p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
           (double)t->latency_p50_us / 1000.0, (double)t->latency_p90_us / 1000.0,
           (double)t->latency_p99_us / 1000.0, (double)t->latency_max_us / 1000.0);
}

/* The totals as one JSON object on one line. */
static void print_totals_json(const struct cr_load_totals *t)
{
    const size_t counts[] = {t->requests, t->sent,   t->answered, t->correct,
                             t->wrong,    t->errors, t->unchecked};
    static const char *const names[] = {"requests", "sent",   "answered", "correct",
                                        "wrong",    "errors", "unchecked"};
    const int64_t latency_us[] = {t->latency_p50_us, t->latency_p90_us, t->latency_p99_us,
                                  t->latency_max_us};
    static const char *const percentiles[] = {"p50", "p90", "p99", "max"};
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_object(w, "totals");
    for (size_t i = 0; i < sizeof(counts) / sizeof(counts[0]); i++)
        cr__jw_int(w, names[i], (int64_t)counts[i]);
    cr__jw_fixed(w, "wall_s", (double)t->wall_us / 1e6, 6);
    cr__jw_fixed(w, "answers_per_s", t->answers_per_s, 3);
    cr__jw_object(w, "latency_ms");
    for (size_t i = 0; i < sizeof(latency_us) / sizeof(latency_us[0]); i++)
        cr__jw_fixed(w, percentiles[i], (double)latency_us[i] / 1000.0, 3);
    cr__jw_end(w);
    cr__jw_end(w);
    cr__jw_end(w);
    print_json(w);
}

/* Starts the report and its watch of the web tier's /v1/stats. 0 or an
 * exit status (after a message). */
static int start_report(const struct cli *cl, struct printer *p)
{
    struct cr_error err = {0};
    char stats[2048];
    if (!cl->report)
        return 0;
    if (cr_load_stats_url(cl->url, stats, sizeof(stats)) != CR_OK) {
        fprintf(stderr, "%s: --url %s: cannot derive its /v1/stats URL\n", prog, cl->url);
        return EXIT_USAGE;
    }
    if (cr_load_report_new(&p->report, &err) != CR_OK ||
        cr_load_report_watch(p->report, stats, &err) != CR_OK) {
        fprintf(stderr, "%s: report: %s\n", prog, err.message);
        return EXIT_FAILED;
    }
    return 0;
}

/* Draws the report into cl->report. 0 or EXIT_FAILED (after a message). */
static int write_report(const struct cli *cl, struct printer *p, const struct cr_load_totals *t)
{
    struct cr_buf svg;
    struct cr_error err = {0};
    cr_buf_init(&svg, 0);
    cr_load_report_unwatch(p->report);
    cr_status st = cr_load_report_render(p->report, t, has_suffix(cl->report, ".html"), &svg);
    if (st == CR_OK)
        st = cr_file_write_atomic(cl->report, svg.data, svg.len, &err);
    else
        snprintf(err.message, sizeof(err.message), "%s", cr_strerror(st));
    if (st != CR_OK)
        fprintf(stderr, "%s: --report %s: %s\n", prog, cl->report, err.message);
    cr_buf_free(&svg);
    return st == CR_OK ? 0 : EXIT_FAILED;
}

/* Runs the load and prints the totals; returns the exit status. */
static int run(const struct cli *cl, const struct cr_load_item *items, size_t n_items)
{
    struct printer p = {.quiet = cl->quiet,
                        .json = cl->json,
                        .progress = isatty(STDERR_FILENO) ? 1 : cl->progress ? 2 : 0,
                        .recent_p50_us = -1};
    struct cr_load_options o = {
        .url = cl->url,
        .field_name = cl->field,
        .num_requests = cl->num ? cl->num : n_items,
        .concurrency = cl->concurrency,
        .timeout_ms = cl->timeout_ms,
        .on_answer = on_answer,
        .userdata = &p,
        .on_progress = p.progress ? on_progress : NULL,
        .progress_every_ms = p.progress == 1 ? 250 : 1000,
    };
    struct cr_load_totals t;
    struct cr_error err = {0};
    int rc = start_report(cl, &p);
    if (rc != 0) {
        cr_load_report_free(p.report);
        return rc;
    }
    raise_fd_limit(cl->concurrency);
    cr_status st = cr_load_run(&o, items, n_items, &t, &err);
    erase_progress(&p);
    if (st == CR_OK && p.report)
        rc = write_report(cl, &p, &t);
    cr_load_report_free(p.report);
    if (st != CR_OK) {
        tool_fail(prog, NULL, st, &err);
        return st == CR_ERR_INVALID || st == CR_ERR_NOT_FOUND || st == CR_ERR_IO ? EXIT_USAGE
                                                                                 : EXIT_FAILED;
    }
    if (cl->json)
        print_totals_json(&t);
    else
        print_totals_text(&t, !cl->quiet);
    int ok = t.errors == 0 && t.wrong == 0 && t.answered == t.requests && rc == 0;
    return ok ? 0 : EXIT_FAILED;
}

/* Flags, images, expectations, run; every path returns an exit status. */
int main(int argc, char **argv)
{
    struct cli cl;
    int rc = parse_args(argc, argv, &cl);
    if (rc >= 0 || (rc = check_args(&cl)) >= 0)
        return rc;
    struct image_list list = {0};
    struct cr_load_labels *labels = NULL;
    struct cr_load_item *items = NULL;
    struct cr_error err = {0};
    rc = EXIT_USAGE;
    if (collect_images(&cl, &list) != 0)
        goto out;
    if (cl.expect_csv && cr_load_labels_read(cl.expect_csv, &labels, &err) != CR_OK) {
        fprintf(stderr, "%s: %s\n", prog, err.message);
        goto out;
    }
    if (!(items = make_items(&list, labels, cl.expect_csv)))
        goto out;
    rc = run(&cl, items, list.n);
out:
    free(items);
    cr_load_labels_free(labels);
    list_free(&list);
    return rc;
}
