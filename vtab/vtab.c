/*
** 2026-11-22
**
** vtab.c -- the one generic virtual table behind every statevtab module.
**
**   CREATE VIRTUAL TABLE tasks USING state_tasks(store='sqlite:');
**   INSERT INTO tasks(queue, name, payload) VALUES('email', 'welcome', '{}');
**   SELECT id, state FROM tasks WHERE queue = 'email' AND run_at <= 1700000;
**
** HOW IT WORKS
**
** Each module (state_tasks, state_kv, ...) is this same sqlite3_module with
** a different statevtab_entity descriptor as its client data.  The descriptor
** gives the columns, their types, the key and the indexed columns; this file
** validates and defaults rows from it and hands them to a store through the
** statevtab_store_methods table (statevtab.h).  It knows nothing of Redis or
** PostgreSQL; the stores know nothing of sqlite3_vtab.
**
** Every table is registered in its connection's sv_conn so that the SQL
** functions (ext/) can find a table's store by name.
*/
#include "svint.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>

/* Client data of one module registration. */
typedef struct sv_modaux {
  sv_conn *pConn;
  const statevtab_entity *pEntity;
} sv_modaux;

typedef struct sv_cursor {
  sqlite3_vtab_cursor base; /* must be first */
  statevtab_cursor *pCur;   /* the store's cursor */
  statevtab_cons *aCons;    /* constraints of the current scan */
  int nConsAlloc;
} sv_cursor;

/* ---------------------------------------------------------------- errors */

/* Replace the vtab's error message with "<module>: <zFmt...>". */
static void svError(sv_vtab *p, const char *zFmt, ...) {
  va_list ap;
  char *zMsg;
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg =
      zMsg ? sqlite3_mprintf("%s: %s", p->pEntity->zModule, zMsg) : 0;
  sqlite3_free(zMsg);
}

/*
** Carry a store error into the vtab: the store's message if it left one,
** else a generic one for rc.  Uniqueness conflicts get SQLite's wording with
** the key columns, the same on every store.  Returns rc.
*/
static int svStoreError(sv_vtab *p, int rc) {
  char *z;
  if (rc == SQLITE_NOMEM || rc == SQLITE_OK) return rc;
  if ((rc & 0xff) == SQLITE_CONSTRAINT && !p->pRef->pStore->zErrMsg) {
    const statevtab_entity *e = p->pEntity;
    if (e->nKey == 2) {
      svError(p, "UNIQUE constraint failed: %s, %s", e->aCol[e->aiKey[0]].zName,
              e->aCol[e->aiKey[1]].zName);
    } else {
      svError(p, "UNIQUE constraint failed: %s", e->aCol[e->aiKey[0]].zName);
    }
    return rc;
  }
  z = sv_table_error(p, rc);
  if (!z) return SQLITE_NOMEM;
  svError(p, "%s", z);
  sqlite3_free(z);
  return rc;
}

/* ---------------------------------------------------------------- values */

/* Describe a statevtab_value from an sqlite3_value (text/blob borrowed). */
int sv_value_from_sqlite(sqlite3_value *pVal, statevtab_value *pOut) {
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = sqlite3_value_type(pVal);
  switch (pOut->eType) {
  case SQLITE_INTEGER:
    pOut->i = sqlite3_value_int64(pVal);
    break;
  case SQLITE_FLOAT:
    pOut->r = sqlite3_value_double(pVal);
    break;
  case SQLITE_TEXT:
    pOut->z = (const char *)sqlite3_value_text(pVal);
    pOut->n = sqlite3_value_bytes(pVal);
    if (!pOut->z) return SQLITE_NOMEM;
    break;
  case SQLITE_BLOB:
    pOut->z = (const char *)sqlite3_value_blob(pVal);
    pOut->n = sqlite3_value_bytes(pVal);
    if (!pOut->z && pOut->n > 0) return SQLITE_NOMEM;
    break;
  default:
    break;
  }
  return SQLITE_OK;
}

/* Make a statevtab_value the result of an SQL function or column. */
void sv_value_result(sqlite3_context *ctx, const statevtab_value *v) {
  switch (v->eType) {
  case SQLITE_INTEGER:
    sqlite3_result_int64(ctx, v->i);
    break;
  case SQLITE_FLOAT:
    sqlite3_result_double(ctx, v->r);
    break;
  case SQLITE_TEXT:
    sqlite3_result_text(ctx, v->z ? v->z : "", v->n, SQLITE_TRANSIENT);
    break;
  case SQLITE_BLOB: /* (a NULL pointer would make the result NULL) */
    sqlite3_result_blob(ctx, v->z ? v->z : "", v->n, SQLITE_TRANSIENT);
    break;
  default:
    sqlite3_result_null(ctx);
    break;
  }
}

static const char *typeName(int eType) {
  switch (eType) {
  case SQLITE_INTEGER:
    return "INTEGER";
  case SQLITE_FLOAT:
    return "REAL";
  case SQLITE_TEXT:
    return "TEXT";
  case SQLITE_BLOB:
    return "BLOB";
  default:
    return "NULL";
  }
}

/* Parse all of z[0..n) as a base-10 integer; 1 on success. */
static int parseInt(const char *z, int n, sqlite3_int64 *piOut) {
  char zBuf[32];
  char *zEnd = 0;
  long long v;
  while (n > 0 && (z[0] == ' ' || z[0] == '\t')) {
    z++;
    n--;
  }
  while (n > 0 && (z[n - 1] == ' ' || z[n - 1] == '\t')) n--;
  if (n <= 0 || n >= (int)sizeof(zBuf)) return 0;
  memcpy(zBuf, z, (size_t)n);
  zBuf[n] = 0;
  if (!(zBuf[0] == '-' || zBuf[0] == '+' || (zBuf[0] >= '0' && zBuf[0] <= '9')))
    return 0;
  errno = 0;
  v = strtoll(zBuf, &zEnd, 10);
  if (*zEnd != 0 || errno == ERANGE) return 0;
  *piOut = v;
  return 1;
}

/*
** Check and convert one column value *pV in place to what column pCol
** accepts, with SQLite STRICT-table rules: an INTEGER column takes integers,
** integral reals and text that spells an integer; TEXT takes text and
** numbers (as text, via sqlite3_value_text on pArg); JSON takes well-formed
** JSON text or a number.  Returns SQLITE_OK or an error left in p.
*/
static int coerceValue(sv_vtab *p, const statevtab_column *pCol,
                       sqlite3_value *pArg, statevtab_value *pV) {
  if (pV->eType == SQLITE_NULL) return SQLITE_OK;
  /* (pArg may be NULL for values the caller made itself.) */
  switch (pCol->eType) {
  case STATEVTAB_ANY:
    return SQLITE_OK;
  case STATEVTAB_INT:
  case STATEVTAB_BOOL:
    /* (The range first: casting a real out of range is undefined.) */
    if (pV->eType == SQLITE_FLOAT && pV->r > -9.2e18 && pV->r < 9.2e18 &&
        sv_real_int(pV->r, &pV->i)) {
      pV->eType = SQLITE_INTEGER;
    } else if (pV->eType == SQLITE_TEXT && parseInt(pV->z, pV->n, &pV->i)) {
      pV->eType = SQLITE_INTEGER;
    }
    if (pV->eType != SQLITE_INTEGER) {
      if (pV->eType == SQLITE_TEXT) {
        svError(p, "%s must be an integer (got text '%.40s')", pCol->zName,
                pV->z);
      } else {
        svError(p, "%s must be an integer (got %s)", pCol->zName,
                typeName(pV->eType));
      }
      return SQLITE_MISMATCH;
    }
    if (pCol->eType == STATEVTAB_BOOL && pV->i != 0 && pV->i != 1) {
      svError(p, "%s must be 0 or 1 (got %lld)", pCol->zName, pV->i);
      return SQLITE_CONSTRAINT;
    }
    if (pCol->iMin < pCol->iMax && (pV->i < pCol->iMin || pV->i > pCol->iMax)) {
      svError(p, "%s must be between %lld and %lld (got %lld)", pCol->zName,
              pCol->iMin, pCol->iMax, pV->i);
      return SQLITE_CONSTRAINT;
    }
    return SQLITE_OK;
  case STATEVTAB_NUM:
    if (pV->eType == SQLITE_TEXT && pArg) {
      int t = sqlite3_value_numeric_type(pArg);
      if (t == SQLITE_INTEGER || t == SQLITE_FLOAT) {
        return sv_value_from_sqlite(pArg, pV);
      }
    }
    if (pV->eType != SQLITE_INTEGER && pV->eType != SQLITE_FLOAT) {
      svError(p, "%s must be a number (got %s)", pCol->zName,
              typeName(pV->eType));
      return SQLITE_MISMATCH;
    }
    return SQLITE_OK;
  default: /* TEXT, JSON */
    if (pV->eType == SQLITE_BLOB) {
      svError(p, "%s must be text (got BLOB)", pCol->zName);
      return SQLITE_MISMATCH;
    }
    if (pV->eType != SQLITE_TEXT) {
      if (!pArg) return SQLITE_OK;
      pV->z = (const char *)sqlite3_value_text(pArg);
      pV->n = sqlite3_value_bytes(pArg);
      if (!pV->z) return SQLITE_NOMEM;
      pV->eType = SQLITE_TEXT;
    }
    if (pCol->eType == STATEVTAB_JSON) {
      int e = sv_json_check(pV->z, pV->n);
      if (e != SV_JSON_OK) {
        svError(p, "%s %s", pCol->zName, sv_json_problem(e));
        return SQLITE_ERROR;
      }
    }
    if (pCol->azEnum) {
      int k;
      for (k = 0; pCol->azEnum[k]; k++) {
        if ((int)strlen(pCol->azEnum[k]) == pV->n &&
            memcmp(pCol->azEnum[k], pV->z, (size_t)pV->n) == 0) {
          return SQLITE_OK;
        }
      }
      {
        sqlite3_str *s = sqlite3_str_new(0);
        char *zList;
        for (k = 0; pCol->azEnum[k]; k++) {
          sqlite3_str_appendf(s, "%s%s", k ? ", " : "", pCol->azEnum[k]);
        }
        zList = sqlite3_str_finish(s);
        if (!zList) return SQLITE_NOMEM;
        svError(p, "%s must be one of %s (got '%.40s')", pCol->zName, zList,
                pV->z);
        sqlite3_free(zList);
      }
      return SQLITE_CONSTRAINT;
    }
    return SQLITE_OK;
  }
}

