/*
 * test_client.c - the client library agents link (worker/client.c,
 * smithers.h) against a supervisor played by this test: a thread that
 * reads real pipes or a Unix socket, decodes with the codec, records what
 * it got and answers with acks and errors as each test asks. Also drives
 * the real `smithers emit` program against it when the build has one.
 *
 * The main thread keeps SIGPIPE's default action: if the library let a
 * write to a closed pipe raise it, the test program would die.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "wal/wal.h"
#include "worker/proto.h"
#include "worker/smithers.h"

/* ---- the fake supervisor ---------------------------------------------- */

#define MAX_RECS 4096

/* A copy of a decoded message. */
struct rec {
	enum wrk_type type;
	uint64_t seq;
	int64_t agent_id, pid;
	uint64_t call, tokens_in, tokens_out;
	double confidence, cost;
	int has_confidence;
	char *token, *key, *json, *trigger, *category, *scope, *content,
		*source, *tool, *output, *summary, *status, *error, *name,
		*path, *kind, *level, *text;
	size_t output_len;
};

struct sup {
	int rfd, wfd;	/* up (read) and down (write); equal for a socket */
	int listen_fd;	/* >= 0: accept one connection first */
	int release[2]; /* hold: read nothing until a byte comes here */
	int hold;
	int no_ack;
	int ack_delay_ms;
	uint64_t refuse_seq; /* answer this seq with an error */
	int refuse_fatal;    /* ... and go away */
	const char *reason;
	int leave_after_hello; /* close everything once hello came */
	pthread_t thread;
	struct rec recs[MAX_RECS];
	int nrecs;
	char decode_error[256];
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void record(struct sup *sp, const struct wrk_msg *m)
{
	struct rec *r;

	if (sp->nrecs == MAX_RECS)
		return;
	r = &sp->recs[sp->nrecs++];
	memset(r, 0, sizeof(*r));
	r->type = m->type;
	r->seq = m->seq;
	r->agent_id = m->agent_id;
	r->pid = m->pid;
	r->call = m->call;
	r->tokens_in = m->tokens_in;
	r->tokens_out = m->tokens_out;
	r->confidence = m->confidence;
	r->has_confidence = m->has_confidence;
	r->cost = m->cost;
	r->token = dup_or_null(m->token);
	r->key = dup_or_null(m->key);
	r->json = dup_or_null(m->json);
	r->trigger = dup_or_null(m->trigger);
	r->category = dup_or_null(m->category);
	r->scope = dup_or_null(m->scope);
	r->content = dup_or_null(m->content);
	r->source = dup_or_null(m->source);
	r->tool = dup_or_null(m->tool);
	if (m->output) {
		r->output = malloc(m->output_len + 1);
		memcpy(r->output, m->output, m->output_len + 1);
	}
	r->output_len = m->output_len;
	r->summary = dup_or_null(m->summary);
	r->status = dup_or_null(m->status);
	r->error = dup_or_null(m->error);
	r->name = dup_or_null(m->name);
	r->path = dup_or_null(m->path);
	r->kind = dup_or_null(m->kind);
	r->level = dup_or_null(m->level);
	r->text = dup_or_null(m->text);
}

static void rec_free(struct rec *r)
{
	char **strs[] = {&r->token,    &r->key,	   &r->json,	&r->trigger,
			 &r->category, &r->scope,  &r->content, &r->source,
			 &r->tool,     &r->output, &r->summary, &r->status,
			 &r->error,    &r->name,   &r->path,	&r->kind,
			 &r->level,    &r->text};

	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		free(*strs[i]);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static void put(struct wrk_buf *b, enum wrk_type t, uint64_t seq,
		const char *reason, int fatal)
{
	struct wrk_msg m;

	memset(&m, 0, sizeof(m));
	m.type = t;
	m.seq = seq;
	m.reason = reason;
	m.fatal = fatal;
	assert_int_equal(wrk_encode(b, &m), 0);
}

static void *sup_main(void *arg)
{
	struct sup *sp = arg;
	struct wrk_decoder *d = wrk_decoder_new(0);
	struct wrk_buf out = {0};
	struct wrk_msg m;
	sigset_t set;
	char buf[65536], c;
	ssize_t n;
	int r, gone = 0;

	/* Our writes to a closed pipe fail with EPIPE instead. */
	sigemptyset(&set);
	sigaddset(&set, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (sp->listen_fd >= 0) {
		sp->rfd = accept4(sp->listen_fd, NULL, NULL, SOCK_CLOEXEC);
		sp->wfd = sp->rfd;
		if (sp->rfd < 0)
			goto out;
	}
	if (sp->hold)
		while (read(sp->release[0], &c, 1) < 0 && errno == EINTR)
			;
	while (!gone) {
		uint64_t ack = 0;

		n = read(sp->rfd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		wrk_decoder_feed(d, buf, (size_t)n);
		while ((r = wrk_decoder_next(d, &m)) == 1) {
			record(sp, &m);
			if (m.type == WRK_HELLO && sp->leave_after_hello) {
				gone = 1;
				break;
			}
			if (m.seq == sp->refuse_seq) {
				put(&out, WRK_ERROR, m.seq, sp->reason,
				    sp->refuse_fatal);
				if (sp->refuse_fatal) {
					gone = 1;
					break;
				}
			}
			ack = m.seq;
		}
		if (r < 0) {
			snprintf(sp->decode_error, sizeof(sp->decode_error),
				 "%s", wrk_decoder_errmsg(d));
			break;
		}
		if (ack && !sp->no_ack && !gone) {
			if (sp->ack_delay_ms)
				usleep((useconds_t)sp->ack_delay_ms * 1000);
			put(&out, WRK_ACK, ack, NULL, 0);
		}
		if (out.len && write_all(sp->wfd, out.data, out.len) < 0)
			break;
		wrk_buf_consume(&out, out.len);
	}
out:
	close(sp->rfd);
	if (sp->wfd != sp->rfd)
		close(sp->wfd);
	wrk_decoder_free(d);
	wrk_buf_release(&out);
	return NULL;
}

static void sup_start(struct sup *sp)
{
	assert_int_equal(pthread_create(&sp->thread, NULL, sup_main, sp), 0);
}

/* Wait for the supervisor to see the end of the stream; free its records. */
static void sup_join(struct sup *sp)
{
	assert_int_equal(pthread_join(sp->thread, NULL), 0);
	if (sp->hold) {
		close(sp->release[0]);
		close(sp->release[1]);
	}
}

static void sup_free(struct sup *sp)
{
	for (int i = 0; i < sp->nrecs; i++)
		rec_free(&sp->recs[i]);
	free(sp);
}

/*
 * A supervisor on a new pipe pair, named by SMITHERS_FD and SMITHERS_ACK_FD
 * for the client. The agent's ends are the client's to close.
 */
static struct sup *sup_pipes(void)
{
	struct sup *sp = calloc(1, sizeof(*sp));
	int up[2], down[2];
	char v[16];

	assert_non_null(sp);
	assert_int_equal(pipe2(up, O_CLOEXEC), 0);
	assert_int_equal(pipe2(down, O_CLOEXEC), 0);
	sp->rfd = up[0];
	sp->wfd = down[1];
	sp->listen_fd = -1;
	snprintf(v, sizeof(v), "%d", up[1]);
	setenv("SMITHERS_FD", v, 1);
	snprintf(v, sizeof(v), "%d", down[0]);
	setenv("SMITHERS_ACK_FD", v, 1);
	return sp;
}

static void clear_env(void)
{
	unsetenv("SMITHERS_FD");
	unsetenv("SMITHERS_ACK_FD");
	unsetenv("SMITHERS_SOCKET");
	unsetenv("SMITHERS_AGENT_ID");
	unsetenv("SMITHERS_TOKEN");
	unsetenv("SMITHERS_SEND_BUFFER");
	unsetenv("SMITHERS_DIR");
}

static int64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void rm_rf(const char *dir)
{
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
	(void)state;
	clear_env();
	return 0;
}

/* ---- tests ------------------------------------------------------------ */

static void test_open_without_supervisor(void **state)
{
	int fd;

	(void)state;
	errno = 0;
	assert_null(smithers_open());
	assert_int_equal(errno, ENOENT);
	assert_string_equal(smithers_strerror_last(),
			    "not running under a smithers supervisor "
			    "(SMITHERS_FD / SMITHERS_SOCKET unset)");
	errno = 0;
	assert_null(smithers_open_socket());
	assert_int_equal(errno, ENOENT);
	assert_non_null(strstr(smithers_strerror_last(), "SMITHERS_SOCKET"));

	/* Fds that are not open pipes are not trusted. */
	setenv("SMITHERS_FD", "987", 1);
	setenv("SMITHERS_ACK_FD", "986", 1);
	assert_null(smithers_open());
	assert_int_equal(errno, EBADF);
	assert_non_null(strstr(smithers_strerror_last(), "SMITHERS_FD=987"));

	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	assert_true(fd >= 0);
	char v[16];

	snprintf(v, sizeof(v), "%d", fd);
	setenv("SMITHERS_FD", v, 1);
	setenv("SMITHERS_ACK_FD", v, 1);
	assert_null(smithers_open());
	assert_int_equal(errno, EBADF);
	close(fd);

	/* A socket with nobody listening. */
	clear_env();
	setenv("SMITHERS_SOCKET", "/nonexistent/smithers.sock", 1);
	setenv("SMITHERS_AGENT_ID", "3", 1);
	setenv("SMITHERS_TOKEN", "t", 1);
	assert_null(smithers_open());
	assert_int_equal(errno, ENOENT);
	assert_non_null(
		strstr(smithers_strerror_last(),
		       "cannot connect to '/nonexistent/smithers.sock'"));
	setenv("SMITHERS_AGENT_ID", "x", 1);
	assert_null(smithers_open_socket());
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(smithers_strerror_last(), "SMITHERS_AGENT_ID"));
}

/* Every call reaches the supervisor as the message it names. */
static void test_every_message(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	int64_t call, call2;
	struct rec *r;

	(void)state;
	setenv("SMITHERS_AGENT_ID", "17", 1);
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	assert_int_equal(smithers_last_seq(s), 1); /* hello */
	assert_int_equal(
		smithers_state_set(s, "phase", "\"review\"", "scout-done"), 2);
	assert_int_equal(smithers_state_delete(s, "old", NULL), 3);
	assert_int_equal(smithers_memory_add(s, "fact", "project", "build",
					     "make -j2", 0.5, "me"),
			 4);
	assert_int_equal(
		smithers_memory_add(s, "fact", NULL, "k", "c", -1, NULL), 5);
	call = smithers_tool_start(s, "grep", "{\"q\":1}");
	assert_true(call > 0 && call < (int64_t)1 << 52);
	call2 = smithers_tool_start(s, "ls", NULL);
	assert_true(call2 > 0 && call2 != call);
	assert_int_equal(smithers_last_seq(s), 7);
	assert_int_equal(smithers_tool_complete(s, call, "a\0b", 3, "sum",
						"completed", NULL),
			 8);
	assert_int_equal(smithers_artifact_add(s, "report", "r.md", "md",
					       "the report", "{\"p\":2}"),
			 9);
	assert_int_equal(smithers_usage(s, 10, 20, 0.25), 10);
	assert_int_equal(smithers_log(s, "warn", "careful"), 11);
	assert_int_equal(smithers_result(s, "done", "[1]"), 12);
	assert_int_equal(smithers_fail(s, "oops"), 13);
	assert_int_equal(smithers_sync(s, 5000), 0);
	assert_int_equal(smithers_acked(s), 13);
	assert_int_equal(smithers_unsent(s), 0);

	/* Bad arguments fail alone, and the stream goes on. */
	errno = 0;
	assert_int_equal(smithers_state_set(s, NULL, "1", NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_non_null(strstr(smithers_errmsg(s), "'state.set'"));
	assert_int_equal(
		smithers_tool_complete(s, 0, NULL, 0, NULL, NULL, NULL), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(smithers_log(s, NULL, "after"), 14);
	smithers_close(s);
	sup_join(sp);

	assert_string_equal(sp->decode_error, "");
	assert_int_equal(sp->nrecs, 14);
	r = sp->recs;
	assert_int_equal(r[0].type, WRK_HELLO);
	assert_int_equal(r[0].agent_id, 17);
	assert_int_equal(r[0].pid, getpid());
	assert_int_equal(r[1].type, WRK_STATE_SET);
	assert_string_equal(r[1].key, "phase");
	assert_string_equal(r[1].json, "\"review\"");
	assert_string_equal(r[1].trigger, "scout-done");
	assert_int_equal(r[2].type, WRK_STATE_DELETE);
	assert_null(r[2].trigger);
	assert_int_equal(r[3].type, WRK_MEMORY_ADD);
	assert_string_equal(r[3].scope, "project");
	assert_int_equal(r[3].has_confidence, 1);
	assert_true(r[3].confidence == 0.5);
	assert_string_equal(r[3].source, "me");
	assert_int_equal(r[4].has_confidence, 0);
	assert_null(r[4].scope);
	assert_int_equal(r[5].type, WRK_TOOL_START);
	assert_int_equal(r[5].call, call);
	assert_string_equal(r[5].json, "{\"q\":1}");
	assert_int_equal(r[6].call, call2);
	assert_null(r[6].json);
	assert_int_equal(r[7].type, WRK_TOOL_COMPLETE);
	assert_int_equal(r[7].call, call);
	assert_int_equal(r[7].output_len, 3);
	assert_memory_equal(r[7].output, "a\0b", 3);
	assert_string_equal(r[7].status, "completed");
	assert_int_equal(r[8].type, WRK_ARTIFACT_ADD);
	assert_string_equal(r[8].kind, "md");
	assert_string_equal(r[8].json, "{\"p\":2}");
	assert_int_equal(r[9].type, WRK_USAGE);
	assert_int_equal(r[9].tokens_in, 10);
	assert_int_equal(r[9].tokens_out, 20);
	assert_true(r[9].cost == 0.25);
	assert_int_equal(r[10].type, WRK_LOG);
	assert_string_equal(r[10].level, "warn");
	assert_string_equal(r[10].text, "careful");
	assert_int_equal(r[11].type, WRK_RESULT);
	assert_string_equal(r[11].text, "done");
	assert_string_equal(r[11].json, "[1]");
	assert_int_equal(r[12].type, WRK_FAIL);
	assert_string_equal(r[12].error, "oops");
	assert_int_equal(r[13].seq, 14);
	sup_free(sp);
}

static void test_sync_waits_for_ack(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	int64_t t0;

	(void)state;
	sp->ack_delay_ms = 300;
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	assert_int_equal(smithers_state_set(s, "k", "1", NULL), 2);
	t0 = ms_now();
	assert_int_equal(smithers_sync(s, 10000), 0);
	assert_true(ms_now() - t0 >= 250);
	assert_true(smithers_acked(s) >= 2);
	/* Nothing new: returns at once, not after its 10 s timeout (the
	 * bound leaves room for a loaded machine). */
	t0 = ms_now();
	assert_int_equal(smithers_sync(s, 10000), 0);
	assert_true(ms_now() - t0 < 5000);
	smithers_close(s);
	sup_join(sp);
	sup_free(sp);
}

static void test_sync_timeout(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	int64_t t0;

	(void)state;
	sp->no_ack = 1;
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	assert_int_equal(smithers_state_set(s, "k", "1", NULL), 2);
	t0 = ms_now();
	errno = 0;
	assert_int_equal(smithers_sync(s, 200), -1);
	assert_int_equal(errno, ETIMEDOUT);
	assert_true(ms_now() - t0 >= 190);
	assert_non_null(strstr(smithers_errmsg(s), "no ack for seq 2"));
	assert_int_equal(smithers_acked(s), 0);
	errno = 0;
	assert_int_equal(smithers_sync(s, 0), -1);
	assert_int_equal(errno, ETIMEDOUT);
	smithers_close(s);
	sup_join(sp);
	sup_free(sp);
}

static void test_refused_message(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;

	(void)state;
	sp->refuse_seq = 3;
	sp->reason = "invalid JSON in 'value'";
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	assert_int_equal(smithers_state_set(s, "a", "1", NULL), 2);
	assert_int_equal(smithers_state_set(s, "b", "{", NULL), 3);
	assert_int_equal(smithers_state_set(s, "c", "3", NULL), 4);
	errno = 0;
	assert_int_equal(smithers_sync(s, 5000), -1);
	assert_int_equal(errno, EPROTO);
	assert_string_equal(smithers_errmsg(s),
			    "refused by the supervisor: invalid JSON in "
			    "'value' (seq 3)");
	/* Its neighbours were handled, and the stream goes on. */
	assert_int_equal(smithers_acked(s), 4);
	assert_int_equal(smithers_state_set(s, "d", "4", NULL), 5);
	assert_int_equal(smithers_sync(s, 5000), 0);
	smithers_close(s);
	sup_join(sp);
	sup_free(sp);
}

static void test_fatal_error(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	int64_t seq;

	(void)state;
	sp->refuse_seq = 2;
	sp->refuse_fatal = 1;
	sp->reason = "key of 300 bytes exceeds the limit";
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	/* The send reads what came back after writing: if the supervisor
	 * was quick, the refusal is there already and the send says so. */
	errno = 0;
	seq = smithers_state_set(s, "a", "1", NULL);
	assert_true(seq == 2 || (seq == -1 && errno == EPROTO));
	errno = 0;
	assert_int_equal(smithers_sync(s, 5000), -1);
	assert_int_equal(errno, EPROTO);
	assert_string_equal(smithers_errmsg(s),
			    "stopped by the supervisor: key of 300 bytes "
			    "exceeds the limit");
	/* The stream is over: sends fail, and say why. */
	errno = 0;
	assert_int_equal(smithers_state_set(s, "b", "2", NULL), -1);
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(smithers_errmsg(s), "key of 300 bytes"));
	smithers_close(s);
	sup_join(sp);
	sup_free(sp);
}

/* A supervisor that goes away: EPIPE, never a SIGPIPE. */
static void test_supervisor_gone(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	char big[4096];
	int i, rc = 0;

	(void)state;
	sp->leave_after_hello = 1;
	/* It leaves once the client is open: gone any sooner, the hello
	 * itself could meet the end of the stream. */
	assert_int_equal(pipe2(sp->release, O_CLOEXEC), 0);
	sp->hold = 1;
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	assert_int_equal(write(sp->release[1], "go", 1), 1);
	sup_join(sp);
	memset(big, 'x', sizeof(big) - 1);
	big[0] = '"';
	big[sizeof(big) - 2] = '"';
	big[sizeof(big) - 1] = '\0';
	for (i = 0; i < 100 && rc >= 0; i++)
		rc = (int)smithers_state_set(s, "k", big, NULL);
	assert_int_equal(rc, -1);
	assert_int_equal(errno, EPIPE);
	assert_string_equal(smithers_errmsg(s),
			    "the supervisor closed the stream");
	errno = 0;
	assert_int_equal(smithers_sync(s, 1000), -1);
	assert_int_equal(errno, EPIPE);
	smithers_close(s);
	sup_free(sp);
}

struct sender {
	struct smithers *s;
	int total;
	int done;	   /* sends returned */
	size_t max_unsent; /* after any send returned */
	int failed;
};

static void *sender_main(void *arg)
{
	struct sender *sd = arg;
	char key[32], json[128];

	memset(json, '7', 100);
	json[100] = '\0';
	for (int i = 0; i < sd->total; i++) {
		size_t u;

		snprintf(key, sizeof(key), "key-%05d", i);
		if (smithers_state_set(sd->s, key, json, NULL) < 0) {
			__atomic_store_n(&sd->failed, 1, __ATOMIC_SEQ_CST);
			break;
		}
		u = smithers_unsent(sd->s);
		if (u > __atomic_load_n(&sd->max_unsent, __ATOMIC_SEQ_CST))
			__atomic_store_n(&sd->max_unsent, u, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&sd->done, 1, __ATOMIC_SEQ_CST);
	}
	return NULL;
}

/*
 * A supervisor that does not read: sends go on without blocking until the
 * pipe and the send buffer (8 KiB here) are full, then block; they resume
 * when it reads, and nothing is lost or reordered.
 */
static void test_back_pressure(void **state)
{
	struct sup *sp = sup_pipes();
	struct sender sd = {0};
	pthread_t th;
	int last = -1, stable = 0, i;
	int up = atoi(getenv("SMITHERS_FD"));

	(void)state;
	assert_true(fcntl(up, F_SETPIPE_SZ, 4096) >= 4096);
	assert_int_equal(pipe2(sp->release, O_CLOEXEC), 0);
	sp->hold = 1;
	setenv("SMITHERS_SEND_BUFFER", "8192", 1);
	sup_start(sp);
	sd.s = smithers_open();
	assert_non_null(sd.s);
	sd.total = 2000;
	assert_int_equal(pthread_create(&th, NULL, sender_main, &sd), 0);

	/* Wait until the sender stops making progress. */
	for (i = 0; i < 200 && stable < 6; i++) {
		int now;

		usleep(50 * 1000);
		now = __atomic_load_n(&sd.done, __ATOMIC_SEQ_CST);
		stable = now == last ? stable + 1 : 0;
		last = now;
	}
	assert_int_equal(stable, 6);
	/* Blocked once the buffer (8 KiB) was full of frames of about 145
	 * bytes, besides what the pipe (4 KiB) took: no sooner, no later. */
	assert_true(last < sd.total);
	assert_true(last >= 8192 / 150);
	assert_true(last <= (4096 + 8192 + 4096) / 140);
	assert_true(__atomic_load_n(&sd.max_unsent, __ATOMIC_SEQ_CST) <= 8192);

	assert_int_equal(write(sp->release[1], "go", 1), 1);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(sd.failed, 0);
	assert_int_equal(sd.done, sd.total);
	assert_int_equal(smithers_sync(sd.s, 10000), 0);
	assert_int_equal(smithers_acked(sd.s), sd.total + 1);
	smithers_close(sd.s);
	sup_join(sp);

	assert_string_equal(sp->decode_error, "");
	assert_int_equal(sp->nrecs, sd.total + 1);
	for (i = 1; i <= sd.total; i++) {
		char key[32];

		snprintf(key, sizeof(key), "key-%05d", i - 1);
		assert_int_equal(sp->recs[i].seq, (uint64_t)i + 1);
		assert_string_equal(sp->recs[i].key, key);
	}
	sup_free(sp);
}

/* The setter: the smallest buffer is 4 KiB; a large one never blocks. */
static void test_send_buffer_setter(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s;
	char json[2048];
	int i;

	(void)state;
	assert_int_equal(pipe2(sp->release, O_CLOEXEC), 0);
	sp->hold = 1;
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	smithers_set_send_buffer(s, 4 * 1024 * 1024);
	memset(json, '1', sizeof(json) - 1);
	json[sizeof(json) - 1] = '\0';
	/* 1 MiB: more than the pipe holds, less than the buffer. */
	for (i = 0; i < 512; i++)
		assert_true(smithers_state_set(s, "k", json, NULL) > 0);
	assert_true(smithers_unsent(s) > 512 * 1024);
	assert_int_equal(write(sp->release[1], "go", 1), 1);
	assert_int_equal(smithers_sync(s, 10000), 0);
	assert_int_equal(smithers_unsent(s), 0);
	smithers_close(s);
	sup_join(sp);
	assert_int_equal(sp->nrecs, 513);
	sup_free(sp);
}

/* The pipe pair is one stream: a second handle cannot share it. */
static void test_pipes_in_use(void **state)
{
	struct sup *sp = sup_pipes();
	struct smithers *s, *s2;
	int up = atoi(getenv("SMITHERS_FD"));

	(void)state;
	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	/* Not passed on to programs the agent runs. */
	assert_true(fcntl(up, F_GETFD) & FD_CLOEXEC);
	errno = 0;
	s2 = smithers_open();
	assert_null(s2);
	assert_int_equal(errno, EBADF);
	assert_non_null(strstr(smithers_strerror_last(), "another handle"));
	smithers_close(s);
	sup_join(sp);
	/* Closed with the handle: not open pipes any more. */
	assert_null(smithers_open());
	assert_int_equal(errno, EBADF);
	sup_free(sp);
}

/* A Unix socket listening in a new temporary dir; its path in PATH. */
static int listen_socket(char *dir, size_t dirsz, char *path, size_t size)
{
	struct sockaddr_un sa;
	int fd;

	snprintf(dir, dirsz, "/tmp/smithers-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, size, "%s/sock", dir);
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 16), 0);
	return fd;
}

static struct sup *sup_socket(int listen_fd)
{
	struct sup *sp = calloc(1, sizeof(*sp));

	assert_non_null(sp);
	sp->listen_fd = listen_fd;
	sp->rfd = sp->wfd = -1;
	return sp;
}

/* Each socket handle is its own stream: its own seqs and acks. */
static void test_socket_streams(void **state)
{
	char dir[64], path[128];
	int lfd = listen_socket(dir, sizeof(dir), path, sizeof(path));
	struct sup *a = sup_socket(lfd), *b = sup_socket(lfd);
	struct smithers *s1, *s2;

	(void)state;
	setenv("SMITHERS_SOCKET", path, 1);
	setenv("SMITHERS_AGENT_ID", "9", 1);
	setenv("SMITHERS_TOKEN", "tok-9", 1);
	sup_start(a);
	sup_start(b);
	s1 = smithers_open(); /* no pipes: the socket */
	assert_non_null(s1);
	s2 = smithers_open_socket();
	assert_non_null(s2);
	assert_int_equal(smithers_state_set(s1, "x", "1", NULL), 2);
	assert_int_equal(smithers_state_set(s2, "y", "2", NULL), 2);
	assert_int_equal(smithers_state_set(s2, "z", "3", NULL), 3);
	assert_int_equal(smithers_sync(s1, 5000), 0);
	assert_int_equal(smithers_sync(s2, 5000), 0);
	assert_int_equal(smithers_acked(s1), 2);
	assert_int_equal(smithers_acked(s2), 3);
	smithers_close(s1);
	smithers_close(s2);
	sup_join(a);
	sup_join(b);
	for (struct sup *sp = a; sp; sp = sp == a ? b : NULL) {
		assert_string_equal(sp->decode_error, "");
		assert_int_equal(sp->recs[0].type, WRK_HELLO);
		assert_int_equal(sp->recs[0].agent_id, 9);
		assert_string_equal(sp->recs[0].token, "tok-9");
	}
	assert_int_equal(a->nrecs + b->nrecs, 5);
	sup_free(a);
	sup_free(b);
	close(lfd);
	rm_rf(dir);
}

static void test_state_get(void **state)
{
	struct wal_options opt;
	struct wal *w = NULL;
	struct sup *sp = sup_pipes();
	struct smithers *s;
	char dir[] = "/tmp/smithers-test-XXXXXX";
	char *v;

	(void)state;
	assert_non_null(mkdtemp(dir));
	memset(&opt, 0, sizeof(opt));
	opt.create = 1;
	assert_int_equal(wal_open(dir, &opt, &w), 0);
	assert_int_equal(wal_state_set(w, "phase", "\"review\"", NULL, 0), 0);
	wal_close(w);

	sup_start(sp);
	s = smithers_open();
	assert_non_null(s);
	errno = 0;
	assert_null(smithers_state_get(s, "phase"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(smithers_errmsg(s), "SMITHERS_DIR is not set");
	setenv("SMITHERS_DIR", dir, 1);
	v = smithers_state_get(s, "phase");
	assert_non_null(v);
	assert_string_equal(v, "\"review\"");
	free(v);
	errno = 0;
	assert_null(smithers_state_get(s, "nope"));
	assert_int_equal(errno, ENOENT);
	assert_string_equal(smithers_errmsg(s), "no state key 'nope'");
	smithers_close(s);
	sup_join(sp);
	sup_free(sp);
	rm_rf(dir);
}

/* ---- smithers emit ---------------------------------------------------- */

/* Run `smithers emit ARGS...`; its exit status, its output in OUT. */
static int run_emit(const char *prog, const char *outfile, char *out,
		    size_t size, ...)
{
	const char *argv[16];
	va_list ap;
	int n = 0, status, fd;
	ssize_t got;
	pid_t pid;

	argv[n++] = prog;
	argv[n++] = "emit";
	va_start(ap, size);
	while (n < 15 && (argv[n] = va_arg(ap, const char *)))
		n++;
	va_end(ap);
	argv[n] = NULL;
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		fd = open(outfile, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		execv(prog, (char *const *)argv);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	fd = open(outfile, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	got = read(fd, out, size - 1);
	out[got > 0 ? got : 0] = '\0';
	close(fd);
	assert_true(WIFEXITED(status));
	return WEXITSTATUS(status);
}

static void test_emit(void **state)
{
	const char *top = getenv("top_builddir");
	char prog[4096], dir[64], path[128], outfile[160], out[4096];
	struct sup *sp;
	int lfd;

	(void)state;
	snprintf(prog, sizeof(prog), "%s/tools/smithers", top ? top : ".");
	if (access(prog, X_OK) < 0)
		skip();
	lfd = listen_socket(dir, sizeof(dir), path, sizeof(path));
	snprintf(outfile, sizeof(outfile), "%s/out", dir);

	/* Not under a supervisor: 3. */
	assert_int_equal(
		run_emit(prog, outfile, out, sizeof(out), "log", "hi", NULL),
		3);
	assert_non_null(strstr(out, "not running under a smithers"));
	/* Usage: 2. */
	assert_int_equal(
		run_emit(prog, outfile, out, sizeof(out), "frob", NULL), 2);
	assert_non_null(strstr(out, "unknown message type 'frob'"));
	assert_int_equal(run_emit(prog, outfile, out, sizeof(out), "state.set",
				  "k", NULL),
			 2);

	setenv("SMITHERS_SOCKET", path, 1);
	setenv("SMITHERS_AGENT_ID", "5", 1);
	setenv("SMITHERS_TOKEN", "tok", 1);

	/* Written and acked: 0. */
	sp = sup_socket(lfd);
	sup_start(sp);
	assert_int_equal(run_emit(prog, outfile, out, sizeof(out), "state.set",
				  "phase", "\"review\"", "--trigger",
				  "scout-done", NULL),
			 0);
	sup_join(sp);
	assert_int_equal(sp->nrecs, 2);
	assert_int_equal(sp->recs[0].agent_id, 5);
	assert_string_equal(sp->recs[0].token, "tok");
	assert_int_equal(sp->recs[1].type, WRK_STATE_SET);
	assert_string_equal(sp->recs[1].key, "phase");
	assert_string_equal(sp->recs[1].json, "\"review\"");
	assert_string_equal(sp->recs[1].trigger, "scout-done");
	sup_free(sp);

	/* tool.start prints the call id. */
	sp = sup_socket(lfd);
	sup_start(sp);
	assert_int_equal(run_emit(prog, outfile, out, sizeof(out), "tool.start",
				  "grep", "{\"q\":\"x\"}", NULL),
			 0);
	sup_join(sp);
	assert_int_equal(strtoull(out, NULL, 10), sp->recs[1].call);
	assert_true(sp->recs[1].call > 0);
	assert_string_equal(sp->recs[1].tool, "grep");
	assert_string_equal(sp->recs[1].json, "{\"q\":\"x\"}");
	sup_free(sp);

	/* Refused by the supervisor: 1, with its reason. */
	sp = sup_socket(lfd);
	sp->refuse_seq = 2;
	sp->reason = "invalid JSON in 'value'";
	sup_start(sp);
	assert_int_equal(run_emit(prog, outfile, out, sizeof(out), "state.set",
				  "k", "{", NULL),
			 1);
	sup_join(sp);
	assert_non_null(strstr(out, "invalid JSON in 'value'"));
	sup_free(sp);

	/* tool.complete with an output file, memory.add with options. */
	sp = sup_socket(lfd);
	sup_start(sp);
	assert_int_equal(run_emit(prog, outfile, out, sizeof(out), "memory.add",
				  "fact", "build", "make -j2", "--scope",
				  "project", "--confidence", "0.5", NULL),
			 0);
	sup_join(sp);
	assert_string_equal(sp->recs[1].category, "fact");
	assert_string_equal(sp->recs[1].key, "build");
	assert_string_equal(sp->recs[1].content, "make -j2");
	assert_string_equal(sp->recs[1].scope, "project");
	assert_true(sp->recs[1].confidence == 0.5);
	sup_free(sp);

	close(lfd);
	rm_rf(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_open_without_supervisor, setup),
		cmocka_unit_test_setup(test_every_message, setup),
		cmocka_unit_test_setup(test_sync_waits_for_ack, setup),
		cmocka_unit_test_setup(test_sync_timeout, setup),
		cmocka_unit_test_setup(test_refused_message, setup),
		cmocka_unit_test_setup(test_fatal_error, setup),
		cmocka_unit_test_setup(test_supervisor_gone, setup),
		cmocka_unit_test_setup(test_back_pressure, setup),
		cmocka_unit_test_setup(test_send_buffer_setter, setup),
		cmocka_unit_test_setup(test_pipes_in_use, setup),
		cmocka_unit_test_setup(test_socket_streams, setup),
		cmocka_unit_test_setup(test_state_get, setup),
		cmocka_unit_test_setup(test_emit, setup),
	};

	return cmocka_run_group_tests_name("client", tests, NULL, NULL);
}
