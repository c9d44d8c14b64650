/*
** 2026-11-22
**
** claim.c -- state_claim, the table-valued function that claims tasks.
**
**   SELECT id, name, payload, lease_token
**     FROM state_claim('tasks', 'email', 'worker-7', 30000, 10);
**   SELECT * FROM state_claim('tasks', '["email","sms"]', 'w1', 30000, 5,
**            '{"tags":["eu"], "names":["send"], "limits":{"send":2},
**              "complete":[{"id":"...","token":3,"result":{"ok":1}}]}');
**
** HOW IT WORKS
**
** An eponymous-only virtual table whose hidden columns are the arguments
** (tasks, queue, worker, lease_ms, n, options).  xFilter checks them, calls
** the store's xClaim once, and copies the claimed rows into the cursor; the
** visible columns are every task column plus `outcome`: 'claimed' for a
** claimed task, 'stale' for an entry of options.complete whose token was
** no longer current (only id and lease_token are set on such a row; it is
** skipped, not an error).
**
** idxNum is a bitmask of the arguments present (bit k = argument k, in the
** order above); argv holds them in that order.
**
** WHY A TEMP TABLE: the module is eponymous, but the entry point also
** creates temp.state_claim (sv_claim_temp), which name resolution finds
** first.  A statement that reads an eponymous table of "main" holds a read
** transaction on main while it runs, and so a WAL read mark; the local
** store claims on a private connection (store_sqlite_atomic.c) and commits
** inside that statement.  With the mark held, the WAL can never restart: it
** grew by every claim (112 MB after 3,000 claims that complete the previous
** task) and every commit ran a checkpoint with its fsync (200 claims/s
** instead of 2,100).  A statement reading temp.state_claim holds no read
** transaction on main.  Without the temp table (a load inside a
** transaction that was rolled back), the eponymous table still works.
*/
#include "svext.h"

#include <cjson/cJSON.h>
#include <stdlib.h>

#define CLAIM_NARG 6 /* tasks, queue, worker, lease_ms, n, options */
#define CLAIM_MAX_N 10000
static const char zF[] = "state_claim";

typedef struct ClaimVtab {
  sqlite3_vtab base; /* must be first */
  sv_conn *pConn;
  const statevtab_entity *pTasks; /* the tasks entity: the output columns */
} ClaimVtab;

/* One output row: nCol+1 values (the last is outcome) and their bytes. */
typedef struct ClaimRow {
  statevtab_value a[SV_MAX_COLUMNS + 1];
} ClaimRow;

typedef sv_tvf_cursor ClaimCursor; /* rows: ClaimRow */

static int claimConnect(sqlite3 *db, void *pAux, int argc,
                        const char *const *argv, sqlite3_vtab **ppVtab,
                        char **pzErr) {
  ClaimVtab *p;
  const statevtab_entity *e = sv_entity_by_module("state_tasks");
  sqlite3_str *s;
  char *zSql;
  int i, rc;
  (void)argc;
  (void)argv;
  (void)pzErr;
  s = sqlite3_str_new(db);
  sqlite3_str_appendall(s, "CREATE TABLE x(");
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str_appendf(s, "\"%w\", ", e->aCol[i].zName);
  }
  sqlite3_str_appendall(s, "outcome, _tasks HIDDEN, _queue HIDDEN, "
                           "_worker HIDDEN, _lease_ms HIDDEN, _n HIDDEN, "
                           "_options HIDDEN)");
  zSql = sqlite3_str_finish(s);
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_declare_vtab(db, zSql);
  sqlite3_free(zSql);
  if (rc != SQLITE_OK) return rc;
  /* Claiming changes state: not from a view or trigger (see vtab.c). */
  sqlite3_vtab_config(db, SQLITE_VTAB_DIRECTONLY);
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->pConn = (sv_conn *)pAux;
  p->pTasks = e;
  *ppVtab = &p->base;
  return SQLITE_OK;
}

static int claimDisconnect(sqlite3_vtab *pVtab) {
  sqlite3_free(pVtab);
  return SQLITE_OK;
}

