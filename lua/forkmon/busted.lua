-- forkmon's busted integration (`require "forkmon.busted"`, built into
-- forkmon.so). Loaded before busted's runner reads its test files, either as
-- `lua -l forkmon.busted /usr/bin/busted ...` (what `forkmon busted` runs)
-- or as `busted --helper=forkmon.busted`. It replaces two of busted's
-- modules before the runner asks for them:
-- - the test file loader only lists the spec files: reading them in the
--   runner would tie them to a checkpoint there, and a save would run all;
-- - `execute` hands the run to forkmon.each: each round (the whole suite
--   first, then the spec files a save affects) is a process forked from the
--   runner, where busted, the output handler, the helper and the filters
--   are loaded already. That process loads the round's spec files, runs
--   them with busted's own execute, and ends as busted's runner would.
-- After the first round, the Lua modules every spec file loaded are loaded
-- in the runner too: later rounds find them loaded (a change of one of them
-- resumes from its checkpoint and runs every spec file, as all read it).
local forkmon = require "forkmon"

local load_files = require "busted.modules.test_file_loader"
local execute = require "busted.execute"

-- What the runner gave the test file loader, once it calls it.
local session = {}

-- Seconds a round may run before it is killed (FORKMON_BUSTED_TIMEOUT).
local function timeout()
  local given = os.getenv("FORKMON_BUSTED_TIMEOUT")
  if given == nil or given == "" then return 60 end
  local seconds = tonumber(given)
  -- At most forkmon.each's limit (1e9 s): a longer one is no deadline.
  if not seconds or not (seconds > 0 and seconds <= 1e9) then
    io.stderr:write(("[forkmon] FORKMON_BUSTED_TIMEOUT='%s' is not a number of seconds above 0 and at most 1e9: using 60\n"):format(given))
    return 60
  end
  return seconds
end

package.loaded["busted.modules.test_file_loader"] = function(busted, loaders)
  local load_all, load_one, list_files = load_files(busted, loaders)
  local function list_spec_files(rootFiles, patterns, options)
    session.busted, session.load_one = busted, load_one
    session.list = function()
      -- busted reports a missing root as an error: said once, in the
      -- first round (listing again in the runner must not add it again).
      local publish = busted.publish
      busted.publish = function() end
      local ok, files = pcall(list_files, rootFiles, patterns, options)
      busted.publish = publish
      return ok and files or {}
    end
    -- A root that is not there yet (a new project's spec/) is looked for
    -- through forkmon's io.open: its coming resumes from here, and busted
    -- lists it then.
    local path = require("pl.path")
    local roots = type(rootFiles) == "table" and rootFiles or { rootFiles }
    local folders = {}
    for _, root in ipairs(roots) do
      if type(root) == "string" and not path.exists(root) then
        local probe = io.open(root)
        if probe then probe:close() end
      elseif type(root) == "string" and path.isdir(root) then
        folders[#folders + 1] = root
      end
    end
    -- The first listing as busted makes it, errors and all.
    local files = list_files(rootFiles, patterns, options)
    -- A new file there may be a new spec file, also once the folder is
    -- removed and made again (rm -rf spec; git checkout spec).
    session.folders = folders
    if #files == 0 and #folders > 0 and #folders == #roots then
      -- Folders with no spec file yet: the runner waits for one there.
      io.stderr:write(("[forkmon] no spec files in '%s' yet: waiting for one\n"):format(table.concat(folders, "', '")))
      return files
    end
    if #files == 0 then
      session.list = nil
      return load_all(rootFiles, patterns, options)
    end
    return files
  end
  return list_spec_files, load_one, list_files
end

-- The spec files of a round, loaded into busted's root context as its test
-- file loader would (in the round's process).
local function load_round(busted, files, start)
  for _, name in ipairs(files) do
    start(name)
    local test_file, get_trace, rewrite_message = session.load_one(busted, name)
    if test_file then
      local file = setmetatable({ getTrace = get_trace, rewriteMessage = rewrite_message },
        { __call = test_file })
      busted.executors.file(name, file)
    end
  end
end

-- `./src/?.lua` and the like as absolute patterns: the module name of an
-- absolute path, if package.path finds it there.
local function module_name(path, directory)
  for template in package.path:gmatch("[^;]+") do
    if template:sub(1, 2) == "./" then
      template = directory .. template:sub(2)
    elseif template:sub(1, 1) ~= "/" then
      template = directory .. "/" .. template
    end
    local before, after = template:match("^(.-)%?(.*)$")
    if before and #path > #before + #after and path:sub(1, #before) == before
      and (after == "" or path:sub(-#after) == after) then
      local name = path:sub(#before + 1, #path - #after)
      if not name:find("%.") then return (name:gsub("/", ".")) end
    end
  end
end

-- After the first round: the modules every spec file loaded (the module
-- under test, shared helpers) are loaded here, in the runner.
local warmed = false
local function warm(results)
  if warmed then return end
  warmed = true
  local common, specs = nil, {}
  for _, result in ipairs(results) do
    specs[result.task] = true
    if result.status == "ok" or result.status == "failed" then
      local reads = {}
      for _, path in ipairs(result.reads) do reads[path] = true end
      if common == nil then
        common = reads
      else
        for path in pairs(common) do
          if not reads[path] then common[path] = nil end
        end
      end
    end
  end
  local directory = require("pl.path").currentdir()
  local paths = {}
  for path in pairs(common or {}) do paths[#paths + 1] = path end
  table.sort(paths)
  for _, path in ipairs(paths) do
    local relative = path:sub(1, #directory + 1) == directory .. "/" and path:sub(#directory + 2)
    local name = not specs[path] and not specs[relative] and module_name(path, directory)
    if name and package.loaded[name] == nil then
      pcall(require, name)
    end
  end
end

package.loaded["busted.execute"] = function(busted)
  local run_suite = execute(busted)
  return function(runs, options)
    if not session.list then return run_suite(runs, options) end
    local results = forkmon.each(session.list, function(files, start, fail)
      -- Counted as busted's runner counts, for its exit status; and told
      -- per spec file.
      local failed, current = 0, nil
      local function count()
        failed = failed + 1
        if current then fail(current) end
        return nil, true
      end
      busted.subscribe({ "error" }, count)
      busted.subscribe({ "failure" }, count)
      busted.subscribe({ "file", "start" }, function(file)
        current = file.name
        start(file.name)
        return nil, true
      end)
      busted.subscribe({ "file", "end" }, function()
        current = nil
        return nil, true
      end)
      load_round(busted, files, start)
      run_suite(runs, options)
      busted.publish({ "exit" })
      io.stdout:flush()
      return failed > 0 and 1 or 0
    end, { together = true, label = "spec file", timeout = timeout(), after_round = warm,
           folders = session.folders })
    -- Only with forkmon off: the suite ran once, in its process.
    for _, result in ipairs(results) do
      if result.status ~= "ok" then os.exit(1, true) end
    end
    os.exit(0, true)
  end
end

return true
