-- 11-insert-defaults: every column of every table written and read back,
-- the defaults, generated ids, and the maintained times.  The clock is
-- pinned at 1700000000000 (STATEVTAB_TEST_CLOCK_MS) and moved with .setenv.

CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);

-- 11.1 executions: a full row reads back as written
INSERT INTO ex(id, name, state, input, output, error, parent_id, tags,
               progress, created_at, updated_at, started_at, completed_at)
VALUES ('e-full', 'order.ship', 'failed', '{"order":42}', '{"partial":true}',
        'carrier down', 'e-parent', '["a","b"]', '[{"step":1}]', 1000, 2000,
        1500, 2500);
SELECT * FROM ex WHERE id = 'e-full';
SELECT typeof(created_at), typeof(updated_at), typeof(started_at),
       typeof(completed_at) FROM ex WHERE id = 'e-full';

-- 11.2 executions: defaults
INSERT INTO ex(name) VALUES ('minimal');
SELECT length(id), name, state, input, output, error, parent_id, tags,
       progress, created_at, updated_at, started_at, completed_at
  FROM ex WHERE name = 'minimal';

-- 11.3 tasks: a full row reads back as written
INSERT INTO ta(id, execution_id, queue, name, payload, state, priority,
               run_at, attempts, max_attempts, lease_owner, lease_token,
               lease_expires_at, tags, idempotency_key, result, error,
               created_at, updated_at, completed_at)
VALUES ('t-full', 'e-full', 'email', 'welcome', '{"to":"a@b.c"}', 'claimed',
        -5, 1700000001000, 2, 7, 'worker-7', 99, 1700000031000, '["vip"]',
        'idem-1', '{"r":1}', 'last error', 1000, 2000, NULL);
SELECT * FROM ta WHERE id = 't-full';

-- 11.4 tasks: defaults (queue 'default', state 'pending', priority 0,
-- run_at now, attempts 0, max_attempts 3, tags '[]')
INSERT INTO ta(name) VALUES ('minimal');
SELECT length(id), execution_id, queue, name, payload, state, priority,
       run_at, attempts, max_attempts, lease_owner, lease_token,
       lease_expires_at, tags, idempotency_key, result, error, created_at,
       updated_at, completed_at
  FROM ta WHERE name = 'minimal';

-- 11.5 signals: full row, then defaults
INSERT INTO si(id, execution_id, name, payload, created_at, consumed_at)
VALUES ('s-full', 'e-full', 'approve', '{"by":"ann"}', 1000, 3000);
SELECT * FROM si WHERE id = 's-full';
INSERT INTO si(execution_id, name) VALUES ('e-full', 'minimal');
SELECT length(id), execution_id, name, payload, created_at, consumed_at
  FROM si WHERE name = 'minimal';

-- 11.6 dead_letters: full row, then defaults
INSERT INTO dl(id, task_id, queue, name, payload, attempts, reason, task,
               died_at)
VALUES ('d-full', 't-full', 'email', 'welcome', '{"to":"a@b.c"}', 3,
        'max attempts', '{"id":"t-full","attempts":3}', 4000);
SELECT * FROM dl WHERE id = 'd-full';
INSERT INTO dl(task_id, name) VALUES ('t-x', 'minimal');
SELECT length(id), task_id, queue, name, payload, attempts, reason, task,
       died_at
  FROM dl WHERE name = 'minimal';

-- 11.7 counters: full row, then defaults (scope '', value 0)
INSERT INTO co(scope, name, value, updated_at) VALUES ('shop', 'orders', 41, 5);
SELECT * FROM co WHERE scope = 'shop';
INSERT INTO co(name) VALUES ('minimal');
SELECT quote(scope), name, value, updated_at FROM co WHERE name = 'minimal';

-- 11.8 flags: full row, then defaults (enabled 0, rollout NULL, '[]' JSON)
INSERT INTO fl(name, enabled, description, rollout, strategies, variants,
               dependencies, updated_at)
VALUES ('new-checkout', 1, 'the new checkout', 25,
        '[{"name":"default","parameters":{}}]',
        '[{"name":"blue","weight":1000}]', '[{"feature":"base"}]', 6);
SELECT * FROM fl WHERE name = 'new-checkout';
INSERT INTO fl(name) VALUES ('minimal');
SELECT * FROM fl WHERE name = 'minimal';

-- 11.9 kv: full row (a written version is kept on INSERT, so that
-- INSERT ... SELECT carries it), then defaults (scope '', version 1)
INSERT INTO kv(scope, key, value, version, expires_at, updated_at)
VALUES ('cart', 'u1', '{"items":[1,2]}', 4, 1800000000000, 7);
SELECT * FROM kv WHERE scope = 'cart';
INSERT INTO kv(key) VALUES ('minimal');
SELECT quote(scope), key, value, version, expires_at, updated_at
  FROM kv WHERE key = 'minimal';

-- 11.10 leases: full row, then defaults (token 0, depth 1, acquired_at now)
INSERT INTO le(name, owner, token, depth, expires_at, acquired_at)
VALUES ('cron', 'host-a', 17, 2, 1700000060000, 1000);
SELECT * FROM le WHERE name = 'cron';
INSERT INTO le(name, owner, expires_at) VALUES ('minimal', 'host-b', 1700000060000);
SELECT * FROM le WHERE name = 'minimal';

