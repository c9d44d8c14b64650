#!/usr/bin/env bash
# test/suites/25-secrets.sh -- no error or debug text ever carries a secret.
#
# Every store URL below holds a canary (a password, a query-string value, or
# an environment variable's whole value).  Each is tried the ways a user
# meets it -- CREATE VIRTUAL TABLE, a statement on a table whose store went
# away, statevtab_debug(TABLE) -- both written in the schema and through
# env:NAME, and everything the sqlite3 shell prints (stdout and stderr) is
# searched for the canary.  One PASS/FAIL line per URL and way; each case
# also checks that an error (or the debug text) was printed at all, so a
# case that silently stopped failing proves nothing.  Needs STATEVTAB_EXT,
# STATEVTAB_REDIS_PORT and STATEVTAB_PG_PORT (test/run's private servers:
# the canaries go to loopback only).
set -u
LC_ALL=C
export LC_ALL

ext=${STATEVTAB_EXT:-}
ext=${ext%.so}
tmp=${TEST_TMP:-$(mktemp -d)}
fails=0
pass() { echo "PASS secrets/$1"; }
fail() {
  echo "FAIL secrets/$1: $2"
  fails=$((fails + 1))
}
if [ -z "$ext" ] || [ -z "${STATEVTAB_REDIS_PORT:-}" ] || [ -z "${STATEVTAB_PG_PORT:-}" ]; then
  echo "FAIL secrets: needs STATEVTAB_EXT, STATEVTAB_REDIS_PORT and STATEVTAB_PG_PORT"
  exit 1
fi

C=CanaryS3cr3t
rp=$STATEVTAB_REDIS_PORT
pp=$STATEVTAB_PG_PORT

# run NAME EXPECT SQL...: run the SQL in a fresh shell (file database in
# $tmp, so that a table can be reconnected), output in $tmp/NAME.out; the
# case passes when EXPECT (a grep -E pattern: what must be said) is there
# and the canary is not.
run() {
  local name=$1 expect=$2 out
  shift 2
  out=$tmp/$(echo "$name" | tr '/ ' '__').out
  rm -f "$tmp/db"
  timeout 60 sqlite3 -batch "$tmp/db" -cmd ".load $ext" "$@" >"$out" 2>&1
  if grep -q "$C" "$out"; then
    fail "$name" "the canary appears: $(grep -m1 "$C" "$out")"
  elif ! grep -Eq "$expect" "$out"; then
    fail "$name" "expected /$expect/, got: $(head -c 300 "$out")"
  else
    pass "$name"
  fi
}

# create NAME URL EXPECT: CREATE with the URL in the schema, then through
# env:SV_SECRET_URL.
create() {
  local name=$1 url=$2 expect=$3
  run "$name/create" "$expect" \
    "CREATE VIRTUAL TABLE t USING state_tasks(store='$url', schema='s', prefix='p:')"
  SV_SECRET_URL=$url run "$name/create-env" "$expect" \
    "CREATE VIRTUAL TABLE t USING state_tasks(store='env:SV_SECRET_URL', schema='s', prefix='p:')"
}

# A variable that holds no URL at all (a token named by mistake): nothing
# of its value is shown.  (Written in the schema, such text is the user's
# own and is shown, as any malformed URL is, with its password redacted.)
k=0
for v in "sk_live_$C" "token:$C" "sqlite:$C" "redis:$C"; do
  k=$((k + 1))
  SV_SECRET_URL=$v run "env-value/$k" 'malformed store URL|unknown store scheme|redis' \
    "CREATE VIRTUAL TABLE t USING state_tasks(store='env:SV_SECRET_URL')"
done

# Redis: nothing listens on port 1; the real server has no password, so
# AUTH fails with the server's own message.
create redis-userinfo "redis://u:$C@127.0.0.1:1/0" 'cannot connect'
create redis-query "redis://127.0.0.1:1/0?password=$C" 'bad URL parameter'
create redis-query-late "redis://127.0.0.1:1/0?db=1&db=2&x=$C" 'given twice'
create redis-query-unix "unix:/nonexistent.sock?command_timeout=5&password=$C" 'bad URL parameter'
create redis-bad-port "redis://u:$C@127.0.0.1:99999/0" 'malformed URL'
create redis-raw-q "redis://u:p?x-$C@127.0.0.1:1/0" 'malformed URL'
create redis-raw-at "redis://u:p@x-$C@127.0.0.1:1/0" 'cannot connect'
create redis-raw-slash "redis://:ab/$C@127.0.0.1:1" 'malformed URL'
create redis-tls "rediss://u:$C@127.0.0.1:$rp/0" 'TLS'
create redis-auth "redis://u:$C@127.0.0.1:$rp/0" 'redis'
# Redis Cluster seeds: unreachable, and a server that is no cluster.
create rcluster-userinfo "redis-cluster://u:$C@127.0.0.1:1,127.0.0.1:2" 'cannot connect'
create rcluster-auth "redis-cluster://u:$C@127.0.0.1:$rp" 'redis'
create rcluster-query "redis-cluster://127.0.0.1:1?wait_replicas=$C" 'bad URL parameter'

