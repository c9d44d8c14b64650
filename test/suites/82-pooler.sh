#!/usr/bin/env bash
# shellcheck disable=SC2317  # (functions called through sc_check)
# test/suites/82-pooler.sh -- the PostgreSQL store behind pgbouncer in
# transaction pooling mode (Debian 12's pgbouncer 1.18; sv_start_pgbouncer
# of test/lib/servers.sh: loopback, a free port, in $TEST_TMP, in front of
# test/run's PostgreSQL; stopped by PID when this suite exits), with
# pooler=transaction in the store URL.  Cases:
#   pooler/start             pgbouncer starts
#   sql/pgbouncer/*          the SQL goldens through it (test/sqltest.sh
#                            --store pgbouncer; plain run), 65-pooler-store
#                            among them
#   pooler/no-session-state  after the goldens, pgbouncer's server
#                            connections still have the default
#                            search_path: statevtab set nothing on them
#   pooler/wake-poll         a task inserted 500 ms into a 3000 ms
#                            state_wait without listen= wakes it within
#                            500 + 200 (the polling period) + 400 ms
#   pooler/wake-listen       the same with listen= (a direct connection
#                            LISTENs) within 500 + 400 ms
#   mp/pgbouncer/queue/*     8 worker processes drain 2000 tasks through
#                            pgbouncer: each completed exactly once
#   mp/pgbouncer/wake/*      waiting state_lease / state_take through
#                            pgbouncer (they poll): woken, interrupted
# About 45 s on 2 cores.
set -u
cd "${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}" || exit 1
# shellcheck source=test/lib/servers.sh
. test/lib/servers.sh
# shellcheck source=test/lib/scale.sh
. test/lib/scale.sh
rc=0
dir=${TEST_TMP:-/tmp}/pgbouncer.$$
trap 'sv_stop_pgbouncer "$dir" >/dev/null 2>&1' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

if [ -z "${STATEVTAB_PG_PORT:-}" ] || [ -z "${STATEVTAB_PG_URL:-}" ]; then
  echo "FAIL pooler/start: STATEVTAB_PG_PORT is not set (test/run did not start PostgreSQL)"
  exit 1
fi
if ! sv_start_pgbouncer "$dir" "$STATEVTAB_PG_PORT"; then
  echo "FAIL pooler/start: pgbouncer did not start (reason above)"
  exit 1
fi
echo "PASS pooler/start"
echo "# pgbouncer: $STATEVTAB_PGBOUNCER_URL"

test/sqltest.sh --store pgbouncer || rc=1

# psql through pgbouncer (without statevtab's pooler= parameter).
direct_bouncer="postgresql://postgres@127.0.0.1:$STATEVTAB_PGBOUNCER_PORT/statevtab_test"
no_session_state() {
  local i sp
  for i in 1 2 3 4 5 6; do
    sp=$(psql -X -At -d "$direct_bouncer" -c 'SHOW search_path' 2>&1) || {
      echo "psql: $sp"
      return 1
    }
    # shellcheck disable=SC2016  # ($user is PostgreSQL's, not ours)
    [ "$sp" = '"$user", public' ] || {
      echo "a pooled connection has search_path '$sp'"
      return 1
    }
  done
}
sc_check pooler/no-session-state no_session_state || rc=1

# wake_ms OPTS: how long a 3000 ms state_wait on an empty queue lasts when
# another process inserts a task 500 ms into it.
wake_ms() {
  local schema=w82_$$_$RANDOM t0 t1
  # The schema first, so that the times below are the wait's.
  sqlite3 :memory: >/dev/null 2>&1 <<SQL
.load $STATEVTAB_EXT
CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PGBOUNCER_URL', schema='$schema');
SQL
  (
    sleep 0.5
    sqlite3 :memory: >/dev/null 2>&1 <<SQL
.load $STATEVTAB_EXT
CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PGBOUNCER_URL', schema='$schema'$1);
INSERT INTO t(queue, name) VALUES ('q', 'x');
SQL
  ) &
  t0=$(sc_ms)
  sqlite3 :memory: >/dev/null 2>&1 <<SQL
.load $STATEVTAB_EXT
CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PGBOUNCER_URL', schema='$schema'$1);
SELECT state_wait('t', 'q', 3000);
SQL
  t1=$(sc_ms)
  wait
  psql -X -q -d "$STATEVTAB_PG_URL" -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1
  echo $((t1 - t0))
}
wake_check() {
  local ms
  ms=$(wake_ms "$1")
  echo "# $2: state_wait returned after $ms ms (task inserted at 500 ms)"
  ((ms < $3)) || {
    echo "state_wait returned after $ms ms, want < $3"
    return 1
  }
}
sc_check pooler/wake-poll wake_check "" "polling (no listen=)" 1100 || rc=1
sc_check pooler/wake-listen wake_check ", listen='env:STATEVTAB_PG_URL'" "listen=" 900 || rc=1

sc_mp_build || exit 1
sc_mp pgbouncer queue -n 2000 || rc=1
sc_mp pgbouncer wake || rc=1
exit $rc
