#!/bin/sh
# Storage faults other than a full disk (119): clear errors, no crash,
# nothing acknowledged lost.
#  1. the database deleted under a running supervisor: it says so, stops,
#     and copies everything committed to .smithers/smithers.db.rescued;
#     under an idle one too, within FILE_CHECK_IDLE_MS;
#  2. the database locked by another process: at start, a clear error after
#     the busy timeout; while running, a short lock only delays the commits;
#  3. a read-only state dir (a tmpfs remounted read-only; root only):
#     `run` refuses with a clear error, `db` still reads.
. "$top_srcdir/tests/integration/lib.sh"

lines() { cat "$T"/acked.* 2>/dev/null | wc -l; }
lines_ge() { [ "$(lines)" -ge "$1" ]; }
logged() { grep -q "$1" "$T/.sup.err"; }

cat >flow.ini <<INI
[workflow]
name = faults
[phase work]
[agent w1]
phase = work
command = $AGENT acklog $T/acked.w1 1000000
restart = never
[agent w2]
phase = work
command = $AGENT acklog $T/acked.w2 1000000
restart = never
INI

# ---- 1. deleted under a running supervisor -------------------------------
start_run flow.ini
wait_until 30 lines_ge 100
rm .smithers/smithers.db
wait_run
expect_rc 1
logged "the database '$T/./.smithers/smithers.db' was deleted while in use: stopping the execution" ||
	logged "was deleted while in use: stopping the execution" ||
	fail "no error for the deleted database: $(cat "$T/.sup.err")"
logged "everything it held is in '$T/.smithers/smithers.db.rescued'" ||
	fail "no word of the rescued copy"
[ ! -e .smithers/smithers.db ] || fail "a database appeared at the path"
check_acked .smithers/smithers.db.rescued 1 "$T"/acked.*
sql_rescued() {
	"$PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
print(c.execute(sys.argv[2]).fetchone()[0])' .smithers/smithers.db.rescued "$1"
}
[ "$(sql_rescued "SELECT status FROM executions")" = failed ] ||
	fail "the execution did not end failed"
# Put back, it is the store again.
mv .smithers/smithers.db.rescued .smithers/smithers.db
rm -f .smithers/smithers.db-wal .smithers/smithers.db-shm
run "$SMITHERS" db stats --json
expect_rc 0
json 'j["executions"] == 1'

# ---- 1b. deleted under an idle run -----------------------------------------
# Nothing is committed while the agent sleeps: the file is checked every
# 10 s then (FILE_CHECK_IDLE_MS), not at each wake, and the run still stops.
rm -rf .smithers
cat >idle.ini <<INI
[workflow]
name = idle
[phase work]
[agent s]
phase = work
command = exec sleep 600
INI
start_run idle.ini
wait_until 30 logged "agent 's' started"
sleep 1
rm .smithers/smithers.db
gone_at=$(date +%s)
wait_until 30 logged "was deleted while in use: stopping the execution"
took=$(($(date +%s) - gone_at))
wait_run
expect_rc 1
[ "$took" -le 12 ] || fail "the deleted database was seen after $took s"
logged "everything it held is in '$T/.smithers/smithers.db.rescued'" ||
	fail "no word of the rescued copy (idle)"

# ---- 2. locked by another process ------------------------------------------
rm -rf .smithers "$T"/acked.*
run "$SMITHERS" init
expect_rc 0
# lock SECONDS: hold the write lock of the database that long.
lock() {
	"$PYTHON" - "$T/.smithers/smithers.db" "$1" "$T/.locked" <<'PY' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[3], "w").close()
time.sleep(float(sys.argv[2]))
c.execute("ROLLBACK")
PY
	LOCKER=$!
	BG_PIDS="$BG_PIDS $LOCKER"
	wait_until 10 test -e "$T/.locked"
	rm "$T/.locked"
}
lock 8
run "$SMITHERS" run flow.ini
expect_rc 1
err_has "cannot record the execution: "
err_has "database is locked"
wait "$LOCKER" || :
# A lock shorter than the busy timeout: the commits wait, then go on.
start_run flow.ini
wait_until 30 lines_ge 50
lock 2
wait "$LOCKER" || :
before=$(lines)
wait_until 30 lines_ge $((before + 50))
kill -TERM "$SUP"
wait_run
expect_rc 143
! logged "error:" || fail "errors with a short lock: $(grep error: "$T/.sup.err")"
check_acked .smithers/smithers.db 1 "$T"/acked.*

# ---- 3. a read-only state dir --------------------------------------------
FS=$T/fs
mkdir "$FS"
if ! mount -t tmpfs -o size=8m tmpfs "$FS" 2>/dev/null; then
	echo "cannot mount a tmpfs here (not root?): part 3 skipped"
	exit 0
fi
trap 'umount -l "$FS" 2>/dev/null; cleanup' EXIT
cp flow.ini "$FS/"
printf '[phase p]\n[agent a]\nphase = p\ncommand = smithers emit state.set k 7\n' \
	>"$FS/flow.ini"
run "$SMITHERS" --dir "$FS" run "$FS/flow.ini"
expect_rc 0
mount -o remount,ro "$FS"
run "$SMITHERS" --dir "$FS" run "$FS/flow.ini"
expect_rc 2
err_has "cannot lock '$FS/.smithers': Read-only file system (a run writes its state there; 'smithers db' can still read it)"
run "$SMITHERS" --dir "$FS" db state k
expect_rc 0
out_is "7"
exit 0
