#!/usr/bin/env bash
# test/suites/26-allow.sh -- the stores the application allows
# (statevtab_allow, README "Security").
#
# A loopback listener (test/allow/allowtest.c listen) stands for a host the
# application did not allow: every refused store URL below names it, and
# after each case the listener must have seen no connection; the last case
# allows it and must see one (so that the listener is known to work).
# Redis and PostgreSQL URLs, libpq key=value strings, libpq's environment
# (PGPORT, PGSERVICE, PGPASSWORD), env:NAME (refused before the variable
# is read), the C API on two connections (the list is the process's), and
# that neither a view nor a trigger can call statevtab_allow.  Needs
# STATEVTAB_EXT, STATEVTAB_REDIS_URL, STATEVTAB_PG_URL.
set -u
LC_ALL=C
export LC_ALL

ext=${STATEVTAB_EXT:-}
ext=${ext%.so}
root=${STATEVTAB_ROOT:-$(pwd)}
tmp=${TEST_TMP:-$(mktemp -d)}
fails=0
pass() { echo "PASS allow/$1"; }
fail() {
  echo "FAIL allow/$1: $2"
  fails=$((fails + 1))
}
if [ -z "$ext" ] || [ -z "${STATEVTAB_REDIS_URL:-}" ] || [ -z "${STATEVTAB_PG_URL:-}" ]; then
  echo "FAIL allow: needs STATEVTAB_EXT, STATEVTAB_REDIS_URL and STATEVTAB_PG_URL"
  exit 1
fi
${CC:-cc} -Wall -I"$root" -o "$tmp/allowtest" "$root/test/allow/allowtest.c" \
  -lsqlite3 || {
  echo "FAIL allow/build: allowtest.c does not compile"
  exit 1
}

rport=$STATEVTAB_REDIS_PORT
pport=$STATEVTAB_PG_PORT
allow="SELECT statevtab_allow('redis://127.0.0.1:$rport', \
'postgresql://127.0.0.1:$pport', 'env:SV_ALLOWED_URL');"
export SV_ALLOWED_URL=$STATEVTAB_REDIS_URL
export SV_EVIL_URL
lpid=

# listen: start the listener, set $lport
listen() {
  rm -f "$tmp/port" "$tmp/count"
  "$tmp/allowtest" listen "$tmp/port" "$tmp/count" &
  lpid=$!
  for _ in $(seq 50); do
    [ -s "$tmp/port" ] && break
    sleep 0.1
  done
  lport=$(cat "$tmp/port")
}
# heard: stop the listener, set $n to how many connections it saw
heard() {
  kill "$lpid" && wait "$lpid"
  n=$(cat "$tmp/count")
}

