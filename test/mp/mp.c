/*
** 2026-11-22
**
** mp.c -- statevtab's multi-process tests: real worker processes sharing
** one store (the local store's WAL database file, a PostgreSQL schema or a
** Redis prefix), exact counts.
**
**   cc -O1 -g test/mp/mp.c -o test/out/mp -lsqlite3
**   test/out/mp queue    [-e EXT] [-d DIR] [-n TASKS]   (default 20000)
**   test/out/mp crash    [-e EXT] [-d DIR] [-n TASKS]   (default 2000)
**   test/out/mp leases   [-e EXT] [-d DIR] [-s SECONDS] (default 3)
**   test/out/mp counters [-e EXT] [-d DIR] [-n INCRS]   (per process, 10000)
**   test/out/mp txn      [-e EXT] [-d DIR] [-n INCRS]   (per process, 200;
**                                                       tasks: INCRS / 4)
**   test/out/mp wake     [-e EXT] [-d DIR]              (about 3 s)
**   test/out/mp rate     [-e EXT] [-d DIR] [-n TASKS]   (default 200: 40 s)
**   test/out/mp dedup    [-e EXT] [-d DIR] [-n MS]      (enqueue for MS,
**                                                       2000)
**   test/out/mp cron     [-e EXT] [-d DIR]              (about 11 s)
**   test/out/mp deps     [-e EXT] [-d DIR] [-n DIAMONDS] (default 100)
**   test/out/mp fair     [-e EXT] [-d DIR] [-n TASKS]   (tenant A's backlog,
**                                                       1000)
**   test/out/mp restart  --store postgresql|redis --restart CMD [-n TASKS]
**                        [--kill-workers N] [--lost-max N]
**                                                       (default 20000)
**   test/out/mp all      ...                            the eleven in turn
**                                                       (+ restart when
**                                                       --restart given)
**
** Other options: -w WORKERS (8), -k N (n of state_claim, 10),
** --kill N (crash: workers SIGKILLed, 3), --names N (leases: 3),
** --ttl MS (leases: 200), --busy-ms MS (busy timeout of each worker's own
** connection, 5000), --seed N, -v (print every worker error).  EXT defaults
** to $STATEVTAB_EXT, DIR to a fresh directory under $TEST_TMP or $TMPDIR.
**
** Stores: --store sqlite (default: the local store, one WAL database file
** per test in DIR), or one of the remote stores, whose rows live on a
** server: every process creates each table in its own :memory: database,
** naming the same server and namespace, so that all of them share the rows:
**
**   --store postgresql (alias pg): CREATE VIRTUAL TABLE ... USING
**       state_xxx(store='env:STATEVTAB_PG_URL', schema='<BASE>_<test>')
**   --store redis: CREATE VIRTUAL TABLE ... USING
**       state_xxx(store='env:STATEVTAB_REDIS_URL', prefix='<BASE>_<test>:')
**
** The URL variable must be set (else FAIL mp/<store>/setup).  --schema
** BASE (alias --namespace; default mp_<pid>_<time>) names the namespaces,
** which must hold no rows yet.  They are removed at the end unless
** --keep-schemas: PostgreSQL with psql (DROP SCHEMA ... CASCADE), Redis
** with redis-cli (SCAN for the keys "{<BASE>_<test>:}*", DEL); a failure
** is a warning.
**
** The remote-store subcommand restart drains a queue like queue while the
** parent runs CMD (--restart, alias --pg-restart; bash -c, e.g. ".
** test/lib/servers.sh && sv_restart_postgres", or sv_restart_redis) once a
** quarter of the tasks are done: workers retry a call that failed with
** SQLITE_IOERR, and the checks demand that every error was a clear
** connection error and that every task was still completed exactly once.
** (The Redis server of the tests runs with appendonly yes and appendfsync
** always: nothing it acknowledged is lost over the restart.)
**
** What differs between the stores: fencing tokens of state_lease are
** gapless (1, 2, 3, ...) on the local store and PostgreSQL
** (mp/<store>/leases/tokens-contiguous); on Redis a token is max(previous +
** 1, the server's time in microseconds), strictly increasing and unique but
** not gapless, so that check is not made there (tokens-unique and
** tokens-increasing are, on every store).  The error-message cases of
** queue are store facts: the local store's private connection, a
** PostgreSQL server-side trigger; Redis has neither (no triggers), so it
** runs none.
**
** Output: one line per check, "PASS mp/<store>/<test>/<check>" or
** "FAIL mp/<store>/<test>/<check>: <details>" (store: sqlite, postgresql
** or redis); lines starting with "# " are information (timings,
** counts).  Exit status 1 when any check failed, 2 on a usage or set-up
** error.
**
** HOW IT WORKS
**
** The parent creates the database (WAL, the statevtab tables, schedules
** among them; on a remote store: the namespace, through the same CREATE
** VIRTUAL TABLEs) and fills it, closes its connection, then starts
** workers by fork+exec of its own executable ("mp _worker KIND ..."), so
** that no SQLite state crosses a fork.  Every worker opens its own
** connection (busy timeout, synchronous NORMAL), loads the extension, waits
** for a common start time and runs its loop, writing what it saw to its own
** file, one record a line, flushed per line so that a worker killed with
** SIGKILL leaves every record it wrote:
**
**   L id token            claimed (before any work or completion)
**   C id token ret ms     state_complete returned ret (1 or 0) at ms
**   E rc xrc where msg    an SQLite error (rc, extended rc)
**   A name tok t0 t1 r0 r1 ret   a lease: state_lease called at t0,
**                         returned tok at t1; state_release called at r0,
**                         returned ret at r1 (CLOCK_REALTIME ms)
**   V value               a value returned by state_incr
**   K id token ms         deps: a claim, at ms on the store's clock
**   D id ms               deps: the completed_at of a completion
**   B id                  deps: a dependency of a claimed task was not
**                         completed when read right after the claim
**   R id token            restart: a state_complete that failed with an
**                         error and returned 0 when retried, but the row
**                         shows this worker's completion with this token
**                         (the first call committed; its answer was lost)
**
** While the queue workers drain, the parent also joins 20 short-lived
** "processes" (try_attach: open the tables as a starting worker does and
** read them), 100 ms apart: a pool that grows while it works
** (mp/<store>/queue/attach-while-busy).
**
** queue also runs two single-process cases first: a stale token step by
** step (two connections), and the error message of a primitive that failed
** on the store's private connection (mp/sqlite/wal/errmsg-...; on PostgreSQL
** the error of a server-side trigger, mp/postgresql/errmsg/...; none on
** Redis).
**
** The parent then loads every file into TEMP tables of its own connection
** (rec, err, lease, val) and a snapshot of the tasks table (task), and
** states each check as SQL over them.
*/
#define _GNU_SOURCE 1
#include <sqlite3.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_WORKERS 64

/* ------------------------------------------------------------ stores */

/*
** A store the tests run on.  A remote one (zUrlEnv set) keeps its rows on a
** server: every process creates the tables in a :memory: database with
** store='env:<zUrlEnv>' and <zNsOpt>='<namespace><zNsEnd>', and the
** store's error messages start with "<zName>: ".
*/
typedef struct Store Store;
struct Store {
  const char *zName;   /* --store, check names, error prefix */
  const char *zUrlEnv; /* remote: the variable holding the URL; else NULL */
  const char *zNsOpt;  /* the option naming the namespace: schema, prefix */
  const char *zNsEnd;  /* appended to the namespace name in that option */
  int bGapless;        /* state_lease tokens are 1, 2, 3, ... per name */
  int bNoReply;        /* "<zName>: no reply from ... (command timeout)" */
  const Store *pOf;    /* a configuration of that store (a cluster, a
                       ** pooler): its messages and clean-up; or NULL */
};

static const Store aStore[] = {
    {"sqlite", 0, 0, 0, 1, 0, 0},
    {"postgresql", "STATEVTAB_PG_URL", "schema", "", 1, 1, 0},
    {"redis", "STATEVTAB_REDIS_URL", "prefix", ":", 0, 1, 0},
    {"redis-cluster", "STATEVTAB_RCLUSTER_URL", "prefix", ":", 0, 1,
     &aStore[2]},
    {"pgbouncer", "STATEVTAB_PGBOUNCER_URL", "schema", "", 1, 1, &aStore[1]},
};
/* The store itself of configuration p. */
#define STORE_OF(p) ((p)->pOf ? (p)->pOf : (p))
#define N_STORE ((int)(sizeof(aStore) / sizeof(aStore[0])))
#define STORE_SQLITE (&aStore[0])
#define STORE_PG (&aStore[1])

/* ------------------------------------------------------------ options */

typedef struct Opt {
  const char *zExt; /* -e: the extension */
  const char *zDir; /* -d: directory for the databases and records */
  int nSize;        /* -n: tasks (queue, crash), increments (counters) */
  int nWorker;      /* -w */
  int nBatch;       /* -k: n of state_claim */
  int nKill;        /* --kill */
  int nSec;         /* -s: leases duration */
  int nName;        /* --names */
  int iTtl;         /* --ttl */
  int iBusyMs;      /* --busy-ms */
  unsigned iSeed;   /* --seed */
  int bVerbose;     /* -v */
  /* worker only */
  const char *zDb;    /* --db */
  const char *zOut;   /* --out */
  const char *zQueue; /* --queue: name or JSON array */
  int iId;            /* --id */
  long long iStart;   /* --start: CLOCK_REALTIME ms to begin at */
  long long iEnd;     /* --end: leases: stop at */
  int iLeaseMs;       /* --lease */
  int iWorkMin;       /* --work-min: us of "work" per task (crash) */
  int iWorkMax;       /* --work-max */
  int iStopMs;        /* --stop-ms: stop after this long without a claim */
  int bLate;          /* --late: now and then finish after the lease ran out */
  int bRetryIo;       /* --retry-io: retry calls that failed (restart) */
  /* stores */
  const Store *pStore;  /* --store */
  int bRemote;          /* pStore is a remote store */
  const char *zSchema;  /* --schema: base name of the remote namespaces */
  int bKeepSchemas;     /* --keep-schemas */
  const char *zRestart; /* --restart: bash command restarting the server */
  int nRestartKill;     /* --kill-workers: restart: SIGKILLed at CMD */
  int nLostMax;         /* --lost-max: restart: statements lost per worker */
} Opt;

static int nFail = 0, nPass = 0;

/* The store label that check names carry after "mp/". */
static const char *zStoreLabel = "sqlite";

/* Print "mp/<store>/<rest>" for a check name "mp/<rest>". */
static void print_name(const char *zName) {
  if (strncmp(zName, "mp/", 3) == 0) {
    printf("mp/%s/%s", zStoreLabel, zName + 3);
  } else {
    printf("%s", zName);
  }
}

static void pass(const char *zName) {
  printf("PASS ");
  print_name(zName);
  printf("\n");
  fflush(stdout);
  nPass++;
}

