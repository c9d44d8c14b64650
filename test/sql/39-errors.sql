-- 39-errors: every error path of the work-queue functions: a first
-- argument that is not a statevtab table of the right kind, malformed JSON,
-- arguments of the wrong type or range, unknown and malformed state_claim
-- options, missing arguments and wrong argument counts.  No error changes
-- any state (checked at the end).  Also: tables named as schema.table.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE leases USING state_leases(@OPTS@);
CREATE VIRTUAL TABLE counters USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE signals USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE executions USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE x USING state_kv(@OPTS@);
CREATE TABLE plain(a);
CREATE VIEW aview AS SELECT 1 AS one;
INSERT INTO tasks(id, queue, name) VALUES ('t', 'q', 'job');
INSERT INTO executions(id, name) VALUES ('e', 'wf');

-- 39.1 a statevtab table of the wrong kind
SELECT * FROM state_claim('x', 'q', 'w');
SELECT state_renew('x', 't', 1, 1000);
SELECT state_complete('x', 't', 1);
SELECT state_complete('leases', 't', 1, '{}');
SELECT state_fail('x', 't', 1, 'e');
SELECT state_fail('signals', 't', 1, 'e', 0);
SELECT state_pause('x', 'q');
SELECT state_resume('x', 'q');
SELECT state_paused('x', 'q');
SELECT state_lease('x', 'n', 'o', 1000);
SELECT state_release('tasks', 'n', 'o');
SELECT state_incr('x', 's', 'n');
SELECT state_incr('leases', 's', 'n', 2);
SELECT state_signal('x', 'e', 'n');
SELECT state_signal('tasks', 'e', 'n', '{}');
SELECT state_take('x', 'e', 'n');
SELECT state_progress('x', 'e', '{}');
SELECT state_progress('tasks', 'e', '{}');

-- 39.2 no such table, not a statevtab table, not a name
SELECT * FROM state_claim('nope', 'q', 'w');
SELECT state_complete('nope', 't', 1);
SELECT state_lease('main.nope', 'n', 'o', 1000);
SELECT state_incr('nodb.counters', 's', 'n');
SELECT state_take('temp.signals', 'e', 'n');
SELECT * FROM state_claim('plain', 'q', 'w');
SELECT state_renew('plain', 't', 1, 1000);
SELECT state_progress('aview', 'e', '{}');
SELECT * FROM state_claim(NULL, 'q', 'w');
SELECT * FROM state_claim(42, 'q', 'w');
SELECT state_complete(NULL, 't', 1);
SELECT state_release(1, 'n', 'o');
-- a BLOB is not a name, even one that spells 'tasks'
SELECT state_complete(x'7461736b73', 't', 1);
SELECT count(*) FROM state_claim(x'7461736b73', 'q-blob', 'w');

-- 39.3 tables named as schema.table, any case, work
SELECT state_paused('main.tasks', 'q'), state_paused('TASKS', 'q'),
       state_paused('Main.Tasks', 'q');
SELECT count(*) FROM state_claim('main.tasks', 'q-none', 'w');
SELECT state_incr('main.counters', 's', 'n');

-- 39.4 malformed JSON: a result, a progress entry, claim options, a
-- signal payload, a task payload
SELECT state_complete('tasks', 't', 1, '{"ok":');
SELECT state_complete('tasks', 't', 1, 'not json');
SELECT state_complete('tasks', 't', 1, x'7b7d');
SELECT state_progress('executions', 'e', '{step:1}');
SELECT state_progress('executions', 'e', NULL);
SELECT state_progress('executions', 'e', '');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '[1]');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '"tags"');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, 42);
SELECT state_signal('signals', 'e', 'n', '{bad}');
SELECT state_signal('signals', 'e', 'n', x'7b7d');
INSERT INTO tasks(queue, name, payload) VALUES ('q', 'bad', '{"a":1');
UPDATE tasks SET result = '{' WHERE id = 't';
SELECT count(*) FROM signals;

