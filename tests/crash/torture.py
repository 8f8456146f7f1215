#!/usr/bin/python3
"""Crash torture test: SIGKILL the supervisor at random moments and at its
failpoints, restart it, and check after every crash that nothing acked was
lost or written twice and that the store is sound.

A workflow of AGENTS crash-agents (tests/crash/crash-agent.c) writes state
keys with sync, each agent appending every acked write to an fsync'd side
file. Each round starts `smithers run` in the same state dir (resuming what
the last round left) and ends it: a random round SIGKILLs it after a random
delay - sometimes with one of its workers frozen (SIGSTOP) first, so that
the old generation's processes are left for the next supervisor to stop -
and a failpoint round lets it kill itself at a named point. After each
crash, on a copy of the database files as the crash left them:

  - PRAGMA integrity_check and the FTS5 integrity check pass;
  - every acked write is in the state table and in exactly one transition;
  - replaying the transition log from empty gives the state table, and
    each transition's old value is its key's previous new value;

and once the next supervisor has taken over, no process of the old
generation is alive. The last round runs to the end: the execution that was
resumed again and again completes, every agent with all its writes.

The rounds are cut into epochs of --epoch rounds, each in a state dir of
its own that ends with its execution run to completion.

usage: torture.py [--rounds N] [--failpoints all|none|NAME,...] [--agents N]
                  [--count N] [--seed N] [--epoch N] [--keep]
Prints the figures on its last line; exits 1 at the first broken promise.
"""
import argparse
import ctypes
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

FAILPOINTS = {
    # name: the range of N in NAME:N (which pass crashes)
    "mid-batch": (1, 60),
    "after-commit-before-sync": (1, 20),
    "after-commit-before-ack": (1, 20),
    "during-checkpoint": (1, 40),
    "during-log-rotation": (1, 2),
    "during-recovery": (1, 1),
}


LIBC = ctypes.CDLL(None, use_errno=True)
LIBC.ptrace.argtypes = [ctypes.c_long, ctypes.c_int, ctypes.c_void_p,
                        ctypes.c_void_p]
PTRACE_ATTACH = 16
WALL = 0x40000000


def freeze(pid):
    """Hold PID stopped under ptrace: unlike SIGSTOP, no signal but
    SIGKILL moves it (the kernel's SIGCONT to an orphaned process group
    included), as if it were wedged. True if it worked."""
    if LIBC.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        return False
    try:
        os.waitpid(pid, WALL)
    except ChildProcessError:
        return False
    return True


def release(pid):
    """Reap what the tracer must of a frozen PID once it was killed."""
    try:
        os.waitpid(pid, os.WNOHANG | WALL)
    except ChildProcessError:
        pass


def die(msg):
    print("torture: FAIL: " + msg, file=sys.stderr, flush=True)
    sys.exit(1)


def say(msg):
    print("torture: " + msg, flush=True)


def proc_stat(pid):
    """(state, ppid, start) of PID, or None when it does not exist."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1]), int(fields[19])


def alive(pid, start):
    st = proc_stat(pid)
    return st is not None and st[2] == start and st[0] not in "ZX"


def describe(pid, traced):
    """What a process is, for a failure's message."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        cmd = "?"
    st = proc_stat(pid)
    return "'%s', state %s, parent %s%s" % (
        cmd.strip(), st[0] if st else "?", st[1] if st else "?",
        ", frozen by the test" if pid in traced else "")


def descendants(root):
    """(pid, start) of every live descendant of ROOT."""
    children = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        st = proc_stat(int(name))
        if st and st[0] not in "ZX":
            children.setdefault(st[1], []).append((int(name), st[2]))
    out, todo = [], [root]
    while todo:
        for pid, start in children.get(todo.pop(), []):
            out.append((pid, start))
            todo.append(pid)
    return out


