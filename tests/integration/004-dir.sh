#!/bin/sh
# Where the state dir is: --dir before the command, after the command or
# the subcommand (and as --dir=DIR), SMITHERS_DIR, the current directory,
# and which one wins.
. "$top_srcdir/tests/integration/lib.sh"

# a has one execution, c none.
populate a
run "$SMITHERS" init c
expect_rc 0

expect_executions() {
	expect_rc 0
	json "len(j) == $1"
}

for where in "--dir a --json db executions" \
	"--json db --dir a executions" \
	"--json db executions --dir a" \
	"db executions --json --dir=a" \
	"--dir=a db executions --json"; do
	# shellcheck disable=SC2086
	run "$SMITHERS" $where
	expect_executions 1
done
for where in "--dir c db executions --json" \
	"db executions --json --dir c"; do
	# shellcheck disable=SC2086
	run "$SMITHERS" $where
	expect_executions 0
done

# The last --dir wins, and --dir beats SMITHERS_DIR.
run "$SMITHERS" --dir a db executions --json --dir c
expect_executions 0
SMITHERS_DIR="$T/c"
export SMITHERS_DIR
run "$SMITHERS" db executions --json
expect_executions 0
run "$SMITHERS" --dir a db executions --json
expect_executions 1
run "$SMITHERS" db executions --json --dir a
expect_executions 1
# SMITHERS_DIR beats the current directory.
cd a
run "$SMITHERS" db executions --json
expect_executions 0
run "$SMITHERS" db stats
out_has "$T/c/.smithers/smithers.db"
# An empty SMITHERS_DIR is unset: the current directory.
SMITHERS_DIR=
run "$SMITHERS" db executions --json
expect_executions 1
unset SMITHERS_DIR
run "$SMITHERS" db executions --json
expect_executions 1
# A relative --dir is relative to the current directory.
run "$SMITHERS" --dir ../c db executions --json
expect_executions 0
cd "$T"

# init follows SMITHERS_DIR and --dir too; a DIR argument beats both.
SMITHERS_DIR="$T/d" "$SMITHERS" init >"$OUT"
[ -f d/.smithers/smithers.db ] && [ -f d/smithers.ini ] ||
	fail "init ignored SMITHERS_DIR"
run "$SMITHERS" --dir e init
expect_rc 0
[ -f e/smithers.ini ] || fail "init ignored --dir"
run "$SMITHERS" --dir e init f
expect_rc 0
[ -f f/smithers.ini ] || fail "init ignored its DIR"
# Errors name the directory that was looked in.
SMITHERS_DIR="$T/none"
export SMITHERS_DIR
run "$SMITHERS" db state
expect_rc 2
err_is "smithers: no smithers state in '$T/none' (run 'smithers init')"
exit 0
