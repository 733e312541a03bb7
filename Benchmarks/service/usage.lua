-- POST /usage: batches of 1,000 samples. Each thread owns 5,000 instances and walks
-- them 1,000 at a time, advancing the timestamp after each full pass, so no sample is
-- out of order (one connection per thread).
local threads = {}
local counter = 0
function setup(thread)
    thread:set("block", counter)
    counter = counter + 1
end
local pass, part = 0, 0
request = function()
    local parts = {}
    local t = 1700000000 + pass
    for k = 0, 999 do
        local id = block * 5000 + part * 1000 + k
        parts[#parts + 1] = '{"instance":"vm' .. id .. '","time":' .. t .. ',"cpu":0.5,"memory":2}'
    end
    part = part + 1
    if part == 5 then part = 0; pass = pass + 1 end
    return wrk.format("POST", "/usage", {["Content-Type"] = "application/json", ["Authorization"] = wrk.headers["Authorization"]},
                      '{"samples":[' .. table.concat(parts, ",") .. ']}')
end
