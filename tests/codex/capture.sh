#!/bin/sh
# capture.sh - regenerate tests/fixtures/codex/: run the real Codex CLI (not
# smithers) against fakeapi.py once per scenario, each with the script
# tests/codex/scripts/NAME.json, and keep its stdout as NAME.jsonl.
#
#   tests/codex/capture.sh [NAME...]     (all scenarios by default)
#
# The CLI is $SMITHERS_CODEX or build/codex-cli/node_modules/.bin/codex
# (tools/quickstart installs it). Every scenario has a fresh CODEX_HOME,
# HOME and working directory under $CAPTURE_DIR (/tmp/codex-fixture), a
# fixed path so that the paths in the fixtures do not change from one
# capture to the next; the configuration is the one of the tests
# (codex_home in lib.sh). The exit status of each run goes to
# exit-status.txt; its stderr and duration are shown on stderr.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
fixtures=$top/tests/fixtures/codex
base=${CAPTURE_DIR:-/tmp/codex-fixture}
PYTHON=/usr/bin/python3

# What lib.sh needs of tests/integration/lib.sh.
# shellcheck disable=SC2034
top_srcdir=$top
# shellcheck disable=SC2034
top_builddir=$top/build
# shellcheck disable=SC2034
T=$base
# shellcheck disable=SC2034
BG_PIDS=
fail() {
	echo "capture.sh: $*" >&2
	exit 1
}
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"

mkdir -p "$fixtures"

stop_server() {
	if [ -n "${FAKEAPI_PID:-}" ]; then
		kill "$FAKEAPI_PID" 2>/dev/null || :
		wait "$FAKEAPI_PID" 2>/dev/null || :
		FAKEAPI_PID=
	fi
}
trap stop_server EXIT
trap 'exit 1' HUP INT TERM

# fresh SCRIPT: an empty CODEX_HOME, HOME and working directory, and
# fakeapi.py on scripts/SCRIPT.json.
fresh() {
	stop_server
	rm -rf "$base"
	mkdir -p "$base/work"
	fakeapi_start "$1"
}

now() { date +%s.%N; }

# cli NAME ARGS...: codex exec --json --skip-git-repo-check ARGS in
# $base/work, stdin /dev/null, stdout to the fixture NAME.jsonl.
cli() {
	name=$1
	shift
	t0=$(now)
	set +e
	(cd "$base/work" && exec timeout 120 "$CODEX" exec --json \
		--skip-git-repo-check "$@") </dev/null \
		>"$fixtures/$name.jsonl" 2>"$base/$name.err"
	rc=$?
	set -e
	record "$name" $rc "$t0"
}

record() {
	grep -v "^$1 " "$fixtures/exit-status.txt" >"$base/st" 2>/dev/null || :
	echo "$1 $2" >>"$base/st"
	sort "$base/st" >"$fixtures/exit-status.txt"
	echo "capture.sh: $1: exit $2, $(awk -v a="$3" -v b="$(now)" \
		'BEGIN { printf "%.2f", b - a }') s, $(fakeapi_count) requests" >&2
	# The warning about CODEX_HOME under /tmp and the note about stdin
	# come every time.
	grep -v 'could not create PATH aliases\|^Reading additional input' \
		"$base/$1.err" | sed "s/^/capture.sh: $1: stderr: /" |
		head -n 5 >&2 || :
}

