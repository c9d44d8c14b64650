-- 70-redis-store: facts of the Redis store (runs with --store redis only):
-- the key layout under the hash-tagged prefix, prefix isolation, values and
-- keys that are not plain text, the script reloaded after SCRIPT FLUSH, a
-- server restart between statements, a server that stops answering, the
-- optimistic commit, options and URLs.  The store options name a prefix
-- unique to this run ($STATEVTAB_TEST_NS plus ':'); key listings print it
-- as NS.

CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
CREATE VIRTUAL TABLE kv USING state_kv(@OPTS@);
CREATE VIRTUAL TABLE leases USING state_leases(@OPTS@);

-- 70.1 the key layout: every key starts with the hash tag {<prefix>}; a row
-- is a hash (a field per non-NULL column, plus the write stamp _v); the key,
-- the indexed columns and the claim order have keys of their own; tasks:idx
-- records the layout (and the indexes asked for, 70.15); tasks:queues the
-- queues written (state_metrics, 70.30); the columns
-- indexed on request (state, run_at, created_at, ...) have no keys
INSERT INTO tasks(id, queue, name, priority, run_at) VALUES ('t1', 'q', 'send', 5, 1000);
INSERT INTO tasks(id, queue, name, run_at) VALUES ('t9', 'q', 'later', 99999999999999);
INSERT INTO kv(scope, key, value) VALUES ('s', 'k', '{"a":1}');
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{$STATEVTAB_TEST_NS:}*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{$STATEVTAB_TEST_NS:}kv:r:1" | paste - - | LC_ALL=C sort
-- a due task goes straight to the ready set (claim order), a future one
-- waits in wait:<queue>; a claim takes t1 from ready into the queue's lease
-- set (the lease set by name is kept only for names a claim limits, 70.16)
SELECT id, lease_token FROM state_claim('tasks', 'q', 'w1', 60000);
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{$STATEVTAB_TEST_NS:}tasks:l*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HMGET "{$STATEVTAB_TEST_NS:}tasks:r:1" state lease_owner lease_token attempts

