/*
** 2026-12-03
**
** soak.c -- memory and descriptors of one long-lived process (issue 18):
** CYCLES claim + complete cycles on one connection, sampling the process's
** resident memory and open descriptors, optionally restarting the server
** RESTARTS times during the loop.  Not in the default run.
**
**   cc -O1 -g test/bench/soak.c -o test/out/soak -lsqlite3
**   test/out/soak --store sqlite|redis|postgresql [-e EXT] [-n CYCLES]
**                 [--restart CMD --restarts N] [--batch N]
**
**   test/bench/soak [-n CYCLES] [--restarts N] [STORE...]   builds, starts
**                 private servers, runs every store (default 200000
**                 cycles, 20 restarts on the remote stores)
**
** A cycle inserts a task (batched: --batch tasks per INSERT transaction,
** 100), claims it (state_claim n=1) and completes it with its token; the
** table is on the store's URL (STATEVTAB_REDIS_URL, STATEVTAB_PG_URL) under
** a namespace of its own, emptied every --purge cycles (10,000; 0: never)
** by a DELETE of the completed rows: the store's data does not grow, so
** what grows is the client's.  A statement that fails while the server restarts
*is retried
** every 20 ms (counted).  40 samples of VmRSS (/proc/self/status) and of
** the entries of /proc/self/fd are printed.  Verdict: the largest RSS after
** the warm-up (the first 10% of cycles) is within 10% of the largest during
** it (the high-water of the warm-up: a WAL index or a page cache comes and
** goes by a few hundred kB), and the descriptors at the end are as many as
** at the end of the warm-up; exit 1 otherwise.
*/
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static long rssKb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char zLine[256];
  long kb = -1;
  while (f && fgets(zLine, sizeof(zLine), f)) {
    if (strncmp(zLine, "VmRSS:", 6) == 0) kb = atol(zLine + 6);
  }
  if (f) fclose(f);
  return kb;
}

static int nFd(void) {
  DIR *d = opendir("/proc/self/fd");
  struct dirent *e;
  int n = 0;
  while (d && (e = readdir(d)) != 0) {
    if (e->d_name[0] != '.') n++;
  }
  if (d) closedir(d);
  return n - 1; /* (opendir's own) */
}

static double nowS(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int nRetry = 0;

/* Prepare zSql; step it, retrying (every 20 ms, up to 60 s) while the
** server is away.  Returns the statement positioned on its first row (or
** done); the caller finalizes.  NULL after 60 s of failures. */
static sqlite3_stmt *step(sqlite3 *db, const char *zSql, const char *zA,
                          sqlite3_int64 iB, int *pRc) {
  double tEnd = nowS() + 60;
  for (;;) {
    sqlite3_stmt *p = 0;
    int rc = sqlite3_prepare_v2(db, zSql, -1, &p, 0);
    if (rc == SQLITE_OK) {
      if (zA) sqlite3_bind_text(p, 1, zA, -1, SQLITE_TRANSIENT);
      if (sqlite3_bind_parameter_count(p) >= 2) sqlite3_bind_int64(p, 2, iB);
      rc = sqlite3_step(p);
      if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
        *pRc = rc;
        return p;
      }
    }
    sqlite3_finalize(p);
    if (!sqlite3_get_autocommit(db)) sqlite3_exec(db, "ROLLBACK", 0, 0, 0);
    nRetry++;
    if (nowS() > tEnd) {
      fprintf(stderr, "soak: %s: %s\n", zSql, sqlite3_errmsg(db));
      return 0;
    }
    usleep(20000);
  }
}

static int run(sqlite3 *db, const char *zSql) {
  int rc;
  sqlite3_stmt *p = step(db, zSql, 0, 0, &rc);
  if (!p) return 1;
  sqlite3_finalize(p);
  return 0;
}

