/*
** 2026-11-22
**
** functions.c -- the scalar SQL functions of statevtab.
**
**   SELECT statevtab_version();                      -- '0.2.0'
**   SELECT statevtab_debug();                        -- version, SQLite, stores
**   SELECT statevtab_debug('tasks');                 -- one table
**   SELECT state_now();                              -- ms since the epoch
**   SELECT state_complete('tasks', :id, :token, '{"ok":true}');
**   SELECT state_fail('tasks', :id, :token, 'timeout');
**   SELECT state_renew('tasks', :id, :token, 30000);
**   SELECT state_lease('leases', 'nightly', 'host-1', 60000);
**   SELECT state_lease('leases', 'nightly', 'host-1', 60000, 5000); -- wait
**   SELECT state_release('leases', 'nightly', 'host-1');
**   SELECT state_incr('counters', 'shop', 'orders', 1);
**   SELECT state_signal('signals', :exec, 'approved', '{"by":"ann"}');
**   SELECT state_take('signals', :exec, 'approved');
**   SELECT state_take('signals', :exec, 'approved', 30000);        -- wait
**   SELECT state_progress('executions', :exec, '{"step":2}');
**   SELECT state_pause('tasks', 'email'), state_resume('tasks', 'email');
**
** HOW IT WORKS
**
** The first argument names a statevtab table; sv_arg_table() finds it in
** the connection's registry (vtab/), and the function calls one atomic
** primitive of that table's store.  Arguments are checked here, so every
** store sees well-formed input.  Errors read "<function>: <what failed>".
** Every function gets the connection's sv_conn as its user data.
*/
#include "svext.h"

#include <stdarg.h>

/* Every SQL function runs through here (see sv_fnref). */
void sv_fn_call(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sv_fnref *f = (sv_fnref *)sqlite3_user_data(ctx);
  int iMark = f->pConn->nHeld;
  f->xFunc(ctx, argc, argv);
  sv_conn_release(f->pConn, iMark);
}

/* The destructor of a function's user data. */
void sv_fnref_free(void *pArg) {
  sv_fnref *f = (sv_fnref *)pArg;
  sv_conn_unref(f->pConn);
  sqlite3_free(f);
}

/* Report "<function>: <message>" with result code rc. */
void sv_fn_error(sqlite3_context *ctx, const char *zFunc, int rc,
                 const char *zFmt, ...) {
  va_list ap;
  char *zMsg, *zFull;
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  zFull = zMsg ? sqlite3_mprintf("%s: %s", zFunc, zMsg) : 0;
  sqlite3_free(zMsg);
  if (!zFull) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_error(ctx, zFull, -1);
  sqlite3_result_error_code(ctx, rc);
  sqlite3_free(zFull);
}

static void storeFail(sqlite3_context *ctx, const char *zFunc, sv_vtab *p,
                      int rc) {
  char *z;
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  z = sv_table_error(p, rc);
  sv_fn_error(ctx, zFunc, z ? rc : SQLITE_NOMEM, "%s", z);
  sqlite3_free(z);
}

static void extCacheFree(void *pAux) {
  sv_extcache *p = (sv_extcache *)pAux;
  if (!p) return;
  sv_flag_cache_free(p->pFlags);
  sqlite3_free(p);
}

/* ext/'s cache of table p (see svext.h), made on first use; NULL on OOM. */
sv_extcache *sv_ext_cache(sv_vtab *p) {
  if (!p->pAux) {
    sv_extcache *c = sqlite3_malloc64(sizeof(*c));
    if (!c) return 0;
    memset(c, 0, sizeof(*c));
    p->pAux = c;
    p->xAuxFree = extCacheFree;
  }
  return (sv_extcache *)p->pAux;
}

/*
** Resolve pArg, a table name, to a connected statevtab table of module
** zKind (NULL: any).  Returns SQLITE_OK, or an error code with *pzErr set
** (sqlite3_malloc'd, NULL for OOM).
*/
int sv_arg_table(sv_conn *pConn, const char *zFunc, sqlite3_value *pArg,
                 const char *zKind, sv_vtab **ppTab, char **pzErr) {
  const char *zName;
  char *zErr = 0;
  *ppTab = 0;
  *pzErr = 0;
  /* The type first: sqlite3_value_text() would turn a BLOB into TEXT. */
  if (sqlite3_value_type(pArg) != SQLITE_TEXT ||
      !(zName = (const char *)sqlite3_value_text(pArg))) {
    if (sqlite3_value_type(pArg) == SQLITE_TEXT) return SQLITE_NOMEM;
    *pzErr = sqlite3_mprintf("%s: the first argument must name a %s table",
                             zFunc, zKind ? zKind : "statevtab");
    return SQLITE_ERROR;
  }
  *ppTab = sv_find_table(pConn, zName, zKind, &zErr);
  if (*ppTab) return SQLITE_OK;
  if (!zErr) return SQLITE_NOMEM;
  *pzErr = sqlite3_mprintf("%s: %s", zFunc, zErr);
  sqlite3_free(zErr);
  return SQLITE_ERROR;
}

