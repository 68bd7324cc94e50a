/*
 * net/load.h - a load generator for the web tier: many concurrent
 * multipart uploads of image files, every answer checked and timed.
 *
 * It mimics the course's workload generator: up to `concurrency` POSTs in
 * flight at once, one image each, no client-side timeout unless asked for,
 * and an answer is `<stem>:<label>` (e.g. `test_0:bathtub`). See docs/load.md.
 *
 * Thread safety: cr_load_run() may run in several threads at once (each run
 * has its own connections); one labels table may be shared by readers.
 *
 * Internal since 0.2 (docs/api.md): not installed, not exported; the
 * programs and tests that use it link the static archive.
 */
#ifndef CLOUDREC_NET_LOAD_H
#define CLOUDREC_NET_LOAD_H

#include "internal.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CR_LOAD_DEFAULT_CONCURRENCY 100
#define CR_LOAD_DEFAULT_FIELD "inputFile"
#define CR_LOAD_DEFAULT_MAX_BODY_BYTES 4096

/* One image the run may upload. Borrowed for the length of cr_load_run(). */
struct cr_load_item {
    const char *path;           /* file to upload (required) */
    const char *name;           /* file name sent in the part; NULL = basename of path */
    const char *expected_label; /* NULL = only check that the answer is `<stem>:<label>` */
};

/* How an answer was judged. */
enum cr_load_verdict {
    CR_LOAD_CORRECT = 0, /* HTTP 200, `<stem>:<label>` with our stem (and the expected label) */
    CR_LOAD_WRONG = 1,   /* HTTP 200 but another stem, no label, not the expected label,
                            or an answer longer than max_body_bytes */
    CR_LOAD_ERROR = 2    /* a transport error or an HTTP status other than 200 */
};

/*
 * One finished upload, handed to the answer callback. Every pointer is valid
 * only during the callback; copy what you keep.
 */
struct cr_load_result {
    size_t index;               /* request number, 0 .. num_requests - 1 */
    size_t item;                /* index into the items array */
    const char *name;           /* file name that was sent */
    const char *expected_label; /* the item's expectation, or NULL */
    long http_status;           /* 0 when no HTTP answer arrived */
    cr_status status;           /* CR_OK, or CR_ERR_HTTP / _NETWORK / _TIMEOUT / _IO */
    const char *error;          /* "" or one line: the transport failure */
    const char *body;           /* answer body, NUL-terminated, trailing whitespace cut */
    size_t body_len;            /* bytes in body */
    int body_truncated;         /* non-zero when the answer was longer than max_body_bytes */
    int64_t latency_us;         /* from the start of the request to the last byte */
    enum cr_load_verdict verdict;
    int64_t end_us; /* from the start of the run to this answer */
};

/* Counts and timings of a run. The latency fields and throughput are only
 * filled in by cr_load_run's final result (0 in callback snapshots). */
struct cr_load_totals {
    size_t requests; /* planned uploads (num_requests) */
    size_t sent;     /* uploads started */
    size_t answered; /* HTTP 200 answers (correct + wrong) */
    size_t correct;
    size_t wrong;
    size_t errors;          /* transport errors and non-200 answers */
    size_t unchecked;       /* answered uploads whose item had no expected label */
    int64_t wall_us;        /* from the first request to the last answer */
    double answers_per_s;   /* answered / wall time */
    int64_t latency_p50_us; /* percentiles over the answered (HTTP 200) uploads */
    int64_t latency_p90_us;
    int64_t latency_p99_us;
    int64_t latency_max_us;
};

/* Called once per finished upload, on the thread running cr_load_run(), in
 * completion order. `so_far` holds the counts including this answer. */
typedef void (*cr_load_answer_fn)(void *userdata, const struct cr_load_result *result,
                                  const struct cr_load_totals *so_far);

/* How a run is going, handed to the progress callback. */
struct cr_load_progress {
    int64_t elapsed_us;     /* since the start of the run */
    size_t requests;        /* planned uploads */
    size_t sent;            /* uploads started */
    size_t answered;        /* HTTP 200 answers */
    size_t errors;          /* transport errors and non-200 answers */
    size_t in_flight;       /* started, not finished */
    double answers_per_s;   /* over the last CR_LOAD_PROGRESS_WINDOW_MS (or since the start) */
    int64_t recent_p50_us;  /* p50 latency of the answers in that window; -1 when none */
};

#define CR_LOAD_PROGRESS_WINDOW_MS 5000

/* Called every progress_every_ms while the run goes on (also while nothing
 * is answered), on the thread running cr_load_run(). */
typedef void (*cr_load_progress_fn)(void *userdata, const struct cr_load_progress *progress);

/* Options for cr_load_run(); zero means the default. Strings are borrowed. */
struct cr_load_options {
    const char *url;             /* required: http:// or https:// URL to POST to */
    const char *field_name;      /* form field of the file part; NULL = "inputFile" */
    size_t num_requests;         /* uploads to make, cycling through the items; 0 = n_items */
    size_t concurrency;          /* uploads in flight at once; 0 = 100 */
    long timeout_ms;             /* per upload, whole transfer; 0 = wait forever */
    size_t max_body_bytes;       /* answer bytes kept per upload; 0 = 4096 */
    cr_load_answer_fn on_answer; /* may be NULL */
    void *userdata;              /* passed to on_answer and on_progress */
    cr_load_progress_fn on_progress; /* may be NULL */
    long progress_every_ms;          /* how often on_progress is called; 0 = 1000 */
};

