-- 31-lost-replies: a worker whose state_complete, state_fail or state_renew
-- took effect but whose reply was lost (a connection cut, a timeout) calls
-- it again with the same token.  The retry reports success, and the caller
-- tells it from a token that lost the task: state_complete 1 again for the
-- holder that completed it and 0 only for a token that lost the task;
-- state_fail 'retry' or 'dead' again when that fail (the same error) was
-- the task's last change, NULL when it lost the task; state_renew simply
-- renews again.  The retry changes nothing.  The same on every store (the
-- lost reply itself, through a fault proxy, is suite 72-faults).

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 31.20 state_complete again with the same token: 1 again, and the first
-- call's result and completed_at stay
INSERT INTO tasks(id, queue, name) VALUES ('a', 'la', 'job');
INSERT INTO temp.v SELECT 'a', lease_token FROM state_claim('tasks', 'la', 'w1', 30000);
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a'), '{"n":1}');
INSERT INTO temp.v SELECT 'a-done', completed_at FROM tasks WHERE id = 'a';
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a'), '{"n":2}');
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a'));
SELECT state, result, completed_at = (SELECT x FROM v WHERE k = 'a-done'),
       lease_token = (SELECT x FROM v WHERE k = 'a') FROM tasks WHERE id = 'a';

-- 31.21 a token that lost the task is 0: the lease expired, another worker
-- claimed and completed it; the first holder's token is stale before and
-- after that completion, and a token that was never issued is stale too
INSERT INTO tasks(id, queue, name) VALUES ('b', 'lb', 'job');
INSERT INTO temp.v SELECT 'b1', lease_token FROM state_claim('tasks', 'lb', 'w1', 0);
INSERT INTO temp.v SELECT 'b2', lease_token FROM state_claim('tasks', 'lb', 'w2', 30000);
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'));
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b2'), '"w2"');
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'));
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b2') + 1);
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b2'));
SELECT state, result FROM tasks WHERE id = 'b';

