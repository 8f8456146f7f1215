#!/bin/sh
# db state and db transitions, as text and as JSON, against the dataset of
# populate.c: three keys left, seven transitions including a delete.
. "$top_srcdir/tests/integration/lib.sh"

populate .

# ---- state: the table
run "$SMITHERS" db state
expect_rc 0
err_is ""
head -n 1 "$OUT" | grep -Eq '^KEY +VALUE +UPDATED_AT +UPDATED_BY$' ||
	fail "bad header"
[ "$(wc -l <"$OUT")" -eq 4 ] || fail "not 3 keys and a header"
# By key, one line each, values as JSON.
sed -n 2p "$OUT" | grep -Eq '^notes +"tab\\there\\nnew line ' ||
	fail "notes is not first or not raw JSON"
sed -n 3p "$OUT" | grep -Eq '^review\.approved +true +[0-9T:.-]+Z +3$' ||
	fail "bad review.approved row"
sed -n 4p "$OUT" | grep -Eq '^survey\.files +14 +[0-9T:.-]+Z +1$' ||
	fail "bad survey.files row"
out_lacks "tmp.scratch"
# Columns line up: VALUE starts at the same offset on every line.
awk 'NR == 1 { col = index($0, "VALUE") }
     NR > 1 && substr($0, col - 2, 2) != "  " { bad = 1 }
     END { exit bad }' "$OUT" || fail "columns do not line up"
# No line ends in spaces.
! grep -q ' $' "$OUT" || fail "trailing spaces"

# ---- state: JSON
run "$SMITHERS" db state --json
expect_rc 0
json '[r["key"] for r in j] == ["notes", "review.approved", "survey.files"]'
json 'j[2]["value"] == 14 and j[1]["value"] is True'
json 'j[0]["value"] == "tab\there\nnew line \u0001 \"quoted\" caf\u00e9"'
json 'j[0]["updated_by"] is None and j[2]["updated_by"] == 1'
json 'all(r["updated_at"].endswith("Z") for r in j)'
json 'sorted(j[0]) == ["key", "updated_at", "updated_by", "value"]'

# ---- state KEY: the raw JSON value, or one object with --json
run "$SMITHERS" db state survey.files
expect_rc 0
out_is "14"
run "$SMITHERS" db state review.approved
out_is "true"
run "$SMITHERS" db state notes
out_is '"tab\there\nnew line \u0001 \"quoted\" café"'
run "$SMITHERS" db state survey.files --json
expect_rc 0
json 'j["key"] == "survey.files" and j["value"] == 14'
json 'j["updated_by"] == 1'
run "$SMITHERS" db state tmp.scratch
expect_rc 1
err_is "smithers: no state key 'tmp.scratch'"

# ---- transitions: newest first, the delete has no new value
run "$SMITHERS" db transitions
expect_rc 0
head -n 1 "$OUT" | grep -Eq '^ID +KEY +OLD_VALUE +NEW_VALUE +TRIGGER +AGENT_ID +CREATED_AT$' ||
	fail "bad transitions header"
[ "$(wc -l <"$OUT")" -eq 8 ] || fail "not 7 transitions"
sed -n 2p "$OUT" | grep -Eq '^ 7 +review\.approved +false +true +reviewer +3 ' ||
	fail "transition 7 is not first"
sed -n 3p "$OUT" | grep -Eq '^ 6 +tmp\.scratch +"x" +cleanup ' ||
	fail "the delete (6) is not shown with an empty new value"
sed -n 8p "$OUT" | grep -Eq '^ 1 +survey\.files +12 +file-stats +1 ' ||
	fail "transition 1 is not last"

run "$SMITHERS" db transitions --json
expect_rc 0
json '[r["id"] for r in j] == [7, 6, 5, 4, 3, 2, 1]'
json 'j[1]["key"] == "tmp.scratch" and j[1]["old_value"] == "x"'
json 'j[1]["new_value"] is None and j[1]["trigger"] == "cleanup"'
json 'j[5]["old_value"] == 12 and j[5]["new_value"] == 14'
json 'j[6]["old_value"] is None and j[6]["agent_id"] == 1'
json 'all(r["execution_id"] == 1 for r in j if r["agent_id"])'
json 'sorted(j[0]) == sorted(["id", "execution_id", "key", "old_value",
     "new_value", "trigger", "agent_id", "created_at"])'

# --key and -n
run "$SMITHERS" db transitions --key survey.files --json
json '[r["id"] for r in j] == [2, 1]'
run "$SMITHERS" db transitions --key review.approved -n 1 --json
json '[r["id"] for r in j] == [7]'
run "$SMITHERS" db transitions -n 3 --json
json '[r["id"] for r in j] == [7, 6, 5]'
run "$SMITHERS" db transitions -n 0 --json
json 'len(j) == 7'
run "$SMITHERS" db transitions -n 2
[ "$(wc -l <"$OUT")" -eq 3 ] || fail "-n 2 did not give 2 rows"
run "$SMITHERS" db transitions --key no.such --json
expect_rc 0
out_is "[]"
# An empty table still shows its header.
run "$SMITHERS" db transitions --key no.such
expect_rc 0
out_is "ID  KEY  OLD_VALUE  NEW_VALUE  TRIGGER  AGENT_ID  CREATED_AT"
exit 0
