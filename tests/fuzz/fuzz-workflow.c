/*
 * fuzz-workflow.c - the workflow loader (supervisor/workflow.c) and the
 * `until` conditions it parses, against any file.
 *
 * sup_workflow_load() reads the file, refuses one holding a NUL byte and
 * hands the text to sup_workflow_parse(); the target does the same with the
 * input, as if read from "fuzz.ini". Relative paths start from a directory
 * of the target's own, made once per process, that holds one file,
 * prompt.txt, so that prompt_file has something to read.
 *
 * Beyond what the sanitizers see, a loaded workflow must keep the promises
 * of workflow.h and smithers.ini(5): a phase at least, agents in every
 * phase, absolute paths, valid names, every value in its documented range,
 * environment variables valid and set once, lookups that find what was
 * loaded; a refused file must say why, as "fuzz.ini:LINE: problem" with a
 * line that the file has.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor/cond.h"
#include "supervisor/workflow.h"
#include "tests/fuzz/fuzz.h"

static char base_dir[PATH_MAX];
static char prompt_path[PATH_MAX + 16];

static void remove_base_dir(void)
{
	unlink(prompt_path);
	rmdir(base_dir);
}

/* The directory relative paths start from, made on first use. */
static const char *base(void)
{
	static const char prompt[] = "Review the survey; approve it or not.\n";
	const char *tmp = getenv("TMPDIR");
	FILE *f;

	if (prompt_path[0])
		return base_dir;
	snprintf(base_dir, sizeof(base_dir), "%s/smithers-fuzz.XXXXXX",
		 tmp && tmp[0] == '/' ? tmp : "/tmp");
	FUZZ_CHECK(mkdtemp(base_dir) != NULL);
	snprintf(prompt_path, sizeof(prompt_path), "%s/prompt.txt", base_dir);
	f = fopen(prompt_path, "we");
	FUZZ_CHECK(f != NULL);
	FUZZ_CHECK(fwrite(prompt, 1, sizeof(prompt) - 1, f) ==
		   sizeof(prompt) - 1);
	FUZZ_CHECK(fclose(f) == 0);
	atexit(remove_base_dir);
	return base_dir;
}

/* At most 8760h, as smithers.ini(5) says of every duration. */
#define DURATION_MAX ((int64_t)8760 * 3600 * 1000)
#define COUNT_MAX    1000000

static bool absolute(const char *path)
{
	return path && path[0] == '/';
}

static bool in(int64_t v, int64_t min, int64_t max)
{
	return v >= min && v <= max;
}

