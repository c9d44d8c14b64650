/*
** 2026-11-22
**
** store.c -- the store registry of one connection: which store
** implementations exist (built in, or registered by the application with
** statevtab_register_store()), and which stores are open.  A store is opened
** once per connection and URL and shared by every table that names that URL.
*/
#include "svint.h"

#include <stdlib.h>

/* Register a store implementation.  A later registration of the same
** scheme replaces the earlier one for stores opened afterwards. */
int sv_register_scheme(sv_conn *p, const statevtab_store_methods *pMethods) {
  sv_schemeref *pNew;
  /* Every method the virtual table calls unconditionally must be there;
  ** the queue primitives, transactions and fast paths may be NULL.  A
  ** version 1 table (primitives inline) has another layout: refused. */
  if (!pMethods || pMethods->iVersion < 2 || !pMethods->zScheme ||
      !pMethods->xOpen || !pMethods->xClose || !pMethods->xAttach ||
      !pMethods->xDetach || !pMethods->xDrop || !pMethods->xRename ||
      !pMethods->xOpenCursor || !pMethods->xFilter || !pMethods->xNext ||
      !pMethods->xEof || !pMethods->xColumn || !pMethods->xRowid ||
      !pMethods->xCloseCursor || !pMethods->xInsert || !pMethods->xUpdate ||
      !pMethods->xDelete) {
    return SQLITE_ERROR;
  }
  pNew = sqlite3_malloc64(sizeof(*pNew));
  if (!pNew) return SQLITE_NOMEM;
  pNew->pMethods = pMethods;
  pNew->pNext = p->pSchemes;
  p->pSchemes = pNew;
  return SQLITE_OK;
}

/* Scheme names a user may write that statevtab knows of, built in or not. */
static const struct {
  const char *zPrefix;
  const char *zScheme;
} aKnown[] = {
    {"redis://", "redis"},
    {"rediss://", "redis"},
    {"unix:", "redis"},
    {"postgresql://", "postgresql"},
    {"postgres://", "postgresql"},
    {"sqlite:", "sqlite"},
    {"redis-cluster://", "redis"},
};

