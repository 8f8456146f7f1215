/*
 * run.c - the supervisor: the event loop, the agents' processes, the
 * protocol streams, group commit and acks, phases and their Ralph loops.
 *
 * One turn of the loop (event_base_loop(EVLOOP_ONCE)) runs every callback
 * that is ready: readable streams are drained (at most READ_MAX bytes each,
 * so a flooding agent cannot starve the others) and every decoded message is
 * applied to the store inside one batch. At the end of the turn the batch
 * commits, and only then does each stream get an ack with the highest seq it
 * had processed: acked means durable. Acks never block the loop: a stream
 * whose agent does not read keeps one pending ack, coalesced.
 *
 * Processes: each agent runs under a smithers-worker of its own, forked and
 * exec'd at once, in its own process group (so the terminal's signals reach
 * only us); the worker announces the agent's pid on a control pipe. We are
 * a child subreaper: whatever escapes a dead worker is reparented to us,
 * and the group of an agent whose worker died is killed here.
 *
 * Agent states: PENDING (waiting for a slot) -> RUNNING -> STOPPING (asked to
 * stop) -> ended; then BACKOFF (restart timer) -> RUNNING, or DONE / FAILED /
 * CANCELLED. Every failure counts toward max_restarts (no hole for crashes
 * after startsecs, unlike supervisord); the backoff doubles with each
 * consecutive failure and starts again from its minimum after a run that
 * lasted at least startsecs. A start that failed for want of processes,
 * memory or fds (ours or the worker's) is a failed attempt too, retried
 * whatever the restart policy (start_failed).
 *
 * Signals reach the loop as libevent signal events, never as work done in a
 * raw handler.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "supervisor/cond.h"
#include "supervisor/mirror.h"
#include "supervisor/proc.h"
#include "supervisor/slog.h"
#include "supervisor/supervisor.h"
#include "supervisor/workflow.h"
#include "wal/wal.h"
#include "worker/proto.h"

#define READ_MAX (256 * 1024) /* per stream per turn */
#define OUT_MAX	 (256 * 1024) /* queued error frames per stream */
/* The database's heartbeat is written when it is this old, checked every
 * turn: so it is never more than this plus WAKE_MS (and a commit) behind. */
#define HEARTBEAT_MS 500
/* The loop wakes at least this often: the mirror's heartbeat (written at
 * most every 100 ms) is then never older than this plus a turn. */
#define WAKE_MS 250
/* How often the checkpointer moves the WAL into the database, and how big
 * the WAL may grow (pages) before the writer completes a checkpoint itself
 * so that it starts again from the beginning (wal_trim). */
#define CHECKPOINT_MS 100
#define WAL_TRIM_PAGES 4096
/* After stop_grace, how long the worker has before we SIGKILL it. */
#define KILL_SLACK_MS 2000
/* Out of fds, the listener rests this long between tries (accept_cb). */
#define ACCEPT_PAUSE_MS 250

enum agent_state {
	A_IDLE, /* not part of the running phase */
	A_PENDING,
	A_RUNNING,
	A_STOPPING,
	A_BACKOFF,
	A_DONE,
	A_FAILED,
	A_CANCELLED,
};

struct run;
struct agent;

/* A tool call the agent numbered CALL, recorded as row ID. */
struct call {
	uint64_t call;
	int64_t id;
};

/* One protocol stream: an agent's pipe pair, or one socket connection. */
struct stream {
	struct run *run;
	struct agent *agent; /* NULL on a socket until its hello */
	int in_fd, out_fd;   /* equal for a socket */
	struct event *rev, *wev;
	struct wrk_decoder *dec;
	struct wrk_buf out; /* frames not yet written */
	uint64_t processed; /* highest seq handled in this batch or before */
	uint64_t durable;   /* highest seq committed and synced: ackable */
	uint64_t acked;	    /* highest seq we put in an ack */
	/* Committed, waiting for the sync of their ticket (oldest first; a
	 * third commit before the first sync ends joins the second). */
	uint64_t pend_seq[2], pend_ticket[2];
	int npend;
	int dead;	    /* protocol error: no more reading */
	int eof;
	int parked;	    /* its next message waits for disk space */
	struct stream *prev, *next;
};

struct agent {
	struct run *run;
	const struct sup_agent *spec;
	size_t index;
	enum agent_state state;
	int64_t id; /* row of the current phase iteration; 0: none yet */
	pid_t worker, pid;
	int ctl_fd;
	struct event *ctl_ev;
	char ctl_buf[512];
	size_t ctl_len;
	struct stream *pipes;
	struct event *timer;
	int attempt;	 /* 1 for the first run */
	int resume;	 /* it ran under a supervisor that died */
	int64_t worker_start; /* the worker's start time (proc.h) */
	int failures;	 /* counted toward max_restarts */
	int consecutive; /* failures since the last run that lasted */
	int64_t started_ms;
	/* What the mirror was last told of this agent (mirror_agents). */
	enum agent_state m_state;
	pid_t m_pid;
	int m_attempt;
	int64_t m_id;
	int m_known;
	char token[33];
	char *why;	 /* why we stopped it, or what the worker said */
	char *fail_text; /* from a "fail" message */
	char *result_text, *result_json; /* from a "result" message */
	int proto_error;
	int timed_out;
	int worker_done; /* the worker said its agent's group is gone */
	int transient;	 /* the worker could not start it, for now */
	/* Tool calls started and not completed, by the agent's number: per
	 * agent, since `smithers emit` starts and completes a call from two
	 * different connections. */
	struct call *calls;
	size_t ncalls, capcalls;
};

struct run {
	const struct sup_workflow *wf;
	const struct sup_options *opt;
	struct event_base *base;
	struct wal *w;
	char *dir; /* project dir, absolute */
	char *state_dir;
	char *sock_path;
	int lock_fd;
	int listen_fd;
	struct event *listen_ev;
	int accept_paused; /* out of fds: the listener waits (accept_cb) */
	struct event *sig_ev[5];
	struct event *heartbeat_ev;
	int64_t exec_id;
	int64_t phase_id;
	size_t phase;
	int iteration;
	int phase_failed;
	int any_phase_failed;
	struct agent *agents;
	int running;  /* workers alive */
	int stopping; /* shutting down: signal number, or -1 for a failure */
	int finished; /* the loop ends */
	int exit_status;
	int in_batch;
	int64_t last_heartbeat_ms;
	struct stream *streams;
	char **env_base; /* what every agent's environment starts with */
	size_t nenv_base;
	char *log_dir; /* logs/agents/EXECUTION, the agents' logs */
	struct wal_checkpointer *checkpointer;
	int hellos; /* this turn processed a hello, which writes nothing */
	struct wal_syncer *syncer; /* NULL: a commit is durable as it returns */
	struct sup_mirror *mirror; /* NULL: no shared memory segment */
	uint64_t turn_messages, turn_bytes, turn_rejected;
	struct event *sync_ev;
	char boot_id[37];
	/* The disk is full: the open batch waits, nothing is read. */
	int disk_full;
	int64_t disk_full_ms; /* since when (wall clock) */
	int disk_retry;	      /* parked changes are being tried again */
	int db_lost; /* the database file was deleted under us */
	int gc_wanted; /* a gc request waits (gcreq.c) */
	char *gc_request; /* its path */
	/* The Nth log rotation of a worker crashes it with us (the failpoint
	 * "during-log-rotation:N"); "": none. */
	char crash_rotation[24];
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) {
		sup_log(SUP_ERROR, "out of memory");
		abort();
	}
	va_end(ap);
	return s;
}

static void set_text(char **slot, const char *text)
{
	free(*slot);
	*slot = text ? strdup(text) : NULL;
}

static struct timeval tv_ms(int64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000),
			     (suseconds_t)(ms % 1000) * 1000};

	return tv;
}

/* ---- the batch ------------------------------------------------------------
 */

static int batch(struct run *r)
{
	if (r->in_batch)
		return 0;
	if (wal_batch_begin(r->w) < 0) {
		sup_log(SUP_ERROR, "cannot begin a transaction: %s",
			wal_errmsg(r->w));
		return -1;
	}
	r->in_batch = 1;
	return 0;
}

static void stream_flush(struct stream *s);
static void stop_all(struct run *r, int why);

/* The highest seq of S committed so far, synced or not. */
static uint64_t stream_committed(const struct stream *s)
{
	return s->npend ? s->pend_seq[s->npend - 1] : s->durable;
}

/* After a commit: what each stream processed is durable at once, or once
 * the sync asked for now completes (sync_cb). */
static void after_commit(struct run *r)
{
	uint64_t ticket = 0;

	for (struct stream *s = r->streams; s; s = s->next) {
		if (s->processed <= stream_committed(s))
			continue;
		if (!r->syncer) {
			wal_failpoint("after-commit-before-ack");
			s->durable = s->processed;
			stream_flush(s);
			continue;
		}
		if (!ticket)
			ticket = wal_syncer_request(r->syncer);
		if (s->npend == 2)
			s->npend = 1;
		s->pend_seq[s->npend] = s->processed;
		s->pend_ticket[s->npend] = ticket;
		s->npend++;
	}
}

/* A sync completed: ack what it made durable. */
static void sync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	char err[256];
	uint64_t done;

	(void)fd;
	(void)what;
	if (wal_syncer_done(r->syncer, &done, err, sizeof(err)) < 0) {
		/* Nothing since the last completed sync is acked, ever. */
		sup_log(SUP_ERROR, "%s", err);
		event_del(r->sync_ev);
		if (!r->stopping)
			stop_all(r, -1);
		r->exit_status = 1;
		return;
	}
	wal_failpoint("after-commit-before-ack");
	for (struct stream *s = r->streams; s; s = s->next) {
		while (s->npend > 0 && s->pend_ticket[0] <= done) {
			s->durable = s->pend_seq[0];
			s->pend_seq[0] = s->pend_seq[1];
			s->pend_ticket[0] = s->pend_ticket[1];
			s->npend--;
		}
		if (s->durable > s->acked)
			stream_flush(s);
	}
}

static const char *const state_names[] = {
	[A_IDLE] = "idle",	   [A_PENDING] = "pending",
	[A_RUNNING] = "running",   [A_STOPPING] = "stopping",
	[A_BACKOFF] = "backoff",   [A_DONE] = "done",
	[A_FAILED] = "failed",	   [A_CANCELLED] = "cancelled",
};

static int64_t wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Tell the mirror of the agents whose state, pid, attempt or row changed
 * since it was last told: a few compares an agent per turn. */
