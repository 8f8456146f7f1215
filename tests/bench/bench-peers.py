#!/usr/bin/python3
"""bench-peers: smithers beside the supervisors users know (issue 14).

The same programs run under supervisord, s6, runit and smithers, in one
run, interleaved: each round runs supervisord, then s6, then runit, then
smithers, and the figure kept for each is the best of the rounds (the
lowest). Every figure is taken the same way for all four, from /proc,
never through a tool's own CLI:

  restart   one program; kill -9 of its pid, then the time until a new
            program runs in the supervisor's tree: the kernel's time of its
            exec, from the process events connector (netlink), less the
            time just before the kill, on the same clock (CLOCK_MONOTONIC);
            median of the kills of a round. The script sleeps for 50 ms
            after the kill before it reads the events (the socket keeps
            them), so it takes no processor from the restart, and no
            polling interval is added to it. Where the connector
            cannot be had (not root, a kernel without it), the tree is
            walked instead every 0.2 ms (/proc/PID/task/TID/children from
            the supervisor down), which adds its walks to every figure;
            the report says which was used. Each kill
            waits until the program has run for 1.1 s, so that no
            supervisor's guard against a crash loop (s6-supervise and
            runsv wait a second before restarting a program that ran for
            less) is what gets measured. s6 runs with readiness
            (notification-fd): without it, it waits that second anyway.
  start-up  from just before the fork of the supervisor (s6-svscan,
            runsvdir, supervisord, `smithers run`) until N programs run
            under it (the same walk, every millisecond).
  idle CPU  2 s after they all run, the CPU time of the supervisor's own
            processes (not the programs) over 10 s, in ms per second:
            utime + stime from /proc/PID/stat (10 ms ticks), and the
            nanosecond run time of every thread from /proc/PID/schedstat.
  PSS       the sum of Pss in /proc/PID/smaps_rollup over the supervisor,
            its supervise processes or workers and the N programs.

The program is `sleep 3600`, started through a shell that execs it
everywhere: a `run` script for s6 and runit, `/bin/sh -c "exec sleep 3600"`
for supervisord and `command = exec sleep 3600` for smithers (which runs
its commands with /bin/sh -c). Each supervisor runs on its own files in a
temp dir (supervisord -n -c TMP/supervisord.conf, s6-svscan TMP/scan,
runsvdir TMP/sv, smithers --dir TMP); nothing reads /etc/service, /run or
/etc/supervisor, and the system's services are left alone. This script is
a subreaper, so whatever a supervisor leaves behind comes back to it: at
the end of each launch everything is stopped (SIGTERM to the supervisor,
then SIGKILL to what is left) and checked to be gone.

usage: bench-peers.py [--quick] [--rounds N] [--programs N] [--kills N]
                      [--idle-seconds S] [--cgroups auto|off]
                      [--only restart|many] [--only-smithers]
Run as root from the build dir (`make bench-peers`); it installs the
Debian packages supervisor, s6 and runit with apt-get if their programs
are missing. smithers is $SMITHERS_BIN, else tools/smithers of the build
dir. Exit 0 whatever the figures; 1 if something could not run.
"""
import argparse
import ctypes
import os
import select
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time

PEERS = ("supervisord", "s6", "runit")
ALL = PEERS + ("smithers",)
PROGRAM = "sleep"               # the comm of a running program
SETTLE = 2.0                    # s between "all running" and the CPU window
RESTART_POLL = 0.0002           # s between two walks while a restart runs
EVENTS_LATER = 0.05             # s after a kill before its events are read
START_POLL = 0.001              # s between two walks while they start
START_BATCH = 0.05              # s between two reads of the exec events
RUN_BEFORE_KILL = 1.1           # s a program runs before it is killed
STOP_WAIT = 10.0                # s for a supervisor to stop on SIGTERM
START_TIMEOUT = 120.0           # s for N programs to be running
PR_SET_CHILD_SUBREAPER = 36

# What each one needs, and the Debian package that has it.
NEEDED = {
    "supervisord": "supervisor",
    "s6-svscan": "s6",
    "s6-supervise": "s6",
    "runsvdir": "runit",
    "runsv": "runit",
}


class BenchError(Exception):
    pass


