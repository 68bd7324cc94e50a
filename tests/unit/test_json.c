/* test_json.c - the internal strict JSON parser: what it accepts, what it
 * refuses, and that hostile input neither crashes nor leaks. */
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

static void test_valid_documents(void)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        "0",
        "-0",
        "1",
        "-1",
        "123.456e-7",
        "1E+2",
        "0.5",
        "\"\"",
        "true",
        "false",
        "null",
        " \t\r\n[ 1 , 2 ]\n",
        "{\"a\":{\"b\":[true,false,null,{}]}}",
        "\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"",
        "\"\\u00e9\\uD83D\\uDE00\"",
        "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"",
        "[1e-400]", /* underflow to 0 is fine */
        "{\"\":1}",
        "[[[[[[[[[[]]]]]]]]]]",
        "\"\x7f\"",
        "-9223372036854775808",
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        cr_status st = status_of(ok[i], strlen(ok[i]));
        if (!CHECK_MSG(st == CR_OK, "accepts a valid document"))
            DIAG("rejected: %s (%s)", ok[i], cr_status_name(st));
    }
}

/* Each entry must fail with CR_ERR_FORMAT. */
static void test_invalid_documents(void)
{
    static const char *const bad[] = {
        "",
        " ",
        "{",
        "}",
        "[",
        "]",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "{a:1}",
        "{'a':1}",
        "['a']",
        "[1 2]",
        "{\"a\":1 \"b\":2}",
        "01",
        "-01",
        "00",
        "1.",
        ".5",
        "-",
        "+1",
        "1e",
        "1e+",
        "0x10",
        "1.5e",
        "NaN",
        "Infinity",
        "-Infinity",
        "nul",
        "tru",
        "True",
        "nulll",
        "truefalse",
        "[1]x",
        "{} {}",
        "1 2",
        "\"abc",
        "\"\\\"",
        "\"\\x41\"",
        "\"\\u12\"",
        "\"\\u12G4\"",
        "\"\\uD800\"",
        "\"\\uDC00\"",
        "\"\\uD800x\"",
        "\"\\uD800\\u0041\"",
        "\"\\uDBFF\\uDBFF\"",
        "\"tab\there\"",
        "\"nl\nhere\"",
        "\"\x01\"",
        "\"\xc3\"",
        "\"\xc3\x28\"",
        "\"\xc0\xaf\"",
        "\"\xe0\x80\xaf\"",
        "\"\xed\xa0\x80\"",     /* a surrogate written as UTF-8 */
        "\"\xf4\x90\x80\x80\"", /* past U+10FFFF */
        "\"\xff\"",
        "\xef\xbb\xbf{}", /* BOM */
        "/* c */ {}",
        "[1] // c",
        "1e400",
        "-1e400",
        "[\"a\"\x00]",
        "{\"a\":1,\"a\":2}",
        "\x0c[]",     /* form feed is not JSON whitespace */
        "[\xc2\xa0]", /* nor is NBSP */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_status st = status_of(bad[i], strlen(bad[i]));
        if (!CHECK_MSG(st == CR_ERR_FORMAT, "rejects an invalid document"))
            DIAG("entry %zu: %s (%s)", i, bad[i], cr_status_name(st));
    }
    /* An embedded NUL byte outside a string, counted in len. */
    CHECK_EQ_INT(status_of("[1]\0", 4), CR_ERR_FORMAT);
    CHECK_EQ_INT(status_of("\"a\0b\"", 5), CR_ERR_FORMAT);
}

