/*
** 2026-12-03
**
** board.c -- statevtab-board, the queue board: one page that shows and
** steers the statevtab tables of one SQLite database, on any store.
**
**   statevtab-board app.db [--port 8080] [--bind 127.0.0.1] [--token T]
**                          [--ext PATH] [--sample-ms 10000]
**
** HOW IT WORKS
**
** HTTP is libmicrohttpd with one thread per connection
** (MHD_USE_THREAD_PER_CONNECTION): a request that waits on a slow store
** holds its own thread, never the others.  SQLite connections come from a
** small pool (dbGet/dbPut): a request takes one, uses it alone, and
** gives it back; when none is free a new one is opened, up to BOARD_MAX_DB
** (then 503).  The sampler thread has a connection of its own.  So each
*connection is used by one thread at a
** time, and the only lock is the pool's list (and the ring's).  Every
** connection loads the extension (--ext, else statevtab.so next to the
** executable or in ../lib from it, else in $(libdir)) and then turns
** extension loading off again.
**
** The statevtab tables are found at every poll: each virtual table of main
** whose SQL names a state_* module is asked statevtab_debug(name) for its
** module, store (already redacted by the extension) and options.  The
** figures come from state_metrics (counts from indexes or counters on every
** store); the lists (dead letters, claimed tasks, leases, flags, executions)
** are bounded by ?limit (default 50).  SQLite's JSON functions build each
** table's part of the answer, so values are never formatted by hand.
**
** A sampler thread asks state_metrics for every queue's pending and claimed
** counts every --sample-ms and keeps a ring of the last hour's samples per
** queue (the backlog chart; completions per minute come from the store's
** own history, state_metrics.completed_per_minute).
**
** Writes (POST, JSON body) need the token in "Authorization: Bearer T",
** compared in constant time; without it 401, a wrong one 403.  Bound to a
** loopback address, the board also answers only requests whose Host is a
** loopback name (a guard against DNS rebinding).  Every bad input is a 400
** with {"error": "..."}.
*/
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <sqlite3.h>

#include "board/assets.h"

#ifndef SV_BOARD_LIBDIR
#define SV_BOARD_LIBDIR "/usr/local/lib"
#endif

#define BOARD_MAX_DB 16        /* SQLite connections in the pool, at most */
#define BOARD_MAX_BODY 65536   /* bytes of a POST body */
#define BOARD_RING 360         /* samples kept per queue */
#define BOARD_MAX_SERIES 256   /* queues sampled, at most */
#define BOARD_DEFAULT_LIMIT 50 /* rows per list */
#define BOARD_MAX_LIMIT 1000   /* ?limit at most */

static const char zUsage[] =
    "usage: statevtab-board DB [--port N] [--bind ADDR] [--token T] "
    "[--ext PATH] [--sample-ms N]\n";

/* ---------------------------------------------------------------------------
** Options and global state.
*/
typedef struct Board {
  const char *zDb;    /* the database file */
  char *zExt;         /* the extension loaded (sqlite3_mprintf) */
  char *zToken;       /* the write token (sqlite3_mprintf) */
  int bLoopback;      /* bound to a loopback address: check Host */
  int iPort;          /* the port listened on */
  int nSampleMs;      /* sampler period */
  pthread_mutex_t mu; /* guards pFree, nOpen, the ring, bStop */
  pthread_cond_t cv;  /* the sampler sleeps on it; signalled at stop */
  int bStop;
  struct BoardDb *pFree; /* idle connections */
  int nOpen;             /* connections open, idle or not */
  struct Series *aSeries;
  int nSeries;
} Board;

static Board g;

/* ---------------------------------------------------------------------------
** The connection pool.
*/
typedef struct BoardDb {
  sqlite3 *db;
  struct BoardDb *pNext;
} BoardDb;

/*
** Open one connection to g.zDb with the extension loaded.  Returns it, or
** NULL with *pzErr set (sqlite3_mprintf; the caller frees it).
*/
static BoardDb *dbOpen(char **pzErr) {
  BoardDb *p = sqlite3_malloc64(sizeof(*p));
  char *zErr = 0;
  int rc;
  if (!p) {
    *pzErr = sqlite3_mprintf("out of memory");
    return 0;
  }
  memset(p, 0, sizeof(*p));
  rc = sqlite3_open_v2(g.zDb, &p->db, SQLITE_OPEN_READWRITE, 0);
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("cannot open %s: %s", g.zDb,
                             p->db ? sqlite3_errmsg(p->db) : "out of memory");
    goto error;
  }
  sqlite3_busy_timeout(p->db, 5000);
  sqlite3_extended_result_codes(p->db, 1);
  /* Only the C API may load, and only now: load_extension() in SQL stays
  ** off, as it is by default. */
  sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 1, 0);
  rc = sqlite3_load_extension(p->db, g.zExt, "sqlite3_statevtab_init", &zErr);
  sqlite3_db_config(p->db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, 0);
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("cannot load the extension %s: %s (use --ext)",
                             g.zExt, zErr ? zErr : sqlite3_errstr(rc));
    sqlite3_free(zErr);
    goto error;
  }
  return p;
error:
  sqlite3_close(p->db);
  sqlite3_free(p);
  return 0;
}

static void dbClose(BoardDb *p) {
  if (!p) return;
  sqlite3_close(p->db);
  sqlite3_free(p);
}

/* A connection for this thread alone: an idle one, or a new one.  NULL with
** *pzErr when none can be had (*pbFull set when the pool is full). */
static BoardDb *dbGet(char **pzErr, int *pbFull) {
  BoardDb *p;
  *pbFull = 0;
  pthread_mutex_lock(&g.mu);
  p = g.pFree;
  if (p) {
    g.pFree = p->pNext;
  } else if (g.nOpen >= BOARD_MAX_DB) {
    pthread_mutex_unlock(&g.mu);
    *pbFull = 1;
    *pzErr = sqlite3_mprintf("busy: %d requests are reading the database; "
                             "try again",
                             BOARD_MAX_DB);
    return 0;
  } else {
    g.nOpen++;
  }
  pthread_mutex_unlock(&g.mu);
  if (!p) {
    p = dbOpen(pzErr);
    if (!p) {
      pthread_mutex_lock(&g.mu);
      g.nOpen--;
      pthread_mutex_unlock(&g.mu);
    }
  }
  return p;
}

/* Give p back.  A connection left inside a transaction (a failed COMMIT)
** is closed rather than handed to the next request. */
static void dbPut(BoardDb *p) {
  if (!p) return;
  if (!sqlite3_get_autocommit(p->db)) {
    dbClose(p);
    pthread_mutex_lock(&g.mu);
    g.nOpen--;
    pthread_mutex_unlock(&g.mu);
    return;
  }
  pthread_mutex_lock(&g.mu);
  p->pNext = g.pFree;
  g.pFree = p;
  pthread_mutex_unlock(&g.mu);
}

/* ---------------------------------------------------------------------------
** JSON text helpers (for the few values not built by SQLite).
*/
static void jsonString(sqlite3_str *s, const char *z) {
  cJSON *p = z ? cJSON_CreateString(z) : 0;
  char *zOut = p ? cJSON_PrintUnformatted(p) : 0;
  /* Out of memory: null, which the page shows as an empty cell. */
  sqlite3_str_appendall(s, zOut ? zOut : "null");
  cJSON_free(zOut);
  cJSON_Delete(p);
}

