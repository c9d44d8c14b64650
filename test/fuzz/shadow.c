/*
** 2026-12-03
**
** shadow.c -- fuzz target: corrupted shadow tables of the local store.
** Tables of every kind get a few rows, then the input rewrites cells of
** their shadow tables (and the sqlite_schema-free bookkeeping tables the
** store keeps) with arbitrary values, inserts and deletes shadow rows, and
** the extension must then read, claim, complete, evaluate flags and write
** without crashing: a clear error is fine.  Input: up to 16 corruptions
** (table byte, column byte, row byte, typed value), then the same battery
** of statements.
*/
#include "fuzz.h"

static const char zSetup[] =
    "CREATE VIRTUAL TABLE tasks USING state_tasks();"
    "CREATE VIRTUAL TABLE kv USING state_kv();"
    "CREATE VIRTUAL TABLE flags USING state_flags();"
    "CREATE VIRTUAL TABLE leases USING state_leases();"
    "CREATE VIRTUAL TABLE counters USING state_counters();"
    "CREATE VIRTUAL TABLE execs USING state_executions();"
    "CREATE VIRTUAL TABLE signals USING state_signals();"
    "CREATE VIRTUAL TABLE dead USING state_dead_letters();"
    "INSERT INTO tasks(id, queue, name, tags) VALUES ('a', 'q', 'n', '[1]'),"
    " ('b', 'q', 'n', NULL), ('c', 'r', 'm', NULL);"
    "INSERT INTO tasks(id, queue, name, depends_on) VALUES"
    " ('d', 'q', 'n', '[\"a\"]');"
    "SELECT * FROM state_claim('tasks', 'q', 'w', 30000, 1);"
    "INSERT INTO kv(scope, key, value, expires_at) VALUES ('s', 'k', 'v', "
    " NULL), ('s', 'e', 'x', 1800000000000);"
    "INSERT INTO flags(name, enabled, strategies, variants) VALUES ('f', 1,"
    " '[{\"name\":\"flexibleRollout\",\"parameters\":{\"rollout\":\"50\","
    "\"stickiness\":\"userId\"}}]', '[{\"name\":\"a\",\"weight\":1000}]');"
    "SELECT state_lease('leases', 'l', 'o', 30000);"
    "SELECT state_incr('counters', 's', 'n', 5);"
    "INSERT INTO execs(id, name) VALUES ('e', 'wf');"
    "SELECT state_signal('signals', 'e', 'go', '{}');";

static const char zBattery[] =
    "SELECT * FROM tasks;"
    "SELECT * FROM tasks WHERE id = 'a';"
    "SELECT * FROM tasks WHERE queue = 'q' AND state = 'pending';"
    "SELECT * FROM state_claim('tasks', 'q', 'w2', 30000, 5);"
    "SELECT * FROM state_claim('tasks', '[\"q\",\"r\"]', 'w3', 30000, 5,"
    " '{\"tags\":[1]}');"
    "SELECT state_complete('tasks', 'a', 1, '{}');"
    "SELECT state_fail('tasks', 'b', 1, 'x', 0);"
    "SELECT state_renew('tasks', 'a', 2, 1000);"
    "SELECT * FROM state_metrics('tasks');"
    "UPDATE tasks SET state = 'cancelled' WHERE id = 'c';"
    "DELETE FROM tasks WHERE id = 'd';"
    "INSERT INTO tasks(queue, name) VALUES ('q', 'new');"
    "SELECT * FROM kv; SELECT * FROM kv WHERE scope = 's' AND key = 'k';"
    "UPDATE kv SET value = 'w' WHERE key = 'k';"
    "SELECT state_flag('flags', 'f', '{\"userId\":\"7\"}');"
    "SELECT state_variant('flags', 'f', '{\"userId\":\"7\"}');"
    "SELECT * FROM flags;"
    "SELECT state_lease('leases', 'l', 'p', 30000);"
    "SELECT state_release('leases', 'l', 'o');"
    "SELECT * FROM leases;"
    "SELECT state_incr('counters', 's', 'n', 1); SELECT * FROM counters;"
    "SELECT * FROM execs; UPDATE execs SET state = 'running';"
    "SELECT state_take('signals', 'e', 'go'); SELECT * FROM signals;"
    "SELECT * FROM dead; SELECT state_redrive('dead', 'tasks');"
    "SELECT statevtab_debug('tasks');";

/* The shadow tables: every ordinary table the virtual tables made. */
static int shadowTables(sqlite3 *db, char azName[][64], int nMax) {
  sqlite3_stmt *pStmt = 0;
  int n = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT name FROM sqlite_schema WHERE type = 'table'"
                         " AND sql NOT LIKE 'CREATE VIRTUAL%' ORDER BY name",
                         -1, &pStmt, 0) != SQLITE_OK) {
    return 0;
  }
  while (n < nMax && sqlite3_step(pStmt) == SQLITE_ROW) {
    snprintf(azName[n++], 64, "%s",
             (const char *)sqlite3_column_text(pStmt, 0));
  }
  sqlite3_finalize(pStmt);
  return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FzIn in = {data, size};
  sqlite3 *db;
  char azTab[64][64];
  int nTab, i;
  if (size > 4096) return 0;
  db = fzOpen();
  fzExec(db, zSetup);
  nTab = shadowTables(db, azTab, 64);
  for (i = 0; i < 16 && in.n > 0 && nTab > 0; i++) {
    const char *zTab = azTab[fzByte(&in) % nTab];
    unsigned iCol = fzByte(&in), iRow = fzByte(&in) % 6, op = fzByte(&in) % 8;
    char *zSql = 0, *zCol = 0;
    sqlite3_stmt *pInfo = 0;
    /* the column: the iCol-th of the table, modulo its width */
    char *zInfo = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q) "
                                  "LIMIT 1 OFFSET %u %% max(1, (SELECT count(*)"
                                  " FROM pragma_table_info(%Q)))",
                                  zTab, iCol, zTab);
    if (zInfo && sqlite3_prepare_v2(db, zInfo, -1, &pInfo, 0) == SQLITE_OK &&
        sqlite3_step(pInfo) == SQLITE_ROW) {
      zCol = sqlite3_mprintf("%s", sqlite3_column_text(pInfo, 0));
    }
    sqlite3_finalize(pInfo);
    sqlite3_free(zInfo);
    if (!zCol) continue;
    if (op == 6) {
      zSql = sqlite3_mprintf("DELETE FROM \"%w\" WHERE rowid = %u", zTab, iRow);
    } else if (op == 7) {
      zSql =
          sqlite3_mprintf("INSERT INTO \"%w\"(\"%w\") VALUES (?)", zTab, zCol);
    } else {
      zSql = sqlite3_mprintf("UPDATE \"%w\" SET \"%w\" = ? WHERE rowid = %u "
                             "OR %u = 0",
                             zTab, zCol, iRow, iRow);
    }
    if (zSql) fzRun(db, &in, zSql);
    sqlite3_free(zSql);
    sqlite3_free(zCol);
  }
  fzExec(db, zBattery);
  sqlite3_close(db);
  return 0;
}
