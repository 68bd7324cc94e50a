/*
 * endpoint.c - where each service lives: AWS_ENDPOINT_URL* overrides or the
 * regional AWS endpoint, and how a bucket, path and query become a URL.
 */
#include "aws/aws_internal.h"
#include "internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* An environment variable, or NULL when unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* $AWS_ENDPOINT_URL_<SERVICE>: the service id upper-cased, '-' as '_'. */
static const char *service_env(const char *service)
{
    char name[64] = "AWS_ENDPOINT_URL_";
    size_t n = strlen(name);
    for (const char *p = service; *p && n + 1 < sizeof(name); p++)
        name[n++] = *p == '-' ? '_' : (char)toupper((unsigned char)*p);
    name[n] = '\0';
    return env(name);
}

/* Length of the "http://" or "https://" prefix of url, 0 if neither. */
static size_t scheme_len(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return 8;
    return 0;
}

/* Checks a user-supplied endpoint and stores it without trailing slashes. */
static cr_status take_custom(const char *url, struct cr__aws_endpoint *out, struct cr_error *err)
{
    size_t s = scheme_len(url);
    size_t auth_len = s ? strcspn(url + s, "/") : 0;
    if (!s || auth_len == 0 || memchr(url + s, '@', auth_len) || strpbrk(url, "?# \t\r\n"))
        return cr__fail(err, CR_ERR_INVALID,
                        "endpoint URL '%.200s' must be http(s)://host[:port][/path] without "
                        "user, query or fragment", url);
    size_t len = strlen(url);
    while (len > s + auth_len && url[len - 1] == '/')
        len--;
    if (len >= sizeof(out->base))
        return cr__fail(err, CR_ERR_INVALID, "endpoint URL is too long");
    memcpy(out->base, url, len);
    out->base[len] = '\0';
    out->custom = 1;
    return CR_OK;
}

cr_status cr__aws_endpoint_resolve(const char *service, const char *region,
                                   const char *option_url, struct cr__aws_endpoint *out,
                                   struct cr_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!service || !service[0] || !region || !region[0])
        return cr__fail(err, CR_ERR_INVALID, "an endpoint needs a service and a region");
    const char *url = option_url && option_url[0] ? option_url : service_env(service);
    if (!url)
        url = env("AWS_ENDPOINT_URL");
    if (url)
        return take_custom(url, out, err);
    const char *suffix = strncmp(region, "cn-", 3) == 0 ? "amazonaws.com.cn" : "amazonaws.com";
    int n = snprintf(out->base, sizeof(out->base), "https://%s.%s.%s", service, region, suffix);
    if (n < 0 || (size_t)n >= sizeof(out->base))
        return cr__fail(err, CR_ERR_INVALID, "endpoint name is too long");
    return CR_OK;
}

int cr__aws_bucket_virtual_ok(const char *bucket)
{
    size_t n = bucket ? strlen(bucket) : 0;
    if (n < 3 || n > 63)
        return 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)bucket[i];
        if (!islower(c) && !isdigit(c) && c != '-')
            return 0;
    }
    return bucket[0] != '-' && bucket[n - 1] != '-';
}

cr_status cr__aws_compose_url(const struct cr__aws_endpoint *ep, int force_path_style,
                              const char *bucket, const char *path, const char *query,
                              struct cr_buf *url, struct cr_buf *host, struct cr_buf *wire_path)
{
    const char *base = ep->base;
    size_t s = scheme_len(base);
    if (!s)
        return CR_ERR_INVALID;
    size_t auth_len = strcspn(base + s, "/");
    const char *prefix = base + s + auth_len; /* "" or "/some/path" */
    int has_bucket = bucket && bucket[0];
    int virtual_host = has_bucket && !ep->custom && !force_path_style &&
                       cr__aws_bucket_virtual_ok(bucket);
    cr_status st = CR_OK;
    if (virtual_host)
        st = cr__buf_appendf(host, "%s.", bucket);
    if (st == CR_OK)
        st = cr__buf_append(host, base + s, auth_len);
    if (st == CR_OK)
        st = cr__buf_append_str(wire_path, prefix);
    if (st == CR_OK && has_bucket && !virtual_host) {
        st = cr__buf_append_str(wire_path, "/");
        if (st == CR_OK)
            st = cr__uri_encode(bucket, strlen(bucket), 0, wire_path);
    }
    if (st == CR_OK && path && path[0])
        st = cr__buf_append_str(wire_path, path);
    if (st == CR_OK && wire_path->len == 0)
        st = cr__buf_append_str(wire_path, "/");
    if (st == CR_OK)
        st = cr__buf_appendf(url, "%.*s%s%s%s%s", (int)s, base, (const char *)host->data,
                            (const char *)wire_path->data, query && query[0] ? "?" : "",
                            query ? query : "");
    return st;
}
