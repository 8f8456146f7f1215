#!/bin/sh
# Where cgroups cannot be made (here: the cgroup2 file system read-only, in
# a mount namespace of the supervisor's own): `cgroups = required` refuses
# to start, with the reason; `auto` says so once, in the log and on the
# execution's row, and runs its agents in process groups as before.
. "$top_srcdir/tests/integration/lib.sh"
# About cgroups themselves: never without (smithers(1) SMITHERS_CGROUPS).
unset SMITHERS_CGROUPS

mnt=$(awk '$9 == "cgroup2" { print $5; exit }' /proc/self/mountinfo)
[ -n "$mnt" ] || { echo "SKIP: no cgroup2 file system"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root for a mount namespace"; exit 77; }
unshare -m --propagation private true 2>/dev/null ||
	{ echo "SKIP: unshare -m is refused here"; exit 77; }

# run_ro CMD...: CMD with the cgroup2 mount read-only.
run_ro() {
	run unshare -m --propagation private sh -c '
		mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" ||
			exit 99
		shift
		exec "$@"' sh "$mnt" "$@"
	[ "$rc" -ne 99 ] || fail "cannot make '$mnt' read-only"
}

flow() {
	cat >flow.ini <<INI
[workflow]
cgroups = $1
[phase work]
[agent a]
phase = work
command = echo ran >"$T/ran"
[agent b]
phase = work
command = true
INI
}

flow required
run_ro "$SMITHERS" --dir "$T" run flow.ini
expect_rc 2
err_has "cgroups = required, but"
err_has "Read-only file system"
[ ! -e "$T/ran" ] || fail "an agent ran without its cgroup"

flow auto
run_ro "$SMITHERS" --dir "$T" run flow.ini
expect_rc 0
[ -e "$T/ran" ] || fail "the agent did not run"
[ "$(grep -c "agents run in process groups, not cgroups" "$ERR")" = 1 ] ||
	fail "the fallback was not said exactly once"
sql_is "SELECT containment LIKE 'process groups: %Read-only file system%'
	FROM executions ORDER BY id DESC LIMIT 1" "1"
id=$(sql "SELECT max(id) FROM executions")
run "$SMITHERS" --dir "$T" db execution "$id" --json
expect_rc 0
json 'j["containment"].startswith("process groups: ") and "Read-only file system" in j["containment"]'
