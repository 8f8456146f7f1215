# lib.sh - sourced by every integration test: a fresh `mktemp -d` working
# directory removed on exit, the programs under test, and assertions.
#
# run CMD...      run CMD, its stdout in $OUT, stderr in $ERR, status in $rc;
#                 a sanitizer report on stderr fails the test at once
# expect_rc N     the last run exited N
# out_has S / out_lacks S / err_has S   fixed-string searches
# out_is S / err_is S                   exact content
# json EXPR       the last run's stdout is JSON; EXPR (Python, the document
#                 is j) is true
# populate ARGS   tests/integration/populate ARGS, which must succeed

set -eu

: "${top_builddir:?run the tests with 'make check'}"
: "${top_srcdir:?run the tests with 'make check'}"
GIT=${GIT:-git}
export GIT
SMITHERS="$top_builddir/tools/smithers"
POPULATE="$top_builddir/tests/integration/populate"
PYTHON=/usr/bin/python3
# No state dir from the caller's environment; a known character set.
unset SMITHERS_DIR
LC_ALL=C.UTF-8
export LC_ALL
T=$(mktemp -d "${TMPDIR:-/tmp}/smithers-test.XXXXXX")
# Keep git away from the user's configuration.
GIT_CONFIG_NOSYSTEM=1
HOME=$T
export GIT_CONFIG_NOSYSTEM HOME
OUT="$T/.out"
ERR="$T/.err"
BG_PIDS=
# The cgroups of a supervisor the test SIGKILLed (its state dir's cgroups
# file lists them) are the next supervisor's to remove: when no next one
# came, the test removes them itself, killing what is left in them.
# Best effort: nothing here can fail the test.
remove_cgroups() {
	for list in "$T"/.smithers/cgroups "$T"/*/.smithers/cgroups; do
		[ -f "$list" ] || continue
		while read -r dir; do
			[ -d "$dir" ] || continue
			for sub in "$dir"/*/; do
				[ -d "$sub" ] || continue
				if [ -e "$sub/cgroup.kill" ]; then
					echo 1 >"$sub/cgroup.kill" 2>/dev/null || :
				fi
				i=0
				until rmdir "$sub" 2>/dev/null || [ "$i" -ge 40 ]; do
					i=$((i + 1))
					sleep 0.05
				done
			done
			rmdir "$dir" 2>/dev/null || :
		done <"$list" || :
	done
}
cleanup() {
	for pid in $BG_PIDS; do
		kill "$pid" 2>/dev/null || :
		wait "$pid" 2>/dev/null || :
	done
	remove_cgroups || :
	cd /
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
cd "$T"

fail() {
	echo "FAIL: $*" >&2
	if [ -f "$OUT" ]; then
		echo "--- stdout of the last run:" >&2
		head -n 40 "$OUT" >&2
	fi
	if [ -f "$ERR" ]; then
		echo "--- stderr of the last run:" >&2
		head -n 40 "$ERR" >&2
	fi
	exit 1
}

run() {
	LAST="$*"
	set +e
	"$@" >"$OUT" 2>"$ERR"
	rc=$?
	set -e
	if grep -Eq 'Sanitizer|runtime error:' "$ERR"; then
		fail "sanitizer report from: $LAST"
	fi
	if [ "$rc" -gt 128 ]; then
		fail "killed by signal $((rc - 128)): $LAST"
	fi
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "'$LAST' exited $rc, not $1"
}

out_has() {
	grep -qF -- "$1" "$OUT" || fail "stdout of '$LAST' lacks '$1'"
}

out_lacks() {
	! grep -qF -- "$1" "$OUT" || fail "stdout of '$LAST' has '$1'"
}

err_has() {
	grep -qF -- "$1" "$ERR" || fail "stderr of '$LAST' lacks '$1'"
}

out_is() {
	[ "$(cat "$OUT")" = "$1" ] || fail "stdout of '$LAST' is not '$1'"
}

err_is() {
	[ "$(cat "$ERR")" = "$1" ] || fail "stderr of '$LAST' is not '$1'"
}

json() {
	"$PYTHON" -c '
import json, sys
with open(sys.argv[1], "rb") as f:
    j = json.loads(f.read().decode("utf-8"))
if not eval("(" + sys.argv[2] + "\n)", {"j": j}):
    sys.exit(1)
' "$OUT" "$1" || fail "JSON of '$LAST' fails: $1"
}

populate() {
	"$POPULATE" "$@" || fail "populate $* failed"
}

# Start `populate --hold DIR` in the background; its pid in $HOLDER.
hold_lock() {
	"$POPULATE" --hold "$1" >"$T/.hold" &
	HOLDER=$!
	BG_PIDS="$BG_PIDS $HOLDER"
	i=0
	until grep -q '^locked' "$T/.hold" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "populate --hold did not lock"
		sleep 0.05
	done
}

release_lock() {
	kill "$HOLDER"
	wait "$HOLDER" 2>/dev/null || :
}

# ---- for the tests of `smithers run` ---------------------------------------
AGENT="$PYTHON $top_srcdir/tests/integration/agent.py"

# sql SQL: run SQL on the test dir's database (read-only), rows on stdout,
# columns separated by '|'.
sql() {
	"$PYTHON" - "$T/.smithers/smithers.db" "$1" <<'PY'
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
for row in con.execute(sys.argv[2]):
    print("|".join("" if v is None else str(v) for v in row))
PY
}

# check_acked DB EXECUTION FILE...: every seq in the side files of `agent.py
# acklog` (FILE named *.AGENT) is in DB exactly once, as the key
# EXECUTION.AGENT.kSEQ with the value SEQ, and DB passes integrity_check.
check_acked() {
	"$PYTHON" - "$@" <<'PY' || fail "acked writes are missing from $1"
import sqlite3, sys
con = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
checked = 0
for path in sys.argv[3:]:
    agent = path.rsplit(".", 1)[1]
    for line in open(path):
        if not line.endswith("\n"):
            continue  # torn by a kill: never acked to the file
        seq = int(line)
        key = "%s.%s.k%d" % (sys.argv[2], agent, seq)
        row = con.execute("SELECT value FROM state WHERE key = ?",
                          (key,)).fetchone()
        if row is None or int(row[0]) != seq:
            sys.exit("missing %s" % key)
        n = con.execute("SELECT count(*) FROM transitions WHERE key = ?",
                        (key,)).fetchone()[0]
        if n != 1:
            sys.exit("%s has %d transitions" % (key, n))
        checked += 1
print("checked %d acked writes" % checked)
PY
}

# sql_is SQL EXPECTED: the rows of SQL are EXPECTED.
sql_is() {
	got=$(sql "$1") || fail "sql failed: $1"
	[ "$got" = "$2" ] || fail "'$1' gave '$got', not '$2'"
}

# wait_until TIMEOUT_S CMD...: poll CMD every 50 ms until it succeeds.
wait_until() {
	limit=$(($1 * 20))
	shift
	i=0
	until "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -lt "$limit" ] || fail "timed out waiting for: $*"
		sleep 0.05
	done
}

# start_run WORKFLOW [OPTION...]: `smithers run` in the background, pid in
# $SUP, its stderr in $T/.sup.err.
start_run() {
	LAST="smithers run $* (in the background)"
	"$SMITHERS" --dir "$T" run "$@" >"$T/.sup.out" 2>"$T/.sup.err" &
	SUP=$!
	BG_PIDS="$BG_PIDS $SUP"
}

# wait_run: wait for $SUP, its exit status in $rc; fail on sanitizer output.
wait_run() {
	set +e
	wait "$SUP"
	rc=$?
	set -e
	if grep -Eq 'Sanitizer|runtime error:' "$T/.sup.err"; then
		cat "$T/.sup.err" >&2
		fail "sanitizer report from smithers run"
	fi
}

# cpu_ms PID: the CPU time PID itself used so far (user and system, not
# its children's), in milliseconds.
cpu_ms() {
	"$PYTHON" -c '
import os, sys
f = open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")", 1)[1].split()
print((int(f[11]) + int(f[12])) * 1000 // os.sysconf("SC_CLK_TCK"))
' "$1"
}

# alive PID: whether a process PID exists (and is not a zombie).
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
