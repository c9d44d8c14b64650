-- 42-partitions: fairness across partitions (partition_key).  Inside a
-- queue the partitions with a runnable task take turns -- the NULL
-- partition, then the keys in order, from the one after the partition
-- served last -- and inside a partition the usual (priority, run_at, id)
-- order; options.limits and options.rates take "partition:<queue>" (per
-- partition of that queue).  Store-neutral; every case uses queues of its
-- own.  (Keys are lowercase ASCII: the same order under any collation.)

CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@, dead_letters='dl');
CREATE TEMP TABLE log(seq INTEGER PRIMARY KEY, id, pk);

-- 42.1 a backlog of one partition does not starve another: six tasks of
-- "a", then two of "b": they alternate while both have tasks
INSERT INTO tasks(id, queue, name, partition_key, run_at)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 6)
  SELECT 'a' || v, 'p1', 'job', 'a', v FROM i;
INSERT INTO tasks(id, queue, name, partition_key, run_at) VALUES
  ('b1', 'p1', 'job', 'b', 10), ('b2', 'p1', 'job', 'b', 11);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p1', 'w', 60000);
SELECT group_concat(id, ' ') FROM (SELECT id FROM temp.log ORDER BY seq);
SELECT count(*) FROM state_claim('tasks', 'p1', 'w', 60000);
DELETE FROM temp.log;

-- 42.2 the tasks without a partition_key are one partition of their own,
-- first in the cycle; a new partition takes its turn in key order
INSERT INTO tasks(id, queue, name, partition_key, run_at) VALUES
  ('n1', 'p2', 'job', NULL, 1), ('n2', 'p2', 'job', NULL, 2),
  ('n3', 'p2', 'job', NULL, 3), ('c1', 'p2', 'job', 'c', 4),
  ('c2', 'p2', 'job', 'c', 5), ('a1x', 'p2', 'job', 'a', 6);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO tasks(id, queue, name, partition_key, run_at) VALUES ('b1x', 'p2', 'job', 'b', 7);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p2', 'w', 60000);
SELECT group_concat(id, ' ') FROM (SELECT id FROM temp.log ORDER BY seq);
DELETE FROM temp.log;

-- 42.3 priority orders the tasks inside a partition, not the partitions:
-- the turn goes to "b" although "a" holds the better priorities
INSERT INTO tasks(id, queue, name, partition_key, priority, run_at) VALUES
  ('a-p9', 'p3', 'job', 'a', 9, 1), ('a-p0', 'p3', 'job', 'a', 0, 2),
  ('a-p1', 'p3', 'job', 'a', 1, 3), ('b-p5', 'p3', 'job', 'b', 5, 4),
  ('b-p2', 'p3', 'job', 'b', 2, 5);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p3', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p3', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p3', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p3', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', 'p3', 'w', 60000);
SELECT group_concat(id, ' ') FROM (SELECT id FROM temp.log ORDER BY seq);
DELETE FROM temp.log;

-- 42.4 a claim of n > 1 takes one task of each partition in turn: 7 of
-- three partitions of 4 tasks each are 3, 2, 2; the next claim goes on
-- from where this one stopped
INSERT INTO tasks(id, queue, name, partition_key, run_at)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 12)
  SELECT 'p4-' || v, 'p4', 'job', char(96 + (v - 1) / 4 + 1), v FROM i;
SELECT partition_key, count(*), min(id) FROM state_claim('tasks', 'p4', 'w', 60000, 7)
 GROUP BY partition_key ORDER BY partition_key;
SELECT id, partition_key FROM state_claim('tasks', 'p4', 'w', 60000, 2) ORDER BY id;

-- 42.5 "partition:<queue>" in limits: at most 1 claimed task per partition
-- of the queue; completing one frees its partition only
INSERT INTO tasks(id, queue, name, partition_key, run_at) VALUES
  ('l-a1', 'p5', 'job', 'a', 1), ('l-a2', 'p5', 'job', 'a', 2),
  ('l-b1', 'p5', 'job', 'b', 3), ('l-b2', 'p5', 'job', 'b', 4),
  ('l-n1', 'p5', 'job', NULL, 5), ('l-n2', 'p5', 'job', NULL, 6);
SELECT id FROM state_claim('tasks', 'p5', 'w', 60000, 10, '{"limits":{"partition:p5":1}}') ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'p5', 'w', 60000, 10, '{"limits":{"partition:p5":1}}');
SELECT state_complete('tasks', id, lease_token) FROM tasks WHERE id = 'l-b1';
SELECT id FROM state_claim('tasks', 'p5', 'w', 60000, 10, '{"limits":{"partition:p5":1}}');
-- a limit of another queue does not apply; one of 0 claims nothing
SELECT id FROM state_claim('tasks', 'p5', 'w', 60000, 1, '{"limits":{"partition:zz":0}}');
SELECT count(*) FROM state_claim('tasks', 'p5', 'w', 60000, 1, '{"limits":{"partition:p5":0}}');

