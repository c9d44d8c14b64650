/*
** 2026-12-03
**
** redrive.c -- state_redrive(dead_letters, tasks [, filter]): put dead
** tasks back in their queue.
**
**   SELECT state_redrive('dead_letters', 'tasks');                  -- all
**   SELECT state_redrive('dead_letters', 'tasks', '{"queue":"email"}');
**   SELECT state_redrive('dead_letters', 'tasks',
**                        '{"reason":"lease
*expired","died_before":1764800000000}');
**
** The result is the number of tasks brought back.
**
** HOW IT WORKS
**
** Plain SQL on the caller's connection, through the two tables, so that it
** is the same on every store: inside SAVEPOINT statevtab_redrive, so that a
** call is all or nothing (a transaction of its own in autocommit mode, part
** of the caller's otherwise).
**
**   1. The dead letters that match the filter, oldest first: their id,
**      task_id and task (the task as it was when it died; for a dead letter
**      written by hand without one, its queue, name and payload).
**   2. Per dead letter, the task with that id:
**        - dead: back to 'pending' -- attempts 0, run_at now, lease, error,
**          result and completed_at cleared; every other column (payload,
**          priority, tags, max_attempts, execution_id, partition_key,
**          idempotency_key ...)
**          as it is (but without its idempotency key when another task of
**          the queue holds that key in the table's dedup= window);
**        - gone (deleted, or removed by retain=): inserted again from the
**          dead letter's task, with the same id and columns (partition_key
**          included); its
**          idempotency key is kept unless another task of the queue holds
**          it now (then the task comes back without one);
**        - any other state (brought back already): left alone, and so is
**          its dead letter; not counted.
**   3. The dead letter is deleted.
**
** The filter is a JSON object whose members must all match: queue, name,
** task_id, id (of the dead letter), reason -- texts -- and died_before, an
** integer (milliseconds since the epoch; died_at < it).  Each becomes a
** constraint of the dead letters scan, pushed down to the store.
*/
#include "svext.h"

/* The filter's members: name, column, 'T' text or 'I' integer, operator. */
static const struct {
  const char *zKey, *zCol;
  char cType;
  const char *zOp;
} aFilter[] = {
    {"queue", "queue", 'T', "="},     {"name", "name", 'T', "="},
    {"task_id", "task_id", 'T', "="}, {"id", "id", 'T', "="},
    {"reason", "reason", 'T', "="},   {"died_before", "died_at", 'I', "<"},
};
#define N_FILTER (int)(sizeof(aFilter) / sizeof(aFilter[0]))

/* Prepare zSql (sqlite3_mprintf'd, freed here; NULL: no memory). */
static int prep(sqlite3 *db, char *zSql, sqlite3_stmt **ppStmt) {
  int rc;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(db, zSql, -1, ppStmt, 0);
  sqlite3_free(zSql);
  return rc;
}

/* Step a statement that returns no rows; reset it. */
static int stepDone(sqlite3_stmt *p) {
  int rc = sqlite3_step(p);
  int rc2 = sqlite3_reset(p);
  return rc == SQLITE_DONE ? SQLITE_OK : rc2 != SQLITE_OK ? rc2 : rc;
}

/* One dead letter to redrive (texts owned). */
typedef struct Dead {
  char *zId, *zTaskId, *zTask;
} Dead;

/* The text of s (freed): "" rather than NULL when empty, NULL on OOM. */
static char *strFinish(sqlite3_str *s) {
  int bOom = sqlite3_str_errcode(s) != SQLITE_OK;
  char *z = sqlite3_str_finish(s);
  return z || bOom ? z : sqlite3_mprintf("%s", "");
}

