/*
** 2026-12-03
**
** fuzz.h -- what the libFuzzer targets of test/fuzz/ share: a connection
** with statevtab linked in (sqlite3_auto_extension), an allowlist that lets
** no fuzzed store URL leave loopback port 1 (where nothing listens: a
** connection is refused at once), and a reader that turns fuzz bytes into
** small numbers, text and typed SQLite values.
**
** Each target is one file, built by test/fuzz/build.sh with
** -fsanitize=fuzzer,address,undefined against the extension's sources and
** run by test/suites/70-fuzz.sh over its seed corpus in
** test/fuzz/corpus/<target>/.
*/
#ifndef SV_FUZZ_H
#define SV_FUZZ_H

#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sqlite3_statevtab_init(sqlite3 *, char **, const sqlite3_api_routines *);

typedef struct FzIn {
  const uint8_t *p;
  size_t n;
} FzIn;

/* The next byte, 0 at the end. */
static inline unsigned fzByte(FzIn *in) {
  if (in->n == 0) return 0;
  in->n--;
  return *in->p++;
}

/* The next n bytes (fewer at the end) as a sqlite3_malloc'd string: up to
** a 0xff byte or, with nMax, at most nMax bytes. */
static inline char *fzText(FzIn *in, size_t nMax) {
  size_t n = 0;
  char *z;
  while (n < in->n && n < nMax && in->p[n] != 0xff) n++;
  z = sqlite3_mprintf("%.*s", (int)n, (const char *)in->p);
  in->p += n;
  in->n -= n;
  if (in->n) {
    in->p++; /* the 0xff */
    in->n--;
  }
  return z;
}

/* Bind the next value to parameter i: NULL, a small or a 64-bit integer,
** a double (any bits: NaN, infinities), text or a blob. */
static inline void fzBind(FzIn *in, sqlite3_stmt *pStmt, int i) {
  unsigned t = fzByte(in) % 7, k;
  uint64_t u = 0;
  double r;
  char *z;
  switch (t) {
  case 0:
    sqlite3_bind_null(pStmt, i);
    break;
  case 1:
    sqlite3_bind_int64(pStmt, i, (int)fzByte(in) - 64);
    break;
  case 2:
  case 3:
    for (k = 0; k < 8; k++) u = (u << 8) | fzByte(in);
    if (t == 2) {
      sqlite3_bind_int64(pStmt, i, (sqlite3_int64)u);
    } else {
      memcpy(&r, &u, sizeof(r));
      sqlite3_bind_double(pStmt, i, r);
    }
    break;
  case 4:
  case 5:
    z = fzText(in, 512);
    sqlite3_bind_text(pStmt, i, z ? z : "", -1, SQLITE_TRANSIENT);
    sqlite3_free(z);
    break;
  default:
    z = fzText(in, 64);
    sqlite3_bind_blob(pStmt, i, z ? z : "", z ? (int)strlen(z) : 0,
                      SQLITE_TRANSIENT);
    sqlite3_free(z);
    break;
  }
}

/* Run every statement of zSql, each on its own, going on after errors
** (they are expected); statements are cut as sqlite3_complete() says. */
static inline void fzExec(sqlite3 *db, const char *zSql) {
  const char *z = zSql;
  while (*z) {
    const char *zEnd = z;
    char *zOne;
    for (;;) {
      zEnd = strchr(zEnd, ';');
      if (!zEnd) {
        zEnd = z + strlen(z);
        break;
      }
      zEnd++;
      zOne = sqlite3_mprintf("%.*s", (int)(zEnd - z), z);
      if (!zOne || sqlite3_complete(zOne)) {
        sqlite3_free(zOne);
        break;
      }
      sqlite3_free(zOne);
    }
    zOne = sqlite3_mprintf("%.*s", (int)(zEnd - z), z);
    if (zOne) sqlite3_exec(db, zOne, 0, 0, 0);
    sqlite3_free(zOne);
    z = zEnd;
  }
}

/* Prepare zSql, bind each parameter from in, step it to the end. */
static inline void fzRun(sqlite3 *db, FzIn *in, const char *zSql) {
  sqlite3_stmt *pStmt = 0;
  int i, n;
  if (sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) != SQLITE_OK) return;
  n = sqlite3_bind_parameter_count(pStmt);
  for (i = 1; i <= n; i++) fzBind(in, pStmt, i);
  while (sqlite3_step(pStmt) == SQLITE_ROW) {
    for (i = 0; i < sqlite3_column_count(pStmt); i++) {
      (void)sqlite3_column_text(pStmt, i);
    }
  }
  sqlite3_finalize(pStmt);
}

/* A fresh in-memory connection with statevtab, nothing remote but
** loopback port 1 allowed. */
static inline sqlite3 *fzOpen(void) {
  static int bInit = 0;
  sqlite3 *db = 0;
  if (!bInit) {
    bInit = 1;
    setenv("STATEVTAB_TEST_CLOCK_MS", "1700000000000", 1);
    sqlite3_auto_extension((void (*)(void))sqlite3_statevtab_init);
  }
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) abort();
  fzExec(db, "SELECT statevtab_allow('redis://127.0.0.1:1', "
             "'postgresql://127.0.0.1:1', 'unix:/nonexistent/redis.sock')");
  return db;
}

#endif /* SV_FUZZ_H */
