/* message.c - the JSON request and response messages of the queues. */
#include "pipeline/message.h"

#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---- encoding ------------------------------------------------------------*/

/* Whether a fixed-size string field is NUL-terminated inside its array, valid
 * UTF-8, and non-empty when required. */
static int field_ok(const char *s, size_t size, int required)
{
    size_t n = strnlen(s, size);
    return n < size && (n > 0 || !required) && cr__utf8_valid(s, n);
}

/* Opens the object with the version and the id, which every message has. */
static struct cr__jw *put_head(const char *id)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "v", CR_MSG_VERSION);
    cr__jw_string(w, "id", id);
    return w;
}

/* Closes the object and appends the message to out (unchanged on failure). */
static cr_status put_end(struct cr__jw *w, struct cr_buf *out)
{
    cr__jw_end(w);
    return cr__jw_finish(w, out);
}

/* Checks the request rules from message.h: every string field required. */
static int request_ok(const struct cr_request_msg *m)
{
    return field_ok(m->id, sizeof(m->id), 1) && field_ok(m->name, sizeof(m->name), 1) &&
           field_ok(m->input, sizeof(m->input), 1) && field_ok(m->key, sizeof(m->key), 1) &&
           field_ok(m->reply, sizeof(m->reply), 1) && m->enqueued_ms >= 0;
}

cr_status cr_request_msg_encode(const struct cr_request_msg *m, struct cr_buf *out)
{
    if (!m || !out || !request_ok(m))
        return CR_ERR_INVALID;
    struct cr__jw *w = put_head(m->id);
    cr__jw_string(w, "name", m->name);
    cr__jw_string(w, "input", m->input);
    cr__jw_string(w, "key", m->key);
    cr__jw_string(w, "reply", m->reply);
    cr__jw_int(w, "enqueued_ms", m->enqueued_ms);
    return put_end(w, out);
}

/* A probability is a finite number from 0 to 1. */
static int probability_ok(double p)
{
    return isfinite(p) && p >= 0.0 && p <= 1.0;
}

/* Checks the response rules from message.h: required id, exactly one of
 * label and error, a top list only on success, well-formed entries. */
static int response_ok(const struct cr_response_msg *m)
{
    int failed = m->error[0] != '\0';
    if (!field_ok(m->id, sizeof(m->id), 1) || !field_ok(m->name, sizeof(m->name), 0) ||
        !field_ok(m->label, sizeof(m->label), !failed) ||
        strnlen(m->error, sizeof(m->error)) == sizeof(m->error) ||
        !field_ok(m->worker, sizeof(m->worker), 0))
        return 0;
    if ((failed && m->label[0]) || m->num_top < 0 || m->num_top > CR_MSG_MAX_TOP ||
        (failed && m->num_top) || m->processing_ms < 0 || m->batch < 0 ||
        m->batch > CR_MSG_MAX_BATCH)
        return 0;
    for (int i = 0; i < m->num_top; i++)
        if (!field_ok(m->top[i].label, sizeof(m->top[i].label), 1) ||
            !probability_ok(m->top[i].probability))
            return 0;
    return 1;
}

/* Writes "top":[{"label":...,"p":...},...]. */
static void put_top(struct cr__jw *w, const struct cr_response_msg *m)
{
    cr__jw_array(w, "top");
    for (int i = 0; i < m->num_top; i++) {
        cr__jw_object(w, NULL);
        cr__jw_string(w, "label", m->top[i].label);
        cr__jw_float(w, "p", m->top[i].probability);
        cr__jw_end(w);
    }
    cr__jw_end(w);
}

cr_status cr_response_msg_encode(const struct cr_response_msg *m, struct cr_buf *out)
{
    if (!m || !out || !response_ok(m))
        return CR_ERR_INVALID;
    struct cr__jw *w = put_head(m->id);
    if (m->name[0])
        cr__jw_string(w, "name", m->name);
    if (m->error[0]) {
        /* Free text for people: bytes that are not valid UTF-8 go out as
         * '?', so a message cut inside a character still travels. */
        cr__jw_text(w, "error", m->error);
    } else {
        cr__jw_string(w, "label", m->label);
        put_top(w, m);
    }
    if (m->worker[0])
        cr__jw_string(w, "worker", m->worker);
    cr__jw_int(w, "ms", m->processing_ms);
    if (m->batch > 0)
        cr__jw_int(w, "batch", m->batch);
    return put_end(w, out);
}

/* ---- decoding ------------------------------------------------------------*/

static const struct cr__json_limits msg_limits = {.max_bytes = CR_MSG_MAX_BYTES, .max_depth = 16};

/* A member that is missing or JSON null: both mean "not given". */
static const struct cr__json *member(const struct cr__json *obj, const char *key)
{
    const struct cr__json *v = cr__json_get(obj, key);
    return cr__json_type(v) == CR__JSON_NULL ? NULL : v;
}

