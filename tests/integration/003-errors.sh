#!/bin/sh
# Errors of the command line: no state dir (exit 2, exact message), unknown
# command, subcommand or option (exit 2, usage on stderr, nothing on
# stdout), bad arguments, and things that are not found (exit 1).
. "$top_srcdir/tests/integration/lib.sh"

usage_error() {
	expect_rc 2
	err_has "usage: smithers"
	out_is ""
}

# No state dir: exit 2, the exact message, for every reading subcommand.
mkdir empty
cd empty
for sub in state transitions executions "execution 1" current memories \
	tools artifacts stats recovery "replay 1" "query select 1"; do
	# shellcheck disable=SC2086
	run "$SMITHERS" db $sub
	expect_rc 2
	err_is "smithers: no smithers state in '.' (run 'smithers init')"
	out_is ""
done
cd "$T"
run "$SMITHERS" --dir "$T/nowhere" db state
expect_rc 2
err_is "smithers: no smithers state in '$T/nowhere' (run 'smithers init')"
[ ! -e "$T/nowhere" ] || fail "a read created the state dir"
run "$SMITHERS" db stats --dir empty
expect_rc 2
err_is "smithers: no smithers state in 'empty' (run 'smithers init')"
[ ! -e empty/.smithers ] || fail "a read created .smithers"
# A state dir without a database is no state either.
mkdir -p bare/.smithers
run "$SMITHERS" --dir bare db executions
expect_rc 2
err_is "smithers: no smithers state in 'bare' (run 'smithers init')"

populate data
cd data

# Unknown command, subcommand, option: usage on stderr, exit 2.
run "$SMITHERS"
usage_error
err_has "no command given"
run "$SMITHERS" frobnicate
usage_error
err_has "smithers: unknown command 'frobnicate'"
run "$SMITHERS" db
usage_error
err_has "'db' needs a subcommand"
run "$SMITHERS" db frobnicate
usage_error
err_has "smithers: unknown subcommand 'db frobnicate'"
err_has "subcommands: state transitions"
run "$SMITHERS" --frobnicate db state
usage_error
err_has "smithers: unknown option '--frobnicate'"
run "$SMITHERS" -x db state
usage_error
err_has "smithers: unknown option '-x'"
run "$SMITHERS" db --frobnicate state
usage_error
err_has "smithers: unknown option '--frobnicate'"
run "$SMITHERS" db state --frobnicate
usage_error
err_has "smithers: unknown option '--frobnicate'"
err_has "usage: smithers db state [KEY]"
run "$SMITHERS" db executions -q
usage_error
err_has "smithers: unknown option '-q'"
run "$SMITHERS" init --frobnicate
usage_error
err_has "usage: smithers init [DIR]"
# An option of another subcommand.
run "$SMITHERS" db state --key survey.files
usage_error
err_has "smithers: 'db state' has no option '--key'"
run "$SMITHERS" db stats -n 3
usage_error
err_has "smithers: 'db stats' has no option '-n'"
# Options that need an argument.
run "$SMITHERS" db transitions -n
usage_error
err_has "smithers: option '-n' needs an argument"
run "$SMITHERS" db transitions --key
usage_error
err_has "smithers: option '--key' needs an argument"
run "$SMITHERS" --dir
usage_error
err_has "smithers: option '--dir' needs an argument"
# Bad values.
for n in abc -1 1x "" 99999999999; do
	run "$SMITHERS" db executions -n "$n"
	usage_error
	err_has "smithers: '-n' needs a count, not '$n'"
done
run "$SMITHERS" db tools --agent zero
usage_error
run "$SMITHERS" db memories --category nonsense
expect_rc 2
err_has "smithers: unknown category 'nonsense'"
run "$SMITHERS" db memories --scope nonsense
expect_rc 2
err_has "smithers: unknown scope 'nonsense'"
run "$SMITHERS" db execution abc
expect_rc 2
err_has "smithers: 'abc' is not an execution id"
run "$SMITHERS" db replay 0
expect_rc 2
err_has "smithers: '0' is not a transition id"
# Arguments missing or too many.
run "$SMITHERS" db execution
usage_error
err_has "smithers: 'db execution' needs ID"
run "$SMITHERS" db execution 1 2
usage_error
err_has "smithers: too many arguments for 'db execution'"
run "$SMITHERS" db stats extra
usage_error
run "$SMITHERS" db query
usage_error
run "$SMITHERS" db --dir ""
usage_error
err_has "'--dir' needs a directory"

# Not found: exit 1 and a message naming what is missing.
run "$SMITHERS" db execution 999
expect_rc 1
err_is "smithers: no execution 999"
out_is ""
run "$SMITHERS" db execution 999 --json
expect_rc 1
out_is ""
run "$SMITHERS" db state no.such.key
expect_rc 1
err_is "smithers: no state key 'no.such.key'"
run "$SMITHERS" db replay 999
expect_rc 1
err_is "smithers: no transition 999"
run "$SMITHERS" db memories --search 'AND OR ('
expect_rc 1
err_has "invalid search query"
out_is ""
run "$SMITHERS" db query "select * from no_such_table"
expect_rc 1
err_has "no such table: no_such_table"
out_is ""
run "$SMITHERS" --json db query "select * from no_such_table"
expect_rc 1
out_is ""
exit 0
