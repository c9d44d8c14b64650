/*
** 2026-12-03
**
** store_sqlite_metrics.c -- state_metrics on the local store (xMetrics).
**
** HOW IT WORKS
**
** Plain reads on the caller's connection (no transaction of our own, no
** private connection: nothing is written), in the caller's snapshot:
**
**   1. the counts: SELECT queue, state, count(*), ... GROUP BY queue, state,
**      index-only on T_data_queue (queue, state, [partition_key,] priority,
**      run_at, id): the
**      pending tasks' run_at is in the index too, so the due/scheduled
**      split and the oldest due run_at come from it as well;
**   2. the paused queues, from T_queues;
**   3. per queue with claimed tasks, the expired leases: the claimed
**      entries of T_data_queue, each with its row (lease_expires_at is not
**      in the index) -- as many as tasks are in flight;
**   4. only when the history is read, per queue with completed tasks, the
**      completions of the last hour by minute: through T_data_completed_at
**      when the table has it (indexes='completed_at', or retain=), the last
**      hour's completions; otherwise the completed entries of
**      T_data_queue, each with its row (every completed task the table
**      keeps).  (Checked with EXPLAIN QUERY PLAN; see the README.)
*/
#include "store_sqlite.h"

typedef struct MetricsAcc {
  statevtab_metrics *a; /* queue.z: sqlite3_malloc'd copies */
  int n, nAlloc;
} MetricsAcc;

static void accFree(MetricsAcc *p) {
  int i;
  for (i = 0; i < p->n; i++) sqlite3_free((char *)p->a[i].queue.z);
  sqlite3_free(p->a);
}

/* The entry of queue z[0..n) (made, zeroed, when bAdd and absent). */
static statevtab_metrics *accGet(MetricsAcc *p, const char *z, int n, int bAdd,
                                 int *pRc) {
  statevtab_metrics *m;
  char *zCopy;
  int i;
  for (i = p->n - 1; i >= 0; i--) {
    m = &p->a[i];
    if (m->queue.n == n && (n == 0 || memcmp(m->queue.z, z, (size_t)n) == 0)) {
      return m;
    }
  }
  if (!bAdd) return 0;
  if (p->n >= p->nAlloc) {
    int nNew = p->nAlloc ? p->nAlloc * 2 : 8;
    statevtab_metrics *a =
        sqlite3_realloc64(p->a, sizeof(statevtab_metrics) * (size_t)nNew);
    if (!a) {
      *pRc = SQLITE_NOMEM;
      return 0;
    }
    p->a = a;
    p->nAlloc = nNew;
  }
  zCopy = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if (!zCopy) {
    *pRc = SQLITE_NOMEM;
    return 0;
  }
  if (n) memcpy(zCopy, z, (size_t)n);
  zCopy[n] = 0;
  m = &p->a[p->n++];
  memset(m, 0, sizeof(*m));
  m->queue.eType = SQLITE_TEXT;
  m->queue.z = zCopy;
  m->queue.n = n;
  m->iOldestPendingMs = -1;
  return m;
}

/* Prepare zSql (sqlite3_mprintf'd, freed here) on db. */
static int prep(LocalTable *t, char *zSql, sqlite3_stmt **pp) {
  sqlite3 *db = t->pStore->db;
  int rc;
  *pp = 0;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, pp, 0);
  sqlite3_free(zSql);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

