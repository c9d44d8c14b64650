/*
** 2026-12-03
**
** flagsio.c -- flag definitions in and out of Unleash's JSON, in one call:
**
**   SELECT state_flags_import('flags', readfile('features.json'));   -- n
**   SELECT state_flags_export('flags');        -- {"version":2,...}
**   SELECT state_flags_apply_delta('flags', :delta);  -- last eventId
**
** state_flags_import takes an Unleash client API response
** (/api/client/features: {"version", "features": [...], "segments": [...]})
** and makes the flags table hold exactly its features -- and the flags
** table's segments table (segments= option) its segments, when the
** response has a "segments" member.  state_flags_export writes the same
** shape back from the tables.  state_flags_apply_delta applies delta-API
** events ({"events": [...]}, an array of events, or one event): hydration
** (the whole state, as an import), feature-updated, feature-removed,
** segment-updated and segment-removed, in order, and returns the last
** eventId.
**
** HOW IT WORKS
**
** The document is parsed with cJSON once and checked member by member, so
** that a bad one is refused with its path ("features[2].enabled must be
** true or false") before anything is written.  The rows are then written
** with plain SQL on the caller's connection, through the two tables (the
** same on every store), from the original text with SQLite's JSON
** functions (json_each, ->), so that the definitions keep their numbers
** and strings byte for byte.  Everything happens inside SAVEPOINT
** statevtab_flags_io: a call is all or nothing (a transaction of its own
** in autocommit mode, part of the caller's otherwise).
*/
#include "svext.h"

#include <cjson/cJSON.h>

/* The state of one call. */
typedef struct Io {
  sqlite3_context *ctx;
  const char *zFunc;
  sqlite3 *db;
  sv_vtab *pFlags, *pSeg; /* pSeg: the segments table, or NULL */
  char *zF, *zS;          /* their quoted names "db"."name" */
  sqlite3_stmt *pPutF, *pPutS, *pDelF, *pDelS, *pClearF, *pClearS, *pOne;
  char *zErr; /* a message of ours (not the db's), sqlite3_malloc'd */
} Io;

/* ----------------------------------------------------------- checking */

/* Set io->zErr to "<path>: <what>" formatted; returns SQLITE_ERROR (or
** SQLITE_NOMEM). */
static int bad(Io *io, const char *zFmt, ...) {
  va_list ap;
  va_start(ap, zFmt);
  sqlite3_free(io->zErr);
  io->zErr = sqlite3_vmprintf(zFmt, ap);
  va_end(ap);
  return io->zErr ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Absent, null or an array: 1. */
static int arrayOrNone(const cJSON *v) {
  return !v || cJSON_IsNull(v) || cJSON_IsArray(v);
}

/* Absent, null or a string: 1. */
static int stringOrNone(const cJSON *v) {
  return !v || cJSON_IsNull(v) || cJSON_IsString(v);
}

#define MEMBER(o, z) cJSON_GetObjectItemCaseSensitive(o, z)

/*
** Member zList of object o: absent, null, or an array of objects each with
** a string member zKey (NULL: none required), as Unleash's schema has it.
** zPath names o in messages.
*/
static int checkList(Io *io, const cJSON *o, const char *zPath,
                     const char *zList, const char *zKey) {
  const cJSON *a = MEMBER(o, zList), *e;
  int i = 0;
  if (!arrayOrNone(a)) {
    return bad(io, "%s.%s must be an array", zPath, zList);
  }
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsObject(e)) {
      return bad(io, "%s.%s[%d] must be an object", zPath, zList, i);
    }
    if (zKey && !cJSON_IsString(MEMBER(e, zKey))) {
      return bad(io, "%s.%s[%d].%s must be a string", zPath, zList, i, zKey);
    }
    i++;
  }
  return SQLITE_OK;
}

/* The constraints of o (a strategy or a segment): contextName and
** operator strings, values an array of strings. */
static int checkConstraints(Io *io, const cJSON *o, const char *zPath) {
  const cJSON *k;
  int i = 0, rc = checkList(io, o, zPath, "constraints", "operator");
  if (rc != SQLITE_OK) return rc;
  cJSON_ArrayForEach(k, MEMBER(o, "constraints")) {
    if (!cJSON_IsString(MEMBER(k, "contextName"))) {
      return bad(io, "%s.constraints[%d].contextName must be a string", zPath,
                 i);
    }
    if (!arrayOrNone(MEMBER(k, "values"))) {
      return bad(io, "%s.constraints[%d].values must be an array", zPath, i);
    }
    i++;
  }
  return SQLITE_OK;
}