/*
** The WHERE terms of filter pFilter (NULL or SQL NULL: none), each
** " AND <column> <op> json_extract(?2, '$.<member>')", as sqlite3_malloc'd
** text ("" for none).  NULL with *pzErr set for a bad filter, or without
** it when out of memory.
*/
static char *filterWhere(sqlite3 *db, sqlite3_value *pFilter, char **pzErr) {
  sqlite3_str *s = sqlite3_str_new(0);
  sqlite3_stmt *p = 0;
  const char *zType;
  int rc, k;
  *pzErr = 0;
  if (!pFilter || sqlite3_value_type(pFilter) == SQLITE_NULL) {
    return strFinish(s);
  }
  rc = sqlite3_prepare_v2(db,
                          "SELECT json_type(CASE WHEN typeof(?1) = 'text' AND "
                          "json_valid(?1) THEN ?1 END), typeof(?1)",
                          -1, &p, 0);
  if (rc == SQLITE_OK) rc = sqlite3_bind_value(p, 1, pFilter);
  if (rc == SQLITE_OK && sqlite3_step(p) != SQLITE_ROW) rc = sqlite3_reset(p);
  if (rc != SQLITE_OK) goto oom;
  zType = (const char *)sqlite3_column_text(p, 0);
  if (!zType || strcmp(zType, "object") != 0) {
    *pzErr = sqlite3_mprintf("filter must be a JSON object (got %s)",
                             zType ? zType
                             : sqlite3_value_type(pFilter) == SQLITE_TEXT
                                 ? "text that is not JSON"
                                 : (const char *)sqlite3_column_text(p, 1));
    goto bad;
  }
  sqlite3_finalize(p);
  rc = sqlite3_prepare_v2(db, "SELECT key, type FROM json_each(?1)", -1, &p, 0);
  if (rc == SQLITE_OK) rc = sqlite3_bind_value(p, 1, pFilter);
  if (rc != SQLITE_OK) goto oom;
  while ((rc = sqlite3_step(p)) == SQLITE_ROW) {
    const char *zKey = (const char *)sqlite3_column_text(p, 0);
    const char *zT = (const char *)sqlite3_column_text(p, 1);
    for (k = 0; k < N_FILTER; k++) {
      if (zKey && strcmp(zKey, aFilter[k].zKey) == 0) break;
    }
    if (k == N_FILTER) {
      *pzErr = sqlite3_mprintf("unknown filter member '%s' (queue, name, "
                               "task_id, id, reason, died_before)",
                               zKey ? zKey : "");
      goto bad;
    }
    if (!zT || strcmp(zT, aFilter[k].cType == 'T' ? "text" : "integer")) {
      *pzErr = sqlite3_mprintf(
          "filter member '%s' must be %s (got %s)", zKey,
          aFilter[k].cType == 'T' ? "a string" : "an integer", zT ? zT : "?");
      goto bad;
    }
    sqlite3_str_appendf(s, " AND \"%w\" %s json_extract(?2, '$.\"%w\"')",
                        aFilter[k].zCol, aFilter[k].zOp, aFilter[k].zKey);
  }
  if (rc != SQLITE_DONE) goto oom;
  sqlite3_finalize(p);
  return strFinish(s);
oom:
  *pzErr = rc == SQLITE_NOMEM ? 0 : sqlite3_mprintf("%s", sqlite3_errmsg(db));
bad:
  sqlite3_finalize(p);
  sqlite3_free(sqlite3_str_finish(s));
  return 0;
}

