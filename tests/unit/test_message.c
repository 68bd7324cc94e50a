/* test_message.c - the queue message formats: round trips, the version rule,
 * required fields, limits, escaping, and failure responses. */
#include "cloudrec.h"
#include "message_equal.h"
#include "tap.h"
#include "internal.h"
#include "pipeline/message.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const ID = "0b7e5f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b";

static struct cr_request_msg sample_request(void)
{
    struct cr_request_msg m = {0};
    snprintf(m.id, sizeof(m.id), "%s", ID);
    snprintf(m.name, sizeof(m.name), "test_0.JPEG");
    snprintf(m.input, sizeof(m.input), "file:///var/lib/cloudrec/input");
    snprintf(m.key, sizeof(m.key), "test_0.JPEG");
    snprintf(m.reply, sizeof(m.reply), "sqlite:///var/lib/cloudrec/q.db?name=replies");
    m.enqueued_ms = 1700000000123;
    return m;
}

static struct cr_response_msg sample_response(void)
{
    struct cr_response_msg m = {0};
    snprintf(m.id, sizeof(m.id), "%s", ID);
    snprintf(m.name, sizeof(m.name), "test_0.JPEG");
    snprintf(m.label, sizeof(m.label), "bathtub");
    const char *labels[] = {"bathtub", "tub", "washbasin"};
    const float ps[] = {0.61f, 0.2f, 0.0125f};
    for (int i = 0; i < 3; i++) {
        snprintf(m.top[i].label, sizeof(m.top[i].label), "%s", labels[i]);
        m.top[i].probability = ps[i];
    }
    m.num_top = 3;
    snprintf(m.worker, sizeof(m.worker), "w-1");
    m.processing_ms = 42;
    return m;
}

static cr_status decode_req(const char *json, struct cr_request_msg *m, struct cr_error *err)
{
    return cr__request_msg_decode(json, strlen(json), m, err);
}

static cr_status decode_resp(const char *json, struct cr_response_msg *m, struct cr_error *err)
{
    return cr__response_msg_decode(json, strlen(json), m, err);
}

static void test_request_round_trip(void)
{
    struct cr_request_msg in = sample_request(), out;
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr__request_msg_encode(&in, &b), CR_OK);
    CHECK_EQ_STR(
        (char *)b.data,
        "{\"v\":1,\"id\":\"0b7e5f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b\",\"name\":\"test_0.JPEG\","
        "\"input\":\"file:///var/lib/cloudrec/input\",\"key\":\"test_0.JPEG\","
        "\"reply\":\"sqlite:///var/lib/cloudrec/q.db?name=replies\","
        "\"enqueued_ms\":1700000000123}");
    CHECK_EQ_INT(cr__request_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_MSG(same_request(&in, &out), "request decodes to what was encoded");
    /* Encoding appends: a second message after the first in one buffer. */
    size_t first = b.len;
    CHECK_EQ_INT(cr__request_msg_encode(&in, &b), CR_OK);
    CHECK_EQ_INT(b.len, 2 * first);
    cr_buf_clear(&b);
}

