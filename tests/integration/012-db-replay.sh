#!/bin/sh
# db replay ID: restores every key as of transition ID, recorded as new
# transitions with trigger replay:ID; refused while a supervisor holds the
# lock (populate --hold, then flock(1)); a missing id fails.
. "$top_srcdir/tests/integration/lib.sh"

populate .

state_is() {
	run "$SMITHERS" db state --json
	json "{r['key']: r['value'] for r in j} == $1"
}

# As of transition 4: survey.files 14, review.approved false, tmp.scratch
# "x", and no notes (set by 5): three keys change.
run "$SMITHERS" db replay 4
expect_rc 0
out_is "replayed transition 4: 3 keys changed"
err_is ""
state_is '{"survey.files": 14, "review.approved": False, "tmp.scratch": "x"}'
run "$SMITHERS" db transitions --json
json 'len(j) == 10'
json 'sorted((r["key"], r["old_value"], r["new_value"]) for r in j[:3]) ==
     [("notes", "tab\there\nnew line \u0001 \"quoted\" caf\u00e9", None),
      ("review.approved", True, False), ("tmp.scratch", None, "x")]'
json 'all(r["trigger"] == "replay:4" and r["agent_id"] is None
          for r in j[:3])'
json '[r["id"] for r in j[:3]] == [10, 9, 8]'
# History is kept: the old transitions are still there.
json '[r["id"] for r in j[3:]] == [7, 6, 5, 4, 3, 2, 1]'

# Again: nothing left to change.
run "$SMITHERS" db replay 4
expect_rc 0
out_is "replayed transition 4: 0 keys changed"
# Forward again, as JSON.
run "$SMITHERS" db replay 7 --json
expect_rc 0
json 'j == {"transition": 7, "changed": 3}'
state_is '{"survey.files": 14, "review.approved": True,
           "notes": "tab\there\nnew line \u0001 \"quoted\" caf\u00e9"}'
run "$SMITHERS" db transitions --key tmp.scratch -n 1 --json
json 'j[0]["trigger"] == "replay:7" and j[0]["new_value"] is None'
# To the first transition: one key set, two deleted.
run "$SMITHERS" db replay 1
out_is "replayed transition 1: 3 keys changed"
state_is '{"survey.files": 12}'
# As of 8 (the first replay's delete of notes): two keys back.
run "$SMITHERS" db replay 8
out_is "replayed transition 8: 2 keys changed"
state_is '{"survey.files": 14, "review.approved": True}'

# Not found, not a number.
run "$SMITHERS" db transitions --json
json 'len(j) == 18'
run "$SMITHERS" db replay 999
expect_rc 1
err_is "smithers: no transition 999"
out_is ""
run "$SMITHERS" db replay nine
expect_rc 2
err_has "'nine' is not a transition id"
run "$SMITHERS" db transitions --json
json 'len(j) == 18'

# Refused while a supervisor holds the lock, naming its pid and the lock.
run "$SMITHERS" db state --json
cp "$OUT" "$T/state-before"
hold_lock .
run "$SMITHERS" db replay 4
expect_rc 1
err_is "smithers: cannot replay: a supervisor (pid $HOLDER) holds './.smithers/supervisor.lock'; stop it first"
out_is ""
run "$SMITHERS" --dir "$T" db replay 4
expect_rc 1
err_is "smithers: cannot replay: a supervisor (pid $HOLDER) holds '$T/.smithers/supervisor.lock'; stop it first"
# Reads still work meanwhile.
run "$SMITHERS" db transitions --json
expect_rc 0
json 'len(j) == 18'
release_lock
run "$SMITHERS" db state --json
cmp -s "$OUT" "$T/state-before" || fail "a refused replay changed the state"

# The same with flock(1) holding the lock and a pid written in the file.
if command -v flock >/dev/null 2>&1; then
	lock=.smithers/supervisor.lock
	: >"$lock"
	flock "$lock" sh -c 'echo $$ >"$1"; exec sleep 30' sh "$lock" &
	BG_PIDS="$BG_PIDS $!"
	i=0
	until [ -s "$lock" ]; do
		i=$((i + 1))
		[ "$i" -lt 200 ] || fail "flock did not start"
		sleep 0.05
	done
	pid=$(cat "$lock")
	run "$SMITHERS" --dir . db replay 4
	expect_rc 1
	err_is "smithers: cannot replay: a supervisor (pid $pid) holds './.smithers/supervisor.lock'; stop it first"
	kill "$pid"
	wait
fi

# Once the lock is free, replay works again.
run "$SMITHERS" db replay 4
expect_rc 0
out_is "replayed transition 4: 2 keys changed"
run "$SMITHERS" db transitions -n 1 --json
json 'j[0]["trigger"] == "replay:4" and j[0]["id"] == 20'
exit 0
