/*
** 2026-12-03
**
** watch.c -- test host for suite 45-flags: how soon a flag written by one
** process is seen by state_flag in another.
**
**   watch EXT DB SETUP FLAG TIMEOUT_MS   the reader
**   watch EXT DB SETUP -w SQL            the writer
**
** Both open DB, load the extension EXT and run the SQL script SETUP
** (CREATE VIRTUAL TABLE ... of the store under test).  The reader
** evaluates state_flag('flags', FLAG) once, prints "ready <value>", then
** evaluates it again every millisecond, each time a statement of its own, until
** the value changes or TIMEOUT_MS pass, and prints "seen <value> <t>" (or
** "timeout <value> <t>").  The writer runs SQL (autocommit: committed when
** it returns) and prints "wrote <t>".  <t> is CLOCK_MONOTONIC in
** microseconds, one clock for every process of the machine, so that the
** delay is the reader's t minus the writer's.  Exit status 0, or 1 with a
** message on stderr.
*/
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static long long nowUs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int fail(sqlite3 *db, const char *zWhat) {
  fprintf(stderr, "watch: %s: %s\n", zWhat, db ? sqlite3_errmsg(db) : "");
  sqlite3_close(db);
  return 1;
}

int main(int argc, char **argv) {
  sqlite3 *db = 0;
  sqlite3_stmt *p = 0;
  char *zErr = 0;
  int v0, v;
  long long tEnd;
  struct timespec pause = {0, 1000000};
  if (argc != 6) {
    fprintf(stderr, "usage: watch EXT DB SETUP FLAG TIMEOUT_MS\n"
                    "       watch EXT DB SETUP -w SQL\n");
    return 2;
  }
  if (sqlite3_open(argv[2], &db) != SQLITE_OK) return fail(db, "open");
  sqlite3_busy_timeout(db, 5000);
  sqlite3_enable_load_extension(db, 1);
  if (sqlite3_load_extension(db, argv[1], 0, &zErr) != SQLITE_OK) {
    fprintf(stderr, "watch: load: %s\n", zErr ? zErr : "?");
    sqlite3_free(zErr);
    sqlite3_close(db);
    return 1;
  }
  if (sqlite3_exec(db, argv[3], 0, 0, 0) != SQLITE_OK) return fail(db, "setup");
  if (strcmp(argv[4], "-w") == 0) {
    if (sqlite3_exec(db, argv[5], 0, 0, 0) != SQLITE_OK) {
      return fail(db, "write");
    }
    printf("wrote %lld\n", nowUs());
    sqlite3_close(db);
    return 0;
  }
  if (sqlite3_prepare_v2(db, "SELECT state_flag('flags', ?1)", -1, &p, 0) !=
      SQLITE_OK) {
    return fail(db, "prepare");
  }
  sqlite3_bind_text(p, 1, argv[4], -1, SQLITE_STATIC);
  if (sqlite3_step(p) != SQLITE_ROW) return fail(db, "state_flag");
  v0 = sqlite3_column_int(p, 0);
  sqlite3_reset(p);
  printf("ready %d\n", v0);
  fflush(stdout);
  tEnd = nowUs() + atoll(argv[5]) * 1000;
  for (;;) {
    long long t;
    if (sqlite3_step(p) != SQLITE_ROW) return fail(db, "state_flag");
    v = sqlite3_column_int(p, 0);
    sqlite3_reset(p);
    t = nowUs();
    if (v != v0) {
      printf("seen %d %lld\n", v, t);
      break;
    }
    if (t > tEnd) {
      printf("timeout %d %lld\n", v, t);
      break;
    }
    /* 1 ms between evaluations: the writer and the servers get the CPU a
    ** busy reader would take on a small machine */
    nanosleep(&pause, 0);
  }
  sqlite3_finalize(p);
  sqlite3_close(db);
  return 0;
}
