/*
 * orient.c - reading the EXIF Orientation tag and turning pixels upright.
 *
 * The reader follows OpenCV 4.6's ExifReader (modules/imgcodecs/src/exif.cpp)
 * rather than the TIFF specification wherever the two disagree, because the
 * goal is the image Darknet sees: a file that OpenCV rotates is rotated here,
 * and a file whose EXIF OpenCV gives up on is left as stored. Every read is
 * bounds-checked; nothing here can fail on bad data.
 */
#include "internal.h"

#include "vision/orient.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The IFD0 tags OpenCV's reader decodes, by how it reads their value. */
enum {
    TAG_IMAGE_DESCRIPTION = 0x010e,
    TAG_MAKE = 0x010f,
    TAG_MODEL = 0x0110,
    TAG_ORIENTATION = 0x0112,
    TAG_X_RESOLUTION = 0x011a,
    TAG_Y_RESOLUTION = 0x011b,
    TAG_RESOLUTION_UNIT = 0x0128,
    TAG_SOFTWARE = 0x0131,
    TAG_DATE_TIME = 0x0132,
    TAG_WHITE_POINT = 0x013e,
    TAG_PRIMARY_CHROMATICITIES = 0x013f,
    TAG_YCBCR_COEFFICIENTS = 0x0211,
    TAG_YCBCR_POSITIONING = 0x0213,
    TAG_REFERENCE_BLACK_WHITE = 0x0214,
    TAG_COPYRIGHT = 0x8298,
};

#define TIFF_MAGIC 42
#define TIFF_ENTRY_BYTES 12
#define TIFF_INLINE_BYTES 4 /* values up to this size sit in the entry itself */

/* A TIFF block and the byte order its integers are read in. */
struct tiff {
    const unsigned char *p;
    size_t len;
    int little_endian;
};

/* Reads the n-byte (2 or 4) unsigned integer at off into *v. Returns 0,
 * leaving *v alone, when those bytes are not all inside the block. */
static int tiff_get(const struct tiff *t, uint64_t off, int n, uint32_t *v)
{
    if (off > t->len || t->len - off < (size_t)n)
        return 0;
    uint32_t r = 0;
    for (int i = 0; i < n; i++)
        r = r << 8 | t->p[off + (size_t)(t->little_endian ? n - 1 - i : i)];
    *v = r;
    return 1;
}

/* How many unsigned rationals (8 bytes each) OpenCV reads for a tag; 0 for
 * tags whose value is not read as rationals. */
static unsigned rational_count(uint32_t tag)
{
    switch (tag) {
    case TAG_X_RESOLUTION:
    case TAG_Y_RESOLUTION:
        return 1;
    case TAG_WHITE_POINT:
        return 2;
    case TAG_YCBCR_COEFFICIENTS:
        return 3;
    case TAG_PRIMARY_CHROMATICITIES:
    case TAG_REFERENCE_BLACK_WHITE:
        return 6;
    default:
        return 0;
    }
}

/* True for the tags OpenCV copies out as strings. */
static int is_string_tag(uint32_t tag)
{
    return tag == TAG_IMAGE_DESCRIPTION || tag == TAG_MAKE || tag == TAG_MODEL ||
           tag == TAG_SOFTWARE || tag == TAG_DATE_TIME || tag == TAG_COPYRIGHT;
}

/*
 * True when OpenCV can read the value of the entry at e (tag already read).
 * Its reader abandons the rest of IFD0 at the first value it cannot reach,
 * so a broken Make string before the Orientation entry hides the tag. The
 * checks restate OpenCV's, including its string rule: a string of up to 4
 * bytes is taken to start at offset 8 of the block, not in the entry.
 */
static int entry_readable(const struct tiff *t, uint64_t e, uint32_t tag)
{
    uint32_t v, off = 8;
    unsigned n = rational_count(tag);
    if (n > 0)
        return tiff_get(t, e + 8, 4, &off) && (uint64_t)off + 8u * n <= t->len;
    if (is_string_tag(tag)) {
        if (!tiff_get(t, e + 4, 4, &v))
            return 0;
        if (v > TIFF_INLINE_BYTES && !tiff_get(t, e + 8, 4, &off))
            return 0;
        return (uint64_t)off + v <= t->len;
    }
    if (tag == TAG_ORIENTATION || tag == TAG_RESOLUTION_UNIT || tag == TAG_YCBCR_POSITIONING)
        return tiff_get(t, e + 8, 2, &v);
    return 1; /* other tags, the Exif sub-IFD pointer included, are not read */
}

