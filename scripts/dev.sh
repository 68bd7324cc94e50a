#!/usr/bin/env bash
# dev.sh - set up a Debian 12 machine for libcloudrec, build it, run it or test it.
#
#   scripts/dev.sh run [UP-FLAGS]  install dependencies, build, run the service
#                         locally (`cloudrec up`, http://127.0.0.1:8000/)
#   scripts/dev.sh test   install dependencies, build with warnings as errors
#                         (debugoptimized and release), run the whole test
#                         suite, then again under AddressSanitizer + UBSan,
#                         then each libFuzzer target for FUZZ_SECONDS (30) s
#   scripts/dev.sh mutate [ARGS]  the mutation check, tests/mutation/run.py
#                         (docs/testing.md; ARGS go to it)
#   scripts/dev.sh deps | build
#
# Needs root (or sudo) for apt-get. Safe to run again: each step is skipped
# when already done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBIAN_PACKAGES=(
    build-essential meson ninja-build pkg-config
    libcurl4-openssl-dev libssl-dev libxml2-dev libjpeg62-turbo-dev libpng-dev
    libsqlite3-dev libmicrohttpd-dev libdnnl-dev libjansson-dev
    darknet python3 python3-pip binutils ca-certificates curl valgrind
    chromium chromium-driver
    # Darknet's LAPACK then loads OpenBLAS as the system BLAS, as on many
    # machines; the valgrind test runs with it and with the reference BLAS.
    libopenblas0-pthread
    man-db groff-base
    clang-14 libclang-rt-14-dev # the fuzz targets: -fsanitize=fuzzer needs libclang_rt.fuzzer
)
# The dashboard test drives headless Chromium through Selenium (pinned).
SELENIUM_VERSION=4.25.0

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

deps() {
    local missing=()
    for p in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        as_root apt-get install -y --no-install-recommends "${missing[@]}" ||
            { as_root apt-get update && as_root apt-get install -y --no-install-recommends "${missing[@]}"; }
    fi
    if ! python3 -c 'import pytest' 2>/dev/null; then
        log "installing pytest from PyPI"
        python3 -m pip install --quiet pytest ||
            python3 -m pip install --quiet --break-system-packages pytest
    fi
    # The S3/SQS/EC2 tests run against moto in server mode on 127.0.0.1.
    if ! python3 -c 'import moto.server, boto3' 2>/dev/null; then
        log "installing moto[server] from PyPI"
        python3 -m pip install --quiet 'moto[server]' ||
            python3 -m pip install --quiet --break-system-packages 'moto[server]'
    fi
    # The Python package test builds it with pip (no build isolation).
    if ! python3 -c 'import setuptools, wheel' 2>/dev/null; then
        log "installing setuptools and wheel from PyPI"
        python3 -m pip install --quiet setuptools wheel ||
            python3 -m pip install --quiet --break-system-packages setuptools wheel
    fi
    if [ "$(python3 -c 'import selenium; print(selenium.__version__)' 2>/dev/null)" != "$SELENIUM_VERSION" ]; then
        log "installing selenium==$SELENIUM_VERSION from PyPI"
        python3 -m pip install --quiet "selenium==$SELENIUM_VERSION" ||
            python3 -m pip install --quiet --break-system-packages "selenium==$SELENIUM_VERSION"
    fi
}

