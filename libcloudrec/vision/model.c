/* model.c - finding the model's files and downloading published weights. */
#include "cloudrec/classify.h"
#include "internal.h"
#include "net/http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static int is_readable(const char *path)
{
    return access(path, R_OK) == 0;
}

static cr_status join(char *out, size_t n, const char *dir, const char *file)
{
    if ((size_t)snprintf(out, n, "%s/%s", dir, file) >= n)
        return CR_ERR_INVALID;
    return CR_OK;
}

/* Picks the directory; the error lists every candidate that was tried. */
static cr_status find_dir(const char *dir_flag, char *out, size_t n, struct cr_error *err)
{
    const char *env = getenv("CLOUDREC_MODEL_DIR");
    const char *explicit_dir = dir_flag ? dir_flag : (env && *env ? env : NULL);
    char probe[CR_PATH_MAX];
    if (explicit_dir) {
        if (join(probe, sizeof(probe), explicit_dir, CR_TINY_WEIGHTS_FILE) != CR_OK)
            return cr__fail(err, CR_ERR_INVALID, "model directory path too long");
        if (!is_readable(probe))
            return cr__fail(err, CR_ERR_NOT_FOUND,
                            "model directory %s%s has no readable %s (download it with "
                            "`cloudrec model fetch --dest DIR`)",
                            explicit_dir, dir_flag ? "" : " (from CLOUDREC_MODEL_DIR)",
                            CR_TINY_WEIGHTS_FILE);
        cr__strlcpy(out, explicit_dir, n);
        return CR_OK;
    }
    static const char *const candidates[] = {"models/tiny-darknet", "../shared/models/tiny-darknet"};
    for (size_t i = 0; i < CR__ARRAY_LEN(candidates); i++) {
        join(probe, sizeof(probe), candidates[i], CR_TINY_WEIGHTS_FILE);
        if (is_readable(probe)) {
            cr__strlcpy(out, candidates[i], n);
            return CR_OK;
        }
    }
    return cr__fail(err, CR_ERR_NOT_FOUND,
                    "no model found: CLOUDREC_MODEL_DIR is unset and neither %s nor %s "
                    "holds %s; run `cloudrec model fetch` to download it",
                    candidates[0], candidates[1], CR_TINY_WEIGHTS_FILE);
}

cr_status cr_model_resolve(const char *dir_flag, struct cr_model_paths *out,
                           struct cr_error *err)
{
    if (!out)
        return cr__fail(err, CR_ERR_INVALID, "cr_model_resolve: out is NULL");
    memset(out, 0, sizeof(*out));
    cr_status st = find_dir(dir_flag, out->dir, sizeof(out->dir), err);
    if (st != CR_OK)
        return st;
    if (join(out->weights, sizeof(out->weights), out->dir, CR_TINY_WEIGHTS_FILE) != CR_OK ||
        join(out->cfg, sizeof(out->cfg), out->dir, "tiny.cfg") != CR_OK ||
        join(out->names, sizeof(out->names), out->dir, "names.list") != CR_OK)
        return cr__fail(err, CR_ERR_INVALID, "model directory path too long");
    /* A model directory may carry its own cfg and names; the weights alone
     * (as published) use the definitions from Debian's darknet package. */
    if (!is_readable(out->cfg))
        cr__strlcpy(out->cfg, CR_DARKNET_CFG_DEFAULT, sizeof(out->cfg));
    if (!is_readable(out->names))
        cr__strlcpy(out->names, CR_DARKNET_NAMES_DEFAULT, sizeof(out->names));
    return CR_OK;
}

static int valid_sha256_hex(const char *s)
{
    unsigned char tmp[CR_SHA256_LEN];
    return s && strlen(s) == 2 * CR_SHA256_LEN &&
           cr__hex_decode(s, strlen(s), tmp, sizeof(tmp)) == CR_OK;
}

cr_status cr_model_fetch(const struct cr_fetch_options *opts, struct cr_error *err)
{
    if (!opts || !opts->url || !opts->dest_path)
        return cr__fail(err, CR_ERR_INVALID, "model fetch needs a URL and a destination");
    if (!valid_sha256_hex(opts->sha256_hex))
        return cr__fail(err, CR_ERR_INVALID, "expected SHA-256 must be 64 hex digits");
    struct cr_buf body;
    cr_buf_init(&body, opts->max_bytes ? opts->max_bytes : (size_t)512 * 1024 * 1024);
    cr_status st = cr__http_get(opts->url, 0, opts->timeout_ms, &body, err);
    if (st != CR_OK)
        goto out;
    unsigned char md[CR_SHA256_LEN];
    char hex[2 * CR_SHA256_LEN + 1];
    cr__sha256(body.data, body.len, md);
    cr__hex_encode(md, sizeof(md), hex);
    if (strcasecmp(hex, opts->sha256_hex) != 0) {
        st = cr__fail(err, CR_ERR_CHECKSUM, "%s: SHA-256 is %s, expected %s; nothing written",
                      opts->url, hex, opts->sha256_hex);
        goto out;
    }
    st = cr__file_write_atomic(opts->dest_path, body.data, body.len, err);
out:
    cr_buf_clear(&body);
    return st;
}