-- 42.6 "partition:<queue>" in rates: at most 2 claims per partition in the
-- hour; completing them frees nothing
INSERT INTO tasks(id, queue, name, partition_key, run_at)
  WITH RECURSIVE i(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM i WHERE v < 8)
  SELECT 'r-' || v, 'p6', 'job', CASE WHEN v <= 5 THEN 'a' ELSE 'b' END, v FROM i;
SELECT partition_key, count(*) FROM state_claim('tasks', 'p6', 'w', 60000, 10, '{"rates":{"partition:p6":"2/1h"}}')
 GROUP BY partition_key ORDER BY partition_key;
SELECT count(state_complete('tasks', id, lease_token)) FROM tasks WHERE queue = 'p6' AND state = 'claimed';
SELECT count(*) FROM state_claim('tasks', 'p6', 'w', 60000, 10, '{"rates":{"partition:p6":"2/1h"}}');
-- a queue without partitions: its tasks are one partition (NULL)
INSERT INTO tasks(id, queue, name, run_at) VALUES ('u1', 'p6u', 'job', 1), ('u2', 'p6u', 'job', 2), ('u3', 'p6u', 'job', 3);
SELECT id FROM state_claim('tasks', 'p6u', 'w', 60000, 10, '{"rates":{"partition:p6u":"2/1h"}}') ORDER BY id;
SELECT id FROM state_claim('tasks', 'p6u', 'w', 60000, 10, '{"limits":{"partition:p6u":2}}') ORDER BY id;

-- 42.7 several queues: each takes turns among its own partitions, and the
-- queues merge by (priority, run_at, id) of their next tasks
INSERT INTO tasks(id, queue, name, partition_key, priority, run_at) VALUES
  ('m1-a', 'm1', 'job', 'a', 5, 1), ('m1-b', 'm1', 'job', 'b', 5, 2),
  ('m2-x', 'm2', 'job', NULL, 1, 3), ('m2-y', 'm2', 'job', NULL, 7, 4);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', '["m1","m2"]', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', '["m1","m2"]', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', '["m1","m2"]', 'w', 60000);
INSERT INTO temp.log(id, pk) SELECT id, partition_key FROM state_claim('tasks', '["m1","m2"]', 'w', 60000);
SELECT group_concat(id, ' ') FROM (SELECT id FROM temp.log ORDER BY seq);
DELETE FROM temp.log;

-- 42.8 partitioned tasks are pending like any other: counted by
-- state_metrics, found by a scan, not claimed before their run_at nor once
-- cancelled; an UPDATE moves a task to another partition
INSERT INTO tasks(id, queue, name, partition_key, run_at) VALUES
  ('s1', 'p8', 'job', 'a', 1), ('s2', 'p8', 'job', 'b', 2),
  ('s3', 'p8', 'job', 'b', 4102444800000), ('s4', 'p8', 'job', 'c', 3);
SELECT pending, scheduled FROM state_metrics('tasks', 'p8');
SELECT id FROM tasks WHERE queue = 'p8' AND state = 'pending' ORDER BY id;
UPDATE tasks SET state = 'cancelled' WHERE id = 's4';
UPDATE tasks SET partition_key = 'c' WHERE id = 's1';
SELECT id, partition_key FROM state_claim('tasks', 'p8', 'w', 60000, 10) ORDER BY id;
SELECT count(*) FROM state_claim('tasks', 'p8', 'w', 60000, 10);

-- 42.9 a dead task comes back by state_redrive with its partition, also
-- when it was deleted and comes back from its dead letter
INSERT INTO tasks(id, queue, name, partition_key, max_attempts) VALUES
  ('d1', 'p9', 'job', 'tenant-1', 1), ('d2', 'p9', 'job', 'tenant-2', 1);
SELECT count(state_fail('tasks', id, lease_token, 'boom')) FROM state_claim('tasks', 'p9', 'w', 60000, 2);
SELECT task_id, task ->> '$.partition_key' FROM dl ORDER BY task_id;
DELETE FROM tasks WHERE id = 'd2';
SELECT state_redrive('dl', 'tasks', '{"queue":"p9"}');
SELECT id, state, partition_key, attempts FROM tasks WHERE queue = 'p9' ORDER BY id;
SELECT id, partition_key FROM state_claim('tasks', 'p9', 'w', 60000, 2) ORDER BY id;

-- 42.10 malformed partition limits and rates
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"limits":{"partition:p1":-1}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"limits":{"partition:p1":"2"}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"limits":{"partition:p1":1.5}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"rates":{"partition:p1":"x/1s"}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"rates":{"partition:p1":5}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"rates":{"partition:p1":"5/0s"}}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"limits":["partition:p1"]}');
SELECT * FROM state_claim('tasks', 'p1', 'w', 60000, 1, '{"rates":"partition:p1"}');
