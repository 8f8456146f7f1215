#!/bin/sh
# The readers of the fleet view (`smithers fleet executions|agents|costs|top`)
# against a real PostgreSQL (fleet-lib.sh) holding known rows of three
# machines: every subcommand's table and --json, exactly (rows, order,
# counts, sums, filters, --by machine|workflow|day and the total, the
# machines' freshness), on an empty view too; and the errors: PostgreSQL
# unreachable (exit 1, one line), a database without the fleet view (start
# the sink), bad option values (exit 2).
#
# The time windows (--since, the last hour, today) are PostgreSQL's now():
# the test fixes it at $NOW with a now() of its own found first on the
# search path (fake_clock, only on the connections of $VIEW); one run
# with the real clock checks that nothing depends on that.
. "$top_srcdir/tests/integration/lib.sh"
. "$top_srcdir/tests/integration/fleet-lib.sh"
need_pg

# make_fleet_view: the fleet view's schema, as migration 1 of fleet-pg.c
# makes it. The sink will make it (`smithers fleet sink` once, then
# stopped): this function is the one place to change then.
make_fleet_view() {
	cols_executions="id bigint NOT NULL, name text, workflow text,
	status text, config jsonb, result jsonb, error text, created_at text,
	started_at text, ended_at text, duration_ms bigint,
	supervisor_pid bigint, heartbeat_at text, total_iterations bigint,
	total_agents bigint, total_tool_calls bigint, tokens_in bigint,
	tokens_out bigint, boot_id text, recoveries bigint, recovered_at text,
	cache_read_tokens bigint, cache_write_tokens bigint,
	cost_usd double precision, max_cost_usd double precision,
	reasoning_tokens bigint, containment text"
	cols_phases="id bigint NOT NULL, execution_id bigint, name text,
	iteration bigint, status text, started_at text, ended_at text,
	duration_ms bigint, agent_count bigint"
	cols_agents="id bigint NOT NULL, execution_id bigint, phase_id bigint,
	name text, model text, system_prompt text, prompt text, status text,
	pid bigint, attempt bigint, result text, structured_result jsonb,
	error text, exit_code bigint, exit_signal bigint, tokens_in bigint,
	tokens_out bigint, tool_call_count bigint, started_at text,
	ended_at text, duration_ms bigint, log_path text, pid_start bigint,
	worker_pid bigint, worker_start bigint, kind text, session_id text,
	cli_version text, tools jsonb, cache_read_tokens bigint,
	cache_write_tokens bigint, cost_usd double precision,
	resume_prompt text, resumes bigint, reasoning_tokens bigint,
	mem_peak bigint, cpu_usec bigint"
	cols_tool_calls="id bigint NOT NULL, agent_id bigint,
	execution_id bigint, tool_name text, input jsonb, output_inline text,
	output_path text, output_hash text, output_size bigint, summary text,
	status text, error text, started_at text, ended_at text,
	duration_ms bigint, external_id text, parent_id bigint"
	cols_transitions="id bigint NOT NULL, execution_id bigint, key text,
	old_value jsonb, new_value jsonb, trigger text, agent_id bigint,
	created_at text, prev_id bigint"
	cols_memories="id bigint NOT NULL, category text, scope text, key text,
	content text, confidence double precision, source text,
	source_execution_id bigint, created_at text, updated_at text,
	accessed_at text, expires_at text"
	cols_artifacts="id bigint NOT NULL, execution_id bigint,
	agent_id bigint, name text, type text, file_path text, git_hash text,
	git_commit text, summary text, line_count bigint, byte_size bigint,
	metadata jsonb, created_at text"
	ddl="CREATE SCHEMA smithers;
	CREATE TABLE smithers.schema_version (version integer NOT NULL);
	INSERT INTO smithers.schema_version VALUES (1);"
	for t in executions phases agents tool_calls transitions memories \
		artifacts; do
		eval "c=\$cols_$t"
		ddl="$ddl CREATE TABLE smithers.$t (machine text NOT NULL,
		version bigint NOT NULL, sunk_at timestamptz NOT NULL, $c,
		PRIMARY KEY (machine, id));"
	done
	pg_sql "$ddl"
}

