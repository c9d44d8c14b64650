/*
** 2026-11-22
**
** statevtab.h -- the public interface of the statevtab SQLite extension.
**
** statevtab keeps application state (executions, tasks, signals, dead
** letters, counters, flags, key-value state, leases) in virtual tables whose
** rows live in a *store*: local SQLite shadow tables, Redis or PostgreSQL.
** This header declares the store interface so that an embedding application
** can register a store of its own:
**
**     static const statevtab_store_methods myStore = { 1, "mystore", ... };
**     statevtab_register_store(db, &myStore);   // after loading statevtab
**     CREATE VIRTUAL TABLE t USING state_tasks(store='mystore://whatever');
**
** HOW IT WORKS
**
** The virtual-table layer turns SQL into calls on a statevtab_store_methods
** table, in the spirit of sqlite3_io_methods: iVersion first, methods are only
** ever appended.  A store is one backend connection (one per database
** connection and store URL); a statevtab_table is one SQL table attached to a
** store; a statevtab_cursor is one scan.  Each of the three is subclassed by
** the store: the base struct below is its first member.
**
** Values cross the interface as statevtab_value.  Text and blob pointers are
** borrowed: values given to a store are valid for the duration of the call;
** values a store returns from xColumn are valid until the cursor moves.
**
** Rows are identified by a 64-bit integer handle (the "rowid") that the store
** assigns on insert and that stays stable while the row exists.  The rowid is
** never a user-visible key: keys are ordinary columns (see statevtab_entity).
**
** Errors: a method returns an SQLite result code and, when it has something to
** say, leaves a message in pStore->zErrMsg (from sqlite3_malloc, freed by the
** next method that sets it or by xClose).  The message must not include the
** table or module name (the caller prefixes it) and must never contain a
** password.  Result codes follow SQLite's: SQLITE_NOMEM for allocation
** failure, SQLITE_CONSTRAINT for a uniqueness conflict, SQLITE_BUSY for lock
** contention, SQLITE_CANTOPEN when the backend cannot be reached at open,
** SQLITE_IOERR for a transport failure mid-statement, SQLITE_ERROR otherwise.
*/
#ifndef STATEVTAB_H
#define STATEVTAB_H

#ifdef STATEVTAB_INTERNAL
#include <sqlite3ext.h>
#else
#include <sqlite3.h>
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The version: this line is its one place (configure.ac reads it). */
#define STATEVTAB_VERSION "0.2.0"

typedef struct statevtab_value statevtab_value;
typedef struct statevtab_column statevtab_column;
typedef struct statevtab_entity statevtab_entity;
typedef struct statevtab_cons statevtab_cons;
typedef struct statevtab_order statevtab_order;
typedef struct statevtab_scan statevtab_scan;
typedef struct statevtab_open statevtab_open;
typedef struct statevtab_store statevtab_store;
typedef struct statevtab_table statevtab_table;
typedef struct statevtab_cursor statevtab_cursor;
typedef struct statevtab_store_methods statevtab_store_methods;
typedef struct statevtab_queue_methods statevtab_queue_methods;

/*
** A value.  eType is SQLITE_INTEGER, SQLITE_FLOAT, SQLITE_TEXT, SQLITE_BLOB
** or SQLITE_NULL.  z/n hold text (not necessarily nul-terminated) or blob
** bytes.  In a row given to xInsert, the TEXT value of the AUTOID column has
** bGenerated 1 when statevtab generated it (a fresh time-ordered id, unique
** by construction: a store may skip looking for a row holding it) and 0
** when the user gave it; bGenerated is 0 everywhere else.
*/
struct statevtab_value {
  int eType;
  int n;
  sqlite3_int64 i;
  double r;
  const char *z;
  int bGenerated;
};

