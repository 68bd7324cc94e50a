/*
 * classify_darknet.c - the library's only user of darknet.h.
 *
 * Darknet is a fence to keep tidy: it calls exit() on files it cannot read,
 * prints to stderr, returns pointers into the network, mutates the network
 * while predicting and exports unprefixed symbols (error, list, image...).
 * So this file
 *  - loads libdarknet.so with dlopen(RTLD_LOCAL) on first use, so its symbols
 *    never enter the global namespace and programs that do not classify do
 *    not load it (nor the OpenCV/Qt stack it drags in);
 *  - reads and checks every model file before Darknet sees it, and gives
 *    Darknet a batch=1 copy of the cfg through a memfd;
 *  - decodes images itself (image.c) and copies results out;
 *  - captures what Darknet prints while loading and hands it to the logger.
 */
#include "cloudrec/classify.h"
#include "core/json.h"
#include "internal.h"
#include "vision/engines.h"

#include <darknet.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define CFG_MAX_BYTES (1u << 20)

/* ---- the dynamically loaded Darknet API ----------------------------------*/

struct darknet_api {
    void *handle;
    __typeof__(parse_network_cfg) *parse_network_cfg;
    __typeof__(load_weights) *load_weights;
    __typeof__(set_batch_network) *set_batch_network;
    __typeof__(network_predict) *network_predict;
    __typeof__(letterbox_image) *letterbox_image;
    __typeof__(free_image) *free_image;
    __typeof__(free_network) *free_network;
    __typeof__(hierarchy_predictions) *hierarchy_predictions;
};

static struct darknet_api g_dn;
static pthread_mutex_t g_dn_lock = PTHREAD_MUTEX_INITIALIZER;

/* Resolves one symbol into *slot; returns 0 when it is missing. */
static int resolve(void *handle, const char *name, void *slot)
{
    void *sym = dlsym(handle, name);
    memcpy(slot, &sym, sizeof(sym));
    return sym != NULL;
}

/* Loads libdarknet once per process. Caller holds g_dn_lock. */
static cr_status darknet_load(const char *lib, struct cr_error *err)
{
    if (g_dn.handle)
        return CR_OK;
    if (!lib) {
        const char *env = getenv("CLOUDREC_DARKNET_LIB");
        lib = env && *env ? env : CR_DARKNET_LIB_DEFAULT;
    }
    if (access(lib, R_OK) != 0)
        return cr__fail(err, CR_ERR_NOT_FOUND, "%s: %s (apt-get install darknet)", lib,
                        strerror(errno));
    void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return cr__fail(err, CR_ERR_MODEL, "cannot load Darknet: %s", dlerror());
    struct darknet_api api = {.handle = h};
    if (!resolve(h, "parse_network_cfg", &api.parse_network_cfg) ||
        !resolve(h, "load_weights", &api.load_weights) ||
        !resolve(h, "set_batch_network", &api.set_batch_network) ||
        !resolve(h, "network_predict", &api.network_predict) ||
        !resolve(h, "letterbox_image", &api.letterbox_image) ||
        !resolve(h, "free_image", &api.free_image) ||
        !resolve(h, "free_network", &api.free_network) ||
        !resolve(h, "hierarchy_predictions", &api.hierarchy_predictions)) {
        dlclose(h);
        return cr__fail(err, CR_ERR_MODEL, "%s: not a compatible Darknet library", lib);
    }
    g_dn = api;
    return CR_OK;
}

/* ---- capturing Darknet's stderr ------------------------------------------*/

struct capture {
    int saved_fd;
    int mem_fd;
};

