/*
** 2026-12-03
**
** values.c -- fuzz target: any SQLite value through INSERT, UPDATE, DELETE
** and SELECT on every kind of table of the local store, with constraints
** SQLite pushes down (=, <, <=, >, >=, IS, IN, !=, LIKE, GLOB, IS NULL),
** ORDER BY and LIMIT.  Input: up to 32 operations: an opcode byte, a table
** byte, column bytes and typed values.
*/
#include "fuzz.h"

typedef struct FzTable {
  const char *zName;
  const char *zModule;
  const char *const *azCol;
  int nCol;
} FzTable;

#define N(a) ((int)(sizeof(a) / sizeof(a[0])))
static const char *const aTasks[] = {"id",
                                     "execution_id",
                                     "queue",
                                     "name",
                                     "payload",
                                     "state",
                                     "priority",
                                     "run_at",
                                     "attempts",
                                     "max_attempts",
                                     "lease_owner",
                                     "lease_token",
                                     "lease_expires_at",
                                     "tags",
                                     "idempotency_key",
                                     "result",
                                     "error",
                                     "created_at",
                                     "updated_at",
                                     "completed_at",
                                     "partition_key",
                                     "depends_on",
                                     "rowid"};
static const char *const aKv[] = {
    "scope", "key", "value", "version", "expires_at", "updated_at", "rowid"};
static const char *const aCounters[] = {"scope", "name", "value", "updated_at"};
static const char *const aExec[] = {
    "id",         "name",       "state",       "input",    "output",
    "error",      "parent_id",  "tags",        "progress", "created_at",
    "updated_at", "started_at", "completed_at"};
static const char *const aLeases[] = {"name",  "owner",      "token",
                                      "depth", "expires_at", "acquired_at"};
static const char *const aSignals[] = {
    "id", "execution_id", "name", "payload", "created_at", "consumed_at"};
static const char *const aSched[] = {
    "name",     "cron",         "timezone", "queue",   "task",     "payload",
    "priority", "max_attempts", "tags",     "enabled", "last_run", "next_run"};
static const FzTable aTab[] = {
    {"tasks", "state_tasks(indexes='completed_at,name')", aTasks, N(aTasks)},
    {"kv", "state_kv()", aKv, N(aKv)},
    {"counters", "state_counters()", aCounters, N(aCounters)},
    {"execs", "state_executions()", aExec, N(aExec)},
    {"leases", "state_leases()", aLeases, N(aLeases)},
    {"signals", "state_signals()", aSignals, N(aSignals)},
    {"scheds", "state_schedules()", aSched, N(aSched)},
};
static const char *const azCmp[] = {
    "=", "<", "<=", ">", ">=", "IS", "!=", "LIKE", "GLOB", "IS NOT"};

static const char *col(FzIn *in, const FzTable *t) {
  return t->azCol[fzByte(in) % t->nCol];
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FzIn in = {data, size};
  sqlite3 *db;
  int i;
  if (size > 4096) return 0;
  db = fzOpen();
  for (i = 0; i < N(aTab); i++) {
    char *z = sqlite3_mprintf("CREATE VIRTUAL TABLE %s USING %s", aTab[i].zName,
                              aTab[i].zModule);
    fzExec(db, z);
    sqlite3_free(z);
  }
  fzExec(db, "INSERT INTO tasks(id, queue, name) VALUES ('a', 'q', 'n');"
             "INSERT INTO kv(scope, key, value) VALUES ('s', 'k', 'v');");
  for (i = 0; i < 32 && in.n > 0; i++) {
    unsigned op = fzByte(&in) % 8;
    const FzTable *t = &aTab[fzByte(&in) % N(aTab)];
    const char *c1 = col(&in, t), *c2 = col(&in, t), *c3 = col(&in, t);
    const char *zCmp = azCmp[fzByte(&in) % N(azCmp)];
    char *zSql = 0;
    switch (op) {
    case 0:
    case 1:
      zSql = sqlite3_mprintf("INSERT OR %s INTO %s(%s, %s) VALUES (?, ?)",
                             op ? "REPLACE" : "IGNORE", t->zName, c1, c2);
      if (strcmp(c1, c2) == 0) {
        sqlite3_free(zSql);
        zSql = sqlite3_mprintf("INSERT INTO %s(%s) VALUES (?)", t->zName, c1);
      }
      break;
    case 2:
      zSql = sqlite3_mprintf("UPDATE %s SET %s = ? WHERE %s %s ?", t->zName, c1,
                             c2, zCmp);
      break;
    case 3:
      zSql =
          sqlite3_mprintf("DELETE FROM %s WHERE %s %s ?", t->zName, c1, zCmp);
      break;
    case 4:
      zSql = sqlite3_mprintf("SELECT * FROM %s WHERE %s %s ? AND %s %s ? "
                             "ORDER BY %s DESC LIMIT ?",
                             t->zName, c1, zCmp, c2,
                             azCmp[fzByte(&in) % N(azCmp)], c3);
      break;
    case 5:
      zSql = sqlite3_mprintf("SELECT %s, count(*) FROM %s WHERE %s IN "
                             "(?, ?, ?) OR %s IS NULL GROUP BY 1",
                             c1, t->zName, c2, c3);
      break;
    case 6:
      zSql = sqlite3_mprintf("SELECT * FROM %s WHERE %s BETWEEN ? AND ? "
                             "ORDER BY %s LIMIT ? OFFSET ?",
                             t->zName, c1, c2);
      break;
    default:
      zSql = sqlite3_mprintf("SELECT * FROM %s WHERE %s %s ? ORDER BY %s",
                             t->zName, c1, zCmp, c2);
      break;
    }
    if (zSql) fzRun(db, &in, zSql);
    sqlite3_free(zSql);
  }
  sqlite3_close(db);
  return 0;
}
