/*
 * test_image.c - JPEG and PNG decoding from memory (cloudrec/image.h).
 *
 * Every test image is made here with the libjpeg and libpng encoders, so no
 * binary files live in the repository. Expected pixels come from the source
 * samples or from a plain libjpeg decode done in the test. EXIF blocks are
 * built byte by byte; test_image_darknet.c checks the same cases against
 * Darknet itself.
 */
#include "cloudrec.h"
#include "image_builders.h"
#include "tap.h"
#include "vision/orient.h"
#include "internal.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#define DARKNET_DATA "/usr/share/darknet/data"

/* A smooth RGB test card (gradients), the kind of picture JPEG keeps well. */
static unsigned char *make_rgb(int w, int h)
{
    unsigned char *p = malloc((size_t)w * h * 3);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) {
            unsigned char *px = p + ((size_t)y * w + x) * 3;
            px[0] = (unsigned char)(x * 255 / (w - 1));
            px[1] = (unsigned char)(y * 255 / (h - 1));
            px[2] = (unsigned char)((x + y) * 255 / (w + h - 2));
        }
    return p;
}

/* Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
static void fill_random(unsigned char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed ^= seed << 13;
        seed ^= seed >> 17;
        seed ^= seed << 5;
        p[i] = (unsigned char)seed;
    }
}

/* ---- JPEG encoding and the reference decode ------------------------------*/

/* Encodes an RGB picture with default settings (baseline, 4:2:0). */
static struct blob encode_rgb_jpeg(const unsigned char *rgb, int w, int h, int progressive)
{
    struct jpeg_opts o = {.in_space = JCS_RGB, .components = 3, .progressive = progressive};
    return encode_jpeg(rgb, w, h, &o);
}

/* The plain libjpeg decode the library must reproduce: out_space set and
 * nothing else changed. Returns malloc'd samples; *comps per pixel. */
static unsigned char *ref_decode(const struct blob *b, J_COLOR_SPACE out_space, int *w, int *h,
                                 int *comps)
{
    struct jpeg_decompress_struct d;
    struct jpeg_error_mgr jerr;
    d.err = jpeg_std_error(&jerr);
    jpeg_create_decompress(&d);
    jpeg_mem_src(&d, b->data, (unsigned long)b->len);
    jpeg_read_header(&d, TRUE);
    d.out_color_space = out_space;
    jpeg_start_decompress(&d);
    *w = (int)d.output_width;
    *h = (int)d.output_height;
    *comps = d.output_components;
    size_t stride = (size_t)*w * *comps;
    unsigned char *p = malloc(stride * *h);
    while (d.output_scanline < d.output_height) {
        JSAMPROW row = p + d.output_scanline * stride;
        jpeg_read_scanlines(&d, &row, 1);
    }
    jpeg_finish_decompress(&d);
    jpeg_destroy_decompress(&d);
    return p;
}

/* Offset of the first marker 0xFF <code> at or after start, or 0. */
static size_t find_marker(const struct blob *b, size_t start, unsigned char code)
{
    for (size_t i = start; i + 1 < b->len; i++)
        if (b->data[i] == 0xff && b->data[i + 1] == code)
            return i;
    return 0;
}

/* ---- PNG encoding --------------------------------------------------------*/

/* Encodes an 8-bit RGB picture as a plain PNG. */
static struct blob encode_rgb_png(const unsigned char *rgb, int w, int h, int interlace)
{
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .interlace = interlace};
    return encode_png(rgb, w, h, &o);
}

/* CRC-32 as PNG chunks use it (ISO 3309), for hand-built headers. */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
    }
    return ~crc;
}

static void put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ---- helpers for checks --------------------------------------------------*/

/* Decodes with default limits; the result must be freed by the caller. */
static cr_status decode(const struct blob *b, struct cr_image *img, struct cr_error *err)
{
    return cr_image_decode(b->data, b->len, NULL, img, err);
}

/* True when img is w x h and its RGB pixels equal expected exactly. */
static int same_pixels(const struct cr_image *img, const unsigned char *expected, int w, int h)
{
    return img->pixels && img->width == w && img->height == h && img->channels == 3 &&
           memcmp(img->pixels, expected, (size_t)w * h * 3) == 0;
}

/* Mean absolute difference between two RGB pictures. */
static double mean_abs_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += abs((int)a[i] - (int)b[i]);
    return n ? sum / (double)n : 0;
}

static int is_zeroed(const struct cr_image *img)
{
    return img->width == 0 && img->height == 0 && img->channels == 0 && img->pixels == NULL;
}

/* Decodes b expecting status want; checks the detail message and that the
 * output was left zeroed. */
static void expect_failure(const struct blob *b, const struct cr_image_limits *limits,
                           cr_status want, const char *what)
{
    struct cr_image img = {7, 7, 7, (unsigned char *)&img};
    struct cr_error err;
    memset(&err, 0, sizeof(err));
    cr_status st = cr_image_decode(b->data, b->len, limits, &img, &err);
    char line[1024];
    snprintf(line, sizeof(line), "%s: status %s", what, cr_status_name(want));
    if (!CHECK_MSG(st == want, line))
        DIAG("got %s (%s)", cr_status_name(st), err.message);
    snprintf(line, sizeof(line), "%s: message \"%s\"", what, err.message);
    CHECK_MSG(err.message[0] != '\0' && err.status == want, line);
    snprintf(line, sizeof(line), "%s: output left zeroed", what);
    CHECK_MSG(is_zeroed(&img), line);
    if (st == CR_OK)
        cr_image_clear(&img);
}

/* Decodes b with default limits, checks that it gives exactly the w x h RGB
 * pixels want (the check described by what), and frees b. */
static void check_decodes_to(struct blob *b, const unsigned char *want, int w, int h,
                             const char *what)
{
    struct cr_image img;
    CHECK_EQ_INT(decode(b, &img, NULL), CR_OK);
    CHECK_MSG(same_pixels(&img, want, w, h), what);
    cr_image_clear(&img);
    blob_clear(b);
}

/* Encodes samples as a PNG as o says, then check_decodes_to. */
static void check_png(const struct png_opts *o, const unsigned char *samples, int w, int h,
                      const unsigned char *want, const char *what)
{
    struct blob png = encode_png(samples, w, h, o);
    check_decodes_to(&png, want, w, h, what);
}

/* ---- the specification ---------------------------------------------------*/

static void test_sniff(void)
{
    CHECK_EQ_INT(cr_image_sniff("\xff\xd8\xff\xe0", 4), CR_IMAGE_JPEG);
    CHECK_EQ_INT(cr_image_sniff("\x89PNG\r\n\x1a\n", 8), CR_IMAGE_PNG);
    CHECK_EQ_INT(cr_image_sniff("\x89PNG", 4), CR_IMAGE_UNKNOWN);
    CHECK_EQ_INT(cr_image_sniff("GIF89a", 6), CR_IMAGE_UNKNOWN);
    CHECK_EQ_INT(cr_image_sniff(NULL, 0), CR_IMAGE_UNKNOWN);
    CHECK_EQ_STR(cr_image_format_name(CR_IMAGE_JPEG), "jpeg");
    CHECK_EQ_STR(cr_image_format_name(CR_IMAGE_PNG), "png");
    CHECK_EQ_STR(cr_image_format_name(CR_IMAGE_UNKNOWN), "unknown");
    CHECK_EQ_STR(cr_image_format_name((enum cr_image_format)99), "unknown");
}

