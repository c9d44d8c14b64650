-- 46-flags-segments: the REGEX and IN_CIDR operators and segments beyond
-- the Unleash spec suites (45-flags-spec): the regex dialect and its
-- limits, hostile and invalid patterns, the pattern cache, IPv4 and IPv6
-- networks, segments by option and by the conventional name, their cache
-- across writes, and every error.

CREATE VIRTUAL TABLE flags USING state_flags(@OPTS@);
CREATE TEMP TABLE re(k INTEGER PRIMARY KEY, pattern TEXT, ci INTEGER, subject TEXT);

-- 46s.1 REGEX: RE2's dialect (Unleash's SDKs), unanchored, case-sensitive
-- unless caseInsensitive; what RE2 refuses never matches (lookaround,
-- backreferences, possessive quantifiers, verbs, \K), and '$' is the very
-- end without (?m)
INSERT INTO re(pattern, ci, subject) VALUES
 ('^u\d{3}$', 0, 'u123'), ('^u\d{3}$', 0, 'u1234'), ('cat', 0, 'a cat b'),
 ('^abc$', 1, 'ABC'), ('^abc$', 0, 'ABC'), ('^été$', 1, 'ÉTÉ'),
 ('(?i)^abc', 0, 'AbCd'), ('^(?P<x>a)b$', 0, 'ab'), ('^(?<x>a)b$', 0, 'ab'),
 ('^[[:digit:]]+$', 0, '42'), ('^[]a]+$', 0, ']a]'), ('^a{x}$', 0, 'a{x}'),
 ('\Qa.b\E', 0, 'xa.by'), ('\Qa.b\E', 0, 'xacby'), ('^.$', 0, 'é'),
 ('abc$', 0, 'abc' || char(10)), ('(?m)abc$', 0, 'abc' || char(10)),
 ('a(?=b)', 0, 'ab'), ('(?<=a)b', 0, 'ab'), ('(?!x)a', 0, 'a'),
 ('^(a)\1$', 0, 'aa'), ('^(?P<x>a)(?P=x)$', 0, 'aa'), ('^a++$', 0, 'aa'),
 ('^a{2}+$', 0, 'aa'), ('^a+?b$', 0, 'aab'), ('(*UTF)a', 0, 'a'), ('a\Kb', 0, 'ab'),
 ('(?>a)', 0, 'a'), ('(?#c)a', 0, 'a'), ('', 0, 'anything');
INSERT INTO flags(name, enabled, strategies)
  SELECT 're' || k, 1, json_array(json_object('name', 'default', 'constraints',
           json_array(json_object('contextName', 'userId', 'operator', 'REGEX',
                                  'value', pattern, 'caseInsensitive', json(CASE ci WHEN 1 THEN 'true' ELSE 'false' END)))))
    FROM re;
SELECT k, pattern, ci, replace(subject, char(10), '\n'),
       state_flag('flags', 're' || k, json_object('userId', subject))
  FROM re ORDER BY k;

