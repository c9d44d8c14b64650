/*
** 2026-12-02
**
** queue.c -- the queue cycle on each store: statevtab against the smallest
** raw program of our own doing the same job on the same engine, in one run,
** as a ratio (issue 11).  Not pass/fail.
**
**   test/bench/run queue [options]        # builds everything, then runs this
**   cc -O2 -I/usr/include/postgresql test/bench/queue.c \
**       -o test/out/bench-queue -lsqlite3 -lpq -lhiredis
**                                         # or -DBENCH_NO_HIREDIS, no -lhiredis
**   test/out/bench-queue -e ./statevtab.so               # every store it can
**   test/out/bench-queue -e ./statevtab.so --quick       # a smoke run
**   test/out/bench-queue -e ./statevtab.so --stores local --only claim-n1
**   test/out/bench-queue --list                          # options, workloads
**
** The local store always runs; the PostgreSQL rows run when STATEVTAB_PG_URL
** is set and the Redis rows when STATEVTAB_REDIS_URL is set (else one line
** "skipped: ... not set").  Output: ONE table, store x workload, with the
** raw program's jobs/s, statevtab's jobs/s and the ratio statevtab / raw
** (1.00 = as fast as the raw engine; higher is better).  The exit status is
** non-zero only when something could not run or a run failed its
** verification (VERIFY FAILED), never because a ratio is low.
**
** HOW IT WORKS
**
** Each store is measured by two "sides", each in a namespace of its own
** that is made fresh for every run and removed after it (a database file in
** a temporary directory; a PostgreSQL schema bq<pid>_<run>_raw|sv; Redis
** keys under {bq<pid>_<run>_raw} or {bq<pid>_<run>_sv:}):
**
**   raw        the smallest program we know for the job on that engine:
**     local      a SQLite file (WAL, synchronous=NORMAL, busy timeout 5 s: the
**                pragmas of the statevtab side), one table tasks(id INTEGER
**                PRIMARY KEY, queue, state, priority, run_at, lease_owner,
**                lease_expires_at, payload) and one index (queue, state,
**                priority, run_at).  enqueue: INSERT; claim: BEGIN IMMEDIATE;
**                UPDATE ... WHERE id IN (SELECT id ... ORDER BY priority,
**                run_at LIMIT n) RETURNING id, payload; COMMIT.  complete:
**                one autocommit UPDATE ... WHERE id AND state AND owner per
**                task (n=1), or BEGIN IMMEDIATE, n of them, COMMIT.
**     postgresql libpq, prepared statements, one table (bigserial id, jsonb
**                payload, bigint times from the client) and one partial
**                index (queue, priority, run_at) WHERE state = 0.  enqueue:
**                one INSERT (1), or one INSERT ... SELECT FROM unnest(arrays)
**                (100); claim: one autocommit UPDATE ... WHERE id =
**                ANY(ARRAY(SELECT id ... ORDER BY priority, run_at LIMIT n FOR
**                UPDATE SKIP LOCKED)) RETURNING id, payload (with "id IN
**                (SELECT ...)" the server re-plans every call, and its generic
**                plan scans the whole table: 170 ms a claim at 200,000 rows);
**                complete: UPDATE ... WHERE id = $1 AND owner (n=1) or WHERE
**                id = ANY($1) AND owner (n=100), one autocommit statement.
**     redis      hiredis and four Lua scripts (EVALSHA): a hash per task, a
**                ready zset (score priority * 1e13 + run_at) and a leased zset
**                (score lease expiry).  enqueue: one call per transaction
**                (INCRBY, HSET + ZADD per task); claim: one call (ZPOPMIN
**                ready n -> ZADD leased, HSET state/owner, HGET payload);
**                complete: one call per batch (owner check, ZREM leased, HSET
**                state).
**   statevtab  the extension's own SQL, as a user writes it, on a table
**              CREATE VIRTUAL TABLE tasks USING state_tasks() in a file
**              (local; same pragmas) or in a :memory: database with
**              store='env:STATEVTAB_PG_URL', schema=... or
**              store='env:STATEVTAB_REDIS_URL', prefix=...:
**                enqueue   INSERT INTO tasks(queue, name, payload, priority)
**                          VALUES(?, 'job', ?, ?), autocommit or 100 inside
**                          BEGIN ... COMMIT
**                claim     SELECT id, lease_token, payload FROM
**                          state_claim('tasks', 'q', ?worker, 30000, ?n)
**                complete  SELECT state_complete('tasks', ?id, ?token) (n=1);
**                          a batch is one call of svCompleteBatch(): the
**                          batch form state_complete('tasks', '[{"id":..,
**                          "token":..},...]'), or with --sv-complete claim
**                          state_claim(..., 0, '{"complete":[...]}')
**                fused     state_claim(..., n, '{"complete":[the previous
**                          batch]}'): one call per batch
**
** Every task is the same on every side: queue 'q', a priority from 0 to 9
** drawn from its index, run_at = now, a 16-byte JSON payload
** {"n":"00000042"} (statevtab also sets name = 'job', a NOT NULL column).
**
** A run of one side: make the namespace, fill it (untimed), close the
** parent's connection, sync() (so that no earlier run's dirty pages are
** written back during this one), fork the worker processes; each opens its own
** connection, prepares its statements, warms up (a claim of 0 tasks: the
** table connected, scripts loaded) and says it is ready; the clock runs
** from the start signal to the last worker's end (CLOCK_MONOTONIC).  Then
** the parent reopens and verifies, untimed: for the claim rows every
** timed task completed exactly once (rows in state completed = N, and for
** statevtab with attempts = lease_token = 1; the workers claimed N and had
** N completions accepted; the in-flight tasks still claimed), for the
** enqueue rows N pending tasks; a mismatch prints VERIFY FAILED.  Workers
** retry a failed call (at most 100 times in a row) and count the errors.
** Each side runs -r times (default 1), sides alternating which goes first,
** and the best time counts.
**
** The untimed fills use each side's enqueue with 1000 tasks per
** transaction, except on statevtab's PostgreSQL side, where inserting
** through the store runs at about 2,000 rows/s: one row is INSERTed through
** statevtab as a template and copied on the server (INSERT ... SELECT over
** unnest: every column as statevtab wrote it, with a 36-byte id of our own,
** the task's priority and payload), then ANALYZE, as on the raw side.
**
** Workloads (rows; sizes: -n, --backlog, --inflight, --pg-n, --redis-n):
**
**   enqueue-1     N tasks, one per transaction
**   enqueue-100   N tasks, 100 per transaction
**   claim-n1      N tasks queued; 1 process claims 1 and completes it until
**                 the queue is empty
**   claim-n1-4p   the same with 4 processes (--procs)
**   claim-n100    claim 100, complete the 100 in one batch
**   fused-n1      statevtab: state_claim with options.complete = the task
**   fused-n100    of the previous call (one call per job / per batch); the
**                 raw column and the ratio's base is the raw two-call cycle
**                 of claim-n1 / claim-n100 (measured again if that row was
**                 not selected)
**   backlog       B tasks queued (default 200,000); 1 process claims and
**                 completes N of them, n=1
**   inflight      I tasks claimed with unexpired leases (an hour) by another
**                 worker, N more queued; 1 process drains the N, n=1
**   bytes         local only: page_count * page_size after N tasks (100 per
**                 transaction) minus that of the empty database, per task;
**                 the ratio is raw / statevtab so that higher is still better
**
**   rate-n1       claim-n1 with a rate limit in play: statevtab's claims
**                 pass options.rates {"queue:bench": "1000000000/1s"} (never
**                 reached: what the counting costs); raw: claim-n1
**   deps          claim-n1 with dependencies in play: statevtab's N tasks
**                 are N/2 pairs, the second of each waiting (depends_on)
**                 for the first, so every other completion releases a
**                 waiting task for a later claim; raw: claim-n1
**
**   partition     claim-n1 with statevtab's tasks in 10 partitions
**                 (partition_key "t0" ... "t9", task i in t<i % 10>): every
**                 claim takes the next partition in turn; raw: claim-n1
**
** backlog and inflight also print "vs empty": the side's own rate there
** divided by its claim-n1 rate (1.00 = the backlog or the leases cost
** nothing); rate-n1, schedule, deps and partition "vs plain", the same for
** statevtab.
**
** Redis: the test servers run with appendfsync always, so every write call
** waits for an fsync (1 to 4 ms here); --redis-n (default min(N, 2000))
** keeps those rows short.
**
** ADDING A WORKLOAD
**
** A row of aRow[] (name for --only, help, kind, n, one or --procs
** processes, the row it is compared with); a new kind is a case in
** runOnce() (what to fill and hold untimed, and the Work each worker does
** in workRun()) and in rowLabel().  A new store is an Impl for its raw
** side, its namespace in nsCreate()/nsDrop() and its CREATE in svOpen().
*/
#define _GNU_SOURCE 1 /* mkdtemp */
#include <sqlite3.h>

#include <libpq-fe.h>
#ifndef BENCH_NO_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.c"

#define QUEUE "q"
#define LEASE_MS 30000
#define HOLD_MS 3600000 /* leases of the in-flight tasks: an hour */
#define MAX_BATCH 100   /* n of the batch rows */
#define MAX_PROC 16
#define MAX_TRY 100      /* failed calls in a row before a worker gives up */
#define FILL_CHUNK 1000  /* tasks per transaction of an untimed fill */
#define HOLD_CHUNK 10000 /* state_claim takes n <= 10000 */
#define PARTS 10 /* row "partition": task i's partition_key is "t<i % 10>" */
#define PARTS_S "10"
#define PG_URL_ENV "STATEVTAB_PG_URL"
#define REDIS_URL_ENV "STATEVTAB_REDIS_URL"

/* ------------------------------------------------------------ options */

typedef struct Opts {
  const char *zExt;    /* -e: the extension */
  int nTask;           /* -n: tasks per run (local) */
  int nPgTask;         /* --pg-n: tasks per run on PostgreSQL */
  int nRedisTask;      /* --redis-n: tasks per run on Redis */
  int nBacklog;        /* --backlog: tasks queued in the backlog row */
  int nInflight;       /* --inflight: tasks held in the inflight row */
  const char *zSvOpt;  /* the options of statevtab's claims (rate-n1) */
  int nProc;           /* --procs: processes of claim-n1-4p */
  int nRep;            /* -r: runs per side, the best counts */
  const char *zStores; /* --stores: local,pg,redis */
  const char *zOnly;   /* --only: workload names */
  int bJsonComplete;   /* --sv-complete json */
  int bSchedule;       /* this run: a schedule in play (row "schedule") */
  int bDeps;           /* this run: tasks in pairs by depends_on ("deps") */
  int bPartition;      /* this run: tasks of PARTS partitions ("partition") */
  int bKeep;           /* --keep: keep the namespaces */
  int bVerbose;        /* -v */
} Opts;

static Opts g;

/* ---------------------------------------------------------- utilities */

static int bChild = 0; /* in a worker process: never run the cleanup */

