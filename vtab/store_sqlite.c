/*
** 2026-11-22
**
** store_sqlite.c -- the local store: rows in shadow tables of the same
** database, so they commit and roll back with the user's own transaction.
**
**   CREATE VIRTUAL TABLE tasks USING state_tasks();   -- or store='sqlite:'
**
** HOW IT WORKS
**
** Table T of schema S keeps its rows in S."T_data", an ordinary rowid table
** with one column per entity column, a UNIQUE constraint on the key and one
** index "T_data_<col>" per indexed column.  The shadow table's rowid is the
** row handle of the store interface.  Statements are prepared once per table
** (SQLITE_PREPARE_PERSISTENT) and kept: the writes per conflict mode, and the
** scans per plan shape (statevtab_scan.zPlan), so a plan used again is only
** re-bound.  Conflict modes map onto SQLite's own INSERT OR IGNORE/REPLACE.
**
** The primitives (claim, complete, ...) are in store_sqlite_atomic.c and
** what both use is in store_sqlite_util.c; see the drawing there.
**
** Triggers: the store creates none, and it refuses to write shadow tables
** that carry one (localGuard).  A trigger would run inside the store's own
** statements -- inside a claim, say -- and a database file is data, not
** authority: it may come from someone else, and its triggers run whatever
** DEFENSIVE and trusted_schema say.
*/
#include "store_sqlite.h"

/*
** Is zSuffix the suffix of one of the local store's shadow tables, as in
** "T_<suffix>" (the virtual table's xShadowName)?  T_data, and for tasks
** T_queues, T_reap, T_rates (made by the first claim with rates), T_deps
** (dependencies, store_sqlite_deps.c) and T_fair (made by the first write of
** a task with a partition_key).
*/
static const char *const azShadow[] = {"data",  "queues", "reap",
                                       "rates", "deps",   "fair"};
#define SV_NSHADOW (int)(sizeof(azShadow) / sizeof(azShadow[0]))

int sv_local_shadow_name(const char *zSuffix) {
  int i;
  for (i = 0; i < SV_NSHADOW; i++) {
    if (sqlite3_stricmp(zSuffix, azShadow[i]) == 0) return 1;
  }
  return 0;
}

static int localOpen(const statevtab_open *pOpen, statevtab_store **ppStore,
                     char **pzErr) {
  LocalStore *p;
  const char *zRest = pOpen->zUrl;
  if (sqlite3_strnicmp(zRest, "sqlite:", 7) == 0)
    zRest += 7;
  else if (sqlite3_stricmp(zRest, "sqlite") == 0)
    zRest += 6;
  if (zRest[0]) {
    *pzErr = sqlite3_mprintf(
        "malformed store URL '%s' (the local store takes no path: its rows "
        "live in the table's own database)",
        pOpen->zSafeUrl);
    return SQLITE_ERROR;
  }
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->base.pMethods = &sv_sqlite_store;
  p->base.fCaps = STATEVTAB_CAP_ORDER;
  p->db = pOpen->db;
  *ppStore = &p->base;
  return SQLITE_OK;
}

static void localClose(statevtab_store *pStore) {
  localClosePrivate((LocalStore *)pStore);
  sqlite3_free(pStore->zErrMsg);
  sqlite3_free(pStore);
}

static const char *colType(const statevtab_column *c) {
  switch (c->eType) {
  case STATEVTAB_INT:
  case STATEVTAB_BOOL:
    return "INTEGER";
  case STATEVTAB_NUM:
    return "NUMERIC";
  case STATEVTAB_ANY:
    return ""; /* no affinity: every value is kept as it is */
  default:
    return "TEXT";
  }
}

/* Run zSql (from sqlite3_mprintf, freed here). */
static int localExec(LocalStore *p, char *zSql) {
  int rc;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_exec(p->db, zSql, 0, 0, 0);
  sqlite3_free(zSql);
  return rc == SQLITE_OK ? rc : localDbError(p, p->db, rc);
}

/*
** Name the index of column zCol of table zName: "<zName>_data_<zCol>" (or
** of shadow table T_<zShadow> when zShadow is not NULL), or
** with a "_<n>" suffix when that name is taken.  Indexes keep their names
** across ALTER TABLE RENAME (an index cannot be renamed, nor dropped while
** the ALTER statement runs), so a new table may find its natural name held
** by the renamed table's index.  *pzIdx is from sqlite3_malloc.
*/
static int indexName(LocalTable *t, const char *zName, const char *zShadow,
                     const char *zCol, char **pzIdx) {
  sqlite3_stmt *pStmt = 0;
  char *zSql, *zIdx = 0;
  int rc, n;
  zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema WHERE name = ?1",
                         t->zDb);
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(t->pStore->db, zSql, -1, &pStmt, 0);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return localDbError(t->pStore, t->pStore->db, rc);
  for (n = 1; rc == SQLITE_OK; n++) {
    sqlite3_free(zIdx);
    if (!zShadow) zShadow = "data";
    zIdx = n == 1 ? sqlite3_mprintf("%s_%s_%s", zName, zShadow, zCol)
                  : sqlite3_mprintf("%s_%s_%s_%d", zName, zShadow, zCol, n);
    if (!zIdx) {
      rc = SQLITE_NOMEM;
      break;
    }
    sqlite3_bind_text(pStmt, 1, zIdx, -1, SQLITE_STATIC);
    if (sqlite3_step(pStmt) != SQLITE_ROW) {
      rc = sqlite3_reset(pStmt);
      break;
    }
    sqlite3_reset(pStmt);
  }
  sqlite3_finalize(pStmt);
  if (rc != SQLITE_OK) {
    sqlite3_free(zIdx);
    return rc == SQLITE_NOMEM ? rc : localDbError(t->pStore, t->pStore->db, rc);
  }
  *pzIdx = zIdx;
  return SQLITE_OK;
}

/*
** Create the indexes of the shadow table (see "Indexes" in the header):
** one per indexed column, except those marked STATEVTAB_COL_OPTIDX that
** mAsked (indexes=, sv_index_list) does not name, plus one per column it
** names; an
** index of a column that may be NULL leaves the NULLs out (WHERE col IS
** NOT NULL), so a column that is unset costs no index write.
*/
static int createIndexes(LocalTable *t, sqlite3_uint64 mAsked) {
  const statevtab_entity *e = t->base.pEntity;
  int i, rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && i < e->nCol; i++) {
    const statevtab_column *c = &e->aCol[i];
    const char *zCol = c->zName;
    char *zIdx = 0;
    int bAsked = (mAsked >> i) & 1;
    if (i == e->aiKey[0]) continue; /* the UNIQUE key covers it */
    if (!bAsked) {
      if (!(c->flags & STATEVTAB_COL_INDEXED)) continue;
      if (c->flags & STATEVTAB_COL_OPTIDX) continue;
      /* The tasks' T_reap table says when to look for expired leases. */
      if (t->bTasks && i == SV_TASK_LEASE_EXPIRES_AT) continue;
    }
    rc = indexName(t, t->zName, 0, zCol, &zIdx);
    if (rc != SQLITE_OK) break;
    if (t->bTasks && i == SV_TASK_QUEUE) {
      /* Serves queue= scans and, in this order, the claim of a queue: of
      ** each partition (bFold; the plain claim's is the NULL one). */
      rc = localExec(t->pStore,
                     sqlite3_mprintf("CREATE INDEX \"%w\".\"%w\" ON "
                                     "\"%w_data\"(queue, state, "
                                     "partition_key, priority, run_at, id)",
                                     t->zDb, zIdx, t->zName));
    } else {
      rc = localExec(
          t->pStore,
          sqlite3_mprintf(
              "CREATE INDEX \"%w\".\"%w\" ON "
              "\"%w_data\"(\"%w\")%s%w%s",
              t->zDb, zIdx, t->zName, zCol,
              (c->flags & STATEVTAB_COL_NOTNULL) ? "" : " WHERE \"",
              (c->flags & STATEVTAB_COL_NOTNULL) ? "" : zCol,
              (c->flags & STATEVTAB_COL_NOTNULL) ? "" : "\" IS NOT NULL"));
    }
    sqlite3_free(zIdx);
  }
  if (rc == SQLITE_OK && e->iDedupe >= 0) {
    /* Idempotent insert: a second row with the same (scope, key) is
    ** dropped by the INSERT's ON CONFLICT ... DO NOTHING (localInsertSql).
    ** Rows without a key are not in the index at all.  With a dedup=
    ** window several rows may hold one key: the index only finds them. */
    const char *zScope = e->aCol[e->iDedupeScope].zName;
    const char *zKey = e->aCol[e->iDedupe].zName;
    char *zName = sqlite3_mprintf("%s_%s", zScope, zKey), *zIdx = 0;
    if (!zName) return SQLITE_NOMEM;
    rc = indexName(t, t->zName, 0, zName, &zIdx);
    sqlite3_free(zName);
    if (rc == SQLITE_OK) {
      rc = localExec(t->pStore,
                     sqlite3_mprintf("CREATE %sINDEX \"%w\".\"%w\" ON "
                                     "\"%w_data\"(\"%w\", \"%w\") WHERE \"%w\" "
                                     "IS NOT NULL",
                                     t->dd.bWindow ? "" : "UNIQUE ", t->zDb,
                                     zIdx, t->zName, zScope, zKey, zKey));
      sqlite3_free(zIdx);
    }
  }
  return rc;
}

