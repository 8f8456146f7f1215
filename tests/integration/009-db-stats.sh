#!/bin/sh
# db stats: row counts of every table, database and WAL size, pages,
# journal mode, schema version, the pid of a supervisor holding the lock,
# and (null here: it does not ship) the fleet's lag; as text (name and
# value lines) and as one JSON object.
. "$top_srcdir/tests/integration/lib.sh"

populate .

run "$SMITHERS" db stats --json
expect_rc 0
json 'j["schema_version"] == 9 and j["journal_mode"] == "wal"'
json '(j["executions"], j["phases"], j["agents"], j["tool_calls"],
       j["state"], j["transitions"], j["memories"], j["artifacts"]) ==
      (1, 3, 5, 3, 3, 7, 5, 1)'
json 'j["page_size"] > 0 and j["page_count"] > 0'
json 'j["freelist_count"] >= 0 and j["wal_bytes"] >= 0'
json 'j["db_bytes"] == j["page_size"] * j["page_count"]'
json 'j["database"].endswith(".smithers/smithers.db")'
json 'j["supervisor_pid"] is None'
# Not shipping to a fleet: nothing to say of it.
json 'j["fleet_unshipped"] is None and j["fleet_lag_s"] is None'
json 'j["fleet_unverified"] is None'
db_bytes=$(wc -c <.smithers/smithers.db)
json 'j["db_bytes"] == '"$db_bytes"

run "$SMITHERS" db stats
expect_rc 0
for line in "schema_version +9" "journal_mode +wal" "executions +1" \
	"phases +3" "agents +5" "tool_calls +3" "state +3" "transitions +7" \
	"memories +5" "artifacts +1" "db_bytes +$db_bytes" \
	"page_size +[0-9]+" "page_count +[0-9]+" "freelist_count +[0-9]+" \
	"wal_bytes +[0-9]+" "database +.*\.smithers/smithers\.db"; do
	grep -Eq "^$line\$" "$OUT" || fail "no '$line' line"
done
grep -Eq '^supervisor_pid$' "$OUT" || fail "supervisor_pid is not empty"

# The counts follow the data: each table counts its own rows.
run "$SMITHERS" db query --json "select (select count(*) from agents) as a,
	(select count(*) from transitions) as t"
json 'j == [{"a": 5, "t": 7}]'

# While a supervisor holds the lock, stats names its pid.
hold_lock .
run "$SMITHERS" db stats --json
expect_rc 0
json 'j["supervisor_pid"] == '"$HOLDER"
release_lock
run "$SMITHERS" db stats --json
json 'j["supervisor_pid"] is None'

# An empty store counts nothing.
run "$SMITHERS" init fresh
run "$SMITHERS" --dir fresh db stats --json
json 'all(j[k] == 0 for k in ["executions", "phases", "agents",
     "tool_calls", "state", "transitions", "memories", "artifacts"])'
exit 0
