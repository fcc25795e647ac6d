-- wrk: every request carries a random real token from $TOKENS_FILE to $BENCH_PATH.
local path = os.getenv("BENCH_PATH") or "/info"
local tokens = {}

function init(args)
  for line in io.lines(os.getenv("TOKENS_FILE")) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  math.randomseed(os.time() + (tonumber(tostring({}):match("0x(%x+)"), 16) or 0))
end

function request()
  return wrk.format("GET", path .. "?token=" .. tokens[math.random(#tokens)])
end
