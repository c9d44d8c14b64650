/*
** 2026-11-22
**
** bench_redis.c -- the Redis rows of test/bench/bench.c, which #includes
** this file after bench_pg.c (one translation unit; link with -lhiredis,
** or compile with -DBENCH_NO_HIREDIS to leave the Redis rows out: they
** then print "skipped: built without hiredis").  Not pass/fail.
**
** A pass of its own, after the PostgreSQL pass, when STATEVTAB_REDIS_URL
** is set (else one line "skipped: STATEVTAB_REDIS_URL not set").  Two
** sides, each a namespace of its own on that server, prefixes
** bench_<pid>_sv: and bench_<pid>_raw: (keys "{bench_<pid>_sv:}..."),
** emptied before every run (untimed; the row-handle counters <kind>:seq are
** kept, since a statevtab table holds a reserved block of handles) and
** deleted at the end (SCAN MATCH {bench_<pid>_* + UNLINK, unless --keep;
** a failure is a warning):
**
**   statevtab  a :memory: SQLite database (benchOpen) with
**              CREATE VIRTUAL TABLE tasks USING state_tasks(
**                  store='env:STATEVTAB_REDIS_URL', prefix='bench_<pid>_sv:')
**   hiredis    one hiredis connection that runs the store's own Lua script
**              (sql/redis.lua: the SHA1 that statevtab_debug('tasks')
**              reports, loaded into the server by the statevtab side) with
**              the same EVALSHA calls and arguments the store sends
**              (vtab/store_redis.c), in namespace bench_<pid>_raw:
**
** A second :memory: connection has a statevtab table on the hiredis side's
** namespace; it is used only outside the timed parts, to compute the
** checksums and verify the claims of that side with the same SQL as the
** statevtab side (so the rows hiredis wrote are read back as statevtab
** rows).
**
** Rows (measure(): best of -r runs per side, sides interleaved):
**
**   redis-enqueue      N tasks (--redis-n; default min(-n / 10, 3000)), one
**                      autocommit INSERT INTO tasks(queue, name, payload,
**                      priority) each.  The store sends per statement one
**                      pipelined MULTI, EVALSHA <sha> 1 {<prefix>} write 1
**                      <op>, EXEC (argOp/rdWrite), and per 64 rows one
**                      EVALSHA ... rids tasks 64 (newRid).  hiredis: the
**                      same calls, the op made by the client as the store
**                      makes it (UUIDv7 id, client times, every column of
**                      the row statevtab fills: see rbTaskOp).
**   redis-enqueue-txn  T tasks (--redis-t; default min(-n / 10, 2000)) in one
**                      transaction: statevtab BEGIN; the INSERTs; COMMIT.
**                      hiredis: the rids calls, then one write call of T ops
**                      inside MULTI/EXEC, which is what the store sends at
**                      COMMIT.  (Inside a transaction statevtab asks the
**                      server per row whether the key is taken -- EVALSHA
**                      ... owner -- only for ids the user gave; these rows
**                      take generated ids, so it does not.)
**   redis-claim-n1     1 process claims and completes M tasks (--redis-c;
**   redis-claim-n100   default min(-c / 10, 2000); x5 for n=100) of queue 'q',
**                      written before each run (untimed, by hiredis, write
**                      calls of 1000 ops).  Both sides first claim 0 tasks
**                      (untimed: the table connected, and the script moves
**                      the due tasks from the wait to the ready set).
**                      statevtab: the worker of bench.c (workerOpen,
**                      workerLoop): SELECT id, lease_token FROM
**                      state_claim('tasks', 'q', 'w0', 30000, n), then
**                      SELECT state_complete('tasks', id, token) per task,
**                      until a claim returns none.  hiredis: EVALSHA ...
**                      claim w0 30000 n 1 1 q 0 "" 0 0 (rdClaim's
**                      arguments), then EVALSHA ... complete id token ""
**                      per task (rdComplete's).  Verified after each run
**                      (claimVerify, untimed): every task completed exactly
**                      once (attempts = lease_token = 1, lease cleared),
**                      every completion accepted, the same ids.
**
** Reported as throughput and sv/raw = statevtab / hiredis (1.00 = same),
** and for the claims n=100 vs n=1 (throughput with n=100 / with n=1) per
** side.
*/
#ifndef BENCH_NO_HIREDIS
#include <hiredis/hiredis.h>
#endif

#define RB_URL_ENV "STATEVTAB_REDIS_URL"
#define RB_RID_BLOCK 64    /* row handles per "rids" call (RD_RID_BLOCK) */
#define RB_FILL_BATCH 1000 /* ops per write call when filling (untimed) */
#define RB_NCOL_MAX 32

static int rbOptN = -1; /* --redis-n */
static int rbOptT = -1; /* --redis-t */
static int rbOptC = -1; /* --redis-c */

