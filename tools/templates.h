/*
 * templates.h - the example files `smithers init` writes (templates.c).
 */
#ifndef SMITHERS_TOOLS_TEMPLATES_H
#define SMITHERS_TOOLS_TEMPLATES_H

#include <sys/types.h>

struct init_template {
	const char *path; /* relative to the directory, "agents/x.sh" */
	mode_t mode;	  /* before the umask */
	const char *text;
};

/* Every template, ending with a NULL path; directories before files:
 * the shell survey (the default), the Claude Code and Codex examples. */
extern const struct init_template init_templates[];
extern const struct init_template init_templates_claude[];
extern const struct init_template init_templates_codex[];

/* The examples by name, ending with a NULL name. */
struct init_example {
	const char *name;
	const char *summary;
	const struct init_template *files;
};
extern const struct init_example init_examples[];

#endif /* SMITHERS_TOOLS_TEMPLATES_H */
