/* test_load.c - the load generator: percentiles, judging answers, the
 * expected-labels CSV, and cr__load_run's argument checks and refused
 * connections (the HTTP side is tested end to end in test_load.py). */
#include "cloudrec.h"
#include "internal.h"
#include "net/load_internal.h"
#include "tap.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void test_percentile(void)
{
    int64_t ten[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 50), 5);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 90), 9);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 99), 10);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 100), 10);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 10), 1);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 10.5), 2);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 0), 1);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, -3), 1);
    CHECK_EQ_INT(cr__load_percentile(ten, 10, 250), 10);
    CHECK_EQ_INT(cr__load_percentile(ten, 0, 50), 0);
    CHECK_EQ_INT(cr__load_percentile(NULL, 5, 50), 0);

    int64_t one[] = {42};
    CHECK_EQ_INT(cr__load_percentile(one, 1, 1), 42);
    CHECK_EQ_INT(cr__load_percentile(one, 1, 99.9), 42);

    /* 1000 values: p99 is the 990th, p99.9 the 999th (nearest rank). */
    int64_t *v = malloc(1000 * sizeof(*v));
    for (int i = 0; i < 1000; i++)
        v[i] = (i + 1) * 10;
    CHECK_EQ_INT(cr__load_percentile(v, 1000, 50), 5000);
    CHECK_EQ_INT(cr__load_percentile(v, 1000, 99), 9900);
    CHECK_EQ_INT(cr__load_percentile(v, 1000, 99.9), 9990);
    free(v);
}

static void test_stem(void)
{
    CHECK_EQ_INT(cr__load_stem_len("test_0.JPEG"), 6);
    CHECK_EQ_INT(cr__load_stem_len("test_0"), 6);
    CHECK_EQ_INT(cr__load_stem_len("a.b.png"), 3);
    CHECK_EQ_INT(cr__load_stem_len(".hidden"), 7);
    CHECK_EQ_INT(cr__load_stem_len(""), 0);
}

static void test_judge(void)
{
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:bathtub", NULL), CR_LOAD_CORRECT);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:bathtub", "bathtub"), CR_LOAD_CORRECT);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:tiger cat", " tiger cat "), CR_LOAD_CORRECT);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0: bathtub ", "bathtub"), CR_LOAD_CORRECT);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:bathtub", "tub"), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:bathtub", "Bathtub"), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:bath", "bathtub"), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_1:bathtub", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_00:bathtub", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_10.JPEG", "test_1:bathtub", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0:  ", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "bathtub", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("test_0.JPEG", "test_0.JPEG:bathtub", NULL), CR_LOAD_WRONG);
    /* A colon inside the label is part of the label. */
    CHECK_EQ_INT(cr__load_judge("a.png", "a:x:y", "x:y"), CR_LOAD_CORRECT);
    CHECK_EQ_INT(cr__load_judge(NULL, "a:x", NULL), CR_LOAD_WRONG);
    CHECK_EQ_INT(cr__load_judge("a.png", NULL, NULL), CR_LOAD_WRONG);
}

/* Parses text, checking the status; returns the table (or NULL). */
static struct cr_load_labels *parse(const char *text, cr_status want, struct cr_error *err)
{
    struct cr_load_labels *t = NULL;
    cr_error_clear(err);
    cr_status st = cr__load_labels_parse(text, strlen(text), &t, err);
    CHECK_EQ_INT(st, want);
    return t;
}

