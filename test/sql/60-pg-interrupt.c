/*
** 2026-12-02
**
** 60-pg-interrupt.c -- part of test/sql/60-pg-timeout.sql (case 60t.4):
** sqlite3_interrupt() ends a statement that waits on a PostgreSQL backend
** that stopped answering, and a transaction whose connection went that way
** cannot commit.
**
**   60-pg-interrupt EXTENSION CONNINFO
**
** The script's .system builds it (with the system libsqlite3, like
** test/sqlrun.c) and runs it in the script's test directory.  CONNINFO
** names application_name=statevtab_intr, by which psql finds the backend
** in pg_stat_activity to stop it (SIGSTOP) and resume it (SIGCONT);
** STATEVTAB_PG_URL is psql's way in.  Another thread calls
** sqlite3_interrupt() 500 ms into the wait.  Prints one line per step, the
** same on every run: results, errors ("error: <msg> [SQLITE_<code>]") and
** checks (1 when true).  Exit status 0, or 1 when it could not run.
*/
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;

static const char *codeName(int rc) {
  switch (rc & 0xff) {
  case SQLITE_OK:
    return "SQLITE_OK";
  case SQLITE_ERROR:
    return "SQLITE_ERROR";
  case SQLITE_INTERRUPT:
    return "SQLITE_INTERRUPT";
  case SQLITE_IOERR:
    return "SQLITE_IOERR";
  default:
    return "SQLITE_OTHER";
  }
}

static long long nowMs(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Run zSql; print its rows ("a|b") or its error.  Returns the result. */
static int run(const char *zSql) {
  sqlite3_stmt *pStmt = 0;
  int rc = sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0);
  if (rc == SQLITE_OK) {
    while ((rc = sqlite3_step(pStmt)) == SQLITE_ROW) {
      int i;
      for (i = 0; i < sqlite3_column_count(pStmt); i++) {
        const unsigned char *z = sqlite3_column_text(pStmt, i);
        printf("%s%s", i ? "|" : "", z ? (const char *)z : "NULL");
      }
      printf("\n");
    }
    if (rc == SQLITE_DONE) rc = SQLITE_OK;
  }
  if (rc != SQLITE_OK) {
    printf("error: %s [%s]\n", sqlite3_errmsg(db), codeName(rc));
  }
  sqlite3_finalize(pStmt);
  return rc;
}

/* Stop (bStop) or resume the backend of application_name statevtab_intr. */
static void backend(int bStop) {
  int rc;
  fflush(stdout);
  if (bStop) {
    rc = system("psql \"$STATEVTAB_PG_URL\" -XAtqc \"SELECT pid FROM "
                "pg_stat_activity WHERE application_name = 'statevtab_intr' "
                "ORDER BY backend_start DESC LIMIT 1\" >intr.pid && "
                "kill -STOP $(cat intr.pid)");
  } else {
    rc = system("kill -CONT $(cat intr.pid)");
  }
  if (rc != 0) {
    printf("error: cannot %s the backend\n", bStop ? "stop" : "resume");
  }
}

static void *interrupter(void *pArg) {
  (void)pArg;
  usleep(500 * 1000);
  sqlite3_interrupt(db);
  return 0;
}

/* Run zSql with the backend stopped and an interrupt 500 ms in. */
static int runInterrupted(const char *zSql) {
  pthread_t t;
  long long t0;
  int rc;
  backend(1);
  pthread_create(&t, 0, interrupter, 0);
  t0 = nowMs();
  rc = run(zSql);
  printf("ended within 5 s: %d\n", nowMs() - t0 < 5000);
  pthread_join(t, 0);
  backend(0);
  return rc;
}

int main(int argc, char **argv) {
  char *zErr = 0, *zSql;
  if (argc != 3) {
    fprintf(stderr, "usage: 60-pg-interrupt EXTENSION CONNINFO\n");
    return 1;
  }
  setvbuf(stdout, 0, _IOLBF, 0);
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) return 1;
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, (int *)0);
  if (sqlite3_load_extension(db, argv[1], "sqlite3_statevtab_init", &zErr)) {
    fprintf(stderr, "60-pg-interrupt: %s\n", zErr ? zErr : "cannot load");
    return 1;
  }
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING state_kv(store=%Q, "
                         "schema='statevtab_stall', command_timeout=60000)",
                         argv[2]);
  run(zSql);
  sqlite3_free(zSql);
  run("SELECT count(*) FROM t");

  printf("-- a read in autocommit mode: SQLITE_INTERRUPT long before the "
         "60 s timeout; the next statement reconnects\n");
  runInterrupted("SELECT count(*) FROM t");
  run("SELECT count(*) FROM t");

  printf("-- a read inside a transaction: SQLITE_INTERRUPT leaves the "
         "transaction open in SQLite, but its writes went with the "
         "connection: COMMIT fails and rolls back, and nothing was written\n");
  run("BEGIN");
  run("INSERT INTO t(scope, key, value) VALUES ('i', 'k', '1')");
  runInterrupted("SELECT count(*) FROM t");
  printf("in a transaction: %d\n", !sqlite3_get_autocommit(db));
  run("COMMIT");
  printf("in a transaction: %d\n", !sqlite3_get_autocommit(db));
  run("SELECT count(*) FROM t");

  printf("-- the same, but another statement instead of COMMIT: it fails "
         "and the transaction is rolled back\n");
  run("BEGIN");
  run("INSERT INTO t(scope, key, value) VALUES ('i', 'k', '1')");
  runInterrupted("SELECT count(*) FROM t");
  run("INSERT INTO t(scope, key, value) VALUES ('i', 'k2', '2')");
  printf("in a transaction: %d\n", !sqlite3_get_autocommit(db));
  run("SELECT count(*) FROM t");

  sqlite3_close(db);
  return 0;
}
