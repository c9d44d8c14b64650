-- 50-local-security: with SQLITE_DBCONFIG_DEFENSIVE on, the local store's
-- shadow tables (xShadowName: <t>_data, <t>_queues) are read-only to SQL,
-- while the statevtab table itself works.  Local store only.

CREATE VIRTUAL TABLE t USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE k USING state_kv(@OPTS@);
INSERT INTO t(id, name) VALUES ('a', 'x');
INSERT INTO k(key, value) VALUES ('a', '1');

-- 51.1 without DEFENSIVE the shadow table is an ordinary table
UPDATE t_data SET name = 'patched' WHERE id = 'a';
SELECT id, name FROM t;

-- 51.2 with DEFENSIVE, INSERT, UPDATE and DELETE on the shadow tables fail
.defensive on
INSERT INTO t_data(id, name, queue, state, priority, run_at, attempts,
                   max_attempts, tags, created_at, updated_at)
VALUES ('b', 'forged', 'default', 'pending', 0, 0, 0, 3, '[]', 0, 0);
UPDATE t_data SET name = 'forged' WHERE id = 'a';
DELETE FROM t_data;
INSERT INTO t_queues(queue, paused_at) VALUES ('q', 1);
UPDATE k_data SET version = 100;
DELETE FROM k_data;
REPLACE INTO k_data(scope, key, value, version, updated_at) VALUES ('', 'a', '9', 1, 0);

-- 51.3 ... as do DROP and ALTER of a shadow table
DROP TABLE t_data;
DROP TABLE t_queues;
ALTER TABLE k_data RENAME TO stolen;
ALTER TABLE k_data ADD COLUMN extra;

-- 51.4 reading them is allowed
SELECT id, name FROM t_data;
SELECT key, value, version FROM k_data;

-- 51.5 the statevtab tables keep working
INSERT INTO t(id, name) VALUES ('c', 'new');
UPDATE t SET name = 'updated' WHERE id = 'a';
DELETE FROM t WHERE id = 'c';
INSERT INTO k(key, value) VALUES ('b', '2');
UPDATE k SET value = '3' WHERE key = 'a';
SELECT id, name FROM t ORDER BY id;
SELECT key, value, version FROM k ORDER BY key;

-- 51.6 ... including CREATE, RENAME and DROP, which write the shadow tables
-- through the extension
CREATE VIRTUAL TABLE u USING state_tasks(@OPTS@);
INSERT INTO u(id, name) VALUES ('u1', 'x');
ALTER TABLE u RENAME TO w;
SELECT id FROM w;
DROP TABLE w;
SELECT count(*) FROM sqlite_schema WHERE name GLOB 'u_*' OR name GLOB 'w_*';

-- 51.7 a shadow-looking name of an ordinary table is not protected: only
-- the shadow tables of a statevtab table are
CREATE TABLE notvtab_data(x);
INSERT INTO notvtab_data VALUES (1);
SELECT x FROM notvtab_data;

-- 51.8 DEFENSIVE is a per-connection setting: a reopened connection
-- without it may write the shadow table again
.open security.db
CREATE VIRTUAL TABLE f USING state_flags(@OPTS@);
INSERT INTO f(name) VALUES ('feature');
.reopen
.defensive on
UPDATE f_data SET enabled = 1;
.defensive off
UPDATE f_data SET enabled = 1;
SELECT name, enabled FROM f;
