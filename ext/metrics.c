/*
** 2026-12-03
**
** metrics.c -- state_metrics, the table-valued function of queue metrics.
**
**   SELECT * FROM state_metrics('tasks');            -- one row per queue
**   SELECT pending, oldest_pending_ms FROM state_metrics('tasks', 'email');
**
** HOW IT WORKS
**
** An eponymous-only virtual table whose hidden columns are the arguments
** (tasks, queue).  xFilter checks them and calls the store's xMetrics once
** (sv_table_metrics): one statevtab_metrics per queue, copied into the
** cursor and sorted by queue (bytes, as memcmp).  The completion history
** (completed_last_minute, completed_per_minute) is asked of the store only
** when the statement reads one of those columns (colUsed): on the local
** store and PostgreSQL it reads the completed_at of the last hour's
** completions, the rest comes from counts alone.
**
** idxNum: bit 0 tasks given, bit 1 queue given, bit 2 the history is read.
**
** No temp table as state_claim has (see claim.c): a read takes no write
** transaction on a private connection, so holding a read mark on main
** while the statement runs costs nothing.
*/
#include "svext.h"

#include <stdlib.h>

static const char zF[] = "state_metrics";

/* The visible columns, in order (then _tasks and _queue, hidden). */
enum {
  MC_QUEUE,
  MC_PENDING,
  MC_SCHEDULED,
  MC_WAITING,
  MC_CLAIMED,
  MC_EXPIRED,
  MC_COMPLETED,
  MC_FAILED,
  MC_DEAD,
  MC_CANCELLED,
  MC_OLDEST,
  MC_LAST_MINUTE,
  MC_PAUSED,
  MC_PER_MINUTE,
  MC_NCOL
};

typedef struct MetricsRow {
  statevtab_metrics m; /* m.queue.z points past the struct */
} MetricsRow;

typedef sv_tvf_cursor MetricsCursor; /* rows: MetricsRow */

typedef struct MetricsVtab {
  sqlite3_vtab base; /* must be first */
  sv_conn *pConn;
} MetricsVtab;

static int metricsConnect(sqlite3 *db, void *pAux, int argc,
                          const char *const *argv, sqlite3_vtab **ppVtab,
                          char **pzErr) {
  MetricsVtab *p;
  int rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  rc = sqlite3_declare_vtab(
      db,
      "CREATE TABLE x(queue, pending, scheduled, waiting, claimed, expired, "
      "completed, failed, dead, cancelled, oldest_pending_ms, "
      "completed_last_minute, paused, completed_per_minute, "
      "_tasks HIDDEN, _queue HIDDEN)");
  if (rc != SQLITE_OK) return rc;
  /* It reads state, and may connect a table (and reach its server): from a
  ** view (a dashboard) only when the schema is trusted, as the tables (see
  ** vtab.c); SQLite refuses it there with trusted_schema=OFF. */
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pConn = (sv_conn *)pAux;
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int metricsDisconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int metricsBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  int mask, rc = sv_tvf_args(pInfo, MC_NCOL, 2, &mask);
  (void)pVtab;
  if (rc != SQLITE_OK) return rc;
  if (pInfo->colUsed & (((sqlite3_uint64)1 << MC_LAST_MINUTE) |
                        ((sqlite3_uint64)1 << MC_PER_MINUTE))) {
    mask |= 4;
  }
  pInfo->idxNum = mask;
  pInfo->estimatedCost = 10.0;
  pInfo->estimatedRows = (mask & 2) ? 1 : 10;
  return SQLITE_OK;
}

/* xRow of xMetrics: copy *m (and its queue's bytes) into a new row. */
static int onQueue(void *pCtx, const statevtab_metrics *m) {
  MetricsCursor *c = (MetricsCursor *)pCtx;
  MetricsRow *r;
  int n = m->queue.eType == SQLITE_NULL ? 0 : m->queue.n;
  r = sqlite3_malloc64(sizeof(MetricsRow) + (sqlite3_uint64)n + 1);
  if (!r) return 1;
  r->m = *m;
  r->m.queue.eType = SQLITE_TEXT;
  r->m.queue.z = (const char *)&r[1];
  r->m.queue.n = n;
  if (n) memcpy((char *)&r[1], m->queue.z, (size_t)n);
  ((char *)&r[1])[n] = 0;
  if (sv_tvf_push(c, r) != SQLITE_OK) return 1;
  return 0;
}

static int rowCmp(const void *a, const void *b) {
  const statevtab_value *x = &((const MetricsRow *)*(void *const *)a)->m.queue;
  const statevtab_value *y = &((const MetricsRow *)*(void *const *)b)->m.queue;
  int n = x->n < y->n ? x->n : y->n;
  int c = n ? memcmp(x->z, y->z, (size_t)n) : 0;
  return c ? c : (x->n > y->n) - (x->n < y->n);
}

