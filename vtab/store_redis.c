/*
** 2026-11-22
**
** store_redis.c -- the Redis store (hiredis).
**
**   CREATE VIRTUAL TABLE tasks USING state_tasks(
**       store='redis://127.0.0.1:6379/0', prefix='shop:');
**   CREATE VIRTUAL TABLE tasks USING state_tasks(store='env:STATE_REDIS');
**   CREATE VIRTUAL TABLE tasks USING state_tasks(
**       store='unix:/run/redis.sock?db=2&command_timeout=2000');
**
** HOW IT WORKS
**
** One hiredis connection per store (database connection and URL).  A
** table's rows live under its namespace, the base "{<prefix>}" (default
** prefix "statevtab:"): every SQLite table, in any process, that names the
** same server and prefix sees the same rows, and the hash tag puts every key
** of a namespace in one Redis Cluster slot.  The key layout is written down
** at the top of sql/redis.lua: rows are hashes, the key and the indexed
** columns have hashes, sets and sorted sets of their own, so that a
** pushed-down equality or time range never SCANs the keyspace.
**
** Every operation that touches more than one key is one call of one Lua
** script (sql/redis.lua, embedded at build time, behind a prologue made
** from the entity descriptors): loaded with SCRIPT LOAD when the connection
** opens (for its SHA1), registered as the Redis function statevtab_<sha1>
** by the first FCALL that finds it missing (FUNCTION LOAD), and called with
** FCALL, so that the script's top level runs once per load rather than at
** every call.  Where functions cannot be loaded it runs with EVALSHA,
** loaded again on NOSCRIPT.  The script reads the server's clock (TIME).
** Every command is an argv array (redisCommandArgv): user data is never
** formatted into a command.
**
** Indexes: every writer keeps the indexes of the columns marked
** STATEVTAB_COL_INDEXED and not STATEVTAB_COL_OPTIDX (defaultIndex), plus
** those any table of the namespace asked for with indexes=, which the
** script records in B<kind>:idx (ops.want) and reads at every call, so that
** a process that never named them keeps them too.  NULLs are in no index.
**
** Rows are filtered here, exactly as SQLite compares (sv_cons_match): this
** file sends the candidate sources of a scan in order of preference (key,
** a queue's claim sets, text equalities, numeric ranges), the script reads
** the first one the namespace keeps an index for (else all rows), and this
** file keeps the rows that satisfy every constraint.
**
** Writes: INSERT, UPDATE and DELETE are kept in a log and sent at the end of
** the statement (autocommit) or at COMMIT, as one script call inside
** MULTI/EXEC that checks every write first and then applies all of them, or
** none.  Reads inside the transaction see the log on top of the server's
** rows.  Each row has a write stamp (_v); an UPDATE or DELETE carries the
** stamp of the row it read, and the commit fails with SQLITE_BUSY when
** another connection changed the row since, so that UPDATE ... WHERE
** version = ? is a true compare-and-set.  Savepoints are marks in the log.
** Uniqueness is checked when a statement runs (against the server and the
** log) and again at commit.
**
** A lost connection fails the statement in flight with SQLITE_IOERR; a
** reply slower than the command timeout fails it too and drops the
** connection; the next statement reconnects.
*/
#include "svint.h"

#include <errno.h>
#include <hiredis/hiredis.h>

#include "redis_api.h"
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/time.h>

static const char zRdScript[] =
#include "redis_lua.h"
    ;

#define RD_PREFIX "statevtab:"
#define RD_CONNECT_MS 5000
#define RD_COMMAND_MS 10000
#define RD_WAIT_MS 1000       /* wait_timeout= default */
#define RD_RID_BLOCK 64       /* row handles reserved at first */
#define RD_RID_BLOCK_MAX 4096 /* ... doubling at each refill, up to this */

typedef struct RdTable RdTable;

/* One buffered write. */
typedef struct RdOp {
  RdTable *t;
  char cType; /* 'I', 'U', 'D' */
  char cMode; /* 'a' abort, 'i' ignore, 'r' replace */
  sqlite3_int64 iRid;
  sqlite3_int64 iStamp;  /* _v of the row as read, or -1 */
  sqlite3_int64 iNow;    /* client time of the write (expiry checks) */
  statevtab_value *aRow; /* own copy (rowCopy), NULL for 'D' */
  int iPrev;             /* the op on the same row it supersedes, or -1 */
  int bSuperseded;       /* a later op of the log is on the same row */
} RdOp;

/*
** How to undo one script call made inside a transaction (see run in
** sql/redis.lua): the call's undo records, as the arguments of an "undo"
** call in namespace zBase.  One allocation holds the struct, the arrays and
** the texts.
*/
typedef struct RdUndo {
  const char *zBase;
  int nArg;
  const char **az;
  size_t *an;
} RdUndo;

/* A node of a Redis Cluster: its address and connection (or NULL). */
typedef struct RdNode {
  char *zHost;
  int iPort;
  redisContext *c;
} RdNode;

#define RD_SLOTS 16384 /* hash slots of a Redis Cluster */

typedef struct RdStore {
  statevtab_store base; /* must be first */
  sqlite3 *db;
  char *zSafe; /* URL, password redacted */
  char *zHost; /* TCP host, or NULL */
  int iPort;
  char *zSock;         /* unix socket path, or NULL */
  char *zUser, *zPass; /* AUTH, or NULL */
  int iDb;
  int iConnMs, iCmdMs;   /* timeouts */
  int bConnSet, bCmdSet; /* ... given (URL or table option), not defaults */
  redisContext *c;       /* NULL while disconnected */
  redisContext *cSub;    /* subscribed to azSub (the waits), or NULL */
  char **azSub;          /* the channels it listens to, nSub of them */
  int nSub;
  sqlite3_uint64 iChanged; /* xChanged: flags and segments changes seen,
                           ** and subscriptions made or lost */
  sqlite3_int64 iSubRetry; /* xChanged: no new subscription before */
  char *zScript;           /* prologue + sql/redis.lua + "return run(...)" */
  char zSha[48];           /* its SHA1 */
  char zFn[64];            /* the function: "statevtab_<zSha>" */
  int bNoFn;               /* functions cannot be loaded: EVALSHA instead */
  int bTxn;                /* xBegin seen */
  unsigned iGen;           /* +1 at every commit/rollback */
  int nOp, nOpAlloc;
  RdOp *aOp; /* the write log */
  int nSave, nSaveAlloc;
  int *aSave;   /* log length at each savepoint */
  sv_idgen ids; /* dead letter ids, passed to the script (see newId) */
  /* The script calls of the atomic primitives inside a transaction run at
  ** once; a ROLLBACK (ROLLBACK TO) undoes them, last first. */
  RdUndo **aUndo;
  int nUndo, nUndoAlloc;
  int *aSaveUndo;      /* nUndo at each savepoint (nSaveAlloc entries) */
  int bRecord;         /* the next rdEval is such a call (atomicBegin) */
  long long iClientId; /* CLIENT ID of c (rdSettle), 0: unknown */

  /* Redis Cluster (redis-cluster://): the nodes, the seeds of the URL first
  ** and then those the slot map names; p->c is aNode[iNode].c, the node of
  ** the command in hand. */
  int bCluster;
  RdNode *aNode;
  int nNode, nNodeAlloc, iNode;
  unsigned short *aSlot;  /* RD_SLOTS entries: node index + 1, 0: no node */
  int bStale;             /* read the slot map again before the next command */
  int nWaitRepl, iWaitMs; /* wait_replicas=, wait_timeout= (WAIT) */
  /* The application's allowlist (statevtab_open.xAllow), asked about every
  ** node before it is dialled: the seeds at open, and the nodes the slot
  ** map names later; NULL: every host is allowed. */
  int (*xAllow)(const statevtab_open *, const char *, int, char **);
  void *pAllowArg;
} RdStore;

/* What a transaction read of one row: its write stamp and version. */
typedef struct RdSeen {
  sqlite3_int64 iRid, iStamp, iVer;
  unsigned iGen;
} RdSeen;

struct RdTable {
  statevtab_table base; /* must be first */
  RdStore *p;
  char *zBase; /* "{prefix}" */
  char *zPrefix;
  sqlite3_int64 iRidNext, iRidEnd; /* reserved row handles */
  int nRidBlock;                   /* handles the next refill reserves */
  RdSeen *aSeen;         /* open addressing on iRid, nSeenAlloc a power of 2; */
  int nSeen, nSeenAlloc; /* only the rows of transaction iSeenGen */
  unsigned iSeenGen;
  redisReply *pOut; /* reply holding the last out-value */
  sv_dedup dd;      /* dedup= of a tasks table (see checkUnique) */
};

typedef struct RdRow {
  sqlite3_int64 iRid, iStamp;
  statevtab_value *a;
} RdRow;

typedef struct RdCursor {
  statevtab_cursor base; /* must be first */
  redisReply *reply;
  statevtab_value *aVal; /* nCol values per server row */
  RdRow *aRow;
  int nRow, iRow;
  statevtab_value **apOwn; /* overlay row copies */
  int nOwn;
} RdCursor;

extern const statevtab_store_methods sv_redis_store;
static int sameRows(const RdTable *a, const RdTable *b);

/* --------------------------------------------------------------- errors */

static void rdError(RdStore *p, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(p->base.zErrMsg);
  p->base.zErrMsg = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
}

/* --------------------------------------------------------------- argv */

typedef struct RdArgs {
  int n, nAlloc;
  const char **az;
  size_t *an;
  char **apOwn;
  int nOwn, nOwnAlloc;
  char *zSpace;  /* free room in the last RD_SPACE block (see argSpace) */
  size_t nSpace; /* bytes of it */
  int rc;
  int bRecord; /* a call that records its undo (argEval, rdEval) */
} RdArgs;

#define RD_SPACE 4096

static void argsFree(RdArgs *a) {
  int i;
  for (i = 0; i < a->nOwn; i++) sqlite3_free(a->apOwn[i]);
  sqlite3_free(a->apOwn);
  sqlite3_free(a->az);
  sqlite3_free(a->an);
  memset(a, 0, sizeof(*a));
}

/* Append z[0..n), borrowed: it must outlive the command. */
static void argN(RdArgs *a, const char *z, size_t n) {
  if (a->rc != SQLITE_OK) return;
  if (a->n >= a->nAlloc) {
    int nNew = a->nAlloc ? a->nAlloc * 2 : 32;
    const char **az = sqlite3_realloc64(a->az, sizeof(char *) * (size_t)nNew);
    size_t *an =
        az ? sqlite3_realloc64(a->an, sizeof(size_t) * (size_t)nNew) : 0;
    if (az) a->az = az;
    if (!az || !an) {
      a->rc = SQLITE_NOMEM;
      return;
    }
    a->an = an;
    a->nAlloc = nNew;
  }
  a->az[a->n] = z ? z : "";
  a->an[a->n] = z ? n : 0;
  a->n++;
}

static void argZ(RdArgs *a, const char *z) { argN(a, z, strlen(z)); }

/* Keep z (from sqlite3_malloc; NULL means out of memory) until argsFree;
** it is freed at once if that fails.  Returns a->rc. */
static int argKeep(RdArgs *a, char *z) {
  if (a->rc == SQLITE_OK && !z) a->rc = SQLITE_NOMEM;
  if (a->rc == SQLITE_OK && a->nOwn >= a->nOwnAlloc) {
    int nNew = a->nOwnAlloc ? a->nOwnAlloc * 2 : 16;
    char **ap = sqlite3_realloc64(a->apOwn, sizeof(char *) * (size_t)nNew);
    if (!ap) {
      a->rc = SQLITE_NOMEM;
    } else {
      a->apOwn = ap;
      a->nOwnAlloc = nNew;
    }
  }
  if (a->rc != SQLITE_OK) {
    sqlite3_free(z);
    return a->rc;
  }
  a->apOwn[a->nOwn++] = z;
  return SQLITE_OK;
}

/* Append z (from sqlite3_malloc; NULL means out of memory), owned. */
static void argOwn(RdArgs *a, char *z) {
  if (argKeep(a, z) == SQLITE_OK && z) argZ(a, z);
}

/*
** n (<= 64) bytes that live until argsFree, or NULL (out of memory, in
** a->rc).  Small arguments (the integers: a commit of 100 rows has about
** a thousand) are cut from blocks of RD_SPACE bytes instead of being
** allocated one by one.
*/
static char *argSpace(RdArgs *a, size_t n) {
  char *z;
  if (a->rc != SQLITE_OK) return 0;
  if (a->nSpace < n) {
    z = sqlite3_malloc64(RD_SPACE);
    if (argKeep(a, z) != SQLITE_OK) return 0;
    a->zSpace = z;
    a->nSpace = RD_SPACE;
  }
  z = a->zSpace;
  a->zSpace += n;
  a->nSpace -= n;
  return z;
}

/* Append a copy of z[0..n) (binary safe), owned. */
static void argCopy(RdArgs *a, const char *z, int n) {
  char *zCopy = sqlite3_malloc64((sqlite3_uint64)n + 1);
  if (zCopy) {
    if (n) memcpy(zCopy, z, (size_t)n);
    zCopy[n] = 0;
  }
  argOwn(a, zCopy);
  if (a->rc == SQLITE_OK) a->an[a->n - 1] = (size_t)n;
}