/* Set *pV to column pCol's declared default (zDefault), typed. */
static void defaultValue(const statevtab_column *pCol, statevtab_value *pV) {
  memset(pV, 0, sizeof(*pV));
  if (!pCol->zDefault) {
    pV->eType = SQLITE_NULL;
  } else if (pCol->eType == STATEVTAB_INT || pCol->eType == STATEVTAB_BOOL ||
             pCol->eType == STATEVTAB_NUM) {
    pV->eType = SQLITE_INTEGER;
    pV->i = strtoll(pCol->zDefault, 0, 10);
  } else {
    pV->eType = SQLITE_TEXT;
    pV->z = pCol->zDefault;
    pV->n = (int)strlen(pCol->zDefault);
  }
}

static int textIs(const statevtab_value *v, const char *z) {
  return v->eType == SQLITE_TEXT && (int)strlen(z) == v->n &&
         memcmp(v->z, z, (size_t)v->n) == 0;
}

/*
** Lifecycle rules of executions and tasks, applied to every written row:
** an execution entering 'running' gets started_at; an execution or task
** entering a final state (SV_FINAL_STATES, policy.h) gets completed_at
** (unless the writer set them).
*/
static void applyRules(const statevtab_entity *e, statevtab_value *aRow,
                       sqlite3_int64 now) {
  int iState = sv_entity_col(e, STATEVTAB_COL_STATE);
  int iStarted, iCompleted;
  if (iState < 0 || aRow[iState].eType != SQLITE_TEXT) return;
  iStarted = sv_entity_col(e, STATEVTAB_COL_STARTED);
  iCompleted = sv_entity_col(e, STATEVTAB_COL_FINISHED);
  if (iStarted >= 0 && aRow[iStarted].eType == SQLITE_NULL &&
      (textIs(&aRow[iState], "running") || textIs(&aRow[iState], "completed") ||
       textIs(&aRow[iState], "failed"))) {
    aRow[iStarted].eType = SQLITE_INTEGER;
    aRow[iStarted].i = now;
  }
#define SV_IS_FINAL_(z) || textIs(&aRow[iState], z)
  if (iCompleted >= 0 && aRow[iCompleted].eType == SQLITE_NULL &&
      (0 SV_FINAL_STATES(SV_IS_FINAL_))) {
#undef SV_IS_FINAL_
    aRow[iCompleted].eType = SQLITE_INTEGER;
    aRow[iCompleted].i = now;
  }
}

/* ----------------------------------------------------- create / connect */

/* Split "key=value" into a dequoted key and value. */
static int parseOption(sv_vtab *p, const char *zArg, char **pzKey,
                       char **pzVal) {
  const char *zEq = strchr(zArg, '=');
  char *zKey;
  int i;
  *pzKey = *pzVal = 0;
  if (!zEq) {
    svError(p, "malformed option '%s' (expected key=value)", zArg);
    return SQLITE_ERROR;
  }
  zKey = sv_dequote(zArg, (int)(zEq - zArg));
  if (!zKey) return SQLITE_NOMEM;
  for (i = 0; zKey[i]; i++) {
    char c = zKey[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32); /* keys are case-blind */
    if (!((c >= 'a' && c <= 'z') || c == '_' || (c >= '0' && c <= '9'))) break;
    zKey[i] = c;
  }
  if (zKey[0] == 0 || zKey[i]) {
    svError(p, "malformed option '%s' (expected key=value)", zArg);
    sqlite3_free(zKey);
    return SQLITE_ERROR;
  }
  *pzVal = sv_dequote(zEq + 1, (int)strlen(zEq + 1));
  if (!*pzVal) {
    sqlite3_free(zKey);
    return SQLITE_NOMEM;
  }
  *pzKey = zKey;
  return SQLITE_OK;
}

static void vtabFree(sv_vtab *p) {
  int i;
  if (!p) return;
  if (p->pTab) p->pRef->pStore->pMethods->xDetach(p->pTab);
  if (p->pRef) sv_store_release(p->pConn, p->pRef);
  for (i = 0; i < 2 * p->nOpt; i++) sqlite3_free(p->azOpt[i]);
  sqlite3_free(p->azOpt);
  sqlite3_free(p->zDb);
  sqlite3_free(p->zName);
  sqlite3_free(p->zOpts);
  sqlite3_free(p->base.zErrMsg);
  if (p->xAuxFree) p->xAuxFree(p->pAux);
  sv_sched_free(p->pSchedCache);
  if (p->pConn) sv_conn_unref(p->pConn);
  sqlite3_free(p);
}

/* Declare the SQL shape of entity e. */
static int declareTable(sqlite3 *db, const statevtab_entity *e) {
  sqlite3_str *s = sqlite3_str_new(db);
  char *zSql;
  int i, rc;
  sqlite3_str_appendall(s, "CREATE TABLE x(");
  for (i = 0; i < e->nCol; i++) {
    const char *zType = "TEXT";
    switch (e->aCol[i].eType) {
    case STATEVTAB_INT:
    case STATEVTAB_BOOL:
      zType = "INTEGER";
      break;
    case STATEVTAB_NUM:
      zType = "NUMERIC";
      break;
    case STATEVTAB_ANY:
      zType = ""; /* no affinity: values compare as stored */
      break;
    default:
      break;
    }
    sqlite3_str_appendf(s, "%s\"%w\"%s%s", i ? ", " : "", e->aCol[i].zName,
                        zType[0] ? " " : "", zType);
  }
  sqlite3_str_appendall(s, ")");
  zSql = sqlite3_str_finish(s);
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_declare_vtab(db, zSql);
  sqlite3_free(zSql);
  return rc;
}

