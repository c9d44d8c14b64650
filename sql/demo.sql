-- sql/demo.sql -- a tour of statevtab on the local SQLite store.
-- Run by ./quickstart:  sqlite3 :memory: -cmd '.load ./statevtab' < sql/demo.sql
.mode box
.headers on

.print '== statevtab'
SELECT statevtab_version() AS version;

.print ''
.print '== 1. tables: state lives in ordinary-looking SQL tables'
CREATE VIRTUAL TABLE executions   USING state_executions();
CREATE VIRTUAL TABLE tasks        USING state_tasks();
CREATE VIRTUAL TABLE dead_letters USING state_dead_letters();
CREATE VIRTUAL TABLE counters     USING state_counters();
CREATE VIRTUAL TABLE flags        USING state_flags();
CREATE VIRTUAL TABLE kv           USING state_kv();
CREATE VIRTUAL TABLE leases       USING state_leases();
CREATE VIRTUAL TABLE signals      USING state_signals();
SELECT name, sql FROM sqlite_schema WHERE sql LIKE 'CREATE VIRTUAL%' ORDER BY name;

.print ''
.print '== 2. enqueue: an execution and its tasks, in one transaction'
BEGIN;
INSERT INTO executions(id, name, input) VALUES ('order-42', 'checkout', '{"cart": 3}');
INSERT INTO tasks(execution_id, queue, name, payload, priority) VALUES
  ('order-42', 'email',   'send_receipt', '{"to": "ann@example.com"}', 1),
  ('order-42', 'billing', 'charge_card',  '{"cents": 4200}',           0),
  ('order-42', 'email',   'newsletter',   '{"to": "ann@example.com"}', 9);
COMMIT;
SELECT queue, name, state, priority, attempts, max_attempts FROM tasks ORDER BY queue, priority;

.print ''
.print '== 3. claim: a worker takes the most urgent email task with a 30 s lease'
SELECT name, state, attempts, lease_owner, lease_token
  FROM state_claim('tasks', 'email', 'worker-1', 30000, 1);

.print ''
.print '== 4. finish: complete it with its fencing token; a second completion is refused'
SELECT state_complete('tasks', id, lease_token, '{"sent": true}') AS completed,
       state_complete('tasks', id, lease_token) AS again
  FROM tasks WHERE name = 'send_receipt';

.print ''
.print '== 5. plain SQL over the queue (the filter on queue is pushed down to the store)'
SELECT queue, state, count(*) AS n FROM tasks GROUP BY 1, 2 ORDER BY 1, 2;
EXPLAIN QUERY PLAN SELECT * FROM tasks WHERE queue = 'email' AND state = 'pending';

.print ''
.print '== 6. counters, leases, key-value state, signals'
SELECT state_incr('counters', 'shop', 'orders') AS orders,
       state_incr('counters', 'shop', 'revenue', 42.5) AS revenue;
SELECT state_lease('leases', 'nightly-report', 'host-a', 60000) AS token_a,
       state_lease('leases', 'nightly-report', 'host-b', 60000) AS token_b;
INSERT INTO kv(scope, key, value) VALUES ('cart', 'ann', '{"items": 3}');
UPDATE kv SET value = '{"items": 4}' WHERE scope = 'cart' AND key = 'ann';
SELECT scope, key, value, version FROM kv;
SELECT length(state_signal('signals', 'order-42', 'approved', '{"by": "bob"}')) AS signal_id_len,
       state_take('signals', 'order-42', 'approved') AS taken,
       state_take('signals', 'order-42', 'approved') AS taken_again;

.print ''
.print '== 7. feature flags, evaluated in SQL with Unleash semantics'
INSERT INTO flags(name, enabled, description, rollout) VALUES ('new-checkout', 1, 'the new flow', 30);
INSERT INTO flags(name, enabled, strategies, variants) VALUES ('banner', 1,
  '[{"name":"default","constraints":[{"contextName":"country","operator":"IN","values":["NO","SE"]}]}]',
  '[{"name":"blue","weight":500},{"name":"green","weight":500}]');
WITH RECURSIVE users(id) AS (SELECT 1 UNION ALL SELECT id + 1 FROM users WHERE id < 1000)
SELECT count(*) AS users_in_30pct_rollout FROM users
 WHERE state_flag('flags', 'new-checkout', json_object('userId', users.id));
SELECT state_flag('flags', 'banner', '{"userId":"7","properties":{"country":"NO"}}') AS banner_no,
       state_flag('flags', 'banner', '{"userId":"7","properties":{"country":"DE"}}') AS banner_de,
       json_extract(state_variant('flags', 'banner', '{"userId":"7","properties":{"country":"NO"}}'), '$.name') AS variant;

.print ''
.print 'Done. Bad input is an SQL error that names the problem, e.g. a payload'
.print 'that is not JSON fails with: state_tasks: payload is not valid JSON'
