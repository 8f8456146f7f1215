#!/bin/sh
# A flood of a million messages from one agent, and an agent that never reads
# its ack pipe, while another works: the working agent's acks keep coming
# (its worst latency stays bounded), every flooded change is committed, and
# the supervisor never blocks on the agent that does not read.
. "$top_srcdir/tests/integration/lib.sh"

n=1000000
limit=1000
if ldd "$SMITHERS" 2>/dev/null | grep -q libasan; then
	n=200000 # the sanitizers make everything several times slower
	limit=3000
fi

cat >flow.ini <<INI
[workflow]
synchronous = normal
[phase work]
[agent flood]
phase = work
command = exec $AGENT flood $n
[agent deaf]
phase = work
command = exec $AGENT noack 100000
[agent probe]
phase = work
command = exec $AGENT probe 200 $T/probe.txt
INI

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
sql_is "SELECT DISTINCT status FROM agents" "completed"
sql_is "SELECT count(*) FROM transitions WHERE key LIKE 'flood.%'" "$n"
sql_is "SELECT count(*) FROM transitions WHERE key LIKE 'noack.%'" "100000"
sql_is "SELECT count(*) FROM state WHERE key LIKE 'probe.%'" "200"
worst=$(cut -d' ' -f2 probe.txt)
echo "probe: $(cat probe.txt) (limit ${limit} ms)"
[ "$worst" -le "$limit" ] || fail "the probe waited $worst ms for an ack"
