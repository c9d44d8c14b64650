-- 00-smoke: the golden-test runner itself, on SQLite built-ins only.
-- Format: rows as values joined with '|', NULL as NULL, errors as
-- "error: <message>[ [SQLITE_CODE]]"; "-- " lines are echoed.

-- 0.1 select values of every type
SELECT 1, 'a', NULL, 2.5, x'00FF';

-- 0.2 error: no such table
SELECT * FROM nosuchtable;

-- 0.3 execution goes on after an error; two statements on one line
SELECT 'still running'; SELECT 2 + 2;

-- 0.4 constraint error carries its code
CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT UNIQUE);
INSERT INTO t(name) VALUES ('a'), ('b');
.changes
INSERT INTO t(name) VALUES ('a');
SELECT id, name FROM t ORDER BY id;
