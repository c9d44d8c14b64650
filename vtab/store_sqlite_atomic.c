/*
** 2026-11-22
**
** store_sqlite_atomic.c -- the atomic primitives of the local store: claim,
** renew, complete, fail (with dead-lettering), lease, release, incr, take,
** progress, pause, and the stand-alone insert used by state_signal.
**
** HOW IT WORKS
**
** Each primitive runs as one transaction of its own (LocalTxn), on one of
** two connections:
**
**   - a private connection to the same file, inside BEGIN IMMEDIATE with a
**     busy timeout, when the caller's connection is in autocommit mode, is
**     not itself writing, and the database is a file in WAL mode.  A write
**     made from inside the caller's read statement (SELECT state_claim...)
**     would otherwise have to upgrade that statement's read transaction, and
**     in WAL mode that upgrade fails at once with SQLITE_BUSY_SNAPSHOT when
**     another process has written meanwhile -- the busy handler is never
**     called.  Taking the write lock up front on a fresh transaction waits
**     instead (SQLite's busy handler backs off 1, 2, 5 ... 100 ms).
**
**   - the caller's connection otherwise (an explicit transaction, which the
**     primitive joins; :memory: and temp databases; rollback-journal files),
**     wrapped in SAVEPOINT statevtab_atomic so that a failure half way leaves
**     nothing behind.  A caller's explicit transaction should be opened with
**     BEGIN IMMEDIATE.
**
** Statements are prepared once per table and connection (aAtomic[iConn]).
** Times come from sv_now_ms(), read once per primitive.  A primitive that
** writes first makes sure, in its own transaction, that no trigger sits on
** the shadow tables it may write (txnBegin, localGuard): such a trigger
** would run inside the primitive -- one that expires a fresh lease would
** hand a task to two workers.
**
** Claiming (localClaim): per queue, skip it if paused; "reap" claimed tasks
** whose lease expired (back to 'pending' with their attempts, or 'dead' with
** a dead letter when attempts reached max_attempts); then read up to K
** runnable candidates in (priority, run_at, id) order from the index
** (queue, state[, partition_key IS NULL], priority, run_at, id), merge the
*queues' candidates, apply
** the concurrency limits, and claim the winners by rowid with a new fencing
** token (lease_token + 1).  If limits rejected candidates and a queue had
** more, K grows and the walk repeats -- nothing is written until then.
*/
#include "store_sqlite.h"

#include <stdlib.h>

/* Statement slots (LocalTable.aAtomic[iConn][SA_*]). */
enum {
  SA_RENEW,
  SA_COMPLETE,
  SA_FAIL_GET,
  SA_FAIL_RETRY,
  SA_DIE,
  SA_DLQ,
  SA_REAP,
  SA_UNLEASE,
  SA_CAND,
  SA_CLAIM,
  SA_CLAIM_GET,
  SA_COUNT_NAME,
  SA_COUNT_QUEUE,
  SA_PAUSED,
  SA_PAUSE,
  SA_RESUME,
  SA_LEASE_GET,
  SA_LEASE_NEW,
  SA_LEASE_TAKE,
  SA_LEASE_AGAIN,
  SA_RELEASE,
  SA_INCR,
  SA_TAKE_GET,
  SA_TAKE_SET,
  SA_PROGRESS,
  SA_INSERT,
  SA_CLAIM_MANY,
  SA_DUE_GET,
  SA_DUE_SET,
  SA_DUE_LOWER,
  SA_DUE_RENEW,
  SA_PURGE,
  SA_PURGE_DEPS,
  SA_RATE_PRUNE,
  SA_RATE_COUNT,
  SA_RATE_ADD,
  SA_FAIR_GET,
  SA_FAIR_SET,
  SA_PART_FIRST,
  SA_PART_NEXT,
  SA_PART_HEAD,
  SA_PART_COUNT,
  SA_COUNT
};
/* The primitives' state per table (LocalTable.pAtomic), made by the first
** primitive and freed by localFinalizeAtomic. */
struct LocalAtomic {
  sqlite3_stmt *aStmt[2][SA_COUNT]; /* per connection: 0 caller's, 1 private */
  char *azDead[2];           /* dead letters table the DLQ statement names */
  sqlite3_stmt *pJournal;    /* PRAGMA journal_mode, on the caller's db */
  int bWal;                  /* the answer of pJournal ... */
  sqlite3_int64 iWalAt;      /* ... read at this sv_mono_ms() (0: never) */
  char *zOut;                /* text returned by xTake, owned here */
  int abRates[2];            /* T_rates made (or found) on that connection */
  sqlite3_int64 iRatePruned; /* rateCount: now / 10 at the last prune */
  /* The columns (statevtab_claim.colUsed) that the statements of
  ** SA_CLAIM_GET and SA_CLAIM_MANY return, per connection. */
  sqlite3_uint64 amClaimCols[2][2];
};

#define SV_BUSY_TIMEOUT_MS 10000

typedef struct LocalTxn {
  LocalTable *t;
  sqlite3 *db;         /* the connection doing the work */
  const char *zSchema; /* the tables' schema on that connection */
  int iConn;           /* 0: caller's connection, 1: private */
  int bSavepoint;      /* caller's connection: inside our SAVEPOINT */
  LocalPrivate *pPriv; /* the private connection, when iConn is 1 */
  sqlite3_int64 now;
} LocalTxn;

/* ------------------------------------------------------- connections */

/* Finalize the statements kept on the caller's connection (before it can
** close: the store itself lives until the connection's end). */
void localFinalizeCaller(LocalStore *p) {
  sqlite3_finalize(p->pSave);
  sqlite3_finalize(p->pRelease);
  sqlite3_finalize(p->pUndo);
  p->pSave = p->pRelease = p->pUndo = 0;
}

void localClosePrivate(LocalStore *p) {
  LocalPrivate *q;
  localFinalizeCaller(p);
  while ((q = p->pPrivate) != 0) {
    p->pPrivate = q->pNext;
    sqlite3_finalize(q->pBegin);
    sqlite3_finalize(q->pCommit);
    sqlite3_finalize(q->pRollback);
    sqlite3_close(q->db);
    sqlite3_free(q->zDb);
    sqlite3_free(q);
  }
}

/*
** Is schema zDb of the caller's connection a file in WAL mode?  The answer
** is kept for a second: PRAGMA journal_mode is compiled again on every run
** (it expires itself), and the mode rarely changes.
*/
#define SV_WAL_RECHECK_MS 1000
static int isWalFile(LocalTable *t) {
  sqlite3 *db = t->pStore->db;
  const char *zFile = sqlite3_db_filename(db, t->zDb);
  sqlite3_int64 now = sv_mono_ms();
  int bWal = 0;
  if (!zFile || !zFile[0]) return 0;
  if (t->pAtomic->iWalAt && now - t->pAtomic->iWalAt < SV_WAL_RECHECK_MS)
    return t->pAtomic->bWal;
  if (!t->pAtomic->pJournal) {
    char *zSql = sqlite3_mprintf("PRAGMA \"%w\".journal_mode", t->zDb);
    if (!zSql) return 0;
    if (sqlite3_prepare_v3(db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                           &t->pAtomic->pJournal, 0) != SQLITE_OK) {
      t->pAtomic->pJournal = 0;
    }
    sqlite3_free(zSql);
    if (!t->pAtomic->pJournal) return 0;
  }
  if (sqlite3_step(t->pAtomic->pJournal) == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(t->pAtomic->pJournal, 0);
    bWal = z && sqlite3_stricmp(z, "wal") == 0;
    t->pAtomic->bWal = bWal;
    t->pAtomic->iWalAt = now;
  }
  sqlite3_reset(t->pAtomic->pJournal);
  return bWal;
}

/* Find or open the private connection to the file of schema zDb. */
static int privateDb(LocalTable *t, LocalPrivate **ppPriv) {
  LocalStore *p = t->pStore;
  LocalPrivate *q;
  sqlite3 *db = 0;
  int rc, iSync = -1;
  for (q = p->pPrivate; q; q = q->pNext) {
    if (strcmp(q->zDb, t->zDb) == 0) {
      *ppPriv = q;
      return SQLITE_OK;
    }
  }
  {
    sqlite3_stmt *pStmt = 0;
    char *zSql = sqlite3_mprintf("PRAGMA \"%w\".synchronous", t->zDb);
    if (!zSql) return SQLITE_NOMEM;
    if (sqlite3_prepare_v2(p->db, zSql, -1, &pStmt, 0) == SQLITE_OK &&
        sqlite3_step(pStmt) == SQLITE_ROW) {
      iSync = sqlite3_column_int(pStmt, 0);
    }
    sqlite3_finalize(pStmt);
    sqlite3_free(zSql);
  }
  q = sqlite3_malloc64(sizeof(*q));
  if (!q) return SQLITE_NOMEM;
  memset(q, 0, sizeof(*q));
  q->zDb = sqlite3_mprintf("%s", t->zDb);
  if (!q->zDb) {
    sqlite3_free(q);
    return SQLITE_NOMEM;
  }
  rc = sqlite3_open_v2(sqlite3_db_filename(p->db, t->zDb), &db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, 0);
  if (rc == SQLITE_OK) {
    /* The store creates no triggers, and none may run inside its writes
    ** (localGuard refuses tables that have one): off here as well, so that
    ** no schema trigger can run on this connection at all.  TEMP triggers
    ** still could, but only this connection could create them. */
    rc = sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, (int *)0);
  }
  if (rc == SQLITE_OK) {
    sqlite3_busy_timeout(db, SV_BUSY_TIMEOUT_MS);
    if (iSync >= 0) {
      char *zSql = sqlite3_mprintf("PRAGMA synchronous=%d", iSync);
      rc = zSql ? sqlite3_exec(db, zSql, 0, 0, 0) : SQLITE_NOMEM;
      sqlite3_free(zSql);
    }
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1,
                            SQLITE_PREPARE_PERSISTENT, &q->pBegin, 0);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
                            &q->pCommit, 0);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v3(db, "ROLLBACK", -1, SQLITE_PREPARE_PERSISTENT,
                            &q->pRollback, 0);
  }
  if (rc != SQLITE_OK) {
    if (rc != SQLITE_NOMEM) {
      localError(p, "cannot open a second connection to the database: %s",
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    }
    sqlite3_finalize(q->pBegin);
    sqlite3_finalize(q->pCommit);
    sqlite3_finalize(q->pRollback);
    sqlite3_close(db);
    sqlite3_free(q->zDb);
    sqlite3_free(q);
    return rc;
  }
  q->db = db;
  q->pNext = p->pPrivate;
  p->pPrivate = q;
  *ppPriv = q;
  return SQLITE_OK;
}

/* Run a kept statement (no rows); its error message goes to the store. */
static int stepKept(LocalStore *p, sqlite3 *db, sqlite3_stmt **pp,
                    const char *zSql) {
  int rc = SQLITE_OK;
  if (!*pp) {
    rc = sqlite3_prepare_v3(db, zSql, -1, SQLITE_PREPARE_PERSISTENT, pp, 0);
  }
  if (rc == SQLITE_OK) {
    sqlite3_step(*pp);
    rc = sqlite3_reset(*pp);
  }
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
    localError(p, "%s", sqlite3_errmsg(db));
  }
  return rc;
}

/* Start a primitive's transaction (see the header comment). */
static int txnOpen(LocalTable *t, LocalTxn *x) {
  LocalStore *p = t->pStore;
  int rc;
  memset(x, 0, sizeof(*x));
  x->t = t;
  if (!t->pAtomic) {
    if (!(t->pAtomic = sqlite3_malloc64(sizeof(LocalAtomic)))) {
      return SQLITE_NOMEM;
    }
    memset(t->pAtomic, 0, sizeof(LocalAtomic));
  }
  if (sqlite3_get_autocommit(p->db) &&
      sqlite3_txn_state(p->db, t->zDb) != SQLITE_TXN_WRITE && isWalFile(t)) {
    rc = privateDb(t, &x->pPriv);
    if (rc != SQLITE_OK) return rc;
    x->db = x->pPriv->db;
    x->iConn = 1;
    x->zSchema = "main";
    rc = stepKept(p, x->db, &x->pPriv->pBegin, "BEGIN IMMEDIATE");
    if ((rc & 0xff) == SQLITE_BUSY) {
      localError(p, "database is locked (waited %d ms for the write lock)",
                 SV_BUSY_TIMEOUT_MS);
      return SQLITE_BUSY;
    }
    if (rc != SQLITE_OK) return rc;
  } else {
    x->db = p->db;
    x->zSchema = t->zDb;
    /* Fails ("SQL statements in progress") inside a caller's writing
    ** statement, which holds the write lock already: join it then. */
    if (!p->pSave) {
      rc = sqlite3_prepare_v3(p->db, "SAVEPOINT statevtab_atomic", -1,
                              SQLITE_PREPARE_PERSISTENT, &p->pSave, 0);
      if (rc != SQLITE_OK) return rc;
    }
    sqlite3_step(p->pSave);
    rc = sqlite3_reset(p->pSave);
    if (rc == SQLITE_NOMEM) return rc;
    x->bSavepoint = rc == SQLITE_OK;
  }
  x->now = sv_now_ms();
  return SQLITE_OK;
}

