/*
** 2026-12-03
**
** store_sqlite_util.c -- what both halves of the local store use: error
** messages, kept statements, binding and reading values, the trigger guard
** and the SQL of the writes that both make (the INSERT of a row, the
** lowering of a queue's T_reap due time).
**
** The local store is three files, and calls go one way:
**
**   store_sqlite.c         the store's methods table, tables, scans, row
**                          writes; installs the primitives of
**        |        \
**        |         store_sqlite_atomic.c   claim, complete, fail, lease ...
**        v        /
**   store_sqlite_util.c    (this file; calls neither)
*/
#include "store_sqlite.h"

#include <stdarg.h>

/* Replace the store's error message. */
void localError(LocalStore *p, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
}

/* Map an error of a shadow-table statement; keeps SQLite's message. */
int localDbError(LocalStore *p, sqlite3 *db, int rc) {
  if (rc == SQLITE_NOMEM) return rc;
  if ((rc & 0xff) == SQLITE_CONSTRAINT) {
    /* "UNIQUE constraint failed: t_data.queue, t_data.key": the user knows
    ** the columns, not the shadow table. */
    const char *z = sqlite3_errmsg(db);
    sqlite3_str *s = sqlite3_str_new(0);
    while (*z) {
      const char *zDot = strstr(z, "_data.");
      const char *zWord;
      if (!zDot) {
        sqlite3_str_appendall(s, z);
        break;
      }
      zWord = zDot;
      while (zWord > z && zWord[-1] != ' ') zWord--;
      sqlite3_str_append(s, z, (int)(zWord - z));
      z = zDot + 6;
    }
    sqlite3_free(p->base.zErrMsg);
    p->base.zErrMsg = sqlite3_str_finish(s);
    return SQLITE_CONSTRAINT;
  }
  if ((rc & 0xff) == SQLITE_BUSY && db == p->db &&
      !sqlite3_get_autocommit(db)) {
    /* A deferred BEGIN that read first cannot write once another
    ** connection has (SQLite fails at once, whatever the busy timeout). */
    localError(p,
               "%s (the transaction began with a deferred BEGIN: begin it "
               "with BEGIN IMMEDIATE to write in it)",
               sqlite3_errmsg(db));
    return rc;
  }
  localError(p, "%s", sqlite3_errmsg(db));
  return rc;
}

