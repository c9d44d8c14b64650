-- sql/redis.lua -- the server side of statevtab's Redis store.
--
-- One library, registered as the Redis function statevtab_<sha1> (FUNCTION
-- LOAD when FCALL finds it missing) and called with FCALL, so that this
-- file's top level runs once per load, not at every call; where functions
-- cannot be loaded the same file runs as a script (SCRIPT LOAD, EVALSHA,
-- loaded again on NOSCRIPT).  <sha1> is the script's SHA1: each version of
-- the store has its own function.  args[1] names the operation; keys[1] is
-- the namespace's base, "{<prefix>}", so that every key of a namespace
-- hashes to one Redis Cluster slot.  vtab/store_redis.c prepends a table S
-- describing the nine entities (generated from vtab/entities.c), so the
-- column lists live in one place, and appends the call of run().
--
-- KEY LAYOUT (B = "{<prefix>}", <kind> = tasks, kv, leases, ...)
--   B<kind>:seq                 counter: row handles (rowids) are INCRBY'd
--   B<kind>:r:<rid>             hash: one row; a field per non-NULL column,
--                               plus _v, a write stamp (+1 on every write)
--   B<kind>:all                 zset: every rid (score = rid)
--   B<kind>:key                 hash: encoded key -> rid (uniqueness)
--   B<kind>:idx                 hash: the indexes asked for with indexes=
--                               (field = column), "ln:<name>" for the task
--                               names a claim limited, "_layout" = 2 (tasks)
--   B<kind>:i:<col>:<value>     set: rids whose text column <col> = value
--   B<kind>:z:<col>             zset: rids scored by numeric column <col>
--                               (i: and z: only for the indexed columns of
--                               S (tidx, nidx) and those B<kind>:idx names;
--                               NULLs are left out)
--   Btasks:dd                   hash: encoded (queue, idempotency_key) -> rid
--   Btasks:wait:<queue>         zset: pending tasks not yet due when written,
--                               scored by run_at (a claim moves the due ones)
--   Btasks:ready:<queue>        zset (lex): pending tasks already due, member
--                               <priority><run_at><id> (sortable encoding),
--                               of the NULL partition (no partition_key)
--   Btasks:pr:<n>:<queue>:<key> zset (lex): the same for the tasks whose
--                               partition_key is <key> (n: the length of
--                               <queue>)
--   Btasks:parts:<queue>        zset (lex, scores 0): the partition_keys
--                               that had a task in pr:... when written
--                               (a claim that finds one empty removes it)
--   Btasks:pcur                 hash: queue -> the partition its claims
--                               served last: "" the NULL partition,
--                               "=<key>" partition <key>
--   Btasks:plq:<n>:<queue>[=<key>] zset: claimed tasks of that partition
--                               ("=<key>" absent: the NULL partition)
--                               scored by lease expiry, kept only for the
--                               queues B<kind>:idx lists as "pl:<queue>"
--                               (partition limits)
--   Btasks:lq:<queue>           zset: claimed tasks scored by lease expiry
--                               (+inf: claimed without one)
--   Btasks:ln:<name>            zset: the same by task name, kept only for
--                               the names B<kind>:idx lists (limits)
--   Btasks:paused               hash: paused queue -> paused_at
--   Btasks:queues               set: every queue a task was written to
--                               (state_metrics lists them; it removes
--                               those it finds empty)
--   Btasks:n:<queue>            hash: state -> number of tasks of the
--                               queue in that final state (completed,
--                               failed, dead, cancelled; HINCRBY'd once
--                               per call and state)
--   Btasks:cps:<queue>          hash: second (completed_at / 1000) ->
--                               tasks of the queue completed in it, for the
--                               last hour (older fields are removed when a
--                               new second is written, and when read)
--   Btasks:deps:<id>            set: the waiting tasks that wait for task
--                               <id> (depends_on), until <id> ends
--   Btasks:wo:<id>              set: the dependencies task <id> still
--                               waits for (while it is 'waiting')
--   Btasks:wake                 pub/sub channel: the queue of every task that
--                               becomes runnable (state_wait listens)
--   Bleases:wake                pub/sub channel: the name of every lease that
--                               frees (a waiting state_lease listens)
--   Bsignals:wake               pub/sub channel: the execution id of every
--                               new signal (a waiting state_take listens)
--   Bflags:wake, Bsegments:wake pub/sub channels: "" after every call that
--                               wrote a flag or segment (state_flag's
--                               caches listen)
--   Bdead_letters:idseq         counter: ids of dead letters, written by
--                               the scripts of earlier versions only (this
--                               one gets them from the client: newId)
-- An encoded key is the key column's text, or for two columns
-- "<length of the first>:<first><second>".  Values are stored as text:
-- integers in decimal, reals with 17 significant digits, text as its bytes.
--
-- LAYOUT 1 (statevtab before the index diet) also kept, for every task, the
-- sets i:state:<state> and i:idempotency_key:<key>, the zsets z:run_at,
-- z:created_at, z:completed_at and z:lease_expires_at, and ln:<name> for
-- every name.  The first call that finds tasks rows without "_layout" in
-- Btasks:idx deletes those keys (they are no longer kept up to date), puts
-- claimed tasks without a lease into lq:<queue>, and sets "_layout".
--
-- METRICS (queues, n:<queue>, cps:<queue>) are built from the rows, once
-- per namespace, by the first call of this version that finds no
-- "_metrics" in Btasks:idx (buildMetrics), and kept by reindex after.  A
-- process of an earlier version writing the same namespace does not keep
-- them (see the README).

-- The call being run (set by run() below): the namespace's base, the
-- operation, its arguments, and the server's clock (NOWS: NOW as text).
local B, OP, ARGS, now_us, NOW, NOWS

-- An integer as decimal text (tostring would use an exponent).  '%d' where
-- it is exact: '%.0f' formats a double, several times slower, and a claim
-- or a commit formats a few numbers per row.
local function I(x)
  if x == NOW then
    return NOWS
  end
  if x % 1 == 0 and x > -1e15 and x < 1e15 then
    return string.format('%d', x)
  end
  return string.format('%.0f', x)
end

local function hgetall(k)
  local a = redis.call('HGETALL', k)
  if #a == 0 then
    return nil
  end
  local r = {}
  for i = 1, #a, 2 do
    r[a[i]] = a[i + 1]
  end
  return r
end

local function encKey(e, row)
  if #e.key == 1 then
    return row[e.key[1]] or ''
  end
  local a = row[e.key[1]] or ''
  return #a .. ':' .. a .. (row[e.key[2]] or '')
end

local function encDd(row)
  local q = row.queue or ''
  return #q .. ':' .. q .. row.idempotency_key
end

-- dedup= windows (see sv_dedup_clash in vtab/util.c): do tasks n and o of
-- one key clash?  wA: only while both are pending or claimed; wP > 0:
-- only while their created_at are less than wP ms apart.
local function ddActive(r)
  return r.state == 'pending' or r.state == 'claimed'
end
local function ddClash(wA, wP, n, o)
  if wA and not (ddActive(n) and ddActive(o)) then
    return false
  end
  local a, b = tonumber(n.created_at), tonumber(o.created_at)
  if wP > 0 and a and b and (b <= a - wP or b >= a + wP) then
    return false
  end
  return true
end
-- Does task n, not clashing with o, take the key's entry in dd from it?
-- The entry stays with a task that may still clash with a later one: the
-- active one, then the newer one.
local function ddTake(wA, wP, n, o)
  if wA and ddActive(n) ~= ddActive(o) then
    return ddActive(n)
  end
  if wA and not ddActive(n) then
    return false
  end
  return wP == 0 or (tonumber(n.created_at) or 0) >= (tonumber(o.created_at) or 0)
end

