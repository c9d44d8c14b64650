/*
** 2026-11-22
**
** oom.c -- out-of-memory injection host for statevtab.
**
**   oom EXTENSION --list                 the scenario names, one a line
**   oom EXTENSION SCENARIO... [options]  run them ("all": every one)
**
**     --mode once|after|both   fail only the N-th allocation ("once"), or
**                              the N-th and every later one ("after");
**                              default both
**     --dir DIR                where the file databases go (default
**                              $TEST_TMP, else /tmp)
**     --max N                  give up (FAIL) when a scenario still
**                              allocates after N allocations (100000)
**     --unsanitized            the host is knowingly built without
**                              sanitizers (the caller reports that); else
**                              such a host prints a FAIL line
**     --trace N                print every statement's outcome of run N
**                              (and of the baseline) on stderr
**
** Prints "PASS oom/<scenario>/<mode> (...)" or one "FAIL oom/<scenario>/
** <mode>: ..." line per distinct problem; exits 1 when anything failed, 2
** on a usage or setup error.  A sanitizer report ends the process; the
** death callback first prints a FAIL line naming the scenario, the mode, N
** and the statement.  Build it with -fsanitize=address,undefined and load
** the extension built with --enable-sanitize (test/suites/60-oom.sh).
**
** HOW IT WORKS
**
** Before sqlite3_initialize(), SQLITE_CONFIG_GETMALLOC fetches SQLite's
** allocator and SQLITE_CONFIG_MALLOC installs a wrapper around it that,
** when armed, counts the allocations (xMalloc and xRealloc calls) and fails
** the N-th ("once") or the N-th and all later ones ("after").  Lookaside and
** the bulk page-cache allocation are turned off (SQLITE_CONFIG_LOOKASIDE
** and SQLITE_CONFIG_PAGECACHE 0, 0) so that every allocation of SQLite and
** of the extension goes through the wrapper one by one.  The wrapper also
** counts live allocations, so that a run that leaks is caught at once.
**
** A scenario is a list of SQL statements ("!" in front: the statement is
** expected to fail even without injection) and, optionally, setup
** statements run before the failure is armed: on the same connection, or
** for a file database once, on a separate connection, to make a template
** file; and, for a remote store, reset statements run before every run on
** a connection of their own (see THE REDIS SCENARIOS).  For each scenario
** and mode:
**
**   1. a baseline run without injection records, per statement, the result
**      code, the message, the rows (all columns as text) and the number of
**      allocations (shown by --trace);
**   2. runs N = 1, 2, 3, ...: a fresh connection (":memory:", or a copy of
**      the template file in WAL mode), the extension loaded, then the
**      failure is armed at N, every statement runs (prepare, step to the
**      end, finalize; the script goes on after an error), the failure is
**      disarmed, every statevtab table left in the schema must still be
**      readable, sqlite3_close() must return SQLITE_OK (no statement left
**      unfinalized) and every allocation of the run must be freed.  The
**      loop stops at the first run in which no allocation failed.
**
** A statement's outcome in a run is checked against its baseline:
**
**   - SQLITE_NOMEM, or the baseline's own error code: fine;
**   - another error in a statement during which an allocation failed: the
**     failure surfaced as something else ("no such table", "unknown
**     error", ...) -- FAIL;
**   - another error in a statement during which nothing failed: fine only
**     when an earlier statement of the run failed and the message is one
**     such a failure explains ("no such table", "no transaction is
**     active", "cannot start a transaction within a transaction"); else
**     the extension was left in a broken state -- FAIL;
**   - when an allocation failed in a run but every statement succeeded,
**     the rows must be the baseline's: a failure that was swallowed must
**     not change a result -- FAIL otherwise.
**
** The clock is pinned (STATEVTAB_TEST_CLOCK_MS) so that runs are
** repeatable; scripts select no random ids.
**
** THE REDIS SCENARIOS (redis_*)
**
** They run the same way on the Redis store, on the server named by
** STATEVTAB_REDIS_URL (store='env:STATEVTAB_REDIS_URL').  When it is not
** set they FAIL: test/run always starts Redis, and a suite without its
** server is a failure, not a skip.  "@NS@" in their statements is replaced
** by a namespace (prefix=) of their own, "<STATEVTAB_OOM_NS, default
** statevtab-oom>-<pid>-<scenario>:", so that the two modes, run at the same
** time by test/suites/60-oom.sh, never share rows (the suite deletes the
** keys afterwards).
**
** Unlike ":memory:", the server keeps its state from one run to the next,
** so each run must start from the same state: their setup statements,
** which run before every run (the baseline's included), delete the rows of
** every table the script uses, resume its paused queues and insert the
** fixtures.  redis_open, which opens the store under injection, cannot
** have the store opened by a setup on the connection under test: it has
** reset statements instead, run before every run on a connection of their
** own.  The scripts select nothing the server makes anew in every run
** (rowids, ids of signals and dead letters, times from the server's clock
** such as lease expiry, lease tokens of state_lease, which are the
** server's time in microseconds): they compare those (token > 0).
**
** The checker's rules are the same as for the local store, and hold as
** they are: a statement that failed on the Redis store may still have
** changed the server (the script of an atomic function has run before its
** reply is turned into the result, which can fail; a COMMIT's writes may
** reach the server before a later allocation of the commit fails), as a
** lost connection could, so that the later statements of that run may see
** other rows than the baseline's.
** The checker compares rows only in runs in which no statement failed, so
** this needs no exception; and the scripts are written so that such a
** difference changes rows only, never an error (a later write of the same
** key is an INSERT OR REPLACE / OR IGNORE, or the key is not written
** twice), so that the cascade rule above needs none either.  The next
** run's setup puts the server back.
*/
#include <sqlite3.h>

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* In the sanitizer runtime when there is one (no header needed). */
extern void __sanitizer_set_death_callback(void (*)(void))
    __attribute__((weak));

#define OOM_MAX_STMT 64
#define OOM_MAX_ROWS 600 /* bytes of row text kept per statement */
#define OOM_MAX_PROBLEMS 64
#define OOM_NEVER ((sqlite3_int64)1 << 62) /* an N no run reaches */

/* ------------------------------------------------------------ allocator */

static sqlite3_mem_methods gOrig; /* SQLite's own allocator */

static struct {
  int bArmed;            /* injection on */
  int bAfter;            /* fail every allocation from the iFail-th on */
  sqlite3_int64 iFail;   /* the allocation to fail (1-based) */
  sqlite3_int64 nCall;   /* allocations since arming */
  sqlite3_int64 nFailed; /* failures injected since arming */
  sqlite3_int64 nLive;   /* allocations not yet freed (always counted) */
} g;

static int injectNow(void) {
  if (!g.bArmed) return 0;
  g.nCall++;
  if (g.nCall == g.iFail || (g.bAfter && g.nCall > g.iFail)) {
    g.nFailed++;
    return 1;
  }
  return 0;
}

static void *oomMalloc(int n) {
  void *p;
  if (injectNow()) return 0;
  p = gOrig.xMalloc(n);
  if (p) g.nLive++;
  return p;
}

static void oomFree(void *p) {
  if (p) g.nLive--;
  gOrig.xFree(p);
}

/* SQLite calls xRealloc only with a live pointer and n > 0. */
static void *oomRealloc(void *p, int n) {
  if (injectNow()) return 0;
  return gOrig.xRealloc(p, n);
}

static int oomSize(void *p) { return gOrig.xSize(p); }
static int oomRoundup(int n) { return gOrig.xRoundup(n); }
static int oomInit(void *p) { return gOrig.xInit(p); }
static void oomShutdown(void *p) { gOrig.xShutdown(p); }

static void arm(sqlite3_int64 iFail, int bAfter) {
  g.iFail = iFail;
  g.bAfter = bAfter;
  g.nCall = 0;
  g.nFailed = 0;
  g.bArmed = 1;
}

static void disarm(void) { g.bArmed = 0; }

/* ------------------------------------------------------------ scenarios */

typedef struct Scenario {
  const char *zName;
  int bWal;                    /* file database in WAL mode */
  const char *const *azSetup;  /* run unarmed first (NULL: none); for bWal
                               ** on another connection, once */
  const char *const *azScript; /* the statements under injection */
  int bRedis;                  /* on the Redis store: needs a server */
  const char *const *azReset;  /* run unarmed before every run (NULL:
                               ** none), on a connection of its own */
} Scenario;

static const char *const azExecutions[] = {
    "CREATE VIRTUAL TABLE ex USING state_executions()",
    "INSERT INTO ex(id, name, input, tags) VALUES('e1', 'job', '{\"a\":1}', "
    "'[\"t\"]')",
    "INSERT INTO ex(id, name, state) VALUES('e2', 'job2', 'running')",
    "SELECT id, name, state, input, tags, started_at IS NOT NULL FROM ex "
    "WHERE id = 'e1'",
    "SELECT id FROM ex WHERE state = 'running' AND created_at >= 0",
    "SELECT id FROM ex ORDER BY created_at DESC, id LIMIT 1",
    "UPDATE ex SET state = 'completed', output = '{\"r\":2}' WHERE id = 'e2'",
    "SELECT state_progress('ex', 'e1', '{\"step\":1}')",
    "SELECT id, state, output, progress, completed_at IS NOT NULL FROM ex "
    "ORDER BY id",
    "DELETE FROM ex WHERE name = 'job'",
    "SELECT count(*) FROM ex",
    0};