-- 46s.2 an invalid pattern, a value that is not a string, a missing
-- context field: the constraint is false -- and true inverted, as in the
-- Node SDK (the operator ran and did not match)
INSERT INTO flags(name, enabled, strategies) VALUES
 ('bad', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX","value":"(x"}]}]'),
 ('bad-inv', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX","value":"(x","inverted":true}]}]'),
 ('num', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX","value":5}]}]'),
 ('none', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX"}]}]'),
 ('ctx', 1, '[{"name":"default","constraints":[{"contextName":"plan","operator":"REGEX","value":"^p"}]}]');
SELECT state_flag('flags', 'bad', '{"userId":"x"}'), state_flag('flags', 'bad-inv', '{"userId":"x"}'),
       state_flag('flags', 'num', '{"userId":"5"}'), state_flag('flags', 'none', '{"userId":"x"}'),
       state_flag('flags', 'ctx', '{}'), state_flag('flags', 'ctx', '{"properties":{"plan":"pro"}}'),
       state_flag('flags', 'ctx', '{"plan":7}'), state_flag('flags', 'ctx', '{"plan":null}');

-- 46s.3 hostile patterns do not stall: a match that needs more than the
-- limits (50,000 backtracking steps, depth 1,000) is no match, for each
-- of 200 evaluations; a pattern longer than 4,096 bytes never matches
INSERT INTO flags(name, enabled, strategies) VALUES
 ('evil', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX","value":"^(a+)+$"}]}]'),
 ('evil2', 1, '[{"name":"default","constraints":[{"contextName":"userId","operator":"REGEX","value":"^(a|a?)+b$"}]}]'),
 ('long', 1, json_array(json_object('name', 'default', 'constraints',
   json_array(json_object('contextName', 'userId', 'operator', 'REGEX', 'value', printf('%.*c', 5000, 'a')))))),
 ('long-ok', 1, json_array(json_object('name', 'default', 'constraints',
   json_array(json_object('contextName', 'userId', 'operator', 'REGEX', 'value', printf('%.*c', 4000, 'a'))))));
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200)
SELECT sum(state_flag('flags', 'evil', json_object('userId', printf('%.*c', 30 + i % 5, 'a') || '!'))),
       sum(state_flag('flags', 'evil2', json_object('userId', printf('%.*c', 30 + i % 5, 'a')))),
       sum(state_flag('flags', 'evil', json_object('userId', printf('%.*c', 30 + i % 5, 'a'))))
  FROM n;
SELECT state_flag('flags', 'long', json_object('userId', printf('%.*c', 5000, 'a'))),
       state_flag('flags', 'long-ok', json_object('userId', printf('%.*c', 4000, 'a')));

-- 46s.4 the pattern cache: 300 distinct patterns (more than the 256 kept
-- per table), each evaluated twice, all right
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
INSERT INTO flags(name, enabled, strategies)
  SELECT 'p' || i, 1, json_array(json_object('name', 'default', 'constraints',
           json_array(json_object('contextName', 'userId', 'operator', 'REGEX', 'value', '^x' || i || '$'))))
    FROM n;
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
SELECT sum(state_flag('flags', 'p' || i, json_object('userId', 'x' || i))),
       sum(state_flag('flags', 'p' || i, json_object('userId', 'x' || (i + 1)))),
       sum(state_flag('flags', 'p' || i, json_object('userId', 'x' || i)))
  FROM n;

-- 46s.5 IN_CIDR: IPv4 and IPv6 networks and single addresses, prefixes
-- /0 to /32 and /128, blanks trimmed; an IPv4 address is in no IPv6
-- network (::ffff:a.b.c.d included) and the context must be one address;
-- invalid entries are skipped
INSERT INTO flags(name, enabled, strategies) VALUES
 ('c4', 1, '[{"name":"default","constraints":[{"contextName":"remoteAddress","operator":"IN_CIDR","values":["10.0.0.0/8"," 192.168.1.7 ","x","10.0.0.0/33","1.2.3.4/"]}]}]'),
 ('c0', 1, '[{"name":"default","constraints":[{"contextName":"remoteAddress","operator":"IN_CIDR","values":["0.0.0.0/0"]}]}]'),
 ('c6', 1, '[{"name":"default","constraints":[{"contextName":"ip","operator":"IN_CIDR","values":["2001:db8::/32","::1","fe80::/10","::ffff:0:0/96"]}]}]'),
 ('c6-inv', 1, '[{"name":"default","constraints":[{"contextName":"ip","operator":"IN_CIDR","values":["2001:db8::/32"],"inverted":true}]}]'),
 ('c-none', 1, '[{"name":"default","constraints":[{"contextName":"ip","operator":"IN_CIDR","values":[]}]}]');
SELECT state_flag('flags', 'c4', '{"remoteAddress":"10.255.0.1"}'), state_flag('flags', 'c4', '{"remoteAddress":"11.0.0.1"}'),
       state_flag('flags', 'c4', '{"remoteAddress":"192.168.1.7"}'), state_flag('flags', 'c4', '{"remoteAddress":"192.168.1.8"}'),
       state_flag('flags', 'c4', '{"remoteAddress":"10.0.0.0/8"}'), state_flag('flags', 'c4', '{"remoteAddress":"::ffff:10.0.0.1"}'),
       state_flag('flags', 'c4', '{"properties":{"remoteAddress":"10.1.1.1"}}'), state_flag('flags', 'c4', '{}');
SELECT state_flag('flags', 'c0', '{"remoteAddress":"203.0.113.9"}'), state_flag('flags', 'c0', '{"remoteAddress":"2001:db8::1"}');
SELECT state_flag('flags', 'c6', '{"ip":"2001:0db8:ffff::1"}'), state_flag('flags', 'c6', '{"ip":"2001:db9::1"}'),
       state_flag('flags', 'c6', '{"ip":"0:0:0:0:0:0:0:1"}'), state_flag('flags', 'c6', '{"ip":"FE80::abcd"}'),
       state_flag('flags', 'c6', '{"ip":"::ffff:1.2.3.4"}'), state_flag('flags', 'c6', '{"ip":"1.2.3.4"}'),
       state_flag('flags', 'c6', '{"ip":"2001:db8::1::2"}'), state_flag('flags', 'c6-inv', '{"ip":"2001:db9::1"}'),
       state_flag('flags', 'c-none', '{"ip":"::1"}');
-- ... and the remoteAddress strategy shares the parsing: IPv6 networks too
INSERT INTO flags(name, enabled, strategies) VALUES
 ('ra', 1, '[{"name":"remoteAddress","parameters":{"IPs":"10.0.0.0/8, 2001:db8::/32, ::1"}}]');
SELECT state_flag('flags', 'ra', '{"remoteAddress":"10.9.9.9"}'), state_flag('flags', 'ra', '{"remoteAddress":"2001:db8::5"}'),
       state_flag('flags', 'ra', '{"remoteAddress":"::1"}'), state_flag('flags', 'ra', '{"remoteAddress":"2001:db9::5"}');

-- 46s.6 segments: a state_segments table named by segments=; a strategy
-- holds when its constraints and every constraint of every segment it
-- names hold; a missing segment (or id that is not an integer, or
-- "segments" that is not an array) makes it false; [] and null name none
CREATE VIRTUAL TABLE segs USING state_segments(@OPTS@);
CREATE VIRTUAL TABLE fs USING state_flags(@OPTS:fs@, segments='segs');
INSERT INTO segs(id, name, constraints) VALUES
 (1, 'pro users', '[{"contextName":"plan","operator":"IN","values":["pro"]}]'),
 (2, 'staff', '[{"contextName":"email","operator":"REGEX","value":"@example\\.com$","caseInsensitive":true}]'),
 (3, 'empty', '[]');
SELECT id, name, constraints, updated_at > 0 FROM segs ORDER BY id;
INSERT INTO fs(name, enabled, strategies) VALUES
 ('s1', 1, '[{"name":"default","segments":[1]}]'),
 ('s12', 1, '[{"name":"default","segments":[1,2],"constraints":[{"contextName":"country","operator":"IN","values":["fr"]}]}]'),
 ('s3', 1, '[{"name":"default","segments":[3]}]'),
 ('s-missing', 1, '[{"name":"default","segments":[1,404]}]'),
 ('s-text', 1, '[{"name":"default","segments":["1"]}]'),
 ('s-frac', 1, '[{"name":"default","segments":[1.5]}]'),
 ('s-obj', 1, '[{"name":"default","segments":{"id":1}}]'),
 ('s-none', 1, '[{"name":"default","segments":[]},{"name":"default","segments":[404]}]'),
 ('s-null', 1, '[{"name":"default","segments":null}]'),
 ('s-second', 1, '[{"name":"default","segments":[404]},{"name":"userWithId","parameters":{"userIds":"u1"},"segments":[1]}]');
SELECT state_flag('fs', 's1', '{"plan":"pro"}'), state_flag('fs', 's1', '{"plan":"free"}'), state_flag('fs', 's1', '{}');
SELECT state_flag('fs', 's12', '{"plan":"pro","email":"A@EXAMPLE.COM","country":"fr"}'),
       state_flag('fs', 's12', '{"plan":"pro","email":"a@example.org","country":"fr"}'),
       state_flag('fs', 's12', '{"plan":"pro","email":"a@example.com","country":"de"}');
SELECT state_flag('fs', 's3'), state_flag('fs', 's-missing', '{"plan":"pro"}'),
       state_flag('fs', 's-text', '{"plan":"pro"}'), state_flag('fs', 's-frac', '{"plan":"pro"}'),
       state_flag('fs', 's-obj', '{"plan":"pro"}'), state_flag('fs', 's-none'), state_flag('fs', 's-null'),
       state_flag('fs', 's-second', '{"plan":"pro","userId":"u1"}'), state_flag('fs', 's-second', '{"plan":"pro","userId":"u2"}');
SELECT state_variant('fs', 's1', '{"plan":"pro"}'), state_variant('fs', 's-missing', '{"plan":"pro"}');

-- 46s.7 a write to the segments table through this connection is seen at
-- once (its cache is dropped); a deleted segment is missing
SELECT state_flag('fs', 's1', '{"plan":"team"}');
UPDATE segs SET constraints = '[{"contextName":"plan","operator":"IN","values":["pro","team"]}]' WHERE id = 1;
SELECT state_flag('fs', 's1', '{"plan":"team"}');
DELETE FROM segs WHERE id = 1;
SELECT state_flag('fs', 's1', '{"plan":"team"}');
INSERT INTO segs(id, constraints) VALUES (1, '[]');
SELECT state_flag('fs', 's1', '{"plan":"team"}');

-- 46s.8 without segments=, a state_segments table named "segments" in the
-- same schema is the flags table's; without one, every segment is missing
SELECT state_flag('flags', 'x-seg', '{}');
INSERT INTO flags(name, enabled, strategies) VALUES ('x-seg', 1, '[{"name":"default","segments":[7]}]');
SELECT state_flag('flags', 'x-seg', '{}');
CREATE VIRTUAL TABLE segments USING state_segments(@OPTS:dflt@);
INSERT INTO segments(id, constraints) VALUES (7, '[]');
SELECT state_flag('flags', 'x-seg', '{}');

-- 46s.9 errors: bad segment rows
INSERT INTO segs(id, constraints) VALUES (NULL, '[]');
INSERT INTO segs(id, constraints) VALUES ('seven', '[]');
INSERT INTO segs(id, constraints) VALUES (1.5, '[]');
INSERT INTO segs(id, constraints) VALUES (2, '[]');
INSERT INTO segs(id, constraints) VALUES (9, '[{"contextName":');
INSERT INTO segs(id, constraints) VALUES (9, '{"contextName":"a","operator":"IN"}');
INSERT INTO segs(id, constraints) VALUES (9, '"x"');
INSERT INTO segs(id, constraints) VALUES (9, '[1]');
INSERT INTO segs(id, constraints) VALUES (9, '[{"contextName":"a","operator":"IN","values":["]"]}, []]');
INSERT INTO segs(id, constraints) VALUES (9, NULL);
UPDATE segs SET constraints = '[null]' WHERE id = 2;
SELECT id, constraints FROM segs WHERE id IN (2, 9);

-- 46s.10 errors: the segments= option
CREATE VIRTUAL TABLE e1 USING state_tasks(@OPTS@, segments='segs');
CREATE VIRTUAL TABLE e2 USING state_flags(@OPTS@, segments='nosuch');
CREATE VIRTUAL TABLE e3 USING state_flags(@OPTS@, segments='flags');
CREATE VIRTUAL TABLE e4 USING state_flags(@OPTS@, segments='');
CREATE VIRTUAL TABLE e5 USING state_flags(@OPTS@, segments='segs', segments='segs');
CREATE VIRTUAL TABLE e6 USING state_segments(@OPTS@, segments='segs');
CREATE TABLE plain(x);
CREATE VIRTUAL TABLE e7 USING state_flags(@OPTS@, segments='plain');
CREATE VIRTUAL TABLE e8 USING state_flags(@OPTS@, segments='nosuchschema.segs');
CREATE VIRTUAL TABLE e9 USING state_flags(store='sqlite', segments='segs');
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'e[0-9]*';
-- ... a segments table dropped since: an error naming the option, only
-- when a strategy names segments
CREATE VIRTUAL TABLE segs2 USING state_segments(@OPTS:s2@);
CREATE VIRTUAL TABLE fs2 USING state_flags(@OPTS:fs2@, segments='segs2');
INSERT INTO fs2(name, enabled, strategies) VALUES
 ('plain', 1, '[{"name":"default"}]'), ('seg', 1, '[{"name":"default","segments":[1]}]');
DROP TABLE segs2;
SELECT state_flag('fs2', 'plain');
SELECT state_flag('fs2', 'seg');
SELECT state_variant('fs2', 'seg');
