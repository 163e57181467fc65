--[[
  A waiting room's queue and admission rule, shared by the scripts on its hash
  (keys.waitingRoom(id).room; the fields are described there). The same rule, for reads, is
  packages/core/src/waiting-room/admission.ts.

  Admission is a function of the room's clock and its rate history, not a job that must run:
  the room banks admission credit in milli-tickets,
    credit(now) = a + r * max(0, now - max(t, o))      (a while paused)
  and every ticket up to floor(credit / 1000) is admitted, never beyond the tickets handed out:
    admittedThrough = min(n, floor(credit / 1000)).
  A change (rate, pause) and a join into an empty room fold the credit so far into `a` and
  restart `t` at that moment, so the history collapses into one segment and a new rate applies
  from its moment on. Credit beyond the tickets handed out is not banked: a crowd that arrives
  after a quiet hour is admitted at the rate, not all at once.

  Integers only (ms times, milli-tickets), so Lua's doubles hold them exactly.
]]
-- Every WR_JOIN_MARK-th ticket (1, 1+MARK, ...) records its join time (`j:<ticket>`) for the
-- oldest-wait metric: it reads the mark at or before the oldest waiting ticket, so the wait it
-- reports is at most the time WR_JOIN_MARK joins take too long. waiting-room.store.ts mirrors it.
local WR_JOIN_MARK = 100

local function wr_credit(a, t, r, p, o, now)
  local from = t
  if o > from then
    from = o
  end
  if p == 1 or now <= from then
    return a
  end
  return a + r * (now - from)
end

-- '%.0f': tostring would print large numbers as 1.7e+15.
local function wr_int(x)
  return string.format('%.0f', x)
end

--[[
  wr_ticket(room, user, now, join) reads (and with join = true, takes) `user`'s ticket and
  hands out the pass expiry the first time the ticket is seen admitted. Returns nil when the
  room is not loaded; otherwise the payload {ticket (0 = not joined), n, credit, t, r, p, o,
  passExpiresAtMs (0 = not admitted), fresh (1 = this call took the ticket)}.
]]
local function wr_ticket(room, user, now, join)
  local s = redis.call('HMGET', room, 'n', 'a', 't', 'r', 'p', 'o', 'ttl', user)
  if not s[4] then
    return nil
  end
  local n, a, t, r, p, o, ttl =
    tonumber(s[1]), tonumber(s[2]), tonumber(s[3]), tonumber(s[4]), tonumber(s[5]), tonumber(s[6]), tonumber(s[7])
  local credit = wr_credit(a, t, r, p, o, now)
  local ticket, expires, fresh = 0, 0, 0
  local entry = s[8]
  if entry then
    local colon = string.find(entry, ':', 1, true)
    if colon then
      ticket = tonumber(string.sub(entry, 1, colon - 1))
      expires = tonumber(string.sub(entry, colon + 1))
    else
      ticket = tonumber(entry)
    end
  elseif join then
    n = redis.call('HINCRBY', room, 'n', 1)
    ticket, fresh = n, 1
    if credit > n * 1000 then
      -- Credit beyond every ticket: the room was empty. The newcomer goes in now and the
      -- surplus is dropped, so a quiet spell banks no burst.
      credit = n * 1000
      redis.call('HSET', room, 'a', wr_int(credit), 't', wr_int(now))
      t, a = now, credit
    end
    if ticket % WR_JOIN_MARK == 1 then
      redis.call('HSET', room, 'j:' .. ticket, wr_int(now))
    end
  else
    return {0, n, credit, t, r, p, o, 0, 0}
  end
  if expires == 0 and ticket <= n and ticket * 1000 <= credit then
    -- Admitted, seen for the first time: the pass lives passTtlSeconds from now, once.
    expires = now + ttl * 1000
    redis.call('HSET', room, user, ticket .. ':' .. wr_int(expires))
  elseif fresh == 1 then
    redis.call('HSET', room, user, ticket)
  end
  return {ticket, n, credit, t, r, p, o, expires, fresh}
end
