/* buf.c - bounded growable byte buffers and whole-file I/O. */
#include "internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Without an explicit limit a buffer may still not grow past half the address
 * space, so size arithmetic below cannot overflow. */
#define CR__BUF_HARD_MAX (SIZE_MAX / 2)

void cr_buf_init(struct cr_buf *buf, size_t max_bytes)
{
    memset(buf, 0, sizeof(*buf));
    buf->max_bytes = max_bytes;
}

static size_t buf_limit(const struct cr_buf *buf)
{
    return buf->max_bytes ? buf->max_bytes : CR__BUF_HARD_MAX;
}

cr_status cr__buf_reserve(struct cr_buf *buf, size_t extra)
{
    if (extra > buf_limit(buf) || buf->len > buf_limit(buf) - extra)
        return CR_ERR_TOO_LARGE;
    size_t need = buf->len + extra + 1; /* +1 keeps room for the NUL */
    if (need <= buf->cap)
        return CR_OK;
    size_t cap = buf->cap ? buf->cap : 64;
    while (cap < need)
        cap = cap > CR__BUF_HARD_MAX / 2 ? need : cap * 2;
    unsigned char *p = realloc(buf->data, cap);
    if (!p)
        return CR_ERR_NOMEM;
    buf->data = p;
    buf->cap = cap;
    return CR_OK;
}

cr_status cr__buf_append(struct cr_buf *buf, const void *data, size_t n)
{
    cr_status st = cr__buf_reserve(buf, n);
    if (st != CR_OK)
        return st;
    if (n)
        memcpy(buf->data + buf->len, data, n);
    buf->len += n;
    buf->data[buf->len] = '\0';
    return CR_OK;
}

cr_status cr__buf_append_str(struct cr_buf *buf, const char *s)
{
    return cr__buf_append(buf, s, strlen(s));
}

cr_status cr__buf_vappendf(struct cr_buf *buf, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return CR_ERR_INVALID;
    cr_status st = cr__buf_reserve(buf, (size_t)n);
    if (st != CR_OK)
        return st;
    vsnprintf((char *)buf->data + buf->len, (size_t)n + 1, fmt, ap);
    buf->len += (size_t)n;
    return CR_OK;
}

cr_status cr__buf_appendf(struct cr_buf *buf, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    cr_status st = cr__buf_vappendf(buf, fmt, ap);
    va_end(ap);
    return st;
}

void cr__buf_reset(struct cr_buf *buf)
{
    buf->len = 0;
    if (buf->data)
        buf->data[0] = '\0';
}

void cr_buf_clear(struct cr_buf *buf)
{
    if (!buf)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

char *cr__buf_steal(struct cr_buf *buf, size_t *len)
{
    char *p = (char *)buf->data;
    if (!p)
        p = calloc(1, 1);
    if (len)
        *len = buf->len;
    buf->data = NULL;
    buf->len = buf->cap = 0;
    return p;
}

cr_status cr__file_read(const char *path, size_t max_bytes, struct cr_buf *buf,
                       struct cr_error *err)
{
    cr_status st = CR_OK;
    size_t start = buf->len;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", path,
                        strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        st = cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(errno));
        goto out;
    }
    if (S_ISDIR(sb.st_mode)) {
        st = cr__fail(err, CR_ERR_IO, "%s: is a directory", path);
        goto out;
    }
    size_t limit = max_bytes ? max_bytes : buf_limit(buf);
    if (S_ISREG(sb.st_mode) && (uint64_t)sb.st_size > limit) {
        st = cr__fail(err, CR_ERR_TOO_LARGE, "%s: file is %lld bytes, limit %zu", path,
                      (long long)sb.st_size, limit);
        goto out;
    }
    for (;;) {
        if ((st = cr__buf_reserve(buf, 65536)) != CR_OK &&
            (st = cr__buf_reserve(buf, 1)) != CR_OK) {
            cr__fail(err, st, "%s: %s", path, cr_strerror(st));
            goto out;
        }
        size_t n = 0;
        st = cr__read_chunk(fd, buf->data + buf->len, buf->cap - buf->len - 1, path, &n, err);
        if (st != CR_OK)
            goto out;
        if (n == 0)
            break;
        buf->len += n;
        if (buf->len - start > limit) {
            st = cr__fail(err, CR_ERR_TOO_LARGE, "%s: larger than the limit of %zu bytes",
                          path, limit);
            goto out;
        }
    }
    buf->data[buf->len] = '\0';
out:
    if (st != CR_OK && buf->data) {
        buf->len = start;
        buf->data[start] = '\0';
    }
    close(fd);
    return st;
}

static cr_status write_all(int fd, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return CR_ERR_IO;
        p += n;
        len -= (size_t)n;
    }
    return CR_OK;
}

/* The directory part of path ("." when there is none), for fsync after the
 * rename so the new name itself is durable. */
static void dir_of(const char *path, char *out, size_t n)
{
    const char *slash = strrchr(path, '/');
    if (!slash) {
        cr__strlcpy(out, ".", n);
    } else if (slash == path) {
        cr__strlcpy(out, "/", n);
    } else {
        size_t len = (size_t)(slash - path) < n - 1 ? (size_t)(slash - path) : n - 1;
        memcpy(out, path, len);
        out[len] = '\0';
    }
}

cr_status cr__file_write_atomic_tmp(const char *path, const char *tmp, const void *data,
                                   size_t len, struct cr_error *err)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", path,
                        strerror(errno));
    if (write_all(fd, data, len) != CR_OK || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(e));
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(e));
    }
    char dir[4096];
    dir_of(path, dir, sizeof(dir));
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return CR_OK;
}

cr_status cr__file_write_atomic(const char *path, const void *data, size_t len,
                               struct cr_error *err)
{
    char tmp[4096];
    char uuid[CR_UUID_STR_LEN];
    if (cr__uuid_v4(uuid) != CR_OK)
        return cr__fail(err, CR_ERR_IO, "%s: no randomness for a temporary name", path);
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp-%s", path, uuid) >= sizeof(tmp))
        return cr__fail(err, CR_ERR_INVALID, "%s: path too long", path);
    return cr__file_write_atomic_tmp(path, tmp, data, len, err);
}

void cr__text_put(struct cr__text *t, const char *fmt, ...)
{
    if (t->st != CR_OK)
        return;
    va_list ap;
    va_start(ap, fmt);
    t->st = cr__buf_vappendf(t->out, fmt, ap);
    va_end(ap);
}

cr_status cr__read_chunk(int fd, void *p, size_t room, const char *path, size_t *got,
                         struct cr_error *err)
{
    ssize_t n;
    do
        n = read(fd, p, room);
    while (n < 0 && errno == EINTR);
    *got = n > 0 ? (size_t)n : 0;
    if (n < 0)
        return cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(errno));
    return CR_OK;
}

void *cr__array_grow(void *items, size_t *cap, size_t n, size_t elem_size, size_t first_cap)
{
    if (n < *cap)
        return items;
    size_t want = *cap ? *cap * 2 : first_cap;
    if (want < *cap || elem_size == 0 || want > SIZE_MAX / elem_size)
        return NULL;
    void *p = realloc(items, want * elem_size);
    if (p)
        *cap = want;
    return p;
}
