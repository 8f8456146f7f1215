/*
 * bench-run.c - the supervisor end to end: `smithers run` with real agents,
 * against the raw SQLite loop (benchlib.c) measured in the same run.
 *
 * One program plays both parts. As the harness it writes workflow files
 * into a temporary dir, runs `smithers --dir TMP run flow.ini` as a child
 * and reads what the agents wrote to files there, and the database through a
 * read-only SQLite connection of its own. As an agent (`bench-run --agent
 * MODE ...`, the command of every agent of those workflows) it speaks to the
 * supervisor through the C client library, smithers.h.
 *
 * What is measured (docs/BENCHMARKS.md has the figures):
 *  - throughput: 1, 8 and 64 agents share TOTAL state.set messages, sent
 *    buffered (the supervisor's group commit batches them), then one sync.
 *    Each agent records CLOCK_MONOTONIC before its first send and after its
 *    final ack; ops/s = TOTAL / (latest ack - earliest send). The agents
 *    start together: each says it is ready (a file), then waits for the
 *    harness to create "go" (inotify), so process start-up is not counted.
 *    The raw loop runs at 1000 changes per commit (the baseline of the
 *    targets) and, for reference, at 10000: about what one turn of a busy
 *    supervisor commits, so that batch size and overhead can be told apart.
 *  - latency: 8 agents pace their sends at half the 8-agent peak in all,
 *    each message on a fixed schedule (what is due sent once a millisecond),
 *    and time each message from when it was due until the agent sees an
 *    ack covering its seq (waiting on the ack fd with ppoll until the next
 *    send is due, then smithers_acked()). Then the baseline: the raw loop
 *    at the same pace and in the same mode, what is due committed once a
 *    millisecond, each change timed from when it was due to its commit.
 *    On a disk whose syncs stall now and then, both tails show it, so
 *    both are measured LAT_RUNS times in turn (2 with --quick), and the
 *    target is the ratio of the two p99s in each run. Timed from the due
 *    time on both sides, a change that fell due during a stall waits for
 *    it in the raw loop as it does behind the supervisor; the figures of
 *    the old timing (the agent's from its send, the raw loop's from its
 *    tick, which counts a stall for one tick's changes only) are printed
 *    beside them.
 *
 * Temporary dirs are made in $TMPDIR (default /tmp): a tmpfs there takes
 * the disk out of every figure.
 *  - mirror: 8 agents as in throughput, with the shared-memory mirror and
 *    with `[shm] enabled = no`, rounds in turn; the difference is what
 *    publishing costs (target: under 5%).
 *  - rss and startup: 256 idle agents (`exec sleep 60`). Start-up is the
 *    time from the fork of `smithers run` until the database shows 256
 *    agents with a pid (the supervisor records it once the worker reported
 *    it), polled every millisecond; then the supervisor's VmHWM.
 *  - restart: one agent restarted on failure with no backoff; kill -9 of
 *    its pid (from its row) until its row shows the replacement's pid and
 *    that process runs the program (`sleep`, exec'd).
 *  - fleet (with --nats URLS): 8 agents as in throughput, shipping to the
 *    NATS JetStream of URLS (a `[fleet]` section, a machine name of its
 *    own per run) and not shipping, rounds in turn (target: at least
 *    0.9x); and the shipper's rate: the changes of a shipping run over
 *    the time from its first send until the supervisor exits, which it
 *    does once everything is shipped. With --nats, every other run ships
 *    too (the latency run, for the lag of tests/bench/bench-fleet.sh).
 *  - cgroups: startup and restart again, in rounds with `cgroups = auto`
 *    and `cgroups = off` in turn, as ratios; and the supervisor's CPU
 *    while 256 agents idle, with and without (it reads no cgroup while
 *    they run: smithers-top does, bench-top.sh measures that).
 *
 * usage: bench-run [--quick] [--normal] [--only NAME] [--rate R]
 *                  [--nats URLS]
 * NAME: throughput, mirror, latency, rss, startup, restart, cgroups or
 * fleet.
 * --rate R runs the latency test at R messages a second in all instead of
 * half the measured
 * peak (to find the load where a target holds). Prints one table with
 * each figure, its target and PASS or MISS; exits 0 whatever the figures
 * (1 only when something could not run at all).
 *
 * The harness finds `smithers` in $SMITHERS_BIN, else at ../../tools/smithers
 * from its own path (the build tree); that one finds its smithers-worker.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/bench/benchlib.h"
#include "worker/smithers.h"

#define KEYS	      1000  /* distinct keys, as in the raw loop */
#define RAW_BATCH     1000  /* changes per commit of the raw loop */
#define RAW_BATCH_BIG 10000 /* what a busy supervisor commits a turn */
#define IDLE_AGENTS   256
#define RESTARTS      20
#define LINE_MAX_INI  190    /* inih reads at most 198 characters a line */
#define WAIT_LIMIT_S  60.0   /* a run that takes longer than this is stuck */
#define LATENCY_MS    3000   /* how long the paced agents send */
#define TICK_S        0.001  /* a paced agent sends at most once a ms */
#define RESTART_POLL  0.0002 /* restart: the db is polled every 0.2 ms */
#define STARTUP_POLL  0.001  /* startup: every millisecond */
#define TARGET_RATIO  1.0    /* 8 agents vs the raw loop */
#define TARGET_P99_RATIO 2.0 /* send->ack p99 vs the raw loop's, each run */
#define LAT_RUNS      5      /* latency runs, each with its baseline */
#define TARGET_RSS    64.0 /* MiB */
#define TARGET_UP_S   0.5
#define TARGET_RS_MS  10.0
#define TARGET_CG_RATIO 1.2 /* cgroups at most 20% more */
#define CG_ROUNDS     5      /* cgroups: rounds of each, in turn */
#define IDLE_CPU_S    5.0    /* the idle supervisor's CPU, measured over */