static void test_jpeg_baseline(void)
{
    int w = 67, h = 45, rw, rh, rc; /* not multiples of the 16-pixel MCU */
    unsigned char *src = make_rgb(w, h);
    struct blob jpg = encode_rgb_jpeg(src, w, h, 0);
    unsigned char *ref = ref_decode(&jpg, JCS_RGB, &rw, &rh, &rc);
    struct cr_image img;
    struct cr_error err;
    CHECK_EQ_INT(decode(&jpg, &img, &err), CR_OK);
    CHECK_MSG(img.width == 67 && img.height == 45 && img.channels == 3,
              "baseline JPEG: 67x45, 3 channels");
    double diff = img.pixels ? mean_abs_diff(img.pixels, src, (size_t)w * h * 3) : 999;
    if (!CHECK_MSG(diff < 3.0, "baseline JPEG: pixels close to the source"))
        DIAG("mean absolute difference %.2f", diff);
    CHECK_MSG(rc == 3 && same_pixels(&img, ref, rw, rh),
              "baseline JPEG: pixels equal a plain libjpeg JCS_RGB decode");
    cr_image_clear(&img);
    CHECK_MSG(is_zeroed(&img), "cr_image_clear zeroes the image");
    cr_image_clear(NULL);
    free(ref);
    free(src);
    blob_clear(&jpg);
}

static void test_jpeg_progressive(void)
{
    int w = 80, h = 61, rw, rh, rc;
    unsigned char *src = make_rgb(w, h);
    struct blob jpg = encode_rgb_jpeg(src, w, h, 1);
    unsigned char *ref = ref_decode(&jpg, JCS_RGB, &rw, &rh, &rc);
    struct cr_image img;
    CHECK_EQ_INT(decode(&jpg, &img, NULL), CR_OK);
    CHECK_MSG(img.width == 80 && img.height == 61, "progressive JPEG: 80x61");
    CHECK_MSG(same_pixels(&img, ref, rw, rh),
              "progressive JPEG: pixels equal a plain libjpeg JCS_RGB decode");
    double diff = img.pixels ? mean_abs_diff(img.pixels, src, (size_t)w * h * 3) : 999;
    CHECK_MSG(diff < 3.0, "progressive JPEG: pixels close to the source");
    cr_image_clear(&img);
    free(ref);
    free(src);
    blob_clear(&jpg);
}

static void test_jpeg_gray(void)
{
    int w = 40, h = 30, rw, rh, rc;
    unsigned char gray[40 * 30];
    for (int i = 0; i < w * h; i++)
        gray[i] = (unsigned char)((i % w) * 6);
    struct jpeg_opts o = {.in_space = JCS_GRAYSCALE, .components = 1};
    struct blob jpg = encode_jpeg(gray, w, h, &o);
    unsigned char *ref = ref_decode(&jpg, JCS_GRAYSCALE, &rw, &rh, &rc);
    struct cr_image img;
    CHECK_EQ_INT(decode(&jpg, &img, NULL), CR_OK);
    int equal = img.pixels && img.width == w && img.height == h, exact = equal;
    for (int i = 0; equal && i < w * h; i++) {
        const unsigned char *px = img.pixels + i * 3;
        equal = px[0] == px[1] && px[1] == px[2];
        exact = exact && px[0] == ref[i];
    }
    CHECK_MSG(equal, "grayscale JPEG: expanded to R = G = B");
    CHECK_MSG(exact, "grayscale JPEG: the gray value is libjpeg's");
    cr_image_clear(&img);
    free(ref);
    blob_clear(&jpg);
}

/* CMYK rule restated from docs/image.md: Adobe files are inverted (255 = no
 * ink) and R = K - ((255 - C) * K >> 8); other files are inverted first. */
static void cmyk_expected(const unsigned char *cmyk, unsigned char *rgb, size_t n, int adobe)
{
    for (size_t i = 0; i < n; i++, cmyk += 4, rgb += 3) {
        int k = adobe ? cmyk[3] : 255 - cmyk[3];
        for (int c = 0; c < 3; c++) {
            int v = adobe ? cmyk[c] : 255 - cmyk[c];
            rgb[c] = (unsigned char)(k - (((255 - v) * k) >> 8));
        }
    }
}

/* Encodes the test card as CMYK (Adobe-inverted unless no_adobe) in the
 * given file color space and checks the decode against the rule. */
static void check_cmyk(J_COLOR_SPACE file_space, int no_adobe, const char *what)
{
    int w = 48, h = 32, rw, rh, rc;
    unsigned char *rgb = make_rgb(w, h);
    unsigned char *cmyk = malloc((size_t)w * h * 4);
    for (int i = 0; i < w * h; i++) {
        for (int c = 0; c < 3; c++) /* no black ink: the colors live in C, M, Y */
            cmyk[i * 4 + c] = no_adobe ? 255 - rgb[i * 3 + c] : rgb[i * 3 + c];
        cmyk[i * 4 + 3] = no_adobe ? 0 : 255;
    }
    struct jpeg_opts o = {JCS_CMYK, 4, 0, file_space, no_adobe, 95};
    struct blob jpg = encode_jpeg(cmyk, w, h, &o);
    unsigned char *ref = ref_decode(&jpg, JCS_CMYK, &rw, &rh, &rc);
    unsigned char *want = malloc((size_t)w * h * 3);
    cmyk_expected(ref, want, (size_t)w * h, !no_adobe);
    struct cr_image img;
    struct cr_error err;
    cr_status st = decode(&jpg, &img, &err);
    char line[160];
    snprintf(line, sizeof(line), "%s: decodes to %dx%d", what, w, h);
    if (!CHECK_MSG(st == CR_OK && img.width == w && img.height == h, line))
        DIAG("%s: %s", cr_status_name(st), err.message);
    snprintf(line, sizeof(line), "%s: pixels follow the CMYK rule exactly", what);
    CHECK_MSG(same_pixels(&img, want, w, h), line);
    double diff = img.pixels ? mean_abs_diff(img.pixels, rgb, (size_t)w * h * 3) : 999;
    snprintf(line, sizeof(line), "%s: colors close to the source (mean diff %.2f)", what, diff);
    CHECK_MSG(diff < 4.0, line);
    cr_image_clear(&img);
    free(want);
    free(ref);
    blob_clear(&jpg);
    free(cmyk);
    free(rgb);
}

static void test_jpeg_cmyk(void)
{
    check_cmyk(JCS_CMYK, 0, "Adobe CMYK JPEG");
    check_cmyk(JCS_YCCK, 0, "Adobe YCCK JPEG");
    check_cmyk(JCS_CMYK, 1, "CMYK JPEG without Adobe marker");
}

/* Stray bytes before a marker are a libjpeg warning that Darknet tolerates;
 * the image still decodes, identically. */
