/*
 * test_aws_config.c - the AWS configuration chain (environment, profile
 * files, region), endpoint resolution, XML error answers and their mapping,
 * the retry rules and the backoff schedule, the IMDS credentials document,
 * and the SQS batch answer parser. No network: the transport itself is exercised by the pytest
 * integration tests (tests/integration/test_aws_transport.py).
 */
#include "aws/aws_internal.h"
#include "aws/svc.h"
#include "aws/xml.h"
#include "cloudrec.h"
#include "tap.h"
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_home[256];

/* Every variable the chain reads, so each case starts from nothing. */
static void clear_env(void)
{
    static const char *const vars[] = {
        "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
        "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE",
        "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_EC2",
        "AWS_EC2_METADATA_DISABLED", "AWS_EC2_METADATA_SERVICE_ENDPOINT"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("HOME", g_home, 1);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(1);
    }
    fputs(text, f);
    fclose(f);
}

static char *home_path(const char *leaf)
{
    static char path[512];
    snprintf(path, sizeof(path), "%s/%s", g_home, leaf);
    return path;
}

/* Home directory with ~/.aws/credentials and ~/.aws/config. */
static void make_home(void)
{
    snprintf(g_home, sizeof(g_home), "/tmp/cr_aws_test_XXXXXX");
    if (!mkdtemp(g_home)) {
        perror("mkdtemp");
        exit(1);
    }
    mkdir(home_path(".aws"), 0700);
    write_file(home_path(".aws/credentials"),
               "# shared credentials\n"
               "[default]\n"
               "aws_access_key_id = AKIDDEFAULT\n"
               "aws_secret_access_key = secretDEFAULT\n"
               "\n"
               "; another comment\n"
               "[dev]\r\n"
               "aws_access_key_id=AKIDDEV\r\n"
               "aws_secret_access_key =  secretDEV  \r\n"
               "aws_session_token = tokenDEV\r\n"
               "[half]\n"
               "aws_access_key_id = AKIDHALF\n"
               "[nokeys]\n"
               "output = json\n");
    write_file(home_path(".aws/config"),
               "[default]\n"
               "region = us-west-2\n"
               "s3 =\n"
               "  region = nested-must-be-ignored\n"
               "[dev]\n"
               "region = wrong-section-without-profile-prefix\n"
               "[profile dev]\n"
               "region: ap-south-1\n"
               "[profile cfgonly]\n"
               "aws_access_key_id = AKIDCFG\n"
               "aws_secret_access_key = secretCFG\n"
               "region = eu-north-1\n"
               "[profile nokeys]\n"
               "region = ca-central-1\n");
}

static void test_env_credentials(void)
{
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretENV", 1);
    setenv("AWS_SESSION_TOKEN", "tokenENV", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    struct cr__aws_resolved r;
    struct cr_error err;
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "environment");
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDENV");
    CHECK_EQ_STR(r.creds.secret_access_key, "secretENV");
    CHECK_EQ_STR(r.creds.session_token, "tokenENV");
    CHECK_EQ_STR(r.region, "eu-west-1");
    cr__aws_resolved_wipe(&r);
    CHECK_MSG(r.creds.access_key_id == NULL && r.creds.secret_access_key == NULL,
              "wiping leaves no credentials behind");

    /* Explicit keys come before the environment. */
    struct cr_aws_options o = {.access_key_id = "AKIDX", .secret_access_key = "secretX"};
    CHECK_EQ_INT(cr__aws_resolve(&o, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "explicit");
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDX");
    CHECK_MSG(r.creds.session_token == NULL, "explicit keys without a token carry none");
    cr__aws_resolved_wipe(&r);

    /* One key without the other is a mistake worth reporting. */
    unsetenv("AWS_ACCESS_KEY_ID");
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_ERR_AUTH);
    CHECK_MSG(strstr(err.message, "environment") != NULL, "partial env keys: message names it");
    CHECK_MSG(strstr(err.message, "secretENV") == NULL, "the secret is not in the message");
    cr__aws_resolved_wipe(&r);
    struct cr_aws_options half = {.access_key_id = "AKIDX"};
    CHECK_EQ_INT(cr__aws_resolve(&half, &r, &err), CR_ERR_AUTH);
    cr__aws_resolved_wipe(&r);
}