static void test_labels(void)
{
    struct cr_error err;
    const char *csv = "Image,Results\r\n"
                      "# a comment\n"
                      "\n"
                      "test_0,bathtub\r\n"
                      "test_1.JPEG, tiger cat \n"
                      "test_2,tiger cat, large\n"
                      "\"test_3\",\"say \"\"hi\"\", ok\"\n"
                      "  test_4 , \"quoted\"  \n"
                      "test_0.JPEG,tub\n" /* repeated: the last one wins */
                      "test_5,last line without newline";
    struct cr_load_labels *t = parse(csv, CR_OK, &err);
    CHECK_EQ_INT(cr__load_labels_count(t), 7);
    CHECK_EQ_STR(cr__load_labels_find(t, "test_0.JPEG"), "tub");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_0"), "tub");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_1.JPEG"), "tiger cat");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_1.png"), "tiger cat");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_2.JPEG"), "tiger cat, large");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_3.JPEG"), "say \"hi\", ok");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_4.JPEG"), "quoted");
    CHECK_EQ_STR(cr__load_labels_find(t, "test_5.JPEG"), "last line without newline");
    CHECK_EQ_STR(cr__load_labels_find(t, "Image"), "Results");
    CHECK(cr__load_labels_find(t, "test_6.JPEG") == NULL);
    CHECK(cr__load_labels_find(t, "test_.JPEG") == NULL);
    CHECK(cr__load_labels_find(t, "test_00.JPEG") == NULL);
    CHECK(cr__load_labels_find(t, "") == NULL);
    CHECK(cr__load_labels_find(NULL, "test_0") == NULL);
    cr__load_labels_free(t);

    t = parse("", CR_OK, &err);
    CHECK_EQ_INT(cr__load_labels_count(t), 0);
    CHECK(cr__load_labels_find(t, "x") == NULL);
    cr__load_labels_free(t);
    cr__load_labels_free(NULL);
}

static void test_labels_malformed(void)
{
    static const struct {
        const char *text;
        const char *line;
    } bad[] = {
        {"a,b\nno comma\n", "line 2:"}, {"a,\n", "line 1:"},
        {",label\n", "line 1:"},        {"a,\"unterminated\n", "line 1:"},
        {"\"a,b\n", "line 1:"},         {"a,\"x\" trailing\n", "line 1:"},
        {"\"a\" x,b\n", "line 1:"},     {"ok,1\n\n# c\nx,   \n", "line 4:"},
    };
    struct cr_error err;
    for (size_t i = 0; i < CR__ARRAY_LEN(bad); i++) {
        struct cr_load_labels *t = parse(bad[i].text, CR_ERR_FORMAT, &err);
        CHECK(t == NULL);
        CHECK_MSG(strstr(err.message, bad[i].line) != NULL, bad[i].line);
        if (!strstr(err.message, bad[i].line))
            DIAG("message: %s", err.message);
    }
}

static void test_labels_read(void)
{
    char path[] = "/tmp/cr-load-labels-XXXXXX";
    int fd = mkstemp(path);
    const char text[] = "test_0,dog\nbroken\n";
    CHECK(fd >= 0 && write(fd, text, sizeof(text) - 1) == (ssize_t)(sizeof(text) - 1));
    close(fd);
    struct cr_error err = {0};
    struct cr_load_labels *t = NULL;
    CHECK_EQ_INT(cr__load_labels_read(path, &t, &err), CR_ERR_FORMAT);
    CHECK_MSG(strncmp(err.message, path, strlen(path)) == 0 && strstr(err.message, "line 2"),
              "a CSV error names the file and the line");
    unlink(path);
    CHECK_EQ_INT(cr__load_labels_read(path, &t, &err), CR_ERR_NOT_FOUND);
    CHECK(t == NULL);
}

/* Counts answers for the run test. */
struct seen {
    size_t calls;
    size_t errors;
    size_t last_sent;
};

static void count_answer(void *userdata, const struct cr_load_result *r,
                         const struct cr_load_totals *so_far)
{
    struct seen *s = userdata;
    s->calls++;
    s->errors += r->verdict == CR_LOAD_ERROR && r->status == CR_ERR_NETWORK && r->error[0] &&
                 r->http_status == 0;
    s->last_sent = so_far->sent;
}

/* A port on 127.0.0.1 that nothing listens on (bound, then closed). */
static int closed_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0)
        return 1;
    close(fd);
    return ntohs(a.sin_port);
}