static const char *const azTasks[] = {
    "CREATE VIRTUAL TABLE dl USING state_dead_letters(store='sqlite:')",
    "CREATE VIRTUAL TABLE tasks USING state_tasks(store='sqlite:', "
    "dead_letters='dl')",
    "INSERT INTO tasks(id, queue, name, payload, tags, idempotency_key) "
    "VALUES('t1', 'q', 'x', '{\"n\":1}', '[\"a\"]', 'k1'), "
    "('t2', 'q', 'y', NULL, '[]', 'k2')",
    /* same (queue, idempotency_key): skipped without error */
    "INSERT INTO tasks(id, queue, name, idempotency_key) "
    "VALUES('t3', 'q', 'x', 'k1')",
    "INSERT OR IGNORE INTO tasks(id, queue, name) VALUES('t1', 'q', 'dup')",
    "!INSERT INTO tasks(id, queue, name) VALUES('t1', 'q', 'dup')",
    "INSERT OR REPLACE INTO tasks(id, queue, name, priority) "
    "VALUES('t4', 'q', 'z', 2)",
    "SELECT id, name, state, payload FROM tasks WHERE queue = 'q' AND "
    "state = 'pending' ORDER BY priority, id",
    "SELECT id FROM tasks WHERE run_at <= 9999999999999 AND priority >= 0 "
    "ORDER BY id LIMIT 2",
    "UPDATE tasks SET priority = 5 WHERE id = 't2'",
    "UPDATE tasks SET state = 'cancelled' WHERE queue = 'q' AND priority = 2",
    "DELETE FROM tasks WHERE idempotency_key = 'k2'",
    "SELECT id, state, priority, completed_at IS NOT NULL FROM tasks "
    "ORDER BY id",
    0};

static const char *const azSignals[] = {
    "CREATE VIRTUAL TABLE sig USING state_signals()",
    "INSERT INTO sig(execution_id, name, payload) VALUES('e1', 'go', "
    "'{\"x\":1}'), ('e1', 'stop', NULL)",
    "SELECT name, payload FROM sig WHERE execution_id = 'e1' AND "
    "consumed_at IS NULL ORDER BY name",
    "UPDATE sig SET consumed_at = 5 WHERE name = 'go'",
    "SELECT name FROM sig WHERE consumed_at >= 1",
    "DELETE FROM sig WHERE execution_id = 'e1' AND name = 'stop'",
    "SELECT count(*) FROM sig",
    0};

static const char *const azDeadLetters[] = {
    "CREATE VIRTUAL TABLE dl USING state_dead_letters()",
    "INSERT INTO dl(task_id, name, reason, task) VALUES('t1', 'x', 'boom', "
    "'{\"id\":\"t1\"}')",
    "SELECT task_id, queue, name, reason, task FROM dl WHERE task_id = 't1'",
    "SELECT count(*) FROM dl WHERE died_at > 0 AND queue = 'default'",
    "DELETE FROM dl WHERE queue = 'default'",
    "SELECT count(*) FROM dl",
    0};

static const char *const azCounters[] = {
    "CREATE VIRTUAL TABLE c USING state_counters()",
    "INSERT INTO c(scope, name, value) VALUES('s', 'n', 1)",
    "!INSERT INTO c(scope, name, value) VALUES('s', 'n', 2)",
    "INSERT OR REPLACE INTO c(scope, name, value) VALUES('s', 'n', 3)",
    "UPDATE c SET value = value + 1 WHERE scope = 's' AND name = 'n'",
    "SELECT value FROM c WHERE scope = 's' AND name = 'n'",
    "SELECT state_incr('c', 's', 'n')",
    "SELECT state_incr('c', 's', 'm', 2.5)",
    "SELECT scope, name, value FROM c ORDER BY name",
    "DELETE FROM c WHERE name = 'm'",
    "SELECT count(*) FROM c",
    0};

static const char *const azFlags[] = {
    "CREATE VIRTUAL TABLE f USING state_flags()",
    "INSERT INTO f(name, enabled, rollout, strategies) VALUES('a', 1, 50, "
    "'[{\"k\":1}]')",
    "!INSERT INTO f(name) VALUES('a')",
    "INSERT OR REPLACE INTO f(name, enabled) VALUES('a', 0)",
    "INSERT OR IGNORE INTO f(name) VALUES('a')",
    "UPDATE f SET description = 'd' WHERE name = 'a'",
    "SELECT name, enabled, rollout, strategies, description FROM f "
    "WHERE name = 'a'",
    "DELETE FROM f WHERE name = 'a'",
    "SELECT count(*) FROM f",
    0};

/* Flag evaluation: a segment with a REGEX constraint (PCRE2 allocates
** through SQLite), IN_CIDR over IPv4 and IPv6, a missing segment, an
** invalid pattern, a write that drops the segments' cache, and a context
** value that does not fit the scratch space. */
static const char *const azFlagEvalSetup[] = {
    "CREATE VIRTUAL TABLE segments USING state_segments()",
    "CREATE VIRTUAL TABLE f USING state_flags(segments = 'segments')",
    "INSERT INTO segments(id, name, constraints) VALUES(1, 's', "
    "'[{\"contextName\":\"userId\",\"operator\":\"REGEX\","
    "\"value\":\"^u[0-9]+$\",\"caseInsensitive\":true}]')",
    "INSERT INTO f(name, enabled, strategies, variants) VALUES('a', 1, "
    "'[{\"name\":\"flexibleRollout\",\"parameters\":{\"rollout\":\"100\","
    "\"stickiness\":\"userId\"},\"segments\":[1],\"constraints\":["
    "{\"contextName\":\"remoteAddress\",\"operator\":\"IN_CIDR\","
    "\"values\":[\"10.0.0.0/8\",\"2001:db8::/32\"]}]}]', "
    "'[{\"name\":\"v\",\"weight\":1}]')",
    0};

static const char *const azFlagEval[] = {
    "SELECT state_flag('f', 'a', "
    "'{\"userId\":\"U7\",\"remoteAddress\":\"10.1.2.3\"}')",
    "SELECT state_flag('f', 'a', "
    "'{\"userId\":\"u8\",\"remoteAddress\":\"2001:db8::1\"}')",
    "SELECT state_variant('f', 'a', "
    "'{\"userId\":\"u9\",\"remoteAddress\":\"10.9.9.9\"}')",
    "INSERT INTO segments(id, constraints) VALUES(2, "
    "'[{\"contextName\":\"userId\",\"operator\":\"REGEX\","
    "\"value\":\"(x\"}]')",
    "UPDATE f SET strategies = '[{\"name\":\"default\",\"segments\":[2]},"
    "{\"name\":\"default\",\"segments\":[404]},"
    "{\"name\":\"default\",\"segments\":[1]}]' WHERE name = 'a'",
    "SELECT state_flag('f', 'a', '{\"userId\":\"u1\"}')",
    "SELECT state_flag('f', 'a', '{\"userId\":\"x1\"}')",
    /* a context value longer than the evaluation's scratch space */
    "SELECT state_flag('f', 'a', json_object('userId', 'u' || "
    "printf('%.*c', 600, '7')))",
    0};

/* Unleash's JSON in and out (flagsio.c): an import with a segment, an
** export, a delta of every kind of event, a document refused. */
static const char *const azFlagsIoSetup[] = {
    "CREATE VIRTUAL TABLE segments USING state_segments()",
    "CREATE VIRTUAL TABLE f USING state_flags(segments = 'segments')", 0};

static const char *const azFlagsIo[] = {
    "SELECT state_flags_import('f', '{\"features\":[{\"name\":\"a\","
    "\"enabled\":true,\"strategies\":[{\"name\":\"default\",\"segments\":"
    "[1]}]},{\"name\":\"b\",\"enabled\":false}],\"segments\":[{\"id\":1}]}')",
    "SELECT state_flags_export('f')",
    "SELECT state_flags_apply_delta('f', '[{\"eventId\":1,\"type\":"
    "\"feature-removed\",\"featureName\":\"b\"},{\"eventId\":2,\"type\":"
    "\"segment-updated\",\"segment\":{\"id\":2}},{\"eventId\":3,\"type\":"
    "\"segment-removed\",\"segmentId\":1},{\"eventId\":4,\"type\":"
    "\"hydration\",\"features\":[{\"name\":\"d\",\"enabled\":true}]}]')",
    "!SELECT state_flags_import('f', '{\"features\":[{\"name\":\"a\"}]}')", 0};

static const char *const azKv[] = {
    "CREATE VIRTUAL TABLE kv USING state_kv(store = \"sqlite:\", "
    "prefix = 'p:')",
    /* already expired: invisible, and no obstacle to the next insert */
    "INSERT INTO kv(scope, key, value, expires_at) VALUES('s', 'k', '1', 1)",
    "SELECT count(*) FROM kv",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'k', '2')",
    "SELECT value, version FROM kv WHERE scope = 's' AND key = 'k'",
    "INSERT OR REPLACE INTO kv(scope, key, value) VALUES('s', 'k', '3')",
    "UPDATE kv SET value = '4' WHERE scope = 's' AND key = 'k'",
    "SELECT key, value, version FROM kv WHERE scope = 's'",
    "UPDATE kv SET expires_at = 1 WHERE key = 'k'", "SELECT count(*) FROM kv",
    /* OR REPLACE: an UPDATE above that failed leaves the row alive, and a
    ** plain INSERT would then fail for a reason of the script's own */
    "INSERT OR REPLACE INTO kv(scope, key, value, expires_at) "
    "VALUES('s', 'k', '5', 9999999999999)",
    "SELECT key, value, version FROM kv WHERE expires_at > 0",
    "DELETE FROM kv WHERE scope = 's'", 0};

static const char *const azLeases[] = {
    "CREATE VIRTUAL TABLE l USING state_leases()",
    "INSERT INTO l(name, owner, expires_at) VALUES('a', 'o', 9999999999999)",
    "SELECT name, owner, token, depth FROM l WHERE name = 'a'",
    "SELECT state_lease('l', 'b', 'o1', 60000)",
    "SELECT state_lease('l', 'b', 'o1', 60000)",
    "SELECT state_lease('l', 'b', 'o2', 60000)",
    "SELECT state_release('l', 'b', 'o1')",
    "SELECT state_release('l', 'b', 'o1')",
    "SELECT state_lease('l', 'b', 'o2', 60000)",
    /* a wait that times out (polls, reads the holder's expiry) */
    "SELECT state_lease('l', 'b', 'o1', 60000, 5)",
    "UPDATE l SET depth = 2 WHERE name = 'a'", "DELETE FROM l WHERE name = 'a'",
    "SELECT name, owner, token, depth FROM l ORDER BY name", 0};