/* "segments" of a strategy: absent, null, or an array of integers. */
static int checkSegmentIds(Io *io, const cJSON *o, const char *zPath) {
  const cJSON *a = MEMBER(o, "segments"), *e;
  sqlite3_int64 iId;
  if (!arrayOrNone(a)) return bad(io, "%s.segments must be an array", zPath);
  cJSON_ArrayForEach(e, a) {
    if (!cJSON_IsNumber(e) || !sv_real_int(e->valuedouble, &iId)) {
      return bad(io, "%s.segments must hold segment ids (integers)", zPath);
    }
  }
  return SQLITE_OK;
}

/* One feature of Unleash's feature schema. */
static int checkFeature(Io *io, const cJSON *f, const char *zPath) {
  const cJSON *s, *n = MEMBER(f, "name");
  int rc, i = 0;
  if (!cJSON_IsObject(f)) return bad(io, "%s must be an object", zPath);
  if (!cJSON_IsString(n) || !n->valuestring[0]) {
    return bad(io, "%s.name must be a non-empty string", zPath);
  }
  if (!cJSON_IsBool(MEMBER(f, "enabled"))) {
    return bad(io, "%s.enabled must be true or false", zPath);
  }
  if (!stringOrNone(MEMBER(f, "description"))) {
    return bad(io, "%s.description must be a string", zPath);
  }
  rc = checkList(io, f, zPath, "strategies", "name");
  if (rc == SQLITE_OK) rc = checkList(io, f, zPath, "variants", "name");
  if (rc == SQLITE_OK) rc = checkList(io, f, zPath, "dependencies", "feature");
  cJSON_ArrayForEach(s, MEMBER(f, "strategies")) {
    char *zS;
    const cJSON *p = MEMBER(s, "parameters");
    if (rc != SQLITE_OK) break;
    zS = sqlite3_mprintf("%s.strategies[%d]", zPath, i++);
    if (!zS) return SQLITE_NOMEM;
    if (p && !cJSON_IsNull(p) && !cJSON_IsObject(p)) {
      rc = bad(io, "%s.parameters must be an object", zS);
    }
    if (rc == SQLITE_OK) rc = checkConstraints(io, s, zS);
    if (rc == SQLITE_OK) rc = checkSegmentIds(io, s, zS);
    if (rc == SQLITE_OK) rc = checkList(io, s, zS, "variants", "name");
    sqlite3_free(zS);
  }
  return rc;
}

/* One segment: an integer id, a name, constraints. */
static int checkSegment(Io *io, const cJSON *g, const char *zPath) {
  const cJSON *id = MEMBER(g, "id");
  sqlite3_int64 iId;
  if (!cJSON_IsObject(g)) return bad(io, "%s must be an object", zPath);
  if (!cJSON_IsNumber(id) || !sv_real_int(id->valuedouble, &iId)) {
    return bad(io, "%s.id must be an integer", zPath);
  }
  if (!stringOrNone(MEMBER(g, "name"))) {
    return bad(io, "%s.name must be a string", zPath);
  }
  return checkConstraints(io, g, zPath);
}

/* Why segments cannot be written. */
static const char zNoSeg[] = "the flags table has no segments table (its "
                             "segments= option, or a state_segments table "
                             "named segments)";

