-- wrk script for bench/api.py: one phase per wrk run, chosen by BENCH_PHASE.
--
--   noop     GET /livez
--   get      GET /api/v1/payments/{BENCH_PAYMENT_ID}, authenticated
--   public   GET /api/v1/payments/{BENCH_PAYMENT_ID}/public, as the checkout polls it
--   orders   POST /api/v1/orders; each created order id is written to BENCH_OUT/<thread>.txt
--   replay   POST /api/v1/payments, BENCH_REPLAY_KEY and BENCH_REPLAY_BODY every time: each
--            answer must be the stored 201 (Idempotent-Replayed, BENCH_REPLAY_RESPONSE's bytes)
--   create   POST /api/v1/payments with a fresh Idempotency-Key and a fresh order from
--            BENCH_ORDERS (thread n takes lines n, n + BENCH_THREADS, ...); "payment order"
--            pairs are written to BENCH_OUT/<thread>.txt
--
-- Every phase defines response(), so every phase pays the same (small) Lua cost per answer.
-- done() prints one line, "WRK_JSON {...}", which bench/api.py parses.

local phase = os.getenv("BENCH_PHASE")
local api_key = os.getenv("BENCH_API_KEY")
local api_secret = os.getenv("BENCH_API_SECRET")
local json_type = "application/json"

local threads = {}

function setup(thread)
   thread:set("id", #threads)
   table.insert(threads, thread)
end

-- Per thread (each wrk thread runs this file in its own Lua state).
non2xx = 0      -- answers outside 2xx
bad = 0         -- 2xx answers that break the contract (wrong bytes, not a replay, no id)
sample = ""     -- the first bad or non-2xx answer, for the report
reused = 0      -- create: orders paid again because the stock ran out

local fixed_request = nil
local out = nil
local orders = {}
local next_order = 1
local sent = 0
local nonce = os.getenv("BENCH_NONCE") or "0"
local replay_response = os.getenv("BENCH_REPLAY_RESPONSE")

local function auth_headers(extra)
   local headers = {["X-Api-Key"] = api_key, ["X-Api-Secret"] = api_secret}
   for name, value in pairs(extra or {}) do
      headers[name] = value
   end
   return headers
end

local function load_orders()
   local stride = tonumber(os.getenv("BENCH_THREADS"))
   local index = 0
   for line in io.lines(os.getenv("BENCH_ORDERS")) do
      if index % stride == id then
         table.insert(orders, line)
      end
      index = index + 1
   end
end

function init(args)
   local payment = os.getenv("BENCH_PAYMENT_ID")
   if phase == "noop" then
      fixed_request = wrk.format("GET", "/livez")
   elseif phase == "get" then
      fixed_request = wrk.format("GET", "/api/v1/payments/" .. payment, auth_headers())
   elseif phase == "public" then
      fixed_request = wrk.format("GET", "/api/v1/payments/" .. payment .. "/public")
   elseif phase == "orders" then
      local body = '{"amount":50000,"currency":"INR","receipt":"bench"}'
      fixed_request = wrk.format(
         "POST", "/api/v1/orders", auth_headers({["Content-Type"] = json_type}), body)
   elseif phase == "replay" then
      local headers = auth_headers({
         ["Content-Type"] = json_type, ["Idempotency-Key"] = os.getenv("BENCH_REPLAY_KEY")})
      fixed_request = wrk.format(
         "POST", "/api/v1/payments", headers, os.getenv("BENCH_REPLAY_BODY"))
   elseif phase == "create" then
      load_orders()
   else
      error("unknown BENCH_PHASE " .. tostring(phase))
   end
   if phase == "orders" or phase == "create" then
      out = io.open(os.getenv("BENCH_OUT") .. "/" .. id .. ".txt", "w")
      -- Line-buffered: wrk never closes a thread's Lua state, so nothing may wait in a buffer.
      out:setvbuf("line")
   end
end

local function create_request()
   local order = orders[next_order]
   if order == nil then
      -- Out of fresh orders: pay the first ones again (counted, and reported by bench/api.py).
      reused = reused + 1
      order = orders[(reused - 1) % #orders + 1]
   else
      next_order = next_order + 1
   end
   sent = sent + 1
   local headers = auth_headers({
      ["Content-Type"] = json_type,
      ["Idempotency-Key"] = "bench-" .. nonce .. "-" .. id .. "-" .. sent})
   local body = '{"order_id":"' .. order .. '","method":"upi","vpa":"bench@upi"}'
   return wrk.format("POST", "/api/v1/payments", headers, body)
end

function request()
   if fixed_request ~= nil then
      return fixed_request
   end
   return create_request()
end

local function header(headers, name)
   -- uvicorn sends the names in lower case; accept any case all the same.
   for key, value in pairs(headers) do
      if string.lower(key) == name then
         return value
      end
   end
   return nil
end

local function is_bad(status, headers, body)
   if phase == "replay" then
      return header(headers, "idempotent-replayed") ~= "true" or body ~= replay_response
   elseif phase == "orders" then
      local order = string.match(body, '^{"id":"(order_[%w_]+)"')
      if order == nil then
         return true
      end
      out:write(order, "\n")
   elseif phase == "create" then
      local payment = string.match(body, '^{"id":"(pay_[%w_]+)"')
      local order = string.match(body, '"order_id":"(order_[%w_]+)"')
      if payment == nil or order == nil or header(headers, "idempotent-replayed") ~= nil then
         return true
      end
      out:write(payment, " ", order, "\n")
   end
   return false
end

function response(status, headers, body)
   local wrong = false
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      wrong = true
   elseif is_bad(status, headers, body) then
      bad = bad + 1
      wrong = true
   end
   if wrong and sample == "" then
      sample = status .. " " .. string.sub(body or "", 1, 200)
   end
end

local function quoted(text)
   return '"' .. string.gsub(text, '[%c"\\]', function(c)
      return string.format("\\u%04x", string.byte(c))
   end) .. '"'
end

function done(summary, latency, requests)
   local totals = {non2xx = 0, bad = 0, reused = 0}
   local first_sample = ""
   for _, thread in ipairs(threads) do
      for name, _ in pairs(totals) do
         totals[name] = totals[name] + thread:get(name)
      end
      if first_sample == "" then
         first_sample = thread:get("sample")
      end
   end
   local errors = summary.errors
   io.write(string.format(
      'WRK_JSON {"duration_us":%d,"requests":%d,"bytes":%d,'
         .. '"socket_errors":%d,"timeouts":%d,"non2xx":%d,"bad":%d,"reused":%d,'
         .. '"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f,"sample":%s}\n',
      summary.duration, summary.requests, summary.bytes,
      errors.connect + errors.read + errors.write, errors.timeout,
      totals.non2xx, totals.bad, totals.reused,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean, quoted(first_sample)))
end