/* The result of a primitive that answers 0 or 1: v, or the store's error. */
static void intResult(sqlite3_context *ctx, const char *zF, sv_vtab *p, int rc,
                      int v) {
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else {
    sqlite3_result_int(ctx, v);
  }
}

/* sv_arg_table for a scalar function: reports the error itself. */
static sv_vtab *argTable(sqlite3_context *ctx, const char *zFunc,
                         sqlite3_value *pArg, const char *zKind) {
  sv_vtab *p = 0;
  char *zErr = 0;
  int rc = sv_arg_table(sv_fn_conn(ctx), zFunc, pArg, zKind, &p, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) {
      sqlite3_result_error(ctx, zErr, -1);
      sqlite3_result_error_code(ctx, rc);
    } else {
      sqlite3_result_error_nomem(ctx);
    }
    sqlite3_free(zErr);
    return 0;
  }
  return p;
}

/* The same, for the functions of other files. */
sv_vtab *sv_fn_table(sqlite3_context *ctx, const char *zFunc,
                     sqlite3_value *pArg, const char *zKind) {
  return argTable(ctx, zFunc, pArg, zKind);
}

/*
** The table of kind zKind linked to table p by its option zOpt
** (dead_letters= of a tasks table, segments= of a flags table): the one the
** option names, else a table of that kind named zOpt in the same schema when
** there is one, else none (*ppOut NULL).  The table must be on the same
** store.  SQLITE_OK, SQLITE_NOMEM, or SQLITE_ERROR with *pzErr set.
*/
int sv_linked_table(sv_vtab *p, const char *zOpt, const char *zKind,
                    sv_vtab **ppOut, char **pzErr) {
  const char *zName = 0;
  sv_vtab *pOut;
  char *zErr = 0;
  int i;
  *ppOut = 0;
  *pzErr = 0;
  for (i = 0; i < p->nOpt; i++) {
    if (strcmp(p->azOpt[2 * i], zOpt) == 0) zName = p->azOpt[2 * i + 1];
  }
  if (zName) {
    pOut = sv_find_in_schema(p, zName, zKind, &zErr);
    if (!pOut) {
      if (!zErr) return SQLITE_NOMEM;
      *pzErr = sqlite3_mprintf("%s option of '%s': %s", zOpt, p->zName, zErr);
      sqlite3_free(zErr);
      return SQLITE_ERROR;
    }
  } else {
    /* The conventional name.  sv_find_table() connects it when this
    ** connection has not used it yet; any failure means "none".  That
    ** answer is kept until a table connects or disconnects, or for a second
    ** (a table another process created), since finding nothing costs a
    ** failed prepare on every call. */
    sv_extcache *pExt = sv_ext_cache(p);
    if (!pExt) return SQLITE_NOMEM;
    if (pExt->iNoLinkAt && pExt->iNoLinkGen == p->pConn->iRegGen &&
        sv_mono_ms() - pExt->iNoLinkAt < 1000) {
      return SQLITE_OK;
    }
    pOut = sv_find_in_schema(p, zOpt, zKind, &zErr);
    if (!pOut && !zErr) return SQLITE_NOMEM;
    sqlite3_free(zErr);
    if (!pOut || pOut->pRef != p->pRef) {
      /* (sv_find_table may have connected tables: read the generation
      ** after it) */
      pExt->iNoLinkGen = p->pConn->iRegGen;
      pExt->iNoLinkAt = sv_mono_ms();
      if (pExt->iNoLinkAt == 0) pExt->iNoLinkAt = 1;
      return SQLITE_OK;
    }
    pExt->iNoLinkAt = 0;
  }
  if (pOut->pRef != p->pRef) {
    *pzErr = sqlite3_mprintf("%s table '%s' is not on the same store as '%s'",
                             zOpt, pOut->zName, p->zName);
    return SQLITE_ERROR;
  }
  *ppOut = pOut;
  return SQLITE_OK;
}

