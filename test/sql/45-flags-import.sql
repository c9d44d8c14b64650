-- 45-flags-import: Unleash's JSON in and out of a flags table --
-- state_flags_import (an /api/client/features response, with segments),
-- state_flags_export (the same shape back) and the round trip between
-- stores; every error names what is wrong, and a call is all or nothing.
-- The delta API's events are 45-flags-delta.

CREATE VIRTUAL TABLE segs USING state_segments(@OPTS@);
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS@, segments='segs');
CREATE VIRTUAL TABLE lsegs USING state_segments();
CREATE VIRTUAL TABLE lfl USING state_flags(segments='lsegs');
CREATE VIRTUAL TABLE nosegs USING state_flags(@OPTS:nosegs@);
CREATE TEMP TABLE doc(j TEXT);
INSERT INTO doc VALUES ('{"version":2,"query":{"project":["default"]},"features":[
 {"name":"checkout","description":"new checkout","enabled":true,"project":"default","type":"release","stale":false,"impressionData":false,
  "strategies":[{"name":"flexibleRollout","parameters":{"rollout":"40","stickiness":"userId","groupId":"checkout"},
    "constraints":[{"contextName":"environment","operator":"IN","values":["prod","staging"]},
                   {"contextName":"plan","operator":"STR_STARTS_WITH","values":["PRO"],"caseInsensitive":true}],
    "segments":[1],
    "variants":[{"name":"a","weight":500,"weightType":"variable","stickiness":"userId","payload":{"type":"string","value":"A"}},
                {"name":"b","weight":500,"weightType":"variable","stickiness":"userId"}]},
   {"name":"userWithId","parameters":{"userIds":"7, 8"},"constraints":[]}],
  "variants":[]},
 {"name":"beta","description":null,"enabled":true,
  "strategies":[{"name":"default","constraints":[{"contextName":"email","operator":"REGEX","value":"@example\\.com$","caseInsensitive":true},
                                                  {"contextName":"age","operator":"NUM_LT","value":"30","inverted":true}]}],
  "variants":[{"name":"red","weight":1,"overrides":[{"contextName":"userId","values":["3"]}]},{"name":"blue","weight":2,"payload":{"type":"json","value":"{\"k\":1}"}}]},
 {"name":"child","enabled":true,"strategies":[{"name":"default"}],"dependencies":[{"feature":"beta","enabled":true,"variants":["blue"]}]},
 {"name":"net","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"remoteAddress","operator":"IN_CIDR","values":["10.0.0.0/8","2001:db8::/32"]}],"segments":[2]}]},
 {"name":"off","enabled":false,"strategies":[{"name":"default"}]},
 {"name":"semver","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"appVersion","operator":"SEMVER_GTE","value":"2.1.0"}]}]}],
 "segments":[{"id":1,"name":"europe","constraints":[{"contextName":"country","operator":"IN","values":["fr","de"]}]},
             {"id":2,"name":"not-banned","constraints":[{"contextName":"userId","operator":"IN","values":["13"],"inverted":true}]}]}');
CREATE TEMP TABLE ctx(k INTEGER PRIMARY KEY, c TEXT);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 120)
INSERT INTO ctx(c) SELECT json_object('userId', CAST(i AS TEXT),
  'environment', CASE i % 3 WHEN 0 THEN 'prod' WHEN 1 THEN 'staging' ELSE 'dev' END,
  'remoteAddress', CASE i % 4 WHEN 0 THEN '10.1.2.3' WHEN 1 THEN '2001:db8::' || i WHEN 2 THEN '192.168.0.1' ELSE 'nope' END,
  'appVersion', CASE i % 2 WHEN 0 THEN '2.1.' || i ELSE '1.9.0' END,
  'properties', json_object('plan', CASE i % 2 WHEN 0 THEN 'pro-annual' ELSE 'free' END,
                            'country', CASE i % 5 WHEN 0 THEN 'us' ELSE 'fr' END,
                            'email', 'u' || i || CASE i % 2 WHEN 0 THEN '@Example.COM' ELSE '@other.org' END,
                            'age', 18 + i % 40))
  FROM n;
CREATE TEMP TABLE names(name TEXT);
INSERT INTO names VALUES ('checkout'), ('beta'), ('child'), ('net'), ('off'), ('semver'), ('missing');

-- 45i.1 import: the number of features; the table holds exactly them, the
-- segments table the segments, the definitions as written but minified
-- (numbers and escapes kept); project, type, stale, impressionData are not kept
INSERT INTO fl(name, enabled) VALUES ('stale-row', 1);
SELECT state_flags_import('fl', (SELECT j FROM doc));
SELECT name, enabled, description, rollout FROM fl ORDER BY name;
SELECT id, name, constraints FROM segs ORDER BY id;
SELECT variants FROM fl WHERE name = 'beta';
SELECT strategies FROM fl WHERE name = 'beta';

-- 45i.2 the imported flags evaluate (segments too)
SELECT name, sum(state_flag('fl', name, c)) FROM names, ctx GROUP BY name ORDER BY name;
SELECT state_variant('fl', 'beta', '{"userId":"3","properties":{"email":"a@example.com"}}');

-- 45i.3 export: Unleash's shape, features by name, segments by id
SELECT json_extract(state_flags_export('fl'), '$.version'),
       json_array_length(state_flags_export('fl'), '$.features'),
       json_array_length(state_flags_export('fl'), '$.segments');
SELECT json_extract(state_flags_export('fl'), '$.features[1]');
SELECT json_extract(state_flags_export('fl'), '$.segments');

-- 45i.4 the round trip: the export imported into another store (here the
-- local one) exports the same JSON and gives the same answers for every
-- flag, context and variant
SELECT state_flags_import('lfl', state_flags_export('fl'));
SELECT state_flags_export('lfl') = state_flags_export('fl');
SELECT count(*), sum(state_flag('fl', name, c) <> state_flag('lfl', name, c)),
       sum(state_variant('fl', name, c) <> state_variant('lfl', name, c))
  FROM names, ctx;
-- and back again: import of an export changes nothing
SELECT state_flags_import('fl', state_flags_export('lfl'));
SELECT state_flags_export('lfl') = state_flags_export('fl');

-- 45i.5 a rollout without strategies is exported as the flexibleRollout it
-- stands for (same answers after a round trip); with strategies it plays no
-- part and is left out
INSERT INTO fl(name, enabled, rollout) VALUES ('r30', 1, 30);
INSERT INTO fl(name, enabled, rollout, strategies) VALUES ('r0s', 1, 0, '[{"name":"default"}]');
SELECT json_extract(state_flags_export('fl'), '$.features[' || k || ']')
  FROM (SELECT key AS k, value ->> '$.name' AS n FROM json_each(state_flags_export('fl'), '$.features'))
 WHERE n IN ('r30', 'r0s') ORDER BY n;
SELECT state_flags_import('lfl', state_flags_export('fl'));
SELECT name, rollout FROM lfl WHERE name IN ('r30', 'r0s') ORDER BY name;
SELECT sum(state_flag('fl', 'r30', c)), sum(state_flag('lfl', 'r30', c)),
       sum(state_flag('fl', 'r30', c) <> state_flag('lfl', 'r30', c)),
       sum(state_flag('lfl', 'r0s', c)) FROM ctx;

-- 45i.6 without a "segments" member the segments stay; "segments": []
-- empties them; an empty features list empties the flags table
SELECT state_flags_import('fl', '{"features":[{"name":"x","enabled":true}]}');
SELECT (SELECT group_concat(name) FROM fl), (SELECT count(*) FROM segs);
SELECT state_flags_import('fl', '{"features":[],"segments":[]}');
SELECT (SELECT count(*) FROM fl), (SELECT count(*) FROM segs);

-- 45i.7 null or missing lists are empty ones; a flags table without a
-- segments table takes definitions without segments, exports "segments": []
SELECT state_flags_import('nosegs', '{"features":[{"name":"n","enabled":false,"strategies":null,"description":"d"}],"segments":[]}');
SELECT name, enabled, description, strategies, variants, dependencies FROM nosegs;
SELECT state_flags_export('nosegs');

-- 45i.8 inside the caller's transaction: part of it
SELECT state_flags_import('fl', (SELECT j FROM doc));
BEGIN;
SELECT state_flags_import('fl', '{"features":[{"name":"only","enabled":true}],"segments":[]}');
SELECT group_concat(name) FROM fl;
ROLLBACK;
SELECT count(*), (SELECT count(*) FROM segs) FROM fl;

-- 45i.9 errors name what is wrong, and change nothing
CREATE TEMP TABLE before(j TEXT);
INSERT INTO before SELECT state_flags_export('fl');
SELECT state_flags_import('fl', NULL);
SELECT state_flags_import('fl', 42);
SELECT state_flags_import('fl', x'7b7d');
SELECT state_flags_import('fl', '{"features":[');
SELECT state_flags_import('fl', '[]');
SELECT state_flags_import('fl', '{"version":2}');
SELECT state_flags_import('fl', '{"features":{}}');
SELECT state_flags_import('fl', '{"features":[1]}');
SELECT state_flags_import('fl', '{"features":[{"enabled":true}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"","enabled":true}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true},{"name":"b","enabled":"yes"}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"description":1}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":{}}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":["default"]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"parameters":{}}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","parameters":"x"}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","constraints":{}}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"x"}]}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","constraints":[{"operator":"IN"}]}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","constraints":[{"contextName":"x","operator":"IN","values":"a"}]}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","segments":"1"}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","segments":[1.5]}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"strategies":[{"name":"default","variants":[{"weight":1}]}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"variants":[{"name":1}]}]}');
SELECT state_flags_import('fl', '{"features":[{"name":"a","enabled":true,"dependencies":[{"enabled":true}]}]}');
SELECT state_flags_import('fl', '{"features":[],"segments":{}}');
SELECT state_flags_import('fl', '{"features":[],"segments":[{"name":"s"}]}');
SELECT state_flags_import('fl', '{"features":[],"segments":[{"id":"1"}]}');
SELECT state_flags_import('fl', '{"features":[],"segments":[{"id":1,"name":2}]}');
SELECT state_flags_import('fl', '{"features":[],"segments":[{"id":1,"constraints":[[]]}]}');
SELECT state_flags_import('nosegs', '{"features":[],"segments":[{"id":1}]}');
SELECT state_flags_import('segs', '{"features":[]}');
SELECT state_flags_import('nope', '{"features":[]}');
SELECT state_flags_export('segs');
SELECT count(*), (SELECT count(*) FROM segs) FROM fl;
SELECT state_flags_export('fl') = (SELECT j FROM before);

-- 45i.10 writers are SQLITE_DIRECTONLY: not from a view or trigger
CREATE VIEW v_import AS SELECT state_flags_import('fl', '{"features":[]}');
SELECT * FROM v_import;
CREATE VIEW v_export AS SELECT state_flags_export('fl');
SELECT * FROM v_export;
CREATE VIEW v_delta AS SELECT state_flags_apply_delta('fl', '[]');
SELECT * FROM v_delta;
SELECT count(*) FROM fl;
