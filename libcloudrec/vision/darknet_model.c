/*
 * darknet_model.c - reads Darknet's .cfg and .weights for the native engine.
 *
 * The cfg is parsed the way Darknet's parser reads it (whitespace removed
 * from each line, '#' and ';' comments, first occurrence of a key wins,
 * numbers through atoi/atof, the same defaults), and each layer's shapes are
 * computed with Darknet's formulas. What the engine does not implement is
 * refused here, at load time, with a message naming the layer, so the
 * classifier can fall back to Darknet. The weights file is mapped, checked
 * to have exactly the size the network needs, and batch norm is folded into
 * the convolution and connected weights in double precision.
 */
#include "internal.h"
#include "vision/native.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_OPTIONS 64
#define MAX_DIM 65536
/* Weights of one layer, far above any real network (vgg-16's largest layer
 * has 103 M), low enough that sizes computed from it never overflow. */
#define MAX_LAYER_WEIGHTS (1ull << 34)

/* ---- cfg text ------------------------------------------------------------*/

struct option {
    char *key, *value;
};

/* One [section] and its options, pointing into the parse buffer. */
struct section {
    char *name;
    int lineno;
    int n_options;
    struct option options[MAX_OPTIONS];
};

/* Removes every space, tab and CR from s, as Darknet's strip() does. */
static void strip_spaces(char *s)
{
    char *o = s;
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\r')
            *o++ = *s;
    *o = '\0';
}

/* The value of key in the section (its first occurrence), or NULL. */
static const char *find_option(const struct section *s, const char *key)
{
    for (int i = 0; i < s->n_options; i++)
        if (strcmp(s->options[i].key, key) == 0)
            return s->options[i].value;
    return NULL;
}

/* An integer option as Darknet reads it (atoi), def when absent. */
static int opt_int(const struct section *s, const char *key, int def)
{
    const char *v = find_option(s, key);
    return v ? atoi(v) : def;
}

/* A float option as Darknet reads it (atof), def when absent. */
static float opt_float(const struct section *s, const char *key, float def)
{
    const char *v = find_option(s, key);
    return v ? (float)atof(v) : def;
}

/* Splits the cfg text (modified in place) into sections. */
static cr_status split_sections(const char *path, char *text, struct section **out, int *n_out,
                                struct cr_error *err)
{
    struct section *secs = NULL;
    int n = 0, cap = 0, lineno = 0;
    char *next = text;
    cr_status st = CR_OK;
    while (st == CR_OK && next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        strip_spaces(line);
        if (!*line || *line == '#' || *line == ';')
            continue;
        if (*line == '[') {
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                struct section *grown = realloc(secs, (size_t)cap * sizeof(*secs));
                if (!grown) {
                    st = cr__fail(err, CR_ERR_NOMEM, "out of memory");
                    break;
                }
                secs = grown;
            }
            secs[n] = (struct section){.name = line, .lineno = lineno};
            n++;
            continue;
        }
        char *eq = strchr(line, '=');
        if (n == 0 || !eq)
            st = cr__fail(err, CR_ERR_MODEL, "%s:%d: expected [section] or key=value", path,
                          lineno);
        else if (secs[n - 1].n_options == MAX_OPTIONS)
            st = cr__fail(err, CR_ERR_MODEL, "%s:%d: too many options", path, lineno);
        else {
            *eq = '\0';
            secs[n - 1].options[secs[n - 1].n_options++] = (struct option){line, eq + 1};
        }
    }
    if (st != CR_OK) {
        free(secs);
        return st;
    }
    *out = secs;
    *n_out = n;
    return CR_OK;
}

/* ---- layers --------------------------------------------------------------*/

/* Options every layer may carry that do not change inference. */
static const char *const common_keys[] = {"onlyforward", "stopbackward", "dontsave",
                                          "learning_rate", "smooth", NULL};

struct layer_kind {
    const char *name[3];
    enum cr__layer_type type;
    const char *keys[12]; /* the options the engine understands, NULL-terminated */
};