/* ---- shared ------------------------------------------------------------ */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)))
__attribute__((noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "bench-run: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		die("out of memory");
	va_end(ap);
	return s;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (!p)
		die("out of memory");
	return p;
}

static void sleep_s(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Create DIR/NAME, empty; the agents' and the harness' signals. */
static void touch(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		die("cannot create '%s': %s", path, strerror(errno));
	close(fd);
	free(path);
}

/* ---- the agents -------------------------------------------------------- */

/*
 * Say we are ready, then wait until the harness creates DIR/go: with inotify,
 * so that 64 waiting agents cost nothing and all start within microseconds.
 */
static void agent_barrier(const char *dir, int idx)
{
	char ready[32], buf[4096], *go = xasprintf("%s/go", dir);
	int fd = inotify_init1(IN_CLOEXEC);

	if (fd < 0 || inotify_add_watch(fd, dir, IN_CREATE) < 0)
		die("inotify on '%s': %s", dir, strerror(errno));
	snprintf(ready, sizeof(ready), "ready-%d", idx);
	touch(dir, ready);
	while (access(go, F_OK) < 0) {
		/* Any creation in the dir wakes us; look again. */
		if (read(fd, buf, sizeof(buf)) < 0 && errno != EINTR)
			die("inotify: %s", strerror(errno));
	}
	close(fd);
	free(go);
}

/* Message I of agent IDX of N: the same keys and values as the raw loop. */
static int64_t agent_send(struct smithers *s, int idx, int n, int64_t i)
{
	char key[32], value[48];

	snprintf(key, sizeof(key), "key-%d",
		 (int)((idx + i * (int64_t)n) % KEYS));
	snprintf(value, sizeof(value), "{\"n\": %" PRId64 "}", i);
	return smithers_state_set(s, key, value, "bench");
}

static struct smithers *agent_open(void)
{
	struct smithers *s = smithers_open();

	if (!s)
		die("agent: %s", smithers_strerror_last());
	return s;
}

/* flood DIR N COUNT IDX: COUNT sets as fast as the client takes them. */
static int agent_flood(char **argv)
{
	const char *dir = argv[0];
	int n = atoi(argv[1]), count = atoi(argv[2]), idx = atoi(argv[3]);
	struct smithers *s = agent_open();
	double t0, t1;
	char *path;
	FILE *f;

	agent_barrier(dir, idx);
	t0 = bench_now_s();
	for (int i = 0; i < count; i++)
		if (agent_send(s, idx, n, i) < 0)
			die("agent %d: send: %s", idx, smithers_errmsg(s));
	if (smithers_sync(s, -1) < 0)
		die("agent %d: sync: %s", idx, smithers_errmsg(s));
	t1 = bench_now_s();
	path = xasprintf("%s/res-%d", dir, idx);
	f = fopen(path, "w");
	if (!f || fprintf(f, "%.9f %.9f %d\n", t0, t1, count) < 0 ||
	    fclose(f) != 0)
		die("cannot write '%s'", path);
	free(path);
	smithers_close(s);
	return 0;
}

/*
 * paced DIR N RATE MS IDX: send RATE messages a second for MS milliseconds,
 * message k due at start + k / RATE (a late agent catches up rather than
 * sending fewer), and write each one's send->ack time to DIR/lat-IDX as
 * doubles (seconds). What is due is sent at most once a millisecond
 * (TICK_S), in one write: at 60 000 messages a second, a wake-up and a
 * write per message would cost the 8 agents most of a core of the 2 the
 * supervisor shares with them, and the latency measured would be theirs.
 */
static int agent_paced(char **argv)
{
	const char *dir = argv[0];
	int n = atoi(argv[1]), idx = atoi(argv[4]);
	double rate = atof(argv[2]), secs = atoi(argv[3]) / 1000.0;
	int64_t count = (int64_t)(rate * secs), next = 0, done = 0, first = 0;
	const char *ack_env = getenv("SMITHERS_ACK_FD");
	struct smithers *s = agent_open();
	double *sent, *lat, *lat_sent, start, now, deadline, last_send = -1;
	struct pollfd pfd;
	char *path;
	FILE *f;

	if (count < 1 || !ack_env)
		die("agent %d: nothing to send, or no SMITHERS_ACK_FD", idx);
	sent = xcalloc((size_t)count, sizeof(*sent));
	lat = xcalloc((size_t)count, sizeof(*lat));
	lat_sent = xcalloc((size_t)count, sizeof(*lat_sent));
	pfd.fd = atoi(ack_env);
	pfd.events = POLLIN;
	/* Wake up when asked to, not up to 50 us later. */
	prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
	agent_barrier(dir, idx);
	start = bench_now_s();
	deadline = start + secs + 30;
	while (done < count) {
		double due = start + next / rate, wait;
		struct timespec ts;
		uint64_t acked;

		now = bench_now_s();
		if (next < count && now >= due && now >= last_send + TICK_S) {
			/* What is due goes in one write; each is timed from
			 * when it was due, and from before the first of them
			 * is encoded. */
			last_send = now;
			while (next < count && now >= start + next / rate) {
				int64_t seq;

				sent[next] = now;
				seq = agent_send(s, idx, n, next);
				if (seq < 0)
					die("agent %d: send: %s", idx,
					    smithers_errmsg(s));
				if (next == 0)
					first = seq;
				else if (seq != first + next)
					die("agent %d: seqs are not consecutive",
					    idx);
				next++;
			}
		}
		if (smithers_unsent(s) > 0)
			smithers_flush(s, 0); /* ETIMEDOUT is fine here */
		acked = smithers_acked(s);
		now = bench_now_s();
		while (done < next && (uint64_t)(first + done) <= acked) {
			lat[done] = now - (start + (double)done / rate);
			lat_sent[done] = now - sent[done];
			done++;
		}
		if (done == count)
			break;
		if (now > deadline)
			die("agent %d: %" PRId64 " of %" PRId64
			    " messages not acked: %s",
			    idx, count - done, count, smithers_errmsg(s));
		due = next < count ? start + next / rate : now + 1.0;
		if (due < last_send + TICK_S)
			due = last_send + TICK_S;
		if (now >= due)
			continue;
		wait = due - now;
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		if (ppoll(&pfd, 1, &ts, NULL) < 0 && errno != EINTR)
			die("agent %d: ppoll: %s", idx, strerror(errno));
		if (pfd.revents & (POLLHUP | POLLERR | POLLNVAL) &&
		    !(pfd.revents & POLLIN))
			die("agent %d: the supervisor closed the stream", idx);
	}
	path = xasprintf("%s/lat-%d", dir, idx);
	f = fopen(path, "w");
	if (!f || fwrite(&count, sizeof(count), 1, f) != 1 ||
	    fwrite(lat, sizeof(*lat), (size_t)count, f) != (size_t)count ||
	    fwrite(lat_sent, sizeof(*lat_sent), (size_t)count, f) !=
		    (size_t)count ||
	    fclose(f) != 0)
		die("cannot write '%s'", path);
	free(path);
	free(sent);
	free(lat);
	free(lat_sent);
	smithers_close(s);
	return 0;
}

static int agent_main(int argc, char **argv)
{
	if (argc == 5 && !strcmp(argv[0], "flood"))
		return agent_flood(argv + 1);
	if (argc == 6 && !strcmp(argv[0], "paced"))
		return agent_paced(argv + 1);
	fprintf(stderr, "usage: bench-run --agent flood DIR N COUNT IDX\n"
			"       bench-run --agent paced DIR N RATE MS IDX\n");
	return 2;
}

/* ---- the harness: processes and files ---------------------------------- */

struct bench {
	char self[PATH_MAX];
	char smithers[PATH_MAX];
	int quick, normal, rounds;
	int mirror_off; /* [shm] enabled = no in the workflows */
	const char *cgroups; /* [workflow] cgroups; NULL: the default */
	const char *nats;    /* [fleet] nats: the runs ship; NULL: they do not */
	int total;	/* state changes per throughput run */
	int idle;	/* idle agents for rss and startup */
	int restarts;	/* kill -9 repetitions */
	int latency_ms; /* how long the paced agents send */
	double rate;	/* latency: messages/s in all; 0: half the peak */
};

static void find_programs(struct bench *b)
{
	const char *env = getenv("SMITHERS_BIN");
	char dir[PATH_MAX], *slash;
	ssize_t n = readlink("/proc/self/exe", b->self, sizeof(b->self) - 1);

	if (n <= 0)
		die("cannot read /proc/self/exe: %s", strerror(errno));
	b->self[n] = '\0';
	if (strchr(b->self, '\''))
		die("'%s': a quote in the path would break the workflow",
		    b->self);
	if (env && *env) {
		snprintf(b->smithers, sizeof(b->smithers), "%s", env);
	} else {
		snprintf(dir, sizeof(dir), "%s", b->self);
		*strrchr(dir, '/') = '\0';
		/* A libtool wrapper runs us from .libs/. */
		slash = strrchr(dir, '/');
		if (slash && !strcmp(slash, "/.libs"))
			*slash = '\0';
		snprintf(b->smithers, sizeof(b->smithers),
			 "%s/../../tools/smithers", dir);
	}
	if (access(b->smithers, X_OK) < 0)
		die("cannot run '%s' (set SMITHERS_BIN): %s", b->smithers,
		    strerror(errno));
}

/*
 * Write DIR/flow.ini: one phase of N agents a0, a1, ... running COMMAND,
 * followed by the agent's index when INDEXED, with the keys EXTRA.
 */
static void write_flow(const struct bench *b, const char *dir, int n,
		       const char *command, int indexed, const char *extra)
{
	char *path = xasprintf("%s/flow.ini", dir);
	FILE *f = fopen(path, "w");

	if (!f)
		die("cannot create '%s': %s", path, strerror(errno));
	if (strlen(command) + 16 > LINE_MAX_INI)
		die("the agent command is too long for a workflow line: '%s'",
		    command);
	fprintf(f, "[workflow]\nname = bench\nstop_grace = 2s\n");
	fprintf(f, "synchronous = %s\n", b->normal ? "normal" : "full");
	if (b->cgroups)
		fprintf(f, "cgroups = %s\n", b->cgroups);
	fprintf(f, "\n");
	if (b->mirror_off)
		fprintf(f, "[shm]\nenabled = no\n\n");
	if (b->nats) {
		/* A machine of its own: the ids of each run start at 1, and
		 * JetStream drops a message id it has seen. */
		static int runs;

		fprintf(f,
			"[fleet]\nnats = %s\nmachine = bench%d-%d\n"
			"ship_wait = 600s\n\n",
			b->nats, (int)getpid(), ++runs);
	}
	fprintf(f, "[phase run]\n\n");
	for (int i = 0; i < n; i++) {
		fprintf(f, "[agent a%d]\nphase = run\ncommand = %s", i,
			command);
		if (indexed)
			fprintf(f, " %d", i);
		fprintf(f, "\n%s\n", extra);
	}
	if (fclose(f) != 0)
		die("cannot write '%s'", path);
	free(path);
}

/* Fork and exec `smithers --dir DIR run DIR/flow.ini`, its output to
 * DIR/supervisor.out. */
static pid_t start_supervisor(const struct bench *b, const char *dir)
{
	char *flow = xasprintf("%s/flow.ini", dir);
	char *out = xasprintf("%s/supervisor.out", dir);
	pid_t pid = fork();

	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		close(fd);
		execl(b->smithers, "smithers", "--dir", dir, "run", flow,
		      (char *)NULL);
		_exit(127);
	}
	free(flow);
	free(out);
	return pid;
}

/* The end of DIR/supervisor.out, to say why a run failed. */
static void show_supervisor_output(const char *dir)
{
	char *cmd = xasprintf("tail -n 8 '%s/supervisor.out' >&2", dir);

	if (system(cmd) != 0)
		fprintf(stderr, "bench-run: no supervisor output\n");
	free(cmd);
}

/* Wait for the supervisor PID; its exit status, or -1 (the output shown). */
/* The same, with the supervisor's CPU time in *CPU_S unless NULL. */
static int wait_supervisor_cpu(pid_t pid, const char *dir, int expect,
			       double *cpu_s)
{
	struct rusage ru;
	int status, code;

	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			die("waitpid: %s", strerror(errno));
	code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	if (code != expect) {
		fprintf(stderr,
			"bench-run: smithers run exited with %d, not %d:\n",
			code, expect);
		show_supervisor_output(dir);
		return -1;
	}
	if (cpu_s)
		*cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
			 ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
	return code;
}

static int wait_supervisor(pid_t pid, const char *dir, int expect)
{
	return wait_supervisor_cpu(pid, dir, expect, NULL);
}

/* 1 once the supervisor PID has ended (reaped: the caller must not wait). */
static int supervisor_gone(pid_t pid, const char *dir)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return 0;
	fprintf(stderr, "bench-run: smithers run ended early:\n");
	show_supervisor_output(dir);
	return 1;
}

