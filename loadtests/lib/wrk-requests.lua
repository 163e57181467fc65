-- wrk script for loadtests/lib/wrk.ts: replays requests the benchmark rendered in advance.
--   wrk ... -s wrk-requests.lua <url> -- <file> <threads>
-- <file> holds raw HTTP/1.1 requests separated by NUL bytes. Thread k of n takes every n-th
-- request from the k-th, so no request is sent twice unless a thread runs out (it then starts
-- its share again and counts a wrap: the caller warns, since repeats are not what it measured).
-- done() prints one line, `WRK_RESULT {json}`, that wrk.ts parses.
-- With WRK_EXPECT_STATUS set in the environment, answers of that status are counted apart (what
-- the row measures, e.g. 409 for a sold-out coupon; wrk itself counts every answer >= 400 as an
-- error). Only then is response() defined: it makes wrk parse every answer's headers and body.

local threads = {}

function setup(thread)
  thread:set("index", #threads)
  table.insert(threads, thread)
end

-- CPU ticks (user + system) this wrk process has used so far: Linux's /proc, fields 14 and 15.
local function cpu_ticks()
  local f = io.open("/proc/self/stat", "r")
  if not f then return -1 end
  local line = f:read("*l")
  f:close()
  local fields = {}
  for field in line:match("%) (.*)"):gmatch("%S+") do fields[#fields + 1] = field end
  return tonumber(fields[12]) + tonumber(fields[13])
end

local requests, count, position = {}, 0, 0
wraps = 0
expected = 0

local expect_status = tonumber(os.getenv("WRK_EXPECT_STATUS") or "")
if expect_status then
  function response(status)
    if status == expect_status then expected = expected + 1 end
  end
end

function init(args)
  local stride = tonumber(args[2])
  local f = assert(io.open(args[1], "rb"))
  local all = f:read("*a")
  f:close()
  local k, from = 0, 1
  while true do
    local to = all:find("\0", from, true)
    if not to then break end
    if k % stride == index then
      count = count + 1
      requests[count] = all:sub(from, to - 1)
    end
    k = k + 1
    from = to + 1
  end
  assert(count > 0, "no requests for thread " .. index)
  -- Threads are initialised one after another before any request is sent: the last one's
  -- reading is the cost of loading, which done() leaves out of the load generator's CPU.
  cpu_at_start = cpu_ticks()
end

function request()
  position = position + 1
  if position > count then
    position = 1
    wraps = wraps + 1
  end
  return requests[position]
end

function done(summary, latency)
  local wrapped, expected_all = 0, 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + thread:get("wraps")
    expected_all = expected_all + thread:get("expected")
  end
  local e = summary.errors
  io.write(string.format(
    '\nWRK_RESULT {"requests":%d,"durationUs":%d,"p50":%d,"p95":%d,"p99":%d,"max":%d,' ..
      '"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"wraps":%d,"expected":%d,"cpuTicks":%d}\n',
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout, wrapped, expected_all,
    cpu_ticks() - threads[#threads]:get("cpu_at_start")))
end