static void fail(const char *zName, const char *zFmt, ...) {
  va_list ap;
  printf("FAIL ");
  print_name(zName);
  printf(": ");
  va_start(ap, zFmt);
  vprintf(zFmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
  nFail++;
}

static void info(const char *zFmt, ...) {
  va_list ap;
  printf("# ");
  va_start(ap, zFmt);
  vprintf(zFmt, ap);
  va_end(ap);
  printf("\n");
  fflush(stdout);
}

static void die(const char *zFmt, ...) {
  va_list ap;
  fprintf(stderr, "mp[%d]: ", (int)getpid());
  va_start(ap, zFmt);
  vfprintf(stderr, zFmt, ap);
  va_end(ap);
  fprintf(stderr, "\n");
  exit(2);
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double mono_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_ms(long long ms) {
  struct timespec ts;
  if (ms <= 0) return;
  ts.tv_sec = ms / 1000;
  ts.tv_nsec = (ms % 1000) * 1000000;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

static void sleep_us(long us) {
  struct timespec ts;
  if (us <= 0) return;
  ts.tv_sec = us / 1000000;
  ts.tv_nsec = (us % 1000000) * 1000;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* xorshift64*: each process its own stream. */
static unsigned long long rngState = 88172645463325252ULL;
static unsigned rnd(unsigned n) {
  rngState ^= rngState >> 12;
  rngState ^= rngState << 25;
  rngState ^= rngState >> 27;
  return n ? (unsigned)((rngState * 2685821657736338717ULL) >> 33) % n : 0;
}
static void rnd_seed(unsigned long long s) {
  rngState = s * 0x9E3779B97F4A7C15ULL + 1;
  if (!rngState) rngState = 1;
  rnd(1);
}

/* ------------------------------------------------------------ sqlite */

static void exec_or_die(sqlite3 *db, const char *zSql);

/*
** A remote store: create the six tables in db (a :memory: database of this
** process) on namespace zNs of the server at $<zUrlEnv>.  Every process
** that does this shares the rows; the first one creates the namespace.
** SQLITE_OK, or the error code with *pzErr set (sqlite3_free it).
*/
static int attach_remote_tables(sqlite3 *db, const Store *pStore,
                                const char *zNs, char **pzErr) {
  static const char *const azTab[][2] = {
      {"tasks", "state_tasks"},     {"dead_letters", "state_dead_letters"},
      {"leases", "state_leases"},   {"counters", "state_counters"},
      {"signals", "state_signals"}, {"schedules", "state_schedules"}};
  /* $MP_TABLE_OPTS: more table options (command_timeout=1000) */
  const char *zMore = getenv("MP_TABLE_OPTS");
  size_t i;
  int rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && i < sizeof(azTab) / sizeof(azTab[0]); i++) {
    char *zSql = sqlite3_mprintf(
        "CREATE VIRTUAL TABLE %s USING %s(store='env:%s', %s='%q%q'%s%s)",
        azTab[i][0], azTab[i][1], pStore->zUrlEnv, pStore->zNsOpt, zNs,
        pStore->zNsEnd, zMore && zMore[0] ? ", " : "", zMore ? zMore : "");
    rc = sqlite3_exec(db, zSql, 0, 0, pzErr);
    sqlite3_free(zSql);
  }
  return rc;
}

/*
** What every worker does to start: open zDb (on a remote store zDb is the
** namespace: open a :memory: database and create the tables on it), load
** the extension.  SQLITE_OK, or the error code with *pzErr set (sqlite3_free
** it); *pDb is set either way (sqlite3_close it).
*/
static int open_store(const Opt *o, const char *zDb, int bCreate, sqlite3 **pDb,
                      char **pzErr) {
  int flags = SQLITE_OPEN_READWRITE | (bCreate ? SQLITE_OPEN_CREATE : 0);
  int rc;
  *pzErr = 0;
  if (o->bRemote) flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  rc = sqlite3_open_v2(o->bRemote ? ":memory:" : zDb, pDb, flags, 0);
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("open %s: %s", zDb,
                             *pDb ? sqlite3_errmsg(*pDb) : "out of memory");
    return rc;
  }
  sqlite3_busy_timeout(*pDb, o->iBusyMs);
  sqlite3_enable_load_extension(*pDb, 1);
  rc = sqlite3_load_extension(*pDb, o->zExt, "sqlite3_statevtab_init", pzErr);
  if (rc != SQLITE_OK) return rc;
  sqlite3_enable_load_extension(*pDb, 0);
  rc = sqlite3_exec(*pDb, "PRAGMA synchronous=NORMAL", 0, 0, pzErr);
  if (rc == SQLITE_OK && o->bRemote)
    rc = attach_remote_tables(*pDb, o->pStore, zDb, pzErr);
  return rc;
}

/*
** open_store, exiting (2) on failure: a worker that cannot start is a
** set-up error, reported by the parent from its exit status.
*/
static sqlite3 *open_db(const Opt *o, const char *zDb, int bCreate) {
  sqlite3 *db = 0;
  char *zErr = 0;
  if (open_store(o, zDb, bCreate, &db, &zErr) != SQLITE_OK) {
    die("%s: %s", zDb, zErr ? zErr : (db ? sqlite3_errmsg(db) : "?"));
  }
  return db;
}

static void exec_or_die(sqlite3 *db, const char *zSql) {
  char *zErr = 0;
  if (sqlite3_exec(db, zSql, 0, 0, &zErr) != SQLITE_OK) {
    die("%s\n  in: %.200s", zErr ? zErr : "?", zSql);
  }
}

static sqlite3_stmt *prep(sqlite3 *db, const char *zSql) {
  sqlite3_stmt *p = 0;
  if (sqlite3_prepare_v2(db, zSql, -1, &p, 0) != SQLITE_OK) {
    die("prepare: %s\n  in: %s", sqlite3_errmsg(db), zSql);
  }
  return p;
}

/* The one integer that zSql (printf-style) returns; -1 on error. */
static long long q1(sqlite3 *db, const char *zFmt, ...) {
  va_list ap;
  char *zSql;
  sqlite3_stmt *p = 0;
  long long v = -1;
  va_start(ap, zFmt);
  zSql = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if (sqlite3_prepare_v2(db, zSql, -1, &p, 0) == SQLITE_OK &&
      sqlite3_step(p) == SQLITE_ROW) {
    v = sqlite3_column_int64(p, 0);
  } else {
    fprintf(stderr, "mp: %s\n  in: %s\n", sqlite3_errmsg(db), zSql);
  }
  sqlite3_finalize(p);
  sqlite3_free(zSql);
  return v;
}

/* The one text value that zSql returns, in a static buffer ("" if none). */
static const char *qs(sqlite3 *db, const char *zFmt, ...) {
  static char zBuf[2048];
  va_list ap;
  char *zSql;
  sqlite3_stmt *p = 0;
  zBuf[0] = 0;
  va_start(ap, zFmt);
  zSql = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if (sqlite3_prepare_v2(db, zSql, -1, &p, 0) == SQLITE_OK) {
    if (sqlite3_step(p) == SQLITE_ROW && sqlite3_column_text(p, 0)) {
      snprintf(zBuf, sizeof(zBuf), "%s", sqlite3_column_text(p, 0));
    }
  } else {
    snprintf(zBuf, sizeof(zBuf), "(sql error: %s)", sqlite3_errmsg(db));
  }
  sqlite3_finalize(p);
  sqlite3_free(zSql);
  return zBuf;
}

/* ------------------------------------------------------------ records */

static FILE *pRec = 0; /* the worker's record file */
static int iWorkerId = 0;
static int nErr = 0; /* errors this worker saw */

static void rec(const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  vfprintf(pRec, zFmt, ap);
  va_end(ap);
  fputc('\n', pRec); /* line buffered: one write(2) per record */
}

/* Record an error of statement p (or of db when p is NULL) at zWhere. */
static void rec_error(sqlite3 *db, int rc, const char *zWhere) {
  char zMsg[300];
  char *z;
  snprintf(zMsg, sizeof(zMsg), "%s", sqlite3_errmsg(db));
  for (z = zMsg; *z; z++) {
    if (*z == '\n' || *z == '\t') *z = ' ';
  }
  rec("E %d %d %s %s", rc & 0xff, sqlite3_extended_errcode(db), zWhere, zMsg);
  if (++nErr > 2000)
    die("worker %d: too many errors; last: %s", iWorkerId, zMsg);
}

/* ------------------------------------------------------------ workers */

typedef struct Claimed {
  char zId[64];
  long long iToken;
} Claimed;

/*
** Claim up to n tasks into a[]; returns the count, or -1 on an error
** (recorded).  Rows whose outcome is not 'claimed' are recorded as errors.
*/
static int do_claim(sqlite3 *db, sqlite3_stmt *pClaim, Claimed *a) {
  int n = 0, rc;
  while ((rc = sqlite3_step(pClaim)) == SQLITE_ROW) {
    const char *zId = (const char *)sqlite3_column_text(pClaim, 0);
    const char *zOutcome = (const char *)sqlite3_column_text(pClaim, 2);
    if (!zOutcome || strcmp(zOutcome, "claimed") != 0 || !zId) {
      rec("E 0 0 claim outcome '%s' for id %s", zOutcome ? zOutcome : "NULL",
          zId ? zId : "NULL");
      nErr++;
      continue;
    }
    snprintf(a[n].zId, sizeof(a[n].zId), "%s", zId);
    a[n].iToken = sqlite3_column_int64(pClaim, 1);
    n++;
  }
  if (rc != SQLITE_DONE) {
    rc = sqlite3_reset(pClaim);
    rec_error(db, rc, "state_claim");
    return -1;
  }
  sqlite3_reset(pClaim);
  return n;
}

/* state_complete: 1, 0, or -1 on an error (recorded). */
static int do_complete(sqlite3 *db, sqlite3_stmt *pDone, const Claimed *c,
                       int iWorker) {
  int rc, ret = -1;
  char zRes[40];
  snprintf(zRes, sizeof(zRes), "{\"w\":%d}", iWorker);
  sqlite3_bind_text(pDone, 1, c->zId, -1, SQLITE_TRANSIENT);
  sqlite3_bind_int64(pDone, 2, c->iToken);
  sqlite3_bind_text(pDone, 3, zRes, -1, SQLITE_TRANSIENT);
  rc = sqlite3_step(pDone);
  if (rc == SQLITE_ROW) {
    ret = sqlite3_column_int(pDone, 0);
    rc = sqlite3_step(pDone);
  }
  if (rc != SQLITE_DONE) {
    rc = sqlite3_reset(pDone);
    rec_error(db, rc, "state_complete");
    ret = -1;
  } else {
    sqlite3_reset(pDone);
  }
  if (ret >= 0) rec("C %s %lld %d %lld", c->zId, c->iToken, ret, now_ms());
  return ret;
}

/*
** --retry-io (restart): complete c, retrying a call that failed (the server
** is restarting) every 50 ms, for up to 60 s.  When a retry returns 0 after
** a failed call, the failed call may have committed before its answer was
** lost: read the row, and when it shows this worker's completion with this
** token, record R (the completion was ours).
*/
static int complete_retry(const Opt *o, sqlite3 *db, sqlite3_stmt *pDone,
                          sqlite3_stmt *pRow, const Claimed *c) {
  int ret, nTry = 0, bErr = 0;
  while ((ret = do_complete(db, pDone, c, o->iId)) < 0 && nTry++ < 1200) {
    bErr = 1;
    sleep_ms(50);
  }
  if (ret == 0 && bErr) {
    int rc, bOurs = -1;
    for (nTry = 0; bOurs < 0 && nTry < 1200; nTry++) {
      sqlite3_bind_text(pRow, 1, c->zId, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pRow, 2, c->iToken);
      sqlite3_bind_int(pRow, 3, o->iId);
      rc = sqlite3_step(pRow);
      if (rc == SQLITE_ROW) {
        bOurs = sqlite3_column_int(pRow, 0);
        sqlite3_reset(pRow);
      } else if (rc == SQLITE_DONE) {
        bOurs = 0;
        sqlite3_reset(pRow);
      } else {
        rec_error(db, sqlite3_reset(pRow), "read-back");
        sleep_ms(50);
      }
    }
    if (bOurs == 1) {
      rec("R %s %lld", c->zId, c->iToken);
      ret = 1;
    }
  }
  return ret;
}

/*
** queue and crash workers: claim a batch, record it (L), do the "work"
** (crash: sleep), complete each task (C).  Stop after iStopMs without a
** successful claim.  A --late worker, every 4th batch, sleeps until its
** leases ran out before completing, so that other workers re-claim them.
** --retry-io (restart): a failed claim is retried after 50 ms (and does
** not count as time without work), a failed completion too
** (complete_retry).
*/
static int worker_tasks(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *pClaim = prep(db, "SELECT id, lease_token, outcome FROM "
                                  "state_claim('tasks', ?1, ?2, ?3, ?4)");
  sqlite3_stmt *pDone = prep(db, "SELECT state_complete('tasks', ?1, ?2, ?3)");
  sqlite3_stmt *pRow =
      prep(db, "SELECT state = 'completed' AND lease_token = ?2 AND "
               "json_extract(result, '$.w') = ?3 FROM tasks WHERE id = ?1");
  Claimed *a = calloc((size_t)o->nBatch + 1, sizeof(Claimed));
  char zMe[32];
  long long tLastClaim;
  int nBatchDone = 0, i;
  if (!a) die("out of memory");
  snprintf(zMe, sizeof(zMe), "w%d", o->iId);
  sqlite3_bind_text(pClaim, 1, o->zQueue, -1, SQLITE_STATIC);
  sqlite3_bind_text(pClaim, 2, zMe, -1, SQLITE_STATIC);
  sqlite3_bind_int64(pClaim, 3, o->iLeaseMs);
  sqlite3_bind_int(pClaim, 4, o->nBatch);
  sleep_ms(o->iStart - now_ms());
  tLastClaim = now_ms();
  for (;;) {
    int n = do_claim(db, pClaim, a);
    if (n < 0 && o->bRetryIo) {
      tLastClaim = now_ms();
      sleep_ms(50);
      continue;
    }
    if (n <= 0) {
      if (now_ms() - tLastClaim >= o->iStopMs) break;
      sleep_ms(n < 0 ? 1 : 5 + rnd(10));
      continue;
    }
    tLastClaim = now_ms();
    for (i = 0; i < n; i++) rec("L %s %lld", a[i].zId, a[i].iToken);
    nBatchDone++;
    if (o->bLate && nBatchDone % 4 == 0) {
      /* Just after the leases ran out: by then most of the batch has been
      ** re-claimed (expired tasks sort first) by a worker that works
      ** through it in claim order; finishing in reverse order meets tasks
      ** that the new holder still holds. */
      sleep_ms(o->iLeaseMs + 20 + rnd(40));
      for (i = n - 1; i >= 0; i--) do_complete(db, pDone, &a[i], o->iId);
    } else {
      for (i = 0; i < n; i++) {
        if (o->iWorkMax > 0) {
          sleep_us(o->iWorkMin +
                   (long)rnd((unsigned)(o->iWorkMax - o->iWorkMin + 1)));
        }
        if (o->bRetryIo) {
          complete_retry(o, db, pDone, pRow, &a[i]);
        } else {
          do_complete(db, pDone, &a[i], o->iId);
        }
      }
    }
    tLastClaim = now_ms();
  }
  sqlite3_finalize(pClaim);
  sqlite3_finalize(pDone);
  sqlite3_finalize(pRow);
  if (sqlite3_close(db) != SQLITE_OK) die("close: %s", sqlite3_errmsg(db));
  free(a);
  return 0;
}

/*
** leases worker: until iEnd, take a random one of nName leases; when it is
** ours, every 4th time re-enter it (same token expected, released once),
** hold it a few ms, release it.  Records A lines.
*/
static int worker_leases(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *pLease = prep(db, "SELECT state_lease('leases', ?1, ?2, ?3)");
  sqlite3_stmt *pRel = prep(db, "SELECT state_release('leases', ?1, ?2)");
  char zMe[32], zName[32];
  int nGot = 0, nNull = 0;
  snprintf(zMe, sizeof(zMe), "p%d", o->iId);
  sleep_ms(o->iStart - now_ms());
  while (now_ms() < o->iEnd) {
    long long t0, t1, r0, r1, tok = 0, tok2 = -1;
    int rc, ret = -1;
    snprintf(zName, sizeof(zName), "lock%u", rnd((unsigned)o->nName));
    t0 = now_ms();
    sqlite3_bind_text(pLease, 1, zName, -1, SQLITE_STATIC);
    sqlite3_bind_text(pLease, 2, zMe, -1, SQLITE_STATIC);
    sqlite3_bind_int(pLease, 3, o->iTtl);
    rc = sqlite3_step(pLease);
    t1 = now_ms();
    if (rc != SQLITE_ROW) {
      rec_error(db, sqlite3_reset(pLease), "state_lease");
      continue;
    }
    if (sqlite3_column_type(pLease, 0) == SQLITE_NULL) {
      sqlite3_reset(pLease);
      nNull++;
      sleep_us(200 + rnd(800));
      continue;
    }
    tok = sqlite3_column_int64(pLease, 0);
    sqlite3_reset(pLease);
    nGot++;
    if (nGot % 4 == 0) {
      /* Re-entry: same token, depth 2; one release brings it back to 1. */
      rc = sqlite3_step(pLease);
      if (rc == SQLITE_ROW && sqlite3_column_type(pLease, 0) != SQLITE_NULL) {
        tok2 = sqlite3_column_int64(pLease, 0);
      }
      if (rc != SQLITE_ROW) {
        rec_error(db, sqlite3_reset(pLease), "state_lease re-entry");
      }
      sqlite3_reset(pLease);
      if (tok2 != tok) {
        rec("E 0 0 re-entry %s token %lld then %lld", zName, tok, tok2);
        nErr++;
      }
    }
    if (nGot % 4 == 0 && tok2 == tok) {
      /* Not after a failed re-entry: that release would free the lease. */
      sqlite3_bind_text(pRel, 1, zName, -1, SQLITE_STATIC);
      sqlite3_bind_text(pRel, 2, zMe, -1, SQLITE_STATIC);
      rc = sqlite3_step(pRel);
      if (rc != SQLITE_ROW) {
        rec_error(db, sqlite3_reset(pRel), "state_release inner");
      } else if (sqlite3_column_int(pRel, 0) != 1) {
        rec("E 0 0 inner-release %s returned %d", zName,
            sqlite3_column_int(pRel, 0));
        nErr++;
      }
      sqlite3_reset(pRel);
    }
    sleep_us(1000 + rnd(2000)); /* hold 1-3 ms, far below the ttl */
    r0 = now_ms();
    sqlite3_bind_text(pRel, 1, zName, -1, SQLITE_STATIC);
    sqlite3_bind_text(pRel, 2, zMe, -1, SQLITE_STATIC);
    rc = sqlite3_step(pRel);
    if (rc == SQLITE_ROW) {
      ret = sqlite3_column_int(pRel, 0);
      sqlite3_reset(pRel);
    } else {
      rec_error(db, sqlite3_reset(pRel), "state_release");
    }
    r1 = now_ms();
    rec("A %s %lld %lld %lld %lld %lld %d", zName, tok, t0, t1, r0, r1, ret);
  }
  rec("S nulls %d", nNull);
  sqlite3_finalize(pLease);
  sqlite3_finalize(pRel);
  sqlite3_close(db);
  return 0;
}

/*
** wake worker: the waiting side of test_wake, from --start on.  Each call
** is recorded as "W <what> <null> <t0> <t1>" (null: 1 when it returned
** NULL; t0, t1: CLOCK_REALTIME ms before and after the call).
*/
static void wake_call(sqlite3 *db, const char *zWhat, const char *zSql) {
  sqlite3_stmt *p = prep(db, zSql);
  long long t0 = now_ms(), t1;
  int rc = sqlite3_step(p), bNull;
  t1 = now_ms();
  bNull = rc != SQLITE_ROW || sqlite3_column_type(p, 0) == SQLITE_NULL;
  if (rc != SQLITE_ROW) rec_error(db, sqlite3_reset(p), zWhat);
  sqlite3_finalize(p);
  rec("W %s %d %lld %lld", zWhat, bNull, t0, t1);
}

/* SIGALRM: sqlite3_interrupt() on the waiting connection, as the sqlite3
** shell does on SIGINT. */
static sqlite3 *dbAlarm = 0;
static void on_alarm(int sig) {
  (void)sig;
  if (dbAlarm) sqlite3_interrupt(dbAlarm);
}

/* zSql, interrupted 300 ms in: "W <what> <rc> <t0> <t1>" (rc the result
** code of the call, SQLITE_INTERRUPT expected) and "M <what> <message>". */
static void wake_interrupt(sqlite3 *db, const char *zWhat, const char *zSql) {
  sqlite3_stmt *p = prep(db, zSql);
  struct itimerval it;
  long long t0, t1;
  int rc;
  memset(&it, 0, sizeof(it));
  it.it_value.tv_usec = 300000;
  dbAlarm = db;
  signal(SIGALRM, on_alarm);
  t0 = now_ms();
  setitimer(ITIMER_REAL, &it, 0);
  rc = sqlite3_step(p);
  t1 = now_ms();
  if (rc != SQLITE_ROW) rc = sqlite3_reset(p);
  rec("W %s %d %lld %lld", zWhat, rc, t0, t1);
  rec("M %s %s", zWhat, sqlite3_errmsg(db));
  sqlite3_finalize(p);
  dbAlarm = 0;
}

static int worker_wake(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sleep_ms(o->iStart - now_ms());
  /* Woken by the parent's release at start + 500 ms. */
  wake_call(db, "lease",
            "SELECT state_lease('leases', 'w', 'waiter', 60000, 10000)");
  /* Woken by the parent's signal at start + 1000 ms (of another name
  ** first, at + 800 ms, which must not end the wait). */
  wake_call(db, "take", "SELECT state_take('signals', 'e1', 'go', 10000)");
  /* Woken by the parent's INSERT of a signal at start + 1200 ms. */
  wake_call(db, "take-insert",
            "SELECT state_take('signals', 'e3', 'go', 10000)");
  /* Nothing comes: NULL after 300 ms. */
  wake_call(db, "lease-timeout",
            "SELECT state_lease('leases', 'held', 'waiter', 60000, 300)");
  wake_call(db, "take-timeout",
            "SELECT state_take('signals', 'e2', 'go', 300)");
  /* The parent's lease 'exp' expires at start + 2300 ms, unreleased. */
  wake_call(db, "lease-expiry",
            "SELECT state_lease('leases', 'exp', 'waiter', 60000, 10000)");
  /* sqlite3_interrupt() ends a wait. */
  wake_interrupt(db, "lease-interrupt",
                 "SELECT state_lease('leases', 'held', 'waiter', 60000, "
                 "10000)");
  wake_interrupt(db, "take-interrupt",
                 "SELECT state_take('signals', 'e2', 'go', 10000)");
  sqlite3_close(db);
  return 0;
}

/*
** The two phases of the rate and fair workers: claim one task at a time
** with apClaim[phase] (?1 the lease, ?2 the worker; columns id, token, the
** claim time on the store's clock and, when there is one, the partition),
** recording each claim (L), until queue azQueue[phase] has no pending or
** claimed task left, or --end.  Phase 0 completes each task at once, phase
** 1 after holding it iHoldMs and reading its completed_at; xRec records
** the rest of each claim (iDone: -1 when the completion failed).
*/
typedef void (*PhaseRec)(int iPhase, const char *zPart, long long iAt,
                         long long iDone);
static void claim_phases(const Opt *o, sqlite3 *db, sqlite3_stmt **apClaim,
                         const char *const *azQueue, int iHoldMs,
                         PhaseRec xRec) {
  sqlite3_stmt *pDone = prep(db, "SELECT state_complete('tasks', ?1, ?2, ?3)");
  sqlite3_stmt *pAt = prep(db, "SELECT completed_at FROM tasks WHERE id = ?1");
  sqlite3_stmt *pLeft = prep(db, "SELECT count(*) FROM tasks WHERE queue = ?1 "
                                 "AND state IN ('pending', 'claimed')");
  char zWorker[32];
  int iPhase;
  snprintf(zWorker, sizeof(zWorker), "w%d", o->iId);
  sleep_ms(o->iStart - now_ms());
  for (iPhase = 0; iPhase < 2; iPhase++) {
    sqlite3_stmt *pClaim = apClaim[iPhase];
    long long iCheck = 0;
    while (now_ms() < o->iEnd) {
      Claimed c;
      char zPart[64] = "";
      long long iAt = 0, iDone = 0;
      int rc, bGot = 0;
      sqlite3_bind_int(pClaim, 1, o->iLeaseMs);
      sqlite3_bind_text(pClaim, 2, zWorker, -1, SQLITE_STATIC);
      rc = sqlite3_step(pClaim);
      if (rc == SQLITE_ROW) {
        snprintf(c.zId, sizeof(c.zId), "%s", sqlite3_column_text(pClaim, 0));
        c.iToken = sqlite3_column_int64(pClaim, 1);
        iAt = sqlite3_column_int64(pClaim, 2);
        if (sqlite3_column_count(pClaim) > 3) {
          snprintf(zPart, sizeof(zPart), "%s", sqlite3_column_text(pClaim, 3));
        }
        bGot = 1;
        rc = sqlite3_step(pClaim);
      }
      if (rc != SQLITE_DONE) {
        rec_error(db, sqlite3_reset(pClaim), "state_claim");
        sleep_ms(20);
        continue;
      }
      sqlite3_reset(pClaim);
      if (bGot) {
        rec("L %s %lld", c.zId, c.iToken);
        if (iPhase == 0) {
          do_complete(db, pDone, &c, o->iId);
        } else {
          iDone = -1;
          sleep_ms(iHoldMs);
          if (do_complete(db, pDone, &c, o->iId) == 1) {
            sqlite3_bind_text(pAt, 1, c.zId, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(pAt) == SQLITE_ROW) {
              iDone = sqlite3_column_int64(pAt, 0);
            }
            sqlite3_reset(pAt);
          }
        }
        xRec(iPhase, zPart, iAt, iDone);
        continue;
      }
      if (now_ms() >= iCheck) {
        long long nLeft = -1;
        sqlite3_bind_text(pLeft, 1, azQueue[iPhase], -1, SQLITE_STATIC);
        if (sqlite3_step(pLeft) == SQLITE_ROW) {
          nLeft = sqlite3_column_int64(pLeft, 0);
        }
        sqlite3_reset(pLeft);
        if (nLeft == 0) break;
        iCheck = now_ms() + 200;
      }
      sleep_ms(10);
    }
  }
  sqlite3_finalize(pDone);
  sqlite3_finalize(pAt);
  sqlite3_finalize(pLeft);
}

/* rate: phase 0 its claim time (V), phase 1 the lease (A lq ...). */
static void rec_rate(int iPhase, const char *zPart, long long iAt,
                     long long iDone) {
  (void)zPart;
  if (iPhase == 0) {
    rec("V %lld", iAt);
  } else {
    rec("A lq 0 %lld %lld %lld %lld 1", iAt, iAt, iDone, iDone);
  }
}

/*
** rate worker: first claim the tasks of queue 'rq' one at a time under the
** rate "5 per second" of that queue, recording each (L) and its claim time
** on the store's clock (V: lease_expires_at - lease), and complete them;
** then those of queue 'lq' under the concurrency limit 2, each held for
** 50 ms, recording its claim and completion times on the store's clock
** (A lq 0 claimed claimed completed completed 1).  Each phase ends when its
** queue has no pending or claimed task left, or at --end.
*/
static int worker_rate(const Opt *o) {
  static const char *const azQueue[2] = {"rq", "lq"};
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *apClaim[2];
  apClaim[0] = prep(
      db, "SELECT id, lease_token, lease_expires_at - ?1 FROM "
          "state_claim('tasks', 'rq', ?2, ?1, 1, '{\"rates\":{\"queue:rq\":"
          "\"5/1s\"}}')");
  apClaim[1] = prep(
      db, "SELECT id, lease_token, lease_expires_at - ?1 FROM "
          "state_claim('tasks', 'lq', ?2, ?1, 1, '{\"limits\":{\"queue:lq\":"
          "2}}')");
  claim_phases(o, db, apClaim, azQueue, 50, rec_rate);
  sqlite3_finalize(apClaim[0]);
  sqlite3_finalize(apClaim[1]);
  sqlite3_close(db);
  return 0;
}

/* fair: the partition and times of each claim (A <partition> ...; phase
** 0 with 0 for the completion). */
static void rec_fair(int iPhase, const char *zPart, long long iAt,
                     long long iDone) {
  (void)iPhase;
  rec("A %s 0 %lld %lld %lld %lld 1", zPart, iAt, iAt, iDone, iDone);
}

/*
** fair worker: first claim the tasks of queue 'fq' (a backlog of tenant A,
** then a few of tenant B: partition_key) one at a time, recording each
** claim (L) and its partition and time on the store's clock (A <partition>
** 0 t t 0 0 1), and complete them; then those of queue 'fl' under the
** partition limit 1 ("partition:fl"), each held for 30 ms, recording its
** partition, claim and completion times (A <partition> 0 claimed claimed
** completed completed 1).  Each phase ends as the rate worker's.
*/
static int worker_fair(const Opt *o) {
  static const char *const azQueue[2] = {"fq", "fl"};
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *apClaim[2];
  apClaim[0] =
      prep(db, "SELECT id, lease_token, lease_expires_at - ?1, partition_key "
               "FROM state_claim('tasks', 'fq', ?2, ?1, 1)");
  apClaim[1] = prep(
      db, "SELECT id, lease_token, lease_expires_at - ?1, partition_key FROM "
          "state_claim('tasks', 'fl', ?2, ?1, 1, '{\"limits\":"
          "{\"partition:fl\":1}}')");
  claim_phases(o, db, apClaim, azQueue, 30, rec_fair);
  sqlite3_finalize(apClaim[0]);
  sqlite3_finalize(apClaim[1]);
  sqlite3_close(db);
  return 0;
}

/*
** deps worker: claim tasks of queue 'dq' one at a time and complete them,
** recording the claim (L) and its time on the store's clock (K id token
** ms: lease_expires_at - lease), the completion (C) and its completed_at
** (D id ms); right after a claim, read the states of the task's
** dependencies: one that is not 'completed' is recorded (B id).  Ends when
** 'dq' has no pending, waiting or claimed task left, or at --end.
*/
static int worker_deps(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *pClaim =
      prep(db, "SELECT id, lease_token, lease_expires_at - ?1, depends_on "
               "FROM state_claim('tasks', 'dq', ?2, ?1, 1)");
  sqlite3_stmt *pDone = prep(db, "SELECT state_complete('tasks', ?1, ?2, ?3)");
  sqlite3_stmt *pAt = prep(db, "SELECT completed_at FROM tasks WHERE id = ?1");
  sqlite3_stmt *pOpen =
      prep(db, "SELECT count(*) FROM json_each(?1) j WHERE (SELECT state "
               "FROM tasks t WHERE t.id = j.value) IS NOT 'completed'");
  sqlite3_stmt *pLeft = prep(db, "SELECT count(*) FROM tasks WHERE queue = "
                                 "'dq' AND state IN ('pending', 'waiting', "
                                 "'claimed')");
  char zWorker[32];
  long long iCheck = 0;
  snprintf(zWorker, sizeof(zWorker), "w%d", o->iId);
  sleep_ms(o->iStart - now_ms());
  while (now_ms() < o->iEnd) {
    Claimed c;
    char zDeps[256] = "";
    long long iAt = 0;
    int rc, bGot = 0;
    sqlite3_bind_int(pClaim, 1, o->iLeaseMs);
    sqlite3_bind_text(pClaim, 2, zWorker, -1, SQLITE_STATIC);
    rc = sqlite3_step(pClaim);
    if (rc == SQLITE_ROW) {
      snprintf(c.zId, sizeof(c.zId), "%s", sqlite3_column_text(pClaim, 0));
      c.iToken = sqlite3_column_int64(pClaim, 1);
      iAt = sqlite3_column_int64(pClaim, 2);
      if (sqlite3_column_type(pClaim, 3) == SQLITE_TEXT) {
        snprintf(zDeps, sizeof(zDeps), "%s", sqlite3_column_text(pClaim, 3));
      }
      bGot = 1;
      rc = sqlite3_step(pClaim);
    }
    if (rc != SQLITE_DONE) {
      rec_error(db, sqlite3_reset(pClaim), "state_claim");
      sleep_ms(20);
      continue;
    }
    sqlite3_reset(pClaim);
    if (bGot) {
      long long iDone = -1;
      rec("L %s %lld", c.zId, c.iToken);
      rec("K %s %lld %lld", c.zId, c.iToken, iAt);
      if (zDeps[0]) {
        sqlite3_bind_text(pOpen, 1, zDeps, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(pOpen) == SQLITE_ROW &&
            sqlite3_column_int64(pOpen, 0) != 0) {
          rec("B %s", c.zId);
        }
        sqlite3_reset(pOpen);
      }
      if (rnd(2)) sleep_us((long)rnd(3000));
      if (do_complete(db, pDone, &c, o->iId) == 1) {
        sqlite3_bind_text(pAt, 1, c.zId, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(pAt) == SQLITE_ROW) {
          iDone = sqlite3_column_int64(pAt, 0);
        }
        sqlite3_reset(pAt);
        rec("D %s %lld", c.zId, iDone);
      }
      continue;
    }
    if (now_ms() >= iCheck) {
      long long nLeft = -1;
      if (sqlite3_step(pLeft) == SQLITE_ROW) {
        nLeft = sqlite3_column_int64(pLeft, 0);
      }
      sqlite3_reset(pLeft);
      if (nLeft == 0) break;
      iCheck = now_ms() + 100;
    }
    sleep_ms(2);
  }
  sqlite3_finalize(pClaim);
  sqlite3_finalize(pDone);
  sqlite3_finalize(pAt);
  sqlite3_finalize(pOpen);
  sqlite3_finalize(pLeft);
  sqlite3_close(db);
  return 0;
}

/*
** cron worker: from --start to --end, claim from queue 'cron' (one task at
** a time) and complete what it gets, recording "K <id> <run_at> <ms>" (ms:
** CLOCK_REALTIME when the claim returned); when the queue is empty, wait
** for it with state_wait (at most 1 s), which must wake at the next due
** occurrence of the schedule.  Worker 0 polls instead (claims every 20 ms),
** so that both firing paths run.
*/
static int worker_cron(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  char zSql[200];
  sqlite3_stmt *pClaim, *pDone, *pWait;
  snprintf(zSql, sizeof(zSql),
           "SELECT id, run_at, lease_token FROM state_claim('tasks', 'cron', "
           "'w%d', 30000, 1)",
           o->iId);
  pClaim = prep(db, zSql);
  pDone = prep(db, "SELECT state_complete('tasks', ?1, ?2)");
  pWait = prep(db, "SELECT state_wait('tasks', 'cron', ?1)");
  sleep_ms(o->iStart - now_ms());
  while (now_ms() < o->iEnd) {
    int rc = sqlite3_step(pClaim), bGot = 0;
    if (rc == SQLITE_ROW) {
      char zId[128];
      long long iRunAt = sqlite3_column_int64(pClaim, 1);
      long long iTok = sqlite3_column_int64(pClaim, 2);
      snprintf(zId, sizeof(zId), "%s",
               (const char *)sqlite3_column_text(pClaim, 0));
      rec("K %s %lld %lld", zId, iRunAt, now_ms());
      bGot = 1;
      sqlite3_reset(pClaim);
      sqlite3_bind_text(pDone, 1, zId, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pDone, 2, iTok);
      if (sqlite3_step(pDone) != SQLITE_ROW) {
        rec_error(db, sqlite3_reset(pDone), "state_complete");
      }
      sqlite3_reset(pDone);
    } else if (rc != SQLITE_DONE) {
      rec_error(db, sqlite3_reset(pClaim), "state_claim");
    }
    sqlite3_reset(pClaim);
    if (bGot) continue;
    if (o->iId == 0) {
      sleep_ms(20);
    } else {
      long long left = o->iEnd - now_ms();
      if (left <= 0) break;
      sqlite3_bind_int64(pWait, 1, left < 1000 ? left : 1000);
      if (sqlite3_step(pWait) != SQLITE_ROW) {
        rec_error(db, sqlite3_reset(pWait), "state_wait");
      }
      sqlite3_reset(pWait);
    }
  }
  sqlite3_finalize(pClaim);
  sqlite3_finalize(pDone);
  sqlite3_finalize(pWait);
  sqlite3_close(db);
  return 0;
}

/* counters worker: nSize increments; every value strictly greater. */
static int worker_counters(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *p = prep(db, "SELECT state_incr('counters', 'mp', 'hits')");
  long long prev = 0;
  int i;
  sleep_ms(o->iStart - now_ms());
  for (i = 0; i < o->nSize; i++) {
    int rc = sqlite3_step(p);
    if (rc != SQLITE_ROW) {
      rec_error(db, sqlite3_reset(p), "state_incr");
      continue;
    }
    {
      long long v = sqlite3_column_int64(p, 0);
      if (v <= prev) {
        rec("E 0 0 state_incr returned %lld after %lld", v, prev);
        nErr++;
      }
      prev = v;
      rec("V %lld", v);
    }
    sqlite3_reset(p);
  }
  sqlite3_finalize(p);
  sqlite3_close(db);
  return 0;
}

/*
** txn worker: nSize times BEGIN IMMEDIATE, state_incr, then COMMIT ("V 1")
** or ROLLBACK ("V 0") at random; then, until queue 'tx' stays empty, claim
** one task inside a transaction and either complete it and COMMIT ("C id
** token 1 0") or ROLLBACK ("R id token"), at random.
*/
static int txnEnd(sqlite3 *db, int bCommit) {
  int rc = sqlite3_exec(db, bCommit ? "COMMIT" : "ROLLBACK", 0, 0, 0);
  if (rc != SQLITE_OK) {
    rec_error(db, rc, bCommit ? "COMMIT" : "ROLLBACK");
    sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
  }
  return rc;
}

static int worker_txn(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *pIncr = prep(db, "SELECT state_incr('counters', 'mp', 'txn')");
  sqlite3_stmt *pClaim = prep(db, "SELECT id, lease_token, outcome FROM "
                                  "state_claim('tasks', 'tx', 'w', 60000, 1)");
  sqlite3_stmt *pDone = prep(db, "SELECT state_complete('tasks', ?1, ?2)");
  int i, rc, nEmpty = 0;
  sleep_ms(o->iStart - now_ms());
  for (i = 0; i < o->nSize; i++) {
    int bCommit = (int)rnd(2);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
    if (rc != SQLITE_OK) {
      rec_error(db, rc, "BEGIN");
      continue;
    }
    if (sqlite3_step(pIncr) != SQLITE_ROW) {
      rec_error(db, sqlite3_reset(pIncr), "state_incr");
      txnEnd(db, 0);
      continue;
    }
    sqlite3_reset(pIncr);
    if (txnEnd(db, bCommit) == SQLITE_OK) rec("V %d", bCommit);
  }
  while (nEmpty < 5) {
    Claimed c;
    int n, bCommit = (int)rnd(2);
    rc = sqlite3_exec(db, "BEGIN IMMEDIATE", 0, 0, 0);
    if (rc != SQLITE_OK) {
      rec_error(db, rc, "BEGIN");
      continue;
    }
    n = do_claim(db, pClaim, &c);
    if (n <= 0) {
      txnEnd(db, 0);
      if (n == 0) {
        nEmpty++;
        sleep_ms(20);
      }
      continue;
    }
    nEmpty = 0;
    if (bCommit) {
      sqlite3_bind_text(pDone, 1, c.zId, -1, SQLITE_STATIC);
      sqlite3_bind_int64(pDone, 2, c.iToken);
      rc = sqlite3_step(pDone);
      if (rc != SQLITE_ROW || sqlite3_column_int(pDone, 0) != 1) {
        rec_error(db, sqlite3_reset(pDone), "state_complete");
        txnEnd(db, 0);
        continue;
      }
      sqlite3_reset(pDone);
      if (txnEnd(db, 1) == SQLITE_OK) rec("C %s %lld 1 0", c.zId, c.iToken);
    } else if (txnEnd(db, 0) == SQLITE_OK) {
      rec("R %s %lld", c.zId, c.iToken);
    }
  }
  sqlite3_finalize(pIncr);
  sqlite3_finalize(pClaim);
  sqlite3_finalize(pDone);
  sqlite3_close(db);
  return 0;
}

/*
** dedup: the tasks table "dd" with dedup='active' (a key unique among the
** pending and claimed tasks).  On a remote store each process names it on
** its own :memory: database; the local store's is made by the parent.
*/
static void attach_dd(const Opt *o, sqlite3 *db, const char *zNs) {
  char *zSql;
  if (!o->bRemote) return;
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE dd USING state_tasks("
                         "store='env:%s', %s='%q%q', dedup='active')",
                         o->pStore->zUrlEnv, o->pStore->zNsOpt, zNs,
                         o->pStore->zNsEnd);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
}

#define DD_KEYS 8

/*
** dedup worker.  Even ids enqueue until --end: INSERT OR IGNORE of a task
** of one of DD_KEYS keys at random ("L <key> 0" per attempt).  Odd ids
** claim one task at a time and, while holding it, count the active tasks
** of its key ("V <count>": exactly 1, itself, whatever the enqueuers do),
** then complete it ("C ..."); they stop once the queue stayed empty after
** --end.
*/
static int worker_dedup(const Opt *o) {
  sqlite3 *db = open_db(o, o->zDb, 0);
  sqlite3_stmt *pIns, *pClaim, *pCount, *pDone;
  int nEmpty = 0, rc;
  attach_dd(o, db, o->zDb);
  pIns = prep(db, "INSERT OR IGNORE INTO dd(queue, name, idempotency_key) "
                  "VALUES ('dq', 'job', ?1)");
  pClaim = prep(db, "SELECT id, lease_token, idempotency_key FROM "
                    "state_claim('dd', 'dq', 'w', 60000, 1)");
  pCount = prep(db, "SELECT count(*) FROM dd WHERE queue = 'dq' AND "
                    "idempotency_key = ?1 AND state IN ('pending', "
                    "'claimed')");
  pDone = prep(db, "SELECT state_complete('dd', ?1, ?2)");
  sleep_ms(o->iStart - now_ms());
  if (o->iId % 2 == 0) {
    while (now_ms() < o->iEnd) {
      char zKey[16];
      snprintf(zKey, sizeof(zKey), "k%u", rnd(DD_KEYS));
      sqlite3_bind_text(pIns, 1, zKey, -1, SQLITE_TRANSIENT);
      sqlite3_step(pIns);
      rc = sqlite3_reset(pIns);
      if (rc != SQLITE_OK) {
        rec_error(db, rc, "INSERT OR IGNORE");
      } else {
        rec("L %s 0", zKey);
      }
    }
  } else {
    while (nEmpty < 5) {
      Claimed c;
      char zKey[64] = "";
      rc = sqlite3_step(pClaim);
      if (rc == SQLITE_ROW) {
        snprintf(c.zId, sizeof(c.zId), "%s", sqlite3_column_text(pClaim, 0));
        c.iToken = sqlite3_column_int64(pClaim, 1);
        snprintf(zKey, sizeof(zKey), "%s",
                 (const char *)sqlite3_column_text(pClaim, 2));
        rc = sqlite3_step(pClaim);
      }
      if (rc != SQLITE_DONE) {
        rec_error(db, sqlite3_reset(pClaim), "state_claim");
        continue;
      }
      sqlite3_reset(pClaim);
      if (!zKey[0]) {
        if (now_ms() >= o->iEnd) nEmpty++;
        sleep_ms(10);
        continue;
      }
      nEmpty = 0;
      sqlite3_bind_text(pCount, 1, zKey, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(pCount) == SQLITE_ROW) {
        rec("V %lld", sqlite3_column_int64(pCount, 0));
      }
      rc = sqlite3_reset(pCount);
      if (rc != SQLITE_OK) rec_error(db, rc, "count");
      sleep_us((long)rnd(2000));
      do_complete(db, pDone, &c, o->iId);
    }
  }
  sqlite3_finalize(pIns);
  sqlite3_finalize(pClaim);
  sqlite3_finalize(pCount);
  sqlite3_finalize(pDone);
  sqlite3_close(db);
  return 0;
}

/* ------------------------------------------------------------ parent */

static char zSelf[4096];

typedef struct Worker {
  pid_t pid;
  int iId;
  int bKilled;
  int status;
  char zOut[1024];
} Worker;

/*
** Start worker iId of KIND with o's options plus the worker ones.  The
** record file is DIR/<kind>-w<id>.rec.
*/
static void spawn(const Opt *o, const char *zKind, Worker *w, int iId,
                  const char *zDb, long long iStart, int bLate) {
  char a[64][64]; /* indexed like argv */
  char *argv[64];
  int n = 0;
  pid_t pid;
#define ARG(...)                                                               \
  (snprintf(a[n], sizeof(a[n]), __VA_ARGS__), argv[n] = a[n], n++)
  memset(w, 0, sizeof(*w));
  w->iId = iId;
  snprintf(w->zOut, sizeof(w->zOut), "%s/%s-w%d.rec", o->zDir, zKind, iId);
  argv[n++] = zSelf;
  argv[n++] = "_worker";
  argv[n++] = (char *)zKind;
  argv[n++] = "-e";
  argv[n++] = (char *)o->zExt;
  argv[n++] = "--db";
  argv[n++] = (char *)zDb;
  argv[n++] = "--out";
  argv[n++] = w->zOut;
  argv[n++] = "--queue";
  argv[n++] = (char *)(o->zQueue ? o->zQueue : "q");
  ARG("--id");
  ARG("%d", iId);
  ARG("--start");
  ARG("%lld", iStart);
  ARG("--end");
  ARG("%lld", o->iEnd);
  ARG("-n");
  ARG("%d", o->nSize);
  ARG("-k");
  ARG("%d", o->nBatch);
  ARG("--lease");
  ARG("%d", o->iLeaseMs);
  ARG("--work-min");
  ARG("%d", o->iWorkMin);
  ARG("--work-max");
  ARG("%d", o->iWorkMax);
  ARG("--stop-ms");
  ARG("%d", o->iStopMs);
  ARG("--names");
  ARG("%d", o->nName);
  ARG("--ttl");
  ARG("%d", o->iTtl);
  ARG("--busy-ms");
  ARG("%d", o->iBusyMs);
  ARG("--seed");
  ARG("%u", o->iSeed + 7919u * (unsigned)(iId + 1));
  if (bLate) argv[n++] = "--late";
  if (o->bRetryIo) argv[n++] = "--retry-io";
  argv[n++] = "--store";
  argv[n++] = (char *)o->pStore->zName;
  argv[n] = 0;
#undef ARG
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    execv(zSelf, argv);
    fprintf(stderr, "mp: exec %s: %s\n", zSelf, strerror(errno));
    _exit(127);
  }
  w->pid = pid;
}

static void reap_worker(Worker *w) {
  while (waitpid(w->pid, &w->status, 0) < 0 && errno == EINTR) {
  }
}

/*
** Check that every worker ended as planned: exit 0, or SIGKILL when we
** killed it.
*/
static void check_exits(const char *zTest, Worker *aW, int nW) {
  char zName[128], zBad[1024] = "";
  int i, nBad = 0;
  size_t k = 0;
  for (i = 0; i < nW; i++) {
    int st = aW[i].status, ok;
    if (aW[i].bKilled) {
      ok = WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL;
    } else {
      ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    }
    if (!ok) {
      nBad++;
      if (k < sizeof(zBad) - 80) {
        k += (size_t)snprintf(zBad + k, sizeof(zBad) - k, "%sw%d %s %d",
                              nBad > 1 ? ", " : "", aW[i].iId,
                              WIFSIGNALED(st) ? "signal" : "exit",
                              WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
      }
    }
  }
  snprintf(zName, sizeof(zName), "mp/%s/workers-exit", zTest);
  if (nBad) {
    fail(zName, "%d worker(s) ended badly: %s", nBad, zBad);
  } else {
    pass(zName);
  }
}

/* The TEMP tables the records go to. */
static void make_rec_tables(sqlite3 *db) {
  exec_or_die(db,
              "DROP TABLE IF EXISTS temp.rec; DROP TABLE IF EXISTS temp.err;"
              "DROP TABLE IF EXISTS temp.lease; DROP TABLE IF EXISTS temp.val;"
              "CREATE TEMP TABLE rec(w INT, kind TEXT, id TEXT, token INT, "
              "  ret INT, seq INT, ms INT);"
              "CREATE TEMP TABLE err(w INT, rc INT, xrc INT, msg TEXT);"
              "CREATE TEMP TABLE lease(w INT, name TEXT, tok INT, t0 INT, "
              "  t1 INT, r0 INT, r1 INT, ret INT);"
              "CREATE TEMP TABLE val(w INT, v INT);");
}

/* Load worker w's record file into the TEMP tables. */
static void load_records(sqlite3 *db, const Worker *w) {
  FILE *f = fopen(w->zOut, "r");
  char zLine[2048];
  sqlite3_stmt *pRec, *pErr, *pLease, *pVal;
  int seq = 0;
  if (!f) return; /* a worker killed before it wrote anything */
  exec_or_die(db, "BEGIN");
  pRec = prep(db, "INSERT INTO rec VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  pErr = prep(db, "INSERT INTO err VALUES(?1, ?2, ?3, ?4)");
  pLease = prep(db, "INSERT INTO lease VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  pVal = prep(db, "INSERT INTO val VALUES(?1, ?2)");
  while (fgets(zLine, sizeof(zLine), f)) {
    char zId[128], zName[128];
    long long tok, t0, t1, r0, r1, v;
    int ret, rc, xrc, nOff = 0;
    size_t nLen = strlen(zLine);
    if (nLen == 0 || zLine[nLen - 1] != '\n') continue; /* cut by SIGKILL */
    zLine[nLen - 1] = 0;
    seq++;
    if (sscanf(zLine, "L %127s %lld", zId, &tok) == 2) {
      sqlite3_bind_int(pRec, 1, w->iId);
      sqlite3_bind_text(pRec, 2, "L", -1, SQLITE_STATIC);
      sqlite3_bind_text(pRec, 3, zId, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pRec, 4, tok);
      sqlite3_bind_null(pRec, 5);
      sqlite3_bind_int(pRec, 6, seq);
      sqlite3_bind_null(pRec, 7);
      sqlite3_step(pRec);
      sqlite3_reset(pRec);
    } else if (sscanf(zLine, "C %127s %lld %d %lld", zId, &tok, &ret, &v) ==
               4) {
      sqlite3_bind_int64(pRec, 7, v);
      sqlite3_bind_int(pRec, 1, w->iId);
      sqlite3_bind_text(pRec, 2, "C", -1, SQLITE_STATIC);
      sqlite3_bind_text(pRec, 3, zId, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pRec, 4, tok);
      sqlite3_bind_int(pRec, 5, ret);
      sqlite3_bind_int(pRec, 6, seq);
      sqlite3_step(pRec);
      sqlite3_reset(pRec);
    } else if (sscanf(zLine, "R %127s %lld", zId, &tok) == 2) {
      sqlite3_bind_int(pRec, 1, w->iId);
      sqlite3_bind_text(pRec, 2, "R", -1, SQLITE_STATIC);
      sqlite3_bind_text(pRec, 3, zId, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pRec, 4, tok);
      sqlite3_bind_int(pRec, 5, 1);
      sqlite3_bind_int(pRec, 6, seq);
      sqlite3_bind_null(pRec, 7);
      sqlite3_step(pRec);
      sqlite3_reset(pRec);
    } else if (sscanf(zLine, "E %d %d %n", &rc, &xrc, &nOff) == 2) {
      sqlite3_bind_int(pErr, 1, w->iId);
      sqlite3_bind_int(pErr, 2, rc);
      sqlite3_bind_int(pErr, 3, xrc);
      sqlite3_bind_text(pErr, 4, zLine + nOff, -1, SQLITE_TRANSIENT);
      sqlite3_step(pErr);
      sqlite3_reset(pErr);
    } else if (sscanf(zLine, "A %127s %lld %lld %lld %lld %lld %d", zName, &tok,
                      &t0, &t1, &r0, &r1, &ret) == 7) {
      sqlite3_bind_int(pLease, 1, w->iId);
      sqlite3_bind_text(pLease, 2, zName, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int64(pLease, 3, tok);
      sqlite3_bind_int64(pLease, 4, t0);
      sqlite3_bind_int64(pLease, 5, t1);
      sqlite3_bind_int64(pLease, 6, r0);
      sqlite3_bind_int64(pLease, 7, r1);
      sqlite3_bind_int(pLease, 8, ret);
      sqlite3_step(pLease);
      sqlite3_reset(pLease);
    } else if (sscanf(zLine, "K %127s %lld %lld", zId, &tok, &v) == 3 ||
               sscanf(zLine, "D %127s %lld", zId, &v) == 2 ||
               sscanf(zLine, "B %127s", zId) == 1) {
      char zKind[2] = {zLine[0], 0};
      sqlite3_bind_int(pRec, 1, w->iId);
      sqlite3_bind_text(pRec, 2, zKind, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(pRec, 3, zId, -1, SQLITE_TRANSIENT);
      if (zLine[0] == 'K') {
        sqlite3_bind_int64(pRec, 4, tok);
      } else {
        sqlite3_bind_null(pRec, 4);
      }
      sqlite3_bind_null(pRec, 5);
      sqlite3_bind_int(pRec, 6, seq);
      if (zLine[0] == 'B') {
        sqlite3_bind_null(pRec, 7);
      } else {
        sqlite3_bind_int64(pRec, 7, v);
      }
      sqlite3_step(pRec);
      sqlite3_reset(pRec);
    } else if (sscanf(zLine, "V %lld", &v) == 1) {
      sqlite3_bind_int(pVal, 1, w->iId);
      sqlite3_bind_int64(pVal, 2, v);
      sqlite3_step(pVal);
      sqlite3_reset(pVal);
    }
  }
  fclose(f);
  sqlite3_finalize(pRec);
  sqlite3_finalize(pErr);
  sqlite3_finalize(pLease);
  sqlite3_finalize(pVal);
  exec_or_die(db, "COMMIT");
}

/*
** The error checks every test shares: no SQLITE_BUSY (the design promises
** waiting), and no error at all.
*/
static void check_errors(sqlite3 *db, const char *zTest, int bVerbose) {
  char zName[128];
  long long nBusy = q1(db, "SELECT count(*) FROM err WHERE rc IN (5, 6)");
  long long nAll = q1(db, "SELECT count(*) FROM err");
  snprintf(zName, sizeof(zName), "mp/%s/no-busy", zTest);
  if (nBusy != 0) {
    fail(zName, "%lld SQLITE_BUSY/LOCKED errors in workers; e.g. %s", nBusy,
         qs(db, "SELECT group_concat(m, ' | ') FROM (SELECT DISTINCT "
                "'rc=' || xrc || ' ' || msg AS m FROM err WHERE rc IN (5, 6) "
                "LIMIT 4)"));
  } else {
    pass(zName);
  }
  snprintf(zName, sizeof(zName), "mp/%s/no-errors", zTest);
  if (nAll != 0) {
    fail(zName, "%lld errors in workers; e.g. %s", nAll,
         qs(db, "SELECT group_concat(m, ' | ') FROM (SELECT 'w' || w || "
                "' rc=' || xrc || ' ' || msg AS m, count(*) FROM err "
                "GROUP BY xrc, msg LIMIT 5)"));
  } else {
    pass(zName);
  }
  if (bVerbose && nAll) {
    sqlite3_stmt *p = prep(db, "SELECT w, xrc, msg FROM err");
    while (sqlite3_step(p) == SQLITE_ROW) {
      info("w%d rc=%d %s", sqlite3_column_int(p, 0), sqlite3_column_int(p, 1),
           sqlite3_column_text(p, 2));
    }
    sqlite3_finalize(p);
  }
}

/* "PASS" when v == want, else FAIL with a formatted message. */
static void expect_eq(const char *zTest, const char *zCheck, long long v,
                      long long want, const char *zWhat) {
  char zName[128];
  snprintf(zName, sizeof(zName), "mp/%s/%s", zTest, zCheck);
  if (v == want) {
    pass(zName);
  } else {
    fail(zName, "%s: got %lld, want %lld", zWhat, v, want);
  }
}

/* ------------------------------------------------------------ remote */

/* The namespaces this run created, removed at the end (drop_schemas). */
static char *azSchema[32];
static int nSchema = 0;

/*
** Run bash -c zCmd (bPsql: psql -X -q -v ON_ERROR_STOP=1 -d $STATEVTAB_PG_URL
** -c zCmd, with notices off), stdout to /dev/null; its exit status, or -1
** when it did not exit.
*/
static int run_cmd(const char *zCmd, int bPsql) {
  pid_t pid;
  int st = 0;
  fflush(stdout);
  fflush(stderr);
  pid = fork();
  if (pid < 0) die("fork: %s", strerror(errno));
  if (pid == 0) {
    int fd = open("/dev/null", O_WRONLY);
    if (fd >= 0) {
      dup2(fd, 1);
      close(fd);
    }
    if (bPsql) {
      const char *zUrl = getenv(STORE_PG->zUrlEnv);
      setenv("PGOPTIONS", "-c client_min_messages=warning", 1);
      execlp("psql", "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
             zUrl ? zUrl : "", "-c", zCmd, (char *)0);
      fprintf(stderr, "mp: exec psql: %s\n", strerror(errno));
    } else {
      execl("/bin/bash", "bash", "-c", zCmd, (char *)0);
      fprintf(stderr, "mp: exec /bin/bash: %s\n", strerror(errno));
    }
    _exit(127);
  }
  while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* zName as a quoted SQL identifier (sqlite3_free it). */
static char *quote_ident(const char *zName) {
  return sqlite3_mprintf("\"%w\"", zName);
}

/*
** Remove the namespaces this run created (a failure is a warning):
** PostgreSQL: DROP SCHEMA ... CASCADE (psql); Redis: every key of the
** namespace, "{<BASE>_<test>:}*" (redis-cli --scan, then DEL).
*/
static void drop_schemas(const Opt *o) {
  const Store *pS = o->pStore;
  int bPsql = STORE_OF(pS) == STORE_PG;
  sqlite3_str *s;
  char *zCmd;
  int i, rc;
  if (!nSchema) return;
  if (o->bKeepSchemas || (pS->pOf && !bPsql)) {
    /* (A Redis Cluster: redis-cli -u cannot SCAN it; its servers are
    ** thrown away.) */
    for (i = 0; i < nSchema; i++)
      info("kept %s %s%s", pS->zNsOpt, azSchema[i], pS->zNsEnd);
    return;
  }
  s = sqlite3_str_new(0);
  if (bPsql)
    sqlite3_str_appendall(s, "SET client_min_messages = warning;");
  else
    sqlite3_str_appendall(s, "set -o pipefail; for p in");
  for (i = 0; i < nSchema; i++) {
    if (bPsql) {
      char *zQ = quote_ident(azSchema[i]);
      sqlite3_str_appendf(s, " DROP SCHEMA IF EXISTS %s CASCADE;", zQ);
      sqlite3_free(zQ);
    } else {
      /* A shell word in single quotes: ' is '\''. */
      const char *z;
      sqlite3_str_appendall(s, " '{");
      for (z = azSchema[i]; *z; z++) {
        if (*z == '\'')
          sqlite3_str_appendall(s, "'\\''");
        else
          sqlite3_str_appendchar(s, 1, *z);
      }
      sqlite3_str_appendf(s, "%s}*'", pS->zNsEnd);
    }
  }
  if (!bPsql) {
    sqlite3_str_appendf(s,
                        "; do redis-cli -u \"$%s\" --scan --pattern \"$p\" | "
                        "xargs -r -d '\\n' redis-cli -u \"$%s\" DEL || "
                        "exit 1; done",
                        pS->zUrlEnv, pS->zUrlEnv);
  }
  zCmd = sqlite3_str_finish(s);
  rc = run_cmd(zCmd, bPsql);
  if (rc != 0) {
    info("WARNING: removing the %ss failed (exit %d); remove them by hand: "
         "%s",
         pS->zNsOpt, rc, zCmd);
  } else {
    const char *zPl = nSchema == 1 ? "" : bPsql ? "s" : "es";
    info("removed %d %s%s (%s_*%s)", nSchema, pS->zNsOpt, zPl, o->zSchema,
         pS->zNsEnd);
  }
  sqlite3_free(zCmd);
  for (i = 0; i < nSchema; i++) sqlite3_free(azSchema[i]);
  nSchema = 0;
}

/*
** The database of test zTest, created fresh with the four tables: a file
** in DIR, or on a remote store the namespace <BASE>_<zTest> (the returned
** name; the PostgreSQL schema, the Redis prefix "<BASE>_<zTest>:"), which
** must be empty.
*/
static char *create_db(const Opt *o, const char *zTest) {
  char *zDb;
  char *zSql;
  sqlite3 *db;
  if (o->bRemote) {
    long long nRow;
    zDb = sqlite3_mprintf("%s_%s", o->zSchema, zTest);
    if (nSchema < (int)(sizeof(azSchema) / sizeof(azSchema[0])))
      azSchema[nSchema++] = sqlite3_mprintf("%s", zDb);
    db = open_db(o, zDb, 1);
    nRow = q1(db, "SELECT (SELECT count(*) FROM tasks) + (SELECT count(*) "
                  "FROM dead_letters) + (SELECT count(*) FROM leases) + "
                  "(SELECT count(*) FROM counters)");
    if (nRow != 0) {
      die("%s %s%s holds %lld rows already: give a fresh --schema",
          o->pStore->zNsOpt, zDb, o->pStore->zNsEnd, nRow);
    }
    sqlite3_close(db);
    return zDb;
  }
  zDb = sqlite3_mprintf("%s/%s.db", o->zDir, zTest);
  unlink(zDb);
  zSql = sqlite3_mprintf("%s-wal", zDb);
  unlink(zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("%s-shm", zDb);
  unlink(zSql);
  sqlite3_free(zSql);
  db = open_db(o, zDb, 1);
  exec_or_die(db, "PRAGMA journal_mode=WAL;"
                  "CREATE VIRTUAL TABLE tasks USING state_tasks();"
                  "CREATE VIRTUAL TABLE dead_letters USING "
                  "state_dead_letters();"
                  "CREATE VIRTUAL TABLE leases USING state_leases();"
                  "CREATE VIRTUAL TABLE counters USING state_counters();"
                  "CREATE VIRTUAL TABLE signals USING state_signals();"
                  "CREATE VIRTUAL TABLE schedules USING state_schedules();");
  if (strcmp(qs(db, "PRAGMA journal_mode"), "wal") != 0) {
    die("%s: journal_mode is %s, not wal", zDb, qs(db, "PRAGMA journal_mode"));
  }
  sqlite3_close(db);
  return zDb;
}

/* Enqueue n tasks, alternating between queues qa and qb. */
static void enqueue(const Opt *o, const char *zDb, int n, int nMaxAttempts) {
  sqlite3 *db = open_db(o, zDb, 0);
  char *zSql = sqlite3_mprintf(
      "BEGIN;"
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c "
      "  WHERE i < %d) "
      "INSERT INTO tasks(queue, name, payload, max_attempts) "
      "SELECT CASE i %% 2 WHEN 0 THEN 'qa' ELSE 'qb' END, 'job', "
      "json_object('i', i), %d FROM c;"
      "COMMIT;",
      n, nMaxAttempts);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
  if (q1(db, "SELECT count(*) FROM tasks WHERE state = 'pending'") != n) {
    die("enqueue: %lld pending tasks, want %d",
        q1(db, "SELECT count(*) FROM tasks WHERE state = 'pending'"), n);
  }
  sqlite3_close(db);
}

/*
** After the workers: open zDb, load the records, snapshot the tasks into
** TEMP table task.
*/
static sqlite3 *open_results(const Opt *o, const char *zDb, Worker *aW,
                             int nW) {
  sqlite3 *db = open_db(o, zDb, 0);
  int i;
  make_rec_tables(db);
  for (i = 0; i < nW; i++) load_records(db, &aW[i]);
  exec_or_die(db, "CREATE TEMP TABLE task AS SELECT id, state, attempts, "
                  "  lease_token, lease_owner, result FROM tasks;"
                  "CREATE UNIQUE INDEX temp.task_id ON task(id);"
                  "CREATE INDEX temp.rec_id ON rec(id, kind);");
  return db;
}

/*
** The store answers the same way through every access path (after the
** workers, in place of reading the database file): the full scan (the
** snapshot task) and a fresh one count the same rows; each state's count
** with state = ? pushed down equals the snapshot's; ids are unique; and a
** lookup of every 10th id (id = ? pushed down) finds exactly that row, with
** the same state, token and attempts.  The local store also passes PRAGMA
** integrity_check on its database file.
*/
static void check_store(const Opt *o, sqlite3 *db, const char *zTest) {
  char zName[128];
  long long nTask = q1(db, "SELECT count(*) FROM task");
  long long nScan = q1(db, "SELECT count(*) FROM tasks");
  long long nState = q1(db, "SELECT count(*) FROM (SELECT state, count(*) AS "
                            "c FROM task GROUP BY state) s WHERE s.c <> "
                            "(SELECT count(*) FROM tasks x WHERE x.state = "
                            "s.state)");
  long long nDupId = nTask - q1(db, "SELECT count(DISTINCT id) FROM task");
  long long nLook =
      q1(db, "SELECT count(*) FROM task t WHERE t.rowid %% 10 = 0");
  long long nBadLook =
      q1(db, "SELECT count(*) FROM task t WHERE t.rowid %% 10 = 0 AND (SELECT "
             "count(*) FROM tasks x WHERE x.id = t.id AND x.state IS t.state "
             "AND x.lease_token IS t.lease_token AND x.attempts IS "
             "t.attempts) <> 1");
  snprintf(zName, sizeof(zName), "mp/%s/store-consistent", zTest);
  if (nTask > 0 && nScan == nTask && nState == 0 && nDupId == 0 &&
      nBadLook == 0) {
    pass(zName);
  } else {
    fail(zName,
         "snapshot %lld rows, scan %lld; %lld states whose pushed-down count "
         "differs; %lld duplicate ids; %lld of %lld lookups by id not "
         "exactly the row",
         nTask, nScan, nState, nDupId, nBadLook, nLook);
  }
  if (!o->bRemote) {
    expect_eq(zTest, "integrity",
              strcmp(qs(db, "PRAGMA integrity_check"), "ok") == 0, 1,
              "PRAGMA integrity_check is ok");
  }
}

/* ------------------------------------------------------------ stale */

/*
** A stale token, step by step, in one process with two connections (each
** with its own private store connection): A claims with a short lease, the
** lease runs out, B claims the same task (token + 1, attempts + 1); then
** A's complete/renew/fail are refused and B's complete is accepted once.
*/
static void test_stale(const Opt *o) {
  char *zDb = create_db(o, "stale");
  sqlite3 *a = open_db(o, zDb, 0), *b = open_db(o, zDb, 0);
  char zId[64] = "", zId2[64] = "";
  long long tok1 = 0, tok2 = 0, v;
  sqlite3_stmt *p;
  const char *T = "mp/queue/stale";
  char zName[128];

  exec_or_die(a, "INSERT INTO tasks(queue, name, max_attempts) "
                 "VALUES('s', 'one', 5)");
  p = prep(a, "SELECT id, lease_token FROM state_claim('tasks', 's', 'A', "
              "100, 1)");
  if (sqlite3_step(p) == SQLITE_ROW) {
    snprintf(zId, sizeof(zId), "%s", sqlite3_column_text(p, 0));
    tok1 = sqlite3_column_int64(p, 1);
  }
  sqlite3_finalize(p);
  snprintf(zName, sizeof(zName), "%s/renew-while-held", T);
  v = q1(a, "SELECT state_renew('tasks', %Q, %lld, 100) IS NOT NULL", zId,
         tok1);
  if (zId[0] && v == 1) {
    pass(zName);
  } else {
    fail(zName, "claim gave id '%s' token %lld; renew -> %lld", zId, tok1, v);
  }
  sleep_ms(250);
  p = prep(b, "SELECT id, lease_token FROM state_claim('tasks', 's', 'B', "
              "60000, 1)");
  if (sqlite3_step(p) == SQLITE_ROW) {
    snprintf(zId2, sizeof(zId2), "%s", sqlite3_column_text(p, 0));
    tok2 = sqlite3_column_int64(p, 1);
  }
  sqlite3_finalize(p);
  snprintf(zName, sizeof(zName), "%s/reclaimed-after-expiry", T);
  if (strcmp(zId, zId2) == 0 && tok2 > tok1 &&
      q1(b, "SELECT attempts FROM tasks WHERE id = %Q", zId) == 2) {
    pass(zName);
  } else {
    fail(zName,
         "B claimed '%s' token %lld (A had '%s' token %lld), "
         "attempts %lld",
         zId2, tok2, zId, tok1,
         q1(b, "SELECT attempts FROM tasks WHERE id = %Q", zId));
  }
  expect_eq("queue", "stale/complete-refused",
            q1(a, "SELECT state_complete('tasks', %Q, %lld)", zId, tok1), 0,
            "state_complete with the old token");
  expect_eq(
      "queue", "stale/renew-refused",
      q1(a, "SELECT state_renew('tasks', %Q, %lld, 1000) IS NULL", zId, tok1),
      1, "state_renew with the old token IS NULL");
  expect_eq(
      "queue", "stale/fail-refused",
      q1(a, "SELECT state_fail('tasks', %Q, %lld, 'boom') IS NULL", zId, tok1),
      1, "state_fail with the old token IS NULL");
  snprintf(zName, sizeof(zName), "%s/row-unchanged", T);
  {
    const char *z = qs(a,
                       "SELECT printf('%%s %%s %%s %%s %%s', state, "
                       "lease_token, coalesce(lease_owner, '-'), attempts, "
                       "coalesce(error, '-')) FROM tasks WHERE id = %Q",
                       zId);
    char zWant[64];
    snprintf(zWant, sizeof(zWant), "claimed %lld B 2 -", tok2);
    if (strcmp(z, zWant) == 0) {
      pass(zName);
    } else {
      fail(zName, "task is '%s', want '%s'", z, zWant);
    }
  }
  expect_eq("queue", "stale/current-accepted",
            q1(b, "SELECT state_complete('tasks', %Q, %lld, '{\"ok\":1}')", zId,
               tok2),
            1, "state_complete with the current token");
  /* The same token again (a retry after a lost reply): 1 again, and the
  ** first result stays (final-row). */
  expect_eq("queue", "stale/second-complete-repeats",
            q1(b, "SELECT state_complete('tasks', %Q, %lld)", zId, tok2), 1,
            "state_complete again with the token that completed it");
  snprintf(zName, sizeof(zName), "%s/final-row", T);
  {
    const char *z = qs(a,
                       "SELECT state || ' ' || json(result) FROM tasks "
                       "WHERE id = %Q",
                       zId);
    if (strcmp(z, "completed {\"ok\":1}") == 0) {
      pass(zName);
    } else {
      fail(zName, "task is '%s', want 'completed {\"ok\":1}'", z);
    }
  }
  sqlite3_close(a);
  sqlite3_close(b);
  sqlite3_free(zDb);
}

/*
** An error inside a primitive that ran on the store's private connection
** (autocommit, WAL file) must carry that connection's message, as it does
** inside an explicit transaction (the caller's connection).  An index on
** abs(value) makes the UPDATE of the second state_incr fail: it takes the
** value to -2^63, whose abs() is an integer overflow.  (Not a trigger: the
** local store refuses shadow tables with triggers before it writes.)
*/
static void test_errmsg(const Opt *o) {
  char *zDb = create_db(o, "errmsg");
  sqlite3 *db = open_db(o, zDb, 0);
  const char *zWant = "state_incr: integer overflow";
  char zGot[2][300];
  int i;
  exec_or_die(db, "CREATE INDEX frozen ON counters_data(abs(value));"
                  "SELECT state_incr('counters', 'x', 'y', "
                  "-9223372036854775807);");
  for (i = 0; i < 2; i++) {
    /* 0: autocommit (private connection); 1: explicit transaction */
    char *zErr = 0;
    if (i == 1) exec_or_die(db, "BEGIN IMMEDIATE");
    sqlite3_exec(db, "SELECT state_incr('counters', 'x', 'y', -1)", 0, 0,
                 &zErr);
    snprintf(zGot[i], sizeof(zGot[i]), "%s", zErr ? zErr : "(no error)");
    sqlite3_free(zErr);
    if (i == 1) exec_or_die(db, "ROLLBACK");
  }
  for (i = 0; i < 2; i++) {
    const char *zName = i ? "mp/wal/errmsg-caller-connection"
                          : "mp/wal/errmsg-private-connection";
    if (strcmp(zGot[i], zWant) == 0) {
      pass(zName);
    } else {
      fail(zName, "error is '%s', want '%s'", zGot[i], zWant);
    }
  }
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/*
** PostgreSQL: a server-side error inside a primitive (a trigger on the
** counters table that raises) reaches the caller with the server's message,
** in autocommit mode and inside an explicit transaction; there, only the
** failed statement is undone: the transaction goes on and commits the
** other writes.
*/
static void test_errmsg_pg(const Opt *o) {
  char *zDb = create_db(o, "errmsg");
  sqlite3 *db = open_db(o, zDb, 0);
  const char *zWant = "state_incr: postgresql: counter is frozen";
  char zGot[2][300];
  char *zQ = quote_ident(zDb), *zSql;
  int i, rc;
  exec_or_die(db, "SELECT state_incr('counters', 'x', 'y')");
  zSql = sqlite3_mprintf(
      "CREATE FUNCTION %s.mp_frozen() RETURNS trigger LANGUAGE plpgsql AS "
      "$mp$BEGIN RAISE EXCEPTION 'counter is frozen'; END$mp$; "
      "CREATE TRIGGER frozen BEFORE UPDATE ON %s.counters FOR EACH ROW "
      "EXECUTE FUNCTION %s.mp_frozen()",
      zQ, zQ, zQ);
  rc = run_cmd(zSql, 1);
  sqlite3_free(zSql);
  sqlite3_free(zQ);
  if (rc != 0) {
    fail("mp/errmsg/setup", "psql CREATE TRIGGER failed (exit %d)", rc);
    sqlite3_close(db);
    sqlite3_free(zDb);
    return;
  }
  for (i = 0; i < 2; i++) {
    /* 0: autocommit; 1: explicit transaction */
    char *zErr = 0;
    if (i == 1) exec_or_die(db, "BEGIN");
    sqlite3_exec(db, "SELECT state_incr('counters', 'x', 'y')", 0, 0, &zErr);
    snprintf(zGot[i], sizeof(zGot[i]), "%s", zErr ? zErr : "(no error)");
    sqlite3_free(zErr);
    if (i == 1) {
      zErr = 0;
      if (sqlite3_exec(db,
                       "SELECT state_incr('counters', 'x', 'z');"
                       "COMMIT",
                       0, 0, &zErr) != SQLITE_OK) {
        fail("mp/errmsg/transaction-goes-on", "after the failed state_incr: %s",
             zErr ? zErr : "?");
        sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
      } else {
        const char *z = qs(db, "SELECT group_concat(name || '=' || value, ' ') "
                               "FROM (SELECT name, value FROM counters WHERE "
                               "scope = 'x' ORDER BY name)");
        if (strcmp(z, "y=1 z=1") == 0) {
          pass("mp/errmsg/transaction-goes-on");
        } else {
          fail("mp/errmsg/transaction-goes-on",
               "counters after COMMIT: '%s', want 'y=1 z=1'", z);
        }
      }
      sqlite3_free(zErr);
    }
  }
  for (i = 0; i < 2; i++) {
    const char *zName = i ? "mp/errmsg/in-transaction" : "mp/errmsg/autocommit";
    if (strcmp(zGot[i], zWant) == 0) {
      pass(zName);
    } else {
      fail(zName, "error is '%s', want '%s'", zGot[i], zWant);
    }
  }
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/*
** What a worker process starting now does: open zDb (on a remote store: a
** :memory: database and CREATE VIRTUAL TABLE of the four tables, which
** connects and sets up the namespace; open_store) and read the tasks.  NULL
** when that worked, else the error (sqlite3_free it).  Does not exit on an
** error.
*/
static char *try_attach(const Opt *o, const char *zDb) {
  sqlite3 *db = 0;
  char *zErr = 0, *zRet = 0;
  int rc = open_store(o, zDb, 1, &db, &zErr);
  if (rc == SQLITE_OK) {
    rc = sqlite3_exec(db, "SELECT count(*) FROM tasks WHERE state = 'pending'",
                      0, 0, &zErr);
  }
  if (rc != SQLITE_OK) {
    zRet = sqlite3_mprintf("rc=%d %s", rc,
                           zErr ? zErr : (db ? sqlite3_errmsg(db) : "?"));
  }
  sqlite3_free(zErr);
  sqlite3_close(db);
  return zRet;
}

/* ------------------------------------------------------------ queue */

static void test_queue(Opt *o) {
  const char *T = "queue";
  char *zDb;
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  double t0, t1;
  long long n = o->nSize;
  int i, nAttachFail = 0;
  char zAttachErr[400] = "";

  test_stale(o);
  if (o->pStore == STORE_PG) {
    test_errmsg_pg(o);
  } else if (!o->bRemote) {
    test_errmsg(o);
  } /* Redis: no error-message case (no triggers; see the top) */

  zDb = create_db(o, T);
  t0 = mono_s();
  enqueue(o, zDb, o->nSize, 3);
  info("queue: enqueued %d tasks in %.2f s", o->nSize, mono_s() - t0);
  o->zQueue = "[\"qa\",\"qb\"]";
  o->iLeaseMs = 60000;
  o->iWorkMin = o->iWorkMax = 0;
  o->iStopMs = 300; /* nothing can come back: leases outlive the test */
  t0 = mono_s();
  {
    long long tStart = now_ms() + 300;
    for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
    /* Meanwhile, new processes join: 20 attaches, 100 ms apart, from the
    ** start of the drain (a worker pool that grows while it works). */
    sleep_ms(tStart + 100 - now_ms());
    for (i = 0; i < 20; i++) {
      char *zErr = try_attach(o, zDb);
      if (zErr) {
        if (!nAttachFail++)
          snprintf(zAttachErr, sizeof(zAttachErr), "%s", zErr);
        sqlite3_free(zErr);
      }
      sleep_ms(100);
    }
  }
  for (i = 0; i < o->nWorker; i++) reap_worker(&aW[i]);
  t1 = mono_s();
  info("queue: %d workers drained %lld tasks (claim n=%d) in %.2f s, "
       "%.0f tasks/s",
       o->nWorker, n, o->nBatch, t1 - t0, (double)n / (t1 - t0));
  check_exits(T, aW, o->nWorker);
  {
    char zName[64];
    snprintf(zName, sizeof(zName), "mp/%s/attach-while-busy", T);
    if (nAttachFail == 0) {
      pass(zName);
    } else {
      fail(zName,
           "%d of 20 processes that joined during the drain could not "
           "open the tables; first: %s",
           nAttachFail, zAttachErr);
    }
  }

  db = open_results(o, zDb, aW, o->nWorker);
  info("queue: per worker completions: %s",
       qs(db, "SELECT group_concat(x, ' ') FROM (SELECT 'w' || w || '=' || "
              "count(*) AS x FROM rec WHERE kind = 'C' AND ret = 1 "
              "GROUP BY w ORDER BY w)"));
  expect_eq(T, "all-completed",
            q1(db, "SELECT count(*) FROM task WHERE state = 'completed'"), n,
            "tasks in state 'completed'");
  expect_eq(T, "no-other-state",
            q1(db, "SELECT count(*) FROM task WHERE state <> 'completed'"), 0,
            "tasks in another state");
  expect_eq(T, "claimed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM rec WHERE kind = "
                   "'L' GROUP BY id HAVING count(*) > 1)"),
            0, "tasks handed out by state_claim more than once");
  expect_eq(T, "claims-total",
            q1(db, "SELECT count(DISTINCT id) FROM rec WHERE kind = 'L'"), n,
            "distinct tasks claimed");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM rec WHERE kind = "
                   "'C' AND ret = 1 GROUP BY id HAVING count(*) > 1)"),
            0, "tasks completed (state_complete = 1) more than once");
  expect_eq(T, "completions-total",
            q1(db, "SELECT count(DISTINCT id) FROM rec WHERE kind = 'C' AND "
                   "ret = 1"),
            n, "distinct tasks completed by workers");
  expect_eq(T, "no-refused-completion",
            q1(db, "SELECT count(*) FROM rec WHERE kind = 'C' AND ret = 0"), 0,
            "state_complete returning 0 for a held token (60 s lease)");
  expect_eq(T, "completed-by-claimer",
            q1(db, "SELECT count(*) FROM rec c JOIN rec l ON l.id = c.id AND "
                   "l.kind = 'L' WHERE c.kind = 'C' AND c.ret = 1 AND "
                   "(l.w <> c.w OR l.token <> c.token)"),
            0, "completions by another worker or token than the claim's");
  expect_eq(T, "row-matches",
            q1(db, "SELECT count(*) FROM rec c JOIN task t USING(id) WHERE "
                   "c.kind = 'C' AND c.ret = 1 AND (t.lease_token <> c.token "
                   "OR t.attempts <> 1 OR json_extract(t.result, '$.w') <> "
                   "c.w OR t.lease_owner IS NOT NULL)"),
            0, "completed rows whose token/attempts/result/owner disagree");
  check_errors(db, T, o->bVerbose);
  check_store(o, db, T);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ restart */

/*
** SQL conditions on err.msg, for the connection errors of the remote store
** pS: the statement in flight failed ("<store>: connection lost (...)";
** on Redis also "redis: no reply from ... (command timeout)"), a statement
** found the server down ("<store>: cannot connect to ...").  sqlite3_free
** them.
*/
static char *sql_lost(const Store *pS) {
  char *z;
  pS = STORE_OF(pS);
  z = sqlite3_mprintf("msg LIKE '%%%s: connection lost (%%'", pS->zName);
  if (pS->bNoReply) {
    z = sqlite3_mprintf("%z OR msg LIKE '%%%s: no reply from %% ms (command "
                        "timeout)%%'",
                        z, pS->zName);
  }
  return sqlite3_mprintf("(%z)", z);
}
static char *sql_down(const Store *pS) {
  /* A Redis Cluster between a primary's failure and a replica's promotion
  ** refuses every command ("redis: the cluster is down (...)"); then, until
  ** the failed node is back as the new primary's replica, a write waits
  ** for a replica in vain ("redis: wait_replicas=1: 0 replica(s) ..."). */
  const char *z = STORE_OF(pS)->zName;
  return sqlite3_mprintf("(msg LIKE '%%%s: cannot connect to %%' OR msg LIKE "
                         "'%%%s: the cluster is down %%' OR msg LIKE "
                         "'%%%s: wait_replicas=%%')",
                         z, z, z);
}

/*
** restart (remote stores): 8 workers drain n tasks like queue (leases of
** 8 s, so that a claim whose answer the restart swallowed comes back);
** once a quarter of them are completed the parent restarts the server with
** --restart.  Workers retry a failed call every 50 ms (complete_retry).
** Checked: every error a worker saw was SQLITE_IOERR with a connection
** message ("<store>: connection lost (...)" for the statement in flight --
** on Redis also "redis: no reply from ... (command timeout)" --, and
** "<store>: cannot connect to ..." while the server was down), at most one
** lost statement per worker (the restart hits each connection once: the
** next statement reconnects), and still every task completed exactly once
** with nothing lost.  --kill-workers N: N workers are SIGKILLed (holding
** leases) just before CMD runs, and as many fresh ones drain the rest; a
** task a victim completed without living to record it counts as completed
** by it.  --lost-max N: allow N lost statements per worker (CMD injects
** several faults: suite 72-faults).  $MP_TABLE_OPTS adds table options
** (command_timeout=...).
*/
static void test_restart(Opt *o) {
  const char *T = "restart";
  const char *zS = o->pStore->zName;
  char *zDb, *zLost, *zDown;
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  double t0, tR = 0;
  long long n = o->nSize, nAtRestart = -1, tDeadline;
  int i, rcRestart = -1, nTotal = o->nWorker, nKill = o->nRestartKill;
  int nLostMax = o->nLostMax > 0 ? o->nLostMax : 1;

  if (!o->bRemote) {
    fail("mp/restart/setup", "restart runs on a remote store only "
                             "(--store postgresql or redis)");
    return;
  }
  if (!o->zRestart || !o->zRestart[0]) {
    fail("mp/restart/setup", "no --restart CMD: cannot restart the server");
    return;
  }
  zDb = create_db(o, T);
  enqueue(o, zDb, o->nSize, 3);
  o->zQueue = "[\"qa\",\"qb\"]";
  o->iLeaseMs = 8000;
  o->iWorkMin = o->iWorkMax = 0;
  o->iStopMs = o->iLeaseMs + 1500; /* outlast a claim whose answer was lost */
  o->bRetryIo = 1;
  t0 = mono_s();
  {
    long long tStart = now_ms() + 300;
    for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  }
  /* A quarter done: restart the server under the workers. */
  db = open_db(o, zDb, 0);
  tDeadline = now_ms() + 120000;
  while (now_ms() < tDeadline) {
    nAtRestart = q1(db, "SELECT count(*) FROM tasks WHERE state = 'completed'");
    if (nAtRestart >= n / 4) break;
    sleep_ms(10);
  }
  sqlite3_close(db);
  if (nKill > o->nWorker - 1) nKill = o->nWorker - 1;
  for (i = 0; i < nKill; i++) {
    if (waitpid(aW[i].pid, &aW[i].status, WNOHANG) == aW[i].pid) continue;
    kill(aW[i].pid, SIGKILL);
    aW[i].bKilled = 1;
    reap_worker(&aW[i]);
  }
  tR = mono_s();
  rcRestart = run_cmd(o->zRestart, 0);
  for (i = 0; i < nKill; i++) {
    if (!aW[i].bKilled) continue;
    spawn(o, T, &aW[nTotal], nTotal, zDb, now_ms(), 0);
    nTotal++;
  }
  info("restart: server restarted at +%.2f s with %lld of %lld tasks "
       "completed; the restart took %.2f s (exit %d)",
       tR - t0, nAtRestart, n, mono_s() - tR, rcRestart);
  for (i = 0; i < nTotal; i++) {
    if (!aW[i].bKilled) reap_worker(&aW[i]);
  }
  info("restart: %d workers (%d SIGKILLed, as many fresh) drained %lld tasks "
       "(claim n=%d) in %.2f s",
       o->nWorker, nTotal - o->nWorker, n, o->nBatch, mono_s() - t0);
  {
    char zName[64];
    snprintf(zName, sizeof(zName), "mp/%s/restarted-mid-run", T);
    if (rcRestart == 0 && nAtRestart > 0 && nAtRestart < n) {
      pass(zName);
    } else {
      fail(zName,
           "restart command exit %d with %lld of %lld tasks completed "
           "(want exit 0, mid-run; a larger -n helps)",
           rcRestart, nAtRestart, n);
    }
  }
  check_exits(T, aW, nTotal);

  db = open_results(o, zDb, aW, nTotal);
  /* Accepted completions: state_complete returned 1, or a retry returned
  ** 0 after the call that committed lost its answer (R); a SIGKILLed
  ** worker's completion it did not live to record is read from the row. */
  exec_or_die(db, "CREATE TEMP TABLE victim(w INT PRIMARY KEY)");
  for (i = 0; i < nTotal; i++) {
    if (aW[i].bKilled) {
      char *z = sqlite3_mprintf("INSERT INTO victim VALUES(%d)", aW[i].iId);
      exec_or_die(db, z);
      sqlite3_free(z);
    }
  }
  exec_or_die(db, "CREATE TEMP VIEW acc AS SELECT w, id, token FROM rec "
                  "WHERE (kind = 'C' AND ret = 1) OR kind = 'R' UNION "
                  "SELECT json_extract(result, '$.w'), id, lease_token FROM "
                  "task WHERE state = 'completed' AND json_extract(result, "
                  "'$.w') IN victim AND NOT EXISTS (SELECT 1 FROM rec WHERE "
                  "kind IN ('C', 'R') AND rec.id = task.id AND (kind = 'R' "
                  "OR ret = 1))");
  zLost = sql_lost(o->pStore);
  zDown = sql_down(o->pStore);
  info("restart: worker errors: %s; completions recovered by reading the "
       "row: %lld; tasks claimed more than once (a claim's answer lost): "
       "%lld",
       qs(db,
          "SELECT coalesce(group_concat(x, ', '), 'none') FROM (SELECT "
          "k || ' ' || count(*) || ' (' || group_concat(DISTINCT 'w' || "
          "w) || ')' AS x FROM (SELECT w, CASE WHEN %s THEN 'connection "
          "lost' WHEN %s THEN 'cannot connect' ELSE 'other' END AS k "
          "FROM err) GROUP BY k)",
          zLost, zDown),
       q1(db, "SELECT count(*) FROM rec WHERE kind = 'R'"),
       q1(db, "SELECT count(*) FROM task WHERE attempts > 1"));
  expect_eq(T, "all-completed",
            q1(db, "SELECT count(*) FROM task WHERE state = 'completed'"), n,
            "tasks in state 'completed'");
  expect_eq(T, "nothing-lost", q1(db, "SELECT count(*) FROM task"), n,
            "tasks in the table");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM acc GROUP BY id "
                   "HAVING count(*) > 1)"),
            0, "tasks whose completion was accepted more than once");
  expect_eq(T, "completions-total",
            q1(db, "SELECT count(DISTINCT id) FROM acc"), n,
            "distinct tasks whose completion a worker saw accepted");
  expect_eq(T, "handout-unique",
            q1(db, "SELECT count(*) FROM (SELECT 1 FROM rec WHERE kind = 'L' "
                   "GROUP BY id, token HAVING count(*) > 1)"),
            0, "(task, token) pairs handed to two claims");
  expect_eq(T, "completed-by-claimer",
            q1(db, "SELECT count(*) FROM acc c WHERE NOT EXISTS (SELECT 1 "
                   "FROM rec l WHERE l.kind = 'L' AND l.id = c.id AND l.w = "
                   "c.w AND l.token = c.token)"),
            0, "accepted completions without the worker's claim of that token");
  expect_eq(T, "row-matches",
            q1(db, "SELECT count(*) FROM acc c JOIN task t USING(id) WHERE "
                   "t.lease_token <> c.token OR t.attempts <> t.lease_token "
                   "OR json_extract(t.result, '$.w') <> c.w OR t.lease_owner "
                   "IS NOT NULL"),
            0, "completed rows whose token/attempts/result/owner disagree");
  expect_eq(T, "refused-token-stale",
            q1(db, "SELECT count(*) FROM rec c JOIN task t USING(id) WHERE "
                   "c.kind = 'C' AND c.ret = 0 AND c.token >= t.lease_token "
                   "AND NOT EXISTS (SELECT 1 FROM rec r WHERE r.kind = 'R' "
                   "AND r.id = c.id AND r.token = c.token)"),
            0, "completions refused although the token was current");
  {
    char zName[64];
    char *zOther = sqlite3_mprintf("rc <> 10 OR NOT (%s OR %s)", zLost, zDown);
    long long nOther = q1(db, "SELECT count(*) FROM err WHERE %s", zOther);
    snprintf(zName, sizeof(zName), "mp/%s/errors-clear", T);
    if (nOther == 0) {
      pass(zName);
    } else {
      fail(zName,
           "%lld worker errors other than SQLITE_IOERR '%s: connection lost "
           "(...)'%s / '%s: cannot connect to ...'; e.g. %s",
           nOther, zS, o->pStore->bNoReply ? " or 'no reply from ...'" : "", zS,
           qs(db,
              "SELECT group_concat(m, ' | ') FROM (SELECT DISTINCT 'w' "
              "|| w || ' rc=' || xrc || ' ' || msg AS m FROM err WHERE "
              "%s LIMIT 4)",
              zOther));
    }
    sqlite3_free(zOther);
  }
  expect_eq(T, "lost-once-per-worker",
            q1(db,
               "SELECT count(*) FROM (SELECT w FROM err WHERE %s GROUP "
               "BY w HAVING count(*) > %d)",
               zLost, nLostMax),
            0,
            "workers that lost a statement in flight more than once (the "
            "restart should cost each connection one statement)");
  sqlite3_free(zLost);
  sqlite3_free(zDown);
  {
    char zName[64];
    long long nBusy = q1(db, "SELECT count(*) FROM err WHERE rc IN (5, 6)");
    snprintf(zName, sizeof(zName), "mp/%s/no-busy", T);
    if (nBusy == 0) {
      pass(zName);
    } else {
      fail(zName, "%lld SQLITE_BUSY/LOCKED errors in workers", nBusy);
    }
  }
  if (o->bVerbose) {
    sqlite3_stmt *p = prep(db, "SELECT w, xrc, msg FROM err");
    while (sqlite3_step(p) == SQLITE_ROW) {
      info("w%d rc=%d %s", sqlite3_column_int(p, 0), sqlite3_column_int(p, 1),
           sqlite3_column_text(p, 2));
    }
    sqlite3_finalize(p);
  }
  check_store(o, db, T);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ crash */

/* Does the last complete line of file z start with "L "? */
static int last_line_is_claim(const char *z) {
  char zBuf[512];
  int fd = open(z, O_RDONLY);
  off_t sz;
  ssize_t n;
  int i, iEnd;
  if (fd < 0) return 0;
  sz = lseek(fd, 0, SEEK_END);
  if (sz <= 0) {
    close(fd);
    return 0;
  }
  n = pread(fd, zBuf, sizeof(zBuf) - 1,
            sz > (off_t)sizeof(zBuf) - 1 ? sz - (off_t)sizeof(zBuf) + 1 : 0);
  close(fd);
  if (n <= 0 || zBuf[n - 1] != '\n') return 0;
  iEnd = (int)n - 1;
  for (i = iEnd - 1; i >= 0 && zBuf[i] != '\n'; i--) {
  }
  return zBuf[i + 1] == 'L' && zBuf[i + 2] == ' ';
}

/*
** crash: 8 workers with 300 ms leases, 2-8 ms of "work" per task; the
** parent SIGKILLs nKill of them at random moments, each right after it
** recorded a claim (so it dies holding leases), then starts as many fresh
** workers.  The last worker is "late": every 4th batch it finishes only
** after its leases ran out, so stale completions meet re-claimed tasks.
** Tasks have max_attempts 10, so nothing may die.
*/
static void test_crash(Opt *o) {
  const char *T = "crash";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  int aVictim[MAX_WORKERS], nW = o->nWorker, nTotal, i, j;
  long long aKillAt[MAX_WORKERS], tStart, n = o->nSize;
  double t0;
  sqlite3 *db;

  if (o->nKill > nW - 2) o->nKill = nW - 2;
  enqueue(o, zDb, o->nSize, 10);
  o->zQueue = "[\"qa\",\"qb\"]";
  o->iLeaseMs = 300;
  o->iWorkMin = 2000;
  o->iWorkMax = 8000;
  o->iStopMs = 3 * o->iLeaseMs + 700; /* outlast every dead lease */

  /* Victims among workers 0..nW-2; the last one is the late worker. */
  for (i = 0; i < nW - 1; i++) aVictim[i] = i;
  for (i = 0; i < o->nKill; i++) {
    j = i + (int)rnd((unsigned)(nW - 1 - i));
    int t = aVictim[i];
    aVictim[i] = aVictim[j];
    aVictim[j] = t;
    aKillAt[i] = 250 + rnd(1200);
  }
  for (i = 0; i < o->nKill; i++) { /* sort the kill times */
    for (j = i + 1; j < o->nKill; j++) {
      if (aKillAt[j] < aKillAt[i]) {
        long long t = aKillAt[i];
        aKillAt[i] = aKillAt[j];
        aKillAt[j] = t;
      }
    }
  }

  t0 = mono_s();
  tStart = now_ms() + 300;
  for (i = 0; i < nW; i++) spawn(o, T, &aW[i], i, zDb, tStart, i == nW - 1);
  nTotal = nW;
  for (i = 0; i < o->nKill; i++) {
    Worker *w = &aW[aVictim[i]];
    long long tWait;
    sleep_ms(tStart + aKillAt[i] - now_ms());
    /* Kill while it holds leases: right after it recorded a claim. */
    for (tWait = now_ms() + 500; now_ms() < tWait;) {
      if (last_line_is_claim(w->zOut)) break;
      sleep_us(200);
    }
    if (waitpid(w->pid, &w->status, WNOHANG) == w->pid) {
      /* It ran out of work first (a small -n): nothing to kill. */
      info("crash: w%d had already exited at +%lld ms", w->iId,
           now_ms() - tStart);
      w->pid = 0;
      continue;
    }
    kill(w->pid, SIGKILL);
    w->bKilled = 1;
    reap_worker(w);
    info("crash: SIGKILLed w%d at +%lld ms", w->iId, now_ms() - tStart);
  }
  /* Fresh workers replace the dead ones and drain the rest. */
  for (i = 0; i < o->nKill; i++) {
    spawn(o, T, &aW[nTotal], nTotal, zDb, now_ms(), 0);
    nTotal++;
  }
  for (i = 0; i < nTotal; i++) {
    if (!aW[i].bKilled && aW[i].pid) reap_worker(&aW[i]);
  }
  for (i = j = 0; i < nTotal; i++) j += aW[i].bKilled;
  info("crash: %lld tasks, %d workers + %d fresh, %d killed, lease %d ms, "
       "%.2f s",
       n, nW, o->nKill, j, o->iLeaseMs, mono_s() - t0);
  check_exits(T, aW, nTotal);

  db = open_results(o, zDb, aW, nTotal);
  exec_or_die(db, "CREATE TEMP TABLE victim(w INT PRIMARY KEY)");
  for (i = 0; i < o->nKill; i++) {
    char *z = sqlite3_mprintf("INSERT INTO victim VALUES(%d)", aVictim[i]);
    exec_or_die(db, z);
    sqlite3_free(z);
  }
  /* Tasks a victim held when it died: claimed (L), and neither a C record
  ** of it nor the row says that it completed them (it may have died between
  ** state_complete and writing the record). */
  exec_or_die(db,
              "CREATE TEMP TABLE held AS SELECT l.w, l.id, l.token FROM rec l "
              "WHERE l.kind = 'L' AND l.w IN victim AND NOT EXISTS (SELECT 1 "
              "FROM rec c WHERE c.kind = 'C' AND c.id = l.id AND c.token = "
              "l.token AND c.w = l.w) AND NOT EXISTS (SELECT 1 FROM task t "
              "WHERE t.id = l.id AND t.state = 'completed' AND t.lease_token "
              "= l.token AND json_extract(t.result, '$.w') = l.w)");
  info("crash: tasks held by killed workers: %lld (%s); late completions "
       "refused as stale: %lld, %lld of them while the new holder still "
       "held the task",
       q1(db, "SELECT count(*) FROM held"),
       qs(db, "SELECT group_concat(x, ' ') FROM (SELECT 'w' || w || '=' || "
              "count(*) AS x FROM held GROUP BY w)"),
       q1(db, "SELECT count(*) FROM rec WHERE kind = 'C' AND ret = 0"),
       q1(db, "SELECT count(*) FROM rec r WHERE kind = 'C' AND ret = 0 AND "
              "EXISTS (SELECT 1 FROM rec c WHERE c.kind = 'C' AND c.ret = 1 "
              "AND c.id = r.id AND c.token > r.token AND c.ms > r.ms)"));

  expect_eq(T, "all-completed",
            q1(db, "SELECT count(*) FROM task WHERE state = 'completed'"), n,
            "tasks in state 'completed'");
  expect_eq(T, "nothing-lost", q1(db, "SELECT count(*) FROM task"), n,
            "tasks in the table");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM rec WHERE kind = "
                   "'C' AND ret = 1 GROUP BY id HAVING count(*) > 1)"),
            0, "tasks with more than one accepted state_complete");
  /* A killed worker may have completed a task and died before it wrote the
  ** C record, so the records hold at most n accepted completions and every
  ** task without one is a victim's. */
  expect_eq(T, "completions-accounted",
            q1(db, "SELECT count(*) FROM task t WHERE NOT EXISTS (SELECT 1 "
                   "FROM rec c WHERE c.kind = 'C' AND c.ret = 1 AND c.id = "
                   "t.id) AND json_extract(t.result, '$.w') NOT IN victim"),
            0, "completed tasks with no accepted completion on record");
  expect_eq(T, "handout-unique",
            q1(db, "SELECT count(*) FROM (SELECT 1 FROM rec WHERE kind = 'L' "
                   "GROUP BY id, token HAVING count(*) > 1)"),
            0, "(task, token) pairs handed to two claims");
  expect_eq(T, "accepted-token-current",
            q1(db, "SELECT count(*) FROM rec c JOIN task t USING(id) WHERE "
                   "c.kind = 'C' AND c.ret = 1 AND c.token <> t.lease_token"),
            0, "completions accepted with a token that was not the last");
  expect_eq(T, "refused-token-stale",
            q1(db, "SELECT count(*) FROM rec c JOIN task t USING(id) WHERE "
                   "c.kind = 'C' AND c.ret = 0 AND c.token >= t.lease_token"),
            0, "completions refused although the token was current");
  {
    long long nHeld = q1(db, "SELECT count(*) FROM held");
    char zName[64];
    snprintf(zName, sizeof(zName), "mp/%s/killed-held-leases", T);
    if (nHeld > 0) {
      pass(zName);
    } else {
      fail(zName, "no killed worker held a lease when it died (test did not "
                  "exercise expiry; re-run)");
    }
  }
  expect_eq(T, "reclaimed-after-kill",
            q1(db, "SELECT count(*) FROM held h JOIN task t USING(id) WHERE "
                   "t.attempts < 2 OR t.lease_token <= h.token OR t.state <> "
                   "'completed'"),
            0,
            "tasks held by a killed worker without attempts >= 2, a "
            "higher token and state completed");
  expect_eq(T, "attempts-equal-tokens",
            q1(db, "SELECT count(*) FROM task WHERE attempts <> lease_token"),
            0,
            "tasks whose attempts differ from lease_token (one claim "
            "bumps both)");
  expect_eq(T, "no-dead-letters", q1(db, "SELECT count(*) FROM dead_letters"),
            0, "dead letters (max_attempts 10)");
  check_errors(db, T, o->bVerbose);
  check_store(o, db, T);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ leases */

/*
** leases: nWorker processes contend for nName leases for nSec seconds
** (ttl 200 ms, held 1-3 ms, every 4th grant re-entered once).  Checked per
** name: tokens unique, exactly 1..grants (gapless stores: not Redis),
** increasing in time (a grant called after another returned has a higher
** token), leases.token the last one, and in token order each grant came
** after the previous holder let go.
*/
static void test_leases(Opt *o) {
  const char *T = "leases";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  long long tStart;
  int i;

  tStart = now_ms() + 300;
  o->iEnd = tStart + 1000LL * o->nSec;
  for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  for (i = 0; i < o->nWorker; i++) reap_worker(&aW[i]);
  check_exits(T, aW, o->nWorker);
  db = open_results(o, zDb, aW, o->nWorker);
  exec_or_die(db, "CREATE INDEX temp.lease_nt ON lease(name, tok)");
  info("leases: %d processes, %d names, ttl %d ms, %d s: acquisitions %s",
       o->nWorker, o->nName, o->iTtl, o->nSec,
       qs(db, "SELECT group_concat(x, ' ') FROM (SELECT name || '=' || "
              "count(*) AS x FROM lease GROUP BY name ORDER BY name)"));
  info("leases: per process %s; released late (expired while held): %lld",
       qs(db, "SELECT group_concat(x, ' ') FROM (SELECT 'p' || w || '=' || "
              "count(*) AS x FROM lease GROUP BY w ORDER BY w)"),
       q1(db, "SELECT count(*) FROM lease WHERE ret = 0"));
  {
    char zName[64];
    long long nMin = q1(db, "SELECT min(c) FROM (SELECT count(*) AS c FROM "
                            "lease GROUP BY name)");
    long long nNames = q1(db, "SELECT count(DISTINCT name) FROM lease");
    snprintf(zName, sizeof(zName), "mp/%s/contended", T);
    if (nNames == o->nName && nMin >= 10) {
      pass(zName);
    } else {
      fail(zName,
           "%lld names taken, fewest acquisitions %lld (want %d "
           "names, >= 10 each)",
           nNames, nMin, o->nName);
    }
  }
  expect_eq(T, "tokens-unique",
            q1(db, "SELECT count(*) FROM (SELECT 1 FROM lease GROUP BY name, "
                   "tok HAVING count(*) > 1)"),
            0, "tokens handed out twice for one name");
  if (o->pStore->bGapless) {
    expect_eq(T, "tokens-contiguous",
              q1(db, "SELECT count(*) FROM (SELECT name FROM lease GROUP BY "
                     "name HAVING min(tok) <> 1 OR max(tok) <> count(*))"),
              0, "names whose tokens are not exactly 1..acquisitions");
  } /* Redis: tokens are not gapless (see the top); increasing, below */
  /* A grant called after another one of the name returned has a higher
  ** token: lrun.m is the highest token of the grants returned up to t1. */
  exec_or_die(db, "CREATE TEMP TABLE lrun AS SELECT name, t1, max(tok) OVER "
                  "(PARTITION BY name ORDER BY t1, tok ROWS UNBOUNDED "
                  "PRECEDING) AS m FROM lease;"
                  "CREATE INDEX temp.lrun_nt ON lrun(name, t1, m)");
  expect_eq(T, "tokens-increasing",
            q1(db, "SELECT count(*) FROM lease b WHERE b.tok <= (SELECT a.m "
                   "FROM lrun a WHERE a.name = b.name AND a.t1 < b.t0 ORDER "
                   "BY a.t1 DESC, a.m DESC LIMIT 1)"),
            0,
            "grants whose token is not above every token handed out "
            "before the call");
  expect_eq(T, "table-token",
            q1(db, "SELECT count(*) FROM (SELECT name, max(tok) AS m FROM "
                   "lease GROUP BY name) r LEFT JOIN leases l USING(name) "
                   "WHERE l.token IS NOT r.m"),
            0, "names whose leases.token is not the last token handed out");
  /* Token order = time order, and no overlap: the next holder's grant
  ** returned (t1) no earlier than this holder started releasing (r0), or,
  ** when this holder's release found the lease expired (ret 0), than the
  ** earliest moment it can have expired (t0 + ttl). */
  {
    char zName[64];
    long long nBad;
    char *zSql = sqlite3_mprintf(
        "WITH s AS (SELECT name, tok, w, t0, t1, r0, ret, lead(t1) OVER win "
        "AS nt1, lead(w) OVER win AS nw, lead(tok) OVER win AS ntok FROM "
        "lease WINDOW win AS (PARTITION BY name ORDER BY tok)) "
        "SELECT %s FROM s WHERE nt1 IS NOT NULL AND nt1 < CASE WHEN ret = 1 "
        "THEN r0 ELSE min(r0, t0 + %d) END",
        "%s", o->iTtl);
    char *zCount = sqlite3_mprintf(zSql, "count(*)");
    char *zShow = sqlite3_mprintf(
        zSql, "group_concat(name || ' tok ' || tok || ' p' || w || ' held "
              "until ' || r0 || ', tok ' || ntok || ' p' || nw || ' got it "
              "at ' || nt1, '; ')");
    nBad = q1(db, "%s", zCount);
    snprintf(zName, sizeof(zName), "mp/%s/no-overlap", T);
    if (nBad == 0) {
      pass(zName);
    } else {
      fail(zName, "%lld grants before the previous holder let go: %.600s", nBad,
           qs(db, "%s", zShow));
    }
    sqlite3_free(zSql);
    sqlite3_free(zCount);
    sqlite3_free(zShow);
  }
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ counters */

static void test_counters(Opt *o) {
  const char *T = "counters";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  long long tStart, total = (long long)o->nWorker * o->nSize;
  double t0;
  int i;

  t0 = mono_s();
  tStart = now_ms() + 300;
  for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  for (i = 0; i < o->nWorker; i++) reap_worker(&aW[i]);
  info("counters: %d processes x %d state_incr in %.2f s", o->nWorker, o->nSize,
       mono_s() - t0 - 0.3);
  check_exits(T, aW, o->nWorker);
  db = open_results(o, zDb, aW, o->nWorker);
  exec_or_die(db, "CREATE INDEX temp.val_v ON val(v)");
  expect_eq(T, "final-value",
            q1(db, "SELECT value FROM counters WHERE scope = 'mp' AND name = "
                   "'hits'"),
            total, "final counter value");
  expect_eq(T, "returns-all", q1(db, "SELECT count(*) FROM val"), total,
            "values returned to the processes");
  expect_eq(T, "returns-distinct", q1(db, "SELECT count(DISTINCT v) FROM val"),
            total, "distinct values returned (each of 1..total exactly once)");
  expect_eq(T, "returns-range",
            q1(db, "SELECT count(*) FROM val WHERE v < 1 OR v > %lld", total),
            0, "returned values outside 1..total");
  expect_eq(T, "per-process-increasing",
            q1(db, "SELECT count(*) FROM (SELECT v, lag(v) OVER (PARTITION "
                   "BY w ORDER BY rowid) AS pv FROM val) WHERE v <= pv"),
            0, "values not strictly increasing within one process");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ txn */

/*
** The atomic functions inside transactions, many processes at once: the
** counter ends at exactly the committed increments (a rolled-back one is
** given back, also when other processes changed the counter meanwhile);
** every task is completed exactly once, by a committed transaction, with
** attempts 1 (a rolled-back claim gives its attempt back and the task
** returns to the queue).
*/
static void test_txn(Opt *o) {
  const char *T = "txn";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  long long tStart;
  int i, nTask = o->nSize < 40 ? 10 : o->nSize / 4;
  double t0;
  char *zSql;

  db = open_db(o, zDb, 0);
  zSql = sqlite3_mprintf("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT "
                         "i + 1 FROM c WHERE i < %d) INSERT INTO tasks(queue, "
                         "name) SELECT 'tx', 'job' FROM c",
                         nTask);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
  sqlite3_close(db);
  t0 = mono_s();
  tStart = now_ms() + 300;
  for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  for (i = 0; i < o->nWorker; i++) reap_worker(&aW[i]);
  info("txn: %d processes x %d state_incr, %d tasks, in %.2f s", o->nWorker,
       o->nSize, nTask, mono_s() - t0 - 0.3);
  check_exits(T, aW, o->nWorker);
  db = open_results(o, zDb, aW, o->nWorker);
  expect_eq(T, "counter-is-commits",
            q1(db, "SELECT coalesce((SELECT value FROM counters WHERE scope = "
                   "'mp' AND name = 'txn'), 0)"),
            q1(db, "SELECT count(*) FROM val WHERE v = 1"),
            "final counter value, against the committed increments");
  expect_eq(T, "some-rolled-back",
            q1(db, "SELECT count(*) > 0 FROM val WHERE v = 0") &&
                q1(db, "SELECT count(*) > 0 FROM rec WHERE kind = 'R'"),
            1, "rolled-back increments and claims happened");
  expect_eq(T, "all-completed",
            q1(db, "SELECT count(*) FROM task WHERE state = 'completed'"),
            nTask, "tasks completed");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM rec WHERE kind = 'C'"), nTask,
            "committed completions");
  expect_eq(T, "completed-distinct",
            q1(db, "SELECT count(DISTINCT id) FROM rec WHERE kind = 'C'"),
            nTask, "distinct tasks completed by committed transactions");
  expect_eq(T, "attempts-given-back",
            q1(db, "SELECT count(*) FROM task WHERE attempts <> 1"), 0,
            "tasks whose attempts are not 1");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ dedup */

/*
** dedup= windows under contention: half the processes enqueue tasks of
** DD_KEYS keys with INSERT OR IGNORE into a dedup='active' table for nSize
** ms, the other half claim and complete them.  A claimer holding a task
** always finds exactly one active task of its key (itself: no enqueuer got
** a second one in); none is lost (every task ends completed, once); and
** the window did its work both ways (attempts were skipped, and keys came
** back once their task was done).
*/
static void test_dedup(Opt *o) {
  const char *T = "dedup";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  long long tStart, nTask, nTry;
  int i;

  db = open_db(o, zDb, 0);
  if (o->bRemote) {
    attach_dd(o, db, zDb);
  } else {
    exec_or_die(db,
                "CREATE VIRTUAL TABLE dd USING state_tasks(dedup='active')");
  }
  sqlite3_close(db);
  tStart = now_ms() + 300;
  o->iEnd = tStart + o->nSize;
  for (i = 0; i < o->nWorker; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  for (i = 0; i < o->nWorker; i++) reap_worker(&aW[i]);
  check_exits(T, aW, o->nWorker);
  db = open_results(o, zDb, aW, o->nWorker);
  attach_dd(o, db, zDb);
  nTask = q1(db, "SELECT count(*) FROM dd");
  nTry = q1(db, "SELECT count(*) FROM rec WHERE kind = 'L'");
  info("dedup: %d processes, %lld INSERT OR IGNORE of %d keys in %d ms made "
       "%lld tasks",
       o->nWorker, nTry, DD_KEYS, o->nSize, nTask);
  expect_eq(T, "one-active-per-key",
            q1(db, "SELECT count(*) FROM val WHERE v <> 1"), 0,
            "claims whose key had another active task");
  expect_eq(T, "claims-checked",
            q1(db, "SELECT count(*) = %lld FROM val", nTask), 1,
            "every task claimed and its key counted");
  expect_eq(T, "none-lost",
            q1(db, "SELECT count(*) FROM dd WHERE state <> 'completed'"), 0,
            "tasks not completed");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM rec WHERE kind = 'C' AND ret = 1"),
            nTask, "completions");
  expect_eq(T, "completed-distinct",
            q1(db, "SELECT count(DISTINCT id) FROM rec WHERE kind = 'C' AND "
                   "ret = 1"),
            nTask, "distinct tasks completed");
  expect_eq(T, "skipped-and-reopened",
            nTry > nTask && nTask > DD_KEYS &&
                q1(db, "SELECT count(DISTINCT idempotency_key) FROM dd") ==
                    DD_KEYS,
            1, "more attempts than tasks, more tasks than keys");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ main */

/* ------------------------------------------------------------ wake */

/* The worker's record "W <zWhat> ...": *pbNull, *pt0, *pt1; 0 if missing. */
static int wake_rec(const char *zFile, const char *zWhat, int *pbNull,
                    long long *pt0, long long *pt1) {
  FILE *f = fopen(zFile, "r");
  char zLine[512], zW[64];
  int bFound = 0;
  if (!f) return 0;
  while (!bFound && fgets(zLine, sizeof(zLine), f)) {
    if (sscanf(zLine, "W %63s %d %lld %lld", zW, pbNull, pt0, pt1) == 4 &&
        strcmp(zW, zWhat) == 0) {
      bFound = 1;
    }
  }
  fclose(f);
  return bFound;
}

/*
** One waiting call of the worker, zWhat: it returned NULL iff bNull (for
** wake_interrupt: the result code), and returned lo to hi ms after tAt (0:
** after the call).  *piMs: how long after tAt.
*/
static void wake_check(const char *zFile, const char *zWhat, int bNull,
                       long long tAt, long long lo, long long hi,
                       long long *piMs) {
  char zName[128];
  int bGotNull;
  long long t0, t1;
  snprintf(zName, sizeof(zName), "mp/wake/%s", zWhat);
  if (!wake_rec(zFile, zWhat, &bGotNull, &t0, &t1)) {
    fail(zName, "the worker left no record of it");
    return;
  }
  if (tAt == 0) tAt = t0;
  *piMs = t1 - tAt;
  if (bGotNull != bNull) {
    fail(zName, "returned %d, want %d (1 NULL, 0 a value; or the result code)",
         bGotNull, bNull);
  } else if (t1 - tAt < lo || t1 - tAt > hi) {
    fail(zName, "returned %lld ms after %s, want %lld to %lld", t1 - tAt,
         tAt == t0 ? "it was called" : "the event", lo, hi);
  } else {
    pass(zName);
  }
}

/* Run zSql on db; *pt0, *pt1: CLOCK_REALTIME ms before and after. */
static void wake_exec(sqlite3 *db, const char *zSql, long long *pt0,
                      long long *pt1) {
  *pt0 = now_ms();
  exec_or_die(db, zSql);
  *pt1 = now_ms();
}

/*
** wake: a waiting state_lease and a waiting state_take (wait_ms) in a
** worker process are woken by another process -- this one -- within 100 ms
** of the release, the signal (a signal of another name or execution does
** not end the wait), an INSERT of a signal, and of the holder's expiry; a wait
*that nothing ends
** returns NULL no sooner than its deadline and within 100 ms after it;
** sqlite3_interrupt() (a SIGALRM handler, 300 ms in) ends a wait with
** SQLITE_INTERRUPT.
*/
static void test_wake(Opt *o) {
  const char *T = "wake";
  char *zDb = create_db(o, T);
  sqlite3 *db = open_db(o, zDb, 0);
  Worker w;
  long long tStart, tExp, r0, r1, s0, s1, i0, i1, x0, x1;
  long long iLease = -1, iTake = -1, iIns = -1, iExp = -1, iT1 = -1, iT2 = -1;
  FILE *f;
  char zLine[512];
  tStart = now_ms() + 700;
  exec_or_die(db, "SELECT state_lease('leases', 'w', 'holder', 60000);"
                  "SELECT state_lease('leases', 'held', 'holder', 60000)");
  q1(db, "SELECT state_lease('leases', 'exp', 'holder', %lld)",
     tStart + 2300 - now_ms());
  tExp = q1(db, "SELECT expires_at FROM leases WHERE name = 'exp'");
  spawn(o, T, &w, 0, zDb, tStart, 0);
  sleep_ms(tStart + 500 - now_ms());
  wake_exec(db, "SELECT state_release('leases', 'w', 'holder')", &r0, &r1);
  sleep_ms(tStart + 800 - now_ms());
  wake_exec(db,
            "SELECT state_signal('signals', 'e1', 'other'), "
            "state_signal('signals', 'e9', 'go')",
            &x0, &x1);
  sleep_ms(tStart + 1000 - now_ms());
  wake_exec(db, "SELECT state_signal('signals', 'e1', 'go')", &s0, &s1);
  sleep_ms(tStart + 1200 - now_ms());
  wake_exec(db,
            "INSERT INTO signals(execution_id, name, payload) "
            "VALUES ('e3', 'go', '{}')",
            &i0, &i1);
  reap_worker(&w);
  check_exits(T, &w, 1);
  (void)x0;
  (void)x1;
  wake_check(w.zOut, "lease", 0, r1, r0 - r1, 100, &iLease);
  wake_check(w.zOut, "take", 0, s1, s0 - s1, 100, &iTake);
  wake_check(w.zOut, "take-insert", 0, i1, i0 - i1, 100, &iIns);
  /* (299: both ends are whole ms of the wall clock) */
  wake_check(w.zOut, "lease-timeout", 1, 0, 299, 400, &iT1);
  wake_check(w.zOut, "take-timeout", 1, 0, 299, 400, &iT2);
  wake_check(w.zOut, "lease-expiry", 0, tExp, 0, 100, &iExp);
  wake_check(w.zOut, "lease-interrupt", SQLITE_INTERRUPT, 0, 250, 500, &iT1);
  wake_check(w.zOut, "take-interrupt", SQLITE_INTERRUPT, 0, 250, 500, &iT2);
  f = fopen(w.zOut, "r");
  while (f && fgets(zLine, sizeof(zLine), f)) {
    if (zLine[0] == 'E') fail("mp/wake/no-errors", "%s", zLine);
    /* "M <what> state_lease: [postgresql: ]interrupted while waiting..." */
    if (zLine[0] == 'M' && !strstr(zLine, ": interrupted while waiting")) {
      fail("mp/wake/interrupt-message", "%s", zLine);
    }
  }
  if (f) fclose(f);
  info("wake: woken %lld ms after the release, %lld after the signal, %lld "
       "after the INSERT of a signal, %lld after the expiry; interrupts 300 "
       "ms in ended the waits after %lld and %lld ms",
       iLease, iTake, iIns, iExp, iT1, iT2);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ rate */

/*
** Rate limits and concurrency limits of state_claim across processes:
** nSize tasks (200) of queue 'rq' claimed by the workers under the rate
** "5 per second": every task claimed and completed exactly once, and no
** window of 1000 ms holds more than 5 claims (times on the store's clock);
** then 60 tasks of queue 'lq' under the limit of 2 live leases, each held
** 50 ms: never more than 2 held at once.
*/
static void test_rate(Opt *o) {
  const char *T = "rate";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  int i, nW = 4;
  double t0;
  char *zSql;

  db = open_db(o, zDb, 0);
  zSql = sqlite3_mprintf("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT "
                         "i + 1 FROM c WHERE i < %d) INSERT INTO tasks(queue, "
                         "name) SELECT 'rq', 'job' FROM c; "
                         "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT "
                         "i + 1 FROM c WHERE i < 60) INSERT INTO tasks(queue, "
                         "name) SELECT 'lq', 'job' FROM c",
                         o->nSize);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
  sqlite3_close(db);
  t0 = mono_s();
  o->iEnd = now_ms() + 300 + 1000LL * (o->nSize / 5 + 60);
  o->iLeaseMs = 60000;
  for (i = 0; i < nW; i++) spawn(o, T, &aW[i], i, zDb, now_ms() + 300, 0);
  for (i = 0; i < nW; i++) reap_worker(&aW[i]);
  info("rate: %d processes, %d tasks at 5/s and 60 under a limit of 2, in "
       "%.2f s",
       nW, o->nSize, mono_s() - t0 - 0.3);
  check_exits(T, aW, nW);
  db = open_results(o, zDb, aW, nW);
  expect_eq(T, "rate-all-completed",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'rq' AND state "
                   "= 'completed'"),
            o->nSize, "tasks of the rated queue completed");
  expect_eq(T, "rate-claimed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM rec r JOIN tasks t "
                   "USING (id) WHERE r.kind = 'L' AND t.queue = 'rq' GROUP BY "
                   "id HAVING count(*) > 1)"),
            0, "tasks of the rated queue claimed more than once");
  expect_eq(T, "rate-window",
            q1(db, "SELECT count(*) FROM (SELECT v, lead(v, 5) OVER (ORDER BY "
                   "v) AS v5 FROM val) WHERE v5 - v < 1000"),
            0, "windows of 1000 ms with more than 5 claims");
  info("rate: claims %lld, first to last %lld ms",
       q1(db, "SELECT count(*) FROM val"),
       q1(db, "SELECT max(v) - min(v) FROM val"));
  expect_eq(T, "limit-all-completed",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'lq' AND state "
                   "= 'completed'"),
            60, "tasks of the limited queue completed");
  /* Held at once: the leases claimed at or before a claim and completed
  ** after it (5 ms of slack: PostgreSQL reads its clock at the start of a
  ** call, so two stamps may cross by a little). */
  expect_eq(T, "limit-held",
            q1(db, "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) "
                   "FROM lease b WHERE b.t0 <= a.t0 AND b.r0 > a.t0 + 5) AS n "
                   "FROM lease a) WHERE n > 2"),
            0, "most leases of the limited queue held at once, when over 2");
  expect_eq(T, "limit-times", q1(db, "SELECT count(*) FROM lease WHERE r0 < 0"),
            0, "completions without their time");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ deps */

/*
** Dependencies across processes: nSize diamonds (100) of four tasks in
** queue 'dq' -- A; B and C depend on A; D depends on B and C -- claimed
** and completed by 4 worker processes.  Every task is claimed once and
** completed once, none is left waiting or cancelled, and each task was
** claimed after its dependencies were completed: on the store's clock
** (the claim's time is at or after each dependency's completed_at; 5 ms
** of slack on PostgreSQL, which reads its clock at the start of a call,
** before it waits for a lock), and by the dependencies' states read right
** after the claim (all 'completed').
*/
static void test_deps(Opt *o) {
  const char *T = "deps";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  int i, nW = 4;
  long long nSlack = o->pStore == STORE_PG ? 5 : 0;
  double t0;
  char *zSql;

  db = open_db(o, zDb, 0);
  zSql = sqlite3_mprintf(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < %d) INSERT INTO tasks(id, queue, name) SELECT 'g' || i || 'a', "
      "'dq', 'A' FROM c; "
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < %d) INSERT INTO tasks(id, queue, name, depends_on) SELECT 'g' || "
      "i || x, 'dq', upper(x), json_array('g' || i || 'a') FROM c, "
      "(SELECT 'b' AS x UNION ALL SELECT 'c'); "
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < %d) INSERT INTO tasks(id, queue, name, depends_on) SELECT 'g' || "
      "i || 'd', 'dq', 'D', json_array('g' || i || 'b', 'g' || i || 'c') "
      "FROM c",
      o->nSize, o->nSize, o->nSize);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
  expect_eq(T, "enqueued-waiting",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'dq' AND state "
                   "= 'waiting'"),
            3LL * o->nSize, "tasks waiting after the enqueue");
  sqlite3_close(db);
  t0 = mono_s();
  o->iEnd = now_ms() + 300 + 120000;
  o->iLeaseMs = 60000;
  for (i = 0; i < nW; i++) spawn(o, T, &aW[i], i, zDb, now_ms() + 300, 0);
  for (i = 0; i < nW; i++) reap_worker(&aW[i]);
  info("deps: %d processes, %d diamonds of 4 tasks, in %.2f s", nW, o->nSize,
       mono_s() - t0 - 0.3);
  check_exits(T, aW, nW);
  db = open_results(o, zDb, aW, nW);
  expect_eq(T, "all-completed",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'dq' AND state "
                   "= 'completed'"),
            4LL * o->nSize, "tasks completed");
  expect_eq(T, "claimed-once",
            q1(db, "SELECT count(*) FROM task t WHERE (SELECT count(*) FROM "
                   "rec r WHERE r.id = t.id AND r.kind = 'L') <> 1"),
            0, "tasks not claimed exactly once");
  expect_eq(T, "completed-once",
            q1(db, "SELECT count(*) FROM task t WHERE (SELECT count(*) FROM "
                   "rec r WHERE r.id = t.id AND r.kind = 'C' AND r.ret = 1) "
                   "<> 1"),
            0, "tasks not completed exactly once");
  expect_eq(T, "order-store-clock",
            q1(db,
               "SELECT count(*) FROM tasks t, json_each(t.depends_on) j "
               "JOIN rec k ON k.id = t.id AND k.kind = 'K' "
               "JOIN rec d ON d.id = j.value AND d.kind = 'D' "
               "WHERE t.queue = 'dq' AND k.ms + %lld < d.ms",
               nSlack),
            0, "tasks claimed before a dependency was completed (store clock)");
  expect_eq(T, "order-edges",
            q1(db, "SELECT count(*) FROM tasks t, json_each(t.depends_on) j "
                   "JOIN rec k ON k.id = t.id AND k.kind = 'K' "
                   "JOIN rec d ON d.id = j.value AND d.kind = 'D' "
                   "WHERE t.queue = 'dq'"),
            4LL * o->nSize, "dependency edges checked");
  expect_eq(T, "order-states",
            q1(db, "SELECT count(*) FROM rec WHERE kind = 'B'"), 0,
            "tasks whose dependencies were not all completed after the claim");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ fair */

/*
** fair: 1,000 tasks of tenant A (partition_key 'A'), then 10 of tenant B,
** in queue 'fq', and four processes claiming one at a time: every task is
** completed exactly once, and all of B's are among the first 20 claims (by
** the store's clock: at most 19 claims before the last of B's) -- claims
** alternate between partitions with runnable tasks.  Then queue 'fl', 3
** partitions of 20 tasks under the partition limit 1 across the processes:
** at no claim do two leases of one partition overlap (without the limit,
** four workers taking the partitions in turn would hold two of one).
*/
static void test_fair(Opt *o) {
  const char *T = "fair";
  char *zDb = create_db(o, T);
  Worker aW[MAX_WORKERS];
  sqlite3 *db;
  int i, nW = 4;
  double t0;
  char *zSql;

  db = open_db(o, zDb, 0);
  zSql = sqlite3_mprintf(
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < %d) INSERT INTO tasks(queue, name, partition_key) SELECT 'fq', "
      "'job', 'A' FROM c; "
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < 10) INSERT INTO tasks(queue, name, partition_key) SELECT 'fq', "
      "'job', 'B' FROM c; "
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE "
      "i < 60) INSERT INTO tasks(queue, name, partition_key) SELECT 'fl', "
      "'job', char(65 + i %% 3) FROM c",
      o->nSize);
  exec_or_die(db, zSql);
  sqlite3_free(zSql);
  sqlite3_close(db);
  t0 = mono_s();
  o->iEnd = now_ms() + 300 + 120000;
  o->iLeaseMs = 60000;
  for (i = 0; i < nW; i++) spawn(o, T, &aW[i], i, zDb, now_ms() + 300, 0);
  for (i = 0; i < nW; i++) reap_worker(&aW[i]);
  info("fair: %d processes, %d + 10 tasks of two partitions and 60 of three "
       "under a partition limit of 1, in %.2f s",
       nW, o->nSize, mono_s() - t0 - 0.3);
  check_exits(T, aW, nW);
  db = open_results(o, zDb, aW, nW);
  expect_eq(T, "fair-all-completed",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'fq' AND state "
                   "= 'completed'"),
            o->nSize + 10, "tasks of the partitioned queue completed");
  expect_eq(T, "fair-claimed-once",
            q1(db, "SELECT count(*) FROM (SELECT id FROM rec r JOIN tasks t "
                   "USING (id) WHERE r.kind = 'L' GROUP BY id HAVING "
                   "count(*) > 1)"),
            0, "tasks claimed more than once");
  expect_eq(T, "fair-b-early",
            q1(db, "SELECT (SELECT count(*) FROM lease WHERE r0 = 0 AND t0 "
                   "< (SELECT max(t0) FROM lease WHERE name = 'B' AND r0 = "
                   "0)) > 19"),
            0, "claims before the last of tenant B's over 19");
  expect_eq(T, "fair-b-claimed",
            q1(db, "SELECT count(*) FROM lease WHERE name = 'B' AND r0 = 0"),
            10, "claims of tenant B's tasks");
  info("fair: the last of B's claims had %lld claims before it (of %lld); "
       "B's claimed: %lld",
       q1(db, "SELECT count(*) FROM lease WHERE r0 = 0 AND t0 < (SELECT "
              "max(t0) FROM lease WHERE name = 'B' AND r0 = 0)"),
       q1(db, "SELECT count(*) FROM lease WHERE r0 = 0"),
       q1(db, "SELECT count(*) FROM lease WHERE name = 'B' AND r0 = 0"));
  expect_eq(T, "limit-all-completed",
            q1(db, "SELECT count(*) FROM tasks WHERE queue = 'fl' AND state "
                   "= 'completed'"),
            60, "tasks of the limited queue completed");
  /* Held at once, per partition: the leases claimed at or before a claim
  ** and completed after it (5 ms of slack, as in rate). */
  expect_eq(T, "limit-held",
            q1(db, "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) "
                   "FROM lease b WHERE b.r0 <> 0 AND b.name = a.name AND "
                   "b.t0 <= a.t0 AND b.r0 > a.t0 + 5) AS n FROM lease a WHERE "
                   "a.r0 <> 0) WHERE n > 1"),
            0, "most leases of one partition held at once, when over 1");
  expect_eq(T, "limit-times", q1(db, "SELECT count(*) FROM lease WHERE r0 < 0"),
            0, "completions without their time");
  check_errors(db, T, o->bVerbose);
  sqlite3_close(db);
  sqlite3_free(zDb);
}

/* ------------------------------------------------------------ cron */

/*
** cron: a schedule every second ('* * * * * *') and three worker processes
** that claim (worker 0 polling, the others waiting with state_wait) for ten
** seconds, with no scheduler: their claims and waits fire it.  Exactly one
** task per second, each of the ten seconds once -- no gap, no duplicate --
** each claimed once; the schedule's last_run and next_run end on the last
** second; how late the tasks were claimed is printed.
*/
static void test_cron(Opt *o) {
  const char *T = "cron";
  char *zDb = create_db(o, T);
  sqlite3 *db = open_db(o, zDb, 0);
  Worker aW[3];
  long long tStart = now_ms() + 1000, t0, n, nBad;
  int i;
  char zLine[512];
  /* The ten occurrences t0, t0 + 1000, ..., t0 + 9000; the workers stop
  ** half a second after the last. */
  t0 = (tStart / 1000 + 1) * 1000;
  o->iEnd = t0 + 9500;
  {
    char *zSql = sqlite3_mprintf(
        "INSERT INTO schedules(name, cron, queue, task, next_run) "
        "VALUES ('tick', '* * * * * *', 'cron', 'tick', %lld)",
        t0);
    exec_or_die(db, zSql);
    sqlite3_free(zSql);
  }
  for (i = 0; i < 3; i++) spawn(o, T, &aW[i], i, zDb, tStart, 0);
  for (i = 0; i < 3; i++) reap_worker(&aW[i]);
  check_exits(T, aW, 3);
  exec_or_die(db, "CREATE TEMP TABLE k(w INT, id TEXT, run_at INT, ms INT);"
                  "CREATE TEMP TABLE e(w INT, line TEXT)");
  for (i = 0; i < 3; i++) {
    FILE *f = fopen(aW[i].zOut, "r");
    while (f && fgets(zLine, sizeof(zLine), f)) {
      char zId[128];
      long long r, ms;
      char *zSql;
      if (sscanf(zLine, "K %127s %lld %lld", zId, &r, &ms) == 3) {
        zSql = sqlite3_mprintf("INSERT INTO k VALUES(%d, %Q, %lld, %lld)", i,
                               zId, r, ms);
      } else {
        zSql = sqlite3_mprintf("INSERT INTO e VALUES(%d, %Q)", i, zLine);
      }
      exec_or_die(db, zSql);
      sqlite3_free(zSql);
    }
    if (f) fclose(f);
  }
  nBad = q1(db, "SELECT count(*) FROM e");
  if (nBad) {
    fail("mp/cron/no-errors", "%lld: %s", nBad,
         qs(db, "SELECT line FROM e LIMIT 1"));
  } else {
    pass("mp/cron/no-errors");
  }
  n = q1(db, "SELECT count(*) FROM tasks WHERE queue = 'cron'");
  if (n != 10) {
    fail("mp/cron/one-per-second",
         "%lld tasks in 10 s, want 10 (run_at - "
         "t0: %s)",
         n,
         qs(db,
            "SELECT group_concat(run_at - %lld, ' ') FROM (SELECT run_at "
            "FROM tasks WHERE queue = 'cron' ORDER BY run_at)",
            t0));
  } else {
    pass("mp/cron/one-per-second");
  }
  nBad = q1(db, "SELECT count(*) - count(DISTINCT run_at) FROM tasks WHERE "
                "queue = 'cron'");
  if (nBad) {
    fail("mp/cron/no-duplicate", "%lld tasks share a second", nBad);
  } else {
    pass("mp/cron/no-duplicate");
  }
  nBad = q1(db,
            "WITH RECURSIVE s(x) AS (SELECT %lld UNION ALL SELECT x + 1000 "
            "FROM s WHERE x < %lld) SELECT (SELECT count(*) FROM s WHERE x "
            "NOT IN (SELECT run_at FROM tasks WHERE queue = 'cron')) + "
            "(SELECT count(*) FROM tasks WHERE queue = 'cron' AND run_at NOT "
            "IN (SELECT x FROM s))",
            t0, t0 + 9000);
  if (nBad) {
    fail("mp/cron/no-gap", "%lld seconds missing or extra (run_at - t0: %s)",
         nBad,
         qs(db,
            "SELECT group_concat(run_at - %lld, ' ') FROM (SELECT run_at "
            "FROM tasks WHERE queue = 'cron' ORDER BY run_at)",
            t0));
  } else {
    pass("mp/cron/no-gap");
  }
  nBad = q1(db, "SELECT (SELECT count(*) FROM tasks WHERE queue = 'cron' AND "
                "state <> 'completed') + (SELECT count(*) FROM (SELECT id FROM "
                "k GROUP BY id HAVING count(*) > 1)) + (SELECT count(*) FROM "
                "tasks WHERE queue = 'cron' AND id NOT IN (SELECT id FROM k))");
  if (nBad) {
    fail("mp/cron/claimed-once",
         "%lld tasks not claimed and completed "
         "exactly once",
         nBad);
  } else {
    pass("mp/cron/claimed-once");
  }
  nBad = q1(db,
            "SELECT count(*) FROM schedules WHERE name = 'tick' AND "
            "last_run = %lld AND next_run = %lld",
            t0 + 9000, t0 + 10000);
  if (nBad != 1) {
    fail("mp/cron/schedule-row",
         "last_run - t0 = %lld, next_run - t0 = %lld, "
         "want 9000 and 10000",
         q1(db, "SELECT last_run - %lld FROM schedules", t0),
         q1(db, "SELECT next_run - %lld FROM schedules", t0));
  } else {
    pass("mp/cron/schedule-row");
  }
  info("cron: claimed %lld to %lld ms after run_at (median %lld); claimed by "
       "workers %s",
       q1(db, "SELECT min(ms - run_at) FROM k"),
       q1(db, "SELECT max(ms - run_at) FROM k"),
       q1(db, "SELECT ms - run_at FROM k ORDER BY ms - run_at LIMIT 1 OFFSET "
              "(SELECT count(*) / 2 FROM k)"),
       qs(db, "SELECT group_concat(w, ' ') FROM (SELECT w FROM k ORDER BY "
              "run_at)"));
  sqlite3_close(db);
  sqlite3_free(zDb);
}

static void usage(void) {
  fprintf(stderr,
          "usage: mp queue|crash|leases|counters|txn|wake|rate|dedup|cron|deps|"
          "restart|all [-e EXT] "
          "[-d DIR] [-n N] [-w W] [-k K]\n"
          "          [--kill N] [-s SEC] [--names N] [--ttl MS] "
          "[--busy-ms MS] [--seed N] [-v]\n"
          "          [--store sqlite|postgresql|redis] [--schema BASE] "
          "[--keep-schemas] [--restart CMD]\n"
          "          [--kill-workers N] [--lost-max N] (restart)\n");
  exit(2);
}

static void parse(Opt *o, int argc, char **argv, int iFirst) {
  int i, k;
  for (i = iFirst; i < argc; i++) {
    const char *z = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : 0;
#define OPT(s) (strcmp(z, s) == 0 && (v || (usage(), 0)) && ++i)
    if (OPT("-e"))
      o->zExt = v;
    else if (OPT("-d"))
      o->zDir = v;
    else if (OPT("-n"))
      o->nSize = atoi(v);
    else if (OPT("-w"))
      o->nWorker = atoi(v);
    else if (OPT("-k"))
      o->nBatch = atoi(v);
    else if (OPT("--kill"))
      o->nKill = atoi(v);
    else if (OPT("-s"))
      o->nSec = atoi(v);
    else if (OPT("--names"))
      o->nName = atoi(v);
    else if (OPT("--ttl"))
      o->iTtl = atoi(v);
    else if (OPT("--busy-ms"))
      o->iBusyMs = atoi(v);
    else if (OPT("--seed"))
      o->iSeed = (unsigned)strtoul(v, 0, 10);
    else if (OPT("--db"))
      o->zDb = v;
    else if (OPT("--out"))
      o->zOut = v;
    else if (OPT("--queue"))
      o->zQueue = v;
    else if (OPT("--id"))
      o->iId = atoi(v);
    else if (OPT("--start"))
      o->iStart = atoll(v);
    else if (OPT("--end"))
      o->iEnd = atoll(v);
    else if (OPT("--lease"))
      o->iLeaseMs = atoi(v);
    else if (OPT("--work-min"))
      o->iWorkMin = atoi(v);
    else if (OPT("--work-max"))
      o->iWorkMax = atoi(v);
    else if (OPT("--stop-ms"))
      o->iStopMs = atoi(v);
    else if (OPT("--store")) {
      if (strcmp(v, "pg") == 0) {
        v = STORE_PG->zName;
      } else if (strcmp(v, "local") == 0) {
        v = STORE_SQLITE->zName;
      }
      for (k = 0; k < N_STORE && strcmp(aStore[k].zName, v) != 0; k++) {
      }
      if (k == N_STORE) {
        fprintf(stderr,
                "mp: --store: sqlite, postgresql, redis, redis-cluster or "
                "pgbouncer, not '%s'\n",
                v);
        usage();
      }
      o->pStore = &aStore[k];
      o->bRemote = o->pStore->zUrlEnv != 0;
    } else if (OPT("--schema") || OPT("--namespace"))
      o->zSchema = v;
    else if (OPT("--restart") || OPT("--pg-restart"))
      o->zRestart = v;
    else if (OPT("--kill-workers"))
      o->nRestartKill = atoi(v);
    else if (OPT("--lost-max"))
      o->nLostMax = atoi(v);
    else if (strcmp(z, "--keep-schemas") == 0)
      o->bKeepSchemas = 1;
    else if (strcmp(z, "--retry-io") == 0)
      o->bRetryIo = 1;
    else if (strcmp(z, "--late") == 0)
      o->bLate = 1;
    else if (strcmp(z, "-v") == 0)
      o->bVerbose = 1;
    else {
      fprintf(stderr, "mp: unknown option '%s'\n", z);
      usage();
    }
#undef OPT
  }
}

int main(int argc, char **argv) {
  Opt o;
  const char *zCmd;
  int nSizeGiven;
  char zTmp[4096];
  char zSchemaBase[64];
  ssize_t nSelf;

  memset(&o, 0, sizeof(o));
  o.pStore = STORE_SQLITE;
  o.nWorker = 8;
  o.nBatch = 10;
  o.nKill = 3;
  o.nSec = 3;
  o.nName = 3;
  o.iTtl = 200;
  o.iBusyMs = 5000;
  o.iSeed = (unsigned)time(0) ^ (unsigned)getpid();
  o.nSize = -1;
  o.zExt = getenv("STATEVTAB_EXT");
  if (argc < 2) usage();
  zCmd = argv[1];

  if (strcmp(zCmd, "_worker") == 0) {
    int rc;
    if (argc < 3) usage();
    parse(&o, argc, argv, 3);
    rnd_seed(o.iSeed);
    iWorkerId = o.iId;
    pRec = fopen(o.zOut, "w");
    if (!pRec) die("%s: %s", o.zOut, strerror(errno));
    setvbuf(pRec, 0, _IOLBF, 0);
    if (strcmp(argv[2], "queue") == 0 || strcmp(argv[2], "crash") == 0 ||
        strcmp(argv[2], "restart") == 0) {
      rc = worker_tasks(&o);
    } else if (strcmp(argv[2], "leases") == 0) {
      rc = worker_leases(&o);
    } else if (strcmp(argv[2], "counters") == 0) {
      rc = worker_counters(&o);
    } else if (strcmp(argv[2], "txn") == 0) {
      rc = worker_txn(&o);
    } else if (strcmp(argv[2], "dedup") == 0) {
      rc = worker_dedup(&o);
    } else if (strcmp(argv[2], "wake") == 0) {
      rc = worker_wake(&o);
    } else if (strcmp(argv[2], "rate") == 0) {
      rc = worker_rate(&o);
    } else if (strcmp(argv[2], "cron") == 0) {
      rc = worker_cron(&o);
    } else if (strcmp(argv[2], "deps") == 0) {
      rc = worker_deps(&o);
    } else if (strcmp(argv[2], "fair") == 0) {
      rc = worker_fair(&o);
    } else {
      die("unknown worker kind '%s'", argv[2]);
    }
    fclose(pRec);
    return rc;
  }

  parse(&o, argc, argv, 2);
  nSizeGiven = o.nSize;
  if (!o.zExt || !o.zExt[0]) die("no extension: give -e or set STATEVTAB_EXT");
  if (o.nWorker < 2 || o.nWorker > MAX_WORKERS / 2) {
    die("-w must be between 2 and %d", MAX_WORKERS / 2);
  }
  if (o.nBatch < 2) die("-k must be at least 2 (the test claims n > 1)");
  nSelf = readlink("/proc/self/exe", zSelf, sizeof(zSelf) - 1);
  if (nSelf <= 0) die("readlink /proc/self/exe: %s", strerror(errno));
  zSelf[nSelf] = 0;
  if (!o.zDir) {
    const char *zBase = getenv("TEST_TMP");
    if (!zBase || !zBase[0]) zBase = getenv("TMPDIR");
    if (!zBase || !zBase[0]) zBase = "/tmp";
    snprintf(zTmp, sizeof(zTmp), "%s/mp.XXXXXX", zBase);
    if (!mkdtemp(zTmp)) die("mkdtemp %s: %s", zTmp, strerror(errno));
    o.zDir = zTmp;
  } else {
    mkdir(o.zDir, 0777);
  }
  zStoreLabel = o.pStore->zName;
  if (o.bRemote) {
    const char *zUrl = getenv(o.pStore->zUrlEnv);
    if (!zUrl || !zUrl[0]) {
      printf("FAIL mp/%s/setup: --store %s, but %s is not set\n", zStoreLabel,
             zStoreLabel, o.pStore->zUrlEnv);
      return 1;
    }
    if (!o.zSchema) {
      snprintf(zSchemaBase, sizeof(zSchemaBase), "mp_%d_%lld", (int)getpid(),
               now_ms() / 1000);
      o.zSchema = zSchemaBase;
    }
    if (!o.zSchema[0] || strlen(o.zSchema) > 50)
      die("--schema must be 1 to 50 bytes");
  }
  rnd_seed(o.iSeed);
  info("mp %s: seed %u, dir %s, SQLite %s, store %s%s%s%s%s", zCmd, o.iSeed,
       o.zDir, sqlite3_libversion(), zStoreLabel,
       o.bRemote ? ", namespaces (" : "", o.bRemote ? o.pStore->zNsOpt : "",
       o.bRemote ? ") " : "", o.bRemote ? o.zSchema : "");

#define RUN(NAME, FN, DEFAULT)                                                 \
  if (strcmp(zCmd, NAME) == 0 || strcmp(zCmd, "all") == 0) {                   \
    double tT = mono_s();                                                      \
    Opt oo = o;                                                                \
    oo.nSize = nSizeGiven > 0 ? nSizeGiven : (DEFAULT);                        \
    FN(&oo);                                                                   \
    info("%s: %.2f s", NAME, mono_s() - tT);                                   \
    bRan = 1;                                                                  \
  }
  {
    int bRan = 0;
    RUN("queue", test_queue, 20000);
    RUN("crash", test_crash, 2000);
    RUN("leases", test_leases, 0);
    RUN("counters", test_counters, 10000);
    RUN("txn", test_txn, 200);
    RUN("dedup", test_dedup, 2000);
    RUN("wake", test_wake, 0);
    RUN("rate", test_rate, 200);
    RUN("cron", test_cron, 0);
    RUN("deps", test_deps, 100);
    RUN("fair", test_fair, 1000);
    if (strcmp(zCmd, "restart") == 0 ||
        (strcmp(zCmd, "all") == 0 && o.bRemote && o.zRestart)) {
      double tT = mono_s();
      Opt oo = o;
      oo.nSize = nSizeGiven > 0 ? nSizeGiven : 20000;
      test_restart(&oo);
      info("restart: %.2f s", mono_s() - tT);
      bRan = 1;
    }
    if (!bRan) usage();
  }
#undef RUN
  drop_schemas(&o);
  return nFail ? 1 : 0;
}
