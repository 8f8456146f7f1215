#!/bin/sh
# db executions, db execution ID (with its phases and agents) and db
# current, as text and JSON.
. "$top_srcdir/tests/integration/lib.sh"

populate done
populate running --running

# ---- executions
run "$SMITHERS" --dir done db executions
expect_rc 0
head -n 1 "$OUT" | grep -Eq '^ID +NAME +WORKFLOW +STATUS +STARTED_AT ' ||
	fail "bad executions header"
sed -n 2p "$OUT" |
	grep -Eq '^ 1 +survey +smithers\.ini +completed +[0-9T:.-]+Z +[0-9]+ +3 +5 +3 +100 +20 +0 +0 +0 +-$' ||
	fail "bad execution row (no cost known: -)"
run "$SMITHERS" --dir done db executions --json
expect_rc 0
json 'len(j) == 1 and j[0]["id"] == 1 and j[0]["status"] == "completed"'
json 'j[0]["config"] == {"max_parallel": 2}'
json 'j[0]["result"] == {"approved": True}'
json 'j[0]["total_iterations"] == 3 and j[0]["total_agents"] == 5'
json 'j[0]["total_tool_calls"] == 3'
json 'j[0]["tokens_in"] == 100 and j[0]["tokens_out"] == 20'
json 'j[0]["cache_read_tokens"] == 0 and j[0]["cache_write_tokens"] == 0'
json 'j[0]["cost_usd"] is None and j[0]["max_cost_usd"] is None'
json 'j[0]["reasoning_tokens"] == 0'
json 'j[0]["error"] is None and j[0]["ended_at"].endswith("Z")'
run "$SMITHERS" --dir running db executions -n 1 --json
json 'len(j) == 1 and j[0]["status"] == "running"'
json 'j[0]["ended_at"] is None and j[0]["result"] is None'

# ---- execution ID: the object, then its phases and agents
run "$SMITHERS" --dir done db execution 1
expect_rc 0
grep -Eq '^id +1$' "$OUT" || fail "no id line"
grep -Eq '^status +completed$' "$OUT" || fail "no status line"
grep -Eq '^config +\{"max_parallel":2\}$' "$OUT" || fail "no config line"
grep -Eq '^cost_usd +-$' "$OUT" || fail "no cost line (unknown: -)"
grep -Eq '^reasoning_tokens +0$' "$OUT" || fail "no reasoning tokens line"
grep -Eq '^containment +-$' "$OUT" || fail "no containment line (not recorded: -)"
! grep -q '^max_cost_usd' "$OUT" || fail "a budget line without a budget"
grep -qx 'phases:' "$OUT" || fail "no phases table"
grep -qx 'agents:' "$OUT" || fail "no agents table"
grep -Eq '^ID +NAME +ITERATION +STATUS ' "$OUT" || fail "no phase header"
grep -Eq '^ 3 +review +1 +running ' "$OUT" || fail "no phase 3 row"
grep -Eq '^ID +PHASE +ITERATION +NAME +KIND +STATUS .* COST_USD ' "$OUT" ||
	fail "no agent header"
grep -Eq '^ 2 +survey +0 +todo-scan +command +failed +1 +3 +- +1 +exit status 3$' \
	"$OUT" || fail "no failed agent row"
grep -Eq '^ 4 +review +1 +reviewer +command +running +2 +4242 +- ' "$OUT" ||
	fail "no running agent row"
! grep -q ' $' "$OUT" || fail "trailing spaces"

run "$SMITHERS" --dir done db execution 1 --json
expect_rc 0
json 'j["id"] == 1 and j["name"] == "survey"'
json 'j["workflow"] == "smithers.ini" and j["status"] == "completed"'
json '[(p["id"], p["name"], p["iteration"], p["status"]) for p in j["phases"]]
     == [(1, "survey", 0, "completed"), (2, "review", 0, "completed"),
         (3, "review", 1, "running")]'
json '[p["agent_count"] for p in j["phases"]] == [2, 1, 2]'
json '[(a["id"], a["name"], a["status"]) for a in j["agents"]] ==
     [(1, "file-stats", "completed"), (2, "todo-scan", "failed"),
      (3, "reviewer", "completed"), (4, "reviewer", "running"),
      (5, "summarizer", "completed")]'
json 'j["agents"][0]["structured_result"] == {"files": 12}'
json 'j["agents"][0]["result"] == "12 files"'
json 'j["containment"] is None'
json 'all(a["mem_peak"] is None and a["cpu_usec"] is None for a in j["agents"])'
json 'j["agents"][0]["model"] == "claude-sonnet-4-5"'
json 'j["agents"][0]["tokens_in"] == 100 and j["agents"][0]["tool_call_count"] == 2'
json 'j["agents"][1]["error"] == "exit status 3" and j["agents"][1]["exit_code"] == 3'
json 'j["agents"][3]["pid"] == 4242 and j["agents"][3]["attempt"] == 2'
json 'j["agents"][3]["ended_at"] is None'
json 'all(a["execution_id"] == 1 for a in j["agents"])'
json 'all(a["kind"] == "command" and a["cost_usd"] is None
         and a["reasoning_tokens"] == 0 for a in j["agents"])'

# ---- current: none when everything ended, else the running one
run "$SMITHERS" --dir done db current
expect_rc 0
out_is "no execution is running"
run "$SMITHERS" --dir done db current --json
expect_rc 0
out_is "null"
json 'j is None'
run "$SMITHERS" --dir running db current --json
expect_rc 0
json 'j["id"] == 1 and j["status"] == "running"'
json 'len(j["phases"]) == 3 and len(j["agents"]) == 5'
run "$SMITHERS" --dir running db current
expect_rc 0
grep -Eq '^status +running$' "$OUT" || fail "current is not running"
grep -qx 'agents:' "$OUT" || fail "current shows no agents"

# A fresh state dir has no executions at all.
run "$SMITHERS" init fresh
run "$SMITHERS" --dir fresh db executions --json
out_is "[]"
run "$SMITHERS" --dir fresh db executions
out_is "ID  NAME  WORKFLOW  STATUS  STARTED_AT  DURATION_MS  TOTAL_ITERATIONS  TOTAL_AGENTS  TOTAL_TOOL_CALLS  TOKENS_IN  TOKENS_OUT  REASONING_TOKENS  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD"
exit 0
