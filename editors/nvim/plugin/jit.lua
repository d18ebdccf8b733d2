-- jit.nvim: defines `:Jit`. Nothing connects to jitd until `require("jit_access").setup{}`, the
-- statusline component or a `:Jit` command is first used.

if vim.g.loaded_jit then
  return
end
vim.g.loaded_jit = true

if vim.fn.has("nvim-0.7") ~= 1 then
  vim.api.nvim_echo({ { "jit.nvim needs Neovim 0.7 or newer", "ErrorMsg" } }, true, {})
  return
end

vim.api.nvim_create_user_command("Jit", function(opts)
  require("jit_access.commands").run(opts.fargs)
end, {
  nargs = "*",
  desc = "jit: list, request, connect, revoke, extend, approve, reject, cancel, status",
  complete = function(arglead, cmdline, pos)
    return require("jit_access.commands").complete(arglead, cmdline, pos)
  end,
})