static void test_jpeg_tolerated_warning(void)
{
    int w = 32, h = 32;
    unsigned char *src = make_rgb(w, h);
    struct blob jpg = encode_rgb_jpeg(src, w, h, 0);
    size_t dqt = find_marker(&jpg, 2, 0xdb);
    struct blob junk = {malloc(jpg.len + 3), jpg.len + 3};
    memcpy(junk.data, jpg.data, dqt);
    memcpy(junk.data + dqt, "\x00\x01\x02", 3);
    memcpy(junk.data + dqt + 3, jpg.data + dqt, jpg.len - dqt);
    struct cr_image a, b;
    CHECK_EQ_INT(decode(&jpg, &a, NULL), CR_OK);
    CHECK_MSG(dqt > 0 && decode(&junk, &b, NULL) == CR_OK,
              "JPEG with extraneous bytes before a marker still decodes");
    CHECK_MSG(a.pixels && same_pixels(&b, a.pixels, w, h), "... with the same pixels");
    cr_image_clear(&a);
    cr_image_clear(&b);
    blob_clear(&junk);
    blob_clear(&jpg);
    free(src);
}

static void test_png_rgb(void)
{
    int w = 33, h = 17;
    unsigned char *src = make_rgb(w, h);
    struct blob png = encode_rgb_png(src, w, h, 0);
    check_decodes_to(&png, src, w, h, "RGB PNG: exact pixels");
    free(src);
}

static void test_png_palette(void)
{
    static const png_color pal[4] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {10, 20, 30}};
    static const png_byte alpha[4] = {255, 0, 128, 255};
    int w = 9, h = 5;
    unsigned char idx[9 * 5], want[9 * 5 * 3];
    for (int i = 0; i < w * h; i++) {
        idx[i] = (unsigned char)(i % 4);
        memcpy(want + i * 3, &pal[i % 4], 3);
    }
    struct png_opts o = {
        .color_type = PNG_COLOR_TYPE_PALETTE, .bit_depth = 8, .palette = pal, .palette_len = 4};
    check_png(&o, idx, w, h, want, "palette PNG: exact pixels");

    o.trans = alpha;
    o.trans_len = 4;
    check_png(&o, idx, w, h, want, "palette PNG with tRNS: alpha dropped, no blending");

    o.bit_depth = 2; /* four entries fit in two bits */
    o.trans = NULL;
    check_png(&o, idx, w, h, want, "2-bit palette PNG: exact pixels");
}

static void test_png_gray(void)
{
    int w = 16, h = 4;
    unsigned char gray[16 * 4], want[16 * 4 * 3];
    for (int i = 0; i < w * h; i++) {
        gray[i] = (unsigned char)(i * 4);
        memset(want + i * 3, gray[i], 3);
    }
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 8};
    check_png(&o, gray, w, h, want, "gray PNG: R = G = B = the gray value");

    png_color_16 transparent = {.gray = 8};
    o.trans_color = &transparent;
    check_png(&o, gray, w, h, want, "gray PNG with tRNS: transparency ignored");

    /* 2-bit gray: levels 0..3 scale to 0, 85, 170, 255. */
    for (int i = 0; i < w * h; i++) {
        gray[i] = (unsigned char)(i % 4);
        memset(want + i * 3, gray[i] * 85, 3);
    }
    o = (struct png_opts){.color_type = PNG_COLOR_TYPE_GRAY, .bit_depth = 2};
    check_png(&o, gray, w, h, want, "2-bit gray PNG: levels scaled to 0..255");
}

static void test_png_alpha(void)
{
    int w = 8, h = 8;
    unsigned char ga[8 * 8 * 2], rgba[8 * 8 * 4], want_ga[8 * 8 * 3], want_rgba[8 * 8 * 3];
    for (int i = 0; i < w * h; i++) {
        ga[i * 2] = (unsigned char)(i * 3);
        ga[i * 2 + 1] = (unsigned char)(i % 2 ? 0 : 255); /* half fully transparent */
        memset(want_ga + i * 3, ga[i * 2], 3);
        for (int c = 0; c < 3; c++)
            rgba[i * 4 + c] = want_rgba[i * 3 + c] = (unsigned char)(i * 4 + c * 50);
        rgba[i * 4 + 3] = (unsigned char)(i % 3 ? 0 : 77);
    }
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_GRAY_ALPHA, .bit_depth = 8};
    check_png(&o, ga, w, h, want_ga, "gray+alpha PNG: gray kept, alpha dropped");

    o.color_type = PNG_COLOR_TYPE_RGB_ALPHA;
    check_png(&o, rgba, w, h, want_rgba, "RGBA PNG: alpha dropped without blending");
}

static void test_png_16bit(void)
{
    int w = 5, h = 3;
    unsigned char rgb16[5 * 3 * 6], want[5 * 3 * 3], gray16[5 * 3 * 2], want_gray[5 * 3 * 3];
    for (int i = 0; i < w * h * 3; i++) {
        rgb16[i * 2] = (unsigned char)(i * 11);           /* high byte */
        rgb16[i * 2 + 1] = (unsigned char)(255 - i * 11); /* low byte, must not leak in */
        want[i] = (unsigned char)(i * 11);
    }
    for (int i = 0; i < w * h; i++) {
        gray16[i * 2] = (unsigned char)(i * 16);
        gray16[i * 2 + 1] = 0xff;
        memset(want_gray + i * 3, i * 16, 3);
    }
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 16};
    check_png(&o, rgb16, w, h, want, "16-bit RGB PNG: each sample's high byte");

    o.color_type = PNG_COLOR_TYPE_GRAY;
    check_png(&o, gray16, w, h, want_gray, "16-bit gray PNG: high byte, R = G = B");
}

static void test_png_interlaced(void)
{
    int w = 29, h = 23;
    unsigned char *src = make_rgb(w, h);
    struct blob png = encode_rgb_png(src, w, h, 1);
    CHECK_MSG(png.len > 29 && png.data[28] == 1, "test PNG is Adam7-interlaced");
    check_decodes_to(&png, src, w, h, "interlaced PNG: exact pixels");
    free(src);
}

static void test_probe(void)
{
    unsigned char *src = make_rgb(50, 20);
    struct blob jpg = encode_rgb_jpeg(src, 50, 20, 0);
    struct blob png = encode_rgb_png(src, 50, 20, 0);
    enum cr_image_format f = CR_IMAGE_UNKNOWN;
    int w = 0, h = 0;
    CHECK_EQ_INT(cr_image_probe(jpg.data, jpg.len, &f, &w, &h, NULL), CR_OK);
    CHECK_MSG(f == CR_IMAGE_JPEG && w == 50 && h == 20, "probe JPEG: jpeg, 50x20");
    CHECK_EQ_INT(cr_image_probe(png.data, png.len, &f, &w, &h, NULL), CR_OK);
    CHECK_MSG(f == CR_IMAGE_PNG && w == 50 && h == 20, "probe PNG: png, 50x20");
    CHECK_EQ_INT(cr_image_probe(png.data, png.len, NULL, NULL, NULL, NULL), CR_OK);
    struct cr_error err;
    CHECK_EQ_INT(cr_image_probe("hello", 5, &f, &w, &h, &err), CR_ERR_UNSUPPORTED);
    CHECK_MSG(f == CR_IMAGE_UNKNOWN && w == 0 && h == 0 && err.message[0],
              "probe of text: unknown, 0x0, with a message");
    CHECK_EQ_INT(cr_image_probe(jpg.data, 40, &f, &w, &h, &err), CR_ERR_FORMAT);
    CHECK_EQ_INT(cr_image_probe(png.data, 20, &f, &w, &h, &err), CR_ERR_FORMAT);
    blob_clear(&jpg);
    blob_clear(&png);
    free(src);
}

