-- 35-leases: state_lease(leases, name, owner, ttl_ms) and
-- state_release(leases, name, owner): a fencing token (NULL while another
-- owner holds an unexpired lease), re-entry by the same owner (same token,
-- depth + 1, fresh expiry), release (depth - 1, freed at 0; 0 when not
-- held), and tokens that grow strictly across holders.  Tokens are compared,
-- not printed.

CREATE VIRTUAL TABLE leases USING state_leases(@OPTS@);
CREATE TEMP TABLE v(k TEXT PRIMARY KEY, x);

-- 35.1 a first lease: an integer token; the row shows owner and depth 1
INSERT INTO temp.v SELECT 'n1', state_lease('leases', 'nightly', 'host-a', 60000);
SELECT typeof(x), x > 0 FROM temp.v WHERE k = 'n1';
SELECT name, owner, depth, token = (SELECT x FROM v WHERE k = 'n1'),
       expires_at > acquired_at, expires_at - acquired_at
  FROM leases WHERE name = 'nightly';

-- 35.2 another owner gets NULL while the lease lives; nothing changes
SELECT state_lease('leases', 'nightly', 'host-b', 60000);
SELECT owner, depth FROM leases WHERE name = 'nightly';

-- 35.3 re-entry by the same owner: the same token, depth + 1, a fresh
-- expiry (later than before)
INSERT INTO temp.v SELECT 'n1-exp', expires_at FROM leases WHERE name = 'nightly';
INSERT INTO temp.v SELECT 'n1-again', state_lease('leases', 'nightly', 'host-a', 120000);
SELECT (SELECT x FROM v WHERE k = 'n1-again') = (SELECT x FROM v WHERE k = 'n1');
SELECT owner, depth, expires_at > (SELECT x FROM v WHERE k = 'n1-exp')
  FROM leases WHERE name = 'nightly';
SELECT state_lease('leases', 'nightly', 'host-a', 60000) = (SELECT x FROM v WHERE k = 'n1');
SELECT depth FROM leases WHERE name = 'nightly';

-- 35.4 release by a non-holder is 0 and changes nothing; the holder's
-- release decrements the depth, and frees the lease at 0
SELECT state_release('leases', 'nightly', 'host-b');
SELECT state_release('leases', 'nobody-has-this', 'host-a');
SELECT depth FROM leases WHERE name = 'nightly';
SELECT state_release('leases', 'nightly', 'host-a');
SELECT depth FROM leases WHERE name = 'nightly';
SELECT state_lease('leases', 'nightly', 'host-b', 60000);
SELECT state_release('leases', 'nightly', 'host-a');
SELECT state_lease('leases', 'nightly', 'host-b', 60000);
SELECT state_release('leases', 'nightly', 'host-a');
-- freed: releasing again is 0
SELECT state_release('leases', 'nightly', 'host-a');

-- 35.5 the next holder gets a strictly greater token
INSERT INTO temp.v SELECT 'n2', state_lease('leases', 'nightly', 'host-b', 60000);
SELECT (SELECT x FROM v WHERE k = 'n2') > (SELECT x FROM v WHERE k = 'n1');
SELECT owner, depth FROM leases WHERE name = 'nightly';
SELECT state_lease('leases', 'nightly', 'host-a', 60000);
-- the same owner after a full release is a new holder: a greater token
SELECT state_release('leases', 'nightly', 'host-b');
INSERT INTO temp.v SELECT 'n3', state_lease('leases', 'nightly', 'host-b', 60000);
SELECT (SELECT x FROM v WHERE k = 'n3') > (SELECT x FROM v WHERE k = 'n2');

-- 35.6 after expiry: an expired lease (made to expire by its holder
-- writing expires_at into the past) is taken by another owner with a
-- greater token; the old holder can neither release nor re-enter it
UPDATE leases SET expires_at = 1 WHERE name = 'nightly';
INSERT INTO temp.v SELECT 'n4', state_lease('leases', 'nightly', 'host-c', 60000);
SELECT (SELECT x FROM v WHERE k = 'n4') > (SELECT x FROM v WHERE k = 'n3');
SELECT owner, depth FROM leases WHERE name = 'nightly';
SELECT state_release('leases', 'nightly', 'host-b');
SELECT state_lease('leases', 'nightly', 'host-b', 60000);
-- a holder whose lease expired cannot release it; leasing again, it is a
-- new holder with a greater token
UPDATE leases SET expires_at = 1 WHERE name = 'nightly';
SELECT state_release('leases', 'nightly', 'host-c');
INSERT INTO temp.v SELECT 'n5', state_lease('leases', 'nightly', 'host-c', 60000);
SELECT (SELECT x FROM v WHERE k = 'n5') > (SELECT x FROM v WHERE k = 'n4');
SELECT owner, depth FROM leases WHERE name = 'nightly';

-- 35.7 names are independent: each has its own holder
SELECT state_lease('leases', 'a', 'x', 60000) IS NOT NULL,
       state_lease('leases', 'b', 'y', 60000) IS NOT NULL;
