-- POST awards no one holds yet: achievement codes made for this run (BENCH_CODES) times the
-- benchmark users, each (user, achievement) pair once, so every answer is a 201.
local report = dofile("bench/load/wrk/report.lua")
setup, init, response, done = report.setup, report.init, report.response, report.done

local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local threads = tonumber(os.getenv("BENCH_THREADS") or "1")
local codes = {}
for code in string.gmatch(os.getenv("BENCH_CODES"), "[^,]+") do table.insert(codes, code) end
local headers = {
  ["Authorization"] = "Token " .. os.getenv("BENCH_TOKEN"),
  ["Content-Type"] = "application/json",
}
local sent = 0

function request()
  -- Thread t of n sends pairs t, t + n, t + 2n, ...: no two requests share a pair.
  local pair = sent * threads + thread_number - 1
  sent = sent + 1
  local username = string.format("bench-%07d", math.floor(pair / #codes) % users)
  local body = string.format('{"achievement": "%s"}', codes[pair % #codes + 1])
  return wrk.format("POST", "/api/v1/users/" .. username .. "/achievements/", headers, body)
end
