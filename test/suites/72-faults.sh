#!/usr/bin/env bash
# test/suites/72-faults.sh -- network faults, lost replies and server
# crashes, on both remote stores (Redis, PostgreSQL).
#
# 1. Faults, one statement at a time (test/faultrun.c): the connection goes
#    through test/faultproxy.c (loopback), whose mode the steps set: pass,
#    delay, reset (also in the middle of a statement), blackhole, lose (the
#    server did the work, its reply is lost) and drop (the request never
#    arrives).  With command_timeout=1000, each faulty statement fails
#    within its bound with SQLITE_IOERR and a message naming the fault
#    ("no reply from ... within 1000 ms (command timeout)", "connection
#    lost", "cannot connect"), and the next statement, the fault cleared,
#    works.  Lost replies: an INSERT (autocommit, and a BEGIN ... COMMIT)
#    whose COMMIT reply is lost is settled and succeeds, with one row, not
#    two; one whose request never arrived fails saying it was not applied
#    and writes nothing; a state_complete / state_fail whose reply is lost
#    fails, and its retry with the same token answers 1 / 'retry' (a stale
#    token still 0 / NULL).
# 2. Faults under load: test/mp restart (8 workers draining a queue,
#    retrying failed calls) through the proxy, while the "restart" command
#    injects reset, blackhole (longer than the command timeout), delay,
#    lose and drop in turn and clears them: every task completed exactly
#    once, nothing lost, no stale token accepted, every worker error a
#    clear SQLITE_IOERR connection error.
# 3. Server crashes: test/mp restart straight to the server, whose
#    "restart" is sv_crash_redis / sv_crash_postgres (SIGKILL, then start
#    again: Redis with appendfsync always reloads its AOF, PostgreSQL
#    replays its WAL), with 3 workers SIGKILLed at the same moment and
#    replaced: the same counts.
#
# Needs STATEVTAB_EXT, STATEVTAB_REDIS_URL/_PORT/_DIR and
# STATEVTAB_PG_URL/_PORT/_DIR (test/run); a missing server is a FAIL.
# Knobs: FAULTS_MP_N (tasks per mp run, 2000), FAULTS_STORES ("redis
# postgresql"), FAULTS_PARTS ("1 2 3": which of the parts above).  With
# STATEVTAB_EXT_ASAN, part 1 runs again under ASan/UBSan.  Takes about 1.5 minutes.
set -u
LC_ALL=C
export LC_ALL
ROOT=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
CC=${CC:-cc}
TMPBASE=${TEST_TMP:-$(mktemp -d)}
OUT=$ROOT/test/out
N=${FAULTS_MP_N:-2000}
rc=0
fail() {
  echo "FAIL faults/$*"
  rc=1
}

if [ -z "${STATEVTAB_EXT:-}" ] || [ ! -f "$STATEVTAB_EXT" ]; then
  fail "setup: STATEVTAB_EXT (${STATEVTAB_EXT:-unset}) is not a file"
  exit 1
fi

# build NAME SRC LIBS...: test/out/NAME from SRC when it is older.
build() {
  local name=$1 src=$2
  shift 2
  if [ ! -x "$OUT/$name" ] || [ "$src" -nt "$OUT/$name" ]; then
    if ! "$CC" -O1 -g -Wall -Wextra "$src" -o "$OUT/$name.tmp.$$" "$@" ||
      ! mv -f "$OUT/$name.tmp.$$" "$OUT/$name"; then
      rm -f "$OUT/$name.tmp.$$"
      fail "build: $CC $src $* failed"
      exit 1
    fi
  fi
}
mkdir -p "$OUT"
build faultproxy "$ROOT/test/faultproxy.c"
build faultrun "$ROOT/test/faultrun.c" -lsqlite3
# The same steps under ASan/UBSan (the settling paths), when test/run built
# the sanitizer module.
if [ -n "${STATEVTAB_EXT_ASAN:-}" ] && [ -f "$STATEVTAB_EXT_ASAN" ]; then
  build faultrun-asan "$ROOT/test/faultrun.c" \
    -fsanitize=address,undefined -fno-omit-frame-pointer -lsqlite3
fi
build mp "$ROOT/test/mp/mp.c" -lsqlite3