# The process events connector (linux/connector.h, linux/cn_proc.h).
NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_EVENT_EXEC = 0x00000002
NLMSG_DONE = 3
NLMSG_HDR = struct.Struct("=IHHII")    # len, type, flags, seq, pid
CN_HDR = struct.Struct("=IIIIHH")      # idx, val, seq, ack, len, flags
EV_HDR = struct.Struct("=IIQ")         # what, cpu, timestamp_ns
EXEC_DATA = struct.Struct("=II")       # process_pid, process_tgid


class ExecEvents:
    """Every exec on the machine, as the kernel reports it, with its time
    (ktime_get_ns: CLOCK_MONOTONIC)."""

    def __init__(self):
        self.lost = False
        self.sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM,
                                  NETLINK_CONNECTOR)
        try:
            self.sock.bind((0, CN_IDX_PROC))
            op = struct.pack("=I", PROC_CN_MCAST_LISTEN)
            cn = CN_HDR.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0)
            self.sock.send(NLMSG_HDR.pack(NLMSG_HDR.size + len(cn) + len(op),
                                          NLMSG_DONE, 0, 0, 0) + cn + op)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF,
                                 4 << 20)
        except OSError:
            self.sock.close()
            raise

    def close(self):
        self.sock.close()

    def read(self, timeout):
        """The execs of one datagram, [(tgid, ns)], waiting TIMEOUT s at
        most; None when no datagram came."""
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return None
        try:
            data = self.sock.recv(65536)
        except OSError:  # ENOBUFS: events were lost; later ones are not
            self.lost = True
            return []
        out, off = [], 0
        while off + NLMSG_HDR.size <= len(data):
            length = NLMSG_HDR.unpack_from(data, off)[0]
            ev = off + NLMSG_HDR.size + CN_HDR.size
            if length < NLMSG_HDR.size or ev + EV_HDR.size > len(data):
                break
            what, _, ns = EV_HDR.unpack_from(data, ev)
            body = ev + EV_HDR.size
            if what == PROC_EVENT_EXEC and body + 8 <= len(data):
                out.append((EXEC_DATA.unpack_from(data, body)[1], ns))
            off += (length + 3) & ~3
        return out

    def drain(self):
        while self.read(0) is not None:
            pass


def ancestor(pid, root):
    """Whether ROOT is PID or one of its ancestors."""
    for _ in range(64):
        if pid == root:
            return True
        try:
            with open("/proc/%d/stat" % pid) as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid <= 1:
            return False
    return False


def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return None


def say(msg):
    print("bench-peers: " + msg, file=sys.stderr, flush=True)


# --- /proc -------------------------------------------------------------

def read_stat(pid):
    """(comm, state, utime + stime in ticks, starttime) or None if gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    lp, rp = s.index("("), s.rindex(")")
    rest = s[rp + 2:].split()
    # rest[0] is field 3 (state); utime, stime are fields 14, 15 and
    # starttime is field 22.
    return (s[lp + 1:rp], rest[0], int(rest[11]) + int(rest[12]),
            int(rest[19]))


def children(pid):
    """The children of every thread of PID (CONFIG_PROC_CHILDREN)."""
    out = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/children" % (pid, tid)) as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def walk(root):
    """Every live process from ROOT down: a list of (pid, comm, state,
    ticks, starttime). A program's children are not looked for."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        st = read_stat(pid)
        if st is None or st[1] == "Z":
            continue
        found.append((pid,) + st)
        if st[0] != PROGRAM:
            todo.extend(children(pid))
    return found


def programs(procs):
    return [p for p in procs if p[1] == PROGRAM]


def own(procs):
    """The supervisor's own processes: everything but the programs."""
    return [p for p in procs if p[1] != PROGRAM]


def run_ns(pid):
    """Nanoseconds on a CPU, summed over PID's threads."""
    total = 0
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return 0
    for tid in tids:
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                total += int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total


