/*
 * native_dnnl.c - the library's only user of oneDNN.
 *
 * Each layer becomes a oneDNN primitive created once at load: convolutions
 * and connected layers with their bias and activation fused (post-ops),
 * weights reordered once into the layout oneDNN chose (format_tag any);
 * pooling, concatenation (route) and addition (shortcut) likewise. Where a
 * primitive wants its input in another layout than the previous layer
 * produced, a reorder primitive runs in between. Crop and softmax run in
 * plain C (native.c) on plain NCHW data.
 *
 * The model is immutable after cr__dnnl_build: primitives may be executed
 * concurrently (scratchpads are user-provided, one per workspace), weights
 * are only read. A workspace (per thread) holds the stream, activation
 * buffers, shared between layers whose lifetimes do not overlap, and the
 * memory objects that bind them. Debian's oneDNN runs on OpenMP; a forward
 * pass sets the calling thread's OpenMP thread count for its duration.
 */
#include "internal.h"
#include "vision/native.h"

#include <oneapi/dnnl/dnnl.h>
#include <stdlib.h>
#include <string.h>

/* Debian's oneDNN runs on GNU OpenMP (libgomp, which it links); the engine
 * sets libgomp's thread count around each forward pass. Declared here, not
 * taken from <omp.h>, so that any compiler builds this file (clang's omp.h
 * belongs to another runtime, LLVM's libomp, which oneDNN does not use). */
int omp_get_max_threads(void);
void omp_set_num_threads(int n);

#define NO_BUF (-1)
#define INPUT (-1) /* layer index of the network input */

/* One layer as oneDNN runs it. */
struct step {
    struct cr__layer layer; /* shapes and parameters; weights pointers not used */
    int n_in;
    int in[CR__ROUTE_MAX];                 /* input layers, INPUT for the image */
    dnnl_primitive_t pre[CR__ROUTE_MAX];   /* reorder of input k, or NULL */
    dnnl_memory_desc_t pre_md[CR__ROUTE_MAX];
    dnnl_primitive_t prim;                 /* NULL for alias and plain-C layers */
    dnnl_memory_desc_t out_md;
    dnnl_memory_desc_t w_md, b_md, scratch_md;
    void *weights, *bias; /* packed, owned */
    int alias;            /* output is input 0's memory (dropout, cost, 1-way route) */
    int host;             /* computed in plain C (crop, softmax) */
    /* A shortcut between different shapes: input 1 (plain) is spread by
     * plain C into tmp 0 (plain, the output's shape, zeros elsewhere), then
     * reordered to the output's layout in tmp 1 when that differs. */
    int expand;
    dnnl_memory_desc_t tmp_md[2];
    dnnl_primitive_t tmp_reorder;
    /* buffer plan */
    int out_buf;
    int pre_buf[CR__ROUTE_MAX];
    int tmp_buf[2];
};

struct cr__dnnl_model {
    dnnl_engine_t engine;
    int n;
    struct step *steps;
    int w, h;
    dnnl_memory_desc_t in_md;
    int out_layer, outputs;
    dnnl_primitive_t out_reorder; /* to plain, or NULL when already plain */
    dnnl_memory_desc_t out_plain_md;
    size_t scratch_bytes;
    int n_bufs;
    size_t *buf_bytes;
};

/* A workspace's memory objects for one step. */
struct ws_step {
    dnnl_memory_t out; /* an alias step shares its input's */
    dnnl_memory_t pre[CR__ROUTE_MAX];
    dnnl_memory_t tmp[2];
    dnnl_memory_t w, b, scratch;
};

struct cr__dnnl_ws {
    const struct cr__dnnl_model *m;
    dnnl_stream_t stream;
    void **bufs;
    float *input, *out_plain;
    void *scratch;
    dnnl_memory_t in_mem, out_plain_mem;
    struct ws_step *steps;
    int n_owned;
    dnnl_memory_t *owned; /* every memory object above, for cr__dnnl_ws_free */
};

/* Maps a oneDNN failure to a status and a message naming the operation. */
static cr_status dnnl_fail(struct cr_error *err, dnnl_status_t s, const char *what, int layer)
{
    cr_status st = s == dnnl_out_of_memory  ? CR_ERR_NOMEM
                   : s == dnnl_unimplemented ? CR_ERR_UNSUPPORTED
                                             : CR_ERR_INTERNAL;
    return cr__fail(err, st, "layer %d: oneDNN %s failed (status %d)", layer, what, (int)s);
}

#define TRY(call, what)                                                                           \
    do {                                                                                          \
        dnnl_status_t s_ = (call);                                                                \
        if (s_ != dnnl_success)                                                                   \
            return dnnl_fail(err, s_, (what), idx);                                               \
    } while (0)

/* 64-byte aligned memory for oneDNN buffers (free with free), or NULL. */
static void *aligned(size_t bytes)
{
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) == 0 ? p : NULL;
}