static int createShadow(LocalTable *t, sqlite3_uint64 mIndexes) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_str *s = sqlite3_str_new(t->pStore->db);
  int i, rc;
  sqlite3_str_appendf(s, "CREATE TABLE \"%w\".\"%w_data\"(", t->zDb, t->zName);
  for (i = 0; i < e->nCol; i++) {
    const char *zType = colType(&e->aCol[i]);
    sqlite3_str_appendf(s, "\"%w\"%s%s, ", e->aCol[i].zName,
                        zType[0] ? " " : "", zType);
  }
  sqlite3_str_appendf(s, "UNIQUE(\"%w\"", e->aCol[e->aiKey[0]].zName);
  if (e->nKey == 2) {
    sqlite3_str_appendf(s, ", \"%w\"", e->aCol[e->aiKey[1]].zName);
  }
  sqlite3_str_appendall(s, "))");
  rc = localExec(t->pStore, sqlite3_str_finish(s));
  if (rc == SQLITE_OK) rc = createIndexes(t, mIndexes);
  if (rc == SQLITE_OK && t->bTasks) {
    /* Paused queues (state_pause / state_resume). */
    rc = localExec(t->pStore,
                   sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_queues\"(queue "
                                   "TEXT PRIMARY KEY, paused_at INTEGER)",
                                   t->zDb, t->zName));
    /* When each queue's next look for expired leases is due (reapDue). */
    if (rc == SQLITE_OK) {
      rc = localExec(t->pStore,
                     sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_reap\"(queue "
                                     "TEXT PRIMARY KEY, due INTEGER NOT NULL) "
                                     "WITHOUT ROWID",
                                     t->zDb, t->zName));
    }
    /* Who waits for whom (store_sqlite_deps.c). */
    if (rc == SQLITE_OK) {
      rc = localExec(t->pStore,
                     sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_deps\"(dep "
                                     "TEXT NOT NULL, task TEXT NOT NULL, "
                                     "PRIMARY KEY (dep, task)) WITHOUT ROWID",
                                     t->zDb, t->zName));
    }
    if (rc == SQLITE_OK) {
      char *zIdx = 0;
      rc = indexName(t, t->zName, "deps", "task", &zIdx);
      if (rc == SQLITE_OK) {
        rc = localExec(t->pStore,
                       sqlite3_mprintf("CREATE INDEX \"%w\".\"%w\" ON "
                                       "\"%w_deps\"(task)",
                                       t->zDb, zIdx, t->zName));
      }
      sqlite3_free(zIdx);
    }
  }
  return rc;
}

/* Does table t have its shadow table T_<zSuffix>?  (T_reap: tasks tables
** created since 2026-12-03; T_rates: made by the first claim with rates.) */
static int hasShadow(LocalTable *t, const char *zSuffix, int *pb) {
  sqlite3 *db = t->pStore->db;
  sqlite3_stmt *p = 0;
  char *zSql = sqlite3_mprintf("SELECT 1 FROM \"%w\".sqlite_schema WHERE "
                               "type = 'table' AND name = '%q_%q'",
                               t->zDb, t->zName, zSuffix);
  int rc;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, &p, 0);
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) {
    *pb = sqlite3_step(p) == SQLITE_ROW;
    rc = sqlite3_finalize(p);
  }
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

/*
** Set t->iAnyOld (see store_sqlite.h): the entity's STATEVTAB_ANY column
** when T_data declares it with a type, else -1.
*/
static int findAnyOld(LocalTable *t) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3 *db = t->pStore->db;
  sqlite3_stmt *p = 0;
  char *zData;
  int rc, iAny = -1, i;
  t->iAnyOld = -1;
  for (i = 0; i < e->nCol; i++) {
    if (e->aCol[i].eType == STATEVTAB_ANY) iAny = i;
  }
  if (iAny < 0) return SQLITE_OK;
  zData = sqlite3_mprintf("%s_data", t->zName);
  if (!zData) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db,
                          "SELECT type FROM pragma_table_info(?1, ?2) WHERE "
                          "name = ?3",
                          -1, &p, 0);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(p, 1, zData, -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 2, t->zDb, -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 3, e->aCol[iAny].zName, -1, SQLITE_STATIC);
    if (sqlite3_step(p) == SQLITE_ROW && sqlite3_column_bytes(p, 0) > 0) {
      t->iAnyOld = iAny;
    }
    rc = sqlite3_finalize(p);
  }
  sqlite3_free(zData);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

/* Set t->bFold (see store_sqlite.h): does an index of T_data hold
** (queue, state, partition_key, priority, run_at, id)? */
static int findFold(LocalTable *t) {
  sqlite3 *db = t->pStore->db;
  sqlite3_stmt *p = 0;
  char *zData = sqlite3_mprintf("%s_data", t->zName);
  int rc;
  if (!zData) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(
      db,
      "SELECT 1 FROM pragma_index_list(?1, ?2) AS l WHERE l.partial = 0 "
      "AND (SELECT group_concat(name, ',') FROM (SELECT name FROM "
      "pragma_index_info(l.name, ?2) ORDER BY seqno)) = "
      "'queue,state,partition_key,priority,run_at,id'",
      -1, &p, 0);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(p, 1, zData, -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 2, t->zDb, -1, SQLITE_STATIC);
    t->bFold = sqlite3_step(p) == SQLITE_ROW;
    rc = sqlite3_finalize(p);
  }
  sqlite3_free(zData);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

