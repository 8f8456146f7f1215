# fleet-lib.sh - sourced after lib.sh by the fleet tests: a NATS JetStream
# cluster of three servers and a PostgreSQL cluster, all under $T, on
# 127.0.0.1 and a unix socket only, every one of them stopped at exit,
# passed or failed (the EXIT trap becomes fleet_cleanup, which ends with
# lib.sh's cleanup; a test with a trap of its own calls fleet_cleanup).
#
# need_nats / need_pg   skip the test (77) when the servers are not
#                       installed (Debian packages nats-server, postgresql)
# nats_cluster_start    servers n1..n3, each with its config and JetStream
#                       store in $T/nats/nI*; returns once they elected a
#                       meta leader. $NATS_URLS: their client URLs, comma
#                       separated; $NATS_PID_I: server I's pid while it
#                       runs (empty when down); $NATS_PIDS_ALL: every pid
#                       the test started
# nats_kill I           SIGKILL server I
# nats_stop I           SIGTERM server I and wait for its end
# nats_start I          server I again, same config and store; returns once
#                       it takes clients (not once it caught up)
# nats_leader [STREAM]  the index of the meta leader, or of STREAM's leader;
#                       fails while there is none (poll it with wait_until)
# nats_cluster_stop     SIGTERM the servers that run and wait for them
# $NATS URLS CMD ...    the test client (nats.py)
#
# pg_start              a cluster made by initdb in $T/pg/data (the first
#                       time), listening only on a socket in $T/pg/sock,
#                       trusting local connections, superuser smithers;
#                       as uid 65534 when the test runs as root (postgres
#                       refuses root). $PG_CONNINFO, $PG_HOST, $PG_PORT
# pg_sql SQL            run SQL with psql, the rows on stdout ('|' between
#                       columns)
# pg_restart            pg_ctl restart -m fast; returns once it takes
#                       connections
# pg_kill               SIGKILL the postmaster and its children at once, a
#                       crash of the whole server
# pg_stop               pg_ctl stop -m fast, and wait for every process
# pg_pids               the postmaster's pid and its children's

NATS="$PYTHON $top_srcdir/tests/integration/nats.py"

# Debian 12 puts nats-server in /usr/sbin.
NATS_SERVER=
for _nf_f in /usr/sbin/nats-server /usr/bin/nats-server; do
	if [ -x "$_nf_f" ]; then
		NATS_SERVER=$_nf_f
		break
	fi
done
# The newest PostgreSQL installed, by its major version.
PG_BIN=$(for _pg_d in /usr/lib/postgresql/*/bin; do
	[ -x "$_pg_d/initdb" ] && [ -x "$_pg_d/pg_ctl" ] &&
		[ -x "$_pg_d/postgres" ] && [ -x "$_pg_d/psql" ] &&
		echo "$_pg_d"
done | sort -t/ -k4,4n | tail -n 1)

NATS_URLS=
NATS_PIDS_ALL=
# shellcheck disable=SC2034 # set and read through eval
NATS_PID_1='' NATS_PID_2='' NATS_PID_3=''
PG_DATA=$T/pg/data
PG_HOST=$T/pg/sock
# No TCP: the number only names the socket, in a directory of our own.
PG_PORT=55432
PG_CONNINFO="host=$PG_HOST port=$PG_PORT user=smithers dbname=postgres"
export NATS_URLS PG_CONNINFO PG_HOST PG_PORT

need_nats() {
	if [ -z "$NATS_SERVER" ]; then
		echo "SKIP: no nats-server (install the Debian package" \
			"nats-server)" >&2
		exit 77
	fi
}

need_pg() {
	if [ -z "$PG_BIN" ]; then
		echo "SKIP: no PostgreSQL server in /usr/lib/postgresql/*/bin" \
			"(install the Debian package postgresql)" >&2
		exit 77
	fi
	if [ "$(id -u)" = 0 ] && ! command -v setpriv >/dev/null 2>&1; then
		echo "SKIP: no setpriv to run postgres as uid 65534 (install" \
			"the Debian package util-linux)" >&2
		exit 77
	fi
}

