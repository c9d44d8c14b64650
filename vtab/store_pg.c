/*
** 2026-11-22
**
** store_pg.c -- the PostgreSQL store (libpq).
**
**   CREATE VIRTUAL TABLE tasks USING state_tasks(
**       store='postgresql://app@db.example/app', schema='shop');
**   CREATE VIRTUAL TABLE tasks USING state_tasks(store='env:STATE_PG');
**
** HOW IT WORKS
**
** One libpq connection per store (database connection and URL).  A table
** lives in <schema>.<kind> (default schema "statevtab"): every SQLite table,
** in any process, that names the same store and schema sees the same rows.
** The first table of a schema creates its eight tables, indexes and server
** functions (sql/postgresql.sql, embedded at build time) idempotently under
** an advisory lock.  Tasks keep few indexes (entityDdl): every claim and
** completion writes each of them; indexes= adds one on the shared table
** (ensureIndexes).  Every row has a bigserial _rid, the row handle of the
** store interface.  Text columns use COLLATE "C" so that comparisons and
** ORDER BY follow SQLite's byte order.
**
** Every value is bound (PQexecParams, text format, with an explicit cast per
** parameter); identifiers are quoted with PQescapeIdentifier; the session
** runs with an empty search_path and every object is schema-qualified.
**
** Transactions: xBegin queues BEGIN, xSync sends COMMIT (so a failed
** commit fails the SQLite commit), xRollback ROLLBACK; SQLite savepoints map
** to SAVEPOINT sv_N.  Inside an explicit SQLite transaction, each write is
** wrapped in its own SAVEPOINT so that a failed write (a duplicate key) does
** not abort the PostgreSQL transaction.  Scans made inside a transaction
** lock the rows they return (FOR UPDATE), so that an UPDATE ... WHERE
** version = ? is a true compare-and-set.
**
** Round trips (pgPipeline): commands nobody waits for (BEGIN, SAVEPOINT,
** RELEASE, ROLLBACK TO) are deferred (aQ) and sent in pipeline mode ahead
** of the next statement that needs an answer.  Rows that the server cannot
** refuse (canBuffer: a generated id, no idempotency key) are buffered and
** sent the same way, as one INSERT ... SELECT FROM unnest per table, with
** row handles reserved ahead from the table's sequence; should they fail
** anyway, the transaction is doomed (pgDoom) and can only roll back.
** Statements with parameters are prepared once per connection.
**
** The atomic primitives are single calls of the server functions, on the
** server's clock.  A lost connection fails the statement in flight with
** SQLITE_IOERR; the next statement reconnects.  Serialization failures and
** deadlocks outside a transaction are retried a few times.
**
** Every round trip is asynchronous (pgRoundTrip): a server that stops
** answering fails the statement after command_timeout ms (SQLITE_IOERR),
** and sqlite3_interrupt() ends the wait (SQLITE_INTERRUPT); both drop the
** connection.
**
** Passwords (of the URL, a password= key, PGPASSWORD) are scrubbed from
** every message that carries libpq's or the server's text (pgScrub), and a
** URL with a raw '@' in its password is refused before connecting.
*/
#include "svint.h"

#include <libpq-fe.h>

#include "pq_api.h"
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>

static const char zPgScript[] =
#include "pg_sql.h"
    ;

#define PG_RETRIES 5

/* Behind a pooler without listen=, state_wait and the waits of state_lease
** and state_take look again this often, in ms (no notification arrives). */
#define PG_POOL_POLL_MS 200

/* command_timeout: the default (as on Redis) and the largest accepted,
** in ms. */
#define PG_CMD_MS 10000
#define PG_CMD_MS_MAX SV_MS_MAX

typedef struct PgSchema PgSchema;
struct PgSchema {
  char *zName;
  PgSchema *pNext;
};

/* At most this many password texts are remembered per store (see
** secretAdd); the sources of them are few. */
#define PG_NSECRET 32

/* Prepared statements per connection (PQsendPrepare once, then
** PQsendQueryPrepared): every statement with parameters, up to this many
** texts; later texts are parsed each time. */
#define PG_NSTMT 96

/* Buffered rows: a batch INSERT holds at most PG_BATCH rows, and the
** store sends what it holds once PG_BUFFER rows wait (else at the next
** statement that needs an answer).  Row handles are reserved PG_RID_MAX at a
** time at most. */
#define PG_BATCH 1000
#define PG_BUFFER 2000
#define PG_RID_MAX 1024

/*
** A deferred command, sent ahead of the next statement that needs an answer
** from the server, in the same round trip (pipeline): BEGIN, SAVEPOINT,
** RELEASE, ROLLBACK TO, or a batch of buffered rows (nCol > 0: one
** INSERT ... SELECT FROM unnest($1, $2, ...) whose arrays aCol build; see
** batchSql).
*/
typedef struct PgQueued {
  char *zSql;         /* the command (owned); a batch: the table */
  int bBegin;         /* the transaction's BEGIN */
  int nCol;           /* a batch: number of arrays (row handle + columns) */
  int nRow;           /* a batch: rows in it */
  sqlite3_str **aCol; /* a batch: per array, its literal so far; NULL for
                      ** a column that is NULL in every row so far */
  const statevtab_entity *pEntity; /* a batch: the rows' entity */
  const void *pOf; /* a batch: the table whose rows it holds (more rows
                   ** of that table join it), NULL once it is detached */
} PgQueued;

typedef struct PgStmt {
  char *zSql; /* text of the statement prepared as "svp<index>" */
  unsigned h; /* hash of zSql */
} PgStmt;

typedef struct PgStore {
  statevtab_store base; /* must be first */
  sqlite3 *db;
  char *zUrl;                 /* connection string (after env: resolution) */
  char *zSafe;                /* the same, password redacted */
  sqlite3_int64 iCmdMs;       /* command timeout: the smallest of the tables' */
  int bCmdSet;                /* ... a table gave one (else the default) */
  int nSecret;                /* entries of azSecret in use */
  char *azSecret[PG_NSECRET]; /* password texts never to show in a message */
  PGconn *pg;                 /* NULL while disconnected */
  int bTxn;                   /* BEGIN sent */
  int bLostTxn;       /* the connection went with a transaction open: fail until
                      ** SQLite ends it (see pgHangUp) */
  int nSave;          /* SAVEPOINT sv_0 .. sv_{nSave-1} open */
  int nWrite;         /* nested write savepoints (explicit transactions) */
  PgSchema *pSchemas; /* schemas set up through this store */
  char **azListen;    /* channels this connection LISTENs to ... */
  int nListen;        /* ... nListen of them (LISTENed again on reconnect) */
  sqlite3_uint64 iChanged; /* xChanged: flags and segments changes seen, and
                           ** connections made (what came before, unseen) */
  int bBegun;              /* the BEGIN of the open transaction was sent */
  PgQueued **aQ;           /* deferred commands, oldest first (see PgQueued) */
  int nQ, nQAlloc;
  int nQRow;      /* rows buffered in aQ */
  char *zDoom;    /* a deferred command failed: its message; every statement
                  ** and the COMMIT fail with it until SQLite rolls back */
  int rcDoom;     /* ... and its code */
  int nStmt;      /* entries of aStmt in use */
  int bNoPrepare; /* the server lost a prepared statement (a pooler): stop */
  int bPooler;    /* pooler=transaction: no session state (see stripPooler) */
  char *zListen;  /* listen=: the direct server LISTENs go to (pooler) */
  PGconn *pgL;    /* ... its connection, or NULL */
  PgStmt aStmt[PG_NSTMT];
  sv_idgen ids; /* dead letter ids, passed to sv_claim and sv_fail */
  /* A row the open transaction buffered (the first), by which pgSettle
  ** tells whether a COMMIT whose reply was lost was applied; NULL: none. */
  struct PgTable *pMarkTab;
  sqlite3_int64 iMarkRid;
  int iSettleConnS; /* pgSettle's connect timeout (s), 0: libpq's default */
} PgStore;

typedef struct PgTable {
  statevtab_table base; /* must be first */
  PgStore *p;
  char *zSchema;       /* schema name */
  char *zQ;            /* the same, quoted */
  char *zT;            /* "schema"."kind" */
  char *zTakeOut;      /* the last payload xTake returned (owned) */
  sqlite3_int64 *aRid; /* reserved row handles aRid[iRid..nRid) */
  int iRid, nRid;
  int nRidNext;      /* how many to reserve next time */
  int bNoBuffer;     /* rows of the entity have versions or an expiry: never
                     ** buffered (see canBuffer) */
  const char *zChan; /* its wake-up channel, LISTENed (in p->azListen), or
                     ** NULL before the first wait */
  sv_dedup dd;       /* dedup= of a tasks table (see dedupLock) */
} PgTable;

typedef struct PgCursor {
  statevtab_cursor base; /* must be first */
  PGresult *res;
  int iRow, nRow;
  char *zAny; /* the last value of a column of any type, decoded */
} PgCursor;

extern const statevtab_store_methods sv_pg_store;

/* --------------------------------------------------------------- errors */

static void pgError(PgStore *p, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
}

/* ------------------------------------------------------------- secrets */

/*
** Remember z[0..n) (n < 0: strlen) as a password text that no message may
** show.  Empty texts and repeats are ignored, and so are texts beyond
** PG_NSECRET (there are never that many sources).  SQLITE_OK or
** SQLITE_NOMEM.
*/
static int secretAdd(PgStore *p, const char *z, int n) {
  int i;
  if (n < 0) n = (int)strlen(z);
  if (n == 0) return SQLITE_OK;
  for (i = 0; i < p->nSecret; i++) {
    if ((int)strlen(p->azSecret[i]) == n &&
        memcmp(p->azSecret[i], z, (size_t)n) == 0) {
      return SQLITE_OK;
    }
  }
  if (p->nSecret >= PG_NSECRET) return SQLITE_OK;
  p->azSecret[p->nSecret] = sqlite3_mprintf("%.*s", n, z);
  if (!p->azSecret[p->nSecret]) return SQLITE_NOMEM;
  p->nSecret++;
  return SQLITE_OK;
}

/*
** Remember z[0..n) as written in a URI and, when it holds %XX escapes,
** also decoded (libpq's messages may show either form).
*/
static int secretAddUri(PgStore *p, const char *z, int n) {
  int rc = secretAdd(p, z, n);
  if (rc == SQLITE_OK && memchr(z, '%', (size_t)n)) {
    char *zDec = sqlite3_malloc64((sqlite3_uint64)n + 1);
    int i, j = 0;
    if (!zDec) return SQLITE_NOMEM;
    for (i = 0; i < n; i++) {
      if (z[i] == '%' && i + 2 < n && sv_hex_digit(z[i + 1]) >= 0 &&
          sv_hex_digit(z[i + 2]) >= 0) {
        zDec[j++] =
            (char)(sv_hex_digit(z[i + 1]) * 16 + sv_hex_digit(z[i + 2]));
        i += 2;
      } else {
        zDec[j++] = z[i];
      }
    }
    rc = secretAdd(p, zDec, j);
    sqlite3_free(zDec);
  }
  return rc;
}

/*
** Learn the passwords of connection string zUrl: what libpq parses
** (PQconninfoParse), and -- for strings libpq cannot parse, whose errors
** quote pieces of them -- the userinfo password of a URI as libpq
** delimits it (from "://" to the first '@' before any '/') and the value of
** every "password = ..." (key=value strings, URI query parameters).
** SQLITE_OK or SQLITE_NOMEM.
*/
static int secretsFromUrl(PgStore *p, const char *zUrl) {
  PQconninfoOption *aOpt, *o;
  char *zErr = 0;
  const char *z;
  int rc = SQLITE_OK;
  aOpt = PQconninfoParse(zUrl, &zErr);
  if (zErr) PQfreemem(zErr);
  for (o = aOpt; o && o->keyword && rc == SQLITE_OK; o++) {
    if (o->val && strcmp(o->keyword, "password") == 0) {
      rc = secretAdd(p, o->val, -1);
    }
  }
  if (aOpt) PQconninfoFree(aOpt);
  z = strstr(zUrl, "://");
  if (rc == SQLITE_OK && z) {
    const char *zUser = z + 3;
    size_t n = strcspn(zUser, "@/");
    const char *zColon = memchr(zUser, ':', n);
    const char *zAt = strrchr(zUser, '@'), *q;
    if (zUser[n] == '@' && zColon) {
      rc = secretAddUri(p, zColon + 1, (int)(zUser + n - zColon - 1));
    }
    /* As the user may have meant it: up to the last '@' (a password with a
    ** raw '/' or '@'), and each piece of it of 4 bytes or more between such
    ** characters, since libpq then reads pieces as a host or a port and
    ** quotes them. */
    zColon = zAt ? memchr(zUser, ':', (size_t)(zAt - zUser)) : 0;
    if (rc == SQLITE_OK && zColon) {
      rc = secretAddUri(p, zColon + 1, (int)(zAt - zColon - 1));
      for (q = zColon + 1; rc == SQLITE_OK && q < zAt;) {
        int m = (int)strcspn(q, "/?#@:&=");
        if (q + m > zAt) m = (int)(zAt - q);
        /* (Pieces of 1 to 3 bytes would blank out ordinary words.) */
        if (m >= 4) rc = secretAddUri(p, q, m);
        q += m + 1;
      }
    }
    /* Every query parameter's value (libpq quotes a bad one). */
    for (q = strchr(zUser, '?'); rc == SQLITE_OK && q && *q;) {
      const char *zEq;
      int m;
      q++;
      m = (int)strcspn(q, "&#");
      zEq = memchr(q, '=', (size_t)m);
      if (zEq) rc = secretAddUri(p, zEq + 1, (int)(q + m - zEq - 1));
      q += m;
      if (*q != '&') break;
    }
  }
  for (z = zUrl; rc == SQLITE_OK && (z = strstr(z, "password")) != 0;) {
    const char *q = z + 8;
    z = q;
    while (*q == ' ' || *q == '\t') q++;
    if (*q++ != '=') continue;
    while (*q == ' ' || *q == '\t') q++;
    if (*q == '\'') {
      /* libpq's quoting: '...' with backslash escapes */
      sqlite3_str *s = sqlite3_str_new(0);
      const char *zStart = ++q;
      char *zVal;
      while (*q && *q != '\'') {
        if (*q == '\\' && q[1]) q++;
        sqlite3_str_appendchar(s, 1, *q++);
      }
      rc = secretAdd(p, zStart, (int)(q - zStart));
      if (sqlite3_str_errcode(s) != SQLITE_OK) rc = SQLITE_NOMEM;
      zVal = sqlite3_str_finish(s);
      if (rc == SQLITE_OK && zVal) rc = secretAdd(p, zVal, -1);
      sqlite3_free(zVal);
    } else {
      rc = secretAddUri(p, q, (int)strcspn(q, " \t\r\n&"));
    }
    z = q;
  }
  return rc;
}

/*
** A copy of z (a libpq or server message, a URL) with every remembered
** password text replaced by "***" (the longest that matches first), cut at
** its first newline when bLine.  From sqlite3_malloc; NULL on OOM.
*/
static char *pgScrub(PgStore *p, const char *z, int bLine) {
  sqlite3_str *s = sqlite3_str_new(0);
  size_t i, n;
  char *zOut;
  if (!z) z = "";
  n = bLine ? strcspn(z, "\n") : strlen(z);
  for (i = 0; i < n;) {
    size_t nBest = 0;
    int k;
    for (k = 0; k < p->nSecret; k++) {
      size_t m = strlen(p->azSecret[k]);
      if (m > nBest && m <= n - i && memcmp(z + i, p->azSecret[k], m) == 0) {
        nBest = m;
      }
    }
    if (nBest) {
      sqlite3_str_appendall(s, "***");
      i += nBest;
    } else {
      sqlite3_str_appendchar(s, 1, z[i++]);
    }
  }
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return 0;
  }
  zOut = sqlite3_str_finish(s);
  return zOut ? zOut : sqlite3_mprintf("");
}

/* ----------------------------------------------------------- parameters */

/* Text-format parameters, each a nul-terminated copy (NULL = SQL NULL). */
typedef struct PgParams {
  int n, nAlloc;
  char **az;
  int rc;
} PgParams;

static void paramsFree(PgParams *a) {
  int i;
  for (i = 0; i < a->n; i++) sqlite3_free(a->az[i]);
  sqlite3_free(a->az);
  memset(a, 0, sizeof(*a));
}

/* Append z (owned now; NULL for SQL NULL unless bNomem). Returns $index. */
static int paramTake(PgParams *a, char *z, int bNull) {
  if (a->rc == SQLITE_OK && !z && !bNull) a->rc = SQLITE_NOMEM;
  if (a->rc == SQLITE_OK && a->n >= a->nAlloc) {
    int nNew = a->nAlloc ? a->nAlloc * 2 : 16;
    char **az = sqlite3_realloc64(a->az, sizeof(char *) * (size_t)nNew);
    if (!az) {
      a->rc = SQLITE_NOMEM;
    } else {
      a->az = az;
      a->nAlloc = nNew;
    }
  }
  if (a->rc != SQLITE_OK) {
    sqlite3_free(z);
    return 1;
  }
  a->az[a->n++] = z;
  return a->n;
}

static int paramText(PgParams *a, const char *z, int n) {
  if (n < 0) n = (int)strlen(z);
  if (memchr(z, 0, (size_t)n)) {
    if (a->rc == SQLITE_OK) a->rc = SQLITE_MISMATCH;
    return 1;
  }
  return paramTake(a, sqlite3_mprintf("%.*s", n, z), 0);
}

static int paramInt(PgParams *a, sqlite3_int64 i) {
  return paramTake(a, sqlite3_mprintf("%lld", i), 0);
}

static int paramValue(PgParams *a, const statevtab_value *v) {
  switch (v->eType) {
  case SQLITE_INTEGER:
    return paramInt(a, v->i);
  case SQLITE_FLOAT:
    return paramTake(a, sqlite3_mprintf("%!.17g", v->r), 0);
  case SQLITE_TEXT:
  case SQLITE_BLOB:
    return paramText(a, v->z ? v->z : "", v->n);
  default:
    return paramTake(a, 0, 1);
  }
}

/* A value of column pCol: tagged with its type (sv_any_encode) when the
** column holds any type. */
static int paramCol(PgParams *a, const statevtab_column *pCol,
                    const statevtab_value *v) {
  int n = 0;
  if (pCol->eType != STATEVTAB_ANY || v->eType == SQLITE_NULL) {
    return paramValue(a, v);
  }
  return paramTake(a, sv_any_encode(v, 1, &n), 0);
}

/* Append integer v to s (as "%lld" would, in a tenth of the time). */
static void appendInt(sqlite3_str *s, sqlite3_int64 v) {
  char z[24];
  int i = (int)sizeof(z);
  sqlite3_uint64 u = v < 0 ? 0 - (sqlite3_uint64)v : (sqlite3_uint64)v;
  do {
    z[--i] = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) z[--i] = '-';
  sqlite3_str_append(s, z + i, (int)sizeof(z) - i);
}

/*
** Append v to array literal s as one element: NULL, a number, or a quoted
** string with '"' and '\' escaped (copied in runs between those).
*/
static void arrayElem(sqlite3_str *s, const statevtab_value *v) {
  const char *z, *zEnd;
  switch (v->eType) {
  case SQLITE_INTEGER:
    appendInt(s, v->i);
    break;
  case SQLITE_FLOAT:
    sqlite3_str_appendf(s, "%!.17g", v->r);
    break;
  case SQLITE_TEXT:
  case SQLITE_BLOB:
    sqlite3_str_appendchar(s, 1, '"');
    for (z = v->z, zEnd = v->z + (v->n > 0 ? v->n : 0); z < zEnd;) {
      const char *q = z;
      while (q < zEnd && *q != '"' && *q != '\\') q++;
      if (q > z) sqlite3_str_append(s, z, (int)(q - z));
      if (q == zEnd) break;
      sqlite3_str_appendchar(s, 1, '\\');
      sqlite3_str_appendchar(s, 1, *q);
      z = q + 1;
    }
    sqlite3_str_appendchar(s, 1, '"');
    break;
  default:
    sqlite3_str_append(s, "NULL", 4);
    break;
  }
}

/* A PostgreSQL array literal of the n values av: {"a","b\"c",NULL,7}. */
static int paramArray(PgParams *a, int n, const statevtab_value *av) {
  sqlite3_str *s;
  int i;
  if (n <= 0) return paramTake(a, 0, 1);
  s = sqlite3_str_new(0);
  sqlite3_str_appendchar(s, 1, '{');
  for (i = 0; i < n; i++) {
    if (i) sqlite3_str_appendchar(s, 1, ',');
    if ((av[i].eType == SQLITE_TEXT || av[i].eType == SQLITE_BLOB) &&
        av[i].n > 0 && memchr(av[i].z, 0, (size_t)av[i].n) &&
        a->rc == SQLITE_OK) {
      a->rc = SQLITE_MISMATCH;
    }
    arrayElem(s, &av[i]);
  }
  sqlite3_str_appendchar(s, 1, '}');
  return paramTake(a, sqlite3_str_finish(s), 0);
}

