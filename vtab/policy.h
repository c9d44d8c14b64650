/*
** 2026-12-03
**
** policy.h -- the queue policy every store follows, defined once.  The
** local store uses these from C; the Redis store's script gets them in the
** prologue store_redis.c writes before sql/redis.lua (buildScript), and the
** PostgreSQL store's setup SQL gets them where sql/postgresql.sql says
** @SV_...@ (store_pg.c substitutes them, as it does @S@).
**
** Default back-off of a failed task after n attempts (state_fail without
** retry_in_ms): d = min(SV_BACKOFF_BASE_MS * 2^(n-1), SV_BACKOFF_CAP_MS),
** then a uniformly random delay in [d/2, d] ("equal jitter").
*/
#ifndef SV_POLICY_H
#define SV_POLICY_H

/* (SV_STR(SV_BACKOFF_BASE_MS) is "1000", for the scripts.) */
#define SV_STR_(x) #x
#define SV_STR(x) SV_STR_(x)

#define SV_BACKOFF_BASE_MS 1000
#define SV_BACKOFF_CAP_MS 3600000

/* The reason of the dead letter of a task whose last lease expired. */
#define SV_REASON_LEASE_EXPIRED "lease expired"

/*
** Ids of dead letters.  Ids are made in one place, sv_gen_id (vtab/util.c:
** UUIDv7, time-ordered per connection, 62 random bits): the local store
** calls it for each dead letter; a remote store's client calls it once per
** claim or failure and passes the id to the server, whose k-th dead letter
** of that call (k = 0, 1, ...) takes the id with k added, modulo 2^48, to
** its last SV_DEAD_ID_TAIL hex digits (48 of the random bits).  The script
** and the SQL functions need no clock, no random numbers and no counter
** key of their own, and the ids of one call stay distinct.
*/
#define SV_DEAD_ID_TAIL 12

/*
** retain= (statevtab_queue_methods.xPurge): a table removes the rows past
** its retention period in steps of at most SV_PURGE_BATCH rows, one step at
** the end of a write or a function call on the table, when the previous
** step removed a full batch (more may be left) or at least
** min(SV_PURGE_EVERY_MS, the period) ago.  Rows of tasks and executions go
** only in a final state: SV_FINAL_STATES(X) calls X once per state.
*/
#define SV_PURGE_BATCH 100
#define SV_PURGE_EVERY_MS 1000
#define SV_FINAL_STATES(X) X("completed") X("failed") X("cancelled") X("dead")
/* ... as the SQL list "'completed', ..., NULL" (NULL matches nothing). */
#define SV_FINAL_SQL_(s) "'" s "', "
#define SV_FINAL_STATES_SQL SV_FINAL_STATES(SV_FINAL_SQL_) "NULL"

/*
** The sweep of expired kv rows (columns STATEVTAB_COL_EXPIRES): every
** INSERT or UPDATE of a row also removes up to SV_SWEEP_MAX rows whose
** expiry is <= now (the writer's clock, as visibility uses), found through
** the index on the expiry column.  Expired rows are invisible already; the
** sweep keeps them from piling up, in bounded steps, without a daemon.
*/
#define SV_SWEEP_MAX 100

/*
** Rate limits (options.rates of state_claim, "n/period"): the stores count
** the claims of a key in steps of SV_RATE_STEP(period) ms, at most
** SV_RATE_STEPS + 1 per key however many claims, and a claim counts every
** step that overlaps its window (now - period, now] -- the step the window
** starts in whole, so that the count is never below the claims of the
** window: no window of the period ever holds more than n claims, and a
** claim may wait up to one step longer than an exact count would make it.
*/
#define SV_RATE_STEPS 100
#define SV_RATE_STEP(per)                                                      \
  ((per) / SV_RATE_STEPS > 0 ? (per) / SV_RATE_STEPS : 1)

/* Schedules (vtab/schedule.c): a tasks table reads its schedules table
** again when its copy is older than this, so a schedule added, changed or
** removed by another process is seen within it; a waiting state_wait looks
** at least this often (x4) for new schedules. */
#define SV_SCHED_RELOAD_MS 250

/*
** Dependencies (depends_on of tasks): a task names at most SV_DEPS_MAX
** tasks it waits for.  Inserted pending with one of them not completed, it
** is 'waiting' until all are; when one of them dies, fails, is cancelled or
** deleted, it is cancelled, with error SV_DEPS_ERROR(id, what), and so are
** the tasks waiting for it.  Every store applies it inside the write that
** ends the dependency.
*/
#define SV_DEPS_MAX 1000
#define SV_DEPS_WHY_DEAD "is dead"
#define SV_DEPS_WHY_FAILED "failed"
#define SV_DEPS_WHY_CANCELLED "was cancelled"
#define SV_DEPS_WHY_DELETED "was deleted"

#endif /* SV_POLICY_H */
