--- jit.nvim: the plugin's entry point — `setup{}`, the statusline component, and a Lua API
--- over jitd's socket (request, list, revoke, extend, approve, connect).
---
--- One connection per editor, made without blocking and made again when jitd restarts. On
--- each connection the plugin subscribes to events, then reads your open requests; events
--- keep that cache fresh, and the statusline only reads it (plus a one-second timer for the
--- countdown). See `:help jit` and docs/api.md.

local config = require("jit_access.config")
local state = require("jit_access.state")
local util = require("jit_access.util")

local M = {}

--- The protocol version this plugin speaks (docs/api.md); a daemon speaking another one
--- gets a warning, once.
M.PROTOCOL_VERSION = 1

local client = nil
local tick = nil
local last_line = nil
local warned_version = false

local function notify(msg, level)
  vim.notify(msg, level or vim.log.levels.INFO, { title = "jit" })
end

--- Redraws statuslines when the text changed, and tells `User JitUpdate` autocommands.
local function redraw(force)
  local line = M.statusline()
  if force or line ~= last_line then
    last_line = line
    pcall(vim.cmd, "redrawstatus!")
    pcall(vim.api.nvim_exec_autocmds, "User", { pattern = "JitUpdate", modeline = false })
  end
end

--- Runs the countdown timer while there is a grant to count down, and only then.
local function update_tick()
  local need = #state.grants() > 0
  if need and not tick then
    tick = (vim.uv or vim.loop).new_timer()
    tick:start(1000, 1000, vim.schedule_wrap(function()
      redraw(false)
    end))
  elseif not need and tick then
    tick:stop()
    tick:close()
    tick = nil
  end
end

local function changed()
  update_tick()
  redraw(true)
end

local function next_has(event, prefix)
  for _, n in ipairs(event.next or {}) do
    if n:sub(1, #prefix) == prefix then
      return true
    end
  end
  return false
end

--- The `vim.notify` messages for an event (only your own requests, and requests waiting
--- for you).
local function tell(event)
  local r = event.request
  if not r then
    return
  end
  local o = config.options
  local mine = state.me ~= nil and r.requester == state.me.user
  local what = ("request %d (%s)"):format(r.id, util.label(r))
  local kind = event.kind
  local levels = vim.log.levels
  if kind == "expiring" then
    if mine and o.warn_expiring then
      local msg = ("jit: %s expires in %s"):format(what, util.span(event.expires_in_secs or 0))
      if next_has(event, "jit extend") then
        msg = msg .. (" — :Jit extend %d DURATION for more time"):format(r.id)
      end
      notify(msg, levels.WARN)
    end
    return
  end
  if not o.notify then
    return
  end
  if kind == "approval_needed" and not mine then
    if r.break_glass then
      notify(("jit: break-glass — %s took %s (request %d) without approval: %s"):format(
        r.requester, util.describe(r), r.id, r.justification or "no reason given"
      ), levels.WARN)
    elseif r.pending_extension then
      notify(("jit: %s asks to extend request %d by %s: :Jit approve %d"):format(
        r.requester, r.id, util.span(r.pending_extension.added_secs or 0), r.id
      ))
    else
      notify(("jit: %s asks for %s (request %d): :Jit approve %d"):format(
        r.requester, util.describe(r), r.id, r.id
      ))
    end
    return
  end
  if not mine then
    return
  end
  if kind == "granted" then
    local ends = util.parse_time(r.expires_at)
    local msg = ("jit: %s granted: %s, expires in %s"):format(
      what, util.describe(r), ends and util.span(ends - util.now()) or "?"
    )
    for _, s in ipairs(r.sessions or {}) do
      if s.message then
        msg = msg .. ("\nMessage from your admin about %s: %s"):format(s.integration, s.message)
      end
      if #(s.connect or {}) > 0 then
        msg = msg .. ("\nConnect: :Jit connect %d"):format(r.id)
      end
    end
    notify(msg)
  elseif kind == "expired" or kind == "revoked" then
    notify(("jit: %s %s%s"):format(what, kind, r.end_reason and (" — " .. r.end_reason) or ""))
  elseif kind == "failed" then
    notify(("jit: %s failed: %s"):format(what, r.error or event.error or "no reason given"), levels.ERROR)
  elseif kind == "rejected" then
    notify(("jit: %s was rejected: %s"):format(what, r.end_reason or "no reason given"), levels.WARN)
  elseif kind == "revoke_failed" then
    notify(("jit: taking %s away failed, jitd keeps trying: %s"):format(what, event.error or "?"), levels.WARN)
  elseif kind == "extended" then
    local ends = util.parse_time(r.expires_at)
    notify(("jit: %s extended: expires in %s"):format(what, ends and util.span(ends - util.now()) or "?"))
  elseif kind == "credentials_rotated" then
    notify(("jit: the credentials of %s were rotated: saved ones no longer work"):format(what), levels.WARN)
  end
end

local function on_event(params)
  local event = params.result
  if type(event) ~= "table" then
    return
  end
  if event.kind == "lagged" then
    M.refresh()
    return
  end
  if state.apply(event) then
    changed()
  end
  tell(event)
end

--- Reads who you are, your open requests and those waiting for you; `cb(err)` when done.
function M.refresh(cb)
  local c = M.start()
  cb = cb or function() end
  c:call("daemon.status", nil, function(err, status)
    if err then
      return cb(err)
    end
    state.me = status.caller
    if status.protocol_version ~= M.PROTOCOL_VERSION and not warned_version then
      warned_version = true
      notify(("jit: jitd speaks protocol %s, this plugin %d: some things may not work"):format(
        tostring(status.protocol_version), M.PROTOCOL_VERSION
      ), vim.log.levels.WARN)
    end
    c:call("request.list", { scope = "mine" }, function(err2, mine)
      if err2 then
        return cb(err2)
      end
      state.set_mine(mine)
      c:call("request.list", { scope = "review" }, function(err3, review)
        if not err3 then
          state.set_review(review)
        end
        state.connected = c.state == "connected"
        changed()
        cb(err3)
      end)
    end)
  end)
end

local function on_connect(c)
  -- Subscribe first, then read: nothing changed in between is missed (docs/api.md).
  c:call("events.subscribe", nil, function(err)
    if err then
      notify("jit: cannot follow events: " .. err.message, vim.log.levels.ERROR)
    end
  end)
  M.refresh(function(err)
    if err then
      notify("jit: " .. err.message, vim.log.levels.ERROR)
    end
  end)
end

local function on_disconnect()
  state.connected = false
  changed()
end

--- Starts the client (once) and returns it; `setup` and every other function call this.
function M.start()
  if not client then
    client = require("jit_access.client").new({
      paths = function()
        return require("jit_access.socket").here(config.options.socket)
      end,
      on_connect = on_connect,
      on_disconnect = on_disconnect,
      on_event = on_event,
      reconnect_max_ms = config.options.reconnect_max_ms,
    })
  end
  client:start()
  return client
end

--- Sets the options (`:help jit-setup`) and connects to jitd. Bad options raise an error
--- that names the option and what it takes.
function M.setup(opts)
  config.set(opts)
  if client then
    client:stop()
    client = nil
  end
  state.reset()
  M.start()
end

--- The statusline component: "⏳ pg-main 12m" for the grant that ends first ("+N" more),
--- "" when you have none. Reads the cache only: it never calls jitd or waits.
function M.statusline()
  if not client then
    M.start()
  end
  return state.statusline(util.now(), config.options.icon)
end

--- Calls any method (docs/api.md); `cb(err, result)` on the main loop.
function M.call(method, params, cb)
  M.start():call(method, params, cb)
end

--- Asks for access: `params` are `request.create`'s (integration, resource_type, resources,
--- permissions or bundle; duration_secs, justification, start_at).
function M.request(params, cb)
  M.call("request.create", params, cb)
