-- 38-executions: the lifecycle rules of executions (state 'running' fills
-- started_at, a final state fills completed_at), state_progress(executions,
-- id, json), an execution and its root task written in one transaction,
-- and cleanup with DELETE ... WHERE completed_at < ? pushed down.

CREATE VIRTUAL TABLE executions USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);

-- 38.1 a pending execution has neither time; 'running' fills started_at
INSERT INTO executions(id, name) VALUES ('x1', 'order.ship');
SELECT state, started_at, completed_at FROM executions WHERE id = 'x1';
UPDATE executions SET state = 'running' WHERE id = 'x1';
SELECT state, started_at IS NOT NULL, completed_at FROM executions WHERE id = 'x1';
INSERT INTO executions(id, name, state) VALUES ('x2', 'order.ship', 'running');
SELECT state, started_at IS NOT NULL, completed_at FROM executions WHERE id = 'x2';

-- 38.2 a final state fills completed_at; started_at is kept as it was
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO temp.v SELECT 'x1-start', started_at FROM executions WHERE id = 'x1';
UPDATE executions SET state = 'completed', output = '{"ok":true}' WHERE id = 'x1';
SELECT state, started_at = (SELECT x FROM v WHERE k = 'x1-start'),
       completed_at IS NOT NULL, json_extract(output, '$.ok')
  FROM executions WHERE id = 'x1';
UPDATE executions SET state = 'failed', error = 'boom' WHERE id = 'x2';
SELECT state, started_at IS NOT NULL, completed_at IS NOT NULL, error
  FROM executions WHERE id = 'x2';
INSERT INTO executions(id, name) VALUES ('x3', 'order.ship');
UPDATE executions SET state = 'cancelled' WHERE id = 'x3';
SELECT state, completed_at IS NOT NULL FROM executions WHERE id = 'x3';

-- 38.3 times the writer sets are kept
INSERT INTO executions(id, name, state, started_at, completed_at)
  VALUES ('x4', 'n', 'completed', 111, 222);
SELECT started_at, completed_at FROM executions WHERE id = 'x4';
INSERT INTO executions(id, name, state, started_at) VALUES ('x5', 'n', 'running', 333);
UPDATE executions SET state = 'completed', completed_at = 444 WHERE id = 'x5';
SELECT started_at, completed_at FROM executions WHERE id = 'x5';

-- 38.4 tasks entering a final state by UPDATE get completed_at too
INSERT INTO tasks(id, queue, name) VALUES ('t1', 'p', 'a'), ('t2', 'p', 'b'), ('t3', 'p', 'c');
UPDATE tasks SET state = 'completed' WHERE id = 't1';
UPDATE tasks SET state = 'failed' WHERE id = 't2';
UPDATE tasks SET state = 'dead' WHERE id = 't3';
SELECT id, state, completed_at IS NOT NULL FROM tasks WHERE queue = 'p' ORDER BY id;

-- 38.5 state_progress appends one entry per call, in order; 1, or 0 for
-- an unknown execution
SELECT progress FROM executions WHERE id = 'x2';
SELECT state_progress('executions', 'x2', '{"step":1}');
SELECT state_progress('executions', 'x2', '{"step":2,"note":"half"}');
SELECT state_progress('executions', 'x2', '[3]');
SELECT state_progress('executions', 'x2', '"done"');
SELECT json_array_length(progress), json_extract(progress, '$[0].step'),
       json_extract(progress, '$[1].note'), json_extract(progress, '$[2][0]'),
       json_extract(progress, '$[3]')
  FROM executions WHERE id = 'x2';
SELECT state_progress('executions', 'nope', '{"step":1}');
SELECT count(*) FROM executions WHERE id = 'nope';
-- many appends in one statement: none is lost
SELECT sum(state_progress('executions', 'x3', json_object('i', value)))
  FROM json_each('[1,2,3,4,5,6,7,8]');
SELECT json_array_length(progress), json_extract(progress, '$[7].i')
  FROM executions WHERE id = 'x3';
-- progress written with UPDATE is appended to afterwards
UPDATE executions SET progress = '[{"seed":true}]' WHERE id = 'x4';
SELECT state_progress('executions', 'x4', '{"after":1}');
SELECT json_array_length(progress), json_extract(progress, '$[0].seed'),
       json_extract(progress, '$[1].after')
  FROM executions WHERE id = 'x4';

-- 38.6 an execution and its root task inserted in one transaction commit
-- together
BEGIN;
INSERT INTO executions(id, name, input) VALUES ('w1', 'signup', '{"user":7}');
INSERT INTO tasks(id, execution_id, queue, name, payload)
  VALUES ('w1-root', 'w1', 'wf', 'signup.start', '{"user":7}');
COMMIT;
SELECT e.id, e.state, t.id, t.state, t.execution_id = e.id
  FROM executions e JOIN tasks t ON t.execution_id = e.id WHERE e.id = 'w1';
SELECT id FROM state_claim('tasks', 'wf', 'w');

-- 38.7 ... and roll back together
BEGIN;
INSERT INTO executions(id, name) VALUES ('w2', 'signup');
INSERT INTO tasks(id, execution_id, queue, name) VALUES ('w2-root', 'w2', 'wf2', 'signup.start');
ROLLBACK;
SELECT count(*) FROM executions WHERE id = 'w2';
SELECT count(*) FROM tasks WHERE id = 'w2-root';
SELECT count(*) FROM state_claim('tasks', 'wf2', 'w');

-- 38.8 cleanup is plain SQL: the completed_at range is pushed down to the
-- store (EXPLAIN QUERY PLAN), and only older executions go
DELETE FROM executions;
INSERT INTO executions(id, name, state, completed_at) VALUES
  ('c1', 'n', 'completed', 1000), ('c2', 'n', 'failed', 2000),
  ('c3', 'n', 'cancelled', 3000), ('c4', 'n', 'running', NULL),
  ('c5', 'n', 'pending', NULL);
EXPLAIN QUERY PLAN DELETE FROM executions WHERE completed_at < 2500;
EXPLAIN QUERY PLAN SELECT id FROM executions WHERE completed_at < 2500;
DELETE FROM executions WHERE completed_at < 2500;
.changes
SELECT id, state FROM executions ORDER BY id;
DELETE FROM executions WHERE completed_at < 1;
.changes
SELECT count(*) FROM executions;

-- 38.x state_progress on a progress that is not an array leaves it as it
-- is (as json_insert does) and still reports the execution found
INSERT INTO executions(id, name, progress) VALUES ('np', 'x', '{"a":1}');
SELECT state_progress('executions', 'np', '{"p":1}');
SELECT progress, json_valid(progress) FROM executions WHERE id = 'np';
