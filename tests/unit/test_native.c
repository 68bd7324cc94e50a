/*
 * test_native.c - the native engine: same input and same answers as Darknet,
 * shared by threads, batches, and clear errors for bad or unsupported files.
 *
 *  - cr__letterbox gives the very floats Darknet's letterbox_image gives (the
 *    library's Darknet, dlopen'd), bit for bit, for many image shapes;
 *  - on more than 100 generated images (JPEG grey, RGB and CMYK, PNG RGB,
 *    grey+alpha and RGBA; sizes and aspect ratios from tall to wide) the
 *    native and Darknet engines agree: same top-5 labels, probabilities
 *    within 1e-4;
 *  - two threads sharing one native classifier get the single-thread answers;
 *  - cr_classify_batch equals one call per image;
 *  - truncated, oversized and malformed files are errors (never crashes),
 *    and an unsupported cfg is refused by the native engine and taken by
 *    Darknet under CR_ENGINE_AUTO.
 * The parts that need libdarknet.so skip when it is not installed.
 */
#include "classifier_fixture.h"
#include "cloudrec.h"
#include "image_builders.h"
#include "tap.h"
#include "vision/native.h"
#include "internal.h"

#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jpeglib.h>
#include <png.h>

#define DARKNET_LIB "/usr/lib/darknet/libdarknet.so"
#define DATA "/usr/share/darknet/data/"
#define N_GENERATED 108

static const char *const samples[] = {DATA "dog.jpg",   DATA "eagle.jpg",  DATA "giraffe.jpg",
                                      DATA "horses.jpg", DATA "kite.jpg",   DATA "person.jpg",
                                      DATA "scream.jpg"};
#define N_SAMPLES (sizeof(samples) / sizeof(samples[0]))

static struct cr_model_paths paths;
static char tmpdir[] = "/tmp/cloudrec-native-XXXXXX";

static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint32_t next_u32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 32);
}

static int rand_in(int lo, int hi)
{
    return lo + (int)(next_u32() % (uint32_t)(hi - lo + 1));
}

static cr_status open_engine(enum cr_engine engine, const char *cfg, const char *weights,
                             struct cr_classifier **cl, struct cr_error *err)
{
    struct cr_classifier_options o = {.cfg_path = cfg,
                                      .weights_path = weights,
                                      .names_path = paths.names,
                                      .engine = engine};
    return cr_classifier_open(&o, cl, err);
}

/* ---- letterbox -------------------------------------------------------------*/

typedef struct {
    int w, h, c;
    float *data;
} dn_image;

/* A smooth picture with some noise, so resizing has something to do. */
static void paint(unsigned char *px, int w, int h, int channels)
{
    int fx = rand_in(1, 9), fy = rand_in(1, 9), phase = rand_in(0, 255);
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++)
            for (int c = 0; c < channels; c++) {
                double v = 127.5 + 80 * sin((x * fx + c * 40 + phase) * 6.2832 / (w + 1)) *
                                       cos((y * fy + c * 17) * 6.2832 / (h + 1));
                v += (int)(next_u32() % 41) - 20;
                v = v < 0 ? 0 : v > 255 ? 255 : v;
                px[((size_t)y * w + x) * channels + c] = (unsigned char)v;
            }
}

static void test_letterbox(void *dn)
{
    dn_image (*letterbox)(dn_image, int, int) = NULL;
    void (*free_image)(dn_image) = NULL;
    *(void **)&letterbox = dlsym(dn, "letterbox_image");
    *(void **)&free_image = dlsym(dn, "free_image");
    if (!CHECK(letterbox && free_image))
        return;
    /* (w, h): square, landscape, portrait, not multiples of anything,
     * one pixel, thin strips, and an upscale. Shapes whose letterbox has a
     * single row or column of height are left out: Darknet divides by zero
     * there and reads outside its image. */
    static const int sizes[][2] = {{224, 224}, {640, 480}, {480, 640}, {100, 70}, {3, 500},
                                   {1000, 9},  {1, 1},     {2, 2},     {37, 1},  {1, 37},
                                   {17, 9},    {224, 225}, {999, 998}, {60, 200}};
    int exact = 1;
    for (size_t s = 0; s < sizeof(sizes) / sizeof(sizes[0]); s++) {
        int w = sizes[s][0], h = sizes[s][1];
        unsigned char *px = malloc((size_t)w * h * 3);
        float *plane = malloc((size_t)w * h * 3 * sizeof(float));
        struct cr_image img = {.width = w, .height = h, .channels = 3, .pixels = px};
        float *ours = malloc(224 * 224 * 3 * sizeof(float));
        float *part = malloc(cr__letterbox_scratch(&img, 224, 224));
        paint(px, w, h, 3);
        for (int i = 0; i < w * h; i++)
            for (int c = 0; c < 3; c++)
                plane[(size_t)c * w * h + i] = px[(size_t)i * 3 + c] / 255.0f;
        dn_image boxed = letterbox((dn_image){w, h, 3, plane}, 224, 224);
        cr__letterbox(&img, 224, 224, ours, part);
        int same = memcmp(boxed.data, ours, 224 * 224 * 3 * sizeof(float)) == 0;
        if (!same)
            DIAG("letterbox of %dx%d differs", w, h);
        exact &= same;
        free_image(boxed);
        free(part);
        free(ours);
        free(plane);
        free(px);
    }
    CHECK_MSG(exact, "cr__letterbox equals Darknet's letterbox_image bit for bit");
}

