/* test_json.c - the contract of the internal JSON reader (core/json.h, over
 * jansson): the strictness callers rely on, the limits, the typed getters,
 * the error detail; and the UTF-8 helpers and number writer beside it. */
#include "cloudrec.h"
#include "core/json.h"
#include "tap.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Parses a NUL-terminated text with default limits; returns the status. */
static cr_status parse_str(const char *text, struct cr__json_doc **doc)
{
    return cr__json_parse(text, strlen(text), NULL, doc, NULL);
}

/* Parses and frees, returning only the status. */
static cr_status status_of(const char *text, size_t len)
{
    struct cr__json_doc *doc = NULL;
    cr_status st = cr__json_parse(text, len, NULL, &doc, NULL);
    cr__json_free(doc);
    return st;
}

/* Every RFC 8259 shape a message, a stats document or a spec file may use. */
static void test_valid_documents(void)
{
    static const char *const ok[] = {
        "{}", "[]", "0", "-1", "123.456e-7", "1E+2", "\"\"", "true", "false", "null",
        " \t\r\n[ 1 , 2 ]\n",
        "{\"a\":{\"b\":[true,false,null,{}]}}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "[1e-400]", /* underflow to 0 is fine */
        "{\"\":1}",
        "-9223372036854775808",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_status st = status_of(ok[i], strlen(ok[i]));
        if (!CHECK_MSG(st == CR_OK, "accepts a valid document"))
            DIAG("rejected: %s (%s)", ok[i], cr_status_name(st));
    }
}

/* What a lenient parser would take and this reader must not: each entry is
 * CR_ERR_FORMAT, so a message means one thing to every reader. */
static void test_invalid_documents(void)
{
    static const char *const bad[] = {
        "",           " ",           "{",          "[1,]",        "{\"a\":1,}",
        "{a:1}",      "['a']",       "01",         "1.",          ".5",
        "+1",         "0x10",        "NaN",        "Infinity",    "nul",
        "[1]x",       "{} {}",       "1 2",        "\"abc",       "\"\\x41\"",
        "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"",          "\"tab\there\"",
        "\"\x01\"",   "\"\xc3\"",    "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", /* surrogate as UTF-8 */
        "\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
        "\xef\xbb\xbf{}",       /* BOM */
        "/* c */ {}", "1e400",       "-1e400",     "{\"a\":1,\"a\":2}",
        "{\"\\u0061\":1,\"a\":2}", /* the same key spelled twice */
        "9223372036854775808",    /* past int64 */
        "-9223372036854775809",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_status st = status_of(bad[i], strlen(bad[i]));
        if (!CHECK_MSG(st == CR_ERR_FORMAT, "rejects an invalid document"))
            DIAG("entry %zu: %s (%s)", i, bad[i], cr_status_name(st));
    }
    /* A NUL byte outside a string, counted in len, is trailing garbage. */
    CHECK_EQ_INT(status_of("[1]\0", 4), CR_ERR_FORMAT);
    CHECK_EQ_INT(status_of("\"a\0b\"", 5), CR_ERR_FORMAT);
    /* Every proper prefix of a document is refused, the whole one is not. */
    const char *text = "{\"id\":\"\\uD83D\\uDE00\",\"top\":[{\"p\":0.5e-1},true,null],\"x\":\"\xc3\xa9\"}";
    int all = 1;
    for (size_t i = 0; i < strlen(text); i++)
        all &= status_of(text, i) == CR_ERR_FORMAT;
    CHECK_MSG(all, "every truncation of a document is refused");
    CHECK_EQ_INT(status_of(text, strlen(text)), CR_OK);
}

