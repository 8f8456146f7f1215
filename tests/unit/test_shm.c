/*
 * test_shm.c - the shared-memory segment (shm/shm.h) with real segments,
 * real processes and real faults: round trips, names and modes, a reader
 * that cannot write, stale segments, a reader noticing a new writer,
 * layout versions, a dead writer, and the seqlock under a writer that
 * never stops.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "shm/shm.h"
#include "tests/unit/testutil.h"

/* Reads the stress test verifies, across its two reader processes. */
#ifndef STRESS_READS
#define STRESS_READS 10000000L
#endif

/* Each test: a project dir with its .smithers state dir. */
struct fx {
	char *dir, *state;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	fx->dir = tu_mkdtemp();
	fx->state = tu_path("%s/.smithers", fx->dir);
	assert_int_equal(mkdir(fx->state, 0700), 0);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;

	tu_rmrf(fx->dir);
	free(fx->dir);
	free(fx->state);
	free(fx);
	return 0;
}

static struct shm_writer *writer(struct fx *fx,
				 const struct shm_writer_options *opt)
{
	char err[256];
	struct shm_writer *w = shm_writer_create(fx->state, opt, err,
						 sizeof(err));

	if (!w)
		fail_msg("shm_writer_create: %s", err);
	return w;
}

static struct shm_reader *reader(struct fx *fx)
{
	char err[256];
	struct shm_reader *r = shm_reader_open(fx->dir, err, sizeof(err));

	if (!r)
		fail_msg("shm_reader_open: %s", err);
	return r;
}

/* The segment's name, from shm.name (without the newline). */
static char *segment_name(struct fx *fx)
{
	char *path = tu_path("%s/shm.name", fx->state);
	size_t len;
	char *text = tu_read_file(path, &len);

	assert_non_null(text);
	assert_true(len > 1 && text[len - 1] == '\n');
	text[len - 1] = '\0';
	free(path);
	return text;
}

