/*
 * adapter.c - the layer every adapter's parser stands on (adapter.h,
 * adapter-int.h): the agent's output cut into lines, whatever the cuts of
 * the feeds, the frames numbered and kept within frame_max, the calls
 * (the CLI's id -> our call id), and the end of the stream.
 *
 * Invariants: at most line_max bytes of a line are buffered (a longer
 * line is dropped up to its newline, with a log); a line that is not JSON
 * is logged and remembered (the CLI's stderr shares the pipe: what it said
 * last is in the `fail` of a stream that ends early), never an error;
 * every frame fits in frame_max (long outputs and results are cut at a
 * UTF-8 boundary, with a note); a call is completed once, and those still
 * running at the end fail ("interrupted"), in the order they started.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <jansson.h>

#include "common/units.h"
#include "worker/adapter-int.h"
#include "worker/frame.h"
#include "worker/text.h"

int wrk_adapter_init(struct wrk_parser *p, const struct wrk_adapter_ops *ops,
		     size_t line_max, size_t frame_max)
{
	p->ops = ops;
	p->line_max = line_max ? line_max : WRK_LINE_MAX;
	p->frame_max = frame_max && frame_max < WRK_FRAME_MAX ? frame_max
							      : WRK_FRAME_MAX;
	p->calls = json_object();
	p->open = json_object();
	if (!p->calls || !p->open) {
		errno = ENOMEM;
		return -1;
	}
	return 0;
}

void wrk_parser_free(struct wrk_parser *p)
{
	if (!p)
		return;
	if (p->ops && p->ops->release)
		p->ops->release(p);
	json_decref(p->calls);
	json_decref(p->open);
	wrk_buf_release(&p->line);
	free(p);
}

/* ---- frames out ------------------------------------------------------- */

int wrk_adapter_emit(struct wrk_parser *p, struct wrk_msg *m)
{
	size_t start = p->out->len;

	m->seq = p->seq + 1;
	if (wrk_encode(p->out, m) < 0) {
		if (errno == ERANGE)
			return 1;
		p->err = errno;
		return -1;
	}
	if (p->out->len - start - WRK_HEADER_LEN > p->frame_max) {
		p->out->len = start;
		return 1;
	}
	p->seq++;
	return 0;
}

void wrk_adapter_log(struct wrk_parser *p, const char *level, const char *fmt,
		     ...)
{
	struct wrk_msg m = {.type = WRK_LOG, .level = level};
	char text[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(text))
		wrk_text_trim(text);
	m.text = text;
	wrk_adapter_emit(p, &m); /* a log that does not fit is not worth more */
}

int wrk_adapter_emit_cut(struct wrk_parser *p, struct wrk_msg *m,
			 const char **slot, size_t *lenp, size_t len,
			 const char *what)
{
	const char *whole = *slot;
	struct wrk_buf probe = {0};
	char note[200];
	size_t base, keep, n;
	char *cut;
	int r;

	r = wrk_adapter_emit(p, m);
	if (r != 1 || !whole)
		return r;
	/* The frame without the text, then what is left for it. */
	*slot = "";
	if (lenp)
		*lenp = 0;
	r = wrk_encode(&probe, m);
	base = probe.len - WRK_HEADER_LEN;
	wrk_buf_release(&probe);
	n = (size_t)snprintf(note, sizeof(note),
			     "\n[smithers: %s truncated: %zu of %zu bytes "
			     "kept; the whole stream is in the agent's log]",
			     what, (size_t)0, len);
	/* 5: the largest str header; 20: the note's count growing. */
	if (r < 0 || base + 5 + n + 20 > p->frame_max) {
		*slot = whole;
		return r < 0 && errno != ERANGE ? (p->err = errno, -1) : 1;
	}
	keep = p->frame_max - base - 5 - n - 20;
	keep = wrk_text_cut(whole, keep < len ? keep : len);
	n = (size_t)snprintf(note, sizeof(note),
			     "\n[smithers: %s truncated: %zu of %zu bytes "
			     "kept; the whole stream is in the agent's log]",
			     what, keep, len);
	cut = malloc(keep + n + 1);
	if (!cut) {
		*slot = whole;
		p->err = ENOMEM;
		return -1;
	}
	memcpy(cut, whole, keep);
	memcpy(cut + keep, note, n + 1);
	*slot = cut;
	if (lenp)
		*lenp = keep + n;
	r = wrk_adapter_emit(p, m);
	free(cut);
	*slot = whole;
	if (lenp)
		*lenp = len;
	return r;
}

