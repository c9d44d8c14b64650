-- 30-claim: state_claim(tasks, queue, worker [, lease_ms [, n [, options]]]),
-- the table-valued function that claims runnable tasks: claim order, n,
-- queue lists, defaults, run_at, the tags/names/limits options, paused
-- queues (state_pause/state_resume/state_paused) and its output columns.
-- Store-neutral: times are compared, never printed (atomic steps use the
-- store's clock); every case uses queues of its own.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);

-- 30.1 claim order: priority (lower first), then run_at, then id; one task
-- per claim with n = 1
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES
  ('o-c', 'q1', 'p0-late-c', 0, 2000),
  ('o-b', 'q1', 'p0-late-b', 0, 2000),
  ('o-d', 'q1', 'p0-early', 0, 1000),
  ('o-a', 'q1', 'p1-early', 1, 1000),
  ('o-e', 'q1', 'pm1-late', -1, 3000);
SELECT id, name FROM state_claim('tasks', 'q1', 'w1', 30000, 1);
SELECT id, name FROM state_claim('tasks', 'q1', 'w1', 30000, 1);
SELECT id, name FROM state_claim('tasks', 'q1', 'w1', 30000, 1);
SELECT id, name FROM state_claim('tasks', 'q1', 'w1', 30000, 1);
SELECT id, name FROM state_claim('tasks', 'q1', 'w1', 30000, 1);
SELECT count(*) FROM state_claim('tasks', 'q1', 'w1', 30000, 1);

-- 30.2 a claimed task: state 'claimed', lease_owner, attempts 1, an integer
-- lease_token, lease_expires_at = the claim's time + lease_ms
SELECT id, state, lease_owner, attempts, typeof(lease_token),
       lease_expires_at - updated_at
  FROM tasks WHERE queue = 'q1' ORDER BY id;

-- 30.3 n > 1: the first n in claim order, in one claim; the rest stay
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES
  ('n1', 'q2', 'a', 0, 1000), ('n2', 'q2', 'b', 0, 1001),
  ('n3', 'q2', 'c', 0, 1002), ('n4', 'q2', 'd', 0, 1003),
  ('n5', 'q2', 'e', 0, 1004);
SELECT name, state, lease_owner, attempts
  FROM state_claim('tasks', 'q2', 'w2', 30000, 3) ORDER BY name;
SELECT name, state FROM tasks WHERE queue = 'q2' ORDER BY name;
-- n larger than what is runnable: what there is
SELECT name FROM state_claim('tasks', 'q2', 'w2', 30000, 10) ORDER BY name;
-- nothing left: no rows, no error
SELECT count(*) FROM state_claim('tasks', 'q2', 'w2', 30000, 10);
-- n = 0 claims nothing
INSERT INTO tasks(id, queue, name) VALUES ('n6', 'q2', 'f');
SELECT count(*) FROM state_claim('tasks', 'q2', 'w2', 30000, 0);
SELECT state FROM tasks WHERE id = 'n6';

-- 30.4 the defaults: lease_ms 30000, n 1 (and NULL means the default)
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('d1', 'q3', 'a', 1000), ('d2', 'q3', 'b', 1001), ('d3', 'q3', 'c', 1002);
SELECT name, lease_expires_at - updated_at FROM state_claim('tasks', 'q3', 'w3');
SELECT name, lease_expires_at - updated_at
  FROM state_claim('tasks', 'q3', 'w3', NULL);
SELECT name, lease_expires_at - updated_at
  FROM state_claim('tasks', 'q3', 'w3', 5000, NULL);
SELECT name, lease_expires_at - updated_at FROM tasks WHERE queue = 'q3'
  ORDER BY name;

-- 30.5 queue as a JSON array of names: one claim order across the queues
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES
  ('m1', 'q4a', 'a-late', 0, 3000), ('m2', 'q4b', 'b-early', 0, 1000),
  ('m3', 'q4a', 'a-urgent', -5, 5000), ('m4', 'q4c', 'c-other', -9, 1000);
SELECT name FROM state_claim('tasks', '["q4a","q4b"]', 'w4', 30000, 1);
SELECT name FROM state_claim('tasks', '["q4a","q4b"]', 'w4', 30000, 1);
SELECT name FROM state_claim('tasks', '["q4a","q4b"]', 'w4', 30000, 1);
SELECT count(*) FROM state_claim('tasks', '["q4a","q4b"]', 'w4', 30000, 1);
-- a one-element array, and a queue name that is no JSON
SELECT name FROM state_claim('tasks', '["q4c"]', 'w4');
INSERT INTO tasks(id, queue, name) VALUES ('m5', 'q4 plain', 'p');
SELECT name, queue FROM state_claim('tasks', 'q4 plain', 'w4');

-- 30.6 run_at in the future is not claimable; run_at in the past is
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('f1', 'q5', 'future', 9000000000000), ('f2', 'q5', 'past', 1);
SELECT name FROM state_claim('tasks', 'q5', 'w5', 30000, 10);
SELECT count(*) FROM state_claim('tasks', 'q5', 'w5', 30000, 10);
SELECT name, state, attempts FROM tasks WHERE queue = 'q5' ORDER BY name;

-- 30.7 only pending tasks are claimable: completed, failed, dead and
-- cancelled ones are not, nor a claimed one with a live lease
INSERT INTO tasks(id, queue, name, state) VALUES
  ('s1', 'q6', 'completed', 'completed'), ('s2', 'q6', 'failed', 'failed'),
  ('s3', 'q6', 'dead', 'dead'), ('s4', 'q6', 'cancelled', 'cancelled'),
  ('s5', 'q6', 'pending', 'pending');
SELECT name FROM state_claim('tasks', 'q6', 'w6', 30000, 10);
SELECT count(*) FROM state_claim('tasks', 'q6', 'w6a', 30000, 10);
SELECT name, state FROM tasks WHERE queue = 'q6' ORDER BY name;

-- 30.8 options.tags: only tasks carrying every listed tag
INSERT INTO tasks(id, queue, name, tags) VALUES
  ('t1', 'q7', 'none', '[]'), ('t2', 'q7', 'eu', '["eu"]'),
  ('t3', 'q7', 'eu-vip', '["vip","eu"]'), ('t4', 'q7', 'us-vip', '["us","vip"]');
SELECT name FROM state_claim('tasks', 'q7', 'w7', 30000, 10,
                             '{"tags":["eu","vip"]}') ORDER BY name;
SELECT name FROM state_claim('tasks', 'q7', 'w7', 30000, 10,
                             '{"tags":["eu"]}') ORDER BY name;
SELECT name FROM state_claim('tasks', 'q7', 'w7', 30000, 10,
                             '{"tags":["nope"]}') ORDER BY name;
-- an empty list filters nothing
SELECT name FROM state_claim('tasks', 'q7', 'w7', 30000, 10,
                             '{"tags":[]}') ORDER BY name;

-- 30.9 options.names: only tasks of these names
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('x1', 'q8', 'send', 1), ('x2', 'q8', 'render', 2), ('x3', 'q8', 'send', 3),
  ('x4', 'q8', 'bill', 4);
SELECT id, name FROM state_claim('tasks', 'q8', 'w8', 30000, 10,
                                 '{"names":["send","bill"]}') ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'q8', 'w8', 30000, 10,
                                 '{"names":["other"]}');
