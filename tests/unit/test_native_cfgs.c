/*
 * test_native_cfgs.c - the native engine against Darknet on every ImageNet
 * classifier cfg Debian ships, with random weights.
 *
 * For each cfg this program writes a weights file of the exact size the cfg
 * needs, filled with random values that keep activations in a sane range
 * (batch-norm variances positive), loads it with Darknet (through the
 * library's checked loader) and with the native engine, runs both on the
 * same random input and compares the whole output vector: at most 1e-4
 * apart after the softmax, and the softmax's input (the logits) within 1e-3
 * of the largest logit's magnitude. It skips when libdarknet.so is missing.
 */
#include "cloudrec.h"
#include "tap.h"
#include "vision/engines.h"
#include "vision/native.h"
#include "internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define CFG_DIR "/usr/share/darknet/cfg/"
#define DARKNET_LIB "/usr/lib/darknet/libdarknet.so"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#else
#define UNDER_ASAN 0
#endif

/* Under ASan the largest networks are skipped: their weights alone are
 * hundreds of MB, held twice (Darknet and native), and the comparison on
 * them adds nothing the smaller ones of the same layer kinds do not cover. */
#define ASAN_MAX_WEIGHTS (40u * 1000 * 1000)

static const char *const cfgs[] = {
    "tiny",      "darknet",   "darknet19",        "darknet53",        "extraction",
    "resnet18",  "resnet34",  "resnet50",         "resnet101",        "resnet152",
    "resnext50", "resnext101-32x4d", "resnext152-32x4d", "densenet201", "alexnet",
    "vgg-16",
};

static char tmpdir[] = "/tmp/cloudrec-native-cfgs-XXXXXX";

struct gen {
    FILE *f;
    uint64_t state;
    int failed;
};

static double uniform(struct gen *g)
{
    g->state ^= g->state << 13;
    g->state ^= g->state >> 7;
    g->state ^= g->state << 17;
    return (double)(g->state >> 11) / 9007199254740992.0;
}

/* Writes count random values for one array of the file. */
static void write_array(void *ctx, char role, size_t count, size_t fan_in)
{
    struct gen *g = ctx;
    float chunk[4096];
    double scale = fan_in ? sqrt(3.0 / (double)fan_in) : 1.0;
    while (count && !g->failed) {
        size_t n = count < 4096 ? count : 4096;
        for (size_t i = 0; i < n; i++) {
            double u = uniform(g);
            switch (role) {
            case 's': chunk[i] = (float)(0.5 + u); break;        /* BN scales */
            case 'v': chunk[i] = (float)(0.5 + u); break;        /* BN variances */
            case 'w': chunk[i] = (float)((2 * u - 1) * scale); break;
            default: chunk[i] = (float)(0.2 * u - 0.1); break;   /* biases, means */
            }
        }
        g->failed |= fwrite(chunk, sizeof(float), n, g->f) != n;
        count -= n;
    }
}

/* Writes random weights for net at path; returns the number of floats. */
static size_t write_weights(const struct cr__net *net, const char *path, uint64_t seed)
{
    struct gen g = {.f = fopen(path, "wb"), .state = seed};
    if (!g.f)
        return 0;
    int32_t version[3] = {0, 2, 0};
    uint64_t seen = 0;
    fwrite(version, sizeof(version), 1, g.f);
    fwrite(&seen, sizeof(seen), 1, g.f);
    size_t floats = cr__net_weights_layout(net, write_array, &g);
    g.failed |= fclose(g.f) != 0;
    return g.failed ? 0 : floats;
}

static cr_status parse_cfg(const char *path, struct cr__net *net, struct cr_error *err)
{
    struct cr_buf text;
    cr_buf_init(&text, 1u << 20);
    cr_status st = cr__file_read(path, 0, &text, err);
    if (st == CR_OK)
        st = cr__net_parse(path, (const char *)text.data, text.len, net, err);
    cr_buf_clear(&text);
    return st;
}

struct outputs {
    float *probs, *logits;
};

static int alloc_outputs(struct outputs *o, int n)
{
    o->probs = calloc((size_t)n, sizeof(float));
    o->logits = calloc((size_t)n, sizeof(float));
    return o->probs && o->logits;
}

