/*
 * load_internal.h - helpers shared by net/load.c (the libcurl engine) and
 * net/load_check.c (judging, labels, percentiles); not installed.
 */
#ifndef CLOUDREC_NET_LOAD_INTERNAL_H
#define CLOUDREC_NET_LOAD_INTERNAL_H

#include "net/load.h"

#include <stddef.h>

/* Length of a file name's stem: the name without its last extension
 * ("test_0.JPEG" -> 6); a leading dot does not start an extension. */
size_t cr__load_stem_len(const char *name);

#endif
