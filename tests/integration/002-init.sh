#!/bin/sh
# smithers init: creates the state dir (0700), the database (0600), the
# example workflow and its agents (executable POSIX sh); a second run keeps
# everything as it is and says so.
. "$top_srcdir/tests/integration/lib.sh"

FILES="smithers.ini agents/file-stats.sh agents/todo-scan.sh
agents/history.sh agents/big-files.sh agents/reviewer.sh"

umask 022
run "$SMITHERS" init proj/sub
expect_rc 0
err_is ""
out_has "created  proj/sub/.smithers/smithers.db"
for f in $FILES; do
	out_has "created  proj/sub/$f"
	[ -s "proj/sub/$f" ] || fail "$f is missing or empty"
done
[ "$(stat -c %a proj/sub/.smithers)" = 700 ] || fail "state dir not 0700"
[ "$(stat -c %a proj/sub/.smithers/smithers.db)" = 600 ] ||
	fail "database not 0600"

# The agents are executable POSIX sh, the workflow is the documented INI.
for f in proj/sub/agents/*.sh; do
	[ -x "$f" ] || fail "$f is not executable"
	head -n 1 "$f" | grep -qx '#!/bin/sh' || fail "$f: not #!/bin/sh"
	sh -n "$f" || fail "$f: sh syntax error"
	if command -v dash >/dev/null 2>&1; then
		dash -n "$f" || fail "$f: dash syntax error"
	fi
	grep -q 'emit state.set' "$f" || fail "$f emits no state"
done
ini=proj/sub/smithers.ini
for section in '[workflow]' '[phase survey]' '[phase review]' \
	'[agent file-stats]' '[agent todo-scan]' '[agent history]' \
	'[agent reviewer]'; do
	grep -qxF "$section" "$ini" || fail "smithers.ini lacks $section"
done
for key in name max_parallel synchronous max_iterations until on_failure \
	phase command model prompt cwd env restart max_restarts backoff \
	startsecs timeout; do
	grep -q "^$key = " "$ini" || fail "smithers.ini has no '$key'"
done
grep -qx 'until = review.approved == true' "$ini" ||
	fail "the review phase is not a Ralph loop"
[ "$(grep -c '^\[agent ' "$ini")" -ge 4 ] || fail "fewer than 4 agents"
# Every agent's command names a script that init wrote.
grep '^command = ' "$ini" | sed 's/.* //' | while read -r script; do
	[ -f "proj/sub/$script" ] || fail "no $script for a command"
done

# The new database is a valid, empty store of the current schema.
run "$SMITHERS" --dir proj/sub db stats --json
expect_rc 0
json 'j["schema_version"] == 9 and j["executions"] == 0'
json 'j["journal_mode"] == "wal"'

# Twice is harmless: nothing overwritten, everything reported as kept.
echo "; mine" >>"$ini"
cksum proj/sub/smithers.ini proj/sub/agents/*.sh >"$T/before"
run "$SMITHERS" init proj/sub
expect_rc 0
out_has "kept     proj/sub/.smithers/smithers.db"
for f in $FILES; do
	out_has "kept     proj/sub/$f"
done
out_lacks "created"
cksum proj/sub/smithers.ini proj/sub/agents/*.sh >"$T/after"
cmp -s "$T/before" "$T/after" || fail "init overwrote a file"
tail -n 1 "$ini" | grep -qx '; mine' || fail "init rewrote smithers.ini"

# A missing file is recreated; the others are kept.
rm proj/sub/agents/history.sh
run "$SMITHERS" init proj/sub
expect_rc 0
out_has "created  proj/sub/agents/history.sh"
out_has "kept     proj/sub/agents/reviewer.sh"

# The current directory by default, --dir, --json.
mkdir here
cd here
run "$SMITHERS" init
expect_rc 0
out_has "created  .smithers/smithers.db"
out_has "created  smithers.ini"
[ -f .smithers/smithers.db ] || fail "init wrote no database in ."
cd "$T"
run "$SMITHERS" init --dir there --json
expect_rc 0
json 'len(j) == 7 and all(e["status"] == "created" for e in j)'
json 'j[0]["path"] == "there/.smithers/smithers.db"'
json 'sorted(e["path"] for e in j[1:]) == sorted("there/" + f for f in
     ["smithers.ini", "agents/file-stats.sh", "agents/todo-scan.sh",
      "agents/history.sh", "agents/big-files.sh", "agents/reviewer.sh"])'
run "$SMITHERS" --json init there
expect_rc 0
json 'all(e["status"] == "kept" for e in j)'

# More than one directory is a usage error.
run "$SMITHERS" init a b
expect_rc 2
err_has "usage: smithers init [DIR]"
[ ! -e a ] || fail "init made a directory on a usage error"

# --example claude: Claude Code agents, with the fixer's prompt beside.
run "$SMITHERS" init --example claude cl --json
expect_rc 0
json 'sorted(e["path"] for e in j) == ["cl/.smithers/smithers.db",
     "cl/prompts/fix.md", "cl/smithers.ini"]'
grep -q '^kind = claude$' cl/smithers.ini || fail "no claude agent in the example"
grep -q 'make check' cl/prompts/fix.md || fail "the fixer's prompt is not there"
# --example codex: Codex agents, with prices so that their budgets hold.
run "$SMITHERS" init --example codex cx --json
expect_rc 0
json 'sorted(e["path"] for e in j) == ["cx/.smithers/smithers.db",
     "cx/prompts/fix.md", "cx/smithers.ini"]'
grep -q '^kind = codex$' cx/smithers.ini || fail "no codex agent in the example"
grep -q '^price_output = ' cx/smithers.ini || fail "no prices in the codex example"
run "$SMITHERS" init --example nope elsewhere
expect_rc 2
err_has "unknown example 'nope' (expected survey, claude or codex)"
[ ! -e elsewhere ] || fail "init made a directory for an unknown example"
exit 0