/* ---- generated images --------------------------------------------------------*/

/* Encodes w x h pixels of `comps` components in colour space cs as a JPEG
 * of random quality. */
static struct blob random_quality_jpeg(const unsigned char *px, int w, int h, int comps,
                                       J_COLOR_SPACE cs)
{
    struct jpeg_opts o = {.in_space = cs, .components = comps, .quality = rand_in(50, 95)};
    return encode_jpeg(px, w, h, &o);
}

/* Encodes w x h 8-bit pixels of PNG colour type `type` as a PNG. */
static struct blob png_of_type(const unsigned char *px, int w, int h, int type)
{
    struct png_opts o = {.color_type = type, .bit_depth = 8};
    return encode_png(px, w, h, &o);
}

/* Image number i: its kind cycles through six colour types; its size
 * ranges from thumbnails to large photos and very wide or tall strips. */
static struct blob generated(int i, char *what, size_t what_len)
{
    static const char *const kinds[] = {"grey JPEG", "RGB JPEG", "CMYK JPEG",
                                        "RGB PNG",   "grey+alpha PNG", "RGBA PNG"};
    static const int comps[] = {1, 3, 4, 3, 2, 4};
    int kind = i % 6, w, h;
    if (i % 9 == 8) { /* a strip, 8:1 up to 40:1 */
        int a = rand_in(8, 40), s = rand_in(10, 30);
        w = i % 2 ? s * a : s;
        h = i % 2 ? s : s * a;
    } else {
        w = rand_in(16, i % 5 == 0 ? 1600 : 500);
        h = rand_in(16, i % 7 == 0 ? 1200 : 500);
    }
    unsigned char *px = malloc((size_t)w * h * comps[kind]);
    paint(px, w, h, comps[kind]);
    snprintf(what, what_len, "image %d: %dx%d %s", i, w, h, kinds[kind]);
    struct blob b;
    switch (kind) {
    case 0: b = random_quality_jpeg(px, w, h, 1, JCS_GRAYSCALE); break;
    case 1: b = random_quality_jpeg(px, w, h, 3, JCS_RGB); break;
    case 2: b = random_quality_jpeg(px, w, h, 4, JCS_CMYK); break;
    case 3: b = png_of_type(px, w, h, PNG_COLOR_TYPE_RGB); break;
    case 4: b = png_of_type(px, w, h, PNG_COLOR_TYPE_GRAY_ALPHA); break;
    default: b = png_of_type(px, w, h, PNG_COLOR_TYPE_RGBA); break;
    }
    free(px);
    return b;
}

/* Top-5 of both engines: same labels in the same order, probabilities
 * within 1e-4. */
static int same_top5(const struct cr_prediction *a, const struct cr_prediction *b, size_t na,
                     size_t nb)
{
    if (na != 5 || nb != 5)
        return 0;
    for (size_t k = 0; k < 5; k++)
        if (a[k].class_index != b[k].class_index ||
            fabsf(a[k].probability - b[k].probability) > 1e-4f)
            return 0;
    return 1;
}

