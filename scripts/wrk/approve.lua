-- POST /api/v1/tickets/<number>/approve with a distinct ticket per request (thread t takes the
-- t-th, (t+T)-th, … line of the $NUMBERS file), as the coordinator or admin in $TOKEN. Each
-- request is one lifecycle action on a new ticket; past the end of the file requests are 404s.
local threads = {}
local counter = 0
local step = tonumber(os.getenv("THREADS") or "2")
local headers = {
  ["Authorization"] = "Bearer " .. os.getenv("TOKEN"),
  ["Content-Type"] = "application/json",
}
local numbers = {}
for line in io.lines(os.getenv("NUMBERS")) do
  numbers[#numbers + 1] = line
end
function setup(thread)
  table.insert(threads, thread)
  thread:set("first", #threads)
end
function init(args)
  counter = first - step
end
function request()
  counter = counter + step
  local n = numbers[#numbers - counter + 1] or "TX0"
  return wrk.format("POST", "/api/v1/tickets/" .. n .. "/approve", headers, '{"priority":"low"}')
end