static void stop_supervisor(pid_t pid, const char *dir)
{
	kill(pid, SIGTERM);
	/* Stopped by SIGTERM: the execution is cancelled, 128 + 15. */
	wait_supervisor(pid, dir, 128 + SIGTERM);
}

/* Wait until the N agents created DIR/ready-*; 0, or -1 if the run died. */
static int wait_ready(pid_t pid, const char *dir, int n)
{
	double limit = bench_now_s() + WAIT_LIMIT_S;
	int next = 0;

	while (next < n) {
		char *path = xasprintf("%s/ready-%d", dir, next);
		int there = access(path, F_OK) == 0;

		free(path);
		if (there) {
			next++;
			continue;
		}
		if (supervisor_gone(pid, dir))
			return -1;
		if (bench_now_s() > limit) {
			fprintf(stderr, "bench-run: %d of %d agents ready\n",
				next, n);
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			return -1;
		}
		sleep_s(0.001);
	}
	return 0;
}

/* ---- the harness: the database ----------------------------------------- */

/*
 * A read-only connection and one query on DIR's database, reopened as long
 * as the supervisor has not made it yet (no file, no schema).
 */
struct probe {
	char *path;
	const char *sql;
	sqlite3 *db;
	sqlite3_stmt *st;
};

static void probe_init(struct probe *p, const char *dir, const char *sql)
{
	memset(p, 0, sizeof(*p));
	p->path = xasprintf("%s/.smithers/smithers.db", dir);
	p->sql = sql;
}

