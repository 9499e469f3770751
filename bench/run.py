#!/usr/bin/env python3
"""Benchmark of forkmon against a full restart.

Run from the repository (after `make`):

    python3 bench/run.py                      # library: target/release/forkmon.so
    python3 bench/run.py --lib /path/forkmon.so --edits 30 --startup-runs 9

The library path can also come from FORKMON_BENCH_LIB. Needs lua5.4; entr is
used for one baseline when it is installed. Standard library only.

What it measures (details in bench/README.md):

1. Edit-to-output latency. A Lua app does 500 ms of work, requires a watched
   `value.lua` that prints a value, then 2 s more work and prints "ready".
   Each edit of value.lua (cycling four editor save styles) is timed from
   just before the write until the new value is on the program's stdout:
   under forkmon (preload and Lua-module ways in), and for a full restart
   (a fresh `lua5.4 main.lua` per edit, and `entr -r` if installed).
   Every forkmon edit must give exactly one "changed, resuming" line.
2. Start-up overhead: requiring 1000 small watched modules, plain vs forkmon.
3. Memory: PSS sum of the tree with a 200 MB Lua table made before 200
   watched modules, plain vs forkmon.
4. Unwatched opens: a C program (compiled with gcc here) opens and closes
   100,000 files that the filter does not match, plain vs preloaded: the
   cost of the hooks on every other open (target: at most 1.05x).
5. Scale: an app of 10,000 watched modules; edits of the first, middle and
   last module in turn, timed from the save to the module's new output,
   split into the start-up re-run from the checkpoint (the resumed process's
   own CPU time, which starts at the fork) and the rest, the resume itself
   (target: at most 20 ms); against a full restart of the same app. Also the
   time from the save to the re-run's end against a plain run's.
6. Heap: lua5.4 under the preload does 100 ms of work, builds a Lua heap of
   N MB (--heap-mb 1024,4096), then requires a watched module that prints
   a value; edits of it are timed from the save to the new value (p50,
   p90, split at the resume line), against a full restart; the tree's PSS
   against the plain process's.
7. Collector: a Lua app with a heap of 200,000 small tables (20 MB) that
   every full collection marks, then 30 watched modules read 5 ms of work
   and a full collection apart: the first run and the re-run after an edit
   of the first module (save to the re-run's end) against a plain run, and
   how many checkpoints the run made. After a checkpoint the collector
   copies most of the heap again, page by page: the cost forkmon weighs.

For each scenario it counts the processes of the tree (found by a marker in
/proc/*/environ), ends the tree with SIGINT to its process group and checks
that nothing is left.
"""

import argparse
import datetime
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

MARKER_VAR = "FORKMON_BENCH_MARKER"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EDIT_STYLES = ("in place", "rename over", "vim backup", "delete+recreate")
RESUME_TEXT = "changed, resuming"
# Options given to every forkmon run (--min-work sets FORKMON_MIN_WORK).
FORKMON_ENV = {}

# ---------------------------------------------------------------- processes


class Timeout(Exception):
    pass


class Run:
    """A process tree started in a session of its own, with its stdout and
    stderr read line by line by two threads that timestamp each line."""

    def __init__(self, argv, cwd, extra_env=None, stdin=subprocess.DEVNULL):
        self.marker = uuid.uuid4().hex
        env = clean_env()
        env.update(extra_env or {})
        env[MARKER_VAR] = self.marker
        self.lines = []  # (monotonic time, "out" or "err", text)
        self.cond = threading.Condition()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, cwd=cwd, env=env, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True)
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, "out"), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, "err"), daemon=True),
        ]
        for reader in self.readers:
            reader.start()

    def _read(self, pipe, stream):
        for raw in iter(pipe.readline, b""):
            now = time.monotonic()
            with self.cond:
                self.lines.append((now, stream, raw.decode(errors="replace").rstrip("\n")))
                self.cond.notify_all()
        pipe.close()

    def mark(self):
        """Index of the next line to come."""
        with self.cond:
            return len(self.lines)

    def wait_line(self, pred, start=0, timeout=15.0):
        """First line from index `start` with pred(stream, text) true:
        returns (index, time). Raises Timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            i = start
            while True:
                while i < len(self.lines):
                    t, stream, text = self.lines[i]
                    if pred(stream, text):
                        return i, t
                    i += 1
                left = deadline - time.monotonic()
                if left <= 0:
                    raise Timeout(f"no matching line in {timeout:.0f} s; output "
                                  "(last 20 lines):\n" + self.output(start, 20))
                self.cond.wait(left)

    def wait_out(self, text, start=0, timeout=15.0):
        return self.wait_line(lambda s, x: s == "out" and x == text, start, timeout)

    def count(self, pred, start=0, end=None):
        with self.cond:
            return sum(1 for _, s, x in self.lines[start:end] if pred(s, x))

    def output(self, start=0, last=None):
        lines = self.lines[start:]
        if last is not None:
            lines = lines[-last:]
        return "\n".join(f"  {s}: {x}" for _, s, x in lines)

    def processes(self):
        return tree_processes(self.marker)

    def end(self, timeout=10.0):
        """SIGINT to the process group, then wait until no process of the
        tree runs. Returns (seconds taken, processes left running)."""
        t0 = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
        except ProcessLookupError:
            pass
        deadline = t0 + timeout
        left = []
        while time.monotonic() < deadline:
            self.proc.poll()
            left = [p for p in self.processes() if p[1] != "Z"]
            if not left and self.proc.returncode is not None:
                break
            time.sleep(0.02)
        for reader in self.readers:
            reader.join(timeout=1.0)
        return time.monotonic() - t0, left


def clean_env():
    """The environment without anything that would change how Lua or
    forkmon behave, with colours off."""
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith("FORKMON_") or k.startswith("LUA_") or k == "LD_PRELOAD")}
    env["NO_COLOR"] = "1"
    return env


def tree_processes(marker):
    """[(pid, state, ppid)] of every process whose environment holds the
    marker. (A zombie's environment cannot be read, so zombies show up only
    while the kernel still has it.)"""
    needle = f"{MARKER_VAR}={marker}".encode()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle not in f.read().split(b"\0"):
                    continue
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        found.append((int(name), fields[0], int(fields[1])))
    return found


def describe(processes):
    live = sum(1 for p in processes if p[1] != "Z")
    zombies = len(processes) - live
    return f"{live}" + (f" (+{zombies} zombie)" if zombies else "")


def wait_gone(run, what, anomalies):
    """End the tree and note an anomaly if anything is left."""
    seconds, left = run.end()
    if left:
        anomalies.append(f"{what}: {len(left)} process(es) still running "
                         f"{seconds:.1f} s after SIGINT to the group: {left}")
    return seconds, left


# -------------------------------------------------------------- file edits


def write_file(path, text):
    with open(path, "w") as f:
        f.write(text)


def edit(path, text, style):
    """Save `text` to `path` the way an editor does."""
    if style == "in place":                       # shell `>`: truncate, write
        write_file(path, text)
    elif style == "rename over":                  # write a temp file, rename it
        tmp = path + ".tmp"
        write_file(tmp, text)
        os.rename(tmp, path)
    elif style == "vim backup":                   # vim: rename to backup, write, drop backup
        backup = path + "~"
        os.rename(path, backup)
        write_file(path, text)
        os.unlink(backup)
    elif style == "delete+recreate":
        os.unlink(path)
        write_file(path, text)
    else:
        raise ValueError(style)


# ------------------------------------------------------------- statistics


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def p90(xs):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    # nearest rank
    return xs[min(len(xs) - 1, max(0, -(-9 * len(xs) // 10) - 1))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


# ----------------------------------------------------- 1. edit-to-output

LATENCY_MAIN = """\
io.stdout:setvbuf("line")
local function busy(seconds)
  local t = os.clock()
  while os.clock() - t < seconds do end
