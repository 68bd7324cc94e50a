/*
 * test_web.c - the web tier's pure parts: upload names, one-line messages,
 * Accept headers, stems, the pending map and the metrics text. The
 * HTTP behaviour is tested end to end in tests/integration/test_web.py.
 */
#include "tap.h"
#include "web/web_internal.h"

#include <stdlib.h>
#include <string.h>

/* The name cr__web_upload_name gives raw, or "" when it refuses (then
 * *code and msg get the HTTP status and reason). */
static const char *name_of(const char *raw, long *code, char *msg, size_t n)
{
    static char out[CR_WEB_MAX_NAME + 1];
    struct cr_error err = {0};
    *code = 0;
    msg[0] = '\0';
    if (cr__web_upload_name(raw, out, sizeof(out), &err) == CR_OK)
        return out;
    *code = err.http_status;
    cr__strlcpy(msg, err.message, n);
    return "";
}

static void test_upload_names(void)
{
    long code;
    char msg[512];
    CHECK_EQ_STR(name_of("test_0.JPEG", &code, msg, sizeof(msg)), "test_0.JPEG");
    /* A client's directory part is dropped; the name is metadata only, so
     * ".." is harmless and everyday names pass as they are. */
    CHECK_EQ_STR(name_of("pics/test_1.jpg", &code, msg, sizeof(msg)), "test_1.jpg");
    CHECK_EQ_STR(name_of("C:\\Users\\me\\a-b_c.png", &code, msg, sizeof(msg)), "a-b_c.png");
    CHECK_EQ_STR(name_of("../../x.jpg", &code, msg, sizeof(msg)), "x.jpg");
    CHECK_EQ_STR(name_of("Screenshot 2026-12-03 at 10.00.00.jpg", &code, msg, sizeof(msg)),
                 "Screenshot 2026-12-03 at 10.00.00.jpg");
    CHECK_EQ_STR(name_of("hund-\xc3\xa9t\xc3\xa9.jpg", &code, msg, sizeof(msg)),
                 "hund-\xc3\xa9t\xc3\xa9.jpg");
    CHECK_EQ_STR(name_of(".png", &code, msg, sizeof(msg)), ".png");
    CHECK_EQ_STR(name_of("..", &code, msg, sizeof(msg)), "..");
    CHECK_EQ_STR(name_of("quote\".jpg", &code, msg, sizeof(msg)), "quote\".jpg");

    CHECK_EQ_STR(name_of("a\nb.jpg", &code, msg, sizeof(msg)), "");
    CHECK_EQ_INT(code, 400);
    CHECK_EQ_STR(msg, "unsafe file name \"a?b.jpg\": control character");
    CHECK_EQ_STR(name_of("a\x7f.jpg", &code, msg, sizeof(msg)), "");
    CHECK(strstr(msg, "control character") != NULL);
    CHECK_EQ_STR(name_of("bad-\xc3(.jpg", &code, msg, sizeof(msg)), "");
    CHECK_EQ_STR(msg, "file name \"bad-?(.jpg\" is not valid UTF-8");
    CHECK_EQ_STR(name_of("over-\xe0\x80\xaf.jpg", &code, msg, sizeof(msg)), "");
    CHECK(strstr(msg, "not valid UTF-8") != NULL);
    CHECK_EQ_STR(name_of("dir/", &code, msg, sizeof(msg)), "");
    CHECK(strstr(msg, "no base name") != NULL);
    CHECK_EQ_STR(name_of("", &code, msg, sizeof(msg)), "");
    CHECK_EQ_STR(msg, "the file part has no file name");

    char longname[CR_WEB_MAX_NAME + 2];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    CHECK_EQ_STR(name_of(longname, &code, msg, sizeof(msg)), "");
    CHECK(strstr(msg, "longer than 255 bytes") != NULL);
    longname[CR_WEB_MAX_NAME] = '\0';
    CHECK_EQ_STR(name_of(longname, &code, msg, sizeof(msg)), longname);
}

