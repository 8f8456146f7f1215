#!/bin/sh
# bench-fleet.sh - what shipping to a fleet costs and how fast it goes
# (issue 15), against the servers the fleet tests run (a 3-server
# JetStream cluster on loopback, PostgreSQL on a socket: fleet-lib.sh):
#
# 1. `bench-run --only fleet`: 8 agents flooding state.set, shipping and
#    not, rounds in turn: the ratio (target >= 0.9x), and the shipper's
#    rate (changes over the time from the first send until the supervisor
#    exits, which it does once JetStream holds them all);
# 2. the sink's rate: one sink, started on the stream those runs filled,
#    until the fleet view holds every transition: rows/s into PostgreSQL;
# 3. the lag: `bench-run --only latency` at half the peak of 1 (not
#    shipping), now shipping, with the sink running, then at LAG_RATE
#    (default 2000 changes/s), a pace the fleet keeps up with; for each
#    transition, the time from its local commit (created_at, taken just
#    before the commit) to its write in PostgreSQL (sunk_at, in the sink's
#    transaction, just before its commit): p50, p99 and max.
#
# Run from the build dir: tests/bench/bench-fleet.sh [--quick]
# [--ship-only] (make bench-fleet). About 8 minutes; --quick, a smoke run
# of a minute; --ship-only, step 1 alone. NATS_NICE=N runs the NATS
# servers at nice N and NATS_TMPFS=1 keeps their stores in memory: both
# as if they were on other machines, not sharing this one's cores or disk.
# NATS_CPUS=LIST RUN_CPUS=LIST (taskset(1) lists, e.g. 1 and 0) pin the
# servers to some cores and the runs of 1 (shipping and not alike) to the
# others: NATS elsewhere, as in a fleet, at the price of fewer cores for
# the run.
set -eu
top_builddir=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
top_srcdir=${top_srcdir:-$(sed -n 's/^abs_top_srcdir = //p' \
	"$top_builddir/Makefile")}
export top_builddir top_srcdir
QUICK= SHIP_ONLY=
for a in "$@"; do
	case $a in
	--quick) QUICK=--quick ;;
	--ship-only) SHIP_ONLY=1 ;;
	*)
		echo "usage: bench-fleet.sh [--quick] [--ship-only]" >&2
		exit 2
		;;
	esac
done
BENCH_RUN=$top_builddir/tests/bench/bench-run
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
. "$top_srcdir/tests/integration/sink-lib.sh"
need_nats
need_pg

# NATS_TMPFS=1: the servers' stores in memory (a tmpfs; as root), so that
# their writes do not share this machine's disk with the run they measure.
if [ "${NATS_TMPFS:-0}" = 1 ]; then
	mkdir -p "$T/nats"
	mount -t tmpfs -o size=4g tmpfs "$T/nats" ||
		fail "cannot mount a tmpfs (NATS_TMPFS=1 needs root)"
	trap 'for p in $SINKS; do kill -9 $p 2>/dev/null || :; done
		_nats_kill_all || :
		umount "$T/nats" 2>/dev/null || :
		fleet_cleanup' EXIT
fi
nats_cluster_start
wait_until 30 nats_leader
# NATS_NICE=N: the servers at nice N, as if they ran elsewhere (they share
# this machine's cores with the run they measure).
if [ "${NATS_NICE:-0}" != 0 ]; then
	renice -n "$NATS_NICE" -p $NATS_PID_1 $NATS_PID_2 $NATS_PID_3 \
		>/dev/null
fi
PIN=
if [ -n "${NATS_CPUS:-}" ] || [ -n "${RUN_CPUS:-}" ]; then
	[ -n "${NATS_CPUS:-}" ] && [ -n "${RUN_CPUS:-}" ] ||
		fail "NATS_CPUS and RUN_CPUS go together"
	for p in $NATS_PID_1 $NATS_PID_2 $NATS_PID_3; do
		taskset -a -c -p "$NATS_CPUS" "$p" >/dev/null ||
			fail "cannot pin the NATS servers to cores $NATS_CPUS"
	done
	PIN="taskset -c $RUN_CPUS"
	echo "NATS servers on cores $NATS_CPUS, the runs on cores $RUN_CPUS"
fi
pg_start

# ---- 1. shipping and not ------------------------------------------------------
$PIN "$BENCH_RUN" --only fleet --nats "$NATS_URLS" $QUICK >fleet.txt
cat fleet.txt
if [ -n "$QUICK" ]; then rounds=1 total=20000; else rounds=3 total=200000; fi
shipped=$((rounds * total))
peak=$(sed -n 's/^8 agents, not shipping *\([0-9]*\) ops\/s.*/\1/p' fleet.txt)
[ -n "$peak" ] || fail "no 8-agent rate in bench-run's output"
[ -z "$SHIP_ONLY" ] || exit 0

# ---- 2. the sink -----------------------------------------------------------------
t0=$(date +%s.%N)
sink s
all_in() {
	[ "$(pg_sql "SELECT count(*) FROM smithers.transitions")" -ge \
		"$shipped" ]
}
wait_until 900 all_in
t1=$(date +%s.%N)
rows=$(pg_sql "SELECT (SELECT count(*) FROM smithers.transitions) +
	(SELECT count(*) FROM smithers.executions) +
	(SELECT count(*) FROM smithers.phases) +
	(SELECT count(*) FROM smithers.agents)")
echo
printf '%-44s %s\n' "sink: rows into PostgreSQL" \
	"$(echo "$rows $t0 $t1" |
		awk '{printf "%.0f rows/s (%d rows in %.1f s)", $1 / ($3 - $2),
			$1, $3 - $2}')"

# ---- 3. the lag, at half the peak and at a pace the fleet keeps up with -----
# lag RATE: the latency runs at RATE changes/s, shipping; then the lag of
# each of their transitions.
lag() {
	since=$(pg_sql "SELECT clock_timestamp()")
	"$BENCH_RUN" --only latency --nats "$NATS_URLS" --rate "$1" $QUICK \
		>latency-$1.txt
	wait_until 300 lat_in
	pg_sql "SELECT count(*),
		round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric,
			1),
		round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric,
			1),
		round(max(ms)::numeric, 1)
		FROM (SELECT extract(epoch FROM t.sunk_at -
			t.created_at::timestamptz) * 1000 AS ms
			FROM smithers.transitions t
			WHERE t.machine IN (SELECT machine
				FROM smithers.executions
				WHERE sunk_at > '$since')) AS l" |
		awk -F'|' -v rate="$1" '{printf "%-44s %s\n",
			"lag, local commit -> PostgreSQL, " rate "/s",
			"p50 " $2 " ms, p99 " $3 " ms, max " $4 " ms (" $1 \
			" rows)"}'
	sed -n 's/^send->ack p99  */  (send->ack p99 there: /p' \
		latency-$1.txt | sed 's/ *$/)/'
}
# Every change of the latency runs is in the fleet view.
lat_in() {
	[ "$(pg_sql "SELECT count(*) FROM smithers.executions
		WHERE sunk_at > '$since' AND status = 'running'")" = 0 ] &&
		[ "$(pg_sql "SELECT count(*) FROM smithers.executions
		WHERE sunk_at > '$since'")" -gt 0 ]
}
lag $((peak / 2))
lag "${LAG_RATE:-2000}"
stop_sink s