-- a task that comes due while it waits is moved to the ready set by the
-- next claim (the server's clock decides)
DELETE FROM tasks WHERE id = 't9';
.unsetenv STATEVTAB_TEST_CLOCK_MS
INSERT INTO tasks(id, queue, name, run_at) VALUES ('t8', 'q8', 'soon', state_now() + 300);
SELECT count(*) FROM state_claim('tasks', 'q8', 'w', 60000);
.system sleep 0.5
SELECT id FROM state_claim('tasks', 'q8', 'w', 60000);
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000

-- the store never walks the keyspace: key lookups, indexed equalities,
-- time ranges, full scans of a table, claims and writes send no SCAN or
-- KEYS (counted by the server since CONFIG RESETSTAT)
.system redis-cli -u "$STATEVTAB_REDIS_URL" CONFIG RESETSTAT >/dev/null
SELECT count(*) FROM tasks WHERE id = 't1';
SELECT count(*) FROM tasks WHERE queue = 'q' AND state = 'claimed';
SELECT count(*) FROM tasks WHERE run_at BETWEEN 0 AND 2000;
SELECT count(*) FROM tasks;
SELECT count(*) FROM kv WHERE value IS NOT NULL;
SELECT count(*) FROM state_claim('tasks', 'none', 'w', 1000);
INSERT INTO kv(scope, key, value) VALUES ('z', 'w', '1');
UPDATE kv SET value = '2' WHERE scope = 'z';
DELETE FROM kv WHERE scope = 'z';
.system redis-cli -u "$STATEVTAB_REDIS_URL" INFO commandstats | grep -c -E '^cmdstat_(scan|keys):' || true

-- 70.2 prefix isolation: another prefix on the same server never sees these
-- rows, and the same keys there are other rows
CREATE VIRTUAL TABLE other USING state_tasks(@OPTS:other@);
CREATE VIRTUAL TABLE tasks2 USING state_tasks(@OPTS@);
SELECT count(*) FROM other;
INSERT INTO other(id, queue, name) VALUES ('t1', 'q', 'elsewhere');
SELECT id, name FROM other;
SELECT id, name FROM tasks2;
SELECT count(*) FROM state_claim('other', 'q', 'w', 1000) WHERE id = 't1';
SELECT state FROM tasks WHERE id = 't1';

-- 70.3 keys and values with spaces, CR LF, NUL bytes and braces round-trip
-- byte for byte, as keys of rows, as indexed values and as queue names
INSERT INTO kv(scope, key, value) VALUES
  ('a b', 'x' || char(13, 10) || '{y}', json_quote('v ' || char(13, 10) || ' {}')),
  (CAST(x'7300' AS TEXT), CAST(x'6b00317d' AS TEXT), '1');
SELECT hex(scope), hex(key), hex(value) FROM kv WHERE scope <> 's' ORDER BY 1;
SELECT value FROM kv WHERE scope = 'a b' AND key = 'x' || char(13, 10) || '{y}';
SELECT value FROM kv WHERE scope = CAST(x'7300' AS TEXT) AND key = CAST(x'6b00317d' AS TEXT);
SELECT count(*) FROM kv WHERE scope = 's' || char(0);
INSERT INTO tasks(id, queue, name, error) VALUES
  (CAST(x'69640d0a007b7d' AS TEXT), 'q {1}' || char(10), 'n' || char(13), CAST(x'650065' AS TEXT));
SELECT hex(id), hex(queue), hex(name), hex(error) FROM tasks WHERE queue = 'q {1}' || char(10);
SELECT hex(id), lease_token FROM state_claim('tasks', 'q {1}' || char(10), 'w', 60000);
SELECT state_complete('tasks', CAST(x'69640d0a007b7d' AS TEXT), 1, '"ok"');
SELECT state, result FROM tasks WHERE id = CAST(x'69640d0a007b7d' AS TEXT);

-- 70.4 SCRIPT FLUSH drops the store's Lua script: the next call gets
-- NOSCRIPT, loads it again and goes on (claims, writes at commit, scans)
.system redis-cli -u "$STATEVTAB_REDIS_URL" SCRIPT FLUSH >/dev/null
INSERT INTO tasks(id, queue, name) VALUES ('t2', 'q2', 'x');
.system redis-cli -u "$STATEVTAB_REDIS_URL" SCRIPT FLUSH >/dev/null
SELECT id FROM state_claim('tasks', 'q2', 'w', 60000);
.system redis-cli -u "$STATEVTAB_REDIS_URL" SCRIPT FLUSH >/dev/null
SELECT id, state FROM tasks WHERE queue = 'q2';

-- 70.5 the server restarts between two statements (appendonly, appendfsync
-- always): the next statement reconnects, nothing was lost, and a lease
-- taken after the restart has a greater fencing token
SELECT state_lease('leases', 'L', 'a', 60000) > 0;
CREATE TEMP TABLE tok(t);
INSERT INTO tok SELECT token FROM leases WHERE name = 'L';
SELECT state_release('leases', 'L', 'a');
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh" && sv_restart_redis >/dev/null'
SELECT count(*) FROM tasks;
SELECT state_lease('leases', 'L', 'b', 60000) > (SELECT t FROM tok);
INSERT INTO tasks(id, name) VALUES ('t3', 'after restart');
SELECT name FROM tasks WHERE id = 't3';

-- 70.6 fencing tokens: the tokens grow even when the data is lost (here
-- the namespace's keys are deleted behind the store's back), since they are
-- at least the server's time in microseconds
DELETE FROM tok;
INSERT INTO tok SELECT token FROM leases WHERE name = 'L';
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{$STATEVTAB_TEST_NS:}leases*" | xargs -r redis-cli -u "$STATEVTAB_REDIS_URL" DEL >/dev/null
SELECT count(*) FROM leases;
SELECT state_lease('leases', 'L', 'c', 60000) > (SELECT t FROM tok);

-- 70.7 a server that stops answering (SIGSTOP): the statement fails after
-- the command timeout (the smallest command_timeout of the tables on the
-- connection, here 300 ms) with SQLITE_IOERR; once it answers again, the
-- next statement reconnects
-- (through a link to the server's unix socket, so that the message names
-- a path that does not change from run to run)
.system ln -s "$STATEVTAB_REDIS_SOCK" redis.sock
CREATE VIRTUAL TABLE quick USING state_kv(store='unix:@TMP@/redis.sock', prefix='x:', command_timeout=300);
SELECT count(*) FROM quick;
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh" && sv_pause_redis'
SELECT count(*) FROM quick;
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh" && sv_resume_redis'
SELECT count(*) FROM quick;

-- 70.8 the commit is optimistic: an UPDATE inside a transaction carries
-- the write stamp of the row it read; when another connection changed the
-- row before COMMIT, the COMMIT fails with SQLITE_BUSY_SNAPSHOT, rolls
-- the transaction back and writes nothing
BEGIN;
UPDATE kv SET value = '"mine"' WHERE scope = 's' AND key = 'k' AND version = 1;
INSERT INTO kv(scope, key, value) VALUES ('s', 'k2', '2');
SELECT value, version FROM kv WHERE scope = 's' ORDER BY key;
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE kv USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='$STATEVTAB_TEST_NS:'); UPDATE kv SET value = '\"theirs\"' WHERE scope = 's' AND key = 'k'"
COMMIT;
SELECT value, version FROM kv WHERE scope = 's' ORDER BY key;
-- the same transaction again, after a fresh read, commits
BEGIN;
UPDATE kv SET value = '"mine"' WHERE scope = 's' AND key = 'k' AND version = 2;
COMMIT;
SELECT value, version FROM kv WHERE scope = 's' ORDER BY key;
-- a uniqueness conflict that appears only at COMMIT (another connection
-- took the key meanwhile) fails the COMMIT, and nothing is written
BEGIN;
INSERT INTO kv(scope, key, value) VALUES ('s', 'k3', '3');
INSERT INTO kv(scope, key, value) VALUES ('s', 'k4', '4');
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE kv USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='$STATEVTAB_TEST_NS:'); INSERT INTO kv(scope, key, value) VALUES ('s', 'k4', '44')"
COMMIT;
SELECT key, value FROM kv WHERE scope = 's' ORDER BY key;

