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

#endif /* SV_POLICY_H */
