#!/usr/bin/env bash
# shellcheck disable=SC2119  # (the sv_* functions default DIR to the exported one)
# test/suites/05-servers.sh -- the private servers that test/run starts
# (test/lib/servers.sh), before any store test relies on them:
#   - PostgreSQL answers on STATEVTAB_PG_URL and on its unix socket, listens
#     on 127.0.0.1 only, runs from STATEVTAB_PG_DIR (not a system cluster);
#     sv_restart_postgres keeps the port and the data, changes the PID
#   - Redis answers on STATEVTAB_REDIS_URL and STATEVTAB_REDIS_SOCK, listens
#     on 127.0.0.1 only, runs from STATEVTAB_REDIS_DIR with appendonly yes /
#     appendfsync always; a key SET before sv_restart_redis is there after
#     it; sv_pause_redis makes a client time out, sv_resume_redis revives it
# Run by test/run; needs the STATEVTAB_PG_* and STATEVTAB_REDIS_* variables.
# A missing server is a FAIL, never a skip.

set -u
ROOT=${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$ROOT" || exit 1
# shellcheck source=test/lib/servers.sh
. "$ROOT/test/lib/servers.sh"

nfail=0
pass() { echo "PASS servers/$*"; }
fail() {
  echo "FAIL servers/$*"
  nfail=$((nfail + 1))
}
# check NAME WANT GOT
check() {
  if [ "$3" = "$2" ]; then pass "$1"; else fail "$1: want [$2], got [$3]"; fi
}

export PGCONNECT_TIMEOUT=5
unset REDISCLI_AUTH
pg() { PGOPTIONS='-c client_min_messages=warning' timeout 20 psql -X -q -At -v ON_ERROR_STOP=1 "$STATEVTAB_PG_URL" "$@" 2>&1; }
rc() { timeout 10 redis-cli -u "$STATEVTAB_REDIS_URL" "$@" 2>&1; }

# listeners PORT: the local addresses listening on PORT (sorted, one line).
listeners() {
  ss -Hltn "( sport = :$1 )" 2>/dev/null | awk '{print $4}' | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# --- PostgreSQL ------------------------------------------------------------------
if [ -z "${STATEVTAB_PG_URL:-}" ] || [ -z "${STATEVTAB_PG_DIR:-}" ]; then
  fail "postgres: STATEVTAB_PG_URL/STATEVTAB_PG_DIR unset (test/run did not start PostgreSQL, or STATEVTAB_NO_SERVERS)"
else
  check postgres/select-1 1 "$(pg -c 'select 1')"
  check postgres/database statevtab_test "$(pg -c 'select current_database()')"
  check postgres/listen_addresses 127.0.0.1 "$(pg -c 'show listen_addresses')"
  check postgres/port "$STATEVTAB_PG_PORT" "$(pg -c 'show port')"
  check postgres/data_directory "$STATEVTAB_PG_DIR/data" "$(pg -c 'show data_directory')"
  if command -v ss >/dev/null 2>&1; then
    check postgres/listens-loopback-only "127.0.0.1:$STATEVTAB_PG_PORT" "$(listeners "$STATEVTAB_PG_PORT")"
  fi
  check postgres/unix-socket 1 "$(timeout 20 psql -X -At -h "$STATEVTAB_PG_DIR" \
    -p "$STATEVTAB_PG_PORT" -U postgres -d statevtab_test -c 'select 1' 2>&1)"
  if sv__is "${STATEVTAB_PG_PID:-}" postgres; then
    pass "postgres/pid $STATEVTAB_PG_PID is the postmaster"
  else
    fail "postgres/pid: STATEVTAB_PG_PID=${STATEVTAB_PG_PID:-} is not a running postgres"
  fi

  out=$(pg -c 'drop schema if exists sv05 cascade' -c 'create schema sv05' \
    -c 'create table sv05.t(k text primary key, v text)' \
    -c "insert into sv05.t values ('a', 'it''s; \$\$ \\ here')" -c 'select count(*) from sv05.t')
  check postgres/write 1 "$out"
  old_pid=${STATEVTAB_PG_PID:-}
  t0=$(date +%s%3N)
  if sv_restart_postgres; then
    pass "postgres/restart ($(($(date +%s%3N) - t0)) ms)"
  else
    fail "postgres/restart: sv_restart_postgres failed"
  fi
  if [ -n "${STATEVTAB_PG_PID:-}" ] && [ "$STATEVTAB_PG_PID" != "$old_pid" ] &&
    ! sv__alive "$old_pid"; then
    pass "postgres/restart-new-pid ($old_pid -> $STATEVTAB_PG_PID)"
  else
    fail "postgres/restart-new-pid: old $old_pid, new ${STATEVTAB_PG_PID:-} (old alive: $(sv__alive "$old_pid" && echo yes || echo no))"
  fi
  check postgres/after-restart-same-url "it's; \$\$ \\ here" "$(pg -c "select v from sv05.t where k = 'a'")"
  pg -c 'drop schema sv05 cascade' >/dev/null
fi

# --- Redis -----------------------------------------------------------------------
if [ -z "${STATEVTAB_REDIS_URL:-}" ] || [ -z "${STATEVTAB_REDIS_DIR:-}" ]; then
  fail "redis: STATEVTAB_REDIS_URL/STATEVTAB_REDIS_DIR unset (test/run did not start Redis, or STATEVTAB_NO_SERVERS)"
else
  check redis/ping PONG "$(rc ping)"
  check redis/unix-socket PONG "$(timeout 10 redis-cli -s "$STATEVTAB_REDIS_SOCK" ping 2>&1)"
  check redis/dir "$STATEVTAB_REDIS_DIR" "$(rc config get dir | sed -n 2p)"
  check redis/bind 127.0.0.1 "$(rc config get bind | sed -n 2p)"
  check redis/appendonly yes "$(rc config get appendonly | sed -n 2p)"
  check redis/appendfsync always "$(rc config get appendfsync | sed -n 2p)"
  if command -v ss >/dev/null 2>&1; then
    check redis/listens-loopback-only "127.0.0.1:$STATEVTAB_REDIS_PORT" "$(listeners "$STATEVTAB_REDIS_PORT")"
  fi
  if sv__is "${STATEVTAB_REDIS_PID:-}" redis-server; then
    pass "redis/pid $STATEVTAB_REDIS_PID is redis-server"
  else
    fail "redis/pid: STATEVTAB_REDIS_PID=${STATEVTAB_REDIS_PID:-} is not a running redis-server"
  fi

  val="a value with spaces $$"
  check redis/set OK "$(rc set sv05:k "$val")"
  old_pid=${STATEVTAB_REDIS_PID:-}
  t0=$(date +%s%3N)
  if sv_restart_redis; then
    pass "redis/restart ($(($(date +%s%3N) - t0)) ms)"
  else
    fail "redis/restart: sv_restart_redis failed"
  fi
  if [ -n "${STATEVTAB_REDIS_PID:-}" ] && [ "$STATEVTAB_REDIS_PID" != "$old_pid" ] &&
    ! sv__alive "$old_pid"; then
    pass "redis/restart-new-pid ($old_pid -> $STATEVTAB_REDIS_PID)"
  else
    fail "redis/restart-new-pid: old $old_pid, new ${STATEVTAB_REDIS_PID:-}"
  fi
  check redis/get-after-restart "$val" "$(rc get sv05:k)"
  rc del sv05:k >/dev/null

  if sv_pause_redis; then
    t0=$(date +%s%3N)
    out=$(timeout 2 redis-cli -u "$STATEVTAB_REDIS_URL" ping 2>&1)
    st=$?
    sv_resume_redis
    if ((st == 124)); then
      pass "redis/paused-times-out ($(($(date +%s%3N) - t0)) ms)"
    else
      fail "redis/paused-times-out: redis-cli ping exited $st ($out), want a timeout"
    fi
    check redis/resumed PONG "$(rc ping)"
  else
    fail "redis/pause: sv_pause_redis failed"
  fi
fi

((nfail == 0))