void sv_fn_redrive(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_redrive";
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  sv_vtab *pDl = 0, *pTasks = 0;
  sqlite3_stmt *pSel = 0, *pUpd = 0, *pHas = 0, *pIns = 0, *pDel = 0;
  char *zErr = 0, *zWhere = 0, *zD = 0, *zT = 0, *zJunk = 0;
  Dead *aDead = 0;
  int nDead = 0, nAlloc = 0, nDone = 0, rc, k, bSave = 0;

  pDl = sv_fn_table(ctx, zF, argv[0], "state_dead_letters");
  pTasks = pDl ? sv_fn_table(ctx, zF, argv[1], "state_tasks") : 0;
  if (!pTasks) return;
  zWhere = filterWhere(db, argc > 2 ? argv[2] : 0, &zErr);
  if (!zWhere) {
    sv_fn_error(ctx, zF, zErr ? SQLITE_ERROR : SQLITE_NOMEM, "%s", zErr);
    sqlite3_free(zErr);
    return;
  }
  zD = sqlite3_mprintf("\"%w\".\"%w\"", pDl->zDb, pDl->zName);
  zT = sqlite3_mprintf("\"%w\".\"%w\"", pTasks->zDb, pTasks->zName);
  if (!zD || !zT) {
    rc = SQLITE_NOMEM;
    goto done;
  }
  rc = sqlite3_exec(db, "SAVEPOINT statevtab_redrive", 0, 0, 0);
  if (rc != SQLITE_OK) goto done;
  bSave = 1;

  /* 1. The dead letters, oldest first. */
  rc = prep(db,
            sqlite3_mprintf(
                "SELECT id, task_id, coalesce(task, json_object('id', task_id, "
                "'queue', queue, 'name', name, 'payload', json(payload))) "
                "FROM %s WHERE 1%s ORDER BY died_at, id",
                zD, zWhere),
            &pSel);
  if (rc == SQLITE_OK && argc > 2) {
    if (sqlite3_bind_parameter_count(pSel) >= 2) {
      rc = sqlite3_bind_value(pSel, 2, argv[2]);
    }
  }
  while (rc == SQLITE_OK && (rc = sqlite3_step(pSel)) == SQLITE_ROW) {
    Dead *d;
    rc = SQLITE_OK;
    if (nDead >= nAlloc) {
      int nNew = nAlloc ? nAlloc * 2 : 16;
      Dead *a = sqlite3_realloc64(aDead, sizeof(Dead) * (size_t)nNew);
      if (!a) {
        rc = SQLITE_NOMEM;
        break;
      }
      aDead = a;
      nAlloc = nNew;
    }
    d = &aDead[nDead++];
    d->zId = sqlite3_mprintf("%s", sqlite3_column_text(pSel, 0));
    d->zTaskId = sqlite3_mprintf("%s", sqlite3_column_text(pSel, 1));
    d->zTask = sqlite3_mprintf("%s", sqlite3_column_text(pSel, 2));
    if (!d->zId || !d->zTaskId || !d->zTask) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_DONE) rc = SQLITE_OK;
  sqlite3_finalize(pSel);
  pSel = 0;

  /* 2 and 3, per dead letter. */
  if (rc == SQLITE_OK && nDead > 0) {
    rc = prep(db,
              sqlite3_mprintf(
                  "UPDATE OR IGNORE %s SET state = 'pending', attempts = 0, "
                  "run_at = ?2, lease_owner = NULL, lease_expires_at = NULL, "
                  "error = NULL, result = NULL, completed_at = NULL, "
                  "idempotency_key = CASE WHEN ?3 THEN idempotency_key END "
                  "WHERE id = ?1 AND state = 'dead'",
                  zT),
              &pUpd);
    if (rc == SQLITE_OK) {
      rc = prep(
          db,
          sqlite3_mprintf("SELECT state = 'dead' FROM %s WHERE id = ?1", zT),
          &pHas);
    }
    if (rc == SQLITE_OK) {
      /* ?3: 1 to keep the idempotency key.  JSON columns come back as
      ** JSON (->), a JSON null as NULL. */
      rc = prep(
          db,
          sqlite3_mprintf(
              "INSERT OR IGNORE INTO %s(id, execution_id, queue, name, "
              "payload, priority, max_attempts, tags, partition_key, "
              "idempotency_key) SELECT ?1, "
              "t->>'$.execution_id', coalesce(t->>'$.queue', 'default'), "
              "t->>'$.name', CASE WHEN json_type(t, '$.payload') IN ('null') "
              "THEN NULL ELSE t->'$.payload' END, coalesce(t->>'$.priority', "
              "0), coalesce(t->>'$.max_attempts', 3), coalesce(t->'$.tags', "
              "'[]'), t->>'$.partition_key', CASE WHEN ?3 THEN "
              "t->>'$.idempotency_key' END FROM "
              "(SELECT ?2 AS t)",
              zT),
          &pIns);
    }
    if (rc == SQLITE_OK) {
      rc = prep(db, sqlite3_mprintf("DELETE FROM %s WHERE id = ?1", zD), &pDel);
    }
  }
  for (k = 0; rc == SQLITE_OK && k < nDead; k++) {
    Dead *d = &aDead[k];
    int bBack = 0;
    sqlite3_bind_text(pUpd, 1, d->zTaskId, -1, SQLITE_STATIC);
    sqlite3_bind_int64(pUpd, 2, sv_now_ms());
    sqlite3_bind_int(pUpd, 3, 1);
    rc = stepDone(pUpd);
    if (rc != SQLITE_OK) break;
    if (sqlite3_changes(db) > 0) {
      bBack = 1;
    } else {
      int bDead;
      sqlite3_bind_text(pHas, 1, d->zTaskId, -1, SQLITE_STATIC);
      rc = sqlite3_step(pHas);
      bDead = rc == SQLITE_ROW && sqlite3_column_int(pHas, 0);
      sqlite3_reset(pHas);
      if (rc == SQLITE_ROW && bDead) {
        /* Still dead: another task of the queue holds its idempotency key
        ** in the table's dedup= window; it comes back without it. */
        sqlite3_bind_int(pUpd, 3, 0);
        rc = stepDone(pUpd);
      } else if (rc == SQLITE_ROW) {
        rc = SQLITE_OK; /* there, and not dead: left alone */
        continue;
      } else if (rc == SQLITE_DONE) {
        sqlite3_bind_text(pIns, 1, d->zTaskId, -1, SQLITE_STATIC);
        sqlite3_bind_text(pIns, 2, d->zTask, -1, SQLITE_STATIC);
        sqlite3_bind_int(pIns, 3, 1);
        rc = stepDone(pIns);
        if (rc == SQLITE_OK && sqlite3_changes(db) == 0) {
          /* Another task of the queue holds the idempotency key. */
          sqlite3_bind_int(pIns, 3, 0);
          rc = stepDone(pIns);
        }
      }
      if (rc != SQLITE_OK) break;
      bBack = 1;
    }
    if (bBack) {
      sqlite3_bind_text(pDel, 1, d->zId, -1, SQLITE_STATIC);
      rc = stepDone(pDel);
      nDone++;
    }
  }

done:
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
    zErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
  }
  sqlite3_finalize(pSel);
  sqlite3_finalize(pUpd);
  sqlite3_finalize(pHas);
  sqlite3_finalize(pIns);
  sqlite3_finalize(pDel);
  if (bSave) {
    /* RELEASE commits when the savepoint began the transaction; should
    ** that fail (a Redis conflict), nothing of the call stays. */
    if (rc == SQLITE_OK && sqlite3_exec(db, "RELEASE statevtab_redrive", 0, 0,
                                        &zJunk) != SQLITE_OK) {
      rc = SQLITE_ERROR;
      zErr = zJunk ? zJunk : sqlite3_mprintf("%s", sqlite3_errmsg(db));
      zJunk = 0;
    }
    if (rc != SQLITE_OK) {
      sqlite3_exec(db, "ROLLBACK TO statevtab_redrive", 0, 0, 0);
      sqlite3_exec(db, "RELEASE statevtab_redrive", 0, 0, 0);
    }
    sqlite3_free(zJunk);
  }
  if (rc == SQLITE_OK) {
    sqlite3_result_int(ctx, nDone);
  } else {
    sv_fn_error(ctx, zF, rc, "%s", zErr ? zErr : sqlite3_errstr(rc));
  }
  for (k = 0; k < nDead; k++) {
    sqlite3_free(aDead[k].zId);
    sqlite3_free(aDead[k].zTaskId);
    sqlite3_free(aDead[k].zTask);
  }
  sqlite3_free(aDead);
  sqlite3_free(zErr);
  sqlite3_free(zWhere);
  sqlite3_free(zD);
  sqlite3_free(zT);
}