int main(int argc, char **argv) {
  const char *zExt = getenv("STATEVTAB_EXT"), *zStore = "sqlite";
  const char *zRestart = 0;
  int nCycle = 200000, nRestart = 0, nBatch = 100, i, iSample = 0;
  int nDoneRestart = 0, nPurge = 10000, nSample = 40, nWarm, iWarmFd = 0,
      bFail = 0, nDone = 0;
  long iWarmRss = 0, iMaxRss = 0;
  sqlite3 *db = 0;
  char *zErr = 0, *zSql;
  double t0;
  for (i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "-e") && i + 1 < argc)
      zExt = argv[++i];
    else if (!strcmp(argv[i], "--store") && i + 1 < argc)
      zStore = argv[++i];
    else if (!strcmp(argv[i], "-n") && i + 1 < argc)
      nCycle = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--restart") && i + 1 < argc)
      zRestart = argv[++i];
    else if (!strcmp(argv[i], "--restarts") && i + 1 < argc)
      nRestart = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--purge") && i + 1 < argc)
      nPurge = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
      nBatch = atoi(argv[++i]);
    else {
      fprintf(stderr, "usage: soak --store sqlite|redis|postgresql [-e EXT] "
                      "[-n CYCLES] [--restart CMD --restarts N] "
                      "[--batch N] [--purge N]\n");
      return 2;
    }
  }
  if (!zExt || nCycle < 100 || nBatch < 1) return 2;
  if (!zRestart) nRestart = 0;
  /* The local store's rows in a file (soak.db, in the working directory),
  ** so that what the page cache holds stays bounded. */
  if (!strcmp(zStore, "sqlite")) unlink("soak.db");
  sqlite3_open(strcmp(zStore, "sqlite") ? ":memory:" : "soak.db", &db);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, zExt, 0, &zErr) != SQLITE_OK) {
    fprintf(stderr, "soak: %s\n", zErr);
    return 1;
  }
  if (!strcmp(zStore, "redis")) {
    zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING state_tasks("
                           "store=%Q, prefix='soak%d:')",
                           getenv("STATEVTAB_REDIS_URL"), (int)getpid());
  } else if (!strcmp(zStore, "postgresql")) {
    zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING state_tasks("
                           "store=%Q, schema='soak%d')",
                           getenv("STATEVTAB_PG_URL"), (int)getpid());
  } else {
    zSql = sqlite3_mprintf("PRAGMA journal_mode=wal;"
                           "CREATE VIRTUAL TABLE t USING state_tasks()");
  }
  if (sqlite3_exec(db, zSql, 0, 0, &zErr) != SQLITE_OK) {
    fprintf(stderr, "soak: %s\n", zErr);
    return 1;
  }
  sqlite3_free(zSql);
  nWarm = nCycle / 10;
  printf("soak %s: %d cycles, %d restarts\n", zStore, nCycle, nRestart);
  printf("%8s %9s %4s %7s %8s\n", "cycles", "rss_kb", "fds", "retries",
         "cycles/s");
  t0 = nowS();
  for (i = 0; i < nCycle; i++) {
    int rc;
    sqlite3_stmt *p;
    if (i % nBatch == 0) {
      int k;
      if (run(db, "BEGIN")) return 1;
      for (k = 0; k < nBatch; k++) {
        if (run(db, "INSERT INTO t(queue, name) VALUES ('q', 'soak')")) {
          return 1;
        }
      }
      if (run(db, "COMMIT")) return 1;
    }
    if (nPurge > 0 && i % nPurge == nPurge - 1 &&
        run(db, "DELETE FROM t WHERE state = 'completed'")) {
      return 1;
    }
    p = step(db,
             "SELECT id, lease_token FROM state_claim('t', 'q', 'w', "
             "60000, 1)",
             0, 0, &rc);
    if (!p) return 1;
    if (rc == SQLITE_ROW) {
      char *zId = sqlite3_mprintf("%s", sqlite3_column_text(p, 0));
      sqlite3_int64 iTok = sqlite3_column_int64(p, 1);
      sqlite3_stmt *q;
      sqlite3_finalize(p);
      q = step(db, "SELECT state_complete('t', ?1, ?2)", zId, iTok, &rc);
      sqlite3_free(zId);
      if (!q) return 1;
      sqlite3_finalize(q);
      nDone++;
    } else {
      sqlite3_finalize(p);
    }
    /* Restarts spread evenly between the warm-up and the last 5%. */
    if (nDoneRestart < nRestart &&
        i == nWarm + (sqlite3_int64)(nDoneRestart + 1) *
                         (nCycle - nWarm - nCycle / 20) / (nRestart + 1)) {
      if (system(zRestart) != 0) fprintf(stderr, "soak: restart failed\n");
      nDoneRestart++;
    }
    if ((i + 1) % (nCycle / nSample) == 0 || i + 1 == nCycle) {
      long r = rssKb();
      int f = nFd();
      if (i + 1 <= nWarm) {
        if (r > iWarmRss) iWarmRss = r;
        iWarmFd = f;
      } else if (r > iMaxRss) {
        iMaxRss = r;
      }
      if (++iSample <= nSample) {
        printf("%8d %9ld %4d %7d %8.0f\n", i + 1, r, f, nRetry,
               (i + 1) / (nowS() - t0));
        fflush(stdout);
      }
    }
  }
  run(db, "DELETE FROM t");
  printf("%d restarts; ", nDoneRestart);
  printf("completed %d of %d; rss largest in warm-up %ld kB, after %ld kB "
         "(%+.1f%%); fds %d after warm-up, %d at the end; %d retries\n",
         nDone, nCycle, iWarmRss, iMaxRss,
         100.0 * (iMaxRss - iWarmRss) / (iWarmRss ? iWarmRss : 1), iWarmFd,
         nFd(), nRetry);
  if (iMaxRss > iWarmRss + iWarmRss / 10) {
    printf("FAIL soak/%s/rss: grew more than 10%% after warm-up\n", zStore);
    bFail = 1;
  }
  if (nFd() != iWarmFd) {
    printf("FAIL soak/%s/fds: %d descriptors after warm-up, %d at the end\n",
           zStore, iWarmFd, nFd());
    bFail = 1;
  }
  if (nDone != nCycle) {
    printf("FAIL soak/%s/completed: %d of %d\n", zStore, nDone, nCycle);
    bFail = 1;
  }
  if (!bFail) printf("PASS soak/%s\n", zStore);
  sqlite3_close(db);
  return bFail;
}
