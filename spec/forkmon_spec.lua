-- The Lua side of forkmon, in one interpreter (run by `make spec` with
-- FORKMON_FILTER='^$', so that busted's own files make no checkpoints).
-- What needs processes (resumes, checkpoints) is tested in tests/lua_module.rs.
local forkmon = require "forkmon"

describe("forkmon", function()
  it("has a version", function()
    assert.matches("^%d+%.%d+%.%d+", forkmon.version)
  end)

  it("counts no resume on the first run", function()
    assert.are.equal(0, forkmon.resumes())
  end)

  it("shows the options from the environment", function()
    local options = forkmon.options()
    assert.are.equal("^$", options.filter)
    assert.are.equal(false, options.quiet)
    assert.are.equal(4, options.restart_delay)
    assert.are.equal(0, options.ignore_delay)
    assert.are.equal(5, options.min_work)
  end)

  describe("configure", function()
    local saved
    before_each(function() saved = forkmon.options() end)
    after_each(function()
      forkmon.configure{ filter = saved.filter, quiet = saved.quiet, colors = saved.colors }
    end)

    it("changes options, checked like the environment's", function()
      assert.is_true(forkmon.configure{ filter = "%.json$;%.lua$", quiet = true, restart_delay = 25, min_work = 0 })
      local options = forkmon.options()
      assert.are.equal("%.json$;%.lua$", options.filter)
      assert.is_true(options.quiet)
      assert.are.equal(25, options.restart_delay)
      assert.are.equal(0, options.min_work)
      forkmon.configure{ restart_delay = 4, min_work = 5 }
    end)

    it("rejects a malformed pattern with Lua's reason", function()
      assert.has_error(function() forkmon.configure{ filter = "[a" } end,
        "forkmon.configure: filter: malformed pattern (missing ']') in pattern '[a'")
      assert.has_error(function() forkmon.configure{ filter = ";;" } end,
        "forkmon.configure: filter=';;' has no pattern: give at least one, for example '%.lua$'")
    end)

    it("rejects bad delays and names the value", function()
      assert.has_error(function() forkmon.configure{ restart_delay = -5 } end,
        "forkmon.configure: restart_delay='-5' is negative: a delay is 0 or more milliseconds")
      assert.has_error(function() forkmon.configure{ ignore_delay = 1.5 } end,
        "forkmon.configure: ignore_delay='1.5' is not a whole number of milliseconds")
      assert.has_error(function() forkmon.configure{ restart_delay = "soon" } end,
        "forkmon.configure: restart_delay='soon' is not a whole number of milliseconds")
      assert.has_error(function() forkmon.configure{ restart_delay = {} } end,
        "forkmon.configure: restart_delay must be a number of milliseconds, not table")
    end)

    it("rejects unknown options, wrong types and a non-table", function()
      assert.has_error(function() forkmon.configure{ filtre = "x" } end,
        "forkmon.configure: unknown option 'filtre' (options: filter, quiet, colors, restart_delay, ignore_delay, min_work)")
      assert.has_error(function() forkmon.configure{ quiet = "yes" } end,
        "forkmon.configure: quiet must be true or false, not string")
      assert.has_error(function() forkmon.configure("quiet") end,
        "forkmon.configure: expects a table of options (filter, quiet, colors, restart_delay, ignore_delay, min_work), not string")
    end)

    it("changes nothing when one option is bad", function()
      assert.has_error(function() forkmon.configure{ quiet = true, restart_delay = "x" } end)
      assert.is_false(forkmon.options().quiet)
    end)
  end)

  describe("checkpoint and watch", function()
    it("need the path of an existing file", function()
      assert.has_error(function() forkmon.watch(42) end,
        "forkmon.watch: argument 1 must be a path (a string), not number")
      assert.has_error(function() forkmon.watch("/no/such/file.json") end,
        "forkmon.watch: '/no/such/file.json' is not an existing file")
      assert.has_error(function() forkmon.checkpoint() end,
        "forkmon.checkpoint: expects the path of a file whose change resumes from here")
      assert.has_error(function() forkmon.checkpoint("/") end,
        "forkmon.checkpoint: '/' is not a regular file")
      assert.has_error(function() forkmon.watch("/dev/null") end,
        "forkmon.watch: '/dev/null' is not a regular file")
      -- A file there changes without a write, and a resume would come
      -- by itself.
      assert.has_error(function() forkmon.watch("/proc/self/status") end,
        "forkmon.watch: '/proc/self/status' is in /proc, /sys or /dev, whose files change without a write: not watched")
      -- Or through a link to one.
      local link = os.tmpname()
      os.remove(link)
      assert(os.execute("ln -s /proc/self/status " .. link))
      local ok, message = pcall(forkmon.watch, link)
      os.remove(link)
      assert.is_false(ok)
      assert.matches("is in /proc, /sys or /dev", message)
      assert.has_error(function() forkmon.watch("a\0b") end,
        "forkmon.watch: 'a\\u{0}b' has a NUL byte in it")
      assert.has_error(function() forkmon.watch(string.rep("x", 300)) end,
        "forkmon.watch: '" .. string.rep("x", 200) .. "... (300 bytes)' is not an existing file")
      assert.has_error(function() forkmon.watch("spec/forkmon_spec.lua", "other") end,
        "forkmon.watch: takes one path, not 2 (checkpoint takes several)")
    end)
  end)

  describe("hooks", function()
    it("put a searcher in front of the Lua-file searcher", function()
      local searchers = package.searchers or package.loaders
      assert.are.equal(5, #searchers)
    end)

    it("keep the results and errors of the functions they wrap", function()
      local file, message = io.open("/no/such/file")
      assert.is_nil(file)
      assert.matches("No such file or directory", message)
      local chunk, reason = loadfile("/no/such/file.lua")
      assert.is_nil(chunk)
      assert.matches("cannot open", reason)
      assert.has_error(function() dofile("/no/such/file.lua") end)
      local ok, missing = pcall(require, "no.such.module")
      assert.is_false(ok)
      assert.matches("module 'no.such.module' not found", missing)
      assert.are.equal(string, require "string")
    end)

    it("raise io.open's and io.lines' errors at the caller's line, under their names", function()
      -- (Not tail calls: those leave no caller line to name.)
      local calls = { function() local lines = io.lines("/no/such/file"); return lines end }
      -- Lua 5.1 and LuaJIT return nil for a bad mode instead of raising.
      local bad_mode_raises = _VERSION ~= "Lua 5.1"
      if bad_mode_raises then
        calls[2] = function() local file = io.open("/tmp", "bad mode"); return file end
      end
      for _, call in ipairs(calls) do
        local ok, message = pcall(call)
        assert.is_false(ok)
        assert.matches("forkmon_spec.lua:%d+: ", message)
        assert.is_nil(message:find("forkmon:", 1, true))
        assert.is_nil(message:find("plain_", 1, true))
      end
      if bad_mode_raises then
        local _, message = pcall(function() local file = io.open("/tmp", "bad mode"); return file end)
        assert.matches("bad argument #2 to 'open'", message)
      end
    end)

    it("raise dofile's and loadfile's argument errors as Lua does", function()
      for name, call in pairs {
        dofile = function() local result = dofile({}); return result end,
        loadfile = function() local chunk = loadfile({}); return chunk end,
      } do
        local ok, message = pcall(call)
        assert.is_false(ok)
        assert.matches("^spec/forkmon_spec.lua:%d+: bad argument #1 to '" .. name
          .. "' %(string expected, got table%)$", message)
      end
      local _, message = pcall(function() local chunk = loadfile("x.lua", "t", nil); return chunk end)
      assert.is_nil(message)
      -- Lua 5.1's loadfile ignores a second argument.
      if _VERSION == "Lua 5.1" and not jit then
        assert.is_true((pcall(loadfile, "x.lua", {})))
      end
    end)

    it("hand through what a chunk returns", function()
      local path = os.tmpname()
      local out = assert(io.open(path, "w"))
      out:write("return 1, 2, ...")
      out:close()
      assert.are.same({ 1, 2, "x" }, { assert(loadfile(path))("x") })
      assert.are.same({ 1, 2 }, { dofile(path) })
      local lines = {}
      for line in io.lines(path) do lines[#lines + 1] = line end
      assert.are.same({ "return 1, 2, ..." }, lines)
      os.remove(path)
    end)
  end)
end)