/*
** CREATE VIRTUAL TABLE of a tasks table with dead_letters=zOpt (zKind
** "state_dead_letters") or schedules=zOpt ("state_schedules"): zOpt must
** name ("name" or "schema.name") a table of that kind on the same store,
** which must exist by then, so that a typo is an error where it is made
** rather than at the first task that dies or the first claim.  (A later
** xConnect does not check: the functions report a table dropped since.)
** SQLITE_OK, SQLITE_NOMEM, or SQLITE_ERROR with the table's message set.
*/
static int checkLinkedHeld(sv_vtab *p, const char *zOptName, const char *zKind,
                           const char *zOpt) {
  char *zErr = 0;
  sv_vtab *pOther;
  if (zOpt[0] == 0 || zOpt[strlen(zOpt) - 1] == '.') {
    svError(p, "%s must name a %s table", zOptName, zKind);
    return SQLITE_ERROR;
  }
  pOther = sv_find_in_schema(p, zOpt, zKind, &zErr);
  if (!pOther) {
    if (!zErr) return SQLITE_NOMEM;
    svError(p, "%s: %s%s%s%s", zOptName, zErr,
            strncmp(zErr, "no such table", 13) == 0 ? " (create the " : "",
            strncmp(zErr, "no such table", 13) == 0 ? zKind : "",
            strncmp(zErr, "no such table", 13) == 0 ? " table first)" : "");
    sqlite3_free(zErr);
    return SQLITE_ERROR;
  }
  if (pOther->pRef != p->pRef) {
    svError(p, "%s: '%s' is not on the same store as '%s'", zOptName, zOpt,
            p->zName);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* checkLinkedHeld, releasing the table it found. */
static int checkLinked(sv_vtab *p, const char *zOptName, const char *zKind,
                       const char *zOpt) {
  int iMark = p->pConn->nHeld, rc = checkLinkedHeld(p, zOptName, zKind, zOpt);
  sv_conn_release(p->pConn, iMark);
  return rc;
}

/*
** retain=: a duration -- digits, then ms, s, m, h or d (none: ms) -- into
** p->iRetainMs, on an entity with a retention column (STATEVTAB_COL_RETAIN).
*/
static int retainOption(sv_vtab *p, const char *zVal) {
  if (sv_entity_col(p->pEntity, STATEVTAB_COL_RETAIN) < 0) {
    svError(p, "unknown option 'retain' (only state_tasks, state_executions, "
               "state_signals and state_dead_letters have it)");
    return SQLITE_ERROR;
  }
  if (sv_parse_period(zVal, (int)strlen(zVal), &p->iRetainMs)) {
    return SQLITE_OK;
  }
  svError(p,
          "retain: expected a period such as 7d, 12h, 30m, 90s or 500ms "
          "(a number alone is milliseconds), above 0 and at most %lld ms "
          "(got '%s')",
          SV_MS_MAX, zVal);
  return SQLITE_ERROR;
}

/*
** With retain=, the store needs an index of the retention column: when the
** column's index is built only on request (STATEVTAB_COL_OPTIDX), add the
** column to the store's indexes= option (the first nStore of azOpt are the
** store's; ours follow).
*/
static int retainIndex(sv_vtab *p, int nStore) {
  const statevtab_entity *e = p->pEntity;
  int iCol = sv_entity_col(e, STATEVTAB_COL_RETAIN), i;
  char **az, *zNew;
  if (!(e->aCol[iCol].flags & STATEVTAB_COL_OPTIDX)) return SQLITE_OK;
  for (i = 0; i < nStore; i++) {
    if (strcmp(p->azOpt[2 * i], "indexes") == 0) {
      zNew = sqlite3_mprintf("%s,%s", p->azOpt[2 * i + 1], e->aCol[iCol].zName);
      if (!zNew) return SQLITE_NOMEM;
      sqlite3_free(p->azOpt[2 * i + 1]);
      p->azOpt[2 * i + 1] = zNew;
      return SQLITE_OK;
    }
  }
  /* None yet: a new pair, before ours. */
  az = sqlite3_realloc64(p->azOpt, sizeof(char *) * 2 * (size_t)(p->nOpt + 1));
  if (!az) return SQLITE_NOMEM;
  p->azOpt = az;
  memmove(&az[2 * nStore + 2], &az[2 * nStore],
          sizeof(char *) * 2 * (size_t)(p->nOpt - nStore));
  az[2 * nStore] = sqlite3_mprintf("indexes");
  az[2 * nStore + 1] = sqlite3_mprintf("%s", e->aCol[iCol].zName);
  p->nOpt++;
  if (!az[2 * nStore] || !az[2 * nStore + 1]) return SQLITE_NOMEM;
  return SQLITE_OK;
}

/*
** xCreate and xConnect.  argv[0] module, argv[1] schema, argv[2] table,
** argv[3..] options "key=value".  "store" is ours; every other option goes
** to the store, which rejects the ones it does not know.
*/
static int vtabInit(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                    sqlite3_vtab **ppVtab, char **pzErr, int bCreate) {
  sv_modaux *pMod = (sv_modaux *)pAux;
  sv_vtab *p;
  const char *zStore = "sqlite:";
  char *zStoreOwned = 0;
  char *zErr = 0;
  const char *zDead, *zSched, *zSeg;
  int rc = SQLITE_OK, i, j, nOurs = 0;

  *ppVtab = 0;
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pConn = pMod->pConn;
  p->pConn->nRef++;
  p->pEntity = pMod->pEntity;
  p->zDb = sqlite3_mprintf("%s", argv[1]);
  p->zName = sqlite3_mprintf("%s", argv[2]);
  p->azOpt =
      sqlite3_malloc64(sizeof(char *) * 2 * (size_t)(argc > 3 ? argc - 3 : 1));
  if (!p->zDb || !p->zName || !p->azOpt) goto nomem;

  for (i = 3; i < argc; i++) {
    char *zKey, *zVal;
    if (argv[i][strspn(argv[i], " \t\n")] == 0) continue; /* "t()" */
    rc = parseOption(p, argv[i], &zKey, &zVal);
    if (rc != SQLITE_OK) goto error;
    for (j = 0; j < p->nOpt; j++) {
      if (strcmp(p->azOpt[2 * j], zKey) == 0) break;
    }
    if (j < p->nOpt || (strcmp(zKey, "store") == 0 && zStoreOwned)) {
      svError(p, "duplicate option '%s'", zKey);
      sqlite3_free(zKey);
      sqlite3_free(zVal);
      rc = SQLITE_ERROR;
      goto error;
    }
    if (strcmp(zKey, "store") == 0) {
      sqlite3_free(zKey);
      zStoreOwned = zVal;
      zStore = zVal;
    } else {
      p->azOpt[2 * p->nOpt] = zKey;
      p->azOpt[2 * p->nOpt + 1] = zVal;
      p->nOpt++;
    }
  }
  /* Move the options that are ours, not the store's, to the end. */
  for (i = 0, j = 0; i < p->nOpt; i++) {
    if (strcmp(p->azOpt[2 * i], "dead_letters") != 0 &&
        strcmp(p->azOpt[2 * i], "schedules") != 0 &&
        strcmp(p->azOpt[2 * i], "segments") != 0 &&
        strcmp(p->azOpt[2 * i], "retain") != 0) {
      char *zK = p->azOpt[2 * i], *zV = p->azOpt[2 * i + 1];
      p->azOpt[2 * i] = p->azOpt[2 * j];
      p->azOpt[2 * i + 1] = p->azOpt[2 * j + 1];
      p->azOpt[2 * j] = zK;
      p->azOpt[2 * j + 1] = zV;
      j++;
    }
  }
  nOurs = p->nOpt - j;
  zDead = zSched = zSeg = 0;
  for (i = j; i < p->nOpt; i++) {
    if (strcmp(p->azOpt[2 * i], "dead_letters") == 0) {
      zDead = p->azOpt[2 * i + 1];
      if (strcmp(p->pEntity->zModule, "state_tasks") != 0) {
        svError(p, "unknown option 'dead_letters' (only state_tasks has it)");
        rc = SQLITE_ERROR;
        goto error;
      }
    } else if (strcmp(p->azOpt[2 * i], "segments") == 0) {
      zSeg = p->azOpt[2 * i + 1];
      if (strcmp(p->pEntity->zModule, "state_flags") != 0) {
        svError(p, "unknown option 'segments' (only state_flags has it)");
        rc = SQLITE_ERROR;
        goto error;
      }
    } else if (strcmp(p->azOpt[2 * i], "schedules") == 0) {
      zSched = p->azOpt[2 * i + 1];
      if (strcmp(p->pEntity->zModule, "state_tasks") != 0) {
        svError(p, "unknown option 'schedules' (only state_tasks has it)");
        rc = SQLITE_ERROR;
        goto error;
      }
    } else {
      rc = retainOption(p, p->azOpt[2 * i + 1]);
      if (rc != SQLITE_OK) goto error;
    }
  }
  if (p->iRetainMs > 0) {
    /* The removal walks an index of the retention column: ask for it. */
    rc = retainIndex(p, j);
    if (rc != SQLITE_OK) goto error;
    j = p->nOpt - nOurs;
  }

  rc = sv_store_acquire(p->pConn, zStore, &p->pRef, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) svError(p, "%s", zErr);
    sqlite3_free(zErr);
    goto error;
  }
  if (bCreate && zDead) {
    rc = checkLinked(p, "dead_letters", "state_dead_letters", zDead);
    if (rc != SQLITE_OK) goto error;
  }
  if (bCreate && zSched) {
    rc = checkLinked(p, "schedules", "state_schedules", zSched);
    if (rc != SQLITE_OK) goto error;
  }
  if (bCreate && zSeg) {
    rc = checkLinked(p, "segments", "state_segments", zSeg);
    if (rc != SQLITE_OK) goto error;
  }
  /* The store sees its own options: not dead_letters=, schedules=,
  ** segments= and retain=, which are ours (the SQL functions read the
  ** linked tables' names from azOpt), and kept
  ** last by the loop above. */
  rc = p->pRef->pStore->pMethods->xAttach(
      p->pRef->pStore, p->pEntity, p->zDb, p->zName, p->nOpt - nOurs,
      (const char *const *)p->azOpt, bCreate, &p->pTab);
  if (rc != SQLITE_OK) {
    svStoreError(p, rc);
    p->pTab = 0;
    goto error;
  }
  p->pTab->pStore = p->pRef->pStore;
  p->pTab->pEntity = p->pEntity;

  rc = declareTable(db, p->pEntity);
  if (rc != SQLITE_OK) goto error;
  if (p->pConn->eEnc == 0) {
    sqlite3_stmt *pEnc = 0;
    p->pConn->eEnc = 2;
    if (sqlite3_prepare_v2(db, "PRAGMA encoding", -1, &pEnc, 0) == SQLITE_OK &&
        sqlite3_step(pEnc) == SQLITE_ROW &&
        sqlite3_stricmp((const char *)sqlite3_column_text(pEnc, 0), "UTF-8") ==
            0) {
      p->pConn->eEnc = 1;
    }
    sqlite3_finalize(pEnc);
  }
  /* We resolve OR IGNORE / OR REPLACE ourselves (sqlite3_vtab_on_conflict). */
  sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
  /* Neither SQLITE_VTAB_DIRECTONLY nor INNOCUOUS: views and triggers may
  ** use the table when the application trusts its schema
  ** (trusted_schema=ON: dashboards as views, an enqueue from a trigger in
  ** the business write's own transaction), and SQLite refuses them when it
  ** does not (trusted_schema=OFF, what an application opening files from
  ** others sets): a hostile file's view or trigger then cannot read or
  ** rewrite the queue when the application touches an innocent-looking
  ** table.  Which stores a table may reach at all is the allowlist's
  ** (statevtab_allow); the functions with side effects stay DIRECTONLY. */

  sqlite3_free(zStoreOwned);
  p->pNext = p->pConn->pTables;
  p->pConn->pTables = p;
  p->pConn->iRegGen++;
  *ppVtab = &p->base;
  return SQLITE_OK;

nomem:
  rc = SQLITE_NOMEM;
error:
  if (p->base.zErrMsg) {
    *pzErr = sqlite3_mprintf("%s", p->base.zErrMsg);
  } else if (rc != SQLITE_NOMEM) {
    *pzErr = sqlite3_mprintf("%s: %s", p->pEntity->zModule, sqlite3_errstr(rc));
  }
  sqlite3_free(zStoreOwned);
  vtabFree(p);
  return rc == SQLITE_CONSTRAINT ? SQLITE_ERROR : rc;
}

static int svCreate(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                    sqlite3_vtab **ppVtab, char **pzErr) {
  return vtabInit(db, pAux, argc, argv, ppVtab, pzErr, 1);
}

static int svConnect(sqlite3 *db, void *pAux, int argc, const char *const *argv,
                     sqlite3_vtab **ppVtab, char **pzErr) {
  return vtabInit(db, pAux, argc, argv, ppVtab, pzErr, 0);
}

static void unregister(sv_vtab *p) {
  sv_vtab **pp;
  p->pConn->iRegGen++;
  for (pp = &p->pConn->pTables; *pp; pp = &(*pp)->pNext) {
    if (*pp == p) {
      *pp = p->pNext;
      break;
    }
  }
}

/* Out of the registry; freed now, or at its last release (see nUse). */
static void vtabGone(sv_vtab *p) {
  unregister(p);
  if (p->nUse > 0) {
    p->bGone = 1;
  } else {
    vtabFree(p);
  }
}

static int svDisconnect(sqlite3_vtab *pVtab) {
  vtabGone((sv_vtab *)pVtab);
  return SQLITE_OK;
}

static int svDestroy(sqlite3_vtab *pVtab) {
  sv_vtab *p = (sv_vtab *)pVtab;
  int rc = p->pRef->pStore->pMethods->xDrop(p->pTab);
  if (rc != SQLITE_OK) return svStoreError(p, rc);
  vtabGone(p);
  return SQLITE_OK;
}

/* ----------------------------------------------------------- best index */

/*
** xBestIndex.  Every usable =, <, <=, >, >= and IS constraint, on any
** column, is handed to the store (stores filter exactly), so SQLite need not
** re-check it.  The plan is described twice:
**
**   idxNum, a bitmask:
**     0x01  SV_IDX_KEY     equality on the whole key: at most one row
**     0x02  SV_IDX_INDEXED equality or range on an indexed column
**     0x04  SV_IDX_ORDER   the store returns rows in ORDER BY order
**     0x08  SV_IDX_LIMIT   the last xFilter argument is a LIMIT
**
**   idxStr, space-separated terms that xFilter parses back, in argv order:
**     "<column><op>"  op is = < <= > >= or ?= (IS)
**     "order:<column>[-][,...]"  ('-' = descending)
**     "limit"
**     "cols:<column>[,...]"  only these columns are read (absent: all)
**
** so EXPLAIN QUERY PLAN reads like "INDEX 3:queue= state=".  Costs assume a
** table of a million rows: a key lookup reads one row, an indexed equality
** about 1%, an indexed range about 12%, anything else the whole table.
*/
#define SV_IDX_KEY 0x01
#define SV_IDX_INDEXED 0x02
#define SV_IDX_ORDER 0x04
#define SV_IDX_LIMIT 0x08

#define SV_ROWS_GUESS 1000000.0

static const char *opText(int op) {
  switch (op) {
  case SQLITE_INDEX_CONSTRAINT_EQ:
    return "=";
  case SQLITE_INDEX_CONSTRAINT_LT:
    return "<";
  case SQLITE_INDEX_CONSTRAINT_LE:
    return "<=";
  case SQLITE_INDEX_CONSTRAINT_GT:
    return ">";
  case SQLITE_INDEX_CONSTRAINT_GE:
    return ">=";
  case SQLITE_INDEX_CONSTRAINT_IS:
    return "?=";
  default:
    return 0;
  }
}

static int svBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  sv_vtab *p = (sv_vtab *)pVtab;
  const statevtab_entity *e = p->pEntity;
  sqlite3_str *s;
  double rows = SV_ROWS_GUESS, cost;
  int i, nArg = 0, bAllUsed = 1, iLimit = -1, bOffset = 0;
  int bKey0 = 0, bKey1 = 0, bIndexed = 0, idxNum = 0;

  s = sqlite3_str_new(0);
  for (i = 0; i < pInfo->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
    const char *zOp = opText(c->op);
    const statevtab_column *pCol;
    if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) {
      if (c->usable) iLimit = i;
      continue;
    }
    if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET) {
      bOffset = 1;
      continue;
    }
    if (!c->usable || !zOp || c->iColumn < 0) {
      bAllUsed = 0;
      continue;
    }
    /* Stores compare bytes: a constraint under another collation (NOCASE,
    ** RTRIM, ...) is left to SQLite. */
    {
      const char *zColl = sqlite3_vtab_collation(pInfo, i);
      if (zColl && sqlite3_stricmp(zColl, "BINARY") != 0) {
        bAllUsed = 0;
        continue;
      }
    }
    pCol = &e->aCol[c->iColumn];
    /* A column of any type is compared by SQLite itself: the remote stores
    ** keep its values as tagged text (sv_any_encode), which they cannot
    ** compare as SQLite compares values of mixed types. */
    if (pCol->eType == STATEVTAB_ANY) {
      bAllUsed = 0;
      continue;
    }
    pInfo->aConstraintUsage[i].argvIndex = ++nArg;
    pInfo->aConstraintUsage[i].omit = 1;
    sqlite3_str_appendf(s, "%s%s%s", nArg > 1 ? " " : "", pCol->zName, zOp);
    if (c->op == SQLITE_INDEX_CONSTRAINT_EQ ||
        c->op == SQLITE_INDEX_CONSTRAINT_IS) {
      if (c->iColumn == e->aiKey[0]) bKey0 = 1;
      if (e->nKey == 2 && c->iColumn == e->aiKey[1]) bKey1 = 1;
      if (pCol->flags & (STATEVTAB_COL_INDEXED | STATEVTAB_COL_KEY)) {
        bIndexed = 1;
        rows /= (c->iColumn == e->aiKey[0] && e->nKey == 1) ? rows : 100.0;
      } else {
        rows /= 4.0;
      }
    } else if (pCol->flags & (STATEVTAB_COL_INDEXED | STATEVTAB_COL_KEY)) {
      bIndexed = 1;
      rows /= 8.0;
    } else {
      rows /= 2.0;
    }
  }
  if (bKey0 && (e->nKey == 1 || bKey1)) {
    idxNum |= SV_IDX_KEY;
    rows = 1;
    pInfo->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
  } else if (bIndexed) {
    idxNum |= SV_IDX_INDEXED;
  }
  if (rows < 1) rows = 1;
  /* An indexed probe costs a seek plus the rows; a full scan reads them all
  ** and so costs more per row than the rows it returns. */
  cost = (idxNum & (SV_IDX_KEY | SV_IDX_INDEXED)) ? 10.0 + rows
                                                  : 2.0 * SV_ROWS_GUESS;

  for (i = 0; i < pInfo->nOrderBy; i++) {
    int iCol = pInfo->aOrderBy[i].iColumn;
    if (iCol < 0) break;                             /* rowid: SQLite sorts */
    if (e->aCol[iCol].eType == STATEVTAB_ANY) break; /* (as above) */
  }
  if (pInfo->nOrderBy > 0 && i == pInfo->nOrderBy &&
      (p->pRef->pStore->fCaps & STATEVTAB_CAP_ORDER)) {
    sqlite3_str_appendf(s, "%sorder:", sqlite3_str_length(s) ? " " : "");
    for (i = 0; i < pInfo->nOrderBy; i++) {
      sqlite3_str_appendf(s, "%s%s%s", i ? "," : "",
                          e->aCol[pInfo->aOrderBy[i].iColumn].zName,
                          pInfo->aOrderBy[i].desc ? "-" : "");
    }
    pInfo->orderByConsumed = 1;
    idxNum |= SV_IDX_ORDER;
  }
  /* LIMIT is safe to push only when the store sees every constraint and
  ** the order: otherwise SQLite would filter or sort after the cut.  With an
  ** OFFSET we leave both to SQLite. */
  if (iLimit >= 0 && bAllUsed && !bOffset &&
      (pInfo->nOrderBy == 0 || pInfo->orderByConsumed)) {
    sqlite3_value *pLim = 0;
    pInfo->aConstraintUsage[iLimit].argvIndex = ++nArg;
    pInfo->aConstraintUsage[iLimit].omit = 1;
    sqlite3_str_appendf(s, "%slimit", sqlite3_str_length(s) ? " " : "");
    idxNum |= SV_IDX_LIMIT;
    if (sqlite3_vtab_rhs_value(pInfo, iLimit, &pLim) == SQLITE_OK &&
        sqlite3_value_type(pLim) == SQLITE_INTEGER) {
      double lim = (double)sqlite3_value_int64(pLim);
      if (lim < rows) {
        if (!(idxNum & (SV_IDX_KEY | SV_IDX_INDEXED))) cost = cost * lim / rows;
        rows = lim < 1 ? 1 : lim;
      }
    }
  }
  {
    /* Columns the statement reads, when not all: the store may skip the
    ** others (count(*) then never touches the rows). */
    sqlite3_uint64 all = e->nCol >= 64 ? ~(sqlite3_uint64)0
                                       : (((sqlite3_uint64)1) << e->nCol) - 1;
    if ((pInfo->colUsed & all) != all && e->nCol < 63) {
      int bFirst = 1;
      sqlite3_str_appendf(s, "%scols:", sqlite3_str_length(s) ? " " : "");
      for (i = 0; i < e->nCol; i++) {
        if (!(pInfo->colUsed & (((sqlite3_uint64)1) << i))) continue;
        sqlite3_str_appendf(s, "%s%s", bFirst ? "" : ",", e->aCol[i].zName);
        bFirst = 0;
      }
    }
  }
  pInfo->idxNum = idxNum;
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return SQLITE_NOMEM;
  }
  /* An empty sqlite3_str finishes as NULL: a full scan has no idxStr. */
  pInfo->idxStr = sqlite3_str_finish(s);
  pInfo->needToFreeIdxStr = pInfo->idxStr != 0;
  pInfo->estimatedRows = (sqlite3_int64)rows;
  pInfo->estimatedCost = cost;
  return SQLITE_OK;
}

