/*
 * test_workflow.c - the workflow loader (supervisor/workflow.h) and the
 * `until` conditions (supervisor/cond.h): the example `smithers init`
 * writes, every key and default, every error with its FILE:LINE, the value
 * forms (durations, sizes, backoff, signals), paths relative to the file,
 * continuation lines, JSON compared as values, and hostile input.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "common/units.h"
#include "supervisor/cond.h"
#include "supervisor/workflow.h"
#include "tools/templates.h"

#define BASE "/base/dir"

/* The smallest valid workflow, to which tests add lines. */
#define MIN_PHASE "[phase p]\n"
#define MIN_AGENT "[agent a]\nphase = p\ncommand = true\n"

static char errbuf[1024];

static struct sup_workflow *parse_ok(const char *text)
{
	struct sup_workflow *wf;

	errbuf[0] = '\0';
	wf = sup_workflow_parse(text, "flow.ini", BASE, errbuf, sizeof(errbuf));
	if (!wf)
		fail_msg("unexpected error: %s\n--- in ---\n%s", errbuf, text);
	return wf;
}

static void parse_err(const char *text, const char *want)
{
	struct sup_workflow *wf;

	errbuf[0] = '\0';
	errno = 0;
	wf = sup_workflow_parse(text, "flow.ini", BASE, errbuf, sizeof(errbuf));
	if (wf) {
		sup_workflow_free(wf);
		fail_msg("no error, expected '%s'\n--- in ---\n%s", want, text);
	}
	assert_int_equal(errno, EINVAL);
	if (strcmp(errbuf, want))
		fail_msg("error '%s'\nexpected '%s'\n--- in ---\n%s", errbuf,
			 want, text);
}

/* A string made from FMT (freed by the caller). */
static char *fmt(const char *f, ...) __attribute__((format(printf, 1, 2)));

static char *fmt(const char *f, ...)
{
	va_list ap;
	char *s;
	int n;

	va_start(ap, f);
	n = vasprintf(&s, f, ap);
	va_end(ap);
	assert_true(n >= 0);
	return s;
}

static char *make_tmpdir(void)
{
	char *d = strdup("/tmp/smithers-wf-XXXXXX");

	assert_non_null(d);
	assert_non_null(mkdtemp(d));
	return d;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void rmrf(const char *dir)
{
	char *cmd = fmt("rm -rf '%s'", dir);

	assert_int_equal(system(cmd), 0);
	free(cmd);
}

static const char *template_workflow(void)
{
	const struct init_template *t;

	for (t = init_templates; t->path; t++)
		if (!strcmp(t->path, "smithers.ini"))
			return t->text;
	fail_msg("no smithers.ini template");
	return NULL;
}

/* The example `smithers init` writes loads as is, with what it says. */
static void test_init_template(void **state)
{
	struct sup_workflow *wf = parse_ok(template_workflow());
	const struct sup_agent *a;

	assert_string_equal(wf->name, "repo-survey");
	assert_int_equal(wf->max_parallel, 4);
	assert_int_equal(wf->synchronous, SUP_SYNC_FULL);
	assert_int_equal(wf->nphases, 2);
	assert_string_equal(wf->phases[0].name, "survey");
	assert_int_equal(wf->phases[0].on_failure, SUP_ON_FAILURE_CONTINUE);
	assert_null(wf->phases[0].until);
	assert_string_equal(wf->phases[1].name, "review");
	assert_int_equal(wf->phases[1].max_iterations, 5);
	assert_string_equal(wf->phases[1].until_text,
			    "review.approved == true");
	assert_string_equal(sup_cond_key(wf->phases[1].until),
			    "review.approved");
	assert_int_equal(sup_cond_eval(wf->phases[1].until, "true"), 1);
	assert_int_equal(sup_cond_eval(wf->phases[1].until, "false"), 0);
	assert_int_equal(wf->nagents, 5);
	assert_int_equal(wf->phases[0].nagents, 4);
	assert_int_equal(wf->phases[1].nagents, 1);

	a = sup_workflow_phase_agent(wf, 0, 1);
	assert_non_null(a);
	assert_string_equal(a->name, "todo-scan");
	assert_string_equal(a->command, "sh agents/todo-scan.sh");
	assert_string_equal(a->cwd, BASE);
	assert_int_equal(a->nenv, 1);
	assert_string_equal(a->env[0], "TODO_WORDS=TODO,FIXME,XXX");
	assert_null(a->env[1]);
	assert_int_equal(a->restart, SUP_RESTART_ON_FAILURE);
	assert_int_equal(a->max_restarts, 2);
	assert_int_equal(a->backoff_min_ms, 1000);
	assert_int_equal(a->backoff_max_ms, 60000);
	assert_int_equal(a->startsecs_ms, 0);
	assert_int_equal(a->timeout_ms, 120000);

	a = sup_workflow_phase_agent(wf, 1, 0);
	assert_non_null(a);
	assert_string_equal(a->name, "reviewer");
	assert_string_equal(a->model, "claude-sonnet-4-5");
	assert_string_equal(a->prompt,
			    "Check that the survey (state keys survey.*) is "
			    "complete, then approve it.");
	assert_int_equal(a->restart, SUP_RESTART_NEVER);
	assert_int_equal(a->timeout_ms, 300000);
	assert_null(sup_workflow_phase_agent(wf, 1, 1));
	assert_null(sup_workflow_phase_agent(wf, 2, 0));
	sup_workflow_free(wf);
}

/* Write the example TEMPLATES into a new directory (its prompts/ too) and
 * load its smithers.ini; written_free() removes them. */
static char written_dir[64];

static struct sup_workflow *load_written(const struct init_template *templates)
{
	const struct init_template *t;
	struct sup_workflow *wf;
	char path[256];
	FILE *f;

	snprintf(written_dir, sizeof(written_dir), "/tmp/test_workflow.XXXXXX");
	assert_non_null(mkdtemp(written_dir));
	snprintf(path, sizeof(path), "%s/prompts", written_dir);
	assert_int_equal(mkdir(path, 0700), 0);
	for (t = templates; t->path; t++) {
		snprintf(path, sizeof(path), "%s/%s", written_dir, t->path);
		assert_non_null(f = fopen(path, "w"));
		assert_true(fputs(t->text, f) >= 0);
		assert_int_equal(fclose(f), 0);
	}
	snprintf(path, sizeof(path), "%s/smithers.ini", written_dir);
	wf = sup_workflow_load(path, errbuf, sizeof(errbuf));
	if (!wf)
		fail_msg("%s", errbuf);
	return wf;
}

static void written_free(const struct init_template *templates)
{
	const struct init_template *t;
	char path[256];

	for (t = templates; t->path; t++) {
		snprintf(path, sizeof(path), "%s/%s", written_dir, t->path);
		assert_int_equal(unlink(path), 0);
	}
	snprintf(path, sizeof(path), "%s/prompts", written_dir);
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(rmdir(written_dir), 0);
}

/* The Claude Code example of `smithers init --example claude` loads, with
 * its prompt file beside it. */
static void test_init_claude(void **state)
{
	struct sup_workflow *wf;
	const struct sup_agent *a;

	(void)state;
	wf = load_written(init_templates_claude);
	assert_string_equal(wf->name, "claude-review-fix");
	assert_true(wf->max_cost_usd == 15.0);
	assert_int_equal(wf->nphases, 2);
	assert_int_equal(wf->phases[0].nagents, 3);
	assert_int_equal(wf->phases[1].max_iterations, 5);
	a = sup_workflow_phase_agent(wf, 1, 0);
	assert_string_equal(a->name, "fixer");
	assert_int_equal(a->kind, SUP_KIND_CLAUDE);
	assert_int_equal(a->cli.session, SUP_SESSION_CONTINUE);
	assert_non_null(strstr(a->prompt, "make check"));
	assert_string_equal(a->cli.allowed_tools[8],
			    "Bash(smithers emit:*)");
	for (size_t i = 0; i < wf->nagents; i++)
		assert_int_equal(wf->agents[i].kind, SUP_KIND_CLAUDE);
	sup_workflow_free(wf);
	written_free(init_templates_claude);
}

/* The Codex example of `smithers init --example codex` loads: prices
 * given, so its dollar budgets are allowed. */
static void test_init_codex(void **state)
{
	struct sup_workflow *wf;
	const struct sup_agent *a;

	(void)state;
	wf = load_written(init_templates_codex);
	assert_string_equal(wf->name, "codex-review-fix");
	assert_int_equal(wf->phases[0].nagents, 2);
	a = sup_workflow_phase_agent(wf, 1, 0);
	assert_string_equal(a->name, "fixer");
	assert_int_equal(a->cli.session, SUP_SESSION_CONTINUE);
	assert_string_equal(a->cli.sandbox, "workspace-write");
	assert_true(a->cli.prices.output == 10);
	for (size_t i = 0; i < wf->nagents; i++)
		assert_int_equal(wf->agents[i].kind, SUP_KIND_CODEX);
	sup_workflow_free(wf);
	written_free(init_templates_codex);
}

static void test_defaults(void **state)
{
	struct sup_workflow *wf = parse_ok(MIN_PHASE MIN_AGENT);
	const struct sup_agent *a = &wf->agents[0];
	const struct sup_phase *ph = &wf->phases[0];

	assert_string_equal(wf->name, "flow");
	assert_string_equal(wf->path, "flow.ini");
	assert_string_equal(wf->dir, BASE);
	assert_int_equal(wf->max_parallel, 0);
	assert_int_equal(wf->synchronous, SUP_SYNC_FULL);
	assert_int_equal(wf->log_max_bytes, 10 * 1024 * 1024);
	assert_int_equal(wf->log_keep, 3);
	assert_int_equal(wf->frame_max, 1024 * 1024);
	assert_int_equal(wf->shm_mode, 0600);
	assert_int_equal(wf->stop_grace_ms, 10000);

	assert_string_equal(ph->name, "p");
	assert_int_equal(ph->line, 1);
	assert_int_equal(ph->max_iterations, 1);
	assert_null(ph->until);
	assert_null(ph->until_text);
	assert_int_equal(ph->on_failure, SUP_ON_FAILURE_STOP);

	assert_string_equal(a->name, "a");
	assert_int_equal(a->line, 2);
	assert_int_equal(a->phase, 0);
	assert_string_equal(a->command, "true");
	assert_null(a->model);
	assert_null(a->prompt);
	assert_null(a->prompt_file);
	assert_null(a->system_prompt);
	assert_string_equal(a->cwd, BASE);
	assert_int_equal(a->nenv, 0);
	assert_non_null(a->env);
	assert_null(a->env[0]);
	assert_int_equal(a->restart, SUP_RESTART_ON_FAILURE);
	assert_int_equal(a->max_restarts, 3);
	assert_int_equal(a->backoff_min_ms, 1000);
	assert_int_equal(a->backoff_max_ms, 60000);
	assert_int_equal(a->startsecs_ms, 1000);
	assert_int_equal(a->timeout_ms, 0);
	assert_int_equal(a->stop_signal, SIGTERM);
	assert_int_equal(a->stop_grace_ms, 10000);
	sup_workflow_free(wf);
}

static void test_every_key(void **state)
{
	struct sup_workflow *wf = parse_ok("[workflow]\n"
					   "name = all.keys_1\n"
					   "max_parallel = 7\n"
					   "synchronous = normal\n"
					   "log_max_bytes = 2M\n"
					   "log_keep = 0\n"
					   "frame_max = 64K\n"
					   "shm_mode = 0640\n"
					   "stop_grace = 3s\n"
					   "[phase build]\n"
					   "max_iterations = 9\n"
					   "until = build.done != false\n"
					   "on_failure = continue\n"
					   "[agent b]\n"
					   "phase = build\n"
					   "command = make -j2 all\n"
					   "model = m-1\n"
					   "prompt = do it\n"
					   "system_prompt = you are a builder\n"
					   "cwd = src\n"
					   "env = A=1\n"
					   "env = B=x=y\n"
					   "env = C=\n"
					   "restart = always\n"
					   "max_restarts = 0\n"
					   "backoff = 250ms..10s\n"
					   "startsecs = 1.5\n"
					   "timeout = 2h\n"
					   "stop_signal = SIGINT\n"
					   "stop_grace = 500ms\n");
	const struct sup_agent *a = &wf->agents[0];

	assert_string_equal(wf->name, "all.keys_1");
	assert_int_equal(wf->max_parallel, 7);
	assert_int_equal(wf->synchronous, SUP_SYNC_NORMAL);
	assert_int_equal(wf->log_max_bytes, 2 * 1024 * 1024);
	assert_int_equal(wf->log_keep, 0);
	assert_int_equal(wf->frame_max, 64 * 1024);
	assert_int_equal(wf->shm_mode, 0640);
	assert_int_equal(wf->stop_grace_ms, 3000);
	assert_int_equal(wf->phases[0].max_iterations, 9);
	assert_int_equal(sup_cond_op(wf->phases[0].until), SUP_COND_NE);
	assert_string_equal(sup_cond_json(wf->phases[0].until), "false");
	assert_int_equal(wf->phases[0].on_failure, SUP_ON_FAILURE_CONTINUE);
	assert_string_equal(a->command, "make -j2 all");
	assert_string_equal(a->model, "m-1");
	assert_string_equal(a->prompt, "do it");
	assert_string_equal(a->system_prompt, "you are a builder");
	assert_string_equal(a->cwd, BASE "/src");
	assert_int_equal(a->nenv, 3);
	assert_string_equal(a->env[0], "A=1");
	assert_string_equal(a->env[1], "B=x=y");
	assert_string_equal(a->env[2], "C=");
	assert_null(a->env[3]);
	assert_int_equal(a->restart, SUP_RESTART_ALWAYS);
	assert_int_equal(a->max_restarts, 0);
	assert_int_equal(a->backoff_min_ms, 250);
	assert_int_equal(a->backoff_max_ms, 10000);
	assert_int_equal(a->startsecs_ms, 1500);
	assert_int_equal(a->timeout_ms, 2 * 3600 * 1000);
	assert_int_equal(a->stop_signal, SIGINT);
	assert_int_equal(a->stop_grace_ms, 500);
	assert_string_equal(sup_restart_name(a->restart), "always");
	assert_string_equal(sup_on_failure_name(wf->phases[0].on_failure),
			    "continue");
	assert_string_equal(sup_synchronous_name(wf->synchronous), "normal");
	sup_workflow_free(wf);
}

/* [workflow] stop_grace is the default of the agents that set none, even
 * when it comes after them. */
static void test_stop_grace_default(void **state)
{
	struct sup_workflow *wf = parse_ok(MIN_PHASE MIN_AGENT
					   "[agent b]\nphase = p\ncommand = x\n"
					   "stop_grace = 1m\n"
					   "[workflow]\nstop_grace = 2.5s\n");

	assert_int_equal(wf->agents[0].stop_grace_ms, 2500);
	assert_int_equal(wf->agents[1].stop_grace_ms, 60000);
	sup_workflow_free(wf);
}

/* Phases in file order, whatever the order of agents; each phase lists its
 * agents in file order. */
static void test_phase_order(void **state)
{
	struct sup_workflow *wf = parse_ok("[agent z]\nphase = second\n"
					   "command = z\n"
					   "[phase first]\n"
					   "[agent y]\nphase = first\n"
					   "command = y\n"
					   "[phase second]\n"
					   "[agent x]\nphase = second\n"
					   "command = x\n"
					   "[phase third]\n"
					   "[agent w]\nphase = third\n"
					   "command = w\n");

	assert_int_equal(wf->nphases, 3);
	assert_string_equal(wf->phases[0].name, "first");
	assert_string_equal(wf->phases[1].name, "second");
	assert_string_equal(wf->phases[2].name, "third");
	assert_int_equal(wf->phases[1].nagents, 2);
	assert_string_equal(sup_workflow_phase_agent(wf, 1, 0)->name, "z");
	assert_string_equal(sup_workflow_phase_agent(wf, 1, 1)->name, "x");
	assert_string_equal(sup_workflow_phase_agent(wf, 0, 0)->name, "y");
	assert_int_equal(wf->agents[0].phase, 1);
	assert_int_equal(sup_workflow_find_phase(wf, "third"), 2);
	assert_int_equal(sup_workflow_find_phase(wf, "fourth"), -1);
	assert_int_equal(sup_workflow_find_agent(wf, "w"), 3);
	assert_int_equal(sup_workflow_find_agent(wf, "v"), -1);
	assert_int_equal(wf->phases[2].line, 12);
	assert_int_equal(wf->agents[3].line, 13);
	sup_workflow_free(wf);
}

static void test_durations(void **state)
{
	static const struct {
		const char *text;
		int64_t ms;
	} ok[] = {
		{"0", 0},
		{"1", 1000},
		{"1s", 1000},
		{"250ms", 250},
		{"1.5s", 1500},
		{"1.5", 1500},
		{"0.001s", 1},
		{"2m", 120000},
		{"1h", 3600000},
		{"0.5h", 1800000},
		{"10 s", 10000},
		{"0ms", 0},
		{"1.000000000s", 1000},
	};
	static const char *const bad[] = {
		"",	  "s",	 "-1s", "1x",  "1 sec", ".5",	"1.",	"1.5ms",
		"0.0001", "1e3", "1S",	"1s ", "+1",	"1..2", "0x10", "1 1",
	};
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -1;
		if (cm_parse_duration(ok[i].text, &v) < 0)
			fail_msg("'%s' refused", ok[i].text);
		assert_int_equal(v, ok[i].ms);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		if (cm_parse_duration(bad[i], &v) == 0)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal(errno, EINVAL);
	}
	errno = 0;
	assert_int_equal(cm_parse_duration("99999999999999999999h", &v), -1);
	assert_int_equal(errno, ERANGE);
	errno = 0;
	assert_int_equal(cm_parse_duration("9223372036854775807h", &v), -1);
	assert_int_equal(errno, ERANGE);
}