/* The tables are made before injection: CREATE is covered above, and
** the cost of a scenario grows with the square of its allocations. */
static const char *const azRenameSetup[] = {
    "CREATE VIRTUAL TABLE t USING state_tasks()",
    "INSERT INTO t(id, queue, name) VALUES('a', 'q', 'n')", 0};

static const char *const azRename[] = {
    "ALTER TABLE t RENAME TO t2",
    "SELECT id FROM t2 WHERE queue = 'q'",
    "INSERT INTO t2(id, queue, name) VALUES('b', 'q', 'n')",
    "SELECT state_pause('t2', 'q')",
    "SELECT id, state FROM t2 ORDER BY id",
    "DROP TABLE t2",
    "SELECT name FROM sqlite_schema ORDER BY name",
    0};

static const char *const azRenameKvSetup[] = {
    "CREATE VIRTUAL TABLE kv USING state_kv()",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'k', '1')", 0};

static const char *const azRenameKv[] = {
    "ALTER TABLE kv RENAME TO kv2",
    "SELECT key, value FROM kv2",
    "INSERT INTO kv2(scope, key, value) VALUES('s', 'k2', '2')",
    "DROP TABLE kv2",
    "SELECT name FROM sqlite_schema ORDER BY name",
    0};

/* Schedules: cron parsing and zone files (INSERT, UPDATE,
** state_cron_next), firing by a claim (catch-up) and by state_wait. */
static const char *const azSchedules[] = {
    "CREATE VIRTUAL TABLE tasks USING state_tasks()",
    "CREATE VIRTUAL TABLE schedules USING state_schedules()",
    "INSERT INTO schedules(name, cron, timezone, task, next_run) VALUES "
    "('a', '*/5 * * * * *', 'Europe/Berlin', 't', 1000), "
    "('b', '@hourly', 'UTC', 'u', 1000)",
    "!INSERT INTO schedules(name, cron, task) VALUES ('c', '* * *', 'x')",
    "!INSERT INTO schedules(name, cron, task, timezone) VALUES "
    "('c', '* * * * *', 'x', 'Mars/Base')",
    "UPDATE schedules SET payload = '{\"k\":1}' WHERE name = 'b'",
    "SELECT count(*) FROM state_claim('tasks', 'default', 'w', 1000, 5)",
    "SELECT count(*), min(run_at) > 1000 FROM tasks",
    "SELECT name, last_run > 1000, next_run > 1000 FROM schedules "
    "ORDER BY name",
    "UPDATE schedules SET next_run = 1000, queue = 'wq' WHERE name = 'a'",
    "SELECT state_wait('tasks', 'wq', 0)",
    "SELECT state_cron_next('30 2 * * *', 'America/New_York', "
    "1710000000000)",
    "!SELECT state_cron_next('nope')",
    0};

static const char *const azClaimSetup[] = {
    "CREATE VIRTUAL TABLE tasks USING state_tasks()",
    "CREATE VIRTUAL TABLE dead_letters USING state_dead_letters()",
    "INSERT INTO tasks(id, queue, name, tags, max_attempts) VALUES"
    "('a', 'q', 'x', '[\"a\"]', 3), ('b', 'q', 'x', '[\"a\"]', 1),"
    "('c', 'q', 'y', '[\"a\",\"b\"]', 1), ('d', 'q', 'x', '[]', 3)",
    0};

static const char *const azClaim[] = {
    "SELECT id, name, state, attempts, lease_token, outcome FROM "
    "state_claim('tasks', 'q', 'w', 1000, 5, "
    "'{\"tags\":[\"a\"],\"limits\":{\"x\":1}}') ORDER BY id",
    "SELECT state_complete('tasks', 'a', 1, '{\"ok\":1}')",
    "SELECT state_renew('tasks', 'c', 1, 5000)",
    "SELECT state_fail('tasks', 'c', 1, 'boom')",
    "SELECT state_renew('tasks', 'b', 1, 1000)",
    "SELECT state_wait('tasks', 'q', 0), state_wait('tasks', 'none', 0)",
    "SELECT state_pause('tasks', 'q')", "SELECT state_paused('tasks', 'q')",
    /* state_metrics, the history too (not its time-dependent values) */
    "SELECT queue, pending, scheduled, claimed, completed, failed, dead, "
    "cancelled, paused, json_array_length(completed_per_minute) FROM "
    "state_metrics('tasks')",
    "SELECT queue, pending FROM state_metrics('tasks', 'q')",
    "SELECT count(*) FROM state_claim('tasks', 'q', 'w')",
    "SELECT state_resume('tasks', 'q')",
    /* lease 0: expired at once, reaped by the next claim (b dies) */
    "SELECT id, attempts, outcome FROM state_claim('tasks', 'q', 'w', 0, 5) "
    "ORDER BY id",
    "SELECT id, attempts, lease_token, outcome FROM state_claim('tasks', "
    "'[\"q\",\"r\"]', 'w2', 1000, 5, '{\"complete\":[{\"id\":\"zz\","
    "\"token\":1,\"result\":{\"r\":1}}],\"names\":[\"x\"]}') ORDER BY id",
    "SELECT state_fail('tasks', 'd', 2, 'later')",
    "SELECT id, state, attempts, lease_owner, result, error FROM tasks "
    "ORDER BY id",
    "SELECT task_id, name, reason, json_extract(task, '$.id') FROM "
    "dead_letters ORDER BY task_id",
    /* partitions, last: with these rows added earlier, the claim of two
    ** queues above failed one run with "no such savepoint" instead of
    ** SQLITE_NOMEM, on main's build too (a latent bug of the claim, not
    ** of partitions; open).  The first partitioned write makes T_fair and
    ** its index;
    ** claims in turn, with a partition limit and a partition rate */
    "INSERT INTO tasks(id, queue, name, partition_key) VALUES "
    "('p1', 'pq', 'x', 'A'), ('p2', 'pq', 'x', 'A'), ('p3', 'pq', 'x', 'B'), "
    "('p4', 'pq', 'x', NULL)",
    "SELECT id, partition_key FROM state_claim('tasks', 'pq', 'w', 1000, 3, "
    "'{\"limits\":{\"partition:pq\":1},\"rates\":{\"partition:pq\":"
    "\"5/1h\"}}') ORDER BY id",
    "SELECT id FROM state_claim('tasks', 'pq', 'w', 1000, 3)", 0};

static const char *const azSignalFnsSetup[] = {
    "CREATE VIRTUAL TABLE sig USING state_signals()",
    "CREATE VIRTUAL TABLE ex USING state_executions()", 0};

static const char *const azSignalFns[] = {
    "SELECT length(state_signal('sig', 'e1', 'go'))",
    "SELECT length(state_signal('sig', 'e1', 'go', '{\"x\":1}'))",
    "SELECT state_take('sig', 'e1', 'go')",
    "SELECT state_take('sig', 'e1', 'go')",
    "SELECT state_take('sig', 'e1', 'go')",
    "INSERT INTO ex(id, name) VALUES('e1', 'w')",
    "SELECT state_progress('ex', 'e1', '{\"s\":1}')",
    "SELECT state_progress('ex', 'e1', '[2]')",
    "SELECT state_progress('ex', 'nope', '{\"s\":1}')",
    "SELECT id, progress FROM ex",
    "SELECT count(*) FROM sig WHERE consumed_at IS NOT NULL",
    0};

static const char *const azDebugSetup[] = {
    "CREATE VIRTUAL TABLE dl USING state_dead_letters()",
    "CREATE VIRTUAL TABLE tasks USING state_tasks(dead_letters='dl')",
    "CREATE VIRTUAL TABLE kv USING state_kv(store='sqlite:')", 0};

static const char *const azDebug[] = {
    "SELECT statevtab_debug()",
    "SELECT statevtab_debug('tasks')",
    "SELECT statevtab_debug('main.kv')",
    "SELECT statevtab_version(), state_now()",
    "SELECT name FROM pragma_module_list WHERE name LIKE 'state%' "
    "ORDER BY name",
    0};

/* The allowlist (vtab/allow.c): every kind of entry parsed, a table
** connecting under the list, the list replaced and removed.  (The host
** needs statements that succeed: the refusals are suite 26-allow's.) */
static const char *const azAllow[] = {
    "SELECT statevtab_allow('redis://127.0.0.1:1', "
    "'postgresql://db.internal:5433', 'env:SV_OOM_UNSET', "
    "'unix:/nonexistent.sock', 'mine:', 'REDIS://[::1]:6380/')",
    "CREATE VIRTUAL TABLE l USING state_tasks()",
    "INSERT INTO l(name) VALUES ('x')",
    "SELECT statevtab_allow()",
    "SELECT statevtab_allow(NULL)",
    0};

static const char *const azTxnSetup[] = {
    "CREATE VIRTUAL TABLE tasks USING state_tasks()",
    "CREATE VIRTUAL TABLE c USING state_counters()", 0};

static const char *const azTxn[] = {
    "BEGIN IMMEDIATE",
    "INSERT INTO tasks(id, queue, name) VALUES('a', 'q', 'x'), "
    "('b', 'q', 'y')",
    "SELECT id, outcome FROM state_claim('tasks', 'q', 'w', 1000, 1)",
    "SELECT state_complete('tasks', 'a', 1)",
    "SELECT state_incr('c', 's', 'n', 5)",
    "COMMIT",
    "BEGIN",
    "INSERT INTO tasks(id, queue, name) VALUES('c', 'q', 'z')",
    "SELECT state_incr('c', 's', 'n')",
    "ROLLBACK",
    "SAVEPOINT s1",
    "INSERT INTO tasks(id, queue, name) VALUES('d', 'q', 'z')",
    "ROLLBACK TO s1",
    "RELEASE s1",
    "SELECT id, state FROM tasks ORDER BY id",
    "SELECT value FROM c",
    0};