PROXY_PID=
stop_proxy() {
  if [ -n "$PROXY_PID" ]; then
    kill "$PROXY_PID" 2>/dev/null
    wait "$PROXY_PID" 2>/dev/null
    PROXY_PID=
  fi
}
trap stop_proxy EXIT

# start_proxy TARGET_PORT DIR: a proxy in front of TARGET_PORT, its control
# file DIR/ctl; sets PROXY_PID and PROXY_PORT.
start_proxy() {
  local n=50
  rm -f "$2/ctl" "$2/proxy.out"
  "$OUT/faultproxy" "$1" "$2/ctl" >"$2/proxy.out" 2>"$2/proxy.log" &
  PROXY_PID=$!
  PROXY_PORT=
  while ((n-- > 0)); do
    PROXY_PORT=$(awk '$1 == "port" { print $2 }' "$2/proxy.out" 2>/dev/null)
    [ -n "$PROXY_PORT" ] && return 0
    sleep 0.05
  done
  return 1
}

# steps STORE OPTS NAME: the faultrun steps (see test/faultrun.c).  A
# statement that fails is bounded by the command timeout (1000 ms) plus
# the settling of a COMMIT, which connects again (under 1000 ms more).
steps() {
  local opts=$2
  cat <<EOF
run|CREATE VIRTUAL TABLE tasks USING state_tasks($opts, command_timeout=1000)
run|CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x)
ok|pass|2000|0|SELECT count(*) FROM tasks
ok|pass-insert|2000|*|INSERT INTO tasks(id, queue, name) VALUES ('t1', 'q', 'a'), ('t2', 'q', 'b'), ('t3', 'q', 'c')
# a delay under the command timeout: slower, and fine
mode|delay 300
ok|delay-under-timeout|1500|3|SELECT count(*) FROM tasks
# a delay beyond it: the command timeout; then the next statement works
mode|delay 1500
err|delay-over-timeout|1500|within 1000 ms (command timeout)|SELECT count(*) FROM tasks
mode|pass
ok|delay-recovered|2000|3|SELECT count(*) FROM tasks
# black-holed: the command timeout
mode|blackhole
err|blackhole|1500|within 1000 ms (command timeout)|SELECT count(*) FROM tasks
mode|pass
ok|blackhole-recovered|2000|3|SELECT count(*) FROM tasks
# reset in the middle of a statement (held by a delay): connection lost
mode|delay 800
after|300|reset
err|reset-mid-statement|1500|connection lost|SELECT count(*) FROM tasks
# reset while idle, and while it lasts: the next statement cannot connect
err|reset-reconnect|1500|connect|SELECT count(*) FROM tasks
mode|pass
ok|reset-recovered|2000|3|SELECT count(*) FROM tasks
# lost replies: the INSERT's COMMIT reached the server, its reply was
# lost: settled, it succeeds, one row (the first INSERT reserves row
# handles, so that the second one's only round trip is the COMMIT)
ok|warm|2000|*|INSERT INTO tasks(queue, name) VALUES ('q', 'warm')
mode|lose
ok|lost-reply-insert|2500||INSERT INTO tasks(queue, name) VALUES ('q', 'lost')
ok|lost-reply-insert-one-row|2000|1|SELECT count(*) FROM tasks WHERE name = 'lost'
mode|pass
ok|warm-2|2000|*|INSERT INTO tasks(queue, name) VALUES ('q', 'warm')
mode|lose
ok|lost-reply-transaction|2500||BEGIN; INSERT INTO tasks(queue, name) VALUES ('q', 'txn'); INSERT INTO tasks(queue, name) VALUES ('q', 'txn'); COMMIT
run|ROLLBACK
ok|lost-reply-transaction-rows|2000|2|SELECT count(*) FROM tasks WHERE name = 'txn'
# the row the settling looks for may be undone before the COMMIT (ROLLBACK
# TO, DELETE): another one is looked for, never a false "not applied"
mode|pass
ok|warm-sp|2000|*|INSERT INTO tasks(queue, name) VALUES ('q', 'warm')
mode|lose
ok|lost-reply-savepoint|2500||BEGIN; SAVEPOINT s; INSERT INTO tasks(queue, name) VALUES ('q', 'sp-undone'); ROLLBACK TO s; INSERT INTO tasks(queue, name) VALUES ('q', 'sp-kept'); COMMIT
run|ROLLBACK
ok|lost-reply-savepoint-rows|2000|0 1|SELECT count(*) FILTER (WHERE name = 'sp-undone'), count(*) FILTER (WHERE name = 'sp-kept') FROM tasks
mode|pass
run|BEGIN
run|INSERT INTO tasks(queue, name) VALUES ('q', 'del-x')
run|DELETE FROM tasks WHERE name = 'del-x'
run|INSERT INTO tasks(queue, name) VALUES ('q', 'del-y')
mode|lose
ok|lost-reply-after-delete|2500||COMMIT
run|ROLLBACK
ok|lost-reply-after-delete-rows|2000|0 1|SELECT count(*) FILTER (WHERE name = 'del-x'), count(*) FILTER (WHERE name = 'del-y') FROM tasks
# a COMMIT black-holed, and the server unreachable while settling it:
# "unknown", within the command timeout, then a connect (libpq: at least
# 2 s) and the command timeout again
mode|pass
ok|warm-bh|2000|*|INSERT INTO tasks(queue, name) VALUES ('q', 'warm')
mode|blackhole
err|blackhole-commit|4500|whether the transaction was applied is unknown|INSERT INTO tasks(queue, name) VALUES ('q', 'bh')
mode|pass
ok|blackhole-commit-recovered|2000|*|SELECT count(*) FROM tasks WHERE name = 'bh'
# the request never arrived: settled, not applied, nothing written
mode|pass
ok|warm-3|2000|*|INSERT INTO tasks(queue, name) VALUES ('q', 'warm')
mode|drop
err|lost-request-insert|2500|the transaction was not applied|INSERT INTO tasks(queue, name) VALUES ('q', 'dropped')
mode|pass
ok|lost-request-nothing|2000|0|SELECT count(*) FROM tasks WHERE name = 'dropped'
# state_complete whose reply is lost: an error; the retry with the same
# token says 1, the task is completed once, a stale token is still 0
run|INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'q', 'w', 60000, 1)
mode|lose
err|lost-reply-complete|1500|connection lost|SELECT state_complete('tasks', k, x, '{"n":1}') FROM temp.v
mode|pass
ok|lost-reply-complete-retry|2000|1|SELECT state_complete('tasks', k, x, '{"n":2}') FROM temp.v
ok|lost-reply-complete-once|2000|completed {"n":1}|SELECT state, result FROM tasks WHERE id = (SELECT k FROM temp.v)
ok|lost-reply-complete-stale|2000|0|SELECT state_complete('tasks', k, x + 1) FROM temp.v
# state_fail whose reply is lost: the retry says 'retry', one attempt
run|DELETE FROM temp.v
run|INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'q', 'w', 60000, 1)
mode|lose
err|lost-reply-fail|1500|connection lost|SELECT state_fail('tasks', k, x, 'boom', 60000) FROM temp.v
mode|pass
ok|lost-reply-fail-retry|2000|retry|SELECT state_fail('tasks', k, x, 'boom', 60000) FROM temp.v
ok|lost-reply-fail-once|2000|pending 1 boom|SELECT state, attempts, error FROM tasks WHERE id = (SELECT k FROM temp.v)
ok|lost-reply-fail-stale|2000|NULL|SELECT state_fail('tasks', k, x + 1, 'boom', 60000) FROM temp.v
EOF
}

