/* test_json.c - the contract of the internal JSON reader (core/json.h, over
 * jansson): the strictness callers rely on, the limits, the typed getters,
 * the error detail; the UTF-8 helpers; and the writer (escaping, numbers,
 * key order, refusals, out-of-memory paths). */
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

/* Finishes w into a fresh buffer; returns the text (static) or the status
 * as "<status name>" so one CHECK_EQ_STR shows either. */
static const char *written(struct cr__jw *w)
{
    static char text[512];
    struct cr_buf b = {0};
    cr_status st = cr__jw_finish(w, &b);
    if (st == CR_OK)
        snprintf(text, sizeof(text), "%s", (char *)b.data);
    else
        snprintf(text, sizeof(text), "<%s>", cr_status_name(st));
    cr_buf_free(&b);
    return text;
}

/* One string value, written. */
static const char *string_written(const char *s)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_string(w, NULL, s);
    return written(w);
}

/* Escaping: quotes, backslashes and control characters escaped, everything
 * else (non-ASCII, DEL, '/') as it is; invalid UTF-8 refused or scrubbed. */
static void test_write_strings(void)
{
    CHECK_EQ_STR(string_written("a\"b\\c"), "\"a\\\"b\\\\c\"");
    CHECK_EQ_STR(string_written("\n\r\t\b\f"), "\"\\n\\r\\t\\b\\f\"");
    CHECK_EQ_STR(string_written("\x01\x1f"), "\"\\u0001\\u001F\"");
    CHECK_EQ_STR(string_written("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f/"),
                 "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \x7f/\"");
    CHECK_EQ_STR(string_written(""), "\"\"");
    CHECK_EQ_STR(string_written(NULL), "null");
    CHECK_EQ_STR(string_written("cut \xc3"), "<ERR_INVALID>");
    CHECK_EQ_STR(string_written("\xed\xa0\x80"), "<ERR_INVALID>"); /* a surrogate */
    struct cr__jw *w = cr__jw_new();
    cr__jw_text(w, NULL, "cut \xc3 here \xff");
    CHECK_EQ_STR(written(w), "\"cut ? here ?\"");
    struct cr_buf b = {0};
    cr_buf_append_str(&b, "reason=");
    CHECK_EQ_INT(cr__json_quote(&b, "say \"hi\"\n\xff"), CR_OK);
    CHECK_EQ_STR((char *)b.data, "reason=\"say \\\"hi\\\"\\n?\"");
    cr_buf_free(&b);
    /* Every string written reads back as itself. */
    const char *odd = "\x01 \"q\" \\ \xc3\xa9 \x7f end";
    struct cr__json_doc *doc = NULL;
    const char *back = NULL;
    CHECK_EQ_INT(parse_str(string_written(odd), &doc), CR_OK);
    CHECK(cr__json_get_string(cr__json_root(doc), &back, NULL) == CR_OK && back &&
          strcmp(back, odd) == 0);
    cr__json_free(doc);
}

/* One number value, written: kind 'f' float, 'd' double, 'x' fixed(6). */
static const char *number_written(char kind, double d)
{
    struct cr__jw *w = cr__jw_new();
    if (kind == 'f')
        cr__jw_float(w, NULL, (float)d);
    else if (kind == 'd')
        cr__jw_double(w, NULL, d);
    else
        cr__jw_fixed(w, NULL, d, 6);
    return written(w);
}

/* Numbers: floats in their shortest form, doubles with 15 digits, fixed
 * decimals without trailing zeros, integers exact, never a locale. */
static void test_write_numbers(void)
{
    CHECK_EQ_STR(number_written('f', 0.61), "0.61");
    CHECK_EQ_STR(number_written('f', 1), "1");
    CHECK_EQ_STR(number_written('f', 0), "0");
    CHECK_EQ_STR(number_written('f', 3.2e-5), "3.2e-5");
    CHECK_EQ_STR(number_written('d', 0.1), "0.1");
    CHECK_EQ_STR(number_written('d', 2.5), "2.5");
    CHECK_EQ_STR(number_written('d', 123456789), "123456789");
    CHECK_EQ_STR(number_written('d', 1e300), "1e300");
    CHECK_EQ_STR(number_written('d', 1.0 / 3), "0.333333333333333");
    CHECK_EQ_STR(number_written('x', 65.5), "65.5");
    CHECK_EQ_STR(number_written('x', 0.1234567), "0.123457");
    CHECK_EQ_STR(number_written('x', 2.0000001), "2");
    CHECK_EQ_STR(number_written('d', NAN), "<ERR_INVALID>");
    CHECK_EQ_STR(number_written('d', INFINITY), "<ERR_INVALID>");
    CHECK_EQ_STR(number_written('f', -INFINITY), "<ERR_INVALID>");
    CHECK_EQ_STR(number_written('x', NAN), "<ERR_INVALID>");
    struct cr__jw *w = cr__jw_new();
    cr__jw_array(w, NULL);
    cr__jw_int(w, NULL, INT64_MAX);
    cr__jw_int(w, NULL, INT64_MIN);
    cr__jw_int(w, NULL, 0);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "[9223372036854775807,-9223372036854775808,0]");
    w = cr__jw_new();
    cr__jw_fixed(w, NULL, 1.5, 10);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    int all = 1;
    for (uint32_t bits = 0x3a000000; bits < 0x3f800000; bits += 0x10001) {
        float f;
        memcpy(&f, &bits, sizeof(f));
        struct cr__json_doc *doc = NULL;
        double back = -1;
        if (parse_str(number_written('f', f), &doc) != CR_OK ||
            cr__json_get_double(cr__json_root(doc), &back) != CR_OK || (float)back != f)
            all = 0;
        cr__json_free(doc);
    }
    CHECK_MSG(all, "floats written read back as the same float");
}

