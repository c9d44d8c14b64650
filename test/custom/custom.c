/*
** 2026-11-22
**
** custom.c -- the custom-store interface (statevtab.h) seen from an
** application: a program linked against the system libsqlite3 that loads
** the extension with sqlite3_load_extension(), registers a small in-memory
** store of its own under the scheme "memtest" and drives it through SQL.
**
**   cc -I<repo> test/custom/custom.c -o custom -lsqlite3
**   ./custom /path/to/statevtab.so [-q]
**
** Prints "PASS custom/<name>" or "FAIL custom/<name>: <details>" per case
** (-q: FAIL lines only) and exits 1 when any case failed.
**
** THE STORE
**
** "memtest:NAME" names an in-process "server" NAME that outlives the store
** objects (as a Redis server outlives its connections); each server keeps,
** per SQL table ("schema.table"), a C array of rows with rowids.  Scans copy
** the matching rows into the cursor, filtering exactly per statevtab.h:
** every operator, with the column's affinity applied to the constraint value
** and SQLite's cross-type ordering.  No ordering (fCaps 0), no transactions;
** of the atomic primitives only xIncr.  Inserting a row whose "name" column
** is 'boom' fails with a store message.
*/
#include "statevtab.h"

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* =================================================================== store */

typedef struct MemRow {
  sqlite3_int64 iRowid;
  statevtab_value *a; /* one value per entity column, deep copies */
} MemRow;

typedef struct MemData MemData;
struct MemData {
  char *zKey; /* "schema.table" */
  /* The entity descriptor belongs to the extension, which is unloaded when
  ** the connection closes, while the data lives on: only copies here. */
  char *zKind;
  int nCol;
  MemRow *aRow;
  int nRow, nAlloc;
  sqlite3_int64 iNextRowid;
  MemData *pNext;
};

typedef struct MemServer MemServer;
struct MemServer {
  char *zName;
  MemData *pData;
  MemServer *pNext;
};
static MemServer *gServers;

typedef struct MemStore {
  statevtab_store base;
  MemServer *pServer;
  int iInstance;
} MemStore;

typedef struct MemTable {
  statevtab_table base;
  MemStore *pStore;
  MemData *pData;
  char *zDb;
  char *zPrefix;
} MemTable;

typedef struct MemCursor {
  statevtab_cursor base;
  MemRow *aRow; /* copies of the matching rows */
  int nRow, iRow;
} MemCursor;

/* Call counters, read by the tests. */
static int gnOpenCalls, gnOpenOk, gnClose, gnCloseX, gnAttach, gnDetach, gnDrop,
    gnRename, gnIncr;
static char gzLastSafeUrl[200];

static sqlite3_int64 nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void memError(statevtab_store *p, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(p->zErrMsg);
  p->zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
}

static int valCopy(statevtab_value *pDst, const statevtab_value *pSrc) {
  *pDst = *pSrc;
  if (pSrc->eType == SQLITE_TEXT || pSrc->eType == SQLITE_BLOB) {
    char *z = sqlite3_malloc64((sqlite3_uint64)pSrc->n + 1);
    if (!z) {
      pDst->eType = SQLITE_NULL;
      pDst->z = 0;
      return SQLITE_NOMEM;
    }
    if (pSrc->n > 0) memcpy(z, pSrc->z, (size_t)pSrc->n);
    z[pSrc->n] = 0;
    pDst->z = z;
  } else {
    pDst->z = 0;
    pDst->n = 0;
  }
  return SQLITE_OK;
}

static void valFree(statevtab_value *p) {
  if (p->eType == SQLITE_TEXT || p->eType == SQLITE_BLOB) {
    sqlite3_free((char *)p->z);
  }
  p->z = 0;
  p->eType = SQLITE_NULL;
}

static void rowFree(int nCol, MemRow *r) {
  int i;
  if (!r->a) return;
  for (i = 0; i < nCol; i++) valFree(&r->a[i]);
  sqlite3_free(r->a);
  r->a = 0;
}

/* Deep copy of nCol values into *pOut. */
static int rowCopy(int nCol, const statevtab_value *aSrc, sqlite3_int64 iRowid,
                   MemRow *pOut) {
  int i, rc = SQLITE_OK;
  pOut->iRowid = iRowid;
  pOut->a = sqlite3_malloc64(sizeof(statevtab_value) * (size_t)nCol);
  if (!pOut->a) return SQLITE_NOMEM;
  memset(pOut->a, 0, sizeof(statevtab_value) * (size_t)nCol);
  for (i = 0; i < nCol; i++) {
    pOut->a[i].eType = SQLITE_NULL;
  }
  for (i = 0; rc == SQLITE_OK && i < nCol; i++) {
    rc = valCopy(&pOut->a[i], &aSrc[i]);
  }
  if (rc != SQLITE_OK) rowFree(nCol, pOut);
  return rc;
}

static void dataFree(MemData *d) {
  int i;
  for (i = 0; i < d->nRow; i++) rowFree(d->nCol, &d->aRow[i]);
  sqlite3_free(d->aRow);
  sqlite3_free(d->zKind);
  sqlite3_free(d->zKey);
  sqlite3_free(d);
}

/* Free every server (end of the program, for valgrind). */
static void memShutdown(void) {
  while (gServers) {
    MemServer *s = gServers;
    gServers = s->pNext;
    while (s->pData) {
      MemData *d = s->pData;
      s->pData = d->pNext;
      dataFree(d);
    }
    sqlite3_free(s->zName);
    sqlite3_free(s);
  }
}

/* ---------------------------------------------------------- comparisons */

static int typeClass(int eType) {
  switch (eType) {
  case SQLITE_NULL:
    return 0;
  case SQLITE_INTEGER:
  case SQLITE_FLOAT:
    return 1;
  case SQLITE_TEXT:
    return 2;
  default:
    return 3;
  }
}

/* SQLite's ordering of two non-NULL or NULL values (BINARY collation). */
static int valCmp(const statevtab_value *a, const statevtab_value *b) {
  int ca = typeClass(a->eType), cb = typeClass(b->eType);
  if (ca != cb) return ca < cb ? -1 : 1;
  if (ca == 0) return 0;
  if (ca == 1) {
    if (a->eType == SQLITE_INTEGER && b->eType == SQLITE_INTEGER) {
      return a->i < b->i ? -1 : a->i > b->i;
    } else {
      long double x = a->eType == SQLITE_INTEGER ? (long double)a->i : a->r;
      long double y = b->eType == SQLITE_INTEGER ? (long double)b->i : b->r;
      return x < y ? -1 : x > y;
    }
  } else {
    int n = a->n < b->n ? a->n : b->n;
    int c = n > 0 ? memcmp(a->z, b->z, (size_t)n) : 0;
    if (c) return c < 0 ? -1 : 1;
    return a->n < b->n ? -1 : a->n > b->n;
  }
}

/* Whether z[0..n) is a number as SQLite's numeric affinity reads it:
** optional spaces, sign, digits with an optional '.', optional exponent. */
static int looksNumeric(const char *z, int n, int *pbReal) {
  int i = 0, nDigit = 0;
  *pbReal = 0;
  while (i < n && z[i] == ' ') i++;
  if (i < n && (z[i] == '+' || z[i] == '-')) i++;
  while (i < n && z[i] >= '0' && z[i] <= '9') i++, nDigit++;
  if (i < n && z[i] == '.') {
    *pbReal = 1;
    i++;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++, nDigit++;
  }
  if (nDigit == 0) return 0;
  if (i < n && (z[i] == 'e' || z[i] == 'E')) {
    int nExp = 0;
    *pbReal = 1;
    i++;
    if (i < n && (z[i] == '+' || z[i] == '-')) i++;
    while (i < n && z[i] >= '0' && z[i] <= '9') i++, nExp++;
    if (nExp == 0) return 0;
  }
  while (i < n && z[i] == ' ') i++;
  return i == n;
}