static void test_response_round_trip(void)
{
    struct cr_response_msg in = sample_response(), out;
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr__response_msg_encode(&in, &b), CR_OK);
    CHECK_EQ_STR(
        (char *)b.data,
        "{\"v\":1,\"id\":\"0b7e5f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b\",\"name\":\"test_0.JPEG\","
        "\"label\":\"bathtub\",\"top\":[{\"label\":\"bathtub\",\"p\":0.61},"
        "{\"label\":\"tub\",\"p\":0.2},{\"label\":\"washbasin\",\"p\":0.0125}],"
        "\"worker\":\"w-1\",\"ms\":42}");
    CHECK_EQ_INT(cr__response_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_MSG(same_response(&in, &out), "response decodes to what was encoded");
    CHECK(out.top[0].probability == 0.61f);
    cr_buf_clear(&b);

    /* The smallest success: id and label only. */
    struct cr_response_msg small = {0};
    snprintf(small.id, sizeof(small.id), "x");
    snprintf(small.label, sizeof(small.label), "cat");
    CHECK_EQ_INT(cr__response_msg_encode(&small, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data, "{\"v\":1,\"id\":\"x\",\"label\":\"cat\",\"top\":[],\"ms\":0}");
    CHECK_EQ_INT(cr__response_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_MSG(same_response(&small, &out), "minimal response round trip");
    cr_buf_clear(&b);
}

static void test_error_response(void)
{
    struct cr_response_msg in = {0}, out;
    snprintf(in.id, sizeof(in.id), "%s", ID);
    snprintf(in.name, sizeof(in.name), "notes.txt");
    snprintf(in.error, sizeof(in.error), "not a JPEG or PNG image");
    snprintf(in.worker, sizeof(in.worker), "w-2");
    in.processing_ms = 3;
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr__response_msg_encode(&in, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data, "{\"v\":1,\"id\":\"0b7e5f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5b\","
                                 "\"name\":\"notes.txt\",\"error\":\"not a JPEG or PNG image\","
                                 "\"worker\":\"w-2\",\"ms\":3}");
    CHECK_EQ_INT(cr__response_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_MSG(same_response(&in, &out), "failure response round trip");
    CHECK_EQ_STR(out.label, "");
    cr_buf_clear(&b);

    /* The DESIGN's minimum: id + error text. */
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"error\":\"boom\"}", &out, NULL), CR_OK);
    CHECK_EQ_STR(out.error, "boom");
    CHECK_EQ_INT(out.num_top, 0);

    /* Encoding refuses what decoding would refuse. */
    struct cr_response_msg both = sample_response();
    snprintf(both.error, sizeof(both.error), "x");
    CHECK_EQ_INT(cr__response_msg_encode(&both, &b), CR_ERR_INVALID);
    both.label[0] = '\0';
    CHECK_EQ_INT(cr__response_msg_encode(&both, &b), CR_ERR_INVALID); /* error + top */
    both.num_top = 0;
    CHECK_EQ_INT(cr__response_msg_encode(&both, &b), CR_OK);
    cr_buf_clear(&b);

    /* Error text cut inside a character still goes out, scrubbed. */
    struct cr_response_msg cut = {0};
    snprintf(cut.id, sizeof(cut.id), "a");
    snprintf(cut.error, sizeof(cut.error), "caf\xc3: bad \xff image \xe2\x82\xac");
    CHECK_EQ_INT(cr__response_msg_encode(&cut, &b), CR_OK);
    CHECK_EQ_INT(cr__response_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_EQ_STR(out.error, "caf?: bad ? image \xe2\x82\xac");
    cr_buf_clear(&b);

    struct cr_error err = {0};
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"error\":\"y\"}", &out, &err),
                 CR_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "both") != NULL, "both label and error is named");
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\"}", &out, &err), CR_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "neither") != NULL, "neither label nor error is named");
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"\",\"error\":\"\"}", &out, NULL),
                 CR_ERR_FORMAT);
    CHECK_EQ_INT(
        decode_resp("{\"v\":1,\"id\":\"a\",\"error\":\"y\",\"top\":[{\"label\":\"x\",\"p\":1}]}",
                    &out, NULL),
        CR_ERR_FORMAT);
}

static void test_unknown_fields_ignored(void)
{
    struct cr_request_msg m;
    const char *json = "{\"extra\":{\"nested\":[1,2,{\"deep\":null}]},\"v\":1,\"id\":\"abc\","
                       "\"name\":\"a.png\",\"input\":\"file:///in\",\"key\":\"a.png\","
                       "\"reply\":\"sqs://replies\",\"priority\":7,\"trace\":\"t-1\"}";
    CHECK_EQ_INT(decode_req(json, &m, NULL), CR_OK);
    CHECK_EQ_STR(m.id, "abc");
    CHECK_EQ_STR(m.reply, "sqs://replies");
    CHECK_EQ_INT(m.enqueued_ms, 0); /* optional */

    struct cr_response_msg r;
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"cat\",\"gpu\":false,"
                             "\"top\":[{\"label\":\"cat\",\"p\":0.9,\"index\":281}],"
                             "\"worker\":null,\"name\":null}",
                             &r, NULL),
                 CR_OK);
    CHECK_EQ_INT(r.num_top, 1);
    CHECK_EQ_STR(r.worker, "");
}

