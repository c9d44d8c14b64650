-- 43-metrics: state_metrics(tasks [, queue]), the queue metrics as a table:
-- tasks in every state in two queues (one paused), a paused queue without
-- tasks, every column checked exactly; times (oldest_pending_ms, the
-- completions by minute) by comparison, the store's clock being its own.
-- Then tasks moving between states and queues, and the error cases.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);

-- 43.1 nothing yet: no rows; a queue asked for gets a row of zeros
SELECT count(*) FROM state_metrics('tasks');
SELECT * FROM state_metrics('tasks', 'nope');

-- Queue mq-a: c1 completed, c3 claimed (long lease), c4 dead (one attempt,
-- failed), c2 claimed with a lease of 0 ms (expired at once), p1 and p2
-- pending and due, s1 scheduled (in 2096), f1 failed and x1 cancelled
-- (by UPDATE).  Claim order is by priority: c1, c3, c4, then c2.
INSERT INTO tasks(id, queue, name, priority, run_at, max_attempts) VALUES
  ('c1', 'mq-a', 'job', -5, 1000, 3),
  ('c3', 'mq-a', 'job', -4, 1000, 3),
  ('c4', 'mq-a', 'job', -3, 1000, 1),
  ('c2', 'mq-a', 'job', -2, 1000, 3),
  ('p1', 'mq-a', 'job', 0, 1000, 3),
  ('p2', 'mq-a', 'job', 1, 2000, 3),
  ('f1', 'mq-a', 'job', 0, 4000000000000, 3),
  ('x1', 'mq-a', 'job', 0, 4000000000000, 3);
INSERT INTO tasks(id, queue, name, run_at)
  VALUES ('s1', 'mq-a', 'job', 4000000000000);
SELECT id FROM state_claim('tasks', 'mq-a', 'w', 600000, 1);
SELECT state_complete('tasks', 'c1', (SELECT lease_token FROM tasks
                                      WHERE id = 'c1'));
SELECT id FROM state_claim('tasks', 'mq-a', 'w', 600000, 1);
SELECT id FROM state_claim('tasks', 'mq-a', 'w', 600000, 1);
SELECT state_fail('tasks', 'c4', (SELECT lease_token FROM tasks
                                  WHERE id = 'c4'), 'boom');
SELECT id FROM state_claim('tasks', 'mq-a', 'w', 0, 1);
UPDATE tasks SET state = 'failed' WHERE id = 'f1';
UPDATE tasks SET state = 'cancelled' WHERE id = 'x1';

-- Queue mq-b, paused: b1 pending (due), b2 completed 90 s before c1 (the
-- minute before the last), b3 completed two hours before (out of the
-- hour).  Queue mq-c: paused, no tasks.
INSERT INTO tasks(id, queue, name, run_at) VALUES ('b1', 'mq-b', 'job', 5000);
INSERT INTO tasks(id, queue, name, state, completed_at)
  SELECT 'b2', 'mq-b', 'job', 'completed', completed_at - 90000
    FROM tasks WHERE id = 'c1';
INSERT INTO tasks(id, queue, name, state, completed_at)
  SELECT 'b3', 'mq-b', 'job', 'completed', completed_at - 7200000
    FROM tasks WHERE id = 'c1';
SELECT state_pause('tasks', 'mq-b'), state_pause('tasks', 'mq-c');

-- 43.2 every queue with tasks or paused, in queue order: the counts
SELECT queue, pending, scheduled, claimed, expired, completed, failed, dead,
       cancelled, paused
  FROM state_metrics('tasks');

