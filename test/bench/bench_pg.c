/*
** 2026-11-22
**
** bench_pg.c -- the PostgreSQL rows of test/bench/bench.c, which #includes
** this file (one translation unit; link with -lpq).  Not pass/fail.
**
** A pass of its own, after the SQLite passes, when STATEVTAB_PG_URL is set
** (else one line "skipped: STATEVTAB_PG_URL not set").  Two sides, each a
** schema of its own on that server, created by statevtab (so both have the
** same tables, indexes, trigger and server functions) and dropped at the
** end (DROP SCHEMA ... CASCADE, unless --keep):
**
**   statevtab  a :memory: SQLite database (benchOpen) with
**              CREATE VIRTUAL TABLE tasks USING state_tasks(
**                  store='env:STATEVTAB_PG_URL', schema='bench_<pid>_sv')
**   libpq      one libpq connection that sends, with PQexecParams, the
**              statements the store sends (vtab/store_pg.c), directly into
**              schema bench_<pid>_raw
**
** Rows (measure(): best of -r runs per side, sides interleaved):
**
**   pg-enqueue     N tasks (--pg-n; default min(-n, 10000)) INSERTed in one
**                  transaction, into an emptied table (TRUNCATE, untimed).
**                  statevtab: BEGIN; INSERT INTO tasks(queue, name, payload,
**                  priority) VALUES(?,?,?,?) per task; COMMIT.  libpq: BEGIN;
**                  per task the INSERT that pgInsert sends (every column,
**                  each parameter cast, ON CONFLICT (queue, idempotency_key)
**                  DO NOTHING RETURNING _rid; the id and times made by the
**                  client, as statevtab does); COMMIT.  Inside a transaction
**                  statevtab also wraps each write in SAVEPOINT sv_write /
**                  RELEASE (3 round trips a row where libpq needs 1).
**   pg-claim-n1    1 process claims and completes M tasks (--pg-c; default
**   pg-claim-n100  min(-c, 5000); x5 for n=100) of queue 'q', filled before
**                  each run (untimed, one INSERT ... SELECT FROM unnest).
**                  statevtab: SELECT id, lease_token FROM state_claim('tasks',
**                  'q', 'w0', 30000, n), then SELECT state_complete('tasks',
**                  id, token) per task, until a claim returns none.  libpq:
**                  SELECT * FROM "<schema>".sv_claim($1::text[], ...,
**                  $13::boolean) with the arguments pgClaim passes ({q}, w0,
**                  30000, n, eight NULLs, true), then SELECT
**                  "<schema>".sv_complete($1::text, $2::bigint, $3::text)
**                  per task.  Verified after each run (untimed): every task
**                  completed exactly once (attempts = lease_token = 1, lease
**                  cleared), every completion accepted.
**
** Reported as throughput and sv/raw = statevtab / libpq (1.00 = same), and
** for the claims n=100 vs n=1 (throughput with n=100 / with n=1) per side.
*/
#include <libpq-fe.h>

#define PG_URL_ENV "STATEVTAB_PG_URL"
#define PG_CLAIM_QUEUE "q"
#define PG_NCOL_MAX 32

static int pgOptN = -1; /* --pg-n */
static int pgOptC = -1; /* --pg-c */

static const StoreBench aPgBench[] = {
    {"pg-enqueue", "PostgreSQL: INSERT N tasks in one transaction, "
                   "statevtab vs the same INSERT by libpq"},
    {"pg-claim-n1", "PostgreSQL: claim+complete, n=1, statevtab vs libpq "
                    "calling sv_claim/sv_complete"},
    {"pg-claim-n100", "PostgreSQL: claim+complete, n=100, statevtab vs "
                      "libpq calling sv_claim/sv_complete"},
};
#define NPGBENCH (int)(sizeof(aPgBench) / sizeof(aPgBench[0]))

