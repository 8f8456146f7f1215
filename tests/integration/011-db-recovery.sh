#!/bin/sh
# db recovery: for an execution left running (a supervisor killed), the
# newest phase iteration and what a restart would do with each agent
# (skip the completed, resume the others); nothing when everything ended;
# a note while a supervisor runs.
. "$top_srcdir/tests/integration/lib.sh"

populate done
populate running --running

run "$SMITHERS" --dir done db recovery
expect_rc 0
out_is "nothing to resume: no execution was left running"
err_is ""
run "$SMITHERS" --dir done db recovery --json
expect_rc 0
out_is "[]"

run "$SMITHERS" --dir running db recovery --json
expect_rc 0
json 'len(j) == 2'
json 'all(r["execution_id"] == 1 and r["execution"] == "survey" for r in j)'
json 'all(r["phase_id"] == 3 and r["phase"] == "review" and
          r["iteration"] == 1 for r in j)'
json '[(r["agent_id"], r["agent"], r["status"], r["attempt"], r["action"])
      for r in j] == [(4, "reviewer", "running", 2, "resume"),
                      (5, "summarizer", "completed", 1, "skip")]'

run "$SMITHERS" --dir running db recovery
expect_rc 0
head -n 1 "$OUT" |
	grep -Eq '^EXECUTION_ID +EXECUTION +PHASE_ID +PHASE +ITERATION +AGENT_ID +AGENT +STATUS +ATTEMPT +ACTION$' ||
	fail "bad recovery header"
grep -Eq '^ +1 +survey +3 +review +1 +4 +reviewer +running +2 +resume$' \
	"$OUT" || fail "no resume row"
grep -Eq '^ +1 +survey +3 +review +1 +5 +summarizer +completed +1 +skip$' \
	"$OUT" || fail "no skip row"
err_is ""

# With a live supervisor, its executions are not interrupted: say so.
hold_lock running
run "$SMITHERS" --dir running db recovery
expect_rc 0
err_has "a supervisor (pid $HOLDER) is running"
grep -Eq ' resume$' "$OUT" || fail "the plan is not shown"
release_lock
exit 0
