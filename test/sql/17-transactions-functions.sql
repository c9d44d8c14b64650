-- 17-transactions-functions: the atomic functions called inside an
-- explicit transaction are part of it on every store: COMMIT keeps them,
-- ROLLBACK and ROLLBACK TO undo them, whether or not the transaction had
-- written a row before.  (Tokens are compared, not printed.)

CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS@);
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@, dead_letters='dl');
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE le USING state_leases(@OPTS@);
CREATE VIRTUAL TABLE si USING state_signals(@OPTS@);
CREATE VIRTUAL TABLE ex USING state_executions(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 17f.1 state_incr: ROLLBACK undoes every increment of the transaction (a
-- counter it created is gone); COMMIT keeps them
BEGIN;
SELECT state_incr('co', 's', 'n', 5);
SELECT state_incr('co', 's', 'n', 2);
ROLLBACK;
SELECT count(*) FROM co;
SELECT state_incr('co', 's', 'n');
BEGIN;
SELECT state_incr('co', 's', 'n', 10);
ROLLBACK;
SELECT value FROM co WHERE scope = 's' AND name = 'n';
BEGIN;
SELECT state_incr('co', 's', 'n', 10);
COMMIT;
SELECT value FROM co WHERE scope = 's' AND name = 'n';

-- 17f.2 ... whether or not the transaction wrote a row first, and with the
-- row: both undone, or both kept
BEGIN;
INSERT INTO kv(scope, key, value) VALUES ('a', 'k', '1');
SELECT state_incr('co', 's', 'n', 100);
ROLLBACK;
SELECT value FROM co WHERE scope = 's' AND name = 'n';
SELECT count(*) FROM kv;
BEGIN;
SELECT state_incr('co', 's', 'n', 100);
INSERT INTO kv(scope, key, value) VALUES ('a', 'k', '1');
COMMIT;
SELECT value FROM co WHERE scope = 's' AND name = 'n';
SELECT scope, key, value FROM kv;

-- 17f.3 state_claim: a rolled-back claim leaves the task pending, its
-- attempts and lease as before; a committed one holds it
INSERT INTO ta(id, queue, name, max_attempts) VALUES ('t1', 'q', 'job', 2);
BEGIN;
SELECT id, attempts, lease_owner FROM state_claim('ta', 'q', 'w1', 60000);
ROLLBACK;
SELECT id, state, attempts, lease_owner, lease_expires_at FROM ta;
BEGIN;
INSERT INTO temp.v SELECT 'tok', lease_token FROM state_claim('ta', 'q', 'w2', 60000);
COMMIT;
SELECT id, state, attempts, lease_owner, lease_token = (SELECT x FROM v WHERE k = 'tok') FROM ta;

-- 17f.4 state_complete, state_renew and state_fail undone: the task is
-- held as before, with the same lease, and the token still completes it
INSERT INTO temp.v SELECT 'exp', lease_expires_at FROM ta WHERE id = 't1';
BEGIN;
SELECT state_complete('ta', 't1', (SELECT x FROM v WHERE k = 'tok'), '{"r":1}');
SELECT state, result FROM ta WHERE id = 't1';
ROLLBACK;
SELECT state, result, lease_owner, lease_expires_at = (SELECT x FROM v WHERE k = 'exp') FROM ta WHERE id = 't1';
BEGIN;
SELECT state_renew('ta', 't1', (SELECT x FROM v WHERE k = 'tok'), 900000) > 0;
ROLLBACK;
SELECT lease_expires_at = (SELECT x FROM v WHERE k = 'exp') FROM ta WHERE id = 't1';
BEGIN;
SELECT state_fail('ta', 't1', (SELECT x FROM v WHERE k = 'tok'), 'boom', 1000);
SELECT state, error FROM ta WHERE id = 't1';
ROLLBACK;
SELECT state, error, attempts, lease_owner FROM ta WHERE id = 't1';
SELECT state_complete('ta', 't1', (SELECT x FROM v WHERE k = 'tok'), '{"r":2}');
SELECT state, result FROM ta WHERE id = 't1';

-- 17f.5 a failure that kills the task (attempts used up), rolled back:
-- no dead letter, the task held as before; committed: dead and lettered
INSERT INTO ta(id, queue, name, max_attempts) VALUES ('t2', 'q2', 'job', 1);
INSERT INTO temp.v SELECT 'tok2', lease_token FROM state_claim('ta', 'q2', 'w', 60000);
BEGIN;
SELECT state_fail('ta', 't2', (SELECT x FROM v WHERE k = 'tok2'), 'fatal');
SELECT count(*) FROM dl;
ROLLBACK;
SELECT state, error, attempts FROM ta WHERE id = 't2';
SELECT count(*) FROM dl;
BEGIN;
SELECT state_fail('ta', 't2', (SELECT x FROM v WHERE k = 'tok2'), 'fatal');
COMMIT;
SELECT state, error FROM ta WHERE id = 't2';
SELECT task_id, reason FROM dl;

-- 17f.6 a claim that reaps an expired lease into a dead letter, rolled
-- back: the task is claimed again (expired), no dead letter
INSERT INTO ta(id, queue, name, max_attempts) VALUES ('t3', 'q3', 'job', 1);
SELECT count(*) FROM state_claim('ta', 'q3', 'w', 0);
BEGIN;
SELECT count(*) FROM state_claim('ta', 'q3', 'w', 60000);
SELECT state FROM ta WHERE id = 't3';
ROLLBACK;
SELECT state, attempts FROM ta WHERE id = 't3';
SELECT count(*) FROM dl WHERE task_id = 't3';

-- 17f.7 state_lease and state_release: a rolled-back lease leaves the name
-- free; a rolled-back release leaves it held
BEGIN;
SELECT state_lease('le', 'job', 'a', 60000) > 0;
ROLLBACK;
SELECT count(*) FROM le WHERE owner IS NOT NULL AND expires_at > 0 AND depth > 0;
SELECT state_lease('le', 'job', 'b', 60000) > 0;
BEGIN;
SELECT state_release('le', 'job', 'b');
ROLLBACK;
SELECT owner, depth FROM le WHERE name = 'job';
SELECT state_lease('le', 'job', 'c', 60000);

-- 17f.8 state_signal and state_take: a rolled-back signal was never sent;
-- a rolled-back take leaves the signal to take again
INSERT INTO ex(id, name) VALUES ('e1', 'wf');
BEGIN;
SELECT state_signal('si', 'e1', 'go', '{"n":1}') IS NOT NULL;
ROLLBACK;
SELECT count(*) FROM si;
SELECT state_signal('si', 'e1', 'go', '{"n":2}') IS NOT NULL;
BEGIN;
SELECT state_take('si', 'e1', 'go');
SELECT state_take('si', 'e1', 'go');
ROLLBACK;
SELECT consumed_at IS NULL FROM si;
SELECT state_take('si', 'e1', 'go');

-- 17f.9 state_progress and state_pause / state_resume undone
BEGIN;
SELECT state_progress('ex', 'e1', '{"step":1}');
ROLLBACK;
SELECT progress FROM ex WHERE id = 'e1';
BEGIN;
SELECT state_pause('ta', 'q');
ROLLBACK;
SELECT state_paused('ta', 'q');
SELECT state_pause('ta', 'q');
BEGIN;
SELECT state_resume('ta', 'q');
ROLLBACK;
SELECT state_paused('ta', 'q');
SELECT state_resume('ta', 'q');

-- 17f.10 savepoints: ROLLBACK TO undoes the functions called since the
-- savepoint and keeps those before; RELEASE keeps them for the COMMIT
BEGIN;
SELECT state_incr('co', 's', 'm', 1);
SAVEPOINT a;
SELECT state_incr('co', 's', 'm', 10);
SAVEPOINT b;
SELECT state_incr('co', 's', 'm', 100);
ROLLBACK TO b;
SELECT state_incr('co', 's', 'm', 1000);
RELEASE b;
ROLLBACK TO a;
SELECT state_incr('co', 's', 'm', 10000);
RELEASE a;
COMMIT;
SELECT value FROM co WHERE scope = 's' AND name = 'm';

-- 17f.11 a savepoint taken before the first function of the transaction:
-- ROLLBACK TO it undoes the function, the outer ROLLBACK the rest
BEGIN;
SAVEPOINT early;
SELECT state_incr('co', 's', 'p', 1);
ROLLBACK TO early;
SELECT state_incr('co', 's', 'p', 2);
COMMIT;
SELECT value FROM co WHERE scope = 's' AND name = 'p';
SAVEPOINT outer_sp;
SELECT state_incr('co', 's', 'p', 40);
ROLLBACK TO outer_sp;
RELEASE outer_sp;
SELECT value FROM co WHERE scope = 's' AND name = 'p';

-- 17f.12 a row written after a function, in the same transaction: both
-- kept by COMMIT, both undone by ROLLBACK
INSERT INTO ta(id, queue, name) VALUES ('t4', 'q4', 'job');
BEGIN;
SELECT id FROM state_claim('ta', 'q4', 'w', 60000);
UPDATE ta SET payload = '{"seen":1}' WHERE id = 't4';
ROLLBACK;
SELECT state, attempts, payload FROM ta WHERE id = 't4';
BEGIN;
SELECT id FROM state_claim('ta', 'q4', 'w', 60000);
UPDATE ta SET payload = '{"seen":2}' WHERE id = 't4';
COMMIT;
SELECT state, attempts, payload FROM ta WHERE id = 't4';

-- 17f.13 a claim of several tasks and a completion list, rolled back
INSERT INTO ta(id, queue, name) VALUES ('m1', 'qm', 'job'), ('m2', 'qm', 'job'), ('m3', 'qm', 'job');
BEGIN;
SELECT count(*) FROM state_claim('ta', 'qm', 'w', 60000, 3);
ROLLBACK;
SELECT id, state, attempts FROM ta WHERE queue = 'qm' ORDER BY id;
DELETE FROM temp.v;
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('ta', 'qm', 'w', 60000, 3);
BEGIN;
SELECT state_complete('ta', (SELECT json_group_array(json_object('id', k, 'token', x)) FROM temp.v));
ROLLBACK;
SELECT id, state FROM ta WHERE queue = 'qm' ORDER BY id;
SELECT state_complete('ta', (SELECT json_group_array(json_object('id', k, 'token', x)) FROM temp.v));

-- 17f.14 a statement that fails after calling a function does not undo the
-- function (its work is done by statements of its own); the transaction's
-- COMMIT keeps it, as it keeps the earlier call
BEGIN;
SELECT state_incr('co', 's', 'z', 1);
SELECT state_incr('co', 's', 'z', 1), json('{bad');
COMMIT;
SELECT value FROM co WHERE scope = 's' AND name = 'z';
