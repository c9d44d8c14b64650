/*
** 2026-12-03
**
** options.c -- fuzz target: the arguments of CREATE VIRTUAL TABLE (table
** options and store URLs) of every module, then a read, an insert and a
** DROP of the table that resulted.  Input: a module byte, then the
** argument text.  Store URLs reach the stores' own parsers (Redis, libpq)
** and the allowlist; nothing but loopback port 1 is allowed.
*/
#include "fuzz.h"

static const char *const azModule[] = {"state_tasks",     "state_executions",
                                       "state_signals",   "state_dead_letters",
                                       "state_counters",  "state_flags",
                                       "state_kv",        "state_leases",
                                       "state_schedules", "state_segments"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FzIn in = {data, size};
  sqlite3 *db;
  char *zArgs, *zSql;
  const char *zMod;
  if (size < 1 || size > 4096) return 0;
  zMod = azModule[fzByte(&in) % 10];
  db = fzOpen();
  zArgs = fzText(&in, 4096);
  zSql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING %s(%s)", zMod,
                         zArgs ? zArgs : "");
  if (zSql && sqlite3_exec(db, zSql, 0, 0, 0) == SQLITE_OK) {
    fzExec(db, "SELECT * FROM t");
    fzExec(db, "INSERT INTO t DEFAULT VALUES");
    fzRun(db, &in, "INSERT INTO t(rowid) VALUES (?)");
    fzExec(db, "SELECT statevtab_debug('t')");
    fzExec(db, "SELECT count(*) FROM t");
    fzExec(db, "DROP TABLE t");
  }
  sqlite3_free(zSql);
  sqlite3_free(zArgs);
  sqlite3_close(db);
  return 0;
}
