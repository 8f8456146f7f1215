/*
 * test_output.c - the JSON that `smithers db ... --json` and smithers-top
 * write (tools/output.c): strings escaped byte for byte as they always
 * were, though jansson now does the escaping; what counts as valid JSON to
 * embed; and rows rendered as JSON objects.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/output.h"

/* What out_json_string() writes for TEXT, in a new string. */
static char *escaped(const char *text)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	assert_non_null(fp);
	out_json_string(fp, text);
	assert_int_equal(fclose(fp), 0);
	return buf;
}

static void test_string(void **state)
{
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"", "\"\""},
		{"plain text", "\"plain text\""},
		{"\"\\/", "\"\\\"\\\\/\""},
		{"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
		/* Other control characters and DEL, in lower-case hex. */
		{"\x01\x1b\x1f\x7f", "\"\\u0001\\u001b\\u001f\\u007f\""},
		/* UTF-8 as it is, but the JavaScript line ends. */
		{"caf\xc3\xa9 \xf0\x9f\x98\x80",
		 "\"caf\xc3\xa9 \xf0\x9f\x98\x80\""},
		{"a\xe2\x80\xa8"
		 "b\xe2\x80\xa9",
		 "\"a\\u2028b\\u2029\""},
		{"\xe2\x80\xa7\xe2\x80\xaa", "\"\xe2\x80\xa7\xe2\x80\xaa\""},
		/* Each byte that is not UTF-8 is U+FFFD, written escaped; a
		 * real U+FFFD stays as it is. */
		{"\xff"
		 "A\xc3(\xe2\x82",
		 "\"\\ufffdA\\ufffd(\\ufffd\\ufffd\""},
		{"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},
		{"\xc0\xaf", "\"\\ufffd\\ufffd\""},
		{"\xef\xbf\xbd", "\"\xef\xbf\xbd\""},
		{"\x01\xff\x01", "\"\\u0001\\ufffd\\u0001\""},
		/* Text that looks like an escape is text. */
		{"\\u00AB \\n", "\"\\\\u00AB \\\\n\""},
	};
	size_t i;
	char *got;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		got = escaped(cases[i].text);
		if (strcmp(got, cases[i].want))
			fail_msg("case %zu: got %s, expected %s", i, got,
				 cases[i].want);
		free(got);
	}
}

static void test_valid(void **state)
{
	static const struct {
		const char *text;
		int valid;
	} cases[] = {
		{"1", 1},
		{" [1, {\"a\": \"b\"}] ", 1},
		{"\"a\\u0000b\"", 1},
		{"18446744073709551616", 1},
		{"-1.5e-7", 1},
		{"null", 1},
		{"", 0},
		{"[1,]", 0},
		{"01", 0},
		{"'a'", 0},
		{"[1] [2]", 0},
		{"\"\xff\"", 0},
		{"Inf", 0},
		{"NaN", 0},
		/* Refused by jansson, though SQLite's json_valid() takes them:
		 * such values are written as strings. */
		{"1e400", 0},
		{"{\"a\\u0000\":1}", 0},
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (out_json_valid(cases[i].text) != cases[i].valid)
			fail_msg("'%s': expected %s", cases[i].text,
				 cases[i].valid ? "valid" : "invalid");
}

/* A row of every type as a JSON list of one object. */
static void test_row(void **state)
{
	static const char *const names[] = {"i", "r",	"inf", "t",
					    "j", "bad", "n",   "q\"k"};
	static const char *const values[] = {
		"-42",	 "1.5e-07", "Inf", "x\ny", "{\"a\": [1, 2.5]}",
		"{oops", NULL,	    "v"};
	static const enum wal_type types[] = {WAL_INTEGER, WAL_REAL, WAL_REAL,
					      WAL_TEXT,	   WAL_JSON, WAL_JSON,
					      WAL_NULL,	   WAL_TEXT};
	const struct wal_row row = {8, names, values, types};
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);
	struct out *o;

	assert_non_null(fp);
	o = out_new(fp, 1);
	assert_non_null(o);
	out_list_begin(o, NULL, NULL);
	assert_int_equal(out_row(&row, o), 0);
	out_list_end(o);
	out_free(o);
	assert_int_equal(fclose(fp), 0);
	assert_string_equal(buf,
			    "[\n{\"i\":-42,\"r\":1.5e-07,\"inf\":null,"
			    "\"t\":\"x\\ny\",\"j\":{\"a\": [1, 2.5]},"
			    "\"bad\":\"{oops\",\"n\":null,\"q\\\"k\":\"v\"}"
			    "\n]\n");
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_row),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
