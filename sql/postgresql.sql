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

-- Version 8: partitions (see sv_claim).  The pending tasks by partition,
-- in claim order inside each: a claim of a partitioned queue finds the
-- next partition and its first task with one seek each.  An entry per
-- pending task (a claim writes none: the claimed row is not pending).
CREATE INDEX IF NOT EXISTS tasks_part ON @S@.tasks
  (queue, partition_key, priority, run_at, id) WHERE state = 'pending';
-- Per queue that a claim walked by partitions: the partition it served
-- last (served false: none yet; last NULL: the NULL partition).
CREATE TABLE IF NOT EXISTS @S@.partitions (queue text PRIMARY KEY,
                                           served boolean NOT NULL,
                                           last text);

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
    p_cres text[], p_dead text, p_pq text[], p_pmax bigint[],
    p_pper bigint[]) RETURNS SETOF @S@.tasks
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
  np integer := coalesce(array_length(p_pq, 1), 0);
  nq integer;
  qi integer;
  best integer;
  cserv boolean[];
  clast text[];
  moved boolean[];
  hrid bigint[];
  hkey text[];
  hpri bigint[];
  hrun bigint[];
  hid text[];
  hdone boolean[];
  cnull boolean;
  ckey text;
  snull boolean;
  skey text;
  wrapped boolean;
  isfull boolean;
  plain boolean;
  crid bigint;
  cpri bigint;
  crun bigint;
  cid text;
  walk boolean;
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
  -- Partitions (see the README's "Fairness and partitions"): when a queue
  -- claimed has a pending task with a partition_key, or the claim has
  -- partition limits, the partitions of each queue take turns -- the NULL
  -- partition, then the keys in order, from the one after the partition
  -- the queue's row of the partitions table says was served last.  Each
  -- task claimed is the first, in (priority, run_at, id) order, of the
  -- next partition that has one the limits allow (through tasks_part);
  -- several queues merge by their next tasks' (priority, run_at, id).  The
  -- queues' rows are locked (FOR UPDATE, in queue order): claims of one
  -- partitioned queue take turns, so that the cycle is kept exactly.
  -- Whether a queue has a partitioned pending task: one queue at a time,
  -- in tasks_part's order, so that the plan is a seek of tasks_part (with
  -- "queue = ANY" the generic plan read the whole table, 7 ms at 40,000
  -- tasks, for a queue without partitions next to one with them).
  walk := np > 0;
  IF NOT walk THEN
    FOREACH qn IN ARRAY qs LOOP
      PERFORM 1 FROM @S@.tasks
       WHERE queue = qn AND state = 'pending' AND partition_key IS NOT NULL
       ORDER BY partition_key LIMIT 1;
      walk := FOUND;
      EXIT WHEN walk;
    END LOOP;
  END IF;
  IF walk THEN
    qs := ARRAY(SELECT DISTINCT x FROM unnest(qs) x ORDER BY x);
    nq := pg_catalog.array_length(qs, 1);
    cserv := array_fill(false, ARRAY[nq]);
    clast := array_fill(NULL::text, ARRAY[nq]);
    moved := array_fill(false, ARRAY[nq]);
    hrid := array_fill(NULL::bigint, ARRAY[nq]);
    hkey := array_fill(NULL::text, ARRAY[nq]);
    hpri := array_fill(NULL::bigint, ARRAY[nq]);
    hrun := array_fill(NULL::bigint, ARRAY[nq]);
    hid := array_fill(NULL::text, ARRAY[nq]);
    hdone := array_fill(false, ARRAY[nq]);
    IF nl = 0 THEN
      used := array_fill(0::bigint, ARRAY[1]);
      added := array_fill(0::bigint, ARRAY[1]);
    END IF;
    -- Without filters or name limits, the task the seek of the next
    -- partition finds is that partition's next task.
    plain := p_names IS NULL AND p_tags IS NULL
             AND NOT (false = ANY (coalesce(p_lqueue, '{}')));
    FOR qi IN 1 .. nq LOOP
      SELECT f.served, f.last INTO snull, skey FROM @S@.partitions f
       WHERE f.queue = qs[qi] FOR UPDATE;
      IF NOT FOUND THEN
        INSERT INTO @S@.partitions (queue, served) VALUES (qs[qi], false)
        ON CONFLICT (queue) DO NOTHING;
        SELECT f.served, f.last INTO snull, skey FROM @S@.partitions f
         WHERE f.queue = qs[qi] FOR UPDATE;
      END IF;
      cserv[qi] := snull;
      clast[qi] := skey;
    END LOOP;
    -- The time after the wait, as after the locks of the limits.
    n := @S@.sv_now();
    LOOP
      EXIT WHEN taken >= p_n;
      best := 0;
      FOR qi IN 1 .. nq LOOP
        CONTINUE WHEN hdone[qi];
        IF hrid[qi] IS NULL THEN
          -- The partition after the one served last (none: NULL first)
          -- that has a due task, and that task (crid).
          ckey := NULL;
          crid := NULL;
          IF cserv[qi] AND clast[qi] IS NULL THEN
            SELECT c.partition_key, c._rid, c.priority, c.run_at, c.id
              INTO ckey, crid, cpri, crun, cid FROM @S@.tasks c
             WHERE c.queue = qs[qi] AND c.state = 'pending'
               AND c.partition_key IS NOT NULL AND c.run_at <= n
             ORDER BY c.partition_key, c.priority, c.run_at, c.id LIMIT 1
               FOR UPDATE SKIP LOCKED;
          ELSIF cserv[qi] THEN
            SELECT c.partition_key, c._rid, c.priority, c.run_at, c.id
              INTO ckey, crid, cpri, crun, cid FROM @S@.tasks c
             WHERE c.queue = qs[qi] AND c.state = 'pending'
               AND c.partition_key > clast[qi] AND c.run_at <= n
             ORDER BY c.partition_key, c.priority, c.run_at, c.id LIMIT 1
               FOR UPDATE SKIP LOCKED;
          END IF;
          cnull := ckey IS NULL;
          snull := cnull;
          skey := ckey;
          wrapped := false;
          LOOP
            isfull := false;
            FOR k IN 1 .. np LOOP
              CONTINUE WHEN p_pq[k] <> qs[qi] OR isfull;
              IF coalesce(p_pper[k], 0) > 0 THEN
                SELECT coalesce(sum(rl.claims), 0) INTO cnt FROM @S@.rates rl
                 WHERE rl.key = 'r:p:' || length(qs[qi]) || ':' || qs[qi]
                                || coalesce('=' || ckey, '')
                   AND rl.step > n - p_pper[k]
                                 - greatest(p_pper[k] / @SV_RATE_STEPS@, 1);
              ELSIF cnull THEN
                SELECT count(*) INTO cnt FROM @S@.tasks
                 WHERE queue = qs[qi] AND lease_expires_at > n
                   AND (state = 'claimed') IS TRUE AND partition_key IS NULL;
              ELSE
                SELECT count(*) INTO cnt FROM @S@.tasks
                 WHERE queue = qs[qi] AND lease_expires_at > n
                   AND (state = 'claimed') IS TRUE AND partition_key = ckey;
              END IF;
              isfull := cnt >= p_pmax[k];
            END LOOP;
            IF NOT isfull AND NOT cnull AND plain AND crid IS NOT NULL THEN
              hrid[qi] := crid;
              hkey[qi] := ckey;
              hpri[qi] := cpri;
              hrun[qi] := crun;
              hid[qi] := cid;
              EXIT;
            END IF;
            IF NOT isfull THEN
              IF cnull THEN
                -- (partition_key, constant here, in the ORDER BY: the
                -- cursor's fast-start plan is then tasks_part's seek, not
                -- a walk of the queue's every pending task in
                -- tasks_pending, 4.6 ms at 20,000 of them.)
                OPEN cur FOR SELECT _rid, name, priority, run_at, id
                               FROM @S@.tasks c
                              WHERE queue = qs[qi] AND state = 'pending'
                                AND partition_key IS NULL AND run_at <= n
                                AND (p_names IS NULL OR name = ANY (p_names))
                                AND (p_tags IS NULL
                                     OR tags::jsonb @> p_tags::jsonb)
                              ORDER BY partition_key, priority, run_at, id
                                FOR UPDATE SKIP LOCKED;
              ELSE
                OPEN cur FOR SELECT _rid, name, priority, run_at, id
                               FROM @S@.tasks c
                              WHERE queue = qs[qi] AND state = 'pending'
                                AND partition_key = ckey AND run_at <= n
                                AND (p_names IS NULL OR name = ANY (p_names))
                                AND (p_tags IS NULL
                                     OR tags::jsonb @> p_tags::jsonb)
                              ORDER BY priority, run_at, id
                                FOR UPDATE SKIP LOCKED;
              END IF;
              LOOP
                FETCH cur INTO r;
                EXIT WHEN NOT FOUND;
                ok := true;
                FOR k IN 1 .. nl LOOP
                  IF NOT p_lqueue[k] AND r.name = p_lkeys[k]
                     AND used[k] >= p_lvals[k] THEN
                    ok := false;
                  END IF;
                END LOOP;
                IF ok THEN
                  hrid[qi] := r._rid;
                  hkey[qi] := ckey;
                  hpri[qi] := r.priority;
                  hrun[qi] := r.run_at;
                  hid[qi] := r.id;
                  EXIT;
                END IF;
              END LOOP;
              CLOSE cur;
              EXIT WHEN hrid[qi] IS NOT NULL;
            END IF;
            -- The next partition with a due task; once round the cycle at
            -- most (keys may vanish meanwhile: a key at or past the start,
            -- after the NULL partition, ends it too).
            crid := NULL;
            IF cnull THEN
              SELECT c.partition_key, c._rid, c.priority, c.run_at, c.id
                INTO ckey, crid, cpri, crun, cid FROM @S@.tasks c
               WHERE c.queue = qs[qi] AND c.state = 'pending'
                 AND c.partition_key IS NOT NULL AND c.run_at <= n
               ORDER BY c.partition_key, c.priority, c.run_at, c.id LIMIT 1
                 FOR UPDATE SKIP LOCKED;
              wrapped := true;
            ELSE
              SELECT c.partition_key, c._rid, c.priority, c.run_at, c.id
                INTO ckey, crid, cpri, crun, cid FROM @S@.tasks c
               WHERE c.queue = qs[qi] AND c.state = 'pending'
                 AND c.partition_key > ckey AND c.run_at <= n
               ORDER BY c.partition_key, c.priority, c.run_at, c.id LIMIT 1
                 FOR UPDATE SKIP LOCKED;
              IF NOT FOUND THEN
                ckey := NULL;
              END IF;
            END IF;
            cnull := ckey IS NULL;
            IF cnull AND snull OR wrapped AND NOT snull
               AND (cnull OR ckey >= skey) THEN
              hdone[qi] := true;
              EXIT;
            END IF;
          END LOOP;
        END IF;
        IF hrid[qi] IS NOT NULL
           AND (best = 0 OR (hpri[qi], hrun[qi], hid[qi])
                            < (hpri[best], hrun[best], hid[best])) THEN
          best := qi;
        END IF;
      END LOOP;
      EXIT WHEN best = 0;
      UPDATE @S@.tasks SET state = 'claimed', lease_owner = p_worker,
             lease_token = coalesce(lease_token, 0) + 1,
             lease_expires_at = n + p_lease, attempts = attempts + 1,
             updated_at = n
       WHERE _rid = hrid[best] RETURNING * INTO t;
      RETURN NEXT t;
      taken := taken + 1;
      FOR k IN 1 .. nl LOOP
        IF (p_lqueue[k] AND t.queue = p_lkeys[k])
           OR (NOT p_lqueue[k] AND t.name = p_lkeys[k]) THEN
          used[k] := used[k] + 1;
          added[k] := added[k] + 1;
          IF p_lqueue[k] AND used[k] >= p_lvals[k] THEN
            hdone[best] := true;
          END IF;
        END IF;
      END LOOP;
      FOR k IN 1 .. np LOOP
        IF p_pq[k] = qs[best] AND coalesce(p_pper[k], 0) > 0 THEN
          PERFORM @S@.sv_rate_add('r:p:' || length(qs[best]) || ':'
                                  || qs[best] || coalesce('=' || hkey[best], ''),
                                  p_pper[k], 1, n);
        END IF;
      END LOOP;
      cserv[best] := true;
      clast[best] := hkey[best];
      moved[best] := true;
      FOR qi IN 1 .. nq LOOP
        hrid[qi] := NULL;
      END LOOP;
    END LOOP;
    FOR qi IN 1 .. nq LOOP
      IF moved[qi] THEN
        UPDATE @S@.partitions SET served = true, last = clast[qi]
         WHERE queue = qs[qi];
      END IF;
    END LOOP;
    PERFORM @S@.sv_rate_add(lk[j], p_lper[j], added[j], n)
       FROM generate_subscripts(lk, 1) j WHERE p_lper[j] > 0 AND added[j] > 0;
    RETURN;
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