# free_ports N: N distinct TCP ports free on 127.0.0.1 now. They are held
# together while chosen, so never twice the same; something else may bind
# one before the server does: nats_cluster_start then starts over.
free_ports() {
	"$PYTHON" - "$1" <<'PY'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
PY
}

# ---- NATS -------------------------------------------------------------------
# Variables here are prefixed: POSIX sh has no locals, and these functions
# run under wait_until, whose own counter is $i.

# _nats_configure: fresh ports for the three servers (client, route and
# monitoring ports: three each), and their configs.
_nats_configure() {
	# shellcheck disable=SC2046
	set -- $(free_ports 9)
	[ $# = 9 ] || fail "cannot find 9 free ports on 127.0.0.1"
	mkdir -p "$T/nats"
	# A route to itself is ignored: the same list for all.
	_nf_routes="nats-route://127.0.0.1:$2, nats-route://127.0.0.1:$5,"
	_nf_routes="$_nf_routes nats-route://127.0.0.1:$8"
	NATS_URLS=
	for _nf_i in 1 2 3; do
		eval "NATS_PORT_$_nf_i=$1 NATS_HTTP_$_nf_i=$3"
		NATS_URLS="$NATS_URLS${NATS_URLS:+,}nats://127.0.0.1:$1"
		mkdir -p "$T/nats/n$_nf_i"
		# Small JetStream limits: the defaults reserve most of the
		# machine's memory and disk.
		cat >"$T/nats/n$_nf_i.conf" <<EOF
server_name: n$_nf_i
listen: 127.0.0.1:$1
http: 127.0.0.1:$3
jetstream {
	store_dir: "$T/nats/n$_nf_i"
	max_memory_store: 64MB
	max_file_store: 1GB
}
cluster {
	name: smithers-test
	listen: 127.0.0.1:$2
	routes: [$_nf_routes]
}
EOF
		shift 3
	done
}

# _nats_spawn I: start server I in the background, logging to $T/nats/nI.log.
_nats_spawn() {
	echo "---- start" >>"$T/nats/n$1.log"
	"$NATS_SERVER" -c "$T/nats/n$1.conf" >>"$T/nats/n$1.log" 2>&1 \
		</dev/null &
	eval "NATS_PID_$1=\$!"
	NATS_PIDS_ALL="$NATS_PIDS_ALL $!"
}

# _nats_mon MODE I...: ask the monitoring ports of servers I (up: they take
# clients and have JetStream; ready: also healthy, and all name the same
# live meta leader, printed; leader: that leader only).
_nats_mon() {
	_nf_mode=$1
	shift
	_nf_args=
	for _nf_i in "$@"; do
		eval "_nf_p=\$NATS_PORT_$_nf_i _nf_h=\$NATS_HTTP_$_nf_i"
		_nf_args="$_nf_args $_nf_i:$_nf_p:$_nf_h"
	done
	# shellcheck disable=SC2086
	"$PYTHON" - "$_nf_mode" $_nf_args <<'PY'
import json, socket, sys, urllib.request

mode, servers = sys.argv[1], [a.split(":") for a in sys.argv[2:]]


def get(port, path):
    url = "http://127.0.0.1:%s%s" % (port, path)
    with urllib.request.urlopen(url, timeout=3) as r:
        return json.loads(r.read().decode())


try:
    leaders = set()
    for index, client, http in servers:
        if mode in ("up", "ready"):
            with socket.create_connection(("127.0.0.1", int(client)), 3) as s:
                s.settimeout(3)
                assert s.recv(5) == b"INFO ", "n%s: no INFO" % index
            path = "/healthz" if mode == "ready" else \
                "/healthz?js-enabled-only=true"
            assert get(http, path).get("status") == "ok", "n%s" % index
        if mode in ("ready", "leader"):
            leaders.add(get(http, "/jsz").get("meta_cluster", {})
                        .get("leader", ""))
    if mode != "up":
        live = ["n" + s[0] for s in servers]
        assert len(leaders) == 1 and leaders <= set(live), leaders
        print(leaders.pop())
except Exception as e:
    sys.exit("not %s: %s" % (mode, e))
PY
}

# _nats_live: the indexes of the servers that run.
_nats_live() {
	for _nf_i in 1 2 3; do
		eval "[ -z \"\$NATS_PID_$_nf_i\" ] || echo $_nf_i"
	done
}

# _nats_logs I...: the end of the logs of servers I, on stderr (they go
# with $T).
_nats_logs() {
	for _nf_s in "$@"; do
		echo "--- the end of n$_nf_s's log:" >&2
		tail -n 15 "$T/nats/n$_nf_s.log" >&2
	done
}

# _nats_wait MODE TIMEOUT I...: poll _nats_mon until it passes: 0; 2 when a
# server exited because a port was taken, 1 when it exited otherwise or the
# time ran out (with the reason on stderr).
_nats_wait() {
	_nf_mode=$1
	_nf_end=$(($(date +%s) + $2))
	shift 2
	until _nats_mon "$_nf_mode" "$@" >/dev/null 2>"$T/nats/.mon"; do
		for _nf_s in "$@"; do
			eval "_nf_pid=\$NATS_PID_$_nf_s"
			alive "$_nf_pid" && continue
			wait "$_nf_pid" 2>/dev/null || :
			eval "NATS_PID_$_nf_s="
			if grep -q 'address already in use' \
				"$T/nats/n$_nf_s.log"; then
				return 2
			fi
			echo "nats-server n$_nf_s exited" >&2
			_nats_logs "$_nf_s"
			return 1
		done
		if [ "$(date +%s)" -ge "$_nf_end" ]; then
			echo "NATS servers $*: $(cat "$T/nats/.mon")" >&2
			_nats_logs "$@"
			return 1
		fi
		sleep 0.1
	done
}

nats_cluster_start() {
	need_nats
	_nf_try=1
	while :; do
		_nats_configure
		for _nf_j in 1 2 3; do
			_nats_spawn "$_nf_j"
		done
		_nf_rc=0
		_nats_wait ready 60 1 2 3 || _nf_rc=$?
		[ "$_nf_rc" = 0 ] && return 0
		_nats_kill_all
		if [ "$_nf_rc" != 2 ] || [ "$_nf_try" -ge 5 ]; then
			fail "the NATS cluster did not come up with a" \
				"JetStream meta leader within 60 s"
		fi
		# A port was taken between choosing and binding: new ones.
		_nf_try=$((_nf_try + 1))
		rm -rf "$T/nats"
	done
}

nats_start() {
	eval "_nf_pid=\$NATS_PID_$1"
	[ -z "$_nf_pid" ] || fail "nats_start $1: n$1 runs already"
	_nats_spawn "$1"
	_nats_wait up 30 "$1" ||
		fail "nats-server n$1 did not start within 30 s"
}

nats_kill() {
	eval "_nf_pid=\$NATS_PID_$1"
	[ -n "$_nf_pid" ] || fail "nats_kill $1: n$1 does not run"
	kill -KILL "$_nf_pid"
	wait "$_nf_pid" 2>/dev/null || :
	eval "NATS_PID_$1="
}

nats_stop() {
	eval "_nf_pid=\$NATS_PID_$1"
	[ -n "$_nf_pid" ] || fail "nats_stop $1: n$1 does not run"
	kill -TERM "$_nf_pid"
	_nf_n=300
	while alive "$_nf_pid"; do
		_nf_n=$((_nf_n - 1))
		if [ "$_nf_n" -le 0 ]; then
			kill -KILL "$_nf_pid" 2>/dev/null || :
			fail "nats-server n$1 ignored SIGTERM for 30 s"
		fi
		sleep 0.1
	done
	wait "$_nf_pid" 2>/dev/null || :
	eval "NATS_PID_$1="
}

nats_leader() {
	if [ $# = 0 ]; then
		# shellcheck disable=SC2046
		_nf_name=$(_nats_mon leader $(_nats_live) 2>/dev/null) ||
			return 1
	else
		_nf_name=$($NATS --timeout 2 "$NATS_URLS" stream-leader "$1" \
			2>/dev/null) || return 1
	fi
	case $_nf_name in
	n[123]) echo "${_nf_name#n}" ;;
	*) return 1 ;;
	esac
}