/* Commit when rc is SQLITE_OK, else roll back.  Returns the final rc. */
static int txnEnd(LocalTxn *x, int rc) {
  LocalStore *p = x->t->pStore;
  if (x->iConn == 1) {
    LocalPrivate *q = x->pPriv;
    if (rc == SQLITE_OK) {
      rc = stepKept(p, x->db, &q->pCommit, "COMMIT");
      if (rc != SQLITE_OK) {
        sqlite3_step(q->pRollback);
        sqlite3_reset(q->pRollback);
      }
    } else {
      sqlite3_step(q->pRollback);
      sqlite3_reset(q->pRollback);
    }
  } else if (x->bSavepoint) {
    if (rc != SQLITE_OK) {
      char *zKeep = p->base.zErrMsg; /* the error that made us undo */
      p->base.zErrMsg = 0;
      stepKept(p, x->db, &p->pUndo, "ROLLBACK TO statevtab_atomic");
      sqlite3_free(p->base.zErrMsg);
      p->base.zErrMsg = zKeep;
    }
    {
      int rc2 = stepKept(p, x->db, &p->pRelease, "RELEASE statevtab_atomic");
      if (rc == SQLITE_OK && rc2 != SQLITE_OK) rc = rc2;
    }
  }
  return rc;
}

/*
** Start the transaction of a primitive that writes the shadow tables of t
** and, when pDead is not NULL, of the dead letters table pDead.  Fails,
** with nothing left open, when the transaction cannot start or one of
** those tables carries a trigger (localGuard).
*/
static int txnBegin(LocalTable *t, LocalTable *pDead, LocalTxn *x) {
  int rc = txnOpen(t, x);
  if (rc != SQLITE_OK) return rc;
  rc = localGuard(t, x->iConn, x->db, x->zSchema, pDead);
  return rc == SQLITE_OK ? rc : txnEnd(x, rc);
}

void localFinalizeAtomic(LocalTable *t) {
  LocalAtomic *a = t->pAtomic;
  int i, j;
  if (!a) return;
  for (i = 0; i < 2; i++) {
    for (j = 0; j < SA_COUNT; j++) sqlite3_finalize(a->aStmt[i][j]);
    sqlite3_free(a->azDead[i]);
  }
  sqlite3_finalize(a->pJournal);
  sqlite3_free(a->zOut);
  sqlite3_free(a);
  t->pAtomic = 0;
}

/*
** Return the statement of slot eSlot for x's connection, preparing zSql
** (from sqlite3_mprintf; always freed here) the first time.  NULL on error,
** with *pRc set.
*/
static sqlite3_stmt *stmt(LocalTxn *x, int eSlot, char *zSql, int *pRc) {
  sqlite3_stmt **pp = &x->t->pAtomic->aStmt[x->iConn][eSlot];
  if (*pp) {
    sqlite3_free(zSql);
    return *pp;
  }
  *pRc = localPrepareOn(x->t->pStore, x->db, zSql, pp);
  return *pp;
}

/* Lazily-built SQL: only formatted when the slot is empty. */
#define STMT(x, SLOT, pRc, ...)                                                \
  ((x)->t->pAtomic->aStmt[(x)->iConn][SLOT]                                    \
       ? (x)->t->pAtomic->aStmt[(x)->iConn][SLOT]                              \
       : stmt((x), (SLOT), sqlite3_mprintf(__VA_ARGS__), (pRc)))

/* Step a statement that returns no rows (or ignores them), then reset. */
static int run(LocalTxn *x, sqlite3_stmt *pStmt) {
  int rc;
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
  }
  rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : localDbError(x->t->pStore, x->db, rc);
}

/* Finish a statement already stepped (rcStep: that step's result) without
** stepping it again after SQLITE_DONE or an error: a halted statement
** would be reset and run again by sqlite3_step(). */
static int finish(LocalTxn *x, sqlite3_stmt *pStmt, int rcStep) {
  int rc;
  while (rcStep == SQLITE_ROW) rcStep = sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  return rc == SQLITE_OK ? rc : localDbError(x->t->pStore, x->db, rc);
}

/* Column list of t's entity as "a", "b", ... (sqlite3_malloc'd); NULL
** for a column T_data lacks or colUsed leaves out. */
static char *colList(LocalTable *t, sqlite3_uint64 colUsed) {
  sqlite3_str *s = sqlite3_str_new(0);
  int i;
  for (i = 0; i < t->base.pEntity->nCol; i++) {
    if (i) sqlite3_str_appendall(s, ", ");
    if (colUsed & ((sqlite3_uint64)1 << (i < 63 ? i : 63))) {
      localAppendCol(s, t, "", i);
    } else {
      sqlite3_str_appendall(s, "NULL");
    }
  }
  return sqlite3_str_finish(s);
}

/* The statement of claim slot eSlot (SA_CLAIM_GET: iKind 0, SA_CLAIM_MANY:
** 1) if it returns the columns colUsed asks for, else NULL (finalized). */
static sqlite3_stmt *claimStmt(LocalTxn *x, int eSlot, int iKind,
                               sqlite3_uint64 colUsed) {
  LocalAtomic *a = x->t->pAtomic;
  if (a->aStmt[x->iConn][eSlot] && a->amClaimCols[x->iConn][iKind] != colUsed) {
    sqlite3_finalize(a->aStmt[x->iConn][eSlot]);
    a->aStmt[x->iConn][eSlot] = 0;
  }
  a->amClaimCols[x->iConn][iKind] = colUsed;
  return a->aStmt[x->iConn][eSlot];
}

/* Read statement columns iFirst.. into aRow (borrowed from pStmt). */
static int readRow(sqlite3_stmt *pStmt, int iFirst, int nCol,
                   statevtab_value *aRow) {
  int i, rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && i < nCol; i++) {
    rc = localReadValue(pStmt, iFirst + i, &aRow[i]);
  }
  return rc;
}

static int valueEq(const statevtab_value *v, const unsigned char *z, int n) {
  return v->eType == SQLITE_TEXT && v->n == n && z &&
         memcmp(v->z, z, (size_t)n) == 0;
}

/* ---------------------------------------------------------- finishing */

static int doComplete(LocalTxn *x, const statevtab_value *pId,
                      sqlite3_int64 iToken, const statevtab_value *pResult,
                      int *pbOk) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK;
  sqlite3_stmt *p = STMT(x, SA_COMPLETE, &rc,
                         "UPDATE \"%w\".\"%w_data\" SET state = 'completed', "
                         "result = ?3, completed_at = ?4, updated_at = ?4, "
                         "lease_owner = NULL, lease_expires_at = NULL "
                         "WHERE id = ?1 AND lease_token = ?2 "
                         "AND state = 'claimed'",
                         x->zSchema, t->zName);
  if (!p) return rc;
  localBind(p, 1, pId, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, iToken);
  localBind(p, 3, pResult, SQLITE_STATIC);
  sqlite3_bind_int64(p, 4, x->now);
  rc = run(x, p);
  *pbOk = rc == SQLITE_OK && sqlite3_changes(x->db) > 0;
  if (*pbOk && t->bDeps) {
    /* Its dependents may run now (store_sqlite_deps.c). */
    rc = localDepsSettle(t, x->iConn, x->db, x->zSchema, x->now, pId->z, pId->n,
                         0);
  }
  return rc;
}

int localComplete(statevtab_table *pTab, const statevtab_value *pId,
                  sqlite3_int64 iToken, const statevtab_value *pResult,
                  int *pbOk) {
  LocalTxn x;
  int rc = txnBegin((LocalTable *)pTab, 0, &x);
  if (rc != SQLITE_OK) return rc;
  rc = doComplete(&x, pId, iToken, pResult, pbOk);
  return txnEnd(&x, rc);
}

int localRenew(statevtab_table *pTab, const statevtab_value *pId,
               sqlite3_int64 iToken, sqlite3_int64 iLeaseMs,
               sqlite3_int64 *piExpires) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  *piExpires = 0;
  p = STMT(&x, SA_RENEW, &rc,
           "UPDATE \"%w\".\"%w_data\" SET lease_expires_at = ?3, "
           "updated_at = ?4 WHERE id = ?1 AND lease_token = ?2 "
           "AND state = 'claimed'",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pId, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, iToken);
    sqlite3_bind_int64(p, 3, x.now + iLeaseMs);
    sqlite3_bind_int64(p, 4, x.now);
    rc = run(&x, p);
    if (rc == SQLITE_OK && sqlite3_changes(x.db) > 0) {
      *piExpires = x.now + iLeaseMs;
      if (t->bReap) {
        /* A renewal may end the lease sooner (lease_ms 0): see reapDue. */
        p = STMT(&x, SA_DUE_RENEW, &rc,
                 "UPDATE \"%w\".\"%w_reap\" SET due = ?2 WHERE queue = "
                 "(SELECT queue FROM \"%w\".\"%w_data\" WHERE id = ?1) "
                 "AND due > ?2",
                 x.zSchema, t->zName, x.zSchema, t->zName);
        if (p) {
          localBind(p, 1, pId, SQLITE_STATIC);
          sqlite3_bind_int64(p, 2, *piExpires);
          rc = run(&x, p);
        }
      }
    }
  }
  return txnEnd(&x, rc);
}

/*
** Mark task iRowid dead (error zError when not NULL) and, when pDead is
** given, write its dead letter with reason pReason, in x's transaction.
*/
static int doDie(LocalTxn *x, LocalTable *pDead, sqlite3_int64 iRowid,
                 const statevtab_value *pError,
                 const statevtab_value *pReason) {
  LocalTable *t = x->t;
  const statevtab_entity *e = t->base.pEntity;
  int rc = SQLITE_OK, i;
  sqlite3_stmt *p = STMT(x, SA_DIE, &rc,
                         "UPDATE \"%w\".\"%w_data\" SET state = 'dead', "
                         "error = coalesce(?2, error), completed_at = ?3, "
                         "updated_at = ?3, lease_owner = NULL, "
                         "lease_expires_at = NULL WHERE rowid = ?1 "
                         "RETURNING id",
                         x->zSchema, t->zName);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, iRowid);
  localBind(p, 2, pError, SQLITE_STATIC);
  sqlite3_bind_int64(p, 3, x->now);
  if (t->bDeps) {
    /* Its dependents are cancelled (store_sqlite_deps.c). */
    char *zId = 0;
    int rs = sqlite3_step(p);
    if (rs == SQLITE_ROW) {
      zId = sqlite3_mprintf("%s", sqlite3_column_text(p, 0));
      if (!zId) rs = SQLITE_NOMEM;
    }
    rc = finish(x, p, rs == SQLITE_NOMEM ? SQLITE_DONE : rs);
    if (rc == SQLITE_OK && rs == SQLITE_NOMEM) rc = SQLITE_NOMEM;
    if (rc == SQLITE_OK && zId) {
      rc = localDepsSettle(t, x->iConn, x->db, x->zSchema, x->now, zId,
                           (int)strlen(zId), SV_DEPS_WHY_DEAD);
    }
    sqlite3_free(zId);
  } else {
    rc = run(x, p);
  }
  if (rc != SQLITE_OK || !pDead) return rc;

  /* The dead letter: the statement names the dead letters table, so it is
  ** rebuilt when another one is asked for. */
  if (t->pAtomic->azDead[x->iConn] &&
      strcmp(t->pAtomic->azDead[x->iConn], pDead->zName) != 0) {
    sqlite3_finalize(t->pAtomic->aStmt[x->iConn][SA_DLQ]);
    t->pAtomic->aStmt[x->iConn][SA_DLQ] = 0;
  }
  if (!t->pAtomic->aStmt[x->iConn][SA_DLQ]) {
    sqlite3_str *s = sqlite3_str_new(0);
    sqlite3_free(t->pAtomic->azDead[x->iConn]);
    t->pAtomic->azDead[x->iConn] = sqlite3_mprintf("%s", pDead->zName);
    if (!t->pAtomic->azDead[x->iConn]) {
      sqlite3_free(sqlite3_str_finish(s));
      return SQLITE_NOMEM;
    }
    sqlite3_str_appendf(s,
                        "INSERT INTO \"%w\".\"%w_data\"(id, task_id, queue, "
                        "name, payload, attempts, reason, task, died_at) "
                        "SELECT ?2, id, queue, name, payload, attempts, ?3, "
                        "json_object(",
                        x->zSchema, pDead->zName);
    for (i = 0; i < e->nCol; i++) {
      const statevtab_column *c = &e->aCol[i];
      if (i >= t->nDataCol) {
        sqlite3_str_appendf(s, "%s'%q', NULL", i ? ", " : "", c->zName);
      } else if (c->eType == STATEVTAB_JSON) {
        sqlite3_str_appendf(s, "%s'%q', json(\"%w\")", i ? ", " : "", c->zName,
                            c->zName);
      } else {
        sqlite3_str_appendf(s, "%s'%q', \"%w\"", i ? ", " : "", c->zName,
                            c->zName);
      }
    }
    sqlite3_str_appendf(s, "), ?4 FROM \"%w\".\"%w_data\" WHERE rowid = ?1",
                        x->zSchema, t->zName);
    p = stmt(x, SA_DLQ, sqlite3_str_finish(s), &rc);
    if (!p) return rc;
  }
  p = t->pAtomic->aStmt[x->iConn][SA_DLQ];
  {
    char zId[40];
    sv_gen_id(&t->pStore->idgen, zId);
    sqlite3_bind_int64(p, 1, iRowid);
    sqlite3_bind_text(p, 2, zId, 36, SQLITE_TRANSIENT);
    localBind(p, 3, pReason, SQLITE_STATIC);
    sqlite3_bind_int64(p, 4, x->now);
  }
  return run(x, p);
}

