-- 50-local-schema: another connection changes the schema between two calls
-- of a function (here: a table created by a sqlite3 shell in another
-- process).  A statement that reads no table of main -- SELECT
-- state_complete(...), a claim from temp.state_claim -- does not check
-- main's schema first, so the first statement prepared or stepped on this
-- connection during the call resets the schema, and SQLite disconnects
-- every table that no running statement holds, including the one the
-- function is using (a use-after-free until the function held it).  Every
-- function still works.  Local store only (file database).

.open schema.db
PRAGMA journal_mode = wal;
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE flags USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE leases USING state_leases(@OPTS@);
CREATE VIRTUAL TABLE counters USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE signals USING state_signals(@OPTS@);
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('a', 'q', 'job', 1), ('b', 'q', 'job', 1);
INSERT INTO flags(name, enabled, variants) VALUES ('f', 1, '[{"name":"v","weight":1}]');
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 50s.1 each call comes right after the other process changed the schema
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other1(x)"
SELECT state_flag('flags', 'f');
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other2(x)"
SELECT json_extract(state_variant('flags', 'f', '{"userId":"u"}'), '$.name');
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other3(x)"
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'q', 'w', 30000, 2);
SELECT k FROM temp.v ORDER BY k;
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other4(x)"
SELECT state_complete('tasks', 'a', (SELECT x FROM temp.v WHERE k = 'a'));
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other5(x)"
SELECT state_fail('tasks', 'b', (SELECT x FROM temp.v WHERE k = 'b'), 'boom');
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other6(x)"
SELECT state_lease('leases', 'n', 'o', 60000) IS NOT NULL;
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other7(x)"
SELECT state_incr('counters', 's', 'n', 5);
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other8(x)"
SELECT state_signal('signals', 'e', 'go') IS NOT NULL;
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other9(x)"
SELECT state_take('signals', 'e', 'go');
.system sqlite3 "$TEST_TMP/schema.db" "CREATE TABLE other10(x)"
SELECT statevtab_debug('tasks') IS NOT NULL;

-- 50s.2 the state is what the calls made it
SELECT id, state FROM tasks ORDER BY id;
SELECT task_id, reason FROM dead_letters;
SELECT value FROM counters;