static void mirror_agents(struct run *r)
{
	for (size_t i = 0; r->mirror && i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];
		struct sup_mirror_agent m = {.id = a->id,
					     .pid = a->pid,
					     .attempt = a->attempt,
					     .iteration = r->iteration,
					     .started_ms = -1};

		if (a->m_known && a->m_state == a->state && a->m_pid == a->pid &&
		    a->m_attempt == a->attempt && a->m_id == a->id)
			continue;
		m.name = a->spec->name;
		m.phase = r->wf->phases[a->spec->phase].name;
		m.status = state_names[a->state];
		if (a->state == A_RUNNING && (a->m_state != A_RUNNING ||
					      a->m_attempt != a->attempt))
			m.started_ms = wall_ms();
		sup_mirror_agent(r->mirror, i, &m);
		a->m_known = 1;
		a->m_state = a->state;
		a->m_pid = a->pid;
		a->m_attempt = a->attempt;
		a->m_id = a->id;
	}
}

/* The mirror gets the turn: after its commit (COMMIT_US; -1: none), before
 * any of its acks. */
static void mirror_turn(struct run *r, int64_t commit_us)
{
	if (!r->mirror)
		return;
	mirror_agents(r);
	sup_mirror_count(r->mirror, r->turn_messages, r->turn_bytes,
			 r->turn_rejected);
	r->turn_messages = r->turn_bytes = r->turn_rejected = 0;
	sup_mirror_publish(r->mirror, commit_us);
}

/* ---- a full disk
 * -----------------------------------------------------------------
 *
 * When the disk cannot hold the next commit (wal_reserve()) or a change
 * (its statement ran out of space), nothing is lost and nothing is acked:
 * the turn's batch stays open, the change that did not fit is put back in
 * its stream (parked), and no stream is read any more, so that the agents
 * block on their full pipes (back-pressure). No worker is reaped and no
 * agent started meanwhile: their records would need space too. Each turn
 * (at least every WAKE_MS) tries again; once the space is there the batch
 * commits, is acked, and everything carries on where it stopped.
 */

static void stream_drain(struct stream *s, size_t budget);
static void reap(struct run *r);
static void schedule(struct run *r);

static void disk_full(struct run *r, const char *why)
{
	if (r->disk_full)
		return;
	r->disk_full = 1;
	r->disk_full_ms = wall_ms();
	sup_log(SUP_ERROR,
		"%s: the disk is full; holding the changes not yet "
		"committed, reading no more from the agents until there is "
		"space again",
		why);
	for (struct stream *s = r->streams; s; s = s->next)
		event_del(s->rev);
	if (r->listen_ev)
		event_del(r->listen_ev);
	sup_mirror_execution(r->mirror, r->exec_id, r->wf->name, "disk full");
	sup_mirror_publish(r->mirror, -1);
}

/* The held batch committed. The changes that did not fit go first: if one
 * still does not, the disk is still full. Else record the episode, read
 * again, catch up. */