/* The dead letters table must live in the same database file. */
static int checkDead(LocalTable *t, statevtab_table *pDead) {
  LocalTable *d = (LocalTable *)pDead;
  if (!pDead) return SQLITE_OK;
  if (pDead->pStore != t->base.pStore || strcmp(d->zDb, t->zDb) != 0) {
    localError(t->pStore,
               "dead letters table '%s' must be in the same database as "
               "'%s'",
               d->zName, t->zName);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

int localFail(statevtab_table *pTab, statevtab_table *pDead,
              const statevtab_value *pId, sqlite3_int64 iToken,
              const statevtab_value *pError, sqlite3_int64 iRetryMs,
              int *peOutcome) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  sqlite3_int64 iRowid = 0, nAttempts = 0, nMax = 0;
  int rc = checkDead(t, pDead), bFound = 0, rs;
  *peOutcome = STATEVTAB_FAIL_STALE;
  if (rc != SQLITE_OK) return rc;
  rc = txnBegin(t, (LocalTable *)pDead, &x);
  if (rc != SQLITE_OK) return rc;
  p = STMT(&x, SA_FAIL_GET, &rc,
           "SELECT rowid, attempts, max_attempts FROM \"%w\".\"%w_data\" "
           "WHERE id = ?1 AND lease_token = ?2 AND state = 'claimed'",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pId, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, iToken);
    if ((rs = sqlite3_step(p)) == SQLITE_ROW) {
      bFound = 1;
      iRowid = sqlite3_column_int64(p, 0);
      nAttempts = sqlite3_column_int64(p, 1);
      nMax = sqlite3_column_int64(p, 2);
    }
    rc = finish(&x, p, rs);
  }
  if (rc == SQLITE_OK && bFound) {
    if (nAttempts >= nMax) {
      rc = doDie(&x, (LocalTable *)pDead, iRowid, pError, pError);
      *peOutcome = STATEVTAB_FAIL_DEAD;
    } else {
      p = STMT(&x, SA_FAIL_RETRY, &rc,
               "UPDATE \"%w\".\"%w_data\" SET state = 'pending', "
               "run_at = ?2, error = ?3, updated_at = ?4, "
               "lease_owner = NULL, lease_expires_at = NULL WHERE rowid = ?1",
               x.zSchema, t->zName);
      if (p) {
        sqlite3_bind_int64(p, 1, iRowid);
        sqlite3_bind_int64(
            p, 2,
            x.now + (iRetryMs >= 0 ? iRetryMs : sv_backoff_ms(nAttempts)));
        localBind(p, 3, pError, SQLITE_STATIC);
        sqlite3_bind_int64(p, 4, x.now);
        rc = run(&x, p);
      }
      *peOutcome = STATEVTAB_FAIL_RETRY;
    }
  }
  if (rc != SQLITE_OK) *peOutcome = STATEVTAB_FAIL_STALE;
  return txnEnd(&x, rc);
}

/* ------------------------------------------------------------ claiming */

typedef struct Cand {
  sqlite3_int64 iRowid;
  sqlite3_int64 iPriority;
  sqlite3_int64 iRunAt;
  char *zId;   /* id (ordering tie-break) */
  char *zName; /* task name (limits) */
  int nName;
  int iQueue; /* index into the claim's queues */
} Cand;

static int candCmp(const void *a, const void *b) {
  const Cand *x = (const Cand *)a, *y = (const Cand *)b;
  if (x->iPriority != y->iPriority) return x->iPriority < y->iPriority ? -1 : 1;
  if (x->iRunAt != y->iRunAt) return x->iRunAt < y->iRunAt ? -1 : 1;
  return strcmp(x->zId, y->zId);
}

static void candFree1(Cand *q) {
  sqlite3_free(q->zId);
  sqlite3_free(q->zName);
  memset(q, 0, sizeof(*q));
}

static void candFree(Cand *a, int n) {
  int i;
  for (i = 0; i < n; i++) {
    sqlite3_free(a[i].zId);
    sqlite3_free(a[i].zName);
  }
  sqlite3_free(a);
}

static int isPaused(LocalTxn *x, const statevtab_value *pQueue, int *pb) {
  int rc = SQLITE_OK;
  sqlite3_stmt *p = STMT(x, SA_PAUSED, &rc,
                         "SELECT 1 FROM \"%w\".\"%w_queues\" WHERE queue = ?1",
                         x->zSchema, x->t->zName);
  if (!p) return rc;
  localBind(p, 1, pQueue, SQLITE_STATIC);
  {
    int rs = sqlite3_step(p);
    *pb = rs == SQLITE_ROW;
    return finish(x, p, rs);
  }
}

/*
** Tasks of queue pQueue whose lease expired: back to 'pending', or dead
** (reason 'lease expired') once they used all their attempts.
*/
static int reap(LocalTxn *x, LocalTable *pDead, const statevtab_value *pQueue) {
  LocalTable *t = x->t;
  sqlite3_int64 aRowid[64];
  int abDead[64];
  int n, i, rc = SQLITE_OK, bMore = 1;
  static const statevtab_value reason = {SQLITE_TEXT,
                                         (int)sizeof(SV_REASON_LEASE_EXPIRED) -
                                             1,
                                         0,
                                         0,
                                         SV_REASON_LEASE_EXPIRED,
                                         0};
  static const statevtab_value nul = {SQLITE_NULL, 0, 0, 0, 0, 0};
  while (rc == SQLITE_OK && bMore) {
    sqlite3_stmt *p =
        t->bReap
            /* The claimed tasks of the queue, from the (queue, state, ...)
            ** index: only when reapDue says it is time. */
            ? STMT(x, SA_REAP, &rc,
                   "SELECT rowid, attempts >= max_attempts FROM "
                   "\"%w\".\"%w_data\" WHERE queue = ?2 AND state = "
                   "'claimed' AND lease_expires_at <= ?1 LIMIT 64",
                   x->zSchema, t->zName)
            /* '+': walk the lease_expires_at index, which holds only the
            ** expired leases here */
            : STMT(x, SA_REAP, &rc,
                   "SELECT rowid, attempts >= max_attempts FROM "
                   "\"%w\".\"%w_data\" WHERE +state = 'claimed' AND "
                   "lease_expires_at <= ?1 AND +queue = ?2 LIMIT 64",
                   x->zSchema, t->zName);
    if (!p) return rc;
    sqlite3_bind_int64(p, 1, x->now);
    localBind(p, 2, pQueue, SQLITE_STATIC);
    {
      int rs = SQLITE_ROW;
      for (n = 0; n < 64 && (rs = sqlite3_step(p)) == SQLITE_ROW; n++) {
        aRowid[n] = sqlite3_column_int64(p, 0);
        abDead[n] = sqlite3_column_int(p, 1);
      }
      rc = finish(x, p, rs);
    }
    bMore = n == 64;
    for (i = 0; rc == SQLITE_OK && i < n; i++) {
      if (abDead[i]) {
        rc = doDie(x, pDead, aRowid[i], &nul, &reason);
      } else {
        sqlite3_stmt *u = STMT(x, SA_UNLEASE, &rc,
                               "UPDATE \"%w\".\"%w_data\" SET state = "
                               "'pending', lease_owner = NULL, "
                               "lease_expires_at = NULL, updated_at = ?2 "
                               "WHERE rowid = ?1",
                               x->zSchema, t->zName);
        if (!u) return rc;
        sqlite3_bind_int64(u, 1, aRowid[i]);
        sqlite3_bind_int64(u, 2, x->now);
        rc = run(x, u);
      }
    }
  }
  return rc;
}

/*
** Unless queue pQueue is paused (*pbPaused), reap it if it is time, and set
** *piDue to the time before which none of its leases can expire.
**
** A tasks table created since 2026-12-03 keeps no index of lease_expires_at
** (a claim and a completion each wrote one more b-tree for it).  Its T_reap
** table holds per queue a time "due" no later than the earliest lease of the
** queue's claimed tasks: every write of a lease lowers it (a claim here,
** an INSERT or UPDATE of a task in store_sqlite.c), a renewal only moves a
** lease later.  While due is in the future no lease of the queue can have
** expired and the claim looks for none; once it passed (or the queue has no
** row yet) the claim reaps from the (queue, state, ...) index and sets due
** to the earliest remaining lease, or SV_REAP_EVERY_MS from now at most, so
** that a lease written by a process that keeps no T_reap (an older
** statevtab) is taken back within that time.  T_reap is written in the
** claim's transaction, so a rollback undoes it with the rest.
*/
#define SV_REAP_EVERY_MS 60000
static int reapDue(LocalTxn *x, LocalTable *pDead,
                   const statevtab_value *pQueue, int *pbPaused,
                   sqlite3_int64 *piDue) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK, rs;
  sqlite3_stmt *p;
  if (!t->bReap) {
    *piDue = x->now; /* (no T_reap: nothing to lower) */
    rc = isPaused(x, pQueue, pbPaused);
    return rc != SQLITE_OK || *pbPaused ? rc : reap(x, pDead, pQueue);
  }
  /* Paused, and the due time (NULL: no row yet), in one statement. */
  p = STMT(x, SA_DUE_GET, &rc,
           "SELECT EXISTS (SELECT 1 FROM \"%w\".\"%w_queues\" WHERE queue = "
           "?1), (SELECT due FROM \"%w\".\"%w_reap\" WHERE queue = ?1)",
           x->zSchema, t->zName, x->zSchema, t->zName);
  if (!p) return rc;
  localBind(p, 1, pQueue, SQLITE_STATIC);
  rs = sqlite3_step(p);
  *pbPaused = rs == SQLITE_ROW && sqlite3_column_int(p, 0);
  *piDue = rs == SQLITE_ROW && sqlite3_column_type(p, 1) != SQLITE_NULL
               ? sqlite3_column_int64(p, 1)
               : x->now;
  rc = finish(x, p, rs);
  if (rc != SQLITE_OK || *pbPaused || *piDue > x->now) return rc;
  rc = reap(x, pDead, pQueue);
  if (rc != SQLITE_OK) return rc;
  p = STMT(x, SA_DUE_SET, &rc,
           "INSERT INTO \"%w\".\"%w_reap\"(queue, due) SELECT ?1, "
           "min(coalesce(min(lease_expires_at), ?2), ?2) FROM "
           "\"%w\".\"%w_data\" WHERE queue = ?1 AND state = 'claimed' "
           "ON CONFLICT(queue) DO UPDATE SET due = excluded.due RETURNING due",
           x->zSchema, t->zName, x->zSchema, t->zName);
  if (!p) return rc;
  localBind(p, 1, pQueue, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, x->now + SV_REAP_EVERY_MS);
  rs = sqlite3_step(p);
  if (rs == SQLITE_ROW) *piDue = sqlite3_column_int64(p, 0);
  return finish(x, p, rs);
}

