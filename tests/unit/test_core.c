/* test_core.c - status codes, buffers, logging, encodings, hashing, time. */
#include "cloudrec.h"
#include "internal.h"
#include "tap.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_status(void)
{
    CHECK_EQ_INT(CR_OK, 0);
    CHECK_EQ_STR(cr_strerror(CR_OK), "success");
    CHECK_EQ_STR(cr_strerror(CR_ERR_FORMAT), "malformed data");
    CHECK_EQ_STR(cr_status_name(CR_ERR_TOO_LARGE), "ERR_TOO_LARGE");
    CHECK_EQ_STR(cr_strerror((cr_status)9999), "unknown status");
    /* The numbers are ABI: pin a few so a reordering fails here. */
    CHECK_EQ_INT(CR_ERR_NOT_FOUND, 4);
    CHECK_EQ_INT(CR_ERR_CHECKSUM, 14);

    struct cr_error err;
    CHECK_EQ_INT(cr__fail(&err, CR_ERR_IO, "%s: %d", "x", 7), CR_ERR_IO);
    CHECK_EQ_STR(err.message, "x: 7");
    CHECK_EQ_INT(err.status, CR_ERR_IO);
    cr__fail_prefix(&err, CR_ERR_IO, "file.jpg: ");
    CHECK_EQ_STR(err.message, "file.jpg: x: 7");
    CHECK_EQ_INT(cr__fail(NULL, CR_ERR_NOMEM, "ignored"), CR_ERR_NOMEM);
    cr_error_clear(&err);
    CHECK_EQ_STR(err.message, "");
    cr_error_clear(NULL);
}

static void test_buf(void)
{
    struct cr_buf b;
    cr_buf_init(&b, 8);
    CHECK_EQ_INT(cr_buf_append(&b, "12345", 5), CR_OK);
    CHECK_EQ_INT(cr_buf_append(&b, "6789", 4), CR_ERR_TOO_LARGE);
    CHECK_MSG(b.len == 5 && strcmp((char *)b.data, "12345") == 0,
              "a refused append leaves the buffer unchanged");
    CHECK_EQ_INT(cr_buf_appendf(&b, "%d", 678), CR_OK);
    CHECK_EQ_STR((char *)b.data, "12345678");
    CHECK_EQ_INT(cr_buf_appendf(&b, "x"), CR_ERR_TOO_LARGE);
    cr_buf_reset(&b);
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_STR((char *)b.data, "");
    cr_buf_free(&b);
    CHECK(b.data == NULL);
    cr_buf_free(NULL);

    cr_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        cr_buf_append(&b, "abcdefghij", 10);
    CHECK_EQ_INT(b.len, 100000);
    size_t len = 0;
    char *s = cr_buf_steal(&b, &len);
    CHECK_MSG(s && len == 100000 && s[99999] == 'j' && s[100000] == '\0', "steal hands over");
    CHECK(b.data == NULL && b.len == 0);
    free(s);
}

static void test_files(void)
{
    char dir[] = "/tmp/cloudrec-test-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char path[256];
    snprintf(path, sizeof(path), "%s/a.bin", dir);
    struct cr_error err = {0};
    CHECK_EQ_INT(cr_file_write_atomic(path, "hello", 5, &err), CR_OK);
    CHECK_EQ_INT(cr_file_write_atomic(path, "world!", 6, &err), CR_OK);
    struct cr_buf b;
    cr_buf_init(&b, 0);
    CHECK_EQ_INT(cr_file_read(path, 0, &b, &err), CR_OK);
    CHECK_EQ_STR((char *)b.data, "world!");
    cr_buf_reset(&b);
    CHECK_EQ_INT(cr_file_read(path, 3, &b, &err), CR_ERR_TOO_LARGE);
    CHECK_MSG(strstr(err.message, "a.bin") != NULL, "too-large message names the file");
    CHECK_EQ_INT(b.len, 0);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing", dir);
    CHECK_EQ_INT(cr_file_read(missing, 0, &b, &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.message, "missing") != NULL, "not-found message names the file");
    CHECK_EQ_INT(cr_file_read(dir, 0, &b, &err), CR_ERR_IO);
    char sum[65];
    CHECK_EQ_INT(cr_sha256_file_hex(path, sum, &err), CR_OK);
    /* sha256("world!") */
    CHECK_EQ_STR(sum, "711e9609339e92b03ddc0a211827dba421f38f9ed8b9d806e1ffdd8c15ffa03d");
    cr_buf_free(&b);
    unlink(path);
    rmdir(dir);
}

static void b64_roundtrip(const char *plain, const char *encoded)
{
    struct cr_buf b;
    cr_buf_init(&b, 0);
    cr_base64_encode(plain, strlen(plain), &b);
    CHECK_EQ_STR((char *)b.data, encoded);
    cr_buf_reset(&b);
    CHECK_EQ_INT(cr_base64_decode(encoded, strlen(encoded), &b), CR_OK);
    CHECK_MSG(b.len == strlen(plain) && memcmp(b.data, plain, b.len) == 0, encoded);
    cr_buf_free(&b);
}

