/* crypto.c - SHA-256 and HMAC-SHA256; the library's only OpenSSL user. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <string.h>
#include <unistd.h>

void cr__sha256(const void *data, size_t len, unsigned char out[CR_SHA256_LEN])
{
    SHA256(data, len, out);
}

void cr__hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                    unsigned char out[CR_SHA256_LEN])
{
    unsigned int out_len = CR_SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &out_len);
}

cr_status cr__sha256_file_hex(const char *path, char out[2 * CR_SHA256_LEN + 1],
                             struct cr_error *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", path,
                        strerror(errno));
    cr_status st = CR_OK;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        st = cr__fail(err, CR_ERR_NOMEM, "%s: cannot start a SHA-256 digest", path);
        goto out;
    }
    unsigned char chunk[65536];
    for (;;) {
        size_t n = 0;
        if ((st = cr__read_chunk(fd, chunk, sizeof(chunk), path, &n, err)) != CR_OK)
            goto out;
        if (n == 0)
            break;
        EVP_DigestUpdate(ctx, chunk, n);
    }
    unsigned char md[CR_SHA256_LEN];
    unsigned int md_len = 0;
    EVP_DigestFinal_ex(ctx, md, &md_len);
    cr__hex_encode(md, CR_SHA256_LEN, out);
out:
    EVP_MD_CTX_free(ctx);
    close(fd);
    return st;
}
