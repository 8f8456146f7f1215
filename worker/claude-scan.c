/*
 * claude-scan.c - the fast path of the Claude Code parser (claude.c).
 *
 * Most of the stream's bytes are members no handler reads: a user line's
 * tool_use_result (a copy of the tool's output), the other system lines.
 * jscan (strict: what it takes, jansson takes) walks the line's members:
 * - user and assistant lines, nearly all the bytes, are read by jscan
 *   alone (scan_user, scan_assistant: the same reading as on_user and
 *   on_assistant, the last of duplicate members winning as in jansson);
 * - stream_event lines: jansson parses a copy of the members their
 *   handler reads (c->slim);
 * - ignored lines (other system subtypes, other types) are not parsed.
 * A line jscan refuses, and the small rare ones (init, api_retry, result),
 * go to jansson whole: the reference, whose frames the fast path matches
 * byte for byte (tests/unit/test_claude.c and the fuzz target compare
 * them; wrk_claude_set_fast() turns the fast path off).
 */
#include "config.h"

#include <assert.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "worker/claude-int.h"
#include "worker/frame.h"
#include "worker/jscan.h"

/* The top-level members the fast path reads (type and subtype aside). */
enum kept { K_MESSAGE, K_PARENT, K_EVENT, K_API_ID, K_COUNT };

static const char *const kept_names[K_COUNT] = {
	[K_MESSAGE] = "message",
	[K_PARENT] = "parent_tool_use_id",
	[K_EVENT] = "event",
	[K_API_ID] = "api_message_id",
};

/* Members kept from one line, at most (more: the slow path). */
#define KEPT_MAX 16

/* The value V (scanned) is the string NAME. */
static bool value_is(struct jscan_slice v, const char *name)
{
	return jscan_is_string(v) &&
	       jscan_equals((struct jscan_slice){v.p + 1, v.n - 2}, name);
}

/* The members of KEPT (N of them, named by WHICH) that MASK names, as an
 * object for jansson, handed to HANDLER. 1, or 0 when jansson did not
 * take it (memory short): then the slow path. */
static int slim_parse(struct wrk_claude *c, const struct jscan_slice *key,
		      const struct jscan_slice *val, const enum kept *which,
		      size_t n, unsigned mask,
		      void (*handler)(struct wrk_claude *, const json_t *))
{
	struct wrk_buf *b = &c->slim;
	bool first = true;
	json_t *j;
	size_t i;

	b->len = 0;
	if (wrk_buf_addc(b, '{') < 0)
		return 0;
	for (i = 0; i < n; i++) {
		if (!(mask & 1u << which[i]))
			continue;
		/* The key with its quotes, as the line has it. */
		if ((!first && wrk_buf_addc(b, ',') < 0) ||
		    wrk_buf_add(b, key[i].p - 1, key[i].n + 2) < 0 ||
		    wrk_buf_addc(b, ':') < 0 ||
		    wrk_buf_add(b, val[i].p, val[i].n) < 0)
			return 0;
		first = false;
	}
	if (wrk_buf_addc(b, '}') < 0)
		return 0;
	j = json_loadb(b->data, b->len, 0, NULL);
	if (b->cap > 1024 * 1024)
		wrk_buf_release(b);
	if (!j)
		return 0;
	handler(c, j);
	json_decref(j);
	return 1;
}

/* Append the string value V (scanned: valid) to B, decoded, without its
 * NUL. 0, or -1 ENOMEM. */
static int add_string(struct wrk_buf *b, struct jscan_slice v)
{
	struct jscan_slice in = {v.p + 1, v.n - 2};
	size_t len = 0;
	int r;

	if (wrk_buf_reserve(b, in.n + 1) < 0)
		return -1;
	r = jscan_decode(in, b->data + b->len, &len);
	assert(r == 0); /* jscan took the line */
	(void)r;
	b->len += len;
	return 0;
}

/* The value of the last member KEY of the object OBJ (scanned); a slice of
 * length 0 when there is none or OBJ is not an object. */
static struct jscan_slice member(struct jscan_slice obj, const char *key)
{
	struct jscan_slice k, v, found = {0};
	struct jscan_obj it;

	if (jscan_members(&it, obj) < 0)
		return found;
	while (jscan_next(&it, &k, &v) == 1)
		if (jscan_equals(k, key))
			found = v;
	return found;
}

