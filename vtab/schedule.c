/*
** 2026-12-03
**
** schedule.c -- recurring tasks: the rows of a state_schedules table, and
** how they become tasks without a scheduler process.
**
** USAGE
**
**   CREATE VIRTUAL TABLE tasks USING state_tasks;       -- finds 'schedules'
**   CREATE VIRTUAL TABLE schedules USING state_schedules;
**   INSERT INTO schedules(name, cron, task) VALUES ('report', '@daily', 'r');
**   SELECT * FROM state_claim('tasks', 'default', 'w1');  -- fires when due
**
** HOW IT WORKS
**
** A tasks table finds its schedules table as it finds its dead letters:
** the table named by its schedules= option, else a state_schedules table
** named "schedules" in its schema, on the same store.  Each tasks table
** keeps a copy of that table's rows (sv_schedcache), read again when it is
** older than SV_SCHED_RELOAD_MS, when this connection wrote the schedules
** table, or when a firing found the row changed.  Every claim (state_claim
** with n > 0) and every wake-up of state_wait first looks at the copy: a
** schedule whose next_run has come is fired with the store's xFire, one
** atomic step that sets next_run from the value seen to the next one
** (compare-and-set) and inserts the task.  Of several processes that see
** the same due schedule, one wins the compare-and-set; the others do
** nothing.  The task's run_at is the latest occurrence at or before now:
** occurrences missed while no process claimed make one task (catch-up),
** not one each.  Nothing is fired inside an explicit transaction (the
** next claim in autocommit mode, here or elsewhere, does it).
*/
#include "svint.h"

#include <stdarg.h>
#include <stdint.h>

/* One schedule, as last read. */
typedef struct SchedEntry {
  statevtab_value aRow[SV_SCHED_NCOL]; /* strings in the cache's zBuf */
  sv_cron cron;
  int bOk;             /* cron parsed, enabled, next_run set */
  sqlite3_int64 iNext; /* next_run as we believe it */
} SchedEntry;

struct sv_schedcache {
  const sv_vtab *pSched;   /* the table read (identity only, not held) */
  unsigned iSchedGen;      /* its iWriteGen when read */
  unsigned iRegGen;        /* the connection's registry generation then */
  sqlite3_int64 iLoadedAt; /* sv_mono_ms() of the read (0: never) */
  sqlite3_int64 iNoneAt;   /* sv_mono_ms() of "no schedules table" */
  int nEntry;
  SchedEntry *aEntry; /* one allocation with the strings */
};

void sv_sched_free(sv_schedcache *pc) {
  if (pc) {
    sqlite3_free(pc->aEntry);
    sqlite3_free(pc);
  }
}

/* Set the store's error message of table p. */
static int schedError(sv_vtab *p, int rc, const char *zFmt, ...) {
  statevtab_store *s = p->pRef->pStore;
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(s->zErrMsg);
  s->zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return s->zErrMsg ? rc : SQLITE_NOMEM;
}

/*
** The schedules table of tasks table p (held until the caller's
** sv_conn_release), or NULL with *pzErr NULL when it has none, or NULL with
** *pzErr set (schedules= names no such table).
*/
static sv_vtab *findSchedules(sv_vtab *p, sv_schedcache *pc, char **pzErr) {
  const char *zOpt = 0;
  sv_vtab *pS;
  char *zErr = 0;
  int i;
  *pzErr = 0;
  for (i = 0; i < p->nOpt; i++) {
    if (strcmp(p->azOpt[2 * i], "schedules") == 0) zOpt = p->azOpt[2 * i + 1];
  }
  if (zOpt) {
    pS = sv_find_in_schema(p, zOpt, "state_schedules", &zErr);
    if (!pS) {
      *pzErr =
          zErr ? sqlite3_mprintf("schedules option of '%s': %s", p->zName, zErr)
               : 0;
      sqlite3_free(zErr);
      return 0;
    }
  } else {
    /* The conventional name; "none" is kept for a second or until a table
    ** connects or disconnects (see sv_dead_letters). */
    if (pc->iNoneAt && pc->iRegGen == p->pConn->iRegGen &&
        sv_mono_ms() - pc->iNoneAt < 1000) {
      return 0;
    }
    pS = sv_find_in_schema(p, "schedules", "state_schedules", &zErr);
    sqlite3_free(zErr);
    if (!pS || pS->pRef != p->pRef) {
      pc->iRegGen = p->pConn->iRegGen;
      pc->iNoneAt = sv_mono_ms() | 1;
      return 0;
    }
    pc->iNoneAt = 0;
  }
  if (pS->pRef != p->pRef) {
    *pzErr = sqlite3_mprintf("schedules table '%s' is not on the same store "
                             "as '%s'",
                             pS->zName, p->zName);
    return 0;
  }
  return pS;
}

