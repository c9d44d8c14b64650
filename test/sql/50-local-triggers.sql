-- 50-local-triggers: a trigger on a shadow table would run inside the local
-- store's own statements (inside state_claim, say), and a database file is
-- data, not authority.  The store creates no triggers, and refuses to write
-- shadow tables that carry one: on its private connection (a WAL file in
-- autocommit), on the caller's connection (an explicit transaction,
-- :memory:), in the atomic functions and in INSERT/UPDATE/DELETE.  Local
-- store only.

-- 54.1 a file made by someone else, in WAL mode so that state_claim runs
-- on the store's private connection: its trigger would make the lease of a
-- claimed task expire at once, and a second worker would claim it again.
-- Both claims fail instead, naming the trigger and the table, and the task
-- is left untouched
.open hostile.db
PRAGMA journal_mode = wal;
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
INSERT INTO tasks(id, queue, name) VALUES ('a', 'q', 'job');
.noext
CREATE TRIGGER t AFTER UPDATE OF lease_owner ON tasks_data BEGIN
  UPDATE tasks_data SET lease_expires_at = 0 WHERE rowid = new.rowid;
END;
.ext
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w1', 30000);
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w2', 30000);
SELECT id, state, lease_owner, attempts, lease_expires_at FROM tasks;

-- 54.2 ... the same with DEFENSIVE on and trusted_schema off (neither
-- stops a trigger on an ordinary table), and on a connection opened anew
.reopen
.defensive on
.trusted_schema off
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w1', 30000);
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w2', 30000);
SELECT id, state, lease_owner, attempts FROM tasks;

-- 54.3 ... and the other atomic functions that write the table
SELECT state_complete('tasks', 'a', 1);
SELECT state_fail('tasks', 'a', 1, 'boom');
SELECT state_renew('tasks', 'a', 1, 1000);
SELECT state_pause('tasks', 'q');

-- 54.4 inside an explicit transaction the functions run on the caller's
-- connection: refused there too, and the transaction goes on
.defensive off
.trusted_schema on
BEGIN IMMEDIATE;
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w1', 30000);
SELECT id, lease_owner FROM state_claim('tasks', 'q', 'w2', 30000);
SELECT state_complete('tasks', 'a', 1);
SELECT id, state, lease_owner FROM tasks;
COMMIT;

-- 54.5 INSERT, UPDATE and DELETE on the statevtab table are refused; the
-- rows stay as they were
INSERT INTO tasks(id, queue, name) VALUES ('b', 'q', 'job');
UPDATE tasks SET name = 'renamed' WHERE id = 'a';
DELETE FROM tasks WHERE id = 'a';
SELECT id, name, state FROM tasks;

-- 54.6 reading is allowed; dropping the trigger makes the table writable
-- again, and a claim then holds its lease
SELECT count(*) FROM tasks WHERE state = 'pending';
DROP TRIGGER t;
SELECT id, lease_owner, lease_expires_at - 1700000000000
  FROM state_claim('tasks', 'q', 'w1', 30000);
SELECT count(*) FROM state_claim('tasks', 'q', 'w2', 30000);

-- 54.7 a trigger created while the table is in use, by another connection
-- to the file (here the same file attached again): the next claim, on the
-- private connection, and the next INSERT see it
INSERT INTO tasks(id, queue, name) VALUES ('c', 'q2', 'job');
ATTACH 'hostile.db' AS other;
CREATE TRIGGER other.late AFTER UPDATE ON tasks_data BEGIN
  UPDATE tasks_data SET lease_expires_at = 0 WHERE rowid = new.rowid;
END;
SELECT id FROM state_claim('tasks', 'q2', 'w1', 30000);
SELECT id FROM state_claim('tasks', 'q2', 'w2', 30000);
INSERT INTO tasks(id, queue, name) VALUES ('d', 'q2', 'job');
DROP TRIGGER other.late;
DETACH other;
SELECT id FROM state_claim('tasks', 'q2', 'w1', 30000);