/* WAL file: the tables are made in the template; the connection under test
** connects them lazily, and the functions run on the store's private
** connection. */
static const char *const azWalSetup[] = {
    "PRAGMA journal_mode = WAL",
    "CREATE VIRTUAL TABLE tasks USING state_tasks()",
    "CREATE VIRTUAL TABLE dead_letters USING state_dead_letters()",
    "CREATE VIRTUAL TABLE l USING state_leases()",
    "CREATE VIRTUAL TABLE c USING state_counters()",
    "CREATE VIRTUAL TABLE sig USING state_signals()",
    "CREATE VIRTUAL TABLE ex USING state_executions()",
    "INSERT INTO tasks(id, queue, name, tags, max_attempts) VALUES"
    "('a', 'q', 'x', '[\"a\"]', 3), ('b', 'q', 'x', '[\"a\"]', 1),"
    "('c', 'q', 'y', '[\"a\"]', 1)",
    "INSERT INTO ex(id, name) VALUES('e1', 'w')",
    0};

static const char *const azWal[] = {
    "SELECT id, attempts, outcome FROM state_claim('tasks', 'q', 'w', 1000, "
    "5, '{\"tags\":[\"a\"],\"limits\":{\"x\":1}}') ORDER BY id",
    "SELECT state_complete('tasks', 'a', 1, '{\"ok\":1}')",
    "SELECT state_renew('tasks', 'c', 1, 5000)",
    "SELECT state_fail('tasks', 'c', 1, 'boom')",
    "SELECT state_pause('tasks', 'q')",
    "SELECT state_paused('tasks', 'q')",
    "SELECT state_resume('tasks', 'q')",
    "SELECT state_wait('tasks', 'q', 0)",
    "SELECT state_lease('l', 'n', 'o1', 60000)",
    "SELECT state_lease('l', 'n', 'o2', 60000, 5)",
    "SELECT state_release('l', 'n', 'o1')",
    "SELECT state_incr('c', 's', 'n', 2)",
    "SELECT length(state_signal('sig', 'e1', 'go', '{\"x\":1}'))",
    "SELECT state_take('sig', 'e1', 'go', 5)",
    "SELECT state_take('sig', 'e1', 'go', 5)",
    "SELECT state_progress('ex', 'e1', '{\"s\":1}')",
    "SELECT id, state, attempts, result, error FROM tasks ORDER BY id",
    "SELECT task_id, reason FROM dead_letters",
    "SELECT value FROM c",
    0};

/* ------------------------------------------------------ Redis scenarios
**
** On the Redis store (STATEVTAB_REDIS_URL), each in a namespace of its own
** ("@NS@" is replaced, see the header).  The server keeps its rows across
** the runs: the setup (run before every run) first deletes the rows of
** every table the scenario uses and resumes its paused queues, then
** inserts the fixtures.  The script selects nothing the server makes anew
** in every run: no rowids, ids of signals or dead letters, nor times from
** the server's clock (lease expiry, completed_at, lease tokens).  Client
** times (created_at, run_at defaults) are pinned as for the local store,
** in the past of the server's clock: the tasks are due. */
#define RD_OPTS "store='env:STATEVTAB_REDIS_URL', prefix='@NS@'"

/* The store is opened under injection: the connection under test starts
** without it (the reset runs on a connection of its own).  A CREATE inside
** the transaction: when it fails, SQLite resets the schema and kv is
** connected again while its first write waits in the store's log. */
static const char *const azRedisOpenReset[] = {
    "CREATE VIRTUAL TABLE kv USING state_kv(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE c USING state_counters(" RD_OPTS ")",
    "DELETE FROM kv", "DELETE FROM c", 0};

static const char *const azRedisOpen[] = {
    "CREATE VIRTUAL TABLE kv USING state_kv(" RD_OPTS ", command_timeout=5000)",
    "BEGIN",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'k', '1')",
    "CREATE VIRTUAL TABLE c USING state_counters(" RD_OPTS ")",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'k2', '2')",
    "SELECT key, value FROM kv ORDER BY key",
    "COMMIT",
    "SELECT scope, key, value, version FROM kv WHERE scope = 's' AND "
    "key = 'k'",
    "SELECT state_incr('c', 's', 'n', 3)",
    "SELECT statevtab_debug('kv')",
    "DROP TABLE kv",
    0};

/* Plain writes (autocommit) and the read paths: the key, a text index,
** a time range, every row. */
static const char *const azRedisRowsSetup[] = {
    "CREATE VIRTUAL TABLE tasks USING state_tasks(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE kv USING state_kv(" RD_OPTS ")",
    "DELETE FROM tasks",
    "DELETE FROM kv",
    "INSERT INTO tasks(id, queue, name, priority, run_at, idempotency_key) "
    "VALUES('t1', 'q', 'x', 1, 1000, 'k1'), ('t2', 'q', 'y', 0, 1500, NULL)",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'a', '1')",
    0};

static const char *const azRedisRows[] = {
    "INSERT INTO tasks(id, queue, name, payload, tags, idempotency_key, "
    "run_at) VALUES('t3', 'q', 'z', '{\"n\":1}', '[\"a\"]', 'k3', 2000), "
    "('t4', 'r', 'z', NULL, '[]', NULL, 3000)",
    /* same (queue, idempotency_key) as t1: skipped without error */
    "INSERT INTO tasks(id, queue, name, idempotency_key) "
    "VALUES('t5', 'q', 'x', 'k1')",
    "INSERT OR IGNORE INTO tasks(id, queue, name) VALUES('t1', 'q', 'dup')",
    "!INSERT INTO tasks(id, queue, name) VALUES('t1', 'q', 'dup')",
    "INSERT OR REPLACE INTO tasks(id, queue, name, priority, run_at) "
    "VALUES('t2', 'q', 'w', 2, 1500)",
    "SELECT id, name, state, payload, tags FROM tasks WHERE id = 't3'",
    "SELECT id FROM tasks WHERE queue = 'q' AND state = 'pending' "
    "ORDER BY priority, id",
    "SELECT id FROM tasks WHERE run_at >= 1500 AND run_at < 3000 ORDER BY id",
    "SELECT id, priority FROM tasks WHERE name <> 'y' ORDER BY id",
    "UPDATE tasks SET priority = 5 WHERE id = 't1'",
    "UPDATE tasks SET state = 'cancelled' WHERE queue = 'r'",
    "DELETE FROM tasks WHERE idempotency_key = 'k3'",
    "INSERT OR REPLACE INTO kv(scope, key, value) VALUES('s', 'b', '2')",
    /* compare-and-set on the version */
    "UPDATE kv SET value = '3' WHERE scope = 's' AND key = 'a' AND "
    "version = 1",
    "DELETE FROM kv WHERE key = 'b'",
    "SELECT scope, key, value, version FROM kv ORDER BY key",
    /* the holder of the idempotency key (t1) is replaced */
    "INSERT OR REPLACE INTO tasks(id, queue, name, idempotency_key) "
    "VALUES('t6', 'q', 'v', 'k1')",
    "SELECT id, queue, state, priority FROM tasks ORDER BY id", 0};

/* Writes inside a transaction: the log, reads over it, a savepoint rolled
** back to, an atomic function inside the transaction, a ROLLBACK. */
static const char *const azRedisTxnSetup[] = {
    "CREATE VIRTUAL TABLE kv USING state_kv(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE tasks USING state_tasks(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE c USING state_counters(" RD_OPTS ")",
    /* the rows of scope 'bulk', which the script only reads, stay */
    "DELETE FROM kv WHERE scope <> 'bulk'", "DELETE FROM tasks",
    "DELETE FROM c", "INSERT INTO kv(scope, key, value) VALUES('s', 'a', '1')",
    /* more rows than the first size of what the transaction read (64
    ** slots, at most half full) */
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 34) INSERT INTO kv(scope, key, value) "
    "SELECT 'bulk', 'k' || i, i FROM n "
    "WHERE (SELECT count(*) FROM kv WHERE scope = 'bulk') = 0",
    0};

static const char *const azRedisTxn[] = {
    "BEGIN",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'b', '2'), "
    "('s', 'c', '3')",
    "INSERT INTO tasks(id, queue, name) VALUES('t1', 'q', 'x')",
    "UPDATE kv SET value = '4' WHERE scope = 's' AND key = 'a'",
    "SELECT key, value, version FROM kv WHERE scope = 's' ORDER BY key",
    "SELECT count(*) FROM kv WHERE scope = 'bulk'",
    /* more writes than the log's first size (16) */
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
    "WHERE i < 17) INSERT INTO kv(scope, key, value) "
    "SELECT 'm', 'k' || i, i FROM n",
    /* a key change: checked against the log and the server */
    "UPDATE kv SET key = 'k0' WHERE scope = 'm' AND key = 'k1'",
    /* keys held in the log ('c') and on the server ('a') */
    "INSERT OR IGNORE INTO kv(scope, key, value) VALUES('s', 'c', '9'), "
    "('s', 'a', '9')",
    "SELECT value FROM kv WHERE scope = 's' AND key = 'c'", "SAVEPOINT s1",
    "INSERT INTO kv(scope, key, value) VALUES('s', 'd', '5')",
    "DELETE FROM kv WHERE key = 'b'",
    "SELECT key FROM kv WHERE scope = 's' ORDER BY key", "ROLLBACK TO s1",
    "INSERT OR REPLACE INTO kv(scope, key, value) VALUES('s', 'c', '6')",
    "RELEASE s1", "SELECT state_incr('c', 's', 'n', 5)", "COMMIT",
    "SELECT key, value, version FROM kv WHERE scope = 's' ORDER BY key",
    "SELECT scope, count(*), min(key) FROM kv GROUP BY scope ORDER BY scope",
    "BEGIN", "INSERT INTO kv(scope, key, value) VALUES('s', 'e', '7')",
    "UPDATE tasks SET priority = 3 WHERE id = 't1'", "ROLLBACK",
    "SELECT count(*) FROM kv WHERE key = 'e'", "SELECT id, priority FROM tasks",
    0};

