/*
 * populate.c - fills a state dir through the store API (wal.h) with the
 * deterministic dataset the integration tests read back with `smithers db`.
 *
 *   populate DIR            the dataset, its execution ended (completed)
 *   populate DIR --running  the same, its execution left running, as a
 *                           killed supervisor leaves it (for `recovery`)
 *   populate DIR --claude   the same, then execution 2 (below)
 *   populate --hold DIR     take DIR's supervisor lock, print "locked PID"
 *                           and keep it until killed (at most 60 s)
 *
 * The dataset, in a new database (so every id below is known):
 *   execution 1 "survey" (workflow smithers.ini)
 *     phase 1 survey, iteration 0 (completed)
 *       agent 1 file-stats: completed, exit 0, tokens 100/20
 *       agent 2 todo-scan: failed, "exit status 3", exit 3
 *     phase 2 review, iteration 0 (completed)
 *       agent 3 reviewer: completed
 *     phase 3 review, iteration 1 (running)
 *       agent 4 reviewer, attempt 2: still running (pid 4242)
 *       agent 5 summarizer: completed
 *   tool calls: 1 bash by agent 1, 2000 bytes of output (spills to
 *     logs/objects); 2 read by agent 1, "hello world\n" inline; 3 bash by
 *     agent 2, failed
 *   transitions (ids 1-7): survey.files 12 then 14, review.approved false,
 *     tmp.scratch "x", notes (a string with control characters and
 *     non-ASCII), tmp.scratch deleted, review.approved true
 *   memories 1-5: fact/global, learning/project, preference/session,
 *     context/project, skill/global
 *   artifact 1 "readme": DIR/repo/README.md in a git repository made with
 *     $GIT (default: git)
 *
 * With --claude, execution 2 "claude-run" (completed, budget $5):
 *     phase 4 code, iteration 0 (completed)
 *       agent 6 coder, kind claude, session CLAUDE_SESSION, model
 *         claude-sonnet-4-5, CLI 2.0.14, tools Bash Glob Read Edit Task,
 *         resumed once ("continue where you stopped"); usage 1200/340,
 *         cache 45000/3100, $0.0412, then corrected by -200 tokens in and
 *         +$0.0003; completed with 12 turns
 *       agent 7 lint, kind codex: failed, "exit status 1", tokens 10/5,
 *         3 of them reasoning, no cost reported
 *   tool calls of agent 6: 4 Bash; 5 Task (toolu_task) with 6 Glob
 *     (toolu_glob) and 7 Read inside it; 8 Edit
 *
 * Any failure is fatal: it prints the store's message and exits 1.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "wal/wal.h"

static struct wal *store;

static void die(const char *what)
{
	fprintf(stderr, "populate: %s: %s\n", what,
		store ? wal_errmsg(store) : strerror(errno));
	wal_close(store);
	exit(1);
}

static int64_t check(int64_t rc, const char *what)
{
	if (rc < 0)
		die(what);
	return rc;
}

/* Run $GIT with ARGV (NULL-terminated, argv[0] ignored) in DIR. */
static void git(const char *dir, char *const argv[])
{
	const char *bin = getenv("GIT");
	char *args[16];
	int i, status;
	pid_t pid;

	if (!bin || !*bin)
		bin = "git";
	args[0] = (char *)bin;
	args[1] = (char *)"-C";
	args[2] = (char *)dir;
	args[3] = (char *)"-c";
	args[4] = (char *)"user.name=Populate";
	args[5] = (char *)"-c";
	args[6] = (char *)"user.email=populate@example.invalid";
	for (i = 1; argv[i] && i < 8; i++)
		args[6 + i] = argv[i];
	args[6 + i] = NULL;
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		execvp(bin, args);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "populate: '%s %s' failed\n", bin, argv[1]);
		wal_close(store);
		exit(1);
	}
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "we");

	if (!fp || fputs(text, fp) == EOF || fclose(fp) == EOF)
		die(path);
}

static int64_t make_artifact(const char *dir, int64_t agent)
{
	char repo[4096], file[4200];
	char *init[] = {NULL, "init", "-q", NULL};
	char *add[] = {NULL, "add", "README.md", NULL};
	char *commit[] = {NULL, "commit", "-q", "-m", "first commit", NULL};

	snprintf(repo, sizeof(repo), "%s/repo", dir);
	if (mkdir(repo, 0755) < 0 && errno != EEXIST)
		die(repo);
	snprintf(file, sizeof(file), "%s/README.md", repo);
	write_file(file, "# Survey\n\nhello\nworld\n");
	git(repo, init);
	git(repo, add);
	git(repo, commit);
	return check(wal_artifact_add(store, agent, "readme", "markdown", file,
				      "the project's readme",
				      "{\"lang\":\"en\",\"lines\":4}"),
		     "artifact");
}