/* Decimal text of v at z (at least 20 bytes): its length. */
static int fmtUint(char *z, sqlite3_uint64 v) {
  char zRev[24];
  int n = 0, i;
  do {
    zRev[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (i = 0; i < n; i++) z[i] = zRev[n - 1 - i];
  return n;
}

static void argInt(RdArgs *a, sqlite3_int64 i) {
  char *z = argSpace(a, 24);
  int n = 0;
  if (!z) return;
  if (i < 0) z[n++] = '-';
  /* The magnitude as unsigned: -i overflows for the smallest int64. */
  n += fmtUint(z + n, i < 0 ? (sqlite3_uint64)0 - (sqlite3_uint64)i
                            : (sqlite3_uint64)i);
  argN(a, z, (size_t)n);
}

/* A value as the store keeps it: integers in decimal, reals with 17
** digits, text and blobs as their bytes (NULL: empty). */
static void argVal(RdArgs *a, const statevtab_value *v) {
  switch (v->eType) {
  case SQLITE_INTEGER:
    argInt(a, v->i);
    break;
  case SQLITE_FLOAT:
    argOwn(a, sqlite3_mprintf("%!.17g", v->r));
    break;
  case SQLITE_TEXT:
  case SQLITE_BLOB:
    argN(a, v->z, (size_t)v->n);
    break;
  default:
    argN(a, "", 0);
    break;
  }
}

/* An optional value: "" for NULL, else "=" and its text. */
static void argOpt(RdArgs *a, const statevtab_value *v) {
  if (v->eType == SQLITE_TEXT || v->eType == SQLITE_BLOB) {
    char *z = sqlite3_malloc64((sqlite3_uint64)v->n + 2);
    if (z) {
      z[0] = '=';
      if (v->n) memcpy(z + 1, v->z, (size_t)v->n);
      z[v->n + 1] = 0;
    }
    argOwn(a, z);
    if (a->rc == SQLITE_OK) a->an[a->n - 1] = (size_t)v->n + 1;
  } else if (v->eType == SQLITE_INTEGER) {
    argOwn(a, sqlite3_mprintf("=%lld", v->i));
  } else if (v->eType == SQLITE_FLOAT) {
    argOwn(a, sqlite3_mprintf("=%!.17g", v->r));
  } else {
    argN(a, "", 0); /* NULL */
  }
}

/* ----------------------------------------------------------- connection */

static struct timeval msTime(int ms) {
  struct timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

static void rdHangUp(RdStore *p) {
  if (p->c) redisFree(p->c);
  p->c = 0;
  if (p->bCluster && p->iNode >= 0) {
    /* A node gone may be a primary failing over: ask for the map again. */
    p->aNode[p->iNode].c = 0;
    p->bStale = 1;
  }
}

/* Where the connection in hand goes, for messages (sqlite3_malloc'd):
** the redacted URL, or on a cluster the node's address. */
static char *rdWhere(RdStore *p) {
  if (p->bCluster && p->iNode >= 0) {
    return sqlite3_mprintf("cluster node %s:%d", p->aNode[p->iNode].zHost,
                           p->aNode[p->iNode].iPort);
  }
  return sqlite3_mprintf("%s", p->zSafe);
}

/*
** The statement in flight failed on the transport: say why, drop the
** connection (hiredis contexts are dead after an error); the next
** statement reconnects.
*/
static int rdIoError(RdStore *p) {
  int bTimeout = p->c && p->c->err == REDIS_ERR_IO &&
                 (errno == EAGAIN || errno == EWOULDBLOCK);
  char *zWhere = rdWhere(p);
  if (bTimeout) {
    rdError(p, "redis: no reply from %s within %d ms (command timeout)",
            zWhere ? zWhere : p->zSafe, p->iCmdMs);
  } else {
    rdError(p, "redis: connection lost (%s): %s", zWhere ? zWhere : p->zSafe,
            p->c && p->c->errstr[0] ? p->c->errstr : "closed");
  }
  sqlite3_free(zWhere);
  rdHangUp(p);
  return SQLITE_IOERR;
}

/*
** Between commands the server has nothing to say: a readable socket means
** it closed the connection (a restart).  Then reconnect before using it:
** nothing is lost and nothing is sent twice.
*/
static int rdLive(RdStore *p) {
  struct pollfd fd;
  fd.fd = p->c->fd;
  fd.events = POLLIN;
  fd.revents = 0;
  if (fd.fd < 0) return 0;
  return poll(&fd, 1, 0) == 0;
}

static int rdLoadScript(RdStore *p);

/*
** redisAppendCommandArgv, with the command written in one buffer here:
** hiredis formats each argument with sdscatfmt, a fifth of the client's
** instructions for a commit of 100 rows.
*/
static int rdAppend(redisContext *c, int n, const char **az, const size_t *an) {
  size_t nBuf = 16, k = 0;
  char *z;
  int i, rc;
  for (i = 0; i < n; i++) nBuf += an[i] + 24;
  z = sqlite3_malloc64(nBuf);
  if (!z) return redisAppendCommandArgv(c, n, az, an);
  z[k++] = '*';
  k += (size_t)fmtUint(z + k, (size_t)n);
  z[k++] = '\r';
  z[k++] = '\n';
  for (i = 0; i < n; i++) {
    z[k++] = '$';
    k += (size_t)fmtUint(z + k, an[i]);
    z[k++] = '\r';
    z[k++] = '\n';
    if (an[i]) memcpy(z + k, az[i], an[i]);
    k += an[i];
    z[k++] = '\r';
    z[k++] = '\n';
  }
  rc = redisAppendFormattedCommand(c, z, k);
  sqlite3_free(z);
  return rc;
}

/* redisCommandArgv through rdAppend. */
static redisReply *rdCommandArgv(redisContext *c, int n, const char **az,
                                 const size_t *an) {
  void *r = 0;
  if (rdAppend(c, n, az, an) != REDIS_OK) return 0;
  if (redisGetReply(c, &r) != REDIS_OK) return 0;
  return r;
}

/*
** redisCommandArgv, but a server still loading its data after a restart
** ("LOADING ...") is asked again every 20 ms for up to the command timeout.
*/
static redisReply *rdCall(RdStore *p, int n, const char **az,
                          const size_t *an) {
  sqlite3_int64 iEnd = sv_mono_ms() + p->iCmdMs;
  for (;;) {
    redisReply *r = rdCommandArgv(p->c, n, az, an);
    if (!r || r->type != REDIS_REPLY_ERROR ||
        strncmp(r->str, "LOADING", 7) != 0 || sv_mono_ms() >= iEnd) {
      return r;
    }
    freeReplyObject(r);
    sqlite3_sleep(20);
  }
}

/*
** Connect and authenticate: a new context in *ppC.  To the unix socket
** p->zSock, or to zHost:iPort, which messages call zWhat.
*/
static int rdDialAt(RdStore *p, const char *zHost, int iPort, const char *zWhat,
                    int bOpen, redisContext **ppC) {
  struct timeval tv = msTime(p->iConnMs);
  redisContext *c;
  *ppC = 0;
  c = p->zSock ? redisConnectUnixWithTimeout(p->zSock, tv)
               : redisConnectWithTimeout(zHost, iPort, tv);
  if (!c) return SQLITE_NOMEM;
  if (c->err) {
    rdError(p, "redis: cannot connect to %s: %s", zWhat, c->errstr);
    redisFree(c);
    return bOpen ? SQLITE_CANTOPEN : SQLITE_IOERR;
  }
  redisSetTimeout(c, msTime(p->iCmdMs));
  if (p->zPass) {
    const char *az[3];
    size_t an[3];
    redisReply *r;
    int n = 0;
    az[n] = "AUTH";
    an[n++] = 4;
    if (p->zUser) {
      az[n] = p->zUser;
      an[n++] = strlen(p->zUser);
    }
    az[n] = p->zPass;
    an[n++] = strlen(p->zPass);
    r = redisCommandArgv(c, n, az, an);
    if (!r || r->type == REDIS_REPLY_ERROR) {
      if (r) {
        rdError(p, "redis: authentication failed for %s: %.*s", zWhat,
                (int)r->len, r->str);
      } else {
        rdError(p, "redis: connection lost (%s): %s", zWhat, c->errstr);
      }
      freeReplyObject(r);
      redisFree(c);
      return bOpen ? SQLITE_CANTOPEN : SQLITE_IOERR;
    }
    freeReplyObject(r);
  }
  *ppC = c;
  return SQLITE_OK;
}

static int clusterRefresh(RdStore *p, int bOpen);
static int nodeAllowed(RdStore *p, int i);

/* rdDialAt the server of the URL; on a cluster, the first node that
** answers (the subscription of the waits: PUBLISH reaches every node). */
static int rdDial(RdStore *p, int bOpen, redisContext **ppC) {
  int i, rc = SQLITE_IOERR;
  if (!p->bCluster)
    return rdDialAt(p, p->zHost, p->iPort, p->zSafe, bOpen, ppC);
  for (i = 0; i < p->nNode && rc != SQLITE_OK && rc != SQLITE_NOMEM; i++) {
    char *zWhat;
    rc = nodeAllowed(p, i);
    if (rc != SQLITE_OK) continue;
    zWhat = sqlite3_mprintf("cluster node %s:%d", p->aNode[i].zHost,
                            p->aNode[i].iPort);
    if (!zWhat) return SQLITE_NOMEM;
    rc = rdDialAt(p, p->aNode[i].zHost, p->aNode[i].iPort, zWhat, bOpen, ppC);
    sqlite3_free(zWhat);
  }
  return rc;
}

static int rdConnect(RdStore *p, int bOpen) {
  redisReply *r;
  int rc = SQLITE_OK;
  if (p->bCluster) return clusterRefresh(p, bOpen);
  rdHangUp(p);
  rc = rdDial(p, bOpen, &p->c);
  if (rc != SQLITE_OK) return rc;
  if (p->iDb) {
    char zDb[16];
    const char *az[2];
    size_t an[2];
    sqlite3_snprintf(sizeof(zDb), zDb, "%d", p->iDb);
    az[0] = "SELECT";
    an[0] = 6;
    az[1] = zDb;
    an[1] = strlen(zDb);
    r = redisCommandArgv(p->c, 2, az, an);
    if (!r) return rdIoError(p);
    if (r->type == REDIS_REPLY_ERROR) {
      rdError(p, "redis: cannot select database %d on %s: %.*s", p->iDb,
              p->zSafe, (int)r->len, r->str);
      rc = bOpen ? SQLITE_CANTOPEN : SQLITE_IOERR;
    }
    freeReplyObject(r);
    if (rc != SQLITE_OK) {
      rdHangUp(p);
      return rc;
    }
  }
  /* Who we are, to end this connection from another should a commit's
  ** reply be lost (rdSettle); a server that refuses says 0: unknown. */
  {
    const char *az[2] = {"CLIENT", "ID"};
    size_t an[2] = {6, 2};
    r = rdCall(p, 2, az, an);
    if (!r) return rdIoError(p);
    p->iClientId = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
    freeReplyObject(r);
  }
  return rdLoadScript(p);
}

/* SCRIPT LOAD: remember the SHA1 for EVALSHA. */
static int rdLoadScript(RdStore *p) {
  const char *az[3];
  size_t an[3];
  redisReply *r;
  az[0] = "SCRIPT";
  an[0] = 6;
  az[1] = "LOAD";
  an[1] = 4;
  az[2] = p->zScript;
  an[2] = strlen(p->zScript);
  r = rdCall(p, 3, az, an);
  if (!r) return rdIoError(p);
  if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(p->zSha)) {
    rdError(p, "redis: SCRIPT LOAD failed on %s: %.*s", p->zSafe,
            r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
            r->type == REDIS_REPLY_ERROR ? r->str : "");
    freeReplyObject(r);
    return SQLITE_ERROR;
  }
  memcpy(p->zSha, r->str, r->len);
  p->zSha[r->len] = 0;
  sqlite3_snprintf(sizeof(p->zFn), p->zFn, "statevtab_%s", p->zSha);
  freeReplyObject(r);
  return SQLITE_OK;
}

/*
** FUNCTION LOAD of the script as library and function statevtab_<sha1>,
** after an FCALL found no such function.  A server that cannot load it (no
** FUNCTION command, or the user may not) is not asked again: p->bNoFn, and
** the store uses EVALSHA.  Another client loading it first is no error.
*/
static int rdLoadFunction(RdStore *p) {
  static const char zRun[] = "return run(KEYS, ARGV)\n";
  const char *az[3];
  size_t an[3];
  redisReply *r;
  size_t nBody = strlen(p->zScript) - (sizeof(zRun) - 1);
  char *zLib = sqlite3_mprintf(
      "#!lua name=%s\n%.*s\nredis.register_function('%s', run)\n", p->zFn,
      (int)nBody, p->zScript, p->zFn);
  if (!zLib) return SQLITE_NOMEM;
  az[0] = "FUNCTION";
  an[0] = 8;
  az[1] = "LOAD";
  an[1] = 4;
  az[2] = zLib;
  an[2] = strlen(zLib);
  r = rdCall(p, 3, az, an);
  sqlite3_free(zLib);
  if (!r) return rdIoError(p);
  if (r->type == REDIS_REPLY_ERROR && !strstr(r->str, "already exists")) {
    p->bNoFn = 1;
  }
  freeReplyObject(r);
  return SQLITE_OK;
}

/* Is r the error of an FCALL that should become an EVALSHA, or be run
** again once the function is loaded? */
static int fnMissing(const redisReply *r) {
  return strncmp(r->str, "ERR Function not found", 22) == 0 ||
         strncmp(r->str, "ERR unknown command", 19) == 0;
}

/* Point the command a (FCALL fn ... or EVALSHA sha ...) at the way the
** store calls the script now. */
static void argRetarget(RdStore *p, RdArgs *a) {
  a->az[0] = p->bNoFn ? "EVALSHA" : "FCALL";
  a->an[0] = strlen(a->az[0]);
  a->az[1] = p->bNoFn ? p->zSha : p->zFn;
  a->an[1] = strlen(a->az[1]);
}

static int rdEnsure(RdStore *p) {
  if (p->c && !rdLive(p)) rdHangUp(p);
  return p->c ? SQLITE_OK : rdConnect(p, 0);
}

/* ------------------------------------------------------- Redis Cluster */

/* CRC16-CCITT (XMODEM), the hash of Redis Cluster's key slots. */
static unsigned rdCrc16(const char *z, size_t n) {
  unsigned crc = 0;
  size_t i;
  int k;
  for (i = 0; i < n; i++) {
    crc ^= (unsigned)(unsigned char)z[i] << 8;
    for (k = 0; k < 8; k++) {
      crc = (crc & 0x8000) ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    crc &= 0xffff;
  }
  return crc;
}

/* The slot of key z[0..n): of its hash tag, the bytes between the first
** '{' and the next '}' when there are any, as the server computes it.  The
** keys of a namespace all begin with "{<prefix>}": one slot. */
static int rdSlot(const char *z, size_t n) {
  const char *a = memchr(z, '{', n);
  if (a) {
    const char *b = memchr(a + 1, '}', n - (size_t)(a + 1 - z));
    if (b && b > a + 1) {
      z = a + 1;
      n = (size_t)(b - z);
    }
  }
  return (int)(rdCrc16(z, n) & (RD_SLOTS - 1));
}

/* The index of node zHost[0..nHost):iPort, added when new; -1 on OOM. */
static int nodeFind(RdStore *p, const char *zHost, int nHost, int iPort) {
  int i;
  for (i = 0; i < p->nNode; i++) {
    if (p->aNode[i].iPort == iPort && (int)strlen(p->aNode[i].zHost) == nHost &&
        memcmp(p->aNode[i].zHost, zHost, (size_t)nHost) == 0) {
      return i;
    }
  }
  if (p->nNode >= p->nNodeAlloc) {
    int nNew = p->nNodeAlloc ? p->nNodeAlloc * 2 : 8;
    RdNode *a = sqlite3_realloc64(p->aNode, sizeof(RdNode) * (size_t)nNew);
    if (!a) return -1;
    p->aNode = a;
    p->nNodeAlloc = nNew;
  }
  memset(&p->aNode[p->nNode], 0, sizeof(RdNode));
  p->aNode[p->nNode].zHost = sqlite3_mprintf("%.*s", nHost, zHost);
  if (!p->aNode[p->nNode].zHost) return -1;
  p->aNode[p->nNode].iPort = iPort;
  return p->nNode++;
}

/*
** May node i be dialled?  With the application's allowlist (p->xAllow),
** only when it allows the node's host and port; SQLITE_ERROR otherwise,
** with a message naming the node.
*/
static int nodeAllowed(RdStore *p, int i) {
  RdNode *n = &p->aNode[i];
  statevtab_open o;
  char *zErr = 0, *zShow;
  int rc;
  if (!p->xAllow) return SQLITE_OK;
  memset(&o, 0, sizeof(o));
  zShow = sqlite3_mprintf("redis://%s:%d (a node of %s)", n->zHost, n->iPort,
                          p->zSafe);
  if (!zShow) return SQLITE_NOMEM;
  o.zSafeUrl = zShow;
  o.pAllowArg = p->pAllowArg;
  rc = p->xAllow(&o, n->zHost, n->iPort, &zErr);
  sqlite3_free(zShow);
  if (rc == SQLITE_OK) return rc;
  if (!zErr) return SQLITE_NOMEM;
  rdError(p, "redis: %s", zErr);
  sqlite3_free(zErr);
  return rc;
}

/*
** Make node i the connection in hand (p->c), connecting to it (and loading
** the script there) when it has no live connection.  On failure the map is
** read again before the next command: the node may have failed over.
*/
static int nodeUse(RdStore *p, int i, int bOpen) {
  RdNode *n = &p->aNode[i];
  char *zWhat;
  int rc;
  p->iNode = i;
  p->c = n->c;
  if (p->c && !rdLive(p)) rdHangUp(p);
  if (p->c) return SQLITE_OK;
  rc = nodeAllowed(p, i);
  if (rc != SQLITE_OK) return rc;
  zWhat = sqlite3_mprintf("cluster node %s:%d", n->zHost, n->iPort);
  if (!zWhat) return SQLITE_NOMEM;
  rc = rdDialAt(p, n->zHost, n->iPort, zWhat, bOpen, &n->c);
  sqlite3_free(zWhat);
  p->c = n->c;
  if (rc == SQLITE_OK) rc = rdLoadScript(p);
  if (rc != SQLITE_OK) p->bStale = 1;
  return rc;
}

/* Read the reply to CLUSTER SLOTS into p->aSlot. */
static int slotsRead(RdStore *p, const redisReply *r) {
  size_t i;
  if (r->type != REDIS_REPLY_ARRAY) {
    rdError(p, "redis: %s:%d is not a Redis Cluster node: %.*s",
            p->aNode[p->iNode].zHost, p->aNode[p->iNode].iPort,
            r->type == REDIS_REPLY_ERROR ? (int)r->len : 0,
            r->type == REDIS_REPLY_ERROR ? r->str : "");
    return SQLITE_ERROR;
  }
  memset(p->aSlot, 0, sizeof(p->aSlot[0]) * RD_SLOTS);
  for (i = 0; i < r->elements; i++) {
    const redisReply *e = r->element[i], *m;
    const char *zHost;
    int nHost, k;
    long long s;
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) continue;
    m = e->element[2];
    if (m->type != REDIS_REPLY_ARRAY || m->elements < 2 ||
        m->element[0]->type != REDIS_REPLY_STRING ||
        m->element[1]->type != REDIS_REPLY_INTEGER) {
      continue;
    }
    zHost = m->element[0]->str;
    nHost = (int)m->element[0]->len;
    if (nHost == 0 || (nHost == 1 && zHost[0] == '?')) {
      /* An endpoint the node does not know: the one that was asked. */
      zHost = p->aNode[p->iNode].zHost;
      nHost = (int)strlen(zHost);
    }
    k = nodeFind(p, zHost, nHost, (int)m->element[1]->integer);
    if (k < 0) return SQLITE_NOMEM;
    for (s = e->element[0]->integer; s <= e->element[1]->integer; s++) {
      if (s >= 0 && s < RD_SLOTS) p->aSlot[s] = (unsigned short)(k + 1);
    }
  }
  return SQLITE_OK;
}

/*
** Read the slot map (CLUSTER SLOTS) from the first node that answers, the
** seeds first.  When none does, the error of the last one tried.
*/
static int clusterRefresh(RdStore *p, int bOpen) {
  static const char *const az[] = {"CLUSTER", "SLOTS"};
  static const size_t an[] = {7, 5};
  int i, rc = SQLITE_IOERR;
  for (i = 0; i < p->nNode; i++) {
    redisReply *r;
    rc = nodeUse(p, i, bOpen);
    if (rc == SQLITE_NOMEM) return rc;
    if (rc != SQLITE_OK) continue;
    r = rdCall(p, 2, (const char **)az, an);
    if (!r) {
      rc = rdIoError(p);
      continue;
    }
    rc = slotsRead(p, r);
    freeReplyObject(r);
    if (rc == SQLITE_OK) {
      p->bStale = 0;
      return rc;
    }
    if (rc == SQLITE_NOMEM) return rc;
    if (bOpen) rc = SQLITE_CANTOPEN;
  }
  return rc;
}

/*
** Make p->c the connection for key z[0..n) (every command carries the
** namespace's base "{<prefix>}" as its first key): on a cluster, of the
** primary that owns its slot, as the slot map says.
*/
static int rdRoute(RdStore *p, const char *z, size_t n) {
  int rc, iSlot, k;
  if (!p->bCluster) return rdEnsure(p);
  if (p->bStale) {
    rc = clusterRefresh(p, 0);
    if (rc != SQLITE_OK) return rc;
  }
  iSlot = rdSlot(z, n);
  k = (int)p->aSlot[iSlot] - 1;
  if (k < 0) {
    p->bStale = 1;
    rdError(p,
            "redis: no node of the cluster serves slot %d (of key %.*s): the "
            "cluster is down or incomplete",
            iSlot, (int)n, z);
    return SQLITE_IOERR;
  }
  rc = nodeUse(p, k, 0);
  if (rc != SQLITE_OK && rc != SQLITE_NOMEM) {
    char *zOld = p->base.zErrMsg;
    p->base.zErrMsg = 0;
    rdError(p,
            "%s (the primary of slot %d of key %.*s: statements on it fail "
            "until it is back or a replica has taken over)",
            zOld, iSlot, (int)n, z);
    sqlite3_free(zOld);
    if (!p->base.zErrMsg) rc = SQLITE_NOMEM;
  }
  return rc;
}

/* Is error reply r a cluster redirection (MOVED or ASK)? */
static int isRedirect(const RdStore *p, const redisReply *r) {
  return p->bCluster &&
         (strncmp(r->str, "MOVED ", 6) == 0 || strncmp(r->str, "ASK ", 4) == 0);
}

/*
** Follow redirection r ("MOVED <slot> <host>:<port>" or "ASK ..."), of a
** command on key z[0..n): MOVED updates the slot's owner, makes it the
** connection in hand, and has the whole map read again before the next
** command; ASK makes the node named the connection in hand, for the
** command: *pbAsk is 1 (send ASKING before each try of it there, a try
** after a script reload too), 0 after a MOVED.
*/
static int rdRedirect(RdStore *p, const redisReply *r, const char *z, size_t n,
                      int *pbAsk) {
  const char *zSlot = strchr(r->str, ' ');
  const char *zAddr = zSlot ? strchr(zSlot + 1, ' ') : 0;
  const char *zColon = zAddr ? strrchr(zAddr + 1, ':') : 0;
  int iSlot = zSlot ? atoi(zSlot + 1) : -1, k, rc;
  if (!zColon || iSlot < 0 || iSlot >= RD_SLOTS) {
    rdError(p, "redis: %s", r->str);
    return SQLITE_ERROR;
  }
  k = nodeFind(p, zAddr + 1, (int)(zColon - zAddr - 1), atoi(zColon + 1));
  if (k < 0) return SQLITE_NOMEM;
  *pbAsk = r->str[0] == 'A';
  if (*pbAsk) return nodeUse(p, k, 0);
  p->aSlot[iSlot] = (unsigned short)(k + 1);
  rc = rdRoute(p, z, n);
  /* Other slots may have moved with it (a fail-over moves a primary's
  ** whole range): read the whole map before the next command. */
  p->bStale = 1;
  return rc;
}

/* ASKING, before the command of an ASK redirection. */
static int rdAsking(RdStore *p) {
  static const char *const az[] = {"ASKING"};
  static const size_t an[] = {6};
  redisReply *r = rdCall(p, 1, (const char **)az, an);
  if (!r) return rdIoError(p);
  freeReplyObject(r);
  return SQLITE_OK;
}

/*
** wait_replicas=N: WAIT until N replicas have every write made on the
** connection in hand, for at most wait_timeout ms.  Fewer is an error: the
** write is done on the primary, but a fail-over now could lose it.
*/
static int rdAwaitReplicas(RdStore *p) {
  const char *az[3];
  size_t an[3];
  char zN[16], zMs[16];
  redisReply *r;
  int rc = SQLITE_OK;
  if (p->nWaitRepl <= 0) return SQLITE_OK;
  sqlite3_snprintf(sizeof(zN), zN, "%d", p->nWaitRepl);
  sqlite3_snprintf(sizeof(zMs), zMs, "%d", p->iWaitMs);
  az[0] = "WAIT";
  an[0] = 4;
  az[1] = zN;
  an[1] = strlen(zN);
  az[2] = zMs;
  an[2] = strlen(zMs);
  r = rdCall(p, 3, az, an);
  if (!r) return rdIoError(p);
  if (r->type != REDIS_REPLY_INTEGER || r->integer < p->nWaitRepl) {
    rdError(p,
            "redis: wait_replicas=%d: %lld replica(s) acknowledged the write "
            "within %d ms (wait_timeout); it is done on the primary but a "
            "fail-over now could lose it",
            p->nWaitRepl,
            r->type == REDIS_REPLY_INTEGER ? (long long)r->integer : 0LL,
            p->iWaitMs);
    /* As a failed fsync: the write is not as durable as asked. */
    rc = SQLITE_IOERR;
  }
  freeReplyObject(r);
  return rc;
}

/* Is script operation z[0..n) ("scan", "claim!" ...) one that writes no
** row: a read, or the bookkeeping of row handles and indexes (a handle
** lost in a fail-over is caught at commit, see writeResult)?  No WAIT
** after it. */
static int noWaitOp(const char *z, size_t n) {
  static const char *const azRead[] = {"scan",  "runnable", "metrics", "paused",
                                       "owner", "rids",     "want"};
  size_t i;
  for (i = 0; i < sizeof(azRead) / sizeof(azRead[0]); i++) {
    if (strlen(azRead[i]) == n && memcmp(azRead[i], z, n) == 0) return 1;
  }
  return 0;
}

/* An error reply as the store's error (SQLITE_ERROR). */
static int rdReplyError(RdStore *p, const redisReply *r) {
  const char *z = r->str;
  int n = (int)r->len;
  /* "ERR user_script:12: Script attempted ..." -> the message. */
  /* ... or "ERR user_function:12: ..." (FCALL). */
  const char *zU = n > 0 ? strstr(z, "user_script:") : 0;
  int nU = 12;
  if (!zU && n > 0 && (zU = strstr(z, "user_function:")) != 0) nU = 14;
  if (zU) {
    const char *q = strchr(zU + nU, ':');
    if (q) {
      n -= (int)(q + 1 - z);
      z = q + 1;
      while (n > 0 && *z == ' ') z++, n--;
    }
  }
  rdError(p, "redis: %.*s", n, z);
  if (strncmp(r->str, "CLUSTERDOWN", 11) == 0) {
    /* A primary failed and no replica has its slots yet: the whole
    ** cluster refuses commands (cluster-require-full-coverage).  Read the
    ** slot map again next time. */
    rdError(p,
            "redis: the cluster is down (%.*s): retry once a replica has "
            "taken over from the failed primary",
            n, z);
    p->bStale = p->bCluster;
    return SQLITE_IOERR;
  }
  /* A server still loading its data, or busy with a long script, or a
  ** cluster moving the slot's keys (TRYAGAIN): try again later. */
  if (strncmp(r->str, "LOADING", 7) == 0 || strncmp(r->str, "BUSY", 4) == 0 ||
      strncmp(r->str, "TRYAGAIN", 8) == 0) {
    return SQLITE_BUSY;
  }
  return SQLITE_ERROR;
}

/*
** Run one command.  On success *ppReply (freed by the caller) is a reply
** that is not an error.  An FCALL of a function the server does not have
** loads it and runs again (as EVALSHA when it cannot be loaded); an
** EVALSHA the server does not know loads the script and runs again.
*/
static int rdCommand(RdStore *p, RdArgs *a, redisReply **ppReply) {
  redisReply *r;
  int rc, iTry = 0, nHop = 0, bAsk = 0;
  *ppReply = 0;
  if (a->rc != SQLITE_OK) return a->rc;
  /* az[3]: the first key of an FCALL or EVALSHA, the namespace's base. */
  rc = rdRoute(p, a->az[3], a->an[3]);
  if (rc != SQLITE_OK) return rc;
  for (;;) {
    if (bAsk && (rc = rdAsking(p)) != SQLITE_OK) return rc;
    r = rdCall(p, a->n, a->az, a->an);
    if (!r) return rdIoError(p);
    if (r->type != REDIS_REPLY_ERROR) {
      *ppReply = r;
      if (p->nWaitRepl > 0 && a->n > 4 &&
          !noWaitOp(a->az[4], a->an[4] - (a->az[4][a->an[4] - 1] == '!'))) {
        rc = rdAwaitReplicas(p);
        if (rc != SQLITE_OK) {
          freeReplyObject(r);
          *ppReply = 0;
        }
      }
      return rc;
    }
    if (nHop < 5 && isRedirect(p, r)) {
      nHop++;
      rc = rdRedirect(p, r, a->az[3], a->an[3], &bAsk);
      freeReplyObject(r);
      if (rc != SQLITE_OK) return rc;
      continue;
    }
    if (iTry < 2 && strncmp(r->str, "NOSCRIPT", 8) == 0) {
      iTry++;
      freeReplyObject(r);
      rc = rdLoadScript(p);
      if (rc != SQLITE_OK) return rc;
      argRetarget(p, a);
      continue;
    }
    if (iTry < 2 && !p->bNoFn && fnMissing(r)) {
      iTry++;
      freeReplyObject(r);
      rc = rdLoadFunction(p);
      if (rc != SQLITE_OK) return rc;
      argRetarget(p, a);
      continue;
    }
    rc = rdReplyError(p, r);
    freeReplyObject(r);
    return rc;
  }
}

/* Start a call (FCALL, or EVALSHA) of operation zOp in t's namespace. */
static void argEval(RdArgs *a, RdTable *t, const char *zOp) {
  memset(a, 0, sizeof(*a));
  argZ(a, t->p->bNoFn ? "EVALSHA" : "FCALL");
  argZ(a, t->p->bNoFn ? t->p->zSha : t->p->zFn);
  argZ(a, "1");
  argZ(a, t->zBase);
  if (t->p->bRecord) {
    /* "op!": the script records how to undo the call (see rdEval). */
    char *z = sqlite3_mprintf("%s!", zOp);
    t->p->bRecord = 0;
    a->bRecord = 1;
    if (argKeep(a, z) == SQLITE_OK) argZ(a, z);
  } else {
    argZ(a, zOp);
  }
}

/* Free the undo records from iTo on. */
static void undoDrop(RdStore *p, int iTo) {
  while (p->nUndo > iTo) sqlite3_free(p->aUndo[--p->nUndo]);
}

/* Keep the undo records az[0..n) (texts of an[] bytes) of a call in
** namespace zBase. */
static int undoPushN(RdStore *p, const char *zBase, size_t n,
                     const char *const *az, const size_t *an) {
  RdUndo *x;
  char *z;
  size_t i, nByte = sizeof(RdUndo) + strlen(zBase) + 1;
  for (i = 0; i < n; i++) nByte += sizeof(char *) + sizeof(size_t) + an[i] + 1;
  if (p->nUndo >= p->nUndoAlloc) {
    int nNew = p->nUndoAlloc ? p->nUndoAlloc * 2 : 8;
    RdUndo **a = sqlite3_realloc64(p->aUndo, sizeof(RdUndo *) * (size_t)nNew);
    if (!a) return SQLITE_NOMEM;
    p->aUndo = a;
    p->nUndoAlloc = nNew;
  }
  x = sqlite3_malloc64(nByte);
  if (!x) return SQLITE_NOMEM;
  x->nArg = (int)n;
  x->an = (size_t *)&x[1];
  x->az = (const char **)&x->an[n];
  z = (char *)&x->az[n];
  for (i = 0; i < n; i++) {
    memcpy(z, az[i], an[i]);
    z[an[i]] = 0;
    x->az[i] = z;
    x->an[i] = an[i];
    z += an[i] + 1;
  }
  memcpy(z, zBase, strlen(zBase) + 1);
  x->zBase = z;
  p->aUndo[p->nUndo++] = x;
  return SQLITE_OK;
}

/* The same, from reply u (an array of texts). */
static int undoPush(RdStore *p, const char *zBase, redisReply *u) {
  const char **az;
  size_t *an, i;
  int rc;
  for (i = 0; i < u->elements; i++) {
    if (u->element[i]->type != REDIS_REPLY_STRING) {
      rdError(p, "redis: unexpected reply to a call inside a transaction");
      return SQLITE_ERROR;
    }
  }
  az = sqlite3_malloc64((sizeof(char *) + sizeof(size_t)) * (u->elements + 1));
  if (!az) return SQLITE_NOMEM;
  an = (size_t *)&az[u->elements + 1];
  for (i = 0; i < u->elements; i++) {
    az[i] = u->element[i]->str;
    an[i] = u->element[i]->len;
  }
  rc = undoPushN(p, zBase, u->elements, az, an);
  sqlite3_free(az);
  return rc;
}

/*
** Undo the calls recorded from iTo on, last first (a ROLLBACK or ROLLBACK
** TO), one script call each.  A failure (the connection lost) leaves what
** is left of them done: it is the store's error, and the rest is dropped.
*/
static int undoRun(RdStore *p, int iTo) {
  int rc = SQLITE_OK;
  while (p->nUndo > iTo) {
    RdUndo *x = p->aUndo[p->nUndo - 1];
    if (rc == SQLITE_OK && x->nArg > 0) {
      RdArgs a;
      redisReply *r = 0;
      int i;
      memset(&a, 0, sizeof(a));
      argZ(&a, p->bNoFn ? "EVALSHA" : "FCALL");
      argZ(&a, p->bNoFn ? p->zSha : p->zFn);
      argZ(&a, "1");
      argZ(&a, x->zBase);
      argZ(&a, "undo");
      for (i = 0; i < x->nArg; i++) argN(&a, x->az[i], x->an[i]);
      rc = rdCommand(p, &a, &r);
      argsFree(&a);
      freeReplyObject(r);
    }
    sqlite3_free(x);
    p->nUndo--;
  }
  return rc;
}

/*
** Run a script operation; the reply in *ppReply.  Frees a.  A call made
** with bRecord (atomicBegin) replies {undo records, reply}: the records are
** kept for a ROLLBACK and the reply handed on.
*/
static int rdEval(RdTable *t, RdArgs *a, redisReply **ppReply) {
  RdStore *p = t->p;
  int bRecord = a->bRecord;
  int rc = rdCommand(p, a, ppReply);
  argsFree(a);
  if (rc == SQLITE_OK && bRecord) {
    redisReply *r = *ppReply;
    *ppReply = 0;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_ARRAY) {
      rdError(p, "redis: unexpected reply to a call inside a transaction");
      rc = SQLITE_ERROR;
    } else {
      rc = undoPush(p, t->zBase, r->element[0]);
      if (rc == SQLITE_OK) {
        *ppReply = r->element[1];
        r->element[1] = 0;
      }
    }
    freeReplyObject(r);
  }
  return rc;
}

/* ------------------------------------------------------------ the store */

/* Percent-decode z[0..n) (URL user and password). */
static char *pctDecode(const char *z, int n) {
  char *zOut = sqlite3_malloc64((sqlite3_uint64)n + 1);
  int i, j = 0;
  if (!zOut) return 0;
  for (i = 0; i < n; i++) {
    if (z[i] == '%' && i + 2 < n &&
        strchr("0123456789abcdefABCDEF", z[i + 1]) &&
        strchr("0123456789abcdefABCDEF", z[i + 2])) {
      char zHex[3];
      zHex[0] = z[i + 1];
      zHex[1] = z[i + 2];
      zHex[2] = 0;
      zOut[j++] = (char)strtol(zHex, 0, 16);
      i += 2;
    } else {
      zOut[j++] = z[i];
    }
  }
  zOut[j] = 0;
  return zOut;
}

/* A positive integer parameter of at most 9 digits, or -1. */
static int parseMs(const char *z, int n) {
  int i, v = 0;
  if (n <= 0 || n > 9) return -1;
  for (i = 0; i < n; i++) {
    if (z[i] < '0' || z[i] > '9') return -1;
    v = v * 10 + (z[i] - '0');
  }
  return v;
}

/* The ?k=v&... parameters of the URL. */
static int parseQuery(RdStore *p, const char *zQ, int bPathDb) {
  static const char *const azKnown[] = {"db", "connect_timeout",
                                        "command_timeout", "wait_replicas",
                                        "wait_timeout"};
  const int nKnown = (int)(sizeof(azKnown) / sizeof(azKnown[0]));
  unsigned int mSeen = bPathDb ? 1 : 0; /* bit k: azKnown[k] given */
  while (zQ && *zQ) {
    int n = (int)strcspn(zQ, "&");
    const char *zEq = memchr(zQ, '=', (size_t)n);
    int nKey = zEq ? (int)(zEq - zQ) : n;
    int v = zEq ? parseMs(zEq + 1, n - nKey - 1) : -1;
    int k;
    for (k = 0; k < nKnown; k++) {
      if ((int)strlen(azKnown[k]) == nKey &&
          memcmp(zQ, azKnown[k], nKey) == 0) {
        break;
      }
    }
    if (k < nKnown && (mSeen & (1u << k))) {
      /* Which one would win is a guess: say so instead. */
      rdError(p, "redis: URL parameter '%s' given twice in %s%s", azKnown[k],
              p->zSafe, k == 0 && bPathDb ? " (as /db and as ?db=)" : "");
      return SQLITE_ERROR;
    }
    if (k < nKnown) mSeen |= 1u << k;
    if (k == 0 && v >= 0 && !(p->bCluster && v > 0)) {
      p->iDb = v;
    } else if (k == 1 && v > 0) {
      p->iConnMs = v;
      p->bConnSet = 1;
    } else if (k == 2 && v > 0) {
      p->iCmdMs = v;
      p->bCmdSet = 1;
    } else if (k == 3 && v > 0) {
      p->nWaitRepl = v;
    } else if (k == 4 && v > 0) {
      p->iWaitMs = v;
    } else {
      /* The name only: the value may be a secret. */
      rdError(p,
              "redis: bad URL parameter '%.*s' in %s (known: db, "
              "connect_timeout, command_timeout, wait_replicas, "
              "wait_timeout; values are integers, timeouts in ms%s)",
              nKey, zQ, p->zSafe,
              p->bCluster ? ", a cluster has db 0 only" : "");
      return SQLITE_ERROR;
    }
    zQ += n;
    if (*zQ == '&') zQ++;
  }
  return SQLITE_OK;
}

/*
** Parse "host[:port]" or "[v6addr][:port]" at z[0..zEnd) into *pzHost
** (sqlite3_malloc'd) and *piPort (6379 when not given): SQLITE_OK,
** SQLITE_ERROR when malformed, SQLITE_NOMEM.
*/
static int parseHost(const char *z, const char *zEnd, char **pzHost,
                     int *piPort) {
  const char *q;
  *piPort = 6379;
  *pzHost = 0;
  if (*z == '[') {
    q = memchr(z, ']', (size_t)(zEnd - z));
    if (!q) return SQLITE_ERROR;
    *pzHost = sqlite3_mprintf("%.*s", (int)(q - z - 1), z + 1);
    q++;
  } else {
    q = z;
    while (q < zEnd && *q != ':') q++;
    *pzHost = sqlite3_mprintf("%.*s", (int)(q - z), z);
  }
  if (!*pzHost) return SQLITE_NOMEM;
  if ((*pzHost)[0] == 0) return SQLITE_ERROR;
  if (q < zEnd && *q == ':') {
    int v = parseMs(q + 1, (int)(zEnd - q - 1));
    if (v <= 0 || v > 65535) return SQLITE_ERROR;
    *piPort = v;
  } else if (q != zEnd) {
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/*
** The seed nodes "host[:port],host[:port]..." at z[0..zEnd) of a
** redis-cluster:// URL, into p->aNode.
*/
static int parseSeeds(RdStore *p, const char *z, const char *zEnd) {
  p->aSlot = sqlite3_malloc64(sizeof(p->aSlot[0]) * RD_SLOTS);
  if (!p->aSlot) return SQLITE_NOMEM;
  memset(p->aSlot, 0, sizeof(p->aSlot[0]) * RD_SLOTS);
  while (z <= zEnd) {
    const char *zComma = memchr(z, ',', (size_t)(zEnd - z));
    const char *zE = zComma ? zComma : zEnd;
    char *zHost = 0;
    int iPort, rc = parseHost(z, zE, &zHost, &iPort);
    if (rc == SQLITE_OK && nodeFind(p, zHost, (int)strlen(zHost), iPort) < 0) {
      rc = SQLITE_NOMEM;
    }
    sqlite3_free(zHost);
    if (rc != SQLITE_OK) return rc;
    z = zE + 1;
  }
  return SQLITE_OK;
}

/*
** redis://[user[:password]@]host[:port][/db][?params],
** redis-cluster://[user[:password]@]host[:port][,host[:port]...][?params]
** or unix:/path/to/redis.sock[?params].
*/
static int parseUrl(RdStore *p, const char *zUrl) {
  const char *z, *zEnd, *zAt = 0, *zQ, *q;
  int bPathDb = 0;
  if (sqlite3_strnicmp(zUrl, "rediss://", 9) == 0) {
    rdError(p, "redis: TLS (rediss://) is not supported: %s", p->zSafe);
    return SQLITE_ERROR;
  }
  if (sqlite3_strnicmp(zUrl, "unix:", 5) == 0) {
    z = zUrl + 5;
    if (strncmp(z, "//", 2) == 0) z += 2;
    zQ = strchr(z, '?');
    zEnd = zQ ? zQ : z + strlen(z);
    if (zEnd == z || z[0] != '/') {
      rdError(p, "redis: malformed URL %s: expected unix:/path/to/socket",
              p->zSafe);
      return SQLITE_ERROR;
    }
    p->zSock = sqlite3_mprintf("%.*s", (int)(zEnd - z), z);
    if (!p->zSock) return SQLITE_NOMEM;
    return parseQuery(p, zQ ? zQ + 1 : 0, 0);
  }
  /* ("redis:" without "//" reaches this store too: sv_store_acquire
  ** takes the scheme from what comes before the first ':'.) */
  if (sqlite3_strnicmp(zUrl, "redis-cluster://", 16) == 0) {
    p->bCluster = 1;
    z = zUrl + 16;
  } else if (sqlite3_strnicmp(zUrl, "redis://", 8) == 0) {
    z = zUrl + 8; /* after "redis://" */
  } else {
    goto malformed;
  }
  zQ = strchr(z, '?');
  zEnd = z + strcspn(z, "/?");
  for (q = z; q < zEnd; q++) {
    if (*q == '@') zAt = q;
  }
  if (zAt) {
    const char *zColon = memchr(z, ':', (size_t)(zAt - z));
    if (zColon) {
      if (zColon > z) p->zUser = pctDecode(z, (int)(zColon - z));
      p->zPass = pctDecode(zColon + 1, (int)(zAt - zColon - 1));
      if (!p->zPass || (zColon > z && !p->zUser)) return SQLITE_NOMEM;
    } else if (zAt > z) {
      /* "user@host": a user without password is no AUTH at all */
    }
    z = zAt + 1;
  }
  if (p->bCluster) {
    int rc = parseSeeds(p, z, zEnd);
    if (rc == SQLITE_NOMEM) return rc;
    /* A cluster has database 0 only: "/" or "/0". */
    if (rc != SQLITE_OK || (*zEnd == '/' && zEnd[1] && zEnd[1] != '?' &&
                            strncmp(zEnd, "/0", 2) != 0)) {
      rdError(p,
              "redis: malformed URL %s: expected "
              "redis-cluster://[user[:password]@]host[:port][,host[:port]"
              "...][?params]",
              p->zSafe);
      return SQLITE_ERROR;
    }
    return parseQuery(p, zQ ? zQ + 1 : 0, 0);
  }
  {
    int rc = parseHost(z, zEnd, &p->zHost, &p->iPort);
    if (rc == SQLITE_NOMEM) return rc;
    if (rc != SQLITE_OK) goto malformed;
  }
  if (*zEnd == '/') {
    const char *zDb = zEnd + 1;
    int n = (int)strcspn(zDb, "?");
    if (n > 0) {
      p->iDb = parseMs(zDb, n);
      if (p->iDb < 0) goto malformed;
      bPathDb = 1;
    }
  }
  return parseQuery(p, zQ ? zQ + 1 : 0, bPathDb);
malformed:
  rdError(p,
          "redis: malformed URL %s: expected "
          "redis://[user[:password]@]host[:port][/db]",
          p->zSafe);
  return SQLITE_ERROR;
}

/*
** Does every writer keep an index of column c (a set or a sorted set)
** whether or not an indexes= option asks for it?  The columns marked
** STATEVTAB_COL_OPTIDX are indexed on request only, as on the local store;
** so is the tasks' lease_expires_at, whose claimed tasks the per-queue
** lease sets (Btasks:lq:<queue>) hold already.
*/
static int defaultIndex(const statevtab_entity *e, const statevtab_column *c) {
  if (!(c->flags & STATEVTAB_COL_INDEXED)) return 0;
  if (c->flags & STATEVTAB_COL_OPTIDX) return 0;
  return !(e == sv_entity_tasks && c == &e->aCol[SV_TASK_LEASE_EXPIRES_AT]);
}

/* The script: a table S describing the entities, then sql/redis.lua. */
static char *buildScript(void) {
  sqlite3_str *s = sqlite3_str_new(0);
  int i, k;
  sqlite3_str_appendall(s, "local S = {}\n");
  for (i = 0; i < sv_nEntity; i++) {
    const statevtab_entity *e = sv_aEntity[i];
    const char *zSep = "";
    int iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
    int iExp = sv_entity_col(e, STATEVTAB_COL_EXPIRES);
    int iRet = sv_entity_col(e, STATEVTAB_COL_RETAIN);
    int iState = sv_entity_col(e, STATEVTAB_COL_STATE);
    sqlite3_str_appendf(s, "S['%s'] = {cols = {", e->zKind);
    for (k = 0; k < e->nCol; k++) {
      sqlite3_str_appendf(s, "%s'%s'", k ? ", " : "", e->aCol[k].zName);
    }
    sqlite3_str_appendall(s, "}, ty = {");
    for (k = 0; k < e->nCol; k++) {
      int t = e->aCol[k].eType;
      sqlite3_str_appendf(s, "%s'%s'", k ? ", " : "",
                          t == STATEVTAB_TEXT   ? "t"
                          : t == STATEVTAB_JSON ? "j"
                          : t == STATEVTAB_ANY  ? "a"
                          : t == STATEVTAB_NUM  ? "n"
                                                : "i");
    }
    sqlite3_str_appendf(s, "}, key = {'%s'", e->aCol[e->aiKey[0]].zName);
    if (e->nKey == 2) {
      sqlite3_str_appendf(s, ", '%s'", e->aCol[e->aiKey[1]].zName);
    }
    sqlite3_str_appendall(s, "}, tidx = {");
    for (k = 0; k < e->nCol; k++) {
      const statevtab_column *c = &e->aCol[k];
      if (defaultIndex(e, c) &&
          (c->eType == STATEVTAB_TEXT || c->eType == STATEVTAB_JSON)) {
        sqlite3_str_appendf(s, "%s'%s'", zSep, c->zName);
        zSep = ", ";
      }
    }
    zSep = "";
    sqlite3_str_appendall(s, "}, nidx = {");
    for (k = 0; k < e->nCol; k++) {
      const statevtab_column *c = &e->aCol[k];
      if (defaultIndex(e, c) && c->eType == STATEVTAB_INT) {
        sqlite3_str_appendf(s, "%s'%s'", zSep, c->zName);
        zSep = ", ";
      }
    }
    sqlite3_str_appendall(s, "}");
    if (iVer >= 0) sqlite3_str_appendf(s, ", ver = '%s'", e->aCol[iVer].zName);
    if (iExp >= 0) sqlite3_str_appendf(s, ", exp = '%s'", e->aCol[iExp].zName);
    if (iRet >= 0) sqlite3_str_appendf(s, ", ret = '%s'", e->aCol[iRet].zName);
    if (iState >= 0) {
      sqlite3_str_appendf(s, ", state = '%s'", e->aCol[iState].zName);
    }
    sqlite3_str_appendall(s, "}\n");
  }
  /* The queue policy (vtab/policy.h). */
#define SV_FINAL_LUA_(z) z "=true, "
  sqlite3_str_appendall(
      s, "local SV_FINAL = {" SV_FINAL_STATES(SV_FINAL_LUA_) "}\n");
#undef SV_FINAL_LUA_
  sqlite3_str_appendf(
      s,
      "local SV_BACKOFF_BASE_MS = %d\n"
      "local SV_BACKOFF_CAP_MS = %d\n"
      "local SV_REASON_LEASE_EXPIRED = '%s'\n"
      "local SV_DEAD_ID_TAIL = %d\n"
      "local SV_SWEEP_MAX = %d\n"
      "local SV_RATE_STEPS = %d\n"
      "local SV_DEPS_WHY_DEAD = '" SV_DEPS_WHY_DEAD "'\n"
      "local SV_DEPS_WHY_FAILED = '" SV_DEPS_WHY_FAILED "'\n"
      "local SV_DEPS_WHY_CANCELLED = '" SV_DEPS_WHY_CANCELLED "'\n"
      "local SV_DEPS_WHY_DELETED = '" SV_DEPS_WHY_DELETED "'\n",
      SV_BACKOFF_BASE_MS, SV_BACKOFF_CAP_MS, SV_REASON_LEASE_EXPIRED,
      SV_DEAD_ID_TAIL, SV_SWEEP_MAX, SV_RATE_STEPS);
  sqlite3_str_appendall(s, zRdScript);
  /* rdLoadFunction() replaces this line with register_function. */
  sqlite3_str_appendall(s, "return run(KEYS, ARGV)\n");
  return sqlite3_str_finish(s);
}

static void subDrop(RdStore *p) {
  int i;
  p->iChanged++; /* announcements may be missed from now on */
  if (p->cSub) redisFree(p->cSub);
  p->cSub = 0;
  for (i = 0; i < p->nSub; i++) sqlite3_free(p->azSub[i]);
  sqlite3_free(p->azSub);
  p->azSub = 0;
  p->nSub = 0;
}

static void rdFree(RdStore *p) {
  int i;
  rdHangUp(p);
  subDrop(p);
  for (i = 0; i < p->nNode; i++) {
    if (p->aNode[i].c) redisFree(p->aNode[i].c);
    sqlite3_free(p->aNode[i].zHost);
  }
  sqlite3_free(p->aNode);
  sqlite3_free(p->aSlot);
  sqlite3_free(p->zSafe);
  sqlite3_free(p->zHost);
  sqlite3_free(p->zSock);
  sqlite3_free(p->zUser);
  if (p->zPass) {
    memset(p->zPass, 0, strlen(p->zPass));
    sqlite3_free(p->zPass);
  }
  sqlite3_free(p->zScript);
  sqlite3_free(p->aOp);
  sqlite3_free(p->aSave);
  undoDrop(p, 0);
  sqlite3_free(p->aUndo);
  sqlite3_free(p->aSaveUndo);
  sqlite3_free(p->base.zErrMsg);
  sqlite3_free(p);
}

static int rdOpen(const statevtab_open *pOpen, statevtab_store **ppStore,
                  char **pzErr) {
  RdStore *p;
  int rc = sv_redis_load(pzErr); /* hiredis, opened at the first table */
  if (rc != SQLITE_OK) return rc;
  p = sqlite3_malloc64(sizeof(*p));
  if (!p) return SQLITE_NOMEM;
  memset(p, 0, sizeof(*p));
  p->base.pMethods = &sv_redis_store;
  p->db = pOpen->db;
  p->iConnMs = RD_CONNECT_MS;
  p->iCmdMs = RD_COMMAND_MS;
  p->iNode = -1;
  p->iWaitMs = RD_WAIT_MS;
  p->zSafe = sqlite3_mprintf("%s", pOpen->zSafeUrl);
  p->zScript = buildScript();
  if (!p->zSafe || !p->zScript) {
    rc = SQLITE_NOMEM;
  } else {
    rc = parseUrl(p, pOpen->zUrl);
  }
  /* The application's allowlist, before any socket is opened (a cluster's
  ** nodes: by nodeUse, each before its first connection). */
  if (rc == SQLITE_OK && pOpen->xAllow && p->bCluster) {
    p->xAllow = pOpen->xAllow;
    p->pAllowArg = pOpen->pAllowArg;
  } else if (rc == SQLITE_OK && pOpen->xAllow) {
    rc = pOpen->xAllow(pOpen, p->zSock ? p->zSock : p->zHost,
                       p->zSock ? 0 : p->iPort, &p->base.zErrMsg);
  }
  if (rc == SQLITE_OK) rc = rdConnect(p, 1);
  if (rc != SQLITE_OK) {
    *pzErr = p->base.zErrMsg;
    p->base.zErrMsg = 0;
    rdFree(p);
    return rc;
  }
  *ppStore = &p->base;
  return SQLITE_OK;
}

static void opFree(RdOp *o) {
  sqlite3_free(o->aRow);
  o->aRow = 0;
}

static void logTruncate(RdStore *p, int n) {
  while (p->nOp > n) {
    RdOp *o = &p->aOp[--p->nOp];
    if (o->iPrev >= 0) p->aOp[o->iPrev].bSuperseded = 0;
    opFree(o);
  }
}

static void rdClose(statevtab_store *pStore) {
  RdStore *p = (RdStore *)pStore;
  logTruncate(p, 0);
  rdFree(p);
}

/*
** Check zList, the indexes= option, against e's columns (sv_index_list): an
** error names the first one that is not a column.  With a, the name of
** each column it names is appended to it.
*/
static int indexList(RdStore *p, const statevtab_entity *e, const char *zList,
                     RdArgs *a) {
  sqlite3_uint64 m;
  char *zErr = 0;
  int i, rc = sv_index_list(e, zList, &m, &zErr);
  if (rc != SQLITE_OK) {
    if (zErr) rdError(p, "%s", zErr);
    sqlite3_free(zErr);
    return rc;
  }
  for (i = 0; a && i < e->nCol; i++) {
    if ((m >> i) & 1) argZ(a, e->aCol[i].zName);
  }
  return a ? a->rc : SQLITE_OK;
}

static int rdAttach(statevtab_store *pStore, const statevtab_entity *e,
                    const char *zDb, const char *zName, int nOpt,
                    const char *const *azOpt, int bCreate,
                    statevtab_table **ppTab) {
  RdStore *p = (RdStore *)pStore;
  const char *zPrefix = RD_PREFIX;
  const char *zIndexes = 0;
  RdTable *t;
  sv_dedup dd;
  int i, j, rc;
  (void)zDb;
  (void)zName;
  (void)bCreate;
  *ppTab = 0;
  memset(&dd, 0, sizeof(dd));
  for (i = 0; i < nOpt; i++) {
    const char *zKey = azOpt[2 * i], *zVal = azOpt[2 * i + 1];
    if (strcmp(zKey, "prefix") == 0) {
      zPrefix = zVal;
    } else if (strcmp(zKey, "indexes") == 0) {
      zIndexes = zVal;
    } else if (strcmp(zKey, "dedup") == 0) {
      char *zErr = 0;
      if (sv_dedup_parse(e, zVal, &dd, &zErr) != SQLITE_OK) {
        if (!zErr) return SQLITE_NOMEM;
        rdError(p, "%s", zErr);
        sqlite3_free(zErr);
        return SQLITE_ERROR;
      }
    } else if (strcmp(zKey, "connect_timeout") == 0 ||
               strcmp(zKey, "command_timeout") == 0) {
      int v = parseMs(zVal, (int)strlen(zVal));
      if (v <= 0) {
        rdError(p, "%s must be a positive integer (milliseconds), got '%s'",
                zKey, zVal);
        return SQLITE_ERROR;
      }
      /* One connection serves every table of the URL: the smallest value
      ** given wins (a default is no value given). */
      if (zKey[1] == 'o' && zKey[2] == 'n' &&
          (!p->bConnSet || v < p->iConnMs)) {
        p->iConnMs = v;
        p->bConnSet = 1;
      }
      if (zKey[1] == 'o' && zKey[2] == 'm' && (!p->bCmdSet || v < p->iCmdMs)) {
        p->iCmdMs = v;
        p->bCmdSet = 1;
        if (p->c) redisSetTimeout(p->c, msTime(v));
        for (j = 0; j < p->nNode; j++) {
          if (p->aNode[j].c) redisSetTimeout(p->aNode[j].c, msTime(v));
        }
      }
    } else if (strcmp(zKey, "schema") != 0) {
      rdError(p, "unknown option '%s'", zKey);
      return SQLITE_ERROR;
    }
  }
  /* Not empty: "{}" is no hash tag, and the keys of one prefix would
  ** scatter over the slots of a Redis Cluster. */
  if (zPrefix[0] == 0 || strlen(zPrefix) > 200 || strpbrk(zPrefix, "{}")) {
    rdError(p,
            "prefix must be 1 to 200 bytes without '{' or '}' (got "
            "'%s')",
            zPrefix);
    return SQLITE_ERROR;
  }
  if (zIndexes && indexList(p, e, zIndexes, 0) != SQLITE_OK) {
    return SQLITE_ERROR;
  }
  t = sqlite3_malloc64(sizeof(*t));
  if (!t) return SQLITE_NOMEM;
  memset(t, 0, sizeof(*t));
  t->base.pStore = pStore;
  t->base.pEntity = e;
  t->p = p;
  t->dd = dd;
  t->zPrefix = sqlite3_mprintf("%s", zPrefix);
  t->zBase = sqlite3_mprintf("{%s}", zPrefix);
  if (!t->zPrefix || !t->zBase) {
    sqlite3_free(t->zPrefix);
    sqlite3_free(t->zBase);
    sqlite3_free(t);
    return SQLITE_NOMEM;
  }
  if (zIndexes) {
    /* Every writer of the namespace keeps the indexes any table asks for
    ** (they share the rows): the script records them on the server. */
    RdArgs a;
    redisReply *r = 0;
    argEval(&a, t, "want");
    argZ(&a, e->zKind);
    rc = indexList(p, e, zIndexes, &a);
    if (rc == SQLITE_OK) {
      rc = rdEval(t, &a, &r);
    } else {
      argsFree(&a);
    }
    freeReplyObject(r);
    if (rc != SQLITE_OK) {
      sqlite3_free(t->zPrefix);
      sqlite3_free(t->zBase);
      sqlite3_free(t);
      return rc;
    }
  }
  *ppTab = &t->base;
  return SQLITE_OK;
}

static void rdDetach(statevtab_table *pTab) {
  RdTable *t = (RdTable *)pTab;
  RdStore *p = t->p;
  int i, j;
  /* Writes of this table still in the log cannot be sent any more.  (SQLite
  ** keeps a table that is in a transaction connected, so this is not
  ** expected to find any.)  Savepoint marks move with the ops they count. */
  for (i = j = 0; i < p->nOp; i++) {
    if (p->aOp[i].t == t) {
      int k;
      for (k = 0; k < p->nSave; k++) {
        if (p->aSave[k] > j) p->aSave[k]--;
      }
      opFree(&p->aOp[i]);
    } else {
      p->aOp[j++] = p->aOp[i];
    }
  }
  if (j < p->nOp) {
    p->nOp = j;
    for (i = 0; i < p->nOp; i++) {
      p->aOp[i].iPrev = -1;
      p->aOp[i].bSuperseded = 0;
      for (j = i - 1; j >= 0; j--) {
        if (p->aOp[j].iRid == p->aOp[i].iRid &&
            sameRows(p->aOp[j].t, p->aOp[i].t)) {
          p->aOp[j].bSuperseded = 1;
          p->aOp[i].iPrev = j;
          break;
        }
      }
    }
  }
  freeReplyObject(t->pOut);
  sqlite3_free(t->aSeen);
  sqlite3_free(t->zPrefix);
  sqlite3_free(t->zBase);
  sqlite3_free(t);
}

/* DROP TABLE only disconnects: other processes share the rows. */
static int rdDrop(statevtab_table *pTab) {
  (void)pTab;
  return SQLITE_OK;
}

static int rdRename(statevtab_table *pTab, const char *zNew) {
  (void)pTab;
  (void)zNew;
  return SQLITE_OK;
}

static char *rdDescribe(statevtab_store *pStore) {
  RdStore *p = (RdStore *)pStore;
  return sqlite3_mprintf("redis: %s (script %s%s)", p->zSafe, p->zSha,
                         p->c ? "" : ", disconnected");
}

/* ------------------------------------------------------------- rows */

/* A copy of a row in one allocation (values, then their bytes). */
static statevtab_value *rowCopy(const statevtab_entity *e,
                                const statevtab_value *a) {
  sqlite3_uint64 n = sizeof(statevtab_value) * (sqlite3_uint64)e->nCol;
  statevtab_value *aNew;
  char *z;
  int i;
  for (i = 0; i < e->nCol; i++) {
    if (a[i].eType == SQLITE_TEXT || a[i].eType == SQLITE_BLOB) {
      n += (sqlite3_uint64)a[i].n + 1;
    }
  }
  aNew = sqlite3_malloc64(n);
  if (!aNew) return 0;
  z = (char *)&aNew[e->nCol];
  for (i = 0; i < e->nCol; i++) {
    aNew[i] = a[i];
    if (a[i].eType == SQLITE_TEXT || a[i].eType == SQLITE_BLOB) {
      if (a[i].n) memcpy(z, a[i].z, (size_t)a[i].n);
      z[a[i].n] = 0;
      aNew[i].z = z;
      z += a[i].n + 1;
    }
  }
  return aNew;
}

/* Decode one reply element as a value of column pCol. */
static void rdDecode(const redisReply *r, const statevtab_column *pCol,
                     statevtab_value *v) {
  memset(v, 0, sizeof(*v));
  if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
    sv_decode_text(r->str, (int)r->len, pCol, v);
  } else if (r->type == REDIS_REPLY_INTEGER) {
    v->eType = SQLITE_INTEGER;
    v->i = r->integer;
  } else {
    v->eType = SQLITE_NULL;
  }
}

static sqlite3_int64 replyInt(const redisReply *r) {
  if (r->type == REDIS_REPLY_INTEGER) return r->integer;
  if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, 0, 10);
  return 0;
}

/* --- what the transaction read: rid -> (stamp, version) --- */

static RdSeen *seenFind(RdTable *t, sqlite3_int64 iRid) {
  unsigned h;
  if (!t->nSeenAlloc) return 0;
  h = (unsigned)(iRid * 2654435761u) & (unsigned)(t->nSeenAlloc - 1);
  for (;;) {
    RdSeen *s = &t->aSeen[h];
    if (s->iRid == 0 || s->iRid == iRid) return s;
    h = (h + 1) & (unsigned)(t->nSeenAlloc - 1);
  }
}

static int seenPut(RdTable *t, sqlite3_int64 iRid, sqlite3_int64 iStamp,
                   sqlite3_int64 iVer) {
  RdSeen *s;
  if (t->iSeenGen != t->p->iGen) {
    /* What an earlier transaction read is no longer wanted: start over
    ** (small), so that the table holds one transaction's rows at most. */
    if (t->nSeenAlloc > 64) {
      sqlite3_free(t->aSeen);
      t->aSeen = 0;
      t->nSeenAlloc = 0;
    } else if (t->aSeen) {
      memset(t->aSeen, 0, sizeof(RdSeen) * (size_t)t->nSeenAlloc);
    }
    t->nSeen = 0;
    t->iSeenGen = t->p->iGen;
  }
  if ((t->nSeen + 1) * 2 > t->nSeenAlloc) {
    int nOld = t->nSeenAlloc, i, nNew = nOld ? nOld * 2 : 64;
    RdSeen *aOld = t->aSeen;
    RdSeen *aNew = sqlite3_malloc64(sizeof(RdSeen) * (size_t)nNew);
    if (!aNew) return SQLITE_NOMEM;
    memset(aNew, 0, sizeof(RdSeen) * (size_t)nNew);
    t->aSeen = aNew;
    t->nSeenAlloc = nNew;
    t->nSeen = 0;
    for (i = 0; i < nOld; i++) {
      if (aOld[i].iRid) {
        *seenFind(t, aOld[i].iRid) = aOld[i];
        t->nSeen++;
      }
    }
    sqlite3_free(aOld);
  }
  s = seenFind(t, iRid);
  if (s->iRid == 0) t->nSeen++;
  s->iRid = iRid;
  s->iStamp = iStamp;
  s->iVer = iVer;
  s->iGen = t->p->iGen;
  return SQLITE_OK;
}

static RdSeen *seenGet(RdTable *t, sqlite3_int64 iRid) {
  RdSeen *s = seenFind(t, iRid);
  return (s && s->iRid == iRid && s->iGen == t->p->iGen) ? s : 0;
}

/* Do two tables share rows (same namespace and kind)? */
static int sameRows(const RdTable *a, const RdTable *b) {
  return a == b || (a->base.pEntity == b->base.pEntity &&
                    strcmp(a->zBase, b->zBase) == 0);
}

/* The latest op of the log on row iRid of t's rows, or NULL. */
static RdOp *logLatest(RdTable *t, sqlite3_int64 iRid) {
  int i;
  for (i = t->p->nOp - 1; i >= 0; i--) {
    RdOp *o = &t->p->aOp[i];
    if (o->iRid == iRid && !o->bSuperseded && sameRows(o->t, t)) return o;
  }
  return 0;
}

/* ---------------------------------------------------------------- scans */

static int rdOpenCursor(statevtab_table *pTab, statevtab_cursor **ppCur) {
  RdCursor *c = sqlite3_malloc64(sizeof(*c));
  if (!c) return SQLITE_NOMEM;
  memset(c, 0, sizeof(*c));
  c->base.pTab = pTab;
  *ppCur = &c->base;
  return SQLITE_OK;
}

static void cursorReset(RdCursor *c) {
  int i;
  freeReplyObject(c->reply);
  c->reply = 0;
  for (i = 0; i < c->nOwn; i++) sqlite3_free(c->apOwn[i]);
  sqlite3_free(c->apOwn);
  sqlite3_free(c->aVal);
  sqlite3_free(c->aRow);
  c->apOwn = 0;
  c->aVal = 0;
  c->aRow = 0;
  c->nOwn = c->nRow = c->iRow = 0;
}

static void rdCloseCursor(statevtab_cursor *pCur) {
  RdCursor *c = (RdCursor *)pCur;
  cursorReset(c);
  sqlite3_free(c);
}

/* Constraint value v as the text a text column compares it with, in zBuf
** when converted; 0 for a blob (equal to no text). */
static const char *consText(const statevtab_value *v, char *zBuf, int nBuf,
                            int *pn) {
  switch (v->eType) {
  case SQLITE_INTEGER:
    sqlite3_snprintf(nBuf, zBuf, "%lld", v->i);
    break;
  case SQLITE_FLOAT:
    sqlite3_snprintf(nBuf, zBuf, "%!.15g", v->r);
    break;
  case SQLITE_TEXT:
    *pn = v->n;
    return v->z ? v->z : "";
  default:
    return 0;
  }
  *pn = (int)strlen(zBuf);
  return zBuf;
}

/* Constraint value v as a number for a score bound, or 0 when it is none. */
static int consNumber(const statevtab_value *v, double *pr) {
  sqlite3_int64 i = 0;
  double r = 0;
  int t;
  if (v->eType == SQLITE_INTEGER) {
    *pr = (double)v->i;
  } else if (v->eType == SQLITE_FLOAT) {
    *pr = v->r;
  } else if (v->eType == SQLITE_TEXT &&
             (t = sv_parse_number(v->z, v->n, &i, &r)) != 0) {
    *pr = t == 1 ? (double)i : r;
  } else {
    return 0;
  }
  /* Scores are doubles: beyond 2^53 a bound could cut off a row. */
  return *pr > -9007199254740992.0 && *pr < 9007199254740992.0;
}

/* Append "set <col> <text of v>" to a; 0 when v has no text. */
static int argSet(RdArgs *a, const char *zCol, const statevtab_value *v) {
  char zBuf[64];
  int n = 0;
  const char *z = consText(v, zBuf, sizeof(zBuf), &n);
  if (!z) return 0;
  argZ(a, "set");
  argZ(a, zCol);
  argCopy(a, z, n);
  return 1;
}

/* Append "zset <col> <min> <max>" for the bounds on column iCol to a. */
static void argRange(RdArgs *a, const statevtab_entity *e,
                     const statevtab_scan *pScan, int iCol) {
  char *zMin = 0, *zMax = 0;
  int i;
  for (i = 0; i < pScan->nCons; i++) {
    const statevtab_cons *c = &pScan->aCons[i];
    double r;
    if (c->iCol != iCol || c->op == STATEVTAB_ALIVE ||
        c->v.eType == SQLITE_NULL || !consNumber(&c->v, &r)) {
      continue;
    }
    /* Inclusive bounds, rounded outward: a superset; filtered below. */
    if (c->op == STATEVTAB_EQ || c->op == STATEVTAB_IS ||
        c->op == STATEVTAB_GT || c->op == STATEVTAB_GE) {
      sqlite3_free(zMin);
      zMin = sqlite3_mprintf("%.0f", r - 1);
    }
    if (c->op == STATEVTAB_EQ || c->op == STATEVTAB_IS ||
        c->op == STATEVTAB_LT || c->op == STATEVTAB_LE) {
      sqlite3_free(zMax);
      zMax = sqlite3_mprintf("%.0f", r + 1);
    }
  }
  argZ(a, "zset");
  argZ(a, e->aCol[iCol].zName);
  if (zMin) {
    argOwn(a, zMin);
  } else {
    argZ(a, "-inf");
  }
  if (zMax) {
    argOwn(a, zMax);
  } else {
    argZ(a, "+inf");
  }
}

/*
** Append the candidate sources of a scan to a (see ops.scan in
** sql/redis.lua), best first: the key; for tasks, queue = ? AND state =
** 'pending' or 'claimed' (the queue's claim structures); an equality on a
** text column, a range on a numeric one, those every writer indexes before
** those indexed on request.  The script reads the first one the namespace
** keeps an index for, else every row.  *pbNone: no row can match.
*/
static void scanMode(RdArgs *a, const statevtab_entity *e,
                     const statevtab_scan *pScan, int *pbNone) {
  const statevtab_cons *aKey[2] = {0, 0};
  const statevtab_cons *pQueue = 0, *pState = 0;
  int i, k, iPass, nCand = 0, iCount;
  sqlite3_uint64 mRange = 0;
  char zBuf[64];
  *pbNone = 0;
  for (i = 0; i < pScan->nCons; i++) {
    const statevtab_cons *c = &pScan->aCons[i];
    int bEq = c->op == STATEVTAB_EQ || c->op == STATEVTAB_IS;
    if (c->v.eType == SQLITE_NULL || c->op == STATEVTAB_ALIVE) continue;
    for (k = 0; k < e->nKey; k++) {
      if (bEq && c->iCol == e->aiKey[k]) aKey[k] = c;
    }
    if (bEq && c->v.eType == SQLITE_TEXT && e == sv_entity_tasks) {
      if (c->iCol == SV_TASK_QUEUE) pQueue = c;
      if (c->iCol == SV_TASK_STATE) pState = c;
    }
  }
  iCount = a->n;
  argZ(a, "0"); /* the number of candidates, set below */
  if (aKey[0] && (e->nKey == 1 || aKey[1])) {
    int n0 = 0, n1 = 0;
    char zBuf1[64];
    const char *z0 = consText(&aKey[0]->v, zBuf, sizeof(zBuf), &n0);
    const char *z1 =
        e->nKey == 2 ? consText(&aKey[1]->v, zBuf1, sizeof(zBuf1), &n1) : "";
    if (!z0 || !z1) {
      *pbNone = 1;
      return;
    }
    argZ(a, "key");
    if (e->nKey == 1) {
      argCopy(a, z0, n0);
    } else {
      char *zK = sqlite3_malloc64((sqlite3_uint64)n0 + (sqlite3_uint64)n1 + 24);
      int nHead;
      if (zK) {
        sqlite3_snprintf(24, zK, "%d:", n0);
        nHead = (int)strlen(zK);
        if (n0) memcpy(zK + nHead, z0, (size_t)n0);
        if (n1) memcpy(zK + nHead + n0, z1, (size_t)n1);
        zK[nHead + n0 + n1] = 0;
        argOwn(a, zK);
        if (a->rc == SQLITE_OK) a->an[a->n - 1] = (size_t)(nHead + n0 + n1);
      } else {
        argOwn(a, 0);
      }
    }
    nCand++;
  } else {
    if (pQueue && pState &&
        ((pState->v.n == 7 && memcmp(pState->v.z, "pending", 7) == 0) ||
         (pState->v.n == 7 && memcmp(pState->v.z, "claimed", 7) == 0))) {
      argZ(a, pState->v.z[0] == 'p' ? "pending" : "claimed");
      argCopy(a, pQueue->v.z ? pQueue->v.z : "", pQueue->v.n);
      nCand++;
    }
    /* Pass 0: the columns every writer indexes; pass 1: any other (the
    ** namespace may keep an index of it that some table asked for). */
    for (iPass = 0; iPass < 2; iPass++) {
      for (i = 0; i < pScan->nCons; i++) {
        const statevtab_cons *c = &pScan->aCons[i];
        const statevtab_column *pCol = &e->aCol[c->iCol];
        int bEq = c->op == STATEVTAB_EQ || c->op == STATEVTAB_IS;
        int bText =
            pCol->eType == STATEVTAB_TEXT || pCol->eType == STATEVTAB_JSON;
        if (c->v.eType == SQLITE_NULL || c->op == STATEVTAB_ALIVE) continue;
        if (defaultIndex(e, pCol) != (iPass == 0)) continue;
        if (e->nKey == 1 && c->iCol == e->aiKey[0]) continue;
        if (bText) {
          if (bEq) nCand += argSet(a, pCol->zName, &c->v);
        } else if (c->iCol < 64 &&
                   !(mRange & (((sqlite3_uint64)1) << c->iCol))) {
          double r;
          if (!consNumber(&c->v, &r)) continue;
          mRange |= ((sqlite3_uint64)1) << c->iCol;
          argRange(a, e, pScan, c->iCol);
          nCand++;
        }
      }
    }
  }
  /* The count, in place of the placeholder: appended (owned), then moved. */
  argOwn(a, sqlite3_mprintf("%d", nCand));
  if (a->rc == SQLITE_OK) {
    a->az[iCount] = a->az[a->n - 1];
    a->an[iCount] = a->an[a->n - 1];
    a->n--;
  }
}

static int rowMatches(const statevtab_entity *e, const statevtab_scan *pScan,
                      const statevtab_value *aRow) {
  int i;
  for (i = 0; i < pScan->nCons; i++) {
    const statevtab_cons *c = &pScan->aCons[i];
    if (!sv_cons_match(&e->aCol[c->iCol], c, &aRow[c->iCol])) return 0;
  }
  return 1;
}

static int rdFilter(statevtab_cursor *pCur, const statevtab_scan *pScan) {
  RdCursor *c = (RdCursor *)pCur;
  RdTable *t = (RdTable *)pCur->pTab;
  RdStore *p = t->p;
  const statevtab_entity *e = pCur->pTab->pEntity;
  int iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  int aiField[SV_MAX_COLUMNS];
  int nField = 0, i, k, bNone = 0, rc, nServer = 0, nLog = 0, nMax;
  sqlite3_uint64 used = pScan->colUsed;
  RdArgs a;
  cursorReset(c);
  for (i = 0; i < pScan->nCons; i++) {
    used |= ((sqlite3_uint64)1) << pScan->aCons[i].iCol;
  }
  if (iVer >= 0) used |= ((sqlite3_uint64)1) << iVer;
  for (i = 0; i < e->nCol; i++) {
    if (used & (((sqlite3_uint64)1) << (i < 63 ? i : 63)))
      aiField[nField++] = i;
  }
  argEval(&a, t, "scan");
  argZ(&a, e->zKind);
  scanMode(&a, e, pScan, &bNone);
  for (i = 0; i < nField; i++) argZ(&a, e->aCol[aiField[i]].zName);
  if (bNone) {
    argsFree(&a);
  } else {
    rc = rdEval(t, &a, &c->reply);
    if (rc != SQLITE_OK) return rc;
    if (c->reply->type != REDIS_REPLY_ARRAY) {
      rdError(p, "redis: unexpected reply to a scan");
      return SQLITE_ERROR;
    }
    nServer = (int)(c->reply->elements / (size_t)(2 + nField));
  }
  for (i = 0; i < p->nOp; i++) {
    if (sameRows(p->aOp[i].t, t)) nLog++;
  }
  nMax = nServer + nLog;
  if (nMax > 0) {
    c->aRow = sqlite3_malloc64(sizeof(RdRow) * (size_t)nMax);
    c->aVal = sqlite3_malloc64(sizeof(statevtab_value) * (size_t)e->nCol *
                               (size_t)(nServer ? nServer : 1));
    c->apOwn =
        sqlite3_malloc64(sizeof(statevtab_value *) * (size_t)(nLog ? nLog : 1));
    if (!c->aRow || !c->aVal || !c->apOwn) return SQLITE_NOMEM;
  }
  for (i = 0; i < nServer; i++) {
    redisReply **ap = &c->reply->element[(size_t)i * (size_t)(2 + nField)];
    statevtab_value *aV = &c->aVal[(size_t)i * (size_t)e->nCol];
    sqlite3_int64 iRid = replyInt(ap[0]);
    if (nLog && logLatest(t, iRid)) continue; /* the log has it */
    for (k = 0; k < e->nCol; k++) {
      aV[k].eType = SQLITE_NULL;
    }
    for (k = 0; k < nField; k++) {
      rdDecode(ap[2 + k], &e->aCol[aiField[k]], &aV[aiField[k]]);
    }
    if (p->bTxn) {
      rc = seenPut(t, iRid, replyInt(ap[1]),
                   iVer >= 0 && aV[iVer].eType == SQLITE_INTEGER ? aV[iVer].i
                                                                 : 0);
      if (rc != SQLITE_OK) return rc;
    }
    if (!rowMatches(e, pScan, aV)) continue;
    c->aRow[c->nRow].iRid = iRid;
    c->aRow[c->nRow].iStamp = replyInt(ap[1]);
    c->aRow[c->nRow].a = aV;
    c->nRow++;
  }
  /* The transaction's own writes, as they stand. */
  for (i = 0; i < p->nOp; i++) {
    RdOp *o = &p->aOp[i];
    statevtab_value *aCopy;
    if (o->bSuperseded || !sameRows(o->t, t) || o->cType == 'D' ||
        !rowMatches(e, pScan, o->aRow)) {
      continue;
    }
    aCopy = rowCopy(e, o->aRow);
    if (!aCopy) return SQLITE_NOMEM;
    c->apOwn[c->nOwn++] = aCopy;
    c->aRow[c->nRow].iRid = o->iRid;
    c->aRow[c->nRow].iStamp = o->iStamp;
    c->aRow[c->nRow].a = aCopy;
    c->nRow++;
  }
  if (pScan->nLimit >= 0 && c->nRow > pScan->nLimit) {
    c->nRow = (int)pScan->nLimit;
  }
  return SQLITE_OK;
}

static int rdNext(statevtab_cursor *pCur) {
  ((RdCursor *)pCur)->iRow++;
  return SQLITE_OK;
}

static int rdEof(statevtab_cursor *pCur) {
  RdCursor *c = (RdCursor *)pCur;
  return c->iRow >= c->nRow;
}

static int rdColumn(statevtab_cursor *pCur, int iCol, statevtab_value *pOut) {
  RdCursor *c = (RdCursor *)pCur;
  *pOut = c->aRow[c->iRow].a[iCol];
  return SQLITE_OK;
}

static int rdRowid(statevtab_cursor *pCur, sqlite3_int64 *pRowid) {
  RdCursor *c = (RdCursor *)pCur;
  *pRowid = c->aRow[c->iRow].iRid;
  return SQLITE_OK;
}

/* --------------------------------------------------------------- writes */

/*
** A fresh row handle for t.  Handles are reserved in blocks, RD_RID_BLOCK
** first and twice as many at each refill (up to RD_RID_BLOCK_MAX): a
** refill is a write, so with appendfsync always it waits for an fsync as
** long as a commit does, and a table that inserts many rows should not
** pay one every 64 rows.  Unused handles are only a gap in the rowids.
*/
static int newRid(RdTable *t, sqlite3_int64 *piRid) {
  if (t->iRidNext >= t->iRidEnd) {
    RdArgs a;
    redisReply *r = 0;
    int rc, n = t->nRidBlock ? t->nRidBlock : RD_RID_BLOCK;
    argEval(&a, t, "rids");
    argZ(&a, t->base.pEntity->zKind);
    argInt(&a, n);
    rc = rdEval(t, &a, &r);
    if (rc != SQLITE_OK) return rc;
    t->iRidNext = replyInt(r);
    t->iRidEnd = t->iRidNext + n;
    t->nRidBlock = n < RD_RID_BLOCK_MAX ? n * 2 : n;
    freeReplyObject(r);
  }
  *piRid = t->iRidNext++;
  return SQLITE_OK;
}

static int logAppend(RdTable *t, char cType, char cMode, sqlite3_int64 iRid,
                     sqlite3_int64 iStamp, const statevtab_value *aRow) {
  RdStore *p = t->p;
  RdOp *o;
  if (p->bCluster && p->nOp > 0 &&
      rdSlot(t->zBase, strlen(t->zBase)) !=
          rdSlot(p->aOp[0].t->zBase, strlen(p->aOp[0].t->zBase))) {
    /* The commit is one script call in MULTI/EXEC, on one node. */
    rdError(p,
            "redis: a transaction on a Redis Cluster writes the rows of one "
            "hash slot only: this one wrote prefix '%s', and prefix '%s' "
            "is in another slot (use one transaction per prefix)",
            p->aOp[0].t->zPrefix, t->zPrefix);
    return SQLITE_ERROR;
  }
  if (p->nOp >= p->nOpAlloc) {
    int nNew = p->nOpAlloc ? p->nOpAlloc * 2 : 16;
    RdOp *aNew = sqlite3_realloc64(p->aOp, sizeof(RdOp) * (size_t)nNew);
    if (!aNew) return SQLITE_NOMEM;
    p->aOp = aNew;
    p->nOpAlloc = nNew;
  }
  o = &p->aOp[p->nOp];
  memset(o, 0, sizeof(*o));
  if (aRow) {
    o->aRow = rowCopy(t->base.pEntity, aRow);
    if (!o->aRow) return SQLITE_NOMEM;
  }
  o->iPrev = -1;
  {
    /* Only now that nothing can fail: the op it supersedes. */
    RdOp *pPrev = logLatest(t, iRid);
    if (pPrev) {
      pPrev->bSuperseded = 1;
      o->iPrev = (int)(pPrev - p->aOp);
    }
  }
  o->t = t;
  o->cType = cType;
  o->cMode = cMode;
  o->iRid = iRid;
  o->iStamp = iStamp;
  o->iNow = sv_now_ms();
  p->nOp++;
  return SQLITE_OK;
}

/* Does the key (bDd: the tasks' (queue, idempotency_key)) of a equal b's? */
static int sameKey(const statevtab_entity *e, const statevtab_value *a,
                   const statevtab_value *b, int bDd) {
  int k, n = bDd ? 2 : e->nKey;
  for (k = 0; k < n; k++) {
    int i = bDd ? (k ? e->iDedupe : e->iDedupeScope) : e->aiKey[k];
    if (a[i].eType != b[i].eType || a[i].n != b[i].n) return 0;
    if (a[i].eType == SQLITE_INTEGER && a[i].i != b[i].i) return 0;
    if (a[i].n && memcmp(a[i].z, b[i].z, (size_t)a[i].n)) return 0;
  }
  return 1;
}

/* The encoded key of aRow (see sql/redis.lua), in an owned argument. */
static void argKey(RdArgs *a, const statevtab_entity *e,
                   const statevtab_value *aRow, int bDd) {
  const statevtab_value *v0, *v1;
  char *z;
  int nHead;
  if (!bDd && e->nKey == 1) {
    argVal(a, &aRow[e->aiKey[0]]);
    return;
  }
  v0 = &aRow[bDd ? e->iDedupeScope : e->aiKey[0]];
  v1 = &aRow[bDd ? e->iDedupe : e->aiKey[1]];
  z = sqlite3_malloc64((sqlite3_uint64)v0->n + (sqlite3_uint64)v1->n + 24);
  if (!z) {
    argOwn(a, 0);
    return;
  }
  sqlite3_snprintf(24, z, "%d:", v0->n);
  nHead = (int)strlen(z);
  if (v0->n) memcpy(z + nHead, v0->z, (size_t)v0->n);
  if (v1->n) memcpy(z + nHead + v0->n, v1->z, (size_t)v1->n);
  z[nHead + v0->n + v1->n] = 0;
  argOwn(a, z);
  if (a->rc == SQLITE_OK) a->an[a->n - 1] = (size_t)(nHead + v0->n + v1->n);
}

/*
** Does task aRow clash under t's dedup= with the holder of its key that
** the script's owner call answered (r: rid, _v, state, created_at)?
*/
static int ownerClash(RdTable *t, const statevtab_value *aRow,
                      const redisReply *r) {
  statevtab_value aOld[SV_TASK_CREATED_AT + 1];
  if (!t->dd.bWindow) return 1;
  memset(aOld, 0, sizeof(aOld));
  if (r->elements >= 4 && r->element[2]->type == REDIS_REPLY_STRING) {
    aOld[SV_TASK_STATE].eType = SQLITE_TEXT;
    aOld[SV_TASK_STATE].z = r->element[2]->str;
    aOld[SV_TASK_STATE].n = (int)r->element[2]->len;
  }
  if (r->elements >= 4 && r->element[3]->type == REDIS_REPLY_STRING) {
    aOld[SV_TASK_CREATED_AT].eType = SQLITE_INTEGER;
    aOld[SV_TASK_CREATED_AT].i = replyInt(r->element[3]);
  }
  return sv_dedup_clash(&t->dd, aRow, aOld);
}

/*
** The live row, other than iRid, that holds the key (bDd: the dedupe key)
** of aRow, as the transaction sees it: the log first, then the server.
** *piHolder is 0 when there is none.
*/
static int holder(RdTable *t, const statevtab_value *aRow, int bDd,
                  sqlite3_int64 iRid, sqlite3_int64 *piHolder,
                  sqlite3_int64 *piStamp) {
  RdStore *p = t->p;
  const statevtab_entity *e = t->base.pEntity;
  int iExp = sv_entity_col(e, STATEVTAB_COL_EXPIRES);
  sqlite3_int64 now = sv_now_ms();
  RdArgs a;
  redisReply *r = 0;
  int i, rc;
  *piHolder = 0;
  *piStamp = -1;
  for (i = p->nOp - 1; i >= 0; i--) {
    RdOp *o = &p->aOp[i];
    if (o->bSuperseded || !sameRows(o->t, t)) continue;
    if (o->cType != 'D' && o->iRid != iRid && sameKey(e, o->aRow, aRow, bDd) &&
        /* an expired row is invisible, and not in the way */
        (iExp < 0 || o->aRow[iExp].eType != SQLITE_INTEGER ||
         o->aRow[iExp].i > now)) {
      /* dedup=: a task of the key out of the window is not in the way */
      if (bDd && !sv_dedup_clash(&t->dd, aRow, o->aRow)) continue;
      *piHolder = o->iRid;
      *piStamp = o->iStamp;
      return SQLITE_OK;
    }
  }
  argEval(&a, t, "owner");
  argZ(&a, e->zKind);
  argKey(&a, e, aRow, bDd);
  argZ(&a, bDd ? "dd" : "key");
  argInt(&a, now);
  rc = rdEval(t, &a, &r);
  if (rc != SQLITE_OK) return rc;
  if (r->type == REDIS_REPLY_ARRAY && r->elements >= 2) {
    sqlite3_int64 h = replyInt(r->element[0]);
    /* A row the log changed holds another key now, or is gone. */
    if (h != iRid && !logLatest(t, h) && (!bDd || ownerClash(t, aRow, r))) {
      *piHolder = h;
      *piStamp = replyInt(r->element[1]);
    }
  }
  freeReplyObject(r);
  return SQLITE_OK;
}

static char modeChar(int eConflict) {
  return eConflict == STATEVTAB_CONFLICT_IGNORE    ? 'i'
         : eConflict == STATEVTAB_CONFLICT_REPLACE ? 'r'
                                                   : 'a';
}

/*
** Check the uniqueness of aRow now (so that the statement, not the commit,
** fails): *pbSkip when OR IGNORE (or an idempotent insert) skips it; with
** REPLACE the holders are deleted first.
*/
static int checkUnique(RdTable *t, const statevtab_value *aRow,
                       sqlite3_int64 iRid, int eConflict, int bInsert,
                       int *pbSkip) {
  const statevtab_entity *e = t->base.pEntity;
  sqlite3_int64 hKey = 0, hDd = 0, sKey = -1, sDd = -1;
  int rc;
  *pbSkip = 0;
  rc = holder(t, aRow, 0, iRid, &hKey, &sKey);
  if (rc == SQLITE_OK && e->iDedupe >= 0 &&
      aRow[e->iDedupe].eType != SQLITE_NULL) {
    rc = holder(t, aRow, 1, iRid, &hDd, &sDd);
  }
  if (rc != SQLITE_OK || (!hKey && !hDd)) return rc;
  if (eConflict == STATEVTAB_CONFLICT_IGNORE) {
    *pbSkip = 1;
    return SQLITE_OK;
  }
  if (eConflict == STATEVTAB_CONFLICT_REPLACE) {
    /* With the stamp read: a holder another connection changes before
    ** the commit fails the commit rather than being deleted. */
    if (hKey) rc = logAppend(t, 'D', 'a', hKey, sKey, 0);
    if (rc == SQLITE_OK && hDd && hDd != hKey) {
      rc = logAppend(t, 'D', 'a', hDd, sDd, 0);
    }
    return rc;
  }
  if (!hKey && bInsert) {
    *pbSkip = 1; /* idempotent insert: the existing task wins */
    return SQLITE_OK;
  }
  if (!hKey) {
    rdError(t->p, "UNIQUE constraint failed: %s, %s",
            e->aCol[e->iDedupeScope].zName, e->aCol[e->iDedupe].zName);
  }
  return SQLITE_CONSTRAINT;
}

/* Is the key of aRow an id statevtab generated, with no idempotency key
** to check? */
static int freshKey(const statevtab_entity *e, const statevtab_value *aRow) {
  const statevtab_value *v = &aRow[e->aiKey[0]];
  return e->nKey == 1 && (e->aCol[e->aiKey[0]].flags & STATEVTAB_COL_AUTOID) &&
         v->eType == SQLITE_TEXT && v->bGenerated && v->n == 36 &&
         (e->iDedupe < 0 || aRow[e->iDedupe].eType == SQLITE_NULL);
}

static int rdInsert(statevtab_table *pTab, const statevtab_value *aRow,
                    int eConflict, sqlite3_int64 *pRowid, int *pbDone) {
  RdTable *t = (RdTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  int iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  statevtab_value aCopy[SV_MAX_COLUMNS];
  sqlite3_int64 iRid;
  int rc, bSkip = 0;
  *pbDone = 0;
  memcpy(aCopy, aRow, sizeof(statevtab_value) * (size_t)e->nCol);
  if (iVer >= 0 && aCopy[iVer].eType == SQLITE_NULL) {
    aCopy[iVer].eType = SQLITE_INTEGER;
    aCopy[iVer].i = 1;
  }
  /* In autocommit mode without OR IGNORE/REPLACE the commit, right after
  ** this statement, checks everything anyway: one round trip less. */
  /* Nor can an id statevtab just generated be taken (unless another row
  ** takes it before the commit, which the commit checks). */
  rc = SQLITE_OK;
  if (eConflict != STATEVTAB_CONFLICT_ABORT ||
      (!sqlite3_get_autocommit(t->p->db) && !freshKey(e, aCopy))) {
    rc = checkUnique(t, aCopy, 0, eConflict, 1, &bSkip);
  }
  if (rc != SQLITE_OK || bSkip) return rc;
  rc = newRid(t, &iRid);
  if (rc == SQLITE_OK)
    rc = logAppend(t, 'I', modeChar(eConflict), iRid, -1, aCopy);
  if (rc == SQLITE_OK) {
    *pRowid = iRid;
    *pbDone = 1;
  }
  return rc;
}

/* The write stamp and version the transaction knows row iRid by. */
static void rowBase(RdTable *t, sqlite3_int64 iRid, const RdOp *pPrev,
                    sqlite3_int64 *piStamp, sqlite3_int64 *piVer) {
  const statevtab_entity *e = t->base.pEntity;
  int iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  RdSeen *s = seenGet(t, iRid);
  *piStamp = pPrev ? pPrev->iStamp : s ? s->iStamp : -1;
  *piVer = 0;
  if (iVer >= 0 && pPrev && pPrev->aRow) {
    *piVer = pPrev->aRow[iVer].i;
  } else if (s) {
    *piVer = s->iVer;
  }
}

static int rdUpdate(statevtab_table *pTab, sqlite3_int64 iRid,
                    const statevtab_value *aRow, int eConflict, int *pbDone) {
  RdTable *t = (RdTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  int iVer = sv_entity_col(e, STATEVTAB_COL_VERSION);
  statevtab_value aCopy[SV_MAX_COLUMNS];
  RdOp *pPrev = logLatest(t, iRid);
  sqlite3_int64 iStamp, iBaseVer;
  int rc = SQLITE_OK, bSkip = 0;
  *pbDone = 0;
  if (pPrev && pPrev->cType == 'D') return SQLITE_OK; /* gone */
  rowBase(t, iRid, pPrev, &iStamp, &iBaseVer);
  memcpy(aCopy, aRow, sizeof(statevtab_value) * (size_t)e->nCol);
  if (iVer >= 0) {
    aCopy[iVer].eType = SQLITE_INTEGER;
    aCopy[iVer].i = iBaseVer + 1;
  }
  if (eConflict != STATEVTAB_CONFLICT_ABORT ||
      !sqlite3_get_autocommit(t->p->db)) {
    rc = checkUnique(t, aCopy, iRid, eConflict, 0, &bSkip);
  }
  if (rc != SQLITE_OK || bSkip) return rc;
  rc = logAppend(t, 'U', modeChar(eConflict), iRid, iStamp, aCopy);
  if (rc == SQLITE_OK) *pbDone = 1;
  return rc;
}

static int rdDelete(statevtab_table *pTab, sqlite3_int64 iRid) {
  RdTable *t = (RdTable *)pTab;
  RdOp *pPrev = logLatest(t, iRid);
  sqlite3_int64 iStamp, iVer;
  if (pPrev && pPrev->cType == 'D') return SQLITE_OK;
  rowBase(t, iRid, pPrev, &iStamp, &iVer);
  return logAppend(t, 'D', 'a', iRid, iStamp, 0);
}

/* Append op o of the log to the write call. */
static void argOp(RdArgs *a, const RdOp *o) {
  const statevtab_entity *e = o->t->base.pEntity;
  int i, n;
  argZ(a, o->t->zBase);
  argZ(a, e->zKind);
  argN(a, &o->cType, 1);
  if (o->t->dd.bWindow && o->aRow &&
      o->aRow[SV_TASK_IDEMPOTENCY_KEY].eType != SQLITE_NULL) {
    /* dedup= window of the task: "<mode>;<active 0|1>;<period ms>" */
    argOwn(a, sqlite3_mprintf("%c;%d;%lld", o->cMode, o->t->dd.bActive,
                              o->t->dd.iPeriodMs));
  } else {
    argN(a, &o->cMode, 1);
  }
  argInt(a, o->iRid);
  if (o->iStamp < 0) {
    argN(a, "", 0);
  } else {
    argInt(a, o->iStamp);
  }
  argInt(a, o->iNow);
  if (!o->aRow) {
    argN(a, "0", 1);
    return;
  }
  /* The non-NULL columns as (name, value) pairs: what HSET takes. */
  for (i = 0, n = 0; i < e->nCol; i++) n += o->aRow[i].eType != SQLITE_NULL;
  argInt(a, n);
  for (i = 0; i < e->nCol; i++) {
    if (o->aRow[i].eType == SQLITE_NULL) continue;
    argZ(a, e->aCol[i].zName);
    if (e->aCol[i].eType == STATEVTAB_ANY) {
      /* Tagged with its type (sv_any_encode): the hash keeps bytes. */
      int nAny = 0;
      argOwn(a, sv_any_encode(&o->aRow[i], 0, &nAny));
      if (a->rc == SQLITE_OK) a->an[a->n - 1] = (size_t)nAny;
    } else {
      argVal(a, &o->aRow[i]);
    }
  }
}

/* The outcome of a write call: SQLITE_OK, or the first failure. */
static int writeResult(RdStore *p, const RdOp *aOp, int nOp,
                       const redisReply *r, int *aDone) {
  int i;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1 ||
      r->element[0]->type != REDIS_REPLY_STRING) {
    rdError(p, "redis: unexpected reply to a write");
    return SQLITE_ERROR;
  }
  if (strcmp(r->element[0]->str, "ok") == 0) {
    for (i = 0; aDone && i < nOp && (size_t)i + 1 < r->elements; i++) {
      aDone[i] = (int)replyInt(r->element[i + 1]);
    }
    return SQLITE_OK;
  }
  if (r->elements >= 4 && strcmp(r->element[1]->str, "rid") == 0) {
    int k = (int)replyInt(r->element[2]) - 1;
    /* Another connection got the same handles from a counter that was
    ** lost: take a fresh block next time. */
    if (k >= 0 && k < nOp) aOp[k].t->iRidNext = aOp[k].t->iRidEnd;
    rdError(p, "redis: row handles were handed out twice (the server lost "
               "its data?); nothing was written (retry the statement)");
    return SQLITE_BUSY_SNAPSHOT;
  }
  if (r->elements >= 4 && strcmp(r->element[1]->str, "deps") == 0 &&
      r->element[3]->type == REDIS_REPLY_STRING) {
    /* depends_on names a task that does not exist (redis.lua's
    ** depsInsert says which). */
    rdError(p, "%s", r->element[3]->str);
    return SQLITE_ERROR;
  }
  if (r->elements >= 4 && strcmp(r->element[1]->str, "constraint") == 0) {
    int k = (int)replyInt(r->element[2]) - 1;
    const statevtab_entity *e =
        (k >= 0 && k < nOp) ? aOp[k].t->base.pEntity : 0;
    if (!e) {
      rdError(p, "UNIQUE constraint failed");
    } else if (strcmp(r->element[3]->str, "dd") == 0) {
      rdError(p, "UNIQUE constraint failed: %s, %s",
              e->aCol[e->iDedupeScope].zName, e->aCol[e->iDedupe].zName);
    } else if (e->nKey == 2) {
      rdError(p, "UNIQUE constraint failed: %s, %s", e->aCol[e->aiKey[0]].zName,
              e->aCol[e->aiKey[1]].zName);
    } else {
      rdError(p, "UNIQUE constraint failed: %s", e->aCol[e->aiKey[0]].zName);
    }
    return SQLITE_CONSTRAINT;
  }
  rdError(p, "redis: a row this transaction read was changed by another "
             "connection before the commit; nothing was written (retry the "
             "transaction)");
  /* Not plain SQLITE_BUSY: SQLite keeps a transaction open after a COMMIT
  ** that failed with SQLITE_BUSY (for a retry), and the log is gone. */
  return SQLITE_BUSY_SNAPSHOT;
}

/*
** A commit (MULTI/EXEC of the log aOp[0..nOp)) whose reply did not come
** (connection lost, command timeout): was it applied?  Settle it before
** answering, so that the caller does not retry what the server applied (a
** second row) nor take for applied what it did not.  On a new connection:
** CLIENT KILL the old one (iOld), so that a transaction still on its way
** can no longer run, then look for the first row the log inserts under
** a generated id (a fresh row handle, that no other transaction uses).
*SQLITE_OK: it was
** applied (the statement succeeds).  SQLITE_IOERR with a message saying it
** was not applied, or that it cannot be known -- no row inserted, the
** server unreachable, the old connection's id unknown -- and how to
** check; the cause stays first in the message.
*/
static int rdSettle(RdStore *p, const RdOp *aOp, int nOp, long long iOld) {
  char *zCause = p->base.zErrMsg;
  const char *zWhy = 0;
  const RdOp *m = 0;
  int i, rc = SQLITE_ERROR, bFound = 0;
  p->base.zErrMsg = 0;
  if (!zCause) return SQLITE_NOMEM;
  /* A new row under a generated id, not deduplicated: the script inserts
  ** it whenever the transaction runs. */
  for (i = 0; i < nOp && !m; i++) {
    const statevtab_entity *e = aOp[i].t->base.pEntity;
    const statevtab_value *r = aOp[i].aRow;
    if (aOp[i].cType == 'I' && aOp[i].cMode == 'a' && !aOp[i].bSuperseded &&
        r && e->nKey == 1 && r[e->aiKey[0]].bGenerated &&
        (e->iDedupe < 0 || r[e->iDedupe].eType == SQLITE_NULL)) {
      m = &aOp[i];
    }
  }
  if (!m) {
    zWhy = "it inserted no row to look for";
  } else if (!iOld) {
    zWhy = "the server did not tell the old connection's id";
  } else if ((rc = rdEnsure(p)) == SQLITE_OK) {
    char zId[24];
    char *zKey = sqlite3_mprintf("%s%s:r:%lld", m->t->zBase,
                                 m->t->base.pEntity->zKind, m->iRid);
    const char *az[4] = {"CLIENT", "KILL", "ID", zId};
    size_t an[4] = {6, 4, 2, 0};
    int k;
    sqlite3_snprintf(sizeof(zId), zId, "%lld", iOld);
    an[3] = strlen(zId);
    if (!zKey) rc = SQLITE_NOMEM;
    /* The old connection first, then the row: k 0, then 1. */
    for (k = 0; rc == SQLITE_OK && k < 2; k++) {
      redisReply *r;
      if (k == 1) {
        az[0] = "EXISTS";
        an[0] = 6;
        az[1] = zKey;
        an[1] = strlen(zKey);
      }
      r = rdCall(p, k ? 2 : 4, az, an);
      if (!r) {
        rc = rdIoError(p);
      } else if (r->type == REDIS_REPLY_ERROR) {
        rc = rdReplyError(p, r);
      } else {
        bFound = k == 1 && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
      }
      freeReplyObject(r);
    }
    sqlite3_free(zKey);
  }
  return sv_settled(&p->base, zCause, rc, bFound, zWhy);
}

/*
** Send nOp writes as one script call inside MULTI/EXEC (pipelined: one
** round trip).  aDone (may be NULL) receives 1/0 per op.  Without aDone (a
** commit), a reply that does not come is settled (rdSettle).
*/
static int rdWrite(RdStore *p, RdOp *aOp, int nOp, int *aDone) {
  static const char *const azMulti[] = {"MULTI"};
  static const char *const azExec[] = {"EXEC"};
  static const size_t anMulti[] = {5};
  static const size_t anExec[] = {4};
  sqlite3_int64 iEnd = sv_mono_ms() + p->iCmdMs;
  RdArgs a;
  int i, rc, bReloaded = 0, nHop = 0, bAsk = 0;
  memset(&a, 0, sizeof(a));
  argZ(&a, p->bNoFn ? "EVALSHA" : "FCALL");
  argZ(&a, p->bNoFn ? p->zSha : p->zFn);
  argZ(&a, "1");
  argZ(&a, aOp[0].t->zBase);
  argZ(&a, "write");
  argInt(&a, nOp);
  for (i = 0; i < nOp; i++) argOp(&a, &aOp[i]);
  rc = a.rc;
  if (rc == SQLITE_OK) rc = rdRoute(p, a.az[3], a.an[3]);
  while (rc == SQLITE_OK) {
    redisReply *aR[3] = {0, 0, 0};
    long long iId = p->iClientId;
    int k;
    /* ASKING holds through MULTI until EXEC. */
    if (bAsk && (rc = rdAsking(p)) != SQLITE_OK) break;
    redisAppendCommandArgv(p->c, 1, (const char **)azMulti, anMulti);
    rdAppend(p->c, a.n, a.az, a.an);
    redisAppendCommandArgv(p->c, 1, (const char **)azExec, anExec);
    for (k = 0; k < 3; k++) {
      void *pR = 0;
      if (redisGetReply(p->c, &pR) != REDIS_OK) break;
      aR[k] = pR;
    }
    if (k < 3) {
      for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
      rc = rdIoError(p);
      if (!aDone && rc == SQLITE_IOERR) rc = rdSettle(p, aOp, nOp, iId);
      break;
    }
    if (aR[2]->type == REDIS_REPLY_ARRAY && aR[2]->elements == 1) {
      redisReply *r = aR[2]->element[0];
      if (r->type == REDIS_REPLY_ERROR) {
        if (bReloaded < 2 && strncmp(r->str, "NOSCRIPT", 8) == 0) {
          for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
          bReloaded++;
          rc = rdLoadScript(p);
          argRetarget(p, &a);
          continue;
        }
        if (bReloaded < 2 && !p->bNoFn && fnMissing(r)) {
          for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
          bReloaded++;
          rc = rdLoadFunction(p);
          argRetarget(p, &a);
          continue;
        }
        rc = rdReplyError(p, r);
      } else {
        rc = writeResult(p, aOp, nOp, r, aDone);
        if (rc == SQLITE_OK) rc = rdAwaitReplicas(p);
      }
    } else {
      redisReply *r = aR[2]->type == REDIS_REPLY_ERROR   ? aR[2]
                      : aR[1]->type == REDIS_REPLY_ERROR ? aR[1]
                                                         : aR[0];
      redisReply *pQ = aR[0]->type == REDIS_REPLY_ERROR ? aR[0] : aR[1];
      if (pQ->type == REDIS_REPLY_ERROR &&
          (strncmp(pQ->str, "LOADING", 7) == 0 ||
           strncmp(pQ->str, "BUSY", 4) == 0) &&
          sv_mono_ms() < iEnd) {
        /* The server is loading its data after a restart: nothing ran. */
        for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
        sqlite3_sleep(20);
        continue;
      }
      if (pQ->type == REDIS_REPLY_ERROR && nHop < 5 && isRedirect(p, pQ)) {
        /* Queued on the wrong node: EXEC ran nothing. */
        nHop++;
        rc = rdRedirect(p, pQ, a.az[3], a.an[3], &bAsk);
        for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
        continue;
      }
      if (pQ->type == REDIS_REPLY_ERROR) {
        rc = rdReplyError(p, pQ); /* the cause, not EXECABORT */
      } else if (r->type == REDIS_REPLY_ERROR) {
        rc = rdReplyError(p, r);
      } else {
        rdError(p, "redis: the transaction was not executed");
        rc = SQLITE_ERROR;
      }
    }
    for (k = 0; k < 3; k++) freeReplyObject(aR[k]);
    break;
  }
  argsFree(&a);
  return rc;
}

/* --------------------------------------------------------- transactions */

static int rdBegin(statevtab_table *pTab) {
  ((RdTable *)pTab)->p->bTxn = 1;
  return SQLITE_OK;
}

/* The log goes to the server here, so that a failure fails the SQLite
** commit (which then rolls back). */
static int rdSync(statevtab_table *pTab) {
  RdStore *p = ((RdTable *)pTab)->p;
  int rc = SQLITE_OK;
  if (p->nOp > 0) rc = rdWrite(p, p->aOp, p->nOp, 0);
  logTruncate(p, 0);
  p->nSave = 0;
  /* SQLite keeps the transaction open after a plain SQLITE_BUSY from the
  ** commit, for a retry that would find the log gone: make it roll back. */
  if (rc == SQLITE_BUSY) rc = SQLITE_BUSY_SNAPSHOT;
  return rc;
}

static int rdCommit(statevtab_table *pTab) {
  RdStore *p = ((RdTable *)pTab)->p;
  int rc = rdSync(pTab);
  undoDrop(p, 0);
  p->bTxn = 0;
  p->iGen++;
  return rc;
}

static int rdRollback(statevtab_table *pTab) {
  RdStore *p = ((RdTable *)pTab)->p;
  int rc;
  logTruncate(p, 0);
  p->nSave = 0;
  p->bTxn = 0;
  p->iGen++;
  rc = undoRun(p, 0);
  return rc;
}

static int rdSavepoint(statevtab_table *pTab, int iSave) {
  RdStore *p = ((RdTable *)pTab)->p;
  if (iSave < 0) return SQLITE_OK;
  if (iSave >= p->nSaveAlloc) {
    int nNew = iSave + 8;
    int *aNew = sqlite3_realloc64(p->aSave, sizeof(int) * (size_t)nNew);
    if (!aNew) return SQLITE_NOMEM;
    p->aSave = aNew;
    aNew = sqlite3_realloc64(p->aSaveUndo, sizeof(int) * (size_t)nNew);
    if (!aNew) return SQLITE_NOMEM;
    p->aSaveUndo = aNew;
    p->nSaveAlloc = nNew;
  }
  while (p->nSave <= iSave) {
    p->aSaveUndo[p->nSave] = p->nUndo;
    p->aSave[p->nSave++] = p->nOp;
  }
  return SQLITE_OK;
}

static int rdRelease(statevtab_table *pTab, int iSave) {
  RdStore *p = ((RdTable *)pTab)->p;
  if (iSave < 0) iSave = 0;
  if (iSave < p->nSave) p->nSave = iSave;
  return SQLITE_OK;
}

static int rdRollbackTo(statevtab_table *pTab, int iSave) {
  RdStore *p = ((RdTable *)pTab)->p;
  if (iSave < 0) {
    logTruncate(p, 0);
    p->nSave = 0;
    return undoRun(p, 0);
  }
  if (iSave >= p->nSave) return SQLITE_OK;
  logTruncate(p, p->aSave[iSave]);
  p->nSave = iSave + 1;
  return undoRun(p, p->aSaveUndo[iSave]);
}

/* --------------------------------------------------- atomic primitives */

/*
** Start an atomic primitive of table t, right before its argEval.  Inside
** a transaction its script call records how to undo it (bRecord, see
** rdEval).  The call runs at once
** while the transaction's row writes wait in the log for the COMMIT: a
** primitive on a table whose rows the open explicit transaction has
** written already would not see them (and its change would fail their
** commit), so it is refused.
*/
static int atomicBegin(RdTable *t) {
  RdStore *p = t->p;
  int i;
  p->bRecord = 0;
  if (!p->bTxn) return SQLITE_OK;
  if (!sqlite3_get_autocommit(p->db)) {
    for (i = 0; i < p->nOp; i++) {
      RdTable *o = p->aOp[i].t;
      if (o->base.pEntity == t->base.pEntity && !strcmp(o->zBase, t->zBase)) {
        rdError(p,
                "redis: this transaction has written rows of %s in this "
                "prefix, which the Redis store sends at COMMIT, and this "
                "function would run at once, without them: call it before "
                "those writes, or after the COMMIT",
                t->base.pEntity->zKind);
        return SQLITE_ERROR;
      }
    }
  }
  p->bRecord = 1;
  return SQLITE_OK;
}

/* A dead letters table other than the namespace's own cannot be used. */
static int checkDead(RdTable *t, statevtab_table *pDead) {
  RdTable *d = (RdTable *)pDead;
  if (!pDead) return SQLITE_OK;
  if (pDead->pStore != t->base.pStore || strcmp(d->zBase, t->zBase)) {
    rdError(t->p,
            "dead letters table must have the tasks table's prefix "
            "'%s'",
            t->zPrefix);
    return SQLITE_ERROR;
  }
  return SQLITE_OK;
}

/* Decode a flat row (rid, _v, columns) at ap into aRow. */
static void flatRow(const statevtab_entity *e, redisReply **ap,
                    statevtab_value *aRow) {
  int k;
  for (k = 0; k < e->nCol; k++) rdDecode(ap[2 + k], &e->aCol[k], &aRow[k]);
}

static int rdClaim(statevtab_table *pTab, statevtab_table *pDead,
                   const statevtab_claim *c, statevtab_row_fn xRow,
                   void *pCtx) {
  RdTable *t = (RdTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  statevtab_value aRow[SV_MAX_COLUMNS];
  redisReply *r = 0;
  RdArgs a;
  char *zTags = 0;
  size_t i, nStale;
  char zDeadId[40];
  char zMask[SV_MAX_COLUMNS]; /* borrowed by a: lives to the call's end */
  int k, rc = checkDead(t, pDead);
  if (rc != SQLITE_OK) return rc;
  for (k = 0; k < c->nComplete; k++) c->aCompleteOk[k] = 1;
  sv_gen_id(&t->p->ids, zDeadId); /* dead letters: the namespace's own */
  rc = atomicBegin(t);
  if (rc != SQLITE_OK) return rc;
  argEval(&a, t, "claim");
  argVal(&a, c->pWorker);
  argInt(&a, c->iLeaseMs);
  argInt(&a, c->nMax);
  argZ(&a, zDeadId);
  argInt(&a, c->nQueue);
  for (k = 0; k < c->nQueue; k++) argVal(&a, &c->aQueue[k]);
  argInt(&a, c->nName);
  for (k = 0; k < c->nName; k++) argVal(&a, &c->aName[k]);
  if (c->nTag > 0) {
    statevtab_value v;
    zTags = sv_json_array(c->nTag, c->aTag);
    if (!zTags) {
      argsFree(&a);
      return SQLITE_NOMEM;
    }
    memset(&v, 0, sizeof(v));
    v.eType = SQLITE_TEXT;
    v.z = zTags;
    v.n = (int)strlen(zTags);
    argOpt(&a, &v);
  } else {
    argN(&a, "", 0);
  }
  argInt(&a, c->nLimit);
  for (k = 0; k < c->nLimit; k++) {
    argVal(&a, &c->aLimit[k]);
    argZ(&a, c->abLimitQueue[k] ? "1" : "0");
    argInt(&a, c->aiLimit[k]);
    argInt(&a, c->aiLimitPeriod ? c->aiLimitPeriod[k] : 0);
  }
  argInt(&a, c->nPart);
  for (k = 0; k < c->nPart; k++) {
    argVal(&a, &c->aPartQueue[k]);
    argInt(&a, c->aiPartMax[k]);
    argInt(&a, c->aiPartPeriod[k]);
  }
  argInt(&a, c->nComplete);
  for (k = 0; k < c->nComplete; k++) {
    argVal(&a, &c->aCompleteId[k]);
    argInt(&a, c->aiCompleteToken[k]);
    argOpt(&a, &c->aCompleteResult[k]);
  }
  /* The columns to return: '1' per column colUsed asks for. */
  for (k = 0; k < e->nCol; k++) {
    zMask[k] =
        c->colUsed & ((sqlite3_uint64)1 << (k < 63 ? k : 63)) ? '1' : '0';
  }
  argN(&a, zMask, (size_t)e->nCol);
  rc = rdEval(t, &a, &r);
  sqlite3_free(zTags);
  if (rc != SQLITE_OK) return rc;
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 1) {
    freeReplyObject(r);
    rdError(t->p, "redis: unexpected reply to a claim");
    return SQLITE_ERROR;
  }
  nStale = (size_t)replyInt(r->element[0]);
  for (i = 0; i < nStale && 2 + 2 * i < r->elements; i++) {
    const redisReply *pId = r->element[1 + 2 * i];
    sqlite3_int64 iTok = replyInt(r->element[2 + 2 * i]);
    for (k = 0; k < c->nComplete; k++) {
      if (c->aCompleteOk[k] && c->aiCompleteToken[k] == iTok &&
          (size_t)c->aCompleteId[k].n == pId->len &&
          (pId->len == 0 ||
           memcmp(c->aCompleteId[k].z, pId->str, pId->len) == 0)) {
        c->aCompleteOk[k] = 0;
        break;
      }
    }
  }
  for (i = 1 + 2 * nStale;
       rc == SQLITE_OK && i + 2 + (size_t)e->nCol <= r->elements;
       i += 2 + (size_t)e->nCol) {
    flatRow(e, &r->element[i], aRow);
    if (xRow(pCtx, aRow)) rc = SQLITE_NOMEM;
  }
  freeReplyObject(r);
  return rc;
}

/*
** Run script operation zOp of t with the arguments that zSig describes, one
** character each: 'v' a statevtab_value (as stored), 'o' an optional value
** ("" for NULL), 'i' an sqlite3_int64, 'z' a C string.  The reply, one
** integer or string (nil allowed), is left in *ppR (freed by the caller).
*/
static int callScript(RdTable *t, const char *zOp, redisReply **ppR,
                      const char *zSig, ...) {
  RdArgs a;
  va_list ap;
  int rc = atomicBegin(t);
  *ppR = 0;
  if (rc != SQLITE_OK) return rc;
  argEval(&a, t, zOp);
  va_start(ap, zSig);
  for (; *zSig; zSig++) {
    switch (*zSig) {
    case 'v':
      argVal(&a, va_arg(ap, const statevtab_value *));
      break;
    case 'o':
      argOpt(&a, va_arg(ap, const statevtab_value *));
      break;
    case 'i':
      argInt(&a, va_arg(ap, sqlite3_int64));
      break;
    default:
      argZ(&a, va_arg(ap, const char *));
      break;
    }
  }
  va_end(ap);
  rc = rdEval(t, &a, ppR);
  if (rc == SQLITE_OK && (*ppR)->type == REDIS_REPLY_ARRAY) {
    freeReplyObject(*ppR);
    *ppR = 0;
    rdError(t->p, "redis: unexpected reply to %s", zOp);
    return SQLITE_ERROR;
  }
  return rc;
}

/* The integer of reply r (freed here), 0 for nil or an error. */
static sqlite3_int64 takeInt(int rc, redisReply *r) {
  sqlite3_int64 i =
      (rc == SQLITE_OK && r->type != REDIS_REPLY_NIL) ? replyInt(r) : 0;
  freeReplyObject(r);
  return i;
}

static int rdRenew(statevtab_table *pTab, const statevtab_value *pId,
                   sqlite3_int64 iToken, sqlite3_int64 iLeaseMs,
                   sqlite3_int64 *piExpires) {
  redisReply *r;
  int rc =
      callScript((RdTable *)pTab, "renew", &r, "vii", pId, iToken, iLeaseMs);
  *piExpires = takeInt(rc, r);
  return rc;
}

static int rdComplete(statevtab_table *pTab, const statevtab_value *pId,
                      sqlite3_int64 iToken, const statevtab_value *pResult,
                      int *pbOk) {
  redisReply *r;
  int rc =
      callScript((RdTable *)pTab, "complete", &r, "vio", pId, iToken, pResult);
  *pbOk = takeInt(rc, r) == 1;
  return rc;
}

static int rdFail(statevtab_table *pTab, statevtab_table *pDead,
                  const statevtab_value *pId, sqlite3_int64 iToken,
                  const statevtab_value *pError, sqlite3_int64 iRetryMs,
                  int *peOutcome) {
  RdTable *t = (RdTable *)pTab;
  redisReply *r = 0;
  unsigned int u;
  char zJitter[32], zRetry[32], zDeadId[40];
  int rc = checkDead(t, pDead);
  *peOutcome = STATEVTAB_FAIL_STALE;
  if (rc != SQLITE_OK) return rc;
  /* The default back-off's random part comes from here: a script's own
  ** random numbers are the same on every call. */
  sqlite3_randomness(sizeof(u), &u);
  sqlite3_snprintf(sizeof(zJitter), zJitter, "%.9f", (double)u / 4294967296.0);
  zRetry[0] = 0;
  if (iRetryMs >= 0) {
    sqlite3_snprintf(sizeof(zRetry), zRetry, "%lld", iRetryMs);
  }
  sv_gen_id(&t->p->ids, zDeadId);
  rc = callScript(t, "fail", &r, "viozzz", pId, iToken, pError, zRetry, zJitter,
                  zDeadId);
  if (rc == SQLITE_OK && r->type == REDIS_REPLY_STRING) {
    *peOutcome = strcmp(r->str, "dead") == 0 ? STATEVTAB_FAIL_DEAD
                                             : STATEVTAB_FAIL_RETRY;
  }
  freeReplyObject(r);
  return rc;
}

static int rdLease(statevtab_table *pTab, const statevtab_value *pName,
                   const statevtab_value *pOwner, sqlite3_int64 iTtlMs,
                   sqlite3_int64 *piToken) {
  redisReply *r;
  int rc =
      callScript((RdTable *)pTab, "lease", &r, "vvi", pName, pOwner, iTtlMs);
  *piToken = takeInt(rc, r);
  return rc;
}

static int rdLeaseRelease(statevtab_table *pTab, const statevtab_value *pName,
                          const statevtab_value *pOwner, int *pbOk) {
  redisReply *r;
  int rc = callScript((RdTable *)pTab, "release", &r, "vv", pName, pOwner);
  *pbOk = takeInt(rc, r) == 1;
  return rc;
}

/* Keep reply r as t's out-value (valid until the next call). */
static void keepOut(RdTable *t, redisReply *r) {
  freeReplyObject(t->pOut);
  t->pOut = r;
}

static int rdIncr(statevtab_table *pTab, const statevtab_value *pScope,
                  const statevtab_value *pName, const statevtab_value *pDelta,
                  statevtab_value *pOut) {
  RdTable *t = (RdTable *)pTab;
  const statevtab_entity *e = pTab->pEntity;
  redisReply *r;
  int rc;
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  rc = callScript(t, "incr", &r, "vvvz", pScope, pName, pDelta,
                  pDelta->eType == SQLITE_FLOAT ? "1" : "0");
  if (rc != SQLITE_OK) return rc;
  rdDecode(r, &e->aCol[SV_COUNTER_VALUE], pOut);
  keepOut(t, r);
  return SQLITE_OK;
}

static int rdTake(statevtab_table *pTab, const statevtab_value *pExecId,
                  const statevtab_value *pName, statevtab_value *pOut) {
  RdTable *t = (RdTable *)pTab;
  redisReply *r;
  int rc;
  memset(pOut, 0, sizeof(*pOut));
  pOut->eType = SQLITE_NULL;
  rc = callScript(t, "take", &r, "vv", pExecId, pName);
  if (rc != SQLITE_OK) return rc;
  if (r->type == REDIS_REPLY_STRING) {
    pOut->eType = SQLITE_TEXT;
    pOut->z = r->str;
    pOut->n = (int)r->len;
  }
  keepOut(t, r);
  return SQLITE_OK;
}

static int rdProgress(statevtab_table *pTab, const statevtab_value *pId,
                      const statevtab_value *pJson, int *pbOk) {
  redisReply *r;
  /* Appended minified, so that the array reads as SQLite's json() writes
  ** it on every store. */
  char *zEntry = sv_json_minify(pJson->z, pJson->n);
  int rc;
  *pbOk = 0;
  if (!zEntry) return SQLITE_NOMEM;
  rc = callScript((RdTable *)pTab, "progress", &r, "vz", pId, zEntry);
  sqlite3_free(zEntry);
  *pbOk = takeInt(rc, r) == 1;
  return rc;
}

/* retain= (xPurge): the script's purge. */
static int rdPurge(statevtab_table *pTab, sqlite3_int64 iRetainMs, int nMax,
                   int *pnDone) {
  redisReply *r;
  int rc = callScript((RdTable *)pTab, "purge", &r, "zii", pTab->pEntity->zKind,
                      iRetainMs, (sqlite3_int64)nMax);
  *pnDone = (int)takeInt(rc, r);
  return rc;
}

static int rdPause(statevtab_table *pTab, const statevtab_value *pQueue,
                   int bPause, int *pbChanged) {
  redisReply *r;
  int rc = callScript((RdTable *)pTab, "pause", &r, "vz", pQueue,
                      bPause ? "1" : "0");
  *pbChanged = takeInt(rc, r) == 1;
  return rc;
}

static int rdPaused(statevtab_table *pTab, const statevtab_value *pQueue,
                    int *pbPaused) {
  redisReply *r;
  RdTable *t = (RdTable *)pTab;
  RdArgs a;
  int rc;
  argEval(&a, t, "paused");
  argVal(&a, pQueue);
  rc = rdEval(t, &a, &r);
  *pbPaused = takeInt(rc, r) == 1;
  return rc;
}

/*
** The insert of aRow into t as the one op of a write call, with a new row
** handle, for the primitives that insert (xInsertAtomic, xFire).  *pbRecord:
** whether the call must record how to undo it (taken from the store).
*/
static int insertOp(RdTable *t, const statevtab_value *aRow, RdOp *o,
                    int *pbRecord) {
  int rc;
  memset(o, 0, sizeof(*o));
  o->t = t;
  o->cType = 'I';
  o->cMode = 'a';
  o->iStamp = -1;
  o->iNow = sv_now_ms();
  o->aRow = (statevtab_value *)aRow;
  rc = atomicBegin(t);
  *pbRecord = t->p->bRecord; /* (no argEval here to take it) */
  t->p->bRecord = 0;
  return rc == SQLITE_OK ? newRid(t, &o->iRid) : rc;
}

/* state_metrics (xMetrics): the script's metrics, a flat list of 11
** values per queue (71 with the history). */
static int rdMetrics(statevtab_table *pTab, const statevtab_value *pQueue,
                     int bHistory, statevtab_metrics_fn xRow, void *pCtx) {
  redisReply *r = 0;
  RdTable *t = (RdTable *)pTab;
  RdArgs a;
  size_t i, nPer = bHistory ? 72 : 12;
  int rc, k;
  argEval(&a, t, "metrics");
  if (pQueue) {
    argOpt(&a, pQueue); /* "=<queue>" */
  } else {
    argZ(&a, "");
  }
  argZ(&a, bHistory ? "1" : "0");
  rc = rdEval(t, &a, &r);
  if (rc != SQLITE_OK) return rc;
  if (r->type != REDIS_REPLY_ARRAY || r->elements % nPer) {
    freeReplyObject(r);
    rdError(t->p, "redis: unexpected reply to metrics");
    return SQLITE_ERROR;
  }
  for (i = 0; rc == SQLITE_OK && i < r->elements; i += nPer) {
    redisReply **e = &r->element[i];
    statevtab_metrics m;
    sqlite3_int64 *aN[] = {&m.nPending, &m.nScheduled, &m.nClaimed,
                           &m.nExpired, &m.nCompleted, &m.nFailed,
                           &m.nDead,    &m.nCancelled};
    memset(&m, 0, sizeof(m));
    if (e[0]->type != REDIS_REPLY_STRING) {
      rdError(t->p, "redis: unexpected reply to metrics");
      rc = SQLITE_ERROR;
      break;
    }
    m.queue.eType = SQLITE_TEXT;
    m.queue.z = e[0]->str;
    m.queue.n = (int)e[0]->len;
    for (k = 0; k < 8; k++) *aN[k] = replyInt(e[k + 1]);
    m.iOldestPendingMs = replyInt(e[9]);
    m.bPaused = replyInt(e[10]) != 0;
    m.nWaiting = replyInt(e[11]);
    for (k = 0; bHistory && k < 60; k++) m.aPerMinute[k] = replyInt(e[12 + k]);
    if (xRow(pCtx, &m)) rc = SQLITE_NOMEM;
  }
  freeReplyObject(r);
  return rc;
}

static int rdInsertAtomic(statevtab_table *pTab, const statevtab_value *aRow,
                          int *pbDone) {
  RdTable *t = (RdTable *)pTab;
  RdOp o;
  int rc, bDone = 0, bRecord;
  *pbDone = 0;
  rc = insertOp(t, aRow, &o, &bRecord);
  if (rc == SQLITE_OK) rc = rdWrite(t->p, &o, 1, &bDone);
  *pbDone = rc == SQLITE_OK && bDone;
  if (*pbDone && bRecord) {
    /* Undone by deleting the row, unless it changed since (see run in
    ** sql/redis.lua): it was new, and the write gave it stamp 1. */
    char zRid[32];
    const char *az[7];
    size_t an[7];
    int k;
    sqlite3_snprintf(sizeof(zRid), zRid, "%lld", o.iRid);
    az[0] = "r";
    az[1] = pTab->pEntity->zKind;
    az[2] = zRid;
    az[3] = "1";
    az[4] = az[5] = "";
    az[6] = "0";
    for (k = 0; k < 7; k++) an[k] = strlen(az[k]);
    rc = undoPushN(t->p, t->zBase, 7, az, an);
  }
  return rc;
}

/*
** xFire: one script call (ops.fire in sql/redis.lua) checks the schedule
** row's next_run, writes the task as a write of one insert, and moves the
** schedule on.  Both tables must share the namespace (one Cluster slot).
*/
static int rdFire(statevtab_table *pTab, statevtab_table *pSched,
                  const statevtab_value *pName, sqlite3_int64 iExpect,
                  sqlite3_int64 iLast, sqlite3_int64 iNext,
                  const statevtab_value *aTask, int *pbFired) {
  RdTable *t = (RdTable *)pTab, *sch = (RdTable *)pSched;
  RdOp o;
  RdArgs a;
  redisReply *r = 0;
  int rc, bRecord;
  *pbFired = 0;
  if (pSched->pStore != pTab->pStore || strcmp(t->zBase, sch->zBase) != 0) {
    rdError(t->p, "schedules table must have the same prefix as the tasks "
                  "table");
    return SQLITE_ERROR;
  }
  /* (Only in autocommit mode: there is nothing to undo.) */
  rc = insertOp(t, aTask, &o, &bRecord);
  if (rc != SQLITE_OK) return rc;
  argEval(&a, t, "fire");
  argVal(&a, pName);
  argInt(&a, iExpect);
  argInt(&a, iLast);
  if (iNext >= 0) {
    argInt(&a, iNext);
  } else {
    argN(&a, "", 0);
  }
  argN(&a, "1", 1);
  argOp(&a, &o);
  rc = rdEval(t, &a, &r);
  if (rc != SQLITE_OK) return rc;
  if (r->type == REDIS_REPLY_ARRAY) {
    rc = writeResult(t->p, &o, 1, r, pbFired);
  }
  freeReplyObject(r);
  return rc;
}

/*
** Subscribe the store's second connection to channel zChan too (the
** wake-up channels of the namespaces: "{<prefix>}tasks:wake", where the
** script publishes the queue of every task that becomes runnable, and
** "{<prefix>}leases:wake" and "{<prefix>}signals:wake", see sql/redis.lua).
** A failure leaves no subscription: the waits then poll.
*/
static void subEnsure(RdStore *p, const char *zChan) {
  const char *az[2];
  size_t an[2];
  redisReply *r;
  char **azNew, *zCopy;
  int i;
  for (i = 0; p->cSub && i < p->nSub; i++) {
    if (strcmp(p->azSub[i], zChan) == 0) return;
  }
  if (!p->cSub && rdDial(p, 0, &p->cSub) != SQLITE_OK) {
    sqlite3_free(p->base.zErrMsg);
    p->base.zErrMsg = 0;
    return;
  }
  zCopy = sqlite3_mprintf("%s", zChan);
  azNew = sqlite3_realloc64(p->azSub, sizeof(char *) * (p->nSub + 1));
  if (!zCopy || !azNew) {
    sqlite3_free(zCopy);
    if (azNew) p->azSub = azNew;
    subDrop(p);
    return;
  }
  p->azSub = azNew;
  p->azSub[p->nSub++] = zCopy;
  az[0] = "SUBSCRIBE";
  an[0] = 9;
  az[1] = zChan;
  an[1] = strlen(zChan);
  r = redisCommandArgv(p->cSub, 2, az, an);
  if (!r || r->type != REDIS_REPLY_ARRAY) subDrop(p);
  freeReplyObject(r);
  p->iChanged++; /* what came before the subscription was not seen */
}

/* Count a message on the subscription that announces a change of flags or
** segments (sql/redis.lua publishes on B<kind>:wake); free it. */
static void subNote(RdStore *p, void *pR) {
  const redisReply *r = (const redisReply *)pR;
  static const char *const azEnd[] = {"flags:wake", "segments:wake"};
  int i;
  if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
      r->element[1]->type == REDIS_REPLY_STRING) {
    for (i = 0; i < 2; i++) {
      size_t n = strlen(azEnd[i]);
      if (r->element[1]->len >= n &&
          memcmp(r->element[1]->str + r->element[1]->len - n, azEnd[i], n) ==
              0) {
        p->iChanged++;
      }
    }
  }
  freeReplyObject(pR);
}

/* subEnsure for the wake-up channel of t's namespace and entity zKind. */
static int subEnsureKind(RdTable *t, const char *zKind) {
  char *zChan = sqlite3_mprintf("%s%s:wake", t->zBase, zKind);
  if (!zChan) return SQLITE_NOMEM;
  subEnsure(t->p, zChan);
  sqlite3_free(zChan);
  return SQLITE_OK;
}

/* Read and drop the messages already on the subscription; a broken
** subscription is dropped. */
static void subDrain(RdStore *p) {
  struct pollfd fd;
  fd.fd = p->cSub->fd;
  fd.events = POLLIN;
  fd.revents = 0;
  while (poll(&fd, 1, 0) > 0) {
    void *pR = 0;
    if (redisBufferRead(p->cSub) != REDIS_OK) {
      subDrop(p);
      return;
    }
    while (redisGetReplyFromReader(p->cSub, &pR) == REDIS_OK && pR) {
      subNote(p, pR);
      pR = 0;
    }
  }
}

/*
** state_wait on Redis: subscribe to the namespace's wake-up channel, ask
** the script whether a task of the queue is runnable, else sleep on the
** subscription until a message, the next run_at or lease expiry the script
** reported, or the timeout (a second at most at a time, in case a message
** was lost).  Without a subscription, poll every 50 ms.
*/
static int rdWait(statevtab_table *pTab, const statevtab_value *pQueue,
                  sqlite3_int64 iTimeoutMs, int *pbReady) {
  RdTable *t = (RdTable *)pTab;
  RdStore *p = t->p;
  sqlite3_int64 iEnd = sv_mono_ms() + iTimeoutMs;
  *pbReady = 0;
  if (subEnsureKind(t, "tasks") != SQLITE_OK) return SQLITE_NOMEM;
  for (;;) {
    redisReply *r = 0;
    RdArgs a;
    sqlite3_int64 iWait, iNext = -1, now;
    int rc;
    /* Messages that came before this check are covered by it. */
    if (p->cSub) subDrain(p);
    argEval(&a, t, "runnable");
    argVal(&a, pQueue);
    rc = rdEval(t, &a, &r);
    if (rc != SQLITE_OK) return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
      *pbReady = replyInt(r->element[0]) == 1;
      iNext = replyInt(r->element[1]);
    }
    freeReplyObject(r);
    if (*pbReady) return SQLITE_OK;
    now = sv_mono_ms();
    if (now >= iEnd) return SQLITE_OK;
    iWait = iEnd - now;
    if (iNext >= 0 && iNext + 1 < iWait) iWait = iNext + 1;
    if (p->cSub) {
      struct pollfd fd;
      fd.fd = p->cSub->fd;
      fd.events = POLLIN;
      fd.revents = 0;
      poll(&fd, 1, (int)(iWait > 1000 ? 1000 : iWait));
    } else {
      sqlite3_sleep((int)(iWait > 50 ? 50 : iWait));
    }
  }
}