/*
** The dead letters table of tasks table p (sv_linked_table of its
** dead_letters= option; *ppDead NULL: the store's default).
*/
int sv_dead_letters(sv_vtab *p, statevtab_table **ppDead, char **pzErr) {
  sv_vtab *pDead;
  int rc =
      sv_linked_table(p, "dead_letters", "state_dead_letters", &pDead, pzErr);
  *ppDead = 0;
  if (rc != SQLITE_OK || !pDead) return rc;
  /* Its retain= (when it has one) is applied as the tasks table's
  ** functions use it: nothing else may write it. */
  sv_table_maintain(pDead);
  *ppDead = pDead->pTab;
  return SQLITE_OK;
}

/* ------------------------------------------------------ argument checks */

/* A non-NULL value used as text (numbers are converted). */
static int argText(sqlite3_context *ctx, const char *zFunc, const char *zWhat,
                   sqlite3_value *pVal, statevtab_value *pOut) {
  int t = sqlite3_value_type(pVal);
  if (t == SQLITE_NULL || t == SQLITE_BLOB) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR, "%s must be text (got %s)", zWhat,
                t == SQLITE_NULL ? "NULL" : "BLOB");
    return 0;
  }
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_TEXT;
  pOut->z = (const char *)sqlite3_value_text(pVal);
  pOut->n = sqlite3_value_bytes(pVal);
  if (!pOut->z) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  return 1;
}

/*
** pVal as an integer from iMin to iMax (an integral REAL is accepted) into
** *piOut.  SQLITE_OK, or SQLITE_ERROR with *pzErr set to "<zWhat> must be
** ..." (sqlite3_malloc'd; NULL on OOM).  A millisecond argument has iMax
** SV_MS_MAX, so that now + it never overflows on any store.
*/
int sv_arg_int(sqlite3_value *pVal, const char *zWhat, sqlite3_int64 iMin,
               sqlite3_int64 iMax, sqlite3_int64 *piOut, char **pzErr) {
  /* The storage type first: sqlite3_value_numeric_type() would turn the
  ** text '1000' into a number. */
  int t = sqlite3_value_type(pVal);
  sqlite3_int64 i = 0;
  *pzErr = 0;
  if (t == SQLITE_FLOAT) {
    if (sv_real_int(sqlite3_value_double(pVal), &i)) t = SQLITE_INTEGER;
  } else if (t == SQLITE_INTEGER) {
    i = sqlite3_value_int64(pVal);
  }
  if (t != SQLITE_INTEGER || i < iMin || i > iMax) {
    sqlite3_str *s = sqlite3_str_new(0);
    sqlite3_str_appendf(s, "%s must be an integer", zWhat);
    if (iMax == LARGEST_INT64) {
      sqlite3_str_appendf(s, " of at least %lld", iMin);
    } else {
      sqlite3_str_appendf(s, " from %lld to %lld", iMin, iMax);
    }
    if (iMax == SV_MS_MAX) sqlite3_str_appendall(s, " ms");
    if (t == SQLITE_INTEGER) sqlite3_str_appendf(s, " (got %lld)", i);
    *pzErr = sqlite3_str_finish(s);
    return SQLITE_ERROR;
  }
  *piOut = i;
  return SQLITE_OK;
}

/* sv_arg_int for a scalar function: reports the error itself. */
static int argRange(sqlite3_context *ctx, const char *zFunc, const char *zWhat,
                    sqlite3_value *pVal, sqlite3_int64 iMin, sqlite3_int64 iMax,
                    sqlite3_int64 *piOut) {
  char *zErr = 0;
  if (sv_arg_int(pVal, zWhat, iMin, iMax, piOut, &zErr) == SQLITE_OK) return 1;
  if (zErr) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR, "%s", zErr);
  } else {
    sqlite3_result_error_nomem(ctx);
  }
  sqlite3_free(zErr);
  return 0;
}

/* An integer >= iMin. */
static int argInt(sqlite3_context *ctx, const char *zFunc, const char *zWhat,
                  sqlite3_value *pVal, sqlite3_int64 iMin,
                  sqlite3_int64 *piOut) {
  return argRange(ctx, zFunc, zWhat, pVal, iMin, LARGEST_INT64, piOut);
}

