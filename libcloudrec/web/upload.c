/* upload.c - reading one multipart/form-data upload and deciding whether it
 * is acceptable: which part is the file, its name, its size, and whether it
 * looks like a JPEG or PNG image of an acceptable size. */
#include "web/web_internal.h"

#include "cloudrec/image.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PP_BUFFER_BYTES (64 * 1024)
/* A body over the limit is read and dropped up to this much further, so the
 * client that does not wait for "100 Continue" still reads our 413 instead
 * of a connection reset; past that the connection is dropped. */
#define DRAIN_EXTRA_BYTES ((uint64_t)64 * 1024 * 1024)

/* How much a part's field name makes it the file part: the names of
 * DESIGN section 4 in order of preference, then any part with a file name
 * (1), else not a candidate (0). */
static int part_rank(const char *key, const char *filename)
{
    if (key && strcmp(key, "inputFile") == 0)
        return 4;
    if (key && strcmp(key, "myfile") == 0)
        return 3;
    if (key && strcmp(key, "file") == 0)
        return 2;
    return filename ? 1 : 0;
}

/* Starts a new part: remembers its name and makes it the chosen part when it
 * ranks above the part chosen so far (so the data of a lesser part read
 * earlier is dropped). */
static void part_start(struct cr__web_upload *up, const char *key, const char *filename)
{
    up->in_part = 1;
    up->part_bytes = 0;
    cr__strlcpy(up->part_key, key ? key : "", sizeof(up->part_key));
    cr__strlcpy(up->part_file, filename ? filename : "", sizeof(up->part_file));
    int rank = part_rank(key, filename);
    up->reading = rank > 0 && rank > up->rank;
    if (!up->reading)
        return;
    up->rank = rank;
    cr__buf_reset(&up->data);
    up->file_missing = filename == NULL || filename[0] == '\0';
    up->file_too_long = filename && strlen(filename) >= sizeof(up->file);
    cr__strlcpy(up->file, filename ? filename : "", sizeof(up->file));
}

/* 1 when a call of the post processor begins a part other than the current
 * one. The processor calls at least once per part with offset 0 (maybe with
 * no data); further calls for that part have offsets past the data given. */
static int is_new_part(const struct cr__web_upload *up, const char *key, const char *filename,
                       uint64_t off)
{
    if (off != 0)
        return 0;
    if (!up->in_part || up->part_bytes > 0)
        return 1;
    return strcmp(up->part_key, key ? key : "") != 0 ||
           strncmp(up->part_file, filename ? filename : "", sizeof(up->part_file) - 1) != 0;
}

/* MHD_PostDataIterator: collects the chosen part's bytes. Returning MHD_NO
 * stops the post processor (the upload is then refused). */
static enum MHD_Result on_part_data(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *transfer_encoding, const char *data, uint64_t off,
                                    size_t size)
{
    struct cr__web_request *r = cls;
    struct cr__web_upload *up = &r->up;
    (void)kind, (void)content_type, (void)transfer_encoding;
    if (is_new_part(up, key, filename, off))
        part_start(up, key, filename);
    up->part_bytes += size;
    if (!up->reading || size == 0)
        return MHD_YES;
    cr_status st = cr__buf_append(&up->data, data, size);
    if (st == CR_ERR_TOO_LARGE)
        up->too_large = 1;
    return st == CR_OK ? MHD_YES : MHD_NO;
}

/* The Content-Length header as a number; -1 when absent or not a number. */
static long long content_length(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (!v || !*v)
        return -1;
    char *end = NULL;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    return errno || *end || n < 0 ? -1 : n;
}

/* 1 when the client waits for "100 Continue" before sending the body. */
static int expects_continue(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_EXPECT);
    return v && strcasecmp(v, "100-continue") == 0;
}