/* Read every row of schedules table pS into pc. */
static int loadSchedules(sv_vtab *pS, sv_schedcache *pc) {
  const statevtab_store_methods *m = pS->pRef->pStore->pMethods;
  statevtab_cursor *pCur = 0;
  statevtab_scan scan;
  sqlite3_str *pBuf = sqlite3_str_new(0);
  SchedEntry *aNew = 0;
  int nNew = 0, nAlloc = 0, rc, i, k;
  memset(&scan, 0, sizeof(scan));
  scan.zPlan = "";
  scan.nLimit = -1;
  scan.colUsed = ~(sqlite3_uint64)0;
  rc = m->xOpenCursor(pS->pTab, &pCur);
  if (rc != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(pBuf));
    return rc;
  }
  pCur->pTab = pS->pTab;
  rc = m->xFilter(pCur, &scan);
  while (rc == SQLITE_OK && !m->xEof(pCur)) {
    SchedEntry *e;
    if (nNew == nAlloc) {
      SchedEntry *a;
      nAlloc = nAlloc ? 2 * nAlloc : 8;
      a = sqlite3_realloc64(aNew, sizeof(SchedEntry) * (sqlite3_uint64)nAlloc);
      if (!a) {
        rc = SQLITE_NOMEM;
        break;
      }
      aNew = a;
    }
    e = &aNew[nNew++];
    memset(e, 0, sizeof(*e));
    for (i = 0; rc == SQLITE_OK && i < SV_SCHED_NCOL; i++) {
      statevtab_value v;
      rc = m->xColumn(pCur, i, &v);
      if (rc != SQLITE_OK) break;
      if (v.eType == SQLITE_TEXT || v.eType == SQLITE_BLOB) {
        /* Strings go to pBuf; z holds their offset until it is final. */
        int iOff = sqlite3_str_length(pBuf);
        sqlite3_str_append(pBuf, v.z ? v.z : "", v.n);
        sqlite3_str_appendchar(pBuf, 1, 0);
        v.z = (const char *)(uintptr_t)iOff;
      }
      e->aRow[i] = v;
    }
    if (rc == SQLITE_OK) rc = m->xNext(pCur);
  }
  m->xCloseCursor(pCur);
  if (rc == SQLITE_OK) rc = sqlite3_str_errcode(pBuf);
  if (rc == SQLITE_OK) {
    /* One block: the entries, then the strings. */
    int nStr = sqlite3_str_length(pBuf);
    char *zStr = sqlite3_str_value(pBuf);
    SchedEntry *a =
        sqlite3_malloc64(sizeof(SchedEntry) * (sqlite3_uint64)nNew + nStr + 1);
    if (!a) {
      rc = SQLITE_NOMEM;
    } else {
      char *z = (char *)&a[nNew];
      if (nStr) memcpy(z, zStr, (size_t)nStr);
      z[nStr] = 0;
      for (k = 0; k < nNew; k++) {
        SchedEntry *e = &a[k];
        char *zErr = 0;
        *e = aNew[k];
        for (i = 0; i < SV_SCHED_NCOL; i++) {
          statevtab_value *v = &e->aRow[i];
          if (v->eType == SQLITE_TEXT || v->eType == SQLITE_BLOB) {
            v->z = z + (uintptr_t)v->z;
          }
        }
        e->iNext = e->aRow[SV_SCHED_NEXT_RUN].eType == SQLITE_INTEGER
                       ? e->aRow[SV_SCHED_NEXT_RUN].i
                       : -1;
        e->bOk = e->iNext >= 0 &&
                 e->aRow[SV_SCHED_ENABLED].eType == SQLITE_INTEGER &&
                 e->aRow[SV_SCHED_ENABLED].i != 0 &&
                 e->aRow[SV_SCHED_CRON].eType == SQLITE_TEXT &&
                 sv_cron_parse(e->aRow[SV_SCHED_CRON].z, &e->cron, &zErr) ==
                     SQLITE_OK;
        sqlite3_free(zErr);
      }
      sqlite3_free(pc->aEntry);
      pc->aEntry = a;
      pc->nEntry = nNew;
    }
  }
  sqlite3_free(sqlite3_str_finish(pBuf));
  sqlite3_free(aNew);
  return rc;
}

