#!/bin/sh
# The fleet end to end, every failure in one run (issue 15): two machines
# (two state dirs, m1 and m2) run workflows at once, shipping to a real
# 3-server JetStream cluster, two sinks writing into a real PostgreSQL,
# while, one after the other:
# - a sink is SIGKILLed while rows flow, and started again;
# - m1's supervisor is SIGKILLed, and run again;
# - the stream's JetStream leader is SIGKILLed, and started again;
# - PostgreSQL is restarted;
# - NATS (all three servers) is stopped for 30 s, and started again.
# At the end, for each machine and table, the fleet view holds exactly the
# rows of that machine's store: the same ids, every column equal, the same
# checksum (fleet-compare.py); none lost, none twice.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
. "$top_srcdir/tests/integration/sink-lib.sh"
need_nats
need_pg

nats_cluster_start
wait_until 30 nats_leader
pg_start
M1=$T/m1 M2=$T/m2
DB1=$M1/.smithers/smithers.db DB2=$M2/.smithers/smithers.db
mkdir "$M1" "$M2"
# Agents that set keys until $T/stop appears, 20 ms apart.
flow "$M1/flow.ini" m1 0 0.02
flow "$M2/flow.ini" m2 0 0.02
sed -i 's/^ship_wait = .*/ship_wait = 60s/' "$M1/flow.ini" "$M2/flow.ini"

sink sa
sink sb
"$SMITHERS" --dir "$M1" run "$M1/flow.ini" >m1.out 2>m1.err &
p1=$!
"$SMITHERS" --dir "$M2" run "$M2/flow.ini" >m2.out 2>m2.err &
p2=$!

# more MACHINE: the fleet view gains 20 transitions of MACHINE from now.
more() {
	_base=$(pg_sql "SELECT count(*) FROM smithers.transitions
		WHERE machine = '$1'" 2>/dev/null) || _base=0
	wait_until 60 more_than "$1" $((_base + 20))
}
more_than() {
	[ "$(pg_sql "SELECT count(*) FROM smithers.transitions
		WHERE machine = '$1'")" -ge "$2" ]
}
more m1
more m2

# A sink SIGKILLed while rows flow.
kill -9 "$(sink_pid sa)"
wait "$(sink_pid sa)" 2>/dev/null || :
sink sa2
more m1

# m1's supervisor SIGKILLed, and run again.
kill -9 "$p1"
wait "$p1" 2>/dev/null || :
"$SMITHERS" --dir "$M1" run "$M1/flow.ini" >m1.out 2>m1.err &
p1=$!
more m1
more m2

# The stream's leader SIGKILLed, and started again.
leader=$(nats_leader SMITHERS) || fail "the stream has no leader"
nats_kill "$leader"
more m1
nats_start "$leader"
more m2

# PostgreSQL restarted.
pg_restart
more m1
more m2

# NATS stopped for 30 s.
nats_stop 1
nats_stop 2
nats_stop 3
sleep 30
nats_start 1
nats_start 2
nats_start 3
wait_until 60 nats_leader
more m1
more m2

# The end: the agents stop, the supervisors ship the rest.
touch "$T/stop"
wait "$p1" || fail "m1's run failed: $(tail -n 20 m1.err)"
wait "$p2" || fail "m2's run failed: $(tail -n 20 m2.err)"
for d in "$M1" "$M2"; do
	[ "$(sqlite3 "$d/.smithers/smithers.db" "SELECT count(*)
		FROM fleet_outbox")" = 0 ] ||
		fail "$d: rows left to ship or to verify at the end of its run:" \
			"$(sqlite3 "$d/.smithers/smithers.db" "SELECT * FROM
			fleet_cursor; SELECT * FROM fleet_verified")"
done
# When rows differ, where each missing one was lost: whether the stream's
# leader has it (if not: lost on the way in), and each server's copy of the
# stream (one short of the others: a replica lost it, and a consumer led
# from there never delivers it).
where_lost() {
	$NATS "$NATS_URLS" ids SMITHERS >stream-ids.txt 2>&1 || :
	awk '/^m[12] [a-z_]+:/ { m = $1; t = $2; sub(":", "", t) }
		/^  id [0-9]+: here/ { id = $2; sub(":", "", id);
			print m ":" t ":" id ":" }' compare.out |
		while read -r key; do
			if grep -q "^$key" stream-ids.txt; then
				echo "$key in the stream (its leader's copy)"
			else
				echo "$key not in the stream"
			fi
		done >&2
	for i in 1 2 3; do
		eval "http=\$NATS_HTTP_$i"
		"$PYTHON" -c '
import json, sys, urllib.request
u = "http://127.0.0.1:%s/jsz?consumers=true" % sys.argv[1]
d = json.loads(urllib.request.urlopen(u, timeout=3).read())
for a in d.get("account_details", []):
    for s in a.get("stream_detail", []):
        st = s["state"]
        print("n%s %s: %d messages, last %d" % (sys.argv[2], s["name"],
              st["messages"], st["last_seq"]))
        for c in s.get("consumer_detail") or []:
            print("  consumer %s, led by %s: delivered to %d" % (c["name"],
                  c.get("cluster", {}).get("leader"),
                  c["delivered"]["stream_seq"]))
' "$http" "$i" >&2 || echo "n$i: no stream state" >&2
	done
}
i=0
until caught_up "$DB1" m1 && caught_up "$DB2" m2; do
	i=$((i + 1))
	[ "$i" -lt 600 ] || break
	sleep 0.1
done
i=0
until $COMPARE "$DB1" m1 "$DB2" m2 >compare.out 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 60 ]; then
		cat compare.out >&2
		where_lost
		fail "the fleet view differs (above)"
	fi
	sleep 0.5
done
cat compare.out >&2
# Each outage was said once, not once per retry: a warning when it began,
# a line when it ended. There are at most three: the leader's SIGKILL and
# its return (a publish may time out, or be refused while the stream
# elects), and the 30 s stop, which cannot pass unseen.
down=$(grep -c "the run goes on, and shipping is retried" m2.err) || :
up=$(grep -c "shipping to NATS works again" m2.err) || :
[ "$down" -ge 1 ] && [ "$down" -le 3 ] && [ "$up" -eq "$down" ] ||
	fail "m2 said NATS was down $down times, back $up times:" \
		"$(grep fleet: m2.err)"
stop_sink sa2
stop_sink sb
