--[[
  simplugin.lua: group near-duplicate photos in darktable's lighttable.

  Select photos (or a whole film roll: ctrl+a) and press "group near-duplicates" in the
  "selected image[s]" module, or the shortcut of the same name. simplugin compares
  them; every set of near-duplicates becomes a darktable group, led by the photo
  simplugin would keep, which is tagged simplugin|keep, and the others are tagged
  simplugin|duplicate. Nothing is moved or deleted: the tags let you find them
  (collections module, tag simplugin|duplicate) and decide.

  Install: simplugin hooks install darktable   (or copy this file into
  ~/.config/darktable/lua/ and add the line  require "simplugin"  to
  ~/.config/darktable/luarc), then restart darktable.

  The command run is `simplugin`, found on PATH, in this file as shipped; `simplugin
  integrations install darktable` writes the absolute command of the simplugin that
  installs it instead. Set SIMPLUGIN_COMMAND to run another (e.g.
  "/path/to/venv/bin/simplugin"). Settings come from simplugin's configuration
  file as for any scan (threshold, metric...).
]]

local dt = require "darktable"

local M = {}

M.KEEP_TAG = "simplugin|keep"
M.DUPLICATE_TAG = "simplugin|duplicate"

-- JSON, as simplugin's JSON output writes it ----------------------------------------

local function utf8_or_byte(code)
  -- simplugin writes a file name byte that is not UTF-8 as \udcXX (Python's
  -- surrogateescape); that escape stands for the byte 0xXX itself.
  if code >= 0xDC80 and code <= 0xDCFF then
    return string.char(code - 0xDC00)
  end
  return utf8.char(code)
end