nats_cluster_stop() {
	for _nf_j in $(_nats_live); do
		nats_stop "$_nf_j"
	done
}

# shipped_all: the test dir's store (machine m1) has nothing left to ship,
# and the stream SMITHERS holds every transition and every row of the
# store, no message id twice (ids.txt: the stream's ids).
shipped_all() {
	sql_is "SELECT count(*) FROM fleet_outbox WHERE id > (SELECT shipped
		FROM fleet_cursor WHERE name = 'outbox')" 0
	sql_is "SELECT shipped FROM fleet_cursor WHERE name = 'transitions'" \
		"$(sql "SELECT max(id) FROM transitions")"
	$NATS "$NATS_URLS" ids SMITHERS >ids.txt ||
		fail "cannot read the stream's message ids"
	[ -z "$(sort ids.txt | uniq -d)" ] ||
		fail "message ids twice in the stream: $(sort ids.txt | uniq -d)"
	sql "SELECT 'm1:transitions:' || id || ':1' FROM transitions" |
		sort >want.txt
	sort ids.txt | comm -13 - want.txt >missing.txt
	[ ! -s missing.txt ] ||
		fail "transitions not in the stream: $(head -n 3 missing.txt)"
	for _nf_t in executions phases agents; do
		for _nf_id in $(sql "SELECT id FROM $_nf_t"); do
			grep -q "^m1:$_nf_t:$_nf_id:" ids.txt ||
				fail "row $_nf_id of $_nf_t is not in the stream"
		done
	done
}