def pss_kib(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


# --- the four supervisors ----------------------------------------------

def write(path, text, mode=0o644):
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def setup_supervisord(d, n, restart):
    os.mkdir(d + "/logs")
    conf = ["[unix_http_server]", "file=%s/supervisor.sock" % d, "",
            "[rpcinterface:supervisor]",
            "supervisor.rpcinterface_factory = "
            "supervisor.rpcinterface:make_main_rpcinterface", "",
            "[supervisorctl]", "serverurl=unix://%s/supervisor.sock" % d, "",
            "[supervisord]", "nodaemon=true",
            "logfile=%s/supervisord.log" % d,
            "pidfile=%s/supervisord.pid" % d,
            "childlogdir=%s/logs" % d, "user=root", ""]
    for i in range(n):
        conf += ["[program:p%d]" % i,
                 'command=/bin/sh -c "exec sleep 3600"',
                 "autorestart=true", "startsecs=0",
                 "startretries=1000000", ""]
    write(d + "/supervisord.conf", "\n".join(conf))
    return ["supervisord", "-n", "-c", d + "/supervisord.conf"]


def setup_s6(d, n, restart):
    scan = d + "/scan"
    os.mkdir(scan)
    for i in range(n):
        sd = "%s/p%d" % (scan, i)
        os.mkdir(sd)
        if restart:
            # Readiness: s6's fastest restart (notification-fd).
            write(sd + "/notification-fd", "3\n")
            write(sd + "/run",
                  "#!/bin/sh\necho >&3\nexec sleep 3600 3>&-\n", 0o755)
        else:
            write(sd + "/run", "#!/bin/sh\nexec sleep 3600\n", 0o755)
    return ["s6-svscan", scan]


def setup_runit(d, n, restart):
    sv = d + "/sv"
    os.mkdir(sv)
    for i in range(n):
        sd = "%s/p%d" % (sv, i)
        os.mkdir(sd)
        write(sd + "/run", "#!/bin/sh\nexec sleep 3600\n", 0o755)
    return ["runsvdir", sv]


def setup_smithers(d, n, restart, opts):
    lines = ["[workflow]", "name = peers", "stop_grace = 2s"]
    if opts.cgroups == "off":
        lines.append("cgroups = off")
    lines += ["", "[phase run]", ""]
    for i in range(n):
        lines += ["[agent a%d]" % i, "phase = run",
                  "command = exec sleep 3600"]
        if restart:
            lines += ["restart = always", "max_restarts = 1000000",
                      "backoff = 0..0", "startsecs = 0"]
        lines.append("")
    write(d + "/flow.ini", "\n".join(lines))
    return [opts.smithers, "--dir", d, "run", d + "/flow.ini"]


class Launch:
    """One supervisor, running N programs in a temp dir of its own."""

    def __init__(self, name, n, restart, opts):
        self.name, self.n = name, n
        self.dir = tempfile.mkdtemp(prefix="smithers-peers-%s." % name)
        if name == "supervisord":
            self.argv = setup_supervisord(self.dir, n, restart)
        elif name == "s6":
            self.argv = setup_s6(self.dir, n, restart)
        elif name == "runit":
            self.argv = setup_runit(self.dir, n, restart)
        else:
            self.argv = setup_smithers(self.dir, n, restart, opts)
        self.proc = None
        self.seen = {}          # pid -> starttime, of every process met

    def start(self):
        """Forks the supervisor; returns the time just before the fork."""
        self.out = open(self.dir + "/supervisor.out", "w")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(self.argv, cwd=self.dir,
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.out,
                                     stderr=subprocess.STDOUT)
        return t0

    def walk(self):
        procs = walk(self.proc.pid)
        for p in procs:
            self.seen.setdefault(p[0], p[4])
        return procs

    def wait_running(self, t0):
        """Walks until N programs run; the seconds since T0."""
        while True:
            procs = self.walk()
            t = time.perf_counter()
            if len(programs(procs)) >= self.n:
                return t - t0, procs
            if self.proc.poll() is not None:
                raise BenchError("%s exited (%d) before its %d programs "
                                 "ran; see %s/supervisor.out"
                                 % (self.name, self.proc.returncode,
                                    self.n, self.dir))
            if t - t0 > START_TIMEOUT:
                raise BenchError("%s: %d of %d programs running after "
                                 "%.0f s" % (self.name,
                                             len(programs(procs)), self.n,
                                             START_TIMEOUT))
            time.sleep(START_POLL)

    def stop(self):
        """SIGTERM to the supervisor, SIGKILL to whatever is left of its
        tree; then checks that every process it ever had is gone."""
        if self.proc is None:
            return
        self.walk()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_WAIT)
            except subprocess.TimeoutExpired:
                pass
        # Orphans came to us (subreaper): kill our descendants until none.
        for _ in range(200):
            left = [p for p in walk(os.getpid()) if p[0] != os.getpid()]
            for p in left:
                self.seen.setdefault(p[0], p[4])
            if not left:
                break
            for p in left:
                try:
                    os.kill(p[0], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            reap()
            time.sleep(0.01)
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        reap()
        self.out.close()
        alive = [pid for pid, start in self.seen.items()
                 if (read_stat(pid) or (0, 0, 0, -1))[3] == start]
        if alive:
            raise BenchError("%s: %d of its processes are still there "
                             "(pids %s)" % (self.name, len(alive),
                                            " ".join(map(str, alive[:8]))))
        shutil.rmtree(self.dir, ignore_errors=True)


def reap():
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


# --- the measures ------------------------------------------------------

def wait_started(events, root, n, t0):
    """The kernel's time (ns) of the exec that made the Nth program under
    ROOT run, by the process events: read in batches, START_BATCH apart,
    so that this script takes next to no processor from the start it
    times (a walk of the tree each millisecond took one of the two).
    None if events were lost."""
    last = {}  # tgid of a program -> the time of its last exec
    while True:
        time.sleep(START_BATCH)
        while True:
            batch = events.read(0)
            if batch is None:
                break
            for tgid, ns in batch:
                # A shell execs the program in the same process: the
                # program's exec is its last.
                if tgid in last:
                    last[tgid] = max(last[tgid], ns)
                elif comm(tgid) == PROGRAM and ancestor(tgid, root):
                    last[tgid] = ns
        if events.lost:
            return None
        if len(last) >= n:
            return max(last.values())
        if time.monotonic_ns() - t0 > START_TIMEOUT * 1e9:
            raise BenchError("%d of %d programs running after %.0f s"
                             % (len(last), n, START_TIMEOUT))


def measure_many(name, opts):
    """Start-up (s), idle CPU (ms/s from ticks and from schedstat) and PSS
    (MiB) of one launch with N programs."""
    ln = Launch(name, opts.programs, False, opts)
    events = open_events(STARTUP_HOW)
    try:
        if events:
            t0 = time.monotonic_ns()
            ln.start()
            t = wait_started(events, ln.proc.pid, opts.programs, t0)
            if t is None:
                raise BenchError("process events were lost while %s "
                                 "started (ENOBUFS)" % name)
            startup = (t - t0) / 1e9
            events.close()
            events = None
            ln.wait_running(time.perf_counter())
        else:
            t0 = ln.start()
            startup, _ = ln.wait_running(t0)
        time.sleep(SETTLE)
        procs = ln.walk()
        if len(programs(procs)) != opts.programs:
            raise BenchError("%s: %d programs running, not %d"
                             % (name, len(programs(procs)), opts.programs))
        mine = own(procs)
        tick0 = {p[0]: p[3] for p in mine}
        ns0 = {p[0]: run_ns(p[0]) for p in mine}
        w0 = time.perf_counter()
        time.sleep(opts.idle_seconds)
        after = own(ln.walk())
        w1 = time.perf_counter()
        ticks = sum(p[3] - tick0.get(p[0], 0) for p in after)
        ns = sum(run_ns(p[0]) - ns0.get(p[0], 0) for p in after)
        wall = w1 - w0
        hz = os.sysconf("SC_CLK_TCK")
        cpu_ticks = 1e3 * ticks / hz / wall
        cpu_ns = ns / 1e6 / wall
        procs = ln.walk()
        pss = sum(pss_kib(p[0]) for p in procs) / 1024.0
        return {"startup": startup, "cpu": cpu_ticks, "cpu_ns": cpu_ns,
                "pss": pss, "own": len(after)}
    finally:
        if events:
            events.close()
        ln.stop()


def sleeper(procs, not_pid=None):
    for p in programs(procs):
        if p[0] != not_pid:
            return p[0]
    return None


def wait_exec(events, root, old, t0):
    """The kernel's time (ns) of the exec of a new program under ROOT, by
    the process events. They wait in the socket while the restart runs:
    read at once, each event would wake this script, on one of the same
    two processors."""
    time.sleep(EVENTS_LATER)
    found = None  # (tgid, ns)
    while True:
        batch = events.read(0 if found else 1.0)
        if batch is None:
            if found:
                return found[1]
            if time.monotonic_ns() - t0 > 30e9:
                return None
            continue
        for tgid, ns in batch:
            # A shell that exec'd the program execs twice: the program's
            # exec is the pid's last, queued already once its comm says
            # so.
            if found and tgid == found[0]:
                found = (tgid, max(found[1], ns))
            elif not found and tgid != old and comm(tgid) == PROGRAM \
                    and ancestor(tgid, root):
                found = (tgid, ns)


def wait_walk(ln, old, t0):
    """The time (ns) a walk of the tree first found a new program."""
    while True:
        new = sleeper(ln.walk(), old)
        t = time.monotonic_ns()
        if new is not None:
            return t
        if t - t0 > 30e9:
            return None
        time.sleep(RESTART_POLL)


# How the restarts and the start-ups were timed, for the report.
RESTART_HOW = ["exec events"]
STARTUP_HOW = ["exec events"]


def open_events(how):
    try:
        return ExecEvents()
    except OSError as e:
        say("no process events connector (%s): walking the tree instead"
            % e)
        how[0] = "tree walks"
        return None


def measure_restart(name, opts):
    """The median, over opts.kills kill -9, of the time until the program
    runs again (s)."""
    ln = Launch(name, 1, True, opts)
    events = open_events(RESTART_HOW)
    lat = []
    try:
        t0 = ln.start()
        ln.wait_running(t0)
        for _ in range(opts.kills):
            pid = sleeper(ln.walk())
            time.sleep(RUN_BEFORE_KILL)
            if events:
                events.drain()
            t0 = time.monotonic_ns()
            os.kill(pid, signal.SIGKILL)
            if events:
                t = wait_exec(events, ln.proc.pid, pid, t0)
            else:
                t = wait_walk(ln, pid, t0)
            if t is None:
                raise BenchError("%s did not restart its program in 30 s"
                                 % name)
            lat.append((t - t0) / 1e9)
            # The new program runs (and is the one the next kill finds).
            while sleeper(ln.walk(), pid) is None:
                time.sleep(RESTART_POLL)
            reap()
        return statistics.median(lat)
    finally:
        if events:
            events.close()
        ln.stop()


# --- setup and report --------------------------------------------------

def ensure_installed():
    missing = sorted({pkg for prog, pkg in NEEDED.items()
                      if shutil.which(prog) is None})
    if not missing:
        return
    if os.geteuid() != 0:
        raise BenchError("%s missing and not root: apt-get install %s"
                         % (", ".join(missing), " ".join(missing)))
    say("installing with apt-get: %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
    if subprocess.run(cmd, env=env, stdout=sys.stderr).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, stdout=sys.stderr)
        if subprocess.run(cmd, env=env, stdout=sys.stderr).returncode != 0:
            raise BenchError("apt-get install %s failed" % " ".join(missing))
    for prog in NEEDED:
        if shutil.which(prog) is None:
            raise BenchError("'%s' is still missing after apt-get" % prog)


def versions():
    out = {}
    for name, pkg in (("supervisord", "supervisor"), ("s6", "s6"),
                      ("runit", "runit")):
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", pkg],
                           capture_output=True, text=True)
        out[name] = r.stdout.strip() if r.returncode == 0 else "?"
    return out


