--- jit.nvim: what the plugin knows of jitd — who you are, your open requests, the requests
--- waiting for your approval — kept fresh by events, read by the statusline without any
--- call.
---
--- The rule of docs/api.md: subscribe first, then read the state (`request.list`), then
--- apply each event's request as it comes; a `lagged` event means read it all again.

local util = require("jit_access.util")

local M = {}

--- The caller from `daemon.status` (`user`, `uid`, `groups`, `admin`); nil until known.
M.me = nil
--- Whether the plugin has a connection to jitd.
M.connected = false
--- Your open requests by id, as jitd last described them.
M.mine = {}
--- Requests (or extensions) waiting for your approval, by id.
M.review = {}

function M.reset()
  M.me = nil
  M.connected = false
  M.mine = {}
  M.review = {}
end

local function waits_for_review(r)
  return r.status == "pending" or r.pending_extension ~= nil
end

--- Replaces your open requests with `list` (from `request.list`).
function M.set_mine(list)
  M.mine = {}
  for _, r in ipairs(list or {}) do
    if util.is_open(r.status) then
      M.mine[r.id] = r
    end
  end
end

--- Replaces the requests waiting for you with `list` (`request.list`, scope `review`).
function M.set_review(list)
  M.review = {}
  for _, r in ipairs(list or {}) do
    M.review[r.id] = r
  end
end

--- Applies an event (`events.event`'s `result`) to the cache; true when it changed.
function M.apply(event)
  local r = event.request
  if type(r) ~= "table" or type(r.id) ~= "number" then
    return false
  end
  local me = M.me and M.me.user
  if me and r.requester == me then
    if util.is_open(r.status) then
      M.mine[r.id] = r
    else
      M.mine[r.id] = nil
    end
  elseif event.kind == "approval_needed" and waits_for_review(r) then
    M.review[r.id] = r
  end
  if M.review[r.id] and (r.requester == me or not waits_for_review(r)) then
    M.review[r.id] = nil
  elseif M.review[r.id] then
    M.review[r.id] = r
  end
  return true
end

local function sorted(map, keep)
  local out = {}
  for _, r in pairs(map) do
    if keep(r) then
      out[#out + 1] = r
    end
  end
  return out
end

--- Your granted requests, the one that ends first first.
function M.grants()
  local out = sorted(M.mine, function(r)
    return r.status == "granted"
  end)
  table.sort(out, function(a, b)
    local ea = util.parse_time(a.expires_at) or math.huge
    local eb = util.parse_time(b.expires_at) or math.huge
    if ea == eb then
      return a.id < b.id
    end
    return ea < eb
  end)
  return out
end

--- Your open requests, newest first.
function M.open()
  local out = sorted(M.mine, function()
    return true
  end)
  table.sort(out, function(a, b)
    return a.id > b.id
  end)
  return out
end

--- Requests waiting for you, oldest first.
function M.waiting()
  local out = sorted(M.review, function()
    return true
  end)
  table.sort(out, function(a, b)
    return a.id < b.id
  end)
  return out
end

--- The statusline text at time `now`: "⏳ pg-main 12m" for the grant that ends first,
--- "+N" when there are N more, "(offline)" while jitd cannot be reached (the grants last
--- known are shown: the access still exists); "" without a grant.
function M.statusline(now, icon)
  local grants = M.grants()
  local first = grants[1]
  if not first then
    return ""
  end
  local ends = util.parse_time(first.expires_at)
  local left = ends and util.span(ends - now):gsub(" ", "") or "?"
  local text = ("%s %s"):format(util.label(first), left)
  if icon and icon ~= "" then
    text = icon .. " " .. text
  end
  if #grants > 1 then
    text = ("%s +%d"):format(text, #grants - 1)
  end
  if not M.connected then
    text = text .. " (offline)"
  end
  return text
end

return M