/* Members in the order written, nesting, and misuse refused. */
static void test_write_structure(void)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_int(w, "z", 1);
    cr__jw_string(w, "a", "x");
    cr__jw_array(w, "list");
    cr__jw_bool(w, NULL, 1);
    cr__jw_bool(w, NULL, 0);
    cr__jw_null(w, NULL);
    cr__jw_object(w, NULL);
    cr__jw_end(w);
    cr__jw_array(w, NULL);
    cr__jw_end(w);
    cr__jw_end(w);
    cr__jw_float(w, "m", 0.25f);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "{\"z\":1,\"a\":\"x\",\"list\":[true,false,null,{},[]],\"m\":0.25}");

    w = cr__jw_new(); /* a member without a key */
    cr__jw_object(w, NULL);
    cr__jw_int(w, NULL, 1);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* a key inside an array */
    cr__jw_array(w, NULL);
    cr__jw_int(w, "k", 1);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* the same key twice */
    cr__jw_object(w, NULL);
    cr__jw_int(w, "k", 1);
    cr__jw_int(w, "k", 2);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* a key that is not UTF-8 */
    cr__jw_object(w, NULL);
    cr__jw_int(w, "\xff", 1);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* still open */
    cr__jw_object(w, NULL);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* closed once too often */
    cr__jw_array(w, NULL);
    cr__jw_end(w);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    w = cr__jw_new(); /* two top-level values */
    cr__jw_int(w, NULL, 1);
    cr__jw_int(w, NULL, 2);
    CHECK_EQ_STR(written(w), "<ERR_INVALID>");
    CHECK_EQ_STR(written(cr__jw_new()), "<ERR_INVALID>"); /* nothing */
    w = cr__jw_new(); /* too deep; the first failure sticks */
    for (int i = 0; i <= CR__JSON_DEFAULT_MAX_DEPTH; i++)
        cr__jw_array(w, NULL);
    CHECK_EQ_INT(cr__jw_status(w), CR_ERR_TOO_LARGE);
    cr__jw_end(w);
    CHECK_EQ_STR(written(w), "<ERR_TOO_LARGE>");
    cr__jw_free(NULL);
}

/* The output buffer's own limit, and nothing left behind on failure. */
static void test_write_buffer(void)
{
    struct cr_buf b;
    cr_buf_init(&b, 16);
    cr_buf_append_str(&b, "keep");
    struct cr__jw *w = cr__jw_new();
    cr__jw_string(w, NULL, "more than sixteen bytes");
    CHECK_EQ_INT(cr__jw_finish(w, &b), CR_ERR_TOO_LARGE);
    CHECK_EQ_STR((char *)b.data, "keep");
    CHECK_EQ_INT(cr__json_quote(&b, "a longer string"), CR_ERR_TOO_LARGE);
    CHECK_EQ_STR((char *)b.data, "keep");
    w = cr__jw_new();
    cr__jw_int(w, NULL, 12);
    CHECK_EQ_INT(cr__jw_finish(w, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data, "keep12");
    cr_buf_free(&b);
}

/* A malloc that fails once `left` allocations have succeeded. */
static long alloc_left;
static void *failing_alloc(size_t n)
{
    return alloc_left-- > 0 ? malloc(n) : NULL;
}

/* Writes a document that needs every kind of allocation. */
static cr_status write_sample(struct cr_buf *out)
{
    struct cr__jw *w = cr__jw_new();
    cr__jw_object(w, NULL);
    cr__jw_text(w, "error", "cut \xc3");
    cr__jw_array(w, "top");
    cr__jw_object(w, NULL);
    cr__jw_string(w, "label", "cat");
    cr__jw_float(w, "p", 0.61f);
    cr__jw_end(w);
    cr__jw_end(w);
    cr__jw_double(w, "d", 2.5);
    cr__jw_int(w, "ms", 7);
    cr__jw_end(w);
    return cr__jw_finish(w, out);
}

/* Each allocation failing in turn: CR_ERR_NOMEM and no output, never a
 * crash or a half document (ASan checks that nothing leaks). */
static void test_write_out_of_memory(void)
{
    const char *want = "{\"error\":\"cut ?\",\"top\":[{\"label\":\"cat\",\"p\":0.61}],"
                       "\"d\":2.5,\"ms\":7}";
    int all_nomem = 1;
    long n;
    cr_status st = CR_ERR_NOMEM;
    struct cr_buf b = {0};
    for (n = 0; n < 1000 && st == CR_ERR_NOMEM; n++) {
        alloc_left = n;
        cr__json_set_alloc(failing_alloc, free);
        cr_buf_reset(&b);
        st = write_sample(&b);
        cr__json_set_alloc(NULL, NULL);
        if (st != CR_OK && (st != CR_ERR_NOMEM || b.len != 0))
            all_nomem = 0;
    }
    DIAG("the sample document needs %ld allocations", n - 1);
    CHECK_MSG(n > 5 && all_nomem, "every failed allocation is CR_ERR_NOMEM with no output");
    CHECK_EQ_INT(st, CR_OK);
    CHECK_EQ_STR((char *)b.data, want);
    cr_buf_free(&b);
    /* A writer that could not be made is a no-op that reports NOMEM. */
    cr__jw_object(NULL, NULL);
    cr__jw_string(NULL, "k", "v");
    cr__jw_end(NULL);
    CHECK_EQ_INT(cr__jw_status(NULL), CR_ERR_NOMEM);
    CHECK_EQ_INT(cr__jw_finish(NULL, &b), CR_ERR_NOMEM);
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
    test_write_strings();
    test_write_numbers();
    test_write_structure();
    test_write_buffer();
    test_write_out_of_memory();
    test_utf8_helpers();
    return tap_done();
}