SELECT id, name FROM state_claim('tasks', 'q8', 'w8', 30000, 10,
                                 '{"names":["render"], "tags":[]}');

-- 30.10 options.limits by task name: at most that many live claims of the
-- name, counting the ones already held; other names are not limited
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('l1', 'q9', 'heavy', 1), ('l2', 'q9', 'heavy', 2), ('l3', 'q9', 'heavy', 3),
  ('l4', 'q9', 'light', 4), ('l5', 'q9', 'heavy', 5), ('l6', 'q9', 'light', 6);
SELECT id FROM state_claim('tasks', 'q9', 'w9', 30000, 10,
                           '{"limits":{"heavy":2}}') ORDER BY id;
-- two heavy tasks are held: no more heavy ones until one finishes
INSERT INTO tasks(id, queue, name, run_at) VALUES ('l7', 'q9', 'light', 7);
SELECT id FROM state_claim('tasks', 'q9', 'w9', 30000, 10,
                           '{"limits":{"heavy":2}}') ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'q9', 'w9', 30000, 10,
                                 '{"limits":{"heavy":2}}');
SELECT state_complete('tasks', 'l1', (SELECT lease_token FROM tasks WHERE id = 'l1'));
SELECT id FROM state_claim('tasks', 'q9', 'w9', 30000, 10,
                           '{"limits":{"heavy":2}}') ORDER BY id;