/* The state of the PostgreSQL pass. */
typedef struct PgBench {
  PGconn *pg;        /* the libpq side (also runs the untimed set-up) */
  char *azSchema[2]; /* [0] statevtab side, [1] libpq side */
  char *azQ[2];      /* the same, quoted */
  int nCol;          /* columns of tasks, without _rid */
  char *azCol[PG_NCOL_MAX];
  char *zInsert[2];         /* the store's INSERT, per side's schema */
  char *zClaim, *zComplete; /* libpq side's calls */
  int nEnqueue;             /* tasks per enqueue run */
  /* the claim run going on */
  int nBatch, nTask;
  const char *zOp;
  int anRun[2], anBad[2];
  long long anErr[2];
  char azErr[2][200];
} PgBench;

/* Is zName[0..n) one of the PostgreSQL benchmarks? */
static int pgBenchName(const char *zName, size_t n) {
  return storeBenchName(aPgBench, NPGBENCH, zName, n);
}

/* Options of this file (from main's loop): 1 when argv[*pi] was one. */
static int pgOption(int argc, char **argv, int *pi) {
  int *pv = strcmp(argv[*pi], "--pg-n") == 0   ? &pgOptN
            : strcmp(argv[*pi], "--pg-c") == 0 ? &pgOptC
                                               : 0;
  char *zEnd = 0;
  long v;
  if (!pv) return 0;
  if (*pi + 1 >= argc) fatal("%s needs a value", argv[*pi]);
  v = strtol(argv[++*pi], &zEnd, 10);
  if (*zEnd || v < 1 || v > 100000000)
    fatal("%s: bad number '%s'", argv[*pi - 1], argv[*pi]);
  *pv = (int)v;
  return 1;
}

static void pgUsage(FILE *f) {
  fprintf(f, "  --pg-n N           PostgreSQL: tasks per enqueue run "
             "(default min(-n, 10000))\n"
             "  --pg-c C           PostgreSQL: tasks per claim run with n=1 "
             "(default min(-c, 5000);\n"
             "                     n=100 runs claim 5*C)\n");
  storeUsage(f, "PostgreSQL benchmarks (when " PG_URL_ENV " is set):", aPgBench,
             NPGBENCH);
}

/* ------------------------------------------------------------- libpq */

/* Run zSql (no parameters) on the libpq side; fatal on an error. */
static void pgExecOrDie(PgBench *pb, const char *zSql) {
  PGresult *res = PQexec(pb->pg, zSql);
  ExecStatusType st = PQresultStatus(res);
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    fatal("postgresql: %s\n  in: %.300s", PQerrorMessage(pb->pg), zSql);
  }
  PQclear(res);
}

/* The one value zSql returns, as a double (NULL: 0). */
static double pgQ1(PgBench *pb, const char *zSql) {
  PGresult *res = PQexec(pb->pg, zSql);
  double v = 0;
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1) {
    fatal("postgresql: %s\n  in: %.300s", PQerrorMessage(pb->pg), zSql);
  }
  if (!PQgetisnull(res, 0, 0)) v = strtod(PQgetvalue(res, 0, 0), 0);
  PQclear(res);
  return v;
}

/* Append z to s as one element of a text[] literal. */
static void pgArrayElem(sqlite3_str *s, int bFirst, const char *z) {
  if (!bFirst) sqlite3_str_appendchar(s, 1, ',');
  sqlite3_str_appendchar(s, 1, '"');
  for (; *z; z++) {
    if (*z == '"' || *z == '\\') sqlite3_str_appendchar(s, 1, '\\');
    sqlite3_str_appendchar(s, 1, *z);
  }
  sqlite3_str_appendchar(s, 1, '"');
}

