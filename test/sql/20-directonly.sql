-- 20-directonly: views and triggers follow trusted_schema.  statevtab
-- tables (and state_metrics) are neither SQLITE_VTAB_DIRECTONLY nor
-- INNOCUOUS: with trusted_schema=ON a view may read them (a dashboard) and
-- a trigger may write them in the same transaction as the business write
-- (the transactional outbox); with trusted_schema=OFF -- what an
-- application that opens files from others sets -- SQLite refuses both,
-- so a hostile file's view or trigger cannot read or rewrite state.
-- Functions with side effects (and state_claim) are SQLITE_DIRECTONLY:
-- never from a view or trigger; the meta functions are SQLITE_INNOCUOUS.
-- Decided by the vtab layer and SQLite, the same for every store; which
-- stores a table may reach is statevtab_allow's (suite 26-allow);
-- DEFENSIVE and the local store's shadow tables are in
-- 50-local-security.sql.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
INSERT INTO ta(id, queue, name) VALUES ('a', 'q', 'x');
CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);
CREATE VIEW v AS SELECT id, name FROM ta;
CREATE VIEW dash AS SELECT queue, state, count(*) AS n FROM ta GROUP BY 1, 2;
CREATE VIEW mv AS SELECT queue, pending FROM state_metrics('ta');

-- 20.1 trusted_schema=OFF: a view over a statevtab table (or
-- state_metrics) can be created but not used
.trusted_schema off
SELECT * FROM v;
SELECT * FROM dash;
SELECT * FROM mv;
CREATE VIEW vj AS SELECT count(*) FROM ta JOIN ta AS b USING (id);
SELECT * FROM vj;

-- 20.2 ... nor a trigger that writes into a statevtab table: the business
-- write fails with it, and nothing is enqueued
CREATE TRIGGER enqueue AFTER INSERT ON orders BEGIN
  INSERT INTO ta(queue, name, payload)
  VALUES ('ship', 'ship', json_object('order', new.id));
END;
INSERT INTO orders(item) VALUES ('book');
SELECT count(*) FROM orders;
SELECT count(*) FROM ta;

-- 20.3 ... or updates, deletes or reads it
CREATE TRIGGER touch AFTER UPDATE ON orders BEGIN
  UPDATE ta SET name = 'touched' WHERE id = 'a';
END;
CREATE TRIGGER wipe AFTER DELETE ON orders BEGIN DELETE FROM ta; END;
CREATE TABLE copy(id);
CREATE TRIGGER peek AFTER INSERT ON copy BEGIN
  UPDATE copy SET id = (SELECT count(*) FROM ta) WHERE rowid = new.rowid;
END;
DROP TRIGGER enqueue;
INSERT INTO orders(id, item) VALUES (1, 'pen');
UPDATE orders SET item = 'pencil';
DELETE FROM orders;
INSERT INTO copy VALUES (NULL);
SELECT count(*) FROM orders;
SELECT id, name FROM ta;

-- 20.4 trusted_schema=ON: the dashboard views work
.trusted_schema on
SELECT * FROM v;
SELECT * FROM dash;
SELECT * FROM mv;
SELECT * FROM vj;

-- 20.5 ... and the transactional outbox: the trigger enqueues in the
-- business write's own transaction; a rollback takes both back
CREATE TRIGGER enqueue AFTER INSERT ON orders BEGIN
  INSERT INTO ta(queue, name, payload)
  VALUES ('ship', 'ship', json_object('order', new.id));
END;
BEGIN;
INSERT INTO orders(item) VALUES ('book');
SELECT count(*) FROM ta WHERE queue = 'ship';
ROLLBACK;
SELECT count(*) FROM orders;
SELECT count(*) FROM ta WHERE queue = 'ship';
BEGIN;
INSERT INTO orders(id, item) VALUES (7, 'book');
COMMIT;
SELECT queue, name, payload, state FROM ta WHERE queue = 'ship';
INSERT INTO orders(id, item) VALUES (8, 'pen');
SELECT payload FROM ta WHERE queue = 'ship' ORDER BY payload;
-- a failed business write enqueues nothing
INSERT INTO orders(id, item) VALUES (8, 'again');
SELECT count(*) FROM ta WHERE queue = 'ship';

