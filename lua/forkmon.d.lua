---@meta forkmon
-- LuaLS annotations for `require "forkmon"` (not loaded at run time).

---@class forkmon.options
---@field filter string          `;`-separated Lua patterns matched against absolute paths
---@field quiet boolean          print nothing
---@field colors boolean         ANSI colours on stderr
---@field restart_delay integer  ms of quiet after a save before resuming
---@field ignore_delay integer   ms after a resume during which changes are ignored
---@field min_work integer       least ms of work between two checkpoints

---@class forkmon
---@field version string
local forkmon = {}

---How many times this run was resumed (0 on the first run).
---@return integer
function forkmon.resumes() end

---The options in force.
---@return forkmon.options
function forkmon.options() end

---Changes options (all checked first; delays only before the first checkpoint).
---@param options forkmon.options|{filter?: string, quiet?: boolean, colors?: boolean, restart_delay?: integer, ignore_delay?: integer, min_work?: integer}
---@return true
function forkmon.configure(options) end

---Makes a checkpoint here; a change of any of the files resumes from here.
---@param path string
---@param ... string
---@return boolean newly_tied
function forkmon.checkpoint(path, ...) end

---Ties a file to the latest checkpoint of this run (makes one here if none).
---@param path string
---@return boolean newly_tied
function forkmon.watch(path) end

return forkmon
