-- luacheck for the Neovim plugin (scripts/test runs it): LuaJIT, Neovim's `vim` global.
std = "luajit"
globals = { "vim" } -- the tests replace vim.notify and vim.ui
max_line_length = 120
