-- 44-dedup: dedup= windows of the idempotency key.  row (the default): a
-- (queue, idempotency_key) is unique for as long as its row exists;
-- active: unique among pending and claimed tasks; a period P: unique among
-- tasks whose created_at are less than P apart; active,P: both must hold
-- for two tasks to clash.  A plain INSERT and INSERT OR IGNORE of a
-- clashing task are skipped, INSERT OR REPLACE deletes the clashing task
-- (others of the key stay), an UPDATE into a clash fails (OR IGNORE skips
-- it, OR REPLACE deletes the other).

CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 44.1 malformed values, and the option on a table that has none
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='nope');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='0m');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='10w');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='row,active');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='active,active');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='10m,5m');
CREATE VIRTUAL TABLE bad USING state_tasks(@OPTS@, dedup='active,');
CREATE VIRTUAL TABLE bad USING state_kv(@OPTS@, dedup='active');
CREATE VIRTUAL TABLE ok1 USING state_tasks(@OPTS:ok1@, dedup=' active , 10m ');
CREATE VIRTUAL TABLE ok2 USING state_tasks(@OPTS:ok2@, dedup='row');
SELECT name FROM sqlite_schema WHERE name IN ('bad', 'ok1', 'ok2') ORDER BY 1;

-- 44.2 dedup=active: the key is held while the task is pending or claimed
CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS:ta@, dedup='active');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a1', 'q', 'first', 'k');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a2', 'q', 'second', 'k');
INSERT OR IGNORE INTO ta(id, queue, name, idempotency_key) VALUES ('a3', 'q', 'third', 'k');
SELECT id, name, state FROM ta WHERE queue = 'q' ORDER BY id;
INSERT INTO temp.v SELECT 'a1', lease_token FROM state_claim('ta', 'q', 'w', 30000);
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a4', 'q', 'while claimed', 'k');
SELECT id, state FROM ta WHERE queue = 'q' ORDER BY id;
SELECT state_complete('ta', 'a1', (SELECT x FROM v WHERE k = 'a1'));
-- completed: a new task of the key gets in; the old one keeps its key
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a5', 'q', 'after', 'k');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a6', 'q', 'again', 'k');
SELECT id, state, idempotency_key FROM ta WHERE queue = 'q' ORDER BY id;
-- the same key in another queue is another task; no key, no dedup
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('b1', 'q2', 'x', 'k');
INSERT INTO ta(id, queue, name) VALUES ('b2', 'q2', 'x'), ('b3', 'q2', 'x');
SELECT id FROM ta WHERE queue = 'q2' ORDER BY id;

-- 44.3 a failed, dead or cancelled task frees the key too; a task
-- inserted already finished does not take it
UPDATE ta SET state = 'cancelled' WHERE id = 'a5';
INSERT INTO ta(id, queue, name, idempotency_key, state) VALUES ('a7', 'q', 'done', 'k', 'completed');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('a8', 'q', 'new', 'k');
INSERT INTO ta(id, queue, name, idempotency_key, state) VALUES ('a9', 'q', 'done too', 'k', 'dead');
SELECT id, state FROM ta WHERE queue = 'q' ORDER BY id;

-- 44.4 INSERT OR REPLACE deletes the pending task of the key (a8), not
-- the finished ones
INSERT OR REPLACE INTO ta(id, queue, name, idempotency_key) VALUES ('a10', 'q', 'replaces', 'k');
SELECT id, name, state FROM ta WHERE queue = 'q' ORDER BY id;