/*
** The features (required) and segments (optional) of object o, at zPath
** ("" at the top).  With segments and no segments table: an error, rather
** than definitions that would quietly evaluate to false.
*/
static int checkState(Io *io, const cJSON *o, const char *zPath) {
  static const struct {
    const char *zName;
    int bRequired;
    int (*xCheck)(Io *, const cJSON *, const char *);
  } aList[] = {{"features", 1, checkFeature}, {"segments", 0, checkSegment}};
  const char *zDot = zPath[0] ? "." : "";
  const cJSON *a = 0, *e;
  int i, k, rc;
  for (k = 0; k < 2; k++) {
    a = MEMBER(o, aList[k].zName);
    if (aList[k].bRequired ? !cJSON_IsArray(a) : !arrayOrNone(a)) {
      return bad(io, "%s%s%s must be an array", zPath, zDot, aList[k].zName);
    }
    i = 0;
    cJSON_ArrayForEach(e, a) {
      char *z = sqlite3_mprintf("%s%s%s[%d]", zPath, zDot, aList[k].zName, i++);
      if (!z) return SQLITE_NOMEM;
      rc = aList[k].xCheck(io, e, z);
      sqlite3_free(z);
      if (rc != SQLITE_OK) return rc;
    }
  }
  if (cJSON_GetArraySize(a) > 0 && !io->pSeg) {
    return bad(io, "%s%ssegments: %s", zPath, zDot, zNoSeg);
  }
  return SQLITE_OK;
}

/* ------------------------------------------------------------ writing */

/* Prepare zSql (sqlite3_mprintf'd, freed here; NULL: no memory). */
static int prep(Io *io, char *zSql, sqlite3_stmt **pp) {
  int rc;
  if (!zSql) return SQLITE_NOMEM;
  rc = sqlite3_prepare_v2(io->db, zSql, -1, pp, 0);
  sqlite3_free(zSql);
  return rc;
}

/* DELETE of one row of table zTab (quoted) by its key column zKey = ?1,
** and of every row. */
static int prepDeletes(Io *io, const char *zTab, const char *zKey,
                       sqlite3_stmt **ppOne, sqlite3_stmt **ppAll) {
  int rc =
      prep(io, sqlite3_mprintf("DELETE FROM %s WHERE \"%w\" = ?1", zTab, zKey),
           ppOne);
  if (rc == SQLITE_OK) {
    rc = prep(io, sqlite3_mprintf("DELETE FROM %s", zTab), ppAll);
  }
  return rc;
}

/*
** The statements: put (INSERT OR REPLACE the items of json_each(?1, ?2)),
** delete one (by key ?1), clear -- for flags, and for segments when there
** is a segments table.
*/
static int ioPrepare(Io *io) {
  int rc = prep(
      io,
      sqlite3_mprintf(
          "INSERT OR REPLACE INTO %s(name, enabled, description, strategies, "
          "variants, dependencies) SELECT value->>'$.name', "
          "value->>'$.enabled', value->>'$.description', "
          "CASE json_type(value, '$.strategies') WHEN 'array' THEN "
          "value->'$.strategies' ELSE '[]' END, "
          "CASE json_type(value, '$.variants') WHEN 'array' THEN "
          "value->'$.variants' ELSE '[]' END, "
          "CASE json_type(value, '$.dependencies') WHEN 'array' THEN "
          "value->'$.dependencies' ELSE '[]' END FROM json_each(?1, ?2)",
          io->zF),
      &io->pPutF);
  if (rc == SQLITE_OK) {
    rc = prepDeletes(io, io->zF, "name", &io->pDelF, &io->pClearF);
  }
  if (rc == SQLITE_OK) {
    rc = prep(io, sqlite3_mprintf("SELECT json_array(?1 -> ?2)"), &io->pOne);
  }
  if (rc != SQLITE_OK || !io->pSeg) return rc;
  rc = prep(io,
            sqlite3_mprintf(
                "INSERT OR REPLACE INTO %s(id, name, constraints) SELECT "
                "CAST(value->>'$.id' AS INTEGER), value->>'$.name', "
                "CASE json_type(value, '$.constraints') WHEN 'array' THEN "
                "value->'$.constraints' ELSE '[]' END FROM json_each(?1, ?2)",
                io->zS),
            &io->pPutS);
  if (rc == SQLITE_OK) {
    rc = prepDeletes(io, io->zS, "id", &io->pDelS, &io->pClearS);
  }
  return rc;
}

/* Step p (no rows) with texts z1 and z2 bound to ?1 and ?2 when given;
** reset it. */
static int run(sqlite3_stmt *p, const char *z1, const char *z2) {
  int rc, rc2;
  if (z1) sqlite3_bind_text(p, 1, z1, -1, SQLITE_STATIC);
  if (z2) sqlite3_bind_text(p, 2, z2, -1, SQLITE_STATIC);
  rc = sqlite3_step(p);
  rc2 = sqlite3_reset(p);
  return rc == SQLITE_DONE ? SQLITE_OK : rc2 != SQLITE_OK ? rc2 : rc;
}

