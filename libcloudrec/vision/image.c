/*
 * image.c - JPEG and PNG decoding from memory. This is the library's only
 * libjpeg and libpng user: both libraries report errors by calling a handler
 * that must not return, so every call into them runs under a setjmp fence and
 * the handlers longjmp back with a message instead of printing or exiting.
 *
 * setjmp rule used throughout: the function that calls setjmp keeps no state
 * of its own that changes afterwards. Everything that must survive a longjmp
 * (the codec structs, the pixel buffer, the message) lives in a job struct
 * owned by its caller and reached through an unchanging pointer, so no local
 * needs to be volatile and the caller frees whatever was allocated.
 */
#include "internal.h"

#include "cloudrec/image.h"
#include "vision/orient.h"

#include <limits.h>
#include <setjmp.h>
#include <stdio.h> /* jpeglib.h uses FILE and size_t without including stdio.h */
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>

/* A progressive JPEG may carry any number of scans, each a pass over the
 * whole coefficient buffer; real encoders write about ten. The cap stops a
 * small file from costing minutes of CPU. */
#define CR__JPEG_MAX_SCANS 500

/* libpng caps for ancillary chunks (text, ICC profiles): how many it keeps and
 * how large one may grow once decompressed. The pixel limit covers IDAT. */
#define CR__PNG_MAX_CHUNKS 128
#define CR__PNG_MAX_CHUNK_BYTES (8u * 1024 * 1024)

/* An Exif APP1 segment starts "Exif\0\0"; the TIFF block follows. */
#define CR__EXIF_IDENT_BYTES 6

/* The PNG specification's own bound on width and height (2^31 - 1). */
#define CR__PNG_MAX_DIMENSION 0x7fffffffu

#define CR__MSG_LEN 256

static const unsigned char jpeg_magic[] = {0xff, 0xd8, 0xff};
static const unsigned char png_magic[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

/* The limits of one call, with zero fields replaced by the defaults. */
struct image_limits {
    size_t max_bytes;
    uint64_t max_pixels;
};

/* ---- shared helpers ------------------------------------------------------*/

/* True when data (len bytes) starts with the n-byte magic. */
static int has_magic(const void *data, size_t len, const unsigned char *magic, size_t n)
{
    return len >= n && memcmp(data, magic, n) == 0;
}

/* True when data is a proper, non-empty prefix of the magic: a file cut off
 * inside its signature, which deserves "truncated" rather than "not an image". */
static int is_cut_magic(const void *data, size_t len, const unsigned char *magic, size_t n)
{
    return len > 0 && len < n && memcmp(data, magic, len) == 0;
}

enum cr_image_format cr_image_sniff(const void *data, size_t len)
{
    if (!data)
        return CR_IMAGE_UNKNOWN;
    if (has_magic(data, len, jpeg_magic, sizeof(jpeg_magic)))
        return CR_IMAGE_JPEG;
    if (has_magic(data, len, png_magic, sizeof(png_magic)))
        return CR_IMAGE_PNG;
    return CR_IMAGE_UNKNOWN;
}

const char *cr_image_format_name(enum cr_image_format format)
{
    switch (format) {
    case CR_IMAGE_JPEG:
        return "jpeg";
    case CR_IMAGE_PNG:
        return "png";
    case CR_IMAGE_UNKNOWN:
        break;
    }
    return "unknown";
}

/* Fails with CR_ERR_TOO_LARGE when width x height passes the limit; called
 * with the header's dimensions before any pixel memory exists. */
static cr_status check_pixels(uint32_t width, uint32_t height, uint64_t max_pixels,
                              struct cr_error *err)
{
    if (width == 0 || height == 0)
        return cr__fail(err, CR_ERR_FORMAT, "image has no pixels (%ux%u)", (unsigned)width,
                        (unsigned)height);
    /* Both factors are below 2^32, so the product fits in 64 bits. */
    if ((uint64_t)width * height > max_pixels)
        return cr__fail(err, CR_ERR_TOO_LARGE, "image is %ux%u pixels, limit %llu", (unsigned)width,
                        (unsigned)height, (unsigned long long)max_pixels);
    return CR_OK;
}

/* Allocates width x height RGB pixels (*pixels owned by the caller). The
 * caller has passed check_pixels, but the limit itself may be huge, so the
 * byte count is still checked against SIZE_MAX. */
static cr_status alloc_rgb(uint32_t width, uint32_t height, unsigned char **pixels,
                           struct cr_error *err)
{
    uint64_t count = (uint64_t)width * height;
    if (count > SIZE_MAX / 3)
        return cr__fail(err, CR_ERR_TOO_LARGE, "image is %ux%u pixels, too large to address",
                        (unsigned)width, (unsigned)height);
    *pixels = malloc((size_t)count * 3);
    if (!*pixels)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for %ux%u pixels", (unsigned)width,
                        (unsigned)height);
    return CR_OK;
}

