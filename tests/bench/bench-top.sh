#!/bin/sh
# bench-top.sh - what smithers-top costs: 256 idle agents under a real
# supervisor, smithers-top refreshing every second for 30 s (batch mode
# samples exactly as the screen does: the segment, then /proc for every
# running agent); its CPU time over the wall time, as a percent of one core.
# Target: under 1%. Run from the build dir: tests/bench/bench-top.sh
# (make bench-top).
set -eu
BUILD=${BUILD:-$(cd "$(dirname "$0")/../.." && pwd)}
SMITHERS="$BUILD/tools/smithers"
TOP="$BUILD/tools/smithers-top"
N=${N:-256}
SECONDS_RUN=${SECONDS_RUN:-30}
T=$(mktemp -d "${TMPDIR:-/tmp}/smithers-bench-top.XXXXXX")
trap 'kill "$SUP" 2>/dev/null; wait "$SUP" 2>/dev/null; rm -rf "$T"' EXIT

{
	printf '[workflow]\nname = topbench\nstop_grace = 1s\n[phase idle]\n'
	i=0
	while [ "$i" -lt "$N" ]; do
		printf '[agent a%d]\nphase = idle\ncommand = exec sleep 600\n' "$i"
		i=$((i + 1))
	done
} >"$T/flow.ini"
"$SMITHERS" --dir "$T" run "$T/flow.ini" 2>"$T/sup.err" &
SUP=$!
i=0
until [ "$("$TOP" --json --dir "$T" 2>/dev/null |
	/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["agent_counts"]["running"])' 2>/dev/null)" = "$N" ]; do
	i=$((i + 1))
	[ "$i" -lt 600 ] || { echo "bench-top: the agents did not start" >&2; exit 1; }
	sleep 0.1
done
/usr/bin/python3 - "$TOP" "$T" "$SECONDS_RUN" "$N" <<'PY'
import resource, subprocess, sys, time
top, d, secs, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
t0 = time.monotonic()
subprocess.run([top, "-b", "-d", "1", "-n", str(secs + 1), "--dir", d],
               stdout=subprocess.DEVNULL, check=True)
wall = time.monotonic() - t0
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = ru.ru_utime + ru.ru_stime
pct = 100.0 * cpu / wall
print("smithers-top, %d agents, 1 s refresh, %.1f s: %.3f s of CPU = "
      "%.3f%% of a core (target < 1%%): %s"
      % (n, wall, cpu, pct, "PASS" if pct < 1.0 else "MISS"))
PY