/* The whole state from zJson at zPath ("$" or "$.events[3]"): the flags
** table then holds its features only; the segments table its segments
** only, when it names any (bSeg). */
static int putState(Io *io, const char *zJson, const char *zPath, int bSeg) {
  char *zF = sqlite3_mprintf("%s.features", zPath);
  char *zS = sqlite3_mprintf("%s.segments", zPath);
  int rc = zF && zS ? SQLITE_OK : SQLITE_NOMEM;
  if (rc == SQLITE_OK) rc = run(io->pClearF, 0, 0);
  if (rc == SQLITE_OK) rc = run(io->pPutF, zJson, zF);
  if (rc == SQLITE_OK && bSeg && io->pSeg) {
    rc = run(io->pClearS, 0, 0);
    if (rc == SQLITE_OK) rc = run(io->pPutS, zJson, zS);
  }
  sqlite3_free(zF);
  sqlite3_free(zS);
  return rc;
}

/* ------------------------------------------------------------ calls */

/*
** Set up a call: the flags table of argv[0], its segments table, the
** quoted names.  Reports its own errors and
** returns 0 on failure.
*/
static int ioInit(Io *io, sqlite3_context *ctx, const char *zFunc,
                  sqlite3_value **argv) {
  char *zErr = 0;
  int rc;
  memset(io, 0, sizeof(*io));
  io->ctx = ctx;
  io->zFunc = zFunc;
  io->db = sqlite3_context_db_handle(ctx);
  io->pFlags = sv_fn_table(ctx, zFunc, argv[0], "state_flags");
  if (!io->pFlags) return 0;
  rc = sv_linked_table(io->pFlags, "segments", "state_segments", &io->pSeg,
                       &zErr);
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, zFunc, rc, "%s", zErr);
    sqlite3_free(zErr);
    return 0;
  }
  io->zF = sqlite3_mprintf("\"%w\".\"%w\"", io->pFlags->zDb, io->pFlags->zName);
  if (io->pSeg) {
    io->zS = sqlite3_mprintf("\"%w\".\"%w\"", io->pSeg->zDb, io->pSeg->zName);
  }
  if (!io->zF || (io->pSeg && !io->zS)) {
    sqlite3_result_error_nomem(ctx);
    return 0;
  }
  return 1;
}

/* Finalize the statements (before RELEASE, which may commit). */
static void ioFinalize(Io *io) {
  sqlite3_stmt **ap[] = {&io->pPutF,   &io->pPutS,   &io->pDelF, &io->pDelS,
                         &io->pClearF, &io->pClearS, &io->pOne};
  size_t i;
  for (i = 0; i < sizeof(ap) / sizeof(ap[0]); i++) {
    sqlite3_finalize(*ap[i]);
    *ap[i] = 0;
  }
}

static void ioFree(Io *io) {
  ioFinalize(io);
  sqlite3_free(io->zErr);
  sqlite3_free(io->zF);
  sqlite3_free(io->zS);
}

/*
** argv[i] parsed as JSON into *ppRoot (cJSON-owned), or an error reported
** (0 returned).
*/
static int ioParse(Io *io, sqlite3_value *pArg, cJSON **ppRoot) {
  int eType = sqlite3_value_type(pArg), n, e;
  const char *z = (const char *)sqlite3_value_text(pArg);
  n = sqlite3_value_bytes(pArg);
  *ppRoot = 0;
  if (eType != SQLITE_TEXT) {
    sv_fn_error(io->ctx, io->zFunc, SQLITE_ERROR, "json must be text (got %s)",
                eType == SQLITE_NULL   ? "NULL"
                : eType == SQLITE_BLOB ? "a blob"
                                       : "a number");
    return 0;
  }
  if (!z) {
    sqlite3_result_error_nomem(io->ctx);
    return 0;
  }
  e = sv_json_check(z, n);
  if (e != SV_JSON_OK) {
    sv_fn_error(io->ctx, io->zFunc, SQLITE_ERROR, "json %s",
                sv_json_problem(e));
    return 0;
  }
  *ppRoot = cJSON_ParseWithLength(z, (size_t)n);
  if (!*ppRoot) {
    sqlite3_result_error_nomem(io->ctx);
    return 0;
  }
  return 1;
}

