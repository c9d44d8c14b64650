-- 50-local-shadow: the local store keeps table T's rows in the shadow
-- table T_data (plus one index per indexed column) in T's own schema.
-- Local store only (test/sqltest.sh skips 50-local-* for other stores).

-- 50.1 CREATE makes the shadow table and its indexes (and, for tasks, the
-- table of paused queues), nothing else
CREATE VIRTUAL TABLE t USING state_tasks(@OPTS@);
SELECT type, name, tbl_name FROM sqlite_schema ORDER BY type, name;

-- 50.2 the shadow table has one column per column, and a UNIQUE key
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('t_data') ORDER BY cid);
SELECT name, "unique", origin FROM pragma_index_list('t_data') ORDER BY name;
SELECT group_concat(name, ', ') FROM pragma_index_info('sqlite_autoindex_t_data_1');
SELECT group_concat(name, ', ') FROM pragma_index_info('t_data_queue');

-- 50.3 a two-column key: UNIQUE(scope, key); the key's first column needs
-- no index of its own
CREATE VIRTUAL TABLE k USING state_kv(@OPTS@);
SELECT type, name FROM sqlite_schema WHERE tbl_name = 'k_data' ORDER BY type, name;
SELECT group_concat(name, ', ') FROM pragma_index_info('sqlite_autoindex_k_data_1');

-- 50.4 the shadow tables of every module
CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);
SELECT tbl_name, group_concat(name, ' ') FROM
  (SELECT tbl_name, name FROM sqlite_schema
    WHERE tbl_name IN ('ex_data', 'si_data', 'dl_data', 'co_data', 'fl_data', 'le_data')
    ORDER BY tbl_name, name)
 GROUP BY tbl_name ORDER BY tbl_name;

-- 50.5 the rows are plain rows of the shadow table
INSERT INTO t(id, name, queue, payload) VALUES ('a', 'x', 'q', '{"n":1}');
SELECT id, name, queue, payload, state, priority FROM t_data;
INSERT INTO k(key, value) VALUES ('kk', '1');
UPDATE k SET value = '2' WHERE key = 'kk';
SELECT quote(scope), key, value, version FROM k_data;

