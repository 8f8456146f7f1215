/*
 * fleet-nats.c - what the fleet sends over NATS the same way wherever it
 * is sent from (fleet-nats.h): the connection, and a row's message.
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "supervisor/fleet-nats.h"
#include "supervisor/workflow.h"

natsStatus fleet_nats_connect(const char *list, const char *credentials,
			      natsConnection **nc)
{
	const char *urls[FLEET_NATS_MAX_URLS];
	natsOptions *opts = NULL;
	char *copy, *save = NULL, *u;
	natsStatus s;
	int n = 0;

	*nc = NULL;
	copy = strdup(list);
	if (!copy)
		return NATS_NO_MEMORY;
	for (u = strtok_r(copy, ",", &save); u && n < FLEET_NATS_MAX_URLS;
	     u = strtok_r(NULL, ",", &save))
		urls[n++] = u;
	s = natsOptions_Create(&opts);
	if (s == NATS_OK)
		s = natsOptions_SetServers(opts, urls, n);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(opts, 2000);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(opts, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(opts, 500);
	if (s == NATS_OK && credentials)
		s = natsOptions_SetUserCredentialsFromFiles(opts, credentials,
							    NULL);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, opts);
	natsOptions_Destroy(opts);
	free(copy);
	if (s != NATS_OK) {
		natsConnection_Destroy(*nc);
		*nc = NULL;
	}
	return s;
}

natsStatus fleet_row_msg(const struct sup_fleet *c, natsMsg **msg,
			 const char *table, int64_t id, int64_t version,
			 const char *json, const char *again)
{
	char subject[400], msgid[340];
	natsStatus s;
	char *body;
	int len;

	*msg = NULL;
	len = asprintf(&body,
		       "{\"machine\":\"%s\",\"table\":\"%s\",\"id\":%" PRId64
		       ",\"version\":%" PRId64 ",\"row\":%s}",
		       c->machine, table, id, version, json);
	if (len < 0)
		return NATS_NO_MEMORY;
	snprintf(subject, sizeof(subject), "%s.%s.%s", c->subject_prefix,
		 c->machine, table);
	snprintf(msgid, sizeof(msgid), "%s:%s:%" PRId64 ":%" PRId64 "%s",
		 c->machine, table, id, version, again ? again : "");
	s = natsMsg_Create(msg, subject, NULL, body, len);
	free(body);
	if (s == NATS_OK)
		s = natsMsgHeader_Set(*msg, "Nats-Msg-Id", msgid);
	if (s != NATS_OK) {
		natsMsg_Destroy(*msg);
		*msg = NULL;
	}
	return s;
}
