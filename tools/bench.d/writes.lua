-- wrk script: durable writes as StartStreamSession + TerminateStreamSession pairs, each start
-- with its own ClientToken (as the SDKs send). Each wrk thread keeps the ids its
-- StartStreamSession responses returned and terminates one whenever it has one, so about
-- half the requests start a session and half end one.
-- Env: GROUP (stream group id), APP (application id). With IDS (a file of session ids, one
-- per line), requests alternate: a start (which may wait for capacity) and the termination
-- of the next id of the file (thread k of n takes lines k, k+n, ...).
local group = os.getenv("GROUP")
local app = os.getenv("APP")
local path = "/streamgroups/" .. group .. "/streamsessions"
local headers = { ["Content-Type"] = "application/json" }
local threads = {}
local thread_id, n_threads, started, queue, qi, count, turn = 0, 1, {}, {}, 1, 0, 0

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
  for _, t in ipairs(threads) do t:set("n_threads", #threads) end
end

function init(args)
  local ids = os.getenv("IDS")
  if ids then
    local i = 0
    for line in io.lines(ids) do
      if i % n_threads == thread_id then table.insert(queue, line) end
      i = i + 1
    end
  end
end

local function start()
  count = count + 1
  local body = string.format(
    '{"Protocol":"WebRTC","SignalRequest":"NO_CLIENT_CONNECTION","ApplicationIdentifier":"%s","ClientToken":"bench-%02d-%024d"}',
    app, thread_id, count)
  return wrk.format("POST", path, headers, body)
end

local function terminate(id)
  return wrk.format("DELETE", path .. "/" .. id, headers, nil)
end

function request()
  if os.getenv("IDS") then
    turn = turn + 1
    if turn % 2 == 0 and qi <= #queue then
      qi = qi + 1
      return terminate(queue[qi - 1])
    end
    return start()
  end
  local id = table.remove(started)
  if id then return terminate(id) end
  return start()
end

function response(status, hdrs, body)
  if status == 201 and not os.getenv("IDS") then
    local id = body:match('"Arn":"[^"]*/([^"/]+)"')
    if id then table.insert(started, id) end
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