/* Lower queue pQueue's due time in T_reap to iAt, a lease just written. */
static int lowerDue(LocalTxn *x, const statevtab_value *pQueue,
                    sqlite3_int64 iAt) {
  int rc = SQLITE_OK;
  sqlite3_stmt *p = x->t->pAtomic->aStmt[x->iConn][SA_DUE_LOWER];
  if (!p) p = stmt(x, SA_DUE_LOWER, localLowerSql(x->t, x->zSchema), &rc);
  if (!p) return rc;
  localBind(p, 1, pQueue, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, iAt);
  return run(x, p);
}

/* Fill *q from columns iFirst.. of p: rowid, id, name, priority, run_at
** (iQueue: the claim's queue; a NULL name, from a corrupted shadow row,
** reads as empty).  SQLITE_NOMEM, or SQLITE_OK. */
static int candRead(sqlite3_stmt *p, int iFirst, int iQueue, Cand *q) {
  memset(q, 0, sizeof(*q));
  q->iRowid = sqlite3_column_int64(p, iFirst);
  q->zId = sqlite3_mprintf("%s", sqlite3_column_text(p, iFirst + 1));
  q->nName = sqlite3_column_bytes(p, iFirst + 2);
  q->zName = sqlite3_malloc64((sqlite3_uint64)q->nName + 1);
  q->iPriority = sqlite3_column_int64(p, iFirst + 3);
  q->iRunAt = sqlite3_column_int64(p, iFirst + 4);
  q->iQueue = iQueue;
  if (!q->zId || !q->zName) {
    candFree1(q);
    return SQLITE_NOMEM;
  }
  if (q->nName) {
    memcpy(q->zName, sqlite3_column_blob(p, iFirst + 2), (size_t)q->nName);
  }
  q->zName[q->nName] = 0;
  return SQLITE_OK;
}

/* Append up to nWant candidates of queue iQueue to *paCand. */
static int candidates(LocalTxn *x, const statevtab_claim *c, int iQueue,
                      const char *zNames, const char *zTags, int nWant,
                      Cand **paCand, int *pnCand, int *pnAlloc, int *pbMore) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK, nGot = 0, rs = SQLITE_DONE;
  sqlite3_stmt *p = STMT(
      x, SA_CAND, &rc,
      "SELECT rowid, id, name, priority, run_at FROM \"%w\".\"%w_data\" AS d "
      "WHERE queue = ?1 AND state = 'pending' AND run_at <= ?2%s "
      "AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3))) "
      "AND (?4 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?4) AS r "
      "WHERE NOT EXISTS (SELECT 1 FROM json_each(d.tags) AS x "
      "WHERE x.value = r.value))) "
      "ORDER BY priority, run_at, id LIMIT ?5",
      x->zSchema, t->zName,
      /* The plain walk: no task of the queue has a partition_key (it has
      ** no T_fair row), and the folded index needs it said. */
      t->bFold ? " AND partition_key IS NULL" : "");
  if (!p) return rc;
  localBind(p, 1, &c->aQueue[iQueue], SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, x->now);
  sqlite3_bind_text(p, 3, zNames, -1, SQLITE_STATIC);
  sqlite3_bind_text(p, 4, zTags, -1, SQLITE_STATIC);
  sqlite3_bind_int(p, 5, nWant);
  while (rc == SQLITE_OK && (rs = sqlite3_step(p)) == SQLITE_ROW) {
    Cand *q;
    if (*pnCand >= *pnAlloc) {
      int nNew = *pnAlloc ? *pnAlloc * 2 : 16;
      Cand *aNew = sqlite3_realloc64(*paCand, sizeof(Cand) * (size_t)nNew);
      if (!aNew) {
        rc = SQLITE_NOMEM;
        break;
      }
      *paCand = aNew;
      *pnAlloc = nNew;
    }
    q = &(*paCand)[*pnCand];
    rc = candRead(p, 0, iQueue, q);
    if (rc != SQLITE_OK) break;
    (*pnCand)++;
    nGot++;
  }
  {
    int rc2 = finish(x, p, rs);
    if (rc == SQLITE_OK) rc = rc2;
  }
  *pbMore = nGot == nWant;
  return rc;
}

/* Is limit k of c a rate (options.rates)? */
#define IS_RATE(c, k) ((c)->aiLimitPeriod && (c)->aiLimitPeriod[k] > 0)

/*
** Rate limits keep, in T_rates (made here by the first claim with rates),
** per key -- "q:<queue>" or "n:<name>" -- how many claims were made in
** each step of SV_RATE_STEP(period) ms (at: the step's start): a claim
** drops the steps that ended before its window (now - period, now], counts
** the claims of the others -- those of the step the window starts in
** included, so that the count is never below the claims of the window --
** and adds its own to the current step.  At most 101 rows per key, however
** many claims.  Bind key k of c as parameter 1 of p.
*/
static char *rateKeyText(const statevtab_claim *c, int k) {
  const statevtab_value *v = &c->aLimit[k];
  return sqlite3_mprintf("%c:%.*s", c->abLimitQueue[k] ? 'q' : 'n', v->n,
                         v->z ? v->z : "");
}

/* Make T_rates on x's connection unless known to be there. */
static int rateTable(LocalTxn *x) {
  LocalTable *t = x->t;
  char *zSql;
  int rc;
  if (t->pAtomic->abRates[x->iConn]) return SQLITE_OK;
  zSql = sqlite3_mprintf("CREATE TABLE IF NOT EXISTS \"%w\".\"%w_rates\"("
                         "key TEXT NOT NULL, at INTEGER NOT NULL, n INTEGER "
                         "NOT NULL, PRIMARY KEY(key, at)) WITHOUT ROWID",
                         x->zSchema, t->zName);
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_exec(x->db, zSql, 0, 0, 0);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return localDbError(t->pStore, x->db, rc);
  t->pAtomic->abRates[x->iConn] = 1;
  return SQLITE_OK;
}

/* The claims of the rate of key zKey (freed here) and period iPer in its
** window (now - iPer, now]. */
static int rateCountKey(LocalTxn *x, char *zKey, sqlite3_int64 iPer, int bPrune,
                        sqlite3_int64 *pn) {
  LocalTable *t = x->t;
  const sqlite3_int64 iFrom = x->now - iPer - SV_RATE_STEP(iPer);
  int rc = zKey ? rateTable(x) : SQLITE_NOMEM, rs;
  sqlite3_stmt *p;
  if (rc != SQLITE_OK) {
    sqlite3_free(zKey);
    return rc;
  }
  /* The steps that ended before the window go (bPrune; rateCount: at most
  ** once per 10 ms of this process -- the count skips them anyway). */
  if (bPrune) {
    p = STMT(x, SA_RATE_PRUNE, &rc,
             "DELETE FROM \"%w\".\"%w_rates\" WHERE key = ?1 AND at <= ?2",
             x->zSchema, t->zName);
    if (p) {
      sqlite3_bind_text(p, 1, zKey, -1, SQLITE_STATIC);
      sqlite3_bind_int64(p, 2, iFrom);
      rc = run(x, p);
    }
  }
  p = rc == SQLITE_OK ? STMT(x, SA_RATE_COUNT, &rc,
                             "SELECT coalesce(sum(n), 0) FROM "
                             "\"%w\".\"%w_rates\" WHERE key = ?1 AND at > ?2",
                             x->zSchema, t->zName)
                      : 0;
  if (!p) {
    sqlite3_free(zKey);
    return rc;
  }
  sqlite3_bind_text(p, 1, zKey, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, iFrom);
  rs = sqlite3_step(p);
  *pn = rs == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
  rc = finish(x, p, rs);
  sqlite3_free(zKey);
  return rc;
}

/* The claims of rate k in its window (now - period, now]. */
static int rateCount(LocalTxn *x, const statevtab_claim *c, int k,
                     sqlite3_int64 *pn) {
  return rateCountKey(x, rateKeyText(c, k), c->aiLimitPeriod[k],
                      x->now / 10 != x->t->pAtomic->iRatePruned, pn);
}

/* Record n claims made now of the rate of key zKey (freed here) and period
** iPer. */
static int rateAddKey(LocalTxn *x, char *zKey, sqlite3_int64 iPer,
                      sqlite3_int64 n) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK;
  sqlite3_stmt *p = zKey ? STMT(x, SA_RATE_ADD, &rc,
                                "INSERT INTO \"%w\".\"%w_rates\"(key, at, n) "
                                "VALUES (?1, ?2, ?3) ON CONFLICT(key, at) DO "
                                "UPDATE SET n = n + excluded.n",
                                x->zSchema, t->zName)
                         : 0;
  if (!p) {
    sqlite3_free(zKey);
    return zKey ? rc : SQLITE_NOMEM;
  }
  sqlite3_bind_text(p, 1, zKey, -1, SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, x->now - x->now % SV_RATE_STEP(iPer));
  sqlite3_bind_int64(p, 3, n);
  rc = run(x, p);
  sqlite3_free(zKey);
  return rc;
}

/* Record n claims of rate k made now. */
static int rateAdd(LocalTxn *x, const statevtab_claim *c, int k,
                   sqlite3_int64 n) {
  return rateAddKey(x, rateKeyText(c, k), c->aiLimitPeriod[k], n);
}

/* Live (unexpired) claims counted against limit k (for a rate: the claims
** of its window). */
static int limitCount(LocalTxn *x, const statevtab_claim *c, int k,
                      sqlite3_int64 *pn) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK;
  sqlite3_stmt *p;
  if (IS_RATE(c, k)) return rateCount(x, c, k, pn);
  p = c->abLimitQueue[k]
          ? STMT(x, SA_COUNT_QUEUE, &rc,
                 "SELECT count(*) FROM \"%w\".\"%w_data\" WHERE queue = ?1 "
                 "AND state = 'claimed' AND lease_expires_at > ?2",
                 x->zSchema, t->zName)
          : STMT(x, SA_COUNT_NAME, &rc,
                 "SELECT count(*) FROM \"%w\".\"%w_data\" WHERE name = ?1 "
                 "AND state = 'claimed' AND lease_expires_at > ?2",
                 x->zSchema, t->zName);
  if (!p) return rc;
  localBind(p, 1, &c->aLimit[k], SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, x->now);
  {
    int rs = sqlite3_step(p);
    *pn = rs == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
    return finish(x, p, rs);
  }
}

/* Does limit k (a task name, or a queue) apply to candidate q? */
static int limitMatches(const statevtab_claim *c, int k, const Cand *q) {
  const statevtab_value *pKey = &c->aLimit[k];
  if (c->abLimitQueue[k]) {
    const statevtab_value *pQ = &c->aQueue[q->iQueue];
    return pQ->n == pKey->n && memcmp(pQ->z, pKey->z, (size_t)pKey->n) == 0;
  }
  return valueEq(pKey, (const unsigned char *)q->zName, q->nName);
}

/* Is a limit or rate of queue i used up (aUsed: the counts so far; NULL
** when there are no limits)? */
static int queueFull(const statevtab_claim *c, int i,
                     const sqlite3_int64 *aUsed) {
  const statevtab_value *pQ = &c->aQueue[i];
  int k;
  for (k = 0; aUsed && k < c->nLimit; k++) {
    const statevtab_value *pKey = &c->aLimit[k];
    if (c->abLimitQueue[k] && aUsed[k] >= c->aiLimit[k] && pQ->n == pKey->n &&
        memcmp(pQ->z, pKey->z, (size_t)pKey->n) == 0) {
      return 1;
    }
  }
  return 0;
}

