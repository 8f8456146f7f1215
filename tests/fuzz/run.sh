#!/bin/sh
# run.sh - run the libFuzzer targets for a while each, over a copy of their
# seed corpus, and say how it went.
#
#   tests/fuzz/run.sh [TARGET...]      TARGET: frame, workflow, cond (all)
#
# The targets are built by `configure CC=clang --enable-fuzzing` then make;
# run from the build dir (or set top_builddir). `make fuzz` runs this.
#
#   FUZZ_SECONDS    how long each target runs (60)
#   FUZZ_ARTIFACTS  where crashes and logs go (tests/fuzz/artifacts in the
#                   build dir)
#   FUZZ_CORPUS     keep each target's grown corpus in FUZZ_CORPUS/TARGET
#                   (made from the seeds the first time) and go on from it
#                   next time; by default the run uses a temporary copy
#
# Prints per target the executions, executions per second and coverage
# (libFuzzer's final cov: edges and ft: features). Exits 1 if a target
# crashed, leaked, hung (10 s on one input) or ran out of memory: the input
# is saved in FUZZ_ARTIFACTS/TARGET/; `tests/fuzz/replay-TARGET FILE`
# replays it without libFuzzer. Once the bug is fixed, keep the input in
# tests/fuzz/regressions/TARGET/, where `make check` replays it.
set -u

here=$(cd "$(dirname "$0")" && pwd)
top_srcdir=${top_srcdir:-$here/../..}
top_builddir=${top_builddir:-.}
seconds=${FUZZ_SECONDS:-60}
artifacts=${FUZZ_ARTIFACTS:-$top_builddir/tests/fuzz/artifacts}

case $seconds in
'' | *[!0-9]*)
	echo "run.sh: FUZZ_SECONDS must be a number of seconds, not '$seconds'" >&2
	exit 2
	;;
esac
[ $# -gt 0 ] || set -- frame workflow cond

# final_stat NAME LOG: libFuzzer's final "stat::NAME: VALUE".
final_stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

status=0
for t in "$@"; do
	bin=$top_builddir/tests/fuzz/fuzz-$t
	seeds=$top_srcdir/tests/fuzz/corpus/$t
	if [ ! -x "$bin" ] || [ ! -d "$seeds" ]; then
		echo "run.sh: no fuzz target '$t' ($bin): configure CC=clang --enable-fuzzing, then make" >&2
		status=1
		continue
	fi
	mkdir -p "$artifacts/$t" || exit 1
	log=$artifacts/$t.log
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/smithers-fuzz.XXXXXX") || exit 1
	# The seeds stay as they are; the run adds what it finds to a copy.
	corpus=${FUZZ_CORPUS:+$FUZZ_CORPUS/$t}
	corpus=${corpus:-$tmp/corpus}
	if [ ! -d "$corpus" ]; then
		mkdir -p "$(dirname "$corpus")" &&
			cp -R "$seeds" "$corpus" &&
			chmod -R u+w "$corpus" || exit 1
	fi
	dict=
	[ -f "$top_srcdir/tests/fuzz/$t.dict" ] &&
		dict=-dict=$top_srcdir/tests/fuzz/$t.dict
	touch "$tmp/start"
	start=$(date +%s)
	# The targets' own temporary files go in TMP too.
	TMPDIR=$tmp "$bin" -max_total_time="$seconds" -print_final_stats=1 \
		-timeout=10 -rss_limit_mb=2048 \
		-artifact_prefix="$artifacts/$t/" ${dict:+"$dict"} "$corpus" \
		</dev/null >"$log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(final_stat number_of_executed_units "$log")
	rate=$(final_stat average_exec_per_sec "$log")
	cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*' "$log" | tail -n 1)
	edges=$(echo "$cov" | sed -n 's/^cov: \([0-9]*\).*/\1/p')
	ft=$(echo "$cov" | sed -n 's/.* ft: \([0-9]*\).*/\1/p')
	corp=$(echo "$cov" | sed -n 's/.* corp: \([0-9]*\).*/\1/p')
	seeds_n=$(find "$seeds" -type f | wc -l)
	printf 'fuzz-%s: %s executions in %s s (%s/s), cov %s, ft %s, corpus %s inputs from %s seeds\n' \
		"$t" "${execs:-?}" "$took" "${rate:-?}" "${edges:-?}" \
		"${ft:-?}" "${corp:-?}" "$seeds_n"
	if [ $rc -ne 0 ] || grep -q '^==[0-9]*==ERROR\|^SUMMARY: \|runtime error:' "$log"; then
		echo "fuzz-$t FAILED (exit $rc); the end of $log:"
		tail -n 40 "$log"
		found=$(find "$artifacts/$t" -type f -newer "$tmp/start" \
			-exec basename {} \;)
		if [ -n "$found" ]; then
			echo "fuzz-$t: the input is saved in $artifacts/$t/:"
			echo "$found" | sed 's/^/  /'
			echo "replay it with: tests/fuzz/replay-$t $artifacts/$t/FILE"
		fi
		status=1
	fi
	rm -rf "$tmp"
done
exit $status
