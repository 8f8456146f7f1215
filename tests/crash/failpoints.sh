#!/bin/sh
# The crash torture test at each failpoint once, after two random rounds
# (a crash during recovery needs an execution to recover). Failpoints exist
# only in a build configured with --enable-failpoints: elsewhere this test
# is skipped (exit 77), and says so.
if [ "${failpoints:-no}" != yes ]; then
	echo "skip: this build has no failpoints (configure --enable-failpoints)"
	exit 77
fi
exec /usr/bin/python3 "$top_srcdir/tests/crash/torture.py" \
	--rounds 2 --failpoints all