/* -------------------------------------------------------------- cursors */

static int svOpen(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  sv_vtab *p = (sv_vtab *)pVtab;
  sv_cursor *pCur;
  int rc;
  pCur = sqlite3_malloc64(sizeof(*pCur));
  if (!pCur) return SQLITE_NOMEM;
  memset(pCur, 0, sizeof(*pCur));
  rc = p->pRef->pStore->pMethods->xOpenCursor(p->pTab, &pCur->pCur);
  if (rc != SQLITE_OK) {
    sqlite3_free(pCur);
    return svStoreError(p, rc);
  }
  pCur->pCur->pTab = p->pTab;
  *ppCursor = &pCur->base;
  return SQLITE_OK;
}

static int svClose(sqlite3_vtab_cursor *cur) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  p->pRef->pStore->pMethods->xCloseCursor(pCur->pCur);
  sqlite3_free(pCur->aCons);
  sqlite3_free(pCur);
  return SQLITE_OK;
}

static int parseOp(const char *z, int *pOp) {
  if (z[0] == '=') {
    *pOp = STATEVTAB_EQ;
    return 1;
  }
  if (z[0] == '?' && z[1] == '=') {
    *pOp = STATEVTAB_IS;
    return 2;
  }
  if (z[0] == '<' && z[1] == '=') {
    *pOp = STATEVTAB_LE;
    return 2;
  }
  if (z[0] == '>' && z[1] == '=') {
    *pOp = STATEVTAB_GE;
    return 2;
  }
  if (z[0] == '<') {
    *pOp = STATEVTAB_LT;
    return 1;
  }
  if (z[0] == '>') {
    *pOp = STATEVTAB_GT;
    return 1;
  }
  return 0;
}