-- INSERT OR REPLACE deletes the row holding the key as it was read: when
-- another connection changes that row before COMMIT, the COMMIT fails and
-- the other connection's change stands
INSERT INTO kv(scope, key, value) VALUES ('r', 'a', '"old"');
BEGIN;
INSERT OR REPLACE INTO kv(scope, key, value) VALUES ('r', 'a', '"new"');
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE kv USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='$STATEVTAB_TEST_NS:'); UPDATE kv SET key = 'b', value = '\"moved\"' WHERE scope = 'r' AND key = 'a'"
COMMIT;
SELECT key, value FROM kv WHERE scope = 'r' ORDER BY key;

-- row handles survive a lost counter (here deleted behind the store's
-- back while rows remain): new blocks start past the rows there, and a
-- handle this connection reserved before that is found taken at the write,
-- which fails once (SQLITE_BUSY_SNAPSHOT) and takes a fresh block when
-- tried again; no row is overwritten
CREATE VIRTUAL TABLE fl USING state_flags(@OPTS:rid@);
INSERT INTO fl(name) VALUES ('f1');
.system redis-cli -u "$STATEVTAB_REDIS_URL" DEL "{${STATEVTAB_TEST_NS}_rid:}flags:seq" >/dev/null
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE fl USING state_flags(store='env:STATEVTAB_REDIS_URL', prefix='${STATEVTAB_TEST_NS}_rid:'); INSERT INTO fl(name) VALUES ('f2')"
INSERT INTO fl(name) VALUES ('f3');
INSERT INTO fl(name) VALUES ('f3');
SELECT name FROM fl ORDER BY name;

-- 70.9 the atomic functions run at once, also inside a transaction, and a
-- ROLLBACK undoes them (a function on another kind of table than the rows
-- written before it is not refused: see 70.21)
CREATE VIRTUAL TABLE co USING state_counters(@OPTS@);
BEGIN;
INSERT INTO kv(scope, key, value) VALUES ('s', 'k5', '5');
SELECT state_incr('co', 's', 'n', 7);
ROLLBACK;
SELECT value FROM co;
SELECT count(*) FROM kv WHERE key = 'k5';

-- 70.10 DROP TABLE only disconnects: the rows stay on the server for the
-- other tables naming the prefix, and a new table sees them again
DROP TABLE tasks2;
SELECT count(*) FROM tasks WHERE id IN ('t1', 't2', 't3');
DROP TABLE tasks;
CREATE VIRTUAL TABLE tasks USING state_tasks(@OPTS@);
SELECT id FROM tasks WHERE id IN ('t1', 't2', 't3') ORDER BY id;

-- 70.11 the unix socket, with URL parameters
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_tasks(store='unix:$STATEVTAB_REDIS_SOCK?db=0&command_timeout=5000', prefix='$STATEVTAB_TEST_NS:'); SELECT id FROM t WHERE id = 't3'"

-- 70.12 state_wait listens on the namespace's channel {<prefix>}tasks:wake
-- (one subscriber while it waits), and a task enqueued by another process
-- wakes it
.system (sleep 0.5; redis-cli -u "$STATEVTAB_REDIS_URL" PUBSUB NUMSUB "{$STATEVTAB_TEST_NS:}tasks:wake" | sed "s/$STATEVTAB_TEST_NS/NS/" > numsub.txt; sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_tasks(store='env:STATEVTAB_REDIS_URL', prefix='$STATEVTAB_TEST_NS:'); INSERT INTO t(queue, name) VALUES ('wq', 'wake')" >/dev/null 2>&1) &
SELECT state_wait('tasks', 'wq', 30000);
.system cat numsub.txt
SELECT name FROM tasks WHERE queue = 'wq';

-- 70.13 options: a prefix with braces (it would break the hash tag), a bad
-- timeout, an unknown option; a wrong password is named without the
-- password
CREATE VIRTUAL TABLE bad USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='a{b}');
CREATE VIRTUAL TABLE bad USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='');
CREATE VIRTUAL TABLE bad USING state_kv(store='env:STATEVTAB_REDIS_URL', prefix='a}');
CREATE VIRTUAL TABLE bad USING state_kv(@OPTS@, command_timeout='soon');
CREATE VIRTUAL TABLE bad USING state_kv(@OPTS@, connect_timeout=0);
CREATE VIRTUAL TABLE bad USING state_kv(@OPTS@, bakend='x');
.system sqlite3 :memory: -cmd ".load $STATEVTAB_EXT" "CREATE VIRTUAL TABLE t USING state_kv(store='redis://:hunter2@127.0.0.1:$STATEVTAB_REDIS_PORT/0')" 2>&1 | sed "s/$STATEVTAB_REDIS_PORT/PORT/"
SELECT count(*) FROM bad;

