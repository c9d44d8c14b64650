#!/usr/bin/env bash
# test/suites/50-custom-store.sh -- the custom-store interface (statevtab.h)
# as an application uses it: test/custom/custom.c, linked against the system
# libsqlite3, loads $STATEVTAB_EXT with sqlite3_load_extension(), registers
# an in-memory store "memtest" with statevtab_register_store() and checks,
# through SQL: CREATE/INSERT/SELECT/UPDATE/DELETE, OR IGNORE/REPLACE,
# migration to and from a local table, scans filtered exactly as the local
# store filters them, store sharing per URL, error messages, state_incr,
# unsupported primitives, rename/drop, and xClose at sqlite3_close.
#
# Then runs the same program under valgrind (when installed) and reports one
# more case, custom/valgrind.  Builds into $TEST_TMP; prints PASS/FAIL lines
# and exits non-zero when any case failed.  Needs STATEVTAB_EXT.
set -u
ROOT=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
CC=${CC:-cc}
TMP=${TEST_TMP:-$(mktemp -d "${TMPDIR:-/tmp}/custom.XXXXXX")}
SRC=$ROOT/test/custom/custom.c
BIN=$TMP/custom
rc=0

if [ -z "${STATEVTAB_EXT:-}" ] || [ ! -f "$STATEVTAB_EXT" ]; then
  echo "FAIL custom/setup: STATEVTAB_EXT (${STATEVTAB_EXT:-unset}) is not a file"
  exit 1
fi

# -Werror: the header must compile cleanly in an application.
if "$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -g -O1 -Wall -Wextra -Werror \
  -I"$ROOT" "$SRC" -o "$BIN" -lsqlite3 >"$TMP/build.log" 2>&1; then
  echo "PASS custom/build"
else
  echo "FAIL custom/build: $CC -I$ROOT $SRC -lsqlite3 failed:"
  sed 's/^/# /' "$TMP/build.log"
  exit 1
fi

timeout -k 10 300 "$BIN" "$STATEVTAB_EXT" >"$TMP/out" 2>&1
st=$?
cat "$TMP/out"
if [ "$st" -ne 0 ]; then
  rc=1
  if ! grep -q '^FAIL ' "$TMP/out"; then
    echo "FAIL custom/run: exited with status $st without a FAIL line"
  fi
fi

if command -v valgrind >/dev/null 2>&1; then
  # -q: the program prints FAIL lines only, valgrind only errors.
  timeout -k 10 900 valgrind --error-exitcode=99 --leak-check=full -q \
    "$BIN" "$STATEVTAB_EXT" -q >"$TMP/vg.out" 2>&1
  st=$?
  if [ "$st" -eq 99 ] || grep -q '^==[0-9]*==' "$TMP/vg.out"; then
    echo "FAIL custom/valgrind: memory errors or leaks (exit $st):"
    sed 's/^/# /' "$TMP/vg.out" | head -100
    rc=1
  elif [ "$st" -ne 0 ] && [ "$st" -ne 1 ]; then
    echo "FAIL custom/valgrind: exited with status $st"
    sed 's/^/# /' "$TMP/vg.out" | head -40
    rc=1
  else
    # Exit 1 = test failures, already reported by the plain run.
    echo "PASS custom/valgrind"
  fi
else
  echo "# valgrind not installed: custom/valgrind skipped"
fi

exit $rc