static void fatal(const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  fprintf(stderr, "bench-queue: ");
  vfprintf(stderr, zFmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  if (bChild) _exit(2);
  exit(2);
}

static void verbose(const char *zFmt, ...) {
  va_list ap;
  if (!g.bVerbose) return;
  va_start(ap, zFmt);
  fprintf(stderr, "bench-queue: ");
  vfprintf(stderr, zFmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

/* Task i's priority, 0 to 9, the same on every side. */
static int taskPriority(int i) {
  unsigned long long x = (unsigned long long)(i + 1) * 0x9E3779B97F4A7C15ULL;
  x ^= x >> 31;
  return (int)(x % 10);
}

/* Task i's payload: 16 bytes of JSON, {"n":"00000042"}. */
static void taskPayload(int i, char *z /* >= 20 bytes */) {
  snprintf(z, 20, "{\"n\":\"%08u\"}", (unsigned)i % 100000000u);
}

/* ---------------------------------------------------------- the sides */

/* One claimed task. */
typedef struct Job {
  long long iId;    /* raw: the id */
  long long iToken; /* statevtab: lease_token */
  int nId;
  char zId[48]; /* statevtab: the id (text); raw: unused */
} Job;

/* What one worker did; sent to the parent through a pipe. */
typedef struct Stat {
  double tEnd;         /* CLOCK_MONOTONIC at its end */
  long long nJobs;     /* tasks enqueued, or claimed */
  long long nAccepted; /* completions accepted */
  long long nCall;     /* claim calls, or enqueue transactions */
  long long nErr;      /* failed calls (retried) */
  int bGaveUp;         /* MAX_TRY failures in a row */
  char zErr[200];      /* the first error */
} Stat;

enum { ST_LOCAL, ST_PG, ST_REDIS, NSTORE };
static const char *const azStore[NSTORE] = {"local", "postgresql", "redis"};
enum { S_PENDING, S_CLAIMED, S_COMPLETED };

typedef struct Side Side;
typedef struct Conn Conn;

/*
** The operations of one side.  Each returns -1 on an error, with the
** message in c->zErr.
*/
typedef struct Impl {
  /* Connect, make the table if missing, prepare: 0 or -1. */
  int (*xOpen)(Conn *c);
  void (*xClose)(Conn *c);
  /* Enqueue tasks iFirst..iFirst+n-1 in one transaction (n = 1: one
  ** autocommit statement): 0 or -1. */
  int (*xEnqueue)(Conn *c, int iFirst, int n);
  /* Claim up to n tasks into a[] for worker zW: how many, or -1. */
  int (*xClaim)(Conn *c, const char *zW, int nLeaseMs, int n, Job *a);
  /* Complete the n tasks a[] (n = 1 one call, else one batch): how many
  ** completions were accepted, or -1. */
  int (*xComplete)(Conn *c, const char *zW, const Job *a, int n);
  /* statevtab only: complete aDone[nDone] and claim up to n into a[], in
  ** one call; *pnAccepted = completions accepted.  Tasks claimed, or -1. */
  int (*xFused)(Conn *c, const char *zW, const Job *aDone, int nDone, int n,
                Job *a, int *pnAccepted);
  /* Tasks in state iState (S_*); *pnOnce: of those, claimed only once (the
  ** raw sides have no attempts column: = the count).  Count or -1. */
  long long (*xCount)(Conn *c, int iState, long long *pnOnce);
} Impl;

struct Side {
  int eStore;         /* ST_* */
  int bSv;            /* 1: statevtab, 0: raw */
  const char *zLabel; /* "raw" or "statevtab" */
  const Impl *p;
  int bLive;     /* zNs exists and must be removed */
  char zNs[160]; /* this run's namespace: a path, schema or key base */
};

struct Conn {
  Side *s;
  sqlite3 *db;
  sqlite3_stmt *ap[10];
  PGconn *pg;
#ifndef BENCH_NO_HIREDIS
  redisContext *rc;
#endif
  char azSha[4][41];  /* raw Redis: enqueue, claim, complete, count */
  char azKey[4][200]; /* raw Redis: seq, ready, leased, task key prefix */
  char zErr[240];
};

static const char *zDir = 0;      /* temporary directory (local) */
static const char *zPgUrl = 0;    /* $STATEVTAB_PG_URL */
static const char *zRedisUrl = 0; /* $STATEVTAB_REDIS_URL */
static PGconn *pgAdmin = 0;       /* schemas, fills, ANALYZE */
#ifndef BENCH_NO_HIREDIS
static redisContext *rdAdmin = 0; /* deletes namespaces */
#define REDIS_ADMIN_UP (rdAdmin != 0)
#else
#define REDIS_ADMIN_UP 0
#endif
static Side aSide[NSTORE][2]; /* [store][0 raw, 1 statevtab] */
static int iRunSeq = 0;       /* namespaces made so far */

static void connErr(Conn *c, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  vsnprintf(c->zErr, sizeof(c->zErr), zFmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------- SQLite */

/*
** Open zPath with the settings of both SQLite sides (WAL and
** synchronous=NORMAL for a file, busy timeout 5 s), the extension when
** bExt: 0 or -1.
*/
static int sqlOpen(Conn *c, const char *zPath, int bExt) {
  char *zErr = 0;
  int bFile = strcmp(zPath, ":memory:") != 0;
  if (sqlite3_open_v2(zPath, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                      0) != SQLITE_OK) {
    connErr(c, "open %s: %s", zPath,
            c->db ? sqlite3_errmsg(c->db) : "out of memory");
    return -1;
  }
  sqlite3_busy_timeout(c->db, 5000);
  if (sqlite3_exec(c->db,
                   bFile ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"
                         : "PRAGMA synchronous=NORMAL",
                   0, 0, &zErr) != SQLITE_OK) {
    connErr(c, "pragmas: %s", zErr ? zErr : "?");
    sqlite3_free(zErr);
    return -1;
  }
  if (bExt) {
    sqlite3_enable_load_extension(c->db, 1);
    if (sqlite3_load_extension(c->db, g.zExt, "sqlite3_statevtab_init",
                               &zErr) != SQLITE_OK) {
      connErr(c, "load %s: %s", g.zExt, zErr ? zErr : "?");
      sqlite3_free(zErr);
      return -1;
    }
    sqlite3_enable_load_extension(c->db, 0);
  }
  return 0;
}

static int sqlExecText(Conn *c, const char *zSql) {
  char *zErr = 0;
  if (sqlite3_exec(c->db, zSql, 0, 0, &zErr) != SQLITE_OK) {
    connErr(c, "%s: %s", zSql, zErr ? zErr : sqlite3_errmsg(c->db));
    sqlite3_free(zErr);
    return -1;
  }
  return 0;
}

/* Prepare zSql into c->ap[i]: 0 or -1. */
static int sqlPrep(Conn *c, int i, const char *zSql) {
  if (sqlite3_prepare_v2(c->db, zSql, -1, &c->ap[i], 0) != SQLITE_OK) {
    connErr(c, "prepare %s: %s", zSql, sqlite3_errmsg(c->db));
    return -1;
  }
  return 0;
}

/* Step c->ap[i] to its end and reset it: 0, or -1 (zWhat: the message). */
static int sqlRun(Conn *c, int i, const char *zWhat) {
  sqlite3_stmt *p = c->ap[i];
  while (sqlite3_step(p) == SQLITE_ROW) {
  }
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "%s: %s (%d)", zWhat, sqlite3_errmsg(c->db),
            sqlite3_extended_errcode(c->db));
    return -1;
  }
  return 0;
}

static void sqlClose(Conn *c) {
  size_t i;
  for (i = 0; i < sizeof(c->ap) / sizeof(c->ap[0]); i++) {
    sqlite3_finalize(c->ap[i]);
    c->ap[i] = 0;
  }
  if (c->db && sqlite3_close(c->db) != SQLITE_OK)
    fprintf(stderr, "bench-queue: close: %s\n", sqlite3_errmsg(c->db));
  c->db = 0;
}

/* page_count * page_size of c's main database (bytes on disk). */
static long long sqlBytes(Conn *c) {
  sqlite3_stmt *p = 0;
  long long n = -1;
  if (sqlite3_prepare_v2(c->db,
                         "SELECT (SELECT page_count FROM pragma_page_count) * "
                         "(SELECT page_size FROM pragma_page_size)",
                         -1, &p, 0) == SQLITE_OK &&
      sqlite3_step(p) == SQLITE_ROW) {
    n = sqlite3_column_int64(p, 0);
  }
  sqlite3_finalize(p);
  return n;
}

/* --------------------------------------------------------- raw local */

enum {
  RL_ENQ,
  RL_BEGIN,
  RL_BEGINX,
  RL_COMMIT,
  RL_ROLLBACK,
  RL_CLAIM,
  RL_DONE,
  RL_COUNT
};

static int rawLocalOpen(Conn *c) {
  if (sqlOpen(c, c->s->zNs, 0) ||
      sqlExecText(c, "CREATE TABLE IF NOT EXISTS tasks("
                     "id INTEGER PRIMARY KEY, queue TEXT NOT NULL, "
                     "state INTEGER NOT NULL DEFAULT 0, "
                     "priority INTEGER NOT NULL DEFAULT 0, "
                     "run_at INTEGER NOT NULL, lease_owner TEXT, "
                     "lease_expires_at INTEGER, payload TEXT);"
                     "CREATE INDEX IF NOT EXISTS tasks_claim ON "
                     "tasks(queue, state, priority, run_at)") ||
      sqlPrep(c, RL_ENQ,
              "INSERT INTO tasks(queue, priority, run_at, payload) "
              "VALUES(?1, ?2, ?3, ?4)") ||
      sqlPrep(c, RL_BEGIN, "BEGIN") ||
      sqlPrep(c, RL_BEGINX, "BEGIN IMMEDIATE") ||
      sqlPrep(c, RL_COMMIT, "COMMIT") || sqlPrep(c, RL_ROLLBACK, "ROLLBACK") ||
      sqlPrep(c, RL_CLAIM,
              "UPDATE tasks SET state = 1, lease_owner = ?1, "
              "lease_expires_at = ?2 WHERE id IN (SELECT id FROM tasks "
              "WHERE queue = ?3 AND state = 0 AND run_at <= ?4 "
              "ORDER BY priority, run_at LIMIT ?5) RETURNING id, payload") ||
      sqlPrep(c, RL_DONE,
              "UPDATE tasks SET state = 2, lease_owner = NULL, "
              "lease_expires_at = NULL WHERE id = ?1 AND state = 1 AND "
              "lease_owner = ?2") ||
      sqlPrep(c, RL_COUNT, "SELECT count(*) FROM tasks WHERE state = ?1")) {
    return -1;
  }
  return 0;
}

static int rawLocalEnqueue(Conn *c, int iFirst, int n) {
  sqlite3_stmt *p = c->ap[RL_ENQ];
  char zPay[20];
  long long now = now_ms();
  int i;
  if (n > 1 && sqlRun(c, RL_BEGIN, "BEGIN")) return -1;
  for (i = iFirst; i < iFirst + n; i++) {
    taskPayload(i, zPay);
    sqlite3_bind_text(p, 1, QUEUE, -1, SQLITE_STATIC);
    sqlite3_bind_int(p, 2, taskPriority(i));
    sqlite3_bind_int64(p, 3, now);
    sqlite3_bind_text(p, 4, zPay, 16, SQLITE_TRANSIENT);
    if (sqlRun(c, RL_ENQ, "INSERT")) goto rollback;
  }
  if (n > 1 && sqlRun(c, RL_COMMIT, "COMMIT")) goto rollback;
  return 0;
rollback:
  if (n > 1) sqlite3_exec(c->db, "ROLLBACK", 0, 0, 0);
  return -1;
}

static int rawLocalClaim(Conn *c, const char *zW, int nLeaseMs, int n, Job *a) {
  sqlite3_stmt *p = c->ap[RL_CLAIM];
  long long now;
  int k = 0;
  if (sqlRun(c, RL_BEGINX, "BEGIN IMMEDIATE")) return -1;
  now = now_ms();
  sqlite3_bind_text(p, 1, zW, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, now + nLeaseMs);
  sqlite3_bind_text(p, 3, QUEUE, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p, 4, now);
  sqlite3_bind_int(p, 5, n);
  while (sqlite3_step(p) == SQLITE_ROW) {
    if (k < n) {
      a[k].iId = sqlite3_column_int64(p, 0);
      (void)sqlite3_column_text(p, 1); /* the payload, as a worker reads it */
      k++;
    }
  }
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "claim UPDATE: %s (%d)", sqlite3_errmsg(c->db),
            sqlite3_extended_errcode(c->db));
    goto rollback;
  }
  if (sqlRun(c, RL_COMMIT, "COMMIT")) goto rollback;
  return k;
rollback:
  sqlRun(c, RL_ROLLBACK, "ROLLBACK");
  return -1;
}

static int rawLocalComplete(Conn *c, const char *zW, const Job *a, int n) {
  sqlite3_stmt *p = c->ap[RL_DONE];
  int i, nOk = 0;
  if (n > 1 && sqlRun(c, RL_BEGINX, "BEGIN IMMEDIATE")) return -1;
  for (i = 0; i < n; i++) {
    sqlite3_bind_int64(p, 1, a[i].iId);
    sqlite3_bind_text(p, 2, zW, -1, SQLITE_STATIC);
    if (sqlRun(c, RL_DONE, "complete UPDATE")) goto rollback;
    nOk += sqlite3_changes(c->db);
  }
  if (n > 1 && sqlRun(c, RL_COMMIT, "COMMIT")) goto rollback;
  return nOk;
rollback:
  if (n > 1) sqlRun(c, RL_ROLLBACK, "ROLLBACK");
  return -1;
}

static long long rawLocalCount(Conn *c, int iState, long long *pnOnce) {
  sqlite3_stmt *p = c->ap[RL_COUNT];
  long long n = -1;
  sqlite3_bind_int(p, 1, iState);
  if (sqlite3_step(p) == SQLITE_ROW) n = sqlite3_column_int64(p, 0);
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "count: %s", sqlite3_errmsg(c->db));
    return -1;
  }
  *pnOnce = n;
  return n;
}

static void rawLocalClose(Conn *c) { sqlClose(c); }

static const Impl rawLocal = {rawLocalOpen,  rawLocalClose,    rawLocalEnqueue,
                              rawLocalClaim, rawLocalComplete, 0,
                              rawLocalCount};

/* ---------------------------------------------------------- statevtab */

enum {
  SV_ENQ,
  SV_BEGIN,
  SV_COMMIT,
  SV_CLAIM,
  SV_DONE,
  SV_CLAIMX,
  SV_DONEJ,
  SV_COUNT
};

static const char *const azSvState[] = {"pending", "claimed", "completed"};