/* Points fd 2 at a memfd. Caller holds g_dn_lock, so captures never nest. */
static void capture_begin(struct capture *c)
{
    c->saved_fd = -1;
    c->mem_fd = memfd_create("cloudrec-darknet-log", MFD_CLOEXEC);
    if (c->mem_fd < 0)
        return;
    fflush(stderr);
    c->saved_fd = dup(STDERR_FILENO);
    if (c->saved_fd < 0 || dup2(c->mem_fd, STDERR_FILENO) < 0) {
        if (c->saved_fd >= 0)
            close(c->saved_fd);
        close(c->mem_fd);
        c->saved_fd = c->mem_fd = -1;
    }
}

/* Logs each captured line (as a JSON string, so quotes cannot break the
 * key=value format) at debug level. Reads at most 1 MiB. */
static void log_captured(int fd)
{
    struct cr_buf text, line;
    cr_buf_init(&text, 1u << 20);
    cr_buf_init(&line, 0);
    char chunk[4096];
    ssize_t n;
    off_t off = 0;
    while ((n = pread(fd, chunk, sizeof(chunk), off)) > 0 &&
           cr__buf_append(&text, chunk, (size_t)n) == CR_OK)
        off += n;
    char *next = text.data ? (char *)text.data : NULL;
    while (next && *next) {
        char *l = next;
        next = strchr(l, '\n');
        if (next)
            *next++ = '\0';
        cr__buf_reset(&line);
        if (*l && cr__json_quote(&line, l) == CR_OK)
            cr__log(CR_LOG_DEBUG, "component=darknet line=%s", (char *)line.data);
    }
    cr_buf_clear(&line);
    cr_buf_clear(&text);
}

/* Restores fd 2 and forwards each captured line to the logger at debug. */
static void capture_end(struct capture *c)
{
    if (c->saved_fd < 0)
        return;
    fflush(stderr);
    dup2(c->saved_fd, STDERR_FILENO);
    close(c->saved_fd);
    if (cr__log_enabled(CR_LOG_DEBUG))
        log_captured(c->mem_fd);
    close(c->mem_fd);
}

/* ---- checking the cfg ------------------------------------------------------*/

static const char *const known_sections[] = {
    "activation", "avg",         "avgpool",         "batchnorm", "conn",    "connected",
    "conv",       "convolutional", "cost",          "crnn",      "crop",    "deconv",
    "deconvolutional", "detection", "dropout",      "gru",       "iseg",    "l2norm",
    "local",      "logistic",    "lrn",             "lstm",      "max",     "maxpool",
    "net",        "network",     "normalization",   "region",    "reorg",   "rnn",
    "route",      "shortcut",    "soft",            "softmax",   "upsample", "yolo",
};

static int known_section(const char *name, size_t len)
{
    for (size_t i = 0; i < CR__ARRAY_LEN(known_sections); i++)
        if (strlen(known_sections[i]) == len && memcmp(known_sections[i], name, len) == 0)
            return 1;
    return 0;
}

/* What the cfg check learns while it copies the cfg for Darknet. */
struct cfg_scan {
    const char *path;
    int lineno;
    int sections;
    int in_net;
    long net_w, net_h;
    struct cr_buf *out;
};

/* Checks one "key=value" line of the cfg and copies it to the output.
 * Options that name other files (a softmax tree, a region map) must be
 * readable: Darknet exits otherwise. */
static cr_status check_option(struct cfg_scan *sc, char *line, struct cr_error *err)
{
    char *eq = strchr(line, '=');
    if (!eq)
        return cr__fail(err, CR_ERR_MODEL, "%s:%d: expected key=value, got \"%.40s\"", sc->path,
                        sc->lineno, line);
    *eq = '\0';
    char *key = cr__trim(line), *value = cr__trim(eq + 1);
    if ((strcmp(key, "tree") == 0 || strcmp(key, "map") == 0) && access(value, R_OK) != 0)
        return cr__fail(err, CR_ERR_MODEL, "%s:%d: %s file %s: %s", sc->path, sc->lineno, key,
                        value, strerror(errno));
    int is_w = strcmp(key, "width") == 0, is_h = strcmp(key, "height") == 0;
    if (sc->in_net && (is_w || is_h || strcmp(key, "channels") == 0)) {
        long v = strtol(value, NULL, 10);
        if (v <= 0 || v > 8192)
            return cr__fail(err, CR_ERR_MODEL, "%s:%d: bad %s=%s", sc->path, sc->lineno, key,
                            value);
        if (is_w)
            sc->net_w = v;
        if (is_h)
            sc->net_h = v;
    }
    /* Inference runs one image at a time; a training batch of 128 would
     * make Darknet allocate every layer's output 128 times. */
    if (sc->in_net && (strcmp(key, "batch") == 0 || strcmp(key, "subdivisions") == 0))
        value = "1";
    cr_status st = cr__buf_appendf(sc->out, "%s=%s\n", key, value);
    return st == CR_OK ? CR_OK : cr__fail(err, st, "%s: %s", sc->path, cr_strerror(st));
}

