#!/usr/bin/env bash
# test/suites/47-board.sh -- statevtab-board, the queue board (issue 17).
#
# Every board here is the sanitizer build (build-asan/statevtab-board with
# build-asan's module): it is stopped with SIGTERM at the end of each part,
# must exit 0, and its stderr must hold no AddressSanitizer, LeakSanitizer
# or UBSan report.
#   1. Per store (local, Redis, PostgreSQL; every table of the database on
#      that store, Redis and PostgreSQL through env: URLs): GET /api/state
#      shows the seeded counts (pending, claimed, dead, completed, the last
#      minute's completions, paused), the dead letters with their reason and
#      full task, the claimed task with its lease owner, the lease, the flag
#      and the execution's progress, and the ring's backlog samples; each
#      action (pause, resume, cancel, flag, redrive, delete a dead letter)
#      changes the store, as the sqlite3 shell then reads it; a write
#      without the token is 401 and one with a wrong token 403, and neither
#      changes anything.
#   2. Bad input to every endpoint: a 400 (or 401/403/404/405/413) with a
#      JSON error message naming what was wrong, and the board still
#      answers afterwards (garbage on the socket too); a table whose store
#      cannot be reached is listed with its error, and a write to it is a
#      500 with the extension's message.
#   3. A long request does not block the others: with Redis stopped
#      (SIGSTOP), a GET /api/state waits on it while the page and another
#      request are answered at once; with 16 such requests holding the
#      pool's 16 connections, the next is a 503 at once; after SIGCONT they
#      all complete.
#   4. Headless Chromium (Debian's chromium, installed here when missing)
#      loads the page against one database with tasks on the local store
#      and on Redis; the DOM (--dump-dom) shows the counts, a dead letter
#      with its reason and a paused queue; the screenshot is kept in
#      test/out/board/board.png; then, driven through the DevTools protocol
#      (test/board/click.js, Node with chrome-remote-interface from npm),
#      clicks on Pause, Resume, Turn off, Cancel, Redrive and Delete (the
#      confirm dialogs accepted) show on the page and change the stores
#      (test/out/board/after-clicks.png).
#   5. No password in what the board shows: a table with one in its URL,
#      and one whose env: URL has one the server refuses.
# Prints PASS/FAIL lines; exits non-zero on failure.
set -u
LC_ALL=C
export LC_ALL
root=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
tmp=${TEST_TMP:-$(mktemp -d)}
fails=0
pass() { echo "PASS board/$1"; }
fail() {
  echo "FAIL board/$1: $2"
  fails=$((fails + 1))
}
cd "$root" || exit 1
# shellcheck source=test/lib/build.sh disable=SC1091
. "$root/test/lib/build.sh"
# shellcheck source=test/lib/servers.sh disable=SC1091
. "$root/test/lib/servers.sh"
ext=${STATEVTAB_EXT:-$root/statevtab.so}

# curl and chromium, from Debian, when missing.
if ! command -v curl >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
  sv_install_deps curl chromium >"$tmp/apt.log" 2>&1 || :
fi
for tool in curl chromium; do
  command -v "$tool" >/dev/null 2>&1 || fail "tools" "$tool is missing and could not be installed (see $tmp/apt.log)"
done
command -v curl >/dev/null 2>&1 || exit 1

# Node and chrome-remote-interface (npm, pinned, once into test/out/board-node)
# for the clicks on the page.
nodedir=$root/test/out/board-node
node_ok=0
sv_npm_module "$nodedir" chrome-remote-interface@0.34.0 "$tmp/npm.log" && node_ok=1

board=$root/build-asan/statevtab-board
board_ext=${STATEVTAB_EXT_ASAN:-}
if [ -x "$board" ] && [ -n "$board_ext" ]; then
  pass "asan: build-asan/statevtab-board and its module are built"
else
  fail "asan" "no sanitizer build of the board (build-asan/statevtab-board, STATEVTAB_EXT_ASAN); testing the plain build"
  board=$root/statevtab-board
  board_ext=$ext
fi
if [ ! -x "$root/statevtab-board" ]; then
  fail "build" "statevtab-board was not built (configure needs libmicrohttpd-dev)"
  exit 1
fi
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# --- helpers ----------------------------------------------------------------
sq() { sqlite3 -batch "$1" -cmd ".load $ext" "${@:2}" 2>&1; }
# jq_ FILE SQL-EXPR: evaluate an expression over the JSON text j of FILE.
jq_() { sqlite3 -batch :memory: "SELECT $2 FROM (SELECT CAST(readfile('$1') AS TEXT) AS j)" 2>&1; }

