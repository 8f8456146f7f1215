/*
 * spawn.c - starting an agent's worker: its row, the socket token, the
 * agent's environment, the pipes placed at the fds of the worker contract
 * (worker/ctl.h), fork and exec; then the control socket on which the
 * worker says what became of the agent.
 *
 * A restart in the turn its agent ended takes the worker that ran it, which
 * waits for it (--await): the attempt's command line, environment and
 * pipes go down its control socket, and no process of ours is made. A
 * worker no restart took goes at the end of that turn (release_worker).
 *
 * The worker process itself is forked by the zygote, or exec'd
 * (zygote.c).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "supervisor/cgroup.h"
#include "supervisor/proc.h"
#include "supervisor/slog.h"
#include "supervisor/stream.h"
#include "supervisor/sup-int.h"
#include "supervisor/supervisor.h"
#include "wal/wal.h"
#include "worker/ctl.h"

static void put_env(char ***env, size_t *n, char *entry)
{
	char **grown = realloc(*env, (*n + 2) * sizeof(**env));

	if (!grown) {
		sup_log(SUP_ERROR, "out of memory");
		abort();
	}
	*env = grown;
	(*env)[(*n)++] = entry;
	(*env)[*n] = NULL;
}

/*
 * What every agent of this run gets: our environment less SMITHERS_*, PATH
 * led by the directory of the smithers that started us (for `smithers
 * emit`), and the run's own SMITHERS_* variables.
 */
void shared_environment(struct run *r)
{
	extern char **environ;
	const char *path = "/usr/bin:/bin";
	char *bindir = xasprintf("%s", r->opt->smithers);
	size_t n = 0;

	if (strrchr(bindir, '/'))
		*strrchr(bindir, '/') = '\0';
	for (char **e = environ; *e; e++) {
		if (!strncmp(*e, "PATH=", 5))
			path = *e + 5;
		else if (strncmp(*e, "SMITHERS", 8) != 0)
			put_env(&r->env_base, &n, xasprintf("%s", *e));
	}
	put_env(&r->env_base, &n, xasprintf("PATH=%s:%s", bindir, path));
	put_env(&r->env_base, &n, xasprintf("SMITHERS=%s", r->opt->smithers));
	put_env(&r->env_base, &n, xasprintf("SMITHERS_FD=%d", WRK_FD_UP));
	put_env(&r->env_base, &n,
		xasprintf("SMITHERS_ACK_FD=%d", WRK_FD_DOWN));
	put_env(&r->env_base, &n, xasprintf("SMITHERS_DIR=%s", r->dir));
	put_env(&r->env_base, &n,
		xasprintf("SMITHERS_SOCKET=%s", r->sock_path));
	put_env(&r->env_base, &n,
		xasprintf("SMITHERS_EXECUTION_ID=%" PRId64, r->p.exec_id));
	r->nenv_base = n;
	free(bindir);
}

/*
 * The agent's environment: the run's shared entries (borrowed from
 * r->env_base, the first r->nenv_base) followed by its own (owned; free
 * them with free_agent_env()).
 */
static char **agent_env(struct agent *a)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	size_t n = r->nenv_base;
	char **env = malloc((n + 10 + sp->nenv + 1) * sizeof(*env));

	if (!env) {
		sup_log(SUP_ERROR, "out of memory");
		abort();
	}
	memcpy(env, r->env_base, n * sizeof(*env));
	env[n++] = xasprintf("SMITHERS_TOKEN=%s", a->token);
	env[n++] = xasprintf("SMITHERS_AGENT_ID=%" PRId64, a->id);
	env[n++] = xasprintf("SMITHERS_AGENT=%s", sp->name);
	env[n++] =
		xasprintf("SMITHERS_PHASE=%s", r->wf->phases[sp->phase].name);
	env[n++] = xasprintf("SMITHERS_ITERATION=%d", r->p.iteration);
	env[n++] = xasprintf("SMITHERS_ATTEMPT=%d", a->attempt);
	if (a->resume)
		env[n++] = xasprintf("SMITHERS_RESUME=1");
	env[n++] = xasprintf("SMITHERS_MODEL=%s", sp->model ? sp->model : "");
	env[n++] =
		xasprintf("SMITHERS_PROMPT=%s", sp->prompt ? sp->prompt : "");
	for (size_t i = 0; i < sp->nenv; i++)
		env[n++] = xasprintf("%s", sp->env[i]);
	env[n] = NULL;
	return env;
}

