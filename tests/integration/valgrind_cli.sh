#!/bin/sh
# Runs the CLI under valgrind memcheck on good and bad inputs, with each
# engine: no invalid access, no leak of our own (Darknet's are suppressed in tests/valgrind.supp).
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
for engine in native darknet; do
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,possible \
        --suppressions="$supp" "$cli" classify --engine $engine /usr/share/darknet/data/dog.jpg /usr/share/darknet/data/eagle.jpg "$tmp/bad.jpg" \
        "$tmp/truncated.jpg" > "$tmp/out" 2> "$tmp/err"
    rc=$?
    cat "$tmp/err"
    if [ $rc -ne 1 ]; then
        echo "not ok - $engine: expected exit status 1 (two bad inputs), got $rc"; exit 1
    fi
    grep -q '^/usr/share/darknet/data/dog.jpg: ' "$tmp/out" || { echo "not ok - $engine: dog.jpg not classified"; exit 1; }
    echo "ok - cloudrec classify --engine $engine is valgrind-clean"
done
