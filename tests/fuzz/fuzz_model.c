/*
 * fuzz_model.c - the native engine's reader of Darknet files
 * (libcloudrec/vision/darknet_model.c): cr__net_parse on any cfg text, then
 * cr__net_load_weights on any weights file for the network it describes.
 * Model files come from users (--model DIR), so a malformed one must be a
 * clear error, never a crash, a hang or a huge allocation.
 *
 * Input: the cfg text, a NUL byte, then the weights file's bytes (no NUL:
 * the whole input is the cfg and there are no weights). Beyond "never
 * crash, never leak": a weights file with a valid header and exactly the
 * size the parsed network needs must load.
 */
#include "fuzz.h"

#include "vision/native.h"

#include <string.h>
#include <unistd.h>

/* The weights go to one temporary file per process, rewritten each time:
 * the reader maps a path, as it does for a user's model directory. */
static const char *weights_path(void)
{
    static char path[64];
    if (!path[0])
        snprintf(path, sizeof(path), "/tmp/cloudrec-fuzz-model-%ld.weights", (long)getpid());
    return path;
}

static int write_file(const char *path, const uint8_t *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    int ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static void ignore(void *ctx, char role, size_t count, size_t fan_in)
{
    (void)ctx, (void)role, (void)count, (void)fan_in;
}

/* 1 when the weights file has a sane header and exactly the size net needs
 * (then the reader must accept it). */
static int fits(const struct cr__net *net, const uint8_t *w, size_t len)
{
    int32_t v[3];
    if (len < sizeof(v))
        return 0;
    memcpy(v, w, sizeof(v));
    if (v[0] < 0 || v[1] < 0 || v[0] > 1000 || v[1] > 1000)
        return 0;
    /* Darknet's rule: "seen" is 64-bit from version 0.2 on, unless major or
     * minor is 1000 or more. */
    int wide = v[0] * 10 + v[1] >= 2 && v[0] < 1000 && v[1] < 1000;
    size_t header = 3 * sizeof(int32_t) + (wide ? 8 : 4);
    size_t floats = cr__net_weights_layout(net, ignore, NULL);
    return len == header + floats * sizeof(float);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, 0, size);
    size_t cfg_len = nul ? (size_t)(nul - data) : size;
    struct cr__net net;
    struct cr_error err = {0};
    memset(&net, 0, sizeof(net));
    cr_status st = cr__net_parse("fuzz.cfg", (const char *)data, cfg_len, &net, &err);
    FUZZ_REQUIRE(st == CR_OK || err.message[0], "a refused cfg says why");
    if (st != CR_OK)
        return 0;
    if (!nul) {
        cr__net_clear(&net);
        return 0;
    }
    const uint8_t *w = nul + 1;
    size_t w_len = size - cfg_len - 1;
    if (!write_file(weights_path(), w, w_len))
        abort();
    int should_load = fits(&net, w, w_len);
    cr_error_clear(&err);
    st = cr__net_load_weights(&net, weights_path(), &err);
    FUZZ_REQUIRE(st == CR_OK || !should_load, "weights of exactly the right size load");
    FUZZ_REQUIRE(st == CR_OK || err.message[0], "refused weights say why");
    if (getenv("CLOUDREC_FUZZ_VERBOSE"))
        fprintf(stderr, "model: %s %s\n", cr_status_name(st), err.message);
    cr__net_clear(&net);
    unlink(weights_path());
    return 0;
}