/* The task row of entry e, occurrence iRunAt (values point into e, zId). */
static void taskRow(const SchedEntry *e, sqlite3_int64 iRunAt,
                    sqlite3_int64 now, char *zId, sv_idgen *pGen,
                    statevtab_value *a) {
  int i;
  memset(a, 0, sizeof(statevtab_value) * SV_TASK_NCOL);
  for (i = 0; i < SV_TASK_NCOL; i++) a[i].eType = SQLITE_NULL;
  sv_gen_id(pGen, zId);
  a[SV_TASK_ID].eType = SQLITE_TEXT;
  a[SV_TASK_ID].z = zId;
  a[SV_TASK_ID].n = 36;
  a[SV_TASK_ID].bGenerated = 1;
  a[SV_TASK_QUEUE] = e->aRow[SV_SCHED_QUEUE];
  a[SV_TASK_NAME] = e->aRow[SV_SCHED_TASK];
  a[SV_TASK_PAYLOAD] = e->aRow[SV_SCHED_PAYLOAD];
  a[SV_TASK_STATE].eType = SQLITE_TEXT;
  a[SV_TASK_STATE].z = "pending";
  a[SV_TASK_STATE].n = 7;
  a[SV_TASK_PRIORITY] = e->aRow[SV_SCHED_PRIORITY];
  a[SV_TASK_RUN_AT].eType = SQLITE_INTEGER;
  a[SV_TASK_RUN_AT].i = iRunAt;
  a[SV_TASK_ATTEMPTS].eType = SQLITE_INTEGER;
  a[SV_TASK_MAX_ATTEMPTS] = e->aRow[SV_SCHED_MAX_ATTEMPTS];
  a[SV_TASK_TAGS] = e->aRow[SV_SCHED_TAGS];
  a[SV_TASK_CREATED_AT].eType = SQLITE_INTEGER;
  a[SV_TASK_CREATED_AT].i = now;
  a[SV_TASK_UPDATED_AT].eType = SQLITE_INTEGER;
  a[SV_TASK_UPDATED_AT].i = now;
}

/* Fire entry e of schedules table pS into tasks table p (it is due). */
static int fireOne(sv_vtab *p, sv_vtab *pS, sv_schedcache *pc, SchedEntry *e,
                   sqlite3_int64 now) {
  const statevtab_queue_methods *q = p->pRef->pStore->pMethods->pQueue;
  statevtab_value aTask[SV_TASK_NCOL];
  const statevtab_value *pTz = &e->aRow[SV_SCHED_TIMEZONE];
  sqlite3_int64 iRun = e->iNext, iNext = -1;
  sv_tz *pZone = 0;
  char *zErr = 0, zId[40];
  int rc, bFired = 0;
  if (!q || q->iVersion < 3 || !q->xFire) {
    return schedError(p, SQLITE_ERROR,
                      "store '%s' cannot fire schedules (no xFire)",
                      p->pRef->pStore->pMethods->zScheme);
  }
  rc = sv_tz_load(pTz->eType == SQLITE_TEXT ? pTz->z : 0, &pZone, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) {
      rc = schedError(p, rc, "schedule '%s': %s", e->aRow[SV_SCHED_NAME].z,
                      zErr);
    }
    sqlite3_free(zErr);
    return rc;
  }
  /* The catch-up rule: the latest occurrence at or before now, once. */
  sv_cron_latest(&e->cron, pZone, e->iNext, now, &iRun);
  if (sv_cron_next(&e->cron, pZone, now, &iNext) != SQLITE_OK) iNext = -1;
  sv_tz_free(pZone);
  taskRow(e, iRun, now, zId, &p->pConn->idgen, aTask);
  rc = q->xFire(p->pTab, pS->pTab, &e->aRow[SV_SCHED_NAME], e->iNext, iRun,
                iNext, aTask, &bFired);
  if (rc != SQLITE_OK) return rc;
  e->iNext = iNext;
  if (iNext < 0) e->bOk = 0;
  /* Not fired: another process did, or the row changed: read it again. */
  if (!bFired) pc->iLoadedAt = 0;
  return SQLITE_OK;
}