/* A duration in milliseconds, iMin to SV_MS_MAX. */
static int argMs(sqlite3_context *ctx, const char *zFunc, const char *zWhat,
                 sqlite3_value *pVal, sqlite3_int64 iMin,
                 sqlite3_int64 *piOut) {
  return argRange(ctx, zFunc, zWhat, pVal, iMin, SV_MS_MAX, piOut);
}

/*
** The optional wait_ms argument argv[i] of state_lease and state_take
** (absent: 0) into *piWait.  A wait cannot be inside an explicit
** transaction, nor in a statement that writes (INSERT ... SELECT
** state_lease(...)): the local store would hold the write lock and read
** one snapshot while it sleeps (no other process could release or signal),
** PostgreSQL delivers no notification before the transaction ends, and
** Redis follows the same rule so that the same SQL behaves alike.
*/
static int argWait(sqlite3_context *ctx, const char *zFunc, int argc,
                   sqlite3_value **argv, int i, sqlite3_int64 *piWait) {
  sqlite3 *db = sqlite3_context_db_handle(ctx);
  *piWait = 0;
  if (argc <= i) return 1;
  if (!argMs(ctx, zFunc, "wait_ms", argv[i], 0, piWait)) return 0;
  if (*piWait > 0 && !sqlite3_get_autocommit(db)) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR,
                "cannot wait inside a transaction (wait_ms 0 does not wait; "
                "wait before BEGIN or after COMMIT)");
    return 0;
  }
  if (*piWait > 0 && sqlite3_txn_state(db, 0) == SQLITE_TXN_WRITE) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR,
                "cannot wait in a statement that writes (wait_ms 0 does not "
                "wait; wait in a SELECT of its own)");
    return 0;
  }
  return 1;
}

/* JSON text (or, when bNull, SQL NULL) into *pOut. */
static int argJson(sqlite3_context *ctx, const char *zFunc, const char *zWhat,
                   sqlite3_value *pVal, int bNull, statevtab_value *pOut) {
  int t = sqlite3_value_type(pVal), e;
  memset(pOut, 0, sizeof(*pOut));
  if (t == SQLITE_NULL && bNull) {
    pOut->eType = SQLITE_NULL;
    return 1;
  }
  if (t == SQLITE_NULL || t == SQLITE_BLOB) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR, "%s must be JSON text", zWhat);
    return 0;
  }
  pOut->eType = SQLITE_TEXT;
  pOut->z = (const char *)sqlite3_value_text(pVal);
  pOut->n = sqlite3_value_bytes(pVal);
  if (!pOut->z) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  e = sv_json_check(pOut->z, pOut->n);
  if (e != SV_JSON_OK) {
    sv_fn_error(ctx, zFunc, SQLITE_ERROR, "%s %s", zWhat, sv_json_problem(e));
    return 0;
  }
  return 1;
}

/* ---------------------------------------------------------- meta */

static void fnVersion(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_text(ctx, STATEVTAB_VERSION, -1, SQLITE_STATIC);
}

static void fnNow(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  (void)argv;
  sqlite3_result_int64(ctx, sv_now_ms());
}

/*
** statevtab_debug(): one line per fact, for bug reports.
** statevtab_debug(TABLE): the module, store and options of one table.
*/
static void fnDebug(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  sv_conn *pConn = sv_fn_conn(ctx);
  char zStores[200];
  char *zOut;
  if (argc == 0) {
    zOut = sqlite3_mprintf(
        "statevtab %s\nsqlite compiled %s\nsqlite runtime %s\nstores %s",
        STATEVTAB_VERSION, SQLITE_VERSION, sqlite3_libversion(),
        sv_store_names(pConn, zStores, sizeof(zStores)));
  } else {
    sv_vtab *p = argTable(ctx, "statevtab_debug", argv[0], 0);
    char *zStore;
    sqlite3_str *s;
    int i;
    if (!p) return;
    zStore = sv_table_describe(p);
    if (!zStore) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    s = sqlite3_str_new(0);
    sqlite3_str_appendf(s, "table %s.%s\nmodule %s\nstore %s", p->zDb, p->zName,
                        p->pEntity->zModule, zStore);
    for (i = 0; i < p->nOpt; i++) {
      sqlite3_str_appendf(s, "\noption %s=%s", p->azOpt[2 * i],
                          p->azOpt[2 * i + 1]);
    }
    sqlite3_free(zStore);
    zOut = sqlite3_str_finish(s);
  }
  if (!zOut) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  sqlite3_result_text(ctx, zOut, -1, sqlite3_free);
}