/* The layer's output as a oneDNN tensor: {1, c, h, w}, or {1, c} when flat. */
static int out_dims(const struct cr__layer *l, dnnl_dims_t d)
{
    d[0] = 1;
    d[1] = l->out_c;
    d[2] = l->out_h;
    d[3] = l->out_w;
    return l->flat ? 2 : 4;
}

/* A plain NC or NCHW float descriptor of dims d. */
static dnnl_status_t plain_md(dnnl_memory_desc_t *md, int ndims, const dnnl_dims_t d)
{
    return dnnl_memory_desc_init_by_tag(md, ndims, d, dnnl_f32, ndims == 2 ? dnnl_nc : dnnl_nchw);
}

/* The layout layer `layer` (or the image, INPUT) produces. */
static const dnnl_memory_desc_t *src_md_of(const struct cr__dnnl_model *m, int layer)
{
    return layer == INPUT ? &m->in_md : &m->steps[layer].out_md;
}

/* Appends the layer's activation as an eltwise post-op. */
static dnnl_status_t add_activation(dnnl_primitive_attr_t attr, enum cr__activation act)
{
    if (act == CR__ACT_LINEAR)
        return dnnl_success;
    dnnl_post_ops_t po = NULL;
    dnnl_status_t s = dnnl_post_ops_create(&po);
    /* Darknet's leaky is x > 0 ? x : .1f * x, which is oneDNN's relu with alpha. */
    if (s == dnnl_success)
        s = dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu,
                                         act == CR__ACT_LEAKY ? .1f : 0.0f, 0.0f);
    if (s == dnnl_success)
        s = dnnl_primitive_attr_set_post_ops(attr, po);
    dnnl_post_ops_destroy(po);
    return s;
}

/* An attribute with user scratchpads and the layer's activation fused; on
 * failure nothing is left to destroy. */
static dnnl_status_t make_attr(enum cr__activation act, dnnl_primitive_attr_t *attr)
{
    dnnl_status_t s = dnnl_primitive_attr_create(attr);
    if (s != dnnl_success)
        return s;
    s = dnnl_primitive_attr_set_scratchpad_mode(*attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success)
        s = add_activation(*attr, act);
    if (s != dnnl_success) {
        dnnl_primitive_attr_destroy(*attr);
        *attr = NULL;
    }
    return s;
}

/* Reorders use oneDNN's own scratchpad, which it keeps per thread. */
static dnnl_status_t make_reorder(dnnl_engine_t eng, const dnnl_memory_desc_t *from,
                                  const dnnl_memory_desc_t *to, dnnl_primitive_t *out)
{
    dnnl_primitive_desc_t pd = NULL;
    dnnl_status_t s = dnnl_reorder_primitive_desc_create(&pd, from, eng, to, eng, NULL);
    if (s == dnnl_success)
        s = dnnl_primitive_create(out, pd);
    dnnl_primitive_desc_destroy(pd);
    return s;
}

/* Makes input k of step i arrive in layout want, adding a reorder if the
 * producing layer's layout differs. */
static cr_status adapt_input(struct cr__dnnl_model *m, int idx, int k,
                             const dnnl_memory_desc_t *want, struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    const dnnl_memory_desc_t *have = src_md_of(m, st->in[k]);
    if (dnnl_memory_desc_equal(have, want))
        return CR_OK;
    st->pre_md[k] = *want;
    TRY(make_reorder(m->engine, have, want, &st->pre[k]), "reorder");
    return CR_OK;
}

/* Reorders user-layout weights into the packed layout once, at load. */
static cr_status pack(struct cr__dnnl_model *m, int idx, const dnnl_memory_desc_t *user_md,
                      const float *user, const dnnl_memory_desc_t *packed_md, void **out,
                      struct cr_error *err)
{
    size_t bytes = dnnl_memory_desc_get_size(packed_md);
    *out = aligned(bytes);
    if (!*out)
        return cr__fail(err, CR_ERR_NOMEM, "layer %d: out of memory for weights", idx);
    if (dnnl_memory_desc_equal(user_md, packed_md)) {
        memcpy(*out, user, bytes);
        return CR_OK;
    }
    dnnl_primitive_t r = NULL;
    dnnl_memory_t src = NULL, dst = NULL;
    dnnl_stream_t stream = NULL;
    dnnl_status_t s = make_reorder(m->engine, user_md, packed_md, &r);
    if (s == dnnl_success)
        s = dnnl_memory_create(&src, user_md, m->engine, (void *)user);
    if (s == dnnl_success)
        s = dnnl_memory_create(&dst, packed_md, m->engine, *out);
    if (s == dnnl_success)
        s = dnnl_stream_create(&stream, m->engine, dnnl_stream_default_flags);
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
        s = dnnl_primitive_execute(r, stream, 2, args);
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(stream);
    dnnl_stream_destroy(stream);
    dnnl_memory_destroy(dst);
    dnnl_memory_destroy(src);
    dnnl_primitive_destroy(r);
    if (s != dnnl_success)
        return dnnl_fail(err, s, "weights reorder", idx);
    return CR_OK;
}

