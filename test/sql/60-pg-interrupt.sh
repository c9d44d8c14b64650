#!/bin/bash
# test/sql/60-pg-interrupt.sh -- part of test/sql/60-pg-timeout.sql (case
# 60t.4), run by its .system in the script's test directory, where
# .s.PGSQL.5432 links to the server's socket.  A sqlite3 shell connects a
# table with command_timeout=60000, its backend is stopped (SIGSTOP), and
# the shell's next statement waits on it; a SIGINT to the shell (which calls
# sqlite3_interrupt()) must end that statement long before the timeout.
# Prints the error and two facts, each 1 when true; the backend is
# resumed (SIGCONT) in every case.
set -u
url="host=$PWD port=5432 dbname=statevtab_test user=postgres application_name=statevtab_intr"
cat >intr-stop.sh <<'END'
psql "$STATEVTAB_PG_URL" -XAtqc "SELECT pid FROM pg_stat_activity WHERE application_name = 'statevtab_intr' ORDER BY backend_start DESC LIMIT 1" >intr.pid &&
  kill -STOP "$(cat intr.pid)" && touch intr.stopped
END
cat >intr.sql <<END
CREATE VIRTUAL TABLE t USING state_kv(store='$url', schema='statevtab_stall', command_timeout=60000);
SELECT count(*) FROM t;
.system sh intr-stop.sh
SELECT count(*) FROM t;
END
sqlite3 -batch :memory: -cmd ".load $STATEVTAB_EXT" <intr.sql >intr.out 2>&1 &
cli=$!
for _ in $(seq 300); do
  [ -e intr.stopped ] && break
  kill -0 "$cli" 2>/dev/null || break
  sleep 0.1
done
sleep 0.5 # the shell is now waiting for the reply
t0=$(date +%s%3N)
kill -INT "$cli" 2>/dev/null
wait "$cli"
t1=$(date +%s%3N)
[ -s intr.pid ] && kill -CONT "$(cat intr.pid)"
# The shell's message, without its own decoration; (9) is SQLITE_INTERRUPT.
sed -n 's/.*\(postgresql: .*\) ([0-9]*)$/\1/p' intr.out
echo "stopped: $([ -e intr.stopped ] && echo 1 || echo 0)"
echo "SQLITE_INTERRUPT: $(grep -c 'postgresql: .* (9)$' intr.out)"
echo "ended within 5 s of the interrupt: $((t1 - t0 < 5000))"
