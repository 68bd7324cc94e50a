/*
 * classify_internal.h - classifier calls that only the library's programs
 * and tests use (cloudrec classify --engine, the unit tests); not installed,
 * not exported (docs/api.md).
 */
#ifndef CLOUDREC_VISION_CLASSIFY_INTERNAL_H
#define CLOUDREC_VISION_CLASSIFY_INTERNAL_H

#include "cloudrec/classify.h"
#include "internal.h"

/* The network's input width and height in pixels. */
void cr__classifier_input_size(const struct cr_classifier *cl, int *width, int *height);

#endif
