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
# The WAL header's checkpoint sequence and first salt: both change each time
# the WAL starts again from its beginning.
wal_hdr() { od -An -tx1 -j12 -N8 .smithers/smithers.db-wal | tr -d ' \n'; }
restarted() { [ "$(wal_hdr)" != "$held_hdr" ]; }
writes() { sql "SELECT coalesce(max(id), 0) FROM transitions"; }
writes_ge() { [ "$(writes)" -ge "$1" ]; }

start_run flow.ini
wait_until 30 writes_ge 20000

# One cycle of the WAL: the supervisor checkpoints and starts it again from
# its beginning once it holds 4096 pages (supervisor/sup-int.h, WAL_TRIM_PAGES)
# - a page and a frame header each, plus the commit that crossed the line.
cycle=$((4096 * (4096 + 24) + 4 * 1024 * 1024))

# The reader: a snapshot held until the WAL is past a cycle, or for 15 s
# when the writes are slow (a sanitizer build on a busy machine).
"$PYTHON" - .smithers/smithers.db "$T" "$cycle" <<'PY' &
import os, sqlite3, sys, time
db, t, cycle = sys.argv[1], sys.argv[2], int(sys.argv[3])
c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM state").fetchone()
open(os.path.join(t, "held"), "w").close()
start = time.time()
while time.time() - start < 15:
    if os.stat(db + "-wal").st_size > cycle + cycle // 8:
        break
    time.sleep(0.05)
c.execute("COMMIT")
open(os.path.join(t, "released"), "w").close()
time.sleep(0.5)
PY
READER=$!
BG_PIDS="$BG_PIDS $READER"
wait_until 10 test -e "$T/held"
held=$(wal_size)
held_hdr=$(wal_hdr)
held_writes=$(writes)
wait_until 30 test -e "$T/released"
released=$(wal_size)
[ "$(writes)" -gt "$held_writes" ] || fail "no writes while the reader held"
[ "$released" -gt "$held" ] ||
	fail "the WAL did not grow under the snapshot ($held, $released)"

# Let go: the next checkpoint completes (the commits until then still
# append, for as long as the checkpoint takes on a busy machine), the WAL
# starts again. From then on it is never longer than it was, or than a
# cycle.
wait_until 60 restarted
s1=$(wal_size)
w1=$(writes)
bound=$((s1 > cycle ? s1 : cycle))
max=$s1
more() {
	s=$(wal_size)
	[ "$s" -le "$max" ] || max=$s
	writes_ge $((w1 + 50000))
}
wait_until 120 more
s2=$(wal_size)
echo "WAL: $held at the snapshot, $released when released, $s1 then $s2" \
	"(at most $max) over $(($(writes) - w1)) more writes; a cycle: $cycle"
[ "$max" -le "$bound" ] || fail "the WAL grew past $bound bytes: $max"
# Past a cycle when released: it grows no more at all.
if [ "$released" -gt "$cycle" ]; then
	[ "$s2" = "$s1" ] || fail "the WAL still grows ($s1 -> $s2 bytes)"
fi
[ "$s2" -le $((64 * 1024 * 1024 + 1024 * 1024)) ] ||
	fail "the WAL is past journal_size_limit: $s2 bytes"
kill -TERM "$SUP"
wait_run
expect_rc 143
exit 0