static void disk_back(struct run *r)
{
	int64_t secs = (wall_ms() - r->disk_full_ms + 500) / 1000;
	int parked = 0;
	char *value;

	r->disk_retry = 1;
	for (struct stream *s = r->streams; s; s = s->next) {
		if (!s->parked)
			continue;
		s->parked = 0;
		stream_drain(s, READ_MAX);
		parked |= s->parked;
	}
	r->disk_retry = 0;
	if (parked)
		return;
	r->disk_full = 0;
	sup_log(SUP_INFO, "there is space again after %" PRId64 " s: "
		"committed what was held; reading from the agents again",
		secs);
	sup_mirror_execution(r->mirror, r->exec_id, r->wf->name, "running");
	value = xasprintf("{\"error\":\"disk full\",\"seconds\":%" PRId64
			  ",\"since_ms\":%" PRId64 "}",
			  secs, r->disk_full_ms);
	if (batch(r) == 0 &&
	    wal_state_set(r->w, "smithers.disk_full", value, "storage", 0) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
	free(value);
	if (r->listen_ev)
		event_add(r->listen_ev, NULL);
	for (struct stream *s = r->streams; s; s = s->next)
		if (!s->eof && !s->dead)
			event_add(s->rev, NULL);
	reap(r); /* what ended meanwhile */
	schedule(r);
}

/* Commit the turn's batch, then ack every stream that processed something. */
static void commit_turn(struct run *r)
{
	int64_t now = mono_ms();
	struct timespec t0, t1;

	if (r->exec_id && now - r->last_heartbeat_ms >= HEARTBEAT_MS) {
		/* Deleted or replaced under us: what we commit goes to a file
		 * nobody else sees. Stop; it is copied out at the end. */
		if (!r->db_lost && wal_check_file(r->w) < 0) {
			r->db_lost = 1;
			sup_log(SUP_ERROR,
				"%s: stopping the execution; everything "
				"committed will be copied to '%s/"
				"smithers.db.rescued'",
				wal_errmsg(r->w), r->state_dir);
			if (!r->stopping)
				stop_all(r, -1);
			r->exit_status = 1;
		}
		/* `smithers db gc --via-supervisor` (gcreq.c), served after
		 * this commit. */
		if (access(r->gc_request, F_OK) == 0)
			r->gc_wanted = 1;
		if (batch(r) == 0 &&
		    wal_execution_heartbeat(r->w, r->exec_id) < 0)
			sup_log(SUP_WARN, "cannot record heartbeat: %s",
				wal_errmsg(r->w));
		r->last_heartbeat_ms = now;
	}
	if (!r->in_batch) {
		mirror_turn(r, -1);
		if (r->hellos)
			after_commit(r); /* nothing to commit: ack them */
		r->hellos = 0;
		return;
	}
	r->hellos = 0;
	/* A commit that cannot fail for space, or none yet - but at the very
	 * end, a last try. */
	if (wal_reserve(r->w) < 0 && !(r->finished && r->running == 0)) {
		disk_full(r, wal_errmsg(r->w));
		return;
	}
	r->in_batch = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (wal_batch_commit(r->w) < 0) {
		/* Nothing of this turn is durable, so nothing is acked. */
		sup_log(SUP_ERROR, "cannot commit: %s", wal_errmsg(r->w));
		sup_mirror_discard(r->mirror);
		if (!r->stopping)
			stop_all(r, -1);
		r->exit_status = 1;
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wal_failpoint("after-commit-before-sync");
	mirror_turn(r, (t1.tv_sec - t0.tv_sec) * 1000000 +
			       (t1.tv_nsec - t0.tv_nsec) / 1000);
	after_commit(r);
	if (r->checkpointer && wal_trim(r->w, WAL_TRIM_PAGES) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
	if (r->disk_full)
		disk_back(r);
}

/* ---- streams ----------------------------------------------------------------
 */

static void stream_write_cb(evutil_socket_t fd, short what, void *arg);
static void stream_read_cb(evutil_socket_t fd, short what, void *arg);

static struct stream *stream_new(struct run *r, struct agent *a, int in_fd,
				 int out_fd)
{
	struct stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->run = r;
	s->agent = a;
	s->in_fd = in_fd;
	s->out_fd = out_fd;
	s->dec = wrk_decoder_new((size_t)r->wf->frame_max);
	s->rev = event_new(r->base, in_fd, EV_READ | EV_PERSIST, stream_read_cb,
			   s);
	s->wev = event_new(r->base, out_fd, EV_WRITE, stream_write_cb, s);
	if (!s->dec || !s->rev || !s->wev) {
		wrk_decoder_free(s->dec);
		if (s->rev)
			event_free(s->rev);
		if (s->wev)
			event_free(s->wev);
		free(s);
		return NULL;
	}
	evutil_make_socket_nonblocking(in_fd);
	evutil_make_socket_nonblocking(out_fd);
	if (!r->disk_full) /* else disk_back() reads it */
		event_add(s->rev, NULL);
	s->next = r->streams;
	if (r->streams)
		r->streams->prev = s;
	r->streams = s;
	return s;
}

static void stream_free(struct stream *s)
{
	struct run *r = s->run;

	if (s->prev)
		s->prev->next = s->next;
	else
		r->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->agent && s->agent->pipes == s)
		s->agent->pipes = NULL;
	event_free(s->rev);
	event_free(s->wev);
	close(s->in_fd);
	if (s->out_fd != s->in_fd)
		close(s->out_fd);
	wrk_decoder_free(s->dec);
	wrk_buf_release(&s->out);
	free(s);
}

/* Write what is queued; queue the ack last, coalesced to the newest durable
 * seq (never one of a batch not yet committed, or not yet synced). */
static void stream_flush(struct stream *s)
{
	if (s->durable > s->acked && s->out.len < OUT_MAX) {
		struct wrk_msg ack = {.type = WRK_ACK, .seq = s->durable};

		if (wrk_encode(&s->out, &ack) == 0)
			s->acked = s->durable;
	}
	while (s->out.len > 0) {
		ssize_t n = write(s->out_fd, s->out.data, s->out.len);

		if (n > 0) {
			wrk_buf_consume(&s->out, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			event_add(s->wev, NULL);
			return;
		}
		/* The agent closed its ack pipe: nothing more to say. */
		wrk_buf_consume(&s->out, s->out.len);
		return;
	}
	/* An ack owed while the queue was full goes out now. */
	if (s->durable > s->acked)
		stream_flush(s);
}

static void stream_write_cb(evutil_socket_t fd, short what, void *arg)
{
	stream_flush(arg);
}

/* Tell the agent that SEQ was refused; FATAL also stops reading. */
static void stream_error(struct stream *s, uint64_t seq, const char *reason,
			 int fatal)
{
	struct wrk_msg err = {.type = WRK_ERROR,
			      .seq = seq,
			      .reason = reason,
			      .fatal = fatal};

	s->run->turn_rejected++;
	if (s->out.len < OUT_MAX)
		wrk_encode(&s->out, &err);
	stream_flush(s);
}

static int64_t call_find(struct agent *s, uint64_t call)
{
	for (size_t i = 0; i < s->ncalls; i++)
		if (s->calls[i].call == call)
			return s->calls[i].id;
	return 0;
}

static int call_add(struct agent *s, uint64_t call, int64_t id)
{
	if (s->ncalls == s->capcalls) {
		size_t cap = s->capcalls ? s->capcalls * 2 : 8;
		struct call *grown = realloc(s->calls, cap * sizeof(*grown));

		if (!grown)
			return -1;
		s->calls = grown;
		s->capcalls = cap;
	}
	s->calls[s->ncalls].call = call;
	s->calls[s->ncalls].id = id;
	s->ncalls++;
	return 0;
}

static void call_remove(struct agent *s, uint64_t call)
{
	for (size_t i = 0; i < s->ncalls; i++)
		if (s->calls[i].call == call) {
			s->calls[i] = s->calls[--s->ncalls];
			return;
		}
}

static void stop_agent(struct agent *a, const char *why);

/* The stream broke the protocol: say why, record it, stop the agent. */
static void protocol_error(struct stream *s, uint64_t seq, const char *reason)
{
	struct agent *a = s->agent;

	s->dead = 1;
	event_del(s->rev);
	stream_error(s, seq, reason, 1);
	if (a) {
		sup_log(SUP_ERROR, "agent '%s': protocol error: %s",
			a->spec->name, reason);
		a->proto_error = 1;
		if (a->state == A_RUNNING) {
			char *why = xasprintf("protocol error: %s", reason);

			stop_agent(a, why);
			free(why);
		}
	} else {
		sup_log(SUP_WARN, "connection refused: %s", reason);
	}
}

/* A socket's hello names its agent and proves it with the agent's token. */
static int socket_hello(struct stream *s, const struct wrk_msg *m)
{
	struct run *r = s->run;

	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->id == m->agent_id && a->id > 0 && m->token &&
		    a->state == A_RUNNING && strcmp(a->token, m->token) == 0) {
			s->agent = a;
			return 0;
		}
	}
	return -1;
}

static char *resolve_path(const struct agent *a, const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	return xasprintf("%s/%s", a->spec->cwd, path);
}

/* Apply one message inside the turn's batch. */
static void dispatch(struct stream *s, const struct wrk_msg *m)
{
	struct run *r = s->run;
	struct agent *a = s->agent;
	struct wal *w = r->w;
	int64_t id;
	int rc = 0;

	/* The decoder saw to it that a stream starts with one hello. */
	if (m->type == WRK_HELLO) {
		if (!a && socket_hello(s, m) < 0) {
			protocol_error(s, m->seq,
				       "hello names no running agent (wrong "
				       "agent id or token)");
			return;
		}
		s->processed = m->seq;
		r->hellos = 1;
		return;
	}
	if (m->type == WRK_ACK || m->type == WRK_ERROR) {
		protocol_error(s, m->seq, "a message type agents do not send");
		return;
	}
	if (batch(r) < 0) {
		stream_error(s, m->seq, "the store cannot begin a transaction",
			     0);
		return;
	}
	switch (m->type) {
	case WRK_STATE_SET:
		rc = wal_state_set(w, m->key, m->json, m->trigger, a->id);
		if (rc == 0) {
			sup_mirror_key(r->mirror, m->key, m->json);
			sup_mirror_agent_key(r->mirror, a->index, m->key);
		}
		break;
	case WRK_STATE_DELETE:
		rc = wal_state_delete(w, m->key, m->trigger, a->id);
		if (rc > 0) {
			sup_mirror_key(r->mirror, m->key, NULL);
			sup_mirror_agent_key(r->mirror, a->index, m->key);
		}
		break;
	case WRK_MEMORY_ADD: {
		struct wal_memory mem = {
			.category = m->category,
			.scope = m->scope,
			.key = m->key,
			.content = m->content,
			.confidence = m->has_confidence ? m->confidence : 1.0,
			.source = m->source ? m->source : a->spec->name,
			.source_execution_id = r->exec_id,
		};

		rc = wal_memory_add(w, &mem) < 0 ? -1 : 0;
		break;
	}
	case WRK_TOOL_START:
		if (call_find(a, m->call)) {
			stream_error(s, m->seq,
				     "tool call number already in use", 0);
			break;
		}
		id = wal_tool_start(w, a->id, m->tool, m->json);
		if (id < 0 || call_add(a, m->call, id) < 0)
			rc = -1;
		else
			sup_mirror_agent_tool(r->mirror, a->index, m->tool);
		break;
	case WRK_TOOL_COMPLETE:
		id = call_find(a, m->call);
		if (!id) {
			char *why = xasprintf("no tool call %" PRIu64
					      " was started",
					      m->call);

			stream_error(s, m->seq, why, 0);
			free(why);
			break;
		}
		rc = wal_tool_complete(w, id, m->output, m->output_len,
				       m->summary, m->status, m->error);
		if (rc == 0)
			call_remove(a, m->call);
		break;
	case WRK_ARTIFACT_ADD: {
		char *path = resolve_path(a, m->path);

		rc = !path || wal_artifact_add(w, a->id, m->name, m->kind, path,
					       m->summary, m->json) < 0
			     ? -1
			     : 0;
		free(path);
		break;
	}
	case WRK_USAGE:
		rc = wal_agent_usage(w, a->id, (int64_t)m->tokens_in,
				     (int64_t)m->tokens_out);
		if (rc == 0)
			sup_mirror_agent_tokens(r->mirror, a->index,
						(int64_t)m->tokens_in,
						(int64_t)m->tokens_out);
		break;
	case WRK_LOG:
		sup_log(SUP_INFO, "agent '%s': %s%s%s", a->spec->name,
			m->level ? m->level : "", m->level ? ": " : "",
			m->text ? m->text : "");
		break;
	case WRK_RESULT:
		set_text(&a->result_text, m->text);
		set_text(&a->result_json, m->json);
		break;
	case WRK_FAIL:
		set_text(&a->fail_text, m->error ? m->error : "failed");
		break;
	default:
		break;
	}
	if (rc < 0 && (errno == ENOSPC || errno == EDQUOT) &&
	    wrk_decoder_unread(s->dec) == 0) {
		/* Not refused: it waits for space with the rest. */
		s->parked = 1;
		disk_full(r, wal_errmsg(w));
		return;
	}
	if (rc < 0) {
		sup_log(SUP_WARN, "agent '%s': %s refused: %s", a->spec->name,
			wrk_type_name(m->type), wal_errmsg(w));
		stream_error(s, m->seq, wal_errmsg(w), 0);
	}
	s->processed = m->seq;
}

/* Apply what S's decoder holds: 0, or -1 when S died or a message of it
 * has to wait for disk space (parked). */
static int stream_decode(struct stream *s)
{
	struct wrk_msg m;
	int rc;

	while (!s->parked && (rc = wrk_decoder_next(s->dec, &m)) == 1) {
		s->run->turn_messages++;
		dispatch(s, &m);
		wal_failpoint("mid-batch");
		if (s->dead)
			return -1;
	}
	if (s->parked)
		return -1;
	if (rc < 0) {
		protocol_error(s, wrk_decoder_last_seq(s->dec) + 1,
			       wrk_decoder_errmsg(s->dec));
		return -1;
	}
	return 0;
}

/* Read what is there (up to READ_MAX), decode and apply it. Nothing while
 * the disk is full (unless we are stopping): the agents wait. */
static void stream_drain(struct stream *s, size_t budget)
{
	char buf[65536];
	size_t got = 0;

	if (s->dead ||
	    (s->run->disk_full && !s->run->stopping && !s->run->disk_retry))
		return;
	/* A message parked when the disk filled up comes first. */
	if (stream_decode(s) < 0)
		return;
	while (!s->eof && got < budget) {
		ssize_t n = read(s->in_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			s->eof = 1;
			break;
		}
		got += (size_t)n;
		s->run->turn_bytes += (uint64_t)n;
		if (wrk_decoder_feed(s->dec, buf, (size_t)n) < 0) {
			protocol_error(s, 0, "out of memory");
			return;
		}
		if (stream_decode(s) < 0)
			return;
	}
	if (s->eof && wrk_decoder_pending(s->dec) > 0 && !s->dead) {
		char *why = xasprintf("the stream ended inside a frame "
				      "(%zu bytes of it were sent)",
				      wrk_decoder_pending(s->dec));

		protocol_error(s, wrk_decoder_last_seq(s->dec) + 1, why);
		free(why);
	}
}

static void stream_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct stream *s = arg;

	stream_drain(s, READ_MAX);
	/* A stream that is done is freed after the turn's commit. */
	if (s->eof || s->dead)
		event_del(s->rev);
}

static void accept_resume(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;

	if (!r->disk_full) /* else disk_back() listens again */
		event_add(r->listen_ev, NULL);
}

static void accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

	if (c < 0 && (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
		      errno == ENOMEM)) {
		struct timeval tv = tv_ms(ACCEPT_PAUSE_MS);

		/* The connection stays in the backlog and the socket stays
		 * readable: listening on would spin the loop. */
		if (!r->accept_paused)
			sup_log(SUP_WARN,
				"cannot accept connections on '%s': %s; "
				"trying again every %d ms",
				r->sock_path, strerror(errno), ACCEPT_PAUSE_MS);
		r->accept_paused = 1;
		if (event_base_once(r->base, -1, EV_TIMEOUT, accept_resume, r,
				    &tv) == 0)
			event_del(r->listen_ev);
		return;
	}
	if (c < 0) {
		if (errno != EAGAIN && errno != EINTR)
			sup_log(SUP_WARN, "accept: %s", strerror(errno));
		return;
	}
	if (r->accept_paused) {
		sup_log(SUP_INFO, "accepting connections again");
		r->accept_paused = 0;
	}
	if (!stream_new(r, NULL, c, c)) {
		sup_log(SUP_ERROR, "out of memory for a connection");
		close(c);
	}
}

/* Free the streams that reached their end, once nothing is left to say. */
static void reap_streams(struct run *r)
{
	struct stream *s = r->streams, *next;

	for (; s; s = next) {
		next = s->next;
		if ((s->eof || s->dead) && s->out.len == 0 &&
		    s->processed <= s->acked)
			stream_free(s);
	}
}

/* ---- processes --------------------------------------------------------------
 */

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg);
static void agent_reset(struct agent *a);
static void ctl_cb(evutil_socket_t fd, short what, void *arg);
static void phase_check(struct run *r);

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
	env[n++] = xasprintf("SMITHERS_ITERATION=%d", r->iteration);
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

static void free_strv(char **v)
{
	for (char **p = v; p && *p; p++)
		free(*p);
	free(v);
}

/* Move FD to TARGET in a child about to exec (clearing close-on-exec). */
static int place_fd(int fd, int target)
{
	if (fd == target)
		return fcntl(fd, F_SETFD, 0);
	return dup2(fd, target) < 0 ? -1 : 0;
}