static const struct layer_kind kinds[] = {
    {{"convolutional", "conv", NULL},
     CR__LAYER_CONV,
     {"filters", "size", "stride", "pad", "padding", "groups", "activation", "batch_normalize",
      NULL}},
    {{"maxpool", "max", NULL}, CR__LAYER_MAXPOOL, {"size", "stride", "padding", NULL}},
    {{"avgpool", "avg", NULL}, CR__LAYER_AVGPOOL, {NULL}},
    {{"connected", "conn", NULL},
     CR__LAYER_CONNECTED,
     {"output", "activation", "batch_normalize", NULL}},
    {{"dropout", NULL, NULL}, CR__LAYER_DROPOUT, {"probability", NULL}},
    {{"softmax", "soft", NULL}, CR__LAYER_SOFTMAX, {"groups", "temperature", "noloss", NULL}},
    {{"shortcut", NULL, NULL}, CR__LAYER_SHORTCUT, {"from", "activation", "alpha", "beta", NULL}},
    {{"route", NULL, NULL}, CR__LAYER_ROUTE, {"layers", NULL}},
    {{"crop", NULL, NULL},
     CR__LAYER_CROP,
     {"crop_height", "crop_width", "flip", "angle", "saturation", "exposure", "shift", "noadjust",
      NULL}},
    {{"cost", NULL, NULL}, CR__LAYER_COST, {"type", "scale", "ratio", "noobject_scale", "thresh",
                                            NULL}},
};

/* True when key is one of the NULL-terminated list. */
static int in_list(const char *const *list, const char *key)
{
    for (; *list; list++)
        if (strcmp(*list, key) == 0)
            return 1;
    return 0;
}

/* Finds the layer kind for "[name]"; NULL when the engine has none. */
static const struct layer_kind *find_kind(const char *section)
{
    size_t len = strlen(section);
    if (len < 3 || section[len - 1] != ']')
        return NULL;
    for (size_t i = 0; i < CR__ARRAY_LEN(kinds); i++)
        for (int j = 0; j < 3 && kinds[i].name[j]; j++)
            if (strlen(kinds[i].name[j]) == len - 2 &&
                memcmp(kinds[i].name[j], section + 1, len - 2) == 0)
                return &kinds[i];
    return NULL;
}

/* Context for one layer's parse: where it is, for the messages. */
struct parse_ctx {
    const char *path;
    const struct section *sec;
    int index; /* layer index, from 0, not counting [net] */
    struct cr_error *err;
};

#define UNSUPPORTED(pc, ...)                                                                    \
    layer_fail((pc), CR_ERR_UNSUPPORTED, __VA_ARGS__)
#define MALFORMED(pc, ...) layer_fail((pc), CR_ERR_MODEL, __VA_ARGS__)

/* Fails with "path:line: layer N [type]: <reason>". */
static cr_status layer_fail(const struct parse_ctx *pc, cr_status st, const char *fmt, ...)
    CR_PRINTF(3, 4);
static cr_status layer_fail(const struct parse_ctx *pc, cr_status st, const char *fmt, ...)
{
    char reason[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof(reason), fmt, ap);
    va_end(ap);
    return cr__fail(pc->err, st, "%s:%d: layer %d %s: %s", pc->path, pc->sec->lineno, pc->index,
                    pc->sec->name, reason);
}

/* Every option must be one the engine understands; dontload and friends
 * change the weights layout, so they are refused rather than ignored. */
static cr_status check_keys(const struct parse_ctx *pc, const struct layer_kind *k)
{
    for (int i = 0; i < pc->sec->n_options; i++) {
        const char *key = pc->sec->options[i].key;
        if (!in_list(k->keys, key) && !in_list(common_keys, key))
            return UNSUPPORTED(pc, "option %s is not supported by the native engine", key);
    }
    return CR_OK;
}

/* The layer's activation (Darknet's default def when absent). */
static cr_status parse_activation(const struct parse_ctx *pc, const char *def,
                                  enum cr__activation *out)
{
    const char *a = find_option(pc->sec, "activation");
    a = a ? a : def;
    if (strcmp(a, "linear") == 0)
        *out = CR__ACT_LINEAR;
    else if (strcmp(a, "leaky") == 0)
        *out = CR__ACT_LEAKY;
    else if (strcmp(a, "relu") == 0)
        *out = CR__ACT_RELU;
    else
        return UNSUPPORTED(pc, "activation %s is not supported by the native engine", a);
    return CR_OK;
}

/* True for a shape the engine accepts (each side 1..MAX_DIM). */
static int dims_ok(int c, int h, int w)
{
    return c > 0 && h > 0 && w > 0 && c <= MAX_DIM && h <= MAX_DIM && w <= MAX_DIM;
}

