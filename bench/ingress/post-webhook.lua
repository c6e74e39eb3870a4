-- wrk script: POSTs one signed push payload with a delivery id unique across threads and requests.
-- BODY_FILE and SIGNATURE come from the environment (bench/ingress/run.sh sets them).
local threads = {}
local next_thread_id = 0

function setup(thread)
  next_thread_id = next_thread_id + 1
  thread:set("thread_id", next_thread_id)
  table.insert(threads, thread)
end

function init(args)
  local file = assert(io.open(os.getenv("BODY_FILE"), "rb"))
  body = file:read("*a")
  file:close()
  signature = os.getenv("SIGNATURE")
  run_id = os.getenv("RUN_ID") or "run"
  counter = 0
end

function request()
  counter = counter + 1
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-GitHub-Event"] = "push",
    ["X-GitHub-Delivery"] = string.format("%s-%d-%d", run_id, thread_id, counter),
    ["X-Hub-Signature-256"] = signature,
  }
  return wrk.format("POST", "/api/github/webhooks", headers, body)
end

-- slipway answers 202 (stored and queued); Probot answers 200 once its handlers ran.
function response(status, headers, body)
  if status < 200 or status > 299 then
    non_2xx = (non_2xx or 0) + 1
  end
end

function done(summary, latency, requests)
  local lost = 0
  for _, thread in ipairs(threads) do
    lost = lost + (thread:get("non_2xx") or 0)
  end
  io.write(string.format("RESULT requests=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f non_2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, lost))
end