static void test_bad_arguments(void)
{
    struct cr_error err;
    struct cr_image img;
    CHECK_EQ_INT(cr_image_decode("x", 1, NULL, NULL, &err), CR_ERR_INVALID);
    CHECK_EQ_INT(cr_image_decode(NULL, 10, NULL, &img, &err), CR_ERR_INVALID);
    CHECK_MSG(err.message[0] && is_zeroed(&img), "NULL data: message, output zeroed");
    CHECK_EQ_INT(cr_image_decode("hello", 5, NULL, &img, NULL), CR_ERR_UNSUPPORTED);
}

static void test_bad_inputs(void)
{
    struct blob empty = {(unsigned char *)"", 0};
    expect_failure(&empty, NULL, CR_ERR_FORMAT, "empty buffer");
    struct blob null_empty = {NULL, 0};
    expect_failure(&null_empty, NULL, CR_ERR_FORMAT, "NULL, 0");

    struct blob text = {(unsigned char *)"hello, this is not an image", 27};
    expect_failure(&text, NULL, CR_ERR_UNSUPPORTED, "text content");
    struct cr_error err;
    struct cr_image img;
    cr_image_decode(text.data, text.len, NULL, &img, &err);
    CHECK_EQ_STR(err.message, "not a JPEG or PNG image");

    struct blob noise = {malloc(4096), 4096};
    fill_random(noise.data, noise.len, 12345);
    noise.data[0] = 0; /* not by chance a magic number */
    expect_failure(&noise, NULL, CR_ERR_UNSUPPORTED, "random bytes");
    memcpy(noise.data, "\xff\xd8\xff", 3);
    expect_failure(&noise, NULL, CR_ERR_FORMAT, "JPEG magic then random bytes");
    memcpy(noise.data, "\x89PNG\r\n\x1a\n", 8);
    expect_failure(&noise, NULL, CR_ERR_FORMAT, "PNG signature then random bytes");
    blob_clear(&noise);
}

/* Every cut must fail as truncated; none may hand back a gray-padded image. */
static void test_truncated_jpeg(int progressive)
{
    unsigned char *src = make_rgb(64, 48);
    struct blob jpg = encode_rgb_jpeg(src, 64, 48, progressive);
    size_t cuts[] = {1, 2, 3, 20, 100, 300, jpg.len / 2, jpg.len - 100, jpg.len - 2, jpg.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct blob cut = blob_cut(&jpg, cuts[i]);
        char what[96];
        snprintf(what, sizeof(what), "%s JPEG cut to %zu of %zu bytes",
                 progressive ? "progressive" : "baseline", cuts[i], jpg.len);
        expect_failure(&cut, NULL, CR_ERR_FORMAT, what);
        struct cr_error err;
        struct cr_image img;
        cr_image_decode(cut.data, cut.len, NULL, &img, &err);
        if (!CHECK_MSG(strstr(err.message, "truncated JPEG") == err.message,
                       "... reported as \"truncated JPEG\""))
            DIAG("message: %s", err.message);
        blob_clear(&cut);
    }
    blob_clear(&jpg);
    free(src);
}

static void test_truncated_png(void)
{
    unsigned char *src = make_rgb(64, 48);
    struct blob png = encode_rgb_png(src, 64, 48, 0);
    size_t cuts[] = {4, 8, 20, 33, 45, png.len / 2, png.len - 12, png.len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        struct blob cut = blob_cut(&png, cuts[i]);
        char what[96];
        snprintf(what, sizeof(what), "PNG cut to %zu of %zu bytes", cuts[i], png.len);
        expect_failure(&cut, NULL, CR_ERR_FORMAT, what);
        struct cr_error err;
        struct cr_image img;
        cr_image_decode(cut.data, cut.len, NULL, &img, &err);
        if (!CHECK_MSG(strstr(err.message, "truncated PNG") == err.message,
                       "... reported as \"truncated PNG\""))
            DIAG("message: %s", err.message);
        blob_clear(&cut);
    }
    blob_clear(&png);
    free(src);
}

/* A PNG whose valid IHDR claims 100000 x 100000 pixels (30 GB of RGB) plus a
 * token IDAT: refused from the header, before any pixel memory exists. */
static void test_huge_png(void)
{
    unsigned char b[8 + 25 + 12 + 12];
    memcpy(b, "\x89PNG\r\n\x1a\n", 8);
    put_be32(b + 8, 13);
    memcpy(b + 12, "IHDR", 4);
    put_be32(b + 16, 100000);
    put_be32(b + 20, 100000);
    memcpy(b + 24, "\x08\x02\x00\x00\x00", 5); /* 8-bit RGB, no interlace */
    put_be32(b + 29, crc32_png(b + 12, 17));
    put_be32(b + 33, 0);
    memcpy(b + 37, "IDAT", 4);
    put_be32(b + 41, crc32_png(b + 37, 4));
    put_be32(b + 45, 0);
    memcpy(b + 49, "IEND", 4);
    put_be32(b + 53, crc32_png(b + 49, 4));
    struct blob png = {b, sizeof(b)};
    int w = 0, h = 0;
    CHECK_EQ_INT(cr_image_probe(b, sizeof(b), NULL, &w, &h, NULL), CR_OK);
    CHECK_MSG(w == 100000 && h == 100000, "the hand-built IHDR is valid: probe reads it");
    expect_failure(&png, NULL, CR_ERR_TOO_LARGE, "PNG claiming 100000x100000");
    struct cr_error err;
    struct cr_image img;
    cr_image_decode(b, sizeof(b), NULL, &img, &err);
    CHECK_EQ_STR(err.message, "image is 100000x100000 pixels, limit 40000000");
}

/* A PNG whose IHDR no longer matches its CRC: a critical chunk, so fatal. */
static void test_png_bad_crc(void)
{
    unsigned char *src = make_rgb(16, 16);
    struct blob png = encode_rgb_png(src, 16, 16, 0);
    png.data[19] ^= 0x01; /* the low byte of the width */
    expect_failure(&png, NULL, CR_ERR_FORMAT, "PNG with a bad IHDR CRC");
    struct cr_error err;
    struct cr_image img;
    cr_image_decode(png.data, png.len, NULL, &img, &err);
    CHECK_EQ_STR(err.message, "corrupt PNG: IHDR: CRC error");
    blob_clear(&png);
    free(src);
}

