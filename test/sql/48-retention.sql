-- 48-retention: retain= removes, during normal use and in steps of at most
-- 100 rows, the rows past the period -- tasks completed, dead or cancelled,
-- executions completed, failed or cancelled, signals consumed, dead
-- letters -- and nothing else.  Store-neutral: a time of 1 is past any
-- period, 9000000000000 is not.  A step runs at an INSERT or a function
-- call on the table, when the last step removed a full batch or at least a
-- second ago (a new connection: at once).

.open retain.db
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@, retain='1d');
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@, dead_letters='dl', retain='7d');
CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@, retain='12h');
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@, retain='90s');

-- 48.1 the rows: written while nothing is past the period (the tasks and
-- executions pending, then moved to their final states; in one INSERT the
-- first row, which is not past it, runs the step)
INSERT INTO ta(id, queue, name, completed_at)
  WITH RECURSIVE n(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM n WHERE k < 250)
  SELECT printf('old%03d', k), 'old', 'job', 1 FROM n;
INSERT INTO ta(id, queue, name, completed_at) VALUES
  ('dead1', 'gone', 'job', 1), ('cancelled1', 'gone', 'job', 1),
  ('new1', 'new', 'job', 9000000000000), ('new2', 'new', 'job', 9000000000000),
  ('keep1', 'keep', 'job', 1), ('keep2', 'keep', 'job', 1);
UPDATE ta SET state = 'completed' WHERE queue IN ('old', 'new');
UPDATE ta SET state = 'dead' WHERE id = 'dead1';
UPDATE ta SET state = 'cancelled' WHERE id = 'cancelled1';
INSERT INTO ex(id, name, completed_at) VALUES
  ('e-run', 'wf', 1), ('e-done', 'wf', 1), ('e-failed', 'wf', 1),
  ('e-new', 'wf', 9000000000000);
UPDATE ex SET state = 'completed' WHERE id IN ('e-done', 'e-new');
UPDATE ex SET state = 'failed' WHERE id = 'e-failed';
UPDATE ex SET state = 'running' WHERE id = 'e-run';
INSERT INTO si(id, execution_id, name, consumed_at) VALUES
  ('s-open', 'e-run', 'go', NULL), ('s-old1', 'e-run', 'go', 1),
  ('s-old2', 'e-run', 'go', 1), ('s-new', 'e-run', 'go', 9000000000000);
INSERT INTO dl(id, task_id, queue, name, died_at) VALUES
  ('d-new', 't', 'q', 'job', 9000000000000), ('d-old1', 't', 'q', 'job', 1),
  ('d-old2', 't', 'q', 'job', 1);
SELECT queue, state, count(*) FROM ta GROUP BY 1, 2 ORDER BY 1, 2;
SELECT count(*) FROM ex;
SELECT count(*) FROM si;
SELECT count(*) FROM dl;

-- 48.2 a new connection: each claim removes one step of tasks (100, then
-- 100, then the last 52: the past ones in a final state), and the first
-- also the dead letters past theirs
.reopen
SELECT count(*) FROM state_claim('ta', 'none', 'w', 1000);
SELECT count(*) FROM ta;
SELECT id FROM dl ORDER BY id;
SELECT count(*) FROM state_claim('ta', 'none', 'w', 1000);
SELECT count(*) FROM ta;
SELECT count(*) FROM state_claim('ta', 'none', 'w', 1000);
SELECT queue, state, count(*) FROM ta GROUP BY 1, 2 ORDER BY 1, 2;

-- 48.3 an INSERT of an execution removes the finished ones past the period
-- (not the running one, whose completed_at was set by hand); state_take
-- the consumed signals past theirs (and takes the open one)
INSERT INTO ex(id, name) VALUES ('e-next', 'wf');
SELECT id, state FROM ex ORDER BY id;
SELECT state_take('si', 'e-run', 'go');
SELECT id, consumed_at IS NOT NULL FROM si ORDER BY id;

-- 48.4 options: a period with a unit or in milliseconds; anything else,
-- zero, or a table kind without a retention column is an error naming it
CREATE VIRTUAL TABLE r1 USING state_tasks(@OPTS:r1@, retain='500');
CREATE VIRTUAL TABLE r2 USING state_signals(@OPTS:r2@, retain=' 30m ');
CREATE VIRTUAL TABLE r3 USING state_tasks(@OPTS:r3@, retain='7w');
CREATE VIRTUAL TABLE r4 USING state_tasks(@OPTS:r4@, retain='0d');
CREATE VIRTUAL TABLE r5 USING state_tasks(@OPTS:r5@, retain='-1');
CREATE VIRTUAL TABLE r6 USING state_tasks(@OPTS:r6@, retain='');
CREATE VIRTUAL TABLE r7 USING state_kv(@OPTS:r7@, retain='1d');
CREATE VIRTUAL TABLE r8 USING state_tasks(@OPTS:r8@, retain='1d', retain='2d');
CREATE VIRTUAL TABLE r9 USING state_tasks(@OPTS:r9@, retain='99999999999d');
SELECT name FROM sqlite_schema WHERE name GLOB 'r[0-9]' ORDER BY name;
