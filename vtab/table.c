/*
** 2026-12-03
**
** table.c -- what the SQL functions (ext/) ask of a table: the atomic
** primitives of its store, one call each, and the store's error message.
** ext/ goes through these and never through statevtab_store or its
** methods, so the layers stay one-way: ext -> vtab -> store.
**
** USAGE
**
**   rc = sv_table_complete(p, &id, iToken, &result, &bOk);
**   if (rc != SQLITE_OK) zMsg = sv_table_error(p, rc);   (sqlite3_free it)
**
** Each sv_table_X calls the queue method X (statevtab_queue_methods) of
** table p's store with p's store table and returns its code.  A store
** without that method (a custom store that implements rows only, pQueue
** NULL) gets SQLITE_ERROR and the message "store '<scheme>' does not
** support this function".
**
** WAITING
**
** sv_table_lease and sv_table_take wait up to iWaitMs (0: not at all) for
** what they ask for, in waitFor: try; when that fails, sleep until the
** store's xWake reports a wake-up of the key (the lease's name, the
** signal's execution id), the thing may be free by itself (a lease's
** expiry), a second has passed (in case a wake-up was lost), or the wait
** is over; then try again.  A store without xWake (the local store, a
** custom store) is polled instead, backing off from 2 ms to 50 ms.  Sleeps
** last at most 100 ms, between which sqlite3_interrupt() ends the wait
** with SQLITE_INTERRUPT.  Waking for nothing costs a try; the store's
** "start listening" call comes before each try, so a wake-up between the
** try and the sleep is not missed.
*/
#include "svint.h"

#define METHODS(p) ((p)->pRef->pStore->pMethods)

