/*
 * output.c - owns how `smithers` shows rows: aligned text tables and JSON.
 *
 * Text: a table has a header of upper-case column names and one line per
 * row, columns two spaces apart, numbers right-aligned. A cell never spans
 * lines: it stops at a newline, is cut to CELL_MAX columns (and to the
 * terminal's width when stdout is one), and a cut shows as an ellipsis.
 * Control characters and bytes that are not UTF-8 show as '?' (U+FFFD in a
 * UTF-8 locale), so nothing read from the store can move the cursor.
 *
 * JSON: every column becomes a member; integers and reals are numbers, NULL
 * is null, columns of type WAL_JSON are embedded as they are when they are
 * valid JSON (else as a string), and text is a string with every control
 * character escaped and invalid UTF-8 replaced by U+FFFD. The output is
 * therefore always valid JSON, whatever the store holds. jansson validates
 * the JSON and numbers and escapes the strings; this file streams the
 * documents around them rather than build each whole first.
 *
 * Text tables are buffered until the list ends (widths need every row);
 * JSON is streamed.
 */
#include "config.h"

#include <langinfo.h>
#include <locale.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#include <jansson.h>

#include "tools/output.h"
#include "tools/cli.h"

#define CELL_MAX  40  /* widest text cell of a table */
#define CELL_MIN  4   /* narrowest a column shrinks to fit a terminal */
#define VALUE_MAX 100 /* widest value in an object's lines */

static int utf8_out; /* the locale's charset is UTF-8 */

struct table {
	int ncols;
	char **names;
	int *numeric; /* the column holds only numbers and NULLs */
	size_t nrows, cap;
	char **cells; /* nrows * ncols, NULL for SQL NULL */
};

struct out {
	FILE *fp;
	int json;
	int first;   /* JSON: nothing written yet in the open array */
	int bracket; /* JSON: the open array's '[' is written */
	long rows;   /* in the open list */
	int in_object;
	int ntables;	  /* text tables printed so far (blank line between) */
	const char *name; /* of the open list, inside an object */
	const char *const *cols;
	struct table t;
};

void out_init_locale(void)
{
	const char *cs;

	/* Only the character type: numbers must stay "1.5" whatever LANG is. */
	setlocale(LC_CTYPE, "");
	cs = nl_langinfo(CODESET);
	utf8_out = cs && (!strcmp(cs, "UTF-8") || !strcmp(cs, "utf8"));
}

/*
 * Length of the valid UTF-8 sequence at S, with its code point in *CP; 0
 * when S does not start one (overlong, surrogate, beyond U+10FFFF, cut).
 */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	uint32_t c;
	size_t len, i;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		len = 2;
		c = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		len = 3;
		c = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < len; i++) {
		/* A NUL terminator fails this test too. */
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) ||
	    c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* ---- JSON ------------------------------------------------------------ */

/* jansson reads the JSON; integers as reals, so that one past 64 bits is a
 * number still (SQLite's json_valid() takes it), and \u0000 is allowed. */
#define JSON_READ (JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL)

static void *json_alloc_ok(void *p)
{
	if (!p) {
		fprintf(stderr, "%s: out of memory\n", cmd_prog);
		exit(EXIT_FAIL);
	}
	return p;
}

int out_json_valid(const char *text)
{
	json_t *v = json_loads(text, JSON_READ, NULL);

	json_decref(v);
	return v != NULL;
}

/* Whether the SQLite number TEXT is a JSON number (not "Inf"). */
static int json_number_valid(const char *text)
{
	json_t *v = json_loads(text, JSON_READ, NULL);
	int ok = json_is_number(v);

	json_decref(v);
	return ok;
}

/* C in lower case when it is a hex digit A-F. */
static int hex_lower(char c)
{
	return c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c;
}

/*
 * Write DUMPED, the content of a JSON string as jansson writes it, with
 * what smithers adds: DEL escaped like the other control characters,
 * U+2028 and U+2029 escaped too (they end a line in JavaScript), and the
 * hex digits of an escape in lower case, as they have always been.
 */
static void put_dumped(FILE *fp, const char *dumped)
{
	const char *p = dumped;
	int i;

	while (*p) {
		if (*p == '\\' && p[1] == 'u') {
			for (i = 0; i < 6 && *p; i++, p++)
				fputc(hex_lower(*p), fp);
		} else if (*p == '\\' && p[1]) {
			fwrite(p, 1, 2, fp);
			p += 2;
		} else if (*p == 0x7f) {
			fputs("\\u007f", fp);
			p++;
		} else if (!strncmp(p, "\xe2\x80\xa8", 3) ||
			   !strncmp(p, "\xe2\x80\xa9", 3)) {
			fputs(p[2] == '\xa8' ? "\\u2028" : "\\u2029", fp);
			p += 3;
		} else {
			fputc(*p++, fp);
		}
	}
}

