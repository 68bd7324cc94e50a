/*
 * test_image_darknet.c - cr_image_decode against Darknet's own image loader.
 *
 * `darknet classifier predict` loads images with load_image_color, which
 * calls OpenCV 4.6's imread(IMREAD_COLOR); that turns JPEGs and PNGs upright
 * by their EXIF orientation. This program writes JPEGs and PNGs carrying
 * EXIF blocks, well-formed and broken, into a temporary directory, loads
 * each through libdarknet.so (dlopen'd, as the library does) and through
 * cr_image_decode, and requires the same size and the same pixels. It skips
 * when libdarknet.so is not installed.
 */
#include "cloudrec.h"
#include "tap.h"
#include "internal.h"

#include <dlfcn.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#define DARKNET_LIB "/usr/lib/darknet/libdarknet.so"
#define W 100 /* not square, not whole JPEG blocks, more than one 64-pixel tile */
#define H 70

/* Darknet's image: planar float RGB in 0..1 (darknet.h). */
typedef struct {
    int w, h, c;
    float *data;
} dn_image;

static dn_image (*dn_load_image_color)(char *filename, int w, int h);
static void (*dn_free_image)(dn_image m);
static char tmpdir[] = "/tmp/cloudrec-image-darknet-XXXXXX";
static unsigned char picture[W * H * 3];

struct blob {
    unsigned char *data;
    size_t len;
};

/* ---- building the files --------------------------------------------------*/

/* Encodes picture as a baseline JPEG (libjpeg defaults, quality 90). */
static struct blob encode_jpeg(void)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = W;
    c.image_height = H;
    c.input_components = 3;
    c.in_color_space = JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 90, TRUE);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = picture + (size_t)c.next_scanline * W * 3;
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (struct blob){mem, size};
}

static void png_append(png_structp png, png_bytep data, size_t n)
{
    cr__buf_append(png_get_io_ptr(png), data, n);
}

static void png_flush_nothing(png_structp png)
{
    (void)png;
}

/* Encodes picture as an RGB PNG with an eXIf chunk before and/or after the
 * image data (either may be NULL). */
static struct blob encode_png(const struct blob *before, const struct blob *after)
{
    struct cr_buf buf;
    cr_buf_init(&buf, 0);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png), end = png_create_info_struct(png);
    png_set_write_fn(png, &buf, png_append, png_flush_nothing);
    png_set_IHDR(png, info, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (before)
        png_set_eXIf_1(png, info, (png_uint_32)before->len, before->data);
    png_write_info(png, info);
    for (int y = 0; y < H; y++)
        png_write_row(png, picture + (size_t)y * W * 3);
    if (after)
        png_set_eXIf_1(png, end, (png_uint_32)after->len, after->data);
    png_write_end(png, end);
    png_destroy_info_struct(png, &end);
    png_destroy_write_struct(&png, &info);
    size_t len = 0;
    unsigned char *data = (unsigned char *)cr__buf_steal(&buf, &len);
    return (struct blob){data, len};
}

enum { TIFF_ASCII = 2, TIFF_SHORT = 3, TIFF_LONG = 4, TIFF_RATIONAL = 5 };
#define TAG_ORIENTATION 0x0112

/* One IFD0 entry; a SHORT value fills the first two bytes of the field. */
struct tiff_entry {
    uint16_t tag, type;
    uint32_t count, value;
};

static void put16(unsigned char *p, int big, uint32_t v)
{
    p[big ? 0 : 1] = (unsigned char)(v >> 8);
    p[big ? 1 : 0] = (unsigned char)v;
}

static void put32(unsigned char *p, int big, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[big ? 3 - i : i] = (unsigned char)(v >> (8 * i));
}

/* A TIFF block in t ("MM" when big, else "II"; IFD0 at 8 with the n entries,
 * no next IFD). Returns its length, 14 + 12n. */
static size_t build_tiff(unsigned char *t, int big, const struct tiff_entry *e, int n)
{
    t[0] = t[1] = big ? 'M' : 'I';
    put16(t + 2, big, 42);
    put32(t + 4, big, 8);
    put16(t + 8, big, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        unsigned char *p = t + 10 + 12 * i;
        put16(p, big, e[i].tag);
        put16(p + 2, big, e[i].type);
        put32(p + 4, big, e[i].count);
        memset(p + 8, 0, 4);
        if (e[i].type == TIFF_SHORT)
            put16(p + 8, big, e[i].value);
        else
            put32(p + 8, big, e[i].value);
    }
    put32(t + 10 + 12 * n, big, 0);
    return 14 + 12 * (size_t)n;
}

/* jpg with APP1 segments after SOI: `first` (if not NULL), then ident (6
 * bytes) + body (n bytes). */
