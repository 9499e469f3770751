-- forkmon.each in child interpreters of the Lua version under test
-- (FORKMON_SPEC_LUA, set by `make spec`): each scenario writes a small
-- project, starts `lua main.lua` in a session of its own, edits files the
-- way editors do, reads what the tasks printed, and ends with Ctrl+C
-- (SIGINT to the process group), after which no process may be left.
local interpreter = os.getenv("FORKMON_SPEC_LUA") or "lua5.4"
local cpath = os.getenv("FORKMON_SPEC_CPATH") or package.cpath

local function sh(command)
  local pipe = assert(io.popen(command))
  local output = pipe:read("*a")
  pipe:close()
  return output
end

local function write(path, text)
  local file = assert(io.open(path .. ".tmp", "w"))
  file:write(text)
  file:close()
  assert(os.rename(path .. ".tmp", path)) -- a rename over the file, as vim
end

local function read(path)
  local file = io.open(path)
  if not file then return "" end
  local text = file:read("*a")
  file:close()
  return text
end

local function count(text, plain)
  local n, at = 0, 1
  while true do
    local found = text:find(plain, at, true)
    if not found then return n end
    n, at = n + 1, found + #plain
  end
end

-- Polls `ready` every 20 ms for up to 30 s (a deadline, not a pause).
local function wait_until(what, ready, out)
  for _ = 1, 1500 do
    if ready() then return end
    sh("sleep 0.02")
  end
  error("waited 30 s for " .. what .. "; output:\n" .. read(out))
end

-- A project from `files` (name -> text), run as `lua main.lua`.
local function start(files)
  local dir = sh("mktemp -d"):gsub("%s+$", "")
  sh("mkdir " .. dir .. "/tasks")
  for name, text in pairs(files) do write(dir .. "/" .. name, text) end
  local pid = sh(string.format(
    "cd %q && FORKMON_FILTER='%%.lua$;%%.txt$' LUA_CPATH=%q NO_COLOR=1 setsid %s main.lua > out.txt 2>&1 < /dev/null & echo $!",
    dir, cpath, interpreter)):gsub("%s+$", "")
  local run = { dir = dir, pid = pid, out = dir .. "/out.txt" }
  -- Ended even when the test fails half-way.
  finally(function() sh("kill -KILL -" .. pid .. " 2>/dev/null") end)
  -- The watcher's "watch" lines come when they come: left out.
  function run.output() return (read(run.out):gsub("%[forkmon%] watch [^\n]*\n", "")) end
  function run.wait_for(text, times)
    wait_until(string.format("%q x%d", text, times or 1), function()
      return count(run.output(), text) >= (times or 1)
    end, run.out)
  end
  function run.stop()
    sh("kill -INT -" .. pid)
    local function left()
      return sh("ps -o stat= -s " .. pid .. " | grep -v '^Z' | wc -l"):gsub("%s+", "")
    end
    local ok = pcall(wait_until, "every process to end", function() return left() == "0" end, run.out)
    assert(ok, "left running:\n" .. sh("ps -o pid,ppid,stat,comm,args -s " .. pid))
    sh("rm -rf " .. dir)
  end
  return run
end

