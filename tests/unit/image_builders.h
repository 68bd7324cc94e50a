/*
 * image_builders.h - test images made in memory for the image and classifier
 * unit tests: JPEG and PNG encoders over libjpeg and libpng, and the TIFF
 * and APP1 pieces of hand-built EXIF blocks. Test code only: the builders
 * return malloc'd bytes the caller frees and do not check for failures.
 */
#ifndef CLOUDREC_TESTS_IMAGE_BUILDERS_H
#define CLOUDREC_TESTS_IMAGE_BUILDERS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jpeglib.h>
#include <png.h>

/* Encoded bytes (malloc'd; release with blob_clear). */
struct blob {
    unsigned char *data;
    size_t len;
};

/* Frees b's bytes and empties it. */
void blob_clear(struct blob *b);

/* A copy of the first len bytes of b. */
struct blob blob_cut(const struct blob *b, size_t len);

struct jpeg_opts {
    J_COLOR_SPACE in_space; /* JCS_RGB, JCS_GRAYSCALE or JCS_CMYK */
    int components;
    int progressive;
    J_COLOR_SPACE file_space; /* JCS_UNKNOWN = libjpeg's default for in_space */
    int no_adobe;             /* suppress the Adobe APP14 marker */
    int quality;              /* 1..100; 0 = 95 */
};

/* Encodes w x h samples (o->components per pixel) as a JPEG. */
struct blob encode_jpeg(const unsigned char *src, int w, int h, const struct jpeg_opts *o);

struct png_opts {
    int color_type;
    int bit_depth;
    int interlace;
    const png_color *palette;
    int palette_len;
    const png_byte *trans; /* palette alpha, for PNG_COLOR_TYPE_PALETTE */
    int trans_len;
    const png_color_16 *trans_color; /* single transparent color, for RGB/gray */
    const struct blob *exif;         /* eXIf chunk before the image data */
    const struct blob *exif_end;     /* eXIf chunk after it */
};

/* Encodes rows of samples as libpng takes them: 16-bit samples big-endian,
 * depths below 8 one sample per byte (packed by libpng). */
struct blob encode_png(const unsigned char *samples, int w, int h, const struct png_opts *o);

/* ---- EXIF pieces ----------------------------------------------------------*/

/* TIFF field types. */
enum { TIFF_ASCII = 2, TIFF_SHORT = 3, TIFF_LONG = 4, TIFF_RATIONAL = 5 };

#define TAG_ORIENTATION 0x0112
#define TAG_EXIF_IFD 0x8769

/* One IFD0 entry. A SHORT value sits in the first two bytes of the value
 * field, anything else fills all four (an offset when it does not fit). */
struct tiff_entry {
    uint16_t tag, type;
    uint32_t count, value;
};

/* v as 16 or 32 bits at p, big-endian when big, else little-endian. */
void put16(unsigned char *p, int big, uint32_t v);
void put32(unsigned char *p, int big, uint32_t v);

/* Writes a TIFF block into t: "MM" (big) or "II", 42, IFD0 at offset 8 with
 * the n entries and a next-IFD link of next. Returns its length, 14 + 12n. */
size_t build_tiff(unsigned char *t, int big, const struct tiff_entry *e, int n, uint32_t next);

/* A copy of jpg with APP1 segments inserted right after SOI, where cameras
 * put them: first `first` (if not NULL), then ident (6 bytes) + body. */
struct blob add_app1(const struct blob *jpg, const struct blob *first, const char *ident,
                     const unsigned char *body, size_t n);

#endif
