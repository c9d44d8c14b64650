-- 60-pg-timeout: a PostgreSQL server that stops answering (its backend
-- process stopped with SIGSTOP: a half-open connection) fails the
-- statement after the command timeout instead of blocking forever, and
-- sqlite3_interrupt() ends the wait sooner; the next statement reconnects.
-- (Runs with --store postgresql only.  The stalled connection goes through
-- a link to the server's unix socket in the test directory, so that the
-- message names a path that does not change from run to run, and names
-- itself with an application_name of its own, so that psql can find its
-- backend in pg_stat_activity.)

-- 60t.1 command_timeout is a table option: a positive integer of
-- milliseconds, at most 1000000000000
CREATE VIRTUAL TABLE b1 USING state_kv(@OPTS@, command_timeout=0);
CREATE VIRTUAL TABLE b2 USING state_kv(@OPTS@, command_timeout='soon');
CREATE VIRTUAL TABLE b3 USING state_kv(@OPTS@, command_timeout=1000000000001);
CREATE VIRTUAL TABLE b4 USING state_kv(@OPTS@, command_timeout=-5);
CREATE VIRTUAL TABLE b5 USING state_kv(@OPTS@, command_timeout=1.5);
CREATE VIRTUAL TABLE b6 USING state_kv(@OPTS@, command_timeout='');
CREATE VIRTUAL TABLE ok USING state_kv(@OPTS@, command_timeout=1000000000000);
SELECT count(*) FROM ok;

-- 60t.2 the backend stops answering: a claim fails after the command
-- timeout -- the smallest command_timeout of the tables on the connection,
-- here 3000 ms -- with SQLITE_IOERR, and once it answers again the next
-- statement reconnects and works
.system ln -s "$STATEVTAB_PG_DIR/.s.PGSQL.$STATEVTAB_PG_PORT" .s.PGSQL.5432
.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS statevtab_stall CASCADE"
CREATE VIRTUAL TABLE stall USING state_tasks(store='host=@TMP@ port=5432 dbname=statevtab_test user=postgres application_name=statevtab_stall', schema='statevtab_stall');
CREATE VIRTUAL TABLE stall_kv USING state_kv(store='host=@TMP@ port=5432 dbname=statevtab_test user=postgres application_name=statevtab_stall', schema='statevtab_stall', command_timeout=3000);
INSERT INTO stall(id, queue, name) VALUES ('s1', 'q', 'x');
SELECT count(*) FROM stall_kv;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT pid FROM pg_stat_activity WHERE application_name = 'statevtab_stall' ORDER BY backend_start DESC LIMIT 1" >stall.pid && kill -STOP $(cat stall.pid)
.unsetenv STATEVTAB_TEST_CLOCK_MS
CREATE TEMP TABLE t0(ms);
INSERT INTO t0 VALUES (state_now());
SELECT id FROM state_claim('stall', 'empty', 'w');
SELECT state_now() - (SELECT ms FROM t0) BETWEEN 2500 AND 9000;
.system kill -CONT $(cat stall.pid)
SELECT id, state FROM stall;
SELECT id FROM state_claim('stall', 'q', 'w');

-- 60t.3 the same inside a transaction: the write fails, the transaction
-- is rolled back on the server (the connection is gone), and the next
-- statement reconnects
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT pid FROM pg_stat_activity WHERE application_name = 'statevtab_stall' ORDER BY backend_start DESC LIMIT 1" >stall.pid && kill -STOP $(cat stall.pid)
BEGIN;
INSERT INTO stall(id, queue, name) VALUES ('s2', 'q', 'y');
COMMIT;
.system kill -CONT $(cat stall.pid)
SELECT id, state FROM stall ORDER BY id;

-- 60t.4 sqlite3_interrupt() ends a statement waiting on a stopped backend
-- long before its command timeout (60 s): SQLITE_INTERRUPT, the connection
-- dropped; a transaction that lost its connection so cannot commit (a
-- test host of its own, test/sql/60-pg-interrupt.c, whose second thread
-- calls sqlite3_interrupt())
.system ${CC:-cc} -O1 -g "$STATEVTAB_ROOT/test/sql/60-pg-interrupt.c" -o pg-interrupt $(pkg-config --cflags --libs sqlite3 2>/dev/null || echo -lsqlite3) -lpthread && ./pg-interrupt "$STATEVTAB_EXT" "host=@TMP@ port=5432 dbname=statevtab_test user=postgres application_name=statevtab_intr"

.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA statevtab_stall CASCADE"
