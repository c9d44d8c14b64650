-- 28-depends: dependencies (depends_on, a JSON array of task ids).  A task
-- inserted with a dependency not completed is 'waiting' (never claimed,
-- counted apart by state_metrics) until all of them are completed, then
-- 'pending'; when one dies, fails, is cancelled or deleted, it is
-- cancelled, and so are the tasks waiting for it.  Store-neutral; every
-- case uses queues of its own.

CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@, dead_letters='dead_letters');

-- 28.1 fan-in of two: waiting until both are completed, in either order;
-- a waiting task is not claimed and state_metrics counts it apart
INSERT INTO tasks(id, queue, name) VALUES ('d1a', 'd1', 'a'), ('d1b', 'd1', 'b');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d1c', 'd1', 'c', '["d1a","d1b"]');
SELECT id, state FROM tasks WHERE queue = 'd1' ORDER BY id;
SELECT pending, waiting FROM state_metrics('tasks', 'd1');
SELECT id FROM state_claim('tasks', 'd1', 'w1', 60000, 10) ORDER BY id;
SELECT state_complete('tasks', 'd1b', (SELECT lease_token FROM tasks WHERE id = 'd1b'));
SELECT id, state FROM tasks WHERE id = 'd1c';
SELECT count(*) FROM state_claim('tasks', 'd1', 'w1', 60000, 10);
SELECT state_complete('tasks', 'd1a', (SELECT lease_token FROM tasks WHERE id = 'd1a'));
SELECT id, state FROM tasks WHERE id = 'd1c';
SELECT pending, waiting FROM state_metrics('tasks', 'd1');
SELECT id FROM state_claim('tasks', 'd1', 'w1', 60000, 10);

-- 28.2 the diamond: A; B and C after A; D after B and C.  Each claim takes
-- every runnable task and completes it: three rounds, in dependency order
INSERT INTO tasks(id, queue, name) VALUES ('d2a', 'd2', 'A');
INSERT INTO tasks(id, queue, name, depends_on) VALUES
  ('d2b', 'd2', 'B', '["d2a"]'), ('d2c', 'd2', 'C', '["d2a"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d2d', 'd2', 'D', '["d2b", "d2c"]');
CREATE TEMP TABLE rounds(r INTEGER, id TEXT, token INTEGER);
INSERT INTO rounds SELECT 1, id, lease_token FROM state_claim('tasks', 'd2', 'w1', 60000, 10);
SELECT state_complete('tasks', id, token) FROM rounds WHERE r = 1;
INSERT INTO rounds SELECT 2, id, lease_token FROM state_claim('tasks', 'd2', 'w1', 60000, 10);
SELECT state_complete('tasks', json_group_array(json_object('id', id, 'token', token)))
  FROM rounds WHERE r = 2;
INSERT INTO rounds SELECT 3, id, lease_token FROM state_claim('tasks', 'd2', 'w1', 60000, 10);
SELECT state_complete('tasks', id, token) FROM rounds WHERE r = 3;
SELECT r, group_concat(id, ' ') FROM (SELECT r, id FROM rounds ORDER BY r, id) GROUP BY r;
SELECT count(*) FROM state_claim('tasks', 'd2', 'w1', 60000, 10);

-- 28.3 fan-in of 50, completed through the list form of state_complete:
-- the dependent is pending after the last one only
INSERT INTO tasks(id, queue, name)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 50)
  SELECT printf('d3-%02d', v), 'd3', 'part' FROM i;
INSERT INTO tasks(id, queue, name, depends_on)
  SELECT 'd3-all', 'd3', 'join', json_group_array(id) FROM tasks WHERE queue = 'd3';
SELECT id, state, json_array_length(depends_on) FROM tasks WHERE id = 'd3-all';
CREATE TEMP TABLE d3(id TEXT, token INTEGER);
INSERT INTO d3 SELECT id, lease_token FROM state_claim('tasks', 'd3', 'w1', 60000, 100);
SELECT count(*) FROM d3;
SELECT state_complete('tasks', (SELECT json_group_array(json_object('id', id, 'token', token))
                                  FROM d3 WHERE id <> 'd3-50'));
SELECT state FROM tasks WHERE id = 'd3-all';
SELECT state_complete('tasks', (SELECT json_group_array(json_object('id', id, 'token', token))
                                  FROM d3 WHERE id = 'd3-50'));
SELECT state FROM tasks WHERE id = 'd3-all';

-- 28.4 the fused form: a claim that completes the last dependency (its
-- options.complete) claims the dependent in the same call
INSERT INTO tasks(id, queue, name) VALUES ('d4a', 'd4', 'a');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d4b', 'd4', 'b', '["d4a"]');
SELECT id FROM state_claim('tasks', 'd4', 'w1', 60000, 10);
SELECT outcome, id FROM state_claim('tasks', 'd4', 'w1', 60000, 10,
  json_object('complete', json_array(json_object('id', 'd4a', 'token',
    (SELECT lease_token FROM tasks WHERE id = 'd4a')))));

