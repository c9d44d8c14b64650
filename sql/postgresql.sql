-- sql/postgresql.sql -- the server side of statevtab's PostgreSQL store.
--
-- The store (vtab/store_pg.c) creates the tables of a namespace from the
-- entity descriptors, then runs this file with @S@ replaced by the quoted
-- schema name (PQescapeIdentifier) and $sv$, the dollar quote of every
-- function body, by a tag that the quoted name does not contain ($sv$,
-- else $sv1$, $sv2$, ...): a schema name lands inside the bodies, where
-- its own "$sv$" would end them early.  Write bodies as $sv$ ... $sv$ and
-- use no other dollar quote.  Everything is created idempotently, under an
-- advisory lock, so two processes may set up the same schema at once.  Each atomic primitive of
-- the store is one function call: one round trip, one statement, atomic,
-- on the server's clock.  Functions pin search_path so that they never
-- resolve a name through a schema an attacker controls.

-- Version 8: columns appended to the tasks entity since the schema was
-- made (CREATE TABLE IF NOT EXISTS leaves an older table as it is).  They
-- land at the end, in the descriptor's order, as the store reads them.
ALTER TABLE @S@.tasks ADD COLUMN IF NOT EXISTS partition_key text,
  ADD COLUMN IF NOT EXISTS depends_on text;

-- Milliseconds since the epoch, the server's clock.  A SQL-standard body,
-- bound when created (no search_path at call time) and without a SET
-- clause, so that the planner inlines it: a call costs no function call and
-- no planning, in the functions below and in the store's statements.
CREATE OR REPLACE FUNCTION @S@.sv_now() RETURNS bigint
LANGUAGE sql VOLATILE
RETURN (extract(epoch FROM clock_timestamp()) * 1000)::bigint;

-- The id of the k-th dead letter (k = 0, 1, ...) of a claim or failure
-- whose client made the id p_base: p_base itself, then with k added to its
-- last @SV_DEAD_ID_TAIL@ hex digits (vtab/policy.h).  Ids are made by the
-- client only (sv_gen_id in vtab/util.c).
CREATE OR REPLACE FUNCTION @S@.sv_dead_id(p_base text, p_k bigint)
RETURNS text LANGUAGE sql IMMUTABLE
RETURN CASE WHEN p_k = 0 THEN p_base ELSE
  substr(p_base, 1, length(p_base) - @SV_DEAD_ID_TAIL@)
  || lpad(to_hex((('x' || lpad(right(p_base, @SV_DEAD_ID_TAIL@), 16, '0'))
                  ::bit(64)::bigint + p_k)
                 % (1::bigint << (4 * @SV_DEAD_ID_TAIL@))),
          @SV_DEAD_ID_TAIL@, '0') END;

-- The full task as JSON text (JSON columns nested, not quoted).
CREATE OR REPLACE FUNCTION @S@.sv_task_json(t @S@.tasks) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $sv$
  -- (the columns come from the entity descriptor: store_pg.c writes them)
  SELECT json_build_object(@SV_TASK_JSON_ARGS@)::text
$sv$;

-- Mark a task dead (keeping its error unless p_error is given) and, when
-- p_dead is an id, write its dead letter with that id and p_reason.
CREATE OR REPLACE FUNCTION @S@.sv_die(p_rid bigint, p_error text,
                                      p_reason text, p_dead text,
                                      p_now bigint) RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  t @S@.tasks;
BEGIN
  UPDATE @S@.tasks SET state = 'dead', error = coalesce(p_error, error),
         completed_at = p_now, updated_at = p_now, lease_owner = NULL,
         lease_expires_at = NULL
   WHERE _rid = p_rid RETURNING * INTO t;
  IF p_dead IS NOT NULL AND FOUND THEN
    INSERT INTO @S@.dead_letters(id, task_id, queue, name, payload, attempts,
                                 reason, task, died_at)
    VALUES (p_dead, t.id, t.queue, t.name, t.payload, t.attempts,
            p_reason, @S@.sv_task_json(t), p_now);
  END IF;
END
$sv$;

-- Complete a task held with token p_token.
CREATE OR REPLACE FUNCTION @S@.sv_complete(p_id text, p_token bigint,
                                           p_result text) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
BEGIN
  UPDATE @S@.tasks SET state = 'completed', result = p_result,
         completed_at = n, updated_at = n, lease_owner = NULL,
         lease_expires_at = NULL
   WHERE id = p_id AND lease_token = p_token AND state = 'claimed';
  RETURN FOUND;