-- a limit of 0 claims none of that name
SELECT count(*) FROM state_claim('tasks', 'q9', 'w9', 30000, 10,
                                 '{"limits":{"heavy":0}}');
-- without the limit the last one goes
SELECT id FROM state_claim('tasks', 'q9', 'w9', 30000, 10);

-- 30.11 options.limits by queue ("queue:NAME"), over a list of queues
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('ql1', 'q10a', 'x', 1), ('ql2', 'q10a', 'x', 2), ('ql3', 'q10a', 'x', 3),
  ('ql4', 'q10b', 'x', 4), ('ql5', 'q10b', 'x', 5);
SELECT id FROM state_claim('tasks', '["q10a","q10b"]', 'w10', 30000, 10,
                           '{"limits":{"queue:q10a":1}}') ORDER BY id;
SELECT id FROM state_claim('tasks', '["q10a","q10b"]', 'w10', 30000, 10,
                           '{"limits":{"queue:q10a":2}}') ORDER BY id;
-- name and queue limits together: four x tasks are held, so "x":5 leaves
-- room for one more; the limit of another queue has no effect here
SELECT id FROM state_claim('tasks', 'q10a', 'w10', 30000, 10,
                           '{"limits":{"queue:q10a":5, "x":5, "queue:zz":0}}')
  ORDER BY id;
SELECT count(*) FROM tasks WHERE queue IN ('q10a', 'q10b') AND state = 'claimed';

-- 30.12 limits look past the candidates they turn down: with n = 1 the
-- first runnable task is over its limit, the next one is claimed
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('lw1', 'q11', 'busy', 1), ('lw2', 'q11', 'busy', 2),
  ('lw3', 'q11', 'busy', 3), ('lw4', 'q11', 'free', 4);
SELECT id FROM state_claim('tasks', 'q11', 'w11', 30000, 1,
                           '{"limits":{"busy":1}}');
SELECT id FROM state_claim('tasks', 'q11', 'w11', 30000, 1,
                           '{"limits":{"busy":1}}');
SELECT count(*) FROM state_claim('tasks', 'q11', 'w11', 30000, 1,
                                 '{"limits":{"busy":1}}');

-- 30.13 paused queues: state_pause returns 1 when it paused the queue (0 if
-- it was paused already), claims skip it, state_paused tells, state_resume
-- returns 1 then 0, and the tasks are claimable again
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('pa1', 'q12', 'a', 1), ('pa2', 'q12', 'b', 2), ('pb1', 'q12b', 'c', 3);
SELECT state_paused('tasks', 'q12');
SELECT state_pause('tasks', 'q12');
SELECT state_pause('tasks', 'q12');
SELECT state_paused('tasks', 'q12'), state_paused('tasks', 'q12b');
SELECT count(*) FROM state_claim('tasks', 'q12', 'w12', 30000, 10);
-- a list of queues skips the paused one only
SELECT id FROM state_claim('tasks', '["q12","q12b"]', 'w12', 30000, 10);
SELECT id, state FROM tasks WHERE queue = 'q12' ORDER BY id;
SELECT state_resume('tasks', 'q12');
SELECT state_resume('tasks', 'q12');
SELECT state_paused('tasks', 'q12');
SELECT id FROM state_claim('tasks', 'q12', 'w12', 30000, 10) ORDER BY id;
-- pausing a queue that has no tasks is allowed; resuming one never paused
-- returns 0
SELECT state_pause('tasks', 'q-empty'), state_paused('tasks', 'q-empty');
SELECT state_resume('tasks', 'q-empty'), state_resume('tasks', 'q-never');