-- 44.5 UPDATE: making a finished task pending while another holds the key
-- fails, naming the key; OR IGNORE skips it; OR REPLACE deletes the other
UPDATE ta SET state = 'pending' WHERE id = 'a1';
UPDATE OR IGNORE ta SET state = 'pending' WHERE id = 'a1';
.changes
SELECT id, state FROM ta WHERE id IN ('a1', 'a10') ORDER BY id;
UPDATE OR REPLACE ta SET state = 'pending' WHERE id = 'a1';
SELECT id, state FROM ta WHERE queue = 'q' AND state IN ('pending', 'claimed');
-- moving a pending task onto a held key fails too; a finished one may
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('m1', 'q', 'mover', 'other');
UPDATE ta SET idempotency_key = 'k' WHERE id = 'm1';
UPDATE ta SET idempotency_key = 'k' WHERE id = 'b1';
UPDATE ta SET queue = 'q' WHERE id = 'b1';
UPDATE ta SET state = 'completed' WHERE id = 'm1';
UPDATE ta SET idempotency_key = 'k' WHERE id = 'm1';
SELECT id, queue, state, idempotency_key FROM ta WHERE id IN ('a1', 'b1', 'm1') ORDER BY id;
-- an UPDATE of other columns of any task is no clash
UPDATE ta SET payload = '{"x":1}' WHERE queue = 'q';
SELECT count(*) FROM ta WHERE queue = 'q' AND payload = '{"x":1}';

-- 44.6 several rows of one statement: the first of a key stands
INSERT INTO ta(queue, name, idempotency_key) VALUES
  ('q3', 'first-k1', 'k1'), ('q3', 'second-k1', 'k1'), ('q3', 'first-k2', 'k2');
INSERT INTO ta(queue, name, idempotency_key, state) VALUES
  ('q3', 'done-k1', 'k1', 'completed'), ('q3', 'third-k1', 'k1', 'pending');
SELECT idempotency_key, name, state FROM ta WHERE queue = 'q3' ORDER BY idempotency_key, name;

-- 44.7 a period: unique while the created_at are less than 10m apart,
-- whatever the state
CREATE VIRTUAL TABLE tp USING state_tasks(@OPTS:tp@, dedup='10m');
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p1', 'q', 'x', 'k', 1000000);
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p2', 'q', 'x', 'k', 1599999);
UPDATE tp SET state = 'completed' WHERE id = 'p1';
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p3', 'q', 'x', 'k', 1599999);
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p4', 'q', 'x', 'k', 1600000);
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p5', 'q', 'x', 'k', 2199999);
INSERT OR IGNORE INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p6', 'q', 'x', 'k', 2000000);
INSERT INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p7', 'q', 'x', 'k', 2200000);
SELECT id, state, created_at FROM tp ORDER BY id;
-- OR REPLACE replaces the task inside the period (p7), not p4 or p1
INSERT OR REPLACE INTO tp(id, queue, name, idempotency_key, created_at) VALUES ('p8', 'q', 'y', 'k', 2300000);
SELECT id, name FROM tp ORDER BY id;
-- by default created_at is now: a second task of the key is skipped
INSERT INTO tp(id, queue, name, idempotency_key) VALUES ('n1', 'qn', 'x', 'k');
INSERT INTO tp(id, queue, name, idempotency_key) VALUES ('n2', 'qn', 'x', 'k');
SELECT id FROM tp WHERE queue = 'qn';

-- 44.8 active,10m: two tasks clash only when both are active and created
-- less than 10m apart
CREATE VIRTUAL TABLE tb USING state_tasks(@OPTS:tb@, dedup='active,10m');
INSERT INTO tb(id, queue, name, idempotency_key, created_at) VALUES ('c1', 'q', 'x', 'k', 1000000);
INSERT INTO tb(id, queue, name, idempotency_key, created_at) VALUES ('c2', 'q', 'x', 'k', 1500000);
INSERT INTO tb(id, queue, name, idempotency_key, created_at) VALUES ('c3', 'q', 'x', 'k', 1600000);
UPDATE tb SET state = 'completed' WHERE id = 'c3';
INSERT INTO tb(id, queue, name, idempotency_key, created_at) VALUES ('c4', 'q', 'x', 'k', 1700000);
INSERT INTO tb(id, queue, name, idempotency_key, created_at) VALUES ('c5', 'q', 'x', 'k', 2000000);
SELECT id, state FROM tb ORDER BY id;