/* Column types (statevtab_column.eType). */
#define STATEVTAB_INT 1  /* INTEGER: integers only (times are ms) */
#define STATEVTAB_NUM 2  /* NUMERIC: integer or real */
#define STATEVTAB_TEXT 3 /* TEXT */
#define STATEVTAB_JSON 4 /* TEXT holding well-formed JSON */
#define STATEVTAB_BOOL 5 /* INTEGER 0 or 1 */
#define STATEVTAB_ANY 6  /* any value, kept with its type and bytes */

/* Column flags (statevtab_column.flags). */
#define STATEVTAB_COL_KEY 0x0001     /* part of the entity's unique key */
#define STATEVTAB_COL_INDEXED 0x0002 /* store keeps an index on it */
#define STATEVTAB_COL_NOTNULL 0x0004 /* NULL rejected (after defaults) */
#define STATEVTAB_COL_AUTOID 0x0008  /* NULL on insert: time-ordered id */
#define STATEVTAB_COL_CREATED 0x0010 /* NULL on insert: now */
#define STATEVTAB_COL_UPDATED 0x0020 /* set to now on every write */
#define STATEVTAB_COL_VERSION 0x0040 /* 1 on insert, +1 on every update */
#define STATEVTAB_COL_EXPIRES 0x0080 /* row invisible once now >= value */
#define STATEVTAB_COL_TIME 0x0100    /* milliseconds since the epoch */
#define STATEVTAB_COL_OPTIDX                                                   \
  0x0200                           /* with INDEXED: an index a store may       \
                                   ** build only when the table's indexes=     \
                                   ** option names the column (the local       \
                                   ** store does; scans still filter on it) */
#define STATEVTAB_COL_STATE 0x0400 /* the lifecycle state (see below) */
#define STATEVTAB_COL_STARTED                                                  \
  0x0800 /* NULL: now when the state becomes                                   \
         ** running, completed or failed */
#define STATEVTAB_COL_FINISHED                                                 \
  0x1000 /* NULL: now when the state becomes                                   \
         ** completed, failed, dead or cancelled */
#define STATEVTAB_COL_RETAIN                                                   \
  0x2000 /* the time after which a row may be removed                          \
         ** by retain= (see xPurge) */

/* One column of an entity. */
struct statevtab_column {
  const char *zName;    /* column name */
  int eType;            /* STATEVTAB_INT ... */
  unsigned flags;       /* STATEVTAB_COL_* */
  const char *zDefault; /* default as text, or NULL (converted per eType) */
  const char *const *azEnum; /* NULL-terminated allowed values, or NULL */
  sqlite3_int64 iMin, iMax;  /* allowed range for INT columns when iMin<iMax */
};

/*
** An entity descriptor: one kind of state.  zKind is the store-side name
** (PostgreSQL table, Redis key segment); zModule the SQL module name.
*/
struct statevtab_entity {
  const char *zKind;   /* "tasks" */
  const char *zModule; /* "state_tasks" */
  int nCol;            /* number of columns */
  const statevtab_column *aCol;
  int nKey;     /* number of key columns (1 or 2) */
  int aiKey[2]; /* their column indexes */
  /* Idempotent insert: when iDedupe>=0, an insert whose non-NULL value of
  ** column iDedupe already exists among the rows with the same value of
  ** column iDedupeScope is skipped without error (*pbDone=0).  Tasks use it
  ** for (queue, idempotency_key).  -1 when unused. */
  int iDedupe;
  int iDedupeScope;
};

/* Constraint operators (statevtab_cons.op). */
#define STATEVTAB_EQ 1    /* col = v */
#define STATEVTAB_LT 2    /* col < v */
#define STATEVTAB_LE 3    /* col <= v */
#define STATEVTAB_GT 4    /* col > v */
#define STATEVTAB_GE 5    /* col >= v */
#define STATEVTAB_IS 6    /* col IS v (v may be NULL) */
#define STATEVTAB_ALIVE 7 /* col IS NULL OR col > v (expiry columns) */

