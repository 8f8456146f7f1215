#!/bin/sh
# capture.sh - regenerate tests/fixtures/claude/: run the real Claude Code CLI
# (not smithers) against fakeapi.py once per scenario, each with the script
# tests/claude/scripts/NAME.json, and keep its stdout as NAME.jsonl.
#
#   tests/claude/capture.sh [NAME...]     (all scenarios by default)
#
# The CLI is $SMITHERS_CLAUDE or build/claude-cli/node_modules/.bin/claude
# (tools/quickstart installs it). Every run has a fresh HOME and working
# directory under $CAPTURE_DIR (/tmp/claude-fixture), a fixed path so that
# the fixtures' cwd fields do not change from one capture to the next. The
# exit status of each run goes to exit-status.txt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
claude=${SMITHERS_CLAUDE:-$top/build/claude-cli/node_modules/.bin/claude}
fixtures=$top/tests/fixtures/claude
scripts=$here/scripts
base=${CAPTURE_DIR:-/tmp/claude-fixture}
PYTHON=/usr/bin/python3
XENV=

[ -x "$claude" ] || {
	echo "capture.sh: no Claude Code CLI at $claude" >&2
	exit 1
}
mkdir -p "$fixtures"
srv=

stop_server() {
	if [ -n "$srv" ]; then
		kill "$srv" 2>/dev/null || :
		wait "$srv" 2>/dev/null || :
		srv=
	fi
}
trap stop_server EXIT
trap 'exit 1' HUP INT TERM

# fresh: an empty HOME and working directory.
fresh() {
	stop_server
	rm -rf "$base"
	mkdir -p "$base/home" "$base/work" "$base/tmp"
}

# serve SCRIPT: fakeapi.py on scripts/SCRIPT.json, its log $base/reqs.jsonl.
serve() {
	"$PYTHON" "$here/fakeapi.py" --script "$scripts/$1.json" \
		--port-file "$base/port" --log "$base/reqs.jsonl" --idle 120 &
	srv=$!
	i=0
	until [ -s "$base/port" ]; do
		i=$((i + 1))
		[ $i -lt 100 ] || {
			echo "capture.sh: fakeapi did not start" >&2
			exit 1
		}
		sleep 0.1
	done
}