-- 54.8 :memory:, where the functions always run on the caller's
-- connection; a trigger created after the first claim, on this connection
.open :memory:
CREATE VIRTUAL TABLE m USING state_tasks(@OPTS@);
INSERT INTO m(id, queue, name) VALUES ('a', 'q', 'job'), ('b', 'q', 'job');
SELECT id, lease_owner FROM state_claim('m', 'q', 'w1', 30000, 1);
CREATE TRIGGER t AFTER UPDATE OF lease_owner ON m_data BEGIN
  UPDATE m_data SET lease_expires_at = 0 WHERE rowid = new.rowid;
END;
SELECT id, lease_owner FROM state_claim('m', 'q', 'w2', 30000, 1);
SELECT id, lease_owner FROM state_claim('m', 'q', 'w3', 30000, 1);
SELECT id, state, lease_owner FROM m ORDER BY id;
DROP TRIGGER t;

-- 54.9 however the trigger names the table: schema-qualified and quoted,
-- in another case, a TEMP trigger on the main table, a BEFORE trigger on
-- another event, a trigger on the table of paused queues (state_paused
-- only reads it)
CREATE TRIGGER "main"."t1" AFTER UPDATE ON "main"."M_DATA" BEGIN SELECT 1; END;
SELECT count(*) FROM state_claim('m', 'q', 'w1', 30000);
DROP TRIGGER t1;
CREATE TEMP TRIGGER t2 BEFORE DELETE ON main.m_data BEGIN SELECT 1; END;
SELECT count(*) FROM state_claim('m', 'q', 'w1', 30000);
DELETE FROM m WHERE id = 'b';
DROP TRIGGER t2;
CREATE TRIGGER t3 AFTER INSERT ON m_queues BEGIN SELECT 1; END;
SELECT state_pause('m', 'q');
SELECT state_paused('m', 'q');
DROP TRIGGER t3;
SELECT state_pause('m', 'q'), state_resume('m', 'q');

-- 54.10 the other kinds of state: a lease, a counter, a signal, kv
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE TRIGGER le_t AFTER INSERT ON le_data BEGIN SELECT 1; END;
CREATE TRIGGER co_t AFTER INSERT ON co_data BEGIN SELECT 1; END;
CREATE TRIGGER si_t AFTER INSERT ON si_data BEGIN SELECT 1; END;
CREATE TRIGGER kv_t AFTER INSERT ON kv_data BEGIN SELECT 1; END;
SELECT state_lease('le', 'lock', 'me', 1000);
SELECT state_incr('co', 'app', 'hits');
SELECT state_signal('si', 'e1', 'go');
INSERT INTO kv(key, value) VALUES ('k', '1');
SELECT (SELECT count(*) FROM le_data), (SELECT count(*) FROM co_data),
       (SELECT count(*) FROM si_data), (SELECT count(*) FROM kv_data);

-- 54.11 the dead letters table of a claim: a trigger on it is refused by
-- the functions that may write a dead letter (state_fail, state_claim)
CREATE VIRTUAL TABLE dlq USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE dq USING state_tasks(@OPTS@, dead_letters='dlq');
INSERT INTO dq(id, queue, name, max_attempts) VALUES ('x', 'q', 'job', 1);
SELECT id, lease_token FROM state_claim('dq', 'q', 'w1', 30000);
CREATE TRIGGER dlq_t AFTER INSERT ON dlq_data BEGIN SELECT 1; END;
SELECT state_fail('dq', 'x', 1, 'boom');
SELECT count(*) FROM state_claim('dq', 'q', 'w1', 30000);
DROP TRIGGER dlq_t;
SELECT state_fail('dq', 'x', 1, 'boom');
SELECT task_id, reason FROM dlq;

-- 54.12 the store itself makes no trigger and no view, for any kind of
-- table; triggers on other tables, even of a shadow-like name, are no
-- concern of the store
SELECT count(*) FROM sqlite_schema WHERE type IN ('trigger', 'view')
   AND name NOT IN ('le_t', 'co_t', 'si_t', 'kv_t');
CREATE TABLE m_data2(x);
CREATE TRIGGER ok AFTER INSERT ON m_data2 BEGIN SELECT 1; END;
INSERT INTO m(id, queue, name) VALUES ('n', 'q', 'job');
SELECT id FROM state_claim('m', 'q', 'w1', 30000, 10) ORDER BY id;