/* ------------------------------------------------------ deferred commands */

static void queuedFree(PgQueued *q) {
  int i;
  if (!q) return;
  for (i = 0; i < q->nCol; i++) sqlite3_free(sqlite3_str_finish(q->aCol[i]));
  sqlite3_free(q->aCol);
  sqlite3_free(q->zSql);
  sqlite3_free(q);
}

/* Drop every deferred command (rolled back, or gone with the connection). */
static void queueClear(PgStore *p) {
  int i;
  for (i = 0; i < p->nQ; i++) queuedFree(p->aQ[i]);
  p->nQ = 0;
  p->nQRow = 0;
}

/* Append q (owned now, may be NULL: SQLITE_NOMEM) to the deferred commands. */
static int queueAdd(PgStore *p, PgQueued *q) {
  if (!q) return SQLITE_NOMEM;
  if (p->nQ >= p->nQAlloc) {
    int nNew = p->nQAlloc ? p->nQAlloc * 2 : 16;
    PgQueued **a = sqlite3_realloc64(p->aQ, sizeof(*a) * (size_t)nNew);
    if (!a) {
      queuedFree(q);
      return SQLITE_NOMEM;
    }
    p->aQ = a;
    p->nQAlloc = nNew;
  }
  p->aQ[p->nQ++] = q;
  return SQLITE_OK;
}

/* Defer command zSql (no parameters). */
static int queueRaw(PgStore *p, const char *zSql, int bBegin) {
  PgQueued *q = sqlite3_malloc64(sizeof(*q));
  if (!q) return SQLITE_NOMEM;
  memset(q, 0, sizeof(*q));
  q->bBegin = bBegin;
  q->zSql = sqlite3_mprintf("%s", zSql);
  if (!q->zSql) {
    sqlite3_free(q);
    return SQLITE_NOMEM;
  }
  return queueAdd(p, q);
}

/* Forget the prepared statements (the connection that held them is gone). */
static void stmtClear(PgStore *p) {
  int i;
  for (i = 0; i < p->nStmt; i++) sqlite3_free(p->aStmt[i].zSql);
  p->nStmt = 0;
}

/* ----------------------------------------------------------- connection */

static int pgRaw(PgStore *p, const char *zSql);
static int pgListenRaw(PgStore *p, const char *zChan);
static int pgLost(PgStore *p);
static int pgRoundTrip(PgStore *p, const char *zSql, int bParams, int nParam,
                       const char *const *az, PGresult **ppRes);

static void noticeQuiet(void *pArg, const char *zMsg) {
  (void)pArg;
  (void)zMsg;
}

/*
** Between statements the server has nothing to say, except NOTIFYs and,
** when it shut down, a FATAL message followed by end-of-file.  Read what is
** pending without blocking; 0 when the connection turned out to be closed.
*/
static int pgLive(PgStore *p) {
  int k;
  for (k = 0; k < 8; k++) {
    struct pollfd fd;
    fd.fd = PQsocket(p->pg);
    fd.events = POLLIN;
    fd.revents = 0;
    if (fd.fd < 0) return 0;
    if (poll(&fd, 1, 0) <= 0) return 1; /* nothing pending */
    if (!PQconsumeInput(p->pg)) return 0;
  }
  return PQstatus(p->pg) == CONNECTION_OK;
}

/*
** Remember the password of the connection, wherever libpq found it (the
** string, PGPASSWORD).  SQLITE_OK or SQLITE_NOMEM.
*/
static int secretsFromConn(PgStore *p) {
  PQconninfoOption *aOpt = PQconninfo(p->pg), *o;
  int rc = SQLITE_OK;
  for (o = aOpt; o && o->keyword && rc == SQLITE_OK; o++) {
    if (o->val && strcmp(o->keyword, "password") == 0) {
      rc = secretAdd(p, o->val, -1);
    }
  }
  if (aOpt) PQconninfoFree(aOpt);
  return rc;
}

/* Connect (again) when there is no live connection. */
static int pgEnsure(PgStore *p, int bOpen) {
  static const char *const azKey[] = {"connect_timeout",
                                      "fallback_application_name", "dbname", 0};
  const char *azVal[4];
  char zConnS[16];
  int rc, i;
  if (p->bLostTxn && !sqlite3_get_autocommit(p->db)) {
    pgError(p,
            "postgresql: the transaction was lost with the connection to %s "
            "(roll it back)",
            p->zSafe);
    return SQLITE_IOERR;
  }
  p->bLostTxn = 0;
  /* Outside a transaction, notice a connection the server closed since the
  ** last statement (a restart) and reconnect before using it: nothing is
  ** lost, and nothing is sent twice. */
  if (p->pg && !p->bTxn && PQstatus(p->pg) == CONNECTION_OK && !pgLive(p)) {
    PQfinish(p->pg);
    p->pg = 0;
  }
  if (p->pg && PQstatus(p->pg) == CONNECTION_OK) return SQLITE_OK;
  if (p->pg) {
    PQfinish(p->pg);
    p->pg = 0;
  }
  /* 10 s, the URL's own connect_timeout (it comes later), or pgSettle's. */
  sqlite3_snprintf(sizeof(zConnS), zConnS, "%d",
                   p->iSettleConnS ? p->iSettleConnS : 10);
  azVal[0] = zConnS;
  azVal[1] = "statevtab";
  azVal[2] = p->zUrl;
  azVal[3] = 0;
  p->pg = PQconnectdbParams(azKey, azVal, 1);
  if (!p->pg) return SQLITE_NOMEM;
  /* The password libpq used may come from PGPASSWORD too. */
  rc = secretsFromConn(p);
  if (rc == SQLITE_OK && PQstatus(p->pg) != CONNECTION_OK) {
    char *z = pgScrub(p, PQerrorMessage(p->pg), 1);
    if (z) {
      pgError(p, "postgresql: cannot connect to %s: %s", p->zSafe, z);
      rc = bOpen ? SQLITE_CANTOPEN : SQLITE_IOERR;
    } else {
      rc = SQLITE_NOMEM;
    }
    sqlite3_free(z);
  }
  if (rc != SQLITE_OK) {
    PQfinish(p->pg);
    p->pg = 0;
    return rc;
  }
  p->bTxn = 0;
  p->nSave = 0;
  p->nWrite = 0;
  /* Server NOTICEs ("... does not exist, skipping") are not for the user's
  ** terminal. */
  PQsetNoticeProcessor(p->pg, noticeQuiet, 0);
  /* Sends never block either: see pgRoundTrip. */
  if (PQsetnonblocking(p->pg, 1) != 0) return pgLost(p);
  /* Behind a pooler the session is not ours: set nothing on it (every
  ** name we use is qualified anyway), LISTEN elsewhere (see pgListen). */
  if (p->bPooler) return SQLITE_OK;
  /* No schema is searched: every name we use is qualified. */
  rc = pgRaw(p, "SELECT pg_catalog.set_config('search_path', '', false)");
  if (rc != SQLITE_OK) {
    return rc == SQLITE_NOMEM || rc == SQLITE_INTERRUPT ? rc : SQLITE_IOERR;
  }
  p->iChanged++; /* a new connection: the notifications of the old, lost */
  for (i = 0; i < p->nListen; i++) {
    rc = pgListenRaw(p, p->azListen[i]);
    if (rc != SQLITE_OK) return rc;
  }
  return SQLITE_OK;
}

/*
** PQnotifies, less the notifications of flags and segments changes
** ('svf_...', for xChanged), which it counts and drops.
*/
static PGnotify *pgNotifies(PgStore *p, PGconn *c) {
  PGnotify *n;
  while ((n = PQnotifies(c)) != 0 && strncmp(n->relname, "svf_", 4) == 0) {
    p->iChanged++;
    PQfreemem(n);
  }
  return n;
}

/*
** Forget the connection (the next statement reconnects).  A transaction
** open on it is gone with it (the server rolls it back); SQLite may not know
** yet -- an interrupted read does not end the transaction -- so the store
** fails every statement and the COMMIT of that transaction until SQLite
** rolls it back, rather than carry on outside of it.
*/
static void pgHangUp(PgStore *p) {
  if (p->bTxn) p->bLostTxn = 1;
  if (p->pg) PQfinish(p->pg);
  p->pg = 0;
  p->bTxn = 0;
  p->bBegun = 0;
  p->nSave = 0;
  p->nWrite = 0;
  queueClear(p);
  stmtClear(p);
  sqlite3_free(p->zDoom);
  p->zDoom = 0;
}

/* How often a wait on the server looks for sqlite3_interrupt(), in ms. */
#define PG_SLICE_MS 100

/*
** Wait until the socket of connection c is ready for events (POLLIN,
** POLLOUT) or iEnd (sv_mono_ms()) is reached, in slices of PG_SLICE_MS so
** that sqlite3_interrupt() is noticed; c NULL: just sleep until iEnd.
** Returns SQLITE_OK when ready, SQLITE_DONE at iEnd, SQLITE_INTERRUPT when
** interrupted, SQLITE_IOERR when c has no socket.  A socket that is ready at
*once costs no interrupt
** check (which may prepare a statement, see sv_interrupted).
*/
static int pgPollOn(PgStore *p, PGconn *c, short events, sqlite3_int64 iEnd) {
  for (;;) {
    struct pollfd fd;
    sqlite3_int64 iLeft = iEnd - sv_mono_ms();
    int n;
    if (iLeft <= 0) return SQLITE_DONE;
    /* No connection (a wait behind a pooler without listen=): sleep. */
    fd.fd = c ? PQsocket(c) : -1;
    fd.events = events;
    fd.revents = 0;
    if (c && fd.fd < 0) return SQLITE_IOERR;
    n = poll(c ? &fd : 0, c ? 1 : 0,
             (int)(iLeft < PG_SLICE_MS ? iLeft : PG_SLICE_MS));
    if (n > 0) return SQLITE_OK;
    /* A slice went by, or a signal (the shell's Ctrl-C) cut it short. */
    if (sv_interrupted(p->db)) return SQLITE_INTERRUPT;
  }
}

/* pgPollOn the store's connection. */
static int pgPoll(PgStore *p, short events, sqlite3_int64 iEnd) {
  return pgPollOn(p, p->pg, events, iEnd);
}

/*
** The connection broke (libpq's message says how): fail the statement with
** SQLITE_IOERR and drop the connection.
*/
static int pgLost(PgStore *p) {
  char *z = pgScrub(p, p->pg ? PQerrorMessage(p->pg) : "no connection", 1);
  if (z) pgError(p, "postgresql: connection lost (%s): %s", p->zSafe, z);
  sqlite3_free(z);
  pgHangUp(p);
  return z ? SQLITE_IOERR : SQLITE_NOMEM;
}

/*
** A wait for the server's reply that ended without one (rc from the wait:
** SQLITE_DONE = the command timeout passed, SQLITE_INTERRUPT, else the
** connection broke): set the message, drop the connection, return the
** error code.
*/
static int pgWaitFailed(PgStore *p, int rc) {
  if (rc == SQLITE_DONE) {
    pgError(p, "postgresql: no reply from %s within %lld ms (command timeout)",
            p->zSafe, p->iCmdMs);
    rc = SQLITE_IOERR;
  } else if (rc == SQLITE_INTERRUPT) {
    pgError(p, "postgresql: interrupted while waiting for %s", p->zSafe);
  } else {
    return pgLost(p);
  }
  pgHangUp(p);
  return rc;
}

/*
** One round trip: send zSql (with the nParam text parameters az through
** the extended protocol when bParams, else as a simple query, which may
** hold several statements) and collect its result, waiting at most the
** command timeout and giving up when sqlite3_interrupt() is called.
**
** SQLITE_OK: *ppRes (the caller's, PQclear it) holds the result -- the
** first failed one if a statement failed, else the last -- or NULL.  On a
** timeout (SQLITE_IOERR), an interrupt (SQLITE_INTERRUPT) or a broken
** connection (SQLITE_IOERR) the connection is dropped, since a reply may
** still be on its way, and the next statement reconnects.
**
** libpq's blocking calls (PQexec) would wait forever on a silent server
** (a half-open connection): keepalives do not end a wait for a reply.
*/
static int pgRoundTrip(PgStore *p, const char *zSql, int bParams, int nParam,
                       const char *const *az, PGresult **ppRes) {
  sqlite3_int64 iEnd = sv_mono_ms() + p->iCmdMs;
  PGresult *pLast = 0, *pFail = 0, *r;
  int rc = SQLITE_OK, bSent;
  *ppRes = 0;
  if (!p->pg) return pgLost(p);
  bSent = bParams ? PQsendQueryParams(p->pg, zSql, nParam, 0, az, 0, 0, 0)
                  : PQsendQuery(p->pg, zSql);
  if (!bSent) return pgLost(p);
  /* Non-blocking: the query may not all be sent yet. */
  for (;;) {
    int f = PQflush(p->pg);
    if (f == 0) break;
    if (f < 0) return pgLost(p);
    rc = pgPoll(p, POLLIN | POLLOUT, iEnd);
    if (rc != SQLITE_OK) goto give_up;
    if (!PQconsumeInput(p->pg)) return pgLost(p);
  }
  for (;;) {
    if (PQisBusy(p->pg)) {
      rc = pgPoll(p, POLLIN, iEnd);
      if (rc != SQLITE_OK) goto give_up;
      if (!PQconsumeInput(p->pg)) {
        PQclear(pLast);
        PQclear(pFail);
        return pgLost(p);
      }
      continue;
    }
    r = PQgetResult(p->pg);
    if (!r) break;
    switch (PQresultStatus(r)) {
    case PGRES_COMMAND_OK:
    case PGRES_TUPLES_OK:
    case PGRES_EMPTY_QUERY:
      PQclear(pLast);
      pLast = r;
      break;
    default:
      if (pFail) {
        PQclear(r);
      } else {
        pFail = r;
      }
      break;
    }
  }
  if (pFail) {
    PQclear(pLast);
    *ppRes = pFail;
  } else {
    *ppRes = pLast;
  }
  return SQLITE_OK;

give_up:
  PQclear(pLast);
  PQclear(pFail);
  return pgWaitFailed(p, rc);
}

/*
** Turn a failed result into an SQLite code and a message.  A broken
** connection is dropped (the next statement reconnects).
*/
static int pgResultError(PgStore *p, PGresult *res) {
  const char *zState = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : 0;
  const char *zMsg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : 0;
  if (!p->pg || PQstatus(p->pg) != CONNECTION_OK) {
    char *z = pgScrub(p, zMsg ? zMsg : PQerrorMessage(p->pg), 1);
    if (z) pgError(p, "postgresql: connection lost (%s): %s", p->zSafe, z);
    sqlite3_free(z);
    pgHangUp(p);
    return z ? SQLITE_IOERR : SQLITE_NOMEM;
  }
  if (zState && strcmp(zState, "23505") == 0) return SQLITE_CONSTRAINT;
  {
    char *z = pgScrub(p, zMsg ? zMsg : "error", 0);
    if (!z) return SQLITE_NOMEM;
    /* SV001: an error of the caller's input that sql/postgresql.sql raises
    ** with the same words as the other stores. */
    pgError(p, "%s%s",
            zState && strcmp(zState, "SV001") == 0 ? "" : "postgresql: ", z);
    sqlite3_free(z);
  }
  if (zState && (strcmp(zState, "40001") == 0 || strcmp(zState, "40P01") == 0 ||
                 strcmp(zState, "55P03") == 0)) {
    return SQLITE_BUSY;
  }
  return SQLITE_ERROR;
}

/* One statement of a pipeline (pgPipeline). */
typedef struct PgCmd {
  const char *zSql;
  int nParam;
  const char *const *az; /* text parameters (NULL: SQL NULL) */
  PGresult *pRes;        /* out: its first failed result, else its last
                         ** (PGRES_PIPELINE_ABORTED when skipped); PQclear */
} PgCmd;

/* What pgPipeline expects back, in order. */
typedef struct PgExpect {
  int eKind; /* 0 a Prepare of aStmt[i], 1 deferred command aQ[i], 2 aCmd[i] */
  int i;
} PgExpect;

static unsigned stmtHash(const char *z) {
  unsigned h = 2166136261u;
  for (; *z; z++) h = (h ^ (unsigned char)*z) * 16777619u;
  return h;
}

/*
** Queue zSql (with nParam parameters az) on the connection, which is in
** pipeline mode: as a prepared statement when it has parameters (prepared
** first, in the same pipeline, the first time), else parsed.  Appends what
** comes back to aExp.  0 when libpq refused (the connection is broken).
*/
static int pipeSend(PgStore *p, const char *zSql, int nParam,
                    const char *const *az, PgExpect *aExp, int *pnExp,
                    int eKind, int iItem) {
  char zName[24];
  int k = -1;
  if (nParam > 0 && !p->bNoPrepare) {
    unsigned h = stmtHash(zSql);
    for (k = 0; k < p->nStmt; k++) {
      if (p->aStmt[k].h == h && strcmp(p->aStmt[k].zSql, zSql) == 0) break;
    }
    if (k == p->nStmt) {
      if (k < PG_NSTMT && (p->aStmt[k].zSql = sqlite3_mprintf("%s", zSql))) {
        p->aStmt[k].h = h;
        p->nStmt++;
        sqlite3_snprintf(sizeof(zName), zName, "svp%d", k);
        if (!PQsendPrepare(p->pg, zName, zSql, nParam, 0)) return 0;
        aExp[*pnExp].eKind = 0;
        aExp[*pnExp].i = k;
        (*pnExp)++;
      } else {
        k = -1; /* full (or no memory): parse it each time */
      }
    }
  }
  if (k >= 0) {
    sqlite3_snprintf(sizeof(zName), zName, "svp%d", k);
    if (!PQsendQueryPrepared(p->pg, zName, nParam, az, 0, 0, 0)) return 0;
  } else {
    if (!PQsendQueryParams(p->pg, zSql, nParam, 0, az, 0, 0, 0)) return 0;
  }
  aExp[*pnExp].eKind = eKind;
  aExp[*pnExp].i = iItem;
  (*pnExp)++;
  return 1;
}

/*
** The message of failed result r, scrubbed (sqlite3_malloc'd; NULL: no
** memory).
*/
static char *resultText(PgStore *p, PGresult *r) {
  const char *zMsg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
  return pgScrub(p, zMsg ? zMsg : PQresultErrorMessage(r), 1);
}

/*
** A deferred command failed (result r): the PostgreSQL transaction is
** aborted and the statements that SQLite saw succeed cannot be undone one
** by one, so the transaction can only be rolled back.  Remember why.
*/
static void pgDoom(PgStore *p, const PgQueued *q, PGresult *r) {
  const char *zState = PQresultErrorField(r, PG_DIAG_SQLSTATE);
  char *z = resultText(p, r);
  sqlite3_free(p->zDoom);
  p->zDoom =
      z ? sqlite3_mprintf("postgresql: %s (%s, sent with this statement); the "
                          "transaction can only be rolled back",
                          z,
                          q->nCol ? "rows inserted earlier in this transaction"
                                  : "a command deferred to this statement")
        : 0;
  sqlite3_free(z);
  p->rcDoom = !p->zDoom                                ? SQLITE_NOMEM
              : zState && strcmp(zState, "23505") == 0 ? SQLITE_CONSTRAINT
                                                       : SQLITE_ERROR;
  if (!p->zDoom) p->zDoom = sqlite3_mprintf("postgresql: out of memory");
}

/* The error of a doomed transaction (see pgDoom). */
static int pgDoomed(PgStore *p) {
  pgError(p, "%s", p->zDoom ? p->zDoom : "postgresql: out of memory");
  return p->rcDoom ? p->rcDoom : SQLITE_NOMEM;
}

static const char *pgType(const statevtab_column *c);

/*
** The INSERT of batch q (from sqlite3_malloc; NULL: no memory): every
** column of the entity is named, so that none takes a server default;
** each array of q is one parameter and one unnest, and a column without
** one (NULL in every row of the batch) is NULL, which costs the client no
** literal and the server no array to parse and unnest.  A batch of tasks
** without executions, keys, results or leases sends 14 arrays instead of
** 22.  The text depends on which columns are NULL, so a table has a few
** prepared INSERTs at most.
*/
static char *batchSql(const PgQueued *q) {
  const statevtab_entity *e = q->pEntity;
  sqlite3_str *s = sqlite3_str_new(0);
  int i, k;
  sqlite3_str_appendf(s, "INSERT INTO %s (_rid", q->zSql);
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str_appendf(s, ", \"%w\"", e->aCol[i].zName);
  }
  sqlite3_str_appendall(s, ") SELECT u.a0");
  for (i = 0; i < e->nCol; i++) {
    if (q->aCol[i + 1]) {
      sqlite3_str_appendf(s, ", u.a%d", i + 1);
    } else {
      sqlite3_str_appendf(s, ", NULL::%s", pgType(&e->aCol[i]));
    }
  }
  sqlite3_str_appendall(s, " FROM ROWS FROM (pg_catalog.unnest($1::bigint[])");
  for (i = 0, k = 2; i < e->nCol; i++) {
    if (!q->aCol[i + 1]) continue;
    sqlite3_str_appendf(s, ", pg_catalog.unnest($%d::%s[])", k++,
                        pgType(&e->aCol[i]));
  }
  sqlite3_str_appendall(s, ") AS u(a0");
  for (i = 0; i < e->nCol; i++) {
    if (q->aCol[i + 1]) sqlite3_str_appendf(s, ", a%d", i + 1);
  }
  sqlite3_str_appendall(s, ")");
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return 0;
  }
  return sqlite3_str_finish(s);
}