/* A real JPEG whose SOF0 is patched to claim 60000 x 60000 pixels. */
static void test_huge_jpeg(void)
{
    unsigned char *src = make_rgb(16, 16);
    struct blob jpg = encode_rgb_jpeg(src, 16, 16, 0);
    size_t sof = find_marker(&jpg, 2, 0xc0);
    CHECK_MSG(sof > 0, "test JPEG has a SOF0 segment");
    if (sof) {
        unsigned char *p = jpg.data + sof + 5; /* marker, length, precision */
        p[0] = 0xea, p[1] = 0x60, p[2] = 0xea, p[3] = 0x60;
        expect_failure(&jpg, NULL, CR_ERR_TOO_LARGE, "JPEG claiming 60000x60000");
    }
    blob_clear(&jpg);
    free(src);
}

/* Overwriting a DHT segment's 16 code counts makes the table impossible. */
static void test_corrupt_huffman(void)
{
    unsigned char *src = make_rgb(32, 32);
    struct blob jpg = encode_rgb_jpeg(src, 32, 32, 0);
    size_t dht = find_marker(&jpg, 2, 0xc4);
    CHECK_MSG(dht > 0, "test JPEG has a DHT segment");
    if (dht) {
        memset(jpg.data + dht + 5, 0xff, 16); /* marker, length, class/id */
        expect_failure(&jpg, NULL, CR_ERR_FORMAT, "JPEG with corrupt Huffman table");
        struct cr_error err;
        struct cr_image img;
        cr_image_decode(jpg.data, jpg.len, NULL, &img, &err);
        if (!CHECK_MSG(strncmp(err.message, "corrupt JPEG: ", 14) == 0,
                       "... reported as \"corrupt JPEG: <libjpeg's reason>\""))
            DIAG("message: %s", err.message);
    }
    blob_clear(&jpg);
    free(src);
}

/* A progressive file whose last scan is repeated 600 times: libjpeg only
 * warns about the bogus progression, the scan cap refuses it. */
static void test_too_many_scans(void)
{
    unsigned char *src = make_rgb(16, 16);
    struct blob jpg = encode_rgb_jpeg(src, 16, 16, 1);
    size_t last = 0, eoi = jpg.len - 2;
    for (size_t at = 2; (at = find_marker(&jpg, at + 1, 0xda)) != 0;)
        last = at;
    size_t seg = eoi - last, reps = 600;
    struct blob big = {malloc(jpg.len + seg * reps), jpg.len + seg * reps};
    memcpy(big.data, jpg.data, eoi);
    for (size_t i = 0; i < reps; i++)
        memcpy(big.data + eoi + i * seg, jpg.data + last, seg);
    memcpy(big.data + eoi + reps * seg, "\xff\xd9", 2);
    expect_failure(&big, NULL, CR_ERR_FORMAT, "progressive JPEG with 600 extra scans");
    blob_clear(&big);
    blob_clear(&jpg);
    free(src);
}

static void test_limits(void)
{
    int w = 20, h = 10;
    unsigned char *src = make_rgb(w, h);
    struct blob jpg = encode_rgb_jpeg(src, w, h, 0);
    struct blob png = encode_rgb_png(src, w, h, 0);
    struct cr_image img;

    struct cr_image_limits lim = {.max_bytes = jpg.len - 1};
    expect_failure(&jpg, &lim, CR_ERR_TOO_LARGE, "JPEG one byte over max_bytes");
    lim.max_bytes = jpg.len;
    CHECK_EQ_INT(cr_image_decode(jpg.data, jpg.len, &lim, &img, NULL), CR_OK);
    cr_image_clear(&img);

    lim = (struct cr_image_limits){.max_pixels = (uint64_t)w * h - 1};
    expect_failure(&jpg, &lim, CR_ERR_TOO_LARGE, "JPEG one pixel over max_pixels");
    expect_failure(&png, &lim, CR_ERR_TOO_LARGE, "PNG one pixel over max_pixels");
    lim.max_pixels = (uint64_t)w * h;
    CHECK_EQ_INT(cr_image_decode(jpg.data, jpg.len, &lim, &img, NULL), CR_OK);
    cr_image_clear(&img);
    CHECK_EQ_INT(cr_image_decode(png.data, png.len, &lim, &img, NULL), CR_OK);
    cr_image_clear(&img);

    struct cr_error err;
    lim = (struct cr_image_limits){.max_pixels = 10};
    cr_image_decode(png.data, png.len, &lim, &img, &err);
    CHECK_EQ_STR(err.message, "image is 20x10 pixels, limit 10");
    blob_clear(&jpg);
    blob_clear(&png);
    free(src);
}

/* The JPEGs that ship with Darknet decode to their header's size and to
 * exactly the pixels of a plain libjpeg decode. */
static void test_darknet_samples(void)
{
    glob_t g;
    if (glob(DARKNET_DATA "/*.jpg", 0, NULL, &g) != 0) {
        CHECK_MSG(0, "Darknet sample images in " DARKNET_DATA " (apt-get install darknet)");
        return;
    }
    for (size_t i = 0; i < g.gl_pathc; i++) {
        struct cr_buf buf;
        cr_buf_init(&buf, 0);
        struct cr_error err;
        struct cr_image img = {0};
        cr_status st = cr__file_read(g.gl_pathv[i], 0, &buf, &err);
        if (st == CR_OK)
            st = cr_image_decode(buf.data, buf.len, NULL, &img, &err);
        struct blob b = {buf.data, buf.len};
        int rw = 0, rh = 0, rc = 0;
        unsigned char *ref = st == CR_OK ? ref_decode(&b, JCS_RGB, &rw, &rh, &rc) : NULL;
        char line[256];
        snprintf(line, sizeof(line), "%s decodes to %dx%d, equal to libjpeg's decode",
                 g.gl_pathv[i], img.width, img.height);
        if (!CHECK_MSG(st == CR_OK && same_pixels(&img, ref, rw, rh), line))
            DIAG("%s: %s", cr_status_name(st), err.message);
        if (strcmp(strrchr(g.gl_pathv[i], '/'), "/dog.jpg") == 0)
            CHECK_MSG(img.width == 768 && img.height == 576, "dog.jpg is 768x576");
        free(ref);
        cr_image_clear(&img);
        cr_buf_clear(&buf);
    }
    globfree(&g);
}

/* ---- EXIF orientation ----------------------------------------------------*/

