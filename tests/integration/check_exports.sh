#!/bin/sh
# Only cr_* symbols may be exported by the shared library, and the static
# archive may define no global symbol outside the cr_/cr__ namespace. Darknet
# is loaded with dlopen(RTLD_LOCAL), so none of its names appear at all.
set -eu
so=$1
archive=$2
status=0

bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^cr_' || true)
if [ -n "$bad" ]; then
    echo "not ok - $so exports non-cr_ symbols:"; echo "$bad" | sed 's/^/#   /'; status=1
else
    echo "ok - $so exports only cr_ symbols ($(nm -D --defined-only "$so" | wc -l) of them)"
fi

# AddressSanitizer adds __odr_asan.<name> markers for global variables.
bad=$(nm -g --defined-only "$archive" 2>/dev/null | awk 'NF==3 {print $3}' |
      grep -v -e '^cr_' -e '^__odr_asan\.cr_' || true)
if [ -n "$bad" ]; then
    echo "not ok - $archive defines non-cr_ globals:"; echo "$bad" | sed 's/^/#   /'; status=1
else
    echo "ok - $archive defines only cr_ globals"
fi

darknet=/usr/lib/darknet/libdarknet.so
if [ -r "$darknet" ]; then
    tmp=$(mktemp -d)
    nm -D "$so" | awk '{print $NF}' | sort -u > "$tmp/ours"
    nm -D --defined-only "$darknet" | awk '{print $3}' | sort -u > "$tmp/darknet"
    leaked=$(comm -12 "$tmp/ours" "$tmp/darknet")
    rm -rf "$tmp"
    if [ -n "$leaked" ]; then
        echo "not ok - $so references Darknet symbols directly:"; echo "$leaked" | sed 's/^/#   /'; status=1
    else
        echo "ok - no Darknet symbol is referenced by $so"
    fi
fi
if nm -D "$so" | grep -q ' U error$'; then
    echo "not ok - $so imports error()"; status=1
fi
exit $status