# claude_env CMD...: run CMD in $base/work with the environment of a test
# (no ANTHROPIC_* or CLAUDE* variable from the caller).
claude_env() {
	(
		cd "$base/work"
		for v in $(env | sed -n 's/^\(ANTHROPIC_[A-Z0-9_]*\)=.*/\1/p
s/^\(CLAUDE[A-Z0-9_]*\)=.*/\1/p'); do
			unset "$v"
		done
		ANTHROPIC_BASE_URL=http://127.0.0.1:$(cat "$base/port")
		ANTHROPIC_API_KEY=sk-dummy
		HOME=$base/home
		DISABLE_TELEMETRY=1
		CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
		DISABLE_AUTOUPDATER=1
		CLAUDE_CODE_TMPDIR=$base/tmp
		export ANTHROPIC_BASE_URL ANTHROPIC_API_KEY HOME DISABLE_TELEMETRY \
			CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC DISABLE_AUTOUPDATER \
			CLAUDE_CODE_TMPDIR
		# shellcheck disable=SC2086
		exec env $XENV "$@"
	)
}

# cli NAME ARGS...: claude -p ... --output-format stream-json --verbose ARGS,
# stdout to the fixture NAME.jsonl.
cli() {
	name=$1
	shift
	set +e
	claude_env timeout 120 "$claude" --output-format stream-json \
		--verbose "$@" >"$fixtures/$name.jsonl" 2>"$base/$name.err"
	rc=$?
	set -e
	record "$name" $rc
}

record() {
	grep -v "^$1 " "$fixtures/exit-status.txt" >"$base/st" 2>/dev/null || :
	echo "$1 $2" >>"$base/st"
	sort "$base/st" >"$fixtures/exit-status.txt"
	if [ -s "$base/$1.err" ]; then
		echo "capture.sh: $1: stderr: $(head -c 300 "$base/$1.err")" >&2
	fi
}

# signalled NAME SIGNAL SID: a run killed by SIGNAL while its request is in
# flight (the script delays its answer).
signalled() {
	fresh
	serve sigint
	# A shell without job control starts background jobs with SIGINT
	# ignored, and the CLI keeps it ignored: restore the default.
	# The pid of the CLI itself (not of a shell forked on the way) is
	# written to $base/pid.
	claude_env "$PYTHON" -c 'import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
with open(sys.argv[1], "w") as f:
    f.write("%d\n" % os.getpid())
os.execv(sys.argv[2], sys.argv[2:])' "$base/pid" "$claude" \
		-p "answer slowly" --output-format stream-json --verbose \
		--session-id "$3" >"$fixtures/$1.jsonl" 2>"$base/$1.err" &
	job=$!
	i=0
	until [ -s "$base/reqs.jsonl" ]; do
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
	record "$1" $rc
}

sid() { echo "00000000-0000-4000-8000-0000000000$1"; }

scenario() {
	case $1 in
	text-only)
		fresh && serve text-only
		cli text-only -p "say hello" --session-id "$(sid 01)"
		;;
	one-tool)
		fresh && serve one-tool
		cli one-tool -p "run echo hi" --session-id "$(sid 02)" \
			--allowedTools Bash
		;;
	parallel-tools)
		fresh && serve parallel-tools
		printf 'a note\n' >"$base/work/notes.txt"
		cli parallel-tools -p "run three tools" --session-id "$(sid 03)" \
			--allowedTools Bash Read
		;;
	tool-error)
		fresh && serve tool-error
		cli tool-error -p "run a failing command" \
			--session-id "$(sid 04)" --allowedTools Bash
		;;
	permission-denied)
		fresh && serve permission-denied
		cli permission-denied -p "write a file" --session-id "$(sid 05)" \
			--allowedTools Bash
		;;
	subagent)
		fresh && serve subagent
		cli subagent -p "delegate an echo" --session-id "$(sid 06)" \
			--allowedTools Agent Bash
		;;
	subagent-background)
		fresh && serve subagent-background
		cli subagent-background -p "delegate an echo" \
			--session-id "$(sid 07)" --allowedTools Agent Bash
		;;
	max-turns)
		fresh && serve max-turns
		cli max-turns -p "loop" --session-id "$(sid 08)" \
			--allowedTools Bash --max-turns 1
		;;
	overloaded)
		fresh && serve overloaded
		XENV=CLAUDE_CODE_MAX_RETRIES=1 cli overloaded -p "hello" \
			--session-id "$(sid 09)"
		;;
	resume)
		fresh && serve resume
		cli resume-first -p "remember 42" --session-id "$(sid 0a)"
		cli resume -p "what was it" --resume "$(sid 0a)"
		# The resumed run's request: the earlier conversation in it.
		"$PYTHON" - "$base/reqs.jsonl" >"$fixtures/resume-request.json" <<'EOF'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
last = [l for l in lines if l["reply"] == 1][0]
b = last["body"]
# Only what shows the conversation: the tools and system prompt are long.
last["body"] = {"model": b["model"], "stream": b["stream"],
                "messages": b["messages"]}
print(json.dumps(last, indent=1))
EOF
		;;
	unknown-resume)
		fresh && serve text-only
		cli unknown-resume -p "hello" --resume "$(sid ff)"
		;;
	max-budget)
		fresh && serve max-budget
		cli max-budget -p "spend" --session-id "$(sid 0b)" \
			--allowedTools Bash --max-budget-usd 0.01
		;;
	big-output)
		fresh && serve big-output
		cli big-output -p "print a lot" --session-id "$(sid 0c)" \
			--allowedTools Bash
		;;
	partial)
		fresh && serve one-tool
		cli partial -p "run echo hi" --session-id "$(sid 10)" \
			--allowedTools Bash --include-partial-messages
		;;
	retry)
		fresh && serve retry
		cli retry -p "hello" --session-id "$(sid 0f)"
		;;
	sigint) signalled sigint INT "$(sid 0d)" ;;
	sigterm) signalled sigterm TERM "$(sid 0e)" ;;
	*)
		echo "capture.sh: no scenario $1" >&2
		exit 2
		;;
	esac
}

all="text-only one-tool parallel-tools tool-error permission-denied subagent
subagent-background max-turns overloaded resume unknown-resume max-budget
big-output retry partial sigint sigterm"
# shellcheck disable=SC2086
[ $# -gt 0 ] || set -- $all
for s in "$@"; do
	echo "capture.sh: $s" >&2
	scenario "$s"
done
stop_server
rm -rf "$base"