static const StoreBench aRbBench[] = {
    {"redis-enqueue", "Redis: INSERT N tasks, one autocommit statement each, "
                      "statevtab vs hiredis calling the store's script"},
    {"redis-enqueue-txn", "Redis: INSERT T tasks in one transaction, "
                          "statevtab vs one script write call by hiredis"},
    {"redis-claim-n1", "Redis: claim+complete, n=1, statevtab vs hiredis "
                       "calling the script's claim/complete"},
    {"redis-claim-n100", "Redis: claim+complete, n=100, statevtab vs "
                         "hiredis calling the script's claim/complete"},
};
#define NRBBENCH (int)(sizeof(aRbBench) / sizeof(aRbBench[0]))

/* Is zName[0..n) one of the Redis benchmarks? */
static int rbBenchName(const char *zName, size_t n) {
  return storeBenchName(aRbBench, NRBBENCH, zName, n);
}

static int intArg(int argc, char **argv, int *pi); /* bench.c */

/* Options of this file (from main's loop): 1 when argv[*pi] was one. */
static int rbOption(int argc, char **argv, int *pi) {
  int *pv = strcmp(argv[*pi], "--redis-n") == 0   ? &rbOptN
            : strcmp(argv[*pi], "--redis-t") == 0 ? &rbOptT
            : strcmp(argv[*pi], "--redis-c") == 0 ? &rbOptC
                                                  : 0;
  if (!pv) return 0;
  *pv = intArg(argc, argv, pi);
  if (*pv < 1) fatal("%s must be at least 1", argv[*pi - 1]);
  return 1;
}

static void rbUsage(FILE *f) {
  fprintf(f, "  --redis-n N        Redis: tasks per autocommit enqueue run "
             "(default\n"
             "                     min(-n / 10, 3000))\n"
             "  --redis-t T        Redis: tasks per one-transaction enqueue "
             "run (default\n"
             "                     min(-n / 10, 2000))\n"
             "  --redis-c C        Redis: tasks per claim run with n=1 "
             "(default\n"
             "                     min(-c / 10, 2000); n=100 runs claim "
             "5*C)\n");
  storeUsage(f, "Redis benchmarks (when " RB_URL_ENV " is set):", aRbBench,
             NRBBENCH);
}

#ifndef BENCH_NO_HIREDIS

/* A command being built: its arguments, borrowed (they must outlive it). */
typedef struct RbCmd {
  int n, nAlloc;
  const char **az;
  size_t *an;
} RbCmd;

/* The strings the arguments of one insert op point into. */
typedef struct RbOpBuf {
  char zRid[24], zNow[24], zId[40];
  char zMask[RB_NCOL_MAX + 1];
  char azNum[RB_NCOL_MAX][24];
} RbOpBuf;

/* The state of the Redis pass. */
typedef struct RbBench {
  const char *zUrl; /* the server */
  redisContext *rc; /* the hiredis side (also runs the untimed set-up) */
  char zSha[48];    /* the store's script, as the server knows it */
  char *azBase[2];  /* "{bench_<pid>_sv:}", "{bench_<pid>_raw:}" */
  char *azMatch[2]; /* the same + "*": the keys of one side */
  char *zMatchAll;  /* "{bench_<pid>_*": every key of the pass */
  int nCol;         /* columns of tasks, in table order */
  char *azCol[RB_NCOL_MAX];
  int iColId, iColTok;             /* positions of id and lease_token */
  long long aiRid[2], aiRidEnd[2]; /* reserved row handles per side */
  RbCmd cmd;     /* a script call (rids, claim, complete, ...) */
  RbCmd wr;      /* the write call being built */
  char zNOp[16]; /* its op count */
  RbOpBuf *aBuf; /* its ops' strings */
  int nBufAlloc;
  int nEnqueue, nTxn; /* tasks per enqueue run, autocommit and 1 txn */
  int bTxn;           /* the enqueue row going on */
  ClaimSpec q;        /* the claim row going on */
} RbBench;

/* The pass whose keys an exit (fatal) must delete, or NULL. */
static RbBench *pRbCleanup;

/* Append z[0..n) to command m. */
static void rbArg(RbCmd *m, const char *z, size_t n) {
  if (m->n >= m->nAlloc) {
    int nNew = m->nAlloc ? 2 * m->nAlloc : 64;
    m->az = realloc(m->az, sizeof(char *) * (size_t)nNew);
    m->an = realloc(m->an, sizeof(size_t) * (size_t)nNew);
    if (!m->az || !m->an) fatal("out of memory");
    m->nAlloc = nNew;
  }
  m->az[m->n] = z;
  m->an[m->n++] = n;
}

static void rbArgZ(RbCmd *m, const char *z) { rbArg(m, z, strlen(z)); }

/* Start command m as "EVALSHA <sha> 1 <base of side iSide> <zOp>". */
static void rbEval(RbBench *rb, RbCmd *m, int iSide, const char *zOp) {
  m->n = 0;
  rbArgZ(m, "EVALSHA");
  rbArgZ(m, rb->zSha);
  rbArgZ(m, "1");
  rbArgZ(m, rb->azBase[iSide]);
  rbArgZ(m, zOp);
}