/* [convolutional]: Darknet's pad/padding rule and output size. */
static cr_status parse_conv(const struct parse_ctx *pc, struct cr__layer *l)
{
    const struct section *s = pc->sec;
    int filters = opt_int(s, "filters", 1);
    l->size = opt_int(s, "size", 1);
    l->stride = opt_int(s, "stride", 1);
    l->pad = opt_int(s, "padding", 0);
    if (opt_int(s, "pad", 0))
        l->pad = l->size / 2;
    l->groups = opt_int(s, "groups", 1);
    l->batch_normalize = opt_int(s, "batch_normalize", 0);
    if (filters < 1 || filters > MAX_DIM || l->size < 1 || l->size > 1024 || l->stride < 1 ||
        l->pad < 0 || l->pad > 1024 || l->groups < 1)
        return MALFORMED(pc, "bad filters, size, stride, padding or groups");
    if (l->c % l->groups || filters % l->groups)
        return UNSUPPORTED(pc, "%d groups do not divide %d inputs and %d filters", l->groups,
                           l->c, filters);
    l->out_c = filters;
    l->out_h = (l->h + 2 * l->pad - l->size) / l->stride + 1;
    l->out_w = (l->w + 2 * l->pad - l->size) / l->stride + 1;
    l->n_biases = (size_t)filters;
    l->n_weights = (size_t)(l->c / l->groups) * (size_t)filters * (size_t)l->size * (size_t)l->size;
    if (l->n_weights > MAX_LAYER_WEIGHTS)
        return MALFORMED(pc, "%zu weights in one layer", l->n_weights);
    return parse_activation(pc, "logistic", &l->act);
}

/* [maxpool]: Darknet's default padding (size - 1) and output size. */
static cr_status parse_maxpool(const struct parse_ctx *pc, struct cr__layer *l)
{
    l->stride = opt_int(pc->sec, "stride", 1);
    l->size = opt_int(pc->sec, "size", l->stride);
    l->padding = opt_int(pc->sec, "padding", l->size - 1);
    if (l->stride < 1 || l->size < 1 || l->size > 1024 || l->padding < 0 || l->padding > 1024)
        return MALFORMED(pc, "bad size, stride or padding");
    l->out_c = l->c;
    l->out_h = (l->h + l->padding - l->size) / l->stride + 1;
    l->out_w = (l->w + l->padding - l->size) / l->stride + 1;
    /* oneDNN pads on the right only as far as the last window reaches. */
    int right_h = (l->out_h - 1) * l->stride + l->size - l->h - l->padding / 2;
    int right_w = (l->out_w - 1) * l->stride + l->size - l->w - l->padding / 2;
    if (right_h < 0 || right_w < 0 || l->padding / 2 >= l->size)
        return UNSUPPORTED(pc, "this size/stride/padding leaves input unread");
    return CR_OK;
}

/* [connected]: outputs x 1 x 1, weights [outputs][inputs]. */
static cr_status parse_connected(const struct parse_ctx *pc, struct cr__layer *l)
{
    int outputs = opt_int(pc->sec, "output", 1);
    if (outputs < 1 || outputs > MAX_DIM * 16)
        return MALFORMED(pc, "bad output=%d", outputs);
    l->batch_normalize = opt_int(pc->sec, "batch_normalize", 0);
    l->out_c = outputs;
    l->out_h = l->out_w = 1;
    l->flat = 1;
    size_t inputs = (size_t)l->c * (size_t)l->h * (size_t)l->w;
    if (inputs > MAX_LAYER_WEIGHTS / (size_t)outputs)
        return MALFORMED(pc, "%d outputs of %zu inputs: too many weights", outputs, inputs);
    l->n_biases = (size_t)outputs;
    l->n_weights = (size_t)outputs * inputs;
    return parse_activation(pc, "logistic", &l->act);
}

/* [softmax]: groups must divide the inputs; a tree is refused by its key. */
static cr_status parse_softmax(const struct parse_ctx *pc, struct cr__layer *l)
{
    l->softmax_groups = opt_int(pc->sec, "groups", 1);
    l->temperature = opt_float(pc->sec, "temperature", 1);
    int inputs = l->c * l->h * l->w;
    if (l->softmax_groups < 1 || inputs % l->softmax_groups)
        return UNSUPPORTED(pc, "groups=%d does not divide %d inputs", l->softmax_groups, inputs);
    return CR_OK;
}

