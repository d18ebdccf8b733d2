--- jit.nvim: a JSON-RPC 2.0 client for jitd's socket on `vim.loop` pipes — NDJSON framing
--- (one JSON object per line each way), calls answered in order, `events.event`
--- notifications between the answers, and reconnection with backoff when jitd goes away.
---
--- Nothing here blocks the editor: connecting, writing and reading are libuv callbacks, and
--- every callback given to `call` runs later on the main loop (`vim.schedule`), where the
--- editor API may be used.

local M = {}

-- `vim.uv` from Neovim 0.10 on; 0.7 has only `vim.loop` (the same libuv binding).
local uv = vim.uv or vim.loop

--- How long a call may go unanswered before its callback gets an error.
M.CALL_TIMEOUT_MS = 30000

--- The most that may be buffered without a newline: jitd's own limit is 1 MiB a line.
local MAX_BUFFERED = 16 * 1024 * 1024

--- The first wait before trying again after jitd went away, in ms; it doubles up to the
--- `reconnect_max_ms` option.
local FIRST_BACKOFF_MS = 100

local Client = {}
Client.__index = Client

--- A client that is not connected yet. `opts`:
---   paths()              the sockets to try, in order (see jit_access.socket)
---   on_connect(client)   after each connection is made (subscribe, read the state)
---   on_disconnect(client, reason)  after a connection is lost
---   on_event(params)     for each `events.event` notification (`params.result` is the event)
---   reconnect_max_ms     the longest wait between attempts
function M.new(opts)
  return setmetatable({
    opts = opts,
    state = "idle", -- idle, connecting, connected, waiting (to try again), stopped
    pipe = nil,
    path = nil, -- the socket of the current connection
    generation = 0, -- how many connections were made
    last_error = nil, -- why the last attempt or connection failed
    next_id = 1,
    pending = {}, -- id → { cb, timer, method }
    queue = {}, -- calls made while not connected
    backoff = FIRST_BACKOFF_MS,
    retry_timer = nil,
  }, Client)
end

local function safe(cb, ...)
  local ok, err = pcall(cb, ...)
  if not ok then
    vim.notify("jit: internal error: " .. tostring(err), vim.log.levels.ERROR)
  end
end

local function close_handle(h)
  if h and not h:is_closing() then
    h:close()
  end
end

--- Connects unless connected or connecting already.
function Client:start()
  if self.state == "idle" or self.state == "stopped" or self.state == "waiting" then
    self:connect()
  end
end

