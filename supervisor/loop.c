/*
 * loop.c - `smithers run`'s supervisor (supervisor.h): open the store and
 * take the lock, set up the event loop, begin or resume the execution, run
 * the turns, tear down. Signals reach the loop as libevent signal events,
 * never as work done in a raw handler; `smithers emit` connects to the
 * socket this file listens on.
 *
 * A turn: event_base_loop(EVLOOP_ONCE) runs every callback that is ready,
 * then end_turn() checks the phase and commit_turn() commits the turn's
 * batch and acks (commit.c), then the streams that ended are freed and a gc
 * asked for is served. The loop wakes
 * at least every WAKE_MS so that heartbeats stay fresh.
 *
 * Processes: each agent runs under a smithers-worker of its own (spawn.c).
 * We are a child subreaper: whatever escapes a dead worker is reparented to
 * us, and the group of an agent whose worker died is killed here (agent.c).
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <event2/event.h>

#include "supervisor/mirror.h"
#include "supervisor/proc.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "wal/wal.h"

/* Out of fds, the listener rests this long between tries (accept_cb). */
#define ACCEPT_PAUSE_MS 250

static const int handled_signals[] = {SIGCHLD, SIGHUP, SIGINT, SIGTERM};
#define NSIGNALS (sizeof(handled_signals) / sizeof(*handled_signals))

struct loop {
	int lock_fd;
	int listen_fd;
	struct event *listen_ev;
	int accept_paused; /* out of fds: the listener waits (accept_cb) */
	int listen_held;   /* the disk is full: no new connections */
	struct event *sig_ev[NSIGNALS];
	struct event *wake_ev;
	char *log_path;
};

/* ---- the socket listener -------------------------------------------------- */

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	(void)fd;
	(void)what;
	if (!disk_is_full(r)) /* else listener_follow_disk() listens again */
		event_add(r->loop->listen_ev, NULL);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	struct loop *l = r->loop;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	(void)what;
	if (c < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		      errno == ENOMEM)) {
		struct timeval tv = tv_ms(ACCEPT_PAUSE_MS);

		/* The connection stays in the backlog and the socket stays
		 * readable: listening on would spin the loop. */
		if (!l->accept_paused)
			sup_log(SUP_WARN,
				"cannot accept connections on '%s': %s; "
				"trying again every %d ms",
				r->sock_path, strerror(errno), ACCEPT_PAUSE_MS);
		l->accept_paused = 1;
		if (event_base_once(r->base, -1, EV_TIMEOUT, accept_resume, r,
				    &tv) == 0)
			event_del(l->listen_ev);
		return;
	}
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			sup_log(SUP_WARN, "accept: %s", strerror(errno));
		return;
	}
	if (l->accept_paused) {
		sup_log(SUP_INFO, "accepting connections again");
		l->accept_paused = 0;
	}
	if (!sup_stream_new(r->streams, c, c, NULL)) /* closes C */
		sup_log(SUP_ERROR, "out of memory for a connection");
}

/* While the disk is full, no new connections either (its agents wait). */
static void listener_follow_disk(struct run *r)
{
	struct loop *l = r->loop;
	int hold = disk_is_full(r);

	if (!l->listen_ev || hold == l->listen_held)
		return;
	l->listen_held = hold;
	if (hold)
		event_del(l->listen_ev);
	else
		event_add(l->listen_ev, NULL);
}