/* Resolves a layer reference: negative values count back from this layer. */
static cr_status layer_ref(const struct parse_ctx *pc, const char *text, int *out)
{
    int v = atoi(text);
    if (v < 0)
        v += pc->index;
    if (v < 0 || v >= pc->index)
        return MALFORMED(pc, "layer reference %s is out of range", text);
    *out = v;
    return CR_OK;
}

/* [shortcut]: from, activation; alpha and beta must be 1. */
static cr_status parse_shortcut(const struct parse_ctx *pc, struct cr__layer *l,
                                const struct cr__layer *all)
{
    const char *from = find_option(pc->sec, "from");
    if (!from)
        return MALFORMED(pc, "needs from=");
    cr_status st = layer_ref(pc, from, &l->from[0]);
    if (st != CR_OK)
        return st;
    l->n_from = 1;
    const struct cr__layer *f = &all[l->from[0]];
    /* Darknet adds layers of other shapes by striding or spreading (and
     * asserts that both directions agree); the engine follows that. */
    int w1 = f->out_w, h1 = f->out_h, w2 = l->w, h2 = l->h;
    if (f->flat || w1 / w2 != h1 / h2 || w2 / w1 != h2 / h1)
        return UNSUPPORTED(pc, "shortcut between shapes Darknet cannot add");
    if (opt_float(pc->sec, "alpha", 1) != 1.0f || opt_float(pc->sec, "beta", 1) != 1.0f)
        return UNSUPPORTED(pc, "alpha and beta other than 1");
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    return parse_activation(pc, "linear", &l->act);
}

/* [route]: concatenation of layers of one size along the channels. */
static cr_status parse_route(const struct parse_ctx *pc, struct cr__layer *l,
                             const struct cr__layer *all)
{
    const char *list = find_option(pc->sec, "layers");
    if (!list || !*list)
        return MALFORMED(pc, "needs layers=");
    const char *p = list;
    l->out_c = 0;
    while (p) {
        if (l->n_from == CR__ROUTE_MAX)
            return UNSUPPORTED(pc, "more than %d layers", CR__ROUTE_MAX);
        int idx = 0;
        cr_status st = layer_ref(pc, p, &idx);
        if (st != CR_OK)
            return st;
        const struct cr__layer *f = &all[idx];
        if (l->n_from == 0) {
            l->out_h = f->out_h;
            l->out_w = f->out_w;
        } else if (f->out_h != l->out_h || f->out_w != l->out_w) {
            return UNSUPPORTED(pc, "routed layers differ in size");
        }
        if (f->flat)
            return UNSUPPORTED(pc, "routing a connected layer");
        l->out_c += f->out_c;
        l->from[l->n_from++] = idx;
        p = strchr(p, ',');
        p = p ? p + 1 : NULL;
    }
    return CR_OK;
}

/* [crop]: inference behaviour only (centre, unflipped). */
static cr_status parse_crop(const struct parse_ctx *pc, struct cr__layer *l)
{
    int ch = opt_int(pc->sec, "crop_height", 1), cw = opt_int(pc->sec, "crop_width", 1);
    if (ch < 1 || cw < 1 || ch > l->h || cw > l->w)
        return UNSUPPORTED(pc, "crop %dx%d of a %dx%d input", cw, ch, l->w, l->h);
    int noadjust = opt_int(pc->sec, "noadjust", 0);
    /* At inference Darknet takes the centre, unflipped, and maps 0..1 to -1..1
     * unless noadjust is set. */
    l->crop_scale = noadjust ? 1.0f : 2.0f;
    l->crop_trans = noadjust ? 0.0f : -1.0f;
    l->out_c = l->c;
    l->out_h = ch;
    l->out_w = cw;
    return CR_OK;
}

