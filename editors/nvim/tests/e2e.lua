-- jit.nvim end-to-end script, run by tests/tests/e2e/nvim.rs as a real Unix user in
-- `nvim --headless` against a real jitd. It drives the plugin as a person would (its Lua
-- API and `:Jit` commands), records what it saw in a JSON file ($JIT_NVIM_OUT), and leaves
-- the asserting to the Rust test, which also checks jitd's own state. Every wait is
-- bounded; on any error the file says which step failed and nvim exits non-zero.
--
-- Environment: JIT_NVIM_SOCKET (jitd's socket), JIT_NVIM_CLI (the jit binary),
-- JIT_NVIM_OUT (the result file), JIT_NVIM_PHASE (a file through which it asks the test to
-- restart jitd), JIT_NVIM_REVIEW (a request waiting for this user's approval).

local out = assert(os.getenv("JIT_NVIM_OUT"), "JIT_NVIM_OUT")
local result = { notes = {}, statuslines = {} }

local function save()
  local f = assert(io.open(out, "w"))
  f:write(vim.json.encode(result))
  f:close()
end

local function wait_for(what, ms, cond)
  result.step = what
  if not vim.wait(ms, cond, 20) then
    error(("timed out after %d ms waiting for %s"):format(ms, what), 0)
  end
end

-- Every notification, as the person would see it.
vim.notify = function(msg, level)
  table.insert(result.notes, { msg = msg, level = level })
end

local function note_matching(pattern, from)
  for i = from or 1, #result.notes do
    if result.notes[i].msg:find(pattern) then
      return result.notes[i]
    end
  end
end

local function buffer_lines(buf)
  return vim.api.nvim_buf_get_lines(buf or 0, 0, -1, false)
end

local function has_line(lines, ...)
  for _, line in ipairs(lines) do
    local all = true
    for _, pattern in ipairs({ ... }) do
      if not line:find(pattern) then
        all = false
      end
    end
    if all then
      return true
    end
  end
  return false
end

local function main()
  local access = require("jit_access")
  local state = require("jit_access.state")
  access.setup({
    socket = assert(os.getenv("JIT_NVIM_SOCKET"), "JIT_NVIM_SOCKET"),
    jit_cmd = assert(os.getenv("JIT_NVIM_CLI"), "JIT_NVIM_CLI"),
  })
  -- Every statusline text the plugin announced, in order (the User JitUpdate event).
  vim.api.nvim_create_autocmd("User", {
    pattern = "JitUpdate",
    callback = function()
      local line = access.statusline()
      if result.statuslines[#result.statuslines] ~= line then
        table.insert(result.statuslines, line)
      end
    end,
  })
  wait_for("the plugin to connect and read the state", 10000, function()
    return state.connected
  end)
  result.me = state.me.user
  result.statusline_before = access.statusline()

  -- A request of someone else's waits for us: approve it.
  local review = tonumber(os.getenv("JIT_NVIM_REVIEW"))
  result.waiting = vim.tbl_map(function(r)
    return r.id
  end, state.waiting())
  result.complete_approve = vim.fn.getcompletion("Jit approve ", "cmdline")
  vim.cmd("Jit approve " .. review .. " looks fine")
  wait_for("the approval to be told", 10000, function()
    return note_matching("request " .. review .. " approved") ~= nil
  end)
  wait_for("the approved request to leave the review list", 10000, function()
    return #state.waiting() == 0
  end)

  -- Ask for access through the API: the statusline shows it, and counts down.
  local answer
  access.request({
    integration = "demo",
    resource_type = "database",
    resources = { "orders" },
    permissions = { "read" },
    duration_secs = 25,
    justification = "nvim e2e",
  }, function(err, r)
    answer = err or r
  end)
  wait_for("request.create's answer", 10000, function()
    return answer ~= nil
  end)
  if not answer.id then
    error("request.create failed: " .. vim.inspect(answer), 0)
  end
  result.request = { id = answer.id, status = answer.status }
  local id = answer.id
  wait_for("the grant in the statusline", 10000, function()
    return access.statusline() ~= ""
  end)
  result.statusline_granted = access.statusline()
  result.granted_note = note_matching("request " .. id .. " %(demo%) granted")
  wait_for("the countdown to move", 5000, function()
    return access.statusline() ~= result.statusline_granted
  end)
  result.statusline_later = access.statusline()

  -- jitd warns 20 s before the end.
  local warned = "request " .. id .. " %(demo%) expires in"
  wait_for("the expiry warning", 15000, function()
    return note_matching(warned) ~= nil
  end)
  result.warning = note_matching(warned)

  -- :Jit list shows it.
  vim.cmd("Jit list")
  local list_buf = vim.api.nvim_get_current_buf()
  result.list_name = vim.api.nvim_buf_get_name(list_buf)
  wait_for(":Jit list to fill its buffer", 10000, function()
    return has_line(buffer_lines(list_buf), "^%s+" .. id .. "%s", "granted")
  end)
  result.list = buffer_lines(list_buf)
  vim.cmd("close")

  -- :Jit extend adds two minutes.
  result.complete_extend = vim.fn.getcompletion("Jit extend ", "cmdline")
  local before_extend = #result.notes
  vim.cmd("Jit extend " .. id .. " 2m nvim needs more")
  wait_for("the extension in the statusline", 10000, function()
    return access.statusline():find(" 2m$") ~= nil
  end)
  result.statusline_extended = access.statusline()
  wait_for("the extension to be told", 10000, function()
    return note_matching("extended", before_extend + 1) ~= nil
  end)
  result.extended_note = note_matching("extended", before_extend + 1)

  -- :Jit connect runs `jit connect ID` in a terminal buffer (a dry-run session offers no
  -- way to connect, so the CLI says so and exits).
  vim.cmd("Jit connect " .. id)
  local term = vim.api.nvim_get_current_buf()
  result.connect_buftype = vim.bo[term].buftype
  result.connect_request = vim.b[term].jit_request
  local job = vim.b[term].terminal_job_id
  result.connect_exit = vim.fn.jobwait({ job }, 10000)[1]
  wait_for("the terminal to show what jit connect said", 5000, function()
    return vim.trim(table.concat(buffer_lines(term), "\n")) ~= ""
  end)
  result.connect_output = vim.trim(table.concat(buffer_lines(term), "\n"))
  vim.cmd("stopinsert")
  vim.cmd("bwipeout!")

  -- Bad input gets an error that says what to type.
  local before_bad = #result.notes
  vim.cmd("Jit extend abc")
  vim.cmd("Jit frobnicate")
  vim.cmd("Jit revoke 99999")
  wait_for("the errors", 10000, function()
    return note_matching("no request 99999", before_bad + 1) ~= nil
  end)
  result.errors = vim.list_slice(result.notes, before_bad + 1)

  -- jitd restarts: the plugin shows the grant as offline, reconnects, reads it again.
  local client = access.client()
  local generation = client.generation
  local phase = assert(os.getenv("JIT_NVIM_PHASE"), "JIT_NVIM_PHASE")
  local f = assert(io.open(phase, "w"))
  f:write("restart")
  f:close()
  wait_for("the plugin to lose jitd", 20000, function()
    return not state.connected
  end)
  result.statusline_offline = access.statusline()
  wait_for("the plugin to reconnect", 30000, function()
    return client.generation > generation and state.connected
  end)
  result.statusline_reconnected = access.statusline()

  -- :Jit revoke takes it away: the statusline empties.
  vim.cmd("Jit revoke " .. id .. " done in nvim")
  wait_for("the statusline to empty", 10000, function()
    return access.statusline() == ""
  end)
  result.statusline_after_revoke = access.statusline()
  wait_for("the revoke to be told", 10000, function()
    return note_matching("request " .. id .. " %(demo%) revoked") ~= nil
  end)

  vim.cmd("Jit list closed")
  local closed_buf = vim.api.nvim_get_current_buf()
  wait_for(":Jit list closed to fill its buffer", 10000, function()
    return has_line(buffer_lines(closed_buf), "^%s+" .. id .. "%s", "revoked")
  end)
  result.closed_list = buffer_lines(closed_buf)
  vim.cmd("close")

  -- :Jit request prompts for what the catalog offers, and :Jit revoke without a number
  -- asks which grant. vim.ui is replaced here as a UI plugin (dressing.nvim) would: the
  -- first item is picked, and each input answered by its prompt.
  result.prompts = {}
  vim.ui.select = function(items, opts, on_choice)
    local format = opts.format_item or tostring
    table.insert(result.prompts, { prompt = opts.prompt, items = vim.tbl_map(format, items) })
    on_choice(items[1], 1)
  end
  local answers = {
    { "^database names", "logs audit" },
    { "^Duration", "90s" },
    { "^Justification", "asked in nvim" },
  }
  vim.ui.input = function(opts, on_confirm)
    table.insert(result.prompts, { prompt = opts.prompt, default = opts.default })
    for _, a in ipairs(answers) do
      if opts.prompt:find(a[1]) then
        return on_confirm(a[2])
      end
    end
    on_confirm(nil)
  end
  local before_prompted = #result.notes
  vim.cmd("Jit request")
  wait_for(":Jit request to make a request", 10000, function()
    return note_matching("^jit: request %d+ is ", before_prompted + 1) ~= nil
  end)
  result.prompted = tonumber(note_matching("^jit: request %d+ is ", before_prompted + 1).msg:match("request (%d+)"))
  wait_for("the prompted request to be granted", 10000, function()
    local g = state.grants()[1]
    return g ~= nil and g.id == result.prompted
  end)
  result.statusline_prompted = access.statusline()
  vim.cmd("Jit revoke")
  wait_for("the picked grant to be revoked", 10000, function()
    return access.statusline() == ""
  end)
  result.complete = vim.fn.getcompletion("Jit ", "cmdline")
  result.step = "done"
end

local ok, err = xpcall(main, debug.traceback)
if not ok then
  result.error = err
end
save()
vim.cmd(ok and "qall!" or "cquit 1")