/*
** One round trip in pipeline mode: the deferred commands (aQ, which it
** empties), then aCmd[0..nCmd), then a sync; waits at most the command
** timeout, gives up when sqlite3_interrupt() is called.
**
** SQLITE_OK: the round trip is done; aCmd[i].pRes holds each result.  When
** a deferred command failed, p->zDoom says so (pgDoom) and the commands
** after it were skipped by the server.  Otherwise (SQLITE_IOERR: timeout or
** broken connection; SQLITE_INTERRUPT; SQLITE_NOMEM) the connection is
** dropped, since replies may still be on their way, and nothing of aCmd
** is kept.
*/
static int pgPipeline(PgStore *p, int nCmd, PgCmd *aCmd) {
  sqlite3_int64 iEnd = sv_mono_ms() + p->iCmdMs;
  PgExpect *aExp;
  PGresult *r, *pPrepFail = 0;
  int nExp = 0, i, k, rc = SQLITE_OK, nQ = p->nQ;
  for (i = 0; i < nCmd; i++) aCmd[i].pRes = 0;
  if (!p->pg) return pgLost(p);
  aExp = sqlite3_malloc64(sizeof(*aExp) * (size_t)(2 * (nQ + nCmd) + 1));
  if (!aExp) return SQLITE_NOMEM;
  if (!PQenterPipelineMode(p->pg)) {
    sqlite3_free(aExp);
    return pgLost(p);
  }
  for (i = 0; i < nQ; i++) {
    PgQueued *q = p->aQ[i];
    int ok;
    if (q->nCol) {
      /* A batch of rows: its arrays are the parameters. */
      char **az = sqlite3_malloc64(sizeof(char *) * (size_t)q->nCol);
      char *zIns = batchSql(q);
      int nArr = 0;
      if (!az || !zIns) rc = SQLITE_NOMEM;
      for (k = 0; az && k < q->nCol; k++) {
        if (!q->aCol[k]) continue;
        sqlite3_str_appendchar(q->aCol[k], 1, '}');
        az[nArr] = sqlite3_str_finish(q->aCol[k]);
        q->aCol[k] = 0;
        if (!az[nArr++]) rc = SQLITE_NOMEM;
      }
      q->nCol = -q->nCol; /* sent: nothing left to free but the count */
      ok = rc != SQLITE_OK ||
           pipeSend(p, zIns, nArr, (const char *const *)az, aExp, &nExp, 1, i);
      for (k = 0; k < nArr; k++) sqlite3_free(az[k]);
      sqlite3_free(az);
      sqlite3_free(zIns);
      if (rc != SQLITE_OK) break;
    } else {
      ok = pipeSend(p, q->zSql, 0, 0, aExp, &nExp, 1, i);
      if (q->bBegin) p->bBegun = 1;
    }
    if (!ok) {
      rc = SQLITE_IOERR;
      break;
    }
  }
  for (i = 0; rc == SQLITE_OK && i < nCmd; i++) {
    if (!pipeSend(p, aCmd[i].zSql, aCmd[i].nParam, aCmd[i].az, aExp, &nExp, 2,
                  i)) {
      rc = SQLITE_IOERR;
    }
  }
  if (rc == SQLITE_OK && !PQpipelineSync(p->pg)) rc = SQLITE_IOERR;
  if (rc != SQLITE_OK) {
    sqlite3_free(aExp);
    if (rc == SQLITE_NOMEM) {
      pgHangUp(p);
      return rc;
    }
    return pgLost(p);
  }
  /* Non-blocking: the pipeline may not all be sent yet. */
  for (;;) {
    int f = PQflush(p->pg);
    if (f == 0) break;
    if (f < 0) goto lost;
    rc = pgPoll(p, POLLIN | POLLOUT, iEnd);
    if (rc != SQLITE_OK) goto give_up;
    if (!PQconsumeInput(p->pg)) goto lost;
  }
  /* The results of each command (ended by NULL), then the sync. */
  for (i = 0; i <= nExp; i++) {
    for (;;) {
      ExecStatusType st;
      while (PQisBusy(p->pg)) {
        rc = pgPoll(p, POLLIN, iEnd);
        if (rc != SQLITE_OK) goto give_up;
        if (!PQconsumeInput(p->pg)) goto lost;
      }
      r = PQgetResult(p->pg);
      if (i == nExp) {
        /* the sync */
        st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
        PQclear(r);
        if (st != PGRES_PIPELINE_SYNC) goto lost;
        break;
      }
      if (!r) break;
      st = PQresultStatus(r);
      if (aExp[i].eKind == 0) {
        /* A Prepare.  Should it fail (a table gone), forget the slot; the
        ** server skips the execution that follows, which reports this
        ** failure instead. */
        if (st != PGRES_COMMAND_OK) {
          PgStmt *ps = &p->aStmt[aExp[i].i];
          sqlite3_free(ps->zSql);
          ps->zSql = sqlite3_mprintf("%s", "-- failed");
          ps->h = 0;
          PQclear(pPrepFail);
          pPrepFail = r;
        } else {
          PQclear(r);
        }
        continue;
      }
      if (pPrepFail && st == PGRES_PIPELINE_ABORTED) {
        PQclear(r);
        r = pPrepFail;
        st = PQresultStatus(r);
        pPrepFail = 0;
      }
      if (aExp[i].eKind == 1) {
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK &&
            st != PGRES_PIPELINE_ABORTED && !p->zDoom) {
          pgDoom(p, p->aQ[aExp[i].i], r);
        }
        PQclear(r);
      } else if (!aCmd[aExp[i].i].pRes) {
        aCmd[aExp[i].i].pRes = r; /* one result per statement */
      } else {
        PQclear(r);
      }
    }
  }
  PQclear(pPrepFail);
  sqlite3_free(aExp);
  for (i = 0; i < nQ; i++) {
    if (p->aQ[i]->nCol < 0) p->nQRow -= p->aQ[i]->nRow;
    p->aQ[i]->nCol = 0; /* the arrays went with the sync */
    queuedFree(p->aQ[i]);
  }
  if (nQ < p->nQ) {
    memmove(p->aQ, p->aQ + nQ, sizeof(*p->aQ) * (size_t)(p->nQ - nQ));
  }
  p->nQ -= nQ;
  if (p->nQRow < 0) p->nQRow = 0;
  if (!PQexitPipelineMode(p->pg)) goto lost;
  return SQLITE_OK;

lost:
  PQclear(pPrepFail);
  sqlite3_free(aExp);
  for (i = 0; i < nCmd; i++) {
    PQclear(aCmd[i].pRes);
    aCmd[i].pRes = 0;
  }
  return pgLost(p);

give_up:
  PQclear(pPrepFail);
  sqlite3_free(aExp);
  for (i = 0; i < nCmd; i++) {
    PQclear(aCmd[i].pRes);
    aCmd[i].pRes = 0;
  }
  return pgWaitFailed(p, rc);
}

/*
** Send the deferred commands now (one round trip; none when there are
** none).  SQLITE_OK, the error of a doomed transaction, or a transport
** error.
*/
static int pgFlush(PgStore *p) {
  int rc;
  if (p->zDoom) return pgDoomed(p);
  if (p->nQ == 0) return SQLITE_OK;
  rc = pgPipeline(p, 0, 0);
  if (rc == SQLITE_OK && p->zDoom) rc = pgDoomed(p);
  return rc;
}

/*
** Run a statement without parameters (DDL, transaction control), which may
** hold several statements (simple query protocol), after the deferred
** commands.
*/
static int pgRaw(PgStore *p, const char *zSql) {
  PGresult *res = 0;
  int rc = pgFlush(p);
  ExecStatusType st;
  if (rc != SQLITE_OK) return rc;
  rc = pgRoundTrip(p, zSql, 0, 0, 0, &res);
  st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (rc == SQLITE_OK && st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
    rc = pgResultError(p, res);
  }
  PQclear(res);
  return rc;
}

/*
** Run zSql with the parameters of a, in one round trip with the deferred
** commands.  On success *ppRes (may be NULL when the caller does not want
** it) holds the result, freed with PQclear.  Serialization failures and
** deadlocks outside a transaction are retried.
*/
static int pgExec(PgStore *p, const char *zSql, PgParams *a, PGresult **ppRes) {
  int rc, iTry;
  if (ppRes) *ppRes = 0;
  if (a && a->rc != SQLITE_OK) {
    if (a->rc == SQLITE_MISMATCH) {
      pgError(p, "postgresql: text containing a NUL byte cannot be stored");
      return SQLITE_ERROR;
    }
    return a->rc;
  }
  if (p->zDoom) return pgDoomed(p);
  rc = pgEnsure(p, 0);
  if (rc != SQLITE_OK) return rc;
  for (iTry = 0;; iTry++) {
    PgCmd cmd;
    PGresult *res;
    ExecStatusType st;
    const char *zState;
    cmd.zSql = zSql;
    cmd.nParam = a ? a->n : 0;
    cmd.az = a ? (const char *const *)a->az : 0;
    rc = pgPipeline(p, 1, &cmd);
    if (rc != SQLITE_OK) return rc;
    res = cmd.pRes;
    if (p->zDoom) {
      PQclear(res);
      return pgDoomed(p);
    }
    st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
      if (ppRes) {
        *ppRes = res;
      } else {
        PQclear(res);
      }
      return SQLITE_OK;
    }
    /* A prepared statement the server does not know (a pooler switched
    ** connections under us) or whose plan changed shape: stop preparing. */
    zState = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : 0;
    if (zState &&
        (strcmp(zState, "26000") == 0 || strcmp(zState, "0A000") == 0) &&
        !p->bNoPrepare && p->nStmt > 0) {
      p->bNoPrepare = 1;
      stmtClear(p);
      if (!p->bTxn && iTry < PG_RETRIES) {
        PQclear(res);
        continue;
      }
    }
    rc = pgResultError(p, res);
    PQclear(res);
    if (rc != SQLITE_BUSY || p->bTxn || iTry >= PG_RETRIES) return rc;
    sqlite3_sleep(10 << iTry);
  }
}

/* ------------------------------------------------------------ the store */

static void pgClose(statevtab_store *pStore);

/*
** libpq takes the user name and password of a URI up to its first '@'
** before the path.  A raw '@' in a password makes the rest of it part of
** the host name, which libpq then looks up and quotes in its error: refuse
** a URI with more than one '@' there before connecting (SQLITE_ERROR; the
** message shows neither the user name nor the password, nor the path and
** parameters).
*/
static int checkUri(PgStore *p, const char *zUrl) {
  const char *z = strstr(zUrl, "://"), *zLast = 0;
  size_t i, n;
  int nAt = 0;
  if (!z || (sqlite3_strnicmp(zUrl, "postgresql://", 13) != 0 &&
             sqlite3_strnicmp(zUrl, "postgres://", 11) != 0)) {
    return SQLITE_OK; /* a key=value string */
  }
  z += 3;
  n = strcspn(z, "/");
  for (i = 0; i < n; i++) {
    if (z[i] == '@') {
      nAt++;
      zLast = z + i;
    }
  }
  if (nAt <= 1) return SQLITE_OK;
  /* Shown: the scheme and the host part, which hold no password. */
  pgError(p,
          "postgresql: malformed URL %.*s***%.*s: more than one '@' before "
          "the host (percent-encode an '@' in the user name or password as "
          "%%40)",
          (int)(z - zUrl), zUrl, (int)strcspn(zLast, "/?#"), zLast);
  return SQLITE_ERROR;
}

/*
** The parameter pooler= of the URL ("?pooler=transaction", or
** "pooler=transaction" in a key=value string) is statevtab's, not libpq's:
** take it out of p->zUrl.  pooler=transaction says that the server is
** reached through a pooler in transaction mode (pgbouncer): nothing may
** rely on the session -- no prepared statements, no SET, no LISTEN (see
** pgListen) -- since each transaction may run on another server
** connection.  pooler=none is the default.
*/
static int stripPooler(PgStore *p) {
  char *z = p->zUrl, *zKey = 0, *zEnd;
  int bUri = strstr(z, "://") != 0 && strcspn(z, "=") > strcspn(z, ":");
  size_t nVal;
  if (bUri) {
    char *q = strchr(z, '?');
    while (q && !zKey) {
      if (strncmp(q + 1, "pooler=", 7) == 0) zKey = q + 1;
      q = strchr(q + 1, '&');
    }
  } else {
    char *q = z;
    while ((q = strstr(q, "pooler")) != 0 && !zKey) {
      char *e = q + 6;
      while (*e == ' ') e++;
      if ((q == z || q[-1] == ' ') && *e == '=') zKey = q;
      q += 6;
    }
  }
  if (!zKey) return SQLITE_OK;
  zEnd = zKey + strcspn(zKey, bUri ? "=" : "= ");
  while (*zEnd == ' ' || *zEnd == '=') zEnd++;
  nVal = strcspn(zEnd, bUri ? "&#" : " ");
  if (nVal == 11 && strncmp(zEnd, "transaction", 11) == 0) {
    p->bPooler = 1;
    p->bNoPrepare = 1;
  } else if (!(nVal == 4 && strncmp(zEnd, "none", 4) == 0)) {
    pgError(p, "postgresql: pooler must be 'transaction' or 'none' in %s",
            p->zSafe);
    return SQLITE_ERROR;
  }
  zEnd += nVal;
  if (bUri) {
    /* "?pooler=x&k=v" -> "?k=v"; "?k=v&pooler=x" -> "?k=v"; "?pooler=x" ->
    ** "" */
    if (*zEnd == '&') {
      zEnd++;
    } else if (zKey[-1] == '&' || zKey[-1] == '?') {
      zKey--;
    }
  }
  memmove(zKey, zEnd, strlen(zEnd) + 1);
  return SQLITE_OK;
}

/*
** With the application's allowlist (pOpen->xAllow): every host libpq would
** connect to must be allowed, before anything is sent.  libpq's own parser
** gives the URL's host, hostaddr, port and service lists; what the URL
** leaves out libpq takes from the environment or a service file, so a URL
** naming no host, or a service (in the URL or PGSERVICE), is refused (its
** host is not the URL's to choose), and PGHOSTADDR and PGPORT are checked
** as libpq would use them.  SQLITE_OK, SQLITE_ERROR (message in
** p->base.zErrMsg) or SQLITE_NOMEM.
*/
static int pgAllowed(PgStore *p, const statevtab_open *pOpen) {
  PQconninfoOption *aOpt, *o;
  const char *zHost = 0, *zAddr = 0, *zPort = 0, *zService = 0, *z;
  char *zErr = 0;
  int rc = SQLITE_OK, i;
  aOpt = PQconninfoParse(p->zUrl, &zErr);
  if (zErr) PQfreemem(zErr);
  for (o = aOpt; o && o->keyword; o++) {
    if (!o->val || !o->val[0]) continue;
    if (strcmp(o->keyword, "host") == 0) zHost = o->val;
    if (strcmp(o->keyword, "hostaddr") == 0) zAddr = o->val;
    if (strcmp(o->keyword, "port") == 0) zPort = o->val;
    if (strcmp(o->keyword, "service") == 0) zService = o->val;
  }
  if (!zAddr && (z = getenv("PGHOSTADDR")) != 0 && z[0]) zAddr = z;
  if (!zPort && (z = getenv("PGPORT")) != 0 && z[0]) zPort = z;
  if (!zService && (z = getenv("PGSERVICE")) != 0 && z[0]) zService = z;
  if (!aOpt || !zHost || zService) {
    rc = pOpen->xAllow(pOpen, 0, 0, &p->base.zErrMsg);
  }
  /* host=a,b port=1,2 (or one port for all); hostaddr=x,y likewise. */
  for (i = 0; rc == SQLITE_OK && i < 2; i++) {
    const char *zList = i == 0 ? zHost : zAddr, *zP = zPort;
    while (rc == SQLITE_OK && zList && *zList) {
      size_t n = strcspn(zList, ","), m = zP ? strcspn(zP, ",") : 0;
      char *zOne = sqlite3_mprintf("%.*s", (int)n, zList);
      int iPort = m ? atoi(zP) : 5432;
      if (!zOne) {
        rc = SQLITE_NOMEM;
        break;
      }
      rc = pOpen->xAllow(pOpen, zOne, iPort, &p->base.zErrMsg);
      sqlite3_free(zOne);
      zList += n + (zList[n] == ',');
      if (zP && zP[m] == ',') zP += m + 1;
    }
  }
  if (aOpt) PQconninfoFree(aOpt);
  return rc;
}

static int pgOpen(const statevtab_open *pOpen, statevtab_store **ppStore,
                  char **pzErr) {
  PgStore *p;
  int rc = sv_pq_load(pzErr); /* libpq, opened at the first table */
  if (rc != SQLITE_OK) return rc;
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->base.pMethods = &sv_pg_store;
  p->base.fCaps = STATEVTAB_CAP_ORDER;
  p->db = pOpen->db;
  p->iCmdMs = PG_CMD_MS;
  p->zUrl = sqlite3_mprintf("%s", pOpen->zUrl);
  rc = p->zUrl ? checkUri(p, p->zUrl) : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = secretsFromUrl(p, p->zUrl);
  /* The redacted URL too, in case the redaction missed a form libpq
  ** accepts. */
  if (rc == SQLITE_OK) {
    p->zSafe = pgScrub(p, pOpen->zSafeUrl, 0);
    if (!p->zSafe) rc = SQLITE_NOMEM;
  }
  if (rc == SQLITE_OK) rc = stripPooler(p);
  if (rc == SQLITE_OK && pOpen->xAllow) rc = pgAllowed(p, pOpen);
  if (rc == SQLITE_OK) rc = pgEnsure(p, 1);
  if (rc != SQLITE_OK) {
    *pzErr = p->base.zErrMsg;
    p->base.zErrMsg = 0;
    pgClose(&p->base);
    return rc;
  }
  *ppStore = &p->base;
  return SQLITE_OK;
}

static void pgClose(statevtab_store *pStore) {
  PgStore *p = (PgStore *)pStore;
  PgSchema *s;
  int i;
  if (p->pg) PQfinish(p->pg);
  if (p->pgL) PQfinish(p->pgL);
  sqlite3_free(p->zListen);
  queueClear(p);
  sqlite3_free(p->aQ);
  stmtClear(p);
  sqlite3_free(p->zDoom);
  while ((s = p->pSchemas) != 0) {
    p->pSchemas = s->pNext;
    sqlite3_free(s->zName);
    sqlite3_free(s);
  }
  for (i = 0; i < p->nSecret; i++) sqlite3_free(p->azSecret[i]);
  for (i = 0; i < p->nListen; i++) sqlite3_free(p->azListen[i]);
  sqlite3_free(p->azListen);
  sqlite3_free(p->zUrl);
  sqlite3_free(p->zSafe);
  sqlite3_free(p->base.zErrMsg);
  sqlite3_free(p);
}

static const char *pgType(const statevtab_column *c) {
  switch (c->eType) {
  case STATEVTAB_INT:
  case STATEVTAB_BOOL:
    return "bigint";
  case STATEVTAB_NUM:
    return "numeric";
  default:
    return "text";
  }
}

/*
** The index of column c of entity e that indexes= asks for or the schema
** keeps by default: "<kind>_<column>", leaving the NULLs out when the
** column may be NULL (every pushed-down =, <, > implies NOT NULL, and a
** mostly-NULL column then costs most writes nothing).
*/
static void indexDdl(sqlite3_str *s, const char *zQ, const statevtab_entity *e,
                     const statevtab_column *c) {
  int bNull = !(c->flags & STATEVTAB_COL_NOTNULL) && !c->zDefault;
  sqlite3_str_appendf(s,
                      "CREATE INDEX IF NOT EXISTS \"%w_%w\" ON %s.%s "
                      "(\"%w\")",
                      e->zKind, c->zName, zQ, e->zKind, c->zName);
  if (bNull) sqlite3_str_appendf(s, " WHERE \"%w\" IS NOT NULL", c->zName);
  sqlite3_str_appendall(s, ";\n");
}