/* Length of the column name at z (letters, digits, '_'). */
static int nameLen(const char *z) {
  int n = 0;
  while ((z[n] >= 'a' && z[n] <= 'z') || z[n] == '_' ||
         (z[n] >= '0' && z[n] <= '9'))
    n++;
  return n;
}

static int colByName(const statevtab_entity *e, const char *z, int n) {
  int i;
  for (i = 0; i < e->nCol; i++) {
    if ((int)strlen(e->aCol[i].zName) == n &&
        memcmp(e->aCol[i].zName, z, (size_t)n) == 0)
      return i;
  }
  return -1;
}

/* xFilter: parse idxStr back (see svBestIndex) and start the store scan. */
static int svFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                    int argc, sqlite3_value **argv) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  const statevtab_entity *e = p->pEntity;
  statevtab_order aOrder[32];
  statevtab_scan scan;
  const char *z = idxStr ? idxStr : "";
  int nCons = 0, nOrder = 0, iArg = 0, rc, i;
  int nNeed = argc + 1;

  if (pCur->nConsAlloc < nNeed) {
    statevtab_cons *aNew =
        sqlite3_realloc64(pCur->aCons, sizeof(statevtab_cons) * (size_t)nNeed);
    if (!aNew) return SQLITE_NOMEM;
    pCur->aCons = aNew;
    pCur->nConsAlloc = nNeed;
  }
  memset(&scan, 0, sizeof(scan));
  scan.nLimit = -1;
  scan.colUsed = ~(sqlite3_uint64)0;
  while (*z) {
    int n;
    if (*z == ' ') {
      z++;
      continue;
    }
    if (strncmp(z, "limit", 5) == 0 && (z[5] == 0 || z[5] == ' ') &&
        (idxNum & SV_IDX_LIMIT)) {
      if (iArg < argc) scan.nLimit = sqlite3_value_int64(argv[iArg++]);
      z += 5;
      continue;
    }
    if (strncmp(z, "cols:", 5) == 0) {
      scan.colUsed = 0;
      z += 5;
      while (*z && *z != ' ') {
        n = nameLen(z);
        i = colByName(e, z, n);
        if (i < 0) return SQLITE_INTERNAL;
        scan.colUsed |= ((sqlite3_uint64)1) << i;
        z += n;
        if (*z == ',') z++;
      }
      continue;
    }
    if (strncmp(z, "order:", 6) == 0) {
      z += 6;
      while (*z && *z != ' ') {
        n = nameLen(z);
        i = colByName(e, z, n);
        if (i < 0 || nOrder >= (int)(sizeof(aOrder) / sizeof(aOrder[0])))
          return SQLITE_INTERNAL;
        aOrder[nOrder].iCol = i;
        aOrder[nOrder].bDesc = z[n] == '-';
        nOrder++;
        z += n + (z[n] == '-');
        if (*z == ',') z++;
      }
      continue;
    }
    n = nameLen(z);
    i = colByName(e, z, n);
    if (i < 0 || iArg >= argc) return SQLITE_INTERNAL;
    {
      statevtab_cons *c = &pCur->aCons[nCons];
      int nOp = parseOp(z + n, &c->op);
      if (!nOp) return SQLITE_INTERNAL;
      c->iCol = i;
      rc = sv_value_from_sqlite(argv[iArg++], &c->v);
      if (rc != SQLITE_OK) return rc;
      nCons++;
      z += n + nOp;
    }
  }
  /* Rows past their expiry are invisible: add the liveness test. */
  if ((i = sv_entity_col(e, STATEVTAB_COL_EXPIRES)) >= 0) {
    statevtab_cons *c = &pCur->aCons[nCons++];
    memset(c, 0, sizeof(*c));
    c->iCol = i;
    c->op = STATEVTAB_ALIVE;
    c->v.eType = SQLITE_INTEGER;
    c->v.i = sv_now_ms();
  }
  /* A key lookup finds one row at most: the store need not look further. */
  if ((idxNum & SV_IDX_KEY) && scan.nLimit < 0) scan.nLimit = 1;
  scan.zPlan = idxStr ? idxStr : "";
  scan.nCons = nCons;
  scan.aCons = pCur->aCons;
  scan.nOrder = nOrder;
  scan.aOrder = aOrder;
  rc = p->pRef->pStore->pMethods->xFilter(pCur->pCur, &scan);
  return rc == SQLITE_OK ? rc : svStoreError(p, rc);
}

