-- wrk script: durable writes as StartStreamSession + TerminateStreamSession pairs.
-- Each wrk thread keeps the ids its StartStreamSession responses returned and terminates one
-- whenever it has one, so about half the requests start a session and half end one.
-- Env: GROUP (stream group id), APP (application id).
local group = os.getenv("GROUP")
local app = os.getenv("APP")
local started = {}
local start_body = '{"Protocol":"WebRTC","SignalRequest":"NO_CLIENT_CONNECTION","ApplicationIdentifier":"' .. app .. '"}'
local start_path = "/streamgroups/" .. group .. "/streamsessions"
local headers = { ["Content-Type"] = "application/json" }

function request()
  local id = table.remove(started)
  if id then
    return wrk.format("DELETE", start_path .. "/" .. id, headers, nil)
  end
  return wrk.format("POST", start_path, headers, start_body)
end

function response(status, hdrs, body)
  if status == 201 then
    local id = body:match('"Arn":"[^"]*/([^"/]+)"')
    if id then table.insert(started, id) end
  end
end

done = function(summary, latency, requests)
  io.write(string.format("non2xx %d\n", summary.errors.status))
end
