/*
 * cgroup.c - the state dir's cgroups (cgroup.h): where the host has them,
 * what a dead supervisor left, STATE_DIR/cgroups, the controllers enabled
 * and what limits need of them; made of the single-directory operations
 * of common/cgroup.h. One agent attempt's cgroup, made under these, is
 * cgroup-agent.c's; the helpers both use are defined here (cgroup-int.h).
 *
 * Invariants:
 * - In v2, smithers-H holds no process of its own: the supervisor is in
 *   its leaf "supervisor", an agent attempt in agent-ID-ATTEMPT. That is
 *   what lets controllers be enabled in smithers-H's subtree_control.
 * - Each controller is used from one place: v2 when it could be enabled
 *   in smithers-H, else the v1 hierarchy that has it (hybrid hosts), else
 *   nowhere, and then the reason is kept for sup_cg_check().
 * - STATE_DIR/cgroups lists every smithers-H this supervisor made (v2
 *   first, then v1, then those of a dead supervisor that could not be
 *   removed), written whole with a rename: whoever opens the state dir
 *   next kills and removes the agents a dead supervisor left there.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cgroup.h"
#include "common/clock.h"
#include "common/grow.h"
#include "supervisor/cgroup-int.h"
#include "supervisor/cgroup.h"
#include "supervisor/slog.h"

static const char *const ctl_name[NCTL] = {"memory", "pids", "cpu"};

#define LEFTOVER_WAIT_MS 2000

/* ---- small helpers ------------------------------------------------------- */