# PostgreSQL: port 1 refuses; a raw '@' inside a password must not make
# libpq look up (and print) the rest as a host name; a query-string
# password; a conninfo password.
create pg-userinfo "postgresql://u:$C@127.0.0.1:1/db" 'cannot connect'
create pg-raw-at "postgresql://app:p@ss-$C@127.0.0.1:$pp/statevtab_test" 'postgresql'
create pg-query "postgresql://127.0.0.1:1/db?password=$C" 'cannot connect'
create pg-conninfo "host=127.0.0.1 port=1 dbname=x password=$C" 'cannot connect'
create pg-conninfo-quoted "host=127.0.0.1 port=1 dbname=x password='a b $C'" 'cannot connect'
create pg-raw-q "postgresql://u:p?x-$C@127.0.0.1:1/db" 'cannot connect'
create pg-conninfo-key "host=127.0.0.1 port=1 user=passwordy password=$C" 'cannot connect'
create pg-raw-slash "postgresql://u:ab/$C@127.0.0.1:1/db" 'cannot connect'
create pg-query-option "postgresql://127.0.0.1:1/db?sslmode=$C" 'cannot connect'
create pg-conninfo-url-like "host=127.0.0.1 port=1 password=a://$C" 'cannot connect'
create pg-pooler "postgresql://u:$C@127.0.0.1:1/db?pooler=$C" 'pooler must be'
# listen= (behind a pooler): the direct server's password, at the first wait.
run pg-listen 'cannot connect to the listen= server' \
  "CREATE VIRTUAL TABLE t USING state_tasks(store='postgresql://postgres@127.0.0.1:$pp/statevtab_test?pooler=transaction', schema='s25', listen='postgresql://u:$C@127.0.0.1:1/db')" \
  "SELECT state_wait('t', 'q', 10)"
create pg-bad-option "postgresql://u:$C@127.0.0.1:1/db?nosuchoption=1" 'postgresql'

# Tables that work (the private PostgreSQL trusts any password): the debug
# text, and the error of a statement after the server went away (the same
# table reconnected with an unreachable URL through env:).
run pg-debug/schema 'module state_tasks' \
  "CREATE VIRTUAL TABLE t USING state_tasks(store='postgresql://postgres:$C@127.0.0.1:$pp/statevtab_test', schema='sv_secrets')" \
  "SELECT statevtab_debug('t')" "SELECT statevtab_debug()"
SV_SECRET_URL="postgresql://postgres:$C@127.0.0.1:$pp/statevtab_test" \
  run pg-debug/env 'module state_tasks' \
  "CREATE VIRTUAL TABLE t USING state_tasks(store='env:SV_SECRET_URL', schema='sv_secrets')" \
  "SELECT statevtab_debug('t')" "SELECT statevtab_debug()"
rm -f "$tmp/db"
SV_SECRET_URL="postgresql://postgres:$C@127.0.0.1:$pp/statevtab_test" \
  sqlite3 -batch "$tmp/db" -cmd ".load $ext" \
  "CREATE VIRTUAL TABLE t USING state_tasks(store='env:SV_SECRET_URL', schema='sv_secrets')" >/dev/null 2>&1
out=$tmp/reconnect.out
SV_SECRET_URL="postgresql://postgres:$C@127.0.0.1:1/statevtab_test" \
  timeout 60 sqlite3 -batch "$tmp/db" -cmd ".load $ext" "SELECT count(*) FROM t" >"$out" 2>&1
if grep -q "$C" "$out"; then
  fail pg-reconnect "the canary appears: $(grep -m1 "$C" "$out")"
elif ! grep -q 'cannot connect' "$out"; then
  fail pg-reconnect "expected a connection error, got: $(head -c 300 "$out")"
else
  pass pg-reconnect
fi

exit $((fails > 0))
