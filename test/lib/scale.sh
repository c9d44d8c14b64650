# shellcheck shell=bash
# test/lib/scale.sh -- helpers of the scale-out suites (80-cluster,
# 82-pooler). Source from bash after cd to the repository root; defines
# functions only.
#
#   sc_mp_build               build test/out/mp (test/mp/mp.c) when missing
#                             or older than its source; a FAIL line when
#                             that fails
#   sc_mp STORE NAME ARGS...  run `mp NAME --store STORE ARGS...` with a
#                             directory of its own under $TEST_TMP and the
#                             namespaces $SC_SCHEMA_<test>; prints
#                             its PASS/FAIL lines, and a FAIL line of its
#                             own for an exit without one; false then
#   sc_check NAME CMD...      run CMD; PASS NAME (after the "# " lines of
#                             its output) when it succeeds, else FAIL NAME
#                             with its output
#   sc_ms                     the time in ms (CLOCK_REALTIME)

sc_ms() { date +%s%3N; }

SC_SCHEMA=sc$(date +%s)_$$

sc_mp_build() {
  local mp=test/out/mp src=test/mp/mp.c
  mkdir -p test/out
  if [ ! -x "$mp" ] || [ "$src" -nt "$mp" ]; then
    if ! "${CC:-cc}" -O1 -g -Wall -Wextra "$src" -o "$mp.tmp.$$" -lsqlite3 ||
      ! mv -f "$mp.tmp.$$" "$mp"; then
      rm -f "$mp.tmp.$$"
      echo "FAIL mp/build: ${CC:-cc} $src -lsqlite3 failed"
      return 1
    fi
  fi
}

sc_mp() {
  local store=$1 name=$2 dir st
  shift 2
  dir=$(mktemp -d "${TEST_TMP:-/tmp}/mp-$store-$name.XXXXXX") || return 1
  timeout -k 10 "${MP_TIMEOUT:-300}" test/out/mp "$name" -e "$STATEVTAB_EXT" \
    -d "$dir" --store "$store" --schema "$SC_SCHEMA" "$@" >"$dir/mp.out" 2>&1
  st=$?
  cat "$dir/mp.out"
  if ((st != 0)) && ! grep -q '^FAIL ' "$dir/mp.out"; then
    echo "FAIL mp/$store/$name: mp exited with status $st without a FAIL line"
  fi
  return $st
}

sc_check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    grep '^# ' <<<"$out"
    echo "PASS $name"
  else
    echo "FAIL $name: $(printf '%s' "$out" | head -c 600)"
    return 1
  fi
}
