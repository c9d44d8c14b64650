-- 46-flags: state_flag / state_variant beyond the Unleash spec suites
-- (45-flags-spec): the rollout shorthand, distribution, gating rows,
-- caching across writes, state_bucket, and every error.

CREATE VIRTUAL TABLE flags USING state_flags(@OPTS@);
CREATE TEMP TABLE users(id INTEGER PRIMARY KEY, name TEXT);
WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 9999)
INSERT INTO users SELECT i, 'u' || i FROM n;

-- 46.1 an enabled flag without strategies or rollout is on; disabled and
-- unknown flags are off
INSERT INTO flags(name, enabled) VALUES ('on', 1), ('off', 0);
SELECT state_flag('flags', 'on'), state_flag('flags', 'off'), state_flag('flags', 'nope');

-- 46.2 rollout alone acts as a flexibleRollout (default stickiness, groupId
-- = the flag's name): 10,000 users at 30 land within 30% +/- 1.5%, the same
-- users as an explicit flexibleRollout with groupId 'r30'
INSERT INTO flags(name, enabled, rollout) VALUES ('r30', 1, 30);
INSERT INTO flags(name, enabled, strategies) VALUES ('r30x', 1,
  '[{"name":"flexibleRollout","parameters":{"rollout":"30","stickiness":"default","groupId":"r30"}}]');
SELECT count(*) BETWEEN 2850 AND 3150 FROM users
 WHERE state_flag('flags', 'r30', json_object('userId', users.id));
SELECT count(*) FROM users
 WHERE state_flag('flags', 'r30', json_object('userId', users.id))
    <> state_flag('flags', 'r30x', json_object('userId', users.id));
SELECT count(*) FROM users
 WHERE state_flag('flags', 'r30', json_object('userId', users.id))
    <> (state_bucket('r30', users.id) <= 30);

-- 46.3 rollout 0 is off for everyone, 100 on for everyone; a disabled flag
-- is off whatever its rollout
INSERT INTO flags(name, enabled, rollout) VALUES ('r0', 1, 0), ('r100', 1, 100), ('rOff', 0, 100);
SELECT sum(state_flag('flags', 'r0', json_object('userId', id))),
       sum(state_flag('flags', 'r100', json_object('userId', id))),
       sum(state_flag('flags', 'rOff', json_object('userId', id)))
  FROM users WHERE id < 1000;

-- 46.4 gating rows: the README example
INSERT INTO flags(name, enabled, strategies) VALUES ('new-ui', 1,
  '[{"name":"userWithId","parameters":{"userIds":"3, 5,8"}}]');
SELECT id, name FROM users
 WHERE state_flag('flags', 'new-ui', json_object('userId', users.id)) ORDER BY id;

-- 46.5 a write through this connection is seen at once (the cache of
-- parsed flags is dropped)
SELECT state_flag('flags', 'on');
UPDATE flags SET enabled = 0 WHERE name = 'on';
SELECT state_flag('flags', 'on');
UPDATE flags SET enabled = 1, strategies = '[{"name":"userWithId","parameters":{"userIds":"x"}}]' WHERE name = 'on';
SELECT state_flag('flags', 'on', '{"userId":"x"}'), state_flag('flags', 'on', '{"userId":"y"}');
DELETE FROM flags WHERE name = 'on';
SELECT state_flag('flags', 'on', '{"userId":"x"}');

-- 46.6 state_variant: unknown or off -> disabled, feature_enabled false; on
-- without variants -> disabled, feature_enabled true; weighted variants are
-- sticky per user and follow the weights
INSERT INTO flags(name, enabled, variants) VALUES ('v', 1,
  '[{"name":"a","weight":250,"stickiness":"default"},{"name":"b","weight":750,"payload":{"type":"json","value":"{\"k\":1}"}}]');
SELECT state_variant('flags', 'nope'), state_variant('flags', 'off');
SELECT state_variant('flags', 'r100', '{"userId":"1"}');
SELECT state_variant('flags', 'v', '{"userId":"7"}') = state_variant('flags', 'v', '{"userId":"7"}');
SELECT json_extract(state_variant('flags', 'v', json_object('userId', id)), '$.name') AS v, count(*) BETWEEN 200 AND 300
  FROM users WHERE id < 1000 GROUP BY v HAVING v = 'a';
SELECT DISTINCT json_extract(state_variant('flags', 'v', json_object('userId', id)), '$.payload')
  FROM users WHERE id < 50 AND json_extract(state_variant('flags', 'v', json_object('userId', id)), '$.name') = 'b';

-- 46.7 state_bucket is Unleash's normalizedValue
SELECT state_bucket('', '0'), state_bucket('g1', '42'), state_bucket('', '0', 1000, 86028157);
SELECT state_bucket(NULL, 'x'), state_bucket('g', NULL);

-- 46.8 errors
SELECT state_flag('flags', 'on', '{bad');
SELECT state_flag('flags', 'on', '[1,2]');
SELECT state_flag('flags', 'on', 42);
SELECT state_flag('flags', 7);
SELECT state_variant('flags', 'v', 'nope');
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS:kv@);
SELECT state_flag('kv', 'x');
SELECT state_flag('nosuch', 'x');
SELECT state_flag('flags');
SELECT state_bucket('g', 'x', 0);
SELECT state_bucket('g', 'x', 100, -1);
SELECT state_bucket('g', 'x', 'ten');
INSERT INTO flags(name, enabled, strategies) VALUES ('bad', 1, '[{"name":');
INSERT INTO flags(name, enabled, rollout) VALUES ('bad', 1, 101);