static void random_token(char out[33])
{
	unsigned char raw[16];

	if (getrandom(raw, sizeof(raw), 0) != (ssize_t)sizeof(raw)) {
		/* Not secret then, still unique enough within one run. */
		for (size_t i = 0; i < sizeof(raw); i++)
			raw[i] = (unsigned char)(rand() & 0xff);
	}
	for (size_t i = 0; i < sizeof(raw); i++)
		sprintf(out + 2 * i, "%02x", raw[i]);
}

/*
 * Start A's worker. Returns 0, or -1 with errno and, in *WHAT, what could
 * not be done ("fork the worker"); *WHAT is NULL when the failure was
 * the store's (already logged).
 */
static int spawn(struct agent *a, const char **what)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	int up[2] = {-1, -1}, down[2] = {-1, -1}, ctl[2] = {-1, -1};
	char **env = NULL, *log_path;
	char max[32], keep[16], sig[16], grace[32], parent[16];
	pid_t pid;
	int err = EIO;

	*what = NULL;
	log_path = xasprintf("%s/%s.log", r->log_dir, sp->name);
	if (!a->id) {
		struct wal_agent_spec spec = {
			.name = sp->name,
			.model = sp->model,
			.system_prompt = sp->system_prompt,
			.prompt = sp->prompt,
			.attempt = a->attempt,
		};

		spec.log_path = log_path;
		if (batch(r) < 0)
			goto fail;
		a->id = wal_agent_start(r->w, r->exec_id, r->phase_id, &spec);
		if (a->id < 0) {
			sup_log(SUP_ERROR, "cannot record agent '%s': %s",
				sp->name, wal_errmsg(r->w));
			a->id = 0;
			goto fail;
		}
	}
	random_token(a->token);
	if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0 ||
	    pipe2(ctl, O_CLOEXEC) < 0) {
		err = errno;
		*what = "make the pipes";
		goto fail;
	}
	env = agent_env(a);
	snprintf(max, sizeof(max), "%" PRId64, r->wf->log_max_bytes);
	snprintf(keep, sizeof(keep), "%d", r->wf->log_keep);
	snprintf(sig, sizeof(sig), "%d", sp->stop_signal);
	snprintf(grace, sizeof(grace), "%" PRId64, sp->stop_grace_ms);
	snprintf(parent, sizeof(parent), "%ld", (long)getpid());
	char *argv[] = {
		(char *)r->opt->worker,
		"--log",
		log_path,
		"--log-max",
		max,
		"--log-keep",
		keep,
		"--stop-signal",
		sig,
		"--stop-grace",
		grace,
		"--cwd",
		(char *)sp->cwd,
		"--parent",
		parent,
		"--",
		"/bin/sh",
		"-c",
		(char *)sp->command,
		NULL,
		NULL,
		NULL,
	};

	/* Our failpoint "during-log-rotation" is reached in the worker. */
	if (r->crash_rotation[0]) {
		memmove(argv + 17, argv + 15, 5 * sizeof(*argv));
		argv[15] = "--crash-at-rotation";
		argv[16] = r->crash_rotation;
	}

	pid = fork();
	if (pid < 0) {
		err = errno;
		*what = "fork the worker";
		goto fail;
	}
	if (pid == 0) {
		sigset_t none;
		int hi_up, hi_down, hi_ctl;

		/* Our own group: the terminal's ^C is for the supervisor. */
		setpgid(0, 0);
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		signal(SIGPIPE, SIG_DFL);
		/* Ends above 5 (our own files hold 3 to 5) go straight to
		 * their places; moving them out of the way first would take
		 * fds that a supervisor at its RLIMIT_NOFILE does not have. */
		if (up[1] > 5 && down[0] > 5 && ctl[1] > 5) {
			hi_up = up[1];
			hi_down = down[0];
			hi_ctl = ctl[1];
		} else {
			hi_up = fcntl(up[1], F_DUPFD_CLOEXEC, 10);
			hi_down = fcntl(down[0], F_DUPFD_CLOEXEC, 10);
			hi_ctl = fcntl(ctl[1], F_DUPFD_CLOEXEC, 10);
		}
		if (hi_up < 0 || hi_down < 0 || hi_ctl < 0 ||
		    place_fd(hi_up, 3) < 0 || place_fd(hi_down, 4) < 0 ||
		    place_fd(hi_ctl, 5) < 0)
			_exit(127);
		execve(argv[0], argv, env);
		_exit(127);
	}
	setpgid(pid, pid);
	a->worker_start = sup_proc_start(pid);
	close(up[1]);
	close(down[0]);
	close(ctl[1]);
	up[1] = down[0] = ctl[1] = -1;
	a->worker = pid;
	a->pid = 0;
	a->worker_done = 0;
	a->transient = 0;
	a->ctl_fd = ctl[0];
	a->ctl_len = 0;
	evutil_make_socket_nonblocking(ctl[0]);
	a->ctl_ev = event_new(r->base, ctl[0], EV_READ | EV_PERSIST, ctl_cb, a);
	a->pipes = stream_new(r, a, up[0], down[1]);
	if (!a->ctl_ev || !a->pipes) {
		sup_log(SUP_ERROR, "agent '%s': out of memory", sp->name);
		kill(pid, SIGKILL);
		abort();
	}
	event_add(a->ctl_ev, NULL);
	a->state = A_RUNNING;
	a->started_ms = mono_ms();
	a->timed_out = 0;
	a->proto_error = 0;
	set_text(&a->why, NULL);
	set_text(&a->fail_text, NULL);
	set_text(&a->result_text, NULL);
	set_text(&a->result_json, NULL);
	r->running++;
	if (sp->timeout_ms > 0) {
		struct timeval tv = tv_ms(sp->timeout_ms);

		evtimer_add(a->timer, &tv);
	}
	sup_log(SUP_INFO, "agent '%s' started (attempt %d, worker %ld)",
		sp->name, a->attempt, (long)pid);
	free_agent_env(r, env);
	free(log_path);
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (up[i] >= 0)
			close(up[i]);
		if (down[i] >= 0)
			close(down[i]);
		if (ctl[i] >= 0)
			close(ctl[i]);
	}
	free_agent_env(r, env);
	free(log_path);
	errno = err;
	return -1;
}

/* "agent PID" or a worker's complaint, one line at a time. */
static void ctl_line(struct agent *a, char *line)
{
	struct run *r = a->run;
	long pid;

	if (sscanf(line, "agent %ld", &pid) == 1 && pid > 0) {
		/* Recorded with the start times a later supervisor checks
		 * before it signals these pids (proc.h). */
		struct wal_procs procs = {
			.pid = (pid_t)pid,
			.pid_start = sup_proc_start((pid_t)pid),
			.worker = a->worker,
			.worker_start = a->worker_start,
		};

		a->pid = (pid_t)pid;
		if (procs.pid_start < 0)
			procs.pid_start = 0; /* already gone */
		if (procs.worker_start < 0)
			procs.worker_start = 0;
		if (batch(r) == 0 && wal_agent_started(r->w, a->id, &procs) < 0)
			sup_log(SUP_WARN, "agent '%s': %s", a->spec->name,
				wal_errmsg(r->w));
		return;
	}
	if (!strcmp(line, "done")) {
		a->worker_done = 1;
		return;
	}
	if (!strcmp(line, "transient")) {
		a->transient = 1;
		return;
	}
	sup_log(SUP_WARN, "agent '%s': worker: %s", a->spec->name, line);
	set_text(&a->why, line);
}