def find_smithers():
    env = os.environ.get("SMITHERS_BIN")
    if env:
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for c in (os.path.join(os.environ.get("BUILD", "."), "tools/smithers"),
              os.path.join(here, "../../tools/smithers"),
              os.path.join(here, "../../build/tools/smithers")):
        if os.access(c, os.X_OK):
            return os.path.abspath(c)
    raise BenchError("cannot find tools/smithers: run from the build dir "
                     "or set SMITHERS_BIN")


def fmt(key, v):
    if v is None:
        return "-"
    if key == "restart":
        return "%.1f ms" % (v * 1e3)
    if key == "startup":
        return "%.2f s" % v
    if key in ("cpu", "cpu_ns"):
        return "%.2f ms/s" % v
    return "%.1f MiB" % v


def report(best, opts, vers):
    rows = [
        ("restart", "restart after kill -9, median of %d (%s)"
         % (opts.kills, RESTART_HOW[0])),
        ("startup", "%d programs running, from the fork (%s)"
         % (opts.programs, STARTUP_HOW[0])),
        ("cpu", "idle CPU, utime+stime, %d programs" % opts.programs),
        ("cpu_ns", "idle CPU, schedstat run time"),
        ("pss", "PSS, supervisor + supervise + %d programs"
         % opts.programs),
    ]
    head = ["figure", "supervisord %s" % vers["supervisord"],
            "s6 %s" % vers["s6"], "runit %s" % vers["runit"], "smithers",
            "smithers / best peer", "target", ""]
    lines = []
    for key, label in rows:
        vals = [best.get(s, {}).get(key) for s in ALL]
        peers = [v for v in vals[:3] if v is not None]
        fast = min(peers) if peers else None
        mine = vals[3]
        if mine is None or fast is None:
            ratio = "-"
        elif fast > 0:
            ratio = "%.2fx" % (mine / fast)
        else:
            ratio = "inf" if mine > 0 else "1.00x"
        target, ok = "", ""
        if key in ("restart", "startup") and mine is not None and fast:
            target = "<= 0.5x fastest peer"
            ok = "PASS" if mine <= 0.5 * fast else "MISS"
        elif key in ("cpu", "cpu_ns") and mine is not None:
            target = "<= 0.3 ms/s"
            ok = "PASS" if mine <= 0.3 else "MISS"
        elif key == "pss" and mine is not None and \
                best.get("runit", {}).get("pss") is not None:
            target = "<= runit's"
            ok = "PASS" if mine <= best["runit"]["pss"] else "MISS"
        lines.append([label] + [fmt(key, v) for v in vals] +
                     [ratio, target, ok])
    print("| " + " | ".join(head) + " |")
    print("|---|" + "---:|" * 5 + "---|---|")
    for ln in lines:
        print("| " + " | ".join(ln) + " |")


