#!/usr/bin/env bash
# test/suites/40-concurrency.sh -- the multi-process tests (test/mp/mp.c):
# real worker processes sharing one store, run on each store:
#   sqlite      the local store: one WAL database file per test
#   postgresql  the PostgreSQL store at $STATEVTAB_PG_URL: one fresh schema
#               per test
#   redis       the Redis store at $STATEVTAB_REDIS_URL: one fresh prefix
#               per test (keys "{<prefix>}...")
# (on PostgreSQL and Redis every process creates the tables in its own
# :memory: database, naming the same store and schema or prefix)
# Subcommands (each on every store unless said otherwise):
#   queue     8 workers drain a queue with state_claim(n=10) + state_complete:
#             every task completed exactly once, no stale-token completion,
#             no SQLITE_BUSY; processes that join during the drain can open
#             the tables (plus a step-by-step stale-token case and the
#             error message of a primitive that failed: on the store's
#             private connection (sqlite), of a server-side trigger, in and
#             out of a transaction (postgresql); Redis has no such case)
#   crash     workers SIGKILLed while holding 300 ms leases; the tasks come
#             back with higher tokens and attempts >= 2; nothing lost
#   leases    8 processes contend for 3 lease names: tokens unique,
#             increasing in time, gapless (not on redis, whose tokens are
#             max(previous + 1, server time in us): increasing but with
#             gaps), and no two holders at once
#   counters  8 processes x N state_incr: exact final value, every value
#             returned once
#   txn       8 processes: state_incr and state_claim (+ state_complete)
#             inside transactions, committed or rolled back at random: the
#             counter ends at exactly the committed increments, every task
#             is completed once with attempts 1 (rolled-back claims give
#             their attempt and the task back)
#   wake      a waiting state_lease / state_take (wait_ms) in one process
#             is woken within 100 ms of a release, a signal, an INSERT of
#             a signal, the holder's expiry in another; a wait nothing ends returns NULL 300-400 ms
#             after a wait_ms of 300; sqlite3_interrupt ends a wait
#   rate      4 processes claim 200 tasks under the rate "5 per second"
#             of their queue (about 40 s): each claimed and completed
#             once, no 1000 ms window (store clock) with more than 5
#             claims; then 60 tasks under the limit of 2 live leases, each
#             held 50 ms: never more than 2 held at once
#   dedup     4 processes enqueue tasks of 8 keys with INSERT OR IGNORE
#             into a dedup='active' table while 4 claim and complete them:
#             a claimer holding a task always finds it the only active one
#             of its key; every task completed once; attempts were skipped
#             and keys came back once their task was done
#   cron      a schedule every second ('* * * * * *') and 3 processes that
#             claim (one polling, two waiting with state_wait) for 10 s,
#             with no scheduler process: exactly one task per second, each
#             of the ten seconds once (no gap, no duplicate), each claimed
#             and completed once; the schedule's last_run/next_run end on
#             the last second
#   deps      4 processes claim and complete 100 diamonds of 4 tasks (A; B
#             and C depend on A; D on B and C): each task claimed and
#             completed once, none left waiting or cancelled, each claimed
#             after its dependencies were completed (store clock, and
#             their states read right after the claim)
#   restart   (postgresql and redis) a queue drained while the server is
#             restarted once (sv_restart_postgres / sv_restart_redis of
#             test/lib/servers.sh; Redis runs with appendfsync always, so
#             nothing acknowledged is lost): workers see only clear
#             connection errors (SQLITE_IOERR, "<store>: connection lost
#             (...)" -- on redis also "redis: no reply from ..." -- at most
#             once per worker, "<store>: cannot connect to ..." while the
#             server is down), retry, and every task is still completed
#             exactly once
# Instead of reading the database file (PRAGMA integrity_check, local store
# only), every store is checked through SQL on the tables (store-consistent).
#
# Builds test/out/mp when it is missing or older than test/mp/mp.c.  Each
# run gets a fresh directory under $TEST_TMP.  Prints mp's PASS/FAIL lines,
# labelled mp/<store>/<test>/<check> (and its "# " information lines);
# exits non-zero when any case failed.  The PostgreSQL runs need
# STATEVTAB_PG_URL (and STATEVTAB_PG_DIR for restart), the Redis runs
# STATEVTAB_REDIS_URL (and STATEVTAB_REDIS_DIR for restart), exported by
# test/run: without them they FAIL, they are never skipped.  The schemas
# (mp<time>_<pid>_*) are dropped afterwards (DROP SCHEMA ... CASCADE), the
# Redis keys ("{mp<time>_<pid>_*") deleted (redis-cli; by mp itself, and
# swept here after every run); a failure to clean is only a warning.
#
# Sizes (defaults are mp's; the issue's full size is MP_QUEUE_N=50000):
#   MP_QUEUE_N (20000 tasks, queue and restart)  MP_CRASH_N (2000 tasks)
#   MP_COUNTERS_N (10000 increments per process)  MP_LEASES_S (3 seconds)
#   MP_TIMEOUT (seconds per run, 600)
#   MP_STORES (the stores to run, "sqlite postgresql redis")
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

