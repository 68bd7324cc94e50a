/*
 * test_settings.c - "name=value" settings: the table-driven parser
 * (core/settings.c) and the two calls built on it that the Python binding
 * uses instead of mirroring C structs, cr_aws_open_settings and
 * cr_classifier_open_settings.
 */
#include "cloudrec.h"
#include "aws/aws_internal.h"
#include "core/settings.h"
#include "tap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sample {
    const char *text;
    int i;
    long l;
    size_t z;
    uint64_t u;
};

#define SAMPLE(n, f, t)                                                                           \
    {.name = n, .type = t, .offset = offsetof(struct sample, f), .flags = CR__OPT_TYPE_RANGE}

static const struct cr__opt sample_table[] = {
    SAMPLE("text", text, CR__OPT_STR), SAMPLE("i", i, CR__OPT_INT),
    SAMPLE("l", l, CR__OPT_LONG),      SAMPLE("z", z, CR__OPT_SIZE),
    SAMPLE("u", u, CR__OPT_U64),
};

static cr_status apply(struct sample *s, const char *const *settings, struct cr_error *err)
{
    memset(s, 0, sizeof(*s));
    cr_error_clear(err);
    return cr__settings_apply(sample_table, sizeof(sample_table) / sizeof(sample_table[0]), s,
                              settings, err);
}

static void test_apply(void)
{
    struct sample s;
    struct cr_error err;
    const char *const all[] = {"text=a=b", "i=-2147483648", "l=-5", "z=16777216",
                               "u=18446744073709551615", "i=7", NULL};
    CHECK_EQ_INT(apply(&s, all, &err), CR_OK);
    CHECK_EQ_STR(s.text, "a=b"); /* split at the first '=' */
    CHECK_EQ_INT(s.i, 7);        /* the last value wins */
    CHECK_EQ_INT(s.l, -5);
    CHECK(s.z == 16777216);
    CHECK(s.u == UINT64_MAX);
    CHECK_EQ_INT(apply(&s, NULL, &err), CR_OK);

    const char *const empty_text[] = {"text=", NULL};
    CHECK_EQ_INT(apply(&s, empty_text, &err), CR_OK);
    CHECK_EQ_STR(s.text, "");

    static const char *const bad[][2] = {
        {"text", "is not name=value"},      {"colour=red", "unknown setting \"colour\""},
        {"i=2147483648", "setting i"},      {"i=12x", "setting i"},
        {"i=", "setting i"},                {"i= 1", "setting i"},
        {"z=-1", "setting z"},              {"u=+1", "setting u"},
        {"l=99999999999999999999", "setting l"},
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        const char *const one[] = {bad[k][0], NULL};
        CHECK_EQ_INT(apply(&s, one, &err), CR_ERR_INVALID);
        CHECK_MSG(strstr(err.message, bad[k][1]) != NULL, bad[k][0]);
    }
}

static void test_aws(void)
{
    /* Nothing from the environment or a profile: only what is given. */
    setenv("HOME", "/nonexistent", 1);
    unsetenv("AWS_REGION");
    unsetenv("AWS_DEFAULT_REGION");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("AWS_ENDPOINT_URL_S3");
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    const char *const settings[] = {"region=eu-west-1", "access_key_id=AKIDEXAMPLE",
                                    "secret_access_key=secret", "endpoint_url=http://127.0.0.1:9",
                                    "timeout_ms=2500", "max_attempts=1", NULL};
    CHECK_EQ_INT(cr_aws_open_settings(settings, &aws, &err), CR_OK);
    CHECK_EQ_STR(cr_aws_region(aws), "eu-west-1");
    CHECK_EQ_STR(cr_aws_credentials_source(aws), "explicit");
    struct cr_buf url;
    cr_buf_init(&url, 0);
    CHECK_EQ_INT(cr__aws_endpoint_url(aws, "s3", &url, &err), CR_OK);
    CHECK_EQ_STR((const char *)url.data, "http://127.0.0.1:9");
    cr_buf_clear(&url);
    cr_aws_free(aws);

    aws = NULL;
    const char *const bad[] = {"region=eu-west-1", "timeout_ms=soon", NULL};
    CHECK_EQ_INT(cr_aws_open_settings(bad, &aws, &err), CR_ERR_INVALID);
    CHECK(strstr(err.message, "timeout_ms") != NULL);
    CHECK(aws == NULL);
    const char *const callback[] = {"sleep_fn=0", NULL};
    CHECK_EQ_INT(cr_aws_open_settings(callback, &aws, &err), CR_ERR_INVALID);
    CHECK(strstr(err.message, "sleep_fn") != NULL);
    /* cr_aws_open's own checks still apply: no region anywhere. */
    CHECK_EQ_INT(cr_aws_open_settings(NULL, &aws, &err), CR_ERR_INVALID);
    CHECK(aws == NULL);
}

static void test_classifier(void)
{
    struct cr_model_paths paths;
    struct cr_error err = {0};
    if (cr_model_resolve(NULL, &paths, &err) != CR_OK) {
        DIAG("no model (%s): classifier settings not checked", err.message);
        return;
    }
    struct cr_classifier *cl = NULL;
    const char *const native[] = {"engine=native", "threads=1", "max_bytes=1048576", NULL};
    CHECK_EQ_INT(cr_classifier_open_settings(native, &cl, &err), CR_OK);
    CHECK_EQ_INT(cr_classifier_engine(cl), CR_ENGINE_NATIVE);
    CHECK_EQ_INT(cr_classifier_num_classes(cl), 1000);
    /* The limit was applied: a body over max_bytes is refused unread. */
    static unsigned char big[1048577];
    struct cr_prediction p;
    size_t n = 0;
    CHECK_EQ_INT(cr_classify_bytes(cl, big, sizeof(big), &p, 1, &n, &err), CR_ERR_TOO_LARGE);
    cr_classifier_free(cl);

    /* All three files named: model_dir is not looked at. */
    char cfg[4200], weights[4200], names[4200];
    snprintf(cfg, sizeof(cfg), "cfg=%s", paths.cfg);
    snprintf(weights, sizeof(weights), "weights=%s", paths.weights);
    snprintf(names, sizeof(names), "names=%s", paths.names);
    const char *const files[] = {"model_dir=/nonexistent", cfg, weights, names, NULL};
    cl = NULL;
    CHECK_EQ_INT(cr_classifier_open_settings(files, &cl, &err), CR_OK);
    cr_classifier_free(cl);

    cl = NULL;
    const char *const missing[] = {"model_dir=/nonexistent", NULL};
    CHECK_EQ_INT(cr_classifier_open_settings(missing, &cl, &err), CR_ERR_NOT_FOUND);
    CHECK(strstr(err.message, "/nonexistent") != NULL);
    const char *const engine[] = {"engine=fast", NULL};
    CHECK_EQ_INT(cr_classifier_open_settings(engine, &cl, &err), CR_ERR_INVALID);
    CHECK(strstr(err.message, "engine") != NULL && strstr(err.message, "fast") != NULL);
    CHECK(cl == NULL);
}

int main(void)
{
    test_apply();
    test_aws();
    test_classifier();
    return tap_done();
}
