#!/bin/sh
# Bad input from one agent - a protocol version it does not speak, bytes that
# are not a frame, a truncated frame, an oversized length, a map without t,
# an unknown type, a wrong field type, a non-increasing seq, invalid UTF-8 in
# a key - gets it a clear error on its
# row and in the supervisor log, an error frame, and it is stopped; the
# other agents and everything committed are untouched. A value that is not
# JSON is refused alone and the agent goes on.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
on_failure = continue
[agent good]
phase = work
command = $AGENT set good 300 10
[agent badjson]
phase = work
command = $AGENT bad badjson $T/said.badjson
INI
for kind in version notframe truncated oversize no-t unknown-t wrong-type seq utf8; do
	cat >>flow.ini <<INI
[agent $kind]
phase = work
command = exec $AGENT bad $kind $T/said.$kind
restart = never
stop_grace = 1s
INI
done

run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
sql_is "SELECT status FROM agents WHERE name = 'good'" "completed"
sql_is "SELECT count(*) FROM state WHERE key LIKE 'good.%'" "300"
sql_is "SELECT status FROM agents WHERE name = 'badjson'" "completed"
sql_is "SELECT count(*) FROM state WHERE key IN ('badjson', 'goodjson')" "1"
grep -q "errors 1" "$T/said.badjson" || fail "badjson got no error frame"

check() { # NAME WORDS: failed, with WORDS in its error and in the log
	got=$(sql "SELECT status || ': ' || error FROM agents WHERE name = '$1'")
	case $got in
	"failed: protocol error: "*"$2"*) ;;
	*) fail "agent $1: '$got' lacks '$2'" ;;
	esac
	grep -q "agent '$1': protocol error: .*$2" "$T/.smithers/supervisor.log" ||
		fail "the supervisor log lacks agent $1's error"
}
check version "protocol version 99 is not supported"
check notframe "not the smithers protocol"
check truncated "ended inside a frame"
check oversize "exceeds the limit of 1048576 bytes"
check no-t "has no type"
check unknown-t "unknown message type 'state.frobnicate'"
check wrong-type "field 'key' of 'state.set' must be a string"
check seq "not greater than the previous seq"
check utf8 "not valid UTF-8"
# Those still listening heard why, in an error frame marked fatal.
for kind in version notframe oversize no-t unknown-t wrong-type seq utf8; do
	grep -q "fatal=True" "$T/said.$kind" || fail "$kind got no fatal error frame"
done