static void ctl_drain(struct agent *a)
{
	char *nl;

	for (;;) {
		ssize_t n = read(a->ctl_fd, a->ctl_buf + a->ctl_len,
				 sizeof(a->ctl_buf) - 1 - a->ctl_len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		a->ctl_len += (size_t)n;
		a->ctl_buf[a->ctl_len] = '\0';
		while ((nl = strchr(a->ctl_buf, '\n'))) {
			*nl = '\0';
			ctl_line(a, a->ctl_buf);
			a->ctl_len -= (size_t)(nl + 1 - a->ctl_buf);
			memmove(a->ctl_buf, nl + 1, a->ctl_len + 1);
		}
		if (a->ctl_len == sizeof(a->ctl_buf) - 1)
			a->ctl_len = 0; /* an endless line: drop it */
	}
}

static void ctl_cb(evutil_socket_t fd, short what, void *arg)
{
	ctl_drain(arg);
}

static void stop_agent(struct agent *a, const char *why)
{
	struct timeval tv;

	if (a->state != A_RUNNING)
		return;
	if (why && !a->why)
		set_text(&a->why, why);
	sup_log(SUP_INFO, "stopping agent '%s'%s%s", a->spec->name,
		why ? ": " : "", why ? why : "");
	a->state = A_STOPPING;
	kill(a->worker, SIGTERM);
	tv = tv_ms(a->spec->stop_grace_ms + KILL_SLACK_MS);
	evtimer_del(a->timer);
	evtimer_add(a->timer, &tv);
}

static void schedule(struct run *r);

static int64_t backoff_ms(const struct agent *a)
{
	int64_t d = a->spec->backoff_min_ms;

	for (int i = 1; i < a->consecutive && d < a->spec->backoff_max_ms; i++)
		d *= 2;
	return d > a->spec->backoff_max_ms ? a->spec->backoff_max_ms : d;
}

/*
 * A could not be started, WHY (its error), CODE the exit status of a worker
 * that ran (-1: none). A start that may succeed later (TRANSIENT: short of
 * processes, memory or fds) is an attempt that failed: A tries again after
 * its backoff, whatever its restart policy, until max_restarts. Any other
 * fails A at once.
 */
static void start_failed(struct agent *a, const char *why, int transient,
			 int code)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	int db = a->id && batch(r) == 0;

	a->failures++;
	a->consecutive++;
	if (transient && a->attempt - 1 < sp->max_restarts) {
		int64_t delay = backoff_ms(a);
		struct timeval tv = tv_ms(delay);

		a->attempt++;
		a->state = A_BACKOFF;
		sup_log(SUP_ERROR,
			"agent '%s': %s; retrying in %" PRId64
			" ms (attempt %d)",
			sp->name, why, delay, a->attempt);
		if (db && wal_agent_restart(r->w, a->id, a->attempt, why, code,
					    0) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		evtimer_add(a->timer, &tv);
		return;
	}
	a->state = A_FAILED;
	if (transient)
		sup_log(SUP_ERROR,
			"agent '%s': %s; giving up after %d attempts", sp->name,
			why, a->attempt);
	else
		sup_log(SUP_ERROR, "agent '%s': %s", sp->name, why);
	if (db && wal_agent_fail(r->w, a->id, why, code, 0) < 0)
		sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
}

/* The worker of A ended with STATUS: decide what comes next. */
static void agent_exited(struct agent *a, int status)
{
	struct run *r = a->run;
	const struct sup_agent *sp = a->spec;
	int code = -1, sig = 0, ok, restart, db;
	char *why = NULL;

	r->running--;
	evtimer_del(a->timer);
	ctl_drain(a);
	/*
	 * A worker that died before saying "done" (SIGKILLed, crashed) may
	 * have left its agent's group alive: kill it. Its members are ours
	 * now (we are their subreaper) and not reaped yet, so the group id
	 * cannot have been recycled.
	 */
	if (a->pid > 0 && !a->worker_done)
		kill(-a->pid, SIGKILL);
	event_free(a->ctl_ev);
	a->ctl_ev = NULL;
	close(a->ctl_fd);
	a->ctl_fd = -1;
	/* The agent is dead, so its pipe holds all it will ever send. */
	if (a->pipes) {
		stream_drain(a->pipes, SIZE_MAX);
		event_del(a->pipes->rev);
		a->pipes->eof = 1;
	}
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		sig = WTERMSIG(status);
	/* The worker ran but could not start the agent, for now. */
	if (a->transient && !a->pid && !r->stopping) {
		start_failed(a, a->why ? a->why : "cannot start the agent", 1,
			     code);
		goto out;
	}
	ok = code == 0 && !a->fail_text && !a->proto_error && !a->timed_out;
	if (a->timed_out)
		why = xasprintf("timed out after %" PRId64 " ms",
				sp->timeout_ms);
	else if (a->proto_error)
		why = xasprintf("%s", a->why ? a->why : "protocol error");
	else if (a->fail_text)
		why = xasprintf("%s", a->fail_text);
	else if (sig)
		why = xasprintf("killed by signal %d (%s)", sig,
				strsignal(sig));
	else if (code == 127 && a->why)
		why = xasprintf("%s", a->why);
	else if (code != 0)
		why = xasprintf("exited with status %d", code);
	sup_log(ok ? SUP_INFO : SUP_WARN, "agent '%s' ended: %s", sp->name,
		why ? why : "exited with status 0");

	/* Without a transaction the rows cannot be updated (the error is in
	 * the log), but the agent ended all the same. */
	db = batch(r) == 0;
	if (r->stopping && !ok) {
		a->state = A_CANCELLED;
		if (db && wal_agent_cancel(r->w, a->id, why ? why : "stopped",
					   code, sig) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		goto out;
	}
	if (mono_ms() - a->started_ms >= sp->startsecs_ms)
		a->consecutive = 0;
	restart = !r->stopping && !a->proto_error &&
		  ((ok && sp->restart == SUP_RESTART_ALWAYS) ||
		   (!ok && sp->restart != SUP_RESTART_NEVER));
	if (!ok)
		a->failures++, a->consecutive++;
	/* max_restarts counts restarts, whatever caused them. */
	if (restart && a->attempt - 1 < sp->max_restarts) {
		int64_t delay = ok ? 0 : backoff_ms(a);
		struct timeval tv = tv_ms(delay);

		a->attempt++;
		a->state = A_BACKOFF;
		if (db && wal_agent_restart(r->w, a->id, a->attempt, why, code,
					    sig) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		sup_log(SUP_INFO,
			"agent '%s' restarts in %" PRId64 " ms "
			"(attempt %d)",
			sp->name, delay, a->attempt);
		evtimer_add(a->timer, &tv);
		goto out;
	}
	if (ok) {
		a->state = A_DONE;
		if (db && wal_agent_complete(r->w, a->id, a->result_text,
					     a->result_json, 0) < 0) {
			sup_log(SUP_WARN, "agent '%s': %s", sp->name,
				wal_errmsg(r->w));
			/* e.g. a structured result that is not JSON */
			wal_agent_complete(r->w, a->id, a->result_text, NULL,
					   0);
		}
	} else {
		a->state = A_FAILED;
		if (db && wal_agent_fail(r->w, a->id, why, code, sig) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		if (restart)
			sup_log(SUP_WARN,
				"agent '%s' failed %d times: giving up",
				sp->name, a->failures);
	}
out:
	free(why);
	schedule(r);
	phase_check(r);
}

static void agent_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;

	switch (a->state) {
	case A_RUNNING: /* its timeout */
		a->timed_out = 1;
		stop_agent(a, "timeout");
		break;
	case A_STOPPING: /* the worker did not end in time */
		sup_log(SUP_WARN,
			"agent '%s': worker %ld did not stop; killing",
			a->spec->name, (long)a->worker);
		kill(a->worker, SIGKILL);
		if (a->pid > 0)
			kill(-a->pid, SIGKILL);
		break;
	case A_BACKOFF:
		if (a->run->stopping) {
			a->state = A_CANCELLED;
			break;
		}
		/* A slot of max_parallel, like any start. */
		a->state = A_PENDING;
		schedule(a->run);
		phase_check(a->run);
		break;
	default:
		break;
	}
}

static struct agent *agent_of_worker(struct run *r, pid_t pid)
{
	for (size_t i = 0; i < r->wf->nagents; i++)
		if (r->agents[i].worker == pid &&
		    (r->agents[i].state == A_RUNNING ||
		     r->agents[i].state == A_STOPPING))
			return &r->agents[i];
	return NULL;
}

static void reap(struct run *r)
{
	int status;
	pid_t pid;

	if (r->disk_full && !r->stopping)
		return; /* disk_back() reaps */
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		struct agent *a = agent_of_worker(r, pid);

		if (a)
			agent_exited(a, status);
		else
			sup_log(SUP_DEBUG, "reaped orphan %ld", (long)pid);
	}
}

/* Start A, or see to what its failure calls for (start_failed). */
static void start(struct agent *a)
{
	const char *what;
	char *why;
	int err;

	if (spawn(a, &what) == 0)
		return;
	err = errno;
	if (!what) {
		a->state = A_FAILED;
		if (a->id && batch(a->run) == 0)
			wal_agent_fail(a->run->w, a->id,
				       "cannot start its worker", -1, 0);
		return;
	}
	why = xasprintf("cannot %s: %s", what, strerror(err));
	start_failed(a, why, wrk_transient_errno(err), -1);
	free(why);
}

/* Start pending agents while there are free slots. */
static void schedule(struct run *r)
{
	size_t limit = r->wf->max_parallel > 0 ? (size_t)r->wf->max_parallel
					       : SIZE_MAX;

	if (r->stopping || r->disk_full)
		return;
	for (size_t i = 0; i < r->wf->nagents && (size_t)r->running < limit;
	     i++) {
		struct agent *a = &r->agents[i];

		if (a->state == A_PENDING)
			start(a);
	}
}

/* ---- phases
 * --------------------------------------------------------------------- */

static void finish(struct run *r);

/* A of the phase iteration about to run: pending, its first attempt. */
static void agent_reset(struct agent *a)
{
	a->state = A_PENDING;
	a->id = 0;
	a->attempt = 1;
	a->resume = 0;
	a->failures = 0;
	a->consecutive = 0;
	a->ncalls = 0;
}

static void phase_start(struct run *r)
{
	const struct sup_phase *ph = &r->wf->phases[r->phase];

	if (batch(r) < 0) {
		finish(r);
		return;
	}
	r->phase_id = wal_phase_start(r->w, r->exec_id, ph->name, r->iteration);
	if (r->phase_id < 0) {
		sup_log(SUP_ERROR, "cannot record phase '%s': %s", ph->name,
			wal_errmsg(r->w));
		r->exit_status = 1;
		finish(r);
		return;
	}
	sup_log(SUP_INFO, "phase '%s' iteration %d", ph->name, r->iteration);
	sup_mirror_phase(r->mirror, ph->name, r->iteration);
	r->phase_failed = 0;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->spec->phase != r->phase) {
			a->state = A_IDLE;
			continue;
		}
		agent_reset(a);
	}
	schedule(r);
	phase_check(r);
}

/* Whether the phase's until condition holds now: 1, 0, or -1 when the
 * key cannot be read (an absent key is an answer; a store error is not). */
static int until_holds(struct run *r, const struct sup_phase *ph)
{
	const char *key = sup_cond_key(ph->until);
	char *value;
	int holds;

	errno = 0;
	value = wal_state_get(r->w, key);
	if (!value && errno != ENOENT) {
		sup_log(SUP_ERROR, "phase '%s': cannot read '%s': %s", ph->name,
			key, wal_errmsg(r->w));
		return -1;
	}
	holds = sup_cond_eval(ph->until, value);
	free(value);
	return holds;
}

/* If every agent of the phase ended, end the iteration and go on. */
static void phase_check(struct run *r)
{
	const struct sup_phase *ph;
	int failed = 0;

	if (r->finished || !r->exec_id || r->phase >= r->wf->nphases)
		return;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		enum agent_state st = r->agents[i].state;

		if (st == A_PENDING || st == A_RUNNING || st == A_STOPPING ||
		    st == A_BACKOFF)
			return;
		failed |= st == A_FAILED || st == A_CANCELLED;
	}
	ph = &r->wf->phases[r->phase];
	if (batch(r) < 0) {
		/* The store is failing: nothing more can be recorded. */
		r->exit_status = 1;
		r->finished = 1;
		return;
	}
	if (r->stopping) {
		wal_phase_fail(r->w, r->phase_id);
		finish(r);
		return;
	}
	if (failed) {
		wal_phase_fail(r->w, r->phase_id);
		r->any_phase_failed = 1;
		sup_log(SUP_WARN, "phase '%s' iteration %d failed", ph->name,
			r->iteration);
		if (ph->on_failure == SUP_ON_FAILURE_STOP) {
			r->exit_status = 1;
			finish(r);
			return;
		}
	} else {
		int holds = ph->until ? until_holds(r, ph) : 1;

		wal_phase_complete(r->w, r->phase_id);
		if (holds < 0) {
			r->exit_status = 1;
			finish(r);
			return;
		}
		if (!holds) {
			if (r->iteration + 1 < ph->max_iterations) {
				r->iteration++;
				phase_start(r);
				return;
			}
			sup_log(SUP_WARN,
				"phase '%s': '%s' still does not hold after "
				"%d iterations",
				ph->name, ph->until_text, ph->max_iterations);
			r->any_phase_failed = 1;
			if (ph->on_failure == SUP_ON_FAILURE_STOP) {
				r->exit_status = 1;
				finish(r);
				return;
			}
		} else if (!ph->until &&
			   r->iteration + 1 < ph->max_iterations) {
			r->iteration++;
			phase_start(r);
			return;
		}
	}
	r->phase++;
	r->iteration = 0;
	if (r->phase < r->wf->nphases) {
		phase_start(r);
		return;
	}
	if (r->any_phase_failed)
		r->exit_status = 1;
	finish(r);
}