-- 28.5 a dependency that fails for good (state_fail at max_attempts): its
-- dependent is cancelled, and so is the task that waits for that one (the
-- cascade); d5b also waits for d5x, which stays pending
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('d5a', 'd5', 'a', 1), ('d5x', 'd5x', 'x', 3);
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d5b', 'd5', 'b', '["d5a","d5x"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d5c', 'd5', 'c', '["d5b"]');
SELECT count(*) FROM state_claim('tasks', 'd5', 'w1', 60000, 10);
SELECT state_fail('tasks', 'd5a', (SELECT lease_token FROM tasks WHERE id = 'd5a'), 'broken');
SELECT id, state, error, completed_at IS NOT NULL FROM tasks WHERE queue = 'd5' ORDER BY id;
SELECT task_id, reason FROM dead_letters WHERE task_id LIKE 'd5%';
SELECT count(*) FROM state_claim('tasks', 'd5', 'w1', 60000, 10);

-- 28.6 a dependency whose lease expires at max_attempts dies in the next
-- claim of its queue: its dependent is cancelled in that same step
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('d6a', 'd6', 'a', 1);
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d6b', 'd6b', 'b', '["d6a"]');
SELECT id FROM state_claim('tasks', 'd6', 'w1', 60000, 10);
SELECT state_renew('tasks', 'd6a', (SELECT lease_token FROM tasks WHERE id = 'd6a'), 0) IS NOT NULL;
SELECT count(*) FROM state_claim('tasks', 'd6', 'w1', 60000, 10);
SELECT id, state, error FROM tasks WHERE id IN ('d6a', 'd6b') ORDER BY id;
SELECT task_id, reason FROM dead_letters WHERE task_id = 'd6a';

-- 28.7 cancellation is an UPDATE: a dependency cancelled (pending or
-- claimed) cancels its dependents; set 'completed' by hand, it releases
-- them like state_complete
INSERT INTO tasks(id, queue, name) VALUES ('d7a', 'd7', 'a'), ('d7p', 'd7', 'p');
INSERT INTO tasks(id, queue, name, depends_on) VALUES
  ('d7b', 'd7', 'b', '["d7a"]'), ('d7q', 'd7', 'q', '["d7p"]');
UPDATE tasks SET state = 'cancelled' WHERE id = 'd7a';
UPDATE tasks SET state = 'completed' WHERE id = 'd7p';
SELECT id, state, error FROM tasks WHERE queue = 'd7' ORDER BY id;

-- 28.8 a dependency deleted before it ended: its dependents are cancelled;
-- deleting a completed one changes nothing
INSERT INTO tasks(id, queue, name) VALUES ('d8a', 'd8', 'a'), ('d8c', 'd8', 'c');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d8b', 'd8', 'b', '["d8a"]');
DELETE FROM tasks WHERE id = 'd8a';
SELECT id, state, error FROM tasks WHERE id = 'd8b';
UPDATE tasks SET state = 'completed' WHERE id = 'd8c';
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d8d', 'd8', 'd', '["d8c"]');
DELETE FROM tasks WHERE id = 'd8c';
SELECT id, state FROM tasks WHERE id = 'd8d';

-- 28.9 the dependencies' states at insert: all completed -> pending at
-- once; one dead or cancelled -> inserted cancelled, naming the first such
-- one; '[]' waits for nothing; a row inserted in another state (a copy of
-- a claimed task) keeps it
INSERT INTO tasks(id, queue, name) VALUES ('d9ok', 'd9', 'x');
UPDATE tasks SET state = 'completed' WHERE id = 'd9ok';
INSERT INTO tasks(id, queue, name, depends_on) VALUES
  ('d9a', 'd9', 'a', '["d9ok"]'),
  ('d9b', 'd9', 'b', '["d9ok","d5a","d7a"]'),
  ('d9c', 'd9', 'c', '[]'),
  ('d9d', 'd9', 'd', '["d1a"]');
INSERT INTO tasks(id, queue, name, state, depends_on) VALUES ('d9e', 'd9', 'e', 'claimed', '["d5b"]');
SELECT id, state, error FROM tasks WHERE queue = 'd9' ORDER BY id;

-- 28.10 a waiting task may be changed by UPDATE (not its depends_on), and
-- made pending by hand; UPDATE cannot make a task waiting
INSERT INTO tasks(id, queue, name) VALUES ('d10a', 'd10', 'a');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('d10b', 'd10', 'b', '["d10a"]');
UPDATE tasks SET priority = 5 WHERE id = 'd10b';
SELECT id, state, priority FROM tasks WHERE id = 'd10b';
UPDATE tasks SET depends_on = '["d10a","d1a"]' WHERE id = 'd10b';
UPDATE tasks SET depends_on = NULL WHERE id = 'd10b';
UPDATE tasks SET state = 'waiting' WHERE id = 'd10a';
UPDATE tasks SET state = 'pending' WHERE id = 'd10b';
SELECT id, state FROM tasks WHERE queue = 'd10' ORDER BY id;

-- 28.11 errors: each names what is wrong, and nothing is written
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e1', 'e', 'x', '["nope"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e2', 'e', 'x', '["d1a","nope"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e3', 'e', 'x', '["e3"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e4', 'e', 'x', '["d1a","d1b","d1a"]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e5', 'e', 'x', '{"d1a":1}');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e6', 'e', 'x', '"d1a"');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e7', 'e', 'x', '["d1a",7]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e8', 'e', 'x', '["d1a",""]');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('e9', 'e', 'x', '["d1a"');
INSERT INTO tasks(id, queue, name, state) VALUES ('e10', 'e', 'x', 'waiting');
INSERT INTO tasks(id, queue, name, depends_on)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 1001)
  SELECT 'e11', 'e', 'x', json_group_array('t' || v) FROM i;
SELECT count(*) FROM tasks WHERE queue = 'e';
SELECT count(*) FROM tasks WHERE id LIKE 'e%';

-- 28.12 a dependency that completed and was set back to pending (run
-- again) does not hold its dependents again
INSERT INTO tasks(id, queue, name) VALUES ('f1a', 'f1', 'a'), ('f1b', 'f1', 'b');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('f1c', 'f1', 'c', '["f1a","f1b"]');
UPDATE tasks SET state = 'completed' WHERE id = 'f1a';
UPDATE tasks SET state = 'pending' WHERE id = 'f1a';
SELECT id, state FROM tasks WHERE queue = 'f1' ORDER BY id;
UPDATE tasks SET state = 'completed' WHERE id = 'f1b';
SELECT id, state FROM tasks WHERE queue = 'f1' ORDER BY id;

-- 28.13 a waiting task deleted and inserted again under its id waits only
-- for its new dependencies; a dependency removed after it completed holds
-- nothing
INSERT INTO tasks(id, queue, name) VALUES ('g1a', 'g1', 'a'), ('g1b', 'g1', 'b'), ('g1d', 'g1', 'd');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('g1c', 'g1', 'c', '["g1a"]');
DELETE FROM tasks WHERE id = 'g1c';
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('g1c', 'g1', 'c', '["g1b","g1d"]');
UPDATE tasks SET state = 'completed' WHERE id = 'g1d';
DELETE FROM tasks WHERE id = 'g1d';
SELECT id, state FROM tasks WHERE queue = 'g1' ORDER BY id;
UPDATE tasks SET state = 'completed' WHERE id = 'g1b';
SELECT id, state FROM tasks WHERE queue = 'g1' ORDER BY id;

-- 28.14 a transaction rolled back takes back what its completions and
-- cancellations did to the dependents (and a SAVEPOINT too): completed
-- again after it, the dependency releases them
INSERT INTO tasks(id, queue, name) VALUES ('h1a', 'h1', 'a');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('h1b', 'h1', 'b', '["h1a"]');
CREATE TEMP TABLE h1 AS SELECT id, lease_token FROM state_claim('tasks', 'h1', 'w', 60000);
BEGIN;
SELECT state_complete('tasks', id, lease_token) FROM h1;
SELECT id, state FROM tasks WHERE queue = 'h1' ORDER BY id;
ROLLBACK;
SELECT id, state FROM tasks WHERE queue = 'h1' ORDER BY id;
SELECT state_complete('tasks', id, lease_token) FROM h1;
SELECT id, state FROM tasks WHERE queue = 'h1' ORDER BY id;
INSERT INTO tasks(id, queue, name, max_attempts) VALUES ('h2a', 'h2', 'a', 1);
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('h2b', 'h2', 'b', '["h2a"]');
CREATE TEMP TABLE h2 AS SELECT id, lease_token FROM state_claim('tasks', 'h2', 'w', 60000);
BEGIN;
SAVEPOINT s;
SELECT state_fail('tasks', id, lease_token, 'boom') FROM h2;
ROLLBACK TO s;
COMMIT;
SELECT id, state FROM tasks WHERE queue = 'h2' ORDER BY id;
SELECT state_complete('tasks', id, lease_token) FROM h2;
SELECT id, state FROM tasks WHERE queue = 'h2' ORDER BY id;
BEGIN;
INSERT INTO tasks(id, queue, name) VALUES ('h3a', 'h3', 'a');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('h3b', 'h3', 'b', '["h3a"]');
ROLLBACK;
INSERT INTO tasks(id, queue, name) VALUES ('h3a', 'h3', 'a');
INSERT INTO tasks(id, queue, name, depends_on) VALUES ('h3c', 'h3', 'c', '["h3a"]');
UPDATE tasks SET state = 'completed' WHERE id = 'h3a';
SELECT id, state FROM tasks WHERE queue = 'h3' ORDER BY id;
