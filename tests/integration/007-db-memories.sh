#!/bin/sh
# db memories: the list (newest first), --category, --scope, --search (best
# match first, with the search's rank), -n, as text and JSON.
. "$top_srcdir/tests/integration/lib.sh"

populate .

run "$SMITHERS" db memories
expect_rc 0
head -n 1 "$OUT" |
	grep -Eq '^ID +CATEGORY +SCOPE +KEY +CONTENT +CONFIDENCE +UPDATED_AT$' ||
	fail "bad memories header"
[ "$(wc -l <"$OUT")" -eq 6 ] || fail "not 5 memories"
grep -Eq '^ 3 +preference +session +style\.tabs +Indent with tabs, eight columns wide +1\.0 ' \
	"$OUT" || fail "no style.tabs row"
# Content longer than a cell is cut with an ellipsis, on one line.
grep -Eq '^ 5 +skill +global +git\.bisect +Use git bisect run with a test script t… +0\.75 ' \
	"$OUT" || fail "long content is not shortened"

run "$SMITHERS" db memories --json
expect_rc 0
json '[m["id"] for m in j] == [5, 4, 3, 2, 1]'
json 'j[0]["confidence"] == 0.75 and isinstance(j[0]["confidence"], float)'
json 'j[0]["expires_at"] == "2099-01-01T00:00:00.000Z"'
json 'j[1]["category"] == "context" and j[1]["source_execution_id"] == 1'
json 'j[1]["source"] == "workflow" and j[3]["source"] is None'
json 'j[4]["content"] == "The project is written in C with autotools"'
json 'all(m["accessed_at"] is None for m in j)'

run "$SMITHERS" db memories --category learning --json
json '[(m["id"], m["key"]) for m in j] == [(2, "build.flaky")]'
run "$SMITHERS" db memories --scope project --json
json '[m["id"] for m in j] == [4, 2]'
run "$SMITHERS" db memories --scope global --category skill --json
json '[m["id"] for m in j] == [5]'
run "$SMITHERS" db memories --scope session --category fact --json
out_is "[]"
run "$SMITHERS" db memories -n 2 --json
json '[m["id"] for m in j] == [5, 4]'

# Full-text search over key and content.
run "$SMITHERS" db memories --search tabs --json
expect_rc 0
json '[m["key"] for m in j] == ["style.tabs"]'
json 'isinstance(j[0]["rank"], float)'
run "$SMITHERS" db memories --search tabs
expect_rc 0
head -n 1 "$OUT" | grep -Eq ' RANK$' || fail "no RANK column"
grep -Eq '^ 3 +preference +session +style\.tabs ' "$OUT" ||
	fail "no search hit row"
run "$SMITHERS" db memories --search 'git OR project' --json
json 'sorted(m["id"] for m in j) == [1, 5]'
json 'j[0]["rank"] <= j[1]["rank"]'
run "$SMITHERS" db memories --search 'git OR project' -n 1 --json
json 'len(j) == 1'
run "$SMITHERS" db memories --search 'survey OR make OR git' --scope project --json
json 'sorted(m["id"] for m in j) == [2, 4]'
run "$SMITHERS" db memories --search 'survey OR make OR git' --scope project -n 1 --json
json 'len(j) == 1 and j[0]["scope"] == "project"'
run "$SMITHERS" db memories --search 'survey OR make OR git' --category skill --json
json '[m["id"] for m in j] == [5]'
run "$SMITHERS" db memories --search nothingmatches --json
out_is "[]"
exit 0
