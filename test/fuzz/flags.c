/*
** 2026-12-03
**
** flags.c -- fuzz target: feature flag definitions (strategies, variants,
** dependencies in Unleash's JSON), segment constraints and evaluation
** contexts, through state_flag and state_variant on the local store.
** Input: fields separated by 0xff bytes -- strategies, variants,
** dependencies, segment constraints, context, flag name, then typed values
** for the remaining calls.
*/
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FzIn in = {data, size};
  sqlite3 *db;
  sqlite3_stmt *pStmt = 0;
  char *az[6];
  int i;
  if (size > 8192) return 0;
  db = fzOpen();
  fzExec(db, "CREATE VIRTUAL TABLE segs USING state_segments();"
             "CREATE VIRTUAL TABLE flags USING state_flags(segments='segs');"
             "INSERT INTO flags(name, enabled) VALUES ('parent', 1);");
  for (i = 0; i < 6; i++) az[i] = fzText(&in, 4096);
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO segs(id, name, constraints) "
                         "VALUES (1, 's', ?1)",
                         -1, &pStmt, 0) == SQLITE_OK) {
    sqlite3_bind_text(pStmt, 1, az[3] ? az[3] : "", -1, SQLITE_STATIC);
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  if (sqlite3_prepare_v2(db,
                         "INSERT INTO flags(name, enabled, rollout, "
                         "strategies, variants, dependencies) "
                         "VALUES ('f', 1, 50, ?1, ?2, ?3)",
                         -1, &pStmt, 0) == SQLITE_OK) {
    for (i = 0; i < 3; i++) {
      if (az[i] && az[i][0]) {
        sqlite3_bind_text(pStmt, i + 1, az[i], -1, SQLITE_STATIC);
      }
    }
    sqlite3_step(pStmt);
  }
  sqlite3_finalize(pStmt);
  pStmt = 0;
  if (sqlite3_prepare_v2(db,
                         "SELECT state_flag('flags', 'f', ?1), "
                         "state_variant('flags', 'f', ?1), "
                         "state_flag('flags', ?2, ?1), "
                         "state_variant('flags', ?2), state_flag('flags', "
                         "'f')",
                         -1, &pStmt, 0) == SQLITE_OK) {
    sqlite3_bind_text(pStmt, 1, az[4] ? az[4] : "", -1, SQLITE_STATIC);
    sqlite3_bind_text(pStmt, 2, az[5] ? az[5] : "", -1, SQLITE_STATIC);
    while (sqlite3_step(pStmt) == SQLITE_ROW) {
    }
  }
  sqlite3_finalize(pStmt);
  fzRun(db, &in, "SELECT state_flag('flags', 'f', ?)");
  fzRun(db, &in, "SELECT state_variant('flags', 'f', ?)");
  fzRun(db, &in, "SELECT state_bucket(?, ?, ?, ?)");
  fzRun(db, &in, "UPDATE flags SET strategies = ? WHERE name = 'f'");
  fzExec(db, "SELECT * FROM flags; SELECT * FROM segs");
  for (i = 0; i < 6; i++) sqlite3_free(az[i]);
  sqlite3_close(db);
  return 0;
}
