/*
 * classify.c - the public classifier: engine choice, names, top-k, decoding.
 *
 * The engines (engines.h) turn an image into the network's output vector;
 * everything the user sees around that (which engine, the labels, the order
 * of the top-k, reading and decoding files) is here, once, for both.
 */
#include "cloudrec/classify.h"
#include "core/json.h"
#include "internal.h"
#include "vision/engines.h"
#include "vision/classify_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAMES_MAX_BYTES (16u << 20)

struct cr_classifier {
    enum cr_engine engine;
    struct cr__native *native;
    struct cr__darknet *darknet;
    char **names;
    int classes, w, h;
    struct cr_image_limits limits;
};

const char *cr_engine_name(enum cr_engine engine)
{
    switch (engine) {
    case CR_ENGINE_AUTO:
        return "auto";
    case CR_ENGINE_NATIVE:
        return "native";
    case CR_ENGINE_DARKNET:
        return "darknet";
    }
    return "unknown";
}

/* ---- names -----------------------------------------------------------------*/

/* Frees the first n names and the array. Accepts NULL. */
static void free_names(char **names, int n)
{
    for (int i = 0; names && i < n; i++)
        free(names[i]);
    free(names);
}

/* Reads the first n lines of a names file into a fresh array of strings. */
static cr_status read_names(const char *path, int n, char ***names_out, struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, NAMES_MAX_BYTES);
    cr_status st = cr__file_read(path, 0, &text, err);
    if (st != CR_OK)
        return st;
    char **names = calloc((size_t)n, sizeof(*names));
    int count = 0;
    char *p = (char *)text.data;
    while (names && count < n && p < (char *)text.data + text.len) {
        char *nl = memchr(p, '\n', (size_t)((char *)text.data + text.len - p));
        if (nl)
            *nl = '\0';
        if (!(names[count++] = strdup(cr__trim(p))))
            break;
        p = nl ? nl + 1 : (char *)text.data + text.len;
    }
    if (!names || (count > 0 && !names[count - 1]))
        st = cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", path);
    else if (count < n)
        st = cr__fail(err, CR_ERR_MODEL, "%s: %d names, the network has %d outputs", path, count,
                      n);
    if (st != CR_OK) {
        free_names(names, count);
        names = NULL;
    }
    cr_buf_clear(&text);
    *names_out = names;
    return st;
}

/* ---- opening ---------------------------------------------------------------*/

/* Logs why AUTO falls back to Darknet; the reason is a JSON string so
 * that quotes in it cannot break the key=value line. */
static void log_fallback(const char *reason)
{
    if (!cr__log_enabled(CR_LOG_INFO))
        return;
    struct cr_buf q;
    cr_buf_init(&q, 0);
    if (cr__json_quote(&q, reason) == CR_OK)
        cr__log(CR_LOG_INFO, "msg=\"native engine cannot run this model, using Darknet\" reason=%s",
               (char *)q.data);
    cr_buf_clear(&q);
}

/* Opens the native engine; for AUTO, an unsupported cfg falls back to
 * Darknet with the reason logged. */
static cr_status open_engine(const struct cr_classifier_options *opts, struct cr_classifier *cl,
                             struct cr_error *err)
{
    cr_status st = CR_ERR_UNSUPPORTED;
    if (opts->engine != CR_ENGINE_DARKNET) {
        struct cr_error why = {0};
        st = cr__native_open(opts->cfg_path, opts->weights_path, opts->threads, &cl->native,
                             &why);
        if (st == CR_OK) {
            cl->engine = CR_ENGINE_NATIVE;
            cr__native_info(cl->native, &cl->w, &cl->h, &cl->classes);
            return CR_OK;
        }
        if (st != CR_ERR_UNSUPPORTED || opts->engine == CR_ENGINE_NATIVE) {
            if (err)
                *err = why;
            return st;
        }
        log_fallback(why.message);
    }
    st = cr__darknet_open(opts, &cl->darknet, err);
    if (st == CR_OK) {
        cl->engine = CR_ENGINE_DARKNET;
        cr__darknet_info(cl->darknet, &cl->w, &cl->h, &cl->classes);
    }
    return st;
}

