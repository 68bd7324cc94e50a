/*
 * pipeline/message.h - the queue message formats (DESIGN section 4).
 *
 * Messages are small JSON objects with a version field "v" (currently 1).
 * Request (web tier -> workers):
 *   {"v":1,"id":"<uuid>","name":"test_0.JPEG","input":"<store url>",
 *    "key":"test_0.JPEG","reply":"<queue url>","enqueued_ms":1700000000000}
 * Response (worker -> web tier), success:
 *   {"v":1,"id":"<uuid>","name":"test_0.JPEG","label":"bathtub",
 *    "top":[{"label":"bathtub","p":0.61},...],"worker":"w-1","ms":42,"batch":3}
 * Response, failure:
 *   {"v":1,"id":"<uuid>","name":"test_0.JPEG","error":"not a JPEG or PNG image"}
 * Decoders ignore unknown fields and reject a missing id or an unknown version.
 * The full rules (required fields, limits, versioning) are in docs/messages.md.
 * All functions are thread-safe (they touch no shared state).
 *
 * Internal since 0.2 (docs/api.md): not installed, not exported; the
 * programs and tests that use it link the static archive.
 */
#ifndef CLOUDREC_PIPELINE_MESSAGE_H
#define CLOUDREC_PIPELINE_MESSAGE_H

#include "internal.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_MSG_VERSION 1
#define CR_MSG_MAX_TOP 5
#define CR_MSG_MAX_BATCH 10 /* the most requests one receive takes (SQS's limit) */
#define CR_MSG_NAME_MAX 256
#define CR_MSG_URL_MAX 1024
#define CR_MSG_TEXT_MAX 512
/* The largest message a decoder reads; encoders never come close. */
#define CR_MSG_MAX_BYTES 65536

/* String fields are NUL-terminated UTF-8 and must fit their arrays (at most
 * size - 1 bytes); a field that does not is CR_ERR_INVALID to encode and
 * CR_ERR_FORMAT to decode. */

/* A request: every string field is required; enqueued_ms (wall clock,
 * milliseconds since the epoch, >= 0) may be 0 for unknown. */
struct cr_request_msg {
    char id[CR_UUID_STR_LEN];
    char name[CR_MSG_NAME_MAX]; /* the uploaded file's safe name, e.g. test_0.JPEG */
    char input[CR_MSG_URL_MAX]; /* store URL holding the image */
    char key[CR_MSG_NAME_MAX];  /* object key of the image in that store */
    char reply[CR_MSG_URL_MAX]; /* queue URL for the response */
    int64_t enqueued_ms;
};

struct cr_msg_label {
    char label[128];   /* required, non-empty */
    float probability; /* 0..1 ("p" on the wire) */
};

/* A response: id is required and exactly one of label (success) and error
 * (failure) is non-empty. A failure carries no top list. name, worker,
 * processing_ms (>= 0, "ms" on the wire) and batch (0 or 1..10) are
 * optional. */
struct cr_response_msg {
    char id[CR_UUID_STR_LEN];
    char name[CR_MSG_NAME_MAX];
    char label[128]; /* "" when error is set */
    struct cr_msg_label top[CR_MSG_MAX_TOP];
    int num_top;
    char worker[64];
    int64_t processing_ms;
    int batch;                   /* requests the worker took in the same receive as this
                                    one, 1..10 ("batch" on the wire); 0 = not said */
    char error[CR_MSG_TEXT_MAX]; /* "" on success */
};

/* Appends the JSON form to out. CR_ERR_INVALID if a required field is empty,
 * a field breaks the rules above, or a string is not valid UTF-8; out is then
 * left as it was (also on CR_ERR_TOO_LARGE / CR_ERR_NOMEM from the buffer).
 * The one exception is error, free text for people: bytes in it that are not
 * valid UTF-8 (say, a message cut inside a character) are sent as '?' so a
 * failure answer always goes out. */
cr_status cr_request_msg_encode(const struct cr_request_msg *m, struct cr_buf *out);
cr_status cr_response_msg_encode(const struct cr_response_msg *m, struct cr_buf *out);

/* Parses a message of at most CR_MSG_MAX_BYTES. CR_ERR_FORMAT (not strict
 * JSON, not an object, missing or mistyped field, a field too long, rules
 * above broken) or CR_ERR_UNSUPPORTED (a "v" other than 1), with detail in
 * err; CR_ERR_NOMEM. The version is checked first, so a future version is
 * UNSUPPORTED whatever its other fields. Unknown fields are ignored; null
 * counts as absent for optional fields. *m is zeroed first. */
cr_status cr_request_msg_decode(const char *json, size_t len, struct cr_request_msg *m,
                                struct cr_error *err);
cr_status cr_response_msg_decode(const char *json, size_t len, struct cr_response_msg *m,
                                 struct cr_error *err);

/*
 * Store keys (docs/messages.md, "Store keys"). Every key the service reads
 * back comes from the request id, never from the uploaded file name, so two
 * uploads of IMG_0001.jpg never meet:
 *  - input store:  "<id>.jpg" or "<id>.png" (by the sniffed format, never
 *                  the user's name): the uploaded bytes
 *  - output store: "<id>.json"  the response message (cr_response_msg_encode),
 *                               success or failure; GET /v1/results/<id>
 *  - output store: "<stem>"     the label alone, for the course's view; last
 *                               writer wins and the service never reads it
 *                               (written only when the stem is a safe key,
 *                               see cr_output_key below)
 * cr_result_key writes "<id>.json" into out (size n); CR_ERR_INVALID when id
 * is not a canonical lower-case UUID or out is too small.
 */
cr_status cr_result_key(const char *id, char *out, size_t n);

/* 1 when s is a canonical lower-case UUID string (8-4-4-4-12 hex digits). */
int cr_uuid_is_valid(const char *s);

/* The course's output key of an uploaded name: the name without its last
 * extension ("test_0.JPEG" -> "test_0"; a name without a dot is kept).
 * CR_ERR_INVALID when the result is empty, does not fit in out (size n) or is
 * not a safe store key (the worker then writes no such object). */
cr_status cr_output_key(const char *name, char *out, size_t n);

#ifdef __cplusplus
}
#endif
#endif
