/*
 * replay.c - a main() for a fuzz target without libFuzzer, so that every
 * build's `make check` (and the ASan build's) runs the target's inputs
 * through the same code: the seed corpus, tests/fuzz/corpus/TARGET/, and
 * the saved crashes, tests/fuzz/regressions/TARGET/ (TARGET is FUZZ_TARGET,
 * set when this file is compiled; the tree is $top_srcdir, else ".").
 * Files or directories named as arguments are run instead.
 *
 * Output is TAP, one result per input file, in name order. An input that
 * crashes kills the program and the TAP driver reports the plan unfinished;
 * the last "# running" line names the input.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_TARGET
#error "compile with -DFUZZ_TARGET='\"name\"'"
#endif

struct list {
	char **path;
	size_t n, cap;
};

static void list_add(struct list *l, const char *dir, const char *name)
{
	size_t len = strlen(dir) + strlen(name) + 2;
	char **p;

	if (l->n == l->cap) {
		l->cap = l->cap ? 2 * l->cap : 64;
		p = realloc(l->path, l->cap * sizeof(*p));
		FUZZ_CHECK(p != NULL);
		l->path = p;
	}
	l->path[l->n] = malloc(len);
	FUZZ_CHECK(l->path[l->n] != NULL);
	snprintf(l->path[l->n], len, "%s%s%s", dir, *name ? "/" : "", name);
	l->n++;
}

/* Add PATH, or the files of the directory PATH in name order. A missing
 * directory adds nothing when OPTIONAL; otherwise it is an error. */
static int add_path(struct list *l, const char *path, int optional)
{
	struct dirent **ents;
	struct stat st;
	int n, i;

	if (stat(path, &st) < 0) {
		if (optional && errno == ENOENT)
			return 0;
		printf("Bail out! cannot open '%s': %s\n", path,
		       strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		list_add(l, path, "");
		return 0;
	}
	n = scandir(path, &ents, NULL, alphasort);
	if (n < 0) {
		printf("Bail out! cannot read '%s': %s\n", path,
		       strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (ents[i]->d_name[0] != '.')
			list_add(l, path, ents[i]->d_name);
		free(ents[i]);
	}
	free(ents);
	return 0;
}

/* Read the file PATH whole into *DATA (malloc'd), its length in *SIZE. */
static int slurp(const char *path, uint8_t **data, size_t *size)
{
	FILE *f = fopen(path, "rbe");
	uint8_t *buf = NULL, *p;
	size_t n = 0, cap = 0, r;

	if (!f)
		return -1;
	for (;;) {
		if (cap - n < 4096) {
			cap = cap ? 2 * cap : 8192;
			p = realloc(buf, cap);
			FUZZ_CHECK(p != NULL);
			buf = p;
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	if (ferror(f)) {
		fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	*data = buf;
	*size = n;
	return 0;
}

int main(int argc, char **argv)
{
	const char *top = getenv("top_srcdir");
	struct list l = {0};
	const char *name;
	char dir[4096];
	uint8_t *data;
	size_t size, i;
	int status = 0;

	if (!top || !*top)
		top = ".";
	if (argc > 1) {
		for (int k = 1; k < argc; k++)
			if (add_path(&l, argv[k], 0) < 0)
				return 1;
	} else {
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/corpus/%s", top,
			 FUZZ_TARGET);
		if (add_path(&l, dir, 0) < 0)
			return 1;
		snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%s", top,
			 FUZZ_TARGET);
		if (add_path(&l, dir, 1) < 0)
			return 1;
	}
	printf("1..%zu\n", l.n);
	for (i = 0; i < l.n; i++) {
		printf("# running %s\n", l.path[i]);
		fflush(stdout);
		name = strstr(l.path[i], "tests/fuzz/");
		name = name ? name + strlen("tests/fuzz/") : l.path[i];
		if (slurp(l.path[i], &data, &size) < 0) {
			printf("not ok %zu - %s: cannot read it: %s\n", i + 1,
			       name, strerror(errno));
			status = 1;
		} else {
			LLVMFuzzerTestOneInput(data, size);
			free(data);
			printf("ok %zu - %s\n", i + 1, name);
		}
		free(l.path[i]);
	}
	free(l.path);
	return status;
}