END
$sv$;

-- The claims of each rate limit, "r:q:<queue>" or "r:n:<name>": how many
-- (claims) per step of the period (step: the step's start; SV_RATE_STEPS in
-- vtab/policy.h).  A row per step: a claim rewrites a row of a few bytes.
CREATE TABLE IF NOT EXISTS @S@.rates (key text COLLATE "C", step bigint,
                                      claims bigint NOT NULL,
                                      PRIMARY KEY (key, step));

-- Add p_n claims made at p_now to the rate of key p_key (the caller holds
-- its lock); the first claim of a step also drops the steps that ended
-- before the window of p_per.  (PL/pgSQL: its plans are kept for the
-- session; a SQL function's statements were planned again at every call.)
CREATE OR REPLACE FUNCTION @S@.sv_rate_add(p_key text, p_per bigint,
                                           p_n bigint, p_now bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  w bigint := greatest(p_per / @SV_RATE_STEPS@, 1);
  fresh boolean;
BEGIN
  INSERT INTO @S@.rates AS rl (key, step, claims)
  VALUES (p_key, p_now - p_now % w, p_n)
  ON CONFLICT (key, step) DO UPDATE SET claims = rl.claims + excluded.claims
  RETURNING rl.xmax = 0 INTO fresh;
  IF fresh THEN
    DELETE FROM @S@.rates WHERE key = p_key AND step <= p_now - p_per - w;
  END IF;
END
$sv$;

-- Claim up to p_n tasks (see statevtab_claim in statevtab.h).  Returns the
-- claimed rows in claim order, after one row per stale completion with
-- _rid = -1, state = 'stale', id and lease_token set.  Set-based: one UPDATE
-- completes every task of p_cids, one UPDATE claims up to p_n tasks when
-- no limits are given; expired leases are found
-- through tasks_expiry, so that neither step grows with the tasks queued,
-- in flight or done.  plan_cache_mode = force_generic_plan: PL/pgSQL would
-- otherwise plan the statements with NULL-able parameters (p_names,
-- p_tags, qs) again at every call (their custom plans look cheaper than
-- the generic one), about 0.15 ms per claim; one plan per session instead.
CREATE OR REPLACE FUNCTION @S@.sv_claim(
    p_queues text[], p_worker text, p_lease bigint, p_n integer,
    p_names text[], p_tags text, p_lkeys text[], p_lqueue boolean[],
    p_lvals bigint[], p_lper bigint[], p_cids text[], p_ctoks bigint[],
    p_cres text[], p_dead text) RETURNS SETOF @S@.tasks
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan AS $sv$
DECLARE
  n bigint := @S@.sv_now();
  t @S@.tasks;
  r record;
  taken integer := 0;
  used bigint[];
  done bigint[];
  k bigint;
  nc integer := coalesce(array_length(p_cids, 1), 0);
  nl integer := coalesce(array_length(p_lkeys, 1), 0);
  ok boolean;
  cnt bigint;
  lim integer;
  cur refcursor;
  qs text[];
  qn text;
  nd bigint := 0;
  lk text[];
  added bigint[];
  ln bigint;
  fast boolean;
BEGIN
  IF nc = 1 THEN
    UPDATE @S@.tasks SET state = 'completed', result = p_cres[1],
           completed_at = n, updated_at = n, lease_owner = NULL,
           lease_expires_at = NULL
     WHERE id = p_cids[1] AND lease_token = p_ctoks[1] AND state = 'claimed';
    IF NOT FOUND THEN
      t := NULL;
      t._rid := -1;
      t.id := p_cids[1];
      t.lease_token := p_ctoks[1];
      t.state := 'stale';
      RETURN NEXT t;
    END IF;
  ELSIF nc > 1 THEN
    -- One statement for the list, with the outcome of completing the
    -- entries one at a time in order: only the entries whose token is the
    -- task's current one can match, and of several with the same id and
    -- token the first completes and the others are stale (DISTINCT ON).
    -- Each entry looks its task up by id (a nested loop over the list):
    -- with the list as an "id = ANY" filter instead, the generic plan
    -- joined every task with every entry (100 x 100 for a batch of 100).
    WITH d AS (
      UPDATE @S@.tasks c SET state = 'completed', result = u.res,
             completed_at = n, updated_at = n, lease_owner = NULL,
             lease_expires_at = NULL
        FROM (SELECT DISTINCT ON (x.id, x.tok) x.id, x.tok, x.res, x.k
                FROM unnest(p_cids, p_ctoks, p_cres) WITH ORDINALITY
                     AS x(id, tok, res, k)
               ORDER BY x.id, x.tok, x.k) u
       WHERE c.id = u.id AND c.lease_token = u.tok AND c.state = 'claimed'
      RETURNING u.k)
    SELECT pg_catalog.array_agg(d.k) INTO done FROM d;
    IF coalesce(pg_catalog.cardinality(done), 0) < nc THEN
      FOR k IN 1 .. nc LOOP
        CONTINUE WHEN k = ANY (done);
        t := NULL;
        t._rid := -1;
        t.id := p_cids[k];
        t.lease_token := p_ctoks[k];
        t.state := 'stale';
        RETURN NEXT t;
      END LOOP;
    END IF;
  END IF;
  -- The queues that are not paused (once, rather than per candidate).
  qs := ARRAY(SELECT x FROM unnest(p_queues) x
               WHERE NOT EXISTS (SELECT 1 FROM @S@.queues q WHERE q.queue = x));
  IF coalesce(array_length(qs, 1), 0) = 0 THEN
    RETURN;
  END IF;
  -- Expired leases: dead once attempts are used up, else runnable again.
  -- One queue at a time, through tasks_expiry whatever the statistics:
  -- "(state = 'claimed') IS TRUE" is no index condition, so no index of
  -- state (indexes=, or the full tasks_claim of version 3) can serve the
  -- statement -- with statistics taken before the tasks were claimed, one
  -- looked cheaper and the claim walked every task in flight (20,000:
  -- 4.5 ms a claim).
  FOREACH qn IN ARRAY qs LOOP
    FOR r IN SELECT _rid, attempts >= max_attempts AS spent FROM @S@.tasks
              WHERE queue = qn AND lease_expires_at <= n
                AND (state = 'claimed') IS TRUE
              ORDER BY queue, lease_expires_at
                FOR UPDATE SKIP LOCKED LOOP
      IF r.spent THEN
        PERFORM @S@.sv_die(r._rid, NULL, @SV_REASON_LEASE_EXPIRED@,
                           @S@.sv_dead_id(p_dead, nd), n);
        nd := nd + 1;
      ELSE
        UPDATE @S@.tasks SET state = 'pending', lease_owner = NULL,
               lease_expires_at = NULL, updated_at = n WHERE _rid = r._rid;
      END IF;
    END LOOP;
  END LOOP;
  IF p_n <= 0 THEN
    RETURN;
  END IF;
  ln := p_n;
  fast := nl = 0;
  IF nl > 0 THEN
    -- Limits and rates: first take a lock per key ("l:" a concurrency
    -- limit, "r:" a rate; then "q:<queue>" or "n:<name>"), in key order
    -- (two claims cannot deadlock), so that claims with the same key count
    -- one after the other; then count each, on a snapshot taken after the
    -- lock.  Transaction-level advisory locks, keyed by the OID of this
    -- schema's tasks row type (pg_typeof(t)) and the key's hash: no row
    -- written, held to the end of the transaction.
    lk := ARRAY(SELECT CASE WHEN coalesce(p_lper[i], 0) > 0 THEN 'r:' ELSE 'l:'
                       END || CASE WHEN p_lqueue[i] THEN 'q:' ELSE 'n:' END
                       || p_lkeys[i]
                  FROM generate_subscripts(p_lkeys, 1) i ORDER BY i);
    PERFORM pg_catalog.pg_advisory_xact_lock(
              pg_catalog.pg_typeof(t)::oid::integer, pg_catalog.hashtext(x))
       FROM (SELECT DISTINCT x FROM unnest(lk) x ORDER BY x) y;
    -- The time after the wait: a claim that waited on the lock must not
    -- stamp its claims earlier than those it waited for.
    n := @S@.sv_now();
    used := array_fill(NULL::bigint, ARRAY[greatest(nl, 1)]);
    added := array_fill(0::bigint, ARRAY[greatest(nl, 1)]);
    FOR k IN 1 .. nl LOOP
      IF coalesce(p_lper[k], 0) > 0 THEN
        SELECT coalesce(sum(rl.claims), 0) INTO cnt FROM @S@.rates rl
         WHERE rl.key = lk[k]
           AND rl.step > n - p_lper[k] - greatest(p_lper[k] / @SV_RATE_STEPS@, 1);
      ELSIF p_lqueue[k] THEN
        SELECT count(*) INTO cnt FROM @S@.tasks
         WHERE queue = p_lkeys[k] AND lease_expires_at > n
           AND (state = 'claimed') IS TRUE;
      ELSE
        SELECT count(*) INTO cnt FROM @S@.tasks
         WHERE name = p_lkeys[k] AND state = 'claimed'
           AND lease_expires_at > n;
      END IF;
      used[k] := cnt;
      -- A queue whose own limit or rate is used up is not walked.
      IF p_lqueue[k] AND cnt >= p_lvals[k] THEN
        qs := array_remove(qs, p_lkeys[k]);
      END IF;
    END LOOP;
    IF coalesce(array_length(qs, 1), 0) = 0 THEN
      RETURN;
    END IF;
    -- Limits of one queue only, the one claimed: as many as they allow, in
    -- one statement as without limits.
    IF pg_catalog.array_length(qs, 1) = 1 AND true = ALL (p_lqueue) THEN
      fast := true;
      FOR k IN 1 .. nl LOOP
        IF p_lkeys[k] = qs[1] THEN
          ln := least(ln, p_lvals[k] - used[k]);
        END IF;
      END LOOP;
    END IF;
  END IF;
  -- No limits: one statement claims them all.  One queue: "queue = ..."
  -- walks the (queue, state, priority, run_at, id) index in claim order and
  -- stops after p_n rows; several queues need a sort.
  IF fast AND ln = 1 AND pg_catalog.array_length(qs, 1) = 1 THEN
    -- One task of one queue (a worker loop): one statement.
    UPDATE @S@.tasks w SET state = 'claimed', lease_owner = p_worker,
           lease_token = coalesce(w.lease_token, 0) + 1,
           lease_expires_at = n + p_lease, attempts = w.attempts + 1,
           updated_at = n
     WHERE w._rid = (SELECT c._rid FROM @S@.tasks c
                      WHERE c.queue = qs[1] AND c.state = 'pending'
                        AND c.run_at <= n
                        AND (p_names IS NULL OR c.name = ANY (p_names))
                        AND (p_tags IS NULL
                             OR c.tags::jsonb @> p_tags::jsonb)
                      ORDER BY c.priority, c.run_at, c.id LIMIT 1
                        FOR UPDATE SKIP LOCKED)
    RETURNING w.* INTO t;
    IF FOUND THEN
      RETURN NEXT t;
      PERFORM @S@.sv_rate_add(lk[j], p_lper[j], 1, n)
         FROM generate_subscripts(lk, 1) j
        WHERE p_lper[j] > 0 AND p_lkeys[j] = qs[1];
    END IF;
    RETURN;
  END IF;
  IF fast AND ln <= 0 THEN
    RETURN;
  END IF;
  IF fast THEN
    IF pg_catalog.array_length(qs, 1) = 1 THEN
      RETURN QUERY
        WITH c AS MATERIALIZED (
          SELECT _rid FROM @S@.tasks c
           WHERE queue = qs[1] AND state = 'pending' AND run_at <= n
             AND (p_names IS NULL OR name = ANY (p_names))
             AND (p_tags IS NULL OR tags::jsonb @> p_tags::jsonb)
           ORDER BY priority, run_at, id LIMIT ln FOR UPDATE SKIP LOCKED),
        u AS (
          UPDATE @S@.tasks w SET state = 'claimed', lease_owner = p_worker,
                 lease_token = coalesce(w.lease_token, 0) + 1,
                 lease_expires_at = n + p_lease, attempts = w.attempts + 1,
                 updated_at = n
            FROM c WHERE w._rid = c._rid RETURNING w.*)
        SELECT * FROM u ORDER BY priority, run_at, id;
      GET DIAGNOSTICS cnt = ROW_COUNT;
      IF cnt > 0 THEN
        PERFORM @S@.sv_rate_add(lk[j], p_lper[j], cnt, n)
           FROM generate_subscripts(lk, 1) j
          WHERE p_lper[j] > 0 AND p_lkeys[j] = qs[1];
      END IF;
    ELSE
      RETURN QUERY
        WITH c AS MATERIALIZED (
          SELECT _rid FROM @S@.tasks c
           WHERE queue = ANY (qs) AND state = 'pending' AND run_at <= n
             AND (p_names IS NULL OR name = ANY (p_names))
             AND (p_tags IS NULL OR tags::jsonb @> p_tags::jsonb)
           ORDER BY priority, run_at, id LIMIT p_n FOR UPDATE SKIP LOCKED),
        u AS (
          UPDATE @S@.tasks w SET state = 'claimed', lease_owner = p_worker,
                 lease_token = coalesce(w.lease_token, 0) + 1,
                 lease_expires_at = n + p_lease, attempts = w.attempts + 1,
                 updated_at = n
            FROM c WHERE w._rid = c._rid RETURNING w.*)
        SELECT * FROM u ORDER BY priority, run_at, id;
    END IF;
    RETURN;
  END IF;
  -- Candidates one at a time (no LIMIT: limits may turn them down).
  lim := NULL;
  IF pg_catalog.array_length(qs, 1) = 1 THEN
    OPEN cur FOR SELECT _rid, name, queue FROM @S@.tasks c
                  WHERE queue = qs[1] AND state = 'pending'
                    AND run_at <= n
                    AND (p_names IS NULL OR name = ANY (p_names))
                    AND (p_tags IS NULL OR tags::jsonb @> p_tags::jsonb)
                  ORDER BY priority, run_at, id LIMIT lim
                    FOR UPDATE SKIP LOCKED;
  ELSE
    OPEN cur FOR SELECT _rid, name, queue FROM @S@.tasks c
                  WHERE queue = ANY (qs) AND state = 'pending'
                    AND run_at <= n
                    AND (p_names IS NULL OR name = ANY (p_names))
                    AND (p_tags IS NULL OR tags::jsonb @> p_tags::jsonb)
                  ORDER BY priority, run_at, id LIMIT lim
                    FOR UPDATE SKIP LOCKED;
  END IF;
  LOOP
    FETCH cur INTO r;
    EXIT WHEN NOT FOUND;
    ok := true;
    FOR k IN 1 .. nl LOOP
      IF ((p_lqueue[k] AND r.queue = p_lkeys[k])
          OR (NOT p_lqueue[k] AND r.name = p_lkeys[k]))
         AND used[k] >= p_lvals[k] THEN
        ok := false;
      END IF;
    END LOOP;
    CONTINUE WHEN NOT ok;
    FOR k IN 1 .. nl LOOP
      IF (p_lqueue[k] AND r.queue = p_lkeys[k])
         OR (NOT p_lqueue[k] AND r.name = p_lkeys[k]) THEN
        used[k] := used[k] + 1;
        added[k] := added[k] + 1;
      END IF;
    END LOOP;
    UPDATE @S@.tasks SET state = 'claimed', lease_owner = p_worker,
           lease_token = coalesce(lease_token, 0) + 1,
           lease_expires_at = n + p_lease, attempts = attempts + 1,
           updated_at = n
     WHERE _rid = r._rid RETURNING * INTO t;
    RETURN NEXT t;
    taken := taken + 1;
    EXIT WHEN taken >= p_n;
  END LOOP;
  CLOSE cur;
  PERFORM @S@.sv_rate_add(lk[j], p_lper[j], added[j], n)
     FROM generate_subscripts(lk, 1) j WHERE p_lper[j] > 0 AND added[j] > 0;
END
$sv$;

-- Version 7: rate limits (p_lper).  Processes of versions 5 and 6 call
-- sv_claim without it.
CREATE OR REPLACE FUNCTION @S@.sv_claim(
    p_queues text[], p_worker text, p_lease bigint, p_n integer,
    p_names text[], p_tags text, p_lkeys text[], p_lqueue boolean[],
    p_lvals bigint[], p_cids text[], p_ctoks bigint[], p_cres text[],
    p_dead text) RETURNS SETOF @S@.tasks
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
  SELECT * FROM @S@.sv_claim(p_queues, p_worker, p_lease, p_n, p_names,
    p_tags, p_lkeys, p_lqueue, p_lvals, NULL::bigint[], p_cids, p_ctoks,
    p_cres, p_dead)
$sv$;

-- Renew a lease: the new expiry, or NULL when the token is not current.
CREATE OR REPLACE FUNCTION @S@.sv_renew(p_id text, p_token bigint,
                                        p_lease bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
BEGIN
  UPDATE @S@.tasks SET lease_expires_at = n + p_lease, updated_at = n
   WHERE id = p_id AND lease_token = p_token AND state = 'claimed';
  IF FOUND THEN
    RETURN n + p_lease;
  END IF;
  RETURN NULL;
END
$sv$;

-- Fail a task: 'retry', 'dead', or NULL when the token is not current.
-- Default back-off (vtab/policy.h): d = min(base * 2^(attempts-1), cap) ms,
-- then a random delay in [d/2, d].
CREATE OR REPLACE FUNCTION @S@.sv_fail(p_id text, p_token bigint,
                                       p_error text, p_retry bigint,
                                       p_dead text) RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
  r record;
  d bigint;
BEGIN
  SELECT _rid, attempts, max_attempts INTO r FROM @S@.tasks
   WHERE id = p_id AND lease_token = p_token AND state = 'claimed'
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  IF r.attempts >= r.max_attempts THEN
    PERFORM @S@.sv_die(r._rid, p_error, p_error, p_dead, n);
    RETURN 'dead';
  END IF;
  IF p_retry IS NULL THEN
    d := least(@SV_BACKOFF_BASE_MS@ * power(2, greatest(r.attempts, 1) - 1),
               @SV_BACKOFF_CAP_MS@)::bigint;
    p_retry := d / 2 + floor(random() * (d / 2 + 1))::bigint;
  END IF;
  UPDATE @S@.tasks SET state = 'pending', run_at = n + p_retry,
         error = p_error, updated_at = n, lease_owner = NULL,
         lease_expires_at = NULL
   WHERE _rid = r._rid;
  RETURN 'retry';
END
$sv$;

-- Take or re-enter a lease: the fencing token, or NULL when held by another.
CREATE OR REPLACE FUNCTION @S@.sv_lease(p_name text, p_owner text,
                                        p_ttl bigint) RETURNS bigint
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
  l record;
BEGIN
  LOOP
    SELECT _rid, owner, token, depth, expires_at INTO l FROM @S@.leases
     WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
      INSERT INTO @S@.leases(name, owner, token, depth, expires_at,
                             acquired_at)
      VALUES (p_name, p_owner, 1, 1, n + p_ttl, n)
      ON CONFLICT (name) DO NOTHING;
      IF FOUND THEN
        RETURN 1;
      END IF;
      CONTINUE; -- another session inserted it first: look again
    END IF;
    IF l.expires_at > n AND l.depth > 0 THEN
      IF l.owner <> p_owner THEN
        RETURN NULL;
      END IF;
      UPDATE @S@.leases SET depth = depth + 1, expires_at = n + p_ttl
       WHERE _rid = l._rid;
      RETURN l.token;
    END IF;
    UPDATE @S@.leases SET owner = p_owner, token = token + 1, depth = 1,
           expires_at = n + p_ttl, acquired_at = n
     WHERE _rid = l._rid;
    RETURN l.token + 1;
  END LOOP;
END
$sv$;

-- Release one level of a lease; at depth 0 it expires now (the row stays so
-- that the next token is still greater).
CREATE OR REPLACE FUNCTION @S@.sv_release(p_name text, p_owner text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
BEGIN
  UPDATE @S@.leases SET depth = depth - 1,
         expires_at = CASE WHEN depth <= 1 THEN n ELSE expires_at END
   WHERE name = p_name AND owner = p_owner AND expires_at > n AND depth > 0;
  RETURN FOUND;
END
$sv$;

-- Take the oldest unconsumed signal exactly once.
CREATE OR REPLACE FUNCTION @S@.sv_take(p_exec text, p_name text)
RETURNS text
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  s record;
BEGIN
  SELECT _rid, coalesce(payload, '{}') AS payload INTO s FROM @S@.signals
   WHERE execution_id = p_exec AND name = p_name AND consumed_at IS NULL
   ORDER BY created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  UPDATE @S@.signals SET consumed_at = @S@.sv_now() WHERE _rid = s._rid;
  RETURN s.payload;
END
$sv$;

-- Wake-up for state_wait: every new or re-scheduled runnable task notifies
-- the namespace's channel, 'sv_' || left(md5(schema), 24), with its queue:
-- once per statement and queue for inserts (a batch of 100 rows is one
-- trigger call), per row for updates that make a task pending (the WHEN
-- clause keeps claims and completions from calling the function at all).
CREATE OR REPLACE FUNCTION @S@.sv_notify() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  IF NEW.state = 'pending' THEN
    PERFORM pg_notify('sv_' || left(md5(TG_TABLE_SCHEMA), 24), NEW.queue);
  END IF;
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE FUNCTION @S@.sv_notify_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  PERFORM pg_notify('sv_' || left(md5(TG_TABLE_SCHEMA), 24), q)
     FROM (SELECT DISTINCT queue AS q FROM sv_new WHERE state = 'pending') s;
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE TRIGGER sv_notify AFTER UPDATE OF state, run_at
  ON @S@.tasks FOR EACH ROW WHEN (NEW.state = 'pending')
  EXECUTE FUNCTION @S@.sv_notify();

CREATE OR REPLACE TRIGGER sv_notify_insert AFTER INSERT ON @S@.tasks
  REFERENCING NEW TABLE AS sv_new FOR EACH STATEMENT
  EXECUTE FUNCTION @S@.sv_notify_insert();

-- Wake-ups for a waiting state_lease: a lease that frees (released to
-- depth 0, its expiry brought forward, or deleted) notifies the channel
-- 'svl_' || left(md5(schema), 24) with its name.  A lease that is taken or
-- renewed calls nothing (the WHEN clause).  (Schema 6.)
CREATE OR REPLACE FUNCTION @S@.sv_notify_lease() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  PERFORM pg_notify('svl_' || left(md5(TG_TABLE_SCHEMA), 24), OLD.name);
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE TRIGGER sv_notify_lease AFTER UPDATE ON @S@.leases
  FOR EACH ROW WHEN (NEW.depth <= 0 OR NEW.expires_at < OLD.expires_at)
  EXECUTE FUNCTION @S@.sv_notify_lease();

CREATE OR REPLACE TRIGGER sv_notify_lease_delete AFTER DELETE ON @S@.leases
  FOR EACH ROW EXECUTE FUNCTION @S@.sv_notify_lease();

-- Wake-ups for a waiting state_take: a new unconsumed signal notifies the
-- channel 'svs_' || left(md5(schema), 24) with its execution id.
CREATE OR REPLACE FUNCTION @S@.sv_notify_signal() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  PERFORM pg_notify('svs_' || left(md5(TG_TABLE_SCHEMA), 24),
                    NEW.execution_id);
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE TRIGGER sv_notify_signal AFTER INSERT ON @S@.signals
  FOR EACH ROW WHEN (NEW.consumed_at IS NULL)
  EXECUTE FUNCTION @S@.sv_notify_signal();

CREATE OR REPLACE TRIGGER sv_notify_signal_update
  AFTER UPDATE OF execution_id, name, consumed_at ON @S@.signals
  FOR EACH ROW WHEN (NEW.consumed_at IS NULL)
  EXECUTE FUNCTION @S@.sv_notify_signal();

-- Expired leases, found without walking the tasks in flight (schemas of
-- version 1 lack it: this file adds it).  Only claimed tasks have a lease
-- expiry.  Not "WHERE state = 'claimed'": every completion, failure and
-- renewal says "id = $1 AND state = 'claimed'", and with statistics taken
-- before the tasks were claimed the planner judged that predicate's index
-- tiny and walked it instead of the id's (20,000 tasks in flight: 6 ms a
-- completion instead of 0.05).
CREATE INDEX IF NOT EXISTS tasks_expiry ON @S@.tasks (queue, lease_expires_at)
  WHERE lease_expires_at IS NOT NULL;

-- Version 7: state_metrics counts the tasks of each state of a queue
-- through this index (index-only), except those that tasks_pending and
-- tasks_expiry have: pending, and claimed under a lease.  A claim writes
-- no entry in it; a completion, a failure or a cancellation one.
CREATE INDEX IF NOT EXISTS tasks_queue_state ON @S@.tasks (queue, state)
  WHERE state <> 'pending' AND (state <> 'claimed' OR lease_expires_at IS NULL);

-- Versions 3 and 4 keep fewer task indexes (see entityDdl in store_pg.c):
-- every claim and completion writes each index of the task.  Schemas of
-- versions 1 and 2 (no sv_schema_3) lose the column indexes that version 3
-- makes only on request (indexes=): a table that names the column builds
-- it again.  (A schema of version 3 keeps them: there they were built on
-- request.)  Their full UNIQUE (queue, idempotency_key) constraint stays,
-- next to the new tasks_dedupe: processes of the older versions name it in
-- ON CONFLICT (drop it once none runs: see the README).
DO $sv$
BEGIN
  PERFORM @S@.sv_schema_3();
EXCEPTION WHEN undefined_function THEN
  DROP INDEX IF EXISTS @S@.tasks_state, @S@.tasks_run_at,
    @S@.tasks_created_at, @S@.tasks_completed_at, @S@.tasks_idempotency_key,
    @S@.tasks_lease_expires_at;
END
$sv$;

-- Version 4: the claim index holds the pending tasks only (tasks_pending,
-- made by entityDdl before this script runs); the full tasks_claim (queue,
-- state, priority, run_at, id) of versions 1 to 3 goes.
DROP INDEX IF EXISTS @S@.tasks_claim;

-- Version 5: dead letter ids come from the client (p_dead text; see
-- sv_dead_id).  Processes of versions 1 to 4 call sv_claim and sv_fail
-- with p_dead boolean (always true) and made the ids on the server, with
-- sv_uuid7: these overloads serve them (the id of their call's first dead
-- letter is a random UUID, version 4), and the old sv_die and sv_uuid7 go.
CREATE OR REPLACE FUNCTION @S@.sv_claim(
    p_queues text[], p_worker text, p_lease bigint, p_n integer,
    p_names text[], p_tags text, p_lkeys text[], p_lqueue boolean[],
    p_lvals bigint[], p_cids text[], p_ctoks bigint[], p_cres text[],
    p_dead boolean) RETURNS SETOF @S@.tasks
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
  SELECT * FROM @S@.sv_claim(p_queues, p_worker, p_lease, p_n, p_names,
    p_tags, p_lkeys, p_lqueue, p_lvals, NULL::bigint[], p_cids, p_ctoks,
    p_cres, CASE WHEN p_dead THEN gen_random_uuid()::text END)
$sv$;

CREATE OR REPLACE FUNCTION @S@.sv_fail(p_id text, p_token bigint,
                                       p_error text, p_retry bigint,
                                       p_dead boolean) RETURNS text
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
  SELECT @S@.sv_fail(p_id, p_token, p_error, p_retry,
                     CASE WHEN p_dead THEN gen_random_uuid()::text END)
$sv$;

DROP FUNCTION IF EXISTS @S@.sv_die(bigint, text, text, boolean, bigint);
DROP FUNCTION IF EXISTS @S@.sv_uuid7();

-- Last: the schema is complete.  A process that finds this function skips
-- the whole script (which takes locks on the tables that running claims
-- hold).  Bump the number when this file changes (and in store_pg.c):
-- a schema of an older version then runs the script again, which brings it
-- up to date (sv_schema_1 and sv_schema_2 stay, for the processes of the
-- older versions).  sv_schema_3 to sv_schema_6 too, also in a new
-- schema: processes of versions 3 and 4 call the same functions (or the
-- overloads above) and find what they need, and skip their script, which
-- would make the full tasks_claim again.
CREATE OR REPLACE FUNCTION @S@.sv_schema_3() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 3 $sv$;

CREATE OR REPLACE FUNCTION @S@.sv_schema_4() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 4 $sv$;

CREATE OR REPLACE FUNCTION @S@.sv_schema_5() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 5 $sv$;

-- 6: the wake-up triggers of leases and signals.
CREATE OR REPLACE FUNCTION @S@.sv_schema_6() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 6 $sv$;

-- 7: rate limits (the rates table, sv_claim's p_lper), the schedules table
-- (made from its descriptor by store_pg.c, with every other table, before
-- this script; nothing here uses it: a schedule fires by one statement of
-- the client's, see pgFire), and tasks_queue_state for state_metrics.
-- Processes of version 6 skip their script on sv_schema_6 and never touch
-- them.
CREATE OR REPLACE FUNCTION @S@.sv_schema_7() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 7 $sv$;

-- 8: the tasks columns partition_key and depends_on.
CREATE OR REPLACE FUNCTION @S@.sv_schema_8() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 8 $sv$;

-- 9: the segments table of state_segments (made from its descriptor by
-- store_pg.c before this script, as every table; nothing here uses it).
CREATE OR REPLACE FUNCTION @S@.sv_schema_9() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 9 $sv$;
