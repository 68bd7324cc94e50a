/*
 * svc.c - the query-API round trip and the small parsing helpers that the
 * S3, SQS and EC2 modules share (see svc.h).
 */
#include "aws/svc.h"
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

cr_status cr__svc_form_begin(struct cr_buf *form, const char *action, const char *version)
{
    cr_status st = cr__aws_query_add(form, "Action", action);
    return st == CR_OK ? cr__aws_query_add(form, "Version", version) : st;
}

cr_status cr__svc_form_addf(struct cr_buf *form, const char *value, const char *name_fmt, ...)
{
    if (!value)
        return CR_OK;
    char name[128];
    va_list ap;
    va_start(ap, name_fmt);
    int n = vsnprintf(name, sizeof(name), name_fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(name))
        return CR_ERR_INVALID;
    return cr__aws_query_add(form, name, value);
}

cr_status cr__svc_form_add_long(struct cr_buf *form, const char *name, long long value)
{
    char text[32];
    snprintf(text, sizeof(text), "%lld", value);
    return cr__aws_query_add(form, name, text);
}

/* The Action parameter of a form, for messages ("Action=SendMessage&..."). */
static void form_action(const struct cr_buf *form, char *out, size_t n)
{
    const char *s = form->data ? (const char *)form->data : "";
    const char *a = strncmp(s, "Action=", 7) == 0 ? s + 7 : "?";
    size_t len = strcspn(a, "&");
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), a);
}

/* Rewrites each "%20" of an encoded form as "+", the way HTML forms and the
 * AWS SDKs encode a space: AWS decodes both, but servers that re-encode
 * the form to check the signature (moto) expect '+'. A literal "%20" in a
 * value was encoded as "%2520", so only spaces change. */
static void form_spaces_as_plus(struct cr_buf *form)
{
    unsigned char *w = form->data, *r = form->data, *end = form->data + form->len;
    while (r < end) {
        if (end - r >= 3 && r[0] == '%' && r[1] == '2' && r[2] == '0') {
            *w++ = '+';
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    form->len = (size_t)(w - form->data);
    if (form->data)
        form->data[form->len] = '\0';
}

cr_status cr__svc_query(struct cr_aws *aws, const char *service, struct cr_buf *form,
                        long timeout_ms, struct cr__xml_doc **doc, struct cr_error *err)
{
    *doc = NULL;
    form_spaces_as_plus(form);
    struct cr__aws_request req = {.service = service,
                                  .method = "POST",
                                  .path = "/",
                                  .body = form->data,
                                  .body_len = form->len,
                                  .timeout_ms = timeout_ms};
    struct cr__aws_response resp = {0};
    char action[64];
    form_action(form, action, sizeof(action));
    cr_status st = cr__aws_send(aws, &req, &resp, err);
    if (st == CR_OK) {
        struct cr_error e;
        st = cr__xml_parse(resp.http.body.data, resp.http.body.len, 0, doc, &e);
        if (st != CR_OK)
            cr__fail(err, st, "%s %s: unreadable answer: %s", service, action, e.message);
    } else if (err) {
        /* "sqs POST /: Code: ..." says less than "sqs SendMessage: Code: ...". */
        char transport[32];
        snprintf(transport, sizeof(transport), "%s POST /: ", service);
        size_t n = strlen(transport);
        const char *rest =
            strncmp(err->message, transport, n) == 0 ? err->message + n : err->message;
        char msg[sizeof(err->message) + sizeof(transport) + sizeof(action)];
        snprintf(msg, sizeof(msg), "%s %s: %s", service, action, rest);
        cr__strlcpy(err->message, msg, sizeof(err->message));
    }
    cr__aws_response_clear(&resp);
    return st;
}

cr_status cr__svc_text(const struct cr__xml_node *parent, const char *name, char **out)
{
    *out = NULL;
    const struct cr__xml_node *c = cr__xml_child(parent, name);
    if (!c)
        return CR_OK;
    *out = cr__xml_text(c);
    return *out ? CR_OK : CR_ERR_NOMEM;
}

cr_status cr__svc_fill(const struct cr__xml_node *parent, void *base,
                       const struct cr__svc_field *fields, size_t num_fields)
{
    for (size_t i = 0; i < num_fields; i++) {
        char **slot = (char **)(void *)((char *)base + fields[i].offset);
        free(*slot);
        cr_status st = cr__svc_text(parent, fields[i].element, slot);
        if (st != CR_OK)
            return st;
    }
    return CR_OK;
}

int64_t cr__svc_parse_int(const char *text, int64_t fallback)
{
    if (!text || !*text)
        return fallback;
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || end == text || (*end && *end != '.'))
        return fallback;
    return (int64_t)v;
}

cr_status cr__svc_pair_push(char ***names, char ***values, size_t *count, const char *name,
                            const char *value)
{
    char **n = realloc(*names, (*count + 1) * sizeof(*n));
    if (!n)
        return CR_ERR_NOMEM;
    *names = n;
    char **v = realloc(*values, (*count + 1) * sizeof(*v));
    if (!v)
        return CR_ERR_NOMEM;
    *values = v;
    n[*count] = strdup(name ? name : "");
    v[*count] = strdup(value ? value : "");
    if (!n[*count] || !v[*count]) {
        free(n[*count]);
        free(v[*count]);
        return CR_ERR_NOMEM;
    }
    (*count)++;
    return CR_OK;
}

cr_status cr__svc_strv_push(char ***v, size_t *count, const char *s)
{
    char **grown = realloc(*v, (*count + 1) * sizeof(*grown));
    if (!grown)
        return CR_ERR_NOMEM;
    *v = grown;
    if (!(grown[*count] = strdup(s ? s : "")))
        return CR_ERR_NOMEM;
    (*count)++;
    return CR_OK;
}

void cr__svc_strv_free(char **v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

const char *cr__svc_pair_find(char *const *names, char *const *values, size_t count,
                              const char *name)
{
    for (size_t i = 0; name && i < count; i++)
        if (strcmp(names[i], name) == 0)
            return values[i];
    return NULL;
}

cr_status cr__svc_remap(struct cr_error *err, cr_status status)
{
    if (err)
        err->status = status;
    return status;
}
