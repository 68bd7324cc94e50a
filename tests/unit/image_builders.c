/* image_builders.c - test images made in memory (image_builders.h). */
#include "image_builders.h"

#include "cloudrec.h"
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void blob_clear(struct blob *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
}

struct blob blob_cut(const struct blob *b, size_t len)
{
    struct blob out = {malloc(len ? len : 1), len};
    memcpy(out.data, b->data, len);
    return out;
}

struct blob encode_jpeg(const unsigned char *src, int w, int h, const struct jpeg_opts *o)
{
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr jerr;
    unsigned char *mem = NULL;
    unsigned long size = 0;
    c.err = jpeg_std_error(&jerr);
    jpeg_create_compress(&c);
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = o->components;
    c.in_color_space = o->in_space;
    jpeg_set_defaults(&c);
    if (o->file_space != JCS_UNKNOWN)
        jpeg_set_colorspace(&c, o->file_space);
    if (o->no_adobe)
        c.write_Adobe_marker = FALSE;
    jpeg_set_quality(&c, o->quality ? o->quality : 95, TRUE);
    if (o->progressive)
        jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    while (c.next_scanline < c.image_height) {
        JSAMPROW row = (JSAMPROW)(src + (size_t)c.next_scanline * w * o->components);
        jpeg_write_scanlines(&c, &row, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    return (struct blob){mem, size};
}

/* libpng write hook appending to a cr_buf. */
static void png_append(png_structp png, png_bytep data, size_t n)
{
    cr__buf_append(png_get_io_ptr(png), data, n);
}

static void png_flush_nothing(png_structp png)
{
    (void)png;
}

struct blob encode_png(const unsigned char *samples, int w, int h, const struct png_opts *o)
{
    struct cr_buf buf;
    cr_buf_init(&buf, 0);
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    png_set_write_fn(png, &buf, png_append, png_flush_nothing);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, o->bit_depth, o->color_type,
                 o->interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (o->palette)
        png_set_PLTE(png, info, o->palette, o->palette_len);
    if (o->trans || o->trans_color)
        png_set_tRNS(png, info, o->trans, o->trans_len, o->trans_color);
    if (o->exif)
        png_set_eXIf_1(png, info, (png_uint_32)o->exif->len, o->exif->data);
    png_write_info(png, info);
    if (o->bit_depth < 8)
        png_set_packing(png);
    int channels = png_get_channels(png, info);
    size_t stride = (size_t)w * channels * (o->bit_depth == 16 ? 2 : 1);
    png_bytep *rows = malloc(sizeof(*rows) * h);
    for (int y = 0; y < h; y++)
        rows[y] = (png_bytep)samples + stride * y;
    png_write_image(png, rows);
    png_infop end = png_create_info_struct(png);
    if (o->exif_end)
        png_set_eXIf_1(png, end, (png_uint_32)o->exif_end->len, o->exif_end->data);
    png_write_end(png, end);
    png_destroy_info_struct(png, &end);
    png_destroy_write_struct(&png, &info);
    free(rows);
    size_t len = 0;
    unsigned char *data = (unsigned char *)cr__buf_steal(&buf, &len);
    return (struct blob){data, len};
}

void put16(unsigned char *p, int big, uint32_t v)
{
    p[big ? 0 : 1] = (unsigned char)(v >> 8);
    p[big ? 1 : 0] = (unsigned char)v;
}

void put32(unsigned char *p, int big, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[big ? 3 - i : i] = (unsigned char)(v >> (8 * i));
}

size_t build_tiff(unsigned char *t, int big, const struct tiff_entry *e, int n, uint32_t next)
{
    t[0] = t[1] = big ? 'M' : 'I';
    put16(t + 2, big, 42);
    put32(t + 4, big, 8);
    put16(t + 8, big, (uint32_t)n);
    for (int i = 0; i < n; i++) {
        unsigned char *p = t + 10 + 12 * i;
        put16(p, big, e[i].tag);
        put16(p + 2, big, e[i].type);
        put32(p + 4, big, e[i].count);
        memset(p + 8, 0, 4);
        if (e[i].type == TIFF_SHORT)
            put16(p + 8, big, e[i].value);
        else
            put32(p + 8, big, e[i].value);
    }
    put32(t + 10 + 12 * n, big, next);
    return 14 + 12 * (size_t)n;
}

struct blob add_app1(const struct blob *jpg, const struct blob *first, const char *ident,
                     const unsigned char *body, size_t n)
{
    size_t pre = first ? 4 + first->len : 0;
    struct blob out = {malloc(jpg->len + pre + 10 + n), jpg->len + pre + 10 + n};
    unsigned char *p = out.data;
    memcpy(p, jpg->data, 2);
    p += 2;
    if (first) {
        memcpy(p, "\xff\xe1", 2);
        put16(p + 2, 1, (uint32_t)first->len + 2);
        memcpy(p + 4, first->data, first->len);
        p += pre;
    }
    memcpy(p, "\xff\xe1", 2);
    put16(p + 2, 1, (uint32_t)(n + 8));
    memcpy(p + 4, ident, 6);
    memcpy(p + 10, body, n);
    memcpy(p + 10 + n, jpg->data + 2, jpg->len - 2);
    return out;
}