/* Checks a "[section]" line: known to Darknet, and [net] comes first. */
static cr_status check_section(struct cfg_scan *sc, const char *line, struct cr_error *err)
{
    size_t len = strlen(line);
    if (len < 3 || line[len - 1] != ']' || !known_section(line + 1, len - 2))
        return cr__fail(err, CR_ERR_MODEL, "%s:%d: unknown section %.40s", sc->path, sc->lineno,
                        line);
    sc->in_net = strcmp(line, "[net]") == 0 || strcmp(line, "[network]") == 0;
    if (sc->sections++ == 0 && !sc->in_net)
        return cr__fail(err, CR_ERR_MODEL, "%s: first section must be [net]", sc->path);
    cr_status st = cr__buf_appendf(sc->out, "%s\n", line);
    return st == CR_OK ? CR_OK : cr__fail(err, st, "%s: %s", sc->path, cr_strerror(st));
}

/* Reads and checks a cfg, producing in out the text Darknet will parse. */
static cr_status prepare_cfg(const char *cfg, struct cr_buf *out, struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, CFG_MAX_BYTES);
    cr_status st = cr__file_read(cfg, 0, &text, err);
    if (st != CR_OK)
        goto out;
    if (memchr(text.data, '\0', text.len)) {
        st = cr__fail(err, CR_ERR_MODEL, "%s: not a text cfg file", cfg);
        goto out;
    }
    struct cfg_scan sc = {.path = cfg, .out = out};
    char *next = (char *)text.data;
    while (st == CR_OK && next) {
        char *line = next;
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        sc.lineno++;
        line = cr__trim(line);
        if (!*line || *line == '#' || *line == ';')
            continue;
        if (*line == '[')
            st = check_section(&sc, line, err);
        else if (sc.sections == 0)
            st = cr__fail(err, CR_ERR_MODEL, "%s:%d: option before the first section", cfg,
                          sc.lineno);
        else
            st = check_option(&sc, line, err);
    }
    if (st == CR_OK && sc.sections < 2)
        st = cr__fail(err, CR_ERR_MODEL, "%s: no layers in the cfg", cfg);
    else if (st == CR_OK && (sc.net_w <= 0 || sc.net_h <= 0))
        st = cr__fail(err, CR_ERR_MODEL, "%s: [net] needs width and height", cfg);
out:
    cr_buf_clear(&text);
    return st;
}

/* ---- checking the weights --------------------------------------------------*/

/* Bytes Darknet's load_weights will read for this network: the header, then
 * per layer the same arrays, in the same order, as load_weights_upto. */