/*
** The constraint value *pIn as SQLite would compare it with a column of
** declared type eColType: numeric affinity turns numeric text into a
** number, text affinity turns a number into text (zBuf, 64 bytes).
*/
static void withAffinity(int eColType, const statevtab_value *pIn,
                         statevtab_value *pOut, char *zBuf) {
  *pOut = *pIn;
  switch (eColType) {
  case STATEVTAB_INT:
  case STATEVTAB_BOOL:
  case STATEVTAB_NUM: {
    int bReal;
    if (pIn->eType == SQLITE_TEXT && pIn->n < 60 &&
        looksNumeric(pIn->z, pIn->n, &bReal)) {
      char *zEnd;
      memcpy(zBuf, pIn->z, (size_t)pIn->n);
      zBuf[pIn->n] = 0;
      if (!bReal) {
        long long v = strtoll(zBuf, &zEnd, 10);
        while (*zEnd == ' ') zEnd++;
        if (*zEnd == 0 && v != LLONG_MAX && v != LLONG_MIN) {
          pOut->eType = SQLITE_INTEGER;
          pOut->i = v;
          break;
        }
      }
      pOut->eType = SQLITE_FLOAT;
      pOut->r = strtod(zBuf, 0);
    }
    break;
  }
  default: /* TEXT, JSON: TEXT affinity */
    if (pIn->eType == SQLITE_INTEGER) {
      sqlite3_snprintf(64, zBuf, "%lld", pIn->i);
    } else if (pIn->eType == SQLITE_FLOAT) {
      sqlite3_snprintf(64, zBuf, "%!.15g", pIn->r);
    } else {
      break;
    }
    pOut->eType = SQLITE_TEXT;
    pOut->z = zBuf;
    pOut->n = (int)strlen(zBuf);
    break;
  }
}

/* Whether row value a satisfies constraint c (on a column of type eCol). */
static int consTrue(const statevtab_cons *c, int eCol,
                    const statevtab_value *a) {
  char zBuf[64];
  statevtab_value b;
  int cmp;
  withAffinity(eCol, &c->v, &b, zBuf);
  if (c->op == STATEVTAB_IS) {
    if (a->eType == SQLITE_NULL || b.eType == SQLITE_NULL) {
      return a->eType == b.eType;
    }
    return valCmp(a, &b) == 0;
  }
  if (c->op == STATEVTAB_ALIVE) {
    if (a->eType == SQLITE_NULL) return 1;
    return b.eType != SQLITE_NULL && valCmp(a, &b) > 0;
  }
  if (a->eType == SQLITE_NULL || b.eType == SQLITE_NULL) return 0;
  cmp = valCmp(a, &b);
  switch (c->op) {
  case STATEVTAB_EQ:
    return cmp == 0;
  case STATEVTAB_LT:
    return cmp < 0;
  case STATEVTAB_LE:
    return cmp <= 0;
  case STATEVTAB_GT:
    return cmp > 0;
  case STATEVTAB_GE:
    return cmp >= 0;
  default:
    return 0; /* unknown operator: matches nothing (never silently all) */
  }
}

/* ------------------------------------------------------------ lifecycle */

static const statevtab_store_methods memMethods;
static statevtab_store_methods rowsOnly;

static int memOpen(const statevtab_open *pOpen, statevtab_store **ppStore,
                   char **pzErr) {
  const char *zName = pOpen->zUrl;
  MemServer *s;
  MemStore *p;
  gnOpenCalls++;
  sqlite3_snprintf(sizeof(gzLastSafeUrl), gzLastSafeUrl, "%s", pOpen->zSafeUrl);
  /* (memrows: is the same store registered without queue methods) */
  if ((sqlite3_strnicmp(zName, "memtest:", 8) != 0 &&
       sqlite3_strnicmp(zName, "memrows:", 8) != 0) ||
      !pOpen->db) {
    *pzErr = sqlite3_mprintf("not a memtest URL: '%s'", pOpen->zSafeUrl);
    return SQLITE_ERROR;
  }
  zName += 8;
  if (strncmp(zName, "//", 2) == 0) zName += 2;
  if (strchr(zName, '@')) zName = strrchr(zName, '@') + 1;
  if (zName[0] == 0) {
    *pzErr = sqlite3_mprintf("no server name in '%s'", pOpen->zSafeUrl);
    return SQLITE_CANTOPEN;
  }
  for (s = gServers; s; s = s->pNext) {
    if (strcmp(s->zName, zName) == 0) break;
  }
  if (!s) {
    s = sqlite3_malloc64(sizeof(*s));
    if (!s) return SQLITE_NOMEM;
    memset(s, 0, sizeof(*s));
    s->zName = sqlite3_mprintf("%s", zName);
    if (!s->zName) {
      sqlite3_free(s);
      return SQLITE_NOMEM;
    }
    s->pNext = gServers;
    gServers = s;
  }
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->base.pMethods = sqlite3_strnicmp(pOpen->zUrl, "memrows:", 8) == 0
                         ? &rowsOnly
                         : &memMethods;
  p->base.fCaps = 0;
  p->pServer = s;
  p->iInstance = ++gnOpenOk;
  *ppStore = &p->base;
  return SQLITE_OK;
}

static void memClose(statevtab_store *pStore) {
  MemStore *p = (MemStore *)pStore;
  gnClose++;
  if (strcmp(p->pServer->zName, "x") == 0) gnCloseX++;
  sqlite3_free(pStore->zErrMsg);
  sqlite3_free(p);
}

static int memAttach(statevtab_store *pStore, const statevtab_entity *e,
                     const char *zDb, const char *zName, int nOpt,
                     const char *const *azOpt, int bCreate,
                     statevtab_table **ppTab) {
  MemStore *p = (MemStore *)pStore;
  MemTable *t;
  MemData *d;
  char *zKey;
  const char *zPrefix = 0;
  int i;
  (void)bCreate;
  *ppTab = 0;
  for (i = 0; i < nOpt; i++) {
    const char *zK = azOpt[2 * i];
    if (strcmp(zK, "prefix") == 0) {
      zPrefix = azOpt[2 * i + 1];
    } else if (strcmp(zK, "dead_letters") == 0) {
      /* Read by the SQL functions, but handed to every store. */
    } else {
      memError(pStore, "memtest does not know option '%s' (it takes prefix)",
               zK);
      return SQLITE_ERROR;
    }
  }
  zKey = sqlite3_mprintf("%s.%s", zDb, zName);
  if (!zKey) return SQLITE_NOMEM;
  for (d = p->pServer->pData; d; d = d->pNext) {
    if (strcmp(d->zKey, zKey) == 0) break;
  }
  if (d && (strcmp(d->zKind, e->zKind) != 0 || d->nCol != e->nCol)) {
    memError(pStore, "'%s' holds %s on this server", zKey, d->zKind);
    sqlite3_free(zKey);
    return SQLITE_ERROR;
  }
  t = sqlite3_malloc64(sizeof(*t));
  if (!t) {
    sqlite3_free(zKey);
    return SQLITE_NOMEM;
  }
  memset(t, 0, sizeof(*t));
  t->zDb = sqlite3_mprintf("%s", zDb);
  t->zPrefix = sqlite3_mprintf("%s", zPrefix ? zPrefix : "");
  if (!d) {
    d = sqlite3_malloc64(sizeof(*d));
    if (d) {
      memset(d, 0, sizeof(*d));
      d->zKey = zKey;
      zKey = 0;
      d->zKind = sqlite3_mprintf("%s", e->zKind);
      d->nCol = e->nCol;
      d->iNextRowid = 1;
      d->pNext = p->pServer->pData;
      p->pServer->pData = d;
    }
  }
  sqlite3_free(zKey);
  if (!d || !d->zKind || !t->zDb || !t->zPrefix) {
    sqlite3_free(t->zDb);
    sqlite3_free(t->zPrefix);
    sqlite3_free(t);
    return SQLITE_NOMEM;
  }
  t->base.pStore = pStore;
  t->base.pEntity = e;
  t->pStore = p;
  t->pData = d;
  *ppTab = &t->base;
  gnAttach++;
  return SQLITE_OK;
}

static void memDetach(statevtab_table *pTab) {
  MemTable *t = (MemTable *)pTab;
  gnDetach++;
  sqlite3_free(t->zDb);
  sqlite3_free(t->zPrefix);
  sqlite3_free(t);
}

