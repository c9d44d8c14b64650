-- 41-schedules: recurring tasks.  A state_schedules row (cron expression,
-- time zone, the task to make) becomes one task per occurrence, made by the
-- claims (and state_wait) of the tasks table that finds it; next_run is
-- computed on INSERT/UPDATE; state_cron_next(cron, tz, after_ms) exposes
-- the computation.  The clock is pinned at 1700000000000
-- (2023-11-14 22:13:20 UTC).

CREATE VIRTUAL TABLE schedules USING state_schedules(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE TEMP VIEW ts AS SELECT queue, name, payload, state, priority,
  datetime(run_at / 1000, 'unixepoch') AS run_at, max_attempts, tags, attempts
  FROM ta;
CREATE TEMP TABLE at(label TEXT, ms INTEGER);
-- Fixed instants (UTC) for state_cron_next.
INSERT INTO temp.at VALUES ('2024-01-01', 1704067200000);

-- 41.1 an INSERT with the defaults: timezone 'UTC', queue 'default',
-- priority 0, max_attempts 3, tags '[]', enabled 1, next_run the first
-- occurrence after now, last_run NULL
INSERT INTO schedules(name, cron, task, payload) VALUES ('hourly', '0 * * * *', 'report', '{"k":1}');
SELECT name, cron, timezone, queue, task, payload, priority, max_attempts, tags, enabled, last_run, datetime(next_run / 1000, 'unixepoch'), created_at, updated_at FROM schedules;

-- 41.2 state_cron_next: fields, lists, ranges, steps, names, macros,
-- seconds; the result is the first occurrence strictly after after_ms
WITH t(x) AS (VALUES
  ('* * * * *'), ('0 0 * * *'), ('*/15 * * * *'), ('5,10 3-4 * * *'),
  ('0 12 * JAN-MAR MON'), ('0 9 * * mon-fri'), ('0 0 1 */3 *'), ('30 2 15 jun *'),
  ('0 0 * * 7'), ('0 0 * * 0'), ('10-50/20 * * * *'), ('7/20 * * * *'),
  ('@yearly'), ('@annually'), ('@monthly'), ('@weekly'), ('@daily'),
  ('@midnight'), ('@hourly'), ('* * * * * *'), ('30 0 0 * * *'), ('*/10 * * * * *'))
SELECT x, datetime(state_cron_next(x, 'UTC', 1704067200000) / 1000, 'unixepoch') FROM t;
-- exactly at an occurrence: the next one, not the same
SELECT datetime(state_cron_next('0 0 * * *', 'UTC', 1704067200000) / 1000, 'unixepoch'),
       state_cron_next('* * * * * *', NULL, 1704067200000) - 1704067200000,
       state_cron_next('* * * * * *', NULL, 1704067200999) - 1704067200000,
       state_cron_next('* * * * *') = 1700000040000;

-- 41.3 month ends, February 29, and the day-of-month / day-of-week rule
-- (both restricted: either matches; one '*': both must)
WITH t(x) AS (VALUES
  ('0 0 31 * *'), ('0 0 30 * *'), ('0 0 29 2 *'), ('0 0 28-31 2 *'),
  ('0 0 13 * FRI'), ('0 0 13 * *'), ('0 0 * * FRI'), ('0 0 */2 * FRI'),
  ('0 0 31 4,6,9,11,12 *'))
SELECT x, datetime(state_cron_next(x, 'UTC', 1706659200000) / 1000, 'unixepoch') FROM t;
SELECT datetime(state_cron_next('0 0 29 2 *', 'UTC', 1709251200000) / 1000, 'unixepoch'),
       datetime(state_cron_next('0 0 29 2 *', 'UTC', 4070908800000) / 1000, 'unixepoch'),
       state_cron_next('0 0 30 2 *', 'UTC', 0), state_cron_next('0 0 31 4 *');

-- 41.4 time zones: Europe/Berlin (CET/CEST) and America/New_York, across
-- their DST changes.  A local time skipped by the spring-forward gap runs
-- once, at the change; a local time repeated by the fall-back runs at its
-- first instant, or at both when the hour field is '*'
WITH t(x, tz, a) AS (VALUES
  ('0 9 * * *', 'Europe/Berlin', '2024-01-15 00:00:00'),
  ('0 9 * * *', 'Europe/Berlin', '2024-07-15 00:00:00'),
  ('30 2 * * *', 'Europe/Berlin', '2024-03-30 12:00:00'),
  ('30 2 * * *', 'Europe/Berlin', '2024-03-31 01:00:00'),
  ('*/20 2 * * *', 'Europe/Berlin', '2024-03-31 00:30:00'),
  ('30 3 * * *', 'Europe/Berlin', '2024-03-30 12:00:00'),
  ('30 2 * * *', 'Europe/Berlin', '2024-10-27 00:00:00'),
  ('30 2 * * *', 'Europe/Berlin', '2024-10-27 00:31:00'),
  ('30 * * * *', 'Europe/Berlin', '2024-10-27 00:31:00'),
  ('30 * * * *', 'Europe/Berlin', '2024-10-27 01:31:00'),
  ('0 0 * * *', 'Europe/Berlin', '2045-06-30 12:00:00'),
  ('0 2 * * *', 'America/New_York', '2024-03-10 00:00:00'),
  ('30 2 * * *', 'America/New_York', '2024-03-10 06:00:00'),
  ('30 1 * * *', 'America/New_York', '2024-11-03 05:00:00'),
  ('30 1 * * *', 'America/New_York', '2024-11-03 05:31:00'),
  ('*/30 * * * *', 'America/New_York', '2024-11-03 05:31:00'),
  ('0 0 1 1 *', 'America/New_York', '2050-06-01 00:00:00'),
  ('0 12 * * *', 'UTC', '2024-03-31 00:00:00'))
SELECT x, tz, a, datetime(state_cron_next(x, tz, strftime('%s', a) * 1000) / 1000, 'unixepoch') FROM t;
-- The schedule's own next_run in its zone
INSERT INTO schedules(name, cron, timezone, task, enabled) VALUES ('berlin', '0 9 * * *', 'Europe/Berlin', 'x', 0);
SELECT name, timezone, datetime(next_run / 1000, 'unixepoch') FROM schedules WHERE name = 'berlin';
DELETE FROM schedules WHERE name = 'berlin';

-- 41.5 errors: the expression, the zone, an expression that never runs,
-- the required columns, state_cron_next's arguments
INSERT INTO schedules(name, cron, task) VALUES ('b', '* * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '* * * * * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '61 * * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 24 * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 0 0 * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 0 * 13 *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 0 * * 8', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 0 * FOO *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '5-1 * * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '*/0 * * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '1,,2 * * * *', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '@every', 'x');
INSERT INTO schedules(name, cron, task) VALUES ('b', '', 'x');
INSERT INTO schedules(name, cron, task, timezone) VALUES ('b', '* * * * *', 'x', 'Mars/Base');
INSERT INTO schedules(name, cron, task, timezone) VALUES ('b', '* * * * *', 'x', '../../etc/passwd');
INSERT INTO schedules(name, cron, task) VALUES ('b', '0 0 30 2 *', 'x');
INSERT INTO schedules(name, task) VALUES ('b', 'x');
INSERT INTO schedules(name, cron) VALUES ('b', '* * * * *');
INSERT INTO schedules(name, cron, task, payload) VALUES ('b', '* * * * *', 'x', '{bad');
UPDATE schedules SET cron = 'nope' WHERE name = 'hourly';
SELECT state_cron_next('nope');
SELECT state_cron_next(NULL);
SELECT state_cron_next('* * * * *', 'Nowhere/City');
SELECT state_cron_next('* * * * *', 'Europe');
SELECT state_cron_next('* * * * *', '/etc/passwd');
SELECT state_cron_next('* * * * *', 'Europe/./Berlin');
SELECT state_cron_next('* * * * *', 'UTC', -1);
SELECT state_cron_next('* * * * *', 'UTC', 'soon');
SELECT count(*) FROM schedules;

-- 41.6 UPDATE: a new expression or zone, or enabling, computes next_run
-- again (unless the UPDATE sets next_run itself); other columns keep it
UPDATE schedules SET payload = '{"k":2}' WHERE name = 'hourly';
SELECT datetime(next_run / 1000, 'unixepoch'), payload FROM schedules;
UPDATE schedules SET cron = '0 0 * * *' WHERE name = 'hourly';
SELECT datetime(next_run / 1000, 'unixepoch') FROM schedules;
UPDATE schedules SET cron = '0 * * * *', next_run = 1600000000000 WHERE name = 'hourly';
SELECT next_run FROM schedules;
UPDATE schedules SET timezone = 'America/New_York' WHERE name = 'hourly';
SELECT datetime(next_run / 1000, 'unixepoch') FROM schedules;
UPDATE schedules SET timezone = 'UTC' WHERE name = 'hourly';

-- 41.7 not due: a claim makes no task
SELECT count(*) FROM state_claim('ta', 'default', 'w', 60000);
SELECT count(*) FROM ta;

-- 41.8 due: the claim fires it first and may take its task (run_at the
-- occurrence); last_run and next_run move on
UPDATE schedules SET next_run = 1699999200000 WHERE name = 'hourly';
SELECT name, payload, datetime(run_at / 1000, 'unixepoch'), attempts FROM state_claim('ta', 'default', 'w', 60000);
SELECT datetime(last_run / 1000, 'unixepoch'), datetime(next_run / 1000, 'unixepoch') FROM schedules;
SELECT * FROM ts;

-- 41.9 ... once: the next claims make no second task of that occurrence
SELECT count(*) FROM state_claim('ta', 'default', 'w', 60000);
SELECT count(*) FROM state_claim('ta', 'other', 'w', 60000);
SELECT count(*) FROM ta;

-- 41.10 catch-up: five hours missed make one task, for the latest
-- occurrence (22:00), not five; the task's columns come from the schedule
DELETE FROM ta;
UPDATE schedules SET next_run = 1699981200000, queue = 'q2', priority = 4, max_attempts = 7, tags = '["cron"]', task = 'report2' WHERE name = 'hourly';
SELECT count(*) FROM state_claim('ta', 'elsewhere', 'w', 60000);
SELECT * FROM ts;
SELECT datetime(last_run / 1000, 'unixepoch'), datetime(next_run / 1000, 'unixepoch') FROM schedules;

-- 41.11 a disabled schedule does not fire; enabled again, it starts from
-- now (no catch-up of the time it was disabled)
DELETE FROM ta;
UPDATE schedules SET enabled = 0, next_run = 1699981200000 WHERE name = 'hourly';
SELECT count(*) FROM state_claim('ta', 'q2', 'w', 60000);
SELECT count(*) FROM ta;
UPDATE schedules SET enabled = 1 WHERE name = 'hourly';
SELECT datetime(next_run / 1000, 'unixepoch') FROM schedules;
SELECT count(*) FROM state_claim('ta', 'q2', 'w', 60000);

-- 41.12 a deleted schedule stops
UPDATE schedules SET next_run = 1699981200000 WHERE name = 'hourly';
DELETE FROM schedules WHERE name = 'hourly';
SELECT count(*) FROM state_claim('ta', 'q2', 'w', 60000);
SELECT count(*) FROM ta;

-- 41.13 state_wait fires a due schedule of its queue and returns 1
INSERT INTO schedules(name, cron, queue, task, next_run) VALUES ('w', '*/5 * * * *', 'wq', 'tick', 1699999800000);
SELECT state_wait('ta', 'wq', 2000);
SELECT queue, name, datetime(run_at / 1000, 'unixepoch') FROM ta;
SELECT datetime(next_run / 1000, 'unixepoch') FROM schedules WHERE name = 'w';
DELETE FROM schedules;
DELETE FROM ta;

-- 41.14 schedules= names the schedules table of a tasks table (any name);
-- it must exist, be a state_schedules table, on the same store, and only
-- state_tasks has the option
CREATE VIRTUAL TABLE s2 USING state_schedules(@OPTS@);
CREATE VIRTUAL TABLE ta2 USING state_tasks(@OPTS@, schedules='s2');
INSERT INTO s2(name, cron, queue, task, next_run) VALUES ('x', '@daily', 'q', 'nightly', 1699920000000);
SELECT name, datetime(run_at / 1000, 'unixepoch') FROM state_claim('ta2', 'q', 'w', 60000);
SELECT datetime(last_run / 1000, 'unixepoch'), datetime(next_run / 1000, 'unixepoch') FROM s2;
CREATE VIRTUAL TABLE ta3 USING state_tasks(@OPTS@, schedules='nope');
CREATE VIRTUAL TABLE ta3 USING state_tasks(@OPTS@, schedules='ta');
CREATE VIRTUAL TABLE ta3 USING state_tasks(@OPTS@, schedules='');
CREATE VIRTUAL TABLE s3 USING state_schedules(@OPTS@, schedules='s2');
-- ... and a table it names that was dropped since is an error of the claim
DROP TABLE s2;
SELECT count(*) FROM state_claim('ta2', 'q', 'w', 60000);
