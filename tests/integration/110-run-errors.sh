#!/bin/sh
# Errors of `smithers run`: an invalid workflow names file:line (exit 2); a
# second supervisor on the same dir names the holder's pid (exit 3); a
# command that does not exist fails its agent with status 127.
. "$top_srcdir/tests/integration/lib.sh"

cat >bad.ini <<INI
[phase work]
[agent a]
phase = work
comand = true
INI
run "$SMITHERS" --dir "$T" run bad.ini
expect_rc 2
err_has "bad.ini:4:"
err_has "comand"

run "$SMITHERS" --dir "$T" run missing.ini
expect_rc 2
err_has "missing.ini"

cat >flow.ini <<INI
[phase work]
[agent ghost]
phase = work
command = /nonexistent/agent --flag
restart = never
INI
run "$SMITHERS" --dir "$T" run flow.ini
expect_rc 1
# No shell syntax: the worker execs it and says why it could not.
sql_is "SELECT status, exit_code, error FROM agents" \
	"failed|127|cannot run '/nonexistent/agent' in '$T': No such file or directory"

cat >slow.ini <<INI
[phase work]
[agent slow]
phase = work
command = exec sleep 30
INI
start_run slow.ini
wait_until 20 test -S "$T/.smithers/supervisor.sock"
run "$SMITHERS" --dir "$T" run slow.ini
expect_rc 3
err_has "another supervisor (pid $SUP) runs in"
kill "$SUP"
wait_run