/* The stem rule the answer "<stem>:<label>" uses. */
static void test_stems(void)
{
    char stem[64];
    CHECK_EQ_INT(cr__name_stem("test_0.JPEG", stem, sizeof(stem)), CR_OK);
    CHECK_EQ_STR(stem, "test_0");
    CHECK_EQ_INT(cr__name_stem("Screenshot 2026-12-03 at 10.00.00.jpg", stem, sizeof(stem)), CR_OK);
    CHECK_EQ_STR(stem, "Screenshot 2026-12-03 at 10.00.00");
    CHECK_EQ_INT(cr__name_stem("noext", stem, sizeof(stem)), CR_OK);
    CHECK_EQ_STR(stem, "noext");
    CHECK_EQ_INT(cr__name_stem(".jpg", stem, sizeof(stem)), CR_OK);
    CHECK_EQ_STR(stem, ".jpg");
    CHECK_EQ_INT(cr__name_stem("", stem, sizeof(stem)), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__name_stem("a.jpg", stem, 1), CR_ERR_INVALID);
}

static void test_printable(void)
{
    char out[16];
    cr__web_printable("a\"b\x01\xc3\xa9", 60, out, sizeof(out));
    CHECK_EQ_STR(out, "a'b???");
    cr__web_printable("abcdefghijklmnopqrstuvwxyz", 5, out, sizeof(out));
    CHECK_EQ_STR(out, "abcde...");
    cr__web_printable("abcdefghijklmnopqrstuvwxyz", 60, out, sizeof(out));
    CHECK_EQ_STR(out, "abcdefghijklmno");
    cr__web_printable(NULL, 60, out, sizeof(out));
    CHECK_EQ_STR(out, "");
}

static void test_accept_and_http_fail(void)
{
    CHECK(cr__web_accepts_json("application/json"));
    CHECK(cr__web_accepts_json("text/html, Application/JSON;q=0.9"));
    CHECK(!cr__web_accepts_json("text/plain"));
    CHECK(!cr__web_accepts_json(NULL));

    /* The message may wrap the message already in err. */
    struct cr_error err = {0};
    cr__strlcpy(err.message, "disk full", sizeof(err.message));
    CHECK_EQ_INT(cr__web_http_fail(&err, 503, "cannot store: %s", err.message), CR_ERR_INVALID);
    CHECK_EQ_INT(err.http_status, 503);
    CHECK_EQ_STR(err.message, "cannot store: disk full");
}

static void test_pending_map(void)
{
    struct cr__web_pending_map m;
    CHECK_EQ_INT(cr__web_pending_init(&m), CR_OK);
    enum { N = 3000 };
    struct cr__web_pending *e = calloc(N, sizeof(*e));
    for (int i = 0; i < N; i++) {
        snprintf(e[i].id, sizeof(e[i].id), "id-%d", i);
        e[i].suspended = i % 2;
        e[i].deadline_ms = i < 100 ? 1000 : 0;
        cr__web_pending_add(&m, &e[i]);
    }
    CHECK_EQ_INT(m.count, N);
    CHECK(cr__web_pending_take(&m, "id-2999") == &e[2999]);
    CHECK(cr__web_pending_take(&m, "id-2999") == NULL);
    CHECK(cr__web_pending_take(&m, "nope") == NULL);
    CHECK_EQ_INT(m.count, N - 1);

    /* Only suspended entries past their deadline expire, in batches. */
    struct cr__web_pending *out[32];
    CHECK_EQ_INT(cr__web_pending_take_expired(&m, 999, out, 32), 0);
    size_t total = 0, n;
    while ((n = cr__web_pending_take_expired(&m, 1000, out, 32)) > 0) {
        for (size_t i = 0; i < n; i++)
            CHECK_MSG(out[i]->suspended && out[i]->deadline_ms == 1000, "expired entry");
        total += n;
    }
    CHECK_EQ_INT(total, 50);
    CHECK_EQ_INT(m.count, N - 1 - 50);

    size_t drained = 0;
    while (cr__web_pending_take_any(&m))
        drained++;
    CHECK_EQ_INT(drained, N - 1 - 50);
    CHECK_EQ_INT(m.count, 0);

    /* The ring of answered ids keeps the last CR__WEB_RECENT_IDS. */
    char id[CR_UUID_STR_LEN];
    for (int i = 0; i < CR__WEB_RECENT_IDS + 10; i++) {
        snprintf(id, sizeof(id), "done-%d", i);
        cr__web_pending_remember(&m, id);
    }
    CHECK(!cr__web_pending_seen(&m, "done-9"));
    CHECK(cr__web_pending_seen(&m, "done-10"));
    snprintf(id, sizeof(id), "done-%d", CR__WEB_RECENT_IDS + 9);
    CHECK(cr__web_pending_seen(&m, id));
    free(e);
    cr__web_pending_clear(&m);
}