/*
** Does column i of e have an index of its own without indexes= (the key,
** or "<kind>_<column>" of entityDdl)?
*/
static int indexedByDefault(const statevtab_entity *e, int i) {
  const statevtab_column *c = &e->aCol[i];
  if (i == e->aiKey[0]) return 1;
  if (!(c->flags & STATEVTAB_COL_INDEXED)) return 0;
  if (c->flags & STATEVTAB_COL_OPTIDX) return 0;
  /* tasks.lease_expires_at: tasks_expiry (queue, lease_expires_at) WHERE
  ** lease_expires_at IS NOT NULL serves the claims; tasks.queue:
  ** tasks_pending (queue, ...) WHERE state = 'pending' does.  A column
  ** index of their own only on request, as it costs every claim and
  ** completion an index write. */
  if (e == sv_entity_tasks &&
      (i == SV_TASK_LEASE_EXPIRES_AT || i == SV_TASK_QUEUE)) {
    return 0;
  }
  return 1;
}

/*
** DDL of one entity's table and indexes in schema zQ (quoted).  Tasks keep
** few indexes, as every claim and completion changes the indexed state and
** so writes every index of the row (no HOT update): tasks_pending
** (queue, priority, run_at, id) WHERE state = 'pending', which the claim
** walks and which serves queue = ? AND state = 'pending' scans (a claimed
** or finished task is in no claim index: its claim and completion write
** one index entry less than with the full index of version 3, and the
** claim walks only what is pending); tasks_expiry (in the script);
** tasks_execution_id without NULLs; the key; and the dedupe key as a
** partial unique index (rows without a key are not in it).  Columns
** flagged STATEVTAB_COL_OPTIDX, tasks.queue and tasks.lease_expires_at get
** an index of their own only through indexes= (see ensureIndexes).
** Schemas of versions 1 and 2 had a full UNIQUE (queue, idempotency_key)
** constraint and one index per indexed column, and versions 1 to 3 the
** full tasks_claim (queue, state, priority, run_at, id): the script drops
** those indexes and keeps the constraint (processes of the older versions
** name it in their ON CONFLICT).
*/
static void entityDdl(sqlite3_str *s, const char *zQ,
                      const statevtab_entity *e) {
  int i;
  sqlite3_str_appendf(s,
                      "CREATE TABLE IF NOT EXISTS %s.%s (_rid bigserial "
                      "PRIMARY KEY",
                      zQ, e->zKind);
  for (i = 0; i < e->nCol; i++) {
    const statevtab_column *c = &e->aCol[i];
    sqlite3_str_appendf(s, ", \"%w\" %s%s%s", c->zName, pgType(c),
                        c->eType == STATEVTAB_TEXT || c->eType == STATEVTAB_JSON
                            ? " COLLATE \"C\""
                            : "",
                        (c->flags & STATEVTAB_COL_NOTNULL) &&
                                !(c->flags & STATEVTAB_COL_VERSION)
                            ? " NOT NULL"
                            : "");
  }
  sqlite3_str_appendf(s, ", UNIQUE (\"%w\"", e->aCol[e->aiKey[0]].zName);
  if (e->nKey == 2) {
    sqlite3_str_appendf(s, ", \"%w\"", e->aCol[e->aiKey[1]].zName);
  }
  sqlite3_str_appendall(s, "));\n");
  if (e->iDedupe >= 0) {
    /* Idempotent inserts: this version looks for a task of the key under
    ** a lock (dedupLock, insertSql); earlier versions name this index (or
    ** the full constraint of older schemas) in ON CONFLICT (scope, key)
    ** WHERE key IS NOT NULL.  A table with a dedup= window replaces it by
    ** a plain one (ensureWindows). */
    sqlite3_str_appendf(s,
                        "CREATE UNIQUE INDEX IF NOT EXISTS \"%w_dedupe\" "
                        "ON %s.%s (\"%w\", \"%w\") WHERE \"%w\" IS NOT "
                        "NULL;\n",
                        e->zKind, zQ, e->zKind, e->aCol[e->iDedupeScope].zName,
                        e->aCol[e->iDedupe].zName, e->aCol[e->iDedupe].zName);
  }
  if (e == sv_entity_tasks) {
    sqlite3_str_appendf(s,
                        "CREATE INDEX IF NOT EXISTS tasks_pending ON "
                        "%s.tasks (queue, priority, run_at, id) WHERE "
                        "state = 'pending';\n",
                        zQ);
  }
  for (i = 0; i < e->nCol; i++) {
    const statevtab_column *c = &e->aCol[i];
    if (i == e->aiKey[0] || !indexedByDefault(e, i)) continue;
    if (e == sv_entity_tasks) {
      indexDdl(s, zQ, e, c);
    } else {
      /* (Other kinds keep their full indexes, as in version 1.) */
      sqlite3_str_appendf(s,
                          "CREATE INDEX IF NOT EXISTS \"%w_%w\" ON %s.%s "
                          "(\"%w\");\n",
                          e->zKind, c->zName, zQ, e->zKind, c->zName);
    }
  }
}

/* Create the schema's tables, indexes and functions (once per store). */
/*
** Run zDdl under the advisory lock of schema zSchema, in a transaction of
** its own (or the caller's open one): two processes may set up the same
** schema at once, and CREATE INDEX waits for running writes.  A deadlock
** with another session's setup or claims is tried again, outside a
** caller's transaction.
*/
static int lockedDdl(PgStore *p, const char *zSchema, const char *zDdl) {
  PgParams a;
  int i, rc;
  for (i = 0;; i++) {
    memset(&a, 0, sizeof(a));
    paramTake(&a, sqlite3_mprintf("statevtab:%s", zSchema), 0);
    rc = p->bTxn ? SQLITE_OK : pgRaw(p, "BEGIN");
    if (rc == SQLITE_OK) {
      rc = pgExec(p,
                  "SELECT pg_catalog.pg_advisory_xact_lock("
                  "pg_catalog.hashtext($1::text))",
                  &a, 0);
    }
    if (rc == SQLITE_OK) rc = pgRaw(p, zDdl);
    if (!p->bTxn && p->pg) {
      int rc2 = pgRaw(p, rc == SQLITE_OK ? "COMMIT" : "ROLLBACK");
      if (rc == SQLITE_OK) rc = rc2;
    }
    paramsFree(&a);
    if (rc != SQLITE_BUSY || p->bTxn || i >= PG_RETRIES) return rc;
    sqlite3_sleep(20 << i);
  }
}

static int ensureSchema(PgStore *p, const char *zSchema, const char *zQ) {
  PgSchema *sch;
  PgParams a;
  sqlite3_str *s;
  char *zDdl;
  char zTag[16];
  const char *z;
  int rc, i;
  for (sch = p->pSchemas; sch; sch = sch->pNext) {
    if (strcmp(sch->zName, zSchema) == 0) return SQLITE_OK;
  }
  /* Set up already (by any process)?  Then take no locks at all: the DDL
  ** below would wait for running claims, and they for it. */
  {
    PGresult *res = 0;
    memset(&a, 0, sizeof(a));
    paramTake(&a, sqlite3_mprintf("%s.sv_schema_12()", zQ), 0);
    rc = pgExec(p, "SELECT pg_catalog.to_regprocedure($1::text) IS NOT NULL",
                &a, &res);
    paramsFree(&a);
    if (rc != SQLITE_OK) return rc;
    i = PQntuples(res) > 0 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);
    if (i) goto remember;
  }
  s = sqlite3_str_new(0);
  sqlite3_str_appendf(s, "CREATE SCHEMA IF NOT EXISTS %s;\n", zQ);
  for (i = 0; i < sv_nEntity; i++) entityDdl(s, zQ, sv_aEntity[i]);
  sqlite3_str_appendf(s,
                      "CREATE TABLE IF NOT EXISTS %s.queues (queue text "
                      "COLLATE \"C\" PRIMARY KEY, paused_at bigint);\n",
                      zQ);
  /* The server functions, with @S@ standing for the schema, @SV_...@ for
  ** the queue policy (vtab/policy.h) and $sv$ for the dollar quote of
  ** their bodies.  The quoted schema name lands inside those bodies, where
  ** a "$sv$" of its own would end the body early: use a tag that does not
  ** occur in it.  (Nothing else in the script can hold the tag: it is
  ** ours.) */
  for (i = 0; i < 1000; i++) {
    sqlite3_snprintf(sizeof(zTag), zTag, i ? "$sv%d$" : "$sv$", i);
    if (!strstr(zQ, zTag)) break;
  }
  {
    /* The task as JSON (sv_task_json, a dead letter's task): every column
    ** of the descriptor, JSON columns as JSON. */
    const statevtab_entity *eTask = sv_entity_by_module("state_tasks");
    sqlite3_str *j = sqlite3_str_new(0);
    char *zTaskJson;
    const struct {
      const char *zName, *zValue;
    } aSub[] = {
        {"$sv$", zTag},
        {"@S@", zQ},
        {"@SV_BACKOFF_BASE_MS@", SV_STR(SV_BACKOFF_BASE_MS)},
        {"@SV_BACKOFF_CAP_MS@", SV_STR(SV_BACKOFF_CAP_MS)},
        {"@SV_REASON_LEASE_EXPIRED@", "'" SV_REASON_LEASE_EXPIRED "'"},
        {"@SV_DEAD_ID_TAIL@", SV_STR(SV_DEAD_ID_TAIL)},
        {"@SV_RATE_STEPS@", SV_STR(SV_RATE_STEPS)},
        {"@SV_DEPS_WHY_DEAD@", "'" SV_DEPS_WHY_DEAD "'"},
        {"@SV_DEPS_WHY_FAILED@", "'" SV_DEPS_WHY_FAILED "'"},
        {"@SV_DEPS_WHY_CANCELLED@", "'" SV_DEPS_WHY_CANCELLED "'"},
        {"@SV_DEPS_WHY_DELETED@", "'" SV_DEPS_WHY_DELETED "'"},
        {"@SV_TASK_JSON_ARGS@", 0},
    };
    for (i = 0; i < eTask->nCol; i++) {
      const statevtab_column *c = &eTask->aCol[i];
      sqlite3_str_appendf(j, "%s'%s', t.\"%w\"%s", i ? ", " : "", c->zName,
                          c->zName, c->eType == STATEVTAB_JSON ? "::json" : "");
    }
    zTaskJson = sqlite3_str_finish(j);
    if (!zTaskJson) {
      sqlite3_free(sqlite3_str_finish(s));
      return SQLITE_NOMEM;
    }
    for (z = zPgScript; *z;) {
      const char *zNext = 0;
      int k, iSub = -1;
      for (k = 0; k < (int)(sizeof(aSub) / sizeof(aSub[0])); k++) {
        const char *zAt = strstr(z, aSub[k].zName);
        if (zAt && (!zNext || zAt < zNext)) {
          zNext = zAt;
          iSub = k;
        }
      }
      if (!zNext) {
        sqlite3_str_appendall(s, z);
        break;
      }
      sqlite3_str_append(s, z, (int)(zNext - z));
      sqlite3_str_appendall(s,
                            aSub[iSub].zValue ? aSub[iSub].zValue : zTaskJson);
      z = zNext + strlen(aSub[iSub].zName);
    }
    sqlite3_free(zTaskJson);
  }
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return SQLITE_NOMEM;
  }
  zDdl = sqlite3_str_finish(s);
  if (!zDdl) return SQLITE_NOMEM;

  rc = lockedDdl(p, zSchema, zDdl);
  sqlite3_free(zDdl);
  if (rc != SQLITE_OK) return rc;
remember:
  sch = sqlite3_malloc64(sizeof(*sch));
  if (!sch) return SQLITE_NOMEM;
  sch->zName = sqlite3_mprintf("%s", zSchema);
  if (!sch->zName) {
    sqlite3_free(sch);
    return SQLITE_NOMEM;
  }
  sch->pNext = p->pSchemas;
  p->pSchemas = sch;
  return SQLITE_OK;
}

/* Check indexes= against e's columns (sv_index_list) into *pm. */
static int checkIndexList(PgStore *p, const statevtab_entity *e,
                          const char *zList, sqlite3_uint64 *pm) {
  char *zErr = 0;
  int rc = sv_index_list(e, zList, pm, &zErr);
  if (rc != SQLITE_OK && zErr) pgError(p, "%s", zErr);
  sqlite3_free(zErr);
  return rc;
}

/*
** indexes=: the schema's tables are shared by every SQLite table that names
** the schema, so a column named here gets "<kind>_<column>" on the shared
** table (unless it has an index of its own already).  Indexes that exist
** cost one catalog read; missing ones are built under the schema's advisory
** lock (CREATE INDEX takes a lock that waits for running writes).
*/
static int ensureIndexes(PgTable *t, sqlite3_uint64 mCols) {
  PgStore *p = t->p;
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_str *s;
  PgParams a;
  PGresult *res = 0;
  char *zDdl;
  int i, k, rc, nNew = 0;
  memset(&a, 0, sizeof(a));
  paramTake(&a, sqlite3_mprintf("%s", t->zSchema), 0);
  paramTake(&a, sqlite3_mprintf("%s", e->zKind), 0);
  rc = pgExec(p,
              "SELECT indexname::text FROM pg_catalog.pg_indexes "
              "WHERE schemaname = $1::text AND tablename = $2::text",
              &a, &res);
  paramsFree(&a);
  if (rc != SQLITE_OK) return rc;
  s = sqlite3_str_new(0);
  for (i = 0; i < e->nCol; i++) {
    if (!((mCols >> i) & 1) || indexedByDefault(e, i)) continue;
    for (k = 0; k < PQntuples(res); k++) {
      const char *zIdx = PQgetvalue(res, k, 0);
      size_t nKind = strlen(e->zKind);
      if (strncmp(zIdx, e->zKind, nKind) == 0 && zIdx[nKind] == '_' &&
          strcmp(zIdx + nKind + 1, e->aCol[i].zName) == 0) {
        break;
      }
    }
    if (k < PQntuples(res)) continue;
    indexDdl(s, t->zQ, e, &e->aCol[i]);
    nNew++;
  }
  PQclear(res);
  if (sqlite3_str_errcode(s) != SQLITE_OK) {
    sqlite3_free(sqlite3_str_finish(s));
    return SQLITE_NOMEM;
  }
  zDdl = sqlite3_str_finish(s);
  if (nNew == 0) {
    sqlite3_free(zDdl);
    return SQLITE_OK;
  }
  if (!zDdl) return SQLITE_NOMEM;
  rc = lockedDdl(p, t->zSchema, zDdl);
  sqlite3_free(zDdl);
  return rc;
}

/*
** A tasks table with a dedup= window: several tasks of the schema may hold
** one (queue, idempotency_key), so the UNIQUE index tasks_dedupe (and the
** full constraint of schemas of versions 1 and 2) goes, for the plain
** tasks_dedupe_key: uniqueness is then kept by the writers of this version,
** under a lock per key (dedupLock).  Done once per schema, by the first
** such table, under the schema's advisory lock; the others find
** tasks_dedupe gone from the catalog.  Processes of earlier versions name
** that index in their ON CONFLICT: their idempotent inserts fail from then
** on (upgrade every process before using dedup=).
*/
static int ensureWindows(PgTable *t) {
  PgParams a;
  PGresult *res = 0;
  char *zDdl;
  int rc, bOld;
  memset(&a, 0, sizeof(a));
  paramTake(&a, sqlite3_mprintf("%s", t->zSchema), 0);
  rc = pgExec(t->p,
              "SELECT 1 FROM pg_catalog.pg_indexes WHERE schemaname = "
              "$1::text AND tablename = 'tasks' AND indexname IN "
              "('tasks_dedupe', 'tasks_queue_idempotency_key_key')",
              &a, &res);
  paramsFree(&a);
  if (rc != SQLITE_OK) return rc;
  bOld = PQntuples(res) > 0;
  PQclear(res);
  if (!bOld) return SQLITE_OK;
  zDdl = sqlite3_mprintf(
      "CREATE INDEX IF NOT EXISTS tasks_dedupe_key ON %s.tasks (queue, "
      "idempotency_key) WHERE idempotency_key IS NOT NULL;\n"
      "DROP INDEX IF EXISTS %s.tasks_dedupe;\n"
      "ALTER TABLE %s.tasks DROP CONSTRAINT IF EXISTS "
      "tasks_queue_idempotency_key_key;\n",
      t->zQ, t->zQ, t->zQ);
  if (!zDdl) return SQLITE_NOMEM;
  rc = lockedDdl(t->p, t->zSchema, zDdl);
  sqlite3_free(zDdl);
  return rc;
}

/* A whole number of 1 to PG_CMD_MS_MAX milliseconds, else -1. */
static sqlite3_int64 parseMs(const char *z) {
  sqlite3_int64 v = 0;
  int i;
  for (i = 0; z[i]; i++) {
    if (z[i] < '0' || z[i] > '9' || i >= 13) return -1;
    v = v * 10 + (z[i] - '0');
  }
  return i > 0 && v <= PG_CMD_MS_MAX ? v : -1;
}

static int pgAttach(statevtab_store *pStore, const statevtab_entity *e,
                    const char *zDb, const char *zName, int nOpt,
                    const char *const *azOpt, int bCreate,
                    statevtab_table **ppTab) {
  PgStore *p = (PgStore *)pStore;
  const char *zSchema = "statevtab";
  sqlite3_uint64 mIndexes = 0;
  int bIndexes = 0;
  PgTable *t;
  sv_dedup dd;
  char *zQ;
  int i, rc;
  (void)zDb;
  (void)zName;
  (void)bCreate;
  *ppTab = 0;
  memset(&dd, 0, sizeof(dd));
  for (i = 0; i < nOpt; i++) {
    const char *zKey = azOpt[2 * i];
    if (strcmp(zKey, "schema") == 0) {
      zSchema = azOpt[2 * i + 1];
    } else if (strcmp(zKey, "command_timeout") == 0) {
      sqlite3_int64 v = parseMs(azOpt[2 * i + 1]);
      if (v <= 0) {
        pgError(p,
                "command_timeout must be a positive integer (milliseconds, "
                "at most %lld), got '%s'",
                PG_CMD_MS_MAX, azOpt[2 * i + 1]);
        return SQLITE_ERROR;
      }
      /* One connection serves every table of the URL: the smallest wins. */
      if (!p->bCmdSet || v < p->iCmdMs) {
        p->iCmdMs = v;
        p->bCmdSet = 1;
      }
    } else if (strcmp(zKey, "indexes") == 0) {
      int rc2 = checkIndexList(p, e, azOpt[2 * i + 1], &mIndexes);
      if (rc2 != SQLITE_OK) return rc2;
      bIndexes = 1;
    } else if (strcmp(zKey, "dedup") == 0) {
      char *zErr = 0;
      if (sv_dedup_parse(e, azOpt[2 * i + 1], &dd, &zErr) != SQLITE_OK) {
        if (!zErr) return SQLITE_NOMEM;
        pgError(p, "%s", zErr);
        sqlite3_free(zErr);
        return SQLITE_ERROR;
      }
    } else if (strcmp(zKey, "listen") == 0) {
      const char *zVal = azOpt[2 * i + 1];
      if (!p->bPooler) {
        pgError(p, "listen= is for a store behind a pooler (pooler=transaction "
                   "in its URL)");
        return SQLITE_ERROR;
      }
      if (strncmp(zVal, "env:", 4) == 0 && !getenv(zVal + 4)) {
        pgError(p, "listen=: environment variable '%s' is not set", zVal + 4);
        return SQLITE_ERROR;
      }
      if (p->zListen && strcmp(p->zListen, zVal) != 0) {
        pgError(p, "listen= differs from another table's on the same store");
        return SQLITE_ERROR;
      }
      if (!p->zListen && !(p->zListen = sqlite3_mprintf("%s", zVal))) {
        return SQLITE_NOMEM;
      }
    } else if (strcmp(zKey, "prefix") != 0) {
      /* prefix= is Redis's: accepted so that one CREATE moves between
      ** stores by its store= alone. */
      pgError(p, "unknown option '%s'", zKey);
      return SQLITE_ERROR;
    }
  }
  if (zSchema[0] == 0 || strlen(zSchema) > 63) {
    pgError(p, "schema must be 1 to 63 bytes (got '%s')", zSchema);
    return SQLITE_ERROR;
  }
  rc = pgEnsure(p, 1);
  if (rc != SQLITE_OK) return rc;
  zQ = PQescapeIdentifier(p->pg, zSchema, strlen(zSchema));
  if (!zQ) {
    char *z = pgScrub(p, PQerrorMessage(p->pg), 1);
    if (!z) return SQLITE_NOMEM;
    pgError(p, "invalid schema name: %s", z);
    sqlite3_free(z);
    return SQLITE_ERROR;
  }
  t = sqlite3_malloc64(sizeof(*t));
  if (!t) {
    PQfreemem(zQ);
    return SQLITE_NOMEM;
  }
  memset(t, 0, sizeof(*t));
  t->base.pStore = pStore;
  t->base.pEntity = e;
  t->p = p;
  t->bNoBuffer = sv_entity_col(e, STATEVTAB_COL_EXPIRES) >= 0 ||
                 sv_entity_col(e, STATEVTAB_COL_VERSION) >= 0;
  t->zSchema = sqlite3_mprintf("%s", zSchema);
  t->zQ = sqlite3_mprintf("%s", zQ);
  t->zT = sqlite3_mprintf("%s.%s", zQ, e->zKind);
  PQfreemem(zQ);
  rc = (t->zSchema && t->zQ && t->zT) ? ensureSchema(p, t->zSchema, t->zQ)
                                      : SQLITE_NOMEM;
  t->dd = dd;
  if (rc == SQLITE_OK && bIndexes) rc = ensureIndexes(t, mIndexes);
  if (rc == SQLITE_OK && dd.bWindow) rc = ensureWindows(t);
  if (rc != SQLITE_OK) {
    sqlite3_free(t->zSchema);
    sqlite3_free(t->zQ);
    sqlite3_free(t->zT);
    sqlite3_free(t);
    return rc;
  }
  *ppTab = &t->base;
  return SQLITE_OK;
}