/* Set t->nDataCol (see store_sqlite.h): the entity's columns that T_data
** has, in order. */
static int findDataCols(LocalTable *t) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3 *db = t->pStore->db;
  sqlite3_stmt *p = 0;
  char *zData = sqlite3_mprintf("%s_data", t->zName);
  int rc, n = 0;
  if (!zData) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db,
                          "SELECT name FROM pragma_table_info(?1, ?2) "
                          "ORDER BY cid",
                          -1, &p, 0);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(p, 1, zData, -1, SQLITE_STATIC);
    sqlite3_bind_text(p, 2, t->zDb, -1, SQLITE_STATIC);
    while (n < e->nCol && sqlite3_step(p) == SQLITE_ROW) {
      const char *z = (const char *)sqlite3_column_text(p, 0);
      if (!z || sqlite3_stricmp(z, e->aCol[n].zName) != 0) break;
      n++;
    }
    rc = sqlite3_finalize(p);
  }
  sqlite3_free(zData);
  t->nDataCol = n;
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, db, rc);
}

/*
** In a table with iAnyOld >= 0, bind aRow's value of that column (already
** bound by bindRow) again as it is stored there: an integer as 'I' and a
** real as 'R' followed by its 8 bytes big-endian, a blob as 'B' and its
** bytes; text and NULL as they are.
*/
static int bindAnyOld(LocalTable *t, sqlite3_stmt *pStmt,
                      const statevtab_value *aRow) {
  const statevtab_value *v;
  unsigned char a[9];
  sqlite3_uint64 u;
  int k;
  if (t->iAnyOld < 0) return SQLITE_OK;
  v = &aRow[t->iAnyOld];
  if (v->eType == SQLITE_BLOB) {
    unsigned char *z = sqlite3_malloc64((sqlite3_uint64)v->n + 1);
    if (!z) return SQLITE_NOMEM;
    z[0] = 'B';
    if (v->n > 0) memcpy(z + 1, v->z, (size_t)v->n);
    return sqlite3_bind_blob(pStmt, t->iAnyOld + 1, z, v->n + 1, sqlite3_free);
  }
  if (v->eType != SQLITE_INTEGER && v->eType != SQLITE_FLOAT) {
    return SQLITE_OK;
  }
  a[0] = v->eType == SQLITE_INTEGER ? 'I' : 'R';
  if (v->eType == SQLITE_INTEGER) {
    u = (sqlite3_uint64)v->i;
  } else {
    memcpy(&u, &v->r, 8);
  }
  for (k = 8; k >= 1; k--, u >>= 8) a[k] = (unsigned char)(u & 0xff);
  return sqlite3_bind_blob(pStmt, t->iAnyOld + 1, a, 9, SQLITE_TRANSIENT);
}

/* Decode *pV, read from column iAnyOld (see bindAnyOld), in place. */
static void readAnyOld(statevtab_value *pV) {
  const unsigned char *z = (const unsigned char *)pV->z;
  sqlite3_uint64 u = 0;
  int k;
  if (pV->eType != SQLITE_BLOB || pV->n < 1) return;
  if (z[0] == 'B') {
    pV->z++;
    pV->n--;
    return;
  }
  if (pV->n != 9 || (z[0] != 'I' && z[0] != 'R')) return;
  for (k = 1; k <= 8; k++) u = (u << 8) | z[k];
  if (z[0] == 'I') {
    pV->eType = SQLITE_INTEGER;
    pV->i = (sqlite3_int64)u;
  } else {
    pV->eType = SQLITE_FLOAT;
    memcpy(&pV->r, &u, 8);
  }
  pV->z = 0;
  pV->n = 0;
}

static int localAttach(statevtab_store *pStore, const statevtab_entity *e,
                       const char *zDb, const char *zName, int nOpt,
                       const char *const *azOpt, int bCreate,
                       statevtab_table **ppTab) {
  LocalStore *p = (LocalStore *)pStore;
  LocalTable *t;
  sqlite3_uint64 mIndexes = 0;
  sv_dedup dd;
  int i, rc;
  *ppTab = 0;
  memset(&dd, 0, sizeof(dd));
  for (i = 0; i < nOpt; i++) {
    /* prefix= and schema= name a remote namespace, connect_timeout= and
    ** command_timeout= bound a remote round trip; accepted here so that one
    ** CREATE statement can move between stores by its store= alone. */
    const char *zKey = azOpt[2 * i];
    if (strcmp(zKey, "indexes") == 0) {
      char *zErr = 0;
      rc = sv_index_list(e, azOpt[2 * i + 1], &mIndexes, &zErr);
      if (rc != SQLITE_OK) {
        if (zErr) localError(p, "%s", zErr);
        sqlite3_free(zErr);
        return rc;
      }
    } else if (strcmp(zKey, "dedup") == 0) {
      char *zErr = 0;
      rc = sv_dedup_parse(e, azOpt[2 * i + 1], &dd, &zErr);
      if (rc != SQLITE_OK) {
        if (zErr) localError(p, "%s", zErr);
        sqlite3_free(zErr);
        return zErr ? rc : SQLITE_NOMEM;
      }
    } else if (strcmp(zKey, "prefix") && strcmp(zKey, "schema") &&
               strcmp(zKey, "connect_timeout") &&
               strcmp(zKey, "command_timeout")) {
      localError(p, "unknown option '%s'", azOpt[2 * i]);
      return SQLITE_ERROR;
    }
  }
  t = sqlite3_malloc64(sizeof(*t));
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof(*t));
  t->base.pStore = pStore;
  t->base.pEntity = e;
  t->pStore = p;
  t->zDb = sqlite3_mprintf("%s", zDb);
  t->zName = sqlite3_mprintf("%s", zName);
  t->bTasks = e == sv_entity_tasks;
  t->dd = dd;
  t->iAnyOld = -1;
  if (!t->zDb || !t->zName) {
    rc = SQLITE_NOMEM;
  } else if (bCreate) {
    t->nDataCol = e->nCol;
    t->bFold = t->bTasks;
    rc = createShadow(t, mIndexes);
    t->bReap = t->bDeps = t->bTasks;
  } else {
    rc = t->bTasks ? hasShadow(t, "reap", &t->bReap) : findAnyOld(t);
    if (rc == SQLITE_OK && t->bTasks) rc = hasShadow(t, "deps", &t->bDeps);
    if (rc == SQLITE_OK) rc = findDataCols(t);
    if (rc == SQLITE_OK && t->bTasks) rc = findFold(t);
  }
  if (rc != SQLITE_OK) {
    sqlite3_free(t->zDb);
    sqlite3_free(t->zName);
    sqlite3_free(t);
    return rc;
  }
  p->nTable++;
  *ppTab = &t->base;
  return SQLITE_OK;
}

/* Finalize every statement of t (before DROP, RENAME or detach). */
static void finalizeAll(LocalTable *t) {
  LocalScan *s;
  int i;
  for (i = 0; i < 3; i++) {
    sqlite3_finalize(t->apInsert[i]);
    sqlite3_finalize(t->apUpdate[i]);
    t->apInsert[i] = t->apUpdate[i] = 0;
  }
  sqlite3_finalize(t->pDelete);
  sqlite3_finalize(t->pDdClash);
  sqlite3_finalize(t->pDdDrop);
  t->pDdClash = t->pDdDrop = 0;
  sqlite3_finalize(t->pPurge);
  sqlite3_finalize(t->pSweep);
  sqlite3_finalize(t->pDataVersion);
  t->pDataVersion = 0;
  sqlite3_finalize(t->pLower);
  sqlite3_finalize(t->pDepsGet);
  sqlite3_finalize(t->pFairAdd);
  t->pDelete = t->pPurge = t->pSweep = t->pLower = t->pDepsGet = 0;
  t->pFairAdd = 0;
  while ((s = t->pScans) != 0) {
    t->pScans = s->pNext;
    sqlite3_finalize(s->pStmt);
    sqlite3_free(s->zPlan);
    sqlite3_free(s);
  }
  t->nScans = 0;
  localFinalizeGuard(t);
  localFinalizeAtomic(t);
  localFinalizeDeps(t);
}

