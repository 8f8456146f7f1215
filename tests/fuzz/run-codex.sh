#!/bin/sh
# Fuzz the Codex CLI (`codex exec --json`) parser for FUZZ_SECONDS (60) as
# a test of the --enable-fuzzing build: see run.sh.
exec /bin/sh "$top_srcdir/tests/fuzz/run.sh" codex
