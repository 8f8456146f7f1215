/*
 * fuzz-cond.c - the `until` conditions and their JSON values
 * (supervisor/cond.c) against any text.
 *
 * The input's first line is a condition, each further line (8 at most) a
 * current value of the key, tried along with a few fixed ones. Beyond what
 * the sanitizers see, the promises of cond.h must hold:
 * - a condition parses, or is refused with EINVAL (or ENOMEM) and a reason;
 * - KEY == JSON holds for its own JSON and not for an absent key, != the
 *   reverse; exists / not exists look at presence only;
 * - == agrees with sup_json_equal(), which is symmetric, and reflexive
 *   exactly on the texts that sup_json_check() accepts;
 * - sup_json_check() accepts what jansson itself accepts, but values nested
 *   deeper than SUP_JSON_DEPTH_MAX, and refuses what jansson refuses, but
 *   numbers too big for jansson (cond.c masks numbers before jansson sees
 *   them: the masking must neither let a bad text through nor refuse a
 *   good one).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "supervisor/cond.h"
#include "tests/fuzz/fuzz.h"

#define LINES_MAX 8

/* Current values worth trying whatever the input. */
static const char *const fixed[] = {
	"null",	  "true",     "false", "0",
	"-1.5e3", "\"done\"", "[1,2]", "{\"a\":1}",
};

#define NFIXED (sizeof(fixed) / sizeof(fixed[0]))

static void check_value(const char *v)
{
	char err[256];
	int valid = sup_json_check(v, err, sizeof(err)) == 0;
	int why = errno;
	json_error_t e;
	json_t *j;

	FUZZ_CHECK(valid || why == EINVAL || why == ENOMEM);
	FUZZ_CHECK(sup_json_equal(v, v) == valid);

	/* The same text, unmasked, to jansson. */
	j = json_loads(
		v, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
		&e);
	if (j)
		FUZZ_CHECK(valid || why == ENOMEM ||
			   !strncmp(err, "nested deeper", 13));
	else if (json_error_code(&e) != json_error_out_of_memory)
		FUZZ_CHECK(!valid ||
			   json_error_code(&e) == json_error_numeric_overflow);
	json_decref(j);
}

static void check_pair(const char *a, const char *b)
{
	FUZZ_CHECK(sup_json_equal(a, b) == sup_json_equal(b, a));
}

/* Check condition C against the current value V (NULL: absent). */
static void check_eval(const struct sup_cond *c, const char *v)
{
	const char *json = sup_cond_json(c);
	int holds = sup_cond_eval(c, v);

	switch (sup_cond_op(c)) {
	case SUP_COND_EQ:
		FUZZ_CHECK(holds == (v ? sup_json_equal(json, v) : 0));
		break;
	case SUP_COND_NE:
		FUZZ_CHECK(holds == (v ? !sup_json_equal(json, v) : 1));
		break;
	case SUP_COND_EXISTS:
		FUZZ_CHECK(holds == (v != NULL));
		break;
	case SUP_COND_NOT_EXISTS:
		FUZZ_CHECK(holds == (v == NULL));
		break;
	default:
		FUZZ_CHECK(!"a known operator");
	}
}

static void check_cond(const struct sup_cond *c)
{
	const char *key = sup_cond_key(c);
	const char *json = sup_cond_json(c);
	const char *k;

	FUZZ_CHECK(key && key[0]);
	for (k = key; *k; k++)
		FUZZ_CHECK((unsigned char)*k > 0x20 && *k != 0x7f);
	switch (sup_cond_op(c)) {
	case SUP_COND_EQ:
	case SUP_COND_NE:
		FUZZ_CHECK(json && sup_json_check(json, NULL, 0) == 0);
		FUZZ_CHECK(sup_cond_eval(c, json) ==
			   (sup_cond_op(c) == SUP_COND_EQ));
		break;
	case SUP_COND_EXISTS:
	case SUP_COND_NOT_EXISTS:
		FUZZ_CHECK(json == NULL);
		break;
	default:
		FUZZ_CHECK(!"a known operator");
	}
	check_eval(c, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *line[LINES_MAX + 1 + NFIXED];
	struct sup_cond *c;
	char err[512];
	size_t n = 0, ninput, i, j;
	char *text, *p, *nl;

	text = malloc(size + 1);
	FUZZ_CHECK(text != NULL);
	if (size)
		memcpy(text, data, size);
	text[size] = '\0';
	/* Lines; a NUL byte ends its line early. */
	for (p = text;;) {
		line[n++] = p;
		nl = memchr(p, '\n', (size_t)(text + size - p));
		if (!nl || n == LINES_MAX + 1)
			break;
		*nl = '\0';
		p = nl + 1;
	}
	ninput = n;
	for (i = 0; i < NFIXED; i++)
		line[n++] = fixed[i];

	errno = 0;
	c = sup_cond_parse(line[0], err, sizeof(err));
	if (!c) {
		FUZZ_CHECK(errno == EINVAL || errno == ENOMEM);
		FUZZ_CHECK(err[0] != '\0');
		if (fuzz_verbose())
			fprintf(stderr, "refused: %s\n", err);
	} else {
		check_cond(c);
	}
	for (i = 1; i < n; i++) {
		check_value(line[i]);
		if (c)
			check_eval(c, line[i]);
		if (c && i < ninput && fuzz_verbose())
			fprintf(stderr, "'%s' with %s: %s\n", line[0], line[i],
				sup_cond_eval(c, line[i]) ? "holds" : "not");
		/* Each value of the input against every other one. */
		for (j = i + 1; i < ninput && j < n; j++)
			check_pair(line[i], line[j]);
	}
	sup_cond_free(c);
	free(text);
	return 0;
}