static void test_sizes(void **state)
{
	static const struct {
		const char *text;
		int64_t bytes;
	} ok[] = {
		{"0", 0},
		{"512", 512},
		{"1K", 1024},
		{"1k", 1024},
		{"64KiB", 65536},
		{"10M", 10 << 20},
		{"10MiB", 10 << 20},
		{"1.5K", 1536},
		{"2G", (int64_t)2 << 30},
		{"1 G", (int64_t)1 << 30},
	};
	static const char *const bad[] = {"",	  "K",	 "1KB", "1T", "-1",
					  "1.3K", "0.5", "1 2", "M1"};
	int64_t v;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = -1;
		if (cm_parse_size(ok[i].text, &v) < 0)
			fail_msg("'%s' refused", ok[i].text);
		assert_int_equal(v, ok[i].bytes);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (cm_parse_size(bad[i], &v) == 0)
			fail_msg("'%s' accepted", bad[i]);
	errno = 0;
	assert_int_equal(cm_parse_size("9999999999999G", &v), -1);
	assert_int_equal(errno, ERANGE);
}

static void test_signals(void **state)
{
	assert_int_equal(sup_parse_stop_signal("TERM"), SIGTERM);
	assert_int_equal(sup_parse_stop_signal("SIGTERM"), SIGTERM);
	assert_int_equal(sup_parse_stop_signal("term"), SIGTERM);
	assert_int_equal(sup_parse_stop_signal("INT"), SIGINT);
	assert_int_equal(sup_parse_stop_signal("SIGHUP"), SIGHUP);
	assert_int_equal(sup_parse_stop_signal("KILL"), SIGKILL);
	assert_int_equal(sup_parse_stop_signal("USR1"), SIGUSR1);
	assert_int_equal(sup_parse_stop_signal("SIGUSR2"), SIGUSR2);
	assert_int_equal(sup_parse_stop_signal("QUIT"), SIGQUIT);
	assert_int_equal(sup_parse_stop_signal("STOP"), -1);
	assert_int_equal(sup_parse_stop_signal("SIG"), -1);
	assert_int_equal(sup_parse_stop_signal("15"), -1);
	assert_int_equal(sup_parse_stop_signal(""), -1);
}

/* One agent's field after "[agent a]\nphase = p\ncommand = true\nLINE". */
static struct sup_workflow *agent_with(const char *line)
{
	char *text = fmt(MIN_PHASE MIN_AGENT "%s\n", line);
	struct sup_workflow *wf = parse_ok(text);

	free(text);
	return wf;
}

static void test_backoff_forms(void **state)
{
	static const struct {
		const char *text;
		int64_t min, max;
	} forms[] = {
		{"1s..60s", 1000, 60000},
		{"0..0", 0, 0},
		{"250ms..10s", 250, 10000},
		{"1", 1000, 60000},
		{"0", 0, 60000},
		{"2m", 120000, 120000},
		{"1.5..2", 1500, 2000},
		{"5s..5s", 5000, 5000},
	};
	struct sup_workflow *wf;
	char line[64];
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(line, sizeof(line), "backoff = %s", forms[i].text);
		wf = agent_with(line);
		assert_int_equal(wf->agents[0].backoff_min_ms, forms[i].min);
		assert_int_equal(wf->agents[0].backoff_max_ms, forms[i].max);
		sup_workflow_free(wf);
	}
	parse_err(MIN_PHASE MIN_AGENT "backoff = 10s..1s\n",
		  "flow.ini:5: invalid backoff '10s..1s': the minimum is above "
		  "the maximum");
	parse_err(MIN_PHASE MIN_AGENT "backoff = 1s..\n",
		  "flow.ini:5: invalid backoff maximum '': expected a duration "
		  "such as '250ms', '1.5s', '2m' or '1h' (a bare number is "
		  "seconds)");
	parse_err(MIN_PHASE MIN_AGENT "backoff = x..1s\n",
		  "flow.ini:5: invalid backoff minimum 'x': expected a "
		  "duration such as '250ms', '1.5s', '2m' or '1h' (a bare "
		  "number is seconds)");
	parse_err(MIN_PHASE MIN_AGENT "backoff = 1s..9000h\n",
		  "flow.ini:5: backoff maximum '9000h' out of range (at most "
		  "8760h)");
}

static void test_values_in_file(void **state)
{
	struct sup_workflow *wf;

	wf = agent_with("stop_signal = hup");
	assert_int_equal(wf->agents[0].stop_signal, SIGHUP);
	sup_workflow_free(wf);
	wf = agent_with("stop_signal = KILL");
	assert_int_equal(wf->agents[0].stop_signal, SIGKILL);
	sup_workflow_free(wf);
	wf = agent_with("timeout = 0");
	assert_int_equal(wf->agents[0].timeout_ms, 0);
	sup_workflow_free(wf);
	wf = agent_with("timeout = 8760h");
	assert_int_equal(wf->agents[0].timeout_ms, (int64_t)8760 * 3600 * 1000);
	sup_workflow_free(wf);
	wf = agent_with("restart = never");
	assert_int_equal(wf->agents[0].restart, SUP_RESTART_NEVER);
	sup_workflow_free(wf);
	/* Empty model and prompt mean "not set". */
	wf = agent_with("model =\nprompt =");
	assert_null(wf->agents[0].model);
	assert_null(wf->agents[0].prompt);
	sup_workflow_free(wf);
	/* ':' separates like '=' (inih); inline comments need a space. */
	wf = agent_with("model: m ; the model\nprompt = a;b");
	assert_string_equal(wf->agents[0].model, "m");
	assert_string_equal(wf->agents[0].prompt, "a;b");
	sup_workflow_free(wf);

	wf = parse_ok("[workflow]\nshm_mode = 600\nlog_max_bytes = 1K\n"
		      "frame_max = 1G\nmax_parallel = 0\n" MIN_PHASE MIN_AGENT);
	assert_int_equal(wf->shm_mode, 0600);
	assert_int_equal(wf->log_max_bytes, 1024);
	assert_int_equal(wf->frame_max, (int64_t)1 << 30);
	sup_workflow_free(wf);
}

static void test_cwd(void **state)
{
	static const struct {
		const char *cwd, *want;
	} cases[] = {
		{".", BASE},
		{"./", BASE},
		{"sub", BASE "/sub"},
		{"./sub/./deeper/", BASE "/sub/deeper"},
		{"sub//x", BASE "/sub/x"},
		{"../up", BASE "/../up"},
		{"/abs/path", "/abs/path"},
		{"/", "/"},
		{".hidden", BASE "/.hidden"},
	};
	struct sup_workflow *wf;
	char line[128];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(line, sizeof(line), "cwd = %s", cases[i].cwd);
		wf = agent_with(line);
		assert_string_equal(wf->agents[0].cwd, cases[i].want);
		sup_workflow_free(wf);
	}

	/* A relative base dir is made absolute from the current one. */
	{
		char *here = getcwd(NULL, 0), *want;

		assert_non_null(here);
		wf = sup_workflow_parse(MIN_PHASE MIN_AGENT "cwd = x\n", NULL,
					"rel", errbuf, sizeof(errbuf));
		assert_non_null(wf);
		want = fmt("%s/rel/x", strcmp(here, "/") ? here : "");
		assert_string_equal(wf->agents[0].cwd, want);
		assert_string_equal(wf->name, "workflow");
		sup_workflow_free(wf);
		free(want);
		wf = sup_workflow_parse(MIN_PHASE MIN_AGENT, NULL, NULL, errbuf,
					sizeof(errbuf));
		assert_non_null(wf);
		assert_string_equal(wf->dir, here);
		sup_workflow_free(wf);
		free(here);
	}
}

/* Loading a file: prompt_file and cwd start from the file's directory,
 * whatever the current directory. */
