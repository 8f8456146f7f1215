/*
 * cli.h - what the files of the `smithers` command line share: the
 * command table entry each cmd-*.c exports, the context main() hands to a
 * command, and the exit status contract.
 *
 * A command parses its own arguments (getopt_long, permuting, so global
 * options such as --dir and --json are also accepted after it) and returns
 * the process exit status; it prints its own errors on stderr.
 */
#ifndef SMITHERS_TOOLS_CLI_H
#define SMITHERS_TOOLS_CLI_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

struct wal;

/* Exit status: documented in smithers(1), a contract for scripts. */
#define EXIT_OK	   0
#define EXIT_FAIL  1 /* runtime error: not found, refused, unreadable store */
#define EXIT_USAGE 2 /* bad command line, or no state dir */

/* getopt_long values of the long options without a short form. */
enum {
	OPT_DIR = 0x100,
	OPT_JSON,
	OPT_KEY,
	OPT_SEARCH,
	OPT_CATEGORY,
	OPT_SCOPE,
	OPT_AGENT,
};

/* The options every command takes, for its struct option table. */
#define CMD_COMMON_OPTIONS                                                     \
	{"dir", required_argument, NULL, OPT_DIR},                             \
		{"json", no_argument, NULL, OPT_JSON},                         \
	{                                                                      \
		"help", no_argument, NULL, 'h'                                 \
	}

struct cmd_ctx {
	const char *dir; /* state dir: --dir, SMITHERS_DIR or "." (borrowed) */
	int json;	 /* --json given */
};

struct cmd_entry {
	const char *name;
	const char *args;    /* synopsis after the name, "[DIR]" */
	const char *summary; /* one line for the command list */
	const char *help;    /* the rest of `smithers NAME --help` */
	/* ARGV[0] is the command name; returns an exit status. */
	int (*exec)(struct cmd_ctx *ctx, int argc, char **argv);
};

extern const struct cmd_entry cmd_init_entry;
extern const struct cmd_entry cmd_db_entry;
extern const struct cmd_entry cmd_emit_entry;
extern const struct cmd_entry cmd_run_entry;
extern const struct cmd_entry cmd_fleet_entry;
extern const struct cmd_entry cmd_help_entry;

/* Every command, NULL-terminated (smithers.c). */
extern const struct cmd_entry *const cmd_table[];

/* The command named NAME, or NULL. */
const struct cmd_entry *cmd_find(const char *name);

/* Print `smithers --help` (the command list) on FP. */
void cmd_print_main_help(FILE *fp);

/* Print the help of command E on FP. */
void cmd_print_help(FILE *fp, const struct cmd_entry *e);

/* Print "usage: ..." for E (NULL: the program) on stderr; returns EXIT_USAGE.
 */
int cmd_usage(const struct cmd_entry *e);

/*
 * Open the store of CTX->dir (READONLY: a read-only connection), printing
 * the error on failure. Returns EXIT_OK with *OUT set, else the exit status
 * to return: EXIT_USAGE when there is no state, EXIT_FAIL otherwise.
 */
int cmd_open_store(const struct cmd_ctx *ctx, int readonly, struct wal **out);

/*
 * Take the supervisor lock of CTX->dir for a command that writes (VERB,
 * for messages): *FD gets the lock's fd, to close once the store is
 * closed. Returns EXIT_OK, or the exit status after saying why: BUSY when
 * a supervisor holds the lock, EXIT_USAGE when there is no state, else
 * EXIT_FAIL.
 */
int cmd_lock_store(const struct cmd_ctx *ctx, const char *verb, int busy,
		   int *fd);

/* Parse a decimal int64 in [MIN, MAX]; 0, or -1 when S is not one. */
int cmd_parse_int64(const char *s, long long min, long long max,
		    long long *out);

/*
 * Apply common option C (OPT_DIR, OPT_JSON) with ARG to CTX: 1 when C is
 * one, 0 when it is not, -1 after printing why ARG is bad.
 */
int cmd_common_option(struct cmd_ctx *ctx, int c, const char *arg);

/* Print why getopt_long() returned C ('?' or ':') for ARGV. */
void cmd_option_error(char *const *argv, int c);

/* "DIR/REL" in a new string; just REL when DIR is ".". */
/* The program's name in messages (cli.c; "smithers" unless changed). */
extern const char *cmd_prog;

char *cmd_path(const char *dir, const char *rel);

/* Allocation that cannot fail: out of memory, the program exits. */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

/* Flush stdout; EXIT_OK, or EXIT_FAIL after printing why it failed. */
int cmd_flush_stdout(void);

#endif /* SMITHERS_TOOLS_CLI_H */