static void localDetach(statevtab_table *pTab) {
  LocalTable *t = (LocalTable *)pTab;
  /* With its last table the store lets go of the caller's connection, so
  ** that sqlite3_close() finds no statement of ours. */
  if (--t->pStore->nTable == 0) localFinalizeCaller(t->pStore);
  finalizeAll(t);
  sqlite3_free(t->zDb);
  sqlite3_free(t->zName);
  sqlite3_free(t);
}

/* DROP TABLE: every shadow table there is (those made only when needed
** may not be). */
static int localDrop(statevtab_table *pTab) {
  LocalTable *t = (LocalTable *)pTab;
  int rc = SQLITE_OK, i;
  finalizeAll(t);
  for (i = 0; rc == SQLITE_OK && i < SV_NSHADOW; i++) {
    rc = localExec(t->pStore, sqlite3_mprintf("DROP TABLE IF EXISTS "
                                              "\"%w\".\"%w_%s\"",
                                              t->zDb, t->zName, azShadow[i]));
  }
  return rc;
}

/* Rename T_<zSuffix>, a shadow table made only when needed, if it is
** there. */
static int renameMade(LocalTable *t, const char *zSuffix, const char *zNew) {
  int bThere = 0;
  int rc = hasShadow(t, zSuffix, &bThere);
  if (rc != SQLITE_OK || !bThere) return rc;
  return localExec(t->pStore,
                   sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_%s\" RENAME TO "
                                   "\"%w_%s\"",
                                   t->zDb, t->zName, zSuffix, zNew, zSuffix));
}

/* ALTER TABLE RENAME: move the shadow table (its indexes follow it). */
static int localRename(statevtab_table *pTab, const char *zNew) {
  LocalTable *t = (LocalTable *)pTab;
  char *zName;
  int rc;
  finalizeAll(t);
  rc = localExec(t->pStore,
                 sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_data\" RENAME TO "
                                 "\"%w_data\"",
                                 t->zDb, t->zName, zNew));
  if (rc == SQLITE_OK && t->bTasks) {
    rc = localExec(t->pStore,
                   sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_queues\" RENAME "
                                   "TO \"%w_queues\"",
                                   t->zDb, t->zName, zNew));
  }
  if (rc == SQLITE_OK && t->bReap) {
    rc = localExec(t->pStore,
                   sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_reap\" RENAME "
                                   "TO \"%w_reap\"",
                                   t->zDb, t->zName, zNew));
  }
  if (rc == SQLITE_OK && t->bTasks) rc = renameMade(t, "rates", zNew);
  if (rc == SQLITE_OK && t->bTasks) rc = renameMade(t, "fair", zNew);
  if (rc == SQLITE_OK && t->bDeps) rc = renameMade(t, "deps", zNew);
  if (rc != SQLITE_OK) return rc;
  zName = sqlite3_mprintf("%s", zNew);
  if (!zName) return SQLITE_NOMEM;
  sqlite3_free(t->zName);
  t->zName = zName;
  return SQLITE_OK;
}

/* Bind one value per entity column as ?1..?nCol. */
static int bindRow(sqlite3_stmt *pStmt, int nCol, const statevtab_value *aRow) {
  int i, rc = SQLITE_OK;
  for (i = 0; rc == SQLITE_OK && i < nCol; i++) {
    rc = localBind(pStmt, i + 1, &aRow[i], SQLITE_STATIC);
  }
  return rc;
}

static const char *azConflict[] = {"ABORT", "IGNORE", "REPLACE"};

/*
** dedup= with a window: do rows other than iRowid (0: aRow is new) clash
** with task aRow (*pbClash)?  With bDrop they are deleted instead (OR
** REPLACE).  The caller holds the write lock, so nothing comes between
** this look and its write.
*/
static int dedupClash(LocalTable *t, const statevtab_value *aRow,
                      sqlite3_int64 iRowid, int bDrop, int *pbClash) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_stmt **pp = bDrop ? &t->pDdDrop : &t->pDdClash;
  int rc;
  *pbClash = 0;
  if (!t->dd.bWindow || aRow[SV_TASK_IDEMPOTENCY_KEY].eType == SQLITE_NULL) {
    return SQLITE_OK;
  }
  if (!*pp) {
    char *zWin = localDedupWhere(t);
    if (!zWin) return SQLITE_NOMEM;
    rc = localPrepareKept(
        t,
        sqlite3_mprintf("%s \"%w\".\"%w_data\" WHERE queue = ?%d AND "
                        "idempotency_key = ?%d AND rowid <> ?%d AND %s%s",
                        bDrop ? "DELETE FROM" : "SELECT 1 FROM", t->zDb,
                        t->zName, SV_TASK_QUEUE + 1,
                        SV_TASK_IDEMPOTENCY_KEY + 1, e->nCol + 1, zWin,
                        bDrop ? "" : " LIMIT 1"),
        pp);
    sqlite3_free(zWin);
    if (rc != SQLITE_OK) return rc;
  }
  rc = bindRow(*pp, t->nDataCol, aRow);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(*pp, e->nCol + 1, iRowid);
  if (rc != SQLITE_OK) return rc;
  *pbClash = sqlite3_step(*pp) == SQLITE_ROW;
  rc = sqlite3_reset(*pp);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

