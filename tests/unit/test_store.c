/* test_store.c - cr_store: URLs, key safety, the file:// store. */
#include "pipeline/message.h"
#include "cloudrec/store.h"
#include "pipeline/retention.h"
#include "tap.h"
#include "backends/backend.h"

#include <fcntl.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[] = "/tmp/cr-test-store-XXXXXX";

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static struct cr_store *open_store(const char *sub)
{
    char url[512];
    snprintf(url, sizeof(url), "file://%s/%s", root, sub);
    struct cr_store *s = NULL;
    struct cr_error err;
    if (cr_store_open(url, &s, &err) != CR_OK)
        DIAG("open %s: %s", url, err.message);
    return s;
}

static void test_key_safety(void)
{
    char long_key[301], max_key[256];
    memset(long_key, 'k', 300);
    long_key[300] = '\0';
    memset(max_key, 'k', 255);
    max_key[255] = '\0';
    CHECK(cr_store_key_is_safe("test_0.JPEG"));
    CHECK(cr_store_key_is_safe("test_0"));
    CHECK(cr_store_key_is_safe("A-b_c.9"));
    CHECK_MSG(cr_store_key_is_safe(max_key), "a 255-byte key is safe");
    CHECK(!cr_store_key_is_safe("../x"));
    CHECK(!cr_store_key_is_safe("/etc/passwd"));
    CHECK(!cr_store_key_is_safe("a/b"));
    CHECK(!cr_store_key_is_safe(".hidden"));
    CHECK(!cr_store_key_is_safe(".."));
    CHECK(!cr_store_key_is_safe("."));
    CHECK(!cr_store_key_is_safe(""));
    CHECK(!cr_store_key_is_safe(NULL));
    CHECK_MSG(!cr_store_key_is_safe(long_key), "a 300-byte key is refused");
    char k256[257];
    memset(k256, 'k', 256);
    k256[256] = '\0';
    CHECK_MSG(!cr_store_key_is_safe(k256), "a 256-byte key is refused");
    CHECK(!cr_store_key_is_safe("a\nb"));
    CHECK(!cr_store_key_is_safe("a\x01"));
    CHECK(!cr_store_key_is_safe("tab\there"));
    CHECK(!cr_store_key_is_safe("a b"));
    CHECK(!cr_store_key_is_safe("a\\b"));
    CHECK(!cr_store_key_is_safe("caf\xc3\xa9"));
}