pg_start
pg_sql "CREATE DATABASE fleet" >/dev/null
pg_sql "CREATE DATABASE nofleet" >/dev/null
BASE="host=$PG_HOST port=$PG_PORT user=smithers"
# The fleet view's time: noon, 4 March 2026, UTC.
NOW="2026-03-04 12:00:00+00"
VIEW="$BASE dbname=fleet options=-csearch_path=fake_clock,pg_catalog"
PG_CONNINFO="$BASE dbname=fleet"

make_fleet_view
pg_sql "CREATE SCHEMA fake_clock;
CREATE FUNCTION fake_clock.now() RETURNS timestamptz LANGUAGE sql
	IMMUTABLE AS \$\$ SELECT timestamptz '$NOW' \$\$;"

# fleet SUB ARGS...: smithers fleet SUB on the view, at $NOW.
fleet() {
	_sub=$1
	shift
	run "$SMITHERS" fleet "$_sub" --postgres "$VIEW" "$@"
}

# out_table: stdout is stdin, exactly.
out_table() {
	cat >"$T/.want"
	cmp -s "$T/.want" "$OUT" ||
		fail "stdout of '$LAST' differs: $(diff "$T/.want" "$OUT")"
}

# ---- the empty view ----------------------------------------------------------
fleet executions
expect_rc 0
err_is ""
out_is "MACHINE  ID  NAME  WORKFLOW  STATUS  STARTED_AT  DURATION_MS  TOTAL_AGENTS  TOTAL_TOOL_CALLS  TOKENS_IN  TOKENS_OUT  COST_USD"
fleet executions --json
expect_rc 0
json 'j == []'
fleet agents --json
expect_rc 0
json 'j == []'
fleet costs
expect_rc 0
out_table <<'EOF'
MACHINE  EXECUTIONS  TOKENS_IN  TOKENS_OUT  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD
total             0          0           0                  0                   0         -
EOF
fleet costs --json
expect_rc 0
json 'j == {"by": "machine", "executions": 0, "tokens_in": 0,
	"tokens_out": 0, "cache_read_tokens": 0, "cache_write_tokens": 0,
	"cost_usd": None, "groups": []}'
fleet top --json
expect_rc 0
json 'j == {"at": "2026-03-04T12:00:00.000Z", "machine_count": 0,
	"executions_running": 0, "agents_running": 0, "tokens_1h": 0,
	"cost_1h": 0, "tokens_today": 0, "cost_today": 0,
	"last_sunk_at": None, "lag_s": None, "machines": [], "running": []}'

# ---- the rows -----------------------------------------------------------------
# ex MACHINE ID NAME WORKFLOW STATUS STARTED DURATION AGENTS TOOLS IN OUT
#    CACHE_READ CACHE_WRITE COST SUNK (SQL literals)
ex() {
	pg_sql "INSERT INTO smithers.executions (machine, version, sunk_at, id,
		name, workflow, status, created_at, started_at, duration_ms,
		total_agents, total_tool_calls, tokens_in, tokens_out,
		reasoning_tokens, cache_read_tokens, cache_write_tokens,
		cost_usd) VALUES ('$1', 1, ${15}, $2, '$3', '$4', '$5', $6, $6,
		$7, $8, $9, ${10}, ${11}, 0, ${12}, ${13}, ${14})"
}
# ag MACHINE ID EXECUTION NAME KIND MODEL STATUS IN OUT COST TOOLS STARTED
ag() {
	pg_sql "INSERT INTO smithers.agents (machine, version, sunk_at, id,
		execution_id, name, kind, model, status, attempt, tokens_in,
		tokens_out, reasoning_tokens, cache_read_tokens,
		cache_write_tokens, cost_usd, tool_call_count, started_at)
		VALUES ('$1', 3, '2026-03-04 08:00:00+00', $2, $3, '$4', '$5',
		$6, '$7', 1, $8, $9, 0, 0, 0, ${10}, ${11}, ${12})"
}
ex m1 1 survey /a/survey.ini completed "'2025-01-10T08:00:00.000Z'" 60000 \
	2 5 1000 200 10 5 0.1 "'2026-03-04 11:00:00+00'"
