-- jit.nvim unit checks, run by tests/tests/e2e/nvim.rs in `nvim --headless`: the parts
-- that need no daemon (times, durations, socket discovery, options, the statusline over a
-- made-up cache, completion, `:help jit`) and what the plugin says when jitd is not there.
-- Writes { passed = N, failed = { { name, message } } } to $JIT_NVIM_OUT.

local out = assert(os.getenv("JIT_NVIM_OUT"), "JIT_NVIM_OUT")
local passed, failed = 0, {}

local function check(name, fn)
  local ok, err = pcall(fn)
  if ok then
    passed = passed + 1
  else
    table.insert(failed, { name = name, message = tostring(err) })
  end
end

local function eq(got, want, what)
  if not vim.deep_equal(got, want) then
    error(("%s: got %s, want %s"):format(what or "value", vim.inspect(got), vim.inspect(want)), 2)
  end
end

local function has(text, part, what)
  if type(text) ~= "string" or not text:find(part, 1, true) then
    error(("%s: %s does not contain %q"):format(what or "text", vim.inspect(text), part), 2)
  end
end

local util = require("jit_access.util")
local socket = require("jit_access.socket")
local config = require("jit_access.config")
local state = require("jit_access.state")
local commands = require("jit_access.commands")
local access = require("jit_access")

check("LuaJIT's own jit module is left alone", function()
  eq(type(require("jit").version), "string", "require('jit').version")
  eq(type(jit.os), "string", "jit.os")
end)

check(":Jit is defined", function()
  eq(vim.fn.exists(":Jit"), 2, "exists(':Jit')")
end)

check("parse_time: UTC, fractions, offsets, junk", function()
  eq(util.parse_time("1970-01-01T00:00:00Z"), 0)
  eq(util.parse_time("2000-02-29T00:00:00Z"), 951782400)
  local t = util.parse_time("2026-11-23T14:05:12.318Z")
  assert(math.abs(t - 1795442712.318) < 1e-3, "fraction: " .. tostring(t))
  eq(util.parse_time("2026-11-23T15:05:12.318+01:00"), t)
  eq(util.parse_time("2026-11-23T14:05:12.3Z"), 1795442712.3)
  eq(util.parse_time("2026-11-23 14:05"), nil)
  eq(util.parse_time(nil), nil)
end)

check("span: as jit prints durations", function()
  local cases = {
    { 0, "0s" }, { -5, "0s" }, { 45, "45s" }, { 59.9, "59s" }, { 60, "1m" }, { 89, "1m" },
    { 90, "2m" }, { 1800, "30m" }, { 3599, "1h" }, { 3600, "1h" }, { 5400, "1h 30m" },
    { 86400, "1d" }, { 90000, "1d 1h" },
  }
  for _, c in ipairs(cases) do
    eq(util.span(c[1]), c[2], "span(" .. c[1] .. ")")
  end
end)

check("parse_duration: what people type", function()
  eq(util.parse_duration("30m"), 1800)
  eq(util.parse_duration("1h 30m"), 5400)
  eq(util.parse_duration("1h30m"), 5400)
  eq(util.parse_duration(" 90s "), 90)
  eq(util.parse_duration("2d"), 172800)
  eq(util.parse_duration("2 hours"), 7200)
end)

check("parse_duration: errors say what to type", function()
  local n, err = util.parse_duration("45")
  eq(n, nil)
  has(err, "has no unit: write 45s, 45m or 45h")
  n, err = util.parse_duration("5x")
  eq(n, nil)
  has(err, "unknown unit \"x\"")
  for text, says in pairs({ ["0m"] = "is zero", [""] = "give a duration", soon = "is not a duration" }) do
    n, err = util.parse_duration(text)
    eq(n, nil, text)
    has(err, says)
  end
end)

