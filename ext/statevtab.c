/*
** 2026-11-22
**
** statevtab.c -- the extension's entry point.
**
**   sqlite> .load ./statevtab
**   sqlite> CREATE VIRTUAL TABLE tasks USING state_tasks();
**
** HOW IT WORKS
**
** sqlite3_statevtab_init() runs once per database connection.  It makes the
** connection's sv_conn (the registry of stores and connected tables), walks
** two static registration tables -- the store implementations built in and
** the SQL functions (functions.c) -- and registers one module per entity
** (vtab/) plus the table-valued function state_claim (claim.c).  Every module
*and function holds a reference on the sv_conn, so it
** lives exactly as long as the connection uses it.  A registration that fails
** is reported with its name.
*/
#include "svext.h"
SQLITE_EXTENSION_INIT1

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

/* Store implementations built into this extension. */
static const statevtab_store_methods *const aBuiltinStore[] = {
    &sv_sqlite_store,
#ifdef HAVE_POSTGRES
    &sv_pg_store,
#endif
#ifdef HAVE_REDIS
    &sv_redis_store,
#endif
};

#ifdef _WIN32
__declspec(dllexport)
#endif
    int sqlite3_statevtab_init(sqlite3 *db, char **pzErrMsg,
                               const sqlite3_api_routines *pApi) {
  sv_conn *pConn;
  int rc = SQLITE_OK;
  size_t i;
  SQLITE_EXTENSION_INIT2(pApi);

  if (sqlite3_libversion_number() < 3040000) {
    *pzErrMsg = sqlite3_mprintf("statevtab: SQLite 3.40.0 or later is "
                                "required (this is %s)",
                                sqlite3_libversion());
    return SQLITE_ERROR;
  }
  pConn = sqlite3_malloc64(sizeof(*pConn));
  if (!pConn) return SQLITE_NOMEM;
  memset(pConn, 0, sizeof(*pConn));
  pConn->db = db;
  pConn->nRef = 1; /* ours until the end of this function */

  for (i = 0;
       rc == SQLITE_OK && i < sizeof(aBuiltinStore) / sizeof(aBuiltinStore[0]);
       i++) {
    rc = sv_register_scheme(pConn, aBuiltinStore[i]);
  }
  if (rc == SQLITE_OK) {
    rc = sv_register_modules(db, pConn);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
      *pzErrMsg = sqlite3_mprintf("statevtab: cannot register modules: %s",
                                  sqlite3_errmsg(db));
    }
  }
  if (rc == SQLITE_OK) {
    pConn->nRef++;
    rc = sqlite3_create_module_v2(db, "state_claim", &sv_claim_module, pConn,
                                  sv_conn_unref);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
      *pzErrMsg = sqlite3_mprintf("statevtab: cannot register module "
                                  "state_claim: %s",
                                  sqlite3_errmsg(db));
    }
    if (rc == SQLITE_OK) sv_claim_temp(db);
  }
  if (rc == SQLITE_OK) {
    pConn->nRef++;
    rc = sqlite3_create_module_v2(db, "state_metrics", &sv_metrics_module,
                                  pConn, sv_conn_unref);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
      *pzErrMsg = sqlite3_mprintf("statevtab: cannot register module "
                                  "state_metrics: %s",
                                  sqlite3_errmsg(db));
    }
  }
  for (i = 0; rc == SQLITE_OK && i < (size_t)sv_nFunc; i++) {
    const sv_func *f = &sv_aFunc[i];
    sv_fnref *pRef = sqlite3_malloc64(sizeof(*pRef));
    if (!pRef) {
      rc = SQLITE_NOMEM;
      break;
    }
    pRef->pConn = pConn;
    pRef->xFunc = f->xFunc;
    pConn->nRef++;
    /* (On failure SQLite calls the destructor itself.) */
    rc = sqlite3_create_function_v2(db, f->zName, f->nArg, f->flags, pRef,
                                    sv_fn_call, 0, 0, sv_fnref_free);
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
      *pzErrMsg = sqlite3_mprintf("statevtab: cannot register function %s: %s",
                                  f->zName, sqlite3_errmsg(db));
    }
  }
  sv_conn_unref(pConn);
  return rc;
}