/*
** Run the writes of a call: xWrite inside SAVEPOINT statevtab_flags_io,
** released on success, rolled back to (and released) on failure, so that
** nothing of a failed call stays.  Reports the error; returns rc.
*/
static int ioWrite(Io *io, int (*xWrite)(Io *, const char *, cJSON *, void *),
                   const char *zJson, cJSON *pRoot, void *pArg) {
  char *zJunk = 0;
  int rc = sqlite3_exec(io->db, "SAVEPOINT statevtab_flags_io", 0, 0, 0);
  if (rc == SQLITE_OK) {
    rc = ioPrepare(io);
    if (rc == SQLITE_OK) rc = xWrite(io, zJson, pRoot, pArg);
    /* (The message before ioFinalize, which may reset it.) */
    if (rc != SQLITE_OK && rc != SQLITE_NOMEM && !io->zErr) {
      io->zErr = sqlite3_mprintf("%s", sqlite3_errmsg(io->db));
    }
    ioFinalize(io);
    /* RELEASE commits when the savepoint began the transaction; should
    ** that fail (a Redis conflict), nothing of the call stays. */
    if (rc == SQLITE_OK && sqlite3_exec(io->db, "RELEASE statevtab_flags_io", 0,
                                        0, &zJunk) != SQLITE_OK) {
      rc = SQLITE_ERROR;
      sqlite3_free(io->zErr);
      io->zErr = zJunk ? zJunk : sqlite3_mprintf("%s", sqlite3_errmsg(io->db));
      zJunk = 0;
    }
    if (rc != SQLITE_OK) {
      sqlite3_exec(io->db, "ROLLBACK TO statevtab_flags_io", 0, 0, 0);
      sqlite3_exec(io->db, "RELEASE statevtab_flags_io", 0, 0, 0);
    }
    sqlite3_free(zJunk);
  } else if (rc != SQLITE_NOMEM) {
    io->zErr = sqlite3_mprintf("%s", sqlite3_errmsg(io->db));
  }
  if (rc != SQLITE_OK) {
    sv_fn_error(io->ctx, io->zFunc, rc, "%s",
                io->zErr ? io->zErr : sqlite3_errstr(rc));
  }
  return rc;
}

static int writeImport(Io *io, const char *zJson, cJSON *pRoot, void *pArg) {
  (void)pArg;
  return putState(io, zJson, "$", MEMBER(pRoot, "segments") != 0);
}

/* state_flags_import(flags, json) -> the number of features */
void sv_fn_flags_import(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Io io;
  cJSON *pRoot = 0;
  int rc;
  (void)argc;
  if (ioInit(&io, ctx, "state_flags_import", argv) &&
      ioParse(&io, argv[1], &pRoot)) {
    if (!cJSON_IsObject(pRoot)) {
      rc = bad(&io, "json must be an object with features (an Unleash client "
                    "API response)");
    } else {
      rc = checkState(&io, pRoot, "");
    }
    if (rc != SQLITE_OK) {
      sv_fn_error(ctx, io.zFunc, rc, "%s", io.zErr);
    } else if (ioWrite(&io, writeImport,
                       (const char *)sqlite3_value_text(argv[1]), pRoot,
                       0) == SQLITE_OK) {
      sqlite3_result_int(ctx, cJSON_GetArraySize(MEMBER(pRoot, "features")));
    }
  }
  cJSON_Delete(pRoot);
  ioFree(&io);
}

/* ------------------------------------------------------------- delta */

