/*
 * fleet-nats.c - the NATS connection of the shipper and of the sink
 * (fleet-nats.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "supervisor/fleet-nats.h"

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