end
busy(0.5)          -- start-up work before the watched module
require "value"
busy(2)            -- work after it
print("ready")
"""


def value_lua(token):
    return f'print("value {token}")\n'


def make_latency_app():
    d = tempfile.mkdtemp(prefix="forkmon-bench-latency-", dir="/tmp")
    write_file(os.path.join(d, "main.lua"), LATENCY_MAIN)
    write_file(os.path.join(d, "value.lua"), value_lua("0"))
    return d


def forkmon_command(way, lib, libdir):
    """argv and environment of `lua5.4 main.lua` under forkmon."""
    if way == "preload":
        return ["lua5.4", "main.lua"], {"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV}
    return ["lua5.4", "-l", "forkmon", "main.lua"], {"LUA_CPATH": f"{libdir}/?.so", **FORKMON_ENV}


def latency_forkmon(way, lib, libdir, edits, anomalies):
    """Edits of value.lua while the app runs under forkmon."""
    d = make_latency_app()
    value = os.path.join(d, "value.lua")
    argv, env = forkmon_command(way, lib, libdir)
    run = Run(argv, d, env)
    times, per_edit, first = [], [], float("nan")
    try:
        _, first = run.wait_out("value 0", timeout=30)
        run.wait_out("ready", timeout=30)
        marks = []
        for i in range(1, edits + 1):
            style = EDIT_STYLES[(i - 1) % len(EDIT_STYLES)]
            token = f"{i}-{uuid.uuid4().hex[:6]}"
            start = run.mark()
            marks.append((start, style, token))
            t0 = time.monotonic()
            edit(value, value_lua(token), style)
            idx, t1 = run.wait_out(f"value {token}", start)
            times.append(t1 - t0)
            run.wait_out("ready", idx, timeout=30)
        time.sleep(0.5)  # a late second resume would show up here
        ends = [m[0] for m in marks[1:]] + [None]
        for (start, style, token), end in zip(marks, ends):
            resumes = run.count(lambda s, x: s == "err" and RESUME_TEXT in x, start, end)
            values = run.count(lambda s, x: s == "out" and x.startswith("value "), start, end)
            per_edit.append((style, resumes, values))
            if resumes != 1 or values != 1:
                anomalies.append(
                    f"forkmon {way}: edit '{style}' (token {token}) gave {resumes} "
                    f"resume line(s) and {values} value line(s):\n{run.output(start)[:3000]}")
        processes = run.processes()
    except Timeout as e:
        anomalies.append(f"forkmon {way}: timed out: {e}")
        processes = run.processes()
    finally:
        seconds, left = wait_gone(run, f"forkmon {way} latency", anomalies)
        shutil.rmtree(d, ignore_errors=True)
    ok = sum(1 for _, r, v in per_edit if r == 1 and v == 1)
    return {"times": times, "processes": processes, "left": left,
            "resumes_ok": f"{ok}/{edits}", "first": first - run.started,
            "end_s": seconds}


def latency_plain(edits, anomalies):
    """A fresh `lua5.4 main.lua` per edit: time from the edit to the new
    value (the run is then ended; what follows it does not matter)."""
    d = make_latency_app()
    value = os.path.join(d, "value.lua")
    times, processes, left = [], [], []
    try:
        for i in range(1, edits + 1):
            style = EDIT_STYLES[(i - 1) % len(EDIT_STYLES)]
            token = f"{i}-{uuid.uuid4().hex[:6]}"
            t0 = time.monotonic()
            edit(value, value_lua(token), style)
            run = Run(["lua5.4", "main.lua"], d)
            try:
                _, t1 = run.wait_out(f"value {token}")
                times.append(t1 - t0)
                processes = run.processes()
            except Timeout as e:
                anomalies.append(f"plain restart: timed out: {e}")
            finally:
                _, left = wait_gone(run, "plain restart", anomalies)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return {"times": times, "processes": processes, "left": left}


def latency_entr(edits, anomalies):
    """`ls value.lua | entr -rn lua5.4 main.lua`: entr restarts the app on
    each save. The next edit comes once the new value is printed (entr -r
    kills the run still busy); after the last one the run goes to "ready"."""
    d = make_latency_app()
    value = os.path.join(d, "value.lua")
    run = Run(["entr", "-rn", "lua5.4", "main.lua"], d, stdin=subprocess.PIPE)
    run.proc.stdin.write(b"value.lua\n")
    run.proc.stdin.close()
    times, processes = [], []
    try:
        run.wait_out("value 0", timeout=30)
        for i in range(1, edits + 1):
            style = EDIT_STYLES[(i - 1) % len(EDIT_STYLES)]
            token = f"{i}-{uuid.uuid4().hex[:6]}"
            start = run.mark()
            t0 = time.monotonic()
            edit(value, value_lua(token), style)
            try:
                idx, t1 = run.wait_out(f"value {token}", start)
            except Timeout as e:
                anomalies.append(f"entr: edit '{style}' not picked up: {e}")
                break
            times.append(t1 - t0)
        else:
            run.wait_out("ready", idx, timeout=30)
        time.sleep(0.2)
        processes = run.processes()
    except Timeout as e:
        anomalies.append(f"entr: timed out: {e}")
        processes = run.processes()
    finally:
        _, left = wait_gone(run, "entr", anomalies)
        shutil.rmtree(d, ignore_errors=True)
    return {"times": times, "processes": processes, "left": left}


# ------------------------------------------------------- 2. start-up cost


def make_modules_app(prefix, modules, before="", after='print("all loaded " .. sum)'):
    d = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    os.mkdir(os.path.join(d, "mods"))
    for i in range(1, modules + 1):
        write_file(os.path.join(d, "mods", f"m{i:04d}.lua"), f"return {i}\n")
    write_file(os.path.join(d, "main.lua"), f"""\