/* The task functions: a claim of several, complete, renew, fail (retry
** and dead, with a dead letter), pause, a claim that completes first. */
static const char *const azRedisClaimSetup[] = {
    "CREATE VIRTUAL TABLE dl USING state_dead_letters(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE tasks USING state_tasks(" RD_OPTS
    ", dead_letters='dl')",
    "DELETE FROM tasks",
    "DELETE FROM dl",
    "SELECT state_resume('tasks', 'q')",
    "INSERT INTO tasks(id, queue, name, tags, max_attempts, run_at) VALUES"
    "('a', 'q', 'x', '[\"a\"]', 3, 1000), ('b', 'q', 'x', '[\"a\"]', 3, 1001),"
    "('c', 'q', 'y', '[\"a\",\"b\"]', 1, 1002), ('d', 'q', 'x', '[]', 3, 1003)",
    0};

static const char *const azRedisClaim[] = {
    "SELECT id, name, state, attempts, lease_token, lease_owner, outcome, "
    "lease_expires_at > 0 FROM state_claim('tasks', 'q', 'w', 60000, 3, "
    "'{\"tags\":[\"a\"]}') ORDER BY id",
    /* partitions: claims in turn under a partition limit (no rate: its
    ** counts would outlive the run on the server) */
    "INSERT INTO tasks(id, queue, name, partition_key) VALUES "
    "('p1', 'pq', 'x', 'A'), ('p2', 'pq', 'x', 'A'), ('p3', 'pq', 'x', 'B')",
    "SELECT id, partition_key FROM state_claim('tasks', 'pq', 'w', 60000, 3, "
    "'{\"limits\":{\"partition:pq\":1}}') ORDER BY id",
    "DELETE FROM tasks WHERE queue = 'pq'",
    "SELECT state_complete('tasks', 'a', 1, '{\"ok\":1}')",
    "SELECT state_renew('tasks', 'c', 1, 5000) > 0",
    "SELECT state_fail('tasks', 'c', 1, 'boom')",
    "SELECT state_fail('tasks', 'b', 1, 'again', 0)",
    "SELECT state_pause('tasks', 'q')", "SELECT state_paused('tasks', 'q')",
    /* state_metrics, the history too (not its time-dependent values) */
    "SELECT queue, pending, scheduled, claimed, completed, failed, dead, "
    "cancelled, paused, json_array_length(completed_per_minute) FROM "
    "state_metrics('tasks')",
    "SELECT queue, pending FROM state_metrics('tasks', 'q')",
    "SELECT count(*) FROM state_claim('tasks', 'q', 'w')",
    "SELECT state_resume('tasks', 'q')",
    "SELECT state_wait('tasks', 'q', 0), state_wait('tasks', 'none', 0)",
    "SELECT id, attempts, lease_token, outcome FROM state_claim('tasks', "
    "'q', 'w2', 60000, 5, '{\"complete\":[{\"id\":\"zz\",\"token\":1,"
    "\"result\":{\"r\":1}}],\"names\":[\"x\"]}') ORDER BY id",
    "SELECT id, state, attempts, lease_owner, result, error FROM tasks "
    "ORDER BY id",
    "SELECT task_id, name, reason, json_extract(task, '$.id') FROM dl "
    "ORDER BY task_id",
    0};

/* The other atomic functions, and statevtab_debug. */
static const char *const azRedisFnsSetup[] = {
    "CREATE VIRTUAL TABLE l USING state_leases(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE c USING state_counters(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE sig USING state_signals(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE ex USING state_executions(" RD_OPTS ")",
    "DELETE FROM l",
    "DELETE FROM c",
    "DELETE FROM sig",
    "DELETE FROM ex",
    "INSERT INTO ex(id, name) VALUES('e1', 'w')",
    0};

static const char *const azRedisFns[] = {
    /* tokens are the server's time in microseconds: compared only */
    "SELECT state_lease('l', 'b', 'o1', 60000) > 0",
    "SELECT state_lease('l', 'b', 'o1', 60000) = "
    "(SELECT token FROM l WHERE name = 'b')",
    "SELECT state_lease('l', 'b', 'o2', 60000)",
    "SELECT name, owner, depth, token > 0 FROM l WHERE name = 'b'",
    "SELECT state_release('l', 'b', 'o1')",
    "SELECT state_release('l', 'b', 'o1')",
    "SELECT state_lease('l', 'b', 'o2', 60000) > 0",
    /* waits that time out (subscribe, read the holder's expiry) */
    "SELECT state_lease('l', 'b', 'o1', 60000, 5)",
    "SELECT state_take('sig', 'e1', 'nothing', 5)",
    "SELECT state_incr('c', 's', 'n')", "SELECT state_incr('c', 's', 'n', 2.5)",
    "SELECT length(state_signal('sig', 'e1', 'go', '{\"x\":1}'))",
    "SELECT state_take('sig', 'e1', 'go')",
    "SELECT state_take('sig', 'e1', 'go')",
    "SELECT state_progress('ex', 'e1', '{\"s\":1}')",
    "SELECT state_progress('ex', 'nope', '[1]')", "SELECT id, progress FROM ex",
    "SELECT statevtab_debug('l')", 0};

/* dedup= windows: the insert that looks for a clashing task, OR REPLACE
** deleting it, an UPDATE into a clash (refused, ignored, replacing); the
** same script on the local store and on Redis. */
static const char *const azDedupSetup[] = {
    "CREATE VIRTUAL TABLE t USING state_tasks(store='sqlite:', "
    "dedup='active,10m')",
    0};

static const char *const azRedisDedupSetup[] = {
    "CREATE VIRTUAL TABLE t USING state_tasks(" RD_OPTS ", dedup='active,10m')",
    "DELETE FROM t", 0};

static const char *const azDedup[] = {
    "INSERT INTO t(id, queue, name, idempotency_key, created_at) "
    "VALUES('a', 'q', 'x', 'k', 1000), ('b', 'q', 'x', 'k', 2000)",
    "UPDATE t SET state = 'completed' WHERE id = 'a'",
    "INSERT OR REPLACE INTO t(id, queue, name, idempotency_key, created_at) "
    "VALUES('c', 'q', 'x', 'k', 3000)",
    "INSERT OR IGNORE INTO t(id, queue, name, idempotency_key, created_at) "
    "VALUES('d', 'q', 'x', 'k', 4000)",
    "!UPDATE t SET state = 'pending' WHERE id = 'a'",
    "UPDATE OR IGNORE t SET state = 'pending' WHERE id = 'a'",
    "UPDATE OR REPLACE t SET state = 'pending' WHERE id = 'a'",
    "SELECT id, state FROM t ORDER BY id",
    0};

/* depends_on: the insert that looks up the dependencies (waiting, pending,
** cancelled at once, an unknown one refused), the settling of dependents
** by every end -- state_complete, its list form, a fused claim, state_fail
** to dead, an UPDATE, a DELETE -- and the cascade; the same script on the
** local store and on Redis. */
/* (Each run starts from these rows: the setup's last statements.) */
#define DEPS_ROWS                                                              \
  "INSERT INTO t(id, queue, name, max_attempts) VALUES ('a', 'q', 'x', 1), "   \
  "('b', 'q', 'x', 3), ('c', 'q', 'x', 3), ('e', 'q', 'x', 3)",                \
      "INSERT INTO t(id, queue, name, depends_on) VALUES "                     \
      "('d1', 'q', 'x', '[\"a\"]'), ('d2', 'q', 'x', '[\"b\", \"c\"]'), "      \
      "('d3', 'q', 'x', '[\"d1\"]'), ('d4', 'q', 'x', '[\"e\"]'), "            \
      "('d5', 'q', 'x', '[\"d2\"]')"

static const char *const azDepsRowsSetup[] = {
    "CREATE VIRTUAL TABLE dead_letters USING "
    "state_dead_letters(store='sqlite:')",
    "CREATE VIRTUAL TABLE t USING state_tasks(store='sqlite:')", DEPS_ROWS, 0};

/* The same on a WAL file: the functions run on the private connection. */
static const char *const azDepsWalSetup[] = {
    "PRAGMA journal_mode = WAL",
    "CREATE VIRTUAL TABLE dead_letters USING "
    "state_dead_letters(store='sqlite:')",
    "CREATE VIRTUAL TABLE t USING state_tasks(store='sqlite:')", DEPS_ROWS, 0};

static const char *const azRedisDepsRowsSetup[] = {
    "CREATE VIRTUAL TABLE dead_letters USING state_dead_letters(" RD_OPTS ")",
    "CREATE VIRTUAL TABLE t USING state_tasks(" RD_OPTS ")",
    "DELETE FROM t",
    "DELETE FROM dead_letters",
    DEPS_ROWS,
    0};

static const char *const azDeps[] = {
    "!INSERT INTO t(id, queue, name, depends_on) VALUES "
    "('z', 'q', 'x', '[\"a\", \"nope\"]')",
    "!INSERT INTO t(id, queue, name, depends_on) VALUES "
    "('z', 'q', 'x', '[\"a\", \"a\"]')",
    "INSERT INTO t(id, queue, name, depends_on) VALUES "
    "('d6', 'q', 'x', '[\"e\", \"a\"]'), ('d7', 'q', 'x', '[\"d4\"]')",
    "SELECT id, state FROM t ORDER BY id",
    "SELECT count(*) FROM state_claim('t', 'q', 'w', 60000, 10)",
    "SELECT state_complete('t', 'b', 1)",
    "SELECT state_complete('t', '[{\"id\":\"c\",\"token\":1}]')",
    "SELECT state_fail('t', 'a', 1, 'x')",
    "SELECT outcome, id FROM state_claim('t', 'q', 'w', 60000, 10, "
    "'{\"complete\":[{\"id\":\"e\",\"token\":1}]}')",
    "UPDATE t SET state = 'cancelled' WHERE id = 'd2'",
    "DELETE FROM t WHERE id = 'd4'",
    "SELECT id, state, error FROM t ORDER BY id",
    "SELECT waiting, cancelled FROM state_metrics('t', 'q')",
    0};

