/*
** 2026-11-22
**
** entities.c -- one descriptor per kind of state.  The generic virtual table
** (vtab.c) and every store are driven by these tables; adding a column is a
** one-line change here.
*/
#include "svint.h"

#define INT STATEVTAB_INT
#define NUM STATEVTAB_NUM
#define TXT STATEVTAB_TEXT
#define JSN STATEVTAB_JSON
#define BOOL STATEVTAB_BOOL

#define KEY STATEVTAB_COL_KEY
#define IDX STATEVTAB_COL_INDEXED
#define OPT (STATEVTAB_COL_INDEXED | STATEVTAB_COL_OPTIDX)
#define NN STATEVTAB_COL_NOTNULL
#define AUTO STATEVTAB_COL_AUTOID
#define CRT (STATEVTAB_COL_CREATED | STATEVTAB_COL_TIME)
#define UPD (STATEVTAB_COL_UPDATED | STATEVTAB_COL_TIME)
#define VER STATEVTAB_COL_VERSION
#define EXP (STATEVTAB_COL_EXPIRES | STATEVTAB_COL_TIME)
#define TIM STATEVTAB_COL_TIME
#define STA STATEVTAB_COL_STATE
#define BEG (STATEVTAB_COL_STARTED | STATEVTAB_COL_TIME)
#define FIN (STATEVTAB_COL_FINISHED | STATEVTAB_COL_TIME)

static const char *const azExecState[] = {"pending",   "running", "completed",
                                          "failed",    "cancelled", 0};
static const char *const azTaskState[] = {"pending", "claimed", "completed",
                                          "failed",  "dead",    "cancelled", 0};