# start_board NAME DB [ARG...]: start a board on a free port; sets PORT,
# TOKEN, URL and BPID.  Returns 1 (after a FAIL) when it did not come up.
start_board() {
  local name=$1 db=$2 i
  shift 2
  "$board" "$db" --port 0 --ext "$board_ext" --sample-ms 200 "$@" \
    >"$tmp/$name.out" 2>"$tmp/$name.err" &
  BPID=$!
  for i in $(seq 1 100); do
    if grep -q 'listening on' "$tmp/$name.out" 2>/dev/null; then break; fi
    kill -0 "$BPID" 2>/dev/null || break
    sleep 0.1
  done
  PORT=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/$name.out")
  TOKEN=$(sed -n 's|.*write token \([0-9a-f]*\) .*|\1|p' "$tmp/$name.out")
  if [ -z "$PORT" ]; then
    fail "$name/start" "the board did not start: $(cat "$tmp/$name.out" "$tmp/$name.err")"
    kill "$BPID" 2>/dev/null
    return 1
  fi
  URL=http://127.0.0.1:$PORT
  return 0
}
# stop_board NAME: SIGTERM; exit 0 and no sanitizer report.
stop_board() {
  local name=$1 rc=0
  kill -TERM "$BPID" 2>/dev/null
  wait "$BPID" || rc=$?
  if [ "$rc" -eq 0 ] && ! grep -q -E 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: ' "$tmp/$name.err"; then
    pass "$name/sanitizers: exit 0 after SIGTERM, no ASan/LSan/UBSan report"
  else
    fail "$name/sanitizers" "exit $rc; stderr: $(head -c 3000 "$tmp/$name.err")"
  fi
}
# get PATH [CURL-ARG...]: the body in $tmp/r.json, the status in CODE.
get() {
  local path=$1
  shift
  CODE=$(curl -s -o "$tmp/r.json" -w '%{http_code}' --max-time 30 "$@" "$URL$path")
}
# post PATH JSON [CURL-ARG...]: as the page does (token, JSON body).
post() {
  local path=$1 body=$2
  shift 2
  get "$path" -X POST -H 'Content-Type: application/json' \
    -H "Authorization: Bearer $TOKEN" --data-binary "$body" "$@"
}
# check NAME WANT GOT
check() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "want [$2] got [$3]"; fi
}
# counts TABLE QUEUE: "pending=.. claimed=.. ..." of that queue in r.json.
counts() {
  jq_ "$tmp/r.json" "(SELECT 'pending=' || (q.value ->> 'pending') || ' claimed=' || (q.value ->> 'claimed') || ' dead=' || (q.value ->> 'dead') || ' completed=' || (q.value ->> 'completed') || ' last_minute=' || (q.value ->> 'completed_last_minute') || ' per_minute59=' || (q.value ->> '\$.completed_per_minute[59]') || ' paused=' || (q.value ->> 'paused') FROM json_each(j, '\$.tasks') t, json_each(t.value, '\$.queues') q WHERE t.value ->> 'table' = '$1' AND q.value ->> 'queue' = '$2')"
}

export BOARD_REDIS=${STATEVTAB_REDIS_URL:-} BOARD_PG=${STATEVTAB_PG_URL:-}
tag=b47_$$

# seed DB OPTS: the tables and rows every part starts from.
seed() {
  local o=$2
  sq "$1" "
CREATE VIRTUAL TABLE dl USING state_dead_letters($o);
CREATE VIRTUAL TABLE jobs USING state_tasks($o, dead_letters='dl');
CREATE VIRTUAL TABLE flags USING state_flags($o);
CREATE VIRTUAL TABLE locks USING state_leases($o);
CREATE VIRTUAL TABLE runs USING state_executions($o);
INSERT INTO jobs(id, queue, name, max_attempts) VALUES ('t-dead1', 'mail', 'send', 1), ('t-dead2', 'mail', 'send', 1);
SELECT count(state_fail('jobs', id, lease_token, 'smtp said no')) FROM state_claim('jobs', 'mail', 'w0', 30000, 2);
INSERT INTO jobs(id, queue, name) VALUES ('t-claim', 'mail', 'send');
SELECT count(*) FROM state_claim('jobs', 'mail', 'worker-9', 600000, 1);
INSERT INTO jobs(id, queue, name) VALUES ('t-pend', 'mail', 'send'), ('t-sms', 'sms', 'send'), ('t-done', 'done', 'x');
SELECT count(state_complete('jobs', id, lease_token)) FROM state_claim('jobs', 'done', 'w1', 30000, 1);
SELECT state_pause('jobs', 'sms');
INSERT INTO flags(name, enabled, rollout) VALUES ('new-ui', 1, 40);
SELECT state_lease('locks', 'nightly', 'host-a', 600000) > 0;
INSERT INTO runs(id, name) VALUES ('run-1', 'import');
SELECT state_progress('runs', 'run-1', '{\"step\":3}');" >"$tmp/seed.out"
}