static void test_load_file(void **state)
{
	char *dir = make_tmpdir(), *real, *path, *sub, *want, *text;
	struct sup_workflow *wf;

	real = realpath(dir, NULL);
	assert_non_null(real);
	sub = fmt("%s/prompts", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	free(sub);
	sub = fmt("%s/prompts/scout.txt", dir);
	write_file(sub, "look around\nthen report\n", 24);
	free(sub);
	path = fmt("%s/my-flow.ini", dir);
	text = "[phase p]\n[agent scout]\nphase = p\ncommand = run\n"
	       "prompt_file = prompts/scout.txt\ncwd = work\n";
	write_file(path, text, strlen(text));

	wf = sup_workflow_load(path, errbuf, sizeof(errbuf));
	if (!wf)
		fail_msg("%s", errbuf);
	assert_string_equal(wf->name, "my-flow");
	assert_string_equal(wf->path, path);
	assert_string_equal(wf->dir, real);
	assert_string_equal(wf->agents[0].prompt, "look around\nthen report\n");
	want = fmt("%s/prompts/scout.txt", real);
	assert_string_equal(wf->agents[0].prompt_file, want);
	free(want);
	want = fmt("%s/work", real);
	assert_string_equal(wf->agents[0].cwd, want);
	free(want);
	sup_workflow_free(wf);

	/* An empty prompt is no prompt: prompt_file after it is fine. */
	text = "[phase p]\n[agent scout]\nphase = p\ncommand = run\n"
	       "prompt =\nprompt_file = prompts/scout.txt\n";
	write_file(path, text, strlen(text));
	wf = sup_workflow_load(path, errbuf, sizeof(errbuf));
	if (!wf)
		fail_msg("%s", errbuf);
	assert_string_equal(wf->agents[0].prompt, "look around\nthen report\n");
	sup_workflow_free(wf);

	/* Through a relative path from elsewhere. */
	{
		char *here = getcwd(NULL, 0);

		assert_non_null(here);
		assert_int_equal(chdir("/"), 0);
		wf = sup_workflow_load(path + 1, errbuf, sizeof(errbuf));
		assert_int_equal(chdir(here), 0);
		free(here);
		if (!wf)
			fail_msg("%s", errbuf);
		assert_string_equal(wf->dir, real);
		assert_string_equal(wf->agents[0].prompt,
				    "look around\nthen report\n");
		sup_workflow_free(wf);
	}

	/* A missing prompt file. */
	text = "[phase p]\n[agent scout]\nphase = p\ncommand = run\n"
	       "prompt_file = prompts/none.txt\n";
	write_file(path, text, strlen(text));
	assert_null(sup_workflow_load(path, errbuf, sizeof(errbuf)));
	want = fmt("%s:5: cannot read prompt_file '%s/prompts/none.txt': No "
		   "such file or directory",
		   path, real);
	assert_string_equal(errbuf, want);
	free(want);

	/* Too large a prompt file. */
	sub = fmt("%s/prompts/big.txt", dir);
	{
		char *big = malloc(SUP_PROMPT_MAX + 1);

		assert_non_null(big);
		memset(big, 'x', SUP_PROMPT_MAX + 1);
		write_file(sub, big, SUP_PROMPT_MAX + 1);
		free(big);
	}
	free(sub);
	text = "[phase p]\n[agent scout]\nphase = p\ncommand = run\n"
	       "prompt_file = prompts/big.txt\n";
	write_file(path, text, strlen(text));
	assert_null(sup_workflow_load(path, errbuf, sizeof(errbuf)));
	want = fmt("%s:5: prompt_file '%s/prompts/big.txt' is larger than "
		   "65536 bytes",
		   path, real);
	assert_string_equal(errbuf, want);
	free(want);

	/* A NUL byte in the workflow file. */
	write_file(path, "[phase p]\n\n[agent\0 x]\n", 22);
	errno = 0;
	assert_null(sup_workflow_load(path, errbuf, sizeof(errbuf)));
	assert_int_equal(errno, EINVAL);
	want = fmt("%s:3: NUL byte in the file", path);
	assert_string_equal(errbuf, want);
	free(want);

	/* A missing workflow file. */
	free(path);
	path = fmt("%s/none.ini", dir);
	errno = 0;
	assert_null(sup_workflow_load(path, errbuf, sizeof(errbuf)));
	assert_int_equal(errno, ENOENT);
	want = fmt("cannot open '%s': No such file or directory", path);
	assert_string_equal(errbuf, want);
	free(want);
	assert_null(sup_workflow_load("flow-that-is-not-here.ini", errbuf,
				      sizeof(errbuf)));
	assert_string_equal(errbuf, "cannot open 'flow-that-is-not-here.ini': "
				    "No such file or directory");

	/* A directory. */
	assert_null(sup_workflow_load(dir, errbuf, sizeof(errbuf)));
	assert_int_equal(errno, EISDIR);

	free(path);
	free(real);
	rmrf(dir);
	free(dir);
}

/* [shm]: which keys are mirrored and how many slots; defaults without. */
static void test_shm_section(void **state)
{
	struct sup_workflow *wf = parse_ok(MIN_PHASE MIN_AGENT);

	(void)state;
	assert_int_equal(wf->shm_enabled, 1);
	assert_int_equal(wf->shm_agents, 1024);
	assert_int_equal(wf->shm_key_slots, 4096);
	assert_null(wf->shm_keys);
	assert_int_equal(wf->nshm_keys, 0);
	sup_workflow_free(wf);

	wf = parse_ok("[shm]\nenabled = no\n" MIN_PHASE MIN_AGENT);
	assert_int_equal(wf->shm_enabled, 0);
	sup_workflow_free(wf);
	parse_err("[shm]\nenabled = maybe\n",
		  "flow.ini:2: invalid enabled 'maybe': expected yes or no");

	wf = parse_ok("[shm]\nkeys = review.*, plan ,  x?[ab]\n"
		      "agents = 300\nkey_slots = 64\n" MIN_PHASE MIN_AGENT);
	assert_int_equal(wf->shm_agents, 300);
	assert_int_equal(wf->shm_key_slots, 64);
	assert_int_equal(wf->nshm_keys, 3);
	assert_string_equal(wf->shm_keys[0], "review.*");
	assert_string_equal(wf->shm_keys[1], "plan");
	assert_string_equal(wf->shm_keys[2], "x?[ab]");
	assert_null(wf->shm_keys[3]);
	sup_workflow_free(wf);

	parse_err("[shm]\nkeys = a,,b\n",
		  "flow.ini:2: invalid keys 'a,,b': expected globs of 1 to "
		  "128 bytes separated by commas");
	parse_err("[shm]\nagents = 0\n",
		  "flow.ini:2: agents '0' out of range (1 to 1048576)");
	parse_err("[shm]\nkye = a\n", "flow.ini:2: unknown key 'kye' in [shm]");
	parse_err("[shm]\n[shm]\n",
		  "flow.ini:2: duplicate section [shm] (first at line 1)");
	parse_err("[shm x]\n", "flow.ini:1: [shm] takes no name");
	parse_err("[shm]\nkeys = a\nkeys = b\n",
		  "flow.ini:3: duplicate key 'keys' in [shm] (first set at "
		  "line 2)");
}

/* [fleet]: the machine the loader makes of the host name when none is
 * given (what workflow.h promises: invalid characters become '-'). */
static void host_machine(char *buf, size_t len)
{
	char host[65] = "";

	if (gethostname(host, sizeof(host)) < 0 || !host[0])
		snprintf(host, sizeof(host), "localhost");
	host[64] = '\0';
	for (char *c = host; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '.' ||
		    *c == '*' || *c == '>')
			*c = '-';
	snprintf(buf, len, "%s", host);
}

/* The defaults of [fleet], in F (given or not). */
static void assert_fleet_defaults(const struct sup_fleet *f)
{
	char machine[80];

	host_machine(machine, sizeof(machine));
	assert_null(f->nats);
	assert_string_equal(f->machine, machine);
	assert_string_equal(f->subject_prefix, "smithers");
	assert_null(f->credentials);
	assert_string_equal(f->stream, "SMITHERS");
	assert_int_equal(f->replicas, 0);
	assert_int_equal(f->duplicate_window_ms, 3600 * 1000);
	assert_int_equal(f->ship_wait_ms, 10000);
	assert_int_equal(f->verify_ms, 60000);
	assert_int_equal(f->given, 0);
}

/* Without [fleet]: no shipping, and every default filled in. */
static void test_fleet_defaults(void **state)
{
	struct sup_workflow *wf = parse_ok(MIN_PHASE MIN_AGENT);

	(void)state;
	assert_fleet_defaults(&wf->fleet);
	sup_workflow_free(wf);

	/* An empty [fleet] is no different. */
	wf = parse_ok("[fleet]\n" MIN_PHASE MIN_AGENT);
	assert_fleet_defaults(&wf->fleet);
	sup_workflow_free(wf);
}

/* Every key of [fleet], wherever the section is; paths from the file's
 * directory. */
static void test_fleet_keys(void **state)
{
	char *dir = make_tmpdir(), *creds, *text;
	struct sup_workflow *wf;
	const struct sup_fleet *f;

	(void)state;
	creds = fmt("%s/ship.creds", dir);
	write_file(creds, "-----BEGIN NATS USER JWT-----\n", 30);
	text = MIN_PHASE MIN_AGENT
		"[fleet]\n"
		"nats = nats://n1.example.com:4222 ,tls://10.0.0.2:1,"
		"  nats://[::1]:65535\n"
		"machine = build-box_7\n"
		"subject_prefix = acme.ci.v1\n"
		"credentials = ./ship.creds\n"
		"stream = ACME-CI\n"
		"replicas = 5\n"
		"duplicate_window = 2h\n"
		"ship_wait = 0\n"
		"verify = 0\n";
	errbuf[0] = '\0';
	wf = sup_workflow_parse(text, "flow.ini", dir, errbuf, sizeof(errbuf));
	if (!wf)
		fail_msg("%s", errbuf);
	f = &wf->fleet;
	assert_string_equal(f->nats, "nats://n1.example.com:4222,"
				     "tls://10.0.0.2:1,nats://[::1]:65535");
	assert_string_equal(f->machine, "build-box_7");
	assert_string_equal(f->subject_prefix, "acme.ci.v1");
	assert_string_equal(f->credentials, creds);
	assert_string_equal(f->stream, "ACME-CI");
	assert_int_equal(f->replicas, 5);
	assert_int_equal(f->duplicate_window_ms, 2 * 3600 * 1000);
	assert_int_equal(f->ship_wait_ms, 0);
	assert_int_equal(f->verify_ms, 0);
	assert_int_equal(
		f->given,
		SUP_FLEET_NATS | SUP_FLEET_MACHINE | SUP_FLEET_SUBJECT_PREFIX |
			SUP_FLEET_CREDENTIALS | SUP_FLEET_STREAM |
			SUP_FLEET_REPLICAS | SUP_FLEET_DUPLICATE_WINDOW |
			SUP_FLEET_SHIP_WAIT | SUP_FLEET_VERIFY);
	/* The agents' section ended before [fleet] began. */
	assert_string_equal(wf->agents[0].command, "true");
	sup_workflow_free(wf);

	/* The other keys without nats: kept, for a fleet.ini's nats. */
	wf = parse_ok("[fleet]\nmachine = m1\nreplicas = 1\n"
		      "duplicate_window = 1ms\nship_wait = 1.5s\n"
		      "verify = 2s\n"
		      "subject_prefix = x\nstream = \xc3\xa9t\xc3\xa9\n"
		      "nats = nats://one:1\n" MIN_PHASE MIN_AGENT);
	f = &wf->fleet;
	assert_string_equal(f->nats, "nats://one:1");
	assert_string_equal(f->machine, "m1");
	assert_string_equal(f->subject_prefix, "x");
	assert_string_equal(f->stream, "\xc3\xa9t\xc3\xa9");
	assert_int_equal(f->replicas, 1);
	assert_int_equal(f->duplicate_window_ms, 1);
	assert_int_equal(f->ship_wait_ms, 1500);
	assert_int_equal(f->verify_ms, 2000);
	sup_workflow_free(wf);
	wf = parse_ok("[fleet]\nmachine = m2\n" MIN_PHASE MIN_AGENT);
	assert_null(wf->fleet.nats);
	assert_string_equal(wf->fleet.machine, "m2");
	assert_int_equal(wf->fleet.given, SUP_FLEET_MACHINE);
	sup_workflow_free(wf);

	/* Tokens of 64 bytes are fine. */
	text = fmt("[fleet]\nmachine = %064d\nstream = %064d\n"
		   "subject_prefix = a.%064d.b\n" MIN_PHASE MIN_AGENT,
		   1, 2, 3);
	wf = parse_ok(text);
	assert_int_equal(strlen(wf->fleet.machine), 64);
	assert_int_equal(strlen(wf->fleet.stream), 64);
	sup_workflow_free(wf);
	free(text);

	free(creds);
	rmrf(dir);
	free(dir);
}

/* Every refusal of [fleet], with FILE:LINE, the section and the key. */
/* [fleet] KEY = VALUE is refused: "invalid [fleet] KEY 'VALUE" then TAIL. */
static void bad_fleet(const char *key, const char *value, const char *tail)
{
	char *text = fmt("[fleet]\n%s = %s\n", key, value);
	char *want = fmt("flow.ini:2: invalid [fleet] %s '%s%s", key, value,
			 tail);

	parse_err(text, want);
	free(text);
	free(want);
}

static void test_fleet_errors(void **state)
{
	static const char nats_expect[] =
		"': expected nats://HOST:PORT or tls://HOST:PORT (PORT 1 to "
		"65535), separated by commas";
	static const char token_expect[] =
		"': expected one token of 1 to 64 bytes without '.', '*', "
		"'>', blanks or control characters";
	static const char stream_expect[] =
		"': expected one token of 1 to 64 bytes without '.', '*', "
		"'>', '/', '\\', blanks or control characters";
	static const char prefix_expect[] =
		"': expected subject tokens separated by '.', each 1 to 64 "
		"bytes without '*', '>', blanks or control characters";
	static const char *const bad_nats[][2] = {
		{"http://h:4222", "http://h:4222"},
		{"nats://h", "nats://h"},
		{"nats://h:", "nats://h:"},
		{"nats://h:0", "nats://h:0"},
		{"nats://h:65536", "nats://h:65536"},
		{"nats://h:-1", "nats://h:-1"},
		{"nats://h:42x", "nats://h:42x"},
		{"nats://:4222", "nats://:4222"},
		{"nats://", "nats://"},
		{"nats://h x:4222", "nats://h x:4222"},
		{"nats://user:pw@h:4222", "nats://user:pw@h:4222"},
		{"nats://h:4222/", "nats://h:4222/"},
		{"nats://[::1:4222", "nats://[::1:4222"},
		{"NATS://h:4222", "NATS://h:4222"},
		{"nats://a:1, tls://b", "tls://b"},
		{",nats://a:1", NULL},
		{"nats://a:1,,nats://b:2", NULL},
		{"nats://a:1, ,nats://b:2", NULL},
		{"nats://a:1,", NULL},
	};
	static const char *const bad_tokens[] = {
		"a.b", "a*", "a>", "a b", "a\tb", "a\x01z", "a\x7fz", "*",
	};
	static const char *const bad_prefixes[] = {
		"a..b", ".a", "a.", "a.*", "a.b c", "a.>", "smithers.>",
	};
	char *text, *want, *dir, *sub;
	size_t i;

	(void)state;
	/* Sections and keys. */
	parse_err("[fleet]\nnats = nats://h:4222\nnatz = x\n",
		  "flow.ini:3: unknown key 'natz' in [fleet]");
	parse_err(MIN_PHASE "[fleet]\n" MIN_AGENT "[fleet]\n",
		  "flow.ini:6: duplicate section [fleet] (first at line 2)");
	parse_err("[fleet x]\n", "flow.ini:1: [fleet] takes no name");
	parse_err("[fleet]\nstream = A\nstream = B\n",
		  "flow.ini:3: duplicate key 'stream' in [fleet] (first set "
		  "at line 2)");
	parse_err("[fleet]\nnats =\n", "flow.ini:2: empty value for 'nats'");
	parse_err("[fleet]\ncredentials =\n",
		  "flow.ini:2: empty value for 'credentials'");
	parse_err("[fleet]\nmachine = a\n  b\n",
		  "flow.ini:3: indented line continues 'machine', which takes "
		  "one line (remove the indentation)");

	/* nats: each bad server named. */
	for (i = 0; i < sizeof(bad_nats) / sizeof(*bad_nats); i++) {
		text = fmt("[fleet]\nnats = %s\n", bad_nats[i][0]);
		if (bad_nats[i][1])
			want = fmt("flow.ini:2: invalid [fleet] nats server "
				   "'%s%s",
				   bad_nats[i][1], nats_expect);
		else
			want = fmt("flow.ini:2: invalid [fleet] nats '%s': a "
				   "server is missing between commas",
				   bad_nats[i][0]);
		parse_err(text, want);
		free(text);
		free(want);
	}

	/* machine, stream, subject_prefix. */
	for (i = 0; i < sizeof(bad_tokens) / sizeof(*bad_tokens); i++) {
		bad_fleet("machine", bad_tokens[i], token_expect);
		bad_fleet("stream", bad_tokens[i], stream_expect);
	}
	parse_err("[fleet]\nstream = a/b\n",
		  "flow.ini:2: invalid [fleet] stream 'a/b"
		  "': expected one token of 1 to 64 bytes without '.', '*', "
		  "'>', '/', '\\', blanks or control characters");
	bad_fleet("stream", "a\\b", stream_expect);
	for (i = 0; i < sizeof(bad_prefixes) / sizeof(*bad_prefixes); i++)
		bad_fleet("subject_prefix", bad_prefixes[i], prefix_expect);
	text = fmt("%065d", 1);
	bad_fleet("machine", text, token_expect);
	free(text);
	text = fmt("a.%065d", 1);
	bad_fleet("subject_prefix", text, prefix_expect);
	free(text);

	/* replicas, duplicate_window, ship_wait. */
	parse_err("[fleet]\nreplicas = 0\n",
		  "flow.ini:2: invalid [fleet] replicas '0': expected a whole "
		  "number from 1 to 5");
	parse_err("[fleet]\nreplicas = 6\n",
		  "flow.ini:2: invalid [fleet] replicas '6': expected a whole "
		  "number from 1 to 5");
	parse_err("[fleet]\nreplicas = three\n",
		  "flow.ini:2: invalid [fleet] replicas 'three': expected a "
		  "whole number from 1 to 5");
	parse_err("[fleet]\nduplicate_window = 0\n",
		  "flow.ini:2: [fleet] duplicate_window '0' out of range "
		  "(above 0, at most 7d)");
	parse_err("[fleet]\nduplicate_window = 0s\n",
		  "flow.ini:2: [fleet] duplicate_window '0s' out of range "
		  "(above 0, at most 7d)");
	parse_err("[fleet]\nduplicate_window = 169h\n",
		  "flow.ini:2: [fleet] duplicate_window '169h' out of range "
		  "(above 0, at most 7d)");
	parse_err("[fleet]\nduplicate_window = 1 hour\n",
		  "flow.ini:2: invalid [fleet] duplicate_window '1 hour': "
		  "expected a duration such as '250ms', '1.5s', '2m' or '1h' "
		  "(a bare number is seconds)");
	parse_err("[fleet]\nship_wait = -1s\n",
		  "flow.ini:2: invalid [fleet] ship_wait '-1s': expected a "
		  "duration such as '250ms', '1.5s', '2m' or '1h' (a bare "
		  "number is seconds)");
	parse_err("[fleet]\nship_wait = 8761h\n",
		  "flow.ini:2: [fleet] ship_wait '8761h' out of range (at most "
		  "8760h)");
	parse_err("[fleet]\nverify = often\n",
		  "flow.ini:2: invalid [fleet] verify 'often': expected a "
		  "duration such as '250ms', '1.5s', '2m' or '1h' (a bare "
		  "number is seconds)");

	/* credentials: a file that can be read, from the file's directory. */
	parse_err("[fleet]\ncredentials = none.creds\n",
		  "flow.ini:2: cannot read [fleet] credentials "
		  "'/base/dir/none.creds': No such file or directory");
	dir = make_tmpdir();
	errbuf[0] = '\0';
	assert_null(sup_workflow_parse("[fleet]\ncredentials = .\n", "f.ini",
				       dir, errbuf, sizeof(errbuf)));
	want = fmt("f.ini:2: cannot read [fleet] credentials '%s': Is a "
		   "directory",
		   dir);
	assert_string_equal(errbuf, want);
	free(want);
	if (geteuid() != 0) {
		sub = fmt("%s/locked.creds", dir);
		write_file(sub, "x", 1);
		assert_int_equal(chmod(sub, 0), 0);
		errbuf[0] = '\0';
		assert_null(sup_workflow_parse("[fleet]\ncredentials = "
					       "locked.creds\n",
					       "f.ini", dir, errbuf,
					       sizeof(errbuf)));
		want = fmt("f.ini:2: cannot read [fleet] credentials '%s': "
			   "Permission denied",
			   sub);
		assert_string_equal(errbuf, want);
		free(want);
		free(sub);
	}
	rmrf(dir);
	free(dir);
}

/* sup_fleet_merge_file(F, PATH) with errbuf and errno cleared first. */
static int merge(struct sup_fleet *f, const char *path)
{
	errbuf[0] = '\0';
	errno = 0;
	return sup_fleet_merge_file(f, path, errbuf, sizeof(errbuf));
}

/* TEXT as the fleet.ini PATH is refused with "PATH:WANT"; F unchanged. */
static void merge_err(struct sup_fleet *f, const char *path, const char *text,
		      const char *want)
{
	unsigned given = f->given;
	char *full = fmt("%s:%s", path, want);

	write_file(path, text, strlen(text));
	assert_int_equal(merge(f, path), -1);
	assert_int_equal(errno, EINVAL);
	assert_string_equal(errbuf, full);
	assert_int_equal(f->given, given);
	free(full);
}

/* A state dir's fleet.ini: its keys under the workflow's, key by key. */
static void test_fleet_merge(void **state)
{
	char *dir = make_tmpdir(), *real, *sdir, *path, *creds, *want, *here;
	struct sup_workflow *wf;
	struct sup_fleet f;
	const char *text;

	(void)state;
	real = realpath(dir, NULL);
	assert_non_null(real);
	sdir = fmt("%s/.smithers", dir);
	assert_int_equal(mkdir(sdir, 0700), 0);
	path = fmt("%s/fleet.ini", sdir);
	creds = fmt("%s/my.creds", sdir);
	write_file(creds, "x", 1);
	text = "; for every run of this state dir\n"
	       "[fleet]\n"
	       "nats = nats://n1:4222, nats://n2:4222\n"
	       "machine = from-file\n"
	       "stream = FILE\n"
	       "replicas = 3\n"
	       "ship_wait = 0\n"
	       "credentials = my.creds\n";
	write_file(path, text, strlen(text));

	/* The workflow's machine and ship_wait win; the rest is the file's. */
	wf = parse_ok("[fleet]\nmachine = from-wf\nship_wait = 2s\n" MIN_PHASE
			      MIN_AGENT);
	assert_int_equal(merge(&wf->fleet, path), 0);
	assert_string_equal(errbuf, "");
	assert_string_equal(wf->fleet.nats, "nats://n1:4222,nats://n2:4222");
	assert_string_equal(wf->fleet.machine, "from-wf");
	assert_string_equal(wf->fleet.stream, "FILE");
	assert_int_equal(wf->fleet.replicas, 3);
	assert_int_equal(wf->fleet.ship_wait_ms, 2000);
	want = fmt("%s/.smithers/my.creds", real);
	assert_string_equal(wf->fleet.credentials, want);
	free(want);
	assert_string_equal(wf->fleet.subject_prefix, "smithers");
	assert_int_equal(wf->fleet.duplicate_window_ms, 3600 * 1000);
	assert_int_equal(wf->fleet.given,
			 SUP_FLEET_NATS | SUP_FLEET_MACHINE | SUP_FLEET_STREAM |
				 SUP_FLEET_REPLICAS | SUP_FLEET_SHIP_WAIT |
				 SUP_FLEET_CREDENTIALS);
	/* Merged again: nothing left to take. */
	assert_int_equal(merge(&wf->fleet, path), 0);
	assert_string_equal(wf->fleet.machine, "from-wf");
	sup_workflow_free(wf);

	/* A zeroed fleet gets the defaults, then the file's keys. */
	memset(&f, 0, sizeof(f));
	assert_int_equal(merge(&f, path), 0);
	assert_string_equal(f.machine, "from-file");
	assert_string_equal(f.subject_prefix, "smithers");
	assert_string_equal(f.stream, "FILE");
	assert_int_equal(f.ship_wait_ms, 0);
	assert_int_equal(f.duplicate_window_ms, 3600 * 1000);
	sup_fleet_free(&f);
	assert_null(f.machine);
	sup_fleet_free(&f);
	sup_fleet_free(NULL);

	/* Through a relative path: messages name it as given; credentials
	 * still start from the file's directory. */
	here = getcwd(NULL, 0);
	assert_non_null(here);
	assert_int_equal(chdir(dir), 0);
	memset(&f, 0, sizeof(f));
	assert_int_equal(merge(&f, ".smithers/fleet.ini"), 0);
	want = fmt("%s/.smithers/my.creds", real);
	assert_string_equal(f.credentials, want);
	free(want);
	sup_fleet_free(&f);
	merge_err(&f, ".smithers/fleet.ini", "[fleet]\nreplicas = 9\n",
		  "2: invalid [fleet] replicas '9': expected a whole number "
		  "from 1 to 5");
	assert_int_equal(chdir(here), 0);
	free(here);

	/* A missing file: 0, nothing changed (a zeroed fleet gets the
	 * defaults). */
	wf = parse_ok("[fleet]\nmachine = from-wf\n" MIN_PHASE MIN_AGENT);
	want = fmt("%s/none.ini", sdir);
	strcpy(errbuf, "stale");
	assert_int_equal(
		sup_fleet_merge_file(&wf->fleet, want, errbuf, sizeof(errbuf)),
		0);
	assert_string_equal(errbuf, "");
	assert_string_equal(wf->fleet.machine, "from-wf");
	assert_null(wf->fleet.nats);
	assert_int_equal(wf->fleet.given, SUP_FLEET_MACHINE);
	memset(&f, 0, sizeof(f));
	assert_int_equal(sup_fleet_merge_file(&f, want, NULL, 0), 0);
	assert_fleet_defaults(&f);
	sup_fleet_free(&f);
	free(want);

	/* Refused: only [fleet] goes in a fleet.ini, with known keys; the
	 * fleet stays as it was. */
	merge_err(&wf->fleet, path,
		  "[fleet]\nnats = nats://n1:4222\n[agent x]\nphase = p\n",
		  "3: section [agent x] does not go in this file: it takes "
		  "[fleet] only");
	assert_null(wf->fleet.nats);
	assert_string_equal(wf->fleet.machine, "from-wf");
	merge_err(&wf->fleet, path, "[workflow]\nname = x\n",
		  "1: section [workflow] does not go in this file: it takes "
		  "[fleet] only");
	merge_err(&wf->fleet, path,
		  "[fleet]\nnats = nats://n1:4222\nbogus = 1\n",
		  "3: unknown key 'bogus' in [fleet]");
	merge_err(&wf->fleet, path, "nats = nats://n1:4222\n",
		  "1: key 'nats' outside any section (start with [fleet])");
	merge_err(&wf->fleet, path, "[fleet]\n[fleet]\n",
		  "2: duplicate section [fleet] (first at line 1)");
	want = fmt("2: cannot read [fleet] credentials "
		   "'%s/.smithers/gone.creds': No such file or directory",
		   real);
	merge_err(&wf->fleet, path, "[fleet]\ncredentials = gone.creds\n",
		  want);
	free(want);
	assert_null(wf->fleet.nats);
	assert_null(wf->fleet.credentials);

	/* No [fleet] at all, or an empty file: nothing to take. */
	write_file(path, "; nothing yet\n", 14);
	assert_int_equal(merge(&wf->fleet, path), 0);
	write_file(path, "", 0);
	assert_int_equal(merge(&wf->fleet, path), 0);
	assert_int_equal(wf->fleet.given, SUP_FLEET_MACHINE);
	assert_null(wf->fleet.nats);

	/* Not a file. */
	assert_int_equal(merge(&wf->fleet, sdir), -1);
	assert_int_equal(errno, EISDIR);
	want = fmt("cannot open '%s': Is a directory", sdir);
	assert_string_equal(errbuf, want);
	free(want);
	assert_string_equal(wf->fleet.machine, "from-wf");
	sup_workflow_free(wf);

	free(creds);
	free(path);
	free(sdir);
	free(real);
	rmrf(dir);
	free(dir);
}

/* Every error names FILE:LINE and the problem; the first one wins. */
static void test_errors(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		/* Sections. */
		{"[phse x]\n", "flow.ini:1: unknown section [phse x]"},
		{"; c\n[ workflow ]\n[workflow]\n",
		 "flow.ini:3: duplicate section [workflow] (first at line 2)"},
		{MIN_PHASE MIN_AGENT "[phase p]\n",
		 "flow.ini:5: duplicate section [phase p] (first at line 1)"},
		{MIN_PHASE MIN_AGENT MIN_AGENT,
		 "flow.ini:5: duplicate section [agent a] (first at line 2)"},
		{"[workflow x]\n",
		 "flow.ini:1: [workflow] takes no name (set 'name = x' in it)"},
		{"[phase]\n",
		 "flow.ini:1: section [phase] needs a name: [phase "
		 "NAME]"},
		{"[agent  ]\n", "flow.ini:1: section [agent] needs a name: "
				"[agent NAME]"},
		{"[phase a b]\n",
		 "flow.ini:1: invalid phase name 'a b': use letters, digits, "
		 "'.', '_' and '-', at most 64"},
		{"[agent a/b]\n",
		 "flow.ini:1: invalid agent name 'a/b': use letters, digits, "
		 "'.', '_' and '-', at most 64"},
		{"[agent ..]\n",
		 "flow.ini:1: invalid agent name '..': use letters, digits, "
		 "'.', '_' and '-', at most 64"},
		{"[phase x\n",
		 "flow.ini:1: expected ']' to close the section header"},
		{"[phase x ; y]\n",
		 "flow.ini:1: expected ']' to close the section header"},
		{"[phase x] y\n",
		 "flow.ini:1: unexpected text after the section header"},
		/* Lines and keys. */
		{"x = 1\n", "flow.ini:1: key 'x' outside any section (start "
			    "with [workflow], [phase NAME] or [agent NAME])"},
		{MIN_PHASE "just words\n",
		 "flow.ini:2: expected 'key = value', a [section] header or a "
		 "comment"},
		{MIN_PHASE "= 3\n", "flow.ini:2: missing key name before '='"},
		{MIN_PHASE MIN_AGENT "comand = x\n",
		 "flow.ini:5: unknown key 'comand' in [agent a]"},
		{"[agent scout]\n\n\n\n\n\n\n\n\n\n\ncomand = x\n",
		 "flow.ini:12: unknown key 'comand' in [agent scout]"},
		{"[workflow]\nphase = x\n",
		 "flow.ini:2: unknown key 'phase' in [workflow]"},
		{"[phase q]\ncommand = x\n",
		 "flow.ini:2: unknown key 'command' in [phase q]"},
		{"[phase q]\nMax_Iterations = 2\n",
		 "flow.ini:2: unknown key 'Max_Iterations' in [phase q]"},
		{MIN_PHASE MIN_AGENT "command = y\n",
		 "flow.ini:5: duplicate key 'command' in [agent a] (first set "
		 "at line 4)"},
		{"[workflow]\nname = a\nname = b\n",
		 "flow.ini:3: duplicate key 'name' in [workflow] (first set at "
		 "line 2)"},
		{"[phase q]\nuntil = exists a\n\nuntil = exists b\n",
		 "flow.ini:4: duplicate key 'until' in [phase q] (first set at "
		 "line 2)"},
		{MIN_PHASE "[agent a]\nphase =\n",
		 "flow.ini:3: empty value for 'phase'"},
		{MIN_PHASE "[agent a]\nphase = p\ncommand =\n",
		 "flow.ini:4: empty value for 'command'"},
		/* Required keys: the line of the section header. */
		{MIN_PHASE "[agent a]\ncommand = x\n[agent b]\n",
		 "flow.ini:2: [agent a] has no 'phase' (required)"},
		{MIN_PHASE "\n[agent a]\nphase = p\n",
		 "flow.ini:3: [agent a] has no 'command' (required)"},
		/* References, checked once the file is read. */
		{"[agent scout]\nphase = review\ncommand = x\n[phase other]\n",
		 "flow.ini:2: agent 'scout' names phase 'review' which is not "
		 "defined"},
		{"[workflow]\n",
		 "flow.ini: no [phase NAME] section: a workflow "
		 "needs at least one phase"},
		{"", "flow.ini: no [phase NAME] section: a workflow needs at "
		     "least one phase"},
		{MIN_PHASE MIN_AGENT "\n[phase lonely]\n",
		 "flow.ini:6: phase 'lonely' has no agents"},
		/* Values. */
		{"[workflow]\nname = my flow\n",
		 "flow.ini:2: invalid name 'my flow': use letters, digits, "
		 "'.', "
		 "'_' and '-', at most 64"},
		{"[workflow]\nmax_parallel = many\n",
		 "flow.ini:2: invalid max_parallel 'many': expected a whole "
		 "number"},
		{"[workflow]\nmax_parallel = -1\n",
		 "flow.ini:2: max_parallel '-1' out of range (0 to 1000000)"},
		{"[workflow]\nmax_parallel = 99999999999999999999999\n",
		 "flow.ini:2: max_parallel '99999999999999999999999' out of "
		 "range (0 to 1000000)"},
		{"[workflow]\nmax_parallel = 1.5\n",
		 "flow.ini:2: invalid max_parallel '1.5': expected a whole "
		 "number"},
		{"[workflow]\nsynchronous = off\n",
		 "flow.ini:2: invalid synchronous 'off': expected full or "
		 "normal"},
		{"[workflow]\nsynchronous = FULL\n",
		 "flow.ini:2: invalid synchronous 'FULL': expected full or "
		 "normal"},
		{"[workflow]\nlog_max_bytes = 10X\n",
		 "flow.ini:2: invalid log_max_bytes '10X': expected a size in "
		 "bytes, with an optional K, M or G"},
		{"[workflow]\nlog_max_bytes = 100\n",
		 "flow.ini:2: log_max_bytes '100' out of range (1024 bytes to "
		 "1099511627776 bytes)"},
		{"[workflow]\nlog_keep = 1001\n",
		 "flow.ini:2: log_keep '1001' out of range (0 to 1000)"},
		{"[workflow]\nframe_max = 2G\n",
		 "flow.ini:2: frame_max '2G' out of range (1024 bytes to "
		 "1073741824 bytes)"},
		{"[workflow]\nshm_mode = 0689\n",
		 "flow.ini:2: invalid shm_mode '0689': expected octal "
		 "permissions such as 0600 or 0640"},
		{"[workflow]\nshm_mode = 1777\n",
		 "flow.ini:2: shm_mode '1777' out of range (0 to 0777)"},
		{"[workflow]\nstop_grace = soon\n",
		 "flow.ini:2: invalid stop_grace 'soon': expected a duration "
		 "such as '250ms', '1.5s', '2m' or '1h' (a bare number is "
		 "seconds)"},
		{"[phase q]\nmax_iterations = 0\n",
		 "flow.ini:2: max_iterations '0' out of range (1 to 1000000)"},
		{"[phase q]\non_failure = retry\n",
		 "flow.ini:2: invalid on_failure 'retry': expected stop or "
		 "continue"},
		{"[phase q]\nuntil = x = 1\n",
		 "flow.ini:2: until: expected '==' or '!=' after key 'x'"},
		{"[phase q]\nuntil = x == tru\n",
		 "flow.ini:2: until: invalid JSON value 'tru': invalid token "
		 "near 'tru' (a string needs double quotes: \"tru\")"},
		{MIN_PHASE MIN_AGENT "restart = sometimes\n",
		 "flow.ini:5: invalid restart 'sometimes': expected never, "
		 "on-failure or always"},
		{MIN_PHASE MIN_AGENT "max_restarts = -2\n",
		 "flow.ini:5: max_restarts '-2' out of range (0 to 1000000)"},
		{MIN_PHASE MIN_AGENT "startsecs = 1 minute\n",
		 "flow.ini:5: invalid startsecs '1 minute': expected a "
		 "duration "
		 "such as '250ms', '1.5s', '2m' or '1h' (a bare number is "
		 "seconds)"},
		{MIN_PHASE MIN_AGENT "timeout = 8761h\n",
		 "flow.ini:5: timeout '8761h' out of range (at most 8760h)"},
		{MIN_PHASE MIN_AGENT "stop_signal = STOP\n",
		 "flow.ini:5: invalid stop_signal 'STOP': expected TERM, INT, "
		 "HUP, KILL, USR1, USR2 or QUIT"},
		{MIN_PHASE MIN_AGENT "stop_grace = -1\n",
		 "flow.ini:5: invalid stop_grace '-1': expected a duration "
		 "such "
		 "as '250ms', '1.5s', '2m' or '1h' (a bare number is seconds)"},
		{MIN_PHASE MIN_AGENT "prompt = x\nprompt_file = p.txt\n",
		 "flow.ini:6: [agent a] sets both prompt and prompt_file (keep "
		 "one)"},
		/* env. */
		{MIN_PHASE MIN_AGENT "env = NOVALUE\n",
		 "flow.ini:5: invalid env 'NOVALUE': expected NAME=VALUE, NAME "
		 "made of letters, digits and '_', not starting with a digit"},
		{MIN_PHASE MIN_AGENT "env = 1X=2\n",
		 "flow.ini:5: invalid env '1X=2': expected NAME=VALUE, NAME "
		 "made "
		 "of letters, digits and '_', not starting with a digit"},
		{MIN_PHASE MIN_AGENT "env = A-B=2\n",
		 "flow.ini:5: invalid env 'A-B=2': expected NAME=VALUE, NAME "
		 "made of letters, digits and '_', not starting with a digit"},
		{MIN_PHASE MIN_AGENT "env = =2\n",
		 "flow.ini:5: invalid env '=2': expected NAME=VALUE, NAME made "
		 "of letters, digits and '_', not starting with a digit"},
		{MIN_PHASE MIN_AGENT "env = A=1\nenv = A=2\n",
		 "flow.ini:6: env 'A' is set twice"},
		{MIN_PHASE MIN_AGENT "env = SMITHERS_FD=3\n",
		 "flow.ini:5: env 'SMITHERS_FD' is reserved: smithers sets the "
		 "SMITHERS_* variables"},
		/* Continuation lines of keys that take one line. */
		{MIN_PHASE "[agent a]\n  phase = p\n  command = x\n",
		 "flow.ini:4: indented line continues 'phase', which takes one "
		 "line (remove the indentation)"},
		{"[phase q]\nuntil = exists a\n   and more\n",
		 "flow.ini:3: indented line continues 'until', which takes one "
		 "line (remove the indentation)"},
		/* The first error wins. */
		{"[phse x]\n[phase]\n", "flow.ini:1: unknown section [phse x]"},
		{"[phase q]\nbad line\n[phse x]\n",
		 "flow.ini:2: expected 'key = value', a [section] header or a "
		 "comment"},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		parse_err(cases[i].text, cases[i].want);
}

/* The default name comes from the file name, when it is a valid name. */
/* kind = claude: its keys, their defaults, and what does not go with it. */
static void test_claude_keys(void **state)
{
	struct sup_workflow *wf;
	const struct sup_agent *a;
	const struct sup_cli *c;

	(void)state;
	wf = parse_ok("[workflow]\nmax_cost_usd = 5\n" MIN_PHASE
		      "[agent r]\nphase = p\nkind = claude\n"
		      "prompt = Review\n  the code\nmodel = sonnet\n"
		      "allowed_tools = Bash(git diff:*), Read ,Grep\n"
		      "disallowed_tools = WebFetch\n"
		      "permission_mode = acceptEdits\nmax_turns = 12\n"
		      "max_cost_usd = $0.75\n"
		      "claude_args = --add-dir \"/a b\" --fallback-model "
		      "'x y'\n"
		      "claude_command = node /opt/cli.js\n"
		      "session = continue\nline_max = 1M\n"
		      "resume_prompt = Go on\n  please\n");
	assert_true(wf->max_cost_usd == 5.0);
	a = &wf->agents[0];
	c = &a->cli;
	assert_int_equal(a->kind, SUP_KIND_CLAUDE);
	assert_string_equal(sup_kind_name(a->kind), "claude");
	assert_null(a->command);
	assert_string_equal(a->prompt, "Review\nthe code");
	assert_string_equal(c->allowed_tools[0], "Bash(git diff:*)");
	assert_string_equal(c->allowed_tools[1], "Read");
	assert_string_equal(c->allowed_tools[2], "Grep");
	assert_null(c->allowed_tools[3]);
	assert_string_equal(c->disallowed_tools[0], "WebFetch");
	assert_string_equal(c->permission_mode, "acceptEdits");
	assert_int_equal(c->max_turns, 12);
	assert_true(c->max_cost_usd == 0.75);
	assert_string_equal(c->args[0], "--add-dir");
	assert_string_equal(c->args[1], "/a b");
	assert_string_equal(c->args[2], "--fallback-model");
	assert_string_equal(c->args[3], "x y");
	assert_null(c->args[4]);
	assert_string_equal(c->command[0], "node");
	assert_string_equal(c->command[1], "/opt/cli.js");
	assert_int_equal(c->session, SUP_SESSION_CONTINUE);
	assert_int_equal(c->line_max, 1024 * 1024);
	assert_string_equal(c->resume_prompt, "Go on\nplease");
	sup_workflow_free(wf);

	/* The defaults. */
	wf = parse_ok(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
				"prompt = hi\n" MIN_AGENT);
	c = &wf->agents[0].cli;
	assert_true(wf->max_cost_usd < 0);
	assert_null(c->command);
	assert_null(c->allowed_tools);
	assert_null(c->permission_mode);
	assert_int_equal(c->max_turns, 0);
	assert_true(c->max_cost_usd < 0);
	assert_int_equal(c->session, SUP_SESSION_FRESH);
	assert_int_equal(c->line_max, SUP_DEFAULT_LINE_MAX);
	assert_string_equal(c->resume_prompt, SUP_DEFAULT_RESUME_PROMPT);
	assert_int_equal(wf->agents[1].kind, SUP_KIND_COMMAND);
	assert_string_equal(sup_kind_name(wf->agents[1].kind), "command");
	sup_workflow_free(wf);

	/* Errors, each at its line. */
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = shell\n",
		  "flow.ini:4: invalid kind 'shell': expected command, "
		  "claude or codex");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n",
		  "flow.ini:2: [agent r] has kind = claude but no 'prompt' "
		  "or 'prompt_file' (required)");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\ncommand = claude -p x\n",
		  "flow.ini:6: [agent r] has kind = claude: smithers runs "
		  "the CLI itself, so 'command' does not go with it (see "
		  "claude_command and claude_args)");
	parse_err(MIN_PHASE MIN_AGENT "max_turns = 3\n",
		  "flow.ini:5: 'max_turns' is for kind = claude only "
		  "([agent a] runs a command)");
	parse_err(MIN_PHASE MIN_AGENT "max_cost_usd = 3\n",
		  "flow.ini:5: 'max_cost_usd' is for kind = claude or codex "
		  "only ([agent a] runs a command)");
	parse_err(MIN_PHASE MIN_AGENT "kind = claude\nprompt = x\n",
		  "flow.ini:4: [agent a] has kind = claude: smithers runs "
		  "the CLI itself, so 'command' does not go with it (see "
		  "claude_command and claude_args)");
	parse_err("[workflow]\nmax_cost_usd = -1\n" MIN_PHASE MIN_AGENT,
		  "flow.ini:2: invalid max_cost_usd '-1': expected an amount "
		  "in US dollars above 0 and at most 1000000, such as 2.50");
	parse_err("[workflow]\nmax_cost_usd = 1e3\n" MIN_PHASE MIN_AGENT,
		  "flow.ini:2: invalid max_cost_usd '1e3': expected an amount "
		  "in US dollars above 0 and at most 1000000, such as 2.50");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\nclaude_args = --x 'open\n",
		  "flow.ini:6: invalid claude_args '--x 'open': expected "
		  "words, quoted with '...' or \"...\"");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\nallowed_tools = Read,,Bash\n",
		  "flow.ini:6: invalid allowed_tools 'Read,,Bash': expected "
		  "names separated by commas");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\nsession = old\n",
		  "flow.ini:6: invalid session 'old': expected fresh or "
		  "continue");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\npermission_mode = a b\n",
		  "flow.ini:6: invalid permission_mode 'a b': expected one "
		  "of the CLI's modes, such as acceptEdits or plan");
	parse_err(MIN_PHASE "[agent r]\nphase = p\nkind = claude\n"
			    "prompt = x\nmax_turns = 0\n",
		  "flow.ini:6: max_turns '0' out of range (1 to 100000)");
}