/* Prepare zSql (sqlite3_mprintf'd, freed here) to be kept. */
int localPrepareKept(LocalTable *t, char *zSql, sqlite3_stmt **ppStmt) {
  int rc;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v3(t->pStore->db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                          ppStmt, 0);
  sqlite3_free(zSql);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

/*
** Fail with SQLITE_ERROR, naming the trigger and the table, when schema
** zSchema of db, or db's temp schema, holds a trigger on a shadow table of
** t (T_data, T_queues, T_reap) or on pDead's T_data (when pDead is not NULL).
**
** Names are compared as SQLite resolves them: sqlite_schema.tbl_name keeps
** the name as the CREATE TRIGGER wrote it, dequoted and without a schema
** ("main".TASKS_DATA is stored as TASKS_DATA), and SQLite matches table
** names case-insensitively in ASCII, as COLLATE NOCASE does.  A TEMP trigger
** records no schema for its table, so one on a table of the same name in
** another attached database is refused too.
*/
static int checkTriggers(LocalTable *t, sqlite3 *db, const char *zSchema,
                         LocalTable *pDead) {
  sqlite3_stmt *pStmt = 0;
  char *zSql, *azName[5] = {0, 0, 0, 0, 0};
  int bTasks = t->bTasks, bNoMem = 0;
  int rc, i;
  azName[0] = sqlite3_mprintf("%s_data", t->zName);
  if (bTasks) azName[1] = sqlite3_mprintf("%s_queues", t->zName);
  if (pDead) azName[2] = sqlite3_mprintf("%s_data", pDead->zName);
  if (bTasks) azName[3] = sqlite3_mprintf("%s_reap", t->zName);
  if (bTasks) azName[4] = sqlite3_mprintf("%s_rates", t->zName);
  for (i = 0; i < 5; i++) {
    if (!azName[i] && (i == 0 || (i == 2 ? pDead != 0 : bTasks))) bNoMem = 1;
  }
  zSql = sqlite3_mprintf("SELECT name, tbl_name FROM \"%w\".sqlite_schema "
                         "WHERE type = 'trigger' AND tbl_name COLLATE NOCASE "
                         "IN (?1, ?2, ?3, ?4, ?5) "
                         "UNION ALL "
                         "SELECT name, tbl_name FROM temp.sqlite_schema "
                         "WHERE type = 'trigger' AND tbl_name COLLATE NOCASE "
                         "IN (?1, ?2, ?3, ?4, ?5)",
                         zSchema);
  if (!zSql || bNoMem) {
    rc = SQLITE_NOMEM;
    goto out;
  }
  rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if (rc != SQLITE_OK) {
    rc = localDbError(t->pStore, db, rc);
    goto out;
  }
  for (i = 0; i < 5; i++) {
    sqlite3_bind_text(pStmt, i + 1, azName[i], -1, SQLITE_STATIC);
  }
  if (sqlite3_step(pStmt) == SQLITE_ROW) {
    const char *zTable = (const char *)sqlite3_column_text(pStmt, 1);
    const char *zTrigger = (const char *)sqlite3_column_text(pStmt, 0);
    if (!zTable || !zTrigger) {
      rc = SQLITE_NOMEM;
      goto out;
    }
    /* The shadow table's name as statevtab spells it. */
    for (i = 0; i < 5; i++) {
      if (azName[i] && sqlite3_stricmp(azName[i], zTable) == 0) {
        zTable = azName[i];
        break;
      }
    }
    localError(t->pStore,
               "shadow table %s has a trigger statevtab did not create: %s",
               zTable, zTrigger);
    rc = SQLITE_ERROR;
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_reset(pStmt);
    if (rc != SQLITE_OK) rc = localDbError(t->pStore, db, rc);
  }
out:
  sqlite3_finalize(pStmt);
  sqlite3_free(zSql);
  for (i = 0; i < 5; i++) sqlite3_free(azName[i]);
  return rc;
}

/* Finalize the trigger guard's statements of t (before DROP, RENAME or
** detach). */
void localFinalizeGuard(LocalTable *t) {
  int i;
  for (i = 0; i < 2; i++) {
    sqlite3_finalize(t->apGuard[i]);
    sqlite3_free(t->azGuardDead[i]);
    t->apGuard[i] = 0;
    t->azGuardDead[i] = 0;
    t->abGuarded[i] = 0;
  }
}

/*
** Make sure that no trigger can run inside the store's statements on the
** shadow tables of t (and of pDead, the dead letters table a claim or a
** failure may write; NULL when none), which live in schema zSchema of
** connection db (iConn: 0 the caller's connection, 1 the private one).
** Called before the store writes, inside the transaction that will write.
** Returns SQLITE_OK, SQLITE_ERROR (message set: such a trigger exists),
** SQLITE_NOMEM, or the error of reading the schema.
**
** Cost: one step of a kept "PRAGMA schema_version"; sqlite_schema is read
** only when the answer changed since the last check.  Why this catches
** every trigger: a trigger created by any connection, in this process or
** another, changes the schema cookie of the schema that holds it -- for
** a non-TEMP trigger, the schema of its table, which is zSchema.  A TEMP
** trigger changes temp's cookie, not zSchema's; but a change to the temp
** schema expires every statement of the connection (SQLite's ticket
** #1644), so the kept PRAGMA is re-prepared on its next step and
** SQLITE_STMTSTATUS_REPREPARE counts it.  Both are read in the
** transaction that writes, so the schema cannot change between the check
** and the writes.
*/
int localGuard(LocalTable *t, int iConn, sqlite3 *db, const char *zSchema,
               LocalTable *pDead) {
  sqlite3_stmt *p = t->apGuard[iConn];
  int rc, iCookie = 0, nPrep;
  if (!p) {
    char *zSql = sqlite3_mprintf("PRAGMA \"%w\".schema_version", zSchema);
    if (!zSql) return SQLITE_NOMEM;
    rc = sqlite3_prepare_v3(db, zSql, -1, SQLITE_PREPARE_PERSISTENT,
                            &t->apGuard[iConn], 0);
    sqlite3_free(zSql);
    if (rc != SQLITE_OK) {
      t->apGuard[iConn] = 0;
      return localDbError(t->pStore, db, rc);
    }
    p = t->apGuard[iConn];
    t->abGuarded[iConn] = 0;
  }
  if (sqlite3_step(p) == SQLITE_ROW) iCookie = sqlite3_column_int(p, 0);
  rc = sqlite3_reset(p);
  if (rc != SQLITE_OK) return localDbError(t->pStore, db, rc);
  nPrep = sqlite3_stmt_status(p, SQLITE_STMTSTATUS_REPREPARE, 0);
  if (t->abGuarded[iConn] && iCookie == t->aiGuardCookie[iConn] &&
      nPrep == t->anGuardPrep[iConn] &&
      (!pDead || (t->azGuardDead[iConn] &&
                  strcmp(t->azGuardDead[iConn], pDead->zName) == 0))) {
    return SQLITE_OK;
  }
  t->abGuarded[iConn] = 0;
  sqlite3_free(t->azGuardDead[iConn]);
  t->azGuardDead[iConn] = 0;
  rc = checkTriggers(t, db, zSchema, pDead);
  if (rc != SQLITE_OK) return rc;
  if (pDead) {
    t->azGuardDead[iConn] = sqlite3_mprintf("%s", pDead->zName);
    if (!t->azGuardDead[iConn]) return SQLITE_NOMEM;
  }
  t->abGuarded[iConn] = 1;
  t->aiGuardCookie[iConn] = iCookie;
  t->anGuardPrep[iConn] = nPrep;
  return SQLITE_OK;
}

int localBind(sqlite3_stmt *pStmt, int i, const statevtab_value *v,
              void (*xDel)(void *)) {
  switch (v->eType) {
  case SQLITE_INTEGER:
    return sqlite3_bind_int64(pStmt, i, v->i);
  case SQLITE_FLOAT:
    return sqlite3_bind_double(pStmt, i, v->r);
  case SQLITE_TEXT:
    return sqlite3_bind_text(pStmt, i, v->z ? v->z : "", v->n, xDel);
  case SQLITE_BLOB: /* (a NULL pointer would bind NULL) */
    return sqlite3_bind_blob(pStmt, i, v->z ? v->z : "", v->n, xDel);
  default:
    return sqlite3_bind_null(pStmt, i);
  }
}

/*
** The INSERT of one row for conflict mode eConflict.  (No RETURNING: SQLite
** runs it as a trigger, which costs a statement journal per row; the rowid
** comes from sqlite3_last_insert_rowid() instead.)
** With ABORT, a row whose (scope, key) of the idempotency index is taken
** is dropped without error (ON CONFLICT ... DO NOTHING: that index only);
** a table made by an older version, whose UNIQUE(scope, key) constraint
** says ON CONFLICT IGNORE itself, matches the same clause.
*/
/* Append column iCol of T_data, "name" after zPrefix, or NULL where
** T_data lacks it (nDataCol). */
void localAppendCol(sqlite3_str *s, LocalTable *t, const char *zPrefix,
                    int iCol) {
  if (iCol >= t->nDataCol) {
    sqlite3_str_appendall(s, "NULL");
  } else {
    sqlite3_str_appendf(s, "%s\"%w\"", zPrefix,
                        t->base.pEntity->aCol[iCol].zName);
  }
}

/* A row to write into T_data: may it be written there?  Not with a value
** in a column T_data lacks (nDataCol). */
int localCheckCols(LocalTable *t, const statevtab_value *aRow) {
  const statevtab_entity *e = t->base.pEntity;
  int i;
  for (i = t->nDataCol; i < e->nCol; i++) {
    if (aRow[i].eType != SQLITE_NULL) {
      localError(
          t->pStore,
          "table %s was made by an older version of statevtab and has "
          "no column %s: copy it into a new table (README: The local store)",
          t->zName, e->aCol[i].zName);
      return SQLITE_ERROR;
    }
  }
  return SQLITE_OK;
}

char *localInsertSql(LocalTable *t, const char *zSchema, int eConflict) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_str *s = sqlite3_str_new(0);
  int i, iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  sqlite3_str_appendf(s, "INSERT %s INTO \"%w\".\"%w_data\"(",
                      eConflict == STATEVTAB_CONFLICT_ABORT    ? ""
                      : eConflict == STATEVTAB_CONFLICT_IGNORE ? "OR IGNORE"
                                                               : "OR REPLACE",
                      zSchema, t->zName);
  for (i = 0; i < t->nDataCol; i++) {
    sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", e->aCol[i].zName);
  }
  sqlite3_str_appendall(s, t->dd.bWindow ? ") SELECT " : ") VALUES(");
  for (i = 0; i < t->nDataCol; i++) {
    if (i == iVer) {
      sqlite3_str_appendf(s, "%scoalesce(?%d, 1)", i ? ", " : "", i + 1);
    } else {
      sqlite3_str_appendf(s, "%s?%d", i ? ", " : "", i + 1);
    }
  }
  if (t->dd.bWindow) {
    /* dedup= with a window: several rows may hold one key, and the row is
    ** let in unless one of them clashes with it (the caller holds the
    ** write lock: nothing comes between the look and the insert).  With
    ** REPLACE the clashing rows were deleted first (localInsert). */
    char *zWin = localDedupWhere(t);
    if (!zWin) {
      sqlite3_free(sqlite3_str_finish(s));
      return 0;
    }
    sqlite3_str_appendf(s,
                        " WHERE ?%d IS NULL OR NOT EXISTS (SELECT 1 FROM "
                        "\"%w\".\"%w_data\" WHERE queue = ?%d AND "
                        "idempotency_key = ?%d AND %s)",
                        SV_TASK_IDEMPOTENCY_KEY + 1, zSchema, t->zName,
                        SV_TASK_QUEUE + 1, SV_TASK_IDEMPOTENCY_KEY + 1, zWin);
    sqlite3_free(zWin);
    return sqlite3_str_finish(s);
  }
  sqlite3_str_appendall(s, ")");
  if (eConflict == STATEVTAB_CONFLICT_ABORT && e->iDedupe >= 0) {
    const char *zKey = e->aCol[e->iDedupe].zName;
    sqlite3_str_appendf(s,
                        " ON CONFLICT(\"%w\", \"%w\") WHERE \"%w\" IS NOT "
                        "NULL DO NOTHING",
                        e->aCol[e->iDedupeScope].zName, zKey, zKey);
  }
  return sqlite3_str_finish(s);
}