/*
** Fire the due schedules of tasks table p (see the header comment).
** *piWake, when not NULL: the earliest next_run (ms since the epoch) of the
** enabled schedules of queue pQueue (NULL: any), -1 when none, and -2 when
** p has no schedules table.  Errors are left in p's store.
*/
int sv_sched_run(sv_vtab *p, const statevtab_value *pQueue,
                 sqlite3_int64 *piWake) {
  sv_conn *pConn = p->pConn;
  sv_schedcache *pc = p->pSchedCache;
  int iMark = pConn->nHeld, rc = SQLITE_OK, k;
  sv_vtab *pS;
  char *zErr = 0;
  sqlite3_int64 now, mono;
  if (piWake) *piWake = -2;
  if (!sqlite3_get_autocommit(pConn->db)) return SQLITE_OK;
  if (!pc) {
    pc = p->pSchedCache = sqlite3_malloc64(sizeof(*pc));
    if (!pc) return SQLITE_NOMEM;
    memset(pc, 0, sizeof(*pc));
  }
  pS = findSchedules(p, pc, &zErr);
  if (!pS) {
    if (zErr) rc = schedError(p, SQLITE_ERROR, "%s", zErr);
    sqlite3_free(zErr);
    goto done;
  }
  mono = sv_mono_ms();
  if (pc->pSched != pS || pc->iSchedGen != pS->iWriteGen ||
      pc->iRegGen != pConn->iRegGen || pc->iLoadedAt == 0 ||
      mono - pc->iLoadedAt >= SV_SCHED_RELOAD_MS) {
    /* (On failure the store's message, shared with p's, is the scan's.) */
    rc = loadSchedules(pS, pc);
    if (rc != SQLITE_OK) goto done;
    pc->pSched = pS;
    pc->iSchedGen = pS->iWriteGen;
    pc->iRegGen = pConn->iRegGen;
    pc->iLoadedAt = mono | 1;
  }
  now = sv_now_ms();
  if (piWake) *piWake = -1;
  for (k = 0; rc == SQLITE_OK && k < pc->nEntry; k++) {
    SchedEntry *e = &pc->aEntry[k];
    if (!e->bOk) continue;
    if (e->iNext <= now) rc = fireOne(p, pS, pc, e, now);
    if (rc == SQLITE_OK && piWake && e->bOk &&
        (!pQueue || (e->aRow[SV_SCHED_QUEUE].n == pQueue->n &&
                     memcmp(e->aRow[SV_SCHED_QUEUE].z, pQueue->z,
                            (size_t)pQueue->n) == 0)) &&
        (*piWake < 0 || e->iNext < *piWake)) {
      *piWake = e->iNext;
    }
  }
done:
  sv_conn_release(pConn, iMark);
  return rc;
}

/*
** INSERT or UPDATE of a schedules row (aRow, as buildRow made it): check
** the cron expression and the time zone, and set next_run to the first
** occurrence after now when it is NULL on an insert, or on an update that
** changes cron, timezone or enabled without setting next_run (pOld: the row
** before, NULL on an insert).  Errors are left in p ("cron: ...",
** "unknown time zone '...'", through svError's caller).
*/
int sv_sched_check_row(const statevtab_value *pOld, statevtab_value *aRow,
                       char **pzErr) {
  statevtab_value *pNext = &aRow[SV_SCHED_NEXT_RUN];
  sqlite3_int64 iNext = 0;
  const char *zTz = aRow[SV_SCHED_TIMEZONE].eType == SQLITE_TEXT
                        ? aRow[SV_SCHED_TIMEZONE].z
                        : 0;
  int rc, bCompute;
  *pzErr = 0;
  if (aRow[SV_SCHED_CRON].eType != SQLITE_TEXT) return SQLITE_OK;
  rc = sv_cron_eval(aRow[SV_SCHED_CRON].z, zTz, sv_now_ms(), &iNext, pzErr);
  if (rc == SQLITE_DONE) {
    *pzErr = sqlite3_mprintf("cron: '%s' never runs", aRow[SV_SCHED_CRON].z);
    return *pzErr ? SQLITE_ERROR : SQLITE_NOMEM;
  }
  if (rc != SQLITE_OK) return rc;
#define SAME(c)                                                                \
  (pOld[c].eType == aRow[c].eType &&                                           \
   (aRow[c].eType == SQLITE_INTEGER                                            \
        ? pOld[c].i == aRow[c].i                                               \
        : aRow[c].eType != SQLITE_TEXT ||                                      \
              (pOld[c].n == aRow[c].n &&                                       \
               memcmp(pOld[c].z, aRow[c].z, (size_t)aRow[c].n) == 0)))
  if (!pOld) {
    bCompute = pNext->eType == SQLITE_NULL;
  } else {
    bCompute = SAME(SV_SCHED_NEXT_RUN) &&
               !(SAME(SV_SCHED_CRON) && SAME(SV_SCHED_TIMEZONE) &&
                 SAME(SV_SCHED_ENABLED));
  }
#undef SAME
  if (bCompute) {
    pNext->eType = SQLITE_INTEGER;
    pNext->i = iNext;
  }
  return SQLITE_OK;
}