static void test_run(void)
{
    struct cr_load_totals t;
    struct cr_error err = {0};
    struct cr_load_item items[] = {{.path = "/usr/share/darknet/data/dog.jpg"},
                                   {.path = "/usr/share/darknet/data/eagle.jpg", .name = "x.jpg"}};
    struct cr_load_options o = {.url = "http://127.0.0.1:1/"};

    CHECK_EQ_INT(cr__load_run(&o, items, 2, NULL, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__load_run(NULL, items, 2, &t, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__load_run(&o, items, 0, &t, &err), CR_ERR_INVALID);
    o.url = "ftp://x/";
    CHECK_EQ_INT(cr__load_run(&o, items, 2, &t, &err), CR_ERR_INVALID);
    o.url = "http://127.0.0.1:1/";
    struct cr_load_item missing = {.path = "/nonexistent/x.jpg"};
    CHECK_EQ_INT(cr__load_run(&o, &missing, 1, &t, &err), CR_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "/nonexistent/x.jpg") != NULL);
    struct cr_load_item dir = {.path = "/tmp"};
    CHECK_EQ_INT(cr__load_run(&o, &dir, 1, &t, &err), CR_ERR_IO);
    CHECK_EQ_INT(t.sent, 0);

    /* Refused connections are answers (errors), not a failed run. */
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/upload", closed_port());
    struct seen s = {0};
    o = (struct cr_load_options){
        .url = url, .num_requests = 7, .concurrency = 3, .on_answer = count_answer, .userdata = &s};
    CHECK_EQ_INT(cr__load_run(&o, items, 2, &t, &err), CR_OK);
    CHECK_EQ_INT(s.calls, 7);
    CHECK_EQ_INT(s.errors, 7);
    CHECK_EQ_INT(s.last_sent, 7);
    CHECK(t.requests == 7 && t.sent == 7 && t.errors == 7 && t.answered == 0);
    CHECK(t.correct == 0 && t.wrong == 0 && t.latency_max_us == 0 && t.answers_per_s == 0.0);
    CHECK(t.wall_us > 0);
}

static void test_stats_url(void)
{
    char out[128];
    CHECK_EQ_INT(cr__load_stats_url("http://127.0.0.1:8000/", out, sizeof(out)), CR_OK);
    CHECK_EQ_STR(out, "http://127.0.0.1:8000/v1/stats");
    CHECK_EQ_INT(cr__load_stats_url("https://h.example/upload?x=1", out, sizeof(out)), CR_OK);
    CHECK_EQ_STR(out, "https://h.example/v1/stats");
    CHECK_EQ_INT(cr__load_stats_url("http://[::1]:80", out, sizeof(out)), CR_OK);
    CHECK_EQ_STR(out, "http://[::1]:80/v1/stats");
    CHECK_EQ_INT(cr__load_stats_url("no-scheme", out, sizeof(out)), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__load_stats_url("http://a-long-host-name/", out, 10), CR_ERR_TOO_LARGE);
}

/* The fleet samples of /v1/stats documents reach the picture: merged in
 * time order without repeats, unknown values left out. */
static void test_report_stats(void)
{
    struct cr_load_report *r = NULL;
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__load_report_new(&r, &err), CR_OK);
    int64_t t0 = cr__time_wall_ms();
    char doc[512];
    snprintf(doc, sizeof(doc),
             "{\"series\":{\"time_ms\":[%lld,%lld],\"starting\":[1,0],\"busy\":[0,2],"
             "\"idle\":[0,1],\"desired\":[null,2]}}",
             (long long)t0, (long long)t0 + 1000);
    CHECK_EQ_INT(cr__load_report_add_stats(r, doc, strlen(doc), &err), CR_OK);
    CHECK_EQ_INT(cr__load_report_add_stats(r, doc, strlen(doc), &err), CR_OK); /* no repeats */
    CHECK_EQ_INT(cr__load_report_add_stats(r, "{\"series\":{}}", 13, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__load_report_add_stats(r, "[", 1, &err), CR_ERR_FORMAT);
    struct cr_load_result res = {.end_us = 1500000, .latency_us = 800000};
    CHECK_EQ_INT(cr__load_report_add(r, &res), CR_OK);
    struct cr_buf svg;
    cr_buf_init(&svg, 0);
    CHECK_EQ_INT(cr__load_report_render(r, NULL, 0, &svg), CR_OK);
    const char *text = svg.data ? (const char *)svg.data : "";
    CHECK(strstr(text, "data-series=\"workers\"") != NULL);
    const char *workers = strstr(text, "data-series=\"workers\"");
    CHECK(workers && strstr(workers, "data-values=\"1,3\"") != NULL);
    const char *desired = strstr(text, "data-series=\"desired\"");
    CHECK(desired && strstr(desired, "data-values=\"2\"") != NULL);
    CHECK(strstr(text, "data-count=\"1\"") != NULL);
    CHECK(strstr(text, "<script") == NULL);
    cr_buf_clear(&svg);
    cr__load_report_free(r);
}

int main(void)
{
    test_stats_url();
    test_report_stats();
    test_percentile();
    test_stem();
    test_judge();
    test_labels();
    test_labels_malformed();
    test_labels_read();
    test_run();
    return tap_done();
}