/*
** The INSERT that the store sends for a task (vtab/store_pg.c insertSql):
** every column in table order, each parameter cast to the column's type,
** the idempotent-enqueue conflict clause, RETURNING _rid.  The column list
** is read from the server (the table statevtab created).
*/
static char *pgInsertSql(PgBench *pb, int iSide) {
  sqlite3_str *s = sqlite3_str_new(0);
  char *zSql;
  PGresult *res;
  const char *azParam[1];
  int i;
  azParam[0] = pb->azSchema[iSide];
  res = PQexecParams(pb->pg,
                     "SELECT column_name, CASE data_type WHEN 'bigint' THEN "
                     "'bigint' WHEN 'numeric' THEN 'numeric' ELSE 'text' END "
                     "FROM information_schema.columns WHERE table_schema = $1 "
                     "AND table_name = 'tasks' AND column_name <> '_rid' "
                     "ORDER BY ordinal_position",
                     1, 0, azParam, 0, 0, 0);
  if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) < 1 ||
      PQntuples(res) > PG_NCOL_MAX) {
    fatal("postgresql: columns of %s.tasks: %s", pb->azSchema[iSide],
          PQerrorMessage(pb->pg));
  }
  if (iSide == 0) {
    pb->nCol = PQntuples(res);
    for (i = 0; i < pb->nCol; i++) pb->azCol[i] = strdup(PQgetvalue(res, i, 0));
  }
  sqlite3_str_appendf(s, "INSERT INTO %s.tasks (", pb->azQ[iSide]);
  for (i = 0; i < PQntuples(res); i++) {
    sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", PQgetvalue(res, i, 0));
  }
  sqlite3_str_appendall(s, ") VALUES (");
  for (i = 0; i < PQntuples(res); i++) {
    sqlite3_str_appendf(s, "%s$%d::%s", i ? ", " : "", i + 1,
                        PQgetvalue(res, i, 1));
  }
  sqlite3_str_appendall(s, ") ON CONFLICT (\"queue\", \"idempotency_key\") "
                           "DO NOTHING RETURNING _rid");
  PQclear(res);
  zSql = sqlite3_str_finish(s);
  if (!zSql) fatal("out of memory");
  return zSql;
}

/*
** The parameter for column zCol of task t as statevtab fills it (the
** defaults of the tasks table): NULL for SQL NULL.  zNum is a buffer for
** numbers.
*/
static const char *pgTaskValue(const char *zCol, const Task *t,
                               const char *zQueue, const char *zId,
                               const char *zNow, char *zNum, size_t nNum) {
  if (strcmp(zCol, "id") == 0) return zId;
  if (strcmp(zCol, "queue") == 0) return zQueue ? zQueue : t->zQueue;
  if (strcmp(zCol, "name") == 0) return t->zName;
  if (strcmp(zCol, "payload") == 0) return t->zPayload;
  if (strcmp(zCol, "state") == 0) return "pending";
  if (strcmp(zCol, "priority") == 0) {
    snprintf(zNum, nNum, "%d", t->iPriority);
    return zNum;
  }
  if (strcmp(zCol, "run_at") == 0 || strcmp(zCol, "created_at") == 0 ||
      strcmp(zCol, "updated_at") == 0)
    return zNow;
  if (strcmp(zCol, "attempts") == 0) return "0";
  if (strcmp(zCol, "max_attempts") == 0) return "3";
  if (strcmp(zCol, "tags") == 0) return "[]";
  return 0; /* execution_id, lease_*, idempotency_key, result, error, ... */
}

/* Empty side iSide's tasks table (untimed). */
static void pgTruncate(PgBench *pb, int iSide) {
  char *z = sqlite3_mprintf("TRUNCATE %s.tasks", pb->azQ[iSide]);
  pgExecOrDie(pb, z);
  sqlite3_free(z);
}