static int count_key(const char *key, const char *value, size_t len,
		     int truncated, void *arg)
{
	(void)key;
	(void)value;
	(void)len;
	(void)truncated;
	(*(int *)arg)++;
	return 0;
}

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 4,
					 .key_capacity = 8};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	struct shm_header_snap h;
	struct shm_agent a = {.id = 7, .pid = 1234, .attempt = 2}, b;
	struct shm_counters add1 = {.messages = 10,
				    .commits = 1,
				    .bytes = 400,
				    .rejected = 2,
				    .restarts = 1},
			    add2 = {.messages = 5, .commits = 1, .bytes = 100},
			    none = {0};
	char buf[SHM_VALUE_LEN + 1], big[SHM_VALUE_LEN + 10], longkey[200];
	uint64_t generation;
	int n = 0;

	shm_set_execution(w, 3, "survey", "running");
	shm_set_phase(w, "review", 2);
	shm_count(w, &add1, 1500);
	shm_count(w, &add2, -1);
	shm_read_header(r, &h);
	assert_int_equal(h.major, SHM_MAJOR);
	assert_int_equal(h.execution_id, 3);
	assert_string_equal(h.execution, "survey");
	assert_string_equal(h.status, "running");
	assert_string_equal(h.phase, "review");
	assert_int_equal(h.iteration, 2);
	assert_int_equal(h.messages, 15);
	assert_int_equal(h.commits, 2);
	assert_int_equal(h.bytes, 500);
	assert_int_equal(h.rejected, 2);
	assert_int_equal(h.restarts, 1);
	assert_int_equal(h.last_commit_us, 1500);
	/* Nothing to count: the header is left alone. */
	generation = h.generation;
	shm_count(w, &none, -1);
	shm_read_header(r, &h);
	assert_int_equal(h.generation, generation);
	assert_int_equal(h.messages, 15);
	assert_int_equal(h.agent_capacity, 4);
	assert_int_equal(h.key_capacity, 8);
	assert_int_equal(h.writer_pid, getpid());
	assert_true(h.generation > 0);

	/* Agents. */
	snprintf(a.name, sizeof(a.name), "scout");
	snprintf(a.last_tool, sizeof(a.last_tool), "grep");
	assert_int_equal(shm_agent_put(w, 2, &a), 0);
	assert_int_equal(shm_agent_put(w, 4, &a), -1);
	assert_int_equal(shm_read_agent(r, 2, &b), 1);
	assert_int_equal(b.id, 7);
	assert_int_equal(b.pid, 1234);
	assert_string_equal(b.name, "scout");
	assert_string_equal(b.last_tool, "grep");
	assert_int_equal(shm_read_agent(r, 0, &b), 0);
	assert_int_equal(shm_read_agent(r, 4, &b), -1);
	shm_read_header(r, &h);
	assert_int_equal(h.agents_used, 1);

	/* Keys: set, overwrite, delete, set again. */
	assert_int_equal(shm_key_set(w, "plan", "{\"step\":1}", 10), 1);
	assert_int_equal(shm_read_key(r, "plan", buf, sizeof(buf)), 10);
	assert_string_equal(buf, "{\"step\":1}");
	assert_int_equal(shm_key_set(w, "plan", "2", 1), 1);
	assert_int_equal(shm_read_key(r, "plan", buf, sizeof(buf)), 1);
	assert_string_equal(buf, "2");
	shm_key_delete(w, "plan");
	assert_int_equal(shm_read_key(r, "plan", buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(shm_key_set(w, "plan", "[3]", 3), 1);
	assert_int_equal(shm_read_key(r, "plan", buf, sizeof(buf)), 3);
	/* Too small a buffer, too long a value, too long a key. */
	assert_int_equal(shm_read_key(r, "plan", buf, 3), -1);
	assert_int_equal(errno, ENOSPC);
	memset(big, '1', sizeof(big));
	assert_int_equal(shm_key_set(w, "big", big, sizeof(big)), 1);
	assert_int_equal(shm_read_key(r, "big", buf, sizeof(buf)), -1);
	assert_int_equal(errno, E2BIG);
	memset(longkey, 'k', sizeof(longkey) - 1);
	longkey[sizeof(longkey) - 1] = '\0';
	assert_int_equal(shm_key_set(w, longkey, "1", 1), 0);
	assert_int_equal(shm_read_key(r, longkey, buf, sizeof(buf)), -1);
	assert_int_equal(errno, ENOENT);
	/* Fill the table: 8 slots, "plan" and "big" in two. */
	for (int i = 0; i < 6; i++) {
		char key[16];

		snprintf(key, sizeof(key), "k%d", i);
		assert_int_equal(shm_key_set(w, key, "1", 1), 1);
	}
	assert_int_equal(shm_key_set(w, "one-too-many", "1", 1), 0);
	shm_read_header(r, &h);
	assert_int_equal(h.keys_used, 8);
	assert_int_equal(h.keys_overflow, 1);
	assert_int_equal(shm_read_keys(r, count_key, &n), 0);
	assert_int_equal(n, 8);
	/* A deleted key's slot takes a new key. */
	shm_key_delete(w, "k3");
	assert_int_equal(shm_key_set(w, "one-too-many", "5", 1), 1);
	assert_int_equal(shm_read_key(r, "one-too-many", buf, sizeof(buf)), 1);
	assert_int_equal(shm_read_key(r, "k5", buf, sizeof(buf)), 1);

	shm_reader_close(r);
	shm_reader_close(NULL);
	shm_writer_close(w, 1);
	shm_writer_close(NULL, 1);
}

static void test_globs(void **state)
{
	struct fx *fx = *state;
	const char *const globs[] = {"review.*", "plan", NULL};
	struct shm_writer_options opt = {.keys = globs};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	char buf[64];

	assert_int_equal(shm_key_set(w, "review.ok", "true", 4), 1);
	assert_int_equal(shm_key_set(w, "plan", "1", 1), 1);
	assert_int_equal(shm_key_set(w, "other", "1", 1), 0);
	assert_int_equal(shm_read_key(r, "review.ok", buf, sizeof(buf)), 4);
	assert_int_equal(shm_read_key(r, "other", buf, sizeof(buf)), -1);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* The name comes from the state dir's device and inode, shm.name says
 * it, the mode is 0600 unless asked, and a clean close removes both. */
static void test_name_and_mode(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.mode = 0640};
	struct shm_writer *w = writer(fx, NULL);
	struct stat st, seg;
	char want[96], *name, *dev;

	assert_int_equal(stat(fx->state, &st), 0);
	snprintf(want, sizeof(want), "/smithers-%llx-%llx",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
	name = segment_name(fx);
	assert_string_equal(name, want);
	dev = tu_path("/dev/shm%s", name);
	assert_int_equal(stat(dev, &seg), 0);
	assert_int_equal(seg.st_mode & 0777, 0600);
	shm_writer_close(w, 1);
	assert_int_equal(stat(dev, &seg), -1);
	free(name);
	name = tu_path("%s/shm.name", fx->state);
	assert_int_equal(access(name, F_OK), -1);

	w = writer(fx, &opt);
	assert_int_equal(stat(dev, &seg), 0);
	assert_int_equal(seg.st_mode & 0777, 0640);
	shm_writer_close(w, 1);
	free(name);
	free(dev);
}

/* A reader maps the segment read-only: a write through it faults. */
static void test_reader_cannot_write(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	int st;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct shm_reader *r = shm_reader_open(fx->dir, NULL, 0);
		volatile char *p;

		if (!r)
			_exit(2);
		/* cmocka catches SIGSEGV in tests; this child must die of it. */
		signal(SIGSEGV, SIG_DFL);
		p = (volatile char *)shm_reader_base(r);
		p[100] = 'x';
		_exit(0); /* not reached */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSEGV);
	shm_writer_close(w, 1);
}

/* What a crashed writer left is replaced by the next one. */
static void test_stale_replaced(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	struct shm_reader *r;
	struct shm_header_snap h;

	shm_set_execution(w, 1, "old", "running");
	shm_writer_close(w, 0); /* as a crash leaves it */
	r = reader(fx);
	shm_read_header(r, &h);
	assert_string_equal(h.execution, "old");
	shm_reader_close(r);

	w = writer(fx, NULL);
	r = reader(fx);
	shm_read_header(r, &h);
	assert_string_equal(h.execution, "");
	assert_int_equal(h.execution_id, 0);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* A read-write mapping of the segment, for the tests that forge one. */
static unsigned char *map_rw(struct fx *fx, size_t *size)
{
	char *name = segment_name(fx);
	int fd = shm_open(name, O_RDWR, 0);
	struct stat st;
	unsigned char *p;

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &st), 0);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED,
		 fd, 0);
	assert_true(p != MAP_FAILED);
	close(fd);
	free(name);
	*size = (size_t)st.st_size;
	return p;
}

