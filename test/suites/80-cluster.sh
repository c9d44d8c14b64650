#!/usr/bin/env bash
# shellcheck disable=SC2317  # (functions called through sc_check)
# test/suites/80-cluster.sh -- the Redis store on a Redis Cluster: three
# primaries with a replica each (sv_start_redis_cluster of
# test/lib/servers.sh: six redis-servers on free loopback ports in
# $TEST_TMP, stopped by PID when this suite exits; test/run stops what is
# left too).  Cases:
#   cluster/start              the cluster starts (about 10 s)
#   sql/redis-cluster/*        the SQL goldens on the cluster
#                              (test/sqltest.sh --store redis-cluster; plain
#                              run), 75-cluster-store among them
#   cluster/not-a-cluster      a redis-cluster:// URL naming a server
#                              without cluster mode: a clear error
#   cluster/wait-replicas      wait_replicas=1 writes; wait_replicas=2 (a
#                              primary has one replica) fails with the
#                              WAIT error after wait_timeout, the row
#                              written on the primary
#   mp/redis-cluster/queue/*   8 worker processes drain 2000 tasks: each
#                              completed exactly once
#   mp/redis-cluster/wake/*    waiting state_lease / state_take woken
#                              through the subscription on one node
#                              (PUBLISH reaches every node), interrupted
#   mp/redis-cluster/restart/* the primary of the queue's prefix SIGKILLed
#                              a quarter into a drain of 2000 tasks
#                              (sv_redis_cluster_failover: its replica takes
#                              over, then it comes back as a replica); with
#                              wait_replicas=1, so that nothing acknowledged
#                              is lost with it: every task completed
#                              exactly once, every worker error a clear
#                              SQLITE_IOERR (connection lost, cannot
#                              connect, the cluster is down, no replica)
# About 45 s on 2 cores (the cluster starts in 7-11 s).
set -u
cd "${STATEVTAB_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}" || exit 1
# shellcheck source=test/lib/servers.sh
. test/lib/servers.sh
# shellcheck source=test/lib/scale.sh
. test/lib/scale.sh
rc=0
dir=${TEST_TMP:-/tmp}/rcluster.$$
trap 'sv_stop_redis_cluster "$dir" >/dev/null 2>&1' EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

t0=$(sc_ms)
if ! sv_start_redis_cluster "$dir" 1; then
  echo "FAIL cluster/start: the cluster did not start (reason above)"
  exit 1
fi
echo "PASS cluster/start"
echo "# cluster: 6 nodes started in $(($(sc_ms) - t0)) ms: $STATEVTAB_RCLUSTER_URL"

test/sqltest.sh --store redis-cluster || rc=1

not_cluster() {
  local out
  if [ -z "${STATEVTAB_REDIS_PORT:-}" ]; then
    echo "STATEVTAB_REDIS_PORT is not set (no plain Redis server)"
    return 1
  fi
  out=$(sqlite3 :memory: 2>&1 <<SQL
.load $STATEVTAB_EXT
CREATE VIRTUAL TABLE t USING state_kv(store='redis-cluster://127.0.0.1:$STATEVTAB_REDIS_PORT', prefix='x:');
SQL
  )
  grep -qF "state_kv: redis: 127.0.0.1:$STATEVTAB_REDIS_PORT is not a Redis Cluster node: ERR This instance has cluster support disabled" <<<"$out" ||
    { echo "got: $out"; return 1; }
}
sc_check cluster/not-a-cluster not_cluster || rc=1

wait_replicas() {
  local out want
  out=$(sqlite3 :memory: 2>&1 <<SQL
.load $STATEVTAB_EXT
CREATE VIRTUAL TABLE a USING state_kv(store='$STATEVTAB_RCLUSTER_URL?wait_replicas=1', prefix='w80:');
INSERT INTO a(scope, key, value) VALUES ('s', 'one', '1');
CREATE VIRTUAL TABLE b USING state_kv(store='$STATEVTAB_RCLUSTER_URL?wait_replicas=2&wait_timeout=200', prefix='w80:');
INSERT INTO b(scope, key, value) VALUES ('s', 'two', '2');
SELECT key FROM a ORDER BY key;
SQL
  )
  want="Runtime error near line 5: state_kv: redis: wait_replicas=2: 1 replica(s) acknowledged the write within 200 ms (wait_timeout); it is done on the primary but a fail-over now could lose it (10)
one
two"
  [ "$out" = "$want" ] || { echo "got: $out"; return 1; }
}
sc_check cluster/wait-replicas wait_replicas || rc=1

# With the application's allowlist, every node is asked about before it is
# dialled: the seeds, and the primaries the slot map names (redis://
# entries).  Allowed: the first seed only, so the prefix 'a:' (slot 12034,
# on another primary) fails naming that node; allowed: every node of
# the cluster (CLUSTER NODES; the URL names three seeds, which need not be
# the primaries), it works.
allow_nodes() {
  local out seeds first list h owner
  seeds=${STATEVTAB_RCLUSTER_URL#redis-cluster://}
  seeds=${seeds%%\?*}
  first=${seeds%%,*}
  list=""
  for h in $(redis-cli -h "${first%:*}" -p "${first##*:}" CLUSTER NODES |
    awk '{ sub(/@.*/, "", $2); print $2 }'); do
    list="$list${list:+, }'redis://$h'"
  done
  # The seed allowed alone must not be the primary of slot 12034.
  owner=$(redis-cli -h "${first%:*}" -p "${first##*:}" CLUSTER NODES |
    awk '/master/ { for (i = 9; i <= NF; i++) { split($i, r, "-");
      if (r[1] <= 12034 && 12034 <= (r[2] == "" ? r[1] : r[2])) {
        sub(/@.*/, "", $2); print $2 } } }')
  for h in ${seeds//,/ }; do
    [ "$h" != "$owner" ] && { first=$h; break; }
  done
  out=$(sqlite3 :memory: 2>&1 <<SQL
.load $STATEVTAB_EXT
SELECT statevtab_allow('redis://$first');
CREATE VIRTUAL TABLE t USING state_kv(store='$STATEVTAB_RCLUSTER_URL', prefix='a:');
INSERT INTO t(scope, key, value) VALUES ('s', 'k', 1);
SQL
  )
  grep -q "state_kv: redis: store 'redis://[0-9.]*:[0-9]* (a node of redis-cluster://[^)]*)' is not allowed by this application" <<<"$out" ||
    { echo "only the first seed allowed, got: $out"; return 1; }
  out=$(sqlite3 :memory: 2>&1 <<SQL
.load $STATEVTAB_EXT
SELECT statevtab_allow($list);
CREATE VIRTUAL TABLE t USING state_kv(store='$STATEVTAB_RCLUSTER_URL', prefix='a:');
INSERT INTO t(scope, key, value) VALUES ('s', 'k', 1);
SELECT value FROM t;
SQL
  )
  [ "$(printf '%s' "$out" | tail -1)" = 1 ] || { echo "every node allowed, got: $out"; return 1; }
}
sc_check cluster/allowlist allow_nodes || rc=1

sc_mp_build || exit 1
sc_mp redis-cluster queue -n 2000 || rc=1
sc_mp redis-cluster wake || rc=1
STATEVTAB_RCLUSTER_URL="$STATEVTAB_RCLUSTER_URL?wait_replicas=1" \
  sc_mp redis-cluster restart -n 2000 --restart \
  ". test/lib/servers.sh && sv_redis_cluster_failover '$dir' '{${SC_SCHEMA}_restart:}'" || rc=1
exit $rc