/* ---- reading the JSON ------------------------------------------------- */

const char *wrk_json_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

uint64_t wrk_json_count(const json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) && json_integer_value(v) > 0
		       ? (uint64_t)json_integer_value(v)
		       : 0;
}

uint64_t wrk_count_add(uint64_t a, uint64_t b)
{
	return b > (uint64_t)INT64_MAX - a ? (uint64_t)INT64_MAX : a + b;
}

/* ---- calls ------------------------------------------------------------ */

uint64_t wrk_adapter_call_of(json_t *map, const char *ref)
{
	json_t *v = ref ? json_object_get(map, ref) : NULL;

	return json_is_integer(v) ? (uint64_t)json_integer_value(v) : 0;
}

void wrk_adapter_call_start(struct wrk_parser *p, const char *ref,
			    const char *tool, const char *input,
			    uint64_t parent)
{
	struct wrk_msg m = {.type = WRK_TOOL_START};
	char note[200];
	json_t *id;
	int r;

	m.ref = ref;
	m.tool = tool;
	m.json = input;
	m.call = p->last_call + 1;
	m.parent = parent;
	r = wrk_adapter_emit(p, &m);
	if (r == 1) {
		snprintf(note, sizeof(note),
			 "\"[smithers: input of %zu bytes not kept: too large "
			 "for a frame; the whole stream is in the agent's "
			 "log]\"",
			 input ? strlen(input) : 0);
		m.json = note;
		r = wrk_adapter_emit(p, &m);
		if (r == 1)
			wrk_adapter_log(p, "error",
					"line %" PRIu64 ": %s too large for a "
					"frame: ignored",
					p->lines + 1, p->ops->start_noun);
	}
	if (r != 0)
		return;
	p->last_call = m.call;
	id = json_integer((json_int_t)m.call);
	if (!id || json_object_set(p->calls, m.ref, id) < 0 ||
	    json_object_set(p->open, m.ref, id) < 0)
		p->err = ENOMEM;
	json_decref(id);
}

