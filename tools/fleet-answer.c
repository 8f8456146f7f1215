/*
 * fleet-answer.c - the sink's answers to the supervisors' requests to
 * verify what they shipped (docs/FLEET.md, "Verifying").
 *
 * A supervisor asks (a request on PREFIX-verify.MACHINE, to one sink of
 * the queue group) whether the fleet view holds rows it shipped, each at
 * its version at least; the answer lists those it lacks, which the
 * supervisor sends again. While the sinks have not written all the
 * stream held when the rows were acked, the answer says so instead
 * ("behind"): a row not written yet is not lost. A request that is not a
 * supervisor's gets an error, and nothing is written.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <nats/nats.h>

#include "tools/fleet-sink.h"
#include "tools/fleet.h"

/* Collect a row the fleet view lacks (fleet_pg_row_fn). */
struct lack {
	const char *table;
	json_t *missing;
};

static int lacking(int ncol, const char *const *names,
		   const char *const *values, void *arg)
{
	struct lack *l = arg;

	(void)names;
	if (ncol != 2 || !values[0] || !values[1])
		return 0;
	json_array_append_new(l->missing,
			      json_pack("[sII]", l->table,
					(json_int_t)strtoll(values[0], NULL, 10),
					(json_int_t)strtoll(values[1], NULL,
							    10)));
	return 0;
}

/* One table's rows of a request: their ids and versions as PostgreSQL
 * array literals ("{1,2,3}"), written as the request is read. */
struct keys {
	FILE *ids, *vs;
	char *ids_text, *vs_text;
	size_t ids_len, vs_len;
	int n;
};

/* Which of ROWS ([[TABLE, ID, VERSION], ...]) of MACHINE the fleet view
 * lacks, into MISSING: 0, or -1 with ERR. The request is read once; then
 * one query per table it names. */
static int lacks(struct sink *k, const char *machine, json_t *rows,
		 json_t *missing, char *err)
{
	struct keys *keys = xmalloc(sizeof(*keys) * (size_t)fleet_ntables);
	json_t *row;
	size_t i;
	int t, rc = 0;

	memset(keys, 0, sizeof(*keys) * (size_t)fleet_ntables);
	json_array_foreach(rows, i, row)
	{
		const struct fleet_table *ft;
		const char *table;
		json_int_t id, version;
		struct keys *kt;

		if (json_unpack(row, "[sII]", &table, &id, &version) < 0 ||
		    !(ft = fleet_table_find(table))) {
			snprintf(err, FLEET_ERR_MAX,
				 "row %zu of the request is not [TABLE, ID,"
				 " VERSION] of a table that ships",
				 i);
			rc = -1;
			goto out;
		}
		kt = &keys[ft - fleet_tables];
		if (!kt->ids &&
		    (!(kt->ids = open_memstream(&kt->ids_text, &kt->ids_len)) ||
		     !(kt->vs = open_memstream(&kt->vs_text, &kt->vs_len)))) {
			snprintf(err, FLEET_ERR_MAX, "out of memory");
			rc = -1;
			goto out;
		}
		fprintf(kt->ids, "%s%lld", kt->n ? "," : "{", (long long)id);
		fprintf(kt->vs, "%s%lld", kt->n ? "," : "{",
			(long long)version);
		kt->n++;
	}
	for (t = 0; t < fleet_ntables && rc == 0; t++) {
		struct keys *kt = &keys[t];
		struct lack l = {fleet_tables[t].name, missing};
		const char *params[3];
		char sql[400];

		if (!kt->n)
			continue;
		fputc('}', kt->ids);
		fputc('}', kt->vs);
		if (fflush(kt->ids) != 0 || fflush(kt->vs) != 0) {
			snprintf(err, FLEET_ERR_MAX, "out of memory");
			rc = -1;
			break;
		}
		snprintf(sql, sizeof(sql),
			 "SELECT x.id, x.v FROM unnest($1::bigint[],"
			 " $2::bigint[]) AS x(id, v) LEFT JOIN %s.%s AS t"
			 " ON t.machine = $3 AND t.id = x.id"
			 " WHERE t.id IS NULL OR t.version < x.v ORDER BY x.id",
			 FLEET_PG_SCHEMA, l.table);
		params[0] = kt->ids_text;
		params[1] = kt->vs_text;
		params[2] = machine;
		rc = fleet_pg_query(k->pg, sql, 3, params, lacking, &l, err);
	}
out:
	for (t = 0; t < fleet_ntables; t++) {
		if (keys[t].ids)
			fclose(keys[t].ids);
		if (keys[t].vs)
			fclose(keys[t].vs);
		free(keys[t].ids_text);
		free(keys[t].vs_text);
	}
	free(keys);
	return rc < 0 ? -1 : 0;
}

