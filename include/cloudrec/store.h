/*
 * cloudrec/store.h - object stores chosen by URL.
 *
 *   file:///abs/dir          files under a directory (local mode)
 *   s3://bucket[/prefix]     an S3 bucket (AWS mode)
 *
 * Keys are object names such as "test_0.JPEG" or "test_0". A key is safe when
 * it is 1..255 bytes of [A-Za-z0-9._-] not starting with '.'; anything else
 * (slashes, "..", control characters) is refused with CR_ERR_INVALID so no key
 * can escape the store. A cr_store is not thread-safe: one per thread.
 */
#ifndef CLOUDREC_STORE_H
#define CLOUDREC_STORE_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cr_store;

/* Opens a store. file:// creates the directory if missing. */
CR_API cr_status cr_store_open(const char *url, struct cr_store **out, struct cr_error *err);

/* Stores data under key, atomically (readers see the old or the new object). */
CR_API cr_status cr_store_put(struct cr_store *s, const char *key, const void *data, size_t len,
                              struct cr_error *err);

/* Appends the object to out (bounded by max_bytes, 0 = out's limit).
 * CR_ERR_NOT_FOUND when there is no such key. */
CR_API cr_status cr_store_get(struct cr_store *s, const char *key, size_t max_bytes,
                              struct cr_buf *out, struct cr_error *err);

/* Deletes key; deleting a missing key is not an error. */
CR_API cr_status cr_store_delete(struct cr_store *s, const char *key, struct cr_error *err);

/* Closes the store. Accepts NULL. */
CR_API void cr_store_free(struct cr_store *s);

#ifdef __cplusplus
}
#endif
#endif