static void test_profiles(void)
{
    struct cr__aws_resolved r;
    struct cr_error err;
    clear_env();
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "profile:default");
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDDEFAULT");
    CHECK_EQ_STR(r.creds.secret_access_key, "secretDEFAULT");
    CHECK_EQ_STR(r.region, "us-west-2");
    CHECK_EQ_STR(r.profile, "default");
    cr__aws_resolved_wipe(&r);

    setenv("AWS_PROFILE", "dev", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "profile:dev");
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDDEV");
    CHECK_EQ_STR(r.creds.secret_access_key, "secretDEV");
    CHECK_EQ_STR(r.creds.session_token, "tokenDEV");
    CHECK_EQ_STR(r.region, "ap-south-1"); /* from [profile dev], not [dev] */
    cr__aws_resolved_wipe(&r);

    /* Environment keys win over AWS_PROFILE ... */
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretENV", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "environment");
    CHECK_EQ_STR(r.region, "ap-south-1");
    cr__aws_resolved_wipe(&r);
    /* ... but a profile named in the options wins over them. */
    struct cr_aws_options o = {.profile = "cfgonly"};
    CHECK_EQ_INT(cr__aws_resolve(&o, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.source, "profile:cfgonly");
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDCFG"); /* keys in the config file work */
    CHECK_EQ_STR(r.region, "eu-north-1");
    cr__aws_resolved_wipe(&r);
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");

    setenv("AWS_PROFILE", "missing", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_ERR_AUTH);
    CHECK_MSG(strstr(err.message, "'missing' not found") != NULL, "a missing profile is named");
    cr__aws_resolved_wipe(&r);
    setenv("AWS_PROFILE", "half", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_ERR_AUTH);
    cr__aws_resolved_wipe(&r);
    setenv("AWS_PROFILE", "nokeys", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_ERR_AUTH);
    CHECK_MSG(strstr(err.message, "not supported") != NULL, "a keyless named profile says why");
    cr__aws_resolved_wipe(&r);
}