check("label and describe", function()
  local r = {
    entries = {
      {
        integration = "pg-main",
        resource_type = "database",
        resources = { "orders", "billing" },
        permissions = { "read" },
      },
      { integration = "pg-main", resource_type = "database", resources = { "x" }, permissions = { "write" } },
      { integration = "sandbox", resource_type = "database", resources = { "s" }, permissions = { "write" } },
    },
  }
  eq(util.label(r), "pg-main,sandbox")
  eq(util.describe({ entries = { r.entries[1] } }), "read on pg-main/database orders,billing")
  eq(util.label({ bundle = "oncall", entries = r.entries }), "oncall")
  eq(util.is_open("granted"), true)
  eq(util.is_open("revoked"), false)
  eq(util.is_open("something-new"), true)
end)

local function env(map)
  return function(name)
    return map[name]
  end
end

local function exists_only(path)
  return function(p)
    return p == path
  end
end

check("socket: setup's socket, then JIT_SOCKET, alone", function()
  eq(socket.candidates("/x.sock", env({ JIT_SOCKET = "/y.sock" }), exists_only("")), { "/x.sock" })
  local both = env({ JIT_SOCKET = "/y.sock", XDG_RUNTIME_DIR = "/run/user/1" })
  eq(socket.candidates(nil, both, exists_only("/run/user/1/jit/jitd.sock")), { "/y.sock" })
end)

check("socket: the user socket when it exists, then the system one", function()
  eq(socket.candidates(nil, env({ XDG_RUNTIME_DIR = "/run/user/1" }), exists_only("/run/user/1/jit/jitd.sock")),
    { "/run/user/1/jit/jitd.sock", "/run/jit/jitd.sock" })
  eq(socket.candidates(nil, env({ XDG_RUNTIME_DIR = "/run/user/1" }), exists_only("")), { "/run/jit/jitd.sock" })
  local empties = env({ JIT_SOCKET = "", XDG_RUNTIME_DIR = "", XDG_STATE_HOME = "/s" })
  eq(socket.candidates(nil, empties, exists_only("/s/jit/jitd.sock")),
    { "/s/jit/jitd.sock", "/run/jit/jitd.sock" })
  eq(socket.candidates(nil, env({ HOME = "/home/a" }), exists_only("/home/a/.local/state/jit/jitd.sock")),
    { "/home/a/.local/state/jit/jitd.sock", "/run/jit/jitd.sock" })
  eq(socket.candidates(nil, env({}), exists_only("")), { "/run/jit/jitd.sock" })
end)

check("setup: bad options are refused with what to write", function()
  local cases = {
    {
      { sokcet = "/x" },
      "jit.setup: unknown option \"sokcet\"; the options are: "
        .. "icon, jit_cmd, notify, reconnect_max_ms, socket, split, warn_expiring",
    },
    { { notify = "yes" }, "jit.setup: notify must be true or false, got \"yes\"" },
    { { reconnect_max_ms = 5 }, "at least 100" },
    { { socket = "" }, "not empty" },
    { "x", "expected a table" },
  }
  for _, c in ipairs(cases) do
    local ok, err = pcall(access.setup, c[1])
    eq(ok, false, vim.inspect(c[1]))
    has(err, c[2])
  end
  eq(config.set({ icon = "J" }).icon, "J")
  eq(config.options.jit_cmd, "jit")
  config.set({})
end)

local function at(secs_from_now)
  local t = math.floor(util.now() + secs_from_now)
  return os.date("!%Y-%m-%dT%H:%M:%SZ", t)
end

local function req(id, status, integration, expires_in)
  return {
    id = id,
    requester = "alice",
    status = status,
    entries = {
      { integration = integration, resource_type = "database", resources = { "x" }, permissions = { "read" } },
    },
    expires_at = expires_in and at(expires_in) or nil,
  }
end