static void free_agent_env(struct run *r, char **env)
{
	if (!env)
		return;
	for (char **p = env + r->nenv_base; *p; p++)
		free(*p);
	free(env);
}

int sup_token(char out[33])
{
	unsigned char raw[16];

	if (sup_random(raw, sizeof(raw)) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
	return 0;
}

/*
 * Whether this run of a CLI agent A goes on with its session: it does once
 * the CLI reported the session (so that it exists to resume). The prompt
 * is then the resume prompt for an attempt after the first (a restart, or
 * a supervisor that died), or the agent's own prompt for the first attempt
 * of a Ralph loop's next iteration (session = continue).
 */
static int cli_resumes(const struct agent *a, const char **prompt)
{
	*prompt = a->spec->prompt;
	if (!a->session.live || !a->session.id[0])
		return 0;
	if (a->attempt > 1 || a->resume)
		*prompt = a->spec->cli.resume_prompt;
	return 1;
}

/*
 * What A's CLI may spend (a CLI that takes a budget; 0: no limit): what is
 * left of its own budget and of the execution's, whichever is less. A CLI
 * that RESUMEs its session counts what the session spent already.
 */
static double cli_budget(const struct agent *a, int resume)
{
	double max = a->spec->cli.max_cost_usd;
	double all = a->run->wf->max_cost_usd;
	double counted = resume ? a->session.sum.cost : 0;
	double left = 0;
	int limited = 0;

	if (!adapter_of(a->spec->kind)->takes_budget)
		return 0;
	if (max > 0) {
		left = max - a->session.cost + counted;
		limited = 1;
	}
	if (all > 0 && (!limited || all - a->run->p.cost + counted < left)) {
		left = all - a->run->p.cost + counted;
		limited = 1;
	}
	if (!limited)
		return 0;
	return left > 0.000001 ? left : 0.000001;
}

/* The worker's command line for A, logging to LOG_PATH (borrowed), into
 * *OUT; A's cgroup is made for it. 0, or -1 with errno when the cgroup
 * cannot be made (logged). */
static int worker_argv(struct agent *a, const char *log_path, char ***out)
{
	struct run *r = a->run;
	const struct adapter *ad = adapter_of(a->spec->kind);
	char *shell[] = {"/bin/sh", "-c", (char *)a->spec->command, NULL};
	char **cli = NULL;
	struct wrk_ctl_args args;
	const char *prompt;
	char **argv, err[512];
	int resume;

	wrk_ctl_args_init(&args);
	if (contain_agent(a, &args, err, sizeof(err)) < 0) {
		int e = errno;

		sup_log(SUP_ERROR, "agent '%s': %s", a->spec->name, err);
		errno = e;
		return -1;
	}
	args.log = log_path;
	args.log_max = r->wf->log_max_bytes;
	args.log_keep = r->wf->log_keep;
	args.stop_signal = a->spec->stop_signal;
	args.stop_grace_ms = a->spec->stop_grace_ms;
	args.cwd = a->spec->cwd;
	args.parent = getpid();
	args.await = 1;
	/* Our failpoint "during-log-rotation" is reached in the worker. */
	args.crash_rotation = r->crash_rotation;
	/* A command without shell syntax is exec'd as it is: one exec (and a
	 * shell's start) less at each start and restart. */
	args.command = a->words ? a->words : shell;
	args.frame_max = r->wf->frame_max;
	if (ad) {
		resume = cli_resumes(a, &prompt);
		cli = ad->argv(a->spec, a->session.id, resume, prompt,
			       cli_budget(a, resume));
		args.command = cli;
		args.adapter = (enum wrk_adapter)ad->worker;
		args.line_max = a->spec->cli.line_max;
	}
	argv = wrk_ctl_argv(r->opt->worker, &args);
	free_strv(cli);
	if (!argv) {
		sup_log(SUP_ERROR, "out of memory");
		abort();
	}
	*out = argv;
	return 0;
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg);

/*
 * Another attempt of a CLI agent's row: it goes on with the session the CLI
 * reported, or, when the CLI never did (it died before it said a word),
 * starts a new one: the old id may be taken by a session file that is not
 * resumable. A CLI that names its sessions itself has none until it says
 * it. 0, or -1 with the store's error.
 */
static int record_attempt(struct agent *a)
{
	struct wal *w = a->run->w;
	const char *prompt;

	if (cli_resumes(a, &prompt))
		return wal_agent_resume(w, a->id, prompt);
	a->session.id[0] = '\0';
	a->session.live = 0;
	if (adapter_of(a->spec->kind)->names_session &&
	    cli_session_id(a->session.id) < 0) {
		sup_log(SUP_ERROR, "agent '%s': cannot draw a session id: %s",
			a->spec->name, strerror(errno));
		a->session.id[0] = '\0';
		return -1;
	}
	a->session.sum = (struct usage){0};
	if (wal_agent_session(w, a->id, a->session.id, NULL, NULL, NULL) < 0)
		return -1;
	return wal_agent_resume(w, a->id, NULL);
}

/* Record A's row for this phase iteration if it has none yet: 0, or -1
 * (logged). */
static int record_agent(struct agent *a, const char *log_path)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	const struct adapter *ad = adapter_of(sp->kind);
	struct wal_agent_spec spec = {
		.name = sp->name,
		.model = sp->model,
		.system_prompt = sp->system_prompt,
		.prompt = sp->prompt,
		.attempt = a->attempt,
		.log_path = log_path,
		.kind = sup_kind_name(sp->kind),
	};
	const char *prompt;

	if (batch(r) < 0)
		return -1;
	if (a->id) {
		if (ad && record_attempt(a) < 0) {
			sup_log(SUP_ERROR, "agent '%s': %s", sp->name,
				wal_errmsg(r->w));
			return -1;
		}
		return 0;
	}
	/* A session id drawn now is recorded before the CLI says anything. */
	if (ad && ad->names_session && !a->session.id[0] &&
	    cli_session_id(a->session.id) < 0) {
		sup_log(SUP_ERROR, "agent '%s': cannot draw a session id: %s",
			sp->name, strerror(errno));
		return -1;
	}
	if (ad && a->session.id[0])
		spec.session_id = a->session.id;
	a->id = wal_agent_start(r->w, r->p.exec_id, r->p.phase_id, &spec);
	if (a->id < 0) {
		sup_log(SUP_ERROR, "cannot record agent '%s': %s", sp->name,
			wal_errmsg(r->w));
		a->id = 0;
		return -1;
	}
	/* The first attempt of a Ralph loop iteration that goes on with the
	 * last one's session (session = continue). */
	if (ad && cli_resumes(a, &prompt) &&
	    wal_agent_resume(r->w, a->id, prompt) < 0) {
		sup_log(SUP_ERROR, "agent '%s': %s", sp->name,
			wal_errmsg(r->w));
		return -1;
	}
	return 0;
}

