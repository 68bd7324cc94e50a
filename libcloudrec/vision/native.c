/*
 * native.c - the native engine: Darknet's preprocessing and plain-C layers,
 * and the loaded model as the classifier uses it.
 *
 * Preprocessing reproduces Darknet's letterbox_image on the image its
 * loader makes, operation for operation in float, so the native engine
 * sees the very input Darknet sees. The network itself runs on oneDNN
 * (native_dnnl.c). A loaded model is immutable; forward passes need a
 * workspace, which the model lends from a small pool under a mutex, so any
 * number of threads may classify with one model at once.
 */
#include "internal.h"
#include "vision/native.h"
#include "vision/engines.h"

#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* ---- Darknet's arithmetic ------------------------------------------------*/

size_t cr__letterbox_scratch(const struct cr_image *img, int w, int h)
{
    (void)h;
    return (size_t)w * (size_t)img->height * 3 * sizeof(float);
}

/* The value Darknet's loader gives pixel (x, y) of channel k. */
static float px(const struct cr_image *img, int x, int y, int k)
{
    return img->pixels[((size_t)y * (size_t)img->width + (size_t)x) * 3 + (size_t)k] / 255.0f;
}

/* Darknet's resize_image, first pass: each row resized to new_w columns. */
static void resize_rows(const struct cr_image *img, int new_w, float *part)
{
    float w_scale = (float)(img->width - 1) / (new_w - 1);
    size_t plane = (size_t)new_w * (size_t)img->height;
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < img->height; r++) {
            float *row = part + (size_t)k * plane + (size_t)r * (size_t)new_w;
            for (int c = 0; c < new_w; c++) {
                if (c == new_w - 1 || img->width == 1) {
                    row[c] = px(img, img->width - 1, r, k);
                    continue;
                }
                float sx = c * w_scale;
                int ix = (int)sx;
                float dx = sx - ix;
                row[c] = (1 - dx) * px(img, ix, r, k) + dx * px(img, ix + 1, r, k);
            }
        }
}

/* Darknet's resize_image, second pass, written straight into the letterbox
 * at (ox, oy): two rounded products added, as Darknet's set then add. */
static void resize_cols(const float *part, int new_w, int src_h, int new_h, int w, int h, int ox,
                        int oy, float *out)
{
    /* A one-row target divides by zero in Darknet (it then reads outside
     * the image); row 0 is the defined answer. */
    float h_scale = new_h > 1 ? (float)(src_h - 1) / (new_h - 1) : 0.0f;
    size_t plane = (size_t)new_w * (size_t)src_h;
    for (int k = 0; k < 3; k++)
        for (int r = 0; r < new_h; r++) {
            float sy = r * h_scale;
            int iy = (int)sy;
            float dy = sy - iy;
            const float *p0 = part + (size_t)k * plane + (size_t)iy * (size_t)new_w;
            float *o = out + ((size_t)k * (size_t)h + (size_t)(r + oy)) * (size_t)w + (size_t)ox;
            int last = r == new_h - 1 || src_h == 1;
            for (int c = 0; c < new_w; c++) {
                float v = (1 - dy) * p0[c];
                if (!last)
                    v = v + dy * p0[c + new_w];
                o[c] = v;
            }
        }
}

void cr__letterbox(const struct cr_image *img, int w, int h, float *out, float *part)
{
    int new_w = img->width, new_h = img->height;
    if ((float)w / img->width < (float)h / img->height) {
        new_w = w;
        new_h = (img->height * w) / img->width;
    } else {
        new_h = h;
        new_w = (img->width * h) / img->height;
    }
    for (size_t i = 0; i < (size_t)w * (size_t)h * 3; i++)
        out[i] = .5f;
    resize_rows(img, new_w, part);
    resize_cols(part, new_w, img->height, new_h, w, h, (w - new_w) / 2, (h - new_h) / 2, out);
}

