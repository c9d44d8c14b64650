-- 20-directonly: statevtab tables are SQLITE_VTAB_DIRECTONLY, so a view or
-- trigger in a database schema (perhaps from an untrusted file) cannot read
-- or write state; functions with side effects are SQLITE_DIRECTONLY and
-- the meta functions SQLITE_INNOCUOUS.  This is decided by the vtab layer
-- and SQLite, the same for every store; DEFENSIVE and the local store's
-- shadow tables are in 50-local-security.sql.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
INSERT INTO ta(id, name) VALUES ('a', 'x');

-- 20.1 a view over a statevtab table can be created but not used
CREATE VIEW v AS SELECT id, name FROM ta;
SELECT * FROM v;
CREATE VIEW vj AS SELECT count(*) FROM ta JOIN ta AS b USING (id);
SELECT * FROM vj;

-- 20.2 a trigger on an ordinary table that writes into a statevtab table
CREATE TABLE orders(id INTEGER PRIMARY KEY, item TEXT);
CREATE TRIGGER enqueue AFTER INSERT ON orders BEGIN
  INSERT INTO ta(name, payload) VALUES ('ship', json_object('order', new.id));
END;
INSERT INTO orders(item) VALUES ('book');
SELECT count(*) FROM orders;
SELECT count(*) FROM ta;

-- 20.3 ... or updates, deletes or reads it
DROP TRIGGER enqueue;
CREATE TRIGGER touch AFTER UPDATE ON orders BEGIN
  UPDATE ta SET name = 'touched' WHERE id = 'a';
END;
INSERT INTO orders(item) VALUES ('pen');
UPDATE orders SET item = 'pencil';
DROP TRIGGER touch;
CREATE TRIGGER wipe AFTER DELETE ON orders BEGIN DELETE FROM ta; END;
DELETE FROM orders;
DROP TRIGGER wipe;
CREATE TABLE copy(id);
CREATE TRIGGER peek AFTER INSERT ON copy BEGIN
  UPDATE copy SET id = (SELECT id FROM ta LIMIT 1) WHERE rowid = new.rowid;
END;
INSERT INTO copy VALUES (NULL);
SELECT id, name FROM ta;

-- 20.4 trusted_schema does not lift it
.trusted_schema on
SELECT * FROM v;
INSERT INTO copy VALUES (NULL);
.trusted_schema off

-- 20.5 a TEMP view is the application's own: SQLite lets it read the
-- table; no trigger, not even a TEMP one, may write it
CREATE TEMP VIEW tv AS SELECT id, name FROM ta;
SELECT * FROM tv;
CREATE TEMP TRIGGER tenqueue AFTER INSERT ON main.orders BEGIN
  INSERT INTO ta(id, name) VALUES ('from-temp-trigger', new.item);
END;
INSERT INTO orders(item) VALUES ('lamp');
DROP TRIGGER tenqueue;
SELECT id, name FROM ta ORDER BY id;

-- 20.6 a trigger on a statevtab table itself is refused
CREATE TRIGGER on_vtab AFTER INSERT ON ta BEGIN SELECT 1; END;

-- 20.7 functions with side effects cannot be called from a view or trigger
CREATE VIEW reg AS SELECT statevtab_register_store(NULL);
SELECT * FROM reg;
CREATE TRIGGER reg_t AFTER INSERT ON orders BEGIN
  SELECT statevtab_register_store(NULL);
END;
INSERT INTO orders(item) VALUES ('x');
DROP TRIGGER reg_t;

-- 20.8 the function flags: name, nArg, directonly, innocuous, deterministic
SELECT name, narg, (flags & 0x80000) != 0, (flags & 0x200000) != 0,
       (flags & 0x800) != 0
  FROM pragma_function_list
 WHERE name IN ('statevtab_version', 'statevtab_debug', 'state_now',
                'statevtab_register_store')
 ORDER BY name, narg;

-- 20.9 every statevtab function is exactly one of directonly and
-- innocuous (no rows: none is both or neither)
SELECT name, narg FROM pragma_function_list
 WHERE (name LIKE 'state\_%' ESCAPE '\' OR name LIKE 'statevtab\_%' ESCAPE '\')
   AND ((flags & 0x80000) != 0) = ((flags & 0x200000) != 0);

-- 20.10 the eight table modules are registered
SELECT name FROM pragma_module_list
 WHERE name IN ('state_executions', 'state_tasks', 'state_signals',
                'state_dead_letters', 'state_counters', 'state_flags',
                'state_kv', 'state_leases')
 ORDER BY name;

-- 20.11 statevtab_debug(TABLE) connects the table it names (and so may
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