static struct blob add_app1(const struct blob *jpg, const struct blob *first, const char *ident,
                            const unsigned char *body, size_t n)
{
    size_t pre = first ? 4 + first->len : 0;
    struct blob out = {malloc(jpg->len + pre + 10 + n), jpg->len + pre + 10 + n};
    unsigned char *p = out.data;
    memcpy(p, jpg->data, 2);
    if (first) {
        memcpy(p + 2, "\xff\xe1", 2);
        put16(p + 4, 1, (uint32_t)first->len + 2);
        memcpy(p + 6, first->data, first->len);
    }
    p += 2 + pre;
    memcpy(p, "\xff\xe1", 2);
    put16(p + 2, 1, (uint32_t)(n + 8));
    memcpy(p + 4, ident, 6);
    memcpy(p + 10, body, n);
    memcpy(p + 10 + n, jpg->data + 2, jpg->len - 2);
    return out;
}

/* ---- the comparison ------------------------------------------------------*/

/* True when Darknet's planar floats and our interleaved bytes agree. */
static int same_image(const dn_image *dn, const struct cr_image *img)
{
    if (!dn->data || !img->pixels || dn->w != img->width || dn->h != img->height || dn->c != 3)
        return 0;
    size_t plane = (size_t)dn->w * dn->h;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            if (lrintf(dn->data[c * plane + i] * 255.0f) != img->pixels[i * 3 + c])
                return 0;
    return 1;
}

/* Writes b to a file, loads it through Darknet and through cr_image_decode,
 * and checks both give want_w x want_h and identical pixels. */
static void compare(const struct blob *b, const char *name, int want_w, int want_h)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    int written = f && fwrite(b->data, 1, b->len, f) == b->len;
    if (f)
        fclose(f);
    dn_image dn = written ? dn_load_image_color(path, 0, 0) : (dn_image){0};
    struct cr_image img;
    struct cr_error err;
    cr_status st = cr_image_decode(b->data, b->len, NULL, &img, &err);
    char line[200];
    snprintf(line, sizeof(line), "%s: %dx%d, same pixels as Darknet", name, want_w, want_h);
    if (!CHECK_MSG(st == CR_OK && img.width == want_w && img.height == want_h &&
                       same_image(&dn, &img),
                   line))
        DIAG("ours %s %dx%d (%s), Darknet %dx%d", cr_status_name(st), img.width, img.height,
             err.message, dn.w, dn.h);
    if (dn.data)
        dn_free_image(dn);
    cr_image_clear(&img);
    unlink(path);
}

/* Inserts APP1 segments (see add_app1) into jpg and compares; swapped says
 * whether the expected size is H x W (orientations 5..8 applied). */
static void compare_jpeg(const struct blob *jpg, const struct blob *first, const char *ident,
                         const unsigned char *body, size_t n, int swapped, const char *name)
{
    struct blob tagged = add_app1(jpg, first, ident, body, n);
    compare(&tagged, name, swapped ? H : W, swapped ? W : H);
    free(tagged.data);
}

/* ---- the cases -----------------------------------------------------------*/

static void test_orientations(const struct blob *jpg)
{
    for (int big = 0; big <= 1; big++) {
        for (int o = 1; o <= 8; o++) {
            unsigned char t[64];
            struct tiff_entry e = {TAG_ORIENTATION, TIFF_SHORT, 1, (uint32_t)o};
            struct blob tiff = {t, build_tiff(t, big, &e, 1)};
            char name[64];
            snprintf(name, sizeof(name), "%s-orientation-%d.jpg", big ? "mm" : "ii", o);
            compare_jpeg(jpg, NULL, "Exif\0\0", t, tiff.len, o >= 5, name);
            struct blob png = encode_png(&tiff, NULL);
            snprintf(name, sizeof(name), "%s-orientation-%d.png", big ? "mm" : "ii", o);
            compare(&png, name, o >= 5 ? H : W, o >= 5 ? W : H);
            free(png.data);
        }
    }
}

static void test_png_placement(void)
{
    unsigned char t6[64], t3[64];
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    struct tiff_entry e3 = {TAG_ORIENTATION, TIFF_SHORT, 1, 3};
    struct blob x6 = {t6, build_tiff(t6, 0, &e6, 1)}, x3 = {t3, build_tiff(t3, 1, &e3, 1)};
    struct blob png = encode_png(NULL, &x6);
    compare(&png, "exif-after-idat.png", H, W);
    free(png.data);
    png = encode_png(&x6, &x3);
    compare(&png, "exif-before-and-after-idat.png", H, W);
    free(png.data);
    png = encode_png(&x3, &x6);
    compare(&png, "exif-3-before-6-after-idat.png", W, H);
    free(png.data);
}