/* Claim one task by rowid and hand its new row to xRow.  (UPDATE, then
** SELECT: a RETURNING clause would cost a statement journal per task.) */
static int claimOne(LocalTxn *x, const statevtab_claim *c, sqlite3_int64 iRowid,
                    statevtab_row_fn xRow, void *pCtx) {
  LocalTable *t = x->t;
  const statevtab_entity *e = t->base.pEntity;
  statevtab_value aRow[SV_MAX_COLUMNS];
  int rc = SQLITE_OK;
  sqlite3_stmt *p = STMT(x, SA_CLAIM, &rc,
                         "UPDATE \"%w\".\"%w_data\" SET state = 'claimed', "
                         "lease_owner = ?2, lease_token = "
                         "coalesce(lease_token, 0) + 1, lease_expires_at = ?3, "
                         "attempts = attempts + 1, updated_at = ?4 "
                         "WHERE rowid = ?1",
                         x->zSchema, t->zName);
  if (!p) return rc;
  sqlite3_bind_int64(p, 1, iRowid);
  localBind(p, 2, c->pWorker, SQLITE_STATIC);
  sqlite3_bind_int64(p, 3, x->now + c->iLeaseMs);
  sqlite3_bind_int64(p, 4, x->now);
  rc = run(x, p);
  if (rc != SQLITE_OK) return rc;
  p = claimStmt(x, SA_CLAIM_GET, 0, c->colUsed);
  if (!p) {
    char *zCols = colList(t, c->colUsed);
    if (!zCols) return SQLITE_NOMEM;
    p = stmt(x, SA_CLAIM_GET,
             sqlite3_mprintf("SELECT %s FROM \"%w\".\"%w_data\" "
                             "WHERE rowid = ?1",
                             zCols, x->zSchema, t->zName),
             &rc);
    sqlite3_free(zCols);
    if (!p) return rc;
  }
  sqlite3_bind_int64(p, 1, iRowid);
  {
    int rs = sqlite3_step(p), rc2;
    if (rs == SQLITE_ROW) {
      readRow(p, 0, e->nCol, aRow);
      if (xRow(pCtx, aRow)) rc = SQLITE_NOMEM;
    }
    rc2 = finish(x, p, rs);
    if (rc == SQLITE_OK) rc = rc2;
  }
  return rc;
}

/*
** Claim the winners of aCand (iQueue >= 0), at least two, with one UPDATE
** ... RETURNING over their rowids (a JSON array bound as ?1): statements
** cost more than rows here.  The rows come back in rowid order; the caller
** (ext/claim.c) puts them in claim order.
*/
static int claimMany(LocalTxn *x, const statevtab_claim *c, const Cand *aCand,
                     int nCand, statevtab_row_fn xRow, void *pCtx) {
  LocalTable *t = x->t;
  const statevtab_entity *e = t->base.pEntity;
  statevtab_value aRow[SV_MAX_COLUMNS];
  sqlite3_str *pList = sqlite3_str_new(0);
  char *zList;
  int rc = SQLITE_OK, i, n = 0, rs;
  sqlite3_stmt *p;
  sqlite3_str_appendchar(pList, 1, '[');
  for (i = 0; i < nCand; i++) {
    if (aCand[i].iQueue < 0) continue;
    sqlite3_str_appendf(pList, "%s%lld", n++ ? "," : "", aCand[i].iRowid);
  }
  sqlite3_str_appendchar(pList, 1, ']');
  zList = sqlite3_str_finish(pList);
  if (!zList) return SQLITE_NOMEM;
  if (!(p = claimStmt(x, SA_CLAIM_MANY, 1, c->colUsed))) {
    char *zCols = colList(t, c->colUsed);
    if (!zCols) {
      rc = SQLITE_NOMEM;
    } else {
      p = stmt(x, SA_CLAIM_MANY,
               sqlite3_mprintf("UPDATE \"%w\".\"%w_data\" SET state = "
                               "'claimed', lease_owner = ?2, lease_token = "
                               "coalesce(lease_token, 0) + 1, "
                               "lease_expires_at = ?3, attempts = attempts + "
                               "1, updated_at = ?4 WHERE rowid IN (SELECT "
                               "value FROM json_each(?1)) RETURNING %s",
                               x->zSchema, t->zName, zCols),
               &rc);
      sqlite3_free(zCols);
    }
  }
  if (rc == SQLITE_OK && p) {
    sqlite3_bind_text(p, 1, zList, -1, SQLITE_STATIC);
    localBind(p, 2, c->pWorker, SQLITE_STATIC);
    sqlite3_bind_int64(p, 3, x->now + c->iLeaseMs);
    sqlite3_bind_int64(p, 4, x->now);
    while ((rs = sqlite3_step(p)) == SQLITE_ROW) {
      readRow(p, 0, e->nCol, aRow);
      if (xRow(pCtx, aRow)) {
        rc = SQLITE_NOMEM;
        break;
      }
    }
    {
      int rc2 = finish(x, p, rc == SQLITE_OK ? rs : SQLITE_DONE);
      if (rc == SQLITE_OK) rc = rc2;
    }
  }
  sqlite3_free(zList);
  return rc;
}

/* ------------------------------------------------------------ partitions */

/*
** Fairness across partitions (statevtab_claim in statevtab.h; the README's
** "Fairness and partitions").  A queue's partitions take turns in a cycle:
** the NULL partition, then the partition_keys in index order (BINARY).
** T_fair keeps per queue the partition served last (served = 0: none yet);
** each task claimed is the first, in (priority, run_at, id) order, of the
** next partition after it that has one the limits allow, found through
** T_data_queue (queue, state, partition_key, priority, run_at, id; bFold)
** or, in a table made before 2026-12-04, T_data_partition (queue,
** partition_key, priority, run_at, id) of the pending tasks: a seek for
** the next key, a seek for its first task (the same SQL for both).  A
** claim uses this walk when the table has T_fair (some task ever had a
** partition_key) or the claim has partition limits; else the plain one.
*/

/* A partition of a queue: eType SQLITE_NULL for the tasks without a
** partition_key, else the key's type and bytes (z, sqlite3_malloc'd). */
typedef struct Part {
  int eType;
  char *z;
  int n;
} Part;

/* One queue's state during a claim (fairClaim). */
typedef struct FairQ {
  int bRow;    /* the queue has a T_fair row */
  int bServed; /* cur: the partition served last (else none yet) */
  Part cur;
  int bMoved; /* cur changed: write it back */
  int bHead;  /* head: the queue's next task in turn, of partition hp */
  int bDone;  /* nothing more of this queue can be claimed */
  Cand head;
  Part hp;
} FairQ;

static void partFree(Part *p) {
  sqlite3_free(p->z);
  memset(p, 0, sizeof(*p));
  p->eType = SQLITE_NULL;
}

static int partEq(const Part *a, const Part *b) {
  if (a->eType == SQLITE_NULL || b->eType == SQLITE_NULL) {
    return a->eType == b->eType;
  }
  return a->eType == b->eType && a->n == b->n &&
         (a->n == 0 || memcmp(a->z, b->z, (size_t)a->n) == 0);
}

/* *pOut (freed first) = column i of p, or of a NULL partition. */
static int partRead(sqlite3_stmt *p, int i, Part *pOut) {
  int eType = sqlite3_column_type(p, i);
  partFree(pOut);
  if (eType == SQLITE_NULL) return SQLITE_OK;
  {
    const void *z = eType == SQLITE_BLOB ? sqlite3_column_blob(p, i)
                                         : sqlite3_column_text(p, i);
    int n = sqlite3_column_bytes(p, i);
    pOut->z = sqlite3_malloc64((sqlite3_uint64)n + 1);
    if (!pOut->z) return SQLITE_NOMEM;
    if (n) memcpy(pOut->z, z, (size_t)n);
    pOut->z[n] = 0;
    pOut->n = n;
    pOut->eType = eType == SQLITE_BLOB ? SQLITE_BLOB : SQLITE_TEXT;
  }
  return SQLITE_OK;
}

static int partBind(sqlite3_stmt *p, int i, const Part *v) {
  if (v->eType == SQLITE_NULL) return sqlite3_bind_null(p, i);
  if (v->eType == SQLITE_BLOB) {
    return sqlite3_bind_blob(p, i, v->z ? v->z : "", v->n, SQLITE_STATIC);
  }
  return sqlite3_bind_text(p, i, v->z ? v->z : "", v->n, SQLITE_STATIC);
}

/* Does the table have the partition_key column (tables of older versions
** read it as NULL: one partition per queue)? */
#define HAS_PART(t) (SV_TASK_PARTITION_KEY < (t)->nDataCol)

/* The rate key of partition p of queue q: "p:<length of q>:<q>" and, but
** for the NULL partition, "=<key>". */
static char *partKey(const statevtab_value *q, const Part *p) {
  return sqlite3_mprintf("p:%d:%.*s%s%.*s", q->n, q->n, q->z ? q->z : "",
                         p->eType == SQLITE_NULL ? "" : "=", p->n,
                         p->z ? p->z : "");
}

/*
** *pOut = the partition after pFrom (none: bFrom 0) in queue iQueue's
** cycle: the NULL partition first, then each key with a due pending task,
** in order, then the NULL partition again; for a key, *pbCand = 1 and
** *pCand its first due task in (priority, run_at, id) order, found by the
** same seek (filters and limits not applied).  Without T_fair (bIdx 0) no
** task has a key: the NULL partition only.
*/
static int nextPart(LocalTxn *x, const statevtab_claim *c, int iQueue, int bIdx,
                    int bFrom, const Part *pFrom, Part *pOut, Cand *pCand,
                    int *pbCand) {
  LocalTable *t = x->t;
  sqlite3_stmt *p;
  int rc = SQLITE_OK, rs;
  *pbCand = 0;
  if (!bFrom || !bIdx) {
    partFree(pOut);
    return SQLITE_OK;
  }
  p = pFrom->eType == SQLITE_NULL
          ? STMT(x, SA_PART_FIRST, &rc,
                 "SELECT partition_key, rowid, id, name, priority, run_at "
                 "FROM \"%w\".\"%w_data\" WHERE queue = ?1 AND state = "
                 "'pending' AND partition_key IS NOT NULL AND run_at <= ?3 "
                 "ORDER BY partition_key, priority, run_at, id LIMIT 1",
                 x->zSchema, t->zName)
          : STMT(x, SA_PART_NEXT, &rc,
                 "SELECT partition_key, rowid, id, name, priority, run_at "
                 "FROM \"%w\".\"%w_data\" WHERE queue = ?1 AND state = "
                 "'pending' AND partition_key > ?2 AND run_at <= ?3 "
                 "ORDER BY partition_key, priority, run_at, id LIMIT 1",
                 x->zSchema, t->zName);
  if (!p) return rc;
  localBind(p, 1, &c->aQueue[iQueue], SQLITE_STATIC);
  if (pFrom->eType != SQLITE_NULL) partBind(p, 2, pFrom);
  sqlite3_bind_int64(p, 3, x->now);
  rs = sqlite3_step(p);
  if (rs == SQLITE_ROW) {
    rc = partRead(p, 0, pOut);
    if (rc == SQLITE_OK) rc = candRead(p, 1, iQueue, pCand);
    *pbCand = rc == SQLITE_OK;
  } else {
    partFree(pOut);
  }
  {
    int rc2 = finish(x, p, rs);
    return rc == SQLITE_OK ? rc2 : rc;
  }
}

/* *pbFull: is a partition limit of queue iQueue used up in partition pp? */
static int partFull(LocalTxn *x, const statevtab_claim *c, int iQueue,
                    const Part *pp, int *pbFull) {
  LocalTable *t = x->t;
  const statevtab_value *pQ = &c->aQueue[iQueue];
  int k, rc = SQLITE_OK;
  *pbFull = 0;
  for (k = 0; rc == SQLITE_OK && !*pbFull && k < c->nPart; k++) {
    const statevtab_value *pK = &c->aPartQueue[k];
    sqlite3_int64 n = 0;
    if (pK->n != pQ->n || memcmp(pK->z, pQ->z, (size_t)pQ->n) != 0) continue;
    if (c->aiPartPeriod[k] > 0) {
      rc = rateCountKey(x, partKey(pQ, pp), c->aiPartPeriod[k], 1, &n);
    } else {
      sqlite3_stmt *p =
          HAS_PART(t)
              ? STMT(x, SA_PART_COUNT, &rc,
                     "SELECT count(*) FROM \"%w\".\"%w_data\" WHERE queue = "
                     "?1 AND state = 'claimed' AND lease_expires_at > ?2 AND "
                     "partition_key IS ?3",
                     x->zSchema, t->zName)
              : STMT(x, SA_PART_COUNT, &rc,
                     "SELECT count(*) FROM \"%w\".\"%w_data\" WHERE queue = "
                     "?1 AND state = 'claimed' AND lease_expires_at > ?2",
                     x->zSchema, t->zName);
      int rs;
      if (!p) return rc;
      localBind(p, 1, pQ, SQLITE_STATIC);
      sqlite3_bind_int64(p, 2, x->now);
      if (HAS_PART(t)) partBind(p, 3, pp);
      rs = sqlite3_step(p);
      n = rs == SQLITE_ROW ? sqlite3_column_int64(p, 0) : 0;
      rc = finish(x, p, rs);
    }
    if (n >= c->aiPartMax[k]) *pbFull = 1;
  }
  return rc;
}