/* Fatal unless r is a reply that is not an error. */
static void rbCheck(RbBench *rb, const redisReply *r, const char *zWhat) {
  if (!r) fatal("redis: %s: %s", zWhat, rb->rc->errstr);
  if (r->type == REDIS_REPLY_ERROR)
    fatal("redis: %s: %.*s", zWhat, (int)r->len, r->str);
}

/* Send command m and wait for its reply (the caller frees it). */
static redisReply *rbCall(RbBench *rb, const RbCmd *m, const char *zWhat) {
  redisReply *r = redisCommandArgv(rb->rc, m->n, m->az, m->an);
  rbCheck(rb, r, zWhat);
  return r;
}

/* An integer reply, or one as text (replyInt in vtab/store_redis.c). */
static long long rbInt(const redisReply *r) {
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, 0, 10);
  return 0;
}

/*
** A fresh row handle of side iSide's tasks, reserved RB_RID_BLOCK at a
** time with the script's "rids" (as newRid does).
*/
static long long rbRid(RbBench *rb, int iSide) {
  if (rb->aiRid[iSide] >= rb->aiRidEnd[iSide]) {
    char zN[16];
    redisReply *r;
    snprintf(zN, sizeof(zN), "%d", RB_RID_BLOCK);
    rbEval(rb, &rb->cmd, iSide, "rids");
    rbArgZ(&rb->cmd, "tasks");
    rbArgZ(&rb->cmd, zN);
    r = rbCall(rb, &rb->cmd, "rids");
    rb->aiRid[iSide] = rbInt(r);
    rb->aiRidEnd[iSide] = rb->aiRid[iSide] + RB_RID_BLOCK;
    freeReplyObject(r);
  }
  return rb->aiRid[iSide]++;
}

/* Start rb->wr as the write call of nOp ops on side iSide. */
static void rbWriteStart(RbBench *rb, int iSide, int nOp) {
  if (nOp > rb->nBufAlloc) {
    free(rb->aBuf);
    rb->aBuf = calloc((size_t)nOp, sizeof(RbOpBuf));
    if (!rb->aBuf) fatal("out of memory");
    rb->nBufAlloc = nOp;
  }
  rbEval(rb, &rb->wr, iSide, "write");
  snprintf(rb->zNOp, sizeof(rb->zNOp), "%d", nOp);
  rbArgZ(&rb->wr, rb->zNOp);
}

/*
** Append to rb->wr op iOp, the insert of task t (in queue zQueue, else its
** own) into side iSide, laid out as argOp lays it out: base, kind, 'I',
** conflict 'a', rid, "" (no stamp), client time, a mask of '1' (value) and
** '0' (NULL) per column, then a value per column ("" for NULL).  The row
** is what statevtab fills for INSERT INTO tasks(queue, name, payload,
** priority): pgTaskValue (bench_pg.c) knows its defaults.
*/
static void rbTaskOp(RbBench *rb, int iSide, int iOp, const Task *t,
                     const char *zQueue) {
  RbOpBuf *b = &rb->aBuf[iOp];
  const char *azVal[RB_NCOL_MAX];
  int k;
  gen_uuid7(b->zId);
  snprintf(b->zRid, sizeof(b->zRid), "%lld", rbRid(rb, iSide));
  snprintf(b->zNow, sizeof(b->zNow), "%lld", (long long)now_ms());
  for (k = 0; k < rb->nCol; k++) {
    azVal[k] = pgTaskValue(rb->azCol[k], t, zQueue, b->zId, b->zNow,
                           b->azNum[k], sizeof(b->azNum[k]));
    b->zMask[k] = azVal[k] ? '1' : '0';
  }
  b->zMask[rb->nCol] = 0;
  rbArgZ(&rb->wr, rb->azBase[iSide]);
  rbArgZ(&rb->wr, "tasks");
  rbArgZ(&rb->wr, "I");
  rbArgZ(&rb->wr, "a");
  rbArgZ(&rb->wr, b->zRid);
  rbArg(&rb->wr, "", 0);
  rbArgZ(&rb->wr, b->zNow);
  rbArgZ(&rb->wr, b->zMask);
  for (k = 0; k < rb->nCol; k++) rbArgZ(&rb->wr, azVal[k] ? azVal[k] : "");
}