/*
** The condition of t's dedup= window over a stored task, the new task's
** state and created_at being the parameters of their columns (as bound by
** bindRow).  sqlite3_malloc'd; NULL on OOM.
*/
char *localDedupWhere(LocalTable *t) {
  char zState[16], zCreated[16];
  sqlite3_snprintf(sizeof(zState), zState, "?%d", SV_TASK_STATE + 1);
  sqlite3_snprintf(sizeof(zCreated), zCreated, "?%d", SV_TASK_CREATED_AT + 1);
  return sv_dedup_where(&t->dd, zState, zCreated);
}

/*
** The SQL that lowers queue ?1's due time in T_reap to ?2 (see reapDue in
** store_sqlite_atomic.c); a queue without a row there is looked at by its
** next claim anyway.
*/
char *localLowerSql(LocalTable *t, const char *zSchema) {
  return sqlite3_mprintf("UPDATE \"%w\".\"%w_reap\" SET due = ?2 WHERE "
                         "queue = ?1 AND due > ?2",
                         zSchema, t->zName);
}

/* Column i of a stepped statement as a statevtab_value (borrowed). */
int localReadValue(sqlite3_stmt *pStmt, int i, statevtab_value *pOut) {
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = sqlite3_column_type(pStmt, i);
  switch (pOut->eType) {
  case SQLITE_INTEGER:
    pOut->i = sqlite3_column_int64(pStmt, i);
    break;
  case SQLITE_FLOAT:
    pOut->r = sqlite3_column_double(pStmt, i);
    break;
  case SQLITE_TEXT:
    pOut->z = (const char *)sqlite3_column_text(pStmt, i);
    pOut->n = sqlite3_column_bytes(pStmt, i);
    if (!pOut->z) return SQLITE_NOMEM;
    break;
  case SQLITE_BLOB:
    pOut->z = (const char *)sqlite3_column_blob(pStmt, i);
    pOut->n = sqlite3_column_bytes(pStmt, i);
    break;
  default:
    break;
  }
  return SQLITE_OK;
}
