#!/usr/bin/python3
"""Soak: a supervisor running for a long time (default 30 minutes) with
agents that write state and end, restarted at once (restart = always), over
and over. Every SAMPLE seconds it reads the supervisor's resident memory,
its open descriptors, the WAL's size and the writes and restarts committed
so far; at the end it prints the first and the last minute side by side.
Long-run safety means flat: no memory or descriptor leak, a WAL that stays
bounded, a throughput that does not decay.

usage: soak.py [--seconds N] [--agents N] [--keys N] [--sample S]
(`make soak`; SOAK_SECONDS sets --seconds). Exit 1 if something grew.
"""
import argparse
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def sample(pid, db):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        writes = c.execute("SELECT coalesce(max(id), 0) FROM transitions"
                           ).fetchone()[0]
        starts = c.execute("SELECT coalesce(sum(attempt), 0) FROM agents"
                           ).fetchone()[0]
    finally:
        c.close()
    try:
        wal = os.stat(db + "-wal").st_size
    except OSError:
        wal = 0
    return {
        "t": time.time(),
        "rss": rss_kib(pid),
        "fds": len(os.listdir("/proc/%d/fd" % pid)),
        "wal": wal,
        "writes": writes,
        "starts": starts,
    }


def window(samples, first):
    """Averages over the first (or last) minute of SAMPLES."""
    span = 60.0
    if first:
        w = [s for s in samples if s["t"] - samples[0]["t"] <= span]
    else:
        w = [s for s in samples if samples[-1]["t"] - s["t"] <= span]
    dt = w[-1]["t"] - w[0]["t"] or 1
    return {
        "rss": max(s["rss"] for s in w),
        "fds": max(s["fds"] for s in w),
        "wal": max(s["wal"] for s in w),
        "writes_s": (w[-1]["writes"] - w[0]["writes"]) / dt,
        "starts_s": (w[-1]["starts"] - w[0]["starts"]) / dt,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int,
                    default=int(os.environ.get("SOAK_SECONDS", "1800")))
    ap.add_argument("--agents", type=int, default=8)
    ap.add_argument("--keys", type=int, default=500)
    ap.add_argument("--sample", type=float, default=5)
    args = ap.parse_args()
    build = os.environ.get("top_builddir", ".")
    src = os.environ.get("top_srcdir", os.path.join(build, ".."))
    smithers = os.path.join(build, "tools", "smithers")
    agent = os.path.join(src, "tests", "integration", "agent.py")
    d = tempfile.mkdtemp(prefix="smithers-soak.")
    with open(os.path.join(d, "flow.ini"), "w") as f:
        f.write("[workflow]\nname = soak\n[phase p]\n")
        for i in range(args.agents):
            f.write("[agent a%d]\nphase = p\ncommand = /usr/bin/python3 %s "
                    "set a%d %d 50\nrestart = always\n"
                    "max_restarts = 1000000\n" % (i, agent, i, args.keys))
    db = os.path.join(d, ".smithers", "smithers.db")
    p = subprocess.Popen([smithers, "run", "flow.ini"], cwd=d,
                         stdout=subprocess.DEVNULL,
                         stderr=open(os.path.join(d, "err"), "w"))
    samples = []
    t0 = time.time()
    try:
        while not os.path.exists(db):
            time.sleep(0.1)
        time.sleep(2)  # past the start
        while time.time() - t0 < args.seconds:
            if p.poll() is not None:
                sys.exit("soak: smithers run ended (%d)" % p.returncode)
            samples.append(sample(p.pid, db))
            time.sleep(args.sample)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    a, b = window(samples, True), window(samples, False)
    print("soak: %d s, %d agents restarting after every %d writes "
          "(%d starts, %d writes in all)"
          % (args.seconds, args.agents, args.keys,
             samples[-1]["starts"], samples[-1]["writes"]))
    print("%-22s %14s %14s %8s" % ("", "first minute", "last minute",
                                  "last/first"))
    rows = [("supervisor RSS (KiB)", "rss"), ("open fds", "fds"),
            ("WAL size (bytes)", "wal"), ("writes/s", "writes_s"),
            ("agent starts/s", "starts_s")]
    for name, k in rows:
        ratio = b[k] / a[k] if a[k] else float("nan")
        print("%-22s %14.0f %14.0f %8.2f" % (name, a[k], b[k], ratio))
    grew = []
    if b["rss"] > a["rss"] * 1.10 + 1024:
        grew.append("RSS")
    if b["fds"] > a["fds"]:
        grew.append("fds")
    if b["wal"] > 64 * 1024 * 1024:
        grew.append("WAL past journal_size_limit")
    if b["writes_s"] < 0.5 * a["writes_s"]:
        grew.append("throughput halved")
    print("soak: %s" % ("flat" if not grew else "GREW: " + ", ".join(grew)))
    shutil.rmtree(d)
    sys.exit(1 if grew else 0)


if __name__ == "__main__":
    main()