/* Answer one request. */
static void verify_one(struct sink *k, natsMsg *m)
{
	const char *to = natsMsg_GetReply(m), *machine;
	json_t *req, *rows, *reply = NULL, *missing;
	jsConsumerInfo *ci = NULL;
	jsErrCode jerr = 0;
	json_int_t seq;
	char err[FLEET_ERR_MAX], *text;
	natsStatus s;

	if (!to)
		return; /* nobody to answer */
	req = json_loadb(natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m),
			 0, NULL);
	machine = json_string_value(json_object_get(req, "machine"));
	rows = json_object_get(req, "rows");
	seq = json_integer_value(json_object_get(req, "seq"));
	if (!machine || !json_is_array(rows) || seq < 0) {
		reply = json_pack("{ss}", "error",
				  "not a request of a smithers supervisor");
		goto answer;
	}
	if (!k->pg) { /* PostgreSQL failed under the last batch */
		reply = json_pack("{ss}", "error",
				  "the sink cannot reach PostgreSQL");
		goto answer;
	}
	s = js_GetConsumerInfo(&ci, k->js, k->r->stream, FLEET_CONSUMER, NULL,
			       &jerr);
	if (s != NATS_OK) {
		snprintf(err, sizeof(err), "cannot read the consumer %s: %s",
			 FLEET_CONSUMER, natsStatus_GetText(s));
		reply = json_pack("{ss}", "error", err);
		goto answer;
	}
	/* Behind: some of what the stream held is not written yet. */
	if (ci->AckFloor.Stream < (uint64_t)seq &&
	    (ci->NumPending > 0 || ci->NumAckPending > 0)) {
		snprintf(err, sizeof(err),
			 "written up to stream sequence %llu of %lld",
			 (unsigned long long)ci->AckFloor.Stream,
			 (long long)seq);
		reply = json_pack("{ss}", "behind", err);
		goto answer;
	}
	missing = json_array();
	if (lacks(k, machine, rows, missing, err) < 0) {
		json_decref(missing);
		reply = json_pack("{ss}", "error", err);
		goto answer;
	}
	k->verified += (long long)json_array_size(rows);
	if (json_array_size(missing)) {
		json_t *first = json_array_get(missing, 0);

		k->lacked += (long long)json_array_size(missing);
		fprintf(stderr,
			SINK_SAYS "the fleet view lacks %zu of %zu rows %s"
				  " asked about (the first: %s %lld): it sends"
				  " them again\n",
			json_array_size(missing), json_array_size(rows),
			machine, json_string_value(json_array_get(first, 0)),
			(long long)json_integer_value(
				json_array_get(first, 1)));
	}
	reply = json_pack("{so}", "missing", missing);
answer:
	jsConsumerInfo_Destroy(ci);
	text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
	if (text)
		natsConnection_PublishString(k->nc, to, text);
	free(text);
	json_decref(reply);
	json_decref(req);
}

void sink_answer_all(struct sink *k)
{
	natsMsg *m;
	int n = 0;

	while (k->vsub && natsSubscription_GetPending(k->vsub, &n, NULL) ==
				  NATS_OK &&
	       n > 0 && natsSubscription_NextMsg(&m, k->vsub, 1) == NATS_OK) {
		verify_one(k, m);
		natsMsg_Destroy(m);
	}
}