# signalled NAME SIGNAL: a run killed by SIGNAL while its request is in
# flight (the script delays its answer). The signal goes to the process
# started (with node 20, the node wrapper bin/codex.js that forwards
# SIGINT, SIGTERM and SIGHUP to the native binary).
signalled() {
	fresh slow
	t0=$(now)
	# A shell without job control starts background jobs with SIGINT
	# ignored: restore the default. The pid of the CLI itself (not of a
	# shell forked on the way) goes to $base/pid.
	(cd "$base/work" && exec "$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % os.getpid())
os.execv(sys.argv[2], sys.argv[2:])' "$base/pid" "$CODEX" exec --json \
		--skip-git-repo-check -- "answer slowly") </dev/null \
		>"$fixtures/$1.jsonl" 2>"$base/$1.err" &
	job=$!
	i=0
	until [ -s "$(fakeapi_requests)" ]; do
		i=$((i + 1))
		[ $i -lt 300 ] || break
		sleep 0.1
	done
	sleep 1
	kill -s "$2" "$(cat "$base/pid")"
	set +e
	wait $job
	rc=$?
	set -e
	record "$1" $rc "$t0"
}

# The first request of the resumed run, cut short: the long developer
# messages and environment context keep their first line only, tools
# their names.
resume_request() {
	"$PYTHON" - "$(fakeapi_requests)" >"$fixtures/resume-request.json" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
req = [l for l in lines if l["reply"] == 2][0]
b = req["body"]
for item in b["input"]:
    for part in item.get("content") or []:
        t = part.get("text")
        if isinstance(t, str) and (item.get("role") == "developer"
                                   or t.startswith("<")):
            part["text"] = t.split("\n", 1)[0] + " [...]"
    if item.get("type", "").endswith("_output"):
        # Its chunk id and wall time change from run to run.
        item["output"] = "[...] " + item["output"].split("Output:", 1)[-1]
    # The CLI's own ids change from run to run (the fake's do not).
    iid = item.get("id")
    if isinstance(iid, str) and "_fake_" not in iid:
        item["id"] = iid.split("_", 1)[0] + "_[...]"
b["tools"] = [t.get("name") or t.get("type") for t in b.get("tools", [])]
for k in ("prompt_cache_key", "client_metadata"):
    if k in b:
        b[k] = "[...]"
print(json.dumps(req, indent=1))
EOF
}

scenario() {
	case $1 in
	text-only | reasoning | parallel-commands | command-error | \
		big-output | api-error | rate-limit | retry | web-search | \
		unknown-tool | long-command | unfinished-command)
		fresh "$1"
		[ "$1" != parallel-commands ] ||
			printf 'a note\n' >"$base/work/notes.txt"
		cli "$1" -- "scenario $1"
		;;
	one-command)
		fresh one-command
		cli one-command -- "run echo hi"
		;;
	mcp-tool)
		fresh mcp-tool
		codex_mcp_echo "$CODEX_HOME"
		cli mcp-tool -- "use the echo tool"
		;;
	file-change)
		fresh file-change
		printf 'old\n' >"$base/work/old.txt"
		cli file-change -- "edit files"
		;;
	resume)
		fresh resume
		cli resume-first -- "remember 42"
		thread=$(sed -n 's/^{"type":"thread.started","thread_id":"\([^"]*\)".*/\1/p' \
			"$fixtures/resume-first.jsonl")
		cli resume resume "$thread" "what was it"
		resume_request
		;;
	unknown-resume)
		fresh text-only
		cli unknown-resume resume 00000000-0000-7000-8000-000000000000 \
			"what was it"
		;;
	sigint) signalled sigint INT ;;
	sigterm) signalled sigterm TERM ;;
	*)
		echo "capture.sh: no scenario $1" >&2
		exit 2
		;;
	esac
}

# big-output is not among them: its 1.2 MB line is no file to keep in the
# repository (tests/integration/140-codex-record.sh runs it against the
# real CLI); capture.sh big-output still writes it, to look at.
all="text-only reasoning one-command parallel-commands command-error
long-command unfinished-command file-change mcp-tool web-search
unknown-tool api-error rate-limit retry resume unknown-resume sigint
sigterm"
# shellcheck disable=SC2086
[ $# -gt 0 ] || set -- $all
for s in "$@"; do
	echo "capture.sh: $s" >&2
	scenario "$s"
done
stop_server
rm -rf "$base"
