/*
** 2026-12-03
**
** dynload.c -- the client libraries of the remote stores, opened with
** dlopen when a table first names their store.  statevtab.so links neither
** libpq nor hiredis, so it loads where they are missing and the local store
** works there; a table on a store whose library is missing fails with
**
**   state_tasks: the redis store needs libhiredis.so.0.14 (Debian package
**   libhiredis0.14): libhiredis.so.0.14: cannot open shared object file ...
**
** The library names (SONAMEs) and packages are the ones configure found
** the store built against (config.h: SV_LIBPQ_SONAME ...).  A library is
** opened once per process and never closed: its functions stay reachable
** through sv_pq and sv_redis for as long as the extension is loaded.
*/
#define SV_DYNLOAD_IMPL
#include "svint.h"

#include <dlfcn.h>

/* The error of a library that cannot be opened, or lacks a function. */
static int loadError(const char *zStore, const char *zSoname,
                     const char *zPackage, char **pzErr) {
  const char *zWhy = dlerror();
  *pzErr =
      sqlite3_mprintf("the %s store needs %s (Debian package %s): %s", zStore,
                      zSoname, zPackage, zWhy ? zWhy : "cannot open it");
  return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
}

/*
** Open library zSoname, once (*pbDone), and set each function pointer
** apField[i] to its symbol azName[i] (i < n): memcpy, a data pointer into a
** function pointer, as POSIX dlsym promises.  Under a static mutex: two
** connections in two threads open a library once.  zStore ("redis") and
** zPackage (Debian's) are for the error.  A library that lacks a function
** is kept open: dlclose could run its destructors under another user.
*/
static int loadLib(int *pbDone, const char *zStore, const char *zSoname,
                   const char *zPackage, const char *const *azName,
                   void *const *apField, int n, char **pzErr) {
  sqlite3_mutex *m = sqlite3_mutex_alloc(SQLITE_MUTEX_STATIC_APP1);
  int rc = SQLITE_OK, i;
  sqlite3_mutex_enter(m);
  if (!*pbDone) {
    void *h = dlopen(zSoname, RTLD_NOW | RTLD_LOCAL);
    if (!h) rc = loadError(zStore, zSoname, zPackage, pzErr);
    for (i = 0; rc == SQLITE_OK && i < n; i++) {
      void *p = dlsym(h, azName[i]);
      if (p) {
        memcpy(apField[i], &p, sizeof(p));
      } else {
        rc = loadError(zStore, zSoname, zPackage, pzErr);
      }
    }
    *pbDone = rc == SQLITE_OK;
  }
  sqlite3_mutex_leave(m);
  return rc;
}

#define SV_NAME(f) #f,
#define SV_COUNT(a) (int)(sizeof(a) / sizeof(a[0]))

#ifdef HAVE_POSTGRES
#include <libpq-fe.h>

#include "pq_api.h"

sv_pq_api sv_pq;

int sv_pq_load(char **pzErr) {
  static int bDone = 0;
  static const char *const azName[] = {SV_PQ_SYMS(SV_NAME)};
#define SV_FIELD(f) (void *)&sv_pq.f,
  void *const apField[] = {SV_PQ_SYMS(SV_FIELD)};
#undef SV_FIELD
  return loadLib(&bDone, "postgresql", SV_LIBPQ_SONAME, SV_LIBPQ_PACKAGE,
                 azName, apField, SV_COUNT(azName), pzErr);
}
#endif

#ifdef HAVE_REDIS
#include <hiredis/hiredis.h>

#include "redis_api.h"

sv_redis_api sv_redis;

int sv_redis_load(char **pzErr) {
  static int bDone = 0;
  static const char *const azName[] = {SV_REDIS_SYMS(SV_NAME)};
#define SV_FIELD(f) (void *)&sv_redis.f,
  void *const apField[] = {SV_REDIS_SYMS(SV_FIELD)};
#undef SV_FIELD
  return loadLib(&bDone, "redis", SV_LIBHIREDIS_SONAME, SV_LIBHIREDIS_PACKAGE,
                 azName, apField, SV_COUNT(azName), pzErr);
}
#endif
