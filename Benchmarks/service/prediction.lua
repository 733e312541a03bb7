-- GET /prediction for a random one of 10,000 instances, all three horizons.
math.randomseed(os.time())
request = function()
    local id = math.random(0, 9999)
    return wrk.format("GET", "/prediction?instance=vm" .. id .. "&horizon=5m&horizon=15m&horizon=30m")
end