/* Hands the decoded pixels to out, turned upright for the EXIF orientation
 * (1..8; see orient.h). On failure out is freed and zeroed. */
static cr_status finish_image(struct cr_image *out, unsigned char *pixels, uint32_t width,
                              uint32_t height, int orientation, struct cr_error *err)
{
    out->width = (int)width;
    out->height = (int)height;
    out->channels = 3;
    out->pixels = pixels;
    cr_status st = cr__orient_apply(out, orientation, err);
    if (st != CR_OK)
        cr_image_clear(out);
    return st;
}

/* ---- JPEG ----------------------------------------------------------------*/

/* libjpeg's error manager plus the jump target and the failure it reports.
 * `pub` comes first so the j_common_ptr's err converts back to the fence. */
struct jpeg_fence {
    struct jpeg_error_mgr pub;
    struct jpeg_progress_mgr progress;
    jmp_buf jump;
    cr_status status;
    char message[CR__MSG_LEN];
};

/* One decode: the codec state and everything allocated for it, owned by the
 * caller of jpeg_run so it survives a longjmp (see the top of the file). */
struct jpeg_job {
    struct jpeg_decompress_struct cinfo;
    struct jpeg_fence fence;
    unsigned char *pixels; /* RGB result */
    unsigned char *row;    /* one CMYK scanline, for 4-component images */
    int orientation;       /* EXIF, 1..8 */
};

/* Records a failure and jumps back to jpeg_run. Never returns. */
static _Noreturn void jpeg_jump(j_common_ptr cinfo, cr_status status, const char *message)
{
    struct jpeg_fence *fence = (struct jpeg_fence *)cinfo->err;
    fence->status = status;
    cr__strlcpy(fence->message, message, sizeof(fence->message));
    longjmp(fence->jump, 1);
}

/* Fails with libjpeg's own text for its current message code after prefix. */
static _Noreturn void jpeg_fail(j_common_ptr cinfo, cr_status status, const char *prefix)
{
    char text[JMSG_LENGTH_MAX];
    char message[CR__MSG_LEN];
    cinfo->err->format_message(cinfo, text);
    snprintf(message, sizeof(message), "%s: %s", prefix, text);
    jpeg_jump(cinfo, status, message);
}

/* libjpeg's fatal-error hook: out of memory or corrupt data. */
static void jpeg_on_error(j_common_ptr cinfo)
{
    if (cinfo->err->msg_code == JERR_OUT_OF_MEMORY)
        jpeg_fail(cinfo, CR_ERR_NOMEM, "out of memory decoding JPEG");
    jpeg_fail(cinfo, CR_ERR_FORMAT, "corrupt JPEG");
}

/* libjpeg's warning and trace hook. Running out of data is a warning to
 * libjpeg, which then pads the image with gray; here it is a failure, so a
 * truncated upload is never classified. Other warnings (stray bytes before a
 * marker, a bad Huffman code in one block) are tolerated as Darknet's loader
 * tolerates them, and go to the debug log. */
static void jpeg_on_message(j_common_ptr cinfo, int msg_level)
{
    if (msg_level >= 0)
        return; /* trace messages */
    if (cinfo->err->msg_code == JWRN_JPEG_EOF)
        jpeg_fail(cinfo, CR_ERR_FORMAT, "truncated JPEG");
    cinfo->err->num_warnings++;
    if (cr__log_enabled(CR_LOG_DEBUG)) {
        char text[JMSG_LENGTH_MAX];
        cinfo->err->format_message(cinfo, text);
        cr__log(CR_LOG_DEBUG, "msg=\"jpeg warning\" detail=\"%s\"", text);
    }
}

