-- POST /api/v1/tickets/TX<n>/approve with distinct n per request (thread t takes t, t+T, …),
-- as the coordinator or admin in $TOKEN. Each request is one lifecycle action on a new ticket.
local threads = {}
local counter = 0
local step = tonumber(os.getenv("THREADS") or "2")
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}
function setup(thread)
  table.insert(threads, thread)
  thread:set("first", #threads)
end
function init(args)
  counter = first - step
end
function request()
  counter = counter + step
  return wrk.format("POST", string.format("/api/v1/tickets/TX%04d/approve", counter), headers, '{"priority":"low"}')
end