static int svOpen(Conn *c) {
  char *zCreate, *zOpts;
  char zNs[200];
  int rc;
  const Side *s = c->s;
  if (s->eStore == ST_LOCAL) {
    if (sqlOpen(c, s->zNs, 1)) return -1;
    zOpts = sqlite3_mprintf("%s", "");
  } else {
    /* PostgreSQL: schema <ns>; Redis: prefix <ns>: (keys {<ns>:}...) */
    snprintf(zNs, sizeof(zNs), "%s%s", s->zNs,
             s->eStore == ST_REDIS ? ":" : "");
    if (sqlOpen(c, ":memory:", 1)) return -1;
    zOpts = sqlite3_mprintf("store='env:%s', %s=%Q",
                            s->eStore == ST_PG ? PG_URL_ENV : REDIS_URL_ENV,
                            s->eStore == ST_PG ? "schema" : "prefix", zNs);
  }
  zCreate = sqlite3_mprintf(
      "CREATE VIRTUAL TABLE IF NOT EXISTS tasks USING state_tasks(%s)", zOpts);
  rc = sqlExecText(c, zCreate);
  sqlite3_free(zCreate);
  if (rc == 0 && g.bSchedule) {
    /* A schedule every second, into another queue: every claim looks at
    ** it, and one claim a second fires it. */
    zCreate = sqlite3_mprintf("CREATE VIRTUAL TABLE IF NOT EXISTS schedules "
                              "USING state_schedules(%s);"
                              "INSERT OR IGNORE INTO schedules(name, cron, "
                              "queue, task) VALUES ('tick', '* * * * * *', "
                              "'other', 'tick')",
                              zOpts);
    rc = sqlExecText(c, zCreate);
    sqlite3_free(zCreate);
  }
  sqlite3_free(zOpts);
  if (rc ||
      sqlPrep(c, SV_ENQ,
              "INSERT INTO tasks(queue, name, payload, priority, "
              "partition_key) VALUES(?1, 'job', ?2, ?3, ?4)") ||
      sqlPrep(c, SV_BEGIN, "BEGIN") || sqlPrep(c, SV_COMMIT, "COMMIT") ||
      sqlPrep(c, SV_CLAIM,
              "SELECT id, lease_token, payload FROM "
              "state_claim('tasks', '" QUEUE "', ?1, ?2, ?3, ?4)") ||
      sqlPrep(c, SV_DONE, "SELECT state_complete('tasks', ?1, ?2)") ||
      sqlPrep(c, SV_CLAIMX,
              "SELECT id, lease_token, payload, outcome FROM "
              "state_claim('tasks', '" QUEUE "', ?1, ?2, ?3, ?4)") ||
      (g.bJsonComplete &&
       sqlPrep(c, SV_DONEJ, "SELECT state_complete('tasks', ?1)")) ||
      sqlPrep(c, SV_COUNT,
              "SELECT count(*), total(attempts = 1 AND lease_token = 1) "
              "FROM tasks WHERE state = ?1")) {
    return -1;
  }
  return 0;
}

static void svClose(Conn *c) { sqlClose(c); }

static int svEnqueue(Conn *c, int iFirst, int n) {
  sqlite3_stmt *p = c->ap[SV_ENQ];
  char zPay[20];
  int i;
  if (n > 1 && sqlRun(c, SV_BEGIN, "BEGIN")) return -1;
  for (i = iFirst; i < iFirst + n; i++) {
    taskPayload(i, zPay);
    sqlite3_bind_text(p, 1, QUEUE, -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 2, zPay, 16, SQLITE_TRANSIENT);
    sqlite3_bind_int(p, 3, taskPriority(i));
    if (g.bPartition) {
      char zPart[16];
      snprintf(zPart, sizeof(zPart), "t%d", i % PARTS);
      sqlite3_bind_text(p, 4, zPart, -1, SQLITE_TRANSIENT);
    } else {
      sqlite3_bind_null(p, 4);
    }
    if (sqlRun(c, SV_ENQ, "INSERT")) goto rollback;
  }
  if (n > 1 && sqlRun(c, SV_COMMIT, "COMMIT")) goto rollback;
  return 0;
rollback:
  if (n > 1) sqlite3_exec(c->db, "ROLLBACK", 0, 0, 0);
  return -1;
}

/* Copy the id (column 0) and token (column 1) of p's row into *pJob. */
static void svJob(sqlite3_stmt *p, Job *pJob) {
  const unsigned char *z = sqlite3_column_text(p, 0);
  int n = sqlite3_column_bytes(p, 0);
  if (!z || n >= (int)sizeof(pJob->zId)) n = 0;
  memcpy(pJob->zId, z ? (const char *)z : "", (size_t)n);
  pJob->zId[n] = 0;
  pJob->nId = n;
  pJob->iToken = sqlite3_column_int64(p, 1);
}

static int svClaim(Conn *c, const char *zW, int nLeaseMs, int n, Job *a) {
  sqlite3_stmt *p = c->ap[SV_CLAIM];
  int k = 0;
  sqlite3_bind_text(p, 1, zW, -1, SQLITE_STATIC);
  sqlite3_bind_int(p, 2, nLeaseMs);
  sqlite3_bind_int(p, 3, n);
  if (g.zSvOpt) {
    sqlite3_bind_text(p, 4, g.zSvOpt, -1, SQLITE_STATIC);
  } else {
    sqlite3_bind_null(p, 4);
  }
  while (sqlite3_step(p) == SQLITE_ROW) {
    if (k < n) {
      svJob(p, &a[k]);
      (void)sqlite3_column_text(p, 2); /* the payload */
      k++;
    }
  }
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "state_claim: %s (%d)", sqlite3_errmsg(c->db),
            sqlite3_extended_errcode(c->db));
    return -1;
  }
  return k;
}

/*
** Append [{"id":..,"token":..},...] for the n tasks a to s (ids are
** statevtab's UUIDs: nothing to escape, but quote what JSON needs anyway).
*/
static void svJsonJobs(sqlite3_str *s, const Job *a, int n) {
  int i, j;
  sqlite3_str_appendchar(s, 1, '[');
  for (i = 0; i < n; i++) {
    sqlite3_str_appendall(s, i ? ",{\"id\":\"" : "{\"id\":\"");
    for (j = 0; j < a[i].nId; j++) {
      char ch = a[i].zId[j];
      if (ch == '"' || ch == '\\') sqlite3_str_appendchar(s, 1, '\\');
      sqlite3_str_appendchar(s, 1, ch);
    }
    sqlite3_str_appendf(s, "\",\"token\":%lld}", a[i].iToken);
  }
  sqlite3_str_appendchar(s, 1, ']');
}

/* '{"complete":[...]}' for the n tasks a; sqlite3_free() it. */
static char *svCompleteOption(const Job *a, int n) {
  sqlite3_str *s = sqlite3_str_new(0);
  sqlite3_str_appendall(s, "{\"complete\":");
  svJsonJobs(s, a, n);
  sqlite3_str_appendchar(s, 1, '}');
  return sqlite3_str_finish(s);
}

/*
** Run c->ap[SV_CLAIMX] (state_claim with options zOpt, or NULL) for zW and
** n: claimed rows into a[] (when a), stale completions into *pnStale.
** Tasks claimed, or -1.
*/
static int svClaimX(Conn *c, const char *zW, int n, const char *zOpt, Job *a,
                    int *pnStale) {
  sqlite3_stmt *p = c->ap[SV_CLAIMX];
  int k = 0;
  *pnStale = 0;
  sqlite3_bind_text(p, 1, zW, -1, SQLITE_STATIC);
  sqlite3_bind_int(p, 2, LEASE_MS);
  sqlite3_bind_int(p, 3, n);
  if (zOpt)
    sqlite3_bind_text(p, 4, zOpt, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(p, 4);
  while (sqlite3_step(p) == SQLITE_ROW) {
    const char *zOut = (const char *)sqlite3_column_text(p, 3);
    if (zOut && strcmp(zOut, "stale") == 0) {
      (*pnStale)++;
    } else if (a && k < n) {
      svJob(p, &a[k]);
      (void)sqlite3_column_text(p, 2);
      k++;
    }
  }
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "state_claim: %s (%d)", sqlite3_errmsg(c->db),
            sqlite3_extended_errcode(c->db));
    return -1;
  }
  return k;
}

/*
** Complete the n tasks a in one call: completions accepted, or -1.  The one
** place that says how statevtab completes a batch: the batch form of
** state_complete taking '[{"id":..,"token":..},...]' and returning the
** number of tasks it completed; with --sv-complete claim, state_claim with
** n = 0 and the 'complete' option (a stale token comes back as a row with
** outcome 'stale').
*/
static int svCompleteBatch(Conn *c, const char *zW, const Job *a, int n) {
  int nStale = 0, rc;
  char *zOpt;
  if (g.bJsonComplete) {
    sqlite3_stmt *p = c->ap[SV_DONEJ];
    sqlite3_str *s = sqlite3_str_new(0);
    int nOk = 0;
    svJsonJobs(s, a, n);
    zOpt = sqlite3_str_finish(s);
    sqlite3_bind_text(p, 1, zOpt, -1, SQLITE_STATIC);
    if (sqlite3_step(p) == SQLITE_ROW) nOk = sqlite3_column_int(p, 0);
    rc = sqlite3_reset(p);
    sqlite3_free(zOpt);
    if (rc != SQLITE_OK) {
      connErr(c, "state_complete (batch): %s (%d)", sqlite3_errmsg(c->db),
              sqlite3_extended_errcode(c->db));
      return -1;
    }
    return nOk;
  }
  zOpt = svCompleteOption(a, n);
  rc = svClaimX(c, zW, 0, zOpt, 0, &nStale);
  sqlite3_free(zOpt);
  return rc < 0 ? -1 : n - nStale;
}

static int svComplete(Conn *c, const char *zW, const Job *a, int n) {
  sqlite3_stmt *p = c->ap[SV_DONE];
  int ok = 0;
  if (n != 1) return svCompleteBatch(c, zW, a, n);
  sqlite3_bind_text(p, 1, a->zId, a->nId, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, a->iToken);
  if (sqlite3_step(p) == SQLITE_ROW) ok = sqlite3_column_int(p, 0);
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "state_complete: %s (%d)", sqlite3_errmsg(c->db),
            sqlite3_extended_errcode(c->db));
    return -1;
  }
  return ok == 1;
}

static int svFused(Conn *c, const char *zW, const Job *aDone, int nDone, int n,
                   Job *a, int *pnAccepted) {
  char *zOpt = nDone ? svCompleteOption(aDone, nDone) : 0;
  int nStale = 0, k = svClaimX(c, zW, n, zOpt, a, &nStale);
  sqlite3_free(zOpt);
  *pnAccepted = k < 0 ? 0 : nDone - nStale;
  return k;
}

static long long svCount(Conn *c, int iState, long long *pnOnce) {
  sqlite3_stmt *p = c->ap[SV_COUNT];
  long long n = -1;
  sqlite3_bind_text(p, 1, azSvState[iState], -1, SQLITE_STATIC);
  if (sqlite3_step(p) == SQLITE_ROW) {
    n = sqlite3_column_int64(p, 0);
    *pnOnce = (long long)sqlite3_column_double(p, 1);
  }
  if (sqlite3_reset(p) != SQLITE_OK) {
    connErr(c, "count: %s", sqlite3_errmsg(c->db));
    return -1;
  }
  return n;
}

static const Impl svImpl = {svOpen,     svClose, svEnqueue, svClaim,
                            svComplete, svFused, svCount};

/* ---------------------------------------------------------- raw libpq */

/* The server's primary message of r (or the connection's). */
static const char *pgMsg(PGconn *pg, const PGresult *r) {
  const char *z = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : 0;
  return z ? z : PQerrorMessage(pg);
}

/* Run zSql on pgAdmin (set-up, untimed); fatal on an error. */
static void pgAdminExec(const char *zSql) {
  PGresult *r = PQexec(pgAdmin, zSql);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
    fatal("postgresql: %s: %s", zSql, pgMsg(pgAdmin, r));
  PQclear(r);
}

static int pgPrep(Conn *c, const char *zName, const char *zSql) {
  PGresult *r = PQprepare(c->pg, zName, zSql, 0, 0);
  int rc = PQresultStatus(r) == PGRES_COMMAND_OK ? 0 : -1;
  if (rc) connErr(c, "prepare %s: %s", zName, pgMsg(c->pg, r));
  PQclear(r);
  return rc;
}

static int rawPgOpen(Conn *c) {
  const char *zS = c->s->zNs; /* [a-z0-9_]: quoted all the same */
  char z[600];
  c->pg = PQconnectdb(zPgUrl);
  if (PQstatus(c->pg) != CONNECTION_OK) {
    connErr(c, "postgresql: cannot connect: %s", PQerrorMessage(c->pg));
    return -1;
  }
  snprintf(z, sizeof(z),
           "INSERT INTO \"%s\".tasks(queue, priority, run_at, payload) "
           "VALUES($1, $2, $3, $4)",
           zS);
  if (pgPrep(c, "e1", z)) return -1;
  snprintf(z, sizeof(z),
           "INSERT INTO \"%s\".tasks(queue, priority, run_at, payload) "
           "SELECT $1, p, $3, d FROM unnest($2::int[], $4::jsonb[]) AS u(p, d)",
           zS);
  if (pgPrep(c, "en", z)) return -1;
  snprintf(z, sizeof(z),
           "UPDATE \"%s\".tasks SET state = 1, lease_owner = $1, "
           "lease_expires_at = $2 WHERE id = ANY(ARRAY(SELECT id FROM "
           "\"%s\".tasks WHERE queue = $3 AND state = 0 AND run_at <= $4 "
           "ORDER BY priority, run_at LIMIT $5 FOR UPDATE SKIP LOCKED)) "
           "RETURNING id, payload",
           zS, zS);
  if (pgPrep(c, "c", z)) return -1;
  snprintf(z, sizeof(z),
           "UPDATE \"%s\".tasks SET state = 2, lease_owner = NULL, "
           "lease_expires_at = NULL WHERE id = $1 AND state = 1 AND "
           "lease_owner = $2",
           zS);
  if (pgPrep(c, "d1", z)) return -1;
  snprintf(z, sizeof(z),
           "UPDATE \"%s\".tasks SET state = 2, lease_owner = NULL, "
           "lease_expires_at = NULL WHERE id = ANY($1::bigint[]) AND "
           "state = 1 AND lease_owner = $2",
           zS);
  if (pgPrep(c, "dn", z)) return -1;
  snprintf(z, sizeof(z), "SELECT count(*) FROM \"%s\".tasks WHERE state = $1",
           zS);
  return pgPrep(c, "n", z);
}

