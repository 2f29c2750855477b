-- The wrk script of bench/redirects.py: GET /<code> for a random one of the
-- N links that `manage.py seed_links --prefix PREFIX` made (PREFIX0000000 …
-- PREFIX<N-1>, links/seeding.py), so no list of codes has to be read.
--
--   wrk --latency -s bench/redirects.lua URL -- N PREFIX WINDOW_MS SEED
--
-- wrk stops at its -d and drops the requests then in flight, which the
-- server may still serve and count: compared with the clicks in the
-- database, a run would be off by up to one request per connection. So the
-- script sends redirects for WINDOW_MS only; after that, delay() keeps every
-- connection idle once its last answer is in. With -d longer than WINDOW_MS
-- by more than the slowest answer, nothing is in flight when wrk stops, and
-- every redirect sent has been answered: the 3xx answers counted here are
-- then exactly the clicks the server may have recorded. done() prints the
-- totals; `sent` minus everything answered is what was left unanswered (in
-- flight at the stop, or lost to a socket error), and bench/redirects.py
-- turns a non-zero remainder into a bound instead of an equality.
--
-- A request made after the window anyway goes to /health/live, which counts
-- nothing and answers 200, an answer no redirect request gets. That happens
-- when delay() let a request through just before the window closed, and
-- when wrk reconnects after a socket error (it then sends without asking
-- delay()).

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } redirects_timespec;
int clock_gettime(int clock_id, redirects_timespec *tp);
]]
local CLOCK_MONOTONIC = 1
local IDLE_MS = 24 * 3600 * 1000
local timespec = ffi.new("redirects_timespec")

local function now_ms()
   ffi.C.clock_gettime(CLOCK_MONOTONIC, timespec)
   return tonumber(timespec.tv_sec) * 1000 + tonumber(timespec.tv_nsec) / 1e6
end

local threads = {}

function setup(thread)
   table.insert(threads, thread)
   thread:set("id", #threads)
end

function init(args)
   links = tonumber(args[1])
   prefix = args[2]
   window_ms = tonumber(args[3])
   math.randomseed(tonumber(args[4] or "1") * 1000 + id)
   -- Globals, so that done() can read them with thread:get().
   sent = 0      -- redirect requests written
   redirects = 0 -- 3xx answers
   on_time = 0   -- 3xx answers that came within the window
   other = 0     -- answers to redirect requests that were not 3xx
   late = 0      -- requests after the window, to /health/live
   health = 0    -- their 200 answers
   deadline = now_ms() + window_ms
   -- wrk calls request() once on the first thread's state before it starts,
   -- to check that the request parses; that one is never sent. Every
   -- connection's first real request comes after a call to delay().
   running = false
end

function delay()
   running = true
   if now_ms() >= deadline then
      return IDLE_MS
   end
   return 0
end

function request()
   if not running then
      return wrk.format("GET", "/health/live")
   end
   if now_ms() >= deadline then
      late = late + 1
      return wrk.format("GET", "/health/live")
   end
   sent = sent + 1
   local code = string.format("%s%07d", prefix, math.random(0, links - 1))
   return wrk.format("GET", "/" .. code)
end

function response(status, headers, body)
   if status >= 300 and status < 400 then
      redirects = redirects + 1
      if now_ms() < deadline then
         on_time = on_time + 1
      end
   elseif status == 200 then
      health = health + 1
   else
      other = other + 1
   end
end

function done()
   local names = { "sent", "redirects", "on_time", "other", "late", "health" }
   local totals = {}
   for _, name in ipairs(names) do
      totals[name] = 0
      for _, thread in ipairs(threads) do
         totals[name] = totals[name] + thread:get(name)
      end
   end
   local line = "redirects.lua:"
   for _, name in ipairs(names) do
      line = line .. string.format(" %s=%d", name, totals[name])
   end
   print(line)
end