static void test_profile_files_from_env(void)
{
    struct cr__aws_resolved r;
    struct cr_error err;
    clear_env();
    write_file(home_path("other-credentials"), "[default]\naws_access_key_id = AKIDOTHER\n"
                                               "aws_secret_access_key = secretOTHER\n");
    write_file(home_path("other-config"), "[profile x]\nregion = sa-east-1\n"
                                          "[default]\nregion = af-south-1\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", home_path("other-credentials"), 1);
    setenv("AWS_CONFIG_FILE", home_path("other-config"), 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.creds.access_key_id, "AKIDOTHER");
    CHECK_EQ_STR(r.region, "af-south-1");
    cr__aws_resolved_wipe(&r);

    /* "~/" in the variables means the home directory. */
    setenv("AWS_SHARED_CREDENTIALS_FILE", "~/other-credentials", 1);
    setenv("AWS_CONFIG_FILE", "~/other-config", 1);
    setenv("AWS_PROFILE", "x", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_ERR_AUTH); /* x has no keys */
    cr__aws_resolved_wipe(&r);
    struct cr_aws_options o = {.access_key_id = "A", .secret_access_key = "B"};
    CHECK_EQ_INT(cr__aws_resolve(&o, &r, &err), CR_OK);
    CHECK_EQ_STR(r.region, "sa-east-1");
    cr__aws_resolved_wipe(&r);

    /* Missing files are no error: the chain goes on (to IMDS). */
    setenv("AWS_SHARED_CREDENTIALS_FILE", home_path("does-not-exist"), 1);
    setenv("AWS_CONFIG_FILE", home_path("does-not-exist-either"), 1);
    unsetenv("AWS_PROFILE");
    setenv("AWS_REGION", "us-east-2", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_MSG(r.creds.access_key_id == NULL, "no files, no env: no static credentials");
    CHECK_MSG(r.imds_enabled, "instance metadata is on by default");
    CHECK_EQ_STR(r.imds_endpoint, "http://169.254.169.254");
    cr__aws_resolved_wipe(&r);
}

static void test_profile_parser(void)
{
    const char *text = "[default]\naws_access_key_id = A1\n"
                       "[profile p]\n  aws_access_key_id = nested\nregion=r1\n"
                       "[p]\nregion = r2\n"
                       "[profile   p  ]\naws_secret_access_key = S1\n";
    struct cr__aws_profile p = {0};
    CHECK_EQ_INT(cr__aws_profile_parse(text, strlen(text), 1, "p", &p), CR_OK);
    CHECK(p.found);
    CHECK_EQ_STR(p.region, "r1");
    CHECK_EQ_STR(p.secret_access_key, "S1");
    CHECK_MSG(p.access_key_id == NULL, "indented lines are not settings of the profile");
    cr__aws_profile_wipe(&p);
    CHECK_EQ_INT(cr__aws_profile_parse(text, strlen(text), 0, "p", &p), CR_OK);
    CHECK_EQ_STR(p.region, "r2"); /* credentials-file style: [p] is the profile */
    cr__aws_profile_wipe(&p);
    CHECK_EQ_INT(cr__aws_profile_parse(text, strlen(text), 1, "q", &p), CR_OK);
    CHECK(!p.found);
    cr__aws_profile_wipe(&p);
    const char *pd = "[profile default]\nregion = r9\n";
    CHECK_EQ_INT(cr__aws_profile_parse(pd, strlen(pd), 1, "default", &p), CR_OK);
    CHECK_EQ_STR(p.region, "r9");
    cr__aws_profile_wipe(&p);
}

static void test_region(void)
{
    struct cr__aws_resolved r;
    struct cr_error err;
    struct cr_aws_options keys = {.access_key_id = "A", .secret_access_key = "B"};
    clear_env();
    CHECK_EQ_INT(cr__aws_resolve(&keys, &r, &err), CR_OK);
    CHECK_EQ_STR(r.region, "us-west-2"); /* the config file */
    cr__aws_resolved_wipe(&r);
    setenv("AWS_DEFAULT_REGION", "eu-central-1", 1);
    CHECK_EQ_INT(cr__aws_resolve(&keys, &r, &err), CR_OK);
    CHECK_EQ_STR(r.region, "eu-central-1");
    cr__aws_resolved_wipe(&r);
    setenv("AWS_REGION", "eu-west-3", 1);
    CHECK_EQ_INT(cr__aws_resolve(&keys, &r, &err), CR_OK);
    CHECK_EQ_STR(r.region, "eu-west-3");
    cr__aws_resolved_wipe(&r);
    struct cr_aws_options o = keys;
    o.region = "ap-northeast-1";
    CHECK_EQ_INT(cr__aws_resolve(&o, &r, &err), CR_OK);
    CHECK_EQ_STR(r.region, "ap-northeast-1");
    cr__aws_resolved_wipe(&r);
    o.region = "evil.example.com/";
    CHECK_EQ_INT(cr__aws_resolve(&o, &r, &err), CR_ERR_INVALID);
    cr__aws_resolved_wipe(&r);

    clear_env();
    setenv("AWS_CONFIG_FILE", home_path("does-not-exist"), 1);
    CHECK_EQ_INT(cr__aws_resolve(&keys, &r, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "no AWS region") != NULL, "no region is reported");
    cr__aws_resolved_wipe(&r);
}

static void test_open(void)
{
    struct cr_aws *aws = NULL;
    struct cr_error err;
    clear_env();
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretENV", 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    CHECK_EQ_INT(cr_aws_open(NULL, &aws, &err), CR_OK);
    CHECK_EQ_STR(cr_aws_region(aws), "eu-west-1");
    CHECK_EQ_STR(cr_aws_credentials_source(aws), "environment");
    CHECK_EQ_INT(cr_aws_resolve_credentials(aws, &err), CR_OK);
    struct cr_buf b;
    cr_buf_init(&b, 0);
    CHECK_EQ_INT(cr_aws_endpoint(aws, "sqs", &b, &err), CR_OK);
    CHECK_EQ_STR((char *)b.data, "https://sqs.eu-west-1.amazonaws.com");
    cr_buf_free(&b);
    cr_aws_free(aws);
    cr_aws_free(NULL);

    /* No static credentials: instance metadata is the source, not asked yet. */
    clear_env();
    setenv("AWS_SHARED_CREDENTIALS_FILE", home_path("does-not-exist"), 1);
    setenv("AWS_REGION", "eu-west-1", 1);
    CHECK_EQ_INT(cr_aws_open(NULL, &aws, &err), CR_OK);
    CHECK_EQ_STR(cr_aws_credentials_source(aws), "imds");
    cr_aws_free(aws);
    setenv("AWS_EC2_METADATA_DISABLED", "TRUE", 1);
    CHECK_EQ_INT(cr_aws_open(NULL, &aws, &err), CR_ERR_AUTH);
    CHECK(aws == NULL);
    unsetenv("AWS_EC2_METADATA_DISABLED");
    struct cr_aws_options o = {.imds_disabled = 1};
    CHECK_EQ_INT(cr_aws_open(&o, &aws, &err), CR_ERR_AUTH);

    struct cr_aws_options bad = {.max_attempts = -1};
    CHECK_EQ_INT(cr_aws_open(&bad, &aws, &err), CR_ERR_INVALID);
    struct cr_aws_options bad_ep = {.endpoint_url = "ftp://x"};
    CHECK_EQ_INT(cr_aws_open(&bad_ep, &aws, &err), CR_ERR_INVALID);

    struct cr__aws_resolved r;
    setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:9/", 1);
    CHECK_EQ_INT(cr__aws_resolve(NULL, &r, &err), CR_OK);
    CHECK_EQ_STR(r.imds_endpoint, "http://127.0.0.1:9");
    cr__aws_resolved_wipe(&r);
}

/* Resolves and composes in one go; returns the URL (static storage). */
static const char *url_for(const char *service, const char *option, int force_path,
                           const char *bucket, const char *path, const char *query,
                           char host_out[256])
{
    static char url_out[1024];
    struct cr__aws_endpoint ep;
    struct cr_buf url, host, wire;
    cr_buf_init(&url, 0);
    cr_buf_init(&host, 0);
    cr_buf_init(&wire, 0);
    url_out[0] = host_out[0] = '\0';
    if (cr__aws_endpoint_resolve(service, "us-east-1", option, &ep, NULL) == CR_OK &&
        cr__aws_compose_url(&ep, force_path, bucket, path, query, &url, &host, &wire) ==
            CR_OK) {
        snprintf(url_out, sizeof(url_out), "%s", (char *)url.data);
        snprintf(host_out, 256, "%s", (char *)host.data);
    }
    cr_buf_free(&url);
    cr_buf_free(&host);
    cr_buf_free(&wire);
    return url_out;
}

static void test_endpoints(void)
{
    char host[256];
    struct cr__aws_endpoint ep;
    struct cr_error err;
    clear_env();
    CHECK_EQ_STR(url_for("sqs", NULL, 1, NULL, "/", NULL, host), "https://sqs.us-east-1.amazonaws.com/");
    CHECK_EQ_STR(url_for("ec2", NULL, 1, NULL, NULL, NULL, host), "https://ec2.us-east-1.amazonaws.com/");
    CHECK_EQ_STR(url_for("s3", NULL, 0, "inputs", "/test_0.JPEG", NULL, host),
                 "https://inputs.s3.us-east-1.amazonaws.com/test_0.JPEG");
    CHECK_EQ_STR(host, "inputs.s3.us-east-1.amazonaws.com");
    CHECK_EQ_STR(url_for("s3", NULL, 0, "inputs", NULL, "list-type=2", host),
                 "https://inputs.s3.us-east-1.amazonaws.com/?list-type=2");
    CHECK_EQ_STR(url_for("s3", NULL, 1, "inputs", "/k", NULL, host),
                 "https://s3.us-east-1.amazonaws.com/inputs/k");
    CHECK_EQ_STR(url_for("s3", NULL, 0, "my.dotted.bucket", "/k", NULL, host),
                 "https://s3.us-east-1.amazonaws.com/my.dotted.bucket/k");
    CHECK_EQ_STR(url_for("s3", NULL, 0, NULL, NULL, NULL, host), "https://s3.us-east-1.amazonaws.com/");
    CHECK_EQ_INT(cr__aws_endpoint_resolve("s3", "cn-north-1", NULL, &ep, &err), CR_OK);
    CHECK_EQ_STR(ep.base, "https://s3.cn-north-1.amazonaws.com.cn");
    CHECK(!ep.custom);

    /* A custom endpoint: path-style, port kept in Host, trailing '/' dropped. */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:5000/", 1);
    CHECK_EQ_STR(url_for("s3", NULL, 0, "inputs", "/a%20b.jpg", NULL, host),
                 "http://127.0.0.1:5000/inputs/a%20b.jpg");
    CHECK_EQ_STR(host, "127.0.0.1:5000");
    CHECK_EQ_STR(url_for("s3", NULL, 0, "inputs", NULL, NULL, host), "http://127.0.0.1:5000/inputs");
    CHECK_EQ_STR(url_for("sqs", NULL, 0, NULL, "/", NULL, host), "http://127.0.0.1:5000/");
    setenv("AWS_ENDPOINT_URL_S3", "http://localhost:9000/prefix", 1);
    CHECK_EQ_STR(url_for("s3", NULL, 0, "b", "/k", NULL, host), "http://localhost:9000/prefix/b/k");
    CHECK_EQ_STR(url_for("sqs", NULL, 0, NULL, "/", NULL, host), "http://127.0.0.1:5000/");
    setenv("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5001", 1);
    setenv("AWS_ENDPOINT_URL_EC2", "http://127.0.0.1:5002", 1);
    CHECK_EQ_STR(url_for("sqs", NULL, 0, NULL, "/", NULL, host), "http://127.0.0.1:5001/");
    CHECK_EQ_STR(url_for("ec2", NULL, 0, NULL, "/", NULL, host), "http://127.0.0.1:5002/");
    /* The option beats every variable. */
    CHECK_EQ_STR(url_for("s3", "https://minio.local", 0, "b", "/k", NULL, host),
                 "https://minio.local/b/k");
    CHECK_EQ_INT(cr__aws_endpoint_resolve("s3", "us-east-1", "http://u:p@host", &ep, &err),
                 CR_ERR_INVALID);
    CHECK_EQ_INT(cr__aws_endpoint_resolve("s3", "us-east-1", "http://host/?x=1", &ep, &err),
                 CR_ERR_INVALID);
    CHECK_EQ_INT(cr__aws_endpoint_resolve("s3", "us-east-1", "127.0.0.1:5000", &ep, &err),
                 CR_ERR_INVALID);
    CHECK(cr__aws_bucket_virtual_ok("abc-123"));
    CHECK(!cr__aws_bucket_virtual_ok("ab"));
    CHECK(!cr__aws_bucket_virtual_ok("Upper"));
    CHECK(!cr__aws_bucket_virtual_ok("-dash"));
    clear_env();
}

static const char s3_error[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
    "<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>"
    "<Key>test_0.JPEG</Key><RequestId>4442587FB7D0A2F9</RequestId><HostId>h</HostId></Error>";
static const char sqs_error[] =
    "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">"
    "<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
    "<Message>The specified queue does not exist for this wsdl version.</Message><Detail/>"
    "</Error><RequestId>42d59b56-7407-4c4a-be0f-4c88daeea257</RequestId></ErrorResponse>";
static const char ec2_error[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Errors><Error>"
    "<Code>InvalidInstanceID.NotFound</Code>"
    "<Message>The instance ID 'i-1a2b3c4d' does not exist</Message></Error></Errors>"
    "<RequestID>ea966190-f9aa-478e-9ede-example</RequestID></Response>";

static void test_error_parsing(void)
{
    struct cr_error err;
    CHECK_EQ_INT(cr__aws_parse_error(404, s3_error, strlen(s3_error), NULL, &err),
                 CR_ERR_NOT_FOUND);
    CHECK_EQ_STR(err.aws_code, "NoSuchKey");
    CHECK_EQ_STR(err.request_id, "4442587FB7D0A2F9");
    CHECK_EQ_STR(err.message, "NoSuchKey: The specified key does not exist.");
    CHECK_EQ_INT(err.http_status, 404);
    CHECK_EQ_INT(err.status, CR_ERR_NOT_FOUND);

    CHECK_EQ_INT(cr__aws_parse_error(400, sqs_error, strlen(sqs_error), "hdr-id", &err),
                 CR_ERR_NOT_FOUND);
    CHECK_EQ_STR(err.aws_code, "AWS.SimpleQueueService.NonExistentQueue");
    CHECK_EQ_STR(err.request_id, "42d59b56-7407-4c4a-be0f-4c88daeea257");
    CHECK_MSG(strstr(err.message, "does not exist for this wsdl") != NULL, "SQS message kept");

    CHECK_EQ_INT(cr__aws_parse_error(400, ec2_error, strlen(ec2_error), NULL, &err),
                 CR_ERR_NOT_FOUND);
    CHECK_EQ_STR(err.aws_code, "InvalidInstanceID.NotFound");
    CHECK_EQ_STR(err.request_id, "ea966190-f9aa-478e-9ede-example");

    const char *s3ns = "<s3:Error xmlns:s3=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
                       "<s3:Code>SlowDown</s3:Code><s3:Message>Reduce &amp; retry</s3:Message>"
                       "</s3:Error>";
    CHECK_EQ_INT(cr__aws_parse_error(503, s3ns, strlen(s3ns), "rid-from-header", &err),
                 CR_ERR_THROTTLED);
    CHECK_EQ_STR(err.message, "SlowDown: Reduce & retry");
    CHECK_EQ_STR(err.request_id, "rid-from-header");

    /* Bodies without XML fall back on the HTTP status. */
    CHECK_EQ_INT(cr__aws_parse_error(404, "", 0, NULL, &err), CR_ERR_NOT_FOUND);
    CHECK_EQ_STR(err.aws_code, "");
    CHECK_EQ_STR(err.message, "HTTP status 404");
    CHECK_EQ_INT(cr__aws_parse_error(403, NULL, 0, NULL, &err), CR_ERR_AUTH);
    const char *html = "<html><body>Bad Gateway</body>";
    CHECK_EQ_INT(cr__aws_parse_error(502, html, strlen(html), NULL, &err), CR_ERR_AWS);
    CHECK_EQ_INT(cr__aws_parse_error(429, NULL, 0, NULL, &err), CR_ERR_THROTTLED);
    CHECK_EQ_INT(cr__aws_parse_error(500, s3_error, strlen(s3_error), NULL, NULL),
                 CR_ERR_NOT_FOUND);
}

static void test_error_mapping(void)
{
    static const struct {
        const char *code;
        cr_status want;
    } table[] = {
        {"NoSuchKey", CR_ERR_NOT_FOUND},
        {"NoSuchBucket", CR_ERR_NOT_FOUND},
        {"AWS.SimpleQueueService.NonExistentQueue", CR_ERR_NOT_FOUND},
        {"QueueDoesNotExist", CR_ERR_NOT_FOUND},
        {"InvalidInstanceID.NotFound", CR_ERR_NOT_FOUND},
        {"InvalidAMIID.NotFound", CR_ERR_NOT_FOUND},
        {"Throttling", CR_ERR_THROTTLED},
        {"ThrottlingException", CR_ERR_THROTTLED},
        {"RequestLimitExceeded", CR_ERR_THROTTLED},
        {"SlowDown", CR_ERR_THROTTLED},
        {"TooManyRequestsException", CR_ERR_THROTTLED},
        {"SignatureDoesNotMatch", CR_ERR_AUTH},
        {"InvalidClientTokenId", CR_ERR_AUTH},
        {"AccessDenied", CR_ERR_AUTH},
        {"AuthFailure", CR_ERR_AUTH},
        {"InvalidAccessKeyId", CR_ERR_AUTH},
        {"ExpiredToken", CR_ERR_AUTH},
        {"BucketAlreadyOwnedByYou", CR_ERR_EXISTS},
        {"QueueAlreadyExists", CR_ERR_EXISTS},
        {"InvalidParameterValue", CR_ERR_AWS},
        {"InternalError", CR_ERR_AWS},
        {"NotFoundish", CR_ERR_AWS},
    };
    int ok = 1;
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        cr_status got = cr__aws_status_for(400, table[i].code);
        if (got != table[i].want) {
            DIAG("%s -> %s, want %s", table[i].code, cr_status_name(got),
                 cr_status_name(table[i].want));
            ok = 0;
        }
    }
    CHECK_MSG(ok, "every error code in the table maps to its status");
    CHECK_EQ_INT(cr__aws_status_for(200, NULL), CR_OK);
    CHECK_EQ_INT(cr__aws_status_for(404, ""), CR_ERR_NOT_FOUND);
    CHECK_EQ_INT(cr__aws_status_for(401, NULL), CR_ERR_AUTH);
    CHECK_EQ_INT(cr__aws_status_for(503, NULL), CR_ERR_AWS);
    CHECK_EQ_INT(cr__aws_status_for(301, NULL), CR_ERR_AWS);

    CHECK(cr__aws_is_throttle_code("Throttling"));
    CHECK(!cr__aws_is_throttle_code("AccessDenied"));
    CHECK(!cr__aws_is_throttle_code(NULL));
    CHECK(cr__aws_is_retryable(503, NULL));
    CHECK(cr__aws_is_retryable(500, "InternalError"));
    CHECK(cr__aws_is_retryable(429, NULL));
    CHECK(cr__aws_is_retryable(400, "Throttling"));
    CHECK(cr__aws_is_retryable(400, "RequestLimitExceeded"));
    CHECK(cr__aws_is_retryable(400, "RequestTimeout"));
    CHECK(!cr__aws_is_retryable(403, "AccessDenied"));
    CHECK(!cr__aws_is_retryable(403, NULL));
    CHECK(!cr__aws_is_retryable(404, "NoSuchKey"));
    CHECK(!cr__aws_is_retryable(400, "InvalidParameterValue"));
    CHECK(!cr__aws_is_retryable(501, NULL));
}

static void test_xml(void)
{
    struct cr__xml_doc *doc = NULL;
    struct cr_error err;
    const char *list =
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><IsTruncated>true</IsTruncated>"
        "<Contents><Key>a.jpg</Key><Size>10</Size></Contents>"
        "<Contents><Key>b &lt;2&gt;.jpg</Key><Size>20</Size></Contents>"
        "<NextContinuationToken>tok</NextContinuationToken>"
        "<Contents><Key><![CDATA[c.jpg]]></Key></Contents></ListBucketResult>";
    CHECK_EQ_INT(cr__xml_parse(list, strlen(list), 0, &doc, &err), CR_OK);
    const struct cr__xml_node *root = cr__xml_root(doc);
    CHECK_EQ_STR(cr__xml_name(root), "ListBucketResult");
    char keys[128] = "";
    for (const struct cr__xml_node *c = cr__xml_child(root, "Contents"); c;
         c = cr__xml_next(c, "Contents")) {
        char *k = cr__xml_child_text(c, "Key");
        strncat(keys, k, sizeof(keys) - strlen(keys) - 2);
        strcat(keys, "|");
        free(k);
    }
    CHECK_EQ_STR(keys, "a.jpg|b <2>.jpg|c.jpg|");
    int n = 0;
    for (const struct cr__xml_node *k = cr__xml_find(root, "Key"); k;
         k = cr__xml_find_next(root, k, "Key"))
        n++;
    CHECK_EQ_INT(n, 3);
    char tok[16];
    CHECK(cr__xml_find_text_copy(root, "NextContinuationToken", tok, sizeof(tok)));
    CHECK_EQ_STR(tok, "tok");
    CHECK(!cr__xml_find_text_copy(root, "Missing", tok, sizeof(tok)));
    CHECK_EQ_STR(tok, "");
    CHECK(cr__xml_child_text(root, "Missing") == NULL);
    cr__xml_free(doc);

    /* EC2 style: nested item sets. */
    const char *ec2 = "<DescribeInstancesResponse><reservationSet><item><instancesSet>"
                      "<item><instanceId>i-1</instanceId></item>"
                      "<item><instanceId>i-2</instanceId></item></instancesSet></item>"
                      "</reservationSet></DescribeInstancesResponse>";
    CHECK_EQ_INT(cr__xml_parse(ec2, strlen(ec2), 0, &doc, &err), CR_OK);
    n = 0;
    root = cr__xml_root(doc);
    for (const struct cr__xml_node *i = cr__xml_find(root, "instanceId"); i;
         i = cr__xml_find_next(root, i, "instanceId"))
        n++;
    CHECK_EQ_INT(n, 2);
    cr__xml_free(doc);

    const char *laughs =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
        "<Error><Code>&lol3;</Code></Error>";
    CHECK_EQ_INT(cr__xml_parse(laughs, strlen(laughs), 0, &doc, &err), CR_ERR_FORMAT);
    CHECK_MSG(strstr(err.message, "DTD") != NULL, "entity declarations are refused (DTD)");
    const char *xxe = "<?xml version=\"1.0\"?><!DOCTYPE e [<!ENTITY x SYSTEM "
                      "\"file:///etc/passwd\">]><Error><Code>&x;</Code></Error>";
    CHECK_EQ_INT(cr__xml_parse(xxe, strlen(xxe), 0, &doc, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__aws_parse_error(400, xxe, strlen(xxe), NULL, &err), CR_ERR_AWS);
    CHECK_MSG(strstr(err.message, "root:") == NULL, "no external entity is read");
    const char *ext = "<!DOCTYPE e SYSTEM \"http://127.0.0.1:9/x.dtd\"><e/>";
    CHECK_EQ_INT(cr__xml_parse(ext, strlen(ext), 0, &doc, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__xml_parse("<a><b></a>", 10, 0, &doc, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__xml_parse("", 0, 0, &doc, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr__xml_parse("<a>1234567890</a>", 17, 10, &doc, &err), CR_ERR_TOO_LARGE);
    CHECK(doc == NULL);
    cr__xml_free(NULL);
}

/* Parses a batch answer for n entries sent; returns the status, and the
 * batch through *out (free with cr_sqs_batch_free). */
static cr_status parse_batch_answer(const char *xml, size_t n, struct cr_sqs_batch **out)
{
    struct cr__xml_doc *doc = NULL;
    struct cr_sqs_batch *b = calloc(1, sizeof(*b));
    b->results = calloc(n, sizeof(*b->results));
    b->num_results = n;
    cr_status st = cr__xml_parse(xml, strlen(xml), 0, &doc, NULL);
    if (st == CR_OK)
        st = cr__sqs_parse_batch(doc, "SendMessageBatchResultEntry", b);
    cr__xml_free(doc);
    *out = b;
    return st;
}

static void test_sqs_batch_answer(void)
{
    struct cr_sqs_batch *b = NULL;
    const char *ok = "<R><SendMessageBatchResultEntry><Id>1</Id><MessageId>m-1</MessageId>"
                     "</SendMessageBatchResultEntry><BatchResultErrorEntry><Id>0</Id>"
                     "<Code>InvalidParameterValue</Code><SenderFault>true</SenderFault>"
                     "</BatchResultErrorEntry></R>";
    CHECK_EQ_INT(parse_batch_answer(ok, 3, &b), CR_OK);
    CHECK(b->results[1].ok == 1 && strcmp(b->results[1].message_id, "m-1") == 0);
    CHECK(b->results[0].ok == 0 && b->results[0].sender_fault &&
          strcmp(b->results[0].code, "InvalidParameterValue") == 0);
    CHECK_MSG(b->results[2].ok == 0 && b->num_failed == 2, "an entry not answered for failed");
    cr_sqs_batch_free(b);

    /* Found with tests/fuzz/fuzz_xml (a LeakSanitizer report): an entry
     * named twice overwrote, and leaked, the strings of its first mention,
     * and the second mention was believed. */
    const char *twice = "<R><SendMessageBatchResultEntry><Id>0</Id><MessageId>a</MessageId>"
                        "</SendMessageBatchResultEntry><SendMessageBatchResultEntry><Id>0</Id>"
                        "<MessageId>b</MessageId></SendMessageBatchResultEntry></R>";
    CHECK_EQ_INT(parse_batch_answer(twice, 1, &b), CR_ERR_FORMAT);
    cr_sqs_batch_free(b);
    const char *both = "<R><SendMessageBatchResultEntry><Id>0</Id><MessageId>a</MessageId>"
                       "</SendMessageBatchResultEntry><BatchResultErrorEntry><Id>0</Id>"
                       "<Code>X</Code><Message>m</Message></BatchResultErrorEntry></R>";
    CHECK_MSG(parse_batch_answer(both, 1, &b) == CR_ERR_FORMAT,
              "an entry both done and failed is refused");
    cr_sqs_batch_free(b);
    const char *out_of_range = "<R><SendMessageBatchResultEntry><Id>5</Id>"
                               "</SendMessageBatchResultEntry></R>";
    CHECK_EQ_INT(parse_batch_answer(out_of_range, 2, &b), CR_ERR_FORMAT);
    cr_sqs_batch_free(b);
}

static void test_backoff(void)
{
    const long base = 100, cap = 20000;
    /* The top of the range doubles per retry until the cap. */
    static const int64_t want[] = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 20000, 20000};
    int ok = 1;
    for (int i = 0; i < 10; i++)
        ok &= cr__aws_backoff_ms(i, base, cap, UINT64_MAX) == want[i];
    CHECK_MSG(ok, "the largest delay doubles from 100 ms and stops at 20 s");
    CHECK_EQ_INT(cr__aws_backoff_ms(0, base, cap, 0), 0);
    CHECK_EQ_INT(cr__aws_backoff_ms(1000, base, cap, UINT64_MAX), 20000);
    CHECK_EQ_INT(cr__aws_backoff_ms(3, base, cap, UINT64_MAX / 2), 400);
    CHECK_EQ_INT(cr__aws_backoff_ms(3, 0, cap, UINT64_MAX), 0);

    /* Full jitter with a seeded generator: within bounds, spread out, and the
     * same seed gives the same schedule. */
    uint64_t s1 = 42, s2 = 42;
    int in_bounds = 1, same = 1, distinct = 0;
    int64_t prev = -1;
    for (int i = 0; i < 200; i++) {
        s1 = s1 * 6364136223846793005ULL + 1442695040888963407ULL;
        s2 = s2 * 6364136223846793005ULL + 1442695040888963407ULL;
        int retry = i % 12;
        int64_t d = cr__aws_backoff_ms(retry, base, cap, s1);
        int64_t top = cr__aws_backoff_ms(retry, base, cap, UINT64_MAX);
        in_bounds &= d >= 0 && d <= top && d <= cap;
        same &= d == cr__aws_backoff_ms(retry, base, cap, s2);
        distinct += d != prev;
        prev = d;
    }
    CHECK_MSG(in_bounds, "jittered delays stay in [0, min(cap, base*2^n)]");
    CHECK_MSG(same, "an injected generator makes the schedule deterministic");
    CHECK_MSG(distinct > 150, "jitter spreads the delays");
}

static void test_query(void)
{
    struct cr_buf q;
    cr_buf_init(&q, 0);
    CHECK_EQ_INT(cr__aws_query_add(&q, "Action", "SendMessage"), CR_OK);
    CHECK_EQ_INT(cr__aws_query_add(&q, "MessageBody", "{\"a\": \"b/c d+e\"}"), CR_OK);
    CHECK_EQ_INT(cr__aws_query_add(&q, "Empty", ""), CR_OK);
    CHECK_EQ_STR((char *)q.data,
                 "Action=SendMessage&MessageBody=%7B%22a%22%3A%20%22b%2Fc%20d%2Be%22%7D&Empty=");
    cr_buf_free(&q);
}

static void test_imds_document(void)
{
    struct cr__aws_creds c = {0};
    struct cr_error err;
    const char *doc = "{\n  \"Code\" : \"Success\",\n  \"LastUpdated\" : \"2024-05-01T10:00:00Z\",\n"
                      "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"ASIAEXAMPLE\",\n"
                      "  \"SecretAccessKey\" : \"se\\/cr\\u0065t\",\n  \"Token\" : \"tok==\",\n"
                      "  \"Expiration\" : \"2024-05-01T16:00:00Z\", \"Extra\": [1, {\"x\": null}]\n}";
    CHECK_EQ_INT(cr__imds_parse_credentials(doc, strlen(doc), "web-role", &c, &err), CR_OK);
    CHECK_EQ_STR(c.access_key_id, "ASIAEXAMPLE");
    CHECK_EQ_STR(c.secret_access_key, "se/cret");
    CHECK_EQ_STR(c.session_token, "tok==");
    CHECK_EQ_STR(c.source, "imds:web-role");
    int64_t want = 0;
    cr_time_parse_iso8601("2024-05-01T16:00:00Z", &want);
    CHECK_EQ_INT(c.expiration_s, want);
    cr__aws_creds_wipe(&c);

    const char *failed = "{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"AccessKeyId\": \"\"}";
    CHECK_EQ_INT(cr__imds_parse_credentials(failed, strlen(failed), "r", &c, &err), CR_ERR_AUTH);
    const char *nosecret = "{\"AccessKeyId\": \"A\"}";
    CHECK_EQ_INT(cr__imds_parse_credentials(nosecret, strlen(nosecret), "r", &c, &err),
                 CR_ERR_FORMAT);
    static const char *const bad[] = {"", "[]", "{", "{\"a\" 1}", "{\"a\":1,}", "{} x",
                                      "{\"AccessKeyId\": 5}", "{\"a\":\"\\q\"}"};
    int ok = 1;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ok &= cr__imds_parse_credentials(bad[i], strlen(bad[i]), "r", &c, &err) == CR_ERR_FORMAT;
    CHECK_MSG(ok, "malformed credential documents are refused");
    CHECK(c.access_key_id == NULL);
}

int main(void)
{
    make_home();
    test_env_credentials();
    test_profiles();
    test_profile_files_from_env();
    test_profile_parser();
    test_region();
    test_open();
    test_endpoints();
    test_error_parsing();
    test_error_mapping();
    test_xml();
    test_sqs_batch_answer();
    test_backoff();
    test_query();
    test_imds_document();
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_home);
    if (system(cmd) != 0)
        DIAG("could not remove %s", g_home);
    return tap_done();
}