/* Leave "store ... does not support this function" as the store's error. */
static int unsupported(sv_vtab *p) {
  statevtab_store *s = p->pRef->pStore;
  sqlite3_free(s->zErrMsg);
  s->zErrMsg = sqlite3_mprintf("store '%s' does not support this function",
                               METHODS(p)->zScheme);
  return s->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Call queue method M of p's store with p's store table and the rest. */
#define CALL(p, M, ...)                                                        \
  (METHODS(p)->pQueue && METHODS(p)->pQueue->M                                 \
       ? METHODS(p)->pQueue->M((p)->pTab, __VA_ARGS__)                         \
       : unsupported(p))

/*
** Make table p take part in its connection's explicit transaction before
** an atomic primitive writes through it, so that the store hears of the
** COMMIT, ROLLBACK and savepoints (xBegin, xSavepoint ...) and the
** primitive's work is kept or undone with the transaction's.  SQLite calls
** a virtual table's xBegin only for a statement that writes the table, and
** SELECT state_incr(...) writes none: a write statement that touches no
** row does it (DELETE FROM t WHERE 0, prepared on the caller's connection
** as any nested statement of a SQL function).  Nothing to do in autocommit
** mode (the primitive is a transaction of its own), once the table takes
** part, or for a store without xBegin (the local store writes on the
** caller's connection, inside its transaction already).
*/
static int join(sv_vtab *p) {
  sqlite3 *db = p->pConn->db;
  statevtab_store *s = p->pRef->pStore;
  char *zSql;
  int rc;
  if (p->bInTxn || !METHODS(p)->xBegin || sqlite3_get_autocommit(db)) {
    return SQLITE_OK;
  }
  zSql = sqlite3_mprintf("DELETE FROM \"%w\".\"%w\" WHERE 0", p->zDb, p->zName);
  rc = zSql ? sqlite3_exec(db, zSql, 0, 0, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
    sqlite3_free(s->zErrMsg);
    s->zErrMsg =
        sqlite3_mprintf("cannot join the transaction: %s", sqlite3_errmsg(db));
    if (!s->zErrMsg) rc = SQLITE_NOMEM;
  }
  return rc;
}

/*
** A step of table p's retain= (see policy.h): remove up to SV_PURGE_BATCH
** rows past the period when one is due.  Housekeeping: a failure is not the
** caller's, only the next step waits.
*/
void sv_table_maintain(sv_vtab *p) {
  const statevtab_queue_methods *q = METHODS(p)->pQueue;
  statevtab_store *s = p->pRef->pStore;
  sqlite3_int64 now;
  int n = 0, rc;
  if (p->iRetainMs <= 0 || !q || q->iVersion < 2 || !q->xPurge) return;
  now = sv_mono_ms();
  if (now < p->iNextPurge) return;
  rc = q->xPurge(p->pTab, p->iRetainMs, SV_PURGE_BATCH, &n);
  if (rc != SQLITE_OK || n < SV_PURGE_BATCH) {
    p->iNextPurge =
        now +
        (p->iRetainMs < SV_PURGE_EVERY_MS ? p->iRetainMs : SV_PURGE_EVERY_MS);
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(s->zErrMsg);
    s->zErrMsg = 0;
  }
}

/* CALL, for a primitive that writes: first join (see above), and a step of
** retain= (before the call: the out-values of some primitives live until
** the next call on the table). */
#define WCALL(p, M, ...)                                                       \
  int rc = join(p);                                                            \
  if (rc == SQLITE_OK) sv_table_maintain(p);                                   \
  return rc != SQLITE_OK ? rc : CALL(p, M, __VA_ARGS__)

/*
** Take the message of the store's last failure rc (sqlite3_malloc'd; the
** store forgets it): the store's own text, else SQLite's for rc.  NULL on
** OOM.
*/
char *sv_table_error(sv_vtab *p, int rc) {
  statevtab_store *s = p->pRef->pStore;
  char *z = s->zErrMsg ? s->zErrMsg : sqlite3_mprintf("%s", sqlite3_errstr(rc));
  s->zErrMsg = 0;
  return z;
}

/*
** LOST REPLIES.  A worker whose state_complete (state_fail) took effect but
** whose reply was lost -- a connection cut, a timeout -- calls it again
** with the same token, and must hear that it succeeded, not that its token
** is stale.  The store answers "stale" (its method found the token not
** current); then read the task (only on that path: the hot path costs
** nothing more) and tell what the store did before from a task lost to
** another holder.  Tokens only grow and a claim takes a new one, so a task
** that still carries token iToken has not been claimed since that token's
** holder finished it:
**   completed with iToken            -> a completion of iToken: *pOut 1
**   dead with iToken and error pErr  -> a fail of iToken: STATEVTAB_FAIL_DEAD
**   pending, no owner, with iToken
**   and error pErr                   -> a fail of iToken: STATEVTAB_FAIL_RETRY
** pErr is NULL for a completion (*pOut is then 0 or 1), else the error of
** a fail (*pOut a STATEVTAB_FAIL_* outcome); comparing it tells a fail from
** the death of a task whose lease expired at max_attempts (that error is
** not the holder's).  Anything else (another token, claimed again,
** cancelled, no such row: retain= removed it) leaves *pOut as it is.  The
** read is not atomic with the call and need not be: from those states
** only a new claim (a new token) or a user's UPDATE moves the task.
*/
static int settled(sv_vtab *p, const statevtab_value *pId, sqlite3_int64 iToken,
                   const statevtab_value *pErr, int *pOut) {
  statevtab_value *a = 0;
  int rc = sv_read_row(p, pId, &a);
  if (rc == SQLITE_OK && a && a[SV_TASK_LEASE_TOKEN].eType == SQLITE_INTEGER &&
      a[SV_TASK_LEASE_TOKEN].i == iToken &&
      a[SV_TASK_STATE].eType == SQLITE_TEXT) {
    const char *z = a[SV_TASK_STATE].z;
    const statevtab_value *e = &a[SV_TASK_ERROR];
    if (!pErr) {
      if (strcmp(z, "completed") == 0) *pOut = 1;
    } else if (pErr->eType == SQLITE_TEXT
                   ? e->eType != SQLITE_TEXT || e->n != pErr->n ||
                         (pErr->n && memcmp(e->z, pErr->z, (size_t)pErr->n))
                   : e->eType != SQLITE_NULL) {
      /* another error: not this fail's doing */
    } else if (strcmp(z, "dead") == 0) {
      *pOut = STATEVTAB_FAIL_DEAD;
    } else if (strcmp(z, "pending") == 0 &&
               a[SV_TASK_LEASE_OWNER].eType == SQLITE_NULL) {
      *pOut = STATEVTAB_FAIL_RETRY;
    }
  }
  sqlite3_free(a);
  return rc;
}

int sv_table_claim(sv_vtab *p, statevtab_table *pDead, const statevtab_claim *c,
                   statevtab_row_fn xRow, void *pCtx) {
  const statevtab_queue_methods *q = METHODS(p)->pQueue;
  int k;
  /* Rate limits: only a store of version 3 knows aiLimitPeriod (an older
  ** one would take them for concurrency limits). */
  for (k = 0; c->aiLimitPeriod && k < c->nLimit; k++) {
    if (c->aiLimitPeriod[k] > 0 && q && q->iVersion < 3) {
      statevtab_store *s = p->pRef->pStore;
      sqlite3_free(s->zErrMsg);
      s->zErrMsg = sqlite3_mprintf("store '%s' does not support "
                                   "options.rates",
                                   METHODS(p)->zScheme);
      return s->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
    }
  }
  /* Partition limits: only a store of version 4 knows nPart. */
  if (c->nPart > 0 && q && q->iVersion < 4) {
    statevtab_store *s = p->pRef->pStore;
    sqlite3_free(s->zErrMsg);
    s->zErrMsg = sqlite3_mprintf("store '%s' does not support partition "
                                 "limits (\"partition:<queue>\" in "
                                 "options.limits or options.rates)",
                                 METHODS(p)->zScheme);
    return s->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  /* Due schedules become tasks first (schedule.c), so that this claim
  ** may take them. */
  if (c->nMax > 0) {
    int rc = sv_sched_run(p, 0, 0);
    if (rc != SQLITE_OK) return rc;
  }
  {
    int rc = join(p), k;
    if (rc == SQLITE_OK) sv_table_maintain(p);
    if (rc == SQLITE_OK) rc = CALL(p, xClaim, pDead, c, xRow, pCtx);
    for (k = 0; rc == SQLITE_OK && k < c->nComplete; k++) {
      if (!c->aCompleteOk[k]) {
        rc = settled(p, &c->aCompleteId[k], c->aiCompleteToken[k], 0,
                     &c->aCompleteOk[k]);
      }
    }
    return rc;
  }
}

int sv_table_renew(sv_vtab *p, const statevtab_value *pId, sqlite3_int64 iToken,
                   sqlite3_int64 iLeaseMs, sqlite3_int64 *piExpires) {
  WCALL(p, xRenew, pId, iToken, iLeaseMs, piExpires);
}

int sv_table_complete(sv_vtab *p, const statevtab_value *pId,
                      sqlite3_int64 iToken, const statevtab_value *pResult,
                      int *pbOk) {
  int rc = join(p);
  if (rc == SQLITE_OK) sv_table_maintain(p);
  if (rc == SQLITE_OK) rc = CALL(p, xComplete, pId, iToken, pResult, pbOk);
  if (rc == SQLITE_OK && !*pbOk) {
    rc = settled(p, pId, iToken, 0, pbOk);
  }
  return rc;
}

int sv_table_fail(sv_vtab *p, statevtab_table *pDead,
                  const statevtab_value *pId, sqlite3_int64 iToken,
                  const statevtab_value *pError, sqlite3_int64 iRetryMs,
                  int *peOut) {
  int rc = join(p);
  if (rc == SQLITE_OK) sv_table_maintain(p);
  if (rc == SQLITE_OK) {
    rc = CALL(p, xFail, pDead, pId, iToken, pError, iRetryMs, peOut);
  }
  if (rc == SQLITE_OK && *peOut == STATEVTAB_FAIL_STALE) {
    rc = settled(p, pId, iToken, pError, peOut);
  }
  return rc;
}

int sv_table_pause(sv_vtab *p, const statevtab_value *pQueue, int bPause,
                   int *pbChanged) {
  WCALL(p, xPause, pQueue, bPause, pbChanged);
}

int sv_table_paused(sv_vtab *p, const statevtab_value *pQueue, int *pb) {
  return CALL(p, xPaused, pQueue, pb);
}

int sv_table_release(sv_vtab *p, const statevtab_value *pName,
                     const statevtab_value *pOwner, int *pbOk) {
  WCALL(p, xLeaseRelease, pName, pOwner, pbOk);
}

int sv_table_incr(sv_vtab *p, const statevtab_value *pScope,
                  const statevtab_value *pName, const statevtab_value *pDelta,
                  statevtab_value *pOut) {
  WCALL(p, xIncr, pScope, pName, pDelta, pOut);
}

int sv_table_insert_atomic(sv_vtab *p, const statevtab_value *aRow,
                           int *pbDone) {
  WCALL(p, xInsertAtomic, aRow, pbDone);
}

int sv_table_progress(sv_vtab *p, const statevtab_value *pId,
                      const statevtab_value *pJson, int *pbOk) {
  WCALL(p, xProgress, pId, pJson, pbOk);
}

/*
** state_wait: the store's xWait, in slices that end at the next due
** schedule of the queue (which is then fired, and its task makes the next
** slice return at once), and that last at most 4 * SV_SCHED_RELOAD_MS when
** the table has schedules (so that one added meanwhile is seen).
*/
int sv_table_wait(sv_vtab *p, const statevtab_value *pQueue,
                  sqlite3_int64 iTimeoutMs, int *pbReady) {
  sqlite3_int64 iEnd = sv_mono_ms() + iTimeoutMs;
  for (;;) {
    sqlite3_int64 iWake = -2, iSlice = iEnd - sv_mono_ms();
    int rc = sv_sched_run(p, pQueue, &iWake);
    if (rc != SQLITE_OK) return rc;
    if (iSlice < 0) iSlice = 0;
    if (iWake != -2 && iSlice > 4 * SV_SCHED_RELOAD_MS) {
      iSlice = 4 * SV_SCHED_RELOAD_MS;
    }
    if (iWake >= 0) {
      sqlite3_int64 d = iWake - sv_now_ms();
      if (d < 1) d = 1;
      if (d < iSlice) iSlice = d;
    }
    rc = CALL(p, xWait, pQueue, iSlice, pbReady);
    if (rc != SQLITE_OK || *pbReady || sv_mono_ms() >= iEnd) return rc;
    if (sv_interrupted(p->pConn->db)) return SQLITE_INTERRUPT;
  }
}

/* state_metrics: a read (no join, no retain= step).  A store of queue
** methods version 2 or less has no xMetrics. */
int sv_table_metrics(sv_vtab *p, const statevtab_value *pQueue, int bHistory,
                     statevtab_metrics_fn xRow, void *pCtx) {
  const statevtab_queue_methods *q = METHODS(p)->pQueue;
  if (!q || q->iVersion < 3) return unsupported(p);
  return CALL(p, xMetrics, pQueue, bHistory, xRow, pCtx);
}

/* The store's announcements of changes to p's rows (xChanged): *piGen
** changes when they may have changed, *pbLive 1 while the store announces
** them; a store of queue methods version 4 or less never does. */
int sv_table_changed(sv_vtab *p, sqlite3_uint64 *piGen, int *pbLive) {
  const statevtab_queue_methods *q = METHODS(p)->pQueue;
  *piGen = 0;
  *pbLive = 0;
  if (!q || q->iVersion < 5 || !q->xChanged) return SQLITE_OK;
  return q->xChanged(p->pTab, piGen, pbLive);
}

/* ------------------------------------------------------------- waiting */

#define WAIT_SLICE_MS 100  /* longest sleep between looks for an interrupt */
#define WAIT_RETRY_MS 1000 /* longest time between two tries when woken */
#define WAIT_POLL_MS 50    /* longest back-off between two polls */

/*
** One try of a waiting function (pArg: its arguments).  *pbDone: got it.
** When bDue and not done, *piDueMs may be set to the ms until what it waits
** for may come by itself (-1 as given: unknown).
*/
typedef int (*WaitTry)(sv_vtab *, void *pArg, int bDue, int *pbDone,
                       sqlite3_int64 *piDueMs);

/* The xWake of p's store, or NULL (a store of queue methods version 1). */
static int (*wakeMethod(sv_vtab *p))(statevtab_table *, const statevtab_value *,
                                     sqlite3_int64, int *) {
  const statevtab_queue_methods *q = METHODS(p)->pQueue;
  return q && q->iVersion >= 2 ? q->xWake : 0;
}

/* Try xTry until it is done or iWaitMs pass (see WAITING above). */
static int waitFor(sv_vtab *p, const statevtab_value *pKey,
                   sqlite3_int64 iWaitMs, WaitTry xTry, void *pArg) {
  int (*xWake)(statevtab_table *, const statevtab_value *, sqlite3_int64,
               int *) = iWaitMs > 0 ? wakeMethod(p) : 0;
  sqlite3_int64 iEnd = sv_mono_ms() + iWaitMs, iPoll = 2;
  for (;;) {
    sqlite3_int64 iDue = -1, iDelay, iNext, now;
    int rc, bDone = 0, bWoken = 0;
    if (xWake) {
      rc = xWake(p->pTab, pKey, 0, &bWoken);
      if (rc != SQLITE_OK) return rc;
    }
    rc = xTry(p, pArg, iWaitMs > 0, &bDone, &iDue);
    if (rc != SQLITE_OK || bDone) return rc;
    now = sv_mono_ms();
    if (now >= iEnd) return SQLITE_OK;
    /* The next try without a wake-up: polling, after the back-off; else
    ** after a second; sooner when it may come by itself (but not sooner
    ** than the back-off: the store's clock may be ahead of ours). */
    iDelay = xWake ? WAIT_RETRY_MS : iPoll;
    if (iDue >= 0 && iDue + 1 < iDelay) {
      iDelay = iDue + 1 < iPoll ? iPoll : iDue + 1;
    }
    if (iPoll < WAIT_POLL_MS) iPoll *= 2;
    iNext = now + iDelay < iEnd ? now + iDelay : iEnd;
    while (!bWoken && (now = sv_mono_ms()) < iNext) {
      sqlite3_int64 iSlice = iNext - now;
      if (iSlice > WAIT_SLICE_MS) iSlice = WAIT_SLICE_MS;
      if (xWake) {
        rc = xWake(p->pTab, pKey, iSlice, &bWoken);
        if (rc != SQLITE_OK) return rc;
      } else {
        sqlite3_sleep((int)iSlice);
      }
      if (sv_interrupted(p->pConn->db)) {
        statevtab_store *s = p->pRef->pStore;
        sqlite3_free(s->zErrMsg);
        s->zErrMsg = sqlite3_mprintf("interrupted while waiting");
        return s->zErrMsg ? SQLITE_INTERRUPT : SQLITE_NOMEM;
      }
    }
  }
}

typedef struct LeaseArgs {
  const statevtab_value *pName, *pOwner;
  sqlite3_int64 iTtlMs;
  sqlite3_int64 *piToken;
} LeaseArgs;

/* A try of state_lease; when another owner holds the lease, its expiry
** (the store's clock, taken as ours) is when it may free by itself. */
static int leaseTry(sv_vtab *p, void *pArg, int bDue, int *pbDone,
                    sqlite3_int64 *piDueMs) {
  LeaseArgs *a = (LeaseArgs *)pArg;
  statevtab_value *aRow = 0;
  int rc = CALL(p, xLease, a->pName, a->pOwner, a->iTtlMs, a->piToken);
  *pbDone = rc == SQLITE_OK && *a->piToken != 0;
  if (rc != SQLITE_OK || *pbDone || !bDue) return rc;
  rc = sv_read_row(p, a->pName, &aRow);
  if (rc == SQLITE_OK && aRow &&
      aRow[SV_LEASE_EXPIRES_AT].eType == SQLITE_INTEGER) {
    *piDueMs = aRow[SV_LEASE_EXPIRES_AT].i - sv_now_ms();
    if (*piDueMs < 0) *piDueMs = 0;
  }
  sqlite3_free(aRow);
  return rc;
}

/* state_lease: the lease's fencing token in *piToken, or 0 when another
** owner still held it after iWaitMs. */
int sv_table_lease(sv_vtab *p, const statevtab_value *pName,
                   const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                   sqlite3_int64 iWaitMs, sqlite3_int64 *piToken) {
  LeaseArgs a;
  int rc = join(p);
  a.pName = pName;
  a.pOwner = pOwner;
  a.iTtlMs = iTtlMs;
  a.piToken = piToken;
  *piToken = 0;
  if (rc != SQLITE_OK) return rc;
  return waitFor(p, pName, iWaitMs, leaseTry, &a);
}

typedef struct TakeArgs {
  const statevtab_value *pExecId, *pName;
  statevtab_value *pOut;
} TakeArgs;

static int takeTry(sv_vtab *p, void *pArg, int bDue, int *pbDone,
                   sqlite3_int64 *piDueMs) {
  TakeArgs *a = (TakeArgs *)pArg;
  int rc = CALL(p, xTake, a->pExecId, a->pName, a->pOut);
  (void)bDue;
  (void)piDueMs;
  *pbDone = rc == SQLITE_OK && a->pOut->eType != SQLITE_NULL;
  return rc;
}

/* state_take: the payload in *pOut, a NULL value when no signal came in
** iWaitMs (the wake-ups are those of the execution id). */
int sv_table_take(sv_vtab *p, const statevtab_value *pExecId,
                  const statevtab_value *pName, sqlite3_int64 iWaitMs,
                  statevtab_value *pOut) {
  TakeArgs a;
  int rc = join(p);
  a.pExecId = pExecId;
  a.pName = pName;
  a.pOut = pOut;
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  if (rc != SQLITE_OK) return rc;
  sv_table_maintain(p); /* retain= of the signals */
  return waitFor(p, pExecId, iWaitMs, takeTry, &a);
}

/* The store line of statevtab_debug(T) (sqlite3_malloc'd; NULL on OOM). */
char *sv_table_describe(sv_vtab *p) {
  const statevtab_store_methods *m = METHODS(p);
  return m->xDescribe ? m->xDescribe(p->pRef->pStore)
                      : sqlite3_mprintf("%s", m->zScheme);
}
