/*
** 2026-12-03
**
** allow.c -- the hosts and environment variables the application allows
** its statevtab tables to use (statevtab_allow).
**
**     SELECT statevtab_allow('redis://10.0.0.5:6379',
**                            'postgresql://db.internal', 'env:QUEUE_URL');
**     CREATE VIRTUAL TABLE t USING state_tasks(store='redis://evil:6379');
**       -- state_tasks: store 'redis://evil:6379' is not allowed by this
**       -- application
**
** HOW IT WORKS
**
** One list per process, set by the application (the SQL function is
** SQLITE_DIRECTONLY: no view, trigger or schema can call it) and read by
** sv_store_acquire every time a connection opens a store.  Per process
** because an application with a pool of connections means one policy: a
** list per connection would leave every connection it forgot to configure
** open.  Without a list (the default, for compatibility) every store is
** allowed.  With one:
**
**   - the local store (sqlite:, or no store=) is always allowed: it is
**     the database itself;
**   - env:NAME is allowed only when listed as such; the variable is not
**     even read otherwise.  Its value is the deployment's, and trusted;
**   - a Redis or PostgreSQL URL is handed to its store, which works out
**     every host and port it would connect to (PostgreSQL: with libpq's
**     own parser, and the environment libpq would use) and asks
**     sv_allow_host() about each before it opens a socket;
**   - a store registered by the application (statevtab_register_store)
**     is allowed when the list holds its scheme as "NAME:".
**
** Entries: redis://host[:port] (default 6379), unix:/path/to/socket,
** postgresql://host[:port] or postgres://host[:port] (default 5432),
** env:NAME, sqlite: and NAME: (a registered scheme).  Hosts compare without
** case; nothing but scheme, host and port may appear (no user, password,
** database or parameters).
**
** The list belongs to the process, not to SQLite or a connection: it is
** allocated with malloc() and outlives every connection.
*/
#include "svint.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct AllowEntry AllowEntry;
struct AllowEntry {
  char *zScheme; /* "redis", "postgresql", "env", or a registered scheme */
  char *zHost;   /* host, socket path or variable name; NULL: any */
  int iPort;     /* 0 for sockets, variables and schemes */
};

static pthread_mutex_t allowMutex = PTHREAD_MUTEX_INITIALIZER;
static AllowEntry *aAllow = 0; /* the list, or NULL: no list */
static int nAllow = 0;
static int bAllowSet = 0; /* a list is set (it may be empty) */

static void entriesFree(AllowEntry *a, int n) {
  int i;
  for (i = 0; a && i < n; i++) {
    free(a[i].zScheme);
    free(a[i].zHost);
  }
  free(a);
}

/* A copy of n bytes of z (malloc'd), lower-cased when bLower, or NULL. */
static char *entryDup(const char *z, size_t n, int bLower) {
  char *zOut = malloc(n + 1);
  size_t i;
  if (!zOut) return 0;
  memcpy(zOut, z, n);
  zOut[n] = 0;
  for (i = 0; bLower && i < n; i++) {
    if (zOut[i] >= 'A' && zOut[i] <= 'Z') zOut[i] += 32;
  }
  return zOut;
}

/*
** Parse "host[:port]" (an IPv6 host in brackets) of n bytes at z into
** pE, iDefault when no port.  SQLITE_OK, SQLITE_ERROR (malformed) or
** SQLITE_NOMEM.
*/
static int parseHostPort(const char *z, int n, int iDefault, AllowEntry *pE) {
  const char *zEnd = z + n, *q;
  int nHost;
  if (n > 0 && z[n - 1] == '/') zEnd--; /* one trailing slash */
  if (z < zEnd && *z == '[') {
    q = memchr(z, ']', (size_t)(zEnd - z));
    if (!q) return SQLITE_ERROR;
    z++;
    nHost = (int)(q - z);
    q++;
  } else {
    for (q = z; q < zEnd && *q != ':'; q++) {
      if (*q == '/' || *q == '@' || *q == '?' || *q == '[' || *q == ']' ||
          *q == ',' || *q == ' ') {
        return SQLITE_ERROR;
      }
    }
    nHost = (int)(q - z);
  }
  if (nHost <= 0) return SQLITE_ERROR;
  pE->iPort = iDefault;
  if (q < zEnd) {
    int v = 0;
    if (*q != ':' || q + 1 == zEnd) return SQLITE_ERROR;
    for (q++; q < zEnd; q++) {
      if (*q < '0' || *q > '9' || v > 65535) return SQLITE_ERROR;
      v = v * 10 + (*q - '0');
    }
    if (v <= 0 || v > 65535) return SQLITE_ERROR;
    pE->iPort = v;
  }
  pE->zHost = entryDup(z, (size_t)nHost, 1);
  return pE->zHost ? SQLITE_OK : SQLITE_NOMEM;
}

