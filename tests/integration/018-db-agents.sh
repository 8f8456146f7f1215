#!/bin/sh
# db agents (kinds, Claude Code sessions, turns, usage and cost, known or
# not: a Codex agent reports none, nor does a command), the usage
# and budget columns of db executions and db execution ID, and db tools as
# a tree (a subagent's calls under its Task call), as text and JSON.
. "$top_srcdir/tests/integration/lib.sh"

session=0b7c4a1e-5f2d-4c3e-9a8b-123456789abc
populate . --claude

# ---- agents: the newest execution's by default
run "$SMITHERS" db agents
expect_rc 0
head -n 1 "$OUT" | grep -Eq '^ID +NAME +KIND +STATUS +ATTEMPT +SESSION_ID +TURNS +TOKENS_IN +TOKENS_OUT +REASONING_TOKENS +CACHE_READ_TOKENS +CACHE_WRITE_TOKENS +COST_USD +MEM_PEAK +CPU_USEC +TOOL_CALL_COUNT +ERROR$' ||
	fail "bad agents header"
sed -n 2p "$OUT" |
	grep -Eq '^ 6 +coder +claude +completed +1 +0b7c4a1e +12 +1000 +340 +0 +45000 +3100 +0\.0415 +356515840 +61500000 +5$' ||
	fail "bad claude agent row (short session, turns, usage, cost)"
sed -n 3p "$OUT" |
	grep -Eq '^ 7 +lint +codex +failed +1 +10 +5 +3 +0 +0 +- +- +- +0 +exit status 1$' ||
	fail "bad codex agent row (reasoning tokens, no cost: -)"
[ "$(wc -l <"$OUT")" -eq 3 ] || fail "not one line per agent"
! grep -q "$session" "$OUT" || fail "text shows the whole session id"

run "$SMITHERS" db agents --json
expect_rc 0
json '[(a["id"], a["name"], a["kind"]) for a in j] ==
     [(6, "coder", "claude"), (7, "lint", "codex")]'
json 'j[0]["session_id"] == "'"$session"'"'
json 'j[0]["model"] == "claude-sonnet-4-5" and j[0]["cli_version"] == "2.0.14"'
json 'j[0]["tools"] == ["Bash", "Glob", "Read", "Edit", "Task"]'
json 'j[0]["resumes"] == 1 and j[0]["resume_prompt"] == "continue where you stopped"'
json 'j[0]["turns"] == 12 and j[0]["structured_result"]["num_turns"] == 12'
json 'j[0]["tokens_in"] == 1000 and j[0]["tokens_out"] == 340'
json 'j[0]["cache_read_tokens"] == 45000 and j[0]["cache_write_tokens"] == 3100'
json 'abs(j[0]["cost_usd"] - 0.0415) < 1e-9'
json 'j[0]["tool_call_count"] == 5 and j[0]["error"] is None'
json 'j[1]["session_id"] is None and j[1]["cli_version"] is None'
json 'j[1]["tools"] is None and j[1]["turns"] is None'
json 'j[1]["resumes"] == 0 and j[1]["cost_usd"] is None'
json 'j[1]["reasoning_tokens"] == 3 and j[0]["reasoning_tokens"] == 0'
json 'j[1]["error"] == "exit status 1"'
json 'j[0]["mem_peak"] == 356515840 and j[0]["cpu_usec"] == 61500000'
json 'j[1]["mem_peak"] is None and j[1]["cpu_usec"] is None'

# An older execution by id: its agents are commands, with no cost known.
run "$SMITHERS" db agents 1 --json
expect_rc 0
json '[a["id"] for a in j] == [1, 2, 3, 4, 5]'
json 'all(a["kind"] == "command" and a["cost_usd"] is None for a in j)'
json 'j[0]["tokens_in"] == 100 and j[0]["turns"] is None'
run "$SMITHERS" db agents 2
expect_rc 0
grep -Eq '^ 6 +coder +claude ' "$OUT" || fail "db agents 2 lacks the coder"

# Bad input.
run "$SMITHERS" db agents nope
expect_rc 2
err_has "'nope' is not an execution id"
run "$SMITHERS" db agents 0
expect_rc 2
run "$SMITHERS" db agents 99
expect_rc 1
err_has "no execution 99"
run "$SMITHERS" db agents 1 2
expect_rc 2
err_has "too many arguments for 'db agents'"
run "$SMITHERS" db agents --key x
expect_rc 2
run "$SMITHERS" db agents --help
expect_rc 0
out_has "usage: smithers db agents [EXECUTION_ID] [--json] [--dir DIR]"
out_has "newest"
run "$SMITHERS" db --help
out_has "agents [EXECUTION_ID]"