/*
** Fill side iSide's tasks table with nTask tasks of queue zQueue (the
** standard tasks' names, payloads and priorities; client-made UUIDv7 ids),
** in one INSERT ... SELECT FROM unnest (untimed set-up).
*/
static void pgFill(Ctx *c, PgBench *pb, int iSide, int nTask,
                   const char *zQueue) {
  sqlite3_str *aS[4];
  const char *azParam[5];
  char *az[4], zNow[32];
  PGresult *res;
  char *zSql;
  int i, k;
  for (k = 0; k < 4; k++) {
    aS[k] = sqlite3_str_new(0);
    sqlite3_str_appendchar(aS[k], 1, '{');
  }
  for (i = 0; i < nTask; i++) {
    const Task *t = &c->aTask[i % c->o->nTask];
    char zId[40], zPri[16];
    gen_uuid7(zId);
    snprintf(zPri, sizeof(zPri), "%d", t->iPriority);
    pgArrayElem(aS[0], i == 0, zId);
    pgArrayElem(aS[1], i == 0, t->zName);
    pgArrayElem(aS[2], i == 0, t->zPayload);
    pgArrayElem(aS[3], i == 0, zPri);
  }
  for (k = 0; k < 4; k++) {
    sqlite3_str_appendchar(aS[k], 1, '}');
    az[k] = sqlite3_str_finish(aS[k]);
    if (!az[k]) fatal("out of memory");
    azParam[k] = az[k];
  }
  snprintf(zNow, sizeof(zNow), "%lld", (long long)now_ms());
  azParam[4] = zQueue;
  zSql = sqlite3_mprintf(
      "INSERT INTO %s.tasks (id, queue, name, payload, state, priority, "
      "run_at, attempts, max_attempts, tags, created_at, updated_at) SELECT "
      "u.id, $5::text, u.name, u.payload, 'pending', u.pri, %s, 0, 3, '[]', "
      "%s, %s FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) "
      "AS u(id, name, payload, pri)",
      pb->azQ[iSide], zNow, zNow, zNow);
  res = PQexecParams(pb->pg, zSql, 5, 0, azParam, 0, 0, 0);
  if (PQresultStatus(res) != PGRES_COMMAND_OK ||
      atoi(PQcmdTuples(res)) != nTask) {
    fatal("postgresql: filling %s.tasks: %s", pb->azSchema[iSide],
          PQerrorMessage(pb->pg));
  }
  PQclear(res);
  sqlite3_free(zSql);
  for (k = 0; k < 4; k++) sqlite3_free(az[k]);
  /* Fresh statistics, so that both sides' claims get the same plan. */
  zSql = sqlite3_mprintf("ANALYZE %s.tasks", pb->azQ[iSide]);
  pgExecOrDie(pb, zSql);
  sqlite3_free(zSql);
}

/* ------------------------------------------------------------ enqueue */

static double runPgEnqueue(Ctx *c, Side *s, void *pArg, double *pnOps,
                           double *pCheck) {
  PgBench *pb = (PgBench *)pArg;
  int iSide = s->bSv ? 0 : 1, i, k;
  double t0;
  char *zSql;
  pgTruncate(pb, iSide);
  if (s->bSv) {
    sqlite3_stmt *p = prepareOrDie(s->db, "INSERT INTO tasks(queue, name, "
                                          "payload, priority) VALUES(?1, ?2, "
                                          "?3, ?4)");
    t0 = timerStart();
    execOrDie(s->db, "BEGIN");
    for (i = 0; i < pb->nEnqueue; i++) {
      const Task *t = &c->aTask[i % c->o->nTask];
      sqlite3_bind_text(p, 1, t->zQueue, -1, SQLITE_STATIC);
      sqlite3_bind_text(p, 2, t->zName, -1, SQLITE_STATIC);
      sqlite3_bind_text(p, 3, t->zPayload, -1, SQLITE_STATIC);
      sqlite3_bind_int(p, 4, t->iPriority);
      stepDone(p, s->db);
    }
    execOrDie(s->db, "COMMIT");
    t0 = timerStop(t0);
    sqlite3_finalize(p);
  } else {
    const char *azVal[PG_NCOL_MAX];
    char azNum[PG_NCOL_MAX][24];
    t0 = timerStart();
    pgExecOrDie(pb, "BEGIN");
    for (i = 0; i < pb->nEnqueue; i++) {
      const Task *t = &c->aTask[i % c->o->nTask];
      char zId[40], zNow[24];
      PGresult *res;
      gen_uuid7(zId);
      snprintf(zNow, sizeof(zNow), "%lld", (long long)now_ms());
      for (k = 0; k < pb->nCol; k++) {
        azVal[k] = pgTaskValue(pb->azCol[k], t, 0, zId, zNow, azNum[k],
                               sizeof(azNum[k]));
      }
      res = PQexecParams(pb->pg, pb->zInsert[1], pb->nCol, 0, azVal, 0, 0, 0);
      if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        fatal("postgresql: libpq INSERT: %s", PQerrorMessage(pb->pg));
      }
      PQclear(res);
    }
    pgExecOrDie(pb, "COMMIT");
    t0 = timerStop(t0);
  }
  zSql = sqlite3_mprintf("SELECT count(*) * 1000 + coalesce(sum(priority), 0) "
                         "+ coalesce(sum(length(payload)), 0) FROM %s.tasks",
                         pb->azQ[iSide]);
  *pCheck = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  *pnOps = pb->nEnqueue;
  return t0;
}

