/*
 * svc_check - exercises every call of cloudrec/s3.h, sqs.h and ec2.h
 * against a service endpoint (moto in server mode, started by the pytest
 * modules test_s3.py, test_sqs.py and test_ec2.py), with TAP output.
 * Public API only. The endpoint and credentials come from the usual AWS_*
 * environment variables; names are made unique with a RUN prefix.
 *
 *   svc_check s3 RUN
 *   svc_check sqs RUN
 *   svc_check ec2 RUN [INSTANCE-PROFILE-NAME]
 */
#include "cloudrec.h"
#include "tap.h"
#include "aws/aws_internal.h"
#include "internal.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *run_id = "run";

/* Opens a context with the environment's settings (region override when
 * region is non-NULL). */
static struct cr_aws *open_aws(const char *region)
{
    struct cr_aws_options o = {.region = region, .max_attempts = 2};
    struct cr_aws *aws = NULL;
    struct cr_error err = {0};
    if (!CHECK(cr_aws_open(&o, &aws, &err) == CR_OK))
        DIAG("cr_aws_open: %s", err.message);
    return aws;
}

/* A name unique to this run: "<run>-<what>". */
static const char *name_of(const char *what)
{
    static char buf[8][128];
    static int next;
    char *b = buf[next++ % 8];
    snprintf(b, sizeof(buf[0]), "%s-%s", run_id, what);
    return b;
}

/* Checks a failed call's status and that the detail names the code. */
static void check_fail(cr_status got, cr_status want, const struct cr_error *err, const char *code,
                       const char *what)
{
    char line[1024];
    snprintf(line, sizeof(line), "%s fails with %s (got %s: %s)", what, cr_status_name(want),
             cr_status_name(got), err->message);
    tap_check(got == want, line, __FILE__, __LINE__);
    if (code) {
        snprintf(line, sizeof(line), "%s: aws_code %s (got '%s')", what, code, err->aws_code);
        tap_check(strcmp(err->aws_code, code) == 0, line, __FILE__, __LINE__);
    }
}

/* ---- S3 --------------------------------------------------------------------------- */

/* Buckets: creation in us-east-1 and in another region, both idempotent,
 * and a refused name. */
static void s3_buckets(struct cr_aws *aws, const char *bucket)
{
    struct cr_error err = {0};
    CHECK(cr_s3_create_bucket(aws, bucket, NULL, &err) == CR_OK);
    CHECK_MSG(cr_s3_create_bucket(aws, bucket, NULL, &err) == CR_OK,
              "creating a bucket you own again (us-east-1) is success");
    struct cr_aws *eu = open_aws("eu-west-1");
    const char *eub = name_of("eu");
    struct cr_s3_create_bucket_options eo = {0};
    CHECK_MSG(cr_s3_create_bucket(eu, eub, &eo, &err) == CR_OK,
              "bucket in eu-west-1 (LocationConstraint sent)");
    CHECK_MSG(cr_s3_create_bucket(eu, eub, &eo, &err) == CR_OK,
              "BucketAlreadyOwnedByYou is success");
    CHECK_EQ_STR(err.aws_code, "");
    struct cr_s3_create_bucket_options other = {.region = "ap-south-1"};
    cr_status st = cr_s3_create_bucket(eu, name_of("bad-region"), &other, &err);
    check_fail(st, CR_ERR_INVALID, &err, NULL, "a LocationConstraint that is not the region");
    cr_aws_free(eu);
    st = cr_s3_create_bucket(aws, "ab", NULL, &err);
    check_fail(st, CR_ERR_INVALID, &err, "InvalidBucketName",
               "create a bucket named ab (too short)");
    CHECK(cr_s3_create_bucket(aws, "a/b", NULL, &err) == CR_ERR_INVALID);
}