/* Compares the two engines' outputs and reports the differences. */
static void compare(const char *name, const struct outputs *dn, const struct outputs *nat, int n,
                    int softmax_last)
{
    double max_prob = 0, max_logit = 0, logit_mag = 0;
    for (int i = 0; i < n; i++) {
        max_prob = fmax(max_prob, fabs((double)dn->probs[i] - nat->probs[i]));
        max_logit = fmax(max_logit, fabs((double)dn->logits[i] - nat->logits[i]));
        logit_mag = fmax(logit_mag, fabs((double)dn->logits[i]));
    }
    int finite = 1;
    for (int i = 0; i < n; i++)
        finite &= isfinite(nat->probs[i]) && isfinite(dn->probs[i]);
    CHECKF(finite, "%s: outputs are finite", name);
    CHECKF(max_prob <= 1e-4, "%s: outputs within 1e-4 (max difference %.3g)", name, max_prob);
    if (softmax_last)
        CHECKF(logit_mag > 0 && max_logit <= 1e-3 * logit_mag,
                  "%s: logits within 1e-3 relative (max difference %.3g, largest %.3g)", name,
                  max_logit, logit_mag);
}

/* Loads both engines on cfg + weights, feeds the same input, compares. */
static void run_both(const char *name, const char *cfg, const char *weights,
                     const struct cr__net *net)
{
    struct cr_error err = {0};
    struct cr_classifier_options o = {.cfg_path = cfg, .weights_path = weights};
    struct cr__darknet *dn = NULL;
    struct cr__native *nat = NULL;
    int64_t t0 = cr__time_mono_us();
    cr_status st = cr__native_open(cfg, weights, 1, &nat, &err);
    int64_t t1 = cr__time_mono_us();
    if (!CHECKF(st == CR_OK, "%s: native engine loads it", name))
        DIAG("%s", err.message);
    if (!CHECKF(cr__darknet_open(&o, &dn, &err) == CR_OK, "%s: Darknet loads it", name))
        DIAG("%s", err.message);
    size_t n_in = (size_t)net->w * (size_t)net->h * 3;
    float *input = malloc(n_in * sizeof(float));
    struct outputs a = {0}, b = {0};
    if (nat && dn && input && alloc_outputs(&a, net->outputs) && alloc_outputs(&b, net->outputs)) {
        struct gen g = {.state = 0x9e3779b97f4a7c15ull};
        for (size_t i = 0; i < n_in; i++)
            input[i] = (float)uniform(&g);
        int64_t t2 = cr__time_mono_us();
        cr__darknet_forward_raw(dn, input, a.probs, a.logits, &err);
        int64_t t3 = cr__time_mono_us();
        CHECK_EQ_INT(cr__native_forward_raw(nat, input, b.probs, b.logits, &err), CR_OK);
        int64_t t4 = cr__time_mono_us();
        DIAG("%s: load %.0f ms; forward Darknet %.0f ms, native %.1f ms", name,
             (double)(t1 - t0) / 1e3, (double)(t3 - t2) / 1e3, (double)(t4 - t3) / 1e3);
        int softmax_last = net->layers[net->out_layer].type == CR__LAYER_SOFTMAX;
        compare(name, &a, &b, net->outputs, softmax_last);
    }
    free(a.probs);
    free(a.logits);
    free(b.probs);
    free(b.logits);
    free(input);
    cr__native_free(nat);
    cr__darknet_free(dn);
}

static size_t weight_count(const struct cr__net *net)
{
    size_t total = 0;
    for (int i = 0; i < net->n; i++)
        total += net->layers[i].n_weights;
    return total;
}

static void test_cfg(const char *name, uint64_t seed)
{
    char cfg[512], weights[512];
    snprintf(cfg, sizeof(cfg), CFG_DIR "%s.cfg", name);
    snprintf(weights, sizeof(weights), "%s/%s.weights", tmpdir, name);
    struct cr__net net;
    struct cr_error err = {0};
    if (!CHECKF(parse_cfg(cfg, &net, &err) == CR_OK, "%s: the native engine supports it", name)) {
        DIAG("%s", err.message);
        return;
    }
    if (UNDER_ASAN && weight_count(&net) > ASAN_MAX_WEIGHTS) {
        tap_skipf("%s: %zu weights; the largest networks are not run under ASan (memory and time)",
             name, weight_count(&net));
    } else if (CHECKF(write_weights(&net, weights, seed) > 0, "%s: random weights written",
                         name)) {
        run_both(name, cfg, weights, &net);
    }
    unlink(weights);
    cr__net_clear(&net);
}

int main(void)
{
    if (access(DARKNET_LIB, R_OK) != 0 || access(CFG_DIR "tiny.cfg", R_OK) != 0) {
        tap_skipf("Darknet (%s) or its cfgs are not installed", DARKNET_LIB);
        return tap_done();
    }
    if (!CHECK(mkdtemp(tmpdir) != NULL))
        return tap_done();
    for (size_t i = 0; i < sizeof(cfgs) / sizeof(cfgs[0]); i++)
        test_cfg(cfgs[i], 0x12345678ull + i);
    rmdir(tmpdir);
    return tap_done();
}