static void pgDetach(statevtab_table *pTab) {
  PgTable *t = (PgTable *)pTab;
  PgStore *p = t->p;
  int i;
  /* Its rows still waiting stay (the batch holds what it needs), but no
  ** table allocated later at the same address may join them. */
  for (i = 0; i < p->nQ; i++) {
    if (p->aQ[i]->pOf == (const void *)t) p->aQ[i]->pOf = 0;
  }
  sqlite3_free(t->aRid);
  sqlite3_free(t->zTakeOut);
  sqlite3_free(t->zSchema);
  sqlite3_free(t->zQ);
  sqlite3_free(t->zT);
  sqlite3_free(t);
}

/* DROP TABLE only disconnects: other processes share the rows. */
static int pgDrop(statevtab_table *pTab) {
  (void)pTab;
  return SQLITE_OK;
}

/* The SQLite name of the table is not used on the server. */
static int pgRename(statevtab_table *pTab, const char *zNew) {
  (void)pTab;
  (void)zNew;
  return SQLITE_OK;
}

/* ---------------------------------------------------------------- scans */

static int pgOpenCursor(statevtab_table *pTab, statevtab_cursor **ppCur) {
  PgCursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->base.pTab = pTab;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void pgCloseCursor(statevtab_cursor *pCur) {
  PgCursor *c = (PgCursor *)pCur;
  PQclear(c->res);
  sqlite3_free(c->zAny);
  sqlite3_free(c);
}

/*
** Append the SQL of constraint c on column pCol, binding its value, as
** SQLite would compare it: the value takes the column's affinity when it
** can (text '5' against an INTEGER column is 5); a text value that is not
** a number is greater than every number, so against a numeric column it
** decides the constraint by itself.
*/
static void consSql(sqlite3_str *s, PgParams *a, const statevtab_column *pCol,
                    const statevtab_cons *c) {
  static const char *const azOp[] = {"", "=", "<", "<=", ">", ">=", "="};
  const statevtab_value *v = &c->v;
  const char *zCol = pCol->zName;
  int bNum = pCol->eType == STATEVTAB_INT || pCol->eType == STATEVTAB_BOOL ||
             pCol->eType == STATEVTAB_NUM;
  if (c->op == STATEVTAB_ALIVE) {
    int k = paramValue(a, v);
    sqlite3_str_appendf(s, "(\"%w\" IS NULL OR \"%w\" > $%d::bigint)", zCol,
                        zCol, k);
    return;
  }
  if (v->eType == SQLITE_NULL) {
    sqlite3_str_appendf(s, c->op == STATEVTAB_IS ? "\"%w\" IS NULL" : "false",
                        zCol);
    return;
  }
  if (bNum) {
    sqlite3_int64 i = 0;
    double r = 0;
    int t = v->eType == SQLITE_INTEGER ? 1
            : v->eType == SQLITE_FLOAT ? 2
                                       : sv_parse_number(v->z, v->n, &i, &r);
    if (v->eType == SQLITE_INTEGER) i = v->i;
    if (v->eType == SQLITE_FLOAT) r = v->r;
    if (t == 0) {
      /* number < text: only <, <= hold, for every non-NULL value */
      sqlite3_str_appendf(s,
                          (c->op == STATEVTAB_LT || c->op == STATEVTAB_LE)
                              ? "\"%w\" IS NOT NULL"
                              : "false",
                          zCol);
      return;
    }
    if (t == 1) {
      sqlite3_str_appendf(s, "\"%w\" %s $%d::%s", zCol, azOp[c->op],
                          paramInt(a, i),
                          pCol->eType == STATEVTAB_NUM ? "numeric" : "bigint");
    } else {
      sqlite3_str_appendf(s, "\"%w\" %s $%d::numeric", zCol, azOp[c->op],
                          paramTake(a, sqlite3_mprintf("%!.17g", r), 0));
    }
    return;
  }
  /* TEXT column: numbers compare as their text. */
  if (v->eType == SQLITE_INTEGER) {
    sqlite3_str_appendf(s, "\"%w\" %s $%d::text", zCol, azOp[c->op],
                        paramTake(a, sqlite3_mprintf("%lld", v->i), 0));
  } else if (v->eType == SQLITE_FLOAT) {
    sqlite3_str_appendf(s, "\"%w\" %s $%d::text", zCol, azOp[c->op],
                        paramTake(a, sqlite3_mprintf("%!.15g", v->r), 0));
  } else {
    sqlite3_str_appendf(s, "\"%w\" %s $%d::text", zCol, azOp[c->op],
                        paramValue(a, v));
  }
}

static int pgFilter(statevtab_cursor *pCur, const statevtab_scan *pScan) {
  PgCursor *c = (PgCursor *)pCur;
  PgTable *t = (PgTable *)pCur->pTab;
  const statevtab_entity *e = pCur->pTab->pEntity;
  sqlite3_str *s = sqlite3_str_new(0);
  PgParams a;
  char *zSql;
  int i, rc;
  PQclear(c->res);
  c->res = 0;
  c->iRow = c->nRow = 0;
  memset(&a, 0, sizeof(a));
  sqlite3_str_appendall(s, "SELECT _rid");
  for (i = 0; i < e->nCol; i++) {
    sqlite3_uint64 bit = ((sqlite3_uint64)1) << (i < 63 ? i : 63);
    if (pScan->colUsed & bit) {
      sqlite3_str_appendf(s, ", \"%w\"", e->aCol[i].zName);
    } else {
      sqlite3_str_appendall(s, ", NULL");
    }
  }
  sqlite3_str_appendf(s, " FROM %s", t->zT);
  for (i = 0; i < pScan->nCons; i++) {
    sqlite3_str_appendall(s, i ? " AND " : " WHERE ");
    consSql(s, &a, &e->aCol[pScan->aCons[i].iCol], &pScan->aCons[i]);
  }
  for (i = 0; i < pScan->nOrder; i++) {
    sqlite3_str_appendf(s, "%s\"%w\"%s", i ? ", " : " ORDER BY ",
                        e->aCol[pScan->aOrder[i].iCol].zName,
                        pScan->aOrder[i].bDesc ? " DESC NULLS LAST"
                                               : " NULLS FIRST");
  }
  if (pScan->nLimit >= 0) {
    sqlite3_str_appendf(s, " LIMIT $%d::bigint", paramInt(&a, pScan->nLimit));
  }
  /* Inside a transaction, rows read are rows about to be written: lock
  ** them, so that read-check-write is atomic (compare-and-set). */
  if (t->p->bTxn) sqlite3_str_appendall(s, " FOR UPDATE");
  zSql = sqlite3_str_finish(s);
  if (!zSql) {
    paramsFree(&a);
    return SQLITE_NOMEM;
  }
  rc = pgExec(t->p, zSql, &a, &c->res);
  sqlite3_free(zSql);
  paramsFree(&a);
  if (rc != SQLITE_OK) return rc;
  c->nRow = PQntuples(c->res);
  return SQLITE_OK;
}

static int pgNext(statevtab_cursor *pCur) {
  ((PgCursor *)pCur)->iRow++;
  return SQLITE_OK;
}

static int pgEof(statevtab_cursor *pCur) {
  PgCursor *c = (PgCursor *)pCur;
  return c->iRow >= c->nRow;
}

/* Decode field j of row i as column pCol's type. */
static void decode(PGresult *res, int i, int j, const statevtab_column *pCol,
                   statevtab_value *v) {
  memset(v, 0, sizeof(*v));
  if (PQgetisnull(res, i, j)) {
    v->eType = SQLITE_NULL;
    return;
  }
  sv_decode_text(PQgetvalue(res, i, j), PQgetlength(res, i, j), pCol, v);
}

static int pgColumn(statevtab_cursor *pCur, int iCol, statevtab_value *pOut) {
  PgCursor *c = (PgCursor *)pCur;
  const statevtab_column *pCol = &pCur->pTab->pEntity->aCol[iCol];
  if (pCol->eType == STATEVTAB_ANY && !PQgetisnull(c->res, c->iRow, iCol + 1)) {
    /* A blob arrives as hex (sv_any_encode), decoded into c->zAny. */
    return sv_any_decode(PQgetvalue(c->res, c->iRow, iCol + 1),
                         PQgetlength(c->res, c->iRow, iCol + 1), pOut,
                         &c->zAny);
  }
  decode(c->res, c->iRow, iCol + 1, pCol, pOut);
  return SQLITE_OK;
}

static int pgRowid(statevtab_cursor *pCur, sqlite3_int64 *pRowid) {
  PgCursor *c = (PgCursor *)pCur;
  *pRowid = strtoll(PQgetvalue(c->res, c->iRow, 0), 0, 10);
  return SQLITE_OK;
}

/* --------------------------------------------------------------- writes */

/*
** Inside an explicit SQLite transaction a failed statement would abort the
** whole PostgreSQL transaction: give each write a savepoint of its own.
** SAVEPOINT goes out with the write, and RELEASE (or ROLLBACK TO and
** RELEASE, after a failure) with the next statement: one round trip a write.
*/
#define PG_WRITE_SAVEPOINT "SAVEPOINT sv_write"

static int writeBegin(PgStore *p) {
  if (!p->bTxn || sqlite3_get_autocommit(p->db)) return SQLITE_OK;
  p->nWrite++;
  return queueRaw(p, PG_WRITE_SAVEPOINT, 0);
}

static int writeEnd(PgStore *p, int rc) {
  int rc2 = SQLITE_OK;
  if (!p->bTxn || sqlite3_get_autocommit(p->db) || p->nWrite == 0) return rc;
  p->nWrite--;
  if (p->nQ > 0 && p->aQ[p->nQ - 1]->nCol == 0 &&
      strcmp(p->aQ[p->nQ - 1]->zSql, PG_WRITE_SAVEPOINT) == 0) {
    /* Nothing was sent since: no savepoint needed. */
    queuedFree(p->aQ[--p->nQ]);
    return rc;
  }
  if (!p->pg || p->zDoom) return rc;
  if (rc != SQLITE_OK) rc2 = queueRaw(p, "ROLLBACK TO SAVEPOINT sv_write", 0);
  if (rc2 == SQLITE_OK) rc2 = queueRaw(p, "RELEASE SAVEPOINT sv_write", 0);
  if (rc2 != SQLITE_OK) {
    /* Without its RELEASE the transaction cannot go on correctly. */
    sqlite3_free(p->zDoom);
    p->zDoom = sqlite3_mprintf("postgresql: out of memory");
    p->rcDoom = SQLITE_NOMEM;
  }
  return rc == SQLITE_OK ? rc2 : rc;
}

/* "k1 = $a AND k2 = $b" for the key of aRow. */
static void keyWhere(sqlite3_str *s, PgParams *a, const statevtab_entity *e,
                     const statevtab_value *aRow) {
  int k;
  for (k = 0; k < e->nKey; k++) {
    int i = e->aiKey[k];
    sqlite3_str_appendf(s, "%s\"%w\" = $%d::%s", k ? " AND " : "",
                        e->aCol[i].zName, paramValue(a, &aRow[i]),
                        pgType(&e->aCol[i]));
  }
}

/*
** A task with an idempotency key is written under a transaction-level
** advisory lock of its (schema, queue, key), deferred to go out with the
** write in one round trip: every writer of the key of this version waits
** for the others' transactions, and its statement then sees their rows
** (READ COMMITTED takes the snapshot after the lock).  The lock is a
** 64-bit FNV-1a hash of the three, computed here (a number, not a value).
*/
static int dedupLock(PgTable *t, const statevtab_value *aRow) {
  const statevtab_value *q = &aRow[SV_TASK_QUEUE],
                        *k = &aRow[SV_TASK_IDEMPOTENCY_KEY];
  sqlite3_uint64 h = 14695981039346656037ULL;
  char zSql[96];
  int i;
  if (t->base.pEntity != sv_entity_tasks || k->eType == SQLITE_NULL) {
    return SQLITE_OK;
  }
  for (i = 0; t->zSchema[i]; i++) {
    h = (h ^ (unsigned char)t->zSchema[i]) * 1099511628211ULL;
  }
  h = (h ^ 0) * 1099511628211ULL;
  for (i = 0; i < q->n; i++)
    h = (h ^ (unsigned char)q->z[i]) * 1099511628211ULL;
  h = (h ^ 0) * 1099511628211ULL;
  for (i = 0; i < k->n; i++)
    h = (h ^ (unsigned char)k->z[i]) * 1099511628211ULL;
  sqlite3_snprintf(sizeof(zSql), zSql,
                   "SELECT pg_catalog.pg_advisory_xact_lock(%lld)",
                   (sqlite3_int64)h);
  return queueRaw(t->p, zSql, 0);
}

/*
** Append to s the condition, over a row of t, that it is a task other than
** iRid (0: none) of aRow's (queue, idempotency_key) that clashes with aRow
** under t's dedup=.
*/
static void dedupClash(sqlite3_str *s, PgTable *t, PgParams *a,
                       const statevtab_value *aRow, sqlite3_int64 iRid) {
  char zState[24], zCreated[24], *zWin;
  int kQueue = paramValue(a, &aRow[SV_TASK_QUEUE]);
  int kKey = paramValue(a, &aRow[SV_TASK_IDEMPOTENCY_KEY]);
  int kRid = paramInt(a, iRid);
  /* Only the parameters the condition names: PostgreSQL cannot type an
  ** unused one. */
  zState[0] = zCreated[0] = 0;
  if (t->dd.bWindow && t->dd.bActive) {
    sqlite3_snprintf(sizeof(zState), zState, "$%d::text",
                     paramValue(a, &aRow[SV_TASK_STATE]));
  }
  if (t->dd.bWindow && t->dd.iPeriodMs > 0) {
    sqlite3_snprintf(sizeof(zCreated), zCreated, "$%d::bigint",
                     paramValue(a, &aRow[SV_TASK_CREATED_AT]));
  }
  zWin = sv_dedup_where(&t->dd, zState, zCreated);
  sqlite3_str_appendf(s,
                      "(queue = $%d::text AND idempotency_key = $%d::text "
                      "AND _rid <> $%d::bigint AND %s)",
                      kQueue, kKey, kRid, zWin ? zWin : "");
  if (!zWin && a->rc == SQLITE_OK) a->rc = SQLITE_NOMEM; /* pgExec says so */
  sqlite3_free(zWin);
}

/* Is aRow a task with an idempotency key (see dedupLock)? */
static int keyedTask(PgTable *t, const statevtab_value *aRow) {
  return t->base.pEntity == sv_entity_tasks &&
         aRow[SV_TASK_IDEMPOTENCY_KEY].eType != SQLITE_NULL;
}

/*
** Delete rows (other than iRowid, when > 0) that an insert or update of
** aRow would conflict with: expired kv rows always (they are invisible),
** and for REPLACE every row with the same key or idempotency key.
*/
static int clearConflicts(PgTable *t, const statevtab_value *aRow,
                          sqlite3_int64 iRowid, int bReplace) {
  const statevtab_entity *e = t->base.pEntity;
  int iExp = sv_entity_col(e, STATEVTAB_COL_EXPIRES);
  sqlite3_str *s;
  PgParams a;
  char *zSql;
  int rc;
  if (iExp < 0 && !bReplace) return SQLITE_OK;
  memset(&a, 0, sizeof(a));
  s = sqlite3_str_new(0);
  sqlite3_str_appendf(s, "DELETE FROM %s WHERE _rid <> $%d::bigint AND ((",
                      t->zT, paramInt(&a, iRowid));
  keyWhere(s, &a, e, aRow);
  sqlite3_str_appendall(s, ")");
  if (bReplace && keyedTask(t, aRow)) {
    /* The tasks that clash with aRow under dedup=. */
    sqlite3_str_appendall(s, " OR ");
    dedupClash(s, t, &a, aRow, iRowid);
  }
  sqlite3_str_appendall(s, ")");
  if (!bReplace) {
    sqlite3_str_appendf(s, " AND \"%w\" <= $%d::bigint", e->aCol[iExp].zName,
                        paramInt(&a, sv_now_ms()));
  }
  if (iExp >= 0) {
    /* The sweep (vtab/policy.h): up to SV_SWEEP_MAX other expired rows,
    ** through the index on the expiry column; rows another transaction
    ** holds are left to a later sweep. */
    sqlite3_str_appendf(s,
                        " OR _rid IN (SELECT _rid FROM %s WHERE \"%w\" <= "
                        "$%d::bigint AND _rid <> $1::bigint LIMIT %d FOR "
                        "UPDATE SKIP LOCKED)",
                        t->zT, e->aCol[iExp].zName, paramInt(&a, sv_now_ms()),
                        SV_SWEEP_MAX);
  }
  zSql = sqlite3_str_finish(s);
  rc = zSql ? pgExec(t->p, zSql, &a, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  return rc;
}

/* The INSERT of one row; ON CONFLICT per mode; RETURNING _rid. */
static char *insertSql(PgTable *t, PgParams *a, const statevtab_value *aRow,
                       int eConflict) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_str *s = sqlite3_str_new(0);
  int i, iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  sqlite3_str_appendf(s, "INSERT INTO %s (", t->zT);
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", e->aCol[i].zName);
  }
  sqlite3_str_appendall(s, keyedTask(t, aRow) ? ") SELECT " : ") VALUES (");
  for (i = 0; i < e->nCol; i++) {
    int k = paramCol(a, &e->aCol[i], &aRow[i]);
    if (i == iVer) {
      sqlite3_str_appendf(s, "%scoalesce($%d::bigint, 1)", i ? ", " : "", k);
    } else {
      sqlite3_str_appendf(s, "%s$%d::%s", i ? ", " : "", k,
                          pgType(&e->aCol[i]));
    }
  }
  if (keyedTask(t, aRow)) {
    /* Under dedupLock: in unless a task of the key clashes (dedup=); the
    ** UNIQUE tasks_dedupe, where it is left, agrees with dedup=row. */
    sqlite3_str_appendf(s, " WHERE NOT EXISTS (SELECT 1 FROM %s WHERE ", t->zT);
    dedupClash(s, t, a, aRow, 0);
    sqlite3_str_appendall(s, ")");
  } else {
    sqlite3_str_appendall(s, ")");
  }
  if (eConflict == STATEVTAB_CONFLICT_IGNORE) {
    sqlite3_str_appendall(s, " ON CONFLICT DO NOTHING");
  }
  sqlite3_str_appendall(s, " RETURNING _rid");
  return sqlite3_str_finish(s);
}

static int doInsert(PgTable *t, const statevtab_value *aRow, int eConflict,
                    sqlite3_int64 *pRowid, int *pbDone) {
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc;
  *pbDone = 0;
  rc = dedupLock(t, aRow);
  if (rc == SQLITE_OK) {
    rc = clearConflicts(t, aRow, 0, eConflict == STATEVTAB_CONFLICT_REPLACE);
  }
  if (rc != SQLITE_OK) return rc;
  memset(&a, 0, sizeof(a));
  zSql = insertSql(t, &a, aRow, eConflict);
  rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
  if (rc == SQLITE_OK && PQntuples(res) > 0) {
    *pbDone = 1;
    if (pRowid) *pRowid = strtoll(PQgetvalue(res, 0, 0), 0, 10);
  }
  PQclear(res);
  sqlite3_free(zSql);
  paramsFree(&a);
  return rc;
}

/*
** Can this row wait in the buffer (sent with the next statement that needs
** an answer, or at COMMIT)?  Only when nothing on the server can refuse it:
** inside a transaction, a row whose only key is an id statevtab generated
** (unique by construction), with no idempotency key, of an entity without
** versions or expiry.  Its failure could then only be the server's own
** (connection, disk, permissions), which dooms the transaction (pgDoom).
*/
static int canBuffer(PgTable *t, const statevtab_value *aRow) {
  const statevtab_entity *e = t->base.pEntity;
  int k = e->aiKey[0];
  if (!t->p->bTxn || e->nKey != 1 || t->bNoBuffer) return 0;
  if (!(e->aCol[k].flags & STATEVTAB_COL_AUTOID) ||
      aRow[k].eType != SQLITE_TEXT || !aRow[k].bGenerated) {
    return 0;
  }
  return e->iDedupe < 0 || aRow[e->iDedupe].eType == SQLITE_NULL;
}

