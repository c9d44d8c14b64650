-- 49-redrive: state_redrive(dead_letters, tasks [, filter]) puts dead tasks
-- back as they were (payload, priority, tags, max_attempts, execution_id,
-- idempotency key), attempts reset, and deletes their dead letters; the
-- number brought back.  (Tokens are compared, not printed.)

CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@, dead_letters='dl');
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);
INSERT INTO ta(id, queue, name, payload, priority, tags, max_attempts, idempotency_key, execution_id) VALUES
  ('a', 'q1', 'send', '{"k":1}', 5, '["x"]', 1, 'ka', 'e1'),
  ('b', 'q2', 'send', '[1,2]', 0, '[]', 1, NULL, NULL),
  ('c', 'q3', 'send', '"s"', 2, '[]', 1, 'kc', NULL),
  ('d', 'q4', 'send', NULL, 0, '[]', 1, NULL, NULL);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('ta', 'q1', 'w', 60000);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('ta', 'q2', 'w', 60000);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('ta', 'q3', 'w', 60000);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('ta', 'q4', 'w', 60000);
SELECT state_fail('ta', k, x, 'boom ' || k) FROM temp.v ORDER BY k;
SELECT task_id, queue, reason FROM dl ORDER BY task_id;

-- 49.1 a filter on the queue: the dead task comes back pending, attempts
-- 0, error and completed_at cleared, its other columns as they were
SELECT state_redrive('dl', 'ta', '{"queue":"q1"}');
SELECT id, state, attempts, payload, priority, tags, max_attempts, idempotency_key, execution_id, error, result, completed_at IS NULL, lease_owner FROM ta WHERE id = 'a';
SELECT task_id FROM dl ORDER BY task_id;
SELECT id, attempts FROM state_claim('ta', 'q1', 'w', 60000);

-- 49.2 a task deleted since it died comes back from its dead letter, with
-- the same id and columns
DELETE FROM ta WHERE id = 'b';
SELECT state_redrive('dl', 'ta', '{"task_id":"b"}');
SELECT id, queue, name, state, attempts, payload, max_attempts FROM ta WHERE id = 'b';

-- 49.3 ... and when another task of the queue holds its idempotency key
-- now, it comes back without one (an INSERT would be skipped)
DELETE FROM ta WHERE id = 'c';
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('c2', 'q3', 'send', 'kc');
SELECT state_redrive('dl', 'ta', '{"task_id":"c"}');
SELECT id, state, payload, priority, idempotency_key FROM ta WHERE queue = 'q3' ORDER BY id;

-- 49.4 a task brought back already (not dead) is left alone, and so is its
-- dead letter: not counted
UPDATE ta SET state = 'pending' WHERE id = 'd';
SELECT state_redrive('dl', 'ta');
SELECT task_id FROM dl;
DELETE FROM dl WHERE task_id = 'd';

-- 49.5 inside a transaction: ROLLBACK undoes the redrive
INSERT INTO ta(id, queue, name, max_attempts) VALUES ('f', 'q5', 'send', 1);
SELECT state_fail('ta', 'f', (SELECT lease_token FROM state_claim('ta', 'q5', 'w', 60000)), 'x');
BEGIN;
SELECT state_redrive('dl', 'ta', '{"reason":"x"}');
SELECT state FROM ta WHERE id = 'f';
ROLLBACK;
SELECT state FROM ta WHERE id = 'f';
SELECT count(*) FROM dl;

-- 49.6 died_before: only those that died before it
SELECT state_redrive('dl', 'ta', '{"died_before":1}');
SELECT state_redrive('dl', 'ta', '{"died_before":9000000000000, "queue":"q5"}');
SELECT count(*) FROM dl;

-- 49.7 errors: the filter, the tables
SELECT state_redrive('dl', 'ta', 'not json');
SELECT state_redrive('dl', 'ta', '[1]');
SELECT state_redrive('dl', 'ta', 42);
SELECT state_redrive('dl', 'ta', '{"color":"red"}');
SELECT state_redrive('dl', 'ta', '{"queue":7}');
SELECT state_redrive('dl', 'ta', '{"died_before":"soon"}');
SELECT state_redrive('ta', 'ta');
SELECT state_redrive('dl', 'dl');
SELECT state_redrive('dl', 'nope');
