-- GET /prediction for a random instance of the file $POOLSWAP_IDS (one id a line), all
-- three horizons.
local ids = {}
for line in io.lines(os.getenv("POOLSWAP_IDS")) do ids[#ids + 1] = line end
math.randomseed(os.time())
request = function()
    local id = ids[math.random(1, #ids)]
    return wrk.format("GET", "/prediction?instance=" .. id .. "&horizon=5m&horizon=15m&horizon=30m")
end