struct statevtab_cons {
  int iCol;
  int op;
  statevtab_value v;
};

struct statevtab_order {
  int iCol;
  int bDesc;
};

/*
** One scan.  A store returns exactly the rows that satisfy every constraint,
** compared as SQLite compares a value with a column of the column's declared
** type, in aOrder order when nOrder>0 (only asked of stores that set
** STATEVTAB_CAP_ORDER), and at most nLimit rows when nLimit>=0.  zPlan
** identifies the shape of the scan (the columns, operators and order, not the
** values): a store may cache a prepared query under it.
*/
struct statevtab_scan {
  const char *zPlan;
  int nCons;
  const statevtab_cons *aCons;
  int nOrder;
  const statevtab_order *aOrder;
  sqlite3_int64 nLimit;
  /* Bit i set: column i will be read (bit 63: some column >= 63).  A store
  ** may return the other columns as NULL. */
  sqlite3_uint64 colUsed;
};

/* Store capabilities (statevtab_store.fCaps). */
#define STATEVTAB_CAP_ORDER 0x01 /* scans honour statevtab_scan.aOrder */

/* Arguments of xOpen. */
struct statevtab_open {
  sqlite3 *db;          /* the database connection the tables live in */
  const char *zUrl;     /* store URL, after env: resolution */
  const char *zSafeUrl; /* the same with any password redacted */
  /* When the application set an allowlist (statevtab_allow) that leaves
  ** the hosts of this URL to the store: before it opens any socket, a store
  ** calls xAllow for every host it would connect to (zHost: a host name,
  ** address or socket path, NULL when the URL names none and the host would
  ** come from elsewhere, such as the environment; iPort: 0 for a socket).
  ** SQLITE_OK, or SQLITE_ERROR with *pzErr replaced by the message to
  ** report.  NULL: every host is allowed. */
  int (*xAllow)(const statevtab_open *, const char *zHost, int iPort,
                char **pzErr);
  void *pAllowArg; /* for xAllow */
};

/* Base structs: each is the first member of the store's own struct. */
struct statevtab_store {
  const statevtab_store_methods *pMethods;
  unsigned fCaps; /* STATEVTAB_CAP_* */
  char *zErrMsg;  /* last error message (sqlite3_malloc'd) or NULL */
};
struct statevtab_table {
  statevtab_store *pStore;
  const statevtab_entity *pEntity;
};
struct statevtab_cursor {
  statevtab_table *pTab;
};

/* On-conflict modes for xInsert/xUpdate. */
#define STATEVTAB_CONFLICT_ABORT 0   /* fail with SQLITE_CONSTRAINT */
#define STATEVTAB_CONFLICT_IGNORE 1  /* keep the old row, report *pbDone=0 */
#define STATEVTAB_CONFLICT_REPLACE 2 /* delete the conflicting row first */