/* Copies string member key of obj into dst[size]. Missing is "" unless
 * required; wrong type, an embedded NUL, too long or required-but-empty is
 * CR_ERR_FORMAT naming the field. */
static cr_status get_str(const struct cr__json *obj, const char *key, int required, char *dst,
                         size_t size, struct cr_error *err)
{
    const struct cr__json *v = member(obj, key);
    const char *s = "";
    size_t len = 0;
    dst[0] = '\0';
    if (!v)
        return required ? cr__fail(err, CR_ERR_FORMAT, "missing \"%s\"", key) : CR_OK;
    if (cr__json_get_string(v, &s, &len) != CR_OK)
        return cr__fail(err, CR_ERR_FORMAT, "\"%s\" is a %s, not a string", key,
                        cr__json_type_name(cr__json_type(v)));
    if (strlen(s) != len)
        return cr__fail(err, CR_ERR_FORMAT, "\"%s\" contains a NUL character", key);
    if (len >= size)
        return cr__fail(err, CR_ERR_FORMAT, "\"%s\" is %zu bytes, the limit is %zu", key, len,
                        size - 1);
    if (required && len == 0)
        return cr__fail(err, CR_ERR_FORMAT, "\"%s\" is empty", key);
    memcpy(dst, s, len + 1);
    return CR_OK;
}

/* Reads optional integer member key (>= 0) into *out; missing leaves 0. */
static cr_status get_count(const struct cr__json *obj, const char *key, int64_t *out,
                           struct cr_error *err)
{
    const struct cr__json *v = member(obj, key);
    *out = 0;
    if (!v)
        return CR_OK;
    if (cr__json_get_int64(v, out) != CR_OK || *out < 0) {
        *out = 0;
        return cr__fail(err, CR_ERR_FORMAT, "\"%s\" is not a non-negative integer", key);
    }
    return CR_OK;
}

/* Parses json and checks it is an object of a version this library reads. */
static cr_status open_message(const char *json, size_t len, struct cr__json_doc **doc,
                              struct cr_error *err)
{
    if (!json && len)
        return cr__fail(err, CR_ERR_INVALID, "no message text");
    cr_status st = cr__json_parse(json, len, &msg_limits, doc, err);
    if (st != CR_OK)
        return st == CR_ERR_NOMEM ? st : cr__fail_prefix(err, CR_ERR_FORMAT, "%s", "");
    const struct cr__json *root = cr__json_root(*doc);
    if (cr__json_type(root) != CR__JSON_OBJECT)
        return cr__fail(err, CR_ERR_FORMAT, "a message is a JSON object, not a %s",
                        cr__json_type_name(cr__json_type(root)));
    const struct cr__json *v = cr__json_get(root, "v");
    int64_t version;
    if (!v)
        return cr__fail(err, CR_ERR_FORMAT, "missing \"v\"");
    if (cr__json_get_int64(v, &version) != CR_OK)
        return cr__fail(err, CR_ERR_FORMAT, "\"v\" is not an integer");
    if (version != CR_MSG_VERSION)
        return cr__fail(err, CR_ERR_UNSUPPORTED, "message version %lld, this library reads %d",
                        (long long)version, CR_MSG_VERSION);
    return CR_OK;
}

/* Fills a request from a parsed, version-checked object. */
static cr_status read_request(const struct cr__json *o, struct cr_request_msg *m,
                              struct cr_error *err)
{
    cr_status st = get_str(o, "id", 1, m->id, sizeof(m->id), err);
    if (st == CR_OK)
        st = get_str(o, "name", 1, m->name, sizeof(m->name), err);
    if (st == CR_OK)
        st = get_str(o, "input", 1, m->input, sizeof(m->input), err);
    if (st == CR_OK)
        st = get_str(o, "key", 1, m->key, sizeof(m->key), err);
    if (st == CR_OK)
        st = get_str(o, "reply", 1, m->reply, sizeof(m->reply), err);
    if (st == CR_OK)
        st = get_count(o, "enqueued_ms", &m->enqueued_ms, err);
    return st;
}

cr_status cr_request_msg_decode(const char *json, size_t len, struct cr_request_msg *m,
                                struct cr_error *err)
{
    if (!m)
        return cr__fail(err, CR_ERR_INVALID, "request message: no output");
    memset(m, 0, sizeof(*m));
    struct cr__json_doc *doc = NULL;
    cr_status st = open_message(json, len, &doc, err);
    if (st == CR_OK)
        st = read_request(cr__json_root(doc), m, err);
    cr__json_free(doc);
    if (st != CR_OK) {
        memset(m, 0, sizeof(*m));
        return cr__fail_prefix(err, st, "request message: ");
    }
    return CR_OK;
}

