-- wrk script: each thread replays its own slice of pre-signed, unique webhook bodies (no duplicates, so every
-- request is a real durable insert). Lines of the file are "<signature>\t<body>".
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local path = args[1]
  local nthreads = tonumber(args[2])
  requests = {}
  local i = 0
  for line in io.lines(path) do
    if i % nthreads == tid then
      local tab = line:find("\t", 1, true)
      local signature = line:sub(1, tab - 1)
      local body = line:sub(tab + 1)
      table.insert(requests, wrk.format("POST", "/api/v1/webhooks/inbound", {
        ["Content-Type"] = "application/json",
        ["X-Hub-Signature-256"] = signature,
      }, body))
    end
    i = i + 1
  end
  index = 0
end

function request()
  index = index + 1
  if index > #requests then index = 1 end
  return requests[index]
end
