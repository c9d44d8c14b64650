/*
** 2026-12-03
**
** table.c -- what the SQL functions (ext/) ask of a table: the atomic
** primitives of its store, one call each, and the store's error message.
** ext/ goes through these and never through statevtab_store or its
** methods, so the layers stay one-way: ext -> vtab -> store.
**
** USAGE
**
**   rc = sv_table_complete(p, &id, iToken, &result, &bOk);
**   if (rc != SQLITE_OK) zMsg = sv_table_error(p, rc);   (sqlite3_free it)
**
** Each sv_table_X calls the queue method X (statevtab_queue_methods) of
** table p's store with p's store table and returns its code.  A store
** without that method (a custom store that implements rows only, pQueue
** NULL) gets SQLITE_ERROR and the message "store '<scheme>' does not
** support this function".
*/
#include "svint.h"

#define METHODS(p) ((p)->pRef->pStore->pMethods)

/* Leave "store ... does not support this function" as the store's error. */
static int unsupported(sv_vtab *p) {
  statevtab_store *s = p->pRef->pStore;
  sqlite3_free(s->zErrMsg);
  s->zErrMsg = sqlite3_mprintf("store '%s' does not support this function",
                               METHODS(p)->zScheme);
  return s->zErrMsg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Call queue method M of p's store with p's store table and the rest. */
#define CALL(p, M, ...)                                                        \
  (METHODS(p)->pQueue && METHODS(p)->pQueue->M                                 \
       ? METHODS(p)->pQueue->M((p)->pTab, __VA_ARGS__)                         \
       : unsupported(p))

/*
** Take the message of the store's last failure rc (sqlite3_malloc'd; the
** store forgets it): the store's own text, else SQLite's for rc.  NULL on
** OOM.
*/
char *sv_table_error(sv_vtab *p, int rc) {
  statevtab_store *s = p->pRef->pStore;
  char *z = s->zErrMsg ? s->zErrMsg : sqlite3_mprintf("%s", sqlite3_errstr(rc));
  s->zErrMsg = 0;
  return z;
}

int sv_table_claim(sv_vtab *p, statevtab_table *pDead, const statevtab_claim *c,
                   statevtab_row_fn xRow, void *pCtx) {
  return CALL(p, xClaim, pDead, c, xRow, pCtx);
}

int sv_table_renew(sv_vtab *p, const statevtab_value *pId, sqlite3_int64 iToken,
                   sqlite3_int64 iLeaseMs, sqlite3_int64 *piExpires) {
  return CALL(p, xRenew, pId, iToken, iLeaseMs, piExpires);
}

int sv_table_complete(sv_vtab *p, const statevtab_value *pId,
                      sqlite3_int64 iToken, const statevtab_value *pResult,
                      int *pbOk) {
  return CALL(p, xComplete, pId, iToken, pResult, pbOk);
}

int sv_table_fail(sv_vtab *p, statevtab_table *pDead,
                  const statevtab_value *pId, sqlite3_int64 iToken,
                  const statevtab_value *pError, sqlite3_int64 iRetryMs,
                  int *peOut) {
  return CALL(p, xFail, pDead, pId, iToken, pError, iRetryMs, peOut);
}

int sv_table_pause(sv_vtab *p, const statevtab_value *pQueue, int bPause,
                   int *pbChanged) {
  return CALL(p, xPause, pQueue, bPause, pbChanged);
}

int sv_table_paused(sv_vtab *p, const statevtab_value *pQueue, int *pb) {
  return CALL(p, xPaused, pQueue, pb);
}

int sv_table_lease(sv_vtab *p, const statevtab_value *pName,
                   const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                   sqlite3_int64 *piToken) {
  return CALL(p, xLease, pName, pOwner, iTtlMs, piToken);
}

int sv_table_release(sv_vtab *p, const statevtab_value *pName,
                     const statevtab_value *pOwner, int *pbOk) {
  return CALL(p, xLeaseRelease, pName, pOwner, pbOk);
}

int sv_table_incr(sv_vtab *p, const statevtab_value *pScope,
                  const statevtab_value *pName, const statevtab_value *pDelta,
                  statevtab_value *pOut) {
  return CALL(p, xIncr, pScope, pName, pDelta, pOut);
}

int sv_table_insert_atomic(sv_vtab *p, const statevtab_value *aRow,
                           int *pbDone) {
  return CALL(p, xInsertAtomic, aRow, pbDone);
}

int sv_table_take(sv_vtab *p, const statevtab_value *pExecId,
                  const statevtab_value *pName, statevtab_value *pOut) {
  return CALL(p, xTake, pExecId, pName, pOut);
}

int sv_table_progress(sv_vtab *p, const statevtab_value *pId,
                      const statevtab_value *pJson, int *pbOk) {
  return CALL(p, xProgress, pId, pJson, pbOk);
}

int sv_table_wait(sv_vtab *p, const statevtab_value *pQueue,
                  sqlite3_int64 iTimeoutMs, int *pbReady) {
  return CALL(p, xWait, pQueue, iTimeoutMs, pbReady);
}

/* The store line of statevtab_debug(T) (sqlite3_malloc'd; NULL on OOM). */
char *sv_table_describe(sv_vtab *p) {
  const statevtab_store_methods *m = METHODS(p);
  return m->xDescribe ? m->xDescribe(p->pRef->pStore)
                      : sqlite3_mprintf("%s", m->zScheme);
}
