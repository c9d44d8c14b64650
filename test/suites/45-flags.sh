#!/usr/bin/env bash
# test/suites/45-flags.sh -- feature flags against Unleash's reference data
# and across processes and stores:
#   - every bucket and variant target of test/flags/vectors.tsv (computed
#     with Unleash's own SDK; ASCII keys) and vectors-utf8.tsv (non-ASCII
#     keys hashed over UTF-8, as Unleash's Rust engine does) equals
#     state_bucket's;
#   - the same users get the same answer in two processes, on the local
#     store and on PostgreSQL;
#   - a flag, and a segment, changed by another process is seen within the
#     cache TTL (1 s).
# Prints PASS/FAIL lines; exits non-zero on failure.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
ext=${STATEVTAB_EXT:-$root/statevtab.so}
tmp=${TEST_TMP:-$(mktemp -d)}
fails=0
pass() { echo "PASS flags/$1"; }
fail() { echo "FAIL flags/$1: $2"; fails=$((fails + 1)); }

sq() { sqlite3 -batch -bail "$@" 2>&1; }

# 1. hash vectors
for f in vectors vectors-utf8; do
  out=$(sq :memory: -cmd ".load $ext" -cmd ".mode tabs" \
    -cmd ".import $root/test/flags/$f.tsv v" \
    "SELECT count(*), sum(state_bucket(group_id, id) = CAST(bucket AS INTEGER)),
            sum(state_bucket(group_id, id, 1000, 86028157) = CAST(variant_target_1000 AS INTEGER))
       FROM v WHERE $( [ $f = vectors ] && echo "group_id <> 'ü-unicode'" || echo 1 )")
  n=$(echo "$out" | cut -f1)
  if [ "$n" -gt 1000 ] && [ "$out" = "$n	$n	$n" ]; then
    pass "vectors/$f ($n ids: buckets and variant targets equal)"
  else
    fail "vectors/$f" "count, bucket matches, variant matches = $out"
  fi
done

# 2. the same answers in two processes and on two stores
users="WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)"
define="INSERT INTO flags(name, enabled, strategies) VALUES ('f', 1, '[{\"name\":\"flexibleRollout\",\"parameters\":{\"rollout\":\"30\",\"stickiness\":\"userId\",\"groupId\":\"f\"},\"constraints\":[{\"contextName\":\"plan\",\"operator\":\"IN\",\"values\":[\"pro\"]}]}]')"
ask="$users SELECT group_concat(i) FROM n WHERE state_flag('flags', 'f', json_object('userId', i, 'properties', json_object('plan', 'pro')))"
a=$(sq "$tmp/flags-a.db" -cmd ".load $ext" \
  "CREATE VIRTUAL TABLE flags USING state_flags(); $define; $ask")
b=$(sq "$tmp/flags-a.db" -cmd ".load $ext" "$ask")
if [ -n "$a" ] && [ "$a" = "$b" ]; then
  pass "two-processes (local store: $(echo "$a" | tr ',' '\n' | wc -l) of 10000 users on)"
else
  fail "two-processes" "answers differ between processes"
fi
if [ -z "${STATEVTAB_PG_URL:-}" ]; then
  fail "two-stores" "STATEVTAB_PG_URL is not set: no PostgreSQL server"
else
  schema="flags45_$$"
  c=$(sq :memory: -cmd ".load $ext" \
    "CREATE VIRTUAL TABLE flags USING state_flags(store='env:STATEVTAB_PG_URL', schema='$schema'); $define; $ask")
  if [ -n "$a" ] && [ "$a" = "$c" ]; then
    pass "two-stores (local and PostgreSQL agree)"
  else
    fail "two-stores" "answers differ: ${c:0:200}"
  fi
  psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" \
    -c "DROP SCHEMA IF EXISTS \"$schema\" CASCADE" >/dev/null 2>&1
fi

# 3. a change by another process is seen within the TTL
db="$tmp/flags-ttl.db"
sq "$db" -cmd ".load $ext" "PRAGMA journal_mode=WAL; CREATE VIRTUAL TABLE flags USING state_flags(); INSERT INTO flags(name, enabled) VALUES ('t', 1)" >/dev/null
out=$(sq "$db" -cmd ".load $ext" \
  "SELECT state_flag('flags', 't');" \
  ".system sqlite3 '$db' -cmd '.load $ext' \"UPDATE flags SET enabled = 0 WHERE name = 't'\"" \
  ".system sleep 1.2" \
  "SELECT state_flag('flags', 't');" | tr '\n' ' ')
if [ "$out" = "1 0 " ]; then
  pass "ttl (another process's write seen after the 1 s TTL)"
else
  fail "ttl" "got '$out', expected '1 0 '"
fi

# 4. ... and a segment changed by another process too (the segments cache
# has the same TTL)
db="$tmp/flags-seg.db"
sq "$db" -cmd ".load $ext" "PRAGMA journal_mode=WAL; CREATE VIRTUAL TABLE segments USING state_segments(); CREATE VIRTUAL TABLE flags USING state_flags(segments='segments'); INSERT INTO segments(id, constraints) VALUES (1, '[]'); INSERT INTO flags(name, enabled, strategies) VALUES ('t', 1, '[{\"name\":\"default\",\"segments\":[1]}]')" >/dev/null
cat >"$tmp/flags-seg.sql" <<'EOF'
UPDATE segments SET constraints = '[{"contextName":"plan","operator":"IN","values":["pro"]}]' WHERE id = 1;
EOF
out=$(sq "$db" -cmd ".load $ext" \
  "SELECT state_flag('flags', 't', '{\"plan\":\"free\"}');" \
  ".system sqlite3 '$db' -cmd '.load $ext' < '$tmp/flags-seg.sql'" \
  ".system sleep 1.2" \
  "SELECT state_flag('flags', 't', '{\"plan\":\"free\"}');" \
  "SELECT state_flag('flags', 't', '{\"plan\":\"pro\"}');" | tr '\n' ' ')
if [ "$out" = "1 0 1 " ]; then
  pass "segment-ttl (another process's write of a segment seen after the 1 s TTL)"
else
  fail "segment-ttl" "got '$out', expected '1 0 1 '"
fi

[ $fails -eq 0 ]
