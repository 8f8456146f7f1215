/*
 * supervisor.h - `smithers run`: one supervisor per state dir, running a
 * workflow's phases and agents in the foreground until the workflow ends or
 * it is told to stop.
 *
 * Exit status (a contract, documented in smithers(1)):
 *   0    the execution completed
 *   1    the execution failed (an agent or phase failed, a store error)
 *   2    the workflow could not be started (bad file, no worker program)
 *   3    another supervisor holds the state dir's lock
 *   130  cancelled by SIGINT, 143 by SIGTERM
 */
#ifndef SMITHERS_SUP_SUPERVISOR_H
#define SMITHERS_SUP_SUPERVISOR_H

struct sup_workflow;

struct sup_options {
	const char *dir;	/* the project dir holding .smithers */
	const char *worker;	/* path of smithers-worker */
	const char *smithers;	/* path of smithers (agents call emit) */
	int synchronous_normal; /* override the workflow: NORMAL */
	int verbose;		/* debug lines in the log */
	int no_resume;		/* mark interrupted executions so, do not
				   resume them */
};

/* Run WF (borrowed) in OPT->dir; returns the exit status above. */
int sup_run(const struct sup_workflow *wf, const struct sup_options *opt);

#endif /* SMITHERS_SUP_SUPERVISOR_H */
