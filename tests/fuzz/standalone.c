/*
 * standalone.c - a main for the fuzz targets when libFuzzer is not there
 * (gcc builds): runs LLVMFuzzerTestOneInput once on each file named, or on
 * each file of each directory named, in name order. Exit status 0 when every
 * input ran; an input that breaks an invariant aborts, as under libFuzzer.
 *
 *   fuzz_image tests/fuzz/corpus/image          the regression test
 *   fuzz_image crash-0123abcd                   replay one reproducer
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

/* Reads the whole file at path into a malloc'd buffer (never NULL on
 * success, even when empty). Returns 0, or -1 with a message printed. */
static int read_all(const char *path, uint8_t **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0, got;
    uint8_t *buf = malloc(cap);
    while (buf && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            uint8_t *bigger = realloc(buf, cap * 2);
            if (!bigger)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    int bad = !buf || ferror(f);
    fclose(f);
    if (bad) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

/* Runs the target on one file; returns 0 or -1. */
static int run_file(const char *path)
{
    uint8_t *data = NULL;
    size_t len = 0;
    if (read_all(path, &data, &len) != 0)
        return -1;
    LLVMFuzzerTestOneInput(data, len);
    free(data);
    return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
    return strcmp((*a)->d_name, (*b)->d_name);
}

/* Runs the target on every regular file of dir; adds to *count. */
static int run_dir(const char *dir, int *count)
{
    struct dirent **names = NULL;
    int n = scandir(dir, &names, NULL, by_name), rc = n < 0 ? -1 : 0;
    if (n < 0)
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
    for (int i = 0; i < n; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            rc |= run_file(path);
            ++*count;
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    int rc = 0, count = 0;
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)) {
            rc |= run_dir(argv[i], &count);
        } else {
            rc |= run_file(argv[i]);
            count++;
        }
    }
    printf("%s: %d inputs run%s\n", argv[0], count, rc ? ", some unreadable" : "");
    return rc || count == 0 ? 1 : 0; /* an empty corpus tests nothing */
}