/*
 * A reader tells when a writer started after it replaced its segment (a
 * supervisor resumed on the same state dir), and when the segment is
 * gone; either way it keeps reading the old one until it opens again.
 */
static void test_reader_changed(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	struct shm_reader *r = reader(fx), *again;
	struct shm_header_snap h;
	unsigned char *p;
	uint64_t start;
	size_t size;

	shm_set_execution(w, 1, "first", "running");
	assert_int_equal(shm_reader_changed(r), SHM_SAME);
	/* The writer dies: its segment stays, the same one. */
	shm_writer_close(w, 0);
	assert_int_equal(shm_reader_changed(r), SHM_SAME);

	/* A new writer on the same state dir, under the same name. */
	w = writer(fx, NULL);
	shm_set_execution(w, 1, "second", "running");
	assert_int_equal(shm_reader_changed(r), SHM_REPLACED);
	assert_int_equal(shm_reader_changed(r), SHM_REPLACED);
	shm_read_header(r, &h);
	assert_string_equal(h.execution, "first");
	again = reader(fx);
	assert_int_equal(shm_reader_changed(again), SHM_SAME);
	shm_read_header(again, &h);
	assert_string_equal(h.execution, "second");

	/* Same inode, another writer (its start time): another segment. */
	p = map_rw(fx, &size);
	memcpy(&start, p + 64, sizeof(start));
	start++;
	memcpy(p + 64, &start, sizeof(start));
	assert_int_equal(shm_reader_changed(again), SHM_REPLACED);
	start--;
	memcpy(p + 64, &start, sizeof(start));
	assert_int_equal(shm_reader_changed(again), SHM_SAME);
	munmap(p, size);

	/* A clean exit removes it: gone, the last values still there. */
	shm_writer_close(w, 1);
	assert_int_equal(shm_reader_changed(r), SHM_GONE);
	assert_int_equal(shm_reader_changed(again), SHM_GONE);
	shm_read_header(again, &h);
	assert_string_equal(h.execution, "second");
	/* And so is a removed state dir. */
	tu_rmrf(fx->state);
	assert_int_equal(shm_reader_changed(again), SHM_GONE);
	shm_reader_close(again);
	shm_reader_close(r);
}

/* Header fields a forger needs (their offsets are _Static_assert'ed in
 * shm.c). */
#define OFF_MAJOR	4
#define OFF_MINOR	6
#define OFF_HEADER_SIZE 8
#define OFF_AGENT_SLOT	12
#define OFF_AGENT_CAP	16
#define OFF_KEY_SLOT	20
#define OFF_KEY_CAP	24
#define OFF_AGENTS	32
#define OFF_KEYS	40
#define OFF_TOTAL	48

static uint32_t get32(const unsigned char *p, size_t off)
{
	uint32_t v;

	memcpy(&v, p + off, 4);
	return v;
}

static uint64_t get64(const unsigned char *p, size_t off)
{
	uint64_t v;

	memcpy(&v, p + off, 8);
	return v;
}

static void set16(unsigned char *p, size_t off, uint16_t v)
{
	memcpy(p + off, &v, 2);
}

static void set32(unsigned char *p, size_t off, uint32_t v)
{
	memcpy(p + off, &v, 4);
}

static void set64(unsigned char *p, size_t off, uint64_t v)
{
	memcpy(p + off, &v, 8);
}