-- Version 8: partition limits (p_pq, p_pmax, p_pper).  Processes of
-- version 7 call sv_claim without them (and so claim partitioned queues
-- in turn too).
CREATE OR REPLACE FUNCTION @S@.sv_claim(
    p_queues text[], p_worker text, p_lease bigint, p_n integer,
    p_names text[], p_tags text, p_lkeys text[], p_lqueue boolean[],
    p_lvals bigint[], p_lper bigint[], p_cids text[], p_ctoks bigint[],
    p_cres text[], p_dead text) RETURNS SETOF @S@.tasks
LANGUAGE sql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
  SELECT * FROM @S@.sv_claim(p_queues, p_worker, p_lease, p_n, p_names,
    p_tags, p_lkeys, p_lqueue, p_lvals, p_lper, p_cids, p_ctoks, p_cres,
    p_dead, NULL::text[], NULL::bigint[], NULL::bigint[])
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

-- Changes of flags and segments: every statement that writes either
-- notifies the channel 'svf_' || left(md5(schema), 24) with the table's
-- name, for the caches of state_flag (xChanged in store_pg.c).  (Schema
-- 10.)
CREATE OR REPLACE FUNCTION @S@.sv_notify_flags() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  PERFORM pg_notify('svf_' || left(md5(TG_TABLE_SCHEMA), 24), TG_TABLE_NAME);
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE TRIGGER sv_notify_flags
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @S@.flags
  FOR EACH STATEMENT EXECUTE FUNCTION @S@.sv_notify_flags();

