/*
** 2026-12-03
**
** redis_api.h -- the hiredis functions the Redis store calls, reached
** through pointers that sv_redis_load() fills from hiredis, opened with
** dlopen when a table first names the store (vtab/dynload.c): statevtab.so
** does not link hiredis, and loads on a machine without it.  Include after
** <hiredis/hiredis.h>.  A new hiredis function goes in SV_REDIS_SYMS and
** gets its #define below.
*/
#ifndef SV_REDIS_API_H
#define SV_REDIS_API_H

/* clang-format off */
#define SV_REDIS_SYMS(X) \
  X(freeReplyObject) \
  X(redisAppendCommandArgv) \
  X(redisAppendFormattedCommand) \
  X(redisBufferRead) \
  X(redisCommandArgv) \
  X(redisConnectUnixWithTimeout) \
  X(redisConnectWithTimeout) \
  X(redisFree) \
  X(redisGetReply) \
  X(redisGetReplyFromReader) \
  X(redisSetTimeout)
/* clang-format on */

#define SV_REDIS_FIELD(f) __typeof__(f) *f;
typedef struct sv_redis_api {
  SV_REDIS_SYMS(SV_REDIS_FIELD)
} sv_redis_api;
#undef SV_REDIS_FIELD

extern sv_redis_api sv_redis;

/* Load hiredis once per process; SQLITE_OK, or SQLITE_ERROR with *pzErr
** (from sqlite3_malloc) naming the library and the package to install. */
int sv_redis_load(char **pzErr);

#ifndef SV_DYNLOAD_IMPL
#define freeReplyObject (sv_redis.freeReplyObject)
#define redisAppendCommandArgv (sv_redis.redisAppendCommandArgv)
#define redisAppendFormattedCommand (sv_redis.redisAppendFormattedCommand)
#define redisBufferRead (sv_redis.redisBufferRead)
#define redisCommandArgv (sv_redis.redisCommandArgv)
#define redisConnectUnixWithTimeout (sv_redis.redisConnectUnixWithTimeout)
#define redisConnectWithTimeout (sv_redis.redisConnectWithTimeout)
#define redisFree (sv_redis.redisFree)
#define redisGetReply (sv_redis.redisGetReply)
#define redisGetReplyFromReader (sv_redis.redisGetReplyFromReader)
#define redisSetTimeout (sv_redis.redisSetTimeout)
#endif

#endif /* SV_REDIS_API_H */