-- 30.14 the output columns: every task column, then outcome ('claimed')
INSERT INTO tasks(id, execution_id, queue, name, payload, priority, run_at,
                  max_attempts, tags, idempotency_key)
VALUES ('c1', 'e1', 'q13', 'full', '{"k":[1,2]}', 7, 1, 5, '["t"]', 'ik-1');
CREATE TEMP TABLE got AS SELECT * FROM state_claim('tasks', 'q13', 'w13', 1000);
SELECT id, execution_id, queue, name, payload, state, priority, run_at,
       attempts, max_attempts, lease_owner, typeof(lease_token),
       lease_expires_at - updated_at, tags, idempotency_key, result, error,
       completed_at, outcome
  FROM temp.got;
SELECT name FROM pragma_table_info('got');
-- the claimed row as stored equals the row returned
SELECT count(*) FROM temp.got g JOIN tasks t USING (id)
  WHERE g.lease_token = t.lease_token AND g.lease_owner = t.lease_owner
    AND g.lease_expires_at = t.lease_expires_at AND g.attempts = t.attempts
    AND g.updated_at = t.updated_at AND t.state = 'claimed';
DROP TABLE temp.got;

-- 30.15 state_claim with named arguments (the hidden columns), and a
-- claim inside an explicit transaction
INSERT INTO tasks(id, queue, name) VALUES ('h1', 'q14', 'a'), ('h2', 'q14', 'b');
SELECT id FROM state_claim WHERE _tasks = 'tasks' AND _queue = 'q14'
  AND _worker = 'w14' AND _n = 1;
BEGIN;
SELECT id FROM state_claim('tasks', 'q14', 'w14');
COMMIT;
SELECT id, state, lease_owner FROM tasks WHERE queue = 'q14' ORDER BY id;

-- 30.16 options.complete: entries are completed before the claim, in the
-- same atomic step; an entry with a stale token is skipped and reported as
-- a row with outcome 'stale' (only id and lease_token set), not an error
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('k1', 'q15', 'job', 1), ('k2', 'q15', 'job', 2), ('k3', 'q15', 'job', 3),
  ('k4', 'q15', 'job', 4);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'q15', 'w15', 30000, 2);
SELECT k FROM temp.v ORDER BY k;
CREATE TEMP TABLE got AS SELECT * FROM state_claim('tasks', 'q15', 'w15', 30000, 1,
  json_object('complete', json_array(
    json_object('id', 'k1', 'token', (SELECT x FROM temp.v WHERE k = 'k1'),
                'result', json('{"ok":1}')),
    json_object('id', 'k2', 'token', (SELECT x FROM temp.v WHERE k = 'k2') + 100),
    json_object('id', 'nope', 'token', 1))));
SELECT id, outcome, state, name, queue, lease_owner FROM temp.got
  ORDER BY outcome, id;
SELECT id, lease_token = (SELECT x FROM temp.v WHERE k = 'k2') + 100
  FROM temp.got WHERE id = 'k2';
SELECT id, state, json_extract(result, '$.ok'), completed_at IS NOT NULL,
       lease_owner, lease_expires_at IS NULL
  FROM tasks WHERE queue = 'q15' ORDER BY id;
INSERT INTO temp.v SELECT id, lease_token FROM temp.got WHERE outcome = 'claimed';
DROP TABLE temp.got;
-- the same entry again: the task is completed with that token, so it is
-- not stale (a retry after a lost reply), and nothing changes
SELECT id, outcome FROM state_claim('tasks', 'q15', 'w15', 30000, 0,
  json_object('complete', json_array(
    json_object('id', 'k1', 'token', (SELECT x FROM temp.v WHERE k = 'k1')))));
-- a fresh entry without a result, n = 0: only completes (no rows)
SELECT count(*) FROM state_claim('tasks', 'q15', 'w15', 30000, 0,
  json_object('complete', json_array(
    json_object('id', 'k2', 'token', (SELECT x FROM temp.v WHERE k = 'k2')))));