-- 44.9 dedup=row (the default): a finished task still holds its key
INSERT INTO ok2(id, queue, name, idempotency_key) VALUES ('r1', 'q', 'x', 'k');
UPDATE ok2 SET state = 'completed' WHERE id = 'r1';
INSERT INTO ok2(id, queue, name, idempotency_key) VALUES ('r2', 'q', 'x', 'k');
SELECT id FROM ok2;

-- 44.10 migration: every task of a window table copies into another
-- with the same window (a row table keeps the first of each key)
CREATE VIRTUAL TABLE tc USING state_tasks(@OPTS:tc@, dedup='active');
INSERT INTO tc SELECT * FROM ta WHERE queue = 'q';
SELECT (SELECT count(*) FROM tc), (SELECT count(*) FROM ta WHERE queue = 'q');
CREATE VIRTUAL TABLE tr USING state_tasks(@OPTS:tr@);
INSERT INTO tr SELECT * FROM ta WHERE queue = 'q' ORDER BY id;
SELECT id FROM tr;

-- 44.11 in a transaction: the task inserted earlier in it holds the key;
-- rolled back, it holds nothing
BEGIN;
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('t1', 'q4', 'x', 'k');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('t2', 'q4', 'x', 'k');
SELECT id FROM ta WHERE queue = 'q4';
ROLLBACK;
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('t3', 'q4', 'x', 'k');
BEGIN;
UPDATE ta SET state = 'completed' WHERE id = 't3';
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('t4', 'q4', 'x', 'k');
INSERT INTO ta(id, queue, name, idempotency_key) VALUES ('t5', 'q4', 'x', 'k');
COMMIT;
SELECT id, state FROM ta WHERE queue = 'q4' ORDER BY id;

-- 44.12 state_redrive of a dead task whose key an active task holds now:
-- it comes back pending without its key (as a task inserted again from
-- its dead letter does)
CREATE VIRTUAL TABLE dl USING state_dead_letters(@OPTS:rd@);
CREATE VIRTUAL TABLE trd USING state_tasks(@OPTS:rd@, dedup='active', dead_letters='dl');
INSERT INTO trd(id, queue, name, idempotency_key, max_attempts) VALUES
  ('x1', 'q', 'x', 'k', 1), ('y1', 'q2', 'y', 'k', 1);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('trd', 'q', 'w', 30000);
INSERT INTO temp.v SELECT id, lease_token FROM state_claim('trd', 'q2', 'w', 30000);
SELECT state_fail('trd', k, x, 'boom') FROM temp.v WHERE k IN ('x1', 'y1') ORDER BY k;
INSERT INTO trd(id, queue, name, idempotency_key) VALUES ('x2', 'q', 'x', 'k');
SELECT id, state, idempotency_key FROM trd ORDER BY id;
SELECT state_redrive('dl', 'trd');
SELECT id, state, idempotency_key FROM trd ORDER BY id;
SELECT count(*) FROM dl;

-- 44.13 changes(): a skipped INSERT counts (as idempotent enqueue always
-- did), INSERT OR IGNORE does not, INSERT OR REPLACE counts its row
CREATE VIRTUAL TABLE tg USING state_tasks(@OPTS:tg@, dedup='active');
INSERT INTO tg(queue, name, idempotency_key) VALUES ('q', 'n', 'k');
INSERT INTO tg(queue, name, idempotency_key) VALUES ('q', 'n', 'k');
.changes
INSERT OR IGNORE INTO tg(queue, name, idempotency_key) VALUES ('q', 'n', 'k');
.changes
INSERT OR REPLACE INTO tg(queue, name, idempotency_key) VALUES ('q', 'n2', 'k');
.changes
SELECT name FROM tg;
