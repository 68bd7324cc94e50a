/* http.c - the library's only libcurl user. */
#include "net/http.h"
#include "internal.h"

#include <curl/curl.h>
#include <pthread.h>
#include <string.h>

static pthread_once_t g_curl_once = PTHREAD_ONCE_INIT;
static CURLcode g_curl_init_rc;

/* curl_global_init is not thread-safe on older libcurl; run it exactly once. */
static void curl_init_once(void)
{
    g_curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

struct sink {
    struct cr_buf *buf;
    size_t max_bytes;
    size_t start;
    cr_status failed; /* why on_body stopped the transfer, CR_OK if it did not */
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userdata)
{
    struct sink *s = userdata;
    size_t n = size * nmemb;
    cr_status st = s->buf->len - s->start + n > s->max_bytes ? CR_ERR_TOO_LARGE
                                                             : cr_buf_append(s->buf, data, n);
    if (st != CR_OK) {
        s->failed = st;
        return 0; /* makes libcurl stop with CURLE_WRITE_ERROR */
    }
    return n;
}

cr_status cr__http_get(const char *url, size_t max_bytes, long timeout_ms, struct cr_buf *body,
                       struct cr_error *err)
{
    pthread_once(&g_curl_once, curl_init_once);
    if (g_curl_init_rc != CURLE_OK)
        return cr__fail(err, CR_ERR_NETWORK, "libcurl initialisation failed");
    CURL *h = curl_easy_init();
    if (!h)
        return cr__fail(err, CR_ERR_NOMEM, "cannot create a libcurl handle");
    struct sink s = {.buf = body,
                     .max_bytes = max_bytes ? max_bytes : (body->max_bytes ? body->max_bytes
                                                                          : SIZE_MAX / 2),
                     .start = body->len};
    char curl_msg[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, curl_msg);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : 600000L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    CURLcode rc = curl_easy_perform(h);
    long code = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_cleanup(h);

    cr_status st = CR_OK;
    if (s.failed == CR_ERR_TOO_LARGE) {
        st = cr__fail(err, CR_ERR_TOO_LARGE, "%s: answer larger than %zu bytes", url,
                      s.max_bytes);
    } else if (s.failed != CR_OK) {
        st = cr__fail(err, s.failed, "%s: %s", url, cr_strerror(s.failed));
    } else if (rc == CURLE_FILE_COULDNT_READ_FILE || rc == CURLE_REMOTE_FILE_NOT_FOUND) {
        st = cr__fail(err, CR_ERR_NOT_FOUND, "%s: %s", url,
                      curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        st = cr__fail(err, CR_ERR_TIMEOUT, "%s: %s", url, curl_easy_strerror(rc));
    } else if (rc != CURLE_OK) {
        st = cr__fail(err, CR_ERR_NETWORK, "%s: %s", url,
                      curl_msg[0] ? curl_msg : curl_easy_strerror(rc));
    } else if (code != 0 && (code < 200 || code > 299)) {
        st = cr__fail(err, code == 404 ? CR_ERR_NOT_FOUND : CR_ERR_HTTP, "%s: HTTP status %ld",
                      url, code);
        if (err)
            err->http_status = code;
    }
    if (st != CR_OK) {
        body->len = s.start;
        if (body->data)
            body->data[body->len] = '\0';
    }
    return st;
}
