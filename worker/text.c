/*
 * text.c - the stream's text made fit for a frame (text.h), for every
 * adapter (worker/adapter.c and the CLIs' parsers): what comes out of here
 * is valid UTF-8 without NUL or control characters (but the newlines of a
 * first line's neighbours, which it drops), so that the supervisor's
 * decoder takes it.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "worker/msgjson.h"
#include "worker/text.h"

size_t wrk_text_cut(const char *s, size_t n)
{
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* Bytes of the UTF-8 sequence that the byte B starts (1 for a stray one). */
static size_t seq_len(unsigned char b)
{
	return b < 0xc0 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
}

void wrk_text_trim(char *s)
{
	size_t n = strlen(s), i = n;

	while (i > 0 && n - i < 4 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i > 0 && ((unsigned char)s[i - 1] & 0xc0) == 0xc0 &&
	    seq_len((unsigned char)s[i - 1]) > n - i + 1)
		s[i - 1] = '\0';
}

void wrk_text_printable(char *buf, size_t max, const char *s, size_t n)
{
	size_t i = 0, o = 0;

	while (i < n) {
		unsigned char b = (unsigned char)s[i];
		size_t k = b < 0x80 ? 1 : seq_len(b);
		bool ok = k > 1 && i + k <= n && wrk_utf8_valid(s + i, k);

		if (o + (ok ? k : 1) > max)
			break;
		if (ok) {
			memcpy(buf + o, s + i, k);
			o += k;
			i += k;
		} else {
			buf[o++] = b >= 0x20 && b < 0x7f ? (char)b : '?';
			i++;
		}
	}
	if (i < n) {
		memcpy(buf + o, "...", 3);
		o += 3;
	}
	buf[o] = '\0';
}

char *wrk_text_first_line(const char *s, size_t n)
{
	const char *nl;
	char *line;

	while (n > 0 && (*s == '\n' || *s == '\r' || *s == ' ')) {
		s++;
		n--;
	}
	nl = memchr(s, '\n', n);
	if (nl)
		n = (size_t)(nl - s);
	while (n > 0 && (s[n - 1] == '\r' || s[n - 1] == ' '))
		n--;
	if (n > WRK_TEXT_ERROR_MAX)
		n = wrk_text_cut(s, WRK_TEXT_ERROR_MAX);
	if (!n)
		return NULL;
	line = malloc(n + 1);
	if (line) {
		memcpy(line, s, n);
		line[n] = '\0';
	}
	return line;
}