static int svNext(sqlite3_vtab_cursor *cur) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  int rc = p->pRef->pStore->pMethods->xNext(pCur->pCur);
  return rc == SQLITE_OK ? rc : svStoreError(p, rc);
}

static int svEof(sqlite3_vtab_cursor *cur) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  return p->pRef->pStore->pMethods->xEof(pCur->pCur);
}

static int svColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  const statevtab_store_methods *m = p->pRef->pStore->pMethods;
  statevtab_value v;
  int rc;
  if (m->xColumnValue) {
    sqlite3_value *pVal = m->xColumnValue(pCur->pCur, i);
    if (pVal) {
      /* Not sqlite3_result_value(): for text it reallocates the result's
      ** buffer on every row, where sqlite3_result_text() reuses it.  (The
      ** value belongs to a statement of this same connection, whose mutex
      ** we hold, so reading it here is safe.) */
      switch (sqlite3_value_type(pVal)) {
      case SQLITE_INTEGER:
        sqlite3_result_int64(ctx, sqlite3_value_int64(pVal));
        break;
      case SQLITE_FLOAT:
        sqlite3_result_double(ctx, sqlite3_value_double(pVal));
        break;
      case SQLITE_TEXT: {
        /* A result given with length -1 is copied with its terminator, so
        ** the caller's sqlite3_column_text() need not reallocate it to add
        ** one (a third of a scan's time).  Only for text without a NUL:
        ** -1 would cut it there. */
        const unsigned char *z = sqlite3_value_text(pVal);
        int n = sqlite3_value_bytes(pVal);
        if (!z) return SQLITE_NOMEM;
        sqlite3_result_text(ctx, (const char *)z,
                            memchr(z, 0, (size_t)n) ? n : -1, SQLITE_TRANSIENT);
        break;
      }
      case SQLITE_BLOB: {
        const void *z = sqlite3_value_blob(pVal); /* NULL when empty */
        sqlite3_result_blob(ctx, z ? z : "", sqlite3_value_bytes(pVal),
                            SQLITE_TRANSIENT);
        break;
      }
      default:
        sqlite3_result_null(ctx);
        break;
      }
      return SQLITE_OK;
    }
  }
  rc = m->xColumn(pCur->pCur, i, &v);
  if (rc != SQLITE_OK) return svStoreError(p, rc);
  sv_value_result(ctx, &v);
  return SQLITE_OK;
}

static int svRowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  sv_cursor *pCur = (sv_cursor *)cur;
  sv_vtab *p = (sv_vtab *)cur->pVtab;
  int rc = p->pRef->pStore->pMethods->xRowid(pCur->pCur, pRowid);
  return rc == SQLITE_OK ? rc : svStoreError(p, rc);
}

/* --------------------------------------------------------------- writes */

/*
** Fill aRow (one value per entity column) from apArg, validated, converted
** and defaulted for an insert (bInsert) or an update (bIgnore: OR IGNORE).
*apArg[i] may be NULL
** for SQL NULL.  zId (>= 40 bytes) receives a generated id, which aRow may
** point into.  Returns SQLITE_OK; SQLITE_DONE when a NOT NULL violation is
** to be ignored (INSERT OR IGNORE); or an error left in p.
*/
static int buildRow(sv_vtab *p, int bInsert, int bIgnore, sqlite3_value **apArg,
                    statevtab_value *aRow, char *zId) {
  const statevtab_entity *e = p->pEntity;
  sqlite3_int64 now = sv_now_ms();
  int rc, i;
  for (i = 0; i < e->nCol; i++) {
    const statevtab_column *pCol = &e->aCol[i];
    statevtab_value *v = &aRow[i];
    if (apArg[i]) {
      rc = sv_value_from_sqlite(apArg[i], v);
      if (rc != SQLITE_OK) return rc;
    } else {
      memset(v, 0, sizeof(*v));
      v->eType = SQLITE_NULL;
    }
    if (pCol->flags & STATEVTAB_COL_UPDATED) {
      if (!bInsert || v->eType == SQLITE_NULL) {
        v->eType = SQLITE_INTEGER;
        v->i = now;
        continue;
      }
    }
    if (v->eType == SQLITE_NULL && bInsert) {
      if (pCol->flags & STATEVTAB_COL_AUTOID) {
        sv_gen_id(&p->pConn->idgen, zId);
        v->eType = SQLITE_TEXT;
        v->z = zId;
        v->n = 36;
        v->bGenerated = 1; /* (see statevtab_value) */
        continue;
      }
      if (pCol->flags & STATEVTAB_COL_CREATED) {
        v->eType = SQLITE_INTEGER;
        v->i = now;
        continue;
      }
      if (pCol->flags & STATEVTAB_COL_VERSION) continue; /* store: 1 */
      defaultValue(pCol, v);
    }
    rc = coerceValue(p, pCol, apArg[i], v);
    if (rc != SQLITE_OK) return rc == SQLITE_MISMATCH ? SQLITE_ERROR : rc;
  }
  applyRules(e, aRow, now);
  for (i = 0; i < e->nCol; i++) {
    if ((e->aCol[i].flags & STATEVTAB_COL_NOTNULL) &&
        !(e->aCol[i].flags & STATEVTAB_COL_VERSION) &&
        aRow[i].eType == SQLITE_NULL) {
      if (bIgnore) return SQLITE_DONE;
      svError(p, "NOT NULL constraint failed: %s", e->aCol[i].zName);
      return SQLITE_CONSTRAINT;
    }
  }
  return SQLITE_OK;
}

/*
** For the SQL functions: build an insertable row of table p from apArg (one
** sqlite3_value or NULL per column).  On error returns the code and sets
** *pzErr (sqlite3_malloc'd, what was wrong without the "<module>: " that
** svError puts before it for the table's own statements; NULL on OOM).
*/
int sv_make_row(sv_vtab *p, sqlite3_value **apArg, statevtab_value *aRow,
                char *zId, char **pzErr) {
  int rc = buildRow(p, 1, 0, apArg, aRow, zId);
  *pzErr = 0;
  if (rc != SQLITE_OK) {
    size_t n = strlen(p->pEntity->zModule) + 2;
    const char *z = p->base.zErrMsg;
    *pzErr = z && strlen(z) >= n ? sqlite3_mprintf("%s", z + n) : 0;
    sqlite3_free(p->base.zErrMsg);
    p->base.zErrMsg = 0;
    if (rc == SQLITE_DONE) rc = SQLITE_CONSTRAINT;
  }
  return rc;
}

/*
** A schedules row about to be written: check its cron expression and time
** zone, and compute next_run (sv_sched_check_row), reading the row as it
** was for an UPDATE.
*/
static int schedRow(sv_vtab *p, int bInsert, statevtab_value *aRow) {
  statevtab_value *aOld = 0;
  char *zErr = 0;
  int rc = SQLITE_OK;
  if (!bInsert) {
    rc = sv_read_row(p, &aRow[SV_SCHED_NAME], &aOld);
    if (rc != SQLITE_OK) return svStoreError(p, rc);
  }
  rc = sv_sched_check_row(aOld, aRow, &zErr);
  if (rc == SQLITE_ERROR) svError(p, "%s", zErr);
  sqlite3_free(zErr);
  sqlite3_free(aOld);
  return rc;
}

/*
** A tasks row about to be written: check depends_on (sv_deps_check).  An
** INSERT's pending or waiting state is the store's to decide from it; an
** UPDATE may not change depends_on nor make a task 'waiting' (only an
** INSERT with depends_on does), which needs the row as it was -- read only
** when the new row has a depends_on or says 'waiting'.
*/
static int depsRow(sv_vtab *p, int bInsert, const statevtab_value *aRow) {
  const statevtab_value *pDeps = &aRow[SV_TASK_DEPENDS_ON];
  int bWaiting = textIs(&aRow[SV_TASK_STATE], "waiting");
  statevtab_value *aOld = 0;
  int rc = SQLITE_OK;
  if (pDeps->eType == SQLITE_TEXT) {
    char *zErr = 0;
    int nDeps;
    rc = sv_deps_check(pDeps->z, pDeps->n, &aRow[SV_TASK_ID], &nDeps, &zErr);
    if (rc == SQLITE_ERROR) svError(p, "%s", zErr);
    sqlite3_free(zErr);
    if (rc != SQLITE_OK) return rc;
  }
  if (bInsert && bWaiting && pDeps->eType != SQLITE_TEXT) {
    svError(p, "state 'waiting' needs depends_on (the tasks it waits for)");
    return SQLITE_ERROR;
  }
  if (bInsert || (pDeps->eType != SQLITE_TEXT && !bWaiting)) return rc;
  rc = sv_read_row(p, &aRow[SV_TASK_ID], &aOld);
  if (rc != SQLITE_OK) return svStoreError(p, rc);
  if (aOld) {
    const statevtab_value *pOld = &aOld[SV_TASK_DEPENDS_ON];
    if (pOld->eType != pDeps->eType ||
        (pOld->eType == SQLITE_TEXT &&
         (pOld->n != pDeps->n ||
          memcmp(pOld->z, pDeps->z, (size_t)pOld->n) != 0))) {
      svError(p, "depends_on cannot be changed by UPDATE (insert a new task)");
      rc = SQLITE_ERROR;
    } else if (bWaiting && !textIs(&aOld[SV_TASK_STATE], "waiting")) {
      svError(p, "state 'waiting' is set by an INSERT with depends_on, not "
                 "by UPDATE");
      rc = SQLITE_ERROR;
    }
  }
  sqlite3_free(aOld);
  return rc;
}

