/*
 * store_file.c - the file:///abs/dir store: one file per key in a directory.
 *
 * Keys reach this file already checked by store.c, and path_of() checks them
 * again: a safe key has no '/' and does not start with '.', so "<dir>/<key>"
 * always names an entry directly inside the directory. Writes go to a
 * temporary ".tmp-<uuid>" file in the same directory and are renamed over the
 * key, so readers see the old or the new object, never a mix; since no key
 * starts with '.', temporary files never collide with or show up as objects.
 */
#include "backends/backend.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define CR__FILE_STORE_EXAMPLE "file:///abs/dir"

struct file_store {
    char *dir; /* absolute, no trailing slash (except "/") */
};

/* Writes "<dir>/<key>" into out (PATH_MAX bytes). CR_ERR_INVALID for an
 * unsafe key, which store.c should already have refused. */
static cr_status path_of(const struct file_store *fs, const char *key, char *out,
                         struct cr_error *err)
{
    if (!cr__store_key_is_safe(key))
        return cr__fail(err, CR_ERR_INVALID, "unsafe object key");
    const char *sep = strcmp(fs->dir, "/") == 0 ? "" : "/";
    if ((size_t)snprintf(out, PATH_MAX, "%s%s%s", fs->dir, sep, key) >= PATH_MAX)
        return cr__fail(err, CR_ERR_INVALID, "%s: path too long", key);
    return CR_OK;
}

/* Parses the URL and creates the directory (mode 0755) if it is missing. */
static cr_status file_open(const char *url, void **impl, struct cr_error *err)
{
    char *dir = NULL;
    cr_status st = cr__url_local_path(url, "file", CR__FILE_STORE_EXAMPLE, &dir, NULL, err);
    if (st != CR_OK)
        return st;
    struct file_store *fs = NULL;
    if ((st = cr__mkdir_p(dir, 0755, err)) != CR_OK)
        goto out;
    if (!(fs = calloc(1, sizeof(*fs)))) {
        st = cr__fail(err, CR_ERR_NOMEM, "%s: out of memory", url);
        goto out;
    }
    fs->dir = dir;
    dir = NULL;
    *impl = fs;
out:
    free(dir);
    return st;
}

/* Atomic write through a dot-named temporary file beside the object. */
static cr_status file_put(void *impl, const char *key, const void *data, size_t len,
                          struct cr_error *err)
{
    struct file_store *fs = impl;
    char path[PATH_MAX], tmp[PATH_MAX], uuid[CR_UUID_STR_LEN];
    cr_status st = path_of(fs, key, path, err);
    if (st != CR_OK)
        return st;
    if (cr__uuid_v4(uuid) != CR_OK)
        return cr__fail(err, CR_ERR_IO, "%s: no randomness for a temporary name", key);
    const char *sep = strcmp(fs->dir, "/") == 0 ? "" : "/";
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s%s.tmp-%s", fs->dir, sep, uuid) >= sizeof(tmp))
        return cr__fail(err, CR_ERR_INVALID, "%s: path too long", key);
    return cr__file_write_atomic_tmp(path, tmp, data, len, err);
}

/* Appends the file's bytes to out; a missing file is CR_ERR_NOT_FOUND. */
static cr_status file_get(void *impl, const char *key, size_t max_bytes, struct cr_buf *out,
                          struct cr_error *err)
{
    struct file_store *fs = impl;
    char path[PATH_MAX];
    cr_status st = path_of(fs, key, path, err);
    if (st != CR_OK)
        return st;
    st = cr__file_read(path, max_bytes, out, err);
    if (st == CR_ERR_NOT_FOUND)
        return cr__fail(err, st, "%s: no such object in file://%s", key, fs->dir);
    return st;
}

/* Removes the file; one that is already gone is success. */
static cr_status file_del(void *impl, const char *key, struct cr_error *err)
{
    struct file_store *fs = impl;
    char path[PATH_MAX];
    cr_status st = path_of(fs, key, path, err);
    if (st != CR_OK)
        return st;
    if (unlink(path) != 0 && errno != ENOENT)
        return cr__fail(err, CR_ERR_IO, "%s: %s", path, strerror(errno));
    return CR_OK;
}

/* Calls fn for each object (a regular file with a safe key name, so never
 * a temporary file) whose last write is before before_wall_ms. */
static cr_status file_list_older(void *impl, int64_t before_wall_ms,
                                 void (*fn)(const char *key, int64_t mtime_ms, void *ctx), void *ctx,
                                 struct cr_error *err)
{
    struct file_store *fs = impl;
    DIR *d = opendir(fs->dir);
    if (!d)
        return cr__fail(err, errno == ENOENT ? CR_ERR_NOT_FOUND : CR_ERR_IO, "%s: %s", fs->dir,
                        strerror(errno));
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat sb;
        if (!cr__store_key_is_safe(e->d_name) ||
            fstatat(dirfd(d), e->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode))
            continue;
        int64_t mtime_ms = (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000;
        if (mtime_ms < before_wall_ms)
            fn(e->d_name, mtime_ms, ctx);
    }
    closedir(d);
    return CR_OK;
}

/* Releases the handle; nothing is open between calls. */
static void file_close(void *impl)
{
    struct file_store *fs = impl;
    if (!fs)
        return;
    free(fs->dir);
    free(fs);
}

const struct cr__store_ops cr__store_file_ops = {
    .scheme = "file",
    .open = file_open,
    .put = file_put,
    .get = file_get,
    .del = file_del,
    .close = file_close,
    .list_older = file_list_older,
};