/* Creates the primitive from pd and records its output and scratchpad. */
static cr_status finish_primitive(struct cr__dnnl_model *m, int idx, dnnl_primitive_desc_t pd,
                                  struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    st->out_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
    st->scratch_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    size_t sb = dnnl_memory_desc_get_size(&st->scratch_md);
    if (sb > m->scratch_bytes)
        m->scratch_bytes = sb;
    TRY(dnnl_primitive_create(&st->prim, pd), "primitive creation");
    return CR_OK;
}

/* Packs weights and bias for a convolution or connected layer whose
 * primitive descriptor is pd; user_md describes l->weights. */
static cr_status pack_params(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                             dnnl_primitive_desc_t pd, const dnnl_memory_desc_t *user_md,
                             struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    st->w_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
    st->b_md = *dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 1);
    cr_status rc = pack(m, idx, user_md, l->weights, &st->w_md, &st->weights, err);
    if (rc == CR_OK)
        rc = pack(m, idx, &st->b_md, l->biases, &st->b_md, &st->bias, err);
    return rc;
}

/* The common end of a layer with weights: creates the primitive for the
 * operation descriptor op (a convolution or inner product, `what` in
 * errors) with the layer's activation fused, adapts the input to it, packs
 * the weights (laid out as user_w) and bias, and records the primitive. */
static cr_status build_weighted(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                                const void *op, const dnnl_memory_desc_t *user_w,
                                const char *what, struct cr_error *err)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    TRY(make_attr(l->act, &attr), "attributes");
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, op, attr, m->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    TRY(s, what);
    cr_status rc = adapt_input(m, idx, 0, dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
                               err);
    if (rc == CR_OK)
        rc = pack_params(m, idx, l, pd, user_w, err);
    if (rc == CR_OK)
        rc = finish_primitive(m, idx, pd, err);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* A convolution (grouped or not) with bias and activation fused. */
static cr_status build_conv(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                            struct cr_error *err)
{
    dnnl_memory_desc_t src, w, b, dst, user_w;
    dnnl_dims_t sd = {1, l->c, l->h, l->w}, dd, bd = {l->out_c};
    dnnl_dims_t strides = {l->stride, l->stride}, pad = {l->pad, l->pad};
    int g = l->groups, n = l->out_c, k = l->size;
    dnnl_dims_t wd = {g, n / g, l->c / g, k, k};
    dnnl_dims_t wd4 = {n, l->c, k, k};
    out_dims(l, dd);
    TRY(dnnl_memory_desc_init_by_tag(&src, 4, sd, dnnl_f32, dnnl_format_tag_any), "md");
    TRY(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_format_tag_any), "md");
    TRY(dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x), "md");
    if (g > 1) {
        TRY(dnnl_memory_desc_init_by_tag(&w, 5, wd, dnnl_f32, dnnl_format_tag_any), "md");
        TRY(dnnl_memory_desc_init_by_tag(&user_w, 5, wd, dnnl_f32, dnnl_goihw), "md");
    } else {
        TRY(dnnl_memory_desc_init_by_tag(&w, 4, wd4, dnnl_f32, dnnl_format_tag_any), "md");
        TRY(dnnl_memory_desc_init_by_tag(&user_w, 4, wd4, dnnl_f32, dnnl_oihw), "md");
    }
    dnnl_convolution_desc_t cd;
    TRY(dnnl_convolution_forward_desc_init(&cd, dnnl_forward_inference, dnnl_convolution_direct,
                                           &src, &w, &b, &dst, strides, pad, pad),
        "convolution");
    return build_weighted(m, idx, l, &cd, &user_w, "convolution", err);
}

/* A connected layer: an inner product with bias and activation fused. */
static cr_status build_connected(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                                 struct cr_error *err)
{
    const struct cr__layer *prev = idx ? &m->steps[idx - 1].layer : NULL;
    int in_flat = prev && prev->flat;
    dnnl_memory_desc_t src, w, b, dst, user_w;
    dnnl_dims_t sd = {1, l->c, l->h, l->w}, wd = {l->out_c, l->c, l->h, l->w}, bd = {l->out_c},
                dd = {1, l->out_c};
    int nd = in_flat ? 2 : 4;
    TRY(dnnl_memory_desc_init_by_tag(&src, nd, sd, dnnl_f32, dnnl_format_tag_any), "md");
    TRY(dnnl_memory_desc_init_by_tag(&w, nd, wd, dnnl_f32, dnnl_format_tag_any), "md");
    TRY(dnnl_memory_desc_init_by_tag(&user_w, nd, wd, dnnl_f32, in_flat ? dnnl_oi : dnnl_oihw),
        "md");
    TRY(dnnl_memory_desc_init_by_tag(&b, 1, bd, dnnl_f32, dnnl_x), "md");
    TRY(dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_format_tag_any), "md");
    dnnl_inner_product_desc_t ipd;
    TRY(dnnl_inner_product_forward_desc_init(&ipd, dnnl_forward_inference, &src, &w, &b, &dst),
        "inner product");
    return build_weighted(m, idx, l, &ipd, &user_w, "inner product", err);
}