static int claimBestIndex(sqlite3_vtab *pVtab, sqlite3_index_info *pInfo) {
  ClaimVtab *p = (ClaimVtab *)pVtab;
  int mask, rc = sv_tvf_args(pInfo, p->pTasks->nCol + 1, CLAIM_NARG, &mask);
  if (rc != SQLITE_OK) return rc;
  pInfo->idxNum = mask;
  /* The columns read, for statevtab_claim.colUsed (claimFilter). */
  pInfo->idxStr = sqlite3_mprintf("%llx", (unsigned long long)pInfo->colUsed);
  if (!pInfo->idxStr) return SQLITE_NOMEM;
  pInfo->needToFreeIdxStr = 1;
  pInfo->estimatedCost = 1.0;
  pInfo->estimatedRows = 10;
  return SQLITE_OK;
}

/* Copy nCol values plus the outcome into a new row of c. */
static int addRow(ClaimCursor *c, int nCol, const statevtab_value *aRow,
                  const char *zOutcome) {
  ClaimRow *r;
  sqlite3_uint64 nByte = sizeof(ClaimRow);
  char *z;
  int i;
  for (i = 0; i < nCol; i++) {
    if (aRow[i].eType == SQLITE_TEXT || aRow[i].eType == SQLITE_BLOB) {
      nByte += (sqlite3_uint64)aRow[i].n + 1;
    }
  }
  r = sqlite3_malloc64(nByte);
  if (!r) return SQLITE_NOMEM;
  memset(r, 0, sizeof(ClaimRow));
  z = (char *)&r[1];
  for (i = 0; i < nCol; i++) {
    r->a[i] = aRow[i];
    if (aRow[i].eType == SQLITE_TEXT || aRow[i].eType == SQLITE_BLOB) {
      if (aRow[i].n) memcpy(z, aRow[i].z, (size_t)aRow[i].n);
      z[aRow[i].n] = 0;
      r->a[i].z = z;
      z += aRow[i].n + 1;
    }
  }
  r->a[nCol].eType = SQLITE_TEXT;
  r->a[nCol].z = zOutcome; /* static text */
  r->a[nCol].n = (int)strlen(zOutcome);
  return sv_tvf_push(c, r);
}

/* A claimed row's place in claim order: (priority, run_at, id). */
typedef struct RowKey {
  sqlite3_int64 iPriority, iRunAt;
  const statevtab_value *pId;
  ClaimRow *pRow;
} RowKey;

static int rowKeyCmp(const void *a, const void *b) {
  const RowKey *x = (const RowKey *)a, *y = (const RowKey *)b;
  int n, c;
  if (x->iPriority != y->iPriority) return x->iPriority < y->iPriority ? -1 : 1;
  if (x->iRunAt != y->iRunAt) return x->iRunAt < y->iRunAt ? -1 : 1;
  n = x->pId->n < y->pId->n ? x->pId->n : y->pId->n;
  c = n ? memcmp(x->pId->z, y->pId->z, (size_t)n) : 0;
  return c ? c : (x->pId->n > y->pId->n) - (x->pId->n < y->pId->n);
}

/*
** Put the claimed rows of c in claim order, (priority, run_at, id), the
** order the README promises: a store may hand them over in any order (the
** local store's UPDATE ... RETURNING gives them in rowid order).
*/
static int sortClaimed(ClaimCursor *c) {
  RowKey *a;
  int i;
  if (c->nRow < 2) return SQLITE_OK;
  a = sqlite3_malloc64(sizeof(RowKey) * (size_t)c->nRow);
  if (!a) return SQLITE_NOMEM;
  for (i = 0; i < c->nRow; i++) {
    ClaimRow *r = (ClaimRow *)c->apRow[i];
    a[i].iPriority = r->a[SV_TASK_PRIORITY].i;
    a[i].iRunAt = r->a[SV_TASK_RUN_AT].i;
    a[i].pId = &r->a[SV_TASK_ID];
    a[i].pRow = r;
  }
  qsort(a, (size_t)c->nRow, sizeof(RowKey), rowKeyCmp);
  for (i = 0; i < c->nRow; i++) c->apRow[i] = a[i].pRow;
  sqlite3_free(a);
  return SQLITE_OK;
}

typedef struct RowCtx {
  ClaimCursor *c;
  int nCol;
} RowCtx;

static int onClaimed(void *pCtx, const statevtab_value *aRow) {
  RowCtx *x = (RowCtx *)pCtx;
  return addRow(x->c, x->nCol, aRow, "claimed") != SQLITE_OK;
}