/*
** Arguments of xClaim.  Strings are statevtab_values (binary safe).  Only
** tasks of the nQueue queues, not paused, runnable now (state 'pending' with
** run_at due, or 'claimed' with an expired lease), whose name is among
** aName (when nName>0) and whose tags hold every one of aTag are claimed,
** up to nMax of them, in (priority, run_at, id) order, respecting aLimit:
** for limit k, at most aiLimit[k] tasks whose name (or, when abLimitQueue[k],
** whose queue) equals aLimit[k] may hold an unexpired lease at once -- or,
** when aiLimitPeriod is not NULL and aiLimitPeriod[k] > 0 (a rate limit;
** only given to stores of queue methods version 3), at most aiLimit[k] such
** tasks may be claimed in any window of aiLimitPeriod[k] ms: the store
** keeps the times of the claims of each such key, across processes, and
** counts those after now - aiLimitPeriod[k] (claims made by this call
** included).
** Version 4: partitions.  A task's partition is its (queue, partition_key),
** NULL partition_key being one partition of its own.  Inside a queue the
** partitions with a runnable task take turns, in a cycle: the NULL
** partition, then the others in partition_key order (bytes); the store
** keeps per queue the partition it served last, and each task claimed
** comes from the next partition after it that has one (the usual (priority,
** run_at, id) order inside a partition; priority does not cross
** partitions), so n > 1 takes one task of each partition in turn.  Several
** queues merge by the (priority, run_at, id) of each queue's next task.  A
** queue with no runnable task of a non-NULL partition is claimed as before.
** nPart per-partition limits: at most aiPartMax[k] tasks of each partition
** of queue aPartQueue[k] may hold an unexpired lease at once or, when
** aiPartPeriod[k] > 0, be claimed in any window of that many ms (counted
** as rates are).
** Before claiming, the nComplete tasks of aCompleteId/aiCompleteToken are
** completed with aCompleteResult as with xComplete; aCompleteOk[k] is set to
** 1 for each one completed and 0 for a stale token.  The claimed rows may
** be handed to the row callback in any order: state_claim sorts them.
*/
typedef struct statevtab_claim statevtab_claim;
struct statevtab_claim {
  int nQueue;
  const statevtab_value *aQueue;
  const statevtab_value *pWorker;
  sqlite3_int64 iLeaseMs;
  int nMax;
  int nName;
  const statevtab_value *aName;
  int nTag;
  const statevtab_value *aTag;
  int nLimit;
  const statevtab_value *aLimit;
  const int *abLimitQueue;
  const sqlite3_int64 *aiLimit;
  int nComplete;
  const statevtab_value *aCompleteId;
  const sqlite3_int64 *aiCompleteToken;
  const statevtab_value *aCompleteResult;
  int *aCompleteOk;
  const sqlite3_int64 *aiLimitPeriod; /* version 3: NULL, or per limit */
  /* Version 3: bit i set, column i of a claimed row will be read (bit 63:
  ** some column >= 63), as statevtab_scan.colUsed; a store may hand the
  ** other columns to xRow as NULL.  id, priority, run_at and lease_token
  ** are always asked for. */
  sqlite3_uint64 colUsed;
  int nPart; /* version 4: partition limits */
  const statevtab_value *aPartQueue;
  const sqlite3_int64 *aiPartMax;
  const sqlite3_int64 *aiPartPeriod; /* 0: a concurrency limit */
};

/* Receives one row (one value per entity column); non-zero aborts. */
typedef int (*statevtab_row_fn)(void *pCtx, const statevtab_value *aRow);

/*
** One queue's figures (xMetrics), on the store's clock "now".  Counts are of
** tasks in each state; pending tasks split into due (run_at <= now) and
** scheduled; nExpired counts the claimed tasks whose lease_expires_at <=
** now (they are in nClaimed too).  aPerMinute[i]: tasks of state
** 'completed' whose completed_at is in (now - (60 - i) min, now - (59 - i)
** min] -- the oldest minute first, aPerMinute[59] the last 60 seconds (and
** any completed_at ahead of now); a store may count by the second (Redis
** does, taking a second as its last ms).
*/
typedef struct statevtab_metrics statevtab_metrics;
struct statevtab_metrics {
  statevtab_value queue;
  sqlite3_int64 nPending, nScheduled, nClaimed, nExpired;
  sqlite3_int64 nCompleted, nFailed, nDead, nCancelled;
  sqlite3_int64 iOldestPendingMs; /* now - the oldest due run_at; -1: none */
  int bPaused;
  sqlite3_int64 aPerMinute[60];
  sqlite3_int64 nWaiting; /* tasks waiting for their depends_on */
};
typedef int (*statevtab_metrics_fn)(void *pCtx, const statevtab_metrics *);

/* Outcomes of xFail. */
#define STATEVTAB_FAIL_STALE 0 /* the token is not current: nothing done */
#define STATEVTAB_FAIL_RETRY 1 /* back to 'pending', run_at in the future */
#define STATEVTAB_FAIL_DEAD 2  /* 'dead', and a dead letter written */

