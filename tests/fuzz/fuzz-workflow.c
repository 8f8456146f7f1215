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
 * of workflow.h (a phase at least, agents in every phase, absolute paths,
 * defaults applied, lookups that find what was loaded), and a refused one
 * must say why.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
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

static bool absolute(const char *path)
{
	return path && path[0] == '/';
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

static void check_agent(const struct sup_workflow *wf, size_t i)
{
	const struct sup_agent *a = &wf->agents[i];
	size_t k;

	FUZZ_CHECK(a->name && a->name[0]);
	FUZZ_CHECK(strlen(a->name) <= SUP_NAME_MAX);
	FUZZ_CHECK(sup_workflow_find_agent(wf, a->name) == (ssize_t)i);
	FUZZ_CHECK(a->phase < wf->nphases);
	FUZZ_CHECK(a->command && a->command[0]);
	FUZZ_CHECK(absolute(a->cwd));
	FUZZ_CHECK(!a->prompt_file || absolute(a->prompt_file));
	FUZZ_CHECK(!a->prompt_file || a->prompt);
	FUZZ_CHECK(!a->prompt || strlen(a->prompt) <= SUP_PROMPT_MAX);
	for (k = 0; k < a->nenv; k++)
		FUZZ_CHECK(a->env[k] && strchr(a->env[k], '=') &&
			   a->env[k][0] != '=');
	FUZZ_CHECK(!a->env || !a->env[a->nenv]);
	FUZZ_CHECK(a->max_restarts >= 0);
	FUZZ_CHECK(a->backoff_min_ms >= 0);
	FUZZ_CHECK(a->backoff_max_ms >= a->backoff_min_ms);
	FUZZ_CHECK(a->startsecs_ms >= 0 && a->timeout_ms >= 0);
	FUZZ_CHECK(a->stop_signal > 0 && a->stop_grace_ms >= 0);
}

static void check_workflow(const struct sup_workflow *wf)
{
	const struct sup_phase *ph;
	size_t i, j, total = 0;

	FUZZ_CHECK(wf->name && wf->name[0]);
	FUZZ_CHECK(strlen(wf->name) <= SUP_NAME_MAX);
	FUZZ_CHECK(wf->path && absolute(wf->dir));
	FUZZ_CHECK(wf->max_parallel >= 0);
	FUZZ_CHECK(wf->log_max_bytes > 0 && wf->log_keep >= 0);
	FUZZ_CHECK(wf->frame_max > 0);
	FUZZ_CHECK(wf->shm_agents > 0 && wf->shm_key_slots > 0);
	FUZZ_CHECK(!wf->shm_keys || !wf->shm_keys[wf->nshm_keys]);
	for (i = 0; i < wf->nshm_keys; i++)
		FUZZ_CHECK(wf->shm_keys[i] &&
			   strlen(wf->shm_keys[i]) <= SUP_SHM_KEY_MAX);
	FUZZ_CHECK(wf->nphases >= 1);
	for (i = 0; i < wf->nphases; i++) {
		ph = &wf->phases[i];
		FUZZ_CHECK(ph->name && ph->name[0]);
		FUZZ_CHECK(sup_workflow_find_phase(wf, ph->name) == (ssize_t)i);
		FUZZ_CHECK(ph->max_iterations >= 1);
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
		FUZZ_CHECK(errno != 0);
		FUZZ_CHECK(err[0] != '\0');
		if (fuzz_verbose())
			fprintf(stderr, "refused: %s\n", err);
	}
	free(text);
	return 0;
}