-- 46.9 variant weights of any size and type never crash (a total weight
-- in (0, 1) once divided by zero): the bucket is hash % total + 1 with
-- JavaScript's remainder of doubles, as unleash-client 6.12.1 computes it
-- (its answers for these users, per flag, are the expected output: a
-- total below 1 gives no variant; a total beyond 2^32 gives the first),
-- except 'str': a weight that is not a JSON number counts as 0 here, where
-- JavaScript would concatenate the strings and answer 'a
INSERT INTO flags(name, enabled, variants) VALUES
 ('frac', 1, '[{"name":"a","weight":0.5}]'),
 ('frac2', 1, '[{"name":"a","weight":0.3},{"name":"b","weight":0.4}]'),
 ('big', 1, '[{"name":"a","weight":4294967296},{"name":"b","weight":4294967296}]'),
 ('huge', 1, '[{"name":"a","weight":1e300},{"name":"b","weight":1e300}]'),
 ('mixed', 1, '[{"name":"a","weight":1.5},{"name":"b","weight":2.25}]'),
 ('neg', 1, '[{"name":"a","weight":-5},{"name":"b","weight":10}]'),
 ('inf', 1, '[{"name":"a","weight":1e999},{"name":"b","weight":-1e999}]'),
 ('str', 1, '[{"name":"a","weight":"50"},{"name":"b","weight":null},{"name":"c"}]');
CREATE TEMP TABLE users13(x TEXT, k INTEGER PRIMARY KEY);
INSERT INTO users13(x) VALUES ('u'),('1'),('2'),('3'),('4'),('5'),('6'),('7'),('8'),('9'),('10'),('alice'),('bob');
SELECT f, (SELECT group_concat(v, ',') FROM (
         SELECT CASE json_extract(state_variant('flags', f, json_object('userId', x)), '$.enabled')
                WHEN 1 THEN json_extract(state_variant('flags', f, json_object('userId', x)), '$.name')
                ELSE 'null' END AS v
           FROM users13 ORDER BY k))
  FROM (SELECT column1 AS f FROM (VALUES ('frac'), ('frac2'), ('big'), ('huge'), ('mixed'), ('neg'), ('inf'), ('str')));
-- ... and through a dependency on such a flag's variant, from state_flag
INSERT INTO flags(name, enabled, strategies, dependencies) VALUES
 ('child', 1, '[{"name":"default"}]', '[{"feature":"frac","variants":["a"]}]'),
 ('child2', 1, '[{"name":"default"}]', '[{"feature":"big","variants":["a"]}]');
SELECT state_flag('flags', 'child', '{"userId":"u"}'), state_flag('flags', 'child2', '{"userId":"u"}');
-- ... and a strategy's own variants
INSERT INTO flags(name, enabled, strategies) VALUES ('sv', 1,
 '[{"name":"default","variants":[{"name":"x","weight":0.25,"stickiness":"default"}]}]');
SELECT json_extract(state_variant('flags', 'sv', '{"userId":"u"}'), '$.enabled');
-- rollouts and percentages of any JSON type and size
INSERT INTO flags(name, enabled, strategies) VALUES
 ('r-huge', 1, '[{"name":"flexibleRollout","parameters":{"rollout":1e300}}]'),
 ('r-neg', 1, '[{"name":"flexibleRollout","parameters":{"rollout":-1e300}}]'),
 ('r-text', 1, '[{"name":"flexibleRollout","parameters":{"rollout":"lots"}}]'),
 ('r-obj', 1, '[{"name":"gradualRolloutUserId","parameters":{"percentage":{"a":1}}}]'),
 ('r-inf', 1, '[{"name":"gradualRolloutRandom","parameters":{"percentage":1e999}}]');
SELECT state_flag('flags', 'r-huge', '{"userId":"u"}'), state_flag('flags', 'r-neg', '{"userId":"u"}'),
       state_flag('flags', 'r-text', '{"userId":"u"}'), state_flag('flags', 'r-obj', '{"userId":"u"}'),
       state_flag('flags', 'r-inf', '{"userId":"u"}');
-- a context nested deeper than 500 levels is refused with the reason
SELECT state_flag('flags', 'frac', printf('%.*c', 600, '[') || printf('%.*c', 600, ']'));

