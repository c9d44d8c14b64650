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
#define ANY STATEVTAB_ANY

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
#define RET STATEVTAB_COL_RETAIN

static const char *const azExecState[] = {"pending", "running",   "completed",
                                          "failed",  "cancelled", 0};
static const char *const azTaskState[] = {"pending", "claimed", "completed",
                                          "failed",  "dead",    "cancelled",
                                          "waiting", 0};

/* {zName, eType, flags, zDefault, azEnum, iMin, iMax} */
static const statevtab_column aExecutions[] = {
    [SV_EXEC_ID] = {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    [SV_EXEC_NAME] = {"name", TXT, NN, 0, 0, 0, 0},
    [SV_EXEC_STATE] = {"state", TXT, NN | IDX | STA, "pending", azExecState, 0,
                       0},
    [SV_EXEC_INPUT] = {"input", JSN, 0, 0, 0, 0, 0},
    [SV_EXEC_OUTPUT] = {"output", JSN, 0, 0, 0, 0, 0},
    [SV_EXEC_ERROR] = {"error", TXT, 0, 0, 0, 0, 0},
    [SV_EXEC_PARENT_ID] = {"parent_id", TXT, IDX, 0, 0, 0, 0},
    [SV_EXEC_TAGS] = {"tags", JSN, NN, "[]", 0, 0, 0},
    [SV_EXEC_PROGRESS] = {"progress", JSN, NN, "[]", 0, 0, 0},
    [SV_EXEC_CREATED_AT] = {"created_at", INT, NN | CRT | IDX, 0, 0, 0, 0},
    [SV_EXEC_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
    [SV_EXEC_STARTED_AT] = {"started_at", INT, BEG, 0, 0, 0, 0},
    [SV_EXEC_COMPLETED_AT] = {"completed_at", INT, FIN | IDX | RET, 0, 0, 0, 0},
};

static const statevtab_column aTasks[] = {
    [SV_TASK_ID] = {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    [SV_TASK_EXECUTION_ID] = {"execution_id", TXT, IDX, 0, 0, 0, 0},
    [SV_TASK_QUEUE] = {"queue", TXT, NN | IDX, "default", 0, 0, 0},
    [SV_TASK_NAME] = {"name", TXT, NN, 0, 0, 0, 0},
    [SV_TASK_PAYLOAD] = {"payload", JSN, 0, 0, 0, 0, 0},
    [SV_TASK_STATE] = {"state", TXT, NN | OPT | STA, "pending", azTaskState, 0,
                       0},
    [SV_TASK_PRIORITY] = {"priority", INT, NN, "0", 0, 0, 0},
    [SV_TASK_RUN_AT] = {"run_at", INT, NN | CRT | OPT, 0, 0, 0, 0},
    [SV_TASK_ATTEMPTS] = {"attempts", INT, NN, "0", 0, 0, 0},
    [SV_TASK_MAX_ATTEMPTS] = {"max_attempts", INT, NN, "3", 0, 1, 1000000},
    [SV_TASK_LEASE_OWNER] = {"lease_owner", TXT, 0, 0, 0, 0, 0},
    [SV_TASK_LEASE_TOKEN] = {"lease_token", INT, 0, 0, 0, 0, 0},
    [SV_TASK_LEASE_EXPIRES_AT] = {"lease_expires_at", INT, TIM | IDX, 0, 0, 0,
                                  0},
    [SV_TASK_TAGS] = {"tags", JSN, NN, "[]", 0, 0, 0},
    [SV_TASK_IDEMPOTENCY_KEY] = {"idempotency_key", TXT, OPT, 0, 0, 0, 0},
    [SV_TASK_RESULT] = {"result", JSN, 0, 0, 0, 0, 0},
    [SV_TASK_ERROR] = {"error", TXT, 0, 0, 0, 0, 0},
    [SV_TASK_CREATED_AT] = {"created_at", INT, NN | CRT | OPT, 0, 0, 0, 0},
    [SV_TASK_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
    [SV_TASK_COMPLETED_AT] = {"completed_at", INT, FIN | OPT | RET, 0, 0, 0, 0},
    [SV_TASK_PARTITION_KEY] = {"partition_key", TXT, 0, 0, 0, 0, 0},
    [SV_TASK_DEPENDS_ON] = {"depends_on", JSN, 0, 0, 0, 0, 0},
};

static const statevtab_column aSignals[] = {
    [SV_SIGNAL_ID] = {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    [SV_SIGNAL_EXECUTION_ID] = {"execution_id", TXT, NN | IDX, 0, 0, 0, 0},
    [SV_SIGNAL_NAME] = {"name", TXT, NN, 0, 0, 0, 0},
    [SV_SIGNAL_PAYLOAD] = {"payload", JSN, 0, 0, 0, 0, 0},
    [SV_SIGNAL_CREATED_AT] = {"created_at", INT, NN | CRT | IDX, 0, 0, 0, 0},
    [SV_SIGNAL_CONSUMED_AT] = {"consumed_at", INT, TIM | IDX | RET, 0, 0, 0, 0},
};

static const statevtab_column aDeadLetters[] = {
    [SV_DEAD_ID] = {"id", TXT, KEY | NN | AUTO, 0, 0, 0, 0},
    [SV_DEAD_TASK_ID] = {"task_id", TXT, NN | IDX, 0, 0, 0, 0},
    [SV_DEAD_QUEUE] = {"queue", TXT, NN | IDX, "default", 0, 0, 0},
    [SV_DEAD_NAME] = {"name", TXT, NN, 0, 0, 0, 0},
    [SV_DEAD_PAYLOAD] = {"payload", JSN, 0, 0, 0, 0, 0},
    [SV_DEAD_ATTEMPTS] = {"attempts", INT, NN, "0", 0, 0, 0},
    [SV_DEAD_REASON] = {"reason", TXT, 0, 0, 0, 0, 0},
    [SV_DEAD_TASK] = {"task", JSN, 0, 0, 0, 0, 0},
    [SV_DEAD_DIED_AT] = {"died_at", INT, NN | CRT | IDX | RET, 0, 0, 0, 0},
};

static const statevtab_column aCounters[] = {
    [SV_COUNTER_SCOPE] = {"scope", TXT, KEY | NN | IDX, "", 0, 0, 0},
    [SV_COUNTER_NAME] = {"name", TXT, KEY | NN, 0, 0, 0, 0},
    [SV_COUNTER_VALUE] = {"value", NUM, NN, "0", 0, 0, 0},
    [SV_COUNTER_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aFlags[] = {
    [SV_FLAG_NAME] = {"name", TXT, KEY | NN, 0, 0, 0, 0},
    [SV_FLAG_ENABLED] = {"enabled", BOOL, NN, "0", 0, 0, 0},
    [SV_FLAG_DESCRIPTION] = {"description", TXT, 0, 0, 0, 0, 0},
    [SV_FLAG_ROLLOUT] = {"rollout", INT, 0, 0, 0, 0, 100},
    [SV_FLAG_STRATEGIES] = {"strategies", JSN, NN, "[]", 0, 0, 0},
    [SV_FLAG_VARIANTS] = {"variants", JSN, NN, "[]", 0, 0, 0},
    [SV_FLAG_DEPENDENCIES] = {"dependencies", JSN, NN, "[]", 0, 0, 0},
    [SV_FLAG_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

/* Unleash's segments: reusable constraint lists that strategies name by id
** ("segments": [1, 2]); ids are Unleash's integers, so they are given. */
static const statevtab_column aSegments[] = {
    [SV_SEG_ID] = {"id", INT, KEY | NN, 0, 0, 0, 0},
    [SV_SEG_NAME] = {"name", TXT, 0, 0, 0, 0, 0},
    [SV_SEG_CONSTRAINTS] = {"constraints", JSN, NN, "[]", 0, 0, 0},
    [SV_SEG_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aKv[] = {
    [SV_KV_SCOPE] = {"scope", TXT, KEY | NN | IDX, "", 0, 0, 0},
    [SV_KV_KEY] = {"key", TXT, KEY | NN, 0, 0, 0, 0},
    [SV_KV_VALUE] = {"value", ANY, 0, 0, 0, 0, 0},
    [SV_KV_VERSION] = {"version", INT, NN | VER, 0, 0, 0, 0},
    [SV_KV_EXPIRES_AT] = {"expires_at", INT, EXP | IDX, 0, 0, 0, 0},
    [SV_KV_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

static const statevtab_column aLeases[] = {
    [SV_LEASE_NAME] = {"name", TXT, KEY | NN, 0, 0, 0, 0},
    [SV_LEASE_OWNER] = {"owner", TXT, NN, 0, 0, 0, 0},
    [SV_LEASE_TOKEN] = {"token", INT, NN, "0", 0, 0, 0},
    [SV_LEASE_DEPTH] = {"depth", INT, NN, "1", 0, 0, 0},
    [SV_LEASE_EXPIRES_AT] = {"expires_at", INT, NN | TIM | IDX, 0, 0, 0, 0},
    [SV_LEASE_ACQUIRED_AT] = {"acquired_at", INT, NN | CRT, 0, 0, 0, 0},
};

static const statevtab_column aSchedules[] = {
    [SV_SCHED_NAME] = {"name", TXT, KEY | NN, 0, 0, 0, 0},
    [SV_SCHED_CRON] = {"cron", TXT, NN, 0, 0, 0, 0},
    [SV_SCHED_TIMEZONE] = {"timezone", TXT, NN, "UTC", 0, 0, 0},
    [SV_SCHED_QUEUE] = {"queue", TXT, NN, "default", 0, 0, 0},
    [SV_SCHED_TASK] = {"task", TXT, NN, 0, 0, 0, 0},
    [SV_SCHED_PAYLOAD] = {"payload", JSN, 0, 0, 0, 0, 0},
    [SV_SCHED_PRIORITY] = {"priority", INT, NN, "0", 0, 0, 0},
    [SV_SCHED_MAX_ATTEMPTS] = {"max_attempts", INT, NN, "3", 0, 1, 1000000},
    [SV_SCHED_TAGS] = {"tags", JSN, NN, "[]", 0, 0, 0},
    [SV_SCHED_ENABLED] = {"enabled", BOOL, NN, "1", 0, 0, 0},
    [SV_SCHED_LAST_RUN] = {"last_run", INT, TIM, 0, 0, 0, 0},
    [SV_SCHED_NEXT_RUN] = {"next_run", INT, TIM | IDX, 0, 0, 0, 0},
    [SV_SCHED_CREATED_AT] = {"created_at", INT, NN | CRT, 0, 0, 0, 0},
    [SV_SCHED_UPDATED_AT] = {"updated_at", INT, NN | UPD, 0, 0, 0, 0},
};

#define N(a) (int)(sizeof(a) / sizeof(a[0]))

/* Each array has exactly its SV_*_NCOL columns (svint.h). */
typedef char sv_check_executions[N(aExecutions) == SV_EXEC_NCOL ? 1 : -1];
typedef char sv_check_tasks[N(aTasks) == SV_TASK_NCOL ? 1 : -1];
typedef char sv_check_signals[N(aSignals) == SV_SIGNAL_NCOL ? 1 : -1];
typedef char sv_check_deadletters[N(aDeadLetters) == SV_DEAD_NCOL ? 1 : -1];
typedef char sv_check_counters[N(aCounters) == SV_COUNTER_NCOL ? 1 : -1];
typedef char sv_check_flags[N(aFlags) == SV_FLAG_NCOL ? 1 : -1];
typedef char sv_check_segments[N(aSegments) == SV_SEG_NCOL ? 1 : -1];
typedef char sv_check_kv[N(aKv) == SV_KV_NCOL ? 1 : -1];
typedef char sv_check_leases[N(aLeases) == SV_LEASE_NCOL ? 1 : -1];
typedef char sv_check_schedules[N(aSchedules) == SV_SCHED_NCOL ? 1 : -1];
static const statevtab_entity eExecutions = {"executions",
                                             "state_executions",
                                             N(aExecutions),
                                             aExecutions,
                                             1,
                                             {0, 0},
                                             -1,
                                             -1};
static const statevtab_entity eTasks = {
    "tasks",         "state_tasks",           N(aTasks),    aTasks, 1,
    {SV_TASK_ID, 0}, SV_TASK_IDEMPOTENCY_KEY, SV_TASK_QUEUE};
static const statevtab_entity eSignals = {
    "signals", "state_signals", N(aSignals), aSignals, 1, {0, 0}, -1, -1};
static const statevtab_entity eDeadLetters = {"dead_letters",
                                              "state_dead_letters",
                                              N(aDeadLetters),
                                              aDeadLetters,
                                              1,
                                              {0, 0},
                                              -1,
                                              -1};
static const statevtab_entity eCounters = {
    "counters", "state_counters", N(aCounters), aCounters, 2, {0, 1}, -1, -1};
static const statevtab_entity eFlags = {
    "flags", "state_flags", N(aFlags), aFlags, 1, {0, 0}, -1, -1};
static const statevtab_entity eSegments = {
    "segments", "state_segments", N(aSegments), aSegments, 1, {0, 0}, -1, -1};
static const statevtab_entity eKv = {"kv", "state_kv", N(aKv), aKv,
                                     2,    {0, 1},     -1,     -1};
static const statevtab_entity eLeases = {
    "leases", "state_leases", N(aLeases), aLeases, 1, {0, 0}, -1, -1};
static const statevtab_entity eSchedules = {
    "schedules", "state_schedules", N(aSchedules), aSchedules, 1, {0, 0}, -1,
    -1};

const statevtab_entity *const sv_aEntity[] = {
    &eExecutions, &eTasks, &eSignals, &eDeadLetters, &eCounters,
    &eFlags,      &eKv,    &eLeases,  &eSchedules,   &eSegments,
};
const int sv_nEntity = N(sv_aEntity);
const statevtab_entity *const sv_entity_tasks = &eTasks;
const statevtab_entity *const sv_entity_schedules = &eSchedules;
const statevtab_entity *const sv_entity_segments = &eSegments;

/* The first column of e with flag (STATEVTAB_COL_*), or -1. */
int sv_entity_col(const statevtab_entity *e, unsigned flag) {
  int i;
  for (i = 0; i < e->nCol; i++) {
    if (e->aCol[i].flags & flag) return i;
  }
  return -1;
}

/*
** The SQL condition of retain= (xPurge) on entity e's rows, zCut standing
** for the cut-off: '"<retention column>" < <zCut>', and for an entity with a
** state ' AND ("<state>" IN (<final states>)) IS TRUE' (sqlite3_malloc'd, NULL
*on
** OOM).
*/
char *sv_retain_where(const statevtab_entity *e, const char *zCut) {
  int iCol = sv_entity_col(e, STATEVTAB_COL_RETAIN);
  int iState = sv_entity_col(e, STATEVTAB_COL_STATE);
  if (iState < 0)
    return sqlite3_mprintf("\"%w\" < %s", e->aCol[iCol].zName, zCut);
  /* "(... IN ...) IS TRUE": no index condition, so that the removal walks
  ** the retention column's index (bounded by the cut-off), never the
  ** state's (all the finished rows, new ones too). */
  return sqlite3_mprintf("\"%w\" < %s AND (\"%w\" IN (%s)) IS TRUE",
                         e->aCol[iCol].zName, zCut, e->aCol[iState].zName,
                         SV_FINAL_STATES_SQL);
}

const statevtab_entity *sv_entity_by_module(const char *zModule) {
  int i;
  for (i = 0; i < sv_nEntity; i++) {
    if (strcmp(sv_aEntity[i]->zModule, zModule) == 0) return sv_aEntity[i];
  }
  return 0;
}