/* Darknet's softmax(): max, exp in double rounded to float, float sum. */
static void softmax_one(const float *in, int n, float temp, float *out)
{
    float largest = -FLT_MAX, sum = 0;
    for (int i = 0; i < n; i++)
        if (in[i] > largest)
            largest = in[i];
    for (int i = 0; i < n; i++) {
        float e = (float)exp(in[i] / temp - largest / temp);
        sum += e;
        out[i] = e;
    }
    for (int i = 0; i < n; i++)
        out[i] /= sum;
}

void cr__softmax_darknet(const struct cr__layer *l, const float *in, float *out)
{
    int inputs = l->c * l->h * l->w, n = inputs / l->softmax_groups;
    for (int g = 0; g < l->softmax_groups; g++)
        softmax_one(in + (size_t)g * n, n, l->temperature, out + (size_t)g * n);
}

void cr__crop_darknet(const struct cr__layer *l, const float *in, float *out)
{
    int dh = (l->h - l->out_h) / 2, dw = (l->w - l->out_w) / 2;
    size_t count = 0;
    for (int c = 0; c < l->c; c++)
        for (int i = 0; i < l->out_h; i++)
            for (int j = 0; j < l->out_w; j++) {
                size_t index = (size_t)(j + dw) + (size_t)l->w * ((size_t)(i + dh) +
                                                                  (size_t)l->h * (size_t)c);
                out[count++] = in[index] * l->crop_scale + l->crop_trans;
            }
}

void cr__shortcut_expand(const struct cr__layer *l, const struct cr__layer *f, const float *from,
                         float *out)
{
    int w1 = f->out_w, h1 = f->out_h, c1 = f->out_c, w2 = l->out_w, h2 = l->out_h, c2 = l->out_c;
    int stride = w1 / w2, sample = w2 / w1;
    stride = stride < 1 ? 1 : stride;
    sample = sample < 1 ? 1 : sample;
    int minw = w1 < w2 ? w1 : w2, minh = h1 < h2 ? h1 : h2, minc = c1 < c2 ? c1 : c2;
    memset(out, 0, (size_t)c2 * (size_t)h2 * (size_t)w2 * sizeof(float));
    for (int k = 0; k < minc; k++)
        for (int j = 0; j < minh; j++)
            for (int i = 0; i < minw; i++)
                out[(size_t)i * sample + (size_t)w2 * ((size_t)j * sample + (size_t)h2 * k)] =
                    from[(size_t)i * stride + (size_t)w1 * ((size_t)j * stride + (size_t)h1 * k)];
}

/* ---- the loaded model -------------------------------------------------------*/

/* A workspace and the letterbox scratch that go with it. */
struct lent {
    struct lent *next;
    struct cr__dnnl_ws *ws;
    float *part;
    size_t part_bytes;
};

struct cr__native {
    struct cr__dnnl_model *model;
    int w, h, outputs, softmax_last;
    int threads;
    pthread_mutex_t lock;
    struct lent *idle; /* workspaces not in use */
};

/* Reads and parses the cfg at path into *net (cr__net_clear it). */
static cr_status read_cfg(const char *path, struct cr__net *net, struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, 1u << 20);
    cr_status st = cr__file_read(path, 0, &text, err);
    if (st == CR_OK)
        st = cr__net_parse(path, text.data ? (const char *)text.data : "", text.len, net, err);
    cr_buf_clear(&text);
    return st;
}

cr_status cr__native_open(const char *cfg_path, const char *weights_path, int threads,
                          struct cr__native **out, struct cr_error *err)
{
    *out = NULL;
    struct cr__net net;
    cr_status st = read_cfg(cfg_path, &net, err);
    if (st != CR_OK)
        return st;
    struct cr__native *nat = calloc(1, sizeof(*nat));
    if (!nat) {
        cr__net_clear(&net);
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    }
    st = cr__net_load_weights(&net, weights_path, err);
    if (st == CR_OK) {
        st = cr__dnnl_build(&net, threads, &nat->model, err);
        if (st != CR_OK)
            cr__fail_prefix(err, st, "%s: ", cfg_path);
    }
    nat->w = net.w;
    nat->h = net.h;
    nat->outputs = net.outputs;
    nat->softmax_last = net.layers[net.out_layer].type == CR__LAYER_SOFTMAX;
    nat->threads = threads > 0 ? threads : 1;
    pthread_mutex_init(&nat->lock, NULL);
    cr__net_clear(&net);
    if (st != CR_OK) {
        cr__native_free(nat);
        return st;
    }
    *out = nat;
    return CR_OK;
}