/* Write the N bytes at RUN, valid UTF-8, escaped by jansson (without the
 * quotes). */
static void put_run(FILE *fp, const unsigned char *run, size_t n)
{
	json_t *s;
	char *dumped;
	size_t len;

	if (!n)
		return;
	s = json_alloc_ok(json_stringn((const char *)run, n));
	dumped = json_alloc_ok(json_dumps(s, JSON_ENCODE_ANY));
	len = strlen(dumped);
	dumped[len - 1] = '\0';
	put_dumped(fp, dumped + 1);
	free(dumped);
	json_decref(s);
}

/* jansson takes UTF-8 only: the runs between bytes that are not UTF-8 go
 * to it, and each such byte is written as U+FFFD. */
void out_json_string(FILE *fp, const char *text)
{
	const unsigned char *p = (const unsigned char *)text, *run = p;
	uint32_t cp;
	size_t k;

	fputc('"', fp);
	for (;;) {
		k = *p ? utf8_seq(p, &cp) : 0;
		if (k) {
			p += k;
			continue;
		}
		put_run(fp, run, (size_t)(p - run));
		if (!*p)
			break;
		fputs("\\ufffd", fp);
		run = ++p;
	}
	fputc('"', fp);
}

static void json_put_value(FILE *fp, enum wal_type type, const char *v)
{
	if (!v || type == WAL_NULL) {
		fputs("null", fp);
		return;
	}
	switch (type) {
	case WAL_INTEGER:
	case WAL_REAL:
		if (json_number_valid(v))
			fputs(v, fp);
		else /* SQLite spells infinities "Inf": JSON has none */
			fputs("null", fp);
		break;
	case WAL_JSON:
		if (out_json_valid(v))
			fputs(v, fp);
		else
			out_json_string(fp, v);
		break;
	default:
		out_json_string(fp, v);
		break;
	}
}

/* The members of ROW, without braces. */
static void json_put_members(FILE *fp, const struct wal_row *row)
{
	int i;

	for (i = 0; i < row->ncols; i++) {
		if (i)
			fputc(',', fp);
		out_json_string(fp, row->names[i] ? row->names[i] : "");
		fputc(':', fp);
		json_put_value(fp, row->types[i], row->values[i]);
	}
}

/* ---- text ------------------------------------------------------------ */

/* Whether only white space is left at S. */
static int only_space(const char *s)
{
	return s[strspn(s, " \t\r\n")] == '\0';
}

/*
 * V as one line of at most MAXW display columns (0: no limit), in a new
 * string, its width in *WIDTH. See the comment at the top.
 */
static char *cell_render(const char *v, int maxw, int *width)
{
	const unsigned char *p = (const unsigned char *)v;
	const char *ell = utf8_out ? "\xe2\x80\xa6" : "...";
	int ellw = utf8_out ? 1 : 3;
	size_t cut = 0, n = 0;
	int w = 0, cutw = 0, cw, shorten = 0;
	char *buf = xmalloc(strlen(v) * 3 + 4);
	const char *put;
	size_t len, putlen;
	uint32_t cp;

	while (*p) {
		if (*p == '\n' || *p == '\r') {
			if (!only_space((const char *)p))
				shorten = 1;
			break;
		}
		len = utf8_seq(p, &cp);
		put = (const char *)p;
		putlen = len;
		cw = 1;
		if (*p == '\t') {
			put = " ";
			putlen = 1;
			len = 1;
		} else if (!len || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
			put = utf8_out && !len ? "\xef\xbf\xbd" : "?";
			putlen = strlen(put);
			len = len ? len : 1;
		} else if (cp >= 0x80) {
			cw = utf8_out ? wcwidth((wchar_t)cp) : -1;
			if (cw < 0) {
				put = "?";
				putlen = 1;
				cw = 1;
			}
		}
		if (maxw > 0 && w + cw > maxw) {
			shorten = 1;
			break;
		}
		memcpy(buf + n, put, putlen);
		n += putlen;
		w += cw;
		p += len;
		if (maxw <= 0 || w <= maxw - ellw) {
			cut = n;
			cutw = w;
		}
	}
	if (shorten) {
		/* Room for the ellipsis: back up to the last cell that fits. */
		if (maxw > 0 && w + ellw > maxw) {
			n = cut;
			w = cutw;
		}
		memcpy(buf + n, ell, strlen(ell));
		n += strlen(ell);
		w += ellw;
	}
	buf[n] = '\0';
	*width = w;
	return buf;
}

