-- Shared by every scenario (loaded with dofile): per-thread random seeds, counts of each HTTP
-- status, and one JSON line of results that run.sh turns into the table.
local report = {}
local threads = {}

function report.setup(thread)
  table.insert(threads, thread)
  thread:set("thread_number", #threads)
end

function report.init(args)
  statuses = {}
  -- Each thread draws its own sequence; BENCH_SEED makes a run repeatable.
  math.randomseed(tonumber(os.getenv("BENCH_SEED") or "1") * 1000 + thread_number)
end

function report.response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function report.done(summary, latency, requests)
  local counts, non2xx = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
      if status < 200 or status > 299 then non2xx = non2xx + 1 * n end
    end
  end
  local parts = {}
  for status, n in pairs(counts) do table.insert(parts, string.format('"%d": %d', status, n)) end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, "p90_ms": %.2f, ' ..
    '"p99_ms": %.2f, "max_ms": %.2f, "non_2xx": %d, "socket_errors": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000,
    latency.max / 1000, non2xx, errors.connect + errors.read + errors.write + errors.timeout,
    table.concat(parts, ", ")))
end

return report