static void probe_release(struct probe *p)
{
	sqlite3_finalize(p->st);
	sqlite3_close(p->db);
	free(p->path);
	memset(p, 0, sizeof(*p));
}

/* The query's first column as an integer (NULL: 0); -1 if not readable. */
static int64_t probe_int(struct probe *p)
{
	int64_t v = -1;
	int rc;

	if (!p->st) {
		if (sqlite3_open_v2(p->path, &p->db, SQLITE_OPEN_READONLY,
				    NULL) != SQLITE_OK ||
		    sqlite3_prepare_v2(p->db, p->sql, -1, &p->st, NULL) !=
			    SQLITE_OK) {
			sqlite3_finalize(p->st);
			sqlite3_close(p->db);
			p->st = NULL;
			p->db = NULL;
			return -1;
		}
	}
	rc = sqlite3_step(p->st);
	if (rc == SQLITE_ROW)
		v = sqlite3_column_int64(p->st, 0);
	else if (rc == SQLITE_DONE)
		v = 0;
	sqlite3_reset(p->st);
	return v;
}

/* Run SQL once on DIR's database; its integer, or -1. */
static int64_t db_int(const char *dir, const char *sql)
{
	struct probe p;
	int64_t v;

	probe_init(&p, dir, sql);
	v = probe_int(&p);
	probe_release(&p);
	return v;
}

/* ---- the measurements -------------------------------------------------- */

/* Throughput of N agents sending TOTAL sets in all: ops/s, or -1.
 * *DONE_S (unless NULL): from the first send until the supervisor exited;
 * *CPU_S: the supervisor's CPU time, all its threads. */
static double run_flood_done(const struct bench *b, int n, int total,
			     double *done_s, double *cpu_s)
{
	char *dir = bench_make_dir(), *cmd;
	int per = total / n;
	double first = 0, last = 0, rate = -1;
	int64_t stored;
	pid_t pid;

	cmd = xasprintf("exec '%s' --agent flood '%s' %d %d", b->self, dir, n,
			per);
	write_flow(b, dir, n, cmd, 1, "restart = never");
	pid = start_supervisor(b, dir);
	if (wait_ready(pid, dir, n) < 0)
		goto out;
	touch(dir, "go");
	if (wait_supervisor_cpu(pid, dir, 0, cpu_s) < 0)
		goto out;
	if (done_s)
		*done_s = bench_now_s();
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/res-%d", dir, i);
		FILE *f = fopen(path, "r");
		double t0, t1;
		int count;

		if (!f || fscanf(f, "%lf %lf %d", &t0, &t1, &count) != 3 ||
		    count != per)
			die("no result in '%s'", path);
		fclose(f);
		free(path);
		if (i == 0 || t0 < first)
			first = t0;
		if (i == 0 || t1 > last)
			last = t1;
	}
	/* Every acked change must be there, with its transition. */
	stored = db_int(dir, "SELECT count(*) FROM transitions");
	if (stored != (int64_t)per * n) {
		fprintf(stderr,
			"bench-run: %" PRId64 " transitions stored, not %d\n",
			stored, per * n);
		goto out;
	}
	rate = per * n / (last - first);
	if (done_s)
		*done_s -= first;
out:
	free(cmd);
	bench_remove_dir(dir);
	free(dir);
	return rate;
}

static double run_flood(const struct bench *b, int n, int total)
{
	return run_flood_done(b, n, total, NULL, NULL);
}

/* N agents sending RATE messages a second in all: 0, or -1. */
static int run_paced(const struct bench *b, int n, double rate,
		     struct bench_latency *out, struct bench_latency *sent_out)
{
	char *dir = bench_make_dir(), *cmd;
	double *all = NULL, *all_sent = NULL;
	int64_t count = 0;
	int rc = -1;
	pid_t pid;

