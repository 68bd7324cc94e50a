/*
 * classifier_fixture.h - what the classifier tests (test_classify.c,
 * test_native.c) set up alike: a scratch directory for the model files they
 * write, broken on purpose, and the model found the way a user finds it.
 * Header-only, as the checks count in tap.h's per-program counters.
 */
#ifndef CLOUDREC_TESTS_CLASSIFIER_FIXTURE_H
#define CLOUDREC_TESTS_CLASSIFIER_FIXTURE_H

#include "cloudrec.h"
#include "tap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes the scratch directory (tmpdir is a mkdtemp template, rewritten) and
 * resolves the model into *paths. 0, after a failed check, when either
 * fails: the program then ends with tap_done(). */
static inline int fixture_begin(char *tmpdir, struct cr_model_paths *paths)
{
    struct cr_error err = {0};
    if (!CHECK(mkdtemp(tmpdir) != NULL))
        return 0;
    if (!CHECK(cr_model_resolve(NULL, paths, &err) == CR_OK)) {
        DIAG("%s", err.message);
        return 0;
    }
    return 1;
}

/* Writes len bytes of data to the file name in dir; returns its path, which
 * stays valid for the next seven calls. */
static inline const char *fixture_write(const char *dir, const char *name, const void *data,
                                        size_t len)
{
    static char path[8][512];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, 512, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    if (f) {
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return p;
}

/* Removes the scratch directory and what the test wrote into it. */
static inline void fixture_end(const char *tmpdir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    CHECK(system(cmd) == 0);
}

#endif