ex m1 2 fix /a/fix.ini failed "'2025-01-11T09:00:00.000Z'" 1500 \
	1 0 3000 400 20 0 0.2 "'2026-03-04 11:00:00+00'"
ex m1 3 survey /a/survey.ini running "'2026-03-04T11:50:00.000Z'" NULL \
	2 3 500 50 0 0 NULL "'2026-03-04 11:59:00+00'"
ex m2 1 survey /b/survey.ini completed "'2025-01-10T12:00:00.000Z'" 2000 \
	1 1 2000 300 30 10 0.3 "'2026-03-04 10:00:00+00'"
ex m2 7 fix /b/fix.ini running "'2026-03-04T10:00:00.000Z'" NULL \
	1 0 100 10 0 0 0.05 "'2026-03-04 10:00:00+00'"
ex m2 8 fix /b/fix.ini cancelled "'2026-03-03T23:00:00.000Z'" 600000 \
	1 2 40 4 0 0 0.01 "'2026-03-04 10:00:00+00'"
ag m1 1 1 scan shell NULL completed 400 100 0.04 3 \
	"'2025-01-10T08:00:01.000Z'"
ag m1 2 3 reviewer claude "'sonnet'" running 300 30 NULL 2 \
	"'2026-03-04T11:50:01.000Z'"
ag m1 3 3 fixer codex "'gpt-5'" running 200 20 0.01 1 \
	"'2026-03-04T11:51:00.000Z'"
ag m2 10 7 fixer codex "'gpt-5'" running 100 10 0.05 0 \
	"'2026-03-04T10:00:01.000Z'"
# Its execution has not arrived.
ag m2 11 99 orphan shell NULL running 0 0 NULL 0 \
	"'2026-03-04T09:00:00.000Z'"
ag m2 12 8 fixer codex "'gpt-5'" cancelled 40 4 0.01 2 \
	"'2026-03-03T23:00:01.000Z'"
# m2's newest row is a transition; m3 has a memory only.
pg_sql "INSERT INTO smithers.transitions (machine, version, sunk_at, id,
	execution_id, key, created_at) VALUES ('m2', 1,
	'2026-03-04 11:30:00+00', 5, 7, 'k', '2026-03-04T11:29:59.000Z');
INSERT INTO smithers.memories (machine, version, sunk_at, id, category,
	key, content) VALUES ('m3', 1, '2026-03-04 06:00:00+00', 1, 'fact',
	'k', 'v')"

# ---- executions ---------------------------------------------------------------
fleet executions
expect_rc 0
err_is ""
out_table <<'EOF'
MACHINE  ID  NAME    WORKFLOW       STATUS     STARTED_AT                DURATION_MS  TOTAL_AGENTS  TOTAL_TOOL_CALLS  TOKENS_IN  TOKENS_OUT  COST_USD
m1        3  survey  /a/survey.ini  running    2026-03-04T11:50:00.000Z                          2                 3        500          50         -
m2        7  fix     /b/fix.ini     running    2026-03-04T10:00:00.000Z                          1                 0        100          10    0.0500
m2        8  fix     /b/fix.ini     cancelled  2026-03-03T23:00:00.000Z       600000             1                 2         40           4    0.0100
m1        2  fix     /a/fix.ini     failed     2025-01-11T09:00:00.000Z         1500             1                 0       3000         400    0.2000
m2        1  survey  /b/survey.ini  completed  2025-01-10T12:00:00.000Z         2000             1                 1       2000         300    0.3000
m1        1  survey  /a/survey.ini  completed  2025-01-10T08:00:00.000Z        60000             2                 5       1000         200    0.1000
EOF
fleet executions --json
expect_rc 0
json '[(e["machine"], e["id"]) for e in j] == [("m1", 3), ("m2", 7),
	("m2", 8), ("m1", 2), ("m2", 1), ("m1", 1)]'
json 'j[0] == {"machine": "m1", "id": 3, "name": "survey",
	"workflow": "/a/survey.ini", "status": "running",
	"started_at": "2026-03-04T11:50:00.000Z", "ended_at": None,
	"duration_ms": None, "total_agents": 2, "total_tool_calls": 3,
	"tokens_in": 500, "tokens_out": 50, "reasoning_tokens": 0,
	"cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": None,
	"sunk_at": "2026-03-04T11:59:00.000Z"}'