static void test_versions(void)
{
    struct cr_request_msg m;
    struct cr_error err = {0};
    CHECK_EQ_INT(decode_req("{\"v\":2,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\","
                            "\"reply\":\"r\"}",
                            &m, &err),
                 CR_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.message, "version 2") != NULL, "the unknown version is named");
    /* The version is read first: a v2 message need not look like v1 at all. */
    CHECK_EQ_INT(decode_req("{\"v\":2,\"request\":{\"id\":\"a\"}}", &m, NULL), CR_ERR_UNSUPPORTED);
    CHECK_EQ_INT(decode_req("{\"v\":0,\"id\":\"a\"}", &m, NULL), CR_ERR_UNSUPPORTED);
    CHECK_EQ_INT(decode_req("{\"v\":-1,\"id\":\"a\"}", &m, NULL), CR_ERR_UNSUPPORTED);
    CHECK_EQ_INT(decode_req("{\"id\":\"a\"}", &m, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_req("{\"v\":\"1\",\"id\":\"a\"}", &m, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_req("{\"v\":1.5,\"id\":\"a\"}", &m, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_req("{\"v\":null,\"id\":\"a\"}", &m, NULL), CR_ERR_FORMAT);
    struct cr_response_msg r;
    CHECK_EQ_INT(decode_resp("{\"v\":3,\"id\":\"a\",\"label\":\"x\"}", &r, NULL),
                 CR_ERR_UNSUPPORTED);
    CHECK_EQ_INT(decode_resp("{\"v\":1.0,\"id\":\"a\",\"label\":\"x\"}", &r, NULL), CR_OK);
}

static void test_missing_and_mistyped(void)
{
    static const char *const bad[] = {
        "{\"v\":1,\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}", /* no id */
        "{\"v\":1,\"id\":\"\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}",
        "{\"v\":1,\"id\":null,\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}",
        "{\"v\":1,\"id\":7,\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}",
        "{\"v\":1,\"id\":\"a\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}",  /* no name */
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"key\":\"k\",\"reply\":\"r\"}",   /* no input */
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"reply\":\"r\"}", /* no key */
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\"}",   /* no reply */
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\","
        "\"enqueued_ms\":-5}",
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\","
        "\"enqueued_ms\":1.5}",
        "{\"v\":1,\"id\":\"a\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\","
        "\"enqueued_ms\":\"soon\"}",
        "{\"v\":1,\"id\":\"a\\u0000b\",\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":"
        "\"r\"}",
        "[{\"v\":1}]",
        "\"v\"",
        "",
        "{\"v\":1,\"id\":\"a\"",
        "{\"v\":1,\"v\":1,\"id\":\"a\"}",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct cr_request_msg m;
        memset(&m, 0x5a, sizeof(m));
        struct cr_error err = {0};
        cr_status st = decode_req(bad[i], &m, &err);
        if (!CHECK_MSG(st == CR_ERR_FORMAT, "malformed request refused"))
            DIAG("entry %zu: %s", i, cr_status_name(st));
        CHECK_MSG(m.id[0] == '\0' && m.enqueued_ms == 0, "a refused message leaves *m zeroed");
        CHECK_MSG(strncmp(err.message, "request message: ", 17) == 0, "detail says what failed");
    }
    struct cr_error err = {0};
    struct cr_request_msg m;
    decode_req(bad[0], &m, &err);
    CHECK_EQ_STR(err.message, "request message: missing \"id\"");
    decode_req(bad[3], &m, &err);
    CHECK_EQ_STR(err.message, "request message: \"id\" is a number, not a string");
    decode_req("{\"v\":1,\"id\":[1}", &m, &err);
    CHECK_MSG(strstr(err.message, "json: ") != NULL && err.status == CR_ERR_FORMAT,
              "syntax errors come through as FORMAT with the parser's detail");

    struct cr_response_msg r;
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"label\":\"x\"}", &r, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":{}}", &r, NULL),
                 CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":[1]}", &r, NULL),
                 CR_ERR_FORMAT);
    CHECK_EQ_INT(
        decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":[{\"p\":1}]}", &r, NULL),
        CR_ERR_FORMAT);
    CHECK_EQ_INT(
        decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":[{\"label\":\"x\"}]}", &r, NULL),
        CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":[{\"label\":\"x\","
                             "\"p\":1.5}]}",
                             &r, NULL),
                 CR_ERR_FORMAT);
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"ms\":-1}", &r, NULL),
                 CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__request_msg_decode(NULL, 0, &m, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__request_msg_decode("{}", 2, NULL, NULL), CR_ERR_INVALID);
}

