/*
 * http.h - internal HTTP client over libcurl (net/http.c is the library's
 * only libcurl user). Grows into the AWS transport.
 */
#ifndef CLOUDREC_NET_HTTP_H
#define CLOUDREC_NET_HTTP_H

#include "cloudrec/core.h"

/* Fetches url into body (appending, bounded by body->max_bytes or
 * max_bytes when non-zero). Any 2xx answer (or a readable file:// URL) is
 * success; other statuses give CR_ERR_HTTP with err->http_status set, 404 gives
 * CR_ERR_NOT_FOUND. TLS verification is always on. */
cr_status cr__http_get(const char *url, size_t max_bytes, long timeout_ms, struct cr_buf *body,
                       struct cr_error *err);

#endif