cr_status cr_classifier_open(const struct cr_classifier_options *opts,
                             struct cr_classifier **out, struct cr_error *err)
{
    if (!opts || !out || !opts->cfg_path || !opts->weights_path || !opts->names_path)
        return cr__fail(err, CR_ERR_INVALID, "classifier needs a cfg, weights and names");
    *out = NULL;
    if (opts->engine != CR_ENGINE_AUTO && opts->engine != CR_ENGINE_NATIVE &&
        opts->engine != CR_ENGINE_DARKNET)
        return cr__fail(err, CR_ERR_INVALID, "unknown engine %d", (int)opts->engine);
    if (opts->threads < 0)
        return cr__fail(err, CR_ERR_INVALID, "threads must be 0 or more");
    struct cr_classifier *cl = calloc(1, sizeof(*cl));
    if (!cl)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    cl->limits = opts->limits;
    cr_status st = open_engine(opts, cl, err);
    if (st == CR_OK)
        st = read_names(opts->names_path, cl->classes, &cl->names, err);
    if (st != CR_OK) {
        cr_classifier_free(cl);
        return st;
    }
    cr__log(CR_LOG_INFO,
           "msg=\"classifier loaded\" engine=%s cfg=%s weights=%s classes=%d input=%dx%d",
           cr_engine_name(cl->engine), opts->cfg_path, opts->weights_path, cl->classes, cl->w,
           cl->h);
    *out = cl;
    return CR_OK;
}

void cr_classifier_free(struct cr_classifier *cl)
{
    if (!cl)
        return;
    cr__native_free(cl->native);
    cr__darknet_free(cl->darknet);
    free_names(cl->names, cl->classes);
    free(cl);
}

enum cr_engine cr_classifier_engine(const struct cr_classifier *cl)
{
    return cl ? cl->engine : CR_ENGINE_AUTO;
}

int cr_classifier_num_classes(const struct cr_classifier *cl)
{
    return cl ? cl->classes : 0;
}

void cr__classifier_input_size(const struct cr_classifier *cl, int *width, int *height)
{
    if (width)
        *width = cl ? cl->w : 0;
    if (height)
        *height = cl ? cl->h : 0;
}

/* ---- classifying ----------------------------------------------------------*/

/* Selects the k best indices of p in the order Darknet's top_k gives:
 * descending probability, earlier index first among equals. */
