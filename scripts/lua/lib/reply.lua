--[[
  The reply protocol every script in this folder answers with (after BullMQ's numeric codes in
  its commands, mirrored by one enum and decoded in one place). Included
  (`--!include lib/reply.lua`) by every script; the same table is ReplyCode in
  packages/core/src/redis/replies.ts, which decodes every reply (a test checks the two agree).

  A reply is a code, alone or first in an array with its payload:
    code                  nothing else to say (the cheapest reply: no array to build or parse)
    {code, a, b}          a and b as the code defines them (below)
  A code means the same in every script; each script's header lists the codes it answers.

    0 OK               done; {OK, value} when the script returns a value (its header says which)
    1 NOT_LOADED       the script's state is missing from Redis (flush, restart, expiry): nothing
                       changed; the caller rebuilds it from Postgres (or fails closed meanwhile)
    2 ALREADY_LOADED   a load found the state already there: nothing changed; {ALREADY_LOADED,
                       value} when the script returns a value
    3 RATE_LIMITED     {RATE_LIMITED, retryAfterMs, which}: the call is over a limit (which: 1 the
                       user limit, 2 the address limit); nothing decided, counted or written
    4 NOT_ACTIVE       outside the window in which the thing can be had
    5 ALREADY_ISSUED   this user already holds it
    6 SOLD_OUT         none left to give
    7 OUT_OF_STOCK     {OUT_OF_STOCK, productId}: that product has fewer units than asked
    8 NO_HOLD          the order holds nothing (already released or committed)

  Locals, not a table: a table would be built again on every call of the script.
  A caller bug (malformed arguments) is answered with redis.error_reply, never a code.
]]
local OK = 0
local NOT_LOADED = 1
local ALREADY_LOADED = 2
local RATE_LIMITED = 3
local NOT_ACTIVE = 4
local ALREADY_ISSUED = 5
local SOLD_OUT = 6
local OUT_OF_STOCK = 7
local NO_HOLD = 8