/* Everything parsed from the arguments, freed by argsFree. */
typedef struct ClaimArgs {
  statevtab_claim claim;
  cJSON *pQueueJson, *pOptJson;
  statevtab_value
      *aVal;            /* queues, names, tags, limits, complete ids, results */
  sqlite3_int64 *aiInt; /* limits, complete tokens */
  sqlite3_int64 *aiPeriod; /* aiLimitPeriod: 0 for limits, then rates */
  int *aiFlag;             /* abLimitQueue, aCompleteOk */
  char **azFree;           /* printed complete results */
  int nFree;
} ClaimArgs;

static void argsFree(ClaimArgs *a) {
  int i;
  cJSON_Delete(a->pQueueJson);
  cJSON_Delete(a->pOptJson);
  for (i = 0; i < a->nFree; i++) cJSON_free(a->azFree[i]);
  sqlite3_free(a->azFree);
  sqlite3_free(a->aVal);
  sqlite3_free(a->aiInt);
  sqlite3_free(a->aiPeriod);
  sqlite3_free(a->aiFlag);
}

static void textValue(statevtab_value *v, const char *z) {
  memset(v, 0, sizeof(*v));
  v->eType = SQLITE_TEXT;
  v->z = z;
  v->n = (int)strlen(z);
}

/* A key "partition:<queue>" of options.limits or options.rates: a limit
** per partition of that queue (statevtab_claim.nPart). */
#define PART_LEN 10
#define IS_PART(e) (strncmp((e)->string, "partition:", PART_LEN) == 0)

/* Count the entries of a JSON array of strings; -1 if it is not one. */
static int stringArray(const cJSON *p) {
  const cJSON *e;
  int n = 0;
  if (!cJSON_IsArray(p)) return -1;
  cJSON_ArrayForEach(e, p) {
    if (!cJSON_IsString(e)) return -1;
    n++;
  }
  return n;
}

/*
** A rate of options.rates, "n/period" ("5/1s"), into *piMax and *piPer
** (ms): 1 when it is one, else 0.
*/
static int rateSpec(const cJSON *e, sqlite3_int64 *piMax,
                    sqlite3_int64 *piPer) {
  const char *z = cJSON_IsString(e) ? e->valuestring : 0;
  const char *zSlash = z ? strchr(z, '/') : 0;
  sqlite3_int64 v = 0;
  if (!zSlash || zSlash == z) return 0;
  for (; z < zSlash; z++) {
    if (*z < '0' || *z > '9' || v > 1000000000) return 0;
    v = v * 10 + (*z - '0');
  }
  if (!sv_parse_period(zSlash + 1, (int)strlen(zSlash + 1), piPer)) return 0;
  *piMax = v;
  return 1;
}