# --- 1. the JSON endpoints and the actions, per store --------------------------
for store in sqlite redis postgresql; do
  case $store in
  sqlite) opts="store='sqlite:'" ;;
  redis)
    [ -n "$BOARD_REDIS" ] || { fail "$store" "no Redis server (STATEVTAB_REDIS_URL unset)"; continue; }
    opts="store='env:BOARD_REDIS', prefix='${tag}:'"
    ;;
  postgresql)
    [ -n "$BOARD_PG" ] || { fail "$store" "no PostgreSQL server (STATEVTAB_PG_URL unset)"; continue; }
    opts="store='env:BOARD_PG', schema='${tag}'"
    ;;
  esac
  db=$tmp/$store.db
  seed "$db" "$opts"
  check "$store/seed" "2 1 1 1 1 1" "$(tr '\n' ' ' <"$tmp/seed.out" | sed 's/ $//')"
  start_board "$store" "$db" || continue
  sleep 0.5 # a few samples in the ring
  get /api/state
  check "$store/state: 200" 200 "$CODE"
  check "$store/state: queue mail" "pending=1 claimed=1 dead=2 completed=0 last_minute=0 per_minute59=0 paused=0" "$(counts jobs mail)"
  check "$store/state: queue sms paused" "pending=1 claimed=0 dead=0 completed=0 last_minute=0 per_minute59=0 paused=1" "$(counts jobs sms)"
  check "$store/state: queue done, completions of the last minute" "pending=0 claimed=0 dead=0 completed=1 last_minute=1 per_minute59=1 paused=0" "$(counts jobs done)"
  check "$store/state: the store of each table" "5 $store" \
    "$(jq_ "$tmp/r.json" "(SELECT count(*) || ' ' || group_concat(DISTINCT substr(value ->> 'store', 1, instr(value ->> 'store', ':') - 1)) FROM json_each(j, '\$.tables'))")"
  check "$store/state: dead letters with reason and full task" "jobs t-dead1|smtp said no|dead|send t-dead2|smtp said no|dead|send" \
    "$(jq_ "$tmp/r.json" "(j ->> '\$.dead_letters[0].tasks') || ' ' || (SELECT group_concat(v, ' ') FROM (SELECT r.value ->> 'task_id' || '|' || (r.value ->> 'reason') || '|' || (r.value ->> '\$.task.state') || '|' || (r.value ->> '\$.task.name') AS v FROM json_each(j, '\$.dead_letters[0].rows') r ORDER BY 1))")"
  check "$store/state: claimed task, lease owner, expiry ahead" "t-claim|worker-9|0|1" \
    "$(jq_ "$tmp/r.json" "(SELECT c.value ->> 'id' || '|' || (c.value ->> 'lease_owner') || '|' || (c.value ->> 'expired') || '|' || ((c.value ->> 'lease_expires_at') > (j ->> 'now')) FROM json_each(j, '\$.tasks[0].claimed') c)")"
  check "$store/state: lease held by host-a" "nightly|host-a|1|1" \
    "$(jq_ "$tmp/r.json" "(SELECT r.value ->> 'name' || '|' || (r.value ->> 'owner') || '|' || (r.value ->> 'depth') || '|' || (r.value ->> 'held') FROM json_each(j, '\$.leases[0].rows') r)")"
  check "$store/state: flag enabled, rollout" "new-ui|1|40" \
    "$(jq_ "$tmp/r.json" "(SELECT r.value ->> 'name' || '|' || (r.value ->> 'enabled') || '|' || (r.value ->> 'rollout') FROM json_each(j, '\$.flags[0].rows') r)")"
  check "$store/state: execution progress" 'run-1|[{"step":3}]' \
    "$(jq_ "$tmp/r.json" "(SELECT r.value ->> 'id' || '|' || (r.value -> 'progress') FROM json_each(j, '\$.executions[0].rows') r)")"
  check "$store/state: backlog ring of mail (samples, pending 1)" "1 1" \
    "$(jq_ "$tmp/r.json" "(json_array_length(j, '\$.tasks[0].backlog.mail.t') >= 2) || ' ' || (j ->> '\$.tasks[0].backlog.mail.pending[#-1]')")"
  get "/api/state?limit=1"
  check "$store/state?limit=1: one dead letter" "200 1" "$CODE $(jq_ "$tmp/r.json" "json_array_length(j, '\$.dead_letters[0].rows')")"

  # Writes without the token, or with a wrong one: refused, nothing changes.
  get /api/pause -X POST -H 'Content-Type: application/json' --data-binary '{"table":"jobs","queue":"mail"}'
  check "$store/no token: 401" "401 /api/pause: a write needs the board's token (Authorization: Bearer TOKEN)" "$CODE $(jq_ "$tmp/r.json" "j ->> 'error'")"
  get /api/flag -X POST -H 'Content-Type: application/json' -H "Authorization: Bearer ${TOKEN}x" --data-binary '{"table":"flags","name":"new-ui","enabled":false}'
  check "$store/wrong token: 403" "403 /api/flag: wrong token" "$CODE $(jq_ "$tmp/r.json" "j ->> 'error'")"
  check "$store/refused writes changed nothing" "0|1" "$(sq "$db" "SELECT state_paused('jobs', 'mail') || '|' || (SELECT enabled FROM flags WHERE name = 'new-ui')")"

  # The actions, each read back from the store by another process.
  post /api/pause '{"table":"jobs","queue":"mail"}'
  check "$store/pause" '200 {"ok":true,"changed":1} 1' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state_paused('jobs', 'mail')")"
  post /api/resume '{"table":"jobs","queue":"sms"}'
  check "$store/resume" '200 {"ok":true,"changed":1} 0' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state_paused('jobs', 'sms')")"
  post /api/cancel '{"table":"jobs","id":"t-claim"}'
  check "$store/cancel a claimed task" '200 {"ok":true,"changed":1} cancelled' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state FROM jobs WHERE id = 't-claim'")"
  post /api/cancel '{"table":"jobs","id":"t-done"}'
  check "$store/cancel a completed task: nothing" '200 {"ok":true,"changed":0} completed' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state FROM jobs WHERE id = 't-done'")"
  post /api/flag '{"table":"flags","name":"new-ui","enabled":false}'
  check "$store/flag off" '200 {"ok":true,"changed":1} 0' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT enabled FROM flags WHERE name = 'new-ui'")"
  dl1=$(sq "$db" "SELECT id FROM dl WHERE task_id = 't-dead1'")
  dl2=$(sq "$db" "SELECT id FROM dl WHERE task_id = 't-dead2'")
  post /api/redrive "{\"table\":\"dl\",\"id\":\"$dl1\"}"
  check "$store/redrive one dead letter" '200 {"ok":true,"changed":1} pending|0|1' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state || '|' || attempts || '|' || (SELECT count(*) FROM dl) FROM jobs WHERE id = 't-dead1'")"
  post /api/dead/delete "{\"table\":\"dl\",\"id\":\"$dl2\"}"
  check "$store/delete a dead letter" '200 {"ok":true,"changed":1} dead|0' "$CODE $(cat "$tmp/r.json") $(sq "$db" "SELECT state || '|' || (SELECT count(*) FROM dl) FROM jobs WHERE id = 't-dead2'")"
  get /api/state
  check "$store/state after the actions" "pending=2 claimed=0 dead=1 completed=0 last_minute=0 per_minute59=0 paused=1" "$(counts jobs mail)"
  stop_board "$store"