/* Parses one layer section; l's input shape is already set. */
static cr_status parse_layer(const struct parse_ctx *pc, struct cr__layer *l,
                             const struct cr__layer *all)
{
    const struct layer_kind *k = find_kind(pc->sec->name);
    if (!k)
        return UNSUPPORTED(pc, "this layer type is not supported by the native engine");
    cr_status st = check_keys(pc, k);
    if (st != CR_OK)
        return st;
    l->type = k->type;
    l->out_c = l->c;
    l->out_h = l->h;
    l->out_w = l->w;
    switch (k->type) {
    case CR__LAYER_CONV:
        st = parse_conv(pc, l);
        break;
    case CR__LAYER_MAXPOOL:
        st = parse_maxpool(pc, l);
        break;
    case CR__LAYER_AVGPOOL:
        l->out_h = l->out_w = 1;
        break;
    case CR__LAYER_CONNECTED:
        st = parse_connected(pc, l);
        break;
    case CR__LAYER_SOFTMAX:
        st = parse_softmax(pc, l);
        break;
    case CR__LAYER_SHORTCUT:
        st = parse_shortcut(pc, l, all);
        break;
    case CR__LAYER_ROUTE:
        st = parse_route(pc, l, all);
        break;
    case CR__LAYER_CROP:
        st = parse_crop(pc, l);
        break;
    case CR__LAYER_DROPOUT:
    case CR__LAYER_COST:
        break;
    }
    if (st == CR_OK && !dims_ok(l->out_c, l->out_h, l->out_w))
        st = MALFORMED(pc, "output size %dx%dx%d is out of range", l->out_w, l->out_h, l->out_c);
    /* Layers that compute on images cannot follow a connected layer here. */
    if (st == CR_OK && l->flat == 0 && pc->index > 0 && all[pc->index - 1].flat &&
        (l->type == CR__LAYER_CONV || l->type == CR__LAYER_MAXPOOL ||
         l->type == CR__LAYER_AVGPOOL || l->type == CR__LAYER_CROP))
        st = UNSUPPORTED(pc, "follows a connected layer");
    if (st == CR_OK && (l->type == CR__LAYER_DROPOUT || l->type == CR__LAYER_SOFTMAX ||
                        l->type == CR__LAYER_COST || l->type == CR__LAYER_SHORTCUT) &&
        pc->index > 0)
        l->flat = all[pc->index - 1].flat;
    return st;
}

/* Reads [net]: the input size. */
static cr_status parse_net_section(const char *path, const struct section *s, struct cr__net *net,
                                   struct cr_error *err)
{
    if (strcmp(s->name, "[net]") != 0 && strcmp(s->name, "[network]") != 0)
        return cr__fail(err, CR_ERR_MODEL, "%s: first section must be [net]", path);
    net->w = opt_int(s, "width", 0);
    net->h = opt_int(s, "height", 0);
    net->c = opt_int(s, "channels", 0);
    if (net->w < 1 || net->h < 1 || net->w > 8192 || net->h > 8192)
        return cr__fail(err, CR_ERR_MODEL, "%s: [net] needs width and height in 1..8192", path);
    if (net->c != 3)
        return cr__fail(err, CR_ERR_UNSUPPORTED, "%s: the native engine needs channels=3", path);
    return CR_OK;
}

/* Finds the output layer (the last that is not a cost layer); cost layers
 * are only accepted at the end, where Darknet ignores them at inference. */
static cr_status find_output(const char *path, struct cr__net *net, struct cr_error *err)
{
    int last = net->n - 1;
    while (last >= 0 && net->layers[last].type == CR__LAYER_COST)
        last--;
    for (int i = 0; i < last; i++)
        if (net->layers[i].type == CR__LAYER_COST)
            return cr__fail(err, CR_ERR_UNSUPPORTED, "%s: layer %d: a cost layer before the end",
                            path, i);
    if (last < 0)
        return cr__fail(err, CR_ERR_MODEL, "%s: no layers in the cfg", path);
    const struct cr__layer *l = &net->layers[last];
    net->out_layer = last;
    net->outputs = l->out_c * l->out_h * l->out_w;
    return CR_OK;
}

/* Parses every layer section, each taking the previous output's shape. */
static cr_status parse_layers(const char *path, const struct section *secs, int n,
                              struct cr__net *net, struct cr_error *err)
{
    net->layers = calloc((size_t)n, sizeof(*net->layers));
    if (!net->layers)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    net->n = n;
    cr_status st = CR_OK;
    for (int i = 0; i < n && st == CR_OK; i++) {
        struct cr__layer *l = &net->layers[i];
        const struct cr__layer *prev = i ? &net->layers[i - 1] : NULL;
        l->c = prev ? prev->out_c : net->c;
        l->h = prev ? prev->out_h : net->h;
        l->w = prev ? prev->out_w : net->w;
        struct parse_ctx pc = {.path = path, .sec = &secs[i], .index = i, .err = err};
        st = parse_layer(&pc, l, net->layers);
    }
    return st == CR_OK ? find_output(path, net, err) : st;
}

