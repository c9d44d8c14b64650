-- 65-pooler-store: facts of the PostgreSQL store behind pgbouncer in
-- transaction mode (runs with --store pgbouncer only: the URL carries
-- pooler=transaction): the waits poll without listen=, or LISTEN on the
-- direct connection listen= names; the errors of pooler= and listen=.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE lt USING state_tasks(@OPTS:l@, listen='env:STATEVTAB_PG_URL');

-- 65.1 state_wait without listen= (it polls): 1 at once for a runnable
-- task, 0 after the timeout otherwise
INSERT INTO tasks(id, queue, name) VALUES ('t1', 'q', 'ready');
SELECT state_wait('tasks', 'q', 100), state_wait('tasks', 'empty', 100);

-- 65.2 ... with listen= (a direct connection LISTENs)
INSERT INTO lt(id, queue, name) VALUES ('t1', 'q', 'ready');
SELECT state_wait('lt', 'q', 100), state_wait('lt', 'empty', 100);

-- 65.3 a transaction, savepoints and a rollback through the pooler
BEGIN;
INSERT INTO tasks(id, queue, name) VALUES ('t2', 'q', 'kept');
SAVEPOINT s;
INSERT INTO tasks(id, queue, name) VALUES ('t3', 'q', 'rolled back');
ROLLBACK TO s;
COMMIT;
SELECT id FROM tasks ORDER BY id;
SELECT id, lease_token FROM state_claim('tasks', 'q', 'w', 60000, 5);

-- 65.4 errors: pooler= other than transaction or none; listen= without a
-- pooler, differing between tables of one store, naming an unset variable
-- or a server that cannot be reached (at the first wait)
CREATE VIRTUAL TABLE e1 USING state_kv(store='postgresql://postgres@127.0.0.1:1/x?pooler=session');
CREATE VIRTUAL TABLE e2 USING state_kv(store='env:STATEVTAB_PG_URL', schema='e2', listen='env:STATEVTAB_PG_URL');
CREATE VIRTUAL TABLE e3 USING state_tasks(@OPTS:l@, listen='postgresql://elsewhere');
-- (a store of its own: the same server through env:, schema sv65_e)
CREATE VIRTUAL TABLE e4 USING state_tasks(store='env:STATEVTAB_PGBOUNCER_URL', schema='sv65_e', listen='env:SV_UNSET_VARIABLE_65');
CREATE VIRTUAL TABLE e5 USING state_tasks(store='env:STATEVTAB_PGBOUNCER_URL', schema='sv65_e', listen='postgresql://postgres@127.0.0.1:1/x');
SELECT state_wait('e5', 'q', 10);
DROP TABLE e5;
