#!/usr/bin/env bash
# test/suites/40-concurrency.sh -- the multi-process tests (test/mp/mp.c):
# real worker processes sharing one store, run on each store:
#   sqlite      the local store: one WAL database file per test
#   postgresql  the PostgreSQL store at $STATEVTAB_PG_URL: one fresh schema
#               per test (every process creates the tables in its own
#               :memory: database, naming the same store and schema)
# Subcommands (each on both stores unless said otherwise):
#   queue     8 workers drain a queue with state_claim(n=10) + state_complete:
#             every task completed exactly once, no stale-token completion,
#             no SQLITE_BUSY; processes that join during the drain can open
#             the tables (plus a step-by-step stale-token case and the
#             error message of a primitive that failed: on the store's
#             private connection (sqlite), of a server-side trigger, in and
#             out of a transaction (postgresql))
#   crash     workers SIGKILLed while holding 300 ms leases; the tasks come
#             back with higher tokens and attempts >= 2; nothing lost
#   leases    8 processes contend for 3 lease names: tokens unique, gapless,
#             and no two holders at once
#   counters  8 processes x N state_incr: exact final value, every value
#             returned once
#   restart   (postgresql only) a queue drained while the server is
#             restarted once (sv_restart_postgres of test/lib/servers.sh):
#             workers see only clear connection errors (SQLITE_IOERR,
#             "postgresql: connection lost (...)" at most once per worker),
#             retry, and every task is still completed exactly once
# Instead of reading the database file (PRAGMA integrity_check, local store
# only), every store is checked through SQL on the tables (store-consistent).
#
# Builds test/out/mp when it is missing or older than test/mp/mp.c.  Each
# run gets a fresh directory under $TEST_TMP.  Prints mp's PASS/FAIL lines,
# labelled mp/<store>/<test>/<check> (and its "# " information lines);
# exits non-zero when any case failed.  The PostgreSQL runs need
# STATEVTAB_PG_URL (and STATEVTAB_PG_DIR for restart), exported by test/run:
# without them they FAIL, they are never skipped.  Their schemas
# (mp<time>_<pid>_*) are dropped afterwards (DROP SCHEMA ... CASCADE).
#
# Sizes (defaults are mp's; the issue's full size is MP_QUEUE_N=50000):
#   MP_QUEUE_N (20000 tasks, queue and restart)  MP_CRASH_N (2000 tasks)
#   MP_COUNTERS_N (10000 increments per process)  MP_LEASES_S (3 seconds)
#   MP_TIMEOUT (seconds per run, 600)
#   MP_STORES (the stores to run, "sqlite postgresql")
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

# The base of this run's PostgreSQL schema names (mp adds _<test>).
SCHEMA=mp$(date +%s)_$$

# pg_sweep: drop every schema of this run that is left (an mp that crashed
# or timed out before its own DROP SCHEMA).  A failure is only a warning:
# the cluster is a throwaway one.
pg_sweep() {
  local sql
  sql="SET client_min_messages = warning; DO \$sweep\$ DECLARE s text; BEGIN
    FOR s IN SELECT nspname FROM pg_catalog.pg_namespace
              WHERE pg_catalog.left(nspname, ${#SCHEMA}) = '$SCHEMA' LOOP
      EXECUTE pg_catalog.format('DROP SCHEMA %I CASCADE', s);
    END LOOP; END \$sweep\$"
  if ! PGCONNECT_TIMEOUT=10 timeout 60 psql -X -q -v ON_ERROR_STOP=1 \
    -d "$STATEVTAB_PG_URL" -c "$sql" >/dev/null 2>"$TMPBASE/pg_sweep.err"; then
    echo "# warning: could not drop the schemas $SCHEMA*: $(head -c 300 "$TMPBASE/pg_sweep.err")"
  fi
}

# run STORE NAME [ARGS...]: one subcommand on one store; a non-zero exit
# without a FAIL line (a crash, a set-up error, the timeout) becomes a FAIL
# line of its own.
run() {
  local store=$1 name=$2 dir out st
  shift 2
  local args=(--store "$store")
  if [ "$store" = postgresql ]; then
    if [ -z "${STATEVTAB_PG_URL:-}" ]; then
      echo "FAIL mp/postgresql/$name: STATEVTAB_PG_URL is not set (test/run did not start PostgreSQL)"
      rc=1
      return
    fi
    args+=(--schema "$SCHEMA")
  fi
  dir=$(mktemp -d "$TMPBASE/mp-$store-$name.XXXXXX") || {
    echo "FAIL mp/$store/$name: mktemp under $TMPBASE failed"
    rc=1
    return
  }
  out=$dir/mp.out
  timeout -k 10 "${MP_TIMEOUT:-600}" "$MP" "$name" -e "$STATEVTAB_EXT" \
    -d "$dir" "${args[@]}" "$@" >"$out" 2>&1
  st=$?
  cat "$out"
  if [ "$st" -ne 0 ]; then
    rc=1
    if ! grep -q '^FAIL ' "$out"; then
      if [ "$st" -eq 124 ]; then
        echo "FAIL mp/$store/$name: timed out after ${MP_TIMEOUT:-600} s"
      else
        echo "FAIL mp/$store/$name: mp exited with status $st without a FAIL line"
      fi
    fi
  fi
  if [ "$store" = postgresql ]; then pg_sweep; fi
}

for store in ${MP_STORES:-sqlite postgresql}; do
  run "$store" queue ${MP_QUEUE_N:+-n "$MP_QUEUE_N"}
  run "$store" crash ${MP_CRASH_N:+-n "$MP_CRASH_N"}
  run "$store" leases ${MP_LEASES_S:+-s "$MP_LEASES_S"}
  run "$store" counters ${MP_COUNTERS_N:+-n "$MP_COUNTERS_N"}
  if [ "$store" = postgresql ]; then
    if [ -z "${STATEVTAB_PG_DIR:-}" ] && [ -n "${STATEVTAB_PG_URL:-}" ]; then
      echo "FAIL mp/postgresql/restart: STATEVTAB_PG_DIR is not set: cannot restart the server (sv_restart_postgres)"
      rc=1
    else
      run postgresql restart ${MP_QUEUE_N:+-n "$MP_QUEUE_N"} \
        --pg-restart ". '$ROOT/test/lib/servers.sh' && sv_restart_postgres"
    fi
  fi
done

exit $rc