-- 70.14 inside a transaction, an id given as the integer 1 is the user's
-- (checked at once), not one statevtab generated
CREATE VIRTUAL TABLE t1 USING state_tasks(@OPTS:ids@);
BEGIN;
INSERT INTO t1(id, name) VALUES (1, 'a');
INSERT INTO t1(id, name) VALUES (1, 'b');
INSERT INTO t1(id, name) VALUES (2, 'c');
COMMIT;
SELECT id, name FROM t1 ORDER BY id;

-- 70.15 indexes= on Redis: every writer of the namespace keeps the indexes
-- any table asks for (recorded in tasks:idx), built from the rows already
-- there; an unknown column is an error
CREATE VIRTUAL TABLE x1 USING state_tasks(@OPTS:ix@);
INSERT INTO x1(id, queue, name) VALUES ('a', 'q', 'n'), ('b', 'q', 'n');
SELECT id, lease_token FROM state_claim('x1', 'q', 'w', 60000);
CREATE VIRTUAL TABLE x2 USING state_tasks(@OPTS:ix@, indexes='state, completed_at,,name');
CREATE VIRTUAL TABLE x3 USING state_tasks(@OPTS:ix@, indexes='state,nope');
CREATE VIRTUAL TABLE x3 USING state_kv(@OPTS:ix@, indexes='version');
.system redis-cli -u "$STATEVTAB_REDIS_URL" HKEYS "{${STATEVTAB_TEST_NS}_ix:}tasks:idx" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_ix:}tasks:[iz]:*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
-- x1 names no index, and keeps the ones x2 asked for
SELECT state_complete('x1', 'a', 1);
INSERT INTO x1(id, queue, name) VALUES ('c', 'q', 'm');
.system redis-cli -u "$STATEVTAB_REDIS_URL" SMEMBERS "{${STATEVTAB_TEST_NS}_ix:}tasks:i:state:pending" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "{${STATEVTAB_TEST_NS}_ix:}tasks:z:completed_at"
SELECT id FROM x2 WHERE state = 'pending' ORDER BY id;
SELECT id FROM x2 WHERE name = 'n' ORDER BY id;
SELECT id FROM x2 WHERE completed_at > 0;
SELECT id FROM x1 WHERE queue = 'q' AND state = 'pending' ORDER BY id;
SELECT id FROM x1 WHERE queue = 'q' AND state = 'completed' ORDER BY id;

-- 70.16 lease sets: by queue for every claimed task (a task claimed without
-- a lease too, at +inf: never reaped, not counted by limits, found by
-- queue = ? AND state = 'claimed'); by name only once a claim limits that
-- name (the first such claim builds it from the rows)
CREATE VIRTUAL TABLE y1 USING state_tasks(@OPTS:ls@);
INSERT INTO y1(id, queue, name) VALUES ('a', 'q', 'send'), ('b', 'q', 'send'), ('c', 'q', 'send');
INSERT INTO y1(id, queue, name, state) VALUES ('h', 'q', 'send', 'claimed');
SELECT id FROM state_claim('y1', 'q', 'w', 60000, 2) ORDER BY id;
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_ls:}tasks:l*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
SELECT count(*) FROM state_claim('y1', 'q', 'w', 60000, 5, '{"limits":{"send":2}}');
SELECT count(*) FROM state_claim('y1', 'q', 'w', 60000, 5, '{"limits":{"queue:q":2}}');
SELECT id FROM state_claim('y1', 'q', 'w', 60000, 5, '{"limits":{"send":3}}');
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "{${STATEVTAB_TEST_NS}_ls:}tasks:ln:send"
SELECT id, lease_expires_at IS NULL FROM y1 WHERE queue = 'q' AND state = 'claimed' ORDER BY id;
SELECT state_complete('y1', 'a', 1);
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "{${STATEVTAB_TEST_NS}_ls:}tasks:ln:send"
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZRANGE "{${STATEVTAB_TEST_NS}_ls:}tasks:lq:q" 0 -1 WITHSCORES | paste - - | awk '{ print ($2 == "inf" ? "+inf" : "a lease") }' | LC_ALL=C sort