/* Another major version is refused, with both versions named. */
static void test_other_major_refused(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	char err[256] = "";
	size_t size;
	unsigned char *p = map_rw(fx, &size);

	set16(p, OFF_MAJOR, SHM_MAJOR + 1);
	set16(p, OFF_MINOR, 3);
	errno = 0;
	assert_null(shm_reader_open(fx->dir, err, sizeof(err)));
	assert_int_equal(errno, EPROTO);
	assert_non_null(strstr(err, "layout version 2.3"));
	assert_non_null(strstr(err, "reads version 1.x"));
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* Version 1.1's fields: the agent's cache tokens, cost and running tool
 * call, and the execution's totals in the header, writer to reader. */
static void test_usage_round_trip(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	struct shm_usage u = {.tokens_in = 1200,
			      .tokens_out = 300,
			      .cache_read = 45000,
			      .cache_write = 7000,
			      .cost_micro_usd = 431200};
	struct shm_agent a = {.id = 5,
			      .tokens_in = 1200,
			      .tokens_out = 300,
			      .cache_read = 45000,
			      .cache_write = 7000,
			      .cost_micro_usd = 431200,
			      .running_since_ms = 1700000000123,
			      .running_calls = 2},
			 b;
	struct shm_header_snap h;
	uint64_t generation;

	shm_read_header(r, &h);
	assert_int_equal(h.minor, SHM_MINOR);
	assert_int_equal(h.cost_micro_usd, 0);
	generation = h.generation;
	shm_set_usage(w, &u);
	shm_read_header(r, &h);
	assert_true(h.generation > generation);
	assert_int_equal(h.tokens_in, 1200);
	assert_int_equal(h.tokens_out, 300);
	assert_int_equal(h.cache_read, 45000);
	assert_int_equal(h.cache_write, 7000);
	assert_int_equal(h.cost_micro_usd, 431200);

	snprintf(a.name, sizeof(a.name), "coder");
	snprintf(a.running_tool, sizeof(a.running_tool), "Bash");
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_string_equal(b.name, "coder");
	assert_int_equal(b.tokens_in, 1200);
	assert_int_equal(b.tokens_out, 300);
	assert_int_equal(b.cache_read, 45000);
	assert_int_equal(b.cache_write, 7000);
	assert_int_equal(b.cost_micro_usd, 431200);
	assert_int_equal(b.running_since_ms, 1700000000123);
	assert_int_equal(b.running_calls, 2);
	assert_string_equal(b.running_tool, "Bash");
	/* The call ended: nothing runs. */
	a.running_calls = 0;
	a.running_since_ms = 0;
	a.running_tool[0] = '\0';
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_int_equal(b.running_calls, 0);
	assert_string_equal(b.running_tool, "");
	assert_int_equal(b.cost_micro_usd, 431200);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* Version 1.2's fields: each agent's kind, reasoning tokens and whether
 * its cost is known, and the execution's in the header. */
static void test_kind_round_trip(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	struct shm_usage u = {.tokens_out = 500,
			      .reasoning = 120,
			      .cost_known = 0};
	struct shm_agent a = {.id = 7, .tokens_out = 500, .reasoning = 120},
			 b;
	struct shm_header_snap h;

	snprintf(a.name, sizeof(a.name), "planner");
	snprintf(a.kind, sizeof(a.kind), "codex");
	shm_set_usage(w, &u);
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, SHM_MINOR);
	assert_int_equal(h.reasoning, 120);
	assert_int_equal(h.cost_known, 0);
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_string_equal(b.kind, "codex");
	assert_int_equal(b.reasoning, 120);
	assert_int_equal(b.cost_known, 0);

	/* A cost reported, be it 0. */
	u.cost_known = 1;
	shm_set_usage(w, &u);
	a.cost_known = 1;
	snprintf(a.kind, sizeof(a.kind), "claude");
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	shm_read_header(r, &h);
	assert_int_equal(h.cost_known, 1);
	assert_int_equal(h.cost_micro_usd, 0);
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_string_equal(b.kind, "claude");
	assert_int_equal(b.cost_known, 1);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* Version 1.3's fields: what an agent's process tree uses, -1 unknown. */
static void test_resources_round_trip(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	struct shm_agent a = {.id = 9,
			      .mem_peak = 1288490188LL,
			      .cpu_usec = 61500000},
			 b;
	struct shm_header_snap h;

	snprintf(a.name, sizeof(a.name), "tree");
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, SHM_MINOR);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_int_equal(b.mem_peak, 1288490188LL);
	assert_int_equal(b.cpu_usec, 61500000);
	/* Unknown again: no cgroup for the next attempt. */
	a.mem_peak = a.cpu_usec = -1;
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_int_equal(b.mem_peak, -1);
	assert_int_equal(b.cpu_usec, -1);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* Version 1.4's fields: the shipping to a fleet, off until told. */
static void test_fleet_round_trip(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_reader *r = reader(fx);
	struct shm_header_snap h;

	shm_read_header(r, &h);
	assert_int_equal(h.fleet, SHM_FLEET_OFF);
	assert_int_equal(h.fleet_unshipped, 0);
	shm_set_fleet(w, SHM_FLEET_FAILING, 1234, 1700000000123LL);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, 4);
	assert_int_equal(h.fleet, SHM_FLEET_FAILING);
	assert_int_equal(h.fleet_unshipped, 1234);
	assert_int_equal(h.fleet_oldest_ms, 1700000000123LL);
	shm_set_fleet(w, SHM_FLEET_SHIPPING, 0, 0);
	shm_read_header(r, &h);
	assert_int_equal(h.fleet, SHM_FLEET_SHIPPING);
	assert_int_equal(h.fleet_unshipped, 0);
	assert_int_equal(h.fleet_oldest_ms, 0);
	/* Off says nothing of rows. */
	shm_set_fleet(w, SHM_FLEET_OFF, 7, 8);
	shm_read_header(r, &h);
	assert_int_equal(h.fleet, SHM_FLEET_OFF);
	assert_int_equal(h.fleet_unshipped, 0);
	assert_int_equal(h.fleet_oldest_ms, 0);
	shm_reader_close(r);
	shm_writer_close(w, 1);
}

/* A segment of minor 3 has no 1.4 fields: a reader says fleet off, and
 * no rows, whatever the bytes hold. */
static void test_minor_3_read(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_agent a = {.id = 4, .mem_peak = 200, .cpu_usec = 300}, b;
	struct shm_usage u = {.tokens_in = 5, .cost_known = 1};
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *p;
	size_t size;

	snprintf(a.name, sizeof(a.name), "one-three");
	shm_set_usage(w, &u);
	shm_set_fleet(w, SHM_FLEET_SHIPPING, 99, 12345);
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	p = map_rw(fx, &size);
	set16(p, OFF_MINOR, 3);
	r = reader(fx);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, 3);
	assert_int_equal(h.tokens_in, 5);
	assert_int_equal(h.cost_known, 1);
	assert_int_equal(h.fleet, SHM_FLEET_OFF);
	assert_int_equal(h.fleet_unshipped, 0);
	assert_int_equal(h.fleet_oldest_ms, 0);
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_int_equal(b.mem_peak, 200);
	assert_int_equal(b.cpu_usec, 300);
	shm_reader_close(r);
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* A segment of minor 2 has the 1.2 fields and not the 1.3 ones: a reader
 * gives -1 (unknown) for those, whatever the bytes hold. */
static void test_minor_2_read(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_agent a = {.id = 3,
			      .reasoning = 8,
			      .cost_known = 1,
			      .mem_peak = 200,
			      .cpu_usec = 300},
			 b;
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *p;
	size_t size;

	snprintf(a.name, sizeof(a.name), "one-two");
	snprintf(a.kind, sizeof(a.kind), "codex");
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	p = map_rw(fx, &size);
	set16(p, OFF_MINOR, 2);
	r = reader(fx);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, 2);
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_string_equal(b.name, "one-two");
	assert_string_equal(b.kind, "codex");
	assert_int_equal(b.reasoning, 8);
	assert_int_equal(b.cost_known, 1);
	assert_int_equal(b.mem_peak, -1);
	assert_int_equal(b.cpu_usec, -1);
	shm_reader_close(r);
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* A segment of minor 1 has the 1.1 fields and not the 1.2 ones: a reader
 * gives "" and 0 for those, whatever the bytes hold. */
static void test_minor_1_read(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_usage u = {.tokens_in = 5,
			      .cost_micro_usd = 99,
			      .reasoning = 4,
			      .cost_known = 1};
	struct shm_agent a = {.id = 3,
			      .tokens_in = 10,
			      .cache_read = 30,
			      .cost_micro_usd = 40,
			      .reasoning = 8,
			      .cost_known = 1},
			 b;
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *p;
	size_t size;

	snprintf(a.name, sizeof(a.name), "one-one");
	snprintf(a.kind, sizeof(a.kind), "codex");
	shm_set_usage(w, &u);
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	p = map_rw(fx, &size);
	set16(p, OFF_MINOR, 1);
	r = reader(fx);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, 1);
	assert_int_equal(h.tokens_in, 5);
	assert_int_equal(h.cost_micro_usd, 99);
	assert_int_equal(h.reasoning, 0);
	assert_int_equal(h.cost_known, 0);
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_string_equal(b.name, "one-one");
	assert_int_equal(b.cache_read, 30);
	assert_int_equal(b.cost_micro_usd, 40);
	assert_string_equal(b.kind, "");
	assert_int_equal(b.reasoning, 0);
	assert_int_equal(b.cost_known, 0);
	shm_reader_close(r);
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* A segment of minor 0 has no 1.1 fields: whatever its bytes hold past
 * the 1.0 header and slots, a reader gives 0 for them, and the rest as
 * written. */
static void test_older_minor_read(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_usage u = {.tokens_in = 1, .cost_micro_usd = 99};
	struct shm_agent a = {.id = 3,
			      .tokens_in = 10,
			      .tokens_out = 20,
			      .cache_read = 30,
			      .cost_micro_usd = 40,
			      .running_calls = 1},
			 b;
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *p;
	size_t size;

	snprintf(a.name, sizeof(a.name), "old");
	snprintf(a.last_tool, sizeof(a.last_tool), "grep");
	snprintf(a.running_tool, sizeof(a.running_tool), "Bash");
	shm_set_execution(w, 4, "past", "running");
	shm_set_usage(w, &u);
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	p = map_rw(fx, &size);
	set16(p, OFF_MINOR, 0);
	r = reader(fx);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, 0);
	assert_string_equal(h.execution, "past");
	assert_int_equal(h.tokens_in, 0);
	assert_int_equal(h.cost_micro_usd, 0);
	memset(&b, 0x55, sizeof(b));
	assert_int_equal(shm_read_agent(r, 0, &b), 1);
	assert_string_equal(b.name, "old");
	assert_string_equal(b.last_tool, "grep");
	assert_int_equal(b.tokens_in, 10);
	assert_int_equal(b.tokens_out, 20);
	assert_int_equal(b.cache_read, 0);
	assert_int_equal(b.cost_micro_usd, 0);
	assert_int_equal(b.running_calls, 0);
	assert_string_equal(b.running_tool, "");
	assert_int_equal(b.mem_peak, -1);
	assert_int_equal(b.cpu_usec, -1);
	shm_reader_close(r);
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* A newer minor version may grow the header and the slots: a reader of
 * this version follows the sizes and offsets the header gives. */
static void test_newer_minor_read(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 3,
					 .key_capacity = 5};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_agent a = {.id = 42, .pid = 99}, b;
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *old, *p;
	size_t size, grow = 64, nsize;
	uint32_t hsize, aslot, kslot, acap, kcap;
	uint64_t aoff, koff;
	char buf[64], *name;
	int fd;

	snprintf(a.name, sizeof(a.name), "newer");
	shm_set_execution(w, 9, "future", "running");
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	assert_int_equal(shm_key_set(w, "plan", "[1,2]", 5), 1);
	old = map_rw(fx, &size);
	hsize = get32(old, OFF_HEADER_SIZE);
	aslot = get32(old, OFF_AGENT_SLOT);
	acap = get32(old, OFF_AGENT_CAP);
	kslot = get32(old, OFF_KEY_SLOT);
	kcap = get32(old, OFF_KEY_CAP);
	aoff = get64(old, OFF_AGENTS);
	koff = get64(old, OFF_KEYS);

	/* The same content, every part GROW bytes larger. */
	nsize = hsize + grow + (size_t)acap * (aslot + grow) +
		(size_t)kcap * (kslot + grow);
	p = calloc(1, nsize);
	memcpy(p, old, hsize);
	for (uint32_t i = 0; i < acap; i++)
		memcpy(p + hsize + grow + (size_t)i * (aslot + grow),
		       old + aoff + (size_t)i * aslot, aslot);
	for (uint32_t i = 0; i < kcap; i++)
		memcpy(p + hsize + grow + (size_t)acap * (aslot + grow) +
			       (size_t)i * (kslot + grow),
		       old + koff + (size_t)i * kslot, kslot);
	set16(p, OFF_MINOR, SHM_MINOR + 1);
	set32(p, OFF_HEADER_SIZE, (uint32_t)(hsize + grow));
	set32(p, OFF_AGENT_SLOT, (uint32_t)(aslot + grow));
	set32(p, OFF_KEY_SLOT, (uint32_t)(kslot + grow));
	set64(p, OFF_AGENTS, hsize + grow);
	set64(p, OFF_KEYS, hsize + grow + (size_t)acap * (aslot + grow));
	set64(p, OFF_TOTAL, nsize);
	munmap(old, size);
	shm_writer_close(w, 0);

	/* Put it where the reader looks. */
	name = segment_name(fx);
	shm_unlink(name);
	fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, p, nsize), (ssize_t)nsize);
	close(fd);
	free(p);

	r = reader(fx);
	shm_read_header(r, &h);
	assert_int_equal(h.minor, SHM_MINOR + 1);
	assert_string_equal(h.execution, "future");
	assert_int_equal(h.execution_id, 9);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_int_equal(b.id, 42);
	assert_string_equal(b.name, "newer");
	assert_int_equal(shm_read_agent(r, 0, &b), 0);
	assert_int_equal(shm_read_key(r, "plan", buf, sizeof(buf)), 5);
	assert_string_equal(buf, "[1,2]");
	shm_reader_close(r);
	shm_unlink(name);
	free(name);
}

