/*
** 2026-12-03
**
** pq_api.h -- the libpq functions the PostgreSQL store calls, reached
** through pointers that sv_pq_load() fills from libpq, opened with dlopen
** when a table first names the store (vtab/dynload.c): statevtab.so does
** not link libpq, and loads on a machine without it.  Include after
** <libpq-fe.h>.  A new libpq function goes in SV_PQ_SYMS and gets its
** #define below.
*/
#ifndef SV_PQ_API_H
#define SV_PQ_API_H

/* clang-format off */
#define SV_PQ_SYMS(X) \
  X(PQbackendPID) \
  X(PQclear) \
  X(PQcmdStatus) \
  X(PQcmdTuples) \
  X(PQconnectdbParams) \
  X(PQconninfo) \
  X(PQconninfoFree) \
  X(PQconninfoParse) \
  X(PQconsumeInput) \
  X(PQenterPipelineMode) \
  X(PQerrorMessage) \
  X(PQescapeIdentifier) \
  X(PQexec) \
  X(PQexecParams) \
  X(PQexitPipelineMode) \
  X(PQfinish) \
  X(PQflush) \
  X(PQfreemem) \
  X(PQgetResult) \
  X(PQgetisnull) \
  X(PQgetlength) \
  X(PQgetvalue) \
  X(PQisBusy) \
  X(PQnotifies) \
  X(PQntuples) \
  X(PQpipelineSync) \
  X(PQresultErrorField) \
  X(PQresultErrorMessage) \
  X(PQresultStatus) \
  X(PQsendPrepare) \
  X(PQsendQuery) \
  X(PQsendQueryParams) \
  X(PQsendQueryPrepared) \
  X(PQserverVersion) \
  X(PQsetNoticeProcessor) \
  X(PQsetnonblocking) \
  X(PQsocket) \
  X(PQstatus)
/* clang-format on */

#define SV_PQ_FIELD(f) __typeof__(f) *f;
typedef struct sv_pq_api {
  SV_PQ_SYMS(SV_PQ_FIELD)
} sv_pq_api;
#undef SV_PQ_FIELD

extern sv_pq_api sv_pq;

/* Load libpq once per process; SQLITE_OK, or SQLITE_ERROR with *pzErr
** (from sqlite3_malloc) naming the library and the package to install. */
int sv_pq_load(char **pzErr);

#ifndef SV_DYNLOAD_IMPL
#define PQbackendPID (sv_pq.PQbackendPID)
#define PQclear (sv_pq.PQclear)
#define PQcmdStatus (sv_pq.PQcmdStatus)
#define PQcmdTuples (sv_pq.PQcmdTuples)
#define PQconnectdbParams (sv_pq.PQconnectdbParams)
#define PQconninfo (sv_pq.PQconninfo)
#define PQconninfoFree (sv_pq.PQconninfoFree)
#define PQconninfoParse (sv_pq.PQconninfoParse)
#define PQconsumeInput (sv_pq.PQconsumeInput)
#define PQenterPipelineMode (sv_pq.PQenterPipelineMode)
#define PQerrorMessage (sv_pq.PQerrorMessage)
#define PQescapeIdentifier (sv_pq.PQescapeIdentifier)
#define PQexec (sv_pq.PQexec)
#define PQexecParams (sv_pq.PQexecParams)
#define PQexitPipelineMode (sv_pq.PQexitPipelineMode)
#define PQfinish (sv_pq.PQfinish)
#define PQflush (sv_pq.PQflush)
#define PQfreemem (sv_pq.PQfreemem)
#define PQgetResult (sv_pq.PQgetResult)
#define PQgetisnull (sv_pq.PQgetisnull)
#define PQgetlength (sv_pq.PQgetlength)
#define PQgetvalue (sv_pq.PQgetvalue)
#define PQisBusy (sv_pq.PQisBusy)
#define PQnotifies (sv_pq.PQnotifies)
#define PQntuples (sv_pq.PQntuples)
#define PQpipelineSync (sv_pq.PQpipelineSync)
#define PQresultErrorField (sv_pq.PQresultErrorField)
#define PQresultErrorMessage (sv_pq.PQresultErrorMessage)
#define PQresultStatus (sv_pq.PQresultStatus)
#define PQsendPrepare (sv_pq.PQsendPrepare)
#define PQsendQuery (sv_pq.PQsendQuery)
#define PQsendQueryParams (sv_pq.PQsendQueryParams)
#define PQsendQueryPrepared (sv_pq.PQsendQueryPrepared)
#define PQserverVersion (sv_pq.PQserverVersion)
#define PQsetNoticeProcessor (sv_pq.PQsetNoticeProcessor)
#define PQsetnonblocking (sv_pq.PQsetnonblocking)
#define PQsocket (sv_pq.PQsocket)
#define PQstatus (sv_pq.PQstatus)
#endif

#endif /* SV_PQ_API_H */