-- 70.17 rows written by statevtab before the index diet (layout 1: state,
-- run_at, created_at, completed_at, lease_expires_at and idempotency_key
-- indexed for every task, lease sets by name for every name; made here by
-- hand) are read and claimed; the first call deletes the keys no longer
-- kept up to date and records layout 2 in tasks:idx
.system printf '%s\n' 'HSET {NS:}tasks:r:1 _v 1 id p1 queue q name n state pending priority 0 run_at 1000 attempts 0 max_attempts 3 tags [] idempotency_key k1 created_at 1000 updated_at 1000' 'HSET {NS:}tasks:r:2 _v 2 id c1 queue q name n state claimed priority 0 run_at 1000 attempts 1 max_attempts 3 tags [] lease_owner w lease_token 1 lease_expires_at 2000 created_at 1000 updated_at 1000' 'ZADD {NS:}tasks:all 1 1 2 2' 'HSET {NS:}tasks:key p1 1 c1 2' 'HSET {NS:}tasks:dd 1:qk1 1' 'SET {NS:}tasks:seq 2' 'SADD {NS:}tasks:i:queue:q 1 2' 'SADD {NS:}tasks:i:state:pending 1' 'SADD {NS:}tasks:i:state:claimed 2' 'SADD {NS:}tasks:i:idempotency_key:k1 1' 'ZADD {NS:}tasks:z:run_at 1000 1 1000 2' 'ZADD {NS:}tasks:z:created_at 1000 1 1000 2' 'ZADD {NS:}tasks:z:lease_expires_at 2000 2' 'ZADD {NS:}tasks:ready:q 0 1000000000000000000010000000000000001000p1' 'ZADD {NS:}tasks:lq:q 2000 2' 'ZADD {NS:}tasks:ln:n 2000 2' | sed "s/{NS:}/{${STATEVTAB_TEST_NS}_old:}/" | redis-cli -u "$STATEVTAB_REDIS_URL" >/dev/null
CREATE VIRTUAL TABLE old1 USING state_tasks(@OPTS:old@);
SELECT id, state FROM old1 WHERE queue = 'q' AND state = 'claimed';
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_old:}*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{${STATEVTAB_TEST_NS}_old:}tasks:idx"
SELECT id, state FROM old1 WHERE queue = 'q' AND state = 'pending';
INSERT INTO old1(queue, name, idempotency_key) VALUES ('q', 'dup', 'k1');
SELECT id, lease_token FROM state_claim('old1', 'q', 'w', 60000, 5) ORDER BY id;
SELECT state_complete('old1', 'p1', 1), state_complete('old1', 'c1', 2);
SELECT id, state, lease_expires_at FROM old1 ORDER BY id;

-- 70.18 the script runs as a Redis function (FCALL), not with EVALSHA
.system redis-cli -u "$STATEVTAB_REDIS_URL" CONFIG RESETSTAT >/dev/null
SELECT count(*) FROM state_claim('tasks', 'none', 'w', 1000);
.system redis-cli -u "$STATEVTAB_REDIS_URL" INFO commandstats | grep -o -E '^cmdstat_(fcall|evalsha):' | LC_ALL=C sort

-- 70.19 kv values of any type are stored tagged (I 64-bit integer, R real
-- as its 64 bits in hex, T text, B blob, its bytes as they are); rows
-- written before (value was JSON text, stored untagged; made here by hand)
-- read back as they were written, as text, and can be updated to any type
CREATE VIRTUAL TABLE oldkv USING state_kv(@OPTS:oldkv@);
INSERT INTO oldkv(scope, key, value) VALUES ('n', 'i', -9223372036854775808),
  ('n', 'r', 0.1), ('n', 't', 'hi'), ('n', 'b', x'41004243'), ('n', 'z', NULL);
.system for k in 1 2 3 4 5; do redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_oldkv:}kv:r:$k" value | od -An -c -w100 | tr -s " "; done
.system printf '%s\n' "HSET {NS:}kv:r:11 _v 1 scope o key obj value '{\"a\":1}' version 1 updated_at 1000" "HSET {NS:}kv:r:12 _v 1 scope o key str value '\"str\"' version 1 updated_at 1000" "HSET {NS:}kv:r:13 _v 1 scope o key num value 42 version 1 updated_at 1000" "HSET {NS:}kv:r:14 _v 1 scope o key sp value ' [1]' version 1 updated_at 1000" 'ZADD {NS:}kv:all 11 11 12 12 13 13 14 14' 'HSET {NS:}kv:key 1:oobj 11 1:ostr 12 1:onum 13 1:osp 14' 'SADD {NS:}kv:i:scope:o 11 12 13 14' 'SET {NS:}kv:seq 100' | sed "s/{NS:}/{${STATEVTAB_TEST_NS}_oldkv:}/" | redis-cli -u "$STATEVTAB_REDIS_URL" >/dev/null
SELECT key, typeof(value), value, version FROM oldkv WHERE scope = 'o' ORDER BY key;
UPDATE oldkv SET value = x'0102' WHERE scope = 'o' AND key = 'num';
SELECT key, typeof(value), quote(value), version FROM oldkv WHERE scope = 'o' ORDER BY key;