/* kind = codex: its keys, prices and budgets, and what does not go with
 * it. */
static void test_codex_keys(void **state)
{
	const struct sup_cli *c;
	struct sup_workflow *wf;

	(void)state;
	wf = parse_ok("[workflow]\nprice_input = 1.25\n"
		      "price_cached_input = 0.125\nprice_output = 10\n"
		      "max_tokens = 5000000\n" MIN_PHASE
		      "[agent x]\nphase = p\nkind = codex\nprompt = fix it\n"
		      "model = gpt-5-codex\nsandbox = workspace-write\n"
		      "codex_args = -c 'model_reasoning_effort=\"low\"'\n"
		      "codex_command = node /opt/codex.js\n"
		      "max_cost_usd = 2\nmax_tokens = 100000\n"
		      "session = continue\n"
		      "[agent y]\nphase = p\nkind = codex\nprompt = y\n"
		      "price_output = 8\n");
	c = &wf->agents[0].cli;
	assert_int_equal(wf->agents[0].kind, SUP_KIND_CODEX);
	assert_string_equal(sup_kind_name(wf->agents[0].kind), "codex");
	assert_string_equal(c->sandbox, "workspace-write");
	assert_string_equal(c->args[0], "-c");
	assert_string_equal(c->args[1], "model_reasoning_effort=\"low\"");
	assert_null(c->args[2]);
	assert_string_equal(c->command[0], "node");
	assert_true(c->max_cost_usd == 2);
	assert_int_equal(c->max_tokens, 100000);
	assert_int_equal(wf->max_tokens, 5000000);
	assert_int_equal(c->session, SUP_SESSION_CONTINUE);
	assert_true(c->prices.input == 1.25);
	assert_true(c->prices.cached_input == 0.125);
	assert_true(c->prices.output == 10);
	/* The workflow's prices, but its own price_output. */
	c = &wf->agents[1].cli;
	assert_true(c->prices.input == 1.25);
	assert_true(c->prices.output == 8);
	assert_null(c->sandbox);
	assert_string_equal(c->resume_prompt, SUP_DEFAULT_RESUME_PROMPT);
	sup_workflow_free(wf);

	/* Errors, each at its line. */
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n",
		  "flow.ini:2: [agent x] has kind = codex but no 'prompt' "
		  "or 'prompt_file' (required)");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\ncommand = codex exec x\n",
		  "flow.ini:6: [agent x] has kind = codex: smithers runs the "
		  "CLI itself, so 'command' does not go with it (see "
		  "codex_command and codex_args)");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\nsandbox = none\n",
		  "flow.ini:6: invalid sandbox 'none': expected read-only, "
		  "workspace-write or danger-full-access");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\nmax_turns = 3\n",
		  "flow.ini:6: 'max_turns' is for kind = claude only "
		  "([agent x] is kind = codex)");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = claude\n"
			    "prompt = x\nsandbox = read-only\n",
		  "flow.ini:6: 'sandbox' is for kind = codex only "
		  "([agent x] is kind = claude)");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = claude\n"
			    "prompt = x\nprice_input = 3\n",
		  "flow.ini:6: 'price_input' is for kind = codex only "
		  "([agent x] is kind = claude)");
	parse_err(MIN_PHASE MIN_AGENT "max_tokens = 10\n",
		  "flow.ini:5: 'max_tokens' is for kind = claude or codex "
		  "only ([agent a] runs a command)");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\nsystem_prompt = be brief\n",
		  "flow.ini:6: [agent x] has kind = codex, whose CLI takes "
		  "no system prompt: put it in the prompt");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\nmax_cost_usd = 1\n",
		  "flow.ini:2: [agent x] has kind = codex, which reports no "
		  "cost: max_cost_usd needs price_input, price_cached_input "
		  "and price_output (here or in [workflow]), or use "
		  "max_tokens");
	parse_err("[workflow]\nmax_cost_usd = 5\n" MIN_PHASE
		  "[agent x]\nphase = p\nkind = codex\nprompt = x\n",
		  "flow.ini:4: [workflow] max_cost_usd cannot cover [agent x]: "
		  "kind = codex reports no cost, so set price_input, "
		  "price_cached_input and price_output, or use max_tokens");
	parse_err(MIN_PHASE "[agent x]\nphase = p\nkind = codex\n"
			    "prompt = x\nprice_input = 1\n",
		  "flow.ini:2: [agent x] has some prices but not all: set "
		  "price_input, price_cached_input and price_output (here or "
		  "in [workflow])");
	parse_err("[workflow]\nprice_output = -1\n" MIN_PHASE MIN_AGENT,
		  "flow.ini:2: invalid price_output '-1': expected US dollars "
		  "per million tokens, 0 or more, such as 1.25");
	parse_err("[workflow]\nmax_tokens = 0\n" MIN_PHASE MIN_AGENT,
		  "flow.ini:2: invalid max_tokens '0': expected a count of "
		  "tokens above 0, such as 2000000");
}

