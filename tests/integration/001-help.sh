#!/bin/sh
# --help, --version and `help` for the program, every command and every db
# subcommand: exit 0, the right usage line on stdout, nothing on stderr.
. "$top_srcdir/tests/integration/lib.sh"

SUBS="state transitions executions execution current memories tools
artifacts stats recovery replay query gc"

for args in "--help" "-h" "help"; do
	run "$SMITHERS" $args
	expect_rc 0
	out_has "usage: smithers [--dir DIR] [--json] COMMAND [ARGS]"
	for cmd in init db help; do
		out_has "  $cmd "
	done
	out_has "SMITHERS_DIR"
	err_is ""
done

run "$SMITHERS" --version
expect_rc 0
out_has "smithers "
grep -Eq '^smithers [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" || fail "bad --version"

for cmd in init db help; do
	run "$SMITHERS" help "$cmd"
	expect_rc 0
	cp "$OUT" "$T/help-a"
	out_has "usage: smithers $cmd"
	run "$SMITHERS" "$cmd" --help
	expect_rc 0
	out_has "usage: smithers $cmd"
	cmp -s "$OUT" "$T/help-a" || fail "'help $cmd' and '$cmd --help' differ"
	err_is ""
done

run "$SMITHERS" db --help
expect_rc 0
for sub in $SUBS; do
	grep -q "^  $sub " "$OUT" || fail "db --help lacks $sub"
done

for sub in $SUBS; do
	run "$SMITHERS" db "$sub" --help
	expect_rc 0
	out_has "usage: smithers db $sub"
	out_has "[--json] [--dir DIR]"
	cp "$OUT" "$T/help-b"
	err_is ""
	run "$SMITHERS" help db "$sub"
	expect_rc 0
	cmp -s "$OUT" "$T/help-b" || fail "'help db $sub' differs"
	# -h too, and --help wins over missing arguments.
	run "$SMITHERS" db "$sub" -h
	expect_rc 0
	out_has "usage: smithers db $sub"
done

# The fleet subcommands that read the fleet view (the sink documents
# itself), the same way; they read no state dir.
FLEET_SUBS="executions agents costs top"
run "$SMITHERS" fleet --help
expect_rc 0
out_has "usage: smithers fleet SUBCOMMAND"
for sub in $FLEET_SUBS; do
	grep -q "^  $sub  *[a-z]" "$OUT" || fail "fleet --help lacks $sub"
done
for sub in $FLEET_SUBS; do
	run "$SMITHERS" fleet "$sub" --help
	expect_rc 0
	out_has "usage: smithers fleet $sub [--postgres CONNINFO]"
	out_has "[--json]"
	out_lacks "--dir"
	cp "$OUT" "$T/help-f"
	err_is ""
	run "$SMITHERS" help fleet "$sub"
	expect_rc 0
	cmp -s "$OUT" "$T/help-f" || fail "'help fleet $sub' differs"
	run "$SMITHERS" --dir "$T/nowhere" fleet "$sub" -h
	expect_rc 0
	out_has "usage: smithers fleet $sub"
done
run "$SMITHERS" fleet executions --help
out_has "[--machine M] [--workflow W] [--status S] [--since D] [-n N]"
run "$SMITHERS" fleet costs --help
out_has "[--by machine|workflow|day]"
run "$SMITHERS" fleet top --help
out_has "[-n N]"

# The options each subcommand documents.
run "$SMITHERS" db transitions --help
out_has "[--key KEY] [-n N]"
run "$SMITHERS" db memories --help
out_has "[--search Q] [--category C] [--scope S] [-n N]"
run "$SMITHERS" db tools --help
out_has "[--agent ID] [-n N]"
run "$SMITHERS" db replay --help
out_has "replay:ID"
run "$SMITHERS" db gc --help
out_has "[--keep N] [--older-than D] [--dry-run]"

# Help needs no state dir.
run "$SMITHERS" --dir "$T/nowhere" db stats --help
expect_rc 0

# The manual covers every command, subcommand, option, the environment,
# the files and the exit status.
man="$top_srcdir/man/smithers.1"
grep -q '^\.BR init ' "$man" || fail "smithers.1 does not cover init"
grep -q '^\.BR help ' "$man" || fail "smithers.1 does not cover help"
for sub in $SUBS; do
	grep -q "db $sub" "$man" || fail "smithers.1 does not cover db $sub"
done
grep -q '^\.BR fleet ' "$man" || fail "smithers.1 does not cover fleet"
for sub in $FLEET_SUBS; do
	grep -q "fleet $sub" "$man" || fail "smithers.1 does not cover fleet $sub"
done
for word in '\\-\\-dir' '\\-\\-json' '\\-\\-key' '\\-\\-search' \
	'\\-\\-category' '\\-\\-scope' '\\-\\-agent' '\\-n' \
	'\\-\\-help' '\\-\\-version' SMITHERS_DIR smithers.db \
	supervisor.lock logs/objects '^\.SH EXIT STATUS' '^\.SH FILES' \
	'^\.SH ENVIRONMENT' '\\-\\-keep' '\\-\\-older\\-than' \
	'\\-\\-dry\\-run' '\\-\\-postgres' '\\-\\-machine' \
	'\\-\\-workflow' '\\-\\-status' '\\-\\-since' '\\-\\-by'; do
	grep -q -- "$word" "$man" || fail "smithers.1 lacks $word"
done

# A help of something unknown is a usage error.
run "$SMITHERS" help nosuch
expect_rc 2
err_has "unknown command 'nosuch'"
run "$SMITHERS" help db nosuch
expect_rc 2
err_has "unknown subcommand 'db nosuch'"
exit 0