/* 1 to SUP_NAME_MAX letters, digits, '.', '_' and '-'; not "." or "..". */
static bool valid_name(const char *s)
{
	size_t n = s ? strspn(s, "abcdefghijklmnopqrstuvwxyz"
				 "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
		     : 0;

	return n && !s[n] && n <= SUP_NAME_MAX && strcmp(s, ".") &&
	       strcmp(s, "..");
}

/* ENV[K] is NAME=VALUE with a valid NAME, not reserved, not set before. */
static void check_env(char *const *env, size_t k)
{
	const char *e = env[k], *eq = strchr(e, '=');
	size_t n = eq ? (size_t)(eq - e) : 0, j;

	FUZZ_CHECK(n > 0 && !(e[0] >= '0' && e[0] <= '9'));
	FUZZ_CHECK(strspn(e, "abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") == n);
	FUZZ_CHECK(strncmp(e, "SMITHERS_", 9) != 0);
	for (j = 0; j < k; j++)
		FUZZ_CHECK(strncmp(env[j], e, n + 1) != 0);
}

static void check_until(const struct sup_phase *ph)
{
	const char *json;
	int eq;

	FUZZ_CHECK(!ph->until == !ph->until_text);
	if (!ph->until)
		return;
	json = sup_cond_json(ph->until);
	switch (sup_cond_op(ph->until)) {
	case SUP_COND_EQ:
	case SUP_COND_NE:
		eq = sup_cond_op(ph->until) == SUP_COND_EQ;
		FUZZ_CHECK(json != NULL);
		FUZZ_CHECK(sup_cond_eval(ph->until, json) == eq);
		FUZZ_CHECK(sup_cond_eval(ph->until, NULL) == !eq);
		break;
	case SUP_COND_EXISTS:
	case SUP_COND_NOT_EXISTS:
		eq = sup_cond_op(ph->until) == SUP_COND_EXISTS;
		FUZZ_CHECK(json == NULL);
		FUZZ_CHECK(sup_cond_eval(ph->until, "true") == eq);
		FUZZ_CHECK(sup_cond_eval(ph->until, NULL) == !eq);
		break;
	default:
		FUZZ_CHECK(!"a known operator");
	}
	FUZZ_CHECK(sup_cond_key(ph->until)[0] != '\0');
}

/* A limit is 0 (none) or in the range smithers.ini(5) gives it. */
static void check_limits(const struct sup_limits *l)
{
	FUZZ_CHECK(!l->memory_max || in(l->memory_max, 1 << 20, INT64_MAX));
	FUZZ_CHECK(!l->memory_high || in(l->memory_high, 1 << 20, INT64_MAX));
	FUZZ_CHECK(in(l->pids_max, 0, 4194304));
	FUZZ_CHECK(in(l->cpu_weight, 0, 10000));
	FUZZ_CHECK(l->cpu_max == 0 || (l->cpu_max >= 0.01 && l->cpu_max <= 1024));
}

static void check_agent(const struct sup_workflow *wf, size_t i)
{
	const struct sup_agent *a = &wf->agents[i];
	size_t k;

	FUZZ_CHECK(valid_name(a->name));
	FUZZ_CHECK(sup_workflow_find_agent(wf, a->name) == (ssize_t)i);
	FUZZ_CHECK(a->phase < wf->nphases);
	FUZZ_CHECK(a->command && a->command[0]);
	FUZZ_CHECK(absolute(a->cwd));
	FUZZ_CHECK(!a->prompt_file || absolute(a->prompt_file));
	FUZZ_CHECK(!a->prompt_file || a->prompt);
	FUZZ_CHECK(!a->prompt || strlen(a->prompt) <= SUP_PROMPT_MAX);
	FUZZ_CHECK(!a->model || a->model[0]);
	FUZZ_CHECK(!a->prompt || a->prompt[0] || a->prompt_file);
	FUZZ_CHECK(!a->system_prompt || a->system_prompt[0]);
	for (k = 0; k < a->nenv; k++)
		check_env(a->env, k);
	FUZZ_CHECK(!a->env || !a->env[a->nenv]);
	FUZZ_CHECK(in(a->max_restarts, 0, COUNT_MAX));
	FUZZ_CHECK(in(a->backoff_min_ms, 0, DURATION_MAX));
	FUZZ_CHECK(in(a->backoff_max_ms, a->backoff_min_ms, DURATION_MAX));
	FUZZ_CHECK(in(a->startsecs_ms, 0, DURATION_MAX));
	FUZZ_CHECK(in(a->timeout_ms, 0, DURATION_MAX));
	FUZZ_CHECK(in(a->stop_grace_ms, 0, DURATION_MAX));
	check_limits(&a->limits);
	FUZZ_CHECK(!a->limits.memory_high || !a->limits.memory_max ||
		   a->limits.memory_high <= a->limits.memory_max);
	FUZZ_CHECK(a->stop_signal == SIGTERM || a->stop_signal == SIGINT ||
		   a->stop_signal == SIGHUP || a->stop_signal == SIGKILL ||
		   a->stop_signal == SIGUSR1 || a->stop_signal == SIGUSR2 ||
		   a->stop_signal == SIGQUIT);
}

static void check_workflow(const struct sup_workflow *wf)
{
	const struct sup_phase *ph;
	size_t i, j, total = 0;

	FUZZ_CHECK(valid_name(wf->name));
	FUZZ_CHECK(wf->path && absolute(wf->dir));
	FUZZ_CHECK(wf->max_parallel >= 0);
	FUZZ_CHECK(in(wf->log_max_bytes, 1024, (int64_t)1024 << 30));
	FUZZ_CHECK(in(wf->log_keep, 0, 1000));
	FUZZ_CHECK(in(wf->frame_max, 1024, (int64_t)1 << 30));
	FUZZ_CHECK(in(wf->shm_mode, 0, 0777));
	FUZZ_CHECK(in(wf->stop_grace_ms, 0, DURATION_MAX));
	FUZZ_CHECK(wf->cgroups == SUP_CGROUPS_AUTO ||
		   wf->cgroups == SUP_CGROUPS_REQUIRED ||
		   wf->cgroups == SUP_CGROUPS_OFF);
	check_limits(&wf->limits);
	FUZZ_CHECK(in(wf->shm_agents, 1, 1048576));
	FUZZ_CHECK(in(wf->shm_key_slots, 1, 1048576));
	FUZZ_CHECK(!wf->shm_keys || !wf->shm_keys[wf->nshm_keys]);
	for (i = 0; i < wf->nshm_keys; i++)
		FUZZ_CHECK(wf->shm_keys[i] &&
			   in((int64_t)strlen(wf->shm_keys[i]), 1,
			      SUP_SHM_KEY_MAX));
	FUZZ_CHECK(wf->nphases >= 1);
	for (i = 0; i < wf->nphases; i++) {
		ph = &wf->phases[i];
		FUZZ_CHECK(valid_name(ph->name));
		FUZZ_CHECK(sup_workflow_find_phase(wf, ph->name) == (ssize_t)i);
		FUZZ_CHECK(in(ph->max_iterations, 1, COUNT_MAX));
		FUZZ_CHECK(ph->nagents >= 1);
		for (j = 0; j < ph->nagents; j++) {
			FUZZ_CHECK(ph->agents[j] < wf->nagents);
			FUZZ_CHECK(wf->agents[ph->agents[j]].phase == i);
			FUZZ_CHECK(j == 0 || ph->agents[j - 1] < ph->agents[j]);
			FUZZ_CHECK(sup_workflow_phase_agent(wf, i, j) ==
				   &wf->agents[ph->agents[j]]);
		}
		FUZZ_CHECK(!sup_workflow_phase_agent(wf, i, ph->nagents));
		check_until(ph);
		total += ph->nagents;
	}
	FUZZ_CHECK(total == wf->nagents);
	FUZZ_CHECK(!sup_workflow_phase_agent(wf, wf->nphases, 0));
	for (i = 0; i < wf->nagents; i++)
		check_agent(wf, i);
}

/* ERR is "fuzz.ini: problem" or "fuzz.ini:LINE: problem", LINE being a
 * line of TEXT. */
static void check_error(const char *err, const char *text)
{
	const char *p = err + strlen("fuzz.ini:");
	long line, lines = 1;
	char *end;

	FUZZ_CHECK(!strncmp(err, "fuzz.ini:", strlen("fuzz.ini:")));
	if (*p == ' ') {
		FUZZ_CHECK(p[1] != '\0');
		return;
	}
	line = strtol(p, &end, 10);
	for (; *text; text++)
		lines += *text == '\n';
	FUZZ_CHECK(end != p && end[0] == ':' && end[1] == ' ' && end[2]);
	FUZZ_CHECK(line >= 1 && line <= lines);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sup_workflow *wf;
	char err[1024];
	char *text;

	/* What sup_workflow_load() refuses before parsing. */
	if (size > SUP_WORKFLOW_FILE_MAX || memchr(data, '\0', size))
		return 0;
	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	errno = 0;
	wf = sup_workflow_parse(text, "fuzz.ini", base(), err, sizeof(err));
	if (wf) {
		check_workflow(wf);
		if (fuzz_verbose())
			fprintf(stderr,
				"workflow '%s': %zu phases, %zu agents\n",
				wf->name, wf->nphases, wf->nagents);
		sup_workflow_free(wf);
	} else {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM);
		check_error(err, text);
		if (fuzz_verbose())
			fprintf(stderr, "refused: %s\n", err);
	}
	free(text);
	return 0;
}