# _nats_kill_all: SIGKILL whatever server runs (at exit: nothing to keep).
_nats_kill_all() {
	for _nf_j in 1 2 3; do
		eval "_nf_pid=\$NATS_PID_$_nf_j"
		[ -n "$_nf_pid" ] || continue
		kill -KILL "$_nf_pid" 2>/dev/null || :
		wait "$_nf_pid" 2>/dev/null || :
		eval "NATS_PID_$_nf_j="
	done
}

# ---- PostgreSQL --------------------------------------------------------------
# _pg_as CMD...: CMD as uid/gid 65534 (nobody/nogroup) when we are root,
# since postgres refuses to run as root; as ourselves otherwise.
_pg_as() {
	if [ "$(id -u)" = 0 ]; then
		setpriv --reuid=65534 --regid=65534 --clear-groups "$@"
	else
		"$@"
	fi
}

# _pg_init: initdb in $T/pg/data. $T is 0700 (mktemp): as root, it becomes
# 0711, traversable but not listable by others, and $T/pg is uid 65534's.
_pg_init() {
	if [ "$(id -u)" = 0 ]; then
		chmod 0711 "$T"
		mkdir -m 0700 "$T/pg"
		chown 65534:65534 "$T/pg"
		_pg_as test -w "$T/pg" ||
			fail "uid 65534 cannot use $T/pg (is a parent of $T" \
				"closed to others? set TMPDIR)"
	else
		mkdir -m 0700 "$T/pg"
	fi
	_pg_as mkdir -m 0700 "$PG_HOST"
	# A socket's path is at most 107 bytes.
	[ "${#PG_HOST}" -le 90 ] ||
		fail "the socket directory $PG_HOST is too long for a socket"
	# -N: no fsync of the new files, a crash of the test's machine is
	# not what is tested; the server itself fsyncs as usual.
	_pg_as "$PG_BIN/initdb" -D "$PG_DATA" -U smithers -A trust -E UTF8 \
		--locale=C -N >"$T/pg/initdb.log" 2>&1 ||
		fail "initdb failed: $(tail -n 20 "$T/pg/initdb.log")"
	# DSM segments as files in the data dir: none left in /dev/shm
	# by a kill.
	cat >>"$PG_DATA/postgresql.conf" <<EOF
listen_addresses = ''
unix_socket_directories = '$PG_HOST'
port = $PG_PORT
max_connections = 20
shared_buffers = 16MB
dynamic_shared_memory_type = mmap
EOF
}

# _pg_pid: the postmaster's pid, if one runs.
_pg_pid() {
	[ -f "$PG_DATA/postmaster.pid" ] || return 1
	_pg_p=$(head -n 1 "$PG_DATA/postmaster.pid")
	[ -n "$_pg_p" ] && alive "$_pg_p" && echo "$_pg_p"
}

pg_pids() {
	_pg_p=$(_pg_pid) || return 0
	echo "$_pg_p"
	pgrep -P "$_pg_p" || :
}