static int metricsFilter(sqlite3_vtab_cursor *cur, int idxNum,
                         const char *idxStr, int argc, sqlite3_value **argv) {
  MetricsCursor *c = (MetricsCursor *)cur;
  MetricsVtab *pVtab = (MetricsVtab *)cur->pVtab;
  sqlite3_value *pTasks = 0, *pQueue = 0;
  statevtab_value queue;
  sv_vtab *p = 0;
  char *zErr = 0;
  int rc, i = 0;
  int iMark = pVtab->pConn->nHeld; /* tables found below: held until done */
  (void)idxStr;

  sv_tvf_reset(c);
  if ((idxNum & 1) && i < argc) pTasks = argv[i++];
  if ((idxNum & 2) && i < argc) pQueue = argv[i++];
  if (!pTasks) {
    zErr = sqlite3_mprintf("%s: expects (tasks [, queue])", zF);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = sv_arg_table(pVtab->pConn, zF, pTasks, "state_tasks", &p, &zErr);
  if (rc != SQLITE_OK) goto done;
  if (pQueue) {
    /* As the other functions take a queue: text, a number as its text. */
    int t = sqlite3_value_type(pQueue);
    if (t == SQLITE_NULL || t == SQLITE_BLOB) {
      zErr = sqlite3_mprintf("%s: queue must be text (got %s)", zF,
                             t == SQLITE_NULL ? "NULL" : "BLOB");
      rc = SQLITE_ERROR;
      goto done;
    }
    memset(&queue, 0, sizeof(queue));
    queue.eType = SQLITE_TEXT;
    queue.z = (const char *)sqlite3_value_text(pQueue);
    queue.n = sqlite3_value_bytes(pQueue);
    if (!queue.z) {
      rc = SQLITE_NOMEM;
      goto done;
    }
  }
  rc = sv_table_metrics(p, pQueue ? &queue : 0, (idxNum & 4) != 0, onQueue, c);
  if (rc != SQLITE_OK) {
    char *z = sv_table_error(p, rc);
    if (rc != SQLITE_NOMEM) {
      zErr = z ? sqlite3_mprintf("%s: %s", zF, z) : 0;
    }
    sqlite3_free(z);
    goto done;
  }
  if (c->nRow > 1) {
    qsort(c->apRow, (size_t)c->nRow, sizeof(void *), rowCmp);
  }

done:
  sv_conn_release(pVtab->pConn, iMark);
  if (rc != SQLITE_OK) {
    sv_tvf_reset(c);
    if (zErr) {
      sqlite3_free(cur->pVtab->zErrMsg);
      cur->pVtab->zErrMsg = zErr;
      zErr = 0;
    }
  }
  sqlite3_free(zErr);
  return rc;
}

/* completed_per_minute: a JSON array of the 60 counts, oldest first. */
static void perMinute(sqlite3_context *ctx, const statevtab_metrics *m) {
  sqlite3_str *s = sqlite3_str_new(0);
  char *z;
  int k;
  for (k = 0; k < 60; k++) {
    sqlite3_str_appendf(s, "%c%lld", k ? ',' : '[', m->aPerMinute[k]);
  }
  sqlite3_str_appendchar(s, 1, ']');
  z = sqlite3_str_finish(s);
  if (!z) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, z, -1, sqlite3_free);
}

static int metricsColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx,
                         int i) {
  MetricsCursor *c = (MetricsCursor *)cur;
  const statevtab_metrics *m = &((MetricsRow *)c->apRow[c->iRow])->m;
  switch (i) {
  case MC_QUEUE:
    sqlite3_result_text(ctx, m->queue.z, m->queue.n, SQLITE_TRANSIENT);
    break;
  case MC_PENDING:
    sqlite3_result_int64(ctx, m->nPending);
    break;
  case MC_SCHEDULED:
    sqlite3_result_int64(ctx, m->nScheduled);
    break;
  case MC_WAITING:
    sqlite3_result_int64(ctx, m->nWaiting);
    break;
  case MC_CLAIMED:
    sqlite3_result_int64(ctx, m->nClaimed);
    break;
  case MC_EXPIRED:
    sqlite3_result_int64(ctx, m->nExpired);
    break;
  case MC_COMPLETED:
    sqlite3_result_int64(ctx, m->nCompleted);
    break;
  case MC_FAILED:
    sqlite3_result_int64(ctx, m->nFailed);
    break;
  case MC_DEAD:
    sqlite3_result_int64(ctx, m->nDead);
    break;
  case MC_CANCELLED:
    sqlite3_result_int64(ctx, m->nCancelled);
    break;
  case MC_OLDEST:
    if (m->iOldestPendingMs >= 0) {
      sqlite3_result_int64(ctx, m->iOldestPendingMs);
    }
    break;
  case MC_LAST_MINUTE:
    sqlite3_result_int64(ctx, m->aPerMinute[59]);
    break;
  case MC_PAUSED:
    sqlite3_result_int(ctx, m->bPaused);
    break;
  case MC_PER_MINUTE:
    perMinute(ctx, m);
    break;
  default: /* the hidden arguments: not kept */
    break;
  }
  return SQLITE_OK;
}

const sqlite3_module sv_metrics_module = {
    /* iVersion    */ 0,
    /* xCreate     */ 0, /* eponymous only */
    /* xConnect    */ metricsConnect,
    /* xBestIndex  */ metricsBestIndex,
    /* xDisconnect */ metricsDisconnect,
    /* xDestroy    */ metricsDisconnect,
    /* xOpen       */ sv_tvf_open,
    /* xClose      */ sv_tvf_close,
    /* xFilter     */ metricsFilter,
    /* xNext       */ sv_tvf_next,
    /* xEof        */ sv_tvf_eof,
    /* xColumn     */ metricsColumn,
    /* xRowid      */ sv_tvf_rowid,
    /* xUpdate     */ 0,
    /* xBegin      */ 0,
    /* xSync       */ 0,
    /* xCommit     */ 0,
    /* xRollback   */ 0,
    /* xFindMethod */ 0,
    /* xRename     */ 0,
    /* xSavepoint  */ 0,
    /* xRelease    */ 0,
    /* xRollbackTo */ 0,
    /* xShadowName */ 0,
};