/* The containment keys: [workflow] cgroups, and the limits, [workflow]'s
 * the agents' defaults, each agent's own keys over them one by one. */
static void test_limits(void **state)
{
	struct sup_workflow *wf;
	const struct sup_limits *l;

	(void)state;
	wf = parse_ok(MIN_PHASE MIN_AGENT);
	assert_int_equal(wf->cgroups, SUP_CGROUPS_AUTO);
	l = &wf->agents[0].limits;
	assert_int_equal(l->memory_max, 0);
	assert_int_equal(l->memory_high, 0);
	assert_int_equal(l->pids_max, 0);
	assert_int_equal(l->cpu_weight, 0);
	assert_true(l->cpu_max == 0);
	sup_workflow_free(wf);

	/* Every key, in [workflow] and in an agent; the agents come first
	 * in the file and still get [workflow]'s. */
	wf = parse_ok(MIN_PHASE MIN_AGENT
		      "[agent b]\nphase = p\ncommand = b\n"
		      "memory_max = 1.5G\nmemory_high = 1G\npids_max = 64\n"
		      "cpu_weight = 10000\ncpu_max = 0.5\n"
		      "[agent c]\nphase = p\nkind = claude\nprompt = c\n"
		      "memory_high = 100M\ncpu_max = 4\n"
		      "[workflow]\ncgroups = required\nmemory_max = 2G\n"
		      "memory_high = 1536M\npids_max = 512\ncpu_weight = 50\n"
		      "cpu_max = 1.5\n");
	assert_int_equal(wf->cgroups, SUP_CGROUPS_REQUIRED);
	l = &wf->limits;
	assert_int_equal(l->memory_max, (int64_t)2 << 30);
	assert_int_equal(l->memory_high, (int64_t)1536 << 20);
	assert_int_equal(l->pids_max, 512);
	assert_int_equal(l->cpu_weight, 50);
	assert_true(l->cpu_max == 1.5);
	/* a: all of [workflow]'s. */
	l = &wf->agents[0].limits;
	assert_int_equal(l->memory_max, (int64_t)2 << 30);
	assert_int_equal(l->memory_high, (int64_t)1536 << 20);
	assert_int_equal(l->pids_max, 512);
	assert_int_equal(l->cpu_weight, 50);
	assert_true(l->cpu_max == 1.5);
	/* b: all of its own. */
	l = &wf->agents[1].limits;
	assert_int_equal(l->memory_max, (int64_t)3 << 29);
	assert_int_equal(l->memory_high, (int64_t)1 << 30);
	assert_int_equal(l->pids_max, 64);
	assert_int_equal(l->cpu_weight, 10000);
	assert_true(l->cpu_max == 0.5);
	/* c (a CLI's kind takes them too): two of its own, three inherited. */
	l = &wf->agents[2].limits;
	assert_int_equal(l->memory_max, (int64_t)2 << 30);
	assert_int_equal(l->memory_high, (int64_t)100 << 20);
	assert_int_equal(l->pids_max, 512);
	assert_int_equal(l->cpu_weight, 50);
	assert_true(l->cpu_max == 4);
	sup_workflow_free(wf);

	/* An agent's limit with no [workflow] default; off with none set;
	 * the extremes of each range; memory_high equal to memory_max. */
	wf = parse_ok("[workflow]\ncgroups = auto\n" MIN_PHASE MIN_AGENT
		      "pids_max = 1\ncpu_weight = 1\ncpu_max = 0.01\n"
		      "memory_max = 1M\nmemory_high = 1024K\n"
		      "[agent b]\nphase = p\ncommand = b\n"
		      "pids_max = 4194304\ncpu_max = 1024\n");
	assert_int_equal(wf->cgroups, SUP_CGROUPS_AUTO);
	l = &wf->agents[0].limits;
	assert_int_equal(l->pids_max, 1);
	assert_int_equal(l->cpu_weight, 1);
	assert_true(l->cpu_max == 0.01);
	assert_int_equal(l->memory_max, 1 << 20);
	assert_int_equal(l->memory_high, 1 << 20);
	l = &wf->agents[1].limits;
	assert_int_equal(l->pids_max, 4194304);
	assert_true(l->cpu_max == 1024);
	assert_int_equal(l->memory_max, 0);
	assert_int_equal(wf->limits.pids_max, 0);
	sup_workflow_free(wf);
	wf = parse_ok("[workflow]\ncgroups = off\n" MIN_PHASE MIN_AGENT);
	assert_int_equal(wf->cgroups, SUP_CGROUPS_OFF);
	sup_workflow_free(wf);

	/* Values. */
	parse_err("[workflow]\ncgroups = yes\n",
		  "flow.ini:2: invalid cgroups 'yes': expected auto, "
		  "required or off");
	parse_err("[workflow]\nmemory_max = lots\n",
		  "flow.ini:2: invalid memory_max 'lots': expected a size in "
		  "bytes, with an optional K, M or G");
	parse_err(MIN_PHASE MIN_AGENT "memory_high = 512K\n",
		  "flow.ini:5: memory_high '512K' out of range (1048576 bytes "
		  "to 1125899906842624 bytes)");
	parse_err(MIN_PHASE MIN_AGENT "memory_max = -1G\n",
		  "flow.ini:5: invalid memory_max '-1G': expected a size in "
		  "bytes, with an optional K, M or G");
	parse_err(MIN_PHASE MIN_AGENT "pids_max = 0\n",
		  "flow.ini:5: pids_max '0' out of range (1 to 4194304)");
	parse_err("[workflow]\npids_max = many\n",
		  "flow.ini:2: invalid pids_max 'many': expected a whole "
		  "number");
	parse_err(MIN_PHASE MIN_AGENT "cpu_weight = 10001\n",
		  "flow.ini:5: cpu_weight '10001' out of range (1 to 10000)");
	parse_err("[workflow]\ncpu_weight = 0\n",
		  "flow.ini:2: cpu_weight '0' out of range (1 to 10000)");
	parse_err(MIN_PHASE MIN_AGENT "cpu_max = 0\n",
		  "flow.ini:5: invalid cpu_max '0': expected a number of "
		  "cores from 0.01 to 1024, such as 0.5, 1.5 or 4");
	parse_err(MIN_PHASE MIN_AGENT "cpu_max = 1025\n",
		  "flow.ini:5: invalid cpu_max '1025': expected a number of "
		  "cores from 0.01 to 1024, such as 0.5, 1.5 or 4");
	parse_err("[workflow]\ncpu_max = 50%\n",
		  "flow.ini:2: invalid cpu_max '50%': expected a number of "
		  "cores from 0.01 to 1024, such as 0.5, 1.5 or 4");
	parse_err("[workflow]\ncpu_max = -2\n",
		  "flow.ini:2: invalid cpu_max '-2': expected a number of "
		  "cores from 0.01 to 1024, such as 0.5, 1.5 or 4");
	parse_err("[workflow]\ncpu_max = inf\n",
		  "flow.ini:2: invalid cpu_max 'inf': expected a number of "
		  "cores from 0.01 to 1024, such as 0.5, 1.5 or 4");
	parse_err("[workflow]\ncgroups = off\ncgroups = auto\n",
		  "flow.ini:3: duplicate key 'cgroups' in [workflow] (first "
		  "set at line 2)");
	parse_err(MIN_PHASE MIN_AGENT "cgroups = off\n",
		  "flow.ini:5: unknown key 'cgroups' in [agent a]");

	/* memory_high above memory_max, wherever each comes from. */
	parse_err("[workflow]\nmemory_max = 1G\nmemory_high = 2G\n" MIN_PHASE
			  MIN_AGENT,
		  "flow.ini:3: [workflow] has memory_high 2G above "
		  "memory_max 1G: lower memory_high or raise memory_max");
	parse_err(MIN_PHASE MIN_AGENT "memory_high = 1.5G\n"
				      "memory_max = 1G\n",
		  "flow.ini:5: [agent a] has memory_high 1536M above "
		  "memory_max 1G: lower memory_high or raise memory_max");
	parse_err(MIN_PHASE MIN_AGENT "memory_high = 3G\n"
				      "[workflow]\nmemory_max = 2G\n",
		  "flow.ini:5: [agent a] has memory_high 3G above "
		  "memory_max 2G (from [workflow]): lower memory_high or "
		  "raise memory_max");
	parse_err("[workflow]\nmemory_high = 1000000K\n" MIN_PHASE MIN_AGENT
		  "memory_max = 512M\n",
		  "flow.ini:7: [agent a] has memory_high 1000000K (from "
		  "[workflow]) above memory_max 512M: lower memory_high or "
		  "raise memory_max");

	/* Limits with cgroups = off: the first one in the file, at its
	 * line, whichever section holds it. */
	parse_err("[workflow]\ncgroups = off\ncpu_weight = 5\n"
		  "memory_max = 1G\n" MIN_PHASE MIN_AGENT,
		  "flow.ini:3: cpu_weight needs cgroups, but [workflow] "
		  "cgroups = off (line 2): remove the limit, or set cgroups "
		  "to auto or required");
	parse_err(MIN_PHASE MIN_AGENT "cpu_max = 2\npids_max = 10\n"
				      "[workflow]\ncgroups = off\n",
		  "flow.ini:5: cpu_max needs cgroups, but [workflow] "
		  "cgroups = off (line 8): remove the limit, or set cgroups "
		  "to auto or required");
	parse_err(MIN_PHASE MIN_AGENT
		  "[agent b]\nphase = p\ncommand = b\n"
		  "memory_high = 1G\n[workflow]\ncgroups = off\n",
		  "flow.ini:8: memory_high needs cgroups, but [workflow] "
		  "cgroups = off (line 10): remove the limit, or set cgroups "
		  "to auto or required");
}

