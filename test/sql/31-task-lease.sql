-- 31-task-lease: the lease of a claimed task: fencing tokens, attempts,
-- lease expiry and re-claim, dead-lettering of a task whose lease expired
-- at max_attempts, state_renew and state_complete.  A lease is made to
-- expire at once with lease_ms = 0 (store-neutral: no waiting, no clock).
-- Tokens are compared, not printed; captured values live in temp.v.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 31.1 a fresh task has no lease; its first claim sets attempts 1 and a
-- token
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('a', 'r1', 'job', 10);
SELECT state, attempts, lease_owner, lease_token, lease_expires_at
  FROM tasks WHERE id = 'a';
INSERT INTO temp.v SELECT 'a1', lease_token FROM state_claim('tasks', 'r1', 'wA', 0);
SELECT state, attempts, lease_owner, lease_token IS NOT NULL FROM tasks WHERE id = 'a';

-- 31.2 a claimed task whose lease expired is runnable again: the next claim
-- takes it with attempts + 1, the new owner and a strictly greater token
INSERT INTO temp.v SELECT 'a2', lease_token FROM state_claim('tasks', 'r1', 'wB', 0);
SELECT state, attempts, lease_owner FROM tasks WHERE id = 'a';
INSERT INTO temp.v SELECT 'a3', lease_token FROM state_claim('tasks', 'r1', 'wC', 0);
INSERT INTO temp.v SELECT 'a4', lease_token FROM state_claim('tasks', 'r1', 'wA', 30000);
SELECT state, attempts, lease_owner FROM tasks WHERE id = 'a';
SELECT (SELECT x FROM v WHERE k = 'a2') > (SELECT x FROM v WHERE k = 'a1'),
       (SELECT x FROM v WHERE k = 'a3') > (SELECT x FROM v WHERE k = 'a2'),
       (SELECT x FROM v WHERE k = 'a4') > (SELECT x FROM v WHERE k = 'a3'),
       (SELECT x FROM v WHERE k = 'a4') = (SELECT lease_token FROM tasks WHERE id = 'a');

-- 31.3 a live lease is not taken: no claim while it lasts
SELECT count(*) FROM state_claim('tasks', 'r1', 'wD', 30000, 10);
SELECT attempts, lease_owner FROM tasks WHERE id = 'a';

-- 31.4 fencing: every earlier token is refused by renew, complete and fail
-- (the same worker wA held token a1), and nothing changes
SELECT state_renew('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'), 30000);
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a1'));
SELECT state_complete('tasks', 'a', (SELECT x FROM v WHERE k = 'a3'), '{"x":1}');
SELECT state_fail('tasks', 'a', (SELECT x FROM v WHERE k = 'a2'), 'boom');
SELECT state, attempts, lease_owner, result, error,
       lease_token = (SELECT x FROM v WHERE k = 'a4') FROM tasks WHERE id = 'a';