/*
** Send rb->wr as rdWrite does: MULTI, the call, EXEC, pipelined (one round
** trip).  Fatal unless the script applied every one of its nOp ops.
*/
static void rbWriteSend(RbBench *rb, int nOp) {
  static const char *azMulti[] = {"MULTI"};
  static const char *azExec[] = {"EXEC"};
  redisReply *aR[3] = {0, 0, 0}, *r;
  size_t i;
  int k;
  redisAppendCommandArgv(rb->rc, 1, azMulti, 0);
  redisAppendCommandArgv(rb->rc, rb->wr.n, rb->wr.az, rb->wr.an);
  redisAppendCommandArgv(rb->rc, 1, azExec, 0);
  for (k = 0; k < 3; k++) {
    void *p = 0;
    if (redisGetReply(rb->rc, &p) != REDIS_OK)
      fatal("redis: write: %s", rb->rc->errstr);
    aR[k] = p;
  }
  rbCheck(rb, aR[1], "write (EVALSHA)");
  rbCheck(rb, aR[2], "write (EXEC)");
  if (aR[2]->type != REDIS_REPLY_ARRAY || aR[2]->elements != 1)
    fatal("redis: write: the transaction was not executed");
  r = aR[2]->element[0];
  rbCheck(rb, r, "write");
  if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)nOp + 1 ||
      r->element[0]->type != REDIS_REPLY_STRING ||
      strcmp(r->element[0]->str, "ok") != 0) {
    fatal("redis: write: unexpected reply");
  }
  for (i = 1; i < r->elements; i++) {
    if (rbInt(r->element[i]) != 1)
      fatal("redis: write: op %d was not applied", (int)i);
  }
  for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
}

/*
** INSERT nTask tasks (task i is c->aTask[i % o->nTask], in queue zQueue
** when not NULL) into side iSide with hiredis, nPerCall ops per write call
** (1: the store in autocommit mode; nTask: the store at COMMIT); returns
** the seconds taken.  bTimed: a measured run.
*/
static double rbInsertTasks(Ctx *c, RbBench *rb, int iSide, int nTask,
                            const char *zQueue, int bTimed, int nPerCall) {
  double t0 = bTimed ? timerStart() : now_sec();
  int i, j, n;
  for (i = 0; i < nTask; i += n) {
    n = nTask - i < nPerCall ? nTask - i : nPerCall;
    rbWriteStart(rb, iSide, n);
    for (j = 0; j < n; j++)
      rbTaskOp(rb, iSide, j, &c->aTask[(i + j) % c->o->nTask], zQueue);
    rbWriteSend(rb, n);
  }
  return bTimed ? timerStop(t0) : now_sec() - t0;
}

/*
** Delete the keys that match zMatch (SCAN + UNLINK), but with bKeepSeq not
** the row-handle counters "<kind>:seq".  NULL, or what failed.
*/
static const char *rbDeleteKeys(RbBench *rb, const char *zMatch, int bKeepSeq) {
  static char zErr[200];
  char zCursor[32] = "0";
  RbCmd m;
  memset(&m, 0, sizeof(m));
  do {
    const char *azScan[] = {"SCAN", zCursor, "MATCH", zMatch, "COUNT", "1000"};
    redisReply *r = redisCommandArgv(rb->rc, 6, azScan, 0), *r2 = 0;
    size_t i;
    if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[1]->type != REDIS_REPLY_ARRAY) {
      snprintf(zErr, sizeof(zErr), "SCAN: %s",
               !r                             ? rb->rc->errstr
               : r->type == REDIS_REPLY_ERROR ? r->str
                                              : "unexpected reply");
      freeReplyObject(r);
      zCursor[0] = 0;
      break;
    }
    snprintf(zCursor, sizeof(zCursor), "%s", r->element[0]->str);
    m.n = 0;
    rbArgZ(&m, "UNLINK");
    for (i = 0; i < r->element[1]->elements; i++) {
      const redisReply *k = r->element[1]->element[i];
      if (bKeepSeq && k->len >= 4 && strcmp(k->str + k->len - 4, ":seq") == 0)
        continue;
      rbArg(&m, k->str, k->len);
    }
    if (m.n > 1) {
      r2 = redisCommandArgv(rb->rc, m.n, m.az, m.an);
      if (!r2 || r2->type == REDIS_REPLY_ERROR) {
        snprintf(zErr, sizeof(zErr), "UNLINK: %s",
                 r2 ? r2->str : rb->rc->errstr);
        zCursor[0] = 0;
      }
    }
    freeReplyObject(r2);
    freeReplyObject(r);
    if (!zCursor[0]) break;
  } while (strcmp(zCursor, "0") != 0);
  free(m.az);
  free(m.an);
  return strcmp(zCursor, "0") == 0 ? 0 : zErr;
}

/* Empty side iSide's namespace before a run (untimed). */
static void rbClear(RbBench *rb, int iSide) {
  const char *zErr = rbDeleteKeys(rb, rb->azMatch[iSide], 1);
  if (zErr) fatal("redis: emptying %s: %s", rb->azMatch[iSide], zErr);
}

/* ------------------------------------------------------------ enqueue */

/* What both sides must agree on after an enqueue: over every column. */
static double rbEnqueueCheck(sqlite3 *db) {
  sqlite3_stmt *p = prepareOrDie(
      db, "SELECT count(*) * 1000 + total(priority) + total(length(payload)) "
          "+ total(length(id)) + total(state = 'pending') + total(attempts) "
          "+ total(max_attempts) + total(length(tags)) + total(run_at = "
          "created_at AND updated_at = created_at) + total(coalesce("
          "execution_id, lease_owner, lease_token, lease_expires_at, "
          "idempotency_key, result, error, completed_at) IS NULL) FROM tasks");
  double v = 0;
  if (sqlite3_step(p) != SQLITE_ROW)
    fatal("redis: enqueue checksum: %s", sqlite3_errmsg(db));
  v = sqlite3_column_double(p, 0);
  sqlite3_finalize(p);
  return v;
}