/* Record how the execution ended; the loop stops after this turn. */
static void finish(struct run *r)
{
	const char *status;
	int rc;

	if (r->finished)
		return;
	r->finished = 1;
	if (batch(r) < 0) {
		r->exit_status = r->stopping > 0 ? 128 + r->stopping : 1;
		return;
	}
	if (r->stopping > 0) {
		rc = wal_execution_cancel(r->w, r->exec_id);
		r->exit_status = 128 + r->stopping;
	} else if (r->exit_status || r->stopping < 0) {
		if (!r->exit_status)
			r->exit_status = 1;
		rc = wal_execution_fail(
			r->w, r->exec_id,
			"a phase failed (see the agents' errors)");
	} else {
		rc = wal_execution_complete(r->w, r->exec_id, NULL);
	}
	if (rc < 0)
		sup_log(SUP_ERROR,
			"cannot record the end of execution %" PRId64 ": %s",
			r->exec_id, wal_errmsg(r->w));
	status = r->stopping > 0 ? "cancelled"
		 : r->exit_status == 0 ? "completed"
				       : "failed";
	sup_log(SUP_INFO, "execution %" PRId64 " %s", r->exec_id, status);
	sup_mirror_execution(r->mirror, r->exec_id, r->wf->name, status);
}

/* Stop every agent: WHY is the signal that asked, or -1 for a failure. */
static void stop_all(struct run *r, int why)
{
	r->stopping = why;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];

		if (a->state == A_PENDING || a->state == A_BACKOFF) {
			evtimer_del(a->timer);
			a->state = A_CANCELLED;
			if (a->id && batch(r) == 0)
				wal_agent_cancel(r->w, a->id, "stopped", -1, 0);
		} else if (a->state == A_RUNNING) {
			stop_agent(a, why > 0 ? "the supervisor is stopping"
					      : "the execution failed");
		}
	}
	phase_check(r);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct run *r = arg;

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
		if (r->stopping > 0) {
			/* Asked twice: no more grace. */
			sup_log(SUP_WARN, "killing every agent now");
			for (size_t i = 0; i < r->wf->nagents; i++) {
				struct agent *a = &r->agents[i];

				if (a->state == A_STOPPING) {
					kill(a->worker, SIGKILL);
					if (a->pid > 0)
						kill(-a->pid, SIGKILL);
				}
			}
			break;
		}
		sup_log(SUP_INFO, "%s: stopping", strsignal((int)sig));
		stop_all(r, (int)sig);
		break;
	}
}

static void heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Nothing to do here: commit_turn() writes it after every turn. */
}

/* ---- recovery
 * -------------------------------------------------------------------
 *
 * An execution left running or pending belongs to a supervisor that died
 * (we hold the lock, so none runs). What is left of its processes is
 * stopped first - each recorded pid only while its start time still
 * matches (proc.h). Then the newest such execution is resumed when it is
 * this workflow's: its newest phase iteration goes on where it stopped,
 * its completed agents are not run again, the others restart with attempt
 * + 1 and SMITHERS_RESUME=1. Older ones, or all with --no-resume, are
 * marked interrupted.
 */

static int64_t col_int(const struct wal_row *row, const char *name)
{
	const char *v = wal_row_value(row, name);

	return v ? strtoll(v, NULL, 10) : 0;
}

/* Room in *V (of *CAP items of SIZE bytes) for item N: 0, or -1. */
static int grow(void *v, size_t *cap, size_t n, size_t size)
{
	void **p = v, *grown;
	size_t c = *cap ? 2 * *cap : 8;

	if (n < *cap)
		return 0;
	grown = realloc(*p, c * size);
	if (!grown)
		return -1;
	*p = grown;
	*cap = c;
	return 0;
}

struct incomplete {
	int64_t id;
	char *name;
	char *boot_id;
};

struct incompletes {
	struct incomplete *v;
	size_t n, cap;
};

static int add_incomplete(const struct wal_row *row, void *arg)
{
	struct incompletes *in = arg;
	const char *boot = wal_row_value(row, "boot_id");

	if (grow(&in->v, &in->cap, in->n, sizeof(*in->v)) < 0)
		return -1;
	in->v[in->n].id = col_int(row, "id");
	in->v[in->n].name = xasprintf("%s", wal_row_value(row, "name"));
	in->v[in->n].boot_id = boot ? xasprintf("%s", boot) : NULL;
	in->n++;
	return 0;
}

struct stale {
	pid_t *groups; /* signalled, to wait for */
	size_t n, cap;
};

/* Kill the group of PID if it is still the process that started at START
 * (proc.h); 1 when it was signalled, then waited for by wait_stale(). */
static int stale_kill(struct stale *st, pid_t pid, int64_t start)
{
	if (!sup_proc_kill_group(pid, start))
		return 0;
	if (grow(&st->groups, &st->cap, st->n, sizeof(*st->groups)) == 0)
		st->groups[st->n++] = pid;
	return 1;
}

static void kill_stale(struct stale *st, const char *what, const char *agent,
		       pid_t pid, int64_t start)
{
	if (stale_kill(st, pid, start))
		sup_log(SUP_WARN, "killed the %s of agent '%s' (group %ld), "
			"left by a supervisor that died",
			what, agent, (long)pid);
}

/* Wait for the groups ST signalled to be gone; free them. */
static void wait_stale(struct stale *st)
{
	for (size_t i = 0; i < st->n; i++)
		if (sup_proc_wait_group(st->groups[i], 5000) < 0)
			sup_log(SUP_WARN, "group %ld is still alive after "
				"SIGKILL", (long)st->groups[i]);
	free(st->groups);
}

static int stale_row(const struct wal_row *row, void *arg)
{
	const char *status = wal_row_value(row, "status");
	const char *name = wal_row_value(row, "name");

	if (!status || (strcmp(status, "running") &&
			strcmp(status, "restarting") &&
			strcmp(status, "pending")))
		return 0; /* ended: its processes were reaped */
	kill_stale(arg, "agent", name, (pid_t)col_int(row, "pid"),
		   col_int(row, "pid_start"));
	kill_stale(arg, "worker", name, (pid_t)col_int(row, "worker_pid"),
		   col_int(row, "worker_start"));
	return 0;
}

/* Stop what is left of the processes of execution E. */
static void stop_stale(struct run *r, const struct incomplete *e)
{
	struct stale st = {0};

	if (e->boot_id && *e->boot_id && strcmp(e->boot_id, r->boot_id))
		return; /* the machine restarted since: nothing is left */
	if (wal_agent_list(r->w, e->id, stale_row, &st) < 0)
		sup_log(SUP_WARN, "cannot list the agents of execution "
			"%" PRId64 ": %s", e->id, wal_errmsg(r->w));
	wait_stale(&st);
}

/*
 * Workers no row names: a supervisor that died between forking a worker
 * and committing its pid leaves one nobody knows of. It stops itself and
 * its agent when it sees its parent gone, unless it cannot run (stopped,
 * or wedged): then it is found by its command line, a smithers-worker
 * whose log is in this state dir (which is ours: we hold its lock, and
 * have started nothing yet).
 */
struct stray {
	pid_t pid;
	int64_t start;
	char *log;
};

struct strays {
	const char *logs; /* "<state dir>/logs/agents/" */
	struct stray *v;
	size_t n, cap;
};

static int find_stray(pid_t pid, const struct sup_proc_stat *st, void *arg)
{
	struct strays *s = arg;
	char cmd[8192];
	ssize_t n = sup_proc_cmdline(pid, cmd, sizeof(cmd) - 1);
	const char *end, *name;

	if (n <= 0 || pid == getpid())
		return 0;
	cmd[n] = '\0';
	end = cmd + n;
	name = strrchr(cmd, '/');
	if (strcmp(name ? name + 1 : cmd, "smithers-worker"))
		return 0;
	for (const char *a = cmd; a < end; a += strlen(a) + 1) {
		const char *v = a + strlen(a) + 1;

		if (strcmp(a, "--log") || v >= end ||
		    strncmp(v, s->logs, strlen(s->logs)))
			continue;
		if (grow(&s->v, &s->cap, s->n, sizeof(*s->v)) == 0)
			s->v[s->n++] = (struct stray){pid, st->start,
						      xasprintf("%s", v)};
		break;
	}
	return 0;
}

/* A child of a stray worker (its agent, leading a group of its own): killed
 * with its group, which goes on the list to wait for. */
struct stray_kill {
	pid_t worker;
	struct stale *st;
	int killed;
};

static int kill_stray_child(pid_t pid, const struct sup_proc_stat *st,
			    void *arg)
{
	struct stray_kill *k = arg;

	if (st->ppid == k->worker)
		k->killed += stale_kill(k->st, pid, st->start);
	return 0;
}

static void stop_strays(struct run *r)
{
	struct strays s = {0};
	struct stale st = {0};
	char *logs = xasprintf("%s/logs/agents/", r->state_dir);

	s.logs = logs;
	if (sup_proc_each(find_stray, &s) < 0)
		sup_log(SUP_WARN, "cannot read /proc: %s", strerror(errno));
	for (size_t i = 0; i < s.n; i++) {
		struct stray_kill k = {s.v[i].pid, &st, 0};

		/* The agent first: a worker whose agent dies by a signal
		 * ends itself by the same, and may be gone by now. */
		sup_proc_each(kill_stray_child, &k);
		k.killed += stale_kill(&st, s.v[i].pid, s.v[i].start);
		if (k.killed)
			sup_log(SUP_WARN, "killed worker %ld (log '%s') and "
				"its agent, left unrecorded by a supervisor "
				"that died",
				(long)s.v[i].pid, s.v[i].log);
		free(s.v[i].log);
	}
	wait_stale(&st);
	free(s.v);
	free(logs);
}

struct resume_agent {
	int64_t id;
	char *name, *status;
	int attempt;
};

struct resume_plan {
	int64_t phase_id;
	char *phase, *phase_status;
	int iteration;
	struct resume_agent *agents;
	size_t n, cap;
};

