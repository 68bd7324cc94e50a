#!/bin/sh
# check_exports.sh SO ARCHIVE [API_MD]
# Only cr_* symbols may be exported by the shared library, at most
# $MAX_EXPORTS functions, and (given docs/api.md) exactly the functions that
# page lists, each declared with CR_API in the header its table is headed by.
# The static archive may define no global symbol outside the cr_/cr__
# namespace. Darknet is loaded with dlopen(RTLD_LOCAL), so none of its names
# appear at all.
set -eu
so=$1
archive=$2
api_md=${3:-}
status=0
MAX_EXPORTS=99
for f in "$so" "$archive" ${api_md:+"$api_md"}; do
    [ -r "$f" ] || { echo "not ok - cannot read $f"; exit 1; }
done

bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^cr_' || true)
if [ -n "$bad" ]; then
    echo "not ok - $so exports non-cr_ symbols:"; echo "$bad" | sed 's/^/#   /'; status=1
else
    echo "ok - $so exports only cr_ symbols ($(nm -D --defined-only "$so" | wc -l) of them)"
fi

functions=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sort)
count=$(printf '%s\n' "$functions" | grep -c . || true)
if [ "$count" -gt "$MAX_EXPORTS" ]; then
    echo "not ok - $so exports $count functions, more than $MAX_EXPORTS (docs/api.md)"; status=1
else
    echo "ok - $so exports $count functions (at most $MAX_EXPORTS)"
fi

if [ -n "$api_md" ]; then
    # Rows "| `cr_name` | ... |" under "### `cloudrec/<header>.h`" headings.
    listed=$(awk '/^### `cloudrec\/[a-z0-9_]+\.h`/ {h = $2; gsub(/`/, "", h)}
                  /^\| `cr_[a-z0-9_]+` \|/ {n = $2; gsub(/`/, "", n); print h, n}' "$api_md")
    documented=$(printf '%s\n' "$listed" | awk 'NF == 2 {print $2}' | sort)
    if [ "$documented" = "$functions" ]; then
        echo "ok - $api_md lists exactly the exported functions"
    else
        echo "not ok - $api_md and the exports differ (< only in the page, > only exported):"
        printf '%s\n' "$documented" > "${TMPDIR:-/tmp}/api_md.$$"
        printf '%s\n' "$functions" | diff "${TMPDIR:-/tmp}/api_md.$$" - | grep '^[<>]' |
            sed 's/^/#   /' || true
        rm -f "${TMPDIR:-/tmp}/api_md.$$"
        status=1
    fi
    include=$(dirname "$api_md")/../include
    wrong=$(printf '%s\n' "$listed" | while read -r header name; do
        [ -n "$name" ] || continue
        grep -Eq "^CR_API .*[^a-z0-9_]$name\(" "$include/$header" 2>/dev/null ||
            echo "$name (not declared with CR_API in $header)"
    done)
    if [ -n "$wrong" ]; then
        echo "not ok - $api_md puts functions under the wrong header:"
        echo "$wrong" | sed 's/^/#   /'; status=1
    else
        echo "ok - every function in $api_md is declared with CR_API in its header"
    fi
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