static int cell_width(const char *v, int maxw)
{
	int w;

	free(cell_render(v, maxw, &w));
	return w;
}

static void pad(FILE *fp, int n)
{
	while (n-- > 0)
		fputc(' ', fp);
}

/*
 * Print V in a column of width W, right-aligned when RIGHT. Padding is
 * owed in *PEND and only paid before something visible, so that no line
 * ends in spaces.
 */
static void put_cell(FILE *fp, const char *v, int w, int right, int *pend)
{
	int cw;
	char *s = cell_render(v, w, &cw);

	if (right)
		*pend += w - cw;
	if (*s) {
		pad(fp, *pend);
		*pend = 0;
		fputs(s, fp);
	}
	if (!right)
		*pend += w - cw;
	free(s);
}

static int term_width(FILE *fp)
{
	struct winsize ws;

	if (!isatty(fileno(fp)) || ioctl(fileno(fp), TIOCGWINSZ, &ws) < 0)
		return 0;
	return ws.ws_col;
}

static char *upper(const char *s)
{
	char *u = xstrdup(s ? s : "");
	char *p;

	for (p = u; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 'a' + 'A');
	return u;
}

static void table_reset(struct table *t)
{
	size_t i;
	int c;

	for (i = 0; i < t->nrows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	for (c = 0; c < t->ncols; c++)
		free(t->names[c]);
	free(t->cells);
	free(t->names);
	free(t->numeric);
	memset(t, 0, sizeof(*t));
}

/* Indices of the columns to show into MAP; returns how many. */
static int table_select(const struct table *t, const char *const *cols,
			int *map)
{
	int n = 0, c, i;

	for (i = 0; cols && cols[i]; i++)
		for (c = 0; c < t->ncols; c++)
			if (!strcmp(cols[i], t->names[c]))
				map[n++] = c;
	if (n)
		return n;
	for (c = 0; c < t->ncols; c++)
		map[c] = c;
	return t->ncols;
}

/* Shrink the widest text columns until a row fits COLS display columns. */
static void table_fit(int n, int *w, const int *numeric, int cols)
{
	int total = 2 * (n - 1), i, widest;

	for (i = 0; i < n; i++)
		total += w[i];
	while (cols > 0 && total > cols) {
		widest = -1;
		for (i = 0; i < n; i++)
			if (!numeric[i] && w[i] > CELL_MIN &&
			    (widest < 0 || w[i] > w[widest]))
				widest = i;
		if (widest < 0)
			break;
		w[widest]--;
		total--;
	}
}

static void table_print(struct out *o)
{
	struct table *t = &o->t;
	int *map = xmalloc(sizeof(int) * (size_t)t->ncols + 1);
	int *w, *num, n, i, c, pend = 0;
	char **heads;
	size_t r;

	n = table_select(t, o->cols, map);
	w = xmalloc(sizeof(int) * (size_t)n + 1);
	num = xmalloc(sizeof(int) * (size_t)n + 1);
	heads = xmalloc(sizeof(char *) * (size_t)n + 1);
	for (i = 0; i < n; i++) {
		c = map[i];
		num[i] = t->numeric[c];
		heads[i] = upper(t->names[c]);
		w[i] = cell_width(heads[i], CELL_MAX);
		for (r = 0; r < t->nrows; r++) {
			const char *v = t->cells[r * (size_t)t->ncols + c];
			int cw = v ? cell_width(v, num[i] ? 0 : CELL_MAX) : 0;

			if (cw > w[i])
				w[i] = cw;
		}
	}
	table_fit(n, w, num, term_width(o->fp));
	if (o->ntables++)
		fputc('\n', o->fp);
	for (i = 0; i < n; i++) {
		put_cell(o->fp, heads[i], w[i], num[i], &pend);
		pend += 2;
	}
	fputc('\n', o->fp);
	for (r = 0; r < t->nrows; r++) {
		pend = 0;
		for (i = 0; i < n; i++) {
			const char *v = t->cells[r * (size_t)t->ncols + map[i]];

			put_cell(o->fp, v ? v : "", w[i], num[i], &pend);
			pend += 2;
		}
		fputc('\n', o->fp);
	}
	for (i = 0; i < n; i++)
		free(heads[i]);
	free(heads);
	free(num);
	free(w);
	free(map);
}

/* The header alone, for an empty list whose columns are known. */
static void table_print_empty(struct out *o)
{
	const char *const *c;
	char *h;

	if (!o->cols || !o->cols[0])
		return;
	if (o->ntables++)
		fputc('\n', o->fp);
	for (c = o->cols; *c; c++) {
		h = upper(*c);
		fputs(h, o->fp);
		fputs(c[1] ? "  " : "\n", o->fp);
		free(h);
	}
}

static int table_same_columns(const struct table *t, const struct wal_row *row)
{
	int c;

	if (t->ncols != row->ncols)
		return 0;
	for (c = 0; c < t->ncols; c++)
		if (strcmp(t->names[c], row->names[c] ? row->names[c] : ""))
			return 0;
	return 1;
}

static void table_add(struct out *o, const struct wal_row *row)
{
	struct table *t = &o->t;
	size_t base;
	int c;

	if (t->ncols && !table_same_columns(t, row)) {
		table_print(o);
		table_reset(t);
	}
	if (!t->names) {
		t->ncols = row->ncols;
		t->names = xmalloc(sizeof(char *) * (size_t)row->ncols + 1);
		t->numeric = xmalloc(sizeof(int) * (size_t)row->ncols + 1);
		for (c = 0; c < row->ncols; c++) {
			t->names[c] =
				xstrdup(row->names[c] ? row->names[c] : "");
			t->numeric[c] = 1;
		}
	}
	if (t->nrows == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 16;
		t->cells = xrealloc(t->cells, sizeof(char *) * t->cap *
						      ((size_t)t->ncols + 1));
	}
	base = t->nrows++ * (size_t)t->ncols;
	for (c = 0; c < t->ncols; c++) {
		const char *v = row->values[c];

		t->cells[base + c] = v ? xstrdup(v) : NULL;
		if (v && row->types[c] != WAL_INTEGER &&
		    row->types[c] != WAL_REAL)
			t->numeric[c] = 0;
	}
}

/* ---- the shapes ------------------------------------------------------- */

struct out *out_new(FILE *fp, int json)
{
	struct out *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->fp = fp;
	o->json = json;
	return o;
}

void out_free(struct out *o)
{
	if (!o)
		return;
	table_reset(&o->t);
	free(o);
}

void out_list_begin(struct out *o, const char *name, const char *const *cols)
{
	o->name = name;
	o->cols = cols;
	o->first = 1;
	o->bracket = 0;
	o->rows = 0;
	if (!o->json) {
		if (name && o->in_object) {
			fprintf(o->fp, "\n%s:\n", name);
			o->ntables = 0;
		}
		return;
	}
	/* At top level, '[' waits for the first row: a list that fails
	 * before it prints nothing rather than half a document. */
	if (name && o->in_object) {
		fputs(",\n", o->fp);
		out_json_string(o->fp, name);
		fputs(":[", o->fp);
		o->bracket = 1;
	}
}

int out_row(const struct wal_row *row, void *arg)
{
	struct out *o = arg;

	o->rows++;
	if (!o->json) {
		table_add(o, row);
		return 0;
	}
	if (!o->bracket)
		fputc('[', o->fp);
	o->bracket = 1;
	fputs(o->first ? "\n{" : ",\n{", o->fp);
	o->first = 0;
	json_put_members(o->fp, row);
	fputc('}', o->fp);
	return 0;
}

void out_list_end(struct out *o)
{
	if (o->json) {
		if (!o->bracket)
			fputc('[', o->fp);
		fputs(o->first ? "]" : "\n]", o->fp);
		if (!o->in_object)
			fputc('\n', o->fp);
		return;
	}
	if (o->t.ncols)
		table_print(o);
	else
		table_print_empty(o);
	table_reset(&o->t);
}

void out_object_begin(struct out *o, const struct wal_row *row)
{
	int i, keyw = 0, maxw, cw, pend;

	o->in_object = 1;
	if (o->json) {
		fputc('{', o->fp);
		json_put_members(o->fp, row);
		return;
	}
	for (i = 0; i < row->ncols; i++) {
		cw = cell_width(row->names[i] ? row->names[i] : "", CELL_MAX);
		if (cw > keyw)
			keyw = cw;
	}
	maxw = term_width(o->fp);
	maxw = maxw > 0 ? maxw - keyw - 2 : VALUE_MAX;
	if (maxw < 20)
		maxw = 20;
	for (i = 0; i < row->ncols; i++) {
		pend = 0;
		put_cell(o->fp, row->names[i] ? row->names[i] : "", keyw, 0,
			 &pend);
		pend += 2;
		put_cell(o->fp, row->values[i] ? row->values[i] : "", maxw, 0,
			 &pend);
		fputc('\n', o->fp);
	}
}

void out_object_end(struct out *o)
{
	o->in_object = 0;
	if (o->json)
		fputs("}\n", o->fp);
}

void out_json_null(struct out *o)
{
	fputs("null\n", o->fp);
}

long out_rows(const struct out *o)
{
	return o->rows;
}
