/*
 * fuzz.h - what every fuzz target in tests/fuzz shares.
 *
 * A target is one LLVMFuzzerTestOneInput. Built with -Dfuzz=true (clang) it
 * links libFuzzer; otherwise standalone.c supplies a main that runs it once
 * over each file of its seed corpus, so the corpus is a regression test in
 * the ordinary suite. FUZZ_REQUIRE states an invariant: when it does not
 * hold the target aborts, which libFuzzer reports as a crash and saves the
 * input as a reproducer.
 */
#ifndef CLOUDREC_FUZZ_H
#define CLOUDREC_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REQUIRE(cond, what)                                                                   \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz invariant broken at %s:%d: %s (%s)\n", __FILE__, __LINE__,      \
                    what, #cond);                                                                  \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