io.stdout:setvbuf("line")
package.path = "./mods/?.lua;" .. package.path
{before}
local sum = 0
for i = 1, {modules} do sum = sum + require(string.format("m%04d", i)) end
{after}
""")
    return d


def startup(lib, modules, runs, budget, anomalies):
    """Time from starting `lua5.4 main.lua` to its "all loaded" line.
    Plain runs `runs` times; forkmon too, but no new forkmon run starts once
    the forkmon runs (with their teardown) took `budget` seconds."""
    d = make_modules_app("forkmon-bench-startup-", modules)
    expected = f"all loaded {modules * (modules + 1) // 2}"
    result = {"plain": [], "forkmon": [], "processes": [], "plain_processes": [],
              "end_s": [], "left": [], "paired": []}
    spent = 0.0
    try:
        for _ in range(runs):
            for kind in ("plain", "forkmon"):
                if kind == "forkmon" and result["forkmon"] and spent >= budget:
                    continue
                t0 = time.monotonic()
                env = ({"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV}
                       if kind == "forkmon" else {})
                run = Run(["lua5.4", "main.lua"], d, env)
                try:
                    _, t1 = run.wait_out(expected, timeout=60)
                    result[kind].append(t1 - run.started)
                    if kind == "forkmon" and len(result["plain"]) == len(result["forkmon"]):
                        # With the plain run just before it: the machine's
                        # slower and faster spells cancel out of the ratio.
                        result["paired"].append((t1 - run.started) / result["plain"][-1])
                    # Counted once the program itself has ended: at its
                    # last line it may or may not be gone yet.
                    if kind == "forkmon":
                        run.wait_line(lambda s, x: s == "err" and ("program exited" in x
                                                                    or "program ended" in x),
                                      timeout=60)
                        result["processes"] = run.processes()
                    else:
                        try:
                            run.proc.wait(timeout=60)
                        except subprocess.TimeoutExpired:
                            raise Timeout("the plain run did not end in 60 s")
                        result["plain_processes"] = run.processes()
                except Timeout as e:
                    anomalies.append(f"start-up {kind}: timed out: {e}")
                finally:
                    seconds, left = wait_gone(run, f"start-up {kind}", anomalies)
                    if kind == "forkmon":
                        result["end_s"].append(seconds)
                        result["left"] = left
                        spent += time.monotonic() - t0
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return result


# ----------------------------------------------------------- 3. memory


def tree_memory(processes):
    """(PSS sum, page-table sum) in kB of the live processes."""
    pss = pte = 0
    for pid, state, _ in processes:
        if state == "Z":
            continue
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmPTE:"):
                        pte += int(line.split()[1])
        except OSError:
            pass
    return pss, pte


def memory(lib, megabytes, modules, anomalies):
    """A table of `megabytes` 1 MB strings, then `modules` watched modules,
    then the program blocks on stdin; PSS summed over the tree."""
    before = f"""\
local big = {{}}
for i = 1, {megabytes} do big[i] = string.rep(string.format("%07d.", i), 131072) end
collectgarbage("collect")"""
    d = make_modules_app("forkmon-bench-memory-", modules, before,
                         'print("loaded " .. #big .. " " .. sum)\nio.read()')
    result = {}
    try:
        for kind in ("plain", "forkmon"):
            env = ({"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV}
                       if kind == "forkmon" else {})
            run = Run(["lua5.4", "main.lua"], d, env, stdin=subprocess.PIPE)
            try:
                run.wait_line(lambda s, x: s == "out" and x.startswith("loaded "), timeout=120)
                time.sleep(0.3)
                processes = run.processes()
                result[kind] = (tree_memory(processes), processes)
            except Timeout as e:
                anomalies.append(f"memory {kind}: timed out: {e}")
            finally:
                wait_gone(run, f"memory {kind}", anomalies)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return result


# ---------------------------------------------------- 4. unwatched opens

OPENER_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

/* opener DIR FILES OPENS: opens and closes DIR/fNNNNN.txt OPENS times in
   all, cycling over FILES files; prints the loop's time in ns. */
int main(int argc, char **argv) {
    if (argc != 4) return 2;
    const char *dir = argv[1];
    long files = atol(argv[2]), opens = atol(argv[3]);
    char path[4096];
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long i = 0; i < opens; i++) {
        snprintf(path, sizeof path, "%s/f%05ld.txt", dir, i % files);
        int fd = open(path, O_RDONLY);
        if (fd < 0) { perror(path); return 1; }
        close(fd);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    printf("%lld\n", (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec));
    return 0;
}
"""