done

# --- 2. bad input to every endpoint ---------------------------------------------
# ghost: a tasks table whose env: variable the board does not have, so that
# its statements fail (500 with the extension's message).
db=$tmp/sqlite.db
if [ -n "$BOARD_REDIS" ]; then
  BOARD_GHOST=$BOARD_REDIS sq "$db" "CREATE VIRTUAL TABLE ghost USING state_tasks(store='env:BOARD_GHOST', prefix='${tag}g:')" >/dev/null
fi
if start_board bad "$db"; then
  A="Authorization: Bearer $TOKEN"
  J='Content-Type: application/json'
  big=$(head -c 70000 /dev/zero | tr '\0' x)
  # status|method|path|body|message (the start of the error); the body is
  # sent with the token and Content-Type JSON unless noted.
  while IFS='|' read -r want method path body msg; do
    [ -n "$want" ] || continue
    case $method in
    GET) get "$path" ;;
    HOST) get "$path" -H 'Host: attacker.example:80' ;;
    NOTYPE) get "$path" -X POST -H "$A" --data-binary "$body" ;;
    BIG) get "$path" -X POST -H "$A" -H "$J" --data-binary "$big" ;;
    *) get "$path" -X "$method" -H "$A" -H "$J" --data-binary "$body" ;;
    esac
    got=$(jq_ "$tmp/r.json" "j ->> 'error'")
    case $got in
    "$msg"*) ok=1 ;;
    *) ok=0 ;;
    esac
    if [ "$CODE" = "$want" ] && [ "$ok" = 1 ]; then
      pass "bad input: $method $path $body -> $want $got"
    else
      fail "bad input: $method $path $body" "want $want '$msg...' got $CODE $(head -c 300 "$tmp/r.json")"
    fi
  done <<'EOF'