static void test_default_name(void **state)
{
	struct sup_workflow *wf;

	wf = sup_workflow_parse(MIN_PHASE MIN_AGENT, "dir/x.y/review.ini", BASE,
				errbuf, sizeof(errbuf));
	assert_non_null(wf);
	assert_string_equal(wf->name, "review");
	sup_workflow_free(wf);
	wf = sup_workflow_parse(MIN_PHASE MIN_AGENT, "flow.conf", BASE, errbuf,
				sizeof(errbuf));
	assert_non_null(wf);
	assert_string_equal(wf->name, "flow.conf");
	sup_workflow_free(wf);
	assert_null(sup_workflow_parse(MIN_PHASE MIN_AGENT, "my flow.ini", BASE,
				       errbuf, sizeof(errbuf)));
	assert_string_equal(errbuf, "my flow.ini: 'my flow' (from the file "
				    "name) is not a valid workflow name: set "
				    "'name' in [workflow]");
	/* An explicit name makes the file name irrelevant. */
	wf = sup_workflow_parse("[workflow]\nname = ok\n" MIN_PHASE MIN_AGENT,
				"my flow.ini", BASE, errbuf, sizeof(errbuf));
	assert_non_null(wf);
	assert_string_equal(wf->name, "ok");
	sup_workflow_free(wf);
}

