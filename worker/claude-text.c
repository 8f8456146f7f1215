/*
 * claude-text.c - the words of the Claude Code parser (claude-text.h):
 * why a run failed, from its result line, made of the stream's text with
 * the helpers of worker/text.h, so valid UTF-8 without NUL or control
 * characters, which the supervisor's decoder takes.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "worker/claude-text.h"
#include "worker/text.h"

static const char *str_of(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/* $1.5 as "1.50", $0.0123 as "0.0123". */
static void format_cost(char *buf, size_t size, double cost)
{
	const char *dot;
	size_t n;

	snprintf(buf, size, "%.4f", cost);
	n = strlen(buf);
	dot = strchr(buf, '.');
	while (dot && buf[n - 1] == '0' && dot + 3 < buf + n)
		buf[--n] = '\0';
}

/* The number in the last "(N)" of TEXT into BUF: 1, or 0 when none. */
static int limit_of(const char *text, char *buf, size_t size)
{
	const char *open = text ? strrchr(text, '(') : NULL;
	size_t n;

	if (!open)
		return 0;
	n = strspn(open + 1, "0123456789");
	if (!n || open[1 + n] != ')' || n >= size)
		return 0;
	memcpy(buf, open + 1, n);
	buf[n] = '\0';
	return 1;
}

/* What an API error was: its type without "_error" ("overloaded") from
 * the result's api_error_type, or from a result text like `API Error: 529
 * {"type":"error","error":{"type":"overloaded_error",...}}`; else the
 * text's first line without its "API Error: NNN" prefix. */
static void api_reason(const json_t *result, char *buf, size_t size)
{
	const char *text = str_of(result, "result");
	const char *brace = text ? strchr(text, '{') : NULL;
	json_t *j =
		brace ? json_loads(brace, JSON_DISABLE_EOF_CHECK, NULL) : NULL;
	const char *type = str_of(result, "api_error_type");
	char *line = NULL;
	size_t n;

	if (!type)
		type = str_of(json_object_get(j, "error"), "type");
	if (!type)
		type = str_of(j, "type");
	if (type && strcmp(type, "error")) {
		n = strlen(type);
		if (n > 6 && !strcmp(type + n - 6, "_error"))
			n -= 6;
		wrk_text_printable(buf, size - 4, type, n);
		for (char *p = buf; *p; p++)
			if (*p == '_')
				*p = ' ';
		json_decref(j);
		return;
	}
	json_decref(j);
	if (text && !strncasecmp(text, "API Error:", 10)) {
		text += 10;
		while (*text == ' ' || (*text >= '0' && *text <= '9'))
			text++;
	}
	if (text)
		line = wrk_text_first_line(text, strlen(text));
	snprintf(buf, size, "%s", line ? line : "unknown");
	wrk_text_trim(buf);
	free(line);
}

void wrk_claude_fail_reason(const struct json_t *j, char *buf, size_t size)
{
	const char *subtype = str_of(j, "subtype");
	const char *text = str_of(j, "result");
	const json_t *status = json_object_get(j, "api_error_status");
	const json_t *turns = json_object_get(j, "num_turns");
	const json_t *cost = json_object_get(j, "total_cost_usd");
	const char *detail;
	char *line = NULL, what[256], num[64];

	if (subtype && !strcmp(subtype, "error_max_turns")) {
		/* The limit is in the CLI's words ("Reached maximum number of
		 * turns (10)"); num_turns counts the turn it stopped in. */
		if (limit_of(json_string_value(json_array_get(
				     json_object_get(j, "errors"), 0)),
			     num, sizeof(num)))
			snprintf(buf, size, "reached max turns (%s)", num);
		else if (json_is_integer(turns))
			snprintf(buf, size, "reached max turns (%" PRId64 ")",
				 (int64_t)json_integer_value(turns));
		else
			snprintf(buf, size, "reached max turns");
	} else if (subtype && !strcmp(subtype, "error_max_budget_usd")) {
		if (json_is_number(cost)) {
			format_cost(num, sizeof(num), json_number_value(cost));
			snprintf(buf, size, "reached max budget ($%s)", num);
		} else {
			snprintf(buf, size, "reached max budget");
		}
	} else if (status && !json_is_null(status)) {
		api_reason(j, what, sizeof(what));
		if (json_is_integer(status))
			snprintf(num, sizeof(num), "%" PRId64,
				 (int64_t)json_integer_value(status));
		else if (json_is_string(status))
			wrk_text_printable(num, sizeof(num) - 4,
					   json_string_value(status),
					   json_string_length(status));
		else
			snprintf(num, sizeof(num), "?");
		snprintf(buf, size, "API error: %s (%s)", what, num);
	} else if (subtype && !strcmp(subtype, "error_during_execution")) {
		detail = json_string_value(
			json_array_get(json_object_get(j, "errors"), 0));
		/* The CLI's own diagnostics say less than how it ended. */
		if (!detail || !strncmp(detail, "[ede_diagnostic]", 16))
			detail = str_of(j, "terminal_reason");
		if (!detail)
			detail = text;
		if (detail)
			line = wrk_text_first_line(detail, strlen(detail));
		snprintf(buf, size, "error during execution%s%s",
			 line ? ": " : "", line ? line : "");
	} else if (text && (line = wrk_text_first_line(text, strlen(text)))) {
		snprintf(buf, size, "%s", line);
	} else if (subtype) {
		wrk_text_printable(what, sizeof(what) - 4, subtype,
				   strlen(subtype));
		snprintf(buf, size, "the run ended with '%s'", what);
	} else {
		snprintf(buf, size, "the run failed");
	}
	free(line);
	wrk_text_trim(buf);
}
