/*
 * engines.h - the two engines behind cr_classifier (not installed).
 *
 * classify.c owns the public API (engine choice, names, top-k, decoding);
 * each engine turns a decoded image into the network's output vector:
 *  - native (native.c): reads the cfg and weights itself and runs on oneDNN;
 *    a model is immutable and may be used by many threads at once;
 *  - Darknet (classify_darknet.c): libdarknet.so, one thread at a time.
 */
#ifndef CLOUDREC_VISION_ENGINES_H
#define CLOUDREC_VISION_ENGINES_H

#include "cloudrec/classify.h"

#include <stddef.h>

/* ---- native ----------------------------------------------------------------*/

struct cr__native;

/* Loads cfg and weights for the native engine. CR_ERR_UNSUPPORTED (message
 * names the layer and reason) when the cfg uses something it lacks; other
 * errors as cr_classifier_open. threads: per forward pass (0 = 1). */
cr_status cr__native_open(const char *cfg_path, const char *weights_path, int threads,
                          struct cr__native **out, struct cr_error *err);
void cr__native_free(struct cr__native *nat);

/* Input width and height and the number of outputs. */
void cr__native_info(const struct cr__native *nat, int *w, int *h, int *outputs);

/* Classifies n images: probs receives n x outputs floats. Thread-safe. */
cr_status cr__native_predict(struct cr__native *nat, const struct cr_image *const *imgs,
                             size_t n, float *probs, struct cr_error *err);

/* Runs the network on an already letterboxed input (3 planes of w x h);
 * logits, when not NULL and the last layer is a softmax, gets its input. */
cr_status cr__native_forward_raw(struct cr__native *nat, const float *input, float *probs,
                                 float *logits, struct cr_error *err);

/* ---- Darknet ---------------------------------------------------------------*/

struct cr__darknet;

/* Checks the files and loads the network with libdarknet (see
 * docs/classify.md for the checks). Same errors as cr_classifier_open. */
cr_status cr__darknet_open(const struct cr_classifier_options *opts, struct cr__darknet **out,
                           struct cr_error *err);
void cr__darknet_free(struct cr__darknet *dn);
void cr__darknet_info(const struct cr__darknet *dn, int *w, int *h, int *outputs);

/* Classifies one image into probs (outputs floats). One thread at a time. */
cr_status cr__darknet_predict(struct cr__darknet *dn, const struct cr_image *img, float *probs,
                              struct cr_error *err);

/* Darknet's forward pass on a letterboxed input; logits as for the native
 * engine (the input of a final softmax layer). */
cr_status cr__darknet_forward_raw(struct cr__darknet *dn, const float *input, float *probs,
                                  float *logits, struct cr_error *err);

#endif