/* Is reply r a message on channel zChan with payload pKey? */
static int subIsWake(const redisReply *r, const char *zChan,
                     const statevtab_value *pKey) {
  return r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
         r->element[0]->type == REDIS_REPLY_STRING &&
         strcmp(r->element[0]->str, "message") == 0 &&
         r->element[1]->type == REDIS_REPLY_STRING &&
         strcmp(r->element[1]->str, zChan) == 0 &&
         r->element[2]->type == REDIS_REPLY_STRING &&
         r->element[2]->len == (size_t)pKey->n &&
         (pKey->n == 0 || memcmp(r->element[2]->str, pKey->z, pKey->n) == 0);
}

/*
** Read the subscription until a message on zChan with payload pKey (1) or
** iEnd, a sv_mono_ms() time (0).  A broken subscription is dropped (1: the
** caller tries again, and from then on polls).
*/
static int subAwait(RdStore *p, const char *zChan, const statevtab_value *pKey,
                    sqlite3_int64 iEnd) {
  for (;;) {
    struct pollfd fd;
    void *pR = 0;
    int bHit = 0;
    sqlite3_int64 iLeft;
    while (redisGetReplyFromReader(p->cSub, &pR) == REDIS_OK && pR) {
      if (subIsWake((redisReply *)pR, zChan, pKey)) bHit = 1;
      subNote(p, pR);
      pR = 0;
    }
    if (bHit) return 1;
    iLeft = iEnd - sv_mono_ms();
    if (iLeft <= 0) return 0;
    fd.fd = p->cSub->fd;
    fd.events = POLLIN;
    fd.revents = 0;
    switch (poll(&fd, 1, (int)iLeft)) {
    case -1: /* a signal (the shell's Ctrl-C): the caller looks for an
             ** interrupt */
      return 0;
    case 0:
      break;
    default:
      if (redisBufferRead(p->cSub) != REDIS_OK) {
        subDrop(p);
        return 1;
      }
    }
  }
}