-- 31.5 state_renew with the current token: the new lease_expires_at, later
-- than the old one, and stored
INSERT INTO tasks(id, queue, name) VALUES ('b', 'r2', 'job');
INSERT INTO temp.v SELECT 'b1', lease_token FROM state_claim('tasks', 'r2', 'w', 1000);
INSERT INTO temp.v SELECT 'b-exp', lease_expires_at FROM tasks WHERE id = 'b';
INSERT INTO temp.v
  SELECT 'b-renew', state_renew('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 60000);
SELECT typeof(x) FROM temp.v WHERE k = 'b-renew';
SELECT (SELECT x FROM v WHERE k = 'b-renew') > (SELECT x FROM v WHERE k = 'b-exp'),
       (SELECT x FROM v WHERE k = 'b-renew') = lease_expires_at,
       state, attempts, lease_owner,
       lease_token = (SELECT x FROM v WHERE k = 'b1')
  FROM tasks WHERE id = 'b';
-- renewing keeps the token and does not count an attempt; renew with 0
-- ends the lease now, and the task is claimable again
SELECT state_renew('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 0) IS NOT NULL;
INSERT INTO temp.v SELECT 'b2', lease_token FROM state_claim('tasks', 'r2', 'w2', 30000);
SELECT attempts, lease_owner, lease_token > (SELECT x FROM v WHERE k = 'b1')
  FROM tasks WHERE id = 'b';

-- 31.6 state_renew is NULL when the token is no longer current: expired and
-- re-claimed (31.5: b1), completed, cancelled; also for an unknown id and a
-- task that was never claimed
SELECT state_renew('tasks', 'b', (SELECT x FROM v WHERE k = 'b1'), 30000);
SELECT state_complete('tasks', 'b', (SELECT x FROM v WHERE k = 'b2'));
SELECT state_renew('tasks', 'b', (SELECT x FROM v WHERE k = 'b2'), 30000);
INSERT INTO tasks(id, queue, name) VALUES ('c', 'r3', 'job');
INSERT INTO temp.v SELECT 'c1', lease_token FROM state_claim('tasks', 'r3', 'w', 30000);
UPDATE tasks SET state = 'cancelled' WHERE id = 'c';
SELECT state_renew('tasks', 'c', (SELECT x FROM v WHERE k = 'c1'), 30000);
SELECT state_renew('tasks', 'nope', 1, 30000);
INSERT INTO tasks(id, queue, name) VALUES ('never', 'r3-never', 'job');
SELECT state_renew('tasks', 'never', 0, 30000), state_renew('tasks', 'never', 1, 30000);

-- 31.7 state_complete with the current token: 1; state 'completed', the
-- result stored, completed_at set, the lease cleared; the same token again
-- is 1 again (the retry of a worker whose reply was lost, see
-- 31-lost-replies) and changes nothing
INSERT INTO tasks(id, queue, name, payload) VALUES ('d', 'r4', 'job', '{"n":7}');
INSERT INTO temp.v SELECT 'd1', lease_token FROM state_claim('tasks', 'r4', 'w', 30000);
SELECT completed_at, result FROM tasks WHERE id = 'd';
SELECT state_complete('tasks', 'd', (SELECT x FROM v WHERE k = 'd1'),
                      '{"sent":true,"n":[1,2]}');
SELECT state, json_extract(result, '$.sent'), json_extract(result, '$.n[1]'),
       completed_at IS NOT NULL, lease_owner, lease_expires_at, attempts,
       json_extract(payload, '$.n')
  FROM tasks WHERE id = 'd';
SELECT state_complete('tasks', 'd', (SELECT x FROM v WHERE k = 'd1'), '{"again":1}');
SELECT state, json_extract(result, '$.sent'), json_extract(result, '$.again')
  FROM tasks WHERE id = 'd';
-- a completed task is not claimed again
SELECT count(*) FROM state_claim('tasks', 'r4', 'w', 0, 10);

-- 31.8 state_complete without a result, with a NULL result, and with JSON
-- scalars as results; an unknown id and a never-claimed task give 0
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('e1', 'r5', 'job', 1), ('e2', 'r5', 'job', 2), ('e3', 'r5', 'job', 3),
  ('e4', 'r5', 'job', 4);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'r5', 'w', 30000, 4);
SELECT state_complete('tasks', 'e1', (SELECT x FROM v WHERE k = 'e1'));
SELECT state_complete('tasks', 'e2', (SELECT x FROM v WHERE k = 'e2'), NULL);
SELECT state_complete('tasks', 'e3', (SELECT x FROM v WHERE k = 'e3'), '42');
SELECT state_complete('tasks', 'e4', (SELECT x FROM v WHERE k = 'e4'), '"done"');
SELECT id, state, quote(result), json_type(result) FROM tasks WHERE queue = 'r5'
  ORDER BY id;
SELECT state_complete('tasks', 'nope', 1);
INSERT INTO tasks(id, queue, name) VALUES ('e5', 'r5-never', 'job');
SELECT state_complete('tasks', 'e5', 0), state_complete('tasks', 'e5', 1);
SELECT state FROM tasks WHERE id = 'e5';
-- 31.9 attempts count every claim, whatever ended the lease before
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('f', 'r6', 'job', 10);
INSERT INTO temp.v SELECT 'f1', lease_token FROM state_claim('tasks', 'r6', 'w', 0);
INSERT INTO temp.v SELECT 'f2', lease_token FROM state_claim('tasks', 'r6', 'w', 30000);
SELECT state_fail('tasks', 'f', (SELECT x FROM v WHERE k = 'f2'), 'e', 0);
INSERT INTO temp.v SELECT 'f3', lease_token FROM state_claim('tasks', 'r6', 'w', 30000);
SELECT attempts, state FROM tasks WHERE id = 'f';
SELECT (SELECT x FROM v WHERE k = 'f3') > (SELECT x FROM v WHERE k = 'f2'),
       (SELECT x FROM v WHERE k = 'f2') > (SELECT x FROM v WHERE k = 'f1');

-- 31.10 a task whose lease expired with attempts >= max_attempts is not
-- handed out again: the next claim on its queue makes it 'dead' and writes
-- a dead letter (reason 'lease expired') to the table named dead_letters
INSERT INTO tasks(id, queue, name, payload, max_attempts)
  VALUES ('g', 'r7', 'fragile', '{"k":"v"}', 2);
INSERT INTO tasks(id, queue, name, run_at) VALUES ('g-next', 'r7', 'other', 9000000000000);
INSERT INTO temp.v SELECT 'g1', lease_token FROM state_claim('tasks', 'r7', 'w1', 0);
INSERT INTO temp.v SELECT 'g2', lease_token FROM state_claim('tasks', 'r7', 'w2', 0);
SELECT state, attempts FROM tasks WHERE id = 'g';
SELECT count(*) FROM state_claim('tasks', 'r7', 'w3', 30000, 10);
SELECT state, attempts, lease_owner, lease_expires_at, completed_at IS NOT NULL
  FROM tasks WHERE id = 'g';
SELECT task_id, queue, name, json_extract(payload, '$.k'), attempts, reason,
       json_extract(task, '$.state'), json_extract(task, '$.id'),
       json_extract(task, '$.attempts'), json_extract(task, '$.max_attempts'),
       json_extract(task, '$.payload.k'), died_at IS NOT NULL, length(id)
  FROM dead_letters WHERE task_id = 'g';
-- the last holder can no longer finish it
SELECT state_complete('tasks', 'g', (SELECT x FROM v WHERE k = 'g2'));
SELECT state_renew('tasks', 'g', (SELECT x FROM v WHERE k = 'g2'), 1000);
SELECT state_fail('tasks', 'g', (SELECT x FROM v WHERE k = 'g2'), 'late');
SELECT state FROM tasks WHERE id = 'g';
SELECT count(*) FROM dead_letters WHERE task_id = 'g';
-- a claim of another queue does not touch it
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('h', 'r8', 'fragile', 1);
SELECT count(*) FROM state_claim('tasks', 'r8', 'w1', 0);
SELECT count(*) FROM state_claim('tasks', 'r8-other', 'w1', 0);
SELECT state, attempts FROM tasks WHERE id = 'h';
SELECT count(*) FROM state_claim('tasks', '["r8-other","r8"]', 'w1', 0);
SELECT state, attempts FROM tasks WHERE id = 'h';
SELECT task_id, reason, attempts FROM dead_letters WHERE task_id = 'h';

-- 31.11 a task at max_attempts whose lease is live is not dead-lettered:
-- no one else claims it, and its holder completes it normally
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('i', 'r9', 'once', 1);
INSERT INTO temp.v SELECT 'i1', lease_token FROM state_claim('tasks', 'r9', 'w', 30000);
SELECT count(*) FROM state_claim('tasks', 'r9', 'w', 30000);
SELECT state_complete('tasks', 'i', (SELECT x FROM v WHERE k = 'i1'));
SELECT state, attempts FROM tasks WHERE id = 'i';
SELECT count(*) FROM dead_letters WHERE task_id = 'i';

-- 31.12 a token is greater than every token the task had before, also
-- one written with INSERT or UPDATE
INSERT INTO tasks(id, queue, name, lease_token) VALUES ('j', 'r10', 'job', 41);
SELECT lease_token > 41 FROM state_claim('tasks', 'r10', 'w', 0);
UPDATE tasks SET lease_token = 500 WHERE id = 'j';
SELECT lease_token > 500, attempts FROM state_claim('tasks', 'r10', 'w', 0);

-- 31.13 expired claims and pending tasks are claimed in one order:
-- priority, then run_at, then id
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES
  ('k-exp', 'r11', 'expired', 0, 5), ('k-p1', 'r11', 'pending-late', 0, 6),
  ('k-p0', 'r11', 'pending-early', 0, 4);
UPDATE tasks SET priority = 1 WHERE id IN ('k-p1', 'k-p0');
SELECT id FROM state_claim('tasks', 'r11', 'w', 0, 1);
UPDATE tasks SET priority = 0 WHERE id IN ('k-p1', 'k-p0');
SELECT id FROM state_claim('tasks', 'r11', 'w', 30000, 1);
SELECT id FROM state_claim('tasks', 'r11', 'w', 30000, 1);
SELECT id FROM state_claim('tasks', 'r11', 'w', 30000, 1);
SELECT id, attempts FROM tasks WHERE queue = 'r11' ORDER BY id;

-- 31.15 the longest lease (1000000000000 ms) keeps its task from every
-- other worker, on every store (it once overflowed on the local store and
-- the task went to a second worker); renew and retry accept it too
INSERT INTO tasks(id, queue, name) VALUES ('long', 'r15', 'job');
SELECT count(*) FROM state_claim('tasks', 'r15', 'wA', 9223372036854775807);
INSERT INTO temp.v SELECT 'long', lease_token FROM state_claim('tasks', 'r15', 'wA', 1000000000000);
SELECT count(*) FROM state_claim('tasks', 'r15', 'wB', 30000);
SELECT lease_owner, lease_expires_at - updated_at BETWEEN 999999990000 AND 1000000010000
  FROM tasks WHERE id = 'long';
SELECT state_renew('tasks', 'long', (SELECT x FROM v WHERE k = 'long'), 1000000000000) > 0;
SELECT count(*) FROM state_claim('tasks', 'r15', 'wB', 30000);
SELECT state_fail('tasks', 'long', (SELECT x FROM v WHERE k = 'long'), 'later', 1000000000000);
SELECT state, run_at - updated_at BETWEEN 999999990000 AND 1000000010000 FROM tasks WHERE id = 'long';
SELECT count(*) FROM state_claim('tasks', 'r15', 'wB', 30000);

-- 31.14 in a new connection (reopened database) that has not used the
-- dead_letters table yet, a task dying by lease expiry or by state_fail
-- still gets its dead letter
.open reopen.db
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS:reopen@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS:reopen@);
INSERT INTO tasks(id, queue, name, max_attempts) VALUES
  ('ra', 'rq1', 'job', 1), ('rb', 'rq2', 'job', 1);
