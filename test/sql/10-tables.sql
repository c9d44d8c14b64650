-- 10-tables: the eight modules, their column sets, and the life of a table
-- (create, reconnect, rename, drop) as every store must show it.
-- Store-neutral: facts of the local store's shadow tables are in
-- 50-local-shadow.sql.

-- 10.1 every module creates a table
CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);
SELECT count(*) FROM ex; SELECT count(*) FROM ta; SELECT count(*) FROM si;
SELECT count(*) FROM dl; SELECT count(*) FROM co; SELECT count(*) FROM fl;
SELECT count(*) FROM kv; SELECT count(*) FROM le;

-- 10.2 state_executions columns (name type, in order)
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('ex') ORDER BY cid);

-- 10.3 state_tasks columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('ta') ORDER BY cid);

-- 10.4 state_signals columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('si') ORDER BY cid);

-- 10.5 state_dead_letters columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('dl') ORDER BY cid);

-- 10.6 state_counters columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('co') ORDER BY cid);

-- 10.7 state_flags columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('fl') ORDER BY cid);

-- 10.8 state_kv columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('kv') ORDER BY cid);

-- 10.9 state_leases columns
SELECT group_concat(name || ' ' || type, ', ')
  FROM (SELECT * FROM pragma_table_info('le') ORDER BY cid);

-- 10.10 column counts
SELECT count(*) FROM pragma_table_info('ex');
SELECT count(*) FROM pragma_table_info('ta');
SELECT count(*) FROM pragma_table_info('si');
SELECT count(*) FROM pragma_table_info('dl');

-- 10.11 the modules are not eponymous: no table without CREATE
SELECT count(*) FROM state_tasks;
SELECT count(*) FROM state_kv;

-- 10.12 a name that is already taken
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS:dup@);
CREATE VIRTUAL TABLE IF NOT EXISTS ta USING state_tasks(@OPTS:dup@);
CREATE TABLE plain(x);
CREATE VIRTUAL TABLE plain USING state_kv(@OPTS:dup@);
SELECT count(*) FROM ta;

-- 10.13 a table name that needs quoting
CREATE VIRTUAL TABLE "my ""odd"" tasks" USING state_tasks(@OPTS:odd@);
INSERT INTO "my ""odd"" tasks"(id, name) VALUES ('q1', 'quoted');
SELECT id, name FROM "my ""odd"" tasks";

-- 10.14 a table in the temp schema
CREATE VIRTUAL TABLE temp.tco USING state_counters(@OPTS:tmp@);
INSERT INTO temp.tco(scope, name, value) VALUES ('t', 'n', 5);
SELECT scope, name, value FROM tco;
SELECT scope, name, value FROM temp.tco;
DROP TABLE temp.tco;
SELECT count(*) FROM temp.tco;

-- 10.15 a file database: rows outlive the connection; a table that this
-- connection has not touched yet is connected on first use
.open tables.db
CREATE VIRTUAL TABLE ft USING state_tasks(@OPTS:file@);
INSERT INTO ft(id, name, queue) VALUES ('f1', 'kept', 'q');
.reopen
SELECT id, name, queue, state FROM ft;
INSERT INTO ft(id, name) VALUES ('f2', 'more');
SELECT id FROM ft ORDER BY id;

-- 10.16 without the extension the table cannot be used; with it, it can
.noext
SELECT id FROM ft;
.ext
SELECT id FROM ft ORDER BY id;

-- 10.17 ALTER TABLE RENAME: the rows follow the table to its new name
ALTER TABLE ft RENAME TO fu;
SELECT id, name FROM fu ORDER BY id;
SELECT id FROM ft;
INSERT INTO fu(id, name) VALUES ('f3', 'after rename');
SELECT id, name FROM fu ORDER BY id;
.reopen
SELECT id FROM fu ORDER BY id;

-- 10.18 DROP TABLE: the table is gone
DROP TABLE fu;
SELECT id FROM fu;
DROP TABLE fu;
DROP TABLE IF EXISTS fu;
.reopen
SELECT id FROM fu;
