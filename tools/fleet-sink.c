/*
 * fleet-sink.c - `smithers fleet sink`: the JetStream stream the
 * supervisors ship to, written into the PostgreSQL fleet view.
 *
 * The sink pulls from one durable consumer (FLEET_CONSUMER) that every
 * sink shares, so each message goes to one of them. It takes up to
 * SINK_BATCH messages at a time and writes them in one transaction, one
 * upsert per table for all of its rows (sorted, the older versions of a
 * row in the batch left out), which only a newer version wins
 * (fleet-pg.c). Only after COMMIT does it ack them. So a sink killed at any point acks
 * nothing it did not write, and what it wrote and did not ack comes back
 * and changes nothing.
 *
 * A message on our subjects that is not one of ours (not our JSON, an
 * unknown table, a machine or table other than its subject's, a value of
 * the wrong type) is never written: it is acked with its batch, counted,
 * and named in a line at most once a minute. A row PostgreSQL refuses
 * (class 22 or 23) is found by writing the batch again row by row, each
 * under a savepoint, and is skipped the same way.
 *
 * PostgreSQL or NATS failing: one line saying why, nothing acked, and the
 * sink tries again, waiting longer each time (up to 5 s), with a line
 * when it works again. The batch in hand is kept and retried (its
 * messages told "in progress" so that they stay ours). SIGINT or SIGTERM:
 * the sink stops after the batch it is writing.
 *
 * Between batches it answers the supervisors' requests to verify what
 * they shipped (fleet-answer.c).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <jansson.h>
#include <nats/nats.h>

#include "common/clock.h"
#include "supervisor/fleet-nats.h"
#include "tools/fleet-sink.h"
#include "tools/fleet.h"

#define SINK_BATCH 512		  /* messages written in one transaction */
#define FETCH_MS 1000		  /* a fetch waits this long for a first one */
#define ACK_WAIT_S 10		  /* the consumer's: unacked, redelivered */
#define MAX_ACK_PENDING 8192	  /* messages out at once, all sinks */
#define BACKOFF_MIN_MS 100	  /* after a failure, doubling */
#define BACKOFF_MAX_MS 5000	  /* up to this: back soon after an outage */
#define SKIP_LOG_MS (60 * 1000)	  /* skipped messages: a line at most this
				     often */


/* One message of a batch, once parsed. */
struct item {
	natsMsg *msg;
	const struct fleet_table *t; /* NULL: not ours, skip it */
	char machine[128];
	int64_t id, version;
	json_t *row; /* the row, with its "machine" and "version" */
	int stale;   /* a newer version of the row is in the same batch */
	char why[200];
};

