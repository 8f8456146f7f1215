/*
 * fleet-nats.h - the NATS connection the shipper (supervisor/fleet.c) and
 * the sink (tools/fleet-sink.c) make alike: the servers of a [fleet] nats
 * list, a 2 s connect timeout, reconnecting for ever every 0.5 s, and a
 * .creds file when given. Only the files of the fleet include it (with
 * nats.h).
 */
#ifndef SMITHERS_SUP_FLEET_NATS_H
#define SMITHERS_SUP_FLEET_NATS_H

#include <nats/nats.h>

/* The servers at most in a list; more are left out. */
#define FLEET_NATS_MAX_URLS 16

/*
 * Connect to the servers of LIST ("nats://H:P[,nats://H:P...]"), with the
 * credentials file CREDENTIALS (NULL: none), into *NC. NATS_OK, or the
 * library's status (*NC then NULL).
 */
natsStatus fleet_nats_connect(const char *list, const char *credentials,
			      natsConnection **nc);

#endif /* SMITHERS_SUP_FLEET_NATS_H */
