-- 19-functions: statevtab_version(), statevtab_debug(), statevtab_debug(T),
-- state_now() and statevtab_register_store(P), with their errors.  Only the
-- store-neutral lines of statevtab_debug(T) are shown here (the "store"
-- line is in 50-local-stores.sql).  The clock is pinned at 1700000000000.

CREATE VIRTUAL TABLE ta USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE temp.tk USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE "odd ""name""" USING state_leases(@OPTS@);
CREATE TABLE plain(x);
CREATE VIEW aview AS SELECT 1 AS one;

-- 19.1 statevtab_version(): the version as text, major.minor.patch
SELECT typeof(statevtab_version()), statevtab_version() GLOB '[0-9]*.[0-9]*.[0-9]*';
SELECT statevtab_version() = statevtab_version();

-- 19.2 statevtab_debug(): one fact per line: the version, SQLite compiled
-- and at run time, and the stores built in (the local one always)
SELECT substr(statevtab_debug(), 1, instr(statevtab_debug(), char(10)) - 1)
       = 'statevtab ' || statevtab_version();
SELECT instr(statevtab_debug(), char(10) || 'sqlite runtime ' || sqlite_version()) > 0;
SELECT instr(statevtab_debug(), char(10) || 'sqlite compiled ') > 0;
SELECT statevtab_debug() GLOB '*' || char(10) || 'stores *sqlite*';
SELECT length(statevtab_debug()) - length(replace(statevtab_debug(), char(10), '')) + 1;

-- 19.3 statevtab_debug(T): the table, its module (first two lines)
SELECT substr(statevtab_debug('ta'), 1, instr(statevtab_debug('ta'), char(10) || 'store ') - 1);
SELECT substr(statevtab_debug('main.ta'), 1, instr(statevtab_debug('main.ta'), char(10) || 'store ') - 1);
SELECT substr(statevtab_debug('tk'), 1, instr(statevtab_debug('tk'), char(10) || 'store ') - 1);
SELECT substr(statevtab_debug('temp.tk'), 1, instr(statevtab_debug('temp.tk'), char(10) || 'store ') - 1);
SELECT substr(statevtab_debug('odd "name"'), 1, instr(statevtab_debug('odd "name"'), char(10) || 'store ') - 1);
SELECT substr(statevtab_debug('TA'), 1, instr(statevtab_debug('TA'), char(10) || 'store ') - 1);
SELECT statevtab_debug('ta') GLOB '*' || char(10) || 'store *';

-- 19.4 statevtab_debug(T) with an unknown table, a table that is not a
-- statevtab table, and a first argument that is not a name
SELECT statevtab_debug('nope');
SELECT statevtab_debug('main.nope');
SELECT statevtab_debug('temp.ta');
SELECT statevtab_debug('nodb.ta');
SELECT statevtab_debug('plain');
SELECT statevtab_debug('aview');
SELECT statevtab_debug('sqlite_schema');
SELECT statevtab_debug(NULL);
SELECT statevtab_debug(42);
SELECT statevtab_debug(x'7461');

-- 19.5 state_now(): milliseconds since the epoch (pinned here), an integer
SELECT state_now(), typeof(state_now());
.setenv STATEVTAB_TEST_CLOCK_MS 1700000005000
SELECT state_now();
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000
SELECT state_now();

-- 19.6 wrong argument counts (SQLite's own error)
SELECT statevtab_version(1);
SELECT state_now(1);
SELECT statevtab_debug('ta', 'x');
SELECT statevtab_register_store();
SELECT statevtab_register_store(1, 2);

-- 19.7 statevtab_register_store(P) takes only a pointer bound by the C
-- helper statevtab_register_store(); anything else is SQLITE_MISUSE
SELECT statevtab_register_store(1);
SELECT statevtab_register_store('sqlite');
SELECT statevtab_register_store(NULL);

-- 19.8 statevtab_debug(T) connects a table that this connection has not
-- used yet; it follows a rename
.open functions.db
CREATE VIRTUAL TABLE ft USING state_tasks(@OPTS:file@);
.reopen
SELECT substr(statevtab_debug('ft'), 1, instr(statevtab_debug('ft'), char(10) || 'store ') - 1);
ALTER TABLE ft RENAME TO fu;
SELECT substr(statevtab_debug('fu'), 1, instr(statevtab_debug('fu'), char(10) || 'store ') - 1);
SELECT statevtab_debug('ft');
DROP TABLE fu;
SELECT statevtab_debug('fu');

-- 19.9 the functions work in a view and in a trigger (they are innocuous)
CREATE VIEW v AS SELECT state_now() AS now, statevtab_version() = statevtab_version() AS v;
SELECT * FROM v;
CREATE TABLE log(t);
CREATE TRIGGER log_now AFTER INSERT ON log BEGIN
  UPDATE log SET t = state_now() WHERE rowid = new.rowid;
END;
INSERT INTO log VALUES (NULL);
SELECT t FROM log;
