-- 13-pushdown: constraints that xBestIndex hands to the store, shown by
-- EXPLAIN QUERY PLAN ("INDEX <idxNum>:<terms>", terms as in vtab.c:
-- "col=" "col<" "col<=" "col>" "col>=" "col?=" (IS), "limit", and
-- "cols:a,b" when the statement reads only some columns), and the
-- rows each plan returns.  idxNum: 1 key lookup, 2 indexed column,
-- 8 LIMIT pushed, 0 scan.  No ORDER BY in any plan here: whether a store
-- consumes ORDER BY is its own business (50-local-plans.sql).

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
INSERT INTO ta(id, execution_id, queue, name, state, priority, run_at,
               lease_owner, lease_expires_at, idempotency_key, created_at)
VALUES ('t1', 'e1', 'q1', 'a', 'pending', 0, 100, NULL, NULL, 'k1', 10),
       ('t2', 'e1', 'q1', 'b', 'claimed', 1, 200, 'w1', 250, 'k2', 20),
       ('t3', 'e2', 'q2', 'c', 'pending', 2, 300, NULL, NULL, NULL, 30),
       ('t4', NULL, 'q2', 'd', 'completed', 0, 400, NULL, NULL, NULL, 40),
       ('t5', 'e3', 'q3', 'e', 'failed', 5, 500, 'w2', 550, NULL, 50);
INSERT INTO ex(id, name, state, completed_at)
VALUES ('e1', 'one', 'running', NULL), ('e2', 'two', 'completed', 1000),
       ('e4', 'four', 'failed', 2000), ('e5', 'five', 'cancelled', 3000);
INSERT INTO co(scope, name, value) VALUES ('s1', 'a', 1), ('s1', 'b', 2),
       ('s2', 'a', 3);

-- 13.1 key =: a lookup of one row
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id = 't3';
SELECT id, name FROM ta WHERE id = 't3';
SELECT id, name FROM ta WHERE id = 'nope';
SELECT id, name FROM ta WHERE 't2' = id;

-- 13.2 key IN: one lookup per value
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id IN ('t1', 't4', 'zz');
SELECT id FROM ta WHERE id IN ('t1', 't4', 'zz') ORDER BY id;
SELECT id FROM ta WHERE id IN (SELECT 't' || value FROM json_each('[2,3,9]'))
  ORDER BY id;

-- 13.3 key ranges
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id < 't3';
SELECT id FROM ta WHERE id < 't3' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id <= 't3';
SELECT id FROM ta WHERE id <= 't3' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id > 't3';
SELECT id FROM ta WHERE id > 't3' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id >= 't3';
SELECT id FROM ta WHERE id >= 't3' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id > 't1' AND id < 't4';
SELECT id FROM ta WHERE id > 't1' AND id < 't4' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id BETWEEN 't2' AND 't4';
SELECT id FROM ta WHERE id BETWEEN 't2' AND 't4' ORDER BY id;

-- 13.4 key IS (a bound NULL matches nothing: ids are never NULL)
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id IS 't5';
SELECT id FROM ta WHERE id IS 't5';
SELECT count(*) FROM ta WHERE id IS :unbound;
SELECT count(*) FROM ta WHERE id = :unbound;

-- 13.5 indexed column =, and two of them together
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q1';
SELECT id FROM ta WHERE queue = 'q1' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q2' AND state = 'pending';
SELECT id FROM ta WHERE queue = 'q2' AND state = 'pending' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE execution_id = 'e1';
SELECT id FROM ta WHERE execution_id = 'e1' ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE idempotency_key = 'k2';
SELECT id FROM ta WHERE idempotency_key = 'k2';

-- 13.6 indexed column IN
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE state IN ('pending', 'failed');
SELECT id FROM ta WHERE state IN ('pending', 'failed') ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue IN ('q1', 'q3') AND state = 'pending';
SELECT id FROM ta WHERE queue IN ('q1', 'q3') AND state = 'pending' ORDER BY id;

