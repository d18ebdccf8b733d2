--- jit.nvim: pure helpers — RFC 3339 times, durations as people write and read them.
---
--- Nothing here touches the editor or the socket, so the unit tests call it directly.

local M = {}

--- Days from 1970-01-01 to the civil date y-m-d (proleptic Gregorian; H. Hinnant's
--- algorithm), so that UTC times need neither os.time (local time) nor a library.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

--- Seconds since the Unix epoch (with a fraction) of an RFC 3339 time as jitd sends it
--- ("2026-11-23T14:05:12.318Z", or with an offset); nil when `text` is not one.
function M.parse_time(text)
  if type(text) ~= "string" then
    return nil
  end
  local y, mo, d, h, mi, s, rest =
    text:match("^(%d%d%d%d)%-(%d%d)%-(%d%d)[Tt ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then
    return nil
  end
  local frac = 0
  local f = rest:match("^%.(%d+)")
  if f then
    frac = tonumber("0." .. f)
    rest = rest:sub(#f + 2)
  end
  local offset
  if rest == "Z" or rest == "z" then
    offset = 0
  else
    local sign, oh, om = rest:match("^([+-])(%d%d):(%d%d)$")
    if not sign then
      return nil
    end
    offset = (tonumber(oh) * 3600 + tonumber(om) * 60) * (sign == "-" and -1 or 1)
  end
  local days = days_from_civil(tonumber(y), tonumber(mo), tonumber(d))
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s) + frac - offset
end

--- Now, in seconds since the epoch with microseconds.
function M.now()
  local sec, usec = (vim.uv or vim.loop).gettimeofday()
  return sec + usec / 1e6
end

--- A duration in the largest units that matter, as `jit` prints it: "45s", "30m",
--- "1h 30m", "2d 3h". Minutes are rounded to the nearest one (a 30-minute grant a second
--- after it started still reads "30m").
function M.span(secs)
  secs = math.max(0, math.floor(secs))
  if secs < 60 then
    return ("%ds"):format(secs)
  end
  local minutes = math.floor((secs + 30) / 60)
  if minutes < 60 then
    return ("%dm"):format(minutes)
  end
  local hours, mins = math.floor(minutes / 60), minutes % 60
  if hours < 24 then
    return mins == 0 and ("%dh"):format(hours) or ("%dh %dm"):format(hours, mins)
  end
  local days, hrs = math.floor(hours / 24), hours % 24
  return hrs == 0 and ("%dd"):format(days) or ("%dd %dh"):format(days, hrs)
end

local UNITS = {
  s = 1, sec = 1, secs = 1, second = 1, seconds = 1,
  m = 60, min = 60, mins = 60, minute = 60, minutes = 60,
  h = 3600, hr = 3600, hrs = 3600, hour = 3600, hours = 3600,
  d = 86400, day = 86400, days = 86400,
}

--- Seconds in a duration a person typed ("30m", "1h 30m", "1h30m", "90s", "2d"); on bad
--- input nil and an error that says what to type.
function M.parse_duration(text)
  if type(text) ~= "string" or vim.trim(text) == "" then
    return nil, "give a duration such as 30m, 1h or 1h 30m"
  end
  local total, rest = 0, vim.trim(text)
  while rest ~= "" do
    local n, unit, tail = rest:match("^(%d+)%s*(%a+)%s*(.*)$")
    if not n then
      if rest:match("^%d+$") then
        return nil, ("%q has no unit: write %ss, %sm or %sh"):format(text, rest, rest, rest)
      end
      return nil, ("%q is not a duration: write it like 30m, 1h or 1h 30m"):format(text)
    end
    local mult = UNITS[unit:lower()]
    if not mult then
      return nil, ("unknown unit %q in %q: use s, m, h or d"):format(unit, text)
    end
    total = total + tonumber(n) * mult
    rest = tail
  end
  if total == 0 then
    return nil, ("%q is zero: ask for at least 1s"):format(text)
  end
  return total
end

--- What a request is for, in a few words: its bundle's name, or its integrations.
function M.label(request)
  if request.bundle then
    return request.bundle
  end
  local seen, names = {}, {}
  for _, e in ipairs(request.entries or {}) do
    if not seen[e.integration] then
      seen[e.integration] = true
      names[#names + 1] = e.integration
    end
  end
  return table.concat(names, ",")
end

--- What a request asks for, for people: "read on demo/database orders".
function M.describe(request)
  if request.bundle then
    return "bundle " .. request.bundle
  end
  local parts = {}
  for _, e in ipairs(request.entries or {}) do
    parts[#parts + 1] = ("%s on %s/%s %s"):format(
      table.concat(e.permissions or {}, ","),
      e.integration,
      e.resource_type,
      table.concat(e.resources or {}, ",")
    )
  end
  return table.concat(parts, "; ")
end

local CLOSED = { expired = true, revoked = true, rejected = true, failed = true, canceled = true }

--- Whether a status is open. A status word this plugin does not know counts as open
--- (docs/api.md: new statuses come without a protocol bump).
function M.is_open(status)
  return not CLOSED[status]
end

return M