/* {zName, eType, flags, zDefault, azEnum, iMin, iMax} */
static const statevtab_column aExecutions[] = {
    {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    {"name", TXT, NN, 0, 0, 0, 0},
    {"state", TXT, NN | IDX | STA, "pending", azExecState, 0, 0},
    {"input", JSN, 0, 0, 0, 0, 0},
    {"output", JSN, 0, 0, 0, 0, 0},
    {"error", TXT, 0, 0, 0, 0, 0},
    {"parent_id", TXT, IDX, 0, 0, 0, 0},
    {"tags", JSN, NN, "[]", 0, 0, 0},
    {"progress", JSN, NN, "[]", 0, 0, 0},
    {"created_at", INT, NN | CRT | IDX, 0, 0, 0, 0},
    {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
    {"started_at", INT, BEG, 0, 0, 0, 0},
    {"completed_at", INT, FIN | IDX, 0, 0, 0, 0},
};

static const statevtab_column aTasks[] = {
    {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    {"execution_id", TXT, IDX, 0, 0, 0, 0},
    {"queue", TXT, NN | IDX, "default", 0, 0, 0},
    {"name", TXT, NN, 0, 0, 0, 0},
    {"payload", JSN, 0, 0, 0, 0, 0},
    {"state", TXT, NN | OPT | STA, "pending", azTaskState, 0, 0},
    {"priority", INT, NN, "0", 0, 0, 0},
    {"run_at", INT, NN | CRT | OPT, 0, 0, 0, 0},
    {"attempts", INT, NN, "0", 0, 0, 0},
    {"max_attempts", INT, NN, "3", 0, 1, 1000000},
    {"lease_owner", TXT, 0, 0, 0, 0, 0},
    {"lease_token", INT, 0, 0, 0, 0, 0},
    {"lease_expires_at", INT, TIM | IDX, 0, 0, 0, 0},
    {"tags", JSN, NN, "[]", 0, 0, 0},
    {"idempotency_key", TXT, OPT, 0, 0, 0, 0},
    {"result", JSN, 0, 0, 0, 0, 0},
    {"error", TXT, 0, 0, 0, 0, 0},
    {"created_at", INT, NN | CRT | OPT, 0, 0, 0, 0},
    {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
    {"completed_at", INT, FIN | OPT, 0, 0, 0, 0},
};

static const statevtab_column aSignals[] = {
    {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    {"execution_id", TXT, NN | IDX, 0, 0, 0, 0},
    {"name", TXT, NN, 0, 0, 0, 0},
    {"payload", JSN, 0, 0, 0, 0, 0},
    {"created_at", INT, NN | CRT | IDX, 0, 0, 0, 0},
    {"consumed_at", INT, TIM | IDX, 0, 0, 0, 0},
};

static const statevtab_column aDeadLetters[] = {
    {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    {"task_id", TXT, NN | IDX, 0, 0, 0, 0},
    {"queue", TXT, NN | IDX, "default", 0, 0, 0},
    {"name", TXT, NN, 0, 0, 0, 0},
    {"payload", JSN, 0, 0, 0, 0, 0},
    {"attempts", INT, NN, "0", 0, 0, 0},
    {"reason", TXT, 0, 0, 0, 0, 0},
    {"task", JSN, 0, 0, 0, 0, 0},
    {"died_at", INT, NN | CRT | IDX, 0, 0, 0, 0},
};

static const statevtab_column aCounters[] = {
    {"scope", TXT, KEY | NN | IDX, "", 0, 0, 0},
    {"name", TXT, KEY | NN, 0, 0, 0, 0},
    {"value", NUM, NN, "0", 0, 0, 0},
    {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aFlags[] = {
    {"name", TXT, KEY | NN, 0, 0, 0, 0},
    {"enabled", BOOL, NN, "0", 0, 0, 0},
    {"description", TXT, 0, 0, 0, 0, 0},
    {"rollout", INT, 0, 0, 0, 0, 100},
    {"strategies", JSN, NN, "[]", 0, 0, 0},
    {"variants", JSN, NN, "[]", 0, 0, 0},
    {"dependencies", JSN, NN, "[]", 0, 0, 0},
    {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aKv[] = {
    {"scope", TXT, KEY | NN | IDX, "", 0, 0, 0},
    {"key", TXT, KEY | NN, 0, 0, 0, 0},
    {"value", JSN, 0, 0, 0, 0, 0},
    {"version", INT, NN | VER, 0, 0, 0, 0},
    {"expires_at", INT, EXP | IDX, 0, 0, 0, 0},
    {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aLeases[] = {
    {"name", TXT, KEY | NN, 0, 0, 0, 0},
    {"owner", TXT, NN, 0, 0, 0, 0},
    {"token", INT, NN, "0", 0, 0, 0},
    {"depth", INT, NN, "1", 0, 0, 0},
    {"expires_at", INT, NN | TIM | IDX, 0, 0, 0, 0},
    {"acquired_at", INT, NN | CRT, 0, 0, 0, 0},
};

#define N(a) (int)(sizeof(a) / sizeof(a[0]))
static const statevtab_entity eExecutions = {
    "executions", "state_executions", N(aExecutions), aExecutions, 1, {0, 0}, -1, -1};
static const statevtab_entity eTasks = {"tasks", "state_tasks", N(aTasks),
                                        aTasks, 1, {0, 0}, 14, 2};
static const statevtab_entity eSignals = {"signals", "state_signals",
                                          N(aSignals), aSignals, 1, {0, 0}, -1, -1};
static const statevtab_entity eDeadLetters = {
    "dead_letters", "state_dead_letters", N(aDeadLetters), aDeadLetters, 1,
    {0, 0}, -1, -1};
static const statevtab_entity eCounters = {"counters", "state_counters",
                                           N(aCounters), aCounters, 2, {0, 1}, -1, -1};
static const statevtab_entity eFlags = {"flags", "state_flags", N(aFlags),
                                        aFlags, 1, {0, 0}, -1, -1};
static const statevtab_entity eKv = {"kv", "state_kv", N(aKv), aKv, 2, {0, 1}, -1, -1};
static const statevtab_entity eLeases = {"leases", "state_leases", N(aLeases),
                                         aLeases, 1, {0, 0}, -1, -1};

const statevtab_entity *const sv_aEntity[] = {
    &eExecutions, &eTasks, &eSignals, &eDeadLetters,
    &eCounters,   &eFlags, &eKv,      &eLeases,
};
const int sv_nEntity = N(sv_aEntity);

/* The first column of e with flag (STATEVTAB_COL_*), or -1. */
int sv_entity_col(const statevtab_entity *e, unsigned flag) {
  int i;
  for (i = 0; i < e->nCol; i++) {
    if (e->aCol[i].flags & flag) return i;
  }
  return -1;
}

const statevtab_entity *sv_entity_by_module(const char *zModule) {
  int i;
  for (i = 0; i < sv_nEntity; i++) {
    if (strcmp(sv_aEntity[i]->zModule, zModule) == 0) return sv_aEntity[i];
  }
  return 0;
}
