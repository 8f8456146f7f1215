/*
 * adapters.c - the adapters by name (adapter.h): the one file that knows
 * every CLI's parser, above them all, so that the worker names an adapter
 * and the parsers never call each other nor back up here.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>

#include "worker/adapter.h"
#include "worker/claude.h"
#include "worker/codex.h"

const char *wrk_adapter_name(enum wrk_adapter a)
{
	switch (a) {
	case WRK_ADAPTER_NONE:
		return "none";
	case WRK_ADAPTER_CLAUDE:
		return "claude";
	case WRK_ADAPTER_CODEX:
		return "codex";
	}
	return "?";
}

struct wrk_parser *wrk_parser_new(enum wrk_adapter a, size_t line_max,
				  size_t frame_max)
{
	struct wrk_claude *c;

	switch (a) {
	case WRK_ADAPTER_CLAUDE:
		c = wrk_claude_new(line_max, frame_max);
		return c ? wrk_claude_parser(c) : NULL;
	case WRK_ADAPTER_CODEX:
		return wrk_codex_new(line_max, frame_max);
	default:
		errno = EINVAL;
		return NULL;
	}
}