static double runRbEnqueue(Ctx *c, Side *s, void *pArg, double *pnOps,
                           double *pCheck) {
  RbBench *rb = (RbBench *)pArg;
  int n = rb->bTxn ? rb->nTxn : rb->nEnqueue;
  double t, check = 0;
  rbClear(rb, s->bSv ? 0 : 1);
  if (s->bSv) {
    t = insertTasks(c, s, n, 0, 1, rb->bTxn, &check);
  } else {
    t = rbInsertTasks(c, rb, 1, n, 0, 1, rb->bTxn ? n : 1);
  }
  *pCheck = rbEnqueueCheck(s->db);
  *pnOps = n;
  return t;
}

/* ------------------------------------------------------------- claims */

/*
** The script's claim with rdClaim's arguments for state_claim('tasks',
** 'q', zWorker, CLAIM_LEASE_MS, nMax) on the hiredis side (no names, tags,
** limits or completions; dead letters in the namespace): the claimed
** tasks' ids and tokens into a, their count.  A Worker's xClaim (pArg is
** the RbBench).
*/
static int rbClaim(void *pArg, const char *zWorker, int nMax, Claimed *a) {
  RbBench *rb = (RbBench *)pArg;
  RbCmd *m = &rb->cmd;
  char zLease[16], zN[16];
  redisReply *r;
  size_t i, nStride = 2 + (size_t)rb->nCol;
  int n = 0;
  snprintf(zLease, sizeof(zLease), "%d", CLAIM_LEASE_MS);
  snprintf(zN, sizeof(zN), "%d", nMax);
  rbEval(rb, m, 1, "claim");
  rbArgZ(m, zWorker);
  rbArgZ(m, zLease);
  rbArgZ(m, zN);
  rbArgZ(m, "1"); /* dead letters: the namespace's own */
  rbArgZ(m, "1"); /* one queue */
  rbArgZ(m, CLAIM_QUEUE);
  rbArgZ(m, "0");  /* names */
  rbArg(m, "", 0); /* tags */
  rbArgZ(m, "0");  /* limits */
  rbArgZ(m, "0");  /* completions */
  r = rbCall(rb, m, "claim");
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      rbInt(r->element[0]) != 0) {
    fatal("redis: unexpected reply to a claim");
  }
  for (i = 1; i + nStride <= r->elements && n < nMax; i += nStride, n++) {
    const redisReply *pId = r->element[i + 2 + (size_t)rb->iColId];
    const redisReply *pTok = r->element[i + 2 + (size_t)rb->iColTok];
    if (pId->type != REDIS_REPLY_STRING || pId->len >= sizeof(a[n].zId))
      fatal("redis: a claimed task without a proper id");
    memcpy(a[n].zId, pId->str, pId->len);
    a[n].zId[pId->len] = 0;
    a[n].nId = (int)pId->len;
    a[n].iToken = rbInt(pTok);
  }
  freeReplyObject(r);
  return n;
}

/*
** The script's complete of task a (rdComplete's arguments, no result): 1
** accepted, 0 stale.  A Worker's xComplete (pArg is the RbBench).
*/
static int rbComplete(void *pArg, const Claimed *a) {
  RbBench *rb = (RbBench *)pArg;
  RbCmd *m = &rb->cmd;
  char zTok[24];
  redisReply *r;
  int bOk;
  snprintf(zTok, sizeof(zTok), "%lld", (long long)a->iToken);
  rbEval(rb, m, 1, "complete");
  rbArg(m, a->zId, (size_t)a->nId);
  rbArgZ(m, zTok);
  rbArg(m, "", 0);
  r = rbCall(rb, m, "complete");
  bOk = rbInt(r) == 1;
  freeReplyObject(r);
  return bOk;
}

/*
** The hiredis side's worker for workerLoop (bench.c): the claims and
** completions of rbClaim and rbComplete, as worker 'w0'.
*/
static void rbWorker(RbBench *rb, int nBatch, Worker *k, WorkerStat *w) {
  memset(k, 0, sizeof(*k));
  k->nBatch = nBatch;
  k->w = w;
  snprintf(k->zName, sizeof(k->zName), "w0");
  k->aClaimed = calloc((size_t)nBatch + 1, sizeof(Claimed));
  if (!k->aClaimed) fatal("out of memory");
  k->xClaim = rbClaim;
  k->xComplete = rbComplete;
  k->pArg = rb;
}