static void test_encodings(void)
{
    /* RFC 4648 section 10 vectors. */
    b64_roundtrip("f", "Zg==");
    b64_roundtrip("fo", "Zm8=");
    b64_roundtrip("foo", "Zm9v");
    b64_roundtrip("foob", "Zm9vYg==");
    b64_roundtrip("fooba", "Zm9vYmE=");
    b64_roundtrip("foobar", "Zm9vYmFy");
    struct cr_buf b;
    cr_buf_init(&b, 0);
    CHECK_EQ_INT(cr_base64_encode("", 0, &b), CR_OK);
    CHECK_EQ_INT(cr_base64_decode("Zm9v!mFy", 8, &b), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_base64_decode("Z", 1, &b), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_base64_decode("QR==", 4, &b), CR_ERR_FORMAT); /* non-canonical "A" */
    CHECK_EQ_INT(b.len, 0);

    char hex[9];
    cr_hex_encode("\x01\xab\xff\x00", 4, hex);
    CHECK_EQ_STR(hex, "01abff00");
    unsigned char raw[4];
    CHECK_EQ_INT(cr_hex_decode("01ABff00", 8, raw, 4), CR_OK);
    CHECK(memcmp(raw, "\x01\xab\xff\x00", 4) == 0);
    CHECK_EQ_INT(cr_hex_decode("0g", 2, raw, 1), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_hex_decode("012", 3, raw, 1), CR_ERR_FORMAT);

    cr_buf_reset(&b);
    const char *in = "a b/c~d-e_f.g*é";
    cr_uri_encode(in, strlen(in), 0, &b);
    CHECK_EQ_STR((char *)b.data, "a%20b%2Fc~d-e_f.g%2A%C3%A9");
    cr_buf_reset(&b);
    cr_uri_encode(in, strlen(in), 1, &b);
    CHECK_EQ_STR((char *)b.data, "a%20b/c~d-e_f.g%2A%C3%A9");
    cr_buf_reset(&b);
    CHECK_EQ_INT(cr_uri_decode("a%20b%2Fc", 9, &b), CR_OK);
    CHECK_EQ_STR((char *)b.data, "a b/c");
    CHECK_EQ_INT(cr_uri_decode("bad%2", 5, &b), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_uri_decode("bad%zz", 6, &b), CR_ERR_FORMAT);
    CHECK_EQ_STR((char *)b.data, "a b/c"); /* a failed decode appends nothing */
    cr_buf_free(&b);
}

static void test_hashing(void)
{
    unsigned char md[32];
    char hex[65];
    cr_sha256("abc", 3, md);
    cr_hex_encode(md, 32, hex);
    CHECK_EQ_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* RFC 4231 test case 2. */
    cr_hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, md);
    cr_hex_encode(md, 32, hex);
    CHECK_EQ_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_time_uuid(void)
{
    char amz[17], iso[21];
    cr_time_format_amz(1440938160, amz);
    CHECK_EQ_STR(amz, "20150830T123600Z");
    cr_time_format_iso8601(1440938160, iso);
    CHECK_EQ_STR(iso, "2015-08-30T12:36:00Z");
    int64_t t = 0;
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-08-30T12:36:00Z", &t), CR_OK);
    CHECK_EQ_INT(t, 1440938160);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-08-30T12:36:00.123Z", &t), CR_OK);
    CHECK_EQ_INT(t, 1440938160);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-13-30T12:36:00Z", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601("yesterday", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-02-31T12:36:00Z", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-08-30T-1:36:00Z", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601(" 2015-08-30T12:36:00Z", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-08-30T12:36:00.Z", &t), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_time_parse_iso8601("2015-08-30T12:36:00+00:00", &t), CR_OK);
    int64_t a = cr_time_mono_ms();
    usleep(20000);
    CHECK_MSG(cr_time_mono_ms() - a >= 19, "monotonic clock advances");
    CHECK_MSG(cr_time_wall_ms() > 1600000000000LL, "wall clock is in ms since the epoch");

    char u1[CR_UUID_STR_LEN], u2[CR_UUID_STR_LEN];
    CHECK_EQ_INT(cr_uuid_v4(u1), CR_OK);
    cr_uuid_v4(u2);
    CHECK_EQ_INT(strlen(u1), 36);
    CHECK_MSG(u1[8] == '-' && u1[13] == '-' && u1[14] == '4' && u1[18] == '-' && u1[23] == '-',
              "uuid has the v4 layout");
    CHECK_MSG(strchr("89ab", u1[19]) != NULL, "uuid has the RFC 4122 variant");
    CHECK_MSG(strcmp(u1, u2) != 0, "two uuids differ");
}

struct captured {
    int count;
    enum cr_log_level level;
    char line[256];
};

static void capture(void *ud, enum cr_log_level level, const char *line)
{
    struct captured *c = ud;
    c->count++;
    c->level = level;
    snprintf(c->line, sizeof(c->line), "%s", line);
}

static void test_log(void)
{
    struct captured c = {0};
    CHECK_MSG(!cr__log_enabled(CR_LOG_ERROR), "silent by default");
    cr_log_set_handler(capture, &c, CR_LOG_INFO);
    cr_log(CR_LOG_DEBUG, "msg=hidden");
    CHECK_EQ_INT(c.count, 0);
    cr_log(CR_LOG_WARN, "msg=%s n=%d", "shown", 3);
    CHECK_EQ_INT(c.count, 1);
    CHECK_EQ_STR(c.line, "msg=shown n=3");
    CHECK_EQ_INT(c.level, CR_LOG_WARN);
    cr_log_set_handler(NULL, NULL, CR_LOG_DEBUG);
    cr_log(CR_LOG_ERROR, "msg=dropped");
    CHECK_EQ_INT(c.count, 1);
    CHECK_EQ_INT(cr_log_level_parse("WARN"), CR_LOG_WARN);
    CHECK_EQ_INT(cr_log_level_parse("loud"), -1);
}

int main(void)
{
    test_status();
    test_buf();
    test_files();
    test_encodings();
    test_hashing();
    test_time_uuid();
    test_log();
    return tap_done();
}