static int add_resume_row(const struct wal_row *row, void *arg)
{
	struct resume_plan *p = arg;
	struct resume_agent *a;

	if (!p->phase) {
		p->phase_id = col_int(row, "phase_id");
		p->phase = xasprintf("%s", wal_row_value(row, "phase"));
		p->phase_status =
			xasprintf("%s", wal_row_value(row, "phase_status"));
		p->iteration = (int)col_int(row, "iteration");
	}
	if (!wal_row_value(row, "agent_id"))
		return 0;
	if (grow(&p->agents, &p->cap, p->n, sizeof(*p->agents)) < 0)
		return -1;
	a = &p->agents[p->n++];
	a->id = col_int(row, "agent_id");
	a->name = xasprintf("%s", wal_row_value(row, "agent"));
	a->status = xasprintf("%s", wal_row_value(row, "status"));
	a->attempt = (int)col_int(row, "attempt");
	return 0;
}

static void free_resume_plan(struct resume_plan *p)
{
	for (size_t i = 0; i < p->n; i++) {
		free(p->agents[i].name);
		free(p->agents[i].status);
	}
	free(p->agents);
	free(p->phase);
	free(p->phase_status);
}

/* The newest row of agent NAME in the plan, or NULL. */
static const struct resume_agent *plan_agent(const struct resume_plan *p,
					     const char *name)
{
	const struct resume_agent *found = NULL;

	for (size_t i = 0; i < p->n; i++)
		if (!strcmp(p->agents[i].name, name))
			found = &p->agents[i];
	return found;
}

/*
 * Set the agents of the interrupted phase iteration of P up to go on, and
 * record the recovery as a transition of the key "smithers.recovery"
 * (trigger "recovery"). P->phase is the workflow's phase PHASE.
 */
static int resume_agents(struct run *r, const struct resume_plan *p,
			 size_t phase)
{
	char *resumed = xasprintf("%s", ""), *skipped = xasprintf("%s", "");
	char *value, *t;
	int nresumed = 0, nskipped = 0, rc = 0;

	r->phase = phase;
	r->iteration = p->iteration;
	r->phase_id = p->phase_id;
	if (strcmp(p->phase_status, "running") &&
	    wal_phase_resume(r->w, p->phase_id) < 0)
		rc = -1;
	for (size_t i = 0; i < r->wf->nagents; i++) {
		struct agent *a = &r->agents[i];
		const struct resume_agent *row = plan_agent(p, a->spec->name);
		char **list = &resumed;

		a->state = A_IDLE;
		if (a->spec->phase != phase)
			continue;
		agent_reset(a);
		if (row && !strcmp(row->status, "completed")) {
			a->id = row->id;
			a->state = A_DONE;
			list = &skipped;
			nskipped++;
		} else if (row) {
			a->id = row->id;
			a->attempt = row->attempt + 1;
			a->resume = 1;
			nresumed++;
			if (wal_agent_restart(r->w, a->id, a->attempt,
					      "interrupted: the supervisor "
					      "stopped",
					      -1, 0) < 0)
				rc = -1;
		} else {
			continue; /* never started: it starts as usual */
		}
		t = xasprintf("%s%s\"%s\"", *list, **list ? "," : "",
			      a->spec->name);
		free(*list);
		*list = t;
	}
	value = xasprintf("{\"execution\":%" PRId64 ",\"phase\":\"%s\","
			  "\"iteration\":%d,\"resumed\":[%s],"
			  "\"skipped\":[%s]}",
			  r->exec_id, p->phase, p->iteration, resumed,
			  skipped);
	if (wal_state_set(r->w, "smithers.recovery", value, "recovery", 0) < 0)
		rc = -1;
	sup_log(SUP_INFO,
		"resuming phase '%s' iteration %d: %d agents resumed, %d "
		"completed ones skipped",
		p->phase, p->iteration, nresumed, nskipped);
	free(value);
	free(resumed);
	free(skipped);
	return rc;
}

/*
 * Look for executions a dead supervisor left, stop their processes, and
 * either resume the newest (r->exec_id set; 1 with its phase's agents set
 * up, 2 when it had not begun a phase) or mark them interrupted (0: start
 * afresh). -1 when the run cannot start (r->exit_status says why).
 */
static int recover(struct run *r)
{
	struct incompletes in = {0};
	struct resume_plan plan = {0};
	const struct incomplete *last;
	size_t phase = 0;
	int ret = 0;

	if (wal_execution_find_incomplete(r->w, add_incomplete, &in) < 0) {
		sup_log(SUP_ERROR, "cannot look for interrupted executions: "
			"%s", wal_errmsg(r->w));
		r->exit_status = 1;
		ret = -1;
		goto out;
	}
	if (in.n == 0)
		goto out;
	for (size_t i = 0; i < in.n; i++)
		stop_stale(r, &in.v[i]);
	stop_strays(r);
	last = &in.v[in.n - 1];
	if (!r->opt->no_resume) {
		if (strcmp(last->name, r->wf->name)) {
			sup_log(SUP_ERROR,
				"execution %" PRId64 " of workflow '%s' was "
				"interrupted: run that workflow to resume "
				"it, or pass --no-resume to mark it "
				"interrupted and start '%s' afresh",
				last->id, last->name, r->wf->name);
			r->exit_status = 2;
			ret = -1;
			goto out;
		}
		if (wal_recovery_agents(r->w, last->id, add_resume_row,
					&plan) < 0) {
			sup_log(SUP_ERROR, "cannot read execution %" PRId64
				": %s", last->id, wal_errmsg(r->w));
			r->exit_status = 1;
			ret = -1;
			goto out;
		}
		while (plan.phase && phase < r->wf->nphases &&
		       strcmp(r->wf->phases[phase].name, plan.phase))
			phase++;
		if (plan.phase && phase == r->wf->nphases) {
			sup_log(SUP_ERROR,
				"execution %" PRId64 " was interrupted in "
				"phase '%s', which '%s' no longer has: pass "
				"--no-resume to mark it interrupted and start "
				"afresh",
				last->id, plan.phase, r->wf->path);
			r->exit_status = 2;
			ret = -1;
			goto out;
		}
	}
	if (batch(r) < 0) {
		r->exit_status = 1;
		ret = -1;
		goto out;
	}
	for (size_t i = 0; i + (r->opt->no_resume ? 0 : 1) < in.n; i++) {
		if (wal_execution_interrupt(r->w, in.v[i].id) < 0)
			sup_log(SUP_WARN, "%s", wal_errmsg(r->w));
		sup_log(SUP_WARN, "execution %" PRId64 " of '%s' marked "
			"interrupted: %s", in.v[i].id, in.v[i].name,
			r->opt->no_resume ? "--no-resume"
					  : "only the newest is resumed");
	}
	if (r->opt->no_resume)
		goto out;
	if (wal_execution_resume(r->w, last->id, r->boot_id) < 0) {
		sup_log(SUP_ERROR, "cannot resume execution %" PRId64 ": %s",
			last->id, wal_errmsg(r->w));
		r->exit_status = 1;
		ret = -1;
		goto out;
	}
	r->exec_id = last->id;
	sup_log(SUP_INFO, "resuming execution %" PRId64 " of '%s'",
		r->exec_id, last->name);
	if (plan.phase && resume_agents(r, &plan, phase) < 0)
		sup_log(SUP_WARN, "cannot record the recovery: %s",
			wal_errmsg(r->w));
	wal_failpoint("during-recovery");
	ret = plan.phase ? 1 : 2;
out:
	for (size_t i = 0; i < in.n; i++) {
		free(in.v[i].name);
		free(in.v[i].boot_id);
	}
	free(in.v);
	free_resume_plan(&plan);
	return ret;
}

/* Between two commits: the gc `smithers db gc --via-supervisor` asked for.
 * The agents wait meanwhile (VACUUM rewrites the whole database). */
static void serve_gc(struct run *r)
{
	int64_t t0 = mono_ms();
	int rc;

	r->gc_wanted = 0;
	sup_log(SUP_INFO, "gc asked for: running it");
	rc = sup_gc_serve(r->w, r->state_dir);
	if (rc < 0)
		sup_log(SUP_WARN, "gc request: %s",
			errno ? strerror(errno) : "unreadable");
	else if (rc > 0)
		sup_log(SUP_INFO, "gc done in %" PRId64 " ms", mono_ms() - t0);
}

/* ---- set-up and tear-down
 * ---------------------------------------------------------- */

static int listen_socket(struct run *r)
{
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
	r->listen_fd =
		socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (r->listen_fd < 0 ||
	    bind(r->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(r->listen_fd, 128) < 0) {
		sup_log(SUP_ERROR, "cannot listen on '%s': %s", r->sock_path,
			strerror(errno));
		return -1;
	}
	r->listen_ev = event_new(r->base, r->listen_fd, EV_READ | EV_PERSIST,
				 accept_cb, r);
	if (!r->listen_ev)
		return -1;
	event_add(r->listen_ev, NULL);
	return 0;
}

/*
 * What every agent of this run gets: our environment less SMITHERS_*, PATH
 * led by the directory of the smithers that started us (for `smithers
 * emit`), and the run's own SMITHERS_* variables.
 */
static void shared_environment(struct run *r)
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
	put_env(&r->env_base, &n, xasprintf("SMITHERS_FD=3"));
	put_env(&r->env_base, &n, xasprintf("SMITHERS_ACK_FD=4"));
	put_env(&r->env_base, &n, xasprintf("SMITHERS_DIR=%s", r->dir));
	put_env(&r->env_base, &n,
		xasprintf("SMITHERS_SOCKET=%s", r->sock_path));
	put_env(&r->env_base, &n,
		xasprintf("SMITHERS_EXECUTION_ID=%" PRId64, r->exec_id));
	r->nenv_base = n;
	free(bindir);
}

static char *config_json(const struct sup_workflow *wf)
{
	/* The workflow's shape, as a JSON summary kept on the execution. */
	char *s = xasprintf("{\"phases\":%zu,\"agents\":%zu,"
			    "\"max_parallel\":%d}",
			    wf->nphases, wf->nagents, wf->max_parallel);

	return s;
}

