-- The Lua side of `require "forkmon"`, run once per Lua state by the C
-- module: every way Lua code reads a file asks forkmon first, which may make
-- a checkpoint there, and the API's errors become ordinary Lua errors. The
-- wrappers hand arguments, results and errors through untouched.
local before_read, before_write, raw = ...

local function reads_only(mode)
  return mode == nil or (type(mode) == "string" and mode:sub(1, 1) == "r" and not mode:find("+", 1, true))
end

local plain_open, plain_lines = io.open, io.lines
local plain_dofile, plain_loadfile = dofile, loadfile
local pack = table.pack or function(...) return { n = select("#", ...), ... } end
local unpack = table.unpack or unpack

-- io.open and io.lines raise errors about their caller ("bad argument",
-- "cannot open file"): called from here, that would be this file. They run
-- under pcall, and an error is raised again at the wrapper's caller, under
-- the library's own name, as without forkmon. (dofile is called directly: an
-- error in the user's chunk keeps its traceback.)
local function call_as(name, f, ...)
  local results = pack(pcall(f, ...))
  if results[1] then return true, results end
  local message = results[2]
  if type(message) ~= "string" then return false, message, 0 end
  return false, (message:gsub("to '%?'", "to '" .. name .. "'")), 2
end

-- dofile and loadfile check their arguments as Lua would before they run
-- (called from here, Lua's own check would name this file and the local
-- that holds them): a number or nil is taken, as by luaL_optstring.
local function check_optional_string(name, n, value)
  local kind = type(value)
  if value ~= nil and kind ~= "string" and kind ~= "number" then
    local meta = getmetatable(value)
    if type(meta) == "table" and type(rawget(meta, "__name")) == "string" then kind = meta.__name end
    error(("bad argument #%d to '%s' (string expected, got %s)"):format(n, name, kind), 3)
  end
end

-- Lua 5.1 has no package.searchpath.
local searchpath = package.searchpath or function(name, path)
  name = name:gsub("%.", "/"):gsub("%%", "%%%%")
  for template in path:gmatch("[^;]+") do
    local file = template:gsub("%?", name)
    local handle = plain_open(file, "r")
    if handle then
      handle:close()
      return file
    end
  end
end

-- A searcher in front of the Lua-file searcher: it finds the file that
-- searcher is about to load, checkpoints there, and leaves the loading to it.
-- The files it looked for before that one (all of them, when none is there)
-- are watched for their coming: one of them would be found first.
local searchers = package.searchers or package.loaders
table.insert(searchers, 2, function(name)
  local file = searchpath(name, package.path)
  local probed = name:gsub("%.", "/"):gsub("%%", "%%%%")
  for template in package.path:gmatch("[^;]+") do
    local candidate = template:gsub("%?", probed)
    if candidate == file then break end
    before_read(candidate)
  end
  if file then
    before_read(file)
  end
end)

function dofile(filename, ...)
  check_optional_string("dofile", 1, filename)
  if type(filename) == "string" then before_read(filename) end
  return plain_dofile(filename, ...)
end

function loadfile(filename, ...)
  check_optional_string("loadfile", 1, filename)
  -- (Lua 5.1's own loadfile takes no mode: it ignores a second argument.)
  if _VERSION ~= "Lua 5.1" or jit then check_optional_string("loadfile", 2, (...)) end
  if type(filename) == "string" then before_read(filename) end
  return plain_loadfile(filename, ...)
end

function io.open(filename, mode, ...)
  if type(filename) == "string" then
    if reads_only(mode) then before_read(filename) else before_write(filename) end
  end
  local ok, results, level = call_as("open", plain_open, filename, mode, ...)
  if not ok then error(results, level) end
  return unpack(results, 2, results.n)
end

function io.lines(filename, ...)
  if type(filename) == "string" then before_read(filename) end
  local ok, results, level = call_as("lines", plain_lines, filename, ...)
  if not ok then error(results, level) end
  return unpack(results, 2, results.n)
end

-- os.clock as alone: the program's processor time since it started, not
-- since its run was forked from a checkpoint (a fork's child counts from
-- zero). Absent when another preloaded copy of forkmon answers clock().
if raw.clock then os.clock = raw.clock end

-- The API: each raw function answers `ok, value-or-message`; a message is
-- raised here, at the caller's line, as a plain string.
local function checked(raw_function)
  return function(...)
    local ok, value = raw_function(...)
    if not ok then error(value, 2) end
    return value
  end
end

return {
  version = raw.version,
  resumes = checked(raw.resumes),
  options = checked(raw.options),
  configure = checked(raw.configure),
  checkpoint = checked(raw.checkpoint),
  watch = checked(raw.watch),
  each = checked(raw.each),
}