static void test_error_detail(void)
{
    struct cr_error err = {0};
    struct cr__json_doc *doc = (struct cr__json_doc *)&err; /* must become NULL */
    CHECK_EQ_INT(cr__json_parse("[1,x]", 5, NULL, &doc, &err), CR_ERR_FORMAT);
    CHECK(doc == NULL);
    CHECK_MSG(strstr(err.message, "offset 3") != NULL, "the message gives the byte offset");
    CHECK_EQ_INT(err.status, CR_ERR_FORMAT);
    cr__json_parse("{\"k\":1,\"k\":2}", 13, NULL, &doc, &err);
    CHECK_MSG(strstr(err.message, "duplicate key \"k\"") != NULL, "duplicates are named");
    cr__json_parse("\"\\uDC00\"", 8, NULL, &doc, &err);
    CHECK_MSG(strstr(err.message, "surrogate") != NULL, "surrogate errors say so");
    CHECK_EQ_INT(cr__json_parse(NULL, 3, NULL, &doc, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__json_parse("1", 1, NULL, NULL, &err), CR_ERR_INVALID);
}

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
    int b = -1;
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "ok"), &b), CR_OK);
    CHECK_EQ_INT(b, 1);
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "no"), &b), CR_OK);
    CHECK_EQ_INT(b, 0);
    CHECK_EQ_INT(cr__json_type(cr__json_get(root, "nil")), CR__JSON_NULL);

    const struct cr__json *list = cr__json_get(root, "list");
    CHECK_EQ_INT(cr__json_length(list), 3);
    CHECK_EQ_INT(cr__json_type(cr__json_at(list, 1)), CR__JSON_STRING);
    CHECK_EQ_INT(cr__json_type(cr__json_at(list, 2)), CR__JSON_ARRAY);
    CHECK(cr__json_at(list, 3) == NULL);
    CHECK_EQ_INT(cr__json_length(cr__json_at(list, 2)), 0);

    /* Chained lookups through absent members stay NULL-safe. */
    CHECK_EQ_INT(cr__json_get_string(cr__json_get(cr__json_get(root, "o"), "deep"), &s, NULL),
                 CR_OK);
    CHECK_EQ_STR(s, "yes");
    CHECK(cr__json_get(cr__json_get(root, "missing"), "deep") == NULL);
    CHECK(cr__json_get(list, "name") == NULL);
    CHECK(cr__json_get(root, "nam") == NULL);
    CHECK_EQ_INT(cr__json_get_string(NULL, &s, NULL), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_get_int64(cr__json_get(root, "name"), &i), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_get_bool(cr__json_get(root, "nil"), &b), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__json_type(NULL), CR__JSON_NONE);
    CHECK_EQ_STR(cr__json_type_name(CR__JSON_OBJECT), "object");

    size_t klen = 0;
    CHECK_EQ_STR(cr__json_key_at(root, 1, &klen), "n");
    CHECK_EQ_INT(klen, 1);
    CHECK(cr__json_key_at(list, 0, &klen) == NULL);
    CHECK(cr__json_key_at(root, 8, &klen) == NULL);
    cr__json_free(doc);
    cr__json_free(NULL);
}

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

    /* Lower- and upper-case hex, and the highest code point. */
    CHECK_EQ_INT(parse_str("\"\\udbff\\uDFFF\"", &doc), CR_OK);
    cr__json_get_string(cr__json_root(doc), &s, &len);
    CHECK_EQ_STR(s, "\xf4\x8f\xbf\xbf");
    cr__json_free(doc);

    /* \u0000 is legal JSON: the length says where the string really ends. */
    CHECK_EQ_INT(parse_str("{\"k\\u0000x\":\"a\\u0000b\"}", &doc), CR_OK);
    const struct cr__json *root = cr__json_root(doc);
    cr__json_get_string(cr__json_at(root, 0), &s, &len);
    CHECK_EQ_INT(len, 3);
    CHECK(memcmp(s, "a\0b", 4) == 0);
    size_t klen = 0;
    cr__json_key_at(root, 0, &klen);
    CHECK_EQ_INT(klen, 3);
    CHECK(cr__json_get(root, "k") == NULL);
    cr__json_free(doc);

    /* Keys differing only after a NUL are distinct, not duplicates. */
    CHECK_EQ_INT(status_of("{\"a\\u0000b\":1,\"a\\u0000c\":2}", 27), CR_OK);
    /* Escaped and raw spellings of the same key are duplicates. */
    CHECK_EQ_INT(status_of("{\"\\u0061\":1,\"a\":2}", 18), CR_ERR_FORMAT);
}

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
        {"9223372036854775808", CR_ERR_TOO_LARGE, 0},
        {"-9223372036854775809", CR_ERR_TOO_LARGE, 0},
        {"1700000000000", CR_OK, 1700000000000},
        {"1.0", CR_OK, 1},
        {"2e3", CR_OK, 2000},
        {"-1.5e1", CR_OK, -15},
        {"1.5", CR_ERR_FORMAT, 0},
        {"1e-1", CR_ERR_FORMAT, 0},
        {"1e300", CR_ERR_TOO_LARGE, 0},
        {"9007199254740992.0", CR_OK, 9007199254740992},
    };
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        struct cr__json_doc *doc = NULL;
        int64_t v = 0;
        CHECK_EQ_INT(parse_str(ints[i].text, &doc), CR_OK);
        cr_status st = cr__json_get_int64(cr__json_root(doc), &v);
        if (!CHECK_MSG(st == ints[i].st && (st != CR_OK || v == ints[i].value), "int64 accessor"))
            DIAG("%s: %s %lld", ints[i].text, cr_status_name(st), (long long)v);
        cr__json_free(doc);
    }
    struct cr__json_doc *doc = NULL;
    double d = 0;
    CHECK_EQ_INT(parse_str("[-12.5e-1, 1e308, 123456789012345678901234567890]", &doc), CR_OK);
    cr__json_get_double(cr__json_at(cr__json_root(doc), 0), &d);
    CHECK(d == -1.25);
    cr__json_get_double(cr__json_at(cr__json_root(doc), 1), &d);
    CHECK(d == 1e308);
    int64_t v = 0;
    CHECK_EQ_INT(cr__json_get_int64(cr__json_at(cr__json_root(doc), 2), &v), CR_ERR_TOO_LARGE);
    cr__json_free(doc);

    /* A literal longer than the parser's stack buffer. */
    char big[400];
    memset(big, '7', sizeof(big) - 1);
    big[0] = '0';
    big[1] = '.';
    big[sizeof(big) - 1] = '\0';
    CHECK_EQ_INT(parse_str(big, &doc), CR_OK);
    cr__json_get_double(cr__json_root(doc), &d);
    CHECK(fabs(d - 0.7777777777777778) < 1e-15);
    cr__json_free(doc);
}

