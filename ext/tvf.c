/*
** 2026-12-03
**
** tvf.c -- what the table-valued functions (state_claim in claim.c,
** state_metrics in metrics.c) share: the planning of their arguments
** (hidden columns after the result columns, each given by "=") and a
** cursor over rows that xFilter makes all at once, each sqlite3_malloc'd,
** returned in order.
*/
#include "svext.h"

int sv_tvf_args(sqlite3_index_info *pInfo, int iFirst, int nArg, int *pMask) {
  int aIdx[SV_TVF_MAXARG];
  int i, k, nUsed = 0;
  *pMask = 0;
  for (k = 0; k < nArg; k++) aIdx[k] = -1;
  for (i = 0; i < pInfo->nConstraint; i++) {
    const struct sqlite3_index_constraint *c = &pInfo->aConstraint[i];
    int iArg = c->iColumn - iFirst;
    if (iArg < 0 || iArg >= nArg) continue;
    if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
    /* An argument that is there but not yet known (a join): ask for a plan
    ** in which it is. */
    if (!c->usable) return SQLITE_CONSTRAINT;
    aIdx[iArg] = i;
  }
  for (k = 0; k < nArg; k++) {
    if (aIdx[k] < 0) continue;
    *pMask |= 1 << k;
    pInfo->aConstraintUsage[aIdx[k]].argvIndex = ++nUsed;
    pInfo->aConstraintUsage[aIdx[k]].omit = 1;
  }
  return SQLITE_OK;
}

int sv_tvf_open(sqlite3_vtab *pVtab, sqlite3_vtab_cursor **ppCursor) {
  sv_tvf_cursor *c = sqlite3_malloc64(sizeof(*c));
  (void)pVtab;
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  *ppCursor = &c->base;
  return SQLITE_OK;
}

void sv_tvf_reset(sv_tvf_cursor *c) {
  int i;
  for (i = 0; i < c->nRow; i++) sqlite3_free(c->apRow[i]);
  sqlite3_free(c->apRow);
  c->apRow = 0;
  c->nRow = c->nAlloc = c->iRow = 0;
}

int sv_tvf_push(sv_tvf_cursor *c, void *pRow) {
  if (c->nRow >= c->nAlloc) {
    int nNew = c->nAlloc ? c->nAlloc * 2 : 8;
    void **ap = sqlite3_realloc64(c->apRow, sizeof(void *) * (size_t)nNew);
    if (!ap) {
      sqlite3_free(pRow);
      return SQLITE_NOMEM;
    }
    c->apRow = ap;
    c->nAlloc = nNew;
  }
  c->apRow[c->nRow++] = pRow;
  return SQLITE_OK;
}

int sv_tvf_close(sqlite3_vtab_cursor *cur) {
  sv_tvf_reset((sv_tvf_cursor *)cur);
  sqlite3_free(cur);
  return SQLITE_OK;
}

int sv_tvf_next(sqlite3_vtab_cursor *cur) {
  ((sv_tvf_cursor *)cur)->iRow++;
  return SQLITE_OK;
}

int sv_tvf_eof(sqlite3_vtab_cursor *cur) {
  sv_tvf_cursor *c = (sv_tvf_cursor *)cur;
  return c->iRow >= c->nRow;
}

int sv_tvf_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *pRowid) {
  *pRowid = ((sv_tvf_cursor *)cur)->iRow + 1;
  return SQLITE_OK;
}