/*
** statevtab_register_store(P): P is a statevtab_store_methods pointer
** bound with sqlite3_bind_pointer(..., "statevtab_store_methods").  Used by
** statevtab_register_store() in statevtab.h.
*/
static void fnRegisterStore(sqlite3_context *ctx, int argc,
                            sqlite3_value **argv) {
  sv_conn *pConn = sv_fn_conn(ctx);
  const statevtab_store_methods *p =
      sqlite3_value_pointer(argv[0], "statevtab_store_methods");
  int rc;
  (void)argc;
  if (!p) {
    sv_fn_error(ctx, "statevtab_register_store", SQLITE_MISUSE,
                "expects a pointer bound as 'statevtab_store_methods'");
    return;
  }
  rc = sv_register_scheme(pConn, p);
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, "statevtab_register_store", rc,
                "invalid store methods (iVersion >= 2, zScheme, and every "
                "method but the optional ones are required)");
    return;
  }
  sqlite3_result_int(ctx, 1);
}

/*
** statevtab_allow(ENTRY, ...) -> the number of entries: sets the stores
** every connection of this process may use (vtab/allow.c); called with
** one NULL, removes the list.  DIRECTONLY: the application's own call.
*/
static void fnAllow(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "statevtab_allow";
  const char **az = 0;
  char *zErr = 0;
  int i, rc;
  if (!(argc == 1 && sqlite3_value_type(argv[0]) == SQLITE_NULL)) {
    az = sqlite3_malloc64(sizeof(*az) * (size_t)(argc + 1));
    if (!az) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    for (i = 0; i < argc; i++) {
      if (sqlite3_value_type(argv[i]) != SQLITE_TEXT) {
        sv_fn_error(ctx, zF, SQLITE_ERROR,
                    "argument %d is not text (expected redis://host[:port], "
                    "unix:/path, postgresql://host[:port], env:NAME or "
                    "NAME:; one NULL removes the list)",
                    i + 1);
        sqlite3_free(az);
        return;
      }
      az[i] = (const char *)sqlite3_value_text(argv[i]);
      if (!az[i]) {
        sqlite3_free(az);
        sqlite3_result_error_nomem(ctx);
        return;
      }
    }
  }
  rc = sv_allow_set(az, argc, &zErr);
  if (rc == SQLITE_OK) sqlite3_result_int(ctx, az ? argc : 0);
  sqlite3_free(az);
  if (rc == SQLITE_OK) {
  } else if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
  } else {
    sv_fn_error(ctx, zF, rc, "%s", zErr);
  }
  sqlite3_free(zErr);
}

/* ------------------------------------------------------- finishing */

/* state_renew(tasks, id, token, lease_ms) -> new lease_expires_at | NULL */
static void fnRenew(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_renew";
  statevtab_value id;
  sqlite3_int64 iToken, iLease, iExpires = 0;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  int rc;
  (void)argc;
  if (!p || !argText(ctx, zF, "id", argv[1], &id) ||
      !argInt(ctx, zF, "token", argv[2], 0, &iToken) ||
      !argMs(ctx, zF, "lease_ms", argv[3], 0, &iLease)) {
    return;
  }
  rc = sv_table_renew(p, &id, iToken, iLease, &iExpires);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else if (iExpires) {
    sqlite3_result_int64(ctx, iExpires);
  }
}

/* state_complete(tasks, id, token [, result]) -> 1 | 0 (stale token);
** state_complete(tasks, list) -> tasks completed (claim.c) */
static void fnComplete(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_complete";
  statevtab_value id, result;
  sqlite3_int64 iToken;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  int rc, bOk = 0;
  memset(&result, 0, sizeof(result));
  if (argc == 2) {
    if (p) sv_fn_complete_list(ctx, p, argv[1]);
    return;
  }
  if (!p || !argText(ctx, zF, "id", argv[1], &id) ||
      !argInt(ctx, zF, "token", argv[2], 0, &iToken) ||
      (argc > 3 && !argJson(ctx, zF, "result", argv[3], 1, &result))) {
    return;
  }
  rc = sv_table_complete(p, &id, iToken, &result, &bOk);
  intResult(ctx, zF, p, rc, bOk);
}