json 'j[1]["cost_usd"] == 0.05 and j[5]["cache_read_tokens"] == 10'

# ids NAME ARGS...: the (machine, id) of `fleet NAME ARGS... --json`
ids() {
	_sub=$1
	shift
	fleet "$_sub" --json "$@"
	expect_rc 0
	"$PYTHON" -c '
import json, sys
print(" ".join("%s:%s" % (r["machine"], r["id"])
               for r in json.load(open(sys.argv[1]))))' "$OUT"
}
ids_are() {
	_want=$1
	shift
	_got=$(ids "$@")
	[ "$_got" = "$_want" ] || fail "fleet $*: '$_got', not '$_want'"
}
ids_are "m2:7 m2:8 m2:1" executions --machine m2
ids_are "m1:3 m2:7" executions --status running
ids_are "m1:3 m2:7" executions --since 3h
ids_are "m1:3 m2:7 m2:8" executions --since 1d
ids_are "m1:3" executions --since 10m
ids_are "m1:3 m2:7 m2:8 m1:2 m2:1 m1:1" executions --status all --since 3650d
ids_are "m1:3 m2:7 m2:8 m1:2 m2:1 m1:1" executions --status all --since 530w
ids_are "m1:3" executions --since 0.2h
ids_are "m2:7 m2:8" executions --workflow /b/fix.ini
ids_are "m1:3 m2:1 m1:1" executions --workflow survey
ids_are "m2:8" executions --workflow fix --machine m2 --status cancelled
ids_are "m1:3 m2:7" executions -n 2
ids_are "" executions --machine m9

# ---- agents -------------------------------------------------------------------
fleet agents
expect_rc 0
err_is ""
out_table <<'EOF'
MACHINE  EXECUTION_ID  EXECUTION  NAME      KIND    MODEL   STATUS   TOKENS_IN  TOKENS_OUT  COST_USD  TOOL_CALL_COUNT  STARTED_AT
m1                  3  survey     fixer     codex   gpt-5   running        200          20    0.0100                1  2026-03-04T11:51:00.000Z
m1                  3  survey     reviewer  claude  sonnet  running        300          30         -                2  2026-03-04T11:50:01.000Z
m2                  7  fix        fixer     codex   gpt-5   running        100          10    0.0500                0  2026-03-04T10:00:01.000Z
m2                 99             orphan    shell           running          0           0         -                0  2026-03-04T09:00:00.000Z
EOF
fleet agents --json -n 1
expect_rc 0
json 'j == [{"machine": "m1", "id": 3, "execution_id": 3,
	"execution": "survey", "name": "fixer", "kind": "codex",
	"model": "gpt-5", "status": "running", "attempt": 1,
	"tokens_in": 200, "tokens_out": 20, "reasoning_tokens": 0,
	"cache_read_tokens": 0, "cache_write_tokens": 0, "cost_usd": 0.01,
	"tool_call_count": 1, "started_at": "2026-03-04T11:51:00.000Z",
	"ended_at": None, "sunk_at": "2026-03-04T08:00:00.000Z"}]'
ids_are "m1:3 m1:2 m2:10 m2:11 m2:12 m1:1" agents --status all
ids_are "m2:12" agents --status cancelled
ids_are "m1:1" agents --machine m1 --status completed
ids_are "m2:10" agents --workflow fix
ids_are "m2:12" agents --workflow /b/fix.ini --status cancelled
ids_are "m1:3 m1:2 m2:10" agents --since 2h
ids_are "m2:10 m2:11" agents --machine m2 -n 5

