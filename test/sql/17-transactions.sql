-- 17-transactions: statevtab rows commit and roll back with the user's
-- transaction, savepoints included, across two statevtab tables.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);

-- 17.1 BEGIN ... ROLLBACK leaves nothing, in either table
BEGIN;
INSERT INTO ta(id, name) VALUES ('a', 'x');
INSERT INTO kv(key, value) VALUES ('k', '1');
SELECT count(*) FROM ta; SELECT count(*) FROM kv;
ROLLBACK;
SELECT count(*) FROM ta; SELECT count(*) FROM kv;

-- 17.2 BEGIN ... COMMIT keeps everything
BEGIN;
INSERT INTO ta(id, name) VALUES ('a', 'x'), ('b', 'x');
INSERT INTO kv(key, value) VALUES ('k', '1');
COMMIT;
SELECT id FROM ta ORDER BY id; SELECT key, version FROM kv;

-- 17.3 UPDATE and DELETE roll back too
BEGIN;
UPDATE ta SET name = 'changed' WHERE id = 'a';
DELETE FROM ta WHERE id = 'b';
UPDATE kv SET value = '2' WHERE key = 'k';
SELECT id, name FROM ta ORDER BY id; SELECT value, version FROM kv;
ROLLBACK;
SELECT id, name FROM ta ORDER BY id; SELECT value, version FROM kv;

-- 17.4 a failed statement inside a transaction undoes only itself
BEGIN;
INSERT INTO ta(id, name) VALUES ('c', 'x');
INSERT INTO ta(id, name) VALUES ('d', 'x'), ('a', 'dup');
INSERT INTO kv(key, value, expires_at) VALUES ('k2', 'x', 'soon');
INSERT INTO kv(key, value) VALUES ('k3', '3');
COMMIT;
SELECT id FROM ta ORDER BY id; SELECT key FROM kv ORDER BY key;

-- 17.5 savepoints: ROLLBACK TO undoes the work since the savepoint, in
-- both tables, and the transaction goes on
BEGIN;
INSERT INTO ta(id, name) VALUES ('s0', 'x');
SAVEPOINT one;
INSERT INTO ta(id, name) VALUES ('s1', 'x');
INSERT INTO kv(key, value) VALUES ('s1', '1');
SAVEPOINT two;
INSERT INTO ta(id, name) VALUES ('s2', 'x');
UPDATE kv SET value = '99' WHERE key = 'k';
DELETE FROM ta WHERE id = 'a';
SELECT id FROM ta WHERE id GLOB 's*' OR id = 'a' ORDER BY id;
ROLLBACK TO two;
SELECT id FROM ta WHERE id GLOB 's*' OR id = 'a' ORDER BY id;
SELECT key, value, version FROM kv ORDER BY key;
ROLLBACK TO one;
SELECT id FROM ta WHERE id GLOB 's*' ORDER BY id;
SELECT key FROM kv ORDER BY key;
INSERT INTO kv(key, value) VALUES ('s3', '3');
RELEASE one;
COMMIT;
SELECT id FROM ta WHERE id GLOB 's*' ORDER BY id;
SELECT key FROM kv ORDER BY key;

-- 17.6 RELEASE keeps the work of the savepoint; the outer ROLLBACK still
-- undoes it
BEGIN;
SAVEPOINT inner1;
INSERT INTO ta(id, name) VALUES ('r1', 'x');
INSERT INTO kv(key, value) VALUES ('r1', '1');
RELEASE inner1;
SELECT count(*) FROM ta WHERE id = 'r1'; SELECT count(*) FROM kv WHERE key = 'r1';
ROLLBACK;
SELECT count(*) FROM ta WHERE id = 'r1'; SELECT count(*) FROM kv WHERE key = 'r1';

-- 17.7 a SAVEPOINT outside BEGIN is a transaction of its own
SAVEPOINT outer1;
DELETE FROM ta;
DELETE FROM kv;
SELECT count(*) FROM ta; SELECT count(*) FROM kv;
ROLLBACK TO outer1;
SELECT count(*) FROM ta; SELECT count(*) FROM kv;
INSERT INTO ta(id, name) VALUES ('o1', 'x');
RELEASE outer1;
SELECT id FROM ta WHERE id = 'o1';

-- 17.8 nested savepoints with the same name: ROLLBACK TO the innermost
BEGIN;
SAVEPOINT sp;
INSERT INTO ta(id, name) VALUES ('n1', 'x');
SAVEPOINT sp;
INSERT INTO ta(id, name) VALUES ('n2', 'x');
ROLLBACK TO sp;
RELEASE sp;
RELEASE sp;
COMMIT;
SELECT id FROM ta WHERE id GLOB 'n*' ORDER BY id;

-- 17.9 generated ids and times inside a rolled-back transaction leave
-- nothing behind, and the next id is still greater than any before it
INSERT INTO ta(name) VALUES ('before');
BEGIN;
INSERT INTO ta(name) VALUES ('rolled back');
ROLLBACK;
INSERT INTO ta(name) VALUES ('after');
SELECT count(*) FROM ta WHERE name = 'rolled back';
SELECT (SELECT id FROM ta WHERE name = 'before') < (SELECT id FROM ta WHERE name = 'after');

-- 17.10 the final contents
SELECT id, name FROM ta WHERE length(id) < 5 ORDER BY id;
SELECT key, value, version FROM kv ORDER BY key;

-- 17.11 ROLLBACK TO also undoes the writes when the savepoint covers DDL
-- (SQLite resets its schema then, and reconnects the tables it does not
-- hold, such as co, which this transaction does not use)
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
BEGIN;
INSERT INTO ta(id, name) VALUES ('x1', 'x');
SAVEPOINT s1;
INSERT INTO ta(id, name) VALUES ('x2', 'x');
CREATE TABLE plain(x);
ROLLBACK TO s1;
RELEASE s1;
COMMIT;
SELECT id FROM ta WHERE id GLOB 'x*' ORDER BY id;
SELECT count(*) FROM sqlite_schema WHERE name = 'plain';
