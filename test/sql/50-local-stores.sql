-- 50-local-stores: which stores this build has, as the local-store run
-- sees them.  Valid for a build configured --without-redis
-- --without-postgres: re-bless (or move cases) when a remote store is
-- compiled in.  Local store only.

-- 53.1 the stores built in
SELECT substr(statevtab_debug(), instr(statevtab_debug(), char(10) || 'stores ') + 1);

-- 53.2 a store that is not compiled in is named, and its URL not echoed
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://127.0.0.1:6379/0');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='redis://user:s3cret@127.0.0.1/0', prefix='p:');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='rediss://host:6380');
CREATE VIRTUAL TABLE t1 USING state_tasks(store='unix:/run/redis.sock');
CREATE VIRTUAL TABLE t1 USING state_kv(store='postgresql://u:pw@localhost/db');
CREATE VIRTUAL TABLE t1 USING state_kv(store='postgres://localhost/db', schema=app);
CREATE VIRTUAL TABLE t1 USING state_kv(store='host=localhost dbname=x password=pw');
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
