--- jit.nvim: the options of `require("jit_access").setup{}`, their defaults, and their checks.

local M = {}

M.defaults = {
  -- jitd's socket; nil looks where `jit` looks (JIT_SOCKET, the user-mode socket, the
  -- system socket /run/jit/jitd.sock).
  socket = nil,
  -- The `jit` CLI, for `:Jit connect` (a string, or a list: the program and arguments).
  jit_cmd = "jit",
  -- Put before the statusline text.
  icon = "⏳",
  -- `vim.notify` when a request of yours is granted, ends or fails, or one waits for you.
  notify = true,
  -- `vim.notify` a warning on jitd's expiry warnings (`[daemon] expiry_warnings`).
  warn_expiring = true,
  -- How `:Jit connect` and `:Jit list` open their window (an Ex command).
  split = "botright split",
  -- The longest wait between two attempts to reach jitd while it is down, in ms.
  reconnect_max_ms = 5000,
}

local CHECKS = {
  socket = { "string", true, "a path to jitd's socket" },
  jit_cmd = { { "string", "table" }, false, "the jit program, or a list of it and its arguments" },
  icon = { "string", false, "text such as \"⏳\" or \"\"" },
  notify = { "boolean", false, "true or false" },
  warn_expiring = { "boolean", false, "true or false" },
  split = { "string", false, "an Ex command such as \"botright split\" or \"tabnew\"" },
  reconnect_max_ms = { "number", false, "milliseconds, at least 100" },
}

M.options = vim.deepcopy(M.defaults)

local function is(value, types)
  types = type(types) == "table" and types or { types }
  for _, t in ipairs(types) do
    if type(value) == t then
      return true
    end
  end
  return false
end

--- Checks `opts` and merges them over the defaults. Errors name the option and what it
--- takes; nothing changes on an error.
function M.set(opts)
  opts = opts or {}
  if type(opts) ~= "table" then
    error("jit.setup: expected a table of options, got " .. type(opts), 0)
  end
  local known = vim.tbl_keys(CHECKS)
  table.sort(known)
  for key, value in pairs(opts) do
    local check = CHECKS[key]
    if not check then
      error(("jit.setup: unknown option %q; the options are: %s"):format(
        tostring(key),
        table.concat(known, ", ")
      ), 0)
    end
    local types, optional, what = check[1], check[2], check[3]
    if not (is(value, types) or (optional and value == nil)) then
      error(("jit.setup: %s must be %s, got %s"):format(key, what, vim.inspect(value)), 0)
    end
  end
  if opts.reconnect_max_ms and opts.reconnect_max_ms < 100 then
    error("jit.setup: reconnect_max_ms must be milliseconds, at least 100", 0)
  end
  if opts.socket == "" then
    error("jit.setup: socket must be a path to jitd's socket, not empty", 0)
  end
  M.options = vim.tbl_extend("force", vim.deepcopy(M.defaults), opts)
  return M.options
end

return M
