-- 36-counters: state_incr(counters, scope, name [, delta]): an atomic add
-- that creates the counter at 0 and returns the new value; integer and
-- real deltas, the default delta 1, negative deltas, and scopes.

CREATE VIRTUAL TABLE counters USING state_counters(@OPTS@);

-- 36.1 a new counter starts at 0: the default delta 1 gives 1
SELECT state_incr('counters', 'shop', 'orders');
SELECT state_incr('counters', 'shop', 'orders');
SELECT typeof(state_incr('counters', 'shop', 'orders'));
SELECT scope, name, value, typeof(value) FROM counters WHERE name = 'orders';

-- 36.2 integer deltas, negative and zero; the result is the new value
SELECT state_incr('counters', 'shop', 'stock', 10);
SELECT state_incr('counters', 'shop', 'stock', -3);
SELECT state_incr('counters', 'shop', 'stock', 0);
SELECT state_incr('counters', 'shop', 'neg', -5);
SELECT name, value FROM counters WHERE scope = 'shop' ORDER BY name;

-- 36.3 real deltas: the value becomes real
SELECT state_incr('counters', 'm', 'temp', 1.5);
SELECT state_incr('counters', 'm', 'temp', 0.25);
SELECT typeof(state_incr('counters', 'm', 'temp', -0.5));
SELECT state_incr('counters', 'm', 'mixed', 2);
SELECT state_incr('counters', 'm', 'mixed', 0.5);
SELECT state_incr('counters', 'm', 'mixed', 1);
SELECT name, value, typeof(value) FROM counters WHERE scope = 'm' ORDER BY name;

-- 36.4 scopes are independent; the empty scope is a scope
SELECT state_incr('counters', 'a', 'hits'), state_incr('counters', 'b', 'hits', 5),
       state_incr('counters', '', 'hits', 7);
SELECT state_incr('counters', 'a', 'hits');
SELECT quote(scope), value FROM counters WHERE name = 'hits' ORDER BY scope;

-- 36.5 state_incr on a counter written with INSERT continues from its
-- value; a numeric text scope or name is taken as text
INSERT INTO counters(scope, name, value) VALUES ('x', 'seeded', 100);
SELECT state_incr('counters', 'x', 'seeded', 1);
SELECT state_incr('counters', 1, 2);
SELECT scope, typeof(scope), name, typeof(name), value FROM counters WHERE scope = '1';

-- 36.6 large values stay exact integers
SELECT state_incr('counters', 'big', 'n', 9007199254740993);
SELECT state_incr('counters', 'big', 'n', 1);

-- 36.7 many increments in one statement each count
SELECT count(*), max(v) FROM (SELECT state_incr('counters', 'loop', 'n') AS v
                              FROM json_each('[1,2,3,4,5,6,7,8,9,10]'));
SELECT value FROM counters WHERE scope = 'loop';