/*
** The queue primitives behind the SQL functions (state_claim, state_complete,
** state_lease ...), a methods table of their own that a store of rows only
** leaves out.  Version 1 is every method up to xWait, version 2 adds
** xWake and xPurge, version 3 xFire, xMetrics and rate limits in xClaim
** (statevtab_claim.aiLimitPeriod; a claim with rates on an older store
** fails with "store 'x' does not support options.rates"), version 4
** partitions in xClaim (statevtab_claim.nPart; a claim with partition
** limits on an older store fails with "store 'x' does not support
** partition limits"); each may be NULL
** (a SQL function whose primitive is NULL fails with "store 'x' does not
** support this function"; a NULL or absent xWake means the store cannot be
** woken, and a waiting state_lease or state_take polls it with back-off
** instead; a NULL or absent xPurge means retain= removes nothing on that
** store; a NULL or absent xMetrics fails state_metrics with "does not
** support").
*/
struct statevtab_queue_methods {
  int iVersion; /* 5 (1: up to xWait; 2: up to xPurge; 3: rates; 4:
                ** partitions) */
  /*
  ** Each is atomic on its own, on the store's clock.  pDead, where given, is
  *the dead letters
  ** table that must receive tasks that die (NULL: the store's own default,
  ** or none).  Out-values that are statevtab_values stay valid until the
  ** next call on the same table.
  */
  int (*xClaim)(statevtab_table *pTasks, statevtab_table *pDead,
                const statevtab_claim *, statevtab_row_fn, void *pCtx);
  /* New lease expiry in *piExpires, or 0 when the token is not current. */
  int (*xRenew)(statevtab_table *pTasks, const statevtab_value *pId,
                sqlite3_int64 iToken, sqlite3_int64 iLeaseMs,
                sqlite3_int64 *piExpires);
  /* *pbOk: 1 completed, 0 stale token. pResult: JSON text or NULL value. */
  int (*xComplete)(statevtab_table *pTasks, const statevtab_value *pId,
                   sqlite3_int64 iToken, const statevtab_value *pResult,
                   int *pbOk);
  /* iRetryMs < 0: the default back-off. *peOutcome: STATEVTAB_FAIL_*. */
  int (*xFail)(statevtab_table *pTasks, statevtab_table *pDead,
               const statevtab_value *pId, sqlite3_int64 iToken,
               const statevtab_value *pError, sqlite3_int64 iRetryMs,
               int *peOutcome);
  /* *piToken: the fencing token, or 0 when another owner holds it. */
  int (*xLease)(statevtab_table *pLeases, const statevtab_value *pName,
                const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                sqlite3_int64 *piToken);
  int (*xLeaseRelease)(statevtab_table *pLeases, const statevtab_value *pName,
                       const statevtab_value *pOwner, int *pbOk);
  /* *pOut: the new value (INTEGER or FLOAT). */
  int (*xIncr)(statevtab_table *pCounters, const statevtab_value *pScope,
               const statevtab_value *pName, const statevtab_value *pDelta,
               statevtab_value *pOut);
  /* *pOut: the oldest unconsumed payload (NULL value: none), now consumed;
  ** a signal sent without payload yields the text '{}'. */
  int (*xTake)(statevtab_table *pSignals, const statevtab_value *pExecId,
               const statevtab_value *pName, statevtab_value *pOut);
  /* Append JSON zJson to the execution's progress array; *pbOk 0: no such
  ** execution. */
  int (*xProgress)(statevtab_table *pExec, const statevtab_value *pId,
                   const statevtab_value *pJson, int *pbOk);
  /* Pause (bPause=1) or resume a queue; *pbChanged 0 when it already was. */
  int (*xPause)(statevtab_table *pTasks, const statevtab_value *pQueue,
                int bPause, int *pbChanged);
  /* Insert one row on its own, as the atomic primitives do (xInsert instead
  ** joins the SQL statement's transaction).  Used by state_signal. */
  int (*xInsertAtomic)(statevtab_table *, const statevtab_value *aRow,
                       int *pbDone);
  /* *pbPaused: whether the queue is paused. */
  int (*xPaused)(statevtab_table *pTasks, const statevtab_value *pQueue,
                 int *pbPaused);