-- 39.5 lease_ms, n, token, retry_in_ms, ttl_ms: wrong types and ranges
SELECT * FROM state_claim('tasks', 'q', 'w', 'abc');
SELECT * FROM state_claim('tasks', 'q', 'w', '1000');
SELECT * FROM state_claim('tasks', 'q', 'w', -1);
SELECT * FROM state_claim('tasks', 'q', 'w', 1.5);
SELECT * FROM state_claim('tasks', 'q', 'w', x'00');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 'x');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, -1);
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 2.5);
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 10001);
SELECT state_renew('tasks', 't', 'abc', 1000);
SELECT state_renew('tasks', 't', 1, 'abc');
SELECT state_renew('tasks', 't', 1, -5);
SELECT state_renew('tasks', 't', NULL, 1000);
SELECT state_renew('tasks', 't', 1, NULL);
SELECT state_renew('tasks', 't', 1.5, 1000);
SELECT state_complete('tasks', 't', 'one');
SELECT state_complete('tasks', 't', -1);
SELECT state_complete('tasks', 't', x'01');
SELECT state_complete('tasks', NULL, 1);
SELECT state_complete('tasks', x'74', 1);
SELECT state_fail('tasks', 't', 'one', 'e');
SELECT state_fail('tasks', 't', 1, 'e', -1);
SELECT state_fail('tasks', 't', 1, 'e', 'soon');
SELECT state_fail('tasks', 't', 1, x'00');
SELECT state_lease('leases', 'n', 'o', 0);
SELECT state_lease('leases', 'n', 'o', -1);
SELECT state_lease('leases', 'n', 'o', NULL);
SELECT state_lease('leases', NULL, 'o', 1000);
SELECT state_lease('leases', 'n', NULL, 1000);
SELECT state_release('leases', 'n', NULL);
SELECT state_incr('counters', 's', 'n', 'ten');
SELECT state_incr('counters', 's', 'n', NULL);
SELECT state_incr('counters', 's', 'n', x'01');
SELECT state_incr('counters', NULL, 'n');
SELECT state_incr('counters', 's', NULL);
SELECT state_signal('signals', NULL, 'n');
SELECT state_signal('signals', 'e', NULL);
SELECT state_take('signals', NULL, 'n');
SELECT state_take('signals', 'e', NULL);
SELECT state_progress('executions', NULL, '{}');
SELECT state_pause('tasks', NULL);
SELECT state_paused('tasks', x'71');
-- numeric text is text, not a number: refused like any other text
SELECT state_lease('leases', 'n-bug', 'o', '1000');
SELECT state_incr('counters', 's', 'n-bug', '10');
SELECT state_renew('tasks', 't', 1, '1000');
SELECT state_complete('tasks', 't', '1');
SELECT state_fail('tasks', 't', '1', 'e');
-- integral reals are integers: accepted
SELECT state_renew('tasks', 't', 1.0, 1000.0), state_complete('tasks', 't', 5.0);

-- every millisecond argument has one range on every store, 0 (1 for
-- ttl_ms) to 1000000000000 (about 31.7 years), so that now + it cannot
-- overflow: beyond it, a clear error and nothing changes
SELECT * FROM state_claim('tasks', 'q', 'w', 9223372036854775807);
SELECT * FROM state_claim('tasks', 'q', 'w', 1000000000001);
SELECT * FROM state_claim('tasks', 'q', 'w', 1e300);
SELECT state_renew('tasks', 't', 1, 9223372036854775807);
SELECT state_fail('tasks', 't', 1, 'e', 1000000000001);
SELECT state_lease('leases', 'n', 'o', 9223372036854775807);
SELECT state_lease('leases', 'n', 'o', 1000000000001);
SELECT state_wait('tasks', 'q', 1000000000001);
SELECT state_wait('tasks', 'q', -1);

-- 39.6 queue and worker of state_claim
SELECT * FROM state_claim('tasks', NULL, 'w');
SELECT * FROM state_claim('tasks', 42, 'w');
SELECT * FROM state_claim('tasks', '[]', 'w');
SELECT * FROM state_claim('tasks', '[1]', 'w');
SELECT * FROM state_claim('tasks', '["q", 2]', 'w');
SELECT * FROM state_claim('tasks', '[bad', 'w');
SELECT * FROM state_claim('tasks', 'q', NULL);
SELECT * FROM state_claim('tasks', 'q', 7);
SELECT * FROM state_claim('tasks', 'q', x'77');

