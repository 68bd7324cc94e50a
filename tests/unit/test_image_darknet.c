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
#include "image_builders.h"
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

/* ---- building the files --------------------------------------------------*/

/* Encodes picture as a baseline JPEG (libjpeg defaults, quality 90). */
static struct blob encode_picture_jpeg(void)
{
    struct jpeg_opts o = {.in_space = JCS_RGB, .components = 3, .quality = 90};
    return encode_jpeg(picture, W, H, &o);
}

/* Encodes picture as an RGB PNG with an eXIf chunk before and/or after the
 * image data (either may be NULL). */
static struct blob encode_picture_png(const struct blob *before, const struct blob *after)
{
    struct png_opts o = {.color_type = PNG_COLOR_TYPE_RGB, .bit_depth = 8, .exif = before,
                         .exif_end = after};
    return encode_png(picture, W, H, &o);
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
            struct blob tiff = {t, build_tiff(t, big, &e, 1, 0)};
            char name[64];
            snprintf(name, sizeof(name), "%s-orientation-%d.jpg", big ? "mm" : "ii", o);
            compare_jpeg(jpg, NULL, "Exif\0\0", t, tiff.len, o >= 5, name);
            struct blob png = encode_picture_png(&tiff, NULL);
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
    struct blob x6 = {t6, build_tiff(t6, 0, &e6, 1, 0)}, x3 = {t3, build_tiff(t3, 1, &e3, 1, 0)};
    struct blob png = encode_picture_png(NULL, &x6);
    compare(&png, "exif-after-idat.png", H, W);
    free(png.data);
    png = encode_picture_png(&x6, &x3);
    compare(&png, "exif-before-and-after-idat.png", H, W);
    free(png.data);
    png = encode_picture_png(&x3, &x6);
    compare(&png, "exif-3-before-6-after-idat.png", W, H);
    free(png.data);
}

/* Broken blocks: what OpenCV can still read is applied, the rest ignored. */
static void test_broken(const struct blob *jpg)
{
    unsigned char t[128];
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    size_t n = build_tiff(t, 0, &e6, 1, 0);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 19, 0, "cut-inside-value.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 20, 1, "cut-after-value.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, 6, 0, "cut-header.jpg");
    put16(t + 8, 0, 0xffff);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 1, "count-65535.jpg");
    n = build_tiff(t, 0, &e6, 1, 0);
    put32(t + 4, 0, 5000);
    compare_jpeg(jpg, NULL, "Exif\0\0", t, n, 0, "ifd0-past-end.jpg");
    n = build_tiff(t, 1, &e6, 1, 0);
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
        compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, i % 2, e, 2, 0), cases[i].swapped,
                     cases[i].name);
    }
}

/* Value types, byte orders and segment identities OpenCV does not check. */
static void test_loose_reading(const struct blob *jpg)
{
    unsigned char t[64];
    struct tiff_entry as_long = {TAG_ORIENTATION, TIFF_LONG, 1, 6};
    compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, 0, &as_long, 1, 0), 1, "long-ii.jpg");
    compare_jpeg(jpg, NULL, "Exif\0\0", t, build_tiff(t, 1, &as_long, 1, 0), 0, "long-mm.jpg");
    struct tiff_entry e6 = {TAG_ORIENTATION, TIFF_SHORT, 1, 6};
    size_t n = build_tiff(t, 1, &e6, 1, 0);
    compare_jpeg(jpg, NULL, "abcd\0\0", t, n, 1, "no-exif-ident.jpg");
    struct blob xmp = {(unsigned char *)"http://ns.adobe.com/xap/1.0/\0<x/>", 33};
    compare_jpeg(jpg, &xmp, "Exif\0\0", t, n, 0, "xmp-first.jpg");
    struct blob exif3 = {malloc(64), 0};
    struct tiff_entry e3 = {TAG_ORIENTATION, TIFF_SHORT, 1, 3};
    memcpy(exif3.data, "Exif\0\0", 6);
    exif3.len = 6 + build_tiff(exif3.data + 6, 0, &e3, 1, 0);
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
    struct blob jpg = encode_picture_jpeg();
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