def main():
    ap = argparse.ArgumentParser(
        description="smithers beside supervisord, s6 and runit")
    ap.add_argument("--quick", action="store_true",
                    help="1 round, 32 programs, 5 kills, 3 s of idle CPU")
    ap.add_argument("--rounds", type=int)
    ap.add_argument("--programs", type=int)
    ap.add_argument("--kills", type=int)
    ap.add_argument("--idle-seconds", type=float)
    ap.add_argument("--cgroups", choices=("auto", "off"), default="auto",
                    help="smithers' cgroups setting (default: auto, its "
                    "default)")
    ap.add_argument("--only", choices=("restart", "many"),
                    help="measure only the restart, or only what 'many' "
                    "programs give (start-up, idle CPU, PSS)")
    ap.add_argument("--only-smithers", action="store_true",
                    help="run no peer (to compare smithers with itself)")
    opts = ap.parse_args()
    dflt = (1, 32, 5, 3.0) if opts.quick else (3, 256, 20, 10.0)
    for k, v in zip(("rounds", "programs", "kills", "idle_seconds"), dflt):
        if getattr(opts, k) is None:
            setattr(opts, k, v)

    try:
        ensure_installed()
        opts.smithers = find_smithers()
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
            raise BenchError("prctl(PR_SET_CHILD_SUBREAPER) failed")
        vers = versions()
        say("%d rounds; %d programs; %d kills; %.0f s of idle CPU; "
            "smithers %s (cgroups %s)"
            % (opts.rounds, opts.programs, opts.kills, opts.idle_seconds,
               opts.smithers, opts.cgroups))
        who = ("smithers",) if opts.only_smithers else ALL
        rounds = {s: [] for s in who}
        for r in range(opts.rounds):
            for s in who:
                if opts.only == "restart":
                    rounds[s].append({})
                    continue
                m = measure_many(s, opts)
                say("round %d %-11s start-up %.3f s, idle CPU %.2f ms/s "
                    "(schedstat %.3f), PSS %.1f MiB, %d own processes"
                    % (r + 1, s, m["startup"], m["cpu"], m["cpu_ns"],
                       m["pss"], m["own"]))
                rounds[s].append(m)
            for s in who:
                if opts.only == "many":
                    continue
                lat = measure_restart(s, opts)
                say("round %d %-11s restart %.2f ms" % (r + 1, s,
                                                         lat * 1e3))
                rounds[s][-1]["restart"] = lat
        best = {s: {k: min(m[k] for m in rounds[s])
                    for k in rounds[s][0]} for s in who}
    except BenchError as e:
        say(str(e))
        return 1
    print("smithers beside its peers, best of %d rounds (%d cores)"
          % (opts.rounds, os.cpu_count()))
    report(best, opts, vers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