-- 39.7 state_claim options: unknown names, and wrong shapes of the known
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"bogus":1}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":["a"],"Limits":{}}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":"eu"}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":[1]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"names":"job"}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"names":[null]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"limits":[1]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"limits":{"job":-1}}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"limits":{"job":1.5}}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"limits":{"job":"2"}}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":{}}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"id":"t"}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"token":1}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"id":1,"token":1}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"id":"t","token":"1"}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":["t"]}');
-- an empty object, and NULL options, are no options
SELECT count(*) FROM state_claim('tasks', 'q-none', 'w', 1000, 1, '{}');
SELECT count(*) FROM state_claim('tasks', 'q-none', 'w', 1000, 1, NULL);

-- options and a queue array are each one JSON text: trailing text, and
-- nesting deeper than 500 levels (which SQLite's json() accepts), are
-- refused with what was wrong
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":["eu"]} trailing');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":["eu"]}{}');
SELECT * FROM state_claim('tasks', '["q"] ["r"]', 'w', 1000, 1);
SELECT * FROM state_claim('tasks', '["q"', 'w', 1000, 1);
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"tags":' || printf('%.*c', 600, '[') || printf('%.*c', 600, ']') || '}');
SELECT json_valid('{"tags":' || printf('%.*c', 600, '[') || printf('%.*c', 600, ']') || '}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, x'7b7d');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"id":"t","token":1.5}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"complete":[{"id":"t","token":1e300}]}');
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{"limits":{"job":1e300}}');
-- an unpaired UTF-16 surrogate is not valid JSON (cJSON refuses it too);
-- a pair is
SELECT * FROM state_claim('tasks', '["\ud800"]', 'w', 1000, 1);
SELECT * FROM state_claim('tasks', '["\udc00x"]', 'w', 1000, 1);
SELECT count(*) FROM state_claim('tasks', '["\ud83d\ude00"]', 'w', 1000, 1);
SELECT state_complete('tasks', 't', 999, '"\ud800 "');
-- a JSON argument nested deeper than 500 levels: the reason is given
SELECT state_complete('tasks', 't', 1, printf('%.*c', 501, '[') || printf('%.*c', 501, ']'));
SELECT state_complete('tasks', 't', 999, '[' || printf('%.*c', 499, '[') || printf('%.*c', 499, ']') || ']');

-- 39.8 missing arguments of state_claim, and too many
SELECT * FROM state_claim();
SELECT * FROM state_claim('tasks');
SELECT * FROM state_claim('tasks', 'q');
SELECT * FROM state_claim WHERE _tasks = 'tasks' AND _worker = 'w';
SELECT * FROM state_claim('tasks', 'q', 'w', 1000, 1, '{}', 'extra');

-- 39.9 wrong argument counts of the scalar functions
SELECT state_renew('tasks', 't', 1);
SELECT state_renew('tasks', 't', 1, 1000, 1);
SELECT state_complete('tasks');
SELECT state_complete('tasks', 't', 1, '{}', 'x');
SELECT state_fail('tasks', 't', 1);
SELECT state_fail('tasks', 't', 1, 'e', 0, 'x');
SELECT state_pause('tasks');
SELECT state_resume('tasks', 'q', 'r');
SELECT state_paused();
SELECT state_lease('leases', 'n', 'o');
SELECT state_lease('leases', 'n', 'o', 1000, 1, 'x');
SELECT state_release('leases', 'n');
SELECT state_incr('counters', 's');
SELECT state_incr('counters', 's', 'n', 1, 2);
SELECT state_signal('signals', 'e');
SELECT state_signal('signals', 'e', 'n', '{}', 'x');
SELECT state_take('signals', 'e');
SELECT state_take('signals', 'e', 'n', 1, 'x');
SELECT state_progress('executions', 'e');

-- 39.10 nothing above changed any state
SELECT id, state, attempts, lease_token, result FROM tasks ORDER BY id;
SELECT progress FROM executions;
SELECT count(*) FROM leases WHERE name = 'n';
SELECT scope, name, value FROM counters WHERE name = 'n';
SELECT count(*) FROM signals;
SELECT state_paused('tasks', 'q');