int sup_run(const struct sup_workflow *wf, const struct sup_options *opt)
{
	static const int sigs[] = {SIGCHLD, SIGHUP, SIGINT, SIGTERM};
	struct wal_options wopt = {.create = 1};
	struct run r = {.wf = wf, .opt = opt, .lock_fd = -1, .listen_fd = -1};
	struct timeval beat = tv_ms(WAKE_MS);
	char *log_path = NULL, *cfg = NULL, real[PATH_MAX], errbuf[256];
	pid_t holder = 0;
	long rotation_crash;
	int resumed;

	if (opt->verbose)
		sup_log_level(SUP_DEBUG);
	if (!realpath(opt->dir, real)) {
		sup_log(SUP_ERROR, "cannot use '%s': %s", opt->dir,
			strerror(errno));
		return 2;
	}
	r.dir = strdup(real);
	r.state_dir = xasprintf("%s/.smithers", r.dir);
	r.sock_path = xasprintf("%s/supervisor.sock", r.state_dir);
	r.gc_request = xasprintf("%s/gc.request", r.state_dir);
	r.exit_status = 0;

	if (wal_failpoint_setup() < 0)
		sup_log(SUP_WARN, "cannot set the failpoint up");
	rotation_crash = wal_failpoint_armed("during-log-rotation");
	if (rotation_crash > 0)
		snprintf(r.crash_rotation, sizeof(r.crash_rotation), "%ld",
			 rotation_crash);
	/* The store (and the state dir) first, then the lock inside it. */
	wopt.synchronous =
		opt->synchronous_normal || wf->synchronous == SUP_SYNC_NORMAL
			? WAL_SYNC_NORMAL
			: WAL_SYNC_FULL;
	r.lock_fd = wal_lock_acquire(r.dir, &holder);
	if (r.lock_fd < 0 && errno == ENOENT) {
		/* A new state dir: the store makes it. The connection stays
		 * open: closed, it would take the WAL and its index with it,
		 * and a reader running as root could make them again, owned
		 * by root for a moment (SQLite gives them to the database's
		 * owner just after), which this uid could not open. */
		if (wal_open(r.dir, &wopt, &r.w) < 0) {
			sup_log(SUP_ERROR, "%s", wal_errmsg(r.w));
			r.exit_status = 2;
			goto out;
		}
		r.lock_fd = wal_lock_acquire(r.dir, &holder);
	}
	if (r.lock_fd < 0) {
		if (errno == EWOULDBLOCK)
			sup_log(SUP_ERROR,
				"another supervisor (pid %ld) runs in '%s': "
				"it holds '%s/supervisor.lock'",
				(long)holder, r.dir, r.state_dir);
		else if (errno == EROFS || errno == EACCES)
			sup_log(SUP_ERROR,
				"cannot lock '%s': %s (a run writes its state "
				"there; 'smithers db' can still read it)",
				r.state_dir, strerror(errno));
		else
			sup_log(SUP_ERROR, "cannot lock '%s': %s", r.state_dir,
				strerror(errno));
		r.exit_status = errno == EWOULDBLOCK ? 3 : 2;
		goto out;
	}
	if (!r.w && wal_open(r.dir, &wopt, &r.w) < 0) {
		sup_log(SUP_ERROR, "%s", wal_errmsg(r.w));
		r.exit_status = 2;
		goto out;
	}
	/* Checkpoints run beside the loop, never inside a commit. */
	r.checkpointer = wal_checkpointer_start(r.dir, CHECKPOINT_MS, NULL, 0);
	if (r.checkpointer)
		wal_trim(r.w, WAL_TRIM_PAGES); /* automatic ones off */
	/* With FULL, the fdatasync of each commit moves to a thread too; acks
	 * wait for it (sync_cb), the next turn does not. */
	if (wopt.synchronous == WAL_SYNC_FULL) {
		r.syncer = wal_syncer_start(r.w);
		if (!r.syncer)
			sup_log(SUP_WARN, "%s; each commit syncs instead",
				wal_errmsg(r.w));
	}
	log_path = xasprintf("%s/supervisor.log", r.state_dir);
	if (sup_log_open(log_path) < 0)
		sup_log(SUP_WARN, "cannot open '%s': %s", log_path,
			strerror(errno));
	{
		char *logs = xasprintf("%s/logs", r.state_dir);
		char *agents = xasprintf("%s/logs/agents", r.state_dir);

		mkdir(logs, 0700);
		mkdir(agents, 0700);
		free(logs);
		free(agents);
	}
	if (access(opt->worker, X_OK) < 0) {
		sup_log(SUP_ERROR, "cannot run the worker '%s': %s",
			opt->worker, strerror(errno));
		r.exit_status = 2;
		goto out;
	}

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	r.base = event_base_new();
	r.agents = calloc(wf->nagents ? wf->nagents : 1, sizeof(*r.agents));
	if (!r.base || !r.agents) {
		sup_log(SUP_ERROR, "out of memory");
		r.exit_status = 2;
		goto out;
	}
	if (r.syncer) {
		r.sync_ev = event_new(r.base, wal_syncer_fd(r.syncer),
				      EV_READ | EV_PERSIST, sync_cb, &r);
		if (!r.sync_ev || event_add(r.sync_ev, NULL) < 0) {
			sup_log(SUP_ERROR, "out of memory");
			r.exit_status = 2;
			goto out;
		}
	}
	for (size_t i = 0; i < wf->nagents; i++) {
		struct agent *a = &r.agents[i];

		a->run = &r;
		a->spec = &wf->agents[i];
		a->index = i;
		a->ctl_fd = -1;
		a->timer = evtimer_new(r.base, agent_timer_cb, a);
		if (!a->timer) {
			r.exit_status = 2;
			goto out;
		}
	}
	for (size_t i = 0; i < sizeof(sigs) / sizeof(*sigs); i++) {
		r.sig_ev[i] = evsignal_new(r.base, sigs[i], signal_cb, &r);
		if (!r.sig_ev[i] || event_add(r.sig_ev[i], NULL) < 0) {
			sup_log(SUP_ERROR, "cannot handle signal %d", sigs[i]);
			r.exit_status = 2;
			goto out;
		}
	}
	r.heartbeat_ev = event_new(r.base, -1, EV_PERSIST, heartbeat_cb, &r);
	event_add(r.heartbeat_ev, &beat);
	if (listen_socket(&r) < 0) {
		r.exit_status = 2;
		goto out;
	}

	sup_boot_id(r.boot_id);
	resumed = recover(&r);
	if (resumed < 0)
		goto out;
	if (!resumed) {
		cfg = config_json(wf);
		r.exec_id = wal_execution_start(r.w, wf->name, wf->path, cfg);
		if (r.exec_id < 0 ||
		    wal_execution_boot(r.w, r.exec_id, r.boot_id) < 0) {
			sup_log(SUP_ERROR, "cannot record the execution: %s",
				wal_errmsg(r.w));
			r.exit_status = 1;
			r.exec_id = 0;
			goto out;
		}
		sup_log(SUP_INFO,
			"execution %" PRId64 " of '%s' (%s) started in '%s'",
			r.exec_id, wf->name, wf->path, r.dir);
	}
	/* Under the lock: a segment of ours is replaced by nobody else. */
	if (wf->shm_enabled)
		r.mirror = sup_mirror_open(r.state_dir, wf);
	sup_mirror_execution(r.mirror, r.exec_id, wf->name, "running");
	shared_environment(&r);
	r.log_dir =
		xasprintf("%s/logs/agents/%" PRId64, r.state_dir, r.exec_id);
	if (mkdir(r.log_dir, 0700) < 0 && errno != EEXIST)
		sup_log(SUP_WARN, "cannot create '%s': %s", r.log_dir,
			strerror(errno));
	r.last_heartbeat_ms = mono_ms();
	if (resumed == 1) {
		sup_mirror_phase(r.mirror, wf->phases[r.phase].name,
				 r.iteration);
		schedule(&r);
		phase_check(&r);
	} else if (wf->nphases == 0) {
		finish(&r);
	} else {
		phase_start(&r);
	}
	commit_turn(&r);

	/* The loop: a turn runs what is ready, then commits and acks. */
	while (!r.finished || r.running > 0) {
		if (event_base_loop(r.base, EVLOOP_ONCE) < 0) {
			sup_log(SUP_ERROR, "event loop failed");
			r.exit_status = 1;
			break;
		}
		commit_turn(&r);
		reap_streams(&r);
		if (r.gc_wanted && !r.in_batch)
			serve_gc(&r);
	}
	commit_turn(&r);
out:
	if (r.exit_status == 0 && r.stopping > 0)
		r.exit_status = 128 + r.stopping;
	while (r.streams)
		stream_free(r.streams);
	for (size_t i = 0; r.agents && i < wf->nagents; i++) {
		struct agent *a = &r.agents[i];

		if (a->ctl_ev)
			event_free(a->ctl_ev);
		if (a->ctl_fd >= 0)
			close(a->ctl_fd);
		if (a->timer)
			event_free(a->timer);
		free(a->why);
		free(a->fail_text);
		free(a->result_text);
		free(a->result_json);
		free(a->calls);
	}
	free(r.agents);
	for (size_t i = 0; i < sizeof(r.sig_ev) / sizeof(*r.sig_ev); i++)
		if (r.sig_ev[i])
			event_free(r.sig_ev[i]);
	if (r.heartbeat_ev)
		event_free(r.heartbeat_ev);
	if (r.sync_ev)
		event_free(r.sync_ev);
	if (r.listen_ev)
		event_free(r.listen_ev);
	if (r.listen_fd >= 0) {
		close(r.listen_fd);
		unlink(r.sock_path);
	}
	if (r.base)
		event_base_free(r.base);
	if (r.in_batch)
		wal_batch_commit(r.w);
	if (wal_syncer_stop(r.syncer, errbuf, sizeof(errbuf)) < 0) {
		sup_log(SUP_ERROR, "%s", errbuf);
		r.exit_status = 1;
	}
	wal_checkpointer_stop(r.checkpointer);
	if (r.db_lost) {
		char *to = xasprintf("%s/smithers.db.rescued", r.state_dir);

		if (wal_rescue(r.w, to) < 0)
			sup_log(SUP_ERROR, "%s", wal_errmsg(r.w));
		else
			sup_log(SUP_ERROR,
				"the database was lost: everything it held is "
				"in '%s'; move it to '%s/smithers.db' (with no "
				"supervisor running) to go on",
				to, r.state_dir);
		free(to);
	}
	wal_close(r.w);
	/* A clean exit: the segment goes (a crash leaves it for readers). */
	sup_mirror_close(r.mirror, 1);
	if (r.lock_fd >= 0)
		close(r.lock_fd);
	free_strv(r.env_base);
	free(r.log_dir);
	free(cfg);
	free(log_path);
	free(r.sock_path);
	free(r.gc_request);
	free(r.state_dir);
	free(r.dir);
	sup_log_close();
	return r.exit_status;
}
