-- 33-cancel-enqueue: cancellation with UPDATE tasks SET state='cancelled'
-- (pending: never claimed; claimed: the holder's renew/complete/fail
-- refuse), and idempotent enqueue (an INSERT whose idempotency_key already
-- exists in that queue creates no second task and raises no error).

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 33.1 a cancelled pending task is not claimable; completed_at is set
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('a1', 'c1', 'job', 1), ('a2', 'c1', 'job', 2);
UPDATE tasks SET state = 'cancelled' WHERE id = 'a1';
SELECT id, state, completed_at IS NOT NULL FROM tasks WHERE queue = 'c1' ORDER BY id;
SELECT id FROM state_claim('tasks', 'c1', 'w', 30000, 10);
SELECT count(*) FROM state_claim('tasks', 'c1', 'w', 30000, 10);
SELECT id, state, attempts FROM tasks WHERE queue = 'c1' ORDER BY id;

-- 33.2 cancelling a claimed task: the holder's state_renew is NULL,
-- state_complete 0, state_fail NULL; the task stays cancelled
INSERT INTO tasks(id, queue, name) VALUES ('b', 'c2', 'job');
INSERT INTO temp.v SELECT 'b1', lease_token FROM state_claim('tasks', 'c2', 'w', 30000);
UPDATE tasks SET state = 'cancelled' WHERE id = 'b';
SELECT state_renew('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 30000);
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), '{"late":1}');
SELECT state_fail('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 'late', 0);
SELECT state, result, error, completed_at IS NOT NULL FROM tasks WHERE id = 'b';
SELECT count(*) FROM dead_letters WHERE task_id = 'b';

-- 33.3 a cancelled task whose lease had expired is not claimed again (nor
-- dead-lettered, even at max_attempts)
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('c', 'c3', 'job', 1);
INSERT INTO temp.v SELECT 'c1', lease_token FROM state_claim('tasks', 'c3', 'w', 0);
UPDATE tasks SET state = 'cancelled' WHERE id = 'c';
SELECT count(*) FROM state_claim('tasks', 'c3', 'w', 30000, 10);
SELECT state, attempts FROM tasks WHERE id = 'c';
SELECT count(*) FROM dead_letters WHERE task_id = 'c';

-- 33.4 cancelling many at once; a cancelled task made pending again by
-- UPDATE is claimable
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('d1', 'c4', 'job', 1), ('d2', 'c4', 'job', 2), ('d3', 'c4', 'other', 3);
UPDATE tasks SET state = 'cancelled' WHERE queue = 'c4' AND name = 'job';
SELECT id FROM state_claim('tasks', 'c4', 'w', 30000, 10);
UPDATE tasks SET state = 'pending', completed_at = NULL WHERE id = 'd2';
SELECT id, attempts FROM state_claim('tasks', 'c4', 'w', 30000, 10);
SELECT id, state FROM tasks WHERE queue = 'c4' ORDER BY id;

-- 33.5 idempotent enqueue: the same queue and idempotency_key again is no
-- error and no second row; the first row stands
INSERT INTO tasks(queue, name, payload, idempotency_key)
  VALUES ('i1', 'welcome', '{"v":1}', 'user-42');
INSERT INTO tasks(queue, name, payload, idempotency_key)
  VALUES ('i1', 'welcome-again', '{"v":2}', 'user-42');
SELECT count(*), min(name), min(json_extract(payload, '$.v'))
  FROM tasks WHERE queue = 'i1';
-- with an explicit id too
INSERT INTO tasks(id, queue, name, idempotency_key) VALUES ('i-x', 'i1', 'x', 'user-42');
SELECT count(*) FROM tasks WHERE id = 'i-x';
SELECT count(*) FROM tasks WHERE queue = 'i1';
-- duplicates inside one multi-row INSERT: the first of each key stands
INSERT INTO tasks(queue, name, idempotency_key) VALUES
  ('i2', 'first-k1', 'k1'), ('i2', 'second-k1', 'k1'), ('i2', 'first-k2', 'k2'),
  ('i2', 'third-k1', 'k1');
SELECT idempotency_key, name FROM tasks WHERE queue = 'i2' ORDER BY idempotency_key;
-- and in INSERT ... SELECT
INSERT INTO tasks(queue, name, idempotency_key)
  SELECT 'i2', 'sel-' || value, 'k' || value FROM json_each('[1,2,3,3]');
SELECT idempotency_key, name FROM tasks WHERE queue = 'i2' ORDER BY idempotency_key;

-- 33.6 the same key in another queue is another task
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i3a', 'x', 'shared');
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i3b', 'x', 'shared');
SELECT queue, count(*) FROM tasks WHERE idempotency_key = 'shared'
  GROUP BY queue ORDER BY queue;

-- 33.7 without an idempotency_key there is no de-duplication
INSERT INTO tasks(queue, name) VALUES ('i4', 'same'), ('i4', 'same');
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i4', 'same', NULL);
SELECT count(*) FROM tasks WHERE queue = 'i4';

-- 33.8 the key holds while the first task exists, whatever its state;
-- after it is deleted the key can be used again
INSERT INTO tasks(id, queue, name, idempotency_key) VALUES ('j', 'i5', 'job', 'once');
INSERT INTO temp.v SELECT 'j1', lease_token FROM state_claim('tasks', 'i5', 'w', 30000);
SELECT state_complete('tasks', 'j', (SELECT x FROM v WHERE k = 'j1'));
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i5', 'job2', 'once');
SELECT id, name, state FROM tasks WHERE queue = 'i5';
SELECT count(*) FROM state_claim('tasks', 'i5', 'w', 30000);
DELETE FROM tasks WHERE id = 'j';
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i5', 'job3', 'once');
SELECT name, state FROM tasks WHERE queue = 'i5';

-- 33.9 a rolled-back INSERT leaves no key behind
BEGIN;
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i6', 'a', 'tx');
ROLLBACK;
SELECT count(*) FROM tasks WHERE queue = 'i6';
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i6', 'c', 'tx');
INSERT INTO tasks(queue, name, idempotency_key) VALUES ('i6', 'd', 'tx');
SELECT name FROM tasks WHERE queue = 'i6';