/* Start A's worker with ARGV and ENV, the attempt's pipe ends UP and DOWN
 * (borrowed); its control socket watched. 0, or -1 with errno and *WHAT. */
static int new_worker(struct agent *a, char **argv, char **env, int up,
		      int down, const char **what)
{
	struct run *r = a->run;
	int ctl[2];
	pid_t pid;
	int err;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ctl) < 0) {
		*what = "make the pipes";
		return -1;
	}
	pid = new_process(r, argv, env, up, down, ctl[1]);
	err = errno;
	close(ctl[1]);
	if (pid < 0) {
		close(ctl[0]);
		*what = "fork the worker";
		errno = err;
		return -1;
	}
	setpgid(pid, pid);
	a->worker_start = sup_proc_start(pid);
	a->worker = pid;
	a->ctl.fd = ctl[0];
	a->ctl.len = 0;
	evutil_make_socket_nonblocking(ctl[0]);
	a->ctl.ev = event_new(r->base, ctl[0], EV_READ | EV_PERSIST, ctl_cb, a);
	if (!a->ctl.ev || event_add(a->ctl.ev, NULL) < 0) {
		sup_log(SUP_ERROR, "agent '%s': out of memory", a->spec->name);
		kill(pid, SIGKILL);
		abort();
	}
	return 0;
}

