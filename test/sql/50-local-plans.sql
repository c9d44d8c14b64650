-- 50-local-plans: plans that depend on the store's capabilities.  The
-- local store sorts (STATEVTAB_CAP_ORDER), so ORDER BY is consumed
-- ("order:<col>[-]" in idxStr, idxNum bit 4) and a LIMIT can be pushed
-- with it.  Local store only.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
INSERT INTO ta(id, queue, name, priority, run_at, lease_owner)
VALUES ('t1', 'q1', 'a', 2, 300, NULL), ('t2', 'q1', 'b', 1, 100, 'w'),
       ('t3', 'q2', 'c', 1, 200, NULL), ('t4', 'q1', 'd', 0, 400, 'v');

-- 52.1 ORDER BY is consumed: no sorter in the plan, rows in order
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY run_at;
SELECT id FROM ta ORDER BY run_at;
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY run_at DESC;
SELECT id FROM ta ORDER BY run_at DESC;
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY priority, run_at DESC;
SELECT id FROM ta ORDER BY priority, run_at DESC;
SELECT id, lease_owner FROM ta ORDER BY lease_owner, id;

-- 52.2 ORDER BY with constraints
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q1' ORDER BY priority, run_at;
SELECT id FROM ta WHERE queue = 'q1' ORDER BY priority, run_at;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE run_at > 150 ORDER BY id DESC;
SELECT id FROM ta WHERE run_at > 150 ORDER BY id DESC;

-- 52.3 LIMIT is pushed together with a consumed ORDER BY
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY run_at LIMIT 2;
SELECT id FROM ta ORDER BY run_at LIMIT 2;
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE queue = 'q1' ORDER BY priority LIMIT 1;
SELECT id FROM ta WHERE queue = 'q1' ORDER BY priority LIMIT 1;

-- 52.4 ... but not with an OFFSET
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY run_at LIMIT 2 OFFSET 1;
SELECT id FROM ta ORDER BY run_at LIMIT 2 OFFSET 1;

-- 52.5 ORDER BY an expression is SQLite's to sort
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY -run_at;
SELECT id FROM ta ORDER BY -run_at;
EXPLAIN QUERY PLAN SELECT id FROM ta ORDER BY name COLLATE NOCASE;

-- 52.6 a key lookup with ORDER BY
EXPLAIN QUERY PLAN SELECT id FROM ta WHERE id = 't3' ORDER BY run_at;
SELECT id FROM ta WHERE id = 't3' ORDER BY run_at;

-- 52.7 an IN list on the key and ORDER BY: one xFilter per value, so
-- SQLite sorts (the store may not consume the ORDER BY)
SELECT id FROM ta WHERE id IN ('t4', 't1', 't2') ORDER BY run_at;
SELECT id FROM ta WHERE queue IN ('q2', 'q1') ORDER BY run_at DESC;

-- 52.8 ORDER BY rowid (the store's handle: here, insertion order) is
-- SQLite's to sort
SELECT id FROM ta ORDER BY rowid;
SELECT id FROM ta ORDER BY rowid DESC;
SELECT id FROM ta WHERE queue = 'q1' ORDER BY priority, rowid;

-- 52.9 the same plan is reused (prepared once) and still correct with
-- other values
SELECT id FROM ta WHERE queue = 'q2' ORDER BY priority, run_at;
SELECT id FROM ta WHERE queue = 'nope' ORDER BY priority, run_at;