/* Finish a statement stepped to its end (rs: the last step's code). */
static int done(LocalTable *t, sqlite3_stmt *p, int rs) {
  int rc = sqlite3_finalize(p);
  if (rs != SQLITE_DONE && rs != SQLITE_ROW && rc == SQLITE_OK) rc = rs;
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

int localMetrics(statevtab_table *pTab, const statevtab_value *pQueue,
                 int bHistory, statevtab_metrics_fn xRow, void *pCtx) {
  LocalTable *t = (LocalTable *)pTab;
  const char *zDb = t->zDb, *zName = t->zName;
  const char *zWhere = pQueue ? " WHERE queue = ?2" : "";
  sqlite3_int64 now = sv_now_ms();
  MetricsAcc acc;
  sqlite3_stmt *p = 0;
  int rc, rs, i;
  memset(&acc, 0, sizeof(acc));

  /* 1. The counts, index-only. */
  rc = prep(t,
            sqlite3_mprintf("SELECT queue, state, count(*), "
                            "sum(run_at <= ?1), "
                            "min(CASE WHEN run_at <= ?1 THEN run_at END) "
                            "FROM \"%w\".\"%w_data\"%s GROUP BY queue, state",
                            zDb, zName, zWhere),
            &p);
  if (rc != SQLITE_OK) goto out;
  sqlite3_bind_int64(p, 1, now);
  if (pQueue) localBind(p, 2, pQueue, SQLITE_STATIC);
  while ((rs = sqlite3_step(p)) == SQLITE_ROW) {
    const char *zQ = (const char *)sqlite3_column_text(p, 0);
    const char *zState = (const char *)sqlite3_column_text(p, 1);
    sqlite3_int64 n = sqlite3_column_int64(p, 2);
    statevtab_metrics *m;
    if (!zQ || !zState) continue; /* (NOT NULL columns) */
    m = accGet(&acc, zQ, sqlite3_column_bytes(p, 0), 1, &rc);
    if (!m) break;
    if (strcmp(zState, "pending") == 0) {
      sqlite3_int64 nDue = sqlite3_column_int64(p, 3);
      m->nPending = nDue;
      m->nScheduled = n - nDue;
      if (sqlite3_column_type(p, 4) != SQLITE_NULL) {
        sqlite3_int64 iRunAt = sqlite3_column_int64(p, 4);
        /* (A run_at before the epoch only from a corrupted shadow row:
        ** read as 0, so that the subtraction cannot overflow.) */
        m->iOldestPendingMs = now - (iRunAt < 0 ? 0 : iRunAt);
        if (m->iOldestPendingMs < 0) m->iOldestPendingMs = 0;
      }
    } else if (strcmp(zState, "claimed") == 0) {
      m->nClaimed = n;
    } else if (strcmp(zState, "completed") == 0) {
      m->nCompleted = n;
    } else if (strcmp(zState, "failed") == 0) {
      m->nFailed = n;
    } else if (strcmp(zState, "dead") == 0) {
      m->nDead = n;
    } else if (strcmp(zState, "cancelled") == 0) {
      m->nCancelled = n;
    } else if (strcmp(zState, "waiting") == 0) {
      m->nWaiting = n;
    }
  }
  rc = rc != SQLITE_OK ? (sqlite3_finalize(p), rc) : done(t, p, rs);
  if (rc != SQLITE_OK) goto out;

  /* 2. The paused queues (a paused queue without tasks has a row too). */
  rc = prep(t,
            sqlite3_mprintf("SELECT queue FROM \"%w\".\"%w_queues\"%s", zDb,
                            zName, zWhere),
            &p);
  if (rc != SQLITE_OK) goto out;
  if (pQueue) localBind(p, 2, pQueue, SQLITE_STATIC);
  while ((rs = sqlite3_step(p)) == SQLITE_ROW) {
    const char *zQ = (const char *)sqlite3_column_text(p, 0);
    statevtab_metrics *m;
    if (!zQ) continue;
    m = accGet(&acc, zQ, sqlite3_column_bytes(p, 0), 1, &rc);
    if (!m) break;
    m->bPaused = 1;
  }
  rc = rc != SQLITE_OK ? (sqlite3_finalize(p), rc) : done(t, p, rs);
  if (rc != SQLITE_OK) goto out;
  if (pQueue && acc.n == 0 && !accGet(&acc, pQueue->z, pQueue->n, 1, &rc)) {
    goto out;
  }

  /* 3. Expired leases, per queue with claimed tasks. */
  rc = prep(t,
            sqlite3_mprintf("SELECT count(*) FROM \"%w\".\"%w_data\" WHERE "
                            "queue = ?2 AND state = 'claimed' AND "
                            "lease_expires_at <= ?1",
                            zDb, zName),
            &p);
  if (rc != SQLITE_OK) goto out;
  for (i = 0; rc == SQLITE_OK && i < acc.n; i++) {
    if (acc.a[i].nClaimed == 0) continue;
    sqlite3_bind_int64(p, 1, now);
    localBind(p, 2, &acc.a[i].queue, SQLITE_STATIC);
    if (sqlite3_step(p) == SQLITE_ROW) {
      acc.a[i].nExpired = sqlite3_column_int64(p, 0);
    }
    rc = sqlite3_reset(p);
  }
  rc = rc != SQLITE_OK
           ? (sqlite3_finalize(p), localDbError(t->pStore, t->pStore->db, rc))
           : done(t, p, SQLITE_DONE);
  if (rc != SQLITE_OK) goto out;

  /* 4. The completions of the last hour, by minute: through the index of
  ** completed_at when there is one ('+': not the (queue, state) index,
  ** which SQLite prefers without statistics), else the queue's completed
  ** tasks. */
  if (bHistory) {
    int bIdx = 0;
    rc = prep(t,
              sqlite3_mprintf("SELECT 1 FROM pragma_index_list('%q_data', "
                              "'%q') l, pragma_index_info(l.name, '%q') i "
                              "WHERE i.seqno = 0 AND i.name = "
                              "'completed_at'",
                              zName, zDb, zDb),
              &p);
    if (rc != SQLITE_OK) goto out;
    rs = sqlite3_step(p);
    bIdx = rs == SQLITE_ROW;
    rc = done(t, p, rs);
    if (rc != SQLITE_OK) goto out;
    rc = prep(t,
              sqlite3_mprintf("SELECT max(0, (?1 - completed_at) / 60000), "
                              "count(*) FROM \"%w\".\"%w_data\" WHERE "
                              "%squeue = ?2 AND %sstate = 'completed' AND "
                              "completed_at > ?1 - 3600000 GROUP BY 1",
                              zDb, zName, bIdx ? "+" : "", bIdx ? "+" : ""),
              &p);
    if (rc != SQLITE_OK) goto out;
    for (i = 0; rc == SQLITE_OK && i < acc.n; i++) {
      if (acc.a[i].nCompleted == 0) continue;
      sqlite3_bind_int64(p, 1, now);
      localBind(p, 2, &acc.a[i].queue, SQLITE_STATIC);
      while (sqlite3_step(p) == SQLITE_ROW) {
        sqlite3_int64 k = sqlite3_column_int64(p, 0);
        if (k >= 0 && k < 60) {
          acc.a[i].aPerMinute[59 - k] += sqlite3_column_int64(p, 1);
        }
      }
      rc = sqlite3_reset(p);
    }
    rc = rc != SQLITE_OK
             ? (sqlite3_finalize(p), localDbError(t->pStore, t->pStore->db, rc))
             : done(t, p, SQLITE_DONE);
    if (rc != SQLITE_OK) goto out;
  }

  for (i = 0; i < acc.n; i++) {
    if (xRow(pCtx, &acc.a[i])) {
      rc = SQLITE_NOMEM;
      break;
    }
  }
out:
  accFree(&acc);
  return rc;
}