/*
** Parse z[0..n), the JSON text of argument zWhat, into *ppOut (freed with
** cJSON_Delete).  The whole text must be one JSON value: trailing text is
** an error, as nesting beyond sv_json_check's depth is (with its own
** message).  SQLITE_OK, SQLITE_NOMEM, or SQLITE_ERROR with *pzErr set.
*/
static int parseJson(const char *z, int n, const char *zWhat, cJSON **ppOut,
                     char **pzErr) {
  int e = sv_json_check(z, n);
  if (e != SV_JSON_OK) {
    *pzErr = sqlite3_mprintf("%s %s", zWhat, sv_json_problem(e));
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  *ppOut = cJSON_ParseWithLength(z, (size_t)n);
  return *ppOut ? SQLITE_OK : SQLITE_NOMEM;
}

/*
** Parse the queue argument and the options JSON into a->claim.  Returns
** SQLITE_OK, SQLITE_NOMEM, or SQLITE_ERROR with *pzErr set.
*/
static int parseArgs(ClaimArgs *a, sqlite3_value *pQueue, sqlite3_value *pOpt,
                     sqlite3_value *pList, char **pzErr) {
  statevtab_claim *c = &a->claim;
  /* The type first: sqlite3_value_text() would turn a BLOB into TEXT. */
  int bText = pQueue && sqlite3_value_type(pQueue) == SQLITE_TEXT;
  const char *zQueue = pQueue ? (const char *)sqlite3_value_text(pQueue) : 0;
  const cJSON *pTags = 0, *pNames = 0, *pLimits = 0, *pRates = 0;
  const cJSON *pComplete = 0, *e;
  const char *zCompleteWhat = pList ? "the list" : "options.complete";
  int nQueue = pQueue ? 1 : 0, nVal, nInt, k, nRate = 0;

  if (pList) {
    /* state_complete(tasks, list): a list as options.complete takes it. */
    const char *zList;
    int rc;
    if (sqlite3_value_type(pList) != SQLITE_TEXT) {
      *pzErr = sqlite3_mprintf("the list must be a JSON array of {\"id\", "
                               "\"token\", \"result\"}");
      return SQLITE_ERROR;
    }
    zList = (const char *)sqlite3_value_text(pList);
    if (!zList) return SQLITE_NOMEM;
    rc = parseJson(zList, sqlite3_value_bytes(pList), "the list", &a->pOptJson,
                   pzErr);
    if (rc != SQLITE_OK) return rc;
    pComplete = a->pOptJson;
  } else if (!bText || !zQueue) {
    if (bText) return SQLITE_NOMEM;
    *pzErr = sqlite3_mprintf("queue must be a name or a JSON array of names");
    return SQLITE_ERROR;
  }
  if (zQueue && zQueue[0] == '[') {
    int rc = parseJson(zQueue, sqlite3_value_bytes(pQueue), "queue",
                       &a->pQueueJson, pzErr);
    if (rc != SQLITE_OK) return rc;
    nQueue = stringArray(a->pQueueJson);
    if (nQueue < 1) {
      *pzErr = sqlite3_mprintf("queue must be a name or a non-empty JSON "
                               "array of names");
      return SQLITE_ERROR;
    }
  }
  if (pOpt && sqlite3_value_type(pOpt) != SQLITE_NULL) {
    const char *zOpt;
    int rc;
    /* The type first: sqlite3_value_text() would turn a BLOB into TEXT. */
    if (sqlite3_value_type(pOpt) != SQLITE_TEXT) {
      *pzErr = sqlite3_mprintf("options must be a JSON object");
      return SQLITE_ERROR;
    }
    zOpt = (const char *)sqlite3_value_text(pOpt);
    if (!zOpt) return SQLITE_NOMEM;
    rc = parseJson(zOpt, sqlite3_value_bytes(pOpt), "options", &a->pOptJson,
                   pzErr);
    if (rc != SQLITE_OK) return rc;
    if (!cJSON_IsObject(a->pOptJson)) {
      *pzErr = sqlite3_mprintf("options must be a JSON object");
      return SQLITE_ERROR;
    }
    cJSON_ArrayForEach(e, a->pOptJson) {
      if (strcmp(e->string, "tags") == 0) {
        pTags = e;
      } else if (strcmp(e->string, "names") == 0) {
        pNames = e;
      } else if (strcmp(e->string, "limits") == 0) {
        pLimits = e;
      } else if (strcmp(e->string, "rates") == 0) {
        pRates = e;
      } else if (strcmp(e->string, "complete") == 0) {
        pComplete = e;
      } else {
        *pzErr = sqlite3_mprintf("unknown option '%s' (expected tags, names, "
                                 "limits, rates or complete)",
                                 e->string);
        return SQLITE_ERROR;
      }
    }
  }
  c->nTag = pTags ? stringArray(pTags) : 0;
  c->nName = pNames ? stringArray(pNames) : 0;
  if (c->nTag < 0 || c->nName < 0) {
    *pzErr = sqlite3_mprintf("options.%s must be a JSON array of strings",
                             c->nTag < 0 ? "tags" : "names");
    return SQLITE_ERROR;
  }
  if (pLimits) {
    if (!cJSON_IsObject(pLimits)) {
      *pzErr = sqlite3_mprintf("options.limits must be an object of "
                               "{\"name\": n}, {\"queue:name\": n} or "
                               "{\"partition:queue\": n}");
      return SQLITE_ERROR;
    }
    cJSON_ArrayForEach(e, pLimits) {
      sqlite3_int64 iLimit;
      if (!cJSON_IsNumber(e) || !sv_real_int(e->valuedouble, &iLimit) ||
          iLimit < 0) {
        *pzErr = sqlite3_mprintf("options.limits.%s must be a non-negative "
                                 "integer",
                                 e->string);
        return SQLITE_ERROR;
      }
      if (IS_PART(e)) {
        c->nPart++;
      } else {
        c->nLimit++;
      }
    }
  }
  if (pRates) {
    if (!cJSON_IsObject(pRates)) {
      *pzErr = sqlite3_mprintf("options.rates must be an object of "
                               "{\"name\": \"n/period\"}, "
                               "{\"queue:name\": \"n/period\"} or "
                               "{\"partition:queue\": \"n/period\"}");
      return SQLITE_ERROR;
    }
    cJSON_ArrayForEach(e, pRates) {
      sqlite3_int64 iMax, iPer;
      if (!rateSpec(e, &iMax, &iPer)) {
        *pzErr = sqlite3_mprintf("options.rates.%s must be \"n/period\": a "
                                 "non-negative integer n, and a period such "
                                 "as 1s, 500ms, 1m, 1h or 1d (a number alone "
                                 "is milliseconds), as in \"5/1s\"",
                                 e->string);
        return SQLITE_ERROR;
      }
      if (IS_PART(e)) {
        c->nPart++;
      } else {
        nRate++;
      }
    }
  }
  if (pComplete) {
    if (!cJSON_IsArray(pComplete)) {
      *pzErr = sqlite3_mprintf("%s must be an array of "
                               "{\"id\", \"token\", \"result\"}",
                               zCompleteWhat);
      return SQLITE_ERROR;
    }
    cJSON_ArrayForEach(e, pComplete) {
      const cJSON *pId = cJSON_GetObjectItemCaseSensitive(e, "id");
      const cJSON *pTok = cJSON_GetObjectItemCaseSensitive(e, "token");
      sqlite3_int64 iTok;
      if (!cJSON_IsObject(e) || !cJSON_IsString(pId) || !cJSON_IsNumber(pTok) ||
          !sv_real_int(pTok->valuedouble, &iTok)) {
        *pzErr = sqlite3_mprintf("%s entries need a string id and an "
                                 "integer token",
                                 zCompleteWhat);
        return SQLITE_ERROR;
      }
      c->nComplete++;
    }
  }

  c->nLimit += nRate;
  nVal = nQueue + c->nName + c->nTag + c->nLimit + 2 * c->nComplete + c->nPart;
  nInt = c->nLimit + c->nComplete + 2 * c->nPart;
  if (nRate > 0) {
    a->aiPeriod = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)c->nLimit);
    if (!a->aiPeriod) return SQLITE_NOMEM;
    memset(a->aiPeriod, 0, sizeof(sqlite3_int64) * (size_t)c->nLimit);
    c->aiLimitPeriod = a->aiPeriod;
  }
  a->aVal = sqlite3_malloc64(sizeof(statevtab_value) * (size_t)(nVal + 1));
  a->aiInt = sqlite3_malloc64(sizeof(sqlite3_int64) * (size_t)(nInt + 1));
  a->aiFlag = sqlite3_malloc64(sizeof(int) * (size_t)(nInt + 1));
  a->azFree = sqlite3_malloc64(sizeof(char *) * (size_t)(c->nComplete + 1));
  if (!a->aVal || !a->aiInt || !a->aiFlag || !a->azFree) return SQLITE_NOMEM;
  memset(a->aiFlag, 0, sizeof(int) * (size_t)(nInt + 1));

  {
    statevtab_value *v = a->aVal;
    c->aQueue = v;
    c->nQueue = nQueue;
    if (a->pQueueJson) {
      cJSON_ArrayForEach(e, a->pQueueJson) textValue(v++, e->valuestring);
    } else if (nQueue) {
      textValue(v, zQueue);
      v->n = sqlite3_value_bytes(pQueue);
      v++;
    }
    c->aName = v;
    if (pNames) cJSON_ArrayForEach(e, pNames) textValue(v++, e->valuestring);
    c->aTag = v;
    if (pTags) cJSON_ArrayForEach(e, pTags) textValue(v++, e->valuestring);
    c->aLimit = v;
    c->aiLimit = a->aiInt;
    c->abLimitQueue = a->aiFlag;
    k = 0;
    if (pLimits) {
      cJSON_ArrayForEach(e, pLimits) {
        int bQueue = strncmp(e->string, "queue:", 6) == 0;
        if (IS_PART(e)) continue;
        textValue(v++, e->string + (bQueue ? 6 : 0));
        a->aiInt[k] = (sqlite3_int64)e->valuedouble;
        a->aiFlag[k] = bQueue;
        k++;
      }
    }
    if (pRates) {
      cJSON_ArrayForEach(e, pRates) {
        int bQueue = strncmp(e->string, "queue:", 6) == 0;
        if (IS_PART(e)) continue;
        textValue(v++, e->string + (bQueue ? 6 : 0));
        rateSpec(e, &a->aiInt[k], &a->aiPeriod[k]); /* checked above */
        a->aiFlag[k] = bQueue;
        k++;
      }
    }
    /* Partition limits, then partition rates: queue, max, period. */
    c->aPartQueue = v;
    c->aiPartMax = a->aiInt + c->nLimit + c->nComplete;
    c->aiPartPeriod = c->aiPartMax + c->nPart;
    k = 0;
    if (pLimits) {
      cJSON_ArrayForEach(e, pLimits) {
        if (!IS_PART(e)) continue;
        textValue(v++, e->string + PART_LEN);
        a->aiInt[c->nLimit + c->nComplete + k] = (sqlite3_int64)e->valuedouble;
        a->aiInt[c->nLimit + c->nComplete + c->nPart + k] = 0;
        k++;
      }
    }
    if (pRates) {
      cJSON_ArrayForEach(e, pRates) {
        if (!IS_PART(e)) continue;
        textValue(v++, e->string + PART_LEN);
        rateSpec(e, &a->aiInt[c->nLimit + c->nComplete + k],
                 &a->aiInt[c->nLimit + c->nComplete + c->nPart + k]);
        k++;
      }
    }
    c->aCompleteId = v;
    c->aCompleteResult = v + c->nComplete;
    c->aiCompleteToken = a->aiInt + c->nLimit;
    c->aCompleteOk = a->aiFlag + c->nLimit;
    k = 0;
    if (pComplete) {
      cJSON_ArrayForEach(e, pComplete) {
        const cJSON *pRes = cJSON_GetObjectItemCaseSensitive(e, "result");
        statevtab_value *r = (statevtab_value *)&c->aCompleteResult[k];
        textValue(v++, cJSON_GetObjectItemCaseSensitive(e, "id")->valuestring);
        sv_real_int(cJSON_GetObjectItemCaseSensitive(e, "token")->valuedouble,
                    &a->aiInt[c->nLimit + k]); /* checked above */
        memset(r, 0, sizeof(*r));
        r->eType = SQLITE_NULL;
        if (pRes && !cJSON_IsNull(pRes)) {
          char *zRes = cJSON_PrintUnformatted(pRes);
          if (!zRes) return SQLITE_NOMEM;
          a->azFree[a->nFree++] = zRes;
          textValue(r, zRes);
        }
        k++;
      }
    }
  }
  return SQLITE_OK;
}

