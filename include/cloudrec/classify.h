/*
 * cloudrec/classify.h - ImageNet classification of Darknet models.
 *
 * Two engines read the same Darknet .cfg and .weights files:
 *  - native (CR_ENGINE_NATIVE): the library's own FP32 forward pass on
 *    oneDNN. Its loaded model is immutable: any number of threads may call
 *    cr_classify_* on one native classifier at the same time (each call
 *    borrows a workspace from a pool the classifier keeps; the pool grows to
 *    the number of concurrent callers). Loading maps the weights and packs
 *    them once.
 *  - Darknet (CR_ENGINE_DARKNET): libdarknet.so, the reference. Darknet
 *    mutates the network while predicting, so a Darknet classifier must not
 *    be used by two threads at once: open one per thread (they share
 *    nothing). Darknet is loaded at run time (dlopen, RTLD_LOCAL) the first
 *    time a Darknet classifier is opened, so none of its unprefixed symbols
 *    enter the process's global namespace. Every file is checked before
 *    Darknet sees it, because Darknet calls exit() on files it cannot read.
 * CR_ENGINE_AUTO (the default) picks native when the cfg uses only what the
 * native engine implements, else Darknet, and logs why once.
 */
#ifndef CLOUDREC_CLASSIFY_H
#define CLOUDREC_CLASSIFY_H

#include "cloudrec/core.h"
#include "cloudrec/image.h"

