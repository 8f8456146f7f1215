/*
 * gcreq.c - `smithers db gc --via-supervisor`: a gc sent through the
 * supervisor that holds the state dir, which alone may write it
 * (supervisor.h).
 *
 * The request is a file, STATE/gc.request, one line:
 *   ID KEEP OLDER_THAN_S DRY_RUN
 * put in place with a rename. The supervisor looks for it with each
 * heartbeat (every HEARTBEAT_MS: no signal, which would kill a holder of
 * the lock that is not a supervisor, or an older one). Between two of its
 * commits it reads and removes it, runs wal_gc() on its own connection and
 * puts STATE/gc.result in place the same way:
 *   ID STATUS COMMITTED and the fourteen counts of struct wal_gc_result
 *   the error message (empty when STATUS is 0)
 * ID (the requester's pid and a clock reading) tells an answer from a stale
 * one. The state dir is the owner's alone (0700): whoever can write there
 * may ask.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "supervisor/supervisor.h"
#include "wal/wal.h"

#define NCOUNTS 14

/* The counts of G, in the order of the answer. */
static void counts(struct wal_gc_result *g, int64_t *v[NCOUNTS])
{
	int64_t *p[NCOUNTS] = {
		&g->executions,	     &g->phases,	 &g->agents,
		&g->tool_calls,	     &g->transitions,	 &g->artifacts,
		&g->heads_kept,	     &g->tombstones,	 &g->objects,
		&g->object_bytes,    &g->log_dirs,	 &g->log_bytes,
		&g->db_bytes_before, &g->db_bytes_after,
	};

	memcpy(v, p, sizeof(p));
}

static char *path_in(const char *state_dir, const char *name)
{
	char *p;

	if (asprintf(&p, "%s/%s", state_dir, name) < 0)
		return NULL;
	return p;
}

/* Write TEXT to STATE_DIR/NAME through a temporary file and a rename. */
static int put_file(const char *state_dir, const char *name, const char *text)
{
	char *to = path_in(state_dir, name), *tmp = NULL;
	FILE *f = NULL;
	int rc = -1;

	/* Of its own name: the request and the answer are written by two
	 * processes. */
	if (to && asprintf(&tmp, "%s.tmp", to) < 0)
		tmp = NULL;
	if (tmp)
		f = fopen(tmp, "we");
	if (f) {
		rc = fputs(text, f) < 0 ? -1 : 0;
		if (fclose(f) != 0)
			rc = -1;
		if (rc == 0 && rename(tmp, to) < 0)
			rc = -1;
		if (rc < 0)
			unlink(tmp);
	}
	free(tmp);
	free(to);
	return rc;
}

int sup_gc_request(const char *state_dir, pid_t supervisor,
		   const struct wal_gc_options *o, int timeout_s,
		   struct wal_gc_result *out, char *err, size_t errlen)
{
	char *req = path_in(state_dir, "gc.request");
	char *res = path_in(state_dir, "gc.result");
	char id[64], line[256], got[64];
	struct timespec now, pause = {0, 20 * 1000 * 1000};
	int64_t *v[NCOUNTS];
	int rc = -1, status = 0, committed = 0;
	FILE *f;

	memset(out, 0, sizeof(*out));
	clock_gettime(CLOCK_REALTIME, &now);
	snprintf(id, sizeof(id), "%ld.%lld.%ld", (long)getpid(),
		 (long long)now.tv_sec, now.tv_nsec);
	snprintf(line, sizeof(line), "%s %" PRId64 " %" PRId64 " %d\n", id,
		 o->keep, o->older_than_s, o->dry_run);
	if (!req || !res) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	unlink(res);
	if (put_file(state_dir, "gc.request", line) < 0) {
		snprintf(err, errlen, "cannot write '%s': %s", req,
			 strerror(errno));
		goto out;
	}
	for (long waited = 0;; waited += 20) {
		f = fopen(res, "re");
		if (f)
			break;
		if (kill(supervisor, 0) < 0 && errno == ESRCH) {
			snprintf(err, errlen,
				 "the supervisor (pid %ld) ended before it "
				 "answered",
				 (long)supervisor);
			unlink(req);
			goto out;
		}
		if (timeout_s > 0 && waited >= timeout_s * 1000L) {
			snprintf(err, errlen,
				 "no answer from the supervisor (pid %ld) in "
				 "%d s (is it older than this smithers?)",
				 (long)supervisor, timeout_s);
			unlink(req);
			goto out;
		}
		nanosleep(&pause, NULL);
	}
	counts(out, v);
	if (fscanf(f, "%63s %d %d", got, &status, &committed) != 3 ||
	    strcmp(got, id)) {
		snprintf(err, errlen, "the supervisor's answer is not ours");
		fclose(f);
		goto out;
	}
	for (int i = 0; i < NCOUNTS; i++)
		if (fscanf(f, " %" SCNd64, v[i]) != 1) {
			snprintf(err, errlen, "the supervisor's answer is cut");
			fclose(f);
			goto out;
		}
	out->committed = committed;
	err[0] = '\0';
	if (fgetc(f) == '\n' && fgets(err, (int)errlen, f))
		err[strcspn(err, "\n")] = '\0';
	fclose(f);
	unlink(res);
	rc = status ? -1 : 0;
out:
	free(req);
	free(res);
	return rc;
}

int sup_gc_serve(struct wal *w, const char *state_dir)
{
	char *req = path_in(state_dir, "gc.request");
	struct wal_gc_options o = {0};
	struct wal_gc_result g;
	int64_t *v[NCOUNTS];
	char id[64], *text = NULL;
	size_t len = 0;
	FILE *f = req ? fopen(req, "re") : NULL, *t;
	struct stat sb;
	int status, n;

	if (!f) {
		free(req);
		return 0;
	}
	/* Left by a requester that died long ago: nobody waits for it. */
	if (fstat(fileno(f), &sb) == 0 &&
	    time(NULL) - sb.st_mtime > SUP_GC_REQUEST_MAX_AGE_S) {
		fclose(f);
		unlink(req);
		free(req);
		return 0;
	}
	n = fscanf(f, "%63s %" SCNd64 " %" SCNd64 " %d", id, &o.keep,
		   &o.older_than_s, &o.dry_run);
	fclose(f);
	unlink(req);
	free(req);
	if (n != 4)
		return -1;
	memset(&g, 0, sizeof(g));
	status = wal_gc(w, &o, &g) < 0 ? 1 : 0;
	t = open_memstream(&text, &len);
	if (!t)
		return -1;
	fprintf(t, "%s %d %d", id, status, g.committed);
	counts(&g, v);
	for (int i = 0; i < NCOUNTS; i++)
		fprintf(t, " %" PRId64, *v[i]);
	fprintf(t, "\n%s\n", status ? wal_errmsg(w) : "");
	fclose(t);
	n = put_file(state_dir, "gc.result", text);
	free(text);
	return n < 0 ? -1 : 1;
}
