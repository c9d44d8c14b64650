-- 15-migrate: INSERT INTO b SELECT * FROM a between statevtab tables, the
-- way state moves from one store to another: every column of every table
-- arrives unchanged (ids, times, versions).  The target tables use a
-- namespace of their own (@OPTS:NAME@), so on a remote store too they
-- start empty.

CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);
CREATE VIRTUAL TABLE ex2 USING state_executions(@OPTS:to@);
CREATE VIRTUAL TABLE ta2 USING state_tasks(@OPTS:to@);
CREATE VIRTUAL TABLE si2 USING state_signals(@OPTS:to@);
CREATE VIRTUAL TABLE dl2 USING state_dead_letters(@OPTS:to@);
CREATE VIRTUAL TABLE co2 USING state_counters(@OPTS:to@);
CREATE VIRTUAL TABLE fl2 USING state_flags(@OPTS:to@);
CREATE VIRTUAL TABLE kv2 USING state_kv(@OPTS:to@);
CREATE VIRTUAL TABLE le2 USING state_leases(@OPTS:to@);

INSERT INTO ex(id, name, state, input, output, error, parent_id, tags, progress)
VALUES ('e1', 'order', 'completed', '{"n":1}', '{"ok":true}', NULL, NULL, '["x"]', '[1,2]'),
       ('e2', 'refund', 'running', NULL, NULL, 'retrying', 'e1', '[]', '[]');
INSERT INTO ta(name) VALUES ('generated id');
INSERT INTO ta(id, execution_id, queue, name, payload, state, priority, run_at,
               attempts, max_attempts, lease_owner, lease_token,
               lease_expires_at, tags, idempotency_key, result, error)
VALUES ('t1', 'e1', 'mail', 'send', '{"to":"x"}', 'claimed', -1, 5, 1, 9, 'w',
        77, 1700000030000, '["a"]', 'k', NULL, 'boom'),
       ('t2', 'e1', 'mail', 'send', NULL, 'completed', 3, 6, 2, 3, NULL, NULL,
        NULL, '[]', NULL, '{"r":2}', NULL);
INSERT INTO si(execution_id, name, payload, consumed_at)
VALUES ('e2', 'approve', '{"by":"ann"}', NULL), ('e2', 'cancel', NULL, 123);
INSERT INTO dl(task_id, queue, name, payload, attempts, reason, task)
VALUES ('t9', 'mail', 'send', '{}', 3, 'max attempts', '{"id":"t9"}');
INSERT INTO co(scope, name, value) VALUES ('', 'a', 1), ('s', 'b', 2.5), ('s', 'c', -7);
INSERT INTO fl(name, enabled, description, rollout, strategies, variants, dependencies)
VALUES ('f1', 1, 'on', 10, '[{"name":"default"}]', '[{"name":"v","weight":1000}]', '[]'),
       ('f2', 0, NULL, NULL, '[]', '[]', '[{"feature":"f1"}]');
INSERT INTO kv(scope, key, value, expires_at) VALUES ('s', 'live', '{"a":1}', NULL),
       ('s', 'later', '[1]', 1800000000000), ('s', 'gone', '2', 1600000000000);
UPDATE kv SET value = '{"a":2}' WHERE key = 'live';
INSERT INTO le(name, owner, token, depth, expires_at) VALUES ('lock', 'me', 5, 2, 1700000060000);

-- 15.1 a dry run is a SELECT: what would move
SELECT count(*) FROM ex; SELECT count(*) FROM ta; SELECT count(*) FROM kv;

-- 15.2 copy every table with INSERT ... SELECT *, later on the clock (the
-- copies must keep the times of the originals, not take the new now)
.setenv STATEVTAB_TEST_CLOCK_MS 1700000100000
INSERT INTO ex2 SELECT * FROM ex;
.changes
INSERT INTO ta2 SELECT * FROM ta;
.changes
INSERT INTO si2 SELECT * FROM si;
.changes
INSERT INTO dl2 SELECT * FROM dl;
.changes
INSERT INTO co2 SELECT * FROM co;
.changes
INSERT INTO fl2 SELECT * FROM fl;
.changes
INSERT INTO kv2 SELECT * FROM kv;
.changes
INSERT INTO le2 SELECT * FROM le;
.changes

-- 15.3 nothing differs, in either direction (every column, every row)
SELECT (SELECT count(*) FROM (SELECT * FROM ex EXCEPT SELECT * FROM ex2)),
       (SELECT count(*) FROM (SELECT * FROM ex2 EXCEPT SELECT * FROM ex));
SELECT (SELECT count(*) FROM (SELECT * FROM ta EXCEPT SELECT * FROM ta2)),
       (SELECT count(*) FROM (SELECT * FROM ta2 EXCEPT SELECT * FROM ta));