400|GET|/?x=1||/: unknown query parameter 'x'
400|GET|/board.js?v=2||/board.js: unknown query parameter 'v'
400|GET|/board.css?v=2||/board.css: unknown query parameter 'v'
400|GET|/api/state?limit=0||/api/state: limit must be an integer from 1 to 1000 (got '0')
400|GET|/api/state?limit=1001||/api/state: limit must be an integer from 1 to 1000 (got '1001')
400|GET|/api/state?limit=abc||/api/state: limit must be an integer from 1 to 1000 (got 'abc')
400|GET|/api/state?limit=||/api/state: limit must be an integer from 1 to 1000 (got '')
400|GET|/api/state?since=1||/api/state: unknown query parameter 'since' (limit)
404|GET|/nope||/nope: no such page
405|POST|/api/state|{}|/api/state: method POST not allowed (GET)
405|POST|/|{}|/: method POST not allowed (GET)
405|GET|/api/pause||/api/pause: method GET not allowed (POST)
403|HOST|/api/state||host not allowed
400|NOTYPE|/api/pause|{"table":"jobs","queue":"mail"}|/api/pause: Content-Type must be application/json
413|BIG|/api/pause||/api/pause: the body is larger than 65536 bytes
400|POST|/api/pause|{"table":"jobs"|/api/pause: the body is not valid JSON
400|POST|/api/pause||/api/pause: the body is not valid JSON
400|POST|/api/pause|["jobs","mail"]|/api/pause: the body must be a JSON object
400|POST|/api/pause|{"table":"jobs"}|/api/pause: member 'queue' is missing
400|POST|/api/pause|{"table":"jobs","queue":7}|/api/pause: member 'queue' must be a string
400|POST|/api/pause|{"table":"jobs","queue":""}|/api/pause: member 'queue' is empty
400|POST|/api/pause|{"table":"jobs","queue":"a","color":"red"}|/api/pause: unknown member 'color' (table queue)
400|POST|/api/pause|{"table":"jobs","queue":"a","queue":"b"}|/api/pause: member 'queue' given twice
400|POST|/api/pause|{"table":"nosuch","queue":"a"}|/api/pause: no state_tasks table named 'nosuch'
400|POST|/api/pause|{"table":"flags","queue":"a"}|/api/pause: no state_tasks table named 'flags'
400|POST|/api/resume|{"queue":"a"}|/api/resume: member 'table' is missing
400|POST|/api/resume|{"table":null,"queue":"a"}|/api/resume: member 'table' must be a string
400|POST|/api/cancel|{"table":"jobs"}|/api/cancel: member 'id' is missing
400|POST|/api/cancel|{"table":"dl","id":"x"}|/api/cancel: no state_tasks table named 'dl'
400|POST|/api/cancel|{"table":"jobs","id":["x"]}|/api/cancel: member 'id' must be a string
400|POST|/api/redrive|{"table":"jobs"}|/api/redrive: no state_dead_letters table named 'jobs'
400|POST|/api/redrive|{"table":"dl","tasks":"flags"}|/api/redrive: no state_tasks table named 'flags' whose dead letters are 'dl'
400|POST|/api/redrive|{"table":"dl","id":5}|/api/redrive: member 'id' must be a string
400|POST|/api/dead/delete|{"table":"dl"}|/api/dead/delete: member 'id' is missing
404|POST|/api/dead/delete|{"table":"dl","id":"nope"}|/api/dead/delete: no row of 'dl' with that id
400|POST|/api/dead/delete|{"table":"jobs","id":"x"}|/api/dead/delete: no state_dead_letters table named 'jobs'
400|POST|/api/flag|{"table":"flags","name":"new-ui"}|/api/flag: member 'enabled' is missing
400|POST|/api/flag|{"table":"flags","name":"new-ui","enabled":1}|/api/flag: member 'enabled' must be true or false
404|POST|/api/flag|{"table":"flags","name":"nope","enabled":true}|/api/flag: no row of 'flags' with that name
400|POST|/api/flag|{"table":"locks","name":"x","enabled":true}|/api/flag: no state_flags table named 'locks'
500|POST|/api/pause|{"table":"ghost","queue":"a"}|/api/pause: state_pause: no such table: ghost
500|POST|/api/cancel|{"table":"ghost","id":"a"}|/api/cancel: state_tasks: environment variable 'BOARD_GHOST' is not set
EOF
  get /api/state
  check "unreachable table: listed with its error, the others as usual" "200|state_tasks: environment variable 'BOARD_GHOST' is not set|1" \
    "$CODE|$(jq_ "$tmp/r.json" "(SELECT t.value ->> 'error' FROM json_each(j, '\$.tasks') t WHERE t.value ->> 'table' = 'ghost') || '|' || (SELECT json_array_length(t.value, '\$.queues') > 0 FROM json_each(j, '\$.tasks') t WHERE t.value ->> 'table' = 'jobs')")"
  # Not HTTP at all, and a request cut short: the board stays up.
  printf 'GARBAGE\r\n\r\n\x00\xff' | timeout 5 curl -s -o /dev/null "telnet://127.0.0.1:$PORT" 2>/dev/null
  timeout 5 curl -s -o /dev/null -X POST -H "$A" -H "$J" -H 'Content-Length: 100' --data-binary '{"tab' --max-time 1 "$URL/api/pause" 2>/dev/null
  get /api/state
  check "bad input: the board still answers" 200 "$CODE"
  stop_board bad
fi

# --- 3. a long request does not block the others ---------------------------------
if [ -n "$BOARD_REDIS" ] && start_board slow "$tmp/redis.db"; then
  trap 'sv_resume_redis >/dev/null 2>&1' EXIT
  if sv_pause_redis; then
    curl -s -o "$tmp/slow.json" -w '%{http_code}' --max-time 60 "$URL/api/state" >"$tmp/slow.code" &
    slow=$!
    sleep 1
    t0=$(date +%s%3N)
    get /
    c1=$CODE
    get /board.js
    ms=$(($(date +%s%3N) - t0))
    if kill -0 "$slow" 2>/dev/null && [ "$c1 $CODE" = "200 200" ] && [ "$ms" -lt 2000 ]; then
      pass "concurrency: while a request waits on a stopped Redis, the page is served ($ms ms)"
    else
      fail "concurrency" "waiting request alive: $(kill -0 "$slow" 2>/dev/null && echo yes || echo no); page $c1 $CODE in $ms ms"
    fi
    # 15 more requests wait on Redis (16 connections in the pool): the next
    # one is refused at once.
    for i in $(seq 2 16); do
      curl -s -o /dev/null -w '%{http_code}' --max-time 60 "$URL/api/state" >"$tmp/slow$i.code" &
      eval "slow$i=\$!"
    done
    sleep 1.5
    get /api/state --max-time 10
    check "pool: 16 requests hold a connection, the 17th is a 503" \
      "503 busy: 16 requests are reading the database; try again" "$CODE $(jq_ "$tmp/r.json" "j ->> 'error'")"
    sv_resume_redis
    wait "$slow"
    codes=$(cat "$tmp/slow.code")
    for i in $(seq 2 16); do
      eval "wait \$slow$i"
      codes="$codes $(cat "$tmp/slow$i.code")"
    done
    check "concurrency: the 16 waiting requests complete after SIGCONT" "200 200 200 200 200 200 200 200 200 200 200 200 200 200 200 200" "$codes"
  else
    fail "concurrency" "could not stop redis-server"
  fi
  trap - EXIT
  stop_board slow
fi

# --- 4. the page in headless Chromium, tasks on two stores ------------------------
if command -v chromium >/dev/null 2>&1 && [ -n "$BOARD_REDIS" ]; then
  db=$tmp/two.db
  seed "$db" "store='sqlite:'"
  sq "$db" "
CREATE VIRTUAL TABLE rdl USING state_dead_letters(store='env:BOARD_REDIS', prefix='${tag}2:');
CREATE VIRTUAL TABLE rjobs USING state_tasks(store='env:BOARD_REDIS', prefix='${tag}2:', dead_letters='rdl');
INSERT INTO rjobs(id, queue, name) VALUES ('r1', 'resize', 'img'), ('r2', 'resize', 'img'), ('r3', 'thumbs', 'img');
SELECT state_pause('rjobs', 'resize');" >/dev/null
  out=$root/test/out/board
  mkdir -p "$out"
  chrome() {
    timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
      --no-first-run --disable-background-networking --disable-component-update \
      --disable-sync --user-data-dir="$tmp/chrome" --window-size=1400,1500 \
      --virtual-time-budget=5000 "$@" 2>>"$tmp/chrome.err"
  }
  if start_board page "$db"; then
    chrome --dump-dom "$URL/#token=$TOKEN" >"$tmp/dom1.html"
    dom=$tmp/dom1.html
    if grep -q 'data-loaded="1"' "$dom"; then pass "page: loaded /api/state"; else fail "page" "the page never loaded its state: $(head -c 500 "$dom"; tail -5 "$tmp/chrome.err")"; fi
    row() { grep -o "<tr class=\"queue\" data-table=\"$1\" data-queue=\"$2\" data-counts=\"[^\"]*\"" "$3" | sed 's/.*data-counts="//; s/"$//'; }
    check "page: local queue mail counts" "pending=1 scheduled=0 waiting=0 claimed=1 expired=0 completed=0 failed=0 dead=2 cancelled=0 paused=0" "$(row jobs mail "$dom")"
    check "page: local queue sms paused" "pending=1 scheduled=0 waiting=0 claimed=0 expired=0 completed=0 failed=0 dead=0 cancelled=0 paused=1" "$(row jobs sms "$dom")"
    check "page: Redis queue resize paused" "pending=2 scheduled=0 waiting=0 claimed=0 expired=0 completed=0 failed=0 dead=0 cancelled=0 paused=1" "$(row rjobs resize "$dom")"
    check "page: Redis queue thumbs running" "pending=1 scheduled=0 waiting=0 claimed=0 expired=0 completed=0 failed=0 dead=0 cancelled=0 paused=0" "$(row rjobs thumbs "$dom")"
    n=$(grep -o '<tr class="dead" data-id="[^"]*" data-task="t-dead1"><td>[^<]*</td><td>mail</td><td>send</td><td class="num[^"]*">1</td><td class="wrap reason">smtp said no</td>' "$dom" | wc -l)
    check "page: the dead letter of t-dead1 with its reason" 1 "$n"
    if grep -q '<span class="badge paused">paused</span>' "$dom" && grep -q '&quot;id&quot;: &quot;t-dead1&quot;\|"id": "t-dead1"' "$dom"; then
      pass "page: a paused badge and the dead task's JSON are shown"
    else
      fail "page" "no paused badge or dead task JSON in the DOM"
    fi
    chrome --screenshot="$out/board.png" "$URL/#token=$TOKEN" >/dev/null
    if [ -s "$out/board.png" ]; then pass "page: screenshot test/out/board/board.png ($(stat -c %s "$out/board.png") bytes)"; else fail "page" "no screenshot"; fi
    # Clicks on the page's buttons (DevTools protocol, test/board/click.js),
    # each waited for on the page, then read back from the stores.
    if ((node_ok)); then
      chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --no-first-run --disable-background-networking --disable-component-update \
        --disable-sync --user-data-dir="$tmp/chrome-cdp" --window-size=1400,1500 \
        --remote-debugging-port=0 about:blank 2>"$tmp/cdp.err" >/dev/null &
      cpid=$!
      dport=
      for _ in $(seq 1 100); do
        dport=$(sed -n 's|^DevTools listening on ws://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$tmp/cdp.err")
        [ -n "$dport" ] && break
        sleep 0.1
      done
      q='tr.queue[data-table="rjobs"][data-queue'
      if NODE_PATH=$nodedir/node_modules timeout 120 node "$root/test/board/click.js" "$dport" "$URL/#token=$TOKEN" "$out/after-clicks.png" \
        "$q=\"thumbs\"] button=>document.querySelector('$q=\"thumbs\"]').dataset.counts.indexOf('paused=1') > 0" \
        "$q=\"resize\"] button=>document.querySelector('$q=\"resize\"]').dataset.counts.indexOf('paused=0') > 0" \
        "tr.flag[data-name=\"new-ui\"] button=>document.querySelector('tr.flag[data-name=\"new-ui\"]').dataset.enabled === '0'" \
        "tr.claimed[data-id=\"t-claim\"] button=>!document.querySelector('tr.claimed[data-id=\"t-claim\"]')" \
        "tr.dead[data-task=\"t-dead1\"] button=>!document.querySelector('tr.dead[data-task=\"t-dead1\"]')" \
        "tr.dead[data-task=\"t-dead2\"] button.danger=>!document.querySelector('tr.dead[data-task=\"t-dead2\"]')" \
        >"$tmp/click.log" 2>&1; then
        pass "page clicks: Pause, Resume, Turn off, Cancel, Redrive and Delete, each shown on the page ($(grep -c '^ok' "$tmp/click.log") steps)"
      else
        fail "page clicks" "$(cat "$tmp/click.log"; tail -3 "$tmp/cdp.err")"
      fi
      kill "$cpid" 2>/dev/null
      wait "$cpid" 2>/dev/null
      check "page clicks: the stores changed (paused thumbs, resize; flag; t-claim; t-dead1; dead letters; t-dead2)" \
        "1|0|0|cancelled|pending|0|dead" \
        "$(sq "$db" "SELECT state_paused('rjobs', 'thumbs') || '|' || state_paused('rjobs', 'resize') || '|' || (SELECT enabled FROM flags WHERE name = 'new-ui') || '|' || (SELECT state FROM jobs WHERE id = 't-claim') || '|' || (SELECT state FROM jobs WHERE id = 't-dead1') || '|' || (SELECT count(*) FROM dl) || '|' || (SELECT state FROM jobs WHERE id = 't-dead2')")"
    else
      fail "page clicks" "node with chrome-remote-interface is not available (log: $tmp/npm.log)"
    fi
    chrome --dump-dom "$URL/" >"$tmp/dom2.html"
    check "page: after the clicks, thumbs shows paused" "pending=1 scheduled=0 waiting=0 claimed=0 expired=0 completed=0 failed=0 dead=0 cancelled=0 paused=1" "$(row rjobs thumbs "$tmp/dom2.html")"
    if grep -q 'read-only' "$tmp/dom2.html" && grep -q 'class="readonly"' "$tmp/dom2.html"; then
      pass "page: without #token the page is read-only"
    else
      fail "page" "a page opened without #token does not say read-only"
    fi
    stop_board page
  fi
fi

# --- 5. no password in what the board shows ------------------------------------------
# A PostgreSQL table with a password in its URL (trust auth accepts it), and
# a Redis table whose env: URL, in the board's environment, has a password
# the server refuses: the state shows both (the second with its error) and
# neither the JSON nor the board's output holds the password.
if [ -n "$BOARD_PG" ] && [ -n "$BOARD_REDIS" ]; then
  db=$tmp/secret.db
  canary=canaryPW4711
  pgurl=$(echo "$BOARD_PG" | sed "s|://postgres@|://postgres:$canary@|")
  BOARD_SECRET=$BOARD_REDIS sq "$db" "
CREATE VIRTUAL TABLE pgjobs USING state_tasks(store='$pgurl', schema='${tag}s');
CREATE VIRTUAL TABLE rjobs USING state_tasks(store='env:BOARD_SECRET', prefix='${tag}s:');
INSERT INTO pgjobs(queue, name) VALUES ('q', 'x');" >/dev/null
  export BOARD_SECRET=${BOARD_REDIS/redis:\/\//redis://:$canary@}
  if start_board secret "$db"; then
    get /api/state
    check "secrets: the state shows both tables, redacted, the Redis one with its error" "200|1|1|1" \
      "$CODE|$(jq_ "$tmp/r.json" "(j ->> '\$.tasks[0].queues[0].pending') || '|' || (j ->> '\$.tasks[0].store' LIKE '%postgres:***@%') || '|' || (j ->> '\$.tasks[1].error' LIKE 'state_tasks: redis: authentication failed for env:BOARD_SECRET: %')")"
    if grep -q "$canary" "$tmp/r.json" "$tmp/secret.out" "$tmp/secret.err"; then
      fail "secrets" "the password appears: $(grep -h -o ".\{60\}$canary.\{20\}" "$tmp/r.json" "$tmp/secret.out" "$tmp/secret.err" | head -2)"
    else
      pass "secrets: no password in the JSON or the board's output"
    fi
    stop_board secret
  fi
  unset BOARD_SECRET
fi

# --- the plain build: options and the default module -------------------------------
b=$root/statevtab-board
check "cli: --help" 0 "$("$b" --help >/dev/null 2>&1; echo $?)"
for args in "--port 70000 x.db" "--bind nowhere x.db" "--nosuch 1 x.db" "--token short x.db" "--port" "" "a.db b.db" "--sample-ms 5 x.db"; do
  # shellcheck disable=SC2086
  msg=$("$b" $args 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" = 2 ] && [ -n "$msg" ]; then pass "cli: '$args' -> 2: $(echo "$msg" | head -1)"; else fail "cli: '$args'" "exit $rc: $msg"; fi
done
msg=$("$b" "$tmp/nosuch.db" --port 0 2>&1)
check "cli: a missing database exits 1" "1 yes" "$? $(echo "$msg" | grep -q 'cannot open' && echo yes)"
msg=$("$b" "$tmp/sqlite.db" --port 0 --ext "$tmp/nosuch.so" 2>&1)
check "cli: a missing module exits 1" "1 yes" "$? $(echo "$msg" | grep -q 'cannot load the extension' && echo yes)"
"$b" "$tmp/sqlite.db" --port 0 >"$tmp/plain.out" 2>&1 &
pid=$!
sleep 0.5
check "cli: the default module is statevtab.so next to the program" "statevtab-board: extension $root/statevtab.so" "$(grep 'extension' "$tmp/plain.out")"
kill "$pid"
wait "$pid"

[ "$fails" -eq 0 ]