/* statevtab_claim.colUsed from claimBestIndex's idxStr (the statement's
** colUsed in hex; the output columns come first, in the tasks entity's
** order), with what sortClaimed and the stale rows read. */
static sqlite3_uint64 claimColUsed(const char *idxStr) {
  sqlite3_uint64 m = idxStr ? strtoull(idxStr, 0, 16) : ~(sqlite3_uint64)0;
  return m | ((sqlite3_uint64)1 << SV_TASK_ID) |
         ((sqlite3_uint64)1 << SV_TASK_PRIORITY) |
         ((sqlite3_uint64)1 << SV_TASK_RUN_AT) |
         ((sqlite3_uint64)1 << SV_TASK_LEASE_TOKEN);
}

/* The row callback of a claim that claims nothing (n = 0). */
static int noRow(void *pCtx, const statevtab_value *aRow) {
  (void)pCtx;
  (void)aRow;
  return 0;
}

static int claimFilter(sqlite3_vtab_cursor *cur, int idxNum, const char *idxStr,
                       int argc, sqlite3_value **argv) {
  ClaimCursor *c = (ClaimCursor *)cur;
  ClaimVtab *pVtab = (ClaimVtab *)cur->pVtab;
  sqlite3_value *apArg[CLAIM_NARG];
  statevtab_table *pDead = 0;
  statevtab_value worker;
  ClaimArgs a;
  sv_vtab *p = 0;
  RowCtx rx;
  char *zErr = 0;
  int rc, k, i = 0;
  int iMark = pVtab->pConn->nHeld; /* tables found below: held until done */
  sqlite3_int64 iLease = 30000, n = 1;

  sv_tvf_reset(c);
  memset(apArg, 0, sizeof(apArg));
  for (k = 0; k < CLAIM_NARG && i < argc; k++) {
    if (idxNum & (1 << k)) apArg[k] = argv[i++];
  }
  memset(&a, 0, sizeof(a));
  if (!apArg[0] || !apArg[1] || !apArg[2]) {
    zErr = sqlite3_mprintf("%s: expects (tasks, queue, worker [, lease_ms "
                           "[, n [, options]]])",
                           zF);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = sv_arg_table(pVtab->pConn, zF, apArg[0], "state_tasks", &p, &zErr);
  if (rc != SQLITE_OK) goto done;
  if (sqlite3_value_type(apArg[2]) != SQLITE_TEXT) {
    zErr = sqlite3_mprintf("%s: worker must be text", zF);
    rc = SQLITE_ERROR;
    goto done;
  }
  rc = sv_value_from_sqlite(apArg[2], &worker);
  if (rc != SQLITE_OK) goto done;
  if (apArg[3] && sqlite3_value_type(apArg[3]) != SQLITE_NULL) {
    rc = sv_arg_int(apArg[3], "lease_ms", 0, SV_MS_MAX, &iLease, &zErr);
    if (rc != SQLITE_OK) {
      char *z = zErr ? sqlite3_mprintf("%s: %s", zF, zErr) : 0;
      sqlite3_free(zErr);
      zErr = z;
      if (!z) rc = SQLITE_NOMEM;
      goto done;
    }
  }
  if (apArg[4] && sqlite3_value_type(apArg[4]) != SQLITE_NULL) {
    n = sqlite3_value_int64(apArg[4]);
    if (sqlite3_value_type(apArg[4]) != SQLITE_INTEGER || n < 0 ||
        n > CLAIM_MAX_N) {
      zErr = sqlite3_mprintf("%s: n must be an integer between 0 and %d", zF,
                             CLAIM_MAX_N);
      rc = SQLITE_ERROR;
      goto done;
    }
  }
  rc = parseArgs(&a, apArg[1], apArg[5], 0, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) {
      char *z = sqlite3_mprintf("%s: %s", zF, zErr);
      sqlite3_free(zErr);
      zErr = z;
      if (!z) rc = SQLITE_NOMEM;
    }
    goto done;
  }
  a.claim.pWorker = &worker;
  a.claim.iLeaseMs = iLease;
  a.claim.nMax = (int)n;
  a.claim.colUsed = claimColUsed(idxStr);
  rc = sv_dead_letters(p, &pDead, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) {
      char *z = sqlite3_mprintf("%s: %s", zF, zErr);
      sqlite3_free(zErr);
      zErr = z;
    }
    goto done;
  }
  rx.c = c;
  rx.nCol = pVtab->pTasks->nCol;
  rc = sv_table_claim(p, pDead, &a.claim, onClaimed, &rx);
  if (rc != SQLITE_OK) {
    char *z = sv_table_error(p, rc);
    sv_tvf_reset(c);
    if (rc != SQLITE_NOMEM) {
      zErr = z ? sqlite3_mprintf("%s: %s", zF, z) : 0;
    }
    sqlite3_free(z);
    goto done;
  }
  rc = sortClaimed(c);
  /* Completions skipped for a stale token: reported as 'stale' rows. */
  for (k = 0; rc == SQLITE_OK && k < a.claim.nComplete; k++) {
    statevtab_value aRow[SV_MAX_COLUMNS];
    const statevtab_entity *e = pVtab->pTasks;
    if (a.claim.aCompleteOk[k]) continue;
    memset(aRow, 0, sizeof(aRow));
    for (i = 0; i < e->nCol; i++) aRow[i].eType = SQLITE_NULL;
    aRow[SV_TASK_ID] = a.claim.aCompleteId[k];
    aRow[SV_TASK_LEASE_TOKEN].eType = SQLITE_INTEGER;
    aRow[SV_TASK_LEASE_TOKEN].i = a.claim.aiCompleteToken[k];
    rc = addRow(c, e->nCol, aRow, "stale");
  }