check("statusline: the grant that ends first, and how many more", function()
  state.reset()
  state.me = { user = "alice" }
  state.connected = true
  eq(state.statusline(util.now(), "⏳"), "", "no requests")
  state.set_mine({ req(1, "pending", "pg-main") })
  eq(state.statusline(util.now(), "⏳"), "", "a pending request is no grant")
  state.set_mine({ req(1, "granted", "pg-main", 3600 + 45 * 60 + 10), req(2, "granted", "demo", 12 * 60 + 10) })
  eq(state.statusline(util.now(), "⏳"), "⏳ demo 12m +1")
  eq(state.statusline(util.now(), ""), "demo 12m +1", "no icon")
  state.set_mine({ req(1, "granted", "pg-main", 3600 + 45 * 60 + 10) })
  eq(state.statusline(util.now(), "⏳"), "⏳ pg-main 1h45m")
  state.connected = false
  eq(state.statusline(util.now(), "⏳"), "⏳ pg-main 1h45m (offline)")
  state.connected = true
end)

check("events keep the cache: mine, and what waits for me", function()
  state.reset()
  state.me = { user = "alice" }
  state.connected = true
  state.apply({ kind = "granted", request = req(3, "granted", "demo", 100) })
  eq(#state.grants(), 1)
  state.apply({ kind = "revoked", request = req(3, "revoked", "demo") })
  eq(#state.grants(), 0)
  local theirs = req(4, "pending", "demo")
  theirs.requester = "bob"
  state.apply({ kind = "approval_needed", request = theirs })
  eq(#state.waiting(), 1)
  eq(#state.grants(), 0, "bob's request is not mine")
  local done = vim.deepcopy(theirs)
  done.status = "granting"
  state.apply({ kind = "approved", request = done })
  eq(#state.waiting(), 0)
  local glass = req(5, "granting", "demo")
  glass.requester = "bob"
  state.apply({ kind = "approval_needed", request = glass })
  eq(#state.waiting(), 0, "break-glass waits for nobody")
end)

check("completion", function()
  state.reset()
  state.me = { user = "alice" }
  state.set_mine({ req(7, "granted", "demo", 100), req(8, "pending", "demo") })
  eq(commands.complete("", "Jit ", 4), commands.names())
  eq(commands.complete("li", "Jit li", 6), { "list" })
  eq(commands.complete("", "Jit list ", 9), { "closed" })
  eq(commands.complete("", "Jit revoke ", 11), { "7" })
  eq(commands.complete("", "Jit cancel ", 11), { "8" })
  eq(commands.complete("", "Jit extend 7 ", 13), { "15m", "30m", "1h", "2h" })
  eq(vim.fn.getcompletion("Jit re", "cmdline"), { "reject", "request", "revoke" })
  state.reset()
end)

check(":help jit", function()
  local doc = vim.api.nvim_get_runtime_file("doc/jit.txt", false)[1]
  assert(doc, "doc/jit.txt is on the runtimepath")
  vim.cmd("helptags " .. vim.fn.fnameescape(vim.fn.fnamemodify(doc, ":h")))
  local tags = { "jit", "jit.nvim", ":Jit", "jit-setup", "jit-statusline", "jit-commands", "jit-api", "jit-install" }
  for _, tag in ipairs(tags) do
    vim.cmd("help " .. tag)
    eq(vim.fn.expand("%:t"), "jit.txt", ":help " .. tag)
    vim.cmd("helpclose")
  end
end)

check("without jitd: :Jit says where it looked, the statusline stays empty", function()
  local notes = {}
  local saved = vim.notify
  vim.notify = function(msg, level)
    table.insert(notes, { msg = msg, level = level })
  end
  local path = vim.fn.tempname() .. "-nobody.sock"
  access.setup({ socket = path })
  vim.cmd("Jit status")
  local ok = vim.wait(5000, function()
    return #notes > 0
  end, 20)
  vim.notify = saved
  assert(ok, "no message within 5 s")
  has(notes[1].msg, "jit: cannot reach jitd at " .. path .. " (ENOENT")
  has(notes[1].msg, "is it running?")
  eq(notes[1].level, vim.log.levels.ERROR)
  eq(access.statusline(), "")
  access.client():stop()
end)

local f = assert(io.open(out, "w"))
f:write(vim.json.encode({ passed = passed, failed = failed }))
f:close()
vim.cmd("qall!")
