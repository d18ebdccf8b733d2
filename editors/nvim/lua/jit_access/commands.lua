--- jit.nvim: the `:Jit` command — its subcommands, their prompts (`vim.ui.select`,
--- `vim.ui.input`), the request list buffer, and completion.
---
--- Every subcommand is asynchronous: it calls jitd and shows the answer when it comes.
--- Missing arguments are asked for; bad ones get an error that says what to type.

local access = require("jit_access")
local state = require("jit_access.state")
local util = require("jit_access.util")

local M = {}

local levels = vim.log.levels

local function notify(msg, level)
  vim.notify(msg, level or levels.INFO, { title = "jit" })
end

local function fail(err)
  notify("jit: " .. (type(err) == "table" and err.message or tostring(err)), levels.ERROR)
end

--- `cb` for a call whose answer is a request: says what happened, or the error.
local function report(verb)
  return function(err, r)
    if err then
      return fail(err)
    end
    notify(("jit: request %d %s (%s)"):format(r.id, verb, r.status))
  end
end

local function parse_id(text, usage)
  local id = tonumber(text)
  if not id or id < 1 or id % 1 ~= 0 then
    fail(("%q is not a request number: %s"):format(text, usage))
    return nil
  end
  return id
end

local function item_label(r)
  local ends = util.parse_time(r.expires_at)
  local left = ends and (", expires in " .. util.span(ends - util.now())) or ""
  local who = (state.me and r.requester == state.me.user) and "" or (r.requester .. ": ")
  return ("%d  %s%s — %s%s"):format(r.id, who, util.describe(r), r.status, left)
end

--- The request to act on: `args[1]` when given, else picked from `choices` with
--- `vim.ui.select`; then `then_(id)`.
local function pick(args, choices, prompt, usage, then_)
  if args[1] then
    local id = parse_id(args[1], usage)
    if id then
      then_(id)
    end
    return
  end
  if #choices == 0 then
    return fail("nothing to " .. prompt:lower() .. ": " .. usage)
  end
  vim.ui.select(choices, { prompt = prompt .. ":", format_item = item_label }, function(r)
    if r then
      then_(r.id)
    end
  end)
end

local function rest(args, from)
  local text = table.concat(vim.list_slice(args, from), " ")
  return text ~= "" and text or nil
end