SELECT count(*) FROM state_claim('tasks', 'rq1', 'w', 0);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO temp.v SELECT 'rb', lease_token FROM state_claim('tasks', 'rq2', 'w', 30000);
.reopen
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO temp.v SELECT 'rb', lease_token FROM tasks WHERE id = 'rb';
SELECT count(*) FROM state_claim('tasks', 'rq1', 'w', 30000);
SELECT state_fail('tasks', 'rb', (SELECT x FROM v WHERE k = 'rb'), 'fatal');
SELECT id, state FROM tasks ORDER BY id;
SELECT task_id, reason FROM dead_letters ORDER BY task_id;

-- 31.15 dead letters get UUIDv7 ids, distinct also when one claim kills
-- several tasks (their expired leases) and when state_fail kills one
.open ids.db
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS:ids@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS:ids@);
INSERT INTO tasks(id, queue, name, max_attempts)
  WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 5)
  SELECT 'i' || k, 'iq', 'job', 1 FROM n;
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('f', 'fq', 'job', 1);
SELECT count(*) FROM state_claim('tasks', 'iq', 'w', 0, 5);
SELECT count(*) FROM state_claim('tasks', 'iq', 'w', 30000);
SELECT state_fail('tasks', 'f', (SELECT lease_token FROM state_claim('tasks', 'fq', 'w', 30000)), 'fatal');
SELECT count(*), count(DISTINCT id),
       sum(length(id) = 36 AND substr(id, 15, 1) = '7'
           AND substr(id, 20, 1) IN ('8', '9', 'a', 'b')
           AND id GLOB '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]')
  FROM dead_letters;
SELECT task_id, reason FROM dead_letters ORDER BY task_id;