static int memDrop(statevtab_table *pTab) {
  MemTable *t = (MemTable *)pTab;
  MemData **pp;
  gnDrop++;
  for (pp = &t->pStore->pServer->pData; *pp; pp = &(*pp)->pNext) {
    if (*pp == t->pData) {
      *pp = t->pData->pNext;
      dataFree(t->pData);
      break;
    }
  }
  t->pData = 0;
  return SQLITE_OK;
}

static int memRename(statevtab_table *pTab, const char *zNew) {
  MemTable *t = (MemTable *)pTab;
  char *zKey = sqlite3_mprintf("%s.%s", t->zDb, zNew);
  gnRename++;
  if (!zKey) return SQLITE_NOMEM;
  sqlite3_free(t->pData->zKey);
  t->pData->zKey = zKey;
  return SQLITE_OK;
}

/* ---------------------------------------------------------------- scans */

static int memOpenCursor(statevtab_table *pTab, statevtab_cursor **ppCur) {
  MemCursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->base.pTab = pTab;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void cursorReset(MemCursor *c) {
  int i;
  for (i = 0; i < c->nRow; i++)
    rowFree(c->base.pTab->pEntity->nCol, &c->aRow[i]);
  sqlite3_free(c->aRow);
  c->aRow = 0;
  c->nRow = c->iRow = 0;
}

static void memCloseCursor(statevtab_cursor *pCur) {
  cursorReset((MemCursor *)pCur);
  sqlite3_free(pCur);
}

static int rowMatches(const statevtab_entity *e, const MemRow *r,
                      const statevtab_scan *pScan) {
  int k;
  for (k = 0; k < pScan->nCons; k++) {
    const statevtab_cons *c = &pScan->aCons[k];
    if (c->iCol < 0 || c->iCol >= e->nCol) return 0;
    if (!consTrue(c, e->aCol[c->iCol].eType, &r->a[c->iCol])) return 0;
  }
  return 1;
}

static int memFilter(statevtab_cursor *pCur, const statevtab_scan *pScan) {
  MemCursor *c = (MemCursor *)pCur;
  MemTable *t = (MemTable *)pCur->pTab;
  MemData *d = t->pData;
  const statevtab_entity *e = pCur->pTab->pEntity;
  int i, rc;
  cursorReset(c);
  if (!d || d->nRow == 0) return SQLITE_OK;
  c->aRow = sqlite3_malloc64(sizeof(MemRow) * (size_t)d->nRow);
  if (!c->aRow) return SQLITE_NOMEM;
  for (i = 0; i < d->nRow; i++) {
    if (pScan->nLimit >= 0 && c->nRow >= pScan->nLimit) break;
    if (!rowMatches(e, &d->aRow[i], pScan)) continue;
    rc = rowCopy(e->nCol, d->aRow[i].a, d->aRow[i].iRowid, &c->aRow[c->nRow]);
    if (rc != SQLITE_OK) return rc;
    c->nRow++;
  }
  return SQLITE_OK;
}

static int memNext(statevtab_cursor *pCur) {
  ((MemCursor *)pCur)->iRow++;
  return SQLITE_OK;
}

static int memEof(statevtab_cursor *pCur) {
  MemCursor *c = (MemCursor *)pCur;
  return c->iRow >= c->nRow;
}

static int memColumn(statevtab_cursor *pCur, int iCol, statevtab_value *pOut) {
  MemCursor *c = (MemCursor *)pCur;
  if (iCol < 0 || iCol >= pCur->pTab->pEntity->nCol) return SQLITE_RANGE;
  *pOut = c->aRow[c->iRow].a[iCol];
  return SQLITE_OK;
}

static int memRowid(statevtab_cursor *pCur, sqlite3_int64 *pRowid) {
  MemCursor *c = (MemCursor *)pCur;
  *pRowid = c->aRow[c->iRow].iRowid;
  return SQLITE_OK;
}

/* --------------------------------------------------------------- writes */

static int findCol(const statevtab_entity *e, unsigned flag) {
  int i;
  for (i = 0; i < e->nCol; i++) {
    if (e->aCol[i].flags & flag) return i;
  }
  return -1;
}

static int findRowid(MemData *d, sqlite3_int64 iRowid) {
  int i;
  for (i = 0; i < d->nRow; i++) {
    if (d->aRow[i].iRowid == iRowid) return i;
  }
  return -1;
}

static void deleteAt(MemData *d, int i) {
  rowFree(d->nCol, &d->aRow[i]);
  memmove(&d->aRow[i], &d->aRow[i + 1],
          sizeof(MemRow) * (size_t)(d->nRow - i - 1));
  d->nRow--;
}

static int sameKey(const statevtab_entity *e, const statevtab_value *a,
                   const statevtab_value *b) {
  int k;
  for (k = 0; k < e->nKey; k++) {
    const statevtab_value *x = &a[e->aiKey[k]], *y = &b[e->aiKey[k]];
    if (x->eType == SQLITE_NULL || y->eType == SQLITE_NULL) return 0;
    if (valCmp(x, y) != 0) return 0;
  }
  return 1;
}

/* Index of the row other than iSkip with aRow's key, or -1.  A row past
** its expiry is invisible: it is deleted on the way and blocks nothing. */
static int findConflict(const statevtab_entity *e, MemData *d,
                        const statevtab_value *aRow, int iSkip, int *piSkip) {
  int iExp = findCol(e, STATEVTAB_COL_EXPIRES), i;
  sqlite3_int64 now = nowMs();
  for (i = 0; i < d->nRow; i++) {
    if (i == iSkip || !sameKey(e, d->aRow[i].a, aRow)) continue;
    if (iExp >= 0 && d->aRow[i].a[iExp].eType == SQLITE_INTEGER &&
        d->aRow[i].a[iExp].i <= now) {
      deleteAt(d, i);
      if (iSkip > i) (*piSkip)--;
      return -1;
    }
    return i;
  }
  return -1;
}

/* Index of a row other than iSkip with the same (scope, dedupe) value. */
static int findDuplicate(const statevtab_entity *e, MemData *d,
                         const statevtab_value *aRow, int iSkip) {
  int i;
  if (e->iDedupe < 0 || aRow[e->iDedupe].eType == SQLITE_NULL) return -1;
  for (i = 0; i < d->nRow; i++) {
    const statevtab_value *a = d->aRow[i].a;
    if (i == iSkip || a[e->iDedupe].eType == SQLITE_NULL) continue;
    if (valCmp(&a[e->iDedupe], &aRow[e->iDedupe]) == 0 &&
        valCmp(&a[e->iDedupeScope], &aRow[e->iDedupeScope]) == 0) {
      return i;
    }
  }
  return -1;
}

/* The magic value: rows named 'boom' are refused with a message. */
static int refused(statevtab_store *pStore, const statevtab_entity *e,
                   const statevtab_value *aRow) {
  int i;
  for (i = 0; i < e->nCol; i++) {
    if (strcmp(e->aCol[i].zName, "name") == 0 && aRow[i].eType == SQLITE_TEXT &&
        aRow[i].n == 4 && memcmp(aRow[i].z, "boom", 4) == 0) {
      memError(pStore, "memtest refuses rows named 'boom'");
      return 1;
    }
  }
  return 0;
}

static int appendRow(const statevtab_entity *e, MemData *d,
                     const statevtab_value *aRow, sqlite3_int64 *pRowid) {
  int rc, iVer = findCol(e, STATEVTAB_COL_VERSION);
  if (d->nRow == d->nAlloc) {
    int nNew = d->nAlloc ? 2 * d->nAlloc : 8;
    MemRow *aNew = sqlite3_realloc64(d->aRow, sizeof(MemRow) * (size_t)nNew);
    if (!aNew) return SQLITE_NOMEM;
    d->aRow = aNew;
    d->nAlloc = nNew;
  }
  rc = rowCopy(e->nCol, aRow, d->iNextRowid, &d->aRow[d->nRow]);
  if (rc != SQLITE_OK) return rc;
  if (iVer >= 0 && d->aRow[d->nRow].a[iVer].eType == SQLITE_NULL) {
    d->aRow[d->nRow].a[iVer].eType = SQLITE_INTEGER;
    d->aRow[d->nRow].a[iVer].i = 1;
  }
  *pRowid = d->iNextRowid++;
  d->nRow++;
  return SQLITE_OK;
}

static int memInsert(statevtab_table *pTab, const statevtab_value *aRow,
                     int eConflict, sqlite3_int64 *pRowid, int *pbDone) {
  MemTable *t = (MemTable *)pTab;
  MemData *d = t->pData;
  int i, iDummy = -1;
  *pbDone = 0;
  if (refused(pTab->pStore, pTab->pEntity, aRow)) return SQLITE_ERROR;
  if (findDuplicate(pTab->pEntity, d, aRow, -1) >= 0)
    return SQLITE_OK; /* idempotent */
  i = findConflict(pTab->pEntity, d, aRow, -1, &iDummy);
  if (i >= 0) {
    if (eConflict == STATEVTAB_CONFLICT_IGNORE) return SQLITE_OK;
    if (eConflict != STATEVTAB_CONFLICT_REPLACE) return SQLITE_CONSTRAINT;
    deleteAt(d, i);
  }
  if (appendRow(pTab->pEntity, d, aRow, pRowid) != SQLITE_OK)
    return SQLITE_NOMEM;
  *pbDone = 1;
  return SQLITE_OK;
}

static int memUpdate(statevtab_table *pTab, sqlite3_int64 iRowid,
                     const statevtab_value *aRow, int eConflict, int *pbDone) {
  MemTable *t = (MemTable *)pTab;
  MemData *d = t->pData;
  const statevtab_entity *e = pTab->pEntity;
  int iVer = findCol(e, STATEVTAB_COL_VERSION);
  int iRow = findRowid(d, iRowid), i;
  MemRow r;
  *pbDone = 0;
  if (iRow < 0) return SQLITE_OK;
  if (refused(pTab->pStore, e, aRow)) return SQLITE_ERROR;
  i = findConflict(e, d, aRow, iRow, &iRow);
  if (i < 0) i = findDuplicate(e, d, aRow, iRow);
  if (i >= 0) {
    if (eConflict == STATEVTAB_CONFLICT_IGNORE) return SQLITE_OK;
    if (eConflict != STATEVTAB_CONFLICT_REPLACE) return SQLITE_CONSTRAINT;
    deleteAt(d, i);
    if (iRow > i) iRow--;
  }
  if (rowCopy(e->nCol, aRow, iRowid, &r) != SQLITE_OK) return SQLITE_NOMEM;
  if (iVer >= 0) {
    const statevtab_value *pOld = &d->aRow[iRow].a[iVer];
    r.a[iVer].eType = SQLITE_INTEGER;
    r.a[iVer].i = (pOld->eType == SQLITE_INTEGER ? pOld->i : 0) + 1;
  }
  rowFree(e->nCol, &d->aRow[iRow]);
  d->aRow[iRow] = r;
  *pbDone = 1;
  return SQLITE_OK;
}

static int memDelete(statevtab_table *pTab, sqlite3_int64 iRowid) {
  MemData *d = ((MemTable *)pTab)->pData;
  int i = findRowid(d, iRowid);
  if (i >= 0) deleteAt(d, i);
  return SQLITE_OK;
}

static char *memDescribe(statevtab_store *pStore) {
  MemStore *p = (MemStore *)pStore;
  return sqlite3_mprintf("memtest server '%s' (instance %d)", p->pServer->zName,
                         p->iInstance);
}

/* state_incr: atomic on its own (there is nothing to race with here). */
static int memIncr(statevtab_table *pTab, const statevtab_value *pScope,
                   const statevtab_value *pName, const statevtab_value *pDelta,
                   statevtab_value *pOut) {
  MemData *d = ((MemTable *)pTab)->pData;
  const statevtab_entity *e = pTab->pEntity;
  int iScope = -1, iName = -1, iValue = -1, iUpd, i;
  sqlite3_int64 now = nowMs();
  gnIncr++;
  memset(pOut, 0, sizeof(*pOut));
  for (i = 0; i < e->nCol; i++) {
    if (strcmp(e->aCol[i].zName, "scope") == 0) iScope = i;
    if (strcmp(e->aCol[i].zName, "name") == 0) iName = i;
    if (strcmp(e->aCol[i].zName, "value") == 0) iValue = i;
  }
  iUpd = findCol(e, STATEVTAB_COL_UPDATED);
  if (iScope < 0 || iName < 0 || iValue < 0) {
    memError(pTab->pStore, "not a counters table");
    return SQLITE_ERROR;
  }
  for (i = 0; i < d->nRow; i++) {
    statevtab_value *a = d->aRow[i].a;
    if (valCmp(&a[iScope], pScope) == 0 && valCmp(&a[iName], pName) == 0) {
      statevtab_value *v = &a[iValue];
      if (v->eType == SQLITE_INTEGER && pDelta->eType == SQLITE_INTEGER &&
          !__builtin_add_overflow(v->i, pDelta->i, &v->i)) {
        /* integer sum */
      } else {
        double x = v->eType == SQLITE_INTEGER ? (double)v->i : v->r;
        double y =
            pDelta->eType == SQLITE_INTEGER ? (double)pDelta->i : pDelta->r;
        v->eType = SQLITE_FLOAT;
        v->r = x + y;
      }
      if (iUpd >= 0) {
        a[iUpd].eType = SQLITE_INTEGER;
        a[iUpd].i = now;
      }
      *pOut = *v;
      return SQLITE_OK;
    }
  }
  {
    statevtab_value aRow[16];
    sqlite3_int64 iRowid;
    if (e->nCol > 16) return SQLITE_ERROR;
    memset(aRow, 0, sizeof(aRow));
    for (i = 0; i < e->nCol; i++) aRow[i].eType = SQLITE_NULL;
    aRow[iScope] = *pScope;
    aRow[iName] = *pName;
    aRow[iValue] = *pDelta;
    if (iUpd >= 0) {
      aRow[iUpd].eType = SQLITE_INTEGER;
      aRow[iUpd].i = now;
    }
    if (appendRow(e, d, aRow, &iRowid) != SQLITE_OK) return SQLITE_NOMEM;
    *pOut = *pDelta;
  }
  return SQLITE_OK;
}

/* Milliseconds of CLOCK_MONOTONIC. */
static long long monoMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
** state_lease, only to show that a waiting state_lease polls a store of
** queue methods version 1 (no xWake): lease 'soon' is held by another owner
** until 150 ms after the first try, lease 'never' always; any other is
** free (token 7).  nLeaseTries counts the calls.
*/
static long long iSoonAt = 0;
static int nLeaseTries = 0;
static int memLease(statevtab_table *pTab, const statevtab_value *pName,
                    const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                    sqlite3_int64 *piToken) {
  (void)pTab;
  (void)pOwner;
  (void)iTtlMs;
  nLeaseTries++;
  *piToken = 7;
  if (pName->n == 5 && memcmp(pName->z, "never", 5) == 0) *piToken = 0;
  if (pName->n == 4 && memcmp(pName->z, "soon", 4) == 0) {
    if (iSoonAt == 0) iSoonAt = monoMs() + 150;
    if (monoMs() < iSoonAt) *piToken = 0;
  }
  return SQLITE_OK;
}

/* Of the queue primitives only xIncr and xLease (designated initializers:
** methods appended to the header later stay 0); version 1, without
** xWake. */
static const statevtab_queue_methods memQueue = {
    .iVersion = 1,
    .xLease = memLease,
    .xIncr = memIncr,
};

/* Designated initializers: methods appended to the header later stay 0. */
static const statevtab_store_methods memMethods = {
    .iVersion = 2,
    .zScheme = "memtest",
    .xOpen = memOpen,
    .xClose = memClose,
    .xAttach = memAttach,
    .xDetach = memDetach,
    .xDrop = memDrop,
    .xRename = memRename,
    .xOpenCursor = memOpenCursor,
    .xFilter = memFilter,
    .xNext = memNext,
    .xEof = memEof,
    .xColumn = memColumn,
    .xRowid = memRowid,
    .xCloseCursor = memCloseCursor,
    .xInsert = memInsert,
    .xUpdate = memUpdate,
    .xDelete = memDelete,
    .xDescribe = memDescribe,
    .pQueue = &memQueue,
    /* no transactions */
};

/* Invalid methods tables (registration must refuse them). */
static statevtab_store_methods badVersion, badVersion1, badOpen, badAttach;

/* A store of rows only (rowsOnly, declared above): no queue methods table
** at all. */

/* =================================================================== tests */

static sqlite3 *db;
static int gQuiet, gnPass, gnFail;
static char *gzErr; /* the last error message of run() */

static void pass(const char *zName) {
  gnPass++;
  if (!gQuiet) printf("PASS custom/%s\n", zName);
}

static void fail(const char *zName, const char *zFmt, ...) {
  va_list ap;
  char *z;
  va_start(ap, zFmt);
  z = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  gnFail++;
  printf("FAIL custom/%s: %s\n", zName, z ? z : "(out of memory)");
  sqlite3_free(z);
}

static void check(const char *zName, int bOk, const char *zFmt, ...) {
  if (bOk) {
    pass(zName);
  } else {
    va_list ap;
    char *z;
    va_start(ap, zFmt);
    z = sqlite3_vmprintf(zFmt, ap);
    va_end(ap);
    fail(zName, "%s", z ? z : "?");
    sqlite3_free(z);
  }
}

/*
** Run zSql (one or more statements); the rows of the last one go into the
** returned string (sqlite3_malloc'd): rows separated by '\n', columns by
** '|', NULL as "NULL".  bTyped prefixes each value with i: r: t: b:.
** Returns NULL on error, with the message in gzErr.
*/
static char *runq(const char *zSql, int bTyped) {
  sqlite3_str *s = sqlite3_str_new(0);
  const char *zTail = zSql;
  int rc = SQLITE_OK;
  sqlite3_free(gzErr);
  gzErr = 0;
  while (rc == SQLITE_OK && zTail && *zTail) {
    sqlite3_stmt *pStmt = 0;
    int nRow = 0;
    rc = sqlite3_prepare_v2(db, zTail, -1, &pStmt, &zTail);
    if (rc != SQLITE_OK) break;
    if (!pStmt) continue;
    sqlite3_str_reset(s);
    while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) {
      int i, n = sqlite3_column_count(pStmt);
      if (nRow++) sqlite3_str_appendchar(s, 1, '\n');
      for (i = 0; i < n; i++) {
        int t = sqlite3_column_type(pStmt, i);
        if (i) sqlite3_str_appendchar(s, 1, '|');
        if (t == SQLITE_NULL) {
          sqlite3_str_appendall(s, "NULL");
          continue;
        }
        if (bTyped) {
          sqlite3_str_appendall(s, t == SQLITE_INTEGER ? "i:"
                                   : t == SQLITE_FLOAT ? "r:"
                                   : t == SQLITE_TEXT  ? "t:"
                                                       : "b:");
        }
        sqlite3_str_appendf(s, "%s",
                            (const char *)sqlite3_column_text(pStmt, i));
      }
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
    if (rc != SQLITE_OK) {
      gzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      sqlite3_finalize(pStmt);
      sqlite3_free(sqlite3_str_finish(s));
      return 0;
    }
    rc = sqlite3_finalize(pStmt);
  }
  if (rc != SQLITE_OK) {
    gzErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
    sqlite3_free(sqlite3_str_finish(s));
    return 0;
  }
  {
    char *z = sqlite3_str_finish(s);
    return z ? z : sqlite3_mprintf("");
  }
}

/* zSql runs without error. */
static int ok(const char *zName, const char *zSql) {
  char *z = runq(zSql, 0);
  if (!z) {
    fail(zName, "%s -> error: %s", zSql, gzErr);
    return 0;
  }
  sqlite3_free(z);
  return 1;
}

/* zSql gives exactly zWant. */
static void expect(const char *zName, const char *zSql, const char *zWant) {
  char *z = runq(zSql, 0);
  if (!z) {
    fail(zName, "%s -> error: %s", zSql, gzErr);
  } else {
    check(zName, strcmp(z, zWant) == 0, "%s -> [%s], want [%s]", zSql, z,
          zWant);
  }
  sqlite3_free(z);
}

/* zSql fails with exactly the message zWant. */
static void expectErr(const char *zName, const char *zSql, const char *zWant) {
  char *z = runq(zSql, 0);
  if (z) {
    fail(zName, "%s -> [%s], want error [%s]", zSql, z, zWant);
  } else {
    check(zName, strcmp(gzErr, zWant) == 0, "%s -> error [%s], want [%s]", zSql,
          gzErr, zWant);
  }
  sqlite3_free(z);
}

/* The two queries give the same rows, types included. */
static void expectSame(const char *zName, const char *zA, const char *zB) {
  char *a = runq(zA, 1);
  char *b;
  if (!a) {
    fail(zName, "%s -> error: %s", zA, gzErr);
    return;
  }
  b = runq(zB, 1);
  if (!b) {
    fail(zName, "%s -> error: %s", zB, gzErr);
  } else {
    check(zName, strcmp(a, b) == 0, "%s -> [%s]; %s -> [%s]", zA, a, zB, b);
  }
  sqlite3_free(a);
  sqlite3_free(b);
}

/* The WHERE clauses of the scan conformance test: memtest must give the
** rows the local store gives (which are SQLite's own comparisons). */
static const char *const azWhere[] = {
    "1",
    "id = 'a'",
    "id = 'zz'",
    "id > 'b'",
    "queue = 'q1'",
    "queue = 10",
    "queue = '10'",
    "queue > 5",
    "queue < 'q2'",
    "queue >= 'q1' AND queue <= 'q2'",
    "queue IN ('q2', '10')",
    "queue = 'q1' AND priority >= 2",
    "queue = 'q1' AND state = 'pending'",
    "priority = 5",
    "priority = '5'",
    "priority = ' 5 '",
    "priority = 5.0",
    "priority = '5.0'",
    "priority = '5e0'",
    "priority < 2.5",
    "priority > '4'",
    "priority < 'x'",
    "priority > 'x'",
    "priority >= -1",
    "priority = NULL",
    "priority IS NULL",
    "priority IS 3",
    "priority BETWEEN 2 AND 6",
    "run_at <= 300",
    "run_at > 150 AND run_at < 450",
    "lease_owner IS NULL",
    "lease_owner IS NOT NULL",
    "lease_owner IS 'w1'",
    "lease_owner = 'w1'",
    "lease_owner > ''",
    "lease_token = 7",
    "lease_token > 0",
    "lease_expires_at IS NULL AND queue = 'q2'",
    "payload = '{\"n\":1}'",
    "payload > '{'",
    "tags = '[]'",
    "execution_id = 'e1'",
    "idempotency_key = 'k1'",
    "state = 'completed'",
    "attempts IS 0",
    "max_attempts >= 3",
    "name LIKE 'job%'",
    "name = 'job3' OR name = 'job5'",
    "priority != 5",
    0,
};

static void scanConformance(void) {
  int i, nBad = 0;
  char *zFirst = 0;
  for (i = 0; azWhere[i]; i++) {
    char *zA =
        sqlite3_mprintf("SELECT id FROM t WHERE %s ORDER BY id", azWhere[i]);
    char *zB = sqlite3_mprintf(
        "SELECT id FROM local_tasks WHERE %s ORDER BY id", azWhere[i]);
    char *a = runq(zA, 1);
    char *b = a ? runq(zB, 1) : 0;
    if (!a || !b || strcmp(a, b) != 0) {
      nBad++;
      if (!zFirst) {
        zFirst = sqlite3_mprintf("WHERE %s: memtest [%s], local [%s]%s%s",
                                 azWhere[i], a ? a : "error", b ? b : "error",
                                 gzErr ? ": " : "", gzErr ? gzErr : "");
      }
      fail("scan-conformance", "WHERE %s: memtest [%s], local [%s]", azWhere[i],
           a ? a : gzErr, b ? b : "-");
    }
    sqlite3_free(a);
    sqlite3_free(b);
    sqlite3_free(zA);
    sqlite3_free(zB);
  }
  if (nBad == 0) {
    char zName[64];
    sqlite3_snprintf(sizeof(zName), zName,
                     "scan-conformance (%d WHERE clauses)", i);
    pass(zName);
  }
  sqlite3_free(zFirst);
}

int main(int argc, char **argv) {
  const char *zExt = 0;
  char *zErr = 0;
  int i, rc;

  for (i = 1; i < argc; i++) {
    if (strcmp(argv[i], "-q") == 0) {
      gQuiet = 1;
    } else {
      zExt = argv[i];
    }
  }
  if (!zExt) {
    fprintf(stderr, "usage: %s STATEVTAB_EXT [-q]\n", argv[0]);
    return 2;
  }

  badVersion = memMethods;
  badVersion.iVersion = 0;
  badVersion1 = memMethods; /* the layout before the queue methods table */
  badVersion1.iVersion = 1;
  rowsOnly = memMethods;
  rowsOnly.zScheme = "memrows";
  rowsOnly.pQueue = 0;
  badOpen = memMethods;
  badOpen.xOpen = 0;
  badAttach = memMethods;
  badAttach.zScheme = "memtest-bad"; /* must not replace "memtest" */
  badAttach.xAttach = 0;

  /* ------------------------------------------------------------ set up */
  rc = sqlite3_open(":memory:", &db);
  if (rc == SQLITE_OK) {
    sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, (int *)0);
    rc = sqlite3_load_extension(db, zExt, 0, &zErr);
  }
  if (rc != SQLITE_OK) {
    fail("load", "sqlite3_load_extension(%s): %s", zExt,
         zErr ? zErr : sqlite3_errmsg(db));
    sqlite3_free(zErr);
    sqlite3_close(db);
    return 1;
  }
  pass("load");

  /* ------------------------------------------------------ registration */
  expectErr("register-not-a-pointer", "SELECT statevtab_register_store(1)",
            "statevtab_register_store: expects a pointer bound as "
            "'statevtab_store_methods'");
  rc = statevtab_register_store(db, &badVersion);
  check("register-iversion-0",
        rc != SQLITE_OK &&
            strstr(sqlite3_errmsg(db),
                   "statevtab_register_store: invalid store methods") != 0,
        "rc=%d errmsg [%s]", rc, sqlite3_errmsg(db));
  rc = statevtab_register_store(db, &badVersion1);
  check("register-iversion-1",
        rc != SQLITE_OK &&
            strstr(sqlite3_errmsg(db), "statevtab_register_store: invalid "
                                       "store methods (iVersion >= 2") != 0,
        "rc=%d errmsg [%s]", rc, sqlite3_errmsg(db));
  rc = statevtab_register_store(db, &badOpen);
  check("register-null-xopen",
        rc != SQLITE_OK &&
            strstr(sqlite3_errmsg(db),
                   "statevtab_register_store: invalid store methods") != 0,
        "rc=%d errmsg [%s]", rc, sqlite3_errmsg(db));
  rc = statevtab_register_store(db, &badAttach);
  check("register-null-xattach", rc != SQLITE_OK,
        "a methods table with xAttach NULL was accepted (rc=%d); CREATE on "
        "its scheme would call a NULL pointer",
        rc);
  {
    /* An invalid table must not have been registered. */
    char *z =
        runq("CREATE VIRTUAL TABLE nope USING state_kv(store='memtest:x')", 0);
    check("register-invalid-not-registered",
          z == 0 && gzErr &&
              strcmp(gzErr, "state_kv: unknown store scheme 'memtest'") == 0,
          "got %s [%s]", z ? "success" : "error", z ? z : gzErr);
    sqlite3_free(z);
  }
  rc = statevtab_register_store(db, &memMethods);
  check("register", rc == SQLITE_OK, "rc=%d: %s", rc, sqlite3_errmsg(db));
  {
    char *z = runq("SELECT statevtab_debug()", 0);
    check("debug-lists-scheme",
          z && strstr(z, "\nstores ") &&
              strstr(strstr(z, "\nstores "), "memtest"),
          "statevtab_debug() = [%s]", z ? z : gzErr);
    sqlite3_free(z);
  }

  /* ---------------------------------------------------- create / share */
  if (!ok("create",
          "CREATE VIRTUAL TABLE t USING state_tasks(store='memtest:x')")) {
    goto done;
  }
  pass("create");
  check("create-opens-once", gnOpenOk == 1 && gnAttach == 1,
        "xOpen ok %d, xAttach %d", gnOpenOk, gnAttach);
  ok("create-t2", "CREATE VIRTUAL TABLE t2 USING "
                  "state_tasks(store='memtest:x', prefix='app2')");
  ok("create-c",
     "CREATE VIRTUAL TABLE c USING state_counters(store='memtest:x')");
  ok("create-kv", "CREATE VIRTUAL TABLE kv USING state_kv(store='memtest:x')");
  check("same-url-shares-store", gnOpenCalls == 1 && gnOpenOk == 1,
        "4 tables on 'memtest:x': xOpen called %d times", gnOpenCalls);
  ok("create-y", "CREATE VIRTUAL TABLE ty USING state_kv(store='memtest:y')");
  check("other-url-other-store", gnOpenOk == 2, "xOpen ok %d, want 2",
        gnOpenOk);
  ok("drop-y", "DROP TABLE ty");
  check("drop-calls-xdrop", gnDrop == 1 && gnCloseX == 0,
        "xDrop %d (want 1), xClose of 'memtest:x' %d (want 0)", gnDrop,
        gnCloseX);

  /* ------------------------------------------------------------ errors */
  {
    /* A failed CREATE must not disturb the store the other tables share:
    ** no xClose, and no new xOpen when they are used again. */
    int nOpen = gnOpenCalls, nClose = gnClose;
    expectErr(
        "unknown-option",
        "CREATE VIRTUAL TABLE bad USING state_tasks(store='memtest:x', "
        "bogus=1)",
        "state_tasks: memtest does not know option 'bogus' (it takes prefix)");
    ok("use-after-failed-create", "SELECT count(*) FROM t");
    check(
        "store-survives-failed-create",
        gnClose == nClose && gnOpenCalls == nOpen,
        "after a failed CREATE VIRTUAL TABLE and a SELECT on t: xClose called "
        "%d more time(s), xOpen %d more time(s); want 0 and 0",
        gnClose - nClose, gnOpenCalls - nOpen);
  }
  expectErr("open-error",
            "CREATE VIRTUAL TABLE bad USING state_tasks(store='memtest:')",
            "state_tasks: no server name in 'memtest:'");
  {
    char *z = runq("CREATE VIRTUAL TABLE bad USING "
                   "state_tasks(store='memtest://user:secret@')",
                   0);
    check("open-error-redacted",
          !z && gzErr && !strstr(gzErr, "secret") &&
              strcmp(gzErr,
                     "state_tasks: no server name in 'memtest://user:***@'") ==
                  0 &&
              !strstr(gzLastSafeUrl, "secret"),
          "error [%s], zSafeUrl [%s]", z ? "none" : gzErr, gzLastSafeUrl);
    sqlite3_free(z);
  }
  expectErr("store-error-message",
            "INSERT INTO t(id, name) VALUES('x', 'boom')",
            "state_tasks: memtest refuses rows named 'boom'");
  expect("store-error-nothing-written", "SELECT count(*) FROM t", "0");

  /* --------------------------------------------------------- round trip */
  ok("insert",
     "INSERT INTO t(id, execution_id, queue, name, payload, priority, run_at, "
     "  lease_owner, lease_token, idempotency_key, state, max_attempts) VALUES"
     " ('a', 'e1', 'q1', 'job1', '{\"n\":1}', 5, 100, NULL, NULL, 'k1', "
     "'pending', 3),"
     " ('b', 'e1', 'q1', 'job2', '{\"n\":2}', 1, 200, 'w1', 7, NULL, "
     "'claimed', 5),"
     " ('c', 'e2', 'q2', 'job3', NULL, 3, 300, NULL, NULL, NULL, 'pending', 3),"
     " ('d', NULL, '10', 'job4', '[1,2]', 9, 400, 'w2', 2, 'k2', 'pending', 1),"
     " ('e', NULL, 'q2', 'job5', '{}', 0, 500, NULL, NULL, NULL, 'completed', "
     "3),"
     " ('f', 'e3', 'q1', 'job6', '\"s\"', 5, 150, '', 0, NULL, 'pending', 10)");
  expect("select-count", "SELECT count(*) FROM t", "6");
  expect("select-by-id",
         "SELECT name, queue, priority, payload FROM t WHERE id = 'c'",
         "job3|q2|3|NULL");
  expect("select-by-queue", "SELECT id FROM t WHERE queue = 'q1' ORDER BY id",
         "a\nb\nf");
  expect("select-full-scan", "SELECT id, name FROM t ORDER BY run_at",
         "a|job1\nf|job6\nb|job2\nc|job3\nd|job4\ne|job5");
  expect("select-types",
         "SELECT typeof(priority), typeof(queue), typeof(run_at), "
         "typeof(created_at), "
         "typeof(updated_at), typeof(tags), tags FROM t WHERE id = 'a'",
         "integer|text|integer|integer|integer|text|[]");
  expect("select-limit",
         "SELECT count(*) FROM (SELECT id FROM t WHERE queue = 'q1' LIMIT 2)",
         "2");
  expect("completed-at-rule",
         "SELECT completed_at IS NOT NULL FROM t WHERE id = 'e'", "1");
  ok("update", "UPDATE t SET priority = priority + 10, lease_owner = 'w9' "
               "WHERE queue = 'q1'");
  expect("update-changes", "SELECT changes()", "3");
  expect(
      "update-read-back",
      "SELECT id, priority, lease_owner FROM t WHERE queue = 'q1' ORDER BY id",
      "a|15|w9\nb|11|w9\nf|15|w9");
  ok("update-by-id", "UPDATE t SET state = 'completed' WHERE id = 'c'");
  expect("update-by-id-read-back",
         "SELECT state, completed_at IS NOT NULL FROM t WHERE id = 'c'",
         "completed|1");
  ok("update-back", "UPDATE t SET priority = priority - 10, lease_owner = NULL "
                    "WHERE queue = 'q1'");
  ok("update-back2", "UPDATE t SET lease_owner = 'w1' WHERE id = 'b'");
  ok("update-back3", "UPDATE t SET lease_owner = '' WHERE id = 'f'");

  /* ---------------------------------------------------- conflict modes */
  expectErr("insert-duplicate-key",
            "INSERT INTO t(id, name) VALUES('a', 'dup')",
            "state_tasks: UNIQUE constraint failed: id");
  ok("insert-or-ignore",
     "INSERT OR IGNORE INTO t(id, name) VALUES('a', 'dup')");
  expect("insert-or-ignore-changes", "SELECT changes()", "0");
  expect("insert-or-ignore-kept", "SELECT name FROM t WHERE id = 'a'", "job1");
  ok("insert-or-replace", "INSERT OR REPLACE INTO t(id, name, queue, priority) "
                          "VALUES('z', 'new', 'q9', 4)");
  ok("insert-or-replace2", "INSERT OR REPLACE INTO t(id, name, queue, "
                           "priority) VALUES('z', 'newer', 'q9', 4)");
  expect("insert-or-replace-replaced",
         "SELECT name, count(*) FROM t WHERE id = 'z'", "newer|1");
  expectErr("update-duplicate-key", "UPDATE t SET id = 'a' WHERE id = 'z'",
            "state_tasks: UNIQUE constraint failed: id");
  ok("update-or-ignore", "UPDATE OR IGNORE t SET id = 'a' WHERE id = 'z'");
  expect("update-or-ignore-kept",
         "SELECT group_concat(name) FROM t WHERE id IN ('a', 'z')",
         "job1,newer");
  ok("update-or-replace", "UPDATE OR REPLACE t SET id = 'y' WHERE id = 'z'");
  expect("update-or-replace-moved",
         "SELECT group_concat(id) FROM t WHERE name = 'newer'", "y");
  ok("delete", "DELETE FROM t WHERE id = 'y'");
  expect("delete-changes", "SELECT changes(), count(*) FROM t", "1|6");
  ok("idempotent-insert", "INSERT INTO t(id, name, queue, idempotency_key) "
                          "VALUES('k', 'again', 'q1', 'k1')");
  expect("idempotent-insert-skipped",
         "SELECT count(*) FROM t WHERE idempotency_key = 'k1'", "1");
  ok("idempotent-other-queue",
     "INSERT INTO t(id, name, queue, idempotency_key) VALUES('k', 'again', "
     "'q2', 'k1')");
  expect("idempotent-other-queue-kept",
         "SELECT count(*) FROM t WHERE idempotency_key = 'k1'", "2");
  ok("delete-k", "DELETE FROM t WHERE id = 'k'");

  /* ------------------------------------------------------- migration */
  ok("create-local",
     "CREATE VIRTUAL TABLE local_tasks USING state_tasks(store='sqlite:')");
  ok("migrate-to-local", "INSERT INTO local_tasks SELECT * FROM t");
  expectSame("migrate-to-local-same", "SELECT * FROM t ORDER BY id",
             "SELECT * FROM local_tasks ORDER BY id");
  scanConformance();
  ok("migrate-back", "INSERT INTO t2 SELECT * FROM local_tasks");
  expectSame("migrate-back-same", "SELECT * FROM local_tasks ORDER BY id",
             "SELECT * FROM t2 ORDER BY id");
  expect("tables-separate",
         "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM t2)", "6|6");
  ok("delete-queue", "DELETE FROM t WHERE queue = 'q2'");
  expect("delete-queue-changes",
         "SELECT changes(), (SELECT count(*) FROM t), "
         "(SELECT count(*) FROM t2)",
         "2|4|6");

  /* ---------------------------------------------------- kv: ALIVE, version */
  ok("create-local-kv", "CREATE VIRTUAL TABLE local_kv USING state_kv()");
  ok("kv-insert", "INSERT INTO kv(scope, key, value, expires_at) VALUES"
                  " ('s', 'live', '1', state_now() + 3600000),"
                  " ('s', 'gone', '2', 1),"
                  " ('s', 'forever', '3', NULL),"
                  " ('t', 'gone', '4', state_now() - 1)");
  ok("kv-insert-local", "INSERT INTO local_kv SELECT * FROM kv");
  expect("kv-expired-invisible",
         "SELECT scope, key FROM kv ORDER BY scope, key", "s|forever\ns|live");
  expectSame("kv-alive-like-local", "SELECT * FROM kv ORDER BY scope, key",
             "SELECT * FROM local_kv ORDER BY scope, key");
  expectSame(
      "kv-alive-where-like-local",
      "SELECT key FROM kv WHERE scope = 's' AND expires_at > 5 ORDER BY key",
      "SELECT key FROM local_kv WHERE scope = 's' AND expires_at > 5 ORDER BY "
      "key");
  ok("kv-reinsert-expired-key",
     "INSERT INTO kv(scope, key, value) VALUES('s', 'gone', '5')");
  expect("kv-reinserted",
         "SELECT value, version FROM kv WHERE scope = 's' AND key = 'gone'",
         "5|1");
  ok("kv-update",
     "UPDATE kv SET value = '6' WHERE scope = 's' AND key = 'gone'");
  expect("kv-version",
         "SELECT value, version FROM kv WHERE scope = 's' AND key = 'gone'",
         "6|2");

  /* ------------------------------------------------------ functions */
  {
    char *z = runq("SELECT statevtab_debug('t')", 0);
    check("debug-describe",
          z && strstr(z, "\nstore memtest server 'x' (instance ") &&
              strstr(z, "module state_tasks"),
          "statevtab_debug('t') = [%s]", z ? z : gzErr);
    sqlite3_free(z);
    z = runq("SELECT statevtab_debug('t2')", 0);
    check("debug-option", z && strstr(z, "\noption prefix=app2"),
          "statevtab_debug('t2') = [%s]", z ? z : gzErr);
    sqlite3_free(z);
  }
  expect("incr-new", "SELECT state_incr('c', 'shop', 'orders')", "1");
  expect("incr-delta", "SELECT state_incr('c', 'shop', 'orders', 5)", "6");
  expect("incr-real", "SELECT state_incr('c', 'shop', 'orders', 0.5)", "6.5");
  expect("incr-other", "SELECT state_incr('c', 'shop', 'refunds', -2)", "-2");
  check("incr-called", gnIncr == 4, "xIncr called %d times", gnIncr);
  expect("incr-visible",
         "SELECT scope, name, value, typeof(value), updated_at > 0 FROM c "
         "ORDER BY name",
         "shop|orders|6.5|real|1\nshop|refunds|-2|integer|1");
  expect("counters-num-where", "SELECT name FROM c WHERE value = '6.5'",
         "orders");
  expect("counters-num-where2", "SELECT name FROM c WHERE value < 0",
         "refunds");
  expectErr("claim-unsupported", "SELECT * FROM state_claim('t', 'q', 'w')",
            "state_claim: store 'memtest' does not support this function");
  /* A store older than queue methods version 3 does not know rates. */
  expectErr("claim-rates-unsupported",
            "SELECT * FROM state_claim('t', 'q', 'w', 1000, 1, "
            "'{\"rates\":{\"x\":\"1/1s\"}}')",
            "state_claim: store 'memtest' does not support options.rates");
  /* Nor partition limits (queue methods version 4). */
  expectErr("claim-partition-unsupported",
            "SELECT * FROM state_claim('t', 'q', 'w', 1000, 1, "
            "'{\"limits\":{\"partition:q\":1}}')",
            "state_claim: store 'memtest' does not support partition limits "
            "(\"partition:<queue>\" in options.limits or options.rates)");
  expectErr("complete-unsupported", "SELECT state_complete('t', 'a', 1)",
            "state_complete: store 'memtest' does not support this function");
  expectErr("complete4-unsupported", "SELECT state_complete('t', 'a', 1, '{}')",
            "state_complete: store 'memtest' does not support this function");
  expectErr("fail-unsupported", "SELECT state_fail('t', 'a', 1, 'x')",
            "state_fail: store 'memtest' does not support this function");
  expectErr("pause-unsupported", "SELECT state_pause('t', 'q1')",
            "state_pause: store 'memtest' does not support this function");
  /* state_metrics needs queue methods version 3 (xMetrics): this store's
  ** are version 1. */
  expectErr("metrics-unsupported", "SELECT * FROM state_metrics('t')",
            "state_metrics: store 'memtest' does not support this function");
  {
    /* state_wait (newer builds): a store without xWait is refused too. */
    char *z = runq("SELECT count(*) FROM pragma_function_list "
                   "WHERE name = 'state_wait'",
                   0);
    if (z && strcmp(z, "0") != 0) {
      expectErr("wait-unsupported", "SELECT state_wait('t', 'q1', 0)",
                "state_wait: store 'memtest' does not support this function");
    }
    sqlite3_free(z);
  }
  expectErr("renew-unsupported", "SELECT state_renew('t', 'a', 1, 1000)",
            "state_renew: store 'memtest' does not support this function");
  /* A waiting state_lease polls a store without xWake (queue methods
  ** version 1): it gets the lease once free, tries several times, and
  ** returns NULL after the wait when it stays held. */
  {
    char *z = runq("SELECT count(*) FROM pragma_function_list WHERE name = "
                   "'state_lease' AND narg = 5",
                   0);
    int bWait = z && strcmp(z, "0") != 0;
    long long t0;
    sqlite3_free(z);
    if (bWait) {
      ok("create-leases",
         "CREATE VIRTUAL TABLE l USING state_leases(store='memtest:x')");
      expect("lease-free", "SELECT state_lease('l', 'free', 'o', 1000, 5000)",
             "7");
      nLeaseTries = 0;
      t0 = monoMs();
      expect("lease-wait-polls",
             "SELECT state_lease('l', 'soon', 'o', 1000, 5000)", "7");
      check("lease-wait-polls-time",
            monoMs() - t0 >= 140 && monoMs() - t0 < 2000,
            "took %lld ms, want 150 to 2000", monoMs() - t0);
      check("lease-wait-polls-tries", nLeaseTries >= 3 && nLeaseTries < 100,
            "%d tries in 150 ms", nLeaseTries);
      t0 = monoMs();
      expect("lease-wait-times-out",
             "SELECT state_lease('l', 'never', 'o', 1000, 100)", "NULL");
      check("lease-wait-times-out-time",
            monoMs() - t0 >= 99 && monoMs() - t0 < 1000,
            "took %lld ms, want 100 to 1000", monoMs() - t0);
      ok("create-signals",
         "CREATE VIRTUAL TABLE sg USING state_signals(store='memtest:x')");
      expectErr("take-wait-unsupported",
                "SELECT state_take('sg', 'e', 'n', 100)",
                "state_take: store 'memtest' does not support this function");
    }
  }
  /* pQueue NULL: rows work, every primitive is "not supported". */
  rc = statevtab_register_store(db, &rowsOnly);
  check("register-rows-only", rc == SQLITE_OK, "rc=%d errmsg [%s]", rc,
        sqlite3_errmsg(db));
  ok("rows-only-create",
     "CREATE VIRTUAL TABLE ro USING state_counters(store='memrows:r')");
  ok("rows-only-insert",
     "INSERT INTO ro(scope, name, value) VALUES ('s', 'n', 1)");
  expect("rows-only-select", "SELECT value FROM ro", "1");
  expectErr("rows-only-incr", "SELECT state_incr('ro', 's', 'n')",
            "state_incr: store 'memrows' does not support this function");

  /* -------------------------------------------------- rename, drop */
  {
    int nOpen = gnOpenCalls, nClose = gnClose;
    ok("rename", "ALTER TABLE t2 RENAME TO t3");
    check("rename-called", gnRename == 1, "xRename called %d times", gnRename);
    expect("rename-keeps-rows", "SELECT count(*) FROM t3", "6");
    expect("rename-others-usable", "SELECT count(*) FROM t", "4");
    check("store-survives-rename", gnClose == nClose && gnOpenCalls == nOpen,
          "ALTER TABLE RENAME and SELECTs: xClose called %d more time(s), "
          "xOpen %d more time(s); want 0 and 0",
          gnClose - nClose, gnOpenCalls - nOpen);
  }
  ok("drop", "DROP TABLE t3");
  expect("drop-gone", "SELECT count(*) FROM sqlite_schema WHERE name = 't3'",
         "0");
  ok("recreate",
     "CREATE VIRTUAL TABLE t3 USING state_tasks(store='memtest:x')");
  expect("recreate-empty", "SELECT count(*) FROM t3", "0");
  expect("all-usable",
         "SELECT (SELECT count(*) FROM t), (SELECT count(*) FROM c), "
         "(SELECT count(*) FROM kv), (SELECT count(*) FROM t3)",
         "4|2|3|0");

done:
  sqlite3_free(gzErr);
  gzErr = 0;
  {
    int nOpenBefore = gnOpenOk - gnClose, nCloseXBefore = gnCloseX;
    rc = sqlite3_close(db);
    check("close", rc == SQLITE_OK, "sqlite3_close returned %d", rc);
    check("close-calls-xclose-once",
          nOpenBefore >= 1 && gnCloseX - nCloseXBefore == 1 &&
              gnClose == gnOpenOk,
          "before sqlite3_close %d store(s) open (want >= 1); xClose of "
          "'memtest:x' "
          "during close: %d (want 1); over the run xOpen ok %d, xClose %d",
          nOpenBefore, gnCloseX - nCloseXBefore, gnOpenOk, gnClose);
    check("close-detaches-all", gnAttach == gnDetach, "xAttach %d, xDetach %d",
          gnAttach, gnDetach);
  }
  memShutdown();
  if (!gQuiet) printf("# custom: %d passed, %d failed\n", gnPass, gnFail);
  return gnFail ? 1 : 0;
}
