-- A real resume in a child interpreter of the Lua version under test
-- (FORKMON_SPEC_LUA, set by `make spec`): `lua -l forkmon main.lua`, an edit
-- of the module it requires, and Ctrl+C (SIGINT to its process group).
local interpreter = os.getenv("FORKMON_SPEC_LUA") or "lua5.4"
local cpath = os.getenv("FORKMON_SPEC_CPATH") or package.cpath

local function sh(command)
  local pipe = assert(io.popen(command))
  local output = pipe:read("*a")
  pipe:close()
  return output
end

local function write(path, text)
  local file = assert(io.open(path, "w"))
  file:write(text)
  file:close()
end

local function read(path)
  local file = io.open(path)
  if not file then return "" end
  local text = file:read("*a")
  file:close()
  return text
end

-- Polls `ready` every 20 ms for up to 30 s (a deadline, not a pause).
local function wait_until(what, ready)
  for _ = 1, 1500 do
    if ready() then return end
    sh("sleep 0.02")
  end
  error("waited 30 s for " .. what)
end

describe("a resume under " .. interpreter, function()
  it("re-runs only the edited module and leaves no process behind", function()
    local dir = sh("mktemp -d"):gsub("%s+$", "")
    write(dir .. "/main.lua", 'print("startup")\nrequire "m"\nprint("done")\n')
    write(dir .. "/m.lua", 'print("m=1")\n')
    local pid = sh(string.format(
      "cd %q && env -u FORKMON_FILTER LUA_CPATH=%q NO_COLOR=1 setsid %s -l forkmon main.lua > out.txt 2>&1 < /dev/null & echo $!",
      dir, cpath, interpreter)):gsub("%s+$", "")
    local out = dir .. "/out.txt"
    wait_until("the first run", function() return read(out):find("waiting for a change", 1, true) end)

    write(dir .. "/m.tmp", 'print("m=2")\n')
    assert(os.rename(dir .. "/m.tmp", dir .. "/m.lua"))
    wait_until("the resume", function() return read(out):find("m=2\ndone", 1, true) end)
    local _, startups = read(out):gsub("startup", "")
    assert.are.equal(1, startups)

    sh("kill -INT -" .. pid) -- dash: no "--"
    local function left()
      return sh("ps -o stat= -s " .. pid .. " | grep -v '^Z' | wc -l"):gsub("%s+", "")
    end
    local ok = pcall(wait_until, "every process to end", function() return left() == "0" end)
    assert(ok, "left running:\n" .. sh("ps -o pid,ppid,stat,comm,args -s " .. pid))
    sh("rm -rf " .. dir)
  end)
end)