static void test_generated(struct cr_classifier *nat, struct cr_classifier *dn)
{
    int agree = 0;
    for (int i = 0; i < N_GENERATED; i++) {
        char what[128];
        struct blob img = generated(i, what, sizeof(what));
        struct cr_prediction a[5], b[5];
        size_t na = 0, nb = 0;
        struct cr_error err = {0};
        cr_status sa = cr_classify_bytes(nat, img.data, img.len, a, 5, &na, &err);
        cr_status sb = cr_classify_bytes(dn, img.data, img.len, b, 5, &nb, &err);
        if (sa == CR_OK && sb == CR_OK && same_top5(a, b, na, nb)) {
            agree++;
        } else {
            DIAG("%s: native %s %s %.6f, Darknet %s %.6f", what, cr_status_name(sa), a[0].label,
                 a[0].probability, b[0].label, b[0].probability);
        }
        blob_clear(&img);
    }
    CHECKF(agree == N_GENERATED, "%d of %d generated images: same top-5, within 1e-4", agree,
           N_GENERATED);
}

/* ---- threads and batches -------------------------------------------------------*/

struct shared_run {
    struct cr_classifier *cl;
    struct cr_prediction top[N_SAMPLES][5];
    int ok;
};

static void *classify_samples(void *arg)
{
    struct shared_run *r = arg;
    r->ok = 1;
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < N_SAMPLES; i++) {
            size_t n = 0;
            memset(r->top[i], 0, sizeof(r->top[i]));
            r->ok &= cr_classify_file(r->cl, samples[i], r->top[i], 5, &n, NULL) == CR_OK;
        }
    return NULL;
}

static void test_threads_share(struct cr_classifier *nat)
{
    struct shared_run one = {.cl = nat}, two[2] = {{.cl = nat}, {.cl = nat}};
    classify_samples(&one);
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, classify_samples, &two[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK(one.ok && two[0].ok && two[1].ok);
    CHECK_MSG(memcmp(one.top, two[0].top, sizeof(one.top)) == 0 &&
                  memcmp(one.top, two[1].top, sizeof(one.top)) == 0,
              "two threads sharing one native classifier get the one-thread answers");
}

static void test_batch(struct cr_classifier *cl)
{
    struct cr_image imgs[N_SAMPLES];
    struct cr_prediction batch[N_SAMPLES * 3], single[3];
    memset(imgs, 0, sizeof(imgs));
    memset(batch, 0, sizeof(batch));
    int decoded = 1, same = 1;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        struct cr_buf b;
        cr_buf_init(&b, 0);
        decoded &= cr__file_read(samples[i], 0, &b, NULL) == CR_OK &&
                   cr_image_decode(b.data, b.len, NULL, &imgs[i], NULL) == CR_OK;
        cr_buf_clear(&b);
    }
    size_t n = 0;
    CHECK(decoded);
    CHECK_EQ_INT(cr_classify_batch(cl, imgs, N_SAMPLES, batch, 3, &n, NULL), CR_OK);
    CHECK_EQ_INT(n, 3);
    for (size_t i = 0; i < N_SAMPLES; i++) {
        memset(single, 0, sizeof(single));
        cr_classify_image(cl, &imgs[i], single, 3, &n, NULL);
        same &= memcmp(single, &batch[i * 3], sizeof(single)) == 0;
    }
    CHECK_MSG(same, "a batch of 7 equals 7 single calls");
    struct cr_image bad = imgs[1];
    bad.channels = 4;
    imgs[1] = bad;
    struct cr_error err = {0};
    CHECK_EQ_INT(cr_classify_batch(cl, imgs, N_SAMPLES, batch, 3, &n, &err), CR_ERR_INVALID);
    CHECK_MSG(strstr(err.message, "image 1") != NULL, "the bad image is named by its index");
    imgs[1].channels = 3;
    CHECK_EQ_INT(cr_classify_batch(cl, imgs, 0, batch, 3, &n, NULL), CR_OK);
    for (size_t i = 0; i < N_SAMPLES; i++)
        cr_image_clear(&imgs[i]);
}

/* threads = 2 splits each forward pass over two OpenMP threads: the same
 * labels, probabilities equal up to float summation order. */
static void test_two_engine_threads(struct cr_classifier *one)
{
    struct cr_classifier_options o = {.cfg_path = paths.cfg,
                                      .weights_path = paths.weights,
                                      .names_path = paths.names,
                                      .engine = CR_ENGINE_NATIVE,
                                      .threads = 2};
    struct cr_classifier *two = NULL;
    CHECK_EQ_INT(cr_classifier_open(&o, &two, NULL), CR_OK);
    if (!two)
        return;
    int same = 1;
    for (size_t i = 0; i < N_SAMPLES; i++) {
        struct cr_prediction a[5], b[5];
        size_t na = 0, nb = 0;
        cr_classify_file(one, samples[i], a, 5, &na, NULL);
        cr_classify_file(two, samples[i], b, 5, &nb, NULL);
        for (size_t k = 0; k < 5 && na == 5 && nb == 5; k++)
            same &= a[k].class_index == b[k].class_index &&
                    fabsf(a[k].probability - b[k].probability) <= 1e-5f;
        same &= na == 5 && nb == 5;
    }
    CHECK_MSG(same, "threads = 2 gives the answers of threads = 1");
    o.threads = -1;
    struct cr_classifier *bad = NULL;
    CHECK_EQ_INT(cr_classifier_open(&o, &bad, NULL), CR_ERR_INVALID);
    cr_classifier_free(two);
}