# ---- executions: usage, cost, and the budget once one has it
run "$SMITHERS" db executions
expect_rc 0
head -n 1 "$OUT" | grep -Eq ' TOKENS_IN +TOKENS_OUT +REASONING_TOKENS +CACHE_READ_TOKENS +CACHE_WRITE_TOKENS +COST_USD +MAX_COST_USD$' ||
	fail "bad executions header"
sed -n 2p "$OUT" |
	grep -Eq '^ 2 +claude-run +claude\.ini +completed .* +1 +2 +5 +1010 +345 +3 +45000 +3100 +0\.0415 +5\.0000$' ||
	fail "bad execution 2 row"
sed -n 3p "$OUT" | grep -Eq ' +100 +20 +0 +0 +0 +-$' ||
	fail "bad execution 1 row (no cost known: -; no budget: an empty cell)"
run "$SMITHERS" db executions --json
json '[e["id"] for e in j] == [2, 1]'
json 'j[0]["tokens_in"] == 1010 and j[0]["tokens_out"] == 345'
json 'j[0]["cache_read_tokens"] == 45000 and j[0]["cache_write_tokens"] == 3100'
json 'abs(j[0]["cost_usd"] - 0.0415) < 1e-9 and j[0]["max_cost_usd"] == 5'
json 'j[1]["max_cost_usd"] is None and j[1]["cost_usd"] is None'
json 'j[0]["reasoning_tokens"] == 3 and j[1]["reasoning_tokens"] == 0'

run "$SMITHERS" db execution 2
expect_rc 0
grep -Eq '^cost_usd +0\.0415$' "$OUT" || fail "no cost line"
grep -Eq '^max_cost_usd +5\.0000$' "$OUT" || fail "no budget line"
grep -Eq '^cache_read_tokens +45000$' "$OUT" || fail "no cache line"
grep -Eq '^reasoning_tokens +3$' "$OUT" || fail "no reasoning tokens line"
grep -Eq '^containment +cgroup$' "$OUT" || fail "no containment line"
grep -Eq '^ 6 +code +0 +coder +claude +completed .* 0\.0415 +5 *$' "$OUT" ||
	fail "no claude agent row with its kind and cost"
grep -Eq '^ 7 +code +0 +lint +codex +failed .* - +0 +exit status 1$' "$OUT" ||
	fail "no codex agent row with its kind and no cost"
run "$SMITHERS" db execution 2 --json
json 'j["max_cost_usd"] == 5 and j["cache_write_tokens"] == 3100'
json '[a["kind"] for a in j["agents"]] == ["claude", "codex"]'
json 'j["agents"][1]["cost_usd"] is None and j["reasoning_tokens"] == 3'
json 'j["containment"] == "cgroup"'
json 'j["agents"][0]["mem_peak"] == 356515840 and j["agents"][1]["cpu_usec"] is None'

# ---- tools: a tree in text, flat with parent_id in JSON
run "$SMITHERS" db tools
expect_rc 0
sed -n '2,6p' "$OUT" | awk '{ print $1 }' | tr '\n' ' ' >"$T/order"
[ "$(cat "$T/order")" = "8 5 7 6 4 " ] ||
	fail "the calls inside Task are not under it: $(cat "$T/order")"
# The children's tool names start two columns right of their parent's.
col() { sed -n "$1p" "$OUT" | awk -v w="$2" '{ print index($0, w) }'; }
task=$(col 3 Task)
[ "$(col 4 Read)" -eq $((task + 2)) ] || fail "Read is not indented under Task"
[ "$(col 5 Glob)" -eq $((task + 2)) ] || fail "Glob is not indented under Task"
[ "$(col 6 Bash)" -eq "$task" ] || fail "Bash is indented"
[ "$(col 2 Edit)" -eq "$task" ] || fail "Edit is indented"

run "$SMITHERS" db tools --json
expect_rc 0
json '[t["id"] for t in j] == [8, 7, 6, 5, 4, 3, 2, 1]'
json '[t["parent_id"] for t in j[:5]] == [None, 5, 5, None, None]'
json '[t["external_id"] for t in j[:5]] ==
     ["toolu_edit", None, "toolu_glob", "toolu_task", "toolu_bash"]'
json 'j[7]["parent_id"] is None and j[7]["external_id"] is None'
json 'j[0]["error"] == "file changed" and j[3]["tool_name"] == "Task"'

# -n cuts a tree: a call whose parent is not listed is a root.
run "$SMITHERS" db tools -n 2
expect_rc 0
[ "$(col 2 Edit)" -eq "$(col 3 Read)" ] || fail "an orphan call is indented"
run "$SMITHERS" db tools --agent 7 --json
out_is "[]"

# A fresh state dir: no execution, no agents.
run "$SMITHERS" init fresh
run "$SMITHERS" --dir fresh db agents --json
expect_rc 0
out_is "[]"
run "$SMITHERS" --dir fresh db agents
expect_rc 0
out_has "ID  NAME  KIND  STATUS"
exit 0
