#!/bin/sh
# libsmithers is the agent's library: it exports the client (smithers_*)
# and the shared-memory reader, nothing else - none of the store's writer,
# gc or failpoints - and links no libgit2. A build configured without
# --enable-failpoints has no failpoint code in any program either.
# `make installcheck` runs this test on what was installed: LIBSMITHERS
# and PROGRAMS (space-separated) name the files to look at.
. "$top_srcdir/tests/integration/lib.sh"

lib=${LIBSMITHERS:-$top_builddir/.libs/libsmithers.so}
programs=${PROGRAMS:-"$top_builddir/tools/smithers $top_builddir/tools/smithers-top $top_builddir/worker/smithers-worker"}
[ -f "$lib" ] || fail "no library '$lib'"

# What an agent and a monitor call is exported ...
run nm -D --defined-only "$lib"
expect_rc 0
awk 'NF { print $NF }' "$OUT" | sort -u >"$T/exported"
for sym in smithers_open smithers_state_set smithers_sync smithers_state_get \
	smithers_close shm_reader_open shm_reader_close shm_read_header \
	shm_read_agent shm_read_key shm_read_keys shm_writer_alive; do
	grep -qx "$sym" "$T/exported" || fail "libsmithers does not export $sym"
done
# ... and nothing else: no wal_ (writer, gc, failpoints, lookup), no writer
# of the segment (shm_writer_create, shm_key_set, ...).
if grep -Ev '^(smithers_|shm_read|shm_writer_alive$)' "$T/exported" \
	>"$T/extra"; then
	fail "libsmithers exports more than the client and the shm reader:" \
		"$(tr '\n' ' ' <"$T/extra")"
fi

# No libgit2: neither needed nor called.
run objdump -p "$lib"
expect_rc 0
if grep -E 'NEEDED.*libgit2' "$OUT"; then
	fail "libsmithers links libgit2"
fi
run nm -D --undefined-only "$lib"
if grep -E ' git_' "$OUT"; then
	fail "libsmithers calls libgit2"
fi

# Failpoint code: the name of the variable that arms it (a string of its
# own: debug info may name the macro SMITHERS_FAILPOINTS), the message it
# prints, its functions. Never in the library; in the programs only when
# configured in.
has_failpoints() {
	tr '\000' '\n' <"$1" >"$T/strings"
	grep -qx SMITHERS_FAILPOINT "$T/strings" ||
		grep -q 'failpoint %s reached' "$T/strings" ||
		nm "$1" 2>/dev/null | grep -q 'wal_failpoint'
}
if has_failpoints "$lib"; then
	fail "libsmithers holds failpoint code"
fi
if [ "${failpoints:-no}" = yes ]; then
	# A test build: the check above must see them where they are.
	set -- $programs
	has_failpoints "$1" ||
		fail "a build with --enable-failpoints, but none found in '$1'"
else
	for p in $programs; do
		[ -f "$p" ] || fail "no program '$p'"
		if has_failpoints "$p"; then
			fail "'$p' holds failpoint code in a build without" \
				"--enable-failpoints"
		fi
	done
fi