-- A runner over the *.lua files in tasks/ (listed again after each change):
-- each task is a chunk run by dofile; it prints what it returned.
local MAIN = [[
local forkmon = require "forkmon"
local warm = require "warm"
print("warm " .. warm)
local function list()
  local tasks = {}
  local ls = io.popen("ls tasks")
  for name in ls:lines() do
    if name:match("%.lua$") then tasks[#tasks + 1] = "tasks/" .. name end
  end
  ls:close()
  return tasks
end
forkmon.each(list, function(task)
  local result = dofile(task)
  print(task .. " says " .. tostring(result) .. " in " .. tostring(require("unistd_pid")))
  return result ~= "fail"
end, { timeout = %%s, after_round = function(results)
  for _, r in ipairs(results) do
    print("result " .. r.task .. " " .. r.status .. " read " .. table.concat(r.reads, ","):gsub("[^,]*/", ""))
  end
end })
]]

local function project(extra, timeout)
  local files = {
    ["main.lua"] = (MAIN:gsub("%%%%s", timeout or "nil")),
    ["warm.lua"] = 'return "w1"\n',
    ["unistd_pid.lua"] = 'return io.open("/proc/self/stat"):read("*l"):match("^%d+")\n',
  }
  for name, text in pairs(extra) do files[name] = text end
  return files
end

describe("forkmon.each under " .. interpreter, function()
  it("runs each task in a process of its own and says each result", function()
    sh("true")
    local run = start(project({
      ["tasks/a.lua"] = 'return "a1"\n',
      ["tasks/b.lua"] = 'return require("m")\n',
      ["m.lua"] = 'return "fail"\n',
      ["tasks/c.lua"] = 'return io.open("data.txt"):read("*l")\n',
      ["data.txt"] = "d1\n",
    }))
    run.wait_for("waiting for a change")
    local out = run.output()
    assert.matches("tasks/a.lua says a1 in %d+\ntasks/b.lua says fail in %d+\ntasks/c.lua says d1 in %d+\n", out)
    local pids = {}
    for pid in out:gmatch("says %w+ in (%d+)") do pids[pid] = true end
    assert.are.equal(3, #(function() local t = {} for p in pairs(pids) do t[#t + 1] = p end return t end)())
    assert.matches("result tasks/a.lua ok read a.lua,unistd_pid.lua", out, 1, true)
    assert.matches("result tasks/b.lua failed read m.lua,b.lua,unistd_pid.lua", out, 1, true)
    assert.matches("result tasks/c.lua ok read data.txt,c.lua,unistd_pid.lua", out, 1, true)
    assert.matches("3 of 3 tasks ran: 2 ok, 1 failed ('tasks/b.lua'); waiting for a change", out, 1, true)
    run.stop()
  end)

  it("re-runs exactly the tasks that read a changed file, new ones, and drops deleted ones", function()
    local run = start(project({
      ["tasks/a.lua"] = 'return "a1"\n',
      ["tasks/b.lua"] = 'return require("m")\n',
      ["tasks/c.lua"] = 'return require("m") .. io.open("data.txt"):read("*l")\n',
      ["m.lua"] = 'return "m1"\n',
      ["data.txt"] = "d1\n",
    }))
    run.wait_for("waiting for a change")
    write(run.dir .. "/m.lua", 'return "m2"\n')
    run.wait_for("waiting for a change", 2)
    local out = run.output()
    assert.matches("running 2 of 3 tasks: 'tasks/b.lua' (read 'm.lua'), 'tasks/c.lua' (read 'm.lua')", out, 1, true)
    assert.matches("tasks/b.lua says m2 in %d+\ntasks/c.lua says m2d1 in %d+\n", out)
    assert.are.equal(1, count(out, "tasks/a.lua says"))
    assert.are.equal(1, count(out, "warm w1"))

    write(run.dir .. "/data.txt", "d2\n")
    run.wait_for("tasks/c.lua says m2d2")
    run.wait_for("waiting for a change", 3)
    assert.are.equal(2, count(run.output(), "tasks/b.lua says"))

    write(run.dir .. "/tasks/d.lua", 'return "d"\n')
    run.wait_for("tasks/d.lua says d")
    assert.matches("'tasks/d.lua' (new)", run.output(), 1, true)
    run.wait_for("waiting for a change", 4)

    os.remove(run.dir .. "/tasks/a.lua")
    run.wait_for("task 'tasks/a.lua' is gone: dropped")
    run.wait_for("of 3 tasks ran")
    assert.are.equal(1, count(run.output(), "tasks/a.lua says"))
    run.stop()
  end)

  it("resumes from its checkpoint when a file read before the call changes", function()
    local run = start(project({
      ["tasks/a.lua"] = 'return "a1"\n',
      ["tasks/b.lua"] = 'return "b1"\n',
    }))
    run.wait_for("waiting for a change")
    write(run.dir .. "/warm.lua", 'return "w2"\n')
    run.wait_for("warm w2")
    run.wait_for("waiting for a change", 2)
    local out = run.output()
    assert.matches("/warm.lua' changed, resuming", out, 1, true)
    assert.are.equal(2, count(out, "tasks/a.lua says a1"))
    assert.are.equal(2, count(out, "tasks/b.lua says b1"))
    run.stop()
  end)

  it("goes on after a task that crashes or exits early", function()
    local run = start(project({
      ["tasks/a.lua"] = 'os.execute("kill -SEGV " .. require("unistd_pid"))\nreturn "not here"\n',
      ["tasks/b.lua"] = 'os.exit(3)\n',
      ["tasks/c.lua"] = 'return "c1"\n',
    }))
    run.wait_for("waiting for a change")
    local out = run.output()
    assert.matches("task 'tasks/a.lua' crashed (SIGSEGV)", out, 1, true)
    assert.matches("task 'tasks/b.lua' exited with status 3 before it finished: crashed", out, 1, true)
    assert.matches("tasks/c.lua says c1", out, 1, true)
    assert.matches("1 ok, 2 crashed ('tasks/a.lua', 'tasks/b.lua')", out, 1, true)
    write(run.dir .. "/tasks/b.lua", 'return "b2"\n')
    run.wait_for("tasks/b.lua says b2")
    run.stop()
  end)

  it("kills a task that runs past its timeout, says so once, and goes on", function()
    local run = start(project({
      ["tasks/a.lua"] = 'os.execute("sleep 1000")\n',
      ["tasks/b.lua"] = 'return "b1"\n',
    }, "0.5"))
    run.wait_for("waiting for a change")
    local out = run.output()
    assert.are.equal(1, count(out, "timed out after"))
    assert.matches("task 'tasks/a.lua' timed out after 0.5 s: killed", out, 1, true)
    assert.matches("tasks/b.lua says b1", out, 1, true)
    -- Its subprocess (the sleep) was killed with it.
    assert.are.equal("", (sh("ps -o args= -s " .. run.pid .. " | grep 'sleep 1000' | grep -v grep")))
    run.stop()
  end)

  it("runs the tasks once and returns their results with forkmon off", function()
    -- An option forkmon cannot apply turns it off: the tasks still tell
    -- their runner how they ended.
    local script = [=[
      local forkmon = require "forkmon"
      local results = forkmon.each({ "x", "y" }, function(task) return task == "x" end)
      for _, r in ipairs(results) do print(r.task .. " " .. r.status) end
    ]=]
    local out = sh(string.format("FORKMON_FILTER='[a' LUA_CPATH=%q %s -e %q 2>&1", cpath, interpreter, script))
    assert.matches("forkmon is off and the program runs unwatched", out, 1, true)
    assert.matches("x ok\ny failed\n", out)
    assert.is_nil(out:find("crashed", 1, true), out)
  end)

  it("needs a list of tasks and a function", function()
    -- (In a child interpreter: this busted process has its own forkmon.)
    local script = [=[
      local forkmon = require "forkmon"
      for _, call in ipairs {
        function() forkmon.each(42, print) end,
        function() forkmon.each({ "a", 2 }, print) end,
        function() forkmon.each({ "a" }, "run") end,
        function() forkmon.each({ "a" }, print, { timeout = -1 }) end,
        function() forkmon.each({ "a" }, print, { timeout = math.tointeger and math.tointeger(2^62) or 2^62 }) end,
        function() forkmon.each({ "a" }, print, { timeout = 1e308 }) end,
        function() forkmon.each({ "a" }, print, { retries = 1 }) end,
        function() forkmon.each(function() error("no list", 0) end, print) end,
      } do print(select(2, pcall(call))) end
    ]=]
    local out = sh(string.format("LUA_CPATH=%q %s -e %q 2>&1", cpath, interpreter, script))
      :gsub("%(command line%):%d+: ", "")
    local out, said = out:gsub("%[forkmon%] no opened file matched FORKMON_FILTER='%^%$'; nothing was watched\n", "")
    assert.are.equal(table.concat({
      "forkmon.each: argument 1 (tasks) must be a list of strings or a function that returns one, not number",
      "forkmon.each: task 2 must be a string, not number",
      "forkmon.each: argument 2 (run) must be a function, not string",
      "forkmon.each: timeout must be a number of seconds above 0 and at most 1e9, not -1",
      -- (Lua 5.1 and 5.2 have no integers, but the module takes a whole
      -- number as one.)
      "forkmon.each: timeout must be a number of seconds above 0 and at most 1e9, not 4611686018427387904",
      "forkmon.each: timeout must be a number of seconds above 0 and at most 1e9, not 1e308",
      "forkmon.each: unknown option 'retries' (options: timeout, together, label, after_round, folders)",
      "forkmon.each: the task list function failed: no list",
      "" }, "\n"), out)
    -- No task ran, and the filter ('^$' here) matched nothing: said once,
    -- on stderr (before or after the script's output, as stdio flushes).
    assert.are.equal(1, said)
  end)
end)