int cr__exif_orientation(const unsigned char *tiff, size_t len)
{
    /* OpenCV reads "II" as little-endian and anything else as big-endian. */
    struct tiff t = {tiff, len, len >= 2 && tiff[0] == 'I' && tiff[1] == 'I'};
    uint32_t magic, ifd, count, tag, value;
    if (!tiff_get(&t, 2, 2, &magic) || magic != TIFF_MAGIC || !tiff_get(&t, 4, 4, &ifd) ||
        !tiff_get(&t, ifd, 2, &count))
        return 1;
    /* IFD0 only: its next-IFD link and sub-IFD pointers are never followed,
     * so a directory that points back at itself cannot loop. */
    for (uint32_t i = 0; i < count; i++) {
        uint64_t e = (uint64_t)ifd + 2 + (uint64_t)TIFF_ENTRY_BYTES * i;
        if (!tiff_get(&t, e, 2, &tag) || !entry_readable(&t, e, tag))
            return 1;
        /* The value is read as a 16-bit integer whatever the entry's type
         * and count claim; the first Orientation entry wins. */
        if (tag == TAG_ORIENTATION && tiff_get(&t, e + 8, 2, &value))
            return value >= 1 && value <= 8 ? (int)value : 1;
    }
    return 1;
}

/* ---- moving the pixels ---------------------------------------------------*/

/* Where each orientation finds the source of the output pixel (x, y): with
 * transpose the source column comes from y and the row from x; then a flip
 * counts that column from the right or that row from the bottom. */
struct orient_map {
    unsigned char transpose, flip_x, flip_y;
};

static const struct orient_map orient_maps[9] = {
    [1] = {0, 0, 0}, [2] = {0, 1, 0}, [3] = {0, 1, 1}, [4] = {0, 0, 1},
    [5] = {1, 0, 0}, [6] = {1, 0, 1}, [7] = {1, 1, 1}, [8] = {1, 1, 0},
};

/* One pixel move: src (w x h RGB) into dst (dw x dh RGB) through map. */
struct remap {
    const unsigned char *src;
    unsigned char *dst;
    size_t w, h, dw, dh;
    const struct orient_map *map;
};

/* Side of the square tiles the move works in: a transposing move reads the
 * source column-wise, and within a tile those rows stay in cache (a 24
 * megapixel rotation takes about a third of the time it does untiled). */
#define ORIENT_TILE 64

/* Fills dst columns x0..x1-1 of rows y0..y1-1. */
static void remap_tile(const struct remap *r, size_t x0, size_t y0, size_t x1, size_t y1)
{
    const struct orient_map *m = r->map;
    for (size_t y = y0; y < y1; y++) {
        for (size_t x = x0; x < x1; x++) {
            size_t u = m->transpose ? y : x, v = m->transpose ? x : y;
            size_t sx = m->flip_x ? r->w - 1 - u : u, sy = m->flip_y ? r->h - 1 - v : v;
            memcpy(r->dst + (y * r->dw + x) * 3, r->src + (sy * r->w + sx) * 3, 3);
        }
    }
}

/* Fills all of dst, tile by tile. */
static void remap(const struct remap *r)
{
    for (size_t y = 0; y < r->dh; y += ORIENT_TILE) {
        size_t y1 = r->dh - y < ORIENT_TILE ? r->dh : y + ORIENT_TILE;
        for (size_t x = 0; x < r->dw; x += ORIENT_TILE)
            remap_tile(r, x, y, r->dw - x < ORIENT_TILE ? r->dw : x + ORIENT_TILE, y1);
    }
}

cr_status cr__orient_apply(struct cr_image *img, int orientation, struct cr_error *err)
{
    if (orientation < 2 || orientation > 8 || !img->pixels)
        return CR_OK;
    const struct orient_map *m = &orient_maps[orientation];
    size_t w = (size_t)img->width, h = (size_t)img->height;
    /* The decoder allocated w * h * 3 bytes already, so this cannot overflow. */
    unsigned char *dst = malloc(w * h * 3);
    if (!dst)
        return cr__fail(err, CR_ERR_NOMEM, "out of memory turning a %zux%zu image upright", w, h);
    struct remap r = {img->pixels, dst, w, h, m->transpose ? h : w, m->transpose ? w : h, m};
    remap(&r);
    free(img->pixels);
    img->pixels = dst;
    img->width = (int)r.dw;
    img->height = (int)r.dh;
    return CR_OK;
}