# _pg_ready: wait until a query gets through, up to 60 s.
_pg_ready() {
	_pg_end=$(($(date +%s) + 60))
	until pg_sql "SELECT 1" >/dev/null 2>"$T/pg/.err"; do
		[ "$(date +%s)" -lt "$_pg_end" ] ||
			fail "PostgreSQL takes no connection:" \
				"$(cat "$T/pg/.err")"
		sleep 0.1
	done
}

# _pg_ctl ACTION [OPTION...]: pg_ctl, waiting up to 60 s.
_pg_ctl() {
	_pg_a=$1
	shift
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$T/pg/log" -w -t 60 "$@" \
		"$_pg_a" >"$T/pg/.ctl" 2>&1 ||
		fail "pg_ctl $_pg_a failed: $(cat "$T/pg/.ctl");" \
			"the end of the log: $(tail -n 15 "$T/pg/log")"
}

pg_start() {
	need_pg
	[ -d "$PG_DATA" ] || _pg_init
	! _pg_pid >/dev/null || fail "pg_start: PostgreSQL runs already"
	_pg_ctl start
	_pg_ready
}

pg_restart() {
	_pg_ctl restart -m fast
	_pg_ready
}

pg_sql() {
	"$PG_BIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -d "$PG_CONNINFO" \
		-c "$1"
}

# _pg_gone PID...: wait until none of PID is left.
_pg_gone() {
	_pg_n=300
	for _pg_p in "$@"; do
		while alive "$_pg_p"; do
			_pg_n=$((_pg_n - 1))
			[ "$_pg_n" -gt 0 ] || return 1
			sleep 0.1
		done
	done
}

# The postmaster is stopped first, so that it starts no process while its
# children are listed; then all are killed at once, as a crash would.
pg_kill() {
	_pg_pm=$(_pg_pid) || fail "pg_kill: PostgreSQL does not run"
	kill -STOP "$_pg_pm"
	_pg_all="$_pg_pm $(pgrep -P "$_pg_pm" | tr '\n' ' ')"
	# shellcheck disable=SC2086
	kill -KILL $_pg_all
	# shellcheck disable=SC2086
	_pg_gone $_pg_all || fail "pg_kill: processes left: $_pg_all"
	_pg_drop_leftovers
}

# _pg_drop_leftovers: the System V segment a killed postmaster left (its id
# is on line 7 of postmaster.pid). The next start would remove it; a test
# that ends first must not leave it on the machine. Then its lock files:
# the next postmaster would take the dead one's zombie, which a lazy init
# may leave for seconds, for a postmaster still running.
_pg_drop_leftovers() {
	_pg_id=$(sed -n '7{s/^ *[0-9]* *//;p;}' "$PG_DATA/postmaster.pid" \
		2>/dev/null) || :
	case $_pg_id in
	'' | *[!0-9]*) ;;
	*) ipcrm -m "$_pg_id" 2>/dev/null || : ;;
	esac
	rm -f "$PG_DATA/postmaster.pid" "$PG_HOST/.s.PGSQL.$PG_PORT" \
		"$PG_HOST/.s.PGSQL.$PG_PORT.lock"
}

pg_stop() {
	_pg_all=$(pg_pids)
	_pg_ctl stop -m fast
	# shellcheck disable=SC2086
	_pg_gone $_pg_all || fail "pg_stop: processes left: $_pg_all"
}

# _pg_cleanup: at exit, an immediate stop (no checkpoint: the files go),
# else a kill.
_pg_cleanup() {
	_pg_pid >/dev/null || return 0
	_pg_all=$(pg_pids)
	_pg_as "$PG_BIN/pg_ctl" -D "$PG_DATA" -w -t 20 -m immediate stop \
		>/dev/null 2>&1 || :
	# shellcheck disable=SC2086
	_pg_gone $_pg_all && return 0
	# shellcheck disable=SC2086
	kill -KILL $_pg_all 2>/dev/null || :
	# shellcheck disable=SC2086
	_pg_gone $_pg_all || :
	_pg_drop_leftovers
}

fleet_cleanup() {
	_nats_kill_all || :
	_pg_cleanup || :
	cleanup
}
trap fleet_cleanup EXIT