/* ------------------------------------------------------------- claims */

typedef struct PgClaimed {
  char zId[64];
  char zTok[24];
  long long iTok;
} PgClaimed;

/* One run of the claim loop on side s: the seconds it took. */
static double runPgClaim(Ctx *c, Side *s, void *pArg, double *pnOps,
                         double *pCheck) {
  PgBench *pb = (PgBench *)pArg;
  int iSide = s->bSv ? 0 : 1, n, i, bBad;
  long long nClaimed = 0, nAccepted = 0, nStale = 0, nCall = 0, nErr = 0;
  PgClaimed *a = calloc((size_t)pb->nBatch + 1, sizeof(PgClaimed));
  double t0, nRow, nDone, nOnce, nFree;
  char *zSql, zN[16];
  if (!a) fatal("out of memory");
  pgTruncate(pb, iSide);
  pgFill(c, pb, iSide, pb->nTask, PG_CLAIM_QUEUE);
  snprintf(zN, sizeof(zN), "%d", pb->nBatch);
  if (s->bSv) {
    sqlite3_stmt *pClaim = prepareOrDie(
        s->db,
        "SELECT id, lease_token FROM state_claim('tasks', '" PG_CLAIM_QUEUE
        "', 'w0', 30000, ?1)");
    sqlite3_stmt *pDone =
        prepareOrDie(s->db, "SELECT state_complete('tasks', ?1, ?2)");
    /* Warm: a claim of 0 tasks (the table connected, statements ready). */
    sqlite3_bind_int(pClaim, 1, 0);
    stepDone(pClaim, s->db);
    sqlite3_bind_int(pClaim, 1, pb->nBatch);
    t0 = timerStart();
    for (;;) {
      n = 0;
      while (sqlite3_step(pClaim) == SQLITE_ROW && n < pb->nBatch) {
        snprintf(a[n].zId, sizeof(a[n].zId), "%s",
                 (const char *)sqlite3_column_text(pClaim, 0));
        a[n].iTok = sqlite3_column_int64(pClaim, 1);
        n++;
      }
      if (sqlite3_reset(pClaim) != SQLITE_OK) {
        if (!nErr++)
          snprintf(pb->azErr[0], sizeof(pb->azErr[0]), "state_claim: %s",
                   sqlite3_errmsg(s->db));
        if (nErr > 100) break;
        continue;
      }
      nCall++;
      if (n == 0) break;
      nClaimed += n;
      for (i = 0; i < n; i++) {
        int ret = -1;
        sqlite3_bind_text(pDone, 1, a[i].zId, -1, SQLITE_STATIC);
        sqlite3_bind_int64(pDone, 2, a[i].iTok);
        if (sqlite3_step(pDone) == SQLITE_ROW)
          ret = sqlite3_column_int(pDone, 0);
        if (sqlite3_reset(pDone) != SQLITE_OK) {
          if (!nErr++)
            snprintf(pb->azErr[0], sizeof(pb->azErr[0]), "state_complete: %s",
                     sqlite3_errmsg(s->db));
          continue;
        }
        if (ret == 1)
          nAccepted++;
        else
          nStale++;
      }
    }
    t0 = timerStop(t0);
    sqlite3_finalize(pClaim);
    sqlite3_finalize(pDone);
  } else {
    const char *azClaim[13] = {"{\"" PG_CLAIM_QUEUE "\"}",
                               "w0",
                               "30000",
                               zN,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               0,
                               "true"};
    int iId = -1, iTok = -1;
    t0 = timerStart();
    for (;;) {
      PGresult *res = PQexecParams(pb->pg, pb->zClaim, 13, 0, azClaim, 0, 0, 0);
      if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        if (!nErr++)
          snprintf(pb->azErr[1], sizeof(pb->azErr[1]), "sv_claim: %s",
                   PQerrorMessage(pb->pg));
        PQclear(res);
        if (nErr > 100) break;
        continue;
      }
      if (iId < 0) {
        iId = PQfnumber(res, "id");
        iTok = PQfnumber(res, "lease_token");
      }
      n = PQntuples(res);
      for (i = 0; i < n && i < pb->nBatch; i++) {
        snprintf(a[i].zId, sizeof(a[i].zId), "%s", PQgetvalue(res, i, iId));
        snprintf(a[i].zTok, sizeof(a[i].zTok), "%s", PQgetvalue(res, i, iTok));
      }
      PQclear(res);
      nCall++;
      if (n == 0) break;
      nClaimed += n;
      for (i = 0; i < n; i++) {
        const char *azDone[3];
        azDone[0] = a[i].zId;
        azDone[1] = a[i].zTok;
        azDone[2] = 0;
        res = PQexecParams(pb->pg, pb->zComplete, 3, 0, azDone, 0, 0, 0);
        if (PQresultStatus(res) != PGRES_TUPLES_OK) {
          if (!nErr++)
            snprintf(pb->azErr[1], sizeof(pb->azErr[1]), "sv_complete: %s",
                     PQerrorMessage(pb->pg));
        } else if (PQgetvalue(res, 0, 0)[0] == 't') {
          nAccepted++;
        } else {
          nStale++;
        }
        PQclear(res);
      }
    }
    t0 = timerStop(t0);
  }
  free(a);
  /* Verify (untimed). */
  zSql = sqlite3_mprintf("SELECT count(*) FROM %s.tasks", pb->azQ[iSide]);
  nRow = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT count(*) FROM %s.tasks WHERE state = "
                         "'completed'",
                         pb->azQ[iSide]);
  nDone = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT count(*) FROM %s.tasks WHERE attempts = 1 "
                         "AND lease_token = 1",
                         pb->azQ[iSide]);
  nOnce = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  zSql = sqlite3_mprintf("SELECT count(*) FROM %s.tasks WHERE lease_owner IS "
                         "NULL AND lease_expires_at IS NULL",
                         pb->azQ[iSide]);
  nFree = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  bBad = nRow != pb->nTask || nDone != pb->nTask || nOnce != pb->nTask ||
         nFree != pb->nTask || nClaimed != pb->nTask ||
         nAccepted != pb->nTask || nStale != 0;
  if (bBad || c->o->bVerbose) {
    fprintf(bBad ? stdout : stderr,
            "%s%s %s: %.0f tasks, %.0f completed, %.0f claimed once, %.0f "
            "lease cleared; %lld claimed, %lld completions accepted, %lld "
            "refused, %lld errors%s%s\n",
            bBad ? "VERIFY FAILED: " : "bench: verify ", pb->zOp, s->zLabel,
            nRow, nDone, nOnce, nFree, nClaimed, nAccepted, nStale, nErr,
            pb->azErr[iSide][0] ? "; first: " : "", pb->azErr[iSide]);
  }
  pb->anRun[iSide]++;
  pb->anBad[iSide] += bBad;
  pb->anErr[iSide] += nErr;
  zSql = sqlite3_mprintf("SELECT count(*) FILTER (WHERE state = 'completed') "
                         "+ coalesce(sum(priority), 0) FROM %s.tasks",
                         pb->azQ[iSide]);
  *pCheck = pgQ1(pb, zSql);
  sqlite3_free(zSql);
  *pnOps = pb->nTask;
  (void)nCall;
  return t0;
}