static cr_status expected_weight_floats(const network *net, uint64_t *floats,
                                        struct cr_error *err)
{
    uint64_t total = 0;
    for (int i = 0; i < net->n; i++) {
        const layer *l = &net->layers[i];
        if (l->dontload)
            continue;
        switch (l->type) {
        case CONVOLUTIONAL:
        case DECONVOLUTIONAL:
            total += (uint64_t)l->n + (uint64_t)l->nweights;
            if (l->batch_normalize && !l->dontloadscales)
                total += 3 * (uint64_t)l->n;
            break;
        case CONNECTED:
            total += (uint64_t)l->outputs + (uint64_t)l->outputs * (uint64_t)l->inputs;
            if (l->batch_normalize && !l->dontloadscales)
                total += 3 * (uint64_t)l->outputs;
            break;
        case BATCHNORM:
            total += 3 * (uint64_t)l->c;
            break;
        case LOCAL:
        case RNN:
        case CRNN:
        case LSTM:
        case GRU:
            return cr__fail(err, CR_ERR_UNSUPPORTED,
                            "layer %d: recurrent and local layers are not supported", i);
        default:
            break;
        }
    }
    *floats = total;
    return CR_OK;
}

/* Reads the weights header to learn its size and checks the file is exactly
 * as long as the network needs; Darknet would read garbage otherwise. */
static cr_status check_weights(const char *path, const network *net, struct cr_error *err)
{
    uint64_t floats = 0;
    cr_status st = expected_weight_floats(net, &floats, err);
    if (st != CR_OK)
        return cr__fail_prefix(err, st, "%s: ", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", path,
                        strerror(errno));
    int32_t version[3] = {0, 0, 0};
    struct stat sb;
    int ok = fread(version, sizeof(int32_t), 3, f) == 3 && fstat(fileno(f), &sb) == 0;
    fclose(f);
    if (!ok)
        return cr__fail(err, CR_ERR_MODEL, "%s: truncated weights file (no header)", path);
    /* Darknet stores `seen` as size_t from format 0.2 on, as int before. */
    int wide_seen = version[0] * 10 + version[1] >= 2 && version[0] < 1000 && version[1] < 1000;
    uint64_t want = 3 * sizeof(int32_t) + (wide_seen ? 8 : 4) + floats * sizeof(float);
    if ((uint64_t)sb.st_size != want)
        return cr__fail(err, CR_ERR_MODEL,
                        "%s: %s weights file: %lld bytes, the network needs %llu", path,
                        (uint64_t)sb.st_size < want ? "truncated" : "oversized",
                        (long long)sb.st_size, (unsigned long long)want);
    return CR_OK;
}

/* ---- the engine ------------------------------------------------------------*/

struct cr__darknet {
    network *net;
};

/* Parses the checked cfg text through a memfd (Darknet only reads paths). */
static network *parse_cfg_text(const struct cr_buf *cfg_text)
{
    int fd = memfd_create("cloudrec-cfg", MFD_CLOEXEC);
    if (fd < 0)
        return NULL;
    network *net = NULL;
    if (write(fd, cfg_text->data, cfg_text->len) == (ssize_t)cfg_text->len) {
        char path[64];
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        net = g_dn.parse_network_cfg(path);
    }
    close(fd);
    return net;
}

/* Builds the network under g_dn_lock: parse, check weights, load weights. */
static cr_status load_network_checked(const struct cr_classifier_options *opts,
                                      const struct cr_buf *cfg_text, network **out,
                                      struct cr_error *err)
{
    struct capture cap;
    capture_begin(&cap);
    network *net = parse_cfg_text(cfg_text);
    capture_end(&cap);
    if (!net)
        return cr__fail(err, CR_ERR_MODEL, "%s: Darknet could not parse the cfg", opts->cfg_path);
    cr_status st = check_weights(opts->weights_path, net, err);
    if (st != CR_OK) {
        g_dn.free_network(net);
        return st;
    }
    capture_begin(&cap);
    g_dn.load_weights(net, (char *)opts->weights_path);
    g_dn.set_batch_network(net, 1);
    capture_end(&cap);
    *out = net;
    return CR_OK;
}