  /* Wait until queue pQueue may have a runnable task or iTimeoutMs pass:
  ** *pbReady is 1 when one is runnable, 0 on timeout. */
  int (*xWait)(statevtab_table *pTasks, const statevtab_value *pQueue,
               sqlite3_int64 iTimeoutMs, int *pbReady);

  /* Version 2.  The wake-ups of a waiting state_lease (pTab a leases table,
  ** pKey a lease name: woken when that lease frees -- released, deleted or
  ** its expiry brought forward -- not when it merely expires) and of a
  ** waiting state_take (pTab a signals table, pKey an execution id: woken
  ** when an unconsumed signal of that execution appears), from this or any
  ** other process.  iWaitMs 0: start listening for the wake-ups of pKey and
  ** forget those already received, and return at once (the caller then
  ** tries, and sleeps if it must).  iWaitMs > 0: sleep until a wake-up of
  ** pKey received since that call, or iWaitMs pass; *pbWoken says which.
  ** Waking for nothing is allowed (the caller tries again), missing a
  ** wake-up is not.  The caller never sleeps more than 100 ms in one call
  ** (it looks for sqlite3_interrupt() in between) and never calls it inside
  ** an explicit transaction. */
  int (*xWake)(statevtab_table *pTab, const statevtab_value *pKey,
               sqlite3_int64 iWaitMs, int *pbWoken);

  /* Version 2.  The retain= option: remove up to nMax rows whose
  ** STATEVTAB_COL_RETAIN column is older than iRetainMs on the store's
  ** clock and, in an entity with a STATEVTAB_COL_STATE column, whose state
  ** is final (completed, failed, cancelled, dead); *pnDone: how many.  As
  ** bounded as nMax, through an index of that column. */
  int (*xPurge)(statevtab_table *pTab, sqlite3_int64 iRetainMs, int nMax,
                int *pnDone);

  /* Version 3.  Fire schedule pName of the state_schedules table pSched
  ** (same store, same namespace) into the tasks table pTasks, atomically:
  ** when the schedule exists, is enabled and its next_run still equals
  ** iExpect, set its last_run to iLast, its next_run to iNext (NULL when
  ** iNext < 0) and its updated_at to now, and insert the task aTask (one
  ** value per tasks column, as xInsert gets it); *pbFired 1.  Otherwise
  ** (another process fired it, or it changed) do nothing; *pbFired 0.
  ** NULL or absent: schedules never fire on that store. */
  int (*xFire)(statevtab_table *pTasks, statevtab_table *pSched,
               const statevtab_value *pName, sqlite3_int64 iExpect,
               sqlite3_int64 iLast, sqlite3_int64 iNext,
               const statevtab_value *aTask, int *pbFired);

  /* Version 3.  state_metrics: the figures of queue pQueue (NULL: of every
  ** queue that has tasks or is paused), one xRow call per queue, in any
  ** order; a queue given that has no tasks gets a row of zeros.  A read:
  ** cheap (counts from the store's indexes or its own counters, never a
  ** scan of the rows).  bHistory 0: aPerMinute may be left zero (nobody
  ** reads it). */
  int (*xMetrics)(statevtab_table *pTasks, const statevtab_value *pQueue,
                  int bHistory, statevtab_metrics_fn xRow, void *pCtx);