/* Comments, blank lines, a byte-order mark, CRLF line ends, spacing. */
static void test_syntax(void **state)
{
	struct sup_workflow *wf =
		parse_ok("\xef\xbb\xbf; comment\r\n"
			 "# another comment\r\n"
			 "\r\n"
			 "[ phase   p ]   ; trailing comment\r\n"
			 "max_iterations=2\r\n"
			 "\t; indented comment\r\n"
			 "[agent a]\r\n"
			 "  phase = p\r\n"
			 "command    =    echo  hi   \r\n"
			 "prompt = one ; comment\r\n");

	assert_int_equal(wf->phases[0].max_iterations, 2);
	assert_string_equal(wf->agents[0].command, "echo  hi");
	assert_string_equal(wf->agents[0].prompt, "one");
	assert_int_equal(wf->agents[0].line, 7);
	sup_workflow_free(wf);
}

/* Indented lines continue text keys (joined with "\n") and env. */
static void test_continuation(void **state)
{
	struct sup_workflow *wf =
		parse_ok(MIN_PHASE "[agent a]\nphase = p\n"
				   "command = set -e\n"
				   "  make\n"
				   "\n"
				   "  make check\n"
				   "prompt =\n"
				   "    first line\n"
				   "    ; a comment, not text\n"
				   "    second line ; an inline comment\n"
				   "system_prompt = be brief\n"
				   "\tand exact\n"
				   "env = A=1\n"
				   "  B=2\n"
				   "  C=3 4\n"
				   "model = m\n");
	const struct sup_agent *a = &wf->agents[0];

	assert_string_equal(a->command, "set -e\nmake\nmake check");
	assert_string_equal(a->prompt, "first line\nsecond line");
	assert_string_equal(a->system_prompt, "be brief\nand exact");
	assert_int_equal(a->nenv, 3);
	assert_string_equal(a->env[1], "B=2");
	assert_string_equal(a->env[2], "C=3 4");
	assert_string_equal(a->model, "m");
	sup_workflow_free(wf);

	/* An indented first key of a section is a key. */
	wf = parse_ok("  [phase p]\n  max_iterations = 4\n"
		      "[agent a]\n   phase = p\ncommand = x\n");
	assert_int_equal(wf->phases[0].max_iterations, 4);
	sup_workflow_free(wf);

	/* A continuation of an env line is checked like one. */
	parse_err(MIN_PHASE MIN_AGENT "env = A=1\n  oops\n",
		  "flow.ini:6: invalid env 'oops': expected NAME=VALUE, NAME "
		  "made of letters, digits and '_', not starting with a "
		  "digit");
}

/* Lines longer than inih reads are refused, never cut. */
static void test_long_lines(void **state)
{
	char value[300];
	char *text, *want;
	struct sup_workflow *wf;
	size_t n;

	/* "prompt = " is 9 characters: 9 + 189 = 198, the longest line. */
	memset(value, 'p', 189);
	value[189] = '\0';
	text = fmt(MIN_PHASE MIN_AGENT "prompt = %s\n", value);
	wf = parse_ok(text);
	assert_int_equal(strlen(wf->agents[0].prompt), 189);
	sup_workflow_free(wf);
	free(text);

	value[189] = 'p';
	value[190] = '\0';
	text = fmt(MIN_PHASE MIN_AGENT "prompt = %s\nbogus = 1\n", value);
	parse_err(text, "flow.ini:5: line too long (199 characters; at most "
			"198: continue a long value on indented lines, or use "
			"prompt_file)");
	free(text);
	/* The last line, without its newline. */
	text = fmt(MIN_PHASE MIN_AGENT "prompt = %s", value);
	parse_err(text, "flow.ini:5: line too long (199 characters; at most "
			"198: continue a long value on indented lines, or use "
			"prompt_file)");
	free(text);

	/* A long value in several lines. */
	value[100] = '\0';
	text = fmt(MIN_PHASE MIN_AGENT "prompt = %s\n %s\n %s\n", value, value,
		   value);
	wf = parse_ok(text);
	assert_int_equal(strlen(wf->agents[0].prompt), 302);
	sup_workflow_free(wf);
	free(text);

	/* Section names longer than inih keeps (49) are still whole. */
	memset(value, 'n', 64);
	value[64] = '\0';
	text = fmt("[phase %s]\n[agent %s]\nphase = %s\ncommand = x\n", value,
		   value, value);
	wf = parse_ok(text);
	assert_string_equal(wf->phases[0].name, value);
	assert_string_equal(wf->agents[0].name, value);
	sup_workflow_free(wf);
	free(text);
	value[64] = 'n';
	value[65] = '\0';
	text = fmt("[agent %s]\n", value);
	want = fmt("flow.ini:1: invalid agent name '%s': use letters, digits, "
		   "'.', '_' and '-', at most 64",
		   value);
	parse_err(text, want);
	free(text);
	free(want);

	/* A huge line. */
	n = 100000;
	text = malloc(n + 16);
	assert_non_null(text);
	memcpy(text, "[phase ", 7);
	memset(text + 7, 'x', n);
	strcpy(text + 7 + n, "]\n");
	parse_err(text, "flow.ini:1: line too long (100008 characters; at "
			"most 198: continue a long value on indented lines, or "
			"use prompt_file)");
	free(text);

	/* A prompt made of continuation lines has a limit too. */
	{
		size_t cap = 20 + (SUP_PROMPT_MAX / 100 + 2) * 102, len = 0;
		size_t i;

		text = malloc(cap + sizeof(MIN_PHASE MIN_AGENT));
		assert_non_null(text);
		len = (size_t)sprintf(text, MIN_PHASE MIN_AGENT "prompt =\n");
		memset(value, 'q', 100);
		value[100] = '\0';
		for (i = 0; i < SUP_PROMPT_MAX / 100 + 2; i++)
			len += (size_t)sprintf(text + len, " %s\n", value);
		errbuf[0] = '\0';
		assert_null(sup_workflow_parse(text, "flow.ini", BASE, errbuf,
					       sizeof(errbuf)));
		assert_non_null(strstr(errbuf, ": prompt is longer than 65536 "
					       "bytes"));
		free(text);
	}
}

static void test_cond_parse(void **state)
{
	static const struct {
		const char *text;
		enum sup_cond_op op;
		const char *key, *json;
	} ok[] = {
		{"a == 1", SUP_COND_EQ, "a", "1"},
		{"review.approved == true", SUP_COND_EQ, "review.approved",
		 "true"},
		{"  k!=\"x y\"  ", SUP_COND_NE, "k", "\"x y\""},
		{"a==1", SUP_COND_EQ, "a", "1"},
		{"a.b-c_d:e == {\"x\": [1, 2]}", SUP_COND_EQ, "a.b-c_d:e",
		 "{\"x\": [1, 2]}"},
		{"exists k", SUP_COND_EXISTS, "k", NULL},
		{"  not   exists   k.x  ", SUP_COND_NOT_EXISTS, "k.x", NULL},
		{"exists == 1", SUP_COND_EQ, "exists", "1"},
		{"not != null", SUP_COND_NE, "not", "null"},
		{"x=y == 2", SUP_COND_EQ, "x=y", "2"},
	};
	static const struct {
		const char *text, *want;
	} bad[] = {
		{"", "empty condition: expected 'KEY == JSON', 'KEY != JSON', "
		     "'exists KEY' or 'not exists KEY'"},
		{"   ",
		 "empty condition: expected 'KEY == JSON', 'KEY != JSON', "
		 "'exists KEY' or 'not exists KEY'"},
		{"x", "expected '==' or '!=' after key 'x'"},
		{"x = 1", "expected '==' or '!=' after key 'x'"},
		{"x > 1", "expected '==' or '!=' after key 'x'"},
		{"== 1", "expected a key before '=='"},
		{"x ==", "expected a JSON value after 'x =='"},
		{"x !=   ", "expected a JSON value after 'x !='"},
		{"x == done",
		 "invalid JSON value 'done': invalid token near 'done' (a "
		 "string needs double quotes: \"done\")"},
		{"x == 1 2",
		 "invalid JSON value '1 2': end of file expected near '2'"},
		{"x == [1,",
		 "invalid JSON value '[1,': ']' expected near end of file"},
		{"x == {\"a\":1,\"a\":2}",
		 "invalid JSON value '{\"a\":1,\"a\":2}': duplicate object "
		 "key near '\"a\"'"},
		{"x == \"\\x\"",
		 "invalid JSON value '\"\\x\"': invalid escape near "
		 "'\"\\x'"},
		{"exists", "expected a key after 'exists'"},
		{"not exists", "expected a key after 'not exists'"},
		{"not", "expected 'exists' after 'not'"},
		{"not there", "expected 'exists' after 'not'"},
		{"exists a b", "unexpected 'b' after key 'a'"},
		{"exists a == 1", "unexpected '== 1' after key 'a'"},
		{"x\001 == 1", "control character in key 'x\001'"},
	};
	struct sup_cond *c;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		c = sup_cond_parse(ok[i].text, err, sizeof(err));
		if (!c)
			fail_msg("'%s': %s", ok[i].text, err);
		assert_int_equal(sup_cond_op(c), ok[i].op);
		assert_string_equal(sup_cond_key(c), ok[i].key);
		if (ok[i].json)
			assert_string_equal(sup_cond_json(c), ok[i].json);
		else
			assert_null(sup_cond_json(c));
		sup_cond_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		c = sup_cond_parse(bad[i].text, err, sizeof(err));
		if (c)
			fail_msg("'%s' accepted", bad[i].text);
		assert_int_equal(errno, EINVAL);
		if (strcmp(err, bad[i].want))
			fail_msg("'%s': error '%s', expected '%s'", bad[i].text,
				 err, bad[i].want);
	}
	assert_null(sup_cond_parse(NULL, NULL, 0));
	sup_cond_free(NULL);
}

static int eval(const char *cond, const char *current)
{
	char err[256];
	struct sup_cond *c = sup_cond_parse(cond, err, sizeof(err));
	int r;

	if (!c)
		fail_msg("'%s': %s", cond, err);
	r = sup_cond_eval(c, current);
	sup_cond_free(c);
	return r;
}

static void test_cond_eval(void **state)
{
	/* Absent keys. */
	assert_int_equal(eval("k == 1", NULL), 0);
	assert_int_equal(eval("k != 1", NULL), 1);
	assert_int_equal(eval("exists k", NULL), 0);
	assert_int_equal(eval("not exists k", NULL), 1);
	/* Present keys, null included. */
	assert_int_equal(eval("exists k", "null"), 1);
	assert_int_equal(eval("not exists k", "null"), 0);
	assert_int_equal(eval("exists k", "not even json"), 1);
	assert_int_equal(eval("k == null", "null"), 1);
	assert_int_equal(eval("k != null", "null"), 0);
	/* Values. */
	assert_int_equal(eval("k == 1", "1.0"), 1);
	assert_int_equal(eval("k != 1", "1.0"), 0);
	assert_int_equal(eval("k == 1", "2"), 0);
	assert_int_equal(eval("k == \"done\"", " \"done\" "), 1);
	assert_int_equal(eval("k == \"done\"", "\"Done\""), 0);
	assert_int_equal(eval("k == true", "1"), 0);
	assert_int_equal(eval("k == {\"a\":1,\"b\":[true,null]}",
			      "{\"b\":[true,null],\"a\":1.0}"),
			 1);
	/* Invalid current values equal nothing. */
	assert_int_equal(eval("k == 1", "1x"), 0);
	assert_int_equal(eval("k != 1", "1x"), 1);
	assert_int_equal(eval("k == \"a\"", "'a'"), 0);
	assert_int_equal(eval("k == 1", ""), 0);
}