class Torture:
    def __init__(self, args):
        self.args = args
        build = os.environ.get("top_builddir", ".")
        self.smithers = os.path.join(build, "tools", "smithers")
        self.agent = os.path.join(build, "tests", "crash", "crash-agent")
        self.rng = random.Random(args.seed)
        self.kills = 0
        self.frozen = 0
        self.failpoints = []
        self.completed = 0
        self.checked = 0
        self.stale = 0
        self.checks = 0
        self.old = set()  # (pid, start) of processes of a dead supervisor
        self.traced = []  # pids we froze
        self.executions = self.recoveries = self.writes = 0

    def new_dir(self):
        """A state dir of its own for each epoch: the checks after each
        crash read every acked write of the epoch, so an epoch bounds
        their cost."""
        self.dir = tempfile.mkdtemp(prefix="smithers-torture.")
        self.side = os.path.join(self.dir, "side")
        os.mkdir(self.side)
        self.db = os.path.join(self.dir, ".smithers", "smithers.db")
        args = self.args
        with open(os.path.join(self.dir, "flow.ini"), "w") as f:
            f.write("[workflow]\nname = torture\nlog_max_bytes = 4096\n"
                    "log_keep = 2\n[phase work]\n")
            for i in range(args.agents):
                f.write("[agent a%d]\nphase = work\ncommand = %s %d %s\n"
                        % (i, self.agent, args.count, self.side))

    # ---- one generation of the supervisor
    def start(self, failpoint=None):
        env = dict(os.environ)
        env.pop("SMITHERS_FAILPOINT", None)
        if failpoint:
            env["SMITHERS_FAILPOINT"] = failpoint
        self.err_path = os.path.join(self.dir, "supervisor.err")
        err = open(self.err_path, "w")
        p = subprocess.Popen([self.smithers, "run", "flow.ini"], cwd=self.dir,
                             stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=err, env=env)
        err.close()
        return p

    def query(self, sql, args=()):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True,
                            timeout=30)
        try:
            return c.execute(sql, args).fetchall()
        finally:
            c.close()

    def recorded_processes(self):
        """(pid, start) of the processes the store names as running."""
        out = []
        for row in self.query(
                "SELECT a.pid, a.pid_start, a.worker_pid, a.worker_start"
                " FROM agents a JOIN executions e ON e.id = a.execution_id"
                " WHERE e.status IN ('running', 'pending') AND a.status IN"
                " ('running', 'restarting', 'pending')"):
            for pid, start in ((row[0], row[1]), (row[2], row[3])):
                if pid and start:
                    out.append((pid, start))
        return out

    def take_over(self, p):
        """Wait until supervisor P has recovered (its pid on a running
        execution: it stopped the old generation first), then check that
        no process of the old generation is alive. If P ended before, the
        old generation is the next one's to stop."""
        deadline = time.time() + 60
        while time.time() < deadline:
            if p.poll() is not None:
                return
            try:
                if self.query("SELECT 1 FROM executions WHERE status ="
                              " 'running' AND supervisor_pid = ?",
                              (p.pid,)):
                    break
            except sqlite3.Error:
                pass
            time.sleep(0.01)
        else:
            die("supervisor %d did not take over in 60 s" % p.pid)
        for pid, start in self.old:
            if alive(pid, start):
                die("process %d of the old generation is alive: %s"
                    % (pid, describe(pid, self.traced)))
        self.old = set()
        for pid in self.traced:
            release(pid)
        self.traced = []

    # ---- the checks after a crash
    def check_store(self):
        copy = os.path.join(self.dir, "check")
        shutil.rmtree(copy, ignore_errors=True)
        os.mkdir(copy)
        for suffix in ("", "-wal"):
            if os.path.exists(self.db + suffix):
                shutil.copy(self.db + suffix,
                            os.path.join(copy, "smithers.db" + suffix))
        c = sqlite3.connect(os.path.join(copy, "smithers.db"))
        try:
            self._check(c)
        finally:
            c.close()
        shutil.rmtree(copy)
        self.checks += 1

    def _check(self, c):
        ok = c.execute("PRAGMA integrity_check").fetchall()
        if ok != [("ok",)]:
            die("integrity_check: %r" % ok)
        c.execute("INSERT INTO memories_fts(memories_fts)"
                  " VALUES ('integrity-check')")
        c.rollback()
        # The index finds what the table holds.
        rows = c.execute("SELECT count(*) FROM memories").fetchone()[0]
        hits = c.execute("SELECT count(*) FROM memories_fts WHERE"
                         " memories_fts MATCH 'reached'").fetchone()[0]
        if rows != hits:
            die("full-text index: %d memories, %d found" % (rows, hits))
        state = dict(c.execute("SELECT key, value FROM state"))
        # The log replayed from empty is the state table.
        replay, last = {}, {}
        for tid, key, old, new in c.execute(
                "SELECT id, key, old_value, new_value FROM transitions"
                " ORDER BY id"):
            if old != replay.get(key):
                die("transition %d of '%s': old value %r, but the key"
                    " held %r" % (tid, key, old, replay.get(key)))
            if new is None:
                replay.pop(key, None)
            else:
                replay[key] = new
            last[key] = tid
        if replay != state:
            diff = set(replay.items()) ^ set(state.items())
            die("the transition log does not replay to the state table:"
                " %d differences, e.g. %r" % (len(diff), sorted(diff)[:3]))
        counts = {}
        for key, n in c.execute(
                "SELECT key, count(*) FROM transitions WHERE key LIKE 'c.%'"
                " GROUP BY key"):
            counts[key] = n
        # Every acked write: present, exactly once.
        for name in os.listdir(self.side):
            if not name.endswith(".acked"):
                continue
            execution, agent = name[:-len(".acked")].split(".", 1)
            with open(os.path.join(self.side, name)) as f:
                acked = [int(x) for x in f.read().split()]
            for n in acked:
                key = "c.%s.%s.%d" % (execution, agent, n)
                if state.get(key) != str(n):
                    die("acked write %s is lost (state holds %r)"
                        % (key, state.get(key)))
                if counts.get(key) != 1:
                    die("acked write %s is in %r transitions"
                        % (key, counts.get(key)))
            self.checked += len(acked)
        for key, n in counts.items():
            if n != 1:
                die("%s was written %d times" % (key, n))
        # The counters count the rows, whatever crashed between them.
        for aid, counted, rows in c.execute(
                "SELECT a.id, a.tool_call_count, (SELECT count(*) FROM"
                " tool_calls AS t WHERE t.agent_id = a.id) FROM agents a"):
            if counted != rows:
                die("agent %d counts %d tool calls, has %d"
                    % (aid, counted, rows))
        for eid, counted, rows in c.execute(
                "SELECT e.id, e.total_tool_calls, (SELECT count(*) FROM"
                " tool_calls AS t WHERE t.execution_id = e.id)"
                " FROM executions e"):
            if counted != rows:
                die("execution %d counts %d tool calls, has %d"
                    % (eid, counted, rows))
        # A committed row names an object that is there, whole.
        for path, size in c.execute(
                "SELECT DISTINCT output_path, output_size FROM tool_calls"
                " WHERE output_path IS NOT NULL"):
            full = os.path.join(self.dir, ".smithers", path)
            if not os.path.exists(full) or os.path.getsize(full) != size:
                die("tool output '%s' of %d bytes is not there" %
                    (path, size))

    # ---- rounds
    def crash_random(self):
        p = self.start()
        self.take_over(p)
        time.sleep(self.rng.uniform(0.02, 1.0))
        if p.poll() is not None:
            return self.ended(p)
        old = descendants(p.pid)
        if self.rng.random() < 0.3:
            # A wedged worker and agent: its worker cannot kill the agent
            # when we are gone, so the next supervisor has to.
            workers = [pid for pid, _ in old
                       if (proc_stat(pid) or (0, 0, 0))[1] == p.pid]
            if workers:
                w = self.rng.choice(workers)
                tree = [w] + [pid for pid, _ in descendants(w)]
                if all(freeze(pid) for pid in tree):
                    self.frozen += 1
                self.traced += tree
        p.kill()
        p.wait()
        self.kills += 1
        return old

    def crash_failpoint(self, name):
        lo, hi = FAILPOINTS[name]
        spec = "%s:%d" % (name, self.rng.randint(lo, hi))
        # A resumed execution may have too little left to reach the Nth
        # pass: once it completes, the next run is a new execution with all
        # of its work ahead.
        for attempt in range(3):
            if name == "during-recovery" and not self.query(
                    "SELECT 1 FROM executions WHERE status = 'running'"):
                # Something to recover first.
                p = self.start()
                self.take_over(p)
                time.sleep(0.2)
                self.old |= set(descendants(p.pid))
                p.kill()
                p.wait()
                self.kills += 1
                self.old |= set(self.recorded_processes())
            p = self.start(spec)
            self.take_over(p)
            old = []
            deadline = time.time() + 120
            while p.poll() is None and time.time() < deadline:
                old = descendants(p.pid) or old
                time.sleep(0.01)
            if p.poll() is None:
                p.kill()
                die("failpoint %s: the supervisor did not crash in 120 s"
                    % spec)
            with open(self.err_path) as f:
                err = f.read()
            if "failpoint %s reached" % name in err:
                self.failpoints.append(spec)
                return old
            if p.returncode != 0 or attempt == 2:
                die("failpoint %s was not reached (exit %d):\n%s"
                    % (spec, p.returncode, err[-2000:]))
            self.ended(p)
            self.check_store()

    def ended(self, p):
        if p.returncode != 0:
            with open(self.err_path) as f:
                die("smithers run exited %d:\n%s"
                    % (p.returncode, f.read()[-2000:]))
        self.completed += 1
        return []

    def run(self):
        t0 = time.time()
        plan = ["random"] * self.args.rounds
        for name in self.args.failpoints:
            plan.insert(self.rng.randint(1, len(plan)), name)
        epochs = 0
        for first in range(0, len(plan), self.args.epoch):
            self.new_dir()
            for i, what in enumerate(plan[first:first + self.args.epoch]):
                if what == "random":
                    gen = self.crash_random()
                else:
                    gen = self.crash_failpoint(what)
                self.check_store()
                # The next generation must stop what this one left.
                self.old |= set(gen) | set(self.recorded_processes())
                self.stale += sum(1 for x in self.old if alive(*x))
            self.finish_epoch()
            epochs += 1
            say("%d rounds, %d acked writes checked"
                % (min(first + self.args.epoch, len(plan)), self.checked))
        say("%d rounds in %d epochs: %d SIGKILLs at random (%d with a "
            "worker frozen), %d at failpoints (%s); %d executions, all "
            "completed, resumed %d times; %d processes of a dead "
            "supervisor still alive after it, all stopped by the next; "
            "%d acked writes, each checked after every later crash of its "
            "epoch (%d checks, %d write checks): lost 0, duplicated 0; "
            "%.0f s"
            % (len(plan) + epochs, epochs, self.kills, self.frozen,
               len(self.failpoints), ", ".join(self.failpoints) or "none",
               self.executions, self.recoveries, self.stale, self.writes,
               self.checks, self.checked, time.time() - t0))

    def finish_epoch(self):
        """The interrupted execution runs to completion; all is there."""
        p = self.start()
        self.take_over(p)
        try:
            p.wait(timeout=600)
        except subprocess.TimeoutExpired:
            p.kill()
            die("the last run did not end in 600 s")
        self.ended(p)
        self.check_store()
        rows = self.query("SELECT id, status, recoveries FROM executions"
                          " ORDER BY id")
        if any(r[1] != "completed" for r in rows):
            die("executions not all completed: %r" % rows)
        for name in os.listdir(self.side):
            with open(os.path.join(self.side, name)) as f:
                acked = sorted(int(x) for x in f.read().split())
            if acked != list(range(1, self.args.count + 1)):
                die("%s acked %d writes, not 1..%d once each"
                    % (name, len(acked), self.args.count))
        self.executions += len(rows)
        self.recoveries += sum(r[2] for r in rows)
        self.writes += self.query("SELECT count(*) FROM transitions WHERE"
                                  " key LIKE 'c.%'")[0][0]
        if self.args.keep:
            say("kept %s" % self.dir)
        else:
            shutil.rmtree(self.dir)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--failpoints", default="all")
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--epoch", type=int, default=50,
                    help="rounds per state dir (default 50)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.randrange(1 << 30)
    if args.failpoints == "all":
        args.failpoints = sorted(FAILPOINTS)
    elif args.failpoints == "none":
        args.failpoints = []
    else:
        args.failpoints = args.failpoints.split(",")
        for name in args.failpoints:
            if name not in FAILPOINTS:
                ap.error("no failpoint '%s'" % name)
    say("seed %d (--seed %d repeats this run)" % (args.seed, args.seed))
    Torture(args).run()


if __name__ == "__main__":
    main()