# The base of this run's namespaces: PostgreSQL schemas, Redis prefixes
# (mp adds _<test>, and ":" on Redis).
SCHEMA=mp$(date +%s)_$$

# url_var STORE / dir_var STORE: the variables naming a remote store's URL
# and its server's directory (for the restart); empty for the local store.
url_var() {
  case $1 in
  postgresql) echo STATEVTAB_PG_URL ;;
  redis) echo STATEVTAB_REDIS_URL ;;
  esac
}
dir_var() {
  case $1 in
  postgresql) echo STATEVTAB_PG_DIR ;;
  redis) echo STATEVTAB_REDIS_DIR ;;
  esac
}

# sweep STORE: remove every namespace of this run that is left (an mp that
# crashed or timed out before its own clean-up): PostgreSQL schemas (DROP
# SCHEMA ... CASCADE), Redis keys "{<SCHEMA>_*" (redis-cli --scan, DEL).  A
# failure is only a warning: the servers are throwaway ones.
sweep() {
  local sql what=
  case $1 in
  postgresql)
    sql="SET client_min_messages = warning; DO \$sweep\$ DECLARE s text; BEGIN
      FOR s IN SELECT nspname FROM pg_catalog.pg_namespace
                WHERE pg_catalog.left(nspname, ${#SCHEMA}) = '$SCHEMA' LOOP
        EXECUTE pg_catalog.format('DROP SCHEMA %I CASCADE', s);
      END LOOP; END \$sweep\$"
    PGCONNECT_TIMEOUT=10 timeout 60 psql -X -q -v ON_ERROR_STOP=1 \
      -d "$STATEVTAB_PG_URL" -c "$sql" >/dev/null 2>"$TMPBASE/sweep.err" ||
      what="the schemas $SCHEMA*"
    ;;
  redis)
    # shellcheck disable=SC2016
    timeout 60 bash -c 'set -o pipefail
      redis-cli -u "$1" --scan --pattern "{$2_*" |
        xargs -r -d "\n" redis-cli -u "$1" DEL >/dev/null' sweep \
      "$STATEVTAB_REDIS_URL" "$SCHEMA" 2>"$TMPBASE/sweep.err" ||
      what="the Redis keys {${SCHEMA}_*"
    ;;
  esac
  if [ -n "$what" ]; then
    echo "# warning: could not remove $what: $(head -c 300 "$TMPBASE/sweep.err")"
  fi
}

# run STORE NAME [ARGS...]: one subcommand on one store; a non-zero exit
# without a FAIL line (a crash, a set-up error, the timeout) becomes a FAIL
# line of its own.
run() {
  local store=$1 name=$2 dir out st url
  shift 2
  local args=(--store "$store")
  url=$(url_var "$store")
  if [ -n "$url" ]; then
    if [ -z "${!url:-}" ]; then
      echo "FAIL mp/$store/$name: $url is not set (test/run did not start the $store server)"
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
  if [ -n "$url" ]; then sweep "$store"; fi
}

for store in ${MP_STORES:-sqlite postgresql redis}; do
  run "$store" queue ${MP_QUEUE_N:+-n "$MP_QUEUE_N"}
  run "$store" crash ${MP_CRASH_N:+-n "$MP_CRASH_N"}
  run "$store" leases ${MP_LEASES_S:+-s "$MP_LEASES_S"}
  run "$store" counters ${MP_COUNTERS_N:+-n "$MP_COUNTERS_N"}
  run "$store" txn
  run "$store" wake
  run "$store" rate
  run "$store" dedup
  run "$store" cron
  run "$store" deps
  run "$store" fair
  url=$(url_var "$store") sdir=$(dir_var "$store")
  if [ -n "$sdir" ]; then
    # sv_restart_postgres / sv_restart_redis
    restart=". '$ROOT/test/lib/servers.sh' && sv_restart_${store/postgresql/postgres}"
    if [ -z "${!sdir:-}" ] && [ -n "${!url:-}" ]; then
      echo "FAIL mp/$store/restart: $sdir is not set: cannot restart the server (${restart##* })"
      rc=1
    else
      run "$store" restart ${MP_QUEUE_N:+-n "$MP_QUEUE_N"} --restart "$restart"
    fi
  fi
done

exit $rc