static void memories(int64_t execution)
{
	static const struct wal_memory m[] = {
		{"fact", "global", "repo.language",
		 "The project is written in C with autotools", 0.9, "survey", 0,
		 NULL},
		{"learning", "project", "build.flaky",
		 "make check is flaky when run with -j32 under load", 0.6, NULL,
		 0, NULL},
		{"preference", "session", "style.tabs",
		 "Indent with tabs, eight columns wide", 1.0, "user", 0, NULL},
		{"context", "project", "goal",
		 "Survey the repository and review the findings", 0.8,
		 "workflow", 1, NULL},
		{"skill", "global", "git.bisect",
		 "Use git bisect run with a test script to find regressions",
		 0.75, NULL, 0, "2099-01-01T00:00:00.000Z"},
	};
	size_t i;

	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		struct wal_memory one = m[i];

		if (one.source_execution_id)
			one.source_execution_id = execution;
		check(wal_memory_add(store, &one), "memory");
	}
}

static void state(int64_t a1, int64_t a3)
{
	check(wal_state_set(store, "survey.files", "12", "file-stats", a1),
	      "state 1");
	check(wal_state_set(store, "survey.files", "14", "file-stats", a1),
	      "state 2");
	check(wal_state_set(store, "review.approved", "false", "reviewer", a3),
	      "state 3");
	check(wal_state_set(store, "tmp.scratch", "\"x\"", "test", 0),
	      "state 4");
	check(wal_state_set(store, "notes",
			    "\"tab\\there\\nnew line \\u0001 \\\"quoted\\\" "
			    "caf\xc3\xa9\"",
			    "test", 0),
	      "state 5");
	if (check(wal_state_delete(store, "tmp.scratch", "cleanup", 0),
		  "state 6") != 1) {
		fputs("populate: tmp.scratch was not deleted\n", stderr);
		exit(1);
	}
	check(wal_state_set(store, "review.approved", "true", "reviewer", a3),
	      "state 7");
}

static void tools(int64_t a1, int64_t a2)
{
	char big[2001];
	int64_t t;
	int i;

	/* 2000 bytes: 50 lines of 40. */
	for (i = 0; i < 50; i++)
		snprintf(big + 40 * i, 41,
			 "line %04d: abcdefghijklmnopqrstuvwxyz12\n", i);
	t = check(
		wal_tool_start(store, a1, "bash", "{\"cmd\":\"git ls-files\"}"),
		"tool 1");
	check(wal_tool_complete(store, t, big, 2000, "50 lines", "completed",
				NULL),
	      "tool 1 end");
	t = check(wal_tool_start(store, a1, "read", "{\"path\":\"README\"}"),
		  "tool 2");
	check(wal_tool_complete(store, t, "hello world\n", 12, NULL, NULL,
				NULL),
	      "tool 2 end");
	t = check(wal_tool_start(store, a2, "bash", "{\"cmd\":\"false\"}"),
		  "tool 3");
	check(wal_tool_complete(store, t, NULL, 0, NULL, "failed", "exit 1"),
	      "tool 3 end");
}

#define CLAUDE_SESSION "0b7c4a1e-5f2d-4c3e-9a8b-123456789abc"

/* Execution 2: a Claude Code agent and a Codex agent. */
static void claude_run(void)
{
	struct wal_agent_spec spec;
	struct wal_usage u = {1200, 340, 45000, 3100, 0.0412, 0, 0, 1};
	struct wal_usage fix = {-200, 0, 0, 0, 0.0003, 0, 0, 1};
	struct wal_usage codex = {.tokens_in = 10, .tokens_out = 5,
				  .reasoning = 3};
	int64_t e, p, a, lint, task, t;

	e = check(wal_execution_start(store, "claude-run", "claude.ini", NULL),
		  "execution 2");
	check(wal_execution_budget(store, e, 5.0), "budget");
	p = check(wal_phase_start(store, e, "code", 0), "phase 4");
	memset(&spec, 0, sizeof(spec));
	spec.name = "coder";
	spec.kind = "claude";
	spec.session_id = CLAUDE_SESSION;
	spec.prompt = "Fix the failing test";
	a = check(wal_agent_start(store, e, p, &spec), "agent 6");
	check(wal_agent_session(store, a, CLAUDE_SESSION, "claude-sonnet-4-5",
				"2.0.14",
				"[\"Bash\",\"Glob\",\"Read\",\"Edit\","
				"\"Task\"]"),
	      "session");
	check(wal_agent_resume(store, a, "continue where you stopped"),
	      "resume");
	memset(&spec, 0, sizeof(spec));
	spec.name = "lint";
	spec.kind = "codex";
	lint = check(wal_agent_start(store, e, p, &spec), "agent 7");

	t = check(wal_tool_start_ref(store, a, "Bash", "{\"command\":\"make\"}",
				     "toolu_bash", 0),
		  "tool 4");
	check(wal_tool_complete(store, t, "ok\n", 3, NULL, NULL, NULL),
	      "tool 4 end");
	task = check(wal_tool_start_ref(store, a, "Task",
					"{\"description\":\"find the test\"}",
					"toolu_task", 0),
		     "tool 5");
	t = check(wal_tool_start_ref(store, a, "Glob",
				     "{\"pattern\":\"tests/*.c\"}",
				     "toolu_glob", task),
		  "tool 6");
	check(wal_tool_complete(store, t, "tests/a.c\n", 10, NULL, NULL, NULL),
	      "tool 6 end");
	t = check(wal_tool_start_ref(store, a, "Read",
				     "{\"file_path\":\"tests/a.c\"}", NULL,
				     task),
		  "tool 7");
	check(wal_tool_complete(store, t, "int main;\n", 10, NULL, NULL,
				NULL),
	      "tool 7 end");
	check(wal_tool_complete(store, task, "tests/a.c", 9, NULL, NULL, NULL),
	      "tool 5 end");
	t = check(wal_tool_start_ref(store, a, "Edit",
				     "{\"file_path\":\"tests/a.c\"}",
				     "toolu_edit", 0),
		  "tool 8");
	check(wal_tool_complete(store, t, NULL, 0, NULL, "failed",
				"file changed"),
	      "tool 8 end");

	check(wal_agent_add_usage(store, a, &u), "usage 6");
	check(wal_agent_add_usage(store, a, &fix), "usage 6 fix");
	check(wal_agent_add_usage(store, lint, &codex), "usage 7");
	check(wal_agent_complete(store, a, "fixed",
				 "{\"num_turns\":12,\"is_error\":false}", 0),
	      "agent 6 end");
	check(wal_agent_fail(store, lint, "exit status 1", 1, 0),
	      "agent 7 end");
	/* The coder ran in a cgroup: its tree's peak (340 MiB) and CPU
	 * time (61.5 s); the lint agent's are unknown. */
	check(wal_agent_resources(store, a, 356515840, 61500000),
	      "agent 6 resources");
	check(wal_execution_containment(store, e, "cgroup"), "containment");
	check(wal_phase_complete(store, p), "phase 4 end");
	check(wal_execution_complete(store, e, NULL), "execution 2 end");
}

