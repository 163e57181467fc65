--[[
  waitingRoom.join: counts the call against the caller's limits, then gives the caller the
  room's next ticket, or the ticket it already has (one per user, in order of joining), in one
  step in the room's slot. The queue and admission rule: lib/waiting-room.lua.

  KEYS[1] the room's hash (keys.waitingRoom(id).room)
  KEYS[2] the caller's user limiter in the room's slot (keys.waitingRoom(id).limiter)
  KEYS[3] the caller's address limiter, likewise

  ARGV[1] user id (decimal; the field of the user's ticket)
  ARGV[2] now (ms epoch, the service's clock)
  ARGV[3], ARGV[4] user limit: interval (µs per request) and burst, or 'off' (lib/gcra.lua)
  ARGV[5], ARGV[6] address limit, the same way

  Returns (codes of lib/reply.lua):
    {OK, ticket, joined, credit, since, rate, paused, opensAt, passExpiresAtMs, fresh}
        the caller's ticket (>= 1) and the room's admission state at `now` (lib/waiting-room.lua);
        passExpiresAtMs 0 until the ticket is admitted; fresh 1 when this call took the ticket
    NOT_LOADED                           no such room in Redis: nothing counted or changed
    {RATE_LIMITED, retryAfterMs, which}  over a limit: no ticket taken
  Malformed arguments answer an error.
]]
--!include lib/reply.lua
--!include lib/gcra.lua
--!include lib/waiting-room.lua
local now = tonumber(ARGV[2])
if now == nil or not string.match(ARGV[1], '^%d+$') then
  return redis.error_reply('ERR joinWaitingRoom: user id must be decimal digits and now a number')
end
if redis.call('HEXISTS', KEYS[1], 'r') == 0 then
  return NOT_LOADED
end
local wait, limit = gcra_caller(ARGV, 2, KEYS[2], KEYS[3])
if wait == nil then
  return redis.error_reply("ERR joinWaitingRoom: each limit 'off' or interval and burst >= 1")
end
if wait ~= 0 then
  return {RATE_LIMITED, wait, limit}
end
return {OK, unpack(wr_ticket(KEYS[1], ARGV[1], now, true))}