/* Max pooling with Darknet's padding (padding/2 on the left and top) or
 * global average pooling. */
static cr_status build_pool(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                            struct cr_error *err)
{
    int maxpool = l->type == CR__LAYER_MAXPOOL;
    dnnl_memory_desc_t dst;
    dnnl_dims_t dd;
    out_dims(l, dd);
    TRY(dnnl_memory_desc_init_by_tag(&dst, 4, dd, dnnl_f32, dnnl_format_tag_any), "md");
    int left = maxpool ? l->padding / 2 : 0;
    dnnl_dims_t strides = {maxpool ? l->stride : 1, maxpool ? l->stride : 1};
    dnnl_dims_t kernel = {maxpool ? l->size : l->h, maxpool ? l->size : l->w};
    dnnl_dims_t pad_l = {left, left};
    dnnl_dims_t pad_r = {(l->out_h - 1) * strides[0] + kernel[0] - l->h - left,
                         (l->out_w - 1) * strides[1] + kernel[1] - l->w - left};
    dnnl_pooling_desc_t pdesc;
    TRY(dnnl_pooling_forward_desc_init(
            &pdesc, dnnl_forward_inference,
            maxpool ? dnnl_pooling_max : dnnl_pooling_avg_exclude_padding, src_md_of(m, idx - 1),
            &dst, strides, kernel, pad_l, pad_r),
        "pooling");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    TRY(make_attr(CR__ACT_LINEAR, &attr), "attributes");
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, &pdesc, attr, m->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    TRY(s, "pooling");
    cr_status rc = finish_primitive(m, idx, pd, err);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* Route: channel concatenation of its layers' outputs. */
static cr_status build_route(struct cr__dnnl_model *m, int idx, struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    dnnl_memory_desc_t srcs[CR__ROUTE_MAX];
    for (int k = 0; k < st->n_in; k++)
        srcs[k] = *src_md_of(m, st->in[k]);
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    TRY(make_attr(CR__ACT_LINEAR, &attr), "attributes");
    dnnl_status_t s =
        dnnl_concat_primitive_desc_create(&pd, NULL, st->n_in, 1, srcs, attr, m->engine);
    dnnl_primitive_attr_destroy(attr);
    TRY(s, "concat");
    cr_status rc = finish_primitive(m, idx, pd, err);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* A shortcut between shapes that differ: the from layer's output, plain,
 * is spread over a zero tensor of the output's shape (Darknet's sampling),
 * which is then added like any other. */
static cr_status build_expand(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                              const dnnl_memory_desc_t *a, struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    const struct cr__layer *f = &m->steps[l->from[0]].layer;
    dnnl_memory_desc_t from_plain;
    dnnl_dims_t fd = {1, f->out_c, f->out_h, f->out_w}, od = {1, l->out_c, l->out_h, l->out_w};
    TRY(plain_md(&from_plain, 4, fd), "md");
    cr_status rc = adapt_input(m, idx, 1, &from_plain, err);
    if (rc != CR_OK)
        return rc;
    st->expand = 1;
    TRY(plain_md(&st->tmp_md[0], 4, od), "md");
    if (!dnnl_memory_desc_equal(&st->tmp_md[0], a)) {
        st->tmp_md[1] = *a;
        TRY(make_reorder(m->engine, &st->tmp_md[0], a, &st->tmp_reorder), "reorder");
    }
    return CR_OK;
}

/* Shortcut: previous output + the from layer's output, then the activation. */
static cr_status build_shortcut(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                                struct cr_error *err)
{
    const dnnl_memory_desc_t *a = src_md_of(m, idx - 1);
    const struct cr__layer *f = &m->steps[l->from[0]].layer;
    int same = f->out_c == l->out_c && f->out_h == l->out_h && f->out_w == l->out_w;
    cr_status rc = same ? adapt_input(m, idx, 1, a, err) : build_expand(m, idx, l, a, err);
    if (rc != CR_OK)
        return rc;
    dnnl_binary_desc_t bd;
    TRY(dnnl_binary_desc_init(&bd, dnnl_binary_add, a, a, a), "binary");
    dnnl_primitive_attr_t attr = NULL;
    dnnl_primitive_desc_t pd = NULL;
    TRY(make_attr(l->act, &attr), "attributes");
    dnnl_status_t s = dnnl_primitive_desc_create(&pd, &bd, attr, m->engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    TRY(s, "binary");
    rc = finish_primitive(m, idx, pd, err);
    dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* Crop and softmax read and write plain NCHW (or NC) data. */
static cr_status build_host(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                            struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    const struct cr__layer *prev = idx ? &m->steps[idx - 1].layer : NULL;
    dnnl_memory_desc_t in_plain;
    dnnl_dims_t d = {1, l->c, l->h, l->w};
    TRY(plain_md(&in_plain, prev && prev->flat ? 2 : 4, d), "md");
    cr_status rc = adapt_input(m, idx, 0, &in_plain, err);
    out_dims(l, d);
    TRY(plain_md(&st->out_md, l->flat ? 2 : 4, d), "md");
    st->host = 1;
    return rc;
}

/* Builds step idx for layer l: its inputs, its primitive or its alias. */
static cr_status build_step(struct cr__dnnl_model *m, int idx, const struct cr__layer *l,
                            struct cr_error *err)
{
    struct step *st = &m->steps[idx];
    st->layer = *l;
    st->layer.weights = st->layer.biases = NULL;
    st->n_in = 1;
    st->in[0] = idx - 1;
    if (l->type == CR__LAYER_ROUTE) {
        st->n_in = l->n_from;
        memcpy(st->in, l->from, sizeof(st->in));
    } else if (l->type == CR__LAYER_SHORTCUT) {
        st->n_in = 2;
        st->in[1] = l->from[0];
    }
    switch (l->type) {
    case CR__LAYER_CONV:
        return build_conv(m, idx, l, err);
    case CR__LAYER_CONNECTED:
        return build_connected(m, idx, l, err);
    case CR__LAYER_MAXPOOL:
    case CR__LAYER_AVGPOOL:
        return build_pool(m, idx, l, err);
    case CR__LAYER_SHORTCUT:
        return build_shortcut(m, idx, l, err);
    case CR__LAYER_CROP:
    case CR__LAYER_SOFTMAX:
        return build_host(m, idx, l, err);
    case CR__LAYER_ROUTE:
        if (st->n_in > 1)
            return build_route(m, idx, err);
        break;
    case CR__LAYER_DROPOUT:
    case CR__LAYER_COST:
        break;
    }
    st->alias = 1;
    st->out_md = *src_md_of(m, st->in[0]);
    return CR_OK;
}

/* ---- buffer plan ----------------------------------------------------------*/

struct pool {
    int n, cap;
    size_t *bytes;
    char *busy;
};

/* Takes the best-fitting free buffer (growing the largest free one if none
 * fits), or adds a buffer. Returns its id or NO_BUF when out of memory. */
static int pool_take(struct pool *p, size_t bytes)
{
    int best = NO_BUF, largest = NO_BUF;
    for (int i = 0; i < p->n; i++) {
        if (p->busy[i])
            continue;
        if (p->bytes[i] >= bytes && (best == NO_BUF || p->bytes[i] < p->bytes[best]))
            best = i;
        if (largest == NO_BUF || p->bytes[i] > p->bytes[largest])
            largest = i;
    }
    if (best == NO_BUF && largest != NO_BUF)
        best = largest;
    if (best == NO_BUF) {
        if (p->n == p->cap) {
            int cap = p->cap ? p->cap * 2 : 16;
            size_t *nb = realloc(p->bytes, (size_t)cap * sizeof(*nb));
            if (nb)
                p->bytes = nb;
            char *busy = realloc(p->busy, (size_t)cap);
            if (busy)
                p->busy = busy;
            if (!nb || !busy)
                return NO_BUF;
            p->cap = cap;
        }
        best = p->n++;
        p->bytes[best] = 0;
    }
    if (p->bytes[best] < bytes)
        p->bytes[best] = bytes;
    p->busy[best] = 1;
    return best;
}

/* The last step reading each layer's output (aliases extend their source). */
static void last_uses(const struct cr__dnnl_model *m, int *last)
{
    for (int i = 0; i < m->n; i++)
        last[i] = i;
    last[m->out_layer] = m->n;
    for (int i = 0; i < m->n; i++)
        for (int k = 0; k < m->steps[i].n_in; k++)
            if (m->steps[i].in[k] != INPUT && last[m->steps[i].in[k]] < i)
                last[m->steps[i].in[k]] = i;
    for (int i = m->n - 1; i >= 0; i--)
        if (m->steps[i].alias && m->steps[i].in[0] != INPUT && last[m->steps[i].in[0]] < last[i])
            last[m->steps[i].in[0]] = last[i];
}

/* Assigns each layer output and reorder target a buffer; buffers are reused
 * once every reader of their previous content has run. */
static cr_status plan_buffers(struct cr__dnnl_model *m, struct cr_error *err)
{
    int *last = calloc((size_t)m->n + 1, sizeof(int));
    struct pool p = {0};
    cr_status st = last ? CR_OK : CR_ERR_NOMEM;
    if (last)
        last_uses(m, last);
    for (int i = 0; i < m->n && st == CR_OK; i++) {
        struct step *s = &m->steps[i];
        for (int k = 0; k < s->n_in; k++)
            s->pre_buf[k] = s->pre[k] ? pool_take(&p, dnnl_memory_desc_get_size(&s->pre_md[k]))
                                      : NO_BUF;
        s->tmp_buf[0] = s->expand ? pool_take(&p, dnnl_memory_desc_get_size(&s->tmp_md[0]))
                                  : NO_BUF;
        s->tmp_buf[1] = s->tmp_reorder
                            ? pool_take(&p, dnnl_memory_desc_get_size(&s->tmp_md[1]))
                            : NO_BUF;
        if (s->alias)
            s->out_buf = s->in[0] == INPUT ? NO_BUF : m->steps[s->in[0]].out_buf;
        else
            s->out_buf = pool_take(&p, dnnl_memory_desc_get_size(&s->out_md));
        for (int k = 0; k < s->n_in; k++)
            if (s->pre_buf[k] != NO_BUF)
                p.busy[s->pre_buf[k]] = 0;
        for (int k = 0; k < 2; k++)
            if (s->tmp_buf[k] != NO_BUF)
                p.busy[s->tmp_buf[k]] = 0;
        for (int j = 0; j <= i; j++)
            if (!m->steps[j].alias && last[j] == i && m->steps[j].out_buf != NO_BUF)
                p.busy[m->steps[j].out_buf] = 0;
        if ((!s->alias && s->out_buf == NO_BUF) || !p.busy)
            st = CR_ERR_NOMEM;
    }
    free(last);
    free(p.busy);
    m->buf_bytes = p.bytes;
    m->n_bufs = p.n;
    return st == CR_OK ? CR_OK : cr__fail(err, st, "out of memory planning buffers");
}

/* ---- model ------------------------------------------------------------------*/

static cr_status build_model(const struct cr__net *net, struct cr__dnnl_model **out,
                             struct cr_error *err);

/* The reorder of the output layer to plain NC/NCHW, if it is not already. */
static cr_status build_output(struct cr__dnnl_model *m, struct cr_error *err)
{
    int idx = m->out_layer;
    const struct step *st = &m->steps[idx];
    dnnl_dims_t d;
    int nd = out_dims(&st->layer, d);
    TRY(plain_md(&m->out_plain_md, nd, d), "md");
    if (!dnnl_memory_desc_equal(&m->out_plain_md, &st->out_md))
        TRY(make_reorder(m->engine, &st->out_md, &m->out_plain_md, &m->out_reorder), "reorder");
    return CR_OK;
}

cr_status cr__dnnl_build(const struct cr__net *net, int threads, struct cr__dnnl_model **out,
                         struct cr_error *err)
{
    /* Primitives fix their thread count when they are created. */
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads > 0 ? threads : 1);
    cr_status rc = build_model(net, out, err);
    omp_set_num_threads(saved);
    return rc;
}

/* Builds every step, the output reorder and the buffer plan. */
static cr_status build_model(const struct cr__net *net, struct cr__dnnl_model **out,
                             struct cr_error *err)
{
    *out = NULL;
    int idx = -1;
    struct cr__dnnl_model *m = calloc(1, sizeof(*m));
    if (!m || !(m->steps = calloc((size_t)net->n, sizeof(*m->steps)))) {
        free(m);
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    }
    m->n = net->n;
    m->w = net->w;
    m->h = net->h;
    m->out_layer = net->out_layer;
    m->outputs = net->outputs;
    cr_status rc = CR_OK;
    dnnl_status_t s = dnnl_engine_create(&m->engine, dnnl_cpu, 0);
    dnnl_dims_t in_d = {1, 3, net->h, net->w};
    if (s == dnnl_success)
        s = plain_md(&m->in_md, 4, in_d);
    if (s != dnnl_success)
        rc = dnnl_fail(err, s, "engine", idx);
    for (idx = 0; idx < net->n && rc == CR_OK; idx++)
        rc = build_step(m, idx, &net->layers[idx], err);
    if (rc == CR_OK)
        rc = build_output(m, err);
    if (rc == CR_OK)
        rc = plan_buffers(m, err);
    if (rc != CR_OK) {
        cr__dnnl_free(m);
        return rc;
    }
    *out = m;
    return CR_OK;
}

void cr__dnnl_free(struct cr__dnnl_model *m)
{
    if (!m)
        return;
    for (int i = 0; i < m->n && m->steps; i++) {
        struct step *st = &m->steps[i];
        for (int k = 0; k < CR__ROUTE_MAX; k++)
            dnnl_primitive_destroy(st->pre[k]);
        dnnl_primitive_destroy(st->tmp_reorder);
        dnnl_primitive_destroy(st->prim);
        free(st->weights);
        free(st->bias);
    }
    dnnl_primitive_destroy(m->out_reorder);
    dnnl_engine_destroy(m->engine);
    free(m->steps);
    free(m->buf_bytes);
    free(m);
}

/* ---- workspace ------------------------------------------------------------*/

void cr__dnnl_ws_free(struct cr__dnnl_ws *ws)
{
    if (!ws)
        return;
    for (int i = 0; i < ws->n_owned; i++)
        dnnl_memory_destroy(ws->owned[i]);
    for (int b = 0; ws->bufs && b < ws->m->n_bufs; b++)
        free(ws->bufs[b]);
    dnnl_stream_destroy(ws->stream);
    free(ws->owned);
    free(ws->bufs);
    free(ws->steps);
    free(ws->input);
    free(ws->out_plain);
    free(ws->scratch);
    free(ws);
}

/* Creates a memory object over buf and records it for release. */
static dnnl_status_t ws_mem(struct cr__dnnl_ws *ws, const dnnl_memory_desc_t *md, void *buf,
                            dnnl_memory_t *out)
{
    dnnl_status_t s = dnnl_memory_create(out, md, ws->m->engine, buf);
    if (s == dnnl_success)
        ws->owned[ws->n_owned++] = *out;
    return s;
}

/* Binds one step's inputs, output, weights and scratchpad to memory. */
static dnnl_status_t ws_bind_step(struct cr__dnnl_ws *ws, int i)
{
    const struct step *st = &ws->m->steps[i];
    struct ws_step *w = &ws->steps[i];
    dnnl_status_t s = dnnl_success;
    for (int k = 0; k < st->n_in && s == dnnl_success; k++)
        if (st->pre[k])
            s = ws_mem(ws, &st->pre_md[k], ws->bufs[st->pre_buf[k]], &w->pre[k]);
    for (int k = 0; k < 2 && s == dnnl_success; k++)
        if (st->tmp_buf[k] != NO_BUF)
            s = ws_mem(ws, &st->tmp_md[k], ws->bufs[st->tmp_buf[k]], &w->tmp[k]);
    if (s != dnnl_success)
        return s;
    if (st->alias)
        w->out = st->in[0] == INPUT ? ws->in_mem : ws->steps[st->in[0]].out;
    else
        s = ws_mem(ws, &st->out_md, ws->bufs[st->out_buf], &w->out);
    if (s == dnnl_success && st->weights)
        s = ws_mem(ws, &st->w_md, st->weights, &w->w);
    if (s == dnnl_success && st->bias)
        s = ws_mem(ws, &st->b_md, st->bias, &w->b);
    if (s == dnnl_success && st->prim)
        s = ws_mem(ws, &st->scratch_md, ws->scratch, &w->scratch);
    return s;
}

/* Allocates a workspace's arrays and buffers; CR_ERR_NOMEM on failure. */
static cr_status ws_alloc(struct cr__dnnl_ws *ws, const struct cr__dnnl_model *m)
{
    ws->m = m;
    ws->steps = calloc((size_t)m->n, sizeof(*ws->steps));
    ws->owned = calloc((size_t)m->n * (CR__ROUTE_MAX + 6) + 2, sizeof(*ws->owned));
    ws->bufs = calloc((size_t)m->n_bufs + 1, sizeof(*ws->bufs));
    ws->input = aligned((size_t)m->w * (size_t)m->h * 3 * sizeof(float));
    ws->out_plain = aligned((size_t)m->outputs * sizeof(float));
    ws->scratch = aligned(m->scratch_bytes);
    if (!ws->steps || !ws->owned || !ws->bufs || !ws->input || !ws->out_plain || !ws->scratch)
        return CR_ERR_NOMEM;
    for (int b = 0; b < m->n_bufs; b++)
        if (!(ws->bufs[b] = aligned(m->buf_bytes[b])))
            return CR_ERR_NOMEM;
    return CR_OK;
}

cr_status cr__dnnl_ws_create(const struct cr__dnnl_model *m, struct cr__dnnl_ws **out,
                             struct cr_error *err)
{
    int idx = -1;
    *out = NULL;
    struct cr__dnnl_ws *ws = calloc(1, sizeof(*ws));
    if (!ws || ws_alloc(ws, m) != CR_OK) {
        if (ws)
            ws->m = m;
        cr__dnnl_ws_free(ws);
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for a workspace");
    }
    dnnl_status_t s = dnnl_stream_create(&ws->stream, m->engine, dnnl_stream_default_flags);
    if (s == dnnl_success)
        s = ws_mem(ws, &m->in_md, ws->input, &ws->in_mem);
    for (idx = 0; idx < m->n && s == dnnl_success; idx++)
        s = ws_bind_step(ws, idx);
    if (s == dnnl_success && m->out_reorder)
        s = ws_mem(ws, &m->out_plain_md, ws->out_plain, &ws->out_plain_mem);
    if (s != dnnl_success) {
        cr__dnnl_ws_free(ws);
        return dnnl_fail(err, s, "memory", idx);
    }
    *out = ws;
    return CR_OK;
}

float *cr__dnnl_ws_input(struct cr__dnnl_ws *ws)
{
    return ws->input;
}

/* ---- forward ----------------------------------------------------------------*/

static dnnl_status_t run_reorder(dnnl_primitive_t r, dnnl_stream_t s, dnnl_memory_t from,
                                 dnnl_memory_t to)
{
    dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}};
    return dnnl_primitive_execute(r, s, 2, args);
}

