#!/bin/sh
# Verifying (docs/FLEET.md): JetStream acks a message, and a replica may
# lose it all the same (163 once saw Debian's nats-server do so). Here the
# loss is made on purpose: messages deleted from the stream after their
# acks. Against a real 3-server JetStream cluster and a real PostgreSQL:
# - a run with no sink: the shipper says once that no sink answers; the
#   outbox keeps what it shipped (not verified), says so at the end, and
#   `db stats` counts it (fleet_unverified);
# - the newest transition (past the first 2 048 verified at a time), and
#   the newest version of an agent and of an execution are deleted from
#   the stream; the sink writes the rest: the fleet view
#   lacks those three;
# - the next run of the state dir asks a sink, which names the three; the
#   shipper sends them again under new ids; the fleet view then holds
#   exactly the store's rows, and the outbox empties as they verify;
# - requests that are not a supervisor's get an error, never a write;
# - a sink with a backlog answers that it is behind, then, caught up,
#   what the fleet view lacks;
# - a row PostgreSQL refuses (a NUL in JSON) is sent again three times,
#   then let go with a warning; the rest of the run is verified.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
. "$top_srcdir/tests/integration/sink-lib.sh"
need_nats
need_pg

nats_cluster_start
wait_until 30 nats_leader
pg_start
M1=$T/m1
DB1=$M1/.smithers/smithers.db
mkdir "$M1"
# With a third agent that sets 2 400 keys: more transitions than the
# shipper verifies at a time (1 024 a request, two requests, then a batch
# is shipped before more).
flow "$M1/flow.ini" m1 3 0
sed -i 's/^ship_wait = .*/ship_wait = 20s\nverify = 1s/' "$M1/flow.ini"
cat >>"$M1/flow.ini" <<INI
[agent c]
phase = work
command = /usr/bin/python3 $top_srcdir/tests/integration/agent.py set k 2400 100
INI
m1sql() { sqlite3 "$DB1" "$1"; }

# ---- no sink ----------------------------------------------------------------
run "$SMITHERS" --dir "$M1" run "$M1/flow.ini"
expect_rc 0
err_has "fleet: no sink answers on smithers-verify.m1"
[ "$(grep -c "no sink answers" "$ERR")" -eq 1 ] ||
	fail "no sink said more than once: $(grep fleet: "$ERR")"
err_has "is not verified yet; the next run of this state dir verifies it"
# Shipped, and kept: nothing is verified.
[ "$(m1sql "SELECT count(*) FROM fleet_outbox WHERE id > (SELECT shipped
	FROM fleet_cursor WHERE name = 'outbox')")" -eq 0 ] ||
	fail "rows left to ship"
[ "$(m1sql "SELECT count(*) FROM fleet_outbox")" -gt 0 ] ||
	fail "the outbox let go of rows no sink verified"
[ "$(m1sql "SELECT sum(verified) FROM fleet_verified")" -eq 0 ] ||
	fail "verified with no sink: $(m1sql "SELECT * FROM fleet_verified")"
# db stats counts them: every transition and every row with an entry.
run "$SMITHERS" --dir "$M1" db stats --json
json 'j["fleet_unshipped"] == 0 and j["fleet_unverified"] == '"$(m1sql \
	"SELECT (SELECT count(*) FROM transitions) +
		(SELECT count(*) FROM fleet_outbox)")"

