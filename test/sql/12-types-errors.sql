-- 12-types-errors: values each column accepts and converts, and every
-- rejected value with its error, verbatim.  A rejected row is never
-- written.

CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);

-- 12.1 malformed JSON in each JSON column of executions names the column
INSERT INTO ex(name, input) VALUES ('x', '{"a":');
INSERT INTO ex(name, output) VALUES ('x', 'not json');
INSERT INTO ex(name, tags) VALUES ('x', '[1,]');
INSERT INTO ex(name, progress) VALUES ('x', '');

-- 12.2 ... of tasks
INSERT INTO ta(name, payload) VALUES ('x', '{bad}');
INSERT INTO ta(name, tags) VALUES ('x', '["a"');
INSERT INTO ta(name, result) VALUES ('x', 'undefined');

-- 12.3 ... of signals and dead_letters
INSERT INTO si(execution_id, name, payload) VALUES ('e', 'x', '{');
INSERT INTO dl(task_id, name, payload) VALUES ('t', 'x', '01');
INSERT INTO dl(task_id, name, task) VALUES ('t', 'x', '{"a":1}}');

-- 12.4 ... of flags (kv's value takes a value of any type: 16-kv)
INSERT INTO fl(name, strategies) VALUES ('x', '[');
INSERT INTO fl(name, variants) VALUES ('x', '{"a"}');
INSERT INTO fl(name, dependencies) VALUES ('x', 'nope');

-- 12.5 JSON is checked on UPDATE too, and the row keeps its old value
INSERT INTO ta(id, name, payload) VALUES ('j1', 'x', '{"ok":1}');
UPDATE ta SET payload = '{"ok":' WHERE id = 'j1';
UPDATE ta SET tags = 'x' WHERE id = 'j1';
UPDATE kv SET value = '{' WHERE key = 'nothing';
SELECT payload, tags FROM ta WHERE id = 'j1';

-- 12.6 JSON edge cases: strict RFC 8259 (no single quotes, no trailing
-- comma, no NaN, no comments, escapes checked); numbers are valid JSON
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '{''a'':1}');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', 'NaN');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '[1] // c');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '"\x"');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '"\u12"');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '[1] [2]');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '-');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', '1.');
INSERT INTO ta(id, name, payload) VALUES ('j2', 'x', x'7b7d');
INSERT INTO ta(id, name, payload) VALUES
  ('j3', 'x', '"\u00e9\n\"\\\/"'), ('j4', 'x', '-0.5e+3'), ('j5', 'x', 'null'),
  ('j6', 'x', ' [ ] '), ('j7', 'x', 7), ('j8', 'x', '{"a":{"b":[{"c":[]}]}}');
SELECT id, payload FROM ta WHERE id GLOB 'j[2-8]' ORDER BY id;

-- 12.7 text in an INTEGER time column of every table
INSERT INTO ex(name, created_at) VALUES ('x', 'yesterday');
INSERT INTO ex(name, updated_at) VALUES ('x', 'now');
INSERT INTO ex(name, started_at) VALUES ('x', '12:00');
INSERT INTO ex(name, completed_at) VALUES ('x', '2024-01-01');
INSERT INTO ta(name, run_at) VALUES ('x', 'soon');
INSERT INTO ta(name, lease_expires_at) VALUES ('x', '1.5');
INSERT INTO ta(name, created_at) VALUES ('x', '');
INSERT INTO ta(name, updated_at) VALUES ('x', '0x10');
INSERT INTO ta(name, completed_at) VALUES ('x', '1e3');
INSERT INTO si(execution_id, name, created_at) VALUES ('e', 'x', 'a');
INSERT INTO si(execution_id, name, consumed_at) VALUES ('e', 'x', 'b');
INSERT INTO dl(task_id, name, died_at) VALUES ('t', 'x', 'c');
INSERT INTO co(name, updated_at) VALUES ('x', 'd');
INSERT INTO fl(name, updated_at) VALUES ('x', 'e');
INSERT INTO kv(key, expires_at) VALUES ('x', 'f');
INSERT INTO kv(key, updated_at) VALUES ('x', 'g');
INSERT INTO le(name, owner, expires_at) VALUES ('x', 'o', 'h');
INSERT INTO le(name, owner, expires_at, acquired_at) VALUES ('x', 'o', 1, 'i');
UPDATE ta SET run_at = 'later' WHERE id = 'j1';

