-- GET a random benchmark user's awards: /api/v1/users/bench-NNNNNNN/achievements/.
local report = dofile("bench/load/wrk/report.lua")
setup, init, response, done = report.setup, report.init, report.response, report.done

local users = tonumber(os.getenv("BENCH_USERS") or "100000")

function request()
  local username = string.format("bench-%07d", math.random(0, users - 1))
  return wrk.format("GET", "/api/v1/users/" .. username .. "/achievements/")
end