SELECT state_lease('leases', 'a', 'y', 60000), state_lease('leases', 'b', 'x', 60000);
SELECT name, owner, depth FROM leases WHERE name IN ('a', 'b') ORDER BY name;
SELECT state_release('leases', 'a', 'x'), state_release('leases', 'b', 'y');
SELECT state_lease('leases', 'a', 'y', 60000) IS NOT NULL,
       state_lease('leases', 'b', 'x', 60000) IS NOT NULL;

-- 35.8 deep re-entry: depth counts up and down, freed at the last release
SELECT state_lease('leases', 'deep', 'o', 60000) IS NOT NULL;
SELECT state_lease('leases', 'deep', 'o', 60000) IS NOT NULL;
SELECT state_lease('leases', 'deep', 'o', 60000) IS NOT NULL;
SELECT depth FROM leases WHERE name = 'deep';
SELECT state_release('leases', 'deep', 'o'), state_release('leases', 'deep', 'o');
SELECT state_lease('leases', 'deep', 'p', 60000);
SELECT state_release('leases', 'deep', 'o');
SELECT state_lease('leases', 'deep', 'p', 60000) IS NOT NULL;
SELECT state_release('leases', 'deep', 'o');

-- 35.9 owners and names are compared exactly (case, spaces)
SELECT state_lease('leases', 'Case', 'Owner', 60000) IS NOT NULL;
SELECT state_lease('leases', 'Case', 'owner', 60000), state_lease('leases', 'Case', 'Owner ', 60000);
SELECT state_lease('leases', 'case', 'owner', 60000) IS NOT NULL;
SELECT state_release('leases', 'Case', 'owner'), state_release('leases', 'Case', 'Owner');

-- 35.10 the longest ttl (1000000000000 ms) keeps every other owner out, on
-- every store (it once overflowed on the local store and let a second
-- owner in); a longer one is an error
SELECT state_lease('leases', 'long', 'a', 1000000000000) IS NOT NULL;
SELECT state_lease('leases', 'long', 'b', 60000);
SELECT owner, expires_at - acquired_at BETWEEN 999999990000 AND 1000000010000
  FROM leases WHERE name = 'long';
SELECT state_lease('leases', 'long', 'b', 1000000000001);
SELECT state_lease('leases', 'long', 'b', 60000);

-- 35.11 waiting (wait_ms, the fifth argument): a free lease comes at once,
-- however long the wait; a held one is NULL after the wait and no sooner;
-- wait_ms 0 does not wait; the holder's expiry ends the wait (the expiry
-- wake-up: no release comes).  Elapsed times are checked with wide bounds.
.unsetenv STATEVTAB_TEST_CLOCK_MS
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_lease('leases', 'w', 'a', 60000, 600000) IS NOT NULL;
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') < 5000;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_lease('leases', 'w', 'b', 60000, 300);
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') BETWEEN 250 AND 3000;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_lease('leases', 'w', 'b', 60000, 0);
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') < 300;
SELECT owner, depth FROM leases WHERE name = 'w';
SELECT state_lease('leases', 'x', 'a', 400) IS NOT NULL;
INSERT OR REPLACE INTO temp.v SELECT 't0', state_now();
SELECT state_lease('leases', 'x', 'b', 60000, 600000) IS NOT NULL;
SELECT state_now() - (SELECT x FROM v WHERE k = 't0') BETWEEN 250 AND 3000;
SELECT owner, depth FROM leases WHERE name = 'x';
-- the same owner re-enters at once, waiting or not
SELECT state_lease('leases', 'x', 'b', 60000, 600000) IS NOT NULL;
SELECT depth FROM leases WHERE name = 'x';

-- 35.12 a wait inside an explicit transaction is an error, on every store
-- (the local store could not see another process's release); wait_ms 0
-- does not wait and is allowed.  A wait in a statement that writes is an
-- error too (the statement holds the write lock of the database file).
BEGIN;
SELECT state_lease('leases', 'w', 'b', 60000, 10);
SELECT state_lease('leases', 'free-in-txn', 'b', 60000, 10);
SELECT state_lease('leases', 'w', 'b', 60000, 0);
COMMIT;
CREATE TABLE got(token);
INSERT INTO got SELECT state_lease('leases', 'w', 'b', 60000, 10);
INSERT INTO got SELECT state_lease('leases', 'w', 'b', 60000, 0);
SELECT count(*), count(token) FROM got;

-- 35.13 errors: wait_ms negative, not an integer, NULL; a wrong table kind
SELECT state_lease('leases', 'w', 'b', 60000, -1);
SELECT state_lease('leases', 'w', 'b', 60000, 'soon');
SELECT state_lease('leases', 'w', 'b', 60000, 1.5);
SELECT state_lease('leases', 'w', 'b', 60000, NULL);
SELECT state_lease('leases', 'w', 'b', 60000, 1000000000001);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
SELECT state_lease('kv', 'w', 'b', 60000, 10);