end

--- Takes granted access away now.
function M.revoke(id, reason, cb)
  M.call("grant.revoke", { id = id, reason = reason }, cb)
end

--- Asks for `secs` more seconds on a grant.
function M.extend(id, secs, reason, cb)
  M.call("grant.extend", { id = id, duration_secs = secs, reason = reason }, cb)
end

--- Approves a request (or its pending extension).
function M.approve(id, reason, cb)
  M.call("request.approve", { id = id, reason = reason }, cb)
end

--- Rejects a request (or refuses its pending extension).
function M.reject(id, reason, cb)
  M.call("request.reject", { id = id, reason = reason }, cb)
end

--- Withdraws a pending or scheduled request of yours.
function M.cancel(id, reason, cb)
  M.call("request.cancel", { id = id, reason = reason }, cb)
end

--- Lists requests (`request.list`'s parameters: closed, scope, resource_type, limit).
function M.list(params, cb)
  M.call("request.list", params, cb)
end

--- What you may request (`catalog.list`).
function M.catalog(cb)
  M.call("catalog.list", nil, cb)
end

--- Runs `jit connect ID` in a terminal buffer in a new window (the `split` option); the
--- `jit` CLI launches the integration's client with the secret in its environment, never
--- shown. Returns the buffer and the job id, or nil and an error.
function M.connect(id)
  local cmd = config.options.jit_cmd
  local argv = type(cmd) == "table" and vim.deepcopy(cmd) or { cmd }
  vim.list_extend(argv, { "connect", tostring(id) })
  local env = {}
  local path = (client and client.path) or config.options.socket
  if path then
    env.JIT_SOCKET = path
  end
  vim.cmd(config.options.split)
  local buf = vim.api.nvim_create_buf(true, false)
  vim.api.nvim_win_set_buf(0, buf)
  local ok, job = pcall(vim.fn.termopen, argv, { env = env })
  if not ok or job <= 0 then
    local msg = ("cannot run %s: is the jit CLI installed? (set jit_cmd in setup{})"):format(argv[1])
    pcall(vim.api.nvim_buf_delete, buf, { force = true })
    return nil, msg
  end
  vim.b[buf].jit_request = id
  vim.cmd("startinsert")
  return buf, job
end

--- The cache (`require("jit_access.state")`): `me`, `connected`, `grants()`, `open()`, `waiting()`.
M.state = state

--- The client, for tests and scripts (nil before the first call).
function M.client()
  return client
end

return M
