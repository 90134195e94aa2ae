-- GET a page of 50 of the employee's tickets, newest first.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKEN")
wrk.path = "/api/v1/tickets?limit=50"