static void sink_say(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static void sink_say(const char *fmt, ...)
{
	va_list ap;

	fputs(SINK_SAYS, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Whether a SIGINT or SIGTERM came; waits up to MS for one. */
static int stopping(struct sink *k, int64_t ms)
{
	struct pollfd p = {.fd = k->sigfd, .events = POLLIN};
	struct signalfd_siginfo si;

	if (k->stop)
		return 1;
	if (poll(&p, 1, (int)ms) > 0 &&
	    read(k->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		sink_say("signal %u: stopping", si.ssi_signo);
		k->stop = 1;
	}
	return k->stop;
}

/* Wait after a failure, longer each time; 1 when told to stop. */
static int backoff(struct sink *k)
{
	k->backoff_ms = k->backoff_ms ? k->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (k->backoff_ms > BACKOFF_MAX_MS)
		k->backoff_ms = BACKOFF_MAX_MS;
	return stopping(k, k->backoff_ms);
}

static void skip_log(struct sink *k, int force)
{
	if (k->skipped == k->skipped_logged)
		return;
	if (!force && cm_mono_ms() - k->skip_log_ms < SKIP_LOG_MS)
		return;
	sink_say("skipped %lld message%s on our subjects that %s not smithers"
		 " rows (the last: %s)",
		 k->skipped - k->skipped_logged,
		 k->skipped - k->skipped_logged == 1 ? "" : "s",
		 k->skipped - k->skipped_logged == 1 ? "is" : "are",
		 k->last_skip);
	k->skipped_logged = k->skipped;
	k->skip_log_ms = cm_mono_ms();
}

/* ---- NATS ----------------------------------------------------------------- */

static void nats_close(struct sink *k)
{
	natsSubscription_Destroy(k->sub);
	k->sub = NULL;
	natsSubscription_Destroy(k->vsub);
	k->vsub = NULL;
	jsCtx_Destroy(k->js);
	k->js = NULL;
	natsConnection_Destroy(k->nc);
	k->nc = NULL;
}

static void nats_failed(struct sink *k, const char *what, const char *why)
{
	if (!k->nats_failing)
		sink_say("%s: %s; nothing is acked, trying again until it"
			 " works",
			 what, why);
	k->nats_failing = 1;
}

/* Connect and bind to the durable consumer (made if missing): 0 or -1. */
static int nats_open(struct sink *k)
{
	struct fleet_run *r = k->r;
	natsStatus s;
	jsOptions jo;
	jsSubOptions so;
	jsErrCode jerr = 0;

	s = fleet_nats_connect(r->nats, r->credentials, &k->nc);
	if (s == NATS_OK) {
		jsOptions_Init(&jo);
		s = natsConnection_JetStream(&k->js, k->nc, &jo);
	}
	if (s != NATS_OK) {
		nats_failed(k, "cannot reach NATS", natsStatus_GetText(s));
		nats_close(k);
		return -1;
	}
	jsSubOptions_Init(&so);
	so.Stream = r->stream;
	so.Config.AckPolicy = js_AckExplicit;
	so.Config.AckWait = (int64_t)ACK_WAIT_S * 1000000000;
	so.Config.MaxAckPending = MAX_ACK_PENDING;
	so.Config.DeliverPolicy = js_DeliverAll;
	s = js_PullSubscribe(&k->sub, k->js, k->filter, FLEET_CONSUMER, NULL,
			     &so, &jerr);
	if (s != NATS_OK) {
		if (jerr == JSStreamNotFoundErr || s == NATS_NOT_FOUND) {
			if (!k->stream_missing)
				sink_say("no JetStream stream '%s' yet (no"
					 " supervisor has shipped to it):"
					 " waiting for it",
					 r->stream);
			k->stream_missing = 1;
		} else {
			nats_failed(k, "cannot consume the JetStream stream",
				    nats_GetLastError(NULL)
					    ? nats_GetLastError(NULL)
					    : natsStatus_GetText(s));
		}
		nats_close(k);
		return -1;
	}
	s = natsConnection_QueueSubscribeSync(&k->vsub, k->nc, k->vsubject,
					      FLEET_CONSUMER);
	if (s != NATS_OK) {
		nats_failed(k, "cannot take the supervisors' requests",
			    natsStatus_GetText(s));
		nats_close(k);
		return -1;
	}
	if (k->nats_failing || k->stream_missing)
		sink_say("consuming the stream '%s' again", r->stream);
	k->nats_failing = 0;
	k->stream_missing = 0;
	return 0;
}

/* ---- messages ------------------------------------------------------------- */

/* Whether V has the JSON type of a column of type T. */
static int type_ok(enum fleet_type t, const json_t *v)
{
	if (json_is_null(v))
		return 1;
	switch (t) {
	case FT_INT:
		return json_is_integer(v);
	case FT_REAL:
		return json_is_number(v);
	case FT_TEXT:
		return json_is_string(v);
	case FT_JSON:
		return 1;
	}
	return 0;
}

/* Check ROW against T: "" when it will do, else why not. */
static const char *row_check(const struct fleet_table *t, json_t *row,
			     int64_t id)
{
	const json_t *v;
	int j;

	v = json_object_get(row, "id");
	if (!json_is_integer(v) || json_integer_value(v) != id)
		return "its row's id is not the message's";
	for (j = 1; j < t->ncols; j++) {
		v = json_object_get(row, t->cols[j].name);
		if (v && !type_ok(t->cols[j].type, v))
			return "a column of its row has the wrong type";
	}
	return "";
}

/* Parse IT->msg into IT; IT->t stays NULL, with IT->why, when it is not
 * ours. */
static void parse(struct sink *k, struct item *it)
{
	const char *subj = natsMsg_GetSubject(it->msg);
	const char *data = natsMsg_GetData(it->msg);
	int len = natsMsg_GetDataLength(it->msg);
	const char *rest, *dot, *why;
	const struct fleet_table *t;
	json_t *root = NULL, *row, *v;
	json_error_t jerr;
	char table[64];
	const char *machine;
	int64_t id;

	snprintf(it->why, sizeof(it->why), "subject '%.80s': ",
		 subj ? subj : "");
	/* PREFIX.MACHINE.TABLE */
	if (!subj || strlen(subj) <= k->prefix_len + 1) {
		why = "not PREFIX.MACHINE.TABLE";
		goto bad;
	}
	rest = subj + k->prefix_len + 1;
	dot = strchr(rest, '.');
	if (!dot || dot == rest || strchr(dot + 1, '.') ||
	    (size_t)(dot - rest) >= sizeof(it->machine) ||
	    strlen(dot + 1) >= sizeof(table)) {
		why = "not PREFIX.MACHINE.TABLE";
		goto bad;
	}
	memcpy(it->machine, rest, (size_t)(dot - rest));
	it->machine[dot - rest] = '\0';
	snprintf(table, sizeof(table), "%s", dot + 1);
	t = fleet_table_find(table);
	if (!t) {
		why = "not a table smithers ships";
		goto bad;
	}
	/* A NUL in a string is ours all the same (an agent may set one):
	 * PostgreSQL refuses the row, and says why. */
	root = json_loadb(data ? data : "", (size_t)(len > 0 ? len : 0),
			  JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
	if (!json_is_object(root)) {
		why = "not a JSON object";
		goto bad;
	}
	v = json_object_get(root, "machine");
	machine = json_string_value(v);
	if (!machine || strcmp(machine, it->machine) ||
	    json_string_length(v) != strlen(machine)) {
		why = "its machine is not its subject's";
		goto bad;
	}
	v = json_object_get(root, "table");
	if (!json_is_string(v) || strcmp(json_string_value(v), table) ||
	    json_string_length(v) != strlen(table)) {
		why = "its table is not its subject's";
		goto bad;
	}
	v = json_object_get(root, "id");
	if (!json_is_integer(v)) {
		why = "no integer id";
		goto bad;
	}
	id = json_integer_value(v);
	it->id = id;
	v = json_object_get(root, "version");
	if (!json_is_integer(v) || json_integer_value(v) < 1) {
		why = "no version of 1 or more";
		goto bad;
	}
	it->version = json_integer_value(v);
	row = json_object_get(root, "row");
	if (!json_is_object(row)) {
		why = "no row object";
		goto bad;
	}
	why = row_check(t, row, id);
	if (*why)
		goto bad;
	/* The set's upsert takes them from the row (fleet-pg.c); a row's
	 * own key of either name would be a newer smithers' column. */
	if (json_object_set_new(row, "machine", json_string(it->machine)) ||
	    json_object_set_new(row, "version", json_integer(it->version))) {
		why = "out of memory";
		goto bad;
	}
	it->row = json_incref(row);
	it->t = t;
	json_decref(root);
	return;
bad:
	json_decref(root);
	strncat(it->why, why, sizeof(it->why) - strlen(it->why) - 1);
	it->t = NULL;
}

static void skip(struct sink *k, struct item *it)
{
	k->skipped++;
	snprintf(k->last_skip, sizeof(k->last_skip), "%s", it->why);
	it->t = NULL;
}

/* ---- PostgreSQL ----------------------------------------------------------- */

static void pg_failed(struct sink *k, const char *err)
{
	if (!k->pg_failing)
		sink_say("%s; nothing is acked, trying again until it works",
			 err);
	k->pg_failing = 1;
}

static int pg_ready(struct sink *k)
{
	char err[FLEET_ERR_MAX];

	if (k->pg)
		return 0;
	k->pg = fleet_pg_open(k->r->postgres, 1, err);
	if (!k->pg) {
		pg_failed(k, err);
		return -1;
	}
	if (k->pg_failing)
		sink_say("writing to PostgreSQL again");
	k->pg_failing = 0;
	return 0;
}

/* Rows of the same table together, in (machine, id) order, the newest
 * version first; what is not ours last. */
static int item_cmp(const void *pa, const void *pb)
{
	const struct item *a = pa, *b = pb;
	int c;

	if (!a->t || !b->t)
		return !a->t - !b->t;
	if (a->t != b->t)
		return a->t < b->t ? -1 : 1;
	c = strcmp(a->machine, b->machine);
	if (c)
		return c;
	if (a->id != b->id)
		return a->id < b->id ? -1 : 1;
	return a->version > b->version ? -1 : a->version < b->version;
}

/*
 * Sort ITEMS (item_cmp) and mark the rows a newer version among them
 * replaces: a set's upsert may not change one row twice. The order also
 * makes concurrent sinks lock rows in the same order: no deadlock.
 */
static void sort_items(struct item *items, int n)
{
	int i;

	qsort(items, (size_t)n, sizeof(*items), item_cmp);
	for (i = 1; i < n; i++)
		items[i].stale = items[i].t && items[i].t == items[i - 1].t &&
				 items[i].id == items[i - 1].id &&
				 !strcmp(items[i].machine, items[i - 1].machine);
}

/* Every row of table T in ITEMS as one upsert: the rows written, or -1
 * with ERR and *DATA as fleet_pg_upsert_set() says. */
static int write_table(struct sink *k, const struct fleet_table *t,
		       struct item *items, int n, int *data, char *err)
{
	json_t *set = json_array();
	char *text;
	int i, rc;

	*data = 0;
	for (i = 0; set && i < n; i++)
		if (items[i].t == t && !items[i].stale &&
		    json_array_append(set, items[i].row) < 0) {
			json_decref(set);
			set = NULL;
		}
	if (!set || !(text = json_dumps(set, JSON_COMPACT))) {
		json_decref(set);
		snprintf(err, FLEET_ERR_MAX, "out of memory");
		return -1;
	}
	json_decref(set);
	rc = fleet_pg_upsert_set(k->pg, t, text, data, err);
	free(text);
	return rc;
}

/* One row under a savepoint: 1 or 0 written, -1 (ERR, *DATA). */
static int write_one(struct sink *k, struct item *it, int *data, char *err)
{
	char *text = json_dumps(it->row, JSON_COMPACT);
	int rc;

	if (!text) {
		*data = 0;
		snprintf(err, FLEET_ERR_MAX, "out of memory");
		return -1;
	}
	rc = fleet_pg_upsert(k->pg, it->t, it->machine, it->version, text,
			     data, err);
	free(text);
	return rc;
}

/*
 * Write the batch ITEMS[0..N-1] in one transaction: a statement per table
 * (the rows of a table all at once), or with ONE_BY_ONE each row under a
 * savepoint, a row PostgreSQL refuses skipped. 0 when committed; 1 when a
 * row was refused (try again one by one); -1 when PostgreSQL failed (ERR).
 */
static int write_batch(struct sink *k, struct item *items, int n,
		       int one_by_one, long long *wrote, char *err)
{
	int i, data;

	*wrote = 0;
	if (fleet_pg_begin(k->pg, err) < 0)
		return -1;
	for (i = 0; !one_by_one && i < fleet_ntables; i++) {
		int rc, j, any = 0;

		for (j = 0; j < n && !any; j++)
			any = items[j].t == &fleet_tables[i] && !items[j].stale;
		if (!any)
			continue;
		rc = write_table(k, &fleet_tables[i], items, n, &data, err);
		if (rc >= 0) {
			*wrote += rc;
			continue;
		}
		fleet_pg_rollback(k->pg);
		return data ? 1 : -1;
	}
	for (i = 0; one_by_one && i < n; i++) {
		struct item *it = &items[i];
		int rc;

		if (!it->t || it->stale)
			continue;
		if (fleet_pg_savepoint(k->pg, 0, 0, err) < 0)
			goto fail;
		rc = write_one(k, it, &data, err);
		if (rc > 0)
			(*wrote)++;
		if (rc >= 0) {
			if (fleet_pg_savepoint(k->pg, 1, 0, err) < 0)
				goto fail;
			continue;
		}
		if (!data)
			goto fail;
		if (fleet_pg_savepoint(k->pg, 0, 1, err) < 0)
			goto fail;
		snprintf(it->why, sizeof(it->why), "PostgreSQL refused it: %s",
			 err);
		skip(k, it);
	}
	if (fleet_pg_commit(k->pg, err) < 0)
		return -1;
	return 0;
fail:
	fleet_pg_rollback(k->pg);
	return -1;
}

/* Write ITEMS until they are in PostgreSQL (0), or told to stop (-1). */
static int write_all(struct sink *k, struct item *items, int n)
{
	char err[FLEET_ERR_MAX];
	long long wrote, rows;
	int i, rc, one_by_one = 0;

	for (;;) {
		if (pg_ready(k) == 0) {
			rc = write_batch(k, items, n, one_by_one, &wrote, err);
			if (rc == 0) {
				for (i = 0, rows = 0; i < n; i++)
					rows += items[i].t != NULL;
				k->written += wrote;
				k->unchanged += rows - wrote;
				k->backoff_ms = 0;
				return 0;
			}
			if (rc > 0) {
				one_by_one = 1;
				continue;
			}
			pg_failed(k, err);
			fleet_pg_close(k->pg);
			k->pg = NULL;
		}
		if (backoff(k))
			return -1;
		/* Still ours: tell JetStream not to give them to another
		 * sink yet. */
		for (i = 0; i < n; i++)
			natsMsg_InProgress(items[i].msg, NULL);
	}
}

/* ---- the loop ------------------------------------------------------------- */

static void sink_batch(struct sink *k, natsMsgList *list)
{
	struct item *items;
	int i, n = list->Count;

	items = xmalloc(sizeof(*items) * (size_t)(n ? n : 1));
	memset(items, 0, sizeof(*items) * (size_t)(n ? n : 1));
	for (i = 0; i < n; i++) {
		items[i].msg = list->Msgs[i];
		parse(k, &items[i]);
		if (!items[i].t)
			skip(k, &items[i]);
	}
	sort_items(items, n);
	if (write_all(k, items, n) == 0)
		for (i = 0; i < n; i++)
			natsMsg_Ack(items[i].msg, NULL);
	for (i = 0; i < n; i++)
		json_decref(items[i].row);
	free(items);
	skip_log(k, 0);
}

static int sink_run(struct fleet_run *r)
{
	struct sink k;
	sigset_t set;
	natsMsgList list;
	natsStatus s;
	jsErrCode jerr;

	memset(&k, 0, sizeof(k));
	k.r = r;
	k.prefix_len = strlen(r->prefix);
	if (asprintf(&k.filter, "%s.>", r->prefix) < 0 ||
	    asprintf(&k.vsubject, "%s-verify.*", r->prefix) < 0) {
		fputs("smithers: out of memory\n", stderr);
		return EXIT_FAIL;
	}
	/* Before any thread: the library's threads inherit the mask, so the
	 * signals come only through the signalfd. */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	k.sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (k.sigfd < 0) {
		fprintf(stderr, "smithers: signalfd: %s\n", strerror(errno));
		free(k.filter);
		free(k.vsubject);
		return EXIT_FAIL;
	}
	sink_say("consuming '%s' (stream %s, consumer %s) into PostgreSQL",
		 k.filter, r->stream, FLEET_CONSUMER);
	while (!stopping(&k, 0)) {
		if (pg_ready(&k) < 0 || (!k.sub && nats_open(&k) < 0)) {
			if (backoff(&k))
				break;
			continue;
		}
		jerr = 0;
		s = natsSubscription_Fetch(&list, k.sub, SINK_BATCH, FETCH_MS,
					   &jerr);
		if (s == NATS_TIMEOUT) {
			skip_log(&k, 0);
			sink_answer_all(&k);
			continue;
		}
		if (s != NATS_OK) {
			nats_failed(&k, "cannot fetch from JetStream",
				    natsStatus_GetText(s));
			if (!natsConnection_IsReconnecting(k.nc) ||
			    natsConnection_IsClosed(k.nc))
				nats_close(&k);
			if (backoff(&k))
				break;
			continue;
		}
		if (k.nats_failing)
			sink_say("fetching from JetStream again");
		k.nats_failing = 0;
		k.backoff_ms = 0;
		sink_batch(&k, &list);
		natsMsgList_Destroy(&list);
		sink_answer_all(&k);
	}
	skip_log(&k, 1);
	sink_say("stopped: %lld rows written, %lld unchanged (not newer), %lld "
		 "messages skipped; %lld rows verified, %lld of them lacking",
		 k.written, k.unchanged, k.skipped, k.verified, k.lacked);
	nats_close(&k);
	fleet_pg_close(k.pg);
	close(k.sigfd);
	free(k.filter);
	free(k.vsubject);
	nats_Close();
	return EXIT_OK;
}

const struct fleet_sub fleet_sub_sink = {
	.name = "sink",
	.args = "",
	.summary = "write what the machines ship into PostgreSQL",
	.help = "Consume the JetStream stream the supervisors ship to (the\n"
		"[fleet] section, smithers.ini(5)) and keep the fleet view in\n"
		"PostgreSQL: the schema 'smithers', one table per shipped\n"
		"table, keyed by (machine, id), created or migrated at start.\n"
		"A row replaces only an older version of itself; messages are\n"
		"acked only once their transaction commits. Several sinks may\n"
		"run at once: they share the durable consumer 'smithers-sink'.\n"
		"\n"
		"Runs until SIGINT or SIGTERM. When NATS or PostgreSQL fails,\n"
		"it says why once, acks nothing, and retries with backoff.\n"
		"Messages on the subjects that are not smithers rows are\n"
		"skipped (acked, never written) and counted. It also answers\n"
		"the supervisors' requests (on PREFIX-verify.MACHINE) to\n"
		"verify what they shipped, naming the rows the fleet view\n"
		"lacks; they send those again.\n"
		"\n"
		"  --nats URL[,URL...]   the NATS servers (required)\n"
		"  --stream NAME         the stream (default SMITHERS)\n"
		"  --subject-prefix P    the subjects P.MACHINE.TABLE (default\n"
		"                        smithers)\n"
		"  --credentials FILE    a NATS .creds file\n"
		"  --postgres CONNINFO   the database, as libpq takes it\n"
		"                        (default: libpq's PG* variables)",
	.opts = FLEET_OPT_NATS | FLEET_OPT_POSTGRES,
	.min_args = 0,
	.max_args = 0,
	.run = sink_run,
};