-- 11.11 generated ids: UUIDv7 text, 36 characters, dashes at 9 14 19 24,
-- version 7, RFC 9562 variant, and the first 48 bits are the clock
SELECT typeof(id), length(id), substr(id, 9, 1) || substr(id, 14, 1) ||
       substr(id, 19, 1) || substr(id, 24, 1), substr(id, 15, 1),
       substr(id, 20, 1) IN ('8', '9', 'a', 'b'), id = lower(id),
       substr(id, 1, 13)
  FROM ta WHERE name = 'minimal';
SELECT printf('%012x', 1700000000000);

-- 11.12 generated ids are unique and time-ordered: a later insert gets a
-- greater id, within one millisecond and across milliseconds
INSERT INTO ta(name, queue) VALUES ('o1', 'order');
INSERT INTO ta(name, queue) VALUES ('o2', 'order'), ('o3', 'order');
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000001
INSERT INTO ta(name, queue) VALUES ('o4', 'order');
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000
INSERT INTO ta(name, queue) VALUES ('o5', 'order');
SELECT a.name, b.name, a.id < b.id FROM ta a JOIN ta b
  ON a.queue = 'order' AND b.queue = 'order' AND a.name < b.name
  ORDER BY a.name, b.name;
SELECT count(DISTINCT id), count(*) FROM ta;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
INSERT INTO si(execution_id, name) SELECT 'bulk', 'n' || i FROM n;
SELECT count(DISTINCT id), count(*) FROM si WHERE execution_id = 'bulk';
SELECT count(*) FROM si a JOIN si b ON b.name = 'n' || (substr(a.name, 2) + 1)
  WHERE a.execution_id = 'bulk' AND b.execution_id = 'bulk' AND a.id >= b.id;

-- 11.13 a caller's id is kept as given
INSERT INTO ta(id, name) VALUES ('my-own-id', 'mine');
INSERT INTO ta(id, name) VALUES (12345, 'numeric id');
SELECT id, typeof(id) FROM ta WHERE name IN ('mine', 'numeric id') ORDER BY id;

-- 11.14 updated_at follows every UPDATE; created_at stays
.setenv STATEVTAB_TEST_CLOCK_MS 1700000005000
UPDATE ta SET priority = 1 WHERE name = 'minimal';
SELECT created_at, updated_at, run_at FROM ta WHERE name = 'minimal';
UPDATE ta SET updated_at = 42 WHERE name = 'minimal';
SELECT created_at, updated_at FROM ta WHERE name = 'minimal';
UPDATE ex SET error = 'x' WHERE name = 'minimal';
SELECT created_at, updated_at FROM ex WHERE name = 'minimal';
UPDATE co SET value = 1 WHERE name = 'minimal';
SELECT value, updated_at FROM co WHERE name = 'minimal';
UPDATE fl SET description = 'd' WHERE name = 'minimal';
SELECT description, updated_at FROM fl WHERE name = 'minimal';
UPDATE kv SET value = '"v"' WHERE key = 'minimal';
SELECT value, version, updated_at FROM kv WHERE key = 'minimal';
UPDATE le SET depth = 3 WHERE name = 'minimal';
SELECT depth, acquired_at FROM le WHERE name = 'minimal';

-- 11.15 an execution entering 'running' gets started_at; entering a final
-- state gets completed_at; times the writer set are kept
INSERT INTO ex(id, name) VALUES ('e-life', 'life');
.setenv STATEVTAB_TEST_CLOCK_MS 1700000006000
UPDATE ex SET state = 'running' WHERE id = 'e-life';
SELECT state, started_at, completed_at, updated_at FROM ex WHERE id = 'e-life';
.setenv STATEVTAB_TEST_CLOCK_MS 1700000007000
UPDATE ex SET state = 'completed', output = '{"ok":true}' WHERE id = 'e-life';
SELECT state, started_at, completed_at, updated_at FROM ex WHERE id = 'e-life';
INSERT INTO ex(id, name, state) VALUES ('e-cancel', 'life', 'cancelled');
SELECT state, started_at, completed_at FROM ex WHERE id = 'e-cancel';
INSERT INTO ex(id, name, state, started_at, completed_at)
VALUES ('e-set', 'life', 'failed', 10, 20);
SELECT state, started_at, completed_at FROM ex WHERE id = 'e-set';

-- 11.16 a task entering a final state gets completed_at
INSERT INTO ta(id, name) VALUES ('t-life', 'life');
UPDATE ta SET state = 'claimed' WHERE id = 't-life';
SELECT state, completed_at FROM ta WHERE id = 't-life';
UPDATE ta SET state = 'dead' WHERE id = 't-life';
SELECT state, completed_at FROM ta WHERE id = 't-life';
INSERT INTO ta(id, name, state) VALUES ('t-done', 'life', 'completed'),
  ('t-fail', 'life', 'failed'), ('t-canc', 'life', 'cancelled');
SELECT id, state, completed_at FROM ta WHERE name = 'life' ORDER BY id;

-- 11.17 every value type round-trips through a TEXT and a JSON column
INSERT INTO ta(id, name, payload, error) VALUES
  ('t-json', 'json', '  {"b":1,  "a":[1,2.5,"x",null,true]}  ', 'e'),
  ('t-num', 42, 42, 42),
  ('t-real', 'real', 2.5, 2.5),
  ('t-str', 'str', '"just a string"', ''),
  ('t-uni', 'caf' || char(233), '{"k":"' || char(8364) || '"}', 'x' || char(9) || 'y');
SELECT id, name, typeof(name), payload, typeof(payload), quote(error),
       hex(error)
  FROM ta WHERE id IN ('t-json', 't-num', 't-real', 't-str', 't-uni')
  ORDER BY id;
