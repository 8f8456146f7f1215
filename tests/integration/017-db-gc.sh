#!/bin/sh
# db gc: three real runs of a shell agent (state, a tool output shared by
# every run and one of its own, a key set and deleted, agent logs); a dry
# run counts what a real one drops and changes nothing; the real one keeps
# the newest execution with its files, drops the others with their rows,
# outputs and logs, keeps each key's newest transition, leaves history and
# replay working and gives the space back. A running execution is never
# dropped; gc is refused while a supervisor holds the lock (exit 3, its
# pid); bad arguments exit 2.
. "$top_srcdir/tests/integration/lib.sh"

# Help.
run "$SMITHERS" db gc --help
expect_rc 0
out_has "usage: smithers db gc [--keep N] [--older-than D] [--dry-run] [--via-supervisor] [--json] [--dir DIR]"
out_has "--keep 100"
run "$SMITHERS" db --help
grep -q "^  gc  " "$OUT" || fail "db --help lacks gc"

# Run N: its output, the one every run shares, 40 values of 1 KiB that
# the next run replaces, a key of its own, and one set and deleted.
seq 1 2000 >shared.txt
cat >agent.sh <<'SH'
set -eu
n=$(cat n)
pad=$(printf '%01000d' "$n")
seq "$n" 3000 >"own-$n.txt"
call=$(smithers emit tool.start cat '{"file":"shared.txt"}')
smithers emit tool.complete "$call" --output-file shared.txt
call=$(smithers emit tool.start cat "{\"file\":\"own-$n.txt\"}")
smithers emit tool.complete "$call" --output-file "own-$n.txt"
i=0
while [ $i -lt 40 ]; do
	i=$((i + 1))
	smithers emit state.set "big.$i" "\"$pad\""
done
smithers emit state.set counter "$n"
smithers emit state.set "run.$n" true
smithers emit state.set "tmp.$n" 1
smithers emit state.delete "tmp.$n"
echo "run $n done"
SH
cat >flow.ini <<INI
[phase work]
[agent shell]
phase = work
command = sh $T/agent.sh
cwd = $T
INI
for n in 1 2 3; do
	echo "$n" >n
	run "$SMITHERS" --dir "$T" run flow.ini
	expect_rc 0
done
sql_is "SELECT group_concat(id || ':' || status) FROM executions" \
	"1:completed,2:completed,3:completed"
[ -d .smithers/logs/agents/1 ] && [ -d .smithers/logs/agents/3 ] ||
	fail "no agent logs: $(ls .smithers/logs/agents)"
