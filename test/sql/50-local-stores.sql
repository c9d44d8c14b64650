-- 50-local-stores: which stores this build has, as the local-store run
-- sees them: the build test/run makes (PostgreSQL and Redis built in).
-- Re-bless when that changes.  Local store only.

-- 53.1 the stores built in
SELECT substr(statevtab_debug(), instr(statevtab_debug(), char(10) || 'stores ') + 1);

-- 53.2 an unreachable Redis server (port 1: nothing listens; no such
-- socket) is SQLITE_CANTOPEN naming the URL, the password redacted; TLS and
-- malformed URLs and parameters are named errors
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1/0');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://user:s3cret@127.0.0.1:1/0', prefix='p:');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://:s3cret@127.0.0.1:1');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='rediss://host:6380');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='unix:/nonexistent/redis.sock');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='unix:relative.sock');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:99999/0');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1/zero');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://u:s3cret@127.0.0.1:1/0?timeout=5');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1/0?command_timeout=-1');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1/0?password=hunter2');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis:///0');
-- a parameter given twice (which would win is a guess) is an error
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1?db=3&db=4&password=hunter2');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:1/2?db=3');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='unix:/x.sock?command_timeout=5&command_timeout=6');
SELECT count(*) FROM t1;

-- 53.2b an unreachable PostgreSQL server (port 1: nothing listens) is
-- SQLITE_CANTOPEN naming the URL, with the password redacted in every form
CREATE VIRTUAL TABLE t1 USING state_kv(store='postgresql://u:pw@127.0.0.1:1/db');
CREATE VIRTUAL TABLE t1 USING state_kv(store='postgres://127.0.0.1:1/db', schema=app);
CREATE VIRTUAL TABLE t1 USING state_kv(store='host=127.0.0.1 port=1 dbname=x password=pw');
SELECT count(*) FROM t1;

-- 53.3 env: resolves the URL at connect time; sqlite: from the environment
.setenv STATEVTAB_TEST_URL sqlite:
CREATE VIRTUAL TABLE e1 USING state_tasks(store='env:STATEVTAB_TEST_URL');
INSERT INTO e1(id, name) VALUES ('a', 'from env');
SELECT id, name FROM e1;
SELECT statevtab_debug('e1');

-- 53.4 the variable is read again when the table is connected again
.open stores.db
.setenv STATEVTAB_TEST_URL sqlite:
CREATE VIRTUAL TABLE e3 USING state_tasks(store='env:STATEVTAB_TEST_URL');
INSERT INTO e3(id, name) VALUES ('b', 'x');
.unsetenv STATEVTAB_TEST_URL
.reopen
SELECT id FROM e3;
.setenv STATEVTAB_TEST_URL sqlite:
.reopen
SELECT id FROM e3;
SELECT sql FROM sqlite_schema WHERE name = 'e3';