cr_status cr__web_upload_begin(struct cr__web_request *r, struct cr_error *err)
{
    struct cr__web_upload *up = &r->up;
    size_t max = r->server->opts.max_body_bytes;
    const char *type =
        MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE);
    static const char multipart[] = "multipart/form-data";
    if (!type || strncasecmp(type, multipart, sizeof(multipart) - 1) != 0)
        return cr__web_http_fail(err, 415,
                                 "expected a multipart/form-data body with a file part (field "
                                 "inputFile)");
    up->rank = -1;
    up->drain_limit = (uint64_t)max + DRAIN_EXTRA_BYTES;
    cr_buf_init(&up->data, max);
    long long declared = content_length(r->conn);
    if (declared > (long long)max) {
        /* Refuse now when the client can take it cleanly (it waits for
         * 100 Continue) or the body is too big to drain; else read and drop
         * the body and answer 413 at the end. */
        if (expects_continue(r->conn) || (uint64_t)declared > up->drain_limit)
            return cr__web_http_fail(err, 413, "upload larger than %zu bytes", max);
        up->too_large = 1;
        return CR_OK;
    }
    up->pp = MHD_create_post_processor(r->conn, PP_BUFFER_BYTES, on_part_data, r);
    if (!up->pp)
        return cr__web_http_fail(err, 400, "malformed multipart: no boundary in Content-Type");
    return CR_OK;
}

int cr__web_upload_feed(struct cr__web_request *r, const char *data, size_t size)
{
    struct cr__web_upload *up = &r->up;
    atomic_fetch_add(&r->server->metrics.body_bytes, size);
    up->body_bytes += size;
    if (up->body_bytes > r->server->opts.max_body_bytes)
        up->too_large = 1;
    if (up->body_bytes > up->drain_limit)
        return -1;
    if (up->too_large || up->malformed || !up->pp)
        return 0;
    if (MHD_post_process(up->pp, data, size) != MHD_YES)
        up->malformed = !up->too_large;
    return 0;
}

/* Finishes the post processor; an unfinished body is malformed. */
static void finish_parsing(struct cr__web_upload *up)
{
    if (!up->pp)
        return;
    if (MHD_destroy_post_processor(up->pp) != MHD_YES && !up->too_large)
        up->malformed = 1;
    up->pp = NULL;
}

/* The checks that need only the parsing state. */
static cr_status check_parts(struct cr__web_request *r, struct cr_error *err)
{
    const struct cr__web_upload *up = &r->up;
    if (up->too_large)
        return cr__web_http_fail(err, 413, "upload larger than %zu bytes",
                                 r->server->opts.max_body_bytes);
    if (up->malformed)
        return cr__web_http_fail(err, 400, "malformed multipart body");
    if (up->rank < 0)
        return cr__web_http_fail(err, 400, "no file part (use field inputFile)");
    if (up->file_too_long)
        return cr__web_http_fail(err, 400, "file name longer than %d bytes", CR_WEB_MAX_NAME);
    cr_status st = cr__web_upload_name(up->file, r->name, sizeof(r->name), err);
    if (st != CR_OK)
        return st;
    if (cr__name_stem(r->name, r->stem, sizeof(r->stem)) != CR_OK)
        return cr__web_http_fail(err, 400, "file name without a stem");
    if (up->data.len == 0)
        return cr__web_http_fail(err, 400, "empty file");
    return CR_OK;
}

/* The image checks: a JPEG or PNG header with at most max_pixels. */
static cr_status check_image(struct cr__web_request *r, struct cr_error *err)
{
    const struct cr_buf *data = &r->up.data;
    enum cr_image_format format = CR_IMAGE_UNKNOWN;
    int w = 0, h = 0;
    struct cr_error perr = {0};
    cr_status st = cr_image_probe(data->data, data->len, &format, &w, &h, &perr);
    if (st == CR_ERR_UNSUPPORTED || cr_image_sniff(data->data, data->len) == CR_IMAGE_UNKNOWN)
        return cr__web_http_fail(err, 400, "not a JPEG or PNG image");
    if (st != CR_OK)
        return cr__web_http_fail(err, 400, "not a valid %s image: %s",
                                 cr_image_format_name(cr_image_sniff(data->data, data->len)),
                                 perr.message[0] ? perr.message : cr_strerror(st));
    uint64_t max = r->server->opts.max_pixels;
    if ((uint64_t)w * (uint64_t)h > max)
        return cr__web_http_fail(err, 413, "image is %dx%d pixels, over the limit of %llu", w, h,
                                 (unsigned long long)max);
    return CR_OK;
}

cr_status cr__web_upload_end(struct cr__web_request *r, struct cr_error *err)
{
    finish_parsing(&r->up);
    cr_status st = check_parts(r, err);
    if (st == CR_OK)
        st = check_image(r, err);
    return st;
}

void cr__web_upload_clear(struct cr__web_upload *up)
{
    if (up->pp)
        MHD_destroy_post_processor(up->pp);
    up->pp = NULL;
    cr_buf_clear(&up->data);
}
