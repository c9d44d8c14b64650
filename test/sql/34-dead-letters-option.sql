-- 34-dead-letters-option: a tasks table whose dead letters go to the
-- state_dead_letters table named by its dead_letters= option (here 'dlq';
-- there is no table named dead_letters in this script), by state_fail and
-- by the lease-expiry reaping of state_claim; and the errors of an option
-- that names no such table or a table of another kind.

CREATE VIRTUAL TABLE dlq USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@, dead_letters='dlq');
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 34.1 state_fail at max_attempts writes to dlq
INSERT INTO tasks(id, queue, name, payload, max_attempts)
  VALUES ('a', 'o1', 'job', '{"n":1}', 1);
INSERT INTO temp.v SELECT 'a1', lease_token FROM state_claim('tasks', 'o1', 'w', 30000);
SELECT state_fail('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'), 'fatal');
SELECT task_id, queue, name, json_extract(payload, '$.n'), attempts, reason,
       json_extract(task, '$.state')
  FROM dlq;

-- 34.2 a lease expired at max_attempts: reaped into dlq by the next claim
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('b', 'o2', 'job', 1);
SELECT count(*) FROM state_claim('tasks', 'o2', 'w', 0);
SELECT count(*) FROM state_claim('tasks', 'o2', 'w', 30000);
SELECT task_id, reason, attempts, json_extract(task, '$.state')
  FROM dlq WHERE task_id = 'b';
SELECT id, state FROM tasks ORDER BY id;

-- 34.3 the option may name the table with its schema
CREATE VIRTUAL TABLE tq USING state_tasks(@OPTS@, dead_letters='main.dlq');
INSERT INTO tq(id, queue, name, max_attempts) VALUES ('c', 'o3', 'job', 1);
INSERT INTO temp.v SELECT 'c1', lease_token FROM state_claim('tq', 'o3', 'w', 30000);
SELECT state_fail('tq', 'c', (SELECT x FROM v WHERE k = 'c1'), 'via main.dlq');
SELECT task_id, reason FROM dlq WHERE task_id = 'c';

-- 34.4 an option naming a missing table, a table of another kind, a plain
-- table or nothing is an error of CREATE, and nothing is created; a table
-- of another store is one too
CREATE VIRTUAL TABLE t_bad USING state_tasks(@OPTS:bad@, dead_letters='nope');
CREATE VIRTUAL TABLE t_bad USING state_tasks(@OPTS:bad@, dead_letters='');
CREATE VIRTUAL TABLE t_bad USING state_tasks(@OPTS:bad@, dead_letters='nosuchschema.dlq');
CREATE VIRTUAL TABLE kvt USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE t_bad USING state_tasks(@OPTS:bad@, dead_letters='kvt');
CREATE TABLE plain(x);
CREATE VIRTUAL TABLE t_bad USING state_tasks(@OPTS:bad@, dead_letters='plain');
CREATE VIRTUAL TABLE t_bad USING state_tasks(store='sqlite', dead_letters='dlq');
SELECT count(*) FROM sqlite_schema WHERE name LIKE 't\_bad%' ESCAPE '\';
-- a dead letters table dropped after the tasks table was created: an
-- error of every function that may dead-letter (claim and fail), before
-- anything changes
CREATE VIRTUAL TABLE dl_gone USING state_dead_letters(@OPTS:gone@);
CREATE VIRTUAL TABLE t_missing USING state_tasks(@OPTS:missing@, dead_letters='dl_gone');
DROP TABLE dl_gone;
CREATE VIRTUAL TABLE dl_kind USING state_dead_letters(@OPTS:kind@);
CREATE VIRTUAL TABLE t_kind USING state_tasks(@OPTS:kind@, dead_letters='dl_kind');
DROP TABLE dl_kind;
CREATE VIRTUAL TABLE dl_kind USING state_kv(@OPTS:kind@);
CREATE VIRTUAL TABLE dl_plain USING state_dead_letters(@OPTS:plain@);
CREATE VIRTUAL TABLE t_plain USING state_tasks(@OPTS:plain@, dead_letters='dl_plain');
DROP TABLE dl_plain;
CREATE TABLE dl_plain(x);
INSERT INTO t_missing(id, queue, name) VALUES ('m', 'o4', 'job');
INSERT INTO t_kind(id, queue, name) VALUES ('k', 'o5', 'job');
INSERT INTO t_plain(id, queue, name) VALUES ('p', 'o6', 'job');
SELECT count(*) FROM state_claim('t_missing', 'o4', 'w');
SELECT count(*) FROM state_claim('t_kind', 'o5', 'w');
SELECT count(*) FROM state_claim('t_plain', 'o6', 'w');
SELECT state_fail('t_missing', 'm', 1, 'x');
SELECT state_fail('t_kind', 'k', 1, 'x');
SELECT state_fail('t_plain', 'p', 1, 'x');
SELECT state, attempts FROM t_missing;
SELECT state, attempts FROM t_kind;
SELECT state, attempts FROM t_plain;
-- complete and renew never dead-letter: they work
SELECT state_complete('t_missing', 'm', 1), state_renew('t_missing', 'm', 1, 1000);