static double runRbClaim(Ctx *c, Side *s, void *pArg, double *pnOps,
                         double *pCheck) {
  RbBench *rb = (RbBench *)pArg;
  ClaimSpec *q = &rb->q;
  int iSide = s->bSv ? 0 : 1;
  WorkerStat w;
  Worker k;
  double t0;
  memset(&w, 0, sizeof(w));
  rbClear(rb, iSide);
  rbInsertTasks(c, rb, iSide, q->nTask, CLAIM_QUEUE, 0, RB_FILL_BATCH);
  if (s->bSv) {
    workerOpen(c, s, s->db, 0, q->nBatch, &k, &w); /* claims 0 (warm-up) */
  } else {
    rbWorker(rb, q->nBatch, &k, &w);
    rbClaim(rb, "warm-up", 0, 0);
  }
  t0 = timerStart();
  workerLoop(&k);
  t0 = timerStop(t0);
  workerClose(&k);
  claimVerify(c, s, q, &w, pCheck);
  *pnOps = q->nTask;
  return t0;
}

static Result *rbBenchClaim(Ctx *c, RbBench *rb, const char *zOp, int nBatch,
                            int nTask) {
  Result *r;
  memset(&rb->q, 0, sizeof(rb->q));
  rb->q.zOp = zOp;
  rb->q.nProc = 1;
  rb->q.nBatch = nBatch;
  rb->q.nTask = nTask;
  r = measure(c, zOp, "tasks/s", 0, runRbClaim, rb);
  r->bThroughput = 1;
  r->bVerifyFail = claimVerifyLine(c, &rb->q);
  return r;
}

/* ---------------------------------------------------------- set-up */

/*
** Connect the hiredis side to zUrl: redis://[[user]:password@]host[:port]
** [/db][?...] or unix:/path[?db=N] (as the store reads them, but without
** percent-decoding; other parameters are ignored).  NULL on failure, with
** *pzErr (sqlite3_free) saying why.
*/
static redisContext *rbConnect(const char *zUrl, char **pzErr) {
  redisContext *rc = 0;
  redisReply *r = 0;
  char *zHost = 0, *zUser = 0, *zPass = 0;
  const char *z, *zEnd, *zAt = 0, *q;
  int iPort = 6379, iDb = 0;
  *pzErr = 0;
  if (strncmp(zUrl, "unix:", 5) == 0) {
    z = zUrl + 5 + (strncmp(zUrl + 5, "//", 2) == 0 ? 2 : 0);
    zEnd = z + strcspn(z, "?");
    if ((q = strstr(zEnd, "?db=")) != 0 || (q = strstr(zEnd, "&db=")) != 0)
      iDb = atoi(q + 4);
    zHost = sqlite3_mprintf("%.*s", (int)(zEnd - z), z);
    rc = redisConnectUnix(zHost);
  } else if (strncmp(zUrl, "redis://", 8) == 0) {
    z = zUrl + 8;
    zEnd = z + strcspn(z, "/?");
    for (q = z; q < zEnd; q++) {
      if (*q == '@') zAt = q;
    }
    if (zAt) {
      const char *zColon = memchr(z, ':', (size_t)(zAt - z));
      if (zColon) {
        if (zColon > z) zUser = sqlite3_mprintf("%.*s", (int)(zColon - z), z);
        zPass = sqlite3_mprintf("%.*s", (int)(zAt - zColon - 1), zColon + 1);
      }
      z = zAt + 1;
    }
    q = *z == '[' ? memchr(z, ']', (size_t)(zEnd - z)) : 0; /* [v6] */
    if (q) {
      zHost = sqlite3_mprintf("%.*s", (int)(q - z - 1), z + 1);
      q++;
    } else {
      q = z + strcspn(z, ":/?");
      zHost = sqlite3_mprintf("%.*s", (int)(q - z), z);
    }
    if (*q == ':') iPort = atoi(q + 1);
    if (*zEnd == '/') iDb = atoi(zEnd + 1);
    rc = redisConnect(zHost, iPort);
  } else {
    *pzErr = sqlite3_mprintf("expected redis://... or unix:/...");
  }
  if (!*pzErr && (!rc || rc->err)) {
    *pzErr = sqlite3_mprintf("cannot connect to %s: %s", zHost,
                             rc ? rc->errstr : "out of memory");
  }
  if (!*pzErr && zPass) {
    const char *az[3] = {"AUTH", zUser ? zUser : zPass, zPass};
    r = redisCommandArgv(rc, zUser ? 3 : 2, az, 0);
    if (!r || r->type == REDIS_REPLY_ERROR)
      *pzErr = sqlite3_mprintf("AUTH: %s", r ? r->str : rc->errstr);
    freeReplyObject(r);
  }
  if (!*pzErr && iDb) {
    r = redisCommand(rc, "SELECT %d", iDb);
    if (!r || r->type == REDIS_REPLY_ERROR)
      *pzErr = sqlite3_mprintf("SELECT %d: %s", iDb, r ? r->str : rc->errstr);
    freeReplyObject(r);
  }
  sqlite3_free(zHost);
  sqlite3_free(zUser);
  sqlite3_free(zPass);
  if (*pzErr && rc) {
    redisFree(rc);
    rc = 0;
  }
  return rc;
}

