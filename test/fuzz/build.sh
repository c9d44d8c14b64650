#!/usr/bin/env bash
# test/fuzz/build.sh -- build the libFuzzer targets of test/fuzz/.
#
#   test/fuzz/build.sh OUTDIR [TARGET...]
#
# Compiles the extension's sources (ext/*.c, vtab/*.c, with the in-tree
# build's config.h and generated headers: run the ordinary build first)
# with clang -fsanitize=fuzzer-no-link,address,undefined into OUTDIR/obj,
# then links each target (default: every test/fuzz/*.c) with
# -fsanitize=fuzzer,address,undefined into OUTDIR/<target>.  The targets
# call sqlite3_statevtab_init through sqlite3_auto_extension, with the
# system SQLite.  Needs clang and libclang-rt-14-dev (test/run installs
# them).  Objects are rebuilt only when their source is newer.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${1:?usage: test/fuzz/build.sh OUTDIR [TARGET...]}
shift
CC=${FUZZ_CC:-clang}
mkdir -p "$out/obj"
if [ ! -f "$root/config.h" ] || [ ! -f "$root/vtab/pg_sql.h" ] ||
  [ ! -f "$root/vtab/redis_lua.h" ]; then
  echo "fuzz build: build the extension in $root first (config.h, generated headers)" >&2
  exit 1
fi
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g -O1"
cflags="$san -include $root/config.h -D_GNU_SOURCE -I$root -I$root/vtab -I$root/ext \
  $(pkg-config --cflags sqlite3 libcjson libpcre2-8 hiredis libpq) -std=c11 -w"
libs="$(pkg-config --libs sqlite3 libcjson libpcre2-8) -ldl -lm -lpthread"

objs=()
pids=()
for src in "$root"/ext/*.c "$root"/vtab/*.c; do
  o=$out/obj/$(basename "$(dirname "$src")")_$(basename "${src%.c}").o
  objs+=("$o")
  if [ ! -f "$o" ] || [ "$src" -nt "$o" ] || [ "$root/config.h" -nt "$o" ]; then
    # shellcheck disable=SC2086
    $CC $cflags -fsanitize=fuzzer-no-link -c "$src" -o "$o" &
    pids+=($!)
    if [ "${#pids[@]}" -ge "${SV_JOBS:-2}" ]; then
      wait "${pids[0]}"
      pids=("${pids[@]:1}")
    fi
  fi
done
for p in "${pids[@]}"; do wait "$p"; done

targets=("$@")
if [ "${#targets[@]}" = 0 ]; then
  for t in "$root"/test/fuzz/*.c; do targets+=("$(basename "${t%.c}")"); done
fi
for t in "${targets[@]}"; do
  # shellcheck disable=SC2086
  $CC $cflags -fsanitize=fuzzer "$root/test/fuzz/$t.c" "${objs[@]}" $libs \
    -o "$out/$t"
done