def unwatched_opens(lib, opens, files, runs, anomalies):
    """Loop time of `opens` open+close calls on files the filter does not
    match (*.txt against '%.lua$'), by relative and by absolute path, plain
    and preloaded, `runs` times each, interleaved."""
    d = tempfile.mkdtemp(prefix="forkmon-bench-unwatched-", dir="/tmp")
    result = {}
    try:
        if not shutil.which("gcc"):
            anomalies.append("unwatched opens: gcc is needed to compile the C program")
            return result
        write_file(os.path.join(d, "opener.c"), OPENER_C)
        exe = os.path.join(d, "opener")
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(d, "opener.c")], check=True)
        os.mkdir(os.path.join(d, "files"))
        for i in range(files):
            write_file(os.path.join(d, "files", f"f{i:05d}.txt"), "x")
        for paths, target in (("relative", "files"), ("absolute", os.path.join(d, "files"))):
            for kind in ("plain", "forkmon"):
                result[(paths, kind)] = []
            for _ in range(runs):
                for kind in ("plain", "forkmon"):
                    env = clean_env()
                    if kind == "forkmon":
                        env.update({"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV})
                    done = subprocess.run([exe, target, str(files), str(opens)], cwd=d, env=env,
                                          capture_output=True, text=True, timeout=120)
                    # The one line expected: that the filter matched nothing.
                    said = [line for line in done.stderr.splitlines()
                            if "[forkmon]" in line and "no opened file matched" not in line]
                    if done.returncode != 0 or said:
                        anomalies.append(f"unwatched opens {paths} {kind}: status "
                                         f"{done.returncode}, stderr: {done.stderr.strip()[:500]}")
                        continue
                    result[(paths, kind)].append(int(done.stdout.split()[0]) / 1e9)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return result


# ------------------------------------------------------------- reporting


# ------------------------------------------------------------ 5. scale


def scale_module(i, token=None):
    """Module i returns i; an edited one also prints its token."""
    if token is None:
        return f"return {i}\n"
    return f'print("value {token}")\nreturn {i}\n'


def resumed_from(line, modules):
    """The module number of the checkpoint a resume line names (0 for
    main.lua, read before any module)."""
    match = re.search(r"resuming from '[^']*/m(\d+)\.lua'", line)
    return int(match.group(1)) if match else 0


def settled(run, start, timeout=120):
    """Waits until the run that started at line `start` has ended and the
    tree is idle, as it is when a person saves next: the program's exit is
    said, and 100 ms pass."""
    run.wait_line(lambda s, x: s == "err" and "program exited" in x, start, timeout=timeout)
    time.sleep(0.1)


def timed_edit(run, path, text, style, token):
    """Saves `text` to `path` and waits for "value <token>" on stdout:
    (the run's mark before it, the save's time, the line's index, its time)."""
    start = run.mark()
    t0 = time.monotonic()
    edit(path, text, style)
    idx, t1 = run.wait_line(lambda s, x: s == "out" and x == f"value {token}", start, timeout=60)
    return start, t0, idx, t1


def scale(lib, modules, edits, restarts, anomalies):
    """10,000 watched modules: edits of the first, middle and last module
    under forkmon (save to new output, and how much of it was re-run
    start-up), against a full restart of the same app."""
    d = make_modules_app("forkmon-bench-scale-", modules)
    positions = (1, (modules + 1) // 2, modules)
    expected = f"all loaded {modules * (modules + 1) // 2}"
    path = lambda i: os.path.join(d, "mods", f"m{i:04d}.lua")
    result = {"forkmon": {p: [] for p in positions}, "from": {p: [] for p in positions},
              "restart": {p: [] for p in positions}, "processes": [], "left": [],
              "to_end": {p: [] for p in positions}, "restart_end": [],
              "again": {p: [] for p in positions},
              "resumes_ok": 0, "start": float("nan")}
    run = Run(["lua5.4", "main.lua"], d,
              {"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV})
    try:
        _, t = run.wait_out(expected, timeout=120)
        result["start"] = t - run.started
        settled(run, 0)
        for n in range(edits):
            i = positions[n % len(positions)]
            style = EDIT_STYLES[n % len(EDIT_STYLES)]
            token = f"{n}-{uuid.uuid4().hex[:6]}"
            start, t0, idx, t1 = timed_edit(run, path(i), scale_module(i, token), style, token)
            result["forkmon"][i].append(t1 - t0)
            announced = [x for (_, s, x) in run.lines[start:idx] if s == "err" and RESUME_TEXT in x]
            result["from"][i].append(resumed_from(announced[-1], modules) if announced else 0)
            _, t2 = run.wait_out(expected, idx, timeout=120)
            result["to_end"][i].append(t2 - t0)
            settled(run, idx)
            resumes = run.count(lambda s, x: s == "err" and RESUME_TEXT in x, start)
            if resumes == 1:
                result["resumes_ok"] += 1
            else:
                anomalies.append(f"scale: edit of module {i} ({style}) gave {resumes} resumes")
            # The same module saved again, as one does while working on it.
            again = f"{token}-again"
            start, t0, _, t1 = timed_edit(run, path(i), scale_module(i, again), style, again)
            result["again"][i].append(t1 - t0)
            run.wait_out(expected, start, timeout=120)
            settled(run, start)
            # Back to the plain module, so the next edit of it is a change.
            back = run.mark()
            edit(path(i), scale_module(i), "rename over")
            run.wait_out(expected, back, timeout=120)
            settled(run, back)
        result["processes"] = run.processes()
    except Timeout as e:
        anomalies.append(f"scale forkmon: timed out: {e}")
    finally:
        _, result["left"] = wait_gone(run, "scale forkmon", anomalies)
    try:
        for i in positions:
            token = f"restart-{i}"
            edit(path(i), scale_module(i, token), "rename over")
            for _ in range(restarts):
                plain = Run(["lua5.4", "main.lua"], d)
                try:
                    _, t1 = plain.wait_line(
                        lambda s, x: s == "out" and x == f"value {token}", timeout=120)
                    result["restart"][i].append(t1 - plain.started)
                    _, t2 = plain.wait_out(expected, timeout=120)
                    result["restart_end"].append(t2 - plain.started)
                except Timeout as e:
                    anomalies.append(f"scale restart: timed out: {e}")
                finally:
                    wait_gone(plain, "scale restart", anomalies)
            edit(path(i), scale_module(i), "rename over")
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return positions, result


# ------------------------------------------------------------ 6. heap

HEAP_MAIN = """\
io.stdout:setvbuf("line")
local function busy(seconds)
  local t = os.clock()
  while os.clock() - t < seconds do end
end
busy(0.1)          -- prefix work
local heap = {{}}
for i = 1, {megabytes} do heap[i] = string.rep(string.format("%07d.", i), 131072) end
collectgarbage("collect")
require "mod"
print("ready " .. #heap)
io.read()          -- stays alive (and its heap with it) until stdin closes
"""


def heap_app(megabytes):
    d = tempfile.mkdtemp(prefix="forkmon-bench-heap-", dir="/tmp")
    write_file(os.path.join(d, "main.lua"), HEAP_MAIN.format(megabytes=megabytes))
    write_file(os.path.join(d, "mod.lua"), value_lua("0"))
    return d


def heap_latency(lib, megabytes, edits, restarts, anomalies):
    """A Lua heap of `megabytes` 1 MB strings built after 100 ms of prefix
    work, then `require "mod"` (watched), which prints a value. Under the
    preload, `edits` saves of mod.lua (styles cycled), each timed from the
    save to the new value on stdout and split at the resume line (the
    watcher's: save to decision, then the holder and the new child); the
    tree's PSS after the last one against the plain process's; then
    `restarts` full restarts of the same app."""
    d = heap_app(megabytes)
    mod = os.path.join(d, "mod.lua")
    ready = f"ready {megabytes}"
    result = {"times": [], "to_line": [], "after_line": [], "restart": [], "processes": [],
              "left": [], "resumes_ok": 0, "pss": None, "pte": None, "plain_pss": None,
              "plain_pte": None, "start": float("nan")}
    env = {"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV}
    if os.environ.get("FORKMON_TRACE"):
        env["FORKMON_TRACE"] = os.environ["FORKMON_TRACE"]
    run = Run(["lua5.4", "main.lua"], d, env, stdin=subprocess.PIPE)
    try:
        _, t = run.wait_out(ready, timeout=300)
        result["start"] = t - run.started
        time.sleep(0.5)
        marks = []
        for n in range(edits):
            style = EDIT_STYLES[n % len(EDIT_STYLES)]
            token = f"{n + 1}-{uuid.uuid4().hex[:6]}"
            start = run.mark()
            marks.append(start)
            t0 = time.monotonic()
            edit(mod, value_lua(token), style)
            idx, t1 = run.wait_out(f"value {token}", start, timeout=60)
            result["times"].append(t1 - t0)
            said = [t for (t, s, x) in run.lines[start:idx] if s == "err" and RESUME_TEXT in x]
            if said:
                result["to_line"].append(said[-1] - t0)
                result["after_line"].append(t1 - said[-1])
            run.wait_out(ready, idx, timeout=60)
            # As when a person saves next: the tree is idle again.
            time.sleep(0.5)
        ends = marks[1:] + [None]
        for n, (start, end) in enumerate(zip(marks, ends)):
            resumes = run.count(lambda s, x: s == "err" and RESUME_TEXT in x, start, end)
            values = run.count(lambda s, x: s == "out" and x.startswith("value "), start, end)
            if resumes == 1 and values == 1:
                result["resumes_ok"] += 1
            else:
                anomalies.append(f"heap {megabytes} MB: edit {n + 1} gave {resumes} resume "
                                 f"line(s) and {values} value line(s):\n"
                                 f"{run.output(start)[:3000]}")
        result["processes"] = run.processes()
        result["pss"], result["pte"] = tree_memory(result["processes"])
        if env.get("FORKMON_TRACE"):
            for _, s, x in run.lines:
                if s == "err" and "trace:" in x:
                    print("   " + x)
    except Timeout as e:
        anomalies.append(f"heap {megabytes} MB forkmon: timed out: {e}")
    finally:
        _, result["left"] = wait_gone(run, f"heap {megabytes} MB forkmon", anomalies)
    try:
        for n in range(restarts):
            token = f"restart-{n}"
            edit(mod, value_lua(token), "rename over")
            t0 = time.monotonic()
            plain = Run(["lua5.4", "main.lua"], d, stdin=subprocess.PIPE)
            try:
                idx, t1 = plain.wait_out(f"value {token}", timeout=300)
                result["restart"].append(t1 - t0)
                plain.wait_out(ready, idx, timeout=60)
                if result["plain_pss"] is None:
                    time.sleep(0.3)
                    result["plain_pss"], result["plain_pte"] = tree_memory(plain.processes())
            except Timeout as e:
                anomalies.append(f"heap {megabytes} MB restart: timed out: {e}")
            finally:
                wait_gone(plain, f"heap {megabytes} MB restart", anomalies)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return result


# -------------------------------------------------------- 7. collector

COLLECTOR_MAIN = """\
io.stdout:setvbuf("line")
local heap = {}
for i = 1, 200000 do heap[i] = {i} end
for i = 1, 30 do
  local t = os.clock() while os.clock() - t < 0.005 do end
  collectgarbage("collect")
  require("m" .. i)
end
print("all loaded")
"""


def comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def collector(lib, runs, anomalies):
    """The collector app: plain runs, then under the preload its first run
    and `runs` re-runs after edits of m1, each from the save to "all
    loaded"; the checkpoints (holders) of the first run."""
    d = tempfile.mkdtemp(prefix="forkmon-bench-collector-", dir="/tmp")
    write_file(os.path.join(d, "main.lua"), COLLECTOR_MAIN)
    for i in range(1, 31):
        write_file(os.path.join(d, f"m{i}.lua"), f"return {i}\n")
    first = os.path.join(d, "m1.lua")
    result = {"plain": [], "first": float("nan"), "rerun": [], "holders": 0, "left": []}
    try:
        for _ in range(runs):
            plain = Run(["lua5.4", "main.lua"], d)
            try:
                _, t = plain.wait_out("all loaded", timeout=60)
                result["plain"].append(t - plain.started)
            finally:
                wait_gone(plain, "collector plain", anomalies)
        run = Run(["lua5.4", "main.lua"], d,
                  {"LD_PRELOAD": lib, "FORKMON_FILTER": "%.lua$", **FORKMON_ENV})
        try:
            _, t = run.wait_out("all loaded", timeout=60)
            result["first"] = t - run.started
            settled(run, 0)
            result["holders"] = sum(1 for pid, _, _ in run.processes() if comm(pid) == "lua5.4")
            for n in range(runs):
                token = f"{n}-{uuid.uuid4().hex[:6]}"
                start = run.mark()
                t0 = time.monotonic()
                edit(first, f'print("value {token}")\nreturn 1\n', "rename over")
                idx, _ = run.wait_line(lambda s, x: s == "out" and x == f"value {token}",
                                       start, timeout=60)
                _, t1 = run.wait_out("all loaded", idx, timeout=60)
                result["rerun"].append(t1 - t0)
                settled(run, idx)
        except Timeout as e:
            anomalies.append(f"collector forkmon: timed out: {e}")
        finally:
            _, result["left"] = wait_gone(run, "collector forkmon", anomalies)
    finally:
        shutil.rmtree(d, ignore_errors=True)
    return result


def print_heap(heaps, edits):
    rows = []
    for megabytes, r in heaps:
        restart = median(r["restart"])
        fm = median(r["times"])
        pss = (f"{r['pss'] / r['plain_pss']:.2f}x" if r["pss"] and r["plain_pss"] else "-")
        pte = (f"{r['pte'] / 1024:.0f}/{r['plain_pte'] / 1024:.0f} MB"
               if r["pte"] is not None and r["plain_pte"] else "-")
        rows.append([f"{megabytes} MB", ms(fm), ms(p90(r["times"])),
                     ms(median(r["to_line"])), ms(median(r["after_line"])), ms(restart),
                     f"{restart / fm:.0f}x", pss, pte, f"{r['resumes_ok']}/{edits}",
                     describe(r["processes"]), len(r["left"])])
    print(table(["heap", "p50", "p90", "save to resume line", "line to output",
                 "full restart", "restart/forkmon", "PSS tree/plain", "page tables",
                 "1 resume/edit", "procs alive", "left after ^C"], rows))


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (f"{os.cpu_count()} CPU(s), {model}, Linux {platform.release()}, "
            f"Python {platform.python_version()}")


def row(cells, widths):
    return "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()


def table(header, rows):
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = [row(header, widths), row(["-" * w for w in widths], widths)]
    lines += [row(r, widths) for r in rows]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lib", default=os.environ.get(
        "FORKMON_BENCH_LIB", os.path.join(REPO, "target/release/forkmon.so")),
        help="forkmon.so to measure (env FORKMON_BENCH_LIB; "
             "default: target/release/forkmon.so of this repository)")
    parser.add_argument("--edits", type=int, default=15, help="edits per latency scenario (15)")
    parser.add_argument("--startup-runs", type=int, default=31, help="runs of each start-up case (31)")
    parser.add_argument("--startup-budget", type=float, default=60,
                        help="seconds after which no new forkmon start-up run begins (60)")
    parser.add_argument("--modules", type=int, default=1000, help="modules of the start-up app (1000)")
    parser.add_argument("--memory-mb", type=int, default=200,
                        help="MB of Lua data in the memory app; 0 skips it (200)")
    parser.add_argument("--memory-modules", type=int, default=200,
                        help="watched modules of the memory app (200)")
    parser.add_argument("--no-entr", action="store_true", help="skip the entr baseline")
    parser.add_argument("--min-work", type=int, metavar="MS",
                        help="FORKMON_MIN_WORK for every forkmon run (default: the library's "
                             "own; 0 gives one checkpoint per watched file)")
    parser.add_argument("--unwatched-opens", type=int, default=100_000,
                        help="open+close calls of the unwatched-opens program (100000)")
    parser.add_argument("--unwatched-files", type=int, default=1000,
                        help="distinct files those calls cycle over (1000)")
    parser.add_argument("--unwatched-runs", type=int, default=7,
                        help="runs of each unwatched-opens case (7)")
    parser.add_argument("--scale-modules", type=int, default=10_000,
                        help="watched modules of the scale app (10000)")
    parser.add_argument("--scale-restarts", type=int, default=3,
                        help="full restarts per edited module in the scale section (3)")
    parser.add_argument("--heap-mb", default="1024,4096",
                        help="MB of Lua heap of the section 6 app, per case (1024,4096)")
    parser.add_argument("--heap-edits", type=int, default=8,
                        help="edits per heap case in section 6 (8)")
    parser.add_argument("--heap-restarts", type=int, default=3,
                        help="full restarts per heap case in section 6 (3)")
    parser.add_argument("--collector-runs", type=int, default=5,
                        help="plain runs and re-runs of the section 7 app (5)")
    parser.add_argument("--sections", default="1,2,3,4,5,6,7",
                        help="which sections to run, e.g. 4 or 1,3 (all: 1,2,3,4,5,6,7)")
    args = parser.parse_args()
    sections = {int(x) for x in args.sections.split(",") if x.strip()}
    if args.min_work is not None:
        FORKMON_ENV["FORKMON_MIN_WORK"] = str(args.min_work)

    lib = os.path.abspath(args.lib)
    if not os.path.isfile(lib):
        sys.exit(f"no library at {lib}: run `make` first, or pass --lib")
    if not shutil.which("lua5.4"):
        sys.exit("lua5.4 is needed (apt-get install lua5.4)")
    use_entr = not args.no_entr and shutil.which("entr") is not None
    # The Lua module is found as `forkmon.so` in a LUA_CPATH directory.
    libdir = tempfile.mkdtemp(prefix="forkmon-bench-lib-", dir="/tmp")
    shutil.copy(lib, os.path.join(libdir, "forkmon.so"))

    started = time.monotonic()
    anomalies = []
    print(f"forkmon benchmark, {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"library: {lib}")
    if FORKMON_ENV:
        print(f"forkmon options: {FORKMON_ENV}")
    print(f"machine: {machine()}\n")

    lat = {}
    if 1 in sections:
        print(f"1. edit-to-output latency ({args.edits} edits each, styles cycled: "
              f"{', '.join(EDIT_STYLES)})", flush=True)
        for way in ("preload", "module"):
            lat[f"forkmon {way}"] = latency_forkmon(way, lib, libdir, args.edits, anomalies)
            print(f"   forkmon {way}: done", flush=True)
        lat["plain restart"] = latency_plain(args.edits, anomalies)
        print("   plain restart: done", flush=True)
        if use_entr:
            lat["entr -r"] = latency_entr(args.edits, anomalies)
            print("   entr -r: done", flush=True)
        else:
            print("   entr -r: skipped (entr not installed or --no-entr)")
        baseline = median(lat["plain restart"]["times"])
        rows = []
        for name, r in lat.items():
            med = median(r["times"])
            rows.append([name, ms(med), ms(p90(r["times"])), len(r["times"]),
                         f"{baseline / med:.1f}x" if name.startswith("forkmon") else
                         f"{med / baseline:.2f}x plain",
                         r.get("resumes_ok", "-"), describe(r["processes"]),
                         len(r["left"])])
        print(table(["way", "median", "p90", "n", "plain/forkmon", "1 resume/edit",
                     "procs alive", "left after ^C"], rows))
        if use_entr:
            fm = median(lat["forkmon preload"]["times"])
            print(f"   entr/forkmon preload: {median(lat['entr -r']['times']) / fm:.1f}x")
        print()

    st = None
    if 2 in sections:
        print(f"2. start-up overhead ({args.modules} watched modules, up to "
              f"{args.startup_runs} runs, time to 'all loaded')", flush=True)
        st = startup(lib, args.modules, args.startup_runs, args.startup_budget, anomalies)
        plain_s, fm_s = median(st["plain"]), median(st["forkmon"])
        print(table(["way", "median", "min", "max", "n", "procs alive"], [
            ["plain", ms(plain_s), ms(min(st["plain"], default=float("nan"))),
             ms(max(st["plain"], default=float("nan"))), len(st["plain"]),
             describe(st["plain_processes"])],
            ["forkmon preload", ms(fm_s), ms(min(st["forkmon"], default=float("nan"))),
             ms(max(st["forkmon"], default=float("nan"))), len(st["forkmon"]),
             describe(st["processes"])],
        ]))
        if len(st["forkmon"]) < args.startup_runs:
            print(f"   (forkmon runs stopped after {len(st['forkmon'])}: --startup-budget "
                  f"{args.startup_budget:.0f} s reached)")
        paired = median(st["paired"])
        print(f"   forkmon/plain: {paired:.2f}x (median of each run's ratio to the plain run "
              f"just before it; {fm_s / plain_s:.2f}x as a ratio of the medians), "
              f"+{(fm_s - plain_s) / args.modules * 1e6:.0f} us per watched file; "
              f"tree ended by SIGINT in {ms(median(st['end_s']))} (median), "
              f"left after ^C: {len(st['left'])}\n")

    mem = {}
    if 3 in sections and args.memory_mb > 0:
        print(f"3. memory ({args.memory_mb} MB Lua table, then {args.memory_modules} "
              f"watched modules; PSS summed over the tree)", flush=True)
        mem = memory(lib, args.memory_mb, args.memory_modules, anomalies)
        rows = []
        for kind in ("plain", "forkmon"):
            if kind in mem:
                (pss, pte), procs = mem[kind]
                rows.append([kind if kind == "plain" else "forkmon preload",
                             f"{pss / 1024:.1f} MB", f"{pte / 1024:.1f} MB", describe(procs)])
        print(table(["way", "PSS sum", "page tables", "procs alive"], rows))
        if "plain" in mem and "forkmon" in mem:
            (p_pss, p_pte), _ = mem["plain"]
            (f_pss, f_pte), _ = mem["forkmon"]
            print(f"   forkmon/plain PSS: {f_pss / p_pss:.2f}x (+{(f_pss - p_pss) / 1024:.1f} MB); "
                  f"with page tables: {(f_pss + f_pte) / (p_pss + p_pte):.2f}x\n")

    unw = {}
    if 4 in sections:
        print(f"4. unwatched opens ({args.unwatched_opens} open+close of {args.unwatched_files} "
              f"*.txt files, FORKMON_FILTER='%.lua$', {args.unwatched_runs} runs each, "
              f"loop time inside the program)", flush=True)
        unw = unwatched_opens(lib, args.unwatched_opens, args.unwatched_files,
                              args.unwatched_runs, anomalies)
        rows = []
        for paths in ("relative", "absolute"):
            plain_t, fm_t = unw.get((paths, "plain")), unw.get((paths, "forkmon"))
            if not plain_t or not fm_t:
                continue
            p, f = median(plain_t), median(fm_t)
            rows.append([f"{paths} paths", ms(p), ms(f), f"{f / p:.3f}x",
                         f"{(f - p) / args.unwatched_opens * 1e9:+.0f} ns",
                         "yes" if f / p <= 1.05 else "NO"])
        print(table(["paths", "plain median", "preload median", "preload/plain",
                     "per open", "<= 1.05x"], rows))
        print()

    sc = None
    if 5 in sections:
        print(f"5. scale ({args.scale_modules} watched modules; {args.edits} edits of the "
              f"first, middle and last module in turn, each once the tree is idle; re-run = "
              f"what a plain run spends from the checkpoint's module to the edited one)",
              flush=True)
        positions, sc = scale(lib, args.scale_modules, args.edits, args.scale_restarts,
                              anomalies)
        # Plain time per module: the slope of the full restarts' time to the
        # first and the last module's line (the modules are all alike).
        first, last = positions[0], positions[-1]
        per_module = ((median(sc["restart"][last]) - median(sc["restart"][first]))
                      / max(last - first, 1))
        print(f"   plain run: {per_module * 1e6:.1f} us per module")
        rows = []
        for i in positions:
            fm = sc["forkmon"][i]
            rerun = [per_module * (i - c + 1) if c else per_module * i for c in sc["from"][i]]
            resume = [f - r for f, r in zip(fm, rerun)]
            restart = median(sc["restart"][i])
            rows.append([f"module {i}", ms(median(fm)), ms(median(rerun)), ms(median(resume)),
                         "yes" if median(resume) <= 0.020 else "NO", ms(restart),
                         f"{restart / median(fm):.1f}x", len(fm)])
        print(table(["edited", "save to output", "re-run", "resume (the rest)", "<= 20 ms",
                     "full restart", "restart/forkmon", "n"], rows))
        print("   the same module saved again right after (its run gave it a checkpoint of "
              "its own): " + ", ".join(f"module {i} {ms(median(sc['again'][i]))}"
                                       for i in positions))
        plain_end = median(sc["restart_end"])
        print(f"   save to 'all loaded' (the re-run's end) against a plain run's start to it "
              f"({ms(plain_end)}, median of {len(sc['restart_end'])}):")
        print(table(["edited", "median", "max", "max/plain"],
                    [[f"module {i}", ms(median(sc["to_end"][i])),
                      ms(max(sc["to_end"][i], default=float("nan"))),
                      f"{max(sc['to_end'][i], default=float('nan')) / plain_end:.2f}x"]
                     for i in positions]))
        print(f"   start under forkmon: {ms(sc['start'])}; one resume per edit: "
              f"{sc['resumes_ok']}/{args.edits}; procs alive: {describe(sc['processes'])}; "
              f"left after ^C: {len(sc['left'])}\n")

    heaps = []
    if 6 in sections:
        sizes = [int(x) for x in args.heap_mb.split(",") if x.strip()]
        print(f"6. heap (lua5.4 under the preload: 100 ms of work, a heap of N MB of 1 MB "
              f"strings, then require 'mod'; {args.heap_edits} edits of mod.lua per heap, "
              f"styles cycled, each from an idle tree; save to the new value)", flush=True)
        for megabytes in sizes:
            heaps.append((megabytes, heap_latency(lib, megabytes, args.heap_edits,
                                                  args.heap_restarts, anomalies)))
            print(f"   {megabytes} MB: done", flush=True)
        print_heap(heaps, args.heap_edits)
        print()

    if 7 in sections:
        print("7. collector (a 20 MB heap of small tables, then 30 watched modules 5 ms of "
              "work and a full collection apart; time to 'all loaded')", flush=True)
        co = collector(lib, args.collector_runs, anomalies)
        plain = median(co["plain"])
        print(table(["run", "time", "vs plain"], [
            ["plain", ms(plain), "1.00x"],
            ["forkmon, first run", ms(co["first"]), f"{co['first'] / plain:.2f}x"],
            ["forkmon, save of m1 to the re-run's end", ms(median(co["rerun"])),
             f"{median(co['rerun']) / plain:.2f}x"]]))
        print(f"   holders after the first run (a checkpoint each): {co['holders']}; "
              f"left after ^C: {len(co['left'])}")
        print()

    shutil.rmtree(libdir, ignore_errors=True)

    print("Summary")
    print(f"  date:    {datetime.datetime.now().isoformat(timespec='seconds')}")
    print(f"  machine: {machine()}")
    rows = []
    for name in [n for n in lat if n.startswith("forkmon")]:
        for base in [b for b in ("plain restart", "entr -r") if b in lat]:
            f, b = median(lat[name]["times"]), median(lat[base]["times"])
            rows.append([f"edit-to-output, median ({name} vs {base})", ms(f), ms(b),
                         f"{b / f:.1f}x faster", describe(lat[name]["processes"])])
    if st is not None:
        rows.append([f"start-up, {args.modules} watched modules", ms(fm_s), ms(plain_s),
                     f"{paired:.2f}x slower", describe(st["processes"])])
    if "plain" in mem and "forkmon" in mem:
        (p_pss, _), _ = mem["plain"]
        (f_pss, _), procs = mem["forkmon"]
        rows.append([f"PSS, {args.memory_mb} MB + {args.memory_modules} modules",
                     f"{f_pss / 1024:.1f} MB", f"{p_pss / 1024:.1f} MB",
                     f"{f_pss / p_pss:.2f}x", describe(procs)])
    if sc is not None:
        every = [t for i in sc["forkmon"] for t in sc["forkmon"][i]]
        restarts = [t for i in sc["restart"] for t in sc["restart"][i]]
        if every and restarts:
            f, b = median(every), median(restarts)
            rows.append([f"edit-to-output, {args.scale_modules} watched modules",
                         ms(f), ms(b), f"{b / f:.1f}x faster", describe(sc["processes"])])
    for megabytes, r in heaps:
        if r["times"] and r["restart"]:
            f, b = median(r["times"]), median(r["restart"])
            rows.append([f"edit-to-output, median, {megabytes} MB heap", ms(f), ms(b),
                         f"{b / f:.0f}x faster", describe(r["processes"])])
        if r["pss"] and r["plain_pss"]:
            rows.append([f"PSS, {megabytes} MB heap", f"{r['pss'] / 1024:.0f} MB",
                         f"{r['plain_pss'] / 1024:.0f} MB", f"{r['pss'] / r['plain_pss']:.2f}x",
                         describe(r["processes"])])
    for paths in ("relative", "absolute"):
        if unw.get((paths, "plain")) and unw.get((paths, "forkmon")):
            p, f = median(unw[(paths, "plain")]), median(unw[(paths, "forkmon")])
            rows.append([f"{args.unwatched_opens} unwatched opens, {paths} paths "
                         "(vs plain, no restart)", ms(f), ms(p), f"{f / p:.3f}x", "0"])
    print(table(["figure", "forkmon", "full restart", "ratio", "forkmon procs"], rows))
    print(f"  total time: {time.monotonic() - started:.0f} s")
    if anomalies:
        print(f"\nAnomalies ({len(anomalies)}):")
        for a in anomalies:
            print(" - " + a)
    else:
        print("\nAnomalies: none (one resume per edit, nothing left after SIGINT)")
    return 1 if anomalies else 0


if __name__ == "__main__":
    sys.exit(main())
