-- POST an award of a random achievement (BENCH_CODES) to a random benchmark user, with the
-- integration token (BENCH_TOKEN). 201 for a new award, 200 when the user already holds it.
local report = dofile("bench/load/wrk/report.lua")
setup, init, response, done = report.setup, report.init, report.response, report.done

local users = tonumber(os.getenv("BENCH_USERS") or "100000")
local codes = {}
for code in string.gmatch(os.getenv("BENCH_CODES"), "[^,]+") do table.insert(codes, code) end
local headers = {
  ["Authorization"] = "Token " .. os.getenv("BENCH_TOKEN"),
  ["Content-Type"] = "application/json",
}

function request()
  local username = string.format("bench-%07d", math.random(0, users - 1))
  local body = string.format('{"achievement": "%s"}', codes[math.random(1, #codes)])
  return wrk.format("POST", "/api/v1/users/" .. username .. "/achievements/", headers, body)
end
