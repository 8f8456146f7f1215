#!/bin/sh
# db tools (a large output spilled to logs/objects under its git blob hash,
# a small one inline, --agent, -n) and db artifacts (the git blob hash and
# HEAD commit of a file in a repository made with $GIT).
. "$top_srcdir/tests/integration/lib.sh"

populate .

# ---- tools
run "$SMITHERS" db tools --json
expect_rc 0
json '[t["id"] for t in j] == [3, 2, 1]'
json '[(t["agent"], t["tool_name"], t["status"]) for t in j] ==
     [("todo-scan", "bash", "failed"), ("file-stats", "read", "completed"),
      ("file-stats", "bash", "completed")]'
json 'j[2]["input"] == {"cmd": "git ls-files"}'
json 'j[1]["output_inline"] == "hello world\n" and j[1]["output_path"] is None'
json 'j[1]["output_size"] == 12'
json 'j[2]["output_inline"] is None and j[2]["output_size"] == 2000'
json 'j[2]["summary"] == "50 lines"'
json 'j[0]["error"] == "exit 1" and j[0]["output_size"] is None'
"$PYTHON" -c 'import json, sys; t = json.load(open(sys.argv[1]))[2];
print(t["output_path"], t["output_hash"])' "$OUT" >"$T/spill"
read -r path hash <"$T/spill"
case $path in
logs/objects/??/*) ;;
*) fail "the spilled output is not under logs/objects: $path" ;;
esac
[ "$path" = "logs/objects/$(echo "$hash" | cut -c1-2)/$(echo "$hash" | cut -c3-)" ] ||
	fail "the object is not named by its hash: $path $hash"
[ -f ".smithers/$path" ] || fail "no object file .smithers/$path"
[ "$(wc -c <".smithers/$path")" -eq 2000 ] || fail "the object is not 2000 bytes"
[ "$("$GIT" hash-object ".smithers/$path")" = "$hash" ] ||
	fail "the object's git hash is not $hash"
head -n 1 ".smithers/$path" | grep -qx 'line 0000: abcdefghijklmnopqrstuvwxyz12' ||
	fail "the object does not hold the output"

run "$SMITHERS" db tools
expect_rc 0
head -n 1 "$OUT" | grep -Eq '^ID +AGENT +TOOL_NAME +STATUS +INPUT +OUTPUT_SIZE ' ||
	fail "bad tools header"
grep -Eq '^ 2 +file-stats +read +completed +\{"path":"README"\} +12 +hello world$' \
	"$OUT" || fail "no inline tool row (its newline must not show)"
grep -Eq '^ 1 +file-stats +bash +completed .* 2000 +logs/objects/' "$OUT" ||
	fail "no spilled tool row"
grep -Eq '^ 3 +todo-scan +bash +failed .* exit 1$' "$OUT" ||
	fail "no failed tool row"
[ "$(wc -l <"$OUT")" -eq 4 ] || fail "a row spans lines"

run "$SMITHERS" db tools --agent 1 --json
json '[t["id"] for t in j] == [2, 1]'
run "$SMITHERS" db tools --agent 2 --json
json '[t["id"] for t in j] == [3]'
run "$SMITHERS" db tools --agent 99 --json
out_is "[]"
run "$SMITHERS" db tools -n 1 --json
json '[t["id"] for t in j] == [3]'
run "$SMITHERS" db tools --agent 1 -n 1 --json
json '[t["id"] for t in j] == [2]'

# ---- artifacts
blob=$("$GIT" hash-object repo/README.md)
head=$("$GIT" -C repo rev-parse HEAD)
run "$SMITHERS" db artifacts --json
expect_rc 0
json 'len(j) == 1 and j[0]["id"] == 1 and j[0]["name"] == "readme"'
json 'j[0]["type"] == "markdown" and j[0]["agent"] == "file-stats"'
json 'j[0]["git_hash"] == "'"$blob"'"'
json 'j[0]["git_commit"] == "'"$head"'"'
json 'j[0]["file_path"].endswith("repo/README.md")'
json 'j[0]["line_count"] == 4 and j[0]["byte_size"] == 22'
json 'j[0]["metadata"] == {"lang": "en", "lines": 4}'
json 'j[0]["summary"] == "the project\u0027s readme"'
run "$SMITHERS" db artifacts
expect_rc 0
grep -Eq "^ 1 +file-stats +readme +markdown +.+ +$blob +$head +4 +22$" \
	"$OUT" || fail "no artifact row"
run "$SMITHERS" db artifacts -n 0 --json
json 'len(j) == 1'
exit 0
