/*
 * frames.c - the decoded frames of the adapters' unit tests (frames.h).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/unit/frames.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

void run_free(struct run *run)
{
	for (size_t i = 0; i < run->n; i++) {
		struct rec *r = &run->r[i];

		free(r->tool);
		free(r->json);
		free(r->ref);
		free(r->output);
		free(r->status);
		free(r->error);
		free(r->level);
		free(r->text);
		free(r->session_id);
		free(r->model);
		free(r->agent_version);
	}
	free(run->r);
	run->r = NULL;
	run->n = 0;
}

/* A copy of M (its strings too) appended to RUN. */
static void keep(struct run *run, const struct wrk_msg *m)
{
	struct rec *r;

	run->r = realloc(run->r, (run->n + 1) * sizeof(*run->r));
	assert_non_null(run->r);
	r = &run->r[run->n++];
	memset(r, 0, sizeof(*r));
	r->type = m->type;
	r->seq = m->seq;
	r->call = m->call;
	r->parent = m->parent;
	r->pid = m->pid;
	r->tool = dup_or_null(m->tool);
	r->json = dup_or_null(m->json);
	r->ref = dup_or_null(m->ref);
	if (m->output) {
		r->output = malloc(m->output_len + 1);
		assert_non_null(r->output);
		memcpy(r->output, m->output, m->output_len + 1);
	}
	r->output_len = m->output_len;
	r->status = dup_or_null(m->status);
	r->error = dup_or_null(m->error);
	r->level = dup_or_null(m->level);
	r->text = dup_or_null(m->text);
	r->session_id = dup_or_null(m->session_id);
	r->model = dup_or_null(m->model);
	r->agent_version = dup_or_null(m->agent_version);
	r->tokens_in = m->tokens_in;
	r->tokens_out = m->tokens_out;
	r->cache_read = m->cache_read;
	r->cache_write = m->cache_write;
	r->reasoning = m->reasoning;
	r->cost = m->cost;
	r->has_cost = m->has_cost;
	r->total = m->total;
}

void decode_all(const struct wrk_buf *b, size_t frame_max, struct run *run)
{
	struct wrk_decoder *d = wrk_decoder_new(frame_max);
	struct wrk_msg m;
	int rc;

	assert_non_null(d);
	memset(run, 0, sizeof(*run));
	assert_int_equal(wrk_decoder_feed(d, b->data, b->len), 0);
	while ((rc = wrk_decoder_next(d, &m)) == 1)
		keep(run, &m);
	if (rc != 0)
		fail_msg("frame %zu does not decode: %s", run->n + 1,
			 wrk_decoder_errmsg(d));
	assert_int_equal(wrk_decoder_pending(d), 0);
	wrk_decoder_free(d);
}

const struct rec *nth(const struct run *run, enum wrk_type t, int n)
{
	for (size_t i = 0; i < run->n; i++)
		if (run->r[i].type == t && n-- == 0)
			return &run->r[i];
	fail_msg("no '%s' number %d", wrk_type_name(t), n);
	return NULL;
}

int count(const struct run *run, enum wrk_type t)
{
	int n = 0;

	for (size_t i = 0; i < run->n; i++)
		n += run->r[i].type == t;
	return n;
}