static int listen_socket(struct run *r)
{
	struct loop *l = r->loop;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(r->sock_path) >= sizeof(sa.sun_path)) {
		sup_log(SUP_WARN,
			"socket path '%s' is too long: 'smithers emit' will "
			"not work",
			r->sock_path);
		return 0;
	}
	strcpy(sa.sun_path, r->sock_path);
	unlink(r->sock_path); /* a stale one: we hold the lock */
	l->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (l->listen_fd < 0 ||
	    bind(l->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(l->listen_fd, 128) < 0) {
		sup_log(SUP_ERROR, "cannot listen on '%s': %s", r->sock_path,
			strerror(errno));
		return -1;
	}
	l->listen_ev = event_new(r->base, l->listen_fd, EV_READ | EV_PERSIST,
				 accept_cb, r);
	if (!l->listen_ev || event_add(l->listen_ev, NULL) < 0) {
		sup_log(SUP_ERROR, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- signals and the wake-up ---------------------------------------------- */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

	(void)what;
	switch (sig) {
	case SIGCHLD:
		reap(r);
		break;
	case SIGHUP:
		sup_log_reopen();
		sup_log(SUP_INFO, "log files reopened");
		break;
	case SIGINT:
	case SIGTERM:
		if (r->p.stopping > 0) {
			/* Asked twice: no more grace. */
			sup_log(SUP_WARN, "killing every agent now");
			for (size_t i = 0; i < r->wf->nagents; i++) {
				struct agent *a = &r->agents[i];

				if (a->state == A_STOPPING)
					agent_kill(a);
			}
			break;
		}
		sup_log(SUP_INFO, "%s: stopping", strsignal((int)sig));
		stop_all(r, (int)sig);
		break;
	}
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Nothing to do here: commit_turn() writes the heartbeats after
	 * every turn; this only makes sure there is a turn. */
	(void)fd;
	(void)what;
	(void)arg;
}

/* ---- a turn ----------------------------------------------------------------- */

/* The end of a turn: the phase checked (agents that ended may end it), the
 * agents told to the mirror, the commit and its acks, then what the commit
 * asked for. */
static void end_turn(struct run *r)
{
	int what;

	/* Attempts that ended this turn with their workers alive: restarts
	 * take them now, in this turn, before its commit. */
	agents_ended(r);
	phase_check(r);
	agents_to_mirror(r);
	fleet_to_mirror(r);
	what = commit_turn(r);
	fleet_poke(r); /* what the turn committed may ship */
	if ((what & TURN_STOP) && !r->p.stopping)
		stop_all(r, -1);
	if (what & TURN_RESUME) {
		reap(r); /* what ended while the disk was full */
		agents_ended(r);
		schedule(r);
	}
	listener_follow_disk(r);
}

/* ---- opening ---------------------------------------------------------------- */

/* The store (and the state dir) first, then the lock inside it: 0, or -1
 * with the exit status set. */
static int open_store(struct run *r, int full)
{
	struct wal_options wopt = {.create = 1};
	pid_t holder = 0;

	wopt.synchronous = full ? WAL_SYNC_FULL : WAL_SYNC_NORMAL;
	r->loop->lock_fd = wal_lock_acquire(r->dir, &holder);
	if (r->loop->lock_fd < 0 && errno == ENOENT) {
		/* A new state dir: the store makes it. The connection stays
		 * open: closed, it would take the WAL and its index with it,
		 * and a reader running as root could make them again, owned
		 * by root for a moment (SQLite gives them to the database's
		 * owner just after), which this uid could not open. */
		if (wal_open(r->dir, &wopt, &r->w) < 0) {
			sup_log(SUP_ERROR, "%s", wal_errmsg(r->w));
			r->p.exit_status = 2;
			return -1;
		}
		r->loop->lock_fd = wal_lock_acquire(r->dir, &holder);
	}
	if (r->loop->lock_fd < 0) {
		if (errno == EWOULDBLOCK)
			sup_log(SUP_ERROR,
				"another supervisor (pid %ld) runs in '%s': "
				"it holds '%s/supervisor.lock'",
				(long)holder, r->dir, r->state_dir);
		else if (errno == EROFS || errno == EACCES)
			sup_log(SUP_ERROR,
				"cannot lock '%s': %s (a run writes its state "
				"there; 'smithers db' can still read it)",
				r->state_dir, strerror(errno));
		else
			sup_log(SUP_ERROR, "cannot lock '%s': %s", r->state_dir,
				strerror(errno));
		r->p.exit_status = errno == EWOULDBLOCK ? 3 : 2;
		return -1;
	}
	if (!r->w && wal_open(r->dir, &wopt, &r->w) < 0) {
		sup_log(SUP_ERROR, "%s", wal_errmsg(r->w));
		r->p.exit_status = 2;
		return -1;
	}
	/* The CLIs' tool outputs go to the object store from their first
	 * call on: libgit2 is started beside the loop now (wal.h). Commands
	 * store objects only when they send artifacts, which starts it then;
	 * until then its few MiB of OpenSSL are not touched. */
	for (size_t i = 0; i < r->wf->nagents; i++)
		if (adapter_of(r->wf->agents[i].kind)) {
			wal_git_warm(r->w);
			break;
		}
	return 0;
}

/* The events: agents' timers, signals, the wake-up, the listener. */
static int open_events(struct run *r)
{
	struct loop *l = r->loop;
	struct timeval wake = tv_ms(WAKE_MS);

	for (size_t i = 0; i < r->wf->nagents; i++)
		if (agent_init(r, &r->agents[i], i) < 0) {
			sup_log(SUP_ERROR, "out of memory");
			return -1;
		}
	for (size_t i = 0; i < NSIGNALS; i++) {
		l->sig_ev[i] = evsignal_new(r->base, handled_signals[i],
					    signal_cb, r);
		if (!l->sig_ev[i] || event_add(l->sig_ev[i], NULL) < 0) {
			sup_log(SUP_ERROR, "cannot handle signal %d",
				handled_signals[i]);
			return -1;
		}
	}
	l->wake_ev = event_new(r->base, -1, EV_PERSIST, wake_cb, r);
	if (!l->wake_ev || event_add(l->wake_ev, &wake) < 0) {
		sup_log(SUP_ERROR, "cannot set the loop's timer up");
		return -1;
	}
	return listen_socket(r);
}

/* Each agent takes fds of ours (its pipes, its cgroup's figures): up to
 * the hard limit, past the soft one of a login shell (1024). The workers
 * get the soft limit back (spawn.c): a program of the agent's may select()
 * on fds below FD_SETSIZE. */
static void raise_nofile(struct run *r)
{
	struct rlimit more;

	if (getrlimit(RLIMIT_NOFILE, &r->nofile) < 0) {
		r->nofile.rlim_cur = r->nofile.rlim_max = RLIM_INFINITY;
		return;
	}
	more = r->nofile;
	more.rlim_cur = more.rlim_max;
	if (more.rlim_cur != r->nofile.rlim_cur &&
	    setrlimit(RLIMIT_NOFILE, &more) < 0)
		sup_log(SUP_WARN, "cannot raise the open files limit to %llu: "
			"%s", (unsigned long long)more.rlim_cur,
			strerror(errno));
}

/* Everything up to the first turn: 0, or -1 with the exit status set. */
static int run_open(struct run *r)
{
	const struct sup_workflow *wf = r->wf;
	const struct sup_options *opt = r->opt;
	char real[PATH_MAX], token[33];
	int full = !(opt->synchronous_normal ||
		     wf->synchronous == SUP_SYNC_NORMAL);
	long rotation_crash;

	r->p.exit_status = 2;
	if (opt->verbose)
		sup_log_level(SUP_DEBUG);
	if (!realpath(opt->dir, real)) {
		sup_log(SUP_ERROR, "cannot use '%s': %s", opt->dir,
			strerror(errno));
		return -1;
	}
	r->dir = xasprintf("%s", real);
	r->state_dir = xasprintf("%s/.smithers", r->dir);
	r->sock_path = xasprintf("%s/" SUP_SOCKET, r->state_dir);
	if (wal_failpoint_setup() < 0)
		sup_log(SUP_WARN, "cannot set the failpoint up");
	rotation_crash = wal_failpoint_armed("during-log-rotation");
	if (rotation_crash > 0)
		r->crash_rotation = rotation_crash;
	if (open_store(r, full) < 0)
		return -1;
	r->loop->log_path = xasprintf("%s/supervisor.log", r->state_dir);
	if (sup_log_open(r->loop->log_path) < 0)
		sup_log(SUP_WARN, "cannot open '%s': %s", r->loop->log_path,
			strerror(errno));
	{
		char *logs = xasprintf("%s/logs", r->state_dir);
		char *agents = xasprintf("%s/logs/agents", r->state_dir);

		mkdir(logs, 0700);
		mkdir(agents, 0700);
		free(logs);
		free(agents);
	}
	if (access(opt->worker, X_OK) < 0) {
		sup_log(SUP_ERROR, "cannot run the worker '%s': %s",
			opt->worker, strerror(errno));
		return -1;
	}
	/* Each agent proves who it is on the socket with a token of its own:
	 * never a guessable one. */
	if (sup_token(token) < 0) {
		sup_log(SUP_ERROR, "cannot draw random bytes for the agents' "
			"tokens: %s", strerror(errno));
		return -1;
	}
	raise_nofile(r);
	/* What escapes a dead worker is ours to kill: the promise that
	 * nothing an agent starts outlives it depends on this. */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		sup_log(SUP_ERROR, "cannot become a child subreaper: %s",
			strerror(errno));
		return -1;
	}
	if (contain_open(r) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	r->base = event_base_new();
	r->agents = calloc(wf->nagents ? wf->nagents : 1, sizeof(*r->agents));
	if (!r->base || !r->agents)
		goto nomem;
	r->streams = sup_streams_new(r->base, (size_t)wf->frame_max,
				     &dispatch_hooks, r);
	if (!r->streams || !commit_new(r, full))
		goto nomem;
	if (open_events(r) < 0)
		return -1;
	r->p.exit_status = 0;
	return 0;
nomem:
	sup_log(SUP_ERROR, "out of memory");
	return -1;
}

static char *config_json(const struct sup_workflow *wf)
{
	/* The workflow's shape, as a JSON summary kept on the execution. */
	return xasprintf("{\"phases\":%zu,\"agents\":%zu,\"max_parallel\":%d}",
			 wf->nphases, wf->nagents, wf->max_parallel);
}

/* Resume the interrupted execution or start one, then its phase: 0, or -1
 * with the exit status set. */
static int run_begin(struct run *r)
{
	const struct sup_workflow *wf = r->wf;
	int resumed;

	sup_boot_id(r->boot_id);
	resumed = recover(r);
	if (resumed < 0)
		return -1;
	if (!resumed) {
		char *cfg = config_json(wf);

		r->p.exec_id = wal_execution_start(r->w, wf->name, wf->path, cfg);
		free(cfg);
		if (r->p.exec_id < 0 ||
		    wal_execution_boot(r->w, r->p.exec_id, r->boot_id) < 0 ||
		    (wf->max_cost_usd > 0 &&
		     wal_execution_budget(r->w, r->p.exec_id,
					  wf->max_cost_usd) < 0)) {
			sup_log(SUP_ERROR, "cannot record the execution: %s",
				wal_errmsg(r->w));
			r->p.exit_status = 1;
			r->p.exec_id = 0;
			return -1;
		}
		sup_log(SUP_INFO,
			"execution %" PRId64 " of '%s' (%s) started in '%s'",
			r->p.exec_id, wf->name, wf->path, r->dir);
	}
	contain_record(r);
	if (fleet_start(r) < 0) {
		r->p.exit_status = 1;
		return -1;
	}
	/* Under the lock: a segment of ours is replaced by nobody else. */
	if (wf->shm_enabled)
		r->mirror = sup_mirror_open(r->state_dir, wf);
	sup_mirror_execution(r->mirror, r->p.exec_id, wf->name, "running");
	/* A resumed execution's totals go on from what it had used. */
	sup_mirror_usage(r->mirror, r->p.before.in, r->p.before.out,
			 r->p.before.cache_read, r->p.before.cache_write,
			 r->p.before.cost);
	shared_environment(r);
	r->log_dir = xasprintf("%s/logs/agents/%" PRId64, r->state_dir,
			       r->p.exec_id);
	if (mkdir(r->log_dir, 0700) < 0 && errno != EEXIST)
		sup_log(SUP_WARN, "cannot create '%s': %s", r->log_dir,
			strerror(errno));
	if (resumed == 1) {
		sup_mirror_phase(r->mirror, wf->phases[r->p.phase].name,
				 r->p.iteration);
		schedule(r);
		phase_check(r);
	} else if (wf->nphases == 0) {
		finish(r);
	} else {
		phase_start(r);
	}
	end_turn(r);
	return 0;
}

/* The loop: a turn runs what is ready, then commits and acks. */
static void run_loop(struct run *r)
{
	/* Until every worker is reaped: the last ones were let go as their
	 * agents ended (release_worker) and exit at once, as does the zygote
	 * when no agent is left. */
	for (;;) {
		if (r->p.finished && r->running == 0)
			zygote_stop(r);
		if (r->p.finished && r->running == 0 && r->released.n == 0)
			break;
		if (event_base_loop(r->base, EVLOOP_ONCE) < 0) {
			sup_log(SUP_ERROR, "event loop failed");
			r->p.exit_status = 1;
			break;
		}
		end_turn(r);
		sup_streams_reap(r->streams);
		if (gc_wanted(r))
			serve_gc(r);
	}
	end_turn(r);
}

/* ---- closing ---------------------------------------------------------------- */

static int run_close(struct run *r)
{
	struct loop *l = r->loop;

	if (r->p.exit_status == 0 && r->p.stopping > 0)
		r->p.exit_status = 128 + r->p.stopping;
	fleet_stop(r);
	zygote_stop(r);
	sup_streams_free(r->streams);
	contain_close(r);
	for (size_t i = 0; r->agents && i < r->wf->nagents; i++)
		agent_release(&r->agents[i]);
	free(r->agents);
	for (size_t i = 0; i < NSIGNALS; i++)
		if (l->sig_ev[i])
			event_free(l->sig_ev[i]);
	if (l->wake_ev)
		event_free(l->wake_ev);
	if (l->listen_ev)
		event_free(l->listen_ev);
	if (l->listen_fd >= 0) {
		close(l->listen_fd);
		unlink(r->sock_path);
	}
	if (commit_end(r) < 0)
		r->p.exit_status = 1;
	if (r->base)
		event_base_free(r->base);
	wal_close(r->w);
	/* A clean exit: the segment goes (a crash leaves it for readers). */
	sup_mirror_close(r->mirror, 1);
	if (l->lock_fd >= 0)
		close(l->lock_fd);
	free_strv(r->env_base);
	free(r->released.v);
	free(r->p.failure);
	free(r->log_dir);
	free(l->log_path);
	free(r->sock_path);
	free(r->state_dir);
	free(r->dir);
	sup_log_close();
	return r->p.exit_status;
}

int sup_run(const struct sup_workflow *wf, const struct sup_options *opt)
{
	struct loop l = {.lock_fd = -1, .listen_fd = -1};
	struct run r = {.wf = wf, .opt = opt, .loop = &l};

	if (run_open(&r) == 0 && run_begin(&r) == 0)
		run_loop(&r);
	return run_close(&r);
}