/*
** A segments row about to be written: its constraints (well-formed JSON by
** now) must be an array of objects, as Unleash's segment constraints are,
** so that a definition that no evaluation could read is refused where it
** is written.  SQLITE_OK, or SQLITE_ERROR with the message set.
*/
static int segmentRow(sv_vtab *p, const statevtab_value *aRow) {
  const statevtab_value *v = &aRow[SV_SEG_CONSTRAINTS];
  const char *z = v->z;
  int i = 0, n = v->n, iDepth = 0, iElem = 0, bStr = 0, bWant = 1;
  while (i < n && (z[i] == ' ' || z[i] == '\t' || z[i] == '\n' || z[i] == '\r'))
    i++;
  if (v->eType != SQLITE_TEXT || i >= n || z[i] != '[') {
    svError(p, "constraints must be a JSON array of constraint objects");
    return SQLITE_ERROR;
  }
  /* Walk the well-formed text: each element at depth 1 must open with '{'. */
  for (i++; i < n; i++) {
    char c = z[i];
    if (bStr) {
      if (c == '\\')
        i++;
      else if (c == '"')
        bStr = 0;
      continue;
    }
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') continue;
    if (iDepth == 0 && bWant) {
      if (c == ']') break; /* [] */
      if (c != '{') {
        svError(p, "constraints[%d] must be a JSON object (a constraint)",
                iElem);
        return SQLITE_ERROR;
      }
      bWant = 0;
    }
    if (c == '"') {
      bStr = 1;
    } else if (c == '{' || c == '[') {
      iDepth++;
    } else if (c == '}' || c == ']') {
      if (iDepth-- == 0) break;
    } else if (c == ',' && iDepth == 0) {
      bWant = 1;
      iElem++;
    }
  }
  return SQLITE_OK;
}

/*
** xUpdate.  argc==1: DELETE argv[0].  argv[0] NULL: INSERT.  Otherwise
** UPDATE of rowid argv[0].  argv[2..] are the column values, which are
** validated, converted and defaulted here from the entity descriptor before
** the store sees them.  The rowid is the store's handle and cannot be set.
*/
static int svUpdate(sqlite3_vtab *pVtab, int argc, sqlite3_value **argv,
                    sqlite3_int64 *pRowid) {
  sv_vtab *p = (sv_vtab *)pVtab;
  const statevtab_store_methods *m = p->pRef->pStore->pMethods;
  statevtab_value aRow[SV_MAX_COLUMNS];
  char zId[40];
  int bInsert, eConflict, bDone = 1, rc;

  p->iWriteGen++; /* caches of this table's rows are stale now */
  if (argc == 1) {
    rc = m->xDelete(p->pTab, sqlite3_value_int64(argv[0]));
    return rc == SQLITE_OK ? rc : svStoreError(p, rc);
  }
  bInsert = sqlite3_value_type(argv[0]) == SQLITE_NULL;
  if (!bInsert &&
      sqlite3_value_int64(argv[0]) != sqlite3_value_int64(argv[1])) {
    svError(p, "the rowid cannot be changed");
    return SQLITE_ERROR;
  }
  switch (sqlite3_vtab_on_conflict(p->pConn->db)) {
  case SQLITE_IGNORE:
    eConflict = STATEVTAB_CONFLICT_IGNORE;
    break;
  case SQLITE_REPLACE:
    eConflict = STATEVTAB_CONFLICT_REPLACE;
    break;
  default:
    eConflict = STATEVTAB_CONFLICT_ABORT;
    break;
  }
  rc = buildRow(p, bInsert, eConflict == STATEVTAB_CONFLICT_IGNORE, &argv[2],
                aRow, zId);
  if (rc == SQLITE_DONE) return SQLITE_CONSTRAINT; /* OR IGNORE: skipped */
  if (rc != SQLITE_OK) return rc;
  if (p->pEntity == sv_entity_schedules) {
    rc = schedRow(p, bInsert, aRow);
    if (rc != SQLITE_OK) return rc;
  }
  if (p->pEntity == sv_entity_tasks) {
    rc = depsRow(p, bInsert, aRow);
    if (rc != SQLITE_OK) return rc;
  }
  if (p->pEntity == sv_entity_segments) {
    rc = segmentRow(p, aRow);
    if (rc != SQLITE_OK) return rc;
  }
  if (bInsert) {
    sqlite3_int64 iRowid = 0;
    rc = m->xInsert(p->pTab, aRow, eConflict, &iRowid, &bDone);
    if (rc == SQLITE_OK && bDone) *pRowid = iRowid;
  } else {
    rc = m->xUpdate(p->pTab, sqlite3_value_int64(argv[0]), aRow, eConflict,
                    &bDone);
  }
  if (rc != SQLITE_OK) return svStoreError(p, rc);
  /* A step of retain=, at an INSERT (an UPDATE or DELETE is walking the
  ** table, which a removal would change under it). */
  if (bInsert) sv_table_maintain(p);
  /* Under OR IGNORE, SQLITE_CONSTRAINT tells SQLite that the row was
  ** skipped, so that changes() does not count it. */
  return (!bDone && eConflict == STATEVTAB_CONFLICT_IGNORE) ? SQLITE_CONSTRAINT
                                                            : SQLITE_OK;
}

/* --------------------------------------------------------- transactions */

#define FORWARD(NAME, CALL)                                                    \
  static int NAME(sqlite3_vtab *pVtab) {                                       \
    sv_vtab *p = (sv_vtab *)pVtab;                                             \
    const statevtab_store_methods *m = p->pRef->pStore->pMethods;              \
    int rc = m->CALL ? m->CALL(p->pTab) : SQLITE_OK;                           \
    return rc == SQLITE_OK ? rc : svStoreError(p, rc);                         \
  }
FORWARD(svBegin_, xBegin)
FORWARD(svSync, xSync)
FORWARD(svCommit_, xCommit)
FORWARD(svRollback_, xRollback)

/* (bInTxn: see sv_table_join.) */
static int svBegin(sqlite3_vtab *pVtab) {
  int rc = svBegin_(pVtab);
  if (rc == SQLITE_OK) ((sv_vtab *)pVtab)->bInTxn = 1;
  return rc;
}
static int svCommit(sqlite3_vtab *pVtab) {
  ((sv_vtab *)pVtab)->bInTxn = 0;
  return svCommit_(pVtab);
}
static int svRollback(sqlite3_vtab *pVtab) {
  ((sv_vtab *)pVtab)->bInTxn = 0;
  return svRollback_(pVtab);
}

#define FORWARD_SAVE(NAME, CALL)                                               \
  static int NAME(sqlite3_vtab *pVtab, int iSave) {                            \
    sv_vtab *p = (sv_vtab *)pVtab;                                             \
    const statevtab_store_methods *m = p->pRef->pStore->pMethods;              \
    int rc = m->CALL ? m->CALL(p->pTab, iSave) : SQLITE_OK;                    \
    return rc == SQLITE_OK ? rc : svStoreError(p, rc);                         \
  }
FORWARD_SAVE(svSavepoint, xSavepoint)
FORWARD_SAVE(svRelease, xRelease)
FORWARD_SAVE(svRollbackTo, xRollbackTo)

static int svRename(sqlite3_vtab *pVtab, const char *zNew) {
  sv_vtab *p = (sv_vtab *)pVtab;
  char *zName = sqlite3_mprintf("%s", zNew);
  int rc;
  if (!zName) return SQLITE_NOMEM;
  rc = p->pRef->pStore->pMethods->xRename(p->pTab, zNew);
  if (rc != SQLITE_OK) {
    sqlite3_free(zName);
    return svStoreError(p, rc);
  }
  sqlite3_free(p->zName);
  p->zName = zName;
  return SQLITE_OK;
}

/* Shadow tables are the local store's (the only one that keeps tables in
** the SQLite database): it names their suffixes. */
static int svShadowName(const char *zSuffix) {
  return sv_local_shadow_name(zSuffix);
}