int spawn(struct agent *a, const char **what)
{
	struct run *r = a->run;
	int up[2] = {-1, -1}, down[2] = {-1, -1};
	char **env = NULL, **argv = NULL, *log_path;
	int err = EIO;

	*what = NULL;
	log_path = xasprintf("%s/%s.log", r->log_dir, a->spec->name);
	if (record_agent(a, log_path) < 0)
		goto fail;
	if (sup_token(a->token) < 0) {
		err = errno;
		*what = "draw the agent's socket token";
		goto fail;
	}
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0) {
		err = errno;
		*what = "make the pipes";
		goto fail;
	}
	if (worker_argv(a, log_path, &argv) < 0) {
		err = errno;
		*what = "make the agent's cgroup";
		goto fail;
	}
	env = agent_env(a);
	/* The worker of the attempt that just ended, if it waits for this
	 * one; else (or if it cannot take it now) a new one. */
	if (a->idle &&
	    wrk_ctl_send_next(a->ctl.fd, argv, env, up[1], down[0]) == 0) {
		a->idle = 0;
	} else {
		if (a->idle)
			sup_log(SUP_DEBUG,
				"agent '%s': worker %ld cannot take the next "
				"attempt (%s): starting another",
				a->spec->name, (long)a->worker, strerror(errno));
		release_worker(a);
		if (new_worker(a, argv, env, up[1], down[0], what) < 0) {
			err = errno;
			goto fail;
		}
	}
	close(up[1]);
	close(down[0]);
	up[1] = down[0] = -1;
	a->pid = 0;
	a->pipes = sup_stream_new(r->streams, up[0], down[1], a);
	if (!a->pipes) {
		sup_log(SUP_ERROR, "agent '%s': out of memory", a->spec->name);
		kill(a->worker, SIGKILL);
		abort();
	}
	wrk_ctl_argv_free(argv);
	free_agent_env(r, env);
	free(log_path);
	return 0;
fail:
	/* A cgroup made for a worker that never ran. */
	sup_cg_agent_free(a->cg);
	a->cg = NULL;
	for (int i = 0; i < 2; i++) {
		if (up[i] >= 0)
			close(up[i]);
		if (down[i] >= 0)
			close(down[i]);
	}
	wrk_ctl_argv_free(argv);
	free_agent_env(r, env);
	free(log_path);
	errno = err;
	return -1;
}

void release_worker(struct agent *a)
{
	struct run *r = a->run;

	if (!a->idle)
		return;
	a->idle = 0;
	ctl_close(a);
	keep_released(r, a->worker);
}

/* One line the worker said (ctl.h). */
static void ctl_line(struct agent *a, char *line)
{
	struct run *r = a->run;
	long value;

	switch (wrk_ctl_parse_line(line, &value)) {
	case WRK_CTL_AGENT: {
		/* Recorded with the start times a later supervisor checks
		 * before it signals these pids (proc.h). */
		struct wal_procs procs = {
			.pid = (pid_t)value,
			.pid_start = sup_proc_start((pid_t)value),
			.worker = a->worker,
			.worker_start = a->worker_start,
		};

		a->pid = procs.pid;
		r->agents_dirty = 1;
		if (procs.pid_start < 0)
			procs.pid_start = 0; /* already gone */
		if (procs.worker_start < 0)
			procs.worker_start = 0;
		if (batch(r) == 0 && wal_agent_started(r->w, a->id, &procs) < 0)
			sup_log(SUP_WARN, "agent '%s': %s", a->spec->name,
				wal_errmsg(r->w));
		return;
	}
	case WRK_CTL_DONE:
		a->end.worker_done = 1;
		return;
	case WRK_CTL_ENDED:
		a->end.worker_done = 1;
		a->end.ended = 1;
		a->end.ended_status = (int)value;
		r->ended_pending = 1;
		return;
	case WRK_CTL_TRANSIENT:
		a->end.transient = 1;
		return;
	case WRK_CTL_OTHER:
		sup_log(SUP_WARN, "agent '%s': worker: %s", a->spec->name,
			line);
		set_text(&a->end.why, line);
		return;
	}
}

void ctl_drain(struct agent *a)
{
	struct ctl_conn *c = &a->ctl;
	char *nl;

	if (c->fd < 0)
		return;
	for (;;) {
		ssize_t n = read(c->fd, c->buf + c->len,
				 sizeof(c->buf) - 1 - c->len);

		if (n < 0 && errno == EINTR)
			continue;
		/* At its end the socket stays readable until the worker is
		 * reaped: watched still, it would spin the loop until then. */
		if (n == 0 && c->ev)
			event_del(c->ev);
		if (n <= 0)
			break;
		c->len += (size_t)n;
		c->buf[c->len] = '\0';
		while ((nl = strchr(c->buf, '\n'))) {
			*nl = '\0';
			ctl_line(a, c->buf);
			c->len -= (size_t)(nl + 1 - c->buf);
			memmove(c->buf, nl + 1, c->len + 1);
		}
		if (c->len == sizeof(c->buf) - 1)
			c->len = 0; /* an endless line: drop it */
	}
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	ctl_drain(arg);
}

void ctl_close(struct agent *a)
{
	if (a->ctl.ev)
		event_free(a->ctl.ev);
	a->ctl.ev = NULL;
	if (a->ctl.fd >= 0)
		close(a->ctl.fd);
	a->ctl.fd = -1;
}