CREATE OR REPLACE TRIGGER sv_notify_segments
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON @S@.segments
  FOR EACH STATEMENT EXECUTE FUNCTION @S@.sv_notify_flags();

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

-- Version 8: dependencies (depends_on).  deps holds one row per task
-- 'waiting' and a dependency of it that was not completed when the task
-- was inserted; the triggers below keep it, so that every write that ends
-- a task -- sv_complete, sv_claim's completions, sv_die, the client's
-- UPDATE and DELETE -- settles its dependents in the same transaction.
-- Tables that never use depends_on pay one probe of the empty deps (its
-- primary key) per task that ends.
CREATE TABLE IF NOT EXISTS @S@.deps (dep text COLLATE "C",
                                     task text COLLATE "C",
                                     PRIMARY KEY (dep, task));
CREATE INDEX IF NOT EXISTS deps_task ON @S@.deps (task);

-- An inserted task that names dependencies: pending when all are
-- completed, cancelled when one is dead, failed or cancelled (the first
-- such one in the list names the error), else waiting; a missing one is an
-- error.  FOR SHARE: a dependency cannot end between this look and the
-- deps rows written after the insert (sv_deps_link); its end waits for
-- this transaction and then finds them.
CREATE OR REPLACE FUNCTION @S@.sv_deps_insert() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  d text;
  st text;
  bad text;
  open boolean := false;
