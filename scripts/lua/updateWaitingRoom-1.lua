--[[
  admin.waitingRoom.update: changes a room's rate and/or pauses or resumes it from `now` on.
  The credit banked so far (at the old rate, up to the tickets handed out) is folded into `a`
  and the clock restarts at `now` (lib/waiting-room.lua), so admissions already made stand and
  the change applies from this moment.

  KEYS[1] the room's hash (keys.waitingRoom(id).room)

  ARGV[1] now (ms epoch, the service's clock)
  ARGV[2] the new admissions per second (integer >= 1), or '' to keep it
  ARGV[3] '1' to pause, '0' to resume, '' to keep

  Returns (codes of lib/reply.lua):
    OK            changed
    NOT_LOADED    no such room in Redis: nothing changed
  Malformed arguments answer an error.
]]
--!include lib/reply.lua
--!include lib/waiting-room.lua
local now = tonumber(ARGV[1])
local rate = ARGV[2]
local paused = ARGV[3]
if now == nil or (rate ~= '' and not string.match(rate, '^[1-9]%d*$')) or
   (paused ~= '' and paused ~= '0' and paused ~= '1') then
  return redis.error_reply("ERR updateWaitingRoom: now a number, rate '' or an integer >= 1, paused '', '0' or '1'")
end
local s = redis.call('HMGET', KEYS[1], 'n', 'a', 't', 'r', 'p', 'o')
if not s[4] then
  return NOT_LOADED
end
local n = tonumber(s[1])
local credit = wr_credit(tonumber(s[2]), tonumber(s[3]), tonumber(s[4]), tonumber(s[5]), tonumber(s[6]), now)
if credit > n * 1000 then
  credit = n * 1000
end
redis.call('HSET', KEYS[1], 'a', wr_int(credit), 't', wr_int(now))
if rate ~= '' then
  redis.call('HSET', KEYS[1], 'r', rate)
end
if paused ~= '' then
  redis.call('HSET', KEYS[1], 'p', paused)
end
return OK
