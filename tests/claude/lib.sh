# lib.sh - for the integration tests that run the real Claude Code CLI
# against tests/claude/fakeapi.py. Source it after tests/integration/lib.sh
# (it uses $T, $PYTHON, $BG_PIDS, fail).
#
# CLAUDE                  the CLI: $SMITHERS_CLAUDE, else the one
#                         tools/quickstart installs in the build tree
#                         (claude-cli/node_modules/.bin/claude, in
#                         $top_builddir or else $top_srcdir/build); the
#                         test is skipped (exit 77) when there is none
# fakeapi_start SCRIPT    start fakeapi.py on SCRIPT (a path, or a name in
#                         tests/claude/scripts/) and export what the CLI
#                         needs to talk to it: ANTHROPIC_BASE_URL, a dummy
#                         ANTHROPIC_API_KEY, HOME=$T/claude-home,
#                         CLAUDE_CODE_TMPDIR=$T/claude-tmp, no
#                         telemetry or updates; $FAKEAPI_PID, $FAKEAPI_PORT;
#                         the server is killed when the test exits
# fakeapi_requests        the path of its request log (one JSON line a
#                         request: {"n", "path", "conversation", "reply",
#                         "body"})
# fakeapi_count           how many requests it has logged
# shellcheck shell=sh disable=SC2154

# No credentials, endpoints or settings of the caller reach the CLI.
for _v in $(env | sed -n 's/^\(ANTHROPIC_[A-Z0-9_]*\)=.*/\1/p
s/^\(CLAUDE[A-Z0-9_]*\)=.*/\1/p'); do
	unset "$_v"
done
unset _v

claude_cli() {
	if [ -n "${SMITHERS_CLAUDE:-}" ]; then
		echo "$SMITHERS_CLAUDE"
		return 0
	fi
	for d in "$top_builddir" "$top_srcdir/build"; do
		if [ -x "$d/claude-cli/node_modules/.bin/claude" ]; then
			echo "$d/claude-cli/node_modules/.bin/claude"
			return 0
		fi
	done
	return 1
}

if ! CLAUDE=$(claude_cli) || [ ! -x "$CLAUDE" ]; then
	echo "SKIP: the Claude Code CLI is not installed in the build tree:" \
		"run tools/quickstart check, or npm install --prefix" \
		"build/claude-cli @anthropic-ai/claude-code@2.1.332 (or set" \
		"SMITHERS_CLAUDE to a claude binary)" >&2
	exit 77
fi
# A CLI that cannot run here (a placeholder left by an install whose
# post-install step failed) is no CLI either.
if ! "$CLAUDE" --version 2>/dev/null | grep -q "Claude Code"; then
	echo "SKIP: $CLAUDE does not run here (claude --version:" \
		"$("$CLAUDE" --version 2>&1 | head -n 1))" >&2
	exit 77
fi
export CLAUDE

FAKEAPI="$top_srcdir/tests/claude/fakeapi.py"
FAKEAPI_DIR="$T/fakeapi"

fakeapi_start() {
	case $1 in
	*/* | *.json) script=$1 ;;
	*) script="$top_srcdir/tests/claude/scripts/$1.json" ;;
	esac
	[ -f "$script" ] || fail "no fakeapi script $script"
	mkdir -p "$FAKEAPI_DIR" "$T/claude-home" "$T/claude-tmp"
	rm -f "$FAKEAPI_DIR/port"
	: >"$FAKEAPI_DIR/requests.jsonl"
	# --idle: it ends by itself if the test's cleanup never comes.
	"$PYTHON" "$FAKEAPI" --script "$script" \
		--port-file "$FAKEAPI_DIR/port" \
		--log "$FAKEAPI_DIR/requests.jsonl" --idle 600 \
		2>"$FAKEAPI_DIR/stderr" &
	FAKEAPI_PID=$!
	BG_PIDS="$BG_PIDS $FAKEAPI_PID"
	i=0
	until [ -s "$FAKEAPI_DIR/port" ]; do
		i=$((i + 1))
		if [ "$i" -ge 200 ] || ! kill -0 "$FAKEAPI_PID" 2>/dev/null; then
			cat "$FAKEAPI_DIR/stderr" >&2
			fail "fakeapi.py did not start"
		fi
		sleep 0.05
	done
	FAKEAPI_PORT=$(cat "$FAKEAPI_DIR/port")
	ANTHROPIC_BASE_URL="http://127.0.0.1:$FAKEAPI_PORT"
	ANTHROPIC_API_KEY=sk-dummy
	HOME="$T/claude-home"
	DISABLE_TELEMETRY=1
	CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1
	DISABLE_AUTOUPDATER=1
	# Its sockets and task outputs, otherwise in /tmp/cc-socks and
	# /tmp/claude-UID.
	CLAUDE_CODE_TMPDIR="$T/claude-tmp"
	export FAKEAPI_PORT ANTHROPIC_BASE_URL ANTHROPIC_API_KEY HOME \
		DISABLE_TELEMETRY CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC \
		DISABLE_AUTOUPDATER CLAUDE_CODE_TMPDIR
}

fakeapi_requests() {
	echo "$FAKEAPI_DIR/requests.jsonl"
}

fakeapi_count() {
	if [ -f "$FAKEAPI_DIR/requests.jsonl" ]; then
		wc -l <"$FAKEAPI_DIR/requests.jsonl" | tr -d ' '
	else
		echo 0
	fi
}