/*
** Reserve row handles for buffered rows (one round trip, with the deferred
** commands): 16 the first time, twice as many each time after, up to
** PG_RID_MAX.  Handles are never handed out twice by the server's sequence;
** unused ones are simply skipped.
*/
static int reserveRids(PgTable *t) {
  PgParams a;
  PGresult *res = 0;
  int rc, i, n = t->nRidNext ? t->nRidNext : 16;
  memset(&a, 0, sizeof(a));
  paramText(&a, t->zT, -1);
  paramInt(&a, n);
  rc = pgExec(t->p,
              "SELECT pg_catalog.nextval(s.q) FROM (SELECT "
              "pg_catalog.pg_get_serial_sequence($1::text, '_rid')::regclass "
              "AS q OFFSET 0) s, pg_catalog.generate_series(1, $2::integer)",
              &a, &res);
  paramsFree(&a);
  if (rc != SQLITE_OK) return rc;
  if (PQntuples(res) != n) {
    PQclear(res);
    pgError(t->p, "postgresql: cannot reserve row handles of %s", t->zT);
    return SQLITE_ERROR;
  }
  if (!t->aRid || t->nRidNext > t->nRid) {
    sqlite3_int64 *aNew = sqlite3_realloc64(t->aRid, sizeof(*aNew) * (size_t)n);
    if (!aNew) {
      PQclear(res);
      return SQLITE_NOMEM;
    }
    t->aRid = aNew;
  }
  for (i = 0; i < n; i++) t->aRid[i] = strtoll(PQgetvalue(res, i, 0), 0, 10);
  PQclear(res);
  t->nRid = n;
  t->iRid = 0;
  t->nRidNext = n * 2 > PG_RID_MAX ? PG_RID_MAX : n * 2;
  return SQLITE_OK;
}

/*
** Buffer one row (see canBuffer): it goes to the server with the next
** statement that needs an answer, or the COMMIT, as part of one
** INSERT ... SELECT FROM unnest(...) per table and up to PG_BATCH rows.
*/
static int bufferRow(PgTable *t, const statevtab_value *aRow,
                     sqlite3_int64 *pRowid, int *pbDone) {
  PgStore *p = t->p;
  const statevtab_entity *e = t->base.pEntity;
  PgQueued *q;
  sqlite3_int64 iRid;
  int i, k, rc;
  if (p->zDoom) return pgDoomed(p);
  rc = pgEnsure(p, 0);
  if (rc != SQLITE_OK) return rc;
  for (i = 0; i < e->nCol; i++) {
    if ((aRow[i].eType == SQLITE_TEXT || aRow[i].eType == SQLITE_BLOB) &&
        aRow[i].n > 0 && memchr(aRow[i].z, 0, (size_t)aRow[i].n)) {
      pgError(p, "postgresql: text containing a NUL byte cannot be stored");
      return SQLITE_ERROR;
    }
  }
  if (t->iRid >= t->nRid) {
    rc = reserveRids(t);
    if (rc != SQLITE_OK) return rc;
  }
  iRid = t->aRid[t->iRid++];
  if (!p->pMarkTab) {
    p->pMarkTab = t;
    p->iMarkRid = iRid;
  }
  q = p->nQ > 0 ? p->aQ[p->nQ - 1] : 0;
  if (!q || q->pOf != (const void *)t || q->nCol != e->nCol + 1 ||
      q->nRow >= PG_BATCH) {
    q = sqlite3_malloc64(sizeof(*q));
    if (q) {
      memset(q, 0, sizeof(*q));
      q->pOf = t;
      q->pEntity = e;
      q->zSql = sqlite3_mprintf("%s", t->zT);
      q->aCol = sqlite3_malloc64(sizeof(sqlite3_str *) * (size_t)(e->nCol + 1));
      if (q->zSql && q->aCol) {
        memset(q->aCol, 0, sizeof(sqlite3_str *) * (size_t)(e->nCol + 1));
        q->aCol[0] = sqlite3_str_new(0);
        sqlite3_str_appendchar(q->aCol[0], 1, '{');
        q->nCol = e->nCol + 1;
      } else {
        queuedFree(q);
        q = 0;
      }
    }
    rc = queueAdd(p, q);
    if (rc != SQLITE_OK) return rc;
  }
  if (q->nRow) sqlite3_str_appendchar(q->aCol[0], 1, ',');
  appendInt(q->aCol[0], iRid);
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str *a = q->aCol[i + 1];
    if (!a) {
      /* NULL so far: the array starts with the first value. */
      if (aRow[i].eType == SQLITE_NULL) continue;
      a = q->aCol[i + 1] = sqlite3_str_new(0);
      sqlite3_str_appendchar(a, 1, '{');
      for (k = 0; k < q->nRow; k++) sqlite3_str_append(a, "NULL,", 5);
    } else if (q->nRow) {
      sqlite3_str_appendchar(a, 1, ',');
    }
    arrayElem(a, &aRow[i]);
  }
  for (i = 0; i <= e->nCol; i++) {
    if (q->aCol[i] && sqlite3_str_errcode(q->aCol[i]) != SQLITE_OK) {
      /* Half a row: the batch cannot be sent any more. */
      sqlite3_free(p->zDoom);
      p->zDoom = sqlite3_mprintf("postgresql: out of memory");
      p->rcDoom = SQLITE_NOMEM;
      return SQLITE_NOMEM;
    }
  }
  q->nRow++;
  p->nQRow++;
  *pRowid = iRid;
  *pbDone = 1;
  return p->nQRow >= PG_BUFFER ? pgFlush(p) : SQLITE_OK;
}

static int pgInsert(statevtab_table *pTab, const statevtab_value *aRow,
                    int eConflict, sqlite3_int64 *pRowid, int *pbDone) {
  PgTable *t = (PgTable *)pTab;
  int rc;
  if (canBuffer(t, aRow)) return bufferRow(t, aRow, pRowid, pbDone);
  rc = writeBegin(t->p);
  if (rc == SQLITE_OK) rc = doInsert(t, aRow, eConflict, pRowid, pbDone);
  return writeEnd(t->p, rc);
}

static int pgUpdate(statevtab_table *pTab, sqlite3_int64 iRowid,
                    const statevtab_value *aRow, int eConflict, int *pbDone) {
  PgTable *t = (PgTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  sqlite3_str *s;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc, i, iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  int bKeyed = keyedTask(t, aRow);
  *pbDone = 0;
  rc = writeBegin(t->p);
  if (rc == SQLITE_OK) rc = dedupLock(t, aRow);
  if (rc == SQLITE_OK) {
    rc = clearConflicts(t, aRow, iRowid,
                        eConflict == STATEVTAB_CONFLICT_REPLACE);
  }
  if (rc != SQLITE_OK) return writeEnd(t->p, rc);
  memset(&a, 0, sizeof(a));
  s = sqlite3_str_new(0);
  if (bKeyed) {
    /* The updated task may not clash with another of its key either
    ** (under dedupLock): c says whether one does, and then u changes
    ** nothing. */
    sqlite3_str_appendf(s, "WITH c AS (SELECT EXISTS (SELECT 1 FROM %s WHERE ",
                        t->zT);
    dedupClash(s, t, &a, aRow, iRowid);
    sqlite3_str_appendall(s, ") AS x), u AS (");
  }
  sqlite3_str_appendf(s, "UPDATE %s SET ", t->zT);
  for (i = 0; i < e->nCol; i++) {
    if (i == iVer) {
      sqlite3_str_appendf(s, "%s\"%w\" = \"%w\" + 1", i ? ", " : "",
                          e->aCol[i].zName, e->aCol[i].zName);
    } else {
      sqlite3_str_appendf(s, "%s\"%w\" = $%d::%s", i ? ", " : "",
                          e->aCol[i].zName, paramCol(&a, &e->aCol[i], &aRow[i]),
                          pgType(&e->aCol[i]));
    }
  }
  sqlite3_str_appendf(s, " WHERE _rid = $%d::bigint", paramInt(&a, iRowid));
  if (eConflict == STATEVTAB_CONFLICT_IGNORE) {
    /* OR IGNORE: skip the row when another one holds the new key. */
    sqlite3_str_appendf(s,
                        " AND NOT EXISTS (SELECT 1 FROM %s WHERE _rid <> "
                        "$%d::bigint AND ",
                        t->zT, paramInt(&a, iRowid));
    keyWhere(s, &a, e, aRow);
    sqlite3_str_appendall(s, ")");
  }
  if (bKeyed) {
    sqlite3_str_appendall(s, " AND NOT (SELECT x FROM c) RETURNING _rid) "
                             "SELECT (SELECT x FROM c), _rid FROM u "
                             "UNION ALL SELECT true, NULL FROM c WHERE x");
  } else {
    sqlite3_str_appendall(s, " RETURNING _rid");
  }
  zSql = sqlite3_str_finish(s);
  rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
  if (rc == SQLITE_OK && bKeyed && PQntuples(res) > 0 &&
      PQgetvalue(res, 0, 0)[0] == 't') {
    if (eConflict != STATEVTAB_CONFLICT_IGNORE) {
      pgError(t->p, "UNIQUE constraint failed: queue, idempotency_key");
      rc = SQLITE_CONSTRAINT;
    }
  } else if (rc == SQLITE_OK) {
    *pbDone = PQntuples(res) > 0;
  }
  PQclear(res);
  sqlite3_free(zSql);
  paramsFree(&a);
  return writeEnd(t->p, rc);
}

static int pgDelete(statevtab_table *pTab, sqlite3_int64 iRowid) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  char *zSql;
  int rc = writeBegin(t->p);
  /* The marker row (pgSettle) gone with the transaction still going on:
  ** it can no longer tell. */
  if (t->p->pMarkTab == t && t->p->iMarkRid == iRowid) t->p->pMarkTab = 0;
  if (rc != SQLITE_OK) return writeEnd(t->p, rc);
  memset(&a, 0, sizeof(a));
  zSql = sqlite3_mprintf("DELETE FROM %s WHERE _rid = $%d::bigint", t->zT,
                         paramInt(&a, iRowid));
  rc = zSql ? pgExec(t->p, zSql, &a, 0) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  return writeEnd(t->p, rc);
}

/* --------------------------------------------------------- transactions */

/* BEGIN is deferred: it goes out with the transaction's first statement
** (a transaction that sends nothing costs no round trip at all). */
static int pgBegin(statevtab_table *pTab) {
  PgStore *p = ((PgTable *)pTab)->p;
  int rc;
  if (p->bTxn) return SQLITE_OK;
  rc = pgEnsure(p, 0);
  if (rc == SQLITE_OK) rc = queueRaw(p, "BEGIN", 1);
  if (rc == SQLITE_OK) {
    p->bTxn = 1;
    p->bBegun = 0;
    p->nSave = 0;
    p->nWrite = 0;
  }
  return rc;
}

/*
** A COMMIT whose reply did not come (connection lost, command timeout): was
** it applied?  Settle it before answering, so that the caller does not
** retry what the server committed (a second row) nor take for committed
** what it rolled back.  On a new connection: end the old session (iPid;
** pg_terminate_backend, waiting for it), so that a COMMIT still on its
** way can no longer arrive; then look for the transaction's marker row
** (pMarkTab, iMarkRid: its first buffered row, whose handle no other
** transaction can use).  SQLITE_OK: it committed (the connection was lost
** after it; the statement succeeds).  SQLITE_IOERR with a message that
** says it was not committed, or that it cannot be known -- no marker (the
** transaction buffered no row: its writes went out before the COMMIT), the
** server unreachable, or the old session still alive -- and how to check.
** The cause stays first in the message.
*/
static int pgSettle(PgStore *p, int iPid) {
  PgTable *t = p->pMarkTab;
  sqlite3_int64 iRid = p->iMarkRid;
  char *zCause = p->base.zErrMsg;
  const char *zWhy = 0;
  PGresult *res = 0;
  PgParams a;
  int rc = SQLITE_ERROR, bFound = 0;
  p->base.zErrMsg = 0;
  p->pMarkTab = 0;
  p->bLostTxn = 0; /* that transaction is settled here */
  memset(&a, 0, sizeof(a));
  if (!zCause) return SQLITE_NOMEM;
  if (!t) {
    zWhy = "its writes went out before the COMMIT";
  } else if (iPid <= 0) {
    zWhy = "the old session is unknown";
  } else {
    /* Connecting is bounded by the command timeout too (libpq counts whole
    ** seconds, at least 2), unless the URL says otherwise. */
    sqlite3_int64 s = (p->iCmdMs + 999) / 1000;
    p->iSettleConnS = s < 2 ? 2 : s > 10 ? 10 : (int)s;
    rc = pgEnsure(p, 0);
    p->iSettleConnS = 0;
  }
  if (rc == SQLITE_OK && t && iPid > 0) {
    /* $1: the old session's pid, $2: how long to wait for it to end (ms) */
    paramInt(&a, iPid);
    paramInt(&a, p->iCmdMs);
    rc = pgExec(p,
                "SELECT pg_catalog.pg_terminate_backend($1::integer, "
                "$2::bigint), NOT EXISTS (SELECT FROM "
                "pg_catalog.pg_stat_activity WHERE pid = $1::integer)",
                &a, &res);
    paramsFree(&a);
    if (rc == SQLITE_OK &&
        !(PQntuples(res) == 1 && (PQgetvalue(res, 0, 0)[0] == 't' ||
                                  PQgetvalue(res, 0, 1)[0] == 't'))) {
      zWhy = "the old session could not be ended";
      rc = SQLITE_ERROR;
    }
    PQclear(res);
    res = 0;
  }
  if (rc == SQLITE_OK) {
    char *zSql = sqlite3_mprintf("SELECT EXISTS (SELECT FROM %s WHERE _rid = "
                                 "$1::bigint)",
                                 t->zT);
    memset(&a, 0, sizeof(a));
    paramInt(&a, iRid); /* $1: the marker row's handle */
    rc = zSql ? pgExec(p, zSql, &a, &res) : SQLITE_NOMEM;
    sqlite3_free(zSql);
    paramsFree(&a);
    if (rc == SQLITE_OK) {
      bFound = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    }
    PQclear(res);
  }
  return sv_settled(&p->base, zCause, rc, bFound, zWhy);
}

/* The remote COMMIT happens here, so that its failure fails the SQLite
** commit (which then rolls back).  It goes out with the deferred commands
** (buffered rows, RELEASE) in one round trip. */
static int pgSync(statevtab_table *pTab) {
  PgStore *p = ((PgTable *)pTab)->p;
  PgCmd cmd;
  int rc, iPid;
  if (p->bLostTxn) {
    p->bLostTxn = 0;
    pgError(p,
            "postgresql: the transaction was lost with the connection to %s; "
            "nothing of it was committed",
            p->zSafe);
    return SQLITE_IOERR;
  }
  if (!p->bTxn) return SQLITE_OK;
  /* A doomed transaction stays open: SQLite rolls it back next. */
  if (p->zDoom) return pgDoomed(p);
  if (!p->bBegun && p->nQRow == 0) {
    /* Nothing was sent and nothing waits but BEGIN and savepoints. */
    queueClear(p);
    p->bTxn = 0;
    p->nSave = 0;
    return SQLITE_OK;
  }
  cmd.zSql = "COMMIT";
  cmd.nParam = 0;
  cmd.az = 0;
  iPid = PQbackendPID(p->pg);
  rc = pgPipeline(p, 1, &cmd);
  if (rc == SQLITE_IOERR) {
    /* No reply: settled, it committed (SQLITE_OK) or the error says. */
    return pgSettle(p, iPid);
  }
  p->pMarkTab = 0;
  if (rc != SQLITE_OK) return rc;
  if (p->zDoom) {
    PQclear(cmd.pRes);
    return pgDoomed(p);
  }
  p->bTxn = 0;
  p->bBegun = 0;
  p->nSave = 0;
  if (!cmd.pRes || PQresultStatus(cmd.pRes) != PGRES_COMMAND_OK) {
    rc = pgResultError(p, cmd.pRes);
  } else if (strcmp(PQcmdStatus(cmd.pRes), "COMMIT") != 0) {
    /* The server answers ROLLBACK to the COMMIT of an aborted transaction. */
    pgError(p,
            "postgresql: the server rolled the transaction back (%s); "
            "nothing of it was committed",
            PQcmdStatus(cmd.pRes));
    rc = SQLITE_ERROR;
  }
  PQclear(cmd.pRes);
  return rc;
}

static int pgCommit(statevtab_table *pTab) { return pgSync(pTab); }

static int pgRollback(statevtab_table *pTab) {
  PgStore *p = ((PgTable *)pTab)->p;
  p->bLostTxn = 0;
  p->pMarkTab = 0;
  sqlite3_free(p->zDoom);
  p->zDoom = 0;
  if (!p->bTxn) return SQLITE_OK;
  p->bTxn = 0;
  p->nSave = 0;
  queueClear(p); /* rolled back before it was sent */
  if (p->bBegun && p->pg) pgRaw(p, "ROLLBACK");
  p->bBegun = 0;
  return SQLITE_OK;
}

/* Savepoints are deferred commands too. */
static int pgSavepoint(statevtab_table *pTab, int iSave) {
  PgStore *p = ((PgTable *)pTab)->p;
  int rc = SQLITE_OK;
  while (rc == SQLITE_OK && p->bTxn && p->nSave <= iSave) {
    char zSql[64];
    sqlite3_snprintf(sizeof(zSql), zSql, "SAVEPOINT sv_%d", p->nSave);
    rc = queueRaw(p, zSql, 0);
    if (rc == SQLITE_OK) p->nSave++;
  }
  return rc;
}

static int pgRelease(statevtab_table *pTab, int iSave) {
  PgStore *p = ((PgTable *)pTab)->p;
  char zSql[64];
  if (!p->bTxn || iSave >= p->nSave) return SQLITE_OK;
  if (iSave < 0) iSave = 0;
  sqlite3_snprintf(sizeof(zSql), zSql, "RELEASE SAVEPOINT sv_%d", iSave);
  p->nSave = iSave;
  return queueRaw(p, zSql, 0);
}

static int pgRollbackTo(statevtab_table *pTab, int iSave) {
  PgStore *p = ((PgTable *)pTab)->p;
  char zSql[64];
  if (!p->bTxn) return SQLITE_OK;
  p->pMarkTab = 0; /* the marker row (pgSettle) may be undone */
  if (iSave < 0) {
    /* Back to the start of the transaction, which goes on. */
    int rc = SQLITE_OK;
    queueClear(p);
    sqlite3_free(p->zDoom);
    p->zDoom = 0;
    p->nSave = 0;
    if (p->bBegun) rc = pgRaw(p, "ROLLBACK");
    p->bBegun = 0;
    if (rc == SQLITE_OK) rc = queueRaw(p, "BEGIN", 1);
    if (rc != SQLITE_OK) p->bTxn = 0;
    return rc;
  }
  if (iSave >= p->nSave) return SQLITE_OK;
  sqlite3_snprintf(sizeof(zSql), zSql, "ROLLBACK TO SAVEPOINT sv_%d", iSave);
  p->nSave = iSave + 1;
  return queueRaw(p, zSql, 0);
}

static char *pgDescribe(statevtab_store *pStore) {
  PgStore *p = (PgStore *)pStore;
  return sqlite3_mprintf("postgresql: %s (server %d%s)", p->zSafe,
                         p->pg ? PQserverVersion(p->pg) : 0,
                         p->pg ? "" : ", disconnected");
}

/* --------------------------------------------------- atomic primitives */

/*
** Run one server function (or statement) as an atomic primitive: inside an
** explicit transaction it joins it behind a savepoint.
*/
static int atomicExec(PgTable *t, const char *zSql, PgParams *a,
                      PGresult **ppRes) {
  int rc = writeBegin(t->p);
  if (rc == SQLITE_OK) rc = pgExec(t->p, zSql, a, ppRes);
  rc = writeEnd(t->p, rc);
  if (rc != SQLITE_OK && ppRes) {
    PQclear(*ppRes);
    *ppRes = 0;
  }
  return rc;
}