/*
** The first task of partition pp of queue iQueue, in (priority, run_at,
** id) order, that the filters and the name limits (aUsed) let through,
** into *pOut (*pbFound 1), else *pbFound 0.  The statement is stepped only
** as far as that task.
*/
static int partHead(LocalTxn *x, const statevtab_claim *c, int iQueue,
                    const Part *pp, const char *zNames, const char *zTags,
                    const sqlite3_int64 *aUsed, Cand *pOut, int *pbFound) {
  LocalTable *t = x->t;
  int rc = SQLITE_OK, rs, k;
  sqlite3_stmt *p = STMT(
      x, SA_PART_HEAD, &rc,
      "SELECT rowid, id, name, priority, run_at FROM \"%w\".\"%w_data\" AS d "
      "WHERE queue = ?1 AND state = 'pending' AND %s AND run_at <= ?2 "
      "AND (?3 IS NULL OR name IN (SELECT value FROM json_each(?3))) "
      "AND (?4 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(?4) AS r "
      "WHERE NOT EXISTS (SELECT 1 FROM json_each(d.tags) AS x "
      "WHERE x.value = r.value))) "
      "ORDER BY priority, run_at, id",
      x->zSchema, t->zName, HAS_PART(t) ? "partition_key IS ?5" : "?5 IS NULL");
  *pbFound = 0;
  if (!p) return rc;
  localBind(p, 1, &c->aQueue[iQueue], SQLITE_STATIC);
  sqlite3_bind_int64(p, 2, x->now);
  sqlite3_bind_text(p, 3, zNames, -1, SQLITE_STATIC);
  sqlite3_bind_text(p, 4, zTags, -1, SQLITE_STATIC);
  partBind(p, 5, pp);
  while ((rs = sqlite3_step(p)) == SQLITE_ROW) {
    int bOk = 1;
    memset(pOut, 0, sizeof(*pOut));
    pOut->nName = sqlite3_column_bytes(p, 2);
    pOut->zName = (char *)sqlite3_column_blob(p, 2);
    pOut->iQueue = iQueue;
    for (k = 0; aUsed && k < c->nLimit; k++) {
      if (!c->abLimitQueue[k] && limitMatches(c, k, pOut) &&
          aUsed[k] >= c->aiLimit[k]) {
        bOk = 0;
      }
    }
    if (!bOk) continue;
    if (candRead(p, 0, iQueue, pOut) != SQLITE_OK) {
      finish(x, p, SQLITE_DONE);
      return SQLITE_NOMEM;
    }
    *pbFound = 1;
    break;
  }
  if (!*pbFound) {
    memset(pOut, 0, sizeof(*pOut));
    return finish(x, p, rs);
  }
  /* Found: the rest of the partition is not read (finish would step it to
  ** the end). */
  rc = sqlite3_reset(p);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, x->db, rc);
}

/*
** Find queue q's next task in turn (q->head, q->bHead), or set q->bDone:
** from the partition after the one served last, the first partition whose
** limits allow a claim and that has a task (partHead), once round the
** cycle at most.
*/
static int fairHead(LocalTxn *x, const statevtab_claim *c, int iQueue, FairQ *q,
                    int bIdx, const char *zNames, const char *zTags,
                    const sqlite3_int64 *aUsed) {
  Part p, start;
  Cand cand;
  int rc, bFull, bFound = 0, bCand = 0, k;
  /* Without filters or name limits, the seek's task is the head. */
  int bPlain = !zNames && !zTags;
  for (k = 0; k < c->nLimit; k++) {
    if (!c->abLimitQueue[k]) bPlain = 0;
  }
  memset(&p, 0, sizeof(p));
  memset(&start, 0, sizeof(start));
  memset(&cand, 0, sizeof(cand));
  p.eType = start.eType = SQLITE_NULL;
  rc = nextPart(x, c, iQueue, bIdx, q->bServed, &q->cur, &p, &cand, &bCand);
  if (rc == SQLITE_OK && p.eType != SQLITE_NULL) {
    start.z = sqlite3_malloc64((sqlite3_uint64)p.n + 1);
    if (!start.z) rc = SQLITE_NOMEM;
    if (start.z) {
      memcpy(start.z, p.z, (size_t)p.n + 1);
      start.n = p.n;
      start.eType = p.eType;
    }
  }
  while (rc == SQLITE_OK) {
    rc = partFull(x, c, iQueue, &p, &bFull);
    if (rc == SQLITE_OK && !bFull && bCand && bPlain) {
      q->head = cand;
      memset(&cand, 0, sizeof(cand));
      bCand = 0;
      bFound = 1;
    } else if (rc == SQLITE_OK && !bFull) {
      rc = partHead(x, c, iQueue, &p, zNames, zTags, aUsed, &q->head, &bFound);
    }
    if (bCand) candFree1(&cand);
    bCand = 0;
    if (rc != SQLITE_OK || bFound) break;
    {
      Part nx;
      memset(&nx, 0, sizeof(nx));
      nx.eType = SQLITE_NULL;
      rc = nextPart(x, c, iQueue, bIdx, 1, &p, &nx, &cand, &bCand);
      partFree(&p);
      p = nx;
    }
    if (rc == SQLITE_OK && partEq(&p, &start)) {
      q->bDone = 1;
      break;
    }
  }
  if (bCand) candFree1(&cand);
  if (bFound) {
    partFree(&q->hp);
    q->hp = p;
    q->bHead = 1;
  } else {
    partFree(&p);
  }
  partFree(&start);
  return rc;
}

/*
** The claim's walk by partitions (see above), after the reaping and the
** counts of the limits (aUsed, updated here).  Each step takes the best,
** by (priority, run_at, id), of the queues' next tasks in turn.  When no
** queue of the claim has a T_fair row and there are no partition limits,
** claims nothing and sets *pbPlain: the caller walks as without
** partitions.
*/
static int fairClaim(LocalTxn *x, const statevtab_claim *c, const int *abSkip,
                     sqlite3_int64 *aUsed, sqlite3_int64 *aiDue,
                     const char *zNames, const char *zTags,
                     statevtab_row_fn xRow, void *pCtx, int *pbPlain) {
  LocalTable *t = x->t;
  int bIdx = t->abFair[x->iConn];
  FairQ *aQ = sqlite3_malloc64(sizeof(FairQ) * (size_t)c->nQueue);
  int i, k, rc = SQLITE_OK, nTaken = 0, bAny = c->nPart > 0;
  *pbPlain = 0;
  if (!aQ) return SQLITE_NOMEM;
  memset(aQ, 0, sizeof(FairQ) * (size_t)c->nQueue);
  for (i = 0; i < c->nQueue; i++) {
    aQ[i].cur.eType = aQ[i].hp.eType = SQLITE_NULL;
  }
  for (i = 0; rc == SQLITE_OK && i < c->nQueue; i++) {
    FairQ *q = &aQ[i];
    sqlite3_stmt *p;
    int rs;
    if (abSkip[i] || queueFull(c, i, aUsed)) {
      q->bDone = 1;
      continue;
    }
    if (!bIdx) continue;
    p = STMT(x, SA_FAIR_GET, &rc,
             "SELECT served, last FROM \"%w\".\"%w_fair\" WHERE queue = ?1",
             x->zSchema, t->zName);
    if (!p) break;
    localBind(p, 1, &c->aQueue[i], SQLITE_STATIC);
    rs = sqlite3_step(p);
    if (rs == SQLITE_ROW) {
      q->bRow = bAny = 1;
      q->bServed = sqlite3_column_int(p, 0);
      rc = partRead(p, 1, &q->cur);
    }
    {
      int rc2 = finish(x, p, rs);
      if (rc == SQLITE_OK) rc = rc2;
    }
  }
  /* No queue of this claim ever had a partitioned task: the plain walk
  ** (*pbPlain), exactly as in a table without partitions. */
  if (rc == SQLITE_OK && !bAny) {
    *pbPlain = 1;
    nTaken = c->nMax;
  }
  while (rc == SQLITE_OK && nTaken < c->nMax) {
    FairQ *q = 0;
    int iBest = -1;
    for (i = 0; rc == SQLITE_OK && i < c->nQueue; i++) {
      if (aQ[i].bDone) continue;
      if (!aQ[i].bHead) {
        rc = fairHead(x, c, i, &aQ[i], bIdx, zNames, zTags, aUsed);
      }
      if (aQ[i].bHead &&
          (iBest < 0 || candCmp(&aQ[i].head, &aQ[iBest].head) < 0)) {
        iBest = i;
      }
    }
    if (rc != SQLITE_OK || iBest < 0) break;
    q = &aQ[iBest];
    rc = claimOne(x, c, q->head.iRowid, xRow, pCtx);
    nTaken++;
    for (k = 0; rc == SQLITE_OK && k < c->nLimit; k++) {
      if (!limitMatches(c, k, &q->head)) continue;
      aUsed[k]++;
      if (IS_RATE(c, k)) rc = rateAdd(x, c, k, 1);
    }
    for (k = 0; rc == SQLITE_OK && k < c->nPart; k++) {
      const statevtab_value *pK = &c->aPartQueue[k], *pQ = &c->aQueue[iBest];
      if (c->aiPartPeriod[k] > 0 && pK->n == pQ->n &&
          memcmp(pK->z, pQ->z, (size_t)pQ->n) == 0) {
        rc = rateAddKey(x, partKey(pQ, &q->hp), c->aiPartPeriod[k], 1);
      }
    }
    if (rc == SQLITE_OK && t->bReap && aiDue[iBest] > x->now + c->iLeaseMs) {
      aiDue[iBest] = x->now + c->iLeaseMs;
      rc = lowerDue(x, &c->aQueue[iBest], aiDue[iBest]);
    }
    partFree(&q->cur);
    q->cur = q->hp;
    memset(&q->hp, 0, sizeof(q->hp));
    q->hp.eType = SQLITE_NULL;
    q->bServed = q->bMoved = 1;
    candFree1(&q->head);
    q->bHead = 0;
    if (queueFull(c, iBest, aUsed)) q->bDone = 1;
    /* A name limit may now turn the other queues' next tasks down. */
    for (i = 0; c->nLimit > 0 && i < c->nQueue; i++) {
      if (aQ[i].bHead) {
        candFree1(&aQ[i].head);
        partFree(&aQ[i].hp);
        aQ[i].bHead = 0;
      }
    }
  }
  for (i = 0; rc == SQLITE_OK && i < c->nQueue; i++) {
    sqlite3_stmt *p;
    if (!aQ[i].bRow || !aQ[i].bMoved) continue;
    p = STMT(x, SA_FAIR_SET, &rc,
             "UPDATE \"%w\".\"%w_fair\" SET served = 1, last = ?2 "
             "WHERE queue = ?1",
             x->zSchema, t->zName);
    if (!p) break;
    localBind(p, 1, &c->aQueue[i], SQLITE_STATIC);
    partBind(p, 2, &aQ[i].cur);
    rc = run(x, p);
  }
  for (i = 0; i < c->nQueue; i++) {
    partFree(&aQ[i].cur);
    partFree(&aQ[i].hp);
    if (aQ[i].bHead) candFree1(&aQ[i].head);
  }
  sqlite3_free(aQ);
  return rc;
}