shared=.smithers/$(sql "SELECT DISTINCT output_path FROM tool_calls
	WHERE tool_name = 'cat' AND input LIKE '%shared%'")
own1=.smithers/$(sql "SELECT output_path FROM tool_calls WHERE execution_id = 1
	AND input LIKE '%own-1%'")
own3=.smithers/$(sql "SELECT output_path FROM tool_calls WHERE execution_id = 3
	AND input LIKE '%own-3%'")
[ -f "$shared" ] && [ -f "$own1" ] && [ -f "$own3" ] || fail "no objects"
own_bytes=$(($(wc -c <own-1.txt) + $(wc -c <own-2.txt)))

state_now() {
	"$SMITHERS" db stats --json | "$PYTHON" -c '
import json, sys
j = json.load(sys.stdin)
print(*(j[k] for k in ("executions", "phases", "agents", "tool_calls",
                       "state", "transitions", "memories", "artifacts")))'
	find .smithers/logs | sort
	"$SMITHERS" db state --json
}
state_now >"$T/before"
state_values() {
	"$SMITHERS" db state --json | "$PYTHON" -c '
import json, sys
for r in json.load(sys.stdin):
    print(r["key"], json.dumps(r["value"]), r["updated_at"])'
}
state_values >"$T/state-before"

# A dry run: what a real run would drop, and nothing changes.
run "$SMITHERS" db gc --keep 1 --dry-run
expect_rc 0
out_has "would drop 2 executions, 2 phases, 2 agents, 4 tool calls, 86 transitions, 0 artifacts"
out_has "would keep 2 transitions as the newest of their keys; would prune 2 deleted keys"
out_has "would delete 2 objects ($own_bytes bytes) and 2 agent log dirs ("
out_has "dry run: nothing was changed"
err_is ""
run "$SMITHERS" db gc --keep 1 --dry-run --json
expect_rc 0
json 'j["dry_run"] is True and j["executions"] == 2 and
      j["tool_calls"] == 4 and j["transitions"] == 86 and
      j["heads_kept"] == 2 and j["tombstones"] == 2 and
      j["objects"] == 2 and j["object_bytes"] == '"$own_bytes"' and
      j["log_dirs"] == 2 and j["log_bytes"] > 0 and
      j["db_bytes_after"] == j["db_bytes_before"]'
cp "$OUT" "$T/dry.json"
state_now >"$T/after"
cmp -s "$T/before" "$T/after" || fail "a dry run changed something: $(diff "$T/before" "$T/after")"

# The real one: the counts of the dry run, and the space back.
run "$SMITHERS" db gc --keep 1 --json
expect_rc 0
err_is ""
"$PYTHON" - "$T/dry.json" "$OUT" <<'PY' || fail "the real gc differs from its dry run"
import json, sys
dry, real = (json.load(open(f)) for f in sys.argv[1:])
for k in dry:
    if k not in ("dry_run", "db_bytes_after", "reclaimed_bytes"):
        assert dry[k] == real[k], (k, dry[k], real[k])
assert real["dry_run"] is False
PY
json 'j["reclaimed_bytes"] > 80 * 1024 and
      j["reclaimed_bytes"] == j["db_bytes_before"] - j["db_bytes_after"]'
db_after=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["db_bytes_after"])' "$OUT")
run "$SMITHERS" db stats --json
json 'j["db_bytes"] + j["wal_bytes"] == '"$db_after"
json 'j["executions"] == 1 and j["freelist_count"] == 0'
run "$SMITHERS" db executions --json
json '[e["id"] for e in j] == [3]'

# Files: the kept run's, and the shared output it names, stay.
[ -f "$shared" ] || fail "the shared object went"
[ -f "$own3" ] || fail "the kept run's object went"
[ ! -e "$own1" ] || fail "run 1's object is still there"
[ ! -e .smithers/logs/agents/1 ] && [ ! -e .smithers/logs/agents/2 ] ||
	fail "old agent logs are still there: $(ls .smithers/logs/agents)"
[ -f .smithers/logs/agents/3/shell.log ] || fail "run 3's log went"

# The state is untouched (but for updated_by, the agent that is gone);
# each key's history is what remains of it.
state_values >"$T/state-after"
cmp -s "$T/state-before" "$T/state-after" || fail "gc changed the state"
sql_is "SELECT count(*) FROM state WHERE updated_by IS NULL" "2"
run "$SMITHERS" db transitions --key counter --json
json '[(r["new_value"], r["execution_id"]) for r in j] == [(3, 3)]'
run "$SMITHERS" db transitions --key run.1 --json
json '[(r["new_value"], r["execution_id"]) for r in j] == [(True, None)]'
run "$SMITHERS" db transitions --key tmp.1 --json
out_is "[]"
run "$SMITHERS" db transitions --key tmp.3 --json
json '[r["new_value"] for r in j] == [None, 1]'
sql_is "SELECT group_concat(key) FROM deleted_state" "tmp.3"
run "$SMITHERS" db query "pragma integrity_check"
out_has "ok"

# Replay on what remains: the newest changes nothing; run 3's first
# change, as of which run 3 had set only one key.
newest=$(sql "SELECT max(id) FROM transitions")
run "$SMITHERS" db replay "$newest"
expect_rc 0
out_is "replayed transition $newest: 0 keys changed"
first=$(sql "SELECT min(id) FROM transitions WHERE execution_id = 3")
run "$SMITHERS" db replay "$first" --json
expect_rc 0
json 'j["changed"] > 0'
run "$SMITHERS" db state big.1
out_is "\"$(printf '%01000d' 3)\""
run "$SMITHERS" db state counter
expect_rc 1
run "$SMITHERS" db replay "$newest"
out_has "keys changed"
run "$SMITHERS" db state counter
out_is "3"

# Times: nothing ended a day ago; with both rules, both must agree.
run "$SMITHERS" db gc --older-than 1d --keep 0
expect_rc 0
out_has "dropped 0 executions"
out_has "database: "
run "$SMITHERS" db executions --json
json 'len(j) == 1'
sleep 1
run "$SMITHERS" db gc --older-than 1s --keep 0
out_has "dropped 1 execution, 1 phase, 1 agent, 2 tool calls,"
out_has "deleted 2 objects ("
[ ! -e "$shared" ] || fail "the shared object outlived its last row"
run "$SMITHERS" db state counter
out_is "3"

# A running execution (its supervisor killed) is never dropped.
populate running --running
run "$SMITHERS" --dir running db gc --keep 0 --older-than 0s
expect_rc 0
out_has "dropped 0 executions"
run "$SMITHERS" --dir running db current --json
json 'j["id"] == 1 and j["status"] == "running"'

# Refused while a supervisor holds the lock, dry run too; nothing changes.
populate held
hold_lock held
for args in "" "--dry-run" "--keep 0 --json"; do
	run "$SMITHERS" --dir held db gc $args
	expect_rc 3
	err_is "smithers: cannot gc: a supervisor (pid $HOLDER) holds 'held/.smithers/supervisor.lock'; stop it first
smithers: or have it run the gc: smithers db gc --via-supervisor"
	out_is ""
done
release_lock
run "$SMITHERS" --dir held db executions --json
json 'len(j) == 1'
run "$SMITHERS" --dir held db gc --keep 0
expect_rc 0
out_has "dropped 1 execution,"

# Sent through a running supervisor: it drops the old executions between
# two of its commits, keeps its own, and its agent goes on writing.
mkdir live
printf '[phase p]\n[agent a]\nphase = p\ncommand = smithers emit state.set x 1\n' \
	>live/done.ini
printf '[phase q]\n[agent w]\nphase = q\ncommand = %s\n' \
	"$AGENT set live 100000000 100" >live/live.ini
for i in 1 2; do
	run "$SMITHERS" --dir live run live/done.ini
	expect_rc 0
done
"$SMITHERS" --dir live run live/live.ini >live/.sup.out 2>live/.sup.err &
SUP=$!
BG_PIDS="$BG_PIDS $SUP"
live_writes() {
	n=$("$SMITHERS" --dir live db query \
		"SELECT count(*) FROM transitions WHERE key LIKE 'live.%'" |
		tail -n 1 | tr -d ' ')
	[ "$n" -ge "$1" ]
}
wait_until 30 live_writes 1000
run "$SMITHERS" --dir live db gc --keep 0 --via-supervisor
expect_rc 0
out_has "dropped 2 executions,"
grep -q "gc asked for: running it" live/.sup.err || fail "no gc in the log"
run "$SMITHERS" --dir live db executions --json
json '[e["status"] for e in j] == ["running"]'
n=$("$SMITHERS" --dir live db query \
	"SELECT count(*) FROM transitions WHERE key LIKE 'live.%'" |
	tail -n 1 | tr -d ' ')
wait_until 30 live_writes $((n + 1000))
kill -TERM "$SUP"
wait "$SUP" || :
# With no supervisor, --via-supervisor runs the gc itself.
run "$SMITHERS" --dir live db gc --keep 0 --via-supervisor
expect_rc 0
out_has "dropped 1 execution,"

# Bad arguments.
run "$SMITHERS" db gc --keep -1
expect_rc 2
err_has "smithers: '--keep' needs a count of executions (0 or more), not '-1'"
err_has "usage: smithers db gc"
run "$SMITHERS" db gc --older-than 5x
expect_rc 2
err_has "smithers: '--older-than' needs a duration such as 45s, 90m, 12h, 30d or 2w, not '5x'"
run "$SMITHERS" db gc --older-than 30
expect_rc 2
run "$SMITHERS" db gc 5
expect_rc 2
err_has "too many arguments for 'db gc'"
run "$SMITHERS" db executions --keep 1
expect_rc 2
err_has "'db executions' has no option '--keep'"
mkdir empty
run "$SMITHERS" --dir empty db gc
expect_rc 2
err_has "no smithers state in 'empty'"
exit 0