static void rawPgClose(Conn *c) {
  PQfinish(c->pg);
  c->pg = 0;
}

/* PQexecPrepared; the result, or NULL (and c->zErr) when not eOk. */
static PGresult *pgRun(Conn *c, const char *zName, int nArg,
                       const char *const *azArg, ExecStatusType eOk) {
  PGresult *r = PQexecPrepared(c->pg, zName, nArg, azArg, 0, 0, 0);
  if (PQresultStatus(r) != eOk) {
    connErr(c, "postgresql: %s: %s", zName, pgMsg(c->pg, r));
    PQclear(r);
    if (PQstatus(c->pg) == CONNECTION_BAD)
      PQreset(c->pg); /* prepared statements are gone: fatal next time */
    return 0;
  }
  return r;
}

static int rawPgEnqueue(Conn *c, int iFirst, int n) {
  char zPri[16], zNow[24], zPay[20];
  const char *az[4];
  PGresult *r;
  snprintf(zNow, sizeof(zNow), "%lld", now_ms());
  az[0] = QUEUE;
  az[2] = zNow;
  if (n == 1) {
    /* $1 queue, $2 priority, $3 run_at (ms), $4 payload */
    snprintf(zPri, sizeof(zPri), "%d", taskPriority(iFirst));
    taskPayload(iFirst, zPay);
    az[1] = zPri;
    az[3] = zPay;
    r = pgRun(c, "e1", 4, az, PGRES_COMMAND_OK);
  } else {
    /* $1 queue, $2 int[] priorities, $3 run_at, $4 jsonb[] payloads */
    sqlite3_str *sp = sqlite3_str_new(0), *sd = sqlite3_str_new(0);
    char *zP, *zD;
    int i;
    for (i = iFirst; i < iFirst + n; i++) {
      taskPayload(i, zPay);
      sqlite3_str_appendf(sp, "%s%d", i > iFirst ? "," : "{", taskPriority(i));
      /* an array element in double quotes: \" for each quote */
      sqlite3_str_appendall(sd, i > iFirst ? ",\"" : "{\"");
      for (zP = zPay; *zP; zP++) {
        if (*zP == '"' || *zP == '\\') sqlite3_str_appendchar(sd, 1, '\\');
        sqlite3_str_appendchar(sd, 1, *zP);
      }
      sqlite3_str_appendchar(sd, 1, '"');
    }
    sqlite3_str_appendchar(sp, 1, '}');
    sqlite3_str_appendchar(sd, 1, '}');
    zP = sqlite3_str_finish(sp);
    zD = sqlite3_str_finish(sd);
    az[1] = zP;
    az[3] = zD;
    r = pgRun(c, "en", 4, az, PGRES_COMMAND_OK);
    sqlite3_free(zP);
    sqlite3_free(zD);
  }
  if (!r) return -1;
  PQclear(r);
  return 0;
}

static int rawPgClaim(Conn *c, const char *zW, int nLeaseMs, int n, Job *a) {
  char zExp[24], zNow[24], zN[16];
  const char *az[5];
  long long now = now_ms();
  PGresult *r;
  int i, k;
  /* $1 owner, $2 lease expiry, $3 queue, $4 now, $5 n */
  snprintf(zExp, sizeof(zExp), "%lld", now + nLeaseMs);
  snprintf(zNow, sizeof(zNow), "%lld", now);
  snprintf(zN, sizeof(zN), "%d", n);
  az[0] = zW;
  az[1] = zExp;
  az[2] = QUEUE;
  az[3] = zNow;
  az[4] = zN;
  r = pgRun(c, "c", 5, az, PGRES_TUPLES_OK);
  if (!r) return -1;
  k = PQntuples(r);
  if (k > n) k = n;
  for (i = 0; i < k; i++) {
    a[i].iId = atoll(PQgetvalue(r, i, 0));
    (void)PQgetvalue(r, i, 1); /* the payload */
  }
  PQclear(r);
  return k;
}

static int rawPgComplete(Conn *c, const char *zW, const Job *a, int n) {
  const char *az[2];
  char zId[24];
  char *zIds = 0;
  PGresult *r;
  int nOk;
  az[1] = zW;
  if (n == 1) {
    /* $1 id, $2 owner */
    snprintf(zId, sizeof(zId), "%lld", a->iId);
    az[0] = zId;
    r = pgRun(c, "d1", 2, az, PGRES_COMMAND_OK);
  } else {
    /* $1 bigint[] ids, $2 owner */
    sqlite3_str *s = sqlite3_str_new(0);
    int i;
    for (i = 0; i < n; i++)
      sqlite3_str_appendf(s, "%s%lld", i ? "," : "{", a[i].iId);
    sqlite3_str_appendchar(s, 1, '}');
    zIds = sqlite3_str_finish(s);
    az[0] = zIds;
    r = pgRun(c, "dn", 2, az, PGRES_COMMAND_OK);
    sqlite3_free(zIds);
  }
  if (!r) return -1;
  nOk = atoi(PQcmdTuples(r));
  PQclear(r);
  return nOk;
}

static long long rawPgCount(Conn *c, int iState, long long *pnOnce) {
  char zS[8];
  const char *az[1];
  PGresult *r;
  long long n;
  snprintf(zS, sizeof(zS), "%d", iState);
  az[0] = zS;
  r = pgRun(c, "n", 1, az, PGRES_TUPLES_OK);
  if (!r) return -1;
  n = atoll(PQgetvalue(r, 0, 0));
  PQclear(r);
  *pnOnce = n;
  return n;
}

static const Impl rawPg = {rawPgOpen,     rawPgClose, rawPgEnqueue, rawPgClaim,
                           rawPgComplete, 0,          rawPgCount};

/* ---------------------------------------------------------- raw Redis */

#ifndef BENCH_NO_HIREDIS

/*
** The scripts of the raw Redis side.  KEYS: seq, ready, leased (zsets) and
** the prefix of the task hashes (not a key itself; all carry one hash tag).
*/
static const char *const azLua[4] = {
    /* enqueue: ARGV queue, now, then priority, payload per task */
    "local now = tonumber(ARGV[2])\n"
    "local n = (#ARGV - 2) / 2\n"
    "local id = redis.call('INCRBY', KEYS[1], n) - n\n"
    "for i = 3, #ARGV, 2 do\n"
    "  id = id + 1\n"
    "  redis.call('HSET', KEYS[4] .. id, 'queue', ARGV[1], 'state', 0,\n"
    "             'priority', ARGV[i], 'run_at', ARGV[2], 'payload', "
    "ARGV[i + 1])\n"
    "  redis.call('ZADD', KEYS[2], tonumber(ARGV[i]) * 1e13 + now, id)\n"
    "end\n"
    "return n\n",
    /* claim: ARGV now, lease_ms, owner, n -> {id, payload, ...} */
    "local n = tonumber(ARGV[4])\n"
    "if n < 1 then return {} end\n"
    "local now = tonumber(ARGV[1])\n"
    "local exp = now + tonumber(ARGV[2])\n"
    "local popped = redis.call('ZPOPMIN', KEYS[2], n)\n"
    "local out = {}\n"
    "for i = 1, #popped, 2 do\n"
    "  local id = popped[i]\n"
    "  if tonumber(popped[i + 1]) % 1e13 > now then\n"
    "    redis.call('ZADD', KEYS[2], popped[i + 1], id)\n"
    "  else\n"
    "    local k = KEYS[4] .. id\n"
    "    redis.call('ZADD', KEYS[3], exp, id)\n"
    "    redis.call('HSET', k, 'state', 1, 'lease_owner', ARGV[3],\n"
    "               'lease_expires_at', exp)\n"
    "    out[#out + 1] = id\n"
    "    out[#out + 1] = redis.call('HGET', k, 'payload')\n"
    "  end\n"
    "end\n"
    "return out\n",
    /* complete: ARGV owner, id... -> completions accepted */
    "local n = 0\n"
    "for i = 2, #ARGV do\n"
    "  local k = KEYS[4] .. ARGV[i]\n"
    "  if redis.call('HGET', k, 'lease_owner') == ARGV[1] then\n"
    "    redis.call('ZREM', KEYS[3], ARGV[i])\n"
    "    redis.call('HSET', k, 'state', 2, 'lease_owner', '')\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n",
    /* count (verification, untimed): {pending, claimed, completed} */
    "local seq = tonumber(redis.call('GET', KEYS[1]) or '0')\n"
    "local c = {0, 0, 0}\n"
    "for id = 1, seq do\n"
    "  local s = redis.call('HGET', KEYS[4] .. id, 'state')\n"
    "  if s then c[tonumber(s) + 1] = c[tonumber(s) + 1] + 1 end\n"
    "end\n"
    "return c\n",
};