int localClaim(statevtab_table *pTab, statevtab_table *pDead,
               const statevtab_claim *c, statevtab_row_fn xRow, void *pCtx) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  Cand *aCand = 0;
  sqlite3_int64 *aLive = 0;
  char *zNames = 0, *zTags = 0;
  int *abSkip = 0, *abMore = 0;
  sqlite3_int64 *aiDue = 0;
  int nCand = 0, nAlloc = 0, nWant, i, k, rc;

  rc = checkDead(t, pDead);
  if (rc != SQLITE_OK) return rc;
  if (c->nName > 0 && !(zNames = sv_json_array(c->nName, c->aName))) {
    return SQLITE_NOMEM;
  }
  if (c->nTag > 0 && !(zTags = sv_json_array(c->nTag, c->aTag))) {
    sqlite3_free(zNames);
    return SQLITE_NOMEM;
  }
  abSkip = sqlite3_malloc64(sizeof(int) * (size_t)(c->nQueue + 1));
  abMore = sqlite3_malloc64(sizeof(int) * (size_t)(c->nQueue + 1));
  aLive = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)(c->nLimit + 1));
  aiDue = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)(c->nQueue + 1));
  if (!abSkip || !abMore || !aLive || !aiDue) {
    rc = SQLITE_NOMEM;
    goto out;
  }
  rc = txnBegin(t, (LocalTable *)pDead, &x);
  if (rc != SQLITE_OK) goto out;

  /* One statement per entry: a set-based UPDATE ... FROM json_each(list)
  ** RETURNING id cost 30% more instructions here (JSON encoding and
  ** parsing of each entry), so completions stay one by one. */
  for (i = 0; rc == SQLITE_OK && i < c->nComplete; i++) {
    rc = doComplete(&x, &c->aCompleteId[i], c->aiCompleteToken[i],
                    &c->aCompleteResult[i], &c->aCompleteOk[i]);
  }
  for (i = 0; rc == SQLITE_OK && i < c->nQueue; i++) {
    rc = reapDue(&x, (LocalTable *)pDead, &c->aQueue[i], &abSkip[i], &aiDue[i]);
  }
  for (k = 0; rc == SQLITE_OK && k < c->nLimit; k++) {
    rc = limitCount(&x, c, k, &aLive[k]);
  }
  if (t->pAtomic) t->pAtomic->iRatePruned = x.now / 10;
  if (rc == SQLITE_OK && c->nMax > 0 && (t->abFair[x.iConn] || c->nPart > 0)) {
    int bPlain = 0;
    rc = fairClaim(&x, c, abSkip, aLive, aiDue, zNames, zTags, xRow, pCtx,
                   &bPlain);
    if (rc != SQLITE_OK || !bPlain) {
      rc = txnEnd(&x, rc);
      goto out;
    }
  }

  /* Collect, merge, walk; widen the window while limits starve it. */
  for (nWant = c->nMax; rc == SQLITE_OK && c->nMax > 0;) {
    int bMore = 0, nTaken = 0;
    sqlite3_int64 *aUsed = 0;
    candFree(aCand, nCand);
    aCand = 0;
    nCand = nAlloc = 0;
    for (i = 0; rc == SQLITE_OK && i < c->nQueue; i++) {
      abMore[i] = 0;
      if (abSkip[i] || queueFull(c, i, aLive)) continue;
      rc = candidates(&x, c, i, zNames, zTags, nWant, &aCand, &nCand, &nAlloc,
                      &abMore[i]);
    }
    if (rc != SQLITE_OK) break;
    if (nCand > 1) qsort(aCand, (size_t)nCand, sizeof(Cand), candCmp);
    if (c->nLimit > 0) {
      aUsed = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)c->nLimit);
      if (!aUsed) {
        rc = SQLITE_NOMEM;
        break;
      }
      memcpy(aUsed, aLive, sizeof(sqlite3_int64) * (size_t)c->nLimit);
    }
    /* Walk in claim order; a loser (limit reached) gets iQueue = -1. */
    for (i = 0; i < nCand; i++) {
      int bOk = nTaken < c->nMax;
      for (k = 0; bOk && k < c->nLimit; k++) {
        if (limitMatches(c, k, &aCand[i]) && aUsed[k] >= c->aiLimit[k]) {
          bOk = 0;
        }
      }
      if (!bOk) {
        aCand[i].iQueue = -1;
        continue;
      }
      for (k = 0; k < c->nLimit; k++) {
        if (limitMatches(c, k, &aCand[i])) aUsed[k]++;
      }
      nTaken++;
    }
    /* A queue whose own limit or rate is used up has nothing more to give:
    ** looking further there would walk its whole backlog. */
    for (i = 0; i < c->nQueue; i++) {
      if (abMore[i] && !queueFull(c, i, aUsed)) bMore = 1;
    }
    sqlite3_free(aUsed);
    if (nTaken < c->nMax && bMore && nWant < (1 << 20)) {
      /* Limits turned candidates down and some queue has more rows than
      ** we looked at: look further. */
      nWant = nWant * 4;
      continue;
    }
    if (nTaken >= 2) {
      rc = claimMany(&x, c, aCand, nCand, xRow, pCtx);
    } else {
      for (i = 0; rc == SQLITE_OK && i < nCand; i++) {
        if (aCand[i].iQueue >= 0) {
          rc = claimOne(&x, c, aCand[i].iRowid, xRow, pCtx);
        }
      }
    }
    /* The claims of each rate. */
    for (k = 0; rc == SQLITE_OK && k < c->nLimit; k++) {
      sqlite3_int64 n = 0;
      if (!IS_RATE(c, k)) continue;
      for (i = 0; i < nCand; i++) {
        if (aCand[i].iQueue >= 0 && limitMatches(c, k, &aCand[i])) n++;
      }
      if (n > 0) rc = rateAdd(&x, c, k, n);
    }
    /* The new leases end at now + lease: sooner than a queue's due? */
    for (i = 0; rc == SQLITE_OK && t->bReap && i < nCand; i++) {
      int q = aCand[i].iQueue;
      if (q >= 0 && aiDue[q] > x.now + c->iLeaseMs) {
        aiDue[q] = x.now + c->iLeaseMs;
        rc = lowerDue(&x, &c->aQueue[q], aiDue[q]);
      }
    }
    break;
  }
  rc = txnEnd(&x, rc);

out:
  candFree(aCand, nCand);
  sqlite3_free(aLive);
  sqlite3_free(aiDue);
  sqlite3_free(abSkip);
  sqlite3_free(abMore);
  sqlite3_free(zNames);
  sqlite3_free(zTags);
  return rc;
}

/* ---------------------------------------------------------- pausing */

int localPause(statevtab_table *pTab, const statevtab_value *pQueue, int bPause,
               int *pbChanged) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  p = bPause ? STMT(&x, SA_PAUSE, &rc,
                    "INSERT OR IGNORE INTO \"%w\".\"%w_queues\"(queue, "
                    "paused_at) VALUES(?1, ?2)",
                    x.zSchema, t->zName)
             : STMT(&x, SA_RESUME, &rc,
                    "DELETE FROM \"%w\".\"%w_queues\" WHERE queue = ?1 AND "
                    "?2 IS NOT NULL",
                    x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pQueue, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, x.now);
    rc = run(&x, p);
    *pbChanged = rc == SQLITE_OK && sqlite3_changes(x.db) > 0;
  }
  return txnEnd(&x, rc);
}

int localPaused(statevtab_table *pTab, const statevtab_value *pQueue,
                int *pbPaused) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  int rc = txnOpen(t, &x); /* a read: triggers cannot run */
  if (rc != SQLITE_OK) return rc;
  rc = isPaused(&x, pQueue, pbPaused);
  return txnEnd(&x, rc);
}

/* ------------------------------------------------------------- leases */

int localLease(statevtab_table *pTab, const statevtab_value *pName,
               const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
               sqlite3_int64 *piToken) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  sqlite3_int64 iRowid = 0, iToken = 0, iDepth = 0, iExpires = 0;
  int rc = txnBegin(t, 0, &x), bRow = 0, bMine = 0;
  if (rc != SQLITE_OK) return rc;
  *piToken = 0;
  p = STMT(&x, SA_LEASE_GET, &rc,
           "SELECT rowid, owner, token, depth, expires_at FROM "
           "\"%w\".\"%w_data\" WHERE name = ?1",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pName, SQLITE_STATIC);
    int rs;
    if ((rs = sqlite3_step(p)) == SQLITE_ROW) {
      bRow = 1;
      iRowid = sqlite3_column_int64(p, 0);
      bMine = valueEq(pOwner, sqlite3_column_text(p, 1),
                      sqlite3_column_bytes(p, 1));
      iToken = sqlite3_column_int64(p, 2);
      iDepth = sqlite3_column_int64(p, 3);
      iExpires = sqlite3_column_int64(p, 4);
    }
    rc = finish(&x, p, rs);
  }
  if (rc == SQLITE_OK) {
    int bLive = bRow && iExpires > x.now && iDepth > 0;
    if (!bRow) {
      p = STMT(&x, SA_LEASE_NEW, &rc,
               "INSERT INTO \"%w\".\"%w_data\"(name, owner, token, depth, "
               "expires_at, acquired_at) VALUES(?1, ?2, 1, 1, ?3, ?4)",
               x.zSchema, t->zName);
      if (p) {
        localBind(p, 1, pName, SQLITE_STATIC);
        localBind(p, 2, pOwner, SQLITE_STATIC);
        sqlite3_bind_int64(p, 3, x.now + iTtlMs);
        sqlite3_bind_int64(p, 4, x.now);
        rc = run(&x, p);
        *piToken = 1;
      }
    } else if (bLive && !bMine) {
      *piToken = 0; /* held by another owner */
    } else if (bLive) {
      p = STMT(&x, SA_LEASE_AGAIN, &rc,
               "UPDATE \"%w\".\"%w_data\" SET depth = depth + 1, "
               "expires_at = ?2 WHERE rowid = ?1",
               x.zSchema, t->zName);
      if (p) {
        sqlite3_bind_int64(p, 1, iRowid);
        sqlite3_bind_int64(p, 2, x.now + iTtlMs);
        rc = run(&x, p);
        *piToken = iToken;
      }
    } else {
      p = STMT(&x, SA_LEASE_TAKE, &rc,
               "UPDATE \"%w\".\"%w_data\" SET owner = ?2, token = token + 1, "
               "depth = 1, expires_at = ?3, acquired_at = ?4 "
               "WHERE rowid = ?1",
               x.zSchema, t->zName);
      if (p) {
        sqlite3_bind_int64(p, 1, iRowid);
        localBind(p, 2, pOwner, SQLITE_STATIC);
        sqlite3_bind_int64(p, 3, x.now + iTtlMs);
        sqlite3_bind_int64(p, 4, x.now);
        rc = run(&x, p);
        *piToken = iToken + 1;
      }
    }
  }
  if (rc != SQLITE_OK) *piToken = 0;
  return txnEnd(&x, rc);
}

int localRelease(statevtab_table *pTab, const statevtab_value *pName,
                 const statevtab_value *pOwner, int *pbOk) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  *pbOk = 0;
  /* At depth 0 the lease is freed by expiring it now; the row stays so that
  ** the next holder's token is still greater. */
  p = STMT(&x, SA_RELEASE, &rc,
           "UPDATE \"%w\".\"%w_data\" SET depth = depth - 1, expires_at = "
           "CASE WHEN depth <= 1 THEN ?3 ELSE expires_at END "
           "WHERE name = ?1 AND owner = ?2 AND expires_at > ?3 AND depth > 0",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pName, SQLITE_STATIC);
    localBind(p, 2, pOwner, SQLITE_STATIC);
    sqlite3_bind_int64(p, 3, x.now);
    rc = run(&x, p);
    *pbOk = rc == SQLITE_OK && sqlite3_changes(x.db) > 0;
  }
  return txnEnd(&x, rc);
}

/* ----------------------------------------------- counters, signals ... */

int localIncr(statevtab_table *pTab, const statevtab_value *pScope,
              const statevtab_value *pName, const statevtab_value *pDelta,
              statevtab_value *pOut) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  memset(pOut, 0, sizeof(*pOut));
  p = STMT(&x, SA_INCR, &rc,
           "INSERT INTO \"%w\".\"%w_data\"(scope, name, value, updated_at) "
           "VALUES(?1, ?2, ?3, ?4) ON CONFLICT(scope, name) DO UPDATE SET "
           "value = value + excluded.value, updated_at = excluded.updated_at "
           "RETURNING value",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pScope, SQLITE_STATIC);
    localBind(p, 2, pName, SQLITE_STATIC);
    localBind(p, 3, pDelta, SQLITE_STATIC);
    sqlite3_bind_int64(p, 4, x.now);
    int rs;
    if ((rs = sqlite3_step(p)) == SQLITE_ROW) {
      pOut->eType = sqlite3_column_type(p, 0);
      if (pOut->eType == SQLITE_FLOAT) {
        pOut->r = sqlite3_column_double(p, 0);
      } else {
        pOut->eType = SQLITE_INTEGER;
        pOut->i = sqlite3_column_int64(p, 0);
      }
    }
    rc = finish(&x, p, rs);
  }
  return txnEnd(&x, rc);
}