/*
** The wake-ups of a waiting state_lease or state_take (xWake): messages on
** "{<prefix>}<kind>:wake" (leases: the name of a lease that frees; signals:
** the execution id of a new signal) whose payload is pKey, on the
** subscription connection.  Without a subscription, sleep at most 50 ms and
** report a wake-up: the caller polls.
*/
static int rdWake(statevtab_table *pTab, const statevtab_value *pKey,
                  sqlite3_int64 iWaitMs, int *pbWoken) {
  RdTable *t = (RdTable *)pTab;
  RdStore *p = t->p;
  char *zChan;
  *pbWoken = 0;
  if (iWaitMs == 0) {
    if (subEnsureKind(t, pTab->pEntity->zKind) != SQLITE_OK) {
      return SQLITE_NOMEM;
    }
    if (p->cSub) subDrain(p);
    return SQLITE_OK;
  }
  if (!p->cSub) {
    sqlite3_sleep((int)(iWaitMs > 50 ? 50 : iWaitMs));
    *pbWoken = 1;
    return SQLITE_OK;
  }
  zChan = sqlite3_mprintf("%s%s:wake", t->zBase, pTab->pEntity->zKind);
  if (!zChan) return SQLITE_NOMEM;
  *pbWoken = subAwait(p, zChan, pKey, sv_mono_ms() + iWaitMs);
  sqlite3_free(zChan);
  return SQLITE_OK;
}

