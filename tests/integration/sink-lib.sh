# sink-lib.sh - sourced after fleet-lib.sh by the tests of the sink: the
# workflows that ship, sinks in the background, and the checks of the
# fleet view against the local stores (fleet-compare.py).
#
# flow FILE MACHINE N SLEEP   a workflow that ships (see below)
# sink NAME [ARGS]            `smithers fleet sink` in the background,
#                             its stderr in NAME.err; sink_pid NAME
# stop_sink NAME              SIGTERM it; it must exit 0
# rows_in MACHINE TABLE N     the fleet view has N rows of MACHINE's TABLE
# same DB MACHINE [DB MACHINE...]
#                             wait until the fleet view holds exactly the
#                             rows of each store DB as MACHINE's; fails
#                             with the differences after 60 s + 30 s
# The EXIT trap kills the sinks left and puts the end of what each said
# in the log, then runs fleet_cleanup.

COMPARE="$PYTHON $top_srcdir/tests/integration/fleet-compare.py"
export PG_BIN

# flow FILE MACHINE N SLEEP: a workflow of two agents that set N keys each
# (0: until the file $T/stop is there), SLEEP s apart; a sets JSON values,
# then records a tool call, usage with a cost, a memory and an artifact.
cat >"$T/setter.sh" <<SH
T=$T
SH
cat >>"$T/setter.sh" <<'SH'
i=0
while if [ "$2" = 0 ]; then [ ! -f "$T/stop" ]; else [ $i -lt "$2" ]; fi
do
	i=$((i + 1))
	if [ "$1" = a ]; then
		$SMITHERS emit state.set a$i "{\"n\": $i, \"s\": \"x\"}"
	else
		$SMITHERS emit state.set b$i $i
	fi || exit 1
	sleep "$3"
done
[ "$1" = b ] && exit 0
call=$($SMITHERS emit tool.start Bash '{"command": "ls"}') &&
	$SMITHERS emit tool.complete "$call" --output "a b" --summary ls &&
	$SMITHERS emit usage 1200 340 --cost 0.012345 &&
	$SMITHERS emit memory.add fact "k-$2" "it works" &&
	echo hi >"out-$$" &&
	$SMITHERS emit artifact.add out "out-$$" --metadata '{"n": [1, 2.5]}'
SH
flow() {
	cat >"$1" <<INI
[workflow]
[fleet]
nats = $NATS_URLS
machine = $2
ship_wait = 20s
[phase work]
[agent a]
phase = work
command = SMITHERS=$SMITHERS sh $T/setter.sh a $3 $4
[agent b]
phase = work
command = SMITHERS=$SMITHERS sh $T/setter.sh b $3 $4
INI
}

SINKS=
# sink NAME [ARGS]: a sink in the background, its output in NAME.err.
sink() {
	_n=$1
	shift
	"$SMITHERS" fleet sink --nats "$NATS_URLS" --postgres "$PG_CONNINFO" \
		"$@" >"$_n.out" 2>"$_n.err" &
	eval "SINK_$_n=$!"
	SINKS="$SINKS $!"
}
sink_pid() { eval "echo \$SINK_$1"; }
stop_sink() {
	_p=$(sink_pid "$1")
	kill -TERM "$_p"
	wait "$_p" || fail "sink $1 exited $? on SIGTERM: $(cat "$1.err")"
}
# At exit the sinks go, and the end of what each said goes to the log.
trap 'for p in $SINKS; do kill -9 $p 2>/dev/null || :; done
	for f in s*.err bad.err; do
		[ -f "$f" ] && { echo "== $f"; tail -n 8 "$f"; }
	done >&2 2>/dev/null || :
	fleet_cleanup' EXIT

# rows_in MACHINE TABLE N: the fleet view holds N rows of MACHINE's TABLE.
rows_in() {
	[ "$(pg_sql "SELECT count(*) FROM smithers.$2 WHERE machine = '$1'" \
		2>/dev/null)" = "$3" ]
}
# caught_up DB MACHINE: every transition of DB is in the fleet view.
caught_up() {
	rows_in "$2" transitions \
		"$(sqlite3 "$1" "SELECT count(*) FROM transitions")" &&
		rows_in "$2" agents \
			"$(sqlite3 "$1" "SELECT count(*) FROM agents")"
}
# same DB MACHINE...: the fleet view holds exactly these rows.
same() {
	wait_until 60 caught_up "$1" "$2"
	# The last changes of a row may still be on their way.
	_end=$(($(date +%s) + 30))
	until $COMPARE "$@" >compare.out 2>&1; do
		[ "$(date +%s)" -lt "$_end" ] ||
			fail "the fleet view differs: $(cat compare.out)"
		sleep 0.5
	done
}

