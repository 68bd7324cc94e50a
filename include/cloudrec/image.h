/*
 * cloudrec/image.h - decoding JPEG and PNG images from memory.
 *
 * Decoding never exits the process: libjpeg and libpng errors come back as a
 * cr_status. Limits on input bytes and on width x height are checked from the
 * image header before any pixel memory is allocated.
 */
#ifndef CLOUDREC_IMAGE_H
#define CLOUDREC_IMAGE_H

#include "cloudrec/core.h"

#ifdef __cplusplus
extern "C" {
#endif

enum cr_image_format { CR_IMAGE_UNKNOWN = 0, CR_IMAGE_JPEG = 1, CR_IMAGE_PNG = 2 };

#define CR_IMAGE_DEFAULT_MAX_BYTES (32u * 1024 * 1024)
#define CR_IMAGE_DEFAULT_MAX_PIXELS (40000000ull) /* 40 megapixels */

/* Limits for cr_image_decode; a zero field means the default above. */
struct cr_image_limits {
    size_t max_bytes;
    uint64_t max_pixels; /* width * height */
};

/*
 * A decoded image: 8-bit RGB, interleaved, rows top to bottom without
 * padding (pixels[(y * width + x) * 3 + c]). Owned by the caller; release the
 * pixels with cr_image_clear.
 */
struct cr_image {
    int width;
    int height;
    int channels; /* always 3 */
    unsigned char *pixels;
};

/* Guesses the format from the first bytes (magic numbers). */
CR_API enum cr_image_format cr_image_sniff(const void *data, size_t len);

/* "jpeg", "png" or "unknown". Static storage. */
CR_API const char *cr_image_format_name(enum cr_image_format format);

/*
 * Decodes a JPEG (baseline, progressive; RGB, grayscale, CMYK/YCCK) or PNG
 * (any bit depth or color type; palette and gray are expanded, alpha is
 * dropped, 16-bit reduced to 8) into RGB. Converts exactly as libjpeg-turbo's
 * default JCS_RGB output does, which matches what Darknet's loader produces.
 * Like Darknet's loader (OpenCV's imread), it returns the image upright: an
 * EXIF Orientation tag (JPEG APP1, PNG eXIf) of 2..8 mirrors and/or rotates
 * the pixels, and 5..8 swap width and height. An EXIF block that cannot be
 * read never fails the decode; the image is then returned as stored.
 * On failure *out is left zeroed and nothing needs freeing. Errors:
 * CR_ERR_INVALID (NULL arguments), CR_ERR_TOO_LARGE (bytes or pixels over the
 * limit), CR_ERR_UNSUPPORTED (not a JPEG or PNG), CR_ERR_FORMAT (corrupt or
 * truncated data), CR_ERR_NOMEM.
 */
CR_API cr_status cr_image_decode(const void *data, size_t len, const struct cr_image_limits *limits,
                                 struct cr_image *out, struct cr_error *err);

/* Reads the width and height from the header only, without decoding: the
 * size as stored, before any EXIF orientation that cr_image_decode applies. */
CR_API cr_status cr_image_probe(const void *data, size_t len, enum cr_image_format *format,
                                int *width, int *height, struct cr_error *err);

/* Frees the pixels and zeroes the struct. Accepts NULL. */
CR_API void cr_image_clear(struct cr_image *img);

#ifdef __cplusplus
}
#endif
#endif
