/*
 * native.h - the native FP32 engine's internal interfaces (not installed).
 *
 * Three files share this header:
 *  - darknet_model.c reads Darknet's .cfg and .weights into a cr__net (layer
 *    shapes plus weights with batch norm already folded in);
 *  - native.c owns the network as the classifier sees it: preprocessing
 *    (Darknet's letterbox), the layers computed in plain C (crop, softmax)
 *    and the forward pass;
 *  - native_dnnl.c is the only file that calls oneDNN: it turns a cr__net
 *    into primitives with packed weights once, and runs them.
 */
#ifndef CLOUDREC_VISION_NATIVE_H
#define CLOUDREC_VISION_NATIVE_H

#include "cloudrec/classify.h"

#include <stddef.h>

enum cr__layer_type {
    CR__LAYER_CONV,
    CR__LAYER_MAXPOOL,
    CR__LAYER_AVGPOOL,
    CR__LAYER_CONNECTED,
    CR__LAYER_DROPOUT,
    CR__LAYER_SOFTMAX,
    CR__LAYER_SHORTCUT,
    CR__LAYER_ROUTE,
    CR__LAYER_CROP,
    CR__LAYER_COST,
};

enum cr__activation { CR__ACT_LINEAR, CR__ACT_LEAKY, CR__ACT_RELU };

#define CR__ROUTE_MAX 8

/* One layer: its kind, input and output shapes (channels, height, width)
 * and its parameters; weights are filled by cr__net_load_weights. */
struct cr__layer {
    enum cr__layer_type type;
    int c, h, w;             /* input */
    int out_c, out_h, out_w; /* output; connected layers give outputs x 1 x 1 */
    int flat;                /* output is a vector (connected layers) */
    enum cr__activation act;
    /* convolutional: filters = out_c */
    int size, stride, pad, groups, batch_normalize;
    /* maxpool: size, stride and padding (Darknet's total padding) */
    int padding;
    /* route: the layers whose outputs are concatenated; shortcut: from[0] */
    int n_from;
    int from[CR__ROUTE_MAX];
    /* softmax */
    int softmax_groups;
    float temperature;
    /* crop: scale and offset applied to each value */
    float crop_scale, crop_trans;
    /* weights after batch-norm folding, in Darknet's order: conv
     * [filters][c/groups][size][size], connected [outputs][inputs] */
    float *weights;
    float *biases;
    size_t n_weights, n_biases;
};

/* A parsed network. */
struct cr__net {
    int w, h, c;  /* input size from [net] */
    int n;        /* layers */
    struct cr__layer *layers;
    int out_layer; /* the layer whose output is the network's (last non-cost) */
    int outputs;   /* values in that output */
    struct cr__weights_store *store; /* the mapped file and folded arrays */
};

/*
 * Parses a Darknet cfg (text, len bytes) into *net, computing each layer's
 * shapes as Darknet's parser does. Anything the native engine does not
 * implement (a layer type, an option that changes the result, a shape it
 * cannot follow) is CR_ERR_UNSUPPORTED, whose message names the layer and
 * the reason; a malformed cfg is CR_ERR_MODEL. path only names the file in
 * messages. On success free *net with cr__net_clear.
 */
cr_status cr__net_parse(const char *path, const char *text, size_t len, struct cr__net *net,
                        struct cr_error *err);

/*
 * Reads a Darknet weights file for net: checks the header and that the file
 * has exactly the size the network needs (CR_ERR_MODEL "truncated" or
 * "oversized" otherwise), then fills each layer's weights and biases, batch
 * norm folded in double with Darknet's formula. The file is mapped, not
 * copied.
 */
cr_status cr__net_load_weights(struct cr__net *net, const char *path, struct cr_error *err);

/* The number of floats a weights file holds for net (after the header), and
 * calls visit for each array in file order with its role; used by tests to
 * write valid random weights. Roles: 'b' biases, 's' BN scales, 'm' BN means,
 * 'v' BN variances, 'w' weights. fan_in is the weights' inputs per output. */
typedef void (*cr__weights_visit)(void *ctx, char role, size_t count, size_t fan_in);
size_t cr__net_weights_layout(const struct cr__net *net, cr__weights_visit visit, void *ctx);

/* Frees what cr__net_parse and cr__net_load_weights allocated. Accepts NULL. */
void cr__net_clear(struct cr__net *net);

/* ---- native.c ------------------------------------------------------------*/

/*
 * Letterboxes an 8-bit RGB image into out (3 planes of w x h floats), with
 * the same arithmetic as Darknet's letterbox_image applied to the image
 * Darknet's loader makes (each byte / 255.0f): the same floats, bit for bit.
 */
void cr__letterbox(const struct cr_image *img, int w, int h, float *out, float *part);

/* Bytes of scratch cr__letterbox needs for img at w x h (its "part" image). */
size_t cr__letterbox_scratch(const struct cr_image *img, int w, int h);

/* Darknet's softmax layer on n values (groups of n/groups), float for float. */
void cr__softmax_darknet(const struct cr__layer *l, const float *in, float *out);

/* Darknet's shortcut_cpu sampling for a shortcut l whose from layer f has
 * another shape: out (l's output shape, plain) gets f's values where Darknet
 * adds them and zeros elsewhere. */
void cr__shortcut_expand(const struct cr__layer *l, const struct cr__layer *f, const float *from,
                         float *out);

/* Darknet's crop layer at inference (centre crop, scale, offset): planar. */
void cr__crop_darknet(const struct cr__layer *l, const float *in, float *out);

/* ---- native_dnnl.c -------------------------------------------------------*/

struct cr__dnnl_model;
struct cr__dnnl_ws;

/* Builds oneDNN primitives for net, each running `threads` threads, and
 * packs its weights; net may be freed afterwards. CR_ERR_UNSUPPORTED when
 * oneDNN has no implementation. */
cr_status cr__dnnl_build(const struct cr__net *net, int threads, struct cr__dnnl_model **out,
                         struct cr_error *err);
void cr__dnnl_free(struct cr__dnnl_model *m);

/* A per-thread workspace: activations and scratch for one forward pass. */
cr_status cr__dnnl_ws_create(const struct cr__dnnl_model *m, struct cr__dnnl_ws **out,
                             struct cr_error *err);
void cr__dnnl_ws_free(struct cr__dnnl_ws *ws);

/* The workspace's input: 3 planes of the network's width x height floats. */
float *cr__dnnl_ws_input(struct cr__dnnl_ws *ws);

/*
 * Runs the network on the workspace's input with `threads` threads and
 * copies the network's output (m's outputs floats) to out; when logits is
 * not NULL and the last layer is a softmax, copies that softmax's input
 * there too. The model is only read, so threads may share it, each with its
 * own workspace.
 */
cr_status cr__dnnl_forward(const struct cr__dnnl_model *m, struct cr__dnnl_ws *ws, int threads,
                           float *out, float *logits, struct cr_error *err);

#endif