/* Replaces libjpeg's printing to stderr; messages reach people through
 * jpeg_fail and the log instead. */
static void jpeg_on_output(j_common_ptr cinfo)
{
    (void)cinfo;
}

/* Called by libjpeg as it works; refuses progressive files with too many scans. */
static void jpeg_on_progress(j_common_ptr cinfo)
{
    j_decompress_ptr dinfo = (j_decompress_ptr)cinfo;
    if (!cinfo->is_decompressor || dinfo->input_scan_number <= CR__JPEG_MAX_SCANS)
        return;
    char message[CR__MSG_LEN];
    snprintf(message, sizeof(message), "corrupt JPEG: more than %d scans", CR__JPEG_MAX_SCANS);
    jpeg_jump(cinfo, CR_ERR_FORMAT, message);
}

/* Installs the fence's hooks; returns the error manager for cinfo->err. */
static struct jpeg_error_mgr *jpeg_fence_init(struct jpeg_fence *fence)
{
    struct jpeg_error_mgr *mgr = jpeg_std_error(&fence->pub);
    mgr->error_exit = jpeg_on_error;
    mgr->emit_message = jpeg_on_message;
    mgr->output_message = jpeg_on_output;
    fence->progress.progress_monitor = jpeg_on_progress;
    fence->status = CR_ERR_FORMAT;
    return mgr;
}

/*
 * Chooses libjpeg's output after the header is read. Everything except the
 * output color space stays at libjpeg's defaults (DCT method, fancy
 * upsampling), which is what OpenCV, and so Darknet, decodes with. libjpeg
 * cannot turn CMYK into RGB, so 4-component files come out as CMYK and are
 * converted here.
 */
static cr_status jpeg_choose_output(j_decompress_ptr cinfo, struct cr_error *err)
{
    switch (cinfo->jpeg_color_space) {
    case JCS_GRAYSCALE:
    case JCS_YCbCr:
    case JCS_RGB:
        cinfo->out_color_space = JCS_RGB;
        return CR_OK;
    case JCS_CMYK:
    case JCS_YCCK:
        cinfo->out_color_space = JCS_CMYK;
        return CR_OK;
    default:
        return cr__fail(err, CR_ERR_UNSUPPORTED, "JPEG with %d components is not supported",
                        cinfo->num_components);
    }
}

/*
 * Converts one scanline of CMYK samples to RGB. Adobe files (Photoshop, and
 * every YCCK file) store the channels inverted, 255 meaning no ink, so red is
 * C*K/255; OpenCV computes that as K - ((255 - C) * K >> 8) and the same
 * integer form is used here so the pixels match Darknet's. A CMYK file
 * without the Adobe marker stores ink amounts directly, so the samples are
 * inverted first (OpenCV does not look at the marker; such files are rare).
 */
static void cmyk_to_rgb(const unsigned char *src, unsigned char *dst, size_t width, int inverted)
{
    for (size_t x = 0; x < width; x++, src += 4, dst += 3) {
        int k = inverted ? src[3] : 255 - src[3];
        for (int c = 0; c < 3; c++) {
            int v = inverted ? src[c] : 255 - src[c];
            dst[c] = (unsigned char)(k - (((255 - v) * k) >> 8));
        }
    }
}

/* Reads every scanline into job->pixels, converting CMYK rows on the way. */
static void jpeg_read_rows(struct jpeg_job *job)
{
    j_decompress_ptr cinfo = &job->cinfo;
    size_t stride = (size_t)cinfo->output_width * 3;
    while (cinfo->output_scanline < cinfo->output_height) {
        unsigned char *dst = job->pixels + (size_t)cinfo->output_scanline * stride;
        JSAMPROW row = job->row ? job->row : dst;
        if (jpeg_read_scanlines(cinfo, &row, 1) != 1)
            jpeg_jump((j_common_ptr)cinfo, CR_ERR_INTERNAL, "libjpeg suspended on memory input");
        if (job->row)
            cmyk_to_rgb(job->row, dst, cinfo->output_width, cinfo->saw_Adobe_marker);
    }
}

