-- GET one fixed path (BENCH_PATH), e.g. the catalog or the stats summary.
local report = dofile("bench/load/wrk/report.lua")
setup, init, response, done = report.setup, report.init, report.response, report.done

local path = os.getenv("BENCH_PATH")

function request()
  return wrk.format("GET", path)
end