static Result *pgBenchClaim(Ctx *c, PgBench *pb, const char *zOp, int nBatch,
                            int nTask) {
  Result *r;
  int j;
  pb->zOp = zOp;
  pb->nBatch = nBatch;
  pb->nTask = nTask;
  memset(pb->anRun, 0, sizeof(pb->anRun));
  memset(pb->anBad, 0, sizeof(pb->anBad));
  memset(pb->anErr, 0, sizeof(pb->anErr));
  memset(pb->azErr, 0, sizeof(pb->azErr));
  r = measure(c, zOp, "tasks/s", 0, runPgClaim, pb);
  r->bThroughput = 1;
  printf("verify %-22s %d tasks, 1 process, n=%d:", zOp, nTask, nBatch);
  for (j = 0; j < 2; j++) {
    if (!pb->anRun[j]) continue;
    printf("%s %s %s %d/%d runs, %lld errors", j ? ";" : "",
           j ? "libpq" : "statevtab",
           pb->anBad[j] ? "FAILED" : "ok: every task completed exactly once in",
           pb->anRun[j] - pb->anBad[j], pb->anRun[j], pb->anErr[j]);
    if (pb->azErr[j][0]) printf(" (first: %s)", pb->azErr[j]);
  }
  printf("\n");
  fflush(stdout);
  r->bVerifyFail = pb->anBad[0] || pb->anBad[1];
  return r;
}