  /* Version 5.  For a cache of rows of pTab (the flags and segments that
  ** state_flag reads): *piGen, a number that changes whenever rows of
  ** pTab's kind in its namespace may have changed since the last call --
  ** a change announced by any process (Redis pub/sub, PostgreSQL
  ** LISTEN/NOTIFY, SQLite's data version), or announcements that may have
  ** been missed (listening began or began again) -- and *pbLive, 1 when
  ** changes are being announced (0: the caller must look again by itself,
  ** by time).  It never waits: it reads what has arrived.  The first call
  ** starts listening.  The caller calls it at most every few milliseconds.
  ** NULL or absent: never live. */
  int (*xChanged)(statevtab_table *pTab, sqlite3_uint64 *piGen, int *pbLive);
};

/*
** Version 2 is every method below (version 1, before 2026-12-03, had the
** queue primitives inline and is refused).  Required: everything up to
** xDelete except the transaction methods; the rest may be NULL.  The entity
** descriptors and their strings belong to the extension: a store must not
** keep pointers to them past xDetach.
*/
struct statevtab_store_methods {
  int iVersion;        /* 2 */
  const char *zScheme; /* URL scheme this store answers to: "sqlite" */

  /* Connect to zUrl.  On success *ppStore is a new store owned by the
  ** caller (freed with xClose).  On failure *pzErr may hold a message from
  ** sqlite3_malloc that the caller frees. */
  int (*xOpen)(const statevtab_open *pOpen, statevtab_store **ppStore,
               char **pzErr);
  /* Free the store and everything it owns, zErrMsg included. */
  void (*xClose)(statevtab_store *);

  /* Attach SQL table zName of schema zDb (the local store keeps its rows
  ** there; remote stores use azOpt, the table's options as key/value pairs,
  ** nOpt pairs, for prefix=/schema=; store= and dead_letters= are the
  ** virtual table's and are not passed).  bCreate: the table is being created,
  ** so create what it needs.  *ppTab is owned by the caller (xDetach).  An
  ** option the store does not know is an error naming it. */
  int (*xAttach)(statevtab_store *, const statevtab_entity *, const char *zDb,
                 const char *zName, int nOpt, const char *const *azOpt,
                 int bCreate, statevtab_table **ppTab);
  void (*xDetach)(statevtab_table *);
  /* DROP TABLE: remove what xAttach(bCreate) made. Remote stores keep the
  ** shared rows and return SQLITE_OK. */
  int (*xDrop)(statevtab_table *);
  /* ALTER TABLE ... RENAME TO zNew. */
  int (*xRename)(statevtab_table *, const char *zNew);

  /* Scans. */
  int (*xOpenCursor)(statevtab_table *, statevtab_cursor **);
  int (*xFilter)(statevtab_cursor *, const statevtab_scan *);
  int (*xNext)(statevtab_cursor *);
  int (*xEof)(statevtab_cursor *);
  int (*xColumn)(statevtab_cursor *, int iCol, statevtab_value *pOut);
  int (*xRowid)(statevtab_cursor *, sqlite3_int64 *);
  void (*xCloseCursor)(statevtab_cursor *);

  /* Writes.  aRow holds one value per entity column, already validated and
  ** defaulted by the caller.  *pbDone is set to 0 when IGNORE skipped it. */
  int (*xInsert)(statevtab_table *, const statevtab_value *aRow, int eConflict,
                 sqlite3_int64 *pRowid, int *pbDone);
  int (*xUpdate)(statevtab_table *, sqlite3_int64 iRowid,
                 const statevtab_value *aRow, int eConflict, int *pbDone);
  int (*xDelete)(statevtab_table *, sqlite3_int64 iRowid);

  /* Transactions of the SQLite connection, forwarded per table.  iSave is
  ** the savepoint level as SQLite numbers it.  Any may be NULL. */
  int (*xBegin)(statevtab_table *);
  int (*xSync)(statevtab_table *);
  int (*xCommit)(statevtab_table *);
  int (*xRollback)(statevtab_table *);
  int (*xSavepoint)(statevtab_table *, int iSave);
  int (*xRelease)(statevtab_table *, int iSave);
  int (*xRollbackTo)(statevtab_table *, int iSave);