	cmd = xasprintf("exec '%s' --agent paced '%s' %d %.3f %d", b->self, dir,
			n, rate / n, b->latency_ms);
	write_flow(b, dir, n, cmd, 1, "restart = never");
	pid = start_supervisor(b, dir);
	if (wait_ready(pid, dir, n) < 0)
		goto out;
	touch(dir, "go");
	if (wait_supervisor(pid, dir, 0) < 0)
		goto out;
	for (int i = 0; i < n; i++) {
		char *path = xasprintf("%s/lat-%d", dir, i);
		FILE *f = fopen(path, "r");
		int64_t k;

		if (!f || fread(&k, sizeof(k), 1, f) != 1 || k < 1)
			die("no latencies in '%s'", path);
		all = realloc(all, (size_t)(count + k) * sizeof(*all));
		all_sent = realloc(all_sent,
				   (size_t)(count + k) * sizeof(*all_sent));
		if (!all || !all_sent)
			die("out of memory");
		if (fread(all + count, sizeof(*all), (size_t)k, f) !=
			    (size_t)k ||
		    fread(all_sent + count, sizeof(*all_sent), (size_t)k, f) !=
			    (size_t)k)
			die("'%s' is short", path);
		count += k;
		fclose(f);
		free(path);
	}
	bench_latency_of(all, count, out);
	bench_latency_of(all_sent, count, sent_out);
	rc = 0;
out:
	free(all);
	free(all_sent);
	free(cmd);
	bench_remove_dir(dir);
	free(dir);
	return rc;
}