/* ---- bad and unsupported files ---------------------------------------------------*/

static const char *write_tmp(const char *name, const void *data, size_t len)
{
    return fixture_write(tmpdir, name, data, len);
}

static void test_bad_weights(void)
{
    struct cr_buf w;
    cr_buf_init(&w, 0);
    cr__file_read(paths.weights, 0, &w, NULL);
    struct cr_classifier *cl = NULL;
    struct cr_error err = {0};
    const char *t = write_tmp("short.weights", w.data, w.len - 4);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, t, &cl, &err), CR_ERR_MODEL);
    CHECK_MSG(strstr(err.message, "truncated") && strstr(err.message, "short.weights"),
              "native: a truncated weights file is named so");
    cr__buf_append(&w, "\0\0\0\0", 4);
    t = write_tmp("long.weights", w.data, w.len);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, t, &cl, &err), CR_ERR_MODEL);
    CHECK_MSG(strstr(err.message, "oversized") != NULL, "native: an oversized file is named so");
    t = write_tmp("header.weights", w.data, 10);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, t, &cl, &err), CR_ERR_MODEL);
    t = write_tmp("empty.weights", "", 0);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, t, &cl, &err), CR_ERR_MODEL);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, "/nonexistent.weights", &cl, &err),
                 CR_ERR_NOT_FOUND);
    /* Headers before version 0.2 store `seen` in 4 bytes, later ones in 8:
     * the same floats behind the other header must load and classify the
     * same. (w now has 4 extra bytes at the end.) */
    int32_t version[3];
    memcpy(version, w.data, sizeof(version));
    int wide = version[0] * 10 + version[1] >= 2;
    int32_t other[3] = {0, wide ? 1 : 2, 0};
    uint64_t seen = 0;
    struct cr_buf old;
    cr_buf_init(&old, 0);
    cr__buf_append(&old, other, sizeof(other));
    cr__buf_append(&old, &seen, wide ? 4 : 8);
    size_t floats_at = wide ? 20 : 16;
    cr__buf_append(&old, (const char *)w.data + floats_at, w.len - 4 - floats_at);
    t = write_tmp("other-header.weights", old.data, old.len);
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, t, &cl, &err), CR_OK);
    struct cr_classifier *ref = NULL;
    open_engine(CR_ENGINE_NATIVE, paths.cfg, paths.weights, &ref, NULL);
    struct cr_prediction a[5], b[5];
    size_t n = 0;
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    cr_classify_file(cl, samples[0], a, 5, &n, NULL);
    cr_classify_file(ref, samples[0], b, 5, &n, NULL);
    CHECK_MSG(cl && ref && memcmp(a, b, sizeof(a)) == 0, "the other header version reads the same");
    cr_classifier_free(ref);
    cr_classifier_free(cl);
    cr_buf_clear(&old);
    cr_buf_clear(&w);
}