/*
** xChanged: subscribe to "{<prefix>}<kind>:wake" of t's kind, where the
** script announces every write of flags and segments (sql/redis.lua), and
** count what has arrived.  Without a subscription (Redis unreachable, or
** the second connection lost), not live: tried again a second later.
*/
static int rdChanged(statevtab_table *pTab, sqlite3_uint64 *piGen,
                     int *pbLive) {
  RdTable *t = (RdTable *)pTab;
  RdStore *p = t->p;
  sqlite3_int64 now = sv_mono_ms();
  if (p->cSub || now >= p->iSubRetry) {
    if (subEnsureKind(t, pTab->pEntity->zKind) != SQLITE_OK) {
      return SQLITE_NOMEM;
    }
    if (!p->cSub) p->iSubRetry = now + 1000;
  }
  if (p->cSub) subDrain(p);
  *piGen = p->iChanged;
  *pbLive = p->cSub != 0;
  return SQLITE_OK;
}

static const statevtab_queue_methods rdQueue = {
    /* iVersion      */ 5,
    /* xClaim        */ rdClaim,
    /* xRenew        */ rdRenew,
    /* xComplete     */ rdComplete,
    /* xFail         */ rdFail,
    /* xLease        */ rdLease,
    /* xLeaseRelease */ rdLeaseRelease,
    /* xIncr         */ rdIncr,
    /* xTake         */ rdTake,
    /* xProgress     */ rdProgress,
    /* xPause        */ rdPause,
    /* xInsertAtomic */ rdInsertAtomic,
    /* xPaused       */ rdPaused,
    /* xWait         */ rdWait,
    /* xWake         */ rdWake,
    /* xPurge        */ rdPurge,
    /* xFire         */ rdFire,
    /* xMetrics      */ rdMetrics,
    /* xChanged      */ rdChanged,
};

const statevtab_store_methods sv_redis_store = {
    /* iVersion      */ 2,
    /* zScheme       */ "redis",
    /* xOpen         */ rdOpen,
    /* xClose        */ rdClose,
    /* xAttach       */ rdAttach,
    /* xDetach       */ rdDetach,
    /* xDrop         */ rdDrop,
    /* xRename       */ rdRename,
    /* xOpenCursor   */ rdOpenCursor,
    /* xFilter       */ rdFilter,
    /* xNext         */ rdNext,
    /* xEof          */ rdEof,
    /* xColumn       */ rdColumn,
    /* xRowid        */ rdRowid,
    /* xCloseCursor  */ rdCloseCursor,
    /* xInsert       */ rdInsert,
    /* xUpdate       */ rdUpdate,
    /* xDelete       */ rdDelete,
    /* xBegin        */ rdBegin,
    /* xSync         */ rdSync,
    /* xCommit       */ rdCommit,
    /* xRollback     */ rdRollback,
    /* xSavepoint    */ rdSavepoint,
    /* xRelease      */ rdRelease,
    /* xRollbackTo   */ rdRollbackTo,
    /* xDescribe     */ rdDescribe,
    /* xColumnValue  */ 0,
    /* pQueue        */ &rdQueue,
};
