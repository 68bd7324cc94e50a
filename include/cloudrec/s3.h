/*
 * cloudrec/s3.h - Amazon S3: create a bucket, put, get, head and delete
 * objects, list a bucket (ListObjectsV2, paged).
 *
 * Every call takes an AWS context (cloudrec/aws.h) for the region,
 * credentials, endpoint, retries and its reused connection, and, last, an
 * optional struct cr_error for detail (HTTP status, AWS code, request id).
 * Like the context, nothing here is thread-safe: one cr_aws per thread.
 *
 * Ownership: every argument is borrowed for the call. Results come back in
 * memory the caller owns: a struct cr_s3_object or cr_s3_list allocated by
 * the library (release with cr_s3_object_free / cr_s3_list_free, which
 * accept NULL), or bytes appended to the caller's struct cr_buf. On failure
 * the *out pointers are NULL and a buffer is left as it was.
 *
 * Names are passed as they are: the library percent-encodes keys (a '/' in
 * a key stays a '/'). docs/s3.md has the details and the error table.
 */
#ifndef CLOUDREC_S3_H
#define CLOUDREC_S3_H

#include "cloudrec/aws.h"
#include "cloudrec/core.h"

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* S3's limits on a key's length and on one page of a listing. */
#define CR_S3_MAX_KEY_BYTES 1024
#define CR_S3_MAX_LIST_KEYS 1000

/* What S3 says about one object. Strings are owned by the struct; a field
 * S3 did not send is NULL (strings) or -1 (size) or 0 (time). */
struct cr_s3_object {
    char *key;               /* the key, decoded */
    char *etag;              /* without the surrounding quotes */
    char *content_type;      /* from put, get and head; NULL in listings */
    char *storage_class;     /* from listings ("STANDARD"); NULL otherwise */
    int64_t size_bytes;      /* -1 when unknown */
    int64_t last_modified_s; /* Unix seconds, 0 when unknown */
};

/* Frees an object description and its strings. Accepts NULL. */
CR_API void cr_s3_object_free(struct cr_s3_object *obj);

/* Options for cr_s3_create_bucket; NULL or zero fields take the defaults. */
struct cr_s3_create_bucket_options {
    /* Region the bucket lives in. NULL: the context's region. Sent as the
     * LocationConstraint body, except for us-east-1, which takes none. The
     * request itself is signed for the context's region, so on AWS a
     * different value only works from a us-east-1 context. */
    const char *region;
};

/*
 * Creates bucket. Creating a bucket you already own is success, so set-up
 * code can run again (AWS answers BucketAlreadyOwnedByYou outside
 * us-east-1 and 200 inside). CR_ERR_EXISTS when someone else owns the name
 * (BucketAlreadyExists), CR_ERR_INVALID for a bad name or region (also
 * from the service: InvalidBucketName, IllegalLocationConstraintException
 * ...), plus the transport's errors (CR_ERR_AUTH, CR_ERR_NETWORK, ...).
 */
CR_API cr_status cr_s3_create_bucket(struct cr_aws *aws, const char *bucket,
                                     const struct cr_s3_create_bucket_options *opts,
                                     struct cr_error *err);

/* Options for cr_s3_put_object. */
struct cr_s3_put_options {
    const char *content_type; /* NULL: "application/octet-stream" */
};

/*
 * Stores len bytes of data (NULL allowed when len is 0) under bucket/key,
 * replacing any object there. When info is non-NULL it receives the new
 * object's key, ETag, size and content type (free with cr_s3_object_free).
 * CR_ERR_NOT_FOUND: no such bucket. CR_ERR_INVALID: empty bucket or key, a
 * key over CR_S3_MAX_KEY_BYTES.
 */
CR_API cr_status cr_s3_put_object(struct cr_aws *aws, const char *bucket, const char *key,
                                  const void *data, size_t len,
                                  const struct cr_s3_put_options *opts, struct cr_s3_object **info,
                                  struct cr_error *err);

/* Options for cr_s3_get_object. */
struct cr_s3_get_options {
    /* Largest object accepted; 0: the context's max_response_bytes. A larger
     * object fails with CR_ERR_TOO_LARGE (and is not retried). */
    size_t max_bytes;
};

/*
 * Appends the object's bytes to out (unchanged on failure; out's own
 * max_bytes applies too). When info is non-NULL it receives the object's
 * description (free with cr_s3_object_free). CR_ERR_NOT_FOUND: no such key
 * (aws_code NoSuchKey) or no such bucket (NoSuchBucket).
 */
CR_API cr_status cr_s3_get_object(struct cr_aws *aws, const char *bucket, const char *key,
                                  const struct cr_s3_get_options *opts, struct cr_buf *out,
                                  struct cr_s3_object **info, struct cr_error *err);

/*
 * Describes an object without fetching it (HEAD) into *out (free with
 * cr_s3_object_free). CR_ERR_NOT_FOUND when the key or bucket does not
 * exist (a HEAD answer has no body, so aws_code stays empty).
 */
CR_API cr_status cr_s3_head_object(struct cr_aws *aws, const char *bucket, const char *key,
                                   struct cr_s3_object **out, struct cr_error *err);

/*
 * Deletes bucket/key. Deleting a key that does not exist is success, as in
 * S3; a bucket that does not exist is CR_ERR_NOT_FOUND.
 */
CR_API cr_status cr_s3_delete_object(struct cr_aws *aws, const char *bucket, const char *key,
                                     struct cr_error *err);

/* Options for cr_s3_list_objects; all optional. */
struct cr_s3_list_options {
    const char *prefix;             /* only keys that start with it */
    const char *continuation_token; /* next_continuation_token of the page before */
    const char *start_after;        /* only keys after this one (first page) */
    int max_keys;                   /* keys per page, 1..1000; 0 = 1000 */
};

/* One page of a listing, in key order. Release with cr_s3_list_free. */
struct cr_s3_list {
    struct cr_s3_object *objects; /* num_objects entries, owned */
    size_t num_objects;
    int is_truncated;              /* more keys follow */
    char *next_continuation_token; /* pass it back for the next page; NULL
                                      on the last one */
};

/*
 * Lists one page of bucket's keys into *out. Follow next_continuation_token
 * until it is NULL to see them all. CR_ERR_NOT_FOUND: no such bucket;
 * CR_ERR_INVALID: max_keys out of range.
 */
CR_API cr_status cr_s3_list_objects(struct cr_aws *aws, const char *bucket,
                                    const struct cr_s3_list_options *opts, struct cr_s3_list **out,
                                    struct cr_error *err);

/* Frees a listing, its objects and their strings. Accepts NULL. */
CR_API void cr_s3_list_free(struct cr_s3_list *list);

#ifdef __cplusplus
}
#endif
#endif