/* A field of exactly its limit passes; one byte more is FORMAT. */
static void test_field_limits(void)
{
    char name[CR_MSG_NAME_MAX + 2];
    char json[4096];
    struct cr_request_msg m;
    for (size_t n = CR_MSG_NAME_MAX - 1; n <= CR_MSG_NAME_MAX; n++) {
        memset(name, 'a', n);
        name[n] = '\0';
        snprintf(json, sizeof(json),
                 "{\"v\":1,\"id\":\"a\",\"name\":\"%s\",\"input\":\"i\",\"key\":\"k\","
                 "\"reply\":\"r\"}",
                 name);
        CHECK_EQ_INT(decode_req(json, &m, NULL), n < CR_MSG_NAME_MAX ? CR_OK : CR_ERR_FORMAT);
    }
    struct cr_error err = {0};
    decode_req(json, &m, &err);
    CHECK_EQ_STR(err.message, "request message: \"name\" is 256 bytes, the limit is 255");
    /* A 37-character id does not fit a UUID field. */
    CHECK_EQ_INT(decode_req("{\"v\":1,\"id\":\"0b7e5f2a-3c1d-4e5f-8a9b-0c1d2e3f4a5bX\","
                            "\"name\":\"n\",\"input\":\"i\",\"key\":\"k\",\"reply\":\"r\"}",
                            &m, NULL),
                 CR_ERR_FORMAT);
    /* The limit counts decoded UTF-8 bytes, not escaped text: 85 euro signs
     * are 255 bytes, 86 are 258. */
    for (int n = 85; n <= 86; n++) {
        char buf[1024] = "";
        for (int i = 0; i < n; i++)
            strcat(buf, "\\u20ac");
        snprintf(json, sizeof(json),
                 "{\"v\":1,\"id\":\"a\",\"name\":\"%s\",\"input\":\"i\",\"key\":\"k\","
                 "\"reply\":\"r\"}",
                 buf);
        CHECK_EQ_INT(decode_req(json, &m, NULL), n == 85 ? CR_OK : CR_ERR_FORMAT);
    }
    /* More top entries than CR_MSG_MAX_TOP. */
    struct cr_response_msg r;
    CHECK_EQ_INT(decode_resp("{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"top\":["
                             "{\"label\":\"a\",\"p\":0.1},{\"label\":\"b\",\"p\":0.1},"
                             "{\"label\":\"c\",\"p\":0.1},{\"label\":\"d\",\"p\":0.1},"
                             "{\"label\":\"e\",\"p\":0.1},{\"label\":\"f\",\"p\":0.1}]}",
                             &r, NULL),
                 CR_ERR_FORMAT);
    /* Whole-message size. */
    static char big[CR_MSG_MAX_BYTES + 64];
    int off = snprintf(big, sizeof(big), "{\"v\":1,\"id\":\"a\",\"label\":\"x\",\"pad\":\"");
    memset(big + off, ' ', CR_MSG_MAX_BYTES);
    memcpy(big + CR_MSG_MAX_BYTES - 2, "\"}", 3);
    CHECK_EQ_INT(decode_resp(big, &r, NULL), CR_OK);
    memset(big + CR_MSG_MAX_BYTES - 2, ' ', 2);
    memcpy(big + CR_MSG_MAX_BYTES - 1, "\"}", 3);
    CHECK_EQ_INT(decode_resp(big, &r, NULL), CR_ERR_FORMAT);
}