/* -------------------------------------------------------------- pass */

/*
** The PostgreSQL pass: returns non-zero when a benchmark could not run or
** a claim run failed its verification.
*/
static int runPgPass(const Opts *o, Task *aTask, int *aiLookup) {
  const char *zUrl = getenv(PG_URL_ENV);
  Ctx c;
  PgBench pb;
  Result *aR[3] = {0, 0, 0};
  char *zSql, zBase[64];
  int i, k, rc = 0, nClaim1, nBad;
  if (!storeSelected(o, aPgBench, NPGBENCH)) return 0;
  if (!zUrl || !zUrl[0]) {
    printf("\n== PostgreSQL store: skipped: " PG_URL_ENV " not set\n");
    fflush(stdout);
    return 0;
  }
  storeCtx(&c, o, "PostgreSQL store", "libpq", aTask, aiLookup);
  memset(&pb, 0, sizeof(pb));
  pb.nEnqueue = pgOptN > 0 ? pgOptN : (o->nTask < 10000 ? o->nTask : 10000);
  nClaim1 = pgOptC > 0 ? pgOptC : (o->nClaimTask < 5000 ? o->nClaimTask : 5000);

  pb.pg = PQconnectdb(zUrl);
  if (!pb.pg || PQstatus(pb.pg) != CONNECTION_OK) {
    printf("\n== PostgreSQL store: could not connect: %s\n",
           pb.pg ? PQerrorMessage(pb.pg) : "out of memory");
    PQfinish(pb.pg);
    return 1;
  }
  snprintf(zBase, sizeof(zBase), "bench_%d_%lld", (int)getpid(),
           (long long)(now_ms() / 1000));
  for (k = 0; k < 2; k++) {
    pb.azSchema[k] = sqlite3_mprintf("%s_%s", zBase, k ? "raw" : "sv");
    pb.azQ[k] = sqlite3_mprintf("\"%w\"", pb.azSchema[k]);
  }
  /* Both schemas made by statevtab: the same tables, indexes, trigger and
  ** functions.  The statevtab side keeps its connection. */
  benchOpen(&c, 1, ":memory:", &c.aSide[0].db);
  for (k = 0; k < 2; k++) {
    zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE %s USING state_tasks(store="
                           "'env:" PG_URL_ENV "', schema='%q')",
                           k ? "tasks_raw" : "tasks", pb.azSchema[k]);
    execOrDie(c.aSide[0].db, zSql);
    sqlite3_free(zSql);
  }
  execOrDie(c.aSide[0].db, "DROP TABLE tasks_raw"); /* only disconnects */
  pb.zInsert[0] = pgInsertSql(&pb, 0);
  pb.zInsert[1] = pgInsertSql(&pb, 1);
  pb.zClaim = sqlite3_mprintf(
      "SELECT * FROM %s.sv_claim($1::text[], $2::text, $3::bigint, "
      "$4::integer, $5::text[], $6::text, $7::text[], $8::boolean[], "
      "$9::bigint[], $10::text[], $11::bigint[], $12::text[], $13::boolean)",
      pb.azQ[1]);
  pb.zComplete = sqlite3_mprintf(
      "SELECT %s.sv_complete($1::text, $2::bigint, $3::text)", pb.azQ[1]);

  printf("\n== PostgreSQL store: server %d, libpq %d; %d tasks per enqueue, "
         "claims of %d (n=1) and %d (n=100) tasks, best of %d; schemas "
         "%s_{sv,raw}\n",
         PQserverVersion(pb.pg), PQlibVersion(), pb.nEnqueue, nClaim1,
         5 * nClaim1, o->nRep, zBase);
  fflush(stdout);
  if (selected(o, "pg-enqueue")) {
    aR[0] = measure(&c, "pg enqueue (1 txn)", "rows/s", 0, runPgEnqueue, &pb);
  }
  if (selected(o, "pg-claim-n1")) {
    aR[1] = pgBenchClaim(&c, &pb, "pg claim+complete n=1", 1, nClaim1);
  }
  if (selected(o, "pg-claim-n100")) {
    aR[2] = pgBenchClaim(&c, &pb, "pg claim+complete n=100", 100, 5 * nClaim1);
  }

  /* Report. */
  nBad = storeReport("PostgreSQL", "libpq", aR, 3, aR[1], aR[2]);
  printf("sv/raw = statevtab throughput / libpq throughput (1.00 = same); "
         "best of %d, sides interleaved\n"
         "libpq: enqueue = BEGIN, the store's INSERT per row (PQexecParams), "
         "COMMIT (statevtab adds SAVEPOINT/RELEASE per row inside a "
         "transaction); claim = SELECT * FROM <schema>.sv_claim(...) with "
         "pgClaim's arguments, complete = SELECT <schema>.sv_complete(id, "
         "token, NULL) per task; one connection, autocommit\n",
         o->nRep);
  if (nBad) {
    printf("WARNING: a PostgreSQL run read or wrote different data, or did "
           "not complete every task exactly once (see above)\n");
    rc = 1;
  }
  fflush(stdout);

  /* Clean up: drop both schemas (the statevtab connection first). */
  sqlite3_close(c.aSide[0].db);
  c.aSide[0].db = 0;
  if (o->bKeep) {
    printf("kept schemas %s and %s\n", pb.azSchema[0], pb.azSchema[1]);
  } else {
    zSql = sqlite3_mprintf("SET client_min_messages = warning; DROP SCHEMA "
                           "IF EXISTS %s CASCADE; DROP SCHEMA IF EXISTS %s "
                           "CASCADE",
                           pb.azQ[0], pb.azQ[1]);
    pgExecOrDie(&pb, zSql);
    sqlite3_free(zSql);
  }
  PQfinish(pb.pg);
  for (k = 0; k < 2; k++) {
    sqlite3_free(pb.azSchema[k]);
    sqlite3_free(pb.azQ[k]);
    sqlite3_free(pb.zInsert[k]);
  }
  for (i = 0; i < pb.nCol; i++) free(pb.azCol[i]);
  sqlite3_free(pb.zClaim);
  sqlite3_free(pb.zComplete);
  return rc;
}