/* Check event e (index i) and the name of its type. */
static int checkEvent(Io *io, const cJSON *e, int i, const char **pzType) {
  const cJSON *t = MEMBER(e, "type"), *id = MEMBER(e, "eventId");
  sqlite3_int64 iId;
  char *zPath;
  int rc = SQLITE_OK;
  *pzType = 0;
  if (!cJSON_IsObject(e)) return bad(io, "events[%d] must be an object", i);
  if (!cJSON_IsNumber(id) || !sv_real_int(id->valuedouble, &iId)) {
    return bad(io, "events[%d].eventId must be an integer", i);
  }
  if (!cJSON_IsString(t)) return bad(io, "events[%d].type must be a string", i);
  *pzType = t->valuestring;
  zPath = sqlite3_mprintf("events[%d]", i);
  if (!zPath) return SQLITE_NOMEM;
  if (strcmp(*pzType, "hydration") == 0) {
    rc = checkState(io, e, zPath);
  } else if (strcmp(*pzType, "feature-updated") == 0) {
    char *z = sqlite3_mprintf("%s.feature", zPath);
    rc = z ? checkFeature(io, MEMBER(e, "feature"), z) : SQLITE_NOMEM;
    sqlite3_free(z);
  } else if (strcmp(*pzType, "feature-removed") == 0) {
    if (!cJSON_IsString(MEMBER(e, "featureName"))) {
      rc = bad(io, "%s.featureName must be a string", zPath);
    }
  } else if (strcmp(*pzType, "segment-updated") == 0) {
    char *z = sqlite3_mprintf("%s.segment", zPath);
    rc = z ? checkSegment(io, MEMBER(e, "segment"), z) : SQLITE_NOMEM;
    sqlite3_free(z);
    if (rc == SQLITE_OK && !io->pSeg) {
      rc = bad(io, "%s: %s", zPath, zNoSeg);
    }
  } else if (strcmp(*pzType, "segment-removed") == 0) {
    const cJSON *s = MEMBER(e, "segmentId");
    if (!cJSON_IsNumber(s) || !sv_real_int(s->valuedouble, &iId)) {
      rc = bad(io, "%s.segmentId must be an integer", zPath);
    } else if (!io->pSeg) {
      rc = bad(io, "%s: %s", zPath, zNoSeg);
    }
  } else {
    rc = bad(io,
             "%s.type '%s' is not hydration, feature-updated, "
             "feature-removed, segment-updated or segment-removed",
             zPath, *pzType);
  }
  sqlite3_free(zPath);
  return rc;
}

static int writeDelta(Io *io, const char *zJson, cJSON *pRoot, void *pArg) {
  const char *zEvents = (const char *)pArg;
  const cJSON *e,
      *pEvents = cJSON_IsArray(pRoot) ? pRoot : MEMBER(pRoot, "events");
  int i = 0, rc = SQLITE_OK;
  cJSON_ArrayForEach(e, pEvents) {
    const char *zType = MEMBER(e, "type")->valuestring;
    char *zAt = sqlite3_mprintf("%s[%d]", zEvents, i++);
    if (!zAt) return SQLITE_NOMEM;
    if (strcmp(zType, "hydration") == 0) {
      rc = putState(io, zJson, zAt, MEMBER(e, "segments") != 0);
    } else if (strcmp(zType, "feature-updated") == 0 ||
               strcmp(zType, "segment-updated") == 0) {
      int bF = zType[0] == 'f';
      char *zItem = sqlite3_mprintf("%s.%s", zAt, bF ? "feature" : "segment");
      if (!zItem) {
        rc = SQLITE_NOMEM;
      } else {
        /* json_each walks an object's members: the put statements get
        ** the item as an array of one. */
        sqlite3_bind_text(io->pOne, 1, zJson, -1, SQLITE_STATIC);
        sqlite3_bind_text(io->pOne, 2, zItem, -1, SQLITE_STATIC);
        rc = sqlite3_step(io->pOne);
        if (rc == SQLITE_ROW) {
          rc = run(bF ? io->pPutF : io->pPutS,
                   (const char *)sqlite3_column_text(io->pOne, 0), "$");
          /* (The message before the reset below, which clears it.) */
          if (rc != SQLITE_OK && rc != SQLITE_NOMEM && !io->zErr) {
            io->zErr = sqlite3_mprintf("%s", sqlite3_errmsg(io->db));
          }
          sqlite3_reset(io->pOne);
        } else {
          rc = sqlite3_reset(io->pOne);
          if (rc == SQLITE_OK) rc = SQLITE_ERROR;
        }
      }
      sqlite3_free(zItem);
    } else if (strcmp(zType, "feature-removed") == 0) {
      rc = run(io->pDelF, MEMBER(e, "featureName")->valuestring, 0);
    } else {
      sqlite3_int64 iId = 0;
      sv_real_int(MEMBER(e, "segmentId")->valuedouble, &iId);
      sqlite3_bind_int64(io->pDelS, 1, iId);
      rc = run(io->pDelS, 0, 0);
    }
    sqlite3_free(zAt);
    if (rc != SQLITE_OK) break;
  }
  return rc;
}

