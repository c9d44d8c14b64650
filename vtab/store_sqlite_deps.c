/*
** 2026-12-03
**
** store_sqlite_deps.c -- dependencies (depends_on) of the local store's
** tasks.
**
**     INSERT INTO tasks(id, name) VALUES ('a', 'fetch');
**     INSERT INTO tasks(id, name, depends_on) VALUES ('b', 'build', '["a"]');
**     -- b is 'waiting' until a is completed, then 'pending'
**
** HOW IT WORKS
**
** T_deps(dep, task) holds one row per dependency of a waiting task that
** was not completed when the task was inserted; WITHOUT ROWID, keyed by
** (dep, task), with T_deps_task on task.  A tasks table made since
** 2026-12-03 gets it at CREATE (LocalTable.bDeps); an older table has no
** depends_on to act on.
**
** Insert (localDepsInsert, before the row is written): the dependencies'
** states decide the new task's: one missing is an error, one dead, failed
** or cancelled makes the task 'cancelled', one not completed 'waiting',
** else it stays 'pending'; after the row is written, localDepsLink drops
** any T_deps rows left by an earlier task of that id and adds those of the
** dependencies not completed.
**
** End of a task (localDepsSettle), in the transaction of the write that
** ends it -- state_complete, the completions of state_claim, state_fail and
** a lease expiry that kill it, an UPDATE of its state, a DELETE: completed,
** each task that waited for it becomes 'pending' when none of its T_deps
** rows names a task that is there and has not completed (completed_at
** NULL: a dependency that completed and was set back to pending by an
** UPDATE has completed, as on the other stores, whose rows went at its
** completion); otherwise each one
** still 'waiting' is cancelled, and the same is done for it in turn (a work
** list, not recursion).  Settling writes nothing to T_deps: a task's rows
** matter only while it waits, and stay until the task's row goes (DELETE:
** localDepsForget; retain=: localPurge) -- so that a completion, the hot
** path, costs no page of T_deps and of T_deps_task.  Settling a task again
** (an UPDATE of a completed task) finds its dependents no longer waiting:
** their UPDATEs change nothing.
**
** Statements are kept per connection like those of store_sqlite_atomic.c
** (0: the caller's, 1: the private connection of the atomic functions).
*/
#include "store_sqlite.h"

enum { SD_TAKE, SD_DROP, SD_READY, SD_CANCEL, SD_CHECK, SD_LINK, SD_COUNT };

struct LocalDeps {
  sqlite3_stmt *aStmt[2][SD_COUNT];
};

void localFinalizeDeps(LocalTable *t) {
  int i, j;
  if (!t->pDeps) return;
  for (i = 0; i < 2; i++) {
    for (j = 0; j < SD_COUNT; j++) sqlite3_finalize(t->pDeps->aStmt[i][j]);
  }
  sqlite3_free(t->pDeps);
  t->pDeps = 0;
}

/* The statement of slot e on connection iConn (db, where the tables are in
** schema zSchema), prepared the first time; NULL with *pRc on error. */
static sqlite3_stmt *depsStmt(LocalTable *t, int iConn, sqlite3 *db,
                              const char *zSchema, int e, int *pRc) {
  static const char *const azSql[SD_COUNT] = {
      /* SD_TAKE: a read, so that a task nobody waits for costs one probe
      ** (a DELETE ... RETURNING cost 20 times as much, found or not) */
      "SELECT task FROM \"%w\".\"%w_deps\" WHERE dep = ?1",
      /* SD_DROP: the rows of a task (as the one that waits) */
      "DELETE FROM \"%w\".\"%w_deps\" WHERE task = ?1",
      /* SD_READY */
      "UPDATE \"%w\".\"%w_data\" SET state = 'pending', updated_at = ?2 "
      "WHERE id = ?1 AND state = 'waiting' AND NOT EXISTS (SELECT 1 FROM "
      "\"%w\".\"%w_deps\" e JOIN \"%w\".\"%w_data\" d ON d.id = e.dep "
      "WHERE e.task = ?1 AND d.state <> 'completed' AND d.completed_at IS "
      "NULL)",
      /* SD_CANCEL */
      "UPDATE \"%w\".\"%w_data\" SET state = 'cancelled', error = ?3, "
      "completed_at = ?2, updated_at = ?2 WHERE id = ?1 AND state = 'waiting'",
      /* SD_CHECK */
      "SELECT j.value, d.state FROM json_each(?1) j LEFT JOIN "
      "\"%w\".\"%w_data\" d ON d.id = j.value ORDER BY j.key",
      /* SD_LINK */
      "INSERT OR IGNORE INTO \"%w\".\"%w_deps\"(dep, task) SELECT d.id, ?2 "
      "FROM json_each(?1) j JOIN \"%w\".\"%w_data\" d ON d.id = j.value "
      "WHERE d.state <> 'completed'"};
  sqlite3_stmt **pp;
  char *zSql;
  if (!t->pDeps) {
    t->pDeps = sqlite3_malloc64(sizeof(LocalDeps));
    if (!t->pDeps) {
      *pRc = SQLITE_NOMEM;
      return 0;
    }
    memset(t->pDeps, 0, sizeof(LocalDeps));
  }
  pp = &t->pDeps->aStmt[iConn][e];
  if (*pp) return *pp;
  zSql = sqlite3_mprintf(azSql[e], zSchema, t->zName, zSchema, t->zName,
                         zSchema, t->zName);
  *pRc = localPrepareOn(t->pStore, db, zSql, pp);
  return *pp;
}