static void test_encode_refusals(void)
{
    struct cr_buf b = {0};
    cr__buf_append_str(&b, "keep");
    struct cr_request_msg m = sample_request();
    m.id[0] = '\0';
    CHECK_EQ_INT(cr__request_msg_encode(&m, &b), CR_ERR_INVALID);
    m = sample_request();
    m.reply[0] = '\0';
    CHECK_EQ_INT(cr__request_msg_encode(&m, &b), CR_ERR_INVALID);
    m = sample_request();
    memset(m.name, 'x', sizeof(m.name)); /* no NUL inside the array */
    CHECK_EQ_INT(cr__request_msg_encode(&m, &b), CR_ERR_INVALID);
    m = sample_request();
    snprintf(m.name, sizeof(m.name), "bad\xff.jpg");
    CHECK_EQ_INT(cr__request_msg_encode(&m, &b), CR_ERR_INVALID);
    m = sample_request();
    m.enqueued_ms = -1;
    CHECK_EQ_INT(cr__request_msg_encode(&m, &b), CR_ERR_INVALID);
    CHECK_EQ_STR((char *)b.data, "keep");

    struct cr_response_msg r = sample_response();
    r.num_top = CR_MSG_MAX_TOP + 1;
    CHECK_EQ_INT(cr__response_msg_encode(&r, &b), CR_ERR_INVALID);
    r = sample_response();
    r.top[1].probability = NAN;
    CHECK_EQ_INT(cr__response_msg_encode(&r, &b), CR_ERR_INVALID);
    r = sample_response();
    r.top[1].label[0] = '\0';
    CHECK_EQ_INT(cr__response_msg_encode(&r, &b), CR_ERR_INVALID);
    r = sample_response();
    r.label[0] = '\0';
    CHECK_EQ_INT(cr__response_msg_encode(&r, &b), CR_ERR_INVALID);
    CHECK_EQ_STR((char *)b.data, "keep");

    /* A buffer limit hit half-way leaves the buffer as it was. */
    struct cr_buf small;
    cr_buf_init(&small, 60);
    cr__buf_append_str(&small, "prefix");
    m = sample_request();
    CHECK_EQ_INT(cr__request_msg_encode(&m, &small), CR_ERR_TOO_LARGE);
    CHECK_EQ_STR((char *)small.data, "prefix");
    cr_buf_clear(&small);
    cr_buf_clear(&b);
}