cr_status cr__darknet_open(const struct cr_classifier_options *opts, struct cr__darknet **out,
                           struct cr_error *err)
{
    *out = NULL;
    struct cr_buf cfg_text;
    cr_buf_init(&cfg_text, CFG_MAX_BYTES);
    struct cr__darknet *dn = calloc(1, sizeof(*dn));
    cr_status st = dn ? CR_OK : cr__fail(err, CR_ERR_NOMEM, "out of memory");
    if (st == CR_OK)
        st = prepare_cfg(opts->cfg_path, &cfg_text, err);
    /* Check the cheap things (weights readable) before loading Darknet. */
    if (st == CR_OK && access(opts->weights_path, R_OK) != 0)
        st = cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s",
                      opts->weights_path, strerror(errno));
    if (st == CR_OK) {
        pthread_mutex_lock(&g_dn_lock);
        st = darknet_load(opts->darknet_lib, err);
        if (st == CR_OK)
            st = load_network_checked(opts, &cfg_text, &dn->net, err);
        pthread_mutex_unlock(&g_dn_lock);
    }
    cr_buf_clear(&cfg_text);
    if (st != CR_OK) {
        cr__darknet_free(dn);
        return st;
    }
    *out = dn;
    return CR_OK;
}

void cr__darknet_free(struct cr__darknet *dn)
{
    if (!dn)
        return;
    if (dn->net)
        g_dn.free_network(dn->net);
    free(dn);
}

void cr__darknet_info(const struct cr__darknet *dn, int *w, int *h, int *outputs)
{
    *w = dn->net->w;
    *h = dn->net->h;
    *outputs = dn->net->outputs;
}

/* Converts interleaved 8-bit RGB to Darknet's planar float image in 0..1,
 * which is what its OpenCV loader produces. */
static int to_darknet_image(const struct cr_image *img, image *out)
{
    size_t plane = (size_t)img->width * (size_t)img->height;
    float *data = malloc(plane * 3 * sizeof(float));
    if (!data)
        return 0;
    const unsigned char *px = img->pixels;
    for (size_t i = 0; i < plane; i++)
        for (int c = 0; c < 3; c++)
            data[(size_t)c * plane + i] = px[i * 3 + (size_t)c] / 255.0f;
    *out = (image){.w = img->width, .h = img->height, .c = 3, .data = data};
    return 1;
}

/* Runs the network and copies its output (after the softmax tree, if any). */
static void predict_copy(struct cr__darknet *dn, float *input, float *probs, float *logits)
{
    network *net = dn->net;
    float *p = g_dn.network_predict(net, input);
    if (net->hierarchy)
        g_dn.hierarchy_predictions(p, net->outputs, net->hierarchy, 1, 1);
    memcpy(probs, p, (size_t)net->outputs * sizeof(float));
    int last = net->n - 1;
    while (last > 0 && net->layers[last].type == COST)
        last--;
    if (logits && last > 0 && net->layers[last].type == SOFTMAX)
        memcpy(logits, net->layers[last - 1].output, (size_t)net->outputs * sizeof(float));
}

cr_status cr__darknet_predict(struct cr__darknet *dn, const struct cr_image *img, float *probs,
                              struct cr_error *err)
{
    image im;
    if (!to_darknet_image(img, &im))
        return cr__fail(err, CR_ERR_NOMEM, "out of memory for a %dx%d image", img->width,
                        img->height);
    image boxed = g_dn.letterbox_image(im, dn->net->w, dn->net->h);
    free(im.data);
    if (!boxed.data)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory letterboxing the image");
    predict_copy(dn, boxed.data, probs, NULL);
    g_dn.free_image(boxed);
    return CR_OK;
}

cr_status cr__darknet_forward_raw(struct cr__darknet *dn, const float *input, float *probs,
                                  float *logits, struct cr_error *err)
{
    size_t n = (size_t)dn->net->w * (size_t)dn->net->h * 3;
    float *copy = malloc(n * sizeof(float));
    if (!copy)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory");
    memcpy(copy, input, n * sizeof(float));
    predict_copy(dn, copy, probs, logits);
    free(copy);
    return CR_OK;
}