-- 46.10 the context is read in place (no parse tree) when it has at most
-- 32 members, else parsed by cJSON: the two read every value alike --
-- escapes, surrogate pairs, numbers as JavaScript's String() writes them,
-- booleans, a key written with escapes, the first of duplicate keys, null
-- falling back to properties, properties that is not an object, a value
-- nested deeper than properties, a long value.  Each case is a flag whose
-- constraint wants the value (IN); 1|1: both readings found it.  (A number
-- with an exponent is written as SQLite's %!.15g writes it -- 1.0e+300,
-- -1.5e-07 -- where JavaScript writes 1e+300 and -1.5e-7: a difference
-- from the SDKs, the same on both readings.)
CREATE TEMP TABLE cases(id INTEGER PRIMARY KEY, ctx TEXT, field TEXT, want TEXT, found INTEGER);
INSERT INTO cases(ctx, field, want, found) VALUES
 ('{"k":"a\u00e9"}', 'k', 'aé', 1),
 ('{"k":"\ud83d\ude00!"}', 'k', '😀!', 1),
 ('{"k":"t\tq\"u\\o\/te\n"}', 'k', 't' || char(9) || 'q"u\o/te' || char(10) || 'x', 0),
 ('{"k":"t\tq\"u\\o\/te"}', 'k', 't' || char(9) || 'q"u\o/te', 1),
 ('{"k":42}', 'k', '42', 1),
 ('{"k":1.0}', 'k', '1', 1),
 ('{"k":1e3}', 'k', '1000', 1),
 ('{"k":-0}', 'k', '0', 1),
 ('{"k":0.1}', 'k', '0.1', 1),
 ('{"k":-1.5E-7}', 'k', '-1.5e-07', 1),
 ('{"k":1e300}', 'k', '1.0e+300', 1),
 ('{"k":true}', 'k', 'true', 1),
 ('{"k":false}', 'k', 'false', 1),
 ('{"us\u0065rId":"x"}', 'userId', 'x', 1),
 ('{"k":"first","k":"second"}', 'k', 'first', 1),
 ('{"k":"first","k":"second"}', 'k', 'second', 0),
 ('{"properties":{"k":"p"}}', 'k', 'p', 1),
 ('{"k":null,"properties":{"k":"p"}}', 'k', 'p', 1),
 ('{"k":{"a":1},"properties":{"k":"p"}}', 'k', 'p', 1),
 ('{"k":"","properties":{"k":"p"}}', 'k', 'p', 0),
 ('{"properties":"k","k2":1}', 'k', 'k', 0),
 ('{"properties":{"k":"a"},"properties":{"k":"b"}}', 'k', 'a', 1),
 ('{"properties":{"o":{"k":"deep"}}}', 'k', 'deep', 0),
 ('{"k":"' || printf('%.*c', 2000, 'z') || '"}', 'k', printf('%.*c', 2000, 'z'), 1),
 (' { "k" : [ "a" ] , "properties" : { "k" : "arr" } } ', 'k', 'arr', 1);
INSERT INTO flags(name, enabled, strategies)
  SELECT 'ctx' || id, 1, json_array(json_object('name', 'default', 'constraints',
           json_array(json_object('contextName', field, 'operator', 'IN', 'values', json_array(want)))))
    FROM cases;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40),
  pad(p) AS (SELECT (SELECT group_concat('"pad' || i || '":0', ',') FROM n) || ',')
SELECT id, found, state_flag('flags', 'ctx' || id, ctx),
       state_flag('flags', 'ctx' || id, '{' || p || substr(ltrim(ctx), 2))
  FROM cases, pad ORDER BY id;

-- 46.11 where Unleash's SDKs disagree, statevtab answers as Unleash's Rust
-- engine (yggdrasil, behind its newer SDKs).  An empty groupId is the
-- group "" (the Node SDK 6.12.1 takes the flag's name instead: its
-- `parameters.groupId || featureToggle`): the answers are those of
-- state_bucket('', id) for all 2000 users, and not those of the flag's name
INSERT INTO flags(name, enabled, strategies) VALUES ('eg', 1,
 '[{"name":"flexibleRollout","parameters":{"rollout":"50","stickiness":"userId","groupId":""}}]');
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
SELECT count(*),
       sum(state_flag('flags', 'eg', json_object('userId', CAST(i AS TEXT))) = (state_bucket('', i) <= 50)),
       sum(state_flag('flags', 'eg', json_object('userId', CAST(i AS TEXT))) = (state_bucket('eg', i) <= 50))
  FROM n;
-- Non-ASCII text is hashed over its UTF-8 bytes (the Node SDK hashes the
-- low byte of each UTF-16 unit): group "ü-unicode", users whose buckets
-- differ between test/flags/vectors-utf8.tsv (the engine's: 33, 91, 10,
-- 12, 47, 35) and vectors.tsv (the Node SDK's: 88, 46, 92, 80, 93, 91):
-- with a 50% rollout the Node SDK answers 0 1 0 0 0 0, statevtab
INSERT INTO flags(name, enabled, strategies) VALUES ('uni', 1,
 '[{"name":"flexibleRollout","parameters":{"rollout":"50","stickiness":"userId","groupId":"ü-unicode"}}]');
SELECT group_concat(state_flag('flags', 'uni', json_object('userId', id)), ' ')
  FROM (SELECT column1 AS id FROM (VALUES ('0'), ('1'), ('10'), ('100'), ('1000'), ('1002')));
