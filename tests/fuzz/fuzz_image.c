/*
 * fuzz_image.c - image decoding from memory (include/cloudrec/image.h):
 * cr_image_sniff, cr_image_probe and cr_image_decode on any bytes, with the
 * library's default limits, as the web tier (probe) and the worker (decode)
 * use them on uploads.
 *
 * Beyond "never crash, never leak": a decode that succeeds agrees with the
 * probe (same size, or width and height swapped by an EXIF orientation) and
 * every pixel it returns is readable.
 */
#include "fuzz.h"

#include "cloudrec/image.h"

#include <string.h>

/* Reads every pixel, so a buffer shorter than width * height * 3 is an
 * AddressSanitizer report; returns a checksum that keeps the reads alive. */
static unsigned touch_pixels(const struct cr_image *img)
{
    size_t n = (size_t)img->width * (size_t)img->height * 3;
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += img->pixels[i];
    return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum cr_image_format sniffed = cr_image_sniff(data, size);
    enum cr_image_format format = CR_IMAGE_UNKNOWN;
    int w = 0, h = 0;
    struct cr_error err = {0};
    cr_status probed = cr_image_probe(data, size, &format, &w, &h, &err);
    if (probed == CR_OK) {
        FUZZ_REQUIRE(w > 0 && h > 0, "a probed image has a size");
        FUZZ_REQUIRE(format == sniffed, "probe and sniff agree on the format");
    }

    struct cr_image img;
    memset(&img, 0xa5, sizeof(img)); /* decode must zero it on failure */
    cr_status st = cr_image_decode(data, size, NULL, &img, &err);
    if (st != CR_OK) {
        FUZZ_REQUIRE(img.pixels == NULL && img.width == 0 && img.height == 0,
                     "a failed decode leaves the image zeroed");
        FUZZ_REQUIRE(err.status == st, "the error detail carries the status");
        return 0;
    }
    FUZZ_REQUIRE(probed == CR_OK, "what decodes also probes");
    FUZZ_REQUIRE(img.channels == 3 && img.pixels != NULL, "decoded images are RGB");
    FUZZ_REQUIRE((img.width == w && img.height == h) || (img.width == h && img.height == w),
                 "decode and probe agree on the size, up to an EXIF rotation");
    FUZZ_REQUIRE((uint64_t)img.width * (uint64_t)img.height <= CR_IMAGE_DEFAULT_MAX_PIXELS,
                 "the pixel limit holds");
    volatile unsigned sum = touch_pixels(&img);
    (void)sum;
    cr_image_clear(&img);
    FUZZ_REQUIRE(img.pixels == NULL, "cr_image_clear zeroes the image");
    return 0;
}