static void test_odd_names(void)
{
    static const char *const names[] = {
        "quote\"d.jpg",
        "back\\slash.jpg",
        "tab\there.png",
        "new\nline.jpg",
        "caf\xc3\xa9.jpg",
        "\xe6\x97\xa5\xe6\x9c\xac.png",
        "emoji\xf0\x9f\x98\x80.jpg",
        "</script>.jpg",
        "\x01\x1f ctl.jpg",
        "slash/and\\u0041.jpg",
        "{\"v\":2}.jpg",
        "\x7f del.jpg",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        struct cr_request_msg in = sample_request(), out;
        snprintf(in.name, sizeof(in.name), "%s", names[i]);
        snprintf(in.key, sizeof(in.key), "%s", names[i]);
        struct cr_buf b = {0};
        cr_status st = cr__request_msg_encode(&in, &b);
        if (st == CR_OK)
            st = cr__request_msg_decode((char *)b.data, b.len, &out, NULL);
        int same = st == CR_OK && strcmp(out.name, names[i]) == 0 && strcmp(out.key, names[i]) == 0;
        if (!CHECK_MSG(same, "an odd name survives encode + decode"))
            DIAG("entry %zu: %s, %s", i, cr_status_name(st), b.data ? (char *)b.data : "");
        cr_buf_clear(&b);

        struct cr_response_msg r = sample_response(), rout;
        snprintf(r.label, sizeof(r.label), "%s", names[i]);
        snprintf(r.top[0].label, sizeof(r.top[0].label), "%s", names[i]);
        st = cr__response_msg_encode(&r, &b);
        if (st == CR_OK)
            st = cr__response_msg_decode((char *)b.data, b.len, &rout, NULL);
        CHECK_MSG(st == CR_OK && same_response(&r, &rout), "an odd label survives encode + decode");
        cr_buf_clear(&b);
    }
    /* What the escaping looks like on the wire. */
    struct cr_request_msg in = sample_request();
    snprintf(in.name, sizeof(in.name), "a\"b\\c\n\x01");
    struct cr_buf b = {0};
    cr__request_msg_encode(&in, &b);
    CHECK_MSG(strstr((char *)b.data, "\"name\":\"a\\\"b\\\\c\\n\\u0001\"") != NULL,
              "quotes, backslashes and control characters are escaped");
    cr_buf_clear(&b);
    /* Escaped forms from another encoder decode to the same bytes. */
    struct cr_request_msg out;
    CHECK_EQ_INT(decode_req("{\"v\":1,\"id\":\"a\",\"name\":\"caf\\u00E9\\ud83d\\ude00.jpg\","
                            "\"input\":\"i\",\"key\":\"k\\/x\",\"reply\":\"r\"}",
                            &out, NULL),
                 CR_OK);
    CHECK_EQ_STR(out.name, "caf\xc3\xa9\xf0\x9f\x98\x80.jpg");
    CHECK_EQ_STR(out.key, "k/x");
    CHECK_EQ_INT(decode_req("{\"v\":1,\"id\":\"a\",\"name\":\"\\ud83d.jpg\",\"input\":\"i\","
                            "\"key\":\"k\",\"reply\":\"r\"}",
                            &out, NULL),
                 CR_ERR_FORMAT);
}

/* The batch a worker reports: on the wire when set, 1..10, else refused. */
static void test_batch_field(void)
{
    struct cr_response_msg in = {0}, out;
    struct cr_buf b = {0};
    snprintf(in.id, sizeof(in.id), "x");
    snprintf(in.label, sizeof(in.label), "cat");
    in.batch = 7;
    CHECK_EQ_INT(cr__response_msg_encode(&in, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data,
                 "{\"v\":1,\"id\":\"x\",\"label\":\"cat\",\"top\":[],\"ms\":0,\"batch\":7}");
    CHECK_EQ_INT(cr__response_msg_decode((char *)b.data, b.len, &out, NULL), CR_OK);
    CHECK_EQ_INT(out.batch, 7);
    cr_buf_clear(&b);
    in.batch = 11;
    CHECK_EQ_INT(cr__response_msg_encode(&in, &b), CR_ERR_INVALID);
    in.batch = -1;
    CHECK_EQ_INT(cr__response_msg_encode(&in, &b), CR_ERR_INVALID);
    static const char too_big[] = "{\"v\":1,\"id\":\"x\",\"label\":\"cat\",\"batch\":11}";
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__response_msg_decode(too_big, strlen(too_big), &out, &err), CR_ERR_FORMAT);
    CHECK(strstr(err.message, "batch") != NULL);
    static const char none[] = "{\"v\":1,\"id\":\"x\",\"label\":\"cat\"}";
    CHECK_EQ_INT(cr__response_msg_decode(none, strlen(none), &out, NULL), CR_OK);
    CHECK_EQ_INT(out.batch, 0);
}

int main(void)
{
    test_request_round_trip();
    test_batch_field();
    test_response_round_trip();
    test_error_response();
    test_unknown_fields_ignored();
    test_versions();
    test_missing_and_mistyped();
    test_field_limits();
    test_encode_refusals();
    test_odd_names();
    return tap_done();
}