/* Reads one {"label":..., "p":...} entry of the top list. */
static cr_status read_top_entry(const struct cr__json *e, struct cr_msg_label *out,
                                struct cr_error *err)
{
    double p;
    if (cr__json_type(e) != CR__JSON_OBJECT)
        return cr__fail(err, CR_ERR_FORMAT, "\"top\" entries are objects");
    cr_status st = get_str(e, "label", 1, out->label, sizeof(out->label), err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "\"top\": ");
    if (cr__json_get_double(member(e, "p"), &p) != CR_OK || !probability_ok(p))
        return cr__fail(err, CR_ERR_FORMAT, "\"top\": \"p\" is not a number from 0 to 1");
    out->probability = (float)p;
    return CR_OK;
}

/* Reads the optional top list (at most CR_MSG_MAX_TOP entries). */
static cr_status read_top(const struct cr__json *o, struct cr_response_msg *m, struct cr_error *err)
{
    const struct cr__json *top = member(o, "top");
    if (!top)
        return CR_OK;
    if (cr__json_type(top) != CR__JSON_ARRAY)
        return cr__fail(err, CR_ERR_FORMAT, "\"top\" is not an array");
    size_t n = cr__json_length(top);
    if (n > CR_MSG_MAX_TOP)
        return cr__fail(err, CR_ERR_FORMAT, "\"top\" has %zu entries, the limit is %d", n,
                        CR_MSG_MAX_TOP);
    for (size_t i = 0; i < n; i++) {
        cr_status st = read_top_entry(cr__json_at(top, i), &m->top[i], err);
        if (st != CR_OK)
            return st;
        m->num_top = (int)i + 1;
    }
    return CR_OK;
}

/* Checks the success/failure rule on a decoded response. */
static cr_status check_outcome(const struct cr_response_msg *m, struct cr_error *err)
{
    if (m->label[0] && m->error[0])
        return cr__fail(err, CR_ERR_FORMAT, "both \"label\" and \"error\"");
    if (!m->label[0] && !m->error[0])
        return cr__fail(err, CR_ERR_FORMAT, "neither \"label\" nor \"error\"");
    if (m->error[0] && m->num_top)
        return cr__fail(err, CR_ERR_FORMAT, "a failure carries no \"top\"");
    return CR_OK;
}

/* Fills a response from a parsed, version-checked object. */
static cr_status read_response(const struct cr__json *o, struct cr_response_msg *m,
                               struct cr_error *err)
{
    cr_status st = get_str(o, "id", 1, m->id, sizeof(m->id), err);
    if (st == CR_OK)
        st = get_str(o, "name", 0, m->name, sizeof(m->name), err);
    if (st == CR_OK)
        st = get_str(o, "label", 0, m->label, sizeof(m->label), err);
    if (st == CR_OK)
        st = get_str(o, "error", 0, m->error, sizeof(m->error), err);
    if (st == CR_OK)
        st = read_top(o, m, err);
    if (st == CR_OK)
        st = get_str(o, "worker", 0, m->worker, sizeof(m->worker), err);
    if (st == CR_OK)
        st = get_count(o, "ms", &m->processing_ms, err);
    int64_t batch = 0;
    if (st == CR_OK && (st = get_count(o, "batch", &batch, err)) == CR_OK &&
        batch > CR_MSG_MAX_BATCH)
        st = cr__fail(err, CR_ERR_FORMAT, "\"batch\" is over %d", CR_MSG_MAX_BATCH);
    m->batch = (int)(st == CR_OK ? batch : 0);
    return st == CR_OK ? check_outcome(m, err) : st;
}

cr_status cr_response_msg_decode(const char *json, size_t len, struct cr_response_msg *m,
                                 struct cr_error *err)
{
    if (!m)
        return cr__fail(err, CR_ERR_INVALID, "response message: no output");
    memset(m, 0, sizeof(*m));
    struct cr__json_doc *doc = NULL;
    cr_status st = open_message(json, len, &doc, err);
    if (st == CR_OK)
        st = read_response(cr__json_root(doc), m, err);
    cr__json_free(doc);
    if (st != CR_OK) {
        memset(m, 0, sizeof(*m));
        return cr__fail_prefix(err, st, "response message: ");
    }
    return CR_OK;
}

/* ---- store keys ------------------------------------------------------------*/

int cr_uuid_is_valid(const char *s)
{
    if (!s)
        return 0;
    for (int i = 0; i < CR_UUID_STR_LEN - 1; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        char c = s[i];
        if (dash ? c != '-' : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return 0;
    }
    return s[CR_UUID_STR_LEN - 1] == '\0';
}

cr_status cr_result_key(const char *id, char *out, size_t n)
{
    if (!cr_uuid_is_valid(id) || !out || n < CR_UUID_STR_LEN + 5)
        return CR_ERR_INVALID;
    snprintf(out, n, "%s.json", id);
    return CR_OK;
}