cr_status cr__net_parse(const char *path, const char *text, size_t len, struct cr__net *net,
                        struct cr_error *err)
{
    memset(net, 0, sizeof(*net));
    if (memchr(text, '\0', len))
        return cr__fail(err, CR_ERR_MODEL, "%s: not a text cfg file", path);
    char *copy = malloc(len + 1);
    if (!copy)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    memcpy(copy, text, len);
    copy[len] = '\0';
    struct section *secs = NULL;
    int n = 0;
    cr_status st = split_sections(path, copy, &secs, &n, err);
    if (st == CR_OK && n == 0)
        st = cr__fail(err, CR_ERR_MODEL, "%s: no sections in the cfg", path);
    if (st == CR_OK)
        st = parse_net_section(path, &secs[0], net, err);
    if (st == CR_OK && n < 2)
        st = cr__fail(err, CR_ERR_MODEL, "%s: no layers in the cfg", path);
    if (st == CR_OK && n >= 2)
        st = parse_layers(path, secs + 1, n - 1, net, err);
    free(secs);
    free(copy);
    if (st != CR_OK)
        cr__net_clear(net);
    return st;
}

/* ---- weights -------------------------------------------------------------*/

/* Where the arrays of one layer sit in the file, in reading order. */
size_t cr__net_weights_layout(const struct cr__net *net, cr__weights_visit visit, void *ctx)
{
    size_t total = 0;
    for (int i = 0; i < net->n; i++) {
        const struct cr__layer *l = &net->layers[i];
        size_t n = l->n_biases, fan_in = n ? l->n_weights / n : 0;
        if (l->type == CR__LAYER_CONV) {
            visit(ctx, 'b', n, fan_in);
            if (l->batch_normalize) {
                visit(ctx, 's', n, fan_in);
                visit(ctx, 'm', n, fan_in);
                visit(ctx, 'v', n, fan_in);
            }
            visit(ctx, 'w', l->n_weights, fan_in);
        } else if (l->type == CR__LAYER_CONNECTED) {
            /* Darknet stores a connected layer's weights before its BN. */
            visit(ctx, 'b', n, fan_in);
            visit(ctx, 'w', l->n_weights, fan_in);
            if (l->batch_normalize) {
                visit(ctx, 's', n, fan_in);
                visit(ctx, 'm', n, fan_in);
                visit(ctx, 'v', n, fan_in);
            }
        } else {
            continue;
        }
        total += n + l->n_weights + (l->batch_normalize ? 3 * n : 0);
    }
    return total;
}

/* A weights visitor that only lets the caller count. */
static void count_nothing(void *ctx, char role, size_t count, size_t fan_in)
{
    (void)ctx, (void)role, (void)count, (void)fan_in;
}

/* Cursor over the mapped floats. */
struct reader {
    const float *at;
};

/* The next n floats of the file. */
static const float *take(struct reader *r, size_t n)
{
    const float *p = r->at;
    r->at += n;
    return p;
}

/* Folds y = scale * (x - mean) / (sqrt(var) + .000001f) + bias into the
 * weights and biases, in double, rounding once to float at the end. */
static void fold_bn(struct cr__layer *l, const float *w, const float *bias, const float *scale,
                    const float *mean, const float *var, float *w_out, float *b_out)
{
    size_t n = l->n_biases, per = l->n_weights / n;
    for (size_t o = 0; o < n; o++) {
        double k = (double)scale[o] / (sqrt((double)var[o]) + (double).000001f);
        for (size_t j = 0; j < per; j++)
            w_out[o * per + j] = (float)((double)w[o * per + j] * k);
        b_out[o] = (float)((double)bias[o] - (double)mean[o] * k);
    }
}

/* Copies [inputs][outputs] weights (old transposed files) to [outputs][inputs]. */
static void transpose(const float *in, size_t rows, size_t cols, float *out)
{
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < cols; c++)
            out[c * rows + r] = in[r * cols + c];
}

/* Fills one layer's weights from the file. Layers without batch norm point
 * into the mapping; folded (or transposed) ones get their own array, which
 * is recorded in owned[] so that cr__net_clear releases it. */