function Client:connect()
  if self.retry_timer then
    self.retry_timer:stop()
    close_handle(self.retry_timer)
    self.retry_timer = nil
  end
  self.state = "connecting"
  local paths = self.opts.paths()
  local errors = {}
  local function try(i)
    if self.state ~= "connecting" then
      return
    end
    local path = paths[i]
    if not path then
      return self:attempt_failed(errors)
    end
    local pipe = uv.new_pipe(false)
    pipe:connect(path, function(err)
      vim.schedule(function()
        if self.state ~= "connecting" then
          close_handle(pipe)
          return
        end
        if err then
          close_handle(pipe)
          errors[#errors + 1] = ("%s (%s)"):format(path, err)
          return try(i + 1)
        end
        self:connected(pipe, path)
      end)
    end)
  end
  try(1)
end

function Client:attempt_failed(errors)
  self.state = "waiting"
  self.last_error = "cannot reach jitd at "
    .. table.concat(errors, ", ")
    .. ": is it running? (`jitd --user`, or `systemctl start jitd`)"
  local queued = self.queue
  self.queue = {}
  for _, q in ipairs(queued) do
    safe(q.cb, { message = self.last_error })
  end
  self:retry_later()
end

function Client:retry_later()
  local wait = self.backoff
  self.backoff = math.min(self.backoff * 2, self.opts.reconnect_max_ms or 5000)
  self.retry_timer = uv.new_timer()
  self.retry_timer:start(
    wait,
    0,
    vim.schedule_wrap(function()
      if self.state == "waiting" then
        self:connect()
      end
    end)
  )
end

function Client:connected(pipe, path)
  self.pipe, self.path = pipe, path
  self.state = "connected"
  self.generation = self.generation + 1
  self.backoff = FIRST_BACKOFF_MS
  self.last_error = nil
  local buffered = ""
  pipe:read_start(function(err, chunk)
    -- A libuv callback: only buffer here; handle lines on the main loop.
    if err or not chunk then
      vim.schedule(function()
        self:lost(pipe, err and ("read failed: " .. err) or "jitd closed the connection")
      end)
      return
    end
    buffered = buffered .. chunk
    local lines = {}
    while true do
      local nl = buffered:find("\n", 1, true)
      if not nl then
        break
      end
      lines[#lines + 1] = buffered:sub(1, nl - 1)
      buffered = buffered:sub(nl + 1)
    end
    if #buffered > MAX_BUFFERED then
      buffered = ""
      vim.schedule(function()
        self:lost(pipe, "a line from jitd over 16 MiB")
      end)
      return
    end
    if #lines > 0 then
      vim.schedule(function()
        if self.pipe ~= pipe then
          return
        end
        for _, line in ipairs(lines) do
          self:handle_line(line)
        end
      end)
    end
  end)
  local queued = self.queue
  self.queue = {}
  for _, q in ipairs(queued) do
    self:send(q)
  end
  if self.opts.on_connect then
    safe(self.opts.on_connect, self)
  end
end

function Client:handle_line(line)
  if line == "" then
    return
  end
  local ok, msg = pcall(vim.json.decode, line, { luanil = { object = true, array = true } })
  if not ok or type(msg) ~= "table" then
    return
  end
  if msg.id ~= nil then
    local p = self.pending[msg.id]
    if not p then
      return -- answered after its timeout
    end
    self.pending[msg.id] = nil
    p.timer:stop()
    close_handle(p.timer)
    if msg.error then
      safe(p.cb, { code = msg.error.code, message = msg.error.message or "error" })
    else
      safe(p.cb, nil, msg.result)
    end
  elseif msg.method == "events.event" and type(msg.params) == "table" then
    if self.opts.on_event then
      safe(self.opts.on_event, msg.params)
    end
  end
end

--- Drops the connection `pipe` (when it is still the current one), fails its calls, and
--- tries again after a backoff.
function Client:lost(pipe, reason)
  if self.pipe ~= pipe then
    return
  end
  pcall(pipe.read_stop, pipe)
  close_handle(pipe)
  self.pipe, self.path = nil, nil
  self.last_error = reason
  local pending = self.pending
  self.pending = {}
  for _, p in pairs(pending) do
    p.timer:stop()
    close_handle(p.timer)
    safe(p.cb, { message = ("%s before answering %s"):format(reason, p.method) })
  end
  if self.state == "stopped" then
    return
  end
  self.state = "waiting"
  if self.opts.on_disconnect then
    safe(self.opts.on_disconnect, self, reason)
  end
  self:retry_later()
end

function Client:send(q)
  local timer = uv.new_timer()
  self.pending[q.id] = { cb = q.cb, timer = timer, method = q.method }
  timer:start(
    q.timeout_ms or M.CALL_TIMEOUT_MS,
    0,
    vim.schedule_wrap(function()
      local p = self.pending[q.id]
      if p and p.timer == timer then
        self.pending[q.id] = nil
        close_handle(timer)
        safe(q.cb, {
          message = ("no answer from jitd to %s within %ds"):format(
            q.method,
            (q.timeout_ms or M.CALL_TIMEOUT_MS) / 1000
          ),
        })
      end
    end)
  )
  local pipe = self.pipe
  pipe:write(q.line, function(err)
    if err then
      vim.schedule(function()
        self:lost(pipe, "write failed: " .. err)
      end)
    end
  end)
end

--- Calls `method` with `params` (a table; nil for none); `cb(err, result)` runs on the main
--- loop, `err` being `{ code = N, message = "…" }` from jitd, or `{ message = "…" }` when jitd
--- could not be reached or did not answer. A call made while jitd is away waits for the
--- attempt to reach it that it starts.
function Client:call(method, params, cb, timeout_ms)
  local id = self.next_id
  self.next_id = id + 1
  local q = {
    id = id,
    method = method,
    cb = cb or function() end,
    timeout_ms = timeout_ms,
    line = vim.json.encode({
      jsonrpc = "2.0",
      id = id,
      method = method,
      params = params or vim.empty_dict(),
    }) .. "\n",
  }
  if self.state == "connected" then
    self:send(q)
  else
    self.queue[#self.queue + 1] = q
    if self.state ~= "connecting" then
      self:connect()
    end
  end
end

--- Closes the connection and stops trying; calls under way get an error.
function Client:stop()
  local pipe = self.pipe
  self.state = "stopped"
  if self.retry_timer then
    self.retry_timer:stop()
    close_handle(self.retry_timer)
    self.retry_timer = nil
  end
  if pipe then
    self:lost(pipe, "the jit client was stopped")
  end
  local queued = self.queue
  self.queue = {}
  for _, q in ipairs(queued) do
    safe(q.cb, { message = "the jit client was stopped" })
  end
end

return M
