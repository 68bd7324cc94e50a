/*
 * s3_roundtrip - upload a file to S3 and fetch it back.
 *
 *   cc s3_roundtrip.c $(pkg-config --cflags --libs libcloudrec) -o s3_roundtrip
 *   AWS_REGION=us-east-1 ./s3_roundtrip my-bucket /usr/share/darknet/data/dog.jpg
 *
 * The bucket is created if needed (creating one you own is success). The
 * usual AWS_* variables choose the region, credentials and endpoint
 * (AWS_ENDPOINT_URL=http://127.0.0.1:5000 for moto).
 */
#include <cloudrec.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads a whole file into a malloc'd buffer (*len bytes); NULL with errno set. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *data = NULL;
    size_t cap = 0;
    *len = 0;
    if (!f)
        return NULL;
    for (;;) {
        if (*len == cap) {
            unsigned char *more = realloc(data, cap = cap ? 2 * cap : 65536);
            if (!more)
                break;
            data = more;
        }
        size_t n = fread(data + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            if (ferror(f))
                break;
            fclose(f);
            return data;
        }
    }
    int saved = ferror(f) ? EIO : ENOMEM;
    fclose(f);
    free(data);
    errno = saved;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s BUCKET FILE\n", argv[0]);
        return 2;
    }
    const char *bucket = argv[1], *file = argv[2];
    const char *key = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    struct cr_error err = {0};
    struct cr_aws *aws = NULL;
    struct cr_s3_object *info = NULL;
    struct cr_buf back;
    cr_buf_init(&back, 0);
    size_t len;
    unsigned char *data = read_file(file, &len);
    if (!data) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], file, strerror(errno));
        return 1;
    }
    cr_status st = cr_aws_open(NULL, &aws, &err);
    if (st == CR_OK)
        st = cr_s3_create_bucket(aws, bucket, NULL, &err);
    if (st == CR_OK)
        st = cr_s3_put_object(aws, bucket, key, data, len, NULL, &info, &err);
    if (st == CR_OK) {
        printf("uploaded %zu bytes to s3://%s/%s (etag %s)\n", len, bucket, key, info->etag);
        st = cr_s3_get_object(aws, bucket, key, NULL, &back, NULL, &err);
    }
    int same = st == CR_OK && back.len == len && memcmp(back.data, data, len) == 0;
    if (st == CR_OK)
        printf("fetched %zu bytes: %s\n", back.len, same ? "identical" : "DIFFERENT");
    else
        fprintf(stderr, "%s: %s\n", argv[0], err.message[0] ? err.message : cr_strerror(st));
    cr_s3_object_free(info);
    cr_aws_free(aws);
    cr_buf_free(&back);
    free(data);
    return st == CR_OK && same ? 0 : 1;
}