-- 50.6 options: none at all, an empty list, store= with or without quotes
-- (unquoted, "sqlite:" is not an SQL token: SQLite's parser refuses it)
CREATE VIRTUAL TABLE n0 USING state_counters(store=sqlite:);
CREATE VIRTUAL TABLE n1 USING state_counters;
CREATE VIRTUAL TABLE n2 USING state_counters();
CREATE VIRTUAL TABLE n3 USING state_counters(store=sqlite);
CREATE VIRTUAL TABLE n4 USING state_counters(store="sqlite:");
CREATE VIRTUAL TABLE n5 USING state_counters(store = 'sqlite');
CREATE VIRTUAL TABLE n6 USING state_counters(store='');
CREATE VIRTUAL TABLE n7 USING state_counters(store='SQLite:');
SELECT name FROM sqlite_schema WHERE name GLOB 'n[0-9]_data' ORDER BY name;
INSERT INTO n1(name) VALUES ('one'); INSERT INTO n2(name) VALUES ('two');
SELECT name FROM n1; SELECT name FROM n2;

-- 50.7 prefix= and schema= (a remote store's namespace), command_timeout=
-- and connect_timeout= (a remote round trip's bound) are accepted and
-- ignored, so one CREATE moves between stores by its store= alone
CREATE VIRTUAL TABLE n8 USING state_counters(store='sqlite:', prefix='app:', schema=app);
SELECT count(*) FROM n8;
CREATE VIRTUAL TABLE n9 USING state_counters(store='sqlite:', command_timeout=2000, connect_timeout=500);
SELECT count(*) FROM n9;

-- 50.8 each table has its own rows, whatever its options say
INSERT INTO n3(name) VALUES ('three');
SELECT (SELECT count(*) FROM n1), (SELECT count(*) FROM n3), (SELECT count(*) FROM n4);

-- 50.9 DROP TABLE removes the shadow table and its indexes
DROP TABLE t;
SELECT name FROM sqlite_schema WHERE tbl_name GLOB 't' OR tbl_name GLOB 't_*' ORDER BY name;
SELECT count(*) FROM t_data;
SELECT count(*) FROM t_queues;

-- 50.10 ALTER TABLE RENAME: the rows stay, in the renamed shadow table
-- (its indexes keep their names); a new table of the old name starts empty
-- and names its indexes around the old ones
CREATE VIRTUAL TABLE r USING state_tasks(@OPTS@);
INSERT INTO r(id, name) VALUES ('r1', 'kept');
ALTER TABLE r RENAME TO s;
SELECT type, name, tbl_name FROM sqlite_schema
 WHERE tbl_name GLOB '[rs]' OR tbl_name GLOB '[rs]_*' ORDER BY type, name;
SELECT id, name FROM s;
SELECT id, name FROM s_data;
CREATE VIRTUAL TABLE r USING state_tasks(@OPTS@);
SELECT count(*) FROM r;
INSERT INTO r(id, name) VALUES ('r2', 'new');
SELECT id FROM r; SELECT id FROM s;
SELECT name, tbl_name FROM sqlite_schema
 WHERE tbl_name = 'r_data' AND type = 'index' ORDER BY name;
EXPLAIN QUERY PLAN SELECT id FROM r_data WHERE queue = 'q';
DROP TABLE s;
SELECT name FROM sqlite_schema WHERE tbl_name GLOB 's' OR tbl_name GLOB 's_*';
SELECT id FROM r;

-- 50.11 statevtab_debug(T) on the local store: the store line
SELECT statevtab_debug('r');
SELECT statevtab_debug('n8');

-- 50.12 rename and drop after a reconnect (the table is connected, not
-- created, and finds its shadow table)
.open shadow.db
CREATE VIRTUAL TABLE f USING state_tasks(@OPTS@);
INSERT INTO f(id, name) VALUES ('f1', 'x');
.reopen
ALTER TABLE f RENAME TO g;
SELECT id FROM g;
.reopen
SELECT id FROM g;
DROP TABLE g;
SELECT count(*) FROM sqlite_schema;

-- 50.13 a table in the temp schema keeps its rows in temp (beside
-- temp.state_claim, which the extension makes: see 50-local-wal)
CREATE VIRTUAL TABLE temp.tt USING state_kv(@OPTS@);
SELECT type, name FROM sqlite_temp_schema ORDER BY type, name;
SELECT count(*) FROM sqlite_schema;
INSERT INTO temp.tt(key, value) VALUES ('a', '1');
SELECT key, value FROM temp.tt_data;

-- 50.14 a table in an attached database keeps its rows there
ATTACH 'other.db' AS aux;
CREATE VIRTUAL TABLE aux.at USING state_flags(@OPTS@);
INSERT INTO aux.at(name, enabled) VALUES ('f', 1);
SELECT name FROM aux.sqlite_schema WHERE type = 'table' ORDER BY name;
SELECT name, enabled FROM aux.at_data;
SELECT substr(statevtab_debug('aux.at'), 1,
              instr(statevtab_debug('aux.at'), char(10) || 'store') - 1);
DETACH aux;
ATTACH 'other.db' AS aux2;
SELECT name, enabled FROM aux2.at;


-- 50.15 the indexes a tasks table gets by default: the claim index
-- (queue, state, priority, run_at, id), and indexes that leave NULLs out
-- (execution_id and the idempotency index): a task with neither costs them
-- no write.  state, run_at, created_at, completed_at, idempotency_key and
-- lease_expires_at alone are indexed on request (indexes=); the table
-- T_reap says per queue when a claim next looks for expired leases (the
-- earliest lease of the queue's claimed tasks)
CREATE VIRTUAL TABLE ix USING state_tasks(@OPTS@);
SELECT name, sql FROM sqlite_schema WHERE tbl_name = 'ix_data' AND type = 'index'
 ORDER BY name;
SELECT sql FROM sqlite_schema WHERE name = 'ix_reap';
INSERT INTO ix(id, queue, name) VALUES ('a', 'q', 'x');
SELECT (SELECT count(*) FROM ix_data INDEXED BY ix_data_execution_id
         WHERE execution_id > ''),
       (SELECT count(*) FROM ix_data INDEXED BY ix_data_queue
         WHERE queue = 'q');
SELECT count(*) FROM state_claim('ix', 'q', 'w');
SELECT queue, due = (SELECT lease_expires_at FROM ix_data WHERE id = 'a')
  FROM ix_reap;

-- 50.16 indexes= adds an index per named column (any column; blanks and
-- empty names ignored); they keep NULLs out too
CREATE VIRTUAL TABLE iy USING state_tasks(@OPTS@, indexes='state, completed_at,,name');
SELECT name, sql FROM sqlite_schema WHERE tbl_name = 'iy_data' AND type = 'index'
 AND name IN ('iy_data_state', 'iy_data_completed_at', 'iy_data_name') ORDER BY name;
CREATE VIRTUAL TABLE iz USING state_kv(@OPTS@, indexes=version);
SELECT name FROM sqlite_schema WHERE tbl_name = 'iz_data' AND type = 'index' ORDER BY name;
CREATE VIRTUAL TABLE iw USING state_tasks(@OPTS@, indexes='state,nope');
CREATE VIRTUAL TABLE iw USING state_tasks(@OPTS@, indexes='');
SELECT count(*) FROM sqlite_schema WHERE tbl_name = 'iw_data' AND type = 'index';

-- 50.17 idempotent enqueue on a table whose idempotency index holds NULLs
-- and is not partial (the layout of version 0.1, UNIQUE(queue,
-- idempotency_key)): the same INSERT still drops the duplicate
CREATE VIRTUAL TABLE io USING state_tasks(@OPTS@);
DROP INDEX io_data_queue_idempotency_key;
CREATE UNIQUE INDEX io_old ON io_data(queue, idempotency_key);
INSERT INTO io(queue, name, idempotency_key) VALUES ('q', 'a', 'k');
INSERT INTO io(queue, name, idempotency_key) VALUES ('q', 'b', 'k');
INSERT INTO io(queue, name) VALUES ('q', 'c');
INSERT INTO io(queue, name) VALUES ('q', 'd');
SELECT name FROM io ORDER BY name;

-- 50.18 expired leases are found through T_reap: a lease written by an
-- INSERT, an UPDATE or a renewal that ends sooner than the queue's due time
-- lowers it, so the next claim takes the task back at once; a table without
-- T_reap (made before 2026-12-03) keeps its lease_expires_at index and
-- reaps through it
CREATE VIRTUAL TABLE rp USING state_tasks(@OPTS@);
INSERT INTO rp(id, queue, name) VALUES ('long', 'q', 'x');
SELECT count(*) FROM state_claim('rp', 'q', 'w', 3600000);
INSERT INTO rp(id, queue, name, state, lease_owner, lease_token,
               lease_expires_at, attempts)
  VALUES ('ins', 'q', 'x', 'claimed', 'gone', 1, 1000, 1);
SELECT due FROM rp_reap WHERE queue = 'q';
SELECT id, lease_owner, attempts FROM state_claim('rp', 'q', 'w2', 3600000);
INSERT INTO rp(id, queue, name) VALUES ('upd', 'q', 'x');
SELECT id FROM state_claim('rp', 'q', 'w3', 3600000);
UPDATE rp SET lease_expires_at = 2000 WHERE id = 'upd';
SELECT due FROM rp_reap WHERE queue = 'q';
SELECT id, lease_owner, attempts FROM state_claim('rp', 'q', 'w4', 3600000);
SELECT id, state FROM rp ORDER BY id;
.open reap-old.db
CREATE VIRTUAL TABLE ro USING state_tasks(@OPTS@);
DROP TABLE ro_reap;
CREATE INDEX ro_data_lease_expires_at ON ro_data(lease_expires_at)
  WHERE lease_expires_at IS NOT NULL;
.reopen
INSERT INTO ro(id, queue, name) VALUES ('o', 'q', 'x');
SELECT count(*) FROM state_claim('ro', 'q', 'w', 0);
SELECT id, lease_owner, attempts FROM state_claim('ro', 'q', 'w2', 3600000);
EXPLAIN QUERY PLAN SELECT rowid FROM ro_data WHERE +state = 'claimed'
  AND lease_expires_at <= 5 AND +queue = 'q';
SELECT name FROM sqlite_schema WHERE name GLOB 'ro_*' ORDER BY name;

-- 50.19 kv's value column has no type in T_data, so every value is kept as
-- it is; a table made before 2026-12-03 declares it TEXT (whose affinity
-- would turn numbers into text): its rows read back as they were written
-- (JSON text), and integers, reals and blobs written now are stored there
-- as tagged blobs ('I' or 'R' and 8 bytes big-endian, 'B' and the bytes)
-- that read back with their type
CREATE VIRTUAL TABLE kn USING state_kv(@OPTS@);
SELECT sql FROM sqlite_schema WHERE name = 'kn_data';
INSERT INTO kn(key, value) VALUES ('i', 1), ('b', x'00');
SELECT key, typeof(value), hex(value) FROM kn_data ORDER BY key;
.open kv-old.db
CREATE VIRTUAL TABLE ko USING state_kv(@OPTS@);
DROP TABLE ko_data;
CREATE TABLE "main"."ko_data"("scope" TEXT, "key" TEXT, "value" TEXT,
  "version" INTEGER, "expires_at" INTEGER, "updated_at" INTEGER,
  UNIQUE("scope", "key"));
CREATE INDEX "main"."ko_data_expires_at" ON "ko_data"("expires_at")
  WHERE "expires_at" IS NOT NULL;
INSERT INTO ko_data VALUES ('o', 'obj', '{"a":1}', 1, NULL, 1000),
  ('o', 'str', '"str"', 1, NULL, 1000), ('o', 'num', '42', 1, NULL, 1000);
.reopen
SELECT key, typeof(value), value, version FROM ko ORDER BY key;
INSERT INTO ko(scope, key, value) VALUES ('n', 'max', 9223372036854775807),
  ('n', 'min', -9223372036854775808), ('n', 'tenth', 0.1),
  ('n', 'blob', x'4200ff'), ('n', 'eblob', x''), ('n', 'text', 'I5'),
  ('n', 'null', NULL);
UPDATE ko SET value = 1e308 WHERE scope = 'o' AND key = 'num';
SELECT key, typeof(value), quote(value) FROM ko ORDER BY scope, key;
SELECT key, typeof(value), hex(value) FROM ko_data ORDER BY scope, key;
SELECT count(*) FROM ko WHERE value = 0.1;

-- 50.20 expired kv rows are removed, not only hidden: every INSERT or
-- UPDATE of a row removes up to 100 expired rows through T_data's
-- expires_at index; 10,000 rows that expire are all gone from T_data after
-- 100 rows are written
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000
CREATE VIRTUAL TABLE ks USING state_kv(@OPTS@);
SELECT sql FROM sqlite_schema WHERE name = 'ks_data_expires_at';
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO ks(scope, key, value, expires_at)
  SELECT 'ttl', 'k' || i, i, 1700000001000 FROM n;
SELECT count(*) FROM ks_data;
.setenv STATEVTAB_TEST_CLOCK_MS 1700000001000
SELECT count(*) FROM ks;
SELECT count(*) FROM ks_data;
INSERT INTO ks(scope, key, value) VALUES ('live', 'a', 1);
SELECT count(*) FROM ks_data;
UPDATE ks SET value = 2 WHERE scope = 'live' AND key = 'a';
SELECT count(*) FROM ks_data;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 98)
INSERT INTO ks(scope, key, value) SELECT 'live', 'b' || i, i FROM n;
SELECT count(*) FROM ks_data;
SELECT count(*), min(value), max(value) FROM ks;
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000

-- 50.21 a tasks table made before 2026-12-03 (its T_data without the
-- columns partition_key and depends_on, and its queue index without
-- partition_key; made here by dropping them) keeps working: they read as
-- NULL, a filter on them is one on NULL, claims of one and of several
-- tasks and dead letters work, a write of NULL to them passes, and a write
-- of a value fails with an error naming the column
CREATE VIRTUAL TABLE ocd USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE oc USING state_tasks(@OPTS@, dead_letters='ocd');
DROP INDEX oc_data_queue;
CREATE INDEX oc_data_queue ON oc_data(queue, state, priority, run_at, id);
ALTER TABLE oc_data DROP COLUMN depends_on;
ALTER TABLE oc_data DROP COLUMN partition_key;
INSERT INTO oc(id, queue, name, max_attempts) VALUES
  ('a', 'q', 'x', 1), ('b', 'q', 'y', 1), ('c', 'q', 'z', 1);
INSERT INTO oc(id, queue, name, partition_key, depends_on)
  VALUES ('d', 'q', 'w', NULL, NULL);
SELECT id, partition_key IS NULL, depends_on IS NULL FROM oc ORDER BY id;
SELECT count(*) FROM oc WHERE partition_key IS NULL;
SELECT count(*) FROM oc WHERE partition_key = 'p';
SELECT id, partition_key FROM state_claim('oc', 'q', 'w', 0);
SELECT count(*) FROM state_claim('oc', 'q', 'w', 30000, 3);
SELECT task_id, reason, json_extract(task, '$.partition_key'),
       json_type(task, '$.depends_on') FROM ocd;
INSERT INTO oc(id, queue, name, partition_key) VALUES ('e', 'q', 'v', 'p');
INSERT INTO oc(id, queue, name, depends_on) VALUES ('e', 'q', 'v', '["a"]');
UPDATE oc SET partition_key = 'p' WHERE id = 'b';
UPDATE oc SET name = 'renamed' WHERE id = 'b';
SELECT id, name FROM oc WHERE id = 'b';
SELECT sql LIKE '%partition_key%' FROM sqlite_schema WHERE name = 'oc_data';

-- 50.22 T_deps: a completion writes nothing to it (the rows of a released
-- task stay, read only while a task waits); they go with the task's row:
-- a DELETE, or retain= removing it (a time of 1 is past any period; a
-- new connection runs a removal step at its first INSERT)
.open deps-rows.db
CREATE VIRTUAL TABLE dp USING state_tasks(@OPTS@, retain='1d');
INSERT INTO dp(id, queue, name) VALUES ('a', 'q', 'x'), ('b', 'q', 'x');
INSERT INTO dp(id, queue, name, depends_on) VALUES
  ('c', 'q', 'x', '["a","b"]'), ('d', 'q', 'x', '["a"]');
SELECT dep, task FROM dp_deps ORDER BY 1, 2;
UPDATE dp SET state = 'completed', completed_at = 1 WHERE id IN ('a', 'b');
SELECT id, state FROM dp ORDER BY id;
SELECT dep, task FROM dp_deps ORDER BY 1, 2;
DELETE FROM dp WHERE id = 'd';
SELECT dep, task FROM dp_deps ORDER BY 1, 2;
UPDATE dp SET state = 'completed', completed_at = 1 WHERE id = 'c';
.open deps-rows.db
INSERT INTO dp(id, queue, name) VALUES ('e', 'q', 'x');
SELECT id FROM dp ORDER BY id;
SELECT count(*) FROM dp_deps;

-- 50.23 the queue index holds partition_key in tables made since
-- 2026-12-04: a partitioned task makes T_fair but no T_data_partition,
-- and the walk by partitions seeks the queue index.  A table made before
-- (its queue index without partition_key; made here by dropping it and
-- making the old one) gets T_data_partition with its first partitioned
-- task.  Both claim in the same order, the plain queue's too
.open fold.db
CREATE VIRTUAL TABLE fn USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE fo USING state_tasks(@OPTS@);
DROP INDEX fo_data_queue;
CREATE INDEX fo_data_queue ON fo_data(queue, state, priority, run_at, id);
.open fold.db
CREATE TEMP TABLE flog(seq INTEGER PRIMARY KEY, t, id);
INSERT INTO fn(id, queue, name, partition_key, run_at) VALUES
  ('n1', 'q', 'j', NULL, 1), ('a1', 'q', 'j', 'a', 2), ('a2', 'q', 'j', 'a', 3),
  ('b1', 'q', 'j', 'b', 4), ('n2', 'q', 'j', NULL, 5), ('p2', 'plain', 'j', NULL, 2),
  ('p1', 'plain', 'j', NULL, 1);
INSERT INTO fo SELECT * FROM fn;
SELECT name FROM sqlite_schema WHERE name GLOB 'f[no]_data_*' OR name GLOB 'f[no]_fair' ORDER BY 1;
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fn', id FROM state_claim('fn', 'plain', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'q', 'w', 60000);
INSERT INTO temp.flog(t, id) SELECT 'fo', id FROM state_claim('fo', 'plain', 'w', 60000);
SELECT t, group_concat(id, ' ') FROM (SELECT t, id FROM temp.flog ORDER BY seq) GROUP BY t;