static void test_urls(void)
{
    struct cr_store *s = (struct cr_store *)1;
    struct cr_error err;
    CHECK_EQ_INT(cr_store_open("file://relative/dir", &s, &err), CR_ERR_INVALID);
    CHECK(s == NULL);
    CHECK_MSG(strstr(err.message, "absolute path") != NULL, "relative path: says why");
    CHECK_EQ_INT(cr_store_open("ftp://host/dir", &s, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "unknown store URL scheme") != NULL, "unknown scheme: says so");
    CHECK_EQ_INT(cr_store_open("/just/a/path", &s, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "file:///abs/dir") != NULL, "no scheme: shows the forms");
    CHECK_EQ_INT(cr_store_open("file:///tmp/x?y=1", &s, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_store_open("file:///tmp/x%zz", &s, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_store_open("file:///tmp/x%00y", &s, &err), CR_ERR_INVALID);
    /* s3:// URLs are checked before any AWS set-up (never a request here). */
    static const char *const bad_s3[] = {
        "s3://",          "s3://ab",          "s3://Bad_Bucket",  "s3://-bucket",
        "s3://a..b",      "s3://bucket/../x", "s3://bucket/a//b", "s3://bucket/a?b=1",
        "s3://bucket/a b"};
    for (size_t i = 0; i < sizeof(bad_s3) / sizeof(bad_s3[0]); i++) {
        CHECK_EQ_INT(cr_store_open(bad_s3[i], &s, &err), CR_ERR_INVALID);
        CHECK_MSG(strstr(err.message, "s3://") != NULL, bad_s3[i]);
    }
    CHECK_EQ_INT(cr_store_open(NULL, &s, &err), CR_ERR_INVALID);

    char path[512], url[600];
    snprintf(path, sizeof(path), "%s/plainfile", root);
    FILE *f = fopen(path, "w");
    if (f)
        fclose(f);
    snprintf(url, sizeof(url), "file://%s", path);
    CHECK_EQ_INT(cr_store_open(url, &s, &err), CR_ERR_IO);
    CHECK_MSG(strstr(err.message, "not a directory") != NULL, "a file is not a store directory");
    cr_store_free(NULL);
}

static void test_open_creates_dirs(void)
{
    struct cr_store *s = open_store("a/b/c/");
    CHECK_MSG(s != NULL, "open creates missing parents (mkdir -p)");
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/a/b/c", root);
    CHECK(exists(dir));
    cr_store_free(s);
    s = open_store("a/b/c");
    CHECK_MSG(s != NULL, "opening an existing directory works");
    cr_store_free(s);
    char url[600];
    snprintf(url, sizeof(url), "file://%s/sp%%20ace", root);
    CHECK_EQ_INT(cr_store_open(url, &s, NULL), CR_OK);
    snprintf(dir, sizeof(dir), "%s/sp ace", root);
    CHECK_MSG(exists(dir), "the path is percent-decoded");
    cr_store_free(s);
}

static void test_unsafe_keys_refused(struct cr_store *s)
{
    const char *bad[] = {"../x", "/etc/passwd", "a/b", ".hidden", "", "a\nb", "ctl\x7f"};
    char long_key[301];
    memset(long_key, 'k', 300);
    long_key[300] = '\0';
    struct cr_buf out = {0};
    struct cr_error err;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK_EQ_INT(cr_store_put(s, bad[i], "x", 1, &err), CR_ERR_INVALID);
        CHECK_EQ_INT(cr_store_get(s, bad[i], 0, &out, NULL), CR_ERR_INVALID);
        CHECK_EQ_INT(cr_store_delete(s, bad[i], NULL), CR_ERR_INVALID);
    }
    CHECK_MSG(strstr(err.message, "unsafe object key") != NULL, "the message names the problem");
    CHECK_EQ_INT(cr_store_put(s, long_key, "x", 1, NULL), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_store_put(s, NULL, "x", 1, NULL), CR_ERR_INVALID);
    char escaped[512];
    snprintf(escaped, sizeof(escaped), "%s/x", root);
    CHECK_MSG(!exists(escaped), "\"../x\" wrote nothing outside the store");
    CHECK(out.len == 0);
    cr_buf_free(&out);
}

static void test_round_trip(struct cr_store *s)
{
    unsigned char bytes[1024];
    for (size_t i = 0; i < sizeof(bytes); i++)
        bytes[i] = (unsigned char)(i * 7 + 3); /* every byte value, NULs included */
    struct cr_error err;
    CHECK_EQ_INT(cr_store_put(s, "bin.dat", bytes, sizeof(bytes), &err), CR_OK);
    struct cr_buf out = {0};
    CHECK_EQ_INT(cr_store_get(s, "bin.dat", 0, &out, &err), CR_OK);
    CHECK_MSG(out.len == sizeof(bytes) && memcmp(out.data, bytes, sizeof(bytes)) == 0,
              "binary bytes come back unchanged");
    cr_buf_reset(&out);
    CHECK_EQ_INT(cr_store_get(s, "bin.dat", 100, &out, &err), CR_ERR_TOO_LARGE);

    CHECK_EQ_INT(cr_store_put(s, "empty", NULL, 0, &err), CR_OK);
    cr_buf_reset(&out);
    CHECK_EQ_INT(cr_store_get(s, "empty", 0, &out, &err), CR_OK);
    CHECK_EQ_INT(out.len, 0);

    char max_key[256];
    memset(max_key, 'm', 255);
    max_key[255] = '\0';
    CHECK_EQ_INT(cr_store_put(s, max_key, "long", 4, &err), CR_OK);
    cr_buf_reset(&out);
    CHECK_EQ_INT(cr_store_get(s, max_key, 0, &out, &err), CR_OK);
    CHECK_EQ_STR((char *)out.data, "long");

    CHECK_EQ_INT(cr_store_delete(s, "bin.dat", &err), CR_OK);
    cr_buf_reset(&out);
    CHECK_EQ_INT(cr_store_get(s, "bin.dat", 0, &out, &err), CR_ERR_NOT_FOUND);
    CHECK_MSG(strstr(err.message, "bin.dat") != NULL, "NOT_FOUND names the key");
    CHECK_EQ_INT(cr_store_delete(s, "bin.dat", &err), CR_OK);
    CHECK_EQ_INT(cr_store_get(s, "never-stored", 0, &out, &err), CR_ERR_NOT_FOUND);
    cr_buf_free(&out);
}

/* Only object files (no temporaries) are left in the store directory. */
static int count_entries(const char *dir, int *dot_files)
{
    DIR *d = opendir(dir);
    int n = 0;
    *dot_files = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        if (e->d_name[0] == '.')
            ++*dot_files;
        n++;
    }
    if (d)
        closedir(d);
    return n;
}

/* A writer process alternates two versions of one object; every read here
 * must see one whole version. */