/* state_fail(tasks, id, token, error [, retry_in_ms]) -> 'retry' | 'dead' |
** NULL (stale token) */
static void fnFail(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_fail";
  statevtab_value id, err;
  statevtab_table *pDead = 0;
  sqlite3_int64 iToken, iRetry = -1;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  char *zErr = 0;
  int rc, eOut = STATEVTAB_FAIL_STALE;
  if (!p || !argText(ctx, zF, "id", argv[1], &id) ||
      !argInt(ctx, zF, "token", argv[2], 0, &iToken)) {
    return;
  }
  memset(&err, 0, sizeof(err));
  if (sqlite3_value_type(argv[3]) != SQLITE_NULL &&
      !argText(ctx, zF, "error", argv[3], &err)) {
    return;
  }
  if (argc > 4 && sqlite3_value_type(argv[4]) != SQLITE_NULL &&
      !argMs(ctx, zF, "retry_in_ms", argv[4], 0, &iRetry)) {
    return;
  }
  rc = sv_dead_letters(p, &pDead, &zErr);
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, zF, zErr ? rc : SQLITE_NOMEM, "%s", zErr);
    sqlite3_free(zErr);
    return;
  }
  rc = sv_table_fail(p, pDead, &id, iToken, &err, iRetry, &eOut);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else if (eOut == STATEVTAB_FAIL_RETRY) {
    sqlite3_result_text(ctx, "retry", -1, SQLITE_STATIC);
  } else if (eOut == STATEVTAB_FAIL_DEAD) {
    sqlite3_result_text(ctx, "dead", -1, SQLITE_STATIC);
  }
}

/* state_pause(tasks, queue) / state_resume(tasks, queue) -> 1 | 0 */
static void pauseOrResume(sqlite3_context *ctx, sqlite3_value **argv,
                          const char *zF, int bPause) {
  statevtab_value q;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  int rc, bChanged = 0;
  if (!p || !argText(ctx, zF, "queue", argv[1], &q)) return;
  rc = sv_table_pause(p, &q, bPause, &bChanged);
  intResult(ctx, zF, p, rc, bChanged);
}

static void fnPause(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pauseOrResume(ctx, argv, "state_pause", 1);
}

static void fnResume(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  (void)argc;
  pauseOrResume(ctx, argv, "state_resume", 0);
}

/* state_paused(tasks, queue) -> 1 | 0 */
static void fnPaused(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_paused";
  statevtab_value q;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  int rc, b = 0;
  (void)argc;
  if (!p || !argText(ctx, zF, "queue", argv[1], &q)) return;
  rc = sv_table_paused(p, &q, &b);
  intResult(ctx, zF, p, rc, b);
}

/* ------------------------------------------------------------ leases */

/* state_lease(leases, name, owner, ttl_ms [, wait_ms]) -> fencing token |
** NULL (another owner held it throughout wait_ms, default 0) */
static void fnLease(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_lease";
  statevtab_value name, owner;
  sqlite3_int64 iTtl, iWait = 0, iToken = 0;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_leases");
  int rc;
  if (!p || !argText(ctx, zF, "name", argv[1], &name) ||
      !argText(ctx, zF, "owner", argv[2], &owner) ||
      !argMs(ctx, zF, "ttl_ms", argv[3], 1, &iTtl) ||
      !argWait(ctx, zF, argc, argv, 4, &iWait)) {
    return;
  }
  rc = sv_table_lease(p, &name, &owner, iTtl, iWait, &iToken);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else if (iToken) {
    sqlite3_result_int64(ctx, iToken);
  }
}

/* state_release(leases, name, owner) -> 1 | 0 */
static void fnRelease(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_release";
  statevtab_value name, owner;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_leases");
  int rc, bOk = 0;
  (void)argc;
  if (!p || !argText(ctx, zF, "name", argv[1], &name) ||
      !argText(ctx, zF, "owner", argv[2], &owner)) {
    return;
  }
  rc = sv_table_release(p, &name, &owner, &bOk);
  intResult(ctx, zF, p, rc, bOk);
}

