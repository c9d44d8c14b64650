-- 75-cluster-store: facts of the Redis store on a Redis Cluster (runs with
-- --store redis-cluster only, on the cluster of sv_start_redis_cluster with
-- a replica per primary): prefixes whose slots live on three primaries,
-- each statement sent to the primary of its prefix; a transaction writes
-- one prefix (slot) only, refused at the statement that would write a
-- second; a planned fail-over followed through MOVED; URL errors.  The
-- prefixes are fixed (c75a: .. c75c:, slots 2973, 7886 and 11775, one in
-- each third of the slots) and emptied first.

CREATE VIRTUAL TABLE a USING state_tasks(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75a:');
CREATE VIRTUAL TABLE b USING state_tasks(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75b:');
CREATE VIRTUAL TABLE c USING state_tasks(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75c:');
CREATE VIRTUAL TABLE akv USING state_kv(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75a:');
CREATE VIRTUAL TABLE bkv USING state_kv(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75b:');
DELETE FROM a;
DELETE FROM b;
DELETE FROM c;
DELETE FROM akv;
DELETE FROM bkv;

-- 75.1 the three prefixes' slots, owned by three different primaries
.system for p in c75a c75b c75c; do u=${STATEVTAB_RCLUSTER_URL#*//}; u=${u%%,*}; redis-cli -p "${u##*:}" cluster keyslot "{$p:}"; done
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh"; for p in c75a c75b c75c; do sv_redis_cluster_owner "$STATEVTAB_RCLUSTER_DIR" "{$p:}"; done | sort -u | wc -l'

-- 75.2 rows, claims and completions on each of them
INSERT INTO a(id, queue, name) VALUES ('a1', 'q', 'on a');
INSERT INTO b(id, queue, name) VALUES ('b1', 'q', 'on b');
INSERT INTO c(id, queue, name) VALUES ('c1', 'q', 'on c');
SELECT id, name, state FROM a UNION ALL SELECT id, name, state FROM b UNION ALL SELECT id, name, state FROM c;
SELECT id, lease_token FROM state_claim('a', 'q', 'w', 60000);
SELECT id, lease_token FROM state_claim('b', 'q', 'w', 60000);
SELECT id, lease_token FROM state_claim('c', 'q', 'w', 60000);
SELECT state_complete('a', 'a1', 1), state_complete('b', 'b1', 1), state_complete('c', 'c1', 1);
SELECT id, state FROM a UNION ALL SELECT id, state FROM b UNION ALL SELECT id, state FROM c;

-- 75.3 one transaction over two tables of one prefix (one slot) commits both
BEGIN;
INSERT INTO a(id, queue, name) VALUES ('a2', 'q', 'with kv');
INSERT INTO akv(scope, key, value) VALUES ('s', 'k', '"v"');
COMMIT;
SELECT (SELECT count(*) FROM a WHERE id = 'a2'), (SELECT value FROM akv);

-- 75.4 a transaction that wrote prefix c75a: cannot write c75b: (another
-- slot): that statement fails and writes nothing; the transaction goes on
-- and commits what it wrote to c75a:, or rolls back
BEGIN;
INSERT INTO a(id, queue, name) VALUES ('a3', 'q', 'first prefix');
INSERT INTO b(id, queue, name) VALUES ('b3', 'q', 'second prefix');
INSERT INTO bkv(scope, key, value) VALUES ('s', 'k', '1');
COMMIT;
SELECT (SELECT count(*) FROM a WHERE id = 'a3'), (SELECT count(*) FROM b WHERE id = 'b3'), (SELECT count(*) FROM bkv);
BEGIN;
INSERT INTO b(id, queue, name) VALUES ('b4', 'q', 'first prefix');
UPDATE a SET priority = 7 WHERE id = 'a3';
ROLLBACK;
SELECT (SELECT count(*) FROM b WHERE id = 'b4'), (SELECT priority FROM a WHERE id = 'a3');

-- 75.4b a flags table and its segments table on two slots: a delta that
-- writes both fails at the second, names why, and leaves nothing (the
-- call is all or nothing)
CREATE VIRTUAL TABLE sg USING state_segments(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75b:');
CREATE VIRTUAL TABLE fl USING state_flags(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75a:', segments='sg');
DELETE FROM fl;
DELETE FROM sg;
SELECT state_flags_apply_delta('fl', '{"events":[{"eventId":1,"type":"feature-updated","feature":{"name":"f1","enabled":true,"strategies":[{"name":"default"}]}},{"eventId":2,"type":"segment-updated","segment":{"id":1,"name":"s1","constraints":[]}}]}');
SELECT (SELECT count(*) FROM fl), (SELECT count(*) FROM sg);

-- 75.5 a statement reads one prefix and writes another: INSERT ... SELECT
INSERT INTO b(id, queue, name) SELECT 'copy-' || id, queue, name FROM a;
SELECT id, name FROM b WHERE id LIKE 'copy-%' ORDER BY id;

-- 75.6 a planned fail-over (CLUSTER FAILOVER): c75c:'s replica becomes its
-- primary; the connection to the old one, now a replica, is answered MOVED
-- and the statement goes to the new primary
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh"; o=$(sv_redis_cluster_owner "$STATEVTAB_RCLUSTER_DIR" "{c75c:}"); sv_redis_cluster_switchover "$STATEVTAB_RCLUSTER_DIR" "{c75c:}" && n=$(sv_redis_cluster_owner "$STATEVTAB_RCLUSTER_DIR" "{c75c:}") && [ "$n" != "$o" ] && echo switched'
INSERT INTO c(id, queue, name) VALUES ('c2', 'q', 'after the fail-over');
SELECT id, state FROM c ORDER BY id;
SELECT id, lease_token FROM state_claim('c', 'q', 'w', 60000);

-- 75.7 a slot being migrated (MIGRATING on its primary, IMPORTING on
-- another): the primary answers ASK for the keys it does not have, and
-- the statement goes once to the importing node, after ASKING.  The rows
-- written so are on that node: once the migration is called off, the
-- primary has none of them.  The script is flushed from every node first:
-- the importing node loads it under ASK (and is asked again with ASKING)
CREATE VIRTUAL TABLE m USING state_kv(store='env:STATEVTAB_RCLUSTER_URL', prefix='c75k:');
.system for f in "$STATEVTAB_RCLUSTER_DIR"/n*/sv.port; do redis-cli -p "$(cat "$f")" FUNCTION FLUSH >/dev/null 2>&1; redis-cli -p "$(cat "$f")" SCRIPT FLUSH >/dev/null 2>&1; done
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh"; sv_redis_cluster_migrating "$STATEVTAB_RCLUSTER_DIR" "{c75k:}" start && echo migrating'
INSERT INTO m(scope, key, value) VALUES ('s', 'asked', '1');
SELECT scope, key, value FROM m;
.system bash -c '. "$STATEVTAB_ROOT/test/lib/servers.sh"; sv_redis_cluster_migrating "$STATEVTAB_RCLUSTER_DIR" "{c75k:}" stop && echo stable'
SELECT count(*) FROM m;

-- 75.8 URL errors: no seed answers; a database other than 0; a seed list
-- with an empty entry; a bad parameter
CREATE VIRTUAL TABLE e1 USING state_kv(store='redis-cluster://127.0.0.1:1', prefix='e:');
CREATE VIRTUAL TABLE e2 USING state_kv(store='redis-cluster://127.0.0.1:1/3', prefix='e:');
CREATE VIRTUAL TABLE e3 USING state_kv(store='redis-cluster://127.0.0.1:1,,127.0.0.1:2', prefix='e:');
CREATE VIRTUAL TABLE e4 USING state_kv(store='redis-cluster://127.0.0.1:1?wait_replicas=x', prefix='e:');
CREATE VIRTUAL TABLE e5 USING state_kv(store='redis-cluster://127.0.0.1:1?db=2', prefix='e:');
