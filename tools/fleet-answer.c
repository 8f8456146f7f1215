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

/* Which of ROWS ([[TABLE, ID, VERSION], ...]) of MACHINE the fleet view
 * lacks, into MISSING: 0, or -1 with ERR. */
static int lacks(struct sink *k, const char *machine, json_t *rows,
		 json_t *missing, char *err)
{
	for (int t = 0; t < fleet_ntables; t++) {
		const char *name = fleet_tables[t].name;
		struct lack l = {name, missing};
		size_t i, cap = 64, ilen = 1, vlen = 1;
		char *ids = xmalloc(cap), *vs = xmalloc(cap), sql[400];
		const char *params[3];
		json_t *row;
		int n = 0, rc;

		ids[0] = vs[0] = '{';
		json_array_foreach(rows, i, row)
		{
			const char *table;
			json_int_t id, version;

			if (json_unpack(row, "[sII]", &table, &id, &version) <
				    0 ||
			    !fleet_table_find(table)) {
				snprintf(err, FLEET_ERR_MAX,
					 "row %zu of the request is not"
					 " [TABLE, ID, VERSION] of a table"
					 " that ships",
					 i);
				free(ids);
				free(vs);
				return -1;
			}
			if (strcmp(table, name))
				continue;
			if (ilen + 24 >= cap || vlen + 24 >= cap) {
				cap *= 2;
				ids = xrealloc(ids, cap);
				vs = xrealloc(vs, cap);
			}
			ilen += (size_t)snprintf(ids + ilen, cap - ilen,
						 "%s%lld", n ? "," : "",
						 (long long)id);
			vlen += (size_t)snprintf(vs + vlen, cap - vlen,
						 "%s%lld", n ? "," : "",
						 (long long)version);
			n++;
		}
		snprintf(ids + ilen, cap - ilen, "}");
		snprintf(vs + vlen, cap - vlen, "}");
		snprintf(sql, sizeof(sql),
			 "SELECT x.id, x.v FROM unnest($1::bigint[],"
			 " $2::bigint[]) AS x(id, v) LEFT JOIN %s.%s AS t"
			 " ON t.machine = $3 AND t.id = x.id"
			 " WHERE t.id IS NULL OR t.version < x.v ORDER BY x.id",
			 FLEET_PG_SCHEMA, name);
		params[0] = ids;
		params[1] = vs;
		params[2] = machine;
		rc = n ? fleet_pg_query(k->pg, sql, 3, params, lacking, &l, err)
		       : 0;
		free(ids);
		free(vs);
		if (rc < 0)
			return -1;
	}
	return 0;
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