/* Replaces the first occurrence of from in text by to (into a static buffer). */
static const char *cfg_with(const char *text, const char *from, const char *to)
{
    static char out[1 << 16];
    const char *at = strstr(text, from);
    if (!at)
        return text;
    snprintf(out, sizeof(out), "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    return out;
}

static void test_unsupported(const char *tiny)
{
    struct cr_classifier *cl = NULL;
    struct cr_error err = {0};
    const char *text = cfg_with(tiny, "activation=leaky", "activation=logistic");
    const char *cfg = write_tmp("logistic.cfg", text, strlen(text));
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, cfg, paths.weights, &cl, &err), CR_ERR_UNSUPPORTED);
    CHECK_MSG(strstr(err.message, "layer 0") && strstr(err.message, "logistic"),
              "the refusal names the layer and the reason");
    CHECK_EQ_INT(open_engine(CR_ENGINE_AUTO, cfg, paths.weights, &cl, &err), CR_OK);
    CHECK_MSG(cr_classifier_engine(cl) == CR_ENGINE_DARKNET, "auto falls back to Darknet");
    cr_classifier_free(cl);
    cl = NULL;
    CHECK_EQ_INT(open_engine(CR_ENGINE_AUTO, paths.cfg, paths.weights, &cl, &err), CR_OK);
    CHECK_MSG(cr_classifier_engine(cl) == CR_ENGINE_NATIVE, "auto takes native for tiny.cfg");
    cr_classifier_free(cl);
    cl = NULL;
    text = cfg_with(tiny, "[avgpool]", "[avgpool]\ndontload=1");
    cfg = write_tmp("dontload.cfg", text, strlen(text));
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, cfg, paths.weights, &cl, &err), CR_ERR_UNSUPPORTED);
    text = cfg_with(tiny, "[avgpool]", "[route]\nlayers=25\n[avgpool]");
    cfg = write_tmp("route-ahead.cfg", text, strlen(text));
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, cfg, paths.weights, &cl, &err), CR_ERR_MODEL);
    text = cfg_with(tiny, "[avgpool]", "[route]\nlayers=-40\n[avgpool]");
    cfg = write_tmp("route-far.cfg", text, strlen(text));
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, cfg, paths.weights, &cl, &err), CR_ERR_MODEL);
    /* Sizes whose weight count would overflow are refused before any
     * arithmetic on the file size. */
    static const char huge[] = "[net]\nwidth=8192\nheight=8192\nchannels=3\n"
                               "[convolutional]\nfilters=65536\nsize=1\nactivation=linear\n"
                               "[connected]\noutput=1000000\nactivation=linear\n";
    cfg = write_tmp("huge.cfg", huge, strlen(huge));
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, cfg, paths.weights, &cl, &err), CR_ERR_MODEL);
    CHECK_MSG(strstr(err.message, "too many weights") != NULL, "an overflowing layer is refused");
    CHECK(cl == NULL);
}

/* Mangles one number of tiny.cfg at a time (zero, negative, huge, text):
 * every result is a status, never a crash (the sanitizer build checks the
 * memory side). */
static void test_mangled_cfgs(const char *tiny)
{
    static const char *const values[] = {"0", "-1", "-100", "100000", "99999999999", "x", ""};
    static const char *const keys[] = {"filters=", "size=", "stride=", "pad=", "width=",
                                       "height=", "channels=", "groups="};
    int statuses = 1;
    for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++)
        for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
            char to[64];
            snprintf(to, sizeof(to), "%s%s\n#", keys[k], values[v]);
            const char *text = cfg_with(tiny, keys[k], to);
            struct cr__net net;
            struct cr_error err = {0};
            cr_status st = cr__net_parse("mangled.cfg", text, strlen(text), &net, &err);
            statuses &= st == CR_OK || st == CR_ERR_MODEL || st == CR_ERR_UNSUPPORTED;
            if (st == CR_OK)
                cr__net_clear(&net);
        }
    CHECK_MSG(statuses, "mangled cfgs give OK, CR_ERR_MODEL or CR_ERR_UNSUPPORTED");
}

int main(void)
{
    struct cr_error err = {0};
    if (!fixture_begin(tmpdir, &paths))
        return tap_done();
    struct cr_buf tiny;
    cr_buf_init(&tiny, 0);
    CHECK(cr__file_read(paths.cfg, 0, &tiny, NULL) == CR_OK);
    cr__buf_append(&tiny, "", 1);
    struct cr_classifier *nat = NULL, *dn = NULL;
    CHECK_EQ_INT(open_engine(CR_ENGINE_NATIVE, paths.cfg, paths.weights, &nat, &err), CR_OK);
    void *lib = dlopen(DARKNET_LIB, RTLD_NOW | RTLD_LOCAL);
    if (lib && nat) {
        test_letterbox(lib);
        CHECK_EQ_INT(open_engine(CR_ENGINE_DARKNET, paths.cfg, paths.weights, &dn, &err), CR_OK);
        if (dn)
            test_generated(nat, dn);
    } else {
        tap_skipf("libdarknet.so is not installed: no comparison with Darknet");
    }
    if (nat) {
        test_threads_share(nat);
        test_two_engine_threads(nat);
        test_batch(nat);
    }
    test_bad_weights();
    test_unsupported((const char *)tiny.data);
    test_mangled_cfgs((const char *)tiny.data);
    cr_classifier_free(dn);
    cr_classifier_free(nat);
    cr_buf_clear(&tiny);
    if (lib)
        dlclose(lib);
    fixture_end(tmpdir);
    return tap_done();
}