-- 12.8 reals and blobs in INTEGER columns; a long text is cut in the message
INSERT INTO ta(name, run_at) VALUES ('x', 1.5);
INSERT INTO ta(name, priority) VALUES ('x', x'00');
INSERT INTO ta(name, attempts) VALUES ('x', 1e300);
INSERT INTO ta(name, lease_token) VALUES ('x', 'aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee');
INSERT INTO le(name, owner, expires_at, token) VALUES ('x', 'o', 1, 2.25);
INSERT INTO le(name, owner, expires_at, depth) VALUES ('x', 'o', 1, 'deep');

-- 12.9 what an INTEGER column accepts: integers, integral reals, and text
-- that spells an integer (surrounding blanks allowed)
INSERT INTO ta(id, name, run_at, priority, attempts, lease_token) VALUES
  ('i1', 'x', 2.0, ' 12 ', '+7', '-3'),
  ('i2', 'x', '9223372036854775807', -9223372036854775808, 0, 1.0e3);
SELECT id, run_at, typeof(run_at), priority, typeof(priority), attempts,
       lease_token, typeof(lease_token)
  FROM ta WHERE id IN ('i1', 'i2') ORDER BY id;

-- 12.10 text that spells an integer too large for 64 bits is rejected
INSERT INTO ta(id, name, run_at) VALUES ('i3', 'x', '99999999999999999999');
SELECT id, run_at FROM ta WHERE id = 'i3';

-- 12.11 TEXT columns take numbers as text, never blobs
INSERT INTO ta(id, name, queue, lease_owner) VALUES ('x1', 7, 8.5, 9);
SELECT name, typeof(name), queue, typeof(queue), lease_owner FROM ta WHERE id = 'x1';
INSERT INTO ta(name) VALUES (x'41');
INSERT INTO ta(name, queue) VALUES ('x', x'41');
INSERT INTO ex(name, error) VALUES ('x', zeroblob(2));
INSERT INTO ta(id, name) VALUES (x'41', 'x');

-- 12.12 NULL in a NOT NULL column without a default, on INSERT
INSERT INTO ex(error) VALUES ('no name');
INSERT INTO ta(queue) VALUES ('no name');
INSERT INTO si(name) VALUES ('no execution');
INSERT INTO si(execution_id) VALUES ('no name');
INSERT INTO dl(name) VALUES ('no task');
INSERT INTO dl(task_id) VALUES ('no name');
INSERT INTO co(scope) VALUES ('no name');
INSERT INTO fl(description) VALUES ('no name');
INSERT INTO kv(value) VALUES ('"no key"');
INSERT INTO le(owner, expires_at) VALUES ('o', 1);
INSERT INTO le(name, expires_at) VALUES ('l', 1);
INSERT INTO le(name, owner) VALUES ('l', 'o');

-- 12.13 on INSERT a NULL is "not given": the default applies
INSERT INTO ta(id, name, queue, state, priority, attempts, max_attempts, tags)
VALUES ('n1', 'x', NULL, NULL, NULL, NULL, NULL, NULL);
SELECT queue, state, priority, attempts, max_attempts, tags FROM ta WHERE id = 'n1';

-- 12.14 NULL in a NOT NULL column on UPDATE (no default applies)
UPDATE ta SET queue = NULL WHERE id = 'n1';
UPDATE ta SET state = NULL WHERE id = 'n1';
UPDATE ta SET name = NULL WHERE id = 'n1';
UPDATE ta SET id = NULL WHERE id = 'n1';
UPDATE ta SET tags = NULL WHERE id = 'n1';
UPDATE ta SET created_at = NULL WHERE id = 'n1';
INSERT INTO co(scope, name) VALUES ('s', 'c');
UPDATE co SET value = NULL WHERE name = 'c';
UPDATE co SET scope = NULL WHERE name = 'c';
INSERT INTO fl(name) VALUES ('f');
UPDATE fl SET enabled = NULL WHERE name = 'f';
UPDATE fl SET strategies = NULL WHERE name = 'f';
SELECT queue, state, name, id, tags FROM ta WHERE id = 'n1';