/*
** Connect to zUrl: redis://[user[:password]@]host[:port][/db] or
** unix:/path[?db=N].  NULL on failure, with *pzErr (sqlite3_free).
*/
static redisContext *redisOpenUrl(const char *zUrl, char **pzErr) {
  redisContext *rc = 0;
  redisReply *r;
  char zHost[256] = "", zUser[128] = "", zPass[256] = "";
  int iPort = 6379, iDb = 0;
  const char *z, *zEnd, *q;
  *pzErr = 0;
  if (strncmp(zUrl, "unix:", 5) == 0) {
    z = zUrl + 5;
    zEnd = z + strcspn(z, "?");
    if ((q = strstr(zEnd, "db=")) != 0) iDb = atoi(q + 3);
    snprintf(zHost, sizeof(zHost), "%.*s", (int)(zEnd - z), z);
    rc = redisConnectUnix(zHost);
  } else if (strncmp(zUrl, "redis://", 8) == 0) {
    const char *zAt = 0;
    z = zUrl + 8;
    zEnd = z + strcspn(z, "/?");
    for (q = z; q < zEnd; q++)
      if (*q == '@') zAt = q;
    if (zAt) {
      const char *zColon = memchr(z, ':', (size_t)(zAt - z));
      if (zColon) {
        snprintf(zUser, sizeof(zUser), "%.*s", (int)(zColon - z), z);
        snprintf(zPass, sizeof(zPass), "%.*s", (int)(zAt - zColon - 1),
                 zColon + 1);
      }
      z = zAt + 1;
    }
    q = z + strcspn(z, ":/?");
    snprintf(zHost, sizeof(zHost), "%.*s", (int)(q - z), z);
    if (*q == ':') iPort = atoi(q + 1);
    if (*zEnd == '/') iDb = atoi(zEnd + 1);
    rc = redisConnect(zHost, iPort);
  } else {
    *pzErr = sqlite3_mprintf("expected redis://... or unix:/...");
    return 0;
  }
  if (!rc || rc->err) {
    *pzErr = sqlite3_mprintf("cannot connect to %s: %s", zHost,
                             rc ? rc->errstr : "out of memory");
    redisFree(rc);
    return 0;
  }
  if (zPass[0]) {
    const char *az[3] = {"AUTH", zUser[0] ? zUser : zPass, zPass};
    r = redisCommandArgv(rc, zUser[0] ? 3 : 2, az, 0);
    if (!r || r->type == REDIS_REPLY_ERROR)
      *pzErr = sqlite3_mprintf("AUTH: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
  }
  if (!*pzErr && iDb) {
    r = redisCommand(rc, "SELECT %d", iDb);
    if (!r || r->type == REDIS_REPLY_ERROR)
      *pzErr = sqlite3_mprintf("SELECT: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
  }
  if (*pzErr) {
    redisFree(rc);
    rc = 0;
  }
  return rc;
}

static int rawRedisOpen(Conn *c) {
  char *zErr = 0;
  int i;
  c->rc = redisOpenUrl(zRedisUrl, &zErr);
  if (!c->rc) {
    connErr(c, "redis: %s", zErr);
    sqlite3_free(zErr);
    return -1;
  }
  snprintf(c->azKey[0], sizeof(c->azKey[0]), "{%s}:seq", c->s->zNs);
  snprintf(c->azKey[1], sizeof(c->azKey[1]), "{%s}:ready", c->s->zNs);
  snprintf(c->azKey[2], sizeof(c->azKey[2]), "{%s}:leased", c->s->zNs);
  snprintf(c->azKey[3], sizeof(c->azKey[3]), "{%s}:t:", c->s->zNs);
  for (i = 0; i < 4; i++) {
    const char *az[3] = {"SCRIPT", "LOAD", azLua[i]};
    redisReply *r = redisCommandArgv(c->rc, 3, az, 0);
    if (!r || r->type != REDIS_REPLY_STRING || r->len != 40) {
      connErr(c, "redis: SCRIPT LOAD: %s",
              !r                             ? c->rc->errstr
              : r->type == REDIS_REPLY_ERROR ? r->str
                                             : "unexpected reply");
      freeReplyObject(r);
      return -1;
    }
    memcpy(c->azSha[i], r->str, 41);
    freeReplyObject(r);
  }
  return 0;
}

static void rawRedisClose(Conn *c) {
  redisFree(c->rc);
  c->rc = 0;
}

/*
** EVALSHA script iScript with the four keys and nArg arguments (az, an):
** the reply, or NULL (c->zErr).  The caller frees it.
*/
static redisReply *redisEval(Conn *c, int iScript, int nArg, const char **az,
                             const size_t *an) {
  const char *azCmd[8 + 2 * MAX_BATCH + 4];
  size_t anCmd[8 + 2 * MAX_BATCH + 4];
  const char **pz = azCmd;
  size_t *pn = anCmd;
  redisReply *r;
  int i, n = 0;
  if (nArg + 7 > (int)(sizeof(azCmd) / sizeof(azCmd[0]))) {
    pz = malloc(sizeof(char *) * (size_t)(nArg + 7));
    pn = malloc(sizeof(size_t) * (size_t)(nArg + 7));
    if (!pz || !pn) fatal("out of memory");
  }
  pz[n] = "EVALSHA", pn[n++] = 7;
  pz[n] = c->azSha[iScript], pn[n++] = 40;
  pz[n] = "4", pn[n++] = 1;
  for (i = 0; i < 4; i++) pz[n] = c->azKey[i], pn[n++] = strlen(c->azKey[i]);
  for (i = 0; i < nArg; i++)
    pz[n] = az[i], pn[n++] = an ? an[i] : strlen(az[i]);
  r = redisCommandArgv(c->rc, n, pz, pn);
  if (pz != azCmd) {
    free(pz);
    free(pn);
  }
  if (!r || r->type == REDIS_REPLY_ERROR) {
    connErr(c, "redis: EVALSHA: %s", r ? r->str : c->rc->errstr);
    freeReplyObject(r);
    if (!r) fatal("redis: connection lost: %s", c->zErr);
    return 0;
  }
  return r;
}

static int rawRedisEnqueue(Conn *c, int iFirst, int n) {
  char zNow[24], (*azPri)[4], (*azPay)[20];
  const char **az;
  redisReply *r;
  int i, rc = 0;
  az = malloc(sizeof(char *) * (size_t)(2 + 2 * n));
  azPri = malloc(sizeof(*azPri) * (size_t)n);
  azPay = malloc(sizeof(*azPay) * (size_t)n);
  if (!az || !azPri || !azPay) fatal("out of memory");
  snprintf(zNow, sizeof(zNow), "%lld", now_ms());
  az[0] = QUEUE;
  az[1] = zNow;
  for (i = 0; i < n; i++) {
    snprintf(azPri[i], sizeof(azPri[i]), "%d", taskPriority(iFirst + i));
    taskPayload(iFirst + i, azPay[i]);
    az[2 + 2 * i] = azPri[i];
    az[3 + 2 * i] = azPay[i];
  }
  r = redisEval(c, 0, 2 + 2 * n, az, 0);
  if (!r) rc = -1;
  freeReplyObject(r);
  free(az);
  free(azPri);
  free(azPay);
  return rc;
}

static int rawRedisClaim(Conn *c, const char *zW, int nLeaseMs, int n, Job *a) {
  char zNow[24], zLease[16], zN[16];
  const char *az[4];
  redisReply *r;
  size_t i;
  int k = 0;
  snprintf(zNow, sizeof(zNow), "%lld", now_ms());
  snprintf(zLease, sizeof(zLease), "%d", nLeaseMs);
  snprintf(zN, sizeof(zN), "%d", n);
  az[0] = zNow;
  az[1] = zLease;
  az[2] = zW;
  az[3] = zN;
  r = redisEval(c, 1, 4, az, 0);
  if (!r) return -1;
  if (r->type != REDIS_REPLY_ARRAY) {
    connErr(c, "redis: claim: unexpected reply");
    freeReplyObject(r);
    return -1;
  }
  for (i = 0; i + 1 < r->elements && k < n; i += 2) {
    a[k++].iId = atoll(r->element[i]->str);
  }
  freeReplyObject(r);
  return k;
}

static int rawRedisComplete(Conn *c, const char *zW, const Job *a, int n) {
  const char *az[1 + MAX_BATCH];
  char azId[MAX_BATCH][24];
  redisReply *r;
  int i, nOk;
  if (n > MAX_BATCH) fatal("redis: complete: batch of %d", n);
  az[0] = zW;
  for (i = 0; i < n; i++) {
    snprintf(azId[i], sizeof(azId[i]), "%lld", a[i].iId);
    az[1 + i] = azId[i];
  }
  r = redisEval(c, 2, 1 + n, az, 0);
  if (!r) return -1;
  nOk = r->type == REDIS_REPLY_INTEGER ? (int)r->integer : -1;
  if (nOk < 0) connErr(c, "redis: complete: unexpected reply");
  freeReplyObject(r);
  return nOk;
}

static long long rawRedisCount(Conn *c, int iState, long long *pnOnce) {
  redisReply *r = redisEval(c, 3, 0, 0, 0);
  long long n = -1;
  if (!r) return -1;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
      r->element[iState]->type == REDIS_REPLY_INTEGER) {
    n = r->element[iState]->integer;
  } else {
    connErr(c, "redis: count: unexpected reply");
  }
  freeReplyObject(r);
  *pnOnce = n;
  return n;
}

static const Impl rawRedis = {rawRedisOpen,  rawRedisClose,    rawRedisEnqueue,
                              rawRedisClaim, rawRedisComplete, 0,
                              rawRedisCount};

/* UNLINK every key matching zMatch: 0, or an error message. */
static const char *redisDeleteKeys(const char *zMatch) {
  static char zErr[200];
  char zCursor[32] = "0";
  do {
    const char *az[6] = {"SCAN", zCursor, "MATCH", zMatch, "COUNT", "2000"};
    redisReply *r = redisCommandArgv(rdAdmin, 6, az, 0), *r2 = 0;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
      snprintf(zErr, sizeof(zErr), "SCAN: %s",
               !r                             ? rdAdmin->errstr
               : r->type == REDIS_REPLY_ERROR ? r->str
                                              : "unexpected reply");
      freeReplyObject(r);
      return zErr;
    }
    snprintf(zCursor, sizeof(zCursor), "%s", r->element[0]->str);
    if (r->element[1]->elements > 0) {
      size_t i, n = r->element[1]->elements;
      const char **azK = malloc(sizeof(char *) * (n + 1));
      size_t *anK = malloc(sizeof(size_t) * (n + 1));
      if (!azK || !anK) fatal("out of memory");
      azK[0] = "UNLINK";
      anK[0] = 6;
      for (i = 0; i < n; i++) {
        azK[i + 1] = r->element[1]->element[i]->str;
        anK[i + 1] = r->element[1]->element[i]->len;
      }
      r2 = redisCommandArgv(rdAdmin, (int)n + 1, azK, anK);
      free(azK);
      free(anK);
      if (!r2 || r2->type == REDIS_REPLY_ERROR) {
        snprintf(zErr, sizeof(zErr), "UNLINK: %s",
                 r2 ? r2->str : rdAdmin->errstr);
        freeReplyObject(r2);
        freeReplyObject(r);
        return zErr;
      }
      freeReplyObject(r2);
    }
    freeReplyObject(r);
  } while (strcmp(zCursor, "0") != 0);
  return 0;
}

#endif /* BENCH_NO_HIREDIS */

/* ------------------------------------------------------- namespaces */

static void connOpen(Side *s, Conn *c) {
  memset(c, 0, sizeof(*c));
  c->s = s;
  if (s->p->xOpen(c))
    fatal("%s %s: %s", azStore[s->eStore], s->zLabel, c->zErr);
}

static void connClose(Conn *c) {
  if (c->s) c->s->p->xClose(c);
  c->s = 0;
}

/* Give side s a fresh, empty namespace for a run (the table is made by the
** first xOpen, or here). */
static void nsCreate(Side *s) {
  static const char *const azSuffix[] = {"", "-wal", "-shm"};
  int iRun = ++iRunSeq;
  size_t i;
  switch (s->eStore) {
  case ST_LOCAL:
    snprintf(s->zNs, sizeof(s->zNs), "%s/%s-%d.db", zDir, s->bSv ? "sv" : "raw",
             iRun);
    for (i = 0; i < 3; i++) {
      char *z = sqlite3_mprintf("%s%s", s->zNs, azSuffix[i]);
      unlink(z);
      sqlite3_free(z);
    }
    break;
  case ST_PG:
    snprintf(s->zNs, sizeof(s->zNs), "bq%d_%d_%s", (int)getpid(), iRun,
             s->bSv ? "sv" : "raw");
    if (!s->bSv) {
      char z[800];
      snprintf(z, sizeof(z),
               "CREATE SCHEMA \"%s\";"
               "CREATE TABLE \"%s\".tasks(id bigserial PRIMARY KEY, "
               "queue text NOT NULL, state smallint NOT NULL DEFAULT 0, "
               "priority int NOT NULL DEFAULT 0, run_at bigint NOT NULL, "
               "lease_owner text, lease_expires_at bigint, payload jsonb);"
               "CREATE INDEX tasks_ready ON \"%s\".tasks(queue, priority, "
               "run_at) WHERE state = 0",
               s->zNs, s->zNs, s->zNs);
      pgAdminExec(z);
    }
    break;
  case ST_REDIS:
    snprintf(s->zNs, sizeof(s->zNs), "bq%d_%d_%s", (int)getpid(), iRun,
             s->bSv ? "sv" : "raw");
    break;
  }
  s->bLive = 1;
}

/* Remove side s's namespace (unless --keep); a failure is a warning. */
static void nsDrop(Side *s) {
  static const char *const azSuffix[] = {"", "-wal", "-shm"};
  size_t i;
  if (!s->bLive) return;
  s->bLive = 0;
  if (g.bKeep) {
    printf("kept %s %s namespace %s\n", azStore[s->eStore], s->zLabel, s->zNs);
    return;
  }
  switch (s->eStore) {
  case ST_LOCAL:
    for (i = 0; i < 3; i++) {
      char *z = sqlite3_mprintf("%s%s", s->zNs, azSuffix[i]);
      unlink(z);
      sqlite3_free(z);
    }
    break;
  case ST_PG: {
    char z[300];
    PGresult *r;
    snprintf(z, sizeof(z), "DROP SCHEMA IF EXISTS \"%s\" CASCADE", s->zNs);
    r = PQexec(pgAdmin, z);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
      fprintf(stderr, "bench-queue: WARNING: %s: %s\n", z, pgMsg(pgAdmin, r));
    PQclear(r);
    break;
  }
  case ST_REDIS: {
#ifndef BENCH_NO_HIREDIS
    char z[200];
    const char *zErr;
    /* statevtab's keys start with {<prefix>}, the prefix being "<ns>:";
    ** the raw side's with {<ns>} */
    snprintf(z, sizeof(z), s->bSv ? "{%s:}*" : "{%s}*", s->zNs);
    if ((zErr = redisDeleteKeys(z)) != 0)
      fprintf(stderr, "bench-queue: WARNING: deleting %s: %s\n", z, zErr);
#endif
    break;
  }
  }
}

static void cleanupAtExit(void) {
  int i, j;
  if (bChild) return;
  for (i = 0; i < NSTORE; i++)
    for (j = 0; j < 2; j++)
      if (aSide[i][j].bLive && (i != ST_PG || pgAdmin) &&
          (i != ST_REDIS || REDIS_ADMIN_UP))
        nsDrop(&aSide[i][j]);
  if (zDir && !g.bKeep) rmdir(zDir);
}

