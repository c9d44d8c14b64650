-- 37-signals: state_signal(signals, execution_id, name [, payload]) returns
-- the new signal's id; state_take(signals, execution_id, name) returns the
-- oldest unconsumed payload ('{}' when it had none), marks it consumed, and
-- is NULL when none is left: each signal is taken exactly once.

CREATE VIRTUAL TABLE signals USING state_signals(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 37.1 state_signal returns a generated id (36 characters) of a stored row
INSERT INTO temp.v SELECT 's1', state_signal('signals', 'e1', 'approve', '{"by":"ann"}');
SELECT typeof(x), length(x) FROM temp.v WHERE k = 's1';
SELECT execution_id, name, json(payload), consumed_at,
       id = (SELECT x FROM v WHERE k = 's1')
  FROM signals WHERE execution_id = 'e1';

-- 37.2 take: the oldest first, each exactly once, then NULL
SELECT state_signal('signals', 'e1', 'approve', '{"by":"bob"}') IS NOT NULL;
SELECT state_signal('signals', 'e1', 'approve', '{"by":"cy"}') IS NOT NULL;
SELECT json(state_take('signals', 'e1', 'approve'));
SELECT json(state_take('signals', 'e1', 'approve'));
SELECT json(state_take('signals', 'e1', 'approve'));
SELECT state_take('signals', 'e1', 'approve');
SELECT state_take('signals', 'e1', 'approve');
-- a taken signal stays, with consumed_at set
SELECT count(*), count(consumed_at) FROM signals WHERE execution_id = 'e1';
SELECT json_extract(payload, '$.by') FROM signals
  WHERE id = (SELECT x FROM v WHERE k = 's1') AND consumed_at IS NOT NULL;

-- 37.3 no payload: take returns '{}'; a NULL payload too
SELECT length(state_signal('signals', 'e2', 'ping'));
SELECT length(state_signal('signals', 'e2', 'ping', NULL));
SELECT state_take('signals', 'e2', 'ping'), state_take('signals', 'e2', 'ping');
SELECT state_take('signals', 'e2', 'ping');
SELECT payload FROM signals WHERE execution_id = 'e2';

-- 37.4 signals are per execution and per name
SELECT state_signal('signals', 'e3', 'go', '{"n":1}') IS NOT NULL,
       state_signal('signals', 'e4', 'go', '{"n":2}') IS NOT NULL,
       state_signal('signals', 'e3', 'stop', '{"n":3}') IS NOT NULL;
SELECT state_take('signals', 'e3', 'nothing'), state_take('signals', 'nobody', 'go');
SELECT json_extract(state_take('signals', 'e4', 'go'), '$.n');
SELECT json_extract(state_take('signals', 'e3', 'stop'), '$.n');
SELECT json_extract(state_take('signals', 'e3', 'go'), '$.n');
SELECT count(*) FROM signals WHERE execution_id IN ('e3', 'e4') AND consumed_at IS NULL;

-- 37.5 JSON payloads of every kind come back as sent
SELECT state_signal('signals', 'e5', 'k', '[1,"two",null]') IS NOT NULL;
SELECT state_signal('signals', 'e5', 'k', '"text"') IS NOT NULL;
SELECT state_signal('signals', 'e5', 'k', '3.5') IS NOT NULL;
SELECT json(state_take('signals', 'e5', 'k'));
SELECT json(state_take('signals', 'e5', 'k'));
SELECT json(state_take('signals', 'e5', 'k'));

-- 37.6 signals inserted with INSERT are taken the same way, oldest
-- (created_at) first; one consumed already is skipped
INSERT INTO signals(id, execution_id, name, payload, created_at, consumed_at)
VALUES ('z-new', 'e6', 'k', '{"o":"new"}', 3000, NULL),
       ('a-old', 'e6', 'k', '{"o":"old"}', 1000, NULL),
       ('m-used', 'e6', 'k', '{"o":"used"}', 500, 900),
       ('b-mid', 'e6', 'k', '{"o":"mid"}', 2000, NULL);
SELECT json_extract(state_take('signals', 'e6', 'k'), '$.o');
SELECT json_extract(state_take('signals', 'e6', 'k'), '$.o');
SELECT json_extract(state_take('signals', 'e6', 'k'), '$.o');
SELECT state_take('signals', 'e6', 'k');

-- 37.7 many signals in one statement: each id is distinct, and taken in
-- the order sent
SELECT count(DISTINCT s) FROM (SELECT state_signal('signals', 'e7', 'n', json_object('i', value)) AS s
                               FROM json_each('[1,2,3,4,5]'));
SELECT json_extract(state_take('signals', 'e7', 'n'), '$.i') FROM json_each('[1,2,3,4,5,6]');

-- 37.8 waiting (wait_ms, the fourth argument): a signal already there
-- comes at once, however long the wait; none is NULL after the wait and
-- no sooner; a signal of another name or execution does not end it;
-- wait_ms 0 does not wait.  Elapsed times are checked with wide bounds.
.unsetenv STATEVTAB_TEST_CLOCK_MS
SELECT state_signal('signals', 'e8', 'go', '{"n":1}') IS NOT NULL;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT json_extract(state_take('signals', 'e8', 'go', 600000), '$.n');
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') < 5000;
SELECT state_signal('signals', 'e8', 'other') IS NOT NULL,
       state_signal('signals', 'e9', 'go') IS NOT NULL;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_take('signals', 'e8', 'go', 300);
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') BETWEEN 250 AND 3000;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_take('signals', 'e8', 'go', 0);
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') < 300;
SELECT count(*) FROM signals WHERE execution_id IN ('e8', 'e9') AND consumed_at IS NULL;

-- 37.9 a wait inside an explicit transaction is an error, on every store
-- (the local store could not see another process's signal); wait_ms 0
-- does not wait and is allowed.  A wait in a statement that writes is an
-- error too.
BEGIN;
SELECT state_take('signals', 'e8', 'go', 10);
SELECT state_take('signals', 'e8', 'go', 0);
COMMIT;
CREATE TABLE got(payload);
INSERT INTO got SELECT state_take('signals', 'e8', 'go', 10);
SELECT count(*) FROM got;

-- 37.10 errors: wait_ms negative, not an integer, NULL; a wrong table kind
SELECT state_take('signals', 'e8', 'go', -1);
SELECT state_take('signals', 'e8', 'go', 'soon');
SELECT state_take('signals', 'e8', 'go', 1.5);
SELECT state_take('signals', 'e8', 'go', NULL);
CREATE VIRTUAL TABLE leases USING state_leases(@OPTS@);
SELECT state_take('leases', 'e8', 'go', 10);