/* A dead letters table other than the namespace's own cannot be used. */
static int checkDead(PgTable *t, statevtab_table *pDead) {
  PgTable *d = (PgTable *)pDead;
  if (!pDead) return SQLITE_OK;
  if (pDead->pStore != t->base.pStore || strcmp(d->zSchema, t->zSchema)) {
    pgError(t->p,
            "dead letters table must be in the tasks table's schema "
            "'%s'",
            t->zSchema);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* A new dead letter id for one call of sv_claim or sv_fail (sv_dead_id),
** from sqlite3_malloc, or NULL (no memory: paramTake reports it). */
static char *newDeadId(PgTable *t) {
  char *z = sqlite3_malloc(40);
  if (z) sv_gen_id(&t->p->ids, z);
  return z;
}

static int pgClaim(statevtab_table *pTab, statevtab_table *pDead,
                   const statevtab_claim *c, statevtab_row_fn xRow,
                   void *pCtx) {
  PgTable *t = (PgTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  statevtab_value aRow[SV_MAX_COLUMNS];
  statevtab_value *aBool = 0;
  PgParams a;
  PGresult *res = 0;
  char *zSql, *zTags = 0;
  int rc = checkDead(t, pDead), i, k;
  const int iId = SV_TASK_ID, iTok = SV_TASK_LEASE_TOKEN;
  if (rc != SQLITE_OK) return rc;
  for (k = 0; k < c->nComplete; k++) c->aCompleteOk[k] = 1;
  memset(&a, 0, sizeof(a));
  aBool = sqlite3_malloc64(sizeof(statevtab_value) *
                           (size_t)(c->nLimit + c->nComplete + c->nPart + 1));
  if (!aBool) return SQLITE_NOMEM;
  memset(aBool, 0,
         sizeof(statevtab_value) *
             (size_t)(c->nLimit + c->nComplete + c->nPart + 1));
  paramArray(&a, c->nQueue, c->aQueue);
  paramValue(&a, c->pWorker);
  paramInt(&a, c->iLeaseMs);
  paramInt(&a, c->nMax);
  paramArray(&a, c->nName, c->aName);
  if (c->nTag > 0) {
    zTags = sv_json_array(c->nTag, c->aTag);
    if (!zTags) a.rc = SQLITE_NOMEM;
    paramTake(&a, zTags, 0);
  } else {
    paramTake(&a, 0, 1);
  }
  paramArray(&a, c->nLimit, c->aLimit);
  for (k = 0; k < c->nLimit; k++) {
    aBool[k].eType = SQLITE_TEXT;
    aBool[k].z = c->abLimitQueue[k] ? "t" : "f";
    aBool[k].n = 1;
  }
  paramArray(&a, c->nLimit, aBool);
  for (k = 0; k < c->nLimit; k++) {
    aBool[k].eType = SQLITE_INTEGER;
    aBool[k].i = c->aiLimit[k];
  }
  paramArray(&a, c->nLimit, aBool);
  for (k = 0; k < c->nLimit; k++) {
    aBool[k].eType = SQLITE_INTEGER;
    aBool[k].i = c->aiLimitPeriod ? c->aiLimitPeriod[k] : 0;
  }
  paramArray(&a, c->nLimit, aBool);
  paramArray(&a, c->nComplete, c->aCompleteId);
  for (k = 0; k < c->nComplete; k++) {
    aBool[k].eType = SQLITE_INTEGER;
    aBool[k].i = c->aiCompleteToken[k];
  }
  paramArray(&a, c->nComplete, aBool);
  paramArray(&a, c->nComplete, c->aCompleteResult);
  paramTake(&a, newDeadId(t), 0); /* dead letters: the schema's own */
  /* Partition limits: their queues, maxima and periods. */
  paramArray(&a, c->nPart, c->aPartQueue);
  for (k = 0; k < c->nPart; k++) {
    aBool[k].eType = SQLITE_INTEGER;
    aBool[k].i = c->aiPartMax[k];
  }
  paramArray(&a, c->nPart, aBool);
  for (k = 0; k < c->nPart; k++) {
    aBool[k].eType = SQLITE_INTEGER;
    aBool[k].i = c->aiPartPeriod[k];
  }
  paramArray(&a, c->nPart, aBool);
  {
    /* The columns colUsed asks for, NULL for the others (prepared once per
    ** set of columns, by pgExec). */
    sqlite3_str *q = sqlite3_str_new(0);
    sqlite3_str_appendall(q, "SELECT _rid");
    for (k = 0; k < e->nCol; k++) {
      if (c->colUsed & ((sqlite3_uint64)1 << (k < 63 ? k : 63))) {
        sqlite3_str_appendf(q, ", \"%w\"", e->aCol[k].zName);
      } else {
        sqlite3_str_appendall(q, ", NULL");
      }
    }
    sqlite3_str_appendf(
        q,
        " FROM %s.sv_claim($1::text[], $2::text, $3::bigint, "
        "$4::integer, $5::text[], $6::text, $7::text[], $8::boolean[], "
        "$9::bigint[], $10::bigint[], $11::text[], $12::bigint[], $13::text[], "
        "$14::text, $15::text[], $16::bigint[], $17::bigint[])",
        t->zQ);
    zSql = sqlite3_str_finish(q);
  }
  rc = zSql ? atomicExec(t, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  sqlite3_free(aBool);
  for (i = 0; rc == SQLITE_OK && i < PQntuples(res); i++) {
    for (k = 0; k < e->nCol; k++) {
      decode(res, i, k + 1, &e->aCol[k], &aRow[k]);
    }
    if (strcmp(PQgetvalue(res, i, 0), "-1") == 0) {
      /* A stale completion: find which one. */
      for (k = 0; k < c->nComplete; k++) {
        if (c->aCompleteOk[k] && aRow[iTok].i == c->aiCompleteToken[k] &&
            aRow[iId].n == c->aCompleteId[k].n &&
            memcmp(aRow[iId].z, c->aCompleteId[k].z, (size_t)aRow[iId].n) ==
                0) {
          c->aCompleteOk[k] = 0;
          break;
        }
      }
      continue;
    }
    if (xRow(pCtx, aRow)) rc = SQLITE_NOMEM;
  }
  PQclear(res);
  return rc;
}

/* Run "SELECT <schema>.<zFunc>(params...)" and hand back the one result. */
static int callFunc(PgTable *t, const char *zCall, PgParams *a,
                    PGresult **ppRes) {
  char *zSql = sqlite3_mprintf("SELECT %s.%s", t->zQ, zCall);
  int rc = zSql ? atomicExec(t, zSql, a, ppRes) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(a);
  return rc;
}

static int pgRenew(statevtab_table *pTab, const statevtab_value *pId,
                   sqlite3_int64 iToken, sqlite3_int64 iLeaseMs,
                   sqlite3_int64 *piExpires) {
  PgParams a;
  PGresult *res = 0;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pId);
  paramInt(&a, iToken);
  paramInt(&a, iLeaseMs);
  rc = callFunc((PgTable *)pTab, "sv_renew($1::text, $2::bigint, $3::bigint)",
                &a, &res);
  *piExpires = 0;
  if (rc == SQLITE_OK && !PQgetisnull(res, 0, 0)) {
    *piExpires = strtoll(PQgetvalue(res, 0, 0), 0, 10);
  }
  PQclear(res);
  return rc;
}

static int boolResult(PGresult *res) {
  return !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0] == 't';
}

static int pgComplete(statevtab_table *pTab, const statevtab_value *pId,
                      sqlite3_int64 iToken, const statevtab_value *pResult,
                      int *pbOk) {
  PgParams a;
  PGresult *res = 0;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pId);
  paramInt(&a, iToken);
  paramValue(&a, pResult);
  rc = callFunc((PgTable *)pTab, "sv_complete($1::text, $2::bigint, $3::text)",
                &a, &res);
  *pbOk = rc == SQLITE_OK && boolResult(res);
  PQclear(res);
  return rc;
}

static int pgFail(statevtab_table *pTab, statevtab_table *pDead,
                  const statevtab_value *pId, sqlite3_int64 iToken,
                  const statevtab_value *pError, sqlite3_int64 iRetryMs,
                  int *peOutcome) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  int rc = checkDead(t, pDead);
  *peOutcome = STATEVTAB_FAIL_STALE;
  if (rc != SQLITE_OK) return rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pId);
  paramInt(&a, iToken);
  paramValue(&a, pError);
  if (iRetryMs >= 0) {
    paramInt(&a, iRetryMs);
  } else {
    paramTake(&a, 0, 1);
  }
  paramTake(&a, newDeadId(t), 0);
  rc = callFunc(t,
                "sv_fail($1::text, $2::bigint, $3::text, $4::bigint, $5::text)",
                &a, &res);
  if (rc == SQLITE_OK && !PQgetisnull(res, 0, 0)) {
    *peOutcome = strcmp(PQgetvalue(res, 0, 0), "dead") == 0
                     ? STATEVTAB_FAIL_DEAD
                     : STATEVTAB_FAIL_RETRY;
  }
  PQclear(res);
  return rc;
}

static int pgLease(statevtab_table *pTab, const statevtab_value *pName,
                   const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                   sqlite3_int64 *piToken) {
  PgParams a;
  PGresult *res = 0;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pName);
  paramValue(&a, pOwner);
  paramInt(&a, iTtlMs);
  rc = callFunc((PgTable *)pTab, "sv_lease($1::text, $2::text, $3::bigint)", &a,
                &res);
  *piToken = 0;
  if (rc == SQLITE_OK && !PQgetisnull(res, 0, 0)) {
    *piToken = strtoll(PQgetvalue(res, 0, 0), 0, 10);
  }
  PQclear(res);
  return rc;
}

static int pgLeaseRelease(statevtab_table *pTab, const statevtab_value *pName,
                          const statevtab_value *pOwner, int *pbOk) {
  PgParams a;
  PGresult *res = 0;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pName);
  paramValue(&a, pOwner);
  rc = callFunc((PgTable *)pTab, "sv_release($1::text, $2::text)", &a, &res);
  *pbOk = rc == SQLITE_OK && boolResult(res);
  PQclear(res);
  return rc;
}

static int pgIncr(statevtab_table *pTab, const statevtab_value *pScope,
                  const statevtab_value *pName, const statevtab_value *pDelta,
                  statevtab_value *pOut) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc;
  memset(&a, 0, sizeof(a));
  memset(pOut, 0, sizeof(*pOut));
  paramValue(&a, pScope);
  paramValue(&a, pName);
  paramValue(&a, pDelta);
  zSql = sqlite3_mprintf(
      "INSERT INTO %s AS c (scope, name, value, updated_at) VALUES ($1::text, "
      "$2::text, $3::numeric, %s.sv_now()) ON CONFLICT (scope, name) DO "
      "UPDATE SET value = c.value + excluded.value, updated_at = "
      "excluded.updated_at RETURNING value",
      t->zT, t->zQ);
  rc = zSql ? atomicExec(t, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  if (rc == SQLITE_OK && PQntuples(res) > 0) {
    decode(res, 0, 0, &pTab->pEntity->aCol[SV_COUNTER_VALUE], pOut);
  }
  PQclear(res);
  return rc;
}

static int pgTake(statevtab_table *pTab, const statevtab_value *pExecId,
                  const statevtab_value *pName, statevtab_value *pOut) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  int rc;
  memset(&a, 0, sizeof(a));
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  paramValue(&a, pExecId);
  paramValue(&a, pName);
  rc = callFunc(t, "sv_take($1::text, $2::text)", &a, &res);
  if (rc == SQLITE_OK && !PQgetisnull(res, 0, 0)) {
    int n = PQgetlength(res, 0, 0);
    char *z = sqlite3_malloc64((sqlite3_uint64)n + 1);
    if (!z) {
      rc = SQLITE_NOMEM;
    } else {
      memcpy(z, PQgetvalue(res, 0, 0), (size_t)n);
      z[n] = 0;
      sqlite3_free(t->zTakeOut);
      t->zTakeOut = z;
      pOut->eType = SQLITE_TEXT;
      pOut->z = z;
      pOut->n = n;
    }
  }
  PQclear(res);
  return rc;
}

/* retain= (xPurge): through the index of the retention column, on the
** server's clock (the cut-off is an InitPlan: an index condition), rows
** another process is removing skipped. */
static int pgPurge(statevtab_table *pTab, sqlite3_int64 iRetainMs, int nMax,
                   int *pnDone) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql, *zCut, *zWhere;
  int rc;
  *pnDone = 0;
  if (sv_entity_col(pTab->pEntity, STATEVTAB_COL_RETAIN) < 0) return SQLITE_OK;
  zCut = sqlite3_mprintf("(SELECT %s.sv_now() - $1::bigint)", t->zQ);
  zWhere = zCut ? sv_retain_where(pTab->pEntity, zCut) : 0;
  zSql = zWhere ? sqlite3_mprintf("DELETE FROM %s WHERE _rid IN (SELECT _rid "
                                  "FROM %s WHERE %s LIMIT $2::integer FOR "
                                  "UPDATE SKIP LOCKED)",
                                  t->zT, t->zT, zWhere)
                : 0;
  sqlite3_free(zCut);
  sqlite3_free(zWhere);
  if (!zSql) return SQLITE_NOMEM;
  memset(&a, 0, sizeof(a));
  paramInt(&a, iRetainMs);
  paramInt(&a, nMax);
  rc = atomicExec(t, zSql, &a, &res);
  sqlite3_free(zSql);
  paramsFree(&a);
  if (rc == SQLITE_OK) *pnDone = atoi(PQcmdTuples(res));
  PQclear(res);
  return rc;
}

static int pgProgress(statevtab_table *pTab, const statevtab_value *pId,
                      const statevtab_value *pJson, int *pbOk) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql, *zEntry;
  int rc;
  *pbOk = 0;
  /* Appended as text, so that the array reads as SQLite's json() writes
  ** it on every store. */
  zEntry = sv_json_minify(pJson->z, pJson->n);
  if (!zEntry) return SQLITE_NOMEM;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pId);
  paramTake(&a, zEntry, 0);
  zSql = sqlite3_mprintf(
      "UPDATE %s SET progress = CASE WHEN pg_catalog.btrim(progress) = '[]' "
      "THEN '[' || $2::text || ']' WHEN pg_catalog.ltrim(progress) NOT LIKE "
      "'[%%' THEN progress ELSE pg_catalog.regexp_replace(progress, "
      "'\\]\\s*$', '') || ',' || $2::text || ']' END, updated_at = "
      "%s.sv_now() WHERE id = $1::text RETURNING _rid",
      t->zT, t->zQ);
  rc = zSql ? atomicExec(t, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  if (rc == SQLITE_OK) *pbOk = PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

static int pgPause(statevtab_table *pTab, const statevtab_value *pQueue,
                   int bPause, int *pbChanged) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pQueue);
  zSql = bPause ? sqlite3_mprintf("INSERT INTO %s.queues (queue, paused_at) "
                                  "VALUES ($1::text, %s.sv_now()) ON CONFLICT "
                                  "DO NOTHING RETURNING queue",
                                  t->zQ, t->zQ)
                : sqlite3_mprintf("DELETE FROM %s.queues WHERE queue = "
                                  "$1::text RETURNING queue",
                                  t->zQ);
  rc = zSql ? atomicExec(t, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  *pbChanged = rc == SQLITE_OK && PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

static int pgPaused(statevtab_table *pTab, const statevtab_value *pQueue,
                    int *pbPaused) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pQueue);
  zSql =
      sqlite3_mprintf("SELECT 1 FROM %s.queues WHERE queue = $1::text", t->zQ);
  rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  *pbPaused = rc == SQLITE_OK && PQntuples(res) > 0;
  PQclear(res);
  return rc;
}

/*
** state_metrics (xMetrics): one statement, each figure from an index --
** the pending tasks (due, scheduled, the oldest due run_at) from
** tasks_pending (queue, priority, run_at, id) WHERE state = 'pending',
** index-only; the claimed tasks with a lease and the expired ones from
** tasks_expiry (queue, lease_expires_at), each with its row (its state:
** as many as are in flight); the others (the final states, and claimed
** without a lease) from tasks_queue_state (queue, state) WHERE state <>
** 'pending' AND (state <> 'claimed' OR lease_expires_at IS NULL),
** index-only -- a claim writes no entry in it, a completion one; the last
*hour's completions (only when $2, the
** history, is read) through tasks_completed_at when the table has it,
** else the queue's completed tasks through tasks_queue_state.  The
** history comes back as text "k:n,k:n" (k: minutes ago, 0 to 59).
*/
static int pgMetrics(statevtab_table *pTab, const statevtab_value *pQueue,
                     int bHistory, statevtab_metrics_fn xRow, void *pCtx) {
  PgTable *t = (PgTable *)pTab;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc, i, k;
  memset(&a, 0, sizeof(a));
  if (pQueue) {
    paramValue(&a, pQueue);
  } else {
    paramTake(&a, 0, 1);
  }
  paramTake(&a, sqlite3_mprintf("%s", bHistory ? "t" : "f"), 0);
  zSql = sqlite3_mprintf(
      "WITH n AS (SELECT %s.sv_now() AS ms), "
      /* tasks_queue_state: neither pending nor claimed under a lease */
      "st AS (SELECT queue, state, pg_catalog.count(*) AS c FROM %s WHERE "
      "state <> 'pending' AND (state <> 'claimed' OR lease_expires_at IS "
      "NULL) AND ($1::text IS NULL OR queue = $1::text) GROUP BY queue, "
      "state), "
      /* tasks_pending */
      "pe AS (SELECT queue, pg_catalog.count(*) AS c, pg_catalog.count(*) "
      "FILTER (WHERE run_at <= n.ms) AS d, pg_catalog.min(run_at) FILTER "
      "(WHERE run_at <= n.ms) AS o FROM %s, n WHERE state = 'pending' AND "
      "($1::text IS NULL OR queue = $1::text) GROUP BY queue), "
      /* tasks_expiry: the claimed tasks with a lease */
      "cl AS (SELECT queue, pg_catalog.count(*) AS c, pg_catalog.count(*) "
      "FILTER (WHERE lease_expires_at <= n.ms) AS x FROM %s, n WHERE "
      "lease_expires_at IS NOT NULL AND state = 'claimed' AND ($1::text IS "
      "NULL OR queue = $1::text) GROUP BY queue), "
      "hi AS (SELECT queue, pg_catalog.string_agg(k || ':' || c, ',') AS h "
      "FROM (SELECT queue, GREATEST(0, (n.ms - completed_at) / 60000) AS k, "
      "pg_catalog.count(*) AS c FROM %s, n WHERE $2::boolean AND state = "
      "'completed' AND state <> 'pending' AND (state <> 'claimed' OR "
      "lease_expires_at IS NULL) AND completed_at > n.ms - "
      "3600000 AND ($1::text IS NULL OR queue = $1::text) GROUP BY 1, 2) x "
      "GROUP BY queue), "
      "pa AS (SELECT queue FROM %s.queues WHERE $1::text IS NULL OR queue = "
      "$1::text), "
      "qs AS (SELECT queue FROM st UNION SELECT queue FROM pe UNION SELECT "
      "queue FROM cl UNION SELECT queue FROM pa UNION SELECT $1::text WHERE "
      "$1::text IS NOT NULL) "
      "SELECT qs.queue, COALESCE(pe.d, 0), COALESCE(pe.c - pe.d, 0), "
      "COALESCE(cl.c, 0) + COALESCE((SELECT st.c FROM st WHERE st.queue = "
      "qs.queue AND st.state = 'claimed'), 0), COALESCE(cl.x, 0), "
      "COALESCE((SELECT st.c FROM st WHERE st.queue = qs.queue AND st.state "
      "= 'completed'), 0), "
      "COALESCE((SELECT st.c FROM st WHERE st.queue = qs.queue AND st.state "
      "= 'failed'), 0), "
      "COALESCE((SELECT st.c FROM st WHERE st.queue = qs.queue AND st.state "
      "= 'dead'), 0), "
      "COALESCE((SELECT st.c FROM st WHERE st.queue = qs.queue AND st.state "
      "= 'cancelled'), 0), "
      "CASE WHEN pe.o IS NOT NULL THEN GREATEST(0, n.ms - pe.o) END, "
      "EXISTS (SELECT 1 FROM pa WHERE pa.queue = qs.queue), hi.h, "
      "COALESCE((SELECT st.c FROM st WHERE st.queue = qs.queue AND st.state "
      "= 'waiting'), 0) "
      "FROM qs CROSS JOIN n LEFT JOIN pe ON pe.queue = qs.queue "
      "LEFT JOIN cl ON cl.queue = qs.queue LEFT JOIN hi ON hi.queue = "
      "qs.queue",
      t->zQ, t->zT, t->zT, t->zT, t->zT, t->zQ);
  rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  for (i = 0; rc == SQLITE_OK && i < PQntuples(res); i++) {
    statevtab_metrics m;
    sqlite3_int64 *aN[] = {&m.nPending, &m.nScheduled, &m.nClaimed,
                           &m.nExpired, &m.nCompleted, &m.nFailed,
                           &m.nDead,    &m.nCancelled};
    const char *z;
    memset(&m, 0, sizeof(m));
    m.queue.eType = SQLITE_TEXT;
    m.queue.z = PQgetvalue(res, i, 0);
    m.queue.n = PQgetlength(res, i, 0);
    for (k = 0; k < 8; k++) *aN[k] = strtoll(PQgetvalue(res, i, k + 1), 0, 10);
    m.iOldestPendingMs =
        PQgetisnull(res, i, 9) ? -1 : strtoll(PQgetvalue(res, i, 9), 0, 10);
    m.bPaused = PQgetvalue(res, i, 10)[0] == 't';
    m.nWaiting = strtoll(PQgetvalue(res, i, 12), 0, 10);
    for (z = PQgetisnull(res, i, 11) ? 0 : PQgetvalue(res, i, 11); z && *z;) {
      char *zEnd;
      long long iAgo = strtoll(z, &zEnd, 10);
      long long n = *zEnd == ':' ? strtoll(zEnd + 1, &zEnd, 10) : 0;
      if (iAgo >= 0 && iAgo < 60) m.aPerMinute[59 - iAgo] += n;
      z = *zEnd == ',' ? zEnd + 1 : 0;
    }
    if (xRow(pCtx, &m)) rc = SQLITE_NOMEM;
  }
  PQclear(res);
  return rc;
}