-- 13.7 indexed time columns: ranges
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at < 300;
SELECT id FROM ta WHERE run_at < 300 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at <= 300;
SELECT id FROM ta WHERE run_at <= 300 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at > 300;
SELECT id FROM ta WHERE run_at > 300 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at >= 300 AND run_at < 500;
SELECT id FROM ta WHERE run_at >= 300 AND run_at < 500 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE created_at > 25;
SELECT id FROM ta WHERE created_at > 25 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE lease_expires_at <= 300;
SELECT id FROM ta WHERE lease_expires_at <= 300 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE completed_at >= 1700000000000;
SELECT id FROM ta WHERE completed_at >= 1700000000000 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ex WHERE completed_at < 2500;
SELECT id FROM ex WHERE completed_at < 2500 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at = 200;
SELECT id FROM ta WHERE run_at = 200;

-- 13.8 indexed column IS
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE execution_id IS 'e2';
SELECT id FROM ta WHERE execution_id IS 'e2';
SELECT id FROM ta WHERE execution_id IS :unbound;

-- 13.9 non-indexed columns are handed over too (the store filters)
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE name = 'c';
SELECT id FROM ta WHERE name = 'c';
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE priority IN (0, 5);
SELECT id FROM ta WHERE priority IN (0, 5) ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE priority > 0 AND priority <= 2;
SELECT id FROM ta WHERE priority > 0 AND priority <= 2 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE priority >= 2 AND priority < 5;
SELECT id FROM ta WHERE priority >= 2 AND priority < 5 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE lease_owner IS 'w2';
SELECT id FROM ta WHERE lease_owner IS 'w2';
SELECT id FROM ta WHERE lease_owner IS :unbound ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q1' AND name = 'b';
SELECT id FROM ta WHERE queue = 'q1' AND name = 'b';

-- 13.10 an indexed column beats a non-indexed one; the key beats both
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id = 't2' AND queue = 'q1' AND name = 'b';
SELECT id FROM ta WHERE id = 't2' AND queue = 'q1' AND name = 'b';
SELECT id FROM ta WHERE id = 't2' AND queue = 'q2';

-- 13.11 what is not pushed is still filtered, by SQLite
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE priority != 0;
SELECT id FROM ta WHERE priority != 0 ORDER BY id;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE lease_owner IS NOT NULL;
SELECT id FROM ta WHERE lease_owner IS NOT NULL ORDER BY id;
SELECT id FROM ta WHERE execution_id IS NULL;
SELECT id FROM ta WHERE length(name) = 1 AND name > 'c' ORDER BY id;

-- 13.12 constraint values are compared with the column's affinity, as
-- SQLite compares them: text against INTEGER columns, numbers against TEXT
SELECT id FROM ta WHERE run_at > '250' ORDER BY id;
SELECT id FROM ta WHERE priority = '0' ORDER BY id;
SELECT id FROM ta WHERE run_at = 200.0;
SELECT id FROM ta WHERE run_at > 250.5 ORDER BY id;
SELECT id FROM ex WHERE completed_at IS 1000.0;

-- 13.13 LIMIT is pushed when the store sees every constraint
EXPLAIN QUERY PLAN SELECT id FROM ta LIMIT 2;
SELECT count(*) FROM (SELECT id FROM ta LIMIT 2);
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q2' LIMIT 1;
SELECT count(*) FROM (SELECT id FROM ta WHERE queue = 'q2' LIMIT 1);
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE name > 'a' LIMIT 3;
SELECT count(*) FROM (SELECT id FROM ta WHERE name > 'a' LIMIT 3);
SELECT count(*) FROM (SELECT id FROM ta LIMIT 0);
SELECT count(*) FROM (SELECT id FROM ta LIMIT -1);