void cg_say(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

int cg_pathf(char *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, PATH_MAX, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

/* The small file DIR/NAME into BUF, NUL-ended, newline cut; 0 or -1. */
static int get(const char *dir, const char *name, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, e;

	if (cg_pathf(path, "%s/%s", dir, name) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, len - 1);
	while (n < 0 && errno == EINTR);
	e = errno;
	close(fd);
	if (n < 0) {
		errno = e;
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* Add a copy of S to the list *V (*N items, capacity *CAP) unless it is
 * there already; 1 when added, 0 when there, -1 (ENOMEM). */
static int add_unique(char ***v, size_t *n, size_t *cap, const char *s)
{
	for (size_t i = 0; i < *n; i++)
		if (!strcmp((*v)[i], s))
			return 0;
	if (CM_GROW(*v, *cap, *n) < 0)
		return -1;
	(*v)[*n] = strdup(s);
	if (!(*v)[*n])
		return -1;
	(*n)++;
	return 1;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

int cg_kill_remove(const char *dir, int ms)
{
	char path[PATH_MAX];
	int64_t deadline = cm_mono_ms() + ms;

	/* Most often its worker emptied it: one rmdir(2) is all it takes. */
	if (rmdir(dir) == 0 || errno == ENOENT)
		return 0;
	if (errno == EBUSY && cg_pathf(path, "%s/cgroup.events", dir) == 0 &&
	    access(path, F_OK) == 0) {
		if (cm_cg_kill(dir) == 0)
			cm_cg_wait_empty(dir, ms);
	}
	for (int tries = 0;; tries++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || cm_mono_ms() >= deadline)
			return -1;
		if (tries % 50 == 0)
			cm_cg_signal(dir, SIGKILL, 0);
		cm_sleep_ms(1);
	}
}

/* The names of the agent-* directories under BASE into *V (appended);
 * 0, or -1 with errno (ENOENT: no BASE). */
static int agent_dirs(const char *base, char ***v, size_t *n, size_t *cap)
{
	DIR *d = opendir(base);
	struct dirent *de;
	int rc = 0;

	if (!d)
		return -1;
	while (rc == 0 && (de = readdir(d))) {
		if (de->d_type == DT_DIR && !strncmp(de->d_name, "agent-", 6))
			rc = add_unique(v, n, cap, de->d_name) < 0 ? -1 : 0;
	}
	closedir(d);
	return rc;
}

/* Kill and remove every agent-* cgroup under BASE (a smithers-H, v2 or
 * v1); the names not in *SEEN yet are added to it (an agent has a
 * directory in each hierarchy: counted once). Failures are logged. */
static void sweep_agents(const char *base, int ms, char ***seen, size_t *nseen,
			 size_t *seen_cap)
{
	char **names = NULL, path[PATH_MAX];
	size_t n = 0, cap = 0;

	if (agent_dirs(base, &names, &n, &cap) < 0 && errno != ENOENT)
		sup_log(SUP_WARN, "cannot list cgroup '%s': %s", base,
			strerror(errno));
	for (size_t i = 0; i < n; i++) {
		if (cg_pathf(path, "%s/%s", base, names[i]) < 0)
			continue;
		if (cg_kill_remove(path, ms) < 0)
			sup_log(SUP_WARN, "cannot remove cgroup '%s': %s", path,
				strerror(errno));
		if (seen)
			add_unique(seen, nseen, seen_cap, names[i]);
	}
	free_list(names, n);
}

/* ---- where the cgroups are ----------------------------------------------- */

/* FNV-1a, 64 bits: smithers-H names the state dir S in 16 hex digits. */
static void hash_of(const char *s, char out[17])
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	snprintf(out, 17, "%016" PRIx64, h);
}

/* ---- the state dir's cgroups --------------------------------------------- */

/* Kill and remove what a dead supervisor left under BASE (one line of
 * STATE_DIR/cgroups, or a smithers-H of ours), then BASE's leaf and BASE
 * when they are empty; a BASE still there is kept in CG's stale list. */
static void sweep_base(struct sup_cg *cg, const char *base, char ***seen,
		       size_t *nseen, size_t *seen_cap)
{
	char path[PATH_MAX];
	const char *slash = strrchr(base, '/');

	/* Only what we name: a damaged file must not make us kill others. */
	if (*base != '/' || !slash || strncmp(slash + 1, "smithers-", 9))
		return;
	sweep_agents(base, LEFTOVER_WAIT_MS, seen, nseen, seen_cap);
	if (cg_pathf(path, "%s/supervisor", base) == 0)
		rmdir(path);
	if (rmdir(base) < 0 && errno != ENOENT && errno != EBUSY)
		sup_log(SUP_WARN, "cannot remove cgroup '%s': %s", base,
			strerror(errno));
	if (access(base, F_OK) == 0 && strcmp(base, cg->base))
		add_unique(&cg->stale, &cg->nstale, &cg->stale_cap, base);
}

/* Sweep every smithers-H listed in CG's state file, and ours; the number
 * of agents killed. */
static int sweep_leftovers(struct sup_cg *cg)
{
	char **seen = NULL, **bases = NULL, line[PATH_MAX + 2], path[PATH_MAX];
	size_t nseen = 0, seen_cap = 0, nbases = 0, bases_cap = 0;
	FILE *f = fopen(cg->file, "re");
	int n;

	while (f && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (*line)
			add_unique(&bases, &nbases, &bases_cap, line);
	}
	if (f)
		fclose(f);
	/* Ours too: a supervisor may die before it writes the file. */
	add_unique(&bases, &nbases, &bases_cap, cg->base);
	for (int i = 0; i < NCTL; i++)
		if (cm_cg_v1_of_pid(0, ctl_name[i], path, PATH_MAX) == 0 &&
		    cg_pathf(line, "%s/smithers-%s", path, cg->hash) == 0)
			add_unique(&bases, &nbases, &bases_cap, line);
	for (size_t i = 0; i < nbases; i++)
		sweep_base(cg, bases[i], &seen, &nseen, &seen_cap);
	n = (int)nseen;
	free_list(seen, nseen);
	free_list(bases, nbases);
	return n;
}

/* Enable controller I in C and smithers-H (v2); why[I] says what failed. */
static void enable_v2(struct sup_cg *cg, int i, const char *controllers)
{
	char on[256], plus[16], minus[16];
	const char *name = ctl_name[i];

	if (!cm_cg_has_word(controllers, strlen(controllers), " ", name)) {
		snprintf(cg->why[i], sizeof(cg->why[i]),
			 "no %s controller in '%s/cgroup.controllers'", name,
			 cg->start);
		return;
	}
	snprintf(plus, sizeof(plus), "+%s", name);
	snprintf(minus, sizeof(minus), "-%s", name);
	if (get(cg->start, "cgroup.subtree_control", on, sizeof(on)) < 0)
		*on = '\0';
	if (!cm_cg_has_word(on, strlen(on), " ", name)) {
		if (cm_cg_write(cg->start, "cgroup.subtree_control", plus) < 0) {
			int e = errno;

			snprintf(cg->why[i], sizeof(cg->why[i]),
				 "cannot enable it in "
				 "'%s/cgroup.subtree_control'"
				 ": %s%s",
				 cg->start, strerror(e),
				 e == EBUSY ? ", other processes are in it"
					    : "");
			return;
		}
		cg->in_c |= 1u << i;
	}
	if (cm_cg_write(cg->base, "cgroup.subtree_control", plus) < 0) {
		snprintf(cg->why[i], sizeof(cg->why[i]),
			 "cannot enable it in '%s/cgroup.subtree_control': %s",
			 cg->base, strerror(errno));
		if (cg->in_c & (1u << i)) {
			cm_cg_write(cg->start, "cgroup.subtree_control", minus);
			cg->in_c &= ~(1u << i);
		}
		return;
	}
	cg->v2 |= 1u << i;
	*cg->why[i] = '\0';
}

/* Make smithers-H in the v1 hierarchy of controller I, if there is one
 * and we may write there; why[I] says what failed. */
static void make_v1(struct sup_cg *cg, int i)
{
	char dir[PATH_MAX], path[PATH_MAX];

	if (cm_cg_v1_of_pid(0, ctl_name[i], dir, PATH_MAX) < 0) {
		if (!*cg->why[i])
			snprintf(cg->why[i], sizeof(cg->why[i]),
				 "no %s controller in cgroup v2 or v1",
				 ctl_name[i]);
		return;
	}
	if (cg_pathf(path, "%s/smithers-%s", dir, cg->hash) < 0 ||
	    (mkdir(path, 0755) < 0 && errno != EEXIST)) {
		snprintf(cg->why[i], sizeof(cg->why[i]),
			 "cannot create '%s/smithers-%s': %s", dir, cg->hash,
			 strerror(errno));
		return;
	}
	cg->v1[i] = strdup(path);
	if (cg->v1[i])
		*cg->why[i] = '\0';
}

/* The distinct v1 bases of CG (two controllers may share a hierarchy);
 * *N of them, into OUT. */
static size_t v1_bases(const struct sup_cg *cg, const char *out[NCTL])
{
	size_t n = 0;

	for (int i = 0; i < NCTL; i++) {
		size_t j = 0;

		if (!cg->v1[i])
			continue;
		while (j < n && strcmp(out[j], cg->v1[i]))
			j++;
		if (j == n)
			out[n++] = cg->v1[i];
	}
	return n;
}

/* STATE_DIR/cgroups, whole: a temporary file renamed over it. */
static int write_file(const struct sup_cg *cg, char *err, size_t errlen)
{
	char tmp[PATH_MAX];
	const char *v1[NCTL];
	size_t n = v1_bases(cg, v1);
	FILE *f;
	int bad;

	if (cg_pathf(tmp, "%s.tmp", cg->file) < 0 || !(f = fopen(tmp, "we"))) {
		cg_say(err, errlen, "cannot create '%s.tmp': %s", cg->file,
		       strerror(errno));
		return -1;
	}
	fprintf(f, "%s\n", cg->base);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s\n", v1[i]);
	for (size_t i = 0; i < cg->nstale; i++) {
		size_t j = 0;

		while (j < n && strcmp(v1[j], cg->stale[i]))
			j++;
		if (j == n)
			fprintf(f, "%s\n", cg->stale[i]);
	}
	bad = fflush(f) != 0 || fsync(fileno(f)) < 0;
	bad = (fclose(f) != 0) || bad;
	if (bad || rename(tmp, cg->file) < 0) {
		cg_say(err, errlen, "cannot write '%s': %s", cg->file,
		       strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* Undo open: controllers off, back to C, our directories removed. */
static void teardown(struct sup_cg *cg)
{
	const char *v1[NCTL];
	size_t n = v1_bases(cg, v1);

	for (int i = 0; i < NCTL; i++) {
		char minus[16];

		snprintf(minus, sizeof(minus), "-%s", ctl_name[i]);
		if (cg->v2 & (1u << i))
			cm_cg_write(cg->base, "cgroup.subtree_control", minus);
		if ((cg->in_c & (1u << i)) &&
		    cm_cg_write(cg->start, "cgroup.subtree_control", minus) < 0)
			sup_log(SUP_WARN,
				"cannot disable the %s controller in '%s': %s",
				ctl_name[i], cg->start, strerror(errno));
	}
	if (cg->entered && cm_cg_enter(cg->start) < 0)
		sup_log(SUP_WARN, "cannot move back to cgroup '%s': %s",
			cg->start, strerror(errno));
	if (cg->made_leaf && rmdir(cg->leaf) < 0 && errno != ENOENT)
		sup_log(SUP_WARN, "cannot remove cgroup '%s': %s", cg->leaf,
			strerror(errno));
	if (cg->made_base && rmdir(cg->base) < 0 && errno != ENOENT)
		sup_log(SUP_WARN, "cannot remove cgroup '%s': %s", cg->base,
			strerror(errno));
	for (size_t i = 0; i < n; i++)
		if (rmdir(v1[i]) < 0 && errno != ENOENT)
			sup_log(SUP_WARN, "cannot remove cgroup '%s': %s",
				v1[i], strerror(errno));
}

static void cg_free(struct sup_cg *cg)
{
	for (int i = 0; i < NCTL; i++)
		free(cg->v1[i]);
	free_list(cg->stale, cg->nstale);
	free(cg);
}

static void describe(struct sup_cg *cg)
{
	char v2[64] = "", v1[64] = "";

	for (int i = 0; i < NCTL; i++) {
		char *to = (cg->v2 & (1u << i)) ? v2 : cg->v1[i] ? v1 : NULL;

		if (to)
			snprintf(to + strlen(to), 64 - strlen(to), "%s%s",
				 *to ? ", " : "", ctl_name[i]);
	}
	snprintf(cg->desc, sizeof(cg->desc), "cgroup v2 at %s (%s)%s%s%s",
		 cg->base, *v2 ? v2 : "no controllers", *v1 ? "; " : "", v1,
		 *v1 ? " on v1" : "");
}

struct sup_cg *sup_cg_open(const char *state_dir, unsigned needs,
			   int *leftovers, char *err, size_t errlen)
{
	struct sup_cg *cg = calloc(1, sizeof(*cg));
	char mnt[PATH_MAX], controllers[256], tail[64];
	size_t slen, tlen;

	*leftovers = 0;
	if (!cg) {
		cg_say(err, errlen, "out of memory");
		return NULL;
	}
	hash_of(state_dir, cg->hash);
	if (cm_cg_v2_mount(mnt, sizeof(mnt)) < 0) {
		cg_say(err, errlen, "no cgroup2 file system is mounted");
		goto fail;
	}
	if (cm_cg_of_pid(0, cg->start, sizeof(cg->start)) < 0) {
		cg_say(err, errlen, "cannot find our cgroup v2: %s",
		       strerror(errno));
		goto fail;
	}
	/* Started from our own leaf (an exec'd supervisor): C is above. */
	snprintf(tail, sizeof(tail), "/smithers-%s/supervisor", cg->hash);
	slen = strlen(cg->start);
	tlen = strlen(tail);
	if (slen > tlen && !strcmp(cg->start + slen - tlen, tail))
		cg->start[slen - tlen] = '\0';
	if (cg_pathf(cg->base, "%s/smithers-%s", cg->start, cg->hash) < 0 ||
	    cg_pathf(cg->leaf, "%s/supervisor", cg->base) < 0 ||
	    cg_pathf(cg->file, "%s/cgroups", state_dir) < 0) {
		cg_say(err, errlen, "cgroup path too long under '%s'",
		       cg->start);
		goto fail;
	}

	*leftovers = sweep_leftovers(cg);

	if (mkdir(cg->base, 0755) < 0 && errno != EEXIST) {
		cg_say(err, errlen, "cannot create '%s': %s", cg->base,
		       strerror(errno));
		goto fail;
	}
	cg->made_base = 1;
	if (mkdir(cg->leaf, 0755) < 0 && errno != EEXIST) {
		cg_say(err, errlen, "cannot create '%s': %s", cg->leaf,
		       strerror(errno));
		goto fail;
	}
	cg->made_leaf = 1;
	if (cm_cg_enter(cg->leaf) < 0) {
		cg_say(err, errlen, "cannot move into '%s': %s", cg->leaf,
		       strerror(errno));
		goto fail;
	}
	cg->entered = 1;

	/* Memory and pids always (the figures), cpu when a limit needs it. */
	needs |= SUP_CG_MEMORY | SUP_CG_PIDS;
	if (get(cg->start, "cgroup.controllers", controllers,
		sizeof(controllers)) < 0)
		*controllers = '\0';
	for (int i = 0; i < NCTL; i++)
		if (needs & (1u << i))
			enable_v2(cg, i, controllers);
	for (int i = 0; i < NCTL; i++)
		if (!(cg->v2 & (1u << i)) &&
		    !cm_cg_has_word(controllers, strlen(controllers), " ",
			      ctl_name[i]))
			make_v1(cg, i);

	if (write_file(cg, err, errlen) < 0)
		goto fail;
	describe(cg);
	return cg;
fail:
	teardown(cg);
	cg_free(cg);
	return NULL;
}

void sup_cg_close(struct sup_cg *cg)
{
	const char *v1[NCTL];
	size_t n;

	if (!cg)
		return;
	n = v1_bases(cg, v1);
	sweep_agents(cg->base, LEFTOVER_WAIT_MS, NULL, NULL, NULL);
	for (size_t i = 0; i < n; i++)
		sweep_agents(v1[i], LEFTOVER_WAIT_MS, NULL, NULL, NULL);
	teardown(cg);
	if (unlink(cg->file) < 0 && errno != ENOENT)
		sup_log(SUP_WARN, "cannot remove '%s': %s", cg->file,
			strerror(errno));
	cg_free(cg);
}

const char *sup_cg_describe(const struct sup_cg *cg)
{
	return cg ? cg->desc : "no cgroups";
}

/* ---- what limits need ---------------------------------------------------- */

int sup_cg_left(const char *state_dir)
{
	char file[PATH_MAX];

	return cg_pathf(file, "%s/cgroups", state_dir) == 0 &&
	       access(file, F_OK) == 0;
}

unsigned sup_cg_needs(const struct sup_limits *l)
{
	unsigned need = 0;

	if (l->memory_max > 0 || l->memory_high > 0)
		need |= SUP_CG_MEMORY;
	if (l->pids_max > 0)
		need |= SUP_CG_PIDS;
	if (l->cpu_weight > 0 || l->cpu_max > 0)
		need |= SUP_CG_CPU;
	return need;
}

int sup_cg_check(const struct sup_cg *cg, const struct sup_limits *l, char *err,
		 size_t errlen)
{
	const struct {
		const char *key;
		int set, ctl, v2_only;
	} keys[] = {
		{"memory_max", l->memory_max > 0, CTL_MEMORY, 0},
		{"memory_high", l->memory_high > 0, CTL_MEMORY, 1},
		{"pids_max", l->pids_max > 0, CTL_PIDS, 0},
		{"cpu_weight", l->cpu_weight > 0, CTL_CPU, 0},
		{"cpu_max", l->cpu_max > 0, CTL_CPU, 0},
	};

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		int i = keys[k].ctl;

		if (!keys[k].set)
			continue;
		if (!cg) {
			cg_say(err, errlen,
			       "%s needs cgroups, not available here",
			       keys[k].key);
			return -1;
		}
		if (cg->v2 & (1u << i))
			continue;
		if (keys[k].v2_only && cg->v1[i]) {
			cg_say(err, errlen,
			       "%s needs the cgroup v2 %s controller (this "
			       "host has it on v1 only)",
			       keys[k].key, ctl_name[i]);
			return -1;
		}
		if (keys[k].v2_only || !cg->v1[i]) {
			cg_say(err, errlen,
			       "%s needs the %s controller, not available "
			       "here%s%s%s",
			       keys[k].key, ctl_name[i],
			       *cg->why[i] ? " (" : "", cg->why[i],
			       *cg->why[i] ? ")" : "");
			return -1;
		}
	}
	return 0;
}
