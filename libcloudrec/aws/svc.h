/*
 * svc.h - helpers shared by the S3, SQS and EC2 modules (s3.c, sqs.c,
 * ec2.c); internal, cr__ names, never exported.
 *
 * The query APIs (SQS, EC2) all look alike: a form body with Action and
 * Version, POSTed to "/", answered with an XML document. cr__svc_query()
 * does that round trip; the form helpers build numbered parameters
 * ("Attribute.3.Name"); cr__svc_fill() copies the text of several child
 * elements into a struct's owned strings from a table of offsets, so the
 * parsers read as a list of field names.
 */
#ifndef CLOUDREC_AWS_SVC_H
#define CLOUDREC_AWS_SVC_H

#include "aws/aws_internal.h"
#include "aws/xml.h"

#include <stddef.h>
#include <stdint.h>

/* API versions sent with every query call. */
#define CR__SQS_API_VERSION "2012-11-05"
#define CR__EC2_API_VERSION "2016-11-15"

/* Starts a query form: "Action=<action>&Version=<version>". The buffer must
 * be empty (initialised); release it with cr_buf_clear. */
cr_status cr__svc_form_begin(struct cr_buf *form, const char *action, const char *version);

/* Appends one parameter whose name is formatted (printf-style, e.g.
 * "Attribute.%zu.Name"); the value is percent-encoded. A NULL value
 * appends nothing and succeeds, so optional parameters need no if. */
cr_status cr__svc_form_addf(struct cr_buf *form, const char *value, const char *name_fmt, ...)
    CR_PRINTF(3, 4);

/* Appends name=<decimal value>. */
cr_status cr__svc_form_add_long(struct cr_buf *form, const char *name, long long value);

/*
 * POSTs form to "/" of service ("sqs", "ec2") and parses the XML answer
 * into *doc (release with cr__xml_free). timeout_ms 0 = the context's.
 * Spaces in the form are rewritten from %20 to '+' first (as the SDKs send
 * them), so the caller's buffer changes.
 * Errors are those of cr__aws_send; an answer that is not XML gives
 * CR_ERR_FORMAT with a message naming the action. *doc is NULL on failure.
 */
cr_status cr__svc_query(struct cr_aws *aws, const char *service, struct cr_buf *form,
                        long timeout_ms, struct cr__xml_doc **doc, struct cr_error *err);

/* Copies the text of parent's first child element `name` into *out
 * (malloc'd). A missing element leaves *out NULL and is not an error;
 * CR_ERR_NOMEM when the copy fails. */
cr_status cr__svc_text(const struct cr__xml_node *parent, const char *name, char **out);

/* One row of a cr__svc_fill table: child element name -> char * member. */
struct cr__svc_field {
    const char *element;
    size_t offset; /* offsetof(struct ..., member), a char * member */
};

/* Runs cr__svc_text for every row, storing into the char * at base +
 * offset. Stops at the first CR_ERR_NOMEM; what was copied stays (the
 * caller's free function releases it). */
cr_status cr__svc_fill(const struct cr__xml_node *parent, void *base,
                       const struct cr__svc_field *fields, size_t num_fields);

/* Parses a decimal integer (optionally signed, or with a fraction that is
 * ignored: moto writes some timestamps as "1700000000.123"). Returns
 * fallback for NULL, empty or malformed text. */
int64_t cr__svc_parse_int(const char *text, int64_t fallback);

/* Appends copies of name/value pairs to the parallel arrays *names and
 * *values of *count entries (each grown by one). The caller frees both
 * arrays and their strings (cr__svc_strv_free). */
cr_status cr__svc_pair_push(char ***names, char ***values, size_t *count, const char *name,
                            const char *value);

/* Appends a copy of s to the string array *v of *count entries. */
cr_status cr__svc_strv_push(char ***v, size_t *count, const char *s);

/* Frees n strings of v and v itself. Accepts NULL. */
void cr__svc_strv_free(char **v, size_t n);

/* The value paired with name (exact match) in parallel arrays, or NULL. */
const char *cr__svc_pair_find(char *const *names, char *const *values, size_t count,
                              const char *name);

/* Overrides err's status and returns it, keeping the detail: for modules
 * that map a service code more precisely than the transport does. */
cr_status cr__svc_remap(struct cr_error *err, cr_status status);

/*
 * The answer parsers of s3.c, sqs.c and ec2.c, shared so tests/fuzz can feed
 * them any document without a server. Each fills a zeroed struct the caller
 * allocated (calloc) and releases with the public *_free function, also after
 * a failure, when it may be partly filled. CR_ERR_FORMAT for an element the
 * type requires that is missing, CR_ERR_NOMEM.
 */
struct cr_s3_list;
struct cr_sqs_batch;
struct cr_sqs_messages;
struct cr_sqs_queue_attributes;
struct cr_ec2_instances;
struct cr_ec2_state_changes;

/* A ListObjectsV2 answer (root: ListBucketResult). */
cr_status cr__s3_parse_list(const struct cr__xml_node *root, struct cr_s3_list *l);
/* A batch answer; b->results must already hold b->num_results entries (one
 * per entry sent), and ok_name is the success element's name. CR_ERR_FORMAT
 * also for an entry id out of range or named twice. */
cr_status cr__sqs_parse_batch(const struct cr__xml_doc *doc, const char *ok_name,
                              struct cr_sqs_batch *b);
/* A ReceiveMessage answer. */
cr_status cr__sqs_parse_messages(const struct cr__xml_doc *doc, struct cr_sqs_messages *out);
/* A GetQueueAttributes answer. */
cr_status cr__sqs_parse_queue_attributes(const struct cr__xml_doc *doc,
                                         struct cr_sqs_queue_attributes *a);
/* A RunInstances (reservations == 0) or DescribeInstances answer. */
cr_status cr__ec2_parse_instances(const struct cr__xml_doc *doc, int reservations,
                                  struct cr_ec2_instances *set);
/* A TerminateInstances answer's state changes. */
cr_status cr__ec2_parse_changes(const struct cr__xml_doc *doc, struct cr_ec2_state_changes *set);

#endif
