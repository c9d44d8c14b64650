-- 32-fail: state_fail(tasks, id, token, error [, retry_in_ms]): retry with
-- an explicit delay or the default back-off, 'dead' with a dead letter at
-- max_attempts in the same step, NULL for a stale token; and redrive from
-- dead letters with INSERT ... SELECT.  Delays are checked as run_at -
-- updated_at, both set by the store in one step.  The default back-off
-- after attempt a is d = min(1000 * 2^(a-1), 3600000) ms, jittered
-- uniformly into [d/2, d].

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 32.1 retry with retry_in_ms: 'retry'; state 'pending', the error kept,
-- attempts kept, the lease cleared, run_at = now + retry_in_ms
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('a', 'f1', 'job', 3);
INSERT INTO temp.v SELECT 'a1', lease_token FROM state_claim('tasks', 'f1', 'w', 30000);
SELECT state_fail('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'), 'timeout', 5000);
SELECT state, error, attempts, lease_owner, lease_expires_at,
       run_at - updated_at, completed_at
  FROM tasks WHERE id = 'a';
-- not claimable before run_at
SELECT count(*) FROM state_claim('tasks', 'f1', 'w', 30000);
-- the old token is spent: a second fail is NULL, complete is 0
SELECT state_fail('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'), 'again', 0);
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'));
SELECT state, error FROM tasks WHERE id = 'a';

-- 32.2 retry_in_ms = 0: claimable again at once, with attempts + 1 and a
-- greater token; a success after a failure keeps the last error
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('b', 'f2', 'job', 3);
INSERT INTO temp.v SELECT 'b1', lease_token FROM state_claim('tasks', 'f2', 'w', 30000);
SELECT state_fail('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 'flaky', 0);
SELECT state, run_at - updated_at FROM tasks WHERE id = 'b';
INSERT INTO temp.v SELECT 'b2', lease_token FROM state_claim('tasks', 'f2', 'w', 30000);
SELECT attempts, (SELECT x FROM v WHERE k = 'b2') > (SELECT x FROM v WHERE k = 'b1')
  FROM tasks WHERE id = 'b';
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b2'), '{"ok":true}');
SELECT state, attempts, error, json_extract(result, '$.ok') FROM tasks WHERE id = 'b';

-- 32.3 the default back-off (no retry_in_ms, or NULL): attempt 1 waits
-- 500..1000 ms, attempt 10 256..512 s, attempt 30 is capped at 30..60 min;
-- the task is not claimable meanwhile
INSERT INTO tasks(id, queue, name, max_attempts, attempts) VALUES
  ('c1', 'f3a', 'job', 50, 0), ('c10', 'f3b', 'job', 50, 9),
  ('c30', 'f3c', 'job', 50, 29);
INSERT INTO temp.v SELECT id, lease_token
  FROM state_claim('tasks', '["f3a","f3b","f3c"]', 'w', 30000, 3);
SELECT state_fail('tasks', 'c1', (SELECT x FROM v WHERE k = 'c1'), 'e1');
SELECT state_fail('tasks', 'c10', (SELECT x FROM v WHERE k = 'c10'), 'e10', NULL);
SELECT state_fail('tasks', 'c30', (SELECT x FROM v WHERE k = 'c30'), 'e30');
SELECT id, state, attempts, error, run_at - updated_at BETWEEN 500 AND 1000,
       run_at - updated_at BETWEEN 256000 AND 512000,
       run_at - updated_at BETWEEN 1800000 AND 3600000
  FROM tasks WHERE queue IN ('f3a', 'f3b', 'f3c') ORDER BY attempts;
SELECT count(*) FROM state_claim('tasks', '["f3a","f3b","f3c"]', 'w', 30000, 3);

-- 32.4 at max_attempts a failure is final: 'dead'; state 'dead', the error,
-- completed_at, the lease cleared; and in the same step a dead letter in
-- dead_letters with reason = the error, the attempts and the task as JSON
INSERT INTO tasks(id, queue, name, payload, max_attempts, tags)
  VALUES ('d', 'f4', 'charge', '{"amount":12}', 2, '["eu"]');
INSERT INTO temp.v SELECT 'd1', lease_token FROM state_claim('tasks', 'f4', 'w1', 30000);
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd1'), 'card declined', 0);
INSERT INTO temp.v SELECT 'd2', lease_token FROM state_claim('tasks', 'f4', 'w2', 30000);
SELECT count(*) FROM dead_letters WHERE task_id = 'd';
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd2'), 'card expired', 0);
SELECT state, attempts, error, completed_at IS NOT NULL, lease_owner,
       lease_expires_at
  FROM tasks WHERE id = 'd';
SELECT task_id, queue, name, json_extract(payload, '$.amount'), attempts,
       reason, died_at IS NOT NULL, length(id)
  FROM dead_letters WHERE task_id = 'd';
SELECT json_extract(task, '$.id'), json_extract(task, '$.state'),
       json_extract(task, '$.queue'), json_extract(task, '$.name'),
       json_extract(task, '$.attempts'), json_extract(task, '$.max_attempts'),
       json_extract(task, '$.error'), json_extract(task, '$.payload.amount'),
       json_extract(task, '$.tags[0]')
  FROM dead_letters WHERE task_id = 'd';
-- a dead task is not claimed, and its last token is spent
SELECT count(*) FROM state_claim('tasks', 'f4', 'w3', 30000);
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd2'), 'again');
SELECT state_complete('tasks', 'd', (SELECT x FROM v WHERE k = 'd2'));
SELECT count(*) FROM dead_letters WHERE task_id = 'd';

-- 32.5 max_attempts 1: the first failure is final, whatever retry_in_ms
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('e', 'f5', 'once', 1);
INSERT INTO temp.v SELECT 'e1', lease_token FROM state_claim('tasks', 'f5', 'w', 30000);
SELECT state_fail('tasks', 'e', (SELECT x FROM v WHERE k = 'e1'), 'no retries', 0);
SELECT state, attempts FROM tasks WHERE id = 'e';
SELECT task_id, reason, attempts FROM dead_letters WHERE task_id = 'e';

-- 32.6 NULL for a stale token: never claimed, wrong token, unknown id,
-- completed, cancelled; nothing changes
INSERT INTO tasks(id, queue, name) VALUES ('g', 'f6', 'job'), ('g2', 'f6-never', 'job');
SELECT state_fail('tasks', 'g2', 0, 'x'), state_fail('tasks', 'g2', 1, 'x');
INSERT INTO temp.v SELECT 'g1', lease_token FROM state_claim('tasks', 'f6', 'w', 30000);
SELECT state_fail('tasks', 'g', (SELECT x FROM v WHERE k = 'g1') + 1, 'x');
SELECT state_fail('tasks', 'nope', 1, 'x');
SELECT state, attempts, error FROM tasks WHERE id = 'g';
SELECT state_complete('tasks', 'g', (SELECT x FROM v WHERE k = 'g1'));
SELECT state_fail('tasks', 'g', (SELECT x FROM v WHERE k = 'g1'), 'x');
SELECT state, error FROM tasks WHERE id = 'g';
INSERT INTO tasks(id, queue, name) VALUES ('h', 'f7', 'job');
INSERT INTO temp.v SELECT 'h1', lease_token FROM state_claim('tasks', 'f7', 'w', 30000);
UPDATE tasks SET state = 'cancelled' WHERE id = 'h';
SELECT state_fail('tasks', 'h', (SELECT x FROM v WHERE k = 'h1'), 'x');
SELECT state, error FROM tasks WHERE id = 'h';
SELECT count(*) FROM dead_letters WHERE task_id IN ('g', 'g2', 'h', 'nope');

-- 32.7 redrive: INSERT INTO tasks ... SELECT ... FROM dead_letters makes a
-- new task (a new id, attempts 0) that is claimable; the dead letter and
-- the dead task stay until deleted
INSERT INTO tasks(queue, name, payload)
  SELECT queue, name, payload FROM dead_letters WHERE task_id = 'd';
SELECT count(*), sum(state = 'pending'), sum(state = 'dead') FROM tasks WHERE queue = 'f4';
SELECT name, state, attempts, json_extract(payload, '$.amount'), id <> 'd'
  FROM tasks WHERE queue = 'f4' AND state = 'pending';
SELECT name, attempts, json_extract(payload, '$.amount')
  FROM state_claim('tasks', 'f4', 'w', 30000);
-- redrive keeping the task's id: delete the dead task, insert it again
-- from its letter, delete the letter
DELETE FROM tasks WHERE id = 'e';
INSERT INTO tasks(id, queue, name, payload, max_attempts)
  SELECT task_id, queue, name, payload, 3 FROM dead_letters WHERE task_id = 'e';
DELETE FROM dead_letters WHERE task_id = 'e';
SELECT id, state, attempts, max_attempts, error FROM tasks WHERE id = 'e';
SELECT count(*) FROM dead_letters WHERE task_id = 'e';
SELECT id, attempts FROM state_claim('tasks', 'f5', 'w', 30000);
-- redrive of every letter of a queue, as the issue's example
-- INSERT INTO tasks SELECT ... FROM dead_letters WHERE ...
INSERT INTO tasks(id, queue, name, max_attempts) VALUES
  ('r1', 'f8', 'x', 1), ('r2', 'f8', 'y', 1);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'f8', 'w', 30000, 2);