#ifdef __cplusplus
extern "C" {
#endif

#define CR_LABEL_MAX 128 /* bytes, including the NUL */
#define CR_PATH_MAX 4096

/* Defaults taken from Debian's darknet package. */
#define CR_DARKNET_LIB_DEFAULT "/usr/lib/darknet/libdarknet.so"
#define CR_DARKNET_CFG_DEFAULT "/usr/share/darknet/cfg/tiny.cfg"
#define CR_DARKNET_NAMES_DEFAULT "/usr/share/darknet/data/imagenet.shortnames.list"

/* Published Tiny Darknet weights and their SHA-256. */
#define CR_TINY_WEIGHTS_URL "https://pjreddie.com/media/files/tiny.weights"
#define CR_TINY_WEIGHTS_SHA256 "f1c3fe6b9bab9af69ae2a090682df3e5b9d83accba69551315f030ce1b37ea81"
#define CR_TINY_WEIGHTS_FILE "tiny.weights"

/* One predicted class, copied out of the network (no pointers inside). */
struct cr_prediction {
    int class_index;
    float probability; /* 0..1, as Darknet's softmax gives it */
    char label[CR_LABEL_MAX];
};

/* Where a model's files are; filled in whole by cr_model_resolve. */
struct cr_model_paths {
    char dir[CR_PATH_MAX];
    char cfg[CR_PATH_MAX];
    char weights[CR_PATH_MAX];
    char names[CR_PATH_MAX];
};

/*
 * Finds the model directory: dir_flag if non-NULL, else $CLOUDREC_MODEL_DIR,
 * else the first of ./models/tiny-darknet and ../shared/models/tiny-darknet
 * that holds tiny.weights. Then fills the file paths: weights =
 * <dir>/tiny.weights; cfg = <dir>/tiny.cfg if present, else Darknet's
 * /usr/share/darknet/cfg/tiny.cfg; names = <dir>/names.list if present, else
 * Darknet's imagenet.shortnames.list. A directory given by dir_flag or
 * $CLOUDREC_MODEL_DIR must hold tiny.weights (there is no fallback then);
 * CR_ERR_NOT_FOUND says which directory or which candidates were tried.
 * Relative candidates are relative to the working directory.
 */
CR_API cr_status cr_model_resolve(const char *dir_flag, struct cr_model_paths *out,
                                  struct cr_error *err);

/* Which forward pass a classifier uses; zero is AUTO. */
enum cr_engine {
    CR_ENGINE_AUTO = 0,    /* native when the cfg is supported, else Darknet */
    CR_ENGINE_NATIVE = 1,  /* the library's own engine; CR_ERR_UNSUPPORTED if it cannot */
    CR_ENGINE_DARKNET = 2, /* libdarknet.so */
};

/* "auto", "native" or "darknet" (static storage); "unknown" otherwise. */
CR_API const char *cr_engine_name(enum cr_engine engine);

struct cr_classifier_options {
    const char *cfg_path;     /* required */
    const char *weights_path; /* required */
    const char *names_path;   /* required; the first N lines are used, N = outputs */
    const char *darknet_lib;  /* NULL: $CLOUDREC_DARKNET_LIB, else the Debian path.
                                 Darknet is loaded once per process: only the first
                                 classifier opened decides which library is used. */
    struct cr_image_limits limits; /* for cr_classify_bytes / _file */
    enum cr_engine engine;         /* 0 = CR_ENGINE_AUTO */
    int threads;                   /* native engine: threads per forward pass; 0 = 1 */
};

struct cr_classifier;

/*
 * Loads a network with the engine opts->engine asks for. The cfg is read
 * and checked (first section [net], known section names, size limit); the
 * weights file must
 * exist and have exactly the size the network needs; the names file must
 * have at least as many lines as the network has outputs. Errors:
 * CR_ERR_INVALID (a required option is NULL), CR_ERR_NOT_FOUND (a file or
 * libdarknet is missing), CR_ERR_IO (a file cannot be read), CR_ERR_TOO_LARGE
 * (cfg over 1 MiB, names over 16 MiB), CR_ERR_MODEL (a file is malformed or
 * does not fit the network), CR_ERR_UNSUPPORTED (local or recurrent layers,
 * whose weight sizes are not checked; or CR_ENGINE_NATIVE asked for a cfg
 * the native engine cannot run, the message naming layer and reason),
 * CR_ERR_NOMEM. On success *out is owned
 * by the caller; release with cr_classifier_free.
 *
 * While the network loads, Darknet writes its layer table to stderr; that
 * output is captured (file descriptor 2 is redirected for the duration, so
 * other threads' stderr output in that window is captured too) and passed to
 * the log handler at debug level.
 */
CR_API cr_status cr_classifier_open(const struct cr_classifier_options *opts,
                                    struct cr_classifier **out, struct cr_error *err);

/*
 * cr_classifier_open with the options given as a NULL-terminated array of
 * "name=value" strings (NULL = all defaults), for bindings that cannot lay
 * out C structs. Names: "model_dir", "cfg", "weights", "names",
 * "darknet_lib", "engine" ("auto", "native" or "darknet"), "threads",
 * "max_bytes", "max_pixels" (numbers decimal). The files not named come
 * from cr_model_resolve(model_dir); when all three are named, model_dir is
 * not used. CR_ERR_INVALID names a setting without '=', an unknown name or
 * a bad value; otherwise the errors of cr_model_resolve and
 * cr_classifier_open.
 */
CR_API cr_status cr_classifier_open_settings(const char *const *settings,
                                             struct cr_classifier **out, struct cr_error *err);

/* Frees the network and names. Accepts NULL. No call may be running on cl. */
CR_API void cr_classifier_free(struct cr_classifier *cl);

/* The engine cl runs on: CR_ENGINE_NATIVE or CR_ENGINE_DARKNET (AUTO if cl
 * is NULL). */
CR_API enum cr_engine cr_classifier_engine(const struct cr_classifier *cl);

/* Number of classes (network outputs). */
CR_API int cr_classifier_num_classes(const struct cr_classifier *cl);

/*
 * Classifies a decoded image exactly as `darknet classifier predict` does:
 * RGB scaled to 0..1, letterboxed to the network size, one forward pass,
 * the top_k classes in descending probability (ties: lower class index
 * first). Writes min(top_k, classes) entries to out and that count to
 * *n_out. top_k must be at least 1.
 */
CR_API cr_status cr_classify_image(struct cr_classifier *cl, const struct cr_image *img,
                                   struct cr_prediction *out, size_t top_k, size_t *n_out,
                                   struct cr_error *err);

/*
 * Classifies n decoded images in one call: image i's min(top_k, classes)
 * predictions go to out[i * top_k ...], *n_out gets that count (the same
 * for every image). The native engine reuses one workspace for the batch;
 * the results equal n calls of cr_classify_image. If an image is invalid
 * nothing is classified (CR_ERR_INVALID, the message gives its index).
 */
CR_API cr_status cr_classify_batch(struct cr_classifier *cl, const struct cr_image *imgs,
                                   size_t n, struct cr_prediction *out, size_t top_k,
                                   size_t *n_out, struct cr_error *err);

/* Decodes (with the classifier's limits) and classifies encoded bytes. */
CR_API cr_status cr_classify_bytes(struct cr_classifier *cl, const void *data, size_t len,
                                   struct cr_prediction *out, size_t top_k, size_t *n_out,
                                   struct cr_error *err);

/* Reads, decodes and classifies a file. The error message names the path. */
CR_API cr_status cr_classify_file(struct cr_classifier *cl, const char *path,
                                  struct cr_prediction *out, size_t top_k, size_t *n_out,
                                  struct cr_error *err);

/*
 * Downloads url (any scheme libcurl supports, including file://) and stores
 * it at dest_path only if its SHA-256 equals sha256_hex; the file appears
 * atomically or not at all. Errors: CR_ERR_INVALID (no URL or destination, or
 * sha256_hex is not 64 hex digits), CR_ERR_CHECKSUM (mismatch; nothing is
 * written), CR_ERR_NOT_FOUND (404 or missing file), CR_ERR_HTTP (another
 * non-2xx status, err->http_status set), CR_ERR_NETWORK, CR_ERR_TIMEOUT,
 * CR_ERR_TOO_LARGE (past max_bytes, 0 = 512 MiB), CR_ERR_NOMEM, and the
 * errors of writing dest_path (CR_ERR_IO).
 */
struct cr_fetch_options {
    const char *url;
    const char *sha256_hex;
    const char *dest_path;
    size_t max_bytes;
    long timeout_ms; /* 0 = 10 minutes */
};
CR_API cr_status cr_model_fetch(const struct cr_fetch_options *opts, struct cr_error *err);

#ifdef __cplusplus
}
#endif
#endif