/* state_incr(counters, scope, name [, delta]) -> new value */
static void fnIncr(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_incr";
  statevtab_value scope, name, delta, out;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_counters");
  int rc;
  if (!p || !argText(ctx, zF, "scope", argv[1], &scope) ||
      !argText(ctx, zF, "name", argv[2], &name)) {
    return;
  }
  memset(&delta, 0, sizeof(delta));
  delta.eType = SQLITE_INTEGER;
  delta.i = 1;
  if (argc > 3) {
    int t = sqlite3_value_type(argv[3]);
    if (t != SQLITE_INTEGER && t != SQLITE_FLOAT) {
      sv_fn_error(ctx, zF, SQLITE_ERROR, "delta must be a number");
      return;
    }
    sv_value_from_sqlite(argv[3], &delta);
  }
  rc = sv_table_incr(p, &scope, &name, &delta, &out);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else {
    sv_value_result(ctx, &out);
  }
}

/* ---------------------------------------------- signals, executions */

/* state_signal(signals, execution_id, name [, payload]) -> signal id */
static void fnSignal(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_signal";
  sqlite3_value *apArg[SV_MAX_COLUMNS];
  statevtab_value aRow[SV_MAX_COLUMNS];
  char zId[40];
  char *zErr = 0;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_signals");
  const statevtab_entity *e;
  int rc, bDone = 0;
  if (!p) return;
  e = p->pEntity;
  memset(apArg, 0, sizeof(apArg));
  apArg[SV_SIGNAL_EXECUTION_ID] = argv[1];
  apArg[SV_SIGNAL_NAME] = argv[2];
  if (argc > 3) apArg[SV_SIGNAL_PAYLOAD] = argv[3];
  rc = sv_make_row(p, apArg, aRow, zId, &zErr);
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, zF, zErr ? rc : SQLITE_NOMEM, "%s", zErr);
    sqlite3_free(zErr);
    return;
  }
  rc = sv_table_insert_atomic(p, aRow, &bDone);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
    return;
  }
  sv_value_result(ctx, &aRow[e->aiKey[0]]);
}

/* state_take(signals, execution_id, name [, wait_ms]) -> payload | NULL
** (NULL: no signal came in wait_ms, default 0) */
static void fnTake(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_take";
  statevtab_value exec, name, out;
  sqlite3_int64 iWait = 0;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_signals");
  int rc;
  if (!p || !argText(ctx, zF, "execution_id", argv[1], &exec) ||
      !argText(ctx, zF, "name", argv[2], &name) ||
      !argWait(ctx, zF, argc, argv, 3, &iWait)) {
    return;
  }
  rc = sv_table_take(p, &exec, &name, iWait, &out);
  if (rc != SQLITE_OK) {
    storeFail(ctx, zF, p, rc);
  } else {
    sv_value_result(ctx, &out);
  }
}

/* state_progress(executions, id, json) -> 1 | 0 (no such execution) */
static void fnProgress(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_progress";
  statevtab_value id, json;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_executions");
  int rc, bOk = 0;
  (void)argc;
  if (!p || !argText(ctx, zF, "id", argv[1], &id) ||
      !argJson(ctx, zF, "progress entry", argv[2], 0, &json)) {
    return;
  }
  {
    /* Every store appends the entry as SQLite's json() would write it. */
    char *zMin = sv_json_minify(json.z, json.n);
    if (!zMin) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    json.z = zMin;
    json.n = (int)strlen(zMin);
    rc = sv_table_progress(p, &id, &json, &bOk);
    sqlite3_free(zMin);
  }
  intResult(ctx, zF, p, rc, bOk);
}

/* state_wait(tasks, queue, timeout_ms) -> 1 when a task of the queue is
** runnable, 0 after timeout_ms without one. */
static void fnWait(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_wait";
  statevtab_value q;
  sqlite3_int64 iTimeout;
  sv_vtab *p = argTable(ctx, zF, argv[0], "state_tasks");
  int rc, bReady = 0;
  (void)argc;
  if (!p || !argText(ctx, zF, "queue", argv[1], &q) ||
      !argMs(ctx, zF, "timeout_ms", argv[2], 0, &iTimeout)) {
    return;
  }
  rc = sv_table_wait(p, &q, iTimeout, &bReady);
  intResult(ctx, zF, p, rc, bReady);
}

