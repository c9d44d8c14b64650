#!/usr/bin/env bash
# test/suites/40-concurrency.sh -- the multi-process tests of the local
# store (test/mp/mp.c): real worker processes sharing one WAL database file.
#   queue     8 workers drain a queue with state_claim(n=10) + state_complete:
#             every task completed exactly once, no stale-token completion,
#             no SQLITE_BUSY (plus a step-by-step stale-token case and the
#             error message of a primitive run on the private connection)
#   crash     workers SIGKILLed while holding 300 ms leases; the tasks come
#             back with higher tokens and attempts >= 2; nothing lost
#   leases    8 processes contend for 3 lease names: tokens unique, gapless,
#             and no two holders at once
#   counters  8 processes x N state_incr: exact final value, every value
#             returned once
# Builds test/out/mp when it is missing or older than test/mp/mp.c.  Each
# subcommand runs in a fresh directory under $TEST_TMP.  Prints mp's
# PASS/FAIL lines (and its "# " information lines); exits non-zero when any
# case failed.
#
# Sizes (defaults are mp's; the issue's full size is MP_QUEUE_N=50000):
#   MP_QUEUE_N (20000 tasks)  MP_CRASH_N (2000 tasks)
#   MP_COUNTERS_N (10000 increments per process)  MP_LEASES_S (3 seconds)
#   MP_TIMEOUT (seconds per subcommand, 600)
set -u
ROOT=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
CC=${CC:-cc}
TMPBASE=${TEST_TMP:-${TMPDIR:-/tmp}}
MP=$ROOT/test/out/mp
SRC=$ROOT/test/mp/mp.c
rc=0

if [ -z "${STATEVTAB_EXT:-}" ] || [ ! -f "$STATEVTAB_EXT" ]; then
  echo "FAIL mp/setup: STATEVTAB_EXT (${STATEVTAB_EXT:-unset}) is not a file"
  exit 1
fi

mkdir -p "$ROOT/test/out"
if [ ! -x "$MP" ] || [ "$SRC" -nt "$MP" ]; then
  if "$CC" -O1 -g -Wall -Wextra "$SRC" -o "$MP.tmp.$$" -lsqlite3 &&
    mv -f "$MP.tmp.$$" "$MP"; then
    echo "PASS mp/build"
  else
    rm -f "$MP.tmp.$$"
    echo "FAIL mp/build: $CC $SRC -lsqlite3 failed"
    exit 1
  fi
fi

# run NAME [ARGS...]: one subcommand; a non-zero exit without a FAIL line
# (a crash, a set-up error, the timeout) becomes a FAIL line of its own.
run() {
  name=$1
  shift
  dir=$(mktemp -d "$TMPBASE/mp-$name.XXXXXX") || {
    echo "FAIL mp/$name: mktemp under $TMPBASE failed"
    rc=1
    return
  }
  out=$dir/mp.out
  timeout -k 10 "${MP_TIMEOUT:-600}" "$MP" "$name" -e "$STATEVTAB_EXT" \
    -d "$dir" "$@" >"$out" 2>&1
  st=$?
  cat "$out"
  if [ "$st" -ne 0 ]; then
    rc=1
    if ! grep -q '^FAIL ' "$out"; then
      if [ "$st" -eq 124 ]; then
        echo "FAIL mp/$name: timed out after ${MP_TIMEOUT:-600} s"
      else
        echo "FAIL mp/$name: mp exited with status $st without a FAIL line"
      fi
    fi
  fi
}

run queue ${MP_QUEUE_N:+-n "$MP_QUEUE_N"}
run crash ${MP_CRASH_N:+-n "$MP_CRASH_N"}
run leases ${MP_LEASES_S:+-s "$MP_LEASES_S"}
run counters ${MP_COUNTERS_N:+-n "$MP_COUNTERS_N"}

exit $rc