# run_mp STORE LABEL CMD ARGS...: mp restart on STORE, its checks renamed
# faults/LABEL/...; a non-zero exit without a FAIL line is a FAIL.
run_mp() {
  local store=$1 label=$2 cmd=$3 dir st
  shift 3
  dir=$(mktemp -d "$TMPBASE/mp-$store-$label.XXXXXX")
  timeout -k 10 300 "$OUT/mp" restart -e "$STATEVTAB_EXT" -d "$dir" \
    --store "$store" --schema "f$(date +%s)_$$_$label" -n "$N" \
    --restart "$cmd" "$@" >"$dir/mp.out" 2>&1
  st=$?
  sed -e "s#^\(PASS\|FAIL\) mp/$store/restart/#\1 faults/$store/$label/#" \
    -e "s#^\(PASS\|FAIL\) mp/restart/#\1 faults/$store/$label/#" "$dir/mp.out"
  if grep -q '^FAIL ' "$dir/mp.out"; then
    rc=1
  elif [ "$st" -ne 0 ]; then
    fail "$store/$label: mp exited with status $st without a FAIL line"
  fi
}

for store in ${FAULTS_STORES:-redis postgresql}; do
  case $store in
  redis)
    urlvar=STATEVTAB_REDIS_URL port=${STATEVTAB_REDIS_PORT:-}
    dir=${STATEVTAB_REDIS_DIR:-} crash=sv_crash_redis
    ;;
  postgresql)
    urlvar=STATEVTAB_PG_URL port=${STATEVTAB_PG_PORT:-}
    dir=${STATEVTAB_PG_DIR:-} crash=sv_crash_postgres
    ;;
  esac
  if [ -z "${!urlvar:-}" ] || [ -z "$port" ] || [ -z "$dir" ]; then
    fail "$store/setup: $urlvar, its port or its directory is not set (test/run did not start the $store server)"
    continue
  fi
  url=${!urlvar}
  pdir=$TMPBASE/$store
  mkdir -p "$pdir"
  if ! start_proxy "$port" "$pdir"; then
    fail "$store/setup: the fault proxy did not start: $(head -c 300 "$pdir/proxy.log")"
    stop_proxy
    continue
  fi
  # The same server, through the proxy.
  purl=${url/127.0.0.1:$port/127.0.0.1:$PROXY_PORT}
  ns=f$(date +%s)_$$
  if [ "$store" = redis ]; then
    opts="store='$purl', prefix='$ns:'"
  else
    opts="store='$purl', schema='$ns'"
  fi

  parts=" ${FAULTS_PARTS:-1 2 3} "
  # 1. one statement at a time (and again under ASan, in a namespace of
  # its own)
  if [[ $parts == *" 1 "* ]]; then
    steps "$store" "$opts" |
      "$OUT/faultrun" "$STATEVTAB_EXT" "$pdir/ctl" "faults/$store" || rc=1
  fi
  if [[ $parts == *" 1 "* ]] && [ -x "$OUT/faultrun-asan" ] &&
    [ -n "${STATEVTAB_EXT_ASAN:-}" ]; then
    steps "$store" "${opts//$ns/${ns}a}" |
      ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        "$OUT/faultrun-asan" "$STATEVTAB_EXT_ASAN" "$pdir/ctl" \
        "faults/$store-asan" 2>"$pdir/asan.err" || rc=1
    if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: [A-Za-z]*Sanitizer' \
      "$pdir/asan.err"; then
      fail "$store-asan/sanitizer: $(grep -Em1 'Sanitizer|runtime error:' "$pdir/asan.err")"
    fi
  fi

  # 2. under load, through the proxy
  inject="set -e; ctl='$pdir/ctl'
    m() { echo \"\$1\" >\"\$ctl.tmp\"; mv -f \"\$ctl.tmp\" \"\$ctl\"; sleep \"\$2\"; }
    m reset 0.3; m pass 0.5; m blackhole 1.5; m pass 0.5; m 'delay 200' 1;
    m lose 0.5; m pass 0.3; m drop 1.5; m pass 0"
  if [[ $parts == *" 2 "* ]]; then
    (
      export "$urlvar=$purl" MP_TABLE_OPTS=command_timeout=1000
      run_mp "$store" under-load "$inject" --lost-max 30
      exit $rc
    ) || rc=1
  fi
  stop_proxy

  # 3. the server SIGKILLed mid-drain and started again, 3 workers too.
  # The test cluster runs with synchronous_commit off (test/lib/servers.sh,
  # for speed), which a crash may cost acknowledged commits (the README
  # says so): the workers' sessions turn it on, as a production server has
  # it.  (fsync off is fine: a process crash leaves the page cache.)
  crashurl=$url
  [ "$store" = postgresql ] &&
    crashurl="$url?options=-c%20synchronous_commit%3Don"
  if [[ $parts == *" 3 "* ]]; then
    (
      export "$urlvar=$crashurl"
      run_mp "$store" server-crash ". '$ROOT/test/lib/servers.sh' && $crash" \
        --kill-workers 3
      exit $rc
    ) || rc=1
  fi
  # (test/run checks after the suite that the server runs.)
done

exit $rc
