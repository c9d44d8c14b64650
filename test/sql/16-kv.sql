-- 16-kv: state_kv's version (1 on insert, +1 on every UPDATE, never
-- written by the caller on UPDATE) and expiry (a row with
-- expires_at <= now is invisible to SELECT, UPDATE and DELETE, and does
-- not block a new row with its key).  The clock starts at 1700000000000.

CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);

-- 16.1 version 1 on insert
INSERT INTO kv(scope, key, value) VALUES ('s', 'a', '1'), ('s', 'b', '"two"');
INSERT INTO kv(key, value) VALUES ('c', '[3]');
SELECT quote(scope), key, value, version, expires_at, updated_at FROM kv ORDER BY key;

-- 16.2 +1 on every UPDATE, whatever it changes
UPDATE kv SET value = '11' WHERE scope = 's' AND key = 'a';
SELECT value, version FROM kv WHERE key = 'a';
UPDATE kv SET value = value WHERE key = 'a';
SELECT value, version FROM kv WHERE key = 'a';
UPDATE kv SET expires_at = 1800000000000 WHERE key = 'a';
SELECT value, version, expires_at FROM kv WHERE key = 'a';
UPDATE kv SET expires_at = NULL WHERE scope = 's';
SELECT key, version FROM kv ORDER BY key;

-- 16.3 a version written by UPDATE is ignored: it still counts up by one
UPDATE kv SET version = 100 WHERE key = 'a';
SELECT version FROM kv WHERE key = 'a';
UPDATE kv SET version = NULL WHERE key = 'a';
SELECT version FROM kv WHERE key = 'a';

-- 16.4 the version follows the row when its key changes
UPDATE kv SET key = 'a2' WHERE key = 'a';
SELECT key, version FROM kv WHERE scope = 's' ORDER BY key;

-- 16.5 compare-and-set on the version: only the first writer wins
UPDATE kv SET value = '"x"' WHERE key = 'b' AND version = 2;
.changes
UPDATE kv SET value = '"y"' WHERE key = 'b' AND version = 2;
.changes
SELECT value, version FROM kv WHERE key = 'b';

-- 16.6 the key is (scope, key): pushed down as one lookup
EXPLAIN QUERY PLAN SELECT value FROM kv WHERE scope = 's' AND key = 'b';
SELECT value FROM kv WHERE scope = 's' AND key = 'b';
EXPLAIN QUERY PLAN SELECT key FROM kv WHERE scope = 's';
SELECT key FROM kv WHERE scope = 's' ORDER BY key;
SELECT key FROM kv WHERE scope = '' ORDER BY key;
EXPLAIN QUERY PLAN SELECT key FROM kv WHERE expires_at > 5;

-- 16.7 rows past their expiry are invisible: expires_at <= now
INSERT INTO kv(scope, key, value, expires_at) VALUES
  ('e', 'past', '1', 1699999999999),
  ('e', 'now', '2', 1700000000000),
  ('e', 'next', '3', 1700000000001),
  ('e', 'never', '4', NULL);
.changes
SELECT key FROM kv WHERE scope = 'e' ORDER BY key;
SELECT count(*) FROM kv WHERE scope = 'e';
SELECT key FROM kv WHERE scope = 'e' AND key = 'past';
SELECT key FROM kv WHERE key IN ('past', 'now', 'next') ORDER BY key;
SELECT key FROM kv WHERE expires_at <= 1700000000001 ORDER BY key;
SELECT key FROM kv WHERE expires_at IS 1699999999999;

-- 16.8 time passes: 'next' expires too
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000001
SELECT key FROM kv WHERE scope = 'e' ORDER BY key;

-- 16.9 UPDATE and DELETE do not see expired rows
UPDATE kv SET value = '9' WHERE scope = 'e';
.changes
SELECT key, value, version FROM kv WHERE scope = 'e' ORDER BY key;
UPDATE kv SET expires_at = NULL WHERE scope = 'e' AND key = 'past';
.changes
DELETE FROM kv WHERE scope = 'e' AND key IN ('past', 'now');
.changes
DELETE FROM kv WHERE scope = 'e' AND expires_at < 1800000000000;
.changes

-- 16.10 inserting over an expired key works, as a new row (version 1)
INSERT INTO kv(scope, key, value) VALUES ('e', 'past', '"reborn"');
SELECT key, value, version, expires_at FROM kv WHERE scope = 'e' ORDER BY key;
INSERT OR IGNORE INTO kv(scope, key, value) VALUES ('e', 'now', '"reborn too"');
.changes
INSERT OR REPLACE INTO kv(scope, key, value) VALUES ('e', 'next', '"and me"');
SELECT key, value, version FROM kv WHERE scope = 'e' ORDER BY key;

-- 16.11 a live key still conflicts
INSERT INTO kv(scope, key, value) VALUES ('e', 'never', '5');
SELECT key, value, version FROM kv WHERE scope = 'e' AND key = 'never';

-- 16.12 a key held only by an expired row is free for an UPDATE too
INSERT INTO kv(scope, key, value, expires_at) VALUES ('m', 'old', '1', 1700000000000);
INSERT INTO kv(scope, key, value) VALUES ('m', 'mover', '2');
SELECT key FROM kv WHERE scope = 'm';
UPDATE kv SET key = 'old' WHERE scope = 'm' AND key = 'mover';
SELECT key, value FROM kv WHERE scope = 'm';