/* Put, head and get, with content types, binary data and an empty object. */
static void s3_objects(struct cr_aws *aws, const char *bucket)
{
    struct cr_error err = {0};
    unsigned char bin[512];
    for (size_t i = 0; i < sizeof(bin); i++)
        bin[i] = (unsigned char)(i * 7);
    struct cr_s3_put_options po = {.content_type = "image/jpeg"};
    struct cr_s3_object *info = NULL;
    CHECK(cr_s3_put_object(aws, bucket, "bin/all bytes+%.jpg", bin, sizeof(bin), &po, &info,
                           &err) == CR_OK);
    CHECK(info && info->etag && strlen(info->etag) == 32 && info->size_bytes == 512);
    CHECK(info && info->content_type && strcmp(info->content_type, "image/jpeg") == 0);
    cr_s3_object_free(info);

    struct cr_s3_object *h = NULL;
    CHECK(cr_s3_head_object(aws, bucket, "bin/all bytes+%.jpg", &h, &err) == CR_OK);
    CHECK(h && h->size_bytes == 512 && h->last_modified_s > 1500000000);
    CHECK_EQ_STR(h ? h->content_type : NULL, "image/jpeg");
    CHECK_EQ_STR(h ? h->key : NULL, "bin/all bytes+%.jpg");

    struct cr_buf got;
    cr_buf_init(&got, 0);
    cr_buf_append_str(&got, "prefix:");
    struct cr_s3_object *gi = NULL;
    CHECK(cr_s3_get_object(aws, bucket, "bin/all bytes+%.jpg", NULL, &got, &gi, &err) == CR_OK);
    CHECK_MSG(got.len == 7 + 512 && memcmp(got.data + 7, bin, 512) == 0,
              "get appends the exact bytes");
    CHECK(gi && h && gi->etag && h->etag && strcmp(gi->etag, h->etag) == 0);
    cr_s3_object_free(gi);
    cr_s3_object_free(h);

    struct cr_s3_get_options small = {.max_bytes = 100};
    size_t before = got.len;
    cr_status st = cr_s3_get_object(aws, bucket, "bin/all bytes+%.jpg", &small, &got, NULL, &err);
    check_fail(st, CR_ERR_TOO_LARGE, &err, NULL, "get over max_bytes");
    CHECK_MSG(got.len == before, "a failed get leaves the buffer as it was");
    cr_buf_free(&got);

    CHECK(cr_s3_put_object(aws, bucket, "empty", NULL, 0, NULL, NULL, &err) == CR_OK);
    struct cr_buf e;
    cr_buf_init(&e, 0);
    CHECK(cr_s3_get_object(aws, bucket, "empty", NULL, &e, NULL, &err) == CR_OK && e.len == 0);
    CHECK(cr_s3_head_object(aws, bucket, "empty", &h, &err) == CR_OK && h->size_bytes == 0);
    CHECK_EQ_STR(h ? h->content_type : NULL, "application/octet-stream");
    cr_s3_object_free(h);
    cr_buf_free(&e);
}

/* Collects every key of a listing, page by page of max_keys. */
static int s3_list_all(struct cr_aws *aws, const char *bucket, const char *prefix, int max_keys,
                       char keys[][64], int max, int *pages)
{
    struct cr_s3_list_options o = {.prefix = prefix, .max_keys = max_keys};
    char token[1024] = "";
    int n = 0;
    *pages = 0;
    for (;;) {
        struct cr_s3_list *l = NULL;
        struct cr_error err = {0};
        o.continuation_token = token[0] ? token : NULL;
        if (cr_s3_list_objects(aws, bucket, &o, &l, &err) != CR_OK) {
            DIAG("list: %s", err.message);
            return -1;
        }
        ++*pages;
        for (size_t i = 0; i < l->num_objects && n < max; i++)
            snprintf(keys[n++], 64, "%s", l->objects[i].key);
        int more = l->next_continuation_token != NULL;
        CHECK_MSG(more == l->is_truncated, "a next token exactly when the page is truncated");
        if (more)
            snprintf(token, sizeof(token), "%s", l->next_continuation_token);
        cr_s3_list_free(l);
        if (!more || *pages > 20)
            return n;
    }
}

