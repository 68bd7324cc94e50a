#!/bin/sh
# Runs the CLI under valgrind memcheck on a good and a bad input, with each
# engine: no invalid access, no leak of our own (only what Darknet's network
# builder keeps is suppressed, in tests/valgrind.supp).
#
# Darknet loads LAPACK and BLAS; which libblas.so.3 the system picks depends
# on what is installed (OpenBLAS takes over the alternative, and its loading
# used to give a false report). So the Darknet run is repeated with each
# BLAS this machine has -- the reference one (libblas3, a Darknet
# dependency) and OpenBLAS (libopenblas0-pthread, which scripts/dev.sh
# installs) -- chosen through LD_LIBRARY_PATH, whatever the system default
# is. The native engine loads neither, so it runs once.
set -u
cli=$1
supp=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'not an image' > "$tmp/bad.jpg"
head -c 20000 /usr/share/darknet/data/dog.jpg > "$tmp/truncated.jpg"
# libjpeg-turbo's SIMD code reads uninitialised padding on purpose, which
# memcheck reports (libjpeg-turbo issue 238); check the portable C path.
export JSIMD_FORCENONE=1
arch=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
libdir=/usr/lib/$arch

# check ENGINE NAME [LD_LIBRARY_PATH]: one run; prints ok/not ok, returns 1 on failure.
check() {
    engine=$1 name=$2
    LD_LIBRARY_PATH=${3:-${LD_LIBRARY_PATH:-}} valgrind -q --error-exitcode=99 \
        --leak-check=full --errors-for-leak-kinds=definite,possible --suppressions="$supp" \
        "$cli" classify --engine "$engine" /usr/share/darknet/data/dog.jpg \
        /usr/share/darknet/data/eagle.jpg "$tmp/bad.jpg" "$tmp/truncated.jpg" \
        > "$tmp/out" 2> "$tmp/err"
    rc=$?
    cat "$tmp/err"
    if [ $rc -ne 1 ]; then
        echo "not ok - $engine, $name: expected exit status 1 (two bad inputs), got $rc"; return 1
    fi
    if ! grep -q '^/usr/share/darknet/data/dog.jpg: malamute ' "$tmp/out"; then
        echo "not ok - $engine, $name: dog.jpg not classified as malamute"; cat "$tmp/out"
        return 1
    fi
    echo "ok - cloudrec classify --engine $engine is valgrind-clean ($name)"
}

failed=0
check native "no BLAS" || failed=1
check darknet "system BLAS" || failed=1
if [ -r "$libdir/blas/libblas.so.3" ]; then
    check darknet "reference BLAS" "$libdir/blas:$libdir/lapack" || failed=1
else
    echo "# reference BLAS ($libdir/blas) not installed: not checked"
fi
found=0
for v in pthread openmp serial; do
    if [ -r "$libdir/openblas-$v/libblas.so.3" ]; then
        found=1
        check darknet "OpenBLAS ($v)" "$libdir/openblas-$v" || failed=1
    fi
done
[ $found -eq 1 ] || echo "# OpenBLAS not installed: not checked (scripts/dev.sh installs it)"
exit $failed