static const Scenario aScenario[] = {
    {"executions", 0, 0, azExecutions, 0, 0},
    {"tasks", 0, 0, azTasks, 0, 0},
    {"signals", 0, 0, azSignals, 0, 0},
    {"dead_letters", 0, 0, azDeadLetters, 0, 0},
    {"counters", 0, 0, azCounters, 0, 0},
    {"flags", 0, 0, azFlags, 0, 0},
    {"flag_eval", 0, azFlagEvalSetup, azFlagEval, 0, 0},
    {"flags_io", 0, azFlagsIoSetup, azFlagsIo, 0, 0},
    {"kv", 0, 0, azKv, 0, 0},
    {"leases", 0, 0, azLeases, 0, 0},
    {"rename", 0, azRenameSetup, azRename, 0, 0},
    {"rename_kv", 0, azRenameKvSetup, azRenameKv, 0, 0},
    {"claim", 0, azClaimSetup, azClaim, 0, 0},
    {"schedules", 0, 0, azSchedules, 0, 0},
    {"signal_fns", 0, azSignalFnsSetup, azSignalFns, 0, 0},
    {"debug", 0, azDebugSetup, azDebug, 0, 0},
    {"allow", 0, 0, azAllow, 0, 0},
    {"txn", 0, azTxnSetup, azTxn, 0, 0},
    {"wal", 1, azWalSetup, azWal, 0, 0},
    {"redis_open", 0, 0, azRedisOpen, 1, azRedisOpenReset},
    {"redis_rows", 0, azRedisRowsSetup, azRedisRows, 1, 0},
    {"redis_txn", 0, azRedisTxnSetup, azRedisTxn, 1, 0},
    {"redis_claim", 0, azRedisClaimSetup, azRedisClaim, 1, 0},
    {"redis_fns", 0, azRedisFnsSetup, azRedisFns, 1, 0},
    {"dedup", 0, azDedupSetup, azDedup, 0, 0},
    {"redis_dedup", 0, azRedisDedupSetup, azDedup, 1, 0},
    {"deps", 0, azDepsRowsSetup, azDeps, 0, 0},
    {"deps_wal", 1, azDepsWalSetup, azDeps, 0, 0},
    {"redis_deps", 0, azRedisDepsRowsSetup, azDeps, 1, 0},
};
#define N_SCENARIO (int)(sizeof(aScenario) / sizeof(aScenario[0]))

/* ---------------------------------------------------------------- state */

/* What one statement did in one run. */
typedef struct Outcome {
  int rc;                   /* SQLITE_OK or the error (extended) code */
  char zMsg[256];           /* sqlite3_errmsg on error */
  sqlite3_int64 nInjected;  /* allocation failures during the statement */
  sqlite3_int64 nAlloc;     /* allocations during it (while armed) */
  char zRows[OOM_MAX_ROWS]; /* the result rows as text (truncated) */
} Outcome;

/* One distinct problem of a scenario and mode, with its first N. */
typedef struct Problem {
  char zKey[200];
  sqlite3_int64 iFirst;
  int nSeen;
  char zText[1200];
} Problem;

static const char *gzExt; /* the extension */
static const char *gzDir; /* where file databases go */
static sqlite3_int64 gnMax = 100000;
static sqlite3_int64 giTrace = -1; /* --trace N */

/* For the death callback: where we are. */
static const char *gzScenario = "-";
static const char *gzMode = "-";
static sqlite3_int64 giN;
static const char *gzStmt = "(none)";

static Problem aProblem[OOM_MAX_PROBLEMS];
static int nProblem;
static int nProblemDropped;

static void onDeath(void) {
  /* test/suites/60-oom.sh shows the report (stderr) under this line. */
  if (giN < 0) {
    printf("FAIL oom/%s/%s: sanitizer report at exit (a leak?)\n", gzScenario,
           gzMode);
  } else if (giN == OOM_NEVER) {
    printf("FAIL oom/%s/%s: sanitizer report in the run without injection, "
           "statement: %s\n",
           gzScenario, gzMode, gzStmt);
  } else {
    printf("FAIL oom/%s/%s: sanitizer report at N=%lld, statement: %s\n",
           gzScenario, gzMode, (long long)giN, gzStmt);
  }
  fflush(stdout);
}

/* Record a problem once per key; the text says what and where. */
static void problem(const char *zKey, sqlite3_int64 iN, const char *zFmt, ...) {
  va_list ap;
  int i;
  for (i = 0; i < nProblem; i++) {
    if (strcmp(aProblem[i].zKey, zKey) == 0) {
      aProblem[i].nSeen++;
      return;
    }
  }
  if (nProblem >= OOM_MAX_PROBLEMS) {
    nProblemDropped++;
    return;
  }
  snprintf(aProblem[nProblem].zKey, sizeof(aProblem[nProblem].zKey), "%s",
           zKey);
  aProblem[nProblem].iFirst = iN;
  aProblem[nProblem].nSeen = 1;
  va_start(ap, zFmt);
  vsnprintf(aProblem[nProblem].zText, sizeof(aProblem[nProblem].zText), zFmt,
            ap);
  va_end(ap);
  nProblem++;
}

/* Name of a primary result code, for messages. */
static const char *rcName(int rc) {
  static char zBuf[32];
  switch (rc & 0xff) {
  case SQLITE_OK:
    return "SQLITE_OK";
  case SQLITE_ERROR:
    return "SQLITE_ERROR";
  case SQLITE_INTERNAL:
    return "SQLITE_INTERNAL";
  case SQLITE_ABORT:
    return "SQLITE_ABORT";
  case SQLITE_BUSY:
    return "SQLITE_BUSY";
  case SQLITE_LOCKED:
    return "SQLITE_LOCKED";
  case SQLITE_NOMEM:
    return "SQLITE_NOMEM";
  case SQLITE_IOERR:
    return "SQLITE_IOERR";
  case SQLITE_CORRUPT:
    return "SQLITE_CORRUPT";
  case SQLITE_CANTOPEN:
    return "SQLITE_CANTOPEN";
  case SQLITE_SCHEMA:
    return "SQLITE_SCHEMA";
  case SQLITE_CONSTRAINT:
    return "SQLITE_CONSTRAINT";
  case SQLITE_MISMATCH:
    return "SQLITE_MISMATCH";
  case SQLITE_MISUSE:
    return "SQLITE_MISUSE";
  default:
    snprintf(zBuf, sizeof(zBuf), "rc=%d", rc);
    return zBuf;
  }
}

static void fatal(const char *zFmt, ...) {
  va_list ap;
  fprintf(stderr, "oom: ");
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  exit(2);
}

/* ------------------------------------------------------------- running */

/* Append the rows of a stepped statement to o->zRows (truncated). */
static void addRow(Outcome *o, sqlite3_stmt *pStmt) {
  size_t n = strlen(o->zRows);
  int i, nCol = sqlite3_column_count(pStmt);
  for (i = 0; i < nCol && n + 2 < sizeof(o->zRows); i++) {
    const char *z;
    if (sqlite3_column_type(pStmt, i) == SQLITE_NULL) {
      z = "NULL";
    } else {
      z = (const char *)sqlite3_column_text(pStmt, i);
      /* NULL here is itself an OOM in this host's read of the row: it
      ** cannot happen, this runs unarmed or the row is compared only for
      ** runs without errors. */
      if (!z) z = "<oom>";
    }
    n += (size_t)snprintf(o->zRows + n, sizeof(o->zRows) - n, "%s%s",
                          i ? "|" : "", z);
    if (n >= sizeof(o->zRows)) n = sizeof(o->zRows) - 1;
  }
  if (n + 1 < sizeof(o->zRows)) {
    o->zRows[n++] = ';';
    o->zRows[n] = 0;
  }
}

/* Prepare, step to the end and finalize zSql; the outcome into *o. */
static void runStmt(sqlite3 *db, const char *zSql, Outcome *o) {
  sqlite3_stmt *pStmt = 0;
  sqlite3_int64 nBefore = g.nFailed, nCall = g.nCall;
  int rc;
  memset(o, 0, sizeof(*o));
  gzStmt = zSql;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if (rc == SQLITE_OK && pStmt) {
    while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) addRow(o, pStmt);
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) {
    snprintf(o->zMsg, sizeof(o->zMsg), "%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
  o->rc = rc;
  o->nInjected = g.nFailed - nBefore;
  o->nAlloc = g.nCall - nCall;
  gzStmt = "(between statements)";
}

/* Open zFile with the extension loaded (never armed here). */
static sqlite3 *openDb(const char *zFile) {
  sqlite3 *db = 0;
  char *zErr = 0;
  int rc = sqlite3_open_v2(zFile, &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, 0);
  if (rc != SQLITE_OK) fatal("cannot open %s: %s", zFile, sqlite3_errmsg(db));
  sqlite3_extended_result_codes(db, 1);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, (int *)0);
  rc = sqlite3_load_extension(db, gzExt, "sqlite3_statevtab_init", &zErr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, (int *)0);
  if (rc != SQLITE_OK) fatal("cannot load %s: %s", gzExt, zErr ? zErr : "?");
  return db;
}

/* The template of a file scenario, read into memory once. */
static char *gTemplate;
static size_t gnTemplate;

static void filePath(const Scenario *s, const char *zSuffix, char *zBuf,
                     size_t nBuf) {
  snprintf(zBuf, nBuf, "%s/oom-%s-%ld.db%s", gzDir, s->zName, (long)getpid(),
           zSuffix);
}

static void removeDb(const Scenario *s) {
  char z[4096];
  filePath(s, "", z, sizeof(z));
  unlink(z);
  filePath(s, "-wal", z, sizeof(z));
  unlink(z);
  filePath(s, "-shm", z, sizeof(z));
  unlink(z);
  filePath(s, "-journal", z, sizeof(z));
  unlink(z);
}

/* Run the setup statements of s on db, unarmed; each must succeed. */
static void runSetup(const Scenario *s, sqlite3 *db) {
  Outcome o;
  int i;
  for (i = 0; s->azSetup[i]; i++) {
    runStmt(db, s->azSetup[i], &o);
    if (o.rc != SQLITE_OK) {
      fatal("%s: setup statement failed: %s: %s", s->zName, s->azSetup[i],
            o.zMsg);
    }
  }
}

