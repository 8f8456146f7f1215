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

/* Every template, ending with a NULL path; directories before files. */
extern const struct init_template init_templates[];

#endif /* SMITHERS_TOOLS_TEMPLATES_H */