BEGIN
  IF NEW.state NOT IN ('pending', 'waiting') THEN
    RETURN NEW;
  END IF;
  FOR d IN SELECT x FROM jsonb_array_elements_text(NEW.depends_on::jsonb)
           WITH ORDINALITY AS j(x, k) ORDER BY k LOOP
    SELECT state INTO st FROM @S@.tasks WHERE id = d FOR SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'depends_on: no task ''%''', d USING ERRCODE = 'SV001';
    END IF;
    IF st IN ('dead', 'failed', 'cancelled') THEN
      IF bad IS NULL THEN
        bad := format('dependency ''%s'' %s', d,
                      CASE st WHEN 'dead' THEN @SV_DEPS_WHY_DEAD@
                              WHEN 'failed' THEN @SV_DEPS_WHY_FAILED@
                              ELSE @SV_DEPS_WHY_CANCELLED@ END);
      END IF;
    ELSIF st <> 'completed' THEN
      open := true;
    END IF;
  END LOOP;
  IF bad IS NOT NULL THEN
    NEW.state := 'cancelled';
    NEW.error := bad;
    NEW.completed_at := coalesce(NEW.completed_at, NEW.updated_at);
  ELSIF open THEN
    NEW.state := 'waiting';
  ELSE
    NEW.state := 'pending';
  END IF;
  RETURN NEW;