/* result_text() on the scanned CONTENT. */
static int scan_result_text(struct jscan_slice content, struct wrk_buf *b)
{
	struct jscan_slice block, type, text;
	struct jscan_obj it;
	size_t n = 0;

	if (jscan_is_string(content))
		return add_string(b, content) < 0 ? -1 : wrk_buf_addc(b, '\0');
	if (jscan_items(&it, content) == 0)
		while (jscan_next_item(&it, &block) == 1) {
			type = member(block, "type");
			text = member(block, "text");
			if (!value_is(type, "text") || !jscan_is_string(text))
				continue;
			if ((n++ && wrk_buf_addc(b, '\n') < 0) ||
			    add_string(b, text) < 0)
				return -1;
		}
	return wrk_buf_addc(b, '\0');
}

/* complete_call() on the scanned BLOCK, a tool_result. */
static void scan_complete_call(struct wrk_claude *c, struct jscan_slice block)
{
	struct jscan_slice k, v, id = {0}, content = {0}, is_error = {0};
	struct wrk_buf ref = {0}, text = {0};
	struct jscan_obj it;
	uint64_t call;

	if (jscan_members(&it, block) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "tool_use_id"))
			id = v;
		else if (jscan_equals(k, "content"))
			content = v;
		else if (jscan_equals(k, "is_error"))
			is_error = v;
	}
	if (jscan_is_string(id) &&
	    (add_string(&ref, id) < 0 || wrk_buf_addc(&ref, '\0') < 0)) {
		c->p.err = ENOMEM;
		goto out;
	}
	call = wrk_claude_result_call(c, ref.data);
	if (!call)
		goto out;
	if (scan_result_text(content, &text) < 0) {
		c->p.err = ENOMEM;
		wrk_buf_release(&text);
		goto out;
	}
	wrk_claude_result_emit(c, ref.data, call, &text,
			       jscan_is_true(is_error));
out:
	wrk_buf_release(&ref);
}

/* on_user() on the scanned MESSAGE: no jansson at all. */
static void scan_user(struct wrk_claude *c, struct jscan_slice message)
{
	struct jscan_slice content = member(message, "content"), block;
	struct jscan_obj it;

	if (jscan_items(&it, content) < 0)
		return;
	while (jscan_next_item(&it, &block) == 1)
		if (value_is(member(block, "type"), "tool_result"))
			scan_complete_call(c, block);
}

/* The string value V (scanned; length 0: none) decoded into B, NUL-
 * terminated: B's data, or NULL when V is not a string. ENOMEM: NULL and
 * c->p.err set. */
static const char *scan_str(struct wrk_claude *c, struct jscan_slice v,
			    struct wrk_buf *b)
{
	if (!jscan_is_string(v))
		return NULL;
	if (add_string(b, v) < 0 || wrk_buf_addc(b, '\0') < 0) {
		c->p.err = ENOMEM;
		return NULL;
	}
	return b->data;
}

/* count_of() on the scanned object O. */
static uint64_t scan_count(struct jscan_slice o, const char *key)
{
	long long n;

	return jscan_integer(member(o, key), &n) && n > 0 ? (uint64_t)n : 0;
}

/* start_call() on the scanned BLOCK, a tool_use: its input sent as the
 * line has it when that is what jansson would write, else rewritten. */
static void scan_start_call(struct wrk_claude *c, struct jscan_slice block,
			    uint64_t parent)
{
	struct jscan_slice k, v, id = {0}, name = {0}, input = {0};
	struct wrk_buf ref = {0}, tool = {0}, raw = {0};
	struct jscan_obj it;
	char *text = NULL;
	json_t *j;

	if (jscan_members(&it, block) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "id"))
			id = v;
		else if (jscan_equals(k, "name"))
			name = v;
		else if (jscan_equals(k, "input"))
			input = v;
	}
	scan_str(c, id, &ref);
	scan_str(c, name, &tool);
	if (c->p.err || !wrk_claude_call_new(c, ref.data, tool.data))
		goto out;
	if (jscan_compact(input)) {
		if (wrk_buf_add(&raw, input.p, input.n) < 0 ||
		    wrk_buf_addc(&raw, '\0') < 0) {
			c->p.err = ENOMEM;
			goto out;
		}
		text = raw.data;
	} else if (input.n) {
		j = json_loadb(input.p, input.n, JSON_DECODE_ANY, NULL);
		text = j ? json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
		json_decref(j);
	}
	wrk_adapter_call_start(&c->p, ref.data, tool.data, text, parent);
	if (text != raw.data)
		free(text);