/*
** Work out the scheme of zUrl into zScheme (a buffer of nScheme bytes).
** Return SQLITE_OK, or SQLITE_ERROR with *pzErr set for a malformed URL:
** the URL is shown as zShow when that is not NULL ("env:NAME": the value
** of a variable is never shown, it may be any secret), else redacted.
*/
static int storeScheme(const char *zUrl, const char *zShow, char *zScheme,
                       int nScheme, char **pzErr) {
  size_t i, n;
  if (zUrl[0] == 0 || strcmp(zUrl, "sqlite") == 0) {
    sqlite3_snprintf(nScheme, zScheme, "sqlite");
    return SQLITE_OK;
  }
  for (i = 0; i < sizeof(aKnown) / sizeof(aKnown[0]); i++) {
    if (sqlite3_strnicmp(zUrl, aKnown[i].zPrefix,
                         (int)strlen(aKnown[i].zPrefix)) == 0) {
      sqlite3_snprintf(nScheme, zScheme, "%s", aKnown[i].zScheme);
      return SQLITE_OK;
    }
  }
  n = strcspn(zUrl, ":");
  if (strcspn(zUrl, "=") < n) {
    /* A libpq "key=value ..." connection string (a value may hold ':'). */
    sqlite3_snprintf(nScheme, zScheme, "postgresql");
    return SQLITE_OK;
  }
  for (i = 0; i < n && n < (size_t)nScheme; i++) {
    char c = zUrl[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9' && i > 0) || c == '+' || c == '-' ||
          c == '.')) {
      break;
    }
    zScheme[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
  }
  if (zUrl[n] != ':' || n == 0 || i < n) {
    if (zShow) {
      *pzErr = sqlite3_mprintf("malformed store URL in %s (expected "
                               "redis://, unix:, postgresql://, a libpq "
                               "key=value string or sqlite:)",
                               zShow);
    } else {
      char *zSafe = sv_redact_url(zUrl);
      *pzErr = zSafe ? sqlite3_mprintf("malformed store URL '%s'", zSafe) : 0;
      sqlite3_free(zSafe);
    }
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  zScheme[n] = 0;
  return SQLITE_OK;
}

static const statevtab_store_methods *findScheme(sv_conn *p,
                                                 const char *zScheme) {
  sv_schemeref *s;
  for (s = p->pSchemes; s; s = s->pNext) {
    if (sqlite3_stricmp(s->pMethods->zScheme, zScheme) == 0) {
      return s->pMethods;
    }
  }
  return 0;
}

/*
** Find or open the store for zUrl.  On success *ppRef holds a reference that
** the caller gives back with sv_store_release().  On error *pzErr holds a
** message (sqlite3_malloc'd, password redacted) and the result is
** SQLITE_ERROR for a bad URL, SQLITE_CANTOPEN when the store cannot be
** reached, or SQLITE_NOMEM.
*/
int sv_store_acquire(sv_conn *p, const char *zUrl, sv_storeref **ppRef,
                     char **pzErr) {
  sv_storeref *pRef;
  const statevtab_store_methods *pMethods;
  const char *zReal = zUrl;
  char zScheme[32];
  statevtab_open op;
  char *zSafe = 0;
  int rc;

  *ppRef = 0;
  for (pRef = p->pStores; pRef; pRef = pRef->pNext) {
    if (strcmp(pRef->zUrl, zUrl) == 0) {
      pRef->nRef++;
      *ppRef = pRef;
      return SQLITE_OK;
    }
  }
  if (strncmp(zUrl, "env:", 4) == 0) {
    const char *zVar = zUrl + 4;
    if (zVar[0] == 0) {
      *pzErr = sqlite3_mprintf("malformed store URL 'env:': no variable");
      return SQLITE_ERROR;
    }
    /* Not even read unless the application allows it. */
    rc = sv_allow_env(zUrl, pzErr);
    if (rc != SQLITE_OK) return rc;
    zReal = getenv(zVar);
    if (!zReal) {
      *pzErr = sqlite3_mprintf("environment variable '%s' is not set", zVar);
      return SQLITE_ERROR;
    }
    if (strncmp(zReal, "env:", 4) == 0) {
      *pzErr = sqlite3_mprintf("environment variable '%s' names another "
                               "variable (env: does not nest)",
                               zVar);
      return SQLITE_ERROR;
    }
  }
  rc = storeScheme(zReal, zReal == zUrl ? 0 : zUrl, zScheme, sizeof(zScheme),
                   pzErr);
  if (rc != SQLITE_OK) return rc;
  pMethods = findScheme(p, zScheme);
  if (!pMethods) {
    if (strcmp(zScheme, "redis") == 0 || strcmp(zScheme, "postgresql") == 0) {
      *pzErr = sqlite3_mprintf("store '%s' not compiled in", zScheme);
    } else if (zReal != zUrl) {
      *pzErr = sqlite3_mprintf("unknown store scheme in %s", zUrl);
    } else {
      *pzErr = sqlite3_mprintf("unknown store scheme '%s'", zScheme);
    }
    return SQLITE_ERROR;
  }

  pRef = sqlite3_malloc64(sizeof(*pRef));
  if (pRef) memset(pRef, 0, sizeof(*pRef));
  /* Messages name an env: URL by its variable: its value may hold a
  ** password anywhere, or be some other secret set by mistake. */
  zSafe = zReal == zUrl ? sv_redact_url(zReal) : sqlite3_mprintf("%s", zUrl);
  if (!pRef || !zSafe) goto nomem;
  pRef->zUrl = sqlite3_mprintf("%s", zUrl);
  if (!pRef->zUrl) goto nomem;
  op.db = p->db;
  op.zUrl = zReal;
  op.zSafeUrl = zSafe;
  rc = sv_allow_store(zScheme, zSafe, zReal != zUrl, &op, pzErr);
  if (rc == SQLITE_OK) rc = pMethods->xOpen(&op, &pRef->pStore, pzErr);
  sqlite3_free(zSafe);
  zSafe = 0;
  if (rc != SQLITE_OK) {
    sqlite3_free(pRef->zUrl);
    sqlite3_free(pRef);
    return rc;
  }
  pRef->nRef = 1;
  pRef->pNext = p->pStores;
  p->pStores = pRef;
  *ppRef = pRef;
  return SQLITE_OK;

nomem:
  if (pRef) sqlite3_free(pRef->zUrl);
  sqlite3_free(pRef);
  sqlite3_free(zSafe);
  return SQLITE_NOMEM;
}

/*
** Drop one reference.  A store without tables stays open until the
** connection closes (sv_store_close_all): SQLite disconnects every virtual
** table whenever it resets the schema (a failed CREATE, an ALTER TABLE),
** and reconnecting a remote store each time would be slow and would lose
** its session.
*/
void sv_store_release(sv_conn *p, sv_storeref *pRef) {
  (void)p;
  if (pRef && pRef->nRef > 0) pRef->nRef--;
}

/* Close every store of the connection. */
void sv_store_close_all(sv_conn *p) {
  sv_storeref *pRef;
  while ((pRef = p->pStores) != 0) {
    p->pStores = pRef->pNext;
    if (pRef->pStore) pRef->pStore->pMethods->xClose(pRef->pStore);
    sqlite3_free(pRef->zUrl);
    sqlite3_free(pRef);
  }
}

/* Write the registered schemes, comma separated, into zBuf. */
const char *sv_store_names(sv_conn *p, char *zBuf, int nBuf) {
  sv_schemeref *s;
  int n = 0;
  zBuf[0] = 0;
  for (s = p->pSchemes; s && n < nBuf; s = s->pNext) {
    sqlite3_snprintf(nBuf - n, zBuf + n, "%s%s", n ? "," : "",
                     s->pMethods->zScheme);
    n += (int)strlen(zBuf + n);
  }
  return zBuf;
}

/*
** How a store's settling of a commit whose reply was lost ended (see
** pgSettle, rdSettle): rc SQLITE_OK when the server could be asked, and
** then bFound 1 when the commit was applied.  zCause: the transport error
** (taken: freed here).  zWhy: why it cannot be known, or NULL (then the
** store's message says why the server could not be asked).  Returns
** SQLITE_OK when applied, SQLITE_NOMEM, or SQLITE_IOERR with the message
** left in s->zErrMsg: the cause, then "not applied" or "unknown".
*/
int sv_settled(statevtab_store *s, char *zCause, int rc, int bFound,
               const char *zWhy) {
  char *zAsk = s->zErrMsg;
  s->zErrMsg = 0;
  if ((rc == SQLITE_OK && bFound) || rc == SQLITE_NOMEM) {
    /* applied, or no memory to say more */
  } else if (rc == SQLITE_OK) {
    s->zErrMsg =
        sqlite3_mprintf("%s; the transaction was not applied (the server "
                        "confirmed it): nothing of it was written, it may be "
                        "retried",
                        zCause);
    rc = s->zErrMsg ? SQLITE_IOERR : SQLITE_NOMEM;
  } else {
    s->zErrMsg = sqlite3_mprintf(
        "%s; whether the transaction was applied is unknown (%s): look for "
        "its rows before retrying it",
        zCause,
        zWhy   ? zWhy
        : zAsk ? zAsk
               : "the server could not be asked");
    rc = s->zErrMsg ? SQLITE_IOERR : SQLITE_NOMEM;
  }
  sqlite3_free(zAsk);
  sqlite3_free(zCause);
  return rc;
}