build() {
    local dir=${1:-build}; shift || true
    if [ ! -f "$dir/build.ninja" ]; then
        log "configuring $dir $*"
        meson setup "$dir" "$@" >/dev/null
    elif [ $# -gt 0 ]; then
        meson configure "$dir" "$@" >/dev/null
    fi
    log "building $dir"
    meson compile -C "$dir" >/dev/null
}

# The workplace's shared folder (models/, testdata/): ../shared, else a
# shared/ beside any parent of this checkout or of the checkout it was cloned
# from (a clone in /tmp/x), else /work/shared. Prints nothing if none.
find_shared() {
    local origin start d
    [ -d ../shared ] && { (cd ../shared && pwd); return; }
    origin=$(git config --get remote.origin.url 2>/dev/null || true)
    for start in "$PWD" "$origin"; do
        case "$start" in /*) ;; *) continue ;; esac
        d=$start
        while [ "$d" != / ]; do
            d=$(dirname "$d")
            if [ -d "$d/shared/models" ]; then echo "$d/shared"; return; fi
        done
    done
    if [ -d /work/shared/models ]; then echo /work/shared; fi
}

# The model is looked up like the tools do (CLOUDREC_MODEL_DIR, ./models,
# ../shared/models), then in the shared folder (exported for the tests and
# the service); without one, the published weights are downloaded. The SigV4
# test vectors are taken from the same shared folder.
model() {
    local d shared
    shared=$(find_shared)
    if [ -z "${CLOUDREC_TESTDATA:-}" ] && [ -n "$shared" ] && [ -d "$shared/testdata" ]; then
        export CLOUDREC_TESTDATA="$shared/testdata"
    fi
    for d in "${CLOUDREC_MODEL_DIR:-}" models/tiny-darknet ../shared/models/tiny-darknet; do
        if [ -n "$d" ] && [ -r "$d/tiny.weights" ]; then return 0; fi
    done
    if [ -n "$shared" ] && [ -r "$shared/models/tiny-darknet/tiny.weights" ]; then
        export CLOUDREC_MODEL_DIR="$shared/models/tiny-darknet"
        log "using the model in $CLOUDREC_MODEL_DIR"
        return 0
    fi
    log "no model found; downloading Tiny Darknet weights into models/tiny-darknet"
    build/tools/cloudrec model fetch
}

# The whole service on this machine (docs/local-mode.md); extra arguments go
# to `cloudrec up` (e.g. --port 8080 --max-workers 4). Ctrl-C stops it.
run_service() {
    log "starting cloudrec up $* (Ctrl-C stops it)"
    exec build/tools/cloudrec up "$@"
}

# Release flags (-O3) warn about things -O2 does not; CI compiles them with
# warnings as errors. Compiling is enough: the suite runs on the other builds.
build_release() {
    build build-release -Dbuildtype=release -Dwerror=true
}

# Every pass always runs, so a failure in the first still leaves the
# sanitizer and fuzzer results known; the exit status is non-zero if any failed.
run_tests() {
    local plain=0 sanitized=0 fuzzed=0
    log "test suite"
    meson test -C build --print-errorlogs || plain=$?
    if build build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debug \
        -Dwerror=true; then
        log "test suite under AddressSanitizer + UndefinedBehaviorSanitizer"
        meson test -C build-asan --print-errorlogs || sanitized=$?
    else
        sanitized=$?
        log "the AddressSanitizer + UBSan build failed"
    fi
    # The libFuzzer targets (docs/testing.md, "Fuzzing"); FUZZ_SECONDS=0 skips them.
    if [ "${FUZZ_SECONDS:-30}" != 0 ]; then scripts/fuzz.sh || fuzzed=$?; fi
    log "plain pass: $(verdict $plain); AddressSanitizer + UBSan pass: $(verdict $sanitized);" \
        "fuzzers: $(verdict $fuzzed)"
    [ "$plain" -eq 0 ] && [ "$sanitized" -eq 0 ] && [ "$fuzzed" -eq 0 ]
}

verdict() { if [ "$1" -eq 0 ]; then echo passed; else echo "FAILED (status $1)"; fi; }

case "${1:-}" in
    deps) deps ;;
    build) deps; build build ;;
    run) shift; deps; build build; model; run_service "$@" ;;
    test) deps; build build -Dwerror=true; build_release; model; run_tests ;;
    mutate) shift; deps; build build; model; exec python3 tests/mutation/run.py "$@" ;;
    *) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
