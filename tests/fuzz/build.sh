#!/usr/bin/env bash
# tests/fuzz/build.sh - builds the libFuzzer harnesses with clang (ASan + UBSan).
#
# Usage: tests/fuzz/build.sh [OUTDIR]   (default: <repo>/build-fuzz)
# Compiles src/*.c (but main.c) once into OUTDIR/libsg_fuzz.a with
# -fsanitize=fuzzer-no-link,address,undefined, then links each
# tests/fuzz/fuzz_*.c into OUTDIR/<name>. The main build uses gcc; this one is
# separate on purpose so the product never links libFuzzer. Incremental: an
# object is rebuilt only when its source or a header is newer.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
out=${1:-$root/build-fuzz}
CC=${CC:-clang}
mkdir -p "$out/obj"

san=(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
cflags=(-std=c11 -g -O1 -Wall -Wextra -Werror -Wno-unused-parameter
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DSCHEMAGATE_VERSION=\"fuzz\"
    -I"$root/src" $(pkg-config --cflags libpq hiredis json-c yaml-0.1))
libs=($(pkg-config --libs libpq hiredis json-c yaml-0.1) -lcivetweb -lpthread -lm)

newest_header=$(ls -t "$root"/src/*.h | head -n 1)
objs=()
pids=()
for src in "$root"/src/*.c; do
    name=$(basename "$src" .c)
    [[ $name == main ]] && continue
    obj=$out/obj/$name.o
    objs+=("$obj")
    if [[ ! -f $obj || $src -nt $obj || $newest_header -nt $obj ]]; then
        rm -f "$obj"
        "$CC" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer-no-link -c "$src" -o "$obj" &
        pids+=($!)
        # two compilers at a time: CI has two cores
        if ((${#pids[@]} >= 2)); then
            wait "${pids[0]}"
            pids=("${pids[@]:1}")
        fi
    fi
done
for pid in "${pids[@]}"; do
    wait "$pid"
done
rm -f "$out/libsg_fuzz.a"
ar rcs "$out/libsg_fuzz.a" "${objs[@]}"

# A harness fuzz_X.c may have a helper lib_X.c beside it (shared with a CTest replay).
for h in "$here"/fuzz_*.c; do
    name=$(basename "$h" .c)
    extra=()
    [[ -f $here/lib_${name#fuzz_}.c ]] && extra=("$here/lib_${name#fuzz_}.c")
    "$CC" "${cflags[@]}" "${san[@]}" -fsanitize=fuzzer "$h" "${extra[@]}" "$out/libsg_fuzz.a" \
        "${libs[@]}" -o "$out/$name"
done
printf 'tests/fuzz/build.sh: built %s\n' "$(cd "$out" && ls fuzz_* | tr '\n' ' ')"