/*
 * Uploads items[i % n_items] for i = 0 .. num_requests - 1, keeping up to
 * `concurrency` uploads in flight over reused connections, and fills *totals.
 * Each upload is a multipart/form-data POST with one file part (field
 * opts->field_name, file name item.name, Content-Type from the extension).
 *
 * A failed upload is not a failure of the run: it is counted in totals and
 * reported to the callback. The call fails only before anything is sent
 * (CR_ERR_INVALID for bad options, CR_ERR_NOT_FOUND / CR_ERR_IO for an item
 * file that cannot be read, detail naming it) or when memory or libcurl give
 * out (CR_ERR_NOMEM, CR_ERR_NETWORK); *totals then holds what was done.
 */
cr_status cr_load_run(const struct cr_load_options *opts, const struct cr_load_item *items,
                      size_t n_items, struct cr_load_totals *totals, struct cr_error *err);

/*
 * Judges one HTTP 200 answer body for an uploaded file name: CR_LOAD_CORRECT
 * when the body is `<stem>:<label>` with the file's stem (name without its last
 * extension), a non-empty label, and (when expected_label is non-NULL) a label
 * equal to it after trimming surrounding whitespace; CR_LOAD_WRONG otherwise.
 */
enum cr_load_verdict cr_load_judge(const char *name, const char *body,
                                   const char *expected_label);

/* The nearest-rank p-th percentile (0 < p <= 100) of n values sorted in
 * ascending order: sorted[ceil(p / 100 * n) - 1]. 0 when n is 0; p <= 0 gives
 * the minimum and p > 100 the maximum. */
int64_t cr_load_percentile(const int64_t *sorted, size_t n, double p);

/* ---- a picture of a run ---------------------------------------------------
 * A report collects every answer of a run (when it finished, how long it
 * took, whether it was right) and, when it watches a web tier, the fleet
 * size the tier's GET /v1/stats shows over the same time; then it draws
 * one self-contained SVG (no scripts, no external references): latency of
 * each request over time, answers per second, and workers with the scaler's
 * desired count. docs/load.md shows one.
 */
struct cr_load_report;

/* A new, empty report; the run is taken to start now (wall clock). *out is
 * owned by the caller (cr_load_report_free). */
cr_status cr_load_report_new(struct cr_load_report **out, struct cr_error *err);

/* Records one answer (call it from the answer callback). Thread-safe. */
cr_status cr_load_report_add(struct cr_load_report *report,
                             const struct cr_load_result *result);

/* Starts a thread that reads stats_url (the web tier's /v1/stats) every few
 * seconds until cr_load_report_unwatch, keeping the fleet samples that fall
 * in the run. An unreachable URL is not an error: the picture then says the
 * fleet is unknown, and why. */
cr_status cr_load_report_watch(struct cr_load_report *report, const char *stats_url,
                               struct cr_error *err);

/* Reads stats_url one last time and stops the watching thread. Harmless
 * when not watching. */
void cr_load_report_unwatch(struct cr_load_report *report);

/* Merges a /v1/stats document (JSON text) into the fleet samples, as the
 * watching thread does. CR_ERR_FORMAT when it is not one. Thread-safe. */
cr_status cr_load_report_add_stats(struct cr_load_report *report, const char *json,
                                   size_t len, struct cr_error *err);

/* Appends the SVG picture to out (`html` non-zero: an HTML page holding it).
 * totals (may be NULL) go into its title. */
cr_status cr_load_report_render(struct cr_load_report *report,
                                const struct cr_load_totals *totals, int html,
                                struct cr_buf *out);

/* The /v1/stats URL of the web tier that url (an upload URL such as
 * http://host:8000/ or http://host:8000/upload) belongs to, into out (size n). */
cr_status cr_load_stats_url(const char *url, char *out, size_t n);

/* Stops watching and releases the report. Accepts NULL. */
void cr_load_report_free(struct cr_load_report *report);

/* ---- expected labels -----------------------------------------------------
 * A table name -> label read from CSV text, one `name,label` per line:
 *  - name is a file name with or without extension (`test_0` or
 *    `test_0.JPEG`); it is matched by stem, so both find `test_0.JPEG`.
 *  - label is everything after the first comma, so it may hold commas and
 *    spaces; surrounding whitespace is trimmed. Either field may be wrapped
 *    in double quotes, with `""` standing for one quote inside.
 *  - blank lines and lines starting with '#' are skipped; CRLF is accepted.
 *    A header such as `Image,Results` is just a name no file matches.
 * A line without a comma, with an empty name or label, or with a bad quote,
 * is CR_ERR_FORMAT naming the line. A repeated name: the last line wins.
 */
struct cr_load_labels;

/* Parses CSV text of len bytes into a new table (*out, free with
 * cr_load_labels_free). */
cr_status cr_load_labels_parse(const char *text, size_t len, struct cr_load_labels **out,
                               struct cr_error *err);

/* Reads and parses a CSV file (at most 64 MiB); detail names the path. */
cr_status cr_load_labels_read(const char *path, struct cr_load_labels **out,
                              struct cr_error *err);

/* The expected label for a file name (matched by stem), or NULL. The string
 * belongs to the table and is valid until cr_load_labels_free(). */
const char *cr_load_labels_find(const struct cr_load_labels *labels, const char *name);

/* Number of distinct names in the table. */
size_t cr_load_labels_count(const struct cr_load_labels *labels);

/* Releases the table. Accepts NULL. */
void cr_load_labels_free(struct cr_load_labels *labels);

#ifdef __cplusplus
}
#endif
#endif