done:
  argsFree(&a);
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

static int claimColumn(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int i) {
  ClaimCursor *c = (ClaimCursor *)cur;
  ClaimVtab *p = (ClaimVtab *)cur->pVtab;
  if (i <= p->pTasks->nCol) {
    sv_value_result(ctx, &((ClaimRow *)c->apRow[c->iRow])->a[i]);
  }
  return SQLITE_OK;
}

const sqlite3_module sv_claim_module = {
    /* iVersion    */ 0,
    /* xCreate     */ claimConnect, /* eponymous, and temp.state_claim */
    /* xConnect    */ claimConnect,
    /* xBestIndex  */ claimBestIndex,
    /* xDisconnect */ claimDisconnect,
    /* xDestroy    */ claimDisconnect,
    /* xOpen       */ sv_tvf_open,
    /* xClose      */ sv_tvf_close,
    /* xFilter     */ claimFilter,
    /* xNext       */ sv_tvf_next,
    /* xEof        */ sv_tvf_eof,
    /* xColumn     */ claimColumn,
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

/*
** Create temp.state_claim on connection db (see WHY A TEMP TABLE above).
** Failure is not an error: the eponymous table serves instead.
*/
void sv_claim_temp(sqlite3 *db) {
  sqlite3_stmt *pStmt = 0;
  int bOld = 0;
  /* Made anew: one left by an earlier load of the extension on this
  ** connection would still use that load's registry.  (Only when it is
  ** there: "DROP TABLE IF EXISTS temp.state_claim" names the eponymous
  ** table otherwise, and fails.) */
  if (sqlite3_prepare_v2(db,
                         "SELECT 1 FROM temp.sqlite_schema WHERE type = "
                         "'table' AND name = 'state_claim'",
                         -1, &pStmt, 0) == SQLITE_OK) {
    bOld = sqlite3_step(pStmt) == SQLITE_ROW;
  }
  sqlite3_finalize(pStmt);
  if (bOld) sqlite3_exec(db, "DROP TABLE temp.state_claim", 0, 0, 0);
  sqlite3_exec(db, "CREATE VIRTUAL TABLE temp.state_claim USING state_claim", 0,
               0, 0);
}

/*
** state_complete(tasks, list) -> the number of tasks completed: every entry
** {"id", "token", "result"} of the JSON array list is completed as
** state_complete(tasks, id, token, result) would, all in one atomic step of
** the store (one transaction, one round trip): the store's claim with
** nothing to claim, as options.complete of state_claim.  A stale token is
** skipped and not counted.
*/
void sv_fn_complete_list(sqlite3_context *ctx, sv_vtab *p,
                         sqlite3_value *pList) {
  static const char zFn[] = "state_complete";
  static const statevtab_value nobody = {SQLITE_TEXT, 0, 0, 0, "", 0};
  statevtab_table *pDead = 0;
  ClaimArgs a;
  char *zErr = 0;
  int rc, k, nDone = 0;
  memset(&a, 0, sizeof(a));
  rc = parseArgs(&a, 0, 0, pList, &zErr);
  if (rc == SQLITE_OK) rc = sv_dead_letters(p, &pDead, &zErr);
  if (rc == SQLITE_OK && a.claim.nComplete > 0) {
    a.claim.pWorker = &nobody;
    a.claim.nMax = 0;
    a.claim.colUsed = claimColUsed(0);
    rc = sv_table_claim(p, pDead, &a.claim, noRow, 0);
    if (rc != SQLITE_OK) {
      char *z = sv_table_error(p, rc);
      sv_fn_error(ctx, zFn, z ? rc : SQLITE_NOMEM, "%s", z);
      sqlite3_free(z);
      argsFree(&a);
      return;
    }
  }
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, zFn, zErr ? rc : SQLITE_NOMEM, "%s", zErr);
  } else {
    for (k = 0; k < a.claim.nComplete; k++) nDone += a.claim.aCompleteOk[k];
    sqlite3_result_int(ctx, nDone);
  }
  sqlite3_free(zErr);
  argsFree(&a);
}
