-- 60-pg-store: facts of the PostgreSQL store (runs with --store postgresql
-- only): the schema option, server-side names, values that are SQL syntax,
-- a server restart between statements, and state_wait woken by another
-- process.  The store options name a schema unique to this run
-- ($STATEVTAB_TEST_NS).

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);

-- 60.1 the schema holds the eight tables and the paused-queues table
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT table_name FROM information_schema.tables WHERE table_schema = '$STATEVTAB_TEST_NS' ORDER BY 1"

-- 60.2 two SQLite tables naming the same store and schema share rows;
-- another schema does not see them
CREATE VIRTUAL TABLE tasks2 USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE other USING state_tasks(@OPTS:other@);
INSERT INTO tasks(id, name) VALUES ('shared', 'x');
SELECT id FROM tasks2;
SELECT count(*) FROM other;

-- 60.3 values that are SQL syntax round-trip exactly (bound, never
-- formatted into SQL): quotes, semicolons, backslashes, $$, comments
INSERT INTO tasks(id, queue, name, payload, idempotency_key, error)
VALUES ('q''1', 'a''b;c', 'x''); DROP TABLE tasks; --',
        '{"s":"$$ $sv$ \\ '' \" ;"}', 'k\''', 'E''\\x41''');
SELECT id, queue, name, payload, idempotency_key, error FROM tasks WHERE id = 'q''1';
SELECT count(*) FROM tasks WHERE queue = 'a''b;c' AND name = 'x''); DROP TABLE tasks; --';
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT name, payload FROM \"$STATEVTAB_TEST_NS\".tasks WHERE id = 'q''1'"

-- 60.4 a schema name that needs quoting is quoted, not executed
CREATE VIRTUAL TABLE odd USING state_counters(store='env:STATEVTAB_PG_URL', schema='we"ird; $$ -- x');
SELECT state_incr('odd', 's', 'n', 2), state_incr('odd', 's', 'n');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT value FROM \"we\"\"ird; \$\$ -- x\".counters"
.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA \"we\"\"ird; \$\$ -- x\" CASCADE"

-- 60.5 a transaction spanning two tables on PostgreSQL: ROLLBACK undoes
-- both, savepoints undo only their part, COMMIT keeps both
BEGIN;
INSERT INTO tasks(id, name) VALUES ('t1', 'x');
INSERT INTO kv(scope, key, value) VALUES ('s', 'k1', '1');
ROLLBACK;
SELECT count(*) FROM tasks WHERE id = 't1'; SELECT count(*) FROM kv;
BEGIN;
INSERT INTO tasks(id, name) VALUES ('t2', 'x');
SAVEPOINT a;
INSERT INTO kv(scope, key, value) VALUES ('s', 'k2', '2');
INSERT INTO tasks(id, name) VALUES ('t3', 'x');
ROLLBACK TO a;
INSERT INTO kv(scope, key, value) VALUES ('s', 'k3', '3');
COMMIT;
SELECT id FROM tasks WHERE id IN ('t1', 't2', 't3') ORDER BY id;
SELECT key FROM kv ORDER BY key;

-- 60.6 a duplicate key inside a transaction fails that statement only; the
-- transaction goes on and commits the rest
BEGIN;
INSERT INTO tasks(id, name) VALUES ('t4', 'x');
INSERT INTO tasks(id, name) VALUES ('t4', 'again');
INSERT INTO tasks(id, name) VALUES ('t5', 'x');
COMMIT;
SELECT id, name FROM tasks WHERE id IN ('t4', 't5') ORDER BY id;

-- 60.7 the server restarts between two statements: the next statement
-- reconnects and works, and nothing was lost
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh" && sv_restart_postgres >/dev/null'
SELECT count(*) FROM tasks WHERE id IN ('t2', 't4', 't5');
INSERT INTO tasks(id, name) VALUES ('t6', 'after restart');
SELECT name FROM tasks WHERE id = 't6';

-- 60.8 state_wait: 0 after its timeout on an empty queue; woken by an
-- insert from another process long before its timeout (wall clock here)
.unsetenv STATEVTAB_TEST_CLOCK_MS
CREATE TEMP TABLE t0(ms);
INSERT INTO t0 VALUES (state_now());
SELECT state_wait('tasks', 'wq', 300);
SELECT state_now() - (SELECT ms FROM t0) >= 300;
.system (sleep 1; sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PG_URL', schema='$STATEVTAB_TEST_NS'); INSERT INTO t(queue, name) VALUES ('wq', 'wake')" >/dev/null 2>&1 &)
DELETE FROM t0;
INSERT INTO t0 VALUES (state_now());
SELECT state_wait('tasks', 'wq', 30000);
SELECT state_now() - (SELECT ms FROM t0) < 20000;
SELECT name FROM state_claim('tasks', 'wq', 'w');

-- 60.9 DROP TABLE of a SQLite table backed by PostgreSQL only disconnects:
-- the shared rows stay for the other tables (and processes) naming them
SELECT count(*) > 0 FROM tasks2;
DROP TABLE tasks2;
SELECT count(*) > 0 FROM tasks;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) > 0 FROM \"$STATEVTAB_TEST_NS\".tasks"

-- 60.10 the connection names itself: application_name defaults to statevtab
-- (passed as libpq's fallback_application_name: a URL's own value wins)
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) > 0 FROM pg_stat_activity WHERE application_name = 'statevtab'"

-- 60.11 schema names that hold the dollar quote of the server functions'
-- bodies ($sv$), $$, quotes, backslashes or comments are quoted, never
-- executed: each schema gets its tables and functions, and claims work
.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA IF EXISTS \"x\$sv\$y\", \"\$sv\$\$sv1\$\", \"it's \"\"q\"\" \\ \$\$ --\" CASCADE"
CREATE VIRTUAL TABLE h1 USING state_tasks(store='env:STATEVTAB_PG_URL', schema='x$sv$y');
CREATE VIRTUAL TABLE h2 USING state_tasks(store='env:STATEVTAB_PG_URL', schema='$sv$$sv1$');
CREATE VIRTUAL TABLE h3 USING state_tasks(store='env:STATEVTAB_PG_URL', schema='it''s "q" \ $$ --');
INSERT INTO h1(id, queue, name) VALUES ('a', 'q', 'one');
INSERT INTO h2(id, queue, name) VALUES ('b', 'q', 'two');
INSERT INTO h3(id, queue, name) VALUES ('c', 'q', 'three');
SELECT id, name, lease_token FROM state_claim('h1', 'q', 'w');
SELECT id, name, lease_token FROM state_claim('h2', 'q', 'w');
SELECT id, name, lease_token FROM state_claim('h3', 'q', 'w');
SELECT state_complete('h1', 'a', 1), state_complete('h2', 'b', 1), state_complete('h3', 'c', 1);
SELECT id, state FROM h1 UNION ALL SELECT id, state FROM h2 UNION ALL SELECT id, state FROM h3;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT n.nspname, count(*) FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_proc p ON p.pronamespace = n.oid WHERE n.nspname IN ('x\$sv\$y', '\$sv\$\$sv1\$', 'it''s \"q\" \\ \$\$ --') GROUP BY 1 ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT id, state FROM \"x\$sv\$y\".tasks UNION ALL SELECT id, state FROM \"\$sv\$\$sv1\$\".tasks UNION ALL SELECT id, state FROM \"it's \"\"q\"\" \\ \$\$ --\".tasks ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA \"x\$sv\$y\", \"\$sv\$\$sv1\$\", \"it's \"\"q\"\" \\ \$\$ --\" CASCADE"
-- a name the server refuses gives its message
CREATE VIRTUAL TABLE h4 USING state_tasks(store='env:STATEVTAB_PG_URL', schema='pg_statevtab');

-- 60.12 no error shows a password, whatever libpq makes of the string
-- (CANARY marks password text: no line of this output holds it).  A raw
-- '@' in a URL's password is refused before connecting
CREATE VIRTUAL TABLE p1 USING state_kv(store='postgresql://app:p@ss-CANARY-s3cr3t@127.0.0.1:1/db');
CREATE VIRTUAL TABLE p2 USING state_kv(store='postgres://app:a@b@CANARY@127.0.0.1:1/db?sslmode=disable');
-- an unreachable server, the password in the URL or as password=
CREATE VIRTUAL TABLE p3 USING state_kv(store='postgresql://app:CANARY-pw@127.0.0.1:1/db');
CREATE VIRTUAL TABLE p4 USING state_kv(store='host=127.0.0.1 port=1 user=app password=CANARY-kv dbname=db');
CREATE VIRTUAL TABLE p5 USING state_kv(store='host=127.0.0.1 port=1 user=app password=''CANARY \'' q'' dbname=db');
-- strings libpq cannot parse, whose errors quote the malformed part
CREATE VIRTUAL TABLE p6 USING state_kv(store='postgresql://app:CANARY%zz@127.0.0.1:1/db');
CREATE VIRTUAL TABLE p7 USING state_kv(store='postgresql://127.0.0.1:1/db?password=CANARY=x');
CREATE VIRTUAL TABLE p8 USING state_kv(store='postgresql://app:CANARY@[::1]x/db');
-- forms whose password the shared URL redaction does not find: a key
-- named like "password..." before the password, a '?' in the password
CREATE VIRTUAL TABLE p9 USING state_kv(store='host=127.0.0.1 port=1 user=passwordy password=CANARY-kv2');
CREATE VIRTUAL TABLE p10 USING state_kv(store='postgresql://app:p?w-CANARY@127.0.0.1:1/db');
-- the same strings through env: and the sqlite3 shell: errors, and errors
-- with the canary
.system for u in 'postgresql://app:p@ss-CANARY-s3cr3t@127.0.0.1:1/db' 'postgresql://app:CANARY-pw@127.0.0.1:1/db' 'host=127.0.0.1 port=1 user=app password=CANARY-kv dbname=db' 'postgresql://app:CANARY%zz@127.0.0.1:1/db' 'postgresql://127.0.0.1:1/db?password=CANARY=x' 'postgresql://app:CANARY@[::1]x/db' 'host=127.0.0.1 port=1 user=passwordy password=CANARY-kv2' 'postgresql://app:p?w-CANARY@127.0.0.1:1/db'; do STATEVTAB_PW_URL="$u" sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_kv(store='env:STATEVTAB_PW_URL')"; done 2>&1 | awk '/postgresql:/ { e++ } /CANARY/ { c++ } END { print e + 0, "errors,", c + 0, "with the canary" }'

-- 60.13 rows inserted with generated ids inside a transaction are sent
-- with the next statement or the COMMIT; when the server refuses them then
-- (here: a constraint added meanwhile by another session), that statement
-- and the COMMIT fail, and nothing of the transaction is committed
CREATE VIRTUAL TABLE doom USING state_tasks(@OPTS:doom@);
INSERT INTO doom(name) VALUES ('first');
BEGIN;
INSERT INTO doom(name) VALUES ('a'), ('b');
SELECT last_insert_rowid() > 0;
.system psql "$STATEVTAB_PG_URL" -XAtq -c "ALTER TABLE \"${STATEVTAB_TEST_NS}_doom\".tasks ADD CONSTRAINT no_b CHECK (name <> 'b')"
SELECT count(*) FROM doom;
COMMIT;
.system psql "$STATEVTAB_PG_URL" -XAtq -c "ALTER TABLE \"${STATEVTAB_TEST_NS}_doom\".tasks DROP CONSTRAINT no_b"
SELECT name FROM doom ORDER BY name;

-- 60.14 the indexes of a new schema's tasks table: the key, the claim index
-- of the pending tasks (which serves queue = ? AND state = 'pending'),
-- expired leases, execution_id and the dedupe key without NULLs; nothing
-- on queue, state, run_at, created_at, completed_at, idempotency_key or
-- lease_expires_at alone
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '$STATEVTAB_TEST_NS' AND tablename = 'tasks' ORDER BY 1"
SELECT count(*) FROM tasks WHERE queue = 'default' AND state = 'pending';

-- 60.15 indexes= builds <kind>_<column> on the schema's shared table (NULLs
-- left out of a column that may be NULL), once: another table naming it,
-- or a column indexed already, adds nothing; every table of the schema
-- reads through it (queue too: the claim index holds pending tasks only).
-- An unknown column is an error, nothing is built
CREATE VIRTUAL TABLE ix1 USING state_tasks(@OPTS:ix@, indexes='completed_at, state,,queue, id');
CREATE VIRTUAL TABLE ix2 USING state_tasks(@OPTS:ix@, indexes=' completed_at ');
CREATE VIRTUAL TABLE ix3 USING state_tasks(@OPTS:ix@);
CREATE VIRTUAL TABLE ixkv USING state_kv(@OPTS:ix@, indexes='version');
CREATE VIRTUAL TABLE ixbad USING state_tasks(@OPTS:ix@, indexes='run_at,nope');
CREATE VIRTUAL TABLE ixbad2 USING state_kv(@OPTS:ix@, indexes='state');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT tablename, indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_ix' AND indexname IN ('tasks_completed_at', 'tasks_state', 'tasks_run_at', 'tasks_queue', 'tasks_id', 'kv_version') ORDER BY 1, 2"
INSERT INTO ix3(id, name, state, completed_at) VALUES ('d1', 'x', 'completed', 5), ('p1', 'y', 'pending', NULL);
SELECT id FROM ix1 WHERE completed_at < 10;
SELECT id FROM ix2 WHERE state = 'pending';

-- 60.16 a schema of version 2 (full UNIQUE (queue, idempotency_key), one
-- index per indexed column) is upgraded by the first table that attaches
-- it: the column indexes that version 3 builds on request are dropped (a
-- table naming one builds it again), and so is the full claim index
-- (tasks_pending replaces it); the constraint stays next to tasks_dedupe;
-- its rows, idempotent inserts and claims keep working
.system s="\"${STATEVTAB_TEST_NS}_v2\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $s; CREATE TABLE $s.tasks (_rid bigserial PRIMARY KEY, id text COLLATE \"C\" NOT NULL, execution_id text COLLATE \"C\", queue text COLLATE \"C\" NOT NULL, name text COLLATE \"C\" NOT NULL, payload text COLLATE \"C\", state text COLLATE \"C\" NOT NULL, priority bigint NOT NULL, run_at bigint NOT NULL, attempts bigint NOT NULL, max_attempts bigint NOT NULL, lease_owner text COLLATE \"C\", lease_token bigint, lease_expires_at bigint, tags text COLLATE \"C\" NOT NULL, idempotency_key text COLLATE \"C\", result text COLLATE \"C\", error text COLLATE \"C\", created_at bigint NOT NULL, updated_at bigint NOT NULL, completed_at bigint, UNIQUE (id), UNIQUE (queue, idempotency_key)); CREATE INDEX tasks_claim ON $s.tasks (queue, state, priority, run_at, id); CREATE INDEX tasks_execution_id ON $s.tasks (execution_id) WHERE execution_id IS NOT NULL; CREATE INDEX tasks_state ON $s.tasks (state); CREATE INDEX tasks_run_at ON $s.tasks (run_at); CREATE INDEX tasks_lease_expires_at ON $s.tasks (lease_expires_at) WHERE lease_expires_at IS NOT NULL; CREATE INDEX tasks_idempotency_key ON $s.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL; CREATE INDEX tasks_created_at ON $s.tasks (created_at); CREATE INDEX tasks_completed_at ON $s.tasks (completed_at) WHERE completed_at IS NOT NULL; CREATE INDEX tasks_expiry ON $s.tasks (queue, lease_expires_at) WHERE state = 'claimed'; INSERT INTO $s.tasks (id, queue, name, state, priority, run_at, attempts, max_attempts, tags, idempotency_key, created_at, updated_at) VALUES ('old1', 'up', 'from v2', 'pending', 0, 0, 0, 3, '[]', 'k1', 0, 0); CREATE FUNCTION $s.sv_schema_2() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 2'"
CREATE VIRTUAL TABLE up USING state_tasks(@OPTS:v2@, indexes='created_at');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v2' AND tablename = 'tasks' ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v2' AND p.proname IN ('sv_schema_2', 'sv_schema_3', 'sv_schema_4')"
INSERT INTO up(queue, name, idempotency_key) VALUES ('up', 'again', 'k1');
INSERT INTO up(queue, name, idempotency_key) VALUES ('up', 'new', 'k2');
SELECT id = 'old1', name, idempotency_key FROM up ORDER BY name;
SELECT name, attempts FROM state_claim('up', 'up', 'w', 30000, 1);
SELECT state_complete('up', (SELECT id FROM up WHERE state = 'claimed'), 1);
SELECT name, state FROM up WHERE queue = 'up' AND state = 'completed';

-- 60.17 a schema of version 3 (the full claim index tasks_claim; a column
-- index built on request) is upgraded by the first table that attaches it:
-- tasks_pending replaces tasks_claim, the indexes built on request stay;
-- a task claimed before the upgrade completes after it, and claims go on
.system s="\"${STATEVTAB_TEST_NS}_v3\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $s; CREATE TABLE $s.tasks (_rid bigserial PRIMARY KEY, id text COLLATE \"C\" NOT NULL, execution_id text COLLATE \"C\", queue text COLLATE \"C\" NOT NULL, name text COLLATE \"C\" NOT NULL, payload text COLLATE \"C\", state text COLLATE \"C\" NOT NULL, priority bigint NOT NULL, run_at bigint NOT NULL, attempts bigint NOT NULL, max_attempts bigint NOT NULL, lease_owner text COLLATE \"C\", lease_token bigint, lease_expires_at bigint, tags text COLLATE \"C\" NOT NULL, idempotency_key text COLLATE \"C\", result text COLLATE \"C\", error text COLLATE \"C\", created_at bigint NOT NULL, updated_at bigint NOT NULL, completed_at bigint, UNIQUE (id)); CREATE UNIQUE INDEX tasks_dedupe ON $s.tasks (queue, idempotency_key) WHERE idempotency_key IS NOT NULL; CREATE INDEX tasks_claim ON $s.tasks (queue, state, priority, run_at, id); CREATE INDEX tasks_execution_id ON $s.tasks (execution_id) WHERE execution_id IS NOT NULL; CREATE INDEX tasks_expiry ON $s.tasks (queue, lease_expires_at) WHERE lease_expires_at IS NOT NULL; CREATE INDEX tasks_state ON $s.tasks (state); INSERT INTO $s.tasks (id, queue, name, state, priority, run_at, attempts, max_attempts, lease_owner, lease_token, lease_expires_at, tags, created_at, updated_at) VALUES ('held', 'up3', 'claimed by v3', 'claimed', 0, 0, 1, 3, 'old', 7, 9000000000000, '[]', 0, 0), ('next', 'up3', 'pending', 'pending', 0, 0, 0, 3, NULL, NULL, NULL, '[]', 0, 0); CREATE FUNCTION $s.sv_schema_3() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 3'"
CREATE VIRTUAL TABLE up3 USING state_tasks(@OPTS:v3@);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v3' AND tablename = 'tasks' ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v3' AND p.proname LIKE 'sv_schema_%' ORDER BY 1"
SELECT state_complete('up3', 'held', 7, '{"v":3}');
SELECT name, attempts FROM state_claim('up3', 'up3', 'w', 30000, 5);
SELECT id, state, result FROM up3 ORDER BY id;

-- 60.18 a schema of version 1 (one full index per indexed column, the
-- full UNIQUE (queue, idempotency_key), a row-level trigger on inserts, no
-- tasks_expiry) is brought up to date too: the column indexes and
-- tasks_claim go, tasks_pending, tasks_expiry and tasks_dedupe come, the
-- insert trigger is per statement
.system s="\"${STATEVTAB_TEST_NS}_v1\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "CREATE SCHEMA $s; CREATE TABLE $s.tasks (_rid bigserial PRIMARY KEY, id text COLLATE \"C\" NOT NULL, execution_id text COLLATE \"C\", queue text COLLATE \"C\" NOT NULL, name text COLLATE \"C\" NOT NULL, payload text COLLATE \"C\", state text COLLATE \"C\" NOT NULL, priority bigint NOT NULL, run_at bigint NOT NULL, attempts bigint NOT NULL, max_attempts bigint NOT NULL, lease_owner text COLLATE \"C\", lease_token bigint, lease_expires_at bigint, tags text COLLATE \"C\" NOT NULL, idempotency_key text COLLATE \"C\", result text COLLATE \"C\", error text COLLATE \"C\", created_at bigint NOT NULL, updated_at bigint NOT NULL, completed_at bigint, UNIQUE (id), UNIQUE (queue, idempotency_key)); CREATE INDEX tasks_claim ON $s.tasks (queue, state, priority, run_at, id); CREATE INDEX tasks_execution_id ON $s.tasks (execution_id); CREATE INDEX tasks_state ON $s.tasks (state); CREATE INDEX tasks_run_at ON $s.tasks (run_at); CREATE INDEX tasks_lease_expires_at ON $s.tasks (lease_expires_at); CREATE INDEX tasks_created_at ON $s.tasks (created_at); CREATE INDEX tasks_completed_at ON $s.tasks (completed_at); CREATE FUNCTION $s.sv_notify() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NULL; END'; CREATE TRIGGER sv_notify AFTER INSERT OR UPDATE OF state, run_at ON $s.tasks FOR EACH ROW EXECUTE FUNCTION $s.sv_notify(); INSERT INTO $s.tasks (id, queue, name, state, priority, run_at, attempts, max_attempts, tags, idempotency_key, created_at, updated_at) VALUES ('old1', 'up1', 'from v1', 'pending', 0, 0, 0, 3, '[]', 'k1', 0, 0); CREATE FUNCTION $s.sv_schema_1() RETURNS integer LANGUAGE sql IMMUTABLE AS 'SELECT 1'"
CREATE VIRTUAL TABLE up1 USING state_tasks(@OPTS:v1@);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v1' AND tablename = 'tasks' ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT tgname, regexp_replace(pg_get_triggerdef(t.oid), ' ON [^ ]+ | [^ ]+[.](sv_[a-z_]+)', ' \\1', 'g') FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v1' AND c.relname = 'tasks' ORDER BY 1"
INSERT INTO up1(queue, name, idempotency_key) VALUES ('up1', 'again', 'k1');
INSERT INTO up1(queue, name) VALUES ('up1', 'new');
SELECT name, attempts FROM state_claim('up1', 'up1', 'w', 30000, 5) ORDER BY name;
SELECT state_complete('up1', (SELECT json_group_array(json_object('id', id, 'token', lease_token)) FROM up1));
SELECT name, state FROM up1 ORDER BY name;

-- 60.19 processes of versions 1 to 4 call sv_claim and sv_fail with a
-- boolean last argument (dead letters on) and find overloads that serve
-- them: a claim, a claim that kills a task whose last lease expired and a
-- failure that kills one each write a dead letter with a UUID id
CREATE VIRTUAL TABLE old4 USING state_tasks(@OPTS:v4@);
CREATE VIRTUAL TABLE old4dl USING state_dead_letters(@OPTS:v4@);
INSERT INTO old4(id, queue, name, max_attempts) VALUES ('o1', 'oq', 'job', 1), ('o2', 'oq2', 'job', 1);
.system s="\"${STATEVTAB_TEST_NS}_v4\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "SELECT id, lease_token FROM $s.sv_claim(ARRAY['oq', 'oq2'], 'old', 0::bigint, 2, NULL::text[], NULL::text, NULL::text[], NULL::boolean[], NULL::bigint[], NULL::text[], NULL::bigint[], NULL::text[], true) ORDER BY id" -c "SELECT count(*) FROM $s.sv_claim(ARRAY['oq'], 'old', 30000::bigint, 1, NULL::text[], NULL::text, NULL::text[], NULL::boolean[], NULL::bigint[], NULL::text[], NULL::bigint[], NULL::text[], true)"
INSERT INTO old4(id, queue, name, max_attempts) VALUES ('o3', 'oq3', 'job', 1);
SELECT count(*) FROM state_claim('old4', 'oq3', 'w', 30000);
.system s="\"${STATEVTAB_TEST_NS}_v4\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "SELECT $s.sv_fail('o3', 1::bigint, 'boom', NULL::bigint, true)"
SELECT id, state FROM old4 ORDER BY id;
SELECT task_id, reason, length(id) FROM old4dl ORDER BY task_id;

-- 60.20 kv values of any type are stored as tagged text (I 64-bit integer,
-- R real as its 64 bits in hex, T text, X blob as hex, Y text holding a NUL
-- as hex); rows written before (value was JSON text, stored untagged) read
-- back as they were written, as text, and can be updated to any type
CREATE VIRTUAL TABLE oldkv USING state_kv(@OPTS:oldkv@);
INSERT INTO oldkv(scope, key, value) VALUES ('n', 'i', -9223372036854775808),
  ('n', 'r', 0.1), ('n', 't', 'hi'), ('n', 'b', x'00ff'), ('n', 'y', CAST(x'610062' AS TEXT)), ('n', 'z', NULL);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT key, value FROM \"${STATEVTAB_TEST_NS}_oldkv\".kv WHERE scope = 'n' ORDER BY key"
.system psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "INSERT INTO \"${STATEVTAB_TEST_NS}_oldkv\".kv (scope, key, value, version, updated_at) VALUES ('o', 'obj', '{\"a\":1}', 1, 1000), ('o', 'str', '\"str\"', 1, 1000), ('o', 'num', '42', 1, 1000), ('o', 'nul', 'null', 1, 1000), ('o', 'sp', ' [1]', 1, 1000)"
SELECT key, typeof(value), value, version FROM oldkv WHERE scope = 'o' ORDER BY key;
UPDATE oldkv SET value = x'0102' WHERE scope = 'o' AND key = 'num';
SELECT key, typeof(value), quote(value), version FROM oldkv WHERE scope = 'o' ORDER BY key;

-- 60.21 expired kv rows are removed, not only hidden: every INSERT or
-- UPDATE of a row removes up to 100 expired rows (kv_expires_at index, FOR
-- UPDATE SKIP LOCKED); 10,000 rows that expire are all gone from the
-- server's table after 100 rows are written
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000
CREATE VIRTUAL TABLE ks USING state_kv(@OPTS:sweep@);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_sweep' AND tablename = 'kv' AND indexdef LIKE '%expires_at%'"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO ks(scope, key, value, expires_at)
  SELECT 'ttl', 'k' || i, i, 1700000001000 FROM n;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM \"${STATEVTAB_TEST_NS}_sweep\".kv"
.setenv STATEVTAB_TEST_CLOCK_MS 1700000001000
SELECT count(*) FROM ks;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM \"${STATEVTAB_TEST_NS}_sweep\".kv"
INSERT INTO ks(scope, key, value) VALUES ('live', 'a', 1);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM \"${STATEVTAB_TEST_NS}_sweep\".kv"
UPDATE ks SET value = 2 WHERE scope = 'live' AND key = 'a';
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM \"${STATEVTAB_TEST_NS}_sweep\".kv"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 98)
INSERT INTO ks(scope, key, value) SELECT 'live', 'b' || i, i FROM n;
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*), min(expires_at) FROM \"${STATEVTAB_TEST_NS}_sweep\".kv"
SELECT count(*), min(value), max(value) FROM ks;
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000

-- 60.22 before the first function of an explicit transaction statevtab
-- enlists the table with a write statement that touches no row; where
-- SQLite refuses writes (PRAGMA query_only) that fails, and the function
-- with it, naming why
CREATE VIRTUAL TABLE qo USING state_counters(@OPTS:qo@);
PRAGMA query_only = 1;
BEGIN;
SELECT state_incr('qo', 's', 'q');
ROLLBACK;
PRAGMA query_only = 0;
SELECT count(*) FROM qo;

-- 60.40 dedup= on a schema: the first table with a window replaces the
-- UNIQUE tasks_dedupe by the plain tasks_dedupe_key (several tasks may
-- hold a key); a dedup=row table of the same schema still finds any task
-- of the key; the ON CONFLICT of earlier versions' idempotent inserts
-- fails from then on, naming why
CREATE VIRTUAL TABLE drow USING state_tasks(@OPTS:dd@);
INSERT INTO drow(id, queue, name, idempotency_key) VALUES ('d1', 'q', 'x', 'k');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, indexdef LIKE '%UNIQUE%' FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_dd' AND indexname LIKE 'tasks_dedupe%' ORDER BY 1"
CREATE VIRTUAL TABLE dact USING state_tasks(@OPTS:dd@, dedup='active');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, indexdef LIKE '%UNIQUE%' FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_dd' AND indexname LIKE 'tasks_dedupe%' ORDER BY 1"
INSERT INTO dact(id, queue, name, idempotency_key) VALUES ('d2', 'q', 'x', 'k');
UPDATE dact SET state = 'completed' WHERE id = 'd1';
INSERT INTO dact(id, queue, name, idempotency_key) VALUES ('d3', 'q', 'x', 'k');
INSERT INTO drow(id, queue, name, idempotency_key) VALUES ('d4', 'q', 'x', 'k');
SELECT id, state FROM drow ORDER BY id;
.system psql "$STATEVTAB_PG_URL" -XAtqc "INSERT INTO \"${STATEVTAB_TEST_NS}_dd\".tasks (id, queue, name, state, priority, run_at, attempts, max_attempts, tags, idempotency_key, created_at, updated_at) VALUES ('old', 'q', 'x', 'pending', 0, 0, 0, 3, '[]', 'k', 0, 0) ON CONFLICT (queue, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING" 2>&1 || true

-- 60.41 ... and in a schema of version 2 (60.16) the first table with a
-- window drops the full UNIQUE (queue, idempotency_key) constraint too:
-- a second task of a key whose task is completed gets in
CREATE VIRTUAL TABLE upw USING state_tasks(@OPTS:v2@, dedup='active');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT conname FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v2' AND c.contype = 'u' AND c.conname LIKE 'tasks%' ORDER BY 1"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v2' AND indexname LIKE 'tasks_%dedupe%' ORDER BY 1"
INSERT INTO upw(queue, name, idempotency_key) SELECT 'up', 'after', idempotency_key FROM up WHERE state = 'completed';
SELECT name, state FROM up WHERE idempotency_key = (SELECT idempotency_key FROM up WHERE name = 'after') ORDER BY name;
-- 60.50 schedules on PostgreSQL: the schema's schedules table (every column
-- of the descriptor, the next_run index), and a schema of version 6 (no
-- schedules table, no sv_schema_7) gets both when a table of this version
-- attaches it (the schema is made by another process, the sqlite3 shell,
-- then taken back to version 6); a schedule there fires into its tasks
-- (one statement: the UPDATE of the schedule as a CTE, the INSERT of the
-- task from it)
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = '$STATEVTAB_TEST_NS' AND table_name = 'schedules' ORDER BY ordinal_position"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname FROM pg_indexes WHERE schemaname = '$STATEVTAB_TEST_NS' AND tablename = 'schedules' ORDER BY 1"
.system sqlite3 :memory: -cmd ".load ${STATEVTAB_EXT%.so}" "CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PG_URL', schema='${STATEVTAB_TEST_NS}_v6')"
.system s="\"${STATEVTAB_TEST_NS}_v6\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "SET client_min_messages = warning" -c "DROP TABLE $s.schedules; DROP FUNCTION $s.sv_schema_7(); DROP FUNCTION $s.sv_schema_8(); DROP FUNCTION $s.sv_schema_9(); DROP FUNCTION $s.sv_schema_10(); DROP FUNCTION $s.sv_schema_11(); DROP FUNCTION $s.sv_schema_12()"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM information_schema.tables WHERE table_schema = '${STATEVTAB_TEST_NS}_v6' AND table_name = 'schedules'"
CREATE VIRTUAL TABLE v6s USING state_schedules(@OPTS:v6@);
CREATE VIRTUAL TABLE v6t2 USING state_tasks(@OPTS:v6@, schedules='v6s');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM information_schema.tables WHERE table_schema = '${STATEVTAB_TEST_NS}_v6' AND table_name = 'schedules'"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v6' AND p.proname = 'sv_schema_7'"
INSERT INTO v6s(name, cron, queue, task, next_run) VALUES ('m', '0 * * * *', 'v6q', 'hourly', 1699999200000);
SELECT name, datetime(run_at / 1000, 'unixepoch') FROM state_claim('v6t2', 'v6q', 'w', 30000);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT name, last_run, next_run FROM \"${STATEVTAB_TEST_NS}_v6\".schedules"
.system psql "$STATEVTAB_PG_URL" -XAtq -c "SET client_min_messages = warning" -c "DROP SCHEMA \"${STATEVTAB_TEST_NS}_v6\" CASCADE"
-- 60.30 a schema of version 6 (before state_metrics: no tasks_queue_state,
-- no sv_schema_7; made here by taking them from a new schema) is upgraded
-- by the first process that attaches it: the index is built, and
-- state_metrics counts the settled tasks (there and here)
CREATE VIRTUAL TABLE m6 USING state_tasks(@OPTS:v6m@);
INSERT INTO m6(id, queue, name, state, completed_at) VALUES
  ('d1', 'q6', 'n', 'completed', 1000), ('d2', 'q6', 'n', 'dead', NULL),
  ('d3', 'q6', 'n', 'pending', NULL);
.system s="\"${STATEVTAB_TEST_NS}_v6m\""; psql "$STATEVTAB_PG_URL" -XAtq -v ON_ERROR_STOP=1 -c "DROP INDEX $s.tasks_queue_state; DROP FUNCTION $s.sv_schema_7(); DROP FUNCTION $s.sv_schema_8(); DROP FUNCTION $s.sv_schema_9(); DROP FUNCTION $s.sv_schema_10(); DROP FUNCTION $s.sv_schema_11(); DROP FUNCTION $s.sv_schema_12(); DROP TRIGGER sv_notify_flags ON $s.flags; DROP TRIGGER sv_notify_segments ON $s.segments; DROP TRIGGER sv_deps_insert ON $s.tasks; DROP TRIGGER sv_deps_link ON $s.tasks; DROP TRIGGER sv_deps_end ON $s.tasks; DROP TRIGGER sv_deps_delete ON $s.tasks; DROP TABLE $s.deps; ALTER TABLE $s.tasks DROP COLUMN partition_key, DROP COLUMN depends_on"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT count(*) FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v6m' AND indexname = 'tasks_queue_state'"
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_PG_URL', schema='${STATEVTAB_TEST_NS}_v6m'); SELECT queue, pending, completed, dead FROM state_metrics('t')"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_v6m' AND indexname = 'tasks_queue_state'"
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v6m' AND p.proname = 'sv_schema_7'"
-- (version 8: the tasks columns of version 8, dropped above, come back at
-- the end, in the descriptor's order, NULL in the older rows)
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = '\"${STATEVTAB_TEST_NS}_v6m\".tasks'::regclass AND attnum > 19 AND NOT attisdropped"
SELECT id, partition_key IS NULL, depends_on IS NULL FROM m6 ORDER BY id;
SELECT queue, pending, completed, dead FROM state_metrics('m6');
-- (version 10: the flags and segments triggers that announce changes,
-- dropped above with sv_schema_10's function, are back)
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT c.relname, t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '${STATEVTAB_TEST_NS}_v6m' AND t.tgname LIKE 'sv_notify_f%' OR n.nspname = '${STATEVTAB_TEST_NS}_v6m' AND t.tgname = 'sv_notify_segments' ORDER BY 1"

-- 60.60 partitions on PostgreSQL (schema 8): the index tasks_part of the
-- pending tasks by (queue, partition_key, priority, run_at, id), and the
-- partitions table holding, per queue a claim walked by partitions, the
-- partition it served last (last NULL: the NULL partition)
CREATE VIRTUAL TABLE pt USING state_tasks(@OPTS:part@);
INSERT INTO pt(id, queue, name, partition_key) VALUES
  ('x1', 'pq', 'n', 'a'), ('x2', 'pq', 'n', NULL), ('x3', 'pq', 'n', 'b');
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT indexname, regexp_replace(indexdef, ' ON .* USING ', ' ') FROM pg_indexes WHERE schemaname = '${STATEVTAB_TEST_NS}_part' AND indexname = 'tasks_part'"
SELECT id FROM state_claim('pt', 'pq', 'w', 30000, 1);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT queue, served, coalesce(last, '(NULL)') FROM \"${STATEVTAB_TEST_NS}_part\".partitions"
SELECT id FROM state_claim('pt', 'pq', 'w', 30000, 1);
.system psql "$STATEVTAB_PG_URL" -XAtqc "SELECT queue, served, coalesce(last, '(NULL)') FROM \"${STATEVTAB_TEST_NS}_part\".partitions"

-- 60.61 a queue without partitions next to one with many (schema 12):
-- the claim seeks tasks_part to see that it has none, and reads tasks
-- with no sequential scan (with "queue = ANY" the generic plan read the
-- whole table).  Another process claims, so that its statistics are
-- flushed when it ends
CREATE VIRTUAL TABLE mx USING state_tasks(@OPTS:mix@);
INSERT INTO mx(id, queue, name, partition_key)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 3000)
  SELECT 'm' || v, 'many', 'n', 'k' || (v % 7) FROM i;
INSERT INTO mx(id, queue, name) VALUES ('p1', 'plain', 'n'), ('p2', 'plain', 'n');
.system psql "$STATEVTAB_PG_URL" -XAtqc "ANALYZE \"${STATEVTAB_TEST_NS}_mix\".tasks"
.system bash -c 'q="SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = '"'"'${STATEVTAB_TEST_NS}_mix'"'"' AND relname = '"'"'tasks'"'"'"; s0=$(psql "$STATEVTAB_PG_URL" -XAtqc "$q"); sqlite3 :memory: ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE mx USING state_tasks(store='"'"'env:STATEVTAB_PG_URL'"'"', schema='"'"'${STATEVTAB_TEST_NS}_mix'"'"')" "SELECT id FROM state_claim('"'"'mx'"'"', '"'"'plain'"'"', '"'"'w'"'"', 30000, 1)" "SELECT id FROM state_claim('"'"'mx'"'"', '"'"'plain'"'"', '"'"'w'"'"', 30000, 1)"; sleep 0.3; s1=$(psql "$STATEVTAB_PG_URL" -XAtqc "$q"); echo "sequential scans: $((s1 - s0))"'
