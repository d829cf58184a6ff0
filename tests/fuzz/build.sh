#!/bin/sh
# tests/fuzz/build.sh - build the protocol fuzzers and run each one.
#
#   tests/fuzz/build.sh [SECONDS] [OUTDIR]
#
# Builds fuzz_text, fuzz_meta, fuzz_bin and fuzz_authfile (the -Y file) with
# clang -fsanitize=fuzzer,address,undefined (UBSan aborts on the first
# report) into OUTDIR (default /tmp/tiercache-fuzz), then runs each for
# SECONDS (default 30; 0 = build only) on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<name>/; the checked-in seeds are never modified).
# Exits non-zero on a build failure or on any crash, leak or sanitizer
# report; the crashing input is left in OUTDIR as crash-*/leak-*/...
set -eu

SECONDS_EACH=${1:-30}
OUT=${2:-/tmp/tiercache-fuzz}
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CC=${CC:-clang}
CFLAGS="-std=c11 -D_GNU_SOURCE -g -O1 -Wall -Wextra -Werror \
  -Wno-unused-parameter -fsanitize=fuzzer,address,undefined \
  -fno-sanitize-recover=all -I$ROOT/server"

mkdir -p "$OUT"
build() {
    name=$1; shift
    echo "building $name"
    # shellcheck disable=SC2086
    $CC $CFLAGS -o "$OUT/$name" "$HERE/$name.c" "$@"
}
build fuzz_text "$ROOT/server/proto_text.c" "$ROOT/server/proto_num.c"
build fuzz_meta "$ROOT/server/proto_meta.c" "$ROOT/server/proto_text.c" "$ROOT/server/proto_num.c"
build fuzz_bin "$ROOT/server/proto_bin.c"
build fuzz_authfile "$ROOT/server/authfile.c"

[ "$SECONDS_EACH" -gt 0 ] || exit 0

status=0
for name in text meta bin authfile; do
    corpus="$OUT/corpus-$name"
    rm -rf "$corpus"
    mkdir -p "$corpus"
    cp "$HERE/corpus/$name/"* "$corpus/" 2>/dev/null || true
    echo "running fuzz_$name for ${SECONDS_EACH}s"
    if ! (cd "$OUT" && "./fuzz_$name" -max_total_time="$SECONDS_EACH" \
            -max_len=4096 -timeout=10 -print_final_stats=1 \
            "$corpus" 2>"$OUT/fuzz_$name.log"); then
        echo "fuzz_$name FAILED, see $OUT/fuzz_$name.log" >&2
        tail -40 "$OUT/fuzz_$name.log" >&2
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^Done' "$OUT/fuzz_$name.log" \
        || true
done
exit $status