# ---- three messages lost ----------------------------------------------------
# The newest message of each: the transition is past the first two
# chunks, found only if verifying goes on after them.
t=$(m1sql "SELECT max(id) FROM transitions")
a=$(m1sql "SELECT row_id || ':' || id FROM fleet_outbox WHERE tbl = 'agents'
	ORDER BY id DESC LIMIT 1")
e=$(m1sql "SELECT row_id || ':' || id FROM fleet_outbox
	WHERE tbl = 'executions' ORDER BY id DESC LIMIT 1")
$NATS "$NATS_URLS" rm-last SMITHERS smithers.m1.transitions \
	smithers.m1.agents smithers.m1.executions >rm.out ||
	fail "cannot delete the three messages"
[ "$(cat rm.out)" = "m1:transitions:$t:1
m1:agents:$a
m1:executions:$e" ] || fail "not the three messages deleted: $(cat rm.out)"
sink s1
ntr=$(m1sql "SELECT count(*) FROM transitions")
wait_until 30 rows_in m1 transitions $((ntr - 1))
sleep 1
if $COMPARE "$DB1" m1 >compare.out 2>&1; then
	fail "the fleet view has the rows deleted from the stream"
fi
grep -q "transitions" compare.out ||
	fail "the transition is not missing: $(cat compare.out)"

# ---- the next run verifies, and sends them again ---------------------------
flow "$M1/flow.ini" m1 2 0
sed -i 's/^ship_wait = .*/ship_wait = 20s\nverify = 1s/' "$M1/flow.ini"
run "$SMITHERS" --dir "$M1" run "$M1/flow.ini"
expect_rc 0
# The transitions are verified first, then the outbox's rows.
err_has "fleet: the fleet view lacked 1 row that JetStream had acked (the first: transitions $t); 1 sent again"
err_has "fleet: the fleet view lacked 2 rows that JetStream had acked (the first: executions ${e%:*}); 2 sent again"
same "$DB1" m1
grep -q "the fleet view lacks 1 of [0-9]* rows m1 asked about (the first: transitions $t)" s1.err &&
	grep -q "the fleet view lacks 2 of [0-9]* rows m1 asked about" s1.err ||
	fail "the sink did not say what it lacked: $(cat s1.err)"
# Verified to the end: the outbox is empty, the cursors met.
[ "$(m1sql "SELECT count(*) FROM fleet_outbox")" -eq 0 ] ||
	fail "the outbox kept verified rows: $(m1sql "SELECT * FROM
		fleet_cursor; SELECT * FROM fleet_verified")"
[ "$(m1sql "SELECT count(*) FROM fleet_cursor AS c JOIN fleet_verified
	AS v USING (name) WHERE v.verified = c.shipped")" -eq 2 ] ||
	fail "the verified cursors are not the shipped ones: $(m1sql "SELECT
		* FROM fleet_cursor; SELECT * FROM fleet_verified")"
if grep -q "not verified yet" "$ERR"; then
	fail "the end of a run with a sink left rows unverified"
fi
run "$SMITHERS" --dir "$M1" db stats --json
json 'j["fleet_unverified"] == 0'

# ---- requests that are not a supervisor's -----------------------------------
before=$(pg_sql "SELECT count(*) FROM smithers.transitions")
$NATS "$NATS_URLS" req smithers-verify.x 'not json' >req.out ||
	fail "no answer to a request that is not JSON"
grep -q '"error": *"not a request of a smithers supervisor"' req.out ||
	fail "not JSON: $(cat req.out)"
$NATS "$NATS_URLS" req smithers-verify.x \
	'{"machine":"x","seq":0,"rows":[["nope",1,1]]}' >req.out ||
	fail "no answer to a request for another table"
grep -q "row 0 of the request is not \[TABLE, ID, VERSION\] of a table" \
	req.out || fail "an unknown table: $(cat req.out)"
$NATS "$NATS_URLS" req smithers-verify.x \
	'{"machine":"x","seq":0,"rows":[["agents",1,5],["transitions",2,1]]}' \
	>req.out || fail "no answer to a machine the fleet has not seen"
grep -q '"missing": *\[\["transitions", *2, *1\], *\["agents", *1, *5\]\]' \
	req.out || grep -q '"missing": *\[\["agents", *1, *5\], *\["transitions", *2, *1\]\]' \
	req.out || fail "a machine it has not seen lacks both: $(cat req.out)"
[ "$(pg_sql "SELECT count(*) FROM smithers.transitions")" = "$before" ] ||
	fail "a request wrote into the fleet view"
stop_sink s1
grep -q "rows verified, 5 of them lacking" s1.err ||
	fail "the sink's last line does not count: $(tail -n 2 s1.err)"

# ---- a sink behind the stream says so ---------------------------------------
# A backlog of 100 000 messages (not ours: skipped) for the next sink; while
# it reads them, a request about rows acked at the stream's end gets
# "behind" (a row not written yet is not lost); once it has read them,
# the same request gets what the fleet view lacks.
$NATS --timeout 30 "$NATS_URLS" flood smithers.m9.junk 100000 \
	2>flood.err || fail "cannot flood: $(cat flood.err)"
# The stream's end, once it has stored them (its replicas may take a while).
last_seq() {
	$NATS --timeout 20 "$NATS_URLS" stream-info SMITHERS | "$PYTHON" -c \
		'import json, sys; print(json.load(sys.stdin)["state"]["last_seq"])'
}
wait_until 60 last_seq
last=$(last_seq)
ask='{"machine":"x","seq":'$last',"rows":[["agents",1,5]]}'
sink s2
got=
i=0 nb=0
while [ "$i" -lt 200 ]; do
	i=$((i + 1))
	if $NATS "$NATS_URLS" req smithers-verify.x "$ask" >req.out 2>&1; then
		if grep -q '"behind"' req.out; then
			got=behind
			nb=$((nb + 1))
		elif grep -q '"missing"' req.out; then
			break
		fi
	fi
	sleep 0.05
done
echo "behind for $nb answers of $i" >&2
[ "$got" = behind ] ||
	fail "a sink behind the stream did not say so: $(cat req.out)"
grep -q '"missing": *\[\["agents", *1, *5\]\]' req.out ||
	fail "caught up, the sink did not answer: $(cat req.out)"

# ---- a row the sinks will never write is let go ----------------------------
# A state value with a NUL: the store keeps it (JSON "a\u0000b"), and
# PostgreSQL's jsonb refuses it, so the sink skips the transition. Each
# verification finds it lacking; sent again three times, it is let go
# with a warning, and the rest is verified.
M2=$T/m2
DB2=$M2/.smithers/smithers.db
mkdir "$M2"
cat >"$M2/flow.ini" <<INI
[workflow]
[fleet]
nats = $NATS_URLS
machine = m2
ship_wait = 20s
verify = 1s
[phase work]
[agent a]
phase = work
command = /usr/bin/python3 $top_srcdir/tests/integration/agent.py nul z
INI
run "$SMITHERS" --dir "$M2" run "$M2/flow.ini"
expect_rc 0
t2=$(sqlite3 "$DB2" "SELECT id FROM transitions WHERE new_value LIKE '%u0000%'")
[ -n "$t2" ] || fail "the store has no transition with the NUL"
[ "$(grep -c "fleet: the fleet view lacked 1 row that JetStream had acked (the first: transitions $t2); 1 sent again" "$ERR")" -eq 3 ] ||
	fail "not sent again three times: $(grep fleet: "$ERR")"
err_has "fleet: rows sent again 3 times are still not in the fleet view (a sink's log says why); let go"
if grep -q "not verified yet" "$ERR"; then
	fail "a row let go left the rest unverified"
fi
[ "$(sqlite3 "$DB2" "SELECT count(*) FROM fleet_cursor AS c JOIN
	fleet_verified AS v USING (name) WHERE v.verified = c.shipped")" -eq 2 ] ||
	fail "the verified cursors are not the shipped ones: $(sqlite3 "$DB2" \
		"SELECT * FROM fleet_cursor; SELECT * FROM fleet_verified")"
[ "$(pg_sql "SELECT count(*) FROM smithers.transitions WHERE machine = 'm2'
	AND id = $t2")" -eq 0 ] || fail "PostgreSQL took the NUL"
[ "$(pg_sql "SELECT count(*) FROM smithers.executions WHERE machine = 'm2'")" \
	-eq 1 ] || fail "m2's execution is not in the fleet view"
stop_sink s2
grep -q "PostgreSQL refused it" s2.err ||
	fail "the sink did not say why it skipped the row: $(cat s2.err)"