/*
** An expired row is invisible, so it must not block an insert of the same
** key: delete it first.
*/
static int purgeExpired(LocalTable *t, const statevtab_value *aRow, int iExp) {
  const statevtab_entity *e = t->base.pEntity;
  int rc, k;
  if (!t->pPurge) {
    sqlite3_str *s = sqlite3_str_new(0);
    sqlite3_str_appendf(s, "DELETE FROM \"%w\".\"%w_data\" WHERE \"%w\" <= ?1",
                        t->zDb, t->zName, e->aCol[iExp].zName);
    for (k = 0; k < e->nKey; k++) {
      sqlite3_str_appendf(s, " AND \"%w\" = ?%d", e->aCol[e->aiKey[k]].zName,
                          k + 2);
    }
    rc = localPrepareKept(t, sqlite3_str_finish(s), &t->pPurge);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_bind_int64(t->pPurge, 1, sv_now_ms());
  for (k = 0; k < e->nKey; k++) {
    localBind(t->pPurge, k + 2, &aRow[e->aiKey[k]], SQLITE_STATIC);
  }
  sqlite3_step(t->pPurge);
  rc = sqlite3_reset(t->pPurge);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

/*
** The sweep of expired rows: remove up to SV_SWEEP_MAX rows whose expiry
** column iExp is <= now, through its index (T_data_<col>, partial: NOT
** NULL).  Run at every row write, so that expired rows do not pile up;
** when none has expired it costs one index probe.
*/
static int sweepExpired(LocalTable *t, int iExp) {
  const statevtab_entity *e = t->base.pEntity;
  int rc;
  if (!t->pSweep) {
    rc = localPrepareKept(
        t,
        sqlite3_mprintf("DELETE FROM \"%w\".\"%w_data\" WHERE rowid IN "
                        "(SELECT rowid FROM \"%w\".\"%w_data\" WHERE \"%w\" "
                        "<= ?1 LIMIT %d)",
                        t->zDb, t->zName, t->zDb, t->zName, e->aCol[iExp].zName,
                        SV_SWEEP_MAX),
        &t->pSweep);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_bind_int64(t->pSweep, 1, sv_now_ms());
  sqlite3_step(t->pSweep);
  rc = sqlite3_reset(t->pSweep);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

/* A task row with a lease was written: its queue's reap may be due sooner. */
static int lowerDue(LocalTable *t, const statevtab_value *aRow) {
  int rc;
  if (!t->bReap || aRow[SV_TASK_LEASE_EXPIRES_AT].eType != SQLITE_INTEGER) {
    return SQLITE_OK;
  }
  if (!t->pLower) {
    rc = localPrepareKept(t, localLowerSql(t, t->zDb), &t->pLower);
    if (rc != SQLITE_OK) return rc;
  }
  localBind(t->pLower, 1, &aRow[SV_TASK_QUEUE], SQLITE_STATIC);
  sqlite3_bind_int64(t->pLower, 2, aRow[SV_TASK_LEASE_EXPIRES_AT].i);
  sqlite3_step(t->pLower);
  rc = sqlite3_reset(t->pLower);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

static int localInsertRow(LocalTable *t, const statevtab_value *aRow,
                          int eConflict, sqlite3_int64 *pRowid, int *pbDone);

static int stateIs(const statevtab_value *v, const char *z) {
  return v->eType == SQLITE_TEXT && v->n == (int)strlen(z) &&
         memcmp(v->z, z, (size_t)v->n) == 0;
}

/*
** Does state *v end a task for its dependents?  Returns 0 when not; else 1
** with *pzWhy NULL (completed) or saying how it ended (SV_DEPS_WHY_*).
*/
static int depsEnded(const statevtab_value *v, const char **pzWhy) {
  *pzWhy = 0;
  if (stateIs(v, "completed")) return 1;
  if (stateIs(v, "dead")) *pzWhy = SV_DEPS_WHY_DEAD;
  if (stateIs(v, "failed")) *pzWhy = SV_DEPS_WHY_FAILED;
  if (stateIs(v, "cancelled")) *pzWhy = SV_DEPS_WHY_CANCELLED;
  return *pzWhy != 0;
}

/*
** Partitions (see "Fairness and partitions" in the README): the first write
** of a task with a partition_key makes T_fair (per queue that ever had
** one: the partition its claims served last, see fairClaim in
** store_sqlite_atomic.c) and, in a table made before 2026-12-04 (!bFold),
** the index T_data_partition of the pending tasks by (queue,
** partition_key, priority, run_at, id) -- so that a table without
** partitions pays for neither -- and every such write
** records its queue in T_fair.  localGuard says whether T_fair is there
** (abFair): the DDL runs in the caller's transaction, and a ROLLBACK
** takes it back with the rest.
*/
static int fairAdd(LocalTable *t, const statevtab_value *aRow) {
  int rc;
  if (!t->bTasks || SV_TASK_PARTITION_KEY >= t->nDataCol ||
      aRow[SV_TASK_PARTITION_KEY].eType == SQLITE_NULL) {
    return SQLITE_OK;
  }
  if (!t->abFair[0]) {
    rc = localExec(t->pStore,
                   sqlite3_mprintf("CREATE TABLE IF NOT EXISTS "
                                   "\"%w\".\"%w_fair\"(queue TEXT PRIMARY "
                                   "KEY, served INTEGER NOT NULL, last TEXT) "
                                   "WITHOUT ROWID",
                                   t->zDb, t->zName));
    /* (A table with the folded queue index seeks that one.) */
    if (rc == SQLITE_OK && !t->bFold) {
      rc = localExec(t->pStore,
                     sqlite3_mprintf("CREATE INDEX IF NOT EXISTS "
                                     "\"%w\".\"%w_data_partition\" ON "
                                     "\"%w_data\"(queue, partition_key, "
                                     "priority, run_at, id) WHERE state = "
                                     "'pending'",
                                     t->zDb, t->zName, t->zName));
    }
    if (rc != SQLITE_OK) return rc;
    /* The next guard looks again (and finds T_fair unless rolled back). */
    t->abGuarded[0] = 0;
    sqlite3_finalize(t->pFairAdd);
    t->pFairAdd = 0;
  }
  if (!t->pFairAdd) {
    rc = localPrepareKept(t,
                          sqlite3_mprintf("INSERT OR IGNORE INTO "
                                          "\"%w\".\"%w_fair\"(queue, "
                                          "served) VALUES (?1, 0)",
                                          t->zDb, t->zName),
                          &t->pFairAdd);
    if (rc != SQLITE_OK) return rc;
  }
  localBind(t->pFairAdd, 1, &aRow[SV_TASK_QUEUE], SQLITE_STATIC);
  sqlite3_step(t->pFairAdd);
  rc = sqlite3_reset(t->pFairAdd);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

static int localInsert(statevtab_table *pTab, const statevtab_value *aRow,
                       int eConflict, sqlite3_int64 *pRowid, int *pbDone) {
  LocalTable *t = (LocalTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  int rc = localGuard(t, 0, t->pStore->db, t->zDb, 0);
  if (rc == SQLITE_OK) rc = localCheckCols(t, aRow);
  if (rc != SQLITE_OK) return rc;
  if (t->bTasks && aRow[SV_TASK_DEPENDS_ON].eType == SQLITE_TEXT &&
      (stateIs(&aRow[SV_TASK_STATE], "pending") ||
       stateIs(&aRow[SV_TASK_STATE], "waiting"))) {
    /* The dependencies decide the state (store_sqlite_deps.c). */
    statevtab_value aNew[SV_MAX_COLUMNS];
    char *zErr = 0;
    memcpy(aNew, aRow, sizeof(statevtab_value) * (size_t)e->nCol);
    rc = localDepsInsert(t, aRow, &aNew[SV_TASK_STATE], &aNew[SV_TASK_ERROR],
                         &zErr);
    if (rc != SQLITE_OK) return rc;
    if (zErr && aNew[SV_TASK_COMPLETED_AT].eType == SQLITE_NULL) {
      aNew[SV_TASK_COMPLETED_AT] = aNew[SV_TASK_UPDATED_AT];
    }
    rc = localInsertRow(t, aNew, eConflict, pRowid, pbDone);
    sqlite3_free(zErr);
    if (rc == SQLITE_OK && *pbDone &&
        stateIs(&aNew[SV_TASK_STATE], "waiting")) {
      rc = localDepsLink(t, aNew);
    }
    return rc;
  }
  return localInsertRow(t, aRow, eConflict, pRowid, pbDone);
}

/* localInsert, after the trigger guard and the dependencies. */
static int localInsertRow(LocalTable *t, const statevtab_value *aRow,
                          int eConflict, sqlite3_int64 *pRowid, int *pbDone) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_stmt *pStmt;
  int rc = SQLITE_OK, iExp = sv_entity_col(e, STATEVTAB_COL_EXPIRES);
  if (iExp >= 0) {
    rc = purgeExpired(t, aRow, iExp);
    if (rc == SQLITE_OK) rc = sweepExpired(t, iExp);
    if (rc != SQLITE_OK) return rc;
  }
  if (eConflict == STATEVTAB_CONFLICT_REPLACE) {
    int bClash;
    rc = dedupClash(t, aRow, 0, 1, &bClash);
    if (rc != SQLITE_OK) return rc;
  }
  if (!t->apInsert[eConflict]) {
    rc = localPrepareKept(t, localInsertSql(t, t->zDb, eConflict),
                          &t->apInsert[eConflict]);
    if (rc != SQLITE_OK) return rc;
  }
  pStmt = t->apInsert[eConflict];
  rc = bindRow(pStmt, t->nDataCol, aRow);
  if (rc == SQLITE_OK) rc = bindAnyOld(t, pStmt, aRow);
  if (rc != SQLITE_OK) return rc;
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) return localDbError(t->pStore, t->pStore->db, rc);
  /* 0 changes: OR IGNORE, or the idempotency constraint, skipped it. */
  *pbDone = sqlite3_changes(t->pStore->db) > 0;
  if (!*pbDone) return SQLITE_OK;
  *pRowid = sqlite3_last_insert_rowid(t->pStore->db);
  rc = lowerDue(t, aRow);
  return rc == SQLITE_OK ? fairAdd(t, aRow) : rc;
}

static int localUpdate(statevtab_table *pTab, sqlite3_int64 iRowid,
                       const statevtab_value *aRow, int eConflict,
                       int *pbDone) {
  LocalTable *t = (LocalTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  sqlite3_stmt *pStmt;
  int rc, i, iVer = sv_entity_col(e, STATEVTAB_COL_VERSION),
             iExp = sv_entity_col(e, STATEVTAB_COL_EXPIRES);
  rc = localGuard(t, 0, t->pStore->db, t->zDb, 0);
  if (rc == SQLITE_OK) rc = localCheckCols(t, aRow);
  if (rc != SQLITE_OK) return rc;
  if (iExp >= 0) {
    /* An expired row is invisible: it must not block the new key. */
    rc = purgeExpired(t, aRow, iExp);
    if (rc == SQLITE_OK) rc = sweepExpired(t, iExp);
    if (rc != SQLITE_OK) return rc;
  }
  if (!t->apUpdate[eConflict]) {
    sqlite3_str *s = sqlite3_str_new(0);
    sqlite3_str_appendf(s, "UPDATE OR %s \"%w\".\"%w_data\" SET ",
                        azConflict[eConflict], t->zDb, t->zName);
    for (i = 0; i < t->nDataCol; i++) {
      if (i == iVer) {
        sqlite3_str_appendf(s, "%s\"%w\" = \"%w\" + 1", i ? ", " : "",
                            e->aCol[i].zName, e->aCol[i].zName);
      } else {
        sqlite3_str_appendf(s, "%s\"%w\" = ?%d", i ? ", " : "",
                            e->aCol[i].zName, i + 1);
      }
    }
    sqlite3_str_appendf(s, " WHERE rowid = ?%d", e->nCol + 1);
    rc = localPrepareKept(t, sqlite3_str_finish(s), &t->apUpdate[eConflict]);
    if (rc != SQLITE_OK) return rc;
  }
  if (t->dd.bWindow) {
    /* The updated task may not clash with another of its key either. */
    int bClash;
    rc = dedupClash(t, aRow, iRowid, eConflict == STATEVTAB_CONFLICT_REPLACE,
                    &bClash);
    if (rc != SQLITE_OK) return rc;
    if (bClash && eConflict == STATEVTAB_CONFLICT_IGNORE) {
      *pbDone = 0;
      return SQLITE_OK;
    }
    if (bClash) {
      localError(t->pStore, "UNIQUE constraint failed: queue, idempotency_key");
      return SQLITE_CONSTRAINT;
    }
  }
  pStmt = t->apUpdate[eConflict];
  rc = bindRow(pStmt, t->nDataCol, aRow);
  if (rc == SQLITE_OK) rc = bindAnyOld(t, pStmt, aRow);
  if (rc == SQLITE_OK) rc = sqlite3_bind_int64(pStmt, e->nCol + 1, iRowid);
  if (rc != SQLITE_OK) return rc;
  sqlite3_step(pStmt);
  rc = sqlite3_reset(pStmt);
  *pbDone = rc == SQLITE_OK && sqlite3_changes(t->pStore->db) > 0;
  if (rc != SQLITE_OK) return localDbError(t->pStore, t->pStore->db, rc);
  if (!*pbDone) return SQLITE_OK;
  if (t->bDeps) {
    /* A task ended by the UPDATE: its dependents follow. */
    const char *zWhy;
    if (depsEnded(&aRow[SV_TASK_STATE], &zWhy)) {
      rc = localDepsSettle(t, 0, t->pStore->db, t->zDb,
                           aRow[SV_TASK_UPDATED_AT].i, aRow[SV_TASK_ID].z,
                           aRow[SV_TASK_ID].n, zWhy);
      if (rc != SQLITE_OK) return rc;
    }
  }
  rc = lowerDue(t, aRow);
  return rc == SQLITE_OK ? fairAdd(t, aRow) : rc;
}

static int localDeleteRow(LocalTable *t, sqlite3_int64 iRowid);

/* DELETE: a task deleted before it ended ends its dependents. */
static int localDelete(statevtab_table *pTab, sqlite3_int64 iRowid) {
  LocalTable *t = (LocalTable *)pTab;
  sqlite3 *db = t->pStore->db;
  statevtab_value vState;
  const char *zWhy;
  char *zId = 0;
  int rc = localGuard(t, 0, db, t->zDb, 0), rs, bEnded = 1;
  if (rc != SQLITE_OK || !t->bDeps) {
    return rc == SQLITE_OK ? localDeleteRow(t, iRowid) : rc;
  }
  if (!t->pDepsGet) {
    rc = localPrepareKept(t,
                          sqlite3_mprintf("SELECT id, state FROM "
                                          "\"%w\".\"%w_data\" WHERE rowid = "
                                          "?1",
                                          t->zDb, t->zName),
                          &t->pDepsGet);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_bind_int64(t->pDepsGet, 1, iRowid);
  if ((rs = sqlite3_step(t->pDepsGet)) == SQLITE_ROW) {
    memset(&vState, 0, sizeof(vState));
    rc = localReadValue(t->pDepsGet, 1, &vState);
    if (rc == SQLITE_OK) {
      zId = sqlite3_mprintf("%s", sqlite3_column_text(t->pDepsGet, 0));
      if (!zId) rc = SQLITE_NOMEM;
      bEnded = depsEnded(&vState, &zWhy);
    }
  }
  rs = sqlite3_reset(t->pDepsGet);
  if (rc == SQLITE_OK && rs != SQLITE_OK) rc = localDbError(t->pStore, db, rs);
  if (rc == SQLITE_OK) rc = localDeleteRow(t, iRowid);
  if (rc == SQLITE_OK && zId) {
    /* Its own T_deps rows go with it; a task deleted before it ended
    ** ends its dependents. */
    statevtab_value vId;
    memset(&vId, 0, sizeof(vId));
    vId.eType = SQLITE_TEXT;
    vId.z = zId;
    vId.n = (int)strlen(zId);
    rc = localDepsForget(t, &vId);
    if (rc == SQLITE_OK && !bEnded) {
      rc = localDepsSettle(t, 0, db, t->zDb, sv_now_ms(), zId, vId.n,
                           SV_DEPS_WHY_DELETED);
    }
  }
  sqlite3_free(zId);
  return rc;
}

static int localDeleteRow(LocalTable *t, sqlite3_int64 iRowid) {
  int rc;
  if (!t->pDelete) {
    rc =
        localPrepareKept(t,
                         sqlite3_mprintf("DELETE FROM \"%w\".\"%w_data\" WHERE "
                                         "rowid = ?1",
                                         t->zDb, t->zName),
                         &t->pDelete);
    if (rc != SQLITE_OK) return rc;
  }
  sqlite3_bind_int64(t->pDelete, 1, iRowid);
  sqlite3_step(t->pDelete);
  rc = sqlite3_reset(t->pDelete);
  return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
}

/* ---------------------------------------------------------------- scans */

static int localOpenCursor(statevtab_table *pTab, statevtab_cursor **ppCur) {
  LocalCursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->base.pTab = pTab;
  c->bEof = 1;
  *ppCur = &c->base;
  return SQLITE_OK;
}

/* Give scan s back to the cache, or free it when bOwned. */
static void releaseOne(LocalScan *s, int bOwned) {
  if (!s) return;
  sqlite3_reset(s->pStmt);
  if (bOwned) {
    sqlite3_finalize(s->pStmt);
    sqlite3_free(s->zPlan);
    sqlite3_free(s);
  } else {
    s->bInUse = 0;
  }
}

/* Give the cursor's scans back to the cache (or free them). */
static void releaseScan(LocalCursor *c) {
  releaseOne(c->pScan, c->bOwned);
  releaseOne(c->pCount, c->bCountOwned);
  c->pScan = c->pCount = 0;
  c->bOwned = c->bCountOwned = c->bCounting = 0;
  c->nCount = c->iPos = 0;
}

static void localCloseCursor(statevtab_cursor *pCur) {
  LocalCursor *c = (LocalCursor *)pCur;
  releaseScan(c);
  sqlite3_free(c);
}

/* Build the SELECT for one scan shape. */
static char *scanSql(LocalTable *t, const statevtab_scan *pScan) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_str *s = sqlite3_str_new(0);
  int i;
  sqlite3_str_appendall(s, "SELECT rowid");
  for (i = 0; i < e->nCol; i++) {
    sqlite3_uint64 bit = ((sqlite3_uint64)1) << (i < 63 ? i : 63);
    if (pScan->colUsed & bit) {
      sqlite3_str_appendall(s, ", ");
      localAppendCol(s, t, "", i);
    } else {
      sqlite3_str_appendall(s, ", NULL"); /* not read: an index may do */
    }
  }
  sqlite3_str_appendf(s, " FROM \"%w\".\"%w_data\"", t->zDb, t->zName);
  for (i = 0; i < pScan->nCons; i++) {
    const statevtab_cons *c = &pScan->aCons[i];
    static const char *const azOp[] = {
        [STATEVTAB_EQ] = "=", [STATEVTAB_LT] = "<",  [STATEVTAB_LE] = "<=",
        [STATEVTAB_GT] = ">", [STATEVTAB_GE] = ">=", [STATEVTAB_IS] = "IS"};
    sqlite3_str_appendall(s, i ? " AND " : " WHERE ");
    if (c->op == STATEVTAB_ALIVE) {
      sqlite3_str_appendall(s, "(");
      localAppendCol(s, t, "", c->iCol);
      sqlite3_str_appendall(s, " IS NULL OR ");
      localAppendCol(s, t, "", c->iCol);
      sqlite3_str_appendf(s, " > ?%d)", i + 1);
    } else {
      localAppendCol(s, t, "", c->iCol);
      sqlite3_str_appendf(s, " %s ?%d", azOp[c->op], i + 1);
    }
  }
  for (i = 0; i < pScan->nOrder; i++) {
    sqlite3_str_appendall(s, i ? ", " : " ORDER BY ");
    localAppendCol(s, t, "", pScan->aOrder[i].iCol);
    if (pScan->aOrder[i].bDesc) sqlite3_str_appendall(s, " DESC");
  }
  if (pScan->nLimit >= 0) {
    sqlite3_str_appendf(s, " LIMIT ?%d", pScan->nCons + 1);
  }
  return sqlite3_str_finish(s);
}

/*
** The kept scan of plan zPlan (zPrefix + pScan->zPlan) that no cursor
** uses, prepared on first use with SQL from scanSql (wrapped in
** "SELECT count(*) FROM (...)" when bCount).  *pbOwned: the scan is not in
** the cache (which holds SV_MAX_CACHED_SCANS): free it after use.
*/
static int getScan(LocalTable *t, const statevtab_scan *pScan, int bCount,
                   LocalScan **ppScan, int *pbOwned) {
  const char *zPrefix = bCount ? "count " : "";
  size_t nPrefix = strlen(zPrefix);
  LocalScan *s;
  int rc;
  *pbOwned = 0;
  for (s = t->pScans; s; s = s->pNext) {
    if (!s->bInUse && strncmp(s->zPlan, zPrefix, nPrefix) == 0 &&
        strcmp(s->zPlan + nPrefix, pScan->zPlan) == 0) {
      break;
    }
  }
  if (!s) {
    char *zSql;
    s = sqlite3_malloc64(sizeof(*s));
    if (!s) return SQLITE_NOMEM;
    memset(s, 0, sizeof(*s));
    s->zPlan = sqlite3_mprintf("%s%s", zPrefix, pScan->zPlan);
    zSql = scanSql(t, pScan);
    if (bCount && zSql) {
      char *z = sqlite3_mprintf("SELECT count(*) FROM (%s)", zSql);
      sqlite3_free(zSql);
      zSql = z;
    }
    if (!s->zPlan || !zSql) {
      sqlite3_free(zSql);
      sqlite3_free(s->zPlan);
      sqlite3_free(s);
      return SQLITE_NOMEM;
    }
    rc = localPrepareKept(t, zSql, &s->pStmt);
    if (rc != SQLITE_OK) {
      sqlite3_free(s->zPlan);
      sqlite3_free(s);
      return rc;
    }
    if (t->nScans < SV_MAX_CACHED_SCANS) {
      s->pNext = t->pScans;
      t->pScans = s;
      t->nScans++;
    } else {
      *pbOwned = 1;
    }
  }
  s->bInUse = 1;
  *ppScan = s;
  return SQLITE_OK;
}

/*
** A scan that reads no column but those of its constraints (SELECT
** count(*) ... WHERE queue = ?, EXISTS ...) is counted by
** SQLite inside one statement -- SELECT count(*) FROM (the scan) -- and the
** cursor then only counts down: about a quarter of the time of stepping
** every row through this layer.  Should a row handle (xRowid: UPDATE,
** DELETE, SELECT rowid) or a column be asked for after all, the real scan
** starts then, with the same bindings (bound by xFilter), and
** steps to the cursor's row (materialize): same statement, same snapshot,
** same rows.
*/
static int localFilter(statevtab_cursor *pCur, const statevtab_scan *pScan) {
  LocalCursor *c = (LocalCursor *)pCur;
  LocalTable *t = (LocalTable *)pCur->pTab;
  LocalScan *s;
  sqlite3_uint64 mCons = 0;
  int i, rc, bCount, bOwned = 0;

  /* Counting when no column is read but the constrained ones (SQLite marks
  ** them used even when it leaves their check to us). */
  for (i = 0; i < pScan->nCons; i++) {
    int iCol = pScan->aCons[i].iCol;
    mCons |= ((sqlite3_uint64)1) << (iCol < 63 ? iCol : 63);
  }
  bCount = (pScan->colUsed & ~mCons) == 0;
  releaseScan(c);
  c->bEof = 1;
  rc = getScan(t, pScan, bCount, &s, &bOwned);
  if (rc != SQLITE_OK) return rc;
  if (bCount) {
    c->pCount = s;
    c->bCountOwned = bOwned;
    /* The real scan, held (not stepped) for materialize. */
    rc = getScan(t, pScan, 0, &c->pScan, &c->bOwned);
    if (rc != SQLITE_OK) return rc;
    c->bCounting = 1;
  } else {
    c->pScan = s;
    c->bOwned = bOwned;
  }
  /* The values belong to xFilter's caller: SQLITE_TRANSIENT.  A counting
  ** cursor binds its real scan too, now (not sqlite3_transfer_bindings at
  ** materialize: deprecated, and NULL in hosts built with
  ** SQLITE_OMIT_DEPRECATED, such as better-sqlite3's). */
  for (i = 0; i < pScan->nCons; i++) {
    rc = localBind(s->pStmt, i + 1, &pScan->aCons[i].v, SQLITE_TRANSIENT);
    if (rc == SQLITE_OK && bCount) {
      rc = localBind(c->pScan->pStmt, i + 1, &pScan->aCons[i].v,
                     SQLITE_TRANSIENT);
    }
    if (rc != SQLITE_OK) return localDbError(t->pStore, t->pStore->db, rc);
  }
  if (pScan->nLimit >= 0) {
    sqlite3_bind_int64(s->pStmt, pScan->nCons + 1, pScan->nLimit);
    if (bCount) {
      sqlite3_bind_int64(c->pScan->pStmt, pScan->nCons + 1, pScan->nLimit);
    }
  }
  if (bCount) {
    rc = sqlite3_step(s->pStmt);
    c->nCount = rc == SQLITE_ROW ? sqlite3_column_int64(s->pStmt, 0) : 0;
    rc = sqlite3_reset(s->pStmt); /* keeps the bindings */
    if (rc != SQLITE_OK) return localDbError(t->pStore, t->pStore->db, rc);
    c->iPos = 0;
    c->bEof = c->nCount <= 0;
    return SQLITE_OK;
  }
  c->bEof = 0;
  return t->base.pStore->pMethods->xNext(pCur);
}

/* A counting cursor (see localFilter) starts its real scan at row iPos. */
static int materialize(LocalCursor *c) {
  LocalTable *t = (LocalTable *)c->base.pTab;
  sqlite3_int64 k;
  int rc;
  if (!c->bCounting) return SQLITE_OK;
  c->bCounting = 0;
  for (k = 0; k <= c->iPos; k++) {
    rc = sqlite3_step(c->pScan->pStmt);
    if (rc != SQLITE_ROW) {
      c->bEof = 1;
      rc = sqlite3_reset(c->pScan->pStmt);
      return rc == SQLITE_OK ? rc : localDbError(t->pStore, t->pStore->db, rc);
    }
  }
  return SQLITE_OK;
}

static int localNext(statevtab_cursor *pCur) {
  LocalCursor *c = (LocalCursor *)pCur;
  int rc;
  if (c->bCounting) {
    if (++c->iPos >= c->nCount) c->bEof = 1;
    return SQLITE_OK;
  }
  if (!c->pScan) {
    c->bEof = 1;
    return SQLITE_OK;
  }
  rc = sqlite3_step(c->pScan->pStmt);
  if (rc == SQLITE_ROW) return SQLITE_OK;
  c->bEof = 1;
  rc = sqlite3_reset(c->pScan->pStmt);
  return rc == SQLITE_OK
             ? rc
             : localDbError(((LocalTable *)pCur->pTab)->pStore,
                            ((LocalTable *)pCur->pTab)->pStore->db, rc);
}

static int localEof(statevtab_cursor *pCur) {
  return ((LocalCursor *)pCur)->bEof;
}

static int localColumn(statevtab_cursor *pCur, int iCol,
                       statevtab_value *pOut) {
  int rc = ((LocalCursor *)pCur)->bCounting ? materialize((LocalCursor *)pCur)
                                            : SQLITE_OK;
  if (rc != SQLITE_OK) return rc;
  rc = localReadValue(((LocalCursor *)pCur)->pScan->pStmt, iCol + 1, pOut);
  if (iCol == ((LocalTable *)pCur->pTab)->iAnyOld) readAnyOld(pOut);
  return rc;
}

static sqlite3_value *localColumnValue(statevtab_cursor *pCur, int iCol) {
  sqlite3_stmt *pStmt;
  /* NULL: svColumn asks localColumn, which reports the error. */
  if (((LocalCursor *)pCur)->bCounting &&
      materialize((LocalCursor *)pCur) != SQLITE_OK) {
    return 0;
  }
  pStmt = ((LocalCursor *)pCur)->pScan->pStmt;
  /* NULL: a tagged value of an old table, which localColumn decodes. */
  if (iCol == ((LocalTable *)pCur->pTab)->iAnyOld &&
      sqlite3_column_type(pStmt, iCol + 1) == SQLITE_BLOB) {
    return 0;
  }
  return sqlite3_column_value(pStmt, iCol + 1);
}

static int localRowid(statevtab_cursor *pCur, sqlite3_int64 *pRowid) {
  LocalCursor *c = (LocalCursor *)pCur;
  int rc = c->bCounting ? materialize(c) : SQLITE_OK;
  if (rc != SQLITE_OK) return rc;
  *pRowid = sqlite3_column_int64(c->pScan->pStmt, 0);
  return SQLITE_OK;
}

static char *localDescribe(statevtab_store *pStore) {
  (void)pStore;
  return sqlite3_mprintf("sqlite: (shadow tables in the same database)");
}

/*
** xChanged: the rows of a local table live in the caller's database, where
** PRAGMA data_version changes with every transaction another connection or
** process commits (this connection's own writes drop the caches anyway).
** The pragma reads it in a read transaction of its own -- or in the
** caller's, whose snapshot it then reports -- so it is never stale, as the
** pager's count (SQLITE_FCNTL_DATA_VERSION) is between transactions.
** Always live.
*/
static int localChanged(statevtab_table *pTab, sqlite3_uint64 *piGen,
                        int *pbLive) {
  LocalTable *t = (LocalTable *)pTab;
  int rc;
  *piGen = 0;
  *pbLive = 0;
  if (!t->pDataVersion) {
    rc = localPrepareKept(t,
                          sqlite3_mprintf("PRAGMA \"%w\".data_version", t->zDb),
                          &t->pDataVersion);
    if (rc != SQLITE_OK) return rc;
  }
  if (sqlite3_step(t->pDataVersion) == SQLITE_ROW) {
    *piGen = (sqlite3_uint64)sqlite3_column_int64(t->pDataVersion, 0);
    *pbLive = 1;
  }
  rc = sqlite3_reset(t->pDataVersion);
  return rc == SQLITE_NOMEM ? rc : SQLITE_OK;
}

static const statevtab_queue_methods localQueue = {
    /* iVersion      */ 5,
    /* xClaim        */ localClaim,
    /* xRenew        */ localRenew,
    /* xComplete     */ localComplete,
    /* xFail         */ localFail,
    /* xLease        */ localLease,
    /* xLeaseRelease */ localRelease,
    /* xIncr         */ localIncr,
    /* xTake         */ localTake,
    /* xProgress     */ localProgress,
    /* xPause        */ localPause,
    /* xInsertAtomic */ localInsertAtomic,
    /* xPaused       */ localPaused,
    /* xWait         */ localWait,
    /* xWake         */ 0, /* waiting state_lease/state_take poll instead */
    /* xPurge        */ localPurge,
    /* xFire         */ localFire,
    /* xMetrics      */ localMetrics,
    /* xChanged      */ localChanged,
};

const statevtab_store_methods sv_sqlite_store = {
    /* iVersion     */ 2,
    /* zScheme      */ "sqlite",
    /* xOpen        */ localOpen,
    /* xClose       */ localClose,
    /* xAttach      */ localAttach,
    /* xDetach      */ localDetach,
    /* xDrop        */ localDrop,
    /* xRename      */ localRename,
    /* xOpenCursor  */ localOpenCursor,
    /* xFilter      */ localFilter,
    /* xNext        */ localNext,
    /* xEof         */ localEof,
    /* xColumn      */ localColumn,
    /* xRowid       */ localRowid,
    /* xCloseCursor */ localCloseCursor,
    /* xInsert      */ localInsert,
    /* xUpdate      */ localUpdate,
    /* xDelete      */ localDelete,
    /* xBegin       */ 0,
    /* xSync        */ 0,
    /* xCommit      */ 0,
    /* xRollback    */ 0,
    /* xSavepoint   */ 0,
    /* xRelease     */ 0,
    /* xRollbackTo  */ 0,
    /* xDescribe    */ localDescribe,
    /* xColumnValue */ localColumnValue,
    /* pQueue       */ &localQueue,
};