/* Allocates the result and, for CMYK, the conversion scanline. */
static cr_status jpeg_alloc(struct jpeg_job *job, struct cr_error *err)
{
    j_decompress_ptr cinfo = &job->cinfo;
    int want = cinfo->out_color_space == JCS_CMYK ? 4 : 3;
    if (cinfo->output_components != want)
        return cr__fail(err, CR_ERR_INTERNAL, "libjpeg gave %d components, expected %d",
                        cinfo->output_components, want);
    if (want == 4 && !(job->row = malloc((size_t)cinfo->output_width * 4)))
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for a JPEG scanline");
    return alloc_rgb(cinfo->output_width, cinfo->output_height, &job->pixels, err);
}

/*
 * The EXIF orientation (1..8) of a JPEG whose header has been read with its
 * APP1 segments saved; 1 when there is none. As in OpenCV only the first
 * APP1 counts and its first 6 bytes are skipped without checking for
 * "Exif\0\0", so a first APP1 holding XMP hides a later Exif one.
 */
static int jpeg_orientation(j_decompress_ptr cinfo)
{
    for (jpeg_saved_marker_ptr m = cinfo->marker_list; m; m = m->next) {
        if (m->marker != JPEG_APP0 + 1)
            continue;
        if (m->data_length <= CR__EXIF_IDENT_BYTES)
            return 1;
        return cr__exif_orientation(m->data + CR__EXIF_IDENT_BYTES,
                                    m->data_length - CR__EXIF_IDENT_BYTES);
    }
    return 1;
}

/*
 * Runs libjpeg over the data under the fence: the header only when
 * header_only, otherwise the whole image into job->pixels. The caller zeroes
 * the job beforehand and destroys it afterwards, on success and failure.
 */
static cr_status jpeg_run(struct jpeg_job *job, const unsigned char *data, size_t len,
                          uint64_t max_pixels, int header_only, struct cr_error *err)
{
    j_decompress_ptr cinfo = &job->cinfo;
    cinfo->err = jpeg_fence_init(&job->fence);
    if (setjmp(job->fence.jump))
        return cr__fail(err, job->fence.status, "%s", job->fence.message);
#if SIZE_MAX > ULONG_MAX
    if (len > ULONG_MAX) /* jpeg_mem_src takes an unsigned long */
        return cr__fail(err, CR_ERR_TOO_LARGE, "JPEG of %zu bytes is too large for libjpeg", len);
#endif
    jpeg_create_decompress(cinfo);
    cinfo->progress = &job->fence.progress;
    jpeg_mem_src(cinfo, data, (unsigned long)len);
    if (!header_only) /* for jpeg_orientation; 0xffff keeps a whole segment */
        jpeg_save_markers(cinfo, JPEG_APP0 + 1, 0xffff);
    jpeg_read_header(cinfo, TRUE);
    if (header_only)
        return CR_OK;
    /* Read here: jpeg_finish_decompress frees the saved markers. */
    job->orientation = jpeg_orientation(cinfo);
    cr_status st = check_pixels(cinfo->image_width, cinfo->image_height, max_pixels, err);
    if (st == CR_OK)
        st = jpeg_choose_output(cinfo, err);
    if (st != CR_OK)
        return st;
    jpeg_start_decompress(cinfo);
    if ((st = jpeg_alloc(job, err)) != CR_OK)
        return st;
    jpeg_read_rows(job);
    /* Reads up to the EOI marker, so a file cut after its last scan still
     * counts as truncated. */
    jpeg_finish_decompress(cinfo);
    return CR_OK;
}

/* Decodes a JPEG into out (see cr_image_decode). */
static cr_status jpeg_decode(const unsigned char *data, size_t len, uint64_t max_pixels,
                             struct cr_image *out, struct cr_error *err)
{
    struct jpeg_job job;
    memset(&job, 0, sizeof(job));
    cr_status st = jpeg_run(&job, data, len, max_pixels, 0, err);
    if (st == CR_OK) {
        st = finish_image(out, job.pixels, job.cinfo.output_width, job.cinfo.output_height,
                          job.orientation, err);
        job.pixels = NULL;
    }
    /* Safe even if jpeg_create_decompress never ran: mem is still NULL. */
    jpeg_destroy_decompress(&job.cinfo);
    free(job.row);
    free(job.pixels);
    return st;
}