static void populate(const char *dir, int running, int claude)
{
	struct wal_options opt;
	struct wal_agent_spec spec;
	int64_t e, p1, p2, p3, a1, a2, a3, a4;

	memset(&opt, 0, sizeof(opt));
	opt.create = 1;
	opt.reset = 1;
	if (wal_open(dir, &opt, &store) < 0)
		die("open");
	e = check(wal_execution_start(store, "survey", "smithers.ini",
				      "{\"max_parallel\":2}"),
		  "execution");

	p1 = check(wal_phase_start(store, e, "survey", 0), "phase 1");
	memset(&spec, 0, sizeof(spec));
	spec.name = "file-stats";
	spec.model = "claude-sonnet-4-5";
	spec.prompt = "Count the files";
	a1 = check(wal_agent_start(store, e, p1, &spec), "agent 1");
	spec.name = "todo-scan";
	spec.model = NULL;
	spec.prompt = NULL;
	a2 = check(wal_agent_start(store, e, p1, &spec), "agent 2");
	tools(a1, a2);
	check(wal_agent_usage(store, a1, 100, 20), "usage");
	check(wal_agent_complete(store, a1, "12 files", "{\"files\":12}", 0),
	      "agent 1 end");
	check(wal_agent_fail(store, a2, "exit status 3", 3, 0), "agent 2 end");
	check(wal_phase_complete(store, p1), "phase 1 end");

	p2 = check(wal_phase_start(store, e, "review", 0), "phase 2");
	spec.name = "reviewer";
	a3 = check(wal_agent_start(store, e, p2, &spec), "agent 3");
	state(a1, a3);
	check(wal_agent_complete(store, a3, "not yet", NULL, 0), "agent 3 end");
	check(wal_phase_complete(store, p2), "phase 2 end");

	p3 = check(wal_phase_start(store, e, "review", 1), "phase 3");
	spec.attempt = 2;
	spec.pid = 4242;
	a4 = check(wal_agent_start(store, e, p3, &spec), "agent 4");
	(void)a4;
	spec.name = "summarizer";
	spec.attempt = 0;
	spec.pid = 0;
	check(wal_agent_complete(
		      store,
		      check(wal_agent_start(store, e, p3, &spec), "agent 5"),
		      "done", NULL, 0),
	      "agent 5 end");

	memories(e);
	make_artifact(dir, a1);
	if (!running)
		check(wal_execution_complete(store, e, "{\"approved\":true}"),
		      "execution end");
	if (claude)
		claude_run();
	wal_close(store);
	store = NULL;
}

/* Hold DIR's supervisor lock like a running supervisor would. */
static void hold(const char *dir)
{
	pid_t holder = 0;
	int fd = wal_lock_acquire(dir, &holder);

	if (fd < 0) {
		fprintf(stderr, "populate: cannot lock '%s': %s (holder %ld)\n",
			dir, strerror(errno), (long)holder);
		exit(1);
	}
	printf("locked %ld\n", (long)getpid());
	fflush(stdout);
	sleep(60);
	close(fd);
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--hold")) {
		hold(argv[2]);
		return 0;
	}
	if (argc == 2 || (argc == 3 && !strcmp(argv[2], "--running"))) {
		populate(argv[1], argc == 3, 0);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[2], "--claude")) {
		populate(argv[1], 0, 1);
		return 0;
	}
	fputs("usage: populate DIR [--running | --claude] | populate --hold "
	      "DIR\n",
	      stderr);
	return 2;
}
