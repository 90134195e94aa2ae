-- GET /api/v1/tickets/TX<n> for random n in 1..$TICKETS, as the requester in $TOKEN.
local n = tonumber(os.getenv("TICKETS"))
local headers = { ["Authorization"] = "Bearer " .. os.getenv("TOKEN") }
request = function()
  return wrk.format("GET", string.format("/api/v1/tickets/TX%04d", math.random(n)), headers)
end