-- 31.22 state_fail again with the same token and error after a retry:
-- 'retry' again, nothing changes (attempts, run_at, error); another error
-- is not that fail's retry: NULL; and complete with that token is 0 (the
-- task is pending, not completed)
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('c', 'lc', 'job', 3);
INSERT INTO temp.v SELECT 'c1', lease_token FROM state_claim('tasks', 'lc', 'w1', 30000);
SELECT state_fail('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 'boom', 60000);
INSERT INTO temp.v SELECT 'c-run', run_at FROM tasks WHERE id = 'c';
SELECT state_fail('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 'boom', 60000);
SELECT state_fail('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 'boom', 0);
SELECT state_fail('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 'other', 0);
SELECT state_complete('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'));
SELECT state, attempts, error, run_at = (SELECT x FROM v WHERE k = 'c-run'),
       lease_owner FROM tasks WHERE id = 'c';
-- a NULL error retried with NULL is the same fail
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('c2', 'lc2', 'job', 3);
INSERT INTO temp.v SELECT 'c2', lease_token FROM state_claim('tasks', 'lc2', 'w1', 30000);
SELECT state_fail('tasks', 'c2', (SELECT x FROM v WHERE k = 'c2'), NULL, 60000);
SELECT state_fail('tasks', 'c2', (SELECT x FROM v WHERE k = 'c2'), NULL, 60000);
SELECT state_fail('tasks', 'c2', (SELECT x FROM v WHERE k = 'c2'), 'boom', 60000);

-- 31.23 once the failed task is claimed again, the old token lost it:
-- fail is NULL, complete 0
UPDATE tasks SET run_at = 0 WHERE id = 'c';
INSERT INTO temp.v SELECT 'c2nd', lease_token FROM state_claim('tasks', 'lc', 'w2', 30000);
SELECT state_fail('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 'boom', 60000);
SELECT state_complete('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'));
SELECT state, attempts, lease_owner FROM tasks WHERE id = 'c';

-- 31.24 state_fail again after the task died: 'dead' again, and still one
-- dead letter
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('d', 'ld', 'job', 1);
INSERT INTO temp.v SELECT 'd', lease_token FROM state_claim('tasks', 'ld', 'w1', 30000);
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd'), 'fatal');
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd'), 'fatal');
SELECT state_complete('tasks', 'd', (SELECT x FROM v WHERE k = 'd'));
SELECT state, attempts, error FROM tasks WHERE id = 'd';
SELECT count(*), reason FROM dead_letters WHERE task_id = 'd';

-- 31.25 a task that died because its lease expired at max_attempts was
-- not failed by its holder: the holder's fail is NULL, its complete 0
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('e', 'le', 'job', 1);
INSERT INTO temp.v SELECT 'e', lease_token FROM state_claim('tasks', 'le', 'w1', 0);
SELECT count(*) FROM state_claim('tasks', 'le', 'w2', 30000);
SELECT state FROM tasks WHERE id = 'e';
SELECT state_fail('tasks', 'e', (SELECT x FROM v WHERE k = 'e'), 'boom');
SELECT state_complete('tasks', 'e', (SELECT x FROM v WHERE k = 'e'));

-- 31.26 a cancelled task: its holder's complete is 0, fail NULL, renew NULL
INSERT INTO tasks(id, queue, name) VALUES ('f', 'lf', 'job');
INSERT INTO temp.v SELECT 'f', lease_token FROM state_claim('tasks', 'lf', 'w1', 30000);
UPDATE tasks SET state = 'cancelled' WHERE id = 'f';
SELECT state_complete('tasks', 'f', (SELECT x FROM v WHERE k = 'f'));
SELECT state_fail('tasks', 'f', (SELECT x FROM v WHERE k = 'f'), 'boom');
SELECT state_renew('tasks', 'f', (SELECT x FROM v WHERE k = 'f'), 30000);
SELECT state FROM tasks WHERE id = 'f';

-- 31.27 state_renew again with the same token: it renews again (a renew
-- is repeatable while the lease is held); after the completion it is NULL
INSERT INTO tasks(id, queue, name) VALUES ('g', 'lg', 'job');
INSERT INTO temp.v SELECT 'g', lease_token FROM state_claim('tasks', 'lg', 'w1', 1000);
SELECT state_renew('tasks', 'g', (SELECT x FROM v WHERE k = 'g'), 60000) IS NOT NULL;
SELECT state_renew('tasks', 'g', (SELECT x FROM v WHERE k = 'g'), 60000) IS NOT NULL;
SELECT state, attempts, lease_owner FROM tasks WHERE id = 'g';
SELECT state_complete('tasks', 'g', (SELECT x FROM v WHERE k = 'g'));
SELECT state_renew('tasks', 'g', (SELECT x FROM v WHERE k = 'g'), 60000);

-- 31.28 state_complete(tasks, list) again: every entry whose task is
-- completed with its token counts again, a stale one does not
INSERT INTO tasks(id, queue, name) VALUES ('h1', 'lh', 'job'), ('h2', 'lh', 'job');
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'lh', 'w1', 30000, 2);
INSERT INTO temp.v SELECT 'h-list', json_array(
  json_object('id', 'h1', 'token', (SELECT x FROM v WHERE k = 'h1')),
  json_object('id', 'h2', 'token', (SELECT x FROM v WHERE k = 'h2')),
  json_object('id', 'b', 'token', (SELECT x FROM v WHERE k = 'b1')));
SELECT state_complete('tasks', (SELECT x FROM v WHERE k = 'h-list'));
SELECT state_complete('tasks', (SELECT x FROM v WHERE k = 'h-list'));
SELECT id, state FROM tasks WHERE queue = 'lh' ORDER BY id;

-- 31.29 the complete option of state_claim again: an entry completed with
-- its token is not reported 'stale'; a token that lost its task is
SELECT id, outcome FROM state_claim('tasks', 'lh', 'w1', 30000, 1,
  json_object('complete', json((SELECT x FROM v WHERE k = 'h-list'))));

-- 31.30 once the row is gone (retain= removed it, or a DELETE), there is
-- nothing to tell from: 0 and NULL, as for a stale token
DELETE FROM tasks WHERE id = 'a';
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a'));
DELETE FROM tasks WHERE id = 'd';
SELECT state_fail('tasks', 'd', (SELECT x FROM v WHERE k = 'd'), 'fatal');