static const sqlite3_module svModule = {
    /* iVersion    */ 3,
    /* xCreate     */ svCreate,
    /* xConnect    */ svConnect,
    /* xBestIndex  */ svBestIndex,
    /* xDisconnect */ svDisconnect,
    /* xDestroy    */ svDestroy,
    /* xOpen       */ svOpen,
    /* xClose      */ svClose,
    /* xFilter     */ svFilter,
    /* xNext       */ svNext,
    /* xEof        */ svEof,
    /* xColumn     */ svColumn,
    /* xRowid      */ svRowid,
    /* xUpdate     */ svUpdate,
    /* xBegin      */ svBegin,
    /* xSync       */ svSync,
    /* xCommit     */ svCommit,
    /* xRollback   */ svRollback,
    /* xFindMethod */ 0,
    /* xRename     */ svRename,
    /* xSavepoint  */ svSavepoint,
    /* xRelease    */ svRelease,
    /* xRollbackTo */ svRollbackTo,
    /* xShadowName */ svShadowName,
};

/* ------------------------------------------------------------- registry */

static void modauxDestroy(void *pAux) {
  sv_modaux *m = (sv_modaux *)pAux;
  sv_conn *pConn = m->pConn;
  sqlite3_free(m);
  sv_conn_unref(pConn);
}

/* Drop one reference to the connection state; free it with the last. */
void sv_conn_unref(void *pArg) {
  sv_conn *p = (sv_conn *)pArg;
  sv_schemeref *s;
  if (!p || --p->nRef > 0) return;
  sv_store_close_all(p);
  while ((s = p->pSchemes) != 0) {
    p->pSchemes = s->pNext;
    sqlite3_free(s);
  }
  sqlite3_free(p);
}

/*
** Register one module per entity.  Each holds a reference to pConn.
** Returns SQLITE_OK or the failing code, with the module name in the
** connection's error via *pzErr by the caller.
*/
int sv_register_modules(sqlite3 *db, sv_conn *pConn) {
  int i, rc;
  for (i = 0; i < sv_nEntity; i++) {
    sv_modaux *m = sqlite3_malloc64(sizeof(*m));
    if (!m) return SQLITE_NOMEM;
    m->pConn = pConn;
    m->pEntity = sv_aEntity[i];
    pConn->nRef++;
    rc = sqlite3_create_module_v2(db, sv_aEntity[i]->zModule, &svModule, m,
                                  modauxDestroy);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

static sv_vtab *lookup(sv_conn *pConn, const char *zDb, const char *zName) {
  sv_vtab *p, *pBest = 0;
  for (p = pConn->pTables; p; p = p->pNext) {
    if (sqlite3_stricmp(p->zName, zName) != 0) continue;
    if (zDb) {
      if (sqlite3_stricmp(p->zDb, zDb) == 0) return p;
    } else if (sqlite3_stricmp(p->zDb, "temp") == 0) {
      return p; /* temp shadows main, as in name resolution */
    } else if (!pBest || sqlite3_stricmp(p->zDb, "main") == 0) {
      pBest = p;
    }
  }
  return pBest;
}

/*
** Find the statevtab table zName ("table" or "schema.table") of kind zKind
** (a module name such as "state_tasks", or NULL for any).  SQLite connects
** virtual tables lazily, so when the table is not connected yet a statement
** naming it is prepared, which connects it.  Returns NULL with *pzErr set
** (sqlite3_malloc'd) when there is no such statevtab table.
*/
sv_vtab *sv_find_table(sv_conn *pConn, const char *zName, const char *zKind,
                       char **pzErr) {
  const char *zDot = strchr(zName, '.');
  char *zDb = 0;
  const char *zTab = zName;
  sv_vtab *p;
  *pzErr = 0;
  if (zDot) {
    zDb = sqlite3_mprintf("%.*s", (int)(zDot - zName), zName);
    if (!zDb) return 0;
    zTab = zDot + 1;
  }
  p = lookup(pConn, zDb, zTab);
  if (!p) {
    sqlite3_stmt *pStmt = 0;
    char *zSql =
        zDb ? sqlite3_mprintf("SELECT 1 FROM \"%w\".\"%w\" LIMIT 0", zDb, zTab)
            : sqlite3_mprintf("SELECT 1 FROM \"%w\" LIMIT 0", zTab);
    int rc = zSql ? sqlite3_prepare_v2(pConn->db, zSql, -1, &pStmt, 0)
                  : SQLITE_NOMEM;
    sqlite3_free(zSql);
    sqlite3_finalize(pStmt);
    if (rc == SQLITE_OK) p = lookup(pConn, zDb, zTab);
    if (!p) {
      if (rc == SQLITE_NOMEM) {
        *pzErr = 0;
      } else if (rc == SQLITE_OK) {
        *pzErr = sqlite3_mprintf("'%s' is not a statevtab table", zName);
      } else {
        *pzErr = sqlite3_mprintf("no such table: %s", zName);
      }
    }
  }
  sqlite3_free(zDb);
  if (p && zKind && strcmp(p->pEntity->zModule, zKind) != 0) {
    *pzErr = sqlite3_mprintf("'%s' is a %s table, not %s", zName,
                             p->pEntity->zModule, zKind);
    return 0;
  }
  if (p && pConn->nHeld >= SV_MAX_HELD) {
    /* Never reached by the functions as written (two tables at most). */
    *pzErr = sqlite3_mprintf("more than %d tables in one call", SV_MAX_HELD);
    return 0;
  }
  if (p) {
    p->nUse++;
    pConn->apHeld[pConn->nHeld++] = p;
  }
  return p;
}

/*
** Release the tables held since pConn->nHeld was iMark (the start of a
** function call), freeing those SQLite disconnected meanwhile.
*/
void sv_conn_release(sv_conn *pConn, int iMark) {
  while (pConn->nHeld > iMark) {
    sv_vtab *p = pConn->apHeld[--pConn->nHeld];
    if (--p->nUse == 0 && p->bGone) vtabFree(p);
  }
}

/*
** sv_find_table for zName as a table named from inside table p ("name"
** is in p's schema, "schema.name" as it says).
*/
sv_vtab *sv_find_in_schema(sv_vtab *p, const char *zName, const char *zKind,
                           char **pzErr) {
  char *zFull = strchr(zName, '.') ? sqlite3_mprintf("%s", zName)
                                   : sqlite3_mprintf("%s.%s", p->zDb, zName);
  sv_vtab *pFound;
  *pzErr = 0;
  if (!zFull) return 0;
  pFound = sv_find_table(p->pConn, zFull, zKind, pzErr);
  sqlite3_free(zFull);
  return pFound;
}

/*
** Read the row of single-key table p whose key equals *pKey, for the SQL
** functions.  On success *paRow is NULL (no such row) or a copy of the row,
** one value per column, in one sqlite3_malloc block the caller frees.  On
** error the store's message is left in the store for the caller.
*/
int sv_read_row(sv_vtab *p, const statevtab_value *pKey,
                statevtab_value **paRow) {
  const statevtab_entity *e = p->pEntity;
  const statevtab_store_methods *m = p->pRef->pStore->pMethods;
  statevtab_cursor *pCur = 0;
  statevtab_cons cons;
  statevtab_scan scan;
  char zPlan[80];
  int rc, i;
  *paRow = 0;
  memset(&cons, 0, sizeof(cons));
  cons.iCol = e->aiKey[0];
  cons.op = STATEVTAB_EQ;
  cons.v = *pKey;
  memset(&scan, 0, sizeof(scan));
  /* The same plan text xBestIndex writes for a key lookup. */
  sqlite3_snprintf(sizeof(zPlan), zPlan, "%s=", e->aCol[e->aiKey[0]].zName);
  scan.zPlan = zPlan;
  scan.nCons = 1;
  scan.aCons = &cons;
  scan.nLimit = 1;
  scan.colUsed = ~(sqlite3_uint64)0;
  rc = m->xOpenCursor(p->pTab, &pCur);
  if (rc != SQLITE_OK) return rc;
  pCur->pTab = p->pTab;
  rc = m->xFilter(pCur, &scan);
  if (rc == SQLITE_OK && !m->xEof(pCur)) {
    statevtab_value aTmp[SV_MAX_COLUMNS];
    sqlite3_uint64 nByte = sizeof(statevtab_value) * (sqlite3_uint64)e->nCol;
    char *z;
    for (i = 0; rc == SQLITE_OK && i < e->nCol; i++) {
      rc = m->xColumn(pCur, i, &aTmp[i]);
      if (aTmp[i].eType == SQLITE_TEXT || aTmp[i].eType == SQLITE_BLOB) {
        nByte += (sqlite3_uint64)aTmp[i].n + 1;
      }
    }
    if (rc == SQLITE_OK) {
      statevtab_value *a = sqlite3_malloc64(nByte);
      if (!a) {
        rc = SQLITE_NOMEM;
      } else {
        z = (char *)&a[e->nCol];
        for (i = 0; i < e->nCol; i++) {
          a[i] = aTmp[i];
          if (a[i].eType == SQLITE_TEXT || a[i].eType == SQLITE_BLOB) {
            if (a[i].n) memcpy(z, aTmp[i].z, (size_t)a[i].n);
            z[a[i].n] = 0;
            a[i].z = z;
            z += a[i].n + 1;
          }
        }
        *paRow = a;
      }
    }
  }
  m->xCloseCursor(pCur);
  return rc;
}
