#!/bin/sh
# A database file that is not one: text, random bytes, a truncated or
# damaged database, a directory, a newer schema. Every command fails with a
# message naming the file and exit status 1 - never a crash, never a write.
. "$top_srcdir/tests/integration/lib.sh"

CMDS="state transitions executions current memories tools artifacts stats
recovery"

populate good
db=.smithers/smithers.db

# Every reading subcommand, replay and init fail on DIR's database with a
# message naming the file.
expect_broken() {
	for sub in $CMDS; do
		run "$SMITHERS" --dir "$1" db "$sub"
		expect_rc 1
		err_has "smithers: cannot "
		err_has "'$1/$db'"
		out_is ""
		run "$SMITHERS" --dir "$1" db "$sub" --json
		expect_rc 1
		out_is ""
	done
	run "$SMITHERS" --dir "$1" db execution 1
	expect_rc 1
	err_has "'$1/$db'"
	run "$SMITHERS" --dir "$1" db query "select count(*) from agents"
	expect_rc 1
	err_has "'$1/$db'"
	run "$SMITHERS" --dir "$1" db replay 3
	expect_rc 1
	err_has "'$1/$db'"
	run "$SMITHERS" init "$1"
	expect_rc 1
	err_has "'$1/$db'"
}

# Text.
mkdir -p text/.smithers
echo "this is not a database" >"text/$db"
cksum <"text/$db" >"$T/sum"
expect_broken text
err_has "file is not a database"
cksum <"text/$db" | cmp -s - "$T/sum" || fail "the text file was changed"
[ ! -e text/smithers.ini ] || fail "init wrote files next to a bad database"

# Random bytes (the same every run).
mkdir -p garbage/.smithers
awk 'BEGIN { srand(42); for (i = 0; i < 8192; i++)
	printf "%c", int(rand() * 255) + 1 }' >"garbage/$db"
expect_broken garbage

# A database cut short, at several sizes.
for size in 100 4096 20000 65536; do
	mkdir -p "cut$size/.smithers"
	cp "good/$db" "cut$size/$db"
	# dd is POSIX; truncate(1) is not.
	dd if="good/$db" of="cut$size/$db" bs="$size" count=1 2>/dev/null
	[ "$(wc -c <"cut$size/$db")" -eq "$size" ] || fail "cannot truncate"
	expect_broken "cut$size"
	err_has "database disk image is malformed"
done

# A database with damaged pages: whatever reads them fails cleanly.
mkdir -p damaged/.smithers
cp "good/$db" "damaged/$db"
pages=$(($(wc -c <"good/$db") / 4096))
awk 'BEGIN { srand(7); for (i = 0; i < 4096 * 4; i++)
	printf "%c", int(rand() * 255) + 1 }' >"$T/noise"
dd if="$T/noise" of="damaged/$db" bs=4096 seek=2 conv=notrunc \
	2>/dev/null
[ "$(($(wc -c <"damaged/$db") / 4096))" -eq "$pages" ] || fail "dd grew it"
for sub in $CMDS "execution 1" "replay 3"; do
	# shellcheck disable=SC2086
	run "$SMITHERS" --dir damaged db $sub
	[ "$rc" -eq 0 ] || [ "$rc" -eq 1 ] || fail "'$LAST' exited $rc"
	if [ "$rc" -eq 1 ]; then
		err_has "'damaged/$db'"
	fi
done

# A directory where the database should be.
mkdir -p dir/.smithers/smithers.db
run "$SMITHERS" --dir dir db state
expect_rc 1
err_has "'dir/$db'"
err_has "not a regular file"

# A schema newer than this smithers: refused, with what to do.
mkdir -p newer/.smithers
cp "good/$db" "newer/$db"
"$PYTHON" -c 'import sqlite3, sys
c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA user_version = 99")
c.commit(); c.close()' "newer/$db"
run "$SMITHERS" --dir newer db state
expect_rc 1
err_has "'newer/$db'"
err_has "schema version 99 is newer"

# An empty file is no state at all.
mkdir -p empty/.smithers
: >"empty/$db"
run "$SMITHERS" --dir empty db state
expect_rc 2
err_is "smithers: no smithers state in 'empty' (run 'smithers init')"

# The good one still reads.
run "$SMITHERS" --dir good db state survey.files
expect_rc 0
out_is "14"
exit 0
