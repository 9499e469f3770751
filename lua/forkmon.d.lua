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
---@---@class forkmon.each_options
---@field timeout? number        seconds a task's run (a round's, with `together`) may take; then it is killed ("timed out")
---@field together? boolean     run a round's tasks in one process: `run(list, start, fail)`; `start(task)` says whose reads follow, `fail(task)` that it failed
---@field label? string         what a task is called in forkmon's lines (default "task")
---@field after_round? fun(results: forkmon.task_result[])  called in the caller's process after each round

---@class forkmon.task_result
---@field task string
---@field status "ok"|"failed"|"crashed"|"timed out"
---@field code? integer         the exit status of a failed run
---@field reads string[]        the watched files the task's process opened (absolute, sorted)

---Runs `run(task)` for each task, one at a time, each in a process forked
---from here, and records which watched files each one opened. `run` fails
---by raising an error or returning false (a number is the exit status).
---Then waits for changes: a change of a file some tasks read runs exactly
---those tasks again, each in a fresh fork of this same point; `tasks` given
---as a function is listed again after each change (new tasks run, tasks no
---longer listed are dropped). A change of a file read before the call
---resumes from its checkpoint as usual. Never returns while forkmon is on
---(Ctrl+C ends it); when forkmon is off, runs the tasks once and returns
---their results.
---@param tasks string[]|fun(): string[]
---@param run fun(task: string): boolean|integer|nil | fun(tasks: string[], start: fun(task: string), fail: fun(task: string)): boolean|integer|nil
---@param options? forkmon.each_options
---@return forkmon.task_result[]
function forkmon.each(tasks, run, options) end

return forkmon.options
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

---@class forkmon.each_options
---@field timeout? number        seconds a task's run (a round's, with `together`) may take; then it is killed ("timed out")
---@field together? boolean     run a round's tasks in one process: `run(list, start, fail)`; `start(task)` says whose reads follow, `fail(task)` that it failed
---@field label? string         what a task is called in forkmon's lines (default "task")
---@field after_round? fun(results: forkmon.task_result[])  called in the caller's process after each round

---@class forkmon.task_result
---@field task string
---@field status "ok"|"failed"|"crashed"|"timed out"
---@field code? integer         the exit status of a failed run
---@field reads string[]        the watched files the task's process opened (absolute, sorted)

---Runs `run(task)` for each task, one at a time, each in a process forked
---from here, and records which watched files each one opened. `run` fails
---by raising an error or returning false (a number is the exit status).
---Then waits for changes: a change of a file some tasks read runs exactly
---those tasks again, each in a fresh fork of this same point; `tasks` given
---as a function is listed again after each change (new tasks run, tasks no
---longer listed are dropped). A change of a file read before the call
---resumes from its checkpoint as usual. Never returns while forkmon is on
---(Ctrl+C ends it); when forkmon is off, runs the tasks once and returns
---their results.
---@param tasks string[]|fun(): string[]
---@param run fun(task: string): boolean|integer|nil | fun(tasks: string[], start: fun(task: string), fail: fun(task: string)): boolean|integer|nil
---@param options? forkmon.each_options
---@return forkmon.task_result[]
function forkmon.each(tasks, run, options) end

return forkmon
