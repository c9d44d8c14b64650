/*
** 2026-11-22
**
** functions.c -- the SQL functions of statevtab.
**
**   SELECT statevtab_version();          -- '0.1.0'
**   SELECT statevtab_debug();            -- version, SQLite, stores
**   SELECT statevtab_debug('tasks');     -- one table: module, store, shape
**   SELECT state_now();                  -- milliseconds since the epoch
**
** Every function gets the connection's sv_conn as its user data.  Errors are
** "<function>: <what failed>", with SQLite's result codes.
*/
#include "svext.h"

#include <stdarg.h>


/* Report "<function>: <message>" with result code rc. */
static void fnError(sqlite3_context *ctx, const char *zFunc, int rc,
                    const char *zFmt, ...) {
  va_list ap;
  char *zMsg;
  if (rc == SQLITE_NOMEM) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  if (!zMsg) {
    sqlite3_result_error_nomem(ctx);
    return;
  }
  {
    char *zFull = sqlite3_mprintf("%s: %s", zFunc, zMsg);
    sqlite3_free(zMsg);
    if (!zFull) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    sqlite3_result_error(ctx, zFull, -1);
    sqlite3_free(zFull);
  }
  sqlite3_result_error_code(ctx, rc);
}

/*
** Resolve argument iArg, a table name, to a connected statevtab table of
** module zKind (NULL: any).  On failure reports the error and returns NULL.
*/
static sv_vtab *argTable(sqlite3_context *ctx, const char *zFunc,
                         sqlite3_value *pArg, const char *zKind) {
  sv_conn *pConn = (sv_conn *)sqlite3_user_data(ctx);
  const char *zName = (const char *)sqlite3_value_text(pArg);
  char *zErr = 0;
  sv_vtab *p;
  if (sqlite3_value_type(pArg) != SQLITE_TEXT || !zName) {
    if (sqlite3_value_type(pArg) == SQLITE_TEXT) {
      sqlite3_result_error_nomem(ctx);
    } else {
      fnError(ctx, zFunc, SQLITE_ERROR,
              "the first argument must name a statevtab table");
    }
    return 0;
  }
  p = sv_find_table(pConn, zName, zKind, &zErr);
  if (!p) {
    if (zErr) {
      fnError(ctx, zFunc, SQLITE_ERROR, "%s", zErr);
      sqlite3_free(zErr);
    } else {
      sqlite3_result_error_nomem(ctx);
    }
  }
  return p;
}

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
  sv_conn *pConn = (sv_conn *)sqlite3_user_data(ctx);
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
    zStore = p->pRef->pStore->pMethods->xDescribe
                 ? p->pRef->pStore->pMethods->xDescribe(p->pRef->pStore)
                 : sqlite3_mprintf("%s", p->pRef->pStore->pMethods->zScheme);
    if (!zStore) {
      sqlite3_result_error_nomem(ctx);
      return;
    }
    s = sqlite3_str_new(0);
    sqlite3_str_appendf(s, "table %s.%s\nmodule %s\nstore %s", p->zDb,
                        p->zName, p->pEntity->zModule, zStore);
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
  sv_conn *pConn = (sv_conn *)sqlite3_user_data(ctx);
  const statevtab_store_methods *p =
      sqlite3_value_pointer(argv[0], "statevtab_store_methods");
  int rc;
  (void)argc;
  if (!p) {
    fnError(ctx, "statevtab_register_store", SQLITE_MISUSE,
            "expects a pointer bound as 'statevtab_store_methods'");
    return;
  }
  rc = sv_register_scheme(pConn, p);
  if (rc != SQLITE_OK) {
    fnError(ctx, "statevtab_register_store", rc,
            "invalid store methods (iVersion, zScheme and xOpen are "
            "required)");
    return;
  }
  sqlite3_result_int(ctx, 1);
}

#define META (SQLITE_UTF8 | SQLITE_INNOCUOUS)
#define SIDE (SQLITE_UTF8 | SQLITE_DIRECTONLY)

const sv_func sv_aFunc[] = {
    {"statevtab_version", 0, META | SQLITE_DETERMINISTIC, fnVersion},
    {"statevtab_debug", 0, META, fnDebug},
    {"statevtab_debug", 1, META, fnDebug},
    {"state_now", 0, META, fnNow},
    {"statevtab_register_store", 1, SIDE, fnRegisterStore},
};
const int sv_nFunc = (int)(sizeof(sv_aFunc) / sizeof(sv_aFunc[0]));