out:
	wrk_buf_release(&ref);
	wrk_buf_release(&tool);
	wrk_buf_release(&raw);
}

/* on_assistant() on the scanned MESSAGE and PARENT (parent_tool_use_id). */
static void scan_assistant(struct wrk_claude *c, struct jscan_slice message,
			   struct jscan_slice parent_id)
{
	struct jscan_slice k, v, content = {0}, usage = {0}, id = {0}, block;
	struct wrk_msg m = {.type = WRK_USAGE};
	struct wrk_buf parent_ref = {0}, msg_id = {0};
	const char *mid;
	struct jscan_obj it;
	uint64_t parent;

	parent = wrk_adapter_call_of(c->p.calls,
				     scan_str(c, parent_id, &parent_ref));
	wrk_buf_release(&parent_ref);
	if (c->p.err || jscan_members(&it, message) < 0)
		return;
	while (jscan_next(&it, &k, &v) == 1) {
		if (jscan_equals(k, "content"))
			content = v;
		else if (jscan_equals(k, "usage"))
			usage = v;
		else if (jscan_equals(k, "id"))
			id = v;
	}
	if (jscan_items(&it, content) == 0)
		while (jscan_next_item(&it, &block) == 1)
			if (value_is(member(block, "type"), "tool_use"))
				scan_start_call(c, block, parent);
	if (!usage.n || usage.p[0] != '{')
		return;
	mid = scan_str(c, id, &msg_id);
	if (c->p.err || (mid && json_object_get(c->messages, mid)))
		goto out;
	m.tokens_in = scan_count(usage, "input_tokens");
	m.tokens_out = scan_count(usage, "output_tokens");
	if (mid &&
	    json_object_set_new(c->messages, mid,
				json_integer((json_int_t)m.tokens_out)) < 0) {
		c->p.err = ENOMEM;
		goto out;
	}
	m.cache_read = scan_count(usage, "cache_read_input_tokens");
	m.cache_write = scan_count(usage, "cache_creation_input_tokens");
	if (m.tokens_in || m.tokens_out || m.cache_read || m.cache_write)
		wrk_adapter_emit(&c->p,
				 &m); /* not the CLI's own error messages */
out:
	wrk_buf_release(&msg_id);
}

int wrk_claude_parse_fast(struct wrk_claude *c, const char *s, size_t n)
{
	struct jscan_slice key[KEPT_MAX], val[KEPT_MAX], k, v;
	struct jscan_slice type = {0}, subtype = {0}, message = {0};
	struct jscan_slice parent = {0};
	enum kept which[KEPT_MAX];
	struct jscan_obj it;
	size_t nkept = 0;
	unsigned i;
	int r;

	if (jscan_object(&it, (struct jscan_slice){s, n}) < 0)
		return 0;
	while ((r = jscan_next(&it, &k, &v)) == 1) {
		if (jscan_equals(k, "type")) {
			type = v; /* the last one counts, as in jansson */
			continue;
		}
		if (jscan_equals(k, "subtype")) {
			subtype = v;
			continue;
		}
		for (i = 0; i < K_COUNT; i++)
			if (jscan_equals(k, kept_names[i]))
				break;
		if (i == K_COUNT)
			continue;
		if (nkept == KEPT_MAX)
			return 0;
		if (i == K_MESSAGE)
			message = v;
		if (i == K_PARENT)
			parent = v;
		key[nkept] = k;
		val[nkept] = v;
		which[nkept++] = (enum kept)i;
	}
	if (r < 0 || !jscan_blank(it.p, (size_t)(s + n - it.p)))
		return 0;
	if (value_is(type, "system"))
		return !value_is(subtype, "init") &&
		       !value_is(subtype, "api_retry");
	if (value_is(type, "assistant")) {
		scan_assistant(c, message, parent);
		return 1;
	}
	if (value_is(type, "user")) {
		scan_user(c, message);
		return 1;
	}
	if (value_is(type, "stream_event"))
		return slim_parse(c, key, val, which, nkept,
				  1u << K_EVENT | 1u << K_API_ID,
				  wrk_claude_on_stream_event);
	/* result: jansson; any other type, or none: ignored. */
	return !value_is(type, "result");
}
