/*
 * orient.h - EXIF orientation for the image decoder (internal, not installed).
 *
 * Darknet loads images with OpenCV 4.6's imread(IMREAD_COLOR), which turns
 * JPEG and PNG images upright according to their EXIF Orientation tag. These
 * two functions let image.c do the same: one reads the tag exactly as
 * OpenCV's ExifReader does, the other moves the pixels. Neither touches
 * libjpeg or libpng; image.c finds the EXIF bytes.
 */
#ifndef CLOUDREC_VISION_ORIENT_H
#define CLOUDREC_VISION_ORIENT_H

#include "cloudrec/image.h"

#include <stddef.h>

/*
 * Returns the EXIF Orientation (1..8) held in tiff, len bytes starting at a
 * TIFF header ("II" or "MM", 42, offset of IFD0); tiff may be NULL when len
 * is 0. Returns 1 (as stored) when there is no readable tag or its value is
 * outside 1..8. Every offset is bounds-checked and only IFD0 is read, so any
 * input is safe and the cost is bounded by IFD0's 65535 entries. Where the
 * data is malformed the answer is OpenCV 4.6's, quirks included (see
 * docs/image.md): its reader stops at the first IFD0 entry it cannot read,
 * keeps the first Orientation entry, ignores the entry's type and count, and
 * reads anything but "II" as big-endian.
 */
int cr__exif_orientation(const unsigned char *tiff, size_t len);

/*
 * Turns img upright for an EXIF orientation: 2 mirrors left-right, 3 rotates
 * 180 degrees, 4 mirrors top-bottom, 5 transposes, 6 rotates 90 degrees
 * clockwise, 7 transverses, 8 rotates 90 degrees counter-clockwise; 5..8 swap
 * width and height. Any other value leaves img alone. The pixels are
 * replaced by a new buffer (the old one is freed). On CR_ERR_NOMEM img is
 * unchanged and still owned by the caller.
 */
cr_status cr__orient_apply(struct cr_image *img, int orientation, struct cr_error *err);

#endif
