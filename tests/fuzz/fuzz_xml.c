/*
 * fuzz_xml.c - the XML readers: aws/xml.c (the library's only libxml2 user)
 * and every answer parser built on it (S3 ListObjectsV2, SQS ReceiveMessage,
 * batch and GetQueueAttributes, EC2 RunInstances, DescribeInstances and
 * TerminateInstances, the AWS error document), fed any bytes as if an
 * endpoint had answered them. Each document goes through all of them, as a
 * hostile or broken endpoint could send any answer to any call.
 *
 * Batch answers are read as answers to a batch of CR_SQS_MAX_BATCH entries,
 * so every entry id a real answer can hold is in range. Beyond "never crash, never leak": a parsed document's tree can be walked
 * and its text read, and a refused document comes with a status.
 */
#include "fuzz.h"

#include "aws/svc.h"
#include "aws/xml.h"
#include "cloudrec/ec2.h"
#include "cloudrec/s3.h"
#include "cloudrec/sqs.h"

#include <string.h>

/* Visits at most *budget elements below node, reading each one's name and
 * text, so deep or wide documents stay cheap. */
static void walk(const struct cr__xml_node *node, int *budget)
{
    for (const struct cr__xml_node *c = cr__xml_child(node, NULL); c && *budget > 0;
         c = cr__xml_next(c, NULL)) {
        --*budget;
        FUZZ_REQUIRE(cr__xml_name(c) != NULL, "every element has a name");
        char *text = cr__xml_text(c);
        FUZZ_REQUIRE(text != NULL, "every element has a text, maybe empty");
        free(text);
        walk(c, budget);
    }
}

static void parse_s3(const struct cr__xml_doc *doc)
{
    struct cr_s3_list *l = calloc(1, sizeof(*l));
    if (l && cr__s3_parse_list(cr__xml_root(doc), l) == CR_OK)
        for (size_t i = 0; i < l->num_objects; i++)
            FUZZ_REQUIRE(l->objects[i].key != NULL, "a listed object has a key");
    cr_s3_list_free(l);
}

static void parse_sqs(const struct cr__xml_doc *doc, size_t batch_entries)
{
    struct cr_sqs_messages *m = calloc(1, sizeof(*m));
    if (m && cr__sqs_parse_messages(doc, m) == CR_OK)
        for (size_t i = 0; i < m->count; i++)
            FUZZ_REQUIRE(m->messages[i].body && m->messages[i].receipt_handle,
                         "a received message has a body and a receipt");
    cr_sqs_messages_free(m);

    static const char *const ok_names[] = {"SendMessageBatchResultEntry",
                                           "DeleteMessageBatchResultEntry"};
    for (size_t k = 0; k < 2; k++) {
        struct cr_sqs_batch *b = calloc(1, sizeof(*b));
        if (b && (b->results = calloc(batch_entries, sizeof(*b->results))))
            b->num_results = batch_entries;
        if (b && b->results && cr__sqs_parse_batch(doc, ok_names[k], b) == CR_OK)
            for (size_t i = 0; i < b->num_results; i++)
                FUZZ_REQUIRE(b->results[i].ok == 0 || b->results[i].ok == 1,
                             "every batch entry ends done or failed");
        cr_sqs_batch_free(b);
    }

    struct cr_sqs_queue_attributes *a = calloc(1, sizeof(*a));
    if (a)
        cr__sqs_parse_queue_attributes(doc, a);
    cr_sqs_queue_attributes_free(a);
}

static void parse_ec2(const struct cr__xml_doc *doc)
{
    for (int reservations = 0; reservations <= 1; reservations++) {
        struct cr_ec2_instances *set = calloc(1, sizeof(*set));
        if (set && cr__ec2_parse_instances(doc, reservations, set) == CR_OK)
            for (size_t i = 0; i < set->count; i++)
                FUZZ_REQUIRE(set->instances[i].instance_id != NULL, "an instance has an id");
        cr_ec2_instances_free(set);
    }
    struct cr_ec2_state_changes *ch = calloc(1, sizeof(*ch));
    if (ch)
        cr__ec2_parse_changes(doc, ch);
    cr_ec2_state_changes_free(ch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cr_error err = {0};
    cr__aws_parse_error(400, data, size, "req-1", &err);
    FUZZ_REQUIRE(err.status != CR_OK, "an error answer maps to an error status");

    struct cr__xml_doc *doc = NULL;
    cr_status st = cr__xml_parse(data, size, 64 * 1024, &doc, &err);
    if (st != CR_OK) {
        FUZZ_REQUIRE(doc == NULL, "a refused document gives no tree");
        FUZZ_REQUIRE(st == CR_ERR_FORMAT || st == CR_ERR_TOO_LARGE || st == CR_ERR_NOMEM,
                     "a refused document is FORMAT or TOO_LARGE");
        return 0;
    }
    const struct cr__xml_node *root = cr__xml_root(doc);
    FUZZ_REQUIRE(root != NULL, "a parsed document has a root element");
    int budget = 2000;
    walk(root, &budget);
    parse_s3(doc);
    parse_sqs(doc, CR_SQS_MAX_BATCH);
    parse_ec2(doc);
    cr__xml_free(doc);
    return 0;
}