/* Equality of JSON values, both ways. */
static void test_json_equal(void **state)
{
	static const struct {
		const char *a, *b;
		int eq;
	} cases[] = {
		/* Numbers by value. */
		{"1", "1.0", 1},
		{"1", "1.00e0", 1},
		{"100", "1e2", 1},
		{"100", "1E+2", 1},
		{"0.5", "5e-1", 1},
		{"0", "-0", 1},
		{"0", "0.0e10", 1},
		{"-0.0", "0", 1},
		{"1.5", "1.50", 1},
		{"-2", "-2.0", 1},
		{"-2", "2", 0},
		{"1", "2", 0},
		{"12", "21", 0},
		{"0.1", "0.10000000000000001", 1},
		{"9007199254740993", "9007199254740992", 0},
		{"9007199254740993", "9007199254740993.0", 1},
		{"123456789012345678901234567890",
		 "1.2345678901234567890123456789e29", 1},
		{"1e400", "1e400", 1},
		{"1e400", "2e400", 0},
		{"1e-400", "0", 0},
		{"1e-400", "2e-400", 0},
		{"1e-400", "1.0e-400", 1},
		{"1e99999999999999999999", "1e99999999999999999999", 1},
		{"1", "\"1\"", 0},
		/* Strings by content. */
		{"\"a\"", "\"a\"", 1},
		{"\"\\u0041\"", "\"A\"", 1},
		{"\"\\u00e9\"", "\"\xc3\xa9\"", 1},
		{"\"\\ud83d\\ude00\"", "\"\xf0\x9f\x98\x80\"", 1},
		{"\"\\/\\\\\\\"\\b\\f\\n\\r\\t\"",
		 "\"/\\\\\\\"\\u0008\\u000c"
		 "\\u000a\\u000D\\u0009\"",
		 1},
		{"\"a\\u0000b\"", "\"a\\u0000c\"", 0},
		{"\"a\\u0000b\"", "\"a\\u0000b\"", 1},
		{"\"a\"", "\"a \"", 0},
		{"\"\"", "\"\"", 1},
		/* Containers. */
		{"[]", "[ ]", 1},
		{"{}", " { } ", 1},
		{"[]", "{}", 0},
		{"[1,2]", "[2,1]", 0},
		{"[1,2]", "[1,2,3]", 0},
		{"[1,[2,[3]]]", "[1.0,[2e0,[30e-1]]]", 1},
		{"{\"a\":1,\"b\":2}", "{\"b\":2,\"a\":1}", 1},
		{"{\"a\":1,\"b\":2}", "{\"a\":1}", 0},
		{"{\"a\":1}", "{\"A\":1}", 0},
		{"{\"x\":{\"p\":[1,{\"q\":null,\"r\":false}],\"s\":\"t\"}}",
		 "{\"x\":{\"s\":\"t\",\"p\":[1,{\"r\":false,\"q\":null}]}}", 1},
		{"{\"x\":{\"p\":[1,{\"q\":null,\"r\":false}]}}",
		 "{\"x\":{\"p\":[1,{\"r\":true,\"q\":null}]}}", 0},
		{"{\"\\u0061\":1}", "{\"a\":1}", 1},
		{"true", "true", 1},
		{"false", "true", 0},
		{"null", "false", 0},
		/* Invalid texts equal nothing, not even themselves. */
		{"nul", "nul", 0},
		{"01", "1", 0},
		{"1.", "1", 0},
		{".5", "0.5", 0},
		{"+1", "1", 0},
		{"1e", "1", 0},
		{"[1,]", "[1]", 0},
		{"{\"a\":1,}", "{\"a\":1}", 0},
		{"{\"a\" 1}", "{\"a\":1}", 0},
		{"{a:1}", "{\"a\":1}", 0},
		{"\"\\ud800\"", "\"\\ud800\"", 0},
		{"\"\\udc00\"", "\"\\udc00\"", 0},
		{"\"\\u12\"", "\"\\u12\"", 0},
		{"\"tab\there\"", "\"tab\\there\"", 0},
		{"\"open", "\"open", 0},
		{"[1] [2]", "[1]", 0},
		{"", "", 0},
		{"NaN", "NaN", 0},
		{"Infinity", "Infinity", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sup_json_equal(cases[i].a, cases[i].b) != cases[i].eq ||
		    sup_json_equal(cases[i].b, cases[i].a) != cases[i].eq)
			fail_msg("'%s' vs '%s': expected %s", cases[i].a,
				 cases[i].b, cases[i].eq ? "equal" : "unequal");
	}
	assert_int_equal(sup_json_equal(NULL, "1"), 0);
	assert_int_equal(sup_json_check(" [1, {\"a\": \"b\"}] ", NULL, 0), 0);
	{
		char err[128];

		assert_int_equal(sup_json_check("[1, }", err, sizeof(err)), -1);
		assert_int_equal(errno, EINVAL);
		assert_string_equal(err, "unexpected token near '}'");
	}
}

/*
 * What could drift between parsers: numbers taken from the text, so that
 * jansson's 64-bit integers and doubles do not decide equality; strings
 * and keys that hold digits, quotes and escapes; nesting; what jansson
 * refuses that a hand parser might not.
 */
static void test_json_values(void **state)
{
	static const struct {
		const char *a, *b;
		int eq;
	} cases[] = {
		/* Past 64 bits and past a double's range, exactly. */
		{"18446744073709551615", "18446744073709551615", 1},
		{"18446744073709551615", "18446744073709551614", 0},
		{"18446744073709551615", "1.8446744073709551615e19", 1},
		{"-9223372036854775809", "-9223372036854775809.0", 1},
		{"-9223372036854775809", "-9223372036854775808", 0},
		{"1e309", "10e308", 1},
		{"-1e309", "1e309", 0},
		{"2.5e-324", "25e-325", 1},
		{"{\"n\":18446744073709551616}",
		 "{\"n\":1.8446744073709551616e19}", 1},
		/* Numbers stay with their own member, whatever the order. */
		{"{\"a\":1,\"b\":2,\"c\":3,\"d\":[4,5],\"e\":{\"f\":6}}",
		 "{\"e\":{\"f\":6.0},\"d\":[4,5],\"c\":3,\"b\":2,\"a\":1}", 1},
		{"{\"a\":1,\"b\":2}", "{\"a\":2,\"b\":1}", 0},
		{"[1,\"2\",3]", "[1,2,3]", 0},
		{"[1,\"2\",3]", "[1.0,\"2\",3e0]", 1},
		/* Digits, quotes and escapes inside strings and keys are text.
		 */
		{"\"1\"", "\"1.0\"", 0},
		{"\"a\\\"1\"", "\"a\\u00221\"", 1},
		{"{\"1\":\"-2\\\\\",\"3\":4}", "{\"3\":4.0,\"1\":\"-2\\\\\"}",
		 1},
		{"{\"1e5\":1}", "{\"100000\":1}", 0},
		/* Escapes and what they stand for. */
		{"\"\\u00E9\\u00e9\"", "\"\xc3\xa9\xc3\xa9\"", 1},
		{"\"\\uD83D\\uDE00\"", "\"\\ud83d\\ude00\"", 1},
		{"\"\\u2028\"", "\"\xe2\x80\xa8\"", 1},
		{"{\"\\u00e9\":[{\"x\":\"\\u0000\"}]}",
		 "{\"\xc3\xa9\":[{\"x\":\"\\u0000\"}]}", 1},
		{"{\"a\":[[],{},[{}]]}", "{\"a\":[[],{},[{}]]}", 1},
		{"{\"a\":[[],{},[{}]]}", "{\"a\":[[],{},[[]]]}", 0},
		/* Refused: not JSON, however close, and what jansson refuses.
		 */
		{"1.2.3", "1.2", 0},
		{"-01", "-1", 0},
		{"01.5", "1.5", 0},
		{"1.e5", "1e5", 0},
		{"1e+", "1", 0},
		{"-", "-", 0},
		{"- 1", "-1", 0},
		{"--1", "-1", 0},
		{"--0.00", "0", 0},
		{"[1,--2]", "[1,2]", 0},
		{"[-1,-\"a\",3]", "[-1,-\"a\",3]", 0},
		{"1true", "1", 0},
		{"[1 2]", "[1,2]", 0},
		{"[1e400 2]", "[1e400,2]", 0},
		{"\"\xff\"", "\"\xff\"", 0},
		{"\"\xc3\"", "\"\xc3\"", 0},
		{"{\"a\\u0000\":1}", "{\"a\\u0000\":1}", 0},
		{"{\"a\":1,\"\\u0061\":1}", "{\"a\":1}", 0},
	};
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (sup_json_equal(cases[i].a, cases[i].b) != cases[i].eq ||
		    sup_json_equal(cases[i].b, cases[i].a) != cases[i].eq)
			fail_msg("'%s' vs '%s': expected %s", cases[i].a,
				 cases[i].b, cases[i].eq ? "equal" : "unequal");
		/* Valid exactly when equal to itself. */
		if ((sup_json_check(cases[i].a, NULL, 0) == 0) !=
		    (sup_json_equal(cases[i].a, cases[i].a) == 1))
			fail_msg("'%s': check and equality disagree",
				 cases[i].a);
	}

	/* A number too big for jansson does not hide the error after it,
	 * and an error names the token as written, not what it was masked
	 * with. */
	assert_int_equal(sup_json_check("[1e400, }", err, sizeof(err)), -1);
	assert_string_equal(err, "unexpected token near '}'");
	assert_int_equal(
		sup_json_check("123456789012345678901 x", err, sizeof(err)),
		-1);
	assert_string_equal(err, "end of file expected near 'x'");
	assert_int_equal(sup_json_check("[12 34]", err, sizeof(err)), -1);
	assert_string_equal(err, "']' expected near '34'");
	assert_int_equal(sup_json_check("\"\xff\"", err, sizeof(err)), -1);
	assert_int_equal(errno, EINVAL);

	/* Conditions on such values. */
	assert_int_equal(
		eval("k == 18446744073709551615", "18446744073709551615"), 1);
	assert_int_equal(
		eval("k == 18446744073709551615", "18446744073709551614"), 0);
	assert_int_equal(eval("k == {\"s\":\"\\u00e9\",\"n\":[1,{\"m\":2}]}",
			      "{\"n\":[1.0,{\"m\":20e-1}],\"s\":\"\xc3\xa9\"}"),
			 1);
	assert_int_equal(eval("k != [1,[2,[3]]]", "[1,[2,[3.5]]]"), 1);
}

/* A text of DEPTH nested arrays (OPEN), then the closing brackets. */
static char *nested(int depth, const char *open, const char *close)
{
	size_t lo = strlen(open), lc = strlen(close);
	char *s = malloc((size_t)depth * (lo + lc) + 2);
	size_t n = 0;
	int i;

	assert_non_null(s);
	for (i = 0; i < depth; i++, n += lo)
		memcpy(s + n, open, lo);
	s[n++] = '1';
	for (i = 0; i < depth; i++, n += lc)
		memcpy(s + n, close, lc);
	s[n] = '\0';
	return s;
}

static void test_json_depth(void **state)
{
	char *a, *b, err[128];

	a = nested(SUP_JSON_DEPTH_MAX, "[", "]");
	b = nested(SUP_JSON_DEPTH_MAX, "[ ", " ]");
	assert_int_equal(sup_json_equal(a, b), 1);
	free(a);
	free(b);
	a = nested(SUP_JSON_DEPTH_MAX, "{\"k\":", "}");
	assert_int_equal(sup_json_check(a, NULL, 0), 0);
	free(a);

	a = nested(SUP_JSON_DEPTH_MAX + 1, "[", "]");
	assert_int_equal(sup_json_check(a, err, sizeof(err)), -1);
	assert_string_equal(err, "nested deeper than 64 levels");
	assert_int_equal(sup_json_equal(a, a), 0);
	free(a);
	/* Far deeper, unterminated, both kinds. */
	a = nested(1000000, "[{\"a\":", "");
	assert_int_equal(sup_json_equal(a, a), 0);
	assert_int_equal(sup_json_check(a, NULL, 0), -1);
	free(a);
	a = nested(200, "[", "]");
	assert_int_equal(eval("k == 1", a), 0);
	assert_int_equal(eval("k != 1", a), 1);
	free(a);
}

/* A small deterministic generator, so that failures repeat. */
static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Garbage in, no crash, no leak: random bytes, and random mutations of
 * valid texts, through every parser. */
static void test_garbage(void **state)
{
	static const char alphabet[] = "[]{}\",:\\u0123456789.eE+-truefalsnl "
				       "\t\n=!;#abcdxyz_\xc3\xa9\x80\xff";
	const char *tmpl = template_workflow();
	size_t tlen = strlen(tmpl);
	char buf[4096], *mut;
	struct sup_workflow *wf;
	struct sup_cond *c;
	size_t len, j;
	int i, k;

	for (i = 0; i < 3000; i++) {
		len = rng() % 300;
		for (j = 0; j < len; j++) {
			if (i % 2)
				buf[j] = alphabet[rng() %
						  (sizeof(alphabet) - 1)];
			else
				buf[j] = (char)(rng() % 255 + 1);
		}
		buf[len] = '\0';
		(void)sup_json_equal(buf, buf);
		(void)sup_json_equal(buf, "[1,{\"a\":\"b\"}]");
		(void)sup_json_check(buf, NULL, 0);
		c = sup_cond_parse(buf, NULL, 0);
		if (c) {
			(void)sup_cond_eval(c, buf);
			(void)sup_cond_eval(c, NULL);
			sup_cond_free(c);
		}
		wf = sup_workflow_parse(buf, "g.ini", BASE, errbuf,
					sizeof(errbuf));
		sup_workflow_free(wf);
	}

	/* Mutated copies of the example workflow. */
	mut = malloc(tlen + 1);
	assert_non_null(mut);
	for (i = 0; i < 2000; i++) {
		memcpy(mut, tmpl, tlen + 1);
		for (k = 0; k < 1 + (int)(rng() % 4); k++)
			mut[rng() % tlen] =
				alphabet[rng() % (sizeof(alphabet) - 1)];
		wf = sup_workflow_parse(mut, "m.ini", BASE, errbuf,
					sizeof(errbuf));
		if (!wf)
			assert_true(errbuf[0] != '\0');
		sup_workflow_free(wf);
	}
	free(mut);

	/* Mutated JSON. */
	for (i = 0; i < 5000; i++) {
		static const char base[] =
			"{\"a\":[1,2.5e3,-0.1,\"x\\u00e9\\n\"],\"b\":{\"c\":"
			"null,\"d\":[true,false,{}]},\"e\":\"\\ud83d\\ude00\"}";

		memcpy(buf, base, sizeof(base));
		for (k = 0; k < 1 + (int)(rng() % 3); k++)
			buf[rng() % (sizeof(base) - 1)] =
				alphabet[rng() % (sizeof(alphabet) - 1)];
		(void)sup_json_equal(buf, base);
		(void)sup_json_check(buf, NULL, 0);
	}

	/* A tiny error buffer is never overrun, and NULL is fine. */
	assert_null(sup_workflow_parse("[phse x]\n", "f.ini", BASE, buf, 4));
	assert_string_equal(buf, "f.i");
	assert_null(sup_workflow_parse("[phse x]\n", "f.ini", BASE, NULL, 0));
	assert_null(sup_cond_parse("x", buf, 1));
	assert_string_equal(buf, "");
	sup_workflow_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init_template),
		cmocka_unit_test(test_init_claude),
		cmocka_unit_test(test_init_codex),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_stop_grace_default),
		cmocka_unit_test(test_phase_order),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_backoff_forms),
		cmocka_unit_test(test_values_in_file),
		cmocka_unit_test(test_cwd),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_shm_section),
		cmocka_unit_test(test_fleet_defaults),
		cmocka_unit_test(test_fleet_keys),
		cmocka_unit_test(test_fleet_errors),
		cmocka_unit_test(test_fleet_merge),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_claude_keys),
		cmocka_unit_test(test_codex_keys),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_default_name),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_continuation),
		cmocka_unit_test(test_long_lines),
		cmocka_unit_test(test_cond_parse),
		cmocka_unit_test(test_cond_eval),
		cmocka_unit_test(test_json_equal),
		cmocka_unit_test(test_json_values),
		cmocka_unit_test(test_json_depth),
		cmocka_unit_test(test_garbage),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
