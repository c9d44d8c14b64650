-- 30-rates: state_claim's options.rates, "at most n claims in any window
-- of the period" per task name or per queue, counted by the store across
-- processes: tasks over the rate stay pending and are claimed once the
-- window allows.  Store-neutral; every case uses queues of its own.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);

-- 30r.1 a rate by task name: three "job" claims in the hour, the other
-- names are not limited; the next claim gets no more jobs
INSERT INTO tasks(queue, name, run_at)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 10)
  SELECT 'r1', 'job', v FROM i;
INSERT INTO tasks(queue, name, run_at) VALUES ('r1', 'other', 20), ('r1', 'other', 21);
SELECT name, count(*) FROM state_claim('tasks', 'r1', 'w1', 60000, 20,
                                       '{"rates":{"job":"3/1h"}}')
 GROUP BY name ORDER BY name;
SELECT count(*) FROM state_claim('tasks', 'r1', 'w2', 60000, 20,
                                 '{"rates":{"job":"3/1h"}}');
SELECT state, count(*) FROM tasks WHERE queue = 'r1' GROUP BY state ORDER BY state;

-- 30r.2 a rate counts claims, not leases: completing the claimed jobs
-- frees nothing (a limit would), and n = 1 claims stop at the rate too
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('r2a', 'r2', 'x', 1), ('r2b', 'r2', 'x', 2), ('r2c', 'r2', 'x', 3);
SELECT id FROM state_claim('tasks', 'r2', 'w1', 60000, 1, '{"rates":{"queue:r2":"2/1h"}}');
SELECT id FROM state_claim('tasks', 'r2', 'w1', 60000, 1, '{"rates":{"queue:r2":"2/1h"}}');
SELECT state_complete('tasks', id, lease_token) FROM tasks
 WHERE queue = 'r2' AND state = 'claimed' ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'r2', 'w1', 60000, 1, '{"rates":{"queue:r2":"2/1h"}}');
-- the same queue with a limit instead: its two leases are gone, so it goes
SELECT id FROM state_claim('tasks', 'r2', 'w1', 60000, 1, '{"limits":{"queue:r2":2}}');

-- 30r.3 the window moves: two claims per 1500 ms; after it, two more
-- (the local store runs on the test's pinned clock, moved here; Redis and
-- PostgreSQL on their own)
INSERT INTO tasks(queue, name, run_at)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 6)
  SELECT 'r3', 'tick', v FROM i;
SELECT count(*) FROM state_claim('tasks', 'r3', 'w1', 60000, 10, '{"rates":{"tick":"2/1500ms"}}');
SELECT count(*) FROM state_claim('tasks', 'r3', 'w1', 60000, 10, '{"rates":{"tick":"2/1500ms"}}');
.system sleep 1.6
.setenv STATEVTAB_TEST_CLOCK_MS 1700000001600
SELECT count(*) FROM state_claim('tasks', 'r3', 'w1', 60000, 10, '{"rates":{"tick":"2/1500ms"}}');
SELECT count(*) FROM state_claim('tasks', 'r3', 'w1', 60000, 10, '{"rates":{"tick":"2/1500ms"}}');

-- 30r.4 over a list of queues: the rated queue gives its one claim, the
-- other queue all of its tasks; a rate of 0 claims none of that queue
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('r4a1', 'r4a', 'y', 1), ('r4a2', 'r4a', 'y', 2), ('r4a3', 'r4a', 'y', 3),
  ('r4b1', 'r4b', 'y', 4), ('r4b2', 'r4b', 'y', 5);
SELECT id FROM state_claim('tasks', '["r4a","r4b"]', 'w1', 60000, 10,
                           '{"rates":{"queue:r4a":"1/1h"}}') ORDER BY id;
SELECT count(*) FROM state_claim('tasks', '["r4a","r4b"]', 'w1', 60000, 10,
                                 '{"rates":{"queue:r4a":"0/1h"}}');

-- 30r.5 rates and limits together, and keys that match nothing
INSERT INTO tasks(id, queue, name, run_at) VALUES
  ('r5a', 'r5', 'z', 1), ('r5b', 'r5', 'z', 2), ('r5c', 'r5', 'z', 3),
  ('r5d', 'r5', 'z', 4), ('r5e', 'r5', 'w', 5);
SELECT id FROM state_claim('tasks', 'r5', 'w1', 60000, 10,
  '{"rates":{"z":"3/1h", "nope":"0/1s", "queue:elsewhere":"0/1s"}, "limits":{"z":2}}')
 ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'r5', 'w1', 60000, 10,
  '{"rates":{"z":"3/1h"}}');
SELECT state_complete('tasks', id, lease_token) FROM tasks
 WHERE id IN ('r5a', 'r5b') ORDER BY id;
SELECT id FROM state_claim('tasks', 'r5', 'w1', 60000, 10,
  '{"rates":{"z":"3/1h"}, "limits":{"z":2}}');
SELECT count(*) FROM state_claim('tasks', 'r5', 'w1', 60000, 10,
  '{"rates":{"z":"3/1h"}}');

-- 30r.6 with complete: the completions happen, the rate still holds
SELECT outcome, id FROM state_claim('tasks', 'r5', 'w1', 60000, 10,
  json_object('rates', json('{"z":"3/1h"}'), 'complete',
    json_array(json_object('id', 'r5c', 'token',
                           (SELECT lease_token FROM tasks WHERE id = 'r5c')))));
SELECT id, state FROM tasks WHERE queue = 'r5' ORDER BY id;

-- 30r.7 malformed rates: errors that name the rate
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":[1]}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":5}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"5"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"x/1s"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"-1/1s"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"5/0s"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"5/1w"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"/1s"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"queue:r7":"5/1s/2"}}');
SELECT * FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"99999999999/1s"}}');
-- spaces around the period are fine, as in retain=
INSERT INTO tasks(queue, name) VALUES ('r7', 'job');
SELECT count(*) FROM state_claim('tasks', 'r7', 'w', 1000, 1, '{"rates":{"job":"5/ 1s "}}');