# ---- costs --------------------------------------------------------------------
fleet costs
expect_rc 0
err_is ""
out_table <<'EOF'
MACHINE  EXECUTIONS  TOKENS_IN  TOKENS_OUT  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD
m1                3       4500         650                 30                   5    0.3000
m2                3       2140         314                 30                  10    0.3600
total             6       6640         964                 60                  15    0.6600
EOF
fleet costs --by workflow
expect_rc 0
out_table <<'EOF'
WORKFLOW  EXECUTIONS  TOKENS_IN  TOKENS_OUT  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD
fix                3       3140         414                 20                   0    0.2600
survey             3       3500         550                 40                  15    0.4000
total              6       6640         964                 60                  15    0.6600
EOF
fleet costs --by day
expect_rc 0
out_table <<'EOF'
DAY         EXECUTIONS  TOKENS_IN  TOKENS_OUT  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD
2025-01-10           2       3000         500                 40                  15    0.4000
2025-01-11           1       3000         400                 20                   0    0.2000
2026-03-03           1         40           4                  0                   0    0.0100
2026-03-04           2        600          60                  0                   0    0.0500
total                6       6640         964                 60                  15    0.6600
EOF
# The sums are exact in JSON: no float noise (0.1 + 0.2).
fleet costs --by day --json --machine m1
expect_rc 0
json 'j == {"by": "day", "executions": 3, "tokens_in": 4500,
	"tokens_out": 650, "cache_read_tokens": 30, "cache_write_tokens": 5,
	"cost_usd": 0.3, "groups": [
	{"day": "2025-01-10", "executions": 1, "tokens_in": 1000,
	 "tokens_out": 200, "cache_read_tokens": 10, "cache_write_tokens": 5,
	 "cost_usd": 0.1},
	{"day": "2025-01-11", "executions": 1, "tokens_in": 3000,
	 "tokens_out": 400, "cache_read_tokens": 20, "cache_write_tokens": 0,
	 "cost_usd": 0.2},
	{"day": "2026-03-04", "executions": 1, "tokens_in": 500,
	 "tokens_out": 50, "cache_read_tokens": 0, "cache_write_tokens": 0,
	 "cost_usd": None}]}'
# Only unknown costs: unknown, not 0.
fleet costs --machine m1 --since 1h
expect_rc 0
out_table <<'EOF'
MACHINE  EXECUTIONS  TOKENS_IN  TOKENS_OUT  CACHE_READ_TOKENS  CACHE_WRITE_TOKENS  COST_USD
m1                1        500          50                  0                   0         -
total             1        500          50                  0                   0         -
EOF
fleet costs --by workflow --status running --json
expect_rc 0
json '[(g["workflow"], g["executions"], g["cost_usd"]) for g in j["groups"]]
	== [("fix", 1, 0.05), ("survey", 1, None)] and j["cost_usd"] == 0.05'
fleet costs --workflow /b/fix.ini --since 1d --json
expect_rc 0
json 'j["groups"] == [{"machine": "m2", "executions": 2, "tokens_in": 140,
	"tokens_out": 14, "cache_read_tokens": 0, "cache_write_tokens": 0,
	"cost_usd": 0.06}] and j["executions"] == 2'

# ---- top ----------------------------------------------------------------------
fleet top
expect_rc 0
err_is ""
out_table <<'EOF'
at                  2026-03-04T12:00:00.000Z
machine_count       3
executions_running  2
agents_running      4
tokens_1h           550
cost_1h             0.0000
tokens_today        660
cost_today          0.0500
last_sunk_at        2026-03-04T11:59:00.000Z
lag_s               60

machines:
MACHINE  EXECUTIONS_RUNNING  AGENTS_RUNNING  TOKENS_1H  COST_1H  TOKENS_TODAY  COST_TODAY  LAST_SUNK_AT              LAG_S
m1                        1               2        550        -           550           -  2026-03-04T11:59:00.000Z     60
m2                        1               2          0   0.0000           110      0.0500  2026-03-04T11:30:00.000Z   1800
m3                        0               0          0   0.0000             0      0.0000  2026-03-04T06:00:00.000Z  21600

running:
MACHINE  ID  NAME    STARTED_AT                AGENTS_RUNNING  TOKENS_IN  TOKENS_OUT  COST_USD
m1        3  survey  2026-03-04T11:50:00.000Z               2        500          50         -
m2        7  fix     2026-03-04T10:00:00.000Z               1        100          10    0.0500
EOF
fleet top --json -n 1
expect_rc 0
json 'j["machines"][1] == {"machine": "m2", "executions_running": 1,
	"agents_running": 2, "tokens_1h": 0, "cost_1h": 0,
	"tokens_today": 110, "cost_today": 0.05,
	"last_sunk_at": "2026-03-04T11:30:00.000Z", "lag_s": 1800}'