-- Sortable text of a decimal integer: 20 bytes, byte order = numeric order.
-- ENC: those made in this call (the rows of one call share most values).
local ENC = {}
local function encInt0(s)
  if string.sub(s, 1, 1) == '-' then
    local d = string.rep('0', 20 - #s) .. string.sub(s, 2)
    d = string.gsub(d, '%d', function(c)
      return string.char(105 - string.byte(c))
    end)
    return '0' .. d
  end
  return '1' .. string.rep('0', 19 - #s) .. s
end

local function encInt(s)
  s = s or '0'
  local r = ENC[s]
  if not r then
    r = encInt0(s)
    ENC[s] = r
  end
  return r
end

local function readyMember(row)
  return encInt(row.priority) .. encInt(row.run_at) .. row.id
end

-- The ready set of partition pk (nil: the NULL partition) of queue q, under
-- p = B .. 'tasks'.
local function rkey(p, q, pk)
  if pk then
    return p .. ':pr:' .. #q .. ':' .. q .. ':' .. pk
  end
  return p .. ':ready:' .. q
end

-- Every ready set of queue q: the NULL partition's, then one per key of
-- parts:<q> (p = B .. 'tasks').  (R: defined below, called at run time.)
local R
local function readyKeys(p, q)
  local keys = {p .. ':ready:' .. q}
  for _, pk in ipairs(R('ZRANGE', p .. ':parts:' .. q, 0, -1)) do
    keys[#keys + 1] = rkey(p, q, pk)
  end
  return keys
end

-- The lease set of partition pk (nil: NULL) of queue q (partition limits).
local function plqKey(p, q, pk)
  return p .. ':plq:' .. #q .. ':' .. q .. (pk and ('=' .. pk) or '')
end

-- Index writes of one call are queued per key, coalesced per member (the
-- last write of a member wins, as if sent one by one) and sent as one
-- ZADD/ZREM, SADD/SREM or HSET/HDEL per key: at the end of the call, or
-- before the call reads that key (R below).  Row hashes are written at
-- once.  typ: 'z' zset (value = score), 's' set (value = true), 'h' hash
-- (value = field value); false removes the member.
-- QFRESH (set by the fast path of write): every member this call writes
-- is new, and written once; qset appends it to its command's arguments at
-- once instead of keeping the last write of each member.
local QK, QL, QFRESH = {}, {}, false

-- Append the arguments that add member (with val) to an index of type typ.
local function addArgs(a, typ, member, val)
  if typ == 's' then
    a[#a + 1] = member
  elseif typ == 'z' then
    a[#a + 1] = val
    a[#a + 1] = member
  else
    a[#a + 1] = member
    a[#a + 1] = val
  end
end

local function qset(key, typ, member, val)
  local e = QK[key]
  if not e then
    e = {typ = typ, m = {}}
    QK[key] = e
    QL[#QL + 1] = key
  end
  if val == nil then
    val = false
  end
  if QFRESH and val then
    e.add = e.add or {}
    addArgs(e.add, typ, member, val)
  else
    e.m[member] = val
  end
end

-- redis.call(cmd, key, a...) in pieces small enough for unpack.
local function send(cmd, key, a)
  for i = 1, #a, 4000 do
    redis.call(cmd, key, unpack(a, i, math.min(i + 3999, #a)))
  end
end

local function flushKey(key)
  local e = QK[key]
  if not e then
    return
  end
  QK[key] = nil
  local add, rem = e.add or {}, {}
  for m, v in pairs(e.m) do
    if v == false then
      rem[#rem + 1] = m
    else
      addArgs(add, e.typ, m, v)
    end
  end
  local t = e.typ
  if #rem > 0 then
    send(t == 'z' and 'ZREM' or t == 's' and 'SREM' or 'HDEL', key, rem)
  end
  if #add > 0 then
    send(t == 'z' and 'ZADD' or t == 's' and 'SADD' or 'HSET', key, add)
  end
end

-- Queues that got a runnable task (published once per call).
local WAKE = {}
-- dedup=: rk -> whether the task written takes its key's entry in dd (nil:
-- it does when its key changes, as with dedup=row)
local DDTAKE = {}
-- Dependencies: the tasks this call ended (see settleAll) and the waiting
-- tasks it inserted (see linkAll).
local SETTLE, LINKS, nSettled = {}, {}, 0

-- The metrics of this call (see METRICS): NQ[key][field] = the change of
-- a count of n:<queue> (field: a state) or cps:<queue> (a second), sent as
-- one HINCRBY per key and field: a call that completes 100 tasks writes
-- one field.  TRIM: the cps:<queue> keys written.
local NQ, NQL, TRIM = {}, {}, {}

-- MK[p][q]: the keys n:<q> and cps:<q> of tasks p (made once per call).
local MK = {}
local function mkeys(p, q)
  local t = MK[p]
  if not t then
    t = {}
    MK[p] = t
  end
  local k = t[q]
  if not k then
    k = {n = p .. ':n:' .. q, d = p .. ':cps:' .. q}
    t[q] = k
  end
  return k
end

local function nAdd(key, state, d)
  local t = NQ[key]
  if not t then
    t = {}
    NQ[key] = t
    NQL[#NQL + 1] = key
  end
  t[state] = (t[state] or 0) + d
end

local function flushAll()
  for _, k in ipairs(QL) do
    flushKey(k)
  end
  QL = {}
  for _, w in pairs(WAKE) do
    redis.call('PUBLISH', w[1], w[2])
  end
  WAKE = {}
  for _, k in ipairs(NQL) do
    for f, d in pairs(NQ[k]) do
      -- A new second in cps:<queue>: the seconds past the hour go.
      if d ~= 0 and redis.call('HINCRBY', k, f, d) == d and TRIM[k] then
        local old = {}
        for _, x in ipairs(redis.call('HKEYS', k)) do
          if tonumber(x) <= NOW / 1000 - 3600 then
            old[#old + 1] = x
          end
        end
        if #old > 0 then
          send('HDEL', k, old)
        end
        TRIM[k] = nil
      end
    end
  end
  NQ, NQL, TRIM = {}, {}, {}
end

-- The second of completed_at ms (text) as text, made once per call for
-- the current time.
local SEC = {}
local function secOf(ms)
  local r = SEC[ms]
  if not r then
    r = I(math.floor(tonumber(ms) / 1000))
    SEC[ms] = r
  end
  return r
end

-- A read of an index key: its queued writes first.
function R(cmd, key, ...)
  if QK[key] then
    flushKey(key)
  end
  return redis.call(cmd, key, ...)
end

-- Column name -> type letter of entity e (made at its first use: the
-- library's top level, run by FUNCTION LOAD, has no pairs or ipairs).
local function tyOf(e)
  if not e.tyOf then
    e.tyOf = {}
    for i, c in ipairs(e.cols) do
      e.tyOf[c] = e.ty[i]
    end
  end
  return e.tyOf
end

local TASK_STATES = {'pending', 'claimed', 'completed', 'failed', 'dead',
                     'cancelled'}

-- Layout 1 -> 2 (see LAYOUT 1 above): once per namespace, in the call that
-- first finds it.
local function migrate(base)
  local p = base .. 'tasks'
  local rids = R('ZRANGE', p .. ':all', 0, -1)
  if #rids > 0 then
    local dels, seen = {}, {}
    for _, st in ipairs(TASK_STATES) do
      dels[#dels + 1] = p .. ':i:state:' .. st
    end
    for _, c in ipairs({'run_at', 'created_at', 'completed_at',
                        'lease_expires_at'}) do
      dels[#dels + 1] = p .. ':z:' .. c
    end
    for _, rid in ipairs(rids) do
      local v = redis.call('HMGET', p .. ':r:' .. rid, 'name',
                           'idempotency_key', 'state', 'lease_expires_at',
                           'queue')
      if v[1] and not seen['n' .. v[1]] then
        seen['n' .. v[1]] = true
        dels[#dels + 1] = p .. ':ln:' .. v[1]
      end
      if v[2] and not seen['k' .. v[2]] then
        seen['k' .. v[2]] = true
        dels[#dels + 1] = p .. ':i:idempotency_key:' .. v[2]
      end
      if v[3] == 'claimed' and not v[4] then
        qset(p .. ':lq:' .. (v[5] or ''), 'z', rid, '+inf')
      end
    end
    for i = 1, #dels, 1000 do
      redis.call('DEL', unpack(dels, i, math.min(i + 999, #dels)))
    end
  end
  redis.call('HSET', p .. ':idx', '_layout', '2')
end

-- The states counted in n:<queue> (see METRICS): the final ones, and
-- waiting (depends_on).
local FINAL_N = {completed = true, failed = true, dead = true,
                 cancelled = true, waiting = true}
-- How each state ends a task for its dependents: false completed, else the
-- words of their error (vtab/policy.h).
local DEPS_WHY = {completed = false, dead = SV_DEPS_WHY_DEAD,
                  failed = SV_DEPS_WHY_FAILED,
                  cancelled = SV_DEPS_WHY_CANCELLED}

-- Build the metrics keys of the tasks under base from their rows (once per
-- namespace: see METRICS).
local function buildMetrics(base)
  local p = base .. 'tasks'
  local rids = R('ZRANGE', p .. ':all', 0, -1)
  local n, qs, cps = {}, {}, {}
  -- What an earlier build of them left (see 70.31) goes first.
  for _, q in ipairs(redis.call('SMEMBERS', p .. ':queues')) do
    redis.call('DEL', p .. ':n:' .. q, p .. ':cps:' .. q)
  end
  redis.call('DEL', p .. ':queues')
  for _, rid in ipairs(rids) do
    local v = redis.call('HMGET', p .. ':r:' .. rid, 'queue', 'state',
                         'completed_at')
    local q = v[1] or ''
    qs[q] = true
    if v[2] and FINAL_N[v[2]] then
      n[q] = n[q] or {}
      n[q][v[2]] = (n[q][v[2]] or 0) + 1
    end
    if v[2] == 'completed' and v[3] and tonumber(v[3]) > NOW - 3600000 then
      cps[q] = cps[q] or {}
      cps[q][secOf(v[3])] = (cps[q][secOf(v[3])] or 0) + 1
    end
  end
  for q in pairs(qs) do
    redis.call('SADD', p .. ':queues', q)
    redis.call('DEL', p .. ':n:' .. q, p .. ':cps:' .. q)
    for sec, c in pairs(cps[q] or {}) do
      redis.call('HSET', p .. ':cps:' .. q, sec, c)
    end
    for st, c in pairs(n[q] or {}) do
      redis.call('HSET', p .. ':n:' .. q, st, c)
    end
  end
  redis.call('HSET', p .. ':idx', '_metrics', '1')
end

-- The indexes kept for <kind> under base, read once per call from
-- B<kind>:idx: t (text columns, sets), n (numeric columns, zsets), has
-- (column -> 't' or 'n'), ln (limited task names).  t, n and has are
-- shared (never changed) when no indexes= asked for more than the default.
local META = {}
local function meta(base, kind)
  local mk = base .. kind
  local m = META[mk]
  if m then
    return m
  end
  local e = S[kind]
  local a = redis.call('HGETALL', mk .. ':idx')
  local layout, metrics, extra
  local ln, pl = {}, {}
  for i = 1, #a, 2 do
    local f = a[i]
    if f == '_layout' then
      layout = a[i + 1]
    elseif f == '_metrics' then
      metrics = true
    elseif string.sub(f, 1, 3) == 'ln:' then
      ln[string.sub(f, 4)] = true
    elseif string.sub(f, 1, 3) == 'pl:' then
      pl[string.sub(f, 4)] = true
    else
      extra = extra or {}
      extra[#extra + 1] = f
    end
  end
  if kind == 'tasks' and layout ~= '2' then
    migrate(base)
  end
  if kind == 'tasks' and not metrics then
    buildMetrics(base)
  end
  if not e.has0 then
    e.has0 = {}
    for _, c in ipairs(e.tidx) do
      e.has0[c] = 't'
    end
    for _, c in ipairs(e.nidx) do
      e.has0[c] = 'n'
    end
  end
  m = {t = e.tidx, n = e.nidx, has = e.has0, ln = ln, pl = pl, ik = {}, p = mk,
       kAll = mk .. ':all', kKey = mk .. ':key', kDd = mk .. ':dd'}
  if extra then
    local t, n, has = {}, {}, {}
    for _, c in ipairs(e.tidx) do
      t[#t + 1] = c
    end
    for _, c in ipairs(e.nidx) do
      n[#n + 1] = c
    end
    for c, v in pairs(e.has0) do
      has[c] = v
    end
    for _, f in ipairs(extra) do
      local ty = tyOf(e)[f]
      if ty and not has[f] and not (#e.key == 1 and e.key[1] == f) then
        if ty == 't' or ty == 'j' then
          t[#t + 1] = f
          has[f] = 't'
        else
          n[#n + 1] = f
          has[f] = 'n'
        end
      end
    end
    m.t, m.n, m.has = t, n, has
  end
  META[mk] = m
  return m
end

-- The fields a patch (see patch below) of a claimed task's lease or
-- outcome, as complete and renew write it, must know of the row: the
-- indexed columns (it may change them), and what the claim structures, the
-- token check and the columns it clears need.  The others (key, priority,
-- run_at, ...) it leaves alone: unread, they are absent from the row read
-- and from its view alike, so nothing sees them change.
local function needed(e, m)
  if m.has == e.has0 and e.need0 then
    return e.need0
  end
  local need, got = {'_v'}, {_v = true}
  local function add(c)
    if not got[c] then
      got[c] = true
      need[#need + 1] = c
    end
  end
  for c in pairs(m.has) do
    add(c)
  end
  for _, c in ipairs({'id', 'queue', 'name', 'state', 'lease_owner',
                      'lease_token', 'lease_expires_at', 'result',
                      'depends_on', 'partition_key'}) do
    add(c)
  end
  if m.has == e.has0 then
    e.need0 = need
  end
  return need
end

-- Row rid with the fields needed() names (enough for complete and renew),
-- or nil.
local function partial(base, kind, rid)
  local need = needed(S[kind], meta(base, kind))
  local v = redis.call('HMGET', base .. kind .. ':r:' .. rid, unpack(need))
  if not v[1] then
    return nil
  end
  local r = {}
  for i, c in ipairs(need) do
    if v[i] then
      r[c] = v[i]
    end
  end
  return r
end

-- The key of set i:<c>:<v> of the kind m describes (made once per call).
local function ikey(m, c, v)
  local t = m.ik[c]
  if not t then
    t = {}
    m.ik[c] = t
  end
  local k = t[v]
  if not k then
    k = m.p .. ':i:' .. c .. ':' .. v
    t[v] = k
  end
  return k
end

-- Move the index entries of row rid from old (nil: a new row) to row (nil:
-- deleted); only what changed is written.
-- bReady: old is a pending task known to be in ready (not in wait), as
-- the member bReady when it is a string.
local function reindex(base, kind, rid, old, row, bReady)
  local e = S[kind]
  local m = meta(base, kind)
  local p = m.p
  if not old then
    qset(m.kAll, 'z', rid, rid) -- (the text: no strtod, no %.14g)
  elseif not row then
    qset(m.kAll, 'z', rid, nil)
  end
  local ko = old and encKey(e, old)
  local kn = row and encKey(e, row)
  if ko ~= kn then
    if ko and R('HGET', m.kKey, ko) == rid then
      qset(m.kKey, 'h', ko, nil)
    end
    if kn then
      qset(m.kKey, 'h', kn, rid)
    end
  end
  for _, c in ipairs(m.t) do
    local a, b = old and old[c], row and row[c]
    if a ~= b then
      if a then
        qset(ikey(m, c, a), 's', rid, nil)
      end
      if b then
        qset(ikey(m, c, b), 's', rid, true)
      end
    end
  end
  for _, c in ipairs(m.n) do
    local a, b = old and old[c], row and row[c]
    if a ~= b then
      qset(p .. ':z:' .. c, 'z', rid, b and tonumber(b))
    end
  end
  -- Wake a waiting state_lease when a lease frees (released, deleted or its
  -- expiry brought forward), and a waiting state_take
  -- when an unconsumed signal appears: the lease's name or the signal's
  -- execution id on B<kind>:wake.
  local wake
  if kind == 'leases' and old then
    if not row or tonumber(row.depth or 0) <= 0 or
      tonumber(row.expires_at or 0) < tonumber(old.expires_at or 0) then
      wake = old.name
    end
  elseif kind == 'signals' and row and not row.consumed_at and
    (not old or old.consumed_at or old.execution_id ~= row.execution_id or
     old.name ~= row.name) then
    wake = row.execution_id
  elseif kind == 'flags' or kind == 'segments' then
    -- state_flag's caches in every process drop what they hold
    wake = ''
  end
  if wake then
    local wk = p .. ':wake\0' .. wake
    if not WAKE[wk] then
      WAKE[wk] = {p .. ':wake', wake}
    end
  end
  if kind ~= 'tasks' then
    return
  end
  local da = old and old.idempotency_key and encDd(old)
  local db = row and row.idempotency_key and encDd(row)
  -- dedup= (DDTAKE, set by the write): whether the task takes the key's
  -- entry from the task that holds it, or leaves it
  local take = DDTAKE[m.p .. ':r:' .. rid]
  if da ~= db or take then
    if da and da ~= db and R('HGET', m.kDd, da) == rid then
      qset(m.kDd, 'h', da, nil)
    end
    if db and take ~= false then
      qset(m.kDd, 'h', db, rid)
    end
  end
  -- The claim structures: wait/ready while pending, lq/ln while claimed.
  local op = old and old.state == 'pending'
  local np = row and row.state == 'pending'
  if op and np and old.queue == row.queue and old.run_at == row.run_at and
    old.priority == row.priority and old.id == row.id and
    old.partition_key == row.partition_key then
    -- Still pending where it was (a claim moves it from wait when due).
  else
    if op then
      local qn = old.queue or ''
      if not bReady then
        qset(p .. ':wait:' .. qn, 'z', rid, nil)
      end
      qset(rkey(p, qn, old.partition_key), 'z',
           type(bReady) == 'string' and bReady or readyMember(old), nil)
    end
    if np then
      local qn = row.queue or ''
      if tonumber(row.run_at) <= NOW then
        -- Due already: straight into the claim order, and wake state_wait.
        qset(rkey(p, qn, row.partition_key), 'z', readyMember(row), '0')
        if row.partition_key then
          qset(p .. ':parts:' .. qn, 'z', row.partition_key, '0')
        end
        local wk = p .. ':wake\0' .. qn
        if not WAKE[wk] then
          WAKE[wk] = {p .. ':wake', qn}
        end
      else
        qset(p .. ':wait:' .. qn, 'z', rid, tonumber(row.run_at))
      end
    end
  end
  -- The metrics (see METRICS): the queue list, the final states' counts,
  -- the last hour's completions.
  local sq, sn = old and old.state, row and row.state
  -- A task that ends -- a final state, or deleted before it had one --
  -- settles its dependents at the end of the call (settleAll).
  if sq ~= sn and ((sn and SV_FINAL[sn]) or (not row and not SV_FINAL[sq])) then
    local r, why = old, SV_DEPS_WHY_DELETED
    if row then
      r, why = row, DEPS_WHY[sn]
    end
    if r.id then
      SETTLE[#SETTLE + 1] = {base, r.id, why, r.depends_on}
    end
  end
  local qo0, qn0 = old and (old.queue or ''), row and (row.queue or '')
  if qn0 ~= qo0 and qn0 then
    qset(p .. ':queues', 's', qn0, true)
  end
  if (sq ~= sn or qo0 ~= qn0) and (FINAL_N[sq] or FINAL_N[sn]) then
    if FINAL_N[sq] then
      nAdd(mkeys(p, qo0).n, sq, -1)
    end
    if FINAL_N[sn] then
      nAdd(mkeys(p, qn0).n, sn, 1)
    end
  end
  if sq == 'completed' or sn == 'completed' then
    local ca = sn == 'completed' and row.completed_at
    local co = sq == 'completed' and old.completed_at
    if ca ~= co or qo0 ~= qn0 then
      if co and tonumber(co) > NOW - 3600000 then
        nAdd(mkeys(p, qo0).d, secOf(co), -1)
      end
      if ca and tonumber(ca) > NOW - 3600000 then
        local kd = mkeys(p, qn0).d
        nAdd(kd, secOf(ca), 1)
        TRIM[kd] = true
      end
    end
  end
  -- Claimed tasks: lq by queue (+inf without a lease), and ln by name for
  -- the names a claim limited (with a lease only).
  local oc = old and old.state == 'claimed'
  local nc = row and row.state == 'claimed'
  local ol = oc and (old.lease_expires_at or '+inf')
  local nl = nc and (row.lease_expires_at or '+inf')
  local qo, qn = old and (old.queue or ''), row and (row.queue or '')
  if ol and (not nl or qo ~= qn) then
    qset(p .. ':lq:' .. qo, 'z', rid, nil)
  end
  if nl and (nl ~= ol or qo ~= qn) then
    qset(p .. ':lq:' .. qn, 'z', rid, nl)
  end
  if next(m.pl) then
    -- Partition limits: plq by (queue, partition), leases only.
    local lo = oc and old.lease_expires_at and m.pl[qo] and
                 plqKey(p, qo, old.partition_key)
    local ln = nc and row.lease_expires_at and m.pl[qn] and
                 plqKey(p, qn, row.partition_key)
    if lo and (lo ~= ln or old.lease_expires_at ~= row.lease_expires_at) then
      qset(lo, 'z', rid, nil)
    end
    if ln and (ln ~= lo or old.lease_expires_at ~= row.lease_expires_at) then
      qset(ln, 'z', rid, row.lease_expires_at)
    end
  end
  if next(m.ln) then
    local lo = oc and old.lease_expires_at and m.ln[old.name] and old.name
    local ln = nc and row.lease_expires_at and m.ln[row.name] and row.name
    if lo and (lo ~= ln or old.lease_expires_at ~= row.lease_expires_at) then
      qset(p .. ':ln:' .. lo, 'z', rid, nil)
    end
    if ln and (ln ~= lo or old.lease_expires_at ~= row.lease_expires_at) then
      qset(p .. ':ln:' .. ln, 'z', rid, row.lease_expires_at)
    end
  end
end

-- Write row (a table column -> text) as row rid, replacing old (the row as
-- it is on the server, nil when there is none): only the fields and index
-- entries that changed.
-- Undo records (see run): nil, or inside a transaction the rows this
-- call changes, each as it was before its first change.  TOUCHED: row key
-- -> index of its record.
local UNDO, TOUCHED

-- Before the first change of row rid in this call: record it (UNDO).
local function touch(base, kind, rid)
  local k = base .. kind .. ':r:' .. rid
  if not TOUCHED[k] then
    UNDO[#UNDO + 1] = {kind = kind, rid = rid, key = k,
                       old = redis.call('HGETALL', k)}
    TOUCHED[k] = #UNDO
  end
end

-- Row rid's hash: delete the fields del, set the (field, value) list set.
local function putFields(base, kind, rid, set, del)
  local k = base .. kind .. ':r:' .. rid
  if kind == 'tasks' then
    meta(base, kind) -- the metrics built before the row changes
  end
  if UNDO then
    touch(base, kind, rid)
  end
  if #del > 0 then
    redis.call('HDEL', k, unpack(del))
  end
  redis.call('HSET', k, unpack(set))
end

local function writeRow(base, kind, rid, row, old, bReady)
  row._v = old and I(tonumber(old._v or 0) + 1) or '1'
  local set, del = {}, {}
  for c in pairs(old or {}) do
    if row[c] == nil then
      del[#del + 1] = c
    end
  end
  for c, v in pairs(row) do
    if not old or old[c] ~= v then
      set[#set + 1] = c
      set[#set + 1] = v
    end
  end
  putFields(base, kind, rid, set, del)
  reindex(base, kind, rid, old, row, bReady)
end

-- Write row rid as old (the row on the server: at least the fields
-- needed() names) with the columns of ch changed (false: NULL); only the
-- fields that change are sent.  Returns the new row, a view of old
-- through ch (where false stands for NULL).
local function patch(base, kind, rid, old, ch, bReady)
  ch._v = I(tonumber(old._v or 0) + 1)
  local set, del = {}, {}
  for c, v in pairs(ch) do
    if v == false then
      if old[c] then
        del[#del + 1] = c
      end
    elseif old[c] ~= v then
      set[#set + 1] = c
      set[#set + 1] = v
    end
  end
  putFields(base, kind, rid, set, del)
  local row = setmetatable(ch, {__index = old})
  reindex(base, kind, rid, old, row, bReady)
  return row
end

local function deleteRow(base, kind, rid, old)
  if UNDO then
    touch(base, kind, rid)
  end
  reindex(base, kind, rid, old, nil)
  redis.call('DEL', base .. kind .. ':r:' .. rid)
end

-- Dependencies (depends_on).  A task inserted pending or waiting with
-- depends_on: getTask(id) gives a dependency's row (as the call sees it);
-- returns an error text for a missing one, else sets row.state (pending,
-- waiting, or cancelled with its error when one is dead, failed or
-- cancelled) and returns nil and the ids still open (waiting: LINKS).
local function depsInsert(row, getTask)
  local open, bad = {}, nil
  for _, d in ipairs(cjson.decode(row.depends_on)) do
    local t = getTask(d)
    if not t then
      return "depends_on: no task '" .. d .. "'"
    end
    local why = DEPS_WHY[t.state]
    if why and not bad then
      bad = "dependency '" .. d .. "' " .. why
    elseif why == nil then
      open[#open + 1] = d
    end
  end
  if bad then
    row.state = 'cancelled'
    row.error = bad
    row.completed_at = row.completed_at or row.updated_at
  else
    row.state = #open > 0 and 'waiting' or 'pending'
  end
  return nil, #open > 0 and not bad and open or nil
end

-- The dependency sets (tasks:deps:<id>, tasks:wo:<id>) change through
-- these, which inside a transaction record how to undo it (UNDO: "s", the
-- key, "+" members added or "-" members removed; see run).
local function setUndo(k, op, ms)
  if UNDO and #ms > 0 then
    UNDO[#UNDO + 1] = {set = k, op = op, members = ms}
  end
end

local function setAdd(k, ms)
  if UNDO then
    local added = {}
    for _, m in ipairs(ms) do
      if redis.call('SADD', k, m) == 1 then
        added[#added + 1] = m
      end
    end
    setUndo(k, '+', added)
  else
    redis.call('SADD', k, unpack(ms))
  end
end

local function setRem(k, m)
  if redis.call('SREM', k, m) == 1 then
    setUndo(k, '-', {m})
  end
end

local function setDel(k)
  if UNDO then
    setUndo(k, '-', redis.call('SMEMBERS', k))
  end
  redis.call('DEL', k)
end

-- The sets of the waiting tasks inserted by this call (LINKS: base, id,
-- open dependency ids), before their dependencies settle.
local function linkAll()
  for _, l in ipairs(LINKS) do
    local kw = l[1] .. 'tasks:wo:' .. l[2]
    setDel(kw)
    setAdd(kw, l[3])
    for _, d in ipairs(l[3]) do
      setAdd(l[1] .. 'tasks:deps:' .. d, {l[2]})
    end
  end
end

-- The tasks that ended in this call (SETTLE: base, id, false when
-- completed else how it ended, its depends_on): each one's waiting
-- dependents become pending (completed, when they wait for nothing else)
-- or are cancelled, which settles them in turn.  A task that ends costs
-- one SMEMBERS of a missing key when nobody waits for it.
local function settleAll()
  while nSettled < #SETTLE do
    nSettled = nSettled + 1
    local base, id, why, had = unpack(SETTLE[nSettled])
    local p = base .. 'tasks'
    if had then
      setDel(p .. ':wo:' .. id)
    end
    local ws = redis.call('SMEMBERS', p .. ':deps:' .. id)
    if #ws > 0 then
      setUndo(p .. ':deps:' .. id, '-', ws)
      redis.call('DEL', p .. ':deps:' .. id)
      table.sort(ws)
      for _, w in ipairs(ws) do
        local rid = R('HGET', p .. ':key', w)
        local row = rid and hgetall(p .. ':r:' .. rid)
        if row and row.state == 'waiting' then
          if not why then
            setRem(p .. ':wo:' .. w, id)
            if redis.call('SCARD', p .. ':wo:' .. w) == 0 then
              patch(base, 'tasks', rid, row,
                    {state = 'pending', updated_at = I(NOW)})
            end
          else
            patch(base, 'tasks', rid, row, {
              state = 'cancelled',
              error = "dependency '" .. id .. "' " .. why,
              completed_at = I(NOW),
              updated_at = I(NOW)
            })
          end
        end
      end
    end
  end
end

local function copy(row)
  local r = {}
  for c, v in pairs(row) do
    r[c] = v
  end
  return r
end

-- The row as the flat list the client reads: rid, _v, then every column
-- (with mask, only those whose mask[j] is true: the others as nil).
local function flat(kind, rid, row, out, mask)
  out[#out + 1] = rid
  out[#out + 1] = row._v or '0'
  for j, c in ipairs(S[kind].cols) do
    if mask and not mask[j] then
      out[#out + 1] = false
    else
      out[#out + 1] = row[c] or false
    end
  end
end

local function jsonStr(s)
  s = string.gsub(s, '[%c"\\]', function(c)
    if c == '"' then
      return '\\"'
    elseif c == '\\' then
      return '\\\\'
    elseif c == '\n' then
      return '\\n'
    elseif c == '\t' then
      return '\\t'
    elseif c == '\r' then
      return '\\r'
    end
    return string.format('\\u%04x', string.byte(c))
  end)
  return '"' .. s .. '"'
end

-- The full task as JSON text, columns in order, JSON columns nested.
local function taskJson(row)
  local e = S.tasks
  local a = {}
  for i, c in ipairs(e.cols) do
    local v = row[c]
    local j
    if not v then -- nil, or false (NULL in a view made by patch)
      j = 'null'
    elseif e.ty[i] == 'j' then
      j = v
    elseif e.ty[i] == 't' then
      j = jsonStr(v)
    else
      j = v
    end
    a[#a + 1] = jsonStr(c) .. ':' .. j
  end
  return '{' .. table.concat(a, ',') .. '}'
end

-- The id of this call's next dead letter: the id the client made (DEAD_ID,
-- set by ops.claim and ops.fail), then with 1, 2, ... added to its last
-- SV_DEAD_ID_TAIL hex digits (vtab/policy.h).
local DEAD_ID, nDead = nil, 0
local function newId()
  local k = nDead
  nDead = nDead + 1
  if k == 0 then
    return DEAD_ID
  end
  local n = #DEAD_ID - SV_DEAD_ID_TAIL
  local tail = tonumber(string.sub(DEAD_ID, n + 1), 16)
  return string.sub(DEAD_ID, 1, n) ..
           string.format('%0' .. SV_DEAD_ID_TAIL .. 'x',
                         (tail + k) % 2 ^ (4 * SV_DEAD_ID_TAIL))
end

local function nextRid(base, kind)
  return I(redis.call('INCR', base .. kind .. ':seq'))
end

-- Mark task rid dead (keeping its error unless err) and write its dead
-- letter.
local function die(base, rid, row, err, reason)
  local t = patch(base, 'tasks', rid, row, {
    state = 'dead',
    error = err, -- nil: the task keeps its error
    completed_at = I(NOW),
    updated_at = I(NOW),
    lease_owner = false,
    lease_expires_at = false
  })
  writeRow(base, 'dead_letters', nextRid(base, 'dead_letters'), {
    id = newId(),
    task_id = t.id,
    queue = t.queue,
    name = t.name,
    payload = t.payload,
    attempts = t.attempts,
    reason = reason,
    task = taskJson(t),
    died_at = I(NOW)
  }, nil)
end

-- The row handles of the tasks with ids ids (false: none), in one HMGET
-- per 1000.
local function taskRids(ids)
  local r = {}
  for i = 1, #ids, 1000 do
    local v = R('HMGET', B .. 'tasks:key', unpack(ids, i,
                                                  math.min(i + 999, #ids)))
    for q = 1, #v do
      r[i + q - 1] = v[q]
    end
  end
  return r
end

-- The claimed task rid with token tok, or nil; bPart: only the fields
-- partial() reads (for complete and renew); rid: the task's handle when
-- the caller looked it up (false: none).
local function held(id, tok, bPart, rid)
  if rid == nil then
    rid = R('HGET', B .. 'tasks:key', id)
  end
  if not rid then
    return nil
  end
  local row
  if bPart then
    row = partial(B, 'tasks', rid)
  else
    row = hgetall(B .. 'tasks:r:' .. rid)
  end
  if row and row.state == 'claimed' and row.lease_token == tok then
    return rid, row
  end
  return nil
end

local function complete(id, tok, res, rid)
  local rid, row = held(id, tok, true, rid)
  if not rid then
    return false
  end
  patch(B, 'tasks', rid, row, {
    state = 'completed',
    result = res or false,
    completed_at = I(NOW),
    updated_at = I(NOW),
    lease_owner = false,
    lease_expires_at = false
  })
  return true
end

-- Optional text argument: "" is NULL, "=..." a value.
local function opt(s)
  if s == nil or s == '' then
    return nil
  end
  return string.sub(s, 2)
end

local ops = {}

-- The count of limit l (see ops.claim): its live leases, or for a rate the
-- claims of its window.
local function limitUsed(l)
  if l.rk then
    local a, old, n = redis.call('HGETALL', l.rk), {}, 0
    for i = 1, #a, 2 do
      if tonumber(a[i]) <= NOW - l.per - l.step then
        old[#old + 1] = a[i]
      else
        n = n + tonumber(a[i + 1])
      end
    end
    if #old > 0 then
      redis.call('HDEL', l.rk, unpack(old))
    end
    return n
  end
  return R('ZCOUNT', B .. (l.q and 'tasks:lq:' or 'tasks:ln:') .. l.key,
           '(' .. I(NOW), '(+inf')
end

-- Partitions (see the README's "Fairness and partitions"): the partitions
-- of a queue take turns in a cycle -- the NULL partition (ready:<queue>),
-- then the keys of parts:<queue> in order (pr:... each) -- from the one
-- after the partition pcur says was served last.  Each task claimed is the
-- first of the next partition that has one the filters and limits let
-- through; several queues merge by their next tasks' members.
-- heads: the queues to walk ({q = queue}); passes(row), take(rid, row, bm):
-- ops.claim's; plim: partition limits {key = queue, max, per}; n: wanted.
local function fairWalk(heads, passes, take, plim, n)
  local p = B .. 'tasks'
  local taken = 0
  local rates = {}
  -- The partition after pk in queue q's cycle (nil pk: the NULL one).
  local function nextPart(q, pk)
    local r = R('ZRANGEBYLEX', p .. ':parts:' .. q, pk and ('(' .. pk) or '-',
                '+', 'LIMIT', 0, 1)
    return r[1]
  end
  -- The rate key of partition pk of queue q, as the local store's.
  local function partRate(l, q, pk)
    local rk = p .. ':rate:p:' .. #q .. ':' .. q .. (pk and ('=' .. pk) or '')
    local r = rates[rk]
    if not r then
      r = {rk = rk, per = l.per, step = math.max(1, math.floor(l.per /
                                                            SV_RATE_STEPS)),
           add = 0}
      r.used = limitUsed(r)
      rates[rk] = r
    end
    return r
  end
  local function partFull(q, pk)
    for _, l in ipairs(plim) do
      if l.key == q then
        local c
        if l.per > 0 then
          c = partRate(l, q, pk).used
        else
          c = R('ZCOUNT', plqKey(p, q, pk), '(' .. I(NOW), '(+inf')
        end
        if c >= l.max then
          return true
        end
      end
    end
    return false
  end
  -- The first task of partition pk of queue q that passes, or nil.
  local function partHead(q, pk)
    local key, from, page = rkey(p, q, pk), '-', 2
    while true do
      local buf = R('ZRANGEBYLEX', key, from, '+', 'LIMIT', 0, page)
      if #buf == 0 and from == '-' and pk then
        -- Empty: out of the cycle until a task of it is due again.
        qset(p .. ':parts:' .. q, 'z', pk, nil)
      end
      for _, bm in ipairs(buf) do
        local rid = R('HGET', p .. ':key', string.sub(bm, 41))
        local row = rid and hgetall(p .. ':r:' .. rid)
        if not (row and row.state == 'pending' and row.queue == q and
                row.partition_key == pk and readyMember(row) == bm) then
          -- A stale entry (the task changed behind the index): drop it.
          qset(key, 'z', bm, nil)
        elseif passes(row) then
          return {rid = rid, row = row, bm = bm, pk = pk}
        end
      end
      if #buf < page then
        return nil
      end
      from = '(' .. buf[#buf]
      page = math.min(page * 4, 256)
    end
  end
  -- Queue h's next task in turn (h.head), or h.done.
  local function head(h)
    local seen, pk = {}, nil
    if h.cur ~= nil then
      pk = nextPart(h.q, h.cur ~= '' and string.sub(h.cur, 2) or nil)
    end
    while true do
      local id = pk and ('=' .. pk) or ''
      if seen[id] then
        h.done = true
        return
      end
      seen[id] = true
      if not partFull(h.q, pk) then
        local c = partHead(h.q, pk)
        if c then
          h.head = c
          return
        end
      end
      pk = nextPart(h.q, pk)
    end
  end
  for _, h in ipairs(heads) do
    h.cur = R('HGET', p .. ':pcur', h.q) or nil
  end
  while taken < n do
    local best
    for _, h in ipairs(heads) do
      if not h.done and not h.head then
        head(h)
      end
      if h.head and (not best or h.head.bm < best.head.bm) then
        best = h
      end
    end
    if not best then
      break
    end
    local c = best.head
    if take(c.rid, c.row, c.bm) then
      best.done = true
    end
    taken = taken + 1
    for _, l in ipairs(plim) do
      if l.key == best.q and l.per > 0 then
        local r = partRate(l, best.q, c.pk)
        r.used, r.add = r.used + 1, r.add + 1
      end
    end
    best.cur = c.pk and ('=' .. c.pk) or ''
    best.moved = true
    -- A limit may now turn the other queues' next tasks down.
    for _, h in ipairs(heads) do
      h.head = nil
    end
  end
  for _, h in ipairs(heads) do
    if h.moved then
      redis.call('HSET', p .. ':pcur', h.q, h.cur)
    end
  end
  for _, r in pairs(rates) do
    if r.add > 0 then
      redis.call('HINCRBY', r.rk, I(NOW - NOW % r.step), r.add)
      redis.call('PEXPIRE', r.rk, r.per + r.step)
    end
  end
end

-- Claim (see statevtab_claim in statevtab.h).  ARGS: worker, lease_ms, n,
-- dead letter id (see newId), nQueue, queues..., nName, names..., tags JSON ("" none),
-- nLimit, (key, isQueue, max, period)..., nPart, (queue, max, period)...
-- (partition limits), nComplete, (id, token, result)..., the columns to
-- return ('1' or '0' per column of tasks, statevtab_claim's colUsed; ""
-- all).
-- A limit with a period > 0 is a rate: at most max claims in any window of
-- period ms, counted in the hash rate:<q|n>:<key>: the claims per step of
-- the period (field: the step's start; see SV_RATE_STEPS in vtab/policy.h),
-- the steps that ended before the window dropped as it is read; the key
-- expires a period after its last claim.
-- Returns nStale, (id, token) per stale completion, then per claimed row
-- its flat list.
function ops.claim()
  local i = 2
  local function arg()
    i = i + 1
    return ARGS[i - 1]
  end
  local worker, lease, n = arg(), tonumber(arg()), tonumber(arg())
  DEAD_ID, nDead = arg(), 0
  local queues, names, nameSet, limits = {}, {}, nil, {}
  for _ = 1, tonumber(arg()) do
    queues[#queues + 1] = arg()
  end
  local nn = tonumber(arg())
  if nn > 0 then
    nameSet = {}
    for _ = 1, nn do
      nameSet[arg()] = true
    end
  end
  local tags = opt(arg())
  if tags then
    tags = cjson.decode(tags)
  end
  for _ = 1, tonumber(arg()) do
    local l = {key = arg(), q = arg() == '1', max = tonumber(arg()),
               per = tonumber(arg())}
    if l.per > 0 then
      l.rk = B .. 'tasks:rate:' .. (l.q and 'q:' or 'n:') .. l.key
      l.step = math.max(1, math.floor(l.per / SV_RATE_STEPS))
      l.add = 0
    end
    limits[#limits + 1] = l
  end
  local plim = {}
  for _ = 1, tonumber(arg()) do
    plim[#plim + 1] = {key = arg(), max = tonumber(arg()), per = tonumber(arg())}
  end
  local m = meta(B, 'tasks')
  -- A partition limit counts the leases of each partition of its queue
  -- from plq:..., kept only for the queues some claim limited so: the
  -- first such claim builds them from the queue's lq.
  for _, l in ipairs(plim) do
    if l.per <= 0 and not m.pl[l.key] then
      local p = B .. 'tasks'
      for _, rid in ipairs(R('ZRANGE', p .. ':lq:' .. l.key, 0, -1)) do
        local v = redis.call('HMGET', p .. ':r:' .. rid, 'state',
                             'lease_expires_at', 'partition_key', 'queue')
        if v[1] == 'claimed' and v[2] and v[4] == l.key then
          qset(plqKey(p, l.key, v[3] or nil), 'z', rid, v[2])
        end
      end
      redis.call('HSET', p .. ':idx', 'pl:' .. l.key, '1')
      m.pl[l.key] = true
    end
  end
  -- A name limit counts the live leases of that name from ln:<name>, kept
  -- only for the names some claim limited: the first such claim builds it.
  for _, l in ipairs(limits) do
    if not l.q and not l.rk and not m.ln[l.key] then
      local p = B .. 'tasks'
      for _, rid in ipairs(R('ZRANGE', p .. ':all', 0, -1)) do
        local v = redis.call('HMGET', p .. ':r:' .. rid, 'state', 'name',
                             'lease_expires_at')
        if v[1] == 'claimed' and v[2] == l.key and v[3] then
          qset(p .. ':ln:' .. l.key, 'z', rid, v[3])
        end
      end
      redis.call('HSET', p .. ':idx', 'ln:' .. l.key, '1')
      m.ln[l.key] = true
    end
  end
  local out = {0}
  local done = {}
  for k = 1, tonumber(arg()) do
    done[k] = {arg(), arg(), opt(arg())}
  end
  local mask, want = nil, arg()
  if want and want ~= '' then
    mask = {}
    for j = 1, #want do
      mask[j] = string.byte(want, j) == 49 -- '1'
    end
  end
  if #done > 0 then
    local ids = {}
    for k, d in ipairs(done) do
      ids[k] = d[1]
    end
    local rids = taskRids(ids)
    for k, d in ipairs(done) do
      if not complete(d[1], d[2], d[3], rids[k]) then
        out[1] = out[1] + 1
        out[#out + 1] = d[1]
        out[#out + 1] = d[2]
      end
    end
    -- Their dependents are claimable by this same call (as on the other
    -- stores, where they become pending with the completion).
    settleAll()
  end
  local paused = {}
  if #queues > 0 then
    local v = redis.call('HMGET', B .. 'tasks:paused', unpack(queues))
    for k, q in ipairs(queues) do
      paused[q] = v[k] and true or false
    end
  end
  -- Expired leases: dead once attempts are used up, else runnable again;
  -- then tasks whose run_at came move from wait to ready.
  for _, q in ipairs(queues) do
    if not paused[q] then
      for _, rid in ipairs(R('ZRANGEBYSCORE', B .. 'tasks:lq:' .. q,
                                      '-inf', NOW)) do
        local row = hgetall(B .. 'tasks:r:' .. rid)
        if row and row.state == 'claimed' and row.lease_expires_at and
          tonumber(row.lease_expires_at) > NOW then
          -- Renewed behind a stale score: put it right.
          qset(B .. 'tasks:lq:' .. q, 'z', rid, row.lease_expires_at)
        elseif row and row.state == 'claimed' and row.lease_expires_at then
          if tonumber(row.attempts) >= tonumber(row.max_attempts) then
            die(B, rid, row, nil, SV_REASON_LEASE_EXPIRED)
          else
            patch(B, 'tasks', rid, row, {
              state = 'pending',
              lease_owner = false,
              lease_expires_at = false,
              updated_at = I(NOW)
            })
          end
        else
          qset(B .. 'tasks:lq:' .. q, 'z', rid, nil)
        end
      end
      for _, rid in ipairs(R('ZRANGEBYSCORE', B .. 'tasks:wait:' .. q,
                                      '-inf', NOW)) do
        local row = hgetall(B .. 'tasks:r:' .. rid)
        qset(B .. 'tasks:wait:' .. q, 'z', rid, nil)
        if row and row.state == 'pending' then
          qset(rkey(B .. 'tasks', q, row.partition_key), 'z',
               readyMember(row), 0)
          if row.partition_key then
            qset(B .. 'tasks:parts:' .. q, 'z', row.partition_key, 0)
          end
        end
      end
    end
  end
  if n <= 0 then
    return out
  end
  -- Walk the ready sets of the queues in (priority, run_at, id) order.
  local heads = {}
  local used = {}
  for _, q in ipairs(queues) do
    local full = paused[q]
    -- A queue whose own limit or rate is used up is not walked (every
    -- task of it would be turned down).
    for k, l in ipairs(limits) do
      if not full and l.q and l.key == q then
        used[k] = used[k] or limitUsed(l)
        full = used[k] >= l.max
      end
    end
    if not full then
      heads[#heads + 1] = {q = q, buf = {}, pos = 1, from = '-', done = false}
    end
  end
  -- A queue with partitions (or a partition limit) is walked by partitions
  -- in turn (fairWalk); the others as before.
  local fair = #plim > 0
  for _, h in ipairs(heads) do
    if not fair and R('ZCARD', B .. 'tasks:parts:' .. h.q) > 0 then
      fair = true
    end
  end
  local taken = 0
  -- Does row pass the names, tags and the name and queue limits?
  local function passes(row)
    if nameSet and not nameSet[row.name] then
      return false
    end
    if tags then
      local okj, have = pcall(cjson.decode, row.tags or '[]')
      if not okj or type(have) ~= 'table' then
        return false
      end
      for _, want in ipairs(tags) do
        local found = false
        for _, h in ipairs(have) do
          if h == want then
            found = true
            break
          end
        end
        if not found then
          return false
        end
      end
    end
    for k, l in ipairs(limits) do
      if (l.q and row.queue == l.key) or (not l.q and row.name == l.key) then
        if not used[k] then
          used[k] = limitUsed(l)
        end
        if used[k] >= l.max then
          return false
        end
      end
    end
    return true
  end
  -- Claim row rid (which passes), ready member bm; returns whether a limit
  -- of its queue is now used up.
  local function take(rid, row, bm)
    local full = false
    for k, l in ipairs(limits) do
      if (l.q and row.queue == l.key) or (not l.q and row.name == l.key) then
        used[k] = used[k] + 1
        if l.rk then
          l.add = l.add + 1
        end
        if l.q and used[k] >= l.max then
          full = true
        end
      end
    end
    -- Taken from ready (wait holds only tasks not yet moved there).
    local t = patch(B, 'tasks', rid, row, {
      state = 'claimed',
      lease_owner = worker,
      lease_token = I(tonumber(row.lease_token or 0) + 1),
      lease_expires_at = I(NOW + lease),
      attempts = I(tonumber(row.attempts or 0) + 1),
      updated_at = I(NOW)
    }, bm)
    flat('tasks', rid, t, out, mask)
    taken = taken + 1
    return full
  end
  local function addRates()
    for _, l in ipairs(limits) do
      if l.rk and l.add > 0 then
        redis.call('HINCRBY', l.rk, I(NOW - NOW % l.step), l.add)
        redis.call('PEXPIRE', l.rk, l.per + l.step)
      end
    end
  end
  if fair then
    fairWalk(heads, passes, take, plim, n)
    addRates()
    return out
  end
  -- Pages of the ready set, each starting after the last member read (the
  -- members claimed or dropped meanwhile are before it): as many as still
  -- wanted, plus a few for tasks the filters skip.
  local function peek(h)
    if h.pos > #h.buf and not h.done then
      local want = math.min(n - taken + 4, 256)
      h.buf = R('ZRANGEBYLEX', B .. 'tasks:ready:' .. h.q, h.from, '+',
                'LIMIT', 0, want)
      h.rids = {}
      h.pos = 1
      if #h.buf < want then
        h.done = true
      end
      if #h.buf > 0 then
        h.from = '(' .. h.buf[#h.buf]
      end
    end
    return h.buf[h.pos]
  end
  while taken < n do
    local best, bm
    for _, h in ipairs(heads) do
      local m = peek(h)
      if m and (not bm or m < bm) then
        best, bm = h, m
      end
    end
    if not best then
      break
    end
    if best.rids[best.pos] == nil then
      -- The handles of the members from here on, as many as still wanted
      -- (the filters may skip some: then the next ones).
      local ids, last = {}, math.min(#best.buf, best.pos + n - taken - 1)
      for q = best.pos, last do
        ids[#ids + 1] = string.sub(best.buf[q], 41)
      end
      for q, r in ipairs(taskRids(ids)) do
        best.rids[best.pos + q - 1] = r
      end
    end
    local rid = best.rids[best.pos]
    best.pos = best.pos + 1
    local row = rid and hgetall(B .. 'tasks:r:' .. rid)
    local ok = row and row.state == 'pending' and row.queue == best.q
    if ok and readyMember(row) ~= bm then
      ok = false
    end
    if not ok then
      -- A stale entry (the task changed behind the index): drop it.
      qset(B .. 'tasks:ready:' .. best.q, 'z', bm, nil)
    elseif passes(row) and take(rid, row, bm) then
      -- The queue's limit is used up: nothing more from it.
      best.done, best.buf = true, {}
    end
  end
  addRates()
  return out
end


-- ARGS: id, token, lease_ms.  The new expiry, or nil.
function ops.renew()
  local rid, row = held(ARGS[2], ARGS[3], true)
  if not rid then
    return false
  end
  local t = patch(B, 'tasks', rid, row, {
    lease_expires_at = I(NOW + tonumber(ARGS[4])),
    updated_at = I(NOW)
  })
  return t.lease_expires_at
end

-- ARGS: id, token, result ("" NULL, "=json").  1 or 0.
function ops.complete()
  return complete(ARGS[2], ARGS[3], opt(ARGS[4])) and 1 or 0
end

-- ARGS: id, token, error ("" NULL, "=text"), retry_ms ("" default),
-- jitter in [0, 1), dead letter id (see newId).  'retry', 'dead' or nil (stale).
function ops.fail()
  local rid, row = held(ARGS[2], ARGS[3])
  if not rid then
    return false
  end
  local err = opt(ARGS[4])
  local att = tonumber(row.attempts)
  if att >= tonumber(row.max_attempts) then
    DEAD_ID, nDead = ARGS[7], 0
    die(B, rid, row, err, err)
    return 'dead'
  end
  local retry = tonumber(ARGS[5])
  if not retry then
    -- (vtab/policy.h; the prologue store_redis.c writes defines these)
    local d = SV_BACKOFF_BASE_MS
    for _ = 2, math.max(att, 1) do
      if d < SV_BACKOFF_CAP_MS then
        d = d * 2
      end
    end
    d = math.min(d, SV_BACKOFF_CAP_MS)
    local h = math.floor(d / 2)
    retry = h + math.floor(tonumber(ARGS[6]) * (h + 1))
  end
  patch(B, 'tasks', rid, row, {
    state = 'pending',
    run_at = I(NOW + retry),
    error = err or false,
    updated_at = I(NOW),
    lease_owner = false,
    lease_expires_at = false
  })
  return 'retry'
end

-- ARGS: name, owner, ttl_ms.  The fencing token or nil.  Tokens are
-- max(previous + 1, server time in microseconds): they grow even across a
-- loss of the data (a restart without persistence), as long as the
-- server's clock does not go back.
function ops.lease()
  local name, owner, ttl = ARGS[2], ARGS[3], tonumber(ARGS[4])
  local rid = R('HGET', B .. 'leases:key', name)
  local row = rid and hgetall(B .. 'leases:r:' .. rid)
  if row and tonumber(row.expires_at) > NOW and tonumber(row.depth) > 0 then
    if row.owner ~= owner then
      return false
    end
    local t = copy(row)
    t.depth = I(tonumber(row.depth) + 1)
    t.expires_at = I(NOW + ttl)
    writeRow(B, 'leases', rid, t, row)
    return t.token
  end
  local tok = now_us
  if row and tonumber(row.token) + 1 > tok then
    tok = tonumber(row.token) + 1
  end
  local t = {name = name, owner = owner, token = I(tok), depth = '1',
             expires_at = I(NOW + ttl), acquired_at = I(NOW)}
  if not row then
    rid = nextRid(B, 'leases')
  end
  writeRow(B, 'leases', rid, t, row)
  return t.token
end

-- ARGS: name, owner.  1 released one level, 0 not held by owner.
function ops.release()
  local rid = R('HGET', B .. 'leases:key', ARGS[2])
  local row = rid and hgetall(B .. 'leases:r:' .. rid)
  if not row or row.owner ~= ARGS[3] or tonumber(row.expires_at) <= NOW or
    tonumber(row.depth) <= 0 then
    return 0
  end
  local t = copy(row)
  t.depth = I(tonumber(row.depth) - 1)
  if tonumber(row.depth) <= 1 then
    t.expires_at = I(NOW)
  end
  writeRow(B, 'leases', rid, t, row)
  return 1
end

-- cur + delta (decimal texts; isReal '1': delta is a real) as text.
local function addNum(cur, delta, isReal)
  if isReal == '0' and not string.find(cur, '[%.eEnN]') then
    -- Integers add exactly (64-bit) through a scratch key.
    local k = B .. 'counters:tmp'
    redis.call('SET', k, cur)
    local ok = pcall(redis.call, 'INCRBY', k, delta)
    local v = redis.call('GET', k)
    redis.call('DEL', k)
    if ok then
      return v
    end
    -- Out of 64-bit range: a real, as SQLite's integer arithmetic does.
  end
  return string.format('%.17g', tonumber(cur) + tonumber(delta))
end

-- ARGS: scope, name, delta (decimal text), isReal (0/1).  The new value.
function ops.incr()
  local scope, name, delta = ARGS[2], ARGS[3], ARGS[4]
  local key = #scope .. ':' .. scope .. name
  local rid = R('HGET', B .. 'counters:key', key)
  local row = rid and hgetall(B .. 'counters:r:' .. rid)
  local t
  if row then
    t = copy(row)
  else
    rid = nextRid(B, 'counters')
    t = {scope = scope, name = name, value = '0'}
  end
  t.value = addNum(t.value, delta, ARGS[5])
  t.updated_at = I(NOW)
  writeRow(B, 'counters', rid, t, row)
  if UNDO then
    -- Undone by taking the increment back when others changed the counter
    -- since (see ops.undo).
    local u = UNDO[TOUCHED[B .. 'counters:r:' .. rid]]
    u.delta, u.real = delta, ARGS[5]
  end
  return t.value
end

-- ARGS: execution_id, name.  The oldest unconsumed payload ('{}' when
-- sent without one), now consumed; nil when none.
function ops.take()
  local best, brow
  for _, rid in ipairs(R('SMEMBERS', B .. 'signals:i:execution_id:' ..
                                  ARGS[2])) do
    local row = hgetall(B .. 'signals:r:' .. rid)
    if row and row.name == ARGS[3] and not row.consumed_at and
      row.execution_id == ARGS[2] then
      if not brow or tonumber(row.created_at) < tonumber(brow.created_at) or
        (tonumber(row.created_at) == tonumber(brow.created_at) and row.id <
          brow.id) then
        best, brow = rid, row
      end
    end
  end
  if not best then
    return false
  end
  local t = copy(brow)
  t.consumed_at = I(NOW)
  writeRow(B, 'signals', best, t, brow)
  return brow.payload or '{}'
end

-- ARGS: execution id, JSON entry (minified).  1, or 0 when no such row.
function ops.progress()
  local rid = R('HGET', B .. 'executions:key', ARGS[2])
  local row = rid and hgetall(B .. 'executions:r:' .. rid)
  if not row then
    return 0
  end
  local t = copy(row)
  local p = row.progress or '[]'
  if not string.match(p, '^%s*%[') then
    t.progress = p -- not an array: left as it is, as json_insert does
  elseif string.match(p, '^%s*%[%s*%]%s*$') then
    t.progress = '[' .. ARGS[3] .. ']'
  else
    t.progress = string.gsub(p, '%]%s*$', '') .. ',' .. ARGS[3] .. ']'
  end
  t.updated_at = I(NOW)
  writeRow(B, 'executions', rid, t, row)
  return 1
end

-- ARGS: queue, 1 pause / 0 resume.  1 when it changed.
function ops.pause()
  local k = B .. 'tasks:paused'
  if UNDO then
    UNDO[#UNDO + 1] = {paused = ARGS[2], old = redis.call('HGET', k, ARGS[2])}
  end
  if ARGS[3] == '1' then
    return redis.call('HSETNX', k, ARGS[2], I(NOW))
  end
  return redis.call('HDEL', k, ARGS[2])
end

-- retain= (xPurge).  ARGS: kind, retain_ms, max.  Remove up to max rows of
-- kind whose retention column (S[kind].ret, through its index) is older
-- than retain_ms and, for a kind with a state, whose state is final
-- (SV_FINAL); rows in the index that are not final yet are passed over, up
-- to 4 x max of them.  The number removed.
function ops.purge()
  local kind, n = ARGS[2], tonumber(ARGS[4])
  local e = S[kind]
  local m = meta(B, kind)
  if not e.ret or m.has[e.ret] ~= 'n' then
    return 0
  end
  local k = B .. kind .. ':z:' .. e.ret
  local cut = '(' .. I(NOW - tonumber(ARGS[3]))
  local done, off, seen = 0, 0, 0
  while done < n and seen < 4 * n do
    local rids = R('ZRANGEBYSCORE', k, '-inf', cut, 'LIMIT', off, n - done)
    if #rids == 0 then
      break
    end
    for _, rid in ipairs(rids) do
      seen = seen + 1
      local row = hgetall(B .. kind .. ':r:' .. rid)
      if not row then
        qset(k, 'z', rid, nil) -- an entry left behind
      elseif not e.state or SV_FINAL[row[e.state]] then
        deleteRow(B, kind, rid, row)
        done = done + 1
      else
        off = off + 1
      end
    end
  end
  return done
end

-- Undo the calls of a rolled-back transaction (or savepoint): ARGS are the
-- undo records of one call (see run), applied last first.  A row goes back
-- to what it was before the call unless another call changed it since (its
-- write stamp moved on): then it is left alone, except a counter, which
-- gives back the increment.  1.
function ops.undo()
  local recs, i = {}, 2
  while i <= #ARGS do
    if ARGS[i] == 'p' then
      recs[#recs + 1] = {paused = ARGS[i + 1], old = ARGS[i + 2]}
      i = i + 3
    elseif ARGS[i] == 's' then
      local n = tonumber(ARGS[i + 3])
      recs[#recs + 1] = {set = ARGS[i + 1], op = ARGS[i + 2],
                         members = {unpack(ARGS, i + 4, i + 3 + n)}}
      i = i + 4 + n
    else
      local n, old = tonumber(ARGS[i + 6]), nil
      if n > 0 then
        old = {}
        for j = i + 7, i + 6 + n, 2 do
          old[ARGS[j]] = ARGS[j + 1]
        end
      end
      recs[#recs + 1] = {kind = ARGS[i + 1], rid = ARGS[i + 2],
                         v = ARGS[i + 3], delta = ARGS[i + 4],
                         real = ARGS[i + 5], old = old}
      i = i + 7 + n
    end
  end
  for j = #recs, 1, -1 do
    local r = recs[j]
    if r.set then
      for _, m in ipairs(r.members) do
        redis.call(r.op == '+' and 'SREM' or 'SADD', r.set, m)
      end
    elseif r.paused then
      if r.old == '' then
        redis.call('HDEL', B .. 'tasks:paused', r.paused)
      else
        redis.call('HSET', B .. 'tasks:paused', r.paused, r.old)
      end
    else
      local cur = hgetall(B .. r.kind .. ':r:' .. r.rid)
      if (cur and cur._v or '0') == r.v then
        if r.old then
          -- Back with its stamp of before, too: the row is as it was then
          -- (a writer that read it then may still write it), and the
          -- records of earlier calls of the transaction find it as they
          -- left it.
          local v = r.old._v
          r.old._v = nil
          writeRow(B, r.kind, r.rid, r.old, cur)
          if v then
            redis.call('HSET', B .. r.kind .. ':r:' .. r.rid, '_v', v)
          end
        elseif cur then
          deleteRow(B, r.kind, r.rid, cur)
        end
      elseif r.delta ~= '' and cur then
        local t = copy(cur)
        local d = r.delta
        if string.sub(d, 1, 1) == '-' then
          d = string.sub(d, 2)
        elseif d ~= '0' then
          d = '-' .. d
        end
        t.value = addNum(cur.value, d, r.real)
        t.updated_at = I(NOW)
        writeRow(B, 'counters', r.rid, t, cur)
      end
    end
  end
  return 1
end

-- The run_at of an entry of ready (see readyMember): bytes 21 to 40.
local function readyRunAt(member)
  local s = string.sub(member, 21, 40)
  if string.sub(s, 1, 1) == '1' then
    return tonumber(string.sub(s, 2))
  end
  s = string.gsub(string.sub(s, 2), '.', function(c)
    return string.char(105 - string.byte(c))
  end)
  return -tonumber(s)
end

-- The figures of queue q (see state_metrics): 11 values, then the 60
-- counts of completions by minute when bHist, oldest first.  From the
-- sets' cardinalities and the counters, never a walk of the rows: the
-- oldest due run_at is the first entry of each priority in ready (one
-- ZRANGEBYLEX per distinct priority) and the first due entry of wait.
local function queueMetrics(q, bHist, out)
  local p = B .. 'tasks'
  local kw, kl = p .. ':wait:' .. q, p .. ':lq:' .. q
  local krs = readyKeys(p, q)
  local nReady, nWait = 0, R('ZCARD', kw)
  for _, kr in ipairs(krs) do
    nReady = nReady + R('ZCARD', kr)
  end
  local nWaitDue = R('ZCOUNT', kw, '-inf', NOW)
  local nClaimed = R('ZCARD', kl)
  local nExpired = R('ZCOUNT', kl, '-inf', NOW)
  local f = redis.call('HMGET', p .. ':n:' .. q, 'completed', 'failed',
                       'dead', 'cancelled', 'waiting')
  local oldest
  local w = R('ZRANGEBYSCORE', kw, '-inf', NOW, 'WITHSCORES', 'LIMIT', 0, 1)
  if #w > 0 then
    oldest = tonumber(w[2])
  end
  for _, kr in ipairs(krs) do
    local from = '-'
    while true do
      local h = R('ZRANGEBYLEX', kr, from, '+', 'LIMIT', 0, 1)
      if #h == 0 then
        break
      end
      local r = readyRunAt(h[1])
      if not oldest or r < oldest then
        oldest = r
      end
      from = '[' .. string.sub(h[1], 1, 20) .. '\255'
    end
  end
  local paused = redis.call('HEXISTS', p .. ':paused', q)
  local v = {nReady + nWaitDue, nWait - nWaitDue, nClaimed, nExpired,
             tonumber(f[1] or 0), tonumber(f[2] or 0), tonumber(f[3] or 0),
             tonumber(f[4] or 0)}
  local empty = paused == 0
  for _, x in ipairs(v) do
    if x ~= 0 then
      empty = false
    end
  end
  out[#out + 1] = q
  for _, x in ipairs(v) do
    out[#out + 1] = x
  end
  out[#out + 1] = oldest and math.max(0, NOW - oldest) or -1
  out[#out + 1] = paused
  out[#out + 1] = tonumber(f[5] or 0)
  if tonumber(f[5] or 0) ~= 0 then
    empty = false
  end
  if bHist then
    -- A second counts as its last ms (a completion now is in the last
    -- minute): minute k before now holds the seconds whose end is in
    -- (now - (k + 1) min, now - k min].
    local h, old = {}, {}
    for i = 1, 60 do
      h[i] = 0
    end
    local a = redis.call('HGETALL', p .. ':cps:' .. q)
    for i = 1, #a, 2 do
      local k = math.floor((NOW - (tonumber(a[i]) * 1000 + 999)) / 60000)
      if k < 0 then
        k = 0
      end
      if k < 60 then
        h[60 - k] = h[60 - k] + tonumber(a[i + 1])
      elseif tonumber(a[i]) <= NOW / 1000 - 3600 then
        old[#old + 1] = a[i]
      end
    end
    if #old > 0 then
      send('HDEL', p .. ':cps:' .. q, old)
    end
    for i = 1, 60 do
      out[#out + 1] = h[i]
    end
  end
  return empty
end

-- state_metrics.  ARGS: "=<queue>" or "" (every queue), "1" to read the
-- history.  Per queue, in any order, the values of queueMetrics.  Without
-- a queue: the queues of Btasks:queues and the paused ones; a queue found
-- empty (no task, not paused) is left out and forgotten.
function ops.metrics()
  local bHist = ARGS[3] == '1'
  local out = {}
  meta(B, 'tasks')
  if ARGS[2] ~= '' then
    queueMetrics(string.sub(ARGS[2], 2), bHist, out)
    return out
  end
  local qs, seen = {}, {}
  for _, k in ipairs({'queues', 'paused'}) do
    local a = redis.call(k == 'queues' and 'SMEMBERS' or 'HKEYS',
                         B .. 'tasks:' .. k)
    for _, q in ipairs(a) do
      if not seen[q] then
        seen[q] = true
        qs[#qs + 1] = q
      end
    end
  end
  for _, q in ipairs(qs) do
    local n = #out
    if queueMetrics(q, bHist, out) then
      for i = #out, n + 1, -1 do
        out[i] = nil
      end
      redis.call('SREM', B .. 'tasks:queues', q)
    end
  end
  return out
end

function ops.paused()
  return redis.call('HEXISTS', B .. 'tasks:paused', ARGS[2])
end

-- ARGS: queue.  {1 runnable / 0, ms until the next run_at or lease expiry
-- (-1 none)}.
function ops.runnable()
  local q = ARGS[2]
  if redis.call('HEXISTS', B .. 'tasks:paused', q) == 1 then
    return {0, -1}
  end
  meta(B, 'tasks')
  for _, kr in ipairs(readyKeys(B .. 'tasks', q)) do
    if R('ZCARD', kr) > 0 then
      return {1, 0}
    end
  end
  local nxt = -1
  for _, k in ipairs({'tasks:wait:', 'tasks:lq:'}) do
    local a = R('ZRANGEBYSCORE', B .. k .. q, '-inf', '(+inf', 'WITHSCORES',
                'LIMIT', 0, 1)
    if #a > 0 then
      local d = tonumber(a[2]) - NOW
      if d <= 0 then
        return {1, 0}
      end
      if nxt < 0 or d < nxt then
        nxt = d
      end
    end
  end
  return {0, I(nxt)}
end

-- Rows of one kind.  ARGS: kind, nCand, the candidate sources in the
-- client's order of preference, then the column names wanted.  Sources:
-- key <enc> | set <col> <value> | zset <col> <min> <max> | pending <queue>
-- | claimed <queue>; the first one this namespace keeps an index for is
-- read (set and zset only for indexed columns; pending and claimed, tasks
-- only: the queue's wait and ready sets, its lq set), else every row.
-- The client checks every constraint on the rows.  Returns per row: rid,
-- _v, the columns.
function ops.scan()
  local kind = ARGS[2]
  local p = B .. kind
  local m = meta(B, kind)
  local rids
  local i = 4
  for _ = 1, tonumber(ARGS[3]) do
    local mode = ARGS[i]
    if mode == 'key' then
      if not rids then
        local r = R('HGET', p .. ':key', ARGS[i + 1])
        rids = r and {r} or {}
      end
      i = i + 2
    elseif mode == 'set' then
      if not rids and m.has[ARGS[i + 1]] == 't' then
        rids = R('SMEMBERS', p .. ':i:' .. ARGS[i + 1] .. ':' .. ARGS[i + 2])
      end
      i = i + 3
    elseif mode == 'zset' then
      if not rids and m.has[ARGS[i + 1]] == 'n' then
        rids = R('ZRANGEBYSCORE', p .. ':z:' .. ARGS[i + 1], ARGS[i + 2],
                 ARGS[i + 3])
      end
      i = i + 4
    else
      if not rids and kind == 'tasks' and mode == 'claimed' then
        rids = R('ZRANGE', p .. ':lq:' .. ARGS[i + 1], 0, -1)
      elseif not rids and kind == 'tasks' and mode == 'pending' then
        rids = R('ZRANGE', p .. ':wait:' .. ARGS[i + 1], 0, -1)
        local ready = {}
        for _, kr in ipairs(readyKeys(p, ARGS[i + 1])) do
          for _, x in ipairs(R('ZRANGE', kr, 0, -1)) do
            ready[#ready + 1] = x
          end
        end
        local seen = {}
        for _, rid in ipairs(rids) do
          seen[rid] = true
        end
        for k = 1, #ready, 1000 do
          local ids = {}
          for j = k, math.min(k + 999, #ready) do
            ids[#ids + 1] = string.sub(ready[j], 41)
          end
          for _, rid in ipairs(redis.call('HMGET', p .. ':key',
                                          unpack(ids))) do
            if rid and not seen[rid] then
              seen[rid] = true
              rids[#rids + 1] = rid
            end
          end
        end
      end
      i = i + 2
    end
  end
  if not rids then
    rids = R('ZRANGE', p .. ':all', 0, -1)
  end
  local fields = {'_v'}
  for k = i, #ARGS do
    fields[#fields + 1] = ARGS[k]
  end
  local out = {}
  for _, rid in ipairs(rids) do
    local v = redis.call('HMGET', p .. ':r:' .. rid, unpack(fields))
    if v[1] then
      out[#out + 1] = rid
      for k = 1, #v do
        out[#out + 1] = v[k]
      end
    end
  end
  return out
end

-- ARGS: kind, column names (checked by the client).  Keep an index of each
-- named column for every writer of the namespace from now on (recorded in
-- B<kind>:idx), built here from the rows there are.  The number of
-- indexes added.
function ops.want()
  local kind = ARGS[2]
  local e = S[kind]
  local p = B .. kind
  local m = meta(B, kind)
  local new, seen = {}, {}
  for k = 3, #ARGS do
    local c = ARGS[k]
    if tyOf(e)[c] and not m.has[c] and not seen[c] and
      not (#e.key == 1 and e.key[1] == c) then
      seen[c] = true
      new[#new + 1] = c
    end
  end
  if #new == 0 then
    return 0
  end
  for _, c in ipairs(new) do
    local ty = e.tyOf[c]
    if ty ~= 't' and ty ~= 'j' then
      redis.call('DEL', p .. ':z:' .. c) -- left by an index dropped by hand
    end
  end
  for _, rid in ipairs(R('ZRANGE', p .. ':all', 0, -1)) do
    local v = redis.call('HMGET', p .. ':r:' .. rid, unpack(new))
    for j, c in ipairs(new) do
      if v[j] then
        local ty = e.tyOf[c]
        if ty == 't' or ty == 'j' then
          qset(p .. ':i:' .. c .. ':' .. v[j], 's', rid, true)
        else
          qset(p .. ':z:' .. c, 'z', rid, tonumber(v[j]))
        end
      end
    end
  end
  local a = {}
  for _, c in ipairs(new) do
    a[#a + 1] = c
    a[#a + 1] = '1'
  end
  redis.call('HSET', p .. ':idx', unpack(a))
  return #new
end

-- For a write about to be buffered: the rid holding key <enc> of <kind>
-- (or of the tasks' (queue, idempotency_key) when ARGS[4] = 'dd', then
-- with its state and created_at too), with its _v; nothing when none or
-- expired.  ARGS: kind, enc, 'key'|'dd',
-- now.
function ops.owner()
  local kind = ARGS[2]
  local rid = R('HGET', B .. kind .. ':' .. ARGS[4], ARGS[3])
  if not rid then
    return {}
  end
  local e = S[kind]
  local v = redis.call('HMGET', B .. kind .. ':r:' .. rid, '_v', e.exp or '_v',
                       'state', 'created_at')
  if not v[1] or (e.exp and v[2] and tonumber(v[2]) <= tonumber(ARGS[5])) then
    return {}
  end
  if ARGS[4] == 'dd' then
    -- dedup=: the client sees whether the holder is in the window
    return {rid, v[1], v[3] or false, v[4] or false}
  end
  return {rid, v[1]}
end

-- Reserve n row handles of kind: the first of them.  The counter never
-- falls behind a handle in use (after it was lost: FLUSHDB, a restart
-- without persistence, eviction).
function ops.rids()
  local k = B .. ARGS[2] .. ':seq'
  local top = R('ZRANGE', B .. ARGS[2] .. ':all', -1, -1)
  if top[1] and tonumber(redis.call('GET', k) or '0') < tonumber(top[1]) then
    redis.call('SET', k, top[1])
  end
  local last = redis.call('INCRBY', k, ARGS[3])
  return I(last - tonumber(ARGS[3]) + 1)
end

-- The sweep of expired rows (vtab/policy.h): for each kind with an expiry
-- column that ops P wrote (inserts and updates), remove up to
-- SV_SWEEP_MAX rows per row written whose expiry is <= the writers' clock,
-- the oldest first, from its zset z:<expiry>.  Rows this call wrote
-- (touched: rk -> anything) are left alone: their index entries are still
-- queued.  A handle in the zset without a row (lost) is dropped from it.
local function sweep(P, touched)
  local todo = {}
  for _, o in ipairs(P) do
    local e = S[o[2]]
    if e.exp and o[3] ~= 'D' then
      local k = o[1] .. '\0' .. o[2]
      local w = todo[k]
      if not w then
        w = {base = o[1], kind = o[2], n = 0, t = 0}
        todo[k] = w
        todo[#todo + 1] = w
      end
      w.n = w.n + SV_SWEEP_MAX
      w.t = math.max(w.t, tonumber(o[7]))
    end
  end
  for _, w in ipairs(todo) do
    local p = w.base .. w.kind
    local z = p .. ':z:' .. S[w.kind].exp
    for _, rid in ipairs(R('ZRANGEBYSCORE', z, '-inf', I(w.t), 'LIMIT', 0,
                           w.n)) do
      local rk = p .. ':r:' .. rid
      if touched[rk] == nil then
        local old = hgetall(rk)
        if old then
          deleteRow(w.base, w.kind, rid, old)
        else
          qset(z, 'z', rid, nil)
        end
      end
    end
  end
end

-- Fire a schedule (see xFire in statevtab.h).  ARGS: name, the next_run
-- the client saw, last_run and next_run to set ("": NULL), then the
-- arguments of a write (see ops.write) of one op, the task's insert.  When
-- the schedule is there, enabled and its next_run is the one seen, the
-- task is written and the schedule row moves on; returns the write's reply
-- ({'ok', 1} when the task was written), or 0 when nothing was done.
function ops.fire()
  local m = meta(B, 'schedules')
  local rid = R('HGET', m.kKey, ARGS[2])
  if not rid then
    return 0
  end
  local rk = m.p .. ':r:' .. rid
  local old = hgetall(rk)
  if not old or old.next_run ~= ARGS[3] or old.enabled == '0' then
    return 0
  end
  local sched = {ARGS[2], ARGS[4], ARGS[5]}
  local a = {'write'}
  for i = 6, #ARGS do
    a[#a + 1] = ARGS[i]
  end
  ARGS = a
  local res = ops.write()
  if type(res) ~= 'table' or res[1] ~= 'ok' or res[2] ~= 1 then
    return res
  end
  local row = {}
  for k, v in pairs(old) do
    row[k] = v
  end
  row.last_run = sched[2]
  row.next_run = sched[3] ~= '' and sched[3] or nil
  row.updated_at = a[9] -- the client's time, as on the other stores
  row._v = I(tonumber(old._v or '0') + 1)
  redis.call('HSET', rk, 'last_run', row.last_run, 'updated_at',
             row.updated_at, '_v', row._v)
  if row.next_run then
    redis.call('HSET', rk, 'next_run', row.next_run)
  else
    redis.call('HDEL', rk, 'next_run')
  end
  reindex(B, 'schedules', rid, old, row)
  return res
end

-- A transaction's writes, checked together and then applied, or none.
-- ARGS: nOps, then per op: base, kind, 'I'|'U'|'D', conflict 'a'|'i'|'r',
-- rid, stamp (the _v the client read, "" none), client time (ms), the
-- number n of non-NULL columns (0 for D), then n (column, value) pairs.
-- Returns {'ok', done per op} or {'err', 'constraint'|'conflict', op index,
-- detail}.
function ops.write()
  local nOps = tonumber(ARGS[2])
  local simRow, simKey, simDd = {}, {}, {}
  local orig = {} -- rk -> the row as read from the server (false: none)
  local acts = {}
  local done = {'ok'}
  local function getRow(base, kind, rid)
    local rk = base .. kind .. ':r:' .. rid
    local r = simRow[rk]
    if r ~= nil then
      return r or nil
    end
    r = hgetall(rk)
    simRow[rk] = r or false
    orig[rk] = r or false
    return r
  end
  local function getMap(base, kind, map, sim, enc)
    local kk = base .. kind .. '\0' .. enc
    local o = sim[kk]
    if o ~= nil then
      return o or nil
    end
    o = R('HGET', base .. kind .. ':' .. map, enc)
    sim[kk] = o or false
    return o or nil
  end
  -- The dd entry of a task that goes or leaves its key: gone, when it
  -- was that task's (with dedup= the entry may be another task's).
  local function simDdOff(base, kind, rid, old)
    if kind == 'tasks' and old.idempotency_key and
      getMap(base, kind, 'dd', simDd, encDd(old)) == rid then
      simDd[base .. kind .. '\0' .. encDd(old)] = false
    end
  end
  local function simDel(base, kind, rid, old)
    local e = S[kind]
    simRow[base .. kind .. ':r:' .. rid] = false
    simKey[base .. kind .. '\0' .. encKey(e, old)] = false
    simDdOff(base, kind, rid, old)
    acts[#acts + 1] = {'d', base, kind, rid}
  end
  local function simPut(base, kind, rid, row, old, take)
    local e = S[kind]
    if old then
      simKey[base .. kind .. '\0' .. encKey(e, old)] = false
      if not row.idempotency_key or encDd(row) ~= encDd(old) then
        simDdOff(base, kind, rid, old)
      end
    end
    simRow[base .. kind .. ':r:' .. rid] = row
    simKey[base .. kind .. '\0' .. encKey(e, row)] = rid
    if kind == 'tasks' and row.idempotency_key and take ~= false and
      (take or not old or not old.idempotency_key or
       encDd(row) ~= encDd(old)) then
      simDd[base .. kind .. '\0' .. encDd(row)] = rid
    end
    acts[#acts + 1] = {'w', base, kind, rid, row}
  end
  -- The live row other than rid holding the key (or dedupe key) of row.
  local function holder(base, kind, rid, row, map, sim, enc, tnow)
    local h = getMap(base, kind, map, sim, enc)
    if not h or h == rid then
      return nil
    end
    local hr = getRow(base, kind, h)
    if not hr then
      return nil
    end
    local e = S[kind]
    if e.exp and hr[e.exp] and tonumber(hr[e.exp]) <= tnow then
      simDel(base, kind, h, hr) -- expired: invisible, and in the way
      return nil
    end
    return h, hr
  end
  local P = {}
  local i = 3
  -- bFast: every op inserts a row, so far clashing with nothing.
  local bFast = true
  for k = 1, nOps do
    -- (The client time stays text until the op by op path needs it:
    -- Lua's tonumber of a string is a strtod.)
    local o = {ARGS[i], ARGS[i + 1], ARGS[i + 2], ARGS[i + 3], ARGS[i + 4],
               ARGS[i + 5], ARGS[i + 6], false, false, false}
    local e = S[o[2]]
    local j = i + 8
    i = j + 2 * tonumber(ARGS[i + 7])
    if o[3] ~= 'D' then
      local row = {}
      for q = j, i - 1, 2 do
        row[ARGS[q]] = ARGS[q + 1]
      end
      o[8] = row
      o[9], o[10] = j, i - 1 -- where its pairs are in ARGS
    end
    if o[3] ~= 'I' or o[6] ~= '' or (e.ver and not o[8][e.ver]) or
      (o[2] == 'tasks' and o[8].depends_on) then
      bFast = false
    end
    P[k] = o
  end
  -- The inserts of each kind are checked with one command per structure:
  -- their handles free (EXISTS), their keys and idempotency keys (HMGET).
  local fresh = {}
  local function note(f, x, v)
    f[x][#f[x] + 1] = v
    -- Two inserts of one handle or key: the checks below take them one by
    -- one.
    if f.seen[x][v] then
      bFast = false
    end
    f.seen[x][v] = true
  end
  for _, o in ipairs(P) do
    if o[3] == 'I' then
      local fk = o[1] .. o[2]
      local f = fresh[fk]
      if not f then
        f = {base = o[1], kind = o[2], rk = {}, enc = {}, dd = {},
             seen = {rk = {}, enc = {}, dd = {}}}
        fresh[fk] = f
        fresh[#fresh + 1] = f
      end
      note(f, 'rk', o[1] .. o[2] .. ':r:' .. o[5])
      note(f, 'enc', encKey(S[o[2]], o[8]))
      if o[2] == 'tasks' and o[8].idempotency_key then
        note(f, 'dd', encDd(o[8]))
      end
    end
  end
  for _, f in ipairs(fresh) do
    local p = f.base .. f.kind
    local n = 0
    for j = 1, #f.rk, 1000 do
      n = n + redis.call('EXISTS', unpack(f.rk, j, math.min(j + 999, #f.rk)))
    end
    f.free = n == 0
    bFast = bFast and f.free
    f.holders = {}
    for _, x in ipairs({'enc', 'dd'}) do
      local enc, h = f[x], {}
      for j = 1, #enc, 1000 do
        local v = R('HMGET', p .. ':' .. (x == 'enc' and 'key' or 'dd'),
                    unpack(enc, j, math.min(j + 999, #enc)))
        for q = 1, #v do
          h[j + q - 1] = v[q] or false
          bFast = bFast and not v[q]
        end
      end
      f.holders[x] = h
    end
  end
  if not bFast then
    -- What the checks found, for the op by op path below.
    for _, f in ipairs(fresh) do
      if f.free then
        for _, rk in ipairs(f.rk) do
          simRow[rk] = false
          orig[rk] = false
        end
      end
      for _, x in ipairs({{'enc', simKey}, {'dd', simDd}}) do
        for q, enc in ipairs(f[x[1]]) do
          x[2][f.base .. f.kind .. '\0' .. enc] = f.holders[x[1]][q]
        end
      end
    end
  end
  if bFast then
    -- Fresh rows only, with free handles and keys (a transaction of
    -- INSERTs): no holder to look for, nothing to read back.
    QFRESH = true
    for k, o in ipairs(P) do
      if o[2] == 'tasks' then
        meta(o[1], 'tasks') -- the metrics built before the row is written
      end
      redis.call('HSET', o[1] .. o[2] .. ':r:' .. o[5], '_v', '1',
                 unpack(ARGS, o[9], o[10]))
      reindex(o[1], o[2], o[5], nil, o[8])
      done[k + 1] = 1
    end
    local touched = {}
    for _, o in ipairs(P) do
      touched[o[1] .. o[2] .. ':r:' .. o[5]] = true
    end
    sweep(P, touched)
    return done
  end
  for k, o in ipairs(P) do
    local base, kind, typ, mode, rid, stamp, tnow, row = o[1], o[2], o[3],
      o[4], o[5], o[6], tonumber(o[7]), o[8]
    local e = S[kind]
    -- dedup= of a task with a key: "<mode>;<active 0|1>;<period ms>"
    local wA, wP, take
    if #mode > 1 then
      wA, wP = string.match(mode, '^.;(%d);(%d+)$')
      wA, wP = wA == '1', tonumber(wP)
      mode = string.sub(mode, 1, 1)
    end
    local old = getRow(base, kind, rid)
    local ok = 1
    if stamp ~= '' and (not old or old._v ~= stamp) then
      return {'err', 'conflict', k, kind}
    end
    if typ == 'I' and old then
      -- The handle is taken: the counter was lost and handed it out again.
      return {'err', 'rid', k, kind}
    end
    if typ == 'D' then
      if old then
        simDel(base, kind, rid, old)
      end
    else
      if typ == 'U' and not old then
        ok = 0
      end
      local kh, khr
      local dh, dhr
      if ok == 1 then
        kh, khr = holder(base, kind, rid, row, 'key', simKey, encKey(e, row),
                         tnow)
        if kind == 'tasks' and row.idempotency_key then
          dh, dhr = holder(base, kind, rid, row, 'dd', simDd, encDd(row), tnow)
          if wA ~= nil and not dh then
            take = true -- nobody else holds the key
          elseif wA ~= nil then
            if ddClash(wA, wP, row, dhr) then
              take = true
            else
              -- out of the window: not in the way; the newer takes the key
              take = ddTake(wA, wP, row, dhr)
              dh, dhr = nil, nil
            end
          end
        end
      end
      if ok == 1 and (kh or dh) then
        if mode == 'i' then
          ok = 0
        elseif mode == 'r' then
          if kh then
            simDel(base, kind, kh, khr)
          end
          if dh and dh ~= kh then
            simDel(base, kind, dh, dhr)
          end
        elseif kh or typ == 'U' then
          return {'err', 'constraint', k, kh and 'key' or 'dd'}
        else
          ok = 0 -- idempotent insert: an existing (queue, key) wins
        end
      end
      if ok == 1 and kind == 'tasks' and typ == 'I' and row.depends_on and
        (row.state == 'pending' or row.state == 'waiting') then
        local err, open = depsInsert(row, function(d)
          local r = getMap(base, kind, 'key', simKey, d)
          return r and getRow(base, kind, r)
        end)
        if err then
          return {'err', 'deps', k, err}
        end
        if open then
          LINKS[#LINKS + 1] = {base, row.id, open}
        end
      end
      if ok == 1 then
        if e.ver then
          if old then
            row[e.ver] = I(tonumber(old[e.ver] or 0) + 1)
          elseif not row[e.ver] then
            row[e.ver] = '1'
          end
        end
        row._v = old and old._v or nil
        if wA ~= nil then
          DDTAKE[base .. kind .. ':r:' .. rid] = take
        end
        simPut(base, kind, rid, row, old, take)
      end
    end
    done[#done + 1] = ok
  end
  -- Every row an act writes was read above: the server's rows as the acts
  -- before leave them, without reading them again.
  local cur = {}
  for _, a in ipairs(acts) do
    local base, kind, rid = a[2], a[3], a[4]
    local rk = base .. kind .. ':r:' .. rid
    local old = cur[rk]
    if old == nil then
      old = orig[rk]
      if old == nil then
        old = hgetall(rk) or false
      end
    end
    if a[1] == 'd' then
      if old then
        deleteRow(base, kind, rid, old)
      end
      cur[rk] = false
    else
      local row = copy(a[5])
      row._v = nil
      writeRow(base, kind, rid, row, old or nil)
      cur[rk] = row
    end
  end
  for _, o in ipairs(P) do
    cur[o[1] .. o[2] .. ':r:' .. o[5]] = cur[o[1] .. o[2] .. ':r:' .. o[5]]
      or false
  end
  sweep(P, cur)
  return done
end

-- One call: keys[1] is the namespace's base, args[1] the operation.  The
-- store appends "return run(KEYS, ARGV)" to run this file with EVALSHA, or
-- registers run as a Redis function (FCALL): then everything above is made
-- once, when the library loads, instead of at every call.
--
-- An operation named with a trailing "!" (a call inside a transaction)
-- also records how to undo it: it returns {undo, its result}, where undo
-- is a flat list of records, one per row it changed in the order of their
-- first change -- "r", kind, rid, the row's write stamp after the call
-- ("0": deleted), the increment and isReal of a counter ("" otherwise),
-- 2n, then the n (field, value) pairs of the row before (none: it was
-- new) -- or per state_pause / state_resume "p", queue, the paused_at
-- before ("": not paused) -- or per change of a dependency set "s", its
-- key, "+" (added) or "-" (removed), n, the n members.  ops.undo takes
-- them back.
local function run(keys, args)
  B, OP, ARGS = keys[1], args[1], args
  UNDO, TOUCHED = nil, nil
  if string.sub(OP, -1) == '!' then
    OP = string.sub(OP, 1, -2)
    UNDO, TOUCHED = {}, {}
  end
  local t = redis.call('TIME')
  now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
  NOW = math.floor(now_us / 1000)
  NOWS = string.format('%d', NOW)
  QK, QL, QFRESH, WAKE, META, ENC = {}, {}, false, {}, {}, {}
  DDTAKE = {}
  NQ, NQL, TRIM, MK, SEC = {}, {}, {}, {}, {}
  SETTLE, LINKS, nSettled = {}, {}, 0
  local f = ops[OP]
  if not f then
    return redis.error_reply('statevtab: unknown operation ' .. tostring(OP))
  end
  local res = f()
  linkAll()
  settleAll()
  flushAll()
  if not UNDO then
    return res
  end
  local u = {}
  for _, r in ipairs(UNDO) do
    if r.set then
      u[#u + 1] = 's'
      u[#u + 1] = r.set
      u[#u + 1] = r.op
      u[#u + 1] = tostring(#r.members)
      for _, m in ipairs(r.members) do
        u[#u + 1] = m
      end
    elseif r.paused then
      u[#u + 1] = 'p'
      u[#u + 1] = r.paused
      u[#u + 1] = r.old or ''
    else
      u[#u + 1] = 'r'
      u[#u + 1] = r.kind
      u[#u + 1] = r.rid
      u[#u + 1] = redis.call('HGET', r.key, '_v') or '0'
      u[#u + 1] = r.delta or ''
      u[#u + 1] = r.real or ''
      u[#u + 1] = tostring(#r.old)
      for _, x in ipairs(r.old) do
        u[#u + 1] = x
      end
    end
  end
  if res == nil then
    res = false
  end
  return {u, res}
end