/* Reads a JPEG header's dimensions. */
static cr_status jpeg_probe(const unsigned char *data, size_t len, int *width, int *height,
                            struct cr_error *err)
{
    struct jpeg_job job;
    memset(&job, 0, sizeof(job));
    cr_status st = jpeg_run(&job, data, len, 0, 1, err);
    if (st == CR_OK) {
        *width = (int)job.cinfo.image_width;
        *height = (int)job.cinfo.image_height;
    }
    jpeg_destroy_decompress(&job.cinfo);
    return st;
}

/* ---- PNG -----------------------------------------------------------------*/

/* One decode: libpng's structs, the read cursor, the failure text and what
 * was allocated, owned by the caller of png_run (see the top of the file). */
struct png_job {
    png_structp png;
    png_infop info;
    const unsigned char *data;
    size_t len;
    size_t pos;
    int nomem;
    char message[CR__MSG_LEN];
    unsigned char *pixels; /* RGB result */
    png_bytep *rows;       /* row pointers into pixels, for png_read_image */
};

/* libpng's error hook: keeps the first message and jumps back to png_run. */
static void png_on_error(png_structp png, png_const_charp msg)
{
    struct png_job *job = png_get_error_ptr(png);
    if (!job->message[0])
        snprintf(job->message, sizeof(job->message), "corrupt PNG: %s", msg);
    png_longjmp(png, 1);
}

/* libpng's warning hook: never prints; the text goes to the debug log. */
static void png_on_warning(png_structp png, png_const_charp msg)
{
    (void)png;
    cr__log(CR_LOG_DEBUG, "msg=\"png warning\" detail=\"%s\"", msg);
}

/* libpng's allocator: plain malloc that remembers a failure, so the error
 * that follows is reported as CR_ERR_NOMEM rather than corrupt data. */
static png_voidp png_on_malloc(png_structp png, png_alloc_size_t size)
{
    void *p = malloc(size);
    if (!p) {
        struct png_job *job = png_get_mem_ptr(png);
        job->nomem = 1;
        cr__strlcpy(job->message, "out of memory decoding PNG", sizeof(job->message));
    }
    return p;
}

/* libpng's deallocator, the pair of png_on_malloc. */
static void png_on_free(png_structp png, png_voidp p)
{
    (void)png;
    free(p);
}

/* libpng's read hook over the in-memory bytes; running out is a failure. */
static void png_on_read(png_structp png, png_bytep out, size_t n)
{
    struct png_job *job = png_get_io_ptr(png);
    if (n > job->len - job->pos) {
        cr__strlcpy(job->message, "truncated PNG: premature end of data", sizeof(job->message));
        png_error(png, "premature end of data");
    }
    memcpy(out, job->data + job->pos, n);
    job->pos += n;
}

/*
 * Asks libpng for 8-bit RGB whatever the file holds, as OpenCV's
 * IMREAD_COLOR (and so Darknet) does: palettes and gray expanded, 16-bit
 * samples cut to their high byte, alpha and tRNS dropped without blending,
 * interlaced passes combined. Gamma and color profiles are ignored.
 */
static void png_want_rgb8(png_structp png, png_infop info)
{
    int type = png_get_color_type(png, info);
    if (type == PNG_COLOR_TYPE_PALETTE)
        png_set_palette_to_rgb(png);
    if ((type & PNG_COLOR_MASK_COLOR) == 0) {
        if (png_get_bit_depth(png, info) < 8)
            png_set_expand_gray_1_2_4_to_8(png);
        png_set_gray_to_rgb(png);
    }
    if (png_get_bit_depth(png, info) == 16)
        png_set_strip_16(png);
    png_set_strip_alpha(png);
    png_set_interlace_handling(png);
}