/* Errors say what and where; *out is NULL after any failure. */
static void test_error_detail(void)
{
    struct cr_error err = {0};
    struct cr__json_doc *doc = (struct cr__json_doc *)&err; /* must become NULL */
    CHECK_EQ_INT(cr__json_parse("[1,\n x]", 7, NULL, &doc, &err), CR_ERR_FORMAT);
    CHECK(doc == NULL);
    CHECK_EQ_INT(err.status, CR_ERR_FORMAT);
    CHECK_MSG(strncmp(err.message, "json: ", 6) == 0, "the message says it is JSON");
    CHECK_MSG(strstr(err.message, "line 2, column 2") != NULL, "the message gives line/column");
    CHECK_MSG(strstr(err.message, "(byte 6)") != NULL, "the message gives the byte ('x' is 6th)");
    DIAG("syntax error: %s", err.message);
    cr__json_parse("{\"k\":1,\"k\":2}", 13, NULL, &doc, &err);
    CHECK_MSG(strstr(err.message, "duplicate") && strstr(err.message, "\"k\""),
              "a duplicate key is named");
    DIAG("duplicate: %s", err.message);
    cr__json_parse("\"\\uDC00\"", 8, NULL, &doc, &err);
    CHECK_MSG(strstr(err.message, "invalid Unicode '\\uDC00'") != NULL,
              "a lone surrogate is named");
    cr__json_parse("[1] x", 5, NULL, &doc, &err);
    DIAG("trailing: %s", err.message);
    CHECK_MSG(strstr(err.message, "column 5 (byte 5)") != NULL, "trailing bytes are located");
    CHECK_EQ_INT(cr__json_parse(NULL, 3, NULL, &doc, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__json_parse("1", 1, NULL, NULL, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__json_parse(NULL, 0, NULL, &doc, &err), CR_ERR_FORMAT); /* empty */
}

/* The typed getters: NULL-safe chaining, type checks, lengths. */
static void test_tree_access(void)
{
    const char *text = "{\"name\":\"test_0.JPEG\",\"n\":42,\"f\":0.25,\"ok\":true,\"no\":false,"
                       "\"nil\":null,\"list\":[10,\"x\",[]],\"o\":{\"deep\":\"yes\"}}";
    struct cr__json_doc *doc = NULL;
    CHECK_EQ_INT(parse_str(text, &doc), CR_OK);
    const struct cr__json *root = cr__json_root(doc);
    CHECK_EQ_INT(cr__json_type(root), CR__JSON_OBJECT);
    CHECK_EQ_INT(cr__json_length(root), 8);

    const char *s = NULL;
    size_t len = 0;
    CHECK_EQ_INT(cr__json_get_string(cr__json_get(root, "name"), &s, &len), CR_OK);
    CHECK_EQ_STR(s, "test_0.JPEG");
    CHECK_EQ_INT(len, 11);
    int64_t i = 0;
    CHECK_EQ_INT(cr__json_get_int64(cr__json_get(root, "n"), &i), CR_OK);
    CHECK_EQ_INT(i, 42);
    double d = 0;
    CHECK_EQ_INT(cr__json_get_double(cr__json_get(root, "f"), &d), CR_OK);
    CHECK(d == 0.25);
    CHECK_EQ_INT(cr__json_get_double(cr__json_get(root, "n"), &d), CR_OK);
    CHECK(d == 42.0);
    int b = -1;
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "ok"), &b), CR_OK);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "no"), &b), CR_OK);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(cr__json_type(cr__json_get(root, "nil")), CR__JSON_NULL);
    CHECK_EQ_INT(cr__json_type(cr__json_get(root, "ok")), CR__JSON_BOOL);
    CHECK_EQ_INT(cr__json_type(cr__json_get(root, "f")), CR__JSON_NUMBER);

    const struct cr__json *list = cr__json_get(root, "list");
    CHECK_EQ_INT(cr__json_type(list), CR__JSON_ARRAY);
    CHECK_EQ_INT(cr__json_length(list), 3);
    CHECK_EQ_INT(cr__json_type(cr__json_at(list, 1)), CR__JSON_STRING);
    CHECK_EQ_INT(cr__json_type(cr__json_at(list, 2)), CR__JSON_ARRAY);
    CHECK(cr__json_at(list, 3) == NULL);
    CHECK(cr__json_at(root, 0) == NULL); /* objects are read by name */
    CHECK_EQ_INT(cr__json_length(cr__json_at(list, 2)), 0);
    CHECK_EQ_INT(cr__json_length(cr__json_get(root, "name")), 0);

    CHECK_EQ_INT(cr__json_get_string(cr__json_get(cr__json_get(root, "o"), "deep"), &s, NULL),
                 CR_OK);
    CHECK_EQ_STR(s, "yes");
    CHECK(cr__json_get(cr__json_get(root, "missing"), "deep") == NULL);
    CHECK(cr__json_get(list, "name") == NULL);
    CHECK(cr__json_get(root, "nam") == NULL);
    CHECK(cr__json_get(root, NULL) == NULL);
    CHECK_EQ_INT(cr__json_get_string(NULL, &s, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_get_int64(cr__json_get(root, "name"), &i), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_get_double(cr__json_get(root, "ok"), &d), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "nil"), &b), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_type(NULL), CR__JSON_NONE);
    CHECK(cr__json_root(NULL) == NULL);
    CHECK_EQ_STR(cr__json_type_name(CR__JSON_OBJECT), "object");
    CHECK_EQ_STR(cr__json_type_name(CR__JSON_BOOL), "boolean");
    CHECK_EQ_STR(cr__json_type_name(CR__JSON_NONE), "none");
    cr__json_free(doc);
    cr__json_free(NULL);
    cr__json_free_wiped(NULL);
}

