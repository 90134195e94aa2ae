-- POST /api/v1/tickets as the employee in $TOKEN.
wrk.method = "POST"
wrk.path = "/api/v1/tickets"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.body = '{"subject":"Load test ticket","category":"hardware","sub_category":"laptop","description":"Created by wrk for the HTTP benchmark."}'