/* Run the reset statements of s on a connection of their own (unarmed);
** each must succeed. */
static void runReset(const Scenario *s) {
  sqlite3 *db = openDb(":memory:");
  Outcome o;
  int i;
  for (i = 0; s->azReset[i]; i++) {
    runStmt(db, s->azReset[i], &o);
    if (o.rc != SQLITE_OK) {
      fatal("%s: reset statement failed: %s: %s", s->zName, s->azReset[i],
            o.zMsg);
    }
  }
  if (sqlite3_close(db) != SQLITE_OK) fatal("%s: reset close", s->zName);
}

static void makeTemplate(const Scenario *s) {
  char zFile[4096];
  sqlite3 *db;
  FILE *f;
  long n;
  removeDb(s);
  filePath(s, "", zFile, sizeof(zFile));
  db = openDb(zFile);
  runSetup(s, db);
  /* The last close checkpoints and removes the WAL: one file is all. */
  if (sqlite3_close(db) != SQLITE_OK) fatal("%s: setup close", s->zName);
  f = fopen(zFile, "rb");
  if (!f || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 ||
      fseek(f, 0, SEEK_SET) != 0) {
    fatal("cannot read %s: %s", zFile, strerror(errno));
  }
  free(gTemplate);
  gTemplate = malloc((size_t)n);
  if (!gTemplate || fread(gTemplate, 1, (size_t)n, f) != (size_t)n) {
    fatal("cannot read %s", zFile);
  }
  gnTemplate = (size_t)n;
  fclose(f);
  removeDb(s);
}

static void writeTemplate(const Scenario *s, char *zFile, size_t nFile) {
  FILE *f;
  removeDb(s);
  filePath(s, "", zFile, nFile);
  f = fopen(zFile, "wb");
  if (!f || fwrite(gTemplate, 1, gnTemplate, f) != gnTemplate ||
      fclose(f) != 0) {
    fatal("cannot write %s: %s", zFile, strerror(errno));
  }
}

/* z with every "@NS@" replaced by zNs (malloc'd). */
static char *substNs(const char *z, const char *zNs) {
  size_t nNs = strlen(zNs), n = strlen(z) + 1;
  const char *q;
  char *zOut, *w;
  for (q = strstr(z, "@NS@"); q; q = strstr(q + 4, "@NS@")) n += nNs;
  zOut = w = malloc(n);
  if (!zOut) fatal("out of memory (the real kind)");
  while ((q = strstr(z, "@NS@")) != 0) {
    memcpy(w, z, (size_t)(q - z));
    w += q - z;
    memcpy(w, zNs, nNs);
    w += nNs;
    z = q + 4;
  }
  memcpy(w, z, strlen(z) + 1);
  return zOut;
}

static const char *const *substList(const char *const *az, const char *zNs) {
  char **aNew;
  int i, n;
  if (!az) return 0;
  for (n = 0; az[n]; n++) {
  }
  aNew = calloc((size_t)n + 1, sizeof(char *));
  if (!aNew) fatal("out of memory (the real kind)");
  for (i = 0; i < n; i++) aNew[i] = substNs(az[i], zNs);
  return (const char *const *)aNew;
}

static void freeList(const char *const *az) {
  int i;
  for (i = 0; az && az[i]; i++) free((char *)az[i]);
  free((void *)az);
}

/* *pOut: s with "@NS@" in its statements replaced by the namespace of s in
** this process, "<$STATEVTAB_OOM_NS or statevtab-oom>-<pid>-<scenario>:"
** (see the header).  Free it with nsFree(). */
static void nsExpand(const Scenario *s, Scenario *pOut) {
  const char *zBase = getenv("STATEVTAB_OOM_NS");
  char zNs[256];
  snprintf(zNs, sizeof(zNs),
           "%s-%ld-%s:", zBase && zBase[0] ? zBase : "statevtab-oom",
           (long)getpid(), s->zName);
  *pOut = *s;
  pOut->azSetup = substList(s->azSetup, zNs);
  pOut->azScript = substList(s->azScript, zNs);
  pOut->azReset = substList(s->azReset, zNs);
}

static void nsFree(Scenario *s) {
  freeList(s->azSetup);
  freeList(s->azScript);
  freeList(s->azReset);
}

/* The statement text without its "!" marker. */
static const char *sqlOf(const char *z) { return z[0] == '!' ? z + 1 : z; }

/*
** One run of scenario s with injection at iFail (OOM_NEVER: the baseline,
** which counts the allocations but fails none).  aOut receives
** one outcome per statement.  Problems found after the script (unreadable
** tables, close, leaks) are recorded here; the statements' outcomes are
** judged by the caller.  Returns the number of injected failures.
*/
static sqlite3_int64 runOnce(const Scenario *s, sqlite3_int64 iFail, int bAfter,
                             Outcome *aOut) {
  char zFile[4096];
  char zKey[200];
  sqlite3 *db;
  sqlite3_stmt *pList = 0;
  sqlite3_int64 nLive0, nInjected;
  int i, rc;

  giN = iFail;
  if (s->azReset) runReset(s);
  nLive0 = g.nLive;
  if (s->bWal) {
    writeTemplate(s, zFile, sizeof(zFile));
  } else {
    snprintf(zFile, sizeof(zFile), ":memory:");
  }
  db = openDb(zFile);
  if (s->bWal) {
    /* No fsync per commit: the store's private connection copies this. */
    sqlite3_exec(db, "PRAGMA synchronous = OFF", 0, 0, 0);
  } else if (s->azSetup) {
    runSetup(s, db);
  }
  arm(iFail, bAfter);
  for (i = 0; s->azScript[i]; i++) {
    runStmt(db, sqlOf(s->azScript[i]), &aOut[i]);
  }
  nInjected = g.nFailed;
  disarm();
  if (iFail == giTrace || (iFail == OOM_NEVER && giTrace >= 0)) {
    for (i = 0; s->azScript[i]; i++) {
      fprintf(stderr,
              "trace %s N=%lld #%d [%s%s%s] allocations %lld, failed %lld, "
              "rows %s\n",
              s->zName, (long long)iFail, i + 1, rcName(aOut[i].rc),
              aOut[i].rc ? " " : "", aOut[i].zMsg, (long long)aOut[i].nAlloc,
              (long long)aOut[i].nInjected, aOut[i].zRows);
    }
  }

  /* Every statevtab table still in the schema must be usable. */
  gzStmt = "(after the script: reading every table)";
  rc = sqlite3_prepare_v2(db,
                          "SELECT name FROM sqlite_schema WHERE type = 'table'"
                          " AND sql LIKE 'CREATE VIRTUAL TABLE%' ORDER BY name",
                          -1, &pList, 0);
  while (rc == SQLITE_OK && sqlite3_step(pList) == SQLITE_ROW) {
    const char *zTab = (const char *)sqlite3_column_text(pList, 0);
    char *zSql = sqlite3_mprintf("SELECT * FROM \"%w\"", zTab);
    Outcome o;
    runStmt(db, zSql, &o);
    if (o.rc != SQLITE_OK) {
      snprintf(zKey, sizeof(zKey), "after:%s:%d", zTab, o.rc);
      problem(zKey, iFail, "after the run, table %s cannot be read: %s (%s)",
              zTab, o.zMsg, rcName(o.rc));
    }
    sqlite3_free(zSql);
  }
  sqlite3_finalize(pList);

  gzStmt = "(sqlite3_close)";
  rc = sqlite3_close(db);
  if (rc != SQLITE_OK) {
    sqlite3_stmt *p;
    char zList[600] = "";
    size_t n = 0;
    for (p = sqlite3_next_stmt(db, 0); p; p = sqlite3_next_stmt(db, p)) {
      n += (size_t)snprintf(zList + n, sizeof(zList) - n, "[%.150s] ",
                            sqlite3_sql(p));
      if (n >= sizeof(zList)) n = sizeof(zList) - 1;
    }
    snprintf(zKey, sizeof(zKey), "close:%d", rc);
    problem(zKey, iFail,
            "sqlite3_close() returned %s; statements left unfinalized: %s",
            rcName(rc), zList[0] ? zList : "(none listed)");
    while ((p = sqlite3_next_stmt(db, 0)) != 0) sqlite3_finalize(p);
    sqlite3_close(db);
  }
  if (g.nLive != nLive0) {
    problem("leak", iFail,
            "%lld allocation(s) of the run not freed after sqlite3_close()",
            (long long)(g.nLive - nLive0));
  }
  gzStmt = "(between runs)";
  if (s->bWal) removeDb(s);
  return nInjected;
}

/* Messages an earlier failed statement explains (see the header). */
static int isCascade(const char *zMsg) {
  return strstr(zMsg, "no such table") != 0 ||
         strstr(zMsg, "no transaction is active") != 0 ||
         /* a COMMIT that failed leaves the transaction open */
         strstr(zMsg, "cannot start a transaction within") != 0 ||
         strstr(zMsg, "no such savepoint") != 0 ||
         /* an atomic function of the local store that failed on the
         ** caller's connection may leave its SAVEPOINT open, and so a
         ** transaction, in which a wait is refused */
         strstr(zMsg, "cannot wait inside a transaction") != 0;
}

