/*
** 2026-12-03
**
** claim.c -- fuzz target: state_claim's arguments and options JSON (tags,
** names, limits, complete lists), with state_complete, state_fail,
** state_renew, state_pause and inserts of tasks with fuzzed values in
** between, on the local store.  Input: up to 24 operations, each an
** opcode byte and its values.
*/
#include "fuzz.h"

static const char *const azOp[] = {
    "SELECT * FROM state_claim('t', ?, ?)",
    "SELECT * FROM state_claim('t', ?, ?, ?)",
    "SELECT * FROM state_claim('t', ?, ?, ?, ?)",
    "SELECT * FROM state_claim('t', ?, ?, ?, ?, ?)",
    "SELECT * FROM state_claim('t', 'q', 'w', 30000, 5, ?)",
    "SELECT * FROM state_claim(?, ?, ?, ?, ?, ?)",
    "SELECT state_complete('t', ?, ?)",
    "SELECT state_complete('t', ?, ?, ?)",
    "SELECT state_complete('t', ?)",
    "SELECT state_fail('t', ?, ?, ?)",
    "SELECT state_fail('t', ?, ?, ?, ?)",
    "SELECT state_renew('t', ?, ?, ?)",
    "SELECT state_pause('t', ?)",
    "SELECT state_resume('t', ?)",
    "INSERT INTO t(id, queue, name, payload, priority, run_at, max_attempts,"
    " tags, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
    "INSERT INTO t(queue, name, depends_on) VALUES ('q', 'd', ?)",
    "SELECT id, lease_token FROM state_claim('t', 'q', 'w', 30000, 3)",
    "UPDATE t SET state = ? WHERE id = ?",
    "SELECT * FROM state_metrics('t')",
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  FzIn in = {data, size};
  sqlite3 *db;
  int i;
  if (size > 4096) return 0;
  db = fzOpen();
  fzExec(db, "CREATE VIRTUAL TABLE t USING state_tasks();"
             "INSERT INTO t(id, queue, name, tags) VALUES"
             " ('a', 'q', 'send', '[\"eu\"]'), ('b', 'q', 'mail', NULL),"
             " ('c', 'r', 'send', '[\"us\"]');"
             "INSERT INTO t(id, queue, name, priority, run_at) VALUES"
             " ('d', 'q', 'late', -5, 1700000005000);");
  for (i = 0; i < 24 && in.n > 0; i++) {
    fzRun(db, &in, azOp[fzByte(&in) % (sizeof(azOp) / sizeof(azOp[0]))]);
  }
  fzExec(db, "SELECT * FROM t; DROP TABLE t");
  sqlite3_close(db);
  return 0;
}