/* The buffer behind a memory object. */
static const float *mem_data(dnnl_memory_t mem)
{
    void *p = NULL;
    dnnl_memory_get_data_handle(mem, &p);
    return p;
}

/* Runs crop or softmax in plain C once oneDNN's work so far is done. */
static dnnl_status_t run_host(struct cr__dnnl_ws *ws, const struct step *st, dnnl_memory_t src,
                              dnnl_memory_t dst, float *logits)
{
    dnnl_status_t s = dnnl_stream_wait(ws->stream);
    const float *in = mem_data(src);
    float *out = (float *)mem_data(dst);
    if (st->layer.type == CR__LAYER_CROP) {
        cr__crop_darknet(&st->layer, in, out);
        return s;
    }
    cr__softmax_darknet(&st->layer, in, out);
    if (logits)
        memcpy(logits, in, (size_t)st->layer.c * st->layer.h * st->layer.w * sizeof(float));
    return s;
}

/* Spreads a shortcut's plain input over the output's shape (expand steps). */
static dnnl_status_t run_expand(struct cr__dnnl_ws *ws, const struct step *st,
                                struct ws_step *w, dnnl_memory_t *src1)
{
    dnnl_status_t s = dnnl_stream_wait(ws->stream);
    const struct cr__layer *f = &ws->m->steps[st->layer.from[0]].layer;
    cr__shortcut_expand(&st->layer, f, mem_data(*src1), (float *)mem_data(w->tmp[0]));
    *src1 = w->tmp[0];
    if (s == dnnl_success && st->tmp_reorder) {
        s = run_reorder(st->tmp_reorder, ws->stream, w->tmp[0], w->tmp[1]);
        *src1 = w->tmp[1];
    }
    return s;
}