/* ---------------------------------------------------------------------------
** Discovery: the statevtab tables of main.
*/
typedef struct Table {
  char *zName;   /* table name */
  char *zModule; /* state_tasks, ... (NULL when statevtab_debug failed) */
  char *zStore;  /* the store, as statevtab_debug shows it (redacted) */
  char *zDead;   /* tasks: its dead letters table, or NULL */
  char *zErr;    /* why statevtab_debug failed, or NULL */
} Table;

typedef struct TableList {
  Table *a;
  int n;
} TableList;

static void tablesFree(TableList *p) {
  int i;
  for (i = 0; i < p->n; i++) {
    sqlite3_free(p->a[i].zName);
    sqlite3_free(p->a[i].zModule);
    sqlite3_free(p->a[i].zStore);
    sqlite3_free(p->a[i].zDead);
    sqlite3_free(p->a[i].zErr);
  }
  sqlite3_free(p->a);
  memset(p, 0, sizeof(*p));
}

/* A copy of the text after zKey on the line of zText that starts with it
** (up to the end of the line), or NULL. */
static char *debugField(const char *zText, const char *zKey) {
  size_t n = strlen(zKey);
  const char *z = zText;
  while (z && *z) {
    if (strncmp(z, zKey, n) == 0) {
      const char *zEnd = strchr(z + n, '\n');
      int m = zEnd ? (int)(zEnd - z - n) : (int)strlen(z + n);
      return sqlite3_mprintf("%.*s", m, z + n);
    }
    z = strchr(z, '\n');
    if (z) z++;
  }
  return 0;
}

/* The module named by a CREATE VIRTUAL TABLE statement (for a table that
** cannot be connected, so that it is listed where it belongs). */
static char *moduleOf(const char *zSql) {
  const char *z = zSql;
  size_t n = 0;
  if (!z) return 0;
  for (; *z; z++) {
    if (sqlite3_strnicmp(z, " USING ", 7) == 0) {
      z += 7;
      while (*z == ' ') z++;
      while ((z[n] >= 'a' && z[n] <= 'z') || z[n] == '_') n++;
      return n ? sqlite3_mprintf("%.*s", (int)n, z) : 0;
    }
  }
  return 0;
}

static int findTable(const TableList *p, const char *zName,
                     const char *zModule) {
  int i;
  for (i = 0; i < p->n; i++) {
    if (sqlite3_stricmp(p->a[i].zName, zName) == 0 &&
        (!zModule ||
         (p->a[i].zModule && strcmp(p->a[i].zModule, zModule) == 0))) {
      return i;
    }
  }
  return -1;
}

/*
** Fill *pList with the statevtab tables of main, in name order.  A table
** whose statevtab_debug fails (its server is down) is listed with zErr.
** Returns SQLITE_OK, or an error code with *pzErr set.
*/
static int tablesLoad(sqlite3 *db, TableList *pList, char **pzErr) {
  sqlite3_stmt *pStmt = 0, *pDebug = 0;
  int rc, i;
  memset(pList, 0, sizeof(*pList));
  rc = sqlite3_prepare_v2(
      db,
      "SELECT name, sql FROM main.sqlite_schema WHERE type = 'table' "
      "AND sql LIKE 'CREATE VIRTUAL TABLE%USING state\\_%' ESCAPE '\\' "
      "ORDER BY name",
      -1, &pStmt, 0);
  if (rc == SQLITE_OK) {
    rc = sqlite3_prepare_v2(db, "SELECT statevtab_debug(?1)", -1, &pDebug, 0);
  }
  while (rc == SQLITE_OK && sqlite3_step(pStmt) == SQLITE_ROW) {
    Table *t;
    Table *aNew = sqlite3_realloc64(pList->a, (pList->n + 1) * sizeof(Table));
    if (!aNew) {
      rc = SQLITE_NOMEM;
      break;
    }
    pList->a = aNew;
    t = &pList->a[pList->n++];
    memset(t, 0, sizeof(*t));
    t->zName =
        sqlite3_mprintf("%s", (const char *)sqlite3_column_text(pStmt, 0));
    if (!t->zName) {
      rc = SQLITE_NOMEM;
      break;
    }
    sqlite3_bind_text(pDebug, 1, t->zName, -1, SQLITE_STATIC);
    if (sqlite3_step(pDebug) == SQLITE_ROW) {
      const char *z = (const char *)sqlite3_column_text(pDebug, 0);
      t->zModule = debugField(z, "module ");
      t->zStore = debugField(z, "store ");
      t->zDead = debugField(z, "option dead_letters=");
    } else {
      /* statevtab_debug says "no such table" when the table cannot be
      ** connected; preparing a read of it gives the reason. */
      sqlite3_stmt *pTry = 0;
      char *zTry =
          sqlite3_mprintf("SELECT * FROM \"main\".\"%w\" LIMIT 0", t->zName);
      t->zErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      if (zTry && sqlite3_prepare_v2(db, zTry, -1, &pTry, 0) != SQLITE_OK) {
        sqlite3_free(t->zErr);
        t->zErr = sqlite3_mprintf("%s", sqlite3_errmsg(db));
      }
      sqlite3_finalize(pTry);
      sqlite3_free(zTry);
      t->zModule = moduleOf((const char *)sqlite3_column_text(pStmt, 1));
    }
    sqlite3_reset(pDebug);
    sqlite3_clear_bindings(pDebug);
  }
  if (rc == SQLITE_OK) rc = sqlite3_reset(pStmt);
  if (rc != SQLITE_OK) {
    *pzErr = sqlite3_mprintf("reading the schema: %s",
                             rc == SQLITE_NOMEM ? "out of memory"
                                                : sqlite3_errmsg(db));
    tablesFree(pList);
  }
  sqlite3_finalize(pStmt);
  sqlite3_finalize(pDebug);
  /* A tasks table without dead_letters= uses the table named dead_letters,
  ** when there is one (as the extension does). */
  for (i = 0; rc == SQLITE_OK && i < pList->n; i++) {
    Table *t = &pList->a[i];
    if (t->zModule && strcmp(t->zModule, "state_tasks") == 0 && !t->zDead &&
        !t->zErr &&
        findTable(pList, "dead_letters", "state_dead_letters") >= 0) {
      t->zDead = sqlite3_mprintf("dead_letters");
    }
  }
  return rc;
}

/* ---------------------------------------------------------------------------
** The ring of samples: per (tasks table, queue), pending and claimed every
** g.nSampleMs for the last BOARD_RING samples.
*/
typedef struct Series {
  char *zTable, *zQueue;
  int iNext, n; /* next slot, slots filled */
  sqlite3_int64 aT[BOARD_RING];
  sqlite3_int64 aPending[BOARD_RING];
  sqlite3_int64 aClaimed[BOARD_RING];
} Series;