/*
** statevtab on PostgreSQL: fill tasks iFirst..iFirst+n-1 on the server
** (untimed; through the store it runs at about 2,000 rows/s).  One task is
** INSERTed through statevtab as a template (c is the side's connection);
** its row is copied with another id (36 bytes, ordered like the task
** indexes), priority and payload, then deleted.
*/
static void svPgFill(Conn *c, int iFirst, int n) {
  char zTpl[64], *zCols = 0, *zSel = 0, *zSql;
  PGresult *r;
  int i, iDone;
  snprintf(zTpl, sizeof(zTpl), "bench-template-%d", iFirst);
  zSql = sqlite3_mprintf("INSERT INTO tasks(id, queue, name, payload, "
                         "priority) VALUES(%Q, '" QUEUE "', 'job', '{}', 0)",
                         zTpl);
  if (sqlExecText(c, zSql)) fatal("postgresql statevtab fill: %s", c->zErr);
  sqlite3_free(zSql);
  /* the columns of the store's table, in order, but _rid */
  zSql = sqlite3_mprintf("SELECT column_name FROM information_schema.columns "
                         "WHERE table_schema = '%s' AND table_name = 'tasks' "
                         "AND column_name <> '_rid' ORDER BY ordinal_position",
                         c->s->zNs);
  r = PQexec(pgAdmin, zSql);
  sqlite3_free(zSql);
  if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) == 0)
    fatal("postgresql: columns of %s.tasks: %s", c->s->zNs, pgMsg(pgAdmin, r));
  for (i = 0; i < PQntuples(r); i++) {
    const char *zCol = PQgetvalue(r, i, 0);
    /* (row "partition": "t" and the id's last digit, i % 10) */
    const char *zVal = strcmp(zCol, "id") == 0         ? "u.id"
                       : strcmp(zCol, "priority") == 0 ? "u.p"
                       : strcmp(zCol, "payload") == 0  ? "u.d"
                       : strcmp(zCol, "partition_key") == 0 && g.bPartition
                           ? "'t' || right(u.id, 1)"
                           : 0;
    char *z1 = sqlite3_mprintf("%z%s\"%w\"", zCols, i ? ", " : "", zCol);
    char *z2 = zVal
                   ? sqlite3_mprintf("%z%s%s", zSel, i ? ", " : "", zVal)
                   : sqlite3_mprintf("%z%st.\"%w\"", zSel, i ? ", " : "", zCol);
    zCols = z1;
    zSel = z2;
  }
  PQclear(r);
  for (iDone = 0; iDone < n;) {
    int m = n - iDone > 10000 ? 10000 : n - iDone;
    sqlite3_str *sId = sqlite3_str_new(0), *sP = sqlite3_str_new(0),
                *sD = sqlite3_str_new(0);
    char *zId, *zP, *zD, zPay[20];
    const char *az[4];
    for (i = iFirst + iDone; i < iFirst + iDone + m; i++) {
      const char *zSep = i > iFirst + iDone ? "," : "{";
      taskPayload(i, zPay);
      /* ids after every real one (UUIDv7s start with the time) */
      sqlite3_str_appendf(sId, "%sffffffff-ffff-7fff-bfff-%012d", zSep, i);
      sqlite3_str_appendf(sP, "%s%d", zSep, taskPriority(i));
      sqlite3_str_appendf(sD, "%s\"{\\\"n\\\":\\\"%08d\\\"}\"", zSep,
                          i % 100000000);
    }
    sqlite3_str_appendchar(sId, 1, '}');
    sqlite3_str_appendchar(sP, 1, '}');
    sqlite3_str_appendchar(sD, 1, '}');
    zId = sqlite3_str_finish(sId);
    zP = sqlite3_str_finish(sP);
    zD = sqlite3_str_finish(sD);
    zSql = sqlite3_mprintf(
        "INSERT INTO \"%w\".tasks(%s) SELECT %s FROM \"%w\".tasks t, "
        "unnest($1::text[], $2::bigint[], $3::text[]) AS u(id, p, d) "
        "WHERE t.id = $4",
        c->s->zNs, zCols, zSel, c->s->zNs);
    /* $1 ids, $2 priorities, $3 payloads, $4 the template's id */
    az[0] = zId;
    az[1] = zP;
    az[2] = zD;
    az[3] = zTpl;
    r = PQexecParams(pgAdmin, zSql, 4, 0, az, 0, 0, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK || atoi(PQcmdTuples(r)) != m) {
      fatal("postgresql statevtab fill: %s", pgMsg(pgAdmin, r));
    }
    PQclear(r);
    sqlite3_free(zSql);
    sqlite3_free(zId);
    sqlite3_free(zP);
    sqlite3_free(zD);
    iDone += m;
  }
  sqlite3_free(zCols);
  sqlite3_free(zSel);
  zSql = sqlite3_mprintf("DELETE FROM \"%w\".tasks WHERE id = '%s'", c->s->zNs,
                         zTpl);
  pgAdminExec(zSql);
  sqlite3_free(zSql);
}

/* Queue tasks iFirst..iFirst+n-1 on side s (untimed), through c. */
/*
** The "deps" row's statevtab fill: tasks iFirst..iFirst+n-1 in pairs, each
** of the second half ('b<i>') waiting for its partner of the first
** ('a<i - n/2>'), FILL_CHUNK per transaction, the first half first.
*/
static void svFillDeps(Side *s, Conn *c, int iFirst, int n) {
  int i, h = n / 2;
  for (i = 0; i < n; i += FILL_CHUNK) {
    int m = n - i > FILL_CHUNK ? FILL_CHUNK : n - i;
    char *z = sqlite3_mprintf(
        "BEGIN; WITH RECURSIVE c(v) AS (SELECT %d UNION ALL SELECT v + 1 "
        "FROM c WHERE v < %d) INSERT INTO tasks(id, queue, name, payload, "
        "priority, depends_on) SELECT CASE WHEN v < %d THEN 'a' ELSE 'b' END "
        "|| v, '" QUEUE "', 'job', printf('{\"n\":\"%%08d\"}', v), "
        "v %% 10, CASE WHEN v >= %d THEN json_array('a' || (v - %d)) END "
        "FROM c; COMMIT",
        iFirst + i, iFirst + i + m - 1, iFirst + h, iFirst + h, h);
    if (!z || sqlExecText(c, z))
      fatal("%s %s fill: %s", azStore[s->eStore], s->zLabel, c->zErr);
    sqlite3_free(z);
  }
}

static void fill(Side *s, Conn *c, int iFirst, int n) {
  int i;
  if (g.bDeps && s->bSv) {
    svFillDeps(s, c, iFirst, n);
  } else if (s->eStore == ST_PG && s->bSv) {
    svPgFill(c, iFirst, n);
  } else {
    for (i = 0; i < n; i += FILL_CHUNK) {
      int m = n - i > FILL_CHUNK ? FILL_CHUNK : n - i;
      if (s->p->xEnqueue(c, iFirst + i, m))
        fatal("%s %s fill: %s", azStore[s->eStore], s->zLabel, c->zErr);
    }
  }
  if (s->eStore == ST_PG) {
    char z[200];
    snprintf(z, sizeof(z), "ANALYZE \"%s\".tasks", s->zNs);
    pgAdminExec(z);
  }
}

/* ---------------------------------------------------------- workers */

enum { W_ENQUEUE, W_CYCLE, W_FUSED };

/* What each worker of a run does. */
typedef struct Work {
  int eKind;  /* W_* */
  int nBatch; /* enqueue: tasks per transaction; claims: n */
  int nTask;  /* enqueue: tasks, from 0; claims: tasks per worker, 0 =
              ** until a claim finds none */
} Work;

static void statErr(Stat *st, Conn *c) {
  st->nErr++;
  if (!st->zErr[0]) snprintf(st->zErr, sizeof(st->zErr), "%.199s", c->zErr);
}

/* Call X until it returns >= 0, at most MAX_TRY times; the result, or -1
** (st->bGaveUp set). */
#define RETRY(st, c, X)                                                        \
  ({                                                                           \
    int rc_, n_ = 0;                                                           \
    while ((rc_ = (X)) < 0) {                                                  \
      statErr(st, c);                                                          \
      if (++n_ >= MAX_TRY) {                                                   \
        (st)->bGaveUp = 1;                                                     \
        break;                                                                 \
      }                                                                        \
    }                                                                          \
    rc_;                                                                       \
  })

/* The timed loop of one worker, zW its name (lease owner). */
static void workRun(Conn *c, const Work *w, const char *zW, Stat *st) {
  const Impl *p = c->s->p;
  Job aA[MAX_BATCH], aB[MAX_BATCH], *aDone = aA, *aNew = aB, *aSwap;
  int i, n, nDone = 0, nAcc;
  switch (w->eKind) {
  case W_ENQUEUE:
    for (i = 0; i < w->nTask; i += w->nBatch) {
      int m = w->nTask - i > w->nBatch ? w->nBatch : w->nTask - i;
      if (RETRY(st, c, p->xEnqueue(c, i, m)) < 0) break;
      st->nJobs += m;
      st->nCall++;
    }
    break;
  case W_CYCLE:
    for (;;) {
      int nWant = w->nBatch;
      if (w->nTask && w->nTask - st->nJobs < nWant)
        nWant = (int)(w->nTask - st->nJobs);
      if (nWant <= 0) break;
      n = RETRY(st, c, p->xClaim(c, zW, LEASE_MS, nWant, aNew));
      if (n < 0) break;
      st->nCall++;
      if (n == 0) break;
      st->nJobs += n;
      nAcc = RETRY(st, c, p->xComplete(c, zW, aNew, n));
      if (nAcc < 0) break;
      st->nAccepted += nAcc;
    }
    break;
  case W_FUSED:
    for (;;) {
      nAcc = 0;
      n = RETRY(st, c, p->xFused(c, zW, aDone, nDone, w->nBatch, aNew, &nAcc));
      if (n < 0) break;
      st->nCall++;
      st->nAccepted += nAcc;
      st->nJobs += n;
      aSwap = aDone;
      aDone = aNew;
      aNew = aSwap;
      nDone = n;
      if (n == 0) break;
    }
    break;
  }
  st->tEnd = now_sec();
}

/*
** Fork nProc workers doing w on side s (the parent holds no connection of
** the side), start them together, gather their Stat into aStat and return
** the seconds from the start to the last one's end.
*/
static double runWorkers(Side *s, const Work *w, int nProc, Stat *aStat) {
  int aReady[2], aGo[2], aRes[2];
  pid_t aPid[MAX_PROC];
  double t0, tEnd = 0;
  char ch;
  int i, nReady = 0, nBad = 0;
  if (pipe(aReady) || pipe(aGo) || pipe(aRes))
    fatal("pipe: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  for (i = 0; i < nProc; i++) {
    pid_t pid = fork();
    if (pid < 0) fatal("fork: %s", strerror(errno));
    if (pid == 0) {
      Conn c;
      Stat st;
      Job aWarm[1];
      char zW[16];
      bChild = 1;
      close(aReady[0]);
      close(aGo[1]);
      close(aRes[0]);
      memset(&st, 0, sizeof(st));
      snprintf(zW, sizeof(zW), "w%d", i);
      connOpen(s, &c);
      /* warm: the table connected, the store's connection and scripts
      ** ready, as in a worker that has been running for a while */
      if (w->eKind != W_ENQUEUE &&
          s->p->xClaim(&c, "warm-up", LEASE_MS, 0, aWarm) < 0) {
        fatal("%s %s warm-up: %s", azStore[s->eStore], s->zLabel, c.zErr);
      }
      writeAll(aReady[1], "r", 1);
      close(aReady[1]);
      (void)readAll(aGo[0], &ch, 1); /* EOF: go */
      workRun(&c, w, zW, &st);
      connClose(&c);
      writeAll(aRes[1], &st, sizeof(st));
      _exit(0);
    }
    aPid[i] = pid;
  }
  close(aReady[1]);
  close(aGo[0]);
  close(aRes[1]);
  while (nReady < nProc && readAll(aReady[0], &ch, 1) == 1) nReady++;
  close(aReady[0]);
  t0 = now_sec();
  close(aGo[1]);
  for (i = 0; i < nReady; i++) {
    if (readAll(aRes[0], &aStat[i], sizeof(Stat)) != sizeof(Stat)) break;
    if (aStat[i].tEnd > tEnd) tEnd = aStat[i].tEnd;
  }
  close(aRes[0]);
  for (i = 0; i < nProc; i++) {
    int st = 0;
    while (waitpid(aPid[i], &st, 0) < 0 && errno == EINTR) {
    }
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) nBad++;
  }
  if (nReady < nProc || nBad) {
    fatal("%s %s: %d of %d workers failed", azStore[s->eStore], s->zLabel,
          nBad ? nBad : nProc - nReady, nProc);
  }
  return tEnd - t0;
}

/* ------------------------------------------------------------ rows */

enum {
  R_ENQ,
  R_CYCLE,
  R_FUSED,
  R_BACKLOG,
  R_INFLIGHT,
  R_BYTES,
  R_SCHED,
  R_DEPS,
  R_PART
};

typedef struct Row {
  const char *zName; /* for --only */
  const char *zHelp;
  int eKind;          /* R_* */
  int nBatch;         /* tasks per transaction, or n */
  int bMulti;         /* --procs processes, else 1 */
  int iBase;          /* R_FUSED: the raw two-call row; backlog/inflight: the
                      ** empty-queue row; else -1 */
  int bLocal;         /* local store only */
  const char *zSvOpt; /* options of statevtab's claims, or NULL */
} Row;

static const Row aRow[] = {
    {"enqueue-1", "enqueue N tasks, 1 per transaction", R_ENQ, 1, 0, -1, 0, 0},
    {"enqueue-100", "enqueue N tasks, 100 per transaction", R_ENQ, 100, 0, -1,
     0, 0},
    {"claim-n1", "claim 1 + complete it, 1 process, until empty", R_CYCLE, 1, 0,
     -1, 0, 0},
    {"claim-n1-4p", "the same in 4 processes (--procs)", R_CYCLE, 1, 1, -1, 0,
     0},
    {"claim-n100", "claim 100 + complete the 100 in one batch", R_CYCLE, 100, 0,
     -1, 0, 0},
    {"fused-n1",
     "statevtab: state_claim completing the previous task "
     "(raw: claim-n1's two calls)",
     R_FUSED, 1, 0, 2, 0, 0},
    {"fused-n100",
     "statevtab: state_claim completing the previous 100 "
     "(raw: claim-n100's two calls)",
     R_FUSED, 100, 0, 4, 0, 0},
    {"backlog", "claim+complete N with n=1 out of --backlog queued tasks",
     R_BACKLOG, 1, 0, 2, 0, 0},
    {"inflight",
     "claim+complete N with n=1 next to --inflight unexpired "
     "leases",
     R_INFLIGHT, 1, 0, 2, 0, 0},
    {"bytes", "bytes per task on disk after N tasks (local)", R_BYTES, 100, 0,
     -1, 1, 0},
    {"rate-n1", "claim-n1 with a rate limit (never reached) in play", R_CYCLE,
     1, 0, 2, 0, "{\"rates\":{\"queue:" QUEUE "\":\"1000000000/1s\"}}"},
    {"schedule",
     "claim-n1 with a '* * * * * *' schedule of another queue in play "
     "(statevtab)",
     R_SCHED, 1, 0, 2, 0, 0},
    {"deps",
     "claim-n1 with half the tasks waiting (depends_on) for the other half "
     "(statevtab)",
     R_DEPS, 1, 0, 2, 0, 0},
    {"partition",
     "claim-n1 with the tasks in " PARTS_S " partitions (partition_key) "
     "(statevtab)",
     R_PART, 1, 0, 2, 0, 0},
};
#define NROW (int)(sizeof(aRow) / sizeof(aRow[0]))