END
$sv$;

CREATE OR REPLACE FUNCTION @S@.sv_deps_link() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $sv$
BEGIN
  -- Rows left by an earlier task of this id (deleted while it waited)
  -- would hold this one.
  DELETE FROM @S@.deps WHERE task = NEW.id;
  INSERT INTO @S@.deps (dep, task)
  SELECT t.id, NEW.id FROM jsonb_array_elements_text(NEW.depends_on::jsonb) x
    JOIN @S@.tasks t ON t.id = x
   WHERE t.state <> 'completed'
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$sv$;

-- Task p_id ended in state p_state (NULL: deleted before it ended): its
-- deps rows go.  Completed: each dependent that waits for nothing else
-- becomes pending.  When the first look sees another of its deps rows,
-- that dependency may be ending at the same time, in a transaction that
-- sees this one's row: then the dependent is locked and looked at again,
-- on a fresh snapshot (READ COMMITTED), so that the two cannot both leave
-- it waiting.  Otherwise each dependent
-- still waiting is cancelled, which runs the trigger for it in turn (the
-- cascade).
CREATE OR REPLACE FUNCTION @S@.sv_deps_settle(p_id text, p_state text)
RETURNS void
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $sv$
DECLARE
  n bigint := @S@.sv_now();
  why text := CASE WHEN p_state IS NULL THEN @SV_DEPS_WHY_DELETED@
                   WHEN p_state = 'completed' THEN NULL
                   WHEN p_state = 'dead' THEN @SV_DEPS_WHY_DEAD@
                   WHEN p_state = 'failed' THEN @SV_DEPS_WHY_FAILED@
                   ELSE @SV_DEPS_WHY_CANCELLED@ END;
  d text;
BEGIN
  FOR d IN WITH x AS (DELETE FROM @S@.deps WHERE dep = p_id RETURNING task)
           SELECT task FROM x ORDER BY task LOOP
    IF why IS NULL THEN
      -- At once when no other dependency of it is seen (the UPDATE locks
      -- it); else lock it and look again on a fresh snapshot.
      UPDATE @S@.tasks SET state = 'pending', updated_at = n
       WHERE id = d AND state = 'waiting'
         AND NOT EXISTS (SELECT 1 FROM @S@.deps WHERE task = d);
      IF NOT FOUND THEN
        PERFORM 1 FROM @S@.tasks WHERE id = d AND state = 'waiting'
            FOR UPDATE;
        IF FOUND AND NOT EXISTS (SELECT 1 FROM @S@.deps WHERE task = d) THEN
          UPDATE @S@.tasks SET state = 'pending', updated_at = n WHERE id = d;
        END IF;
      END IF;
    ELSE
      UPDATE @S@.tasks SET state = 'cancelled',
             error = format('dependency ''%s'' %s', p_id, why),
             completed_at = n, updated_at = n
       WHERE id = d AND state = 'waiting';
    END IF;
  END LOOP;