/* Judge the outcomes of one run against the baseline (see the header). */
static void judge(const Scenario *s, sqlite3_int64 iN, const Outcome *aBase,
                  const Outcome *aOut, sqlite3_int64 nInjected) {
  char zKey[200];
  int i, iFirstErr = -1, bErr = 0;
  for (i = 0; s->azScript[i]; i++) {
    const Outcome *b = &aBase[i], *o = &aOut[i];
    const char *zSql = sqlOf(s->azScript[i]);
    if (o->rc == SQLITE_OK) continue;
    bErr = 1;
    if ((o->rc & 0xff) == SQLITE_NOMEM ||
        (b->rc != SQLITE_OK && (b->rc & 0xff) == (o->rc & 0xff))) {
      if (iFirstErr < 0) iFirstErr = i;
      continue;
    }
    if (o->nInjected > 0) {
      snprintf(zKey, sizeof(zKey), "stmt%d:%d:%.80s", i, o->rc, o->zMsg);
      problem(zKey, iN,
              "an allocation failure surfaced as %s \"%s\" instead of "
              "SQLITE_NOMEM; statement %d: %s",
              rcName(o->rc), o->zMsg, i + 1, zSql);
    } else if (iFirstErr >= 0 && isCascade(o->zMsg)) {
      /* explained by the earlier failure */
    } else {
      snprintf(zKey, sizeof(zKey), "late%d:%d:%.80s", i, o->rc, o->zMsg);
      problem(zKey, iN,
              "statement %d failed with %s \"%s\" although no allocation "
              "failed in it (%s); statement: %s",
              i + 1, rcName(o->rc), o->zMsg,
              iFirstErr >= 0 ? "after an earlier statement failed"
                             : "every earlier statement succeeded: a "
                               "swallowed allocation failure left the "
                               "extension in a broken state",
              zSql);
    }
    if (iFirstErr < 0) iFirstErr = i;
  }
  if (bErr || nInjected == 0) return;
  /* Every statement succeeded although allocations failed: same rows. */
  for (i = 0; s->azScript[i]; i++) {
    if (strcmp(aBase[i].zRows, aOut[i].zRows) != 0) {
      snprintf(zKey, sizeof(zKey), "rows%d", i);
      problem(zKey, iN,
              "an allocation failed but every statement succeeded, and "
              "statement %d returned other rows than without injection: "
              "got \"%.200s\", expected \"%.200s\"; statement: %s",
              i + 1, aOut[i].zRows, aBase[i].zRows, sqlOf(s->azScript[i]));
      break; /* later rows follow from this one */
    }
  }
}

/* Run one scenario in one mode; prints its PASS/FAIL lines.  Returns the
** number of FAIL lines. */
static int runScenario(const Scenario *s, int bAfter) {
  Outcome *aBase, *aOut;
  sqlite3_int64 iN, nInjected = 0, nRuns = 0;
  int i, nStmt, nFail = 0, bBaseOk = 1;

  for (nStmt = 0; s->azScript[nStmt]; nStmt++) {
  }
  if (nStmt > OOM_MAX_STMT) fatal("%s: too many statements", s->zName);
  aBase = calloc((size_t)nStmt + 1, sizeof(Outcome));
  aOut = calloc((size_t)nStmt + 1, sizeof(Outcome));
  if (!aBase || !aOut) fatal("out of memory (the real kind)");
  gzScenario = s->zName;
  gzMode = bAfter ? "fail-after" : "fail-once";
  nProblem = nProblemDropped = 0;

  /* test/run always starts Redis: a missing server is a failure. */
  if (s->bRedis && !getenv("STATEVTAB_REDIS_URL")) {
    printf("FAIL oom/%s/%s: STATEVTAB_REDIS_URL is not set: no Redis server "
           "for this Redis store scenario\n",
           s->zName, gzMode);
    fflush(stdout);
    free(aBase);
    free(aOut);
    return 1;
  }

  /* Baseline: "!" statements must fail, the others succeed. */
  runOnce(s, OOM_NEVER, 0, aBase);
  for (i = 0; i < nStmt; i++) {
    int bExpectErr = s->azScript[i][0] == '!';
    if ((aBase[i].rc != SQLITE_OK) != bExpectErr) {
      printf("FAIL oom/%s/%s: baseline (no injection): statement %d %s: "
             "%s%s%s\n",
             s->zName, gzMode, i + 1,
             bExpectErr ? "was expected to fail but succeeded" : "failed",
             sqlOf(s->azScript[i]), aBase[i].rc ? ": " : "", aBase[i].zMsg);
      nFail++;
      bBaseOk = 0;
    }
  }
  for (i = 0; i < nProblem; i++) {
    printf("FAIL oom/%s/%s: baseline (no injection): %s\n", s->zName, gzMode,
           aProblem[i].zText);
    nFail++;
    bBaseOk = 0;
  }
  nProblem = 0;
  if (!bBaseOk) {
    free(aBase);
    free(aOut);
    return nFail;
  }

  for (iN = 1;; iN++) {
    sqlite3_int64 n = runOnce(s, iN, bAfter, aOut);
    nRuns++;
    if (n == 0) break; /* the script ran to its end without a failure */
    nInjected += n;
    judge(s, iN, aBase, aOut, n);
    if (iN >= gnMax) {
      problem("max", iN, "still allocating after %lld allocations (--max)",
              (long long)gnMax);
      break;
    }
  }

  for (i = 0; i < nProblem; i++) {
    printf("FAIL oom/%s/%s: %s [first at N=%lld; %d run(s)]\n", s->zName,
           gzMode, aProblem[i].zText, (long long)aProblem[i].iFirst,
           aProblem[i].nSeen);
    nFail++;
  }
  if (nProblemDropped) {
    printf("FAIL oom/%s/%s: %d more distinct problem(s) not shown\n", s->zName,
           gzMode, nProblemDropped);
    nFail++;
  }
  if (nFail == 0) {
    printf("PASS oom/%s/%s (%lld runs, %lld allocations failed, %d "
           "statements)\n",
           s->zName, gzMode, (long long)nRuns, (long long)nInjected, nStmt);
  }
  fflush(stdout);
  free(aBase);
  free(aOut);
  return nFail;
}

static void usage(void) {
  fprintf(stderr,
          "usage: oom EXTENSION --list\n"
          "       oom EXTENSION SCENARIO...|all [--mode once|after|both] "
          "[--dir DIR] [--max N] [--unsanitized]\n");
  exit(2);
}

int main(int argc, char **argv) {
  static sqlite3_mem_methods wrap = {oomMalloc,  oomFree, oomRealloc,  oomSize,
                                     oomRoundup, oomInit, oomShutdown, 0};
  const char *azRun[N_SCENARIO + 1];
  int nRun = 0, bOnce = 1, bAfter = 1, bUnsanitized = 0, bList = 0;
  int i, j, nFail = 0;
  void *pPin;

  if (argc < 3) usage();
  gzExt = argv[1];
  gzDir = getenv("TEST_TMP");
  if (!gzDir || !gzDir[0]) gzDir = "/tmp";
  for (i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--list") == 0) {
      bList = 1;
    } else if (strcmp(argv[i], "--mode") == 0 && i + 1 < argc) {
      const char *z = argv[++i];
      bOnce = strcmp(z, "once") == 0 || strcmp(z, "both") == 0;
      bAfter = strcmp(z, "after") == 0 || strcmp(z, "both") == 0;
      if (!bOnce && !bAfter) usage();
    } else if (strcmp(argv[i], "--dir") == 0 && i + 1 < argc) {
      gzDir = argv[++i];
    } else if (strcmp(argv[i], "--max") == 0 && i + 1 < argc) {
      gnMax = atoll(argv[++i]);
      if (gnMax < 1) usage();
    } else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
      giTrace = atoll(argv[++i]);
    } else if (strcmp(argv[i], "--unsanitized") == 0) {
      bUnsanitized = 1;
    } else if (argv[i][0] == '-') {
      usage();
    } else if (strcmp(argv[i], "all") == 0) {
      for (j = 0; j < N_SCENARIO; j++) azRun[nRun++] = aScenario[j].zName;
    } else {
      for (j = 0; j < N_SCENARIO; j++) {
        if (strcmp(aScenario[j].zName, argv[i]) == 0) break;
      }
      if (j == N_SCENARIO) {
        fprintf(stderr, "oom: no scenario '%s' (see --list)\n", argv[i]);
        exit(2);
      }
      if (nRun < N_SCENARIO) azRun[nRun++] = argv[i];
    }
  }
  if (bList) {
    for (j = 0; j < N_SCENARIO; j++) printf("%s\n", aScenario[j].zName);
    return 0;
  }
  if (nRun == 0) usage();

  if (__sanitizer_set_death_callback) {
    __sanitizer_set_death_callback(onDeath);
  } else if (!bUnsanitized) {
    printf("FAIL oom: this host was built without sanitizers: memory errors "
           "go undetected\n");
    nFail++;
  }
  /* Pinned clock: repeatable runs (see the header). */
  setenv("STATEVTAB_TEST_CLOCK_MS", "1700000000000", 1);

  /* Keep the extension mapped for the whole process: each run loads and
  ** unloads it, and a reload per run would cost more than the run. */
  pPin = dlopen(gzExt, RTLD_NOW | RTLD_LOCAL);
  if (!pPin) fatal("cannot dlopen %s: %s", gzExt, dlerror());

  if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &gOrig) != SQLITE_OK) {
    fatal("SQLITE_CONFIG_GETMALLOC failed (SQLite already initialized?)");
  }
  wrap.pAppData = gOrig.pAppData;
  /* No lookaside and no bulk page-cache block: every allocation, each page
  ** included, is a separate call of the wrapper, so a point to fail. */
  if (sqlite3_config(SQLITE_CONFIG_MALLOC, &wrap) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_PAGECACHE, (void *)0, 0, 0) != SQLITE_OK ||
      sqlite3_config(SQLITE_CONFIG_LOOKASIDE, 0, 0) != SQLITE_OK) {
    fatal("cannot install the allocator");
  }
  if (sqlite3_initialize() != SQLITE_OK) fatal("sqlite3_initialize failed");

  for (i = 0; i < nRun; i++) {
    Scenario x;
    for (j = 0; j < N_SCENARIO; j++) {
      if (strcmp(aScenario[j].zName, azRun[i]) == 0) break;
    }
    nsExpand(&aScenario[j], &x);
    if (x.bWal) makeTemplate(&x);
    if (bOnce) nFail += runScenario(&x, 0);
    if (bAfter) nFail += runScenario(&x, 1);
    nsFree(&x);
  }
  free(gTemplate);
  sqlite3_shutdown();
  /* pPin stays open: LeakSanitizer's exit-time scan walks the thread-local
  ** storage of every library the extension pulled in (libpq's TLS stack),
  ** and crashed on those a dlclose() here had just unmapped. */
  (void)pPin;
  giN = -1; /* LeakSanitizer reports after main() returns */
  return nFail ? 1 : 0;
}