static int pgInsertAtomic(statevtab_table *pTab, const statevtab_value *aRow,
                          int *pbDone) {
  PgTable *t = (PgTable *)pTab;
  int rc = writeBegin(t->p);
  if (rc == SQLITE_OK) {
    rc = doInsert(t, aRow, STATEVTAB_CONFLICT_ABORT, 0, pbDone);
  }
  return writeEnd(t->p, rc);
}

/*
** xFire: one statement, so atomic in autocommit mode too -- the
** compare-and-set of the schedule row on next_run (a CTE) and the task's
** INSERT, which inserts a row only when the CTE updated one.
*/
static int pgFire(statevtab_table *pTab, statevtab_table *pSched,
                  const statevtab_value *pName, sqlite3_int64 iExpect,
                  sqlite3_int64 iLast, sqlite3_int64 iNext,
                  const statevtab_value *aTask, int *pbFired) {
  PgTable *t = (PgTable *)pTab, *sch = (PgTable *)pSched;
  const statevtab_entity *e = pTab->pEntity;
  sqlite3_str *s;
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc, i;
  *pbFired = 0;
  if (pSched->pStore != pTab->pStore) return SQLITE_MISUSE;
  memset(&a, 0, sizeof(a));
  s = sqlite3_str_new(0);
  sqlite3_str_appendf(s,
                      "WITH s AS (UPDATE %s SET last_run = $%d::bigint, "
                      "next_run = $%d::bigint, ",
                      sch->zT, paramInt(&a, iLast),
                      iNext >= 0 ? paramInt(&a, iNext) : paramTake(&a, 0, 1));
  sqlite3_str_appendf(s, "updated_at = $%d::bigint ",
                      paramInt(&a, sv_now_ms()));
  sqlite3_str_appendf(s, "WHERE name = $%d::text ", paramValue(&a, pName));
  sqlite3_str_appendf(s,
                      "AND next_run = $%d::bigint AND enabled <> 0 "
                      "RETURNING 1) INSERT INTO %s (",
                      paramInt(&a, iExpect), t->zT);
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str_appendf(s, "%s\"%w\"", i ? ", " : "", e->aCol[i].zName);
  }
  sqlite3_str_appendall(s, ") SELECT ");
  for (i = 0; i < e->nCol; i++) {
    sqlite3_str_appendf(s, "%s$%d::%s", i ? ", " : "",
                        paramCol(&a, &e->aCol[i], &aTask[i]),
                        pgType(&e->aCol[i]));
  }
  sqlite3_str_appendall(s, " FROM s RETURNING _rid");
  zSql = sqlite3_str_finish(s);
  rc = writeBegin(t->p);
  if (rc == SQLITE_OK) {
    rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
    if (rc == SQLITE_OK && PQntuples(res) > 0) *pbFired = 1;
    PQclear(res);
    rc = writeEnd(t->p, rc);
  }
  sqlite3_free(zSql);
  paramsFree(&a);
  return rc;
}

/*
** Is a task of queue pQueue runnable now?  *piNext gets the earliest future
** run_at or lease expiry of the queue (0: none), to bound the wait.
*/
static int runnable(PgTable *t, const statevtab_value *pQueue, int *pb,
                    sqlite3_int64 *piWaitMs) {
  PgParams a;
  PGresult *res = 0;
  char *zSql;
  int rc;
  memset(&a, 0, sizeof(a));
  paramValue(&a, pQueue);
  zSql = sqlite3_mprintf(
      /* Leases through tasks_expiry (lease_expires_at IS NOT NULL: only
      ** claimed tasks), never by walking the tasks in flight: see
      ** sv_claim. */
      "SELECT (EXISTS (SELECT 1 FROM %s WHERE queue = $1::text AND state = "
      "'pending' AND run_at <= n.ms) OR EXISTS (SELECT 1 FROM %s WHERE queue "
      "= $1::text AND lease_expires_at <= n.ms AND (state = 'claimed') IS "
      "TRUE)) AND NOT EXISTS (SELECT 1 FROM %s.queues q WHERE q.queue = "
      "$1::text), (SELECT pg_catalog.min(x) - n.ms FROM (SELECT "
      "pg_catalog.min(run_at) AS x FROM %s WHERE queue = $1::text AND state = "
      "'pending' UNION ALL SELECT pg_catalog.min(lease_expires_at) FROM %s "
      "WHERE queue = $1::text AND lease_expires_at IS NOT NULL) m) FROM "
      "(SELECT %s.sv_now() AS ms) n",
      t->zT, t->zT, t->zQ, t->zT, t->zT, t->zQ);
  rc = zSql ? pgExec(t->p, zSql, &a, &res) : SQLITE_NOMEM;
  sqlite3_free(zSql);
  paramsFree(&a);
  *pb = 0;
  *piWaitMs = -1;
  if (rc == SQLITE_OK && PQntuples(res) > 0) {
    *pb = PQgetvalue(res, 0, 0)[0] == 't';
    if (!PQgetisnull(res, 0, 1))
      *piWaitMs = strtoll(PQgetvalue(res, 0, 1), 0, 10);
  }
  PQclear(res);
  return rc;
}

/*
** The connection that LISTENs: the store's own, or behind a pooler the
** direct one of listen= (connected here, and LISTENing to every channel of
** p->azListen, when there is none), or NULL behind a pooler without
** listen=: the waits then look again every PG_POOL_POLL_MS.  SQLITE_IOERR
** when the listen= server cannot be reached.
*/
static int listenConn(PgStore *p, PGconn **ppConn) {
  static const char *const azKey[] = {"connect_timeout",
                                      "fallback_application_name", "dbname", 0};
  const char *azVal[4], *zUrl;
  int i, rc;
  *ppConn = p->bPooler ? 0 : p->pg;
  if (!p->bPooler || !p->zListen) return SQLITE_OK;
  if (p->pgL && PQstatus(p->pgL) == CONNECTION_OK) {
    *ppConn = p->pgL;
    return SQLITE_OK;
  }
  if (p->pgL) PQfinish(p->pgL);
  p->pgL = 0;
  zUrl =
      strncmp(p->zListen, "env:", 4) == 0 ? getenv(p->zListen + 4) : p->zListen;
  if (!zUrl) {
    pgError(p, "listen=: environment variable '%s' is not set", p->zListen + 4);
    return SQLITE_ERROR;
  }
  rc = secretsFromUrl(p, zUrl);
  if (rc != SQLITE_OK) return rc;
  azVal[0] = "10";
  azVal[1] = "statevtab-listen";
  azVal[2] = zUrl;
  azVal[3] = 0;
  p->pgL = PQconnectdbParams(azKey, azVal, 1);
  if (!p->pgL) return SQLITE_NOMEM;
  if (PQstatus(p->pgL) != CONNECTION_OK) {
    char *zSafe = sv_redact_url(zUrl);
    char *z = zSafe ? pgScrub(p, PQerrorMessage(p->pgL), 1) : 0;
    char *zShow = zSafe ? pgScrub(p, zSafe, 0) : 0;
    if (z && zShow) {
      pgError(p, "postgresql: cannot connect to the listen= server %s: %s",
              strncmp(p->zListen, "env:", 4) == 0 ? p->zListen : zShow, z);
    }
    rc = z && zShow ? SQLITE_IOERR : SQLITE_NOMEM;
    sqlite3_free(z);
    sqlite3_free(zShow);
    sqlite3_free(zSafe);
    PQfinish(p->pgL);
    p->pgL = 0;
    return rc;
  }
  PQsetNoticeProcessor(p->pgL, noticeQuiet, 0);
  for (i = 0; i < p->nListen; i++) {
    rc = pgListenRaw(p, p->azListen[i]);
    if (rc != SQLITE_OK) return rc;
  }
  *ppConn = p->pgL;
  return SQLITE_OK;
}

/* LISTEN to channel zChan: on the store's connection, or behind a pooler on
** the listen= one (blocking: a direct server, a short command), if any. */
static int pgListenRaw(PgStore *p, const char *zChan) {
  if (p->bPooler) {
    PGresult *res;
    char *zId, *zSql;
    int rc = SQLITE_OK;
    if (!p->pgL) return SQLITE_OK;
    zId = PQescapeIdentifier(p->pgL, zChan, strlen(zChan));
    zSql = zId ? sqlite3_mprintf("LISTEN %s", zId) : 0;
    PQfreemem(zId);
    if (!zSql) return SQLITE_NOMEM;
    res = PQexec(p->pgL, zSql);
    sqlite3_free(zSql);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
      char *z = pgScrub(p, PQerrorMessage(p->pgL), 1);
      if (z) pgError(p, "postgresql: LISTEN on the listen= server: %s", z);
      rc = z ? SQLITE_IOERR : SQLITE_NOMEM;
      sqlite3_free(z);
      PQfinish(p->pgL);
      p->pgL = 0;
    }
    PQclear(res);
    return rc;
  }
  char *zId = PQescapeIdentifier(p->pg, zChan, strlen(zChan));
  char *zSql = zId ? sqlite3_mprintf("LISTEN %s", zId) : 0;
  int rc = zSql ? pgRaw(p, zSql) : SQLITE_NOMEM;
  PQfreemem(zId);
  sqlite3_free(zSql);
  return rc;
}

/*
** Make sure the connection LISTENs to the wake-up channel of table t,
** t->zChan, named as sql/postgresql.sql's triggers name it:
** '<x>_' || left(md5(schema), 24), where <x> is sv for tasks (state_wait),
** svl for leases and svs for signals (a waiting state_lease, state_take),
** svf for flags and segments (xChanged: state_flag's caches).
*/
static int pgListen(PgTable *t) {
  PgStore *p = t->p;
  const statevtab_entity *e = t->base.pEntity;
  const char *zPre = e == sv_entity_tasks               ? "sv_"
                     : strcmp(e->zKind, "leases") == 0  ? "svl_"
                     : strcmp(e->zKind, "signals") == 0 ? "svs_"
                                                        : "svf_";
  PgParams a;
  PGresult *res = 0;
  char *zChan, **az;
  int rc, i;
  if (p->bPooler) {
    PGconn *c;
    rc = listenConn(p, &c);
    if (rc != SQLITE_OK) return rc;
  }
  if (t->zChan) return SQLITE_OK;
  memset(&a, 0, sizeof(a));
  paramText(&a, zPre, -1);
  paramText(&a, t->zSchema, -1);
  rc = pgExec(p,
              "SELECT $1::text || pg_catalog.left(pg_catalog.md5($2::text), "
              "24)",
              &a, &res);
  paramsFree(&a);
  if (rc != SQLITE_OK) return rc;
  zChan = sqlite3_mprintf("%s", PQgetvalue(res, 0, 0));
  PQclear(res);
  if (!zChan) return SQLITE_NOMEM;
  for (i = 0; i < p->nListen; i++) {
    if (strcmp(p->azListen[i], zChan) == 0) {
      sqlite3_free(zChan);
      t->zChan = p->azListen[i];
      return SQLITE_OK;
    }
  }
  az = sqlite3_realloc64(p->azListen, sizeof(char *) * (p->nListen + 1));
  if (!az) {
    sqlite3_free(zChan);
    return SQLITE_NOMEM;
  }
  p->azListen = az;
  rc = pgListenRaw(p, zChan);
  if (rc != SQLITE_OK) {
    sqlite3_free(zChan);
    return rc;
  }
  p->azListen[p->nListen++] = zChan;
  t->zChan = zChan;
  return SQLITE_OK;
}

/*
** state_wait on PostgreSQL: LISTEN to the namespace's channel (the tasks
** trigger notifies it with the queue of every new runnable task), check,
** then sleep on the socket until a notification for this queue, the next
** scheduled run_at, or the timeout.
*/
static int pgWait(statevtab_table *pTab, const statevtab_value *pQueue,
                  sqlite3_int64 iTimeoutMs, int *pbReady) {
  PgTable *t = (PgTable *)pTab;
  PgStore *p = t->p;
  sqlite3_int64 iEnd = sv_mono_ms() + iTimeoutMs;
  int rc;
  *pbReady = 0;
  rc = pgListen(t);
  if (rc != SQLITE_OK) return rc;
  for (;;) {
    sqlite3_int64 iWait, iNext = -1, now;
    PGnotify *n;
    PGconn *pN; /* where notifications arrive; NULL: poll */
    int bReady = 0;
    rc = listenConn(p, &pN);
    if (rc != SQLITE_OK) return rc;
    /* Drop notifications already here: the check below covers them. */
    if (pN) PQconsumeInput(pN);
    while (pN && (n = pgNotifies(p, pN)) != 0) PQfreemem(n);
    rc = runnable(t, pQueue, &bReady, &iNext);
    if (rc != SQLITE_OK) return rc;
    if (bReady) {
      *pbReady = 1;
      return SQLITE_OK;
    }
    now = sv_mono_ms();
    if (now >= iEnd || p->bTxn) return SQLITE_OK; /* no waiting in a txn */
    /* A notification that came in with the check's reply (libpq read it
    ** then) may be for a task committed after the check's snapshot: look
    ** again, rather than sleep on a socket with nothing more to say (the
    ** wait then lasted its whole timeout). */
    if (pN && (n = pgNotifies(p, pN)) != 0) {
      PQfreemem(n);
      continue;
    }
    iWait = iEnd - now;
    if (iNext >= 0 && iNext + 1 < iWait) iWait = iNext + 1;
    if (!pN && iWait > PG_POOL_POLL_MS) iWait = PG_POOL_POLL_MS;
    rc = pgPollOn(p, pN, POLLIN, now + iWait);
    if (rc == SQLITE_INTERRUPT) {
      pgError(p, "postgresql: interrupted while waiting for %s", p->zSafe);
      return rc;
    }
    if (pN && (rc == SQLITE_IOERR || !PQconsumeInput(pN))) {
      if (pN == p->pg) return pgLost(p);
      /* The listen= connection broke: the next turn connects again. */
      PQfinish(p->pgL);
      p->pgL = 0;
    }
  }
}

/*
** The wake-ups of a waiting state_lease or state_take (xWake): LISTEN to
** the table's channel (see pgListen: the triggers of sql/postgresql.sql
** notify it with the name of a lease that frees, or the execution id of a
** new signal), and sleep on the socket until a notification there whose
** payload is pKey.
*/
static int pgWake(statevtab_table *pTab, const statevtab_value *pKey,
                  sqlite3_int64 iWaitMs, int *pbWoken) {
  PgTable *t = (PgTable *)pTab;
  PgStore *p = t->p;
  sqlite3_int64 iEnd = sv_mono_ms() + iWaitMs;
  PGnotify *n;
  int rc;
  *pbWoken = 0;
  if (!p->pg && t->zChan) {
    /* The connection went since the last try: the next one reconnects (and
    ** LISTENs again, see pgEnsure). */
    *pbWoken = iWaitMs > 0;
    return SQLITE_OK;
  }
  PGconn *pN; /* where notifications arrive; NULL: poll */
  rc = pgListen(t);
  if (rc == SQLITE_OK) rc = listenConn(p, &pN);
  if (rc != SQLITE_OK) return rc;
  if (!pN) {
    /* Behind a pooler without listen=: the caller looks again soon. */
    if (iWaitMs == 0) return SQLITE_OK;
    rc = pgPollOn(p, 0, POLLIN,
                  sv_mono_ms() +
                      (iWaitMs < PG_POOL_POLL_MS ? iWaitMs : PG_POOL_POLL_MS));
    if (rc == SQLITE_INTERRUPT) {
      pgError(p, "postgresql: interrupted while waiting for %s", p->zSafe);
      return rc;
    }
    *pbWoken = 1;
    return SQLITE_OK;
  }
  if (iWaitMs == 0) {
    /* Forget the notifications already here. */
    if (!PQconsumeInput(pN)) return pN == p->pg ? pgLost(p) : SQLITE_OK;
    while ((n = pgNotifies(p, pN)) != 0) PQfreemem(n);
    return SQLITE_OK;
  }
  for (;;) {
    while ((n = pgNotifies(p, pN)) != 0) {
      if (strcmp(n->relname, t->zChan) == 0 &&
          strlen(n->extra) == (size_t)pKey->n &&
          (pKey->n == 0 || memcmp(n->extra, pKey->z, pKey->n) == 0)) {
        *pbWoken = 1;
      }
      PQfreemem(n);
    }
    if (*pbWoken) return SQLITE_OK;
    rc = pgPollOn(p, pN, POLLIN, iEnd);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if (rc == SQLITE_INTERRUPT) {
      pgError(p, "postgresql: interrupted while waiting for %s", p->zSafe);
      return rc;
    }
    if (rc == SQLITE_IOERR || !PQconsumeInput(pN)) {
      if (pN == p->pg) return pgLost(p);
      /* The listen= connection broke: the caller looks again, and the
      ** next wait connects again. */
      PQfinish(p->pgL);
      p->pgL = 0;
      *pbWoken = 1;
      return SQLITE_OK;
    }
  }
}

/*
** xChanged: LISTEN to the channel of t's namespace where the trigger of
** sql/postgresql.sql (schema 11) notifies every statement that writes
** flags or segments, and count the notifications that have arrived.  The
** server delivers them between transactions.  Not live without a
** connection, or inside a transaction before the first LISTEN (LISTEN is
** transactional: rolled back, it would leave us deaf).
*/
static int pgChanged(statevtab_table *pTab, sqlite3_uint64 *piGen,
                     int *pbLive) {
  PgTable *t = (PgTable *)pTab;
  PgStore *p = t->p;
  PGnotify *n;
  PGconn *pN; /* where notifications arrive; NULL: none can (a pooler) */
  *pbLive = 0;
  *piGen = p->iChanged;
  if (!p->pg || (!t->zChan && p->bTxn)) return SQLITE_OK;
  if (!t->zChan) {
    int rc = pgListen(t);
    if (rc != SQLITE_OK) return rc == SQLITE_NOMEM ? rc : SQLITE_OK;
    p->iChanged++;
  }
  if (listenConn(p, &pN) != SQLITE_OK || !pN) return SQLITE_OK;
  if (!PQconsumeInput(pN)) return SQLITE_OK; /* the next statement sees */
  while ((n = pgNotifies(p, pN)) != 0) PQfreemem(n);
  *piGen = p->iChanged;
  *pbLive = 1;
  return SQLITE_OK;
}

static const statevtab_queue_methods pgQueue = {
    /* iVersion      */ 5,
    /* xClaim        */ pgClaim,
    /* xRenew        */ pgRenew,
    /* xComplete     */ pgComplete,
    /* xFail         */ pgFail,
    /* xLease        */ pgLease,
    /* xLeaseRelease */ pgLeaseRelease,
    /* xIncr         */ pgIncr,
    /* xTake         */ pgTake,
    /* xProgress     */ pgProgress,
    /* xPause        */ pgPause,
    /* xInsertAtomic */ pgInsertAtomic,
    /* xPaused       */ pgPaused,
    /* xWait         */ pgWait,
    /* xWake         */ pgWake,
    /* xPurge        */ pgPurge,
    /* xFire         */ pgFire,
    /* xMetrics      */ pgMetrics,
    /* xChanged      */ pgChanged,
};

const statevtab_store_methods sv_pg_store = {
    /* iVersion      */ 2,
    /* zScheme       */ "postgresql",
    /* xOpen         */ pgOpen,
    /* xClose        */ pgClose,
    /* xAttach       */ pgAttach,
    /* xDetach       */ pgDetach,
    /* xDrop         */ pgDrop,
    /* xRename       */ pgRename,
    /* xOpenCursor   */ pgOpenCursor,
    /* xFilter       */ pgFilter,
    /* xNext         */ pgNext,
    /* xEof          */ pgEof,
    /* xColumn       */ pgColumn,
    /* xRowid        */ pgRowid,
    /* xCloseCursor  */ pgCloseCursor,
    /* xInsert       */ pgInsert,
    /* xUpdate       */ pgUpdate,
    /* xDelete       */ pgDelete,
    /* xBegin        */ pgBegin,
    /* xSync         */ pgSync,
    /* xCommit       */ pgCommit,
    /* xRollback     */ pgRollback,
    /* xSavepoint    */ pgSavepoint,
    /* xRelease      */ pgRelease,
    /* xRollbackTo   */ pgRollbackTo,
    /* xDescribe     */ pgDescribe,
    /* xColumnValue  */ 0,
    /* pQueue        */ &pgQueue,
};