/* Quadrant colors, top-left, top-right, bottom-left, bottom-right. */
static const unsigned char quad_rgb[4][3] = {{255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
static const char quad_names[] = "RGBY";

#define QUAD_W 32
#define QUAD_H 16

/* A 32x16 picture of four 16x8 blocks: red, green above blue, yellow. The
 * blocks are whole JPEG blocks, so the corners keep their colors. */
static unsigned char *make_quadrants(void)
{
    unsigned char *p = malloc(QUAD_W * QUAD_H * 3);
    for (int y = 0; y < QUAD_H; y++)
        for (int x = 0; x < QUAD_W; x++)
            memcpy(p + (y * QUAD_W + x) * 3, quad_rgb[(y >= QUAD_H / 2) * 2 + (x >= QUAD_W / 2)],
                   3);
    return p;
}

/* The letters of the quadrant colors nearest to img's four corners, in the
 * order top-left, top-right, bottom-left, bottom-right ("????" if empty). */
static void corner_colors(const struct cr_image *img, char out[5])
{
    memcpy(out, "????", 5);
    for (int k = 0; img->pixels && k < 4; k++) {
        int x = k % 2 ? img->width - 1 : 0, y = k / 2 ? img->height - 1 : 0;
        const unsigned char *px = img->pixels + ((size_t)y * img->width + x) * 3;
        int best = 0, best_d = 1 << 30;
        for (int q = 0; q < 4; q++) {
            int d = 0;
            for (int c = 0; c < 3; c++)
                d += (px[c] - quad_rgb[q][c]) * (px[c] - quad_rgb[q][c]);
            if (d < best_d)
                best = q, best_d = d;
        }
        out[k] = quad_names[best];
    }
}

/* The corners each orientation must show for the quadrant picture: where
 * its red, green, blue and yellow blocks end up once upright. */
static const char *const upright_corners[9] = {"",     "RGBY", "GRYB", "YBGR", "BYRG",
                                               "RBGY", "BRYG", "YGBR", "GYRB"};

/* The EXIF specification's mapping, restated independently of orient.c:
 * pixel (x, y) of the upright picture is stored pixel (*sx, *sy) of a w x h
 * image. Values outside 2..8 map to themselves. */
static void spec_source(int o, int w, int h, int x, int y, int *sx, int *sy)
{
    const int t[9][2] = {
        {x, y},                 /* (out of range) as stored */
        {x, y},                 /* 1 as stored */
        {w - 1 - x, y},         /* 2 mirrored left-right */
        {w - 1 - x, h - 1 - y}, /* 3 rotated 180 */
        {x, h - 1 - y},         /* 4 mirrored top-bottom */
        {y, x},                 /* 5 transposed */
        {y, h - 1 - x},         /* 6 rotated 90 clockwise */
        {w - 1 - y, h - 1 - x}, /* 7 transversed */
        {w - 1 - y, x},         /* 8 rotated 90 counter-clockwise */
    };
    int k = o >= 1 && o <= 8 ? o : 0;
    *sx = t[k][0];
    *sy = t[k][1];
}

/* True when img is the stored w x h RGB picture src shown upright for
 * orientation o, pixel for pixel. */
static int is_upright(const struct cr_image *img, const unsigned char *src, int w, int h, int o)
{
    int swap = o >= 5 && o <= 8;
    if (!img->pixels || img->width != (swap ? h : w) || img->height != (swap ? w : h))
        return 0;
    for (int y = 0; y < img->height; y++)
        for (int x = 0; x < img->width; x++) {
            int sx, sy;
            spec_source(o, w, h, x, y, &sx, &sy);
            if (memcmp(img->pixels + ((size_t)y * img->width + x) * 3,
                       src + ((size_t)sy * w + sx) * 3, 3) != 0)
                return 0;
        }
    return 1;
}

/* The pixel mover on its own, every orientation against the specification's
 * mapping: a 3x2 image, and a 150x70 one that spans several of orient.c's
 * 64-pixel tiles with partial ones at the edges. Random bytes make every
 * misplaced pixel show. */
static void test_orient_apply(void)
{
    static const int sizes[2][2] = {{3, 2}, {150, 70}};
    for (int s = 0; s < 2; s++) {
        int w = sizes[s][0], h = sizes[s][1];
        size_t n = (size_t)w * h * 3;
        unsigned char *src = malloc(n);
        fill_random(src, n, 99u + (uint32_t)s);
        for (int o = 0; o <= 9; o++) {
            struct cr_image img = {w, h, 3, malloc(n)};
            memcpy(img.pixels, src, n);
            char line[96];
            snprintf(line, sizeof(line), "cr__orient_apply %dx%d, %d: %s", w, h, o,
                     o >= 2 && o <= 8 ? "the specification's mapping" : "left as stored");
            CHECK_MSG(cr__orient_apply(&img, o, NULL) == CR_OK && is_upright(&img, src, w, h, o),
                      line);
            cr_image_clear(&img);
        }
        free(src);
    }
}

/* Every orientation in both byte orders: the size swaps for 5..8, the
 * corners land where the specification says, and the pixels are exactly the
 * untagged decode turned upright. */
static void test_exif_jpeg(void)
{
    unsigned char *src = make_quadrants();
    struct blob jpg = encode_rgb_jpeg(src, QUAD_W, QUAD_H, 0);
    struct cr_image plain;
    CHECK_EQ_INT(decode(&jpg, &plain, NULL), CR_OK);
    for (int big = 0; big <= 1; big++) {
        for (int o = 1; o <= 8; o++) {
            unsigned char t[64];
            struct tiff_entry e = {TAG_ORIENTATION, TIFF_SHORT, 1, (uint32_t)o};
            size_t n = build_tiff(t, big, &e, 1, 0);
            struct blob tagged = add_app1(&jpg, NULL, "Exif\0\0", t, n);
            struct cr_image img;
            cr_status st = decode(&tagged, &img, NULL);
            char corners[5], line[128];
            corner_colors(&img, corners);
            int w = o >= 5 ? QUAD_H : QUAD_W, h = o >= 5 ? QUAD_W : QUAD_H;
            snprintf(line, sizeof(line), "JPEG, %s, orientation %d: decodes to %dx%d",
                     big ? "MM" : "II", o, w, h);
            CHECK_MSG(st == CR_OK && img.width == w && img.height == h, line);
            snprintf(line, sizeof(line), "... corners %s", upright_corners[o]);
            if (!CHECK_MSG(strcmp(corners, upright_corners[o]) == 0, line))
                DIAG("got %s", corners);
            CHECK_MSG(is_upright(&img, plain.pixels, QUAD_W, QUAD_H, o),
                      "... pixels: the untagged decode turned upright");
            cr_image_clear(&img);
            blob_clear(&tagged);
        }
    }
    cr_image_clear(&plain);
    blob_clear(&jpg);
    free(src);
}

/* Other JPEG kinds go through the same step; the header probe does not. */
static void test_exif_jpeg_gray_and_probe(void)
{
    unsigned char gray[16 * 8], t[64];
    for (int i = 0; i < 16 * 8; i++)
        gray[i] = (unsigned char)(i % 16 < 8 ? 30 : 220);
    struct jpeg_opts opts = {.in_space = JCS_GRAYSCALE, .components = 1};
    struct blob jpg = encode_jpeg(gray, 16, 8, &opts);
    struct tiff_entry e = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    struct blob tagged = add_app1(&jpg, NULL, "Exif\0\0", t, build_tiff(t, 1, &e, 1, 0));
    struct cr_image img;
    CHECK_EQ_INT(decode(&tagged, &img, NULL), CR_OK);
    /* Turned clockwise, the dark left half becomes the top half. */
    CHECK_MSG(img.width == 8 && img.height == 16 && img.pixels && img.pixels[0] < 128 &&
                  img.pixels[(15 * 8) * 3] > 128,
              "grayscale JPEG with orientation 6: 8x16, dark half on top");
    int w = 0, h = 0;
    CHECK_EQ_INT(cr_image_probe(tagged.data, tagged.len, NULL, &w, &h, NULL), CR_OK);
    CHECK_MSG(w == 16 && h == 8, "probe reports the stored size, 16x8, not the upright one");
    cr_image_clear(&img);
    blob_clear(&tagged);
    blob_clear(&jpg);
}

/* Encodes the quadrant picture as a PNG with eXIf chunks (either may be
 * NULL), decodes it and checks it is src upright for orientation want. */
static void check_png_exif(const unsigned char *src, const struct blob *before,
                           const struct blob *after, int want, const char *what)
{
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8};
    o.exif = before;
    o.exif_end = after;
    struct blob png = encode_png(src, QUAD_W, QUAD_H, &o);
    struct cr_image img;
    cr_status st = decode(&png, &img, NULL);
    char line[160];
    snprintf(line, sizeof(line), "%s: decodes, %s", what,
             want == 1 ? "as stored" : upright_corners[want]);
    CHECK_MSG(st == CR_OK && is_upright(&img, src, QUAD_W, QUAD_H, want), line);
    cr_image_clear(&img);
    blob_clear(&png);
}

/* PNG carries EXIF as a bare TIFF block in an eXIf chunk; OpenCV 4.6 reads
 * it there too, before or after the image data (before wins). */
static void test_exif_png(void)
{
    unsigned char *src = make_quadrants(), t[64], t3[64];
    char what[96];
    for (int big = 0; big <= 1; big++) {
        for (int o = 1; o <= 8; o++) {
            struct tiff_entry e = {TAG_ORIENTATION, TIFF_SHORT, 1, (uint32_t)o};
            struct blob exif = {t, build_tiff(t, big, &e, 1, 0)};
            snprintf(what, sizeof(what), "PNG eXIf, %s, orientation %d", big ? "MM" : "II", o);
            check_png_exif(src, &exif, NULL, o, what);
        }
    }
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6},
                      e3 = {TAG_ORIENTATION, TIFF_SHORT, 1, 3};
    struct blob exif6 = {t, build_tiff(t, 0, &e6, 1, 0)};
    struct blob exif3 = {t3, build_tiff(t3, 0, &e3, 1, 0)};
    check_png_exif(src, NULL, &exif6, 6, "PNG eXIf after the image data");
    check_png_exif(src, &exif6, &exif3, 6, "PNG eXIf 6 before the image data, 3 after");
    t3[0] = t3[1] = 'X'; /* libpng drops an eXIf chunk without "II" or "MM" */
    check_png_exif(src, &exif3, NULL, 1, "PNG eXIf with byte order \"XX\"");
    put32(t + 4, 0, 5000);
    check_png_exif(src, &exif6, NULL, 1, "PNG eXIf with IFD0 past the end");
    free(src);
}