/* Frees a workspace and its scratch. Accepts NULL. */
static void lent_free(struct lent *l)
{
    if (!l)
        return;
    cr__dnnl_ws_free(l->ws);
    free(l->part);
    free(l);
}

void cr__native_free(struct cr__native *nat)
{
    if (!nat)
        return;
    while (nat->idle) {
        struct lent *l = nat->idle;
        nat->idle = l->next;
        lent_free(l);
    }
    cr__dnnl_free(nat->model);
    pthread_mutex_destroy(&nat->lock);
    free(nat);
}

void cr__native_info(const struct cr__native *nat, int *w, int *h, int *outputs)
{
    *w = nat->w;
    *h = nat->h;
    *outputs = nat->outputs;
}

/* Borrows an idle workspace or makes one. */
static cr_status borrow(struct cr__native *nat, struct lent **out, struct cr_error *err)
{
    pthread_mutex_lock(&nat->lock);
    struct lent *l = nat->idle;
    if (l)
        nat->idle = l->next;
    pthread_mutex_unlock(&nat->lock);
    if (!l) {
        l = calloc(1, sizeof(*l));
        if (!l)
            return cr__fail(err, CR_ERR_NOMEM, "out of memory");
        cr_status st = cr__dnnl_ws_create(nat->model, &l->ws, err);
        if (st != CR_OK) {
            free(l);
            return st;
        }
    }
    *out = l;
    return CR_OK;
}

/* Returns a borrowed workspace to the idle pool. */
static void give_back(struct cr__native *nat, struct lent *l)
{
    pthread_mutex_lock(&nat->lock);
    l->next = nat->idle;
    nat->idle = l;
    pthread_mutex_unlock(&nat->lock);
}

/* Letterboxes img into the workspace's input. */
static cr_status prepare(struct cr__native *nat, struct lent *l, const struct cr_image *img,
                         struct cr_error *err)
{
    size_t need = cr__letterbox_scratch(img, nat->w, nat->h);
    if (need > l->part_bytes) {
        free(l->part);
        l->part_bytes = 0;
        if (!(l->part = malloc(need)))
            return cr__fail(err, CR_ERR_NOMEM, "out of memory for a %dx%d image", img->width,
                            img->height);
        l->part_bytes = need;
    }
    cr__letterbox(img, nat->w, nat->h, cr__dnnl_ws_input(l->ws), l->part);
    return CR_OK;
}

cr_status cr__native_predict(struct cr__native *nat, const struct cr_image *const *imgs,
                             size_t n, float *probs, struct cr_error *err)
{
    struct lent *l = NULL;
    cr_status st = borrow(nat, &l, err);
    for (size_t i = 0; i < n && st == CR_OK; i++) {
        st = prepare(nat, l, imgs[i], err);
        if (st == CR_OK)
            st = cr__dnnl_forward(nat->model, l->ws, nat->threads,
                                  probs + i * (size_t)nat->outputs, NULL, err);
    }
    if (l)
        give_back(nat, l);
    return st;
}

cr_status cr__native_forward_raw(struct cr__native *nat, const float *input, float *probs,
                                 float *logits, struct cr_error *err)
{
    struct lent *l = NULL;
    cr_status st = borrow(nat, &l, err);
    if (st != CR_OK)
        return st;
    memcpy(cr__dnnl_ws_input(l->ws), input, (size_t)nat->w * (size_t)nat->h * 3 * sizeof(float));
    st = cr__dnnl_forward(nat->model, l->ws, nat->threads, probs,
                          nat->softmax_last ? logits : NULL, err);
    give_back(nat, l);
    return st;
}