static cr_status load_layer(struct cr__layer *l, struct reader *r, int transposed,
                            float **owned, size_t *n_owned)
{
    size_t n = l->n_biases;
    const float *bias = take(r, n), *w = NULL, *scale = NULL, *mean = NULL, *var = NULL;
    if (l->type == CR__LAYER_CONNECTED)
        w = take(r, l->n_weights);
    if (l->batch_normalize) {
        scale = take(r, n);
        mean = take(r, n);
        var = take(r, n);
    }
    if (l->type == CR__LAYER_CONV)
        w = take(r, l->n_weights);
    int tr = transposed && l->type == CR__LAYER_CONNECTED;
    if (!l->batch_normalize && !tr) {
        l->weights = (float *)w;
        l->biases = (float *)bias;
        return CR_OK;
    }
    float *wb = malloc((l->n_weights + n) * sizeof(float));
    if (!wb)
        return CR_ERR_NOMEM;
    owned[(*n_owned)++] = wb;
    if (tr) {
        transpose(w, l->n_weights / n, n, wb);
        w = wb;
    }
    if (l->batch_normalize)
        fold_bn(l, w, bias, scale, mean, var, wb, wb + l->n_weights);
    else
        memcpy(wb + l->n_weights, bias, n * sizeof(float));
    l->weights = wb;
    l->biases = wb + l->n_weights;
    return CR_OK;
}

/* What the net keeps of a weights file: the mapping and the folded arrays. */
struct cr__weights_store {
    void *map;
    size_t map_len;
    size_t n_owned;
    float *owned[];
};

/* Maps path and checks its header and exact size. */
static cr_status map_weights(const char *path, size_t floats, void **map, size_t *len,
                             size_t *header, int *transposed, struct cr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", path,
                        strerror(errno));
    struct stat sb;
    int32_t version[3] = {0, 0, 0};
    cr_status st = CR_OK;
    if (fstat(fd, &sb) != 0 || pread(fd, version, sizeof(version), 0) != sizeof(version))
        st = cr__fail(err, CR_ERR_MODEL, "%s: truncated weights file (no header)", path);
    /* Darknet stores `seen` as size_t from format 0.2 on, as int before.
     * Its test, computed in 64 bits: a hostile header's major * 10 must not
     * overflow (found by tests/fuzz/fuzz_model.c). */
    int64_t major = version[0], minor = version[1];
    int wide = major * 10 + minor >= 2 && major < 1000 && minor < 1000;
    *header = 3 * sizeof(int32_t) + (wide ? 8 : 4);
    *transposed = version[0] > 1000 || version[1] > 1000;
    uint64_t want = *header + (uint64_t)floats * sizeof(float);
    if (st == CR_OK && (uint64_t)sb.st_size != want)
        st = cr__fail(err, CR_ERR_MODEL, "%s: %s weights file: %lld bytes, the network needs %llu",
                      path, (uint64_t)sb.st_size < want ? "truncated" : "oversized",
                      (long long)sb.st_size, (unsigned long long)want);
    if (st == CR_OK) {
        *len = (size_t)want;
        *map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
        if (*map == MAP_FAILED)
            st = cr__fail(err, CR_ERR_IO, "%s: mmap: %s", path, strerror(errno));
    }
    close(fd);
    return st;
}

cr_status cr__net_load_weights(struct cr__net *net, const char *path, struct cr_error *err)
{
    size_t floats = cr__net_weights_layout(net, count_nothing, NULL), len = 0, header = 0;
    void *map = NULL;
    int transposed = 0;
    cr_status st = map_weights(path, floats, &map, &len, &header, &transposed, err);
    if (st != CR_OK)
        return st;
    struct cr__weights_store *ws = calloc(1, sizeof(*ws) + (size_t)net->n * sizeof(float *));
    if (!ws) {
        munmap(map, len);
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    }
    ws->map = map;
    ws->map_len = len;
    net->store = ws;
    struct reader r = {(const float *)((const char *)map + header)};
    for (int i = 0; i < net->n && st == CR_OK; i++) {
        struct cr__layer *l = &net->layers[i];
        if ((l->type == CR__LAYER_CONV || l->type == CR__LAYER_CONNECTED) &&
            load_layer(l, &r, transposed, ws->owned, &ws->n_owned) != CR_OK)
            st = cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", path);
    }
    return st;
}

void cr__net_clear(struct cr__net *net)
{
    if (!net)
        return;
    struct cr__weights_store *ws = net->store;
    if (ws) {
        for (size_t i = 0; i < ws->n_owned; i++)
            free(ws->owned[i]);
        munmap(ws->map, ws->map_len);
        free(ws);
    }
    free(net->layers);
    memset(net, 0, sizeof(*net));
}