SELECT id, state, result FROM tasks WHERE id = 'k2';
-- a completion frees its place under a limit for the claim that follows
SELECT count(*) FROM state_claim('tasks', 'q15', 'w15', 30000, 1,
                                 '{"limits":{"job":1}}');
SELECT id, outcome FROM state_claim('tasks', 'q15', 'w15', 30000, 1,
  json_object('limits', json('{"job":1}'), 'complete', json_array(
    json_object('id', 'k3', 'token', (SELECT x FROM temp.v WHERE k = 'k3')))));
SELECT id, state FROM tasks WHERE queue = 'q15' ORDER BY id;

-- 30.17 the same in a database file in WAL mode (where the local store
-- runs atomic steps on a connection of its own): claim, renew, complete,
-- fail to a dead letter, pause; a claim inside BEGIN IMMEDIATE joins the
-- transaction; everything is there after reopening
.open claim-wal.db
PRAGMA journal_mode = wal;
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS:wal@);
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS:wal@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO tasks(id, queue, name, run_at, max_attempts) VALUES
  ('w1', 'qw', 'a', 1, 3), ('w2', 'qw', 'b', 2, 1), ('w3', 'qw', 'c', 3, 3),
  ('w4', 'qw', 'd', 4, 3);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('tasks', 'qw', 'w', 30000, 2);
SELECT k FROM temp.v ORDER BY k;
SELECT state_renew('tasks', 'w1', (SELECT x FROM v WHERE k = 'w1'), 60000) IS NOT NULL;
SELECT state_complete('tasks', 'w1', (SELECT x FROM v WHERE k = 'w1'), '{"f":1}');
SELECT state_fail('tasks', 'w2', (SELECT x FROM v WHERE k = 'w2'), 'wal dead');
SELECT task_id, reason FROM dead_letters;
SELECT state_pause('tasks', 'qw');
SELECT count(*) FROM state_claim('tasks', 'qw', 'w', 30000, 10);
SELECT state_resume('tasks', 'qw');
BEGIN IMMEDIATE;
SELECT id FROM state_claim('tasks', 'qw', 'w-tx', 30000, 1);
COMMIT;
.reopen
SELECT id, state, lease_owner, attempts FROM tasks ORDER BY id;
SELECT id FROM state_claim('tasks', 'qw', 'w', 30000, 10);
SELECT task_id, reason, attempts FROM dead_letters;

-- 30.18 the rows of a claim of many come in claim order, (priority, run_at,
-- id), whatever order the tasks were written in
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES
  ('o5', 'qo', 'e', 9, 1), ('o4', 'qo', 'd', 1, 3), ('o3', 'qo', 'c', 1, 2),
  ('o2b', 'qo', 'b2', 0, 5), ('o2a', 'qo', 'b1', 0, 5), ('o1', 'qo', 'a', -1, 9);
SELECT id, priority, run_at FROM state_claim('tasks', 'qo', 'w', 30000, 10);

-- 30.19 a claim hands back the columns its statement reads (a store may
-- leave out the others): statements reading different columns, one after
-- the other, of one task and of several, each get theirs (30.13 reads
-- every column)
INSERT INTO tasks(id, queue, name, payload, priority, tags, execution_id)
  VALUES ('p1', 'qp', 'one', '{"a":1}', 1, '["x"]', 'e1'),
         ('p2', 'qp', 'two', '{"a":2}', 2, '["y"]', 'e2'),
         ('p3', 'qp', 'three', '{"a":3}', 3, '[]', NULL),
         ('p4', 'qp', 'four', NULL, 4, '["z"]', 'e4'),
         ('p5', 'qp', 'five', '{"a":5}', 5, '[]', NULL);
SELECT name, payload FROM state_claim('tasks', 'qp', 'w', 30000);
SELECT id, tags, execution_id, attempts FROM state_claim('tasks', 'qp', 'w', 30000);
SELECT name, payload, lease_owner FROM state_claim('tasks', 'qp', 'w2', 30000, 2);
SELECT id, queue, name, payload, state, priority, attempts, max_attempts,
       lease_owner, lease_token, tags, idempotency_key, result, error,
       partition_key, depends_on, outcome
  FROM state_claim('tasks', 'qp', 'w3', 30000, 2);