/* VmHWM of PID in KiB, or -1. */
static long peak_rss_kib(pid_t pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The CPU time (user + system) PID used, in seconds; 0 if unknown. */
static double cpu_s(pid_t pid)
{
	char path[64], line[1024], *p;
	unsigned long long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
	fclose(f);
	/* After the name: state, then fields 4..13, then utime, stime. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/*
 * N idle agents: seconds from the fork of `smithers run` until N agents have
 * a pid in the database (*UP), then the supervisor's VmHWM (*HWM_KIB).
 */
static int run_idle(const struct bench *b, int n, double *up, long *hwm_kib,
		    double *cpu_share)
{
	char *dir = bench_make_dir();
	struct probe p;
	double t0, limit;
	int rc = -1;
	pid_t pid;

	write_flow(b, dir, n, "exec sleep 60", 0, "restart = never");
	probe_init(&p, dir, "SELECT count(*) FROM agents WHERE pid > 0");
	t0 = bench_now_s();
	pid = start_supervisor(b, dir);
	limit = t0 + WAIT_LIMIT_S;
	for (;;) {
		sleep_s(STARTUP_POLL);
		if (probe_int(&p) >= n) {
			*up = bench_now_s() - t0;
			break;
		}
		if (supervisor_gone(pid, dir))
			goto out;
		if (bench_now_s() > limit) {
			fprintf(stderr,
				"bench-run: %d agents not up in %.0f s\n", n,
				WAIT_LIMIT_S);
			stop_supervisor(pid, dir);
			goto out;
		}
	}
	/* Let the last acks and log lines go out before reading the peak. */
	sleep_s(0.2);
	*hwm_kib = peak_rss_kib(pid);
	/* The supervisor's share of a core while its agents idle: what it
	 * costs to keep them (the mirror's heartbeat, the cgroups' figures
	 * read every second). */
	if (cpu_share) {
		double c0 = cpu_s(pid), w0 = bench_now_s();

		sleep_s(IDLE_CPU_S);
		*cpu_share = (cpu_s(pid) - c0) / (bench_now_s() - w0);
	}
	stop_supervisor(pid, dir);
	rc = 0;
out:
	probe_release(&p);
	bench_remove_dir(dir);
	free(dir);
	return rc;
}

/* Whether PID runs `sleep` (so that we never kill a stranger). */
static int is_sleep(pid_t pid)
{
	char path[64], cmd[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cmdline", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(cmd, sizeof(cmd), f))
		cmd[0] = '\0';
	fclose(f);
	return !strcmp(cmd, "sleep");
}

/* Wait until the agent's row shows a pid other than OLD: it, or -1. */
static int64_t wait_pid(struct probe *p, pid_t sup, const char *dir,
			int64_t old, double poll)
{
	double limit = bench_now_s() + 10;
	int64_t pid;

	for (;;) {
		pid = probe_int(p);
		if (pid > 0 && pid != old)
			return pid;
		if (bench_now_s() > limit || supervisor_gone(sup, dir))
			return -1;
		sleep_s(poll);
	}
}

/* N kill -9 of one agent: the restart latencies in seconds, in LAT. */
static int run_restart(const struct bench *b, int n, double *lat)
{
	char *dir = bench_make_dir();
	struct probe p;
	int64_t pid;
	int rc = -1;
	pid_t sup;

	write_flow(b, dir, 1, "exec sleep 60", 0,
		   "restart = on-failure\nmax_restarts = 1000\n"
		   "backoff = 0..0\nstartsecs = 0");
	probe_init(&p, dir, "SELECT pid FROM agents ORDER BY id DESC LIMIT 1");
	sup = start_supervisor(b, dir);
	pid = wait_pid(&p, sup, dir, 0, STARTUP_POLL);
	for (int i = 0; i < n && pid > 0; i++) {
		double t0;

		/* Give the shell time to exec sleep: we kill only sleeps. */
		for (int tries = 0; !is_sleep((pid_t)pid) && tries < 1000;
		     tries++)
			sleep_s(0.001);
		if (!is_sleep((pid_t)pid)) {
			fprintf(stderr,
				"bench-run: pid %" PRId64
				" is not the agent's sleep\n",
				pid);
			pid = -1;
			break;
		}
		sleep_s(0.01);
		t0 = bench_now_s();
		kill((pid_t)pid, SIGKILL);
		pid = wait_pid(&p, sup, dir, pid, RESTART_POLL);
		/* Until the program runs, not only its pid is known: what
		 * happens between the fork and the exec (entering a cgroup)
		 * is part of the restart. */
		for (int tries = 0; pid > 0 && !is_sleep((pid_t)pid) &&
				    tries < 100000;
		     tries++)
			sleep_s(RESTART_POLL);
		lat[i] = bench_now_s() - t0;
	}
	if (pid > 0) {
		stop_supervisor(sup, dir);
		rc = 0;
	} else {
		fprintf(stderr, "bench-run: the agent was not restarted\n");
		if (!supervisor_gone(sup, dir))
			stop_supervisor(sup, dir);
	}
	probe_release(&p);
	bench_remove_dir(dir);
	free(dir);
	return rc;
}

/* ---- the table --------------------------------------------------------- */

struct row {
	char figure[64], value[48], target[24];
	const char *verdict; /* PASS, MISS, or "" without a target */
};

static struct row rows[48];
static int nrows;

static void row(const char *figure, const char *target, int pass,
		const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* Add a row; PASS < 0: no target. */
static void row(const char *figure, const char *target, int pass,
		const char *fmt, ...)
{
	struct row *r;
	va_list ap;

	if (nrows == (int)(sizeof(rows) / sizeof(rows[0])))
		die("more than %d rows in the table", nrows);
	r = &rows[nrows++];
	snprintf(r->figure, sizeof(r->figure), "%s", figure);
	snprintf(r->target, sizeof(r->target), "%s", target ? target : "");
	va_start(ap, fmt);
	vsnprintf(r->value, sizeof(r->value), fmt, ap);
	va_end(ap);
	r->verdict = pass < 0 ? "" : pass ? "PASS" : "MISS";
	/* Progress as it comes: the table is printed at the end. */
	fprintf(stderr, "  %s: %s\n", r->figure, r->value);
}

static void print_table(const struct bench *b)
{
	printf("\nsmithers run, synchronous=%s, %s\n",
	       b->normal ? "NORMAL" : "FULL",
	       b->quick ? "--quick (small sizes: targets are for the full run)"
			: "full run");
	printf("%-38s %-26s %-13s %s\n", "figure", "measured", "target",
	       "result");
	for (int i = 0; i < nrows; i++)
		printf("%-38s %-26s %-13s %s\n", rows[i].figure, rows[i].value,
		       rows[i].target, rows[i].verdict);
}

/* ---- main -------------------------------------------------------------- */

static int wanted(const char *only, const char *name)
{
	return !only || !strcmp(only, name);
}

static void measure_throughput(const struct bench *b, double *peak8)
{
	static const int agents[] = {1, 8, 64};
	double raw = 0, raw_big = 0, best[3] = {0, 0, 0}, r;
	char label[64];

	fprintf(stderr,
		"throughput: %d changes, raw loop at %d per commit, "
		"best of %d\n",
		b->total, RAW_BATCH, b->rounds);
	for (int round = 0; round < b->rounds; round++) {
		r = bench_raw_rate(RAW_BATCH, b->total, b->normal);
		raw = r > raw ? r : raw;
		r = bench_raw_rate(RAW_BATCH_BIG, b->total, b->normal);
		raw_big = r > raw_big ? r : raw_big;
		for (int i = 0; i < 3; i++) {
			r = run_flood(b, agents[i], b->total);
			if (r < 0)
				die("the %d-agent run failed", agents[i]);
			best[i] = r > best[i] ? r : best[i];
		}
	}
	row("raw SQLite, 1000 changes/commit", NULL, -1, "%.0f ops/s", raw);
	row("raw SQLite, 10000 changes/commit", NULL, -1,
	    "%.0f ops/s = %.2fx raw", raw_big, raw_big / raw);
	for (int i = 0; i < 3; i++) {
		snprintf(label, sizeof(label), "%d agent%s, committed changes",
			 agents[i], agents[i] > 1 ? "s" : "");
		if (agents[i] == 8)
			row(label, ">= 1.00x raw",
			    best[i] >= TARGET_RATIO * raw,
			    "%.0f ops/s = %.2fx raw", best[i], best[i] / raw);
		else
			row(label, NULL, -1, "%.0f ops/s = %.2fx raw", best[i],
			    best[i] / raw);
	}
	*peak8 = best[1];
}

/* 8 agents shipping to NATS and not, rounds taken in turn (best of each):
 * what the shipper costs the run; and how fast it ships. */
static void measure_fleet(const struct bench *b)
{
	struct bench off = *b;
	double on_best = 0, off_best = 0, ship_best = 0, r, done;
	double cpu, on_cpu = 1e9, off_cpu = 1e9;

	if (!b->nats)
		die("the fleet measure needs --nats URLS");
	off.nats = NULL;
	fprintf(stderr, "fleet: 8 agents, %d changes, shipping to %s and not, "
			"best of %d\n",
		b->total, b->nats, b->rounds);
	for (int round = 0; round < b->rounds; round++) {
		r = run_flood_done(&off, 8, b->total, NULL, &cpu);
		off_best = r > off_best ? r : off_best;
		off_cpu = cpu < off_cpu ? cpu : off_cpu;
		r = run_flood_done(b, 8, b->total, &done, &cpu);
		on_best = r > on_best ? r : on_best;
		on_cpu = cpu < on_cpu ? cpu : on_cpu;
		if (r < 0 || off_best <= 0)
			die("the fleet runs failed");
		r = b->total / done;
		ship_best = r > ship_best ? r : ship_best;
	}
	row("8 agents, not shipping", NULL, -1, "%.0f ops/s", off_best);
	row("8 agents, shipping", ">= 0.90x", on_best >= 0.90 * off_best,
	    "%.0f ops/s = %.3fx not", on_best, on_best / off_best);
	row("shipper: changes into JetStream", NULL, -1,
	    "%.0f rows/s (send to all shipped)", ship_best);
	row("supervisor CPU per change, not shipping", NULL, -1, "%.2f us",
	    off_cpu / b->total * 1e6);
	row("supervisor CPU per change, shipping", NULL, -1,
	    "%.2f us = %.2fx not", on_cpu / b->total * 1e6, on_cpu / off_cpu);
}

/* 8 agents with the shared-memory mirror and without, rounds taken in
 * turn (best of each): what publishing costs the writer. */
static void measure_mirror(const struct bench *b)
{
	struct bench off = *b;
	double on_best = 0, off_best = 0, r;

	off.mirror_off = 1;
	fprintf(stderr, "mirror: 8 agents, %d changes, on and off, best of "
			"%d\n",
		b->total, b->rounds);
	for (int round = 0; round < b->rounds; round++) {
		r = run_flood(&off, 8, b->total);
		off_best = r > off_best ? r : off_best;
		r = run_flood(b, 8, b->total);
		on_best = r > on_best ? r : on_best;
		if (r < 0 || off_best <= 0)
			die("the mirror runs failed");
	}
	row("8 agents, mirror off", NULL, -1, "%.0f ops/s", off_best);
	row("8 agents, mirror on", "< 5% slower", on_best >= 0.95 * off_best,
	    "%.0f ops/s = %.3fx off", on_best, on_best / off_best);
}

/* The sorted ratios of N runs into DIST; the run with the median ratio. */
static int ratio_dist(const double *ratio, int n, char *dist, size_t size)
{
	double sorted[LAT_RUNS];
	size_t len = 0;
	int mid = 0;

	memcpy(sorted, ratio, (size_t)n * sizeof(*ratio));
	qsort(sorted, (size_t)n, sizeof(*sorted), bench_cmp_double);
	dist[0] = '\0';
	for (int i = 0; i < n && len < size; i++)
		len += (size_t)snprintf(dist + len, size - len, "%s%.2f",
					i ? " " : "", sorted[i]);
	while (ratio[mid] != sorted[(n - 1) / 2])
		mid++;
	return mid;
}

static void measure_latency(const struct bench *b, double peak8)
{
	const char *label = "send->ack p50, 8 agents at peak/2";
	struct bench_latency l[LAT_RUNS], raw[LAT_RUNS];
	struct bench_latency l_sent[LAT_RUNS], raw_tick[LAT_RUNS];
	double ratio[LAT_RUNS], old_ratio[LAT_RUNS];
	int runs = b->quick ? 2 : LAT_RUNS, mid, worst = 0, old_worst = 0;
	char dist[256], old_dist[256];

	if (b->rate > 0) {
		peak8 = 2 * b->rate;
		label = "send->ack p50, 8 agents at --rate";
	} else if (peak8 <= 0) {
		peak8 = run_flood(b, 8, b->total);
		if (peak8 < 0)
			die("the 8-agent run failed");
		row("8 agents (peak for the latency run)", NULL, -1,
		    "%.0f ops/s", peak8);
	}
	/* Each run: the supervisor, then the baseline - SQLite alone, the
	 * same changes at the same pace in the same mode, each timed from
	 * when it was due to its commit. What the disk's syncs cost it, it
	 * costs the supervisor too; one run's ratio says little on a disk
	 * whose syncs stall now and then, so there are several. */
	for (int i = 0; i < runs; i++) {
		fprintf(stderr,
			"latency %d/%d: 8 agents, %.0f msg/s in all, %d ms; "
			"then the raw loop at the same pace\n",
			i + 1, runs, peak8 / 2, b->latency_ms);
		if (run_paced(b, 8, peak8 / 2, &l[i], &l_sent[i]) < 0)
			die("the latency run failed");
		bench_raw_paced(peak8 / 2, b->latency_ms, b->normal, TICK_S,
				&raw[i], &raw_tick[i]);
		if (!(l[i].p99 > 0 && raw[i].p99 > 0 && l_sent[i].p99 > 0 &&
		      raw_tick[i].p99 > 0))
			die("latency run %d measured nothing", i + 1);
		ratio[i] = l[i].p99 / raw[i].p99;
		old_ratio[i] = l_sent[i].p99 / raw_tick[i].p99;
		worst = ratio[i] > ratio[worst] ? i : worst;
		old_worst = old_ratio[i] > old_ratio[old_worst] ? i : old_worst;
	}
	mid = ratio_dist(ratio, runs, dist, sizeof(dist));
	ratio_dist(old_ratio, runs, old_dist, sizeof(old_dist));
	/* The figures of the run with the median ratio. */
	row(label, NULL, -1, "%.2f ms (%.0f/s)", l[mid].p50 * 1e3, peak8 / 2);
	row("send->ack p99", NULL, -1, "%.2f ms", l[mid].p99 * 1e3);
	row("send->ack max", NULL, -1, "%.2f ms (%" PRId64 " msgs)",
	    l[mid].max * 1e3, l[mid].count);
	row("raw SQLite, same pace: p50", NULL, -1, "%.2f ms",
	    raw[mid].p50 * 1e3);
	row("raw SQLite, same pace: p99", NULL, -1, "%.2f ms",
	    raw[mid].p99 * 1e3);
	row("raw SQLite, same pace: max", NULL, -1, "%.2f ms",
	    raw[mid].max * 1e3);
	row("send->ack p99, from the send (old)", NULL, -1, "%.2f ms",
	    l_sent[mid].p99 * 1e3);
	row("raw p99, from the tick (old)", NULL, -1, "%.2f ms",
	    raw_tick[mid].p99 * 1e3);
	row("p99 ratios, old timing, sorted", NULL, -1,
	    "%s (worst %.2f)", old_dist, old_ratio[old_worst]);
	row("p99 / raw p99, each run, sorted", "<= 2x in each",
	    ratio[worst] <= TARGET_P99_RATIO, "%s", dist);
}

static void measure_idle(const struct bench *b, int rss, int startup)
{
	int rounds = startup ? b->rounds : 1;
	double best = 0, up;
	long hwm = 0, kib;
	char label[64];

	fprintf(stderr, "idle: %d agents, %d round%s\n", b->idle, rounds,
		rounds > 1 ? "s" : "");
	for (int i = 0; i < rounds; i++) {
		if (run_idle(b, b->idle, &up, &kib, NULL) < 0)
			die("the %d idle agents did not all start", b->idle);
		best = i == 0 || up < best ? up : best;
		hwm = kib > hwm ? kib : hwm;
	}
	if (rss) {
		snprintf(label, sizeof(label),
			 "supervisor VmHWM, %d idle agents", b->idle);
		row(label, "<= 64 MiB", hwm / 1024.0 <= TARGET_RSS, "%.1f MiB",
		    hwm / 1024.0);
	}
	if (startup) {
		snprintf(label, sizeof(label), "%d agents running, from fork",
			 b->idle);
		row(label, "<= 0.5 s", best <= TARGET_UP_S, "%.3f s", best);
	}
}

static void measure_restart(const struct bench *b)
{
	double *lat = xcalloc((size_t)b->restarts, sizeof(*lat)), median;
	char label[64];

	fprintf(stderr, "restart: %d kill -9\n", b->restarts);
	if (run_restart(b, b->restarts, lat) < 0)
		die("the restart run failed");
	qsort(lat, (size_t)b->restarts, sizeof(*lat), bench_cmp_double);
	median = (lat[(b->restarts - 1) / 2] + lat[b->restarts / 2]) / 2;
	snprintf(label, sizeof(label), "restart after kill -9, median of %d",
		 b->restarts);
	row(label, "<= 10 ms", median * 1e3 <= TARGET_RS_MS, "%.2f ms",
	    median * 1e3);
	row("restart after kill -9, max", "<= 10 ms",
	    lat[b->restarts - 1] * 1e3 <= TARGET_RS_MS, "%.2f ms",
	    lat[b->restarts - 1] * 1e3);
	free(lat);
}

/*
 * What cgroups cost: rounds in turn with `cgroups = auto` (one cgroup per
 * agent, where the host lets us) and `cgroups = off`: 256 idle agents
 * started (best of the rounds), the median restart after kill -9 (median
 * of every kill of every round), and the supervisor's share of a core
 * while the 256 idle (with cgroups, their figures are read every second).
 */
static void measure_cgroups(struct bench *b)
{
	double up[2] = {0, 0}, share[2] = {0, 0}, med[2];
	/* More rounds than the others: a ratio of two noisy figures. */
	int rounds = b->quick ? 1 : CG_ROUNDS;
	int nlat = b->restarts * rounds;
	double *lat[2] = {xcalloc((size_t)nlat, sizeof(double)),
			  xcalloc((size_t)nlat, sizeof(double))};
	static const char *const modes[2] = {"auto", "off"};
	char label[64];

	fprintf(stderr, "cgroups: %d rounds of %d agents and %d kill -9, "
		"with and without\n", rounds, b->idle, b->restarts);
	for (int i = 0; i < rounds; i++)
		for (int m = 0; m < 2; m++) {
			double t, c;
			long kib;

			b->cgroups = modes[m];
			if (run_idle(b, b->idle, &t, &kib, &c) < 0)
				die("the %d idle agents did not all start",
				    b->idle);
			up[m] = i == 0 || t < up[m] ? t : up[m];
			share[m] = i == 0 || c < share[m] ? c : share[m];
			if (run_restart(b, b->restarts,
					lat[m] + i * b->restarts) < 0)
				die("the restart run failed");
		}
	b->cgroups = NULL;
	for (int m = 0; m < 2; m++) {
		qsort(lat[m], (size_t)nlat, sizeof(double), bench_cmp_double);
		med[m] = (lat[m][(nlat - 1) / 2] + lat[m][nlat / 2]) / 2;
	}
	snprintf(label, sizeof(label), "%d agents up, cgroups / off", b->idle);
	row(label, "<= 1.20", up[0] / up[1] <= TARGET_CG_RATIO,
	    "%.2f (%.3f s / %.3f s)", up[0] / up[1], up[0], up[1]);
	row("restart kill -9, cgroups / off", "<= 1.20",
	    med[0] / med[1] <= TARGET_CG_RATIO, "%.2f (%.2f / %.2f ms)",
	    med[0] / med[1], med[0] * 1e3, med[1] * 1e3);
	snprintf(label, sizeof(label), "supervisor CPU, %d idle, cgroups",
		 b->idle);
	row(label, NULL, -1, "%.2f%% of a core", share[0] * 100);
	snprintf(label, sizeof(label), "supervisor CPU, %d idle, off",
		 b->idle);
	row(label, NULL, -1, "%.2f%% of a core", share[1] * 100);
	row("cgroups' idle cost (difference)", "< 1% core",
	    share[0] - share[1] < 0.01, "%.2f%% of a core",
	    (share[0] - share[1]) * 100);
	free(lat[0]);
	free(lat[1]);
}

int main(int argc, char **argv)
{
	static const char *const names[] = {"throughput", "mirror", "latency",
					    "rss", "startup", "restart",
					    "cgroups", "fleet"};
	struct bench b = {0};
	const char *only = NULL;
	double peak8 = 0, t0 = bench_now_s();

	if (argc >= 2 && !strcmp(argv[1], "--agent"))
		return agent_main(argc - 2, argv + 2);
	for (int i = 1; i < argc; i++) {
		int known = 0;

		if (!strcmp(argv[i], "--quick")) {
			b.quick = 1;
			continue;
		}
		if (!strcmp(argv[i], "--normal")) {
			b.normal = 1;
			continue;
		}
		if (!strcmp(argv[i], "--nats") && i + 1 < argc) {
			b.nats = argv[++i];
			continue;
		}
		if (!strcmp(argv[i], "--rate") && i + 1 < argc) {
			b.rate = atof(argv[++i]);
			if (b.rate >= 8)
				continue;
		}
		if (!strcmp(argv[i], "--only") && i + 1 < argc) {
			only = argv[++i];
			for (size_t k = 0; k < sizeof(names) / sizeof(*names);
			     k++)
				known |= !strcmp(only, names[k]);
			if (known)
				continue;
		}
		fprintf(stderr, "usage: bench-run [--quick] [--normal] [--only "
				"throughput|mirror|latency|rss|startup|restart|"
				"cgroups|fleet]"
				" [--rate R] [--nats URLS]\n");
		return 2;
	}
	find_programs(&b);
	b.rounds = b.quick ? 1 : 3;
	b.total = b.quick ? 20000 : 200000;
	b.idle = b.quick ? 64 : IDLE_AGENTS;
	b.restarts = b.quick ? 5 : RESTARTS;
	b.latency_ms = b.quick ? 1000 : LATENCY_MS;
	/* A closed pipe must not kill the harness. */
	signal(SIGPIPE, SIG_IGN);

	if (wanted(only, "throughput"))
		measure_throughput(&b, &peak8);
	if (wanted(only, "mirror"))
		measure_mirror(&b);
	if (wanted(only, "latency"))
		measure_latency(&b, peak8);
	if (wanted(only, "rss") || wanted(only, "startup"))
		measure_idle(&b, wanted(only, "rss"), wanted(only, "startup"));
	if (wanted(only, "restart"))
		measure_restart(&b);
	if (wanted(only, "cgroups"))
		measure_cgroups(&b);
	if (b.nats && wanted(only, "fleet"))
		measure_fleet(&b);
	print_table(&b);
	printf("(took %.0f s)\n", bench_now_s() - t0);
	return 0;
}
