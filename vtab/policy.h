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
** The sweep of expired kv rows (columns STATEVTAB_COL_EXPIRES): every
** INSERT or UPDATE of a row also removes up to SV_SWEEP_MAX rows whose
** expiry is <= now (the writer's clock, as visibility uses), found through
** the index on the expiry column.  Expired rows are invisible already; the
** sweep keeps them from piling up, in bounded steps, without a daemon.
*/
#define SV_SWEEP_MAX 100

#endif /* SV_POLICY_H */