-- 13.14 ... and not with an OFFSET, an IN list, or a constraint the store
-- does not see (SQLite applies the LIMIT)
EXPLAIN QUERY PLAN SELECT id FROM ta LIMIT 2 OFFSET 1;
SELECT count(*) FROM (SELECT id FROM ta LIMIT 2 OFFSET 1);
SELECT count(*) FROM (SELECT id FROM ta LIMIT 10 OFFSET 4);
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue IN ('q1', 'q2') LIMIT 1;
SELECT count(*) FROM (SELECT id FROM ta WHERE queue IN ('q1', 'q2') LIMIT 1);
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE priority != 0 LIMIT 1;
SELECT count(*) FROM (SELECT id FROM ta WHERE priority != 0 LIMIT 1);

-- 13.15 a two-column key: both columns are a lookup, the first is indexed
EXPLAIN QUERY PLAN SELECT value FROM co WHERE scope = 's1' AND name = 'b';
SELECT value FROM co WHERE scope = 's1' AND name = 'b';
EXPLAIN QUERY PLAN SELECT value FROM co WHERE scope = 's1';
SELECT value FROM co WHERE scope = 's1' ORDER BY name;
SELECT scope FROM co WHERE name = 'a' ORDER BY scope;
SELECT name FROM co WHERE scope IN ('s2', 's3') AND name IN ('a', 'b');

-- 13.16 joins between two statevtab tables use the pushed-down key
EXPLAIN QUERY PLAN SELECT ta.id, ex.name FROM ta JOIN ex ON ex.id = ta.execution_id;
SELECT ta.id, ex.id, ex.name FROM ta JOIN ex ON ex.id = ta.execution_id ORDER BY ta.id;
SELECT ta.id, ex.name FROM ta LEFT JOIN ex ON ex.id = ta.execution_id ORDER BY ta.id;
EXPLAIN QUERY PLAN SELECT ta.id FROM ex JOIN ta ON ta.execution_id = ex.id WHERE ex.id = 'e1';
SELECT ta.id FROM ex JOIN ta ON ta.execution_id = ex.id WHERE ex.id = 'e1' ORDER BY ta.id;
SELECT ex.id, count(ta.id) FROM ex LEFT JOIN ta ON ta.execution_id = ex.id
  GROUP BY ex.id ORDER BY ex.id;
SELECT a.id, b.id FROM ta a JOIN ta b ON b.id = a.id ORDER BY a.id;
SELECT id, (SELECT count(*) FROM ta b WHERE b.queue = a.queue) FROM ta a ORDER BY id;

-- 13.17 UPDATE by key, by indexed column, by range, by a non-indexed column
EXPLAIN QUERY PLAN UPDATE ta SET priority = 9 WHERE id = 't1';
UPDATE ta SET priority = 9 WHERE id = 't1';
.changes
EXPLAIN QUERY PLAN UPDATE ta SET priority = priority + 10 WHERE queue = 'q2';
UPDATE ta SET priority = priority + 10 WHERE queue = 'q2';
.changes
EXPLAIN QUERY PLAN UPDATE ta SET run_at = run_at + 1 WHERE run_at >= 300;
UPDATE ta SET run_at = run_at + 1 WHERE run_at >= 300;
.changes
UPDATE ta SET error = 'e' WHERE name IN ('a', 'e');
.changes
UPDATE ta SET priority = 0 WHERE id = 'nope';
.changes
SELECT id, priority, run_at, error FROM ta ORDER BY id;

-- 13.18 UPDATE of a column that the scan filters on (every row once)
UPDATE ta SET queue = queue || 'x' WHERE queue >= 'q1';
.changes
SELECT id, queue FROM ta ORDER BY id;
UPDATE ta SET run_at = run_at * 2 WHERE run_at > 0;
SELECT id, run_at FROM ta ORDER BY id;

-- 13.19 UPDATE of the key column: the row moves to its new key
UPDATE ta SET id = 't9' WHERE id = 't5';
.changes
SELECT id, name FROM ta WHERE id IN ('t5', 't9');
UPDATE ta SET id = 't5' WHERE id = 't9';
UPDATE co SET scope = 's3' WHERE scope = 's2' AND name = 'a';
SELECT scope, name, value FROM co ORDER BY scope, name;