-- 12.15 state must be one of the entity's states (case matters)
INSERT INTO ex(name, state) VALUES ('x', 'done');
INSERT INTO ex(name, state) VALUES ('x', 'RUNNING');
INSERT INTO ta(name, state) VALUES ('x', 'running');
INSERT INTO ta(name, state) VALUES ('x', 'aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeeeeeeeee');
UPDATE ta SET state = 'bogus' WHERE id = 'n1';
INSERT INTO ex(id, name, state) VALUES ('s1', 'x', 'pending'), ('s2', 'x', 'running'),
  ('s3', 'x', 'completed'), ('s4', 'x', 'failed'), ('s5', 'x', 'cancelled');
INSERT INTO ta(id, name, state) VALUES ('s1', 'x', 'pending'), ('s2', 'x', 'claimed'),
  ('s3', 'x', 'completed'), ('s4', 'x', 'failed'), ('s5', 'x', 'dead'),
  ('s6', 'x', 'cancelled');
SELECT group_concat(state, ' ') FROM (SELECT state FROM ex WHERE id GLOB 's[0-9]' ORDER BY id);
SELECT group_concat(state, ' ') FROM (SELECT state FROM ta WHERE id GLOB 's[0-9]' ORDER BY id);

-- 12.16 ranges: max_attempts 1..1000000, rollout 0..100, enabled 0 or 1
INSERT INTO ta(name, max_attempts) VALUES ('x', 0);
INSERT INTO ta(name, max_attempts) VALUES ('x', 1000001);
INSERT INTO ta(name, max_attempts) VALUES ('x', -1);
UPDATE ta SET max_attempts = 0 WHERE id = 'n1';
INSERT INTO fl(name, rollout) VALUES ('x', 101);
INSERT INTO fl(name, rollout) VALUES ('x', -1);
INSERT INTO fl(name, enabled) VALUES ('x', 2);
INSERT INTO fl(name, enabled) VALUES ('x', -1);
INSERT INTO fl(name, enabled) VALUES ('x', 'yes');
INSERT INTO fl(name, enabled) VALUES ('x', 0.5);
UPDATE fl SET enabled = 7 WHERE name = 'f';
INSERT INTO ta(id, name, max_attempts) VALUES ('r1', 'x', 1), ('r2', 'x', 1000000);
INSERT INTO fl(name, enabled, rollout) VALUES ('r1', 1, 0), ('r2', '0', 100),
  ('r3', true, '50'), ('r4', 1.0, NULL);
SELECT id, max_attempts FROM ta WHERE id IN ('r1', 'r2') ORDER BY id;
SELECT name, enabled, rollout FROM fl WHERE name GLOB 'r[0-9]' ORDER BY name;

-- 12.17 counters' value is a number: integer or real, text that spells one
INSERT INTO co(scope, name, value) VALUES ('v', 'int', 7), ('v', 'real', 2.5),
  ('v', 'text-int', '12'), ('v', 'text-real', '0.25'), ('v', 'neg', -3);
SELECT name, value, typeof(value) FROM co WHERE scope = 'v' ORDER BY name;
INSERT INTO co(scope, name, value) VALUES ('v', 'bad', 'abc');
INSERT INTO co(scope, name, value) VALUES ('v', 'bad', x'01');
UPDATE co SET value = 'many' WHERE scope = 'v' AND name = 'int';

-- 12.18 nothing above left a row behind
SELECT count(*) FROM ex WHERE name = 'x' AND id NOT GLOB 's[0-9]';
SELECT count(*) FROM si;
SELECT count(*) FROM dl;
SELECT count(*) FROM kv;
SELECT count(*) FROM le;
SELECT count(*) FROM co;
SELECT count(*) FROM fl;
SELECT id FROM ta ORDER BY id;
