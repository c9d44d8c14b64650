/*
** 2026-11-22
**
** store_sqlite.h -- internals of the local store, shared by
** store_sqlite.c (tables, scans, writes) and store_sqlite_atomic.c (the
** atomic primitives behind the SQL functions).
*/
#ifndef STORE_SQLITE_H
#define STORE_SQLITE_H

#include "svint.h"

#define SV_MAX_CACHED_SCANS 16

typedef struct LocalStore LocalStore;
typedef struct LocalTable LocalTable;
typedef struct LocalScan LocalScan;
typedef struct LocalCursor LocalCursor;
typedef struct LocalAtomic LocalAtomic; /* store_sqlite_atomic.c's */
typedef struct LocalDeps LocalDeps;     /* store_sqlite_deps.c's */

/* A private connection to the file of one schema (store_sqlite_atomic.c). */
typedef struct LocalPrivate LocalPrivate;
struct LocalPrivate {
  char *zDb;   /* schema name on the caller's connection */
  sqlite3 *db; /* private connection to the same file */
  sqlite3_stmt *pBegin, *pCommit, *pRollback; /* kept: parsed once */
  LocalPrivate *pNext;
};

struct LocalStore {
  statevtab_store base;                   /* must be first */
  sqlite3 *db;                            /* the caller's connection */
  sqlite3_stmt *pSave, *pRelease, *pUndo; /* SAVEPOINT statevtab_atomic.. */
  int nTable;                             /* tables attached */
  LocalPrivate *pPrivate;
  sv_idgen idgen; /* ids of rows the store makes (dead letters) */
};

/* One prepared scan; bInUse while a cursor steps it. */
struct LocalScan {
  char *zPlan;
  sqlite3_stmt *pStmt;
  int bInUse;
  LocalScan *pNext;
};

struct LocalTable {
  statevtab_table base; /* must be first */
  LocalStore *pStore;
  char *zDb;
  char *zName;
  sqlite3_stmt *apInsert[3]; /* per STATEVTAB_CONFLICT_* */
  sqlite3_stmt *apUpdate[3];
  sqlite3_stmt *pDelete;
  sqlite3_stmt *pPurge;       /* delete an expired row with the same key */
  sqlite3_stmt *pSweep;       /* delete up to SV_SWEEP_MAX expired rows */
  sqlite3_stmt *pDataVersion; /* PRAGMA data_version (xChanged) */
  /* Tasks (bTasks): bReap when the table has a T_reap table (created since
  ** 2026-12-03; see reapDue in store_sqlite_atomic.c) and so keeps no
  ** lease_expires_at index unless indexes= asks; pLower lowers a queue's
  ** due time there after a write of a lease. */
  int bTasks, bReap;
  sqlite3_stmt *pLower;
  /* Tasks: bDeps when the table has T_deps (made since 2026-12-03 with the
  ** depends_on column; see store_sqlite_deps.c), whose statements pDeps
  ** keeps; pDepsGet reads a row's id and state before a DELETE. */
  int bDeps;
  LocalDeps *pDeps;
  sqlite3_stmt *pDepsGet;
  /* Partitions (fairAdd in store_sqlite.c): abFair per connection, as the
  ** guard last found T_fair; pFairAdd records a queue there. */
  int abFair[2];
  sqlite3_stmt *pFairAdd;
  /* Tasks: bFold when the queue index holds partition_key (queue, state,
  ** partition_key, priority, run_at, id), as in tables made since
  ** 2026-12-04: the walk by partitions seeks it, so no T_data_partition is
  ** made and a claim writes one index less; the plain claim reads the
  ** NULL partition's part of it (every task of a queue without a T_fair
  ** row).  Tables made before keep (queue, state, priority, run_at, id)
  ** and get T_data_partition with their first partitioned task. */
  int bFold;
  /* dedup= of a tasks table.  With a window (dd.bWindow) the index of
  ** (queue, idempotency_key) is not UNIQUE, and a row is let in by the
  ** INSERT's NOT EXISTS of a clashing row (localInsertSql); pDdClash finds
  ** the rows that clash with an updated one, pDdDrop deletes those that
  ** clash with a row OR REPLACE writes. */
  sv_dedup dd;
  sqlite3_stmt *pDdClash, *pDdDrop;
  /* The column of type STATEVTAB_ANY (kv's value) when T_data declares it
  ** TEXT, as tables made before 2026-12-03 do, else -1.  TEXT affinity
  ** would turn numbers into text, so there integers, reals and blobs are
  ** stored as tagged blobs (anyOldEncode); that column held only JSON text
  ** before, never a blob.  Tables made since declare it without a type
  ** and keep every value as it is. */
  int iAnyOld;
  /* How many of the entity's columns T_data has: all of them in a table
  ** made by this version; columns appended to an entity since (tasks'
  ** partition_key and depends_on, 2026-12-03) are missing from a table
  ** made before.  There they read as NULL and a write of anything else
  ** fails (localCheckCols): T_data is never altered, because an ALTER
  ** TABLE while SQLite prepares or steps a statement of this table would
  ** reload the schema under it. */
  int nDataCol;
  LocalScan *pScans;
  int nScans;
  LocalAtomic *pAtomic; /* the primitives' statements and state, or NULL */
  /* The trigger guard (localGuard), per connection like aAtomic. */
  sqlite3_stmt *apGuard[2]; /* PRAGMA <schema>.schema_version */
  int abGuarded[2];         /* a check passed, at ... */
  int aiGuardCookie[2];     /* ... this schema cookie and ... */
  int anGuardPrep[2];       /* ... this re-preparation count of apGuard */
  char *azGuardDead[2];     /* dead letters table that check covered */
};