/*
** state_cron_next(cron [, timezone [, after_ms]]) -> the first occurrence of
** the cron expression after after_ms (default: now) in the time zone
** (default and NULL: 'UTC'), in ms; NULL when it never runs.
*/
static void fnCronNext(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  static const char zF[] = "state_cron_next";
  const char *zExpr = (const char *)sqlite3_value_text(argv[0]);
  const char *zTz = 0;
  sqlite3_int64 iAfter = sv_now_ms(), iNext = 0;
  char *zErr = 0;
  int rc;
  if (!zExpr) {
    if (sqlite3_value_type(argv[0]) != SQLITE_NULL) {
      sqlite3_result_error_nomem(ctx);
    } else {
      sv_fn_error(ctx, zF, SQLITE_ERROR, "cron must be text");
    }
    return;
  }
  if (argc > 1 && sqlite3_value_type(argv[1]) != SQLITE_NULL) {
    zTz = (const char *)sqlite3_value_text(argv[1]);
    if (!zTz) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
  }
  if (argc > 2 && sqlite3_value_type(argv[2]) != SQLITE_NULL &&
      !argRange(ctx, zF, "after_ms", argv[2], 0, 32503680000000LL, &iAfter)) {
    return;
  }
  rc = sv_cron_eval(zExpr, zTz, iAfter, &iNext, &zErr);
  if (rc == SQLITE_OK) {
    sqlite3_result_int64(ctx, iNext);
  } else if (rc == SQLITE_DONE) {
    sqlite3_result_null(ctx);
  } else {
    sv_fn_error(ctx, zF, rc, "%s", zErr);
  }
  sqlite3_free(zErr);
}

#define META (SQLITE_UTF8 | SQLITE_INNOCUOUS)
/*
** Functions that read or change state, or that can connect a table (and so
** reach the network with the application's credentials): never from views
** or triggers, whatever trusted_schema says, because the database file is
** data, not authority.  statevtab_debug(TABLE) is one of them: naming a
** table makes SQLite connect it.
*/
#define SIDE (SQLITE_UTF8 | SQLITE_DIRECTONLY)

const sv_func sv_aFunc[] = {
    {"statevtab_version", 0, META | SQLITE_DETERMINISTIC, fnVersion},
    {"statevtab_debug", 0, META, fnDebug},
    {"statevtab_debug", 1, SIDE, fnDebug},
    {"state_now", 0, META, fnNow},
    {"state_cron_next", 1, META, fnCronNext},
    {"state_cron_next", 2, META, fnCronNext},
    {"state_cron_next", 3, META, fnCronNext},
    {"statevtab_register_store", 1, SIDE, fnRegisterStore},
    {"statevtab_allow", -1, SIDE, fnAllow},
    {"state_renew", 4, SIDE, fnRenew},
    {"state_complete", 2, SIDE, fnComplete},
    {"state_complete", 3, SIDE, fnComplete},
    {"state_complete", 4, SIDE, fnComplete},
    {"state_fail", 4, SIDE, fnFail},
    {"state_fail", 5, SIDE, fnFail},
    {"state_pause", 2, SIDE, fnPause},
    {"state_resume", 2, SIDE, fnResume},
    {"state_paused", 2, SIDE, fnPaused},
    {"state_lease", 4, SIDE, fnLease},
    {"state_lease", 5, SIDE, fnLease},
    {"state_release", 3, SIDE, fnRelease},
    {"state_incr", 3, SIDE, fnIncr},
    {"state_incr", 4, SIDE, fnIncr},
    {"state_signal", 3, SIDE, fnSignal},
    {"state_signal", 4, SIDE, fnSignal},
    {"state_take", 3, SIDE, fnTake},
    {"state_take", 4, SIDE, fnTake},
    {"state_progress", 3, SIDE, fnProgress},
    {"state_wait", 3, SIDE, fnWait},
    {"state_redrive", 2, SIDE, sv_fn_redrive},
    {"state_redrive", 3, SIDE, sv_fn_redrive},
    {"state_flag", 2, SIDE, sv_fn_flag},
    {"state_flag", 3, SIDE, sv_fn_flag},
    {"state_variant", 2, SIDE, sv_fn_variant},
    {"state_variant", 3, SIDE, sv_fn_variant},
    {"state_flags_import", 2, SIDE, sv_fn_flags_import},
    {"state_flags_export", 1, SIDE, sv_fn_flags_export},
    {"state_flags_apply_delta", 2, SIDE, sv_fn_flags_apply_delta},
    {"state_bucket", 2, META | SQLITE_DETERMINISTIC, sv_fn_bucket},
    {"state_bucket", 3, META | SQLITE_DETERMINISTIC, sv_fn_bucket},
    {"state_bucket", 4, META | SQLITE_DETERMINISTIC, sv_fn_bucket},
};
const int sv_nFunc = (int)(sizeof(sv_aFunc) / sizeof(sv_aFunc[0]));