void wrk_adapter_call_complete(struct wrk_parser *p, const char *ref,
			       uint64_t call, struct wrk_buf *text,
			       const char *error)
{
	struct wrk_msg m = {.type = WRK_TOOL_COMPLETE};
	size_t len = text->len - 1;

	m.call = call;
	m.output = len ? text->data : NULL;
	m.output_len = len;
	m.status = error ? "failed" : "completed";
	m.error = error;
	if (wrk_adapter_emit_cut(p, &m, &m.output, &m.output_len, len,
				 "output") == 1) {
		m.output = NULL;
		m.output_len = 0;
		if (wrk_adapter_emit(p, &m) == 1)
			wrk_adapter_log(p, "error",
					"line %" PRIu64 ": %s too large for "
					"a frame: ignored",
					p->lines + 1, p->ops->complete_noun);
	}
	if (!p->err)
		json_object_del(p->open, ref);
	wrk_buf_release(text);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Every call still running fails, in the order they started. */
static void interrupt_calls(struct wrk_parser *p)
{
	size_t n = json_object_size(p->open), i = 0;
	uint64_t *ids = calloc(n ? n : 1, sizeof(*ids));
	void *it;

	if (!ids) {
		p->err = ENOMEM;
		return;
	}
	for (it = json_object_iter(p->open); it;
	     it = json_object_iter_next(p->open, it))
		ids[i++] = (uint64_t)json_integer_value(
			json_object_iter_value(it));
	qsort(ids, n, sizeof(*ids), cmp_u64);
	for (i = 0; i < n; i++) {
		struct wrk_msg m = {.type = WRK_TOOL_COMPLETE};

		m.call = ids[i];
		m.status = "failed";
		m.error = "interrupted";
		wrk_adapter_emit(p, &m);
	}
	json_object_clear(p->open);
	free(ids);
}

void wrk_adapter_ended(struct wrk_parser *p, int status, const char *what,
		       const char *note)
{
	struct wrk_msg m = {.type = WRK_FAIL};
	char error[128 + sizeof(p->said) + WRK_TEXT_ERROR_MAX + 200];
	const char *name;
	size_t n;

	if (WIFSIGNALED(status)) {
		name = cm_signal_name(WTERMSIG(status));
		if (name)
			snprintf(error, sizeof(error),
				 "%s (killed by signal %s)", what, name);
		else
			snprintf(error, sizeof(error),
				 "%s (killed by signal %d)", what,
				 WTERMSIG(status));
	} else {
		snprintf(error, sizeof(error), "%s (exit status %d)", what,
			 WEXITSTATUS(status));
	}
	n = strlen(error);
	if (p->said[0] && n < sizeof(error))
		snprintf(error + n, sizeof(error) - n, ": %s", p->said);
	n = strlen(error);
	if (note && note[0] && n < sizeof(error))
		snprintf(error + n, sizeof(error) - n, "; %s", note);
	wrk_text_trim(error);
	m.error = error;
	wrk_adapter_emit(p, &m);
}

/* ---- lines in ------------------------------------------------------- */

/* One whole line, S (N bytes, no newline); LAST: it had no newline. */
static void parse_line(struct wrk_parser *p, const char *s, size_t n, bool last)
{
	char shown[SHOWN_MAX + 8];
	size_t i;

	for (i = 0; i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r');)
		i++;
	if (i == n)
		return; /* a blank line */
	if (p->ops->line(p, s, n))
		return;
	wrk_text_printable(shown, SHOWN_MAX, s, n);
	memcpy(p->said, shown, sizeof(p->said));
	if (last)
		wrk_adapter_log(p, "warn", "last line cut short: %s", shown);
	else
		wrk_adapter_log(p, "warn", "not JSON: %s", shown);
}

static int hello(struct wrk_parser *p, int64_t pid)
{
	struct wrk_msg m = {.type = WRK_HELLO, .version = WRK_PROTO_VERSION};

	m.pid = pid;
	if (wrk_adapter_emit(p, &m) != 0) {
		errno = p->err ? p->err : ERANGE;
		return -1;
	}
	p->hello_sent = true;
	return 0;
}

/* Start a call of the API appending to OUT: the hello first. */
static int begin(struct wrk_parser *p, struct wrk_buf *out)
{
	if (p->ended) {
		errno = EINVAL;
		return -1;
	}
	p->out = out;
	p->err = 0;
	return p->hello_sent ? 0 : hello(p, 0);
}

static int finish(struct wrk_parser *p)
{
	p->out = NULL;
	if (p->err) {
		errno = p->err;
		return -1;
	}
	return 0;
}

int wrk_parser_hello(struct wrk_parser *p, int64_t pid, struct wrk_buf *out)
{
	int r;

	if (p->hello_sent || p->ended) {
		errno = EINVAL;
		return -1;
	}
	p->out = out;
	p->err = 0;
	r = hello(p, pid);
	p->out = NULL;
	return r;
}

/* The current line is longer than line_max: drop it. */
static void too_long(struct wrk_parser *p)
{
	wrk_adapter_log(p, "error",
			"line %" PRIu64 " longer than %zu bytes: skipped",
			p->lines + 1, p->line_max);
	wrk_buf_release(&p->line);
	p->skipping = true;
}

int wrk_parser_feed(struct wrk_parser *p, const void *data, size_t len,
		    struct wrk_buf *out)
{
	const char *s = data, *end = s + len;

	if (begin(p, out) < 0)
		return -1;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		size_t n = nl ? (size_t)(nl - s) : (size_t)(end - s);

		if (p->skipping) {
			/* the rest of a line too long */
		} else if (p->line.len + n > p->line_max) {
			too_long(p);
		} else if (nl && !p->line.len) {
			parse_line(p, s, n, false); /* whole in this feed */
		} else if (wrk_buf_add(&p->line, s, n) < 0) {
			p->err = ENOMEM;
			wrk_buf_release(&p->line);
			p->skipping = true;
		} else if (nl) {
			parse_line(p, p->line.data, p->line.len, false);
			p->line.len = 0;
			if (p->line.cap > 1024 * 1024)
				wrk_buf_release(&p->line);
		}
		if (nl) {
			p->skipping = false;
			p->lines++;
		}
		s += n + (nl != NULL);
	}
	return finish(p);
}

int wrk_parser_end(struct wrk_parser *p, int status, struct wrk_buf *out)
{
	if (begin(p, out) < 0)
		return -1;
	if (p->line.len && !p->skipping)
		parse_line(p, p->line.data, p->line.len, true);
	wrk_buf_release(&p->line);
	interrupt_calls(p);
	p->ops->end(p, status);
	p->ended = true;
	return finish(p);
}