--- The `:Jit list` buffer: your requests (open, or closed with "closed") and those waiting
--- for you; `q` closes it, `r` reads again, `c`/`x`/`e` connect to, revoke or extend the
--- request on the cursor's line.
local function render(buf, closed, mine, review)
  local lines = {}
  local who = state.me and state.me.user or "you"
  lines[#lines + 1] = ("jit — %s requests of %s   (q close · r refresh · c connect · x revoke · e extend)")
    :format(closed and "closed" or "open", who)
  lines[#lines + 1] = ""
  if #mine == 0 then
    lines[#lines + 1] = closed and "  no closed requests" or "  no open requests (:Jit request asks for access)"
  else
    lines[#lines + 1] = ("  %-5s %-10s %-44s %s"):format("ID", "STATUS", "WHAT", closed and "ENDED" or "ENDS")
    for _, r in ipairs(mine) do
      local when
      if closed then
        when = r.end_reason or ""
      elseif r.status == "pending" then
        when = "waiting for " .. table.concat((r.approval or {}).approvers or {}, ", ")
      else
        local ends = util.parse_time(r.expires_at)
        when = ends and ("in " .. util.span(ends - util.now())) or ""
      end
      lines[#lines + 1] = ("  %-5d %-10s %-44s %s"):format(r.id, r.status, util.describe(r), when)
    end
  end
  if #review > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Waiting for your approval (:Jit approve ID, :Jit reject ID)"
    for _, r in ipairs(review) do
      local what = r.pending_extension and ("extend by " .. util.span(r.pending_extension.added_secs or 0))
        or util.describe(r)
      lines[#lines + 1] = ("  %-5d %-10s %s: %s"):format(r.id, r.status, r.requester, what)
    end
  end
  vim.bo[buf].modifiable = true
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  vim.bo[buf].modifiable = false
end

local LIST_NAME = "jit://requests"

local function list_buffer()
  local buf = vim.fn.bufnr(LIST_NAME)
  if buf == -1 then
    buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_name(buf, LIST_NAME)
    vim.bo[buf].bufhidden = "hide"
    vim.bo[buf].filetype = "jit"
  end
  local win = vim.fn.bufwinid(buf)
  if win == -1 then
    vim.cmd(require("jit_access.config").options.split)
    vim.api.nvim_win_set_buf(0, buf)
  else
    vim.api.nvim_set_current_win(win)
  end
  return buf
end

local function id_on_line()
  return tonumber(vim.api.nvim_get_current_line():match("^%s+(%d+)%s"))
end

function M.list(args)
  local closed = args[1] == "closed"
  if args[1] and not closed then
    return fail(("unknown argument %q: :Jit list, or :Jit list closed"):format(args[1]))
  end
  local buf = list_buffer()
  local function load()
    access.list({ scope = "mine", closed = closed, limit = 100 }, function(err, mine)
      if err then
        return fail(err)
      end
      access.list({ scope = "review" }, function(err2, review)
        if not vim.api.nvim_buf_is_valid(buf) then
          return
        end
        render(buf, closed, mine, err2 and {} or review)
      end)
    end)
  end
  local function map(key, fn)
    vim.keymap.set("n", key, fn, { buffer = buf, nowait = true, silent = true })
  end
  map("q", "<cmd>close<cr>")
  map("r", load)
  for key, sub in pairs({ c = "connect", x = "revoke", e = "extend" }) do
    map(key, function()
      local id = id_on_line()
      if id then
        M.run({ sub, tostring(id) })
      end
    end)
  end
  load()
end

local function field_choices(list)
  return vim.tbl_filter(function(x)
    return x ~= nil and x ~= ""
  end, list)
end

--- `:Jit request`: pick what the catalog offers, then type resources, duration and reason.
function M.request()
  access.catalog(function(err, catalog)
    if err then
      return fail(err)
    end
    local offers = {}
    for _, flow in ipairs(catalog) do
      if #flow.bundles > 0 then
        for _, b in ipairs(flow.bundles) do
          offers[#offers + 1] = { flow = flow, bundle = b }
        end
      else
        offers[#offers + 1] = { flow = flow }
      end
    end
    if #offers == 0 then
      return fail("no access flow lets you request anything: ask your admin")
    end
    local function describe(o)
      local f = o.flow
      local how = f.break_glass and "break-glass" or (f.approval == "auto" and "granted at once" or "needs approval")
      local base = o.bundle and ("bundle " .. o.bundle.name) or (f.integration .. " (" .. f.kind .. ")")
      return ("%s — flow %s, %s, up to %s%s"):format(
        base, f.flow, how, util.span(f.max_duration_secs), f.dry_run and ", dry run" or ""
      )
    end
    vim.ui.select(offers, { prompt = "Request access to:", format_item = describe }, function(o)
      if o then
        M.request_details(o)
      end
    end)
  end)
end

--- The rest of `:Jit request` once the flow (and bundle) is chosen.
function M.request_details(offer)
  local f = offer.flow
  local params = {}
  local function finish()
    local default = util.span(f.default_duration_secs):gsub(" ", "")
    vim.ui.input({
      prompt = ("Duration (at most %s): "):format(util.span(f.max_duration_secs)),
      default = default,
    }, function(text)
      if text == nil then
        return
      end
      local secs, derr = util.parse_duration(text)
      if not secs then
        return fail(derr)
      end
      params.duration_secs = secs
      local hint = f.justification_pattern and (" (matching " .. f.justification_pattern .. ")") or ""
      local need = f.justification_required and "required" or "optional"
      vim.ui.input({ prompt = ("Justification, %s%s: "):format(need, hint) }, function(why)
        if why == nil then
          return
        end
        why = vim.trim(why)
        if why == "" and f.justification_required then
          return fail("flow " .. f.flow .. " requires a justification")
        end
        params.justification = why ~= "" and why or nil
        access.request(params, function(cerr, r)
          if cerr then
            return fail(cerr)
          end
          notify(("jit: request %d is %s (%s)"):format(r.id, r.status, util.describe(r)))
        end)
      end)
    end)
  end
  if offer.bundle then
    params.bundle = offer.bundle.name
    return finish()
  end
  params.integration = f.integration
  local function with_type(rt)
    params.resource_type = rt.name
    local function with_resources(resources)
      params.resources = resources
      local perms = field_choices(rt.permissions)
      if #perms == 1 then
        params.permissions = perms
        return finish()
      end
      vim.ui.select(perms, { prompt = "Permission:" }, function(p)
        if p then
          params.permissions = { p }
          finish()
        end
      end)
    end
    local patterns = f.resources or {}
    local literal = #patterns > 0
    for _, p in ipairs(patterns) do
      if p:find("*", 1, true) then
        literal = false
      end
    end
    if literal then
      vim.ui.select(patterns, { prompt = rt.name .. ":" }, function(res)
        if res then
          with_resources({ res })
        end
      end)
    else
      local allowed = #patterns > 0 and (" (allowed: " .. table.concat(patterns, ", ") .. ")") or ""
      vim.ui.input({ prompt = ("%s names, separated by spaces%s: "):format(rt.name, allowed) }, function(text)
        if text == nil then
          return
        end
        local names = vim.split(vim.trim(text), "[%s,]+")
        names = field_choices(names)
        if #names == 0 then
          return fail("name at least one " .. rt.name)
        end
        with_resources(names)
      end)
    end
  end
  local types = f.resource_types
  if #types == 1 then
    return with_type(types[1])
  end
  vim.ui.select(types, {
    prompt = "Resource type:",
    format_item = function(rt)
      return rt.name .. " (" .. table.concat(rt.permissions, ", ") .. ")"
    end,
  }, function(rt)
    if rt then
      with_type(rt)
    end
  end)
end

local SUBCOMMANDS = {
  list = { usage = ":Jit list [closed]", run = M.list },
  request = {
    usage = ":Jit request",
    run = function()
      M.request()
    end,
  },
  connect = {
    usage = ":Jit connect [ID]",
    run = function(args)
      pick(args, state.grants(), "Connect to", ":Jit connect ID", function(id)
        local buf, err = access.connect(id)
        if not buf then
          fail(err)
        end
      end)
    end,
  },
  revoke = {
    usage = ":Jit revoke [ID] [REASON]",
    run = function(args)
      pick(args, state.grants(), "Revoke", ":Jit revoke ID [REASON]", function(id)
        access.revoke(id, rest(args, 2), report("is being revoked"))
      end)
    end,
  },
  extend = {
    usage = ":Jit extend [ID] [DURATION] [REASON]",
    run = function(args)
      pick(args, state.grants(), "Extend", ":Jit extend ID DURATION [REASON]", function(id)
        local function go(text)
          local secs, err = util.parse_duration(text)
          if not secs then
            return fail(err .. " (:Jit extend ID DURATION [REASON])")
          end
          access.extend(id, secs, rest(args, 3), function(cerr, r)
            if cerr then
              return fail(cerr)
            end
            -- An extension added at once is told by its `extended` event.
            if r.pending_extension then
              notify(("jit: the extension of request %d waits for approval"):format(r.id))
            end
          end)
        end
        if args[2] then
          return go(args[2])
        end
        vim.ui.input({ prompt = "How much longer (30m, 1h): " }, function(text)
          if text then
            go(text)
          end
        end)
      end)
    end,
  },
  approve = {
    usage = ":Jit approve [ID] [REASON]",
    run = function(args)
      pick(args, state.waiting(), "Approve", ":Jit approve ID [REASON]", function(id)
        access.approve(id, rest(args, 2), report("approved"))
      end)
    end,
  },
  reject = {
    usage = ":Jit reject [ID] [REASON]",
    run = function(args)
      pick(args, state.waiting(), "Reject", ":Jit reject ID [REASON]", function(id)
        access.reject(id, rest(args, 2), report("rejected"))
      end)
    end,
  },
  cancel = {
    usage = ":Jit cancel [ID] [REASON]",
    run = function(args)
      local waiting = vim.tbl_filter(function(r)
        return r.status == "pending" or r.status == "scheduled"
      end, state.open())
      pick(args, waiting, "Cancel", ":Jit cancel ID [REASON]", function(id)
        access.cancel(id, rest(args, 2), report("canceled"))
      end)
    end,
  },
  status = {
    usage = ":Jit status",
    run = function()
      access.call("daemon.status", nil, function(err, s)
        if err then
          return fail(err)
        end
        notify(("jit: jitd %s (%s mode, protocol %s) on %s; you are %s%s; %d granted, %d pending, %d revoking"):format(
          s.version, s.mode, tostring(s.protocol_version), access.client().path or "?",
          s.caller.user, s.caller.admin and " (admin)" or "",
          s.counts.granted, s.counts.pending, s.counts.revoking
        ))
      end)
    end,
  },
}

--- The subcommands' names, sorted.
function M.names()
  local names = vim.tbl_keys(SUBCOMMANDS)
  table.sort(names)
  return names
end

--- Runs `:Jit ARGS…` (no arguments: `list`).
function M.run(args)
  local name = args[1] or "list"
  local sub = SUBCOMMANDS[name]
  if not sub then
    return fail(("unknown subcommand %q; try :Jit %s"):format(name, table.concat(M.names(), ", ")))
  end
  sub.run(vim.list_slice(args, 2))
end

local function ids(list)
  return vim.tbl_map(function(r)
    return tostring(r.id)
  end, list)
end

--- Completion for `:Jit`: subcommands, then request numbers that fit the subcommand.
function M.complete(arglead, cmdline, pos)
  local before = cmdline:sub(1, pos)
  local words = vim.split(vim.trim(before), "%s+")
  -- words[1] is "Jit"; the word being completed is arglead (maybe empty).
  local index = #words - (arglead == "" and 0 or 1)
  local candidates = {}
  if index <= 1 then
    candidates = M.names()
  else
    local sub = words[2]
    if index == 2 then
      if sub == "list" then
        candidates = { "closed" }
      elseif sub == "connect" or sub == "revoke" or sub == "extend" then
        candidates = ids(state.grants())
      elseif sub == "approve" or sub == "reject" then
        candidates = ids(state.waiting())
      elseif sub == "cancel" then
        candidates = ids(vim.tbl_filter(function(r)
          return r.status == "pending" or r.status == "scheduled"
        end, state.open()))
      end
    elseif index == 3 and sub == "extend" then
      candidates = { "15m", "30m", "1h", "2h" }
    end
  end
  return vim.tbl_filter(function(c)
    return c:sub(1, #arglead) == arglead
  end, candidates)
end

return M
