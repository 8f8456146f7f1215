/*
 * mirror.h - what the supervisor publishes in its shared-memory segment
 * (shm/shm.h): the execution, the phase, counters, one slot per agent and
 * the state keys the workflow's [shm] keys select.
 *
 * Key changes are held for the turn and written after its commit (before
 * any ack), so what a reader sees was committed, and an agent that got its
 * ack reads its own write. Agents are published when what the mirror last
 * wrote of them changed.
 */
#ifndef SMITHERS_MIRROR_H
#define SMITHERS_MIRROR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "supervisor/workflow.h"

struct sup_mirror;

/* Create the segment for STATE_DIR (DIR/.smithers) as WF says. NULL (after
 * logging why) when it cannot be made: the run goes on without it. */
struct sup_mirror *sup_mirror_open(const char *state_dir,
				   const struct sup_workflow *wf);
/* Close; with REMOVE (a clean exit) the segment goes too. NULL: no-op. */
void sup_mirror_close(struct sup_mirror *m, int remove);

void sup_mirror_execution(struct sup_mirror *m, int64_t id, const char *name,
			  const char *status);
void sup_mirror_phase(struct sup_mirror *m, const char *phase, int iteration);

/* KEY was set to JSON (NULL: deleted) in the turn's batch. */
void sup_mirror_key(struct sup_mirror *m, const char *key, const char *json);
/* The turn's batch did not commit: forget its keys. */
void sup_mirror_discard(struct sup_mirror *m);

/* What the loop knows of agent INDEX, told every turn; fields the caller
 * leaves NULL or -1 keep their last value. Only a change is written (at
 * the next publish); a status turning "running", or a new attempt while
 * running, starts the run's clock unless STARTED_MS says when. */
struct sup_mirror_agent {
	int64_t id;
	const char *name, *phase, *status;
	pid_t pid;
	int attempt, iteration;
	int64_t started_ms; /* wall clock */
};
void sup_mirror_agent(struct sup_mirror *m, size_t index,
		      const struct sup_mirror_agent *a);
/*
 * Per message. A tool call of agent INDEX started: it is counted, TOOL
 * becomes the last tool, and the slot shows it running (the call started
 * last among those running, with since when) until it ends. CALL is the
 * agent's number for it (tool.start's call); 0 if not known.
 */
void sup_mirror_agent_tool_call(struct sup_mirror *m, size_t index,
				uint64_t call, const char *tool);
/* The same, without a number: sup_mirror_agent_tool_call(M, INDEX, 0,
 * TOOL). */
void sup_mirror_agent_tool(struct sup_mirror *m, size_t index,
			   const char *tool);
/* Call CALL of agent INDEX ended (tool.complete): it no longer runs; a
 * number not started here ends the newest call started without one. A run
 * that ends (a status other than running or stopping) or a new attempt
 * ends all its calls. */
void sup_mirror_agent_tool_end(struct sup_mirror *m, size_t index,
			       uint64_t call);
/* Usage of agent INDEX: amounts to add (may be negative) to its tokens
 * in and out, cache tokens read and written, and cost in US dollars, and
 * to the execution's totals. An INDEX past the slots adds to the totals
 * only. Whether the cost is known is told apart, by
 * sup_mirror_agent_cost_known(); until then readers show it as unknown. */
void sup_mirror_agent_usage(struct sup_mirror *m, size_t index, int64_t in,
			    int64_t out, int64_t cache_read,
			    int64_t cache_write, double cost_usd);
/* Reasoning tokens of agent INDEX (a part of its tokens out, already
 * told as such) to add to its slot and to the execution's total. */
void sup_mirror_agent_reasoning(struct sup_mirror *m, size_t index,
				int64_t reasoning);
/* Agent INDEX reported a cost, be it 0: its cost, and the execution's, is
 * known. (Each slot's kind comes from the workflow, at sup_mirror_open.) */
void sup_mirror_agent_cost_known(struct sup_mirror *m, size_t index);
/* Amounts to add to the execution's totals alone: what it used before
 * this supervisor (told once, at a resume), or in rows no slot shows; a
 * COST_USD other than 0 makes the execution's cost known. */
void sup_mirror_usage(struct sup_mirror *m, int64_t in, int64_t out,
		      int64_t cache_read, int64_t cache_write,
		      double cost_usd);
void sup_mirror_agent_key(struct sup_mirror *m, size_t index,
			  const char *key);
/* What the process tree of agent INDEX used in its attempts that ended, as
 * their cgroups counted it (slot fields since 1.3): MEM_PEAK (bytes) and
 * CPU_USEC (microseconds), each < 0 meaning unknown; only a change is
 * written. */
void sup_mirror_resources(struct sup_mirror *m, size_t index,
			  int64_t mem_peak, int64_t cpu_usec);

/* Shipping to a fleet, as the shipper last said (header fields since
 * 1.4): STATE an enum shm_fleet_state, UNSHIPPED rows (-1: not counted
 * yet), OLDEST_MS when the oldest of them changed (0: none). Only a change
 * is written, at the next publish; never told, the segment says off. */
void sup_mirror_fleet(struct sup_mirror *m, int state, int64_t unshipped,
		      int64_t oldest_ms);

/* Counters of the turn. */
void sup_mirror_count(struct sup_mirror *m, uint64_t messages, uint64_t bytes,
		      uint64_t rejected);

/* After the turn's commit (COMMIT_US >= 0) or a turn without one (-1):
 * write the held keys, the changed agents, the totals, the shipping, the
 * counters, the heartbeat. */
void sup_mirror_publish(struct sup_mirror *m, int64_t commit_us);

#endif /* SMITHERS_MIRROR_H */