static void test_metrics_text(void)
{
    struct cr__web_metrics m;
    cr__web_metrics_init(&m);
    cr__web_metrics_response(&m, 200);
    cr__web_metrics_response(&m, 200);
    cr__web_metrics_response(&m, 418);
    cr__web_metrics_upload(&m, 200, 5000);      /* 5 ms */
    cr__web_metrics_upload(&m, 504, 400000000); /* 400 s: only +Inf */
    atomic_fetch_add(&m.duplicates, 3);
    CHECK_EQ_INT(cr__web_metrics_requests(&m), 3);
    struct cr__web_gauges g = {
        .pending = 7, .queue_ok = 1, .queue_visible = 4, .queue_in_flight = 2, .uptime_s = 1.5};
    struct cr_buf out;
    cr_buf_init(&out, 0);
    CHECK_EQ_INT(cr__web_metrics_render(&m, &g, &out), CR_OK);
    const char *t = (const char *)out.data;
    CHECK(strstr(t, "cloudrec_web_http_responses_total{code=\"200\"} 2\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_http_responses_total{code=\"other\"} 1\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_uploads_answered_total 1\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_deadline_expired_total 1\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_replies_ignored_total{reason=\"duplicate\"} 3\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_upload_duration_seconds_bucket{le=\"0.01\"} 1\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_upload_duration_seconds_bucket{le=\"300\"} 1\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_upload_duration_seconds_bucket{le=\"+Inf\"} 2\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_upload_duration_seconds_count 2\n") != NULL);
    CHECK(strstr(t, "cloudrec_web_pending_requests 7\n") != NULL);
    CHECK(strstr(t, "cloudrec_queue_visible_messages{queue=\"requests\"} 4\n") != NULL);
    CHECK(strstr(t, "# TYPE cloudrec_web_upload_duration_seconds histogram\n") != NULL);
    cr__buf_reset(&out);
    g.queue_ok = 0;
    CHECK_EQ_INT(cr__web_metrics_render(&m, &g, &out), CR_OK);
    CHECK(strstr((const char *)out.data, "cloudrec_queue_visible_messages") == NULL);
    cr_buf_clear(&out);
}

/* The latencies of uploads answered 200 come back once each, newest kept. */
static void test_recent_latencies(void)
{
    static struct cr__web_metrics m;
    static uint32_t got[CR__WEB_RECENT];
    uint64_t cursor = 0;
    cr__web_metrics_init(&m);
    CHECK_EQ_INT(cr__web_metrics_recent(&m, &cursor, got, CR__WEB_RECENT), 0);
    cr__web_metrics_upload(&m, 200, 12000);
    cr__web_metrics_upload(&m, 400, 1000); /* not an answer: not counted */
    cr__web_metrics_upload(&m, 200, 34999);
    CHECK_EQ_INT(cr__web_metrics_recent(&m, &cursor, got, CR__WEB_RECENT), 2);
    CHECK_EQ_INT(got[0], 12);
    CHECK_EQ_INT(got[1], 34);
    CHECK_EQ_INT(cr__web_metrics_recent(&m, &cursor, got, CR__WEB_RECENT), 0);
    for (int i = 0; i < CR__WEB_RECENT + 10; i++)
        cr__web_metrics_upload(&m, 200, (int64_t)i * 1000);
    CHECK_EQ_INT(cr__web_metrics_recent(&m, &cursor, got, 3), 3);
    CHECK_EQ_INT(got[2], CR__WEB_RECENT + 9); /* the newest */
    CHECK_EQ_INT(got[0], CR__WEB_RECENT + 7);
}

/* The dashboard's files are served by path, with their types. */
static void test_assets(void)
{
    size_t len = 0;
    const char *type = NULL;
    const char *js = cr__web_asset("/app.js", &len, &type);
    CHECK(js && len == strlen(js) && strstr(js, "/v1/stats"));
    CHECK_EQ_STR(type, "text/javascript; charset=utf-8");
    CHECK(cr__web_asset("/app.css", &len, &type) && strncmp(type, "text/css", 8) == 0);
    CHECK(cr__web_asset("/nope.js", &len, &type) == NULL);
    const char *page = cr__web_page_html();
    CHECK(strstr(page, "src=\"/app.js\"") && strstr(page, "multiple"));
    CHECK(!strstr(page, "onclick") && !strstr(page, "onload")); /* CSP: no inline handlers */
}

int main(void)
{
    test_recent_latencies();
    test_assets();
    test_upload_names();
    test_printable();
    test_accept_and_http_fail();
    test_stems();
    test_pending_map();
    test_metrics_text();
    return tap_done();
}
