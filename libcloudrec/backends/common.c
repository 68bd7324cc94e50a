/* common.c - URL and directory helpers shared by the backend implementations. */
#include "backends/backend.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Paths longer than this are refused up front, leaving room under PATH_MAX
 * for a key or a "-wal" suffix. */
#define CR__URL_MAX_PATH 3800

/* Splits off and decodes the path part (rest starts with '/', path_len bytes). */
static cr_status decode_path(const char *url, const char *rest, size_t path_len, char **path,
                             struct cr_error *err)
{
    struct cr_buf b = {0};
    cr_status st = cr__uri_decode(rest, path_len, &b);
    if (st == CR_ERR_NOMEM) {
        cr_buf_clear(&b);
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    }
    if (st != CR_OK || !b.data || strlen((char *)b.data) != b.len) {
        cr_buf_clear(&b);
        return cr__fail(err, CR_ERR_INVALID, "%s: bad percent-escape in the path", url);
    }
    if (b.len > CR__URL_MAX_PATH) {
        cr_buf_clear(&b);
        return cr__fail(err, CR_ERR_INVALID, "%s: path longer than %d bytes", url,
                        CR__URL_MAX_PATH);
    }
    while (b.len > 1 && b.data[b.len - 1] == '/')
        b.data[--b.len] = '\0';
    *path = cr__buf_steal(&b, NULL);
    return *path ? CR_OK : cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
}

cr_status cr__url_local_path(const char *url, const char *scheme, const char *example, char **path,
                             char **query, struct cr_error *err)
{
    *path = NULL;
    if (query)
        *query = NULL;
    size_t slen = strlen(scheme);
    if (strncmp(url, scheme, slen) != 0 || strncmp(url + slen, "://", 3) != 0)
        return cr__fail(err, CR_ERR_INVALID, "%s: expected a URL like %s", url, example);
    const char *rest = url + slen + 3;
    if (rest[0] != '/')
        return cr__fail(err, CR_ERR_INVALID,
                        "%s: needs an absolute path after %s:// (three slashes), e.g. %s", url,
                        scheme, example);
    size_t path_len = strcspn(rest, "?#");
    if (rest[path_len] == '#')
        return cr__fail(err, CR_ERR_INVALID, "%s: '#' is not allowed (percent-encode it)", url);
    if (rest[path_len] == '?' && !query)
        return cr__fail(err, CR_ERR_INVALID, "%s: takes no '?' parameters, e.g. %s", url, example);
    cr_status st = decode_path(url, rest, path_len, path, err);
    if (st != CR_OK || rest[path_len] != '?')
        return st;
    *query = strdup(rest + path_len + 1);
    if (!*query) {
        free(*path);
        *path = NULL;
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
    }
    return CR_OK;
}

/* Copies [s, s + len) into out (size n) when it fits; 0 otherwise. */
static int copy_part(const char *s, size_t len, char *out, size_t n)
{
    if (len >= n)
        return 0;
    memcpy(out, s, len);
    out[len] = '\0';
    return 1;
}

int cr__url_query_next(const char **cursor, char *key, size_t kn, char *val, size_t vn)
{
    const char *p = *cursor;
    while (*p == '&')
        p++;
    if (*p == '\0') {
        *cursor = p;
        return 0;
    }
    size_t len = strcspn(p, "&");
    *cursor = p + len;
    const char *eq = memchr(p, '=', len);
    if (!eq)
        return -1;
    size_t klen = (size_t)(eq - p);
    if (!copy_part(p, klen, key, kn) || !copy_part(eq + 1, len - klen - 1, val, vn))
        return -1;
    return 1;
}

/* mkdir that treats "already exists" as success. */
static int mkdir_one(const char *dir, unsigned mode)
{
    return mkdir(dir, (mode_t)mode) == 0 || errno == EEXIST ? 0 : -1;
}

cr_status cr__mkdir_p(const char *dir, unsigned mode, struct cr_error *err)
{
    char *tmp = strdup(dir);
    if (!tmp)
        return cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", dir);
    cr_status st = CR_OK;
    int first_errno = 0; /* the first failure explains the rest (EACCES, ENOTDIR) */
    for (char *p = tmp + 1; *p && !first_errno; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir_one(tmp, mode) != 0)
            first_errno = errno;
        *p = '/';
    }
    if (!first_errno && mkdir_one(tmp, mode) != 0)
        first_errno = errno;
    struct stat sb;
    if (stat(tmp, &sb) != 0)
        st = cr__fail(err, CR_ERR_IO, "%s: cannot create directory: %s", dir,
                      strerror(first_errno ? first_errno : errno));
    else if (!S_ISDIR(sb.st_mode))
        st = cr__fail(err, CR_ERR_IO, "%s: exists and is not a directory", dir);
    free(tmp);
    return st;
}