/* Allocates the result and the row pointers libpng writes through. */
static cr_status png_alloc(struct png_job *job, uint32_t width, uint32_t height,
                           struct cr_error *err)
{
    if (png_get_rowbytes(job->png, job->info) != (size_t)width * 3 ||
        png_get_channels(job->png, job->info) != 3)
        return cr__fail(err, CR_ERR_INTERNAL, "libpng did not produce 8-bit RGB");
    cr_status st = alloc_rgb(width, height, &job->pixels, err);
    if (st != CR_OK)
        return st;
    /* calloc checks count * size for overflow itself. */
    job->rows = calloc(height, sizeof(*job->rows));
    if (!job->rows)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for %u PNG rows", (unsigned)height);
    for (uint32_t y = 0; y < height; y++)
        job->rows[y] = job->pixels + (size_t)y * width * 3;
    return CR_OK;
}

/*
 * Runs libpng over the data under the fence: the header only when
 * header_only, otherwise the whole image into job->pixels. The caller
 * creates the libpng structs first and destroys them afterwards.
 */
static cr_status png_run(struct png_job *job, uint64_t max_pixels, int header_only,
                         struct cr_error *err)
{
    if (setjmp(png_jmpbuf(job->png)))
        return cr__fail(err, job->nomem ? CR_ERR_NOMEM : CR_ERR_FORMAT, "%s", job->message);
    png_set_read_fn(job->png, job, png_on_read);
    /* The area check below is the real size limit; per-side limits are left
     * at the format's maximum so every oversize image fails the same way. */
    png_set_user_limits(job->png, CR__PNG_MAX_DIMENSION, CR__PNG_MAX_DIMENSION);
    png_set_chunk_cache_max(job->png, CR__PNG_MAX_CHUNKS);
    png_set_chunk_malloc_max(job->png, CR__PNG_MAX_CHUNK_BYTES);
    png_read_info(job->png, job->info);
    if (header_only)
        return CR_OK;
    uint32_t width = png_get_image_width(job->png, job->info);
    uint32_t height = png_get_image_height(job->png, job->info);
    cr_status st = check_pixels(width, height, max_pixels, err);
    if (st != CR_OK)
        return st;
    png_want_rgb8(job->png, job->info);
    png_read_update_info(job->png, job->info);
    if ((st = png_alloc(job, width, height, err)) != CR_OK)
        return st;
    png_read_image(job->png, job->rows);
    /* Reads through IEND, so a file cut after its image data still fails.
     * Chunks after the image go into the same info, so an eXIf chunk there
     * counts unless one came before the image (libpng drops the duplicate),
     * the precedence OpenCV gives its info and end_info. */
    png_read_end(job->png, job->info);
    return CR_OK;
}

/* Creates libpng's structs for job, with the fence's hooks. */
static cr_status png_job_create(struct png_job *job, const unsigned char *data, size_t len,
                                struct cr_error *err)
{
    job->data = data;
    job->len = len;
    job->png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, job, png_on_error, png_on_warning,
                                        job, png_on_malloc, png_on_free);
    if (job->png)
        job->info = png_create_info_struct(job->png);
    if (!job->png || !job->info)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory starting libpng");
    return CR_OK;
}

/* Releases everything png_job_create and png_run allocated. */
static void png_job_destroy(struct png_job *job)
{
    if (job->png)
        png_destroy_read_struct(&job->png, job->info ? &job->info : NULL, NULL);
    free(job->rows);
    free(job->pixels);
}

/* The EXIF orientation from a decoded PNG's eXIf chunk (a bare TIFF block;
 * libpng keeps it only if it starts "II" or "MM"). 1 when there is none. */
static int png_orientation(png_structp png, png_infop info)
{
    png_uint_32 len = 0;
    png_bytep exif = NULL;
    if (!png_get_eXIf_1(png, info, &len, &exif) || !exif)
        return 1;
    return cr__exif_orientation(exif, len);
}

/* Decodes a PNG into out (see cr_image_decode). */
static cr_status png_decode(const unsigned char *data, size_t len, uint64_t max_pixels,
                            struct cr_image *out, struct cr_error *err)
{
    struct png_job job;
    memset(&job, 0, sizeof(job));
    cr_status st = png_job_create(&job, data, len, err);
    if (st == CR_OK)
        st = png_run(&job, max_pixels, 0, err);
    if (st == CR_OK) {
        st = finish_image(out, job.pixels, png_get_image_width(job.png, job.info),
                          png_get_image_height(job.png, job.info),
                          png_orientation(job.png, job.info), err);
        job.pixels = NULL;
    }
    png_job_destroy(&job);
    return st;
}