SELECT state_fail('tasks', 'r1', (SELECT x FROM v WHERE k = 'r1'), 'bad r1');
SELECT state_fail('tasks', 'r2', (SELECT x FROM v WHERE k = 'r2'), 'bad r2');
INSERT INTO tasks(queue, name, payload)
  SELECT 'f8-redriven', name, payload FROM dead_letters WHERE queue = 'f8';
.changes
SELECT name, state FROM tasks WHERE queue = 'f8-redriven' ORDER BY name;
SELECT name FROM state_claim('tasks', 'f8-redriven', 'w', 30000, 5) ORDER BY name;
-- the same without a column list: every task column, NULL for the
-- generated id and the maintained times
INSERT INTO tasks
  SELECT NULL, NULL, 'f8-all', name, payload, 'pending', 0, 1, 0, 3, NULL,
         NULL, NULL, '[]', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
    FROM dead_letters WHERE queue = 'f8';
SELECT name, state, attempts, length(id), created_at IS NOT NULL
  FROM tasks WHERE queue = 'f8-all' ORDER BY name;
SELECT name FROM state_claim('tasks', 'f8-all', 'w', 30000, 5) ORDER BY name;

-- 32.8 a dead letter's task holds every column of the task as it died,
-- JSON columns as JSON (payload an object, tags an array)
INSERT INTO tasks(id, queue, name, payload, max_attempts, tags)
  VALUES ('dj', 'q-dj', 'n', '{"a":1}', 1, '["t"]');
SELECT count(*) FROM state_claim('tasks', 'q-dj', 'w');
SELECT state_fail('tasks', 'dj', (SELECT lease_token FROM tasks WHERE id = 'dj'), 'boom');
SELECT j.key, j.type FROM dead_letters, json_each(dead_letters.task) AS j
 WHERE dead_letters.task_id = 'dj' ORDER BY j.key;
SELECT (SELECT count(*) FROM pragma_table_info('tasks')) =
       (SELECT count(*) FROM dead_letters, json_each(dead_letters.task)
         WHERE dead_letters.task_id = 'dj');