/* Decoded strings: escapes become UTF-8, and \u0000 is kept with a length
 * that says where the string really ends (message.c refuses it by that). */
static void test_strings(void)
{
    struct cr__json_doc *doc = NULL;
    const char *s = NULL;
    size_t len = 0;
    CHECK_EQ_INT(parse_str("\"a\\u00e9\\u20ac\\uD83D\\uDE00\\/\\n\"", &doc), CR_OK);
    cr__json_get_string(cr__json_root(doc), &s, &len);
    CHECK_EQ_STR(s, "a\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80/\n");
    CHECK_EQ_INT(len, 12);
    cr__json_free(doc);

    CHECK_EQ_INT(parse_str("{\"k\":\"a\\u0000b\"}", &doc), CR_OK);
    cr__json_get_string(cr__json_get(cr__json_root(doc), "k"), &s, &len);
    CHECK_EQ_INT(len, 3);
    CHECK(memcmp(s, "a\0b", 4) == 0);
    cr__json_free(doc);

    /* A doc freed wiped is released like any other (ASan checks the rest). */
    CHECK_EQ_INT(parse_str("{\"secret\":\"s3cr3t\",\"list\":[\"x\",{\"y\":\"z\"}]}", &doc), CR_OK);
    cr__json_free_wiped(doc);
}

/* cr__json_get_int64: exact over int64, integral reals only within 2^53. */
static void test_numbers(void)
{
    static const struct {
        const char *text;
        cr_status st;
        int64_t value;
    } ints[] = {
        {"0", CR_OK, 0},
        {"-0", CR_OK, 0},
        {"9223372036854775807", CR_OK, INT64_MAX},
        {"-9223372036854775808", CR_OK, INT64_MIN},
        {"1700000000000", CR_OK, 1700000000000},
        {"1.0", CR_OK, 1},
        {"2e3", CR_OK, 2000},
        {"-1.5e1", CR_OK, -15},
        {"1.5", CR_ERR_FORMAT, 0},
        {"1e-1", CR_ERR_FORMAT, 0},
        {"1e300", CR_ERR_TOO_LARGE, 0},
        {"9007199254740992.0", CR_OK, 9007199254740992},
        {"\"7\"", CR_ERR_FORMAT, 0},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        struct cr__json_doc *doc = NULL;
        int64_t v = 0;
        CHECK_EQ_INT(parse_str(ints[i].text, &doc), CR_OK);
        cr_status st = cr__json_get_int64(cr__json_root(doc), &v);
        if (!CHECK_MSG(st == ints[i].st && (st != CR_OK || v == ints[i].value), "int64 getter"))
            DIAG("%s: %s %lld", ints[i].text, cr_status_name(st), (long long)v);
        cr__json_free(doc);
    }
    struct cr__json_doc *doc = NULL;
    double d = 0;
    CHECK_EQ_INT(parse_str("[-12.5e-1, 1e308]", &doc), CR_OK);
    cr__json_get_double(cr__json_at(cr__json_root(doc), 0), &d);
    CHECK(d == -1.25);
    cr__json_get_double(cr__json_at(cr__json_root(doc), 1), &d);
    CHECK(d == 1e308);
    cr__json_free(doc);
}

/* Size is checked before parsing; depth counts containers; the limits
 * themselves are range-checked. */