-- 13.20 the rowid is the store's handle: it cannot be changed
UPDATE ta SET rowid = rowid + 1000 WHERE id = 't1';
SELECT id FROM ta WHERE id = 't1';

-- 13.21 DELETE by key, by indexed column, by range
EXPLAIN QUERY PLAN DELETE FROM ta WHERE id = 't1';
DELETE FROM ta WHERE id = 't1';
.changes
EXPLAIN QUERY PLAN DELETE FROM ta WHERE state = 'completed';
DELETE FROM ta WHERE state = 'completed';
.changes
EXPLAIN QUERY PLAN DELETE FROM ex WHERE completed_at < 2500;
DELETE FROM ex WHERE completed_at < 2500;
.changes
DELETE FROM ta WHERE id = 'nope';
.changes
SELECT id FROM ta ORDER BY id;
SELECT id FROM ex ORDER BY id;
DELETE FROM ex;
.changes
SELECT count(*) FROM ex;

-- 13.20 text compared with a number column follows SQLite's rules:
-- surrounding spaces are fine and an exponent makes a number, but 'nan',
-- 'inf' and hexadecimal are text (greater than every number)
INSERT INTO ta(id, name, priority) VALUES ('p1', 'x', 1), ('p2', 'x', 2);
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority = ' 1';
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority = '1e0';
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority = 'nan';
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority = '0x1';
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority < 'inf';
SELECT count(*) FROM ta WHERE id GLOB 'p*' AND priority > 'nan';

-- 13.21 a constraint under another collation than BINARY is SQLite's to
-- check (the stores compare bytes)
INSERT INTO ta(id, queue, name) VALUES ('c1', 'MiXed', 'x'), ('c2', 'mixed  ', 'x');
SELECT id FROM ta WHERE queue = 'mixed' COLLATE NOCASE ORDER BY id;
SELECT id FROM ta WHERE queue = 'mixed' COLLATE RTRIM ORDER BY id;
SELECT id FROM ta WHERE queue COLLATE NOCASE > 'MIXED' ORDER BY id;

-- 13.22 statements that read no column but the constrained ones: the
-- local store counts them in one statement and starts the real scan only
-- when a row handle or a column is asked for; the rows are the same
-- (counts, EXISTS, a LIMIT, GROUP BY on the constrained column, and
-- UPDATE / DELETE, which need each row's handle).  Queues of its own: on
-- a remote store, every tasks table of the namespace shares its rows.
CREATE VIRTUAL TABLE cn USING state_tasks(@OPTS@);
INSERT INTO cn(id, queue, name, priority) VALUES
  ('n1', 'cnA', 'x', 1), ('n2', 'cnA', 'x', 2), ('n3', 'cnA', 'x', 3),
  ('n4', 'cnB', 'x', 1), ('n5', 'cnB', 'x', 2);
SELECT count(*) FROM cn WHERE queue = 'cnA';
SELECT count(*) FROM cn WHERE queue = 'cnA' AND priority > 1;
SELECT count(*) FROM cn WHERE queue = 'zz';
SELECT count(*) FROM (SELECT 1 FROM cn WHERE queue = 'cnA' LIMIT 2);
SELECT EXISTS (SELECT 1 FROM cn WHERE queue = 'cnB'),
       EXISTS (SELECT 1 FROM cn WHERE queue = 'cnC');
SELECT queue, count(*) FROM cn WHERE queue = 'cnA' GROUP BY queue;
SELECT count(rowid) FROM cn WHERE queue = 'cnB';
UPDATE cn SET priority = 9 WHERE queue = 'cnA';
SELECT changes();
SELECT id, priority FROM cn WHERE queue IN ('cnA', 'cnB') ORDER BY id;
DELETE FROM cn WHERE queue = 'cnB';
SELECT changes();
SELECT count(*) FROM cn WHERE queue IN ('cnA', 'cnB');
SELECT id FROM cn WHERE queue = 'cnA' AND id > 'n1' ORDER BY id;