/* Reads a PNG header's dimensions. */
static cr_status png_probe(const unsigned char *data, size_t len, int *width, int *height,
                           struct cr_error *err)
{
    struct png_job job;
    memset(&job, 0, sizeof(job));
    cr_status st = png_job_create(&job, data, len, err);
    if (st == CR_OK)
        st = png_run(&job, 0, 1, err);
    if (st == CR_OK) {
        *width = (int)png_get_image_width(job.png, job.info);
        *height = (int)png_get_image_height(job.png, job.info);
    }
    png_job_destroy(&job);
    return st;
}

/* ---- public entry points -------------------------------------------------*/

/* Checks what decode and probe both need and finds the format: empty input,
 * a cut-off signature and unknown magic each get their own message. */
static cr_status identify(const void *data, size_t len, enum cr_image_format *format,
                          struct cr_error *err)
{
    if (!data && len > 0)
        return cr__fail(err, CR_ERR_INVALID, "image data is NULL");
    if (len == 0)
        return cr__fail(err, CR_ERR_FORMAT, "empty image data");
    *format = cr_image_sniff(data, len);
    if (*format != CR_IMAGE_UNKNOWN)
        return CR_OK;
    if (is_cut_magic(data, len, jpeg_magic, sizeof(jpeg_magic)))
        return cr__fail(err, CR_ERR_FORMAT, "truncated JPEG: only %zu bytes", len);
    if (is_cut_magic(data, len, png_magic, sizeof(png_magic)))
        return cr__fail(err, CR_ERR_FORMAT, "truncated PNG: only %zu bytes", len);
    return cr__fail(err, CR_ERR_UNSUPPORTED, "not a JPEG or PNG image");
}

/* The call's limits with zero fields replaced by the defaults. */
static struct image_limits resolve_limits(const struct cr_image_limits *limits)
{
    struct image_limits lim = {CR_IMAGE_DEFAULT_MAX_BYTES, CR_IMAGE_DEFAULT_MAX_PIXELS};
    if (limits && limits->max_bytes)
        lim.max_bytes = limits->max_bytes;
    if (limits && limits->max_pixels)
        lim.max_pixels = limits->max_pixels;
    return lim;
}

cr_status cr_image_decode(const void *data, size_t len, const struct cr_image_limits *limits,
                          struct cr_image *out, struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "no output image");
    memset(out, 0, sizeof(*out));
    if (!data && len > 0)
        return cr__fail(err, CR_ERR_INVALID, "image data is NULL");
    struct image_limits lim = resolve_limits(limits);
    if (len > lim.max_bytes)
        return cr__fail(err, CR_ERR_TOO_LARGE, "image is %zu bytes, limit %zu", len, lim.max_bytes);
    enum cr_image_format format = CR_IMAGE_UNKNOWN;
    cr_status st = identify(data, len, &format, err);
    if (st != CR_OK)
        return st;
    if (format == CR_IMAGE_JPEG)
        return jpeg_decode(data, len, lim.max_pixels, out, err);
    return png_decode(data, len, lim.max_pixels, out, err);
}

cr_status cr_image_probe(const void *data, size_t len, enum cr_image_format *format, int *width,
                         int *height, struct cr_error *err)
{
    enum cr_image_format found = CR_IMAGE_UNKNOWN;
    int w = 0, h = 0;
    cr_status st = identify(data, len, &found, err);
    if (st == CR_OK && found == CR_IMAGE_JPEG)
        st = jpeg_probe(data, len, &w, &h, err);
    else if (st == CR_OK)
        st = png_probe(data, len, &w, &h, err);
    if (format)
        *format = st == CR_OK ? found : CR_IMAGE_UNKNOWN;
    if (width)
        *width = w;
    if (height)
        *height = h;
    return st;
}

void cr_image_clear(struct cr_image *img)
{
    if (!img)
        return;
    free(img->pixels);
    memset(img, 0, sizeof(*img));
}