/* The outcome of one row on one store. */
typedef struct Result {
  int bRun;           /* measured */
  const char *zSkip;  /* not measured, why */
  double aRate[2];    /* best jobs/s (bytes row: bytes/task), [0] raw */
  int abRun[2];       /* side measured */
  int nVerifyFail;    /* runs that failed verification */
  long long anErr[2]; /* errors retried */
  char azErr[2][200]; /* the first one */
  char zVerify[400];  /* the first verification failure */
} Result;

static Result aRes[NSTORE][NROW];

/* Tasks per run on store e. */
static int storeTasks(int e) {
  if (e == ST_PG) return g.nPgTask;
  if (e == ST_REDIS) return g.nRedisTask;
  return g.nTask;
}

/* 1 when zList (comma-separated, NULL = all) holds zName. */
static int inList(const char *zList, const char *zName) {
  size_t n = strlen(zName);
  if (!zList) return 1;
  while (*zList) {
    size_t m = strcspn(zList, ",");
    if (m == n && strncmp(zList, zName, n) == 0) return 1;
    zList += m;
    if (*zList == ',') zList++;
  }
  return 0;
}

/*
** One run of row r on side s: the rate (jobs/s, or bytes/task), with what
** the verification found in res.
*/
static double runOnce(Side *s, const Row *r, int eKind, Result *res) {
  const Impl *p = s->p;
  int nTask = storeTasks(s->eStore), nFill = 0, nHold = 0, nProc = 1, i;
  long long nEmpty = 0, nExpect, nOnce = 0, n;
  Stat aStat[MAX_PROC];
  Work w;
  Conn c;
  double t;
  long long nJobs = 0, nAcc = 0;
  int bGaveUp = 0, iSide = s->bSv;
  const char *zFirstErr = 0;
  char zWhy[300] = "";

  memset(aStat, 0, sizeof(aStat));
  memset(&w, 0, sizeof(w));
  g.bSchedule = eKind == R_SCHED; /* (svOpen reads it, in the workers too) */
  g.bDeps = eKind == R_DEPS;
  g.bPartition = eKind == R_PART; /* (svEnqueue and svPgFill read it) */
  nsCreate(s);
  connOpen(s, &c);
  if (eKind == R_BYTES) {
    nEmpty = sqlBytes(&c);
    for (i = 0; i < nTask; i += r->nBatch) {
      int m = nTask - i > r->nBatch ? r->nBatch : nTask - i;
      if (p->xEnqueue(&c, i, m))
        fatal("%s %s: enqueue: %s", azStore[s->eStore], s->zLabel, c.zErr);
    }
    n = sqlBytes(&c) - nEmpty;
    connClose(&c);
    nsDrop(s);
    return (double)n / nTask;
  }
  w.nBatch = r->nBatch;
  g.zSvOpt = r->zSvOpt;
  switch (eKind) {
  case R_ENQ:
    w.eKind = W_ENQUEUE;
    w.nTask = nTask;
    break;
  case R_CYCLE:
  case R_FUSED:
  case R_SCHED:
  case R_DEPS:
  case R_PART:
    w.eKind = eKind == R_FUSED ? W_FUSED : W_CYCLE;
    nFill = nTask;
    break;
  case R_BACKLOG:
    w.eKind = W_CYCLE;
    w.nTask = nTask; /* of the backlog */
    nFill = g.nBacklog > nTask ? g.nBacklog : nTask;
    break;
  case R_INFLIGHT:
    w.eKind = W_CYCLE;
    nHold = g.nInflight;
    nFill = nHold + nTask;
    break;
  }
  if (r->bMulti) nProc = g.nProc;
  if (nFill) fill(s, &c, 0, nFill);
  for (i = 0; i < nHold;) {
    Job *aJob = calloc(HOLD_CHUNK, sizeof(Job));
    int m = nHold - i > HOLD_CHUNK ? HOLD_CHUNK : nHold - i, k;
    if (!aJob) fatal("out of memory");
    k = p->xClaim(&c, "holder", HOLD_MS, m, aJob);
    free(aJob);
    if (k <= 0)
      fatal("%s %s: holding tasks: %s", azStore[s->eStore], s->zLabel,
            k < 0 ? c.zErr : "none claimed");
    i += k;
  }
  connClose(&c);
  /* the dirty pages of earlier runs (a WAL of a few hundred MB after 4
  ** processes) must not be written back during this one */
  sync();
  verbose("%s %s %s: filled %d, holding %d; %d worker(s)", azStore[s->eStore],
          s->zLabel, r->zName, nFill, nHold, nProc);

  t = runWorkers(s, &w, nProc, aStat);

  /* verification (untimed) */
  for (i = 0; i < nProc; i++) {
    nJobs += aStat[i].nJobs;
    nAcc += aStat[i].nAccepted;
    res->anErr[iSide] += aStat[i].nErr;
    bGaveUp |= aStat[i].bGaveUp;
    if (!zFirstErr && aStat[i].zErr[0]) zFirstErr = aStat[i].zErr;
  }
  if (zFirstErr && !res->azErr[iSide][0])
    snprintf(res->azErr[iSide], sizeof(res->azErr[iSide]), "%s", zFirstErr);
  connOpen(s, &c);
  nExpect = nTask;
  if (eKind == R_ENQ) {
    n = p->xCount(&c, S_PENDING, &nOnce);
    if (n != nExpect || nJobs != nExpect || bGaveUp) {
      snprintf(zWhy, sizeof(zWhy),
               "%lld pending tasks, %lld enqueued by the worker, expected "
               "%lld%s",
               n, nJobs, nExpect, bGaveUp ? "; the worker GAVE UP" : "");
    }
  } else {
    long long nHeld, nOnce2 = 0;
    n = p->xCount(&c, S_COMPLETED, &nOnce);
    nHeld = p->xCount(&c, S_CLAIMED, &nOnce2);
    if (n != nExpect || nOnce != nExpect || nJobs != nExpect ||
        nAcc != nExpect || nHeld != nHold || bGaveUp) {
      snprintf(zWhy, sizeof(zWhy),
               "%lld tasks completed (%lld claimed once), %lld claimed, "
               "expected %lld and %d claimed; workers: %lld claimed, %lld "
               "completions accepted%s%s%s",
               n, nOnce, nHeld, nExpect, nHold, nJobs, nAcc,
               bGaveUp ? "; a worker GAVE UP" : "",
               zFirstErr ? "; first error: " : "", zFirstErr ? zFirstErr : "");
    }
  }
  if (n < 0) snprintf(zWhy, sizeof(zWhy), "count: %s", c.zErr);
  connClose(&c);
  nsDrop(s);
  if (zWhy[0]) {
    res->nVerifyFail++;
    printf("VERIFY FAILED: %s %s %s: %s\n", azStore[s->eStore], r->zName,
           s->zLabel, zWhy);
    fflush(stdout);
    if (!res->zVerify[0])
      snprintf(res->zVerify, sizeof(res->zVerify), "%s: %s", s->zLabel, zWhy);
  }
  verbose("%s %s %s: %.3f s, %lld errors retried", azStore[s->eStore], r->zName,
          s->zLabel, t, (long long)aStat[0].nErr);
  return t > 0 ? (double)(eKind == R_ENQ ? nJobs : nExpect) / t : 0;
}

/* Measure row iRow on store e: -r runs per side, sides alternating. */
static void runRow(int e, int iRow) {
  const Row *r = &aRow[iRow];
  Result *res = &aRes[e][iRow];
  int rep, j;
  res->bRun = 1;
  for (rep = 0; rep < g.nRep; rep++) {
    for (j = 0; j < 2; j++) {
      int iSide = (rep + iRow + j) % 2; /* which side goes first alternates */
      int eKind = r->eKind;
      double v;
      if (eKind == R_FUSED && iSide == 0) {
        /* the raw side's base: its two-call cycle with the same n */
        const Result *b = &aRes[e][r->iBase];
        if (b->abRun[0]) {
          if (rep == 0) res->aRate[0] = b->aRate[0];
          res->abRun[0] = 1;
          continue;
        }
        eKind = R_CYCLE;
      }
      v = runOnce(&aSide[e][iSide], r, eKind, res);
      if (!res->abRun[iSide] || (r->eKind == R_BYTES ? v < res->aRate[iSide]
                                                     : v > res->aRate[iSide])) {
        res->aRate[iSide] = v;
      }
      res->abRun[iSide] = 1;
    }
  }
}

/* ------------------------------------------------------------ report */

static void fmtNum(char *z, size_t n, double v) {
  if (v >= 1e6)
    snprintf(z, n, "%.2fM", v / 1e6);
  else if (v >= 1e4)
    snprintf(z, n, "%.1fk", v / 1e3);
  else
    snprintf(z, n, "%.0f", v);
}

/* The workload's label in the table, with the sizes of store e. */
static void rowLabel(int e, const Row *r, char *z, size_t n) {
  int nTask = storeTasks(e);
  switch (r->eKind) {
  case R_ENQ:
    snprintf(z, n, "enqueue %d, %d/txn", nTask, r->nBatch);
    break;
  case R_CYCLE:
    if (r->zSvOpt)
      snprintf(z, n, "claim+complete n=%d, rate limit", r->nBatch);
    else if (r->bMulti)
      snprintf(z, n, "claim+complete n=%d, %d procs", r->nBatch, g.nProc);
    else
      snprintf(z, n, "claim+complete n=%d", r->nBatch);
    break;
  case R_FUSED:
    snprintf(z, n, "fused claim n=%d", r->nBatch);
    break;
  case R_BACKLOG:
    snprintf(z, n, "n=1, %d in backlog",
             g.nBacklog > nTask ? g.nBacklog : nTask);
    break;
  case R_INFLIGHT:
    snprintf(z, n, "n=1, %d in flight", g.nInflight);
    break;
  case R_BYTES:
    snprintf(z, n, "bytes/task on disk");
    break;
  case R_SCHED:
    snprintf(z, n, "n=1, a schedule in play");
    break;
  case R_DEPS:
    snprintf(z, n, "n=1, dependencies in play");
    break;
  case R_PART:
    snprintf(z, n, "n=1, %d partitions", PARTS);
    break;
  }
}

/* Print the table; returns the number of rows that failed verification. */
static int report(const int *abStore, const char *const *azSkip) {
  int e, i, nBad = 0;
  printf("\n%-10s %-31s %10s %10s %7s  %s\n", "store", "workload (jobs/s)",
         "raw", "statevtab", "sv/raw", "notes");
  for (e = 0; e < NSTORE; e++) {
    if (!abStore[e]) {
      if (azSkip[e]) printf("%-10s skipped: %s\n", azStore[e], azSkip[e]);
      continue;
    }
    for (i = 0; i < NROW; i++) {
      const Row *r = &aRow[i];
      const Result *res = &aRes[e][i];
      char zLabel[64], zRaw[24] = "-", zSv[24] = "-", zRatio[16] = "-";
      char zNote[300] = "";
      size_t k = 0;
      if (!res->bRun && !res->zSkip) continue;
      rowLabel(e, r, zLabel, sizeof(zLabel));
      if (res->zSkip) {
        printf("%-10s %-31s skipped: %s\n", azStore[e], zLabel, res->zSkip);
        continue;
      }
      if (res->abRun[0]) fmtNum(zRaw, sizeof(zRaw), res->aRate[0]);
      if (res->abRun[1]) fmtNum(zSv, sizeof(zSv), res->aRate[1]);
      if (r->eKind == R_BYTES) {
        if (res->abRun[0])
          snprintf(zRaw, sizeof(zRaw), "%.0f B", res->aRate[0]);
        if (res->abRun[1]) snprintf(zSv, sizeof(zSv), "%.0f B", res->aRate[1]);
        if (res->aRate[1] > 0 && res->abRun[0])
          snprintf(zRatio, sizeof(zRatio), "%.2f",
                   res->aRate[0] / res->aRate[1]);
        k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                              "ratio = raw/sv bytes");
      } else if (res->abRun[0] && res->abRun[1] && res->aRate[0] > 0) {
        snprintf(zRatio, sizeof(zRatio), "%.2f", res->aRate[1] / res->aRate[0]);
      }
      if (r->eKind == R_FUSED)
        k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                              "raw = 2 calls, n=%d", r->nBatch);
      if (r->zSvOpt || r->eKind == R_SCHED || r->eKind == R_DEPS ||
          r->eKind == R_PART) {
        const Result *b = &aRes[e][r->iBase];
        if (b->abRun[1] && b->aRate[1] > 0) {
          k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                                "vs plain: sv %.2f",
                                res->aRate[1] / b->aRate[1]);
        } else {
          k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                                "vs plain: needs claim-n1");
        }
      }
      if ((r->eKind == R_BACKLOG || r->eKind == R_INFLIGHT)) {
        const Result *b = &aRes[e][r->iBase];
        if (b->abRun[0] && b->abRun[1] && b->aRate[0] > 0 && b->aRate[1] > 0) {
          k += (size_t)snprintf(
              zNote + k, sizeof(zNote) - k, "vs empty: raw %.2f, sv %.2f",
              res->aRate[0] / b->aRate[0], res->aRate[1] / b->aRate[1]);
        } else {
          k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                                "vs empty: needs claim-n1");
        }
      }
      if (res->anErr[0] || res->anErr[1])
        k += (size_t)snprintf(zNote + k, sizeof(zNote) - k,
                              "%serrors retried: raw %lld, sv %lld",
                              k ? "; " : "", res->anErr[0], res->anErr[1]);
      if (res->nVerifyFail) {
        k += (size_t)snprintf(zNote + k, sizeof(zNote) - k, "%sVERIFY FAILED",
                              k ? "; " : "");
        nBad++;
      }
      printf("%-10s %-31s %10s %10s %7s%s%s\n", azStore[e], zLabel, zRaw, zSv,
             zRatio, zNote[0] ? "  " : "", zNote);
    }
  }
  printf("sv/raw = statevtab jobs/s / raw jobs/s: 1.00 = as fast as the raw "
         "program, higher is better\n"
         "jobs/s = tasks enqueued, or claimed and completed, per second from "
         "the start to\n"
         "the last worker's end; best of %d run%s per side\n",
         g.nRep, g.nRep > 1 ? "s" : "");
  for (e = 0; e < NSTORE; e++) {
    for (i = 0; i < NROW; i++) {
      const Result *res = &aRes[e][i];
      int j;
      for (j = 0; j < 2; j++) {
        if (res->azErr[j][0])
          printf("first error retried, %s %s %s: %s\n", azStore[e],
                 aRow[i].zName, j ? "statevtab" : "raw", res->azErr[j]);
      }
    }
  }
  if (nBad)
    printf("WARNING: %d row(s) failed verification (see VERIFY FAILED "
           "above)\n",
           nBad);
  return nBad;
}

