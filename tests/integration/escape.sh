#!/bin/sh
# escape.sh DIR MODE - an agent that starts three processes that try to
# outlive it, each writing its pid to DIR/NAME.pid:
#   setsid  a daemon in a session of its own (`setsid sleep &`)
#   double  a double-forked daemon (fork, setsid, fork: reparented)
#   noterm  a process that ignores SIGTERM
# then touches DIR/ready and, by MODE: "exit" exits 0; "sleep" sleeps;
# "deaf" sleeps ignoring SIGTERM.
dir=$1
mode=$2
setsid sh -c 'echo $$ >"$1/setsid.pid.tmp"; mv "$1/setsid.pid.tmp" "$1/setsid.pid"; exec sleep 1000' \
	sh "$dir" </dev/null >/dev/null 2>&1 &
(setsid sh -c '(sh -c '\''echo $$ >"$1/double.pid.tmp"; mv "$1/double.pid.tmp" "$1/double.pid"; exec sleep 1000'\'' sh "$1" &)' \
	sh "$dir" </dev/null >/dev/null 2>&1 &)
sh -c 'trap "" TERM; echo $$ >"$1/noterm.pid.tmp"; mv "$1/noterm.pid.tmp" "$1/noterm.pid"; exec sleep 1000' \
	sh "$dir" </dev/null >/dev/null 2>&1 &
i=0
while [ ! -f "$dir/setsid.pid" ] || [ ! -f "$dir/double.pid" ] ||
	[ ! -f "$dir/noterm.pid" ]; do
	i=$((i + 1))
	[ "$i" -lt 400 ] || exit 2
	sleep 0.05
done
touch "$dir/ready"
case $mode in
exit) exit 0 ;;
deaf)
	trap '' TERM
	exec sleep 1000
	;;
*) exec sleep 1000 ;;
esac