-- 70.20 expired kv rows are removed, not only hidden: every write call
-- removes up to 100 expired rows per row it writes, found in the zset
-- kv:z:expires_at, with their index entries; 10,000 rows that expire
-- leave no key behind once rows are written again (here one row, then 99
-- in one statement: one call)
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000
CREATE VIRTUAL TABLE ks USING state_kv(@OPTS:sweep@);
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 10000)
INSERT INTO ks(scope, key, value, expires_at)
  SELECT 'ttl', 'k' || i, i, 1700000001000 FROM n;
.system k="{${STATEVTAB_TEST_NS}_sweep:}kv"; echo "rows $(redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "$k:r:*" | wc -l) all $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:all") key $(redis-cli -u "$STATEVTAB_REDIS_URL" HLEN "$k:key") z $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:z:expires_at") scope:ttl $(redis-cli -u "$STATEVTAB_REDIS_URL" SCARD "$k:i:scope:ttl")"
.setenv STATEVTAB_TEST_CLOCK_MS 1700000001000
SELECT count(*) FROM ks;
INSERT INTO ks(scope, key, value) VALUES ('live', 'a', 1);
.system k="{${STATEVTAB_TEST_NS}_sweep:}kv"; echo "rows $(redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "$k:r:*" | wc -l) all $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:all") key $(redis-cli -u "$STATEVTAB_REDIS_URL" HLEN "$k:key") z $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:z:expires_at") scope:ttl $(redis-cli -u "$STATEVTAB_REDIS_URL" SCARD "$k:i:scope:ttl")"
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 99)
INSERT INTO ks(scope, key, value) SELECT 'live', 'b' || i, i FROM n;
.system k="{${STATEVTAB_TEST_NS}_sweep:}kv"; echo "rows $(redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "$k:r:*" | wc -l) all $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:all") key $(redis-cli -u "$STATEVTAB_REDIS_URL" HLEN "$k:key") z $(redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "$k:z:expires_at") scope:ttl $(redis-cli -u "$STATEVTAB_REDIS_URL" SCARD "$k:i:scope:ttl")"
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_sweep:}*" | grep -v ':r:' | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
SELECT count(*), min(value), max(value) FROM ks;
.setenv STATEVTAB_TEST_CLOCK_MS 1700000000000

-- 70.21 inside an explicit transaction, a function on a table whose rows
-- the transaction has written already (they wait in the log for the
-- COMMIT) is refused, naming the kind of table; the transaction
-- goes on, and a function on other tables is not refused.  Without the
-- earlier writes the same claim works (17-transactions-functions)
CREATE VIRTUAL TABLE tx USING state_tasks(@OPTS:tx@);
CREATE VIRTUAL TABLE txc USING state_counters(@OPTS:tx@);
BEGIN;
INSERT INTO tx(id, queue, name) VALUES ('x1', 'txq', 'job');
SELECT count(*) FROM state_claim('tx', 'txq', 'w', 60000);
SELECT state_pause('tx', 'txq');
SELECT state_incr('txc', 's', 'n');
COMMIT;
SELECT id, state FROM tx;
SELECT value FROM txc;

-- 70.22 a ROLLBACK puts back a row a function changed only when no one
-- changed it since (its write stamp): a lease row changed by another client
-- meanwhile stays as that client left it; a counter changed meanwhile
-- gives back only the rolled-back increment
CREATE VIRTUAL TABLE txl USING state_leases(@OPTS:tx@);
BEGIN;
SELECT state_lease('txl', 'job', 'a', 60000) > 0;
SELECT state_incr('txc', 's', 'n', 5);
.system for k in $(redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_tx:}leases:r:*"); do redis-cli -u "$STATEVTAB_REDIS_URL" HSET "$k" owner other _v 99 >/dev/null; done; for k in $(redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_tx:}counters:r:*"); do redis-cli -u "$STATEVTAB_REDIS_URL" HSET "$k" value 100 _v 99 >/dev/null; done
ROLLBACK;
SELECT name, owner, depth FROM txl;
SELECT value FROM txc;