  /* Describe the store for statevtab_debug() (sqlite3_malloc'd text). */
  char *(*xDescribe)(statevtab_store *);

  /* Optional fast path of xColumn: column iCol of the current row as an
  ** unprotected sqlite3_value, valid until the cursor moves, or NULL to
  ** use xColumn.  Stores that read rows with SQLite statements provide it. */
  sqlite3_value *(*xColumnValue)(statevtab_cursor *, int iCol);

  /* The queue primitives, or NULL for a store of rows only. */
  const statevtab_queue_methods *pQueue;
};

/* Step the one-row statement of the inline calls below and finalize it. */
static inline int statevtab__finish(sqlite3 *db, sqlite3_stmt *pStmt) {
#ifndef STATEVTAB_INTERNAL
  int rc = sqlite3_step(pStmt);
  rc =
      (rc == SQLITE_ROW || rc == SQLITE_DONE) ? SQLITE_OK : sqlite3_errcode(db);
  sqlite3_finalize(pStmt);
  return rc;
#else
  (void)db;
  (void)pStmt;
  return SQLITE_MISUSE;
#endif
}

/*
** Register a store with the statevtab extension loaded into db.  The methods
** table must outlive the connection.  Implemented in SQL so that it works
** whether the extension was linked in or loaded with load_extension():
** statevtab registers a function statevtab_register_store(P) that accepts a
** pointer bound with sqlite3_bind_pointer(..., "statevtab_store_methods").
*/
static inline int statevtab_register_store(sqlite3 *db,
                                           const statevtab_store_methods *p) {
#ifndef STATEVTAB_INTERNAL
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, "SELECT statevtab_register_store(?1)", -1,
                              &pStmt, 0);
  if (rc != SQLITE_OK) return rc;
  sqlite3_bind_pointer(pStmt, 1, (void *)p, "statevtab_store_methods", 0);
  return statevtab__finish(db, pStmt);
#else
  (void)db;
  (void)p;
  return SQLITE_MISUSE;
#endif
}

/*
** Set the stores every connection of this process may use (see README,
** Security): the nEntry entries of azEntry, each redis://host[:port],
** unix:/path, postgresql://host[:port], env:NAME or NAME: (a scheme).  With
** a list set, a table naming any other store fails without opening a
** socket or reading the variable.  azEntry NULL removes the list.  Call it
** after loading statevtab and before tables connect.  Implemented in SQL,
** like statevtab_register_store: statevtab_allow(ENTRY, ...) is a
** SQLITE_DIRECTONLY function, so no view, trigger or schema can call it.
*/
static inline int statevtab_allow(sqlite3 *db, const char *const *azEntry,
                                  int nEntry) {
#ifndef STATEVTAB_INTERNAL
  sqlite3_stmt *pStmt = 0;
  sqlite3_str *pSql = sqlite3_str_new(db);
  char *zSql;
  int i, rc;
  sqlite3_str_appendall(pSql, "SELECT statevtab_allow(");
  for (i = 0; azEntry && i < nEntry; i++) {
    sqlite3_str_appendall(pSql, i ? ",?" : "?");
  }
  sqlite3_str_appendall(pSql, azEntry ? ")" : "NULL)");
  zSql = sqlite3_str_finish(pSql);
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return rc;
  for (i = 0; azEntry && i < nEntry; i++) {
    sqlite3_bind_text(pStmt, i + 1, azEntry[i], -1, SQLITE_STATIC);
  }
  return statevtab__finish(db, pStmt);
#else
  (void)db;
  (void)azEntry;
  (void)nEntry;
  return SQLITE_MISUSE;
#endif
}

#ifdef __cplusplus
}
#endif
#endif /* STATEVTAB_H */