--- Decode a JSON text into Lua values (null becomes nil in objects, M.null in arrays).
function M.decode_json(text)
  local position = 1

  local function fail(what)
    error(string.format("simplugin: bad JSON at character %d: %s", position, what))
  end

  local function skip_space()
    position = text:find("[^ \t\r\n]", position) or #text + 1
  end

  local value

  local function read_string()
    local parts = {}
    position = position + 1 -- the opening quote
    while true do
      local stop = text:find('["\\]', position)
      if not stop then fail("unterminated string") end
      parts[#parts + 1] = text:sub(position, stop - 1)
      position = stop + 1
      if text:sub(stop, stop) == '"' then
        return table.concat(parts)
      end
      local escape = text:sub(position, position)
      position = position + 1
      local simple = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t" }
      if simple[escape] then
        parts[#parts + 1] = simple[escape]
      elseif escape == "u" then
        local code = tonumber(text:sub(position, position + 3), 16) or fail("bad \\u escape")
        position = position + 4
        local low = text:match("^\\u(%x%x%x%x)", position)
        if code >= 0xD800 and code <= 0xDBFF and low then -- a surrogate pair
          code = 0x10000 + (code - 0xD800) * 0x400 + (tonumber(low, 16) - 0xDC00)
          position = position + 6
        end
        parts[#parts + 1] = utf8_or_byte(code)
      else
        parts[#parts + 1] = escape -- \" \\ \/
      end
    end
  end

  -- The members of an object or the items of an array, up to `close`.
  local function each(close, read_one)
    position = position + 1
    skip_space()
    if text:sub(position, position) == close then
      position = position + 1
      return
    end
    while true do
      read_one()
      skip_space()
      local separator = text:sub(position, position)
      position = position + 1
      if separator == close then return end
      if separator ~= "," then fail("expected ',' or '" .. close .. "'") end
    end
  end

  function value()
    skip_space()
    local first = text:sub(position, position)
    if first == "{" then
      local object = {}
      each("}", function()
        skip_space()
        if text:sub(position, position) ~= '"' then fail("expected a key") end
        local key = read_string()
        skip_space()
        if text:sub(position, position) ~= ":" then fail("expected ':'") end
        position = position + 1
        object[key] = value()
      end)
      return object
    elseif first == "[" then
      local array = {}
      each("]", function()
        local item = value()
        array[#array + 1] = item == nil and M.null or item
      end)
      return array
    elseif first == '"' then
      return read_string()
    end
    for word, result in pairs({ ["true"] = true, ["false"] = false, ["null"] = M.null }) do
      if text:sub(position, position + #word - 1) == word then
        position = position + #word
        if result == M.null then return nil end
        return result
      end
    end
    local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", position)
    if number and #number > 0 then
      position = position + #number
      return tonumber(number)
    end
    fail("unexpected " .. (first == "" and "end of text" or first))
  end

  local result = value()
  skip_space()
  if position <= #text then fail("text after the value") end
  return result
end

M.null = setmetatable({}, { __tostring = function() return "null" end })

-- Running simplugin ------------------------------------------------------------------

local function quoted(text)
  return "'" .. text:gsub("'", "'\\''") .. "'"
end

--- Run simplugin on the files; return its JSON result, or nil and a one-line reason.
function M.scan(paths)
  local command = (os.getenv("SIMPLUGIN_COMMAND") or "simplugin") .. " scan --quiet --json -"
  for _, path in ipairs(paths) do
    command = command .. " " .. quoted(path)
  end
  local pipe = io.popen(command)
  local output = pipe:read("a")
  local _, _, code = pipe:close()
  -- 0: scanned; 3: scanned, but some file or output had a problem (said on stderr).
  if code ~= 0 and code ~= 3 then
    return nil, string.format("simplugin failed (exit code %s): see darktable's terminal", code)
  end
  local ok, result = pcall(M.decode_json, output)
  if not ok then
    return nil, result
  end
  return result
end

-- Grouping in darktable --------------------------------------------------------------

--- Compare `images` and group each set of near-duplicates, leader the keeper; tag them.
--- Returns the number of groups made, or nil and a reason.
function M.group_near_duplicates(images)
  local by_path = {} -- a file may be in darktable more than once (its duplicates)
  local paths = {}
  for _, image in ipairs(images) do
    local path = image.path .. "/" .. image.filename
    if not by_path[path] then
      by_path[path] = {}
      paths[#paths + 1] = path
    end
    table.insert(by_path[path], image)
  end
  if #paths < 2 then
    return nil, "select at least two photos (ctrl+a selects the whole film roll)"
  end
  local result, reason = M.scan(paths)
  if not result then
    return nil, reason
  end
  local keep_tag = dt.tags.create(M.KEEP_TAG)
  local duplicate_tag = dt.tags.create(M.DUPLICATE_TAG)
  for _, group in ipairs(result.groups) do
    local keepers = by_path[group.keep]
    local leader = keepers[1]
    for _, image in ipairs(keepers) do
      image:group_with(leader)
      dt.tags.attach(keep_tag, image)
    end
    for _, path in ipairs(group.duplicates) do
      for _, image in ipairs(by_path[path] or {}) do
        image:group_with(leader)
        dt.tags.attach(duplicate_tag, image)
      end
    end
    leader:make_group_leader()
  end
  return #result.groups
end

local function run(images)
  dt.print("simplugin: comparing " .. #images .. " images...")
  local groups, reason = M.group_near_duplicates(images)
  if groups then
    dt.print(string.format("simplugin: %d groups of near-duplicates (tag %s)", groups, M.DUPLICATE_TAG))
  else
    dt.print("simplugin: " .. reason)
  end
end

-- Only in darktable's window: a test (or a script) may load this module headless.
if dt.configuration.has_gui then
  dt.gui.libs.image.register_action(
    "simplugin_group",
    "group near-duplicates",
    function(_, images) run(images) end,
    "compare the selected images with simplugin and group the near-duplicates"
  )
  dt.register_event("simplugin", "shortcut", function() run(dt.gui.action_images) end,
    "group near-duplicates (simplugin)")
end

return M