END
$sv$;

-- The trigger of a task that ended (completed, dead, failed, cancelled, or
-- deleted before it ended): one probe of deps, and sv_deps_settle when a
-- task waits for it.  Every task that ends runs it, so it is kept small:
-- no SET clause (setting search_path costs a configuration change per
-- call, a third of a completion), every name qualified instead.
CREATE OR REPLACE FUNCTION @S@.sv_deps_end() RETURNS trigger
LANGUAGE plpgsql AS $sv$
BEGIN
  IF TG_OP OPERATOR(pg_catalog.=) 'DELETE' THEN
    IF EXISTS (SELECT 1 FROM @S@.deps d
                WHERE d.dep OPERATOR(pg_catalog.=) OLD.id) THEN
      PERFORM @S@.sv_deps_settle(OLD.id, NULL);
    END IF;
  ELSIF EXISTS (SELECT 1 FROM @S@.deps d
                 WHERE d.dep OPERATOR(pg_catalog.=) NEW.id) THEN
    PERFORM @S@.sv_deps_settle(NEW.id, NEW.state);
  END IF;
  RETURN NULL;
END
$sv$;

CREATE OR REPLACE TRIGGER sv_deps_insert BEFORE INSERT ON @S@.tasks
  FOR EACH ROW WHEN (NEW.depends_on IS NOT NULL)
  EXECUTE FUNCTION @S@.sv_deps_insert();

CREATE OR REPLACE TRIGGER sv_deps_link AFTER INSERT ON @S@.tasks
  FOR EACH ROW WHEN (NEW.state = 'waiting')
  EXECUTE FUNCTION @S@.sv_deps_link();

CREATE OR REPLACE TRIGGER sv_deps_end AFTER UPDATE OF state ON @S@.tasks
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state
                     AND NEW.state IN ('completed', 'dead', 'failed',
                                       'cancelled'))
  EXECUTE FUNCTION @S@.sv_deps_end();

CREATE OR REPLACE TRIGGER sv_deps_delete AFTER DELETE ON @S@.tasks
  FOR EACH ROW WHEN (OLD.state NOT IN ('completed', 'dead', 'failed',
                                       'cancelled'))
  EXECUTE FUNCTION @S@.sv_deps_end();

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

-- 8: the tasks columns partition_key and depends_on, and the
-- dependencies (the deps table, the sv_deps_* triggers).  Processes of
-- version 7 skip their script on sv_schema_7: their writes still fire the
-- triggers, so their completions settle dependents too.
CREATE OR REPLACE FUNCTION @S@.sv_schema_8() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 8 $sv$;

-- 9: the segments table of state_segments (made from its descriptor by
-- store_pg.c before this script, as every table; nothing here uses it).
CREATE OR REPLACE FUNCTION @S@.sv_schema_9() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 9 $sv$;

-- 10: sv_deps_link drops the deps rows of an earlier task of the same id.
CREATE OR REPLACE FUNCTION @S@.sv_schema_10() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 10 $sv$;

-- 11: the sv_notify_flags triggers (state_flag's caches in every process
-- drop what they hold at once).  Processes of version 10 skip their script
-- on sv_schema_10: their writes fire the triggers too.
CREATE OR REPLACE FUNCTION @S@.sv_schema_11() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 11 $sv$;

-- 12: sv_claim seeks tasks_part for whether a queue has partitions and
-- for the NULL partition's next task (it read every task or every pending
-- task of the queue there).
CREATE OR REPLACE FUNCTION @S@.sv_schema_12() RETURNS integer
LANGUAGE sql IMMUTABLE AS $sv$ SELECT 12 $sv$;
