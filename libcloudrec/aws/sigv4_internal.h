/*
 * sigv4_internal.h - the signer's building blocks below cr_sigv4_sign
 * (cloudrec/sigv4.h): the signing key, signing a string, and the chunk
 * signatures of S3 streaming uploads. The unit tests check them against
 * the published vectors; not installed, not exported (docs/api.md).
 */
#ifndef CLOUDREC_AWS_SIGV4_INTERNAL_H
#define CLOUDREC_AWS_SIGV4_INTERNAL_H

#include "cloudrec/sigv4.h"
#include "internal.h"

/*
 * Derives the signing key HMAC(HMAC(HMAC(HMAC("AWS4" + secret, yyyymmdd),
 * region), service), "aws4_request") for the UTC date of p->time_s. Only the
 * secret, region, service and time of p are used.
 */
cr_status cr_sigv4_signing_key(const struct cr_sigv4_params *p,
                               unsigned char key[CR_SHA256_LEN], struct cr_error *err);

/*
 * Signs an arbitrary string to sign with the key of p (hex HMAC-SHA256), as
 * S3 browser POST uploads do with the base64 policy document.
 */
cr_status cr_sigv4_sign_string(const struct cr_sigv4_params *p, const char *string_to_sign,
                               size_t len, char signature[CR_SIGV4_SIGNATURE_LEN],
                               struct cr_error *err);

/*
 * Signs one chunk of an S3 aws-chunked upload (payload hash
 * CR_SIGV4_STREAMING_PAYLOAD): prev_signature is the seed signature for the
 * first chunk, then each chunk's own; the final chunk is empty. When
 * string_to_sign is non-NULL the text signed is appended to it.
 */
cr_status cr_sigv4_sign_chunk(const struct cr_sigv4_params *p, const char *prev_signature,
                              const void *data, size_t len,
                              char signature[CR_SIGV4_SIGNATURE_LEN],
                              struct cr_buf *string_to_sign, struct cr_error *err);

#endif
