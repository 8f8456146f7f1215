# lib.sh - for the integration tests that run the real Codex CLI against
# tests/codex/fakeapi.py. Source it after tests/integration/lib.sh (it uses
# $T, $PYTHON, $BG_PIDS, fail).
#
# CODEX                   the CLI: $SMITHERS_CODEX, else the one
#                         tools/quickstart installs in the build tree
#                         (codex-cli/node_modules/.bin/codex, in
#                         $top_builddir or else $top_srcdir/build); the
#                         test is skipped (exit 77) when there is none
# codex_home PORT [DIR]   write DIR/config.toml (DIR: $CODEX_HOME,
#                         $T/codex-home unless changed) for a fake provider on
#                         127.0.0.1:PORT; FAKEAPI_RETRIES (2) is its
#                         stream_max_retries
# codex_mcp_echo          add tests/codex/mcp_echo.py to config.toml as
#                         the MCP server "echo" (tools echo and fail)
# codex_env               export what the CLI needs: CODEX_HOME, HOME
#                         ($T/home), the dummy key FAKEAPI_KEY
# fakeapi_start SCRIPT    start fakeapi.py on SCRIPT (a path, or a name in
#                         tests/codex/scripts/), then codex_home and
#                         codex_env for it; $FAKEAPI_PID, $FAKEAPI_PORT;
#                         the server is killed when the test exits
# fakeapi_requests        the path of its request log (one JSON line a
#                         request: {"n", "path", "kind", "conversation",
#                         "reply", "status", "body"})
# fakeapi_count           how many requests it has logged
#
# Run the CLI with stdin from /dev/null (it reads stdin to its end before
# it starts, even with a prompt in argv):
#     "$CODEX" exec --json --skip-git-repo-check -- "prompt" </dev/null
# shellcheck shell=sh disable=SC2154

# No credentials, endpoints or settings of the caller reach the CLI (nor
# the variables a Codex session sets in the commands it runs).
for _v in $(env | sed -n 's/^\(OPENAI_[A-Z0-9_]*\)=.*/\1/p
s/^\(CODEX_[A-Z0-9_]*\)=.*/\1/p'); do
	unset "$_v"
done
unset _v

CODEX_VERSION_PINNED=0.171.0

codex_cli() {
	if [ -n "${SMITHERS_CODEX:-}" ]; then
		echo "$SMITHERS_CODEX"
		return 0
	fi
	for d in "$top_builddir" "$top_srcdir/build"; do
		if [ -x "$d/codex-cli/node_modules/.bin/codex" ]; then
			echo "$d/codex-cli/node_modules/.bin/codex"
			return 0
		fi
	done
	return 1
}

if ! CODEX=$(codex_cli) || [ ! -x "$CODEX" ]; then
	echo "SKIP: the Codex CLI is not installed in the build tree:" \
		"run tools/quickstart check, or npm install --prefix" \
		"build/codex-cli @openai/codex@$CODEX_VERSION_PINNED (or set" \
		"SMITHERS_CODEX to a codex binary)" >&2
	exit 77
fi
# A CLI that cannot run here (no native binary for this platform: the
# optional package @openai/codex-linux-x64 was not installed) is no CLI
# either.
if ! "$CODEX" --version 2>/dev/null | grep -q "^codex-cli "; then
	echo "SKIP: $CODEX does not run here (codex --version:" \
		"$("$CODEX" --version 2>&1 | head -n 1))" >&2
	exit 77
fi
export CODEX

FAKEAPI="$top_srcdir/tests/codex/fakeapi.py"
FAKEAPI_DIR="$T/fakeapi"
# The CLI's state (set it after sourcing lib.sh for another one).
CODEX_HOME=$T/codex-home

# codex_home PORT [DIR]: the configuration of a test. Only the fake
# provider: no update check, analytics, feedback or telemetry; the plugin
# marketplace (a git ls-remote of github.com at every start) and the apps
# are off; connection errors end the turn instead of waiting for the
# network for ever. A reply is retried FAKEAPI_RETRIES (2) times after
# an HTTP error or a broken stream ("Reconnecting... N/M" events); the HTTP
# layer does not retry by itself (request_max_retries = 0).
codex_home() {
	_dir=${2:-$CODEX_HOME}
	mkdir -p "$_dir"
	cat >"$_dir/config.toml" <<EOF
model = "gpt-5.5"
model_provider = "fakeapi"
approval_policy = "never"
sandbox_mode = "danger-full-access"
check_for_update_on_startup = false
web_search = "disabled"

[features]
plugins = false
remote_plugin = false
apps = false
tool_suggest = false
unbounded_connection_retries = false

[analytics]
enabled = false

[feedback]
enabled = false

[otel]
exporter = "none"

[model_providers.fakeapi]
name = "fakeapi"
base_url = "http://127.0.0.1:$1/v1"
wire_api = "responses"
env_key = "FAKEAPI_KEY"
supports_websockets = false
request_max_retries = 0
stream_max_retries = ${FAKEAPI_RETRIES:-2}
stream_idle_timeout_ms = 60000
EOF
}

# codex_mcp_echo [DIR]: the MCP server "echo" in DIR/config.toml. Its
# tools are deferred: the model finds them with tool_search first (a
# tool_search_call item), then calls namespace "mcp__echo", name "echo".
codex_mcp_echo() {
	cat >>"${1:-$CODEX_HOME}/config.toml" <<EOF

[mcp_servers.echo]
command = "$PYTHON"
args = ["$top_srcdir/tests/codex/mcp_echo.py"]
EOF
}

# codex_env: the environment of the CLI. CODEX_HOME keeps the sessions
# (sessions/YYYY/MM/DD/rollout-*-THREAD.jsonl) and the sqlite state: a
# resume needs the same CODEX_HOME.
codex_env() {
	mkdir -p "$T/home"
	HOME="$T/home"
	FAKEAPI_KEY=sk-dummy
	export CODEX_HOME HOME FAKEAPI_KEY
}

fakeapi_start() {
	case $1 in
	*/* | *.json) script=$1 ;;
	*) script="$top_srcdir/tests/codex/scripts/$1.json" ;;
	esac
	[ -f "$script" ] || fail "no fakeapi script $script"
	mkdir -p "$FAKEAPI_DIR"
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
	export FAKEAPI_PORT
	codex_home "$FAKEAPI_PORT"
	codex_env
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