static void test_atomic_overwrite(void)
{
    struct cr_store *s = open_store("atomic");
    enum { A_LEN = 200000, B_LEN = 50000, PUTS = 60 };
    char *a = malloc(A_LEN), *b = malloc(B_LEN);
    memset(a, 'a', A_LEN);
    memset(b, 'b', B_LEN);
    CHECK_EQ_INT(cr_store_put(s, "obj", b, B_LEN, NULL), CR_OK);
    pid_t pid = fork();
    if (pid == 0) {
        struct cr_store *w = open_store("atomic");
        int bad = 0;
        for (int i = 0; i < PUTS && w; i++)
            bad |= cr_store_put(w, "obj", i % 2 ? b : a, i % 2 ? B_LEN : A_LEN, NULL) != CR_OK;
        int failed = bad || !w;
        cr_store_free(w); /* free everything, so leak checkers see a clean child */
        cr_store_free(s);
        free(a);
        free(b);
        _exit(failed);
    }
    int reads = 0, torn = 0, status = 0;
    struct cr_buf out = {0};
    while (waitpid(pid, &status, WNOHANG) == 0 || reads < 10) {
        cr_buf_reset(&out);
        if (cr_store_get(s, "obj", 0, &out, NULL) != CR_OK) {
            torn++;
            continue;
        }
        int whole_a = out.len == A_LEN && memcmp(out.data, a, A_LEN) == 0;
        int whole_b = out.len == B_LEN && memcmp(out.data, b, B_LEN) == 0;
        torn += !(whole_a || whole_b);
        reads++;
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer process succeeded");
    CHECK_MSG(torn == 0, "every read saw a whole old or new version");
    DIAG("%d reads during %d overwrites", reads, PUTS);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/atomic", root);
    int dots = 0;
    CHECK_EQ_INT(count_entries(dir, &dots), 1);
    CHECK_MSG(dots == 0, "no temporary file is left behind");
    cr_buf_free(&out);
    cr_store_free(s);
    free(a);
    free(b);
}

/* Puts key in s and dates its last write age_s seconds before now_ms. */
static void put_aged(struct cr_store *s, const char *sub, const char *key, long age_s,
                     int64_t now_ms)
{
    CHECK_EQ_INT(cr_store_put(s, key, "x", 1, NULL), CR_OK);
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s", root, sub, key);
    int64_t t = now_ms - (int64_t)age_s * 1000;
    struct timespec ts[2] = {{.tv_sec = t / 1000, .tv_nsec = (t % 1000) * 1000000L},
                             {.tv_sec = t / 1000, .tv_nsec = (t % 1000) * 1000000L}};
    CHECK_EQ_INT(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static int in_store(const char *sub, const char *key)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s/%s", root, sub, key);
    return exists(path);
}

/* Answered uploads go after keep_inputs_s, unanswered ones only after
 * keep_outputs_s; results go after keep_outputs_s. */
static void test_retention(void)
{
    struct cr_store *in = open_store("ret-in"), *out = open_store("ret-out");
    int64_t now = cr_time_wall_ms();
    char id[4][CR_UUID_STR_LEN + 8], res[4][CR_UUID_STR_LEN + 8];
    for (int i = 0; i < 4; i++) {
        cr_uuid_v4(id[i]);
        cr_result_key(id[i], res[i], sizeof(res[i]));
        strcat(id[i], i % 2 ? ".png" : ".jpg"); /* input keys as the web tier makes them */
    }
    put_aged(in, "ret-in", id[0], 2 * 3600, now);  /* answered, past 1 h: goes */
    put_aged(in, "ret-in", id[1], 2 * 3600, now);  /* unanswered (backlog): stays */
    put_aged(in, "ret-in", id[2], 600, now);       /* answered, recent: stays */
    put_aged(in, "ret-in", id[3], 25 * 3600, now); /* unanswered past 24 h: goes */
    put_aged(out, "ret-out", res[0], 2 * 3600, now);
    put_aged(out, "ret-out", res[2], 600, now);
    put_aged(out, "ret-out", "test_0", 25 * 3600, now); /* past 24 h: goes */
    put_aged(out, "ret-out", "test_1", 3600, now);
    struct cr__retention r = {.keep_inputs_s = 3600, .keep_outputs_s = 86400};
    struct cr__retention_stats st = {0, 0};
    struct cr_error err = {0};
    CHECK_EQ_INT(cr__retention_sweep(in, out, &r, now, &st, &err), CR_OK);
    CHECK_EQ_INT(st.inputs_removed, 2);
    CHECK_EQ_INT(st.outputs_removed, 1);
    CHECK(!in_store("ret-in", id[0]) && in_store("ret-in", id[1]));
    CHECK(in_store("ret-in", id[2]) && !in_store("ret-in", id[3]));
    CHECK(in_store("ret-out", res[0]) && in_store("ret-out", res[2]));
    CHECK(!in_store("ret-out", "test_0") && in_store("ret-out", "test_1"));
    /* Negative ages keep everything. */
    struct cr__retention keep = {.keep_inputs_s = -1, .keep_outputs_s = -1};
    CHECK_EQ_INT(cr__retention_sweep(in, out, &keep, now + 86400000LL * 365, &st, &err), CR_OK);
    CHECK_EQ_INT(st.inputs_removed + st.outputs_removed, 0);
    cr_store_free(in);
    cr_store_free(out);
}

int main(void)
{
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return 1;
    }
    test_key_safety();
    test_urls();
    test_open_creates_dirs();
    struct cr_store *s = open_store("objects");
    CHECK(s != NULL);
    if (s) {
        test_unsafe_keys_refused(s);
        test_round_trip(s);
    }
    cr_store_free(s);
    test_atomic_overwrite();
    test_retention();

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
    if (system(cmd) != 0)
        DIAG("could not remove %s", root);
    return tap_done();
}