/* The series of (zTable, zQueue), made when missing; NULL when the ring is
** full or out of memory.  Caller holds g.mu. */
static Series *seriesFind(const char *zTable, const char *zQueue, int bMake) {
  int i;
  Series *s;
  for (i = 0; i < g.nSeries; i++) {
    s = &g.aSeries[i];
    if (strcmp(s->zTable, zTable) == 0 && strcmp(s->zQueue, zQueue) == 0) {
      return s;
    }
  }
  if (!bMake || g.nSeries >= BOARD_MAX_SERIES) return 0;
  if (!g.aSeries) {
    g.aSeries = sqlite3_malloc64(BOARD_MAX_SERIES * sizeof(Series));
    if (!g.aSeries) return 0;
  }
  s = &g.aSeries[g.nSeries];
  memset(s, 0, sizeof(*s));
  s->zTable = sqlite3_mprintf("%s", zTable);
  s->zQueue = sqlite3_mprintf("%s", zQueue);
  if (!s->zTable || !s->zQueue) {
    sqlite3_free(s->zTable);
    sqlite3_free(s->zQueue);
    return 0;
  }
  g.nSeries++;
  return s;
}

static sqlite3_int64 nowMs(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One sample of every queue of every tasks table. */
static void sampleOnce(BoardDb *p) {
  char *zErr = 0;
  int i;
  TableList tl;
  sqlite3_int64 t = nowMs();
  if (tablesLoad(p->db, &tl, &zErr) != SQLITE_OK) {
    sqlite3_free(zErr);
    return;
  }
  for (i = 0; i < tl.n; i++) {
    sqlite3_stmt *pStmt = 0;
    if (!tl.a[i].zModule || strcmp(tl.a[i].zModule, "state_tasks")) continue;
    if (sqlite3_prepare_v2(p->db,
                           "SELECT queue, pending, claimed "
                           "FROM state_metrics(?1)",
                           -1, &pStmt, 0) != SQLITE_OK) {
      continue;
    }
    sqlite3_bind_text(pStmt, 1, tl.a[i].zName, -1, SQLITE_STATIC);
    while (sqlite3_step(pStmt) == SQLITE_ROW) {
      const char *zQueue = (const char *)sqlite3_column_text(pStmt, 0);
      Series *s;
      if (!zQueue) continue;
      pthread_mutex_lock(&g.mu);
      s = seriesFind(tl.a[i].zName, zQueue, 1);
      if (s) {
        s->aT[s->iNext] = t;
        s->aPending[s->iNext] = sqlite3_column_int64(pStmt, 1);
        s->aClaimed[s->iNext] = sqlite3_column_int64(pStmt, 2);
        s->iNext = (s->iNext + 1) % BOARD_RING;
        if (s->n < BOARD_RING) s->n++;
      }
      pthread_mutex_unlock(&g.mu);
    }
    sqlite3_finalize(pStmt);
  }
  tablesFree(&tl);
}

/* The sampler has a connection of its own, outside the pool, so that it
** never takes one of the requests' (it is opened again after a failure). */
static void *samplerMain(void *pArg) {
  BoardDb *p = 0;
  (void)pArg;
  for (;;) {
    struct timespec ts;
    int bStop;
    if (!p) {
      char *zErr = 0;
      p = dbOpen(&zErr);
      sqlite3_free(zErr);
    }
    if (p) {
      sampleOnce(p);
      if (!sqlite3_get_autocommit(p->db)) {
        dbClose(p);
        p = 0;
      }
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += g.nSampleMs / 1000;
    ts.tv_nsec += (long)(g.nSampleMs % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&g.mu);
    while (!g.bStop && pthread_cond_timedwait(&g.cv, &g.mu, &ts) == 0) {
    }
    bStop = g.bStop;
    pthread_mutex_unlock(&g.mu);
    if (bStop) break;
  }
  dbClose(p);
  return 0;
}

/* Append the backlog series of (zTable, zQueue) as
** {"t":[...],"pending":[...],"claimed":[...]}, oldest first. */
static void appendSeries(sqlite3_str *s, const char *zTable,
                         const char *zQueue) {
  int i, k;
  Series *p;
  static const char *azKey[] = {"t", "pending", "claimed"};
  pthread_mutex_lock(&g.mu);
  p = seriesFind(zTable, zQueue, 0);
  sqlite3_str_appendchar(s, 1, '{');
  for (k = 0; k < 3; k++) {
    sqlite3_str_appendf(s, "%s\"%s\":[", k ? "," : "", azKey[k]);
    for (i = 0; p && i < p->n; i++) {
      int j = (p->iNext - p->n + i + BOARD_RING) % BOARD_RING;
      sqlite3_int64 v = k == 0   ? p->aT[j]
                        : k == 1 ? p->aPending[j]
                                 : p->aClaimed[j];
      sqlite3_str_appendf(s, "%s%lld", i ? "," : "", v);
    }
    sqlite3_str_appendchar(s, 1, ']');
  }
  sqlite3_str_appendchar(s, 1, '}');
  pthread_mutex_unlock(&g.mu);
}

/* ---------------------------------------------------------------------------
** Responses.
*/
typedef struct Reply {
  int iStatus;
  char *zBody; /* sqlite3_malloc'd */
  const char *zType;
} Reply;

static void replyJson(Reply *r, int iStatus, sqlite3_str *s) {
  r->iStatus = iStatus;
  r->zBody = sqlite3_str_finish(s);
  r->zType = "application/json";
  if (!r->zBody) {
    r->iStatus = 500;
    r->zBody = sqlite3_mprintf("{\"error\":\"out of memory\"}");
  }
}

static void replyError(Reply *r, int iStatus, const char *zFmt, ...) {
  va_list ap;
  char *zMsg;
  sqlite3_str *s = sqlite3_str_new(0);
  va_start(ap, zFmt);
  zMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  sqlite3_str_appendall(s, "{\"error\":");
  jsonString(s, zMsg ? zMsg : "out of memory");
  sqlite3_str_appendall(s, "}");
  sqlite3_free(zMsg);
  replyJson(r, iStatus, s);
}

/* ---------------------------------------------------------------------------
** GET /api/state
*/

/* Each list: one statement whose one row is the JSON text of an array.
** %w is the table; ?1 the table's name as a value, ?2 the limit.  The
** claimed tasks are read per queue that has some (queue = ? AND state =
** 'claimed': an index on every store, Redis's lq set of the queue; a
** plain state = 'claimed' reads every task of a Redis namespace without
** indexes='state', 0.48 s for 10,000 tasks against 0.035 s). */
static const char zSqlQueues[] =
    "SELECT json_group_array(json_object("
    "'queue', queue, 'pending', pending, 'scheduled', scheduled, "
    "'waiting', waiting, 'claimed', claimed, 'expired', expired, "
    "'completed', completed, 'failed', failed, 'dead', dead, "
    "'cancelled', cancelled, 'oldest_pending_ms', oldest_pending_ms, "
    "'completed_last_minute', completed_last_minute, 'paused', paused, "
    "'completed_per_minute', json(completed_per_minute))) "
    "FROM state_metrics(?1)";
static const char zSqlClaimed[] =
    "SELECT json_group_array(json_object('id', id, 'queue', queue, "
    "'name', name, 'attempts', attempts, 'lease_owner', lease_owner, "
    "'lease_expires_at', lease_expires_at, 'expired', "
    "lease_expires_at <= state_now())) FROM (SELECT t.* FROM "
    "state_metrics(?1) m, \"main\".\"%w\" t WHERE m.claimed > 0 "
    "AND t.queue = m.queue AND t.state = 'claimed' LIMIT ?2)";
static const char zSqlDead[] =
    "SELECT json_group_array(json_object('id', id, 'task_id', task_id, "
    "'queue', queue, 'name', name, 'attempts', attempts, 'reason', reason, "
    "'died_at', died_at, 'task', json(task))) FROM (SELECT * FROM "
    "\"main\".\"%w\" ORDER BY died_at DESC LIMIT ?2)";
static const char zSqlLeases[] =
    "SELECT json_group_array(json_object('name', name, 'owner', owner, "
    "'token', token, 'depth', depth, 'expires_at', expires_at, "
    "'acquired_at', acquired_at, 'held', depth > 0 AND expires_at > "
    "state_now())) FROM (SELECT * FROM \"main\".\"%w\" ORDER BY name "
    "LIMIT ?2)";
static const char zSqlFlags[] =
    "SELECT json_group_array(json_object('name', name, 'enabled', enabled, "
    "'rollout', rollout, 'description', description, 'strategies', "
    "json_array_length(strategies), 'updated_at', updated_at)) FROM "
    "(SELECT * FROM \"main\".\"%w\" ORDER BY name LIMIT ?2)";
static const char zSqlExecutions[] =
    "SELECT json_group_array(json_object('id', id, 'name', name, "
    "'state', state, 'progress', json(progress), 'created_at', created_at, "
    "'updated_at', updated_at)) FROM (SELECT * FROM \"main\".\"%w\" "
    "ORDER BY created_at DESC LIMIT ?2)";

/*
** Append to s the JSON array that zSqlFmt (see above) makes for table
** zTable, as member zKey.  On an error, member "error" instead, with the
** message: one table's store being down does not hide the others.
*/
static void appendList(sqlite3 *db, sqlite3_str *s, const char *zKey,
                       const char *zSqlFmt, const char *zTable, int nLimit) {
  sqlite3_stmt *pStmt = 0;
  char *zSql = sqlite3_mprintf(zSqlFmt, zTable);
  int rc = zSql ? sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  if (rc == SQLITE_OK) {
    sqlite3_bind_text(pStmt, 1, zTable, -1, SQLITE_STATIC);
    sqlite3_bind_int(pStmt, 2, nLimit);
    rc = sqlite3_step(pStmt);
  }
  if (rc == SQLITE_ROW) {
    const char *z = (const char *)sqlite3_column_text(pStmt, 0);
    sqlite3_str_appendf(s, ",\"%s\":%s", zKey, z ? z : "[]");
  } else {
    sqlite3_str_appendall(s, ",\"error\":");
    jsonString(s, rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
  }
  sqlite3_finalize(pStmt);
}

/* The backlog series of every queue of a tasks table, as
** "backlog":{"queue":{...},...}. */
static void appendBacklog(sqlite3_str *s, const char *zTable) {
  int i, n = 0;
  char **azQueue = 0;
  pthread_mutex_lock(&g.mu);
  azQueue = sqlite3_malloc64((g.nSeries + 1) * sizeof(char *));
  for (i = 0; azQueue && i < g.nSeries; i++) {
    if (strcmp(g.aSeries[i].zTable, zTable) == 0) {
      azQueue[n++] = g.aSeries[i].zQueue; /* series are never freed early */
    }
  }
  pthread_mutex_unlock(&g.mu);
  sqlite3_str_appendall(s, ",\"backlog\":{");
  for (i = 0; i < n; i++) {
    if (i) sqlite3_str_appendchar(s, 1, ',');
    jsonString(s, azQueue[i]);
    sqlite3_str_appendchar(s, 1, ':');
    appendSeries(s, zTable, azQueue[i]);
  }
  sqlite3_str_appendchar(s, 1, '}');
  sqlite3_free(azQueue);
}

static void doState(sqlite3 *db, int nLimit, Reply *r) {
  TableList tl;
  char *zErr = 0;
  sqlite3_str *s;
  int i, k;
  static const struct {
    const char *zModule, *zSection, *zKey, *zSql;
  } aKind[] = {
      {"state_dead_letters", "dead_letters", "rows", zSqlDead},
      {"state_leases", "leases", "rows", zSqlLeases},
      {"state_flags", "flags", "rows", zSqlFlags},
      {"state_executions", "executions", "rows", zSqlExecutions},
  };
  if (tablesLoad(db, &tl, &zErr) != SQLITE_OK) {
    replyError(r, 500, "%s", zErr);
    sqlite3_free(zErr);
    return;
  }
  s = sqlite3_str_new(0);
  sqlite3_str_appendall(s, "{\"db\":");
  jsonString(s, g.zDb);
  sqlite3_str_appendf(s, ",\"now\":%lld,\"sample_ms\":%d,\"limit\":%d", nowMs(),
                      g.nSampleMs, nLimit);
  sqlite3_str_appendall(s, ",\"tables\":[");
  for (i = 0; i < tl.n; i++) {
    sqlite3_str_appendall(s, i ? ",{\"name\":" : "{\"name\":");
    jsonString(s, tl.a[i].zName);
    sqlite3_str_appendall(s, ",\"module\":");
    jsonString(s, tl.a[i].zModule);
    sqlite3_str_appendall(s, ",\"store\":");
    jsonString(s, tl.a[i].zStore);
    if (tl.a[i].zErr) {
      sqlite3_str_appendall(s, ",\"error\":");
      jsonString(s, tl.a[i].zErr);
    }
    sqlite3_str_appendchar(s, 1, '}');
  }
  sqlite3_str_appendall(s, "],\"tasks\":[");
  for (i = k = 0; i < tl.n; i++) {
    Table *t = &tl.a[i];
    if (!t->zModule || strcmp(t->zModule, "state_tasks")) continue;
    sqlite3_str_appendall(s, k++ ? ",{\"table\":" : "{\"table\":");
    jsonString(s, t->zName);
    sqlite3_str_appendall(s, ",\"store\":");
    jsonString(s, t->zStore);
    sqlite3_str_appendall(s, ",\"dead_letters\":");
    jsonString(s, t->zDead);
    if (t->zErr) {
      sqlite3_str_appendall(s, ",\"error\":");
      jsonString(s, t->zErr);
    } else {
      appendList(db, s, "queues", zSqlQueues, t->zName, nLimit);
      appendList(db, s, "claimed", zSqlClaimed, t->zName, nLimit);
      appendBacklog(s, t->zName);
    }
    sqlite3_str_appendchar(s, 1, '}');
  }
  sqlite3_str_appendchar(s, 1, ']');
  for (k = 0; k < (int)(sizeof(aKind) / sizeof(aKind[0])); k++) {
    int n = 0;
    sqlite3_str_appendf(s, ",\"%s\":[", aKind[k].zSection);
    for (i = 0; i < tl.n; i++) {
      Table *t = &tl.a[i];
      if (!t->zModule || strcmp(t->zModule, aKind[k].zModule)) continue;
      sqlite3_str_appendall(s, n++ ? ",{\"table\":" : "{\"table\":");
      jsonString(s, t->zName);
      sqlite3_str_appendall(s, ",\"store\":");
      jsonString(s, t->zStore);
      if (k == 0) {
        /* The tasks table that a redrive puts these dead tasks back in. */
        int j;
        const char *zTasks = 0;
        for (j = 0; j < tl.n && !zTasks; j++) {
          if (tl.a[j].zDead && sqlite3_stricmp(tl.a[j].zDead, t->zName) == 0) {
            zTasks = tl.a[j].zName;
          }
        }
        sqlite3_str_appendall(s, ",\"tasks\":");
        jsonString(s, zTasks);
      }
      if (t->zErr) {
        sqlite3_str_appendall(s, ",\"error\":");
        jsonString(s, t->zErr);
      } else {
        appendList(db, s, aKind[k].zKey, aKind[k].zSql, t->zName, nLimit);
      }
      sqlite3_str_appendchar(s, 1, '}');
    }
    sqlite3_str_appendchar(s, 1, ']');
  }
  sqlite3_str_appendchar(s, 1, '}');
  tablesFree(&tl);
  replyJson(r, 200, s);
}

/* ---------------------------------------------------------------------------
** POST actions.  The body is a JSON object; every member is checked.
*/
typedef struct Action {
  const char *zPath;    /* /api/... */
  const char *zModule;  /* the module of member "table" */
  const char *azMember; /* the members it takes, space-separated */
  const char *zSql;     /* %w: table; ?1.. the members, in azMember order */
  int bChanges;         /* the answer is sqlite3_changes(), not the value */
  int bNeedRow;         /* 0 changes is a 404: no such row */
} Action;

/* Members: table (text, required), then per action.  In azMember a member
** ending in '?' is optional; "enabled" is a boolean, "id" "queue" "name"
** "tasks" text. */
static const Action aAction[] = {
    {"/api/pause", "state_tasks", "table queue", "SELECT state_pause(?1, ?2)",
     0, 0},
    {"/api/resume", "state_tasks", "table queue", "SELECT state_resume(?1, ?2)",
     0, 0},
    {"/api/cancel", "state_tasks", "table id",
     "UPDATE \"main\".\"%w\" SET state = 'cancelled' WHERE id = ?2 "
     "AND state IN ('pending', 'claimed', 'waiting')",
     1, 0},
    {"/api/redrive", "state_dead_letters", "table tasks? id?",
     "SELECT state_redrive(?1, ?2, CASE WHEN ?3 IS NULL THEN '{}' "
     "ELSE json_object('id', ?3) END)",
     0, 0},
    {"/api/dead/delete", "state_dead_letters", "table id",
     "DELETE FROM \"main\".\"%w\" WHERE id = ?2", 1, 1},
    {"/api/flag", "state_flags", "table name enabled",
     "UPDATE \"main\".\"%w\" SET enabled = ?3 WHERE name = ?2", 1, 1},
};

/* Is zName one of the space-separated words of zList (a trailing '?' on a
** word ignored)?  Returns its index, or -1. */
static int memberIndex(const char *zList, const char *zName, int *pbOpt) {
  int i = 0;
  size_t n = strlen(zName);
  const char *z = zList;
  while (*z) {
    const char *zEnd = strchr(z, ' ');
    size_t m = zEnd ? (size_t)(zEnd - z) : strlen(z);
    int bOpt = m > 0 && z[m - 1] == '?';
    if (m - bOpt == n && strncmp(z, zName, n) == 0) {
      if (pbOpt) *pbOpt = bOpt;
      return i;
    }
    i++;
    z += m;
    while (*z == ' ') z++;
  }
  return -1;
}

static void doAction(sqlite3 *db, const Action *a, const char *zBody,
                     size_t nBody, Reply *r) {
  cJSON *pRoot = cJSON_ParseWithLength(zBody, nBody);
  cJSON *pItem;
  cJSON *apVal[8];
  const char *zTable, *zTasks = 0;
  int i, nMember = 0;
  TableList tl;
  char *zErr = 0;
  memset(apVal, 0, sizeof(apVal));
  memset(&tl, 0, sizeof(tl));
  if (!pRoot) {
    replyError(r, 400, "%s: the body is not valid JSON", a->zPath);
    return;
  }
  if (!cJSON_IsObject(pRoot)) {
    replyError(r, 400, "%s: the body must be a JSON object", a->zPath);
    goto done;
  }
  for (pItem = pRoot->child; pItem; pItem = pItem->next) {
    int bOpt = 0;
    int k = memberIndex(a->azMember, pItem->string, &bOpt);
    const char *zMember = pItem->string;
    if (k < 0) {
      replyError(r, 400, "%s: unknown member '%s' (%s)", a->zPath, zMember,
                 a->azMember);
      goto done;
    }
    if (apVal[k]) {
      replyError(r, 400, "%s: member '%s' given twice", a->zPath, zMember);
      goto done;
    }
    if (strcmp(zMember, "enabled") == 0 ? !cJSON_IsBool(pItem)
                                        : !cJSON_IsString(pItem)) {
      replyError(r, 400, "%s: member '%s' must be %s", a->zPath, zMember,
                 strcmp(zMember, "enabled") == 0 ? "true or false"
                                                 : "a string");
      goto done;
    }
    if (cJSON_IsString(pItem) && pItem->valuestring[0] == 0) {
      replyError(r, 400, "%s: member '%s' is empty", a->zPath, zMember);
      goto done;
    }
    apVal[k] = pItem;
  }
  {
    /* Every member that is not optional must be there. */
    const char *z = a->azMember;
    while (*z) {
      const char *zEnd = strchr(z, ' ');
      int m = zEnd ? (int)(zEnd - z) : (int)strlen(z);
      if (z[m - 1] != '?' && !apVal[nMember]) {
        replyError(r, 400, "%s: member '%.*s' is missing", a->zPath, m, z);
        goto done;
      }
      nMember++;
      z += m;
      while (*z == ' ') z++;
    }
  }
  zTable = apVal[0]->valuestring;
  if (tablesLoad(db, &tl, &zErr) != SQLITE_OK) {
    replyError(r, 500, "%s", zErr);
    sqlite3_free(zErr);
    goto done;
  }
  if (findTable(&tl, zTable, a->zModule) < 0) {
    replyError(r, 400, "%s: no %s table named '%s'", a->zPath, a->zModule,
               zTable);
    goto done;
  }
  i = memberIndex(a->azMember, "tasks", 0);
  if (i >= 0) {
    /* A redrive goes into a tasks table whose dead letters are these (the
    ** extension would insert a dead task into any tasks table it is given,
    ** as a migration does): the one given, or the first that names it. */
    int j =
        apVal[i] ? findTable(&tl, apVal[i]->valuestring, "state_tasks") : -1;
    if (apVal[i] && (j < 0 || !tl.a[j].zDead ||
                     sqlite3_stricmp(tl.a[j].zDead, zTable) != 0)) {
      replyError(r, 400,
                 "%s: no state_tasks table named '%s' whose dead letters "
                 "are '%s'",
                 a->zPath, apVal[i]->valuestring, zTable);
      goto done;
    }
    for (j = 0; !apVal[i] && !zTasks && j < tl.n; j++) {
      if (tl.a[j].zDead && sqlite3_stricmp(tl.a[j].zDead, zTable) == 0) {
        zTasks = tl.a[j].zName;
      }
    }
    if (apVal[i]) zTasks = apVal[i]->valuestring;
    if (!zTasks) {
      replyError(r, 400,
                 "%s: no state_tasks table has '%s' as its dead letters table",
                 a->zPath, zTable);
      goto done;
    }
  }
  {
    sqlite3_stmt *pStmt = 0;
    char *zSql = sqlite3_mprintf(a->zSql, zTable);
    int rc = zSql ? sqlite3_prepare_v2(db, zSql, -1, &pStmt, 0) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    for (i = 0; rc == SQLITE_OK && i < nMember; i++) {
      if (zTasks && i == memberIndex(a->azMember, "tasks", 0)) {
        sqlite3_bind_text(pStmt, i + 1, zTasks, -1, SQLITE_STATIC);
      }
      if (!apVal[i]) continue;
      if (cJSON_IsBool(apVal[i])) {
        sqlite3_bind_int(pStmt, i + 1, cJSON_IsTrue(apVal[i]));
      } else {
        sqlite3_bind_text(pStmt, i + 1, apVal[i]->valuestring, -1,
                          SQLITE_STATIC);
      }
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(pStmt);
    if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
      sqlite3_int64 n =
          a->bChanges ? sqlite3_changes64(db) : sqlite3_column_int64(pStmt, 0);
      if (a->bNeedRow && n == 0) {
        replyError(r, 404, "%s: no row of '%s' with that %s", a->zPath, zTable,
                   memberIndex(a->azMember, "name", 0) >= 0 ? "name" : "id");
      } else {
        sqlite3_str *s = sqlite3_str_new(0);
        sqlite3_str_appendf(s, "{\"ok\":true,\"changed\":%lld}", n);
        replyJson(r, 200, s);
      }
    } else {
      replyError(r, 500, "%s: %s", a->zPath,
                 rc == SQLITE_NOMEM ? "out of memory" : sqlite3_errmsg(db));
    }
    sqlite3_finalize(pStmt);
  }
done:
  tablesFree(&tl);
  cJSON_Delete(pRoot);
}

/* ---------------------------------------------------------------------------
** HTTP.
*/
typedef struct Request {
  char *zBody; /* the POST body so far (sqlite3_malloc'd) */
  size_t nBody;
  int bTooLarge;
} Request;

/* Same answer, same time, whatever the first differing byte: the time
** depends only on the length of the token expected. */
static int tokenEqual(const char *zGiven, const char *zWant) {
  size_t nGiven = strlen(zGiven), nWant = strlen(zWant), i;
  unsigned char d = (unsigned char)(nGiven != nWant);
  for (i = 0; i < nWant; i++) {
    unsigned char c = i < nGiven ? (unsigned char)zGiven[i] : 0;
    d |= c ^ (unsigned char)zWant[i];
  }
  return d == 0;
}

/* Host must be a loopback name when the board listens on loopback. */
static int hostAllowed(const char *zHost) {
  static const char *azName[] = {"127.0.0.1", "localhost", "[::1]"};
  size_t i;
  if (!g.bLoopback) return 1;
  if (!zHost) return 0;
  for (i = 0; i < sizeof(azName) / sizeof(azName[0]); i++) {
    size_t n = strlen(azName[i]);
    if (strncmp(zHost, azName[i], n) == 0) {
      const char *z = zHost + n;
      if (*z == 0) return 1;
      if (*z == ':' && atoi(z + 1) == g.iPort) return 1;
    }
  }
  return 0;
}

typedef struct ArgCheck {
  int nLimit;      /* ?limit, or BOARD_DEFAULT_LIMIT */
  int bAllowLimit; /* this endpoint takes ?limit */
  char *zErr;      /* the first bad argument */
} ArgCheck;

static enum MHD_Result checkArg(void *pArg, enum MHD_ValueKind kind,
                                const char *zKey, const char *zValue) {
  ArgCheck *p = pArg;
  (void)kind;
  if (p->zErr) return MHD_NO;
  if (p->bAllowLimit && strcmp(zKey, "limit") == 0) {
    char *zEnd = 0;
    long n;
    errno = 0;
    n = zValue && zValue[0] ? strtol(zValue, &zEnd, 10) : -1;
    if (!zValue || !zValue[0] || *zEnd || errno || n < 1 ||
        n > BOARD_MAX_LIMIT) {
      p->zErr = sqlite3_mprintf("limit must be an integer from 1 to %d "
                                "(got '%s')",
                                BOARD_MAX_LIMIT, zValue ? zValue : "");
      return MHD_NO;
    }
    p->nLimit = (int)n;
    return MHD_YES;
  }
  p->zErr = sqlite3_mprintf("unknown query parameter '%s'%s", zKey,
                            p->bAllowLimit ? " (limit)" : "");
  return MHD_NO;
}

static enum MHD_Result sendReply(struct MHD_Connection *pConn, Reply *r) {
  struct MHD_Response *pResp;
  enum MHD_Result ret;
  const char *zBody = r->zBody ? r->zBody : "";
  pResp = MHD_create_response_from_buffer(strlen(zBody), (void *)zBody,
                                          MHD_RESPMEM_MUST_COPY);
  sqlite3_free(r->zBody);
  r->zBody = 0;
  if (!pResp) return MHD_NO;
  MHD_add_response_header(pResp, "Content-Type", r->zType);
  MHD_add_response_header(pResp, "Cache-Control", "no-store");
  MHD_add_response_header(pResp, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(pResp, "Referrer-Policy", "no-referrer");
  MHD_add_response_header(pResp, "X-Frame-Options", "DENY");
  MHD_add_response_header(pResp, "Content-Security-Policy",
                          "default-src 'self'; frame-ancestors 'none'");
  if (r->iStatus == 401) {
    MHD_add_response_header(pResp, "WWW-Authenticate",
                            "Bearer realm=\"statevtab-board\"");
  }
  ret = MHD_queue_response(pConn, (unsigned)r->iStatus, pResp);
  MHD_destroy_response(pResp);
  return ret;
}

static const struct {
  const char *zPath, *zType, *zBody;
} aAsset[] = {
    {"/", "text/html; charset=utf-8", zAssetIndexHtml},
    {"/board.js", "text/javascript; charset=utf-8", zAssetBoardJs},
    {"/board.css", "text/css; charset=utf-8", zAssetBoardCss},
};

static void route(struct MHD_Connection *pConn, const char *zUrl,
                  const char *zMethod, Request *pReq, Reply *r) {
  int bGet = strcmp(zMethod, "GET") == 0 || strcmp(zMethod, "HEAD") == 0;
  int bPost = strcmp(zMethod, "POST") == 0;
  const Action *pAction = 0;
  ArgCheck ac;
  size_t i;
  char *zErr = 0;
  int bFull = 0;
  BoardDb *pDb;

  if (!hostAllowed(
          MHD_lookup_connection_value(pConn, MHD_HEADER_KIND, "Host"))) {
    replyError(r, 403,
               "host not allowed: the board listens on loopback "
               "and answers only 127.0.0.1, localhost or [::1]");
    return;
  }
  memset(&ac, 0, sizeof(ac));
  ac.nLimit = BOARD_DEFAULT_LIMIT;
  ac.bAllowLimit = strcmp(zUrl, "/api/state") == 0;
  MHD_get_connection_values(pConn, MHD_GET_ARGUMENT_KIND, checkArg, &ac);
  if (ac.zErr) {
    replyError(r, 400, "%s: %s", zUrl, ac.zErr);
    sqlite3_free(ac.zErr);
    return;
  }
  for (i = 0; i < sizeof(aAsset) / sizeof(aAsset[0]); i++) {
    if (strcmp(zUrl, aAsset[i].zPath) == 0) {
      if (!bGet) {
        replyError(r, 405, "%s: method %s not allowed (GET)", zUrl, zMethod);
        return;
      }
      r->iStatus = 200;
      r->zType = aAsset[i].zType;
      r->zBody = sqlite3_mprintf("%s", aAsset[i].zBody);
      if (!r->zBody) replyError(r, 500, "out of memory");
      return;
    }
  }
  for (i = 0; i < sizeof(aAction) / sizeof(aAction[0]); i++) {
    if (strcmp(zUrl, aAction[i].zPath) == 0) pAction = &aAction[i];
  }
  if (!pAction && strcmp(zUrl, "/api/state") != 0) {
    replyError(r, 404,
               "%s: no such page (/, /api/state, POST /api/pause, "
               "/api/resume, /api/cancel, /api/redrive, "
               "/api/dead/delete, /api/flag)",
               zUrl);
    return;
  }
  if (pAction ? !bPost : !bGet) {
    replyError(r, 405, "%s: method %s not allowed (%s)", zUrl, zMethod,
               pAction ? "POST" : "GET");
    return;
  }
  if (pAction) {
    const char *zAuth =
        MHD_lookup_connection_value(pConn, MHD_HEADER_KIND, "Authorization");
    const char *zType =
        MHD_lookup_connection_value(pConn, MHD_HEADER_KIND, "Content-Type");
    if (!zAuth || strncmp(zAuth, "Bearer ", 7) != 0) {
      replyError(r, 401,
                 "%s: a write needs the board's token "
                 "(Authorization: Bearer TOKEN)",
                 zUrl);
      return;
    }
    if (!tokenEqual(zAuth + 7, g.zToken)) {
      replyError(r, 403, "%s: wrong token", zUrl);
      return;
    }
    if (pReq->bTooLarge) {
      replyError(r, 413, "%s: the body is larger than %d bytes", zUrl,
                 BOARD_MAX_BODY);
      return;
    }
    if (!zType || strncmp(zType, "application/json", 16) != 0) {
      replyError(r, 400, "%s: Content-Type must be application/json", zUrl);
      return;
    }
  }
  pDb = dbGet(&zErr, &bFull);
  if (!pDb) {
    replyError(r, bFull ? 503 : 500, "%s", zErr);
    sqlite3_free(zErr);
    return;
  }
  if (pAction) {
    doAction(pDb->db, pAction, pReq->zBody ? pReq->zBody : "", pReq->nBody, r);
  } else {
    doState(pDb->db, ac.nLimit, r);
  }
  dbPut(pDb);
}

static enum MHD_Result onRequest(void *pCls, struct MHD_Connection *pConn,
                                 const char *zUrl, const char *zMethod,
                                 const char *zVersion, const char *zUpload,
                                 size_t *pnUpload, void **ppReq) {
  Request *pReq = *ppReq;
  Reply r;
  (void)pCls;
  (void)zVersion;
  if (!pReq) {
    pReq = sqlite3_malloc64(sizeof(*pReq));
    if (!pReq) return MHD_NO;
    memset(pReq, 0, sizeof(*pReq));
    *ppReq = pReq;
    return MHD_YES;
  }
  if (*pnUpload) {
    if (!pReq->bTooLarge && pReq->nBody + *pnUpload <= BOARD_MAX_BODY) {
      char *zNew = sqlite3_realloc64(pReq->zBody, pReq->nBody + *pnUpload + 1);
      if (!zNew) return MHD_NO;
      memcpy(zNew + pReq->nBody, zUpload, *pnUpload);
      pReq->nBody += *pnUpload;
      zNew[pReq->nBody] = 0;
      pReq->zBody = zNew;
    } else {
      pReq->bTooLarge = 1;
    }
    *pnUpload = 0;
    return MHD_YES;
  }
  memset(&r, 0, sizeof(r));
  r.zType = "application/json";
  route(pConn, zUrl, zMethod, pReq, &r);
  return sendReply(pConn, &r);
}

static void onCompleted(void *pCls, struct MHD_Connection *pConn, void **ppReq,
                        enum MHD_RequestTerminationCode e) {
  Request *pReq = *ppReq;
  (void)pCls;
  (void)pConn;
  (void)e;
  if (pReq) {
    sqlite3_free(pReq->zBody);
    sqlite3_free(pReq);
    *ppReq = 0;
  }
}

/* ---------------------------------------------------------------------------
** main
*/

/* The default extension: statevtab.so next to this executable (a build
** tree), else in ../lib from it (an install under any prefix, also
** `make install prefix=DIR`), else in the libdir configure chose. */
static char *defaultExt(void) {
  static const char *azRel[] = {"", "/../lib"};
  char zSelf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", zSelf, sizeof(zSelf) - 1);
  size_t i;
  if (n > 0) {
    char *zSlash;
    zSelf[n] = 0;
    zSlash = strrchr(zSelf, '/');
    for (i = 0; zSlash && i < sizeof(azRel) / sizeof(azRel[0]); i++) {
      char *z = sqlite3_mprintf("%.*s%s/statevtab.so", (int)(zSlash - zSelf),
                                zSelf, azRel[i]);
      if (z && access(z, R_OK) == 0) return z;
      sqlite3_free(z);
    }
  }
  return sqlite3_mprintf("%s/statevtab.so", SV_BOARD_LIBDIR);
}

static int parseInt(const char *z, long lo, long hi, long *pOut) {
  char *zEnd = 0;
  long n;
  errno = 0;
  if (!z || !*z) return 0;
  n = strtol(z, &zEnd, 10);
  if (*zEnd || errno || n < lo || n > hi) return 0;
  *pOut = n;
  return 1;
}

static int usageError(const char *zFmt, const char *zArg) {
  fprintf(stderr, "statevtab-board: ");
  fprintf(stderr, zFmt, zArg);
  fprintf(stderr, "\n%s", zUsage);
  return 2;
}

int main(int argc, char **argv) {
  const char *zBind = "127.0.0.1", *zExt = 0, *zToken = 0;
  long iPort = 8080, nSample = 10000;
  struct sockaddr_storage addr;
  socklen_t nAddr;
  struct MHD_Daemon *pDaemon;
  const union MHD_DaemonInfo *pInfo;
  pthread_t sampler;
  sigset_t sigs;
  BoardDb *pFirst;
  char *zErr = 0;
  int i, sig, rc = 0;

  g.zDb = 0;
  for (i = 1; i < argc; i++) {
    const char *z = argv[i];
    if (strcmp(z, "--help") == 0 || strcmp(z, "-h") == 0) {
      fputs(zUsage, stdout);
      return 0;
    }
    if (z[0] == '-' && z[1] == '-') {
      const char *zVal = i + 1 < argc ? argv[i + 1] : 0;
      if (!zVal) return usageError("option %s needs a value", z);
      i++;
      if (strcmp(z, "--port") == 0) {
        if (!parseInt(zVal, 0, 65535, &iPort)) {
          return usageError("--port must be 0 to 65535 (got '%s')", zVal);
        }
      } else if (strcmp(z, "--bind") == 0) {
        zBind = zVal;
      } else if (strcmp(z, "--token") == 0) {
        if (strlen(zVal) < 16) {
          return usageError("--token must be at least 16 characters%s", "");
        }
        zToken = zVal;
      } else if (strcmp(z, "--ext") == 0) {
        zExt = zVal;
      } else if (strcmp(z, "--sample-ms") == 0) {
        if (!parseInt(zVal, 100, 3600000, &nSample)) {
          return usageError("--sample-ms must be 100 to 3600000 (got '%s')",
                            zVal);
        }
      } else {
        return usageError("unknown option %s", z);
      }
    } else if (!g.zDb) {
      g.zDb = z;
    } else {
      return usageError("one database only (got '%s' too)", z);
    }
  }
  if (!g.zDb) return usageError("no database given%s", "");

  memset(&addr, 0, sizeof(addr));
  {
    struct sockaddr_in *p4 = (struct sockaddr_in *)&addr;
    struct sockaddr_in6 *p6 = (struct sockaddr_in6 *)&addr;
    if (inet_pton(AF_INET, zBind, &p4->sin_addr) == 1) {
      p4->sin_family = AF_INET;
      p4->sin_port = htons((uint16_t)iPort);
      nAddr = sizeof(*p4);
      g.bLoopback = (ntohl(p4->sin_addr.s_addr) >> 24) == 127;
    } else if (inet_pton(AF_INET6, zBind, &p6->sin6_addr) == 1) {
      p6->sin6_family = AF_INET6;
      p6->sin6_port = htons((uint16_t)iPort);
      nAddr = sizeof(*p6);
      g.bLoopback = IN6_IS_ADDR_LOOPBACK(&p6->sin6_addr);
    } else {
      return usageError("--bind must be an IPv4 or IPv6 address (got '%s')",
                        zBind);
    }
  }
  (void)nAddr;

  g.nSampleMs = (int)nSample;
  g.zExt = zExt ? sqlite3_mprintf("%s", zExt) : defaultExt();
  if (zToken) {
    g.zToken = sqlite3_mprintf("%s", zToken);
  } else {
    unsigned char aRand[24];
    sqlite3_str *s = sqlite3_str_new(0);
    size_t k;
    if (getrandom(aRand, sizeof(aRand), 0) != (ssize_t)sizeof(aRand)) {
      fprintf(stderr, "statevtab-board: getrandom failed: %s\n",
              strerror(errno));
      return 1;
    }
    for (k = 0; k < sizeof(aRand); k++)
      sqlite3_str_appendf(s, "%02x", aRand[k]);
    g.zToken = sqlite3_str_finish(s);
  }
  if (!g.zExt || !g.zToken) {
    fprintf(stderr, "statevtab-board: out of memory\n");
    return 1;
  }
  pthread_mutex_init(&g.mu, 0);
  pthread_cond_init(&g.cv, 0);

  /* Open the first connection now, so that a wrong path or extension is
  ** reported before anything listens. */
  pFirst = dbOpen(&zErr);
  if (!pFirst) {
    fprintf(stderr, "statevtab-board: %s\n", zErr);
    sqlite3_free(zErr);
    rc = 1;
    goto out;
  }
  {
    TableList tl;
    if (tablesLoad(pFirst->db, &tl, &zErr) != SQLITE_OK) {
      fprintf(stderr, "statevtab-board: %s: %s\n", g.zDb, zErr);
      sqlite3_free(zErr);
      dbClose(pFirst);
      rc = 1;
      goto out;
    }
    printf("statevtab-board: %s: %d statevtab table%s\n", g.zDb, tl.n,
           tl.n == 1 ? "" : "s");
    tablesFree(&tl);
  }
  g.nOpen = 1;
  dbPut(pFirst);

  /* The signals main waits for: blocked in every thread. */
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, 0);
  signal(SIGPIPE, SIG_IGN);

  pDaemon = MHD_start_daemon(
      MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
          MHD_USE_ERROR_LOG | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
      (uint16_t)iPort, 0, 0, onRequest, 0, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&addr, MHD_OPTION_NOTIFY_COMPLETED, onCompleted, 0,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)128, MHD_OPTION_CONNECTION_TIMEOUT,
      (unsigned)60, MHD_OPTION_END);
  if (!pDaemon) {
    fprintf(stderr, "statevtab-board: cannot listen on %s port %ld: %s\n",
            zBind, iPort, strerror(errno));
    rc = 1;
    goto out;
  }
  pInfo = MHD_get_daemon_info(pDaemon, MHD_DAEMON_INFO_BIND_PORT);
  g.iPort = pInfo ? pInfo->port : (int)iPort;
  {
    const char *zHost = addr.ss_family == AF_INET6 ? "[" : "";
    const char *zHostEnd = addr.ss_family == AF_INET6 ? "]" : "";
    printf("statevtab-board: listening on http://%s%s%s:%d/ (%s)\n", zHost,
           zBind, zHostEnd, g.iPort,
           g.bLoopback ? "loopback only; --bind ADDR to change"
                       : "NOT loopback: reachable from the network");
    if (zToken) {
      printf("statevtab-board: writes need the token given with --token\n");
    } else {
      printf("statevtab-board: write token %s (open "
             "http://%s%s%s:%d/#token=%s)\n",
             g.zToken, zHost, zBind, zHostEnd, g.iPort, g.zToken);
    }
    printf("statevtab-board: extension %s\n", g.zExt);
    fflush(stdout);
  }
  if (pthread_create(&sampler, 0, samplerMain, 0) != 0) {
    fprintf(stderr, "statevtab-board: cannot start the sampler thread\n");
    MHD_stop_daemon(pDaemon);
    rc = 1;
    goto out;
  }
  sigwait(&sigs, &sig);
  printf("statevtab-board: stopping (signal %d)\n", sig);
  fflush(stdout);
  MHD_stop_daemon(pDaemon);
  pthread_mutex_lock(&g.mu);
  g.bStop = 1;
  pthread_cond_broadcast(&g.cv);
  pthread_mutex_unlock(&g.mu);
  pthread_join(sampler, 0);

out:
  while (g.pFree) {
    BoardDb *p = g.pFree;
    g.pFree = p->pNext;
    dbClose(p);
  }
  for (i = 0; i < g.nSeries; i++) {
    sqlite3_free(g.aSeries[i].zTable);
    sqlite3_free(g.aSeries[i].zQueue);
  }
  sqlite3_free(g.aSeries);
  sqlite3_free(g.zExt);
  sqlite3_free(g.zToken);
  return rc;
}