/* ------------------------------------------------------------- main */

static void usage(FILE *f) {
  int i;
  fprintf(f,
          "usage: bench-queue [options]   (test/bench/run queue [options])\n"
          "  -e, --ext PATH   the extension (default $STATEVTAB_EXT, else "
          "./statevtab.so)\n"
          "  -n N             tasks per run (default 20000)\n"
          "  --pg-n N         tasks per run on PostgreSQL (default -n)\n"
          "  --redis-n N      tasks per run on Redis (default min(-n, 2000): "
          "appendfsync\n"
          "                   always makes every write wait for an fsync)\n"
          "  --backlog B      tasks queued in the backlog row (default "
          "200000)\n"
          "  --inflight I     unexpired leases in the inflight row (default "
          "20000)\n"
          "  --procs P        processes of claim-n1-4p (default 4)\n"
          "  -r R             runs per side, the best counts (default 1)\n"
          "  --stores LIST    local,pg,redis (default all three; pg and redis "
          "need\n"
          "                   " PG_URL_ENV " / " REDIS_URL_ENV ")\n"
          "  --only LIST      only these workloads (below)\n"
          "  --sv-complete M  statevtab's batch completion: json "
          "(state_complete(tasks,\n"
          "                   '[{\"id\":..,\"token\":..}]'), default) or "
          "claim (state_claim\n"
          "                   n=0 with the complete option)\n"
          "  --quick          small sizes: -n 1000 --redis-n 300 --backlog "
          "5000\n"
          "                   --inflight 1000\n"
          "  --keep           keep the databases, schemas and keys\n"
          "  -v               progress on stderr\n"
          "  --list           this text\n"
          "workloads:\n");
  for (i = 0; i < NROW; i++)
    fprintf(f, "  %-12s %s\n", aRow[i].zName, aRow[i].zHelp);
}

static int intArg(int argc, char **argv, int *pi, int nMin) {
  char *zEnd = 0;
  long v;
  if (*pi + 1 >= argc) fatal("%s needs a value", argv[*pi]);
  v = strtol(argv[++*pi], &zEnd, 10);
  if (*zEnd || v < nMin || v > 100000000)
    fatal("%s: bad number '%s'", argv[*pi - 1], argv[*pi]);
  return (int)v;
}

static const char *strArg(int argc, char **argv, int *pi) {
  if (*pi + 1 >= argc) fatal("%s needs a value", argv[*pi]);
  return argv[++*pi];
}

int main(int argc, char **argv) {
  static const char *const azStoreOpt[NSTORE] = {"local", "pg", "redis"};
  int abStore[NSTORE] = {0, 0, 0};
  const char *azSkip[NSTORE] = {0, 0, 0};
  static char zTmpl[300]; /* zDir, used by cleanupAtExit after main */
  const char *zTmp;
  int i, e, nPg = -1, nRedis = -1, bQuick = 0, nBad, bN = 0, bB = 0, bI = 0;

  memset(&g, 0, sizeof(g));
  g.nTask = 20000;
  g.nBacklog = 200000;
  g.nInflight = 20000;
  g.nProc = 4;
  g.nRep = 1;
  g.bJsonComplete = 1;
  g.zExt = getenv("STATEVTAB_EXT");
  if (!g.zExt || !g.zExt[0]) g.zExt = "./statevtab.so";
  for (i = 1; i < argc; i++) {
    const char *z = argv[i];
    if (strcmp(z, "-e") == 0 || strcmp(z, "--ext") == 0) {
      g.zExt = strArg(argc, argv, &i);
    } else if (strcmp(z, "-n") == 0) {
      g.nTask = intArg(argc, argv, &i, 1);
      bN = 1;
    } else if (strcmp(z, "--pg-n") == 0) {
      nPg = intArg(argc, argv, &i, 1);
    } else if (strcmp(z, "--redis-n") == 0) {
      nRedis = intArg(argc, argv, &i, 1);
    } else if (strcmp(z, "--backlog") == 0) {
      g.nBacklog = intArg(argc, argv, &i, 1);
      bB = 1;
    } else if (strcmp(z, "--inflight") == 0) {
      g.nInflight = intArg(argc, argv, &i, 0);
      bI = 1;
    } else if (strcmp(z, "--procs") == 0) {
      g.nProc = intArg(argc, argv, &i, 1);
      if (g.nProc > MAX_PROC) fatal("--procs: at most %d", MAX_PROC);
    } else if (strcmp(z, "-r") == 0) {
      g.nRep = intArg(argc, argv, &i, 1);
    } else if (strcmp(z, "--stores") == 0) {
      g.zStores = strArg(argc, argv, &i);
    } else if (strcmp(z, "--only") == 0) {
      g.zOnly = strArg(argc, argv, &i);
    } else if (strcmp(z, "--sv-complete") == 0) {
      z = strArg(argc, argv, &i);
      if (strcmp(z, "claim") == 0)
        g.bJsonComplete = 0;
      else if (strcmp(z, "json") != 0)
        fatal("--sv-complete: expected claim or json, not '%s'", z);
    } else if (strcmp(z, "--quick") == 0) {
      bQuick = 1;
    } else if (strcmp(z, "--keep") == 0) {
      g.bKeep = 1;
    } else if (strcmp(z, "-v") == 0) {
      g.bVerbose = 1;
    } else if (strcmp(z, "--list") == 0 || strcmp(z, "-h") == 0 ||
               strcmp(z, "--help") == 0) {
      usage(stdout);
      return 0;
    } else {
      usage(stderr);
      fatal("unknown option '%s'", z);
    }
  }
  if (bQuick) {
    if (!bN) g.nTask = 1000;
    if (!bB) g.nBacklog = 5000;
    if (!bI) g.nInflight = 1000;
    if (nRedis < 0) nRedis = g.nTask < 300 ? g.nTask : 300;
  }
  g.nPgTask = nPg > 0 ? nPg : g.nTask;
  g.nRedisTask = nRedis > 0 ? nRedis : g.nTask < 2000 ? g.nTask : 2000;
  if (g.zOnly) {
    const char *z = g.zOnly;
    while (*z) {
      size_t m = strcspn(z, ",");
      for (i = 0; i < NROW; i++)
        if (strlen(aRow[i].zName) == m && strncmp(aRow[i].zName, z, m) == 0)
          break;
      if (i == NROW)
        fatal("--only: no workload '%.*s' (see --list)", (int)m, z);
      z += m;
      if (*z == ',') z++;
    }
  }
  if (g.zStores) {
    const char *z = g.zStores;
    while (*z) {
      size_t m = strcspn(z, ",");
      for (e = 0; e < NSTORE; e++)
        if (strlen(azStoreOpt[e]) == m && strncmp(azStoreOpt[e], z, m) == 0)
          break;
      if (e == NSTORE)
        fatal("--stores: no store '%.*s' (local, pg, redis)", (int)m, z);
      z += m;
      if (*z == ',') z++;
    }
  }
  if (access(g.zExt, R_OK) != 0)
    fatal("extension %s: %s (build it, or pass -e / STATEVTAB_EXT)", g.zExt,
          strerror(errno));

  for (e = 0; e < NSTORE; e++) {
    for (i = 0; i < 2; i++) {
      aSide[e][i].eStore = e;
      aSide[e][i].bSv = i;
      aSide[e][i].zLabel = i ? "statevtab" : "raw";
      aSide[e][i].p = i ? &svImpl : e == ST_LOCAL ? &rawLocal : &rawPg;
    }
  }
#ifndef BENCH_NO_HIREDIS
  aSide[ST_REDIS][0].p = &rawRedis;
#endif
  atexit(cleanupAtExit);

  printf("statevtab queue bench: SQLite %s, extension %s\n",
         sqlite3_libversion(), g.zExt);
  /* local */
  if (inList(g.zStores, "local")) {
    zTmp = getenv("TMPDIR");
    snprintf(zTmpl, sizeof(zTmpl), "%s/statevtab-queue.XXXXXX",
             zTmp && zTmp[0] ? zTmp : "/tmp");
    if (!mkdtemp(zTmpl)) fatal("mkdtemp: %s", strerror(errno));
    zDir = zTmpl;
    abStore[ST_LOCAL] = 1;
    printf("local: files in %s (WAL, synchronous=NORMAL); %d tasks, backlog "
           "%d, in flight %d\n",
           zDir, g.nTask, g.nBacklog, g.nInflight);
  }
  /* PostgreSQL */
  if (inList(g.zStores, "pg")) {
    zPgUrl = getenv(PG_URL_ENV);
    if (!zPgUrl || !zPgUrl[0]) {
      azSkip[ST_PG] = PG_URL_ENV " not set";
    } else {
      PGresult *r;
      pgAdmin = PQconnectdb(zPgUrl);
      if (PQstatus(pgAdmin) != CONNECTION_OK)
        fatal("postgresql: cannot connect: %s", PQerrorMessage(pgAdmin));
      r = PQexec(pgAdmin, "SET client_min_messages = warning");
      PQclear(r);
      abStore[ST_PG] = 1;
      printf("postgresql: server %s; %d tasks, backlog %d, in flight %d\n",
             PQparameterStatus(pgAdmin, "server_version"), g.nPgTask,
             g.nBacklog, g.nInflight);
    }
  }
  /* Redis */
  if (inList(g.zStores, "redis")) {
    zRedisUrl = getenv(REDIS_URL_ENV);
    if (!zRedisUrl || !zRedisUrl[0]) {
      azSkip[ST_REDIS] = REDIS_URL_ENV " not set";
    } else {
#ifdef BENCH_NO_HIREDIS
      azSkip[ST_REDIS] = "built without hiredis";
#else
      char *zErr = 0;
      redisReply *r;
      const char *zVer;
      rdAdmin = redisOpenUrl(zRedisUrl, &zErr);
      if (!rdAdmin) fatal("redis: %s", zErr);
      r = redisCommand(rdAdmin, "INFO server");
      zVer = r && r->type == REDIS_REPLY_STRING
                 ? strstr(r->str, "redis_version:")
                 : 0;
      printf("redis: server %.*s; %d tasks, backlog %d, in flight %d\n",
             zVer ? (int)strcspn(zVer + 14, "\r\n") : 1, zVer ? zVer + 14 : "?",
             g.nRedisTask, g.nBacklog, g.nInflight);
      freeReplyObject(r);
      abStore[ST_REDIS] = 1;
#endif
    }
  }
  fflush(stdout);

  for (e = 0; e < NSTORE; e++) {
    if (!abStore[e]) continue;
    for (i = 0; i < NROW; i++) {
      if (!inList(g.zOnly, aRow[i].zName)) continue;
      if (aRow[i].bLocal && e != ST_LOCAL) {
        if (g.zOnly) aRes[e][i].zSkip = "local store only";
        continue;
      }
      if (!g.bVerbose)
        fprintf(stderr, "bench-queue: %s %s\n", azStore[e], aRow[i].zName);
      runRow(e, i);
    }
  }
  nBad = report(abStore, azSkip);
  if (pgAdmin) {
    PQfinish(pgAdmin);
    pgAdmin = 0;
  }
#ifndef BENCH_NO_HIREDIS
  if (rdAdmin) {
    redisFree(rdAdmin);
    rdAdmin = 0;
  }
#endif
  return nBad ? 1 : 0;
}
