#!/bin/sh
# The WAL stays bounded under a continuous load: a reader holding a
# snapshot keeps the checkpoints from catching up, so the WAL grows while it
# holds; once it lets go, the supervisor's checkpoints let the WAL start
# again from its beginning, and its file grows no more (and is never left
# past journal_size_limit, 64 MiB) while the writes go on.
. "$top_srcdir/tests/integration/lib.sh"

cat >flow.ini <<INI
[phase work]
INI
for i in 1 2 3; do
	cat >>flow.ini <<INI
[agent w$i]
phase = work
command = $AGENT set w$i.k 100000000 100
restart = never
INI
done

wal_size() { stat -c %s .smithers/smithers.db-wal 2>/dev/null || echo 0; }
writes() { sql "SELECT coalesce(max(id), 0) FROM transitions"; }
writes_ge() { [ "$(writes)" -ge "$1" ]; }

start_run flow.ini
wait_until 30 writes_ge 20000

# The reader: a snapshot held for 3 seconds.
"$PYTHON" - .smithers/smithers.db "$T" <<'PY' &
import os, sqlite3, sys, time
c = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True,
                    isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM state").fetchone()
open(os.path.join(sys.argv[2], "held"), "w").close()
time.sleep(3)
c.execute("COMMIT")
open(os.path.join(sys.argv[2], "released"), "w").close()
time.sleep(0.5)
PY
READER=$!
BG_PIDS="$BG_PIDS $READER"
wait_until 10 test -e "$T/held"
held=$(wal_size)
held_writes=$(writes)
wait_until 20 test -e "$T/released"
released=$(wal_size)
[ "$(writes)" -gt "$held_writes" ] || fail "no writes while the reader held"
[ "$released" -gt "$held" ] ||
	fail "the WAL did not grow under the snapshot ($held, $released)"

# Let go: the next checkpoint completes, the WAL starts again.
sleep 2
s1=$(wal_size)
w1=$(writes)
wait_until 60 writes_ge $((w1 + 50000))
s2=$(wal_size)
echo "WAL: $held at the snapshot, $released when released, $s1 then $s2" \
	"over $(($(writes) - w1)) more writes"
[ "$s2" = "$s1" ] || fail "the WAL still grows ($s1 -> $s2 bytes)"
[ "$s2" -le $((64 * 1024 * 1024 + 1024 * 1024)) ] ||
	fail "the WAL is past journal_size_limit: $s2 bytes"
kill -TERM "$SUP"
wait_run
expect_rc 143
exit 0