-- 70.23 before the first function of an explicit transaction statevtab
-- enlists the table with a write statement that touches no row; where
-- SQLite refuses writes (PRAGMA query_only) that fails, and the function
-- with it, naming why
CREATE VIRTUAL TABLE qo USING state_counters(@OPTS:qo@);
PRAGMA query_only = 1;
BEGIN;
SELECT state_incr('qo', 's', 'q');
ROLLBACK;
PRAGMA query_only = 0;
SELECT count(*) FROM qo;

-- 70.40 dedup=: Btasks:dd maps a (queue, key) to the task that holds it;
-- a task out of the window gives the entry up to the new one and keeps
-- its key; a finished task inserted does not take it; a deleted holder
-- leaves no entry, and the next task takes it
CREATE VIRTUAL TABLE dd USING state_tasks(@OPTS:dd@, dedup='active');
INSERT INTO dd(id, queue, name, idempotency_key) VALUES ('d1', 'q', 'x', 'k');
.system r=$(redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:dd" "1:qk"); redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:r:$r" id
UPDATE dd SET state = 'completed' WHERE id = 'd1';
INSERT INTO dd(id, queue, name, idempotency_key) VALUES ('d2', 'q', 'x', 'k');
INSERT INTO dd(id, queue, name, idempotency_key, state) VALUES ('d3', 'q', 'x', 'k', 'dead');
.system r=$(redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:dd" "1:qk"); redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:r:$r" id
SELECT id, state, idempotency_key FROM dd ORDER BY id;
DELETE FROM dd WHERE id = 'd2';
.system redis-cli -u "$STATEVTAB_REDIS_URL" HEXISTS "{${STATEVTAB_TEST_NS}_dd:}tasks:dd" "1:qk"
INSERT INTO dd(id, queue, name, idempotency_key) VALUES ('d4', 'q', 'x', 'k');
INSERT INTO dd(id, queue, name, idempotency_key) VALUES ('d5', 'q', 'x', 'k');
.system r=$(redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:dd" "1:qk"); redis-cli -u "$STATEVTAB_REDIS_URL" HGET "{${STATEVTAB_TEST_NS}_dd:}tasks:r:$r" id
SELECT id, state FROM dd ORDER BY id;
-- 70.50 schedules on Redis: a schedule is a hash schedules:r:<rid> with its
-- key in schedules:key and next_run in the zset schedules:z:next_run; the
-- firing (ops.fire, one script call) writes the task and moves the row's
-- last_run, next_run (and its zset entry) and write stamp _v
CREATE VIRTUAL TABLE rs USING state_schedules(@OPTS:sch@);
CREATE VIRTUAL TABLE rt USING state_tasks(@OPTS:sch@, schedules='rs');
INSERT INTO rs(name, cron, queue, task, next_run) VALUES ('m', '0 * * * *', 'rq', 'hourly', 1699999200000);
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_sch:}schedules*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HMGET "{${STATEVTAB_TEST_NS}_sch:}schedules:r:1" name cron last_run next_run _v
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZRANGE "{${STATEVTAB_TEST_NS}_sch:}schedules:z:next_run" 0 -1 WITHSCORES
SELECT name, datetime(run_at / 1000, 'unixepoch') FROM state_claim('rt', 'rq', 'w', 30000);
.system redis-cli -u "$STATEVTAB_REDIS_URL" HMGET "{${STATEVTAB_TEST_NS}_sch:}schedules:r:1" name cron last_run next_run _v
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZRANGE "{${STATEVTAB_TEST_NS}_sch:}schedules:z:next_run" 0 -1 WITHSCORES
.system redis-cli -u "$STATEVTAB_REDIS_URL" HMGET "{${STATEVTAB_TEST_NS}_sch:}tasks:r:1" queue name state run_at

-- 70.51 a schedule row whose zone cannot be loaded (written by hand here,
-- as by another version) makes the claim that would fire it fail, naming
-- the schedule and the zone, once the copy of the rows is read again
.system redis-cli -u "$STATEVTAB_REDIS_URL" HSET "{${STATEVTAB_TEST_NS}_sch:}schedules:r:1" timezone Mars/Base next_run 1700000000000 > /dev/null
.system sleep 0.3
SELECT count(*) FROM state_claim('rt', 'rq', 'w', 30000);
-- 70.30 state_metrics on a namespace written before it (layout 2 without
-- the queues, n:<queue> and cps:<queue> keys; rows made here by hand): the
-- first call builds them from the rows and records _metrics in tasks:idx
.system now=$(date +%s)000; printf '%s\n' "HSET {NS:}tasks:r:1 _v 1 id m1 queue mq name n state completed priority 0 run_at 1000 attempts 1 max_attempts 3 tags [] created_at 1000 updated_at $now completed_at $now" 'HSET {NS:}tasks:r:2 _v 1 id m2 queue mq name n state failed priority 0 run_at 1000 attempts 1 max_attempts 3 tags [] created_at 1000 updated_at 1000' 'HSET {NS:}tasks:r:3 _v 1 id m3 queue mq2 name n state pending priority 0 run_at 1000 attempts 0 max_attempts 3 tags [] created_at 1000 updated_at 1000' 'ZADD {NS:}tasks:all 1 1 2 2 3 3' 'HSET {NS:}tasks:key m1 1 m2 2 m3 3' 'SET {NS:}tasks:seq 3' 'SADD {NS:}tasks:i:queue:mq 1 2' 'SADD {NS:}tasks:i:queue:mq2 3' 'ZADD {NS:}tasks:ready:mq2 0 1000000000000000000010000000000000001000m3' 'HSET {NS:}tasks:idx _layout 2' | sed "s/{NS:}/{${STATEVTAB_TEST_NS}_m:}/" | redis-cli -u "$STATEVTAB_REDIS_URL" >/dev/null
CREATE VIRTUAL TABLE old3 USING state_tasks(@OPTS:m@);
SELECT queue, pending, completed, failed, completed_last_minute
  FROM state_metrics('old3');
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{${STATEVTAB_TEST_NS}_m:}tasks:idx" | paste - - | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" SMEMBERS "{${STATEVTAB_TEST_NS}_m:}tasks:queues" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{${STATEVTAB_TEST_NS}_m:}tasks:n:mq" | paste - - | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HVALS "{${STATEVTAB_TEST_NS}_m:}tasks:cps:mq"

-- 70.31 without _metrics (HDEL: how to rebuild them after a process of an
-- earlier build wrote the namespace) the next call builds them again,
-- from the rows (not added to what was there; a queue left without tasks,
-- here "gone", is forgotten); a write after keeps them
.system redis-cli -u "$STATEVTAB_REDIS_URL" HSET "{${STATEVTAB_TEST_NS}_m:}tasks:n:mq" failed 5 >/dev/null; redis-cli -u "$STATEVTAB_REDIS_URL" SADD "{${STATEVTAB_TEST_NS}_m:}tasks:queues" gone >/dev/null; redis-cli -u "$STATEVTAB_REDIS_URL" HSET "{${STATEVTAB_TEST_NS}_m:}tasks:n:gone" completed 3 >/dev/null; redis-cli -u "$STATEVTAB_REDIS_URL" HDEL "{${STATEVTAB_TEST_NS}_m:}tasks:idx" _metrics >/dev/null
SELECT queue, completed, failed FROM state_metrics('old3');
UPDATE old3 SET state = 'cancelled' WHERE id = 'm2';
DELETE FROM old3 WHERE id = 'm1';
SELECT queue, completed, failed, cancelled, completed_last_minute
  FROM state_metrics('old3');
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{${STATEVTAB_TEST_NS}_m:}tasks:n:mq" | paste - - | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" HVALS "{${STATEVTAB_TEST_NS}_m:}tasks:cps:mq"

-- 70.60 partitions on Redis: a due task with a partition_key waits in
-- pr:<length of the queue>:<queue>:<key> instead of ready:<queue>, its key
-- in parts:<queue>; a claim records the partition it served in pcur
-- ("" the NULL partition, "=<key>" a key); a partition limit builds the
-- lease sets plq:... of the queue's partitions; a claim that finds a
-- partition empty takes its key out of parts
CREATE VIRTUAL TABLE pt USING state_tasks(@OPTS:part@);
INSERT INTO pt(id, queue, name, partition_key) VALUES
  ('x1', 'pq', 'n', 'a'), ('x2', 'pq', 'n', NULL), ('x3', 'pq', 'n', 'b'),
  ('x4', 'pq', 'n', 'b');
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_part:}tasks:[pr]*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZRANGE "{${STATEVTAB_TEST_NS}_part:}tasks:parts:pq" 0 -1
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "{${STATEVTAB_TEST_NS}_part:}tasks:pr:2:pq:b"
SELECT id FROM state_claim('pt', 'pq', 'w', 30000, 2, '{"limits":{"partition:pq":1}}') ORDER BY id;
.system redis-cli -u "$STATEVTAB_REDIS_URL" HGETALL "{${STATEVTAB_TEST_NS}_part:}tasks:pcur"
.system redis-cli -u "$STATEVTAB_REDIS_URL" --scan --pattern "{${STATEVTAB_TEST_NS}_part:}tasks:plq*" | sed "s/$STATEVTAB_TEST_NS/NS/" | LC_ALL=C sort
SELECT id FROM state_claim('pt', 'pq', 'w', 30000, 5) ORDER BY id;
SELECT count(*) FROM state_claim('pt', 'pq', 'w', 30000, 5);
.system redis-cli -u "$STATEVTAB_REDIS_URL" ZCARD "{${STATEVTAB_TEST_NS}_part:}tasks:parts:pq"