json '[m["machine"] for m in j["machines"]] == ["m1", "m2", "m3"] and
	j["machines"][0]["cost_1h"] is None'
json 'j["running"] == [{"machine": "m1", "id": 3, "name": "survey",
	"started_at": "2026-03-04T11:50:00.000Z", "agents_running": 2,
	"tokens_in": 500, "tokens_out": 50, "cost_usd": None}]'
json 'sorted(j) == ["agents_running", "at", "cost_1h", "cost_today",
	"executions_running", "lag_s", "last_sunk_at", "machine_count", "machines",
	"running", "tokens_1h", "tokens_today"]'

# The real clock: the windows move with it (4 March 2026 is past).
run "$SMITHERS" fleet top --json --postgres "$PG_CONNINFO"
expect_rc 0
year=$(date -u +%Y)
json 'j["at"].startswith("'"$year"'-") and j["tokens_today"] == 0 and
	j["lag_s"] > 0 and len(j["running"]) == 2'
run "$SMITHERS" fleet executions --json --since 1h --postgres "$PG_CONNINFO"
expect_rc 0
json 'j == []'

# ---- errors -------------------------------------------------------------------
# PostgreSQL unreachable: libpq's reason, on one line.
run "$SMITHERS" fleet executions --postgres "host=$T/nowhere port=5 dbname=x"
expect_rc 1
err_has "smithers: cannot connect to PostgreSQL: "
err_has "$T/nowhere"
[ "$(wc -l <"$ERR")" = 1 ] || fail "more than one line: $(cat "$ERR")"
out_is ""
# A server that takes the connection and never answers: given up after
# 10 s (libpq would wait for ever), unless the conninfo says less.
"$PYTHON" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
print(s.getsockname()[1], flush=True)
time.sleep(60)
' >silent.port &
silent=$!
wait_until 10 test -s silent.port
# silent MORE: a reader on the silent server (conninfo MORE added); the
# seconds it took in $took.
silent() {
	_t0=$(date +%s)
	run "$SMITHERS" fleet executions --postgres \
		"host=127.0.0.1 port=$(cat silent.port) dbname=x $1"
	took=$(($(date +%s) - _t0))
	expect_rc 1
	err_has "smithers: cannot connect to PostgreSQL: "
	err_has "timeout"
}
silent "user=x"
[ "$took" -ge 9 ] && [ "$took" -le 30 ] ||
	fail "gave up on a silent server after $took s, not 10"
silent "connect_timeout=2"
[ "$took" -le 8 ] ||
	fail "the conninfo's connect_timeout=2 not taken: $took s"
kill "$silent" 2>/dev/null || :
wait "$silent" 2>/dev/null || :
# libpq's PG* variables without --postgres.
run env PGHOST="$T/nowhere" PGPORT=5 "$SMITHERS" fleet top
expect_rc 1
err_has "$T/nowhere"
# A database without the fleet view.
for sub in executions agents costs top; do
	run "$SMITHERS" fleet $sub --postgres "$BASE dbname=nofleet"
	expect_rc 1
	err_is "smithers: no fleet view in this database (schema 'smithers'): start 'smithers fleet sink' first"
	out_is ""
done
# Bad values, before any connection (the database is unreachable).
for args in "executions --since yesterday" "costs --since 5x" \
	"costs --by week" "executions --status done" "agents --status busy" \
	"executions -n 0" "agents -n x" "executions --by day" "top --machine m1" \
	"costs -n 3" "top --status running" "executions extra"; do
	# shellcheck disable=SC2086
	run "$SMITHERS" fleet $args --postgres "host=$T/nowhere port=5"
	expect_rc 2
	err_has "usage: smithers fleet ${args%% *}"
	out_is ""
done
run "$SMITHERS" fleet executions --since 5x
err_has "smithers: bad --since '5x' (want a duration: 90s, 30m, 2h, 1d, 2w)"
run "$SMITHERS" fleet agents --status busy
err_has "smithers: bad --status 'busy' (want all, pending, running, restarting,"
run "$SMITHERS" fleet costs --by week
err_has "smithers: bad --by 'week' (want machine, workflow or day)"

pg_stop
exit 0