/* Broken blocks: what OpenCV can still read is applied, the rest ignored. */
static void test_broken(const struct blob *jpg)
{
    unsigned char t[128];
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    size_t n = build_tiff(t, 0, &e6, 1);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 19, 0, "cut-inside-value.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 20, 1, "cut-after-value.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 6, 0, "cut-header.jpg");
    put16(t + 8, 0, 0xffff);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 1, "count-65535.jpg");
    n = build_tiff(t, 0, &e6, 1);
    put32(t + 4, 0, 5000);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 0, "ifd0-past-end.jpg");
    n = build_tiff(t, 1, &e6, 1);
    put16(t + 2, 1, 43);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 0, "magic-43.jpg");
}

/* Entries before the Orientation that OpenCV reads and may trip over. */
static void test_entries_before(const struct blob *jpg)
{
    static const struct {
        struct tiff_entry first;
        int swapped;
        const char *name;
    } cases[] = {
        {{0x010f, TIFF_ASCII, 40, 5000}, 0, "make-out-of-range.jpg"},
        {{0x010f, TIFF_ASCII, 4, 0x41424344}, 1, "make-inline.jpg"},
        {{0x010f, TIFF_ASCII, 30, 0}, 1, "make-at-0-fits.jpg"},
        {{0x010f, TIFF_ASCII, 40, 0}, 0, "make-at-0-too-long.jpg"},
        {{0x011a, TIFF_RATIONAL, 1, 5000}, 0, "xresolution-out-of-range.jpg"},
        {{0x013e, TIFF_RATIONAL, 2, 30}, 0, "whitepoint-past-end.jpg"},
        {{0x013e, TIFF_RATIONAL, 2, 22}, 1, "whitepoint-fits.jpg"},
        {{0x8769, TIFF_LONG, 1, 0xffffff}, 1, "exif-ifd-out-of-range.jpg"},
        {{0x0100, TIFF_LONG, 1, 0xffffff}, 1, "unknown-tag.jpg"},
        {{TAG_ORIENTATION, TIFF_SHORT, 1, 3}, 0, "orientation-3-then-6.jpg"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        unsigned char t[64];
        struct tiff_entry e[2] = {cases[i].first, {TAG_ORIENTATION, TIFF_SHORT, 1, 6}};
        compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, i % 2, e, 2), cases[i].swapped,
                     cases[i].name);
    }
}

/* Value types, byte orders and segment identities OpenCV does not check. */
static void test_loose_reading(const struct blob *jpg)
{
    unsigned char t[64];
    struct tiff_entry as_long = {TAG_ORIENTATION, TIFF_LONG, 1, 6};
    compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, 0, &as_long, 1), 1, "long-ii.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, 1, &as_long, 1), 0, "long-mm.jpg");
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    size_t n = build_tiff(t, 1, &e6, 1);
    compare_jpeg(jpg, NULL, "abcd\0\0", t, n, 1, "no-exif-ident.jpg");
    struct blob xmp = {(unsigned char *)"http://ns.adobe.com/xap/1.0/\0<x/>", 33};
    compare_jpeg(jpg, &xmp, "Exif\0\0", t, n, 0, "xmp-first.jpg");
    struct blob exif3 = {malloc(64), 0};
    struct tiff_entry e3 = {TAG_ORIENTATION, TIFF_SHORT, 1, 3};
    memcpy(exif3.data, "Exif\0\0", 6);
    exif3.len = 6 + build_tiff(exif3.data + 6, 0, &e3, 1);
    compare_jpeg(jpg, &exif3, "Exif\0\0", t, n, 0, "two-exif-3-then-6.jpg");
    free(exif3.data);
    t[0] = t[1] = 'X';
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 1, "byte-order-xx.jpg");
    t[0] = 'I';
    t[1] = 'M';
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 1, "byte-order-im.jpg");
}

/* Opens Darknet the way the library does; 0 when it is not installed. */
static int load_darknet(void)
{
    const char *env = getenv("CLOUDREC_DARKNET_LIB");
    void *h = dlopen(env && *env ? env : DARKNET_LIB, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return 0;
    void *load = dlsym(h, "load_image_color"), *free_img = dlsym(h, "free_image");
    memcpy(&dn_load_image_color, &load, sizeof(load));
    memcpy(&dn_free_image, &free_img, sizeof(free_img));
    return load && free_img;
}

int main(void)
{
    if (!load_darknet() || !mkdtemp(tmpdir)) {
        CHECK_MSG(0, "libdarknet.so loadable (apt-get install darknet)");
        return tap_done();
    }
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            unsigned char *px = picture + (y * W + x) * 3;
            px[0] = (unsigned char)(x * 255 / (W - 1));
            px[1] = (unsigned char)(y * 255 / (H - 1));
            px[2] = (unsigned char)(x < W / 2 ? 40 : 200);
        }
    struct blob jpg = encode_jpeg();
    compare(&jpg, "untagged.jpg", W, H);
    test_orientations(&jpg);
    test_png_placement();
    test_broken(&jpg);
    test_entries_before(&jpg);
    test_loose_reading(&jpg);
    free(jpg.data);
    rmdir(tmpdir);
    return tap_done();
}