/* The SHA1 of the store's script, from statevtab_debug('tasks') on db. */
static void rbScriptSha(sqlite3 *db, char *zSha, size_t nSha) {
  sqlite3_stmt *p = prepareOrDie(db, "SELECT statevtab_debug('tasks')");
  const char *z = 0;
  size_t n = 0;
  if (sqlite3_step(p) == SQLITE_ROW && sqlite3_column_text(p, 0)) {
    z = strstr((const char *)sqlite3_column_text(p, 0), "(script ");
  }
  if (z) {
    z += strlen("(script ");
    n = strspn(z, "0123456789abcdef");
  }
  if (n != 40 || n >= nSha)
    fatal("redis: no script SHA1 in statevtab_debug('tasks')");
  memcpy(zSha, z, n);
  zSha[n] = 0;
  sqlite3_finalize(p);
}

/* The columns of tasks in table order (the order of a write op). */
static void rbColumns(RbBench *rb, sqlite3 *db) {
  sqlite3_stmt *p =
      prepareOrDie(db, "SELECT name FROM pragma_table_info('tasks')");
  rb->iColId = rb->iColTok = -1;
  while (sqlite3_step(p) == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(p, 0);
    if (rb->nCol >= RB_NCOL_MAX)
      fatal("redis: tasks has more than %d columns", RB_NCOL_MAX);
    if (strcmp(z, "id") == 0) rb->iColId = rb->nCol;
    if (strcmp(z, "lease_token") == 0) rb->iColTok = rb->nCol;
    rb->azCol[rb->nCol++] = strdup(z);
  }
  sqlite3_finalize(p);
  if (rb->iColId < 0 || rb->iColTok < 0)
    fatal("redis: tasks has no id or lease_token column");
}

/* The server's version (INFO server), in zBuf. */
static const char *rbServerVersion(RbBench *rb, char *zBuf, size_t nBuf) {
  redisReply *r = redisCommand(rb->rc, "INFO server");
  const char *z =
      r && r->type == REDIS_REPLY_STRING ? strstr(r->str, "redis_version:") : 0;
  snprintf(zBuf, nBuf, "%.*s", z ? (int)strcspn(z + 14, "\r\n") : 1,
           z ? z + 14 : "?");
  freeReplyObject(r);
  return zBuf;
}

/*
** At exit (a fatal error in the pass): delete the pass's keys, on a new
** connection when the old one failed; a failure is a warning.
*/
static void rbAtExit(void) {
  RbBench *rb = pRbCleanup;
  const char *zErr;
  char *zConnErr = 0;
  pRbCleanup = 0;
  if (!rb) return;
  if (!rb->rc || rb->rc->err) {
    redisFree(rb->rc);
    rb->rc = rbConnect(rb->zUrl, &zConnErr);
  }
  zErr = rb->rc ? rbDeleteKeys(rb, rb->zMatchAll, 0) : zConnErr;
  if (zErr) {
    fprintf(stderr, "bench: WARNING: could not delete the keys %s: %s\n",
            rb->zMatchAll, zErr);
  }
  sqlite3_free(zConnErr);
}

/* -------------------------------------------------------------- pass */

/*
** A size: the option's value when given, else a tenth of the SQLite
** passes' size, at most nMax, at least 1.  Every write of the script is
** one server round trip plus, on a server with appendfsync always, an
** fsync: the SQLite sizes would take many minutes.
*/
static int rbDefault(int nOpt, int nSqlite, int nMax) {
  int n = nSqlite / 10;
  if (nOpt > 0) return nOpt;
  return n < 1 ? 1 : n > nMax ? nMax : n;
}