/* A writer that died is reported dead; what it wrote stays readable. */
static void test_writer_alive(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	struct shm_reader *r = reader(fx);
	struct shm_header_snap h;
	int st;
	pid_t pid;

	shm_heartbeat(w);
	assert_int_equal(shm_writer_alive(r, 5000), 1);
	shm_reader_close(r);
	shm_writer_close(w, 1);

	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct shm_writer *dead =
			shm_writer_create(fx->state, NULL, NULL, 0);

		if (!dead)
			_exit(2);
		shm_set_execution(dead, 5, "gone", "running");
		shm_heartbeat(dead);
		_exit(0); /* no close: as a crash */
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	r = reader(fx);
	assert_int_equal(shm_writer_alive(r, 60000), 0);
	shm_read_header(r, &h);
	assert_string_equal(h.execution, "gone");
	assert_int_equal(h.writer_pid, pid);
	shm_reader_close(r);
	/* Its segment is replaced by the next writer. */
	w = writer(fx, NULL);
	shm_writer_close(w, 1);
}

/* A writer killed in the middle of a write leaves counters odd for good:
 * readers give up on those regions (EAGAIN) instead of spinning with them,
 * and read the rest. The alarm turns a hang into a failure. */
static void test_writer_died_mid_write(void **state)
{
	struct fx *fx = *state;
	struct shm_writer_options opt = {.agent_capacity = 2,
					 .key_capacity = 4};
	struct shm_writer *w = writer(fx, &opt);
	struct shm_agent a = {.id = 1}, b;
	struct shm_header_snap h;
	struct shm_reader *r;
	unsigned char *p;
	size_t size;
	uint32_t kslot, kcap, odd = 1;
	uint64_t aoff, koff;
	char buf[64];
	int n = 0, stuck = 0;

	snprintf(a.name, sizeof(a.name), "first");
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	snprintf(a.name, sizeof(a.name), "second");
	a.id = 2;
	assert_int_equal(shm_agent_put(w, 1, &a), 0);
	assert_int_equal(shm_key_set(w, "stuck", "1", 1), 1);
	assert_int_equal(shm_key_set(w, "fine", "2", 1), 1);
	shm_set_execution(w, 4, "dying", "running");
	p = map_rw(fx, &size);
	aoff = get64(p, OFF_AGENTS);
	koff = get64(p, OFF_KEYS);
	kslot = get32(p, OFF_KEY_SLOT);
	kcap = get32(p, OFF_KEY_CAP);
	/* Counters at the start of each region (the header's at 80). */
	memcpy(p + aoff, &odd, 4);
	for (uint32_t i = 0; i < kcap; i++)
		if (!strcmp((char *)p + koff + (size_t)i * kslot + 32,
			    "stuck")) {
			memcpy(p + koff + (size_t)i * kslot, &odd, 4);
			stuck++;
		}
	assert_int_equal(stuck, 1);
	memcpy(p + 80, &odd, 4);

	alarm(60);
	r = reader(fx);
	errno = 0;
	assert_int_equal(shm_read_agent(r, 0, &b), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(shm_read_agent(r, 1, &b), 1);
	assert_string_equal(b.name, "second");
	errno = 0;
	assert_int_equal(shm_read_key(r, "stuck", buf, sizeof(buf)), -1);
	assert_int_equal(errno, EAGAIN);
	assert_int_equal(shm_read_key(r, "fine", buf, sizeof(buf)), 1);
	assert_int_equal(shm_read_keys(r, count_key, &n), 0);
	assert_int_equal(n, 1);
	shm_read_header(r, &h);
	assert_string_equal(h.execution, "dying");
	alarm(0);
	shm_reader_close(r);
	munmap(p, size);
	shm_writer_close(w, 1);
}

/* ---- the seqlock under load ------------------------------------------------ */

/* Everything in the agent slot and the key follows from one counter N, so
 * a reader can tell a whole copy from a torn one. */
static void stress_agent(uint64_t n, struct shm_agent *a)
{
	memset(a, 0, sizeof(*a));
	a->id = (int64_t)n + 1;
	a->tool_calls = (int64_t)(n * 3);
	a->tokens_in = (int64_t)(n ^ 0x5555aaaa5555ull);
	a->tokens_out = (int64_t)~n;
	snprintf(a->name, sizeof(a->name), "agent-%" PRIu64, n);
	snprintf(a->last_key, sizeof(a->last_key), "%0120" PRIu64, n);
	/* The 1.1 fields: the cost too. */
	a->cost_micro_usd = (int64_t)(n * 7);
	a->running_calls = (int32_t)(n % 5);
	snprintf(a->running_tool, sizeof(a->running_tool), "tool-%" PRIu64,
		 ~n);
	/* The 1.2 fields. */
	snprintf(a->kind, sizeof(a->kind), "k%" PRIu64, n % 1000);
	a->reasoning = (int64_t)(n * 11);
	a->cost_known = (int32_t)(n & 1);
	/* The 1.3 fields, the last of the slot. */
	a->mem_peak = (int64_t)(n * 17);
	a->cpu_usec = (int64_t)(n ^ 0x33cc33ccull);
}

static int agent_whole(const struct shm_agent *a)
{
	uint64_t n = (uint64_t)a->id - 1;
	struct shm_agent want;

	stress_agent(n, &want);
	return !memcmp(a, &want, sizeof(want));
}

static size_t stress_value(uint64_t n, char *buf, size_t len)
{
	/* Its length changes with N too. */
	return (size_t)snprintf(buf, len, "{\"n\":%" PRIu64 ",\"pad\":\"%.*s\","
				"\"not\":%" PRIu64 "}",
				n, (int)(n % 300), "................"
				"................................................"
				"................................................"
				"................................................"
				"................................................"
				"................................................"
				"................................................",
				~n);
}

static int value_whole(const char *v)
{
	uint64_t n, not;
	char want[SHM_VALUE_LEN];

	if (sscanf(v, "{\"n\":%" SCNu64, &n) != 1)
		return 0;
	stress_value(n, want, sizeof(want));
	if (strcmp(v, want) != 0)
		return 0;
	return sscanf(strstr(v, "\"not\":") + 6, "%" SCNu64, &not) == 1 &&
	       not == ~n;
}

/* A reader process: READS reads, half agent, half key; exit status 0 if
 * none was torn, 1 otherwise; it writes its count of reads to FD. */
static void stress_reader(struct fx *fx, long reads, int fd)
{
	struct shm_reader *r = shm_reader_open(fx->dir, NULL, 0);
	char buf[SHM_VALUE_LEN + 1];
	struct shm_agent a;
	long torn = 0, done;

	if (!r)
		_exit(2);
	for (done = 0; done < reads; done++) {
		if (done & 1) {
			if (shm_read_agent(r, 0, &a) != 1 || !agent_whole(&a))
				torn++;
		} else if (shm_read_key(r, "hot", buf, sizeof(buf)) < 0 ||
			   !value_whole(buf)) {
			torn++;
		}
	}
	if (write(fd, &done, sizeof(done)) != sizeof(done))
		_exit(2);
	_exit(torn ? 1 : 0);
}

static void test_seqlock_stress(void **state)
{
	struct fx *fx = *state;
	struct shm_writer *w = writer(fx, NULL);
	long per = STRESS_READS / 2, total = 0, got;
	pid_t readers[2], wpid;
	int fds[2], st;
	char buf[SHM_VALUE_LEN];
	struct shm_agent a;
	uint64_t writes = 0;

	/* Something whole to read before the writer starts. */
	stress_agent(0, &a);
	assert_int_equal(shm_agent_put(w, 0, &a), 0);
	assert_int_equal(shm_key_set(w, "hot", buf, stress_value(0, buf,
								   sizeof(buf))),
			 1);
	assert_int_equal(pipe(fds), 0);
	for (int i = 0; i < 2; i++) {
		readers[i] = fork();
		assert_true(readers[i] >= 0);
		if (readers[i] == 0) {
			close(fds[0]);
			stress_reader(fx, per, fds[1]);
		}
	}
	close(fds[1]);
	/* The writer, as fast as it can, until both readers are done. */
	wpid = fork();
	assert_true(wpid >= 0);
	if (wpid == 0) {
		for (uint64_t n = 1;; n++) {
			stress_agent(n, &a);
			shm_agent_put(w, 0, &a);
			shm_key_set(w, "hot", buf,
				    stress_value(n, buf, sizeof(buf)));
		}
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(waitpid(readers[i], &st, 0), readers[i]);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) != 0) {
			kill(wpid, SIGKILL);
			waitpid(wpid, NULL, 0);
			fail_msg("reader %d: %s", i,
				 WEXITSTATUS(st) == 1 ? "torn reads"
						      : "could not run");
		}
		assert_int_equal(read(fds[0], &got, sizeof(got)), sizeof(got));
		total += got;
	}
	kill(wpid, SIGKILL);
	waitpid(wpid, NULL, 0);
	close(fds[0]);
	{
		struct shm_reader *r = reader(fx);
		struct shm_header_snap h;

		shm_read_header(r, &h);
		writes = h.generation;
		shm_reader_close(r);
	}
	print_message("# %ld reads verified, 0 torn, %" PRIu64
		      " changes written meanwhile\n",
		      total, writes);
	assert_true(total >= STRESS_READS);
	/* The readers raced a writer, not a still segment. */
	assert_true(writes > 1000);
	shm_writer_close(w, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_globs, setup, teardown),
		cmocka_unit_test_setup_teardown(test_name_and_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_cannot_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_stale_replaced, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_reader_changed, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_other_major_refused,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_usage_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_kind_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_resources_round_trip,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_fleet_round_trip, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_minor_3_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_minor_2_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_minor_1_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_older_minor_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_newer_minor_read, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_alive, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_writer_died_mid_write,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_seqlock_stress, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("shm", tests, NULL, NULL);
}