/* Parse one entry into pE (zeroed by the caller). */
static int parseEntry(const char *z, AllowEntry *pE) {
  static const struct {
    const char *zPrefix;
    const char *zScheme;
    int iPort;
  } aUrl[] = {
      {"redis://", "redis", 6379},
      {"postgresql://", "postgresql", 5432},
      {"postgres://", "postgresql", 5432},
  };
  size_t i, n;
  for (i = 0; i < sizeof(aUrl) / sizeof(aUrl[0]); i++) {
    n = strlen(aUrl[i].zPrefix);
    if (sqlite3_strnicmp(z, aUrl[i].zPrefix, (int)n) == 0) {
      pE->zScheme = entryDup(aUrl[i].zScheme, strlen(aUrl[i].zScheme), 0);
      if (!pE->zScheme) return SQLITE_NOMEM;
      return parseHostPort(z + n, (int)strlen(z + n), aUrl[i].iPort, pE);
    }
  }
  if (sqlite3_strnicmp(z, "unix:", 5) == 0) {
    const char *zPath = z + 5;
    if (strncmp(zPath, "//", 2) == 0) zPath += 2;
    if (zPath[0] != '/' || strchr(zPath, '?')) return SQLITE_ERROR;
    pE->zScheme = entryDup("redis", 5, 0);
    pE->zHost = entryDup(zPath, strlen(zPath), 0);
    return pE->zScheme && pE->zHost ? SQLITE_OK : SQLITE_NOMEM;
  }
  if (strncmp(z, "env:", 4) == 0) {
    if (z[4] == 0) return SQLITE_ERROR;
    pE->zScheme = entryDup("env", 3, 0);
    pE->zHost = entryDup(z + 4, strlen(z + 4), 0);
    return pE->zScheme && pE->zHost ? SQLITE_OK : SQLITE_NOMEM;
  }
  /* "NAME:": every URL of a scheme (the local store, or a store the
  ** application registered). */
  n = strlen(z);
  if (n < 2 || z[n - 1] != ':') return SQLITE_ERROR;
  for (i = 0; i + 1 < n; i++) {
    char c = z[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9' && i > 0) || c == '+' || c == '-' ||
          c == '.')) {
      return SQLITE_ERROR;
    }
  }
  pE->zScheme = entryDup(z, n - 1, 1);
  return pE->zScheme ? SQLITE_OK : SQLITE_NOMEM;
}

/*
** Set the process's list to the nEntry entries azEntry, or remove it
** (azEntry NULL).  On a malformed entry nothing changes: SQLITE_ERROR and
** *pzErr (sqlite3_malloc'd, password redacted) says which.
*/
int sv_allow_set(const char *const *azEntry, int nEntry, char **pzErr) {
  AllowEntry *aNew = 0;
  int i, rc = SQLITE_OK;
  if (azEntry) {
    aNew = calloc((size_t)nEntry + 1, sizeof(*aNew));
    if (!aNew) return SQLITE_NOMEM;
    for (i = 0; i < nEntry && rc == SQLITE_OK; i++) {
      rc = parseEntry(azEntry[i], &aNew[i]);
      if (rc == SQLITE_ERROR) {
        char *zSafe = sv_redact_url(azEntry[i]);
        *pzErr = zSafe ? sqlite3_mprintf(
                             "malformed entry '%s' (expected "
                             "redis://host[:port], unix:/path, "
                             "postgresql://host[:port], env:NAME or NAME:)",
                             zSafe)
                       : 0;
        sqlite3_free(zSafe);
        if (!*pzErr) rc = SQLITE_NOMEM;
      }
    }
    if (rc != SQLITE_OK) {
      entriesFree(aNew, nEntry);
      return rc;
    }
  }
  pthread_mutex_lock(&allowMutex);
  entriesFree(aAllow, nAllow);
  aAllow = aNew;
  nAllow = azEntry ? nEntry : 0;
  bAllowSet = azEntry != 0;
  pthread_mutex_unlock(&allowMutex);
  return SQLITE_OK;
}