/* Inserts an APP1 (ident + the n bytes of body, after the `first` APP1 if
 * any) into the quadrant JPEG and checks the decode succeeds and shows
 * orientation want relative to the untagged decode `plain`. */
static void check_jpeg_exif(const struct blob *jpg, const struct cr_image *plain,
                            const struct blob *first, const char *ident, const unsigned char *body,
                            size_t n, int want, const char *what)
{
    struct blob tagged = add_app1(jpg, first, ident, body, n);
    struct cr_image img;
    struct cr_error err;
    cr_status st = decode(&tagged, &img, &err);
    char line[160];
    if (want == 1)
        snprintf(line, sizeof(line), "EXIF %s: decodes, orientation ignored", what);
    else
        snprintf(line, sizeof(line), "EXIF %s: decodes, orientation %d applied", what, want);
    if (!CHECK_MSG(st == CR_OK && is_upright(&img, plain->pixels, QUAD_W, QUAD_H, want), line))
        DIAG("%s, %dx%d: %s", cr_status_name(st), img.width, img.height, err.message);
    cr_image_clear(&img);
    blob_clear(&tagged);
}

/* Well-formed TIFF with one Orientation 6 entry in byte order big; the
 * cases below break it one way each. */
static size_t tiff6(unsigned char *t, int big)
{
    struct tiff_entry e = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    return build_tiff(t, big, &e, 1, 0);
}

/* Broken blocks never fail the decode; where one hides the tag the image
 * stays as stored. */
static void check_exif_broken(const struct blob *jpg, const struct cr_image *plain)
{
    unsigned char t[256];
    size_t n = tiff6(t, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6, "well-formed control");
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, 0, 1, "segment holding only \"Exif\\0\\0\"");
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, 6, 1, "TIFF header cut short");
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, 19, 1, "cut inside the Orientation value");
    put32(t + 4, 0, 5000);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1, "IFD0 offset past the end");
    put32(t + 4, 0, 0xfffffffeu);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1, "IFD0 offset near 2^32");
    n = tiff6(t, 0);
    put16(t + 2, 0, 43);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1, "TIFF magic 43");
    n = tiff6(t, 1);
    put16(t + 8, 1, 0xffff);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6,
                    "entry count 65535, Orientation first (read, as Darknet does)");
    struct tiff_entry other = {0x0100, TIFF_LONG, 1, 7};
    n = build_tiff(t, 1, &other, 1, 0);
    put16(t + 8, 1, 0xffff);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1, "entry count 65535, no Orientation");
    static const uint32_t out_of_range[] = {0, 9, 0xffff};
    for (int i = 0; i < 3; i++) {
        struct tiff_entry bad = {TAG_ORIENTATION, TIFF_SHORT, 1, out_of_range[i]};
        char what[64];
        snprintf(what, sizeof(what), "Orientation %u", (unsigned)out_of_range[i]);
        check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, build_tiff(t, i % 2, &bad, 1, 0), 1, what);
    }
}

/* IFD links that point back at IFD0 cannot make the reader loop: only IFD0
 * is read, once. */
static void check_exif_loops(const struct blob *jpg, const struct cr_image *plain)
{
    unsigned char t[64];
    struct tiff_entry loop[2] = {{TAG_ORIENTATION, TIFF_SHORT, 1, 6}, {TAG_EXIF_IFD, 4, 1, 8}};
    size_t n = build_tiff(t, 0, loop, 2, 8);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6,
                    "next-IFD and Exif sub-IFD links pointing at IFD0");
    n = build_tiff(t, 1, loop + 1, 1, 8);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1, "IFD0 loop without Orientation");
}

/* Where OpenCV 4.6 departs from the TIFF rules, the library follows it, so
 * the pixels stay Darknet's (each case measured against libdarknet.so). */