-- 20.6 ... the other triggers too: update, read, delete
UPDATE orders SET item = 'pencil' WHERE id = 8;
SELECT id, name FROM ta WHERE id = 'a';
INSERT INTO copy VALUES (NULL);
SELECT id FROM copy;
DELETE FROM orders;
SELECT count(*) FROM ta;
DROP TRIGGER enqueue;
DROP TRIGGER touch;
DROP TRIGGER wipe;
DROP TRIGGER peek;
INSERT INTO ta(id, queue, name) VALUES ('a', 'q', 'x');

-- 20.7 TEMP: SQLite lets a TEMP view (the application's own) read the
-- table with trusted_schema off; a TEMP trigger follows trusted_schema
.trusted_schema off
CREATE TEMP VIEW tv AS SELECT id, name FROM ta;
SELECT * FROM tv;
CREATE TEMP TRIGGER tenqueue AFTER INSERT ON main.orders BEGIN
  INSERT INTO ta(id, name) VALUES ('from-temp-trigger', new.item);
END;
INSERT INTO orders(item) VALUES ('lamp');
.trusted_schema on
INSERT INTO orders(item) VALUES ('lamp');
DROP TRIGGER tenqueue;
SELECT id, name FROM ta ORDER BY id;

-- 20.8 a trigger on a statevtab table itself is refused
CREATE TRIGGER on_vtab AFTER INSERT ON ta BEGIN SELECT 1; END;

-- 20.9 functions with side effects cannot be called from a view or
-- trigger, with trusted_schema on or off; nor can state_claim
.trusted_schema on
CREATE VIEW reg AS SELECT statevtab_register_store(NULL);
SELECT * FROM reg;
CREATE VIEW alw AS SELECT statevtab_allow(NULL);
SELECT * FROM alw;
CREATE VIEW clm AS SELECT id FROM state_claim('ta', 'q', 'w', 1000);
SELECT * FROM clm;
CREATE TRIGGER reg_t AFTER INSERT ON orders BEGIN
  SELECT statevtab_register_store(NULL);
END;
INSERT INTO orders(item) VALUES ('x');
DROP TRIGGER reg_t;
CREATE TRIGGER cpl_t AFTER INSERT ON orders BEGIN
  SELECT state_complete('ta', 'a', 1);
END;
INSERT INTO orders(item) VALUES ('x');
DROP TRIGGER cpl_t;
.trusted_schema off
SELECT * FROM reg;
SELECT * FROM alw;
SELECT * FROM clm;

-- 20.10 the function flags: name, nArg, directonly, innocuous, deterministic
SELECT name, narg, (flags & 0x80000) != 0, (flags & 0x200000) != 0,
       (flags & 0x800) != 0
  FROM pragma_function_list
 WHERE name IN ('statevtab_version', 'statevtab_debug', 'state_now',
                'statevtab_register_store', 'statevtab_allow')
 ORDER BY name, narg;

-- 20.11 every statevtab function is exactly one of directonly and
-- innocuous (no rows: none is both or neither)
SELECT name, narg FROM pragma_function_list
 WHERE (name LIKE 'state\_%' ESCAPE '\' OR name LIKE 'statevtab\_%' ESCAPE '\')
   AND ((flags & 0x80000) != 0) = ((flags & 0x200000) != 0);

-- 20.12 the eight table modules are registered
SELECT name FROM pragma_module_list
 WHERE name IN ('state_executions', 'state_tasks', 'state_signals',
                'state_dead_letters', 'state_counters', 'state_flags',
                'state_kv', 'state_leases')
 ORDER BY name;

-- 20.13 statevtab_debug(TABLE) connects the table it names (and so may
-- reach the network with the application's credentials): it is
-- DIRECTONLY, so a view or trigger from the file cannot call it, with
-- trusted_schema on or off; called directly it works
CREATE VIEW dbg AS SELECT statevtab_debug('ta') IS NOT NULL;
SELECT * FROM dbg;
.trusted_schema on
SELECT * FROM dbg;
.trusted_schema off
CREATE TRIGGER dbg_t AFTER INSERT ON orders BEGIN
  SELECT statevtab_debug('ta');
END;
INSERT INTO orders(item) VALUES ('y');
DROP TRIGGER dbg_t;
SELECT statevtab_debug('ta') IS NOT NULL;