static void test_number_output(void)
{
    static const struct {
        double d;
        int as_float;
        const char *text;
    } cases[] = {
        {0.61f, 1, "0.61"},
        {0.5, 0, "0.5"},
        {1, 1, "1"},
        {0, 0, "0"},
        {0.1, 0, "0.1"},
        {1e-7, 0, "1e-07"},
        {123456789, 0, "123456789"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct cr_buf b = {0};
        CHECK_EQ_INT(cr__json_append_number(&b, cases[i].d, cases[i].as_float), CR_OK);
        CHECK_EQ_STR((char *)b.data, cases[i].text);
        cr_buf_free(&b);
    }
    /* Every float written reads back as the same float. */
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
    CHECK_MSG(all, "floats round-trip through the shortest text");
    struct cr_buf b = {0};
    CHECK_EQ_INT(cr__json_append_number(&b, NAN, 0), CR_ERR_INVALID);
    CHECK_EQ_INT(cr__json_append_number(&b, INFINITY, 1), CR_ERR_INVALID);
    CHECK(b.len == 0);
    cr_buf_free(&b);
}

static void test_limits(void)
{
    /* Depth: exactly max_depth containers are fine, one more is not. */
    char deep[2 * 40 + 1];
    for (int n = 31; n <= 33; n++) {
        memset(deep, '[', (size_t)n);
        memset(deep + n, ']', (size_t)n);
        cr_status st = status_of(deep, 2 * (size_t)n);
        CHECK_EQ_INT(st, n <= CR__JSON_DEFAULT_MAX_DEPTH ? CR_OK : CR_ERR_TOO_LARGE);
    }
    struct cr__json_limits lim = {.max_depth = 2};
    struct cr__json_doc *doc = NULL;
    CHECK_EQ_INT(cr__json_parse("[{}]", 4, &lim, &doc, NULL), CR_OK);
    cr__json_free(doc);
    CHECK_EQ_INT(cr__json_parse("[{\"a\":[]}]", 10, &lim, &doc, NULL), CR_ERR_TOO_LARGE);
    lim.max_depth = CR__JSON_MAX_DEPTH_LIMIT + 1;
    CHECK_EQ_INT(cr__json_parse("1", 1, &lim, &doc, NULL), CR_ERR_INVALID);

    /* A million '[' must be refused quickly, without deep recursion. */
    size_t n = 1000000;
    char *brackets = malloc(n);
    memset(brackets, '[', n);
    CHECK_EQ_INT(status_of(brackets, n), CR_ERR_TOO_LARGE);
    memset(brackets, '{', n);
    CHECK_EQ_INT(status_of(brackets, n), CR_ERR_FORMAT); /* '{' needs a key first */
    free(brackets);

    /* Size. */
    struct cr__json_limits small = {.max_bytes = 8};
    CHECK_EQ_INT(cr__json_parse("[1,2,3]", 7, &small, &doc, NULL), CR_OK);
    cr__json_free(doc);
    CHECK_EQ_INT(cr__json_parse("[1,2,3,4]", 9, &small, &doc, NULL), CR_ERR_TOO_LARGE);
    char *huge = malloc(CR__JSON_DEFAULT_MAX_BYTES + 1);
    memset(huge, ' ', CR__JSON_DEFAULT_MAX_BYTES + 1);
    huge[0] = '1';
    CHECK_EQ_INT(status_of(huge, CR__JSON_DEFAULT_MAX_BYTES), CR_OK);
    CHECK_EQ_INT(status_of(huge, CR__JSON_DEFAULT_MAX_BYTES + 1), CR_ERR_TOO_LARGE);
    free(huge);
}

/* Builds a large array of small objects (many arena blocks, a large
 * duplicate check) and reads it back. */
static void test_large_documents(void)
{
    struct cr_buf b = {0};
    cr_buf_append_str(&b, "[");
    for (int i = 0; i < 20000; i++)
        cr_buf_appendf(&b, "%s{\"k%d\":%d,\"s\":\"v%d\"}", i ? "," : "", i, i, i);
    cr_buf_append_str(&b, "]");
    struct cr__json_doc *doc = NULL;
    CHECK_EQ_INT(cr__json_parse((char *)b.data, b.len, NULL, &doc, NULL), CR_OK);
    const struct cr__json *last = cr__json_at(cr__json_root(doc), 19999);
    int64_t v = 0;
    CHECK_EQ_INT(cr__json_get_int64(cr__json_get(last, "k19999"), &v), CR_OK);
    CHECK_EQ_INT(v, 19999);
    cr__json_free(doc);

    /* One object with 50000 members, the last a duplicate of the first. */
    cr_buf_reset(&b);
    cr_buf_append_str(&b, "{");
    for (int i = 0; i < 50000; i++)
        cr_buf_appendf(&b, "\"m%d\":%d,", i, i);
    cr_buf_append_str(&b, "\"m0\":0}");
    CHECK_EQ_INT(cr__json_parse((char *)b.data, b.len, NULL, &doc, NULL), CR_ERR_FORMAT);
    b.data[b.len - 5] = '1'; /* "m1" is still a duplicate */
    CHECK_EQ_INT(cr__json_parse((char *)b.data, b.len, NULL, &doc, NULL), CR_ERR_FORMAT);
    cr_buf_free(&b);
}

/* Every proper prefix of a document whose last byte closes it must fail. */
static void test_truncations(void)
{
    const char *text =
        "{\"id\":\"\\uD83D\\uDE00\",\"top\":[{\"p\":0.5e-1},true,null,-12],\"x\":\"\xc3\xa9\"}";
    size_t len = strlen(text);
    int all = 1;
    for (size_t i = 0; i < len; i++)
        if (status_of(text, i) != CR_ERR_FORMAT)
            all = 0;
    CHECK_MSG(all, "every truncation of a document is refused");
    CHECK_EQ_INT(status_of(text, len), CR_OK);
}

/* A tiny deterministic generator so the fuzz batch is the same every run. */
static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Mutates valid documents byte by byte and feeds every mutant to the parser:
 * under ASan/UBSan this is a crash-and-leak check. Whatever parses must also
 * survive a full walk of its tree. */
static size_t walk(const struct cr__json *v)
{
    size_t n = 1;
    for (size_t i = 0; i < cr__json_length(v); i++)
        n += walk(cr__json_at(v, i));
    const char *s;
    size_t len;
    if (cr__json_get_string(v, &s, &len) == CR_OK && s[len] != '\0')
        n = 0;
    return n;
}

static void test_fuzz_batch(void)
{
    static const char *const seeds[] = {
        "{\"v\":1,\"id\":\"0b7e\",\"top\":[{\"label\":\"tub\",\"p\":0.61}],\"ms\":42}",
        "[\"\\uD83D\\uDE00\",\"\\u00e9\",-0.0e+1,true,false,null,{}]",
        "{\"a\":{\"b\":{\"c\":[[[[\"\xe2\x82\xac\"]]]]}}}",
    };
    static const char alphabet[] = "{}[]\",:\\u0123456789abcdefABCDEF.eE+-tfnrl \t\n\x00\x1f\x7f"
                                   "\x80\xbf\xc2\xdf\xe0\xed\xef\xf0\xf4\xff";
    uint32_t seed = 0x12345678;
    size_t parsed = 0, runs = 0;
    int walked = 1;
    for (size_t s = 0; s < sizeof(seeds) / sizeof(seeds[0]); s++) {
        size_t len = strlen(seeds[s]);
        char buf[256];
        for (int round = 0; round < 4000; round++) {
            memcpy(buf, seeds[s], len);
            size_t n = len;
            int edits = 1 + (int)(rng_next(&seed) % 4);
            for (int e = 0; e < edits; e++) {
                size_t at = rng_next(&seed) % n;
                uint32_t r = rng_next(&seed);
                if (r % 3 == 0)
                    buf[at] = alphabet[r / 3 % (sizeof(alphabet) - 1)];
                else if (r % 3 == 1 && n > 1)
                    memmove(buf + at, buf + at + 1, --n - at); /* delete */
                else if (n < sizeof(buf) - 1) {
                    memmove(buf + at + 1, buf + at, n++ - at); /* insert */
                    buf[at] = alphabet[r / 3 % (sizeof(alphabet) - 1)];
                }
            }
            struct cr__json_doc *doc = NULL;
            if (cr__json_parse(buf, n, NULL, &doc, NULL) == CR_OK) {
                parsed++;
                walked &= walk(cr__json_root(doc)) > 0;
            }
            cr__json_free(doc);
            runs++;
        }
    }
    /* Both outcomes were exercised: mutants the parser accepted (and whose
     * trees were walked) and mutants it refused. */
    CHECK_MSG(parsed > 0 && parsed < runs, "the mutants include valid and invalid JSON");
    CHECK_MSG(walked, "every accepted mutant has a well-formed tree");
    DIAG("%zu of %zu mutants were still valid JSON", parsed, runs);
}

static void test_utf8_validator(void)
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
    test_number_output();
    test_limits();
    test_large_documents();
    test_truncations();
    test_fuzz_batch();
    test_utf8_validator();
    return tap_done();
}