int localTake(statevtab_table *pTab, const statevtab_value *pExecId,
              const statevtab_value *pName, statevtab_value *pOut) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  sqlite3_int64 iRowid = 0;
  int rc = txnBegin(t, 0, &x), bFound = 0;
  if (rc != SQLITE_OK) return rc;
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  sqlite3_free(t->pAtomic->zOut);
  t->pAtomic->zOut = 0;
  p = STMT(&x, SA_TAKE_GET, &rc,
           "SELECT rowid, coalesce(payload, '{}') FROM \"%w\".\"%w_data\" "
           "WHERE execution_id = ?1 AND name = ?2 AND consumed_at IS NULL "
           "ORDER BY created_at, id LIMIT 1",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pExecId, SQLITE_STATIC);
    localBind(p, 2, pName, SQLITE_STATIC);
    int rs;
    if ((rs = sqlite3_step(p)) == SQLITE_ROW) {
      int n = sqlite3_column_bytes(p, 1);
      bFound = 1;
      iRowid = sqlite3_column_int64(p, 0);
      t->pAtomic->zOut = sqlite3_malloc64((sqlite3_uint64)n + 1);
      if (!t->pAtomic->zOut) {
        rc = SQLITE_NOMEM;
      } else {
        memcpy(t->pAtomic->zOut, sqlite3_column_text(p, 1), (size_t)n);
        t->pAtomic->zOut[n] = 0;
        pOut->eType = SQLITE_TEXT;
        pOut->z = t->pAtomic->zOut;
        pOut->n = n;
      }
    }
    {
      int rc2 = finish(&x, p, rs);
      if (rc == SQLITE_OK) rc = rc2;
    }
  }
  if (rc == SQLITE_OK && bFound) {
    p = STMT(&x, SA_TAKE_SET, &rc,
             "UPDATE \"%w\".\"%w_data\" SET consumed_at = ?2 WHERE rowid = ?1",
             x.zSchema, t->zName);
    if (p) {
      sqlite3_bind_int64(p, 1, iRowid);
      sqlite3_bind_int64(p, 2, x.now);
      rc = run(&x, p);
    }
  }
  if (rc != SQLITE_OK) pOut->eType = SQLITE_NULL;
  return txnEnd(&x, rc);
}

int localProgress(statevtab_table *pTab, const statevtab_value *pId,
                  const statevtab_value *pJson, int *pbOk) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  *pbOk = 0;
  p = STMT(&x, SA_PROGRESS, &rc,
           "UPDATE \"%w\".\"%w_data\" SET progress = json_insert(progress, "
           "'$[#]', json(?2)), updated_at = ?3 WHERE id = ?1",
           x.zSchema, t->zName);
  if (p) {
    localBind(p, 1, pId, SQLITE_STATIC);
    localBind(p, 2, pJson, SQLITE_STATIC);
    sqlite3_bind_int64(p, 3, x.now);
    rc = run(&x, p);
    *pbOk = rc == SQLITE_OK && sqlite3_changes(x.db) > 0;
  }
  return txnEnd(&x, rc);
}

/* retain= (xPurge): through the index of the retention column. */
int localPurge(statevtab_table *pTab, sqlite3_int64 iRetainMs, int nMax,
               int *pnDone) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc;
  *pnDone = 0;
  if (sv_entity_col(pTab->pEntity, STATEVTAB_COL_RETAIN) < 0) return SQLITE_OK;
  rc = txnBegin(t, 0, &x);
  if (rc != SQLITE_OK) return rc;
  p = t->pAtomic->aStmt[x.iConn][SA_PURGE];
  if (!p) {
    char *zWhere = sv_retain_where(pTab->pEntity, "?1");
    p = stmt(&x, SA_PURGE,
             zWhere ? sqlite3_mprintf("DELETE FROM \"%w\".\"%w_data\" WHERE "
                                      "rowid IN (SELECT rowid FROM "
                                      "\"%w\".\"%w_data\" WHERE %s LIMIT ?2)",
                                      x.zSchema, t->zName, x.zSchema, t->zName,
                                      zWhere)
                    : 0,
             &rc);
    sqlite3_free(zWhere);
  }
  if (p && t->bDeps) {
    /* The T_deps rows of the tasks removed, as the ones that wait (which
    ** matter only while a task waits: store_sqlite_deps.c).  The same
    ** condition and limit pick the rows the removal below picks; a row
    ** picked here and not there is a finished task all the same. */
    sqlite3_stmt *pDeps = t->pAtomic->aStmt[x.iConn][SA_PURGE_DEPS];
    if (!pDeps) {
      char *zWhere = sv_retain_where(pTab->pEntity, "?1");
      pDeps =
          stmt(&x, SA_PURGE_DEPS,
               zWhere ? sqlite3_mprintf(
                            "DELETE FROM \"%w\".\"%w_deps\" WHERE task "
                            "IN (SELECT id FROM \"%w\".\"%w_data\" "
                            "WHERE %s LIMIT ?2)",
                            x.zSchema, t->zName, x.zSchema, t->zName, zWhere)
                      : 0,
               &rc);
      sqlite3_free(zWhere);
    }
    if (pDeps) {
      sqlite3_bind_int64(pDeps, 1, x.now - iRetainMs);
      sqlite3_bind_int(pDeps, 2, nMax);
      rc = run(&x, pDeps);
    }
    if (rc != SQLITE_OK) p = 0;
  }
  if (p) {
    sqlite3_bind_int64(p, 1, x.now - iRetainMs);
    sqlite3_bind_int(p, 2, nMax);
    rc = run(&x, p);
    if (rc == SQLITE_OK) *pnDone = sqlite3_changes(x.db);
  }
  return txnEnd(&x, rc);
}

int localInsertAtomic(statevtab_table *pTab, const statevtab_value *aRow,
                      int *pbDone) {
  LocalTable *t = (LocalTable *)pTab;
  LocalTxn x;
  sqlite3_stmt *p;
  int rc = txnBegin(t, 0, &x), i;
  if (rc != SQLITE_OK) return rc;
  *pbDone = 0;
  p = t->pAtomic->aStmt[x.iConn][SA_INSERT];
  if (!p) {
    p = stmt(&x, SA_INSERT,
             localInsertSql(t, x.zSchema, STATEVTAB_CONFLICT_ABORT), &rc);
  }
  if (p) rc = localCheckCols(t, aRow);
  if (p && rc == SQLITE_OK) {
    for (i = 0; i < t->nDataCol; i++) {
      localBind(p, i + 1, &aRow[i], SQLITE_STATIC);
    }
    rc = run(&x, p);
    *pbDone = rc == SQLITE_OK && sqlite3_changes(x.db) > 0;
  }
  return txnEnd(&x, rc);
}

/*
** Fire a schedule (xFire): a compare-and-set of the schedule row on its
** next_run, and the task's insert, in one transaction.  Rare (once per
** period and process at most), so the statements are prepared each time.
*/
int localFire(statevtab_table *pTab, statevtab_table *pSched,
              const statevtab_value *pName, sqlite3_int64 iExpect,
              sqlite3_int64 iLast, sqlite3_int64 iNext,
              const statevtab_value *aTask, int *pbFired) {
  LocalTable *t = (LocalTable *)pTab, *s = (LocalTable *)pSched;
  LocalTxn x;
  sqlite3_stmt *p = 0;
  char *zSql;
  int rc, i;
  *pbFired = 0;
  if (pSched->pStore != pTab->pStore || strcmp(s->zDb, t->zDb) != 0) {
    localError(t->pStore,
               "schedules table '%s' must be in the same database as '%s'",
               s->zName, t->zName);
    return SQLITE_ERROR;
  }
  rc = txnBegin(t, s, &x);
  if (rc != SQLITE_OK) return rc;
  zSql = sqlite3_mprintf("UPDATE \"%w\".\"%w_data\" SET last_run = ?3, "
                         "next_run = ?4, updated_at = ?5 WHERE name = ?1 AND "
                         "next_run = ?2 AND enabled",
                         x.zSchema, s->zName);
  rc = zSql ? sqlite3_prepare_v2(x.db, zSql, -1, &p, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) {
    rc = localDbError(t->pStore, x.db, rc);
  } else {
    localBind(p, 1, pName, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, iExpect);
    sqlite3_bind_int64(p, 3, iLast);
    if (iNext >= 0) sqlite3_bind_int64(p, 4, iNext);
    sqlite3_bind_int64(p, 5, x.now);
    rc = run(&x, p);
    *pbFired = rc == SQLITE_OK && sqlite3_changes(x.db) > 0;
  }
  sqlite3_finalize(p);
  if (rc == SQLITE_OK && *pbFired) {
    p = t->pAtomic->aStmt[x.iConn][SA_INSERT];
    if (!p) {
      p = stmt(&x, SA_INSERT,
               localInsertSql(t, x.zSchema, STATEVTAB_CONFLICT_ABORT), &rc);
    }
    if (p) rc = localCheckCols(t, aTask);
    if (p && rc == SQLITE_OK) {
      for (i = 0; i < t->nDataCol; i++) {
        localBind(p, i + 1, &aTask[i], SQLITE_STATIC);
      }
      rc = run(&x, p);
    }
  }
  if (rc != SQLITE_OK) *pbFired = 0;
  return txnEnd(&x, rc);
}

/*
** state_wait on the local store: poll, backing off from 2 ms to 100 ms,
** and never past the next scheduled run_at or lease expiry.  Each check
** is a fresh read, so it sees what other processes committed.
*/
int localWait(statevtab_table *pTab, const statevtab_value *pQueue,
              sqlite3_int64 iTimeoutMs, int *pbReady) {
  LocalTable *t = (LocalTable *)pTab;
  sqlite3 *db = t->pStore->db;
  sqlite3_int64 iEnd = sv_mono_ms() + iTimeoutMs;
  sqlite3_stmt *p = 0;
  char *zSql;
  int rc, iSleep = 2;
  *pbReady = 0;
  if (t->bReap) {
    /* Leases: T_reap's due time (reapDue), or for a queue without a row
    ** there yet, an expired lease among its claimed tasks. */
    zSql = sqlite3_mprintf(
        "SELECT (EXISTS (SELECT 1 FROM \"%w\".\"%w_data\" WHERE queue = ?1 "
        "AND state = 'pending' AND run_at <= ?2) OR coalesce((SELECT due <= ?2 "
        "FROM \"%w\".\"%w_reap\" WHERE queue = ?1), EXISTS (SELECT 1 FROM "
        "\"%w\".\"%w_data\" WHERE queue = ?1 AND state = 'claimed' AND "
        "lease_expires_at <= ?2))) AND NOT EXISTS (SELECT 1 FROM "
        "\"%w\".\"%w_queues\" WHERE queue = ?1), "
        "(SELECT min(x) FROM (SELECT min(run_at) AS x FROM \"%w\".\"%w_data\" "
        "WHERE queue = ?1 AND state = 'pending' UNION ALL SELECT due FROM "
        "\"%w\".\"%w_reap\" WHERE queue = ?1))",
        t->zDb, t->zName, t->zDb, t->zName, t->zDb, t->zName, t->zDb, t->zName,
        t->zDb, t->zName, t->zDb, t->zName);
  } else {
    zSql = sqlite3_mprintf(
        "SELECT EXISTS (SELECT 1 FROM \"%w\".\"%w_data\" WHERE queue = ?1 "
        "AND ((state = 'pending' AND run_at <= ?2) OR (state = 'claimed' AND "
        "lease_expires_at <= ?2)) AND NOT EXISTS (SELECT 1 FROM "
        "\"%w\".\"%w_queues\" WHERE queue = ?1)), "
        "(SELECT min(x) FROM (SELECT min(run_at) AS x FROM "
        "\"%w\".\"%w_data\" WHERE queue = ?1 AND state = 'pending' UNION "
        "ALL SELECT min(lease_expires_at) FROM \"%w\".\"%w_data\" WHERE "
        "queue = ?1 AND state = 'claimed'))",
        t->zDb, t->zName, t->zDb, t->zName, t->zDb, t->zName, t->zDb, t->zName);
  }
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &p, 0);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return localDbError(t->pStore, db, rc);
  for (;;) {
    sqlite3_int64 now = sv_now_ms(), mono = sv_mono_ms(), iNext = -1, iWait;
    localBind(p, 1, pQueue, SQLITE_STATIC);
    sqlite3_bind_int64(p, 2, now);
    if (sqlite3_step(p) == SQLITE_ROW) {
      *pbReady = sqlite3_column_int(p, 0);
      if (sqlite3_column_type(p, 1) != SQLITE_NULL) {
        iNext = sqlite3_column_int64(p, 1);
      }
    }
    rc = sqlite3_reset(p);
    if (rc != SQLITE_OK || *pbReady || mono >= iEnd) break;
    iWait = iEnd - mono;
    if (iWait > iSleep) iWait = iSleep;
    if (iNext > now && iNext - now < iWait) iWait = iNext - now;
    sqlite3_sleep((int)iWait);
    if (iSleep < 100) iSleep *= 2;
  }
  sqlite3_finalize(p);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}
