/*
 * fleet-nats.h - what the fleet sends over NATS the same way wherever it
 * is sent from: the connection the shipper (supervisor/fleet.c) and the
 * sink (tools/fleet-sink.c) make alike (the servers of a [fleet] nats
 * list, a 2 s connect timeout, reconnecting for ever every 0.5 s, a .creds
 * file when given), and the message of a row, which shipping and
 * verifying both publish. Only the files of the fleet include it (with
 * nats.h). It calls nothing of theirs.
 */
#ifndef SMITHERS_SUP_FLEET_NATS_H
#define SMITHERS_SUP_FLEET_NATS_H

#include <stdint.h>

#include <nats/nats.h>

struct sup_fleet;

/* The servers at most in a list; more are left out. */
#define FLEET_NATS_MAX_URLS 16

/*
 * Connect to the servers of LIST ("nats://H:P[,nats://H:P...]"), with the
 * credentials file CREDENTIALS (NULL: none), into *NC. NATS_OK, or the
 * library's status (*NC then NULL).
 */
natsStatus fleet_nats_connect(const char *list, const char *credentials,
			      natsConnection **nc);

/*
 * The message of TABLE's row ID at VERSION (JSON) of the machine of C into
 * *MSG: on PREFIX.MACHINE.TABLE, with the id MACHINE:TABLE:ID:VERSION, and
 * AGAIN after it when the row is sent again (a new id: the stream would
 * drop the old one's as a duplicate). NATS_OK, or the library's status
 * (*MSG then NULL).
 */
natsStatus fleet_row_msg(const struct sup_fleet *c, natsMsg **msg,
			 const char *table, int64_t id, int64_t version,
			 const char *json, const char *again);

#endif /* SMITHERS_SUP_FLEET_NATS_H */