SELECT (SELECT count(*) FROM (SELECT * FROM si EXCEPT SELECT * FROM si2)),
       (SELECT count(*) FROM (SELECT * FROM si2 EXCEPT SELECT * FROM si));
SELECT (SELECT count(*) FROM (SELECT * FROM dl EXCEPT SELECT * FROM dl2)),
       (SELECT count(*) FROM (SELECT * FROM dl2 EXCEPT SELECT * FROM dl));
SELECT (SELECT count(*) FROM (SELECT * FROM co EXCEPT SELECT * FROM co2)),
       (SELECT count(*) FROM (SELECT * FROM co2 EXCEPT SELECT * FROM co));
SELECT (SELECT count(*) FROM (SELECT * FROM fl EXCEPT SELECT * FROM fl2)),
       (SELECT count(*) FROM (SELECT * FROM fl2 EXCEPT SELECT * FROM fl));
SELECT (SELECT count(*) FROM (SELECT * FROM kv EXCEPT SELECT * FROM kv2)),
       (SELECT count(*) FROM (SELECT * FROM kv2 EXCEPT SELECT * FROM kv));
SELECT (SELECT count(*) FROM (SELECT * FROM le EXCEPT SELECT * FROM le2)),
       (SELECT count(*) FROM (SELECT * FROM le2 EXCEPT SELECT * FROM le));

-- 15.4 the copies, column by column
SELECT * FROM ex2 ORDER BY id;
SELECT * FROM ta2 WHERE id IN ('t1', 't2') ORDER BY id;
SELECT length(id), name, created_at FROM ta2 WHERE name = 'generated id';
SELECT length(id), execution_id, name, payload, created_at, consumed_at FROM si2 ORDER BY name;
SELECT length(id), task_id, queue, name, payload, attempts, reason, task, died_at FROM dl2;
SELECT scope, name, value, typeof(value), updated_at FROM co2 ORDER BY scope, name;
SELECT * FROM fl2 ORDER BY name;
SELECT * FROM kv2 ORDER BY key;
SELECT * FROM le2;

-- 15.5 the generated ids themselves were copied, not generated again
SELECT (SELECT id FROM ta WHERE name = 'generated id') =
       (SELECT id FROM ta2 WHERE name = 'generated id');
SELECT count(*) FROM si JOIN si2 USING (id);

-- 15.6 a second copy conflicts on every key and moves nothing; with
-- OR IGNORE it adds only what is new
INSERT INTO ta2 SELECT * FROM ta;
INSERT INTO ta(id, name) VALUES ('t3', 'new');
INSERT OR IGNORE INTO ta2 SELECT * FROM ta;
SELECT id FROM ta2 WHERE id GLOB 't[0-9]' ORDER BY id;

-- 15.7 explicit columns, between different kinds: dead tasks become dead
-- letters (the task kept whole as JSON)
INSERT INTO dl2(task_id, queue, name, payload, attempts, reason, task)
SELECT id, queue, name, payload, attempts, 'moved',
       json_object('id', id, 'state', state, 'error', error)
  FROM ta WHERE state = 'claimed';
SELECT task_id, queue, name, payload, attempts, reason, task, died_at
  FROM dl2 WHERE reason = 'moved';

-- 15.8 explicit columns with new ids: the target generates them
INSERT INTO ex2(name, state) SELECT name || '-copy', state FROM ex WHERE id = 'e2';
SELECT length(id), name, state, started_at, created_at FROM ex2 WHERE name = 'refund-copy';

-- 15.9 a copy into the same table (SQLite reads everything first)
INSERT INTO co(scope, name, value) SELECT 'copy', name, value * 10 FROM co;
.changes
SELECT scope, name, value FROM co ORDER BY scope, name;

-- 15.10 through an ordinary table and back: the values survive
CREATE TABLE plain AS SELECT * FROM ta WHERE id IN ('t1', 't2');
DELETE FROM ta WHERE id IN ('t1', 't2');
INSERT INTO ta SELECT * FROM plain;
SELECT (SELECT count(*) FROM (SELECT * FROM plain EXCEPT SELECT * FROM ta)),
       (SELECT count(*) FROM ta WHERE id IN ('t1', 't2'));

-- 15.11 a copy that breaks a rule stops and leaves the target as it was
CREATE TABLE bad(name TEXT, payload TEXT);
INSERT INTO bad VALUES ('ok', '{}'), ('broken', '{');
INSERT INTO ta2(name, payload) SELECT name, payload FROM bad;
SELECT count(*) FROM ta2 WHERE name IN ('ok', 'broken');
