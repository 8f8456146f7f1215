#!/bin/sh
# The crash torture test in `make check`: 20 random rounds and every
# failpoint (CRASH_ROUNDS changes the count; `make crash-long` runs 1000).
exec /usr/bin/python3 "$top_srcdir/tests/crash/torture.py" \
	--rounds "${CRASH_ROUNDS:-20}"