# run NAME EXPECT WANT SQL: with the allowlist set, run SQL (its statements
# go on after an error) in a fresh shell; the case passes when the output
# matches EXPECT (grep -E) and the listener saw WANT connections.
run() {
  local name=$1 expect=$2 want=$3 sql=$4 out
  out=$tmp/$(echo "$name" | tr '/ ' '__').out
  listen
  sql=${sql//LPORT/$lport}
  printf '%s\n%s\n' "$allow" "$sql" | SV_EVIL_URL=redis://127.0.0.1:$lport/0 \
    timeout 60 sqlite3 -batch :memory: -cmd ".load $ext" >"$out" 2>&1
  heard
  if [ "$n" != "$want" ]; then
    fail "$name" "the listener saw $n connection(s), expected $want"
  elif ! grep -Eq "$expect" "$out"; then
    fail "$name" "expected /$expect/, got: $(head -c 300 "$out")"
  else
    pass "$name"
  fi
}
no="is not allowed by this application"
mk="CREATE VIRTUAL TABLE t USING state_tasks(store="

run redis/url "state_tasks: store 'redis://127.0.0.1:[0-9]+/0' $no" 0 \
  "${mk}'redis://127.0.0.1:LPORT/0', prefix='allow:')"
run redis/password "store 'redis://:\*\*\*@127.0.0.1:[0-9]+' $no" 0 \
  "${mk}'redis://:pw@127.0.0.1:LPORT', prefix='allow:')"
run redis/other-host "store 'redis://localhost:$rport' $no" 0 \
  "${mk}'redis://localhost:$rport', prefix='allow:')"
run redis/unix "store 'unix:/tmp/nothing.sock' $no" 0 \
  "${mk}'unix:/tmp/nothing.sock', prefix='allow:')"
run pg/url "store 'postgresql://postgres@127.0.0.1:[0-9]+/x' $no" 0 \
  "${mk}'postgresql://postgres@127.0.0.1:LPORT/x', schema='allow')"
run pg/keywords "store 'host=127.0.0.1 port=[0-9]+ dbname=x' $no" 0 \
  "${mk}'host=127.0.0.1 port=LPORT dbname=x', schema='allow')"
run pg/multi-host "$no" 0 \
  "${mk}'postgresql://127.0.0.1:$pport,127.0.0.1:LPORT/x', schema='allow')"
run pg/hostaddr "$no" 0 \
  "${mk}'postgresql://127.0.0.1:LPORT/x?hostaddr=127.0.0.1', schema='allow')"
run pg/no-host "store 'dbname=x' $no" 0 \
  "${mk}'dbname=x', schema='allow')"
# libpq's environment: PGPASSWORD never goes to a host not allowed; PGPORT
# would move an allowed host's port; PGSERVICE would choose the host.
PGPASSWORD=canary PGPORT=0 run pg/pgport "$no" 0 \
  "${mk}'postgresql://127.0.0.1/x', schema='allow')"
listen
PGPASSWORD=canary PGPORT=$lport timeout 60 sqlite3 -batch :memory: \
  -cmd ".load $ext" "$allow" \
  "${mk}'postgresql://postgres@127.0.0.1/statevtab_test', schema='allow')" \
  >"$tmp/pgport2.out" 2>&1
heard
if [ "$n" = 0 ] && grep -q "$no" "$tmp/pgport2.out"; then
  pass pg/pgport-listener
else
  fail pg/pgport-listener "saw $n connection(s): $(head -c 300 "$tmp/pgport2.out")"
fi
PGSERVICE=anything run pg/pgservice "$no" 0 \
  "${mk}'$STATEVTAB_PG_URL', schema='allow')"
run pg/service "$no" 0 "${mk}'service=anything', schema='allow')"
run env/unlisted "store 'env:SV_EVIL_URL' $no" 0 \
  "${mk}'env:SV_EVIL_URL', prefix='allow:')"
# not read: an unset variable is refused the same way, not "not set"
run env/unset "store 'env:SV_UNSET_VARIABLE' $no" 0 \
  "${mk}'env:SV_UNSET_VARIABLE', prefix='allow:')"
run custom-scheme "unknown store scheme 'mystore'" 0 \
  "${mk}'mystore://x', prefix='allow:')"

# allowed stores work, the local store always does
run allowed/redis "^1$" 0 "${mk}'$STATEVTAB_REDIS_URL', prefix='allow:'); \
SELECT statevtab_allow('redis://127.0.0.1:$rport') = 1;"
run allowed/pg "^0$" 0 "${mk}'$STATEVTAB_PG_URL', schema='allow'); \
SELECT count(*) FROM t WHERE id = 'none';"
run allowed/env "^0$" 0 "${mk}'env:SV_ALLOWED_URL', prefix='allow:'); \
SELECT count(*) FROM t WHERE id = 'none';"
run allowed/local "^1$" 0 "${mk}'sqlite:'); \
INSERT INTO t(name) VALUES ('x'); SELECT count(*) FROM t;"
run allowed/nothing-remote "store 'redis://127.0.0.1:[0-9]+/0' $no" 0 "SELECT statevtab_allow(); \
${mk}'$STATEVTAB_REDIS_URL', prefix='allow:');"
# the listener does hear a store it is allowed to (a connection, then a
# timeout: it sends no reply)
run allowed/listener "cannot connect|timed out|timeout|I/O|closed|lost" 1 \
  "SELECT statevtab_allow('redis://127.0.0.1:LPORT'); \
${mk}'redis://127.0.0.1:LPORT?connect_timeout=300&command_timeout=300', prefix='allow:');"
run removed "cannot connect" 0 "SELECT statevtab_allow(NULL); \
${mk}'redis://127.0.0.1:1', prefix='allow:');"

# entries
run entry/malformed "statevtab_allow: malformed entry 'redis://u:\*\*\*@h:1'" 0 \
  "SELECT statevtab_allow('redis://u:pw@h:1');"
run entry/path "statevtab_allow: malformed entry 'postgresql://h/db'" 0 \
  "SELECT statevtab_allow('postgresql://h/db');"
run entry/type "statevtab_allow: argument 2 is not text" 0 \
  "SELECT statevtab_allow('env:A', 7);"
run entry/kept "store 'redis://127.0.0.1:[0-9]+' $no" 0 \
  "SELECT statevtab_allow('bad entry');
${mk}'redis://127.0.0.1:LPORT', prefix='allow:');"

# only the application calls it: not from a view or trigger, trusted or not
for ts in on off; do
  run "directonly/view-trusted-$ts" "unsafe use of statevtab_allow" 0 \
    "PRAGMA trusted_schema=$ts; CREATE VIEW v AS SELECT statevtab_allow(NULL); \
SELECT * FROM v;"
  run "directonly/trigger-trusted-$ts" "unsafe use of statevtab_allow" 0 \
    "PRAGMA trusted_schema=$ts; CREATE TABLE o(x); \
CREATE TRIGGER tr AFTER INSERT ON o BEGIN SELECT statevtab_allow(NULL); END; \
INSERT INTO o VALUES (1);"
done

# the C API; the list binds every connection of the process
"$tmp/allowtest" api "$STATEVTAB_EXT" "$STATEVTAB_REDIS_URL" \
  "redis://127.0.0.1:1" >"$tmp/api.out" 2>&1
cat >"$tmp/api.want" <<WANT
statevtab_allow: 0
first connection, allowed: ok
first connection, refused: state_counters: store 'redis://127.0.0.1:1' $no
second connection, allowed: ok
second connection, refused: state_counters: store 'redis://127.0.0.1:1' $no
statevtab_allow(NULL): 0
first connection, no list: state_counters: redis: cannot connect to redis://127.0.0.1:1: Connection refused
WANT
if diff "$tmp/api.want" "$tmp/api.out" >"$tmp/api.diff"; then
  pass c-api/two-connections
else
  fail c-api/two-connections "$(head -c 400 "$tmp/api.diff")"
fi

[ "$fails" = 0 ]