static int depsReset(LocalTable *t, sqlite3 *db, sqlite3_stmt *p) {
  int rc = sqlite3_reset(p);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

int localDepsInsert(LocalTable *t, const statevtab_value *aRow,
                    statevtab_value *pState, statevtab_value *pError,
                    char **pzErr) {
  sqlite3 *db = t->pStore->db;
  const statevtab_value *pDeps = &aRow[SV_TASK_DEPENDS_ON];
  int rc = SQLITE_OK, rs, bWait = 0;
  sqlite3_stmt *p;
  *pzErr = 0;
  if (!t->bDeps) {
    localError(t->pStore,
               "depends_on: table %s was made by an older version "
               "of statevtab and keeps no dependencies (copy it "
               "into a new table)",
               t->zName);
    return SQLITE_ERROR;
  }
  p = depsStmt(t, 0, db, t->zDb, SD_CHECK, &rc);
  if (!p) return rc;
  localBind(p, 1, pDeps, SQLITE_STATIC);
  while ((rs = sqlite3_step(p)) == SQLITE_ROW) {
    const char *zDep = (const char *)sqlite3_column_text(p, 0);
    const char *zState = (const char *)sqlite3_column_text(p, 1);
    if (!zDep) {
      rs = SQLITE_NOMEM;
      break;
    }
    if (!zState) {
      localError(t->pStore, "depends_on: no task '%s'", zDep);
      rs = SQLITE_ERROR;
      break;
    }
    if (strcmp(zState, "completed") == 0) continue;
    if (strcmp(zState, "dead") == 0 || strcmp(zState, "failed") == 0 ||
        strcmp(zState, "cancelled") == 0) {
      /* The first one that ended badly decides. */
      if (!*pzErr) {
        *pzErr = sqlite3_mprintf("dependency '%s' %s", zDep,
                                 zState[0] == 'd'   ? SV_DEPS_WHY_DEAD
                                 : zState[0] == 'f' ? SV_DEPS_WHY_FAILED
                                                    : SV_DEPS_WHY_CANCELLED);
        if (!*pzErr) {
          rs = SQLITE_NOMEM;
          break;
        }
      }
      continue;
    }
    bWait = 1;
  }
  if (rs == SQLITE_ROW || rs == SQLITE_DONE) rs = SQLITE_OK;
  rc = depsReset(t, db, p);
  if (rs != SQLITE_OK) rc = rs;
  if (rc != SQLITE_OK) {
    sqlite3_free(*pzErr);
    *pzErr = 0;
    return rc;
  }
  memset(pState, 0, sizeof(*pState));
  pState->eType = SQLITE_TEXT;
  if (*pzErr) {
    pState->z = "cancelled";
    pError->eType = SQLITE_TEXT;
    pError->z = *pzErr;
    pError->n = (int)strlen(*pzErr);
  } else {
    pState->z = bWait ? "waiting" : "pending";
  }
  pState->n = (int)strlen(pState->z);
  return SQLITE_OK;
}

int localDepsForget(LocalTable *t, const statevtab_value *pId) {
  sqlite3 *db = t->pStore->db;
  int rc = SQLITE_OK;
  sqlite3_stmt *p;
  if (!t->bDeps) return SQLITE_OK;
  p = depsStmt(t, 0, db, t->zDb, SD_DROP, &rc);
  if (!p) return rc;
  localBind(p, 1, pId, SQLITE_STATIC);
  sqlite3_step(p);
  return depsReset(t, db, p);
}

int localDepsLink(LocalTable *t, const statevtab_value *aRow) {
  sqlite3 *db = t->pStore->db;
  int rc = localDepsForget(t, &aRow[SV_TASK_ID]);
  sqlite3_stmt *p;
  if (rc != SQLITE_OK) return rc;
  p = depsStmt(t, 0, db, t->zDb, SD_LINK, &rc);
  if (!p) return rc;
  localBind(p, 1, &aRow[SV_TASK_DEPENDS_ON], SQLITE_STATIC);
  localBind(p, 2, &aRow[SV_TASK_ID], SQLITE_STATIC);
  sqlite3_step(p);
  return depsReset(t, db, p);
}

/* A growing list of task ids (sqlite3_malloc'd copies). */
typedef struct DepsWork {
  char **az;
  int n, nAlloc;
} DepsWork;

static int workPush(DepsWork *w, const char *z, int n) {
  char *zCopy;
  if (w->n == w->nAlloc) {
    int nNew = w->nAlloc ? 2 * w->nAlloc : 8;
    char **azNew = sqlite3_realloc64(w->az, sizeof(char *) * (size_t)nNew);
    if (!azNew) return SQLITE_NOMEM;
    w->az = azNew;
    w->nAlloc = nNew;
  }
  zCopy = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if (!zCopy) return SQLITE_NOMEM;
  memcpy(zCopy, z, (size_t)n);
  zCopy[n] = 0;
  w->az[w->n++] = zCopy;
  return SQLITE_OK;
}

int localDepsSettle(LocalTable *t, int iConn, sqlite3 *db, const char *zSchema,
                    sqlite3_int64 now, const char *zId, int nId,
                    const char *zWhy) {
  DepsWork todo = {0, 0, 0}, woken = {0, 0, 0};
  int rc = SQLITE_OK, rs, i, iTodo = 0;
  sqlite3_stmt *pTake, *p;
  if (!t->bDeps) return SQLITE_OK;
  pTake = depsStmt(t, iConn, db, zSchema, SD_TAKE, &rc);
  if (!pTake) return rc;
  rc = workPush(&todo, zId, nId);
  /* todo.az[iTodo..]: tasks ended and not yet settled; all but the first
  ** were cancelled here, for the one before. */
  while (rc == SQLITE_OK && iTodo < todo.n) {
    const char *zDone = todo.az[iTodo];
    const char *zReason = iTodo ? SV_DEPS_WHY_CANCELLED : zWhy;
    char *zError = 0;
    iTodo++;
    sqlite3_bind_text(pTake, 1, zDone, -1, SQLITE_STATIC);
    for (i = 0; i < woken.n; i++) sqlite3_free(woken.az[i]);
    woken.n = 0;
    while ((rs = sqlite3_step(pTake)) == SQLITE_ROW) {
      const char *z = (const char *)sqlite3_column_text(pTake, 0);
      if (!z) {
        rs = SQLITE_NOMEM;
        break;
      }
      rs = workPush(&woken, z, sqlite3_column_bytes(pTake, 0));
      if (rs != SQLITE_OK) break;
    }
    if (rs == SQLITE_DONE) rs = SQLITE_OK;
    rc = depsReset(t, db, pTake);
    if (rs != SQLITE_OK) rc = rs;
    if (rc != SQLITE_OK || woken.n == 0) continue;
    p = depsStmt(t, iConn, db, zSchema, zReason ? SD_CANCEL : SD_READY, &rc);
    if (p && zReason) {
      zError = sqlite3_mprintf("dependency '%s' %s", zDone, zReason);
      if (!zError) rc = SQLITE_NOMEM;
    }
    for (i = 0; p && rc == SQLITE_OK && i < woken.n; i++) {
      sqlite3_bind_text(p, 1, woken.az[i], -1, SQLITE_STATIC);
      sqlite3_bind_int64(p, 2, now);
      if (zError) sqlite3_bind_text(p, 3, zError, -1, SQLITE_STATIC);
      sqlite3_step(p);
      rc = depsReset(t, db, p);
      if (rc == SQLITE_OK && zReason && sqlite3_changes(db) > 0) {
        rc = workPush(&todo, woken.az[i], (int)strlen(woken.az[i]));
      }
    }
    sqlite3_free(zError);
  }
  for (i = 0; i < woken.n; i++) sqlite3_free(woken.az[i]);
  for (i = 0; i < todo.n; i++) sqlite3_free(todo.az[i]);
  sqlite3_free(woken.az);
  sqlite3_free(todo.az);
  return rc;
}
