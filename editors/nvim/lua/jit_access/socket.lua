--- jit.nvim: where jitd's socket is, by the rules `jit` follows (docs/cli.md, "Which
--- daemon").
---
--- `setup{ socket = … }` or `JIT_SOCKET` wins alone. Otherwise the user-mode socket comes
--- first when its file exists, then the system socket; the client tries them in order, so a
--- stale user socket (nothing listening) falls through to the system one.

local M = {}

--- The socket of a system-wide jitd (run by systemd as root).
M.SYSTEM = "/run/jit/jitd.sock"

--- Where a user-mode jitd puts its socket: `$XDG_RUNTIME_DIR/jit`, or without a runtime
--- dir its state dir, `$XDG_STATE_HOME/jit` (`~/.local/state/jit`). `getenv` is a function
--- from a name to its value (os.getenv in the editor, a table lookup in tests).
function M.user_dir(getenv)
  local function nonempty(name)
    local v = getenv(name)
    if v ~= nil and v ~= "" then
      return v
    end
  end
  local run = nonempty("XDG_RUNTIME_DIR")
  if run then
    return run .. "/jit"
  end
  local state = nonempty("XDG_STATE_HOME")
  if state then
    return state .. "/jit"
  end
  local home = nonempty("HOME")
  if home then
    return home .. "/.local/state/jit"
  end
end

--- The sockets to try, in order. `explicit` is `setup{ socket }`; `exists` tells whether a
--- file exists.
function M.candidates(explicit, getenv, exists)
  if explicit then
    return { explicit }
  end
  local env = getenv("JIT_SOCKET")
  if env and env ~= "" then
    return { env }
  end
  local paths = {}
  local dir = M.user_dir(getenv)
  if dir and exists(dir .. "/jitd.sock") then
    paths[#paths + 1] = dir .. "/jitd.sock"
  end
  paths[#paths + 1] = M.SYSTEM
  return paths
end

--- The candidates in this editor.
function M.here(explicit)
  return M.candidates(explicit, os.getenv, function(path)
    return (vim.uv or vim.loop).fs_stat(path) ~= nil
  end)
end

return M