-- 16.13 a row written already expired is never seen
INSERT INTO kv(scope, key, value, expires_at) VALUES ('x', 'dead', '1', 1);
.changes
SELECT count(*) FROM kv WHERE scope = 'x';
UPDATE kv SET expires_at = 1 WHERE scope = 's' AND key = 'b';
SELECT key FROM kv WHERE scope = 's' ORDER BY key;

-- 16.14 value holds any value: text that is JSON is just text, numbers
-- keep their type
INSERT INTO kv(scope, key, value) VALUES ('j', 'bad', 'hello');
INSERT INTO kv(scope, key, value) VALUES ('j', 'int', 42), ('j', 'real', 0.5),
  ('j', 'str', '"hello"'), ('j', 'null', NULL), ('j', 'jnull', 'null');
SELECT key, value, typeof(value) FROM kv WHERE scope = 'j' ORDER BY key;

-- 16.15 a row that expires inside the transaction that wrote it no longer
-- holds its key there
BEGIN;
INSERT INTO kv(scope, key, value, expires_at) VALUES ('x', 'e', '1', 1700000000100);
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000200
SELECT count(*) FROM kv WHERE scope = 'x';
INSERT INTO kv(scope, key, value) VALUES ('x', 'e', '2');
COMMIT;
SELECT key, value FROM kv WHERE scope = 'x';
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000

-- 16.16 every SQLite type round-trips with its typeof() and bytes: blobs
-- with NUL bytes, 64-bit integers, reals exactly, empty text and blob
INSERT INTO kv(scope, key, value) VALUES
  ('t', 'blob', x'80049503000000'), ('t', 'nul', x'00'),
  ('t', 'max', 9223372036854775807), ('t', 'min', -9223372036854775808),
  ('t', 'tenth', 0.1), ('t', 'big', 1e308), ('t', 'tiny', 5e-324),
  ('t', 'negzero', -0.0), ('t', 'inf', 1e999),
  ('t', 'text', ''), ('t', 'eblob', x''), ('t', 'null', NULL),
  ('t', 'json', '{"a":1}'), ('t', 'tag', 'I5'), ('t', 'utf8', 'żółw'),
  ('t', 'textnul', CAST(x'610062' AS TEXT)), ('t', 'fn', x'80049503');
SELECT key, typeof(value), hex(value), length(CAST(value AS BLOB)),
  quote(value) FROM kv WHERE scope = 't' ORDER BY key;
SELECT key FROM kv WHERE scope = 't' AND value = 0.1;
SELECT key FROM kv WHERE scope = 't' AND value = 9223372036854775807;
SELECT key FROM kv WHERE scope = 't' AND value = x'80049503';
SELECT key FROM kv WHERE scope = 't' AND value = '{"a":1}';
SELECT key FROM kv WHERE scope = 't' AND value = 'I5';
SELECT key FROM kv WHERE scope = 't' AND value > 1e300 ORDER BY key;
SELECT key FROM kv WHERE scope = 't' AND value IS NULL;
SELECT key FROM kv WHERE scope = 't' AND typeof(value) = 'blob' ORDER BY value, key;
SELECT (SELECT value FROM kv WHERE scope = 't' AND key = 'tenth') = 0.1,
       (SELECT value FROM kv WHERE scope = 't' AND key = 'big') = 1e308,
       (SELECT value FROM kv WHERE scope = 't' AND key = 'tiny') = 5e-324;

-- 16.17 the JSON functions work on text that holds JSON
SELECT value ->> '$.a', json_type(value) FROM kv WHERE scope = 't' AND key = 'json';

-- 16.18 UPDATE changes the type
UPDATE kv SET value = x'0001ff' WHERE scope = 't' AND key = 'max';
SELECT typeof(value), hex(value), version FROM kv WHERE scope = 't' AND key = 'max';
UPDATE kv SET value = 7 WHERE scope = 't' AND key = 'max';
SELECT typeof(value), value, version FROM kv WHERE scope = 't' AND key = 'max';
UPDATE kv SET value = 'seven' WHERE scope = 't' AND key = 'max';
SELECT typeof(value), value, version FROM kv WHERE scope = 't' AND key = 'max';
UPDATE kv SET value = 7.5 WHERE scope = 't' AND key = 'max';
SELECT typeof(value), value, version FROM kv WHERE scope = 't' AND key = 'max';
UPDATE kv SET value = NULL WHERE scope = 't' AND key = 'max';
SELECT typeof(value), value, version FROM kv WHERE scope = 't' AND key = 'max';

-- 16.19 copied between tables, values keep their type
CREATE VIRTUAL TABLE kv2 USING state_kv(@OPTS:copy@);
INSERT INTO kv2 SELECT * FROM kv WHERE scope = 't';
SELECT count(*) FROM kv2 k2 JOIN kv k1 USING (scope, key)
  WHERE k1.value IS k2.value AND typeof(k1.value) = typeof(k2.value);
SELECT count(*) FROM kv2;

-- 16.20 a column of any type cannot be indexed
CREATE VIRTUAL TABLE kv3 USING state_kv(@OPTS@, indexes='value');
