#!/bin/sh
# The crash torture test in `make check`: 20 random rounds (CRASH_ROUNDS
# changes the count; `make crash-long` runs 1000). The failpoints have a
# test of their own, failpoints.sh: this one needs none built.
exec /usr/bin/python3 "$top_srcdir/tests/crash/torture.py" \
	--rounds "${CRASH_ROUNDS:-20}" --failpoints none