static void check_exif_opencv_quirks(const struct blob *jpg, const struct cr_image *plain)
{
    unsigned char t[64];
    struct tiff_entry make_bad[2] = {{0x010f, TIFF_ASCII, 40, 5000},
                                     {TAG_ORIENTATION, TIFF_SHORT, 1, 6}};
    size_t n = build_tiff(t, 0, make_bad, 2, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1,
                    "Make string out of range before Orientation (OpenCV gives up)");
    struct tiff_entry res_bad[2] = {{0x011a, TIFF_RATIONAL, 1, 5000},
                                    {TAG_ORIENTATION, TIFF_SHORT, 1, 6}};
    n = build_tiff(t, 1, res_bad, 2, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1,
                    "XResolution out of range before Orientation");
    struct tiff_entry two[2] = {{TAG_ORIENTATION, TIFF_SHORT, 1, 6},
                                {TAG_ORIENTATION, TIFF_SHORT, 1, 3}};
    n = build_tiff(t, 0, two, 2, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6, "two Orientation entries: the first");
    struct tiff_entry as_long = {TAG_ORIENTATION, TIFF_LONG, 1, 6};
    n = build_tiff(t, 0, &as_long, 1, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6, "Orientation typed LONG, II");
    n = build_tiff(t, 1, &as_long, 1, 0);
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 1,
                    "Orientation typed LONG, MM (its high half, 0, is read)");
    n = tiff6(t, 0);
    check_jpeg_exif(jpg, plain, NULL, "abcd\0\0", t, n, 6, "APP1 without \"Exif\\0\\0\"");
    struct blob xmp = {(unsigned char *)"http://ns.adobe.com/xap/1.0/\0<x/>", 33};
    check_jpeg_exif(jpg, plain, &xmp, "Exif\0\0", t, n, 1, "after an XMP APP1 (first APP1 only)");
    n = tiff6(t, 1);
    t[0] = t[1] = 'X';
    check_jpeg_exif(jpg, plain, NULL, "Exif\0\0", t, n, 6, "byte order \"XX\" (read as MM)");
}

static void test_exif_malformed(void)
{
    unsigned char *src = make_quadrants();
    struct blob jpg = encode_rgb_jpeg(src, QUAD_W, QUAD_H, 0);
    struct cr_image plain;
    CHECK_EQ_INT(decode(&jpg, &plain, NULL), CR_OK);
    check_exif_broken(&jpg, &plain);
    check_exif_loops(&jpg, &plain);
    check_exif_opencv_quirks(&jpg, &plain);
    cr_image_clear(&plain);
    blob_clear(&jpg);
    free(src);
}

/* Random TIFF blocks straight into the reader, each in a buffer of exactly
 * its length so the sanitizers catch any read past it. */
static void fuzz_exif_reader(void)
{
    int bad = 0;
    uint32_t seed = 2463534242u;
    CHECK_EQ_INT(cr__exif_orientation(NULL, 0), 1);
    for (int i = 0; i < 5000; i++) {
        unsigned char head[8];
        fill_random(head, sizeof(head), seed += 7919);
        size_t len = head[0] % 96;
        unsigned char *t = malloc(len ? len : 1);
        fill_random(t, len, seed);
        if (len >= 8 && head[1] % 4 != 0) { /* mostly a valid header, IFD0 nearby */
            memcpy(t, head[2] % 2 ? "MM\0*" : "II*\0", 4);
            put32(t + 4, head[2] % 2, head[3] % 32);
        }
        int o = cr__exif_orientation(t, len);
        bad += o < 1 || o > 8;
        free(t);
    }
    CHECK_MSG(bad == 0, "5000 random TIFF blocks: every answer in 1..8, no bad reads");
}

/* Every byte of a well-formed Exif segment (after its length) replaced by
 * 0x00, 0xff and itself with the top bit flipped: the decode never fails. */
static void fuzz_exif_segment(void)
{
    unsigned char *src = make_quadrants(), t[64];
    struct blob jpg = encode_rgb_jpeg(src, QUAD_W, QUAD_H, 0);
    int bad = 0, cases = 0;
    for (int big = 0; big <= 1; big++) {
        /* Make "Phone" stored after IFD0, at offset 14 + 2 * 12 = 38. */
        struct tiff_entry e[2] = {{0x010f, TIFF_ASCII, 6, 38}, {TAG_ORIENTATION, TIFF_SHORT, 1, 8}};
        size_t n = build_tiff(t, big, e, 2, 0);
        memcpy(t + n, "Phone", 6);
        struct blob tagged = add_app1(&jpg, NULL, "Exif\0\0", t, n + 6);
        /* SOI, marker and length take 6 bytes; the rest is the payload. */
        for (size_t at = 6; at < tagged.len - jpg.len + 2; at++) {
            unsigned char keep = tagged.data[at], with[3] = {0x00, 0xff, keep ^ 0x80};
            for (int k = 0; k < 3; k++, cases++) {
                tagged.data[at] = with[k];
                struct cr_image img;
                bad += decode(&tagged, &img, NULL) != CR_OK || img.width * img.height != 512;
                cr_image_clear(&img);
            }
            tagged.data[at] = keep;
        }
        blob_clear(&tagged);
    }
    char line[96];
    snprintf(line, sizeof(line), "%d single-byte corruptions of an Exif segment all decode", cases);
    CHECK_MSG(bad == 0, line);
    blob_clear(&jpg);
    free(src);
}

static int g_log_lines;

static void count_log(void *ud, enum cr_log_level level, const char *line)
{
    (void)ud;
    (void)level;
    (void)line;
    g_log_lines++;
}

/* The decoders never write to stderr: run the failing and warning cases with
 * stderr pointed at a file and check it stayed empty. */
static void test_silence(void)
{
    fflush(stderr);
    FILE *tmp = tmpfile();
    int saved = dup(2);
    dup2(fileno(tmp), 2);
    test_bad_inputs();
    test_truncated_jpeg(0);
    test_truncated_jpeg(1);
    test_truncated_png();
    test_corrupt_huffman();
    test_jpeg_tolerated_warning();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    long size = (fseek(tmp, 0, SEEK_END) == 0) ? ftell(tmp) : -1;
    if (!CHECK_MSG(size == 0, "libjpeg and libpng printed nothing to stderr"))
        DIAG("stderr got %ld bytes", size);
    fclose(tmp);

    /* With a handler installed, tolerated warnings reach the debug log. */
    cr_log_set_handler(count_log, NULL, CR_LOG_DEBUG);
    test_jpeg_tolerated_warning();
    cr_log_set_handler(NULL, NULL, CR_LOG_OFF);
    CHECK_MSG(g_log_lines > 0, "a tolerated libjpeg warning goes to the debug log");
}

int main(void)
{
    test_sniff();
    test_jpeg_baseline();
    test_jpeg_progressive();
    test_jpeg_gray();
    test_jpeg_cmyk();
    test_png_rgb();
    test_png_palette();
    test_png_gray();
    test_png_alpha();
    test_png_16bit();
    test_png_interlaced();
    test_probe();
    test_bad_arguments();
    test_silence(); /* bad inputs, truncations, corrupt tables, warnings */
    test_png_bad_crc();
    test_huge_png();
    test_huge_jpeg();
    test_too_many_scans();
    test_limits();
    test_darknet_samples();
    test_orient_apply();
    test_exif_jpeg();
    test_exif_jpeg_gray_and_probe();
    test_exif_png();
    test_exif_malformed();
    fuzz_exif_reader();
    fuzz_exif_segment();
    return tap_done();
}