/* ListObjectsV2: pages of 3 over 7 keys, prefix, start-after. */
static void s3_listing(struct cr_aws *aws, const char *bucket)
{
    struct cr_error err = {0};
    const char *names[] = {
        "page/a", "page/b c", "page/d+e", "page/f%g", "page/h", "page/i", "page/\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < 7; i++)
        CHECK(cr_s3_put_object(aws, bucket, names[i], "x", 1, NULL, NULL, &err) == CR_OK);
    char keys[16][64];
    int pages = 0;
    int n = s3_list_all(aws, bucket, "page/", 3, keys, 16, &pages);
    CHECK_EQ_INT(n, 7);
    CHECK_EQ_INT(pages, 3);
    for (int i = 0; i < n && i < 7; i++)
        CHECK_EQ_STR(keys[i], names[i]);
    n = s3_list_all(aws, bucket, "nothing-here/", 0, keys, 16, &pages);
    CHECK(n == 0 && pages == 1);

    struct cr_s3_list_options o = {.prefix = "page/", .start_after = "page/h"};
    struct cr_s3_list *l = NULL;
    CHECK(cr_s3_list_objects(aws, bucket, &o, &l, &err) == CR_OK);
    CHECK(l && l->num_objects == 2 && !l->is_truncated && !l->next_continuation_token);
    CHECK(l && l->num_objects > 0 && l->objects[0].size_bytes == 1 && l->objects[0].etag &&
          l->objects[0].last_modified_s > 0 && l->objects[0].storage_class);
    cr_s3_list_free(l);
    struct cr_s3_list_options bad = {.max_keys = 1001};
    CHECK(cr_s3_list_objects(aws, bucket, &bad, &l, &err) == CR_ERR_INVALID && !l);
}

/* Delete, and every "missing" error path. */
static void s3_errors(struct cr_aws *aws, const char *bucket)
{
    struct cr_error err = {0};
    struct cr_s3_object *h = NULL;
    struct cr_buf b;
    cr_buf_init(&b, 0);
    CHECK(cr_s3_delete_object(aws, bucket, "page/a", &err) == CR_OK);
    cr_status st = cr_s3_head_object(aws, bucket, "page/a", &h, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "head after delete");
    CHECK(h == NULL && err.http_status == 404);
    CHECK_MSG(cr_s3_delete_object(aws, bucket, "page/a", &err) == CR_OK,
              "deleting a missing key is success");
    st = cr_s3_get_object(aws, bucket, "no/such/key", NULL, &b, NULL, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "NoSuchKey", "get of a missing key");
    CHECK(err.http_status == 404 && err.request_id[0]);
    const char *nob = name_of("no-such-bucket");
    st = cr_s3_get_object(aws, nob, "k", NULL, &b, NULL, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "NoSuchBucket", "get from a missing bucket");
    st = cr_s3_put_object(aws, nob, "k", "x", 1, NULL, NULL, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "NoSuchBucket", "put into a missing bucket");
    struct cr_s3_list *l = NULL;
    st = cr_s3_list_objects(aws, nob, NULL, &l, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "NoSuchBucket", "list of a missing bucket");
    st = cr_s3_delete_object(aws, nob, "k", &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "NoSuchBucket", "delete in a missing bucket");
    st = cr_s3_head_object(aws, nob, "k", &h, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "head in a missing bucket");
    CHECK(cr_s3_put_object(aws, bucket, "", "x", 1, NULL, NULL, &err) == CR_ERR_INVALID);
    CHECK(cr_s3_get_object(aws, bucket, NULL, NULL, &b, NULL, &err) == CR_ERR_INVALID);
    CHECK(b.len == 0);
    cr_buf_free(&b);
}

static void check_s3(struct cr_aws *aws)
{
    const char *bucket = name_of("bucket");
    s3_buckets(aws, bucket);
    s3_objects(aws, bucket);
    s3_listing(aws, bucket);
    s3_errors(aws, bucket);
}

/* ---- SQS --------------------------------------------------------------------------- */

/* Creates queue name with opts, appending its URL to url. */
static int create_queue(struct cr_aws *aws, const char *name,
                        const struct cr_sqs_create_options *opts, struct cr_buf *url)
{
    struct cr_error err = {0};
    cr_status st = cr_sqs_create_queue(aws, name, opts, url, &err);
    if (!CHECK(st == CR_OK))
        DIAG("create %s: %s", name, err.message);
    return st == CR_OK;
}

/* Reads a queue's attributes (NULL on failure). */
static struct cr_sqs_queue_attributes *attrs_of(struct cr_aws *aws, const char *url)
{
    struct cr_sqs_queue_attributes *a = NULL;
    struct cr_error err = {0};
    if (!CHECK(cr_sqs_get_attributes(aws, url, &a, &err) == CR_OK))
        DIAG("attributes: %s", err.message);
    return a;
}

/* Create (with every attribute), idempotent create, conflicting create,
 * queue URL lookup. *dlq and *work get the two URLs. */
static void sqs_queues(struct cr_aws *aws, struct cr_buf *dlq, struct cr_buf *work)
{
    struct cr_error err = {0};
    create_queue(aws, name_of("dlq"), NULL, dlq);
    struct cr_sqs_queue_attributes *da = attrs_of(aws, (const char *)dlq->data);
    CHECK(da && da->queue_arn && strstr(da->queue_arn, "arn:aws:sqs:"));
    struct cr_sqs_attribute extra[] = {{"DelaySeconds", "0"}};
    struct cr_sqs_create_options o = {.visibility_timeout_s = 2,
                                      .message_retention_s = 3600,
                                      .receive_wait_s = 1,
                                      .dead_letter_target_arn = da ? da->queue_arn : "x",
                                      .max_receive_count = 2,
                                      .attributes = extra,
                                      .num_attributes = 1};
    create_queue(aws, name_of("work"), &o, work);
    struct cr_sqs_queue_attributes *wa = attrs_of(aws, (const char *)work->data);
    CHECK(wa && wa->visibility_timeout_s == 2 && wa->message_retention_s == 3600 &&
          wa->receive_wait_s == 1 && wa->delay_s == 0 && wa->max_receive_count == 2);
    CHECK(wa && da && wa->dead_letter_target_arn &&
          strcmp(wa->dead_letter_target_arn, da->queue_arn) == 0);
    CHECK(wa && cr_sqs_queue_attribute(wa, "RedrivePolicy") && wa->approximate_messages == 0);

    struct cr_buf again, url;
    cr_buf_init(&again, 0);
    cr_buf_init(&url, 0);
    if (!CHECK_MSG(cr_sqs_create_queue(aws, name_of("work"), &o, &again, &err) == CR_OK &&
                       strcmp((char *)again.data, (char *)work->data) == 0,
                   "creating the same queue again gives the same URL"))
        DIAG("%s", err.message);
    struct cr_sqs_create_options different = {.visibility_timeout_s = 99};
    cr_status st = cr_sqs_create_queue(aws, name_of("work"), &different, &url, &err);
    check_fail(st, CR_ERR_EXISTS, &err, "QueueAlreadyExists", "create with other attributes");
    CHECK(cr_sqs_get_queue_url(aws, name_of("work"), &url, &err) == CR_OK &&
          strcmp((char *)url.data, (char *)work->data) == 0);
    st = cr_sqs_get_queue_url(aws, name_of("no-such-queue"), &url, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "URL of a missing queue");
    struct cr_sqs_create_options half = {.max_receive_count = 3};
    CHECK(cr_sqs_create_queue(aws, "x", &half, &url, &err) == CR_ERR_INVALID);
    cr_buf_free(&again);
    cr_buf_free(&url);
    cr_sqs_queue_attributes_free(wa);
    cr_sqs_queue_attributes_free(da);
}

/* Receives up to max messages with visibility vis (0 = queue's). */
static struct cr_sqs_messages *receive(struct cr_aws *aws, const char *url, int max, int wait,
                                       int vis)
{
    struct cr_sqs_receive_options o = {
        .max_messages = max, .wait_s = wait, .visibility_timeout_s = vis};
    struct cr_sqs_messages *m = NULL;
    struct cr_error err = {0};
    if (!CHECK(cr_sqs_receive(aws, url, &o, &m, &err) == CR_OK))
        DIAG("receive: %s", err.message);
    return m;
}

/* Send, send batch, receive with attributes, bad bodies. */
static void sqs_send_receive(struct cr_aws *aws, const char *url)
{
    struct cr_error err = {0};
    struct cr_buf id;
    cr_buf_init(&id, 0);
    CHECK(cr_sqs_send(aws, url, "first <&> \"msg\"", 15, NULL, &id, &err) == CR_OK && id.len > 0);
    struct cr_sqs_send_entry e[CR_SQS_MAX_BATCH + 1];
    char bodies[CR_SQS_MAX_BATCH + 1][16];
    for (int i = 0; i <= CR_SQS_MAX_BATCH; i++) {
        snprintf(bodies[i], sizeof(bodies[i]), "batch-%d", i);
        e[i] = (struct cr_sqs_send_entry){bodies[i], strlen(bodies[i]), 0};
    }
    struct cr_sqs_batch *b = NULL;
    CHECK(cr_sqs_send_batch(aws, url, e, CR_SQS_MAX_BATCH, &b, &err) == CR_OK);
    CHECK(b && b->num_results == 10 && b->num_failed == 0 && b->results[9].ok &&
          b->results[9].message_id);
    cr_sqs_batch_free(b);
    CHECK(cr_sqs_send_batch(aws, url, e, CR_SQS_MAX_BATCH + 1, &b, &err) == CR_ERR_INVALID && !b);
    CHECK(cr_sqs_send(aws, url, "", 0, NULL, NULL, &err) == CR_ERR_INVALID);
    CHECK(cr_sqs_send(aws, url,
                      "a\x01"
                      "b",
                      3, NULL, NULL, &err) == CR_ERR_INVALID);
    CHECK(cr_sqs_send(aws, url, "\xff\xfe", 2, NULL, NULL, &err) == CR_ERR_INVALID);

    struct cr_sqs_messages *m = receive(aws, url, 10, 0, 30);
    CHECK(m && m->count >= 1 && m->count <= 10);
    for (size_t i = 0; m && i < m->count; i++) {
        const struct cr_sqs_message *x = &m->messages[i];
        CHECK(x->receive_count == 1 && x->sent_ms > 1500000000000LL && x->receipt_handle &&
              x->message_id && x->md5_of_body && x->first_receive_ms >= x->sent_ms);
        CHECK(cr_sqs_message_attribute(x, "SenderId") != NULL);
    }
    for (size_t i = 0; m && i < m->count; i++)
        CHECK(cr_sqs_change_visibility(aws, url, m->messages[i].receipt_handle, 0, &err) == CR_OK);
    int saw_first = 0;
    for (size_t i = 0; m && i < m->count; i++)
        saw_first |= strcmp(m->messages[i].body, "first <&> \"msg\"") == 0;
    DIAG("first receive took %zu messages; the XML-escaped body %s among them", m ? m->count : 0,
         saw_first ? "is" : "is not");
    cr_sqs_messages_free(m);
    cr_buf_free(&id);
}

/* Drains the queue (visibility 30 s) into receipts; returns how many. */
static size_t drain(struct cr_aws *aws, const char *url, char receipts[][1024], size_t max)
{
    size_t n = 0;
    for (int round = 0; round < 10 && n < max; round++) {
        struct cr_sqs_messages *m = receive(aws, url, 10, CR_SQS_ZERO, 30);
        size_t got = m ? m->count : 0;
        for (size_t i = 0; i < got && n < max; i++)
            snprintf(receipts[n++], 1024, "%s", m->messages[i].receipt_handle);
        cr_sqs_messages_free(m);
        if (!got)
            break;
    }
    return n;
}

/* Counts, visibility change, delete, delete batch with a bad handle. */
static void sqs_delete_visibility(struct cr_aws *aws, const char *url)
{
    struct cr_error err = {0};
    static char receipts[16][1024];
    size_t n = drain(aws, url, receipts, 16);
    CHECK_EQ_INT(n, 11);
    struct cr_sqs_queue_attributes *a = attrs_of(aws, url);
    CHECK(a && a->approximate_messages == 0 && a->approximate_messages_not_visible == 11);
    cr_sqs_queue_attributes_free(a);

    CHECK(cr_sqs_change_visibility(aws, url, receipts[0], 0, &err) == CR_OK);
    struct cr_sqs_messages *m = receive(aws, url, 1, CR_SQS_ZERO, 30);
    if (!CHECK_MSG(m && m->count == 1 && m->messages[0].receive_count >= 2,
                   "visibility 0 makes the message visible again, received once more"))
        DIAG("got %zu messages, count %d", m ? m->count : 0,
             m && m->count ? m->messages[0].receive_count : -1);
    if (m && m->count == 1)
        snprintf(receipts[0], sizeof(receipts[0]), "%s", m->messages[0].receipt_handle);
    cr_sqs_messages_free(m);

    if (!CHECK(cr_sqs_delete(aws, url, receipts[0], &err) == CR_OK))
        DIAG("%s", err.message);
    cr_status st = cr_sqs_delete(aws, url, "not-a-receipt-handle", &err);
    check_fail(st, CR_ERR_INVALID, &err, "ReceiptHandleIsInvalid", "delete with a bad handle");
    st = cr_sqs_change_visibility(aws, url, "not-a-receipt-handle", 5, &err);
    CHECK_MSG(st == CR_ERR_INVALID || st == CR_ERR_STATE,
              "change visibility with a bad handle is refused");
    const char *batch[10];
    for (size_t i = 0; i < 9; i++)
        batch[i] = receipts[1 + i];
    batch[9] = "garbage-handle";
    struct cr_sqs_batch *b = NULL;
    st = cr_sqs_delete_batch(aws, url, batch, 10, &b, &err);
    check_fail(st, CR_ERR_INVALID, &err, "ReceiptHandleIsInvalid", "delete batch, one bad handle");
    DIAG("%s", err.message);
    CHECK(b && b->num_results == 10 && b->num_failed == 1 && b->results[0].ok &&
          !b->results[9].ok && b->results[9].code && b->results[9].sender_fault);
    cr_sqs_batch_free(b);
    const char *last[] = {receipts[10]};
    CHECK(cr_sqs_delete_batch(aws, url, last, 1, NULL, &err) == CR_OK);
    a = attrs_of(aws, url);
    CHECK(a && a->approximate_messages == 0 && a->approximate_messages_not_visible == 0);
    cr_sqs_queue_attributes_free(a);
}

/* A second thread that sends "wake up" to the queue after a second, with
 * its own context (contexts are per thread). */
static void *late_sender(void *url)
{
    usleep(1000 * 1000);
    struct cr_aws *c = NULL;
    int ok = cr_aws_open(NULL, &c, NULL) == CR_OK &&
             cr_sqs_send(c, url, "wake up", 7, NULL, NULL, NULL) == CR_OK;
    cr_aws_free(c);
    return ok ? url : NULL;
}

/* Long poll: an empty queue waits the whole time; a send from another
 * thread wakes it early. */
static void sqs_long_poll(struct cr_aws *aws, const char *url)
{
    int64_t t0 = cr_time_mono_ms();
    struct cr_sqs_messages *m = receive(aws, url, 1, 2, 0);
    int64_t waited = cr_time_mono_ms() - t0;
    CHECK(m && m->count == 0);
    CHECK_MSG(waited >= 1500 && waited < 10000, "an empty long poll of 2 s waits about 2 s");
    cr_sqs_messages_free(m);
    pthread_t sender;
    CHECK(pthread_create(&sender, NULL, late_sender, (void *)url) == 0);
    t0 = cr_time_mono_ms();
    m = receive(aws, url, 1, 20, 0);
    waited = cr_time_mono_ms() - t0;
    void *sent = NULL;
    pthread_join(sender, &sent);
    CHECK_MSG(sent != NULL, "the other thread sent its message");
    CHECK(m && m->count == 1 && strcmp(m->messages[0].body, "wake up") == 0);
    CHECK_MSG(waited < 15000, "a send during a 20 s long poll answers it early");
    DIAG("long poll answered after %lld ms", (long long)waited);
    if (m && m->count == 1)
        CHECK(cr_sqs_delete(aws, url, m->messages[0].receipt_handle, NULL) == CR_OK);
    cr_sqs_messages_free(m);
}

/* The redrive policy: received max_receive_count (2) times, a message moves
 * to the dead letter queue. The queue's visibility timeout is 2 s. */
static void sqs_redrive(struct cr_aws *aws, const char *work, const char *dlq)
{
    CHECK(cr_sqs_send(aws, work, "poison", 6, NULL, NULL, NULL) == CR_OK);
    int receives = 0;
    for (int i = 0; i < 6; i++) {
        struct cr_sqs_messages *m = receive(aws, work, 1, 3, 1);
        receives += m && m->count;
        cr_sqs_messages_free(m);
        usleep(1200 * 1000);
    }
    CHECK_EQ_INT(receives, 2);
    struct cr_sqs_queue_attributes *a = attrs_of(aws, dlq);
    DIAG("dead letter queue: %ld visible, %ld in flight", a ? a->approximate_messages : -1,
         a ? a->approximate_messages_not_visible : -1);
    cr_sqs_queue_attributes_free(a);
    struct cr_sqs_messages *d = receive(aws, dlq, 1, 2, 0);
    CHECK_MSG(d && d->count == 1 && strcmp(d->messages[0].body, "poison") == 0,
              "after two receives the message is in the dead letter queue");
    cr_sqs_messages_free(d);
}

/* Purge, and operations on a queue that does not exist. */
static void sqs_purge_errors(struct cr_aws *aws, const char *url)
{
    struct cr_error err = {0};
    for (int i = 0; i < 3; i++)
        CHECK(cr_sqs_send(aws, url, "to purge", 8, NULL, NULL, &err) == CR_OK);
    CHECK(cr_sqs_purge(aws, url, &err) == CR_OK);
    struct cr_sqs_queue_attributes *a = attrs_of(aws, url);
    CHECK(a && a->approximate_messages == 0 && a->approximate_messages_not_visible == 0);
    cr_sqs_queue_attributes_free(a);

    char gone[512];
    snprintf(gone, sizeof(gone), "%.*s%s", (int)(strrchr(url, '/') - url + 1), url,
             name_of("missing"));
    struct cr_sqs_messages *m = NULL;
    cr_status st = cr_sqs_send(aws, gone, "x", 1, NULL, NULL, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "send to a missing queue");
    st = cr_sqs_receive(aws, gone, NULL, &m, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "receive from a missing queue");
    CHECK(m == NULL);
    st = cr_sqs_purge(aws, gone, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "purge of a missing queue");
    st = cr_sqs_get_attributes(aws, gone, &a, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "attributes of a missing queue");
    st = cr_sqs_delete(aws, gone, "handle", &err);
    CHECK_MSG(st == CR_ERR_NOT_FOUND || st == CR_ERR_INVALID, "delete on a missing queue fails");
    struct cr_sqs_receive_options bad = {.max_messages = 11};
    CHECK(cr_sqs_receive(aws, url, &bad, &m, &err) == CR_ERR_INVALID);
}

static void check_sqs(struct cr_aws *aws)
{
    struct cr_buf dlq, work, plain;
    cr_buf_init(&dlq, 0);
    cr_buf_init(&work, 0);
    cr_buf_init(&plain, 0);
    sqs_queues(aws, &dlq, &work);
    /* Messages received twice would move to the dead letter queue of
     * "work": the other tests use a queue without a redrive policy. */
    if (work.len && dlq.len && create_queue(aws, name_of("plain"), NULL, &plain)) {
        sqs_send_receive(aws, (const char *)plain.data);
        sqs_delete_visibility(aws, (const char *)plain.data);
        sqs_long_poll(aws, (const char *)plain.data);
        sqs_redrive(aws, (const char *)work.data, (const char *)dlq.data);
        sqs_purge_errors(aws, (const char *)plain.data);
    }
    cr_buf_free(&dlq);
    cr_buf_free(&work);
    cr_buf_free(&plain);
}

/* ---- EC2 -------------------------------------------------------------------------- */

/* Describes with one filter and returns how many instances match. */
static int count_matching(struct cr_aws *aws, const char *name, const char *v1, const char *v2)
{
    const char *values[] = {v1, v2};
    struct cr_ec2_filter f = {name, values, v2 ? 2 : 1};
    struct cr_ec2_describe_options o = {.filters = &f, .num_filters = 1};
    struct cr_ec2_instances *set = NULL;
    struct cr_error err = {0};
    if (cr_ec2_describe_instances(aws, &o, &set, &err) != CR_OK) {
        DIAG("describe %s: %s", name, err.message);
        return -1;
    }
    int n = (int)set->count;
    cr_ec2_instances_free(set);
    return n;
}

/* Run with every option; returns the set (caller frees). */
static struct cr_ec2_instances *ec2_run_full(struct cr_aws *aws, const char *fleet)
{
    const char script[] = "#!/bin/sh\ncloudrec-worker --queue sqs://requests\n";
    struct cr_ec2_tag tags[] = {{"Name", "app-tier-instance-1"}, {"fleet", fleet}};
    const char *groups[] = {"default"};
    struct cr_ec2_run_options o = {.image_id = "ami-12c6146b",
                                   .instance_type = "t3.micro",
                                   .min_count = 2,
                                   .max_count = 2,
                                   .user_data = script,
                                   .user_data_len = strlen(script),
                                   .tags = tags,
                                   .num_tags = 2,
                                   .key_name = "worker-key",
                                   .security_group_names = groups,
                                   .num_security_group_names = 1,
                                   .client_token = name_of("token"),
                                   .shutdown_terminates = 1};
    struct cr_ec2_instances *set = NULL;
    struct cr_error err = {0};
    if (!CHECK(cr_ec2_run_instances(aws, &o, &set, &err) == CR_OK))
        DIAG("run: %s", err.message);
    CHECK(set && set->count == 2);
    for (size_t i = 0; set && i < set->count; i++) {
        const struct cr_ec2_instance *x = &set->instances[i];
        CHECK(x->instance_id && strncmp(x->instance_id, "i-", 2) == 0);
        CHECK_EQ_STR(x->state, "pending");
        CHECK_EQ_STR(x->instance_type, "t3.micro");
        CHECK_EQ_STR(x->image_id, "ami-12c6146b");
        CHECK_EQ_STR(x->key_name, "worker-key");
        CHECK_EQ_STR(cr_ec2_instance_tag(x, "fleet"), fleet);
        CHECK_EQ_STR(cr_ec2_instance_tag(x, "Name"), "app-tier-instance-1");
        CHECK(x->subnet_id && x->reservation_id && x->num_security_groups == 1 &&
              x->launch_time_s > 0 && x->state_code == 0);
    }
    return set;
}

/* Run into a given subnet with group ids and an instance profile. */
static void ec2_run_subnet(struct cr_aws *aws, const struct cr_ec2_instance *like,
                           const char *fleet, const char *profile)
{
    struct cr_ec2_tag tags[] = {{"fleet", fleet}};
    const char *const *groups = (const char *const *)like->security_group_ids;
    struct cr_ec2_run_options o = {.image_id = "ami-12c6146b",
                                   .tags = tags,
                                   .num_tags = 1,
                                   .subnet_id = like->subnet_id,
                                   .security_group_ids = groups,
                                   .num_security_group_ids = like->num_security_groups,
                                   .iam_instance_profile_name = profile};
    struct cr_ec2_instances *set = NULL;
    struct cr_error err = {0};
    if (!CHECK(cr_ec2_run_instances(aws, &o, &set, &err) == CR_OK))
        DIAG("run in subnet: %s", err.message);
    CHECK(set && set->count == 1 && set->instances[0].subnet_id &&
          strcmp(set->instances[0].subnet_id, like->subnet_id) == 0);
    CHECK_EQ_STR(set && set->count ? set->instances[0].instance_type : NULL, "t2.micro");
    if (profile)
        CHECK(set && set->count && set->instances[0].iam_instance_profile_arn &&
              strstr(set->instances[0].iam_instance_profile_arn, profile));
    cr_ec2_instances_free(set);
}

/* Describe with filters, by id, and paged. */
static void ec2_describe(struct cr_aws *aws, const struct cr_ec2_instances *set, const char *fleet)
{
    CHECK_EQ_INT(count_matching(aws, "tag:fleet", fleet, NULL), 3);
    CHECK_EQ_INT(count_matching(aws, "tag-key", "fleet", NULL) >= 3, 1);
    CHECK_EQ_INT(count_matching(aws, "tag:Name", "app-tier-instance-1", "nobody") >= 2, 1);
    CHECK_EQ_INT(count_matching(aws, "tag:fleet", "no-such-fleet", NULL), 0);
    const char *vals[] = {fleet};
    const char *states[] = {"pending", "running"};
    struct cr_ec2_filter f[] = {{"tag:fleet", vals, 1}, {"instance-state-name", states, 2}};
    struct cr_ec2_describe_options o = {.filters = f, .num_filters = 2};
    struct cr_ec2_instances *got = NULL;
    struct cr_error err = {0};
    CHECK(cr_ec2_describe_instances(aws, &o, &got, &err) == CR_OK && got->count == 3);
    cr_ec2_instances_free(got);

    const char *ids[] = {set->instances[0].instance_id};
    struct cr_ec2_describe_options byid = {.instance_ids = ids, .num_instance_ids = 1};
    CHECK(cr_ec2_describe_instances(aws, &byid, &got, &err) == CR_OK && got->count == 1 &&
          strcmp(got->instances[0].instance_id, ids[0]) == 0);
    cr_ec2_instances_free(got);
    const char *missing[] = {"i-0000000000000000f"};
    struct cr_ec2_describe_options bad = {.instance_ids = missing, .num_instance_ids = 1};
    cr_status st = cr_ec2_describe_instances(aws, &bad, &got, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "InvalidInstanceID.NotFound", "describe unknown id");
    struct cr_ec2_describe_options tiny = {.max_results = 3};
    CHECK(cr_ec2_describe_instances(aws, &tiny, &got, &err) == CR_ERR_INVALID && !got);
}

/* Six single-instance runs, then pages of 5 until the token runs out. */
static void ec2_paging(struct cr_aws *aws)
{
    const char *fleet = name_of("paging");
    struct cr_ec2_tag tags[] = {{"fleet", fleet}};
    for (int i = 0; i < 6; i++) {
        struct cr_ec2_run_options o = {.image_id = "ami-12c6146b", .tags = tags, .num_tags = 1};
        struct cr_ec2_instances *set = NULL;
        CHECK(cr_ec2_run_instances(aws, &o, &set, NULL) == CR_OK);
        cr_ec2_instances_free(set);
    }
    const char *vals[] = {fleet};
    struct cr_ec2_filter f = {"tag:fleet", vals, 1};
    struct cr_ec2_describe_options o = {.filters = &f, .num_filters = 1, .max_results = 5};
    char token[512] = "";
    int total = 0, pages = 0;
    do {
        struct cr_ec2_instances *set = NULL;
        struct cr_error err = {0};
        o.next_token = token[0] ? token : NULL;
        if (!CHECK(cr_ec2_describe_instances(aws, &o, &set, &err) == CR_OK)) {
            DIAG("page: %s", err.message);
            break;
        }
        pages++;
        total += (int)set->count;
        CHECK(set->count <= 5);
        snprintf(token, sizeof(token), "%s", set->next_token ? set->next_token : "");
        cr_ec2_instances_free(set);
    } while (token[0] && pages < 10);
    CHECK_EQ_INT(total, 6);
    CHECK_EQ_INT(pages, 2);
}

/* Terminate known and unknown instances. */
static void ec2_terminate(struct cr_aws *aws, const struct cr_ec2_instances *set, const char *fleet)
{
    const char *ids[] = {set->instances[0].instance_id, set->instances[1].instance_id};
    struct cr_ec2_state_changes *c = NULL;
    struct cr_error err = {0};
    CHECK(cr_ec2_terminate_instances(aws, ids, 2, &c, &err) == CR_OK);
    CHECK(c && c->count == 2 && c->changes[0].previous_state && c->changes[0].current_state);
    for (size_t i = 0; c && i < c->count; i++)
        CHECK(strcmp(c->changes[i].current_state, "shutting-down") == 0 ||
              strcmp(c->changes[i].current_state, "terminated") == 0);
    cr_ec2_state_changes_free(c);
    CHECK_EQ_INT(count_matching(aws, "instance-state-name", "terminated", NULL) >= 2, 1);
    CHECK(cr_ec2_terminate_instances(aws, ids, 1, NULL, &err) == CR_OK);
    const char *unknown[] = {"i-0000000000000000f"};
    cr_status st = cr_ec2_terminate_instances(aws, unknown, 1, &c, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, "InvalidInstanceID.NotFound", "terminate unknown");
    CHECK(c == NULL && err.request_id[0]);
    CHECK(cr_ec2_terminate_instances(aws, NULL, 0, &c, &err) == CR_ERR_INVALID);
    (void)fleet;
}

/* Run's refusals. */
static void ec2_errors(struct cr_aws *aws)
{
    struct cr_ec2_instances *set = NULL;
    struct cr_error err = {0};
    struct cr_ec2_run_options none = {0};
    CHECK(cr_ec2_run_instances(aws, &none, &set, &err) == CR_ERR_INVALID && !set);
    const char *bogus[] = {"sg-00000000000000bad"};
    struct cr_ec2_run_options o = {
        .image_id = "ami-12c6146b", .security_group_ids = bogus, .num_security_group_ids = 1};
    cr_status st = cr_ec2_run_instances(aws, &o, &set, &err);
    check_fail(st, CR_ERR_NOT_FOUND, &err, NULL, "run with a missing security group");
    char big[CR_EC2_MAX_USER_DATA_BYTES + 1] = {0};
    struct cr_ec2_run_options fat = {
        .image_id = "ami-12c6146b", .user_data = big, .user_data_len = sizeof(big)};
    CHECK(cr_ec2_run_instances(aws, &fat, &set, &err) == CR_ERR_INVALID);
}

static void check_ec2(struct cr_aws *aws, const char *profile)
{
    const char *fleet = name_of("fleet");
    struct cr_ec2_instances *set = ec2_run_full(aws, fleet);
    if (set && set->count == 2) {
        ec2_run_subnet(aws, &set->instances[0], fleet, profile);
        ec2_describe(aws, set, fleet);
        ec2_terminate(aws, set, fleet);
    }
    cr_ec2_instances_free(set);
    ec2_paging(aws);
    ec2_errors(aws);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: svc_check s3|sqs|ec2 RUN [PROFILE]\n");
        return 2;
    }
    run_id = argv[2];
    struct cr_aws *aws = open_aws(NULL);
    if (aws && strcmp(argv[1], "s3") == 0)
        check_s3(aws);
    else if (aws && strcmp(argv[1], "sqs") == 0)
        check_sqs(aws);
    else if (aws && strcmp(argv[1], "ec2") == 0)
        check_ec2(aws, argc > 3 ? argv[3] : NULL);
    cr_aws_free(aws);
    return tap_done();
}
