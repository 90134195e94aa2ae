-- GET /api/v1/tickets/<number> for a random one of the employee's tickets, as the employee in
-- $TOKEN. $NUMBERS names a file with one ticket number per line (ticket numbers may have gaps:
-- a create cancelled mid-way, say when wrk closes its connections, uses a number up).
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
local numbers = {}
for line in io.lines(os.getenv("NUMBERS")) do
  numbers[#numbers + 1] = line
end
request = function()
  return wrk.format("GET", "/api/v1/tickets/" .. numbers[math.random(#numbers)], headers)
end