-- 43.3 oldest_pending_ms: now - the oldest due run_at (p1's 1000, b1's
-- 5000: decades), NULL without a due pending task; the two differ by 4000
-- when read in one statement (within the clock's step between the queues)
SELECT queue, typeof(oldest_pending_ms),
       oldest_pending_ms > 1000000000000
  FROM state_metrics('tasks');
SELECT (SELECT oldest_pending_ms FROM state_metrics('tasks', 'mq-a')) -
       (SELECT oldest_pending_ms FROM state_metrics('tasks', 'mq-b'))
       BETWEEN 3000 AND 5000;

-- 43.4 the completions: c1 in the last minute; b2 in the minute before
-- (index 58 of completed_per_minute, oldest first); b3 not at all
SELECT queue, completed_last_minute, json_array_length(completed_per_minute),
       completed_per_minute ->> '$[59]', completed_per_minute ->> '$[58]',
       (SELECT sum(value) FROM json_each(completed_per_minute))
  FROM state_metrics('tasks');

-- 43.5 one queue: its row only (a paused queue without tasks too)
SELECT * FROM state_metrics('tasks', 'mq-c');
SELECT queue, pending, completed, paused FROM state_metrics('tasks', 'mq-b');
SELECT queue, pending, claimed, expired FROM state_metrics('tasks')
  WHERE queue = 'mq-a';

-- 43.6 changes: resuming mq-c leaves it without a row; x1 moved to queue
-- mq-d counts there (cancelled), no longer in mq-a; a claimed task
-- completed moves from claimed to completed; a deleted task is no longer
-- counted, and a queue left without tasks has no row
SELECT state_resume('tasks', 'mq-c');
UPDATE tasks SET queue = 'mq-d' WHERE id = 'x1';
SELECT state_complete('tasks', 'c3', (SELECT lease_token FROM tasks
                                      WHERE id = 'c3'));
SELECT queue, pending, scheduled, claimed, expired, completed, failed, dead,
       cancelled, completed_last_minute, paused
  FROM state_metrics('tasks');
DELETE FROM tasks WHERE id = 'x1';
DELETE FROM tasks WHERE id = 'b3';
SELECT queue, completed, cancelled FROM state_metrics('tasks');

-- 43.7 the errors: a missing table, a table of another kind, a first
-- argument that is not a name, no argument, a NULL or BLOB queue
SELECT * FROM state_metrics('nosuch');
SELECT * FROM state_metrics('kv');
SELECT * FROM state_metrics(NULL);
SELECT * FROM state_metrics;
SELECT * FROM state_metrics('tasks', NULL);
SELECT * FROM state_metrics('tasks', x'6d71');
-- a number as queue is its text (as the other functions take it)
SELECT queue, pending FROM state_metrics('tasks', 7);

-- 43.8 with an index of completed_at (indexes=, as retain= makes one): the
-- same completions by minute (the local store reads them through it)
CREATE VIRTUAL TABLE ti USING state_tasks(@OPTS:ix@, indexes='completed_at');
INSERT INTO ti(id, queue, name) VALUES ('i1', 'iq', 'job');
SELECT count(*) FROM state_claim('ti', 'iq', 'w', 600000, 1);
SELECT state_complete('ti', 'i1', (SELECT lease_token FROM ti));
-- one completion in each minute before, 70 of them: 59 in the hour
INSERT INTO ti(id, queue, name, state, completed_at)
  WITH RECURSIVE k(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM k WHERE v < 70)
  SELECT 'k' || v, 'iq', 'job', 'completed',
         (SELECT completed_at FROM ti WHERE id = 'i1') - v * 60000 - 30000
    FROM k;
SELECT queue, completed, completed_last_minute,
       (SELECT group_concat(value) FROM json_each(completed_per_minute))
  FROM state_metrics('ti');

-- 43.9 a dashboard view: refused with trusted_schema off, as the tables
-- (20-directonly), and read with trusted_schema on
CREATE VIEW board AS SELECT count(*) FROM state_metrics('tasks');
.trusted_schema off
SELECT * FROM board;
.trusted_schema on
SELECT * FROM board;

-- 43.10 a claimed task cancelled or completed by UPDATE (its lease left
-- as it was): counted in its new state, no longer as claimed
INSERT INTO tasks(id, queue, name) VALUES ('e1', 'mq-e', 'job'),
  ('e2', 'mq-e', 'job');
SELECT count(*) FROM state_claim('tasks', 'mq-e', 'w', 600000, 2);
UPDATE tasks SET state = 'cancelled' WHERE id = 'e1';
UPDATE tasks SET state = 'completed', completed_at = updated_at
  WHERE id = 'e2';
SELECT id, lease_expires_at IS NOT NULL FROM tasks WHERE queue = 'mq-e'
  ORDER BY id;
SELECT queue, pending, claimed, expired, completed, cancelled,
       completed_last_minute
  FROM state_metrics('tasks', 'mq-e');

-- 43.11 waiting (depends_on): counted apart, neither pending nor
-- scheduled; once its dependency completes, pending
INSERT INTO tasks(id, queue, name) VALUES ('w1', 'mq-w', 'job');
INSERT INTO tasks(id, queue, name, depends_on) VALUES
  ('w2', 'mq-w', 'job', '["w1"]'), ('w3', 'mq-w2', 'job', '["w1"]');
SELECT queue, pending, scheduled, waiting FROM state_metrics('tasks')
 WHERE queue LIKE 'mq-w%' ORDER BY queue;
SELECT count(*) FROM state_claim('tasks', 'mq-w', 'w', 600000, 5);
SELECT state_complete('tasks', 'w1', (SELECT lease_token FROM tasks WHERE id = 'w1'));
SELECT queue, pending, waiting, completed FROM state_metrics('tasks')
 WHERE queue LIKE 'mq-w%' ORDER BY queue;