/* state_flags_apply_delta(flags, json) -> the last event's eventId */
void sv_fn_flags_apply_delta(sqlite3_context *ctx, int argc,
                             sqlite3_value **argv) {
  Io io;
  cJSON *pRoot = 0;
  (void)argc;
  if (ioInit(&io, ctx, "state_flags_apply_delta", argv) &&
      ioParse(&io, argv[1], &pRoot)) {
    const cJSON *pEvents = cJSON_IsArray(pRoot)    ? pRoot
                           : cJSON_IsObject(pRoot) ? MEMBER(pRoot, "events")
                                                   : 0;
    const cJSON *e, *pLast = 0;
    int rc = SQLITE_OK, i = 0;
    if (!cJSON_IsArray(pEvents)) {
      rc = bad(&io, "json must be a delta: {\"events\": [...]} or an array "
                    "of events");
    }
    cJSON_ArrayForEach(e, pEvents) {
      const char *zType;
      if (rc != SQLITE_OK) break;
      rc = checkEvent(&io, e, i++, &zType);
      pLast = e;
    }
    if (rc != SQLITE_OK) {
      sv_fn_error(ctx, io.zFunc, rc, "%s", io.zErr);
    } else if (ioWrite(&io, writeDelta,
                       (const char *)sqlite3_value_text(argv[1]), pRoot,
                       (void *)(cJSON_IsArray(pRoot) ? "$" : "$.events")) ==
               SQLITE_OK) {
      if (pLast) {
        sqlite3_result_int64(
            ctx, (sqlite3_int64)MEMBER(pLast, "eventId")->valuedouble);
      }
    }
  }
  cJSON_Delete(pRoot);
  ioFree(&io);
}

/* ------------------------------------------------------------ export */

/* state_flags_export(flags) -> {"version":2,"features":[...],
** "segments":[...]} */
void sv_fn_flags_export(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
  Io io;
  sqlite3_stmt *p = 0;
  char *zSegs = 0;
  int rc = SQLITE_NOMEM;
  (void)argc;
  if (!ioInit(&io, ctx, "state_flags_export", argv)) {
    ioFree(&io);
    return;
  }
  zSegs = io.zS ? sqlite3_mprintf(
                      "(SELECT json_group_array(json_object('id', id, 'name', "
                      "name, 'constraints', json(constraints))) FROM (SELECT "
                      "* FROM %s ORDER BY id))",
                      io.zS)
                : sqlite3_mprintf("json('[]')");
  /* A rollout without strategies is written as the flexibleRollout it
  ** stands for; with strategies it plays no part, and is left out. */
  if (zSegs) {
    rc = prep(
        &io,
        sqlite3_mprintf(
            "SELECT json_object('version', 2, 'features', (SELECT "
            "json_group_array(json_object('name', name, 'description', "
            "description, 'enabled', json(CASE WHEN enabled THEN 'true' ELSE "
            "'false' END), 'strategies', CASE WHEN rollout IS NOT NULL AND "
            "json_array_length(strategies) = 0 THEN "
            "json_array(json_object('name', 'flexibleRollout', 'parameters', "
            "json_object('rollout', CAST(rollout AS TEXT), 'stickiness', "
            "'default', 'groupId', name), 'constraints', json('[]'))) ELSE "
            "json(strategies) END, 'variants', json(variants), "
            "'dependencies', json(dependencies))) FROM (SELECT * FROM %s "
            "ORDER BY name)), 'segments', %s)",
            io.zF, zSegs),
        &p);
  }
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(p);
    if (rc == SQLITE_ROW) {
      sqlite3_result_value(ctx, sqlite3_column_value(p, 0));
      rc = SQLITE_OK;
    } else {
      rc = sqlite3_reset(p);
      if (rc == SQLITE_OK) rc = SQLITE_ERROR;
    }
  }
  if (rc != SQLITE_OK) {
    sv_fn_error(ctx, io.zFunc, rc, "%s", sqlite3_errmsg(io.db));
  }
  sqlite3_finalize(p);
  sqlite3_free(zSegs);
  ioFree(&io);
}