/* The Redis pass on zUrl; non-zero as runRbPass. */
static int rbPass(const Opts *o, const char *zUrl, Task *aTask, int *aiLookup) {
  Ctx c;
  RbBench rb;
  Result *aR[4] = {0, 0, 0, 0};
  char zBase[64], zVer[32], *zErr = 0;
  int k, rc = 0, nClaim1, nBad;
  storeCtx(&c, o, "Redis store", "hiredis", aTask, aiLookup);
  memset(&rb, 0, sizeof(rb));
  rb.nEnqueue = rbDefault(rbOptN, o->nTask, 3000);
  rb.nTxn = rbDefault(rbOptT, o->nTask, 2000);
  nClaim1 = rbDefault(rbOptC, o->nClaimTask, 2000);

  snprintf(zBase, sizeof(zBase), "bench_%d", (int)getpid());
  rb.zMatchAll = sqlite3_mprintf("{%s_*", zBase);
  /* [0] the statevtab side's own connection; [1] reads the hiredis side's
  ** rows, for the untimed checks only. */
  for (k = 0; k < 2; k++) {
    char *zSql;
    rb.azBase[k] = sqlite3_mprintf("{%s_%s:}", zBase, k ? "raw" : "sv");
    rb.azMatch[k] = sqlite3_mprintf("%s*", rb.azBase[k]);
    benchOpen(&c, 1, ":memory:", &c.aSide[k].db);
    zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE tasks USING state_tasks("
                           "store='env:" RB_URL_ENV "', prefix='%q_%q:')",
                           zBase, k ? "raw" : "sv");
    execOrDie(c.aSide[k].db, zSql);
    sqlite3_free(zSql);
  }
  rbScriptSha(c.aSide[0].db, rb.zSha, sizeof(rb.zSha));
  rbColumns(&rb, c.aSide[0].db);
  rb.zUrl = zUrl;
  rb.rc = rbConnect(zUrl, &zErr);
  if (!rb.rc) fatal("redis: %s: %s", RB_URL_ENV, zErr);
  if (!o->bKeep) {
    static int bAtExit = 0;
    if (!bAtExit++) atexit(rbAtExit);
    pRbCleanup = &rb;
  }

  printf("\n== Redis store: server %s, hiredis %d.%d.%d; %d tasks per "
         "autocommit enqueue, %d per transaction, claims of %d (n=1) and %d "
         "(n=100) tasks, best of %d; keys {%s_{sv,raw}:}..., script %.12s\n",
         rbServerVersion(&rb, zVer, sizeof(zVer)), HIREDIS_MAJOR, HIREDIS_MINOR,
         HIREDIS_PATCH, rb.nEnqueue, rb.nTxn, nClaim1, 5 * nClaim1, o->nRep,
         zBase, rb.zSha);
  fflush(stdout);
  if (selected(o, "redis-enqueue")) {
    rb.bTxn = 0;
    aR[0] = measure(&c, "redis enqueue (autocommit)", "rows/s", 0, runRbEnqueue,
                    &rb);
  }
  if (selected(o, "redis-enqueue-txn")) {
    rb.bTxn = 1;
    aR[1] =
        measure(&c, "redis enqueue (1 txn)", "rows/s", 0, runRbEnqueue, &rb);
  }
  if (selected(o, "redis-claim-n1")) {
    aR[2] = rbBenchClaim(&c, &rb, "redis claim+complete n=1", 1, nClaim1);
  }
  if (selected(o, "redis-claim-n100")) {
    aR[3] =
        rbBenchClaim(&c, &rb, "redis claim+complete n=100", 100, 5 * nClaim1);
  }

  nBad = storeReport("Redis", "hiredis", aR, 4, aR[2], aR[3]);
  printf("sv/raw = statevtab throughput / hiredis throughput (1.00 = same); "
         "best of %d, sides interleaved\n"
         "hiredis: the store's script calls, sent directly (EVALSHA <sha> 1 "
         "{<prefix>} <op> ...): enqueue = 'rids' once per 64 rows, and "
         "MULTI, 'write', EXEC pipelined per row (autocommit) or once for "
         "all rows (1 txn); claim = 'claim' with rdClaim's arguments, "
         "complete = "
         "'complete' per task; one connection\n",
         o->nRep);
  if (nBad) {
    printf("WARNING: a Redis run read or wrote different data, or did not "
           "complete every task exactly once (see above)\n");
    rc = 1;
  }
  fflush(stdout);

  /* Clean up: the statevtab connections first, then every key. */
  for (k = 0; k < 2; k++) {
    sqlite3_close(c.aSide[k].db);
    c.aSide[k].db = 0;
  }
  if (o->bKeep) {
    printf("kept keys %s\n", rb.zMatchAll);
  } else {
    const char *zErr = rbDeleteKeys(&rb, rb.zMatchAll, 0);
    if (zErr) {
      fprintf(stderr, "bench: WARNING: could not delete the keys %s: %s\n",
              rb.zMatchAll, zErr);
    }
  }
  pRbCleanup = 0;
  redisFree(rb.rc);
  for (k = 0; k < 2; k++) {
    sqlite3_free(rb.azBase[k]);
    sqlite3_free(rb.azMatch[k]);
  }
  for (k = 0; k < rb.nCol; k++) free(rb.azCol[k]);
  sqlite3_free(rb.zMatchAll);
  free(rb.cmd.az);
  free(rb.cmd.an);
  free(rb.wr.az);
  free(rb.wr.an);
  free(rb.aBuf);
  return rc;
}

#endif /* BENCH_NO_HIREDIS */

/*
** The Redis pass: returns non-zero when a benchmark could not run or a
** claim run failed its verification.
*/
static int runRbPass(const Opts *o, Task *aTask, int *aiLookup) {
  const char *zUrl = getenv(RB_URL_ENV);
  if (!storeSelected(o, aRbBench, NRBBENCH)) return 0;
  if (!zUrl || !zUrl[0]) {
    printf("\n== Redis store: skipped: " RB_URL_ENV " not set\n");
    fflush(stdout);
    return 0;
  }
#ifdef BENCH_NO_HIREDIS
  (void)aTask;
  (void)aiLookup;
  printf("\n== Redis store: skipped: built without hiredis "
         "(BENCH_NO_HIREDIS)\n");
  fflush(stdout);
  return 0;
#else
  return rbPass(o, zUrl, aTask, aiLookup);
#endif
}
