/*
 * aws_settings.c - cr_aws_open_settings: the options of cr_aws_open given as
 * "name=value" strings, for bindings (the Python package) that would
 * otherwise have to mirror struct cr_aws_options field by field.
 */
#include "cloudrec/aws.h"
#include "core/settings.h"

#include <stddef.h>

#define AWS_SETTING(f, t)                                                                         \
    {.name = #f, .type = t, .offset = offsetof(struct cr_aws_options, f),                         \
     .flags = CR__OPT_TYPE_RANGE}

/* Every field of struct cr_aws_options but the callbacks, under its own name. */
static const struct cr__opt aws_settings[] = {
    AWS_SETTING(region, CR__OPT_STR),
    AWS_SETTING(profile, CR__OPT_STR),
    AWS_SETTING(access_key_id, CR__OPT_STR),
    AWS_SETTING(secret_access_key, CR__OPT_STR),
    AWS_SETTING(session_token, CR__OPT_STR),
    AWS_SETTING(endpoint_url, CR__OPT_STR),
    AWS_SETTING(s3_path_style, CR__OPT_INT),
    AWS_SETTING(imds_endpoint, CR__OPT_STR),
    AWS_SETTING(imds_disabled, CR__OPT_INT),
    AWS_SETTING(imds_token_ttl_s, CR__OPT_INT),
    AWS_SETTING(credentials_refresh_margin_s, CR__OPT_INT),
    AWS_SETTING(connect_timeout_ms, CR__OPT_LONG),
    AWS_SETTING(timeout_ms, CR__OPT_LONG),
    AWS_SETTING(max_attempts, CR__OPT_INT),
    AWS_SETTING(base_backoff_ms, CR__OPT_LONG),
    AWS_SETTING(max_backoff_ms, CR__OPT_LONG),
    AWS_SETTING(max_response_bytes, CR__OPT_SIZE),
};

cr_status cr_aws_open_settings(const char *const *settings, struct cr_aws **out,
                               struct cr_error *err)
{
    struct cr_aws_options opts = {0};
    cr_status st = cr__settings_apply(aws_settings, CR__ARRAY_LEN(aws_settings), &opts, settings,
                                      err);
    return st != CR_OK ? st : cr_aws_open(&opts, out, err);
}
