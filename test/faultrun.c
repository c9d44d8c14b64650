/*
** 2026-12-03
**
** faultrun.c -- runs the steps of a fault test (suite 72-faults) on one
** database connection with the extension loaded, while test/faultproxy
** passes, delays, resets or black-holes the traffic to the server.
**
**   cc -O1 -g test/faultrun.c -o test/out/faultrun -lsqlite3
**   test/out/faultrun EXT CONTROL_FILE PREFIX < STEPS
**
** STEPS has one step a line, fields separated by '|' (empty lines and
** lines starting with '#' are skipped):
**
**   mode|WORDS                     write WORDS to CONTROL_FILE (the proxy's
**                                  mode; written aside and renamed over)
**   sleep|MS                       wait MS ms
**   after|MS|WORDS                 write WORDS to CONTROL_FILE in MS ms,
**                                  while the next steps run
**   ok|LABEL|MAXMS|WANT|SQL        SQL succeeds within MAXMS ms and its rows
**                                  (every column, ' ' between columns, ','
**                                  between rows; NULL as "NULL") are WANT,
**                                  or anything when WANT is '*'
**   err|LABEL|MAXMS|WANT|SQL       SQL fails within MAXMS ms with
**                                  SQLITE_IOERR (the primary code) and a
**                                  message containing WANT
**   run|SQL                        SQL, whatever happens (set-up)
**
** It prints "PASS PREFIX/LABEL (N ms)" or "FAIL PREFIX/LABEL: why" per ok
** and err step, and exits 1 when any failed.  SQL (the last field) may
** hold '|'; the other fields may not.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* Write zWords to zCtl (aside, then renamed over); 0 on success. */
static int setMode(const char *zCtl, const char *zWords) {
  char zTmp[4096];
  FILE *f;
  snprintf(zTmp, sizeof(zTmp), "%s.%d.tmp", zCtl, (int)getpid());
  f = fopen(zTmp, "w");
  if (!f) return 1;
  if (fprintf(f, "%s\n", zWords) < 0) {
    fclose(f);
    return 1;
  }
  return fclose(f) != 0 || rename(zTmp, zCtl) != 0;
}

static long long nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Run zSql; its rows into *pzOut (sqlite3_malloc'd); the result code. */
static int runSql(sqlite3 *db, const char *zSql, char **pzOut) {
  sqlite3_str *s = sqlite3_str_new(db);
  sqlite3_stmt *st = 0;
  const char *zTail = zSql;
  int rc = SQLITE_OK, nRow = 0;
  while (rc == SQLITE_OK && zTail && *zTail) {
    rc = sqlite3_prepare_v2(db, zTail, -1, &st, &zTail);
    if (rc != SQLITE_OK || !st) break;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      int i, n = sqlite3_column_count(st);
      if (nRow++) sqlite3_str_appendchar(s, 1, ',');
      for (i = 0; i < n; i++) {
        const char *z = (const char *)sqlite3_column_text(st, i);
        if (i) sqlite3_str_appendchar(s, 1, ' ');
        sqlite3_str_appendall(s, z ? z : "NULL");
      }
    }
    rc = sqlite3_finalize(st);
    st = 0;
  }
  *pzOut = sqlite3_str_finish(s);
  return rc;
}

int main(int argc, char **argv) {
  sqlite3 *db = 0;
  char *zErr = 0, zLine[8192];
  const char *zCtl, *zPrefix;
  int nFail = 0;
  if (argc != 4) {
    fprintf(stderr, "usage: faultrun EXT CONTROL_FILE PREFIX < STEPS\n");
    return 2;
  }
  zCtl = argv[2];
  zPrefix = argv[3];
  if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
      sqlite3_enable_load_extension(db, 1) != SQLITE_OK ||
      sqlite3_load_extension(db, argv[1], 0, &zErr) != SQLITE_OK) {
    printf("FAIL %s/setup: cannot load %s: %s\n", zPrefix, argv[1],
           zErr ? zErr : sqlite3_errmsg(db));
    return 1;
  }
  sqlite3_extended_result_codes(db, 1);
  while (fgets(zLine, sizeof(zLine), stdin)) {
    char *az[5], *z = zLine;
    int n = 0;
    zLine[strcspn(zLine, "\n")] = 0;
    if (!zLine[0] || zLine[0] == '#') continue;
    while (n < 5) {
      az[n++] = z;
      if (n == 5) break; /* SQL: the rest of the line */
      z = strchr(z, '|');
      if (!z) break;
      *z++ = 0;
    }
    if (strcmp(az[0], "mode") == 0 && n == 2) {
      if (setMode(zCtl, az[1])) {
        printf("FAIL %s/setup: cannot write %s\n", zPrefix, zCtl);
        return 1;
      }
    } else if (strcmp(az[0], "after") == 0 && n == 3) {
      pid_t pid;
      fflush(stdout);
      pid = fork();
      if (pid == 0) {
        usleep((useconds_t)atoi(az[1]) * 1000);
        _exit(setMode(zCtl, az[2]));
      }
      if (pid < 0) {
        printf("FAIL %s/setup: fork failed\n", zPrefix);
        return 1;
      }
    } else if (strcmp(az[0], "sleep") == 0 && n == 2) {
      usleep((useconds_t)atoi(az[1]) * 1000);
    } else if (strcmp(az[0], "run") == 0 && n == 2) {
      char *zOut = 0;
      runSql(db, az[1], &zOut);
      sqlite3_free(zOut);
    } else if ((strcmp(az[0], "ok") == 0 || strcmp(az[0], "err") == 0) &&
               n == 5) {
      int bOk = az[0][0] == 'o', rc;
      long long t0 = nowMs(), ms, iMax = atoll(az[2]);
      char *zOut = 0;
      rc = runSql(db, az[4], &zOut);
      ms = nowMs() - t0;
      if (ms > iMax) {
        printf("FAIL %s/%s: took %lld ms (at most %lld): %s\n", zPrefix, az[1],
               ms, iMax, rc == SQLITE_OK ? "ok" : sqlite3_errmsg(db));
        nFail++;
      } else if (bOk && rc != SQLITE_OK) {
        printf("FAIL %s/%s: %s (%d)\n", zPrefix, az[1], sqlite3_errmsg(db), rc);
        nFail++;
      } else if (bOk && strcmp(az[3], "*") != 0 &&
                 strcmp(az[3], zOut ? zOut : "") != 0) {
        printf("FAIL %s/%s: got '%s', want '%s'\n", zPrefix, az[1],
               zOut ? zOut : "", az[3]);
        nFail++;
      } else if (!bOk && (rc & 0xff) != SQLITE_IOERR) {
        printf("FAIL %s/%s: want SQLITE_IOERR, got %d: %s\n", zPrefix, az[1],
               rc, rc == SQLITE_OK ? zOut : sqlite3_errmsg(db));
        nFail++;
      } else if (!bOk && !strstr(sqlite3_errmsg(db), az[3])) {
        printf("FAIL %s/%s: the message lacks '%s': %s\n", zPrefix, az[1],
               az[3], sqlite3_errmsg(db));
        nFail++;
      } else {
        printf("PASS %s/%s (%lld ms)%s%s\n", zPrefix, az[1], ms,
               bOk ? "" : ": ", bOk ? "" : sqlite3_errmsg(db));
      }
      sqlite3_free(zOut);
    } else {
      printf("FAIL %s/setup: bad step '%s'\n", zPrefix, az[0]);
      return 1;
    }
    fflush(stdout);
  }
  sqlite3_close(db);
  while (wait(0) > 0) {
  }
  return nFail ? 1 : 0;
}
