#!/usr/bin/env bash
# fuzz.sh - build the libFuzzer targets of tests/fuzz with clang and run each
# for a fixed time on a copy of its seed corpus (docs/testing.md, "Fuzzing").
#
#   scripts/fuzz.sh [TARGET...]      default: every target in tests/fuzz/meson.build
#
# FUZZ_SECONDS   time per target (default 30)
# FUZZ_BUILD     build directory (default build-fuzz)
# CC             the clang to use (default clang-14, else clang)
#
# Exit status 1 on any finding (crash, sanitizer report, leak, timeout, out of
# memory); the reproducer is left in $FUZZ_BUILD/fuzz-out/<target>/ and the
# line to replay it is printed. New inputs the fuzzer found are kept in
# $FUZZ_BUILD/fuzz-out/<target>/corpus (the seeds in the tree are not touched).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-30}
dir=${FUZZ_BUILD:-build-fuzz}
log() { printf '==> %s\n' "$*" >&2; }

if [ -z "${CC:-}" ]; then
    CC=$(command -v clang-14 || command -v clang || true)
    [ -n "$CC" ] || { log "no clang found (scripts/dev.sh deps installs clang-14)"; exit 2; }
fi
export CC

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    # The list in tests/fuzz/meson.build is the one declaration of the targets.
    mapfile -t targets < <(sed -n "s/^  '\([a-z0-9_]*\)',.*/\1/p" tests/fuzz/meson.build)
fi

if [ ! -f "$dir/build.ninja" ]; then
    log "configuring $dir with $CC (libFuzzer + ASan + UBSan)"
    meson setup "$dir" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
        -Dbuildtype=debugoptimized >/dev/null
fi
log "building ${targets[*]}"
meson compile -C "$dir" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"
# The upload target keeps its stores and queues under TMPDIR; on tmpfs their
# fsyncs cost nothing, which makes it about ten times faster.
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
failed=()
for t in "${targets[@]}"; do
    out="$dir/fuzz-out/$t"
    rm -rf "$out"
    mkdir -p "$out/corpus"
    cp tests/fuzz/corpus/"$t"/* "$out/corpus/"
    dict=()
    if [ -f "tests/fuzz/$t.dict" ]; then dict=(-dict="tests/fuzz/$t.dict"); fi
    log "fuzzing $t for ${seconds}s"
    if "$dir/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$out/" "${dict[@]}" "$out/corpus" \
        >"$out/log" 2>&1; then
        grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$out/log" |
            sed "s/^/    $t: /" >&2
    else
        failed+=("$t")
        tail -n 60 "$out/log" >&2
        for f in "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-*; do
            [ -e "$f" ] || continue
            log "FINDING in $t: $f (replay: $dir/tests/fuzz/fuzz_$t $f)"
        done
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    log "fuzzing found problems in: ${failed[*]} (full logs: $dir/fuzz-out/<target>/log)"
    exit 1
fi
log "fuzzing: no findings in ${targets[*]} (${seconds}s each)"
