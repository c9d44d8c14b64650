-- 14-conflict: uniqueness of the key, and INSERT/UPDATE OR IGNORE and
-- OR REPLACE (sqlite3_vtab_on_conflict), with sqlite3_changes() as SQLite
-- counts it for an ordinary table.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
INSERT INTO ta(id, name) VALUES ('a', 'first');
INSERT INTO co(scope, name, value) VALUES ('s', 'n', 1);

-- 14.1 a plain INSERT of an existing key fails with SQLITE_CONSTRAINT
INSERT INTO ta(id, name) VALUES ('a', 'second');
INSERT INTO co(scope, name, value) VALUES ('s', 'n', 2);
INSERT INTO fl(name) VALUES ('f'), ('f');
SELECT id, name FROM ta;
SELECT scope, name, value FROM co;
SELECT count(*) FROM fl;

-- 14.2 a multi-row INSERT with one duplicate inserts nothing
INSERT INTO ta(id, name) VALUES ('b', 'x'), ('c', 'x'), ('a', 'dup'), ('d', 'x');
SELECT id, name FROM ta ORDER BY id;
INSERT INTO ta(id, name) VALUES ('b', 'x'), ('b', 'y');
SELECT id, name FROM ta ORDER BY id;

-- 14.3 a row rejected for another reason also undoes the statement
INSERT INTO ta(id, name) VALUES ('b', 'x'), ('c', NULL);
INSERT INTO ta(id, name, payload) VALUES ('b', 'x', '1'), ('c', 'x', '{');
SELECT id, name FROM ta ORDER BY id;

-- 14.4 the same key in another scope, or another half of a two-column
-- key, is a different row
INSERT INTO co(scope, name, value) VALUES ('t', 'n', 3), ('s', 'm', 4);
SELECT scope, name, value FROM co ORDER BY scope, name;

-- 14.5 INSERT OR IGNORE keeps the old row and counts no change
INSERT OR IGNORE INTO ta(id, name) VALUES ('a', 'ignored');
.changes
SELECT id, name FROM ta;

-- 14.6 INSERT OR IGNORE of several rows inserts the new ones only
INSERT OR IGNORE INTO ta(id, name) VALUES ('a', 'ignored'), ('b', 'new'), ('c', 'new');
.changes
SELECT id, name FROM ta ORDER BY id;
INSERT OR IGNORE INTO co(scope, name, value) VALUES ('s', 'n', 9), ('u', 'n', 9);
.changes
SELECT scope, name, value FROM co ORDER BY scope, name;

-- 14.7 OR IGNORE also skips a row that breaks NOT NULL (as SQLite does),
-- but not malformed values
INSERT OR IGNORE INTO ta(id, name) VALUES ('e', NULL), ('f', 'ok');
.changes
INSERT OR IGNORE INTO ta(id, name, payload) VALUES ('g', 'x', '{');
SELECT id, name FROM ta WHERE id IN ('e', 'f', 'g') ORDER BY id;

-- 14.8 INSERT OR REPLACE replaces the whole row
INSERT INTO ta(id, name, queue, priority, payload) VALUES ('r', 'old', 'q', 5, '{"v":1}');
INSERT OR REPLACE INTO ta(id, name) VALUES ('r', 'new');
.changes
SELECT id, name, queue, priority, payload FROM ta WHERE id = 'r';
INSERT OR REPLACE INTO co(scope, name, value) VALUES ('s', 'n', 100), ('v', 'n', 5);
.changes
SELECT scope, name, value FROM co ORDER BY scope, name;
REPLACE INTO fl(name, enabled) VALUES ('f1', 1);
REPLACE INTO fl(name, enabled) VALUES ('f1', 0);
SELECT name, enabled FROM fl;

-- 14.9 INSERT OR REPLACE of two rows with the same key: the last wins
INSERT OR REPLACE INTO ta(id, name) VALUES ('s', 'one'), ('s', 'two');
SELECT id, name FROM ta WHERE id = 's';

-- 14.10 UPDATE of the key onto an existing key fails, and changes nothing
UPDATE ta SET id = 'a' WHERE id = 'b';
SELECT id, name FROM ta WHERE id IN ('a', 'b') ORDER BY id;
UPDATE ta SET id = 'z' WHERE id IN ('b', 'c');
SELECT id FROM ta WHERE id IN ('b', 'c', 'z') ORDER BY id;
UPDATE ta SET id = 'z' WHERE id = 'c';
SELECT id FROM ta WHERE id IN ('b', 'c', 'z') ORDER BY id;

-- 14.11 UPDATE OR IGNORE skips the conflicting row, and counts no change
UPDATE OR IGNORE ta SET id = 'a' WHERE id = 'b';
.changes
SELECT id, name FROM ta WHERE id IN ('a', 'b') ORDER BY id;

-- 14.12 UPDATE OR REPLACE removes the row that held the key
UPDATE OR REPLACE ta SET id = 'a' WHERE id = 'b';
.changes
SELECT id, name FROM ta WHERE id IN ('a', 'b') ORDER BY id;
UPDATE OR REPLACE co SET scope = 's' WHERE scope = 't' AND name = 'n';
SELECT scope, name, value FROM co ORDER BY scope, name;

-- 14.13 a conflict inside a transaction fails the statement only
BEGIN;
INSERT INTO ta(id, name) VALUES ('t1', 'in tx');
INSERT INTO ta(id, name) VALUES ('t2', 'in tx'), ('t1', 'dup');
INSERT INTO ta(id, name) VALUES ('t3', 'in tx');
COMMIT;
SELECT id FROM ta WHERE name = 'in tx' ORDER BY id;

-- 14.14 the final contents
SELECT id, name FROM ta ORDER BY id;