struct LocalCursor {
  statevtab_cursor base; /* must be first */
  LocalScan *pScan;      /* scan being stepped, or NULL */
  int bOwned;            /* pScan is not in the cache: free it at close */
  int bEof;
  /* Counting (no column read, see localFilter): pCount's statement
  ** counted nCount rows, the cursor is on row iPos; while bCounting,
  ** pScan is held but not stepped (until a row handle is asked for). */
  LocalScan *pCount;
  int bCountOwned;
  int bCounting;
  sqlite3_int64 nCount, iPos;
};

/* store_sqlite_util.c: used by both store_sqlite.c and
** store_sqlite_atomic.c, and calling neither. */
void localError(LocalStore *p, const char *zFmt, ...);
int localDbError(LocalStore *p, sqlite3 *db, int rc);
int localPrepareKept(LocalTable *t, char *zSql, sqlite3_stmt **ppStmt);
int localPrepareOn(LocalStore *p, sqlite3 *db, char *zSql,
                   sqlite3_stmt **ppStmt);
int localBind(sqlite3_stmt *pStmt, int i, const statevtab_value *v,
              void (*xDel)(void *));
int localReadValue(sqlite3_stmt *pStmt, int i, statevtab_value *pOut);
int localGuard(LocalTable *t, int iConn, sqlite3 *db, const char *zSchema,
               LocalTable *pDead);
void localFinalizeGuard(LocalTable *t);
char *localDedupWhere(LocalTable *t);
char *localInsertSql(LocalTable *t, const char *zSchema, int eConflict);
void localAppendCol(sqlite3_str *s, LocalTable *t, const char *zPrefix,
                    int iCol);
int localCheckCols(LocalTable *t, const statevtab_value *aRow);
char *localLowerSql(LocalTable *t, const char *zSchema);

/* store_sqlite_atomic.c: the primitives, installed in sv_sqlite_store by
** store_sqlite.c, and what store_sqlite.c calls to let go of them.  It
** calls nothing of store_sqlite.c. */
void localFinalizeAtomic(LocalTable *t);
void localClosePrivate(LocalStore *p);
void localFinalizeCaller(LocalStore *p);
int localClaim(statevtab_table *, statevtab_table *, const statevtab_claim *,
               statevtab_row_fn, void *);
int localRenew(statevtab_table *, const statevtab_value *, sqlite3_int64,
               sqlite3_int64, sqlite3_int64 *);
int localComplete(statevtab_table *, const statevtab_value *, sqlite3_int64,
                  const statevtab_value *, int *);
int localFail(statevtab_table *, statevtab_table *, const statevtab_value *,
              sqlite3_int64, const statevtab_value *, sqlite3_int64, int *);
int localLease(statevtab_table *, const statevtab_value *,
               const statevtab_value *, sqlite3_int64, sqlite3_int64 *);
int localRelease(statevtab_table *, const statevtab_value *,
                 const statevtab_value *, int *);
int localIncr(statevtab_table *, const statevtab_value *,
              const statevtab_value *, const statevtab_value *,
              statevtab_value *);
int localTake(statevtab_table *, const statevtab_value *,
              const statevtab_value *, statevtab_value *);
int localPurge(statevtab_table *, sqlite3_int64 iRetainMs, int nMax,
               int *pnDone);
int localProgress(statevtab_table *, const statevtab_value *,
                  const statevtab_value *, int *);
int localPause(statevtab_table *, const statevtab_value *, int, int *);
int localPaused(statevtab_table *, const statevtab_value *, int *);
/* store_sqlite_deps.c: called by both; calls neither. */
void localFinalizeDeps(LocalTable *t);
/* Before a task with depends_on *aRow is inserted pending or waiting: its
** state (*pState: 'pending', 'waiting' or 'cancelled', static text) and,
** when cancelled, its error (*pError points into *pzErr, which the caller
** frees after the insert).  SQLITE_ERROR: a dependency does not exist. */
int localDepsInsert(LocalTable *t, const statevtab_value *aRow,
                    statevtab_value *pState, statevtab_value *pError,
                    char **pzErr);
/* After it was inserted 'waiting': its T_deps rows (those of an earlier
** task of its id dropped first). */
int localDepsLink(LocalTable *t, const statevtab_value *aRow);
/* Task *pId's row goes (DELETE): its T_deps rows, as the one that waits. */
int localDepsForget(LocalTable *t, const statevtab_value *pId);
/* Task zId[0..nId) ended: completed (zWhy NULL), or not (zWhy: how, one of
** the SV_DEPS_WHY_*); see the file's header. */
int localDepsSettle(LocalTable *t, int iConn, sqlite3 *db, const char *zSchema,
                    sqlite3_int64 now, const char *zId, int nId,
                    const char *zWhy);
/* store_sqlite_metrics.c */
int localMetrics(statevtab_table *, const statevtab_value *pQueue, int bHistory,
                 statevtab_metrics_fn xRow, void *pCtx);
int localInsertAtomic(statevtab_table *, const statevtab_value *, int *);
int localFire(statevtab_table *, statevtab_table *, const statevtab_value *,
              sqlite3_int64, sqlite3_int64, sqlite3_int64,
              const statevtab_value *, int *);
int localWait(statevtab_table *, const statevtab_value *, sqlite3_int64, int *);

#endif /* STORE_SQLITE_H */