/* Is a list set?  */
int sv_allow_active(void) {
  int b;
  pthread_mutex_lock(&allowMutex);
  b = bAllowSet;
  pthread_mutex_unlock(&allowMutex);
  return b;
}

/*
** Does the list allow zHost (NULL: any) and iPort of scheme zScheme?  With
** no list, everything is.  1 or 0.
*/
static int allowed(const char *zScheme, const char *zHost, int iPort) {
  int i, b;
  pthread_mutex_lock(&allowMutex);
  b = !bAllowSet;
  for (i = 0; !b && i < nAllow; i++) {
    const AllowEntry *e = &aAllow[i];
    if (strcmp(e->zScheme, zScheme) != 0) continue;
    if (!e->zHost) {
      b = 1;
    } else if (zHost && e->iPort == iPort &&
               (strcmp(e->zScheme, "env") == 0 || e->zHost[0] == '/'
                    ? strcmp(e->zHost, zHost) == 0
                    : sqlite3_stricmp(e->zHost, zHost) == 0)) {
      b = 1;
    }
  }
  pthread_mutex_unlock(&allowMutex);
  return b;
}

/* The message of a refusal, naming the store as zShow. */
static int refuse(const char *zShow, char **pzErr) {
  *pzErr =
      sqlite3_mprintf("store '%s' is not allowed by this application", zShow);
  return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
}

/*
** statevtab_open.xAllow: may the store being opened connect to zHost (a
** host name or address, or a socket path; NULL when the URL names none and
** the host would come from elsewhere) on iPort (0 for a socket)?
** SQLITE_OK, or SQLITE_ERROR with *pzErr set.
*/
static int allowHost(const statevtab_open *pOpen, const char *zHost, int iPort,
                     char **pzErr) {
  const char *zScheme = (const char *)pOpen->pAllowArg;
  if (zHost && allowed(zScheme, zHost, iPort)) return SQLITE_OK;
  sqlite3_free(*pzErr);
  *pzErr = 0;
  return refuse(pOpen->zSafeUrl, pzErr);
}

/*
** Before sv_store_acquire reads env:NAME (zUrl) or opens a store of
** zScheme (zReal, shown as zSafe): SQLITE_OK when it may go on, with
** pOpen->xAllow set when the store must check its hosts; else SQLITE_ERROR
** and *pzErr.
*/
int sv_allow_env(const char *zUrl, char **pzErr) {
  if (allowed("env", zUrl + 4, 0)) return SQLITE_OK;
  return refuse(zUrl, pzErr);
}

int sv_allow_store(const char *zScheme, const char *zSafe, int bEnv,
                   statevtab_open *pOpen, char **pzErr) {
  pOpen->xAllow = 0;
  pOpen->pAllowArg = 0;
  /* The local store is the database itself; an allowed variable's value
  ** is the deployment's. */
  if (!sv_allow_active() || strcmp(zScheme, "sqlite") == 0 || bEnv) {
    return SQLITE_OK;
  }
  if (strcmp(zScheme, "redis") == 0 || strcmp(zScheme, "postgresql") == 0 ||
      strcmp(zScheme, "redis-cluster") == 0) {
    /* (A Redis Cluster's nodes, seeds and those its slot map names, are
    ** allowed by redis://host:port entries.) */
    pOpen->xAllow = allowHost;
    pOpen->pAllowArg =
        (void *)(strcmp(zScheme, "postgresql") == 0 ? "postgresql" : "redis");
    return SQLITE_OK;
  }
  if (allowed(zScheme, 0, 0)) return SQLITE_OK;
  return refuse(zSafe, pzErr);
}