static void test_limits(void)
{
    char deep[2 * 40 + 1];
    for (int n = 31; n <= 33; n++) {
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        cr_status st = status_of(deep, 2 * (size_t)n);
        CHECK_EQ_INT(st, n <= CR__JSON_DEFAULT_MAX_DEPTH ? CR_OK : CR_ERR_TOO_LARGE);
    }
    struct cr_error err = {0};
    struct cr__json_limits lim = {.max_depth = 2};
    struct cr__json_doc *doc = NULL;
    CHECK_EQ_INT(cr__json_parse("[{}]", 4, &lim, &doc, NULL), CR_OK);
    cr__json_free(doc);
    CHECK_EQ_INT(cr__json_parse("[1,{\"a\":[]}]", 12, &lim, &doc, &err), CR_ERR_TOO_LARGE);
    CHECK(doc == NULL);
    CHECK_MSG(strstr(err.message, "nesting deeper than 2") != NULL, "the depth error says so");
    CHECK_EQ_INT(cr__json_parse("{\"a\":1,\"b\":{\"c\":{}}}", 20, &lim, &doc, NULL),
                 CR_ERR_TOO_LARGE);
    lim.max_depth = CR__JSON_MAX_DEPTH_LIMIT;
    memset(deep, '[', 40);
    memset(deep + 40, ']', 40);
    CHECK_EQ_INT(cr__json_parse(deep, 80, &lim, &doc, NULL), CR_OK);
    cr__json_free(doc);
    lim.max_depth = CR__JSON_MAX_DEPTH_LIMIT + 1;
    CHECK_EQ_INT(cr__json_parse("1", 1, &lim, &doc, NULL), CR_ERR_INVALID);
    lim.max_depth = -1;
    CHECK_EQ_INT(cr__json_parse("1", 1, &lim, &doc, NULL), CR_ERR_INVALID);

    /* A million '[' (past jansson's own limit too) is refused as too large. */
    size_t n = 1000000;
    char *brackets = malloc(n);
    memset(brackets, '[', n);
    CHECK_EQ_INT(status_of(brackets, n), CR_ERR_TOO_LARGE);
    free(brackets);

    struct cr__json_limits small = {.max_bytes = 8};
    CHECK_EQ_INT(cr__json_parse("[1,2,3]", 7, &small, &doc, NULL), CR_OK);
    cr__json_free(doc);
    CHECK_EQ_INT(cr__json_parse("[1,2,3,4]", 9, &small, &doc, &err), CR_ERR_TOO_LARGE);
    CHECK_EQ_STR(err.message, "json: document is 9 bytes, limit 8");
    /* Checked before parsing: an over-long text is refused even if broken. */
    CHECK_EQ_INT(cr__json_parse("[[[[[[[[[", 9, &small, &doc, NULL), CR_ERR_TOO_LARGE);
    char *huge = malloc(CR__JSON_DEFAULT_MAX_BYTES + 1);
    memset(huge, ' ', CR__JSON_DEFAULT_MAX_BYTES + 1);
    huge[0] = '1';
    CHECK_EQ_INT(status_of(huge, CR__JSON_DEFAULT_MAX_BYTES), CR_OK);
    CHECK_EQ_INT(status_of(huge, CR__JSON_DEFAULT_MAX_BYTES + 1), CR_ERR_TOO_LARGE);
    free(huge);
}

/* The shortest text that reads back as the same number, in the C locale. */
static void test_number_output(void)
{
    static const struct {
        double d;
        int as_float;
        const char *text;
    } cases[] = {
        {0.61f, 1, "0.61"}, {0.5, 0, "0.5"},   {1, 1, "1"},
        {0, 0, "0"},        {0.1, 0, "0.1"},   {1e-7, 0, "1e-07"},
        {123456789, 0, "123456789"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cr_buf b = {0};
        CHECK_EQ_INT(cr__json_append_number(&b, cases[i].d, cases[i].as_float), CR_OK);
        CHECK_EQ_STR((char *)b.data, cases[i].text);
        cr_buf_free(&b);
    }
    int all = 1;
    for (uint32_t bits = 0x3a000000; bits < 0x3f800000; bits += 0x10001) {
        float f;
        memcpy(&f, &bits, sizeof(f));
        struct cr_buf b = {0};
        struct cr__json_doc *doc = NULL;
        double back = -1;
        cr__json_append_number(&b, f, 1);
        if (parse_str((char *)b.data, &doc) != CR_OK ||
            cr__json_get_double(cr__json_root(doc), &back) != CR_OK || (float)back != f)
            all = 0;
        cr__json_free(doc);
        cr_buf_free(&b);
    }
    CHECK_MSG(all, "floats written read back as the same float");
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr__json_append_number(&b, NAN, 0), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__json_append_number(&b, INFINITY, 1), CR_ERR_INVALID);
    CHECK(b.len == 0);
    cr_buf_free(&b);
}

static void test_utf8_helpers(void)
{
    CHECK(cr__utf8_valid("", 0));
    CHECK(cr__utf8_valid("plain ascii", 11));
    CHECK(cr__utf8_valid("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
    CHECK(!cr__utf8_valid("\xc3", 1));
    CHECK(!cr__utf8_valid("\xed\xbf\xbf", 3));
    CHECK(!cr__utf8_valid("\xf8\x88\x80\x80\x80", 5));
    CHECK(!cr__utf8_valid("\xe0\x9f\xbf", 3)); /* overlong */
    char cut[] = "ok \xc3\xa9 \xe2\x82 \xff\xc3";
    CHECK_EQ_INT(cr__utf8_scrub(cut), 4);
    CHECK_EQ_STR(cut, "ok \xc3\xa9 ?? ??");
}

int main(void)
{
    test_valid_documents();
    test_invalid_documents();
    test_error_detail();
    test_tree_access();
    test_strings();
    test_numbers();
    test_limits();
    test_number_output();
    test_utf8_helpers();
    return tap_done();
}
