/*
 * cmd-init.c - `smithers init [DIR]`: make DIR a smithers directory.
 *
 * Creates DIR if needed, the state dir DIR/.smithers (0700) with its
 * database (0600, migrated to the current schema), and writes the example
 * workflow and agents of templates.c into DIR. It never overwrites: a file
 * that exists is kept as it is (O_EXCL), so running init twice is harmless
 * and says what it created and what it kept.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/output.h"
#include "tools/cli.h"
#include "tools/templates.h"
#include "wal/wal.h"

static int cmd_init_exec(struct cmd_ctx *ctx, int argc, char **argv);

const struct cmd_entry cmd_init_entry = {
	.name = "init",
	.args = "[DIR]",
	.summary = "create the state dir and an example workflow",
	.help = "Create DIR (default: --dir, $SMITHERS_DIR, else .) if\n"
		"needed, its state dir DIR/.smithers (mode 0700) and its\n"
		"database DIR/.smithers/smithers.db (mode 0600), and write\n"
		"an example workflow, DIR/smithers.ini, with the agents it\n"
		"runs, DIR/agents/*.sh: four agents that survey the git\n"
		"repository they run in. Existing files are never\n"
		"overwritten: init says what it created and what it kept, and\n"
		"running it again is harmless (it also brings an older\n"
		"database to the current schema).\n"
		"\n"
		"Options:\n"
		"  --example NAME  which example: 'survey' (the default,\n"
		"                  the shell agents above), 'claude' (Claude\n"
		"                  Code agents review the repository side by\n"
		"                  side, then a Ralph loop fixes it until its\n"
		"                  tests pass: DIR/smithers.ini and\n"
		"                  DIR/prompts/fix.md) or 'codex' (the same\n"
		"                  with Codex agents)\n"
		"  --dir DIR       the directory, when DIR is not given\n"
		"  --json          print what was created and kept as JSON",
	.exec = cmd_init_exec,
};

enum { OPT_EXAMPLE = 0x200 };

static const struct option init_options[] = {
	CMD_COMMON_OPTIONS,
	{"example", required_argument, NULL, OPT_EXAMPLE},
	{NULL, 0, NULL, 0},
};

/* mkdir -p PATH (mode 0777 less the umask). */
static int make_dirs(const char *path)
{
	char *p = xstrdup(path), *s;
	int rc = -1;

	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0777) < 0 && errno != EEXIST)
			goto out;
		*s = '/';
	}
	if (mkdir(p, 0777) < 0 && errno != EEXIST)
		goto out;
	rc = 0;
out:
	free(p);
	return rc;
}

/* Write TEXT to PATH, a file that must not exist yet: 1 if written, 0 if
 * PATH exists, -1 after printing why it failed. */
static int write_new(const char *path, const char *text, mode_t mode)
{
	size_t len = strlen(text), done = 0;
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		fprintf(stderr, "smithers: cannot create '%s': %s\n", path,
			strerror(errno));
		return -1;
	}
	while (done < len) {
		n = write(fd, text + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		done += (size_t)n;
	}
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	return 1;
fail:
	err = errno;
	if (fd >= 0)
		close(fd);
	unlink(path);
	fprintf(stderr, "smithers: cannot write '%s': %s\n", path,
		strerror(err));
	return -1;
}

/* Say that PATH was CREATED (or kept). */
static void report(struct out *o, int json, const char *path, int created)
{
	static const char *const names[] = {"path", "status"};
	static const enum wal_type types[] = {WAL_TEXT, WAL_TEXT};
	const char *values[2];
	struct wal_row row = {2, names, values, types};

	if (!json) {
		if (created)
			printf("created  %s\n", path);
		else
			printf("kept     %s (it exists)\n", path);
		return;
	}
	values[0] = path;
	values[1] = created ? "created" : "kept";
	out_row(&row, o);
}

/* Create or upgrade the database; 1 created, 0 kept, -1 on error. */
static int init_store(const char *dir, const char *db)
{
	struct wal_options opt;
	struct wal *w = NULL;
	struct stat sb;
	int existed = stat(db, &sb) == 0, rc = -1;

	memset(&opt, 0, sizeof(opt));
	opt.create = 1;
	if (wal_open(dir, &opt, &w) < 0) {
		const char *msg = w ? wal_errmsg(w) : strerror(errno);

		if (strstr(msg, ".smithers"))
			fprintf(stderr, "smithers: %s\n", msg);
		else
			fprintf(stderr, "smithers: cannot create '%s': %s\n",
				db, msg);
		goto out;
	}
	rc = !existed;
out:
	wal_close(w);
	return rc;
}

static int cmd_init_exec(struct cmd_ctx *ctx, int argc, char **argv)
{
	const struct init_template *t, *files = init_templates;
	const struct init_example *ex;
	const char *dir;
	struct out *o = NULL;
	char *db = NULL, *path = NULL, *path_ini = NULL, *slash;
	int c, rc, r;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", init_options, NULL)) != -1) {
		r = cmd_common_option(ctx, c, optarg);
		if (r < 0)
			return cmd_usage(&cmd_init_entry);
		if (r > 0)
			continue;
		if (c == 'h') {
			cmd_print_help(stdout, &cmd_init_entry);
			return EXIT_OK;
		}
		if (c == OPT_EXAMPLE) {
			for (ex = init_examples; ex->name; ex++)
				if (!strcmp(ex->name, optarg))
					break;
			if (!ex->name) {
				fprintf(stderr,
					"smithers: unknown example '%s' "
					"(expected survey, claude or codex)\n",
					optarg);
				return cmd_usage(&cmd_init_entry);
			}
			files = ex->files;
			continue;
		}
		cmd_option_error(argv, c);
		return cmd_usage(&cmd_init_entry);
	}
	if (argc - optind > 1) {
		fputs("smithers: 'init' takes one directory\n", stderr);
		return cmd_usage(&cmd_init_entry);
	}
	dir = optind < argc ? argv[optind] : ctx->dir;
	if (!*dir) {
		fputs("smithers: 'init' needs a directory, not ''\n", stderr);
		return cmd_usage(&cmd_init_entry);
	}

	rc = EXIT_FAIL;
	if (make_dirs(dir) < 0) {
		fprintf(stderr, "smithers: cannot create '%s': %s\n", dir,
			strerror(errno));
		goto out;
	}
	o = out_new(stdout, ctx->json);
	if (!o) {
		fputs("smithers: out of memory\n", stderr);
		goto out;
	}
	out_list_begin(o, NULL, NULL);
	db = cmd_path(dir, ".smithers/smithers.db");
	r = init_store(dir, db);
	if (r < 0)
		goto out;
	report(o, ctx->json, db, r);
	for (t = files; t->path; t++) {
		free(path);
		path = cmd_path(dir, t->path);
		slash = strrchr(path, '/');
		if (slash && strchr(t->path, '/')) {
			*slash = '\0';
			r = make_dirs(path);
			*slash = '/';
			if (r < 0) {
				fprintf(stderr,
					"smithers: cannot create the directory "
					"of '%s': %s\n",
					path, strerror(errno));
				goto out;
			}
		}
		r = write_new(path, t->text, t->mode);
		if (r < 0)
			goto out;
		report(o, ctx->json, path, r);
	}
	path_ini = cmd_path(dir, files[0].path);
	if (ctx->json)
		out_list_end(o);
	else
		printf("\nnext: read %s, then run it with 'smithers run %s'\n",
		       path_ini, path_ini);
	rc = EXIT_OK;
out:
	out_free(o);
	free(path_ini);
	free(path);
	free(db);
	return rc;
}