/* Executes step i: its input reorders, then its primitive or plain C code. */
static dnnl_status_t run_step(struct cr__dnnl_ws *ws, int i, float *logits)
{
    const struct step *st = &ws->m->steps[i];
    struct ws_step *w = &ws->steps[i];
    dnnl_memory_t src[CR__ROUTE_MAX];
    dnnl_status_t s = dnnl_success;
    for (int k = 0; k < st->n_in && s == dnnl_success; k++) {
        src[k] = st->in[k] == INPUT ? ws->in_mem : ws->steps[st->in[k]].out;
        if (st->pre[k]) {
            s = run_reorder(st->pre[k], ws->stream, src[k], w->pre[k]);
            src[k] = w->pre[k];
        }
    }
    if (s == dnnl_success && st->expand)
        s = run_expand(ws, st, w, &src[1]);
    if (s != dnnl_success || st->alias)
        return s;
    if (st->host)
        return run_host(ws, st, src[0], w->out, i == ws->m->out_layer ? logits : NULL);
    dnnl_exec_arg_t args[CR__ROUTE_MAX + 4];
    int n = 0;
    if (st->layer.type == CR__LAYER_ROUTE) {
        for (int k = 0; k < st->n_in; k++)
            args[n++] = (dnnl_exec_arg_t){DNNL_ARG_MULTIPLE_SRC + k, src[k]};
    } else if (st->layer.type == CR__LAYER_SHORTCUT) {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC_0, src[0]};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC_1, src[1]};
    } else {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src[0]};
    }
    if (w->w) {
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, w->w};
        args[n++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, w->b};
    }
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_DST, w->out};
    args[n++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, w->scratch};
    return dnnl_primitive_execute(st->prim, ws->stream, n, args);
}

cr_status cr__dnnl_forward(const struct cr__dnnl_model *m, struct cr__dnnl_ws *ws, int threads,
                           float *out, float *logits, struct cr_error *err)
{
    int idx = 0;
    int saved = omp_get_max_threads();
    omp_set_num_threads(threads > 0 ? threads : 1);
    dnnl_status_t s = dnnl_success;
    for (idx = 0; idx < m->n && s == dnnl_success; idx++)
        s = run_step(ws, idx, logits);
    idx = m->out_layer;
    dnnl_memory_t result = ws->steps[m->out_layer].out;
    if (s == dnnl_success && m->out_reorder) {
        s = run_reorder(m->out_reorder, ws->stream, result, ws->out_plain_mem);
        result = ws->out_plain_mem;
    }
    if (s == dnnl_success)
        s = dnnl_stream_wait(ws->stream);
    omp_set_num_threads(saved);
    if (s != dnnl_success)
        return dnnl_fail(err, s, "execution", idx);
    memcpy(out, mem_data(result), (size_t)m->outputs * sizeof(float));
    return CR_OK;
}