static void select_top(const float *p, int n, int *idx, int k)
{
    int filled = 0;
    for (int i = 0; i < n; i++) {
        if (filled == k && !(p[i] > p[idx[k - 1]]))
            continue;
        int j = filled < k ? filled++ : k - 1;
        while (j > 0 && p[i] > p[idx[j - 1]]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
}

/* Fills out[0..k-1] from one output vector. */
static void fill_top(const struct cr_classifier *cl, const float *p, int *order, int k,
                     struct cr_prediction *out)
{
    select_top(p, cl->classes, order, k);
    for (int i = 0; i < k; i++) {
        int c = order[i];
        memset(&out[i], 0, sizeof(out[i]));
        out[i].class_index = c;
        out[i].probability = p[c];
        cr__strlcpy(out[i].label, cl->names[c], sizeof(out[i].label));
    }
}

/* True for an 8-bit RGB image with pixels. */
static int image_ok(const struct cr_image *img)
{
    return img->pixels && img->channels == 3 && img->width > 0 && img->height > 0;
}

/* Runs the engine on n images, probs gets n x classes floats. */
static cr_status run_engine(struct cr_classifier *cl, const struct cr_image *imgs, size_t n,
                            float *probs, struct cr_error *err)
{
    if (cl->engine == CR_ENGINE_DARKNET) {
        cr_status st = CR_OK;
        for (size_t i = 0; i < n && st == CR_OK; i++)
            st = cr__darknet_predict(cl->darknet, &imgs[i], probs + i * (size_t)cl->classes, err);
        return st;
    }
    const struct cr_image **list = malloc(n * sizeof(*list));
    if (!list)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        list[i] = &imgs[i];
    cr_status st = cr__native_predict(cl->native, list, n, probs, err);
    free(list);
    return st;
}

cr_status cr_classify_batch(struct cr_classifier *cl, const struct cr_image *imgs, size_t n,
                            struct cr_prediction *out, size_t top, size_t *n_out,
                            struct cr_error *err)
{
    if (!cl || (!imgs && n) || !out || !n_out || top == 0)
        return cr__fail(err, CR_ERR_INVALID, "classify needs a classifier, images and top >= 1");
    *n_out = 0;
    for (size_t i = 0; i < n; i++)
        if (!image_ok(&imgs[i]))
            return cr__fail(err, CR_ERR_INVALID, "image %zu: classify needs an 8-bit RGB image",
                            i);
    int k = top < (size_t)cl->classes ? (int)top : cl->classes;
    float *probs = malloc((n ? n : 1) * (size_t)cl->classes * sizeof(float));
    int *order = malloc((size_t)k * sizeof(int));
    cr_status st = probs && order ? CR_OK : cr__fail(err, CR_ERR_NOMEM, "out of memory");
    if (st == CR_OK)
        st = run_engine(cl, imgs, n, probs, err);
    for (size_t i = 0; i < n && st == CR_OK; i++)
        fill_top(cl, probs + i * (size_t)cl->classes, order, k, out + i * top);
    if (st == CR_OK)
        *n_out = (size_t)k;
    free(order);
    free(probs);
    return st;
}

cr_status cr_classify_image(struct cr_classifier *cl, const struct cr_image *img,
                            struct cr_prediction *out, size_t top, size_t *n_out,
                            struct cr_error *err)
{
    if (!cl || !img || !out || !n_out || top == 0)
        return cr__fail(err, CR_ERR_INVALID, "classify needs a classifier, an image and top >= 1");
    if (!image_ok(img))
        return cr__fail(err, CR_ERR_INVALID, "classify needs an 8-bit RGB image");
    return cr_classify_batch(cl, img, 1, out, top, n_out, err);
}

cr_status cr_classify_bytes(struct cr_classifier *cl, const void *data, size_t len,
                            struct cr_prediction *out, size_t top, size_t *n_out,
                            struct cr_error *err)
{
    if (!cl)
        return cr__fail(err, CR_ERR_INVALID, "classify needs a classifier");
    struct cr_image img;
    cr_status st = cr_image_decode(data, len, &cl->limits, &img, err);
    if (st != CR_OK)
        return st;
    st = cr_classify_image(cl, &img, out, top, n_out, err);
    cr_image_clear(&img);
    return st;
}

cr_status cr_classify_file(struct cr_classifier *cl, const char *path,
                           struct cr_prediction *out, size_t top, size_t *n_out,
                           struct cr_error *err)
{
    if (!cl || !path)
        return cr__fail(err, CR_ERR_INVALID, "classify needs a classifier and a path");
    size_t max = cl->limits.max_bytes ? cl->limits.max_bytes : CR_IMAGE_DEFAULT_MAX_BYTES;
    struct cr_buf data;
    cr_buf_init(&data, max);
    cr_status st = cr__file_read(path, 0, &data, err);
    if (st == CR_OK) {
        st = cr_classify_bytes(cl, data.data, data.len, out, top, n_out, err);
        if (st != CR_OK)
            cr__fail_prefix(err, st, "%s: ", path);
    }
    cr_buf_clear(&data);
    return st;
}
